//! Conversion of a decoded `GraphProto` into the shared [`Graph`].
//!
//! Subgraphs (If, Loop, Scan bodies) are flattened into the same graph: their nodes carry the
//! scope `<parent node>/<attribute>`, and references to outer-scope values resolve by name
//! because ONNX names are single-assignment across nested graphs.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::attrs::{PendingSubgraph, convert_attr};
use super::external::ExternalFiles;
use super::proto::{GraphProto, NodeProto};
use super::values::{ConstantValue, constant_value, declared_type, tensor_data};
use crate::error::LoadError;
use crate::graph::{Graph, GraphBuilder, NodeSpec, bounded_name};

/// Maximum nesting of subgraphs. prost 0.14 stops decoding at 100 nested messages, and each graph
/// level takes three (graph, node, attribute), so this bound only guards protos that were
/// built in memory.
const MAX_GRAPH_DEPTH: usize = 64;

/// Converts the main graph of the model at `path`.
pub(super) fn convert_model_graph(path: &Path, graph: &GraphProto) -> Result<Graph, LoadError> {
    let mut converter = Converter {
        path,
        builder: GraphBuilder::ssa(),
        external: ExternalFiles::new(path),
    };
    converter.convert_graph(graph, "", 0)?;
    Ok(converter.builder.finish())
}

struct Converter<'a> {
    path: &'a Path,
    builder: GraphBuilder,
    external: ExternalFiles,
}

impl Converter<'_> {
    /// Adds the graph's constants, declared values and nodes under `scope` (`""` for the main
    /// graph, whose inputs and outputs become the graph's inputs and outputs).
    fn convert_graph(
        &mut self,
        graph: &GraphProto,
        scope: &str,
        depth: usize,
    ) -> Result<(), LoadError> {
        if depth > MAX_GRAPH_DEPTH {
            return Err(LoadError::new(
                self.path,
                format!(
                    "subgraphs are nested more than {MAX_GRAPH_DEPTH} levels deep at `{scope}`"
                ),
            ));
        }
        let constants = self.add_constants(graph)?;
        let is_main = scope.is_empty();
        for input in graph.input.iter().filter(|v| !v.name.is_empty()) {
            let (dtype, shape) = declared_type(input.r#type.as_ref());
            self.builder.declare(&input.name, dtype, shape);
            // An initializer may also be listed as a graph input, but it is a constant.
            if is_main && !constants.contains(input.name.as_str()) {
                self.builder.mark_input(&input.name);
            }
        }
        for output in graph.output.iter().filter(|v| !v.name.is_empty()) {
            let (dtype, shape) = declared_type(output.r#type.as_ref());
            self.builder.declare(&output.name, dtype, shape);
            if is_main {
                self.builder.mark_output(&output.name);
            }
        }
        for info in graph.value_info.iter().filter(|v| !v.name.is_empty()) {
            let (dtype, shape) = declared_type(info.r#type.as_ref());
            self.builder.declare(&info.name, dtype, shape);
        }
        for node in &graph.node {
            self.add_node(node, scope, depth)?;
        }
        Ok(())
    }

    /// Marks initializers and sparse initializers as constants and returns their names.
    fn add_constants<'g>(&mut self, graph: &'g GraphProto) -> Result<HashSet<&'g str>, LoadError> {
        let mut names = HashSet::new();
        for tensor in graph.initializer.iter().filter(|t| !t.name.is_empty()) {
            let value = tensor_data(tensor, &mut self.external)?;
            self.builder.set_constant(&tensor.name, Some(value));
            names.insert(tensor.name.as_str());
        }
        for sparse in &graph.sparse_initializer {
            let Some(values) = sparse.values.as_ref().filter(|v| !v.name.is_empty()) else {
                continue;
            };
            // NOTE: sparse initializers are not densified, so their value stays unread.
            self.builder.set_constant(&values.name, None);
            names.insert(values.name.as_str());
        }
        Ok(names)
    }

    /// Adds one node, then flattens its subgraphs after it.
    fn add_node(&mut self, node: &NodeProto, scope: &str, depth: usize) -> Result<(), LoadError> {
        let node_scope = bounded_name(if scope.is_empty() {
            base_id(node)
        } else {
            format!("{scope}/{}", base_id(node))
        });
        let mut attrs = BTreeMap::new();
        let mut subgraphs: Vec<PendingSubgraph<'_>> = Vec::new();
        for attr in &node.attribute {
            let value = convert_attr(attr, &node_scope, &mut self.external, &mut subgraphs)?;
            attrs.insert(attr.name.clone(), value);
        }
        let domain = if node.domain == "ai.onnx" {
            String::new()
        } else {
            node.domain.clone()
        };
        let is_constant = node.op_type == "Constant" && domain.is_empty();
        self.builder.add_node(NodeSpec {
            name: Some(node.name.clone()).filter(|n| !n.is_empty()),
            op_type: node.op_type.clone(),
            domain,
            inputs: positional(&node.input),
            outputs: positional(&node.output),
            attrs,
            scope: scope.to_string(),
        });
        if is_constant {
            self.add_constant_output(node)?;
        }
        // NOTE: subgraph inputs share one namespace with all other names. When an earlier
        // sibling subgraph produced a value with the same name, reads of the input link to
        // that producer.
        for subgraph in subgraphs {
            self.convert_graph(subgraph.graph, &subgraph.scope, depth + 1)?;
        }
        Ok(())
    }

    /// Records the value of a `Constant` node on its output. Paddle2ONNX 1.3.1 writes weights
    /// this way instead of as initializers.
    fn add_constant_output(&mut self, node: &NodeProto) -> Result<(), LoadError> {
        let Some(output) = node.output.first().filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        match constant_value(node, &mut self.external)? {
            ConstantValue::Known(value) => self.builder.set_constant(output, Some(value)),
            ConstantValue::Unread => self.builder.set_constant(output, None),
        }
        Ok(())
    }
}

/// Builds the node id before deduplication, as [`GraphBuilder::finish`] assigns it: the node name,
/// else `OpType(first output)`.
fn base_id(node: &NodeProto) -> String {
    if !node.name.is_empty() {
        return node.name.clone();
    }
    let first = node.output.iter().find(|o| !o.is_empty());
    format!("{}({})", node.op_type, first.map_or("", String::as_str))
}

/// ONNX operands are positional, so every port gets an empty slot name.
fn positional(names: &[String]) -> Vec<(String, String)> {
    names.iter().map(|n| (String::new(), n.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Attr;
    use crate::load::onnx::proto::{AttributeProto, TensorProto, attribute_type};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..NodeProto::default()
        }
    }

    fn graph_attr(name: &str, graph: GraphProto) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            g: Some(Box::new(graph)),
            r#type: attribute_type::GRAPH,
            ..AttributeProto::default()
        }
    }

    fn convert(graph: &GraphProto) -> Result<Graph, LoadError> {
        convert_model_graph(Path::new("m.onnx"), graph)
    }

    #[test]
    fn if_branches_are_flattened_with_scope() -> TestResult {
        let then_branch = GraphProto {
            node: vec![node("Relu", &["x"], &["then_y"])],
            output: vec![value_info("then_y")],
            ..GraphProto::default()
        };
        let mut if_node = node("If", &["cond"], &["y"]);
        if_node
            .attribute
            .push(graph_attr("then_branch", then_branch));
        let graph = GraphProto {
            node: vec![node("Neg", &["a"], &["x"]), if_node],
            input: vec![value_info("a"), value_info("cond")],
            output: vec![value_info("y")],
            ..GraphProto::default()
        };
        let g = convert(&graph)?;
        assert_eq!(g.node_count(), 3);
        let relu = g.find_node("Relu(then_y)").ok_or("Relu missing")?;
        assert_eq!(g.node(relu).scope, "If(y)/then_branch");
        let if_id = g.find_node("If(y)").ok_or("If missing")?;
        let expected = Attr::Subgraph("If(y)/then_branch".into());
        assert_eq!(g.node(if_id).attr("then_branch"), Some(&expected));
        // The branch reads `x` from the outer scope, so Neg feeds Relu.
        let neg = g.find_node("Neg(x)").ok_or("Neg missing")?;
        assert_eq!(g.predecessors(relu), vec![neg]);
        // Branch outputs are local values, not graph outputs.
        assert_eq!(g.outputs.len(), 1);
        Ok(())
    }

    #[test]
    fn initializer_listed_as_input_is_not_an_input() -> TestResult {
        let graph = GraphProto {
            node: vec![node("Add", &["x", "w"], &["y"])],
            initializer: vec![TensorProto {
                name: "w".into(),
                data_type: 1,
                float_data: vec![1.0],
                ..TensorProto::default()
            }],
            input: vec![value_info("x"), value_info("w")],
            output: vec![value_info("y")],
            ..GraphProto::default()
        };
        let g = convert(&graph)?;
        let names: Vec<_> = g
            .inputs
            .iter()
            .map(|&t| g.tensor(t).name.as_str())
            .collect();
        assert_eq!(names, vec!["x"]);
        let w = g
            .tensors
            .iter()
            .position(|t| t.name == "w")
            .ok_or("w missing")?;
        assert!(g.tensors[w].is_constant);
        Ok(())
    }

    #[test]
    fn ai_onnx_domain_is_normalized() -> TestResult {
        let mut relu = node("Relu", &["x"], &["y"]);
        relu.domain = "ai.onnx".into();
        let graph = GraphProto {
            node: vec![relu],
            ..GraphProto::default()
        };
        let g = convert(&graph)?;
        assert_eq!(g.op_histogram().get("Relu"), Some(&1));
        assert_eq!(g.node(crate::graph::NodeId::new(0)).domain, "");
        Ok(())
    }

    #[test]
    fn nesting_beyond_limit_is_an_error() {
        let mut graph = GraphProto {
            node: vec![node("Relu", &["x"], &["y0"])],
            ..GraphProto::default()
        };
        for level in 1..=MAX_GRAPH_DEPTH + 1 {
            let mut wrapper = node("Loop", &[], &[&format!("y{level}")]);
            wrapper.attribute.push(graph_attr("body", graph));
            graph = GraphProto {
                node: vec![wrapper],
                ..GraphProto::default()
            };
        }
        let message = convert(&graph).err().map(|e| e.message).unwrap_or_default();
        assert!(message.contains("nested more than 64 levels"), "{message}");
    }

    fn value_info(name: &str) -> crate::load::onnx::proto::ValueInfoProto {
        crate::load::onnx::proto::ValueInfoProto {
            name: name.into(),
            r#type: None,
        }
    }
}
