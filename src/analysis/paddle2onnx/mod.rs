//! Whether Paddle2ONNX can convert each op of a Paddle program, judged for one release from
//! the table in `rules/data/paddle2onnx-ops.yaml`.
//!
//! Releases 1.x read ProgramDesc files and look ops up by their legacy type. Release 2.1.0
//! reads PIR: it has Paddle translate a `.pdmodel` first, then renames some PIR ops before the
//! lookup. Its quantize mappers export FP8 only, so it cannot export an INT8 program.

mod lookup;
mod table;

use std::fmt;

use crate::analysis::{Facts, Value};
use crate::graph::{Model, ModelFormat, Node, NodeId, Stage};

pub use lookup::Lookup;
pub use table::{ProgramForm, QdqType, Release, Table, table};

/// A Paddle2ONNX release from the built-in table: the exporter that QL108 judges for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paddle2OnnxVersion(String);

impl Paddle2OnnxVersion {
    /// The release judged when no option or config names one: the newest release that exports
    /// INT8 programs (2.x exports FP8 only).
    pub const DEFAULT: &'static str = "1.3.1";

    /// Checks `text` against the releases in the table.
    pub fn parse(text: &str) -> Result<Paddle2OnnxVersion, String> {
        let table = table()?;
        let version = text.trim();
        match table.release(version) {
            Some(release) => Ok(Paddle2OnnxVersion(release.version.clone())),
            None => Err(format!(
                "unknown Paddle2ONNX version `{version}`: known versions are {}",
                table.version_list()
            )),
        }
    }

    /// The version string, such as `1.3.1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Paddle2OnnxVersion {
    fn default() -> Self {
        Paddle2OnnxVersion(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for Paddle2OnnxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds the `paddle2onnx.*` facts of a Paddle program to `facts`, judged for `version`.
/// Models of other stages, and a version missing from the table, get none.
pub fn add_facts(model: &Model, version: &Paddle2OnnxVersion, facts: &mut Facts) {
    let form = match (model.stage, model.format) {
        (Stage::Paddle, ModelFormat::PaddleProgram) => ProgramForm::Legacy,
        (Stage::Paddle, ModelFormat::PaddlePir) => ProgramForm::Pir,
        _ => return,
    };
    let Ok(table) = table() else {
        return;
    };
    let Some(target) = table.release(version.as_str()) else {
        return;
    };
    let graph = &model.graph;
    let int8 = graph
        .node_ids()
        .map(|id| graph.node(id))
        .any(|n| lookup::is_qdq(table, n) && lookup::qdq_type(table, n) == QdqType::Int8);
    facts.model.insert(
        "paddle2onnx.version".into(),
        Value::Str(target.version.clone()),
    );
    facts
        .model
        .insert("paddle2onnx.int8_program".into(), Value::Bool(int8));
    // A 1.x release cannot read a PIR program at all, so its ops are not judged one by one.
    let judged = form == ProgramForm::Legacy || target.program == ProgramForm::Pir;
    for id in graph.node_ids() {
        let Some(node_facts) = facts.nodes.get_mut(id.index()) else {
            continue;
        };
        let node = graph.node(id);
        if judged {
            let found = lookup::lookup(table, target, form, graph, id);
            let converts = lookup::converts(table, target, &found, node);
            node_facts.insert("paddle2onnx.converts".into(), Value::Bool(converts));
            node_facts.insert(
                "paddle2onnx.lookup".into(),
                Value::Str(found.name().to_string()),
            );
        }
        let newest = |int8_only: bool| newest_release(table, form, model, id, node, int8_only);
        if let Some(release) = newest(false) {
            node_facts.insert("paddle2onnx.newest".into(), Value::Str(release));
        }
        if let Some(release) = newest(true) {
            node_facts.insert("paddle2onnx.newest_int8".into(), Value::Str(release));
        }
    }
}

/// The newest release that converts the op, optionally only among releases that export INT8.
/// A release that reads the other program form is judged by the op's name in that form.
fn newest_release(
    table: &Table,
    form: ProgramForm,
    model: &Model,
    id: NodeId,
    node: &Node,
    int8_only: bool,
) -> Option<String> {
    table
        .releases
        .iter()
        .rev()
        .filter(|r| !int8_only || r.qdq.contains(&QdqType::Int8))
        .find(|r| {
            let found = lookup::lookup(table, r, form, &model.graph, id);
            lookup::converts(table, r, &found, node)
        })
        .map(|r| r.version.clone())
}

#[cfg(test)]
mod tests;
