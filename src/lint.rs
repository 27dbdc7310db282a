//! One lint run: resolve inputs, group them into pipelines, load each model, compute facts
//! (cross-stage facts across a pipeline), evaluate rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::analysis::fusion::{self, OrtVersion};
use crate::analysis::paddle2onnx::{self, Paddle2OnnxVersion};
use crate::analysis::{self, FactMap, Facts, Value, cross_stage};
use crate::graph::{Model, Stage};
use crate::host::CpuTarget;
use crate::load::{self, InputKind};
use crate::pipeline::{self, Source};
use crate::report::{InputReport, ModelSummary, Report};
use crate::rules::{Rule, RuleSet, STEP_BUDGET, evaluate_runtime, evaluate_within_budget};

/// The inputs of a lint run and the target they are judged for.
#[derive(Clone, Debug)]
pub struct LintOptions {
    /// Models, model directories or directories to search.
    pub paths: Vec<PathBuf>,
    /// ONNX files to treat as ORT-optimized graphs whatever domains they import.
    pub optimized: Vec<PathBuf>,
    pub cpu: CpuTarget,
    /// Execution provider the models will run on (`cpu`, `cuda`, ...).
    pub provider: String,
    /// Code prefixes to run; empty means every rule.
    pub select: Vec<String>,
    /// Code prefixes to skip.
    pub ignore: Vec<String>,
    /// The Paddle2ONNX release that Paddle programs are judged for (QL108).
    pub paddle2onnx: Paddle2OnnxVersion,
    /// The ONNX Runtime release that QDQ fusion is predicted for (QL203, QL204).
    pub ort_version: OrtVersion,
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
/// report and do not stop the others. Models are loaded one pipeline at a time (see
/// [`pipeline`]), so cross-stage facts can compare the models of a pipeline before its rules run.
pub fn lint(rules: &RuleSet, options: &LintOptions) -> Report {
    lint_with_runtime(rules, options, &RuntimeFacts::new())
}

/// Lints like [`lint`], and also runs the `runtime` rules on each model that has measured facts
/// in `runtime`, with those facts added to its model facts.
pub fn lint_with_runtime(rules: &RuleSet, options: &LintOptions, runtime: &RuntimeFacts) -> Report {
    let mut report = Report::default();
    let mut sources: Vec<Source> = Vec::new();
    let paths = options
        .paths
        .iter()
        .map(|p| (p, false))
        .chain(options.optimized.iter().map(|p| (p, true)));
    for (path, forced) in paths {
        let (found, problems) = load::discover_all(path);
        for problem in problems {
            report
                .inputs
                .push(failed_input(&problem.path, problem.to_string()));
        }
        let named = pipeline::names_one_model(path, &found);
        sources.extend(found.into_iter().map(|input| Source {
            input,
            forced,
            named,
        }));
    }
    let selected = |rule: &Rule| is_selected(rule, &options.select, &options.ignore);
    for group in pipeline::group(sources) {
        // NOTE: every model of a pipeline stays loaded until its rules have run, so a command
        // line that names hundreds of models keeps them all in memory at once (weights stay mapped).
        let mut loaded: Vec<(Model, Facts)> = Vec::new();
        for source in group {
            if source.forced && source.input.kind != InputKind::Onnx {
                let message = format!(
                    "{}: --optimized expects an ONNX file that ONNX Runtime saved, not a Paddle program",
                    source.input.path.display()
                );
                report
                    .inputs
                    .push(failed_input(&source.input.path, message));
                continue;
            }
            match load::load(&source.input, source.forced) {
                Ok(model) => {
                    let mut facts = analysis::compute(&model, &options.cpu, &options.provider);
                    paddle2onnx::add_facts(&model, &options.paddle2onnx, &mut facts);
                    fusion::add_facts(&model, &options.ort_version, &mut facts);
                    if let Some(measured) = runtime.get(&model.path) {
                        facts.model.extend(measured.clone());
                    }
                    loaded.push((model, facts));
                }
                Err(error) => report
                    .inputs
                    .push(failed_input(&source.input.path, error.to_string())),
            }
        }
        cross_stage::annotate(&mut loaded);
        for (model, facts) in &loaded {
            let evaluation = evaluate_within_budget(rules, model, facts, &selected);
            report.findings.extend(evaluation.findings);
            if runtime.contains_key(&model.path) {
                let measured = evaluate_runtime(rules, model, facts, &selected);
                report.findings.extend(measured);
            }
            for code in evaluation.exhausted {
                report.errors.push(format!(
                    "{}: rule {code} stopped after {STEP_BUDGET} graph steps, so its findings on \
                     this model are incomplete (simplify its path or consumer patterns)",
                    model.path.display()
                ));
            }
            report.inputs.push(InputReport {
                path: model.path.clone(),
                kind: Some(model.format.as_str().to_string()),
                stage: Some(model.stage),
                error: None,
                summary: Some(summarize(model, facts)),
            });
        }
    }
    for finding in &report.findings {
        if let Some(rule) = rules.find(&finding.code) {
            report
                .rule_summaries
                .entry(rule.code.clone())
                .or_insert_with(|| rule.summary.clone());
        }
    }
    report.sort();
    report
}

fn failed_input(path: &Path, error: String) -> InputReport {
    InputReport {
        path: path.to_path_buf(),
        kind: None,
        stage: None,
        error: Some(error),
        summary: None,
    }
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
