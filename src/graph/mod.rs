//! The one graph type that every loader produces and every analysis and rule reads.
//!
//! Nodes are operators, edges are tensors from producer to consumer. Constants (ONNX
//! initializers, `Constant` node values, Paddle parameters) are tensors with a value. Rules never
//! see protobuf or JSON types, only this module.

mod builder;
pub mod tensor;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};

pub use builder::{GraphBuilder, NodeSpec};
pub use tensor::{DataType, Payload, PayloadError, TensorData};

/// Index of a node in [`Graph::dag`].
pub type NodeId = NodeIndex<u32>;

/// Index of a tensor in [`Graph::tensors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TensorId(pub u32);

/// The stage of a model on the deployment path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// A Paddle program (ProgramDesc or PIR JSON).
    Paddle,
    /// An ONNX file as an exporter wrote it.
    Onnx,
    /// An ONNX file that ONNX Runtime already optimized (`optimized_model_filepath`).
    Optimized,
}

impl Stage {
    /// Returns the name used in rule files, output and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Paddle => "paddle",
            Stage::Onnx => "onnx",
            Stage::Optimized => "optimized",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file format a model was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelFormat {
    /// Paddle `ProgramDesc` protobuf (`*.pdmodel`, `__model__`, `model`).
    PaddleProgram,
    /// Paddle 3 PIR JSON (`model.json`, `inference.json`).
    PaddlePir,
    /// ONNX `ModelProto`.
    Onnx,
}

impl ModelFormat {
    /// Returns the name used in JSON output (`inputs[].kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::PaddleProgram => "paddle-program",
            ModelFormat::PaddlePir => "paddle-pir",
            ModelFormat::Onnx => "onnx",
        }
    }
}

/// Model-level metadata that rules may read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    /// Opset version per domain; the default ONNX domain is stored as `ai.onnx`.
    pub opsets: BTreeMap<String, i64>,
    pub ir_version: Option<i64>,
    pub producer_name: Option<String>,
    pub producer_version: Option<String>,
    /// Paddle program version (`ProgramDesc.version` or PIR `base_code.version`).
    pub program_version: Option<i64>,
}

/// A loaded model: its graph plus where it came from.
#[derive(Clone, Debug)]
pub struct Model {
    pub path: PathBuf,
    pub format: ModelFormat,
    pub stage: Stage,
    pub meta: ModelMeta,
    pub graph: Graph,
}

/// An attribute value, unified over ONNX `AttributeProto` and Paddle `OpDesc.Attr`.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Strs(Vec<String>),
    Bools(Vec<bool>),
    Tensor(TensorData),
    /// A subgraph or Paddle block, flattened into the same [`Graph`] under this scope name.
    Subgraph(String),
    Subgraphs(Vec<String>),
    /// A value qlint keeps only as text (type protos, sparse tensors, PIR types).
    Other(String),
}

impl Attr {
    /// Reads an integer-like attribute (`Int`, `Bool`, or an integral `Float`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Attr::Int(v) => Some(*v),
            Attr::Bool(b) => Some(i64::from(*b)),
            Attr::Float(f) if f.fract() == 0.0 && f.is_finite() => Some(*f as i64),
            _ => None,
        }
    }

    /// Reads a number attribute as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Attr::Int(v) => Some(*v as f64),
            Attr::Float(f) => Some(*f),
            Attr::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// Reads a string attribute.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Reads a boolean attribute; integers count as true when non-zero.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            Attr::Int(v) => Some(*v != 0),
            _ => None,
        }
    }

    /// Reads a list of integers.
    pub fn as_ints(&self) -> Option<&[i64]> {
        match self {
            Attr::Ints(v) => Some(v),
            _ => None,
        }
    }
}

/// One operand of a node: the slot it binds (Paddle `X`, `Filter`; empty for ONNX, whose
/// operands are positional) and the tensor, or `None` for an omitted optional ONNX input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub slot: String,
    pub tensor: Option<TensorId>,
}

/// An operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Stable id: the node name when it has one, else `OpType(first output name)`, with `#2`,
    /// `#3`, ... appended to repeats. Never a position, because ORT's node order is not stable.
    pub id: String,
    /// The name written in the file, if any (Paddle ops have none).
    pub name: Option<String>,
    pub op_type: String,
    /// Operator domain; the default ONNX domain is `""` and Paddle ops use `""` too.
    pub domain: String,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub attrs: BTreeMap<String, Attr>,
    /// Subgraph or block path (`""` for the main graph, `If_0/then_branch`, `block1`).
    pub scope: String,
}

impl Node {
    /// `domain::OpType` for non-default domains, else `OpType`.
    pub fn qualified_op(&self) -> String {
        if self.domain.is_empty() || self.domain == "ai.onnx" {
            self.op_type.clone()
        } else {
            format!("{}::{}", self.domain, self.op_type)
        }
    }

    /// Looks up an attribute by name.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(name)
    }

    /// Tensor ids of the inputs bound to `slot` (Paddle), in order.
    pub fn slot_inputs<'a>(&'a self, slot: &'a str) -> impl Iterator<Item = TensorId> + 'a {
        self.inputs
            .iter()
            .filter(move |p| p.slot == slot)
            .filter_map(|p| p.tensor)
    }

    /// Returns the tensor at ONNX input position `index`, if present and not omitted.
    pub fn input(&self, index: usize) -> Option<TensorId> {
        self.inputs.get(index).and_then(|p| p.tensor)
    }

    /// Returns the tensor at output position `index`, if present.
    pub fn output(&self, index: usize) -> Option<TensorId> {
        self.outputs.get(index).and_then(|p| p.tensor)
    }
}

/// Maximum length of a scope or slot name kept whole; see [`bounded_name`].
pub const MAX_SCOPE_LEN: usize = 256;

/// Shortens a scope or slot name longer than [`MAX_SCOPE_LEN`] bytes to its first 200 bytes, `…`
/// and a hash of the whole, so names stay distinct. Scopes are copied into every node of a
/// subgraph, so a hostile 1 MB node name would otherwise cost gigabytes.
pub fn bounded_name(name: String) -> String {
    if name.len() <= MAX_SCOPE_LEN {
        return name;
    }
    let mut cut = 200;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    // FNV-1a, 64 bit: stable across runs and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}…{hash:016x}", &name[..cut])
}

/// Keeps the first occurrence of each node, in order, in linear time.
fn unique_in_order(nodes: impl Iterator<Item = NodeId>) -> Vec<NodeId> {
    let mut seen = std::collections::HashSet::new();
    nodes.filter(|n| seen.insert(*n)).collect()
}

/// Dimension of a tensor shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(i64),
    /// A named symbolic dimension (ONNX `dim_param`).
    Symbolic(String),
    /// Unknown (ONNX dimension without value, Paddle `-1`).
    Unknown,
}

/// A tensor (a value flowing along edges). Paddle variables written more than once (in-place
/// ops) get one tensor per write, all with the same name.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    /// Declared element type, if the file states one.
    pub dtype: Option<DataType>,
    /// Declared shape, if the file states one.
    pub shape: Option<Vec<Dim>>,
    /// The constant value, for initializers, `Constant` outputs and parameters with data.
    pub value: Option<TensorData>,
    /// True for ONNX initializers, `Constant` outputs and Paddle persistable variables, even
    /// when the value itself was not loaded.
    pub is_constant: bool,
    pub producer: Option<NodeId>,
    pub consumers: Vec<NodeId>,
}

/// The dataflow graph of one model. Subgraphs (ONNX If/Loop/Scan, Paddle sub-blocks) are
/// flattened into it; their nodes carry a non-empty [`Node::scope`].
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Edges carry the tensor that flows from producer to consumer.
    pub dag: DiGraph<Node, TensorId>,
    pub tensors: Vec<Tensor>,
    /// Graph inputs that are not constants.
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

impl Graph {
    /// Borrows a node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.dag[id]
    }

    /// Borrows a tensor.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.0 as usize]
    }

    /// Returns all node ids in file order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.dag.node_indices()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    /// Returns the node that produces `tensor`, if any.
    pub fn producer(&self, tensor: TensorId) -> Option<NodeId> {
        self.tensor(tensor).producer
    }

    /// Returns the nodes that read `tensor`, in file order.
    pub fn consumers(&self, tensor: TensorId) -> &[NodeId] {
        &self.tensor(tensor).consumers
    }

    /// Nodes that produce an input of `node` (each once, in input order).
    pub fn predecessors(&self, node: NodeId) -> Vec<NodeId> {
        let producers = self.dag[node]
            .inputs
            .iter()
            .filter_map(|port| port.tensor.and_then(|t| self.producer(t)));
        unique_in_order(producers)
    }

    /// Nodes that read an output of `node` (each once, in output then file order).
    pub fn successors(&self, node: NodeId) -> Vec<NodeId> {
        let readers = self.dag[node]
            .outputs
            .iter()
            .filter_map(|port| port.tensor)
            .flat_map(|t| self.consumers(t).iter().copied());
        unique_in_order(readers)
    }

    /// Edges leaving `node`, for petgraph algorithms.
    pub fn out_edges(&self, node: NodeId) -> impl Iterator<Item = EdgeIndex<u32>> + '_ {
        self.dag.edges_directed(node, Direction::Outgoing).map(|e| {
            use petgraph::visit::EdgeRef;
            e.id()
        })
    }

    /// Returns the constant value behind `tensor`, if it has one.
    pub fn constant(&self, tensor: TensorId) -> Option<&TensorData> {
        self.tensor(tensor).value.as_ref()
    }

    /// Finds a node by its stable id.
    pub fn find_node(&self, id: &str) -> Option<NodeId> {
        self.dag.node_indices().find(|&n| self.dag[n].id == id)
    }

    /// Counts nodes per qualified op type, sorted by op type.
    pub fn op_histogram(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for n in self.dag.node_weights() {
            *counts.entry(n.qualified_op()).or_insert(0) += 1;
        }
        counts
    }
}
