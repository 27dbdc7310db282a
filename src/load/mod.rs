//! Finding models on disk, detecting their kind and stage, and dispatching to the loaders.
//!
//! A file is a Paddle program (`*.pdmodel`, `__model__`, `model`, or a `.json` whose
//! `base_code.magic` is `pir`) or an ONNX file. A directory that directly contains one Paddle
//! program is that model (its parameters sit beside it); a directory without one is searched
//! recursively for program files and `.onnx` files.

pub mod onnx;
pub mod paddle;

use std::fs;
use std::path::{Path, PathBuf};

use crate::analysis::quant::has_ort_fingerprint;
use crate::error::LoadError;
use crate::graph::{Model, Stage};

/// Deepest directory level searched below a directory given on the command line.
const MAX_SEARCH_DEPTH: usize = 16;
/// Most model files one directory search returns, so a huge tree cannot stall a run.
const MAX_FOUND: usize = 10_000;

/// The format of a file that qlint recognized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    PaddleProgram,
    PaddlePir,
    Onnx,
}

/// A model file to load.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    pub path: PathBuf,
    pub kind: InputKind,
}

/// Resolves a command-line path into the model files it names.
pub fn discover(path: &Path) -> Result<Vec<Input>, LoadError> {
    let (found, mut problems) = discover_all(path);
    match (found.is_empty(), problems.is_empty()) {
        (false, _) | (true, true) => Ok(found),
        (true, false) => Err(problems.remove(0)),
    }
}

/// Resolves a command-line path into the model files it names, and the problems met on the way.
/// A search goes on past a subdirectory it cannot use (two programs, unreadable), so one bad
/// folder does not hide the good models next to it.
pub fn discover_all(path: &Path) -> (Vec<Input>, Vec<LoadError>) {
    match discover_strict(path) {
        Ok(Found::Models(found)) => (found, Vec::new()),
        Ok(Found::Searched(found, problems)) => (found, problems),
        Err(error) => (Vec::new(), vec![error]),
    }
}

/// The models a path resolved to.
enum Found {
    /// A file or a model directory.
    Models(Vec<Input>),
    /// A directory search: the models and the problems in its subdirectories.
    Searched(Vec<Input>, Vec<LoadError>),
}

fn discover_strict(path: &Path) -> Result<Found, LoadError> {
    let meta = fs::metadata(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    if meta.is_file() {
        return classify_file(path).map(|kind| {
            Found::Models(vec![Input {
                path: path.to_path_buf(),
                kind,
            }])
        });
    }
    if !meta.is_dir() {
        return Err(LoadError::new(path, "not a file or directory"));
    }
    let programs = program_files(path)?;
    match programs.len() {
        1 => Ok(Found::Models(programs)),
        0 => {
            let mut found = Vec::new();
            let mut problems = Vec::new();
            search(path, 0, &mut found, &mut problems);
            if found.is_empty() && problems.is_empty() {
                return Err(LoadError::new(
                    path,
                    format!(
                        "no model found under {}: expected a Paddle program (*.pdmodel, __model__, model, PIR .json) or an .onnx file",
                        path.display()
                    ),
                ));
            }
            found.sort();
            Ok(Found::Searched(found, problems))
        }
        _ => Err(ambiguous(path, &programs)),
    }
}

fn ambiguous(dir: &Path, programs: &[Input]) -> LoadError {
    let names: Vec<String> = programs
        .iter()
        .filter_map(|p| p.path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    LoadError::new(
        dir,
        format!(
            "directory holds more than one Paddle program ({}): pass the one to lint",
            names.join(", ")
        ),
    )
}

/// Recognizes a file named on the command line; unknown kinds are errors.
fn classify_file(path: &Path) -> Result<InputKind, LoadError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("onnx") => Ok(InputKind::Onnx),
        Some("pdmodel") => Ok(InputKind::PaddleProgram),
        Some("json") => {
            if paddle::is_pir_json(path)? {
                Ok(InputKind::PaddlePir)
            } else {
                Err(LoadError::new(
                    path,
                    "JSON file is not a Paddle PIR program (`base_code.magic` is not \"pir\")",
                ))
            }
        }
        _ if name == "__model__" || name == "model" => Ok(InputKind::PaddleProgram),
        _ => Err(LoadError::new(
            path,
            "unrecognized model file: expected .onnx, .pdmodel, __model__, model or a PIR .json",
        )),
    }
}

/// Program files directly inside `dir`, sorted.
fn program_files(dir: &Path) -> Result<Vec<Input>, LoadError> {
    let mut found = Vec::new();
    for entry in read_dir_sorted(dir)? {
        if !entry.is_file() {
            continue;
        }
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = entry
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let kind = match ext.as_deref() {
            Some("pdmodel") => Some(InputKind::PaddleProgram),
            Some("json") if paddle::is_pir_json(&entry).unwrap_or(false) => {
                Some(InputKind::PaddlePir)
            }
            _ if name == "__model__" || name == "model" => Some(InputKind::PaddleProgram),
            _ => None,
        };
        if let Some(kind) = kind {
            found.push(Input { path: entry, kind });
        }
    }
    Ok(found)
}

/// Collects models below `dir`: its Paddle program if it has exactly one, its `.onnx` files, and
/// those of its subdirectories. Symbolic links to directories are not followed, so a link loop
/// cannot make the search endless.
fn search(dir: &Path, depth: usize, found: &mut Vec<Input>, problems: &mut Vec<LoadError>) {
    if depth > MAX_SEARCH_DEPTH {
        let message = format!("not searched: deeper than {MAX_SEARCH_DEPTH} directory levels");
        problems.push(LoadError::new(dir, message));
        return;
    }
    if found.len() >= MAX_FOUND {
        let message = format!("not searched: the search already found {MAX_FOUND} models");
        problems.push(LoadError::new(dir, message));
        return;
    }
    let programs = match program_files(dir) {
        Ok(programs) if programs.len() > 1 => Err(ambiguous(dir, &programs)),
        other => other,
    };
    match programs {
        Ok(programs) => found.extend(programs),
        Err(error) => problems.push(error),
    }
    let entries = match read_dir_sorted(dir) {
        Ok(entries) => entries,
        Err(error) => {
            problems.push(error);
            return;
        }
    };
    for entry in entries {
        let is_link = fs::symlink_metadata(&entry)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true);
        if entry.is_dir() && !is_link {
            search(&entry, depth + 1, found, problems);
        } else if entry.is_file()
            && entry
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
        {
            found.push(Input {
                path: entry,
                kind: InputKind::Onnx,
            });
        }
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = fs::read_dir(dir)
        .map_err(|e| LoadError::new(dir, format!("cannot read directory: {e}")))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

/// Loads one input. ONNX files that carry ORT's fingerprint, or all of them when
/// `force_optimized` is set, get stage [`Stage::Optimized`].
pub fn load(input: &Input, force_optimized: bool) -> Result<Model, LoadError> {
    match input.kind {
        InputKind::PaddleProgram => paddle::load_program(&input.path),
        InputKind::PaddlePir => paddle::load_pir(&input.path),
        InputKind::Onnx => {
            let mut model = onnx::load(&input.path)?;
            if force_optimized || has_ort_fingerprint(&model.meta) {
                model.stage = Stage::Optimized;
            }
            Ok(model)
        }
    }
}
