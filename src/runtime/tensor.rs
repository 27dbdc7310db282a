//! Host tensors that qlint feeds to ONNX Runtime: element types, seeded random data, and the
//! element-count limit that keeps a shape written in a model from driving a huge allocation.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most elements one input tensor may have (256 Mi, 1 GiB of float32), whether its shape comes
/// from the model, from `--shape` or from a `.npy` header.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 28;

/// Element types qlint can create inputs for and compare outputs of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    Float32,
    Float64,
    Int8,
    Uint8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Bool,
}

impl ElementType {
    /// Returns the ONNX name of the type (`float32`, `uint8`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ElementType::Float32 => "float32",
            ElementType::Float64 => "float64",
            ElementType::Int8 => "int8",
            ElementType::Uint8 => "uint8",
            ElementType::Int16 => "int16",
            ElementType::Uint16 => "uint16",
            ElementType::Int32 => "int32",
            ElementType::Uint32 => "uint32",
            ElementType::Int64 => "int64",
            ElementType::Uint64 => "uint64",
            ElementType::Bool => "bool",
        }
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Typed element storage of a [`HostTensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum Buffer {
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Int8(Vec<i8>),
    Uint8(Vec<u8>),
    Int16(Vec<i16>),
    Uint16(Vec<u16>),
    Int32(Vec<i32>),
    Uint32(Vec<u32>),
    Int64(Vec<i64>),
    Uint64(Vec<u64>),
    Bool(Vec<bool>),
}

impl Buffer {
    /// Returns the element type stored.
    pub fn element_type(&self) -> ElementType {
        match self {
            Buffer::Float32(_) => ElementType::Float32,
            Buffer::Float64(_) => ElementType::Float64,
            Buffer::Int8(_) => ElementType::Int8,
            Buffer::Uint8(_) => ElementType::Uint8,
            Buffer::Int16(_) => ElementType::Int16,
            Buffer::Uint16(_) => ElementType::Uint16,
            Buffer::Int32(_) => ElementType::Int32,
            Buffer::Uint32(_) => ElementType::Uint32,
            Buffer::Int64(_) => ElementType::Int64,
            Buffer::Uint64(_) => ElementType::Uint64,
            Buffer::Bool(_) => ElementType::Bool,
        }
    }

    /// Number of elements stored.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Float32(v) => v.len(),
            Buffer::Float64(v) => v.len(),
            Buffer::Int8(v) => v.len(),
            Buffer::Uint8(v) => v.len(),
            Buffer::Int16(v) => v.len(),
            Buffer::Uint16(v) => v.len(),
            Buffer::Int32(v) => v.len(),
            Buffer::Uint32(v) => v.len(),
            Buffer::Int64(v) => v.len(),
            Buffer::Uint64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
        }
    }

    /// True when no element is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dense row-major tensor in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<i64>,
    pub data: Buffer,
}

/// Multiplies the dimensions of `shape`, rejecting negative dimensions and products above
/// [`MAX_TENSOR_ELEMENTS`].
pub fn element_count(shape: &[i64]) -> Result<usize, String> {
    let mut count: u64 = 1;
    for &dim in shape {
        let dim = u64::try_from(dim).map_err(|_| format!("negative dimension {dim}"))?;
        count = count
            .checked_mul(dim)
            .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| {
                format!(
                    "shape {shape:?} has more than {MAX_TENSOR_ELEMENTS} elements, the limit for one input"
                )
            })?;
    }
    usize::try_from(count).map_err(|_| format!("shape {shape:?} is too large for this platform"))
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014): a small generator whose output depends only on the seed, so every run and platform
/// feeds the same inputs.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Creates a generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number uniform in [-1, 1), built from the top 53 bits.
    pub fn next_signed_unit(&mut self) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit * 2.0 - 1.0
    }

    /// Returns an integer uniform in [0, bound); `bound` 0 gives 0.
    pub fn next_below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }
}

/// Upper bound (exclusive) of random values for 16-, 32- and 64-bit integer inputs. Such inputs
/// are often indices or token ids, so small values are more likely to be valid than the full
/// range.
pub const RANDOM_INT_BOUND: u64 = 10;

/// Builds a tensor of `shape` filled from `rng`: floats uniform in [-1, 1), 8-bit integers over
/// their whole range, wider integers in [0, [`RANDOM_INT_BOUND`]), booleans fair.
pub fn random_tensor(
    element_type: ElementType,
    shape: &[i64],
    rng: &mut SplitMix64,
) -> Result<HostTensor, String> {
    let count = element_count(shape)?;
    let mut small = || rng.next_below(RANDOM_INT_BOUND);
    // The narrowing casts below keep values inside each type's range by construction: `small()`
    // is below 10 and the 8-bit values take the low byte of 64 random bits.
    let data = match element_type {
        ElementType::Float32 => {
            Buffer::Float32((0..count).map(|_| rng.next_signed_unit() as f32).collect())
        }
        ElementType::Float64 => {
            Buffer::Float64((0..count).map(|_| rng.next_signed_unit()).collect())
        }
        ElementType::Int8 => Buffer::Int8((0..count).map(|_| rng.next_u64() as u8 as i8).collect()),
        ElementType::Uint8 => Buffer::Uint8((0..count).map(|_| rng.next_u64() as u8).collect()),
        ElementType::Int16 => Buffer::Int16((0..count).map(|_| small() as i16).collect()),
        ElementType::Uint16 => Buffer::Uint16((0..count).map(|_| small() as u16).collect()),
        ElementType::Int32 => Buffer::Int32((0..count).map(|_| small() as i32).collect()),
        ElementType::Uint32 => Buffer::Uint32((0..count).map(|_| small() as u32).collect()),
        ElementType::Int64 => Buffer::Int64((0..count).map(|_| small() as i64).collect()),
        ElementType::Uint64 => Buffer::Uint64((0..count).map(|_| small()).collect()),
        ElementType::Bool => Buffer::Bool((0..count).map(|_| rng.next_u64() & 1 == 1).collect()),
    };
    Ok(HostTensor {
        shape: shape.to_vec(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_values() {
        // First outputs for seed 0 (the published reference sequence of SplitMix64).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn random_tensor_is_deterministic() {
        let a = random_tensor(ElementType::Float32, &[1, 3, 4], &mut SplitMix64::new(7));
        let b = random_tensor(ElementType::Float32, &[1, 3, 4], &mut SplitMix64::new(7));
        assert_eq!(a, b);
        let c = random_tensor(ElementType::Float32, &[1, 3, 4], &mut SplitMix64::new(8));
        assert_ne!(a, c);
    }

    #[test]
    fn random_floats_stay_in_unit_range() {
        let tensor = random_tensor(ElementType::Float32, &[1000], &mut SplitMix64::new(1));
        let Ok(HostTensor {
            data: Buffer::Float32(values),
            ..
        }) = tensor
        else {
            panic!("expected float32 data, got {tensor:?}");
        };
        assert_eq!(values.len(), 1000);
        assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(values.iter().any(|v| *v < -0.5));
        assert!(values.iter().any(|v| *v > 0.5));
    }

    #[test]
    fn random_wide_ints_stay_small() {
        let tensor = random_tensor(ElementType::Int64, &[500], &mut SplitMix64::new(3));
        let Ok(HostTensor {
            data: Buffer::Int64(values),
            ..
        }) = tensor
        else {
            panic!("expected int64 data, got {tensor:?}");
        };
        assert!(values.iter().all(|v| (0..10).contains(v)));
    }

    #[test]
    fn element_count_rejects_huge_shapes() {
        assert_eq!(element_count(&[1, 3, 224, 224]), Ok(150_528));
        assert_eq!(element_count(&[]), Ok(1));
        assert_eq!(element_count(&[0, 5]), Ok(0));
        let huge = element_count(&[1 << 20, 1 << 20]);
        assert!(huge.is_err_and(|e| e.contains("limit")));
        let overflow = element_count(&[i64::MAX, i64::MAX]);
        assert!(overflow.is_err());
        let negative = element_count(&[1, -1]);
        assert!(negative.is_err_and(|e| e.contains("negative")));
    }

    #[test]
    fn random_tensor_rejects_huge_shape() {
        let result = random_tensor(
            ElementType::Float32,
            &[100_000, 100_000],
            &mut SplitMix64::new(0),
        );
        assert!(result.is_err());
    }
}
