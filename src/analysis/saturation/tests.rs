//! Unit tests for pair counting, layouts and ORT-style quantization.

use super::pairs::{adjacent_pairs, any_order_risk};
use super::quantize::{QuantizeParams, quantize_like_ort, quantize_value};
use super::*;

const INT8: (i64, i64) = (-128, 127);

#[test]
fn pair_127_127_is_at_risk() {
    assert_eq!(adjacent_pairs(&[127, 127]), (1, 254));
}

#[test]
fn pair_threshold_is_129() {
    assert_eq!(adjacent_pairs(&[64, 64]), (0, 128));
    assert_eq!(adjacent_pairs(&[65, 64]), (1, 129));
    assert_eq!(adjacent_pairs(&[-128, -1]), (1, 129));
    assert_eq!(adjacent_pairs(&[-64, -64]), (0, 128));
}

#[test]
fn opposite_signs_and_zero_are_safe() {
    assert_eq!(adjacent_pairs(&[127, -128]), (0, 0));
    assert_eq!(adjacent_pairs(&[-128, 0]), (0, 0));
    assert_eq!(adjacent_pairs(&[0, 0]), (0, 0));
}

#[test]
fn pairs_are_aligned_not_sliding() {
    // (1, 127) and (127, 1) are the kernel's pairs; 127 and 127 sit in different pairs.
    assert_eq!(adjacent_pairs(&[1, 127, 127, 1]), (0, 128));
    assert!(any_order_risk(&[1, 127, 127, 1]));
}

#[test]
fn odd_tail_pairs_with_padding() {
    assert_eq!(adjacent_pairs(&[127, 127, 127]), (1, 254));
    assert_eq!(adjacent_pairs(&[127]), (0, 0));
}

#[test]
fn any_order_uses_top_two_per_sign() {
    assert!(any_order_risk(&[100, -3, 5, 29]));
    assert!(!any_order_risk(&[100, -3, 5, 28]));
    assert!(any_order_risk(&[-100, 3, -29, 120]));
    assert!(!any_order_risk(&[127, -127, 1, -1]));
}

#[test]
fn conv_pairs_follow_kernel_position_order() {
    // One output channel, 2 input channels, 2 kernel positions, stored OIHW:
    // [ic0 k0, ic0 k1, ic1 k0, ic1 k1]. The kernel's K order is (k0 ic0, k0 ic1, k1 ic0, k1 ic1).
    let layout = Layout::Conv {
        out_channels: 1,
        group_in_channels: 2,
        kernel_size: 2,
    };
    let count = count_pairs(&[100, -100, 100, -100], &layout).unwrap();
    assert_eq!(count.pairs, 2, "(100, 100) and (-100, -100)");
    assert_eq!(count.max_pair_sum, 200);
    let count = count_pairs(&[100, 100, -100, -100], &layout).unwrap();
    assert_eq!(count.pairs, 0, "(100, -100) twice");
    assert_eq!(count.channels_any_order, 1);
}

#[test]
fn conv_counts_channels() {
    let layout = Layout::Conv {
        out_channels: 3,
        group_in_channels: 2,
        kernel_size: 1,
    };
    let codes = [127, 127, 1, 2, -70, -70];
    let count = count_pairs(&codes, &layout).unwrap();
    assert_eq!(count.channels, 3);
    assert_eq!(count.channels_at_risk, 2);
    assert_eq!(count.pairs, 2);
    assert_eq!(count.max_pair_sum, 254);
    assert_eq!(count.channels_any_order, 2);
}

#[test]
fn matrix_pairs_run_down_columns() {
    // B is [K=2, N=2]: column 0 is (127, 127) and column 1 is (0, 5).
    let layout = Layout::KByN {
        batches: 1,
        k: 2,
        n: 2,
    };
    let count = count_pairs(&[127, 0, 127, 5], &layout).unwrap();
    assert_eq!(count.channels, 2);
    assert_eq!(count.channels_at_risk, 1);
    assert_eq!(count.pairs, 1);
}

#[test]
fn transposed_matrix_pairs_run_along_rows() {
    let layout = Layout::NByK {
        batches: 2,
        n: 1,
        k: 2,
    };
    let count = count_pairs(&[127, 0, -127, -2], &layout).unwrap();
    assert_eq!(count.channels, 2);
    assert_eq!(count.pairs, 1);
    assert_eq!(count.max_pair_sum, 129);
}

#[test]
fn layout_size_mismatch_is_none() {
    let layout = Layout::KByN {
        batches: 1,
        k: 3,
        n: 3,
    };
    assert_eq!(count_pairs(&[1, 2, 3], &layout), None);
}

#[test]
fn empty_tensor_with_many_channels() {
    let layout = Layout::Conv {
        out_channels: usize::MAX / 2,
        group_in_channels: 0,
        kernel_size: 9,
    };
    let count = count_pairs(&[], &layout).unwrap();
    assert_eq!(count.channels, usize::MAX / 2);
    assert_eq!(count.pairs, 0);
}

#[test]
fn depthwise_conv_has_no_layout() {
    assert_eq!(layout(&[16, 1, 3, 3], Reduction::Conv { group: 16 }), None);
}

#[test]
fn grouped_conv_layouts() {
    let multiplier = layout(&[32, 1, 3, 3], Reduction::Conv { group: 16 });
    assert_eq!(
        multiplier,
        Some(Layout::Conv {
            out_channels: 32,
            group_in_channels: 1,
            kernel_size: 9,
        })
    );
    let grouped = layout(&[16, 4, 1, 1], Reduction::Conv { group: 4 });
    assert!(grouped.is_some());
    assert_eq!(layout(&[16, 4], Reduction::Conv { group: 1 }), None);
    assert_eq!(layout(&[-1, 4, 1, 1], Reduction::Conv { group: 1 }), None);
}

#[test]
fn matmul_layouts() {
    assert_eq!(
        layout(&[4, 8, 16], Reduction::MatMul),
        Some(Layout::KByN {
            batches: 4,
            k: 8,
            n: 16
        })
    );
    assert_eq!(
        layout(&[8], Reduction::MatMul),
        Some(Layout::KByN {
            batches: 1,
            k: 8,
            n: 1
        })
    );
    assert_eq!(
        layout(&[16, 8], Reduction::MatMulTransposed),
        Some(Layout::NByK {
            batches: 1,
            n: 16,
            k: 8
        })
    );
}

// Expected values below were checked against onnxruntime 1.31.1's CPU QuantizeLinear on x86-64.

#[test]
fn rounding_is_half_to_even() {
    assert_eq!(quantize_value(1.25, 0.5, 0, INT8), 2);
    assert_eq!(quantize_value(1.75, 0.5, 0, INT8), 4);
    assert_eq!(quantize_value(-1.25, 0.5, 0, INT8), -2);
}

#[test]
fn division_is_float32() {
    // In float32 the quotient is exactly 75.5 and rounds to 76; in float64 it is 75.4999979.
    assert_eq!(
        quantize_value(6.897_891_521_453_857, 0.091_362_804_174_423_22, 0, INT8),
        76
    );
}

#[test]
fn clamping_and_nan() {
    assert_eq!(quantize_value(1000.0, 0.5, 0, INT8), 127);
    assert_eq!(quantize_value(-1000.0, 0.5, 0, INT8), -128);
    assert_eq!(quantize_value(f64::NAN, 0.5, 0, INT8), -128);
    assert_eq!(quantize_value(200.0, 1.0, 10, INT8), 127);
    assert_eq!(quantize_value(-200.0, 1.0, 10, INT8), -128);
    assert_eq!(quantize_value(3.0, 1.0, -5, INT8), -2);
}

#[test]
fn per_axis_quantization() {
    let values = [1.0, 2.0, 1.0, 2.0];
    let params = |scales: Vec<f64>, axis| QuantizeParams {
        scales,
        zero_points: Vec::new(),
        axis,
        range: INT8,
    };
    let axis0 = quantize_like_ort(&values, &[2, 2], &params(vec![1.0, 0.5], Some(0)));
    assert_eq!(axis0, Some(vec![1, 2, 2, 4]));
    let axis1 = quantize_like_ort(&values, &[2, 2], &params(vec![1.0, 0.5], Some(1)));
    assert_eq!(axis1, Some(vec![1, 4, 1, 4]));
    let tensor = quantize_like_ort(&values, &[2, 2], &params(vec![0.5], None));
    assert_eq!(tensor, Some(vec![2, 4, 2, 4]));
}

#[test]
fn per_axis_zero_points() {
    let params = QuantizeParams {
        scales: vec![1.0, 1.0],
        zero_points: vec![0, 3],
        axis: Some(0),
        range: INT8,
    };
    let quantized = quantize_like_ort(&[1.0, 1.0], &[2, 1], &params);
    assert_eq!(quantized, Some(vec![1, 4]));
}

#[test]
fn mismatched_scales_are_rejected() {
    let params = |scales: Vec<f64>, axis| QuantizeParams {
        scales,
        zero_points: Vec::new(),
        axis,
        range: INT8,
    };
    let values = [1.0; 6];
    assert_eq!(
        quantize_like_ort(&values, &[2, 3], &params(vec![1.0; 3], Some(0))),
        None
    );
    assert_eq!(
        quantize_like_ort(&values, &[2, 3], &params(vec![1.0; 2], None)),
        None
    );
    assert_eq!(
        quantize_like_ort(&values, &[2, 3], &params(vec![1.0; 2], Some(5))),
        None
    );
}
