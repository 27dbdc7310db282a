//! Conversion of ProgramDesc operator attributes (`OpDesc.Attr`) to [`Attr`].
//!
//! The `type` field names the value field that contains the value. Files from other writers may
//! leave `type` out or point it at an empty field, so the converter then falls back to
//! whichever value field is set.

use super::proto::{OpDescAttr, Scalar, attr_type, scalar_type};
use crate::graph::Attr;

/// Converts one attribute. When no value field is set, a known singular type gives its proto2
/// default (0, 0.0, "", false) and anything else becomes `Attr::Other("")`.
pub fn convert(attr: &OpDescAttr) -> Attr {
    attr.r#type
        .and_then(|code| by_type(attr, code))
        .or_else(|| first_set(attr))
        .or_else(|| attr.r#type.and_then(type_default))
        .unwrap_or_else(|| Attr::Other(String::new()))
}

/// Returns the proto2 default of a singular attribute type whose field is absent.
fn type_default(code: i32) -> Option<Attr> {
    match code {
        attr_type::INT | attr_type::LONG => Some(Attr::Int(0)),
        attr_type::FLOAT | attr_type::FLOAT64 => Some(Attr::Float(0.0)),
        attr_type::STRING | attr_type::VAR => Some(Attr::Str(String::new())),
        attr_type::BOOLEAN => Some(Attr::Bool(false)),
        _ => None,
    }
}

/// Reads the field that `code` names. Repeated kinds always succeed (an empty list is a valid
/// value); singular kinds return `None` when their field is absent.
fn by_type(attr: &OpDescAttr, code: i32) -> Option<Attr> {
    let value = match code {
        attr_type::INT => Attr::Int(i64::from(attr.i?)),
        attr_type::LONG => Attr::Int(attr.l?),
        attr_type::FLOAT => Attr::Float(f64::from(attr.f?)),
        attr_type::FLOAT64 => Attr::Float(attr.float64?),
        attr_type::STRING => Attr::Str(attr.s.clone()?),
        attr_type::BOOLEAN => Attr::Bool(attr.b?),
        attr_type::BLOCK => Attr::Subgraph(block_scope(attr.block_idx?)),
        attr_type::VAR => Attr::Str(attr.var_name.clone()?),
        attr_type::SCALAR => scalar(attr.scalar.as_ref()?),
        attr_type::INTS => ints(attr),
        attr_type::LONGS => Attr::Ints(attr.longs.clone()),
        attr_type::FLOATS => floats(attr),
        attr_type::FLOAT64S => Attr::Floats(attr.float64s.clone()),
        attr_type::STRINGS => Attr::Strs(attr.strings.clone()),
        attr_type::BOOLEANS => Attr::Bools(attr.bools.clone()),
        attr_type::BLOCKS => blocks(attr),
        attr_type::VARS => Attr::Strs(attr.vars_name.clone()),
        attr_type::SCALARS => scalars(&attr.scalars),
        _ => return None,
    };
    Some(value)
}

/// Reads the first value field that is present, singular fields first.
fn first_set(attr: &OpDescAttr) -> Option<Attr> {
    if let Some(s) = &attr.scalar {
        return Some(scalar(s));
    }
    let singular = [
        attr.i.map(|v| Attr::Int(i64::from(v))),
        attr.l.map(Attr::Int),
        attr.f.map(|v| Attr::Float(f64::from(v))),
        attr.float64.map(Attr::Float),
        attr.s.clone().map(Attr::Str),
        attr.b.map(Attr::Bool),
        attr.block_idx.map(|i| Attr::Subgraph(block_scope(i))),
        attr.var_name.clone().map(Attr::Str),
    ];
    if let Some(found) = singular.into_iter().flatten().next() {
        return Some(found);
    }
    let repeated = [
        (!attr.scalars.is_empty()).then(|| scalars(&attr.scalars)),
        (!attr.ints.is_empty()).then(|| ints(attr)),
        (!attr.longs.is_empty()).then(|| Attr::Ints(attr.longs.clone())),
        (!attr.floats.is_empty()).then(|| floats(attr)),
        (!attr.float64s.is_empty()).then(|| Attr::Floats(attr.float64s.clone())),
        (!attr.strings.is_empty()).then(|| Attr::Strs(attr.strings.clone())),
        (!attr.bools.is_empty()).then(|| Attr::Bools(attr.bools.clone())),
        (!attr.blocks_idx.is_empty()).then(|| blocks(attr)),
        (!attr.vars_name.is_empty()).then(|| Attr::Strs(attr.vars_name.clone())),
    ];
    repeated.into_iter().flatten().next()
}

/// Returns the scope name that nodes of block `index` carry (`block1`, `block2`, ...).
pub fn block_scope(index: impl std::fmt::Display) -> String {
    format!("block{index}")
}

fn ints(attr: &OpDescAttr) -> Attr {
    Attr::Ints(attr.ints.iter().map(|&v| i64::from(v)).collect())
}

fn floats(attr: &OpDescAttr) -> Attr {
    Attr::Floats(attr.floats.iter().map(|&v| f64::from(v)).collect())
}

fn blocks(attr: &OpDescAttr) -> Attr {
    Attr::Subgraphs(attr.blocks_idx.iter().map(|&i| block_scope(i)).collect())
}

/// Converts a `Scalar` by its type, falling back to the field that is set.
fn scalar(value: &Scalar) -> Attr {
    let by_type = match value.r#type {
        Some(scalar_type::BOOLEAN) => value.b.map(Attr::Bool),
        Some(scalar_type::LONG) => value.i.map(Attr::Int),
        Some(scalar_type::FLOAT64) => value.r.map(Attr::Float),
        Some(scalar_type::COMPLEX128) => value.c.as_ref().map(complex_text),
        _ => None,
    };
    by_type
        .or_else(|| value.b.map(Attr::Bool))
        .or_else(|| value.i.map(Attr::Int))
        .or_else(|| value.r.map(Attr::Float))
        .or_else(|| value.c.as_ref().map(complex_text))
        .unwrap_or_else(|| Attr::Other(String::new()))
}

fn complex_text(c: &super::proto::Complex) -> Attr {
    Attr::Other(format!(
        "complex({}, {})",
        c.r.unwrap_or_default(),
        c.i.unwrap_or_default()
    ))
}

/// Converts a scalar list to `Ints`, `Floats` (when any element is a float) or `Bools`; a
/// list that mixes booleans with numbers or contains complex values becomes text.
fn scalars(values: &[Scalar]) -> Attr {
    let converted: Vec<Attr> = values.iter().map(scalar).collect();
    if converted.iter().all(|a| matches!(a, Attr::Int(_))) {
        return Attr::Ints(converted.iter().filter_map(Attr::as_i64).collect());
    }
    if converted
        .iter()
        .all(|a| matches!(a, Attr::Int(_) | Attr::Float(_)))
    {
        return Attr::Floats(converted.iter().filter_map(Attr::as_f64).collect());
    }
    if converted.iter().all(|a| matches!(a, Attr::Bool(_))) {
        return Attr::Bools(converted.iter().filter_map(Attr::as_bool).collect());
    }
    let parts: Vec<String> = converted.iter().map(|a| format!("{a:?}")).collect();
    Attr::Other(format!("[{}]", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(code: i32) -> OpDescAttr {
        OpDescAttr {
            name: Some("a".into()),
            r#type: Some(code),
            ..OpDescAttr::default()
        }
    }

    #[test]
    fn singular_types_convert() {
        let cases = [
            (
                OpDescAttr {
                    i: Some(-1),
                    ..typed(attr_type::INT)
                },
                Attr::Int(-1),
            ),
            (
                OpDescAttr {
                    l: Some(1 << 40),
                    ..typed(attr_type::LONG)
                },
                Attr::Int(1 << 40),
            ),
            (
                OpDescAttr {
                    f: Some(0.5),
                    ..typed(attr_type::FLOAT)
                },
                Attr::Float(0.5),
            ),
            (
                OpDescAttr {
                    float64: Some(0.1),
                    ..typed(attr_type::FLOAT64)
                },
                Attr::Float(0.1),
            ),
            (
                OpDescAttr {
                    s: Some("x".into()),
                    ..typed(attr_type::STRING)
                },
                Attr::Str("x".into()),
            ),
            (
                OpDescAttr {
                    b: Some(true),
                    ..typed(attr_type::BOOLEAN)
                },
                Attr::Bool(true),
            ),
            (
                OpDescAttr {
                    block_idx: Some(2),
                    ..typed(attr_type::BLOCK)
                },
                Attr::Subgraph("block2".into()),
            ),
            (
                OpDescAttr {
                    var_name: Some("v".into()),
                    ..typed(attr_type::VAR)
                },
                Attr::Str("v".into()),
            ),
        ];
        for (attr, expected) in cases {
            assert_eq!(convert(&attr), expected, "{attr:?}");
        }
    }

    #[test]
    fn repeated_types_convert() {
        let cases = [
            (
                OpDescAttr {
                    ints: vec![1, 2],
                    ..typed(attr_type::INTS)
                },
                Attr::Ints(vec![1, 2]),
            ),
            (
                OpDescAttr {
                    longs: vec![3],
                    ..typed(attr_type::LONGS)
                },
                Attr::Ints(vec![3]),
            ),
            (
                OpDescAttr {
                    floats: vec![0.5],
                    ..typed(attr_type::FLOATS)
                },
                Attr::Floats(vec![0.5]),
            ),
            (
                OpDescAttr {
                    float64s: vec![0.25],
                    ..typed(attr_type::FLOAT64S)
                },
                Attr::Floats(vec![0.25]),
            ),
            (
                OpDescAttr {
                    strings: vec!["s".into()],
                    ..typed(attr_type::STRINGS)
                },
                Attr::Strs(vec!["s".into()]),
            ),
            (
                OpDescAttr {
                    bools: vec![false],
                    ..typed(attr_type::BOOLEANS)
                },
                Attr::Bools(vec![false]),
            ),
            (
                OpDescAttr {
                    blocks_idx: vec![1, 3],
                    ..typed(attr_type::BLOCKS)
                },
                Attr::Subgraphs(vec!["block1".into(), "block3".into()]),
            ),
            (
                OpDescAttr {
                    vars_name: vec!["a".into()],
                    ..typed(attr_type::VARS)
                },
                Attr::Strs(vec!["a".into()]),
            ),
            (typed(attr_type::INTS), Attr::Ints(vec![])),
        ];
        for (attr, expected) in cases {
            assert_eq!(convert(&attr), expected, "{attr:?}");
        }
    }

    #[test]
    fn scalar_types_convert() {
        let scalar = |t: i32, b: Option<bool>, i: Option<i64>, r: Option<f64>| Scalar {
            r#type: Some(t),
            b,
            i,
            r,
            c: None,
        };
        let one = |s: Scalar| OpDescAttr {
            scalar: Some(s),
            ..typed(attr_type::SCALAR)
        };
        assert_eq!(
            convert(&one(scalar(scalar_type::BOOLEAN, Some(true), None, None))),
            Attr::Bool(true)
        );
        assert_eq!(
            convert(&one(scalar(scalar_type::LONG, None, Some(7), None))),
            Attr::Int(7)
        );
        assert_eq!(
            convert(&one(scalar(scalar_type::FLOAT64, None, None, Some(1.5)))),
            Attr::Float(1.5)
        );
        let list = OpDescAttr {
            scalars: vec![
                scalar(scalar_type::LONG, None, Some(2), None),
                scalar(scalar_type::FLOAT64, None, None, Some(0.5)),
            ],
            ..typed(attr_type::SCALARS)
        };
        assert_eq!(convert(&list), Attr::Floats(vec![2.0, 0.5]));
    }

    #[test]
    fn missing_type_uses_set_field() {
        let attr = OpDescAttr {
            l: Some(9),
            ..OpDescAttr::default()
        };
        assert_eq!(convert(&attr), Attr::Int(9));
        let attr = OpDescAttr {
            floats: vec![1.0],
            ..OpDescAttr::default()
        };
        assert_eq!(convert(&attr), Attr::Floats(vec![1.0]));
    }

    #[test]
    fn inconsistent_type_uses_set_field() {
        // Declared INT but only the string field is present.
        let attr = OpDescAttr {
            s: Some("max".into()),
            ..typed(attr_type::INT)
        };
        assert_eq!(convert(&attr), Attr::Str("max".into()));
        // An unknown type code.
        let attr = OpDescAttr {
            b: Some(false),
            ..typed(99)
        };
        assert_eq!(convert(&attr), Attr::Bool(false));
    }

    #[test]
    fn empty_attr_is_other() {
        assert_eq!(convert(&OpDescAttr::default()), Attr::Other(String::new()));
    }

    #[test]
    fn absent_singular_field_is_default() {
        assert_eq!(convert(&typed(attr_type::INT)), Attr::Int(0));
        assert_eq!(convert(&typed(attr_type::BOOLEAN)), Attr::Bool(false));
        assert_eq!(
            convert(&typed(attr_type::SCALAR)),
            Attr::Other(String::new())
        );
    }
}
