//! ONNX `ModelProto` loader: memory-mapped decode, constants, external data, subgraphs.

use std::path::Path;

use crate::error::LoadError;
use crate::graph::Model;

/// Loads an ONNX model file. The returned model has stage [`crate::graph::Stage::Onnx`]; the
/// caller decides whether it is an ORT-optimized graph.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    Err(LoadError::new(path, "the ONNX loader is not built yet"))
}
