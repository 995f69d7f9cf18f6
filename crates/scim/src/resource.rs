//! User and Group bodies of POST and PUT (RFC 7643 sections 4 and 8), read into what Portico
//! keeps.
//!
//! Readers are lenient where IdPs differ and strict where a mistake would lose data: attributes
//! Portico does not keep (Okta's `password`, a `groups` list, OneLogin's extras) are ignored;
//! Entra ID's `"True"`/`"False"` strings are booleans; OneLogin's SCIM 1.0 schema URNs are
//! accepted; an unknown schema, a missing `userName` or a wrongly typed value is refused with
//! the SCIM error that names it.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::field;
use crate::schemas::{ENTERPRISE_USER, GROUP, USER};

/// SCIM 1.0 URNs some IdPs (OneLogin) still send.
const USER_1_0: &str = "urn:scim:schemas:core:1.0";
const ENTERPRISE_1_0: &str = "urn:scim:schemas:extension:enterprise:1.0";
/// Entra ID lists its own schema beside the core Group schema when it creates a group; it adds
/// no attribute Portico keeps.
const ENTRA_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// Longest string kept from any attribute.
pub const MAX_VALUE_LENGTH: usize = 1024;

/// An e-mail address of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// A user as an IdP describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted_name: Option<String>,
    pub emails: Vec<Email>,
    pub active: bool,
    pub title: Option<String>,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    /// The manager's id: Entra ID may send it as a plain string instead of `{"value": ...}`.
    pub manager: Option<String>,
}

impl UserInput {
    /// The address to use: the primary one, else the work one, else the first.
    pub fn email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.iter().find(|e| e.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("work"))))
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }

    /// The name to show: displayName, else formatted, else given and family names.
    pub fn name(&self) -> Option<String> {
        self.display_name.clone().or_else(|| self.formatted_name.clone()).or_else(|| {
            let parts: Vec<&str> = [&self.given_name, &self.family_name].iter().filter_map(|p| p.as_deref()).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
    }
}

/// A group as an IdP describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member ids (the `value` of each member).
    pub members: Vec<String>,
}

fn invalid(detail: String) -> ScimError {
    ScimError::new(ScimType::InvalidValue, detail)
}

fn text(object: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() > MAX_VALUE_LENGTH => {
            Err(invalid(format!("`{name}` is longer than {MAX_VALUE_LENGTH} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(other) => Err(invalid(format!("`{name}` must be a string, not {other}"))),
    }
}

/// A boolean, also from Entra ID's `"True"`/`"False"`.
pub fn boolean(name: &str, v: &Value) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(invalid(format!("`{name}` must be true or false, not {other}"))),
    }
}

fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ScimError> {
    body.as_object().ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, format!("the {what} is not a JSON object")))
}

/// Checks `schemas`: present, listing `core`, and nothing Portico does not know.
fn check_schemas(o: &Map<String, Value>, core: &[&str], known: &[&str]) -> Result<(), ScimError> {
    let syntax = |d: String| ScimError::new(ScimType::InvalidSyntax, d);
    let list = field(o, "schemas").and_then(Value::as_array).ok_or_else(|| syntax("`schemas` is missing".into()))?;
    let mut has_core = false;
    for s in list {
        let s = s.as_str().ok_or_else(|| syntax("`schemas` lists strings".into()))?;
        if core.iter().any(|c| c.eq_ignore_ascii_case(s)) {
            has_core = true;
        } else if !known.iter().any(|k| k.eq_ignore_ascii_case(s)) {
            return Err(syntax(format!("the schema {s} is not supported")));
        }
    }
    if has_core { Ok(()) } else { Err(syntax(format!("`schemas` must contain {}", core[0]))) }
}

/// Reads a User body.
pub fn parse_user(body: &Value) -> Result<UserInput, ScimError> {
    let o = object(body, "user")?;
    check_schemas(o, &[USER, USER_1_0], &[ENTERPRISE_USER, ENTERPRISE_1_0])?;
    let user_name = text(o, "userName")?.ok_or_else(|| invalid("`userName` is required".into()))?;
    let name = match field(o, "name") {
        None => None,
        Some(Value::Object(n)) => Some(n),
        Some(other) => return Err(invalid(format!("`name` must be an object, not {other}"))),
    };
    let name_part = |part: &str| name.map_or(Ok(None), |n| text(n, part));
    let mut emails = Vec::new();
    match field(o, "emails") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let e = item.as_object().ok_or_else(|| invalid("each of `emails` must be an object".into()))?;
                let Some(value) = text(e, "value")? else { continue };
                let primary = field(e, "primary").map(|p| boolean("emails.primary", p)).transpose()?.unwrap_or(false);
                emails.push(Email { value, kind: text(e, "type")?, primary });
            }
        }
        Some(other) => return Err(invalid(format!("`emails` must be a list, not {other}"))),
    }
    let active = field(o, "active").map(|v| boolean("active", v)).transpose()?.unwrap_or(true);
    let ext = [ENTERPRISE_USER, ENTERPRISE_1_0].iter().find_map(|u| field(o, u)).and_then(Value::as_object);
    let ext_text = |name: &str| ext.map_or(Ok(None), |e| text(e, name));
    let manager = match ext.and_then(|e| field(e, "manager")) {
        None => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Object(m)) => text(m, "value")?,
        Some(other) => return Err(invalid(format!("`manager` must be an object or a string, not {other}"))),
    };
    Ok(UserInput {
        user_name,
        external_id: text(o, "externalId")?,
        display_name: text(o, "displayName")?,
        given_name: name_part("givenName")?,
        family_name: name_part("familyName")?,
        formatted_name: name_part("formatted")?,
        emails,
        active,
        title: text(o, "title")?,
        employee_number: ext_text("employeeNumber")?,
        department: ext_text("department")?,
        manager,
    })
}

/// Reads a Group body.
pub fn parse_group(body: &Value) -> Result<GroupInput, ScimError> {
    let o = object(body, "group")?;
    check_schemas(o, &[GROUP], &[ENTRA_GROUP])?;
    let display_name = text(o, "displayName")?.ok_or_else(|| invalid("`displayName` is required".into()))?;
    let mut members = Vec::new();
    let mut seen = std::collections::HashSet::new();
    match field(o, "members") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let m = item.as_object().ok_or_else(|| invalid("each of `members` must be an object".into()))?;
                let value = text(m, "value")?.ok_or_else(|| invalid("each member needs a `value`".into()))?;
                if seen.insert(value.clone()) {
                    members.push(value);
                }
            }
        }
        Some(other) => return Err(invalid(format!("`members` must be a list, not {other}"))),
    }
    Ok(GroupInput { display_name, external_id: text(o, "externalId")?, members })
}
