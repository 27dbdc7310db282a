//! Per-node facts: MACs, int8 inputs, island membership, parameter and quantized inputs, and the
//! quantization of the node's output.

use crate::analysis::chains::{self, ChainAnalysis};
use crate::analysis::macs::{MacCount, NodeMacs};
use crate::analysis::shapes::Inferred;
use crate::analysis::{FactMap, Value, quant};
use crate::graph::{
    Attr, DataType, Graph, Model, ModelFormat, Node, Payload, Port, TensorData, TensorId,
};

/// Computes the facts of every node, indexed by `NodeId::index()`.
pub(super) fn node_facts(
    model: &Model,
    inferred: &Inferred,
    macs: &MacCount,
    analysis: &ChainAnalysis,
) -> Vec<FactMap> {
    let graph = &model.graph;
    let constant = chains::constant_tensors(graph);
    let is_constant = |t: TensorId| constant.get(t.0 as usize).copied().unwrap_or(false);
    graph
        .node_ids()
        .map(|id| {
            let node = graph.node(id);
            let mut facts = FactMap::new();
            match macs
                .per_node
                .get(id.index())
                .copied()
                .unwrap_or(NodeMacs::Unknown)
            {
                NodeMacs::NotCompute => {
                    facts.insert("macs".into(), Value::Num(0.0));
                    facts.insert("macs.exact".into(), Value::Bool(true));
                }
                NodeMacs::Known(n) => {
                    facts.insert("macs".into(), Value::Num(n as f64));
                    facts.insert("macs.exact".into(), Value::Bool(true));
                }
                NodeMacs::Unknown => {
                    facts.insert("macs.exact".into(), Value::Bool(false));
                }
            }
            let inputs: Vec<TensorId> = node.inputs.iter().filter_map(|p| p.tensor).collect();
            let int8 = inputs.iter().filter(|&&t| inferred.is_8bit(t)).count();
            facts.insert("int8_inputs".into(), Value::Num(int8 as f64));
            let island = analysis.node_island.get(id.index()).copied().flatten();
            facts.insert("in_island".into(), Value::Bool(island.is_some()));
            let param = inputs.iter().any(|&t| is_constant(t));
            facts.insert("param_input".into(), Value::Bool(param));
            // The data input is Paddle slot `X` (ProgramDesc sorts slots by name, so it need not
            // come first); ONNX and PIR put the data tensor at position 0.
            let data = node
                .slot_inputs("X")
                .next()
                .or_else(|| node.inputs.first().and_then(|p| p.tensor));
            let data_param = data.is_some_and(&is_constant);
            facts.insert("data_input_constant".into(), Value::Bool(data_param));
            let quantized = inputs
                .iter()
                .filter(|&&t| !is_constant(t))
                .filter_map(|&t| graph.producer(t))
                .any(|p| really_quantizes(model.format, graph.node(p)));
            facts.insert("quantized_input".into(), Value::Bool(quantized));
            output_quantization(&mut facts, graph, inferred, node);
            facts
        })
        .collect()
}

/// True when `producer` hands its consumers quantized data: in ONNX a DequantizeLinear; in
/// Paddle a legacy fake op, or `quantize_linear`/`dequantize_linear` unless it only observes.
fn really_quantizes(format: ModelFormat, producer: &Node) -> bool {
    match format {
        ModelFormat::Onnx => quant::is_onnx_dequantize(producer),
        ModelFormat::PaddleProgram | ModelFormat::PaddlePir => {
            let onnx_format =
                quant::PADDLE_ONNX_FORMAT.contains(&quant::paddle_op(&producer.op_type));
            quant::is_paddle_legacy_fake_quant(producer)
                || (onnx_format && !quant::is_paddle_observer_only(producer))
        }
    }
}

/// The quantization applied to a node's output: type and zero point of a QuantizeLinear.
struct OutputQuant {
    qtype: Option<DataType>,
    /// Paddle types come from `bit_length`, so they are named here rather than in `DataType`.
    qtype_name: Option<String>,
    zero_point: Option<i64>,
    minimum: Option<i64>,
}

/// Records `output_zero_point`, `output_zero_point_at_min` and `output_qtype` from the first
/// QuantizeLinear (in file order) that reads one of the node's outputs.
fn output_quantization(facts: &mut FactMap, graph: &Graph, inferred: &Inferred, node: &Node) {
    let quantize = node
        .outputs
        .iter()
        .filter_map(|p| p.tensor)
        .flat_map(|t| graph.consumers(t).iter().copied())
        .map(|c| graph.node(c))
        .find(|c| quant::is_quantize(c));
    let Some(q) = quantize else { return };
    let found = if quant::is_onnx_quantize(q) {
        onnx_output_quant(graph, inferred, q)
    } else {
        paddle_output_quant(graph, q)
    };
    if let Some(name) = found.qtype_name.or_else(|| found.qtype.map(DataType::name)) {
        facts.insert("output_qtype".into(), Value::Str(name));
    }
    if let Some(zp) = found.zero_point {
        facts.insert("output_zero_point".into(), Value::Num(zp as f64));
        if let Some(min) = found.minimum {
            facts.insert("output_zero_point_at_min".into(), Value::Bool(zp == min));
        }
    }
}

/// Decodes the first element of a constant (a scalar or per-axis zero point) on its own, so that
/// a large tensor is not read in full.
fn first_value(graph: &Graph, tensor: TensorId) -> Option<i64> {
    let data = graph.constant(tensor)?;
    if data.element_count()? == 0 {
        return None;
    }
    let payload = match &data.payload {
        Payload::Raw(bytes) => {
            let size = data.dtype.size_bytes()?;
            Payload::Raw(bytes.get(..size).map(|b| bytes.slice_ref(b))?)
        }
        Payload::Ints(v) => Payload::Ints(v.first().copied().into_iter().collect()),
        Payload::Floats(v) => Payload::Floats(v.first().copied().into_iter().collect()),
        Payload::Opaque => return None,
    };
    let first = TensorData {
        dtype: data.dtype,
        dims: Vec::new(),
        payload,
    };
    first.to_i64().ok()?.first().copied()
}

fn onnx_output_quant(graph: &Graph, inferred: &Inferred, q: &Node) -> OutputQuant {
    let qtype = q.output(0).and_then(|t| inferred.dtype(t));
    let zero_point = match q.input(2) {
        Some(t) => first_value(graph, t),
        // Without a zero point, ONNX QuantizeLinear uses 0 (uint8 output).
        None => Some(0),
    };
    OutputQuant {
        qtype,
        qtype_name: None,
        zero_point,
        minimum: qtype.and_then(DataType::integer_range).map(|(min, _)| min),
    }
}

fn paddle_slot(ports: &[Port], slot: &str, position: usize) -> Option<TensorId> {
    if ports.iter().any(|p| !p.slot.is_empty()) {
        ports.iter().find(|p| p.slot == slot).and_then(|p| p.tensor)
    } else {
        ports.get(position).and_then(|p| p.tensor)
    }
}

/// Paddle `quantize_linear` is signed and symmetric: its codes span
/// `[-2^(bits-1), 2^(bits-1) - 1]` unless a `qmin` attribute sets another minimum.
fn paddle_output_quant(graph: &Graph, q: &Node) -> OutputQuant {
    let bits = q.attr("bit_length").and_then(Attr::as_i64).unwrap_or(8);
    let valid = (2..=32).contains(&bits);
    let minimum = q
        .attr("qmin")
        .and_then(Attr::as_i64)
        .or_else(|| valid.then(|| -(1i64 << (bits - 1))));
    OutputQuant {
        qtype: None,
        qtype_name: valid.then(|| format!("int{bits}")),
        zero_point: paddle_slot(&q.inputs, "ZeroPoint", 2).and_then(|t| first_value(graph, t)),
        minimum,
    }
}
