//! Message templates: text with `{name}` or `{name:format}` placeholders, checked when the rule
//! loads so that a typo is an error at the message's position, not a blank in the output.

use std::collections::{BTreeMap, BTreeSet};

use crate::analysis::{FACTS, Scope, Value, fact_doc, format_number};

/// Placeholders that every rule may use.
const BUILTINS: &[&str] = &["path", "stage", "code"];
/// Placeholders for rules on nodes and islands.
const NODE_BUILTINS: &[&str] = &["op", "node", "domain"];

/// The print format of a placeholder value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Plain,
    /// Thousands as K, M, G (MAC counts).
    Si,
    /// A fraction as a percentage with one decimal.
    Percent,
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text(String),
    Var(String, Format),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses and checks a template. `{{` and `}}` are literal braces.
    pub fn parse(
        text: &str,
        scope: Scope,
        captures: &BTreeSet<String>,
        grouped: bool,
        thresholds: &BTreeMap<String, f64>,
    ) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => inner.push(ch),
                            None => return Err(format!("unclosed `{{` in message `{text}`")),
                        }
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    let (name, format) = parse_placeholder(&inner)?;
                    check_name(&name, scope, captures, grouped, thresholds)?;
                    parts.push(Part::Var(name, format));
                }
                '}' => {
                    return Err(format!(
                        "stray `}}` in message `{text}`: write `}}}}` for a brace"
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// Fills the template; `lookup` returns the value of a placeholder name.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name, format) => match lookup(name) {
                    Some(value) => out.push_str(&format_value(&value, *format)),
                    None => out.push('?'),
                },
            }
        }
        out
    }
}

fn parse_placeholder(inner: &str) -> Result<(String, Format), String> {
    let (name, format) = match inner.split_once(':') {
        Some((name, "si")) => (name, Format::Si),
        Some((name, "pct")) => (name, Format::Percent),
        Some((_, other)) => {
            return Err(format!(
                "unknown format `:{other}` in `{{{inner}}}`: use :si or :pct"
            ));
        }
        None => (inner, Format::Plain),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err("empty placeholder `{}` in message".to_string());
    }
    Ok((name.to_string(), format))
}

fn check_name(
    name: &str,
    scope: Scope,
    captures: &BTreeSet<String>,
    grouped: bool,
    thresholds: &BTreeMap<String, f64>,
) -> Result<(), String> {
    let node_like = scope != Scope::Model;
    if BUILTINS.contains(&name) || (node_like && NODE_BUILTINS.contains(&name)) {
        return Ok(());
    }
    if name == "count" && grouped {
        return Ok(());
    }
    if let Some(threshold) = name.strip_prefix("threshold.") {
        return if thresholds.contains_key(threshold) {
            Ok(())
        } else {
            Err(format!("unknown threshold `{threshold}` in `{{{name}}}`"))
        };
    }
    if let Some(attr) = name.strip_prefix("attr.") {
        return if scope == Scope::Node && !attr.is_empty() {
            Ok(())
        } else {
            Err(format!("`{{{name}}}` needs `for: node`"))
        };
    }
    if let Some((capture, field)) = name.split_once('.')
        && captures.contains(capture)
    {
        return if matches!(field, "op" | "node" | "domain") {
            Ok(())
        } else {
            Err(format!(
                "`{{{name}}}`: a capture has .op, .node and .domain"
            ))
        };
    }
    if fact_doc(scope, name).is_some() || fact_doc(Scope::Model, name).is_some() {
        return Ok(());
    }
    let mut known: Vec<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    if node_like {
        known.extend(NODE_BUILTINS.iter().map(|s| s.to_string()));
    }
    if grouped {
        known.push("count".into());
    }
    for fact in FACTS
        .iter()
        .filter(|f| f.scope == scope || f.scope == Scope::Model)
    {
        if !known.iter().any(|k| k == fact.name) {
            known.push(fact.name.to_string());
        }
    }
    let extra = if scope == Scope::Node {
        "attr.NAME, threshold.NAME and CAPTURE.op"
    } else {
        "threshold.NAME"
    };
    Err(format!(
        "unknown placeholder `{{{name}}}` in message: known names are {}, {extra}",
        known.join(", ")
    ))
}

/// Prints a value for a message.
pub fn format_value(value: &Value, format: Format) -> String {
    match (value, format) {
        (Value::Num(n), Format::Si) => si(*n),
        (Value::Num(n), Format::Percent) => format!("{:.1}%", n * 100.0),
        (Value::List(items), Format::Si | Format::Percent) => {
            let parts: Vec<String> = items.iter().map(|v| format_value(v, format)).collect();
            format!("[{}]", parts.join(", "))
        }
        (other, _) => other.to_string(),
    }
}

fn si(n: f64) -> String {
    let abs = n.abs();
    let (scaled, suffix) = if abs >= 1e9 {
        (n / 1e9, "G")
    } else if abs >= 1e6 {
        (n / 1e6, "M")
    } else if abs >= 1e3 {
        (n / 1e3, "K")
    } else {
        return format_number(n);
    };
    let text = format!("{scaled:.1}");
    format!("{}{suffix}", text.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Template, String> {
        let thresholds = BTreeMap::from([("min-macs".to_string(), 1.0)]);
        let captures = BTreeSet::from(["dq".to_string()]);
        Template::parse(text, Scope::Node, &captures, true, &thresholds)
    }

    #[test]
    fn placeholders_render() {
        let t = parse("{count} `{op}` ops, {macs:si} MACs ({threshold.min-macs}), {dq.op} {{x}}");
        let t = t.unwrap_or(Template { parts: vec![] });
        let out = t.render(&|name| match name {
            "count" => Some(Value::Num(3.0)),
            "op" => Some(Value::Str("Relu".into())),
            "macs" => Some(Value::Num(6912.0)),
            "threshold.min-macs" => Some(Value::Num(1.0)),
            "dq.op" => Some(Value::Str("DequantizeLinear".into())),
            _ => None,
        });
        assert_eq!(out, "3 `Relu` ops, 6.9K MACs (1), DequantizeLinear {x}");
    }

    #[test]
    fn unknown_placeholder_is_error() {
        let err = parse("{no_such_fact}").err().unwrap_or_default();
        assert!(
            err.contains("unknown placeholder `{no_such_fact}`"),
            "{err}"
        );
    }

    #[test]
    fn unclosed_brace_is_error() {
        assert!(parse("value {op").is_err());
        assert!(parse("value op}").is_err());
    }

    #[test]
    fn percent_and_si_format() {
        assert_eq!(format_value(&Value::Num(0.456), Format::Percent), "45.6%");
        assert_eq!(format_value(&Value::Num(12_300_000.0), Format::Si), "12.3M");
        assert_eq!(format_value(&Value::Num(999.0), Format::Si), "999");
    }
}
