//! The query of a list request (RFC 7644 sections 3.4.2 and 3.9): `filter`, `startIndex`,
//! `count`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`, read from name/value
//! pairs (the URL's query string, decoded by the caller).
//!
//! Paging follows the RFC's leniency: a `startIndex` below 1 means 1, a negative `count` means
//! 0, and a `count` above the page limit is cut to it (the response says how many it holds).
//! Unknown parameters, such as Entra ID's `aadOptscim062020` flag, are ignored.

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, Filter, Path, parse_filter, parse_path};

/// Largest page served; advertised as `filter.maxResults` in the ServiceProviderConfig.
pub const MAX_COUNT: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// A list request's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: u32,
    pub count: u32,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub attributes: Vec<AttrPath>,
    pub excluded_attributes: Vec<AttrPath>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            start_index: 1,
            count: MAX_COUNT,
            sort_by: None,
            sort_order: SortOrder::default(),
            attributes: Vec::new(),
            excluded_attributes: Vec::new(),
        }
    }
}

fn attr_list(name: &str, text: &str) -> Result<Vec<AttrPath>, ScimError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match parse_path(s) {
            Ok(Path::Attr(a)) => Ok(a),
            Ok(Path::Values { .. }) => {
                Err(ScimError::new(ScimType::InvalidPath, format!("`{name}` lists attributes, not filters: `{s}`")))
            }
            Err(e) => Err(ScimError::new(ScimType::InvalidPath, format!("`{name}`: `{s}` is not an attribute: {e}"))),
        })
        .collect()
}

fn integer(name: &str, text: &str) -> Result<i64, ScimError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::new(ScimType::InvalidValue, format!("`{name}` must be an integer, not `{text}`")))
}

impl ListQuery {
    /// Reads the parameters; names are matched without regard to case, as IdPs vary.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ListQuery, ScimError> {
        let mut q = ListQuery::default();
        for (name, value) in pairs {
            match name.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(parse_filter(value)?),
                "startindex" => q.start_index = integer(name, value)?.clamp(1, i64::from(u32::MAX)) as u32,
                "count" => q.count = integer(name, value)?.clamp(0, i64::from(MAX_COUNT)) as u32,
                "sortby" => {
                    q.sort_by = attr_list(name, value)?.into_iter().next();
                }
                "sortorder" => {
                    q.sort_order = match value.to_ascii_lowercase().as_str() {
                        "ascending" | "" => SortOrder::Ascending,
                        "descending" => SortOrder::Descending,
                        _ => {
                            return Err(ScimError::new(
                                ScimType::InvalidValue,
                                format!("`sortOrder` is ascending or descending, not `{value}`"),
                            ));
                        }
                    }
                }
                "attributes" => q.attributes = attr_list(name, value)?,
                "excludedattributes" => q.excluded_attributes = attr_list(name, value)?,
                _ => {}
            }
        }
        Ok(q)
    }
}
