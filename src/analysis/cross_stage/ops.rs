//! The compute ops of one model, with the names that identify them across stages and whether
//! each runs quantized.
//!
//! An op is identified by the tensor names on the paths from its constant inputs back to the
//! stored weights, through quantization and layout ops. Paddle `conv2d` reads
//! `conv2d_0.w_0.quantized.dequantized` from `dequantize_linear` of `conv2d_0.w_0`.
//! Paddle2ONNX 1.3.1 keeps `conv2d_0.w_0` as the name of the `Constant` behind the ONNX Conv's
//! QuantizeLinear/DequantizeLinear. ORT names the folded int8 weight of QLinearConv after that
//! QuantizeLinear's output (`QuantizeLinear.31`), which is on the ONNX path too.

use std::collections::BTreeSet;

use crate::analysis::{chains, quant};
use crate::graph::{Graph, Model, ModelFormat, Node, NodeId, Stage, TensorId};

/// Maximum number of quantization and layout ops followed back from a compute op's input.
const MAX_DEPTH: usize = 8;

/// One compute op and how it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputeOp {
    pub node: NodeId,
    /// Stable node id (`Node::id`).
    pub id: String,
    /// Qualified op type.
    pub op: String,
    /// True when the op runs on quantized data in its stage (see [`summarize`]).
    pub quantized: bool,
    /// Tensor names on the paths from the op's constant inputs back to stored weights.
    pub keys: BTreeSet<String>,
    /// Those paths in input order (weight before bias), each ending at the stored weight.
    pub paths: Vec<Vec<String>>,
}

/// The compute ops of one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub ops: Vec<ComputeOp>,
}

/// Positions of the weight and bias inputs of ONNX quantized compute ops. Other inputs are
/// scales and zero points, whose names are shared by unrelated ops.
fn quantized_weight_inputs(node: &Node) -> Option<&'static [usize]> {
    Some(match node.op_type.as_str() {
        "QLinearConv" => &[3, 8],
        "QLinearMatMul" => &[0, 3],
        "QGemm" => &[0, 3, 6],
        "MatMulIntegerToFloat" | "MatMulInteger" => &[0, 1],
        "ConvInteger" | "DynamicQuantizeMatMul" | "MatMulNBits" => &[1],
        _ => return None,
    })
}

/// True for an op that a weight passes through unchanged in meaning, and the input it reads
/// the weight from.
fn walk_input(format: ModelFormat, node: &Node) -> Option<TensorId> {
    match format {
        ModelFormat::Onnx => {
            let layout = quant::is_default_domain(&node.domain)
                && matches!(
                    node.op_type.as_str(),
                    "Identity"
                        | "Cast"
                        | "Transpose"
                        | "Reshape"
                        | "Squeeze"
                        | "Unsqueeze"
                        | "Flatten"
                );
            (layout || quant::is_onnx_quantize(node) || quant::is_onnx_dequantize(node))
                .then(|| node.input(0))
                .flatten()
        }
        // PIR ops have positional inputs without slot names, so walks stop at their first quant
        // op; Paddle2ONNX 1.3.1, the exporter whose names this matching relies on, reads no PIR.
        ModelFormat::PaddleProgram | ModelFormat::PaddlePir => {
            let op = quant::paddle_op(&node.op_type);
            let passes = quant::PADDLE_ONNX_FORMAT.contains(&op)
                || quant::is_paddle_legacy_fake_quant(node)
                || matches!(
                    op,
                    "transpose2" | "transpose" | "reshape2" | "reshape" | "cast" | "assign"
                );
            passes.then(|| node.slot_inputs("X").next()).flatten()
        }
    }
}

/// True when `node` hands quantized data on: an ONNX DequantizeLinear, or a Paddle quant op
/// that does not only observe.
fn dequantizes(format: ModelFormat, node: &Node) -> bool {
    match format {
        ModelFormat::Onnx => quant::is_onnx_dequantize(node),
        ModelFormat::PaddleProgram | ModelFormat::PaddlePir => {
            let op = quant::paddle_op(&node.op_type);
            quant::is_paddle_legacy_fake_quant(node)
                || (quant::PADDLE_ONNX_FORMAT.contains(&op)
                    && !quant::is_paddle_observer_only(node))
        }
    }
}

/// Tensor names met on the walk back from one input, and whether a dequantize op was among them.
struct Walk {
    names: Vec<String>,
    through_dequantize: bool,
}

fn walk_back(graph: &Graph, format: ModelFormat, start: TensorId) -> Walk {
    let mut walk = Walk {
        names: vec![graph.tensor(start).name.clone()],
        through_dequantize: false,
    };
    let mut tensor = start;
    for _ in 0..MAX_DEPTH {
        let Some(producer) = graph.producer(tensor).map(|p| graph.node(p)) else {
            break;
        };
        walk.through_dequantize |= dequantizes(format, producer);
        let Some(next) = walk_input(format, producer) else {
            break;
        };
        tensor = next;
        walk.names.push(graph.tensor(tensor).name.clone());
    }
    walk
}

/// Lists the compute ops of `model` (Conv, MatMul, Gemm and their quantized and fused forms;
/// Paddle conv and matmul ops).
///
/// In an optimized graph an op counts as quantized when it is a quantized compute op
/// (QLinearConv, QGemm, ...). In an ONNX export it counts when it is one, or when its weight
/// comes through a DequantizeLinear (or, for an op without constant inputs, some input does).
/// In a Paddle program it counts when its weight or an input comes from a quant op that does
/// not only observe.
pub fn summarize(model: &Model) -> Summary {
    let graph = &model.graph;
    let constant = chains::constant_tensors(graph);
    let is_constant = |t: TensorId| constant.get(t.0 as usize).copied().unwrap_or(false);
    let mut ops = Vec::new();
    for id in graph.node_ids() {
        let node = graph.node(id);
        let quantized_op = quant::is_quantized_compute(node);
        if !(quant::is_float_compute(node) || quantized_op) {
            continue;
        }
        let positions: Vec<usize> = match quantized_weight_inputs(node) {
            Some(list) if quantized_op => list.to_vec(),
            _ => (0..node.inputs.len()).collect(),
        };
        let mut op = ComputeOp {
            node: id,
            id: node.id.clone(),
            op: node.qualified_op(),
            quantized: false,
            keys: BTreeSet::new(),
            paths: Vec::new(),
        };
        let mut weight_dequantized = false;
        let mut any_dequantized = false;
        for tensor in positions.iter().filter_map(|&i| node.inputs.get(i)?.tensor) {
            let walk = walk_back(graph, model.format, tensor);
            any_dequantized |= walk.through_dequantize;
            if is_constant(tensor) {
                weight_dequantized |= walk.through_dequantize;
                op.keys.extend(walk.names.iter().cloned());
                op.paths.push(walk.names);
            }
        }
        op.quantized = match model.stage {
            Stage::Optimized => quantized_op,
            Stage::Onnx => {
                quantized_op || weight_dequantized || (op.keys.is_empty() && any_dequantized)
            }
            Stage::Paddle => any_dequantized,
        };
        ops.push(op);
    }
    Summary { ops }
}

/// An op of a later stage that was quantized in the earlier one and is float now.
#[derive(Clone, Debug, PartialEq)]
pub struct Lost<'a> {
    /// The op in the later model.
    pub node: NodeId,
    /// The matching op in the earlier model.
    pub source: &'a ComputeOp,
    /// The weight name that matched them.
    pub weight: String,
}

/// Matches each op of `later` to the op of `earlier` that shares the most weight names, and
/// returns those that were quantized in `earlier` and are float in `later`.
pub fn lost<'a>(earlier: &'a Summary, later: &Summary) -> Vec<Lost<'a>> {
    let mut found = Vec::new();
    for op in later.ops.iter().filter(|op| !op.quantized) {
        let best = earlier
            .ops
            .iter()
            .map(|e| (e.keys.intersection(&op.keys).count(), e))
            .filter(|(shared, _)| *shared > 0)
            // NOTE: a tie goes to the op that comes first in file order, because two ops that
            // share a weight (a tied embedding) have the same names.
            .fold(
                None::<(usize, &ComputeOp)>,
                |best, (shared, e)| match best {
                    Some((count, _)) if count >= shared => best,
                    _ => Some((shared, e)),
                },
            );
        let Some((_, source)) = best else { continue };
        if !source.quantized {
            continue;
        }
        // Name the stored weight of the first input path that the two ops share.
        let weight = source
            .paths
            .iter()
            .find(|path| path.iter().any(|name| op.keys.contains(name)))
            .and_then(|path| path.last())
            .cloned()
            .unwrap_or_default();
        found.push(Lost {
            node: op.node,
            source,
            weight,
        });
    }
    found
}
