//! Docker Hub's v1 search (`/v1/search?q=&n=&page=`) over the repositories the registry holds, which
//! distribution does not offer; `docker search <registry>/<term>` asks for exactly this.

use serde::{Deserialize, Serialize};

use super::query::parse_query;

/// Results per page when `n` is absent, as `docker search` asks by default.
const DEFAULT_PAGE_SIZE: usize = 25;
/// Docker Hub's largest page.
const MAX_PAGE_SIZE: usize = 100;

/// The query of a search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub q: String,
    /// Page size, 1 to 100.
    pub n: usize,
    /// Page number from 1.
    pub page: usize,
}

impl SearchQuery {
    /// Reads `q`, `n` and `page` from a query string; a missing or unusable `n` or `page` takes the
    /// default, and `n` is clamped to 1..=100 as Docker Hub does.
    pub fn from_query(query: &str) -> SearchQuery {
        let mut search = SearchQuery {
            q: String::new(),
            n: DEFAULT_PAGE_SIZE,
            page: 1,
        };
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "q" => search.q = value,
                "n" => {
                    if let Ok(n) = value.parse::<usize>() {
                        search.n = n.clamp(1, MAX_PAGE_SIZE);
                    }
                }
                "page" => {
                    if let Ok(page) = value.parse::<usize>() {
                        search.page = page.max(1);
                    }
                }
                _ => {}
            }
        }
        search
    }
}

/// Docker Hub's search response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub num_results: usize,
    pub query: String,
    pub page: usize,
    pub page_size: usize,
    pub num_pages: usize,
    pub results: Vec<SearchResult>,
}

/// One repository found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub name: String,
    pub description: String,
    pub star_count: u64,
    pub is_official: bool,
    pub is_automated: bool,
}

/// Searches repository names for `q` (case-insensitive substring; an empty `q` matches all). An exact
/// name match comes first, then names in order. `n` is the page size (clamped to 1..=100) and `page`
/// counts from 1.
pub fn search(repos: &[String], q: &str, n: usize, page: usize) -> SearchResponse {
    let page_size = n.clamp(1, MAX_PAGE_SIZE);
    let page = page.max(1);
    let needle = q.trim().to_lowercase();
    let mut found: Vec<&String> = repos
        .iter()
        .filter(|name| name.to_lowercase().contains(&needle))
        .collect();
    found.sort_by(|a, b| {
        let exact = |name: &str| name.to_lowercase() != needle;
        (exact(a), a).cmp(&(exact(b), b))
    });
    found.dedup();
    let num_results = found.len();
    let results = found
        .into_iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|name| SearchResult {
            name: name.clone(),
            description: String::new(),
            star_count: 0,
            is_official: false,
            is_automated: false,
        })
        .collect();
    SearchResponse {
        num_results,
        query: q.to_owned(),
        page,
        page_size,
        num_pages: num_results.div_ceil(page_size),
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repos() -> Vec<String> {
        [
            "library/nginx",
            "nginx",
            "tools/nginx-proxy",
            "redis",
            "team/app",
            "nginx",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn names(response: &SearchResponse) -> Vec<&str> {
        response.results.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn searching() {
        fn check(q: &str, n: usize, page: usize, expected: &[&str], total: usize, pages: usize) {
            let response = search(&repos(), q, n, page);
            assert_eq!(names(&response), expected, "{q} n={n} page={page}");
            assert_eq!(
                (response.num_results, response.num_pages),
                (total, pages),
                "{q}"
            );
        }
        check(
            "nginx",
            25,
            1,
            &["nginx", "library/nginx", "tools/nginx-proxy"],
            3,
            1,
        );
        check(
            "NGINX",
            25,
            1,
            &["nginx", "library/nginx", "tools/nginx-proxy"],
            3,
            1,
        );
        check("nginx", 2, 1, &["nginx", "library/nginx"], 3, 2);
        check("nginx", 2, 2, &["tools/nginx-proxy"], 3, 2);
        check("nginx", 2, 3, &[], 3, 2);
        check("nginx", 0, 0, &["nginx"], 3, 3);
        check(
            "",
            25,
            1,
            &[
                "library/nginx",
                "nginx",
                "redis",
                "team/app",
                "tools/nginx-proxy",
            ],
            5,
            1,
        );
        check("postgres", 25, 1, &[], 0, 0);
    }

    #[test]
    fn response_json_is_docker_hubs() {
        let response = search(&repos(), "redis", 25, 1);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({
                "num_results": 1, "query": "redis", "page": 1, "page_size": 25, "num_pages": 1,
                "results": [{"name": "redis", "description": "", "star_count": 0,
                             "is_official": false, "is_automated": false}]
            })
        );
    }

    #[test]
    fn query_parameters() {
        fn check(query: &str, q: &str, n: usize, page: usize) {
            assert_eq!(
                SearchQuery::from_query(query),
                SearchQuery {
                    q: q.to_owned(),
                    n,
                    page
                },
                "{query}"
            );
        }
        check("q=nginx&n=25", "nginx", 25, 1);
        check("q=library%2Fnginx&n=1000&page=3", "library/nginx", 100, 3);
        check("q=a+b&n=0&page=0", "a b", 1, 1);
        check("n=x&page=y", "", 25, 1);
        check("", "", 25, 1);
    }
}
