//! A progress bar on standard error for ONNX Runtime work, drawn by indicatif.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::protocol::Phase;

/// Progress of the worker; draws nothing unless standard error is a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Creates the bar; `enabled` false (or standard error not a terminal) hides it.
    pub fn new(enabled: bool) -> Self {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::default_spinner());
        bar.set_message("starting ONNX Runtime");
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// Shows the worker's phase and model, with a bar when the phase has counted steps.
    pub fn update(&self, phase: Phase, model: &Path, done: u64, total: u64) {
        let name = model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model.display().to_string());
        self.bar.set_message(format!("{phase} {name}"));
        if total > 0 {
            self.bar.set_style(bar_style());
            self.bar.set_length(total);
            self.bar.set_position(done);
        } else {
            self.bar.set_style(ProgressStyle::default_spinner());
            self.bar.unset_length();
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
