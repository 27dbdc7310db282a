//! Paddle loaders on the real corpus models in `testdata/corpus`, on the generated training
//! program, and on broken copies of them.
//!
//! The expected operator counts were taken from the `ops_paddle.json` summaries that the corpus
//! build wrote next to each model with its own Python protobuf and JSON reader.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use petgraph::algo::is_cyclic_directed;
use qlint::error::LoadError;
use qlint::graph::{Attr, DataType, Dim, Model, Node, TensorId};
use qlint::load::paddle::{is_pir_json, load_pir, load_program};

fn corpus(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/corpus")
        .join(relative)
}

type TestResult = Result<(), Box<dyn Error>>;

/// Loads a corpus model of either format.
fn load(relative: &str) -> Result<Model, LoadError> {
    let path = corpus(relative);
    if relative.ends_with(".json") {
        load_pir(&path)
    } else {
        load_program(&path)
    }
}

/// (model file, program version, `op=count` list; `PARAMS` is the number of PIR parameters).
const HISTOGRAMS: &[(&str, i64, &str)] = &[
    (
        "convnet/pd262-A_qdq_full/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 dequantize_linear=23 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 quantize_linear=18 relu=4 scale=2",
    ),
    (
        "convnet/pd262-B_fake_full/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 elementwise_add=1 fake_channel_wise_dequantize_max_abs=5 fake_quantize_dequantize_moving_average_abs_max=12 fake_quantize_range_abs_max=5 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 relu=4 scale=2",
    ),
    (
        "convnet/pd262-B_fake_partial/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 elementwise_add=1 fake_channel_wise_dequantize_max_abs=5 fake_quantize_range_abs_max=5 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 relu=4 scale=2",
    ),
    (
        "convnet/pd262-C_qdq_partial/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 dequantize_linear=23 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 quantize_linear=18 relu=4 scale=2",
    ),
    (
        "convnet/pd262-QAT_fake/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 elementwise_add=1 fake_channel_wise_quantize_dequantize_abs_max=5 fake_quantize_dequantize_moving_average_abs_max=5 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 relu=4 scale=2",
    ),
    (
        "convnet/pd262-QAT_qdq/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 dequantize_linear=15 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 quantize_linear=10 relu=4 scale=2",
    ),
    (
        "convnet/pd331-A_qdq_full/model.pdmodel",
        3003001,
        "batch_norm=4 conv2d=4 dequantize_linear=22 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 quantize_linear=17 relu=4",
    ),
    (
        "convnet/pd331-float/model.pdmodel",
        3003001,
        "batch_norm=4 conv2d=4 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 matmul_v2=1 pool2d=2 relu=4",
    ),
    (
        "leaky/pd262-A_qdq_full/model.pdmodel",
        2006002,
        "batch_norm=4 conv2d=4 dequantize_linear=23 elementwise_add=1 feed=1 fetch=1 flatten_contiguous_range=1 leaky_relu=4 matmul_v2=1 pool2d=2 quantize_linear=18 scale=2",
    ),
    (
        "mbv3ish/pd262-A_qdq_full/model.pdmodel",
        2006002,
        "batch_norm=11 conv2d=14 depthwise_conv2d=3 dequantize_linear=91 elementwise_add=10 elementwise_mul=3 feed=1 fetch=1 flatten_contiguous_range=1 hard_sigmoid=2 hard_swish=7 matmul_v2=2 pool2d=4 quantize_linear=72 relu=3 reshape2=6 scale=2 sigmoid=1 swish=2",
    ),
    (
        "tiny/pd262-A_qdq_full/model.pdmodel",
        2006002,
        "conv2d=1 dequantize_linear=5 elementwise_add=1 feed=1 fetch=1 quantize_linear=4 reshape2=1 scale=2",
    ),
    (
        "convnet/pd331-float_pir/model.json",
        4,
        "PARAMS=22 pd_op::add=1 pd_op::batch_norm_=4 pd_op::conv2d=4 pd_op::data=1 pd_op::fetch=1 pd_op::flatten=1 pd_op::full_int_array=2 pd_op::matmul=1 pd_op::pool2d=2 pd_op::relu=4",
    ),
    (
        "convnet/pd331-QAT2_qdq_pir_zpfix/model.json",
        4,
        "PARAMS=162 pd_op::add=1 pd_op::batch_norm_=4 pd_op::conv2d=4 pd_op::data=1 pd_op::dequantize_linear=20 pd_op::fetch=1 pd_op::flatten=1 pd_op::full_int_array=2 pd_op::matmul=1 pd_op::pool2d=2 pd_op::quantize_linear=15 pd_op::relu=4",
    ),
    (
        "mbv3ish/pd331-float_pir/model.json",
        4,
        "PARAMS=71 pd_op::add=10 pd_op::batch_norm_=11 pd_op::conv2d=14 pd_op::data=1 pd_op::depthwise_conv2d=3 pd_op::fetch=1 pd_op::flatten=1 pd_op::full_int_array=10 pd_op::hardsigmoid=2 pd_op::hardswish=7 pd_op::matmul=2 pd_op::multiply=3 pd_op::pool2d=4 pd_op::relu=3 pd_op::reshape=6 pd_op::sigmoid=1 pd_op::swish=2",
    ),
];

fn parse_counts(list: &str) -> BTreeMap<String, usize> {
    list.split_whitespace()
        .filter_map(|item| {
            let (op, count) = item.split_once('=')?;
            Some((op.to_string(), count.parse().ok()?))
        })
        .collect()
}

fn nodes<'a>(model: &'a Model, op_type: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
    model
        .graph
        .dag
        .node_weights()
        .filter(move |n| n.op_type == op_type)
}

/// Returns the tensor bound to `slot` (ProgramDesc) or at position `index` (PIR).
fn slot_tensor(node: &Node, slot: &str, index: usize) -> Option<TensorId> {
    node.slot_inputs(slot).next().or_else(|| node.input(index))
}

fn constants_with_values(model: &Model) -> usize {
    model
        .graph
        .tensors
        .iter()
        .filter(|t| t.value.is_some())
        .count()
}

#[test]
fn corpus_op_histograms_match() -> TestResult {
    for (file, version, list) in HISTOGRAMS {
        let model = load(file)?;
        let mut expected = parse_counts(list);
        let params = expected.remove("PARAMS");
        assert_eq!(model.graph.op_histogram(), expected, "{file}");
        assert_eq!(model.meta.program_version, Some(*version), "{file}");
        if let Some(params) = params {
            assert_eq!(
                constants_with_values(&model),
                params,
                "{file}: parameters with values"
            );
        }
    }
    Ok(())
}

#[test]
fn corpus_graphs_are_acyclic_with_io() -> TestResult {
    for (file, _, _) in HISTOGRAMS {
        let model = load(file)?;
        let graph = &model.graph;
        assert!(!is_cyclic_directed(&graph.dag), "{file}");
        assert_eq!(graph.inputs.len(), 1, "{file}: inputs");
        assert_eq!(graph.outputs.len(), 1, "{file}: outputs");
        let input = graph.inputs[0];
        let feeder = graph.producer(input).map(|n| graph.node(n).op_type.clone());
        assert!(
            matches!(feeder.as_deref(), Some("feed" | "data")),
            "{file}: {feeder:?}"
        );
        assert!(
            !graph.consumers(input).is_empty(),
            "{file}: input has no consumer"
        );
        let output = graph.outputs[0];
        let fetchers: Vec<&str> = graph
            .consumers(output)
            .iter()
            .map(|&n| graph.node(n).op_type.as_str())
            .collect();
        assert!(fetchers.contains(&"fetch"), "{file}: {fetchers:?}");
    }
    Ok(())
}

#[test]
fn in_place_scale_gets_new_version() -> TestResult {
    let model = load("convnet/pd262-A_qdq_full/model.pdmodel")?;
    let graph = &model.graph;
    let in_place: Vec<&Node> = nodes(&model, "scale")
        .filter(|n| {
            let x = n
                .slot_inputs("X")
                .next()
                .map(|t| graph.tensor(t).name.clone());
            let out = n.output(0).map(|t| graph.tensor(t).name.clone());
            x.is_some() && x == out
        })
        .collect();
    assert_eq!(in_place.len(), 1);
    let name = "save_infer_model/scale_0.tmp_0";
    let versions = graph.tensors.iter().filter(|t| t.name == name).count();
    assert_eq!(versions, 2);
    let output = graph.outputs.first().map(|&t| graph.tensor(t));
    assert_eq!(output.map(|t| t.name.as_str()), Some(name));
    let producer = output.and_then(|t| t.producer).map(|n| graph.node(n));
    assert_eq!(
        producer.map(|n| n.id.as_str()),
        Some("scale(save_infer_model/scale_0.tmp_0)#2")
    );
    assert!(!is_cyclic_directed(&graph.dag));
    Ok(())
}

#[test]
fn params_follow_sorted_names() -> TestResult {
    // Every record's element count equals that of the variable it is assigned to, and the dims
    // match too except for the per-channel weight scales, which Paddle 2.6.2 declares as [C]
    // but stores as [1, C]. A wrong assignment order would break both checks.
    let model = load("convnet/pd262-A_qdq_full/model.pdmodel")?;
    let mut reshaped = Vec::new();
    let mut with_values = 0;
    for tensor in &model.graph.tensors {
        let Some(value) = &tensor.value else { continue };
        with_values += 1;
        let declared: Vec<i64> = tensor
            .shape
            .iter()
            .flatten()
            .map(|d| match d {
                Dim::Known(v) => *v,
                _ => -1,
            })
            .collect();
        let count = |dims: &[i64]| dims.iter().product::<i64>();
        assert_eq!(count(&declared), count(&value.dims), "{}", tensor.name);
        if declared != value.dims {
            reshaped.push(tensor.name.as_str());
        }
    }
    assert_eq!(with_values, 86);
    reshaped.sort_unstable();
    assert_eq!(
        reshaped,
        [
            "conv2d_0.w_0@scale",
            "conv2d_1.w_0@scale",
            "conv2d_2.w_0@scale",
            "conv2d_3.w_0@scale",
            "linear_0.w_0@scale"
        ]
    );
    Ok(())
}

#[test]
fn pir_params_follow_sorted_names() -> TestResult {
    // In PIR files the parameter ops are not in name order, so only sorting assigns the
    // records so that every record's dims equal the declared type.
    for file in [
        "convnet/pd331-float_pir/model.json",
        "convnet/pd331-QAT2_qdq_pir_zpfix/model.json",
        "mbv3ish/pd331-float_pir/model.json",
    ] {
        let model = load(file)?;
        for tensor in model.graph.tensors.iter().filter(|t| t.is_constant) {
            let value = tensor.value.as_ref();
            assert!(value.is_some(), "{file}: {} has no value", tensor.name);
            let stored: Option<Vec<Dim>> =
                value.map(|v| v.dims.iter().map(|&d| Dim::Known(d)).collect());
            assert_eq!(tensor.shape, stored, "{file}: {}", tensor.name);
        }
    }
    Ok(())
}

#[test]
fn quantized_weights_are_int8_records() -> TestResult {
    // PTQ with onnx_format=True stores conv and linear weights as int8 although the VarDesc
    // still declares float32.
    let model = load("convnet/pd262-A_qdq_full/model.pdmodel")?;
    let graph = &model.graph;
    let weight = graph.tensors.iter().find(|t| t.name == "conv2d_0.w_0");
    assert_eq!(weight.map(|t| t.dtype), Some(Some(DataType::Float32)));
    let value = weight.and_then(|t| t.value.as_ref());
    assert_eq!(value.map(|v| v.dtype), Some(DataType::Int8));
    assert_eq!(value.map(|v| v.dims.clone()), Some(vec![16, 3, 3, 3]));
    let codes = value
        .map(|v| v.to_i64())
        .and_then(Result::ok)
        .unwrap_or_default();
    assert_eq!(codes.len(), 432);
    assert!(codes.iter().all(|c| (-127..=127).contains(c)));
    assert!(
        codes.iter().any(|&c| c.abs() == 127),
        "a per-channel max should reach 127"
    );
    Ok(())
}

#[test]
fn conv_filters_are_float_constants() -> TestResult {
    for file in [
        "convnet/pd331-float/model.pdmodel",
        "convnet/pd262-B_fake_full/model.pdmodel",
        "convnet/pd331-float_pir/model.json",
    ] {
        let model = load(file)?;
        let graph = &model.graph;
        let convs: Vec<&Node> = graph
            .dag
            .node_weights()
            .filter(|n| n.op_type == "conv2d")
            .collect();
        assert_eq!(convs.len(), 4, "{file}");
        for conv in convs {
            let filter = slot_tensor(conv, "Filter", 1);
            let tensor = filter.map(|t| graph.tensor(t));
            assert_eq!(
                tensor.map(|t| t.is_constant),
                Some(true),
                "{file}: {}",
                conv.id
            );
            let value = filter.and_then(|t| graph.constant(t));
            assert_eq!(value.map(|v| v.dtype), Some(DataType::Float32), "{file}");
            let dims = value.map(|v| v.dims.clone()).unwrap_or_default();
            assert_eq!(dims.len(), 4, "{file}: {}", conv.id);
            let declared: Option<Vec<Dim>> = Some(dims.iter().map(|&d| Dim::Known(d)).collect());
            assert_eq!(tensor.and_then(|t| t.shape.clone()), declared, "{file}");
            let floats = value.map(|v| v.to_f64());
            let count: i64 = dims.iter().product();
            assert_eq!(
                floats.and_then(Result::ok).map(|f| f.len() as i64),
                Some(count)
            );
        }
    }
    Ok(())
}

#[test]
fn program_quant_attrs_convert() -> TestResult {
    let model = load("convnet/pd262-A_qdq_full/model.pdmodel")?;
    let graph = &model.graph;
    let quantize: Vec<&Node> = nodes(&model, "quantize_linear").collect();
    assert_eq!(quantize.len(), 18);
    for node in quantize {
        assert_eq!(node.attr("bit_length"), Some(&Attr::Int(8)), "{}", node.id);
        assert_eq!(node.attr("quant_axis"), Some(&Attr::Int(-1)), "{}", node.id);
    }
    // A weight dequantization reads a constant weight as X. Conv weights are quantized per
    // output channel (axis 0), the linear weight per column (axis 1).
    let mut axes = BTreeMap::new();
    for node in nodes(&model, "dequantize_linear") {
        let x = node.slot_inputs("X").next().map(|t| graph.tensor(t));
        if let Some(weight) = x.filter(|t| t.is_constant) {
            axes.insert(weight.name.clone(), node.attr("quant_axis").cloned());
        }
    }
    let conv_axes: Vec<_> = axes
        .iter()
        .filter(|(name, _)| name.starts_with("conv2d_"))
        .collect();
    assert_eq!(conv_axes.len(), 4);
    for (name, axis) in conv_axes {
        assert_eq!(axis, &Some(Attr::Int(0)), "{name}");
    }
    assert_eq!(axes.get("linear_0.w_0"), Some(&Some(Attr::Int(1))));
    Ok(())
}

#[test]
fn fake_quant_attrs_convert() -> TestResult {
    let model = load("convnet/pd262-B_fake_full/model.pdmodel")?;
    for node in nodes(&model, "fake_quantize_dequantize_moving_average_abs_max") {
        assert_eq!(node.attr("bit_length"), Some(&Attr::Int(8)));
        assert_eq!(node.attr("is_test"), Some(&Attr::Bool(true)));
        assert_eq!(node.attr("round_type"), Some(&Attr::Int(1)));
        let rate = node
            .attr("moving_rate")
            .and_then(Attr::as_f64)
            .unwrap_or_default();
        assert!((rate - 0.9).abs() < 1e-6, "{rate}");
    }
    for node in nodes(&model, "fake_channel_wise_dequantize_max_abs") {
        assert_eq!(node.attr("quant_bits"), Some(&Attr::Ints(vec![8, 8])));
        assert_eq!(node.slot_inputs("Scales").count(), 2, "{}", node.id);
    }
    Ok(())
}

#[test]
fn pir_quant_attrs_convert() -> TestResult {
    let model = load("convnet/pd331-QAT2_qdq_pir_zpfix/model.json")?;
    let graph = &model.graph;
    for op in ["quantize_linear", "dequantize_linear"] {
        for node in nodes(&model, op) {
            assert_eq!(node.domain, "pd_op");
            assert_eq!(node.attr("bit_length"), Some(&Attr::Int(8)), "{}", node.id);
            assert_eq!(node.attr("quant_axis"), Some(&Attr::Int(-1)), "{}", node.id);
            assert_eq!(node.attr("qmin"), Some(&Attr::Int(-128)), "{}", node.id);
            assert_eq!(node.attr("qmax"), Some(&Attr::Int(127)), "{}", node.id);
            assert_eq!(node.attr("is_test"), Some(&Attr::Bool(true)), "{}", node.id);
            // The operands are x, scale, zero_point, in_accum and in_state, and the scale is a
            // parameter.
            let scale = node.input(1).map(|t| graph.tensor(t));
            assert_eq!(scale.map(|t| t.is_constant), Some(true), "{}", node.id);
            assert!(scale.is_some_and(|t| t.value.is_some()), "{}", node.id);
        }
    }
    Ok(())
}

#[test]
fn pir_values_are_named() -> TestResult {
    let model = load("convnet/pd331-float_pir/model.json")?;
    let graph = &model.graph;
    let input = graph.inputs.first().map(|&t| graph.tensor(t));
    assert!(input.is_some_and(|t| t.name.starts_with('%')));
    assert_eq!(
        input.and_then(|t| t.shape.clone()),
        Some(vec![
            Dim::Known(1),
            Dim::Known(3),
            Dim::Known(32),
            Dim::Known(32)
        ])
    );
    assert_eq!(input.and_then(|t| t.dtype), Some(DataType::Float32));
    let conv = nodes(&model, "conv2d").next();
    let filter = conv
        .and_then(|n| n.input(1))
        .map(|t| graph.tensor(t).name.clone());
    assert!(
        filter.is_some_and(|n| n.ends_with(".w_0")),
        "filter named by parameter_name"
    );
    assert_eq!(
        conv.and_then(|n| n.attr("strides")),
        Some(&Attr::Ints(vec![1, 1]))
    );
    Ok(())
}

#[test]
fn training_program_has_grad_ops() -> TestResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/generated/train_program/model.pdmodel");
    let model = load_program(&path)?;
    let histogram = model.graph.op_histogram();
    assert_eq!(histogram.get("sgd"), Some(&4));
    assert_eq!(histogram.get("conv2d_grad"), Some(&1));
    assert_eq!(histogram.get("conv2d"), Some(&1));
    assert_eq!(model.meta.program_version, Some(2006002));
    let graph = &model.graph;
    assert!(!is_cyclic_directed(&graph.dag));
    // No parameter file: weights are constants without values.
    let weight = graph.tensors.iter().find(|t| t.name == "conv2d_0.w_0");
    assert_eq!(weight.map(|t| t.is_constant), Some(true));
    assert_eq!(weight.map(|t| t.value.is_some()), Some(false));
    // SGD writes the weight in place, which starts a second version of it.
    let versions = graph
        .tensors
        .iter()
        .filter(|t| t.name == "conv2d_0.w_0")
        .count();
    assert_eq!(versions, 2);
    let inputs: Vec<&str> = graph
        .inputs
        .iter()
        .map(|&t| graph.tensor(t).name.as_str())
        .collect();
    assert_eq!(inputs, ["image", "label"]);
    Ok(())
}

#[test]
fn pir_detection() -> TestResult {
    let pir = is_pir_json(&corpus("convnet/pd331-float_pir/model.json"));
    assert_eq!(pir, Ok(true));
    let program = is_pir_json(&corpus("convnet/pd331-float/model.pdmodel"));
    assert_eq!(program, Ok(false));
    let temp = tempfile::tempdir()?;
    let dir = temp.path();
    let cases = [
        (
            "other.json",
            "{\"base_code\": {\"magic\": \"onnx\"}, \"program\": {}}",
        ),
        ("array.json", "[1, 2]"),
        ("broken.json", "{\"base_code\": "),
        ("empty.json", ""),
    ];
    for (name, text) in cases {
        let path = dir.join(name);
        fs::write(&path, text)?;
        assert_eq!(is_pir_json(&path), Ok(false), "{name}");
    }
    assert!(is_pir_json(&dir.join("missing.json")).is_err());
    Ok(())
}

/// Copies a corpus model (and optionally a replacement parameter file) into a temp directory.
fn copy_model(
    relative: &str,
    model_name: &str,
    params: Option<(&str, &[u8])>,
) -> Result<(tempfile::TempDir, PathBuf), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join(model_name);
    fs::copy(corpus(relative), &model_path)?;
    if let Some((name, bytes)) = params {
        fs::write(dir.path().join(name), bytes)?;
    }
    Ok((dir, model_path))
}

fn error_of(result: Result<Model, LoadError>) -> Result<LoadError, Box<dyn Error>> {
    match result {
        Ok(model) => Err(format!("{} loaded although it is broken", model.path.display()).into()),
        Err(err) => Ok(err),
    }
}

#[test]
fn empty_and_random_files_are_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A fixed xorshift sequence, so that the bytes are the same on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for (name, bytes) in [("empty", &[][..]), ("random", &random[..])] {
        for extension in ["pdmodel", "json"] {
            let path = dir.path().join(format!("{name}.{extension}"));
            fs::write(&path, bytes)?;
            let result = if extension == "json" {
                load_pir(&path)
            } else {
                load_program(&path)
            };
            let err = error_of(result)?;
            assert_eq!(err.path, path);
            assert!(
                err.to_string().contains(&format!("{name}.{extension}")),
                "{err}"
            );
        }
    }
    Ok(())
}

#[test]
fn truncated_program_is_an_error() -> TestResult {
    let file = "convnet/pd262-A_qdq_full/model.pdmodel";
    let bytes = fs::read(corpus(file))?;
    let dir = tempfile::tempdir()?;
    // Block 0 covers far more than the first half of a one-block program, so every cut there
    // leaves an incomplete length-delimited field.
    for len in (1..bytes.len() / 2).step_by(97) {
        let path = dir.path().join("model.pdmodel");
        fs::write(&path, &bytes[..len])?;
        let err = error_of(load_program(&path))?;
        assert_eq!(err.path, path, "cut at {len}");
        assert!(
            err.message.contains("ProgramDesc"),
            "cut at {len}: {}",
            err.message
        );
    }
    Ok(())
}

#[test]
fn truncated_params_are_errors() -> TestResult {
    let file = "convnet/pd262-B_fake_full/model.pdmodel";
    let params = fs::read(corpus("convnet/pd262-B_fake_full/model.pdiparams"))?;
    for len in [0, 3, 19, 100, params.len() / 2, params.len() - 1] {
        let (dir, model_path) = copy_model(
            file,
            "model.pdmodel",
            Some(("model.pdiparams", &params[..len])),
        )?;
        let err = error_of(load_program(&model_path))?;
        assert_eq!(err.path, dir.path().join("model.pdiparams"), "cut at {len}");
        if len > 0 {
            assert!(
                err.message.contains("does not match the program"),
                "{}",
                err.message
            );
        }
    }
    let mut longer = params.clone();
    longer.extend_from_slice(&[0; 7]);
    let (_dir, model_path) = copy_model(file, "model.pdmodel", Some(("model.pdiparams", &longer)))?;
    let err = error_of(load_program(&model_path))?;
    assert!(
        err.message.contains("7 bytes remain after the 44 records"),
        "{}",
        err.message
    );
    Ok(())
}

#[test]
fn params_of_other_model_are_rejected() -> TestResult {
    // mbv3ish parameters beside the convnet program: the counts and shapes do not fit.
    let other = fs::read(corpus("mbv3ish/pd262-A_qdq_full/model.pdiparams"))?;
    let (dir, model_path) = copy_model(
        "convnet/pd262-A_qdq_full/model.pdmodel",
        "model.pdmodel",
        Some(("model.pdiparams", &other)),
    )?;
    let err = error_of(load_program(&model_path))?;
    assert_eq!(err.path, dir.path().join("model.pdiparams"));
    assert!(
        err.message.contains("does not match the program"),
        "{}",
        err.message
    );
    Ok(())
}

#[test]
fn fluid_names_find_params() -> TestResult {
    let params = fs::read(corpus("convnet/pd262-B_fake_full/model.pdiparams"))?;
    let reference = load("convnet/pd262-B_fake_full/model.pdmodel")?;
    for (model_name, params_name) in [("__model__", "__params__"), ("model", "params")] {
        let (_dir, model_path) = copy_model(
            "convnet/pd262-B_fake_full/model.pdmodel",
            model_name,
            Some((params_name, &params)),
        )?;
        let model = load_program(&model_path)?;
        assert_eq!(constants_with_values(&model), 44, "{model_name}");
        assert_eq!(model.graph.op_histogram(), reference.graph.op_histogram());
    }
    Ok(())
}

#[test]
fn separate_param_files_match_combined() -> TestResult {
    // Split the combined file into one file per parameter, the Fluid 1.x "separate" layout.
    let combined = load("convnet/pd262-B_fake_full/model.pdmodel")?;
    let params = fs::read(corpus("convnet/pd262-B_fake_full/model.pdiparams"))?;
    let (dir, model_path) =
        copy_model("convnet/pd262-B_fake_full/model.pdmodel", "__model__", None)?;
    let mut names: Vec<&str> = combined
        .graph
        .tensors
        .iter()
        .filter(|t| t.value.is_some())
        .map(|t| t.name.as_str())
        .collect();
    names.sort_unstable();

    let mut pos = 0;
    for name in &names {
        // version u32, LoD level u64 (0 here), tensor version u32, desc size i32.
        let size_at = pos + 16;
        let desc_size = params
            .get(size_at..size_at + 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_le_bytes)
            .ok_or("record header out of range")?;
        let tensor = combined.graph.tensors.iter().find(|t| t.name == *name);
        let data_len = match tensor.and_then(|t| t.value.as_ref()).map(|v| &v.payload) {
            Some(qlint::graph::Payload::Raw(raw)) => raw.len(),
            _ => return Err(format!("{name} has no raw payload").into()),
        };
        let end = size_at + 4 + usize::try_from(desc_size)? + data_len;
        fs::write(
            dir.path().join(name),
            params.get(pos..end).ok_or("record out of range")?,
        )?;
        pos = end;
    }
    assert_eq!(pos, params.len());

    let separate = load_program(&model_path)?;
    for tensor in combined.graph.tensors.iter().filter(|t| t.value.is_some()) {
        let other = separate
            .graph
            .tensors
            .iter()
            .find(|t| t.name == tensor.name);
        assert_eq!(
            other.and_then(|t| t.value.clone()),
            tensor.value,
            "{}",
            tensor.name
        );
    }
    Ok(())
}

#[test]
fn pir_broken_inputs_are_errors() -> TestResult {
    let file = "convnet/pd331-float_pir/model.json";
    let text = fs::read(corpus(file))?;
    let (dir, path) = copy_model(file, "model.json", None)?;
    fs::write(&path, &text[..text.len() / 3])?;
    let err = error_of(load_pir(&path))?;
    assert!(err.message.starts_with("invalid JSON"), "{}", err.message);
    assert_eq!(err.path, path);
    // A PIR program read as a ProgramDesc, and a ProgramDesc read as PIR.
    fs::write(&path, &text)?;
    let err = error_of(load_program(&path))?;
    assert!(err.message.contains("ProgramDesc"), "{}", err.message);
    let pdmodel = corpus("convnet/pd331-float/model.pdmodel");
    let err = error_of(load_pir(&pdmodel))?;
    assert!(err.message.starts_with("invalid JSON"), "{}", err.message);
    // Parameters cut short beside the JSON.
    let params = fs::read(corpus("convnet/pd331-float_pir/model.pdiparams"))?;
    let params_path = dir.path().join("model.pdiparams");
    fs::write(&params_path, &params[..params.len() - 10])?;
    let err = error_of(load_pir(&path))?;
    assert_eq!(err.path, params_path);
    assert!(err.message.contains("record 22 of 22"), "{}", err.message);
    Ok(())
}

#[test]
fn not_pir_json_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config.json");
    fs::write(&path, r#"{"Global": {"model_name": "PP-LCNet"}}"#)?;
    let err = error_of(load_pir(&path))?;
    assert_eq!(
        err.message,
        "not a Paddle PIR program: base_code.magic is missing, expected \"pir\""
    );
    assert_eq!(is_pir_json(&path), Ok(false));
    Ok(())
}
