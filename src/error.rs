//! Errors of the library. Every error names the file it is about.

use std::path::{Path, PathBuf};

/// A model or directory that could not be read as a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

impl LoadError {
    /// Creates an error about `path`.
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        LoadError {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
