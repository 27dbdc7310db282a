use super::*;
use crate::analysis::shapes::infer;
use crate::analysis::testutil::{Net, ints};
use crate::graph::{Attr, DataType, Stage};

/// Adds the scale, zero point and weight constants every test graph uses.
fn constants(net: &mut Net) {
    net.floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("w", DataType::Int8, &[8, 8, 1, 1], &[1; 64])
        .ints("wzp", DataType::Int8, &[], &[0]);
}

fn qconv(net: &mut Net, input: &str, output: &str) {
    net.op(
        "QLinearConv",
        &[input, "s", "zp", "w", "s", "wzp", "s", "zp"],
        &[output],
        &[],
    );
}

fn ids(model: &Model, nodes: &[NodeId]) -> Vec<String> {
    nodes
        .iter()
        .map(|&n| model.graph.node(n).id.clone())
        .collect()
}

#[test]
fn leaky_style_graph_is_one_chain() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 8, 8]).op(
        "QuantizeLinear",
        &["x", "s", "zp"],
        &["q"],
        &[],
    );
    qconv(&mut net, "q", "c0");
    net.op_in(
        "com.microsoft",
        "QLinearLeakyRelu",
        &["c0", "s", "zp", "s", "zp"],
        &["l0"],
        &[],
    )
    .op(
        "MaxPool",
        &["l0"],
        &["p"],
        &[("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))],
    );
    qconv(&mut net, "p", "c1");
    net.op("DequantizeLinear", &["c1", "s", "zp"], &["d"], &[])
        .op("GlobalAveragePool", &["d"], &["out"], &[]);
    let model = net.model(Stage::Optimized);
    let analysis = analyze(&model, &infer(&model));

    assert_eq!(analysis.chains.len(), 1);
    assert_eq!(analysis.chains[0].size, 3);
    assert_eq!(
        ids(&model, &analysis.chains[0].nodes),
        vec![
            "QLinearConv(c0)",
            "QLinearLeakyRelu(l0)",
            "MaxPool(p)",
            "QLinearConv(c1)"
        ]
    );
    assert!(
        analysis.islands.is_empty(),
        "the float tail has no QuantizeLinear exit"
    );
}

#[test]
fn relu_between_chains_is_an_island() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.input("x", DataType::Float32, &[1, 8, 8, 8]).op(
        "QuantizeLinear",
        &["x", "s", "zp"],
        &["q"],
        &[],
    );
    qconv(&mut net, "q", "c0");
    net.op("DequantizeLinear", &["c0", "s", "zp"], &["d0"], &[])
        .op("Relu", &["d0"], &["r"], &[])
        .op("QuantizeLinear", &["r", "s", "zp"], &["q1"], &[])
        .op(
            "Transpose",
            &["q1"],
            &["t"],
            &[("perm", ints(&[0, 1, 2, 3]))],
        );
    qconv(&mut net, "t", "c1");
    let model = net.model(Stage::Optimized);
    let analysis = analyze(&model, &infer(&model));

    let sizes: Vec<usize> = analysis.chains.iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![1, 1]);
    assert_eq!(
        ids(&model, &analysis.chains[1].nodes),
        vec!["Transpose(t)", "QLinearConv(c1)"]
    );

    assert_eq!(analysis.islands.len(), 1);
    let island = &analysis.islands[0];
    assert_eq!(ids(&model, &island.nodes), vec!["Relu(r)"]);
    assert_eq!(ids(&model, &island.entries), vec!["DequantizeLinear(d0)"]);
    assert_eq!(ids(&model, &island.exits), vec!["QuantizeLinear(q1)"]);
    assert_eq!(island.chains, vec![0, 1]);
}

#[test]
fn weight_dequantize_does_not_enter_an_island() {
    let mut net = Net::onnx();
    constants(&mut net);
    net.floats("fw", &[8, 8, 1, 1], 0.5)
        .input("x", DataType::UInt8, &[1, 8, 4, 4])
        .op("QuantizeLinear", &["fw", "s", "wzp"], &["qw"], &[])
        .op("DequantizeLinear", &["qw", "s", "wzp"], &["dw"], &[])
        .op("DequantizeLinear", &["x", "s", "zp"], &["dx"], &[])
        .op("Conv", &["dx", "dw"], &["c"], &[])
        .op("QuantizeLinear", &["c", "s", "zp"], &["y"], &[]);
    let model = net.model(Stage::Onnx);
    let analysis = analyze(&model, &infer(&model));
    assert_eq!(analysis.islands.len(), 1);
    let island = &analysis.islands[0];
    assert_eq!(ids(&model, &island.nodes), vec!["Conv(c)"]);
    assert_eq!(ids(&model, &island.entries), vec!["DequantizeLinear(dx)"]);
    assert!(island.chains.is_empty());
    let constant = constant_tensors(&model.graph);
    let dw = model.graph.tensors.iter().position(|t| t.name == "dw");
    assert_eq!(dw.and_then(|i| constant.get(i).copied()), Some(true));
}

#[test]
fn float_pass_through_is_not_integer() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 8, 8, 8])
        .op(
            "MaxPool",
            &["x"],
            &["p"],
            &[("kernel_shape", ints(&[2, 2]))],
        )
        .op(
            "Reshape",
            &["p", "p"],
            &["r"],
            &[("allowzero", Attr::Int(0))],
        );
    let model = net.model(Stage::Optimized);
    let inferred = infer(&model);
    assert!(!is_integer_node(&model.graph, &inferred, NodeId::new(0)));
    assert!(analyze(&model, &inferred).chains.is_empty());
}

#[test]
fn disjoint_sets_group_in_file_order() {
    let mut sets = DisjointSets::new(6);
    sets.union(4, 1);
    sets.union(5, 3);
    sets.union(3, 4);
    assert_eq!(sets.groups(|i| i != 2), vec![vec![0], vec![1, 3, 4, 5]]);
}
