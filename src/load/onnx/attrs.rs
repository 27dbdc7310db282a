//! Conversion of `AttributeProto` values to [`Attr`]. Graph-valued attributes are not converted
//! here: they are returned to the caller, which flattens them under the scope they are given.

use super::external::ExternalFiles;
use super::proto::{AttributeProto, GraphProto, attribute_type as kind};
use super::values::tensor_data;
use crate::error::LoadError;
use crate::graph::{Attr, bounded_name};

/// A subgraph found in an attribute, waiting to be flattened under `scope`.
pub(super) struct PendingSubgraph<'g> {
    pub(super) scope: String,
    pub(super) graph: &'g GraphProto,
}

/// Converts one attribute of the node whose subgraphs live under `node_scope`. Subgraphs are
/// appended to `subgraphs` and recorded as [`Attr::Subgraph`] or [`Attr::Subgraphs`].
pub(super) fn convert_attr<'g>(
    attr: &'g AttributeProto,
    node_scope: &str,
    external: &mut ExternalFiles,
    subgraphs: &mut Vec<PendingSubgraph<'g>>,
) -> Result<Attr, LoadError> {
    // Only graph attributes need a scope; building it for every attribute would copy a long node
    // scope once per attribute.
    let scope = || bounded_name(format!("{node_scope}/{}", attr.name));
    let value = match attribute_type(attr) {
        kind::FLOAT => Attr::Float(attr.f.map_or(0.0, f64::from)),
        kind::INT => Attr::Int(attr.i.unwrap_or(0)),
        kind::STRING => Attr::Str(lossy(attr.s.as_deref().unwrap_or_default())),
        kind::TENSOR => match &attr.t {
            Some(t) => Attr::Tensor(tensor_data(t, external)?),
            None => Attr::Other("tensor attribute without a tensor".to_string()),
        },
        kind::GRAPH => match &attr.g {
            Some(graph) => {
                let scope = scope();
                subgraphs.push(PendingSubgraph {
                    scope: scope.clone(),
                    graph,
                });
                Attr::Subgraph(scope)
            }
            None => Attr::Other("graph attribute without a graph".to_string()),
        },
        kind::FLOATS => Attr::Floats(attr.floats.iter().map(|&v| f64::from(v)).collect()),
        kind::INTS => Attr::Ints(attr.ints.clone()),
        kind::STRINGS => Attr::Strs(attr.strings.iter().map(|s| lossy(s)).collect()),
        kind::GRAPHS => {
            let mut scopes = Vec::with_capacity(attr.graphs.len());
            let parent = scope();
            for (index, graph) in attr.graphs.iter().enumerate() {
                let scope = format!("{parent}/{index}");
                scopes.push(scope.clone());
                subgraphs.push(PendingSubgraph { scope, graph });
            }
            Attr::Subgraphs(scopes)
        }
        kind::TENSORS => Attr::Other(format!("{} tensors", attr.tensors.len())),
        kind::SPARSE_TENSOR => Attr::Other("sparse tensor".to_string()),
        kind::SPARSE_TENSORS => {
            Attr::Other(format!("{} sparse tensors", attr.sparse_tensors.len()))
        }
        kind::TYPE_PROTO => Attr::Other("type".to_string()),
        kind::TYPE_PROTOS => Attr::Other(format!("{} types", attr.type_protos.len())),
        other => Attr::Other(format!("attribute of unknown type {other}")),
    };
    Ok(value)
}

/// Determines the attribute's type code. IR version 1 files leave `type` UNDEFINED, so the
/// value field that is set decides.
fn attribute_type(attr: &AttributeProto) -> i32 {
    if attr.r#type != kind::UNDEFINED {
        return attr.r#type;
    }
    let candidates = [
        (attr.f.is_some(), kind::FLOAT),
        (attr.i.is_some(), kind::INT),
        (attr.s.is_some(), kind::STRING),
        (attr.t.is_some(), kind::TENSOR),
        (attr.g.is_some(), kind::GRAPH),
        (attr.sparse_tensor.is_some(), kind::SPARSE_TENSOR),
        (attr.tp.is_some(), kind::TYPE_PROTO),
        (!attr.floats.is_empty(), kind::FLOATS),
        (!attr.ints.is_empty(), kind::INTS),
        (!attr.strings.is_empty(), kind::STRINGS),
        (!attr.tensors.is_empty(), kind::TENSORS),
        (!attr.graphs.is_empty(), kind::GRAPHS),
        (!attr.sparse_tensors.is_empty(), kind::SPARSE_TENSORS),
        (!attr.type_protos.is_empty(), kind::TYPE_PROTOS),
    ];
    candidates
        .into_iter()
        .find_map(|(set, code)| set.then_some(code))
        .unwrap_or(kind::UNDEFINED)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::path::Path;

    fn convert(attr: &AttributeProto) -> (Result<Attr, LoadError>, Vec<String>) {
        let mut external = ExternalFiles::new(Path::new("m.onnx"));
        let mut subgraphs = Vec::new();
        let value = convert_attr(attr, "If_0", &mut external, &mut subgraphs);
        let scopes = subgraphs.into_iter().map(|s| s.scope).collect();
        (value, scopes)
    }

    #[test]
    fn typed_scalars_convert() {
        let int = AttributeProto {
            name: "axis".into(),
            i: Some(0),
            r#type: kind::INT,
            ..AttributeProto::default()
        };
        assert_eq!(convert(&int).0, Ok(Attr::Int(0)));
        let string = AttributeProto {
            name: "auto_pad".into(),
            s: Some(Bytes::from_static(b"SAME_UPPER")),
            r#type: kind::STRING,
            ..AttributeProto::default()
        };
        assert_eq!(convert(&string).0, Ok(Attr::Str("SAME_UPPER".into())));
    }

    #[test]
    fn undefined_type_is_inferred_from_field() {
        let floats = AttributeProto {
            name: "scales".into(),
            floats: vec![0.5, 2.0],
            ..AttributeProto::default()
        };
        assert_eq!(convert(&floats).0, Ok(Attr::Floats(vec![0.5, 2.0])));
    }

    #[test]
    fn invalid_utf8_string_is_lossy() {
        let attr = AttributeProto {
            name: "mode".into(),
            s: Some(Bytes::from_static(b"a\xffb")),
            r#type: kind::STRING,
            ..AttributeProto::default()
        };
        assert_eq!(convert(&attr).0, Ok(Attr::Str("a\u{fffd}b".into())));
    }

    #[test]
    fn graph_attributes_get_scopes() {
        let then_branch = AttributeProto {
            name: "then_branch".into(),
            g: Some(Box::default()),
            r#type: kind::GRAPH,
            ..AttributeProto::default()
        };
        let (value, scopes) = convert(&then_branch);
        assert_eq!(value, Ok(Attr::Subgraph("If_0/then_branch".into())));
        assert_eq!(scopes, vec!["If_0/then_branch".to_string()]);

        let branches = AttributeProto {
            name: "branches".into(),
            graphs: vec![GraphProto::default(), GraphProto::default()],
            r#type: kind::GRAPHS,
            ..AttributeProto::default()
        };
        let expected = vec!["If_0/branches/0".to_string(), "If_0/branches/1".to_string()];
        let (value, scopes) = convert(&branches);
        assert_eq!(value, Ok(Attr::Subgraphs(expected.clone())));
        assert_eq!(scopes, expected);
    }
}
