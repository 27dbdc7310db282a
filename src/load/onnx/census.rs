//! A pass over the raw protobuf that estimates the memory prost would allocate, before decoding.
//!
//! prost builds every message in full: an empty `NodeProto` takes two bytes in the file and
//! hundreds of bytes decoded. A file made of millions of empty messages would therefore cost
//! gigabytes, so the loader compares this estimate with the file size first.

use std::mem::size_of;

use super::proto::{
    AttributeProto, GraphProto, NodeProto, SparseTensorProto, TensorProto, TypeProto,
    ValueInfoProto, tensor_shape_proto::Dimension,
};

/// prost's own nesting limit; deeper input fails to decode anyway.
const MAX_DEPTH: usize = 100;

/// Decoded size assumed for a message qlint keeps as a leaf (key-value pairs, segments).
const LEAF_BYTES: usize = 64;

/// Memory one node costs through decoding, graph building and analysis: 2 million empty
/// `NodeProto`s (a 4 MB file) peaked at 2.45 GB of RSS in a release build, about 1,200 bytes each.
const NODE_BYTES: usize = 1_200;

/// The message types whose submessages the census follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Model,
    Function,
    Graph,
    Node,
    Attribute,
    Tensor,
    Sparse,
    ValueInfo,
    Type,
    /// `TypeProto.Tensor` and `TypeProto.SparseTensor`: elem_type and shape.
    TypeTensor,
    /// `TypeProto.Sequence` and `TypeProto.Optional`: one nested `TypeProto`.
    TypeWrapper,
    /// `TypeProto.Map`: key type and a nested value `TypeProto`.
    TypeMap,
    /// `TensorShapeProto`: a list of dimensions.
    Shape,
    /// `TensorShapeProto.Dimension`.
    Dim,
    Leaf,
}

impl Kind {
    /// Returns the bytes one decoded message of this kind occupies, not counting its heap data (for
    /// nodes, the measured cost through the whole pipeline).
    fn decoded_size(self) -> usize {
        match self {
            Kind::Model | Kind::Function => LEAF_BYTES,
            Kind::Graph => size_of::<GraphProto>(),
            Kind::Node => NODE_BYTES.max(size_of::<NodeProto>()),
            Kind::Attribute => size_of::<AttributeProto>(),
            Kind::Tensor => size_of::<TensorProto>(),
            Kind::Sparse => size_of::<SparseTensorProto>(),
            Kind::ValueInfo => size_of::<ValueInfoProto>(),
            Kind::Type | Kind::TypeTensor | Kind::TypeWrapper | Kind::TypeMap => {
                size_of::<TypeProto>()
            }
            Kind::Dim => size_of::<Dimension>(),
            Kind::Shape | Kind::Leaf => LEAF_BYTES,
        }
    }

    /// Returns the kind of the submessage in field `field`, or `None` for scalars and strings.
    fn child(self, field: u32) -> Option<Kind> {
        use Kind::*;
        match (self, field) {
            (Model, 7) => Some(Graph),
            (Model, 25) => Some(Function),
            (Model, 8 | 14 | 20 | 26) => Some(Leaf),
            (Function, 7) => Some(Node),
            (Function, 11) => Some(Attribute),
            (Function, 12) => Some(ValueInfo),
            (Function, 9 | 14) => Some(Leaf),
            (Graph, 1) => Some(Node),
            (Graph, 5) => Some(Tensor),
            (Graph, 11..=13) => Some(ValueInfo),
            (Graph, 15) => Some(Sparse),
            (Graph, 14 | 16) => Some(Leaf),
            (Node, 5) => Some(Attribute),
            (Node, 9 | 10) => Some(Leaf),
            (Attribute, 5 | 10) => Some(Tensor),
            (Attribute, 6 | 11) => Some(Graph),
            (Attribute, 14 | 15) => Some(Type),
            (Attribute, 22 | 23) => Some(Sparse),
            (Tensor, 3 | 13 | 16) => Some(Leaf),
            (Sparse, 1 | 2) => Some(Tensor),
            (ValueInfo, 2) => Some(Type),
            (ValueInfo, 4) => Some(Leaf),
            (Type, 1 | 8) => Some(TypeTensor),
            (Type, 4 | 9) => Some(TypeWrapper),
            (Type, 5) => Some(TypeMap),
            (Type, 7) => Some(Leaf),
            (TypeTensor, 2) => Some(Shape),
            (TypeWrapper, 1) | (TypeMap, 2) => Some(Type),
            (Shape, 1) => Some(Dim),
            _ => None,
        }
    }

    /// True for repeated string fields, which decode into one `String` (24 bytes) each.
    fn is_string_list(self, field: u32) -> bool {
        matches!(
            (self, field),
            (Kind::Node, 1 | 2)
                | (Kind::Attribute, 9)
                | (Kind::Tensor, 6)
                | (Kind::Function, 4 | 5)
        )
    }
}

/// Estimates the bytes prost allocates to decode `bytes` as a `ModelProto`, leaving out payloads
/// it shares with the input (`raw_data`). Malformed input stops the count where it breaks;
/// the decoder then reports the error.
pub(super) fn decoded_bytes(bytes: &[u8]) -> u64 {
    let mut total = 0u64;
    walk(bytes, Kind::Model, 0, &mut total);
    total
}

fn walk(mut bytes: &[u8], kind: Kind, depth: usize, total: &mut u64) {
    if depth > MAX_DEPTH {
        return;
    }
    while !bytes.is_empty() {
        let Some((key, rest)) = varint(bytes) else {
            return;
        };
        bytes = rest;
        let field = (key >> 3) as u32;
        let rest = match key & 7 {
            0 => varint(bytes).map(|(_, rest)| rest),
            1 => bytes.get(8..),
            5 => bytes.get(4..),
            2 => {
                let Some((len, rest)) = varint(bytes) else {
                    return;
                };
                let Some(len) = usize::try_from(len).ok().filter(|&l| l <= rest.len()) else {
                    return;
                };
                let (body, after) = rest.split_at(len);
                if let Some(child) = kind.child(field) {
                    *total = total.saturating_add(child.decoded_size() as u64);
                    walk(body, child, depth + 1, total);
                } else if kind.is_string_list(field) {
                    *total = total.saturating_add(size_of::<String>() as u64);
                }
                Some(after)
            }
            _ => None,
        };
        match rest {
            Some(rest) => bytes = rest,
            None => return,
        }
    }
}

/// Reads a base-128 varint.
fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[index + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a length-delimited field.
    fn field(number: u32, body: &[u8]) -> Vec<u8> {
        let mut out = vec![((number << 3) | 2) as u8, body.len() as u8];
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn empty_nodes_count_their_decoded_size() {
        let nodes: Vec<u8> = (0..50).flat_map(|_| field(1, &[])).collect();
        let mut model = vec![(7 << 3) | 2];
        model.push(nodes.len() as u8);
        model.extend_from_slice(&nodes);
        let expected = size_of::<GraphProto>() + 50 * NODE_BYTES;
        assert_eq!(decoded_bytes(&model), expected as u64);
    }

    #[test]
    fn truncated_input_stops_quietly() {
        assert_eq!(decoded_bytes(&[0x3a, 0x7f]), 0);
        assert_eq!(decoded_bytes(&[0xff]), 0);
    }

    #[test]
    fn strings_in_nodes_count() {
        let node = [field(1, b"a"), field(2, b"b"), field(4, b"Relu")].concat();
        let graph = field(1, &node);
        let model = field(7, &graph);
        let expected = size_of::<GraphProto>() + NODE_BYTES + 2 * size_of::<String>();
        assert_eq!(decoded_bytes(&model), expected as u64);
    }
}
