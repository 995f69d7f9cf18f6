//! Applies PATCH operations (RFC 7644 section 3.5.2) to a resource held as JSON.
//!
//! Users are patched this way: the stored user is rendered, patched, and read back like a PUT
//! body, so a PATCH can change exactly what a PUT can and is checked the same way. Groups are
//! not: their members are changed set-based in the database (see `service`).
//!
//! Where the RFC leaves room, IdPs decide: a `replace` or `add` through a value filter that
//! selects nothing creates the value the filter describes (Entra ID sends
//! `emails[type eq "work"].value` for a user with no work address yet), and removing a value
//! that is not there changes nothing.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, Path};
use crate::matching::matches;
use crate::patch::{OpKind, Operation};
use crate::schemas::{ENTERPRISE_USER, GROUP, USER};

/// Attributes no PATCH may change.
const READ_ONLY: [&str; 3] = ["id", "meta", "groups"];

/// Applies `ops` in order to `resource`, a JSON object.
pub fn apply(resource: &mut Value, ops: &[Operation]) -> Result<(), ScimError> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(resource, op).map_err(|e| ScimError { detail: format!("operation {}: {}", i + 1, e.detail), ..e })?;
    }
    Ok(())
}

fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object that holds `path`'s attribute: the resource, or an extension's object inside it.
fn container<'a>(
    resource: &'a mut Value,
    path: &AttrPath,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let object = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "the resource is not an object"))?;
    match &path.schema {
        Some(s) if !s.eq_ignore_ascii_case(USER) && !s.eq_ignore_ascii_case(GROUP) => {
            let key = match key_of(object, s) {
                Some(k) => k,
                None if create => {
                    object.insert(s.clone(), Value::Object(Map::new()));
                    s.clone()
                }
                None => return Ok(None),
            };
            let inner = object.get_mut(&key).and_then(Value::as_object_mut);
            match inner {
                Some(o) => Ok(Some(o)),
                None => Err(ScimError::new(ScimType::InvalidPath, format!("{s} is not an extension object"))),
            }
        }
        _ => Ok(Some(object)),
    }
}

/// An operation on the enterprise extension as a whole (`path` is its URN).
fn apply_extension(resource: &mut Value, op: &Operation) -> Result<(), ScimError> {
    let object = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "the resource is not an object"))?;
    let key = key_of(object, ENTERPRISE_USER).unwrap_or_else(|| ENTERPRISE_USER.to_owned());
    match (op.op, op.value.clone()) {
        (OpKind::Remove, _) => {
            object.remove(&key);
        }
        (_, Some(Value::Object(new))) => {
            let entry = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if op.op == OpKind::Replace || !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Some(existing) = entry.as_object_mut() {
                existing.extend(new);
            }
        }
        _ => return Err(ScimError::new(ScimType::InvalidValue, "the extension's value must be an object")),
    }
    Ok(())
}

fn apply_one(resource: &mut Value, op: &Operation) -> Result<(), ScimError> {
    let attr = match &op.path {
        Path::Attr(a) => a,
        Path::Values { attr, .. } => attr,
    };
    if matches!(op.path, Path::Attr(_)) && attr.to_string().eq_ignore_ascii_case(ENTERPRISE_USER) {
        return apply_extension(resource, op);
    }
    let core = attr.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(USER) || s.eq_ignore_ascii_case(GROUP));
    // JumpCloud repeats the id in a pathless replace: the same id is no change.
    if core && attr.is("id") && op.op != OpKind::Remove && op.value.is_some() && op.value.as_ref() == resource.get("id")
    {
        return Ok(());
    }
    if core && READ_ONLY.iter().any(|r| attr.name.eq_ignore_ascii_case(r)) {
        return Err(ScimError::new(ScimType::Mutability, format!("`{}` is read-only", attr.name)));
    }
    let value = op.value.clone().unwrap_or(Value::Null);
    let create = op.op != OpKind::Remove;
    let Some(object) = container(resource, attr, create)? else {
        return Ok(()); // removing from an extension the resource does not have
    };
    match &op.path {
        Path::Attr(path) => apply_attr(object, op.op, path, value),
        Path::Values { attr, filter, sub_attr } => {
            apply_values(object, op.op, attr, filter, sub_attr.as_deref(), value)
        }
    }
}

fn apply_attr(object: &mut Map<String, Value>, kind: OpKind, path: &AttrPath, value: Value) -> Result<(), ScimError> {
    let key = key_of(object, &path.name).unwrap_or_else(|| path.name.clone());
    if let Some(sub) = &path.sub_attr {
        let parent = object.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        if parent.is_null() {
            *parent = Value::Object(Map::new());
        }
        let Some(parent) = parent.as_object_mut() else {
            if kind == OpKind::Remove {
                return Ok(());
            }
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!("`{}` has several values: select them with a filter, as in {key}[type eq \"work\"].{sub}", key),
            ));
        };
        let sub_key = key_of(parent, sub).unwrap_or_else(|| sub.clone());
        match kind {
            OpKind::Remove => {
                parent.remove(&sub_key);
            }
            _ => {
                parent.insert(sub_key, value);
            }
        }
        if parent.is_empty() {
            object.remove(&key);
        }
        return Ok(());
    }
    match kind {
        OpKind::Remove => match (object.get_mut(&key), value) {
            // Remove the listed values only (Entra ID removes members this way).
            (Some(Value::Array(items)), Value::Array(gone)) => {
                items.retain(|item| !gone.iter().any(|g| same_value(item, g)));
            }
            _ => {
                object.remove(&key);
            }
        },
        OpKind::Add => match (object.get_mut(&key), value) {
            (Some(Value::Array(items)), Value::Array(new)) => {
                for n in new {
                    if !items.iter().any(|i| same_value(i, &n)) {
                        items.push(n);
                    }
                }
            }
            (Some(Value::Array(items)), new @ Value::Object(_)) => {
                if !items.iter().any(|i| same_value(i, &new)) {
                    items.push(new);
                }
            }
            (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
            (_, v) => {
                object.insert(key, v);
            }
        },
        OpKind::Replace => match (object.get_mut(&key), value) {
            // A complex attribute keeps the sub-attributes the value does not name.
            (Some(Value::Object(existing)), Value::Object(new)) => {
                for (k, v) in new {
                    let k = key_of(existing, &k).unwrap_or(k);
                    existing.insert(k, v);
                }
            }
            (_, v) => {
                object.insert(key, v);
            }
        },
    }
    Ok(())
}

/// Two values of a multi-valued attribute are the same when their `value`s are (or, for
/// simple values, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    let v = |x: &Value| x.as_object().and_then(|o| key_of(o, "value").and_then(|k| o.get(&k).cloned()));
    match (v(a), v(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_values(
    object: &mut Map<String, Value>,
    kind: OpKind,
    attr: &AttrPath,
    filter: &Filter,
    sub: Option<&str>,
    value: Value,
) -> Result<(), ScimError> {
    let key = key_of(object, &attr.name).unwrap_or_else(|| attr.name.clone());
    let exact = |p: &AttrPath| p.is("value") || p.is("$ref");
    let entry = object.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
    if entry.is_null() {
        *entry = Value::Array(Vec::new());
    }
    let Some(items) = entry.as_array_mut() else {
        return Err(ScimError::new(ScimType::InvalidPath, format!("`{key}` does not have several values")));
    };
    let selected: Vec<usize> = (0..items.len()).filter(|&i| matches(filter, &items[i], &exact)).collect();
    match (kind, sub) {
        (OpKind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !selected.contains(&i);
                i += 1;
                keep
            });
        }
        (OpKind::Remove, Some(sub)) => {
            for &i in &selected {
                if let Some(o) = items[i].as_object_mut()
                    && let Some(k) = key_of(o, sub)
                {
                    o.remove(&k);
                }
            }
        }
        (_, _) if selected.is_empty() => {
            let mut created = described_by(filter)
                .ok_or_else(|| ScimError::new(ScimType::NoTarget, format!("no value of `{key}` matches the filter")))?;
            match (sub, value) {
                (Some(sub), v) => {
                    created.insert(sub.to_owned(), v);
                }
                (None, Value::Object(o)) => created.extend(o),
                (None, _) => return Err(ScimError::new(ScimType::InvalidValue, "the value must be an object")),
            }
            items.push(Value::Object(created));
        }
        (OpKind::Add | OpKind::Replace, Some(sub)) => {
            for &i in &selected {
                if let Some(o) = items[i].as_object_mut() {
                    let k = key_of(o, sub).unwrap_or_else(|| sub.to_owned());
                    o.insert(k, value.clone());
                }
            }
        }
        (OpKind::Add | OpKind::Replace, None) => {
            let Value::Object(new) = value else {
                return Err(ScimError::new(ScimType::InvalidValue, "the value must be an object"));
            };
            for &i in &selected {
                if let Some(o) = items[i].as_object_mut() {
                    if kind == OpKind::Replace {
                        o.clear();
                    }
                    o.extend(new.clone());
                }
            }
        }
    }
    if items.is_empty() {
        object.remove(&key);
    }
    Ok(())
}

/// The value a filter of `eq` comparisons joined by `and` describes, e.g. `type eq "work"` is
/// `{"type": "work"}`; `None` for any other filter.
fn described_by(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, v) if path.sub_attr.is_none() && path.schema.is_none() => {
            let value = match v {
                CompValue::Null => return None,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            let mut m = Map::new();
            m.insert(path.name.clone(), value);
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = described_by(a)?;
            m.extend(described_by(b)?);
            Some(m)
        }
        _ => None,
    }
}
