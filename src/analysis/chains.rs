//! Int8 chains and float islands in an ORT-optimized graph.
//!
//! An integer node runs on 8-bit tensors: a quantized compute op (QLinear*, QGemm, ...), or a
//! pass-through op (MaxPool, NhwcMaxPool, Transpose, Reshape, ...) whose data input and outputs
//! are int8/uint8. A chain is a connected set of integer nodes joined by int8/uint8 tensors, and
//! its size counts the quantized compute ops only. A chain of pass-through ops alone (a uint8
//! Transpose between QuantizeLinear and DequantizeLinear, as in ORT_ENABLE_ALL output) has size
//! 0. QuantizeLinear and DequantizeLinear are never chain members.
//!
//! An island is a maximal connected set of float nodes that is entered from a DequantizeLinear
//! whose input is an activation and left through a QuantizeLinear. Float nodes here exclude
//! QuantizeLinear/DequantizeLinear, integer nodes and nodes computed from constants alone. An
//! island is where int8 data is dequantized, processed in float and quantized again. Islands are computed for ONNX graphs
//! only; Paddle programs keep every op float between their quantize ops.

use std::collections::BTreeSet;

use petgraph::algo::toposort;

use crate::analysis::Chain;
use crate::analysis::quant;
use crate::analysis::shapes::Inferred;
use crate::graph::{Graph, Model, ModelFormat, Node, NodeId};

/// The nodes of one island and how it connects to the int8 parts of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct IslandParts {
    /// Float nodes, in file order.
    pub nodes: Vec<NodeId>,
    /// DequantizeLinear nodes of activations that feed the island.
    pub entries: Vec<NodeId>,
    /// QuantizeLinear nodes that read an island output.
    pub exits: Vec<NodeId>,
    /// Indices into [`ChainAnalysis::chains`] of the chains feeding the entries or fed by the
    /// exits, ascending.
    pub chains: Vec<usize>,
}

/// Chains and islands of one graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChainAnalysis {
    /// Ordered by their first node in file order.
    pub chains: Vec<Chain>,
    /// Ordered by their first node in file order.
    pub islands: Vec<IslandParts>,
    /// Chain index of each node, indexed by `NodeId::index()`.
    pub node_chain: Vec<Option<usize>>,
    /// Island index of each node, indexed by `NodeId::index()`.
    pub node_island: Vec<Option<usize>>,
}

/// Finds the int8 chains and float islands of `model`.
pub fn analyze(model: &Model, inferred: &Inferred) -> ChainAnalysis {
    let graph = &model.graph;
    let count = graph.node_count();
    let integer: Vec<bool> = graph
        .node_ids()
        .map(|n| is_integer_node(graph, inferred, n))
        .collect();
    let mut sets = DisjointSets::new(count);
    for (index, tensor) in graph.tensors.iter().enumerate() {
        let Some(producer) = tensor.producer else {
            continue;
        };
        let eight_bit = inferred.is_8bit(crate::graph::TensorId(index as u32));
        if !eight_bit || !flag(&integer, producer) {
            continue;
        }
        for &consumer in &tensor.consumers {
            if flag(&integer, consumer) {
                sets.union(producer.index(), consumer.index());
            }
        }
    }
    let chain_groups = sets.groups(|i| integer.get(i).copied().unwrap_or(false));
    let mut node_chain = vec![None; count];
    let chains: Vec<Chain> = chain_groups
        .into_iter()
        .enumerate()
        .map(|(index, members)| {
            for &m in &members {
                if let Some(slot) = node_chain.get_mut(m) {
                    *slot = Some(index);
                }
            }
            let nodes: Vec<NodeId> = members.into_iter().map(NodeId::new).collect();
            let size = nodes
                .iter()
                .filter(|&&n| quant::is_quantized_compute(graph.node(n)))
                .count();
            Chain { nodes, size }
        })
        .collect();
    let (islands, node_island) = if model.format == ModelFormat::Onnx {
        find_islands(graph, &integer, &node_chain)
    } else {
        (Vec::new(), vec![None; count])
    };
    ChainAnalysis {
        chains,
        islands,
        node_chain,
        node_island,
    }
}

fn flag(flags: &[bool], node: NodeId) -> bool {
    flags.get(node.index()).copied().unwrap_or(false)
}

/// True for a quantized compute op, or a pass-through op whose data input (input 0) and
/// outputs are int8/uint8.
pub fn is_integer_node(graph: &Graph, inferred: &Inferred, id: NodeId) -> bool {
    let node = graph.node(id);
    if quant::is_quantized_compute(node) {
        return true;
    }
    if !quant::is_int8_pass_through(node) {
        return false;
    }
    let input = node.input(0).is_some_and(|t| inferred.is_8bit(t));
    let mut outputs = node.outputs.iter().filter_map(|p| p.tensor).peekable();
    input && outputs.peek().is_some() && outputs.all(|t| inferred.is_8bit(t))
}

/// Marks every tensor that can be computed from constants alone (initializers, `Constant`
/// outputs, Paddle parameters, and ops over them such as a weight's QuantizeLinear and
/// DequantizeLinear). Indexed by `TensorId.0`.
pub fn constant_tensors(graph: &Graph) -> Vec<bool> {
    let mut constant: Vec<bool> = graph.tensors.iter().map(|t| t.is_constant).collect();
    let order: Vec<NodeId> =
        toposort(&graph.dag, None).unwrap_or_else(|_| graph.node_ids().collect());
    for id in order {
        let node = graph.node(id);
        let inputs: Vec<_> = node.inputs.iter().filter_map(|p| p.tensor).collect();
        let derived = if inputs.is_empty() {
            node.op_type == "Constant"
        } else {
            inputs
                .iter()
                .all(|t| constant.get(t.0 as usize).copied().unwrap_or(false))
        };
        if derived {
            for t in node.outputs.iter().filter_map(|p| p.tensor) {
                if let Some(slot) = constant.get_mut(t.0 as usize) {
                    *slot = true;
                }
            }
        }
    }
    constant
}

/// True for a node that takes part in float islands.
fn is_float_node(node: &Node, integer: bool, all_constant: bool) -> bool {
    !integer && !quant::is_qdq(node) && node.op_type != "Constant" && !all_constant
}

fn find_islands(
    graph: &Graph,
    integer: &[bool],
    node_chain: &[Option<usize>],
) -> (Vec<IslandParts>, Vec<Option<usize>>) {
    let count = graph.node_count();
    let constant = constant_tensors(graph);
    let is_constant =
        |t: crate::graph::TensorId| constant.get(t.0 as usize).copied().unwrap_or(false);
    let float: Vec<bool> = graph
        .node_ids()
        .map(|id| {
            let node = graph.node(id);
            let outputs: Vec<_> = node.outputs.iter().filter_map(|p| p.tensor).collect();
            let all_constant = !outputs.is_empty() && outputs.iter().all(|&t| is_constant(t));
            is_float_node(node, flag(integer, id), all_constant)
        })
        .collect();
    let mut sets = DisjointSets::new(count);
    for tensor in &graph.tensors {
        let Some(producer) = tensor.producer.filter(|&p| flag(&float, p)) else {
            continue;
        };
        for &consumer in tensor.consumers.iter().filter(|&&c| flag(&float, c)) {
            sets.union(producer.index(), consumer.index());
        }
    }
    let mut islands = Vec::new();
    let mut node_island = vec![None; count];
    for members in sets.groups(|i| float.get(i).copied().unwrap_or(false)) {
        let nodes: Vec<NodeId> = members.into_iter().map(NodeId::new).collect();
        let parts = connect(graph, nodes, &is_constant, node_chain);
        if parts.entries.is_empty() || parts.exits.is_empty() {
            continue;
        }
        for &n in &parts.nodes {
            if let Some(slot) = node_island.get_mut(n.index()) {
                *slot = Some(islands.len());
            }
        }
        islands.push(parts);
    }
    (islands, node_island)
}

/// Finds the activation DequantizeLinear entries, the QuantizeLinear exits and the neighbouring
/// chains of a set of float nodes.
fn connect(
    graph: &Graph,
    nodes: Vec<NodeId>,
    is_constant: &dyn Fn(crate::graph::TensorId) -> bool,
    node_chain: &[Option<usize>],
) -> IslandParts {
    let mut entries = BTreeSet::new();
    let mut exits = BTreeSet::new();
    let mut chains = BTreeSet::new();
    let chain_of = |n: NodeId| node_chain.get(n.index()).copied().flatten();
    for &id in &nodes {
        for pred in graph.predecessors(id) {
            let dq = graph.node(pred);
            let activation = dq.input(0).is_some_and(|t| !is_constant(t));
            if quant::is_dequantize(dq) && activation {
                entries.insert(pred);
                let source = dq.input(0).and_then(|t| graph.producer(t));
                chains.extend(source.and_then(chain_of));
            }
        }
        for succ in graph.successors(id) {
            if quant::is_quantize(graph.node(succ)) {
                exits.insert(succ);
                chains.extend(graph.successors(succ).into_iter().filter_map(chain_of));
            }
        }
    }
    IslandParts {
        nodes,
        entries: entries.into_iter().collect(),
        exits: exits.into_iter().collect(),
        chains: chains.into_iter().collect(),
    }
}

/// Union-find over node indices.
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(count: usize) -> Self {
        DisjointSets {
            parent: (0..count).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.parent.get(i) {
            if p == i {
                break;
            }
            // Path halving keeps the trees shallow.
            let grand = self.parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(i) {
                *slot = grand;
            }
            i = grand;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The smaller index becomes the root, so groups come out in file order.
        let (root, child) = if ra <= rb { (ra, rb) } else { (rb, ra) };
        if let Some(slot) = self.parent.get_mut(child) {
            *slot = root;
        }
    }

    /// Returns the groups of the selected elements, each sorted, ordered by their first element.
    fn groups(&mut self, selected: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
        let count = self.parent.len();
        let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); count];
        for i in (0..count).filter(|&i| selected(i)) {
            let root = self.find(i);
            if let Some(group) = by_root.get_mut(root) {
                group.push(i);
            }
        }
        let mut groups: Vec<Vec<usize>> = by_root.into_iter().filter(|g| !g.is_empty()).collect();
        groups.sort_by_key(|g| g.first().copied());
        groups
    }
}

#[cfg(test)]
mod tests;
