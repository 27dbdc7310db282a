//! qlint: a linter for quantized PaddlePaddle and ONNX models on their way to ONNX Runtime's
//! int8 CPU kernels.
//!
//! Loaders turn every input into one [`graph::Graph`]; [`analysis`] computes facts about it;
//! [`rules`] evaluates YAML rules over those facts; [`report`] renders the findings. The library
//! never prints.

pub mod analysis;
pub mod error;
pub mod graph;
pub mod host;
pub mod lint;
pub mod load;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod runtime;
