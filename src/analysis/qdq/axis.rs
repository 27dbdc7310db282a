//! Per-channel quantization axes of weights against the op that reads the weight.
//!
//! A per-channel scale must run along the weight's output channels (see [`super::channels`]).
//! ONNX QuantizeLinear/DequantizeLinear take `axis` (default 1 when the attribute is missing,
//! which is wrong for Conv weights); Paddle quant ops take `quant_axis` (-1 for per-tensor).
//! Only ops whose data input is a constant (a weight) and whose scale has more than one value
//! (ONNX) or whose `quant_axis` is not negative (Paddle) are checked.

use super::Ctx;
use super::channels::{self, ChannelAxis};
use super::elements::is_paddle_quant;
use crate::analysis::{FactMap, Value, quant};
use crate::graph::{Attr, Node, NodeId, TensorId};

/// Axis, weight and scale length that one quant op declares.
struct Declared {
    /// The weight tensor (the op's data input).
    data: TensorId,
    /// The axis the op quantizes along, `axis` defaulted to 1 where missing.
    axis: i64,
    /// True when an ONNX op has no `axis` attribute.
    missing: bool,
    scale_len: Option<usize>,
}

/// Records the `quant_axis.*` facts of a per-channel quant op on a weight.
pub(super) fn add(ctx: &Ctx<'_>, id: NodeId, facts: &mut FactMap) {
    let node = ctx.graph.node(id);
    let declared = if quant::is_onnx_quantize(node) || quant::is_onnx_dequantize(node) {
        onnx(ctx, node)
    } else if is_paddle_quant(node) {
        paddle(ctx, node)
    } else {
        None
    };
    let Some(declared) = declared else { return };
    if !ctx.is_constant(declared.data) {
        return;
    }
    let Some(expected) = channels::consumer_axis(ctx.graph, ctx.inferred, declared.data) else {
        return;
    };
    record(ctx, &declared, expected, facts);
}

fn onnx(ctx: &Ctx<'_>, node: &Node) -> Option<Declared> {
    if node.attr("block_size").and_then(Attr::as_i64).unwrap_or(0) != 0 {
        return None;
    }
    let scale_len = node
        .input(1)
        .and_then(|t| ctx.graph.constant(t))
        .and_then(|s| s.element_count());
    if scale_len.is_none_or(|len| len <= 1) {
        return None;
    }
    let attr = node.attr("axis").and_then(Attr::as_i64);
    Some(Declared {
        data: node.input(0)?,
        axis: attr.unwrap_or(1),
        missing: attr.is_none(),
        scale_len,
    })
}

fn paddle(ctx: &Ctx<'_>, node: &Node) -> Option<Declared> {
    // NOTE: Paddle 3 PIR programs load with positional inputs and no slot names, so their
    // quant ops have no `X` here and are not checked.
    let axis = node.attr("quant_axis").and_then(Attr::as_i64)?;
    if axis < 0 {
        return None;
    }
    let scale_len = node.slot_inputs("Scale").next().and_then(|t| {
        ctx.graph
            .constant(t)
            .and_then(|c| c.element_count())
            .or_else(|| numel(ctx, t))
    });
    Some(Declared {
        data: node.slot_inputs("X").next()?,
        axis,
        missing: false,
        scale_len,
    })
}

fn numel(ctx: &Ctx<'_>, tensor: TensorId) -> Option<usize> {
    channels::dims(ctx.graph, ctx.inferred, tensor)?
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
}

fn consumer_name(node: &Node) -> String {
    let flag = |name: &str| node.attr(name).and_then(Attr::as_bool).unwrap_or(false);
    let op = node.qualified_op();
    match quant::paddle_op(&node.op_type) {
        "matmul_v2" if flag("trans_y") => format!("{op} (trans_y)"),
        "matmul" if flag("transpose_Y") => format!("{op} (transpose_Y)"),
        _ if node.attr("transB").and_then(Attr::as_i64).unwrap_or(0) != 0 => {
            format!("{op} (transB)")
        }
        _ => op,
    }
}

fn record(ctx: &Ctx<'_>, declared: &Declared, expected: ChannelAxis, facts: &mut FactMap) {
    let dims = channels::dims(ctx.graph, ctx.inferred, declared.data).unwrap_or_default();
    let rank = dims.len() as i64;
    let actual = if declared.axis < 0 && rank > 0 {
        declared.axis + rank
    } else {
        declared.axis
    };
    let dim_at = |axis: i64| {
        usize::try_from(axis)
            .ok()
            .and_then(|a| dims.get(a).copied())
    };
    let put = |facts: &mut FactMap, name: &str, value: Value| {
        facts.insert(format!("quant_axis.{name}"), value);
    };
    let fits = i64::try_from(expected.axis).ok() == Some(actual);
    put(facts, "fits", Value::Bool(fits));
    put(facts, "actual", Value::Num(declared.axis as f64));
    put(facts, "expected", Value::Num(expected.axis as f64));
    put(facts, "missing", Value::Bool(declared.missing));
    let consumer = ctx.graph.node(expected.consumer);
    put(facts, "consumer", Value::Str(consumer_name(consumer)));
    if let Some(len) = declared.scale_len {
        put(facts, "scale_len", Value::Num(len as f64));
    }
    if let Some(dim) = dim_at(actual) {
        put(facts, "dim", Value::Num(dim as f64));
    }
    if let Some(dim) = i64::try_from(expected.axis).ok().and_then(dim_at) {
        put(facts, "expected_dim", Value::Num(dim as f64));
    }
    let name = &ctx.graph.tensor(declared.data).name;
    put(facts, "weight", Value::Str(name.clone()));
}

#[cfg(test)]
mod tests {
    use crate::analysis::testutil::Net;
    use crate::analysis::{self, Value};
    use crate::graph::{Attr, DataType, Stage};
    use crate::host::CpuTarget;

    fn node_fact(model: &crate::graph::Model, op: &str, name: &str) -> Option<Value> {
        let cpu = CpuTarget::parse("zen4").ok()?;
        let facts = analysis::compute(model, &cpu, "cpu");
        let graph = &model.graph;
        let id = graph.node_ids().find(|&n| graph.node(n).op_type == op)?;
        facts.nodes.get(id.index())?.get(name).cloned()
    }

    fn conv_with_weight_dq(axis: Option<i64>, cin: i64) -> crate::graph::Model {
        let mut net = Net::onnx();
        let attrs: Vec<(&str, Attr)> = axis.map(|a| ("axis", Attr::Int(a))).into_iter().collect();
        net.input("x", DataType::Float32, &[1, cin, 8, 8])
            .ints(
                "w",
                DataType::Int8,
                &[4, cin, 3, 3],
                &vec![1; (4 * cin * 9) as usize],
            )
            .floats("s", &[4], 0.1)
            .ints("z", DataType::Int8, &[4], &[0; 4])
            .op("DequantizeLinear", &["w", "s", "z"], &["wd"], &attrs)
            .op("Conv", &["x", "wd"], &["y"], &[]);
        net.model(Stage::Onnx)
    }

    #[test]
    fn missing_axis_on_conv_weight_does_not_fit() {
        let model = conv_with_weight_dq(None, 4);
        let fits = node_fact(&model, "DequantizeLinear", "quant_axis.fits");
        assert_eq!(fits, Some(Value::Bool(false)));
        let missing = node_fact(&model, "DequantizeLinear", "quant_axis.missing");
        assert_eq!(missing, Some(Value::Bool(true)));
        let actual = node_fact(&model, "DequantizeLinear", "quant_axis.actual");
        assert_eq!(actual, Some(Value::Num(1.0)));
    }

    #[test]
    fn axis_0_on_conv_weight_fits() {
        let model = conv_with_weight_dq(Some(0), 3);
        let fits = node_fact(&model, "DequantizeLinear", "quant_axis.fits");
        assert_eq!(fits, Some(Value::Bool(true)));
    }

    #[test]
    fn paddle_conv_transpose_wants_axis_1() {
        let mut net = Net::paddle();
        net.var("x", DataType::Float32, &[1, 4, 8, 8])
            .ints("w", DataType::Int8, &[4, 2, 2, 2], &[1; 32])
            .floats("s", &[4], 0.1)
            .ints("z", DataType::Int32, &[4], &[0; 4])
            .var("wd", DataType::Float32, &[4, 2, 2, 2])
            .var("y", DataType::Float32, &[1, 2, 16, 16])
            .paddle_op(
                "dequantize_linear",
                &[("X", "w"), ("Scale", "s"), ("ZeroPoint", "z")],
                &[("Y", "wd")],
                &[("quant_axis", Attr::Int(0)), ("bit_length", Attr::Int(8))],
            )
            .paddle_op(
                "conv2d_transpose",
                &[("Input", "x"), ("Filter", "wd")],
                &[("Output", "y")],
                &[],
            );
        let model = net.model(Stage::Paddle);
        let op = "dequantize_linear";
        assert_eq!(
            node_fact(&model, op, "quant_axis.fits"),
            Some(Value::Bool(false))
        );
        assert_eq!(
            node_fact(&model, op, "quant_axis.expected"),
            Some(Value::Num(1.0))
        );
        assert_eq!(
            node_fact(&model, op, "quant_axis.consumer"),
            Some(Value::Str("conv2d_transpose".into()))
        );
    }
}
