//! Paged listings (`/v2/_catalog`, `/v2/<name>/tags/list`): the `Link: <...>; rel="next"` header that
//! points at the next page, resolved against the page it came with.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// Pages followed at most, so that a registry whose links go round in circles cannot hold a caller.
pub(crate) const MAX_PAGES: usize = 10_000;

/// The next page's URL, if the response links one.
pub(crate) fn next_page(headers: &HeaderMap, current: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_link)
        .and_then(|target| current.join(&target).ok())
}

/// The target of the `rel="next"` link in one `Link` header value.
pub(crate) fn next_link(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params_and_more = &after[close + 1..];
        // Parameters run to the next link (`, <`) or the end.
        let params_end = params_and_more.find('<').unwrap_or(params_and_more.len());
        let params = &params_and_more[..params_end];
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &params_and_more[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_and_resolved() {
        assert_eq!(
            next_link(r#"</v2/app/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/app/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel="prev", <https://x/next?a=1,2>; rel=next"#)
                .as_deref(),
            Some("https://x/next?a=1,2")
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);

        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            r#"</prefix/v2/_catalog?n=2&last=b>; rel="next""#.parse().unwrap(),
        );
        let current = Url::parse("http://127.0.0.1:5000/prefix/v2/_catalog?n=2").unwrap();
        assert_eq!(
            next_page(&headers, &current).unwrap().as_str(),
            "http://127.0.0.1:5000/prefix/v2/_catalog?n=2&last=b"
        );
    }
}
