//! Shape and element-type inference from the graph inputs through the common ops.
//!
//! ONNX exports from Paddle2ONNX and graphs saved by ONNX Runtime carry no `value_info`, so
//! shapes are propagated from the graph inputs and constants in topological order. Batch,
//! symbolic and unknown input dims are taken as 1, and every tensor computed from such a dim is
//! flagged as assumed. Small integer constants (shape arithmetic such as `Shape -> Slice ->
//! Concat -> Reshape`) are tracked by value. Paddle programs declare a shape for every variable,
//! so they are read as declared, with `-1` taken as 1.
//!
//! Inference never fails as a whole: an op it does not know, or inputs whose shapes contradict
//! the op, leave that op's outputs unknown (`None`), and later ops see them as unknown.

mod conv;
mod layouts;
mod matmul;
mod ops;
mod reduce;
mod slice;
mod tensor_ops;

use std::collections::HashMap;

pub use conv::{ConvOperands, Layout, conv_operands};
pub use matmul::{MatMulOperands, matmul_operands, matmul_shape};
pub use tensor_ops::numel;

use petgraph::algo::toposort;

use crate::graph::{DataType, Dim, Graph, Model, ModelFormat, NodeId, TensorData, TensorId};

/// Largest integer constant, in elements, that inference tracks by value. Shape tensors are a
/// few elements long, and the bound keeps a crafted file from making qlint decode a large one.
pub const MAX_VALUE_LEN: usize = 64;

/// Highest rank qlint infers a shape for. ONNX has no limit, but real models stay far below it,
/// and the cap keeps a file that declares a million dims from being copied per tensor.
pub const MAX_RANK: usize = 64;

/// Most inputs of one node that shape inference looks at (Concat and Sum in real models have a
/// few hundred at most).
pub const MAX_NODE_INPUTS: usize = 4096;

/// The facts inference found about one tensor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorInfo {
    pub dtype: Option<DataType>,
    /// Concrete dims in the tensor's own layout (NHWC tensors are stored NHWC, NCHWc tensors
    /// as `[N, padded C, H, W]`).
    pub shape: Option<Vec<i64>>,
    /// True when some dim on the way to this tensor was assumed to be 1 (a batch, symbolic or
    /// unknown dim of a graph input, or a Paddle `-1`).
    pub assumed: bool,
}

/// The result of [`infer`]: one [`TensorInfo`] per tensor plus small integer values.
#[derive(Clone, Debug, Default)]
pub struct Inferred {
    infos: Vec<TensorInfo>,
    values: HashMap<TensorId, Vec<i64>>,
}

static UNKNOWN: TensorInfo = TensorInfo {
    dtype: None,
    shape: None,
    assumed: false,
};

impl Inferred {
    /// Returns the inferred facts of a tensor, or unknown facts for an id outside the graph.
    pub fn info(&self, tensor: TensorId) -> &TensorInfo {
        self.infos.get(tensor.0 as usize).unwrap_or(&UNKNOWN)
    }

    /// Returns the element type of a tensor, if known.
    pub fn dtype(&self, tensor: TensorId) -> Option<DataType> {
        self.info(tensor).dtype
    }

    /// Returns the concrete shape of a tensor, if known.
    pub fn shape(&self, tensor: TensorId) -> Option<&[i64]> {
        self.info(tensor).shape.as_deref()
    }

    /// True when the tensor's shape depends on a dim that was assumed to be 1.
    pub fn assumed(&self, tensor: TensorId) -> bool {
        self.info(tensor).assumed
    }

    /// Returns the flattened value of a small integer tensor, if known.
    pub fn value(&self, tensor: TensorId) -> Option<&[i64]> {
        self.values.get(&tensor).map(Vec::as_slice)
    }

    /// True when the element type is int8 or uint8.
    pub fn is_8bit(&self, tensor: TensorId) -> bool {
        self.dtype(tensor).is_some_and(DataType::is_8bit_integer)
    }
}

/// Infers element types and shapes of every tensor of `model`.
pub fn infer(model: &Model) -> Inferred {
    match model.format {
        ModelFormat::PaddleProgram | ModelFormat::PaddlePir => declared(&model.graph),
        ModelFormat::Onnx => propagate(&model.graph),
    }
}

/// Reads every tensor's declared type and shape, taking unknown dims as 1.
fn declared(graph: &Graph) -> Inferred {
    let mut inferred = Inferred::default();
    for (index, tensor) in graph.tensors.iter().enumerate() {
        let mut info = TensorInfo {
            dtype: tensor.dtype,
            ..TensorInfo::default()
        };
        if let Some(value) = &tensor.value {
            info.dtype = Some(value.dtype);
            info.shape = Some(value.dims.clone());
            if let Some(v) = small_int_value(value) {
                inferred.values.insert(TensorId(index as u32), v);
            }
        } else if let Some(dims) = &tensor.shape {
            let (shape, assumed) = concretize(dims);
            info.shape = Some(shape);
            info.assumed = assumed;
        }
        inferred.infos.push(info);
    }
    inferred
}

/// Turns declared dims into concrete ones: symbolic, unknown and negative dims become 1.
fn concretize(dims: &[Dim]) -> (Vec<i64>, bool) {
    let mut assumed = false;
    let shape = dims
        .iter()
        .map(|d| match d {
            Dim::Known(v) if *v >= 0 => *v,
            _ => {
                assumed = true;
                1
            }
        })
        .collect();
    (shape, assumed)
}

/// Decodes an integer constant of at most [`MAX_VALUE_LEN`] elements.
pub(crate) fn small_int_value(value: &TensorData) -> Option<Vec<i64>> {
    let integer = matches!(
        value.dtype,
        DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt8
    );
    if !integer || value.element_count()? > MAX_VALUE_LEN {
        return None;
    }
    value.to_i64().ok()
}

/// Propagates types and shapes through an ONNX graph in topological order.
fn propagate(graph: &Graph) -> Inferred {
    let mut inferred = seed(graph);
    // A cyclic graph is malformed; file order still gives every node a try.
    let order: Vec<NodeId> =
        toposort(&graph.dag, None).unwrap_or_else(|_| graph.node_ids().collect());
    for id in order {
        let node = graph.node(id);
        let results = {
            let ctx = ops::Ctx::new(graph, &inferred);
            ops::infer_node(&ctx, node)
        };
        let assumed = node
            .inputs
            .iter()
            .filter_map(|p| p.tensor)
            .any(|t| inferred.assumed(t));
        for (position, port) in node.outputs.iter().enumerate() {
            let Some(tensor) = port.tensor else { continue };
            let result = results.get(position).cloned().flatten();
            store(graph, &mut inferred, tensor, result, assumed);
        }
    }
    inferred
}

/// Starts inference from constants and declared graph inputs.
fn seed(graph: &Graph) -> Inferred {
    let mut inferred = Inferred {
        infos: vec![TensorInfo::default(); graph.tensors.len()],
        values: HashMap::new(),
    };
    for (index, tensor) in graph.tensors.iter().enumerate() {
        let id = TensorId(index as u32);
        if let Some(value) = &tensor.value {
            inferred.infos[index] = TensorInfo {
                dtype: Some(value.dtype),
                shape: Some(value.dims.clone()).filter(|s| s.len() <= MAX_RANK),
                assumed: false,
            };
            if let Some(v) = small_int_value(value) {
                inferred.values.insert(id, v);
            }
        }
    }
    for &input in &graph.inputs {
        let tensor = graph.tensor(input);
        let (shape, assumed) = match &tensor.shape {
            Some(dims) if dims.len() <= MAX_RANK => {
                let (shape, assumed) = concretize(dims);
                (Some(shape), assumed)
            }
            Some(_) => (None, false),
            None => (None, false),
        };
        if let Some(info) = inferred.infos.get_mut(input.0 as usize) {
            *info = TensorInfo {
                dtype: tensor.dtype,
                shape,
                assumed,
            };
        }
    }
    inferred
}

/// Records an op's result for one output tensor. A tensor that already has a constant value
/// keeps it; an output inference could not work out falls back to what the file declares.
fn store(
    graph: &Graph,
    inferred: &mut Inferred,
    tensor: TensorId,
    result: Option<ops::Out>,
    assumed: bool,
) {
    let declared = graph.tensor(tensor);
    if declared.value.is_some() {
        return;
    }
    let out = result.unwrap_or_default();
    let declared_shape = declared.shape.as_ref().and_then(|dims| {
        dims.iter()
            .map(|d| match d {
                Dim::Known(v) if *v >= 0 => Some(*v),
                _ => None,
            })
            .collect::<Option<Vec<i64>>>()
    });
    let info = TensorInfo {
        dtype: out.dtype.or(declared.dtype),
        assumed: out.shape.is_some() && assumed,
        shape: out.shape.or(declared_shape).filter(|s| s.len() <= MAX_RANK),
    };
    if let Some(value) = out.value.filter(|v| v.len() <= MAX_VALUE_LEN) {
        inferred.values.insert(tensor, value);
    }
    if let Some(slot) = inferred.infos.get_mut(tensor.0 as usize) {
        *slot = info;
    }
}

#[cfg(test)]
mod tests;
