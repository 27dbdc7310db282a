//! Facts that rules read: quantization op catalogues, int8 chains and float islands, shapes and
//! MACs, host CPU features. Rust computes them once per model; YAML rules refer to them by name.

pub mod chains;
pub mod facts;
pub mod macs;
pub mod quant;
pub mod shapes;
#[cfg(test)]
mod testutil;

use std::collections::BTreeMap;
use std::fmt;

use crate::graph::NodeId;

pub use facts::compute;

/// A fact value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    /// Reads a number; booleans count as 0 or 1.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// True for `true`, non-zero numbers, non-empty strings and lists.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{}", format_number(*n)),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Formats a number without a trailing `.0` for integers and with at most 4 significant
/// decimals otherwise, so messages stay stable across platforms.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n.abs() >= 0.01 {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{n:.3e}")
    }
}

/// What a fact describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Model,
    Node,
    Island,
}

impl Scope {
    /// The name used in rule files (`for: node`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Model => "model",
            Scope::Node => "node",
            Scope::Island => "island",
        }
    }
}

/// A named set of facts.
pub type FactMap = BTreeMap<String, Value>;

/// A maximal connected set of float nodes entered from DequantizeLinear and left through
/// QuantizeLinear in an optimized graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Island {
    /// Nodes in file order.
    pub nodes: Vec<NodeId>,
    pub facts: FactMap,
}

/// A connected set of integer nodes joined by int8/uint8 tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    /// Nodes in file order.
    pub nodes: Vec<NodeId>,
    /// Number of quantized compute ops; pass-through ops join a chain but do not count.
    pub size: usize,
}

/// Every fact computed for one model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub model: FactMap,
    /// Indexed by `NodeId::index()`.
    pub nodes: Vec<FactMap>,
    pub islands: Vec<Island>,
    pub chains: Vec<Chain>,
}

/// A fact that rules may name: scope, name and what it means. Rule files that name a fact not
/// listed here are rejected when they load.
#[derive(Clone, Copy, Debug)]
pub struct FactDoc {
    pub scope: Scope,
    pub name: &'static str,
    pub doc: &'static str,
}

const fn fact(scope: Scope, name: &'static str, doc: &'static str) -> FactDoc {
    FactDoc { scope, name, doc }
}

/// The facts that the analyses compute.
#[rustfmt::skip]
pub const FACTS: &[FactDoc] = &[
    fact(Scope::Model, "stage", "paddle, onnx or optimized"),
    fact(Scope::Model, "format", "paddle-program, paddle-pir or onnx"),
    fact(Scope::Model, "opset", "opset version of the default ONNX domain"),
    fact(Scope::Model, "nodes.count", "number of nodes"),
    fact(Scope::Model, "quant_ops.count", "quantization ops of any kind"),
    fact(Scope::Model, "qdq.count", "QuantizeLinear and DequantizeLinear nodes (ONNX or Paddle)"),
    fact(Scope::Model, "qlinear_ops.count", "quantized compute ops (QLinear*, QGemm, ...)"),
    fact(Scope::Model, "legacy_fake_quant.count", "Paddle legacy fake quantization ops"),
    fact(Scope::Model, "macs.total", "MACs of every compute op (batch 1)"),
    fact(Scope::Model, "macs.quantizable", "MACs of Conv, ConvTranspose, MatMul, Gemm and their quantized forms"),
    fact(Scope::Model, "macs.int8", "MACs that run in int8 kernels"),
    fact(Scope::Model, "macs.int8_share", "macs.int8 / macs.quantizable, 0 when nothing is quantizable"),
    fact(Scope::Model, "macs.exact", "false when some compute op had an unknown shape, so MACs are a lower bound"),
    fact(Scope::Model, "chains.count", "number of int8 chains"),
    fact(Scope::Model, "chains.sizes", "sizes of the int8 chains, largest first"),
    fact(Scope::Model, "chains.max", "size of the largest int8 chain"),
    fact(Scope::Model, "islands.count", "number of float islands between int8 chains"),
    fact(Scope::Model, "layout_ops.count", "NCHWc and internal NHWC layout ops"),
    fact(Scope::Model, "layout_ops.list", "layout op types with counts"),
    fact(Scope::Model, "ort_fingerprint", "the file imports every domain that ORT registers, as saved optimized models do"),
    fact(Scope::Model, "cpu.name", "target CPU profile name"),
    fact(Scope::Model, "cpu.avx512_vnni", "the target CPU has AVX512-VNNI"),
    fact(Scope::Model, "cpu.avx_vnni", "the target CPU has AVX-VNNI"),
    fact(Scope::Model, "cpu.amx_int8", "the target CPU has AMX-INT8"),
    fact(Scope::Model, "cpu.vnni", "the target CPU has AVX512-VNNI or AVX-VNNI"),
    fact(Scope::Model, "cpu.flags", "the target CPU's int8-related flags"),
    fact(Scope::Model, "provider", "the execution provider the model will run on"),
    fact(Scope::Model, "runtime.ort_version", "ONNX Runtime release that --compare or --bench loaded"),
    fact(Scope::Model, "runtime.level", "optimization level of --compare or --bench: basic, extended or all"),
    fact(Scope::Model, "compare.max_abs", "largest absolute output difference, ORT_DISABLE_ALL vs the --level session (--compare)"),
    fact(Scope::Model, "compare.mean_abs", "mean absolute output difference, largest over the outputs (--compare)"),
    fact(Scope::Model, "compare.cosine", "cosine similarity of the outputs, smallest over the outputs (--compare)"),
    fact(Scope::Model, "compare.output", "name of the output with the largest absolute difference (--compare)"),
    fact(Scope::Model, "bench.p50_ms", "median latency of the model in milliseconds (--bench)"),
    fact(Scope::Model, "bench.p90_ms", "90th percentile latency of the model in milliseconds (--bench)"),
    fact(Scope::Model, "bench.float_p50_ms", "median latency of --float-model in milliseconds (--bench)"),
    fact(Scope::Model, "bench.float_p90_ms", "90th percentile latency of --float-model in milliseconds (--bench)"),
    fact(Scope::Model, "bench.speedup", "float median latency / quantized median latency; above 1 means int8 is faster (--bench --float-model)"),
    fact(Scope::Node, "macs", "multiply-accumulates of this op at batch 1"),
    fact(Scope::Node, "macs.exact", "false when the MAC count of this op is a lower bound or unknown"),
    fact(Scope::Node, "int8_inputs", "number of inputs with int8 or uint8 element type"),
    fact(Scope::Node, "in_island", "the node belongs to a float island"),
    fact(Scope::Node, "island.ops", "op types of the island this node belongs to"),
    fact(Scope::Node, "data_input_constant", "the data input (Paddle slot X, else input 0) is a constant or parameter, such as a weight"),
    fact(Scope::Node, "param_input", "some input is a constant or Paddle parameter"),
    fact(Scope::Node, "quantized_input", "some activation input comes from a (de)quantization op that really quantizes"),
    fact(Scope::Node, "output_zero_point", "zero point of the QuantizeLinear that reads this node's output"),
    fact(Scope::Node, "output_zero_point_at_min", "that zero point is the lowest value of its type, so a Relu or Clip can fold into it"),
    fact(Scope::Node, "output_qtype", "element type of the QuantizeLinear that reads this node's output"),
    fact(Scope::Island, "island.size", "number of float nodes in the island"),
    fact(Scope::Island, "island.ops", "op types in the island with counts, in file order (`HardSigmoid, Mul`, or `Relu×2` when one repeats)"),
    fact(Scope::Island, "island.compute_ops", "number of Conv, MatMul and Gemm nodes (and their fusions) left float in the island"),
    fact(Scope::Island, "island.chain_sizes", "sizes of the int8 chains the island separates"),
];

/// Looks up a fact by scope and name.
pub fn fact_doc(scope: Scope, name: &str) -> Option<&'static FactDoc> {
    FACTS.iter().find(|f| f.scope == scope && f.name == name)
}
