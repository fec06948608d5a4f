//! Links with query strings, and the pager under every list.

use super::url_encode;

/// `path?key=value&…` with the pairs whose value is not empty, values percent-encoded; just
/// `path` when every value is empty.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// A page number from a query string: anything but a whole number from 1 is page 1.
pub fn page_number(raw: Option<&str>) -> u32 {
    raw.and_then(|p| p.trim().parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// Where a paged list stands: the page, how many there are, and the pages before and after.
pub struct Pager {
    pub page: u32,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` of `total` items, `per_page` to a page; `link` is a page's address. From past
    /// the end, "previous" is the last page.
    pub fn new(page: u32, total: u64, per_page: u32, link: impl Fn(u32) -> String) -> Pager {
        let pages = total.div_ceil(u64::from(per_page)).max(1);
        Pager {
            page,
            pages,
            prev: (page > 1).then(|| link(u64::from(page - 1).min(pages) as u32)),
            next: (u64::from(page) < pages).then(|| link(page + 1)),
        }
    }

    /// The first of one page, with nothing before or after.
    pub fn first() -> Pager {
        Pager {
            page: 1,
            pages: 1,
            prev: None,
            next: None,
        }
    }
}
