//! ProgramDesc loader tests on hand-built programs: sub-blocks, parameter order when the
//! declarations are not sorted, `@EMPTY@` operands and parameter file lookup.

use std::fs;
use std::path::Path;

use prost::Message;

use super::params::tests::record;
use super::proto::{
    BlockDesc, LoDTensorDesc, OpDesc, OpDescAttr, OpDescVar, ProgramDesc, TensorDesc, VarDesc,
    VarType, Version, attr_type,
};
use super::{load_program, program::load};
use crate::graph::{Attr, DataType, Dim};

const FP32: i32 = 5;
const INT8: i32 = 21;
const LOD_TENSOR: i32 = 7;
const FEED_MINIBATCH: i32 = 9;

fn var(name: &str, kind: i32, dtype: i32, dims: &[i64], persistable: bool) -> VarDesc {
    VarDesc {
        name: Some(name.into()),
        r#type: Some(VarType {
            r#type: Some(kind),
            lod_tensor: Some(LoDTensorDesc {
                tensor: Some(TensorDesc {
                    data_type: Some(dtype),
                    dims: dims.to_vec(),
                }),
                lod_level: None,
            }),
            ..VarType::default()
        }),
        persistable: Some(persistable),
        ..VarDesc::default()
    }
}

fn slot(parameter: &str, arguments: &[&str]) -> OpDescVar {
    OpDescVar {
        parameter: Some(parameter.into()),
        arguments: arguments.iter().map(|a| a.to_string()).collect(),
    }
}

fn op(op_type: &str, inputs: Vec<OpDescVar>, outputs: Vec<OpDescVar>) -> OpDesc {
    OpDesc {
        inputs,
        outputs,
        r#type: Some(op_type.into()),
        ..OpDesc::default()
    }
}

/// Two blocks; parameters declared as `w_b` before `w_a`, so file order differs from
/// declaration order. Block 1 holds the body of a `conditional_block`.
fn two_block_program() -> ProgramDesc {
    let mut cond = op(
        "conditional_block",
        vec![slot("Input", &["x"]), slot("Cond", &["@EMPTY@"])],
        vec![slot("Out", &["y"])],
    );
    cond.attrs.push(OpDescAttr {
        name: Some("sub_block".into()),
        r#type: Some(attr_type::BLOCK),
        block_idx: Some(1),
        ..OpDescAttr::default()
    });
    let block0 = BlockDesc {
        idx: Some(0),
        parent_idx: Some(-1),
        vars: vec![
            var("feed", FEED_MINIBATCH, FP32, &[], true),
            var("w_b", LOD_TENSOR, FP32, &[2], true),
            var("w_a", LOD_TENSOR, FP32, &[3], true),
            var("x", LOD_TENSOR, FP32, &[-1, 3], false),
        ],
        ops: vec![
            op(
                "feed",
                vec![slot("X", &["feed"])],
                vec![slot("Out", &["x"])],
            ),
            cond,
            op(
                "fetch",
                vec![slot("X", &["y"])],
                vec![slot("Out", &["fetch"])],
            ),
        ],
        forward_block_idx: None,
    };
    let block1 = BlockDesc {
        idx: Some(1),
        parent_idx: Some(0),
        vars: vec![var("y", LOD_TENSOR, FP32, &[-1, 3], false)],
        ops: vec![op(
            "elementwise_mul",
            vec![slot("X", &["x"]), slot("Y", &["w_a"])],
            vec![slot("Out", &["y"])],
        )],
        forward_block_idx: None,
    };
    ProgramDesc {
        blocks: vec![block0, block1],
        version: Some(Version {
            version: Some(2006002),
        }),
        op_version_map: None,
    }
}

/// Records in sorted-name order: `w_a` (int8, 3 values), then `w_b` (float32, 2 values).
fn sorted_params() -> Vec<u8> {
    let mut file = record(INT8, &[3], &[1, 2, 3], &[]);
    file.extend(record(FP32, &[2], &[0; 8], &[]));
    file
}

#[test]
fn params_assigned_by_sorted_name() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.pdmodel");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    fs::write(dir.path().join("model.pdiparams"), sorted_params())?;
    let model = load(&model_path)?;
    let graph = &model.graph;
    let value = |name: &str| {
        let tensor = graph.tensors.iter().find(|t| t.name == name);
        tensor.and_then(|t| t.value.clone())
    };
    assert_eq!(
        value("w_a").map(|v| (v.dtype, v.dims)),
        Some((DataType::Int8, vec![3]))
    );
    assert_eq!(
        value("w_b").map(|v| (v.dtype, v.dims)),
        Some((DataType::Float32, vec![2]))
    );
    assert_eq!(value("w_a").map(|v| v.to_i64()), Some(Ok(vec![1, 2, 3])));
    assert_eq!(model.meta.program_version, Some(2006002));
    Ok(())
}

#[test]
fn sub_block_ops_get_scope() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("__model__");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    let model = load_program(&model_path)?;
    let graph = &model.graph;
    let cond = graph
        .dag
        .node_weights()
        .find(|n| n.op_type == "conditional_block");
    assert_eq!(
        cond.and_then(|n| n.attr("sub_block")),
        Some(&Attr::Subgraph("block1".into()))
    );

    // `@EMPTY@` is an omitted operand, not a tensor shared by every op that names it.
    let cond_inputs = cond.map(|n| n.inputs.iter().map(|p| p.tensor.is_some()).collect());
    assert_eq!(cond_inputs, Some(vec![true, false]));
    assert!(graph.tensors.iter().all(|t| t.name != "@EMPTY@"));

    let mul = graph
        .dag
        .node_weights()
        .find(|n| n.op_type == "elementwise_mul");
    assert_eq!(mul.map(|n| n.scope.as_str()), Some("block1"));

    let x = graph.inputs.first().map(|&t| graph.tensor(t));
    assert_eq!(x.map(|t| t.name.as_str()), Some("x"));
    assert_eq!(
        x.and_then(|t| t.shape.clone()),
        Some(vec![Dim::Unknown, Dim::Known(3)])
    );

    // No parameter file: constants without values, and `feed` is not a parameter.
    let constants: Vec<&str> = graph
        .tensors
        .iter()
        .filter(|t| t.is_constant)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(constants, ["w_b", "w_a"]);
    assert!(graph.tensors.iter().all(|t| t.value.is_none()));
    Ok(())
}

#[test]
fn fluid_params_file_is_found() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("__model__");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    fs::write(dir.path().join("__params__"), sorted_params())?;
    let model = load(&model_path)?;
    let with_values = model
        .graph
        .tensors
        .iter()
        .filter(|t| t.value.is_some())
        .count();
    assert_eq!(with_values, 2);
    Ok(())
}

#[test]
fn separate_param_files_are_read() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("__model__");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    fs::write(dir.path().join("w_a"), record(INT8, &[3], &[7, 8, 9], &[]))?;
    fs::write(dir.path().join("w_b"), record(FP32, &[2], &[0; 8], &[]))?;
    let model = load(&model_path)?;
    let w_a = model.graph.tensors.iter().find(|t| t.name == "w_a");
    let codes = w_a.and_then(|t| t.value.as_ref()).map(|v| v.to_i64());
    assert_eq!(codes, Some(Ok(vec![7, 8, 9])));
    Ok(())
}

#[test]
fn partial_separate_files_are_ignored() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("__model__");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    fs::write(dir.path().join("w_a"), record(INT8, &[3], &[7, 8, 9], &[]))?;
    let model = load(&model_path)?;
    assert!(model.graph.tensors.iter().all(|t| t.value.is_none()));
    Ok(())
}

#[test]
fn swapped_params_are_rejected() -> Result<(), Box<dyn std::error::Error>> {
    // Records in declaration order (w_b first) do not fit the sorted assignment.
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.pdmodel");
    let params_path = dir.path().join("model.pdiparams");
    fs::write(&model_path, two_block_program().encode_to_vec())?;
    let mut file = record(FP32, &[2], &[0; 8], &[]);
    file.extend(record(INT8, &[3], &[1, 2, 3], &[]));
    fs::write(&params_path, file)?;
    let err = load(&model_path).err();
    assert_eq!(
        err.as_ref().map(|e| e.path.as_path()),
        Some(params_path.as_path())
    );
    let message = err.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("record 1 of 2 (w_a)"), "{message}");
    Ok(())
}

#[test]
fn nameless_var_is_rejected() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.pdmodel");
    let mut program = two_block_program();
    program.blocks[1].vars[0].name = None;
    fs::write(&model_path, program.encode_to_vec())?;
    let message = load(&model_path)
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert_eq!(message, "block 1 variable 0 has no name");
    Ok(())
}

#[test]
fn typeless_op_is_rejected() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.pdmodel");
    let mut program = two_block_program();
    program.blocks[0].ops[2].r#type = None;
    fs::write(&model_path, program.encode_to_vec())?;
    let message = load(&model_path)
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert_eq!(message, "block 0 operator 2 has no type");
    Ok(())
}

#[test]
fn program_without_blocks_is_rejected() {
    let dir = tempfile::tempdir();
    let path = dir
        .as_ref()
        .map(|d| d.path().join("model.pdmodel"))
        .unwrap_or_default();
    // A lone Version field decodes as a ProgramDesc with no blocks.
    let written = fs::write(&path, [0x22, 2, 0x08, 1]);
    assert!(written.is_ok());
    let message = load(Path::new(&path))
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert!(message.contains("no blocks"), "{message}");
}
