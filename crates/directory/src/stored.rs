//! Values kept as text in the database but handled as types in Rust: an enum column (a
//! connection's status, a user's origin, a job's state) is declared once with its stored
//! spelling, and a row whose text is none of them is an error rather than a silent default.

/// A stored text that names no variant of the enum read from it: a row written by something
/// other than Portico, or by a newer version. Reading it fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} in the database")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum stored as text (variants order as declared): `as_str` gives the stored spelling, `parse` reads it back,
/// `TryFrom<String>` lets diesel rows read it with `#[diesel(deserialize_as = String)]`, and
/// serde uses the same spelling.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling stored in the database and used in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// Reads a stored or submitted spelling; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::stored::UnknownValue;

            fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
                Self::parse(&s).ok_or($crate::stored::UnknownValue { kind: stringify!($name), value: s })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use stored_enum;
