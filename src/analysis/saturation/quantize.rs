//! Quantizing float weights the way ONNX Runtime folds a QuantizeLinear on a constant.
//!
//! Paddle2ONNX 1.3.1 stores Conv weights as float constants feeding QuantizeLinear. ORT's
//! constant folding runs its CPU QuantizeLinear kernel on them once, and the int8 result is what
//! the fused QLinearConv multiplies. The kernel calls `MlasQuantizeLinear`
//! (`onnxruntime/core/mlas/lib/quantize.cpp`, through `ParQuantizeLinearStd` in
//! `onnxruntime/core/util/qmath.h`), which divides in float32, clamps to
//! `[min - zero_point, max - zero_point]`, converts with round-half-to-even (`_mm_cvtps_epi32`
//! under the default MXCSR, `vcvtnq_s32_f32` on ARM, `std::nearbyintf` in the portable path) and
//! adds the zero point. A NaN becomes the lower bound, because `_mm_max_ps` returns its second
//! operand for NaN. The unit tests check values against onnxruntime 1.31.1, and the corpus tests
//! check whole tensors against the initializers that ORT 1.32.0 folded.

/// The parameters of one QuantizeLinear.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeParams {
    /// One scale (per tensor) or one per index of `axis`.
    pub scales: Vec<f64>,
    /// Empty (zero), one, or one per index of `axis`.
    pub zero_points: Vec<i64>,
    /// The quantized axis, already made non-negative; `None` for per-tensor parameters.
    pub axis: Option<usize>,
    /// Inclusive range of the output type, `(-128, 127)` for int8.
    pub range: (i64, i64),
}

/// Quantizes one value as MLAS does; see the module documentation.
pub fn quantize_value(x: f64, scale: f64, zero_point: i64, (min, max): (i64, i64)) -> i64 {
    let low = (min - zero_point) as f32;
    let high = (max - zero_point) as f32;
    // The division is float32 on purpose: ORT divides float32 weights by a float32 scale, and
    // doing it in f64 would round some values that sit near .5 the other way.
    let scaled = (x as f32) / (scale as f32);
    // `f32::max` returns the other operand for NaN, like MAXPS with NaN in its first operand.
    let clamped = scaled.max(low).min(high);
    clamped.round_ties_even() as i64 + zero_point
}

/// Quantizes `values` of shape `dims`. Returns `None` when the parameters do not fit the shape,
/// that is a scale count other than 1 per tensor or other than `dims[axis]` per axis.
pub fn quantize_like_ort(
    values: &[f64],
    dims: &[i64],
    params: &QuantizeParams,
) -> Option<Vec<i64>> {
    let zero_point_at = |index: usize| match params.zero_points.len() {
        0 => Some(0),
        1 => params.zero_points.first().copied(),
        _ => params.zero_points.get(index).copied(),
    };
    let Some(axis) = params.axis else {
        let &[scale] = params.scales.as_slice() else {
            return None;
        };
        if params.zero_points.len() > 1 {
            return None;
        }
        let zero_point = zero_point_at(0)?;
        return Some(
            values
                .iter()
                .map(|&x| quantize_value(x, scale, zero_point, params.range))
                .collect(),
        );
    };
    let channels = usize::try_from(*dims.get(axis)?).ok()?;
    let inner = dims
        .get(axis + 1..)?
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))?;
    let zero_points_fit =
        matches!(params.zero_points.len(), 0 | 1) || params.zero_points.len() == channels;
    if params.scales.len() != channels || !zero_points_fit || channels == 0 || inner == 0 {
        return None;
    }
    // The values are [outer][channel][inner]: each run of `inner` values shares one channel.
    let mut quantized = Vec::with_capacity(values.len());
    for (run, chunk) in values.chunks(inner).enumerate() {
        let channel = run % channels;
        let scale = *params.scales.get(channel)?;
        let zero_point = zero_point_at(channel)?;
        quantized.extend(
            chunk
                .iter()
                .map(|&x| quantize_value(x, scale, zero_point, params.range)),
        );
    }
    Some(quantized)
}
