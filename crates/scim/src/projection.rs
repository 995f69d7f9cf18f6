//! `attributes` and `excludedAttributes` (RFC 7644 section 3.4.2.5): which attributes of a
//! resource a response carries. `id` and `schemas` are always returned.

use serde_json::{Map, Value};

use crate::filter::AttrPath;
use crate::schemas::{GROUP, USER};

const ALWAYS: [&str; 2] = ["id", "schemas"];

fn core(path: &AttrPath) -> bool {
    path.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(USER) || s.eq_ignore_ascii_case(GROUP))
}

/// The object `path` lives in, by the key that names it in `resource` (`None`: the resource).
fn scope_key(object: &Map<String, Value>, path: &AttrPath) -> Option<Option<String>> {
    if core(path) {
        return Some(None);
    }
    let schema = path.schema.as_deref()?;
    object.keys().find(|k| k.eq_ignore_ascii_case(schema)).cloned().map(Some)
}

/// True when `path` names extension `key` as a whole (`attributes=urn:...:User` lists the
/// extension URN itself, which the parser reads as a schema-less attribute name).
fn names_extension(path: &AttrPath, key: &str) -> bool {
    let whole = path.to_string();
    whole.eq_ignore_ascii_case(key)
}

/// Keeps only the attributes `wanted` (plus `id` and `schemas`).
pub fn keep_only(resource: &mut Value, wanted: &[AttrPath]) {
    let Some(object) = resource.as_object_mut() else { return };
    let original = std::mem::take(object);
    for (key, value) in original {
        if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&key)) {
            object.insert(key, value);
            continue;
        }
        if key.contains(':') {
            // An extension: keep the attributes of it that are asked for.
            if wanted.iter().any(|p| names_extension(p, &key)) {
                object.insert(key, value);
                continue;
            }
            let inner: Vec<&AttrPath> =
                wanted.iter().filter(|p| p.schema.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&key))).collect();
            if let (false, Value::Object(ext)) = (inner.is_empty(), value) {
                let kept = select(ext, &inner);
                if !kept.is_empty() {
                    object.insert(key, Value::Object(kept));
                }
            }
            continue;
        }
        let paths: Vec<&AttrPath> = wanted.iter().filter(|p| core(p) && p.name.eq_ignore_ascii_case(&key)).collect();
        if paths.is_empty() {
            continue;
        }
        if paths.iter().any(|p| p.sub_attr.is_none()) {
            object.insert(key, value);
        } else {
            object.insert(key, narrow(value, &paths));
        }
    }
}

fn select(ext: Map<String, Value>, wanted: &[&AttrPath]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in ext {
        let paths: Vec<&AttrPath> = wanted.iter().copied().filter(|p| p.name.eq_ignore_ascii_case(&key)).collect();
        if paths.is_empty() {
            continue;
        }
        if paths.iter().any(|p| p.sub_attr.is_none()) {
            out.insert(key, value);
        } else {
            out.insert(key, narrow(value, &paths));
        }
    }
    out
}

/// A complex value (or each of a multi-valued one) with only the sub-attributes named.
fn narrow(value: Value, paths: &[&AttrPath]) -> Value {
    let keep = |o: Map<String, Value>| -> Value {
        Value::Object(
            o.into_iter()
                .filter(|(k, _)| paths.iter().any(|p| p.sub_attr.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k))))
                .collect(),
        )
    };
    match value {
        Value::Object(o) => keep(o),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|i| if let Value::Object(o) = i { keep(o) } else { i }).collect())
        }
        other => other,
    }
}

/// Removes the attributes `excluded` (never `id` or `schemas`).
pub fn exclude(resource: &mut Value, excluded: &[AttrPath]) {
    let Some(object) = resource.as_object_mut() else { return };
    for path in excluded {
        if core(path) && ALWAYS.iter().any(|a| path.is(a)) {
            continue;
        }
        if let Some(k) = object.keys().find(|k| names_extension(path, k)).cloned() {
            object.remove(&k);
            continue;
        }
        let Some(scope) = scope_key(object, path) else { continue };
        let target = match scope {
            None => Some(&mut *object),
            Some(k) => object.get_mut(&k).and_then(Value::as_object_mut),
        };
        let Some(target) = target else { continue };
        let Some(key) = target.keys().find(|k| k.eq_ignore_ascii_case(&path.name)).cloned() else { continue };
        match &path.sub_attr {
            None => {
                target.remove(&key);
            }
            Some(sub) => {
                let strip = |o: &mut Map<String, Value>| o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                match target.get_mut(&key) {
                    Some(Value::Object(o)) => strip(o),
                    Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).for_each(strip),
                    _ => {}
                }
            }
        }
    }
}

/// Whether the response needs `name` at all (so that members are not loaded for nothing).
pub fn wants(name: &str, attributes: &[AttrPath], excluded: &[AttrPath]) -> bool {
    let named = |p: &AttrPath| core(p) && p.name.eq_ignore_ascii_case(name);
    if !attributes.is_empty() {
        return attributes.iter().any(named);
    }
    !excluded.iter().any(|p| named(p) && p.sub_attr.is_none())
}
