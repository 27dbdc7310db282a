//! Element types of quantization ops: the bit width of Paddle quant ops and the integer or
//! float8 type of ONNX QuantizeLinear/DequantizeLinear, with the role of the quantized tensor.

use super::Ctx;
use crate::analysis::{FactMap, Value, quant};
use crate::graph::{Attr, DataType, Node, NodeId, TensorId};

/// Records `quant.bits`, `quant.type`, `quant.role` and `quant.matmul_nbits` for a quantization
/// op; other nodes get no facts.
pub(super) fn add(ctx: &Ctx<'_>, id: NodeId, facts: &mut FactMap) {
    let node = ctx.graph.node(id);
    if quant::is_onnx_quantize(node) || quant::is_onnx_dequantize(node) {
        onnx(ctx, node, facts);
    } else if is_paddle_quant(node) {
        paddle(ctx, node, facts);
    }
}

/// True for the Paddle ops that carry a bit width: `quantize_linear`, `dequantize_linear` and
/// the legacy fake quantization ops.
pub(super) fn is_paddle_quant(node: &Node) -> bool {
    quant::is_paddle_domain(&node.domain)
        && (quant::PADDLE_ONNX_FORMAT.contains(&quant::paddle_op(&node.op_type))
            || quant::is_paddle_legacy_fake_quant(node))
}

fn paddle(ctx: &Ctx<'_>, node: &Node, facts: &mut FactMap) {
    // `fake_channel_wise_dequantize_max_abs` lists one width per scale input in `quant_bits`;
    // every other op has a single `bit_length` (default 8 in Paddle's OpMakers).
    let bits = match node.attr("quant_bits") {
        Some(Attr::Ints(list)) => list.iter().copied().find(|&b| b != 8).unwrap_or(8),
        _ => node.attr("bit_length").and_then(Attr::as_i64).unwrap_or(8),
    };
    facts.insert("quant.bits".into(), Value::Num(bits as f64));
    facts.insert("quant.type".into(), Value::Str(format!("int{bits}")));
    let data = node
        .slot_inputs("X")
        .next()
        .or_else(|| node.inputs.first().and_then(|p| p.tensor));
    let role = if data.is_some_and(|t| ctx.is_constant(t)) {
        "weight"
    } else {
        "activation"
    };
    facts.insert("quant.role".into(), Value::Str(role.into()));
}

/// Returns the quantized element type of an ONNX Q/DQ. For QuantizeLinear that is its
/// `output_dtype`, else its zero point's type, else uint8 (the ONNX default). For
/// DequantizeLinear it is the type of its quantized input, else of its zero point.
pub(super) fn onnx_element_type(ctx: &Ctx<'_>, node: &Node) -> Option<DataType> {
    let of = |t: Option<TensorId>| t.and_then(|t| ctx.dtype(t));
    if quant::is_onnx_quantize(node) {
        let declared = node
            .attr("output_dtype")
            .and_then(Attr::as_i64)
            .filter(|&code| code != 0)
            .and_then(|code| i32::try_from(code).ok())
            .map(DataType::from_onnx);
        declared
            .or_else(|| of(node.input(2)))
            .or_else(|| of(node.output(0)))
            .or_else(|| node.input(2).is_none().then_some(DataType::UInt8))
    } else {
        of(node.input(0)).or_else(|| of(node.input(2)))
    }
}

fn bit_width(dtype: DataType) -> Option<u32> {
    match dtype {
        DataType::Int4 | DataType::UInt4 => Some(4),
        DataType::Int16 | DataType::UInt16 | DataType::Float16 | DataType::BFloat16 => Some(16),
        DataType::Int32 | DataType::UInt32 | DataType::Float32 => Some(32),
        other => other.size_bytes().map(|b| (b * 8) as u32),
    }
}

fn onnx(ctx: &Ctx<'_>, node: &Node, facts: &mut FactMap) {
    let Some(dtype) = onnx_element_type(ctx, node) else {
        return;
    };
    facts.insert("quant.type".into(), Value::Str(dtype.name()));
    if let Some(bits) = bit_width(dtype) {
        facts.insert("quant.bits".into(), Value::Num(f64::from(bits)));
    }
    let data_constant = node.input(0).is_some_and(|t| ctx.is_constant(t));
    let role = match (data_constant, dtype) {
        // Exporters and ORT's quantizer store a bias as int32 with scale x_scale * w_scale.
        (true, DataType::Int32) if quant::is_onnx_dequantize(node) => "bias",
        (true, _) => "weight",
        (false, _) => "activation",
    };
    facts.insert("quant.role".into(), Value::Str(role.into()));
    if quant::is_onnx_dequantize(node) {
        let nbits = feeds_matmul_nbits(ctx, node, dtype);
        facts.insert("quant.matmul_nbits".into(), Value::Bool(nbits));
    }
}

/// True when a 4-bit DequantizeLinear has the form that ORT's DQMatMulToMatMulNBits selector
/// turns into com.microsoft MatMulNBits. That is a constant rank-2 weight feeding input 1 of one
/// MatMul, blocked along axis 0 with a power-of-two `block_size` of at least 16, with a rank-2
/// scale.
///
/// Source: `microsoft/onnxruntime:onnxruntime/core/optimizer/qdq_transformer/selectors_actions/
/// qdq_selectors.cc` (`DQMatMulNodeGroupSelector::Check`).
fn feeds_matmul_nbits(ctx: &Ctx<'_>, node: &Node, dtype: DataType) -> bool {
    if !matches!(dtype, DataType::Int4 | DataType::UInt4) {
        return false;
    }
    let axis = node.attr("axis").and_then(Attr::as_i64);
    let block = node.attr("block_size").and_then(Attr::as_i64).unwrap_or(0);
    if axis != Some(0) || block < 16 || block & (block - 1) != 0 {
        return false;
    }
    let rank2 = |t: Option<TensorId>| {
        t.and_then(|t| ctx.graph.constant(t))
            .is_some_and(|c| c.dims.len() == 2)
    };
    if !rank2(node.input(0)) || !rank2(node.input(1)) {
        return false;
    }
    let Some(out) = node.output(0) else {
        return false;
    };
    let readers = ctx.graph.consumers(out);
    readers.len() == 1
        && readers.first().is_some_and(|&r| {
            let reader = ctx.graph.node(r);
            reader.op_type == "MatMul"
                && quant::is_default_domain(&reader.domain)
                && reader.input(1) == Some(out)
        })
}
