//! Human-readable output: one line per finding, colored by severity, and a summary table.
//!
//! Layout, for each finding in output order:
//!
//! ```text
//! warning: model.onnx: Relu.0 (Relu): float `Relu` between `QLinearConv` outputs [QL303]
//!   help: Fold the activation into the quantized op
//!   nodes: a, b, c
//! ```
//!
//! then one `error:` line per unreadable input and per run error, the summary table, the ONNX
//! Runtime section after `--optimize`, `--compare` or `--bench`, and a closing line with totals.

use std::io;

use colored::Color;

use super::common::{
    count_noun, display_path, input_error_text, linted_models, node_label, node_list, printable,
    sorted_findings, sorted_inputs,
};
use super::runtime::runtime_section;
use super::table::summary_table;
use super::{Finding, Renderer, Report, Severity};

/// Renderer for terminals and log files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextRenderer {
    /// Whether to color severity words with ANSI escape codes and draw the table with box
    /// characters.
    pub color: bool,
}

impl Renderer for TextRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let mut wrote_lines = false;
        for finding in sorted_findings(report) {
            self.write_finding(finding, out)?;
            wrote_lines = true;
        }

        let error_word = self.severity_word(Severity::Error);
        for input in sorted_inputs(report) {
            if let Some(error) = &input.error {
                let text = printable(&input_error_text(input, error));
                writeln!(out, "{error_word}: {text}")?;
                wrote_lines = true;
            }
        }
        for error in &report.errors {
            writeln!(out, "{error_word}: {}", printable(error))?;
            wrote_lines = true;
        }

        if let Some(table) = summary_table(report, self.color) {
            if wrote_lines {
                writeln!(out)?;
            }
            writeln!(out, "{table}")?;
            wrote_lines = true;
        }

        if let Some(runtime) = &report.runtime {
            if wrote_lines {
                writeln!(out)?;
            }
            writeln!(out, "{}", runtime_section(runtime, self.color))?;
            wrote_lines = true;
        }

        if wrote_lines {
            writeln!(out)?;
        }
        writeln!(out, "{}", totals_line(report))
    }
}

impl TextRenderer {
    fn write_finding(&self, finding: &Finding, out: &mut dyn io::Write) -> io::Result<()> {
        let word = self.severity_word(finding.severity);
        let path = printable(&display_path(&finding.path));
        let message = printable(&finding.message);
        let code = printable(&finding.code);
        match node_label(finding) {
            Some(location) => {
                let location = printable(&location);
                writeln!(out, "{word}: {path}: {location}: {message} [{code}]")?
            }
            None => writeln!(out, "{word}: {path}: {message} [{code}]")?,
        }

        if !finding.help.is_empty() {
            writeln!(out, "  help: {}", printable(&finding.help))?;
        }
        if !finding.nodes.is_empty() {
            writeln!(out, "  nodes: {}", printable(&node_list(&finding.nodes)))?;
        }
        Ok(())
    }

    /// Returns the severity word, in bold color when `color` is set.
    ///
    /// The escape codes are written here rather than through `colored`'s `Display`, because
    /// that consults a process-wide switch (stdout a terminal, `NO_COLOR`, `CLICOLOR`) and
    /// this renderer may write to a file or a buffer. The caller decides through `color`.
    fn severity_word(&self, severity: Severity) -> String {
        let word = severity.as_str();
        if !self.color {
            return word.to_string();
        }
        let color = match severity {
            Severity::Error => Color::Red,
            Severity::Warning => Color::Yellow,
            Severity::Info => Color::Cyan,
        };
        format!("\x1b[1;{}m{word}\x1b[0m", color.to_fg_str())
    }
}

/// Builds the closing line, such as `Found 1 error, 2 warnings in 3 models.`
fn totals_line(report: &Report) -> String {
    let counts: Vec<String> = [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Info, "info"),
    ]
    .into_iter()
    .map(|(severity, noun)| (report.count(severity), noun))
    .filter(|&(count, _)| count > 0)
    .map(|(count, noun)| count_noun(count, noun))
    .collect();

    let models = count_noun(linted_models(report), "model");
    let mut line = if counts.is_empty() {
        format!("No findings in {models}.")
    } else {
        format!("Found {} in {models}.", counts.join(", "))
    };

    let unreadable = report
        .inputs
        .iter()
        .filter(|input| input.error.is_some())
        .count();
    if unreadable == 1 {
        line.push_str(" 1 input could not be read.");
    } else if unreadable > 1 {
        line.push_str(&format!(" {unreadable} inputs could not be read."));
    }
    if !report.errors.is_empty() {
        line.push_str(&format!(
            " {}.",
            count_noun(report.errors.len(), "run error")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_report;

    fn render(report: &Report, color: bool) -> String {
        let mut out = Vec::new();
        let result = TextRenderer { color }.render(report, &mut out);
        assert!(result.is_ok(), "render failed: {result:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn text_sample_report_snapshot() {
        insta::assert_snapshot!(render(&sample_report(), false));
    }

    #[test]
    fn text_colored_words_have_escape_codes() {
        let text = render(&sample_report(), true);
        assert!(text.contains("\x1b[1;31merror\x1b[0m: testdata/corpus/convnet/pd262-B_fake"));
        assert!(text.contains("\x1b[1;33mwarning\x1b[0m: "));
        assert!(text.contains("\x1b[1;36minfo\x1b[0m: "));
    }

    #[test]
    fn text_without_color_has_no_escape_codes() {
        let text = render(&sample_report(), false);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn text_output_is_deterministic() {
        let report = sample_report();
        assert_eq!(render(&report, true), render(&report, true));
        assert_eq!(render(&report, false), render(&report, false));
    }

    #[test]
    fn text_empty_report_says_no_findings() {
        assert_eq!(
            render(&Report::default(), false),
            "No findings in 0 models.\n"
        );
    }

    #[test]
    fn totals_line_counts_each_severity() {
        let report = sample_report();
        assert_eq!(
            totals_line(&report),
            "Found 2 errors, 2 warnings, 1 info in 4 models. \
             1 input could not be read. 1 run error."
        );
    }

    #[test]
    fn totals_line_without_findings() {
        let mut report = sample_report();
        report.findings.clear();
        report.errors.clear();
        report.inputs.retain(|input| input.error.is_none());
        assert_eq!(totals_line(&report), "No findings in 4 models.");
    }
}
