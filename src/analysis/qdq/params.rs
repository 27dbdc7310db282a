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
        scale_values(ctx, node, scale, facts);
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

/// Counts zero, negative, and NaN or infinite scales. ONNX Runtime's quantization documentation
/// defines the scale as a positive real number. Negative scales of blocked quantization
/// (`block_size` > 0) are not counted, because ORT's own 4-bit MatMulNBitsQuantizer writes them
/// on purpose to reach code -8.
fn scale_values(ctx: &Ctx<'_>, node: &Node, scale: &TensorData, facts: &mut FactMap) {
    let Ok(values) = scale.to_f64() else {
        return;
    };
    let blocked = node.attr("block_size").and_then(Attr::as_i64).unwrap_or(0) != 0;
    let indices = |keep: &dyn Fn(f64) -> bool| -> Vec<usize> {
        (0..values.len())
            .filter(|&i| values.get(i).is_some_and(|&v| keep(v)))
            .collect()
    };
    let zeros = indices(&|v| v == 0.0);
    let negative = indices(&|v| v < 0.0 && v.is_finite() && !blocked);
    let bad = indices(&|v| !v.is_finite());
    let put = |facts: &mut FactMap, name: &str, value: Value| {
        facts.insert(format!("qparams.{name}"), value);
    };
    put(facts, "zero_scales", Value::Num(zeros.len() as f64));
    put(facts, "negative_scales", Value::Num(negative.len() as f64));
    put(facts, "bad_scales", Value::Num(bad.len() as f64));
    if let Some(&index) = zeros.first() {
        put(facts, "zero_scale_index", Value::Num(index as f64));
        let harmless = zero_data_at(ctx, node, &zeros, values.len());
        put(facts, "zero_scale_on_zero_data", Value::Bool(harmless));
    }
    if let Some(&index) = negative.first() {
        put(facts, "negative_scale_index", Value::Num(index as f64));
    }
    if let Some(&index) = bad.first() {
        let value = values.get(index).copied().unwrap_or(f64::NAN);
        put(facts, "bad_scale", Value::Str(describe(value)));
        put(facts, "bad_scale_index", Value::Num(index as f64));
    }
}

/// True when the constant that this Q/DQ quantizes is zero wherever its scale is zero (an
/// all-zero bias, or a pruned filter), so the zero output is still the right value. The
/// constant is the QuantizeLinear's float input. For a DequantizeLinear it is the input of the
/// QuantizeLinear that feeds it, else its own constant input when its zero point is 0.
fn zero_data_at(ctx: &Ctx<'_>, node: &Node, zeros: &[usize], scale_len: usize) -> bool {
    let graph = ctx.graph;
    let mut data = node.input(0);
    if quant::is_onnx_dequantize(node) && data.is_some_and(|t| graph.constant(t).is_none()) {
        data = data
            .and_then(|t| graph.producer(t))
            .map(|p| graph.node(p))
            .filter(|p| quant::is_onnx_quantize(p))
            .and_then(|p| p.input(0));
    } else if quant::is_onnx_dequantize(node) {
        let zero_point_zero = node
            .input(2)
            .and_then(|t| graph.constant(t))
            .map(|zp| zp.to_i64().is_ok_and(|v| v.iter().all(|&z| z == 0)))
            .unwrap_or(true);
        if !zero_point_zero {
            return false;
        }
    }
    let Some(constant) = data.and_then(|t| graph.constant(t)) else {
        return false;
    };
    let Ok(values) = constant.to_f64() else {
        return false;
    };
    if scale_len <= 1 {
        return values.iter().all(|&v| v == 0.0);
    }
    let axis = node.attr("axis").and_then(Attr::as_i64).unwrap_or(1);
    let rank = constant.dims.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    let Some(axis) = usize::try_from(axis).ok() else {
        return false;
    };
    let dims: Option<Vec<usize>> = constant
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect();
    let Some(dims) = dims else { return false };
    if dims.get(axis) != Some(&scale_len) {
        return false;
    }
    let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
    values.iter().enumerate().all(|(i, &v)| {
        let channel = (i / inner.max(1)) % scale_len;
        v == 0.0 || !zeros.contains(&channel)
    })
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
    // ORT treats a scalar or one-element scale as per-tensor whatever the `axis` attribute is
    // (IsScalarOr1ElementVector in its quantize_linear.cc).
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
