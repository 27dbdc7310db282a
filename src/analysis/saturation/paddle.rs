//! Finding the int8 weights of Paddle compute ops.
//!
//! PaddleSlim programs saved with `onnx_format=True` feed each quantized weight through
//! `dequantize_linear`, and the parameter behind it contains the int8 codes. Post-training
//! quantization stores them as int8 records in `.pdiparams` although the variable is declared
//! float32 (the loader keeps the stored type). A Paddle 3 `paddle.quantization.QAT` program
//! saved as PIR JSON stores its codes as float32 values. Paddle2ONNX 1.3.1 turns the codes back
//! into float weights behind a QuantizeLinear, and ORT folds them to the same codes.

use super::{Reduction, WeightMatrix, WeightSource, int8_codes, layout};
use crate::analysis::quant;
use crate::graph::{Attr, Graph, Node, TensorData, TensorId};

/// Finds the int8 weight of a Paddle `conv2d`, `depthwise_conv2d`, `matmul_v2`, `matmul` or
/// `mul`, or `None` when the op is not quantized on both inputs or its weight cannot be read.
pub(super) fn weight_matrix(graph: &Graph, node: &Node) -> Option<WeightMatrix> {
    if !quant::is_paddle_domain(&node.domain) {
        return None;
    }
    let op = quant::paddle_op(&node.op_type);
    let (data_slot, weight_slot) = match op {
        "conv2d" | "depthwise_conv2d" => ("Input", "Filter"),
        "matmul_v2" | "matmul" | "mul" => ("X", "Y"),
        _ => return None,
    };
    let data = slot_input(node, data_slot, 0)?;
    if !is_dequantized(graph, data) {
        return None;
    }

    let dequantize = graph.node(graph.producer(slot_input(node, weight_slot, 1)?)?);
    if quant::paddle_op(&dequantize.op_type) != "dequantize_linear"
        || quant::is_paddle_observer_only(dequantize)
    {
        return None;
    }

    let param = graph.constant(slot_input(dequantize, "X", 0)?)?;
    let (codes, source) = match int8_codes(param) {
        Some(codes) => (codes, WeightSource::PaddleInt8Codes),
        None => (float_codes(param)?, WeightSource::PaddleFloatCodes),
    };
    let (dims, reduction) = reduction(node, op, &param.dims)?;
    Some(WeightMatrix {
        codes,
        layout: layout(&dims, reduction)?,
        source,
    })
}

/// Returns the tensor bound to `slot` (ProgramDesc), or the one at `position` when the ports
/// carry no slot names (PIR programs list operands by position).
fn slot_input(node: &Node, slot: &str, position: usize) -> Option<TensorId> {
    if node.inputs.iter().any(|p| !p.slot.is_empty()) {
        node.slot_inputs(slot).next()
    } else {
        node.input(position)
    }
}

/// True when `tensor` comes from a dequantize op that really quantizes (not an observer).
fn is_dequantized(graph: &Graph, tensor: TensorId) -> bool {
    graph
        .producer(tensor)
        .map(|p| graph.node(p))
        .is_some_and(|p| quant::is_dequantize(p) && !quant::is_paddle_observer_only(p))
}

/// Reads float values that are all whole numbers in the int8 range as codes.
// NOTE: a float weight whose values all happen to be whole numbers in [-128, 127], such as a
// tiny hand-set filter, is read as codes too. Trained float weights are not whole numbers.
fn float_codes(param: &TensorData) -> Option<Vec<i8>> {
    if !param.dtype.is_float() {
        return None;
    }
    param
        .to_f64()
        .ok()?
        .into_iter()
        .map(|v| {
            let whole = v.fract() == 0.0 && (-128.0..=127.0).contains(&v);
            whole.then_some(v as i8)
        })
        .collect()
}

/// Returns the weight dims as the kernel reduces over them, and the reduction pattern.
fn reduction(node: &Node, op: &str, dims: &[i64]) -> Option<(Vec<i64>, Reduction)> {
    let int_attr = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| node.attr(n).and_then(Attr::as_i64))
    };
    let transposed = int_attr(&["trans_y", "transpose_y", "transpose_Y"]).unwrap_or(0) != 0;
    match op {
        "conv2d" | "depthwise_conv2d" => {
            let group = int_attr(&["groups"]).unwrap_or(1);
            Some((dims.to_vec(), Reduction::Conv { group }))
        }
        "mul" => {
            // `mul` flattens Y to [prod(dims[..y_num_col_dims]), prod(rest)].
            let split = usize::try_from(int_attr(&["y_num_col_dims"]).unwrap_or(1)).ok()?;
            let product = |part: &[i64]| part.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d));
            let k = product(dims.get(..split)?)?;
            let n = product(dims.get(split..)?)?;
            Some((vec![k, n], Reduction::MatMul))
        }
        _ if transposed => Some((dims.to_vec(), Reduction::MatMulTransposed)),
        _ => Some((dims.to_vec(), Reduction::MatMul)),
    }
}
