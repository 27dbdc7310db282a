//! ONNX `ModelProto` loader: memory-mapped decode, constants, external data, subgraphs.
//!
//! The file is memory-mapped and decoded with hand-written prost messages ([`proto`]). Tensor
//! payloads stay slices of the map, so weights are read only when a rule reads them.

mod attrs;
mod census;
mod convert;
mod external;
pub mod proto;
mod values;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use bytes::Bytes;
use prost::Message;

use crate::error::LoadError;
use crate::graph::{Model, ModelFormat, ModelMeta, Stage};
use proto::ModelProto;

/// Hint appended to every "not a valid ONNX model" error that has no more specific cause.
const NOT_ONNX_HINT: &str = "is this a complete ONNX file?";

/// Loads an ONNX model file. The returned model has stage [`crate::graph::Stage::Onnx`]; the
/// caller decides whether it is an ORT-optimized graph.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let bytes = map_file(path)
        .map_err(|e| LoadError::new(path, format!("failed to read the file: {e}")))?;
    decode_model_bytes(path, bytes)
}

/// Largest ratio of estimated decoded size to file size accepted, beyond [`DECODE_SLACK_BYTES`].
const MAX_DECODE_RATIO: u64 = 32;

/// Decoded bytes always allowed, so small files with many small nodes still load.
const DECODE_SLACK_BYTES: u64 = 256 << 20;

/// Decodes an ONNX model from `bytes` as if it had been read from `path`. External data is
/// resolved relative to the directory of `path`.
pub fn decode_model_bytes(path: &Path, bytes: Bytes) -> Result<Model, LoadError> {
    if bytes.is_empty() {
        return Err(invalid(path, "the file is empty"));
    }
    // prost allocates every decoded message in full, so a file of millions of two-byte empty
    // messages would take gigabytes. Real models spend their bytes on names and weights, far
    // below this ratio.
    let estimate = census::decoded_bytes(&bytes);
    let limit = (bytes.len() as u64)
        .saturating_mul(MAX_DECODE_RATIO)
        .saturating_add(DECODE_SLACK_BYTES);
    if estimate > limit {
        return Err(invalid(
            path,
            format!(
                "decoding would need about {} MiB for a {}-byte file: the file is made of \
                 empty or near-empty messages, which no exporter writes",
                estimate >> 20,
                bytes.len()
            ),
        ));
    }
    let proto = match ModelProto::decode(bytes.clone()) {
        Ok(proto) => proto,
        Err(e) => return Err(not_onnx(path, &bytes, e)),
    };
    let Some(graph) = proto.graph.as_ref() else {
        return Err(not_onnx(path, &bytes, "the model has no graph"));
    };
    let graph = convert::convert_model_graph(path, graph)?;
    Ok(Model {
        path: path.to_path_buf(),
        format: ModelFormat::Onnx,
        stage: Stage::Onnx,
        meta: model_meta(&proto),
        graph,
    })
}

fn invalid(path: &Path, detail: impl std::fmt::Display) -> LoadError {
    LoadError::new(path, format!("not a valid ONNX model: {detail}"))
}

/// Reports a file that did not decode as an ONNX model, naming its real format when the
/// leading bytes show one.
fn not_onnx(path: &Path, bytes: &[u8], detail: impl std::fmt::Display) -> LoadError {
    match foreign_format(bytes) {
        Some(kind) => invalid(path, format!("the file is {kind}")),
        None => invalid(path, format!("{detail} ({NOT_ONNX_HINT})")),
    }
}

/// Names well-known file formats by their leading bytes.
fn foreign_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG") {
        return Some("a PNG image");
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Some("a ZIP archive (PyTorch checkpoints are ZIP archives)");
    }
    if bytes.starts_with(b"\x1f\x8b") {
        return Some("gzip-compressed; decompress it first");
    }
    // FlatBuffers store the file identifier at bytes 4..8, and ORT-format models use "ORTM"
    // (`file_identifier` in onnxruntime's `core/flatbuffers/schema/ort.fbs`).
    if bytes.get(4..8) == Some(b"ORTM".as_slice()) {
        return Some(
            "an ORT-format model (FlatBuffers), not an ONNX protobuf; pass the .onnx file",
        );
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{') | Some(b'[')) {
        return Some("JSON text (a Paddle PIR program is JSON; load it as a Paddle model)");
    }
    None
}

fn model_meta(proto: &ModelProto) -> ModelMeta {
    let mut opsets = BTreeMap::new();
    for opset in &proto.opset_import {
        let domain = if opset.domain.is_empty() {
            "ai.onnx"
        } else {
            opset.domain.as_str()
        };
        opsets.insert(domain.to_string(), opset.version);
    }
    ModelMeta {
        opsets,
        ir_version: proto.ir_version,
        producer_name: non_empty(&proto.producer_name),
        producer_version: non_empty(&proto.producer_version),
        program_version: None,
    }
}

fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

/// Memory-maps a whole file as [`Bytes`]. An empty file gives empty bytes.
fn map_file(path: &Path) -> std::io::Result<Bytes> {
    // Check before opening: opening a FIFO blocks until a writer appears.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let file = File::open(path)?;
    map_open_file(&file)
}

#[expect(
    unsafe_code,
    reason = "memmap2 can only create a map through an unsafe call"
)]
fn map_open_file(file: &File) -> std::io::Result<Bytes> {
    // SAFETY: the map is read-only and qlint never writes through it. memmap2 requires that no
    // other process modifies or truncates the file while it is mapped, but qlint cannot enforce
    // that for model files. If it happens anyway, reads may see the new bytes or the process may
    // get SIGBUS, which is the accepted risk of every memory-mapped model loader.
    let map = unsafe { memmap2::Mmap::map(file)? };
    Ok(Bytes::from_owner(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bytes_are_rejected() {
        let err = decode_model_bytes(Path::new("m.onnx"), Bytes::new()).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(message, "m.onnx: not a valid ONNX model: the file is empty");
    }

    #[test]
    fn png_is_named() {
        let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        let err = decode_model_bytes(Path::new("cat.onnx"), png).err();
        let message = err.map(|e| e.message).unwrap_or_default();
        assert_eq!(message, "not a valid ONNX model: the file is a PNG image");
    }

    #[test]
    fn json_is_named() {
        let json = Bytes::from_static(b"  \n{\"base_code\": {}}");
        let err = decode_model_bytes(Path::new("inference.onnx"), json).err();
        let message = err.map(|e| e.message).unwrap_or_default();
        assert!(message.contains("JSON text"), "{message}");
    }

    #[test]
    fn model_without_graph_is_rejected() {
        let proto = ModelProto {
            ir_version: Some(8),
            ..ModelProto::default()
        };
        let bytes = Bytes::from(proto.encode_to_vec());
        let err = decode_model_bytes(Path::new("m.onnx"), bytes).err();
        let message = err.map(|e| e.message).unwrap_or_default();
        assert!(message.contains("has no graph"), "{message}");
        assert!(message.contains(NOT_ONNX_HINT), "{message}");
    }

    #[test]
    fn garbage_gives_decode_error_with_hint() {
        // 0x0f is field 1 with wire type 7, which protobuf does not define.
        let err = decode_model_bytes(Path::new("m.onnx"), Bytes::from_static(&[0x0f, 0x01])).err();
        let message = err.map(|e| e.message).unwrap_or_default();
        assert!(message.starts_with("not a valid ONNX model: "), "{message}");
        assert!(
            message.ends_with(&format!("({NOT_ONNX_HINT})")),
            "{message}"
        );
    }

    #[test]
    fn default_domain_opset_is_named_ai_onnx() {
        let proto = ModelProto {
            producer_name: "paddle2onnx".into(),
            opset_import: vec![
                proto::OperatorSetIdProto {
                    domain: String::new(),
                    version: 13,
                },
                proto::OperatorSetIdProto {
                    domain: "com.microsoft".into(),
                    version: 1,
                },
            ],
            ..ModelProto::default()
        };
        let meta = model_meta(&proto);
        assert_eq!(meta.opsets.get("ai.onnx"), Some(&13));
        assert_eq!(meta.opsets.get("com.microsoft"), Some(&1));
        assert_eq!(meta.producer_name.as_deref(), Some("paddle2onnx"));
        assert_eq!(meta.producer_version, None);
        assert_eq!(meta.ir_version, None);
    }
}
