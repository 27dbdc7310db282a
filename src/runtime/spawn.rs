//! Starting the worker process. A result, an error, a crash or a timeout of the worker all
//! become a [`WorkerRun`]; its error names the model and the phase.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use super::progress::Progress;
use super::protocol::{Event, Outcome, Phase, Request, WORKER_ARG};

/// Maximum length of an event line from the worker. A bench outcome with 100 000 runs takes
/// about 2 MB (an estimate at 20 bytes per sample).
const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes of the worker's standard error kept for an error message.
const STDERR_TAIL_BYTES: usize = 2048;

/// Reason the worker produced no result.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerFailure {
    pub phase: Phase,
    pub model: Option<PathBuf>,
    pub message: String,
}

impl fmt::Display for WorkerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.model {
            Some(model) => write!(
                f,
                "ONNX Runtime failed on {} in phase `{}`: {}",
                model.display(),
                self.phase,
                self.message
            ),
            None => write!(
                f,
                "ONNX Runtime failed in phase `{}`: {}",
                self.phase, self.message
            ),
        }
    }
}

/// Result of one worker run.
pub struct WorkerRun {
    /// ONNX Runtime's build description, when the library loaded.
    pub build_info: Option<String>,
    /// The outcome and the warnings ONNX Runtime logged, or why there is none.
    pub result: Result<(Outcome, Vec<String>), WorkerFailure>,
}

/// Everything the event loop learned.
struct Seen {
    build_info: Option<String>,
    phase: Phase,
    model: Option<PathBuf>,
    finished: Option<(Outcome, Vec<String>)>,
    failed: Option<WorkerFailure>,
}

/// Runs `request` in `exe WORKER_ARG`, stopping the worker after `timeout`.
pub fn run_worker(
    exe: &Path,
    request: &Request,
    timeout: Duration,
    progress: &Progress,
) -> WorkerRun {
    let mut seen = Seen {
        build_info: None,
        phase: Phase::Init,
        model: None,
        finished: None,
        failed: None,
    };
    let fail = |seen: &Seen, message: String| WorkerRun {
        build_info: seen.build_info.clone(),
        result: Err(WorkerFailure {
            phase: seen.phase,
            model: seen.model.clone(),
            message,
        }),
    };
    let text = match serde_json::to_string(request) {
        Ok(text) => text,
        Err(e) => return fail(&seen, format!("cannot encode the request: {e}")),
    };
    let mut child = match Command::new(exe)
        .arg(WORKER_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let message = format!("cannot start the worker process {}: {e}", exe.display());
            return fail(&seen, message);
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that dies at once closes the pipe; its exit status explains why.
        let _ = stdin.write_all(text.as_bytes());
    }
    let stderr = child
        .stderr
        .take()
        .map(|pipe| thread::spawn(move || read_tail(pipe)));
    let lines = match child.stdout.take() {
        Some(stdout) => spawn_line_reader(stdout),
        None => return fail(&seen, "the worker has no standard output".into()),
    };

    let deadline = Instant::now() + timeout;
    let timed_out = !read_events(&lines, deadline, &mut seen, progress);
    let status = if timed_out {
        None
    } else {
        wait_until(&mut child, deadline)
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr_tail = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    progress.finish();

    let result = verdict(status, &mut seen, timeout, &stderr_tail);
    WorkerRun {
        build_info: seen.build_info,
        result,
    }
}

/// Decides the result from the exit status (`None` after a timeout) and the events seen.
fn verdict(
    status: Option<ExitStatus>,
    seen: &mut Seen,
    timeout: Duration,
    stderr_tail: &str,
) -> Result<(Outcome, Vec<String>), WorkerFailure> {
    let failure = |message: String| WorkerFailure {
        phase: seen.phase,
        model: seen.model.clone(),
        message,
    };
    match (status, seen.finished.take(), seen.failed.take()) {
        (Some(status), Some(finished), _) if status.success() => Ok(finished),
        // The worker sent its results and then died, for example in ONNX Runtime's teardown.
        (Some(status), Some((outcome, mut warnings)), _) => {
            warnings.push(format!("after finishing, {}", describe_exit(status)));
            Ok((outcome, warnings))
        }
        (_, _, Some(failed)) => Err(failed),
        (None, ..) => Err(failure(format!(
            "the worker did not finish within {} s and was stopped (raise --timeout if the model is slow)",
            timeout.as_secs()
        ))),
        (Some(status), ..) => Err(failure(with_stderr(describe_exit(status), stderr_tail))),
    }
}

/// Reads events until the worker closes its output. Returns false on timeout.
fn read_events(
    lines: &Receiver<Vec<u8>>,
    deadline: Instant,
    seen: &mut Seen,
    progress: &Progress,
) -> bool {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(remaining) {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => return false,
        };
        // Lines that are not events (text a library printed to standard output) are skipped.
        let Ok(event) = serde_json::from_slice::<Event>(&line) else {
            continue;
        };
        match event {
            Event::Ready { build_info } => seen.build_info = Some(build_info),
            Event::Progress {
                phase,
                model,
                done,
                total,
            } => {
                progress.update(phase, &model, done, total);
                seen.phase = phase;
                seen.model = Some(model);
            }
            Event::Finished { outcome, warnings } => seen.finished = Some((outcome, warnings)),
            Event::Failed {
                phase,
                model,
                message,
            } => {
                seen.failed = Some(WorkerFailure {
                    phase,
                    model,
                    message,
                })
            }
        }
    }
}

/// Reads standard output lines on a thread, so the caller can wait on them with a timeout.
fn spawn_line_reader(stdout: ChildStdout) -> Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match (&mut reader)
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut line)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    receiver
}

/// Waits for the worker to exit; `None` when `deadline` passes first.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Keeps the last [`STDERR_TAIL_BYTES`] of a stream.
fn read_tail(mut pipe: impl Read) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut chunk) {
        let Some(read) = chunk.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        tail.extend_from_slice(read);
        if tail.len() > STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}

fn with_stderr(message: String, stderr: &str) -> String {
    if stderr.is_empty() {
        message
    } else {
        format!("{message}; its last output: {stderr}")
    }
}

/// Describes how the worker ended without a result.
fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!(
                "the worker process crashed with signal {signal} ({})",
                signal_name(signal)
            );
        }
    }
    match status.code() {
        Some(code) => format!("the worker process exited with status {code} without a result"),
        None => "the worker process ended without a result".into(),
    }
}

/// Names the POSIX signals a crashing library raises (numbers as on Linux x86-64).
fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL, illegal instruction",
        6 => "SIGABRT, abort",
        7 => "SIGBUS, bus error",
        8 => "SIGFPE, arithmetic error",
        9 => "SIGKILL, killed",
        11 => "SIGSEGV, segmentation fault",
        15 => "SIGTERM, terminated",
        _ => "see `man 7 signal`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_tail_keeps_last_bytes() {
        let text = "a".repeat(5000) + "end of output";
        let tail = read_tail(text.as_bytes());
        assert_eq!(tail.len(), STDERR_TAIL_BYTES);
        assert!(tail.ends_with("end of output"));
    }

    #[test]
    fn failure_names_model_and_phase() {
        let failure = WorkerFailure {
            phase: Phase::Run,
            model: Some("m.onnx".into()),
            message: "boom".into(),
        };
        assert_eq!(
            failure.to_string(),
            "ONNX Runtime failed on m.onnx in phase `run`: boom"
        );
    }

    #[test]
    fn missing_executable_is_failure() {
        let request = Request {
            library: "/lib.so".into(),
            job: super::super::protocol::Job::Optimize {
                model: "m.onnx".into(),
                level: super::super::protocol::Level::All,
                output: "o.onnx".into(),
            },
        };
        let run = run_worker(
            Path::new("/no/such/qlint"),
            &request,
            Duration::from_secs(5),
            &Progress::new(false),
        );
        let message = run.result.err().map(|f| f.to_string()).unwrap_or_default();
        assert!(
            message.contains("cannot start the worker process /no/such/qlint"),
            "{message}"
        );
    }
}
