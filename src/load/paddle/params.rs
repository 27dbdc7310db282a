//! Reader for Paddle parameter files (`*.pdiparams`, `__params__`, `params`, and the one-file-per
//! parameter layout).
//!
//! A combined file is a sequence of records without names, one per parameter in byte-wise
//! sorted name order. Paddle2ONNX `parser.cc` (`LoadParams`) reads them in that order, and the
//! dims of every record of the corpus models fit that assignment. A record, all little-endian, is: `u32` version (0), `u64` LoD level, per LoD
//! level a `u64` byte size and that many bytes, `u32` tensor version (0), `i32` size of a
//! serialized `VarType.TensorDesc`, the desc, and `numel × element size` bytes of data. Every
//! size is checked against the bytes that remain before anything is sliced.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use prost::Message;

use super::proto::TensorDesc;
use crate::error::LoadError;
use crate::graph::{DataType, Payload, TensorData};

/// Largest serialized `TensorDesc` accepted in a record. A desc contains a type code and the dims,
/// a few dozen bytes in practice, so a larger size means the reader is out of step.
const MAX_DESC_BYTES: usize = 1 << 20;

/// A parameter the program declares: its name and, when every dim is known, its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedParam {
    pub name: String,
    pub dims: Option<Vec<i64>>,
}

/// Reads one record per entry of `expected` (already in file order) from a combined file.
///
/// Errors name `path` and the record that failed; bytes left after the last record are an
/// error too, because they mean the program and the file do not match.
pub fn read_combined(
    path: &Path,
    data: &Bytes,
    expected: &[ExpectedParam],
) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let mut cursor = Cursor { data, pos: 0 };
    let mut values = BTreeMap::new();
    for (index, param) in expected.iter().enumerate() {
        let start = cursor.pos;
        let value = read_checked_record(&mut cursor, param).map_err(|message| {
            LoadError::new(
                path,
                format!(
                    "parameter file does not match the program: record {} of {} ({}) at byte {start}: {message}",
                    index + 1,
                    expected.len(),
                    param.name,
                ),
            )
        })?;
        values.insert(param.name.clone(), value);
    }
    let left = cursor.remaining();
    if left > 0 {
        return Err(LoadError::new(
            path,
            format!(
                "parameter file does not match the program: {left} bytes remain after the {} records the program declares",
                expected.len()
            ),
        ));
    }
    Ok(values)
}

/// Reads a file of the separate layout, which contains exactly one record.
pub fn read_single(
    path: &Path,
    data: &Bytes,
    param: &ExpectedParam,
) -> Result<TensorData, LoadError> {
    let mut cursor = Cursor { data, pos: 0 };
    let value = read_checked_record(&mut cursor, param)
        .map_err(|message| LoadError::new(path, format!("invalid parameter record: {message}")))?;
    let left = cursor.remaining();
    if left > 0 {
        return Err(LoadError::new(
            path,
            format!("invalid parameter record: {left} bytes remain after the tensor data"),
        ));
    }
    Ok(value)
}

/// Reads a record and checks its element count against the declared shape.
fn read_checked_record(
    cursor: &mut Cursor<'_>,
    param: &ExpectedParam,
) -> Result<TensorData, String> {
    let value = read_record(cursor)?;
    if let Some(dims) = &param.dims {
        let declared = element_count(dims);
        let stored = element_count(&value.dims);
        // Dims may differ in form ([16] declared, [1, 16] stored for per-channel scales; [1]
        // against [] for scalars) but a different element count means a different tensor.
        if declared != stored {
            return Err(format!(
                "the record has dims {:?} but the program declares {dims:?}",
                value.dims
            ));
        }
    }
    Ok(value)
}

/// Reads one record at the cursor.
fn read_record(cursor: &mut Cursor<'_>) -> Result<TensorData, String> {
    let version = cursor.u32("version")?;
    if version != 0 {
        return Err(format!("unsupported record version {version}, expected 0"));
    }
    let lod_level = cursor.u64("LoD level")?;
    skip_lod(cursor, lod_level)?;

    let tensor_version = cursor.u32("tensor version")?;
    if tensor_version != 0 {
        return Err(format!(
            "unsupported tensor version {tensor_version}, expected 0"
        ));
    }
    let desc_size = cursor.i32("TensorDesc size")?;
    let desc_size = usize::try_from(desc_size)
        .ok()
        .filter(|&size| size <= MAX_DESC_BYTES)
        .ok_or_else(|| format!("invalid TensorDesc size {desc_size}"))?;
    let desc_bytes = cursor.take(desc_size, "TensorDesc")?;
    let desc = TensorDesc::decode(desc_bytes).map_err(|e| format!("invalid TensorDesc: {e}"))?;

    let code = desc.data_type.ok_or("the TensorDesc has no data type")?;
    let dtype = DataType::from_paddle(code);
    let element_size = dtype
        .size_bytes()
        .ok_or_else(|| format!("unsupported data type {} (code {code})", dtype.name()))?;
    let count = element_count(&desc.dims).ok_or_else(|| format!("invalid dims {:?}", desc.dims))?;
    let byte_len = count
        .checked_mul(element_size)
        .ok_or_else(|| format!("dims {:?} overflow the addressable size", desc.dims))?;
    let data = cursor.take(byte_len, "tensor data")?;
    Ok(TensorData {
        dtype,
        dims: desc.dims,
        payload: Payload::Raw(data),
    })
}

/// Skips the LoD offsets, which do not change the tensor data.
fn skip_lod(cursor: &mut Cursor<'_>, lod_level: u64) -> Result<(), String> {
    // Each level needs at least its 8-byte size, so a larger level count cannot be genuine.
    let max_levels = (cursor.remaining() / 8) as u64;
    if lod_level > max_levels {
        return Err(format!(
            "LoD level {lod_level} needs more bytes than the {} that remain",
            cursor.remaining()
        ));
    }
    for level in 0..lod_level {
        let size = cursor.u64("LoD level size")?;
        let size = usize::try_from(size)
            .map_err(|_| format!("LoD level {level} size {size} is too large"))?;
        cursor.take(size, "LoD offsets")?;
    }
    Ok(())
}

/// Product of `dims`; `None` when a dim is negative or the product overflows.
fn element_count(dims: &[i64]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &dim| {
        acc.checked_mul(usize::try_from(dim).ok()?)
    })
}

/// A read position in a parameter file.
struct Cursor<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Returns the next `len` bytes as a zero-copy slice of the file.
    fn take(&mut self, len: usize, what: &str) -> Result<Bytes, String> {
        if len > self.remaining() {
            return Err(format!(
                "the {what} needs {len} bytes but only {} remain",
                self.remaining()
            ));
        }
        let slice = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        self.array(what).map(i32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serializes one record the way Paddle writes it.
    pub(crate) fn record(code: i32, dims: &[i64], data: &[u8], lod: &[&[u8]]) -> Vec<u8> {
        let desc = TensorDesc {
            data_type: Some(code),
            dims: dims.to_vec(),
        }
        .encode_to_vec();
        let mut out = Vec::new();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(lod.len() as u64).to_le_bytes());
        for level in lod {
            out.extend_from_slice(&(level.len() as u64).to_le_bytes());
            out.extend_from_slice(level);
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(desc.len() as i32).to_le_bytes());
        out.extend_from_slice(&desc);
        out.extend_from_slice(data);
        out
    }

    fn expected(names: &[&str]) -> Vec<ExpectedParam> {
        names
            .iter()
            .map(|n| ExpectedParam {
                name: n.to_string(),
                dims: None,
            })
            .collect()
    }

    const FP32: i32 = 5;
    const INT8: i32 = 21;

    #[test]
    fn two_records_decode() {
        let mut file = record(FP32, &[2], &[0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0], &[]);
        file.extend(record(INT8, &[1, 3], &[1, 0xff, 0x7f], &[]));
        let values = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["a", "b"]));
        let values = values.unwrap_or_default();
        assert_eq!(
            values.get("a").map(|t| t.to_f64()),
            Some(Ok(vec![1.5, -2.0]))
        );
        assert_eq!(
            values.get("b").map(|t| t.to_i64()),
            Some(Ok(vec![1, -1, 127]))
        );
        assert_eq!(values.get("b").map(|t| t.dims.clone()), Some(vec![1, 3]));
    }

    #[test]
    fn lod_levels_are_skipped() {
        let file = record(INT8, &[2], &[5, 6], &[&[0; 16], &[1; 8]]);
        let values = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["x"]));
        let x = values.ok().and_then(|mut v| v.remove("x"));
        assert_eq!(x.map(|t| t.to_i64()), Some(Ok(vec![5, 6])));
    }

    #[test]
    fn huge_lod_level_is_rejected() {
        let mut file = Vec::new();
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&u64::MAX.to_le_bytes());
        let err = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["x"]));
        let message = err.err().map(|e| e.message).unwrap_or_default();
        assert!(message.contains("LoD level"), "{message}");
    }

    #[test]
    fn huge_lod_size_is_rejected() {
        let mut file = Vec::new();
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&1u64.to_le_bytes());
        file.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        let err = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["x"]));
        assert!(err.is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let file = record(FP32, &[2, 2], &[0; 16], &[&[0; 8]]);
        for len in 0..file.len() {
            let cut = Bytes::copy_from_slice(&file[..len]);
            let result = read_combined(Path::new("p.pdiparams"), &cut, &expected(&["w"]));
            let err = result.err();
            assert!(err.is_some(), "truncated to {len} bytes");
            let message = err.map(|e| e.message).unwrap_or_default();
            assert!(message.contains("record 1 of 1 (w)"), "{message}");
        }
    }

    #[test]
    fn oversized_data_claim_is_rejected() {
        let file = record(FP32, &[1 << 40, 1 << 20], &[], &[]);
        let err = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["w"]));
        assert!(err.is_err());
    }

    #[test]
    fn negative_desc_size_is_rejected() {
        let mut file = Vec::new();
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&0u64.to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&(-5i32).to_le_bytes());
        let err = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["w"]));
        let message = err.err().map(|e| e.message).unwrap_or_default();
        assert!(message.contains("invalid TensorDesc size -5"), "{message}");
    }

    #[test]
    fn extra_record_is_an_error() {
        let mut file = record(INT8, &[1], &[1], &[]);
        file.extend(record(INT8, &[1], &[2], &[]));
        let err = read_combined(Path::new("p"), &Bytes::from(file), &expected(&["a"]));
        let message = err.err().map(|e| e.message).unwrap_or_default();
        assert!(message.contains("remain after the 1 records"), "{message}");
    }

    #[test]
    fn element_count_mismatch_is_an_error() {
        let file = record(INT8, &[4], &[0; 4], &[]);
        let param = ExpectedParam {
            name: "w".into(),
            dims: Some(vec![2, 3]),
        };
        let err = read_combined(Path::new("p"), &Bytes::from(file), &[param]);
        let message = err.err().map(|e| e.message).unwrap_or_default();
        assert!(message.contains("declares [2, 3]"), "{message}");
    }

    #[test]
    fn reshaped_dims_with_same_count_pass() {
        let file = record(FP32, &[1, 2], &[0; 8], &[]);
        let param = ExpectedParam {
            name: "s".into(),
            dims: Some(vec![2]),
        };
        let result = read_single(Path::new("s"), &Bytes::from(file), &param);
        assert_eq!(result.map(|t| t.dims).ok(), Some(vec![1, 2]));
    }
}
