//! The `qlint` binary: exit codes, output formats, bad inputs, rule documentation.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

use common::{corpus, testdata};

fn qlint() -> Command {
    let mut cmd = Command::cargo_bin("qlint").unwrap_or_else(|e| panic!("binary: {e}"));
    cmd.arg("--no-config").env_remove("NO_COLOR");
    cmd
}

#[test]
fn fake_quant_model_exits_1_with_ql101() {
    qlint()
        .arg(corpus("convnet/pd262-B_fake_full"))
        .args(["--target-cpu", "icelake-server"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("[QL101]"))
        .stdout(predicate::str::contains("onnx_format=True"));
}

#[test]
fn clean_model_exits_0() {
    qlint()
        .arg(corpus("convnet/pd331-float"))
        .args(["--target-cpu", "icelake-server"])
        .assert()
        .code(0);
}

#[test]
fn fail_on_warning_turns_warnings_into_exit_1() {
    let model = corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    qlint()
        .arg(&model)
        .args(["--target-cpu", "icelake-server"])
        .assert()
        .code(0);
    qlint()
        .arg(&model)
        .args(["--target-cpu", "icelake-server", "--fail-on", "warning"])
        .assert()
        .code(1);
}

#[test]
fn select_and_ignore_filter_rules() {
    let model = corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let out = qlint()
        .arg(&model)
        .args([
            "--target-cpu",
            "skylake-sp",
            "--select",
            "QL3",
            "--ignore",
            "QL303",
            "--format",
            "json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(!codes.is_empty());
    assert!(
        codes.iter().all(|c| c.starts_with("QL3") && *c != "QL303"),
        "{codes:?}"
    );
}

#[test]
fn json_output_has_documented_shape() {
    let out = qlint()
        .arg(corpus("convnet/pd262-B_fake_full"))
        .args(["--target-cpu", "skylake-sp", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(json["version"], 1);
    assert_eq!(json["inputs"][0]["stage"], "paddle");
    assert_eq!(json["inputs"][0]["kind"], "paddle-program");
    let finding = &json["findings"][0];
    for key in [
        "code", "name", "severity", "stage", "path", "node", "op_type", "message", "help",
    ] {
        assert!(finding.get(key).is_some(), "missing {key} in {finding}");
    }
    assert_eq!(json["summary"]["models"], 1);
    assert!(json["summary"]["errors"].as_u64().unwrap_or(0) >= 3);
}

#[test]
fn sarif_and_github_formats_render() {
    let model = corpus("convnet/pd262-B_fake_full");
    let sarif = qlint()
        .arg(&model)
        .args(["--format", "sarif", "--target-cpu", "zen4"])
        .output();
    let sarif = sarif.unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap_or_default();
    assert_eq!(json["version"], "2.1.0");
    assert_eq!(json["runs"][0]["results"][0]["ruleId"], "QL101");
    qlint()
        .arg(&model)
        .args(["--format", "github", "--target-cpu", "zen4"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("::error "));
}

#[test]
fn output_is_byte_identical_across_runs() {
    for format in ["text", "json", "sarif"] {
        let run = || {
            qlint()
                .arg(corpus("mbv3ish/pd262-A_qdq_full/p2o131.ort_all.onnx"))
                .arg(corpus("convnet"))
                .args(["--target-cpu", "skylake-sp", "--format", format])
                .output()
                .unwrap_or_else(|e| panic!("{e}"))
                .stdout
        };
        let first = run();
        assert!(!first.is_empty());
        assert_eq!(first, run(), "{format} output differs between runs");
    }
}

#[test]
fn explain_prints_rule_documentation() {
    qlint()
        .args(["--explain", "QL302"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("QL302 fragmented-int8-chain: "))
        .stdout(predicate::str::contains("\nWhy\n"))
        .stdout(predicate::str::contains("\nFix\n"))
        .stdout(predicate::str::contains("\nExample\n"));
}

#[test]
fn explain_unknown_code_exits_2() {
    qlint()
        .args(["--explain", "QL999"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule code `QL999`"));
}

#[test]
fn list_rules_shows_every_code() {
    let assert = qlint().arg("--list-rules").assert().code(0);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for code in [
        "QL101", "QL102", "QL103", "QL104", "QL201", "QL301", "QL302", "QL303", "QL304", "QL305",
        "QL306", "QL401", "QL404",
    ] {
        assert!(out.contains(code), "{code} missing");
    }
}

#[test]
fn no_input_is_usage_error() {
    qlint()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no input"));
}

#[test]
fn bad_target_cpu_is_exit_2() {
    qlint()
        .arg(corpus("tiny/pd262-A_qdq_full"))
        .args(["--target-cpu", "pentium"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown CPU profile or flag `pentium`",
        ));
}

/// Bad inputs give exit 2 and a message naming the file, and never a panic.
mod bad_input {
    use super::*;

    fn assert_rejected(path: &std::path::Path, expected: &str) {
        let assert = qlint()
            .arg(path)
            .args(["--target-cpu", "zen4"])
            .assert()
            .code(2);
        let output = assert.get_output();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(text.contains(&name), "{name} not named in: {text}");
        assert!(text.contains(expected), "`{expected}` not in: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }

    #[test]
    fn empty_onnx_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("empty.onnx");
        std::fs::write(&path, b"").unwrap_or_else(|e| panic!("{e}"));
        assert_rejected(&path, "empty.onnx");
    }

    #[test]
    fn random_bytes_as_onnx_and_pdmodel() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        for name in ["random.onnx", "random.pdmodel"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
            assert_rejected(&path, name);
        }
    }

    #[test]
    fn truncated_models() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (source, name) in [
            ("convnet/pd262-A_qdq_full/p2o131.onnx", "truncated.onnx"),
            (
                "convnet/pd262-A_qdq_full/model.pdmodel",
                "truncated.pdmodel",
            ),
        ] {
            let bytes = std::fs::read(corpus(source)).unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
            assert_rejected(&path, name);
        }
    }

    #[test]
    fn million_empty_nodes_rejected_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty_nodes.onnx");
        let nodes = [0x0a_u8, 0x00].repeat(1_000_000);
        // ModelProto.graph (field 7) holding GraphProto.node (field 1) entries of length 0.
        let mut model = vec![0x3a];
        let mut len = nodes.len();
        while len >= 0x80 {
            model.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        model.push(len as u8);
        model.extend_from_slice(&nodes);
        std::fs::write(&path, model).unwrap();
        assert_rejected(&path, "empty or near-empty messages");
    }

    #[test]
    fn directory_without_model() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap_or_else(|e| panic!("{e}"));
        assert_rejected(dir.path(), "no model found under");
    }

    #[test]
    fn json_that_is_not_pir() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.json");
        std::fs::write(&path, br#"{"base_code": {"magic": "nope"}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_rejected(&path, "not a Paddle PIR program");
    }

    #[test]
    fn two_programs_in_one_directory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let program = corpus("convnet/pd262-A_qdq_full/model.pdmodel");
        let pir = corpus("convnet/pd331-float_pir/model.json");
        std::fs::copy(program, dir.path().join("model.pdmodel")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(pir, dir.path().join("model.json")).unwrap_or_else(|e| panic!("{e}"));
        assert_rejected(
            dir.path(),
            "more than one Paddle program (model.json, model.pdmodel)",
        );
    }

    #[test]
    fn bad_input_does_not_hide_other_findings() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("empty.onnx");
        std::fs::write(&path, b"").unwrap_or_else(|e| panic!("{e}"));
        qlint()
            .arg(&path)
            .arg(corpus("convnet/pd262-B_fake_full"))
            .args(["--target-cpu", "zen4"])
            .assert()
            .code(2)
            .stdout(predicate::str::contains("[QL101]"));
    }

    #[test]
    fn malformed_rule_pack_is_located() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pack = dir.path().join("pack.yaml");
        std::fs::write(&pack, "rules:\n  - code: QL900\n    nam: x\n")
            .unwrap_or_else(|e| panic!("{e}"));
        qlint()
            .arg(corpus("tiny/pd262-A_qdq_full"))
            .arg("--rules")
            .arg(&pack)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "pack.yaml:3:5: unknown field `nam`",
            ));
    }

    #[test]
    fn config_file_sets_threshold_and_severity() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join(".qlint.yaml");
        std::fs::write(
            &config,
            "severity:\n  QL404: error\nthresholds:\n  min-quantizable-macs: 100\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let model = testdata("corpus/tiny/pd262-A_qdq_full/p2o131.onnx");
        let mut cmd = Command::cargo_bin("qlint").unwrap_or_else(|e| panic!("{e}"));
        cmd.arg(&model)
            .args(["--target-cpu", "zen4", "--config"])
            .arg(&config);
        cmd.assert()
            .code(0)
            .stdout(predicate::str::contains("[QL404]").not());
        std::fs::write(&config, "severity:\n  QL404: error\n").unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::cargo_bin("qlint").unwrap_or_else(|e| panic!("{e}"));
        cmd.arg(&model)
            .args(["--target-cpu", "zen4", "--config"])
            .arg(&config);
        cmd.assert()
            .code(1)
            .stdout(predicate::str::contains("[QL404]"));
        std::fs::write(&config, "severty: {}\n").unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::cargo_bin("qlint").unwrap_or_else(|e| panic!("{e}"));
        cmd.arg(&model).arg("--config").arg(&config);
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains(".qlint.yaml:1:1"));
    }
}

#[test]
fn select_typo_is_usage_error() {
    qlint()
        .arg(corpus("tiny/pd262-A_qdq_full"))
        .args(["--select", "QL9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--select `QL9` matches no rule code",
        ));
}

#[test]
fn command_line_select_replaces_config_select() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".qlint.yaml");
    std::fs::write(&config, "select: [QL1]\n").unwrap();
    let model = corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let mut cmd = Command::cargo_bin("qlint").unwrap();
    cmd.arg(&model)
        .args(["--target-cpu", "zen4", "--config"])
        .arg(&config);
    cmd.assert()
        .code(0)
        .stdout(predicate::str::contains("[QL3").not());
    let mut cmd = Command::cargo_bin("qlint").unwrap();
    cmd.arg(&model)
        .args(["--target-cpu", "zen4", "--select", "QL302", "--config"])
        .arg(&config);
    cmd.assert()
        .code(0)
        .stdout(predicate::str::contains("[QL302]"));
}

#[test]
fn severity_accepts_comma_list() {
    qlint()
        .arg(corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx"))
        .args([
            "--target-cpu",
            "zen4",
            "--severity",
            "QL302=error,QL303=error",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error: "));
}

#[test]
fn optimized_flag_rejects_paddle_program() {
    qlint()
        .arg("--optimized")
        .arg(corpus("convnet/pd262-A_qdq_full"))
        .args(["--target-cpu", "zen4"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("--optimized expects an ONNX file"));
}

#[test]
fn forced_optimized_export_reports_only_ql306() {
    let out = qlint()
        .arg("--optimized")
        .arg(corpus("convnet/pd262-A_qdq_full/p2o131.onnx"))
        .args([
            "--target-cpu",
            "zen4",
            "--select",
            "QL3",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["QL306"]);
}

#[test]
fn same_file_twice_is_linted_once() {
    let model = corpus("tiny/pd262-A_qdq_full/p2o131.onnx");
    let dotted = model.parent().unwrap().join(".").join("p2o131.onnx");
    let out = qlint()
        .arg(&model)
        .arg(&dotted)
        .args(["--format", "json", "--target-cpu", "zen4"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["inputs"].as_array().map(Vec::len), Some(1));
}

#[test]
fn bad_subdirectory_does_not_hide_good_models() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a");
    let good = dir.path().join("b");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::create_dir_all(&good).unwrap();
    let program = corpus("convnet/pd262-A_qdq_full/model.pdmodel");
    std::fs::copy(&program, bad.join("x.pdmodel")).unwrap();
    std::fs::copy(&program, bad.join("y.pdmodel")).unwrap();
    std::fs::copy(
        corpus("tiny/pd262-A_qdq_full/p2o131.onnx"),
        good.join("good.onnx"),
    )
    .unwrap();
    qlint()
        .arg(dir.path())
        .args(["--target-cpu", "zen4"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("more than one Paddle program"))
        .stdout(predicate::str::contains(
            "good.onnx: only 6.9K quantizable MACs",
        ));
}

#[test]
fn control_characters_in_names_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil\nerror: forged.onnx");
    std::fs::copy(corpus("tiny/pd262-A_qdq_full/p2o131.onnx"), &path).unwrap();
    let out = qlint()
        .arg(&path)
        .args(["--target-cpu", "zen4", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("evil\\u{a}error: forged.onnx"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("error: forged")),
        "{text}"
    );
}

#[test]
fn list_rules_as_json() {
    let out = qlint()
        .args(["--list-rules", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = json.as_array().unwrap();
    assert!(rules.len() >= 26, "{}", rules.len());
    assert_eq!(rules[0]["code"], "QL101");
    assert_eq!(rules[0]["stages"][0], "paddle");
}

#[test]
fn sarif_rules_carry_summaries() {
    let out = qlint()
        .arg(corpus("convnet/pd262-B_fake_full"))
        .args([
            "--format",
            "sarif",
            "--target-cpu",
            "zen4",
            "--select",
            "QL101",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = &json["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "QL101");
    assert_eq!(
        rule["shortDescription"]["text"],
        "Paddle2ONNX cannot export legacy fake quantization ops"
    );
}

#[test]
fn optimize_rejects_paddle_program_before_ort() {
    qlint()
        .arg("--optimize")
        .arg(corpus("convnet/pd262-A_qdq_full/model.pdmodel"))
        .args(["--target-cpu", "zen4"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("is not an .onnx file"));
}
