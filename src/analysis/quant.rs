//! Catalogues of quantization ops: Paddle legacy fake ops, Paddle onnx_format ops, ONNX QDQ,
//! ORT QLinear and com.microsoft quantized ops, and int8 pass-through ops.

use crate::graph::ModelMeta;

/// True when the opset imports look like a model that ORT saved after optimizing.
pub fn has_ort_fingerprint(meta: &ModelMeta) -> bool {
    ["com.microsoft", "com.microsoft.nchwc", "ai.onnx.ml"]
        .iter()
        .all(|d| meta.opsets.contains_key(*d))
}
