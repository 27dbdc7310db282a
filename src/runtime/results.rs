//! Results of an ONNX Runtime run as the report shows them: the library used, the optimized
//! model, output differences and latencies.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

use super::metrics::{Difference, percentile};
use super::protocol::{BenchSamples, Level};
use super::tensor::ElementType;

/// Serializes a path as text, with U+FFFD in place of bytes that are not UTF-8.
fn lossy_path<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

fn lossy_paths<S: Serializer>(path: &Option<PathBuf>, serializer: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => lossy_path(path, serializer),
        None => serializer.serialize_none(),
    }
}

/// One input fed to a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    pub name: String,
    pub element_type: ElementType,
    pub shape: Vec<i64>,
    /// The `.npy` file the values came from; `None` for seeded random values.
    #[serde(serialize_with = "lossy_paths")]
    pub file: Option<PathBuf>,
}

/// The difference on one model output between `ORT_DISABLE_ALL` and the chosen level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputDifference {
    pub name: String,
    pub element_type: ElementType,
    pub shape: Vec<i64>,
    #[serde(flatten)]
    pub difference: Difference,
}

/// Source of the ONNX Runtime library: the place qlint found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LibrarySource {
    /// The `ORT_DYLIB_PATH` environment variable.
    Env,
    /// A library file in the directory of the `qlint` binary.
    BesideBinary,
    /// The cache that `scripts/fetch-onnxruntime.sh` fills.
    Cache,
}

impl LibrarySource {
    /// Returns a phrase for text output, such as "set by ORT_DYLIB_PATH".
    pub fn describe(self) -> &'static str {
        match self {
            LibrarySource::Env => "set by ORT_DYLIB_PATH",
            LibrarySource::BesideBinary => "found next to the qlint binary",
            LibrarySource::Cache => "found in the scripts/fetch-onnxruntime.sh cache",
        }
    }
}

/// The result of `--optimize`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptimizeReport {
    pub level: Level,
    /// Path where ONNX Runtime saved the optimized model.
    #[serde(serialize_with = "lossy_path")]
    pub output: PathBuf,
}

/// The result of `--compare`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareReport {
    /// Always `disable_all`: the reference session runs the graph as written.
    pub baseline: Level,
    pub level: Level,
    /// Seed of the random inputs.
    pub seed: u64,
    pub inputs: Vec<InputInfo>,
    pub outputs: Vec<OutputDifference>,
}

/// Whether a benchmarked model is the one under test or its float reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchRole {
    Quantized,
    Float,
}

/// Latency of one benchmarked model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchModel {
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    pub role: BenchRole,
    pub inputs: Vec<InputInfo>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub mean_ms: f64,
}

impl BenchModel {
    /// Summarizes the timed runs of one model; `None` when there were none.
    pub fn from_samples(samples: &BenchSamples, role: BenchRole) -> Option<BenchModel> {
        let times = &samples.samples_ms;
        Some(BenchModel {
            path: samples.model.clone(),
            role,
            inputs: samples.inputs.clone(),
            p50_ms: percentile(times, 50.0)?,
            p90_ms: percentile(times, 90.0)?,
            mean_ms: times.iter().sum::<f64>() / times.len() as f64,
        })
    }
}

/// The result of `--bench`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    pub level: Level,
    pub runs: u32,
    pub warmup: u32,
    /// Intra-op threads; `None` is ONNX Runtime's default.
    pub threads: Option<usize>,
    /// Seed of the random inputs.
    pub seed: u64,
    pub models: Vec<BenchModel>,
    /// Float p50 latency divided by quantized p50 latency; above 1 means int8 is faster.
    pub speedup: Option<f64>,
}

impl BenchReport {
    /// Returns the entry of one role.
    pub fn model(&self, role: BenchRole) -> Option<&BenchModel> {
        self.models.iter().find(|m| m.role == role)
    }
}

/// Everything one `--optimize`, `--compare` or `--bench` run reports about ONNX Runtime.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuntimeReport {
    /// The shared library qlint loaded.
    #[serde(serialize_with = "lossy_path")]
    pub library: PathBuf,
    pub library_source: LibrarySource,
    /// The version the library reported; `None` when the worker failed before reporting it.
    pub ort_version: Option<String>,
    /// ONNX Runtime's build description (Git commit, build type), when the library loaded.
    pub ort_build_info: Option<String>,
    /// The model the run is about.
    #[serde(serialize_with = "lossy_path")]
    pub model: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimize: Option<OptimizeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchReport>,
    /// Messages ONNX Runtime logged at warning level or above.
    pub warnings: Vec<String>,
}
