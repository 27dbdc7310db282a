//! One `--optimize`, `--compare` or `--bench` run: find the library, run the job in the worker,
//! then lint the model (and the optimized graph) with the measured facts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lint::{LintOptions, RuntimeFacts, lint, lint_with_runtime};
use crate::report::Report;
use crate::rules::RuleSet;

use super::facts::runtime_facts;
use super::library::{self, Library};
use super::progress::Progress;
use super::protocol::{InputSpec, Job, Level, Outcome, Request};
use super::results::{
    BenchModel, BenchReport, BenchRole, CompareReport, OptimizeReport, RuntimeReport,
};
use super::spawn::run_worker;

/// A job for ONNX Runtime.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeJob {
    /// Optimize `model` and lint both graphs. Without `save`, the optimized model goes into a
    /// new directory under the system's temporary directory. qlint leaves it in place so the
    /// file can be inspected, and the report names it.
    Optimize {
        model: PathBuf,
        level: Level,
        save: Option<PathBuf>,
    },
    /// Compare `ORT_DISABLE_ALL` with `level` on the same inputs.
    Compare {
        model: PathBuf,
        level: Level,
        inputs: InputSpec,
    },
    /// Time `model`, and `float_model` when given.
    Bench {
        model: PathBuf,
        float_model: Option<PathBuf>,
        level: Level,
        runs: u32,
        warmup: u32,
        threads: Option<usize>,
        inputs: InputSpec,
    },
}

impl RuntimeJob {
    /// Returns the model the job is about.
    pub fn model(&self) -> &Path {
        match self {
            RuntimeJob::Optimize { model, .. }
            | RuntimeJob::Compare { model, .. }
            | RuntimeJob::Bench { model, .. } => model,
        }
    }

    fn option(&self) -> &'static str {
        match self {
            RuntimeJob::Optimize { .. } => "--optimize",
            RuntimeJob::Compare { .. } => "--compare",
            RuntimeJob::Bench { .. } => "--bench",
        }
    }
}

/// How to run the worker.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    pub job: RuntimeJob,
    /// The `qlint` binary to start as the worker (normally `std::env::current_exe()`). The
    /// library search also starts from its directory.
    pub worker: PathBuf,
    /// Maximum time the worker may run.
    pub timeout: Duration,
    /// Whether to draw a progress bar on standard error (only when it is a terminal).
    pub progress: bool,
}

/// Runs the job and lints. The model is linted statically whatever happens in ONNX Runtime, and
/// a missing library or a failed or crashed worker becomes a run error in the report.
pub fn run(rules: &RuleSet, lint_options: &LintOptions, options: &RuntimeOptions) -> Report {
    let job = &options.job;
    let mut lint_options = lint_options.clone();
    lint_options.paths.push(job.model().to_path_buf());

    match check_models(job) {
        ModelCheck::Ready => {}
        ModelCheck::Missing => return lint(rules, &lint_options),
        ModelCheck::Invalid(message) => {
            let mut report = lint(rules, &lint_options);
            report.errors.push(message);
            return report;
        }
    }
    let library = match library::locate(&options.worker) {
        Ok(library) => library,
        Err(message) => {
            let mut report = lint(rules, &lint_options);
            report
                .errors
                .push(format!("{} needs ONNX Runtime: {message}", job.option()));
            return report;
        }
    };
    let mut runtime = RuntimeReport {
        library: library.path.clone(),
        library_source: library.source,
        ort_version: library::version_of(&library.path),
        ort_build_info: None,
        model: job.model().to_path_buf(),
        optimize: None,
        compare: None,
        bench: None,
        warnings: Vec::new(),
    };
    let request = match request(job, &library) {
        Ok(request) => request,
        Err(message) => {
            let mut report = lint(rules, &lint_options);
            report.errors.push(message);
            report.runtime = Some(runtime);
            return report;
        }
    };

    let progress = Progress::new(options.progress);
    let worker = run_worker(&options.worker, &request, options.timeout, &progress);
    runtime.ort_build_info = worker.build_info;
    let mut report = match worker.result {
        Ok((outcome, warnings)) => {
            runtime.warnings = warnings;
            record(&mut runtime, &request.job, outcome);
            if let Some(optimized) = &runtime.optimize {
                lint_options.optimized.push(optimized.output.clone());
            }
            let facts = RuntimeFacts::from([(job.model().to_path_buf(), runtime_facts(&runtime))]);
            lint_with_runtime(rules, &lint_options, &facts)
        }
        Err(failure) => {
            let mut report = lint(rules, &lint_options);
            report.errors.push(failure.to_string());
            report
        }
    };
    report.runtime = Some(runtime);
    report
}

/// Whether the job's model files can go to ONNX Runtime.
enum ModelCheck {
    Ready,
    /// The model does not exist; the static lint already reports it as an input error.
    Missing,
    /// A run error to report.
    Invalid(String),
}

fn check_models(job: &RuntimeJob) -> ModelCheck {
    let model = job.model();
    if !model.exists() {
        return ModelCheck::Missing;
    }
    if !model.is_file() {
        return ModelCheck::Invalid(format!(
            "{} needs an ONNX model file, and {} is not a file",
            job.option(),
            model.display()
        ));
    }
    let is_onnx = |path: &std::path::Path| {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
    };
    if !is_onnx(model) {
        return ModelCheck::Invalid(format!(
            "{} runs ONNX Runtime, which reads ONNX files only, and {} is not an .onnx file: \
             export a Paddle model with Paddle2ONNX first",
            job.option(),
            model.display()
        ));
    }
    if let RuntimeJob::Bench {
        float_model: Some(float),
        ..
    } = job
        && !float.is_file()
    {
        return ModelCheck::Invalid(format!("--float-model {}: not a file", float.display()));
    }
    ModelCheck::Ready
}

/// Builds the worker's request, choosing where the optimized model goes.
fn request(job: &RuntimeJob, library: &Library) -> Result<Request, String> {
    let job = match job.clone() {
        RuntimeJob::Optimize { model, level, save } => {
            let output = match save {
                Some(path) => check_output(&model, path)?,
                None => default_output(&model, level)?,
            };
            Job::Optimize {
                model,
                level,
                output,
            }
        }
        RuntimeJob::Compare {
            model,
            level,
            inputs,
        } => Job::Compare {
            model,
            level,
            inputs,
        },
        RuntimeJob::Bench {
            model,
            float_model,
            level,
            runs,
            warmup,
            threads,
            inputs,
        } => Job::Bench {
            model,
            float_model,
            level,
            runs,
            warmup,
            threads,
            inputs,
        },
    };
    Ok(Request {
        library: library.path.clone(),
        job,
    })
}

/// Rejects a `--save-optimized` path that would overwrite the model itself.
fn check_output(model: &Path, output: PathBuf) -> Result<PathBuf, String> {
    let same = match (std::fs::canonicalize(model), std::fs::canonicalize(&output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(format!(
            "--save-optimized {} would overwrite the model: choose another path",
            output.display()
        ));
    }
    Ok(output)
}

/// Creates a new directory under the system's temporary directory, kept after qlint exits, and
/// returns a file path in it named like ORT's outputs in the corpus: `<stem>.ort_<level>.onnx`.
fn default_output(model: &Path, level: Level) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix("qlint-optimize-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory for the optimized model: {e}"))?
        .keep();
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    Ok(dir.join(format!("{stem}.ort_{}.onnx", level.as_str())))
}

/// Moves the worker's outcome into the report.
fn record(runtime: &mut RuntimeReport, job: &Job, outcome: Outcome) {
    match job {
        Job::Optimize { level, output, .. } => {
            runtime.optimize = Some(OptimizeReport {
                level: *level,
                output: outcome.optimized.unwrap_or_else(|| output.clone()),
            });
        }
        Job::Compare { level, inputs, .. } => {
            runtime.compare = Some(CompareReport {
                baseline: Level::DisableAll,
                level: *level,
                seed: inputs.seed,
                inputs: outcome.compare_inputs,
                outputs: outcome.compare_outputs,
            });
        }
        Job::Bench {
            level,
            runs,
            warmup,
            threads,
            inputs,
            ..
        } => {
            let roles = [BenchRole::Quantized, BenchRole::Float];
            let models: Vec<BenchModel> = outcome
                .bench
                .iter()
                .zip(roles)
                .filter_map(|(samples, role)| BenchModel::from_samples(samples, role))
                .collect();
            let p50 = |role| models.iter().find(|m| m.role == role).map(|m| m.p50_ms);
            let speedup = match (p50(BenchRole::Quantized), p50(BenchRole::Float)) {
                (Some(quantized), Some(float)) if quantized > 0.0 => Some(float / quantized),
                _ => None,
            };
            runtime.bench = Some(BenchReport {
                level: *level,
                runs: *runs,
                warmup: *warmup,
                threads: *threads,
                seed: inputs.seed,
                models,
                speedup,
            });
        }
    }
}
