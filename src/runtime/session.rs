//! The worker's calls into ONNX Runtime through the `ort` crate: loading the library, creating
//! sessions on the CPU execution provider, and moving tensors in and out.
//!
//! Only the worker process uses this module, so a crash inside ONNX Runtime never takes the
//! parent down.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::logging::{LogLevel, LoggerFunction};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, Outlet, Tensor, TensorElementType, ValueType};

use super::inputs::Declared;
use super::protocol::Level;
use super::tensor::{Buffer, ElementType, HostTensor};

/// Most ONNX Runtime warnings kept for the report; later ones are counted, not stored.
const MAX_WARNINGS: usize = 20;

/// Warnings ONNX Runtime logged, shared with its logging callback.
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    inner: Arc<Mutex<(Vec<String>, usize)>>,
}

impl Warnings {
    fn push(&self, message: String) {
        if let Ok(mut guard) = self.inner.lock() {
            let (kept, dropped) = &mut *guard;
            if kept.len() < MAX_WARNINGS {
                kept.push(message);
            } else {
                *dropped += 1;
            }
        }
    }

    /// Takes the kept messages, plus a line counting the dropped ones.
    pub fn take(&self) -> Vec<String> {
        let Ok(mut guard) = self.inner.lock() else {
            return Vec::new();
        };
        let (kept, dropped) = &mut *guard;
        let mut out = std::mem::take(kept);
        if *dropped > 0 {
            out.push(format!("{dropped} more warnings were not kept"));
            *dropped = 0;
        }
        out
    }
}

/// A loaded library and its environment.
pub struct Runtime {
    pub env: Environment,
    /// ONNX Runtime's build description (`ORT Build Info: git-branch=..., git-commit-id=...`).
    pub build_info: String,
    pub warnings: Warnings,
}

/// Loads the library at `path` and creates the process's one environment, logging warnings and
/// errors into [`Runtime::warnings`].
pub fn init(path: &Path) -> Result<Runtime, String> {
    let builder = ort::init_from(path).map_err(|e| e.to_string())?;
    let warnings = Warnings::default();
    let sink = warnings.clone();
    let logger: LoggerFunction = Arc::new(move |level, _category, _id, location, message| {
        if level >= LogLevel::Warning {
            sink.push(format!("{location}: {message}"));
        }
    });
    let env = builder
        .with_name("qlint")
        .with_logger(logger)
        .build()
        .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))?;
    // The custom logger starts at verbose; ORT formats fewer messages at warning level.
    env.set_log_level(LogLevel::Warning);
    Ok(Runtime {
        env,
        build_info: ort::info().trim().to_string(),
        warnings,
    })
}

/// Session settings.
#[derive(Clone, Debug, Default)]
pub struct SessionSpec<'a> {
    pub level: Option<Level>,
    pub threads: Option<usize>,
    /// Path where ONNX Runtime saves the optimized graph.
    pub save_to: Option<&'a Path>,
}

/// Creates a session for `model` on the CPU execution provider, which ONNX Runtime uses when
/// no other provider is registered.
pub fn create(runtime: &Runtime, model: &Path, spec: &SessionSpec) -> Result<Session, String> {
    let text = |e: ort::Error<_>| e.to_string();
    let mut builder = Session::builder(&runtime.env).map_err(|e| e.to_string())?;
    if let Some(level) = spec.level {
        builder = builder
            .with_optimization_level(ort_level(level))
            .map_err(text)?;
    }
    if let Some(threads) = spec.threads {
        builder = builder.with_intra_threads(threads).map_err(text)?;
    }
    if let Some(path) = spec.save_to {
        builder = builder.with_optimized_model_path(path).map_err(text)?;
    }
    builder.commit_from_file(model).map_err(|e| e.to_string())
}

fn ort_level(level: Level) -> GraphOptimizationLevel {
    match level {
        Level::DisableAll => GraphOptimizationLevel::Disable,
        Level::Basic => GraphOptimizationLevel::Level1,
        Level::Extended => GraphOptimizationLevel::Level2,
        Level::All => GraphOptimizationLevel::All,
    }
}

/// Reads the declaration of each session input or output.
pub fn declared(outlets: &[Outlet]) -> Vec<Declared> {
    outlets
        .iter()
        .map(|outlet| match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => Declared {
                name: outlet.name().to_string(),
                element_type: element_type(*ty),
                shape: shape.to_vec(),
            },
            other => Declared {
                name: outlet.name().to_string(),
                element_type: Err(format!("`{}` is not a tensor ({other:?})", outlet.name())),
                shape: Vec::new(),
            },
        })
        .collect()
}

fn element_type(ty: TensorElementType) -> Result<ElementType, String> {
    Ok(match ty {
        TensorElementType::Float32 => ElementType::Float32,
        TensorElementType::Float64 => ElementType::Float64,
        TensorElementType::Int8 => ElementType::Int8,
        TensorElementType::Uint8 => ElementType::Uint8,
        TensorElementType::Int16 => ElementType::Int16,
        TensorElementType::Uint16 => ElementType::Uint16,
        TensorElementType::Int32 => ElementType::Int32,
        TensorElementType::Uint32 => ElementType::Uint32,
        TensorElementType::Int64 => ElementType::Int64,
        TensorElementType::Uint64 => ElementType::Uint64,
        TensorElementType::Bool => ElementType::Bool,
        other => return Err(format!("element type {other} is not supported")),
    })
}

/// Copies a host tensor into an ONNX Runtime value.
pub fn to_value(tensor: &HostTensor) -> Result<DynValue, String> {
    let shape = tensor.shape.clone();
    let value = match &tensor.data {
        Buffer::Float32(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Float64(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Int8(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Uint8(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Int16(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Uint16(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Int32(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Uint32(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Int64(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Uint64(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
        Buffer::Bool(v) => Tensor::from_array((shape, v.clone())).map(Tensor::into_dyn),
    };
    value.map_err(|e| e.to_string())
}

/// Reads an output value as `f64` elements with its shape and element type.
pub fn from_value(value: &DynValue) -> Result<(ElementType, Vec<i64>, Vec<f64>), String> {
    let ValueType::Tensor { ty, .. } = value.dtype() else {
        return Err(format!("output is not a tensor ({:?})", value.dtype()));
    };
    let element_type = element_type(*ty)?;
    fn widen<T: ort::value::PrimitiveTensorElementType + Copy>(
        value: &DynValue,
        convert: fn(T) -> f64,
    ) -> Result<(Vec<i64>, Vec<f64>), String> {
        let (shape, data) = value.try_extract_tensor::<T>().map_err(|e| e.to_string())?;
        Ok((shape.to_vec(), data.iter().map(|&x| convert(x)).collect()))
    }
    let (shape, data) = match element_type {
        ElementType::Float32 => widen::<f32>(value, f64::from),
        ElementType::Float64 => widen::<f64>(value, |x| x),
        ElementType::Int8 => widen::<i8>(value, f64::from),
        ElementType::Uint8 => widen::<u8>(value, f64::from),
        ElementType::Int16 => widen::<i16>(value, f64::from),
        ElementType::Uint16 => widen::<u16>(value, f64::from),
        ElementType::Int32 => widen::<i32>(value, f64::from),
        ElementType::Uint32 => widen::<u32>(value, f64::from),
        // NOTE: 64-bit integers above 2^53 lose precision as f64, so differences between such
        // values are approximate.
        ElementType::Int64 => widen::<i64>(value, |x| x as f64),
        ElementType::Uint64 => widen::<u64>(value, |x| x as f64),
        ElementType::Bool => widen::<bool>(value, |x| f64::from(u8::from(x))),
    }?;
    Ok((element_type, shape, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_capped() {
        let warnings = Warnings::default();
        for i in 0..(MAX_WARNINGS + 3) {
            warnings.push(format!("w{i}"));
        }
        let taken = warnings.take();
        assert_eq!(taken.len(), MAX_WARNINGS + 1);
        assert_eq!(
            taken.last().map(String::as_str),
            Some("3 more warnings were not kept")
        );
        assert!(warnings.take().is_empty());
    }
}
