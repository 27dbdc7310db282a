//! SARIF locations: file URIs for model paths, logical locations for graph nodes, and the
//! fingerprint that lets code scanning match a result across runs.

use std::path::{Component, Path, Prefix};

use serde::Serialize;

use super::Finding;
use super::common::slash_path;

/// A SARIF `location`: the model file and, for node findings, the node.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

impl Location {
    /// Creates a location on the model file alone.
    pub(crate) fn file(artifact_location: ArtifactLocation) -> Self {
        Location {
            id: None,
            physical_location: PhysicalLocation {
                artifact_location,
                region: Region { start_line: 1 },
            },
            logical_locations: Vec::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

/// A SARIF `artifactLocation` containing a URI reference to the model file.
#[derive(Serialize)]
pub(crate) struct ArtifactLocation {
    uri: String,
}

/// A SARIF `region`. Models have no source lines, so every region is line 1.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

/// Creates the artifact location of a model file.
pub(crate) fn artifact_location(path: &Path) -> ArtifactLocation {
    ArtifactLocation {
        uri: path_uri(path),
    }
}

/// Creates a location on node `node` of the model at `path`. `id` numbers related locations.
pub(crate) fn node_location(path: &Path, node: &str, id: Option<usize>) -> Location {
    let mut location = Location::file(artifact_location(path));
    location.id = id;
    location.logical_locations.push(LogicalLocation {
        name: node.to_string(),
        fully_qualified_name: format!("graph/node/{node}"),
        // SARIF lists no kind for a graph node; `member` is the closest, a part of the model.
        kind: "member",
    });
    location
}

/// Turns a path into a URI reference: relative paths stay relative, absolute ones become
/// `file:///` URIs, and every byte outside RFC 3986's unreserved set is percent-encoded.
///
/// Encoding `:` also keeps a first segment such as `a:b.onnx` from reading as a URI scheme.
// NOTE: the Windows branches (drive letters, UNC shares) have not been run on Windows.
fn path_uri(path: &Path) -> String {
    let mut prefix = String::new();
    let mut absolute = false;
    let mut segments: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(component) => prefix = prefix_authority(component.kind()),
            Component::RootDir => absolute = true,
            Component::CurDir => segments.push(".".to_string()),
            Component::ParentDir => segments.push("..".to_string()),
            Component::Normal(name) => segments.push(percent_encode(&name.to_string_lossy())),
        }
    }

    let joined = segments.join("/");
    if absolute {
        format!("file://{prefix}/{joined}")
    } else {
        joined
    }
}

/// Returns what a Windows path prefix contributes to a `file:` URI: `/C:` for a drive, the
/// host for a UNC share.
fn prefix_authority(prefix: Prefix<'_>) -> String {
    match prefix {
        Prefix::Disk(letter) | Prefix::VerbatimDisk(letter) => format!("/{}:", letter as char),
        Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => format!(
            "{}/{}",
            percent_encode(&server.to_string_lossy()),
            percent_encode(&share.to_string_lossy())
        ),
        Prefix::Verbatim(name) | Prefix::DeviceNS(name) => {
            format!("/{}", percent_encode(&name.to_string_lossy()))
        }
    }
}

fn percent_encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Hashes code, path (with `/` separators, so the value is the same on every platform), node
/// and message with 64-bit FNV-1a, as 16 hex digits.
///
/// The standard library's hasher is seeded per process, so it cannot give a stable value.
pub(crate) fn fingerprint(finding: &Finding) -> String {
    let path = slash_path(&finding.path);
    let fields = [
        finding.code.as_str(),
        path.as_str(),
        finding.node.as_deref().unwrap_or_default(),
        finding.message.as_str(),
    ];
    let mut hash = Fnv1a::new();
    for field in fields {
        hash.write(field.as_bytes());
        // The unit separator keeps ("ab", "c") and ("a", "bc") apart.
        hash.write(&[0x1f]);
    }
    format!("{:016x}", hash.finish())
}

/// 64-bit FNV-1a with the published offset basis and prime.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fnv1a(bytes: &[u8]) -> u64 {
        let mut hash = Fnv1a::new();
        hash.write(bytes);
        hash.finish()
    }

    #[test]
    fn fnv1a_matches_published_vectors() {
        // Widely published FNV-1a 64-bit values of these inputs.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn path_uri_encodes_reserved_characters() {
        let uri = path_uri(Path::new("exports/run 2, final: v1/model.onnx"));
        assert_eq!(uri, "exports/run%202%2C%20final%3A%20v1/model.onnx");
    }

    #[test]
    fn path_uri_makes_absolute_file_uri() {
        let uri = path_uri(Path::new("/models/a b.onnx"));
        assert_eq!(uri, "file:///models/a%20b.onnx");
    }

    #[test]
    fn path_uri_keeps_relative_dots() {
        assert_eq!(path_uri(Path::new("./m.onnx")), "./m.onnx");
        assert_eq!(path_uri(Path::new("../m.onnx")), "../m.onnx");
    }

    #[test]
    fn path_uri_encodes_non_ascii_as_utf8() {
        assert_eq!(path_uri(Path::new("modèle.onnx")), "mod%C3%A8le.onnx");
    }

    #[test]
    fn fingerprint_depends_on_each_field() {
        let base = Finding {
            code: "QL302".into(),
            name: "fragmented-int8-chain".into(),
            severity: crate::report::Severity::Warning,
            stage: "optimized".into(),
            path: PathBuf::from("m.onnx"),
            node: Some("n1".into()),
            op_type: None,
            message: "m".into(),
            help: String::new(),
            nodes: Vec::new(),
        };
        let original = fingerprint(&base);
        assert_eq!(original.len(), 16);

        let mut other = base.clone();
        other.code = "QL303".into();
        assert_ne!(fingerprint(&other), original);
        let mut other = base.clone();
        other.path = PathBuf::from("n.onnx");
        assert_ne!(fingerprint(&other), original);
        let mut other = base.clone();
        other.node = None;
        assert_ne!(fingerprint(&other), original);
        let mut other = base.clone();
        other.message = "m2".into();
        assert_ne!(fingerprint(&other), original);

        let mut help_only = base.clone();
        help_only.help = "changed".into();
        assert_eq!(fingerprint(&help_only), original);
    }
}
