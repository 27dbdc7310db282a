//! Helpers shared by the integration tests: lint real models through the library.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};

use qlint::host::CpuTarget;
use qlint::lint::{LintOptions, lint};
use qlint::report::{Finding, Report};
use qlint::rules::RuleSet;

/// Path of a file under `testdata/corpus`.
pub fn corpus(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/corpus")
        .join(relative)
}

/// Path of a file under `testdata`.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative)
}

/// Lints `paths` (and `optimized` as forced optimized graphs) for the CPU profile or flag list
/// `cpu`, with the built-in rules and default options.
pub fn lint_paths(paths: &[PathBuf], optimized: &[PathBuf], cpu: &str) -> Report {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("built-in rules: {e}"));
    let options = LintOptions {
        paths: paths.to_vec(),
        optimized: optimized.to_vec(),
        cpu: CpuTarget::parse(cpu).unwrap_or_else(|e| panic!("cpu: {e}")),
        provider: "cpu".into(),
        select: Vec::new(),
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: Default::default(),
    };
    lint(&rules, &options)
}

/// Lints one corpus file or directory for an icelake-server target and checks it loaded.
pub fn lint_corpus(relative: &str) -> Report {
    let report = lint_paths(&[corpus(relative)], &[], "icelake-server");
    assert_loaded(&report);
    report
}

/// Fails when any input could not be read.
pub fn assert_loaded(report: &Report) {
    for input in &report.inputs {
        assert!(
            input.error.is_none(),
            "{}: {:?}",
            input.path.display(),
            input.error
        );
    }
}

/// Findings of one rule.
pub fn with_code<'a>(report: &'a Report, code: &str) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.code == code).collect()
}

/// Codes of all findings, sorted and deduplicated.
pub fn codes(report: &Report) -> Vec<String> {
    let mut codes: Vec<String> = report.findings.iter().map(|f| f.code.clone()).collect();
    codes.sort();
    codes.dedup();
    codes
}
