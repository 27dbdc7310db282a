//! The user's `.qlint.yaml`: rule selection, severity overrides, thresholds, target CPU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::schema::ConfigSpec;
use super::{RuleError, parse_yaml, read_yaml_file};
use crate::analysis::fusion::OrtVersion;
use crate::analysis::paddle2onnx::Paddle2OnnxVersion;
use crate::report::Severity;

/// The file name qlint looks for, from the current directory upward.
pub const CONFIG_FILE: &str = ".qlint.yaml";

/// A checked config file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
    pub fail_on: Option<Severity>,
    pub target_cpu: Option<String>,
    pub provider: Option<String>,
    /// Paddle2ONNX release that Paddle programs are judged for, checked against the table.
    pub paddle2onnx_version: Option<Paddle2OnnxVersion>,
    /// ONNX Runtime release that QDQ fusion is predicted for, checked against the table.
    pub ort_version: Option<OrtVersion>,
    /// Extra rule packs, resolved against the config file's directory.
    pub rules: Vec<PathBuf>,
    pub thresholds: BTreeMap<String, f64>,
}

/// Finds the nearest `.qlint.yaml` in `start` or one of its ancestors.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|candidate| candidate.is_file())
}

/// Reads and checks a config file.
pub fn load_config(path: &Path) -> Result<Config, RuleError> {
    let file = path.display().to_string();
    let text = read_yaml_file(path)?;
    let spec: ConfigSpec = if text.trim().is_empty() {
        ConfigSpec::default()
    } else {
        parse_yaml(&file, &text)?
    };
    let mut severity = BTreeMap::new();
    for (code, level) in &spec.severity {
        let parsed = level
            .value
            .parse::<Severity>()
            .map_err(|e| RuleError::at(&file, level.referenced, e))?;
        severity.insert(code.clone(), parsed);
    }
    let fail_on = match &spec.fail_on {
        Some(level) => Some(
            level
                .value
                .parse::<Severity>()
                .map_err(|e| RuleError::at(&file, level.referenced, e))?,
        ),
        None => None,
    };
    let paddle2onnx_version = match &spec.paddle2onnx_version {
        Some(version) => Some(
            Paddle2OnnxVersion::parse(&version.value)
                .map_err(|e| RuleError::at(&file, version.referenced, e))?,
        ),
        None => None,
    };
    let ort_version = match &spec.ort_version {
        Some(version) => Some(
            OrtVersion::parse(&version.value)
                .map_err(|e| RuleError::at(&file, version.referenced, e))?,
        ),
        None => None,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut thresholds = BTreeMap::new();
    for (name, value) in &spec.thresholds {
        if !value.value.is_finite() {
            let msg = format!("threshold `{name}` must be a finite number");
            return Err(RuleError::at(&file, value.referenced, msg));
        }
        thresholds.insert(name.clone(), value.value);
    }
    Ok(Config {
        path: Some(path.to_path_buf()),
        select: spec.select,
        ignore: spec.ignore,
        severity,
        fail_on,
        target_cpu: spec.target_cpu,
        provider: spec.provider,
        paddle2onnx_version,
        ort_version,
        rules: spec.rules.iter().map(|r| base.join(r)).collect(),
        thresholds,
    })
}
