//! The check each selector kind makes, after the node group selectors in ORT's
//! `qdq_selectors.cc`. Each returns the kernel ORT writes, or why it leaves the node float.

use super::group::{Context, Group, check_width};
use super::reason::Reason;
use super::table::{OpEntry, Selector, SelectorKind};
use crate::graph::{Attr, DataType};

/// Runs the check of `selector` on `node`.
pub fn check(
    ctx: &Context,
    node: usize,
    selector: &Selector,
    entry: &OpEntry,
    int8_allowed: bool,
) -> Result<String, Reason> {
    let group = ctx.group(node);
    let kernel = entry.kernel.clone().unwrap_or_else(|| entry.op.clone());
    match selector.kind {
        SelectorKind::DropQdq => drop_qdq(ctx, node, &group, selector),
        SelectorKind::DropDq => drop_dq(ctx, node, &group),
        SelectorKind::Split => split(ctx, node, &group),
        SelectorKind::Unary => same_type(ctx, node, &group, Some(&[0])),
        SelectorKind::Binary | SelectorKind::Variadic => same_type(ctx, node, &group, None),
        SelectorKind::Where => same_type(ctx, node, &group, Some(&[1, 2])),
        SelectorKind::Conv => {
            conv(ctx, node, &group, int8_allowed).map_err(|r| weight(ctx, node, r))
        }
        SelectorKind::Matmul => {
            return matmul(ctx, node, &group, int8_allowed, entry);
        }
        SelectorKind::Gemm => gemm(ctx, node, &group).map_err(|r| weight(ctx, node, r)),
        SelectorKind::DqMatmulNbits => super::nbits::check(ctx, node, &group),
    }
    .map(|()| kernel)
}

/// Names a float weight that is no constant, which ORT's weight quantization cannot help.
fn weight(ctx: &Context, node: usize, reason: Reason) -> Reason {
    let sim = ctx.sim;
    match (&reason, sim.input(node, 1)) {
        (
            Reason::FloatInput {
                slot: 1, tensor, ..
            },
            Some(w),
        ) if !sim.tensor(w).constant => Reason::WeightNotConstant {
            tensor: tensor.clone(),
        },
        _ => reason,
    }
}

/// Returns the element types of the group's DequantizeLinear inputs and QuantizeLinear
/// outputs.
fn types(ctx: &Context, group: &Group) -> Result<(Vec<DataType>, Vec<DataType>), Reason> {
    let inputs = group
        .dqs
        .iter()
        .map(|&(_, dq)| ctx.dq_type(dq))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = group
        .qs
        .iter()
        .map(|&q| ctx.q_type(q))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((inputs, outputs))
}

/// Unary, binary, variadic and Where: every quantized input and output has one type.
fn same_type(
    ctx: &Context,
    node: usize,
    group: &Group,
    slots: Option<&[usize]>,
) -> Result<(), Reason> {
    ctx.check_nodes(node, group, slots, false)?;
    let (inputs, outputs) = types(ctx, group)?;
    let (Some(&first), Some(&out)) = (inputs.first(), outputs.first()) else {
        return Ok(());
    };
    for (i, &dtype) in inputs.iter().enumerate().skip(1) {
        if dtype != first {
            let dqs = [dq_at(group, 0), dq_at(group, i)];
            return Err(ctx.inputs_differ(dqs, [first, dtype]));
        }
    }
    for (i, &dtype) in outputs.iter().enumerate() {
        if dtype != first {
            let q = group.qs.get(i).copied().unwrap_or(usize::MAX);
            return Err(ctx.mismatch(dq_at(group, 0), q, first, dtype));
        }
    }
    check_width(first, false)?;
    check_width(out, false)
}

fn dq_at(group: &Group, index: usize) -> usize {
    group.dqs.get(index).map_or(usize::MAX, |&(_, dq)| dq)
}

fn q_at(group: &Group, index: usize) -> usize {
    group.qs.get(index).copied().unwrap_or(usize::MAX)
}

/// Ops that only move data: the pair around them must quantize alike, so it can be dropped.
fn drop_qdq(ctx: &Context, node: usize, group: &Group, selector: &Selector) -> Result<(), Reason> {
    ctx.check_nodes(node, group, Some(&[0]), false)?;
    let (dq, q) = (dq_at(group, 0), q_at(group, 0));
    let (input, output) = (ctx.dq_type(dq)?, ctx.q_type(q)?);
    if input != output {
        return Err(ctx.mismatch(dq, q, input, output));
    }
    check_width(input, selector.allow_16bit)?;
    if selector.positive_scale {
        let scale = ctx.sim.input(q, 1).map(|t| ctx.sim.tensor(t));
        match scale.filter(|s| s.constant).and_then(|s| s.scalar) {
            Some(value) if value > 0.0 => {}
            Some(_) => return Err(Reason::NonPositiveScale),
            None => return Err(Reason::ParamsNotConstant),
        }
    }
    same_params(ctx, dq, q)
}

/// Reads the constant scale and zero point of a QuantizeLinear or DequantizeLinear.
fn params(ctx: &Context, node: usize) -> Option<(f64, f64, Option<DataType>)> {
    let sim = ctx.sim;
    let scale = sim.input(node, 1)?;
    if !sim.is_constant_scalar(scale) {
        return None;
    }
    let (zero, zero_type) = match sim.input(node, 2) {
        Some(zp) if sim.is_constant_scalar(zp) => (sim.tensor(zp).scalar?, sim.dtype(zp)),
        Some(_) => return None,
        None => (0.0, Some(DataType::UInt8)),
    };
    Some((sim.tensor(scale).scalar?, zero, zero_type))
}

/// The DequantizeLinear before and the QuantizeLinear after must have equal constant scalar
/// scales and zero points (ORT's IsQDQPairSupported).
fn same_params(ctx: &Context, dq: usize, q: usize) -> Result<(), Reason> {
    let (Some(input), Some(output)) = (params(ctx, dq), params(ctx, q)) else {
        return Err(Reason::ParamsNotConstant);
    };
    if input == output {
        return Ok(());
    }
    let describe = |(scale, zero, _): (f64, f64, Option<DataType>)| {
        format!(
            "scale {} zero point {}",
            crate::analysis::format_number(scale),
            crate::analysis::format_number(zero)
        )
    };
    Err(Reason::QdqParamsDiffer {
        input: describe(input),
        output: describe(output),
    })
}

/// ArgMax: one DequantizeLinear with constant scalar parameters.
fn drop_dq(ctx: &Context, node: usize, group: &Group) -> Result<(), Reason> {
    let dq = dq_at(group, 0);
    if group.dqs.len() != 1 || group.dqs.first().map(|&(s, _)| s) != Some(0) {
        return Err(ctx.float_input(node, 0));
    }
    check_width(ctx.dq_type(dq)?, false)?;
    params(ctx, dq).map(|_| ()).ok_or(Reason::ParamsNotConstant)
}

/// Split: one DequantizeLinear in, a QuantizeLinear on every output, all quantized alike.
fn split(ctx: &Context, node: usize, group: &Group) -> Result<(), Reason> {
    ctx.check_nodes(node, group, Some(&[0]), false)?;
    let dq = dq_at(group, 0);
    let input = ctx.dq_type(dq)?;
    check_width(input, true)?;
    for &q in &group.qs {
        let output = ctx.q_type(q)?;
        if output != input {
            return Err(ctx.mismatch(dq, q, input, output));
        }
        same_params(ctx, dq, q)?;
    }
    Ok(())
}

/// Conv: input and output of one type; int8 input only where allowed and with int8 weights;
/// an int32 bias.
fn conv(ctx: &Context, node: usize, group: &Group, int8_allowed: bool) -> Result<(), Reason> {
    ctx.check_nodes(node, group, None, false)?;
    let (dq_x, dq_w, q) = (dq_at(group, 0), dq_at(group, 1), q_at(group, 0));
    let (input, weight, output) = (ctx.dq_type(dq_x)?, ctx.dq_type(dq_w)?, ctx.q_type(q)?);
    if input != output {
        return Err(ctx.mismatch(dq_x, q, input, output));
    }
    if matches!(weight, DataType::Int4 | DataType::UInt4) {
        return Err(Reason::UnsupportedType { dtype: weight });
    }
    int8_activation(ctx, dq_x, input, weight, int8_allowed)?;
    if let Some(&(_, dq_b)) = group.dqs.get(2) {
        let bias = ctx.dq_type(dq_b)?;
        if bias != DataType::Int32 {
            return Err(Reason::BiasNotInt32 { dtype: bias });
        }
    }
    check_width(input, false)?;
    check_width(weight, false)
}

/// x86-64 builds reject int8 activations in Conv and MatMul; elsewhere they need int8 weights.
fn int8_activation(
    ctx: &Context,
    dq_x: usize,
    input: DataType,
    weight: DataType,
    int8_allowed: bool,
) -> Result<(), Reason> {
    if input != DataType::Int8 {
        return Ok(());
    }
    if !int8_allowed {
        let cause = ctx.dq_cause(dq_x).ok_or(Reason::UnknownType {
            tensor: "int8 activation".into(),
        })?;
        return Err(Reason::Int8Activation {
            cause: Box::new(cause),
        });
    }
    if weight != input {
        return Err(Reason::InputTypesDiffer {
            first: input,
            second: weight,
            cause: None,
        });
    }
    Ok(())
}

/// MatMul: both inputs from DequantizeLinear; QLinearMatMul with an output QuantizeLinear of
/// the input's type, MatMulIntegerToFloat without one.
fn matmul(
    ctx: &Context,
    node: usize,
    group: &Group,
    int8_allowed: bool,
    entry: &OpEntry,
) -> Result<String, Reason> {
    for slot in [0, 1] {
        if !group.dqs.iter().any(|&(s, _)| s == slot) {
            return Err(ctx.float_input(node, slot));
        }
    }
    let (dq_a, dq_b) = (dq_at(group, 0), dq_at(group, 1));
    let (input, weight) = (ctx.dq_type(dq_a)?, ctx.dq_type(dq_b)?);
    int8_activation(ctx, dq_a, input, weight, int8_allowed)?;
    check_width(input, false)?;
    check_width(weight, false)?;
    let kernel = |k: &Option<String>| k.clone().unwrap_or_else(|| entry.op.clone());
    if group.qs.is_empty() {
        return Ok(kernel(&entry.kernel_without_q));
    }
    ctx.check_nodes(node, group, None, false)?;
    let q = q_at(group, 0);
    let output = ctx.q_type(q)?;
    if output != input {
        return Err(ctx.mismatch(dq_a, q, input, output));
    }
    Ok(kernel(&entry.kernel))
}

/// Gemm: A, B and optional C from DequantizeLinear, and an optional output QuantizeLinear of
/// A's type. An int8 A needs an int8 B, and a bias needs beta 1 and int32.
fn gemm(ctx: &Context, node: usize, group: &Group) -> Result<(), Reason> {
    ctx.check_nodes(node, group, None, true)?;
    let (dq_a, dq_b) = (dq_at(group, 0), dq_at(group, 1));
    let (a, b) = (ctx.dq_type(dq_a)?, ctx.dq_type(dq_b)?);
    if a == DataType::Int8 && b != a {
        return Err(ctx.inputs_differ([dq_a, dq_b], [a, b]));
    }
    if let Some(&q) = group.qs.first() {
        let y = ctx.q_type(q)?;
        if y != a {
            return Err(ctx.mismatch(dq_a, q, a, y));
        }
    }
    check_width(a, false)?;
    check_width(b, false)?;

    let Some(&(_, dq_c)) = group.dqs.get(2) else {
        return Ok(());
    };
    let beta = ctx
        .sim
        .attr(node, "beta")
        .and_then(Attr::as_f64)
        .unwrap_or(1.0);
    if beta != 1.0 {
        return Err(Reason::GemmBeta { beta });
    }
    let bias = ctx.dq_type(dq_c)?;
    if bias != DataType::Int32 {
        return Err(Reason::BiasNotInt32 { dtype: bias });
    }
    Ok(())
}
