//! The u8s8 saturation risk of int8 weights on x86 CPUs without VNNI.
//!
//! For every quantized compute op, this reads its int8 weights: int8 constants, float constants
//! quantized as ORT's constant folding would, or Paddle `.pdiparams` codes. It arranges them by
//! the kernel's output channels and reduction (K) order and counts the adjacent same-sign pairs
//! whose magnitudes add up to 129 or more. With a u8 input of 255, such a pair overflows the
//! int16 lane of `VPMADDUBSW` (see [`pairs`]). Weights are decoded only for the ops that run a
//! u8s8 kernel, and other tensors are never read.
//!
//! The pairing follows ORT's QGEMM and symmetric-convolution kernels: K is ordered (kernel
//! position, input channel), and pairs are elements (2i, 2i+1). Depthwise convolutions (one
//! input and one output channel per group) are skipped, because ORT's depthwise kernels widen
//! to 16 or 32 bits before they add and never saturate.
// NOTE: the pairing order comes from reading ORT's MLAS x86 sources (`QLinearConv::ReorderFilter`,
// `QgemmU8S8KernelAvx2.S`, `ConvSymKernelAvx2.S`); it is not confirmed by running a kernel, and
// other builds or future kernels may pair differently. `saturation.channels_any_order` is the
// bound that holds for every pairing.

mod onnx;
mod paddle;
pub mod pairs;
pub mod quantize;

use crate::analysis::{FactMap, Value};
use crate::graph::{DataType, Model, ModelFormat, NodeId, TensorData};

pub use pairs::{Layout, PairCount, SATURATION_BOUND, count_pairs};

/// Origin of the int8 codes of a weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSource {
    /// An int8 ONNX initializer or `Constant` value.
    Int8Constant,
    /// A float ONNX constant quantized by QuantizeLinear, computed as ORT folds it.
    QuantizedFloat,
    /// A Paddle parameter stored as int8 codes.
    PaddleInt8Codes,
    /// A Paddle parameter that stores int8 codes as float values.
    PaddleFloatCodes,
}

impl WeightSource {
    /// Describes the origin for the `saturation.weights` fact.
    pub fn describe(self) -> &'static str {
        match self {
            WeightSource::Int8Constant => "int8 constant",
            WeightSource::QuantizedFloat => "float constant quantized by QuantizeLinear",
            WeightSource::PaddleInt8Codes => "int8 codes in the parameter file",
            WeightSource::PaddleFloatCodes => "int8 codes stored as float in the parameter file",
        }
    }
}

/// The int8 weights of one compute op, arranged for pair counting.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightMatrix {
    /// Codes in the tensor's own element order.
    pub codes: Vec<i8>,
    pub layout: Layout,
    pub source: WeightSource,
}

/// The saturation analysis of one compute op.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSaturation {
    pub count: PairCount,
    pub source: WeightSource,
}

/// Reduction pattern of a compute op over its weight tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    /// Convolution with `group` groups, filter `[M, C/group, k...]`.
    Conv { group: i64 },
    /// `[batch..., K, N]`, or `[K]` for a vector.
    MatMul,
    /// `[batch..., N, K]`.
    MatMulTransposed,
}

/// Finds the int8 weights of the compute op `id`, or `None` when it runs no u8s8 kernel or its
/// weights cannot be read.
pub fn weight_matrix(model: &Model, id: NodeId) -> Option<WeightMatrix> {
    let node = model.graph.node(id);
    match model.format {
        ModelFormat::Onnx => onnx::weight_matrix(&model.graph, model.stage, node),
        ModelFormat::PaddleProgram | ModelFormat::PaddlePir => {
            paddle::weight_matrix(&model.graph, node)
        }
    }
}

/// Analyzes every node; the result is indexed by `NodeId::index()`.
pub fn analyze(model: &Model) -> Vec<Option<NodeSaturation>> {
    model
        .graph
        .node_ids()
        .map(|id| {
            let matrix = weight_matrix(model, id)?;
            let count = count_pairs(&matrix.codes, &matrix.layout)?;
            Some(NodeSaturation {
                count,
                source: matrix.source,
            })
        })
        .collect()
}

/// Adds the `saturation.*` facts to the nodes that run a u8s8 kernel on readable int8 weights.
pub fn insert_facts(model: &Model, node_facts: &mut [FactMap]) {
    for (facts, result) in node_facts.iter_mut().zip(analyze(model)) {
        let Some(result) = result else { continue };
        let count = &result.count;
        let num = |n: usize| Value::Num(n as f64);
        facts.insert("saturation.pairs".into(), num(count.pairs));
        facts.insert("saturation.channels".into(), num(count.channels_at_risk));
        facts.insert("saturation.channels_total".into(), num(count.channels));
        facts.insert(
            "saturation.max_pair_sum".into(),
            Value::Num(f64::from(count.max_pair_sum)),
        );
        facts.insert(
            "saturation.channels_any_order".into(),
            num(count.channels_any_order),
        );
        facts.insert(
            "saturation.weights".into(),
            Value::Str(result.source.describe().to_string()),
        );
    }
}

/// Reads an int8 tensor's codes; `None` for other types or a payload that does not match.
fn int8_codes(data: &TensorData) -> Option<Vec<i8>> {
    if data.dtype != DataType::Int8 {
        return None;
    }
    data.to_i64()
        .ok()?
        .into_iter()
        .map(|v| i8::try_from(v).ok())
        .collect()
}

/// Arranges a weight of shape `dims` for pair counting. Returns `None` for a negative or
/// overflowing shape, a rank the op cannot have, or a depthwise convolution.
fn layout(dims: &[i64], reduction: Reduction) -> Option<Layout> {
    let sizes = dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()?;
    let product = |part: &[usize]| part.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match (reduction, sizes.as_slice()) {
        (Reduction::Conv { group }, [out_channels, group_in_channels, kernel @ ..])
            if !kernel.is_empty() =>
        {
            let depthwise =
                *group_in_channels == 1 && usize::try_from(group).ok() == Some(*out_channels);
            (!depthwise).then_some(())?;
            Some(Layout::Conv {
                out_channels: *out_channels,
                group_in_channels: *group_in_channels,
                kernel_size: product(kernel)?,
            })
        }
        (Reduction::MatMul, [k]) => Some(Layout::KByN {
            batches: 1,
            k: *k,
            n: 1,
        }),
        (Reduction::MatMul, [batch @ .., k, n]) => Some(Layout::KByN {
            batches: product(batch)?,
            k: *k,
            n: *n,
        }),
        (Reduction::MatMulTransposed, [batch @ .., n, k]) => Some(Layout::NByK {
            batches: product(batch)?,
            n: *n,
            k: *k,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod tests;
