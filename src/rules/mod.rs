//! YAML rule packs: schema, validation with file:line:column errors, and evaluation.
//!
//! The built-in packs in `rules/*.yaml` are embedded at compile time; `--rules FILE` and the
//! config file add packs. Sets, thresholds and codes are global across packs, and a name defined
//! twice is an error.

mod compile;
mod config;
pub mod docs;
mod eval;
mod schema;
mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use compile::{Cond, MessageRule, OpSet, Rule, SeverityRule};
pub use config::{Config, find_config, load_config};
pub use eval::{Evaluation, STEP_BUDGET, evaluate, evaluate_runtime, evaluate_within_budget};

use crate::analysis::Scope;
use crate::report::Severity;

/// The packs built into the binary: `(file name, YAML text)`.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    ("rules/paddle.yaml", include_str!("../../rules/paddle.yaml")),
    (
        "rules/paddle_export.yaml",
        include_str!("../../rules/paddle_export.yaml"),
    ),
    ("rules/onnx.yaml", include_str!("../../rules/onnx.yaml")),
    (
        "rules/optimized.yaml",
        include_str!("../../rules/optimized.yaml"),
    ),
    ("rules/host.yaml", include_str!("../../rules/host.yaml")),
    ("rules/qdq.yaml", include_str!("../../rules/qdq.yaml")),
    (
        "rules/saturation.yaml",
        include_str!("../../rules/saturation.yaml"),
    ),
    (
        "rules/runtime.yaml",
        include_str!("../../rules/runtime.yaml"),
    ),
    ("rules/fusion.yaml", include_str!("../../rules/fusion.yaml")),
];

/// Largest rule pack or config file qlint reads, so a hostile file cannot exhaust memory.
pub const MAX_YAML_BYTES: u64 = 4 * 1024 * 1024;

/// An invalid rule pack or config file, with the position of the problem when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub file: String,
    /// 1-based line and column; `None` when the problem has no single position.
    pub position: Option<(u64, u64)>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl RuleError {
    /// Creates an error at a YAML location; an unknown location (line 0) is dropped.
    pub(crate) fn at(file: &str, location: serde_saphyr::Location, message: String) -> Self {
        let position = (location.line() > 0).then(|| (location.line(), location.column()));
        RuleError {
            file: file.to_string(),
            position,
            message,
        }
    }
}

/// A stage a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleStage {
    Paddle,
    Onnx,
    Optimized,
    /// Judged for the deployment CPU and execution provider; evaluated on every model.
    Host,
    /// Judged from ONNX Runtime runs.
    Runtime,
}

impl RuleStage {
    /// Parses a stage name from a rule file.
    pub fn parse(name: &str) -> Option<RuleStage> {
        match name {
            "paddle" => Some(RuleStage::Paddle),
            "onnx" => Some(RuleStage::Onnx),
            "optimized" => Some(RuleStage::Optimized),
            "host" => Some(RuleStage::Host),
            "runtime" => Some(RuleStage::Runtime),
            _ => None,
        }
    }

    /// Returns the name used in rule files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStage::Paddle => "paddle",
            RuleStage::Onnx => "onnx",
            RuleStage::Optimized => "optimized",
            RuleStage::Host => "host",
            RuleStage::Runtime => "runtime",
        }
    }
}

/// Every rule of every loaded pack, with the sets and thresholds they share.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub sets: BTreeMap<String, OpSet>,
    pub thresholds: BTreeMap<String, f64>,
}

impl RuleSet {
    /// Loads the built-in packs.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let packs: Vec<(String, String)> = BUILTIN_PACKS
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string()))
            .collect();
        compile::compile_packs(&packs)
    }

    /// Loads the built-in packs plus extra pack files.
    pub fn with_extra_packs(files: &[impl AsRef<Path>]) -> Result<RuleSet, RuleError> {
        let mut packs: Vec<(String, String)> = BUILTIN_PACKS
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string()))
            .collect();
        for file in files {
            let file = file.as_ref();
            packs.push((file.display().to_string(), read_yaml_file(file)?));
        }
        compile::compile_packs(&packs)
    }

    /// Compiles packs given as `(file name, YAML text)`, without the built-in ones.
    pub fn from_texts(packs: &[(String, String)]) -> Result<RuleSet, RuleError> {
        compile::compile_packs(packs)
    }

    /// Finds a rule by code (case-insensitive).
    pub fn find(&self, code: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code))
    }

    /// Overrides a threshold's value; unknown names are an error.
    pub fn set_threshold(&mut self, name: &str, value: f64) -> Result<(), String> {
        match self.thresholds.get_mut(name) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(format!(
                "unknown threshold `{name}`: known thresholds are {}",
                self.thresholds
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Overrides a rule's severity; unknown codes are an error.
    pub fn set_severity(&mut self, code: &str, level: Severity) -> Result<(), String> {
        match self
            .rules
            .iter_mut()
            .find(|r| r.code.eq_ignore_ascii_case(code))
        {
            Some(rule) => {
                rule.severity = SeverityRule::Fixed(level);
                Ok(())
            }
            None => Err(format!("unknown rule code `{code}`")),
        }
    }
}

/// Reads a YAML file with a size cap, naming the file in every error.
pub(crate) fn read_yaml_file(path: &Path) -> Result<String, RuleError> {
    let fail = |message: String| RuleError {
        file: path.display().to_string(),
        position: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a file".to_string()));
    }
    if meta.len() > MAX_YAML_BYTES {
        return Err(fail(format!(
            "file is {} bytes, more than the {MAX_YAML_BYTES}-byte limit for rule and config files",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|_| fail("not valid UTF-8 text".to_string()))
}

/// Parses YAML text into `T`, turning a parse error into a located [`RuleError`].
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, RuleError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let location = e.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
        let message = e.without_snippet().to_string();
        RuleError::at(file, location, clean_yaml_message(&message))
    })
}

/// Drops the position prefix serde-saphyr adds, since [`RuleError`] prints its own.
fn clean_yaml_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let without_prefix = first
        .split_once(" at line ")
        .map(|(head, _)| head)
        .unwrap_or(first);
    without_prefix.trim_end_matches(':').to_string()
}

/// Scopes a rule may be evaluated on, as named in rule files.
pub fn parse_scope(name: &str) -> Option<Scope> {
    match name {
        "model" => Some(Scope::Model),
        "node" => Some(Scope::Node),
        "island" => Some(Scope::Island),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_texts(&[("pack.yaml".to_string(), text.to_string())])
    }

    const HEADER: &str = "rules:\n  - code: QL900\n    name: some-problem\n    stages: [onnx]\n    severity: warning\n    summary: s\n    why: w\n    fix: f\n    example: e\n";

    #[test]
    fn builtin_packs_compile() {
        let set = RuleSet::builtin();
        assert!(set.is_ok(), "{:?}", set.err());
        let set = set.unwrap_or_default();
        for code in [
            "QL101", "QL102", "QL103", "QL104", "QL201", "QL301", "QL302", "QL303",
        ] {
            assert!(set.find(code).is_some(), "{code} missing");
        }
        for code in [
            "QL105", "QL108", "QL304", "QL305", "QL306", "QL401", "QL404",
        ] {
            assert!(set.find(code).is_some(), "{code} missing");
        }
        for code in ["QL106", "QL107", "QL202", "QL205", "QL206", "QL403"] {
            assert!(set.find(code).is_some(), "{code} missing");
        }
    }

    #[test]
    fn unknown_key_is_located() {
        let text = format!(
            "{HEADER}    when: {{fact: {{name: opset, gt: 1}}}}\n    message: m\n    colour: red\n"
        );
        let err = compile(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("pack.yaml:"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_fact_is_located() {
        let text =
            format!("{HEADER}    when: {{fact: {{name: no.such.fact, gt: 1}}}}\n    message: m\n");
        let err = compile(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("pack.yaml:10:"), "{err}");
        assert!(err.contains("unknown fact `no.such.fact`"), "{err}");
    }

    #[test]
    fn bad_regex_is_located() {
        let text =
            format!("{HEADER}    for: node\n    when: {{op: {{regex: \"(\"}}}}\n    message: m\n");
        let err = compile(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("pack.yaml:11:"), "{err}");
        assert!(err.contains("invalid regex"), "{err}");
    }

    #[test]
    fn duplicate_code_is_error() {
        let rule = format!("{HEADER}    when: {{fact: {{name: opset, gt: 1}}}}\n    message: m\n");
        let second = rule
            .replace("rules:\n", "")
            .replace("some-problem", "other-problem");
        let err = compile(&format!("{rule}{second}"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("duplicate rule code `QL900`"), "{err}");
        assert!(err.starts_with("pack.yaml:12:"), "{err}");
    }

    #[test]
    fn node_matcher_in_model_rule_is_error() {
        let text = format!("{HEADER}    when: {{op: Conv}}\n    message: m\n");
        let err = compile(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("use `for: node`"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_error() {
        let err = compile("rules: [\n  - code: {")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("pack.yaml:"), "{err}");
    }
}
