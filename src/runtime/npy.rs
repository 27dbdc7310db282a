//! Reader for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), for `--input NAME=FILE.npy`.
//!
//! Layout, from NumPy's `numpy.lib.format` documentation: the magic bytes `\x93NUMPY`, a major
//! and a minor version byte, and the header length (little-endian u16 in version 1, u32 in
//! versions 2 and 3). The header follows. It is a Python dict literal with the keys `descr`,
//! `fortran_order` and `shape`, padded with spaces and ended by a newline, in Latin-1 text in
//! versions 1 and 2 and UTF-8 in version 3. The raw element data comes last.

use std::path::Path;

use header::Header;

use super::tensor::{Buffer, ElementType, HostTensor, element_count};

const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest `.npy` file qlint reads (1 GiB): four times [`super::tensor::MAX_TENSOR_ELEMENTS`]
/// bytes, the size of the largest float32 input allowed.
pub const MAX_NPY_BYTES: u64 = 1 << 30;

/// Reads a `.npy` file into a tensor. Errors name the file.
pub fn read_npy(path: &Path) -> Result<HostTensor, String> {
    let fail = |message: String| format!("{}: {message}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_NPY_BYTES {
        return Err(fail(format!(
            "file is {} bytes, more than the {MAX_NPY_BYTES}-byte limit for an input",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse_npy(&bytes).map_err(fail)
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<HostTensor, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a .npy file: the magic bytes \\x93NUMPY are missing")?;
    let (&major, rest) = rest.split_first().ok_or("truncated .npy header")?;
    let (_minor, rest) = rest.split_first().ok_or("truncated .npy header")?;
    let (header_len, rest) = match major {
        1 => {
            let (len, rest) = split_at_checked(rest, 2)?;
            (usize::from(u16::from_le_bytes([len[0], len[1]])), rest)
        }
        2 | 3 => {
            let (len, rest) = split_at_checked(rest, 4)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            let len = usize::try_from(len).map_err(|_| "header length too large")?;
            (len, rest)
        }
        other => return Err(format!("unsupported .npy format version {other}")),
    };

    let (header, data) = split_at_checked(rest, header_len)?;
    let header = if major == 3 {
        std::str::from_utf8(header)
            .map_err(|_| "the .npy header is not valid UTF-8")?
            .to_string()
    } else {
        header.iter().map(|&b| char::from(b)).collect()
    };
    let header = Header::parse(&header)?;

    if header.fortran_order {
        return Err(
            "the array is stored in Fortran order: save it with numpy.ascontiguousarray first"
                .into(),
        );
    }

    let (element_type, width) = parse_descr(&header.descr)?;
    let count = element_count(&header.shape)?;
    let expected = count
        .checked_mul(width)
        .ok_or("the declared shape is too large")?;
    if data.len() != expected {
        return Err(format!(
            "the header declares {count} elements of {} ({expected} bytes) but {} data bytes follow",
            header.descr,
            data.len()
        ));
    }
    Ok(HostTensor {
        shape: header.shape,
        data: decode(element_type, data),
    })
}

fn split_at_checked(bytes: &[u8], at: usize) -> Result<(&[u8], &[u8]), String> {
    bytes
        .split_at_checked(at)
        .ok_or_else(|| format!("truncated .npy header: expected {at} more bytes"))
}

/// Maps a NumPy type string (`<f4`, `|u1`, ...) to an element type and its width in bytes.
/// Only little-endian data is accepted; `=` (native order) counts as little-endian only on
/// little-endian machines.
fn parse_descr(descr: &str) -> Result<(ElementType, usize), String> {
    let native_little = cfg!(target_endian = "little");
    let (order, code) = descr.split_at_checked(1).unwrap_or(("", descr));
    let little = match order {
        "<" | "|" => true,
        "=" => native_little,
        _ => false,
    };
    let element = match code {
        "f4" => (ElementType::Float32, 4),
        "f8" => (ElementType::Float64, 8),
        "i1" => (ElementType::Int8, 1),
        "u1" => (ElementType::Uint8, 1),
        "i2" => (ElementType::Int16, 2),
        "u2" => (ElementType::Uint16, 2),
        "i4" => (ElementType::Int32, 4),
        "u4" => (ElementType::Uint32, 4),
        "i8" => (ElementType::Int64, 8),
        "u8" => (ElementType::Uint64, 8),
        "b1" => (ElementType::Bool, 1),
        _ => {
            return Err(format!(
                "unsupported dtype `{descr}`: expected float32/64, (u)int8/16/32/64 or bool"
            ));
        }
    };
    if !little && element.1 > 1 {
        return Err(format!(
            "dtype `{descr}` is big-endian: save the array as little-endian (`<`) data"
        ));
    }
    Ok(element)
}

/// Decodes little-endian element data whose length the caller checked.
fn decode(element_type: ElementType, data: &[u8]) -> Buffer {
    fn each<const N: usize, T>(data: &[u8], convert: fn([u8; N]) -> T) -> Vec<T> {
        data.chunks_exact(N)
            .map(|chunk| {
                let mut bytes = [0u8; N];
                bytes.copy_from_slice(chunk);
                convert(bytes)
            })
            .collect()
    }
    match element_type {
        ElementType::Float32 => Buffer::Float32(each(data, f32::from_le_bytes)),
        ElementType::Float64 => Buffer::Float64(each(data, f64::from_le_bytes)),
        ElementType::Int8 => Buffer::Int8(each(data, i8::from_le_bytes)),
        ElementType::Uint8 => Buffer::Uint8(data.to_vec()),
        ElementType::Int16 => Buffer::Int16(each(data, i16::from_le_bytes)),
        ElementType::Uint16 => Buffer::Uint16(each(data, u16::from_le_bytes)),
        ElementType::Int32 => Buffer::Int32(each(data, i32::from_le_bytes)),
        ElementType::Uint32 => Buffer::Uint32(each(data, u32::from_le_bytes)),
        ElementType::Int64 => Buffer::Int64(each(data, i64::from_le_bytes)),
        ElementType::Uint64 => Buffer::Uint64(each(data, u64::from_le_bytes)),
        ElementType::Bool => Buffer::Bool(data.iter().map(|&b| b != 0).collect()),
    }
}

mod header;
#[cfg(test)]
mod tests;
