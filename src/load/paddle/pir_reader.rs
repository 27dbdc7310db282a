//! Walker over the PIR JSON tree: flattens nested regions into a list of parameters, block
//! arguments and ops, and reports structure errors with the JSON path of the offending element.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::pir_values;
use crate::error::LoadError;
use crate::graph::{Attr, DataType, Dim, bounded_name};

/// Short dialect ids of the current serializer (`schema.cc`, `DialectIdMap`).
const DIALECT_IDS: [(&str, &str); 5] = [
    ("0", "builtin"),
    ("1", "pd_op"),
    ("2", "cf"),
    ("3", "custom_op"),
    ("4", "dist"),
];

/// A value a block argument or op result declares.
pub struct ValueDecl {
    pub id: i64,
    pub dtype: Option<DataType>,
    pub shape: Option<Vec<Dim>>,
}

/// One item of the flattened program, in file order.
pub enum Item {
    Parameter { name: String, value: ValueDecl },
    BlockArg(ValueDecl),
    Op(Op),
}

pub struct Op {
    pub domain: String,
    pub op_type: String,
    pub scope: String,
    pub inputs: Vec<i64>,
    pub outputs: Vec<ValueDecl>,
    pub attrs: BTreeMap<String, Attr>,
}

/// Walks the JSON tree, flattening nested regions, and reports structure errors with the JSON
/// path of the offending element.
pub struct Reader<'a> {
    path: &'a Path,
    items: Vec<Item>,
}

impl<'a> Reader<'a> {
    /// Starts a walk over the program read from `path`.
    pub fn new(path: &'a Path) -> Self {
        Reader {
            path,
            items: Vec::new(),
        }
    }

    /// Flattens `program.regions` of the root object. The first block of the first region is
    /// the main graph (scope `""`); any other top-level block is scoped by its id.
    pub fn program(mut self, root: &Value) -> Result<Vec<Item>, LoadError> {
        let regions = self.array(root, &["program", "regions"], "")?;
        for (r, region) in regions.iter().enumerate() {
            let at = format!("program.regions[{r}]");
            let blocks = self.array(region, &["blocks"], &at)?;
            for (b, block) in blocks.iter().enumerate() {
                let scope = if r == 0 && b == 0 {
                    String::new()
                } else {
                    block_name(block, r, b)
                };
                self.block(block, &scope, &format!("{at}.blocks[{b}]"))?;
            }
        }
        Ok(self.items)
    }

    fn error(&self, at: &str, message: &str) -> LoadError {
        LoadError::new(self.path, format!("invalid PIR program at {at}: {message}"))
    }

    /// Follows `keys` from `value` and requires an array there.
    fn array<'v>(
        &self,
        value: &'v Value,
        keys: &[&str],
        at: &str,
    ) -> Result<&'v [Value], LoadError> {
        let mut current = value;
        let mut location = at.to_string();
        for key in keys {
            if !location.is_empty() {
                location.push('.');
            }
            location.push_str(key);
            current = current
                .get(key)
                .ok_or_else(|| self.error(&location, "missing"))?;
        }
        current
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.error(&location, "expected an array"))
    }

    fn block(&mut self, block: &Value, scope: &str, at: &str) -> Result<(), LoadError> {
        for key in ["args", "kwargs"] {
            if block.get(key).is_some() {
                for (i, arg) in self.array(block, &[key], at)?.iter().enumerate() {
                    let value = self.value(arg, &format!("{at}.{key}[{i}]"))?;
                    self.items.push(Item::BlockArg(value));
                }
            }
        }
        for (i, op) in self.array(block, &["ops"], at)?.iter().enumerate() {
            self.op(op, scope, &format!("{at}.ops[{i}]"))?;
        }
        Ok(())
    }

    fn op(&mut self, op: &Value, scope: &str, at: &str) -> Result<(), LoadError> {
        let name = op
            .get("#")
            .and_then(Value::as_str)
            .ok_or_else(|| self.error(&format!("{at}.#"), "missing op name"))?;
        let (domain, op_type) = split_op_name(name);
        if name == "p" || (domain == "builtin" && op_type == "parameter") {
            return self.parameter(op, at);
        }

        let item = Op {
            domain,
            op_type,
            scope: scope.to_string(),
            inputs: self.operands(op, at)?,
            outputs: self.results(op, at)?,
            attrs: self.attributes(op, at)?,
        };
        let index = self.items.len();
        self.items.push(Item::Op(item));

        // Nested ops follow their parent, which names their scopes in a `regions` attribute.
        if op.get("regions").is_some() {
            let scopes = self.nested_regions(op, scope, at)?;
            if let Some(Item::Op(parent)) = self.items.get_mut(index) {
                parent
                    .attrs
                    .insert("regions".to_string(), Attr::Subgraphs(scopes));
            }
        }
        Ok(())
    }

    /// Reads the operand value ids (`I`); an op without operands may leave the key out.
    fn operands(&self, op: &Value, at: &str) -> Result<Vec<i64>, LoadError> {
        if op.get("I").is_none() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        for (i, operand) in self.array(op, &["I"], at)?.iter().enumerate() {
            let id = value_id(operand)
                .ok_or_else(|| self.error(&format!("{at}.I[{i}]"), "missing value id"))?;
            ids.push(id);
        }
        Ok(ids)
    }

    fn results(&self, op: &Value, at: &str) -> Result<Vec<ValueDecl>, LoadError> {
        let mut values = Vec::new();
        for (i, result) in self.array(op, &["O"], at)?.iter().enumerate() {
            values.push(self.value(result, &format!("{at}.O[{i}]"))?);
        }
        Ok(values)
    }

    /// Reads the attributes (`A`), a list of `{"N": name, "AT": value}` objects.
    fn attributes(&self, op: &Value, at: &str) -> Result<BTreeMap<String, Attr>, LoadError> {
        let mut attrs = BTreeMap::new();
        if op.get("A").is_none() {
            return Ok(attrs);
        }
        for (i, entry) in self.array(op, &["A"], at)?.iter().enumerate() {
            let key = entry.get("N").and_then(Value::as_str);
            let value = entry.get("AT");
            let (Some(key), Some(value)) = (key, value) else {
                let message = "expected {\"N\": name, \"AT\": value}";
                return Err(self.error(&format!("{at}.A[{i}]"), message));
            };
            attrs.insert(key.to_string(), pir_values::attr(value));
        }
        Ok(attrs)
    }

    /// Flattens the regions of an op and returns the scope of each nested block.
    fn nested_regions(
        &mut self,
        op: &Value,
        scope: &str,
        at: &str,
    ) -> Result<Vec<String>, LoadError> {
        let mut scopes = Vec::new();
        for (r, region) in self.array(op, &["regions"], at)?.iter().enumerate() {
            let region_at = format!("{at}.regions[{r}]");
            for (b, block) in self
                .array(region, &["blocks"], &region_at)?
                .iter()
                .enumerate()
            {
                let name = block_name(block, r, b);
                let nested = if scope.is_empty() {
                    name
                } else {
                    bounded_name(format!("{scope}/{name}"))
                };
                self.block(block, &nested, &format!("{region_at}.blocks[{b}]"))?;
                scopes.push(nested);
            }
        }
        Ok(scopes)
    }

    fn parameter(&mut self, op: &Value, at: &str) -> Result<(), LoadError> {
        let name = parameter_name(op)
            .ok_or_else(|| self.error(&format!("{at}.A"), "missing parameter name"))?;
        let result = match op.get("O") {
            Some(Value::Array(results)) => results.first(),
            other => other,
        };
        let result =
            result.ok_or_else(|| self.error(&format!("{at}.O"), "missing parameter value"))?;
        let value = self.value(result, &format!("{at}.O"))?;
        self.items.push(Item::Parameter { name, value });
        Ok(())
    }

    fn value(&self, value: &Value, at: &str) -> Result<ValueDecl, LoadError> {
        let id = value_id(value).ok_or_else(|| self.error(at, "missing value id"))?;
        let (dtype, shape) = value
            .get("TT")
            .map_or((None, None), pir_values::tensor_type);
        Ok(ValueDecl { id, dtype, shape })
    }
}

/// Splits `1.conv2d` or `pd_op.conv2d` into dialect name and op name at the first dot.
fn split_op_name(name: &str) -> (String, String) {
    match name.split_once('.') {
        Some((dialect, op)) => {
            let dialect = DIALECT_IDS
                .iter()
                .find(|(id, _)| *id == dialect)
                .map_or(dialect, |(_, full)| full);
            (dialect.to_string(), op.to_string())
        }
        None => (String::new(), name.to_string()),
    }
}

/// Reads the value id of a result or operand: `%` in current files, an integer `#` in older ones.
fn value_id(value: &Value) -> Option<i64> {
    value
        .get("%")
        .and_then(Value::as_i64)
        .or_else(|| value.get("#").and_then(Value::as_i64))
}

/// Reads `parameter_name`: the fourth entry of the compact `A` list, or a named attribute of an
/// older `builtin.parameter` op.
fn parameter_name(op: &Value) -> Option<String> {
    let attrs = op.get("A")?.as_array()?;
    if let Some(name) = attrs.get(3).and_then(Value::as_str) {
        return Some(name.to_string());
    }
    attrs
        .iter()
        .find(|a| a.get("N").and_then(Value::as_str) == Some("parameter_name"))
        .and_then(|a| a.get("AT")?.get("D")?.as_str())
        .map(String::from)
}

fn block_name(block: &Value, region: usize, index: usize) -> String {
    match block.get("#").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => bounded_name(id.to_string()),
        _ => format!("region_{region}/block_{index}"),
    }
}
