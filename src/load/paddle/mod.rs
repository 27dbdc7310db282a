//! Paddle loaders: ProgramDesc protobuf, Paddle 3 PIR JSON and `.pdiparams` records.
//!
//! Both program formats become one [`Model`] built with [`crate::graph::GraphBuilder`]:
//! parameters are constant tensors whose values are slices of the memory-mapped parameter file,
//! `feed`/`data` outputs are the graph inputs and `fetch` inputs the graph outputs.

mod params;
mod pir;
mod pir_reader;
#[cfg(test)]
mod pir_tests;
mod pir_values;
mod program;
mod program_attrs;
#[cfg(test)]
mod program_tests;
mod proto;

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::LoadError;
use crate::graph::Model;

/// Loads a ProgramDesc file (`*.pdmodel`, `__model__`, `model`) and the parameters beside it.
///
/// Parameters come from `<stem>.pdiparams`, else `__params__` or `params` in the same
/// directory, else one file per parameter (the Fluid 1.x "separate" layout). Without any of
/// these the graph is loaded without constant values. A parameter file that does not match
/// the program is an error naming that file.
pub fn load_program(path: &Path) -> Result<Model, LoadError> {
    program::load(path)
}

/// Loads a Paddle 3 PIR JSON program and the `<stem>.pdiparams` beside it, if present.
pub fn load_pir(path: &Path) -> Result<Model, LoadError> {
    pir::load(path)
}

/// Returns true when `path` is a JSON file whose `base_code.magic` is `pir`.
///
/// A file that is not JSON, or JSON without that marker, gives `Ok(false)`. Read errors and
/// files over the JSON size limit (128 MiB) are errors.
pub fn is_pir_json(path: &Path) -> Result<bool, LoadError> {
    pir::is_pir_json(path)
}

/// Memory-maps a parameter file that must sit in the program's own directory: a symbolic
/// link that leads elsewhere is rejected, as ONNX external data is.
fn map_param_file(program: &Path, params: &Path) -> Result<Bytes, LoadError> {
    let canonical_dir = |p: &Path| {
        std::fs::canonicalize(p)
            .ok()
            .and_then(|c| c.parent().map(Path::to_path_buf))
    };
    let inside = match (canonical_dir(program), canonical_dir(params)) {
        (Some(program_dir), Some(params_dir)) => program_dir == params_dir,
        _ => false,
    };
    if !inside {
        return Err(LoadError::new(
            params,
            "parameter file resolves outside the program's directory (a symbolic link?): copy \
             the parameters next to the program",
        ));
    }
    map_file(params)
}

/// Memory-maps a whole file, rejecting empty files and anything that is not a regular file
/// (a FIFO would block the open).
fn map_file(path: &Path) -> Result<Bytes, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(path, format!("failed to open: {e}")))?;
    if !meta.is_file() {
        return Err(LoadError::new(path, "not a regular file"));
    }
    let file =
        File::open(path).map_err(|e| LoadError::new(path, format!("failed to open: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| LoadError::new(path, format!("failed to read file metadata: {e}")))?
        .len();
    if len == 0 {
        return Err(LoadError::new(path, "the file is empty"));
    }
    let map = map_readonly(&file)
        .map_err(|e| LoadError::new(path, format!("failed to memory-map: {e}")))?;
    Ok(Bytes::from_owner(map))
}

#[expect(
    unsafe_code,
    reason = "memmap2 can only map a file through an unsafe constructor"
)]
fn map_readonly(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and qlint never writes to model files. If another process
    // truncated or rewrote the file while qlint runs, the bytes under the map would change.
    // qlint treats model files as inputs that stay unchanged while it reads them.
    unsafe { memmap2::Mmap::map(file) }
}

/// Returns `<dir>/<stem>.<extension>` for a model file path.
fn sibling_with_extension(path: &Path, extension: &str) -> Option<PathBuf> {
    let stem = path.file_stem()?;
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(extension);
    Some(path.with_file_name(name))
}
