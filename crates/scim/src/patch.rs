//! PATCH requests (RFC 7644 section 3.5.2), read into a list of operations with parsed paths.
//!
//! What IdPs send differs: Entra ID capitalises `Add`/`Replace`/`Remove` and sends pathless
//! replaces whose keys are dotted (`name.givenName`) or qualified with a schema URN, or are the
//! extension's URN itself with an object inside; Okta sends pathless `replace {"active": false}`.
//! All of these come out the same: one operation per attribute, each with its path. Values are
//! passed on as sent; the code that applies them knows each attribute's type and reads Entra's
//! `"True"`/`"False"` strings there.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::field;
use crate::filter::{AttrPath, Path, parse_path};
use crate::schemas::{ENTERPRISE_USER, GROUP, PATCH_OP, USER};

/// Most operations read from one request; larger changes come as several requests.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation, always with a path: pathless add and replace operations are expanded into one
/// operation per attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: OpKind,
    pub path: Path,
    /// Absent for a `remove` that names its target by path alone.
    pub value: Option<Value>,
}

/// Reads a PATCH request body.
pub fn parse_patch(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let object =
        body.as_object().ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "the body is not an object"))?;
    let schemas = field(object, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP)))) {
        return Err(ScimError::new(ScimType::InvalidSyntax, format!("`schemas` must contain {PATCH_OP}")));
    }
    let ops = field(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "`Operations` must be a list"))?;
    if ops.is_empty() {
        return Err(ScimError::new(ScimType::InvalidSyntax, "`Operations` is empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(ScimType::TooMany, format!("more than {MAX_OPERATIONS} operations")));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        read_operation(op, i + 1, &mut out)?;
    }
    Ok(out)
}

fn read_operation(op: &Value, n: usize, out: &mut Vec<Operation>) -> Result<(), ScimError> {
    let syntax = |what: String| ScimError::new(ScimType::InvalidSyntax, format!("operation {n}: {what}"));
    let op = op.as_object().ok_or_else(|| syntax("not an object".into()))?;
    let kind = match field(op, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        Some("remove") => OpKind::Remove,
        Some(other) => return Err(syntax(format!("`{other}` is not an operation (add, replace, remove)"))),
        None => return Err(syntax("`op` is missing".into())),
    };
    let value = field(op, "value").cloned();
    let path = match field(op, "path") {
        None => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(p.trim()).map_err(|e| {
            ScimError::new(ScimType::InvalidPath, format!("operation {n}: the path `{p}` is not valid: {e}"))
        })?),
        Some(_) => return Err(syntax("`path` is not a string".into())),
    };
    match (kind, path, value) {
        (OpKind::Remove, None, _) => {
            Err(ScimError::new(ScimType::NoTarget, format!("operation {n}: `remove` needs a `path`")))
        }
        (OpKind::Remove, Some(path), value) => {
            out.push(Operation { op: kind, path, value });
            Ok(())
        }
        (_, _, None) => Err(ScimError::new(ScimType::InvalidValue, format!("operation {n}: `value` is missing"))),
        (_, Some(path), Some(value)) => {
            out.push(Operation { op: kind, path, value: Some(value) });
            Ok(())
        }
        (_, None, Some(Value::Object(fields))) => expand(kind, None, &fields, n, out),
        (_, None, Some(_)) => Err(ScimError::new(
            ScimType::InvalidValue,
            format!("operation {n}: without a `path`, `value` must be an object of attributes"),
        )),
    }
}

/// A pathless add/replace: one operation per key. A key that is a schema URN itself carries an
/// object of that schema's attributes.
fn expand(
    kind: OpKind,
    schema: Option<&str>,
    fields: &Map<String, Value>,
    n: usize,
    out: &mut Vec<Operation>,
) -> Result<(), ScimError> {
    for (key, value) in fields {
        if schema.is_none() && key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let known_schema = [USER, GROUP, ENTERPRISE_USER].into_iter().find(|s| key.eq_ignore_ascii_case(s));
        if let (None, Some(s), Value::Object(inner)) = (schema, known_schema, value) {
            expand(kind, Some(s), inner, n, out)?;
            continue;
        }
        let invalid = |e: String| {
            ScimError::new(ScimType::InvalidPath, format!("operation {n}: `{key}` is not an attribute: {e}"))
        };
        let path = match schema {
            Some(s) => format!("{s}:{key}"),
            None => key.clone(),
        };
        let path = match parse_path(&path).map_err(|e| invalid(e.to_string()))? {
            p @ Path::Attr(AttrPath { .. }) => p,
            Path::Values { .. } => return Err(invalid("a value filter belongs in `path`".into())),
        };
        out.push(Operation { op: kind, path, value: Some(value.clone()) });
    }
    Ok(())
}
