//! The weight-only selector: a MatMul or Gemm whose only DequantizeLinear input is a constant
//! 2-D weight becomes com.microsoft::MatMulNBits, after ORT's `DQMatMulNodeGroupSelector` and
//! `ValidateDQForMatMulNBits` (per tensor, per output channel on axis 1, or in blocks along
//! axis 0).

use super::group::{Context, Group};
use super::reason::Reason;
use std::collections::HashMap;

use super::sim::{Sim, SimTensor};
use crate::graph::{Attr, DataType};

/// Checks the weight-only pattern on `node`.
pub fn check(ctx: &Context, node: usize, group: &Group) -> Result<(), Reason> {
    let sim = ctx.sim;
    let gemm = sim.is_op(node, "Gemm");
    let fail = |detail: &str| {
        Err(Reason::NbitsWeight {
            detail: detail.to_string(),
        })
    };
    if !group.qs.is_empty() {
        return fail("a QuantizeLinear reads the output");
    }
    let allowed = if gemm { 1..=2 } else { 1..=1 };
    if !allowed.contains(&group.dqs.len()) {
        return fail("other inputs come from DequantizeLinear too");
    }
    let Some(&(_, weight_dq)) = group.dqs.iter().find(|&&(slot, _)| slot == 1) else {
        return Err(ctx.float_input(node, 1));
    };
    if !sim.single_edge(weight_dq) {
        return fail("the weight's DequantizeLinear has other readers");
    }
    if gemm {
        if let Some(&(slot, _)) = group.dqs.iter().find(|&&(_, dq)| dq != weight_dq)
            && slot != 2
        {
            return fail("input A comes from a DequantizeLinear");
        }
        gemm_attributes(ctx, node, weight_dq)?;
    }
    weight(ctx, weight_dq)
}

/// A Gemm must be a plain MatMul: alpha 1, no transposes, and a bias of beta 1 and length N.
fn gemm_attributes(ctx: &Context, node: usize, weight_dq: usize) -> Result<(), Reason> {
    let sim = ctx.sim;
    let float = |name: &str| sim.attr(node, name).and_then(Attr::as_f64).unwrap_or(1.0);
    let int = |name: &str| sim.attr(node, name).and_then(Attr::as_i64).unwrap_or(0);
    let near_one = |v: f64| (v - 1.0).abs() <= 1e-6;
    let fail = |detail: &str| {
        Err(Reason::NbitsWeight {
            detail: detail.to_string(),
        })
    };
    if !near_one(float("alpha")) || int("transA") != 0 || int("transB") != 0 {
        return fail("the Gemm scales or transposes its inputs");
    }

    let Some(bias) = sim.input(node, 2) else {
        return Ok(());
    };
    if !near_one(float("beta")) {
        return fail("the Gemm bias has beta other than 1");
    }
    let n = sim
        .input(weight_dq, 0)
        .and_then(|w| sim.tensor(w).dims.clone())
        .and_then(|d| d.get(1).copied());
    let length = sim
        .tensor(bias)
        .dims
        .clone()
        .and_then(|d| match d.as_slice() {
            [length] => Some(*length),
            _ => None,
        });
    if n.is_none() || n != length {
        return fail("the Gemm bias is not one value per output column");
    }
    Ok(())
}

/// Checks the weight: a constant 2-D 4- or 8-bit tensor with a float scale that no other node
/// reads, quantized as [`granularity`] allows.
fn weight(ctx: &Context, dq: usize) -> Result<(), Reason> {
    let sim = ctx.sim;
    let fail = |detail: &str| {
        Err(Reason::NbitsWeight {
            detail: detail.to_string(),
        })
    };
    let (Some(w), Some(scale)) = (sim.input(dq, 0), sim.input(dq, 1)) else {
        return fail("the DequantizeLinear lacks an input");
    };
    let zero_point = sim.input(dq, 2);
    let (w, scale_t) = (sim.tensor(w), sim.tensor(scale));
    if !matches!(scale_t.dtype, Some(DataType::Float32 | DataType::Float16)) {
        return fail("its scale is not float32 or float16");
    }
    let nbits = matches!(
        w.dtype,
        Some(DataType::Int8 | DataType::UInt8 | DataType::Int4 | DataType::UInt4)
    );
    if !nbits {
        return fail("it is not a 4- or 8-bit integer tensor");
    }

    let zp = zero_point.map(|z| sim.tensor(z));
    if !w.constant || !scale_t.constant || zp.is_some_and(|z| !z.constant) {
        return fail("it or its scale or zero point is not a constant");
    }
    if shared(ctx, scale) {
        return fail("its scale constant is also read by other nodes");
    }
    let Some(&[k, n]) = w.dims.as_deref() else {
        return fail("it is not a 2-D constant");
    };
    let scale_dims = scale_t.dims.clone().unwrap_or_default();
    let zp_dims = zp.map(|z| z.dims.clone().unwrap_or_default());
    granularity(ctx, dq, [k, n], &scale_dims, zp_dims.as_deref())
}

/// Checks that a `[k, n]` weight is quantized per tensor, per column (axis 1) or in
/// power-of-two blocks of at least 16 along axis 0.
fn granularity(
    ctx: &Context,
    dq: usize,
    [k, n]: [i64; 2],
    scale_dims: &[i64],
    zp_dims: Option<&[i64]>,
) -> Result<(), Reason> {
    let sim = ctx.sim;
    let fail = |detail: &str| {
        Err(Reason::NbitsWeight {
            detail: detail.to_string(),
        })
    };
    let block = sim
        .attr(dq, "block_size")
        .and_then(Attr::as_i64)
        .unwrap_or(0);
    let axis = sim.attr(dq, "axis").and_then(Attr::as_i64);
    if block > 0 {
        let power_of_two = block >= 16 && (block & (block - 1)) == 0;
        let blocks = [k.saturating_add(block - 1) / block, n];
        let fits = scale_dims == blocks && zp_dims.is_none_or(|d| d == blocks);
        if axis != Some(0) || !power_of_two || !fits {
            return fail("its blocks are not power-of-two blocks of 16 or more along axis 0");
        }
        return Ok(());
    }

    let per_tensor = scale_dims.is_empty() && zp_dims.is_none_or(<[i64]>::is_empty);
    let per_column =
        scale_dims == [n] && axis.is_none_or(|a| a == 1) && zp_dims.is_none_or(|d| d == [n]);
    if per_tensor || per_column {
        Ok(())
    } else {
        fail("it is quantized neither per tensor nor per output column (axis 1)")
    }
}

/// True when another node reads the constant, or an equal one-value constant that ORT's
/// ConstantSharing merges with it (float, float16, double, int32 or int64, same rank). In ORT
/// 1.31.1 a MatMul whose weight scale is shared that way stays float (measured).
fn shared(ctx: &Context, tensor: usize) -> bool {
    let sim = ctx.sim;
    match sharing_key(sim.tensor(tensor)) {
        Some(key) => ctx
            .shared_readers
            .get_or_init(|| shared_readers(sim))
            .get(&key)
            .is_some_and(|&readers| readers > 1),
        None => readers(sim, tensor) > 1,
    }
}

/// Counts, per ConstantSharing key, the nodes that read a constant with that key.
fn shared_readers(sim: &Sim) -> HashMap<SharingKey, usize> {
    let mut counts = HashMap::new();
    for (index, tensor) in sim.tensors.iter().enumerate() {
        if let Some(key) = sharing_key(tensor) {
            *counts.entry(key).or_insert(0) += readers(sim, index);
        }
    }
    counts
}

/// Counts the distinct nodes that read a tensor.
fn readers(sim: &Sim, tensor: usize) -> usize {
    let mut nodes: Vec<usize> = sim.uses(tensor).iter().map(|u| u.node).collect();
    nodes.dedup();
    nodes.len()
}

/// The key ORT's ConstantSharing merges one-value constants by: type, value bits and rank.
pub type SharingKey = (DataType, u64, usize);

/// Returns the key ORT's ConstantSharing merges one-value constants by: type, value and rank.
fn sharing_key(tensor: &SimTensor) -> Option<SharingKey> {
    let shareable = matches!(
        tensor.dtype,
        Some(
            DataType::Float32
                | DataType::Float16
                | DataType::Float64
                | DataType::Int32
                | DataType::Int64
        )
    );
    let rank = tensor.dims.as_ref()?.len();
    if !tensor.constant || !shareable || tensor.elements() != Some(1) || rank > 1 {
        return None;
    }
    Some((tensor.dtype?, tensor.scalar?.to_bits(), rank))
}
