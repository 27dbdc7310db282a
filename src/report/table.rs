//! The per-model summary table of the text format, drawn with comfy-table.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::common::{display_path, printable, sorted_inputs};
use super::{InputReport, ModelSummary, Report, Severity};
use crate::graph::Stage;

/// Column titles, in order. Columns from `nodes` on hold numbers and are right-aligned.
const HEADER: [&str; 10] = [
    "model",
    "stage",
    "nodes",
    "quant ops",
    "int8 chains",
    "islands",
    "int8 MACs",
    "errors",
    "warnings",
    "infos",
];

/// Maximum number of chain sizes shown in one cell before the rest become `...`.
const CHAIN_SIZE_LIMIT: usize = 8;

/// Builds a table with one row per input that has a summary, or `None` when none has one.
///
/// Without color the table uses ASCII Markdown borders. Column widths never depend on the
/// terminal, so the same report gives the same bytes everywhere.
pub(crate) fn summary_table(report: &Report, color: bool) -> Option<Table> {
    let rows: Vec<Vec<String>> = sorted_inputs(report)
        .into_iter()
        .filter_map(|input| Some(summary_row(report, input, input.summary.as_ref()?)))
        .collect();
    if rows.is_empty() {
        return None;
    }

    let mut table = Table::new();
    table
        .load_preset(if color {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_MARKDOWN
        })
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(HEADER);
    for row in rows {
        table.add_row(row);
    }
    for index in 2..HEADER.len() {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    Some(table)
}

fn summary_row(report: &Report, input: &InputReport, summary: &ModelSummary) -> Vec<String> {
    let count_at = |severity: Severity| {
        report
            .findings
            .iter()
            .filter(|finding| finding.path == input.path && finding.severity == severity)
            .count()
            .to_string()
    };
    vec![
        printable(&display_path(&input.path)),
        input.stage.map_or("-", Stage::as_str).to_string(),
        summary.nodes.to_string(),
        summary.quant_ops.to_string(),
        chains_cell(input.stage, &summary.chains),
        islands_cell(input.stage, summary.islands),
        int8_share_cell(summary),
        count_at(Severity::Error),
        count_at(Severity::Warning),
        count_at(Severity::Info),
    ]
}

/// Formats the island count; `-` before ONNX Runtime optimized the graph, where islands are not
/// defined.
fn islands_cell(stage: Option<Stage>, islands: usize) -> String {
    if stage == Some(Stage::Optimized) {
        islands.to_string()
    } else {
        "-".to_string()
    }
}

/// Formats the chain count and sizes, `4 [1, 1, 1, 1]`; `-` before ONNX Runtime optimized the
/// graph, because chains are only computed on optimized graphs.
fn chains_cell(stage: Option<Stage>, chains: &[usize]) -> String {
    if stage != Some(Stage::Optimized) {
        return "-".to_string();
    }
    if chains.is_empty() {
        return "0".to_string();
    }
    let mut sizes: Vec<String> = chains
        .iter()
        .take(CHAIN_SIZE_LIMIT)
        .map(usize::to_string)
        .collect();
    if chains.len() > CHAIN_SIZE_LIMIT {
        sizes.push("...".to_string());
    }
    format!("{} [{}]", chains.len(), sizes.join(", "))
}

/// Formats the int8 share of quantizable MACs as a percentage, `~` in front when a MAC count was
/// only a lower bound, and `-` when the share was not computed.
fn int8_share_cell(summary: &ModelSummary) -> String {
    let Some(share) = summary.int8_share else {
        return "-".to_string();
    };
    let approximate = if summary.macs_exact { "" } else { "~" };
    format!("{approximate}{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_cell_lists_sizes() {
        let cell = chains_cell(Some(Stage::Optimized), &[1, 1, 1, 1]);
        assert_eq!(cell, "4 [1, 1, 1, 1]");
    }

    #[test]
    fn chains_cell_cuts_long_lists() {
        let chains: Vec<usize> = (1..=10).rev().collect();
        let cell = chains_cell(Some(Stage::Optimized), &chains);
        assert_eq!(cell, "10 [10, 9, 8, 7, 6, 5, 4, 3, ...]");
    }

    #[test]
    fn chains_cell_dash_before_optimization() {
        assert_eq!(chains_cell(Some(Stage::Onnx), &[]), "-");
        assert_eq!(chains_cell(None, &[]), "-");
        assert_eq!(chains_cell(Some(Stage::Optimized), &[]), "0");
    }

    #[test]
    fn int8_share_cell_formats_percent() {
        let mut summary = ModelSummary {
            int8_share: Some(0.8125),
            macs_exact: true,
            ..ModelSummary::default()
        };
        assert_eq!(int8_share_cell(&summary), "81.2%");
        summary.macs_exact = false;
        assert_eq!(int8_share_cell(&summary), "~81.2%");
        summary.int8_share = None;
        assert_eq!(int8_share_cell(&summary), "-");
    }

    #[test]
    fn summary_table_absent_without_summaries() {
        assert!(summary_table(&Report::default(), false).is_none());
    }
}
