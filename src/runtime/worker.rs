//! The worker process: reads one request, runs it in ONNX Runtime, and writes events.
//!
//! `qlint __ort-worker` calls [`serve`] with its standard input and output. Everything that
//! touches ONNX Runtime happens here, so an abort or a segmentation fault inside the library
//! ends this process only.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ort::session::Session;
use ort::value::DynValue;

use super::fault;
use super::inputs::build_inputs;
use super::metrics::difference;
use super::protocol::{BenchSamples, Event, InputSpec, Job, Level, Outcome, Phase, Request};
use super::results::{InputInfo, OutputDifference};
use super::session::{self, Runtime, SessionSpec};
use super::tensor::HostTensor;

/// Exit status after a `failed` event.
pub const EXIT_FAILED: u8 = 1;

/// A failure with the phase and model it happened in.
struct JobError {
    phase: Phase,
    model: Option<PathBuf>,
    message: String,
}

/// Writes events, one JSON line each, flushed at once so the parent receives progress as it happens.
struct Events<'a> {
    out: &'a mut dyn Write,
    phase: Phase,
    model: Option<PathBuf>,
}

impl Events<'_> {
    fn send(&mut self, event: &Event) {
        // A parent that stopped reading gets no more events; the worker ends with the job.
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        }
    }

    /// Announces `phase` on `model`, then fires the test hook for it.
    fn enter(&mut self, phase: Phase, model: &Path, total: u64) {
        self.phase = phase;
        self.model = Some(model.to_path_buf());
        self.send(&Event::Progress {
            phase,
            model: model.to_path_buf(),
            done: 0,
            total,
        });
        fault::inject(phase);
    }

    fn step(&mut self, done: u64, total: u64) {
        if let Some(model) = self.model.clone() {
            self.send(&Event::Progress {
                phase: self.phase,
                model,
                done,
                total,
            });
        }
    }

    /// Wraps a message as an error of the current phase and model.
    fn error(&self, message: impl Into<String>) -> JobError {
        JobError {
            phase: self.phase,
            model: self.model.clone(),
            message: message.into(),
        }
    }
}

/// Runs one request read from `input`, writing events to `output`. Returns the exit status.
pub fn serve(input: &mut dyn Read, output: &mut dyn Write) -> u8 {
    let mut events = Events {
        out: output,
        phase: Phase::Init,
        model: None,
    };
    fault::inject(Phase::Init);
    match run_request(input, &mut events) {
        Ok((outcome, warnings)) => {
            events.send(&Event::Finished { outcome, warnings });
            0
        }
        Err(error) => {
            events.send(&Event::Failed {
                phase: error.phase,
                model: error.model,
                message: error.message,
            });
            EXIT_FAILED
        }
    }
}

fn run_request(
    input: &mut dyn Read,
    events: &mut Events,
) -> Result<(Outcome, Vec<String>), JobError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| events.error(format!("cannot read the request: {e}")))?;
    let request: Request =
        serde_json::from_str(&text).map_err(|e| events.error(format!("invalid request: {e}")))?;
    let runtime = session::init(&request.library).map_err(|e| {
        events.error(format!(
            "cannot load ONNX Runtime from {}: {e}",
            request.library.display()
        ))
    })?;
    events.send(&Event::Ready {
        build_info: runtime.build_info.clone(),
    });
    let outcome = match &request.job {
        Job::Optimize {
            model,
            level,
            output,
        } => optimize(&runtime, events, model, *level, output),
        Job::Compare {
            model,
            level,
            inputs,
        } => compare(&runtime, events, model, *level, inputs),
        Job::Bench {
            model,
            float_model,
            level,
            runs,
            warmup,
            threads,
            inputs,
        } => {
            let settings = BenchSettings {
                level: *level,
                runs: *runs,
                warmup: *warmup,
                threads: *threads,
                inputs,
            };
            let mut bench = Vec::new();
            for path in std::iter::once(model).chain(float_model) {
                bench.push(bench_model(&runtime, events, path, &settings)?);
            }
            Ok(Outcome {
                bench,
                ..Outcome::default()
            })
        }
    }?;
    Ok((outcome, runtime.warnings.take()))
}

fn optimize(
    runtime: &Runtime,
    events: &mut Events,
    model: &Path,
    level: Level,
    output: &Path,
) -> Result<Outcome, JobError> {
    events.enter(Phase::Optimize, model, 0);
    let spec = SessionSpec {
        level: Some(level),
        save_to: Some(output),
        ..SessionSpec::default()
    };
    drop(session::create(runtime, model, &spec).map_err(|e| events.error(e))?);
    if !output.is_file() {
        let message = format!("ONNX Runtime did not write {}", output.display());
        return Err(events.error(message));
    }
    Ok(Outcome {
        optimized: Some(output.to_path_buf()),
        ..Outcome::default()
    })
}

fn compare(
    runtime: &Runtime,
    events: &mut Events,
    model: &Path,
    level: Level,
    spec: &InputSpec,
) -> Result<Outcome, JobError> {
    events.enter(Phase::Load, model, 0);
    let reference_spec = SessionSpec {
        level: Some(Level::DisableAll),
        ..SessionSpec::default()
    };
    let mut reference =
        session::create(runtime, model, &reference_spec).map_err(|e| events.error(e))?;
    events.enter(Phase::Optimize, model, 0);
    let optimized_spec = SessionSpec {
        level: Some(level),
        ..SessionSpec::default()
    };
    let mut optimized =
        session::create(runtime, model, &optimized_spec).map_err(|e| events.error(e))?;

    events.enter(Phase::Run, model, 2);
    let declared = session::declared(reference.inputs());
    let inputs = build_inputs(&declared, spec).map_err(|e| events.error(e))?;
    let expected = run(&mut reference, &inputs).map_err(|e| events.error(e))?;
    events.step(1, 2);
    let actual = run(&mut optimized, &inputs).map_err(|e| events.error(e))?;
    events.step(2, 2);

    let outputs = differences(expected, &actual, level).map_err(|e| events.error(e))?;
    Ok(Outcome {
        compare_inputs: inputs.into_iter().map(|(info, _)| info).collect(),
        compare_outputs: outputs,
        ..Outcome::default()
    })
}

/// Compares each output of the reference session with the same output of the optimized one.
fn differences(
    expected: Vec<OutputValues>,
    actual: &[OutputValues],
    level: Level,
) -> Result<Vec<OutputDifference>, String> {
    let mut outputs = Vec::with_capacity(expected.len());
    for (name, element_type, shape, values) in expected {
        let Some((_, _, other_shape, other)) = actual.iter().find(|(n, ..)| *n == name) else {
            return Err(format!("the optimized session has no output `{name}`"));
        };
        if *other_shape != shape {
            return Err(format!(
                "output `{name}` has shape {shape:?} without optimization but {other_shape:?} at level {}",
                level.as_str()
            ));
        }
        let difference = difference(&values, other).map_err(|e| format!("output `{name}`: {e}"))?;
        outputs.push(OutputDifference {
            name,
            element_type,
            shape,
            difference,
        });
    }
    Ok(outputs)
}

/// One output: name, element type, shape and values.
type OutputValues = (String, super::tensor::ElementType, Vec<i64>, Vec<f64>);

/// Runs `session` once and reads every output.
fn run(
    session: &mut Session,
    inputs: &[(InputInfo, HostTensor)],
) -> Result<Vec<OutputValues>, String> {
    let names: Vec<String> = session
        .outputs()
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    let mut values = Vec::with_capacity(inputs.len());
    for (info, tensor) in inputs {
        values.push((info.name.clone(), session::to_value(tensor)?));
    }
    let outputs = session.run(values).map_err(|e| e.to_string())?;
    let mut read = Vec::with_capacity(names.len());
    for name in names {
        let value = outputs
            .get(&name)
            .ok_or_else(|| format!("ONNX Runtime returned no output `{name}`"))?;
        let (element_type, shape, data) =
            session::from_value(value).map_err(|e| format!("output `{name}`: {e}"))?;
        read.push((name, element_type, shape, data));
    }
    Ok(read)
}

/// Settings shared by every benchmarked model.
struct BenchSettings<'a> {
    level: Level,
    runs: u32,
    warmup: u32,
    threads: Option<usize>,
    inputs: &'a InputSpec,
}

fn bench_model(
    runtime: &Runtime,
    events: &mut Events,
    model: &Path,
    settings: &BenchSettings,
) -> Result<BenchSamples, JobError> {
    events.enter(Phase::Optimize, model, 0);
    let spec = SessionSpec {
        level: Some(settings.level),
        threads: settings.threads,
        save_to: None,
    };
    let mut session = session::create(runtime, model, &spec).map_err(|e| events.error(e))?;
    let total = u64::from(settings.warmup) + u64::from(settings.runs);
    events.enter(Phase::Bench, model, total);
    let declared = session::declared(session.inputs());
    let inputs = build_inputs(&declared, settings.inputs).map_err(|e| events.error(e))?;
    let mut values = Vec::with_capacity(inputs.len());
    for (info, tensor) in &inputs {
        let value = session::to_value(tensor).map_err(|e| events.error(e))?;
        values.push((info.name.clone(), value));
    }
    let samples_ms = time_runs(&mut session, &values, settings, events)?;
    Ok(BenchSamples {
        model: model.to_path_buf(),
        inputs: inputs.into_iter().map(|(info, _)| info).collect(),
        samples_ms,
    })
}

/// Runs the warm-up and the timed runs, returning the wall time of each timed run in
/// milliseconds.
fn time_runs(
    session: &mut Session,
    values: &[(String, DynValue)],
    settings: &BenchSettings,
    events: &mut Events,
) -> Result<Vec<f64>, JobError> {
    let total = u64::from(settings.warmup) + u64::from(settings.runs);
    let mut samples_ms = Vec::with_capacity(settings.runs as usize);
    let mut last_report = Instant::now();
    for done in 1..=total {
        // Inputs are borrowed so every run reads the same buffers without copying them.
        let feed: Vec<(&str, &DynValue)> = values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
            .collect();
        let start = Instant::now();
        let outputs = session.run(feed).map_err(|e| events.error(e.to_string()))?;
        drop(outputs);
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if done > u64::from(settings.warmup) {
            samples_ms.push(elapsed);
        }
        if done == total || last_report.elapsed().as_millis() >= 100 {
            events.step(done, total);
            last_report = Instant::now();
        }
    }
    Ok(samples_ms)
}
