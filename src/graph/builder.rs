//! Incremental construction of a [`Graph`] from named tensors, as the loaders read them.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Attr, DataType, Dim, Graph, Node, NodeId, Port, Tensor, TensorData, TensorId};

/// Highest declared rank the graph keeps.
pub const MAX_DECLARED_RANK: usize = 64;

/// A node as a loader reads it: tensor names instead of ids.
#[derive(Clone, Debug, Default)]
pub struct NodeSpec {
    pub name: Option<String>,
    pub op_type: String,
    pub domain: String,
    /// `(slot, tensor name)`; an empty tensor name is an omitted optional input.
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    pub attrs: BTreeMap<String, Attr>,
    pub scope: String,
}

/// Builds a [`Graph`].
///
/// In SSA mode (ONNX) every name is one tensor, so a node may appear before the producer of its
/// input. In versioned mode (Paddle) nodes must come in execution order, and writing a variable
/// that was already written or read starts a new tensor with the same name, so in-place ops do
/// not create cycles.
#[derive(Debug)]
pub struct GraphBuilder {
    versioned: bool,
    tensors: Vec<Tensor>,
    current: HashMap<String, TensorId>,
    nodes: Vec<Node>,
    inputs: Vec<TensorId>,
    outputs: Vec<TensorId>,
    marked_inputs: HashSet<TensorId>,
    marked_outputs: HashSet<TensorId>,
}

impl GraphBuilder {
    /// Creates a builder for ONNX graphs, where tensor names are unique.
    pub fn ssa() -> Self {
        Self::new(false)
    }

    /// Creates a builder for Paddle programs, where variables can be written more than once.
    pub fn versioned() -> Self {
        Self::new(true)
    }

    fn new(versioned: bool) -> Self {
        GraphBuilder {
            versioned,
            tensors: Vec::new(),
            current: HashMap::new(),
            nodes: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            marked_inputs: HashSet::new(),
            marked_outputs: HashSet::new(),
        }
    }

    /// Number of nodes added so far.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Returns the current tensor for `name`, creating it without a producer if it is new.
    pub fn tensor(&mut self, name: &str) -> TensorId {
        if let Some(&id) = self.current.get(name) {
            return id;
        }
        self.push_tensor(name)
    }

    fn push_tensor(&mut self, name: &str) -> TensorId {
        let id = TensorId(self.tensors.len() as u32);
        self.tensors.push(Tensor {
            name: name.to_string(),
            dtype: None,
            shape: None,
            value: None,
            is_constant: false,
            producer: None,
            consumers: Vec::new(),
        });
        self.current.insert(name.to_string(), id);
        id
    }

    /// Records the declared element type and shape of the current tensor named `name`.
    pub fn declare(&mut self, name: &str, dtype: Option<DataType>, shape: Option<Vec<Dim>>) {
        // A declared rank above the cap is dropped: no real model has one, and the shape would be
        // copied into every later version of the tensor.
        let shape = shape.filter(|s| s.len() <= MAX_DECLARED_RANK);
        let id = self.tensor(name);
        let t = &mut self.tensors[id.0 as usize];
        if dtype.is_some() {
            t.dtype = dtype;
        }
        if shape.is_some() {
            t.shape = shape;
        }
    }

    /// Marks `name` as a constant, with its value when the loader has it.
    pub fn set_constant(&mut self, name: &str, value: Option<TensorData>) {
        let id = self.tensor(name);
        let t = &mut self.tensors[id.0 as usize];
        t.is_constant = true;
        if let Some(v) = value {
            if t.dtype.is_none() {
                t.dtype = Some(v.dtype);
            }
            if t.shape.is_none() && v.dims.len() <= MAX_DECLARED_RANK {
                t.shape = Some(v.dims.iter().map(|&d| Dim::Known(d)).collect());
            }
            t.value = Some(v);
        }
    }

    /// Adds `name` to the graph inputs.
    pub fn mark_input(&mut self, name: &str) {
        let id = self.tensor(name);
        if self.marked_inputs.insert(id) {
            self.inputs.push(id);
        }
    }

    /// Adds the current tensor named `name` to the graph outputs.
    pub fn mark_output(&mut self, name: &str) {
        let id = self.tensor(name);
        if self.marked_outputs.insert(id) {
            self.outputs.push(id);
        }
    }

    /// Adds a node and returns its id.
    pub fn add_node(&mut self, spec: NodeSpec) -> NodeId {
        let node_id = NodeId::new(self.nodes.len());
        let mut inputs = Vec::with_capacity(spec.inputs.len());
        for (slot, name) in &spec.inputs {
            let tensor = if name.is_empty() {
                None
            } else {
                let id = self.tensor(name);
                let consumers = &mut self.tensors[id.0 as usize].consumers;
                // All inputs of one node are added together, so an earlier read of the same
                // tensor by this node is the last entry: no scan of the whole list is needed.
                if consumers.last() != Some(&node_id) {
                    consumers.push(node_id);
                }
                Some(id)
            };
            inputs.push(Port {
                slot: slot.clone(),
                tensor,
            });
        }
        let mut outputs = Vec::with_capacity(spec.outputs.len());
        for (slot, name) in &spec.outputs {
            let tensor = if name.is_empty() {
                None
            } else {
                Some(self.output_tensor(name, node_id))
            };
            outputs.push(Port {
                slot: slot.clone(),
                tensor,
            });
        }
        self.nodes.push(Node {
            id: String::new(),
            name: spec.name.filter(|n| !n.is_empty()),
            op_type: spec.op_type,
            domain: spec.domain,
            inputs,
            outputs,
            attrs: spec.attrs,
            scope: spec.scope,
        });
        node_id
    }

    /// Returns the tensor that a node output named `name` writes, starting a new version when
    /// the current one was already written (or, in versioned mode, read or constant).
    fn output_tensor(&mut self, name: &str, node: NodeId) -> TensorId {
        let reuse = match self.current.get(name) {
            Some(&id) => {
                let t = &self.tensors[id.0 as usize];
                let fresh = t.producer.is_none();
                let untouched = t.consumers.is_empty() && !t.is_constant;
                if fresh && (!self.versioned || untouched) {
                    Some(id)
                } else {
                    None
                }
            }
            None => None,
        };
        let id = match reuse {
            Some(id) => id,
            None => {
                let previous = self.current.get(name).copied();
                let id = self.push_tensor(name);
                if let Some(prev) = previous {
                    let (dtype, shape) = {
                        let p = &self.tensors[prev.0 as usize];
                        (p.dtype, p.shape.clone())
                    };
                    let t = &mut self.tensors[id.0 as usize];
                    t.dtype = dtype;
                    t.shape = shape;
                }
                id
            }
        };
        self.tensors[id.0 as usize].producer = Some(node);
        id
    }

    /// Assigns stable node ids, adds the edges and returns the graph.
    pub fn finish(self) -> Graph {
        let mut nodes = self.nodes;
        assign_ids(&mut nodes, &self.tensors);
        let mut graph = Graph {
            tensors: self.tensors,
            inputs: self.inputs,
            outputs: self.outputs,
            ..Graph::default()
        };
        for node in nodes {
            graph.dag.add_node(node);
        }
        for (index, tensor) in graph.tensors.iter().enumerate() {
            if let Some(producer) = tensor.producer {
                for &consumer in &tensor.consumers {
                    graph
                        .dag
                        .add_edge(producer, consumer, TensorId(index as u32));
                }
            }
        }
        graph
    }
}

/// Names each node by its file name, else `OpType(first output)`, and numbers repeats.
fn assign_ids(nodes: &mut [Node], tensors: &[Tensor]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for node in nodes.iter_mut() {
        let base = match &node.name {
            Some(name) => name.clone(),
            None => {
                let first = node
                    .outputs
                    .iter()
                    .find_map(|p| p.tensor)
                    .map(|t| tensors[t.0 as usize].name.as_str())
                    .unwrap_or("");
                format!("{}({first})", node.op_type)
            }
        };
        let count = seen.entry(base.clone()).or_insert(0);
        *count += 1;
        node.id = if *count == 1 {
            base
        } else {
            format!("{base}#{count}")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeSpec {
        NodeSpec {
            op_type: op.to_string(),
            inputs: inputs
                .iter()
                .map(|n| ("X".to_string(), n.to_string()))
                .collect(),
            outputs: outputs
                .iter()
                .map(|n| ("Out".to_string(), n.to_string()))
                .collect(),
            ..NodeSpec::default()
        }
    }

    #[test]
    fn versioned_in_place_op_has_no_cycle() {
        let mut b = GraphBuilder::versioned();
        b.add_node(spec("scale", &["x"], &["y"]));
        b.add_node(spec("scale", &["y"], &["y"]));
        b.add_node(spec("fetch", &["y"], &["out"]));
        let g = b.finish();
        assert_eq!(g.tensors.iter().filter(|t| t.name == "y").count(), 2);
        assert!(!petgraph::algo::is_cyclic_directed(&g.dag));
        let fetch = g.find_node("fetch(out)");
        assert!(fetch.is_some());
        let preds = fetch.map(|f| g.predecessors(f)).unwrap_or_default();
        assert_eq!(preds.len(), 1);
        assert_eq!(g.node(preds[0]).id, "scale(y)#2");
    }

    #[test]
    fn ssa_links_consumer_added_before_producer() {
        let mut b = GraphBuilder::ssa();
        b.add_node(spec("Relu", &["a"], &["b"]));
        b.add_node(spec("Conv", &["x"], &["a"]));
        let g = b.finish();
        let relu = g.find_node("Relu(b)");
        let conv = g.find_node("Conv(a)");
        assert!(relu.is_some());
        assert!(conv.is_some());
        assert_eq!(relu.map(|r| g.predecessors(r)), conv.map(|c| vec![c]));
    }

    #[test]
    fn omitted_input_has_no_tensor() {
        let mut b = GraphBuilder::ssa();
        b.add_node(spec("QuantizeLinear", &["x", "s", ""], &["q"]));
        let g = b.finish();
        let q = g.node(NodeId::new(0));
        assert_eq!(q.inputs.len(), 3);
        assert_eq!(q.inputs[2].tensor, None);
    }

    #[test]
    fn repeated_names_get_numbered_ids() {
        let mut b = GraphBuilder::ssa();
        for _ in 0..2 {
            b.add_node(NodeSpec {
                name: Some("n".into()),
                op_type: "Relu".into(),
                ..NodeSpec::default()
            });
        }
        let g = b.finish();
        let ids: Vec<_> = g.dag.node_weights().map(|n| n.id.clone()).collect();
        assert_eq!(ids, vec!["n".to_string(), "n#2".to_string()]);
    }
}
