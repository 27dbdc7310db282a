//! Facts that rules read: quantization op catalogues, int8 chains and float islands, shapes and
//! MACs, the u8s8 saturation risk of int8 weights, host CPU features. Rust computes them once
//! per model; YAML rules refer to them by name.

pub mod chains;
pub mod cross_stage;
pub mod facts;
pub mod fusion;
pub mod macs;
pub mod paddle2onnx;
pub mod qdq;
pub mod quant;
pub mod saturation;
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

/// The subject a fact describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Model,
    Node,
    Island,
}

impl Scope {
    /// Returns the name used in rule files (`for: node`).
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
    fact(Scope::Model, "paddle2onnx.version", "the Paddle2ONNX release that export checks are judged for (Paddle programs)"),
    fact(Scope::Model, "paddle2onnx.int8_program", "the Paddle program has INT8 quantize_linear or dequantize_linear ops"),
    fact(Scope::Model, "predicted.ort_version", "the ONNX Runtime release QDQ fusion is predicted for (exported ONNX models)"),
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
    fact(Scope::Node, "data_input_constant", "the data input (Paddle slot X, else input 0) is a constant or parameter, such as a weight"),
    fact(Scope::Node, "param_input", "some input is a constant or Paddle parameter"),
    fact(Scope::Node, "quantized_input", "some activation input comes from a (de)quantization op that really quantizes"),
    fact(Scope::Node, "output_zero_point", "zero point of the QuantizeLinear that reads this node's output"),
    fact(Scope::Node, "output_zero_point_at_min", "that zero point is the lowest value of its type, so a Relu or Clip can fold into it"),
    fact(Scope::Node, "output_qtype", "element type of the QuantizeLinear that reads this node's output"),
    fact(Scope::Node, "paddle2onnx.converts", "the judged Paddle2ONNX release converts or skips this Paddle op; absent when that release cannot read the program's format"),
    fact(Scope::Node, "paddle2onnx.lookup", "the name the judged release looks the op up by (after Paddle's PIR translation and the release's renames)"),
    fact(Scope::Node, "paddle2onnx.newest", "the newest release in qlint's table that converts this Paddle op"),
    fact(Scope::Node, "paddle2onnx.newest_int8", "the newest release that converts this Paddle op and exports INT8"),
    fact(Scope::Model, "qdq.axis_count", "ONNX QuantizeLinear/DequantizeLinear with an `axis` attribute or a per-axis scale (both need opset 13)"),
    fact(Scope::Model, "provider.kind", "the execution provider, normalized: cpu, cuda, tensorrt, openvino, dml, ... (`CUDAExecutionProvider` gives cuda)"),
    fact(Scope::Node, "quant.bits", "bit width of a quantization op: Paddle `bit_length` (or `quant_bits`), or the size of the ONNX Q/DQ element type"),
    fact(Scope::Node, "quant.type", "quantized element type of a quantization op (`int8`, `uint16`, `int4`, `float8e4m3fn`; Paddle `int<bit_length>`)"),
    fact(Scope::Node, "quant.role", "what a quantization op quantizes: weight, bias (int32 DequantizeLinear of a constant) or activation"),
    fact(Scope::Node, "quant.matmul_nbits", "a 4-bit DequantizeLinear in the blocked form ORT fuses into MatMulNBits"),
    fact(Scope::Node, "qparams.zero_scales", "number of scale values that are zero"),
    fact(Scope::Node, "qparams.zero_scale_index", "index of the first zero scale"),
    fact(Scope::Node, "qparams.zero_scale_on_zero_data", "the quantized constant is zero wherever its scale is zero (an all-zero bias or a pruned filter)"),
    fact(Scope::Node, "qparams.negative_scales", "number of negative scale values (blocked quantization excluded)"),
    fact(Scope::Node, "qparams.negative_scale_index", "index of the first negative scale"),
    fact(Scope::Node, "qparams.bad_scales", "number of scale values that are NaN or infinite"),
    fact(Scope::Node, "qparams.bad_scale", "the first such scale value"),
    fact(Scope::Node, "qparams.bad_scale_index", "index of the first such scale value"),
    fact(Scope::Node, "qparams.zero_points_out_of_range", "number of zero-point values outside their type's range"),
    fact(Scope::Node, "qparams.zero_point", "the first zero point outside its type's range"),
    fact(Scope::Node, "qparams.zero_point_range", "the value range of the zero point's type, as `[min, max]`"),
    fact(Scope::Node, "qparams.scale_len", "number of scale values"),
    fact(Scope::Node, "qparams.zero_point_len", "number of zero-point values"),
    fact(Scope::Node, "qparams.zero_point_length_mismatch", "the zero point and the scale have different lengths"),
    fact(Scope::Node, "qparams.axis", "`axis` of a per-axis Q/DQ (1 when the attribute is missing)"),
    fact(Scope::Node, "qparams.axis_dim", "size of the quantized tensor along that axis"),
    fact(Scope::Node, "qparams.axis_out_of_range", "the axis is outside the quantized tensor's rank"),
    fact(Scope::Node, "qparams.length_mismatch", "a per-axis scale whose length is not the tensor's size along the axis (or that is not 1-D)"),
    fact(Scope::Node, "quant_axis.fits", "the per-channel axis of a weight's quant op is the output-channel axis of the op that reads the weight"),
    fact(Scope::Node, "quant_axis.actual", "the axis the op quantizes along (ONNX `axis`, 1 when missing; Paddle `quant_axis`)"),
    fact(Scope::Node, "quant_axis.expected", "the output-channel axis of the weight for the op that reads it"),
    fact(Scope::Node, "quant_axis.missing", "an ONNX Q/DQ has no `axis` attribute, so it defaults to 1"),
    fact(Scope::Node, "quant_axis.consumer", "the op that reads the weight (with `trans_y` or `transB` when set)"),
    fact(Scope::Node, "quant_axis.scale_len", "number of per-channel scales"),
    fact(Scope::Node, "quant_axis.dim", "the weight's size along the actual axis"),
    fact(Scope::Node, "quant_axis.expected_dim", "the weight's size along the expected axis (its output channels)"),
    fact(Scope::Node, "quant_axis.weight", "name of the quantized weight"),
    fact(Scope::Node, "qdq_around", "a DequantizeLinear feeds the node or a QuantizeLinear reads its output"),
    fact(Scope::Node, "weight_grid.on_grid", "the float weight lies on a per-channel int8 grid (w / (max|w_c| / 127) within 1e-4 of an integer)"),
    fact(Scope::Node, "weight_grid.channels", "output channels with a non-zero weight"),
    fact(Scope::Node, "weight_grid.evidence", "weights whose int8 code is neither 0 nor ±127"),
    fact(Scope::Node, "weight_grid.axis", "output-channel axis of the weight constant"),
    fact(Scope::Node, "weight_grid.weight", "name of the weight constant"),
    fact(Scope::Node, "cross_stage.lost", "the op was quantized in the previous stage of the pipeline and is float here"),
    fact(Scope::Node, "cross_stage.source", "file name of the previous-stage model"),
    fact(Scope::Node, "cross_stage.source_stage", "stage of that model (paddle or onnx)"),
    fact(Scope::Node, "cross_stage.source_op", "op type of the matching op there"),
    fact(Scope::Node, "cross_stage.source_node", "node id of the matching op there"),
    fact(Scope::Node, "cross_stage.weight", "the weight name that matched the two ops"),
    fact(Scope::Node, "saturation.pairs", "adjacent same-sign int8 weight pairs (kernel pairing order) with |w1|+|w2| >= 129, which can saturate int16 in u8s8 kernels without VNNI"),
    fact(Scope::Node, "saturation.channels", "output channels with at least one such pair"),
    fact(Scope::Node, "saturation.channels_total", "output channels whose int8 weights were checked"),
    fact(Scope::Node, "saturation.max_pair_sum", "largest |w1|+|w2| of an adjacent same-sign int8 weight pair"),
    fact(Scope::Node, "saturation.channels_any_order", "output channels with two same-sign int8 weights anywhere summing to 129 or more in magnitude (at risk under any pairing order)"),
    fact(Scope::Node, "saturation.weights", "where the int8 weights came from (int8 constant, float constant quantized by QuantizeLinear, Paddle parameter codes)"),
    fact(Scope::Node, "predicted.fused", "ONNX Runtime (the --ort-version release, x86-64, CPU execution provider) is predicted to fuse this op of an exported QDQ graph into a quantized kernel, run it on 8-bit data or fold it into the next QuantizeLinear; set on ops that read a DequantizeLinear or feed a QuantizeLinear"),
    fact(Scope::Node, "predicted.kernel", "the op ORT writes when it fuses this one (QLinearConv, com.microsoft::QLinearAdd, the op itself for ops that only move data); absent for ops ORT has no fusion for"),
    fact(Scope::Node, "predicted.reason", "why ORT is predicted to leave this op float"),
    fact(Scope::Node, "predicted.blocks", "the ops left float because this data-movement op sits between a QuantizeLinear and its DequantizeLinear and keeps the pair int8, as backticked ids joined by commas"),
    fact(Scope::Island, "island.size", "number of float nodes in the island"),
    fact(Scope::Island, "island.ops", "op types in the island with counts, in file order (`HardSigmoid, Mul`, or `Relu×2` when one repeats)"),
    fact(Scope::Island, "island.compute_ops", "number of Conv, MatMul and Gemm nodes (and their fusions) left float in the island"),
    fact(Scope::Island, "island.chains", "number of int8 chains next to the island (feeding or fed by it)"),
    fact(Scope::Island, "island.chain_sizes", "sizes of the int8 chains the island separates"),
];

/// Looks up a fact by scope and name.
pub fn fact_doc(scope: Scope, name: &str) -> Option<&'static FactDoc> {
    FACTS.iter().find(|f| f.scope == scope && f.name == name)
}
