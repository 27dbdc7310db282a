//! The graph passes ORT runs before its QDQ selectors, reduced to what changes the node groups
//! the selectors see and the element types they compare. The sources are listed in
//! `rules/data/ort-qdq-fusion.yaml`.

use std::collections::{BTreeSet, HashMap};

use super::reason::S8Skip;
use super::sim::{Sim, SimNode, SimTensor};
use crate::graph::{Attr, DataType};

/// Gives every reader of a DequantizeLinear its own copy, as ORT's EnsureUniqueDQForNodeUnit
/// does. The original keeps its first reader unless its output is also a graph output, then
/// every reader gets a copy. A QuantizeLinear before a shared DequantizeLinear therefore ends up
/// with one output edge per reader.
pub fn unique_dq(sim: &mut Sim) {
    let dqs: Vec<usize> = (0..sim.nodes.len()).filter(|&n| sim.is_dq(n)).collect();
    let mut changed = false;
    for dq in dqs {
        let Some(out) = sim.output(dq, 0) else {
            continue;
        };
        let uses = sim.uses(out).to_vec();
        let graph_output = sim.tensor(out).graph_output;
        if uses.is_empty() || (uses.len() == 1 && !graph_output) {
            continue;
        }
        let Some(template) = sim.node(dq).cloned() else {
            continue;
        };
        let keep_first = usize::from(!graph_output);
        for reader in uses.into_iter().skip(keep_first) {
            let copy = sim.add_tensor(SimTensor {
                name: format!("{}/duplicated", sim.tensor(out).name),
                dtype: sim.dtype(out),
                ..SimTensor::default()
            });
            sim.add_node(SimNode {
                outputs: vec![Some(copy)],
                ..template.clone()
            });
            set_input(sim, reader.node, reader.slot, copy);
        }
        changed = true;
    }
    if changed {
        sim.reindex();
    }
}

fn set_input(sim: &mut Sim, node: usize, slot: usize, tensor: usize) {
    if let Some(input) = sim.nodes.get_mut(node).and_then(|n| n.inputs.get_mut(slot)) {
        *input = Some(tensor);
    }
}

/// The quantization ORT's WeightBiasQuantization adds to one Conv, ConvTranspose or Gemm.
struct WeightBiasPlan {
    /// A float constant weight to quantize per tensor to int8.
    weight: Option<usize>,
    /// A float constant bias to quantize to int32, with its length.
    bias: Option<(usize, i64)>,
}

/// Quantizes the float constant weight (int8, per tensor) and bias (int32) of a Conv,
/// ConvTranspose or Gemm that reads a per-tensor DequantizeLinear and leads to a
/// QuantizeLinear, as ORT's WeightBiasQuantization does, so the op can still fuse.
pub fn weight_bias_quantization(sim: &mut Sim) {
    let mut changed = false;
    for node in 0..sim.nodes.len() {
        let eligible = ["Conv", "ConvTranspose", "Gemm"]
            .iter()
            .any(|op| sim.is_op(node, op));
        if !eligible {
            continue;
        }
        let Some(plan) = plan_weight_bias(sim, node) else {
            continue;
        };
        if let Some(weight) = plan.weight {
            let dims = sim.tensor(weight).dims.clone();
            let quantized = constant(sim, "weight_q", DataType::Int8, dims);
            let dq = dequantize(sim, quantized, DataType::Float32, vec![]);
            set_input(sim, node, 1, dq);
        }
        if let Some((_, length)) = plan.bias {
            let quantized = constant(sim, "bias_int32", DataType::Int32, Some(vec![length]));
            let dq = dequantize(sim, quantized, DataType::Float32, vec![length]);
            set_input(sim, node, 2, dq);
        }
        changed = true;
    }
    if changed {
        sim.reindex();
    }
}

fn plan_weight_bias(sim: &Sim, node: usize) -> Option<WeightBiasPlan> {
    let x = sim.input(node, 0)?;
    let dq_x = sim.producer(x).filter(|&p| sim.is_dq(p))?;
    if sim.tensor(sim.input(dq_x, 1)?).elements() != Some(1) || !path_to_q(sim, node) {
        return None;
    }
    let w = sim.input(node, 1)?;
    let dq_w = sim.producer(w).filter(|&p| sim.is_dq(p));
    let float_weight = sim.tensor(w).constant && sim.dtype(w) == Some(DataType::Float32);
    if dq_w.is_none() && !float_weight {
        return None;
    }
    let bias = match sim.input(node, 2) {
        Some(b) => {
            let tensor = sim.tensor(b);
            let length = match tensor.dims.as_deref() {
                Some([length]) if tensor.constant => *length,
                _ => return None,
            };
            Some((b, length))
        }
        None => None,
    };
    if let Some(dq_w) = dq_w {
        let (_, length) = bias?;
        let scale = sim.tensor(sim.input(dq_w, 1)?);
        if scale.elements() != Some(1) && !per_channel_fits(sim, node, dq_w, length) {
            return None;
        }
    }
    Some(WeightBiasPlan {
        weight: dq_w.is_none().then_some(w),
        bias,
    })
}

/// A per-channel weight scale must have one value per bias element along the output-channel
/// axis (0 for Conv, 1 or 0 for Gemm by `transB`), without blocks.
fn per_channel_fits(sim: &Sim, node: usize, dq_w: usize, bias_length: i64) -> bool {
    let Some(scale) = sim.input(dq_w, 1) else {
        return false;
    };
    let length = sim.tensor(scale).elements();
    if length.and_then(|l| i64::try_from(l).ok()) != Some(bias_length) {
        return false;
    }
    if sim
        .attr(dq_w, "block_size")
        .and_then(Attr::as_i64)
        .unwrap_or(0)
        != 0
    {
        return false;
    }
    let rank = sim
        .input(dq_w, 0)
        .and_then(|t| sim.tensor(t).dims.as_ref().map(Vec::len));
    let mut axis = sim.attr(dq_w, "axis").and_then(Attr::as_i64).unwrap_or(1);
    if axis < 0 {
        let Some(rank) = rank.and_then(|r| i64::try_from(r).ok()) else {
            return false;
        };
        axis += rank;
    }
    let expected = if sim.is_op(node, "Gemm") {
        let trans_b = sim.attr(node, "transB").and_then(Attr::as_i64).unwrap_or(0);
        if trans_b == 0 { 1 } else { 0 }
    } else {
        0
    };
    axis == expected
}

/// True when the node's only reader is a QuantizeLinear, maybe through Relu or Clip nodes that
/// each have one reader.
fn path_to_q(sim: &Sim, node: usize) -> bool {
    let mut current = node;
    for _ in 0..sim.nodes.len() {
        let Some(n) = sim.node(current) else {
            return false;
        };
        let [Some(out)] = n.outputs.as_slice() else {
            return false;
        };
        let mut readers: Vec<usize> = sim.uses(*out).iter().map(|u| u.node).collect();
        readers.dedup();
        let [next] = readers.as_slice() else {
            return false;
        };
        if sim.is_q(*next) {
            return true;
        }
        if !sim.is_op(*next, "Relu") && !sim.is_op(*next, "Clip") {
            return false;
        }
        current = *next;
    }
    false
}

fn constant(sim: &mut Sim, name: &str, dtype: DataType, dims: Option<Vec<i64>>) -> usize {
    sim.add_tensor(SimTensor {
        name: format!("(inserted {name})"),
        dtype: Some(dtype),
        constant: true,
        dims,
        ..SimTensor::default()
    })
}

/// Adds a DequantizeLinear of `quantized` with a constant scale of `scale_dims` and returns its
/// output tensor.
fn dequantize(sim: &mut Sim, quantized: usize, dtype: DataType, scale_dims: Vec<i64>) -> usize {
    let scale = constant(sim, "scale", DataType::Float32, Some(scale_dims));
    let output = sim.add_tensor(SimTensor {
        name: "(inserted dequantized)".into(),
        dtype: Some(dtype),
        ..SimTensor::default()
    });
    sim.add_node(SimNode {
        op: "DequantizeLinear".into(),
        domain: String::new(),
        inputs: vec![Some(quantized), Some(scale)],
        outputs: vec![Some(output)],
        origin: None,
        inserted: true,
        live: true,
    });
    output
}

/// Removes each Relu, and each Clip, whose only reader is a QuantizeLinear whose range the
/// clipping cannot change, as ORT's ReluQuantFusion and ClipQuantFusion do. A Relu folds only
/// when the zero point is the lowest value of its type. Returns the removed nodes.
pub fn fold_relu_clip(sim: &mut Sim) -> Vec<usize> {
    // NOTE: ORT's ClipQuantFusion also filters Clip and QuantizeLinear since-versions; the
    // filter of ORT 1.31 is unknown here, so none is applied (folding was measured at opset 21).
    let mut folded = Vec::new();
    for node in 0..sim.nodes.len() {
        let relu = sim.is_op(node, "Relu");
        if !relu && !sim.is_op(node, "Clip") {
            continue;
        }
        let Some(q) = single_q_reader(sim, node) else {
            continue;
        };
        let Some((lower, upper, at_min)) = q_range(sim, q) else {
            continue;
        };
        let redundant = if relu {
            at_min
        } else {
            clip_covers(sim, node, lower, upper)
        };
        if !redundant {
            continue;
        }
        let input = sim.input(node, 0);
        if let Some(n) = sim.nodes.get_mut(q)
            && let Some(slot) = n.inputs.get_mut(0)
        {
            *slot = input;
        }
        if let Some(n) = sim.nodes.get_mut(node) {
            n.live = false;
        }
        folded.push(node);
    }
    sim.reindex();
    folded
}

fn single_q_reader(sim: &Sim, node: usize) -> Option<usize> {
    if !sim.single_edge(node) {
        return None;
    }
    let out = sim.output(node, 0)?;
    let reader = sim.uses(out).first()?.node;
    sim.is_q(reader).then_some(reader)
}

/// Returns the float range a QuantizeLinear can represent, and whether its zero point is its
/// type's lowest value. Both need a constant one-element scale and zero point.
fn q_range(sim: &Sim, q: usize) -> Option<(f64, f64, bool)> {
    let scale = sim.tensor(sim.input(q, 1)?);
    let zp = sim.tensor(sim.input(q, 2)?);
    if !zp.constant || zp.elements() != Some(1) {
        return None;
    }
    let (min, max) = zp.dtype?.integer_range()?;
    let zero = zp.scalar?;
    let at_min = zero == min as f64 && zp.dtype?.is_8bit_integer();
    let s = if scale.constant { scale.scalar } else { None };
    let (lower, upper) = match s {
        Some(s) => (s * (min as f64 - zero), s * (max as f64 - zero)),
        None => (f64::NAN, f64::NAN),
    };
    Some((lower, upper, at_min))
}

/// True when the Clip's bounds lie outside the QuantizeLinear's range, so it never clips
/// anything the QuantizeLinear would keep.
fn clip_covers(sim: &Sim, clip: usize, lower: f64, upper: f64) -> bool {
    let bound = |slot: usize, attr: &str, default: f64| -> Option<f64> {
        if sim.opset >= 11 {
            match sim.input(clip, slot) {
                Some(t) => sim
                    .tensor(t)
                    .constant
                    .then_some(sim.tensor(t).scalar)
                    .flatten(),
                None => Some(default),
            }
        } else {
            Some(
                sim.attr(clip, attr)
                    .and_then(Attr::as_f64)
                    .unwrap_or(default),
            )
        }
    };
    let (Some(min), Some(max)) = (
        bound(1, "min", f64::from(f32::MIN)),
        bound(2, "max", f64::from(f32::MAX)),
    ) else {
        return false;
    };
    let epsilon = f64::from(f32::EPSILON);
    min - lower <= epsilon && upper - max <= epsilon
}

/// Converts each int8 QuantizeLinear -> DequantizeLinear pair to uint8 (zero point + 128), as
/// ORT's QDQS8ToU8Transformer does on x86-64: only when the QuantizeLinear has exactly one
/// reader, a DequantizeLinear, and both zero points are equal one-element int8 constants.
/// Returns, for every int8 QuantizeLinear left unconverted, why; `layout_ops` marks the
/// data-movement ops among the readers that keep a pair apart.
pub fn s8_to_u8(sim: &mut Sim, layout_ops: &BTreeSet<String>) -> HashMap<usize, S8Skip> {
    let mut skipped = HashMap::new();
    for q in 0..sim.nodes.len() {
        if !sim.is_q(q) {
            continue;
        }
        let Some(out) = sim.output(q, 0) else {
            continue;
        };
        if sim.dtype(out) != Some(DataType::Int8) {
            continue;
        }
        match convertible(sim, q, out, layout_ops) {
            Ok((dq, zero)) => {
                let zp = sim.add_tensor(SimTensor {
                    name: "(inserted uint8 zero point)".into(),
                    dtype: Some(DataType::UInt8),
                    constant: true,
                    scalar: zero.map(|z| z + 128.0),
                    dims: Some(vec![]),
                    ..SimTensor::default()
                });
                set_input(sim, q, 2, zp);
                set_input(sim, dq, 2, zp);
                if let Some(tensor) = sim.tensors.get_mut(out) {
                    tensor.dtype = Some(DataType::UInt8);
                }
            }
            Err(skip) => {
                skipped.insert(q, skip);
            }
        }
    }
    sim.reindex();
    skipped
}

/// Finds the DequantizeLinear that reads an int8 QuantizeLinear and their common zero point, or
/// the reason the pair cannot be converted.
fn convertible(
    sim: &Sim,
    q: usize,
    out: usize,
    layout_ops: &BTreeSet<String>,
) -> Result<(usize, Option<f64>), S8Skip> {
    if sim.tensor(out).graph_output {
        return Err(S8Skip::GraphOutput);
    }
    let uses = sim.uses(out);
    let [reader] = uses else {
        return Err(S8Skip::Consumers(uses.len()));
    };
    let dq = reader.node;
    if !sim.is_dq(dq) {
        let consumer = sim.node_ref(dq).ok_or(S8Skip::Consumers(1))?;
        let layout = layout_ops.contains(&consumer.op);
        return Err(S8Skip::ConsumerNotDq { consumer, layout });
    }
    let (Some(q_zp), Some(dq_zp)) = (sim.input(q, 2), sim.input(dq, 2)) else {
        return Err(S8Skip::NoZeroPoint);
    };
    let (q_zp, dq_zp) = (sim.tensor(q_zp), sim.tensor(dq_zp));
    if !q_zp.constant || !dq_zp.constant {
        return Err(S8Skip::ZeroPointNotConstant);
    }
    let int8_scalar = |t: &SimTensor| t.elements() == Some(1) && t.dtype == Some(DataType::Int8);
    if !int8_scalar(q_zp) || !int8_scalar(dq_zp) {
        return Err(S8Skip::ZeroPointNotScalar);
    }
    match (q_zp.scalar, dq_zp.scalar) {
        (Some(a), Some(b)) if a != b => Err(S8Skip::ZeroPointsDiffer),
        (value, _) => Ok((dq, value)),
    }
}
