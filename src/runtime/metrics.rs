//! Numbers computed from ONNX Runtime results: output differences and latency percentiles.

use serde::{Deserialize, Serialize};

/// How far one output of the optimized session is from the unoptimized one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Largest absolute element difference.
    pub max_abs: f64,
    /// Mean absolute element difference.
    pub mean_abs: f64,
    /// Cosine similarity of the two outputs as flat vectors.
    pub cosine: f64,
}

/// Compares two outputs element by element.
///
/// A NaN on one side only counts as an infinite difference and two NaNs as equal, so a model
/// that starts producing NaN under optimization is reported, not hidden. Two all-zero outputs
/// have cosine 1 and an all-zero output against a non-zero one has cosine 0. Empty outputs have
/// every difference 0 and cosine 1.
pub fn difference(reference: &[f64], optimized: &[f64]) -> Result<Difference, String> {
    if reference.len() != optimized.len() {
        return Err(format!(
            "the outputs have {} and {} elements",
            reference.len(),
            optimized.len()
        ));
    }
    let (mut max_abs, mut sum_abs) = (0.0f64, 0.0f64);
    let (mut dot, mut norm_a, mut norm_b) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in reference.iter().zip(optimized) {
        let diff = match (a.is_nan(), b.is_nan()) {
            (true, true) => 0.0,
            (true, false) | (false, true) => f64::INFINITY,
            (false, false) => (a - b).abs(),
        };
        max_abs = max_abs.max(diff);
        sum_abs += diff;
        if !a.is_nan() && !b.is_nan() {
            dot += a * b;
            norm_a += a * a;
            norm_b += b * b;
        }
    }
    let mean_abs = if reference.is_empty() {
        0.0
    } else {
        sum_abs / reference.len() as f64
    };
    let cosine = match (norm_a == 0.0, norm_b == 0.0) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.0,
        // Rounding can push the quotient just past 1 for identical outputs.
        (false, false) => (dot / (norm_a.sqrt() * norm_b.sqrt())).clamp(-1.0, 1.0),
    };
    Ok(Difference {
        max_abs,
        mean_abs,
        cosine,
    })
}

/// Returns the `percent` percentile of `samples` by the nearest-rank method (the smallest sample
/// with at least `percent`% of samples at or below it), or `None` for no samples.
pub fn percentile(samples: &[f64], percent: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| !s.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_outputs_differ_by_zero() {
        let a = [0.5, -1.0, 2.0];
        let d = difference(&a, &a);
        assert_eq!(
            d,
            Ok(Difference {
                max_abs: 0.0,
                mean_abs: 0.0,
                cosine: 1.0
            })
        );
    }

    #[test]
    fn difference_measures_each_metric() {
        let d = difference(&[1.0, 0.0, 0.0, 0.0], &[1.0, 0.5, 0.0, -0.25]);
        let Ok(d) = d else { panic!("{d:?}") };
        assert_eq!(d.max_abs, 0.5);
        assert_eq!(d.mean_abs, 0.1875);
        let norm_b = (1.0f64 + 0.25 + 0.0625).sqrt();
        assert!((d.cosine - 1.0 / norm_b).abs() < 1e-12, "{}", d.cosine);
    }

    #[test]
    fn opposite_outputs_have_negative_cosine() {
        let d = difference(&[1.0, 2.0], &[-1.0, -2.0]);
        assert!(d.is_ok_and(|d| (d.cosine + 1.0).abs() < 1e-12 && d.max_abs == 4.0));
    }

    #[test]
    fn nan_on_one_side_is_infinite() {
        let d = difference(&[1.0, f64::NAN], &[1.0, 2.0]);
        assert!(d.is_ok_and(|d| d.max_abs.is_infinite() && d.mean_abs.is_infinite()));
        let both = difference(&[f64::NAN], &[f64::NAN]);
        assert!(both.is_ok_and(|d| d.max_abs == 0.0));
    }

    #[test]
    fn zero_outputs_have_defined_cosine() {
        assert!(difference(&[0.0, 0.0], &[0.0, 0.0]).is_ok_and(|d| d.cosine == 1.0));
        assert!(difference(&[0.0, 0.0], &[0.0, 1.0]).is_ok_and(|d| d.cosine == 0.0));
        assert!(difference(&[], &[]).is_ok_and(|d| d.cosine == 1.0 && d.mean_abs == 0.0));
    }

    #[test]
    fn length_mismatch_is_error() {
        let d = difference(&[1.0], &[1.0, 2.0]);
        assert!(d.is_err_and(|e| e.contains("1 and 2 elements")));
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(5.0));
        assert_eq!(percentile(&samples, 90.0), Some(9.0));
        assert_eq!(percentile(&samples, 100.0), Some(10.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&[3.0], 90.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
