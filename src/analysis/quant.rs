//! Catalogues of quantization ops: Paddle legacy fake ops, Paddle onnx_format ops, ONNX QDQ,
//! ORT QLinear and com.microsoft quantized ops, and int8 pass-through ops.
//!
//! Every predicate takes a whole [`Node`], because the same op type means different things in
//! different domains (`QLinearConv` in `""` is NCHW, in `com.microsoft` it may be NHWC; `Conv`
//! in `com.microsoft.nchwc` runs on blocked tensors). Paddle op types are matched after the PIR
//! dialect prefix (`pd_op.` or `1.`) is removed.

use crate::graph::{Attr, ModelMeta, Node};

/// The Microsoft contrib domain.
pub const MS_DOMAIN: &str = "com.microsoft";
/// ORT's NCHWc (blocked channel) layout domain.
pub const NCHWC_DOMAIN: &str = "com.microsoft.nchwc";
/// ORT's internal NHWC layout domain, used by the layout transformer for some EPs.
pub const INTERNAL_NHWC_DOMAIN: &str = "com.ms.internal.nhwc";

/// Paddle legacy fake quantization ops, which Paddle2ONNX cannot export.
///
/// Source: `PaddlePaddle/Paddle:paddle/fluid/operators/fake_quantize_op.cc@004dfd6e`
/// (`REGISTER_OPERATOR` list) and the fake dequantize ops from `fake_dequantize_op.cc`.
pub const PADDLE_LEGACY_FAKE_QUANT: &[&str] = &[
    "fake_quantize_abs_max",
    "fake_quantize_dequantize_abs_max",
    "fake_quantize_range_abs_max",
    "fake_quantize_moving_average_abs_max",
    "fake_quantize_dequantize_moving_average_abs_max",
    "fake_channel_wise_quantize_abs_max",
    "fake_channel_wise_quantize_dequantize_abs_max",
    "moving_average_abs_max_scale",
    "fake_dequantize_max_abs",
    "fake_channel_wise_dequantize_max_abs",
];

/// Legacy fake quantize-dequantize ops that PaddleSlim's quantization-aware training puts on
/// weights (`abs_max` and `channel_wise_abs_max` weight quantize types). Post-training
/// quantization with `onnx_format=False` uses `fake_quantize_dequantize_moving_average_abs_max`
/// on activations too, so only these two mark a QAT program.
///
/// Source: `PaddlePaddle/Paddle:paddle/fluid/operators/fake_quantize_op.cc@004dfd6e`; the QAT
/// use was observed in PaddleSlim 2.6.0 QAT programs with `onnx_format=False`.
pub const PADDLE_QAT_WEIGHT_FAKE_QUANT: &[&str] = &[
    "fake_quantize_dequantize_abs_max",
    "fake_channel_wise_quantize_dequantize_abs_max",
];

/// Paddle quantization ops of the ONNX format (`onnx_format=True`).
///
/// Source: `PaddlePaddle/Paddle:paddle/fluid/operators/quantize_linear_op.cc@11632813`.
pub const PADDLE_ONNX_FORMAT: &[&str] = &["quantize_linear", "dequantize_linear"];

/// Paddle oneDNN INT8 ops that CPU inference passes insert; saved PaddleSlim models do not
/// contain them.
///
/// Source: `PaddlePaddle/Paddle:paddle/fluid/framework/ir/mkldnn/cpu_quantize_squash_pass_tester.cc`.
pub const PADDLE_ONEDNN_QUANT: &[&str] = &["quantize", "dequantize", "requantize"];

/// Quantized compute ops of the default ONNX domain.
///
/// Source: `onnx/onnx:onnx/defs/quantization/defs.cc`, `defs/math/defs.cc`, `defs/nn/defs.cc`
/// @f7546912.
pub const ONNX_QUANTIZED_COMPUTE: &[&str] = &[
    "QLinearConv",
    "QLinearMatMul",
    "ConvInteger",
    "MatMulInteger",
];

/// Quantized compute ops of the com.microsoft domain.
///
/// Source: `microsoft/onnxruntime:docs/ContribOperators.md@004b79ed`.
pub const MS_QUANTIZED_COMPUTE: &[&str] = &[
    "QLinearConv",
    "QLinearAdd",
    "QLinearMul",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearSoftmax",
    "QLinearConcat",
    "QLinearAveragePool",
    "QLinearGlobalAveragePool",
    "QLinearReduceMean",
    "QLinearWhere",
    "QGemm",
    "QAttention",
    "QEmbedLayerNormalization",
    "QMoE",
    "QOrderedAttention",
    "QOrderedGelu",
    "QOrderedLayerNormalization",
    "QOrderedLongformerAttention",
    "QOrderedMatMul",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "DynamicQuantizeLSTM",
    "MatMulInteger16",
    "MulInteger",
    "ReduceSumInteger",
    "MatMulNBits",
    "MatMulBnb4",
    "MatMulFpQ4",
    "MatMulBlockQuantizedFp4Weight",
    "MatMulBlockQuantizedFp8Weight",
    "GatherBlockQuantized",
    "GemmFloat8",
];

/// Quantized compute ops whose multiply-accumulates run in ORT's 8-bit integer kernels
/// (MLAS QGEMM / int8 convolution). Weight-only 4-bit and float8 ops are left out: their
/// activations stay float.
pub const INT8_KERNEL_OPS: &[&str] = &[
    "QLinearConv",
    "QLinearMatMul",
    "ConvInteger",
    "MatMulInteger",
    "QGemm",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "QAttention",
];

/// Conversion ops besides QuantizeLinear/DequantizeLinear.
///
/// Source: `onnx/onnx:onnx/defs/quantization/defs.cc@f7546912` (DynamicQuantizeLinear) and
/// `microsoft/onnxruntime:docs/ContribOperators.md@004b79ed` (the com.microsoft ones).
pub const OTHER_CONVERSION_OPS: &[&str] = &[
    "DynamicQuantizeLinear",
    "QuantizeWithOrder",
    "DequantizeWithOrder",
    "QuantizeBFP",
    "DequantizeBFP",
];

/// Default-domain ops that ORT runs directly on 8-bit data once the DequantizeLinear and
/// QuantizeLinear around them are dropped, plus Identity.
///
/// Source: `microsoft/onnxruntime:onnxruntime/core/optimizer/qdq_transformer/selectors_actions/
/// qdq_selector_action_transformer.cc@008eeb96` (drop, dropSplitQDQ and dropDQ selectors).
pub const INT8_PASS_THROUGH: &[&str] = &[
    "MaxPool",
    "Transpose",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Slice",
    "Gather",
    "GatherElements",
    "Expand",
    "Tile",
    "Split",
    "Resize",
    "ReduceMax",
    "ReduceMin",
    "Identity",
];

/// Float ops with multiply-accumulate kernels (convolution and matrix products).
pub const ONNX_FLOAT_COMPUTE: &[&str] = &["Conv", "ConvTranspose", "MatMul", "Gemm"];

/// com.microsoft fusions of the float compute ops (ORT_ENABLE_EXTENDED output).
pub const MS_FLOAT_COMPUTE: &[&str] = &[
    "FusedConv",
    "FusedMatMul",
    "FusedGemm",
    "NhwcConv",
    "NhwcFusedConv",
];

/// Paddle compute ops with multiply-accumulate kernels.
pub const PADDLE_FLOAT_COMPUTE: &[&str] = &[
    "conv2d",
    "depthwise_conv2d",
    "conv2d_transpose",
    "depthwise_conv2d_transpose",
    "matmul",
    "matmul_v2",
    "mul",
    "fc",
];

/// Removes the PIR dialect prefix (`pd_op.`, or `1.` in current PIR JSON files) from a Paddle
/// op type. Other op types are returned unchanged.
pub fn paddle_op(op_type: &str) -> &str {
    op_type
        .strip_prefix("pd_op.")
        .or_else(|| op_type.strip_prefix("1."))
        .unwrap_or(op_type)
}

/// True for the domains Paddle ops carry: `""` in ProgramDesc files, `pd_op` in PIR programs.
pub fn is_paddle_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "pd_op"
}

/// True for the default ONNX domain, written `""` or `ai.onnx`.
pub fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

fn in_default(node: &Node, names: &[&str]) -> bool {
    is_default_domain(&node.domain) && names.contains(&node.op_type.as_str())
}

fn in_ms(node: &Node, names: &[&str]) -> bool {
    node.domain == MS_DOMAIN && names.contains(&node.op_type.as_str())
}

/// True for a Paddle legacy fake quantization op.
pub fn is_paddle_legacy_fake_quant(node: &Node) -> bool {
    PADDLE_LEGACY_FAKE_QUANT.contains(&paddle_op(&node.op_type))
}

/// True for a legacy fake quantize-dequantize op that QAT puts on weights.
pub fn is_paddle_qat_weight_fake_quant(node: &Node) -> bool {
    PADDLE_QAT_WEIGHT_FAKE_QUANT.contains(&paddle_op(&node.op_type))
}

/// True for ONNX or contrib QuantizeLinear, and Paddle `quantize_linear`.
pub fn is_quantize(node: &Node) -> bool {
    is_onnx_quantize(node) || paddle_op(&node.op_type) == "quantize_linear"
}

/// True for ONNX or contrib DequantizeLinear, and Paddle `dequantize_linear`.
pub fn is_dequantize(node: &Node) -> bool {
    is_onnx_dequantize(node) || paddle_op(&node.op_type) == "dequantize_linear"
}

/// True for QuantizeLinear in the default or com.microsoft domain.
pub fn is_onnx_quantize(node: &Node) -> bool {
    node.op_type == "QuantizeLinear"
        && (is_default_domain(&node.domain) || node.domain == MS_DOMAIN)
}

/// True for DequantizeLinear in the default or com.microsoft domain.
pub fn is_onnx_dequantize(node: &Node) -> bool {
    node.op_type == "DequantizeLinear"
        && (is_default_domain(&node.domain) || node.domain == MS_DOMAIN)
}

/// True for any QuantizeLinear/DequantizeLinear, ONNX or Paddle.
pub fn is_qdq(node: &Node) -> bool {
    is_quantize(node) || is_dequantize(node)
}

/// True for a Paddle `quantize_linear`/`dequantize_linear` with `only_observer=true`, which
/// only records a scale and passes the tensor through unchanged.
pub fn is_paddle_observer_only(node: &Node) -> bool {
    let op = paddle_op(&node.op_type);
    PADDLE_ONNX_FORMAT.contains(&op)
        && node.attr("only_observer").and_then(Attr::as_bool) == Some(true)
}

/// True for a quantized compute op: a QLinear op, ConvInteger/MatMulInteger, or a
/// com.microsoft quantized op. NHWC forms in ORT's internal layout domain count too.
pub fn is_quantized_compute(node: &Node) -> bool {
    in_default(node, ONNX_QUANTIZED_COMPUTE)
        || in_ms(node, MS_QUANTIZED_COMPUTE)
        || (node.domain == INTERNAL_NHWC_DOMAIN && node.op_type.starts_with("QLinear"))
}

/// True for a quantized compute op whose multiply-accumulates run in an 8-bit integer kernel.
pub fn runs_int8_kernel(node: &Node) -> bool {
    is_quantized_compute(node) && INT8_KERNEL_OPS.contains(&node.op_type.as_str())
}

/// True for an op that can run on 8-bit data unchanged. Whether it does depends on its tensor
/// types, which [`crate::analysis::chains`] checks.
pub fn is_int8_pass_through(node: &Node) -> bool {
    in_default(node, INT8_PASS_THROUGH)
        || (node.domain == MS_DOMAIN && node.op_type == "NhwcMaxPool")
        || (node.domain == INTERNAL_NHWC_DOMAIN && node.op_type == "MaxPool")
}

/// True for any quantization op: QDQ, Paddle fake and oneDNN ops, quantized compute ops and the
/// other conversion ops.
pub fn is_quant_op(node: &Node) -> bool {
    is_qdq(node)
        || is_paddle_legacy_fake_quant(node)
        || is_quantized_compute(node)
        || in_default(node, OTHER_CONVERSION_OPS)
        || in_ms(node, OTHER_CONVERSION_OPS)
        || (is_paddle_domain(&node.domain)
            && PADDLE_ONEDNN_QUANT.contains(&paddle_op(&node.op_type)))
}

/// True for a float op with a multiply-accumulate kernel: ONNX Conv/ConvTranspose/MatMul/Gemm,
/// their com.microsoft fusions, NCHWc and internal-NHWC Conv, and the Paddle conv and matmul ops.
pub fn is_float_compute(node: &Node) -> bool {
    in_default(node, ONNX_FLOAT_COMPUTE)
        || in_ms(node, MS_FLOAT_COMPUTE)
        || (node.domain == NCHWC_DOMAIN && node.op_type == "Conv")
        || (node.domain == INTERNAL_NHWC_DOMAIN
            && (node.op_type == "Conv" || node.op_type == "ConvTranspose"))
        || (is_paddle_domain(&node.domain)
            && PADDLE_FLOAT_COMPUTE.contains(&paddle_op(&node.op_type)))
}

/// True for an op that ORT's layout transformers wrote: anything in the NCHWc or internal NHWC
/// domains, com.microsoft `Nhwc*` ops, and com.microsoft ops with `channels_last` set (in ORT
/// 1.32.0 ORT_ENABLE_ALL output, `com.microsoft::QLinearConv` carries `channels_last=1`).
pub fn is_layout_op(node: &Node) -> bool {
    if node.domain == NCHWC_DOMAIN || node.domain == INTERNAL_NHWC_DOMAIN {
        return true;
    }
    node.domain == MS_DOMAIN && (node.op_type.starts_with("Nhwc") || is_channels_last(node))
}

/// True when the node's `channels_last` attribute is set (NHWC data).
pub fn is_channels_last(node: &Node) -> bool {
    node.attr("channels_last")
        .and_then(Attr::as_i64)
        .unwrap_or(0)
        != 0
}

/// Domains that ORT imports into every model it saves, besides the default and the three that
/// [`has_ort_fingerprint`] requires.
const ORT_EXTRA_DOMAINS: &[&str] = &[
    "ai.onnx.training",
    "ai.onnx.preview",
    "ai.onnx.preview.training",
    "com.microsoft.experimental",
    "org.pytorch.aten",
];

/// True when the opset imports look like a model that ONNX Runtime saved after optimizing it.
///
/// ORT writes no producer name, but a saved optimized model imports every domain ORT registers
/// (ORT 1.32.0 on the qlint corpus: `ai.onnx.ml`, `ai.onnx.training`, `ai.onnx.preview`,
/// `com.microsoft`, `ai.onnx.preview.training`, `com.microsoft.experimental`,
/// `com.microsoft.nchwc`, `org.pytorch.aten`), even for a one-Conv graph. Exporters and
/// QOperator quantizers import only what they use. This requires `com.microsoft`,
/// `com.microsoft.nchwc` and `ai.onnx.ml` plus at least two of the other five, so a future
/// ORT that drops one of them still matches.
pub fn has_ort_fingerprint(meta: &ModelMeta) -> bool {
    let has = |domain: &str| meta.opsets.contains_key(domain);
    let required = has(MS_DOMAIN) && has(NCHWC_DOMAIN) && has("ai.onnx.ml");
    let extra = ORT_EXTRA_DOMAINS.iter().filter(|d| has(d)).count();
    required && extra >= 2
}

#[cfg(test)]
mod tests;
