//! Finding models on disk, detecting their kind and stage, and dispatching to the loaders.

pub mod onnx;
pub mod paddle;
