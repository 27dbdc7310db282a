//! Paddle 3 PIR JSON loader (`model.json`, `inference.json`).
//!
//! Layout (Paddle `paddle/fluid/pir/serialize_deserialize`, `ir_serialize.cc` and `schema.h`):
//! `{"base_code": {"magic": "pir", "version", "trainable"}, "program": {"regions": [{"blocks":
//! [{"args", "ops": [...]}]}]}}`. An op is `{"#": "<dialect id>.<name>", "I": [{"%": id}],
//! "O": [{"%": id, "TT": type}], "A": [{"N": name, "AT": attr}], "regions"?: [...]}`; a
//! parameter is the compact `{"#": "p", "A": [.., .., .., "name"], "O": {...}}`. Older files
//! spell full dialect names (`pd_op.conv2d`, `builtin.parameter`) and put value ids under `#`.
//!
//! Values become tensors named `%<id>`. Parameters become constant tensors named by
//! `parameter_name`, whose values are the records of the `.pdiparams` beside the JSON (in
//! sorted name order, as for ProgramDesc).
//! Parameters are not nodes. An op with nested regions gets an `Attr::Subgraphs` attribute
//! `regions` naming the scopes its nested ops carry.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::params::{self, ExpectedParam};
use super::pir_reader::{Item, Op, Reader};
use super::{map_file, map_param_file, sibling_with_extension};
use crate::error::LoadError;
use crate::graph::{
    Dim, Graph, GraphBuilder, Model, ModelFormat, ModelMeta, NodeSpec, Stage, TensorData,
};

/// Largest JSON file read. The parsed tree takes about 17 times the file size in memory
/// (measured on a padded PIR file), so the cap keeps the worst case near 2 GiB. The PIR programs
/// of real models are a few MB, because their weights live in `.pdiparams`.
// NOTE: a PIR program above 128 MiB is rejected; a streaming parser would lift the limit.
const MAX_JSON_BYTES: u64 = 128 << 20;

/// Returns true for a JSON file whose `base_code.magic` is `pir`; see [`super::is_pir_json`].
pub fn is_pir_json(path: &Path) -> Result<bool, LoadError> {
    if file_len(path)? == 0 {
        return Ok(false);
    }
    let data = map_json(path)?;
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Ok(false);
    }
    // Only `base_code` is materialized, so serde skips the program without building it.
    #[derive(Deserialize)]
    struct Probe {
        base_code: Option<BaseCode>,
    }
    #[derive(Deserialize)]
    struct BaseCode {
        magic: Option<Value>,
    }
    let probe = serde_json::from_slice::<Probe>(&data).ok();
    let magic = probe.and_then(|p| p.base_code).and_then(|b| b.magic);
    Ok(magic.as_ref().and_then(Value::as_str) == Some("pir"))
}

/// Loads a PIR JSON program and its parameters; see [`super::load_pir`].
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let data = map_json(path)?;
    let root: Value = serde_json::from_slice(&data)
        .map_err(|e| LoadError::new(path, format!("invalid JSON: {e}")))?;
    let base_code = root.get("base_code");
    let magic = base_code.and_then(|b| b.get("magic"));
    if magic.and_then(Value::as_str) != Some("pir") {
        let found = magic.map_or_else(|| "missing".to_string(), Value::to_string);
        return Err(LoadError::new(
            path,
            format!("not a Paddle PIR program: base_code.magic is {found}, expected \"pir\""),
        ));
    }
    let version = base_code
        .and_then(|b| b.get("version"))
        .and_then(Value::as_i64);
    let items = Reader::new(path).program(&root)?;
    let mut values = load_params(path, &items)?;
    let graph = build_graph(items, &mut values);
    Ok(Model {
        path: path.to_path_buf(),
        format: ModelFormat::PaddlePir,
        stage: Stage::Paddle,
        meta: ModelMeta {
            program_version: version,
            ..ModelMeta::default()
        },
        graph,
    })
}

/// Reads the parameters from `<stem>.pdiparams` when that file exists.
fn load_params(path: &Path, items: &[Item]) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let mut expected: BTreeMap<&str, Option<Vec<i64>>> = BTreeMap::new();
    for item in items {
        if let Item::Parameter { name, value } = item {
            let dims = value.shape.as_ref().and_then(|shape| {
                shape
                    .iter()
                    .map(|d| match d {
                        Dim::Known(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Option<Vec<i64>>>()
            });
            expected.entry(name.as_str()).or_insert(dims);
        }
    }
    let params_path = sibling_with_extension(path, "pdiparams").filter(|p| p.is_file());
    let Some(params_path) = params_path else {
        return Ok(BTreeMap::new());
    };
    if expected.is_empty() {
        return Ok(BTreeMap::new());
    }
    let expected: Vec<ExpectedParam> = expected
        .into_iter()
        .map(|(name, dims)| ExpectedParam {
            name: name.to_string(),
            dims,
        })
        .collect();
    let data = map_param_file(path, &params_path)?;
    params::read_combined(&params_path, &data, &expected)
}

fn build_graph(items: Vec<Item>, values: &mut BTreeMap<String, TensorData>) -> Graph {
    let names: HashMap<i64, String> = items
        .iter()
        .filter_map(|item| match item {
            Item::Parameter { name, value } => Some((value.id, name.clone())),
            _ => None,
        })
        .collect();
    let name_of = |id: i64| match id {
        0 => String::new(),
        _ => names.get(&id).cloned().unwrap_or_else(|| format!("%{id}")),
    };
    let mut builder = GraphBuilder::ssa();
    for item in items {
        match item {
            Item::Parameter { name, value } => {
                builder.declare(&name, value.dtype, value.shape);
                builder.set_constant(&name, values.remove(&name));
            }
            Item::BlockArg(value) => builder.declare(&name_of(value.id), value.dtype, value.shape),
            Item::Op(op) => add_op(&mut builder, op, &name_of),
        }
    }
    builder.finish()
}

fn add_op(builder: &mut GraphBuilder, op: Op, name_of: &dyn Fn(i64) -> String) {
    // NOTE: only `pd_op.fetch` marks graph outputs. Programs that mark them with
    // `builtin.shadow_output` instead (not seen in the corpus) load without outputs.
    let is_pd_op = op.domain == "pd_op";
    let marks_input = is_pd_op && matches!(op.op_type.as_str(), "data" | "feed");
    let marks_output = is_pd_op && op.op_type == "fetch";
    let inputs: Vec<(String, String)> = op
        .inputs
        .iter()
        .map(|&id| (String::new(), name_of(id)))
        .collect();
    let outputs: Vec<(String, String)> = op
        .outputs
        .iter()
        .map(|v| (String::new(), name_of(v.id)))
        .collect();
    if marks_output {
        for (_, name) in inputs.iter().filter(|(_, n)| !n.is_empty()) {
            builder.mark_output(name);
        }
    }
    builder.add_node(NodeSpec {
        name: None,
        op_type: op.op_type,
        domain: op.domain,
        inputs,
        outputs: outputs.clone(),
        attrs: op.attrs,
        scope: op.scope,
    });
    for (value, (_, name)) in op.outputs.into_iter().zip(&outputs) {
        if name.is_empty() {
            continue;
        }
        builder.declare(name, value.dtype, value.shape);
        if marks_input {
            builder.mark_input(name);
        }
    }
}

fn file_len(path: &Path) -> Result<u64, LoadError> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| LoadError::new(path, format!("failed to read file metadata: {e}")))
}

/// Maps a JSON file after checking it against [`MAX_JSON_BYTES`].
fn map_json(path: &Path) -> Result<bytes::Bytes, LoadError> {
    let len = file_len(path)?;
    if len > MAX_JSON_BYTES {
        return Err(LoadError::new(
            path,
            format!("the JSON file has {len} bytes, more than the {MAX_JSON_BYTES}-byte limit"),
        ));
    }
    map_file(path)
}
