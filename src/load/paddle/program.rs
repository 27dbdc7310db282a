//! ProgramDesc loader: decodes the protobuf, reads the parameters and builds the graph.
//!
//! Blocks are added in file order (block 0, then sub-blocks), each block's variables before
//! its operators, with a versioned [`GraphBuilder`] so that in-place operators (Paddle 2.6's
//! `scale` with `X == Out` before `fetch`) start a new tensor instead of closing a cycle.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use prost::Message;

use super::params::{self, ExpectedParam};
use super::program_attrs::{self, block_scope};
use super::proto::{OpDesc, OpDescVar, ProgramDesc, VarDesc, var_kind};
use super::{map_file, map_param_file, sibling_with_extension};
use crate::error::LoadError;
use crate::graph::{
    DataType, Dim, Graph, GraphBuilder, Model, ModelFormat, ModelMeta, NodeSpec, Stage, TensorData,
    bounded_name,
};

/// Paddle's name for an absent variable in a slot (`kEmptyVarName`).
const EMPTY_VAR_NAME: &str = "@EMPTY@";

/// Combined parameter file names tried after `<stem>.pdiparams`, in this order.
const COMBINED_PARAMS_NAMES: [&str; 2] = ["__params__", "params"];

/// Loads a ProgramDesc file and its parameters.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let data = map_file(path)?;
    let program = ProgramDesc::decode(data)
        .map_err(|e| LoadError::new(path, format!("invalid Paddle ProgramDesc: {e}")))?;
    if program.blocks.is_empty() {
        return Err(LoadError::new(
            path,
            "invalid Paddle ProgramDesc: it has no blocks",
        ));
    }
    let expected = parameters(path, &program)?;
    let mut values = load_params(path, &program, &expected)?;
    let graph = build_graph(path, &program, &mut values)?;
    Ok(Model {
        path: path.to_path_buf(),
        format: ModelFormat::PaddleProgram,
        stage: Stage::Paddle,
        meta: ModelMeta {
            program_version: program.version.as_ref().and_then(|v| v.version),
            ..ModelMeta::default()
        },
        graph,
    })
}

/// Returns true for a persistable variable that has a record in the parameter file (Paddle2ONNX
/// `GetParamNames`: feed, fetch, reader and raw variables are excluded).
fn is_parameter(var: &VarDesc) -> bool {
    let excluded = [
        var_kind::FEED_MINIBATCH,
        var_kind::FETCH_LIST,
        var_kind::READER,
        var_kind::RAW,
    ];
    var.persistable == Some(true) && !var.kind().is_some_and(|k| excluded.contains(&k))
}

/// Collects the parameters of all blocks in record order (byte-wise sorted names, each once).
fn parameters(path: &Path, program: &ProgramDesc) -> Result<Vec<ExpectedParam>, LoadError> {
    let mut by_name: BTreeMap<&str, Option<Vec<i64>>> = BTreeMap::new();
    for (b, block) in program.blocks.iter().enumerate() {
        for (v, var) in block.vars.iter().enumerate() {
            let name = var_name(path, var, b, v)?;
            if is_parameter(var) {
                let dims = var
                    .tensor_desc()
                    .map(|t| t.dims.clone())
                    .filter(|dims| dims.iter().all(|&d| d >= 0));
                by_name.entry(name).or_insert(dims);
            }
        }
    }
    Ok(by_name
        .into_iter()
        .map(|(name, dims)| ExpectedParam {
            name: name.to_string(),
            dims,
        })
        .collect())
}

fn var_name<'a>(
    path: &Path,
    var: &'a VarDesc,
    block: usize,
    index: usize,
) -> Result<&'a str, LoadError> {
    var.name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| LoadError::new(path, format!("block {block} variable {index} has no name")))
}

/// Finds and reads the parameter values. Without a parameter file the map is empty.
fn load_params(
    path: &Path,
    program: &ProgramDesc,
    expected: &[ExpectedParam],
) -> Result<BTreeMap<String, TensorData>, LoadError> {
    if expected.is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Some(params_path) = combined_params_path(path) {
        reject_selected_rows(&params_path, program)?;
        let data = map_param_file(path, &params_path)?;
        return params::read_combined(&params_path, &data, expected);
    }
    let Some(dir) = path.parent() else {
        return Ok(BTreeMap::new());
    };
    let files: Option<Vec<PathBuf>> = expected
        .iter()
        .map(|p| separate_file(dir, &p.name))
        .collect();
    let Some(files) = files else {
        return Ok(BTreeMap::new());
    };
    reject_selected_rows(dir, program)?;
    let mut values = BTreeMap::new();
    for (param, file) in expected.iter().zip(files) {
        let data = map_param_file(path, &file)?;
        values.insert(
            param.name.clone(),
            params::read_single(&file, &data, param)?,
        );
    }
    Ok(values)
}

/// Returns `<stem>.pdiparams`, else `__params__` or `params` beside the program, if one is a file.
fn combined_params_path(path: &Path) -> Option<PathBuf> {
    let beside = sibling_with_extension(path, "pdiparams");
    let named = COMBINED_PARAMS_NAMES
        .iter()
        .map(|name| path.with_file_name(name));
    beside
        .into_iter()
        .chain(named)
        .find(|candidate| candidate != path && candidate.is_file())
}

/// Returns the file of parameter `name` in the separate layout, if the name is a plain file name and
/// the file exists. Names with separators or `..` never leave the model directory.
fn separate_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut components = Path::new(name).components();
    let single =
        matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
    let file = dir.join(name);
    (single && !name.contains('\\') && file.is_file()).then_some(file)
}

/// Rejects persistable SELECTED_ROWS variables, whose records have a different layout.
fn reject_selected_rows(params_path: &Path, program: &ProgramDesc) -> Result<(), LoadError> {
    let found = program
        .blocks
        .iter()
        .flat_map(|b| &b.vars)
        .find(|v| is_parameter(v) && v.kind() == Some(var_kind::SELECTED_ROWS));
    match found {
        Some(var) => Err(LoadError::new(
            params_path,
            format!(
                "parameter {} is a SELECTED_ROWS variable, whose records qlint cannot read",
                var.name.as_deref().unwrap_or_default()
            ),
        )),
        None => Ok(()),
    }
}

fn build_graph(
    path: &Path,
    program: &ProgramDesc,
    values: &mut BTreeMap<String, TensorData>,
) -> Result<Graph, LoadError> {
    let mut builder = GraphBuilder::versioned();
    // Programs saved for inference read their inputs through `feed` ops. A training or
    // startup program has none, and its `paddle.static.data` variables carry
    // `need_check_feed` instead.
    let has_feed = program
        .blocks
        .iter()
        .flat_map(|b| &b.ops)
        .any(|op| op.r#type.as_deref() == Some("feed"));
    // NOTE: sub-block operators come after all of block 0, so a sub-block that reads a
    // variable which block 0 rewrites later links to the last version, not the one current
    // when the control-flow op ran. The corpus programs have a single block.
    for (b, block) in program.blocks.iter().enumerate() {
        let scope = if b == 0 {
            String::new()
        } else {
            block_scope(b)
        };
        for (v, var) in block.vars.iter().enumerate() {
            let name = var_name(path, var, b, v)?;
            declare(&mut builder, name, var);
            if is_parameter(var) {
                // The tensor keeps the declared dtype and the value the stored one. They differ
                // for PTQ weights, declared float32 but stored as int8 codes.
                builder.set_constant(name, values.remove(name));
            } else if b == 0 && !has_feed && var.need_check_feed == Some(true) {
                builder.mark_input(name);
            }
        }
        for (o, op) in block.ops.iter().enumerate() {
            add_op(path, &mut builder, op, &scope, (b, o))?;
        }
    }
    Ok(builder.finish())
}

fn declare(builder: &mut GraphBuilder, name: &str, var: &VarDesc) {
    let desc = var.tensor_desc();
    let dtype = desc.and_then(|t| t.data_type).map(DataType::from_paddle);
    let shape = desc.map(|t| {
        t.dims
            .iter()
            .map(|&d| if d >= 0 { Dim::Known(d) } else { Dim::Unknown })
            .collect()
    });
    builder.declare(name, dtype, shape);
}

fn add_op(
    path: &Path,
    builder: &mut GraphBuilder,
    op: &OpDesc,
    scope: &str,
    (block, index): (usize, usize),
) -> Result<(), LoadError> {
    let op_type = op
        .r#type
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            LoadError::new(path, format!("block {block} operator {index} has no type"))
        })?;
    let inputs = slot_pairs(&op.inputs);
    let outputs = slot_pairs(&op.outputs);
    let attrs = op
        .attrs
        .iter()
        .filter_map(|a| Some((a.name.clone()?, program_attrs::convert(a))))
        .collect();
    if op_type == "fetch" {
        for (_, name) in inputs.iter().filter(|(_, n)| !n.is_empty()) {
            builder.mark_output(name);
        }
    }
    let feeds: Vec<String> = if op_type == "feed" {
        outputs
            .iter()
            .map(|(_, n)| n.clone())
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    builder.add_node(NodeSpec {
        name: None,
        op_type: op_type.to_string(),
        domain: String::new(),
        inputs,
        outputs,
        attrs,
        scope: scope.to_string(),
    });
    for name in feeds {
        builder.mark_input(&name);
    }
    Ok(())
}

/// Builds one `(slot, variable)` pair per argument, slots in file order; `@EMPTY@` becomes an
/// omitted operand.
fn slot_pairs(slots: &[OpDescVar]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for slot in slots {
        let parameter = bounded_name(slot.parameter.clone().unwrap_or_default());
        for argument in &slot.arguments {
            let name = if argument == EMPTY_VAR_NAME {
                ""
            } else {
                argument.as_str()
            };
            pairs.push((parameter.clone(), name.to_string()));
        }
    }
    pairs
}
