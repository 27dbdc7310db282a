//! Predictions on hand-made QDQ graphs, one ORT rule at a time, and checks of the table file.
//! Each rule also has a branch in `testdata/generated/fusion_edge_cases`, which
//! `tests/fusion_*.rs` compare with the graph real ORT writes.

use super::table::parse;
use super::*;
use crate::analysis::FactMap;
use crate::analysis::testutil::{Net, ints};
use crate::graph::{Attr, DataType};

/// Finishes a net as an exported model at opset 13.
fn model(net: Net) -> Model {
    let mut model = net.model(Stage::Onnx);
    model.meta.opsets.insert("ai.onnx".into(), 13);
    model
}

/// Adds the shared constants: scale `s` 0.05 with the uint8 zero point `zu` 128 and the int8
/// zero point `zi` 0, and the int8 8x8x1x1 weight `w` with scale `ws` and zero point `wz`.
fn constants(net: &mut Net) {
    net.floats("s", &[], 0.05)
        .ints("zu", DataType::UInt8, &[], &[128])
        .ints("zi", DataType::Int8, &[], &[0])
        .ints("w", DataType::Int8, &[8, 8, 1, 1], &[1; 64])
        .floats("ws", &[], 0.01)
        .ints("wz", DataType::Int8, &[], &[0]);
}

/// Adds `input` -> QuantizeLinear (zero point `zp`) -> DequantizeLinear, named after `name`.
fn qdq(net: &mut Net, input: &str, name: &str, zp: &str) {
    let q = format!("{name}_q");
    let dq = format!("{name}_dq");
    net.op("QuantizeLinear", &[input, "s", zp], &[&q], &[]).op(
        "DequantizeLinear",
        &[&q, "s", zp],
        &[&dq],
        &[],
    );
}

/// Adds a 1x1 Conv that reads `input` with the int8 weight `w`.
fn conv(net: &mut Net, input: &str, output: &str) {
    let wdq = format!("{output}_w");
    net.op("DequantizeLinear", &["w", "ws", "wz"], &[&wdq], &[])
        .op("Conv", &[input, &wdq], &[output], &[]);
}

fn predicted(model: &Model) -> Predictions {
    predict(model, &OrtVersion::default()).unwrap()
}

/// Returns the prediction for the node that writes `output`.
fn of(model: &Model, predictions: &Predictions, output: &str) -> Prediction {
    let node = model
        .graph
        .node_ids()
        .find(|&n| {
            let node = model.graph.node(n);
            node.output(0)
                .is_some_and(|t| model.graph.tensor(t).name == output)
        })
        .unwrap();
    predictions.get(node).unwrap().clone()
}

#[test]
fn table_lists_measured_releases() {
    let table = table().unwrap();
    assert_eq!(table.version_list(), "1.31, 1.32");
    let (base, same) = (
        table.release("1.31").unwrap(),
        table.release("1.32").unwrap(),
    );
    assert_eq!(base.selectors, same.selectors);
    assert_eq!(same.wheel, "1.32.0");
    assert_eq!(table.since_version("MaxPool", 11), Some(11));
    assert_eq!(table.since_version("MaxPool", 13), Some(12));
    assert_eq!(table.since_version("MaxPool", 25), Some(22));
    assert_eq!(table.since_version("Conv", 13), None);
}

#[test]
fn table_rejects_inconsistent_files() {
    let head = "onnx-since-versions: {MaxPool: [1, 12]}\nlayout-ops: []\nreleases:\n";
    let release = "  - version: \"1.31\"\n    wheel: \"1.31.1\"\n    int8-activations: false\n    \
                   passes: {qdq-propagation: true, weight-bias-quantization: true, \
                   relu-clip-folding: true, s8-to-u8: true}\n    propagation: []\n";
    let selectors = |entry: &str| {
        format!(
            "{head}{release}    selectors:\n      - kind: unary\n        providers: \
             [CPUExecutionProvider]\n        ops:\n          - {entry}\n"
        )
    };

    assert!(parse(&selectors("{op: Sigmoid, kernel: QLinearSigmoid}")).is_ok());
    let no_kernel = parse(&selectors("{op: Sigmoid}")).unwrap_err();
    assert!(no_kernel.contains("`Sigmoid` has no kernel"), "{no_kernel}");
    let no_versions = parse(&selectors("{op: Pad, since: [2], kernel: Pad}")).unwrap_err();
    assert!(
        no_versions.contains("onnx-since-versions lists no versions"),
        "{no_versions}"
    );

    let base = selectors("{op: Sigmoid, kernel: QLinearSigmoid}");
    let twice = format!("{base}  - version: \"1.32\"\n    wheel: \"x\"\n    same-as: \"1.30\"\n");
    let unknown_base = parse(&twice).unwrap_err();
    assert!(
        unknown_base.contains("names no earlier release"),
        "{unknown_base}"
    );
    let both = format!(
        "{base}  - version: \"1.32\"\n    wheel: \"x\"\n    same-as: \"1.31\"\n    \
         int8-activations: true\n"
    );
    assert!(parse(&both).unwrap_err().contains("keep one of them"));
    let patch = base.replace("version: \"1.31\"", "version: \"1.31.1\"");
    assert!(parse(&patch).unwrap_err().contains("expected MAJOR.MINOR"));
    let typo = base.replace("kind: unary", "kind: unry");
    assert!(parse(&typo).is_err());
}

#[test]
fn uint8_conv_fuses() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zu");
    conv(&mut net, "in_dq", "c");
    qdq(&mut net, "c", "out", "zu");
    let model = model(net);
    let predictions = predicted(&model);
    let c = of(&model, &predictions, "c");
    assert!(c.fused);
    assert_eq!(c.kernel.as_deref(), Some("QLinearConv"));
    assert!(predictions.blocks.is_empty());
}

#[test]
fn int8_pair_read_once_converts_and_fuses() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zi");
    conv(&mut net, "in_dq", "c");
    qdq(&mut net, "c", "out", "zi");
    let model = model(net);
    assert!(of(&model, &predicted(&model), "c").fused);
}

#[test]
fn int8_dequantize_read_twice_keeps_conv_float() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zi");
    conv(&mut net, "in_dq", "c");
    qdq(&mut net, "c", "out", "zi");
    net.op("Relu", &["in_dq"], &["side"], &[]);
    let model = model(net);
    let c = of(&model, &predicted(&model), "c");
    assert!(!c.fused);
    let Some(Reason::TypeMismatch {
        input: DataType::Int8,
        output: DataType::UInt8,
        cause: Some(cause),
    }) = &c.reason
    else {
        panic!("{:?}", c.reason);
    };
    assert!(matches!(
        cause.as_ref(),
        Int8Cause::Quantize {
            skip: S8Skip::Consumers(2),
            ..
        }
    ));
}

#[test]
fn float_constant_weight_is_quantized_by_ort() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.floats("wf", &[8, 8, 1, 1], 0.5).floats("b", &[8], 0.0);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zu");
    net.op("Conv", &["in_dq", "wf", "b"], &["c"], &[]);
    qdq(&mut net, "c", "out", "zu");
    let model = model(net);
    let c = of(&model, &predicted(&model), "c");
    assert!(c.fused, "{:?}", c.reason);
}

#[test]
fn relu_folds_only_at_the_lowest_zero_point() {
    for (zero_point, folds) in [(0, true), (128, false)] {
        let mut net = Net::onnx();
        constants(&mut net);
        net.ints("z", DataType::UInt8, &[], &[zero_point]);
        net.input("x", DataType::Float32, &[1, 8, 4, 4]);
        qdq(&mut net, "x", "in", "zu");
        net.op("Relu", &["in_dq"], &["r"], &[]);
        qdq(&mut net, "r", "out", "z");
        let model = model(net);
        let relu = of(&model, &predicted(&model), "r");
        assert_eq!(relu.fused, folds, "zero point {zero_point}");
        if !folds {
            assert!(matches!(relu.reason, Some(Reason::NotFolded { .. })));
        }
    }
}

#[test]
fn clip_folds_when_its_bounds_cover_the_range() {
    for (max, folds) in [(6.0, true), (3.0, false)] {
        let mut net = Net::onnx();
        constants(&mut net);
        net.floats("s6", &[], 6.0 / 255.0)
            .ints("z0", DataType::UInt8, &[], &[0])
            .floats("lo", &[], 0.0)
            .floats("hi", &[], max);
        net.input("x", DataType::Float32, &[1, 8, 4, 4]);
        qdq(&mut net, "x", "in", "zu");
        net.op("Clip", &["in_dq", "lo", "hi"], &["clipped"], &[])
            .op("QuantizeLinear", &["clipped", "s6", "z0"], &["cq"], &[])
            .op("DequantizeLinear", &["cq", "s6", "z0"], &["cdq"], &[]);
        let model = model(net);
        assert_eq!(
            of(&model, &predicted(&model), "clipped").fused,
            folds,
            "max {max}"
        );
    }
}

#[test]
fn maxpool_needs_equal_positive_parameters() {
    for (scale, expected) in [
        (0.05, None),
        (0.07, Some("differ")),
        (-0.05, Some("positive")),
    ] {
        let mut net = Net::onnx();
        constants(&mut net);
        net.floats("s_out", &[], scale);
        net.input("x", DataType::Float32, &[1, 8, 4, 4]);
        qdq(&mut net, "x", "in", "zu");
        let pool_attrs = [("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))];
        net.op("MaxPool", &["in_dq"], &["p"], &pool_attrs)
            .op("QuantizeLinear", &["p", "s_out", "zu"], &["pq"], &[])
            .op("DequantizeLinear", &["pq", "s_out", "zu"], &["pdq"], &[]);
        let model = model(net);
        let predictions = predicted(&model);
        let pool = of(&model, &predictions, "p");
        let reason = pool.reason.as_ref().map(ToString::to_string);
        match expected {
            None => assert!(pool.fused, "{reason:?}"),
            Some(word) => assert!(reason.is_some_and(|r| r.contains(word)), "{scale}"),
        }
    }
}

#[test]
fn propagation_puts_transpose_on_8bit_data() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zu");
    net.op(
        "Transpose",
        &["in_dq"],
        &["t"],
        &[("perm", ints(&[0, 1, 3, 2]))],
    )
    .op("Relu", &["t"], &["y"], &[]);
    let model = model(net);
    let transpose = of(&model, &predicted(&model), "t");
    assert!(transpose.fused, "{:?}", transpose.reason);
    assert_eq!(transpose.kernel.as_deref(), Some("Transpose"));
}

#[test]
fn gemm_bias_needs_beta_one() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.ints("gw", DataType::Int8, &[8, 8], &[1; 64])
        .ints("gb", DataType::Int32, &[8], &[0; 8]);
    net.input("x", DataType::Float32, &[4, 8]);
    qdq(&mut net, "x", "in", "zu");
    net.op("DequantizeLinear", &["gw", "ws", "wz"], &["gw_dq"], &[])
        .op("DequantizeLinear", &["gb", "ws"], &["gb_dq"], &[])
        .op(
            "Gemm",
            &["in_dq", "gw_dq", "gb_dq"],
            &["g"],
            &[("beta", Attr::Float(0.5))],
        );
    qdq(&mut net, "g", "out", "zu");
    let model = model(net);
    let gemm = of(&model, &predicted(&model), "g");
    assert_eq!(gemm.reason, Some(Reason::GemmBeta { beta: 0.5 }));
}

#[test]
fn weight_only_matmul_becomes_matmulnbits() {
    for (axis, fuses) in [(None, true), (Some(0), false)] {
        let mut net = Net::onnx();
        net.ints("mw", DataType::Int8, &[16, 8], &[1; 128]);
        let attrs: Vec<(&str, Attr)> = axis.map(|a| ("axis", Attr::Int(a))).into_iter().collect();
        match axis {
            None => net
                .floats("ms", &[], 0.01)
                .ints("mz", DataType::Int8, &[], &[0]),
            Some(_) => net
                .floats("ms", &[16], 0.01)
                .ints("mz", DataType::Int8, &[16], &[0; 16]),
        };
        net.input("x", DataType::Float32, &[4, 16])
            .op("DequantizeLinear", &["mw", "ms", "mz"], &["mw_dq"], &attrs)
            .op("MatMul", &["x", "mw_dq"], &["m"], &[]);
        let model = model(net);
        let matmul = of(&model, &predicted(&model), "m");
        assert_eq!(matmul.fused, fuses, "axis {axis:?}: {:?}", matmul.reason);
        if fuses {
            assert_eq!(matmul.kernel.as_deref(), Some("com.microsoft::MatMulNBits"));
        } else {
            assert!(matches!(matmul.reason, Some(Reason::NbitsWeight { .. })));
        }
    }
}

#[test]
fn sixteen_bit_activations_stay_float() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.ints("z16", DataType::UInt16, &[], &[32768]);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "z16");
    net.op("Sigmoid", &["in_dq"], &["sg"], &[]);
    qdq(&mut net, "sg", "out", "z16");
    let model = model(net);
    let sigmoid = of(&model, &predicted(&model), "sg");
    assert_eq!(
        sigmoid.reason,
        Some(Reason::UnsupportedType {
            dtype: DataType::UInt16
        })
    );
}

#[test]
fn op_without_selector_is_named() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zu");
    net.op("DequantizeLinear", &["w", "ws", "wz"], &["w_dq"], &[])
        .op("ConvTranspose", &["in_dq", "w_dq"], &["ct"], &[]);
    qdq(&mut net, "ct", "out", "zu");
    let model = model(net);
    let ct = of(&model, &predicted(&model), "ct");
    assert_eq!(ct.kernel, None);
    assert_eq!(
        ct.reason.as_ref().map(ToString::to_string).as_deref(),
        Some("ORT 1.31 has no QDQ fusion for `ConvTranspose` on the CPU execution provider")
    );
}

#[test]
fn facts_only_for_exported_onnx() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 4, 4]);
    qdq(&mut net, "x", "in", "zu");
    conv(&mut net, "in_dq", "c");
    let mut exported = model(net);
    let mut facts = Facts {
        nodes: vec![FactMap::new(); exported.graph.node_count()],
        ..Facts::default()
    };
    add_facts(&exported, &OrtVersion::default(), &mut facts);
    assert_eq!(
        facts.model.get("predicted.ort_version"),
        Some(&Value::Str("1.31".into()))
    );
    let conv_facts = facts
        .nodes
        .iter()
        .find(|f| f.contains_key("predicted.reason"));
    let reason = conv_facts.and_then(|f| f.get("predicted.reason")).unwrap();
    assert!(
        reason
            .to_string()
            .contains("no QuantizeLinear reads its output")
    );

    exported.stage = Stage::Optimized;
    let mut facts = Facts::default();
    add_facts(&exported, &OrtVersion::default(), &mut facts);
    assert!(facts.model.is_empty());
}
