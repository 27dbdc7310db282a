//! Analyses on the real models in `testdata/corpus`: a Paddle 2.6.2 PTQ program, its Paddle2ONNX
//! 1.3.1 export, and the graphs ONNX Runtime 1.32.0 saved at ORT_ENABLE_EXTENDED and
//! ORT_ENABLE_ALL. Expected chains and islands follow the design's definition (pass-through ops
//! join a chain but do not count), so chain sizes differ from the corpus manifest, which counted
//! every integer node.

use std::path::Path;

use qlint::analysis::chains::{ChainAnalysis, analyze};
use qlint::analysis::macs::{MacCount, NodeMacs, count};
use qlint::analysis::{Facts, Value, compute, quant, shapes};
use qlint::graph::{Model, Stage};
use qlint::host::CpuTarget;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CORPUS: &str = "testdata/corpus";

/// Loads a corpus file by extension; ONNX files with ORT's fingerprint get stage `optimized`, as
/// the command line does.
fn load(relative: &str) -> Result<Model, Box<dyn std::error::Error>> {
    let path = Path::new(CORPUS).join(relative);
    let mut model = match path.extension().and_then(|e| e.to_str()) {
        Some("onnx") => qlint::load::onnx::load(&path)?,
        Some("json") => qlint::load::paddle::load_pir(&path)?,
        _ => qlint::load::paddle::load_program(&path)?,
    };
    if quant::has_ort_fingerprint(&model.meta) {
        model.stage = Stage::Optimized;
    }
    Ok(model)
}

fn macs_of(relative: &str) -> Result<MacCount, Box<dyn std::error::Error>> {
    let model = load(relative)?;
    Ok(count(&model, &shapes::infer(&model)))
}

fn chains_of(relative: &str) -> Result<(Model, ChainAnalysis), Box<dyn std::error::Error>> {
    let model = load(relative)?;
    let analysis = analyze(&model, &shapes::infer(&model));
    Ok((model, analysis))
}

fn facts_of(relative: &str) -> Result<(Model, Facts), Box<dyn std::error::Error>> {
    let model = load(relative)?;
    let cpu = CpuTarget::parse("haswell")?;
    let facts = compute(&model, &cpu, "cpu");
    Ok((model, facts))
}

fn island_ops(model: &Model, analysis: &ChainAnalysis) -> Vec<Vec<String>> {
    analysis
        .islands
        .iter()
        .map(|i| {
            i.nodes
                .iter()
                .map(|&n| model.graph.node(n).qualified_op())
                .collect()
        })
        .collect()
}

fn chain_sizes(analysis: &ChainAnalysis) -> Vec<usize> {
    analysis.chains.iter().map(|c| c.size).collect()
}

/// convnet: conv 3->16 (32x32), 16->32 (32x32), max pool, 32->64 stride 2 (8x8), 64->64 (8x8),
/// all 3x3, then a 64->10 fully connected layer.
const CONVNET_MACS: u64 = 32 * 32 * 16 * 3 * 9
    + 32 * 32 * 32 * 16 * 9
    + 8 * 8 * 64 * 32 * 9
    + 8 * 8 * 64 * 64 * 9
    + 64 * 10;

/// mbv3ish layers as `(C_out, H_out·W_out, C_in/group·k_h·k_w)`: 17 convolutions (three of them
/// depthwise, four in squeeze-excitation blocks at 1x1) and two fully connected layers.
const MBV3ISH_LAYERS: &[(u64, u64, u64)] = &[
    (16, 256, 27),
    (32, 256, 16),
    (32, 256, 9),
    (8, 1, 32),
    (32, 1, 8),
    (16, 256, 32),
    (48, 256, 16),
    (48, 64, 9),
    (12, 1, 48),
    (48, 1, 12),
    (24, 64, 48),
    (72, 64, 24),
    (72, 64, 9),
    (18, 1, 72),
    (72, 1, 18),
    (24, 64, 72),
    (96, 64, 24),
    (128, 1, 96),
    (10, 1, 128),
];

#[test]
fn tiny_has_6912_macs_at_every_stage() -> TestResult {
    for file in [
        "tiny/pd262-A_qdq_full/p2o131.onnx",
        "tiny/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "tiny/pd262-A_qdq_full/p2o131.ort_all.onnx",
        "tiny/pd262-A_qdq_full/model.pdmodel",
    ] {
        let macs = macs_of(file)?;
        assert_eq!(macs.total, 6912, "{file}");
        assert_eq!(macs.quantizable, 6912, "{file}");
        assert!(macs.exact, "{file}");
    }
    Ok(())
}

#[test]
fn tiny_nchwc_conv_counts_real_channels() -> TestResult {
    // ORT pads the 4 output channels of the NCHWc Conv to 16 (the weight is [16, 3, 3, 3]).
    let model = load("tiny/pd262-A_qdq_full/p2o131.ort_all.onnx")?;
    let inferred = shapes::infer(&model);
    let conv = model.graph.node_ids().find(|&n| {
        model.graph.node(n).domain == quant::NCHWC_DOMAIN && model.graph.node(n).op_type == "Conv"
    });
    let conv = conv.ok_or("no NCHWc Conv")?;
    let blocked = model
        .graph
        .node(conv)
        .output(0)
        .and_then(|t| inferred.shape(t));
    assert_eq!(blocked, Some(&[1i64, 16, 8, 8][..]));
    assert_eq!(
        qlint::analysis::macs::node_macs(&model.graph, &inferred, conv),
        NodeMacs::Known(6912)
    );
    Ok(())
}

#[test]
fn convnet_macs_agree_across_stages() -> TestResult {
    for file in [
        "convnet/pd262-A_qdq_full/model.pdmodel",
        "convnet/pd262-A_qdq_full/p2o131.onnx",
        "convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "convnet/pd262-A_qdq_full/p2o131.ort_all.onnx",
        "convnet/pd262-A_qdq_full/p2o131_trt.onnx",
        "convnet/pd331-float/model.pdmodel",
        "convnet/pd331-float/p2o131.ort_extended.onnx",
        "convnet/pd331-float_pir/model.json",
        "convnet/pd331-QAT2_qdq_pir_zpfix/model.json",
    ] {
        let macs = macs_of(file)?;
        assert_eq!(macs.total, CONVNET_MACS, "{file}");
        assert!(macs.exact, "{file}");
    }
    Ok(())
}

#[test]
fn convnet_int8_macs_are_the_convolutions() -> TestResult {
    // The four convolutions run as QLinearConv; the fully connected layer stays a float Gemm.
    for file in [
        "convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "convnet/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let macs = macs_of(file)?;
        assert_eq!(macs.int8, CONVNET_MACS - 64 * 10, "{file}");
    }
    assert_eq!(macs_of("convnet/pd262-A_qdq_full/p2o131.onnx")?.int8, 0);
    Ok(())
}

#[test]
fn mbv3ish_macs_agree_across_stages() -> TestResult {
    let expected: u64 = MBV3ISH_LAYERS.iter().map(|(c, hw, k)| c * hw * k).sum();
    for file in [
        "mbv3ish/pd262-A_qdq_full/model.pdmodel",
        "mbv3ish/pd262-A_qdq_full/p2o131.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_all.onnx",
        "mbv3ish/pd331-float_pir/model.json",
    ] {
        let macs = macs_of(file)?;
        assert_eq!(macs.total, expected, "{file}");
        assert!(macs.exact, "{file}");
    }
    Ok(())
}

#[test]
fn every_export_tensor_gets_a_shape_and_type() -> TestResult {
    for file in [
        "convnet/pd262-A_qdq_full/p2o131.onnx",
        "convnet/pd262-A_qdq_full/p2o131.ort_all.onnx",
        "leaky/pd262-A_qdq_full/p2o131.ort_all.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let model = load(file)?;
        let inferred = shapes::infer(&model);
        for id in model.graph.node_ids() {
            let node = model.graph.node(id);
            for tensor in node.outputs.iter().filter_map(|p| p.tensor) {
                let name = &model.graph.tensor(tensor).name;
                assert!(
                    inferred.shape(tensor).is_some(),
                    "{file}: no shape for {name}"
                );
                assert!(
                    inferred.dtype(tensor).is_some(),
                    "{file}: no type for {name}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn convnet_extended_has_four_chains_and_five_islands() -> TestResult {
    let (model, analysis) = chains_of("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx")?;
    assert_eq!(chain_sizes(&analysis), vec![1, 1, 1, 1]);
    let ops = island_ops(&model, &analysis);
    assert_eq!(
        ops,
        vec![
            vec!["Relu"],
            vec!["Relu"],
            vec!["MaxPool"],
            vec!["Relu"],
            vec!["Relu"]
        ]
    );
    Ok(())
}

#[test]
fn convnet_all_islands_include_nchwc_max_pool() -> TestResult {
    let (model, analysis) = chains_of("convnet/pd262-A_qdq_full/p2o131.ort_all.onnx")?;
    // Each chain is a com.microsoft::QLinearConv plus the uint8 Transpose before or after it.
    assert_eq!(chain_sizes(&analysis), vec![1, 1, 1, 1]);
    assert!(analysis.chains.iter().all(|c| c.nodes.len() == 2));
    let ops = island_ops(&model, &analysis);
    assert_eq!(ops.len(), 5);
    assert_eq!(
        ops.iter()
            .filter(|i| *i == &vec!["Relu".to_string()])
            .count(),
        4
    );
    let pool = [
        "com.microsoft.nchwc::ReorderInput",
        "com.microsoft.nchwc::MaxPool",
        "com.microsoft.nchwc::ReorderOutput",
    ];
    assert!(ops.contains(&pool.map(String::from).to_vec()), "{ops:?}");
    Ok(())
}

#[test]
fn leaky_is_one_chain_without_islands() -> TestResult {
    let (model, analysis) = chains_of("leaky/pd262-A_qdq_full/p2o131.ort_extended.onnx")?;
    assert_eq!(
        chain_sizes(&analysis),
        vec![7],
        "QLinearConv×4 + QLinearLeakyRelu×3"
    );
    let members: Vec<String> = analysis.chains[0]
        .nodes
        .iter()
        .map(|&n| model.graph.node(n).op_type.clone())
        .collect();
    assert!(members.contains(&"MaxPool".to_string()), "{members:?}");
    assert_eq!(members.len(), 8);
    assert!(analysis.islands.is_empty());
    let (_, all) = chains_of("leaky/pd262-A_qdq_full/p2o131.ort_all.onnx")?;
    assert_eq!(chain_sizes(&all), vec![7]);
    assert_eq!(
        all.chains[0].nodes.len(),
        10,
        "NhwcMaxPool and two Transposes join"
    );
    assert!(all.islands.is_empty());
    Ok(())
}

#[test]
fn mbv3ish_islands_keep_hardswish_pool_add_and_convs() -> TestResult {
    let (model, facts) = facts_of("mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx")?;
    let ops: Vec<String> = facts
        .islands
        .iter()
        .filter_map(|i| match i.facts.get("island.ops") {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(ops.contains(&"HardSigmoid, Mul".to_string()), "{ops:?}");
    assert!(
        ops.contains(&"HardSigmoid, Mul, GlobalAveragePool".to_string()),
        "{ops:?}"
    );
    assert!(ops.contains(&"Add".to_string()), "{ops:?}");
    assert_eq!(ops.iter().filter(|o| *o == "Conv").count(), 4, "{ops:?}");

    let compute: f64 = facts
        .islands
        .iter()
        .filter_map(|i| i.facts.get("island.compute_ops").and_then(Value::as_f64))
        .sum();
    assert_eq!(compute, 4.0);

    // Each float Conv sits between a DequantizeLinear and a QuantizeLinear.
    for island in &facts.islands {
        for &n in island
            .nodes
            .iter()
            .filter(|&&n| model.graph.node(n).op_type == "Conv")
        {
            let preds = model.graph.predecessors(n);
            assert!(
                preds
                    .iter()
                    .all(|&p| model.graph.node(p).op_type == "DequantizeLinear")
            );
            let succs = model.graph.successors(n);
            assert!(
                succs
                    .iter()
                    .all(|&s| model.graph.node(s).op_type == "QuantizeLinear")
            );
        }
    }

    assert_eq!(facts.model.get("chains.count"), Some(&Value::Num(13.0)));
    assert_eq!(facts.model.get("chains.max"), Some(&Value::Num(3.0)));
    Ok(())
}

#[test]
fn relu_zero_point_is_not_at_the_bottom() -> TestResult {
    // After ORT's S8->U8 rewrite the Relu outputs feed uint8 QuantizeLinear with zero point 128,
    // which is why ORT cannot fold them.
    let (model, facts) = facts_of("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx")?;
    let relus: Vec<_> = model
        .graph
        .node_ids()
        .filter(|&n| model.graph.node(n).op_type == "Relu")
        .collect();
    assert_eq!(relus.len(), 4);
    for relu in relus {
        let node = &facts.nodes[relu.index()];
        assert_eq!(node.get("output_qtype"), Some(&Value::Str("uint8".into())));
        assert_eq!(node.get("output_zero_point"), Some(&Value::Num(128.0)));
        assert_eq!(
            node.get("output_zero_point_at_min"),
            Some(&Value::Bool(false))
        );
        assert_eq!(node.get("in_island"), Some(&Value::Bool(true)));
    }
    Ok(())
}

#[test]
fn model_facts_on_each_stage() -> TestResult {
    let (_, export) = facts_of("convnet/pd262-A_qdq_full/p2o131.onnx")?;
    assert_eq!(export.model.get("stage"), Some(&Value::Str("onnx".into())));
    assert_eq!(
        export.model.get("ort_fingerprint"),
        Some(&Value::Bool(false))
    );
    assert_eq!(export.model.get("opset"), Some(&Value::Num(13.0)));
    assert_eq!(
        export.model.get("qdq.count"),
        Some(&Value::Num(32.0)),
        "14 Q + 18 DQ"
    );
    assert_eq!(
        export.model.get("qlinear_ops.count"),
        Some(&Value::Num(0.0))
    );

    let (_, all) = facts_of("convnet/pd262-A_qdq_full/p2o131.ort_all.onnx")?;
    assert_eq!(
        all.model.get("stage"),
        Some(&Value::Str("optimized".into()))
    );
    assert_eq!(all.model.get("ort_fingerprint"), Some(&Value::Bool(true)));
    assert_eq!(all.model.get("layout_ops.count"), Some(&Value::Num(7.0)));
    let list = "com.microsoft::QLinearConv×4, com.microsoft.nchwc::ReorderInput, \
                com.microsoft.nchwc::MaxPool, com.microsoft.nchwc::ReorderOutput";
    assert_eq!(
        all.model.get("layout_ops.list"),
        Some(&Value::Str(list.into()))
    );
    let share = all
        .model
        .get("macs.int8_share")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    assert!((share - (CONVNET_MACS - 640) as f64 / CONVNET_MACS as f64).abs() < 1e-12);
    assert_eq!(all.model.get("cpu.vnni"), Some(&Value::Bool(false)));
    Ok(())
}

#[test]
fn paddle_facts_tell_quant_formats_apart() -> TestResult {
    let (model, qdq) = facts_of("convnet/pd262-A_qdq_full/model.pdmodel")?;
    assert_eq!(
        qdq.model.get("qdq.count"),
        Some(&Value::Num(41.0)),
        "23 dequantize + 18 quantize"
    );
    assert_eq!(
        qdq.model.get("legacy_fake_quant.count"),
        Some(&Value::Num(0.0))
    );
    for id in model
        .graph
        .node_ids()
        .filter(|&n| model.graph.node(n).op_type == "conv2d")
    {
        let node = &qdq.facts_node(id);
        assert_eq!(node.get("quantized_input"), Some(&Value::Bool(true)));
        assert_eq!(node.get("param_input"), Some(&Value::Bool(true)));
        assert_eq!(node.get("output_qtype"), Some(&Value::Str("int8".into())));
        assert_eq!(node.get("output_zero_point"), Some(&Value::Num(0.0)));
    }

    let (_, fake) = facts_of("convnet/pd262-B_fake_full/model.pdmodel")?;
    assert_eq!(
        fake.model.get("legacy_fake_quant.count"),
        Some(&Value::Num(22.0))
    );
    assert_eq!(fake.model.get("qdq.count"), Some(&Value::Num(0.0)));

    let (float_model, float) = facts_of("convnet/pd331-float/model.pdmodel")?;
    assert_eq!(float.model.get("quant_ops.count"), Some(&Value::Num(0.0)));
    for id in float_model.graph.node_ids() {
        assert_eq!(
            float.facts_node(id).get("quantized_input"),
            Some(&Value::Bool(false))
        );
    }
    Ok(())
}

/// Node facts by id, for readable test lines.
trait NodeFacts {
    fn facts_node(&self, id: qlint::graph::NodeId) -> qlint::analysis::FactMap;
}

impl NodeFacts for Facts {
    fn facts_node(&self, id: qlint::graph::NodeId) -> qlint::analysis::FactMap {
        self.nodes.get(id.index()).cloned().unwrap_or_default()
    }
}
