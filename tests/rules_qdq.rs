//! Q/DQ rules (QL106, QL107, QL202, QL205, QL206 on one model, QL403) on real Paddle
//! programs, Paddle2ONNX 1.3.1 exports, onnxruntime.quantization output and ORT's optimized
//! graphs. Where a rule predicts what ORT does, the test also reads ORT's optimized graph.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{corpus, lint_corpus, lint_paths, testdata, with_code};
use qlint::load::{Input, InputKind, load};
use qlint::report::{Report, Severity};

fn lint_generated(relative: &str) -> Report {
    let report = lint_paths(&[testdata(relative)], &[], "icelake-server");
    common::assert_loaded(&report);
    report
}

/// Op counts of an ONNX file as qlint loads it.
fn ops(path: &Path) -> BTreeMap<String, usize> {
    let input = Input {
        path: path.to_path_buf(),
        kind: InputKind::Onnx,
    };
    load(&input, false).unwrap().graph.op_histogram()
}

fn messages(report: &Report, code: &str) -> Vec<String> {
    with_code(report, code)
        .iter()
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn ql106_fires_on_4bit_paddle_program() {
    let report = lint_generated("generated/paddle_ptq_4bit/model.pdmodel");
    let found = with_code(&report, "QL106");
    assert_eq!(found.len(), 2, "{:#?}", messages(&report, "QL106"));
    assert!(found.iter().all(|f| f.severity == Severity::Error));
    let texts = messages(&report, "QL106");
    assert!(
        texts
            .iter()
            .any(|m| m.starts_with("`dequantize_linear` ×4 with bit_length 4")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|m| m.starts_with("`quantize_linear` ×2 with bit_length 4")),
        "{texts:#?}"
    );
}

#[test]
fn ql106_fires_on_16bit_and_4bit_qdq() {
    let report = lint_generated("generated/qdq_uint16/model.qdq.onnx");
    let texts = messages(&report, "QL106");
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts
            .iter()
            .all(|m| m.contains("×6 with uint16 activation"))
    );
    let report = lint_generated("generated/qdq_int4_weights/model.qdq.onnx");
    let texts = messages(&report, "QL106");
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        texts[0].starts_with("`com.microsoft::DequantizeLinear` ×2 with int4 weight"),
        "{}",
        texts[0]
    );
}

#[test]
fn ql106_prediction_matches_ort() {
    // ORT 1.31.1 fused none of the Convs of the 16-bit and int4 models.
    for dir in ["generated/qdq_uint16", "generated/qdq_int4_weights"] {
        let optimized = ops(&testdata(&format!("{dir}/model.qdq.ort_extended.onnx")));
        assert_eq!(optimized.get("Conv"), Some(&2), "{dir}: {optimized:?}");
        assert_eq!(optimized.get("QLinearConv"), None, "{dir}: {optimized:?}");
    }
    // The blocked int4 MatMul weight that QL106 accepts did become MatMulNBits.
    let optimized = ops(&testdata(
        "generated/matmul_nbits/model.qdq.ort_extended.onnx",
    ));
    assert_eq!(
        optimized.get("com.microsoft::MatMulNBits"),
        Some(&1),
        "{optimized:?}"
    );
}

#[test]
fn ql106_quiet_on_int8_and_matmul_nbits() {
    for report in [
        lint_corpus("convnet/pd262-A_qdq_full"),
        lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx"),
        lint_corpus("mbv3ish/pd262-A_qdq_full/p2o131.onnx"),
        lint_generated("generated/matmul_nbits/model.qdq.onnx"),
    ] {
        assert!(
            with_code(&report, "QL106").is_empty(),
            "{:#?}",
            report.findings
        );
    }
}

#[test]
fn ql107_fires_on_trans_y_weight_of_ptq() {
    let report = lint_generated("generated/paddle_ptq_trans_y/model.pdmodel");
    let found = with_code(&report, "QL107");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].op_type.as_deref(), Some("dequantize_linear"));
    let message = &found[0].message;
    assert!(
        message.starts_with("`quant_axis` 1 of `dequantize_linear` on weight `transposed_weights_0.w_0` does not fit `matmul_v2 (trans_y)`"),
        "{message}"
    );
    assert!(
        message.contains("output channels are on axis 0 (10): 10 scales, axis 1 has 1024"),
        "{message}"
    );
}

#[test]
fn ql107_fires_on_missing_onnx_axis() {
    let report = lint_generated("generated/missing_axis/model.qdq.onnx");
    let found = with_code(&report, "QL107");
    let nodes: Vec<Option<&str>> = found.iter().map(|f| f.node.as_deref()).collect();
    assert_eq!(
        nodes,
        [Some("w1_DequantizeLinear"), Some("w2_DequantizeLinear")]
    );
    assert!(
        found[0]
            .message
            .contains("has no `axis`, so it defaults to 1, but `Conv` has its output channels on axis 0: 8 scales, axis 1 has 3"),
        "{}",
        found[0].message
    );
    assert!(
        found[1].message.contains("axis 1 has 8, axis 0 has 8"),
        "{}",
        found[1].message
    );
    // The 8 scales against 3 input channels are QL107's finding, not a second QL202 one.
    assert!(
        with_code(&report, "QL202").is_empty(),
        "{:#?}",
        report.findings
    );
}

#[test]
fn ql107_quiet_on_right_axes() {
    for report in [
        lint_corpus("convnet/pd262-A_qdq_full"),
        lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx"),
        lint_corpus("convnet/pd262-QAT_qdq"),
        lint_corpus("mbv3ish/pd262-A_qdq_full/p2o131.onnx"),
        lint_generated("generated/axes_ok/model.qdq.onnx"),
        lint_generated("generated/big_conv/model.qdq.onnx"),
    ] {
        assert!(
            with_code(&report, "QL107").is_empty(),
            "{:#?}",
            report.findings
        );
    }
}

#[test]
fn ql202_reports_each_bad_parameter() {
    let report = lint_generated("generated/bad_qparams/model.qdq.onnx");
    let found: BTreeMap<&str, (Severity, &str)> = with_code(&report, "QL202")
        .iter()
        .map(|f| {
            (
                f.node.as_deref().unwrap_or(""),
                (f.severity, f.message.as_str()),
            )
        })
        .collect();
    let expect = [
        ("a1_QuantizeLinear", Severity::Warning, "1 negative scales"),
        (
            "a1_DequantizeLinear",
            Severity::Warning,
            "1 negative scales",
        ),
        ("p1_QuantizeLinear", Severity::Warning, "1 negative scales"),
        (
            "p1_DequantizeLinear",
            Severity::Warning,
            "1 negative scales",
        ),
        (
            "c1_QuantizeLinear",
            Severity::Error,
            "range [0, 255] (first: 300)",
        ),
        (
            "c1_DequantizeLinear",
            Severity::Error,
            "range [0, 255] (first: 300)",
        ),
        (
            "w1_DequantizeLinear",
            Severity::Error,
            "8 scales but 3 zero points",
        ),
        (
            "w2_DequantizeLinear",
            Severity::Error,
            "8 NaN or infinite scales (first: inf",
        ),
        ("x_QuantizeLinear", Severity::Warning, "1 zero scales"),
        ("x_DequantizeLinear", Severity::Warning, "1 zero scales"),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (node, severity, text) in expect {
        let (actual, message) = found.get(node).copied().unwrap_or((Severity::Info, ""));
        assert_eq!(actual, severity, "{node}: {message}");
        assert!(message.contains(text), "{node}: {message}");
    }
}

#[test]
fn ql202_sees_paddle2onnx_zero_scales() {
    let report = lint_generated("generated/paddle_pruned_channel/p2o131.onnx");
    let found = with_code(&report, "QL202");
    let infos = found
        .iter()
        .filter(|f| f.severity == Severity::Info)
        .count();
    assert_eq!(infos, 2, "weight Q and DQ of the all-zero channel");
    let warnings: Vec<&str> = found
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 1, "the int32 bias with rint(0 / 0)");
    assert!(
        warnings[0].contains("zero scales (first at index 2): every value there dequantizes to 0"),
        "{}",
        warnings[0]
    );
}

#[test]
fn ql202_quiet_on_valid_parameters() {
    for report in [
        lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx"),
        lint_corpus("leaky/pd262-A_qdq_full/p2o131.onnx"),
        lint_corpus("mbv3ish/pd262-A_qdq_full/p2o131.onnx"),
        lint_generated("generated/axes_ok/model.qdq.onnx"),
        lint_generated("generated/big_conv/model.qdq.onnx"),
        // Blocked int4 weights from MatMulNBitsQuantizer have negative scales on purpose.
        lint_generated("generated/matmul_nbits/model.qdq.onnx"),
    ] {
        assert!(
            with_code(&report, "QL202").is_empty(),
            "{:#?}",
            report.findings
        );
    }
}

#[test]
fn ql205_fires_below_opset_13() {
    let report = lint_generated("generated/opset10_qdq/model.qdq.onnx");
    let found = with_code(&report, "QL205");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(
        found[0]
            .message
            .starts_with("opset 10 < 13: QuantizeLinear/DequantizeLinear have no `axis`"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("MaxPool"), "{}", found[0].message);
    let report = lint_generated("generated/opset10_qdq/model.per_channel.qdq.onnx");
    let found = with_code(&report, "QL205");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error);
    assert!(
        found[0]
            .message
            .contains("4 QuantizeLinear/DequantizeLinear have an `axis`"),
        "{}",
        found[0].message
    );
}

#[test]
fn ql205_prediction_matches_ort() {
    // ORT 1.31.1 fused both Convs at opset 10 but left the MaxPool float between DQ and Q.
    let optimized = ops(&testdata(
        "generated/opset10_qdq/model.qdq.ort_extended.onnx",
    ));
    assert_eq!(optimized.get("QLinearConv"), Some(&2), "{optimized:?}");
    assert_eq!(optimized.get("MaxPool"), Some(&1), "{optimized:?}");
    assert_eq!(optimized.get("DequantizeLinear"), Some(&2), "{optimized:?}");
}

#[test]
fn ql205_quiet_at_opset_13() {
    for report in [
        lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx"),
        lint_generated("generated/big_conv/model.qdq.onnx"),
    ] {
        assert!(with_code(&report, "QL205").is_empty());
    }
}

#[test]
fn ql206_finds_float_weights_on_int8_grid() {
    let cases = [
        ("convnet/pd262-A_qdq_full/p2o131.onnx", vec!["linear_0.w_0"]),
        (
            "convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx",
            vec!["linear_0.w_0"],
        ),
        ("tiny/pd262-A_qdq_full/p2o131.onnx", vec!["conv2d_21.w_0"]),
        (
            "convnet/pd262-A_qdq_full/p2o131_trt.onnx",
            vec![
                "conv2d_0.w_0",
                "conv2d_1.w_0",
                "conv2d_2.w_0",
                "conv2d_3.w_0",
                "linear_0.w_0",
            ],
        ),
    ];
    for (file, weights) in cases {
        let report = lint_corpus(file);
        let texts = messages(&report, "QL206");
        assert_eq!(texts.len(), weights.len(), "{file}: {texts:#?}");
        for (text, weight) in texts.iter().zip(&weights) {
            assert!(
                text.contains(&format!(
                    "weight `{weight}` is float but lies on a per-channel int8 grid"
                )),
                "{file}: {text}"
            );
        }
    }
    // Paddle2ONNX 1.3.1 quantizes the activations around a ConvTranspose but not its IOHW
    // weight, whose output channels are axis 1.
    let report = lint_generated("generated/paddle_ptq_trans_y/p2o131.onnx");
    let texts = messages(&report, "QL206");
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        texts[0].starts_with("`ConvTranspose` weight `conv2d_transpose_0.w_0` is float but lies on a per-channel int8 grid (4 channels along axis 1): its activations are quantized"),
        "{}",
        texts[0]
    );
    let report = lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    let found = with_code(&report, "QL206");
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(
        found[0].message.contains("(10 channels along axis 1)"),
        "{}",
        found[0].message
    );
}

#[test]
fn ql206_quiet_on_float_and_quantized_weights() {
    for report in [
        lint_corpus("convnet/pd331-float/p2o131.onnx"),
        lint_corpus("convnet/pd331-float/p2o131.ort_extended.onnx"),
        lint_generated("generated/axes_ok/model.qdq.onnx"),
        lint_generated("generated/float_gemm_head/model.qdq.onnx"),
        lint_generated("generated/big_conv/model.qdq.onnx"),
    ] {
        let texts = messages(&report, "QL206");
        assert!(texts.iter().all(|m| !m.contains("int8 grid")), "{texts:#?}");
    }
}

fn lint_with_provider(provider: &str) -> Report {
    let rules = qlint::rules::RuleSet::builtin().unwrap();
    let options = qlint::lint::LintOptions {
        paths: vec![corpus("convnet/pd262-A_qdq_full/p2o131.onnx")],
        optimized: Vec::new(),
        cpu: qlint::host::CpuTarget::parse("icelake-server").unwrap(),
        provider: provider.into(),
        select: vec!["QL403".into()],
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: Default::default(),
    };
    qlint::lint::lint(&rules, &options)
}

#[test]
fn ql403_names_what_each_provider_does() {
    let cases = [
        ("cuda", "ORT fuses no QDQ Conv or MatMul for CUDA"),
        (
            "CUDAExecutionProvider",
            "ORT fuses no QDQ Conv or MatMul for CUDA",
        ),
        ("tensorrt", "TensorRT builds its own int8 engine"),
        ("dml", "for DirectML too, but not Gemm, Mul or Where"),
        (
            "openvino",
            "`openvino` itself decides which quantized ops run in int8",
        ),
    ];
    for (provider, text) in cases {
        let report = lint_with_provider(provider);
        let found = with_code(&report, "QL403");
        assert_eq!(found.len(), 1, "{provider}");
        assert_eq!(found[0].stage, "host");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0]
                .message
                .starts_with(&format!("provider `{provider}`")),
            "{}",
            found[0].message
        );
        assert!(found[0].message.contains(text), "{}", found[0].message);
    }
}

#[test]
fn ql403_quiet_on_cpu_and_float_models() {
    assert!(with_code(&lint_with_provider("cpu"), "QL403").is_empty());
    assert!(with_code(&lint_with_provider("CPUExecutionProvider"), "QL403").is_empty());
    let rules = qlint::rules::RuleSet::builtin().unwrap();
    let options = qlint::lint::LintOptions {
        paths: vec![corpus("convnet/pd331-float/p2o131.onnx")],
        optimized: Vec::new(),
        cpu: qlint::host::CpuTarget::parse("icelake-server").unwrap(),
        provider: "cuda".into(),
        select: Vec::new(),
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: Default::default(),
    };
    let report = qlint::lint::lint(&rules, &options);
    assert!(with_code(&report, "QL403").is_empty());
}
