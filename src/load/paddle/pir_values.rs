//! Conversion of PIR JSON types (`TT`) and attributes (`AT`) to qlint's element types, shapes
//! and [`Attr`] values.
//!
//! Both are objects `{"#": "<dialect>.<name>", "D": data}`. The dialect part is a numeric id
//! in current files (`0` builtin, `1` pd_op) and a dialect name in older ones, so only the part
//! after the first dot is compared. Layout: Paddle `serialize_utils.h` (commit 0ab6998c).
//! Unknown kinds do not fail the load: a type becomes "unknown" and an attribute its JSON text.

use serde_json::Value;

use crate::graph::{Attr, DataType, Dim};

/// Returns the kind of a type or attribute object: the part of `#` after the dialect prefix.
pub fn kind(object: &Value) -> Option<&str> {
    let id = object.get("#")?.as_str()?;
    Some(id.split_once('.').map_or(id, |(_, name)| name))
}

/// Element type and shape of a value type. Dense tensors (`t_dtensor`) and the other tensor
/// kinds carry `D = [dtype, dims, ...]`; a bare element type has no shape; vectors and unknown
/// kinds give neither.
pub fn tensor_type(ty: &Value) -> (Option<DataType>, Option<Vec<Dim>>) {
    let Some(name) = kind(ty) else {
        return (None, None);
    };
    if let Some(dtype) = element_type(name) {
        return (dtype, None);
    }
    match name {
        "t_dtensor"
        | "t_selected_rows"
        | "t_dtensor_array"
        | "t_sparse_coo_tensor"
        | "t_sparse_csr_tensor" => {
            let data = ty.get("D").and_then(Value::as_array);
            let dtype = data
                .and_then(|d| d.first())
                .and_then(kind)
                .and_then(element_type)
                .flatten();
            let shape = data
                .and_then(|d| d.get(1))
                .and_then(Value::as_array)
                .map(|dims| {
                    dims.iter()
                        .map(|d| match d.as_i64() {
                            Some(v) if v >= 0 => Dim::Known(v),
                            _ => Dim::Unknown,
                        })
                        .collect()
                });
            (dtype, shape)
        }
        _ => (None, None),
    }
}

/// Maps a builtin element type name. The outer `None` means "not an element type"; the inner
/// one is `t_undefined`.
fn element_type(name: &str) -> Option<Option<DataType>> {
    let dtype = match name {
        "t_bool" => DataType::Bool,
        "t_i8" => DataType::Int8,
        "t_ui8" => DataType::UInt8,
        "t_i16" => DataType::Int16,
        "t_i32" => DataType::Int32,
        "t_i64" | "t_index" => DataType::Int64,
        "t_f16" => DataType::Float16,
        "t_bf16" => DataType::BFloat16,
        "t_f32" => DataType::Float32,
        "t_f64" => DataType::Float64,
        "t_c64" => DataType::Complex64,
        "t_c128" => DataType::Complex128,
        "t_f8e4m3fn" => DataType::Float8E4M3FN,
        "t_f8e5m2" => DataType::Float8E5M2,
        "t_undefined" => return Some(None),
        _ => return None,
    };
    Some(Some(dtype))
}

/// Converts an attribute value object (`AT`).
pub fn attr(value: &Value) -> Attr {
    let data = value.get("D");
    let converted = match kind(value) {
        Some("a_bool") => data.and_then(json_bool).map(Attr::Bool),
        Some("a_i32" | "a_i64" | "a_index") => data.and_then(Value::as_i64).map(Attr::Int),
        Some("a_f32" | "a_f64") => float(value).map(Attr::Float),
        Some("a_str") => data
            .and_then(Value::as_str)
            .map(|s| Attr::Str(s.to_string())),
        Some("a_array") => data.and_then(Value::as_array).map(|items| array(items)),
        Some("a_intarray") => data.and_then(Value::as_array).and_then(|items| {
            let ints: Option<Vec<i64>> = items.iter().map(Value::as_i64).collect();
            ints.map(Attr::Ints)
        }),
        Some("a_scalar") => data.and_then(Value::as_array).and_then(|d| scalar(d)),
        _ => None,
    };
    converted.unwrap_or_else(|| Attr::Other(text(data.unwrap_or(value))))
}

/// Reads a float attribute; NaN and infinities are written as `"VD": "NaN" | "INF" | "-INF"`.
fn float(value: &Value) -> Option<f64> {
    if let Some(number) = value.get("D").and_then(Value::as_f64) {
        return Some(number);
    }
    match value.get("VD")?.as_str()? {
        "NaN" => Some(f64::NAN),
        "INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn json_bool(value: &Value) -> Option<bool> {
    value.as_bool().or_else(|| value.as_i64().map(|v| v != 0))
}

/// Converts an `a_array` by the kind of its elements; an empty array becomes `Ints([])`.
fn array(items: &[Value]) -> Attr {
    let converted: Vec<Attr> = items.iter().map(attr).collect();
    let all = |test: fn(&Attr) -> bool| converted.iter().all(test);
    if all(|a| matches!(a, Attr::Int(_))) {
        Attr::Ints(converted.iter().filter_map(Attr::as_i64).collect())
    } else if all(|a| matches!(a, Attr::Int(_) | Attr::Float(_))) {
        Attr::Floats(converted.iter().filter_map(Attr::as_f64).collect())
    } else if all(|a| matches!(a, Attr::Bool(_))) {
        Attr::Bools(converted.iter().filter_map(Attr::as_bool).collect())
    } else if all(|a| matches!(a, Attr::Str(_))) {
        Attr::Strs(
            converted
                .iter()
                .filter_map(|a| a.as_str().map(String::from))
                .collect(),
        )
    } else {
        Attr::Other(text(&Value::Array(items.to_vec())))
    }
}

/// Converts an `a_scalar` payload `[dtype name, value]` (complex: `[dtype, real, imag]`).
fn scalar(data: &[Value]) -> Option<Attr> {
    let dtype = data.first()?.as_str()?;
    let value = data.get(1)?;
    if dtype.starts_with("complex") {
        return None;
    }
    if dtype == "bool" {
        return json_bool(value).map(Attr::Bool);
    }
    if dtype.contains("float") {
        return value.as_f64().map(Attr::Float);
    }
    value
        .as_i64()
        .map(Attr::Int)
        .or_else(|| value.as_f64().map(Attr::Float))
}

/// Renders a string value as it is and anything else as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dense_tensor_type_converts() {
        let ty = json!({"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 3, 8, 8], "NCHW", [], 0]});
        let (dtype, shape) = tensor_type(&ty);
        assert_eq!(dtype, Some(DataType::Float32));
        assert_eq!(
            shape,
            Some(vec![
                Dim::Unknown,
                Dim::Known(3),
                Dim::Known(8),
                Dim::Known(8)
            ])
        );
    }

    #[test]
    fn older_dialect_names_convert() {
        let ty = json!({"#": "builtin.t_dtensor", "D": [{"#": "builtin.t_ui8"}, [4]]});
        assert_eq!(
            tensor_type(&ty),
            (Some(DataType::UInt8), Some(vec![Dim::Known(4)]))
        );
        let at = json!({"#": "builtin.a_i32", "D": 3});
        assert_eq!(attr(&at), Attr::Int(3));
    }

    #[test]
    fn vector_and_null_types_are_unknown() {
        assert_eq!(tensor_type(&json!({"#": "0.t_vec", "D": []})), (None, None));
        assert_eq!(tensor_type(&json!({"#": "NULL"})), (None, None));
        assert_eq!(tensor_type(&json!(17)), (None, None));
    }

    #[test]
    fn scalar_attr_kinds_convert() {
        let cases = [
            (json!({"#": "0.a_bool", "D": true}), Attr::Bool(true)),
            (json!({"#": "0.a_i32", "D": -1}), Attr::Int(-1)),
            (json!({"#": "0.a_i64", "D": 1i64 << 40}), Attr::Int(1 << 40)),
            (json!({"#": "0.a_f32", "D": 0.5}), Attr::Float(0.5)),
            (
                json!({"#": "0.a_str", "D": "NCHW"}),
                Attr::Str("NCHW".into()),
            ),
            (
                json!({"#": "1.a_intarray", "D": [1, -1]}),
                Attr::Ints(vec![1, -1]),
            ),
            (
                json!({"#": "1.a_scalar", "D": ["float32", 2.0]}),
                Attr::Float(2.0),
            ),
            (json!({"#": "1.a_scalar", "D": ["int64", 7]}), Attr::Int(7)),
            (
                json!({"#": "1.a_scalar", "D": ["bool", true]}),
                Attr::Bool(true),
            ),
            (
                json!({"#": "1.a_dtype", "D": "float32"}),
                Attr::Other("float32".into()),
            ),
            (
                json!({"#": "1.a_place", "D": [0, 0, ""]}),
                Attr::Other("[0,0,\"\"]".into()),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(attr(&value), expected, "{value}");
        }
    }

    #[test]
    fn void_data_floats_convert() {
        let nan = attr(&json!({"#": "0.a_f32", "VD": "NaN"}));
        assert!(matches!(nan, Attr::Float(v) if v.is_nan()));
        assert_eq!(
            attr(&json!({"#": "0.a_f64", "VD": "-INF"})),
            Attr::Float(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn arrays_convert_by_element_kind() {
        let ints =
            json!({"#": "0.a_array", "D": [{"#": "0.a_i32", "D": 1}, {"#": "0.a_i64", "D": 2}]});
        assert_eq!(attr(&ints), Attr::Ints(vec![1, 2]));
        let bools = json!({"#": "0.a_array", "D": [{"#": "0.a_bool", "D": false}]});
        assert_eq!(attr(&bools), Attr::Bools(vec![false]));
        let strs = json!({"#": "0.a_array", "D": [{"#": "0.a_str", "D": "x"}]});
        assert_eq!(attr(&strs), Attr::Strs(vec!["x".into()]));
        let mixed =
            json!({"#": "0.a_array", "D": [{"#": "0.a_i32", "D": 1}, {"#": "0.a_f32", "D": 0.5}]});
        assert_eq!(attr(&mixed), Attr::Floats(vec![1.0, 0.5]));
        let empty = json!({"#": "0.a_array", "D": []});
        assert_eq!(attr(&empty), Attr::Ints(vec![]));
        let odd = json!({"#": "0.a_array", "D": [{"#": "0.a_bool", "D": true}, {"#": "0.a_str", "D": "x"}]});
        assert!(matches!(attr(&odd), Attr::Other(_)));
    }
}
