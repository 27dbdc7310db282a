//! Test hook: makes the worker fail on purpose, so tests can prove that qlint survives a crash
//! inside ONNX Runtime without needing a model that crashes it.
//!
//! Only the worker reads the variable, at the start of each phase. Its value is `KIND@PHASE`.
//! KIND is `abort` (the process aborts with SIGABRT, as it does when ONNX Runtime throws a C++
//! exception that nothing catches), `exit` (exit status 70 without a final message) or `hang`
//! (sleep until the parent's timeout kills it). PHASE is `init`, `load`, `optimize`, `run` or
//! `bench`.

use std::time::Duration;

use super::protocol::Phase;

/// The variable that arms the hook.
pub const FAULT_ENV: &str = "QLINT_TEST_WORKER_FAULT";

/// Exit status of the `exit` fault (EX_SOFTWARE in BSD's sysexits.h).
pub const FAULT_EXIT_STATUS: i32 = 70;

/// Fails as the hook requests when it names `phase`, and returns otherwise.
pub fn inject(phase: Phase) {
    let Some(value) = std::env::var_os(FAULT_ENV) else {
        return;
    };
    let value = value.to_string_lossy();
    let Some((kind, at)) = value.split_once('@') else {
        return;
    };
    if at != phase.to_string() {
        return;
    }
    match kind {
        "abort" => std::process::abort(),
        "exit" => std::process::exit(FAULT_EXIT_STATUS),
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => {}
    }
}
