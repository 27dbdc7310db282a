//! ONNX loader on files written by the test: external data next to the model, hostile
//! external data locations, and inputs that are not ONNX models at all.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use qlint::error::LoadError;
use qlint::graph::{Model, Payload};
use qlint::load::onnx::load;
use qlint::load::onnx::proto::{
    AttributeProto, DATA_LOCATION_EXTERNAL, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, ValueInfoProto, attribute_type,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
    }
}

fn external_tensor(name: &str, location: &str, offset: u64, length: u64) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![2],
        data_type: 1,
        data_location: DATA_LOCATION_EXTERNAL,
        external_data: vec![
            entry("location", location),
            entry("offset", &offset.to_string()),
            entry("length", &length.to_string()),
        ],
        ..TensorProto::default()
    }
}

fn value_info(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: None,
    }
}

/// Builds a model computing `y = x + a + b` where `a` and `b` are initializers.
fn model_with(initializers: Vec<TensorProto>) -> ModelProto {
    let add = |inputs: [&str; 2], output: &str| NodeProto {
        op_type: "Add".into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..NodeProto::default()
    };
    ModelProto {
        ir_version: Some(8),
        producer_name: "qlint-test".into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(GraphProto {
            node: vec![add(["x", "a"], "t"), add(["t", "b"], "y")],
            initializer: initializers,
            input: vec![value_info("x")],
            output: vec![value_info("y")],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    }
}

fn floats_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `model` as `dir/model.onnx` and loads it.
fn write_and_load(dir: &Path, model: &ModelProto) -> Result<Model, LoadError> {
    let path = dir.join("model.onnx");
    fs::write(&path, model.encode_to_vec()).map_err(|e| LoadError::new(&path, e.to_string()))?;
    load(&path)
}

fn load_error(result: Result<Model, LoadError>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn external_data_reads_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut weights = floats_le(&[1.5, -2.0]);
    weights.extend(floats_le(&[0.25, 4.0]));
    fs::write(dir.path().join("weights.bin"), &weights)?;
    let model = model_with(vec![
        external_tensor("a", "weights.bin", 0, 8),
        external_tensor("b", "./weights.bin", 8, 8),
    ]);
    let loaded = write_and_load(dir.path(), &model)?;
    let graph = &loaded.graph;
    let value = |name: &str| {
        let tensor = graph.tensors.iter().find(|t| t.name == name);
        tensor.and_then(|t| t.value.clone())
    };
    let a = value("a").ok_or("a has no value")?;
    let b = value("b").ok_or("b has no value")?;
    assert!(matches!(a.payload, Payload::Raw(_)));
    assert_eq!(a.to_f64()?, vec![1.5, -2.0]);
    assert_eq!(b.to_f64()?, vec![0.25, 4.0]);
    assert_eq!(graph.node_count(), 2);
    assert_eq!(graph.inputs.len(), 1);
    assert_eq!(loaded.meta.producer_name.as_deref(), Some("qlint-test"));
    Ok(())
}

#[test]
fn external_data_in_subdirectory_reads_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    fs::create_dir(dir.path().join("data"))?;
    fs::write(dir.path().join("data/w.bin"), floats_le(&[3.0, 5.0]))?;
    let mut a = external_tensor("a", "data/w.bin", 0, 8);
    // Without `offset` and `length` the tensor is the whole file.
    a.external_data.truncate(1);
    let b = TensorProto {
        name: "b".into(),
        dims: vec![2],
        data_type: 1,
        float_data: vec![0.0, 1.0],
        ..TensorProto::default()
    };
    let loaded = write_and_load(dir.path(), &model_with(vec![a, b]))?;
    let a = loaded.graph.tensors.iter().find(|t| t.name == "a");
    let a = a.and_then(|t| t.value.as_ref()).ok_or("a has no value")?;
    assert_eq!(a.to_f64()?, vec![3.0, 5.0]);
    Ok(())
}

#[test]
fn parent_directory_location_is_rejected() -> TestResult {
    let outer = tempfile::tempdir()?;
    let dir = outer.path().join("model");
    fs::create_dir(&dir)?;
    // The file exists, so only the path check can stop the read.
    fs::write(outer.path().join("x"), floats_le(&[1.0, 2.0]))?;
    let model = model_with(vec![external_tensor("a", "../x", 0, 8)]);
    let message = load_error(write_and_load(&dir, &model));
    assert!(message.contains("external data of tensor `a`"), "{message}");
    assert!(message.contains("contains `..`"), "{message}");
    Ok(())
}

#[test]
fn absolute_location_is_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let weights = dir.path().join("weights.bin");
    fs::write(&weights, floats_le(&[1.0, 2.0]))?;
    let location = weights.to_string_lossy().into_owned();
    let model = model_with(vec![external_tensor("a", &location, 0, 8)]);
    let message = load_error(write_and_load(dir.path(), &model));
    assert!(message.contains("is an absolute path"), "{message}");
    Ok(())
}

#[cfg(unix)]
#[test]
fn symlink_leaving_directory_is_rejected() -> TestResult {
    let outer = tempfile::tempdir()?;
    let dir = outer.path().join("model");
    fs::create_dir(&dir)?;
    let secret = outer.path().join("secret.bin");
    fs::write(&secret, floats_le(&[1.0, 2.0]))?;
    std::os::unix::fs::symlink(&secret, dir.join("link.bin"))?;
    let model = model_with(vec![external_tensor("a", "link.bin", 0, 8)]);
    let message = load_error(write_and_load(&dir, &model));
    assert!(
        message.contains("outside the model's directory"),
        "{message}"
    );
    Ok(())
}

#[test]
fn range_beyond_file_is_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("weights.bin"), floats_le(&[1.0, 2.0, 3.0]))?;
    let model = model_with(vec![external_tensor("a", "weights.bin", 8, 8)]);
    let message = load_error(write_and_load(dir.path(), &model));
    assert!(
        message.contains("offset 8 + length 8 is beyond the end"),
        "{message}"
    );
    assert!(message.contains("(12 bytes)"), "{message}");
    Ok(())
}

#[test]
fn missing_external_file_names_both_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let model = model_with(vec![external_tensor("a", "gone.bin", 0, 8)]);
    let message = load_error(write_and_load(dir.path(), &model));
    assert!(message.contains("model.onnx: "), "{message}");
    assert!(message.contains("gone.bin` not found"), "{message}");
    Ok(())
}

#[test]
fn external_tensor_in_constant_node_is_checked() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut model = model_with(Vec::new());
    let constant = NodeProto {
        op_type: "Constant".into(),
        output: vec!["a".into()],
        attribute: vec![AttributeProto {
            name: "value".into(),
            t: Some(Box::new(external_tensor("a", "../../etc/passwd", 0, 8))),
            r#type: attribute_type::TENSOR,
            ..AttributeProto::default()
        }],
        ..NodeProto::default()
    };
    if let Some(graph) = model.graph.as_mut() {
        graph.node.insert(0, constant);
    }
    let message = load_error(write_and_load(dir.path(), &model));
    assert!(message.contains("contains `..`"), "{message}");
    Ok(())
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, bytes)?;
    Ok(path)
}

#[test]
fn empty_file_is_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write_file(dir.path(), "empty.onnx", &[])?;
    let message = load_error(load(&path));
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.ends_with("not a valid ONNX model: the file is empty"),
        "{message}"
    );
    Ok(())
}

#[test]
fn renamed_png_and_json_are_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let png = write_file(
        dir.path(),
        "png.onnx",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01",
    )?;
    assert!(load_error(load(&png)).contains("the file is a PNG image"));
    let json = write_file(dir.path(), "json.onnx", b"{\"program\": {\"regions\": []}}")?;
    assert!(load_error(load(&json)).contains("the file is JSON text"));
    Ok(())
}

#[test]
fn random_bytes_are_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    // xorshift64: reproducible bytes without a dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..64 {
        let mut bytes = Vec::with_capacity(4096);
        for _ in 0..4096 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push((state >> 32) as u8);
        }
        let path = write_file(dir.path(), "random.onnx", &bytes)?;
        let message = load_error(load(&path));
        assert!(
            message.contains("not a valid ONNX model"),
            "round {round}: {message}"
        );
    }
    Ok(())
}

#[test]
fn missing_path_and_directory_are_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = load_error(load(&dir.path().join("none.onnx")));
    assert!(missing.contains("failed to read the file"), "{missing}");
    let directory = load_error(load(dir.path()));
    assert!(directory.contains("not a regular file"), "{directory}");
    Ok(())
}

#[test]
fn deeply_nested_graphs_are_rejected() -> TestResult {
    // 40 nested Loop bodies are 120 nested messages, past prost's limit of 100.
    let mut body = GraphProto::default();
    for _ in 0..40 {
        let looped = NodeProto {
            op_type: "Loop".into(),
            attribute: vec![AttributeProto {
                name: "body".into(),
                g: Some(Box::new(body)),
                r#type: attribute_type::GRAPH,
                ..AttributeProto::default()
            }],
            ..NodeProto::default()
        };
        body = GraphProto {
            node: vec![looped],
            ..GraphProto::default()
        };
    }
    let model = ModelProto {
        ir_version: Some(8),
        graph: Some(body),
        ..ModelProto::default()
    };
    let dir = tempfile::tempdir()?;
    let message = load_error(write_and_load(dir.path(), &model));
    assert!(message.contains("not a valid ONNX model"), "{message}");
    assert!(message.contains("recursion limit"), "{message}");
    Ok(())
}
