//! Compares qlint's predicted QDQ fusion with a graph that ONNX Runtime optimized.
//!
//! ORT replaces the nodes it fuses but keeps the name of the node it fuses into (`conv1`
//! becomes a QLinearConv named `conv1`), and an op it leaves alone keeps its output tensor.
//! Unnamed nodes are matched by their quantized weight or scale tensors, which the fused op
//! reads under the same names. See [`compare`].

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};

use qlint::analysis::fusion::{OrtVersion, Predictions, predict};
use qlint::analysis::quant;
use qlint::analysis::shapes::{self, Inferred};
use qlint::graph::{Graph, Model, NodeId};
use qlint::load;

/// An exported QDQ model and a graph ORT saved for it at ORT_ENABLE_EXTENDED.
pub struct Case {
    pub export: &'static str,
    pub optimized: &'static str,
}

/// The exports the fusion tests use, with the graphs ORT saved for them (paths under
/// `testdata`). The corpus graphs were saved by ORT 1.32.0, the generated ones by ORT 1.31.1.
pub const CORPUS: &[Case] = &[
    Case {
        export: "corpus/convnet/pd262-A_qdq_full/p2o131.onnx",
        optimized: "corpus/convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx",
    },
    Case {
        export: "corpus/convnet/pd262-QAT_qdq/p2o131.onnx",
        optimized: "corpus/convnet/pd262-QAT_qdq/p2o131.ort_extended.onnx",
    },
    Case {
        export: "corpus/leaky/pd262-A_qdq_full/p2o131.onnx",
        optimized: "corpus/leaky/pd262-A_qdq_full/p2o131.ort_extended.onnx",
    },
    Case {
        export: "corpus/mbv3ish/pd262-A_qdq_full/p2o131.onnx",
        optimized: "corpus/mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx",
    },
];

/// Generated exports (`testdata/gen/fusion_models.py`, `onnx_models.py` and
/// `onnx_qdq_variants.py`); only the `fusion_*` models name their nodes.
pub const GENERATED: &[Case] = &[
    Case {
        export: "generated/fusion_clean/model.onnx",
        optimized: "generated/fusion_clean/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_int8_fanout/model.onnx",
        optimized: "generated/fusion_int8_fanout/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_layout_int8/model.onnx",
        optimized: "generated/fusion_layout_int8/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_layout_uint8/model.onnx",
        optimized: "generated/fusion_layout_uint8/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_float_input/model.onnx",
        optimized: "generated/fusion_float_input/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_old_opset/model.onnx",
        optimized: "generated/fusion_old_opset/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_weights/model.onnx",
        optimized: "generated/fusion_weights/model.ort_extended.onnx",
    },
    Case {
        export: "generated/fusion_edge_cases/model.onnx",
        optimized: "generated/fusion_edge_cases/model.ort_extended.onnx",
    },
    Case {
        export: "generated/big_conv/model.qdq.onnx",
        optimized: "generated/big_conv/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/float_gemm_head/model.qdq.onnx",
        optimized: "generated/float_gemm_head/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/axes_ok/model.qdq.onnx",
        optimized: "generated/axes_ok/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/matmul_nbits/model.qdq.onnx",
        optimized: "generated/matmul_nbits/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/opset10_qdq/model.qdq.onnx",
        optimized: "generated/opset10_qdq/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/qdq_int4_weights/model.qdq.onnx",
        optimized: "generated/qdq_int4_weights/model.qdq.ort_extended.onnx",
    },
    Case {
        export: "generated/qdq_uint16/model.qdq.onnx",
        optimized: "generated/qdq_uint16/model.qdq.ort_extended.onnx",
    },
];

/// Path of a file under `testdata`.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative)
}

/// Loads one ONNX file with qlint's loader; `optimized` forces the optimized stage.
pub fn load_model(path: &Path, optimized: bool) -> Model {
    let inputs = load::discover(path).unwrap_or_else(|e| panic!("{e}"));
    let input = inputs
        .first()
        .unwrap_or_else(|| panic!("{}: no model found", path.display()));
    load::load(input, optimized).unwrap_or_else(|e| panic!("{e}"))
}

/// Predictions for an export, failing the test on an unknown version.
pub fn predictions(export: &Model, version: &str) -> Predictions {
    let version = OrtVersion::parse(version).unwrap_or_else(|e| panic!("{e}"));
    predict(export, &version).unwrap_or_else(|e| panic!("{e}"))
}

/// Counts and disagreements between predictions and an optimized graph.
#[derive(Debug, Default)]
pub struct Outcome {
    pub predicted_fused: usize,
    pub predicted_float: usize,
    pub actual_fused: usize,
    pub actual_float: usize,
    /// One line per op whose prediction ORT did not bear out.
    pub mismatches: Vec<String>,
}

/// Checks every prediction against the graph ORT saved. An op predicted to fuse must have
/// become the predicted kernel, run on 8-bit data, or (a Relu or Clip) be folded away. An op
/// predicted to stay float must not be quantized.
pub fn compare(export: &Model, optimized: &Model, predictions: &Predictions) -> Outcome {
    let inferred = shapes::infer(optimized);
    let mut outcome = Outcome::default();
    for prediction in &predictions.nodes {
        let node = export.graph.node(prediction.node);
        let found = find(&export.graph, &optimized.graph, prediction.node);
        let actual = match found {
            Some(m) => fused_in(optimized, &inferred, m, &node.op_type),
            // A Relu or Clip that ORT folds into its QuantizeLinear leaves no node behind.
            None => node.op_type == "Relu" || node.op_type == "Clip",
        };
        if prediction.fused {
            outcome.predicted_fused += 1;
        } else {
            outcome.predicted_float += 1;
        }
        if actual {
            outcome.actual_fused += 1;
        } else {
            outcome.actual_float += 1;
        }
        let kernel = found.map(|m| optimized.graph.node(m).qualified_op());
        let expected_kernel = prediction
            .kernel
            .as_deref()
            .filter(|k| *k != "QuantizeLinear");
        let kernel_differs = prediction.fused
            && actual
            && expected_kernel.is_some_and(|k| kernel.as_deref() != Some(k));
        if prediction.fused != actual || kernel_differs {
            outcome.mismatches.push(format!(
                "{} ({}): predicted {} ({:?}, reason {:?}), ORT wrote {:?}",
                node.id,
                node.op_type,
                if prediction.fused { "fused" } else { "float" },
                prediction.kernel,
                prediction.reason.as_ref().map(ToString::to_string),
                kernel,
            ));
        }
    }
    outcome
}

/// Finds the optimized node that stands for an export node. The lookups run from the most
/// to the least specific, and the first that finds a node wins.
fn find(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    by_name(export, optimized, node)
        .or_else(|| by_output(export, optimized, node))
        .or_else(|| by_weight(export, optimized, node))
        .or_else(|| by_scales(export, optimized, node))
        .or_else(|| by_op_type(export, optimized, node))
}

/// Finds the node of the same name.
fn by_name(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    let name = export
        .node(node)
        .name
        .as_deref()
        .filter(|s| !s.is_empty())?;
    optimized
        .node_ids()
        .find(|&m| optimized.node(m).name.as_deref() == Some(name))
}

/// Finds the node that writes one of the node's output tensors, or one of the QuantizeLinear
/// outputs that read them.
fn by_output(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    let outputs = output_names(export, node);
    optimized.node_ids().find(|&m| {
        let mut tensors = optimized.node(m).outputs.iter().filter_map(|p| p.tensor);
        tensors.any(|t| outputs.contains(&optimized.tensor(t).name.as_str()))
    })
}

/// Finds the quantized op that reads the node's quantized weight under its own name.
fn by_weight(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    let weight = dq_input_name(export, node, 1)?;
    optimized.node_ids().find(|&m| {
        let n = optimized.node(m);
        let mut inputs = n.inputs.iter().filter_map(|p| p.tensor);
        quant::is_quantized_compute(n) && inputs.any(|t| optimized.tensor(t).name == weight)
    })
}

/// Finds the one quantized op that reads every scale value around the node. Scales are
/// compared by value because ORT may merge equal scale constants under one name.
fn by_scales(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    let scales = scale_values(export, node);
    if scales.is_empty() {
        return None;
    }
    let candidates: Vec<NodeId> = optimized
        .node_ids()
        .filter(|&m| quant::is_quantized_compute(optimized.node(m)))
        .filter(|&m| {
            let values = scalar_inputs(optimized, m);
            scales.iter().all(|v| values.contains(v))
        })
        .collect();
    match candidates.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// Finds the only node of the op type when the export has only one too.
fn by_op_type(export: &Graph, optimized: &Graph, node: NodeId) -> Option<NodeId> {
    let op = &export.node(node).op_type;
    let same_op = |graph: &Graph| -> Vec<NodeId> {
        let ids = graph.node_ids();
        ids.filter(|&m| &graph.node(m).op_type == op).collect()
    };
    match (same_op(export).as_slice(), same_op(optimized).as_slice()) {
        ([_], [only]) => Some(*only),
        _ => None,
    }
}

/// Lists the node's output tensor names and those of the QuantizeLinear nodes that read them.
fn output_names(export: &Graph, node: NodeId) -> Vec<&str> {
    let mut names = Vec::new();
    for out in export.node(node).outputs.iter().filter_map(|p| p.tensor) {
        names.push(export.tensor(out).name.as_str());
        for &reader in export.consumers(out) {
            let reader = export.node(reader);
            if quant::is_onnx_quantize(reader)
                && let Some(q_out) = reader.output(0)
            {
                names.push(export.tensor(q_out).name.as_str());
            }
        }
    }
    names
}

/// Returns the name of the tensor that the DequantizeLinear at input `slot` dequantizes.
fn dq_input_name(export: &Graph, node: NodeId, slot: usize) -> Option<&str> {
    let input = export.node(node).input(slot)?;
    let dq = export.node(export.producer(input)?);
    let data = quant::is_onnx_dequantize(dq)
        .then(|| dq.input(0))
        .flatten()?;
    Some(export.tensor(data).name.as_str())
}

/// Lists the scale values of the DequantizeLinear inputs and QuantizeLinear readers of a node.
fn scale_values(export: &Graph, node: NodeId) -> Vec<f64> {
    let n = export.node(node);
    let mut around: Vec<NodeId> = n
        .inputs
        .iter()
        .filter_map(|p| p.tensor)
        .filter_map(|t| export.producer(t))
        .filter(|&p| quant::is_onnx_dequantize(export.node(p)))
        .collect();
    for out in n.outputs.iter().filter_map(|p| p.tensor) {
        let readers = export.consumers(out).iter().copied();
        around.extend(readers.filter(|&r| quant::is_onnx_quantize(export.node(r))));
    }
    around
        .into_iter()
        .filter_map(|q| export.node(q).input(1))
        .filter_map(|t| scalar(export, t))
        .collect()
}

/// Lists the values of a node's one-element constant inputs.
fn scalar_inputs(graph: &Graph, node: NodeId) -> Vec<f64> {
    let inputs = graph.node(node).inputs.iter().filter_map(|p| p.tensor);
    inputs.filter_map(|t| scalar(graph, t)).collect()
}

fn scalar(graph: &Graph, tensor: qlint::graph::TensorId) -> Option<f64> {
    let data = graph.constant(tensor)?;
    let values = data.to_f64().ok()?;
    match values.as_slice() {
        [value] => Some(*value),
        _ => None,
    }
}

/// True when ORT made the node a quantized op, kept the op but runs it on 8-bit data (the
/// QuantizeLinear/DequantizeLinear around an op that only moves data were dropped), or folded
/// a Relu or Clip into its QuantizeLinear.
fn fused_in(optimized: &Model, inferred: &Inferred, node: NodeId, export_op: &str) -> bool {
    let n = optimized.graph.node(node);
    if quant::is_quantized_compute(n) {
        return true;
    }
    // A folded Relu or Clip is matched to the QuantizeLinear that now reads its input.
    if (export_op == "Relu" || export_op == "Clip") && quant::is_onnx_quantize(n) {
        return true;
    }
    n.op_type == export_op
        && quant::is_default_domain(&n.domain)
        && n.input(0).is_some_and(|t| inferred.is_8bit(t))
}
