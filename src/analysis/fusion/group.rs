//! The node group a selector looks at (the DequantizeLinear nodes feeding a node and the
//! QuantizeLinear nodes reading it) and the structural checks every selector shares, after
//! ORT's `NodeGroupSelector::CheckQDQNodes` and `NodeGroup::CanCreateNodeGroup`.

use std::cell::OnceCell;
use std::collections::HashMap;

use super::nbits::SharingKey;
use super::reason::{Int8Cause, Reason, S8Skip};
use super::sim::Sim;
use crate::graph::DataType;

/// The DequantizeLinear inputs and QuantizeLinear readers of one node.
pub struct Group {
    /// `(input slot, DequantizeLinear node)` in input order.
    pub dqs: Vec<(usize, usize)>,
    /// QuantizeLinear readers of any output, each once.
    pub qs: Vec<usize>,
}

/// The state the checks read besides the working graph.
pub struct Context<'s, 'a> {
    pub sim: &'s Sim<'a>,
    /// The reason each int8 QuantizeLinear stayed int8.
    pub skipped: &'s HashMap<usize, S8Skip>,
    /// Readers per ConstantSharing key, counted when a weight-only check first needs them.
    pub shared_readers: OnceCell<HashMap<SharingKey, usize>>,
}

impl Context<'_, '_> {
    /// Collects the group of `node`.
    pub fn group(&self, node: usize) -> Group {
        let sim = self.sim;
        let mut dqs = Vec::new();
        let mut qs: Vec<usize> = Vec::new();
        let Some(n) = sim.node(node) else {
            return Group { dqs, qs };
        };
        for (slot, input) in n.inputs.iter().enumerate() {
            if let Some(dq) = input
                .and_then(|t| sim.producer(t))
                .filter(|&p| sim.is_dq(p))
            {
                dqs.push((slot, dq));
            }
        }
        for output in n.outputs.iter().flatten() {
            for reader in sim.uses(*output) {
                if sim.is_q(reader.node) && !qs.contains(&reader.node) {
                    qs.push(reader.node);
                }
            }
        }
        Group { dqs, qs }
    }

    /// Runs the checks every selector shares. The `expected` slots (every present input when
    /// `None`) must come from DequantizeLinear nodes that only this node reads. Each output
    /// must be read only by QuantizeLinear nodes or by none, no output may be a graph output,
    /// and some QuantizeLinear must read the node unless `q_optional`.
    pub fn check_nodes(
        &self,
        node: usize,
        group: &Group,
        expected: Option<&[usize]>,
        q_optional: bool,
    ) -> Result<(), Reason> {
        self.check_inputs(node, group, expected)?;
        self.check_outputs(node, group, q_optional)
    }

    fn check_inputs(
        &self,
        node: usize,
        group: &Group,
        expected: Option<&[usize]>,
    ) -> Result<(), Reason> {
        let sim = self.sim;
        let count = sim.node(node).map_or(0, |n| n.inputs.len());
        let present: Vec<usize> = (0..count)
            .filter(|&s| sim.input(node, s).is_some())
            .collect();
        let wanted = expected.map_or(present, <[usize]>::to_vec);
        for &slot in &wanted {
            if !group.dqs.iter().any(|&(s, _)| s == slot) {
                return Err(self.float_input(node, slot));
            }
        }
        if let Some(&(slot, _)) = group.dqs.iter().find(|(s, _)| !wanted.contains(s)) {
            return Err(Reason::UnexpectedDq {
                slot,
                tensor: self.input_name(node, slot),
            });
        }
        for &(_, dq) in &group.dqs {
            if let Some(out) = sim.output(dq, 0)
                && (sim.tensor(out).graph_output || sim.uses(out).len() != 1)
            {
                return Err(Reason::DqGraphOutput {
                    tensor: sim.tensor(out).name.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_outputs(&self, node: usize, group: &Group, q_optional: bool) -> Result<(), Reason> {
        let sim = self.sim;
        if group.qs.is_empty() {
            return if q_optional {
                Ok(())
            } else {
                Err(Reason::NoOutputQ {
                    readers: self.readers(node),
                })
            };
        }
        if sim.produces_graph_output(node) {
            return Err(Reason::GraphOutput);
        }
        let outputs = sim
            .node(node)
            .map_or(0, |n| n.outputs.iter().flatten().count());
        if outputs != group.qs.len() || group.qs.len() != sim.out_edges(node) {
            return Err(Reason::OutputMixed {
                readers: self.readers(node),
            });
        }
        Ok(())
    }

    /// Explains why an input that should come from a DequantizeLinear does not.
    pub fn float_input(&self, node: usize, slot: usize) -> Reason {
        let sim = self.sim;
        let tensor = sim.input(node, slot);
        let source = match tensor {
            None => "nowhere (the input is omitted)".to_string(),
            Some(t) => match sim.producer(t) {
                Some(p) => match sim.node_ref(p) {
                    Some(r) => r.to_string(),
                    None => "an op ORT inserts".to_string(),
                },
                None if sim.tensor(t).constant => "a float constant".to_string(),
                None => "a graph input".to_string(),
            },
        };
        Reason::FloatInput {
            slot,
            tensor: self.input_name(node, slot),
            source,
        }
    }

    fn input_name(&self, node: usize, slot: usize) -> String {
        self.sim
            .input(node, slot)
            .map(|t| self.sim.tensor(t).name.clone())
            .unwrap_or_default()
    }

    /// Lists the readers of a node's outputs for messages: at most three, then a count.
    pub fn readers(&self, node: usize) -> String {
        let sim = self.sim;
        let mut names: Vec<String> = Vec::new();
        let outputs: Vec<usize> = sim
            .node(node)
            .map(|n| n.outputs.iter().flatten().copied().collect())
            .unwrap_or_default();
        for &out in &outputs {
            for reader in sim.uses(out) {
                let name = sim
                    .node_ref(reader.node)
                    .map_or_else(|| "an op ORT inserts".to_string(), |r| r.to_string());
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if outputs.iter().any(|&t| sim.tensor(t).graph_output) {
            names.push("the graph output".to_string());
        }
        if names.is_empty() {
            return "nothing".to_string();
        }
        let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        let mut text = shown.join(", ");
        if names.len() > shown.len() {
            text.push_str(&format!(" and {} more", names.len() - shown.len()));
        }
        text
    }

    /// Element type of the data a DequantizeLinear reads.
    pub fn dq_type(&self, dq: usize) -> Result<DataType, Reason> {
        let tensor = self.sim.input(dq, 0).unwrap_or(usize::MAX);
        self.known_type(tensor)
    }

    /// Element type a QuantizeLinear writes.
    pub fn q_type(&self, q: usize) -> Result<DataType, Reason> {
        let tensor = self.sim.output(q, 0).unwrap_or(usize::MAX);
        self.known_type(tensor)
    }

    fn known_type(&self, tensor: usize) -> Result<DataType, Reason> {
        self.sim.dtype(tensor).ok_or_else(|| Reason::UnknownType {
            tensor: self.sim.tensor(tensor).name.clone(),
        })
    }

    /// Explains why the data a DequantizeLinear reads is int8: it names the QuantizeLinear
    /// before it (maybe behind data-movement ops) and why ORT left that one int8.
    pub fn dq_cause(&self, dq: usize) -> Option<Int8Cause> {
        let sim = self.sim;
        let mut tensor = sim.input(dq, 0)?;
        if sim.dtype(tensor) != Some(DataType::Int8) {
            return None;
        }
        for _ in 0..sim.nodes.len() {
            let Some(producer) = sim.producer(tensor) else {
                break;
            };
            if sim.is_q(producer) {
                return self.q_cause(producer);
            }
            match sim.input(producer, 0) {
                Some(input) => tensor = input,
                None => break,
            }
        }
        Some(Int8Cause::NotQuantized {
            tensor: sim.tensor(sim.input(dq, 0)?).name.clone(),
        })
    }

    /// Returns the reason a QuantizeLinear writes int8, if ORT left it int8.
    pub fn q_cause(&self, q: usize) -> Option<Int8Cause> {
        let skip = self.skipped.get(&q)?.clone();
        Some(Int8Cause::Quantize {
            q: self.sim.node_ref(q),
            skip,
        })
    }

    /// Reason for differing input and output types, naming the int8 side's cause.
    pub fn mismatch(&self, dq: usize, q: usize, input: DataType, output: DataType) -> Reason {
        let cause = if input == DataType::Int8 {
            self.dq_cause(dq)
        } else if output == DataType::Int8 {
            self.q_cause(q)
        } else {
            None
        };
        Reason::TypeMismatch {
            input,
            output,
            cause: cause.map(Box::new),
        }
    }

    /// Reason for two inputs of different types, naming the int8 one's cause.
    pub fn inputs_differ(&self, dqs: [usize; 2], types: [DataType; 2]) -> Reason {
        let [first_dq, second_dq] = dqs;
        let [first, second] = types;
        let cause = if first == DataType::Int8 {
            self.dq_cause(first_dq)
        } else if second == DataType::Int8 {
            self.dq_cause(second_dq)
        } else {
            None
        };
        Reason::InputTypesDiffer {
            first,
            second,
            cause: cause.map(Box::new),
        }
    }
}

/// Rejects 16-bit types unless allowed, and 4-bit types always.
pub fn check_width(dtype: DataType, allow_16bit: bool) -> Result<(), Reason> {
    let bits16 = matches!(dtype, DataType::Int16 | DataType::UInt16);
    let bits4 = matches!(dtype, DataType::Int4 | DataType::UInt4);
    if bits4 || (bits16 && !allow_16bit) {
        return Err(Reason::UnsupportedType { dtype });
    }
    Ok(())
}
