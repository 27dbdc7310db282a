//! Inference for matrix products: MatMul, Gemm and their quantized and contrib forms.

use crate::analysis::quant::{self, MS_DOMAIN};
use crate::graph::{DataType, Node};

use super::ops::{Ctx, Out, attr_i64, broadcast};

/// Input positions and transposition flags of a matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatMulOperands {
    pub a: usize,
    pub b: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    /// Gemm forms: both operands are 2-D.
    pub gemm: bool,
}

/// Returns where the operands of a matrix product sit, for every MatMul and Gemm form in the
/// catalogue; `None` for other ops.
pub fn matmul_operands(node: &Node) -> Option<MatMulOperands> {
    let default = quant::is_default_domain(&node.domain);
    let ms = node.domain == MS_DOMAIN;
    let (a, b, gemm) = match node.op_type.as_str() {
        "MatMul" | "MatMulInteger" if default => (0, 1, false),
        "QLinearMatMul" if default => (0, 3, false),
        "Gemm" if default => (0, 1, true),
        "FusedGemm" if ms => (0, 1, true),
        "QGemm" if ms => (0, 3, true),
        "FusedMatMul" | "MatMulIntegerToFloat" | "DynamicQuantizeMatMul" | "MatMulInteger16"
            if ms =>
        {
            (0, 1, false)
        }
        _ => return None,
    };
    let flag = |name| attr_i64(node, name).unwrap_or(0) != 0;
    Some(MatMulOperands {
        a,
        b,
        trans_a: flag("transA"),
        trans_b: flag("transB"),
        gemm,
    })
}

/// Output shape of a matrix product with numpy batch broadcasting; 1-D operands are promoted
/// and the added dim dropped again, as `numpy.matmul` does.
pub fn matmul_shape(a: &[i64], b: &[i64], trans_a: bool, trans_b: bool) -> Option<Vec<i64>> {
    let a2: Vec<i64> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<i64> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    if a2.len() < 2 || b2.len() < 2 {
        return None;
    }
    let (ra, rb) = (a2.len(), b2.len());
    let (m, ka) = if trans_a {
        (a2[ra - 1], a2[ra - 2])
    } else {
        (a2[ra - 2], a2[ra - 1])
    };
    let (kb, n) = if trans_b {
        (b2[rb - 1], b2[rb - 2])
    } else {
        (b2[rb - 2], b2[rb - 1])
    };
    if ka != kb {
        return None;
    }
    let mut out = broadcast(&[&a2[..ra - 2], &b2[..rb - 2]])?;
    if a.len() != 1 {
        out.push(m);
    }
    if b.len() != 1 {
        out.push(n);
    }
    Some(out)
}

/// MatMul forms; the output type follows the op.
pub(super) fn matmul(ctx: &Ctx, node: &Node) -> Option<Out> {
    let operands = matmul_operands(node)?;
    let dtype = match node.op_type.as_str() {
        "QLinearMatMul" => ctx.dtype(node, 7).or_else(|| ctx.dtype(node, 0)),
        "MatMulInteger" | "MatMulInteger16" => Some(DataType::Int32),
        "MatMulIntegerToFloat" | "DynamicQuantizeMatMul" => {
            ctx.dtype(node, 2).or(Some(DataType::Float32))
        }
        _ => ctx.dtype(node, 0),
    };
    // NOTE: FusedMatMul's transBatchA/transBatchB are ignored, so such a product gets the shape
    // of a plain MatMul, or none when its dims then disagree.
    let shape = match (ctx.shape(node, operands.a), ctx.shape(node, operands.b)) {
        (Some(a), Some(b)) => matmul_shape(a, b, operands.trans_a, operands.trans_b),
        _ => None,
    };
    Out::new(dtype, shape)
}

/// Gemm forms: `[M, K] x [K, N]` after the `transA`/`transB` flags.
pub(super) fn gemm(
    ctx: &Ctx,
    node: &Node,
    a: usize,
    b: usize,
    dtype: Option<DataType>,
) -> Option<Out> {
    let trans = |name| attr_i64(node, name).unwrap_or(0) != 0;
    let shape = match (ctx.shape(node, a), ctx.shape(node, b)) {
        (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
            matmul_shape(a, b, trans("transA"), trans("transB"))
        }
        _ => None,
    };
    Out::new(dtype, shape)
}

/// MatMulNBits and MatMulBnb4: the quantized weight is packed, so `N` comes from an attribute.
pub(super) fn matmul_n_attr(ctx: &Ctx, node: &Node) -> Option<Out> {
    let n = attr_i64(node, "N")?;
    let shape = ctx.shape(node, 0).and_then(|a| {
        let (_, batch) = a.split_last()?;
        let mut out = batch.to_vec();
        out.push(n);
        Some(out)
    });
    Out::new(ctx.dtype(node, 0), shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_broadcasts_batches() {
        assert_eq!(
            matmul_shape(&[1, 64], &[64, 10], false, false),
            Some(vec![1, 10])
        );
        assert_eq!(
            matmul_shape(&[2, 1, 4, 8], &[3, 8, 5], false, false),
            Some(vec![2, 3, 4, 5])
        );
        assert_eq!(matmul_shape(&[8], &[8, 5], false, false), Some(vec![5]));
        assert_eq!(
            matmul_shape(&[10, 64], &[10, 64], false, true),
            Some(vec![10, 10])
        );
        assert_eq!(matmul_shape(&[1, 63], &[64, 10], false, false), None);
    }
}
