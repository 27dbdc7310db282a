//! Hand-written prost messages for the parts of `onnx.proto` (package `onnx`, proto2) that qlint
//! reads, so the build needs no `protoc`.
//!
//! Field numbers follow `onnx/onnx:onnx/onnx.proto@f7546912`. Fields that qlint does not read
//! (doc strings, training info, device configurations, quantization annotations) are left out,
//! so prost skips them as unknown fields and never checks their UTF-8.
//!
//! Repeated numeric fields decode from both the packed and the unpacked wire encoding: prost
//! 0.14 accepts either for every repeated scalar, regardless of the field's `packed` option.
//! Byte fields are `bytes::Bytes`, so decoding from a memory-mapped `Bytes` slices the map
//! instead of copying weights.

use bytes::Bytes;

/// `ModelProto`: the top-level message of an `.onnx` file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, optional, tag = "1")]
    pub ir_version: Option<i64>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(string, tag = "4")]
    pub domain: String,
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
    #[prost(message, repeated, tag = "25")]
    pub functions: Vec<FunctionProto>,
}

/// `GraphProto`: nodes in topological order plus the graph's inputs, outputs and constants.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "15")]
    pub sparse_initializer: Vec<SparseTensorProto>,
    #[prost(message, repeated, tag = "16")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// `NodeProto`: one operator call. An empty input or output name is an omitted optional one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// Operator set domain. `""` and `"ai.onnx"` both mean the default ONNX domain.
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(string, tag = "8")]
    pub overload: String,
}

/// `AttributeProto.AttributeType` codes.
pub mod attribute_type {
    pub const UNDEFINED: i32 = 0;
    pub const FLOAT: i32 = 1;
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const TENSOR: i32 = 4;
    pub const GRAPH: i32 = 5;
    pub const FLOATS: i32 = 6;
    pub const INTS: i32 = 7;
    pub const STRINGS: i32 = 8;
    pub const TENSORS: i32 = 9;
    pub const GRAPHS: i32 = 10;
    pub const SPARSE_TENSOR: i32 = 11;
    pub const SPARSE_TENSORS: i32 = 12;
    pub const TYPE_PROTO: i32 = 13;
    pub const TYPE_PROTOS: i32 = 14;
}

/// `AttributeProto`: a named attribute. `type` names the value field in use, except in IR
/// version 1 files, which leave it `UNDEFINED`.
///
/// Single message values are boxed because decoding allocates every message in full. Unboxed,
/// they made the struct 1480 bytes on x86-64, the memory cost of each 2-byte empty attribute.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(bytes = "bytes", optional, tag = "4")]
    pub s: Option<Bytes>,
    #[prost(message, optional, boxed, tag = "5")]
    pub t: Option<Box<TensorProto>>,
    #[prost(message, optional, boxed, tag = "6")]
    pub g: Option<Box<GraphProto>>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "bytes", repeated, tag = "9")]
    pub strings: Vec<Bytes>,
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<GraphProto>,
    #[prost(message, optional, boxed, tag = "14")]
    pub tp: Option<Box<TypeProto>>,
    #[prost(message, repeated, tag = "15")]
    pub type_protos: Vec<TypeProto>,
    /// An [`attribute_type`] code.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    /// Set only inside `FunctionProto` bodies: the attribute takes the caller's value.
    #[prost(string, tag = "21")]
    pub ref_attr_name: String,
    #[prost(message, optional, boxed, tag = "22")]
    pub sparse_tensor: Option<Box<SparseTensorProto>>,
    #[prost(message, repeated, tag = "23")]
    pub sparse_tensors: Vec<SparseTensorProto>,
}

/// `TensorProto.DataLocation::EXTERNAL`: the payload lives in another file.
pub const DATA_LOCATION_EXTERNAL: i32 = 1;

/// `TensorProto`: a constant tensor. At most one of `raw_data`, the typed `*_data` fields and
/// `external_data` contains the payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// A `TensorProto.DataType` code.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(message, optional, tag = "3")]
    pub segment: Option<tensor_proto::Segment>,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(bytes = "bytes", repeated, tag = "6")]
    pub string_data: Vec<Bytes>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    /// Little-endian element bytes.
    #[prost(bytes = "bytes", optional, tag = "9")]
    pub raw_data: Option<Bytes>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    #[prost(uint64, repeated, tag = "11")]
    pub uint64_data: Vec<u64>,
    /// Keys `location`, `offset`, `length`, `checksum` when `data_location` is EXTERNAL.
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    #[prost(int32, tag = "14")]
    pub data_location: i32,
    #[prost(message, repeated, tag = "16")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// Nested messages of [`TensorProto`].
pub mod tensor_proto {
    /// The element range `[begin, end)` that a segmented `TensorProto` carries.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Segment {
        #[prost(int64, tag = "1")]
        pub begin: i64,
        #[prost(int64, tag = "2")]
        pub end: i64,
    }
}

/// `SparseTensorProto`: the name is `values.name`, the dense shape is `dims`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SparseTensorProto {
    #[prost(message, optional, tag = "1")]
    pub values: Option<TensorProto>,
    #[prost(message, optional, tag = "2")]
    pub indices: Option<TensorProto>,
    #[prost(int64, repeated, tag = "3")]
    pub dims: Vec<i64>,
}

/// `ValueInfoProto`: a named value with its declared type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto`: the type of a value (tensor, sequence, map, optional, ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(oneof = "type_proto::Value", tags = "1, 4, 5, 7, 8, 9")]
    pub value: Option<type_proto::Value>,
    #[prost(string, tag = "6")]
    pub denotation: String,
}

/// Nested messages of [`TypeProto`].
pub mod type_proto {
    use super::{TensorShapeProto, TypeProto};

    /// The kind of value a [`TypeProto`] describes.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "1")]
        TensorType(Tensor),
        #[prost(message, tag = "4")]
        SequenceType(Sequence),
        #[prost(message, tag = "5")]
        MapType(Map),
        #[prost(message, tag = "7")]
        OpaqueType(Opaque),
        #[prost(message, tag = "8")]
        SparseTensorType(Tensor),
        #[prost(message, tag = "9")]
        OptionalType(Sequence),
    }

    /// `TypeProto.Tensor` and `TypeProto.SparseTensor`, which share field numbers.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        /// A `TensorProto.DataType` code, or 0 when unknown.
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        /// Absent when even the rank is unknown.
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    /// `TypeProto.Sequence` and `TypeProto.Optional`, which share field numbers.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sequence {
        #[prost(message, optional, boxed, tag = "1")]
        pub elem_type: Option<Box<TypeProto>>,
    }

    /// `TypeProto.Map`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Map {
        #[prost(int32, tag = "1")]
        pub key_type: i32,
        #[prost(message, optional, boxed, tag = "2")]
        pub value_type: Option<Box<TypeProto>>,
    }

    /// `TypeProto.Opaque`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Opaque {
        #[prost(string, tag = "1")]
        pub domain: String,
        #[prost(string, tag = "2")]
        pub name: String,
    }
}

/// `TensorShapeProto`: one entry per axis.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<tensor_shape_proto::Dimension>,
}

/// Nested messages of [`TensorShapeProto`].
pub mod tensor_shape_proto {
    /// One axis: a number, a symbolic name, or neither when unknown.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub value: Option<dimension::Value>,
        #[prost(string, tag = "3")]
        pub denotation: String,
    }

    /// The oneof of [`Dimension`].
    pub mod dimension {
        /// `dim_value` or `dim_param`.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(int64, tag = "1")]
            DimValue(i64),
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

/// `OperatorSetIdProto`: an imported operator set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// `""` is the default ONNX domain (`ai.onnx`).
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `StringStringEntryProto`: a key/value pair (metadata, external data keys).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `FunctionProto`: a model-local function. qlint reads only its name and domain, so nodes that
/// call it stay opaque.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FunctionProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "10")]
    pub domain: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost::encoding::{float, int64};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn unpacked_repeated_scalars_decode() -> TestResult {
        let mut buf = Vec::new();
        // Proto2 writers without [packed=true] emit one tag per element.
        int64::encode_repeated(1, &[2, 3], &mut buf);
        float::encode_repeated(4, &[1.5, -2.0, 0.25], &mut buf);
        let tensor = TensorProto::decode(buf.as_slice())?;
        assert_eq!(tensor.dims, vec![2, 3]);
        assert_eq!(tensor.float_data, vec![1.5, -2.0, 0.25]);
        Ok(())
    }

    #[test]
    fn packed_repeated_scalars_decode() -> TestResult {
        let mut buf = Vec::new();
        int64::encode_packed(1, &[4, 5], &mut buf);
        float::encode_packed(4, &[0.5], &mut buf);
        let tensor = TensorProto::decode(buf.as_slice())?;
        assert_eq!(tensor.dims, vec![4, 5]);
        assert_eq!(tensor.float_data, vec![0.5]);
        Ok(())
    }

    #[test]
    fn mixed_packed_and_unpacked_ints_concatenate() -> TestResult {
        let mut buf = Vec::new();
        int64::encode_repeated(8, &[1], &mut buf);
        int64::encode_packed(8, &[2, 3], &mut buf);
        let attr = AttributeProto::decode(buf.as_slice())?;
        assert_eq!(attr.ints, vec![1, 2, 3]);
        Ok(())
    }

    #[test]
    fn raw_data_slices_the_input_buffer() -> TestResult {
        let tensor = TensorProto {
            raw_data: Some(Bytes::from_static(&[1, 2, 3, 4])),
            ..TensorProto::default()
        };
        let encoded = Bytes::from(tensor.encode_to_vec());
        let decoded = TensorProto::decode(encoded.clone())?;
        let raw = decoded.raw_data.ok_or("raw_data missing after decode")?;
        assert_eq!(raw.as_ref(), &[1, 2, 3, 4]);
        let inside = encoded.as_ptr_range().contains(&raw.as_ptr());
        assert!(inside, "raw_data was copied instead of sliced");
        Ok(())
    }

    #[test]
    fn dimension_oneof_round_trips() -> TestResult {
        use tensor_shape_proto::{Dimension, dimension::Value};
        let shape = TensorShapeProto {
            dim: vec![
                Dimension {
                    value: Some(Value::DimParam("N".into())),
                    ..Dimension::default()
                },
                Dimension {
                    value: Some(Value::DimValue(3)),
                    ..Dimension::default()
                },
                Dimension::default(),
            ],
        };
        let decoded = TensorShapeProto::decode(shape.encode_to_vec().as_slice())?;
        assert_eq!(decoded, shape);
        Ok(())
    }
}
