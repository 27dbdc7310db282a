//! Hand-written prost messages for Paddle's `framework.proto` (package `paddle.framework.proto`).
//!
//! Field numbers follow `paddle/fluid/framework/framework.proto` (Paddle 2.x) plus the scalar
//! attributes 20 and 21 that Paddle 2.5+ writes (`p2o_paddle.proto` in Paddle2ONNX 1.2.11). The
//! files are proto2, so every singular field is `optional` here: a missing field stays `None`
//! and the converter decides how to read it. Fields qlint does not read (OpCompatibleMap, reader
//! and sparse tensor descriptions) are left out, and prost skips them while decoding.

/// `Version`: the program version that wrote the file (e.g. 2006002 for Paddle 2.6.2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Version {
    #[prost(int64, optional, tag = "1")]
    pub version: Option<i64>,
}

/// `ProgramDesc`: a whole program, block 0 being the global block.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProgramDesc {
    #[prost(message, repeated, tag = "1")]
    pub blocks: Vec<BlockDesc>,
    #[prost(message, optional, tag = "4")]
    pub version: Option<Version>,
    #[prost(message, optional, tag = "5")]
    pub op_version_map: Option<OpVersionMap>,
}

/// `OpVersionMap`: the version of each operator definition the program was written with.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpVersionMap {
    #[prost(message, repeated, tag = "1")]
    pub pair: Vec<OpVersionPair>,
}

/// `OpVersionMap.OpVersionPair`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpVersionPair {
    #[prost(string, optional, tag = "1")]
    pub op_name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub op_version: Option<OpVersion>,
}

/// `OpVersion`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpVersion {
    #[prost(int32, optional, tag = "1")]
    pub version: Option<i32>,
}

/// `BlockDesc`: the variables and operators of one block, operators in execution order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockDesc {
    #[prost(int32, optional, tag = "1")]
    pub idx: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub parent_idx: Option<i32>,
    #[prost(message, repeated, tag = "3")]
    pub vars: Vec<VarDesc>,
    #[prost(message, repeated, tag = "4")]
    pub ops: Vec<OpDesc>,
    #[prost(int32, optional, tag = "5")]
    pub forward_block_idx: Option<i32>,
}

/// `OpDesc`: one operator with its named input and output slots.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDesc {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<OpDescVar>,
    #[prost(message, repeated, tag = "2")]
    pub outputs: Vec<OpDescVar>,
    #[prost(string, optional, tag = "3")]
    pub r#type: Option<String>,
    #[prost(message, repeated, tag = "4")]
    pub attrs: Vec<OpDescAttr>,
    #[prost(bool, optional, tag = "5")]
    pub is_target: Option<bool>,
}

/// `OpDesc.Var`: a slot (`X`, `Filter`, ...) and the variable names bound to it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDescVar {
    #[prost(string, optional, tag = "1")]
    pub parameter: Option<String>,
    #[prost(string, repeated, tag = "2")]
    pub arguments: Vec<String>,
}

/// `OpDesc.Attr`: one attribute. Its `type` (an [`attr_type`] code) names the value field in use.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDescAttr {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub r#type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub i: Option<i32>,
    #[prost(float, optional, tag = "4")]
    pub f: Option<f32>,
    #[prost(string, optional, tag = "5")]
    pub s: Option<String>,
    #[prost(int32, repeated, tag = "6")]
    pub ints: Vec<i32>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(string, repeated, tag = "8")]
    pub strings: Vec<String>,
    #[prost(bool, optional, tag = "10")]
    pub b: Option<bool>,
    #[prost(bool, repeated, tag = "11")]
    pub bools: Vec<bool>,
    #[prost(int32, optional, tag = "12")]
    pub block_idx: Option<i32>,
    #[prost(int64, optional, tag = "13")]
    pub l: Option<i64>,
    #[prost(int32, repeated, tag = "14")]
    pub blocks_idx: Vec<i32>,
    #[prost(int64, repeated, tag = "15")]
    pub longs: Vec<i64>,
    #[prost(double, repeated, tag = "16")]
    pub float64s: Vec<f64>,
    #[prost(string, optional, tag = "17")]
    pub var_name: Option<String>,
    #[prost(string, repeated, tag = "18")]
    pub vars_name: Vec<String>,
    #[prost(double, optional, tag = "19")]
    pub float64: Option<f64>,
    #[prost(message, optional, tag = "20")]
    pub scalar: Option<Scalar>,
    #[prost(message, repeated, tag = "21")]
    pub scalars: Vec<Scalar>,
}

/// `Scalar`: a typed scalar attribute value (Paddle 2.5+).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Scalar {
    /// A [`scalar_type`] code.
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(bool, optional, tag = "2")]
    pub b: Option<bool>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(double, optional, tag = "4")]
    pub r: Option<f64>,
    #[prost(message, optional, tag = "5")]
    pub c: Option<Complex>,
}

/// `Complex`: a complex128 scalar.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Complex {
    #[prost(double, optional, tag = "1")]
    pub r: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub i: Option<f64>,
}

/// `VarDesc`: a variable declaration.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VarDesc {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<VarType>,
    #[prost(bool, optional, tag = "3")]
    pub persistable: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub need_check_feed: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub is_parameter: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub stop_gradient: Option<bool>,
    #[prost(message, repeated, tag = "7")]
    pub attrs: Vec<VarDescAttr>,
}

/// `VarDesc.Attr`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VarDescAttr {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub r#type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub i: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub s: Option<String>,
    #[prost(int32, repeated, tag = "5")]
    pub ints: Vec<i32>,
}

/// `VarType`: the variable kind and, for tensors, element type and shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VarType {
    /// A [`var_kind`] code.
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub selected_rows: Option<TensorDesc>,
    #[prost(message, optional, tag = "3")]
    pub lod_tensor: Option<LoDTensorDesc>,
    #[prost(message, optional, tag = "4")]
    pub tensor_array: Option<LoDTensorArrayDesc>,
}

/// `VarType.TensorDesc`: element type and dims (`-1` = unknown). Also the header of every
/// `.pdiparams` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDesc {
    #[prost(int32, optional, tag = "1")]
    pub data_type: Option<i32>,
    #[prost(int64, repeated, tag = "2")]
    pub dims: Vec<i64>,
}

/// `VarType.LoDTensorDesc`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoDTensorDesc {
    #[prost(message, optional, tag = "1")]
    pub tensor: Option<TensorDesc>,
    #[prost(int32, optional, tag = "2")]
    pub lod_level: Option<i32>,
}

/// `VarType.LoDTensorArrayDesc`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoDTensorArrayDesc {
    #[prost(message, optional, tag = "1")]
    pub tensor: Option<TensorDesc>,
    #[prost(int32, optional, tag = "2")]
    pub lod_level: Option<i32>,
}

impl VarDesc {
    /// Returns the variable kind code (`VarType.type`), if the declaration has one.
    pub fn kind(&self) -> Option<i32> {
        self.r#type.as_ref().and_then(|t| t.r#type)
    }

    /// Returns the tensor description of a dense tensor, tensor array or selected-rows variable.
    pub fn tensor_desc(&self) -> Option<&TensorDesc> {
        let var_type = self.r#type.as_ref()?;
        var_type
            .lod_tensor
            .as_ref()
            .and_then(|t| t.tensor.as_ref())
            .or_else(|| {
                var_type
                    .tensor_array
                    .as_ref()
                    .and_then(|t| t.tensor.as_ref())
            })
            .or(var_type.selected_rows.as_ref())
    }
}

/// `OpDesc.AttrType` codes.
pub mod attr_type {
    pub const INT: i32 = 0;
    pub const FLOAT: i32 = 1;
    pub const STRING: i32 = 2;
    pub const INTS: i32 = 3;
    pub const FLOATS: i32 = 4;
    pub const STRINGS: i32 = 5;
    pub const BOOLEAN: i32 = 6;
    pub const BOOLEANS: i32 = 7;
    pub const BLOCK: i32 = 8;
    pub const LONG: i32 = 9;
    pub const BLOCKS: i32 = 10;
    pub const LONGS: i32 = 11;
    pub const FLOAT64S: i32 = 12;
    pub const VAR: i32 = 13;
    pub const VARS: i32 = 14;
    pub const FLOAT64: i32 = 15;
    pub const SCALAR: i32 = 16;
    pub const SCALARS: i32 = 17;
}

/// `Scalar.Type` codes.
pub mod scalar_type {
    pub const BOOLEAN: i32 = 1;
    pub const LONG: i32 = 2;
    pub const FLOAT64: i32 = 3;
    pub const COMPLEX128: i32 = 4;
}

/// `VarType.Type` codes for variable kinds (the data type codes are mapped by
/// [`crate::graph::DataType::from_paddle`]).
pub mod var_kind {
    pub const SELECTED_ROWS: i32 = 8;
    pub const FEED_MINIBATCH: i32 = 9;
    pub const FETCH_LIST: i32 = 10;
    pub const READER: i32 = 15;
    pub const RAW: i32 = 17;
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// Appends a protobuf varint.
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    #[test]
    fn repeated_dims_decode_unpacked() {
        // Proto2 default encoding: one tag per element (field 2, wire type 0).
        let mut buf = vec![0x08, 5];
        for dim in [3u64, u64::MAX, 7] {
            buf.push(0x10);
            varint(&mut buf, dim);
        }
        let desc = TensorDesc::decode(buf.as_slice());
        assert_eq!(desc.map(|d| d.dims).ok(), Some(vec![3, -1, 7]));
    }

    #[test]
    fn repeated_dims_decode_packed() {
        // `[packed=true]` encoding: one length-delimited field (wire type 2).
        let mut payload = Vec::new();
        for dim in [3u64, u64::MAX, 7] {
            varint(&mut payload, dim);
        }
        let mut buf = vec![0x08, 5, 0x12];
        varint(&mut buf, payload.len() as u64);
        buf.extend_from_slice(&payload);
        let desc = TensorDesc::decode(buf.as_slice());
        assert_eq!(desc.map(|d| d.dims).ok(), Some(vec![3, -1, 7]));
    }

    #[test]
    fn repeated_floats_decode_both_encodings() {
        let mut unpacked = Vec::new();
        for value in [1.5f32, -2.0] {
            unpacked.push(0x3d); // field 7, wire type 5 (fixed32)
            unpacked.extend_from_slice(&value.to_le_bytes());
        }
        let mut packed = vec![0x3a, 8]; // field 7, wire type 2, 8 bytes
        for value in [1.5f32, -2.0] {
            packed.extend_from_slice(&value.to_le_bytes());
        }
        for buf in [unpacked, packed] {
            let attr = OpDescAttr::decode(buf.as_slice());
            assert_eq!(attr.map(|a| a.floats).ok(), Some(vec![1.5, -2.0]));
        }
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // Field 3 (`op_compatible_map` in old Paddle) is not modelled and must not fail decoding.
        let buf = [0x1a, 2, 0x08, 1, 0x22, 2, 0x08, 42];
        let program = ProgramDesc::decode(buf.as_slice());
        assert_eq!(
            program.ok().and_then(|p| p.version).and_then(|v| v.version),
            Some(42)
        );
    }

    #[test]
    fn scalar_attr_round_trips() {
        let attr = OpDescAttr {
            name: Some("value".into()),
            r#type: Some(attr_type::SCALAR),
            scalar: Some(Scalar {
                r#type: Some(scalar_type::FLOAT64),
                r: Some(0.25),
                ..Scalar::default()
            }),
            ..OpDescAttr::default()
        };
        let decoded = OpDescAttr::decode(attr.encode_to_vec().as_slice());
        assert_eq!(decoded.ok(), Some(attr));
    }
}
