//! Why ORT leaves an op float: the reasons a prediction gives, and their message text.

use std::fmt;

use crate::graph::{DataType, NodeId};

/// A node of the model, named by its stable id for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef {
    pub node: NodeId,
    pub id: String,
    pub op: String,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.id, self.op)
    }
}

/// The cause that kept ORT's s8-to-u8 conversion away from an int8 QuantizeLinear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum S8Skip {
    /// The QuantizeLinear output is read by this many consumers (DequantizeLinear copies
    /// included), not by exactly one.
    Consumers(usize),
    /// The QuantizeLinear output is a graph output.
    GraphOutput,
    /// Its one consumer is not a DequantizeLinear; `layout` is true for a data-movement op.
    ConsumerNotDq { consumer: NodeRef, layout: bool },
    /// The QuantizeLinear or its DequantizeLinear has no zero-point input.
    NoZeroPoint,
    /// A zero point is not a constant initializer.
    ZeroPointNotConstant,
    /// A zero point has more than one element.
    ZeroPointNotScalar,
    /// The two zero points differ.
    ZeroPointsDiffer,
}

impl fmt::Display for S8Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ORT converts a pair to uint8 only when one DequantizeLinear reads the QuantizeLinear
        // and both have the same one-element int8 zero point.
        let because = match self {
            S8Skip::Consumers(n) => format!("feeds {n} consumers"),
            S8Skip::GraphOutput => "is a graph output".to_string(),
            S8Skip::ConsumerNotDq { consumer, .. } => {
                format!("feeds {consumer} instead of a DequantizeLinear")
            }
            S8Skip::NoZeroPoint => "or its DequantizeLinear has no zero point".to_string(),
            S8Skip::ZeroPointNotConstant => {
                "or its DequantizeLinear has a zero point that is not a constant".to_string()
            }
            S8Skip::ZeroPointNotScalar => {
                "or its DequantizeLinear has a per-channel zero point".to_string()
            }
            S8Skip::ZeroPointsDiffer => {
                "and its DequantizeLinear have different zero points".to_string()
            }
        };
        write!(
            f,
            "{because}, so ORT keeps it int8 (it converts int8 to uint8 only where exactly one \
             DequantizeLinear with the same zero point reads a QuantizeLinear)"
        )
    }
}

/// The origin of an int8 tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Int8Cause {
    /// A QuantizeLinear that ORT left int8.
    Quantize { q: Option<NodeRef>, skip: S8Skip },
    /// Data that no QuantizeLinear produced (an int8 graph input, constant or other op).
    NotQuantized { tensor: String },
}

impl fmt::Display for Int8Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int8Cause::Quantize { q: Some(q), skip } => {
                write!(f, "QuantizeLinear `{}` {skip}", q.id)
            }
            Int8Cause::Quantize { q: None, skip } => {
                write!(f, "a QuantizeLinear that ORT inserts {skip}")
            }
            Int8Cause::NotQuantized { tensor } => write!(
                f,
                "`{tensor}` is int8 data that no QuantizeLinear produces, so ORT cannot convert \
                 it to uint8"
            ),
        }
    }
}

impl Int8Cause {
    /// Returns the data-movement op that kept the conversion away, if that is the cause.
    pub fn layout_op(&self) -> Option<&NodeRef> {
        match self {
            Int8Cause::Quantize {
                skip:
                    S8Skip::ConsumerNotDq {
                        consumer,
                        layout: true,
                    },
                ..
            } => Some(consumer),
            _ => None,
        }
    }
}

/// A reason ORT is predicted to leave a node float.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The release has no selector for the op type.
    NotInTable { op: String, version: String },
    /// A Relu or Clip that ORT could fold into the next QuantizeLinear, but not here.
    NotFolded { op: String, version: String },
    /// The op's since-version is outside the selector's filter.
    SinceVersion {
        op: String,
        opset: i64,
        since: i64,
        allowed: Vec<i64>,
        version: String,
    },
    /// An input that the selector needs from a DequantizeLinear comes from elsewhere.
    FloatInput {
        slot: usize,
        tensor: String,
        source: String,
    },
    /// A DequantizeLinear input in a slot the selector takes as float.
    UnexpectedDq { slot: usize, tensor: String },
    /// A float weight that ORT would quantize itself if it were a constant.
    WeightNotConstant { tensor: String },
    /// A DequantizeLinear input is also a graph output.
    DqGraphOutput { tensor: String },
    /// The output is a graph output, which fusion would remove.
    GraphOutput,
    /// No QuantizeLinear reads the output.
    NoOutputQ { readers: String },
    /// The output feeds QuantizeLinear and other ops.
    OutputMixed { readers: String },
    /// The activations are int8, which x86-64 builds reject in Conv and MatMul.
    Int8Activation { cause: Box<Int8Cause> },
    /// Input and output element types differ.
    TypeMismatch {
        input: DataType,
        output: DataType,
        cause: Option<Box<Int8Cause>>,
    },
    /// Two quantized inputs have different element types.
    InputTypesDiffer {
        first: DataType,
        second: DataType,
        cause: Option<Box<Int8Cause>>,
    },
    /// A 16-bit or 4-bit type the selector does not accept.
    UnsupportedType { dtype: DataType },
    /// A quantized bias that is not int32.
    BiasNotInt32 { dtype: DataType },
    /// A Gemm with a bias and `beta` other than 1.
    GemmBeta { beta: f64 },
    /// The QuantizeLinear and DequantizeLinear around an op that only moves data differ.
    QdqParamsDiffer { input: String, output: String },
    /// Quantization parameters that must be constant scalars are not.
    ParamsNotConstant,
    /// A scale that must be positive is not.
    NonPositiveScale,
    /// The weight of a weight-only MatMul/Gemm does not fit MatMulNBits.
    NbitsWeight { detail: String },
    /// The element type of a tensor the check needs is unknown.
    UnknownType { tensor: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotInTable { op, version } => write!(
                f,
                "ORT {version} has no QDQ fusion for `{op}` on the CPU execution provider"
            ),
            Reason::NotFolded { op, version } if op == "Relu" => write!(
                f,
                "ORT {version} has no int8 `Relu` and folds it into the next QuantizeLinear \
                 only when that is its only reader and has its type's lowest zero point \
                 (uint8 0, int8 -128)"
            ),
            Reason::NotFolded { op, version } => write!(
                f,
                "ORT {version} has no int8 `{op}` and folds it into the next QuantizeLinear \
                 only when that is its only reader and its range lies inside the clip bounds"
            ),
            Reason::SinceVersion {
                op,
                opset,
                since,
                allowed,
                version,
            } => {
                let allowed: Vec<String> = allowed.iter().map(i64::to_string).collect();
                write!(
                    f,
                    "`{op}` at opset {opset} has since-version {since}, and ORT {version} fuses \
                     it only at since-versions {}",
                    allowed.join(", ")
                )
            }
            Reason::FloatInput {
                slot,
                tensor,
                source,
            } => write!(
                f,
                "input {slot} (`{tensor}`) is float: it comes from {source}, not from a \
                 DequantizeLinear"
            ),
            Reason::UnexpectedDq { slot, tensor } => write!(
                f,
                "input {slot} (`{tensor}`) comes from a DequantizeLinear, but ORT's selector for \
                 this op takes that input as float"
            ),
            Reason::WeightNotConstant { tensor } => write!(
                f,
                "its weight `{tensor}` is float and not a constant, so ORT cannot quantize it"
            ),
            Reason::DqGraphOutput { tensor } => write!(
                f,
                "the DequantizeLinear output `{tensor}` is also a graph output"
            ),
            Reason::GraphOutput => f.write_str("its output is a graph output"),
            Reason::NoOutputQ { readers } => {
                write!(f, "no QuantizeLinear reads its output (read by {readers})")
            }
            Reason::OutputMixed { readers } => write!(
                f,
                "its output feeds QuantizeLinear and other ops too ({readers})"
            ),
            Reason::Int8Activation { cause } => write!(
                f,
                "its activations stay int8, which x86-64 builds of ORT reject: {cause}"
            ),
            Reason::TypeMismatch {
                input,
                output,
                cause,
            } => {
                let (input, output) = (input.name(), output.name());
                write!(
                    f,
                    "its input is {input} and its output {output} once ORT has converted the \
                     int8 pairs it can to uint8"
                )?;
                match cause {
                    Some(cause) => write!(f, ": {cause}"),
                    None => Ok(()),
                }
            }
            Reason::InputTypesDiffer {
                first,
                second,
                cause,
            } => {
                let (first, second) = (first.name(), second.name());
                write!(
                    f,
                    "its inputs are {first} and {second} once ORT has converted the int8 pairs \
                     it can to uint8"
                )?;
                match cause {
                    Some(cause) => write!(f, ": {cause}"),
                    None => Ok(()),
                }
            }
            Reason::UnsupportedType { dtype } => {
                write!(f, "ORT's CPU kernels for it take no {} data", dtype.name())
            }
            Reason::BiasNotInt32 { dtype } => {
                write!(f, "its bias is quantized to {}, not int32", dtype.name())
            }
            Reason::GemmBeta { beta } => write!(f, "it has a bias and beta {beta}, not 1"),
            Reason::QdqParamsDiffer { input, output } => write!(
                f,
                "its input and output quantization differ ({input} in, {output} out)"
            ),
            Reason::ParamsNotConstant => {
                f.write_str("the scale or zero point around it is not a constant scalar")
            }
            Reason::NonPositiveScale => f.write_str("its quantization scale is not positive"),
            Reason::NbitsWeight { detail } => write!(
                f,
                "only its weight is quantized and the weight does not fit MatMulNBits: {detail}"
            ),
            Reason::UnknownType { tensor } => {
                write!(f, "the element type of `{tensor}` is unknown")
            }
        }
    }
}

impl Reason {
    /// Returns the int8 cause behind the reason, if any.
    pub fn int8_cause(&self) -> Option<&Int8Cause> {
        match self {
            Reason::Int8Activation { cause } => Some(cause),
            Reason::TypeMismatch { cause, .. } | Reason::InputTypesDiffer { cause, .. } => {
                cause.as_deref()
            }
            _ => None,
        }
    }
}
