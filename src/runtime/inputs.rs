//! Building the input tensors of a run from the model's declared inputs, `--shape`, `--input`
//! and a seed.

use std::collections::BTreeMap;

use super::npy::read_npy;
use super::protocol::InputSpec;
use super::results::InputInfo;
use super::tensor::{ElementType, HostTensor, SplitMix64, random_tensor};

/// An input or output as a session declares it: element type, and shape with `-1` for
/// dimensions that are not fixed.
#[derive(Clone, Debug, PartialEq)]
pub struct Declared {
    pub name: String,
    /// The element type, or why qlint cannot handle it.
    pub element_type: Result<ElementType, String>,
    pub shape: Vec<i64>,
}

/// Builds one tensor per declared input, in declaration order.
///
/// Inputs named in `spec.files` are read from `.npy` files and must match the declared element
/// type and fixed dimensions. The others get seeded random values (see
/// [`super::tensor::random_tensor`]) of the shape given in `spec.shapes`, or of the declared
/// shape with every dimension that is not fixed set to 1. One generator runs over the inputs in
/// order, so the same model and seed always give the same tensors.
pub fn build_inputs(
    declared: &[Declared],
    spec: &InputSpec,
) -> Result<Vec<(InputInfo, HostTensor)>, String> {
    check_names(declared, "--shape", &spec.shapes)?;
    check_names(declared, "--input", &spec.files)?;
    let mut rng = SplitMix64::new(spec.seed);
    let mut built = Vec::with_capacity(declared.len());
    for input in declared {
        let element_type = input
            .element_type
            .clone()
            .map_err(|e| format!("input `{}`: {e}", input.name))?;
        let (tensor, file) = match spec.files.get(&input.name) {
            Some(path) => {
                let tensor = read_npy(path)?;
                let found = tensor.data.element_type();
                if found != element_type {
                    return Err(format!(
                        "{}: holds {found} values but input `{}` is {element_type}",
                        path.display(),
                        input.name
                    ));
                }
                check_shape(&input.shape, &tensor.shape).map_err(|e| {
                    format!(
                        "{}: shape does not fit input `{}`: {e}",
                        path.display(),
                        input.name
                    )
                })?;
                (tensor, Some(path.clone()))
            }
            None => {
                let shape = match spec.shapes.get(&input.name) {
                    Some(given) => {
                        check_shape(&input.shape, given)
                            .map_err(|e| format!("--shape {}: {e}", input.name))?;
                        given.clone()
                    }
                    None => input
                        .shape
                        .iter()
                        .map(|&d| if d < 0 { 1 } else { d })
                        .collect(),
                };
                let tensor = random_tensor(element_type, &shape, &mut rng)
                    .map_err(|e| format!("input `{}`: {e}", input.name))?;
                (tensor, None)
            }
        };
        let info = InputInfo {
            name: input.name.clone(),
            element_type,
            shape: tensor.shape.clone(),
            file,
        };
        built.push((info, tensor));
    }
    Ok(built)
}

fn check_names<T>(
    declared: &[Declared],
    option: &str,
    given: &BTreeMap<String, T>,
) -> Result<(), String> {
    for name in given.keys() {
        if !declared.iter().any(|d| &d.name == name) {
            let known: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "{option} {name}: the model has no input `{name}` (its inputs: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Checks that `actual` has the declared rank, the declared size in every fixed dimension, and
/// no negative dimension.
fn check_shape(declared: &[i64], actual: &[i64]) -> Result<(), String> {
    if let Some(bad) = actual.iter().find(|&&d| d < 0) {
        return Err(format!("dimension {bad} is negative"));
    }
    // NOTE: ONNX Runtime reports an input of unknown rank with no dimensions, so qlint cannot
    // tell it from a scalar and accepts any shape for it.
    if declared.is_empty() {
        return Ok(());
    }
    if declared.len() != actual.len() {
        return Err(format!(
            "expected {} dimensions {}, got {} ({})",
            declared.len(),
            format_shape(declared),
            actual.len(),
            format_shape(actual)
        ));
    }
    for (index, (&want, &got)) in declared.iter().zip(actual).enumerate() {
        if want >= 0 && want != got {
            return Err(format!(
                "dimension {index} is fixed to {want} in the model, got {got} ({} vs {})",
                format_shape(declared),
                format_shape(actual)
            ));
        }
    }
    Ok(())
}

/// Formats a shape as `1x3x?x?`, with `?` for dimensions that are not fixed.
pub fn format_shape(shape: &[i64]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    shape
        .iter()
        .map(|&d| if d < 0 { "?".into() } else { d.to_string() })
        .collect::<Vec<_>>()
        .join("x")
}

/// Parses `1x3x224x224` (also `1,3,224,224`) into dimensions.
pub fn parse_shape(text: &str) -> Result<Vec<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(['x', 'X', ','])
        .map(|part| {
            part.trim()
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| format!("invalid dimension `{part}` in shape `{text}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::runtime::tensor::Buffer;

    fn input(name: &str, element_type: ElementType, shape: &[i64]) -> Declared {
        Declared {
            name: name.into(),
            element_type: Ok(element_type),
            shape: shape.to_vec(),
        }
    }

    fn corpus_input() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus/convnet/input.npy")
    }

    #[test]
    fn symbolic_dims_become_one() {
        let declared = [input("x", ElementType::Float32, &[-1, 3, 8, 8])];
        let built = build_inputs(&declared, &InputSpec::default());
        let shapes: Vec<Vec<i64>> = built
            .unwrap_or_default()
            .iter()
            .map(|(_, t)| t.shape.clone())
            .collect();
        assert_eq!(shapes, [vec![1, 3, 8, 8]]);
    }

    #[test]
    fn shape_option_sets_symbolic_dims() {
        let declared = [input("x", ElementType::Float32, &[-1, 3, -1, -1])];
        let spec = InputSpec {
            shapes: BTreeMap::from([("x".into(), vec![2, 3, 4, 5])]),
            ..InputSpec::default()
        };
        let built = build_inputs(&declared, &spec).unwrap_or_default();
        assert_eq!(
            built.first().map(|(i, _)| i.shape.clone()),
            Some(vec![2, 3, 4, 5])
        );
        assert_eq!(built.first().map(|(_, t)| t.data.len()), Some(120));
    }

    #[test]
    fn shape_option_must_fit_fixed_dims() {
        let declared = [input("x", ElementType::Float32, &[-1, 3, 8, 8])];
        for (shape, expected) in [
            (vec![1, 4, 8, 8], "dimension 1 is fixed to 3"),
            (vec![1, 3, 8], "expected 4 dimensions"),
        ] {
            let spec = InputSpec {
                shapes: BTreeMap::from([("x".into(), shape)]),
                ..InputSpec::default()
            };
            let result = build_inputs(&declared, &spec);
            assert!(
                result.as_ref().is_err_and(|e| e.contains(expected)),
                "{result:?}"
            );
        }
    }

    #[test]
    fn unknown_input_name_is_error() {
        let declared = [input("x", ElementType::Float32, &[1])];
        let spec = InputSpec {
            shapes: BTreeMap::from([("image".into(), vec![1])]),
            ..InputSpec::default()
        };
        let result = build_inputs(&declared, &spec);
        assert!(result.is_err_and(|e| e.contains("no input `image`") && e.contains("x")));
    }

    #[test]
    fn npy_file_feeds_input() {
        let declared = [input("x", ElementType::Float32, &[-1, 3, 32, 32])];
        let spec = InputSpec {
            files: BTreeMap::from([("x".into(), corpus_input())]),
            ..InputSpec::default()
        };
        let built = build_inputs(&declared, &spec).unwrap_or_default();
        let Some((info, tensor)) = built.first() else {
            panic!("no input built");
        };
        assert_eq!(info.file, Some(corpus_input()));
        assert_eq!(tensor.shape, [1, 3, 32, 32]);
        assert!(matches!(&tensor.data, Buffer::Float32(v) if v.len() == 3072));
    }

    #[test]
    fn npy_mismatch_is_error() {
        let spec = InputSpec {
            files: BTreeMap::from([("x".into(), corpus_input())]),
            ..InputSpec::default()
        };
        let int_input = [input("x", ElementType::Int64, &[1, 3, 32, 32])];
        let result = build_inputs(&int_input, &spec);
        assert!(result.is_err_and(|e| e.contains("holds float32 values but input `x` is int64")));
        let small_input = [input("x", ElementType::Float32, &[1, 3, 16, 16])];
        let result = build_inputs(&small_input, &spec);
        assert!(result.is_err_and(|e| e.contains("dimension 2 is fixed to 16")));
    }

    #[test]
    fn unsupported_element_type_names_input() {
        let declared = [Declared {
            name: "h".into(),
            element_type: Err("element type Float16 is not supported".into()),
            shape: vec![1],
        }];
        let result = build_inputs(&declared, &InputSpec::default());
        assert!(result.is_err_and(|e| e.starts_with("input `h`: element type Float16")));
    }

    #[test]
    fn parse_and_format_shapes() {
        assert_eq!(parse_shape("1x3x224x224"), Ok(vec![1, 3, 224, 224]));
        assert_eq!(parse_shape("2,5"), Ok(vec![2, 5]));
        assert_eq!(parse_shape(""), Ok(vec![]));
        assert!(parse_shape("1x-3").is_err());
        assert!(parse_shape("1xa").is_err());
        assert_eq!(format_shape(&[-1, 3, 8]), "?x3x8");
        assert_eq!(format_shape(&[]), "scalar");
    }
}
