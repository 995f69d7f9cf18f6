//! Ids as types. Portico mints an id for every enterprise, user, connection, organization and
//! job; each has its own type, so a user's id cannot be passed where a connection's is
//! expected, across this crate's API and in the gateway. They are stored as text and read as
//! `&str` (through `Deref`) wherever text is what is wanted: in SQL, logs and JSON. Keys and
//! logins, the names admins type, are looked up as text and are not ids.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::db::DbConnection;

type Db = <DbConnection as diesel::Connection>::Backend;

/// Stores `$name` as text on backend `$db`, as its `String` would be.
macro_rules! as_text {
    ($name:ident, $db:ty) => {
        impl ToSql<Text, $db> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $db>) -> serialize::Result {
                <str as ToSql<Text, $db>>::to_sql(self.0.as_str(), out)
            }
        }

        impl FromSql<Text, $db> for $name {
            fn from_sql(bytes: <$db as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <String as FromSql<Text, $db>>::from_sql(bytes).map($name)
            }
        }
    };
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            diesel::AsExpression,
            diesel::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = Text)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        as_text!($name, Db);
        as_text!($name, diesel::pg::Pg);
        as_text!($name, diesel::sqlite::Sqlite);
    };
}

id_type! {
    /// An enterprise (a tenant), as Portico names it internally; see [`EnterpriseKey`] for the
    /// name in URLs.
    EnterpriseId
}

id_type! {
    /// An enterprise's URL-safe key, unique and fixed once created. Unlike the other names
    /// admins type, it crosses every layer (URLs, sign-in, audit), so it has its own type.
    EnterpriseKey
}

id_type! {
    /// A person of an enterprise, whatever their origin.
    UserId
}

id_type! {
    /// An SSO connection.
    ConnectionId
}

id_type! {
    /// An organization of an enterprise.
    OrganizationId
}

id_type! {
    /// A background job.
    JobId
}
