//! Messages between qlint and its ONNX Runtime worker process.
//!
//! The parent writes one [`Request`] as JSON to the worker's standard input and closes it. The
//! worker writes one JSON [`Event`] per line to standard output: a `progress` event before
//! each phase and during long phases, then exactly one `finished` or `failed` event. The parent
//! remembers the last phase announced, so when the worker dies without a final event the error
//! still names the model and the phase.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::results::{InputInfo, OutputDifference};

/// Argument that turns the `qlint` binary into the worker. It is not part of `--help`.
pub const WORKER_ARG: &str = "__ort-worker";

/// ONNX Runtime graph optimization levels (`GraphOptimizationLevel` in its C API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `ORT_DISABLE_ALL`: the graph runs as written.
    DisableAll,
    /// `ORT_ENABLE_BASIC`: constant folding, redundant node removal, QDQ cleanup.
    Basic,
    /// `ORT_ENABLE_EXTENDED`: op fusions, among them the QDQ-to-QLinear fusions.
    Extended,
    /// `ORT_ENABLE_ALL`: also layout transformations (NCHWc, NHWC).
    All,
}

impl Level {
    /// Returns the name used in options and output (`disable_all`, `basic`, `extended`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::DisableAll => "disable_all",
            Level::Basic => "basic",
            Level::Extended => "extended",
            Level::All => "all",
        }
    }

    /// Returns the constant's name in ONNX Runtime's C API.
    pub fn ort_name(self) -> &'static str {
        match self {
            Level::DisableAll => "ORT_DISABLE_ALL",
            Level::Basic => "ORT_ENABLE_BASIC",
            Level::Extended => "ORT_ENABLE_EXTENDED",
            Level::All => "ORT_ENABLE_ALL",
        }
    }
}

/// Sources of the worker's inputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Seed of the random inputs.
    pub seed: u64,
    /// Full shapes for inputs, by input name (`--shape NAME=1x3x224x224`).
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// `.npy` files for inputs, by input name (`--input NAME=FILE.npy`).
    pub files: BTreeMap<String, PathBuf>,
}

/// One job for the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Optimize `model` at `level` and save the result to `output`.
    Optimize {
        model: PathBuf,
        level: Level,
        output: PathBuf,
    },
    /// Run `model` at `ORT_DISABLE_ALL` and at `level` on the same inputs and compare outputs.
    Compare {
        model: PathBuf,
        level: Level,
        inputs: InputSpec,
    },
    /// Time `model` (and `float_model`) at `level`.
    Bench {
        model: PathBuf,
        float_model: Option<PathBuf>,
        level: Level,
        runs: u32,
        warmup: u32,
        /// Intra-op threads; `None` keeps ONNX Runtime's default (one per physical core).
        threads: Option<usize>,
        inputs: InputSpec,
    },
}

/// Request that the parent sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Absolute path of the ONNX Runtime shared library.
    pub library: PathBuf,
    pub job: Job,
}

/// A step of the worker's work, named in progress and in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the request and loading the ONNX Runtime library.
    Init,
    /// Creating a session with every optimization off.
    Load,
    /// Creating a session at the requested optimization level (and saving the graph).
    Optimize,
    /// Running the model on the inputs.
    Run,
    /// Warm-up and timed runs.
    Bench,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Init => "init",
            Phase::Load => "load",
            Phase::Optimize => "optimize",
            Phase::Run => "run",
            Phase::Bench => "bench",
        })
    }
}

/// Latencies of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchSamples {
    pub model: PathBuf,
    pub inputs: Vec<InputInfo>,
    /// Wall time of each timed run, in milliseconds, in run order.
    pub samples_ms: Vec<f64>,
}

/// Everything a successful job produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Path of the saved optimized model (optimize jobs).
    pub optimized: Option<PathBuf>,
    /// Inputs fed to both sessions (compare jobs).
    pub compare_inputs: Vec<InputInfo>,
    /// One entry per model output (compare jobs).
    pub compare_outputs: Vec<OutputDifference>,
    /// The quantized model first, then the float model when given (bench jobs).
    pub bench: Vec<BenchSamples>,
}

/// One line of the worker's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The library loaded; `build_info` is ONNX Runtime's build description.
    Ready { build_info: String },
    /// The worker entered `phase` on `model`, or finished `done` of `total` steps in it.
    Progress {
        phase: Phase,
        model: PathBuf,
        done: u64,
        total: u64,
    },
    /// The job succeeded. `warnings` are the messages ONNX Runtime logged at warning level.
    Finished {
        outcome: Outcome,
        warnings: Vec<String>,
    },
    /// The job failed with an error that ONNX Runtime or qlint reported.
    Failed {
        phase: Phase,
        model: Option<PathBuf>,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_tagged_json() {
        let event = Event::Progress {
            phase: Phase::Bench,
            model: "m.onnx".into(),
            done: 3,
            total: 10,
        };
        let text = serde_json::to_string(&event).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"event":"progress","phase":"bench","model":"m.onnx","done":3,"total":10}"#
        );
        let back: Result<Event, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(event));
    }

    #[test]
    fn request_round_trips() {
        let request = Request {
            library: "/lib/libonnxruntime.so.1.31.1".into(),
            job: Job::Compare {
                model: "m.onnx".into(),
                level: Level::Extended,
                inputs: InputSpec {
                    seed: 4,
                    shapes: BTreeMap::from([("x".to_string(), vec![1, 3, 8, 8])]),
                    files: BTreeMap::new(),
                },
            },
        };
        let text = serde_json::to_string(&request).unwrap_or_default();
        let back: Result<Request, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(request));
    }
}
