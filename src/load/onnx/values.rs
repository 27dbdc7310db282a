//! Conversion of ONNX tensors and value types: `TensorProto` to [`TensorData`], `TypeProto` to
//! a declared element type and shape, and the value of a `Constant` node.
//!
//! Nothing here allocates from a size written in the file: payloads are slices of the decoded
//! buffer or vectors that prost already decoded, and `dims` are only copied.

use bytes::Bytes;

use super::external::ExternalFiles;
use super::proto::{
    AttributeProto, DATA_LOCATION_EXTERNAL, NodeProto, TensorProto, TypeProto,
    tensor_shape_proto::dimension, type_proto,
};
use crate::error::LoadError;
use crate::graph::{DataType, Dim, Payload, TensorData};

/// Converts a `TensorProto`, reading external data through `external`.
pub(super) fn tensor_data(
    tensor: &TensorProto,
    external: &mut ExternalFiles,
) -> Result<TensorData, LoadError> {
    let dtype = DataType::from_onnx(tensor.data_type);
    let payload = if tensor.data_location == DATA_LOCATION_EXTERNAL {
        Payload::Raw(external.read(&tensor.name, &tensor.external_data)?)
    } else if tensor.segment.is_some() {
        // NOTE: a segmented tensor carries only part of its elements, and qlint does not
        // join segments, so the value stays unread.
        Payload::Opaque
    } else if let Some(raw) = &tensor.raw_data {
        Payload::Raw(raw.clone())
    } else {
        typed_payload(tensor, dtype)
    };
    Ok(TensorData {
        dtype,
        dims: tensor.dims.clone(),
        payload,
    })
}

/// Reads the typed `*_data` field that ONNX uses for `dtype` when `raw_data` is absent.
fn typed_payload(tensor: &TensorProto, dtype: DataType) -> Payload {
    match dtype {
        DataType::Float32 => {
            Payload::Floats(tensor.float_data.iter().map(|&v| f64::from(v)).collect())
        }
        DataType::Float64 => Payload::Floats(tensor.double_data.clone()),
        DataType::Int8
        | DataType::UInt8
        | DataType::Int16
        | DataType::UInt16
        | DataType::Int32
        | DataType::Bool => {
            Payload::Ints(tensor.int32_data.iter().map(|&v| i64::from(v)).collect())
        }
        DataType::Int64 => Payload::Ints(tensor.int64_data.clone()),
        DataType::UInt32 | DataType::UInt64 => unsigned_payload(&tensor.uint64_data),
        // 16-bit and 8-bit float types store their bit patterns in `int32_data`, one element
        // per entry, so they are rebuilt as little-endian raw bytes.
        DataType::Float16 | DataType::BFloat16 => Payload::Raw(low_bytes(&tensor.int32_data, 2)),
        DataType::Float8E4M3FN
        | DataType::Float8E4M3FNUZ
        | DataType::Float8E5M2
        | DataType::Float8E5M2FNUZ => Payload::Raw(low_bytes(&tensor.int32_data, 1)),
        DataType::Int4
        | DataType::UInt4
        | DataType::String
        | DataType::Complex64
        | DataType::Complex128
        | DataType::Other(_) => Payload::Opaque,
    }
}

fn unsigned_payload(values: &[u64]) -> Payload {
    let ints: Result<Vec<i64>, _> = values.iter().map(|&v| i64::try_from(v)).collect();
    match ints {
        Ok(ints) => Payload::Ints(ints),
        // Values above i64::MAX lose precision as f64 but keep their magnitude.
        Err(_) => Payload::Floats(values.iter().map(|&v| v as f64).collect()),
    }
}

/// Keeps the low `width` bytes of each entry, little-endian.
fn low_bytes(values: &[i32], width: usize) -> Bytes {
    let mut out = Vec::with_capacity(values.len() * width);
    for value in values {
        out.extend_from_slice(&value.to_le_bytes()[..width]);
    }
    Bytes::from(out)
}

/// Returns the element type and shape that a `TypeProto` declares, for tensors and sparse
/// tensors only.
pub(super) fn declared_type(ty: Option<&TypeProto>) -> (Option<DataType>, Option<Vec<Dim>>) {
    let tensor = match ty.and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) | Some(type_proto::Value::SparseTensorType(t)) => t,
        _ => return (None, None),
    };
    let dtype = (tensor.elem_type != 0).then(|| DataType::from_onnx(tensor.elem_type));
    let shape = tensor.shape.as_ref().map(|shape| {
        shape
            .dim
            .iter()
            .map(|d| convert_dim(d.value.as_ref()))
            .collect()
    });
    (dtype, shape)
}

fn convert_dim(value: Option<&dimension::Value>) -> Dim {
    match value {
        Some(dimension::Value::DimValue(v)) if *v >= 0 => Dim::Known(*v),
        Some(dimension::Value::DimParam(name)) if !name.is_empty() => Dim::Symbolic(name.clone()),
        _ => Dim::Unknown,
    }
}

/// Value of a `Constant` node, read from its `value*` attribute.
pub(super) enum ConstantValue {
    Known(TensorData),
    /// A sparse value or a node without a value attribute: constant, but not read.
    Unread,
}

/// Reads the value of a `Constant` node (`value`, `value_float(s)`, `value_int(s)`,
/// `value_string(s)`, `sparse_value`).
pub(super) fn constant_value(
    node: &NodeProto,
    external: &mut ExternalFiles,
) -> Result<ConstantValue, LoadError> {
    for attr in &node.attribute {
        let value = match attr.name.as_str() {
            "value" => match &attr.t {
                Some(t) => tensor_data(t, external)?,
                None => continue,
            },
            "value_float" => scalar(DataType::Float32, Payload::Floats(float_list(attr.f))),
            "value_floats" => vector(DataType::Float32, Payload::Floats(floats(attr))),
            "value_int" => scalar(DataType::Int64, Payload::Ints(attr.i.into_iter().collect())),
            "value_ints" => vector(DataType::Int64, Payload::Ints(attr.ints.clone())),
            "value_string" => scalar(DataType::String, Payload::Opaque),
            "value_strings" => TensorData {
                dims: vec![attr.strings.len() as i64],
                ..scalar(DataType::String, Payload::Opaque)
            },
            _ => continue,
        };
        return Ok(ConstantValue::Known(value));
    }
    Ok(ConstantValue::Unread)
}

fn float_list(value: Option<f32>) -> Vec<f64> {
    value.into_iter().map(f64::from).collect()
}

fn floats(attr: &AttributeProto) -> Vec<f64> {
    attr.floats.iter().map(|&v| f64::from(v)).collect()
}

fn scalar(dtype: DataType, payload: Payload) -> TensorData {
    TensorData {
        dtype,
        dims: Vec::new(),
        payload,
    }
}

fn vector(dtype: DataType, payload: Payload) -> TensorData {
    let len = match &payload {
        Payload::Floats(v) => v.len(),
        Payload::Ints(v) => v.len(),
        Payload::Raw(_) | Payload::Opaque => 0,
    };
    TensorData {
        dtype,
        dims: vec![len as i64],
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::onnx::proto::{TensorShapeProto, tensor_shape_proto::Dimension};
    use std::path::Path;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn external() -> ExternalFiles {
        ExternalFiles::new(Path::new("m.onnx"))
    }

    #[test]
    fn float_data_becomes_floats() -> TestResult {
        let t = TensorProto {
            dims: vec![2],
            data_type: 1,
            float_data: vec![0.5, -1.0],
            ..TensorProto::default()
        };
        let data = tensor_data(&t, &mut external())?;
        assert_eq!(data.payload, Payload::Floats(vec![0.5, -1.0]));
        assert_eq!(data.to_f64(), Ok(vec![0.5, -1.0]));
        Ok(())
    }

    #[test]
    fn int8_in_int32_data_decodes() -> TestResult {
        let t = TensorProto {
            dims: vec![3],
            data_type: 3,
            int32_data: vec![-128, 0, 127],
            ..TensorProto::default()
        };
        let data = tensor_data(&t, &mut external())?;
        assert_eq!(data.dtype, DataType::Int8);
        assert_eq!(data.to_i64(), Ok(vec![-128, 0, 127]));
        Ok(())
    }

    #[test]
    fn float16_bits_in_int32_data_decode() -> TestResult {
        let t = TensorProto {
            dims: vec![2],
            data_type: 10,
            int32_data: vec![0x3c00, 0xc000],
            ..TensorProto::default()
        };
        let data = tensor_data(&t, &mut external())?;
        assert_eq!(data.to_f64(), Ok(vec![1.0, -2.0]));
        Ok(())
    }

    #[test]
    fn huge_dims_do_not_allocate() -> TestResult {
        let t = TensorProto {
            dims: vec![i64::MAX, i64::MAX],
            data_type: 1,
            ..TensorProto::default()
        };
        let data = tensor_data(&t, &mut external())?;
        assert_eq!(data.payload, Payload::Floats(Vec::new()));
        assert!(data.to_f64().is_err());
        Ok(())
    }

    #[test]
    fn uint64_above_i64_max_keeps_magnitude() {
        let payload = unsigned_payload(&[u64::MAX]);
        assert_eq!(payload, Payload::Floats(vec![u64::MAX as f64]));
        assert_eq!(unsigned_payload(&[7]), Payload::Ints(vec![7]));
    }

    #[test]
    fn tensor_type_shape_is_declared() {
        let dim = |value| Dimension {
            value,
            ..Dimension::default()
        };
        let ty = TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 3,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(Some(dimension::Value::DimParam("batch".into()))),
                        dim(Some(dimension::Value::DimValue(16))),
                        dim(None),
                    ],
                }),
            })),
            ..TypeProto::default()
        };
        let (dtype, shape) = declared_type(Some(&ty));
        assert_eq!(dtype, Some(DataType::Int8));
        let expected = vec![Dim::Symbolic("batch".into()), Dim::Known(16), Dim::Unknown];
        assert_eq!(shape, Some(expected));
    }

    #[test]
    fn constant_value_ints_is_a_vector() -> TestResult {
        let node = NodeProto {
            op_type: "Constant".into(),
            attribute: vec![AttributeProto {
                name: "value_ints".into(),
                ints: vec![1, 2, 3],
                ..AttributeProto::default()
            }],
            ..NodeProto::default()
        };
        let ConstantValue::Known(data) = constant_value(&node, &mut external())? else {
            return Err("value_ints was not read".into());
        };
        assert_eq!(data.dtype, DataType::Int64);
        assert_eq!(data.dims, vec![3]);
        assert_eq!(data.to_i64(), Ok(vec![1, 2, 3]));
        Ok(())
    }

    #[test]
    fn constant_value_float_is_a_scalar() -> TestResult {
        let node = NodeProto {
            op_type: "Constant".into(),
            attribute: vec![AttributeProto {
                name: "value_float".into(),
                f: Some(0.25),
                ..AttributeProto::default()
            }],
            ..NodeProto::default()
        };
        let ConstantValue::Known(data) = constant_value(&node, &mut external())? else {
            return Err("value_float was not read".into());
        };
        assert!(data.dims.is_empty());
        assert_eq!(data.to_f64(), Ok(vec![0.25]));
        Ok(())
    }
}
