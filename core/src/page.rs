//! A page of a list (API.md, "Conventions": `{"data", "next_cursor"}`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows read in list order: a row past `limit` means a
    /// next page, which starts after the last row kept (`cursor_of` it).
    pub fn from_rows(mut data: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let more = data.len() > limit;
        data.truncate(limit);
        let next_cursor = if more { data.last().map(cursor_of) } else { None };
        Page { data, next_cursor }
    }
}
