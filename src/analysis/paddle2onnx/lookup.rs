//! The name under which a Paddle2ONNX release looks up one Paddle op, for each pairing of the
//! program's form (ProgramDesc or PIR) and the form the release reads.

use super::table::{ProgramForm, QdqType, Release, Table};
use crate::graph::{Graph, Node, NodeId};

/// The verdict of one release on one op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Accepted without a mapper (`feed`, `fetch`, control flow, PIR structure ops).
    Skipped(String),
    /// Looked up in the mapper registry under this key.
    Key(String),
}

impl Lookup {
    /// The name the release uses for the op.
    pub fn name(&self) -> &str {
        match self {
            Lookup::Skipped(name) | Lookup::Key(name) => name,
        }
    }
}

/// Finds how `release` names the op `node` of a program in form `form`.
pub fn lookup(
    table: &Table,
    release: &Release,
    form: ProgramForm,
    graph: &Graph,
    id: NodeId,
) -> Lookup {
    let node = graph.node(id);
    match (form, release.program) {
        (ProgramForm::Legacy, ProgramForm::Legacy) => legacy_lookup(release, &node.op_type),
        (ProgramForm::Legacy, ProgramForm::Pir) => {
            let mut pir = table
                .legacy_to_pir
                .get(&node.op_type)
                .cloned()
                .unwrap_or_else(|| node.op_type.clone());
            // Paddle's translator names an op that writes one of its inputs in place with a
            // trailing `_` (op_translator.cc, IsInplace): Paddle 2.6's identity `scale`
            // with X == Out becomes `pd_op.scale_`.
            // NOTE: the translator also inserts ops that have no ProgramDesc node, such as
            // `builtin.set_parameter` in QAT programs saved without onnx_format; those are
            // not judged.
            if writes_input(graph, node) && !pir.ends_with('_') {
                pir.push('_');
            }
            pir_lookup(release, &format!("pd_op.{pir}"), &pir)
        }
        (ProgramForm::Pir, ProgramForm::Pir) => {
            let full = format!("{}.{}", node.domain, node.op_type);
            let name = match node.domain.as_str() {
                "pd_op" => node.op_type.clone(),
                "builtin" => format!("builtin_{}", node.op_type),
                // NOTE: Paddle2ONNX 2.1.0's renaming is known only for the pd_op and builtin
                // dialects; ops of other dialects keep their full name here.
                _ => full.clone(),
            };
            pir_lookup(release, &full, &name)
        }
        (ProgramForm::Pir, ProgramForm::Legacy) => {
            // PIR structure ops (combine, slice, split, parameter) have no ProgramDesc form.
            if node.domain == "builtin" {
                return Lookup::Skipped(format!("builtin.{}", node.op_type));
            }
            let base = node.op_type.strip_suffix('_').unwrap_or(&node.op_type);
            let legacy = table.pir_to_legacy.get(base).map_or(base, String::as_str);
            legacy_lookup(release, legacy)
        }
    }
}

fn legacy_lookup(release: &Release, name: &str) -> Lookup {
    if release.skip.contains(name) {
        Lookup::Skipped(name.to_string())
    } else {
        Lookup::Key(name.to_string())
    }
}

/// Checks the skip list by full PIR name, then applies the release's renames to `name`.
fn pir_lookup(release: &Release, full: &str, name: &str) -> Lookup {
    if release.skip.contains(full) {
        return Lookup::Skipped(full.to_string());
    }
    let key = release.pir_renames.get(name).map_or(name, String::as_str);
    Lookup::Key(key.to_string())
}

/// True when the release has a mapper for the op (or skips it) and, for quantize_linear and
/// dequantize_linear, exports the op's quantization type.
pub fn converts(table: &Table, release: &Release, found: &Lookup, node: &Node) -> bool {
    match found {
        Lookup::Skipped(_) => true,
        Lookup::Key(key) => {
            release.ops.contains(key)
                && (!table.qdq_ops.contains(key) || release.qdq.contains(&qdq_type(table, node)))
        }
    }
}

/// True when the op is quantize_linear or dequantize_linear in either program form.
pub fn is_qdq(table: &Table, node: &Node) -> bool {
    let name = node.op_type.strip_suffix('_').unwrap_or(&node.op_type);
    table.qdq_ops.contains(name)
}

/// FP8 when the `qmax` attribute is an FP8 maximum, else INT8 (PaddleSlim writes no `qmax`
/// for INT8, and Paddle 3 QAT writes 127).
pub fn qdq_type(table: &Table, node: &Node) -> QdqType {
    let qmax = node.attr("qmax").and_then(|a| a.as_f64());
    match qmax {
        Some(q) if table.fp8_qmax.contains(&q) => QdqType::Fp8,
        _ => QdqType::Int8,
    }
}

/// True when the op writes a variable it also reads (a ProgramDesc in-place op).
fn writes_input(graph: &Graph, node: &Node) -> bool {
    let names = |ports: &[crate::graph::Port]| -> Vec<String> {
        ports
            .iter()
            .filter_map(|p| p.tensor)
            .map(|t| graph.tensor(t).name.clone())
            .collect()
    };
    let inputs = names(&node.inputs);
    names(&node.outputs).iter().any(|o| inputs.contains(o))
}
