//! Evaluates compiled rules over one model and its facts, producing findings.

use std::cell::Cell;
use std::collections::BTreeMap;

use super::compile::{CmpOp, Compare, Cond, Matcher, MessageRule, Operand, SeverityRule, Test};
use super::{Rule, RuleSet, RuleStage};
use crate::analysis::{Facts, Scope, Value};
use crate::graph::{Attr, Model, NodeId, Stage};
use crate::report::{Finding, Severity};

/// The subject a condition is evaluated on.
#[derive(Clone, Copy, Debug)]
enum Subject {
    Model,
    Node(NodeId),
    Island(usize),
}

/// Everything a condition may read.
struct Ctx<'a> {
    set: &'a RuleSet,
    model: &'a Model,
    facts: &'a Facts,
    /// Graph steps (producer, consumer and path moves) left for the current rule.
    budget: Cell<u64>,
}

/// Graph steps one rule may take on one model. Built-in rules take a few per node; a hostile
/// `path` over a lattice of Adds could otherwise take 2^40.
pub const STEP_BUDGET: u64 = 20_000_000;

/// The result of evaluating rules on one model.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// Rules that ran out of [`STEP_BUDGET`], so their results on this model are incomplete.
    pub exhausted: Vec<String>,
}

/// Runs every rule that `selected` accepts and that applies to the model's stage.
pub fn evaluate(
    set: &RuleSet,
    model: &Model,
    facts: &Facts,
    selected: &dyn Fn(&Rule) -> bool,
) -> Vec<Finding> {
    evaluate_within_budget(set, model, facts, selected).findings
}

/// Like [`evaluate`], and also names the rules that stopped early at [`STEP_BUDGET`].
pub fn evaluate_within_budget(
    set: &RuleSet,
    model: &Model,
    facts: &Facts,
    selected: &dyn Fn(&Rule) -> bool,
) -> Evaluation {
    let stage_of = |rule: &Rule| applicable_stage(rule, model.stage);
    evaluate_stage(set, model, facts, selected, &stage_of)
}

/// Runs every rule that `selected` accepts and whose stages include `runtime`. Call it only for
/// a model whose facts include ONNX Runtime measurements; its findings carry the stage
/// `runtime`.
pub fn evaluate_runtime(
    set: &RuleSet,
    model: &Model,
    facts: &Facts,
    selected: &dyn Fn(&Rule) -> bool,
) -> Vec<Finding> {
    let stage_of = |rule: &Rule| {
        rule.stages
            .contains(&RuleStage::Runtime)
            .then_some(RuleStage::Runtime.as_str())
    };
    evaluate_stage(set, model, facts, selected, &stage_of).findings
}

/// Runs the selected rules for which `stage_of` names a stage, which the findings carry.
fn evaluate_stage(
    set: &RuleSet,
    model: &Model,
    facts: &Facts,
    selected: &dyn Fn(&Rule) -> bool,
    stage_of: &dyn Fn(&Rule) -> Option<&'static str>,
) -> Evaluation {
    let ctx = Ctx {
        set,
        model,
        facts,
        budget: Cell::new(STEP_BUDGET),
    };
    let mut findings = Vec::new();
    let mut exhausted = Vec::new();
    for rule in set.rules.iter().filter(|r| selected(r)) {
        let Some(stage) = stage_of(rule) else {
            continue;
        };
        ctx.budget.set(STEP_BUDGET);
        match rule.subject {
            Scope::Model => {
                let mut captures = BTreeMap::new();
                if ctx.eval(&rule.when, Subject::Model, &mut captures) {
                    findings.push(ctx.finding(rule, stage, Subject::Model, &captures, &[]));
                }
            }
            Scope::Node => ctx.node_rule(rule, stage, &mut findings),
            Scope::Island => {
                for index in 0..facts.islands.len() {
                    let subject = Subject::Island(index);
                    let mut captures = BTreeMap::new();
                    if ctx.eval(&rule.when, subject, &mut captures) {
                        findings.push(ctx.finding(rule, stage, subject, &captures, &[]));
                    }
                }
            }
        }
        if ctx.budget.get() == 0 {
            exhausted.push(rule.code.clone());
        }
    }
    Evaluation {
        findings,
        exhausted,
    }
}

/// Returns the stage name a finding carries, or `None` when the rule does not apply to the model.
fn applicable_stage(rule: &Rule, stage: Stage) -> Option<&'static str> {
    let own = match stage {
        Stage::Paddle => RuleStage::Paddle,
        Stage::Onnx => RuleStage::Onnx,
        Stage::Optimized => RuleStage::Optimized,
    };
    if rule.stages.contains(&own) {
        Some(stage.as_str())
    } else if rule.stages.contains(&RuleStage::Host) {
        Some(RuleStage::Host.as_str())
    } else {
        None
    }
}

impl Ctx<'_> {
    fn node_rule(&self, rule: &Rule, stage: &str, findings: &mut Vec<Finding>) {
        let graph = &self.model.graph;
        let mut groups: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
        let mut first_captures = BTreeMap::new();
        for node in graph.node_ids() {
            let mut captures = BTreeMap::new();
            if !self.eval(&rule.when, Subject::Node(node), &mut captures) {
                continue;
            }
            if rule.group_by_op {
                let op = graph.node(node).qualified_op();
                if groups.is_empty() {
                    first_captures = captures;
                }
                groups.entry(op).or_default().push(node);
            } else {
                findings.push(self.finding(rule, stage, Subject::Node(node), &captures, &[]));
            }
        }
        for nodes in groups.values() {
            let subject = Subject::Node(nodes[0]);
            findings.push(self.finding(rule, stage, subject, &first_captures, nodes));
        }
    }

    fn finding(
        &self,
        rule: &Rule,
        stage: &str,
        subject: Subject,
        captures: &BTreeMap<String, NodeId>,
        group: &[NodeId],
    ) -> Finding {
        let graph = &self.model.graph;
        let (node, op_type, nodes) = match subject {
            Subject::Model => (None, None, Vec::new()),
            // A grouped finding is about an op type, so it names no single node.
            Subject::Node(n) if !group.is_empty() => {
                let ids = group.iter().map(|&g| graph.node(g).id.clone()).collect();
                (None, Some(graph.node(n).qualified_op()), ids)
            }
            Subject::Node(n) => (
                Some(graph.node(n).id.clone()),
                Some(graph.node(n).qualified_op()),
                Vec::new(),
            ),
            Subject::Island(i) => {
                let members = &self.facts.islands[i].nodes;
                let ids = members.iter().map(|&g| graph.node(g).id.clone()).collect();
                let first = members.first().map(|&n| graph.node(n));
                (
                    first.map(|n| n.id.clone()),
                    first.map(|n| n.qualified_op()),
                    ids,
                )
            }
        };
        let severity = self.severity(rule, subject);
        let template = match &rule.message {
            MessageRule::Fixed(t) => t,
            MessageRule::Cases(cases, fallback) => cases
                .iter()
                .find(|(cond, _)| self.eval(cond, subject, &mut BTreeMap::new()))
                .map(|(_, t)| t)
                .unwrap_or(fallback),
        };
        let lookup = |name: &str| self.placeholder(name, rule, stage, subject, captures, group);
        Finding {
            code: rule.code.clone(),
            name: rule.name.clone(),
            severity,
            stage: stage.to_string(),
            path: self.model.path.clone(),
            node,
            op_type,
            message: template.render(&lookup),
            help: rule.fix.clone(),
            nodes,
        }
    }

    fn severity(&self, rule: &Rule, subject: Subject) -> Severity {
        match &rule.severity {
            SeverityRule::Fixed(s) => *s,
            SeverityRule::Cases(cases, fallback) => cases
                .iter()
                .find(|(cond, _)| self.eval(cond, subject, &mut BTreeMap::new()))
                .map(|(_, s)| *s)
                .unwrap_or(*fallback),
        }
    }

    fn placeholder(
        &self,
        name: &str,
        rule: &Rule,
        stage: &str,
        subject: Subject,
        captures: &BTreeMap<String, NodeId>,
        group: &[NodeId],
    ) -> Option<Value> {
        let graph = &self.model.graph;
        let node = match subject {
            Subject::Node(n) => Some(n),
            Subject::Island(i) => self.facts.islands[i].nodes.first().copied(),
            Subject::Model => None,
        };
        match name {
            "path" => return Some(Value::Str(self.model.path.display().to_string())),
            "stage" => return Some(Value::Str(stage.to_string())),
            "code" => return Some(Value::Str(rule.code.clone())),
            "count" => return Some(Value::Num(group.len() as f64)),
            "op" => return node.map(|n| Value::Str(graph.node(n).qualified_op())),
            "node" => return node.map(|n| Value::Str(graph.node(n).id.clone())),
            "domain" => return node.map(|n| Value::Str(graph.node(n).domain.clone())),
            _ => {}
        }
        if let Some(t) = name.strip_prefix("threshold.") {
            return self.set.thresholds.get(t).map(|v| Value::Num(*v));
        }
        if let Some(a) = name.strip_prefix("attr.") {
            return node.and_then(|n| graph.node(n).attr(a)).map(attr_value);
        }
        if let Some((capture, field)) = name.split_once('.')
            && let Some(&n) = captures.get(capture)
        {
            let target = graph.node(n);
            return match field {
                "op" => Some(Value::Str(target.qualified_op())),
                "node" => Some(Value::Str(target.id.clone())),
                "domain" => Some(Value::Str(target.domain.clone())),
                _ => None,
            };
        }
        self.fact(name, subject)
    }

    /// Looks up a fact on the subject, falling back to model facts.
    fn fact(&self, name: &str, subject: Subject) -> Option<Value> {
        let own = match subject {
            Subject::Node(n) => self.facts.nodes.get(n.index()).and_then(|m| m.get(name)),
            Subject::Island(i) => self
                .facts
                .islands
                .get(i)
                .and_then(|isl| isl.facts.get(name)),
            Subject::Model => None,
        };
        own.or_else(|| self.facts.model.get(name)).cloned()
    }

    /// Spends one graph step; false once the rule's budget is gone.
    fn step(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    fn eval(&self, cond: &Cond, subject: Subject, captures: &mut BTreeMap<String, NodeId>) -> bool {
        if matches!(
            cond,
            Cond::Producer(_) | Cond::Consumer(_) | Cond::ConsumersAll(_) | Cond::Path(_)
        ) && !self.step()
        {
            return false;
        }
        let graph = &self.model.graph;
        let node = match subject {
            Subject::Node(n) => Some(n),
            _ => None,
        };
        match cond {
            Cond::True => true,
            Cond::All(items) => items.iter().all(|c| self.eval(c, subject, captures)),
            Cond::Any(items) => items.iter().any(|c| self.eval(c, subject, captures)),
            Cond::Not(inner) => !self.eval(inner, subject, &mut BTreeMap::new()),
            Cond::Op(m) => node.is_some_and(|n| {
                let n = graph.node(n);
                self.matches(m, &n.op_type) || self.matches(m, &n.qualified_op())
            }),
            Cond::Domain(m) => node.is_some_and(|n| self.matches(m, &graph.node(n).domain)),
            Cond::Attr(c) => {
                let value = node
                    .and_then(|n| graph.node(n).attr(&c.name))
                    .map(attr_value);
                self.compare(c, value.as_ref())
            }
            Cond::Fact(c) => self.compare(c, self.fact(&c.name, subject).as_ref()),
            Cond::Producer(inner) => node.is_some_and(|n| {
                graph
                    .predecessors(n)
                    .into_iter()
                    .any(|p| self.eval(inner, Subject::Node(p), captures))
            }),
            Cond::Consumer(inner) => node.is_some_and(|n| {
                graph
                    .successors(n)
                    .into_iter()
                    .any(|s| self.eval(inner, Subject::Node(s), captures))
            }),
            Cond::ConsumersAll(inner) => node.is_some_and(|n| {
                let successors = graph.successors(n);
                !successors.is_empty()
                    && successors
                        .into_iter()
                        .all(|s| self.eval(inner, Subject::Node(s), captures))
            }),
            Cond::Path(steps) => node.is_some_and(|n| self.path(steps, n, captures)),
        }
    }

    /// Matches `steps[0]` on `start`, then each next step on a successor, backtracking.
    fn path(
        &self,
        steps: &[(Option<String>, Cond)],
        start: NodeId,
        captures: &mut BTreeMap<String, NodeId>,
    ) -> bool {
        let Some(((capture, cond), rest)) = steps.split_first() else {
            return true;
        };
        let mut local = captures.clone();
        if !self.eval(cond, Subject::Node(start), &mut local) {
            return false;
        }
        if let Some(name) = capture {
            local.insert(name.clone(), start);
        }
        if rest.is_empty() {
            *captures = local;
            return true;
        }
        for next in self.model.graph.successors(start) {
            if !self.step() {
                return false;
            }
            let mut attempt = local.clone();
            if self.path(rest, next, &mut attempt) {
                *captures = attempt;
                return true;
            }
        }
        false
    }

    fn matches(&self, m: &Matcher, text: &str) -> bool {
        match m {
            Matcher::Exact(s) => s == text,
            Matcher::InSet(name) => self.set.sets.get(name).is_some_and(|s| s.contains(text)),
            Matcher::OneOf(list) => list.iter().any(|s| s == text),
            Matcher::Regex(r) => r.is_match(text),
        }
    }

    fn compare(&self, c: &Compare, value: Option<&Value>) -> bool {
        c.tests.iter().all(|test| match test {
            Test::Exists(want) => value.is_some() == *want,
            Test::Cmp(op, operand) => {
                value.is_some_and(|v| self.operand(operand).is_some_and(|o| cmp(*op, v, &o)))
            }
            Test::In(list) => value.is_some_and(|v| {
                list.iter()
                    .filter_map(|o| self.operand(o))
                    .any(|o| cmp(CmpOp::Eq, v, &o))
            }),
        })
    }

    fn operand(&self, operand: &Operand) -> Option<Value> {
        Some(match operand {
            Operand::Bool(b) => Value::Bool(*b),
            Operand::Num(n) => Value::Num(*n),
            Operand::Str(s) => Value::Str(s.clone()),
            Operand::Threshold(t) => Value::Num(*self.set.thresholds.get(t)?),
        })
    }
}

/// Compares two values: numbers (booleans count as 0/1) by value, strings by text. A list
/// equals a value when it contains it.
fn cmp(op: CmpOp, left: &Value, right: &Value) -> bool {
    if let Value::List(items) = left {
        return match op {
            CmpOp::Eq => items.iter().any(|i| cmp(CmpOp::Eq, i, right)),
            CmpOp::Ne => !items.iter().any(|i| cmp(CmpOp::Eq, i, right)),
            _ => false,
        };
    }
    match (left, right) {
        (Value::Str(a), Value::Str(b)) => match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            _ => false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            _ => false,
        },
        _ => match (left.as_f64(), right.as_f64()) {
            (Some(a), Some(b)) => match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                CmpOp::Ge => a >= b,
            },
            _ => op == CmpOp::Ne,
        },
    }
}

/// Converts an attribute to a fact value for comparisons and messages.
fn attr_value(attr: &Attr) -> Value {
    match attr {
        Attr::Int(v) => Value::Num(*v as f64),
        Attr::Float(v) => Value::Num(*v),
        Attr::Str(s) => Value::Str(s.clone()),
        Attr::Bool(b) => Value::Bool(*b),
        Attr::Ints(v) => Value::List(v.iter().map(|&x| Value::Num(x as f64)).collect()),
        Attr::Floats(v) => Value::List(v.iter().map(|&x| Value::Num(x)).collect()),
        Attr::Strs(v) => Value::List(v.iter().cloned().map(Value::Str).collect()),
        Attr::Bools(v) => Value::List(v.iter().map(|&b| Value::Bool(b)).collect()),
        Attr::Tensor(t) => Value::Str(format!("tensor {:?}", t.dims)),
        Attr::Subgraph(s) => Value::Str(s.clone()),
        Attr::Subgraphs(v) => Value::List(v.iter().cloned().map(Value::Str).collect()),
        Attr::Other(s) => Value::Str(s.clone()),
    }
}
