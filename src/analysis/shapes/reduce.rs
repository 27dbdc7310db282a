//! Inference for reductions, Resize, Pad and Split.

use crate::graph::Node;

use super::ops::{Ctx, Out, attr_floats, attr_i64, attr_ints};
use super::tensor_ops::{axes_of, axis_index};

/// Output shape of a reduction over `axes` (all axes when empty), keeping reduced dims as 1
/// when `keepdims` is set.
fn reduce_shape(input: &[i64], axes: &[usize], keepdims: bool) -> Vec<i64> {
    let reduced = |i: usize| axes.is_empty() || axes.contains(&i);
    input
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (reduced(i), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

pub(super) fn reduce(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let keepdims = attr_i64(node, "keepdims").unwrap_or(1) != 0;
    let axes = match axes_of(ctx, node) {
        Some(axes) => axes,
        None if ctx.has_input(node, 1) => return None,
        None => Vec::new(),
    };
    if axes.is_empty() && attr_i64(node, "noop_with_empty_axes").unwrap_or(0) != 0 {
        return Some(input.to_vec());
    }
    let axes = axes
        .iter()
        .map(|&a| axis_index(a, input.len()))
        .collect::<Option<Vec<usize>>>()?;
    Some(reduce_shape(input, &axes, keepdims))
}

pub(super) fn arg_reduce(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let axis = axis_index(attr_i64(node, "axis").unwrap_or(0), input.len())?;
    let keepdims = attr_i64(node, "keepdims").unwrap_or(1) != 0;
    Some(reduce_shape(input, &[axis], keepdims))
}

/// Resize (opset 10: `X, scales`; 11 and later: `X, roi, scales, sizes`) and Upsample, when
/// the sizes or scales are constant.
pub(super) fn resize(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    if ctx.has_input(node, 3) {
        let sizes = ctx.value(node, 3)?;
        return (sizes.len() == input.len()).then(|| sizes.to_vec());
    }
    let scales = if node.op_type == "Resize" && node.inputs.len() >= 3 {
        ctx.constant_f64(node, 2)?
    } else if ctx.has_input(node, 1) {
        ctx.constant_f64(node, 1)?
    } else {
        attr_floats(node, "scales")?
    };
    if scales.len() != input.len() {
        return None;
    }
    input
        .iter()
        .zip(&scales)
        .map(|(&d, &s)| {
            let v = (d as f64 * s).floor();
            (v.is_finite() && v >= 0.0 && v < i64::MAX as f64).then_some(v as i64)
        })
        .collect()
}

pub(super) fn pad(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    if ctx.has_input(node, 3) {
        // NOTE: Pad-18 `axes` is not modelled; such pads are left unknown.
        return None;
    }
    let pads = attr_ints(node, "pads").or_else(|| ctx.value(node, 1))?;
    let rank = input.len();
    if pads.len() != rank * 2 {
        return None;
    }
    (0..rank)
        .map(|i| input[i].checked_add(pads[i])?.checked_add(pads[i + rank]))
        .collect()
}

pub(super) fn split(ctx: &Ctx, node: &Node) -> Vec<Option<Out>> {
    let count = node.outputs.len();
    let parts = (|| {
        let input = ctx.shape(node, 0)?;
        let axis = axis_index(attr_i64(node, "axis").unwrap_or(0), input.len())?;
        let dim = input[axis];
        let sizes: Vec<i64> = match attr_ints(node, "split").or_else(|| ctx.value(node, 1)) {
            Some(s) => s.to_vec(),
            None if ctx.has_input(node, 1) => return None,
            None => {
                // Equal parts, the last one smaller when the dim does not divide (Split-18).
                let n = i64::try_from(count).ok().filter(|&n| n > 0)?;
                let chunk = if dim <= 0 { 0 } else { (dim - 1) / n + 1 };
                (0..n)
                    .map(|k| Some(chunk.min(dim.checked_sub(chunk.checked_mul(k)?)?).max(0)))
                    .collect::<Option<Vec<i64>>>()?
            }
        };
        let total = sizes.iter().try_fold(0i64, |acc, &s| acc.checked_add(s));
        if sizes.len() != count || total != Some(dim) {
            return None;
        }
        Some(
            sizes
                .iter()
                .map(|&s| {
                    let mut shape = input.to_vec();
                    shape[axis] = s;
                    shape
                })
                .collect::<Vec<_>>(),
        )
    })();
    let dtype = ctx.dtype(node, 0);
    match parts {
        Some(shapes) => shapes
            .into_iter()
            .map(|s| Out::new(dtype, Some(s)))
            .collect(),
        None => (0..count).map(|_| Out::new(dtype, None)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_keeps_or_drops() {
        assert_eq!(reduce_shape(&[1, 8, 4, 4], &[2, 3], true), vec![1, 8, 1, 1]);
        assert_eq!(reduce_shape(&[1, 8, 4, 4], &[2, 3], false), vec![1, 8]);
        assert_eq!(reduce_shape(&[2, 3], &[], false), Vec::<i64>::new());
    }
}
