//! One lint run: resolve inputs, load each model, compute facts, evaluate rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::analysis::{self, FactMap, Facts, Value};
use crate::graph::{Model, Stage};
use crate::host::CpuTarget;
use crate::load::{self, Input};
use crate::report::{InputReport, ModelSummary, Report};
use crate::rules::{Rule, RuleSet, evaluate, evaluate_runtime};

/// What to lint and how to judge it.
#[derive(Clone, Debug)]
pub struct LintOptions {
    /// Models, model directories or directories to search.
    pub paths: Vec<PathBuf>,
    /// ONNX files to treat as ORT-optimized graphs whatever their imports say.
    pub optimized: Vec<PathBuf>,
    pub cpu: CpuTarget,
    /// Execution provider the models will run on (`cpu`, `cuda`, ...).
    pub provider: String,
    /// Code prefixes to run; empty means every rule.
    pub select: Vec<String>,
    /// Code prefixes to skip.
    pub ignore: Vec<String>,
}

/// True when `rule` passes the select and ignore prefixes (case-insensitive).
pub fn is_selected(rule: &Rule, select: &[String], ignore: &[String]) -> bool {
    let code = rule.code.to_ascii_uppercase();
    let matches = |prefix: &String| code.starts_with(&prefix.trim().to_ascii_uppercase());
    (select.is_empty() || select.iter().any(matches)) && !ignore.iter().any(matches)
}

/// Model facts that ONNX Runtime measured (`compare.*`, `bench.*`), by model path as given in
/// [`LintOptions::paths`].
pub type RuntimeFacts = BTreeMap<PathBuf, FactMap>;

/// Lints every input and returns the sorted report. Unreadable inputs are recorded in the
/// report and do not stop the others.
pub fn lint(rules: &RuleSet, options: &LintOptions) -> Report {
    lint_with_runtime(rules, options, &RuntimeFacts::new())
}

/// Lints like [`lint`], and also runs the `runtime` rules on each model that has measured facts
/// in `runtime`, with those facts added to its model facts.
pub fn lint_with_runtime(rules: &RuleSet, options: &LintOptions, runtime: &RuntimeFacts) -> Report {
    let mut report = Report::default();
    let mut inputs: Vec<(Input, bool)> = Vec::new();
    let sources = options
        .paths
        .iter()
        .map(|p| (p, false))
        .chain(options.optimized.iter().map(|p| (p, true)));
    for (path, forced) in sources {
        match load::discover(path) {
            Ok(found) => inputs.extend(found.into_iter().map(|input| (input, forced))),
            Err(error) => report.inputs.push(InputReport {
                path: path.clone(),
                kind: None,
                stage: None,
                error: Some(error.to_string()),
                summary: None,
            }),
        }
    }
    // A file named twice is linted once; being forced to the optimized stage wins.
    inputs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    inputs.dedup_by(|a, b| a.0 == b.0);
    let selected = |rule: &Rule| is_selected(rule, &options.select, &options.ignore);
    for (input, forced) in inputs {
        match load::load(&input, forced) {
            Ok(model) => {
                let mut facts = analysis::compute(&model, &options.cpu, &options.provider);
                let measured = runtime.get(&model.path);
                if let Some(measured) = measured {
                    facts.model.extend(measured.clone());
                }
                report
                    .findings
                    .extend(evaluate(rules, &model, &facts, &selected));
                if measured.is_some() {
                    let found = evaluate_runtime(rules, &model, &facts, &selected);
                    report.findings.extend(found);
                }
                report.inputs.push(InputReport {
                    path: model.path.clone(),
                    kind: Some(model.format.as_str().to_string()),
                    stage: Some(model.stage),
                    error: None,
                    summary: Some(summarize(&model, &facts)),
                });
            }
            Err(error) => report.inputs.push(InputReport {
                path: input.path.clone(),
                kind: None,
                stage: None,
                error: Some(error.to_string()),
                summary: None,
            }),
        }
    }
    report.sort();
    report
}

fn summarize(model: &Model, facts: &Facts) -> ModelSummary {
    let num = |name: &str| facts.model.get(name).and_then(Value::as_f64).unwrap_or(0.0);
    let mut chains: Vec<usize> = facts.chains.iter().map(|c| c.size).collect();
    chains.sort_unstable_by(|a, b| b.cmp(a));
    let optimized = model.stage == Stage::Optimized;
    ModelSummary {
        nodes: model.graph.node_count(),
        quant_ops: num("quant_ops.count") as usize,
        chains: if optimized { chains } else { Vec::new() },
        islands: facts.islands.len(),
        macs_quantizable: num("macs.quantizable") as u64,
        macs_exact: facts.model.get("macs.exact").is_none_or(Value::truthy),
        int8_share: optimized.then(|| num("macs.int8_share")),
    }
}
