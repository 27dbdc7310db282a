//! The table of Paddle op types that each Paddle2ONNX release converts, embedded from
//! `rules/data/paddle2onnx-ops.yaml` (written by `scripts/paddle2onnx_ops_table.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;

/// The table file, as compiled into the binary.
const TABLE_YAML: &str = include_str!("../../../rules/data/paddle2onnx-ops.yaml");

/// The program form a release reads and names ops in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgramForm {
    /// ProgramDesc (`.pdmodel`) with legacy op types such as `elementwise_add`.
    Legacy,
    /// PIR, with op names such as `pd_op.add`.
    Pir,
}

/// A quantization data type of quantize_linear/dequantize_linear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QdqType {
    Int8,
    Fp8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TableSpec {
    qdq_ops: Vec<String>,
    fp8_qmax: Vec<f64>,
    legacy_to_pir: BTreeMap<String, String>,
    releases: Vec<ReleaseSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReleaseSpec {
    version: String,
    program: ProgramForm,
    qdq: Vec<QdqType>,
    skip: Vec<String>,
    ops: Vec<String>,
    #[serde(default)]
    pir_renames: BTreeMap<String, String>,
}

/// One Paddle2ONNX release.
#[derive(Debug)]
pub struct Release {
    pub version: String,
    /// `(major, minor, patch)`, for ordering.
    pub number: (u32, u32, u32),
    pub program: ProgramForm,
    /// Types its quantize_linear/dequantize_linear mappers export.
    pub qdq: Vec<QdqType>,
    /// Ops accepted without a mapper, by legacy type or full PIR name (`pd_op.fetch`).
    pub skip: BTreeSet<String>,
    /// Registry keys of its mappers.
    pub ops: BTreeSet<String>,
    /// PIR op name (without `pd_op.`) to registry key, applied before the lookup.
    pub pir_renames: BTreeMap<String, String>,
}

/// The whole table, releases sorted from oldest to newest.
#[derive(Debug)]
pub struct Table {
    pub qdq_ops: BTreeSet<String>,
    pub fp8_qmax: Vec<f64>,
    pub legacy_to_pir: BTreeMap<String, String>,
    pub pir_to_legacy: BTreeMap<String, String>,
    pub releases: Vec<Release>,
}

impl Table {
    /// Finds a release by its exact version string.
    pub fn release(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version == version)
    }

    /// Every version, oldest first, joined with commas.
    pub fn version_list(&self) -> String {
        let versions: Vec<&str> = self.releases.iter().map(|r| r.version.as_str()).collect();
        versions.join(", ")
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

/// Parses and checks a table; the error names the file the text came from.
fn parse(text: &str) -> Result<Table, String> {
    let fail = |message: String| format!("rules/data/paddle2onnx-ops.yaml: {message}");
    let spec: TableSpec = serde_saphyr::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut releases = Vec::with_capacity(spec.releases.len());
    for release in spec.releases {
        let number = parse_version(&release.version)
            .ok_or_else(|| fail(format!("invalid version `{}`", release.version)))?;
        releases.push(Release {
            version: release.version,
            number,
            program: release.program,
            qdq: release.qdq,
            skip: release.skip.into_iter().collect(),
            ops: release.ops.into_iter().collect(),
            pir_renames: release.pir_renames,
        });
    }
    if releases.is_empty() {
        return Err(fail("the table lists no release".to_string()));
    }
    releases.sort_by_key(|r| r.number);
    let pir_to_legacy = spec
        .legacy_to_pir
        .iter()
        .map(|(legacy, pir)| (pir.clone(), legacy.clone()))
        .collect();
    Ok(Table {
        qdq_ops: spec.qdq_ops.into_iter().collect(),
        fp8_qmax: spec.fp8_qmax,
        legacy_to_pir: spec.legacy_to_pir,
        pir_to_legacy,
        releases,
    })
}

/// Parses `X.Y.Z` into numbers.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    let number = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(number)
}
