//! ONNX loader on the real models in `testdata/corpus`: Paddle2ONNX 1.3.1 exports and the
//! graphs that ONNX Runtime 1.32.0 saved after optimization. Expected node counts come from the
//! corpus manifest, which the `onnx` Python package computed independently of qlint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use qlint::graph::{DataType, Dim, Graph, Model, ModelFormat, Payload, Stage, TensorId};
use qlint::load::onnx::{decode_model_bytes, load};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CORPUS: &str = "testdata/corpus";
const CONVNET_QDQ: &str = "testdata/corpus/convnet/pd262-A_qdq_full/p2o131.onnx";
const CONVNET_EXTENDED: &str = "testdata/corpus/convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx";
const CONVNET_ALL: &str = "testdata/corpus/convnet/pd262-A_qdq_full/p2o131.ort_all.onnx";

/// Node count per corpus file, from the corpus manifest.
const NODE_COUNTS: &[(&str, usize)] = &[
    ("convnet/pd262-A_qdq_full/p2o131.onnx", 98),
    ("convnet/pd262-A_qdq_full/p2o131.ort_all.onnx", 30),
    ("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx", 24),
    ("convnet/pd262-A_qdq_full/p2o131_trt.onnx", 46),
    ("convnet/pd262-C_qdq_partial/p2o131.onnx", 98),
    ("convnet/pd262-QAT_qdq/p2o131.onnx", 90),
    ("convnet/pd262-QAT_qdq/p2o131.ort_all.onnx", 22),
    ("convnet/pd262-QAT_qdq/p2o131.ort_extended.onnx", 20),
    ("convnet/pd331-float/p2o131.onnx", 43),
    ("convnet/pd331-float/p2o131.ort_extended.onnx", 8),
    ("leaky/pd262-A_qdq_full/p2o131.onnx", 90),
    ("leaky/pd262-A_qdq_full/p2o131.ort_all.onnx", 16),
    ("leaky/pd262-A_qdq_full/p2o131.ort_extended.onnx", 14),
    ("mbv3ish/pd262-A_qdq_full/p2o131.onnx", 368),
    ("mbv3ish/pd262-A_qdq_full/p2o131.ort_all.onnx", 124),
    ("mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx", 106),
    ("tiny/pd262-A_qdq_full/p2o131.onnx", 3),
    ("tiny/pd262-A_qdq_full/p2o131.ort_all.onnx", 2),
    ("tiny/pd262-A_qdq_full/p2o131.ort_extended.onnx", 1),
];

/// Default-domain opset of each Paddle2ONNX export (ORT outputs keep the exporter's opset).
const EXPORT_OPSETS: &[(&str, i64)] = &[
    ("convnet/pd262-A_qdq_full/p2o131.onnx", 13),
    ("convnet/pd331-float/p2o131.onnx", 9),
    ("mbv3ish/pd262-A_qdq_full/p2o131.onnx", 14),
];

fn onnx_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            onnx_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "onnx") {
            found.push(path);
        }
    }
    Ok(())
}

/// Checks that producers, consumers, ports and DAG edges agree, and that there is no cycle.
fn assert_consistent(graph: &Graph, file: &Path) {
    assert!(
        !petgraph::algo::is_cyclic_directed(&graph.dag),
        "{}: cycle",
        file.display()
    );
    for node in graph.node_ids() {
        for port in &graph.node(node).inputs {
            if let Some(t) = port.tensor {
                assert!(
                    graph.consumers(t).contains(&node),
                    "{}: input",
                    file.display()
                );
            }
        }
        for port in &graph.node(node).outputs {
            if let Some(t) = port.tensor {
                assert_eq!(graph.producer(t), Some(node), "{}: output", file.display());
            }
        }
    }
    let mut expected_edges = 0;
    for (index, tensor) in graph.tensors.iter().enumerate() {
        let id = TensorId(index as u32);
        for &consumer in &tensor.consumers {
            let reads = graph
                .node(consumer)
                .inputs
                .iter()
                .any(|p| p.tensor == Some(id));
            assert!(reads, "{}: consumer of `{}`", file.display(), tensor.name);
        }
        if tensor.producer.is_some() {
            expected_edges += tensor.consumers.len();
        }
    }
    assert_eq!(
        graph.dag.edge_count(),
        expected_edges,
        "{}: edges",
        file.display()
    );
    for edge in graph.dag.edge_indices() {
        let (from, to) = graph.dag.edge_endpoints(edge).unzip();
        let tensor = graph.dag[edge];
        assert_eq!(
            graph.producer(tensor),
            from,
            "{}: edge source",
            file.display()
        );
        let consumed = to.is_some_and(|to| graph.consumers(tensor).contains(&to));
        assert!(consumed, "{}: edge target", file.display());
    }
}

/// Checks that every numeric constant with a value decodes to the element count of its dims.
fn assert_constants_decode(graph: &Graph, file: &Path) {
    for tensor in graph.tensors.iter().filter(|t| t.is_constant) {
        let Some(value) = &tensor.value else { continue };
        if value.dtype == DataType::String {
            continue;
        }
        let decoded = value.to_f64();
        assert!(
            decoded.is_ok(),
            "{}: `{}`: {decoded:?}",
            file.display(),
            tensor.name
        );
        let count = decoded.map(|v| v.len()).ok();
        assert_eq!(
            count,
            value.element_count(),
            "{}: `{}`",
            file.display(),
            tensor.name
        );
    }
}

#[test]
fn every_corpus_model_loads() -> TestResult {
    let mut files = Vec::new();
    onnx_files(Path::new(CORPUS), &mut files)?;
    files.sort();
    assert_eq!(files.len(), NODE_COUNTS.len(), "corpus files: {files:?}");
    let expected: BTreeMap<&str, usize> = NODE_COUNTS.iter().copied().collect();
    for file in &files {
        let key = file
            .strip_prefix(CORPUS)?
            .to_string_lossy()
            .replace('\\', "/");
        let model = load(file)?;
        assert_eq!(model.format, ModelFormat::Onnx);
        assert_eq!(model.stage, Stage::Onnx);
        assert_eq!(model.path, *file);
        // Every file starts with the bytes 08 07 (ir_version 7), except the opset 9 float
        // export and its ORT output, which start with 08 04.
        let ir_version = if key.starts_with("convnet/pd331-float/") {
            4
        } else {
            7
        };
        assert_eq!(model.meta.ir_version, Some(ir_version), "{key}");
        let nodes = expected.get(key.as_str()).copied();
        assert_eq!(Some(model.graph.node_count()), nodes, "{key}");
        assert_eq!(model.graph.inputs.len(), 1, "{key}");
        assert_eq!(model.graph.outputs.len(), 1, "{key}");
        assert_consistent(&model.graph, file);
        assert_constants_decode(&model.graph, file);
    }
    for (key, opset) in EXPORT_OPSETS {
        let model = load(&Path::new(CORPUS).join(key))?;
        assert_eq!(model.meta.opsets.get("ai.onnx"), Some(opset), "{key}");
        assert_eq!(model.meta.opsets.len(), 1, "{key}");
    }
    Ok(())
}

#[test]
fn convnet_qdq_export_matches_manifest() -> TestResult {
    let model = load(Path::new(CONVNET_QDQ))?;
    let histogram = model.graph.op_histogram();
    assert_eq!(model.graph.node_count(), 98);
    assert_eq!(histogram.get("Constant"), Some(&50));
    assert_eq!(histogram.get("DequantizeLinear"), Some(&18));
    assert_eq!(histogram.get("QuantizeLinear"), Some(&14));
    assert_eq!(histogram.get("Conv"), Some(&4));
    assert_eq!(histogram.get("Relu"), Some(&4));
    assert_eq!(model.meta.opsets.get("ai.onnx"), Some(&13));
    assert_eq!(model.meta.producer_name, None);

    let input = model.graph.tensor(model.graph.inputs[0]);
    assert_eq!(input.name, "x");
    assert_eq!(input.dtype, Some(DataType::Float32));
    let shape = [1, 3, 32, 32].map(Dim::Known).to_vec();
    assert_eq!(input.shape, Some(shape));
    let output = model.graph.tensor(model.graph.outputs[0]);
    assert_eq!(output.shape, Some(vec![Dim::Known(1), Dim::Known(10)]));
    Ok(())
}

#[test]
fn convnet_constant_dtypes_match_export() -> TestResult {
    // Paddle2ONNX 1.3.1 wrote 50 Constant nodes: FLOAT 24, INT8 14, INT32 8, INT64 4.
    let model = load(Path::new(CONVNET_QDQ))?;
    let graph = &model.graph;
    let mut dtypes: BTreeMap<DataType, usize> = BTreeMap::new();
    for node in graph
        .node_ids()
        .filter(|&n| graph.node(n).op_type == "Constant")
    {
        let out = graph
            .node(node)
            .output(0)
            .ok_or("Constant without output")?;
        let value = graph.constant(out).ok_or("Constant output without value")?;
        *dtypes.entry(value.dtype).or_default() += 1;
        assert!(graph.tensor(out).is_constant);
    }
    assert_eq!(dtypes.get(&DataType::Float32), Some(&24));
    assert_eq!(dtypes.get(&DataType::Int8), Some(&14));
    assert_eq!(dtypes.get(&DataType::Int32), Some(&8));
    assert_eq!(dtypes.get(&DataType::Int64), Some(&4));
    assert_eq!(graph.tensors.iter().filter(|t| t.is_constant).count(), 50);
    Ok(())
}

#[test]
fn convnet_weight_constant_feeds_quantize() -> TestResult {
    let model = load(Path::new(CONVNET_QDQ))?;
    let graph = &model.graph;
    let is_constant_op = |t: TensorId| {
        graph
            .producer(t)
            .is_some_and(|p| graph.node(p).op_type == "Constant")
    };
    let quantize = graph
        .node_ids()
        .filter(|&n| graph.node(n).op_type == "QuantizeLinear")
        .find(|&n| graph.node(n).input(0).is_some_and(is_constant_op))
        .ok_or("no QuantizeLinear reads a Constant")?;
    let weight_id = graph.node(quantize).input(0).ok_or("no weight input")?;
    let weight = graph.constant(weight_id).ok_or("weight has no value")?;
    assert_eq!(weight.dtype, DataType::Float32);
    assert_eq!(weight.dims.len(), 4, "conv weight is OIHW");
    assert!(matches!(weight.payload, Payload::Raw(_)));
    let values = weight.to_f64()?;
    let product: i64 = weight.dims.iter().product();
    assert_eq!(values.len() as i64, product);
    assert!(values.iter().any(|&v| v != 0.0));

    // Conv weights are quantized per output channel.
    let node = graph.node(quantize);
    assert_eq!(node.attr("axis").and_then(|a| a.as_i64()), Some(0));
    let scale_id = node.input(1).ok_or("no scale input")?;
    let scale = graph
        .constant(scale_id)
        .ok_or("scale has no value")?
        .to_f64()?;
    assert_eq!(Some(scale.len() as i64), weight.dims.first().copied());
    assert!(scale.iter().all(|&s| s > 0.0));
    Ok(())
}

#[test]
fn ort_extended_has_qlinearconv_and_domains() -> TestResult {
    let model = load(Path::new(CONVNET_EXTENDED))?;
    let graph = &model.graph;
    assert_eq!(graph.op_histogram().get("QLinearConv"), Some(&4));
    for domain in [
        "ai.onnx",
        "ai.onnx.ml",
        "com.microsoft",
        "com.microsoft.nchwc",
    ] {
        assert!(
            model.meta.opsets.contains_key(domain),
            "opset_import lacks {domain}"
        );
    }
    // ORT 1.32.0 converts int8 activations to uint8 with zero point 128 and keeps int8 weights.
    for node in graph
        .node_ids()
        .filter(|&n| graph.node(n).op_type == "QLinearConv")
    {
        let node = graph.node(node);
        let x_zero_point = graph.constant(node.input(2).ok_or("no x_zero_point")?);
        let x_zero_point = x_zero_point.ok_or("x_zero_point has no value")?;
        assert_eq!(x_zero_point.dtype, DataType::UInt8, "{}", node.id);
        assert_eq!(x_zero_point.to_i64()?, vec![128], "{}", node.id);
        let weight = graph.constant(node.input(3).ok_or("no weight")?);
        let weight = weight.ok_or("weight has no value")?;
        assert_eq!(weight.dtype, DataType::Int8, "{}", node.id);
        assert_eq!(Some(weight.to_i64()?.len()), weight.element_count());
    }
    Ok(())
}

#[test]
fn ort_all_uses_contrib_domains() -> TestResult {
    let model = load(Path::new(CONVNET_ALL))?;
    let histogram = model.graph.op_histogram();
    assert_eq!(model.graph.node_count(), 30);
    assert_eq!(histogram.get("com.microsoft::QLinearConv"), Some(&4));
    assert_eq!(histogram.get("com.microsoft.nchwc::MaxPool"), Some(&1));
    assert_eq!(histogram.get("com.microsoft.nchwc::ReorderInput"), Some(&1));
    assert_eq!(
        histogram.get("com.microsoft.nchwc::ReorderOutput"),
        Some(&1)
    );
    assert_eq!(histogram.get("Transpose"), Some(&4));
    assert_eq!(histogram.get("QLinearConv"), None);
    Ok(())
}

#[test]
fn loading_from_memory_matches_file() -> TestResult {
    let path = Path::new(CONVNET_EXTENDED);
    let bytes = bytes::Bytes::from(std::fs::read(path)?);
    let from_memory: Model = decode_model_bytes(path, bytes)?;
    let from_file = load(path)?;
    assert_eq!(from_memory.meta, from_file.meta);
    assert_eq!(
        from_memory.graph.op_histogram(),
        from_file.graph.op_histogram()
    );
    assert_eq!(from_memory.graph.tensors, from_file.graph.tensors);
    Ok(())
}

#[test]
fn truncated_model_is_an_error() -> TestResult {
    let bytes = std::fs::read(CONVNET_QDQ)?;
    let half = bytes::Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    let err = decode_model_bytes(Path::new(CONVNET_QDQ), half).err();
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with(CONVNET_QDQ), "{message}");
    assert!(message.contains("not a valid ONNX model"), "{message}");
    assert!(
        message.contains("is this a complete ONNX file?"),
        "{message}"
    );
    Ok(())
}

#[test]
fn every_truncation_is_handled() -> TestResult {
    // Cuts that fall between two complete fields can decode, so this checks only that no
    // prefix makes the loader panic.
    let bytes = bytes::Bytes::from(std::fs::read(CONVNET_EXTENDED)?);
    let mut errors = 0;
    for end in (0..bytes.len()).step_by(211) {
        if decode_model_bytes(Path::new("cut.onnx"), bytes.slice(..end)).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
    Ok(())
}
