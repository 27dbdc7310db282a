//! Findings, the report that collects them, and renderers that write it to a writer.

mod common;
#[cfg(test)]
mod fixture;
pub mod github;
pub mod json;
pub mod junit;
mod runtime;
pub mod sarif;
mod sarif_location;
mod table;
pub mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::graph::Stage;
use crate::runtime::results::RuntimeReport;

/// The severity of a finding, ordered so that `Error` is the greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// Returns the lowercase name used in rule files, options and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "invalid severity `{other}`: expected info, warning or error"
            )),
        }
    }
}

/// One problem found by one rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub stage: String,
    pub path: PathBuf,
    /// Stable id of the node the finding is about; `None` for model-level findings.
    pub node: Option<String>,
    pub op_type: Option<String>,
    pub message: String,
    /// The fix to apply (the rule's `fix` text).
    pub help: String,
    /// Every node involved: the island's nodes, or all nodes of a grouped finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

impl Finding {
    /// Returns the key that output is sorted by: path, stage, node id, code, then message.
    pub fn sort_key(&self) -> (PathBuf, String, Vec<NaturalChunk>, String, String) {
        (
            self.path.clone(),
            self.stage.clone(),
            natural_key(self.node.as_deref().unwrap_or_default()),
            self.code.clone(),
            self.message.clone(),
        )
    }
}

/// A run of digits or of other characters, so that `Conv.2` sorts before `Conv.10`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NaturalChunk {
    /// Digits compare by value, then by length so `01` and `1` keep a fixed order.
    Number(u128, usize),
    Text(String),
}

/// Splits `text` into digit and non-digit runs for natural ordering.
pub fn natural_key(text: &str) -> Vec<NaturalChunk> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut in_digits = false;
    let flush = |current: &mut String, digits: bool, chunks: &mut Vec<NaturalChunk>| {
        if current.is_empty() {
            return;
        }
        let chunk = match current.parse::<u128>() {
            Ok(n) if digits => NaturalChunk::Number(n, current.len()),
            _ => NaturalChunk::Text(current.clone()),
        };
        chunks.push(chunk);
        current.clear();
    };
    for c in text.chars() {
        let digit = c.is_ascii_digit();
        if digit != in_digits {
            flush(&mut current, in_digits, &mut chunks);
            in_digits = digit;
        }
        current.push(c);
    }
    flush(&mut current, in_digits, &mut chunks);
    chunks
}

/// Per-model numbers for the summary table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ModelSummary {
    pub nodes: usize,
    pub quant_ops: usize,
    /// Chain sizes, largest first (optimized graphs only).
    pub chains: Vec<usize>,
    pub islands: usize,
    pub macs_quantizable: u64,
    /// False when some MAC count was a lower bound, so the share is an estimate.
    pub macs_exact: bool,
    /// Share of quantizable MACs in int8 kernels (optimized graphs only).
    pub int8_share: Option<f64>,
}

/// One input as qlint read it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputReport {
    pub path: PathBuf,
    /// Model format (`onnx`, `paddle-program`, `paddle-pir`), when known.
    pub kind: Option<String>,
    pub stage: Option<Stage>,
    /// The reason the input could not be linted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub summary: Option<ModelSummary>,
}

impl Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Everything one run found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub inputs: Vec<InputReport>,
    pub findings: Vec<Finding>,
    /// Problems that are not about one input (an unusable `--target-cpu`, say).
    pub errors: Vec<String>,
    /// The measurements of ONNX Runtime, after `--optimize`, `--compare` or `--bench`.
    pub runtime: Option<RuntimeReport>,
    /// The one-line summary of each rule that has findings, by code, for renderers that
    /// describe rules (SARIF).
    pub rule_summaries: BTreeMap<String, String>,
}

impl Report {
    /// Sorts findings and inputs so that output is deterministic.
    pub fn sort(&mut self) {
        self.findings.sort_by_key(Finding::sort_key);
        self.inputs
            .sort_by(|a, b| a.path.cmp(&b.path).then(a.stage.cmp(&b.stage)));
    }

    /// Counts findings of one severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// True when an input could not be read or the run had errors of its own.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.inputs.iter().any(|i| i.error.is_some())
    }

    /// Returns the maximum severity among the findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Writes a report in one output format.
pub trait Renderer {
    /// Writes `report` to `out`.
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()>;
}

/// Format names that [`renderer`] accepts.
pub const FORMATS: [&str; 5] = ["text", "json", "sarif", "github", "junit"];

/// Returns the renderer for an output format name, or `None` for an unknown name.
///
/// `color` applies to the text format only. JSON is indented for reading.
pub fn renderer(format: &str, color: bool) -> Option<Box<dyn Renderer>> {
    let renderer: Box<dyn Renderer> = match format {
        "text" => Box::new(text::TextRenderer { color }),
        "json" => Box::new(json::JsonRenderer { pretty: true }),
        "sarif" => Box::new(sarif::SarifRenderer),
        "github" => Box::new(github::GithubRenderer),
        "junit" => Box::new(junit::JunitRenderer),
        _ => return None,
    };
    Some(renderer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderer_known_formats() {
        for format in FORMATS {
            assert!(renderer(format, false).is_some(), "{format}");
        }
    }

    #[test]
    fn renderer_unknown_format_is_none() {
        assert!(renderer("xml", false).is_none());
        assert!(renderer("TEXT", false).is_none());
    }

    #[test]
    fn renderer_text_honors_color() {
        let report = fixture::sample_report();
        let render = |color: bool| {
            let mut out = Vec::new();
            let result = renderer("text", color).map(|r| r.render(&report, &mut out));
            assert!(matches!(result, Some(Ok(()))), "{result:?}");
            out
        };
        assert!(render(true).contains(&0x1b));
        assert!(!render(false).contains(&0x1b));
    }
}
