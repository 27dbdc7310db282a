//! Inference for the ops of ORT's layout domains: `com.microsoft.nchwc` (blocked channels) and
//! the internal NHWC domain.
//!
//! NCHWc tensors are stored as 4-D `[N, C padded to the block size, H, W]`. `ReorderInput`
//! converts NCHW (or NHWC with `channels_last=1`) into that form, and `ReorderOutput` converts
//! back to the channel count in its `channels` attribute.

use crate::analysis::quant;
use crate::graph::Node;

use super::conv::{Layout, conv, global_pool, pool};
use super::ops::{Ctx, Out, attr_floats, attr_i64};

/// Ops of the `com.microsoft.nchwc` domain.
pub(super) fn nchwc_op(ctx: &Ctx, node: &Node, op: &str) -> Option<Out> {
    let dtype = ctx.dtype(node, 0);
    match op {
        "Conv" => conv(ctx, node),
        "MaxPool" | "AveragePool" => pool(ctx, node).into_iter().next().flatten(),
        "GlobalAveragePool" | "GlobalMaxPool" => global_pool(ctx, node, 0, Layout::Nchw, dtype),
        "ReorderInput" => {
            // ORT inserts ReorderInput only where the channel count is a multiple of the block
            // size, so no padding is added here.
            let from = if quant::is_channels_last(node) {
                Layout::Nhwc
            } else {
                Layout::Nchw
            };
            let shape = ctx.shape(node, 0).and_then(|x| {
                Some(Layout::Nchw.assemble(*x.first()?, from.channels(x)?, from.spatial(x)?))
            });
            Out::new(dtype, shape)
        }
        "ReorderOutput" => {
            let to = if quant::is_channels_last(node) {
                Layout::Nhwc
            } else {
                Layout::Nchw
            };
            let shape = ctx.shape(node, 0).and_then(|x| {
                let channels = attr_i64(node, "channels").or_else(|| Layout::Nchw.channels(x))?;
                Some(to.assemble(*x.first()?, channels, Layout::Nchw.spatial(x)?))
            });
            Out::new(dtype, shape)
        }
        "Upsample" => {
            let shape = ctx.shape(node, 0).and_then(|x| {
                let scales = attr_floats(node, "scales")?;
                if scales.len() != x.len() {
                    return None;
                }
                x.iter()
                    .zip(&scales)
                    .map(|(&d, &s)| d.checked_mul(s as i64))
                    .collect()
            });
            Out::new(dtype, shape)
        }
        _ => None,
    }
}

/// Ops of ORT's internal NHWC domain: the NHWC forms of convolutions and pools.
pub(super) fn internal_nhwc_op(ctx: &Ctx, node: &Node, op: &str) -> Option<Out> {
    match op {
        "Conv" | "QLinearConv" | "ConvTranspose" => conv(ctx, node),
        "MaxPool" | "AveragePool" | "QLinearAveragePool" => {
            pool(ctx, node).into_iter().next().flatten()
        }
        "GlobalAveragePool" | "GlobalMaxPool" => {
            global_pool(ctx, node, 0, Layout::Nhwc, ctx.dtype(node, 0))
        }
        "QLinearGlobalAveragePool" => global_pool(
            ctx,
            node,
            0,
            Layout::Nhwc,
            ctx.dtype(node, 4).or_else(|| ctx.dtype(node, 0)),
        ),
        _ => None,
    }
}
