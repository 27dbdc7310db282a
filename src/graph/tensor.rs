//! Element types and constant tensor payloads shared by the ONNX and Paddle loaders.

use bytes::Bytes;

/// Element type of a tensor, unified over ONNX `TensorProto.DataType` and Paddle `VarType.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataType {
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Int4,
    UInt4,
    Bool,
    String,
    Complex64,
    Complex128,
    Float8E4M3FN,
    Float8E4M3FNUZ,
    Float8E5M2,
    Float8E5M2FNUZ,
    /// A type this version of qlint does not model; the value is the format's own code.
    Other(i32),
}

impl DataType {
    /// Maps an ONNX `TensorProto.DataType` code.
    pub fn from_onnx(code: i32) -> DataType {
        match code {
            1 => DataType::Float32,
            2 => DataType::UInt8,
            3 => DataType::Int8,
            4 => DataType::UInt16,
            5 => DataType::Int16,
            6 => DataType::Int32,
            7 => DataType::Int64,
            8 => DataType::String,
            9 => DataType::Bool,
            10 => DataType::Float16,
            11 => DataType::Float64,
            12 => DataType::UInt32,
            13 => DataType::UInt64,
            14 => DataType::Complex64,
            15 => DataType::Complex128,
            16 => DataType::BFloat16,
            17 => DataType::Float8E4M3FN,
            18 => DataType::Float8E4M3FNUZ,
            19 => DataType::Float8E5M2,
            20 => DataType::Float8E5M2FNUZ,
            21 => DataType::UInt4,
            22 => DataType::Int4,
            other => DataType::Other(other),
        }
    }

    /// Maps a Paddle `VarType.Type` code; variable kinds such as LOD_TENSOR map to `Other`.
    pub fn from_paddle(code: i32) -> DataType {
        match code {
            0 => DataType::Bool,
            1 => DataType::Int16,
            2 => DataType::Int32,
            3 => DataType::Int64,
            4 => DataType::Float16,
            5 => DataType::Float32,
            6 => DataType::Float64,
            20 => DataType::UInt8,
            21 => DataType::Int8,
            22 => DataType::BFloat16,
            23 => DataType::Complex64,
            24 => DataType::Complex128,
            other => DataType::Other(other),
        }
    }

    /// Size of one element in bytes; `None` for strings, packed 4-bit types and unknown types.
    pub fn size_bytes(self) -> Option<usize> {
        match self {
            DataType::Bool
            | DataType::Int8
            | DataType::UInt8
            | DataType::Float8E4M3FN
            | DataType::Float8E4M3FNUZ
            | DataType::Float8E5M2
            | DataType::Float8E5M2FNUZ => Some(1),
            DataType::Int16 | DataType::UInt16 | DataType::Float16 | DataType::BFloat16 => Some(2),
            DataType::Int32 | DataType::UInt32 | DataType::Float32 => Some(4),
            DataType::Int64 | DataType::UInt64 | DataType::Float64 | DataType::Complex64 => Some(8),
            DataType::Complex128 => Some(16),
            DataType::Int4 | DataType::UInt4 | DataType::String | DataType::Other(_) => None,
        }
    }

    /// True for the 8-bit integer types that ORT's int8 kernels run on.
    pub fn is_8bit_integer(self) -> bool {
        matches!(self, DataType::Int8 | DataType::UInt8)
    }

    /// True for floating-point types, float8 included.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DataType::Float32
                | DataType::Float16
                | DataType::BFloat16
                | DataType::Float64
                | DataType::Float8E4M3FN
                | DataType::Float8E4M3FNUZ
                | DataType::Float8E5M2
                | DataType::Float8E5M2FNUZ
        )
    }

    /// Returns the inclusive value range of an integer type, used to check zero points.
    pub fn integer_range(self) -> Option<(i64, i64)> {
        match self {
            DataType::Int8 => Some((-128, 127)),
            DataType::UInt8 => Some((0, 255)),
            DataType::Int16 => Some((-32768, 32767)),
            DataType::UInt16 => Some((0, 65535)),
            DataType::Int32 => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
            DataType::Int4 => Some((-8, 7)),
            DataType::UInt4 => Some((0, 15)),
            _ => None,
        }
    }

    /// Returns the lowercase name used in messages (`int8`, `uint8`, `float32`, ...).
    pub fn name(self) -> String {
        let name = match self {
            DataType::Float32 => "float32",
            DataType::Float16 => "float16",
            DataType::BFloat16 => "bfloat16",
            DataType::Float64 => "float64",
            DataType::Int8 => "int8",
            DataType::UInt8 => "uint8",
            DataType::Int16 => "int16",
            DataType::UInt16 => "uint16",
            DataType::Int32 => "int32",
            DataType::UInt32 => "uint32",
            DataType::Int64 => "int64",
            DataType::UInt64 => "uint64",
            DataType::Int4 => "int4",
            DataType::UInt4 => "uint4",
            DataType::Bool => "bool",
            DataType::String => "string",
            DataType::Complex64 => "complex64",
            DataType::Complex128 => "complex128",
            DataType::Float8E4M3FN => "float8e4m3fn",
            DataType::Float8E4M3FNUZ => "float8e4m3fnuz",
            DataType::Float8E5M2 => "float8e5m2",
            DataType::Float8E5M2FNUZ => "float8e5m2fnuz",
            DataType::Other(code) => return format!("type#{code}"),
        };
        name.to_string()
    }
}

/// The storage of a constant's elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Little-endian raw bytes (`raw_data`, external data, `.pdiparams` records), usually a slice
    /// of a memory map so that weights are read only when a rule needs them.
    Raw(Bytes),
    /// Values decoded from typed protobuf fields (`float_data`, `int32_data`, ...).
    Floats(Vec<f64>),
    Ints(Vec<i64>),
    /// A payload qlint cannot decode (strings, 4-bit packing, unknown types).
    Opaque,
}

/// A constant tensor: an ONNX initializer or `Constant` value, or a Paddle parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorData {
    pub dtype: DataType,
    pub dims: Vec<i64>,
    pub payload: Payload,
}

/// Reasons a constant cannot be read as numbers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("tensor payload of {actual} bytes does not match {expected} bytes for shape {dims:?}")]
    SizeMismatch {
        expected: usize,
        actual: usize,
        dims: Vec<i64>,
    },
    #[error("tensor shape {0:?} has a negative or overflowing element count")]
    BadShape(Vec<i64>),
    #[error("element type {0} cannot be read as numbers")]
    Unsupported(String),
}

impl TensorData {
    /// Number of elements from `dims`; `None` when a dim is negative or the product overflows.
    pub fn element_count(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |acc, &d| {
            let d = usize::try_from(d).ok()?;
            acc.checked_mul(d)
        })
    }

    /// Decodes every element as `f64`, checking the payload size against the shape.
    pub fn to_f64(&self) -> Result<Vec<f64>, PayloadError> {
        let count = self
            .element_count()
            .ok_or_else(|| PayloadError::BadShape(self.dims.clone()))?;
        let values = match &self.payload {
            Payload::Floats(v) => v.clone(),
            Payload::Ints(v) => v.iter().map(|&x| x as f64).collect(),
            Payload::Raw(raw) => decode_raw(self.dtype, raw, count, &self.dims)?,
            Payload::Opaque => return Err(PayloadError::Unsupported(self.dtype.name())),
        };
        if values.len() != count {
            return Err(PayloadError::SizeMismatch {
                expected: count,
                actual: values.len(),
                dims: self.dims.clone(),
            });
        }
        Ok(values)
    }

    /// Decodes every element as `i64`; floats are truncated, so use this for integer types.
    pub fn to_i64(&self) -> Result<Vec<i64>, PayloadError> {
        match &self.payload {
            Payload::Ints(v) => {
                let count = self
                    .element_count()
                    .ok_or_else(|| PayloadError::BadShape(self.dims.clone()))?;
                if v.len() != count {
                    return Err(PayloadError::SizeMismatch {
                        expected: count,
                        actual: v.len(),
                        dims: self.dims.clone(),
                    });
                }
                Ok(v.clone())
            }
            _ => Ok(self.to_f64()?.into_iter().map(|x| x as i64).collect()),
        }
    }
}

fn decode_raw(
    dtype: DataType,
    raw: &[u8],
    count: usize,
    dims: &[i64],
) -> Result<Vec<f64>, PayloadError> {
    let size = dtype
        .size_bytes()
        .ok_or_else(|| PayloadError::Unsupported(dtype.name()))?;
    let expected = count
        .checked_mul(size)
        .ok_or_else(|| PayloadError::BadShape(dims.to_vec()))?;
    if raw.len() != expected {
        return Err(PayloadError::SizeMismatch {
            expected,
            actual: raw.len(),
            dims: dims.to_vec(),
        });
    }
    let chunks = raw.chunks_exact(size);
    let values = match dtype {
        DataType::Float32 => chunks
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Float64 => chunks
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        DataType::Float16 => chunks
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DataType::BFloat16 => chunks
            .map(|c| {
                f64::from(f32::from_bits(
                    u32::from(u16::from_le_bytes([c[0], c[1]])) << 16,
                ))
            })
            .collect(),
        DataType::Int8 => chunks.map(|c| f64::from(c[0] as i8)).collect(),
        DataType::UInt8 | DataType::Bool => chunks.map(|c| f64::from(c[0])).collect(),
        DataType::Int16 => chunks
            .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DataType::UInt16 => chunks
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DataType::Int32 => chunks
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::UInt32 => chunks
            .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Int64 => chunks
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64)
            .collect(),
        DataType::UInt64 => chunks
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64)
            .collect(),
        other => return Err(PayloadError::Unsupported(other.name())),
    };
    Ok(values)
}

/// Converts IEEE 754 half precision bits to `f64`.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_float32_decodes() {
        let raw: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = TensorData {
            dtype: DataType::Float32,
            dims: vec![2],
            payload: Payload::Raw(Bytes::from(raw)),
        };
        assert_eq!(t.to_f64(), Ok(vec![1.5, -2.0]));
    }

    #[test]
    fn raw_size_mismatch_is_error() {
        let t = TensorData {
            dtype: DataType::Float32,
            dims: vec![3],
            payload: Payload::Raw(Bytes::from_static(&[0; 8])),
        };
        assert!(matches!(t.to_f64(), Err(PayloadError::SizeMismatch { .. })));
    }

    #[test]
    fn negative_dim_is_bad_shape() {
        let t = TensorData {
            dtype: DataType::Int8,
            dims: vec![-1],
            payload: Payload::Raw(Bytes::new()),
        };
        assert!(matches!(t.to_f64(), Err(PayloadError::BadShape(_))));
    }

    #[test]
    fn int8_and_half_decode() {
        let t = TensorData {
            dtype: DataType::Int8,
            dims: vec![2],
            payload: Payload::Raw(Bytes::from_static(&[0x81, 0x7f])),
        };
        assert_eq!(t.to_i64(), Ok(vec![-127, 127]));
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
    }
}
