//! Counting the int8 weight pairs that can saturate `VPMADDUBSW`.
//!
//! Without VNNI, ORT's x86 u8s8 kernels (MLAS `QgemmU8S8KernelAvx2.S`, `QgemvU8S8KernelAvx2.S`,
//! `ConvSymKernelAvx2.S`, and the AVX-512 Core variants) multiply four consecutive reduction
//! (K) elements of the u8 activations by the matching s8 weights with `VPMADDUBSW`. That
//! instruction adds the products of elements 0+1 and 2+3 into saturating int16 lanes, and only
//! then `VPMADDWD` widens them to int32. The pairs are therefore (2i, 2i+1) along K, with K
//! padded with zeros to a multiple of 4.
//!
//! With u8 activations `a` in [0, 255], the lane `a0*w0 + a1*w1` overflows int16 exactly when
//! `w0` and `w1` have the same sign and `|w0| + |w1| >= 129`, since 255 * 129 = 32895 exceeds
//! 32767 (and -32895 is below -32768) while 255 * 128 = 32640 fits. A zero or an opposite sign
//! bounds the lane by 255 * 128. Raw int8 codes are what the kernel multiplies: zero points are
//! applied afterwards through row and column sums, so they do not change the bound.

/// Smallest `|w0| + |w1|` of a same-sign pair that can overflow int16 with a u8 input of 255.
pub const SATURATION_BOUND: u32 = 129;

/// Mapping of a weight tensor's elements to output channels and to the reduction (K) order of
/// the integer GEMM that ORT runs for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A convolution filter `[M, C/group, k1, k2, ...]` (ONNX and Paddle order). ORT's
    /// `QLinearConv::ReorderFilter` turns each output channel into a K vector ordered by kernel
    /// position first and input channel second, (kh, kw, cin), so the pairs are adjacent input
    /// channels at one kernel position. When C/group is odd, a pair can span two positions.
    Conv {
        out_channels: usize,
        group_in_channels: usize,
        kernel_size: usize,
    },
    /// A matrix `[batch..., K, N]` (MatMul B, Gemm B, Paddle `matmul_v2` Y): a channel is one
    /// column of one batch matrix, and K runs down the column.
    KByN { batches: usize, k: usize, n: usize },
    /// A matrix `[batch..., N, K]` (Gemm with `transB`, Paddle `trans_y`): a channel is one row
    /// of one batch matrix.
    NByK { batches: usize, n: usize, k: usize },
}

impl Layout {
    /// Number of elements the layout covers; `None` on overflow.
    pub fn element_count(&self) -> Option<usize> {
        match *self {
            Layout::Conv {
                out_channels,
                group_in_channels,
                kernel_size,
            } => out_channels
                .checked_mul(group_in_channels)?
                .checked_mul(kernel_size),
            Layout::KByN { batches, k, n } => batches.checked_mul(k)?.checked_mul(n),
            Layout::NByK { batches, n, k } => batches.checked_mul(n)?.checked_mul(k),
        }
    }

    /// Number of output channels (columns of the GEMM result).
    pub fn channels(&self) -> usize {
        match *self {
            Layout::Conv { out_channels, .. } => out_channels,
            Layout::KByN { batches, n, .. } => batches.saturating_mul(n),
            Layout::NByK { batches, n, .. } => batches.saturating_mul(n),
        }
    }

    /// Writes channel `channel`'s weights into `out` in the kernel's K order. The caller checks
    /// that `codes` has [`Layout::element_count`] elements, so no offset overflows; a range
    /// outside `codes` yields an empty vector all the same.
    fn gather(&self, codes: &[i8], channel: usize, out: &mut Vec<i8>) {
        out.clear();
        match *self {
            Layout::Conv {
                group_in_channels,
                kernel_size,
                ..
            } => {
                // The filter of one output channel is [input channel][kernel position].
                let size = group_in_channels * kernel_size;
                let filter = codes
                    .get(channel * size..(channel + 1) * size)
                    .unwrap_or(&[]);
                for position in 0..kernel_size {
                    out.extend(filter.iter().skip(position).step_by(kernel_size.max(1)));
                }
            }
            Layout::KByN { k, n, .. } => {
                let (batch, column) = (channel / n.max(1), channel % n.max(1));
                let size = k * n;
                let matrix = codes.get(batch * size..(batch + 1) * size).unwrap_or(&[]);
                out.extend(matrix.iter().skip(column).step_by(n.max(1)));
            }
            Layout::NByK { k, .. } => {
                let row = codes.get(channel * k..(channel + 1) * k).unwrap_or(&[]);
                out.extend_from_slice(row);
            }
        }
    }
}

/// Result of the pair count for one weight tensor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairCount {
    /// Output channels checked.
    pub channels: usize,
    /// Output channels with at least one adjacent pair at risk.
    pub channels_at_risk: usize,
    /// Adjacent same-sign pairs with `|w0| + |w1| >= 129`, over all channels.
    pub pairs: usize,
    /// Largest `|w0| + |w1|` of an adjacent same-sign pair (0 when there is none).
    pub max_pair_sum: u32,
    /// Output channels that hold two same-sign weights anywhere with `|w0| + |w1| >= 129`, so
    /// they are at risk under any pairing order.
    pub channels_any_order: usize,
}

/// Counts the pairs at risk in every output channel of `codes` laid out as `layout`; `None`
/// when the layout does not cover exactly `codes.len()` elements.
pub fn count_pairs(codes: &[i8], layout: &Layout) -> Option<PairCount> {
    if layout.element_count() != Some(codes.len()) {
        return None;
    }
    let mut result = PairCount {
        channels: layout.channels(),
        ..PairCount::default()
    };
    // An empty tensor can declare any number of channels (dims [N, 0, ...]). Each channel of a
    // non-empty one has at least one element, so the loop below is bounded by `codes.len()`.
    if codes.is_empty() {
        return Some(result);
    }
    let mut column = Vec::new();
    for channel in 0..result.channels {
        layout.gather(codes, channel, &mut column);
        let (pairs, max_sum) = adjacent_pairs(&column);
        result.pairs += pairs;
        result.max_pair_sum = result.max_pair_sum.max(max_sum);
        if pairs > 0 {
            result.channels_at_risk += 1;
        }
        if any_order_risk(&column) {
            result.channels_any_order += 1;
        }
    }
    Some(result)
}

/// Counts the pairs (2i, 2i+1) at risk in one K vector and returns the largest same-sign pair
/// sum. An odd last element pairs with the kernels' zero padding, which is never at risk.
pub fn adjacent_pairs(column: &[i8]) -> (usize, u32) {
    let mut at_risk = 0;
    let mut max_sum = 0;
    for pair in column.chunks_exact(2) {
        if let [a, b] = *pair
            && let Some(sum) = same_sign_sum(a, b)
        {
            max_sum = max_sum.max(sum);
            if sum >= SATURATION_BOUND {
                at_risk += 1;
            }
        }
    }
    (at_risk, max_sum)
}

/// `|a| + |b|` when both are non-zero with the same sign.
fn same_sign_sum(a: i8, b: i8) -> Option<u32> {
    let same = (a > 0 && b > 0) || (a < 0 && b < 0);
    same.then(|| u32::from(a.unsigned_abs()) + u32::from(b.unsigned_abs()))
}

/// True when the two largest positive weights, or the two most negative ones, reach the bound.
pub fn any_order_risk(column: &[i8]) -> bool {
    let mut positive = [0u32; 2];
    let mut negative = [0u32; 2];
    for &w in column {
        let top = if w > 0 {
            &mut positive
        } else if w < 0 {
            &mut negative
        } else {
            continue;
        };
        let magnitude = u32::from(w.unsigned_abs());
        if magnitude > top[0] {
            top[1] = top[0];
            top[0] = magnitude;
        } else if magnitude > top[1] {
            top[1] = magnitude;
        }
    }
    positive[0] + positive[1] >= SATURATION_BOUND || negative[0] + negative[1] >= SATURATION_BOUND
}
