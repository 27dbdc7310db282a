//! A working copy of an ONNX graph's main scope that the ORT passes in [`super::passes`]
//! rewrite the way ORT would before its QDQ selectors run.
//!
//! Nodes and tensors are indexed by position. Rewrites append nodes and tensors or mark nodes
//! dead and then call [`Sim::reindex`], so an index stays valid for the whole prediction.

use petgraph::algo::toposort;

use super::reason::NodeRef;
use crate::analysis::quant;
use crate::analysis::shapes::Inferred;
use crate::graph::{Attr, DataType, Graph, Model, NodeId, TensorData, TensorId};

/// One read of a tensor: the consuming node and its input slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Use {
    pub node: usize,
    pub slot: usize,
}

/// An operator of the working graph.
#[derive(Clone, Debug)]
pub struct SimNode {
    pub op: String,
    pub domain: String,
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<Option<usize>>,
    /// The model node it stands for; a DequantizeLinear copy keeps its original's.
    pub origin: Option<NodeId>,
    /// True for nodes the passes added (copies included).
    pub inserted: bool,
    /// False once a pass removed or folded the node.
    pub live: bool,
}

/// A tensor of the working graph.
#[derive(Clone, Debug, Default)]
pub struct SimTensor {
    pub name: String,
    pub dtype: Option<DataType>,
    /// An initializer, `Constant` output or folded constant.
    pub constant: bool,
    /// The value of a one-element constant.
    pub scalar: Option<f64>,
    /// Dims of a constant, when known.
    pub dims: Option<Vec<i64>>,
    pub graph_output: bool,
    pub producer: Option<usize>,
}

impl SimTensor {
    /// Number of elements of a constant with known dims.
    pub fn elements(&self) -> Option<usize> {
        self.dims
            .as_ref()?
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
    }
}

/// The working graph.
pub struct Sim<'a> {
    pub graph: &'a Graph,
    pub opset: i64,
    pub nodes: Vec<SimNode>,
    pub tensors: Vec<SimTensor>,
    uses: Vec<Vec<Use>>,
}

impl<'a> Sim<'a> {
    /// Copies the main scope of `model`; subgraph nodes are left out.
    pub fn new(model: &'a Model, inferred: &Inferred) -> Sim<'a> {
        let graph = &model.graph;
        let tensors = graph
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = TensorId(i as u32);
                let value = t.value.as_ref();
                SimTensor {
                    name: t.name.clone(),
                    dtype: inferred.dtype(id).or(t.dtype),
                    constant: t.is_constant,
                    scalar: value.and_then(scalar_value),
                    dims: value.map(|v| v.dims.clone()),
                    graph_output: graph.outputs.contains(&id),
                    producer: None,
                }
            })
            .collect();
        let order: Vec<NodeId> =
            toposort(&graph.dag, None).unwrap_or_else(|_| graph.node_ids().collect());
        // NOTE: ORT fuses inside If/Loop/Scan bodies too; subgraph nodes are left out here, so
        // their ops get no prediction.
        let slot = |t: Option<TensorId>| t.map(|t| t.0 as usize);
        let nodes = order
            .into_iter()
            .map(|id| (id, graph.node(id)))
            .filter(|(_, n)| n.scope.is_empty())
            .map(|(id, n)| SimNode {
                op: n.op_type.clone(),
                domain: n.domain.clone(),
                inputs: n.inputs.iter().map(|p| slot(p.tensor)).collect(),
                outputs: n.outputs.iter().map(|p| slot(p.tensor)).collect(),
                origin: Some(id),
                inserted: false,
                live: true,
            })
            .collect();
        let opset = model.meta.opsets.get("ai.onnx").copied().unwrap_or(1);
        let mut sim = Sim {
            graph,
            opset,
            nodes,
            tensors,
            uses: Vec::new(),
        };
        sim.reindex();
        sim
    }

    /// Rebuilds producers and uses after a rewrite.
    pub fn reindex(&mut self) {
        self.uses = vec![Vec::new(); self.tensors.len()];
        for tensor in &mut self.tensors {
            tensor.producer = None;
        }
        for (index, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.live) {
            for (slot, input) in node.inputs.iter().enumerate() {
                if let Some(list) = input.and_then(|t| self.uses.get_mut(t)) {
                    list.push(Use { node: index, slot });
                }
            }
            for output in node.outputs.iter().flatten() {
                if let Some(tensor) = self.tensors.get_mut(*output) {
                    tensor.producer = Some(index);
                }
            }
        }
    }

    /// Borrows a tensor; out-of-range indexes (never made by the passes) read as a default.
    pub fn tensor(&self, index: usize) -> &SimTensor {
        static EMPTY: SimTensor = SimTensor {
            name: String::new(),
            dtype: None,
            constant: false,
            scalar: None,
            dims: None,
            graph_output: false,
            producer: None,
        };
        self.tensors.get(index).unwrap_or(&EMPTY)
    }

    /// Reads of a tensor by live nodes, in node order.
    pub fn uses(&self, tensor: usize) -> &[Use] {
        self.uses.get(tensor).map_or(&[], Vec::as_slice)
    }

    /// Returns the live node that produces a tensor.
    pub fn producer(&self, tensor: usize) -> Option<usize> {
        self.tensor(tensor).producer
    }

    /// Borrows a node.
    pub fn node(&self, index: usize) -> Option<&SimNode> {
        self.nodes.get(index)
    }

    /// Input `slot` of a node, if present and not omitted.
    pub fn input(&self, node: usize, slot: usize) -> Option<usize> {
        self.node(node)?.inputs.get(slot).copied().flatten()
    }

    /// Output `slot` of a node, if present.
    pub fn output(&self, node: usize, slot: usize) -> Option<usize> {
        self.node(node)?.outputs.get(slot).copied().flatten()
    }

    /// Number of edges leaving a node: one per consuming input slot, over all outputs.
    pub fn out_edges(&self, node: usize) -> usize {
        self.node(node).map_or(0, |n| {
            n.outputs
                .iter()
                .flatten()
                .map(|&t| self.uses(t).len())
                .sum()
        })
    }

    /// True when some output of the node is a graph output.
    pub fn produces_graph_output(&self, node: usize) -> bool {
        self.node(node).is_some_and(|n| {
            n.outputs
                .iter()
                .flatten()
                .any(|&t| self.tensor(t).graph_output)
        })
    }

    /// True when `node` has one output edge and its outputs are not graph outputs, as ORT's
    /// `CheckOutputEdges(graph, node, 1)` requires.
    pub fn single_edge(&self, node: usize) -> bool {
        self.out_edges(node) == 1 && !self.produces_graph_output(node)
    }

    /// Looks up an attribute of the model node that a working node copies.
    pub fn attr(&self, node: usize, name: &str) -> Option<&'a Attr> {
        let origin = self.node(node)?.origin?;
        self.graph.node(origin).attr(name)
    }

    /// Names the model node a working node copies, for messages. Nodes the passes inserted
    /// have none, but copies of a model node keep its name.
    pub fn node_ref(&self, node: usize) -> Option<NodeRef> {
        let origin = self.node(node)?.origin?;
        let model_node = self.graph.node(origin);
        Some(NodeRef {
            node: origin,
            id: model_node.id.clone(),
            op: model_node.op_type.clone(),
        })
    }

    /// True for a live QuantizeLinear (default or com.microsoft domain).
    pub fn is_q(&self, node: usize) -> bool {
        self.node(node)
            .is_some_and(|n| n.live && n.op == "QuantizeLinear" && qdq_domain(&n.domain))
    }

    /// True for a live DequantizeLinear (default or com.microsoft domain).
    pub fn is_dq(&self, node: usize) -> bool {
        self.node(node)
            .is_some_and(|n| n.live && n.op == "DequantizeLinear" && qdq_domain(&n.domain))
    }

    /// True when the node is live and of op type `op` in the default domain.
    pub fn is_op(&self, node: usize, op: &str) -> bool {
        self.node(node)
            .is_some_and(|n| n.live && n.op == op && quant::is_default_domain(&n.domain))
    }

    /// Element type of a tensor, if known.
    pub fn dtype(&self, tensor: usize) -> Option<DataType> {
        self.tensor(tensor).dtype
    }

    /// True when a tensor is a constant holding exactly one value.
    pub fn is_constant_scalar(&self, tensor: usize) -> bool {
        let t = self.tensor(tensor);
        t.constant && t.elements() == Some(1)
    }

    /// Appends a tensor and returns its index.
    pub fn add_tensor(&mut self, tensor: SimTensor) -> usize {
        self.tensors.push(tensor);
        self.tensors.len() - 1
    }

    /// Appends a node (marked as inserted) and returns its index; call [`Sim::reindex`] after.
    pub fn add_node(&mut self, node: SimNode) -> usize {
        self.nodes.push(SimNode {
            inserted: true,
            ..node
        });
        self.nodes.len() - 1
    }

    /// Marks the outputs of every node computed from constants alone as constants and the node
    /// dead, as ORT's constant folding does. DequantizeLinear is never folded: ORT keeps it so
    /// that the QDQ selectors can see quantized weights.
    pub fn fold_constants(&mut self) {
        for index in 0..self.nodes.len() {
            let Some(node) = self.nodes.get(index) else {
                continue;
            };
            let inputs: Vec<usize> = node.inputs.iter().flatten().copied().collect();
            let foldable = node.live
                && !inputs.is_empty()
                && !self.is_dq(index)
                && inputs.iter().all(|&t| self.tensor(t).constant);
            if !foldable {
                continue;
            }
            let dims = inputs.first().and_then(|&t| self.tensor(t).dims.clone());
            let outputs: Vec<usize> = node.outputs.iter().flatten().copied().collect();
            let quantize = self.is_q(index);
            for output in outputs {
                if let Some(tensor) = self.tensors.get_mut(output) {
                    tensor.constant = true;
                    // A folded QuantizeLinear keeps its input's shape (a quantized weight).
                    if quantize && tensor.dims.is_none() {
                        tensor.dims = dims.clone();
                    }
                }
            }
            if let Some(node) = self.nodes.get_mut(index) {
                node.live = false;
            }
        }
        self.reindex();
    }
}

/// Reads the single value of a one-element constant.
fn scalar_value(data: &TensorData) -> Option<f64> {
    if data.element_count()? != 1 {
        return None;
    }
    data.to_f64().ok()?.first().copied()
}

/// True for the domains ORT's QDQ passes match QuantizeLinear and DequantizeLinear in.
fn qdq_domain(domain: &str) -> bool {
    quant::is_default_domain(domain) || domain == quant::MS_DOMAIN
}
