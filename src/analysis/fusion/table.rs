//! ORT's QDQ fusion rules per release, embedded from `rules/data/ort-qdq-fusion.yaml`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;

/// The table file, as compiled into the binary.
const TABLE_YAML: &str = include_str!("../../../rules/data/ort-qdq-fusion.yaml");

/// The file name used in error messages.
const TABLE_FILE: &str = "rules/data/ort-qdq-fusion.yaml";

/// The execution provider qlint predicts for.
pub const CPU_PROVIDER: &str = "CPUExecutionProvider";

/// The check a selector makes, named after ORT's node group selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectorKind {
    /// DequantizeLinear -> op -> QuantizeLinear with equal parameters: both are dropped and the
    /// op runs on 8-bit data.
    DropQdq,
    /// DequantizeLinear -> op: the DequantizeLinear is dropped.
    DropDq,
    /// DequantizeLinear -> Split -> one QuantizeLinear per output, all with equal parameters.
    Split,
    /// One DequantizeLinear input and one QuantizeLinear output of the same type.
    Unary,
    /// Two DequantizeLinear inputs and one QuantizeLinear output, all of one type.
    Binary,
    /// Every input from DequantizeLinear, every output to QuantizeLinear, all of one type.
    Variadic,
    /// Conv: input, weight and optional int32 bias from DequantizeLinear, output to
    /// QuantizeLinear.
    Conv,
    /// MatMul: both inputs from DequantizeLinear; without an output QuantizeLinear it becomes
    /// MatMulIntegerToFloat.
    Matmul,
    /// Gemm: A, B and optional int32 C from DequantizeLinear, optional output QuantizeLinear.
    Gemm,
    /// Where: both data inputs from DequantizeLinear, output to QuantizeLinear.
    Where,
    /// MatMul or Gemm whose only DequantizeLinear input is a constant 2-D 2/4/8-bit weight.
    DqMatmulNbits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TableSpec {
    onnx_since_versions: BTreeMap<String, Vec<i64>>,
    layout_ops: Vec<String>,
    releases: Vec<ReleaseSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReleaseSpec {
    version: String,
    wheel: String,
    same_as: Option<String>,
    int8_activations: Option<bool>,
    passes: Option<Passes>,
    propagation: Option<Vec<OpEntry>>,
    selectors: Option<Vec<Selector>>,
}

/// Graph passes before the selectors that change which groups they see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Passes {
    pub qdq_propagation: bool,
    pub weight_bias_quantization: bool,
    pub relu_clip_folding: bool,
    pub s8_to_u8: bool,
}

/// An op type with an optional since-version filter and the kernel ORT writes for it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OpEntry {
    pub op: String,
    /// Since-versions the op must have; empty means any.
    #[serde(default)]
    pub since: Vec<i64>,
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub kernel_without_q: Option<String>,
}

/// One selector: a kind of check over a list of op types.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Selector {
    pub kind: SelectorKind,
    pub providers: Vec<String>,
    #[serde(default)]
    pub positive_scale: bool,
    #[serde(default, rename = "allow-16bit")]
    pub allow_16bit: bool,
    pub ops: Vec<OpEntry>,
}

/// The rules of one ORT release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// `major.minor`, as `--ort-version` takes it.
    pub version: String,
    /// The patch release the rules were measured with.
    pub wheel: String,
    /// True when Conv and MatMul accept int8 activations (ARM builds; false on x86-64).
    pub int8_activations: bool,
    pub passes: Passes,
    pub propagation: Vec<OpEntry>,
    /// In the order ORT tries them.
    pub selectors: Vec<Selector>,
}

impl Release {
    /// Selectors registered for `op`, in the order ORT tries them, with the op's entry.
    pub fn selectors_for<'a>(
        &'a self,
        op: &'a str,
    ) -> impl Iterator<Item = (&'a Selector, &'a OpEntry)> + 'a {
        self.selectors.iter().flat_map(move |s| {
            s.ops
                .iter()
                .filter(move |e| e.op == op)
                .map(move |e| (s, e))
        })
    }
}

/// The whole table.
#[derive(Debug)]
pub struct Table {
    /// Since-versions of the ONNX schemas that `since` filters name.
    pub onnx_since_versions: BTreeMap<String, Vec<i64>>,
    pub layout_ops: BTreeSet<String>,
    /// In file order.
    pub releases: Vec<Release>,
}

impl Table {
    /// Finds a release by its `major.minor` version.
    pub fn release(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version == version)
    }

    /// Every version, in file order, joined with commas.
    pub fn version_list(&self) -> String {
        let versions: Vec<&str> = self.releases.iter().map(|r| r.version.as_str()).collect();
        versions.join(", ")
    }

    /// The since-version an op has in a model of `opset`: the newest schema version not above
    /// it. `None` when the table does not list the op's schema versions.
    pub fn since_version(&self, op: &str, opset: i64) -> Option<i64> {
        self.onnx_since_versions
            .get(op)?
            .iter()
            .copied()
            .filter(|&v| v <= opset)
            .max()
    }
}

/// Returns the embedded table, parsed on first use.
pub fn table() -> Result<&'static Table, String> {
    static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| parse(TABLE_YAML))
        .as_ref()
        .map_err(Clone::clone)
}

/// Parses and checks a table; the error names the table file.
pub(super) fn parse(text: &str) -> Result<Table, String> {
    let fail = |message: String| format!("{TABLE_FILE}: {message}");
    let spec: TableSpec = serde_saphyr::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut releases: Vec<Release> = Vec::with_capacity(spec.releases.len());
    for release in spec.releases {
        let resolved = resolve(release, &releases).map_err(&fail)?;
        check_release(&resolved, &spec.onnx_since_versions).map_err(&fail)?;
        if releases.iter().any(|r| r.version == resolved.version) {
            return Err(fail(format!(
                "release `{}` is listed twice",
                resolved.version
            )));
        }
        releases.push(resolved);
    }
    if releases.is_empty() {
        return Err(fail("the table lists no release".to_string()));
    }
    Ok(Table {
        onnx_since_versions: spec.onnx_since_versions,
        layout_ops: spec.layout_ops.into_iter().collect(),
        releases,
    })
}

/// Fills a release from the one it names in `same-as`, or from its own fields.
fn resolve(spec: ReleaseSpec, earlier: &[Release]) -> Result<Release, String> {
    let version = spec.version;
    if let Some(base) = &spec.same_as {
        let own = spec.int8_activations.is_some()
            || spec.passes.is_some()
            || spec.propagation.is_some()
            || spec.selectors.is_some();
        if own {
            return Err(format!(
                "release `{version}` has `same-as` and rules of its own: keep one of them"
            ));
        }
        let base = earlier.iter().find(|r| &r.version == base).ok_or_else(|| {
            format!("release `{version}`: `same-as: {base}` names no earlier release")
        })?;
        return Ok(Release {
            version,
            wheel: spec.wheel,
            ..base.clone()
        });
    }
    let missing = |field: &str| format!("release `{version}` has no `{field}`");
    Ok(Release {
        int8_activations: spec
            .int8_activations
            .ok_or_else(|| missing("int8-activations"))?,
        passes: spec.passes.ok_or_else(|| missing("passes"))?,
        propagation: spec.propagation.ok_or_else(|| missing("propagation"))?,
        selectors: spec.selectors.ok_or_else(|| missing("selectors"))?,
        wheel: spec.wheel,
        version,
    })
}

/// Checks what serde cannot: the version form, kernels and since filters.
fn check_release(release: &Release, since: &BTreeMap<String, Vec<i64>>) -> Result<(), String> {
    let version = &release.version;
    let numeric = version.split('.').all(|p| p.parse::<u32>().is_ok());
    if version.split('.').count() != 2 || !numeric {
        return Err(format!("invalid release `{version}`: expected MAJOR.MINOR"));
    }
    let entries = release
        .selectors
        .iter()
        .flat_map(|s| s.ops.iter())
        .chain(&release.propagation);
    for entry in entries {
        if !entry.since.is_empty() && !since.contains_key(&entry.op) {
            return Err(format!(
                "release `{version}`: `{}` has a since filter but onnx-since-versions lists no \
                 versions for it",
                entry.op
            ));
        }
    }
    for selector in &release.selectors {
        for entry in &selector.ops {
            if entry.kernel.is_none() {
                return Err(format!(
                    "release `{version}`: selector entry `{}` has no kernel",
                    entry.op
                ));
            }
        }
    }
    Ok(())
}
