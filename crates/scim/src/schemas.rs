//! The schema URNs Portico serves and reads (RFC 7643 section 8.7, RFC 7644 section 3.5.2).

/// Core User.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (employee number, department, manager...).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A list response.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

use serde_json::{Value, json};

use crate::filter::AttrPath;

/// An attribute's type (RFC 7643 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
}

impl AttrType {
    fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// One attribute of a schema, as Portico keeps and serves it.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    /// Whether string values compare exactly (ids) or without case (names, addresses).
    pub case_exact: bool,
    /// `readWrite`, `readOnly`, `immutable` or `writeOnly`.
    pub mutability: &'static str,
    /// `always`, `default`, `request` or `never`.
    pub returned: &'static str,
    /// `none` or `server`.
    pub uniqueness: &'static str,
    /// For references: the resource types they may point to (`User`, `Group`).
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<Attribute>,
}

fn attr(name: &'static str, kind: AttrType) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        reference_types: &[],
        sub_attributes: Vec::new(),
    }
}

impl Attribute {
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn read_only(mut self) -> Self {
        self.mutability = "readOnly";
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = "server";
        self
    }
    fn on_request(mut self) -> Self {
        self.returned = "request";
        self
    }
    fn always(mut self) -> Self {
        self.returned = "always";
        self
    }
    fn to(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    fn with(mut self, subs: Vec<Attribute>) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// The attribute's definition in a Schemas response.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "description": "",
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.reference_types.is_empty()
            && let Some(map) = v.as_object_mut()
        {
            map.insert("referenceTypes".into(), self.reference_types.iter().map(|t| Value::from(*t)).collect());
        }
        if !self.sub_attributes.is_empty()
            && let Some(map) = v.as_object_mut()
        {
            map.insert("subAttributes".into(), self.sub_attributes.iter().map(Attribute::to_json).collect());
        }
        v
    }
}

/// A schema Portico serves: its URN, name and attributes.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The schema's document (RFC 7643 section 7), as `/Schemas` serves it.
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": location},
        })
    }

    /// The attribute `path` names (names without regard to case), sub-attribute included.
    pub fn find(&self, path: &AttrPath) -> Option<&Attribute> {
        let top = self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(&path.name))?;
        match &path.sub_attr {
            None => Some(top),
            Some(sub) => top.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(sub)),
        }
    }
}

/// Attributes every resource has (RFC 7643 section 3.1): `id` and `externalId`, both compared
/// exactly.
fn common() -> Vec<Attribute> {
    vec![
        attr("id", AttrType::String).exact().read_only().always().unique(),
        attr("externalId", AttrType::String).exact(),
    ]
}

fn multi_valued_strings(name: &'static str) -> Attribute {
    attr(name, AttrType::Complex).multi().with(vec![
        attr("value", AttrType::String),
        attr("display", AttrType::String),
        attr("type", AttrType::String),
        attr("primary", AttrType::Boolean),
    ])
}

/// The core User schema, as far as Portico keeps it.
pub fn user() -> Schema {
    let mut attributes = common();
    attributes.extend([
        attr("userName", AttrType::String).required().unique(),
        attr("name", AttrType::Complex).with(vec![
            attr("formatted", AttrType::String),
            attr("familyName", AttrType::String),
            attr("givenName", AttrType::String),
        ]),
        attr("displayName", AttrType::String),
        attr("title", AttrType::String),
        attr("active", AttrType::Boolean),
        multi_valued_strings("emails"),
        attr("groups", AttrType::Complex).multi().read_only().with(vec![
            attr("value", AttrType::String).exact().read_only(),
            attr("$ref", AttrType::Reference).exact().read_only().to(&["User", "Group"]),
            attr("display", AttrType::String).read_only(),
        ]),
    ]);
    Schema { id: USER, name: "User", description: "A person of the enterprise", attributes }
}

/// The enterprise User extension, as far as Portico keeps it.
pub fn enterprise_user() -> Schema {
    Schema {
        id: ENTERPRISE_USER,
        name: "EnterpriseUser",
        description: "Enterprise attributes of a person",
        attributes: vec![
            attr("employeeNumber", AttrType::String),
            attr("department", AttrType::String),
            attr("manager", AttrType::Complex).with(vec![
                attr("value", AttrType::String).exact(),
                attr("$ref", AttrType::Reference).exact().to(&["User"]),
                attr("displayName", AttrType::String).read_only(),
            ]),
        ],
    }
}

/// The core Group schema.
pub fn group() -> Schema {
    let mut attributes = common();
    attributes.extend([
        attr("displayName", AttrType::String).required(),
        attr("members", AttrType::Complex).multi().with(vec![
            attr("value", AttrType::String).exact().unique(),
            attr("$ref", AttrType::Reference).exact().to(&["User"]),
            attr("display", AttrType::String).read_only().on_request(),
            attr("type", AttrType::String).read_only().on_request(),
        ]),
    ]);
    Schema { id: GROUP, name: "Group", description: "A group pushed by the IdP", attributes }
}

/// Whether strings of the attribute at `path` compare exactly, for a resource with `core`
/// schema (and, for users, the enterprise extension). Unknown attributes compare without case.
pub fn case_exact(core: &Schema, path: &AttrPath) -> bool {
    let schema_is = |s: &str| path.schema.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(s));
    // Built once: this runs for every comparison of every resource a filter is tried on.
    static ENTERPRISE: std::sync::LazyLock<Schema> = std::sync::LazyLock::new(enterprise_user);
    let found = if schema_is(ENTERPRISE_USER) {
        ENTERPRISE.find(path).map(|a| a.case_exact)
    } else {
        core.find(path).map(|a| a.case_exact)
    };
    found.unwrap_or(false)
}
