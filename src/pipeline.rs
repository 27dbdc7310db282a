//! Groups the models of one lint run into pipelines, so that cross-stage checks compare a
//! Paddle program with its ONNX export and the export with ORT's optimized graph.
//!
//! Two rules decide the groups:
//!
//! - Models named one by one on the command line (a model file, a Paddle model directory or a
//!   `--optimized FILE`) form one pipeline, wherever their files are: `qlint inference
//!   model.onnx` compares the Paddle model in `inference/` with `model.onnx`.
//! - Models found by searching a directory are grouped by the directory that contains them, so
//!   `qlint corpus/` compares each model directory's program with the exports beside it and
//!   never a model with another directory's export.
//!
//! Within a pipeline, [`crate::analysis::cross_stage::pairs`] decides which model came from
//! which.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::load::{Input, InputKind};

/// One model file of a run and how the command line reached it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub input: Input,
    /// Lint it as an ORT-optimized graph (`--optimized FILE`).
    pub forced: bool,
    /// Named on the command line, not found by searching a directory.
    pub named: bool,
}

/// True when the command-line `path` names a single model rather than a directory to search:
/// a file, or a directory that is one Paddle model (its program sits directly inside).
pub fn names_one_model(path: &Path, found: &[Input]) -> bool {
    match found {
        [one] => path.is_file() || (one.kind != InputKind::Onnx && one.path.parent() == Some(path)),
        _ => false,
    }
}

/// Removes repeated files and splits the rest into pipelines, in path order. A file given
/// twice is linted once: named if either occurrence was, and forced to the optimized stage if
/// either occurrence was.
pub fn group(sources: Vec<Source>) -> Vec<Vec<Source>> {
    // The same file spelled two ways (`./x.onnx` and `x.onnx`) is one file.
    let mut keyed: Vec<(PathBuf, Source)> = sources
        .into_iter()
        .map(|s| {
            let key = std::fs::canonicalize(&s.input.path).unwrap_or_else(|_| s.input.path.clone());
            (key, s)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.forced.cmp(&a.1.forced)));
    let mut unique: Vec<(PathBuf, Source)> = Vec::new();
    for (key, source) in keyed {
        match unique.last_mut() {
            Some((last_key, last)) if *last_key == key => last.named |= source.named,
            _ => unique.push((key, source)),
        }
    }
    let unique = unique.into_iter().map(|(_, s)| s);
    let mut named = Vec::new();
    let mut by_dir: BTreeMap<PathBuf, Vec<Source>> = BTreeMap::new();
    for source in unique {
        if source.named {
            named.push(source);
        } else {
            let dir = source.input.path.parent().map(Path::to_path_buf);
            by_dir
                .entry(dir.unwrap_or_default())
                .or_default()
                .push(source);
        }
    }
    let mut groups: Vec<Vec<Source>> = Vec::new();
    if !named.is_empty() {
        groups.push(named);
    }
    groups.extend(by_dir.into_values());
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &str, kind: InputKind, named: bool) -> Source {
        Source {
            input: Input {
                path: path.into(),
                kind,
            },
            forced: false,
            named,
        }
    }

    fn paths(group: &[Source]) -> Vec<String> {
        group
            .iter()
            .map(|s| s.input.path.display().to_string())
            .collect()
    }

    #[test]
    fn named_models_form_one_pipeline() {
        let groups = group(vec![
            source("out/model.onnx", InputKind::Onnx, true),
            source("inference/model.pdmodel", InputKind::PaddleProgram, true),
        ]);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            paths(&groups[0]),
            ["inference/model.pdmodel", "out/model.onnx"]
        );
    }

    #[test]
    fn found_models_group_by_directory() {
        let groups = group(vec![
            source("c/a/p2o131.onnx", InputKind::Onnx, false),
            source("c/b/model.pdmodel", InputKind::PaddleProgram, false),
            source("c/a/model.pdmodel", InputKind::PaddleProgram, false),
            source("c/b/p2o131.onnx", InputKind::Onnx, false),
        ]);
        let all: Vec<Vec<String>> = groups.iter().map(|g| paths(g)).collect();
        assert_eq!(
            all,
            [
                ["c/a/model.pdmodel", "c/a/p2o131.onnx"],
                ["c/b/model.pdmodel", "c/b/p2o131.onnx"]
            ]
        );
    }

    #[test]
    fn model_directory_names_one_model() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let program = dir.join("model.pdmodel");
        std::fs::write(&program, b"").unwrap();
        let inside = |path: PathBuf, kind| Input { path, kind };
        let one = [inside(program.clone(), InputKind::PaddleProgram)];
        assert!(names_one_model(dir, &one), "a Paddle model directory");
        assert!(names_one_model(&program, &one), "a program file");
        let nested = [inside(
            dir.join("sub/model.pdmodel"),
            InputKind::PaddleProgram,
        )];
        assert!(
            !names_one_model(dir, &nested),
            "a model found below the directory"
        );
        let export = [inside(dir.join("model.onnx"), InputKind::Onnx)];
        assert!(
            !names_one_model(dir, &export),
            "an export found by searching"
        );
        let two = [one[0].clone(), export[0].clone()];
        assert!(!names_one_model(dir, &two), "two models");
    }

    #[test]
    fn repeated_file_is_kept_once_as_named() {
        let groups = group(vec![
            source("a/p2o131.onnx", InputKind::Onnx, false),
            source("a/p2o131.onnx", InputKind::Onnx, true),
        ]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].len(), 1);
        assert!(groups[0][0].named);
    }
}
