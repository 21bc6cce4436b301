//! `n`/`last` pagination of tag and catalog lists, and the `Link` header pointing at the next page.

use super::error::ErrorCode;
use super::query::{parse_query, percent_encode_query};

/// The pagination parameters of a list request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pagination {
    /// At most this many entries; `None` for all.
    pub n: Option<usize>,
    /// Only entries sorting after this one.
    pub last: Option<String>,
}

/// Why the pagination parameters are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaginationError {
    #[error("n={value:?} is not a number of results")]
    InvalidNumber { value: String },
}

impl PaginationError {
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::PaginationNumberInvalid
    }
}

impl Pagination {
    /// Reads `n` and `last` from a query string (without the `?`). An empty `last` means none.
    pub fn from_query(query: &str) -> Result<Pagination, PaginationError> {
        let mut pagination = Pagination::default();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "n" => {
                    pagination.n =
                        Some(value.parse().map_err(|_| PaginationError::InvalidNumber {
                            value: value.clone(),
                        })?)
                }
                "last" if !value.is_empty() => pagination.last = Some(value),
                _ => {}
            }
        }
        Ok(pagination)
    }
}

/// One page of a sorted list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    pub entries: &'a [String],
    /// The `last` to ask for the next page with, when more entries follow.
    pub next_last: Option<&'a str>,
}

/// The page of `sorted` (ascending, no duplicates) that `pagination` selects.
pub fn paginate<'a>(sorted: &'a [String], pagination: &Pagination) -> Page<'a> {
    let start = match &pagination.last {
        Some(last) => sorted.partition_point(|entry| entry.as_str() <= last.as_str()),
        None => 0,
    };
    let remaining = &sorted[start..];
    let take = pagination.n.unwrap_or(remaining.len()).min(remaining.len());
    let entries = &remaining[..take];
    let next_last = if take < remaining.len() {
        entries.last().map(String::as_str)
    } else {
        None
    };
    Page { entries, next_last }
}

/// The `Link` header value for the next page: `</v2/<name>/tags/list?n=N&last=X>; rel="next"`.
/// `path` is the list's path (for example `/v2/_catalog`).
pub fn next_link(path: &str, n: usize, last: &str) -> String {
    format!(
        "<{path}?n={n}&last={}>; rel=\"next\"",
        percent_encode_query(last)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        fn check(query: &str, expected: Result<(Option<usize>, Option<&str>), ()>) {
            let parsed = Pagination::from_query(query)
                .map(|p| (p.n, p.last))
                .map_err(|_| ());
            let expected = expected.map(|(n, last)| (n, last.map(str::to_owned)));
            assert_eq!(parsed, expected, "{query}");
        }
        check("", Ok((None, None)));
        check("n=2", Ok((Some(2), None)));
        check("n=0&last=", Ok((Some(0), None)));
        check(
            "n=5&last=library%2Fnginx",
            Ok((Some(5), Some("library/nginx"))),
        );
        check("last=b&other=1", Ok((None, Some("b"))));
        check("n=-1", Err(()));
        check("n=two", Err(()));
        check("n=", Err(()));
        assert_eq!(
            Pagination::from_query("n=x").unwrap_err().error_code(),
            ErrorCode::PaginationNumberInvalid
        );
    }

    #[test]
    fn pages() {
        let list: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        fn check(
            list: &[String],
            n: Option<usize>,
            last: Option<&str>,
            entries: &[&str],
            next: Option<&str>,
        ) {
            let page = paginate(
                list,
                &Pagination {
                    n,
                    last: last.map(str::to_owned),
                },
            );
            assert_eq!(page.entries, entries, "n={n:?} last={last:?}");
            assert_eq!(page.next_last, next, "n={n:?} last={last:?}");
        }
        check(&list, None, None, &["a", "b", "c", "d"], None);
        check(&list, Some(2), None, &["a", "b"], Some("b"));
        check(&list, Some(2), Some("b"), &["c", "d"], None);
        check(&list, Some(3), Some("b"), &["c", "d"], None);
        check(&list, Some(1), Some("bb"), &["c"], Some("c"));
        check(&list, None, Some("d"), &[], None);
        check(&list, Some(0), None, &[], None);
        check(&[], Some(5), None, &[], None);
    }

    #[test]
    fn link() {
        assert_eq!(
            next_link("/v2/_catalog", 2, "library/nginx"),
            "</v2/_catalog?n=2&last=library%2Fnginx>; rel=\"next\""
        );
        assert_eq!(
            next_link("/v2/a/tags/list", 10, "v1.0"),
            "</v2/a/tags/list?n=10&last=v1.0>; rel=\"next\""
        );
    }
}
