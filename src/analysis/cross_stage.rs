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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::Net;
    use crate::graph::{Attr, DataType, Stage};
    use crate::host::CpuTarget;

    /// Builds a Paddle `matmul_v2` whose weight `fc.w` comes through `dequantize_linear`.
    fn paddle_program() -> Model {
        let mut net = Net::paddle();
        net.var("x", DataType::Float32, &[1, 4])
            .floats("fc.w", &[4, 2], 3.0)
            .floats("fc.w@scale", &[2], 127.0)
            .var("fc.w.dq", DataType::Float32, &[4, 2])
            .var("y", DataType::Float32, &[1, 2])
            .paddle_op(
                "dequantize_linear",
                &[("X", "fc.w"), ("Scale", "fc.w@scale")],
                &[("Y", "fc.w.dq")],
                &[("quant_axis", Attr::Int(1)), ("bit_length", Attr::Int(8))],
            )
            .paddle_op(
                "matmul_v2",
                &[("X", "x"), ("Y", "fc.w.dq")],
                &[("Out", "y")],
                &[],
            );
        let mut model = net.model(Stage::Paddle);
        model.path = "m/model.pdmodel".into();
        model
    }

    /// Builds an ONNX export whose MatMul reads `fc.w` directly, or through Q/DQ when `quantized`.
    fn export(quantized: bool) -> Model {
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 4])
            .floats("fc.w", &[4, 2], 0.5)
            .floats("s", &[2], 0.01)
            .ints("z", DataType::Int8, &[2], &[0, 0]);
        if quantized {
            net.op(
                "QuantizeLinear",
                &["fc.w", "s", "z"],
                &["q"],
                &[("axis", Attr::Int(1))],
            )
            .op(
                "DequantizeLinear",
                &["q", "s", "z"],
                &["w"],
                &[("axis", Attr::Int(1))],
            )
            .op("MatMul", &["x", "w"], &["y"], &[]);
        } else {
            net.op("MatMul", &["x", "fc.w"], &["y"], &[]);
        }
        let mut model = net.model(Stage::Onnx);
        model.path = "m/model.onnx".into();
        model
    }

    fn annotated(quantized: bool) -> Vec<(Model, Facts)> {
        let cpu = CpuTarget::parse("zen4").unwrap_or_else(|e| CpuTarget {
            name: e,
            flags: Default::default(),
        });
        let mut models: Vec<(Model, Facts)> = [paddle_program(), export(quantized)]
            .into_iter()
            .map(|m| {
                let facts = crate::analysis::compute(&m, &cpu, "cpu");
                (m, facts)
            })
            .collect();
        annotate(&mut models);
        models
    }

    fn matmul_facts(models: &[(Model, Facts)]) -> crate::analysis::FactMap {
        let (model, facts) = &models[1];
        let graph = &model.graph;
        let matmul = graph
            .node_ids()
            .find(|&n| graph.node(n).op_type == "MatMul");
        matmul
            .and_then(|n| facts.nodes.get(n.index()).cloned())
            .unwrap_or_default()
    }

    #[test]
    fn float_export_of_quantized_matmul_is_lost() {
        let facts = matmul_facts(&annotated(false));
        let get = |name: &str| facts.get(name).cloned();
        assert_eq!(get("cross_stage.lost"), Some(Value::Bool(true)));
        assert_eq!(
            get("cross_stage.source"),
            Some(Value::Str("model.pdmodel".into()))
        );
        assert_eq!(
            get("cross_stage.source_stage"),
            Some(Value::Str("paddle".into()))
        );
        assert_eq!(
            get("cross_stage.source_op"),
            Some(Value::Str("matmul_v2".into()))
        );
        assert_eq!(
            get("cross_stage.source_node"),
            Some(Value::Str("matmul_v2(y)".into()))
        );
        assert_eq!(get("cross_stage.weight"), Some(Value::Str("fc.w".into())));
    }

    #[test]
    fn quantized_export_is_not_lost() {
        let facts = matmul_facts(&annotated(true));
        assert_eq!(facts.get("cross_stage.lost"), None);
    }
}
