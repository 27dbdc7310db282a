//! Helpers for the tests that run ONNX Runtime through the `qlint` binary.
//!
//! These tests need the real library (`scripts/fetch-onnxruntime.sh`). Without it they print why
//! and pass, unless `QLINT_REQUIRE_ORT=1` is set, as CI does, and then they fail.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use qlint::load;
use qlint::runtime::library;

/// Set to `1` to make the ONNX Runtime tests fail instead of skip when the library is missing.
pub const REQUIRE_ENV: &str = "QLINT_REQUIRE_ORT";

/// Path of the `qlint` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qlint"))
}

/// Returns the `qlint` command with no config file and no color.
pub fn qlint() -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--no-config").env_remove("NO_COLOR");
    cmd
}

/// Returns the `qlint` command with `config` as its config file and no color.
pub fn qlint_with_config(config: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--config").arg(config).env_remove("NO_COLOR");
    cmd
}

/// True when the binary finds ONNX Runtime. Otherwise prints why `test` is skipped, or panics
/// when `QLINT_REQUIRE_ORT=1`.
pub fn ort_available(test: &str) -> bool {
    match library::locate(&binary()) {
        Ok(_) => true,
        Err(reason) => {
            let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
            assert!(!required, "{test}: {REQUIRE_ENV}=1 but {reason}");
            // Written to the stream itself, which the test harness does not capture, so the
            // reason shows in a normal `cargo test` run.
            let _ = writeln!(std::io::stderr(), "skipping {test}: {reason}");
            false
        }
    }
}

/// Path of a file under `testdata`.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative)
}

/// Path of a file under `testdata/corpus`.
pub fn corpus(relative: &str) -> PathBuf {
    testdata("corpus").join(relative)
}

/// Runs a command and returns its output, failing the test when it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run qlint: {e}"))
}

/// Parses standard output as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    let parsed = serde_json::from_slice(&output.stdout);
    parsed.unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Codes of the findings in a JSON report, in output order.
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Counts nodes per qualified op type (`com.microsoft::QLinearConv`), read with qlint's loader.
pub fn op_histogram(path: &Path) -> BTreeMap<String, usize> {
    let inputs = load::discover(path).unwrap_or_else(|e| panic!("{e}"));
    let mut histogram = BTreeMap::new();
    for input in &inputs {
        let model = load::load(input, true).unwrap_or_else(|e| panic!("{e}"));
        for node in model.graph.dag.node_weights() {
            *histogram.entry(node.qualified_op()).or_insert(0) += 1;
        }
    }
    histogram
}
