//! Facts behind the Q/DQ checks. They cover the element types and bit widths of quantization
//! ops, the validity of their scales and zero points, per-channel axes against the op that
//! reads the weight, float weights that lie on an int8 grid, and the normalized execution
//! provider.

mod axis;
pub mod channels;
mod elements;
pub mod grid;
mod params;

use crate::analysis::shapes::Inferred;
use crate::analysis::{FactMap, Value, chains, quant};
use crate::graph::{Attr, DataType, Graph, Model, ModelFormat, TensorId};

/// Graph, inferred types and constant flags shared by the per-node checks.
pub(crate) struct Ctx<'a> {
    pub graph: &'a Graph,
    pub inferred: &'a Inferred,
    /// Tensors computable from constants alone, indexed by `TensorId.0`.
    constant: Vec<bool>,
}

impl Ctx<'_> {
    /// True for a constant or a tensor computed from constants only (a weight, even behind its
    /// QuantizeLinear/DequantizeLinear).
    pub fn is_constant(&self, tensor: TensorId) -> bool {
        self.constant
            .get(tensor.0 as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Returns the element type of a tensor: inferred, else its constant value's, else declared.
    pub fn dtype(&self, tensor: TensorId) -> Option<DataType> {
        self.inferred
            .dtype(tensor)
            .or_else(|| self.graph.constant(tensor).map(|c| c.dtype))
            .or_else(|| self.graph.tensor(tensor).dtype)
    }
}

/// Adds the Q/DQ facts of `model` to its model facts and node facts (indexed by
/// `NodeId::index()`).
pub fn add_facts(
    model: &Model,
    inferred: &Inferred,
    provider: &str,
    facts: &mut FactMap,
    nodes: &mut [FactMap],
) {
    let ctx = Ctx {
        graph: &model.graph,
        inferred,
        constant: chains::constant_tensors(&model.graph),
    };
    for id in model.graph.node_ids() {
        let Some(node_facts) = nodes.get_mut(id.index()) else {
            continue;
        };
        elements::add(&ctx, id, node_facts);
        params::add(&ctx, id, node_facts);
        axis::add(&ctx, id, node_facts);
        if model.format == ModelFormat::Onnx {
            grid::add(&ctx, id, node_facts);
        }
    }
    facts.insert("qdq.axis_count".into(), Value::Num(axis_count(&ctx) as f64));
    facts.insert("provider.kind".into(), Value::Str(provider_kind(provider)));
}

/// Counts ONNX QuantizeLinear/DequantizeLinear nodes that carry an `axis` attribute or a scale
/// with more than one value; both need opset 13 or later.
fn axis_count(ctx: &Ctx<'_>) -> usize {
    ctx.graph
        .dag
        .node_weights()
        .filter(|n| quant::is_onnx_quantize(n) || quant::is_onnx_dequantize(n))
        .filter(|n| {
            let per_axis_scale = n
                .input(1)
                .and_then(|t| ctx.graph.constant(t))
                .and_then(|s| s.element_count())
                .is_some_and(|len| len > 1);
            n.attr("axis").and_then(Attr::as_i64).is_some() || per_axis_scale
        })
        .count()
}

/// Normalizes an execution provider name: `CUDAExecutionProvider`, `CUDA` and `cuda` all give
/// `cuda`; `trt` gives `tensorrt` and `directml` gives `dml`. Other names are lowercased with
/// any `ExecutionProvider` suffix removed.
pub fn provider_kind(provider: &str) -> String {
    let lower = provider.trim().to_ascii_lowercase();
    let short = lower.strip_suffix("executionprovider").unwrap_or(&lower);
    match short {
        "trt" => "tensorrt".to_string(),
        "directml" => "dml".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::Net;
    use crate::analysis::{FACTS, Scope};
    use crate::graph::Stage;
    use crate::host::CpuTarget;

    /// Builds a Conv whose weight DequantizeLinear has no axis, zero scales and a zero point of
    /// 300, a DequantizeLinear with an axis its tensor lacks, a NaN scale and a float MatMul.
    fn broken_qdq() -> Model {
        let mut net = Net::onnx();
        net.input("x", DataType::Float32, &[1, 4, 8, 8])
            .ints("w", DataType::Int8, &[4, 4, 3, 3], &[3; 144])
            .floats("s", &[4], 0.0)
            .ints("z", DataType::Int8, &[4], &[300, 0, 0, 0])
            .op("DequantizeLinear", &["w", "s", "z"], &["wd"], &[])
            .op("Conv", &["x", "wd"], &["c"], &[])
            .ints("v", DataType::Int8, &[2, 2], &[1; 4])
            .floats("vs", &[2], -0.5)
            .floats("ns", &[], f64::NAN)
            .op("QuantizeLinear", &["m", "ns"], &["mq"], &[])
            .op(
                "DequantizeLinear",
                &["v", "vs"],
                &["vd"],
                &[("axis", Attr::Int(5))],
            )
            .input("m", DataType::Float32, &[1, 2])
            .floats("mw", &[2, 2], 0.25)
            .op("MatMul", &["m", "mw"], &["y"], &[])
            .op("MatMul", &["y", "vd"], &["y2"], &[]);
        net.model(Stage::Onnx)
    }

    #[test]
    fn every_qdq_fact_is_filled() {
        let model = broken_qdq();
        let cpu = CpuTarget::parse("zen4").unwrap_or_else(|e| CpuTarget {
            name: e,
            flags: Default::default(),
        });
        let facts = crate::analysis::compute(&model, &cpu, "cpu");
        let ours = [
            "quant.",
            "qparams.",
            "quant_axis.",
            "weight_grid.",
            "qdq_around",
        ];
        for doc in FACTS
            .iter()
            .filter(|d| ours.iter().any(|p| d.name.starts_with(p)))
        {
            let present = match doc.scope {
                Scope::Node => facts.nodes.iter().any(|n| n.contains_key(doc.name)),
                _ => facts.model.contains_key(doc.name),
            };
            assert!(present, "fact {} is missing", doc.name);
        }
        assert_eq!(facts.model.get("qdq.axis_count"), Some(&Value::Num(2.0)));
        assert_eq!(
            facts.model.get("provider.kind"),
            Some(&Value::Str("cpu".into()))
        );
    }

    #[test]
    fn provider_names_normalize() {
        assert_eq!(provider_kind("CUDAExecutionProvider"), "cuda");
        assert_eq!(provider_kind("cuda"), "cuda");
        assert_eq!(provider_kind("TensorrtExecutionProvider"), "tensorrt");
        assert_eq!(provider_kind("trt"), "tensorrt");
        assert_eq!(provider_kind("DmlExecutionProvider"), "dml");
        assert_eq!(provider_kind(" CPU "), "cpu");
        assert_eq!(provider_kind("OpenVINOExecutionProvider"), "openvino");
    }
}
