use super::table::parse_version;
use super::*;
use crate::analysis::testutil::Net;
use crate::analysis::{FACTS, FactMap, Scope, compute};
use crate::graph::{Attr, DataType, Model};
use crate::host::CpuTarget;

fn cpu() -> CpuTarget {
    CpuTarget::parse("cascadelake").unwrap_or_else(|e| CpuTarget {
        name: e,
        flags: Default::default(),
    })
}

fn version(text: &str) -> Paddle2OnnxVersion {
    Paddle2OnnxVersion::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn facts_for(model: &Model, release: &str) -> Facts {
    let mut facts = compute(model, &cpu(), "cpu");
    add_facts(model, &version(release), &mut facts);
    facts
}

/// Facts of the first node whose op type is `op`.
fn node_facts(facts: &Facts, model: &Model, op: &str) -> FactMap {
    let id = model
        .graph
        .node_ids()
        .find(|&id| model.graph.node(id).op_type == op);
    let found = id.and_then(|id| facts.nodes.get(id.index())).cloned();
    assert!(found.is_some(), "no {op} node");
    found.unwrap_or_default()
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Builds a PaddleSlim-style INT8 program: feed, quantize_linear, conv2d, an `fc` from Paddle
/// Inference's fuse passes, and Paddle 2.6's identity `scale` written in place.
fn legacy_program() -> Model {
    let mut net = Net::paddle();
    net.floats("w", &[4, 3, 3, 3], 0.1)
        .floats("s", &[1], 0.1)
        .floats("fc_w", &[4, 2], 0.1)
        .paddle_op("feed", &[("X", "feed")], &[("Out", "x")], &[])
        .paddle_op(
            "quantize_linear",
            &[("X", "x"), ("Scale", "s")],
            &[("Y", "xq")],
            &[("bit_length", Attr::Int(8))],
        )
        .paddle_op(
            "conv2d",
            &[("Input", "xq"), ("Filter", "w")],
            &[("Output", "c")],
            &[],
        )
        .paddle_op("fc", &[("Input", "c"), ("W", "fc_w")], &[("Out", "f")], &[])
        .paddle_op("scale", &[("X", "f")], &[("Out", "out")], &[])
        .paddle_op("scale", &[("X", "out")], &[("Out", "out")], &[])
        .paddle_op("fetch", &[("X", "out")], &[("Out", "fetch")], &[]);
    net.model(Stage::Paddle)
}

/// Builds a Paddle 3 PIR program whose quantize op has `qmax` (127 is INT8, as Paddle 3 QAT
/// writes it; 448 is FP8).
fn pir_program(qmax: i64) -> Model {
    let mut net = Net::onnx();
    net.floats("w", &[4, 3, 3, 3], 0.1)
        .op_in("pd_op", "data", &[], &["x"], &[])
        .op_in(
            "pd_op",
            "quantize_linear",
            &["x"],
            &["xq"],
            &[("qmax", Attr::Int(qmax))],
        )
        .op_in("pd_op", "conv2d", &["xq", "w"], &["c"], &[])
        .op_in("pd_op", "add", &["c", "c"], &["a"], &[])
        .op_in("builtin", "combine", &["a"], &["l"], &[])
        .op_in("pd_op", "fetch", &["a"], &["out"], &[]);
    let mut model = net.model(Stage::Paddle);
    model.format = ModelFormat::PaddlePir;
    model
}

#[test]
fn table_lists_releases_in_order() {
    let table = table().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.releases.len(), 15);
    assert_eq!(
        table.releases.first().map(|r| r.version.as_str()),
        Some("1.0.6")
    );
    assert_eq!(
        table.releases.last().map(|r| r.version.as_str()),
        Some("2.1.0")
    );
    let numbers: Vec<_> = table.releases.iter().map(|r| r.number).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let target = table.release("1.3.1").map(|r| r.ops.len());
    assert_eq!(target, Some(191));
    let pir = table.release("2.1.0");
    assert_eq!(pir.map(|r| r.program), Some(ProgramForm::Pir));
    assert_eq!(pir.map(|r| r.pir_renames.len()), Some(32));
}

#[test]
fn version_parse_rejects_unknown() {
    assert_eq!(version(" 2.1.0 ").as_str(), "2.1.0");
    assert_eq!(Paddle2OnnxVersion::default().as_str(), "1.3.1");
    let err = Paddle2OnnxVersion::parse("1.4.0").err().unwrap_or_default();
    assert!(
        err.starts_with("unknown Paddle2ONNX version `1.4.0`: known versions are 1.0.6, 1.2.0, "),
        "{err}"
    );
    assert!(err.ends_with("1.3.1, 2.1.0"), "{err}");
    assert_eq!(parse_version("1.2.10"), Some((1, 2, 10)));
    assert_eq!(parse_version("1.2"), None);
    assert_eq!(parse_version("1.2.3.4"), None);
    assert_eq!(parse_version("v1.2.3"), None);
}

#[test]
fn legacy_program_under_1_3_1() {
    let model = legacy_program();
    let facts = facts_for(&model, "1.3.1");
    assert_eq!(
        facts.model.get("paddle2onnx.version"),
        Some(&Value::Str("1.3.1".into()))
    );
    assert_eq!(
        facts.model.get("paddle2onnx.int8_program"),
        Some(&Value::Bool(true))
    );
    let fc = node_facts(&facts, &model, "fc");
    assert_eq!(fc.get("paddle2onnx.converts"), Some(&Value::Bool(false)));
    assert_eq!(text(fc.get("paddle2onnx.lookup")).as_deref(), Some("fc"));
    assert_eq!(fc.get("paddle2onnx.newest"), None);
    assert_eq!(fc.get("paddle2onnx.newest_int8"), None);
    for op in ["feed", "quantize_linear", "conv2d", "scale", "fetch"] {
        let found = node_facts(&facts, &model, op);
        assert_eq!(
            found.get("paddle2onnx.converts"),
            Some(&Value::Bool(true)),
            "{op}"
        );
    }
}

#[test]
fn legacy_program_under_2_1_0() {
    let model = legacy_program();
    let facts = facts_for(&model, "2.1.0");
    let in_place = model
        .graph
        .node_ids()
        .filter(|&id| model.graph.node(id).op_type == "scale")
        .nth(1)
        .and_then(|id| facts.nodes.get(id.index()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        in_place.get("paddle2onnx.converts"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        text(in_place.get("paddle2onnx.lookup")).as_deref(),
        Some("scale_")
    );
    assert_eq!(
        text(in_place.get("paddle2onnx.newest_int8")).as_deref(),
        Some("1.3.1")
    );

    let out_of_place = node_facts(&facts, &model, "scale");
    assert_eq!(
        out_of_place.get("paddle2onnx.converts"),
        Some(&Value::Bool(true))
    );

    let quantize = node_facts(&facts, &model, "quantize_linear");
    assert_eq!(
        quantize.get("paddle2onnx.converts"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        text(quantize.get("paddle2onnx.newest")).as_deref(),
        Some("1.3.1")
    );

    for op in ["feed", "conv2d", "fetch"] {
        let found = node_facts(&facts, &model, op);
        assert_eq!(
            found.get("paddle2onnx.converts"),
            Some(&Value::Bool(true)),
            "{op}"
        );
    }
}

#[test]
fn pir_program_under_2_1_0() {
    let model = pir_program(127);
    let facts = facts_for(&model, "2.1.0");
    let add = node_facts(&facts, &model, "add");
    assert_eq!(add.get("paddle2onnx.converts"), Some(&Value::Bool(true)));
    assert_eq!(
        text(add.get("paddle2onnx.lookup")).as_deref(),
        Some("elementwise_add")
    );

    let combine = node_facts(&facts, &model, "combine");
    assert_eq!(
        text(combine.get("paddle2onnx.lookup")).as_deref(),
        Some("builtin_combine")
    );
    assert_eq!(
        combine.get("paddle2onnx.converts"),
        Some(&Value::Bool(true))
    );

    let data = node_facts(&facts, &model, "data");
    assert_eq!(
        text(data.get("paddle2onnx.lookup")).as_deref(),
        Some("pd_op.data")
    );

    let quantize = node_facts(&facts, &model, "quantize_linear");
    assert_eq!(
        quantize.get("paddle2onnx.converts"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        text(quantize.get("paddle2onnx.newest_int8")).as_deref(),
        Some("1.3.1")
    );
}

#[test]
fn pir_program_not_judged_by_1_x() {
    let model = pir_program(127);
    let facts = facts_for(&model, "1.3.1");
    assert_eq!(
        facts.model.get("paddle2onnx.int8_program"),
        Some(&Value::Bool(true))
    );
    let judged = facts
        .nodes
        .iter()
        .filter(|n| n.contains_key("paddle2onnx.converts"))
        .count();
    assert_eq!(judged, 0);
    let add = node_facts(&facts, &model, "add");
    assert_eq!(
        text(add.get("paddle2onnx.newest")).as_deref(),
        Some("2.1.0")
    );
}

#[test]
fn fp8_quantize_converts_under_2_1_0() {
    let model = pir_program(448);
    let facts = facts_for(&model, "2.1.0");
    assert_eq!(
        facts.model.get("paddle2onnx.int8_program"),
        Some(&Value::Bool(false))
    );
    let quantize = node_facts(&facts, &model, "quantize_linear");
    assert_eq!(
        quantize.get("paddle2onnx.converts"),
        Some(&Value::Bool(true))
    );
    assert_eq!(quantize.get("paddle2onnx.newest_int8"), None);
}

#[test]
fn every_paddle2onnx_fact_is_filled() {
    let model = legacy_program();
    let facts = facts_for(&model, "2.1.0");
    for doc in FACTS.iter().filter(|d| d.name.starts_with("paddle2onnx.")) {
        let present = match doc.scope {
            Scope::Model => facts.model.contains_key(doc.name),
            Scope::Node => facts.nodes.iter().any(|n| n.contains_key(doc.name)),
            Scope::Island => false,
        };
        assert!(present, "fact {} is missing", doc.name);
    }
}

#[test]
fn onnx_model_gets_no_facts() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 4])
        .op("Relu", &["x"], &["y"], &[]);
    let model = net.model(Stage::Onnx);
    let facts = facts_for(&model, "1.3.1");
    assert!(!facts.model.contains_key("paddle2onnx.version"));
    assert!(
        facts
            .nodes
            .iter()
            .all(|n| !n.contains_key("paddle2onnx.converts"))
    );
}
