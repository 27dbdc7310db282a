//! Which model of a pipeline each model came from.
//!
//! An ONNX export comes from the Paddle program in its directory, or from the only Paddle
//! program of the pipeline. An ORT-optimized graph comes from the ONNX export whose file stem
//! starts its own stem (`p2o131.ort_extended.onnx` from `p2o131.onnx`). Among several, the one
//! in the same directory wins, then the longest stem. Without such an export it comes from the
//! only ONNX export, else from a Paddle program as an export would.

use std::path::Path;

use crate::graph::{Model, Stage};

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a.parent() == b.parent()
}

/// True when `derived` names a file made from `source`: the stem of `source` followed by `.`,
/// `_` or `-` (`p2o131` and `p2o131.ort_extended`, `model` and `model_opt`).
fn stem_derives(source: &str, derived: &str) -> bool {
    derived
        .strip_prefix(source)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| matches!(c, '.' | '_' | '-'))
}

/// Finds the Paddle program that model `later` was exported from.
fn paddle_source(models: &[&Model], later: usize) -> Option<usize> {
    let path = &models.get(later)?.path;
    let paddle: Vec<usize> = (0..models.len())
        .filter(|&i| models.get(i).is_some_and(|m| m.stage == Stage::Paddle))
        .collect();
    let beside = paddle
        .iter()
        .copied()
        .find(|&i| models.get(i).is_some_and(|m| same_dir(&m.path, path)));
    beside.or_else(|| {
        (paddle.len() == 1)
            .then(|| paddle.first().copied())
            .flatten()
    })
}

/// Finds the ONNX export that the optimized graph `later` was made from.
fn onnx_source(models: &[&Model], later: usize) -> Option<usize> {
    let path = &models.get(later)?.path;
    let own = stem(path);
    let exports: Vec<usize> = (0..models.len())
        .filter(|&i| models.get(i).is_some_and(|m| m.stage == Stage::Onnx))
        .collect();
    let by_name = exports
        .iter()
        .copied()
        .filter_map(|i| {
            let model = models.get(i)?;
            let source = stem(&model.path);
            stem_derives(&source, &own).then(|| (same_dir(&model.path, path), source.len(), i))
        })
        .max_by_key(|&(dir, len, i)| (dir, len, std::cmp::Reverse(i)))
        .map(|(_, _, i)| i);
    by_name.or_else(|| {
        (exports.len() == 1)
            .then(|| exports.first().copied())
            .flatten()
    })
}

/// Pairs `(earlier, later)` of model indices to compare, each later model once.
pub fn pairs(models: &[&Model]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (later, model) in models.iter().enumerate() {
        let source = match model.stage {
            Stage::Paddle => None,
            Stage::Onnx => paddle_source(models, later),
            Stage::Optimized => onnx_source(models, later).or_else(|| paddle_source(models, later)),
        };
        if let Some(earlier) = source {
            found.push((earlier, later));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::Net;

    fn model(path: &str, stage: Stage) -> Model {
        let mut model = Net::onnx().model(stage);
        model.path = path.into();
        model
    }

    #[test]
    fn optimized_graph_pairs_with_its_export() {
        let models = [
            model("a/model.pdmodel", Stage::Paddle),
            model("a/p2o131.onnx", Stage::Onnx),
            model("a/p2o131_trt.onnx", Stage::Onnx),
            model("a/p2o131.ort_extended.onnx", Stage::Optimized),
            model("a/p2o131_trt.ort_all.onnx", Stage::Optimized),
        ];
        let refs: Vec<&Model> = models.iter().collect();
        assert_eq!(pairs(&refs), vec![(0, 1), (0, 2), (1, 3), (2, 4)]);
    }

    #[test]
    fn export_elsewhere_pairs_with_the_only_program() {
        let models = [
            model("inference/model.pdmodel", Stage::Paddle),
            model("out/model.onnx", Stage::Onnx),
            model("out/other.opt.onnx", Stage::Optimized),
        ];
        let refs: Vec<&Model> = models.iter().collect();
        assert_eq!(pairs(&refs), vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn two_programs_elsewhere_pair_with_nothing() {
        let models = [
            model("a/model.pdmodel", Stage::Paddle),
            model("b/model.pdmodel", Stage::Paddle),
            model("c/model.onnx", Stage::Onnx),
        ];
        let refs: Vec<&Model> = models.iter().collect();
        assert!(pairs(&refs).is_empty());
    }
}
