//! QDQ propagation, after ORT's QDQPropagationTransformer. ORT copies a QuantizeLinear and
//! DequantizeLinear pair across ops that only move data, backwards from each QuantizeLinear and
//! forwards from each DequantizeLinear. Those ops then sit between a DequantizeLinear and a
//! QuantizeLinear, and the drop selectors remove both.

use super::sim::{Sim, SimNode, SimTensor, Use};
use super::table::{Release, Table};
use crate::graph::DataType;

/// One edge: a tensor from a node (or a graph input or initializer, `src: None`) to a node
/// input (or a graph output, `dst: None`).
#[derive(Clone, Copy, Debug)]
struct Edge {
    tensor: usize,
    src: Option<usize>,
    dst: Option<Use>,
}

/// The quantization parameters a propagated pair copies.
#[derive(Clone, Copy)]
struct Params {
    scale: usize,
    zero_point: Option<usize>,
}

/// Runs the backward pass, then the forward pass, over the nodes present at the start.
pub fn propagate(sim: &mut Sim, table: &Table, release: &Release) {
    let start: Vec<usize> = (0..sim.nodes.len()).collect();
    let can = |sim: &Sim, node: usize| can_propagate(sim, table, release, node);
    for &q in &start {
        if !sim.is_q(q) {
            continue;
        }
        let Some(params) = params(sim, q) else {
            continue;
        };
        let Some(mut edge) = previous_edge(sim, q) else {
            continue;
        };
        // The walk moves to a predecessor each step; the bound only matters for a cyclic file.
        for _ in 0..start.len() {
            let Some(current) = previous_propagation_edge(sim, edge, &can) else {
                break;
            };
            if current.src.is_some_and(|s| sim.is_dq(s)) {
                break;
            }
            insert_pairs(sim, &[current], params);
            edge = current;
        }
    }
    for &dq in &start {
        if !sim.is_dq(dq) || !sim.single_edge(dq) {
            continue;
        }
        let Some(params) = params(sim, dq) else {
            continue;
        };
        let Some(first) = sim
            .output(dq, 0)
            .and_then(|t| sim.uses(t).first().map(|&u| (t, u)))
            .map(|(tensor, dst)| Edge {
                tensor,
                src: Some(dq),
                dst: Some(dst),
            })
        else {
            continue;
        };
        let mut groups = vec![next_propagation_edges(sim, first, &can)];
        let mut budget = start.len();
        while let Some(group) = groups.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if group.is_empty() {
                continue;
            }
            insert_pairs(sim, &group, params);
            for edge in group {
                groups.push(next_propagation_edges(sim, edge, &can));
            }
        }
    }
}

fn can_propagate(sim: &Sim, table: &Table, release: &Release, node: usize) -> bool {
    let Some(n) = sim.node(node) else {
        return false;
    };
    release.propagation.iter().any(|entry| {
        sim.is_op(node, &entry.op)
            && (entry.since.is_empty()
                || table
                    .since_version(&n.op, sim.opset)
                    .is_some_and(|v| entry.since.contains(&v)))
    })
}

/// Constant one-element scale and zero point of a QuantizeLinear or DequantizeLinear.
fn params(sim: &Sim, node: usize) -> Option<Params> {
    let scale = sim.input(node, 1)?;
    let zero_point = sim.input(node, 2);
    let scalar = |t: usize| sim.is_constant_scalar(t);
    (scalar(scale) && zero_point.is_none_or(scalar)).then_some(Params { scale, zero_point })
}

/// Returns the edge into input 0 of `node` when it comes from a graph input or initializer, or
/// from a node output that nothing else reads and that is not a graph output.
fn previous_edge(sim: &Sim, node: usize) -> Option<Edge> {
    let tensor = sim.input(node, 0)?;
    let dst = Some(Use { node, slot: 0 });
    match sim.producer(tensor) {
        None => Some(Edge {
            tensor,
            src: None,
            dst,
        }),
        Some(src) => {
            (!sim.tensor(tensor).graph_output && sim.uses(tensor).len() == 1).then_some(Edge {
                tensor,
                src: Some(src),
                dst,
            })
        }
    }
}

fn previous_propagation_edge(
    sim: &Sim,
    edge: Edge,
    can: &dyn Fn(&Sim, usize) -> bool,
) -> Option<Edge> {
    let src = edge.src?;
    if !can(sim, src) {
        return None;
    }
    previous_edge(sim, src)
}

/// Edges out of output 0 of the edge's destination when that op propagates, except edges into
/// a QuantizeLinear. An output that is a graph output and also read gives none.
fn next_propagation_edges(sim: &Sim, edge: Edge, can: &dyn Fn(&Sim, usize) -> bool) -> Vec<Edge> {
    let Some(node) = edge.dst.map(|d| d.node) else {
        return Vec::new();
    };
    if !can(sim, node) {
        return Vec::new();
    }
    let Some(tensor) = sim.output(node, 0) else {
        return Vec::new();
    };
    let uses = sim.uses(tensor);
    let graph_output = sim.tensor(tensor).graph_output;
    let edges: Vec<Edge> = if uses.is_empty() && graph_output {
        vec![Edge {
            tensor,
            src: Some(node),
            dst: None,
        }]
    } else if graph_output {
        Vec::new()
    } else {
        uses.iter()
            .map(|&u| Edge {
                tensor,
                src: Some(node),
                dst: Some(u),
            })
            .collect()
    };
    edges
        .into_iter()
        .filter(|e| !e.dst.is_some_and(|d| sim.is_q(d.node)))
        .collect()
}

/// Inserts one QuantizeLinear after the edges' common source and one DequantizeLinear per edge.
fn insert_pairs(sim: &mut Sim, edges: &[Edge], params: Params) {
    let Some(first) = edges.first() else {
        return;
    };
    let base = first.tensor;
    let quantized_type = params
        .zero_point
        .and_then(|z| sim.dtype(z))
        .unwrap_or(DataType::UInt8);
    let float = |sim: &mut Sim, name: String| {
        let dtype = sim.dtype(base);
        sim.add_tensor(SimTensor {
            name,
            dtype,
            ..SimTensor::default()
        })
    };
    let pre_q = match first.src {
        Some(src) => {
            let pre_q = float(sim, format!("{}_pre_q", sim.tensor(base).name));
            if let Some(slot) = sim
                .nodes
                .get_mut(src)
                .and_then(|n| n.outputs.iter_mut().find(|o| **o == Some(base)))
            {
                *slot = Some(pre_q);
            }
            pre_q
        }
        None => base,
    };
    let q_out = sim.add_tensor(SimTensor {
        name: format!("{}_q_to_dq", sim.tensor(base).name),
        dtype: Some(quantized_type),
        ..SimTensor::default()
    });
    let qdq_inputs = |data: usize| vec![Some(data), Some(params.scale), params.zero_point];
    sim.add_node(pair_node("QuantizeLinear", qdq_inputs(pre_q), q_out));
    for edge in edges {
        let post = match edge.dst {
            None => base,
            Some(_) => float(sim, format!("{}_post_dq", sim.tensor(base).name)),
        };
        sim.add_node(pair_node("DequantizeLinear", qdq_inputs(q_out), post));
        if let Some(dst) = edge.dst
            && let Some(input) = sim
                .nodes
                .get_mut(dst.node)
                .and_then(|n| n.inputs.get_mut(dst.slot))
        {
            *input = Some(post);
        }
    }
    sim.reindex();
}

fn pair_node(op: &str, inputs: Vec<Option<usize>>, output: usize) -> SimNode {
    SimNode {
        op: op.into(),
        domain: String::new(),
        inputs,
        outputs: vec![Some(output)],
        origin: None,
        inserted: true,
        live: true,
    }
}
