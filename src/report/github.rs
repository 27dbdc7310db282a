//! GitHub Actions workflow commands, which the runner turns into annotations on the run.
//!
//! One command per finding, for example
//! `::warning file=m.onnx,title=QL303 float-activation-between-quantized-ops::Relu.0 (Relu): ...`.
//! Values are escaped as `@actions/core` escapes them (`packages/core/src/command.ts`): `%`, CR
//! and LF in the message, and also `:` and `,` in properties, which would otherwise end the
//! property list.

use std::io;

use super::common::{
    input_error_text, message_with_node, node_list, slash_path, sorted_findings, sorted_inputs,
};
use super::{Finding, Renderer, Report, Severity};

/// Renderer of one workflow command per finding, unreadable input and run error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GithubRenderer;

impl Renderer for GithubRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        for finding in sorted_findings(report) {
            write_finding(finding, out)?;
        }
        for input in sorted_inputs(report) {
            if let Some(error) = &input.error {
                let file = escape_property(&slash_path(&input.path));
                let message = escape_data(&input_error_text(input, error));
                writeln!(
                    out,
                    "::error file={file},title=qlint input error::{message}"
                )?;
            }
        }
        for error in &report.errors {
            writeln!(out, "::error title=qlint run error::{}", escape_data(error))?;
        }
        Ok(())
    }
}

fn write_finding(finding: &Finding, out: &mut dyn io::Write) -> io::Result<()> {
    let command = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let file = escape_property(&slash_path(&finding.path));
    let title = escape_property(&format!("{} {}", finding.code, finding.name));

    let mut message = message_with_node(finding);
    if !finding.help.is_empty() {
        message.push_str("\nhelp: ");
        message.push_str(&finding.help);
    }
    if !finding.nodes.is_empty() {
        message.push_str("\nnodes: ");
        message.push_str(&node_list(&finding.nodes));
    }
    writeln!(
        out,
        "::{command} file={file},title={title}::{}",
        escape_data(&message)
    )
}

/// Escapes a command's message: `%`, CR and LF.
fn escape_data(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '%' => escaped.push_str("%25"),
            '\r' => escaped.push_str("%0D"),
            '\n' => escaped.push_str("%0A"),
            // Other control characters (ESC, NUL, BEL) could drive the log viewer's terminal.
            other if other.is_control() => escaped.push_str(&format!("%{:02X}", u32::from(other))),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Escapes a property value: like [`escape_data`], plus `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_report;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        let result = GithubRenderer.render(report, &mut out);
        assert!(result.is_ok(), "render failed: {result:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn github_sample_report_snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn escape_data_encodes_percent_first() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_data("a: b, c"), "a: b, c");
    }

    #[test]
    fn escape_property_encodes_separators() {
        assert_eq!(escape_property("run 2, final: v1"), "run 2%2C final%3A v1");
        assert_eq!(escape_property("50%\n"), "50%25%0A");
    }

    #[test]
    fn github_one_line_per_command() {
        let text = render(&sample_report());
        // 5 findings, 1 unreadable input, 1 run error.
        assert_eq!(text.lines().count(), 7);
        assert!(text.lines().all(|line| line.starts_with("::")));
    }

    #[test]
    fn github_severity_commands() {
        let text = render(&sample_report());
        let commands: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("::")?.split(' ').next())
            .collect();
        assert_eq!(
            commands,
            [
                "notice", "error", "warning", "warning", "error", "error", "error"
            ]
        );
    }

    #[test]
    fn github_output_is_deterministic() {
        let report = sample_report();
        assert_eq!(render(&report), render(&report));
    }
}
