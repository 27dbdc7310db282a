//! Paddle loaders: ProgramDesc protobuf, Paddle 3 PIR JSON and `.pdiparams` records.

use std::path::Path;

use crate::error::LoadError;
use crate::graph::Model;

/// Loads a ProgramDesc file (`*.pdmodel`, `__model__`, `model`) and the parameters beside it.
pub fn load_program(path: &Path) -> Result<Model, LoadError> {
    Err(LoadError::new(path, "the Paddle loader is not built yet"))
}

/// Loads a Paddle 3 PIR JSON program and the parameters beside it.
pub fn load_pir(path: &Path) -> Result<Model, LoadError> {
    Err(LoadError::new(path, "the PIR loader is not built yet"))
}

/// Returns true when `path` is a JSON file whose `base_code.magic` is `pir`.
pub fn is_pir_json(path: &Path) -> Result<bool, LoadError> {
    Err(LoadError::new(path, "the PIR loader is not built yet"))
}
