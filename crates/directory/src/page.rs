//! Keyset pagination: stable under concurrent inserts, and each page is one indexed query.

use serde::Serialize;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Which page to read: at most `limit` items sorting after `after` (the `next` of the previous
/// page).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest { limit: Some(limit), after: None }
    }

    /// The effective limit, clamped to 1..=MAX_LIMIT.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// Rows to fetch: one more than the limit tells whether a next page exists.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit()) + 1
    }
}

/// One page of results; `next` is the cursor of the following page, absent on the last one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `fetch()` rows, using `cursor` to name the last item kept.
    pub(crate) fn from_rows(mut rows: Vec<T>, req: &PageRequest, cursor: impl Fn(&T) -> String) -> Self {
        let limit = req.limit() as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Page { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}
