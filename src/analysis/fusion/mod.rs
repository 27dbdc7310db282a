//! Predicted QDQ fusion: which ops of an exported QDQ graph ONNX Runtime's CPU execution
//! provider turns into quantized kernels at ORT_ENABLE_EXTENDED, and why it leaves the others
//! float, judged for one ORT release from `rules/data/ort-qdq-fusion.yaml`.
//!
//! The prediction replays the ORT passes that decide which QDQ node groups the selectors see,
//! on a working copy of the graph. These are constant folding, one DequantizeLinear per
//! reader, QDQ propagation, weight and bias quantization, Relu and Clip folding, and the
//! s8-to-u8 conversion of x86-64 builds. Then it runs each selector's check on every op that
//! reads a DequantizeLinear or feeds a QuantizeLinear. It assumes an x86-64 build, the CPU
//! execution provider and ORT's default session options.

mod group;
mod kinds;
mod nbits;
mod passes;
mod propagate;
mod reason;
mod sim;
pub mod table;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::analysis::{Facts, Value, shapes};
use crate::graph::{Model, ModelFormat, NodeId, Stage};

pub use reason::{Int8Cause, NodeRef, Reason, S8Skip};
pub use table::{Release, Table, table};

use group::Context;
use sim::Sim;
use table::CPU_PROVIDER;

/// An ORT release from the built-in table (`major.minor`): the one predictions are judged for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrtVersion(String);

impl OrtVersion {
    /// The release judged when no option or config names one: the ONNX Runtime release qlint's
    /// runtime features load (1.31.1).
    pub const DEFAULT: &'static str = "1.31";

    /// Checks `text` (`1.31`, or `1.31.1` for the same release) against the table.
    pub fn parse(text: &str) -> Result<OrtVersion, String> {
        let table = table()?;
        let trimmed = text.trim();
        let mut parts = trimmed.split('.');
        let release = match (parts.next(), parts.next()) {
            (Some(major), Some(minor)) => format!("{major}.{minor}"),
            _ => trimmed.to_string(),
        };
        let patch_ok =
            parts.next().is_none_or(|p| p.parse::<u32>().is_ok()) && parts.next().is_none();
        match table.release(&release) {
            Some(found) if patch_ok => Ok(OrtVersion(found.version.clone())),
            _ => Err(format!(
                "unknown ONNX Runtime version `{trimmed}`: known versions are {}",
                table.version_list()
            )),
        }
    }

    /// The version string, such as `1.31`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for OrtVersion {
    fn default() -> Self {
        OrtVersion(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for OrtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prediction for one op.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub node: NodeId,
    /// True when ORT is predicted to turn the op into a quantized kernel, run it on 8-bit data
    /// (ops that only move data) or fold it into the next QuantizeLinear (Relu, Clip).
    pub fused: bool,
    /// The op ORT writes when it fuses the node: `QLinearConv`, `com.microsoft::QLinearAdd`,
    /// the op itself for ops that only move data, or `QuantizeLinear` for a folded Relu or
    /// Clip. It is `None` for ops ORT has no fusion for.
    pub kernel: Option<String>,
    /// The reason the op stays float, or `None` when it fuses.
    pub reason: Option<Reason>,
}

/// The predictions for one model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    /// The release judged for.
    pub version: String,
    /// Every op that reads a DequantizeLinear or feeds a QuantizeLinear once ORT's passes ran,
    /// in topological order.
    pub nodes: Vec<Prediction>,
    /// Data-movement ops between a QuantizeLinear and a DequantizeLinear that keep the pair
    /// int8, with the ops left float because of it.
    pub blocks: BTreeMap<NodeId, Vec<NodeId>>,
}

impl Predictions {
    /// Returns the prediction for a node, if it has one.
    pub fn get(&self, node: NodeId) -> Option<&Prediction> {
        self.nodes.iter().find(|p| p.node == node)
    }
}

/// Predicts ORT's QDQ fusion on an ONNX model for `version`.
pub fn predict(model: &Model, version: &OrtVersion) -> Result<Predictions, String> {
    let table = table()?;
    let release = table.release(version.as_str()).ok_or_else(|| {
        format!(
            "unknown ONNX Runtime version `{version}`: known versions are {}",
            table.version_list()
        )
    })?;
    let inferred = shapes::infer(model);
    let mut sim = Sim::new(model, &inferred);
    let (folded, skipped) = run_passes(&mut sim, table, release);

    let ctx = Context {
        sim: &sim,
        skipped: &skipped,
        shared_readers: OnceCell::new(),
    };
    let mut predictions = Predictions {
        version: release.version.clone(),
        ..Predictions::default()
    };
    for index in 0..sim.nodes.len() {
        let Some(node) = sim.node(index).filter(|n| !n.inserted) else {
            continue;
        };
        let Some(origin) = node.origin else {
            continue;
        };
        let prediction = if folded.contains(&index) {
            Some(Prediction {
                node: origin,
                fused: true,
                kernel: Some("QuantizeLinear".into()),
                reason: None,
            })
        } else if is_candidate(&sim, index) {
            Some(select(&ctx, table, release, index, origin))
        } else {
            None
        };
        predictions.nodes.extend(prediction);
    }
    predictions.blocks = blocking_layout_ops(&predictions.nodes);
    Ok(predictions)
}

/// Rewrites the working graph as ORT's passes before the selectors would. Returns the Relu
/// and Clip nodes folded into a QuantizeLinear, and why each int8 QuantizeLinear stayed int8.
fn run_passes(
    sim: &mut Sim,
    table: &Table,
    release: &Release,
) -> (Vec<usize>, HashMap<usize, S8Skip>) {
    // NOTE: of ORT's other Level 1 passes, common subexpression elimination, constant sharing
    // (except for MatMulNBits) and fusions such as MatMul + Add into Gemm are not replayed, so
    // a group they create or merge is judged as the file wrote it.
    sim.fold_constants();
    passes::unique_dq(sim);
    if release.passes.qdq_propagation {
        propagate::propagate(sim, table, release);
    }
    if release.passes.weight_bias_quantization {
        passes::weight_bias_quantization(sim);
    }
    passes::unique_dq(sim);

    let folded = if release.passes.relu_clip_folding {
        passes::fold_relu_clip(sim)
    } else {
        Vec::new()
    };
    let skipped = if release.passes.s8_to_u8 && !release.int8_activations {
        passes::s8_to_u8(sim, &table.layout_ops)
    } else {
        HashMap::new()
    };
    (folded, skipped)
}

/// True for a live model op that reads a DequantizeLinear or feeds a QuantizeLinear.
fn is_candidate(sim: &Sim, index: usize) -> bool {
    let Some(node) = sim.node(index) else {
        return false;
    };
    if !node.live || sim.is_q(index) || sim.is_dq(index) || node.op == "Constant" {
        return false;
    }
    let reads_dq = node
        .inputs
        .iter()
        .flatten()
        .any(|&t| sim.producer(t).is_some_and(|p| sim.is_dq(p)));
    let feeds_q = node
        .outputs
        .iter()
        .flatten()
        .any(|&t| sim.uses(t).iter().any(|u| sim.is_q(u.node)));
    reads_dq || feeds_q
}

/// Tries the release's selectors for the node in ORT's order; the first that accepts it wins,
/// else the first rejection is the reason.
fn select(
    ctx: &Context,
    table: &Table,
    release: &Release,
    index: usize,
    origin: NodeId,
) -> Prediction {
    let sim = ctx.sim;
    let op = sim.node(index).map(|n| n.op.clone()).unwrap_or_default();
    let default_domain = sim.is_op(index, &op);
    let entries: Vec<_> = release
        .selectors_for(&op)
        .filter(|(s, _)| default_domain && s.providers.iter().any(|p| p == CPU_PROVIDER))
        .collect();
    let unfused = |kernel: Option<String>, reason: Reason| Prediction {
        node: origin,
        fused: false,
        kernel,
        reason: Some(reason),
    };
    let Some((_, first)) = entries.first() else {
        return unfused(None, not_in_table(sim, release, index, &op));
    };
    let mut rejection: Option<Reason> = None;
    for (selector, entry) in &entries {
        if let Some(reason) = since_rejection(table, release, sim.opset, entry) {
            rejection.get_or_insert(reason);
            continue;
        }
        match kinds::check(ctx, index, selector, entry, release.int8_activations) {
            Ok(kernel) => {
                return Prediction {
                    node: origin,
                    fused: true,
                    kernel: Some(kernel),
                    reason: None,
                };
            }
            Err(reason) => rejection = Some(prefer(rejection, reason)),
        }
    }
    let reason = rejection.unwrap_or_else(|| not_in_table(sim, release, index, &op));
    unfused(first.kernel.clone(), reason)
}

/// Keeps the first rejection, except that a weight-only rejection replaces a float
/// activation: a MatMul whose weight alone is quantized was meant for MatMulNBits.
fn prefer(earlier: Option<Reason>, later: Reason) -> Reason {
    match earlier {
        Some(Reason::FloatInput { slot: 0, .. }) if matches!(later, Reason::NbitsWeight { .. }) => {
            later
        }
        Some(reason) => reason,
        None => later,
    }
}

fn since_rejection(
    table: &Table,
    release: &Release,
    opset: i64,
    entry: &table::OpEntry,
) -> Option<Reason> {
    if entry.since.is_empty() {
        return None;
    }
    let since = table.since_version(&entry.op, opset).unwrap_or(0);
    (!entry.since.contains(&since)).then(|| Reason::SinceVersion {
        op: entry.op.clone(),
        opset,
        since,
        allowed: entry.since.clone(),
        version: release.version.clone(),
    })
}

/// Explains an op without a selector. For a Relu or Clip that did not fold, the reason states
/// when ORT folds one.
fn not_in_table(sim: &Sim, release: &Release, index: usize, op: &str) -> Reason {
    let foldable = (op == "Relu" || op == "Clip") && release.passes.relu_clip_folding;
    if foldable && sim.is_op(index, op) {
        return Reason::NotFolded {
            op: op.to_string(),
            version: release.version.clone(),
        };
    }
    Reason::NotInTable {
        op: op.to_string(),
        version: release.version.clone(),
    }
}

/// Data-movement ops named as the cause of an int8 pair, with the nodes they keep float.
fn blocking_layout_ops(predictions: &[Prediction]) -> BTreeMap<NodeId, Vec<NodeId>> {
    let mut blocks: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
    for prediction in predictions {
        let layout = prediction
            .reason
            .as_ref()
            .and_then(Reason::int8_cause)
            .and_then(Int8Cause::layout_op);
        if let Some(layout) = layout {
            blocks.entry(layout.node).or_default().push(prediction.node);
        }
    }
    blocks
}

/// Adds the `predicted.*` facts of an exported ONNX model (stage `onnx`) to `facts`, judged for
/// `version`. Other models, and a version missing from the table, get none.
pub fn add_facts(model: &Model, version: &OrtVersion, facts: &mut Facts) {
    if model.stage != Stage::Onnx || model.format != ModelFormat::Onnx {
        return;
    }
    let Ok(predictions) = predict(model, version) else {
        return;
    };
    facts.model.insert(
        "predicted.ort_version".into(),
        Value::Str(predictions.version.clone()),
    );
    let graph = &model.graph;
    for prediction in &predictions.nodes {
        let Some(node_facts) = facts.nodes.get_mut(prediction.node.index()) else {
            continue;
        };
        node_facts.insert("predicted.fused".into(), Value::Bool(prediction.fused));
        if let Some(kernel) = &prediction.kernel {
            node_facts.insert("predicted.kernel".into(), Value::Str(kernel.clone()));
        }
        if let Some(reason) = &prediction.reason {
            node_facts.insert("predicted.reason".into(), Value::Str(reason.to_string()));
        }
    }
    for (layout, blocked) in &predictions.blocks {
        let Some(node_facts) = facts.nodes.get_mut(layout.index()) else {
            continue;
        };
        let ids: Vec<String> = blocked
            .iter()
            .map(|&n| format!("`{}`", graph.node(n).id))
            .collect();
        node_facts.insert("predicted.blocks".into(), Value::Str(ids.join(", ")));
    }
}

#[cfg(test)]
mod tests;
