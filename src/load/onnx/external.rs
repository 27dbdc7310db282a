//! External data: tensor payloads stored in files next to the model (`data_location` EXTERNAL,
//! keys `location`, `offset`, `length` in `external_data`).
//!
//! A `location` must be a relative path without `..` that stays inside the model's directory
//! after symbolic links are resolved, so a hostile model cannot make qlint read other files.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use super::map_file;
use super::proto::StringStringEntryProto;
use crate::error::LoadError;

/// The external data files of one model, each memory-mapped once and shared by its tensors.
#[derive(Debug)]
pub(super) struct ExternalFiles {
    model_path: PathBuf,
    /// Maps keyed by canonical path.
    maps: HashMap<PathBuf, Bytes>,
}

/// The parsed `external_data` entries of one tensor.
#[derive(Debug, PartialEq)]
struct ExternalRef<'a> {
    location: &'a str,
    offset: u64,
    /// `None` reads to the end of the file.
    length: Option<u64>,
}

impl ExternalFiles {
    /// Creates the cache for the model at `model_path` without opening any file.
    pub(super) fn new(model_path: &Path) -> Self {
        ExternalFiles {
            model_path: model_path.to_path_buf(),
            maps: HashMap::new(),
        }
    }

    /// Returns the payload of tensor `tensor` described by its `external_data` entries.
    pub(super) fn read(
        &mut self,
        tensor: &str,
        entries: &[StringStringEntryProto],
    ) -> Result<Bytes, LoadError> {
        let error = |detail: String| {
            LoadError::new(
                &self.model_path,
                format!("external data of tensor `{tensor}`: {detail}"),
            )
        };
        let reference = parse_entries(entries).map_err(error)?;
        let file = self.resolve(reference.location).map_err(error)?;
        let data = match self.maps.get(&file) {
            Some(data) => data.clone(),
            None => {
                let data = map_file(&file)
                    .map_err(|e| error(format!("cannot read `{}`: {e}", file.display())))?;
                self.maps.insert(file.clone(), data.clone());
                data
            }
        };
        slice(&data, &reference, &file).map_err(error)
    }

    /// Turns `location` into a canonical path inside the model's directory.
    fn resolve(&self, location: &str) -> Result<PathBuf, String> {
        let relative = check_relative(location)?;
        let dir = match self.model_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let joined = dir.join(relative);
        let file = fs::canonicalize(&joined)
            .map_err(|e| format!("file `{}` not found: {e}", joined.display()))?;
        let base = fs::canonicalize(dir).map_err(|e| {
            format!(
                "cannot resolve the model's directory `{}`: {e}",
                dir.display()
            )
        })?;
        if !file.starts_with(&base) {
            return Err(format!(
                "`{location}` resolves to `{}`, outside the model's directory `{}`",
                file.display(),
                base.display()
            ));
        }
        Ok(file)
    }
}

fn parse_entries(entries: &[StringStringEntryProto]) -> Result<ExternalRef<'_>, String> {
    let mut location = None;
    let mut offset = 0;
    let mut length = None;
    for entry in entries {
        match entry.key.as_str() {
            "location" => location = Some(entry.value.as_str()),
            "offset" => offset = parse_size("offset", &entry.value)?,
            "length" => length = Some(parse_size("length", &entry.value)?),
            _ => {}
        }
    }
    let location = location.ok_or("the `location` key is missing")?;
    Ok(ExternalRef {
        location,
        offset,
        length,
    })
}

fn parse_size(key: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("invalid `{key}` value `{value}` (expected a decimal byte count)"))
}

/// Accepts only plain relative paths: no root, no drive prefix and no `..` component.
fn check_relative(location: &str) -> Result<&Path, String> {
    let path = Path::new(location);
    if location.is_empty() {
        return Err("the `location` is empty".to_string());
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`location` `{location}` contains `..`; external data must stay inside \
                     the model's directory"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`location` `{location}` is an absolute path; external data must be a \
                     relative path inside the model's directory"
                ));
            }
        }
    }
    Ok(path)
}

fn slice(data: &Bytes, reference: &ExternalRef<'_>, file: &Path) -> Result<Bytes, String> {
    let size = data.len() as u64;
    let length = reference
        .length
        .unwrap_or_else(|| size.saturating_sub(reference.offset));
    let end = reference.offset.checked_add(length);
    match end {
        Some(end) if end <= size => {
            // Both values are at most `data.len()`, so they fit in usize.
            let start = reference.offset as usize;
            Ok(data.slice(start..end as usize))
        }
        _ => Err(format!(
            "offset {} + length {length} is beyond the end of `{}` ({size} bytes)",
            reference.offset,
            file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &str) -> StringStringEntryProto {
        StringStringEntryProto {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn entries_parse_with_defaults() {
        let entries = [entry("location", "w.bin"), entry("checksum", "abc")];
        let parsed = parse_entries(&entries);
        let expected = ExternalRef {
            location: "w.bin",
            offset: 0,
            length: None,
        };
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn bad_offset_is_rejected() {
        let entries = [entry("location", "w.bin"), entry("offset", "-4")];
        let err = parse_entries(&entries).err().unwrap_or_default();
        assert!(err.contains("invalid `offset` value `-4`"), "{err}");
    }

    #[test]
    fn missing_location_is_rejected() {
        let err = parse_entries(&[entry("offset", "0")])
            .err()
            .unwrap_or_default();
        assert!(err.contains("`location` key is missing"), "{err}");
    }

    #[test]
    fn hostile_locations_are_rejected() {
        for location in ["../w.bin", "a/../../w.bin", "/etc/passwd", ""] {
            assert!(check_relative(location).is_err(), "{location}");
        }
        assert!(check_relative("./weights/w.bin").is_ok());
    }

    #[test]
    fn slice_checks_bounds() {
        let data = Bytes::from_static(&[0, 1, 2, 3, 4, 5]);
        let file = Path::new("w.bin");
        let within = ExternalRef {
            location: "w.bin",
            offset: 2,
            length: Some(3),
        };
        assert_eq!(
            slice(&data, &within, file),
            Ok(Bytes::from_static(&[2, 3, 4]))
        );
        let rest = ExternalRef {
            length: None,
            ..within
        };
        assert_eq!(
            slice(&data, &rest, file),
            Ok(Bytes::from_static(&[2, 3, 4, 5]))
        );
        let beyond = ExternalRef {
            location: "w.bin",
            offset: 4,
            length: Some(3),
        };
        assert!(slice(&data, &beyond, file).is_err());
        let overflow = ExternalRef {
            location: "w.bin",
            offset: u64::MAX,
            length: Some(2),
        };
        assert!(slice(&data, &overflow, file).is_err());
    }
}
