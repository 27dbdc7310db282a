//! Pieces of output that several formats share: deterministic order, node locations, path
//! spellings and count phrases.

use std::path::{Component, Path};

use super::{Finding, InputReport, Report};

/// Maximum number of node ids listed for one finding before the rest are counted.
pub(crate) const NODE_LIST_LIMIT: usize = 8;

/// Returns the findings in output order (path, stage, node id, code, message).
///
/// Renderers sort on their own so that output is deterministic even when the caller did not
/// call [`Report::sort`]. The sort is stable, so findings with equal keys keep their order.
pub(crate) fn sorted_findings(report: &Report) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_cached_key(|finding| finding.sort_key());
    findings
}

/// Returns the inputs in output order (path, then stage).
pub(crate) fn sorted_inputs(report: &Report) -> Vec<&InputReport> {
    let mut inputs: Vec<&InputReport> = report.inputs.iter().collect();
    inputs.sort_by(|a, b| a.path.cmp(&b.path).then(a.stage.cmp(&b.stage)));
    inputs
}

/// Counts the inputs that were read and linted.
pub(crate) fn linted_models(report: &Report) -> usize {
    report
        .inputs
        .iter()
        .filter(|input| input.error.is_none())
        .count()
}

/// Replaces control characters (newlines, carriage returns, ESC, NUL, BEL, ...) with `\u{..}`
/// escapes, so names and paths taken from a model cannot forge lines or terminal sequences in
/// text output.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Formats a path as given on the command line, for text, JSON and JUnit output.
// NOTE: a path that is not valid UTF-8 is shown with U+FFFD in place of the invalid bytes.
pub(crate) fn display_path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Formats a path with `/` between components on every platform, for GitHub annotations and
/// SARIF fingerprints.
pub(crate) fn slash_path(path: &Path) -> String {
    let mut text = String::new();
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => text.push_str(&prefix.as_os_str().to_string_lossy()),
            Component::RootDir => text.push('/'),
            Component::CurDir => push_segment(&mut text, "."),
            Component::ParentDir => push_segment(&mut text, ".."),
            Component::Normal(name) => push_segment(&mut text, &name.to_string_lossy()),
        }
    }
    text
}

fn push_segment(text: &mut String, segment: &str) {
    if !text.is_empty() && !text.ends_with('/') {
        text.push('/');
    }
    text.push_str(segment);
}

/// Describes where a finding sits: `node (OpType)`, just `node`, or `None` for the model.
pub(crate) fn node_label(finding: &Finding) -> Option<String> {
    let node = finding.node.as_deref()?;
    Some(match finding.op_type.as_deref() {
        Some(op_type) => format!("{node} ({op_type})"),
        None => node.to_string(),
    })
}

/// Prefixes the message with the node location when there is one: `node (OpType): message`.
pub(crate) fn message_with_node(finding: &Finding) -> String {
    match node_label(finding) {
        Some(location) => format!("{location}: {}", finding.message),
        None => finding.message.clone(),
    }
}

/// Lists node ids, cut after [`NODE_LIST_LIMIT`] with a count of the rest.
pub(crate) fn node_list(nodes: &[String]) -> String {
    let listed = nodes.iter().take(NODE_LIST_LIMIT);
    let mut text = listed.map(String::as_str).collect::<Vec<_>>().join(", ");
    let hidden = nodes.len().saturating_sub(NODE_LIST_LIMIT);
    if hidden > 0 {
        text.push_str(&format!(", ... and {hidden} more"));
    }
    text
}

/// Formats a count with its noun, adding `s` unless the count is one: `1 error`, `2 infos`.
pub(crate) fn count_noun(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Returns the text of an input's error with the path in front unless the error already starts
/// with it (load errors name their file).
pub(crate) fn input_error_text(input: &InputReport, error: &str) -> String {
    let path = display_path(&input.path);
    if error.starts_with(&path) {
        error.to_string()
    } else {
        format!("{path}: {error}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|index| format!("n{index}")).collect()
    }

    #[test]
    fn node_list_keeps_short_lists_whole() {
        assert_eq!(node_list(&names(3)), "n0, n1, n2");
        assert_eq!(node_list(&names(8)), "n0, n1, n2, n3, n4, n5, n6, n7");
    }

    #[test]
    fn node_list_counts_the_rest() {
        let text = node_list(&names(12));
        assert_eq!(text, "n0, n1, n2, n3, n4, n5, n6, n7, ... and 4 more");
    }

    #[test]
    fn count_noun_plural() {
        assert_eq!(count_noun(0, "error"), "0 errors");
        assert_eq!(count_noun(1, "info"), "1 info");
        assert_eq!(count_noun(2, "warning"), "2 warnings");
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(
            printable("Relu\nerror: forged\u{1b}[2J"),
            "Relu\\u{a}error: forged\\u{1b}[2J"
        );
        assert_eq!(printable("plain × text"), "plain × text");
    }

    #[test]
    fn slash_path_joins_components() {
        assert_eq!(slash_path(Path::new("a/b/c.onnx")), "a/b/c.onnx");
        assert_eq!(slash_path(Path::new("/abs/./m.onnx")), "/abs/m.onnx");
        assert_eq!(slash_path(Path::new("./m.onnx")), "./m.onnx");
        assert_eq!(slash_path(Path::new("../up/m.onnx")), "../up/m.onnx");
    }

    #[test]
    fn input_error_text_adds_missing_path() {
        let input = InputReport {
            path: PathBuf::from("m.onnx"),
            kind: None,
            stage: None,
            error: None,
            summary: None,
        };
        assert_eq!(input_error_text(&input, "truncated"), "m.onnx: truncated");
        assert_eq!(
            input_error_text(&input, "m.onnx: truncated"),
            "m.onnx: truncated"
        );
    }
}
