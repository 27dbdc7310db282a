//! Ops that are quantized in one stage of a pipeline and float in the next.
//!
//! A pipeline is the models that one lint run groups together (see [`crate::pipeline`]): a
//! Paddle program, its ONNX export and ORT's optimized graph of that export. Each model is
//! compared with the one it came from (see [`pairs`]): a Paddle program with its exports, an
//! export with its optimized graphs. Ops are matched by the names of their weights, which
//! Paddle2ONNX and ORT keep (see [`ops`]). An op of the later model that was quantized in the
//! earlier one and is float now gets the node facts `cross_stage.lost` (true),
//! `cross_stage.source` (the earlier file name), `cross_stage.source_stage`,
//! `cross_stage.source_op`, `cross_stage.source_node` and `cross_stage.weight`.

pub mod ops;
pub mod pairs;

use crate::analysis::{Facts, Value};
use crate::graph::Model;

/// Adds the cross-stage facts to the later models of each pair in `models` (one pipeline).
pub fn annotate(models: &mut [(Model, Facts)]) {
    let refs: Vec<&Model> = models.iter().map(|(m, _)| m).collect();
    let summaries: Vec<ops::Summary> = refs.iter().map(|m| ops::summarize(m)).collect();
    let mut updates = Vec::new();
    for (earlier, later) in pairs::pairs(&refs) {
        let (Some(source), Some(target), Some(source_model)) = (
            summaries.get(earlier),
            summaries.get(later),
            refs.get(earlier),
        ) else {
            continue;
        };
        let file = source_model
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| source_model.path.display().to_string());
        for lost in ops::lost(source, target) {
            let facts = [
                ("cross_stage.lost", Value::Bool(true)),
                ("cross_stage.source", Value::Str(file.clone())),
                (
                    "cross_stage.source_stage",
                    Value::Str(source_model.stage.as_str().to_string()),
                ),
                ("cross_stage.source_op", Value::Str(lost.source.op.clone())),
                (
                    "cross_stage.source_node",
                    Value::Str(lost.source.id.clone()),
                ),
                ("cross_stage.weight", Value::Str(lost.weight.clone())),
            ];
            updates.push((later, lost.node, facts));
        }
    }
    for (later, node, facts) in updates {
        let Some(node_facts) = models
            .get_mut(later)
            .and_then(|(_, f)| f.nodes.get_mut(node.index()))
        else {
            continue;
        };
        for (name, value) in facts {
            node_facts.insert(name.to_string(), value);
        }
    }
}
