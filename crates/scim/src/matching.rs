//! Evaluates a filter against a resource held as JSON: what PATCH needs to pick the values of a
//! multi-valued attribute (`members[value eq "42"]`, `emails[type eq "work"]`), and a reference
//! for the database's translation of list filters.
//!
//! Attribute names match without regard to case (RFC 7643 section 2.1). Whether string values
//! do is the attribute's own property (`caseExact`), which the caller answers: `userName` is
//! case-insensitive, `id` and `externalId` are case-exact. A multi-valued attribute matches when
//! any of its values does; `ne` matches when none is equal.

use serde_json::Value;

use crate::field;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schemas::{GROUP, USER};

/// Does `resource` match `filter`? `case_exact` says, per attribute, whether its strings compare
/// exactly.
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource, case_exact) && matches(b, resource, case_exact),
        Filter::Or(a, b) => matches(a, resource, case_exact) || matches(b, resource, case_exact),
        Filter::Not(f) => !matches(f, resource, case_exact),
        Filter::Present(path) => values(resource, path).iter().any(|v| present(v)),
        Filter::ValuePath(path, inner) => {
            let whole = AttrPath { schema: path.schema.clone(), name: path.name.clone(), sub_attr: None };
            values(resource, &whole).iter().any(|v| matches(inner, v, case_exact))
        }
        Filter::Compare(path, CompareOp::Ne, value) => {
            !values(resource, path).iter().any(|v| compare(v, CompareOp::Eq, value, case_exact(path)))
        }
        Filter::Compare(path, CompareOp::Eq, CompValue::Null) => !values(resource, path).iter().any(|v| present(v)),
        Filter::Compare(path, op, value) => {
            values(resource, path).iter().any(|v| compare(v, *op, value, case_exact(path)))
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The values `path` names in `resource`, with multi-valued attributes flattened.
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(object) = resource.as_object() else { return Vec::new() };
    // A core schema qualifies attributes of the resource itself; an extension's live in an
    // object under its URN.
    let base = match &path.schema {
        Some(s) if !s.eq_ignore_ascii_case(USER) && !s.eq_ignore_ascii_case(GROUP) => {
            match field(object, s).and_then(Value::as_object) {
                Some(o) => o,
                None => return Vec::new(),
            }
        }
        _ => object,
    };
    let Some(top) = field(base, &path.name) else { return Vec::new() };
    let tops: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    match &path.sub_attr {
        None => tops,
        Some(sub) => tops.into_iter().filter_map(|v| v.as_object().and_then(|o| field(o, sub))).collect(),
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::String(e)) => {
            // Lower-cased copies only when the attribute compares without case.
            let (a, e): (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>) = if case_exact {
                (a.as_str().into(), e.as_str().into())
            } else {
                (a.to_lowercase().into(), e.to_lowercase().into())
            };
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(e.as_ref()),
                CompareOp::Sw => a.starts_with(e.as_ref()),
                CompareOp::Ew => a.ends_with(e.as_ref()),
                CompareOp::Gt => a > e,
                CompareOp::Ge => a >= e,
                CompareOp::Lt => a < e,
                CompareOp::Le => a <= e,
            }
        }
        (Value::Number(a), CompValue::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Gt => a > e,
                CompareOp::Ge => a >= e,
                CompareOp::Lt => a < e,
                CompareOp::Le => a <= e,
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
            },
            _ => false,
        },
        (Value::Bool(a), CompValue::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        // Entra ID sends booleans as "True"/"False"; a stored boolean still compares with them.
        (Value::Bool(_), CompValue::String(e)) if e.eq_ignore_ascii_case("true") || e.eq_ignore_ascii_case("false") => {
            compare(actual, op, &CompValue::Bool(e.eq_ignore_ascii_case("true")), case_exact)
        }
        _ => false,
    }
}
