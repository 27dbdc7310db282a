//! ONNX Runtime features: `--optimize`, `--compare` and `--bench`.
//!
//! qlint loads the ONNX Runtime shared library at run time (the `ort` crate with
//! `load-dynamic`), found as [`library`] describes. All work with the library happens in a
//! child process, the same `qlint` binary started with [`protocol::WORKER_ARG`], so a crash
//! inside ONNX Runtime becomes an error that names the model and the phase while the static
//! findings are still reported.

mod command;
pub mod facts;
pub mod fault;
pub mod inputs;
pub mod library;
pub mod metrics;
pub mod npy;
mod progress;
pub mod protocol;
pub mod results;
mod session;
mod spawn;
pub mod tensor;
pub mod worker;

pub use command::{RuntimeJob, RuntimeOptions, run};
