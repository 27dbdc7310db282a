//! Finding the int8 weights of ONNX compute ops.
//!
//! Quantized ops carry their weights as int8 initializers or `Constant` values (external data
//! is already resolved into the payload by the loader). In an exported QDQ graph, a Conv,
//! MatMul or Gemm reads its weight through DequantizeLinear, from an int8 constant or from a
//! QuantizeLinear on a float constant, which ORT folds into int8 before it fuses the group.

use super::quantize::{QuantizeParams, quantize_like_ort};
use super::{Reduction, WeightMatrix, WeightSource, int8_codes, layout};
use crate::analysis::quant;
use crate::graph::{Attr, DataType, Graph, Node, Stage, TensorId};

/// Position of a compute op's weight input and the op's reduction over it.
struct WeightInput {
    index: usize,
    reduction: Reduction,
    /// True for a float op that only runs in int8 once ORT fuses its QDQ group.
    qdq: bool,
}

/// Finds the int8 weight of `node`, or `None` when the op runs no u8s8 kernel, its weight is
/// not int8 or cannot be read.
pub(super) fn weight_matrix(graph: &Graph, stage: Stage, node: &Node) -> Option<WeightMatrix> {
    let input = weight_input(stage, node)?;
    let tensor = node.input(input.index)?;
    let (codes, dims, source) = if input.qdq {
        if !is_fusable_qdq_group(graph, node) {
            return None;
        }
        let dequantize = graph.node(graph.producer(tensor)?);
        if !quant::is_onnx_dequantize(dequantize) || has_blocks(dequantize) {
            return None;
        }
        int8_weight(graph, dequantize.input(0)?)?
    } else {
        int8_weight(graph, tensor)?
    };
    let layout = layout(&dims, input.reduction)?;
    Some(WeightMatrix {
        codes,
        layout,
        source,
    })
}

fn weight_input(stage: Stage, node: &Node) -> Option<WeightInput> {
    let default = quant::is_default_domain(&node.domain);
    let ms = node.domain == quant::MS_DOMAIN;
    let nhwc = node.domain == quant::INTERNAL_NHWC_DOMAIN;
    let group = node.attr("group").and_then(Attr::as_i64).unwrap_or(1);
    let trans_b = node.attr("transB").and_then(Attr::as_i64).unwrap_or(0) != 0;
    let gemm = if trans_b {
        Reduction::MatMulTransposed
    } else {
        Reduction::MatMul
    };
    let found = |index, reduction, qdq| {
        Some(WeightInput {
            index,
            reduction,
            qdq,
        })
    };
    match node.op_type.as_str() {
        "QLinearConv" if default || ms || nhwc => found(3, Reduction::Conv { group }, false),
        "ConvInteger" if default => found(1, Reduction::Conv { group }, false),
        "QLinearMatMul" if default => found(3, Reduction::MatMul, false),
        "MatMulInteger" if default => found(1, Reduction::MatMul, false),
        "MatMulIntegerToFloat" | "DynamicQuantizeMatMul" if ms => {
            found(1, Reduction::MatMul, false)
        }
        "QGemm" if ms => found(3, gemm, false),
        // Float ops of an ORT-optimized graph stayed float, so only exports are judged.
        "Conv" if default && stage == Stage::Onnx => found(1, Reduction::Conv { group }, true),
        "MatMul" if default && stage == Stage::Onnx => found(1, Reduction::MatMul, true),
        "Gemm" if default && stage == Stage::Onnx => found(1, gemm, true),
        _ => None,
    }
}

/// True when the activation and weight inputs come from DequantizeLinear and, for Conv, the
/// output goes to QuantizeLinear. That is the minimum ORT's QDQ selectors need to fuse the op.
/// MatMul and Gemm also fuse without an output QuantizeLinear, into MatMulIntegerToFloat or a
/// float-output QGemm.
// NOTE: ORT checks more (types, zero-point types, single consumers); an op that passes here may
// still stay float, which the fusion prediction rules report.
fn is_fusable_qdq_group(graph: &Graph, node: &Node) -> bool {
    let from_dequantize = |index: usize| {
        node.input(index)
            .and_then(|t| graph.producer(t))
            .is_some_and(|p| quant::is_onnx_dequantize(graph.node(p)))
    };
    let output_quantized = node
        .output(0)
        .map(|t| graph.consumers(t))
        .is_some_and(|readers| {
            !readers.is_empty()
                && readers
                    .iter()
                    .all(|&r| quant::is_onnx_quantize(graph.node(r)))
        });
    from_dequantize(0) && from_dequantize(1) && (node.op_type != "Conv" || output_quantized)
}

/// True for a blocked (de)quantization (`block_size`, opset 21), which this analysis does not
/// model.
fn has_blocks(node: &Node) -> bool {
    node.attr("block_size")
        .and_then(Attr::as_i64)
        .is_some_and(|b| b > 0)
}

/// Reads an int8 tensor: a constant, or a QuantizeLinear with int8 output on a float constant.
fn int8_weight(graph: &Graph, tensor: TensorId) -> Option<(Vec<i8>, Vec<i64>, WeightSource)> {
    if let Some(data) = graph.constant(tensor) {
        let codes = int8_codes(data)?;
        return Some((codes, data.dims.clone(), WeightSource::Int8Constant));
    }
    let quantize = graph.node(graph.producer(tensor)?);
    if !quant::is_onnx_quantize(quantize) || has_blocks(quantize) {
        return None;
    }
    let data = graph.constant(quantize.input(0)?)?;
    if !data.dtype.is_float() {
        return None;
    }
    let params = quantize_params(graph, quantize, data.dims.len())?;
    let values = data.to_f64().ok()?;
    let quantized = quantize_like_ort(&values, &data.dims, &params)?;
    let codes = quantized
        .into_iter()
        .map(|q| i8::try_from(q).ok())
        .collect::<Option<Vec<i8>>>()?;
    Some((codes, data.dims.clone(), WeightSource::QuantizedFloat))
}

/// Reads the scale, zero point and axis of an int8 QuantizeLinear. Returns `None` for other
/// output types, because uint8 weights run the u8u8 kernel, which does not saturate.
fn quantize_params(graph: &Graph, quantize: &Node, rank: usize) -> Option<QuantizeParams> {
    let scale = graph.constant(quantize.input(1)?)?;
    let scales = scale.to_f64().ok()?;
    let zero_point = quantize.input(2).and_then(|t| graph.constant(t));
    let output_type = match zero_point {
        Some(zp) => zp.dtype,
        // Without a zero point the output is uint8, unless `output_dtype` (opset 21) sets
        // another type.
        None => quantize
            .attr("output_dtype")
            .and_then(Attr::as_i64)
            .and_then(|code| i32::try_from(code).ok())
            .map_or(DataType::UInt8, DataType::from_onnx),
    };
    if output_type != DataType::Int8 {
        return None;
    }
    let zero_points = match zero_point {
        Some(zp) => zp.to_i64().ok()?,
        None => Vec::new(),
    };
    let per_tensor = scales.len() == 1 && scale.dims.iter().all(|&d| d == 1);
    let axis = if per_tensor {
        None
    } else {
        let axis = quantize.attr("axis").and_then(Attr::as_i64).unwrap_or(1);
        let rank = i64::try_from(rank).ok()?;
        let axis = if axis < 0 { axis + rank } else { axis };
        Some(usize::try_from(axis).ok().filter(|&a| (a as i64) < rank)?)
    };
    Some(QuantizeParams {
        scales,
        zero_points,
        axis,
        range: (-128, 127),
    })
}
