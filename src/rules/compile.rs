//! Checks parsed rule packs and turns them into rules ready to evaluate.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_saphyr::{Location, Spanned};

use super::schema::{
    CompareSpec, CondSpec, MatchForm, MatchSpec, MessageSpec, PackSpec, RuleSpec, ScalarSpec,
    SetSpec, SeveritySpec,
};
use super::template::Template;
use super::{RuleError, RuleSet, RuleStage, parse_scope, parse_yaml};
use crate::analysis::{Scope, fact_doc};
use crate::report::Severity;

/// A named op set after compilation.
#[derive(Clone, Debug, Default)]
pub struct OpSet {
    pub ops: BTreeSet<String>,
    pub regexes: Vec<Regex>,
}

impl OpSet {
    /// True when `op` is listed or matches one of the expressions.
    pub fn contains(&self, op: &str) -> bool {
        self.ops.contains(op) || self.regexes.iter().any(|r| r.is_match(op))
    }
}

/// A string matcher for op types and domains.
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    InSet(String),
    OneOf(Vec<String>),
    Regex(Regex),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A constant or a threshold reference, resolved when the rule runs so that config overrides
/// apply.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Bool(bool),
    Num(f64),
    Str(String),
    Threshold(String),
}

/// One test on a named value.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Exists(bool),
    Cmp(CmpOp, Operand),
    In(Vec<Operand>),
}

/// A named value (fact or attribute) and the tests it must pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    pub name: String,
    pub tests: Vec<Test>,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum Cond {
    True,
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Op(Matcher),
    Domain(Matcher),
    Attr(Compare),
    Fact(Compare),
    Producer(Box<Cond>),
    Consumer(Box<Cond>),
    ConsumersAll(Box<Cond>),
    /// Steps along edges, each with an optional capture name.
    Path(Vec<(Option<String>, Cond)>),
}

/// A fixed severity or cases evaluated in order.
#[derive(Clone, Debug)]
pub enum SeverityRule {
    Fixed(Severity),
    Cases(Vec<(Cond, Severity)>, Severity),
}

/// A fixed message or cases evaluated in order.
#[derive(Clone, Debug)]
pub enum MessageRule {
    Fixed(Template),
    Cases(Vec<(Cond, Template)>, Template),
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub code: String,
    pub name: String,
    pub stages: Vec<RuleStage>,
    pub subject: Scope,
    pub severity: SeverityRule,
    pub summary: String,
    pub why: String,
    pub fix: String,
    pub example: String,
    pub known_problems: Option<String>,
    pub when: Cond,
    pub group_by_op: bool,
    pub message: MessageRule,
    /// The pack file the rule came from.
    pub source: String,
}

impl Rule {
    /// Returns the level used when no case applies: the fixed level or the last case's level.
    pub fn default_severity(&self) -> Severity {
        match &self.severity {
            SeverityRule::Fixed(s) => *s,
            SeverityRule::Cases(_, fallback) => *fallback,
        }
    }

    /// Stage names joined with commas, for listings.
    pub fn stage_names(&self) -> String {
        let names: Vec<&str> = self.stages.iter().map(|s| s.as_str()).collect();
        names.join(", ")
    }
}

/// Parses and compiles packs given as `(file, text)`; every error names its file and position.
pub(super) fn compile_packs(packs: &[(String, String)]) -> Result<RuleSet, RuleError> {
    let mut parsed = Vec::with_capacity(packs.len());
    for (file, text) in packs {
        let spec: PackSpec = parse_yaml(file, text)?;
        parsed.push((file.as_str(), spec));
    }
    let mut set = RuleSet::default();
    collect_thresholds(&parsed, &mut set)?;
    collect_sets(&parsed, &mut set)?;
    let mut codes: BTreeMap<String, String> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (file, pack) in &parsed {
        for rule in &pack.rules {
            let at = |loc: Location, msg: String| RuleError::at(file, loc, msg);
            let code = rule.value.code.value.clone();
            if let Some(first) = codes.insert(code.clone(), file.to_string()) {
                return Err(at(
                    rule.value.code.referenced,
                    format!("duplicate rule code `{code}` (first defined in {first})"),
                ));
            }
            let name = rule.value.name.value.clone();
            if let Some(first) = names.insert(name.clone(), code.clone()) {
                return Err(at(
                    rule.value.name.referenced,
                    format!("duplicate rule name `{name}` (already used by {first})"),
                ));
            }
            let compiled = Compiler { file, set: &set }.rule(&rule.value, rule.referenced)?;
            set.rules.push(compiled);
        }
    }
    set.rules.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(set)
}

fn collect_thresholds(parsed: &[(&str, PackSpec)], set: &mut RuleSet) -> Result<(), RuleError> {
    for (file, pack) in parsed {
        for (name, value) in &pack.thresholds {
            if set.thresholds.insert(name.clone(), value.value).is_some() {
                return Err(RuleError::at(
                    file,
                    value.referenced,
                    format!("threshold `{name}` is defined in more than one pack"),
                ));
            }
            if !value.value.is_finite() {
                return Err(RuleError::at(
                    file,
                    value.referenced,
                    format!("threshold `{name}` must be a finite number"),
                ));
            }
        }
    }
    Ok(())
}

fn collect_sets(parsed: &[(&str, PackSpec)], set: &mut RuleSet) -> Result<(), RuleError> {
    let mut specs: BTreeMap<&str, (&str, &Spanned<SetSpec>)> = BTreeMap::new();
    for (file, pack) in parsed {
        for (name, spec) in &pack.sets {
            if specs.insert(name.as_str(), (file, spec)).is_some() {
                return Err(RuleError::at(
                    file,
                    spec.referenced,
                    format!("set `{name}` is defined in more than one pack"),
                ));
            }
        }
    }
    for (name, (file, spec)) in &specs {
        let mut ops: BTreeSet<String> = spec.value.ops.iter().cloned().collect();
        let mut regexes = Vec::new();
        if let Some(pattern) = &spec.value.regex {
            regexes.push(compile_regex(file, &pattern.value, pattern.referenced)?);
        }
        // Includes are one level deep, which keeps the order of definition irrelevant.
        for include in &spec.value.include {
            let Some((inc_file, inc)) = specs.get(include.value.as_str()) else {
                return Err(RuleError::at(
                    file,
                    include.referenced,
                    format!("set `{name}` includes unknown set `{}`", include.value),
                ));
            };
            if !inc.value.include.is_empty() {
                return Err(RuleError::at(
                    file,
                    include.referenced,
                    format!(
                        "set `{}` includes other sets, so it cannot be included",
                        include.value
                    ),
                ));
            }
            ops.extend(inc.value.ops.iter().cloned());
            if let Some(pattern) = &inc.value.regex {
                regexes.push(compile_regex(inc_file, &pattern.value, pattern.referenced)?);
            }
        }
        if ops.is_empty() && regexes.is_empty() {
            return Err(RuleError::at(
                file,
                spec.referenced,
                format!("set `{name}` is empty: give `ops`, `regex` or `include`"),
            ));
        }
        set.sets.insert(name.to_string(), OpSet { ops, regexes });
    }
    Ok(())
}

fn compile_regex(file: &str, pattern: &str, loc: Location) -> Result<Regex, RuleError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let detail = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .trim_start_matches("error:")
                .trim()
                .to_string();
            RuleError::at(file, loc, format!("invalid regex `{pattern}`: {detail}"))
        })
}

/// Compiles the parts of one rule against the sets and thresholds already collected.
struct Compiler<'a> {
    file: &'a str,
    set: &'a RuleSet,
}

/// The context a condition is compiled in: its subject and whether it is a path step.
#[derive(Clone, Copy)]
struct CondScope {
    scope: Scope,
    /// True inside a `path` step, the only place `capture` is allowed.
    in_path: bool,
}

impl Compiler<'_> {
    fn err(&self, loc: Location, message: String) -> RuleError {
        RuleError::at(self.file, loc, message)
    }

    fn rule(&self, spec: &RuleSpec, loc: Location) -> Result<Rule, RuleError> {
        let code = &spec.code.value;
        let code_ok = code.len() >= 2
            && code.chars().take_while(|c| c.is_ascii_uppercase()).count() >= 1
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && code.chars().last().is_some_and(|c| c.is_ascii_digit());
        if !code_ok {
            let msg =
                format!("invalid rule code `{code}`: use capital letters then digits, as in QL101");
            return Err(self.err(spec.code.referenced, msg));
        }
        let name = &spec.name.value;
        let kebab = Regex::new("^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
            .map_err(|e| self.err(loc, e.to_string()))?;
        if !kebab.is_match(name) {
            let msg =
                format!("invalid rule name `{name}`: use kebab-case, as in legacy-fake-quant-op");
            return Err(self.err(spec.name.referenced, msg));
        }
        let stages = self.stages(&spec.stages)?;
        let subject = match &spec.subject {
            None => Scope::Model,
            Some(s) => parse_scope(&s.value).ok_or_else(|| {
                let msg = format!("invalid `for: {}`: expected model, node or island", s.value);
                self.err(s.referenced, msg)
            })?,
        };
        for (field, text) in [
            ("summary", &spec.summary),
            ("why", &spec.why),
            ("fix", &spec.fix),
            ("example", &spec.example),
        ] {
            if text.trim().is_empty() {
                return Err(self.err(loc, format!("rule {code}: `{field}` must not be empty")));
            }
        }
        let group_by_op = match &spec.group_by {
            None => false,
            Some(g) if g.value == "op" && subject == Scope::Node => true,
            Some(g) if g.value == "op" => {
                return Err(self.err(g.referenced, "`group-by: op` needs `for: node`".to_string()));
            }
            Some(g) => {
                let msg = format!("invalid `group-by: {}`: the only grouping is `op`", g.value);
                return Err(self.err(g.referenced, msg));
            }
        };
        let scope = CondScope {
            scope: subject,
            in_path: false,
        };
        let when = self.cond(&spec.when.value, spec.when.referenced, scope)?;
        let mut captures = BTreeSet::new();
        collect_captures(&when, &mut captures);
        let severity = self.severity(&spec.severity, scope)?;
        let message = self.message(&spec.message, scope, &captures, group_by_op)?;
        Ok(Rule {
            code: code.clone(),
            name: name.clone(),
            stages,
            subject,
            severity,
            summary: spec.summary.trim().to_string(),
            why: spec.why.trim().to_string(),
            fix: spec.fix.trim().to_string(),
            example: spec.example.trim_end().to_string(),
            known_problems: spec.known_problems.as_ref().map(|k| k.trim().to_string()),
            when,
            group_by_op,
            message,
            source: self.file.to_string(),
        })
    }

    fn stages(&self, spec: &Spanned<Vec<String>>) -> Result<Vec<RuleStage>, RuleError> {
        if spec.value.is_empty() {
            return Err(self.err(
                spec.referenced,
                "`stages` must list at least one stage".into(),
            ));
        }
        let mut stages = Vec::new();
        for name in &spec.value {
            let stage = RuleStage::parse(name).ok_or_else(|| {
                let msg = format!(
                    "unknown stage `{name}`: expected paddle, onnx, optimized, host or runtime"
                );
                self.err(spec.referenced, msg)
            })?;
            stages.push(stage);
        }
        Ok(stages)
    }

    fn severity(
        &self,
        spec: &Spanned<SeveritySpec>,
        scope: CondScope,
    ) -> Result<SeverityRule, RuleError> {
        let loc = spec.referenced;
        let level = |s: &str| s.parse::<Severity>().map_err(|e| self.err(loc, e));
        match &spec.value {
            SeveritySpec::Level(s) => Ok(SeverityRule::Fixed(level(s)?)),
            SeveritySpec::Cases(cases) => {
                let Some((last, rest)) = cases.split_last() else {
                    return Err(self.err(loc, "severity cases must not be empty".into()));
                };
                if last.when.is_some() {
                    return Err(self.err(loc, "the last severity case must have no `when`".into()));
                }
                let mut compiled = Vec::new();
                for case in rest {
                    let Some(when) = &case.when else {
                        return Err(
                            self.err(loc, "only the last severity case may omit `when`".into())
                        );
                    };
                    compiled.push((self.cond(when, loc, scope)?, level(&case.level)?));
                }
                Ok(SeverityRule::Cases(compiled, level(&last.level)?))
            }
        }
    }

    fn message(
        &self,
        spec: &Spanned<MessageSpec>,
        scope: CondScope,
        captures: &BTreeSet<String>,
        grouped: bool,
    ) -> Result<MessageRule, RuleError> {
        let loc = spec.referenced;
        let template = |text: &str| {
            Template::parse(text, scope.scope, captures, grouped, &self.set.thresholds)
                .map_err(|e| self.err(loc, e))
        };
        match &spec.value {
            MessageSpec::Text(text) => Ok(MessageRule::Fixed(template(text)?)),
            MessageSpec::Cases(cases) => {
                let Some((last, rest)) = cases.split_last() else {
                    return Err(self.err(loc, "message cases must not be empty".into()));
                };
                if last.when.is_some() {
                    return Err(self.err(loc, "the last message case must have no `when`".into()));
                }
                let mut compiled = Vec::new();
                for case in rest {
                    let Some(when) = &case.when else {
                        return Err(
                            self.err(loc, "only the last message case may omit `when`".into())
                        );
                    };
                    compiled.push((self.cond(when, loc, scope)?, template(&case.text)?));
                }
                Ok(MessageRule::Cases(compiled, template(&last.text)?))
            }
        }
    }

    /// Compiles a condition; `parent` locates errors when serde lost the spans (untagged enums).
    fn cond(&self, spec: &CondSpec, parent: Location, scope: CondScope) -> Result<Cond, RuleError> {
        let mut parts = Vec::new();
        let node_only = |key: &str, loc: Location| -> Result<(), RuleError> {
            if scope.scope == Scope::Node {
                Ok(())
            } else {
                let msg = format!(
                    "`{key}` tests a node, but this rule is `for: {}`; use `for: node`",
                    scope.scope.as_str()
                );
                Err(self.err(pick(loc, parent), msg))
            }
        };
        if let Some(items) = &spec.all {
            parts.push(Cond::All(self.conds(items, parent, scope)?));
        }
        if let Some(items) = &spec.any {
            parts.push(Cond::Any(self.conds(items, parent, scope)?));
        }
        if let Some(inner) = &spec.not {
            parts.push(Cond::Not(Box::new(self.cond(
                &inner.value,
                pick(inner.referenced, parent),
                scope,
            )?)));
        }
        if let Some(m) = &spec.op {
            node_only("op", m.referenced)?;
            parts.push(Cond::Op(self.matcher(
                &m.value,
                pick(m.referenced, parent),
                true,
            )?));
        }
        if let Some(m) = &spec.domain {
            node_only("domain", m.referenced)?;
            parts.push(Cond::Domain(self.matcher(
                &m.value,
                pick(m.referenced, parent),
                false,
            )?));
        }
        if let Some(c) = &spec.attr {
            node_only("attr", c.referenced)?;
            parts.push(Cond::Attr(self.compare(
                &c.value,
                pick(c.referenced, parent),
                None,
            )?));
        }
        if let Some(c) = &spec.fact {
            let loc = pick(c.referenced, parent);
            parts.push(Cond::Fact(self.compare(
                &c.value,
                loc,
                Some(scope.scope),
            )?));
        }
        let node_scope = CondScope {
            scope: Scope::Node,
            in_path: false,
        };
        for (key, inner) in [
            ("producer", &spec.producer),
            ("consumer", &spec.consumer),
            ("consumers-all", &spec.consumers_all),
        ] {
            if let Some(inner) = inner {
                node_only(key, inner.referenced)?;
                let c = Box::new(self.cond(
                    &inner.value,
                    pick(inner.referenced, parent),
                    node_scope,
                )?);
                parts.push(match key {
                    "producer" => Cond::Producer(c),
                    "consumer" => Cond::Consumer(c),
                    _ => Cond::ConsumersAll(c),
                });
            }
        }
        if let Some(steps) = &spec.path {
            node_only("path", steps.referenced)?;
            parts.push(self.path(steps, parent)?);
        }
        if let Some(capture) = &spec.capture
            && !scope.in_path
        {
            let msg = format!(
                "`capture: {}` is allowed only in a `path` step",
                capture.value
            );
            return Err(self.err(pick(capture.referenced, parent), msg));
        }
        match parts.len() {
            0 => Err(self.err(parent, "empty condition: give at least one of all, any, not, op, domain, attr, fact, producer, consumer, consumers-all, path".into())),
            1 => Ok(parts.pop().unwrap_or(Cond::True)),
            _ => Ok(Cond::All(parts)),
        }
    }

    fn conds(
        &self,
        items: &[Spanned<CondSpec>],
        parent: Location,
        scope: CondScope,
    ) -> Result<Vec<Cond>, RuleError> {
        if items.is_empty() {
            return Err(self.err(parent, "`all` and `any` need at least one condition".into()));
        }
        items
            .iter()
            .map(|item| self.cond(&item.value, pick(item.referenced, parent), scope))
            .collect()
    }

    fn path(
        &self,
        steps: &Spanned<Vec<Spanned<CondSpec>>>,
        parent: Location,
    ) -> Result<Cond, RuleError> {
        if steps.value.len() < 2 {
            return Err(self.err(
                pick(steps.referenced, parent),
                "a `path` needs at least two steps".into(),
            ));
        }
        let step_scope = CondScope {
            scope: Scope::Node,
            in_path: true,
        };
        let mut compiled = Vec::new();
        let mut names = BTreeSet::new();
        for step in &steps.value {
            let loc = pick(step.referenced, parent);
            let capture = step.value.capture.as_ref().map(|c| c.value.clone());
            if let Some(name) = &capture
                && !names.insert(name.clone())
            {
                return Err(self.err(loc, format!("capture `{name}` is used twice in one path")));
            }
            compiled.push((capture, self.cond(&step.value, loc, step_scope)?));
        }
        Ok(Cond::Path(compiled))
    }

    fn matcher(&self, spec: &MatchSpec, loc: Location, is_op: bool) -> Result<Matcher, RuleError> {
        match spec {
            MatchSpec::Exact(s) => Ok(Matcher::Exact(s.clone())),
            MatchSpec::Form(MatchForm {
                in_set,
                one_of,
                regex,
            }) => {
                let given = usize::from(in_set.is_some())
                    + usize::from(one_of.is_some())
                    + usize::from(regex.is_some());
                if given != 1 {
                    return Err(self.err(
                        loc,
                        "a match needs exactly one of `in-set`, `in`, `regex`".into(),
                    ));
                }
                if let Some(name) = in_set {
                    if !is_op {
                        return Err(self.err(loc, "`in-set` matches op types only".into()));
                    }
                    if !self.set.sets.contains_key(name) {
                        let known: Vec<&str> = self.set.sets.keys().map(String::as_str).collect();
                        let msg =
                            format!("unknown set `{name}`: known sets are {}", known.join(", "));
                        return Err(self.err(loc, msg));
                    }
                    return Ok(Matcher::InSet(name.clone()));
                }
                if let Some(list) = one_of {
                    return Ok(Matcher::OneOf(list.clone()));
                }
                let pattern = regex.as_deref().unwrap_or_default();
                Ok(Matcher::Regex(compile_regex(self.file, pattern, loc)?))
            }
        }
    }

    /// Compiles a comparison; `fact_scope` is `Some` for facts, whose names must be known.
    fn compare(
        &self,
        spec: &CompareSpec,
        loc: Location,
        fact_scope: Option<Scope>,
    ) -> Result<Compare, RuleError> {
        if let Some(scope) = fact_scope
            && fact_doc(scope, &spec.name).is_none()
            && fact_doc(Scope::Model, &spec.name).is_none()
        {
            let known: Vec<&str> = crate::analysis::FACTS
                .iter()
                .filter(|f| f.scope == scope || f.scope == Scope::Model)
                .map(|f| f.name)
                .collect();
            let msg = format!(
                "unknown fact `{}` for `for: {}`: known facts are {}",
                spec.name,
                scope.as_str(),
                known.join(", ")
            );
            return Err(self.err(loc, msg));
        }
        let mut tests = Vec::new();
        if let Some(e) = spec.exists {
            tests.push(Test::Exists(e));
        }
        for (op, value) in [
            (CmpOp::Eq, &spec.eq),
            (CmpOp::Ne, &spec.ne),
            (CmpOp::Lt, &spec.lt),
            (CmpOp::Le, &spec.le),
            (CmpOp::Gt, &spec.gt),
            (CmpOp::Ge, &spec.ge),
        ] {
            if let Some(v) = value {
                tests.push(Test::Cmp(op, self.operand(v, loc)?));
            }
        }
        if let Some(list) = &spec.one_of {
            let operands = list
                .iter()
                .map(|v| self.operand(v, loc))
                .collect::<Result<_, _>>()?;
            tests.push(Test::In(operands));
        }
        if tests.is_empty() {
            let msg = format!(
                "comparison on `{}` needs a test: exists, eq, ne, lt, le, gt, ge or in",
                spec.name
            );
            return Err(self.err(loc, msg));
        }
        Ok(Compare {
            name: spec.name.clone(),
            tests,
        })
    }

    fn operand(&self, spec: &ScalarSpec, loc: Location) -> Result<Operand, RuleError> {
        Ok(match spec {
            ScalarSpec::Bool(b) => Operand::Bool(*b),
            ScalarSpec::Num(n) => Operand::Num(*n),
            ScalarSpec::Str(s) => Operand::Str(s.clone()),
            ScalarSpec::Threshold(t) => {
                if !self.set.thresholds.contains_key(&t.threshold) {
                    return Err(self.err(loc, format!("unknown threshold `{}`", t.threshold)));
                }
                Operand::Threshold(t.threshold.clone())
            }
        })
    }
}

/// Uses `loc` when serde kept it, else the enclosing location.
fn pick(loc: Location, parent: Location) -> Location {
    if loc.line() > 0 { loc } else { parent }
}

fn collect_captures(cond: &Cond, out: &mut BTreeSet<String>) {
    match cond {
        Cond::All(items) | Cond::Any(items) => items.iter().for_each(|c| collect_captures(c, out)),
        Cond::Path(steps) => {
            for (name, step) in steps {
                if let Some(name) = name {
                    out.insert(name.clone());
                }
                collect_captures(step, out);
            }
        }
        // Captures under `not` never bind, so they are not offered to messages.
        _ => {}
    }
}
