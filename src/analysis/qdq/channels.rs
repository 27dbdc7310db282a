//! Output-channel axes of weights: which axis of a weight tensor indexes the output channels of
//! the op that reads it, followed through layout and quantization ops.
//!
//! Per-channel quantization must run along that axis: Conv weights are OIHW (axis 0),
//! ConvTranspose weights IOHW (axis 1), MatMul weights `[..., K, N]` (the last axis), Gemm
//! weights `[K, N]` or `[N, K]` with `transB`. Paddle uses the same layouts: `conv2d` filters
//! OIHW, `conv2d_transpose` filters IOHW, `mul`/`matmul_v2` weights `[K, N]` unless `trans_y`.

use crate::analysis::quant;
use crate::analysis::shapes::Inferred;
use crate::graph::{Attr, Graph, Node, NodeId, TensorId};

/// Maximum number of layout and quantization ops followed between a weight and its reader, so
/// that a crafted cyclic or very deep graph cannot make the walk long.
const MAX_DEPTH: usize = 8;

/// Output-channel axis of a weight, and the op that reads it as its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAxis {
    /// Axis of the weight tensor (in its own layout) that indexes the output channels.
    pub axis: usize,
    /// The compute op that reads the weight.
    pub consumer: NodeId,
}

/// Rank of a tensor from its inferred or constant shape.
pub fn rank(graph: &Graph, inferred: &Inferred, tensor: TensorId) -> Option<usize> {
    inferred
        .shape(tensor)
        .map(<[i64]>::len)
        .or_else(|| graph.constant(tensor).map(|c| c.dims.len()))
}

/// Dims of a tensor from its inferred or constant shape.
pub fn dims(graph: &Graph, inferred: &Inferred, tensor: TensorId) -> Option<Vec<i64>> {
    inferred
        .shape(tensor)
        .map(<[i64]>::to_vec)
        .or_else(|| graph.constant(tensor).map(|c| c.dims.clone()))
}

/// Returns the output-channel axis of ONNX input `index` of `node` for an input of rank `rank`,
/// or `None` when that input is not a weight with output channels.
pub fn onnx_weight_axis(node: &Node, index: usize, rank: usize) -> Option<usize> {
    let default = quant::is_default_domain(&node.domain);
    let ms = node.domain == quant::MS_DOMAIN;
    let flag = |name: &str| node.attr(name).and_then(Attr::as_i64).unwrap_or(0) != 0;
    match (node.op_type.as_str(), index) {
        ("Conv", 1) if default => Some(0),
        ("FusedConv", 1) if ms => Some(0),
        ("ConvTranspose", 1) if default => Some(1),
        ("MatMul", 1) if default && rank >= 2 => Some(rank - 1),
        ("FusedMatMul", 1) if ms && rank >= 2 => {
            Some(if flag("transB") { rank - 2 } else { rank - 1 })
        }
        ("Gemm", 1) if default && rank == 2 => Some(if flag("transB") { 0 } else { 1 }),
        ("FusedGemm", 1) if ms && rank == 2 => Some(if flag("transB") { 0 } else { 1 }),
        _ => None,
    }
}

/// Returns the output-channel axis of the Paddle input slot `slot` of `node` for an input of
/// rank `rank`, or `None` when that slot is not a weight with output channels.
pub fn paddle_weight_axis(node: &Node, slot: &str, rank: usize) -> Option<usize> {
    let flag = |name: &str| node.attr(name).and_then(Attr::as_bool).unwrap_or(false);
    match (quant::paddle_op(&node.op_type), slot) {
        ("conv2d" | "depthwise_conv2d" | "conv3d", "Filter") => Some(0),
        ("conv2d_transpose" | "depthwise_conv2d_transpose" | "conv3d_transpose", "Filter") => {
            Some(1)
        }
        ("mul", "Y") | ("fc", "W") if rank == 2 => Some(1),
        ("matmul_v2", "Y") if rank >= 2 => Some(if flag("trans_y") { rank - 2 } else { rank - 1 }),
        ("matmul", "Y") if rank >= 2 => Some(if flag("transpose_Y") {
            rank - 2
        } else {
            rank - 1
        }),
        _ => None,
    }
}

/// Layout change of a node that passes a weight on to the compute op.
enum Step {
    /// Same layout on the output (quantize, dequantize, identity, cast).
    Same(TensorId),
    /// Transposed: output axis `i` is input axis `perm[i]`.
    Transpose(TensorId, Vec<usize>),
}

/// Output of a Paddle op by slot name (`Y` for the quantize ops, `Out` for the others).
fn paddle_output(node: &Node) -> Option<TensorId> {
    ["Y", "Out"].iter().find_map(|slot| {
        node.outputs
            .iter()
            .find(|p| p.slot == *slot)
            .and_then(|p| p.tensor)
    })
}

fn permutation(node: &Node, name: &str) -> Option<Vec<usize>> {
    node.attr(name)?
        .as_ints()?
        .iter()
        .map(|&p| usize::try_from(p).ok())
        .collect()
}

/// Returns the step a consumer takes when it reads `tensor` as its data input, if it is a
/// layout or quantization op that passes the weight on.
fn pass_through(node: &Node, tensor: TensorId) -> Option<Step> {
    let paddle = node.inputs.iter().any(|p| !p.slot.is_empty());
    if paddle {
        if node.slot_inputs("X").next() != Some(tensor) {
            return None;
        }
        let op = quant::paddle_op(&node.op_type);
        let out = paddle_output(node)?;
        return match op {
            "transpose2" | "transpose" => {
                permutation(node, "axis").map(|p| Step::Transpose(out, p))
            }
            "cast" | "assign" => Some(Step::Same(out)),
            _ if quant::PADDLE_ONNX_FORMAT.contains(&op)
                || quant::is_paddle_legacy_fake_quant(node) =>
            {
                Some(Step::Same(out))
            }
            _ => None,
        };
    }
    if node.input(0) != Some(tensor) {
        return None;
    }
    let out = node.output(0)?;
    if quant::is_onnx_quantize(node) || quant::is_onnx_dequantize(node) {
        return Some(Step::Same(out));
    }
    if !quant::is_default_domain(&node.domain) {
        return None;
    }
    match node.op_type.as_str() {
        "Identity" | "Cast" => Some(Step::Same(out)),
        "Transpose" => permutation(node, "perm").map(|p| Step::Transpose(out, p)),
        _ => None,
    }
}

/// Returns the output-channel axis of `tensor` (of rank `rank`) when `consumer` is a compute op
/// that reads it as its weight.
fn direct_axis(consumer: &Node, tensor: TensorId, rank: usize) -> Option<usize> {
    let mut found = None;
    for (index, port) in consumer.inputs.iter().enumerate() {
        if port.tensor != Some(tensor) {
            continue;
        }
        let axis = if port.slot.is_empty() {
            onnx_weight_axis(consumer, index, rank)
        } else {
            paddle_weight_axis(consumer, &port.slot, rank)
        };
        found = found.or(axis);
    }
    found
}

/// Finds the output-channel axis of `tensor`, following it forward through quantization and
/// layout ops to the compute ops that read it as a weight. Readers that disagree (a weight
/// shared by a Conv and a ConvTranspose) give `None`.
pub fn consumer_axis(graph: &Graph, inferred: &Inferred, tensor: TensorId) -> Option<ChannelAxis> {
    let rank = rank(graph, inferred, tensor)?;
    forward(graph, tensor, rank, 0)
}

fn forward(graph: &Graph, tensor: TensorId, rank: usize, depth: usize) -> Option<ChannelAxis> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut result: Option<ChannelAxis> = None;
    for &id in graph.consumers(tensor) {
        let node = graph.node(id);
        let found = match pass_through(node, tensor) {
            Some(Step::Same(out)) => forward(graph, out, rank, depth + 1),
            Some(Step::Transpose(out, perm)) if perm.len() == rank => {
                forward(graph, out, rank, depth + 1).and_then(|c| {
                    perm.get(c.axis).map(|&axis| ChannelAxis {
                        axis,
                        consumer: c.consumer,
                    })
                })
            }
            Some(Step::Transpose(..)) => None,
            None => direct_axis(node, tensor, rank).map(|axis| ChannelAxis { axis, consumer: id }),
        };
        match (result, found) {
            (_, None) => {}
            (None, Some(f)) => result = Some(f),
            (Some(r), Some(f)) if r.axis == f.axis => {}
            // NOTE: a weight read by two ops with different channel axes has no single right
            // quantization axis; qlint then reports nothing for it.
            (Some(_), Some(_)) => return None,
        }
    }
    result
}

/// A float weight found behind a compute op's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightSource {
    /// The constant tensor (initializer or `Constant` output).
    pub tensor: TensorId,
    /// Output-channel axis in the constant's own layout.
    pub axis: usize,
}

/// Finds the constant behind ONNX input `index` of `node`, walking back through Identity, Cast
/// and Transpose (never through DequantizeLinear, so a quantized weight gives `None`), and the
/// axis of its output channels.
pub fn weight_source(graph: &Graph, node: &Node, index: usize) -> Option<WeightSource> {
    let mut tensor = node.input(index)?;
    let mut perms: Vec<Vec<usize>> = Vec::new();
    for _ in 0..=MAX_DEPTH {
        if graph.constant(tensor).is_some() {
            let rank = graph.constant(tensor)?.dims.len();
            let mut axis = onnx_weight_axis(node, index, rank)?;
            for perm in &perms {
                if perm.len() != rank {
                    return None;
                }
                axis = *perm.get(axis)?;
            }
            return Some(WeightSource { tensor, axis });
        }
        let producer = graph.node(graph.producer(tensor)?);
        if !quant::is_default_domain(&producer.domain) || producer.input(0).is_none() {
            return None;
        }
        match producer.op_type.as_str() {
            "Identity" | "Cast" => {}
            "Transpose" => perms.push(permutation(producer, "perm")?),
            _ => return None,
        }
        tensor = producer.input(0)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::shapes;
    use crate::analysis::testutil::{Net, ints};
    use crate::graph::{DataType, Stage};

    #[test]
    fn conv_weight_through_qdq_is_axis_0() {
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 3, 8, 8])
            .floats("w", &[4, 3, 3, 3], 0.5)
            .floats("s", &[4], 0.1)
            .ints("z", DataType::Int8, &[4], &[0; 4])
            .op("QuantizeLinear", &["w", "s", "z"], &["wq"], &[])
            .op("DequantizeLinear", &["wq", "s", "z"], &["wd"], &[])
            .op("Conv", &["x", "wd"], &["y"], &[]);
        let model = net.model(Stage::Onnx);
        let inferred = shapes::infer(&model);
        let graph = &model.graph;
        let w = graph.tensors.iter().position(|t| t.name == "w");
        let found = w.and_then(|w| consumer_axis(graph, &inferred, TensorId(w as u32)));
        assert_eq!(found.map(|c| c.axis), Some(0));
        let conv = found.map(|c| graph.node(c.consumer).op_type.clone());
        assert_eq!(conv.as_deref(), Some("Conv"));
    }

    #[test]
    fn matmul_weight_behind_transpose_maps_axis() {
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 6])
            .floats("w", &[4, 6], 0.5)
            .op("Transpose", &["w"], &["wt"], &[("perm", ints(&[1, 0]))])
            .op("MatMul", &["x", "wt"], &["y"], &[]);
        let model = net.model(Stage::Onnx);
        let graph = &model.graph;
        let matmul = graph
            .node_ids()
            .find(|&n| graph.node(n).op_type == "MatMul");
        let source = matmul.and_then(|m| weight_source(graph, graph.node(m), 1));
        assert_eq!(
            source.map(|s| s.axis),
            Some(0),
            "columns of [6, 4] are rows of [4, 6]"
        );
    }

    #[test]
    fn gemm_trans_b_and_conv_transpose_axes() {
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 6])
            .floats("g", &[4, 6], 0.5)
            .op("Gemm", &["x", "g"], &["y"], &[("transB", Attr::Int(1))]);
        let model = net.model(Stage::Onnx);
        let graph = &model.graph;
        let gemm = graph.node_ids().next().map(|n| graph.node(n));
        assert_eq!(gemm.and_then(|g| onnx_weight_axis(g, 1, 2)), Some(0));
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 3, 4, 4])
            .floats("w", &[3, 6, 2, 2], 0.5)
            .op("ConvTranspose", &["x", "w"], &["y"], &[]);
        let model = net.model(Stage::Onnx);
        let graph = &model.graph;
        let conv = graph.node_ids().next().map(|n| graph.node(n));
        assert_eq!(conv.and_then(|c| onnx_weight_axis(c, 1, 4)), Some(1));
        assert_eq!(conv.and_then(|c| onnx_weight_axis(c, 0, 4)), None);
    }

    #[test]
    fn paddle_matmul_trans_y_is_axis_0() {
        let mut net = Net::paddle();
        net.var("x", DataType::Float32, &[1, 6])
            .var("w", DataType::Float32, &[4, 6])
            .var("y", DataType::Float32, &[1, 4])
            .paddle_op(
                "matmul_v2",
                &[("X", "x"), ("Y", "w")],
                &[("Out", "y")],
                &[("trans_y", Attr::Bool(true))],
            );
        let model = net.model(Stage::Paddle);
        let graph = &model.graph;
        let matmul = graph.node_ids().next().map(|n| graph.node(n));
        assert_eq!(matmul.and_then(|m| paddle_weight_axis(m, "Y", 2)), Some(0));
        assert_eq!(matmul.and_then(|m| paddle_weight_axis(m, "X", 2)), None);
    }
}
