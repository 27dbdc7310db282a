//! Inference for Slice, including the values of sliced shape tensors.

use crate::graph::Node;

use super::ops::{Ctx, Out, attr_ints};
use super::tensor_ops::axis_index;

/// Clamps the start, end and step of one sliced axis as the ONNX Slice spec defines.
fn slice_range(dim: i64, start: i64, end: i64, step: i64) -> Option<(i64, i64, i64)> {
    if step == 0 {
        return None;
    }
    let fix = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
    let (start, end) = if step > 0 {
        (fix(start).clamp(0, dim), fix(end).clamp(0, dim))
    } else {
        (fix(start).clamp(0, dim - 1), fix(end).clamp(-1, dim - 1))
    };
    Some((start, end, step))
}

/// Number of elements a clamped slice range selects.
fn slice_len(start: i64, end: i64, step: i64) -> Option<i64> {
    let span = if step > 0 {
        end.checked_sub(start)?
    } else {
        start.checked_sub(end)?
    };
    let step = step.checked_abs()?;
    Some(if span <= 0 { 0 } else { (span - 1) / step + 1 })
}

pub(super) fn slice(ctx: &Ctx, node: &Node) -> Option<Out> {
    let input = ctx.shape(node, 0)?;
    let (starts, ends, axes, steps) = if let Some(starts) = attr_ints(node, "starts") {
        (
            starts.to_vec(),
            attr_ints(node, "ends")?.to_vec(),
            attr_ints(node, "axes").map(<[i64]>::to_vec),
            None,
        )
    } else {
        let optional = |i| {
            if ctx.has_input(node, i) {
                ctx.value(node, i).map(<[i64]>::to_vec).map(Some)
            } else {
                Some(None)
            }
        };
        (
            ctx.value(node, 1)?.to_vec(),
            ctx.value(node, 2)?.to_vec(),
            optional(3)?,
            optional(4)?,
        )
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return None;
    }
    let mut shape = input.to_vec();
    let mut ranges = Vec::with_capacity(starts.len());
    for i in 0..starts.len() {
        let axis = axis_index(axes[i], input.len())?;
        let (s, e, st) = slice_range(input[axis], starts[i], ends[i], steps[i])?;
        shape[axis] = slice_len(s, e, st)?;
        ranges.push((axis, s, st));
    }
    let value = match (ctx.value(node, 0), ranges.as_slice()) {
        (Some(v), [(0, s, st)]) if input.len() == 1 => {
            let count = usize::try_from(shape[0]).ok()?;
            (0..count)
                .map(|k| {
                    let index = s.checked_add(st.checked_mul(i64::try_from(k).ok()?)?)?;
                    v.get(usize::try_from(index).ok()?).copied()
                })
                .collect::<Option<Vec<i64>>>()
        }
        _ => None,
    };
    Some(Out {
        dtype: ctx.dtype(node, 0),
        shape: Some(shape),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_clamps_like_onnx() {
        assert_eq!(slice_range(4, 0, i64::MAX, 1), Some((0, 4, 1)));
        assert_eq!(slice_range(4, -1, i64::MIN, -1), Some((3, -1, -1)));
        assert_eq!(slice_len(3, -1, -1), Some(4));
        assert_eq!(slice_len(0, 4, 3), Some(2));
        assert_eq!(slice_len(0, 4, i64::MIN), None);
        assert_eq!(slice_range(4, 0, 1, 0), None);
    }
}
