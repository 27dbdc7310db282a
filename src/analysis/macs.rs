//! Multiply-accumulate counts of compute ops from inferred shapes.
//!
//! Convolution: `N·H_out·W_out·C_out·(C_in/group)·k_h·k_w`, computed as the output element count
//! times the weight's per-output-channel size (`prod(W.dims[1..])`), which is correct for every layout.
//! ConvTranspose: input element count times `prod(W.dims[1..])`. MatMul: `batch·M·K·N`, Gemm:
//! `M·K·N`, both as output element count times `K`. Counts saturate at `u64::MAX`.

use std::collections::HashSet;

use crate::analysis::quant::{self, MS_DOMAIN, NCHWC_DOMAIN};
use crate::analysis::shapes::{Inferred, conv_operands, matmul_operands};
use crate::graph::{Attr, Graph, Model, Node, NodeId, Port, TensorId};

/// The MAC count of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeMacs {
    /// Not a convolution or matrix product.
    NotCompute,
    /// Multiply-accumulates at the inferred (batch 1) shapes.
    Known(u64),
    /// A compute op whose shapes are unknown, or whose MACs qlint does not model.
    Unknown,
}

/// MAC counts of a whole model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MacCount {
    /// Indexed by `NodeId::index()`.
    pub per_node: Vec<NodeMacs>,
    /// Every compute op.
    pub total: u64,
    /// Convolutions and matrix products in float or in 8-bit integer kernels.
    pub quantizable: u64,
    /// The part of `quantizable` that runs in 8-bit integer kernels.
    pub int8: u64,
    /// False when some compute op is [`NodeMacs::Unknown`], so the sums are lower bounds.
    pub exact: bool,
}

/// com.microsoft quantized ops with multiply-accumulates whose count qlint does not model.
const UNMODELLED: &[&str] = &[
    "QAttention",
    "QOrderedAttention",
    "QOrderedLongformerAttention",
    "QOrderedMatMul",
    "QMoE",
    "DynamicQuantizeLSTM",
    "MatMulFpQ4",
    "MatMulBlockQuantizedFp4Weight",
    "MatMulBlockQuantizedFp8Weight",
    "GemmFloat8",
];

/// Counts the MACs of every node of `model`.
pub fn count(model: &Model, inferred: &Inferred) -> MacCount {
    let graph = &model.graph;
    let mut result = MacCount {
        exact: true,
        ..MacCount::default()
    };
    for id in graph.node_ids() {
        let macs = node_macs(graph, inferred, id);
        result.per_node.push(macs);
        let node = graph.node(id);
        let quantizable = quant::is_float_compute(node) || quant::runs_int8_kernel(node);
        match macs {
            NodeMacs::NotCompute => {}
            NodeMacs::Unknown => result.exact = false,
            NodeMacs::Known(n) => {
                result.total = result.total.saturating_add(n);
                if quantizable {
                    result.quantizable = result.quantizable.saturating_add(n);
                }
                if quant::runs_int8_kernel(node) {
                    result.int8 = result.int8.saturating_add(n);
                }
            }
        }
    }
    result
}

/// Counts the MACs of one node.
pub fn node_macs(graph: &Graph, inferred: &Inferred, id: NodeId) -> NodeMacs {
    let node = graph.node(id);
    let counted = if let Some(operands) = conv_operands(node) {
        Some(conv_macs(
            graph,
            inferred,
            node,
            operands.w,
            operands.transposed.then_some(operands.x),
        ))
    } else if let Some(operands) = matmul_operands(node) {
        Some(matmul_macs(
            inferred,
            node,
            operands.a,
            operands.trans_a,
            operands.gemm,
        ))
    } else if node.domain == MS_DOMAIN
        && matches!(node.op_type.as_str(), "MatMulNBits" | "MatMulBnb4")
    {
        let k = node.attr("K").and_then(Attr::as_i64);
        Some(
            output_count(inferred, node)
                .zip(k.and_then(to_u64))
                .map(|(n, k)| n.saturating_mul(k)),
        )
    } else if node.domain == MS_DOMAIN && UNMODELLED.contains(&node.op_type.as_str()) {
        // NOTE: attention, LSTM and float8/4-bit GEMM contrib ops are counted as unknown.
        Some(None)
    } else if quant::is_paddle_domain(&node.domain)
        && quant::PADDLE_FLOAT_COMPUTE.contains(&quant::paddle_op(&node.op_type))
    {
        Some(paddle_macs(inferred, node))
    } else {
        None
    };
    match counted {
        None => NodeMacs::NotCompute,
        Some(Some(n)) => NodeMacs::Known(n),
        Some(None) => NodeMacs::Unknown,
    }
}

fn to_u64(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

/// Product of dims as `u64`, saturating; `None` on a negative dim.
fn product(dims: &[i64]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| Some(acc.saturating_mul(to_u64(d)?)))
}

fn shape_of(inferred: &Inferred, tensor: Option<TensorId>) -> Option<&[i64]> {
    inferred.shape(tensor?)
}

fn output_count(inferred: &Inferred, node: &Node) -> Option<u64> {
    product(shape_of(inferred, node.output(0))?)
}

/// Convolution MACs; `transposed_input` is the data input of a ConvTranspose.
fn conv_macs(
    graph: &Graph,
    inferred: &Inferred,
    node: &Node,
    weight: usize,
    transposed_input: Option<usize>,
) -> Option<u64> {
    let w = shape_of(inferred, node.input(weight))?;
    let per_element = product(w.get(1..)?)?;
    if let Some(x) = transposed_input {
        return Some(product(shape_of(inferred, node.input(x))?)?.saturating_mul(per_element));
    }
    let out = shape_of(inferred, node.output(0))?;
    let mut outputs = product(out)?;
    if node.domain == NCHWC_DOMAIN {
        // NOTE: ORT also rewrites a BatchNormalization on NCHWc data into a depthwise 1x1 NCHWc
        // Conv, whose MACs are counted here although the source model has no Conv there.
        // The NCHWc output is padded to the block size, so only the real channels count.
        let padded = to_u64(*out.get(1)?)?;
        if let Some(real) = nchwc_channels(graph, node).and_then(to_u64)
            && padded > 0
            && real <= padded
        {
            outputs = outputs / padded * real;
        }
    }
    Some(outputs.saturating_mul(per_element))
}

/// Ops that keep the channels of an NCHWc tensor, which ORT lets run on blocked data.
fn keeps_nchwc_channels(node: &Node) -> bool {
    let op = node.op_type.as_str();
    if node.domain == NCHWC_DOMAIN {
        return matches!(
            op,
            "MaxPool" | "AveragePool" | "GlobalAveragePool" | "GlobalMaxPool" | "Upsample"
        );
    }
    quant::is_default_domain(&node.domain)
        && matches!(
            op,
            "Add" | "Sum" | "Mul" | "Relu" | "Sigmoid" | "Tanh" | "Reshape"
        )
}

/// Returns the real output channel count of an NCHWc Conv, read from the `channels` attribute of the
/// ReorderOutput that its output (possibly through channel-preserving ops) reaches.
fn nchwc_channels(graph: &Graph, node: &Node) -> Option<i64> {
    let mut queue: Vec<TensorId> = node.output(0).into_iter().collect();
    let mut seen: HashSet<TensorId> = HashSet::new();
    while let Some(tensor) = queue.pop() {
        if !seen.insert(tensor) || seen.len() > 256 {
            continue;
        }
        for &consumer in graph.consumers(tensor) {
            let next = graph.node(consumer);
            if next.domain == NCHWC_DOMAIN && next.op_type == "ReorderOutput" {
                return next.attr("channels").and_then(Attr::as_i64);
            }
            if keeps_nchwc_channels(next) {
                queue.extend(next.output(0));
            }
        }
    }
    None
}

/// MatMul and Gemm MACs: output elements times the shared dim `K` of operand `a`.
fn matmul_macs(
    inferred: &Inferred,
    node: &Node,
    a: usize,
    trans_a: bool,
    gemm: bool,
) -> Option<u64> {
    let a = shape_of(inferred, node.input(a))?;
    let k = shared_dim(a, trans_a, gemm)?;
    Some(output_count(inferred, node)?.saturating_mul(to_u64(k)?))
}

/// Returns the reduction dim of the left operand of a matrix product.
fn shared_dim(a: &[i64], trans_a: bool, gemm: bool) -> Option<i64> {
    let rank = a.len();
    if gemm && rank != 2 {
        return None;
    }
    match rank {
        0 => None,
        1 => a.first().copied(),
        _ if trans_a => a.get(rank - 2).copied(),
        _ => a.last().copied(),
    }
}

/// Returns the tensor bound to a Paddle slot. PIR programs have no slot names, so their ports
/// are read by position.
fn paddle_port(ports: &[Port], slot: &str, position: usize) -> Option<TensorId> {
    if ports.iter().any(|p| !p.slot.is_empty()) {
        ports.iter().find(|p| p.slot == slot).and_then(|p| p.tensor)
    } else {
        ports.get(position).and_then(|p| p.tensor)
    }
}

fn paddle_flag(node: &Node, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| node.attr(n).and_then(Attr::as_bool) == Some(true))
}

/// MACs of the Paddle conv and matmul ops, from their declared shapes.
fn paddle_macs(inferred: &Inferred, node: &Node) -> Option<u64> {
    let input = |slot, position| shape_of(inferred, paddle_port(&node.inputs, slot, position));
    let out = || product(shape_of(inferred, paddle_port(&node.outputs, "Out", 0))?);
    match quant::paddle_op(&node.op_type) {
        "conv2d" | "depthwise_conv2d" => {
            let out = product(shape_of(inferred, paddle_port(&node.outputs, "Output", 0))?)?;
            Some(out.saturating_mul(product(input("Filter", 1)?.get(1..)?)?))
        }
        "conv2d_transpose" | "depthwise_conv2d_transpose" => Some(
            product(input("Input", 0)?)?.saturating_mul(product(input("Filter", 1)?.get(1..)?)?),
        ),
        "matmul_v2" | "matmul" => {
            let trans = paddle_flag(node, &["trans_x", "transpose_X", "transpose_x"]);
            let k = shared_dim(input("X", 0)?, trans, false)?;
            Some(out()?.saturating_mul(to_u64(k)?))
        }
        "mul" => {
            let x = input("X", 0)?;
            let split = node
                .attr("x_num_col_dims")
                .and_then(Attr::as_i64)
                .unwrap_or(1);
            let k = product(x.get(usize::try_from(split).ok()?..)?)?;
            Some(out()?.saturating_mul(k))
        }
        "fc" => {
            let k = to_u64(*input("W", 1)?.first()?)?;
            Some(out()?.saturating_mul(k))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
