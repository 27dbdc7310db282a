//! JUnit XML output for CI systems that show test reports.
//!
//! Each input path is a `<testsuite>`, and each finding is a `<testcase>` named `CODE node`.
//! Errors and warnings fail their test case, while an info passes and keeps its text in
//! `<system-out>`. An unreadable input is a `load` test case with an `<error>`. A path without
//! findings gets one passing `lint` case so that it still shows up. Run errors go in a
//! `qlint` suite.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::common::{
    display_path, input_error_text, message_with_node, node_list, sorted_findings, sorted_inputs,
};
use super::{Finding, Renderer, Report, Severity};

/// Renderer of one JUnit XML document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JunitRenderer;

/// One `<testcase>`: its name and what, if anything, went wrong.
struct TestCase {
    name: String,
    outcome: Outcome,
}

enum Outcome {
    Passed {
        output: Option<String>,
    },
    Failure {
        kind: &'static str,
        message: String,
        body: String,
    },
    Error {
        message: String,
    },
}

impl Renderer for JunitRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let suites = build_suites(report);
        let all_cases = suites.values().flatten();
        let tests = all_cases.clone().count();
        let (failures, errors) = count_outcomes(all_cases);

        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="qlint" tests="{tests}" failures="{failures}" errors="{errors}">"#
        )?;
        for (name, cases) in &suites {
            write_suite(name, cases, out)?;
        }
        writeln!(out, "</testsuites>")
    }
}

/// Groups test cases by suite name. Model paths sort by path components, like findings do.
fn build_suites(report: &Report) -> BTreeMap<SuiteKey<'_>, Vec<TestCase>> {
    let mut suites: BTreeMap<SuiteKey, Vec<TestCase>> = BTreeMap::new();
    for input in sorted_inputs(report) {
        let cases = suites.entry(SuiteKey::Model(&input.path)).or_default();
        if let Some(error) = &input.error {
            cases.push(TestCase {
                name: "load".to_string(),
                outcome: Outcome::Error {
                    message: input_error_text(input, error),
                },
            });
        }
    }
    for finding in sorted_findings(report) {
        let cases = suites.entry(SuiteKey::Model(&finding.path)).or_default();
        cases.push(finding_case(finding));
    }
    for cases in suites.values_mut().filter(|cases| cases.is_empty()) {
        cases.push(TestCase {
            name: "lint".to_string(),
            outcome: Outcome::Passed { output: None },
        });
    }

    let run_errors = report.errors.iter().map(|error| TestCase {
        name: "run".to_string(),
        outcome: Outcome::Error {
            message: error.clone(),
        },
    });
    let run_errors: Vec<TestCase> = run_errors.collect();
    if !run_errors.is_empty() {
        suites.insert(SuiteKey::Run, run_errors);
    }
    suites
}

/// A suite's identity: a model path, or the run itself (sorted after every model).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SuiteKey<'a> {
    Model(&'a Path),
    Run,
}

impl SuiteKey<'_> {
    fn name(&self) -> String {
        match self {
            SuiteKey::Model(path) => display_path(path),
            SuiteKey::Run => "qlint".to_string(),
        }
    }
}

fn finding_case(finding: &Finding) -> TestCase {
    let name = match &finding.node {
        Some(node) => format!("{} {node}", finding.code),
        None => finding.code.clone(),
    };
    let mut body = format!("{} [{}]", message_with_node(finding), finding.code);
    if !finding.help.is_empty() {
        body.push_str(&format!("\nhelp: {}", finding.help));
    }
    if !finding.nodes.is_empty() {
        body.push_str(&format!("\nnodes: {}", node_list(&finding.nodes)));
    }

    // Only errors fail a test case, matching qlint's default `--fail-on error`, so a run that
    // exits 0 never shows failed tests.
    let outcome = match finding.severity {
        Severity::Info | Severity::Warning => Outcome::Passed { output: Some(body) },
        severity => Outcome::Failure {
            kind: severity.as_str(),
            message: message_with_node(finding),
            body,
        },
    };
    TestCase { name, outcome }
}

fn count_outcomes<'a>(cases: impl Iterator<Item = &'a TestCase>) -> (usize, usize) {
    let (mut failures, mut errors) = (0, 0);
    for case in cases {
        match case.outcome {
            Outcome::Passed { .. } => {}
            Outcome::Failure { .. } => failures += 1,
            Outcome::Error { .. } => errors += 1,
        }
    }
    (failures, errors)
}

fn write_suite(key: &SuiteKey<'_>, cases: &[TestCase], out: &mut dyn io::Write) -> io::Result<()> {
    let name = escape_attribute(&key.name());
    let (failures, errors) = count_outcomes(cases.iter());
    let tests = cases.len();
    writeln!(
        out,
        r#"  <testsuite name="{name}" tests="{tests}" failures="{failures}" errors="{errors}" skipped="0">"#
    )?;
    for case in cases {
        write_case(&name, case, out)?;
    }
    writeln!(out, "  </testsuite>")
}

fn write_case(classname: &str, case: &TestCase, out: &mut dyn io::Write) -> io::Result<()> {
    let name = escape_attribute(&case.name);
    let open = format!(r#"    <testcase name="{name}" classname="{classname}""#);
    match &case.outcome {
        Outcome::Passed { output: None } => writeln!(out, "{open}/>"),
        Outcome::Passed {
            output: Some(output),
        } => {
            writeln!(out, "{open}>")?;
            writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape_text(output)
            )?;
            writeln!(out, "    </testcase>")
        }
        Outcome::Failure {
            kind,
            message,
            body,
        } => {
            writeln!(out, "{open}>")?;
            let message = escape_attribute(message);
            let body = escape_text(body);
            writeln!(
                out,
                r#"      <failure type="{kind}" message="{message}">{body}</failure>"#
            )?;
            writeln!(out, "    </testcase>")
        }
        Outcome::Error { message } => {
            writeln!(out, "{open}>")?;
            let message = escape_attribute(message);
            writeln!(out, r#"      <error type="error" message="{message}"/>"#)?;
            writeln!(out, "    </testcase>")
        }
    }
}

/// Escapes character data. Characters that XML 1.0 cannot hold at all (most C0 controls,
/// U+FFFE, U+FFFF) become U+FFFD.
fn escape_text(text: &str) -> String {
    escape_xml(text, false)
}

/// Escapes an attribute value. Tab, LF and CR become character references, because an XML
/// parser turns literal ones into spaces inside attributes.
fn escape_attribute(text: &str) -> String {
    escape_xml(text, true)
}

fn escape_xml(text: &str, attribute: bool) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' if attribute => escaped.push_str("&quot;"),
            '\t' if attribute => escaped.push_str("&#9;"),
            '\n' if attribute => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' | '\n' => escaped.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => escaped.push('\u{fffd}'),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_report;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        let result = JunitRenderer.render(report, &mut out);
        assert!(result.is_ok(), "render failed: {result:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn junit_sample_report_snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn junit_totals_count_outcomes() {
        let text = render(&sample_report());
        // 5 findings (4 fail, 1 info passes), 1 load error, 1 run error, 1 clean model.
        let header = r#"<testsuites name="qlint" tests="8" failures="2" errors="2">"#;
        assert!(text.contains(header), "{text}");
    }

    #[test]
    fn junit_suite_per_path() {
        let text = render(&sample_report());
        assert_eq!(text.matches("<testsuite ").count(), 6);
        assert_eq!(text.matches("</testsuite>").count(), 6);
        assert!(text.contains(r#"<testsuite name="broken models/cut,short:1.onnx""#));
    }

    #[test]
    fn escape_text_handles_markup_and_controls() {
        assert_eq!(escape_text("a < b & c > d"), "a &lt; b &amp; c &gt; d");
        assert_eq!(escape_text("line\nnext\ttab\r"), "line\nnext\ttab&#13;");
        assert_eq!(escape_text("bell\u{7}"), "bell\u{fffd}");
        assert_eq!(escape_text("\"quoted\""), "\"quoted\"");
    }

    #[test]
    fn escape_attribute_keeps_whitespace() {
        assert_eq!(
            escape_attribute("say \"hi\"\n\t"),
            "say &quot;hi&quot;&#10;&#9;"
        );
    }

    #[test]
    fn junit_output_is_deterministic() {
        let report = sample_report();
        assert_eq!(render(&report), render(&report));
    }
}
