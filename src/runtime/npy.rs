//! Reader for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), for `--input NAME=FILE.npy`.
//!
//! Layout, from NumPy's `numpy.lib.format` documentation: the magic bytes `\x93NUMPY`, a major
//! and a minor version byte, and the header length (little-endian u16 in version 1, u32 in
//! versions 2 and 3). The header follows. It is a Python dict literal with the keys `descr`,
//! `fortran_order` and `shape`, padded with spaces and ended by a newline, in Latin-1 text in
//! versions 1 and 2 and UTF-8 in version 3. The raw element data comes last.

use std::path::Path;

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

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<i64>,
}

/// A value in the header's dict literal.
#[derive(Debug, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<i64>),
}

impl Header {
    /// Parses the dict literal NumPy writes, such as
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`.
    fn parse(text: &str) -> Result<Header, String> {
        let mut cursor = Cursor {
            chars: text.trim().chars().collect(),
            at: 0,
        };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        cursor.expect('{')?;
        while !cursor.eat('}') {
            let key = cursor.string()?;
            cursor.expect(':')?;
            let value = cursor.literal()?;
            match (key.as_str(), value) {
                ("descr", Literal::Str(s)) => descr = Some(s),
                ("fortran_order", Literal::Bool(b)) => fortran_order = Some(b),
                ("shape", Literal::Tuple(t)) => shape = Some(t),
                (key, value) => {
                    return Err(format!("unexpected .npy header entry `{key}`: {value:?}"));
                }
            }
            if !cursor.eat(',') {
                cursor.expect('}')?;
                break;
            }
        }
        Ok(Header {
            descr: descr.ok_or("the .npy header has no `descr`")?,
            fortran_order: fortran_order.ok_or("the .npy header has no `fortran_order`")?,
            shape: shape.ok_or("the .npy header has no `shape`")?,
        })
    }
}

/// A position in the header text.
struct Cursor {
    chars: Vec<char>,
    at: usize,
}

impl Cursor {
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, want: char) -> bool {
        self.skip_space();
        if self.chars.get(self.at) == Some(&want) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        if self.eat(want) {
            Ok(())
        } else {
            Err(format!(
                "invalid .npy header: expected `{want}` at character {}",
                self.at
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let quote = match self.chars.get(self.at) {
            Some(&q @ ('\'' | '"')) => q,
            _ => {
                return Err(format!(
                    "invalid .npy header: expected a string at character {}",
                    self.at
                ));
            }
        };
        self.at += 1;
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|&c| c != quote) {
            self.at += 1;
        }
        if self.at >= self.chars.len() {
            return Err("invalid .npy header: unterminated string".into());
        }
        let text = self.chars[start..self.at].iter().collect();
        self.at += 1;
        Ok(text)
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn literal(&mut self) -> Result<Literal, String> {
        self.skip_space();
        match self.chars.get(self.at) {
            Some('\'' | '"') => self.string().map(Literal::Str),
            Some('(') => {
                self.at += 1;
                let mut dims = Vec::new();
                while !self.eat(')') {
                    let word = self.word();
                    // NumPy writes Python ints; older versions wrote `3L` on Python 2.
                    let digits = word.trim_end_matches('L');
                    let dim = digits
                        .parse::<i64>()
                        .map_err(|_| format!("invalid .npy shape entry `{word}`"))?;
                    dims.push(dim);
                    if !self.eat(',') {
                        self.expect(')')?;
                        break;
                    }
                }
                Ok(Literal::Tuple(dims))
            }
            _ => match self.word().as_str() {
                "True" => Ok(Literal::Bool(true)),
                "False" => Ok(Literal::Bool(false)),
                other => Err(format!("invalid .npy header value `{other}`")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a `.npy` file the way `numpy.save` does: header padded so that data starts on a
    /// 64-byte boundary.
    fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let prefix = if version == 1 { 10 } else { 12 };
        let mut text = header.to_string();
        while !(prefix + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((text.len() as u16).to_le_bytes());
        } else {
            out.extend((text.len() as u32).to_le_bytes());
        }
        out.extend(text.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn reads_corpus_input() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus/convnet/input.npy");
        let tensor = read_npy(&path);
        let Ok(HostTensor {
            shape,
            data: Buffer::Float32(values),
        }) = tensor
        else {
            panic!("expected float32 data, got {tensor:?}");
        };
        assert_eq!(shape, [1, 3, 32, 32]);
        assert_eq!(values.len(), 3 * 32 * 32);
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn reads_each_version() {
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        for version in [1, 2, 3] {
            let tensor = parse_npy(&npy(version, header, &data));
            assert_eq!(
                tensor,
                Ok(HostTensor {
                    shape: vec![2],
                    data: Buffer::Float32(vec![1.5, -2.0]),
                }),
                "version {version}"
            );
        }
    }

    #[test]
    fn reads_integer_types() {
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }";
        let data: Vec<u8> = [7i64, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let tensor = parse_npy(&npy(1, header, &data)).map(|t| t.data);
        assert_eq!(tensor, Ok(Buffer::Int64(vec![7, -3])));

        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
        let tensor = parse_npy(&npy(1, header, &[0, 128, 255])).map(|t| t.data);
        assert_eq!(tensor, Ok(Buffer::Uint8(vec![0, 128, 255])));

        let header = "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }";
        let tensor = parse_npy(&npy(1, header, &[0xff, 5])).map(|t| t.data);
        assert_eq!(tensor, Ok(Buffer::Int8(vec![-1, 5])));

        let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (), }";
        let tensor = parse_npy(&npy(1, header, &(-9i32).to_le_bytes()));
        assert_eq!(
            tensor,
            Ok(HostTensor {
                shape: vec![],
                data: Buffer::Int32(vec![-9]),
            })
        );

        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
        let tensor = parse_npy(&npy(2, header, &0.25f64.to_le_bytes())).map(|t| t.data);
        assert_eq!(tensor, Ok(Buffer::Float64(vec![0.25])));
    }

    #[test]
    fn rejects_bad_files() {
        let f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "magic"),
            (MAGIC.to_vec(), "truncated"),
            (npy(1, f4, &[0; 4]), "4 data bytes follow"),
            (npy(1, f4, &[0; 12]), "12 data bytes follow"),
            (npy(4, f4, &[0; 8]), "version 4"),
            (
                npy(
                    1,
                    "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                    &[0; 8],
                ),
                "big-endian",
            ),
            (
                npy(
                    1,
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                    &[0; 8],
                ),
                "Fortran",
            ),
            (
                npy(
                    1,
                    "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                    &[0; 8],
                ),
                "unsupported dtype",
            ),
            (
                npy(1, "{'descr': '<f4', 'shape': (2,), }", &[0; 8]),
                "fortran_order",
            ),
            (
                npy(
                    1,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
                    &[0; 8],
                ),
                "negative",
            ),
            (
                npy(
                    1,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }",
                    &[0; 8],
                ),
                "limit",
            ),
            (
                npy(
                    1,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
                    &[],
                ),
                "invalid .npy",
            ),
        ];
        for (bytes, expected) in cases {
            let result = parse_npy(&bytes);
            assert!(
                result.as_ref().is_err_and(|e| e.contains(expected)),
                "expected an error with `{expected}`, got {result:?}"
            );
        }
    }

    #[test]
    fn header_length_beyond_file_is_error() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([2, 0]);
        bytes.extend(u32::MAX.to_le_bytes());
        bytes.extend(b"{}");
        let result = parse_npy(&bytes);
        assert!(result.is_err_and(|e| e.contains("truncated")));
    }

    #[test]
    fn read_npy_names_the_file() {
        let result = read_npy(Path::new("/no/such/input.npy"));
        assert!(result.is_err_and(|e| e.starts_with("/no/such/input.npy: cannot read")));
    }
}
