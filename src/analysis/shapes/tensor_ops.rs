//! Inference for ops that move or reshape data (Reshape, Transpose, Concat, Slice, Gather, ...)
//! and for constants.

use crate::graph::{Attr, DataType, Node};

use super::ops::{Ctx, Out, attr_i64, attr_ints, broadcast};
use super::{MAX_VALUE_LEN, reduce, slice, small_int_value};

/// Normalizes a possibly negative axis against `rank`.
pub(super) fn axis_index(axis: i64, rank: usize) -> Option<usize> {
    let rank = i64::try_from(rank).ok()?;
    let a = if axis < 0 {
        axis.checked_add(rank)?
    } else {
        axis
    };
    if (0..rank).contains(&a) {
        usize::try_from(a).ok()
    } else {
        None
    }
}

/// Product of dims; `None` on a negative dim or overflow.
pub fn numel(shape: &[i64]) -> Option<i64> {
    shape.iter().try_fold(
        1i64,
        |acc, &d| if d < 0 { None } else { acc.checked_mul(d) },
    )
}

/// Dispatches the data-movement, reduction and resize ops of the default domain.
pub(super) fn shape_op(ctx: &Ctx, node: &Node, op: &str) -> Vec<Option<Out>> {
    let dtype = ctx.dtype(node, 0);
    let with_value = |shape: Option<Vec<i64>>, keep: bool| {
        Some(Out {
            dtype,
            shape,
            value: if keep {
                ctx.value(node, 0).map(<[i64]>::to_vec)
            } else {
                None
            },
        })
    };
    let out = match op {
        "Reshape" => with_value(reshape(ctx, node), true),
        "Flatten" => Out::new(dtype, flatten(ctx, node)),
        "Squeeze" => with_value(squeeze(ctx, node), true),
        "Unsqueeze" => with_value(unsqueeze(ctx, node), true),
        "Transpose" => Out::new(dtype, transpose(ctx, node)),
        "Concat" => concat(ctx, node),
        "Shape" => shape_of(ctx, node),
        "Size" => Some(Out {
            dtype: Some(DataType::Int64),
            shape: Some(Vec::new()),
            value: ctx.shape(node, 0).and_then(numel).map(|n| vec![n]),
        }),
        "Slice" => slice::slice(ctx, node),
        "Gather" => gather(ctx, node),
        "GatherElements" => Out::new(dtype, ctx.shape(node, 1).map(<[i64]>::to_vec)),
        "Expand" => {
            let shape = match (ctx.shape(node, 0), ctx.value(node, 1)) {
                (Some(a), Some(b)) => broadcast(&[a, b]),
                _ => None,
            };
            Out::new(dtype, shape)
        }
        "Tile" => Out::new(dtype, tile(ctx, node)),
        "ConstantOfShape" => constant_of_shape(ctx, node),
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSum" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => {
            Out::new(dtype, reduce::reduce(ctx, node))
        }
        "ArgMax" | "ArgMin" => Out::new(Some(DataType::Int64), reduce::arg_reduce(ctx, node)),
        "Resize" | "Upsample" => Out::new(dtype, reduce::resize(ctx, node)),
        "Pad" => Out::new(dtype, reduce::pad(ctx, node)),
        "Split" => return reduce::split(ctx, node),
        _ => return Vec::new(),
    };
    vec![out]
}

/// Reads the value of a `Constant` node from its attributes.
pub(super) fn constant(node: &Node) -> Option<Out> {
    let (dtype, shape, value) = match node.attrs.iter().next().map(|(k, v)| (k.as_str(), v))? {
        ("value", Attr::Tensor(data)) => (data.dtype, data.dims.clone(), small_int_value(data)),
        ("value_int", Attr::Int(v)) => (DataType::Int64, Vec::new(), Some(vec![*v])),
        ("value_ints", Attr::Ints(v)) => {
            let len = i64::try_from(v.len()).ok()?;
            let value = (v.len() <= MAX_VALUE_LEN).then(|| v.clone());
            (DataType::Int64, vec![len], value)
        }
        ("value_float", Attr::Float(_)) => (DataType::Float32, Vec::new(), None),
        ("value_floats", Attr::Floats(v)) => {
            (DataType::Float32, vec![i64::try_from(v.len()).ok()?], None)
        }
        _ => return None,
    };
    Some(Out {
        dtype: Some(dtype),
        shape: Some(shape),
        value,
    })
}

fn reshape(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let target = ctx.value(node, 1).or_else(|| attr_ints(node, "shape"))?;
    let allow_zero = attr_i64(node, "allowzero").unwrap_or(0) != 0;
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 if !allow_zero => out.push(*input.get(i)?),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            d if d >= 0 => out.push(d),
            _ => return None,
        }
    }
    if let Some(i) = infer_at {
        let known = numel(&out)?;
        let total = numel(input)?;
        if known == 0 || total % known != 0 {
            return None;
        }
        *out.get_mut(i)? = total / known;
    }
    (numel(&out)? == numel(input)?).then_some(out)
}

fn flatten(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let axis = attr_i64(node, "axis").unwrap_or(1);
    // Flatten allows axis == rank, which axis_index rejects.
    let split = if axis == i64::try_from(input.len()).ok()? {
        input.len()
    } else {
        axis_index(axis, input.len())?
    };
    Some(vec![numel(&input[..split])?, numel(&input[split..])?])
}

/// Axes from the attribute (before opset 13) or from input 1 (opset 13 and later).
pub(super) fn axes_of(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    attr_ints(node, "axes")
        .map(<[i64]>::to_vec)
        .or_else(|| ctx.value(node, 1).map(<[i64]>::to_vec))
}

fn squeeze(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let axes = match axes_of(ctx, node) {
        Some(axes) => axes
            .iter()
            .map(|&a| axis_index(a, input.len()))
            .collect::<Option<Vec<usize>>>()?,
        None if ctx.has_input(node, 1) => return None,
        None => (0..input.len()).filter(|&i| input[i] == 1).collect(),
    };
    if axes.iter().any(|&a| input.get(a) != Some(&1)) {
        return None;
    }
    Some(
        input
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect(),
    )
}

fn unsqueeze(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let axes = axes_of(ctx, node)?;
    let rank = input.len().checked_add(axes.len())?;
    let mut positions = axes
        .iter()
        .map(|&a| axis_index(a, rank))
        .collect::<Option<Vec<usize>>>()?;
    positions.sort_unstable();
    positions.dedup();
    if positions.len() != axes.len() {
        return None;
    }
    let mut rest = input.iter();
    (0..rank)
        .map(|i| {
            if positions.contains(&i) {
                Some(1)
            } else {
                rest.next().copied()
            }
        })
        .collect()
}

fn transpose(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let perm: Vec<i64> = match attr_ints(node, "perm") {
        Some(p) => p.to_vec(),
        None => (0..i64::try_from(input.len()).ok()?).rev().collect(),
    };
    if perm.len() != input.len() {
        return None;
    }
    let mut seen = vec![false; input.len()];
    let mut out = Vec::with_capacity(perm.len());
    for &p in &perm {
        let p = usize::try_from(p).ok()?;
        if std::mem::replace(seen.get_mut(p)?, true) {
            return None;
        }
        out.push(*input.get(p)?);
    }
    Some(out)
}

/// Concatenates shapes along `axis`; every other dim must agree.
fn concat_shapes(shapes: &[&[i64]], axis: i64) -> Option<Vec<i64>> {
    let first = shapes.first()?;
    let axis = axis_index(axis, first.len())?;
    let mut out = first.to_vec();
    for shape in &shapes[1..] {
        if shape.len() != first.len() {
            return None;
        }
        for (i, (&a, &b)) in first.iter().zip(shape.iter()).enumerate() {
            if i == axis {
                out[axis] = out[axis].checked_add(b)?;
            } else if a != b {
                return None;
            }
        }
    }
    Some(out)
}

fn concat(ctx: &Ctx, node: &Node) -> Option<Out> {
    let axis = attr_i64(node, "axis").unwrap_or(0);
    let shapes: Option<Vec<&[i64]>> = (0..node.inputs.len()).map(|i| ctx.shape(node, i)).collect();
    let shape = shapes.as_deref().and_then(|s| concat_shapes(s, axis));
    let value = (0..node.inputs.len())
        .map(|i| ctx.value(node, i))
        .collect::<Option<Vec<&[i64]>>>()
        .map(|parts| parts.concat())
        .filter(|v| v.len() <= MAX_VALUE_LEN && shape.as_ref().is_some_and(|s| s.len() <= 1));
    Some(Out {
        dtype: ctx.dtype(node, 0),
        shape,
        value,
    })
}

/// com.microsoft QLinearConcat: inputs are `Y_scale, Y_zero_point`, then `(X, X_scale,
/// X_zero_point)` per tensor.
pub(super) fn qlinear_concat(ctx: &Ctx, node: &Node) -> Option<Out> {
    let axis = attr_i64(node, "axis")?;
    let shapes: Option<Vec<&[i64]>> = (2..node.inputs.len())
        .step_by(3)
        .map(|i| ctx.shape(node, i))
        .collect();
    Out::new(
        ctx.dtype(node, 1).or_else(|| ctx.dtype(node, 2)),
        shapes.as_deref().and_then(|s| concat_shapes(s, axis)),
    )
}

fn shape_of(ctx: &Ctx, node: &Node) -> Option<Out> {
    let input = ctx.shape(node, 0)?;
    let rank = i64::try_from(input.len()).ok()?;
    let clamp = |v: i64| {
        let v = if v < 0 { v.saturating_add(rank) } else { v };
        usize::try_from(v.clamp(0, rank)).ok()
    };
    let start = clamp(attr_i64(node, "start").unwrap_or(0))?;
    let end = clamp(attr_i64(node, "end").unwrap_or(rank))?;
    let dims = input.get(start..end.max(start))?.to_vec();
    Some(Out {
        dtype: Some(DataType::Int64),
        shape: Some(vec![i64::try_from(dims.len()).ok()?]),
        value: Some(dims),
    })
}

fn gather(ctx: &Ctx, node: &Node) -> Option<Out> {
    let data = ctx.shape(node, 0)?;
    let indices = ctx.shape(node, 1)?;
    let axis = axis_index(attr_i64(node, "axis").unwrap_or(0), data.len())?;
    let shape: Vec<i64> = data[..axis]
        .iter()
        .chain(indices)
        .chain(&data[axis + 1..])
        .copied()
        .collect();
    let value = match (ctx.value(node, 0), ctx.value(node, 1)) {
        (Some(values), Some(idx)) if data.len() == 1 => idx
            .iter()
            .map(|&i| {
                let i = axis_index(i, values.len())?;
                values.get(i).copied()
            })
            .collect::<Option<Vec<i64>>>(),
        _ => None,
    };
    Some(Out {
        dtype: ctx.dtype(node, 0),
        shape: Some(shape),
        value,
    })
}

fn tile(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let input = ctx.shape(node, 0)?;
    let repeats = ctx.value(node, 1)?;
    if repeats.len() != input.len() {
        return None;
    }
    input
        .iter()
        .zip(repeats)
        .map(|(&d, &r)| if r < 0 { None } else { d.checked_mul(r) })
        .collect()
}

fn constant_of_shape(ctx: &Ctx, node: &Node) -> Option<Out> {
    let shape = ctx.value(node, 0)?.to_vec();
    let (dtype, fill) = match node.attr("value") {
        Some(Attr::Tensor(data)) => (
            data.dtype,
            small_int_value(data).and_then(|v| v.first().copied()),
        ),
        _ => (DataType::Float32, None),
    };
    let count = usize::try_from(numel(&shape)?).ok()?;
    let value = fill
        .filter(|_| count <= MAX_VALUE_LEN)
        .map(|f| vec![f; count]);
    Some(Out {
        dtype: Some(dtype),
        shape: Some(shape),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_normalizes_negative() {
        assert_eq!(axis_index(-1, 4), Some(3));
        assert_eq!(axis_index(4, 4), None);
        assert_eq!(axis_index(-5, 4), None);
    }

    #[test]
    fn concat_checks_other_dims() {
        assert_eq!(concat_shapes(&[&[1, 2], &[1, 3]], 1), Some(vec![1, 5]));
        assert_eq!(concat_shapes(&[&[1, 2], &[2, 3]], 1), None);
    }
}
