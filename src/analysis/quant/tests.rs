use super::*;
use std::collections::BTreeMap;

fn node(op: &str, domain: &str) -> Node {
    Node {
        id: op.to_string(),
        name: None,
        op_type: op.to_string(),
        domain: domain.to_string(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: BTreeMap::new(),
        scope: String::new(),
    }
}

#[test]
fn qdq_in_default_and_contrib_domains() {
    assert!(is_quantize(&node("QuantizeLinear", "")));
    assert!(is_quantize(&node("QuantizeLinear", "com.microsoft")));
    assert!(is_dequantize(&node("DequantizeLinear", "ai.onnx")));
    assert!(!is_dequantize(&node("DequantizeLinear", "com.example")));
    assert!(is_quantize(&node("quantize_linear", "")));
    assert!(is_dequantize(&node("pd_op.dequantize_linear", "")));
    assert!(is_dequantize(&node("1.dequantize_linear", "")));
}

#[test]
fn quantized_compute_depends_on_domain() {
    assert!(is_quantized_compute(&node("QLinearConv", "")));
    assert!(is_quantized_compute(&node("QLinearConv", "com.microsoft")));
    assert!(is_quantized_compute(&node(
        "QLinearLeakyRelu",
        "com.microsoft"
    )));
    assert!(!is_quantized_compute(&node("QLinearLeakyRelu", "")));
    assert!(!is_quantized_compute(&node("QuantizeLinear", "")));
    assert!(runs_int8_kernel(&node("QGemm", "com.microsoft")));
    assert!(!runs_int8_kernel(&node("QLinearAdd", "com.microsoft")));
}

#[test]
fn paddle_catalogues() {
    assert!(is_paddle_legacy_fake_quant(&node(
        "fake_quantize_range_abs_max",
        ""
    )));
    assert!(is_paddle_legacy_fake_quant(&node(
        "moving_average_abs_max_scale",
        ""
    )));
    assert!(!is_paddle_legacy_fake_quant(&node("quantize_linear", "")));
    assert!(is_paddle_qat_weight_fake_quant(&node(
        "fake_channel_wise_quantize_dequantize_abs_max",
        ""
    )));
    assert!(!is_paddle_qat_weight_fake_quant(&node(
        "fake_quantize_dequantize_moving_average_abs_max",
        ""
    )));
    assert!(is_float_compute(&node("pd_op.conv2d", "")));
    assert!(is_float_compute(&node("conv2d", "pd_op")));
    assert!(!is_float_compute(&node("conv2d", "com.microsoft")));
    assert!(is_float_compute(&node("matmul_v2", "")));
}

#[test]
fn observer_only_needs_the_attribute() {
    let mut q = node("quantize_linear", "");
    assert!(!is_paddle_observer_only(&q));
    q.attrs.insert("only_observer".into(), Attr::Bool(true));
    assert!(is_paddle_observer_only(&q));
}

#[test]
fn layout_ops() {
    assert!(is_layout_op(&node("ReorderInput", NCHWC_DOMAIN)));
    assert!(is_layout_op(&node("NhwcMaxPool", MS_DOMAIN)));
    assert!(is_layout_op(&node("Conv", INTERNAL_NHWC_DOMAIN)));
    let mut conv = node("QLinearConv", MS_DOMAIN);
    assert!(!is_layout_op(&conv));
    conv.attrs.insert("channels_last".into(), Attr::Int(1));
    assert!(is_layout_op(&conv));
    assert!(!is_layout_op(&node("Transpose", "")));
}

#[test]
fn pass_through_ops() {
    assert!(is_int8_pass_through(&node("MaxPool", "")));
    assert!(is_int8_pass_through(&node("NhwcMaxPool", MS_DOMAIN)));
    assert!(!is_int8_pass_through(&node("MaxPool", NCHWC_DOMAIN)));
    assert!(!is_int8_pass_through(&node("Relu", "")));
}

fn meta(domains: &[&str]) -> ModelMeta {
    let mut m = ModelMeta::default();
    for d in domains {
        m.opsets.insert((*d).to_string(), 1);
    }
    m
}

#[test]
fn ort_fingerprint_requires_the_registered_domains() {
    let ort = meta(&[
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview",
        "com.microsoft",
        "ai.onnx.preview.training",
        "com.microsoft.experimental",
        "com.microsoft.nchwc",
        "org.pytorch.aten",
    ]);
    assert!(has_ort_fingerprint(&ort));
    let qoperator = meta(&["ai.onnx", "com.microsoft"]);
    assert!(!has_ort_fingerprint(&qoperator));
    let one_extra = meta(&[
        "ai.onnx",
        "ai.onnx.ml",
        "com.microsoft",
        "com.microsoft.nchwc",
        "org.pytorch.aten",
    ]);
    assert!(!has_ort_fingerprint(&one_extra));
    let no_nchwc = meta(&[
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview",
        "com.microsoft",
    ]);
    assert!(!has_ort_fingerprint(&no_nchwc));
}
