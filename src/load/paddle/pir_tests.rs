//! PIR loader tests on hand-written JSON: the older full-name spelling, nested regions and
//! structure errors that name the JSON path.

use std::fs;
use std::path::PathBuf;

use serde_json::json;

use super::params::tests::record;
use super::{is_pir_json, load_pir};
use crate::error::LoadError;
use crate::graph::{Attr, DataType, Model};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn dense(dtype: &str, dims: &[i64]) -> serde_json::Value {
    json!({"#": "builtin.t_dtensor", "D": [{"#": format!("builtin.{dtype}")}, dims, "NCHW", [], 0]})
}

/// Builds a program in the early-2024 spelling: full dialect names, value ids under `#`, ordinary
/// `builtin.parameter` ops, and a `pd_op.if` whose two regions read outer values.
fn older_program() -> serde_json::Value {
    let param = |id: i64, name: &str, dims: &[i64]| {
        json!({"#": "builtin.parameter",
               "A": [{"N": "parameter_name", "AT": {"#": "builtin.a_str", "D": name}}],
               "O": [{"#": id, "TT": dense("t_f32", dims)}]})
    };
    let branch = |block: &str, op: &str, out: i64| {
        json!({"#": "region_x", "blocks": [{"#": block, "args": [], "ops": [
            {"#": format!("pd_op.{op}"), "I": [{"#": 3}], "O": [{"#": out, "TT": dense("t_f32", &[1, 4])}], "A": []},
            {"#": "cf.yield", "I": [{"#": out}], "O": [], "A": []}
        ]}]})
    };
    json!({
        "base_code": {"magic": "pir", "version": 1, "trainable": false},
        "program": {"regions": [{"#": "region_0", "blocks": [{"#": "block_0", "args": [], "ops": [
            param(1, "w_z", &[4, 2]),
            param(2, "w_a", &[2]),
            {"#": "pd_op.data", "I": [], "O": [{"#": 3, "TT": dense("t_f32", &[1, 4])}],
             "A": [{"N": "name", "AT": {"#": "builtin.a_str", "D": "x"}}]},
            {"#": "pd_op.matmul", "I": [{"#": 3}, {"#": 1}], "O": [{"#": 4, "TT": dense("t_f32", &[1, 2])}],
             "A": [{"N": "transpose_x", "AT": {"#": "builtin.a_bool", "D": false}}]},
            {"#": "pd_op.if", "I": [{"#": 0}], "O": [{"#": 7, "TT": dense("t_f32", &[1, 4])}], "A": [],
             "regions": [branch("block_1", "relu", 5), branch("block_2", "tanh", 6)]},
            {"#": "pd_op.fetch", "I": [{"#": 4}], "O": [{"#": 8, "TT": dense("t_f32", &[1, 2])}],
             "A": [{"N": "col", "AT": {"#": "builtin.a_i32", "D": 0}}]}
        ]}]}]}
    })
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> Result<PathBuf, std::io::Error> {
    let path = dir.path().join(name);
    fs::write(&path, text)?;
    Ok(path)
}

fn load_text(text: &str) -> Result<Model, LoadError> {
    let dir = tempfile::tempdir()
        .map_err(|e| LoadError::new(std::path::Path::new("tmp"), e.to_string()))?;
    let path =
        write(&dir, "model.json", text).map_err(|e| LoadError::new(dir.path(), e.to_string()))?;
    load_pir(&path)
}

#[test]
fn older_spelling_loads() -> TestResult {
    let model = load_text(&older_program().to_string())?;
    let histogram = model.graph.op_histogram();
    let ops: Vec<(&str, usize)> = histogram.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        ops,
        [
            ("cf::yield", 2),
            ("pd_op::data", 1),
            ("pd_op::fetch", 1),
            ("pd_op::if", 1),
            ("pd_op::matmul", 1),
            ("pd_op::relu", 1),
            ("pd_op::tanh", 1)
        ]
    );

    let graph = &model.graph;
    let matmul = graph.dag.node_weights().find(|n| n.op_type == "matmul");
    let weight = matmul.and_then(|n| n.input(1)).map(|t| graph.tensor(t));
    assert_eq!(weight.map(|t| t.name.as_str()), Some("w_z"));
    assert_eq!(weight.map(|t| t.is_constant), Some(true));
    assert_eq!(weight.and_then(|t| t.dtype), Some(DataType::Float32));
    assert_eq!(
        matmul.and_then(|n| n.attr("transpose_x")),
        Some(&Attr::Bool(false))
    );

    let inputs: Vec<&str> = graph
        .inputs
        .iter()
        .map(|&t| graph.tensor(t).name.as_str())
        .collect();
    assert_eq!(inputs, ["%3"]);
    let outputs: Vec<&str> = graph
        .outputs
        .iter()
        .map(|&t| graph.tensor(t).name.as_str())
        .collect();
    assert_eq!(outputs, ["%4"]);
    assert_eq!(model.meta.program_version, Some(1));
    Ok(())
}

#[test]
fn nested_regions_are_flattened() -> TestResult {
    let model = load_text(&older_program().to_string())?;
    let graph = &model.graph;
    let if_op = graph.dag.node_weights().find(|n| n.op_type == "if");
    let scopes = Attr::Subgraphs(vec!["block_1".into(), "block_2".into()]);
    assert_eq!(if_op.and_then(|n| n.attr("regions")), Some(&scopes));
    // The null operand (id 0) is omitted.
    assert_eq!(
        if_op.map(|n| n.inputs.iter().all(|p| p.tensor.is_none())),
        Some(true)
    );
    let relu = graph.dag.node_weights().find(|n| n.op_type == "relu");
    assert_eq!(relu.map(|n| n.scope.as_str()), Some("block_1"));
    let tanh = graph.dag.node_weights().find(|n| n.op_type == "tanh");
    assert_eq!(tanh.map(|n| n.scope.as_str()), Some("block_2"));
    // Nested ops read the outer value %3 produced by `data`.
    let producer = relu
        .and_then(|n| n.input(0))
        .and_then(|t| graph.producer(t))
        .map(|p| graph.node(p).op_type.clone());
    assert_eq!(producer.as_deref(), Some("data"));
    Ok(())
}

#[test]
fn params_beside_json_sorted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write(&dir, "model.json", &older_program().to_string())?;
    // Sorted: w_a ([2]) before w_z ([4, 2]), although the file declares w_z first.
    let mut params = record(5, &[2], &[0; 8], &[]);
    params.extend(record(21, &[4, 2], &[1; 8], &[]));
    fs::write(dir.path().join("model.pdiparams"), &params)?;
    let model = load_pir(&path)?;
    let w_z = model.graph.tensors.iter().find(|t| t.name == "w_z");
    let value = w_z.and_then(|t| t.value.as_ref());
    assert_eq!(
        value.map(|v| (v.dtype, v.dims.clone())),
        Some((DataType::Int8, vec![4, 2]))
    );
    // Cut inside the second record: the error names the parameter file.
    let params_path = dir.path().join("model.pdiparams");
    fs::write(&params_path, &params[..params.len() - 3])?;
    let err = load_pir(&path).err();
    assert_eq!(err.as_ref().map(|e| e.path.clone()), Some(params_path));
    let message = err.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("record 2 of 2 (w_z)"), "{message}");
    Ok(())
}

#[test]
fn structure_errors_name_json_path() {
    let cases = [
        (
            json!({"base_code": {"magic": "pir"}}),
            "at program: missing",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": {}}}),
            "at program.regions: expected an array",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": [{"#": "1.relu", "O": 3}]}]}]}}),
            "at program.regions[0].blocks[0].ops[0].O: expected an array",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": [{"O": []}]}]}]}}),
            "at program.regions[0].blocks[0].ops[0].#: missing op name",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": [{"#": "1.relu", "I": [{"x": 1}], "O": []}]}]}]}}),
            "at program.regions[0].blocks[0].ops[0].I[0]: missing value id",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": [{"#": "p", "A": [], "O": {}}]}]}]}}),
            "at program.regions[0].blocks[0].ops[0].A: missing parameter name",
        ),
        (
            json!({"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": [{"#": "1.relu", "O": [], "A": [1]}]}]}]}}),
            "at program.regions[0].blocks[0].ops[0].A[0]",
        ),
        (
            json!({"base_code": {"magic": "json"}, "program": {}}),
            "not a Paddle PIR program",
        ),
        (json!([1, 2]), "not a Paddle PIR program"),
    ];
    for (value, expected) in cases {
        let message = load_text(&value.to_string())
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(message.contains(expected), "{value}: {message}");
    }
}

#[test]
fn malformed_json_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = older_program().to_string();
    let path = write(&dir, "model.json", &text[..text.len() / 2])?;
    let err = load_pir(&path).err();
    assert_eq!(err.as_ref().map(|e| e.path.clone()), Some(path.clone()));
    let message = err.map(|e| e.message).unwrap_or_default();
    assert!(message.starts_with("invalid JSON"), "{message}");
    assert_eq!(is_pir_json(&path).ok(), Some(false));
    Ok(())
}
