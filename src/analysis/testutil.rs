//! Hand-made graphs for the analysis unit tests.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::graph::{
    Attr, DataType, Dim, GraphBuilder, Model, ModelFormat, ModelMeta, NodeSpec, Payload, Stage,
    TensorData,
};

/// Builds a small ONNX-style model by tensor names.
pub struct Net {
    builder: GraphBuilder,
    format: ModelFormat,
}

impl Net {
    /// Starts an ONNX graph.
    pub fn onnx() -> Self {
        Net {
            builder: GraphBuilder::ssa(),
            format: ModelFormat::Onnx,
        }
    }

    /// Starts a Paddle program, whose variables may be written more than once.
    pub fn paddle() -> Self {
        Net {
            builder: GraphBuilder::versioned(),
            format: ModelFormat::PaddleProgram,
        }
    }

    /// Declares a graph input; a negative dim is declared unknown.
    pub fn input(&mut self, name: &str, dtype: DataType, dims: &[i64]) -> &mut Self {
        let shape = dims
            .iter()
            .map(|&d| if d < 0 { Dim::Unknown } else { Dim::Known(d) })
            .collect();
        self.builder.declare(name, Some(dtype), Some(shape));
        self.builder.mark_input(name);
        self
    }

    /// Declares a non-input variable (Paddle VarDesc); a negative dim is declared unknown.
    pub fn var(&mut self, name: &str, dtype: DataType, dims: &[i64]) -> &mut Self {
        let shape = dims
            .iter()
            .map(|&d| if d < 0 { Dim::Unknown } else { Dim::Known(d) })
            .collect();
        self.builder.declare(name, Some(dtype), Some(shape));
        self
    }

    /// Adds an initializer with integer values (any integer type).
    pub fn ints(&mut self, name: &str, dtype: DataType, dims: &[i64], values: &[i64]) -> &mut Self {
        let data = TensorData {
            dtype,
            dims: dims.to_vec(),
            payload: Payload::Ints(values.to_vec()),
        };
        self.builder.set_constant(name, Some(data));
        self
    }

    /// Adds a float initializer filled with `fill`.
    pub fn floats(&mut self, name: &str, dims: &[i64], fill: f64) -> &mut Self {
        let count = dims.iter().product::<i64>().max(0) as usize;
        let data = TensorData {
            dtype: DataType::Float32,
            dims: dims.to_vec(),
            payload: Payload::Floats(vec![fill; count]),
        };
        self.builder.set_constant(name, Some(data));
        self
    }

    /// Adds a float32 initializer with the given values.
    pub fn float_values(&mut self, name: &str, dims: &[i64], values: &[f64]) -> &mut Self {
        let data = TensorData {
            dtype: DataType::Float32,
            dims: dims.to_vec(),
            payload: Payload::Floats(values.to_vec()),
        };
        self.builder.set_constant(name, Some(data));
        self
    }

    /// Adds a node of the default domain.
    pub fn op(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, Attr)],
    ) -> &mut Self {
        self.op_in("", op, inputs, outputs, attrs)
    }

    /// Adds a node of `domain`.
    pub fn op_in(
        &mut self,
        domain: &str,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, Attr)],
    ) -> &mut Self {
        let attrs: BTreeMap<String, Attr> = attrs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        self.builder.add_node(NodeSpec {
            name: None,
            op_type: op.to_string(),
            domain: domain.to_string(),
            inputs: inputs
                .iter()
                .map(|n| (String::new(), (*n).to_string()))
                .collect(),
            outputs: outputs
                .iter()
                .map(|n| (String::new(), (*n).to_string()))
                .collect(),
            attrs,
            scope: String::new(),
        });
        self
    }

    /// Adds a Paddle op with named slots.
    pub fn paddle_op(
        &mut self,
        op: &str,
        inputs: &[(&str, &str)],
        outputs: &[(&str, &str)],
        attrs: &[(&str, Attr)],
    ) -> &mut Self {
        let attrs: BTreeMap<String, Attr> = attrs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(s, n)| ((*s).to_string(), (*n).to_string()))
                .collect()
        };
        self.builder.add_node(NodeSpec {
            op_type: op.to_string(),
            inputs: pairs(inputs),
            outputs: pairs(outputs),
            attrs,
            ..NodeSpec::default()
        });
        self
    }

    /// Finishes the model.
    pub fn model(self, stage: Stage) -> Model {
        Model {
            path: PathBuf::from("test.onnx"),
            format: self.format,
            stage,
            meta: ModelMeta::default(),
            graph: self.builder.finish(),
        }
    }
}

/// `Attr::Ints` from a slice.
pub fn ints(values: &[i64]) -> Attr {
    Attr::Ints(values.to_vec())
}
