//! A hand-built report that the renderer tests share.
//!
//! Paths and figures follow models in `testdata/corpus` (node counts, the four one-node chains of
//! `p2o131.ort_extended.onnx`), but the findings are written by hand because the renderers must
//! be tested apart from loaders and rules. The report mixes severities, a model-level finding, an
//! island with 12 nodes, an unreadable input, a run error, characters that each format must
//! escape, and paths with spaces, commas and colons.

use std::path::PathBuf;

use super::{Finding, InputReport, ModelSummary, Report, Severity};
use crate::graph::Stage;

const PADDLE: &str = "testdata/corpus/convnet/pd262-B_fake_full/model.pdmodel";
const EXPORT: &str = "testdata/corpus/tiny/pd262-A_qdq_full/p2o131.onnx";
const OPTIMIZED: &str = "testdata/corpus/convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx";
const ODD: &str = "exports/run 2, final: v1/model.onnx";
const BROKEN: &str = "broken models/cut,short:1.onnx";

/// Builds the shared report, deliberately out of order so that renderers must sort it.
pub(crate) fn sample_report() -> Report {
    Report {
        inputs: vec![
            input(
                OPTIMIZED,
                "onnx",
                Stage::Optimized,
                Some(optimized_summary()),
            ),
            input(
                PADDLE,
                "paddle-program",
                Stage::Paddle,
                Some(paddle_summary()),
            ),
            input(ODD, "onnx", Stage::Onnx, Some(odd_summary())),
            input(EXPORT, "onnx", Stage::Onnx, Some(export_summary())),
            InputReport {
                path: PathBuf::from(BROKEN),
                kind: Some("onnx".to_string()),
                stage: None,
                error: Some("invalid protobuf: field 7 declares 4096 bytes but 12 remain".into()),
                summary: None,
            },
        ],
        findings: vec![
            island_finding(),
            finding(OPTIMIZED, "optimized", Severity::Warning, "QL303")
                .with_name("float-activation-between-quantized-ops")
                .at_node("Relu.0", "Relu")
                .with_text(
                    "float `Relu` between `QLinearConv` outputs splits the int8 chain",
                    "Fold the activation into the quantized op or quantize its output",
                ),
            finding(PADDLE, "paddle", Severity::Error, "QL101")
                .with_name("legacy-fake-quant-op")
                .with_text(
                    "12 `fake_quantize_dequantize_moving_average_abs_max` ops cannot be \
                     exported to ONNX",
                    "Quantize again with onnx_format=True",
                ),
            finding(ODD, "onnx", Severity::Error, "QL202")
                .with_name("invalid-quant-params")
                .at_node("conv 3,a:b", "QuantizeLinear")
                .with_text(
                    "zero point 300 is out of range for `uint8` in 25% of channels (300 > 255)",
                    "Recalibrate & export again; scales must be > 0 and zero points <= 255",
                ),
            finding(ODD, "onnx", Severity::Info, "QL404")
                .with_name("too-little-compute")
                .with_text(
                    "the model has 1.2 million quantizable MACs (1.2e6 < 1e7)",
                    "Keep the float model; int8 is unlikely to be faster at this size",
                ),
        ],
        errors: vec!["invalid --target-cpu `zen9`: expected host, a CPU name or flags".into()],
        runtime: None,
        rule_summaries: Default::default(),
    }
}

fn island_finding() -> Finding {
    let mut finding = finding(OPTIMIZED, "optimized", Severity::Warning, "QL302")
        .with_name("fragmented-int8-chain")
        .at_node("QLinearConv.1", "QLinearConv")
        .with_text(
            "int8 island of 12 nodes starts and ends in `DequantizeLinear`/`QuantizeLinear`",
            "Remove the float ops between quantized ops so ORT can fuse one chain",
        );
    finding.nodes = (0..12).map(|index| format!("island_{index:02}")).collect();
    finding
}

fn input(path: &str, kind: &str, stage: Stage, summary: Option<ModelSummary>) -> InputReport {
    InputReport {
        path: PathBuf::from(path),
        kind: Some(kind.to_string()),
        stage: Some(stage),
        error: None,
        summary,
    }
}

fn paddle_summary() -> ModelSummary {
    ModelSummary {
        nodes: 43,
        quant_ops: 22,
        ..ModelSummary::default()
    }
}

fn export_summary() -> ModelSummary {
    ModelSummary {
        nodes: 3,
        quant_ops: 0,
        macs_quantizable: 6912,
        macs_exact: true,
        ..ModelSummary::default()
    }
}

fn optimized_summary() -> ModelSummary {
    ModelSummary {
        nodes: 24,
        quant_ops: 16,
        chains: vec![1, 1, 1, 1],
        islands: 5,
        macs_quantizable: 2_359_296,
        macs_exact: true,
        int8_share: Some(0.8125),
    }
}

fn odd_summary() -> ModelSummary {
    ModelSummary {
        nodes: 98,
        quant_ops: 32,
        macs_quantizable: 1_200_000,
        macs_exact: false,
        ..ModelSummary::default()
    }
}

fn finding(path: &str, stage: &str, severity: Severity, code: &str) -> Finding {
    Finding {
        code: code.to_string(),
        name: String::new(),
        severity,
        stage: stage.to_string(),
        path: PathBuf::from(path),
        node: None,
        op_type: None,
        message: String::new(),
        help: String::new(),
        nodes: Vec::new(),
    }
}

/// Short builders that keep the fixture readable.
trait FindingExt {
    fn with_name(self, name: &str) -> Self;
    fn at_node(self, node: &str, op_type: &str) -> Self;
    fn with_text(self, message: &str, help: &str) -> Self;
}

impl FindingExt for Finding {
    fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    fn at_node(mut self, node: &str, op_type: &str) -> Self {
        self.node = Some(node.to_string());
        self.op_type = Some(op_type.to_string());
        self
    }

    fn with_text(mut self, message: &str, help: &str) -> Self {
        self.message = message.to_string();
        self.help = help.to_string();
        self
    }
}
