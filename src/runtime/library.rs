//! Finding the ONNX Runtime shared library.
//!
//! qlint looks in three places, in order. First comes the `ORT_DYLIB_PATH` environment variable,
//! which must then name an existing file. Next is a library file in the directory of the `qlint`
//! binary. Last is the cache that `scripts/fetch-onnxruntime.sh` fills: `$QLINT_ORT_CACHE/<version>/`,
//! or `.cache/onnxruntime/<version>/` in the first directory above the binary that contains a
//! `Cargo.toml` (the repository, for binaries under `target/`).

use std::env;
use std::path::{Path, PathBuf};

use super::results::LibrarySource;

/// The ONNX Runtime release qlint is built and tested against. The `ort` crate's `api-31`
/// feature requires 1.31 or newer.
pub const ORT_VERSION: &str = "1.31.1";

/// Environment variable that names the library file.
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// Environment variable that overrides the cache root of `scripts/fetch-onnxruntime.sh`.
pub const CACHE_ENV: &str = "QLINT_ORT_CACHE";

/// A library file and how it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    pub path: PathBuf,
    pub source: LibrarySource,
}

/// File names of the library on this platform, versioned first.
fn library_names() -> Vec<String> {
    if cfg!(target_os = "macos") {
        vec![
            format!("libonnxruntime.{ORT_VERSION}.dylib"),
            "libonnxruntime.dylib".into(),
        ]
    } else if cfg!(windows) {
        vec!["onnxruntime.dll".into()]
    } else {
        vec![
            format!("libonnxruntime.so.{ORT_VERSION}"),
            "libonnxruntime.so".into(),
        ]
    }
}

/// Returns the error message for a missing library: where to get one and what to set.
pub fn missing_library_help() -> String {
    format!(
        "ONNX Runtime library not found: run `scripts/fetch-onnxruntime.sh` in the qlint \
         repository (it downloads onnxruntime=={ORT_VERSION} from PyPI into .cache/onnxruntime/), \
         or set {DYLIB_ENV}=/path/to/libonnxruntime.so.{ORT_VERSION}"
    )
}

/// Finds the library for a `qlint` binary at `exe`, reading the environment.
pub fn locate(exe: &Path) -> Result<Library, String> {
    locate_with(exe, &|name| env::var_os(name).map(PathBuf::from))
}

/// Finds the library with `var` in place of the process environment, for tests.
pub fn locate_with(exe: &Path, var: &dyn Fn(&str) -> Option<PathBuf>) -> Result<Library, String> {
    if let Some(path) = var(DYLIB_ENV).filter(|p| !p.as_os_str().is_empty()) {
        if path.is_file() {
            return Ok(Library {
                path: absolute(&path),
                source: LibrarySource::Env,
            });
        }
        return Err(format!(
            "{DYLIB_ENV} is set to {}, which is not a file: point it at libonnxruntime.so.{ORT_VERSION} \
             or unset it to use the library from scripts/fetch-onnxruntime.sh",
            path.display()
        ));
    }
    let names = library_names();
    let find_in = |dir: &Path| {
        names
            .iter()
            .map(|name| dir.join(name))
            .find(|candidate| candidate.is_file())
    };
    if let Some(path) = exe.parent().and_then(find_in) {
        return Ok(Library {
            path: absolute(&path),
            source: LibrarySource::BesideBinary,
        });
    }
    for root in cache_roots(exe, var) {
        if let Some(path) = find_in(&root.join(ORT_VERSION)) {
            return Ok(Library {
                path: absolute(&path),
                source: LibrarySource::Cache,
            });
        }
    }
    Err(missing_library_help())
}

/// Cache roots to search: `$QLINT_ORT_CACHE`, then the repository's `.cache/onnxruntime`.
fn cache_roots(exe: &Path, var: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(root) = var(CACHE_ENV).filter(|p| !p.as_os_str().is_empty()) {
        roots.push(root);
    }
    let repository = exe
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("Cargo.toml").is_file());
    if let Some(repository) = repository {
        roots.push(repository.join(".cache").join("onnxruntime"));
    }
    roots
}

/// Largest library file [`version_of`] reads (ONNX Runtime 1.31.1 for Linux x86-64 is 29 MB).
const MAX_LIBRARY_BYTES: u64 = 512 * 1024 * 1024;

/// Reads the ONNX Runtime release of a library file, or `None` when it cannot tell.
///
/// ONNX Runtime's own build info names only the Git branch, which is `HEAD` in the PyPI wheels,
/// so qlint reads the release from the file instead. On Linux, ONNX Runtime links its exported
/// symbols with a version script whose version node is `VERS_<release>`, as `readelf -V` shows
/// for the 1.31.1 wheel's library. Elsewhere the release comes from a file name such as
/// `libonnxruntime.so.1.31.1` or `libonnxruntime.1.31.1.dylib`, after following symbolic links.
pub fn version_of(path: &Path) -> Option<String> {
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    version_from_symbols(&resolved).or_else(|| version_from_name(&resolved))
}

fn version_from_symbols(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_LIBRARY_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let pattern = regex::bytes::Regex::new(r"VERS_([0-9]+\.[0-9]+\.[0-9]+)\x00").ok()?;
    let captures = pattern.captures(&bytes)?;
    String::from_utf8(captures.get(1)?.as_bytes().to_vec()).ok()
}

fn version_from_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let pattern = regex::Regex::new(r"onnxruntime\.(?:so\.)?([0-9]+\.[0-9]+\.[0-9]+)").ok()?;
    Some(pattern.captures(&name)?.get(1)?.as_str().to_string())
}

/// Makes `path` absolute against the current directory, so the worker finds it from anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn no_env(_: &str) -> Option<PathBuf> {
        None
    }

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(path, b"not really a library").unwrap_or_else(|e| panic!("{e}"));
    }

    fn versioned() -> String {
        library_names().remove(0)
    }

    #[test]
    fn env_var_wins_and_must_exist() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lib = dir.path().join("custom.so");
        touch(&lib);
        let exe = dir.path().join("bin/qlint");
        let set = |name: &str| (name == DYLIB_ENV).then(|| lib.clone());
        let found = locate_with(&exe, &set);
        assert_eq!(found.map(|l| l.source), Ok(LibrarySource::Env));

        let missing = dir.path().join("nope.so");
        let set_missing = |name: &str| (name == DYLIB_ENV).then(|| missing.clone());
        let error = locate_with(&exe, &set_missing);
        assert!(error.is_err_and(|e| e.contains("not a file") && e.contains("nope.so")));
    }

    #[test]
    fn library_beside_binary_is_found() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        touch(&dir.path().join("bin").join(versioned()));
        let found = locate_with(&dir.path().join("bin/qlint"), &no_env);
        assert_eq!(found.map(|l| l.source), Ok(LibrarySource::BesideBinary));
    }

    #[test]
    fn repository_cache_is_found_from_target_dir() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        touch(&dir.path().join("Cargo.toml"));
        let cached = dir
            .path()
            .join(".cache/onnxruntime")
            .join(ORT_VERSION)
            .join(versioned());
        touch(&cached);
        let exe = dir.path().join("target/debug/qlint");
        let found = locate_with(&exe, &no_env);
        assert_eq!(
            found,
            Ok(Library {
                path: cached,
                source: LibrarySource::Cache
            })
        );
    }

    #[test]
    fn cache_env_is_searched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().join("cache");
        touch(&root.join(ORT_VERSION).join(versioned()));
        let set = |name: &str| (name == CACHE_ENV).then(|| root.clone());
        let found = locate_with(&dir.path().join("bin/qlint"), &set);
        assert_eq!(found.map(|l| l.source), Ok(LibrarySource::Cache));
    }

    #[test]
    fn version_from_name_reads_release() {
        let name = |n: &str| version_from_name(Path::new(n));
        assert_eq!(name("/x/libonnxruntime.so.1.31.1"), Some("1.31.1".into()));
        assert_eq!(name("libonnxruntime.1.22.0.dylib"), Some("1.22.0".into()));
        assert_eq!(name("/x/libonnxruntime.so"), None);
    }

    #[test]
    fn version_from_symbols_reads_version_node() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lib = dir.path().join("libonnxruntime.so");
        fs::write(
            &lib,
            b"\x7fELF....OrtGetApiBase\x00VERS_1.31.1\x00libc.so.6\x00",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version_of(&lib), Some("1.31.1".into()));
        fs::write(&lib, b"no version here").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version_of(&lib), None);
    }

    #[test]
    fn missing_library_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let error = locate_with(&dir.path().join("bin/qlint"), &no_env);
        assert!(error.is_err_and(|e| e.contains("scripts/fetch-onnxruntime.sh")
            && e.contains(DYLIB_ENV)));
    }
}
