//! Rule documentation for `--explain CODE` and `--list-rules`.

use std::fmt::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::{Rule, RuleSet, SeverityRule};

/// Renders one rule's documentation: summary, stages, severity, why, fix, example and known
/// problems.
pub fn explain(rule: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}: {}", rule.code, rule.name, rule.summary);
    let _ = writeln!(out);
    let _ = writeln!(out, "stages:   {}", rule.stage_names());
    let _ = writeln!(out, "severity: {}", severity_text(rule));
    let _ = writeln!(out, "source:   {}", rule.source);
    for (title, body) in [("Why", &rule.why), ("Fix", &rule.fix)] {
        let _ = writeln!(out, "\n{title}\n{}", wrap(body, 80));
    }
    let _ = writeln!(out, "\nExample");
    for line in rule.example.lines() {
        let _ = writeln!(out, "    {line}");
    }
    if let Some(known) = &rule.known_problems {
        let _ = writeln!(out, "\nKnown problems\n{}", wrap(known, 80));
    }
    out
}

fn severity_text(rule: &Rule) -> String {
    match &rule.severity {
        SeverityRule::Fixed(s) => s.to_string(),
        SeverityRule::Cases(cases, fallback) => {
            let levels: Vec<String> = cases.iter().map(|(_, s)| s.to_string()).collect();
            format!(
                "{} when its condition holds, else {fallback}",
                levels.join(" or ")
            )
        }
    }
}

/// Renders a table of every rule: code, name, default severity, stages, summary.
pub fn list(set: &RuleSet, ascii: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(if ascii {
            presets::ASCII_MARKDOWN
        } else {
            presets::UTF8_FULL_CONDENSED
        })
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["code", "name", "severity", "stages", "summary"]);
    for rule in &set.rules {
        table.add_row([
            rule.code.clone(),
            rule.name.clone(),
            rule.default_severity().to_string(),
            rule.stage_names(),
            rule.summary.clone(),
        ]);
    }
    format!("{table}\n")
}

/// Renders every rule as a JSON array of `{code, name, severity, stages, summary}` objects.
pub fn list_json(set: &RuleSet) -> String {
    let rules: Vec<serde_json::Value> = set
        .rules
        .iter()
        .map(|rule| {
            serde_json::json!({
                "code": rule.code,
                "name": rule.name,
                "severity": rule.default_severity().as_str(),
                "stages": rule.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "summary": rule.summary,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&rules).unwrap_or_else(|_| "[]".to_string());
    text.push('\n');
    text
}

/// Renders a table of every fact rules can read: scope, name, meaning.
pub fn list_facts(ascii: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(if ascii {
            presets::ASCII_MARKDOWN
        } else {
            presets::UTF8_FULL_CONDENSED
        })
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["scope", "fact", "meaning"]);
    for fact in crate::analysis::FACTS {
        table.add_row([fact.scope.as_str(), fact.name, fact.doc]);
    }
    format!("{table}\n")
}

/// Wraps text at `width` columns on word boundaries.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_has_every_section() {
        let set = RuleSet::builtin().unwrap_or_default();
        let text = set.find("QL302").map(explain).unwrap_or_default();
        assert!(text.starts_with("QL302 fragmented-int8-chain: "), "{text}");
        for section in ["\nWhy\n", "\nFix\n", "\nExample\n", "\nKnown problems\n"] {
            assert!(text.contains(section), "missing {section:?} in {text}");
        }
    }

    #[test]
    fn wrap_breaks_long_lines() {
        assert_eq!(wrap("aa bb cc", 5), "aa bb\ncc");
    }
}
