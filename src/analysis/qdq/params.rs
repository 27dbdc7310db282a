//! Quantization parameters of ONNX QuantizeLinear/DequantizeLinear: scales that are not
//! positive and finite, zero points outside their type's range, and scale or zero-point lengths
//! that do not match the quantization axis.
//!
//! Scales and zero points are read from initializers and `Constant` nodes alike (Paddle2ONNX
//! 1.3.1 writes every parameter as a `Constant` node). Parameters computed at run time are not
//! checked.

use super::Ctx;
use crate::analysis::{FactMap, Value, format_number, quant};
use crate::graph::{Attr, Node, NodeId, TensorData};

/// Records the `qparams.*` facts of an ONNX QuantizeLinear or DequantizeLinear.
pub(super) fn add(ctx: &Ctx<'_>, id: NodeId, facts: &mut FactMap) {
    let node = ctx.graph.node(id);
    if !(quant::is_onnx_quantize(node) || quant::is_onnx_dequantize(node)) {
        return;
    }
    let scale = node.input(1).and_then(|t| ctx.graph.constant(t));
    let zero_point = node.input(2).and_then(|t| ctx.graph.constant(t));
    if let Some(scale) = scale {
        scale_values(scale, facts);
    }
    if let Some(zero_point) = zero_point {
        zero_point_values(zero_point, facts);
    }
    lengths(ctx, node, scale, zero_point, facts);
}

fn describe(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format_number(value)
    }
}

/// Counts scales that are zero, negative, NaN or infinite; ONNX requires positive scales
/// (a zero scale divides by zero in QuantizeLinear).
fn scale_values(scale: &TensorData, facts: &mut FactMap) {
    let Ok(values) = scale.to_f64() else {
        return;
    };
    let bad: Vec<(usize, f64)> = values
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, v)| !(v.is_finite() && v > 0.0))
        .collect();
    facts.insert("qparams.bad_scales".into(), Value::Num(bad.len() as f64));
    if let Some(&(index, value)) = bad.first() {
        facts.insert("qparams.bad_scale".into(), Value::Str(describe(value)));
        facts.insert("qparams.bad_scale_index".into(), Value::Num(index as f64));
    }
}

/// Counts zero points outside the value range of their element type. Raw little-endian data
/// cannot hold such values, but typed protobuf fields (`int32_data` for int8 and uint8) can.
fn zero_point_values(zero_point: &TensorData, facts: &mut FactMap) {
    let Some((min, max)) = zero_point.dtype.integer_range() else {
        return;
    };
    let Ok(values) = zero_point.to_i64() else {
        return;
    };
    let outside: Vec<i64> = values
        .into_iter()
        .filter(|v| !(min..=max).contains(v))
        .collect();
    facts.insert(
        "qparams.zero_points_out_of_range".into(),
        Value::Num(outside.len() as f64),
    );
    if let Some(&first) = outside.first() {
        facts.insert("qparams.zero_point".into(), Value::Num(first as f64));
        facts.insert(
            "qparams.zero_point_range".into(),
            Value::Str(format!("[{min}, {max}]")),
        );
    }
}

/// Compares the scale and zero-point lengths with each other and with the dimension of the
/// quantized tensor along `axis` (default 1). Blocked quantization (`block_size` > 0) uses
/// scales of the input's rank and is not checked here.
fn lengths(
    ctx: &Ctx<'_>,
    node: &Node,
    scale: Option<&TensorData>,
    zero_point: Option<&TensorData>,
    facts: &mut FactMap,
) {
    let block = node.attr("block_size").and_then(Attr::as_i64).unwrap_or(0);
    let Some(scale) = scale else { return };
    let Some(scale_len) = scale.element_count() else {
        return;
    };
    facts.insert("qparams.scale_len".into(), Value::Num(scale_len as f64));
    if let Some(zp_len) = zero_point.and_then(TensorData::element_count) {
        facts.insert("qparams.zero_point_len".into(), Value::Num(zp_len as f64));
        let mismatch = block == 0 && zp_len != scale_len;
        facts.insert(
            "qparams.zero_point_length_mismatch".into(),
            Value::Bool(mismatch),
        );
    }
    // A scalar or one-element scale is per-tensor, whatever `axis` says (ORT's
    // IsScalarOr1ElementVector).
    if block != 0 || scale_len <= 1 {
        return;
    }
    let Some(dims) = node
        .input(0)
        .and_then(|t| super::channels::dims(ctx.graph, ctx.inferred, t))
    else {
        return;
    };
    let axis = node.attr("axis").and_then(Attr::as_i64).unwrap_or(1);
    let rank = dims.len() as i64;
    let normalized = if axis < 0 { axis + rank } else { axis };
    facts.insert("qparams.axis".into(), Value::Num(axis as f64));
    let dim = usize::try_from(normalized)
        .ok()
        .and_then(|a| dims.get(a).copied());
    let Some(dim) = dim else {
        facts.insert("qparams.axis_out_of_range".into(), Value::Bool(true));
        facts.insert("qparams.length_mismatch".into(), Value::Bool(true));
        return;
    };
    facts.insert("qparams.axis_dim".into(), Value::Num(dim as f64));
    let per_axis_shape = scale.dims.len() == 1;
    let mismatch = !per_axis_shape || i64::try_from(scale_len).ok() != Some(dim);
    facts.insert("qparams.length_mismatch".into(), Value::Bool(mismatch));
}
