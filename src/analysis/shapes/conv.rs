//! Inference for convolutions and pools in their ONNX, contrib, NCHWc and NHWC forms.
//!
//! As ORT 1.32.0 writes them (checked on the ORT_ENABLE_ALL files of the qlint corpus),
//! `com.microsoft::QLinearConv` with `channels_last=1` reads and writes NHWC and keeps its weight
//! in OIHW, and `com.microsoft::NhwcMaxPool` is NHWC.

use crate::analysis::quant::{self, INTERNAL_NHWC_DOMAIN, MS_DOMAIN, NCHWC_DOMAIN};
use crate::graph::{DataType, Node};

use super::ops::{Ctx, Out, attr_i64, attr_ints, attr_str};

/// Position of the channel dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[N, C, spatial...]`
    Nchw,
    /// `[N, spatial..., C]`
    Nhwc,
}

impl Layout {
    /// Returns the layout a node reads and writes.
    pub fn of(node: &Node) -> Layout {
        let nhwc = node.domain == INTERNAL_NHWC_DOMAIN
            || (node.domain == MS_DOMAIN && node.op_type.starts_with("Nhwc"))
            || quant::is_channels_last(node);
        if nhwc { Layout::Nhwc } else { Layout::Nchw }
    }

    /// Returns the spatial dims of a tensor of rank 3 or more.
    pub fn spatial(self, shape: &[i64]) -> Option<&[i64]> {
        if shape.len() < 3 {
            return None;
        }
        Some(match self {
            Layout::Nchw => &shape[2..],
            Layout::Nhwc => &shape[1..shape.len() - 1],
        })
    }

    /// Returns the channel dim of a tensor of rank 3 or more.
    pub fn channels(self, shape: &[i64]) -> Option<i64> {
        if shape.len() < 3 {
            return None;
        }
        match self {
            Layout::Nchw => shape.get(1).copied(),
            Layout::Nhwc => shape.last().copied(),
        }
    }

    /// Assembles `[N, C, spatial...]` or `[N, spatial..., C]`.
    pub fn assemble(self, batch: i64, channels: i64, spatial: &[i64]) -> Vec<i64> {
        let mut out = Vec::with_capacity(spatial.len() + 2);
        out.push(batch);
        if self == Layout::Nchw {
            out.push(channels);
        }
        out.extend_from_slice(spatial);
        if self == Layout::Nhwc {
            out.push(channels);
        }
        out
    }
}

/// Input positions of a convolution's data and weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOperands {
    pub x: usize,
    pub w: usize,
    /// ConvTranspose: the weight is `[C_in, C_out / group, k...]`.
    pub transposed: bool,
    pub layout: Layout,
}

/// Returns where the operands of a convolution sit, for every convolution form in the
/// catalogue; `None` for other ops.
pub fn conv_operands(node: &Node) -> Option<ConvOperands> {
    let op = node.op_type.as_str();
    let domain = node.domain.as_str();
    let (x, w, transposed) = match op {
        "QLinearConv" => (0, 3, false),
        "Conv" | "ConvInteger" | "FusedConv" | "NhwcConv" | "NhwcFusedConv" => (0, 1, false),
        "ConvTranspose" => (0, 1, true),
        _ => return None,
    };
    let known = match domain {
        d if quant::is_default_domain(d) => {
            matches!(op, "QLinearConv" | "Conv" | "ConvInteger" | "ConvTranspose")
        }
        MS_DOMAIN => matches!(
            op,
            "QLinearConv" | "FusedConv" | "NhwcConv" | "NhwcFusedConv"
        ),
        NCHWC_DOMAIN => op == "Conv",
        INTERNAL_NHWC_DOMAIN => matches!(op, "QLinearConv" | "Conv" | "ConvTranspose"),
        _ => false,
    };
    known.then(|| ConvOperands {
        x,
        w,
        transposed,
        layout: Layout::of(node),
    })
}

/// `ceil(a / b)` for `a >= 0` and `b > 0`, without overflow.
fn div_ceil(a: i64, b: i64) -> i64 {
    if a == 0 { 0 } else { (a - 1) / b + 1 }
}

/// Output size of one spatial axis of a convolution or pool.
fn window_out(
    input: i64,
    kernel: i64,
    stride: i64,
    dilation: i64,
    pads: (i64, i64),
    ceil: bool,
) -> Option<i64> {
    if input < 0 || kernel <= 0 || stride <= 0 || dilation <= 0 {
        return None;
    }
    let extent = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    let padded = input.checked_add(pads.0)?.checked_add(pads.1)?;
    let span = padded.checked_sub(extent)?;
    if span < 0 {
        return None;
    }
    let mut out = if ceil {
        div_ceil(span, stride)
    } else {
        span / stride
    } + 1;
    // With ceil_mode, a last window that would start inside the end padding is dropped.
    if ceil && (out - 1).checked_mul(stride)? >= input.checked_add(pads.0)? {
        out -= 1;
    }
    Some(out)
}

/// Per-axis attributes of a sliding window, checked against the number of spatial axes.
fn window_attrs(node: &Node, axes: usize) -> Option<(Vec<i64>, Vec<i64>, Vec<i64>)> {
    let strides = attr_ints(node, "strides").map_or_else(|| vec![1; axes], <[i64]>::to_vec);
    let dilations = attr_ints(node, "dilations").map_or_else(|| vec![1; axes], <[i64]>::to_vec);
    let pads = attr_ints(node, "pads").map_or_else(|| vec![0; axes * 2], <[i64]>::to_vec);
    (strides.len() == axes && dilations.len() == axes && pads.len() == axes * 2)
        .then_some((strides, dilations, pads))
}

/// Output spatial dims of a convolution or pool (`auto_pad`, `pads`, `strides`, `dilations`,
/// `ceil_mode`).
fn spatial_out(node: &Node, input: &[i64], kernel: &[i64], ceil: bool) -> Option<Vec<i64>> {
    let axes = input.len();
    if kernel.len() != axes {
        return None;
    }
    let (strides, dilations, pads) = window_attrs(node, axes)?;
    let auto_pad = attr_str(node, "auto_pad").unwrap_or("NOTSET");
    (0..axes)
        .map(|i| match auto_pad {
            "SAME_UPPER" | "SAME_LOWER" => {
                let s = strides[i];
                (s > 0 && input[i] >= 0).then(|| div_ceil(input[i], s))
            }
            "VALID" => window_out(input[i], kernel[i], strides[i], dilations[i], (0, 0), ceil),
            _ => window_out(
                input[i],
                kernel[i],
                strides[i],
                dilations[i],
                (pads[i], pads[i + axes]),
                ceil,
            ),
        })
        .collect()
}

/// Output spatial dims of a ConvTranspose.
fn transposed_spatial(node: &Node, input: &[i64], kernel: &[i64]) -> Option<Vec<i64>> {
    let axes = input.len();
    if let Some(shape) = attr_ints(node, "output_shape") {
        return (shape.len() == axes).then(|| shape.to_vec());
    }
    let (strides, dilations, pads) = window_attrs(node, axes)?;
    let extra = attr_ints(node, "output_padding").map_or_else(|| vec![0; axes], <[i64]>::to_vec);
    if kernel.len() != axes || extra.len() != axes {
        return None;
    }
    let same = matches!(
        attr_str(node, "auto_pad"),
        Some("SAME_UPPER" | "SAME_LOWER")
    );
    (0..axes)
        .map(|i| {
            if same {
                return input[i].checked_mul(strides[i]);
            }
            let extent = dilations[i]
                .checked_mul(kernel[i].checked_sub(1)?)?
                .checked_add(1)?;
            let out = strides[i]
                .checked_mul(input[i].checked_sub(1)?)?
                .checked_add(extra[i])?
                .checked_add(extent)?
                .checked_sub(pads[i])?
                .checked_sub(pads[i + axes])?;
            (out >= 0).then_some(out)
        })
        .collect()
}

/// Any convolution form; the output type follows the op (QLinearConv: its `y_zero_point`,
/// ConvInteger: int32, others: the input's).
pub(super) fn conv(ctx: &Ctx, node: &Node) -> Option<Out> {
    let operands = conv_operands(node)?;
    let dtype = match node.op_type.as_str() {
        "QLinearConv" => ctx.dtype(node, 7).or_else(|| ctx.dtype(node, 0)),
        "ConvInteger" => Some(DataType::Int32),
        _ => ctx.dtype(node, 0),
    };
    Out::new(dtype, conv_shape(ctx, node, operands))
}

fn conv_shape(ctx: &Ctx, node: &Node, operands: ConvOperands) -> Option<Vec<i64>> {
    let x = ctx.shape(node, operands.x)?;
    let w = ctx.shape(node, operands.w)?;
    if w.len() != x.len() || w.len() < 3 {
        return None;
    }
    let layout = operands.layout;
    let input = layout.spatial(x)?;
    let kernel = attr_ints(node, "kernel_shape").unwrap_or(&w[2..]);
    let batch = *x.first()?;
    if operands.transposed {
        let group = attr_i64(node, "group").unwrap_or(1);
        let channels = w.get(1)?.checked_mul(group)?;
        let spatial = transposed_spatial(node, input, kernel)?;
        return Some(layout.assemble(batch, channels, &spatial));
    }
    let spatial = spatial_out(node, input, kernel, false)?;
    Some(layout.assemble(batch, *w.first()?, &spatial))
}

/// MaxPool, AveragePool, LpPool and their QLinear, NCHWc and NHWC forms. MaxPool's optional
/// second output contains int64 indices.
pub(super) fn pool(ctx: &Ctx, node: &Node) -> Vec<Option<Out>> {
    let dtype = if node.op_type == "QLinearAveragePool" {
        ctx.dtype(node, 4).or_else(|| ctx.dtype(node, 0))
    } else {
        ctx.dtype(node, 0)
    };
    let shape = pool_shape(ctx, node);
    let mut outs = vec![Out::new(dtype, shape.clone())];
    if node.outputs.len() > 1 {
        outs.push(Out::new(Some(DataType::Int64), shape));
    }
    outs
}

fn pool_shape(ctx: &Ctx, node: &Node) -> Option<Vec<i64>> {
    let layout = Layout::of(node);
    let x = ctx.shape(node, 0)?;
    let kernel = attr_ints(node, "kernel_shape")?;
    let ceil = attr_i64(node, "ceil_mode").unwrap_or(0) != 0;
    let spatial = spatial_out(node, layout.spatial(x)?, kernel, ceil)?;
    Some(layout.assemble(*x.first()?, layout.channels(x)?, &spatial))
}

/// Global pools: every spatial dim becomes 1.
pub(super) fn global_pool(
    ctx: &Ctx,
    node: &Node,
    index: usize,
    layout: Layout,
    dtype: Option<DataType>,
) -> Option<Out> {
    let shape = ctx.shape(node, index).and_then(|x| {
        let ones = vec![1; layout.spatial(x)?.len()];
        Some(layout.assemble(*x.first()?, layout.channels(x)?, &ones))
    });
    Out::new(dtype, shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_matches_onnx_formula() {
        assert_eq!(window_out(32, 3, 1, 1, (1, 1), false), Some(32));
        assert_eq!(window_out(16, 3, 2, 1, (1, 1), false), Some(8));
        assert_eq!(window_out(32, 2, 2, 1, (0, 0), false), Some(16));
        assert_eq!(window_out(5, 2, 2, 1, (0, 0), true), Some(3));
        assert_eq!(window_out(5, 2, 2, 1, (0, 0), false), Some(2));
        assert_eq!(window_out(2, 5, 1, 1, (0, 0), false), None);
        assert_eq!(window_out(8, 3, 0, 1, (0, 0), false), None);
    }

    #[test]
    fn layouts_assemble() {
        assert_eq!(Layout::Nhwc.assemble(1, 16, &[8, 8]), vec![1, 8, 8, 16]);
        assert_eq!(Layout::Nchw.channels(&[1, 16, 8, 8]), Some(16));
        assert_eq!(Layout::Nhwc.spatial(&[1, 8, 8, 16]), Some(&[8i64, 8][..]));
    }
}
