//! Float weights that lie exactly on a per-channel int8 grid.
//!
//! A weight that was quantized and dequantized before export (Paddle's fake-quantized weights
//! that Paddle2ONNX writes back as float) satisfies, for each output channel `c`,
//! `w / (max|w_c| / 127)` is an integer for every element. qlint accepts a distance of
//! [`TOLERANCE`] to the nearest integer, enough for float32 rounding of `q * scale` (about
//! 1e-5 at |q| = 127). Channels whose weights are all zero carry no evidence and are skipped.

use super::Ctx;
use super::channels::{self, WeightSource};
use crate::analysis::{FactMap, Value, quant};
use crate::graph::{DataType, Node, NodeId};

/// Largest distance from an integer that still counts as on the grid, in units of the step.
pub const TOLERANCE: f64 = 1e-4;

/// Largest absolute int8 code of symmetric quantization.
const MAX_CODE: f64 = 127.0;

/// Largest weight, in elements, that the grid check decodes (512 MiB as `f64`).
// NOTE: larger weights (big language-model matrices) are skipped rather than decoded whole, so
// QL206 stays silent on them.
const MAX_ELEMENTS: usize = 1 << 26;

/// The result of checking one weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridCheck {
    pub on_grid: bool,
    /// Channels with at least one non-zero weight.
    pub channels: usize,
    /// Elements whose code is neither 0 nor ±127: the ones that a random float weight would
    /// almost never place on the grid.
    pub evidence: usize,
}

/// Checks whether `values` (a weight of shape `dims`) lie on a per-channel int8 grid along
/// `axis`. Returns `None` when the shape does not match the value count.
pub fn check(values: &[f64], dims: &[i64], axis: usize) -> Option<GridCheck> {
    let dims: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()?;
    let channels = *dims.get(axis)?;
    let inner: usize = dims.get(axis + 1..)?.iter().product();
    let outer: usize = dims.get(..axis)?.iter().product();
    if outer.checked_mul(channels)?.checked_mul(inner)? != values.len() || channels == 0 {
        return None;
    }
    let channel_values = |c: usize| {
        (0..outer).flat_map(move |o| {
            let start = (o * channels + c) * inner;
            values
                .get(start..start + inner)
                .unwrap_or(&[])
                .iter()
                .copied()
        })
    };
    let mut result = GridCheck {
        on_grid: true,
        channels: 0,
        evidence: 0,
    };
    for c in 0..channels {
        if channel_values(c).any(|v| !v.is_finite()) {
            result.on_grid = false;
            return Some(result);
        }
        let max = channel_values(c).fold(0.0f64, |m, v| m.max(v.abs()));
        if max == 0.0 {
            continue;
        }
        result.channels += 1;
        let step = max / MAX_CODE;
        for v in channel_values(c) {
            let code = v / step;
            let nearest = code.round();
            if (code - nearest).abs() > TOLERANCE {
                result.on_grid = false;
                return Some(result);
            }
            if nearest != 0.0 && nearest.abs() != MAX_CODE {
                result.evidence += 1;
            }
        }
    }
    result.on_grid = result.channels > 0;
    Some(result)
}

/// True for the float compute ops whose weights QL206 checks.
fn is_checked_op(node: &Node) -> bool {
    quant::is_default_domain(&node.domain)
        && matches!(
            node.op_type.as_str(),
            "Conv" | "ConvTranspose" | "MatMul" | "Gemm"
        )
        || node.domain == quant::MS_DOMAIN
            && matches!(
                node.op_type.as_str(),
                "FusedConv" | "FusedMatMul" | "FusedGemm"
            )
}

/// True when a DequantizeLinear feeds the node or a QuantizeLinear reads its output.
pub(super) fn has_qdq_around(ctx: &Ctx<'_>, node: &Node) -> bool {
    let graph = ctx.graph;
    let from_dq = node
        .inputs
        .iter()
        .filter_map(|p| p.tensor)
        .filter_map(|t| graph.producer(t))
        .any(|p| quant::is_dequantize(graph.node(p)));
    let to_q = node
        .outputs
        .iter()
        .filter_map(|p| p.tensor)
        .flat_map(|t| graph.consumers(t).iter())
        .any(|&c| quant::is_quantize(graph.node(c)));
    from_dq || to_q
}

/// Records `qdq_around` and the `weight_grid.*` facts of an ONNX Conv, ConvTranspose, MatMul or
/// Gemm whose weight is a float constant.
pub(super) fn add(ctx: &Ctx<'_>, id: NodeId, facts: &mut FactMap) {
    let node = ctx.graph.node(id);
    if !is_checked_op(node) {
        return;
    }
    facts.insert("qdq_around".into(), Value::Bool(has_qdq_around(ctx, node)));
    let Some(WeightSource { tensor, axis }) = channels::weight_source(ctx.graph, node, 1) else {
        return;
    };
    let Some(data) = ctx.graph.constant(tensor) else {
        return;
    };
    if !matches!(
        data.dtype,
        DataType::Float32 | DataType::Float16 | DataType::BFloat16 | DataType::Float64
    ) {
        return;
    }
    if data.element_count().is_none_or(|n| n > MAX_ELEMENTS) {
        return;
    }
    let Ok(values) = data.to_f64() else { return };
    let Some(found) = check(&values, &data.dims, axis) else {
        return;
    };
    let put = |facts: &mut FactMap, name: &str, value: Value| {
        facts.insert(format!("weight_grid.{name}"), value);
    };
    put(facts, "on_grid", Value::Bool(found.on_grid));
    put(facts, "channels", Value::Num(found.channels as f64));
    put(facts, "evidence", Value::Num(found.evidence as f64));
    put(facts, "axis", Value::Num(axis as f64));
    let name = ctx.graph.tensor(tensor).name.clone();
    put(facts, "weight", Value::Str(name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_grid_is_found() {
        // Two output channels (axis 0) with steps 0.5/127 and 0.25/127.
        let step0 = 0.5 / 127.0;
        let step1 = 0.25 / 127.0;
        let values: Vec<f64> = [127.0, -3.0, 40.0]
            .iter()
            .map(|q| q * step0)
            .chain([-127.0, 5.0, 0.0].iter().map(|q| q * step1))
            .collect();
        let found = check(&values, &[2, 3], 0);
        assert_eq!(
            found,
            Some(GridCheck {
                on_grid: true,
                channels: 2,
                evidence: 3
            })
        );
    }

    #[test]
    fn wrong_axis_or_random_values_are_off_grid() {
        // On a grid along axis 0 (row steps 0.5/127 and 0.185/127), but not along axis 1.
        let step0 = 0.5 / 127.0;
        let step1 = 0.185 / 127.0;
        let values: Vec<f64> = [127.0, -3.0, 40.0]
            .iter()
            .map(|q| q * step0)
            .chain([-127.0, 5.0, 1.0].iter().map(|q| q * step1))
            .collect();
        assert_eq!(check(&values, &[2, 3], 0).map(|c| c.on_grid), Some(true));
        assert_eq!(check(&values, &[2, 3], 1).map(|c| c.on_grid), Some(false));
        let random = [0.123, -0.456, 0.789, 0.321];
        assert_eq!(check(&random, &[2, 2], 1).map(|c| c.on_grid), Some(false));
    }

    #[test]
    fn zero_channels_skipped_and_bad_shapes_rejected() {
        let values = [0.0, 0.0, 1.0, -1.0];
        let found = check(&values, &[2, 2], 0);
        assert_eq!(found.map(|c| (c.on_grid, c.channels)), Some((true, 1)));
        assert_eq!(check(&values, &[3, 2], 0), None);
        assert_eq!(check(&values, &[2, 2], 2), None);
        assert_eq!(check(&[0.0; 4], &[2, 2], 0).map(|c| c.on_grid), Some(false));
        assert_eq!(
            check(&[f64::NAN, 1.0], &[2], 0).map(|c| c.on_grid),
            Some(false)
        );
    }
}
