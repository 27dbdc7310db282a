//! The YAML shape of a rule pack, as serde reads it. Every struct rejects unknown keys, and the
//! values that later checks need to point at are wrapped in `Spanned` to keep their location.
//! `docs/rules.md` documents this format for rule authors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A rule pack file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSpec {
    /// Named op sets that `op: {in-set: NAME}` refers to.
    #[serde(default)]
    pub sets: BTreeMap<String, Spanned<SetSpec>>,
    /// Named numbers that comparisons refer to with `{threshold: NAME}`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    pub rules: Vec<Spanned<RuleSpec>>,
}

/// A named set of op types: a list, a regular expression, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSpec {
    #[serde(default)]
    pub ops: Vec<String>,
    pub regex: Option<Spanned<String>>,
    /// Other sets whose members belong to this one too.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
}

/// One rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleSpec {
    pub code: Spanned<String>,
    pub name: Spanned<String>,
    pub stages: Spanned<Vec<String>>,
    /// The subject the rule is evaluated on: `model` (default), `node` or `island`.
    #[serde(rename = "for")]
    pub subject: Option<Spanned<String>>,
    pub severity: Spanned<SeveritySpec>,
    pub summary: String,
    pub why: String,
    pub fix: String,
    pub example: String,
    pub known_problems: Option<String>,
    pub when: Spanned<CondSpec>,
    /// `op`: one finding per op type with a count, instead of one per node.
    pub group_by: Option<Spanned<String>>,
    pub message: Spanned<MessageSpec>,
}

/// A fixed level, or a list of cases where the first whose `when` is true wins.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SeveritySpec {
    Level(String),
    Cases(Vec<SeverityCase>),
}

/// One case of a severity list; the last case has no `when`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityCase {
    pub when: Option<CondSpec>,
    pub level: String,
}

/// A message template, or a list of cases where the first whose `when` is true wins.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MessageSpec {
    Text(String),
    Cases(Vec<MessageCase>),
}

/// One case of a message list; the last case has no `when`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageCase {
    pub when: Option<CondSpec>,
    pub text: String,
}

/// A condition: every key that is present must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CondSpec {
    pub all: Option<Vec<Spanned<CondSpec>>>,
    pub any: Option<Vec<Spanned<CondSpec>>>,
    pub not: Option<Box<Spanned<CondSpec>>>,
    /// Matches the node's op type.
    pub op: Option<Spanned<MatchSpec>>,
    /// Matches the node's domain (`""` is the default ONNX domain).
    pub domain: Option<Spanned<MatchSpec>>,
    pub attr: Option<Spanned<CompareSpec>>,
    pub fact: Option<Spanned<CompareSpec>>,
    /// Some node that produces an input of this node matches.
    pub producer: Option<Box<Spanned<CondSpec>>>,
    /// Some node that reads an output of this node matches.
    pub consumer: Option<Box<Spanned<CondSpec>>>,
    /// Every node that reads an output of this node matches (and there is at least one).
    pub consumers_all: Option<Box<Spanned<CondSpec>>>,
    /// A sequence of node conditions along edges: the first matches this node, each next one
    /// a node that reads an output of the previous.
    pub path: Option<Spanned<Vec<Spanned<CondSpec>>>>,
    /// Names the node matched by a path step, for the message (`{NAME.op}`, `{NAME.node}`).
    pub capture: Option<Spanned<String>>,
}

/// How to match a string: exactly, by set membership, by list, or by regular expression.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MatchSpec {
    Exact(String),
    Form(MatchForm),
}

/// The map forms of [`MatchSpec`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatchForm {
    pub in_set: Option<String>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<String>>,
    pub regex: Option<String>,
}

/// A named value compared with a constant or a threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    pub name: String,
    /// `true`: the value must exist; `false`: it must not.
    pub exists: Option<bool>,
    pub eq: Option<ScalarSpec>,
    pub ne: Option<ScalarSpec>,
    pub lt: Option<ScalarSpec>,
    pub le: Option<ScalarSpec>,
    pub gt: Option<ScalarSpec>,
    pub ge: Option<ScalarSpec>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<ScalarSpec>>,
}

/// A constant in a comparison, or a reference to a named threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScalarSpec {
    Bool(bool),
    Num(f64),
    Str(String),
    Threshold(ThresholdRef),
}

/// `{threshold: NAME}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRef {
    pub threshold: String,
}

/// The user's `.qlint.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigSpec {
    #[serde(default)]
    pub select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity: BTreeMap<String, Spanned<String>>,
    pub fail_on: Option<Spanned<String>>,
    pub target_cpu: Option<String>,
    pub provider: Option<String>,
    /// Paddle2ONNX release that Paddle programs are judged for.
    pub paddle2onnx_version: Option<Spanned<String>>,
    /// ONNX Runtime release that QDQ fusion is predicted for.
    pub ort_version: Option<Spanned<String>>,
    /// Extra rule packs, relative to the config file.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Overrides of named thresholds.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Spanned<f64>>,
}
