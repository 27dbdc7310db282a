//! Per-op inference rules: the dispatch by domain and op type, and the elementwise ops.

use crate::analysis::quant::{self, INTERNAL_NHWC_DOMAIN, MS_DOMAIN, NCHWC_DOMAIN};
use crate::graph::{Attr, DataType, Graph, Node, TensorId};

use super::{
    Inferred, MAX_NODE_INPUTS, MAX_RANK, MAX_VALUE_LEN, conv, layouts, matmul, tensor_ops,
};

/// The inferred type, shape and value of one op output.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Out {
    pub dtype: Option<DataType>,
    pub shape: Option<Vec<i64>>,
    /// The flattened value, for small integer tensors.
    pub value: Option<Vec<i64>>,
}

impl Out {
    pub fn new(dtype: Option<DataType>, shape: Option<Vec<i64>>) -> Option<Out> {
        Some(Out {
            dtype,
            shape,
            value: None,
        })
    }
}

/// Read access to what is known so far about a node's inputs.
pub(super) struct Ctx<'a> {
    graph: &'a Graph,
    inferred: &'a Inferred,
}

impl<'a> Ctx<'a> {
    pub fn new(graph: &'a Graph, inferred: &'a Inferred) -> Self {
        Ctx { graph, inferred }
    }

    pub fn shape(&self, node: &Node, index: usize) -> Option<&'a [i64]> {
        node.input(index).and_then(|t| self.inferred.shape(t))
    }

    pub fn dtype(&self, node: &Node, index: usize) -> Option<DataType> {
        node.input(index).and_then(|t| self.inferred.dtype(t))
    }

    pub fn value(&self, node: &Node, index: usize) -> Option<&'a [i64]> {
        node.input(index).and_then(|t| self.inferred.value(t))
    }

    /// Returns the value of a small constant input of any numeric type, such as Resize scales.
    pub fn constant_f64(&self, node: &Node, index: usize) -> Option<Vec<f64>> {
        let tensor: TensorId = node.input(index)?;
        if let Some(v) = self.inferred.value(tensor) {
            return Some(v.iter().map(|&x| x as f64).collect());
        }
        let data = self.graph.constant(tensor)?;
        if data.element_count()? > MAX_VALUE_LEN {
            return None;
        }
        data.to_f64().ok()
    }

    /// True when input `index` is present (not omitted).
    pub fn has_input(&self, node: &Node, index: usize) -> bool {
        node.input(index).is_some()
    }
}

/// Reads an integer attribute.
pub(super) fn attr_i64(node: &Node, name: &str) -> Option<i64> {
    node.attr(name).and_then(Attr::as_i64)
}

/// Reads an integer-list attribute.
pub(super) fn attr_ints<'n>(node: &'n Node, name: &str) -> Option<&'n [i64]> {
    node.attr(name).and_then(Attr::as_ints)
}

/// Reads a string attribute.
pub(super) fn attr_str<'n>(node: &'n Node, name: &str) -> Option<&'n str> {
    node.attr(name).and_then(Attr::as_str)
}

/// Reads a float-list attribute; integer lists are accepted too.
pub(super) fn attr_floats(node: &Node, name: &str) -> Option<Vec<f64>> {
    match node.attr(name)? {
        Attr::Floats(v) => Some(v.clone()),
        Attr::Ints(v) => Some(v.iter().map(|&x| x as f64).collect()),
        _ => None,
    }
}

/// Infers every output of `node`; position `i` of the result belongs to output `i`.
/// True for a node no real model has: more inputs than [`MAX_NODE_INPUTS`], or an integer list
/// attribute (axes, perm, pads) longer than twice [`MAX_RANK`]. Inferring such a node would only
/// cost time that a hostile file controls.
fn beyond_limits(node: &Node) -> bool {
    node.inputs.len() > MAX_NODE_INPUTS
        || node
            .attrs
            .values()
            .any(|a| matches!(a, crate::graph::Attr::Ints(v) if v.len() > 2 * MAX_RANK))
}

pub(super) fn infer_node(ctx: &Ctx, node: &Node) -> Vec<Option<Out>> {
    if beyond_limits(node) {
        return Vec::new();
    }
    let op = node.op_type.as_str();
    let domain = node.domain.as_str();
    if quant::is_default_domain(domain) {
        default_op(ctx, node, op)
    } else if domain == MS_DOMAIN {
        ms_op(ctx, node, op)
    } else if domain == NCHWC_DOMAIN {
        vec![layouts::nchwc_op(ctx, node, op)]
    } else if domain == INTERNAL_NHWC_DOMAIN {
        vec![layouts::internal_nhwc_op(ctx, node, op)]
    } else {
        Vec::new()
    }
}

/// Unary ops whose output has the type and shape of input 0.
const SAME_AS_INPUT: &[&str] = &[
    "Identity",
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Clip",
    "Tanh",
    "Erf",
    "Exp",
    "Log",
    "Abs",
    "Neg",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Sin",
    "Cos",
    "Softmax",
    "LogSoftmax",
    "Hardmax",
    "Elu",
    "Selu",
    "Celu",
    "Softplus",
    "Softsign",
    "ThresholdedRelu",
    "Shrink",
    "Mish",
    "Gelu",
    "Not",
    "Dropout",
    "BatchNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "LRN",
    "CumSum",
];

/// Elementwise ops with numpy broadcasting over all inputs.
const BROADCAST: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Mod",
    "BitShift",
    "And",
    "Or",
    "Xor",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
];

const COMPARISONS: &[&str] = &["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"];

fn default_op(ctx: &Ctx, node: &Node, op: &str) -> Vec<Option<Out>> {
    let single = |out: Option<Out>| vec![out];
    if SAME_AS_INPUT.contains(&op) {
        return single(same_as_input(ctx, node, op == "Identity"));
    }
    if BROADCAST.contains(&op) {
        return single(broadcast_op(ctx, node, op));
    }
    match op {
        "Constant" => single(tensor_ops::constant(node)),
        "Cast" => single(cast(ctx, node)),
        "QuantizeLinear" => single(quantize(ctx, node)),
        "DequantizeLinear" => single(dequantize(ctx, node)),
        "DynamicQuantizeLinear" => vec![
            Out::new(
                Some(DataType::UInt8),
                ctx.shape(node, 0).map(<[i64]>::to_vec),
            ),
            Out::new(Some(DataType::Float32), Some(Vec::new())),
            Out::new(Some(DataType::UInt8), Some(Vec::new())),
        ],
        "Where" => single(broadcast_inputs(ctx, node, &[0, 1, 2], ctx.dtype(node, 1))),
        "Conv" | "ConvInteger" | "QLinearConv" | "ConvTranspose" => single(conv::conv(ctx, node)),
        "MaxPool" | "AveragePool" | "LpPool" => conv::pool(ctx, node),
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => single(conv::global_pool(
            ctx,
            node,
            0,
            conv::Layout::Nchw,
            ctx.dtype(node, 0),
        )),
        "MatMul" | "MatMulInteger" | "QLinearMatMul" => single(matmul::matmul(ctx, node)),
        "Gemm" => single(matmul::gemm(ctx, node, 0, 1, ctx.dtype(node, 0))),
        _ => tensor_ops::shape_op(ctx, node, op),
    }
}

fn ms_op(ctx: &Ctx, node: &Node, op: &str) -> Vec<Option<Out>> {
    let single = |out: Option<Out>| vec![out];
    match op {
        "QuantizeLinear" => single(quantize(ctx, node)),
        "DequantizeLinear" => single(dequantize(ctx, node)),
        "QLinearConv" | "FusedConv" | "NhwcConv" | "NhwcFusedConv" => single(conv::conv(ctx, node)),
        "QLinearAdd" | "QLinearMul" => single(broadcast_inputs(
            ctx,
            node,
            &[0, 3],
            zero_point_type(ctx, node, 7, 0),
        )),
        "QLinearSigmoid" | "QLinearLeakyRelu" | "QLinearSoftmax" => single(Out::new(
            zero_point_type(ctx, node, 4, 0),
            ctx.shape(node, 0).map(<[i64]>::to_vec),
        )),
        "QLinearWhere" => single(broadcast_inputs(
            ctx,
            node,
            &[0, 1, 4],
            zero_point_type(ctx, node, 8, 1),
        )),
        "QLinearConcat" => single(tensor_ops::qlinear_concat(ctx, node)),
        "QLinearAveragePool" | "NhwcMaxPool" => conv::pool(ctx, node),
        "QLinearGlobalAveragePool" => {
            let layout = conv::Layout::of(node);
            single(conv::global_pool(
                ctx,
                node,
                0,
                layout,
                zero_point_type(ctx, node, 4, 0),
            ))
        }
        "QGemm" => {
            let dtype = if ctx.has_input(node, 7) {
                zero_point_type(ctx, node, 8, 0)
            } else {
                Some(DataType::Float32)
            };
            single(matmul::gemm(ctx, node, 0, 3, dtype))
        }
        "FusedGemm" => single(matmul::gemm(ctx, node, 0, 1, ctx.dtype(node, 0))),
        "FusedMatMul" | "MatMulIntegerToFloat" | "DynamicQuantizeMatMul" | "MatMulInteger16" => {
            single(matmul::matmul(ctx, node))
        }
        "MatMulNBits" | "MatMulBnb4" => single(matmul::matmul_n_attr(ctx, node)),
        "Gelu" | "QuickGelu" | "FastGelu" | "BiasGelu" => single(same_as_input(ctx, node, false)),
        _ => Vec::new(),
    }
}

fn same_as_input(ctx: &Ctx, node: &Node, keep_value: bool) -> Option<Out> {
    Some(Out {
        dtype: ctx.dtype(node, 0),
        shape: ctx.shape(node, 0).map(<[i64]>::to_vec),
        value: if keep_value {
            ctx.value(node, 0).map(<[i64]>::to_vec)
        } else {
            None
        },
    })
}

/// Returns the element type of a QLinear op's output, read from its zero-point input. When the
/// zero point is omitted, the type of the data input `fallback` is used instead.
fn zero_point_type(ctx: &Ctx, node: &Node, zero_point: usize, fallback: usize) -> Option<DataType> {
    ctx.dtype(node, zero_point)
        .or_else(|| ctx.dtype(node, fallback))
}

fn quantize(ctx: &Ctx, node: &Node) -> Option<Out> {
    // `output_dtype` (opset 21) wins; otherwise the zero point's type, and uint8 without one.
    let dtype = attr_i64(node, "output_dtype")
        .filter(|&code| code != 0)
        .map(|code| DataType::from_onnx(code as i32))
        .or_else(|| ctx.dtype(node, 2))
        .or_else(|| (!ctx.has_input(node, 2)).then_some(DataType::UInt8));
    Out::new(dtype, ctx.shape(node, 0).map(<[i64]>::to_vec))
}

fn dequantize(ctx: &Ctx, node: &Node) -> Option<Out> {
    let dtype = attr_i64(node, "output_dtype")
        .filter(|&code| code != 0)
        .map(|code| DataType::from_onnx(code as i32))
        .or_else(|| ctx.dtype(node, 1))
        .or(Some(DataType::Float32));
    Out::new(dtype, ctx.shape(node, 0).map(<[i64]>::to_vec))
}

fn cast(ctx: &Ctx, node: &Node) -> Option<Out> {
    let dtype = attr_i64(node, "to").map(|code| DataType::from_onnx(code as i32));
    let integer = dtype.is_some_and(|d| d.integer_range().is_some() || d == DataType::Int64);
    Some(Out {
        dtype,
        shape: ctx.shape(node, 0).map(<[i64]>::to_vec),
        value: if integer {
            ctx.value(node, 0).map(<[i64]>::to_vec)
        } else {
            None
        },
    })
}

fn broadcast_op(ctx: &Ctx, node: &Node, op: &str) -> Option<Out> {
    let indices: Vec<usize> = (0..node.inputs.len()).collect();
    let dtype = if COMPARISONS.contains(&op) {
        Some(DataType::Bool)
    } else {
        ctx.dtype(node, 0)
    };
    let mut out = broadcast_inputs(ctx, node, &indices, dtype)?;
    if let (Some(a), Some(b)) = (ctx.value(node, 0), ctx.value(node, 1)) {
        out.value = int_arithmetic(op, a, b);
    }
    Some(out)
}

fn broadcast_inputs(
    ctx: &Ctx,
    node: &Node,
    indices: &[usize],
    dtype: Option<DataType>,
) -> Option<Out> {
    let shapes: Option<Vec<&[i64]>> = indices.iter().map(|&i| ctx.shape(node, i)).collect();
    Out::new(dtype, shapes.and_then(|s| broadcast(&s)))
}

/// Numpy broadcasting; `None` when two dims differ and neither is 1.
pub(super) fn broadcast(shapes: &[&[i64]]) -> Option<Vec<i64>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1i64; rank];
    for shape in shapes {
        let offset = rank - shape.len();
        for (i, &d) in shape.iter().enumerate() {
            let slot = &mut out[offset + i];
            if *slot == 1 {
                *slot = d;
            } else if d != 1 && d != *slot {
                return None;
            }
        }
    }
    Some(out)
}

/// Integer arithmetic on shape values (`Add`, `Sub`, `Mul`, `Div` with a scalar or an equally
/// long operand); `None` on overflow or division by zero.
fn int_arithmetic(op: &str, a: &[i64], b: &[i64]) -> Option<Vec<i64>> {
    let len = a.len().max(b.len());
    if !(a.len() == len || a.len() == 1) || !(b.len() == len || b.len() == 1) {
        return None;
    }
    let pick = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    (0..len)
        .map(|i| {
            let (x, y) = (pick(a, i), pick(b, i));
            match op {
                "Add" => x.checked_add(y),
                "Sub" => x.checked_sub(y),
                "Mul" => x.checked_mul(y),
                "Div" => x.checked_div(y),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(
            broadcast(&[&[1, 32, 16, 16], &[1, 32, 1, 1]]),
            Some(vec![1, 32, 16, 16])
        );
        assert_eq!(broadcast(&[&[10], &[1, 10]]), Some(vec![1, 10]));
        assert_eq!(broadcast(&[&[3], &[4]]), None);
        assert_eq!(broadcast(&[&[], &[2, 3]]), Some(vec![2, 3]));
    }

    #[test]
    fn shape_values_combine() {
        assert_eq!(int_arithmetic("Mul", &[2, 3], &[4]), Some(vec![8, 12]));
        assert_eq!(int_arithmetic("Div", &[8], &[0]), None);
        assert_eq!(int_arithmetic("Add", &[1, 2, 3], &[1, 2]), None);
    }
}
