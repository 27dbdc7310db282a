//! Catalogues of quantization ops: Paddle legacy fake ops, Paddle onnx_format ops, ONNX QDQ,
//! ORT QLinear and com.microsoft quantized ops, and int8 pass-through ops.
