//! `search` as Docker does it: the term names the registry (`host[:port]/term`) or means Docker Hub's
//! index; the registry's mirrors (docker.io's `registry-mirrors`, hoist's `mirrors` for others, as the
//! registry client resolves them) are asked first, in order, and the registry itself when all fail;
//! Docker's filters (`stars`, `is-official`, the deprecated `is-automated`) and limit. A place without
//! Docker Hub's v1 search (distribution answers 404) is searched by filtering its catalog instead.

use hoist_registry_client::{RegistryClient, RegistryError, SearchResult, Via};

use crate::{OpsError, Settings};

/// Results asked for when no limit is given.
pub const DEFAULT_LIMIT: usize = 25;
/// The largest limit Docker accepts.
pub const MAX_LIMIT: usize = 100;
/// The `--filter` keys `search` understands.
pub const SEARCH_FILTERS: &[&str] = &["is-automated", "is-official", "stars"];

const DOCKER_HUB: &str = "docker.io";

/// Why a search failed; worded as Docker words each case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// A `--filter` argument without `=`.
    #[error(
        "invalid argument {argument:?} for \"-f, --filter\" flag: bad format of filter (expected name=value)"
    )]
    FilterFormat { argument: String },
    /// A filter key search does not know.
    #[error("invalid filter '{key}'")]
    UnknownFilter { key: String },
    /// A boolean filter with no, or contradictory, true/false values.
    #[error("invalid filter '{key}=[{}]'", values.join(" "))]
    InvalidBool { key: String, values: Vec<String> },
    /// `stars=` with something that is not an integer.
    #[error("invalid filter 'stars={value}': strconv.Atoi: parsing {value:?}: invalid syntax")]
    InvalidStars { value: String },
    #[error("invalid repository name: repository name ({term}) should not have a scheme")]
    Scheme { term: String },
    #[error("limit {limit} is outside the range of [1, {MAX_LIMIT}]")]
    Limit { limit: usize },
    // Messages quote their cause, so none is also given as `source` (it would be printed twice).
    /// The registry client could not be set up from the settings.
    #[error("{0}")]
    Client(Box<OpsError>),
    /// The registry's search failed.
    #[error("{}", registry_failure(registry, error))]
    Registry {
        registry: String,
        error: Box<RegistryError>,
    },
    /// The registry has no v1 search, and its catalog could not be listed either.
    #[error(
        "searching {registry}: it has no search endpoint ({search}), and listing its catalog failed: {catalog}"
    )]
    NoSearch {
        registry: String,
        search: Box<RegistryError>,
        catalog: Box<RegistryError>,
    },
    /// Every mirror failed, and then the registry itself (Docker Hub's index) did too.
    #[error("{index} (before that, {})", mirror_failures(mirrors))]
    MirrorAndIndex {
        /// Each mirror asked, in order, and how it failed.
        mirrors: Vec<(String, SearchError)>,
        index: Box<SearchError>,
    },
}

fn mirror_failures(mirrors: &[(String, SearchError)]) -> String {
    mirrors
        .iter()
        .map(|(mirror, error)| format!("the mirror {mirror} failed: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A refusal already names the registry; other failures say what was being done.
fn registry_failure(registry: &str, error: &RegistryError) -> String {
    match error {
        RegistryError::Unauthorized { .. } => error.to_string(),
        _ => format!("searching {registry}: {error}"),
    }
}

/// `--filter` for search, as Docker's daemon reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// `stars=N`: at least this many stars (the largest N given wins; 0 when only negatives were).
    pub min_stars: Option<u64>,
    /// `is-official=true|false`.
    pub is_official: Option<bool>,
    /// `is-automated=true|false`: deprecated; `true` finds nothing, as Docker Hub no longer has
    /// automated builds.
    pub is_automated: Option<bool>,
}

impl SearchFilters {
    /// Parses `key=value` arguments: keys are lower-cased and both sides trimmed, an empty argument
    /// is ignored, and values are checked as Docker checks them (`true`/`false`/`1`/`0` exactly,
    /// integers for `stars`).
    pub fn parse(arguments: &[String]) -> Result<Self, SearchError> {
        let mut by_key: Vec<(String, Vec<String>)> = Vec::new();
        for argument in arguments.iter().filter(|a| !a.is_empty()) {
            let Some((key, value)) = argument.split_once('=') else {
                return Err(SearchError::FilterFormat {
                    argument: argument.clone(),
                });
            };
            let key = key.trim().to_lowercase();
            let value = value.trim().to_owned();
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) if values.contains(&value) => {}
                Some((_, values)) => values.push(value),
                None => by_key.push((key, vec![value])),
            }
        }
        if let Some((key, _)) = by_key
            .iter()
            .find(|(key, _)| !SEARCH_FILTERS.contains(&key.as_str()))
        {
            return Err(SearchError::UnknownFilter { key: key.clone() });
        }
        let values = |key: &str| {
            by_key
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, values)| values.as_slice())
        };
        let is_automated = values("is-automated")
            .map(|v| parse_bool("is-automated", v))
            .transpose()?;
        let is_official = values("is-official")
            .map(|v| parse_bool("is-official", v))
            .transpose()?;
        let min_stars = values("stars")
            .map(|values| {
                values.iter().try_fold(0u64, |most, value| {
                    let stars = value
                        .parse::<i64>()
                        .map_err(|_| SearchError::InvalidStars {
                            value: value.clone(),
                        })?;
                    Ok(most.max(u64::try_from(stars).unwrap_or(0)))
                })
            })
            .transpose()?;
        Ok(Self {
            min_stars,
            is_official,
            is_automated,
        })
    }

    /// Whether `result` passes every filter.
    pub fn keep(&self, result: &SearchResult) -> bool {
        self.is_official.is_none_or(|o| o == result.is_official)
            && self.min_stars.is_none_or(|min| result.star_count >= min)
    }
}

/// Go's `GetBoolOrDefault`: exactly one of true (`true`, `1`) or false (`false`, `0`) must be given.
fn parse_bool(key: &str, values: &[String]) -> Result<bool, SearchError> {
    let has = |wanted: &[&str]| values.iter().any(|v| wanted.contains(&v.as_str()));
    match (has(&["true", "1"]), has(&["false", "0"])) {
        (true, false) => Ok(true),
        (false, true) => Ok(false),
        _ => Err(SearchError::InvalidBool {
            key: key.to_owned(),
            values: values.to_vec(),
        }),
    }
}

/// What to search for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// `term`, or `host[:port]/term` for another registry.
    pub term: String,
    /// At most this many results are asked for (0 means [`DEFAULT_LIMIT`]); filters apply after.
    pub limit: usize,
    pub filters: SearchFilters,
}

/// Where a term sends the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTarget {
    /// `docker.io` or `host[:port]`.
    pub registry: String,
    /// What the registry is asked for.
    pub query: String,
}

impl SearchTarget {
    /// Docker's rule: the part before the first `/` names a registry when it contains `.` or `:` or is
    /// `localhost`; otherwise the whole term goes to Docker Hub, where `library/` is dropped.
    pub fn of(term: &str) -> Self {
        let (registry, query) = match term.split_once('/') {
            Some((host, rest))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host, rest)
            }
            _ => (DOCKER_HUB, term),
        };
        let registry = match registry {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            other => other,
        };
        let query = if registry == DOCKER_HUB {
            query.strip_prefix("library/").unwrap_or(query)
        } else {
            query
        };
        Self {
            registry: registry.to_owned(),
            query: query.to_owned(),
        }
    }
}

/// How the results were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchSource {
    /// The registry's v1 search (`/v1/search`); `via` names the mirror that answered for Docker Hub.
    Search {
        registry: String,
        via: Option<String>,
    },
    /// Repository names from the registry's catalog that contain the query (no descriptions, no stars).
    Catalog {
        registry: String,
        via: Option<String>,
    },
}

/// The configured mirrors that could not answer, so the registry itself (Docker Hub's index) was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorFailure {
    /// The mirror, or with several the mirrors asked in order, separated by `, `.
    pub mirror: String,
    /// Why it failed; with several mirrors each reason follows its mirror, separated by `; `.
    pub message: String,
}

impl MirrorFailure {
    /// The summary of `failures` (in the order asked); `None` when there were none.
    fn of(failures: &[(String, SearchError)]) -> Option<Self> {
        match failures {
            [] => None,
            [(mirror, error)] => Some(Self {
                mirror: mirror.clone(),
                message: error.to_string(),
            }),
            several => Some(Self {
                mirror: several
                    .iter()
                    .map(|(mirror, _)| mirror.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: several
                    .iter()
                    .map(|(mirror, error)| format!("{mirror}: {error}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
}

/// The results of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOutcome {
    /// In the registry's order, filtered.
    pub results: Vec<SearchResult>,
    pub source: SearchSource,
    /// Set when every mirror failed and the registry itself answered; a mirror that answered after
    /// another failed is named by `source` alone.
    pub mirror_failure: Option<MirrorFailure>,
}

/// Runs a search (see the module documentation).
pub async fn search(
    settings: &Settings,
    options: &SearchOptions,
) -> Result<SearchOutcome, SearchError> {
    let filters = &options.filters;
    let target = SearchTarget::of(&options.term);
    // Docker answers this before looking at the term or the limit.
    if filters.is_automated == Some(true) {
        return Ok(SearchOutcome {
            results: Vec::new(),
            source: SearchSource::Search {
                registry: target.registry,
                via: None,
            },
            mirror_failure: None,
        });
    }
    if options.term.contains("://") {
        return Err(SearchError::Scheme {
            term: options.term.clone(),
        });
    }
    let limit = if options.limit == 0 {
        DEFAULT_LIMIT
    } else {
        options.limit
    };
    if limit > MAX_LIMIT {
        return Err(SearchError::Limit { limit });
    }
    let outcome = |results: Vec<SearchResult>, source, mirror_failure| {
        let results = results
            .into_iter()
            // Docker Hub's automated builds are gone; Docker reports none.
            .map(|result| SearchResult {
                is_automated: false,
                ..result
            })
            .filter(|result| filters.keep(result))
            .collect();
        SearchOutcome {
            results,
            source,
            mirror_failure,
        }
    };
    let client = crate::registry::client(settings).map_err(|e| SearchError::Client(Box::new(e)))?;
    // The client decides which mirrors exist (and that an endpoint override leaves none for search).
    let mut failures = Vec::new();
    for mirror in client.search_mirrors(&target.registry) {
        let via = Via::Mirror(mirror.clone());
        match search_registry(&client, &target, limit, &via).await {
            Ok((results, source)) => return Ok(outcome(results, source, None)),
            Err(error) => failures.push((mirror, error)),
        }
    }
    match search_registry(&client, &target, limit, &Via::Registry).await {
        Ok((results, source)) => Ok(outcome(results, source, MirrorFailure::of(&failures))),
        Err(index) if failures.is_empty() => Err(index),
        Err(index) => Err(SearchError::MirrorAndIndex {
            mirrors: failures,
            index: Box::new(index),
        }),
    }
}

/// The v1 search at one place (a mirror or the registry itself), or that place's catalog filtered by
/// name when it has no search.
async fn search_registry(
    client: &RegistryClient,
    target: &SearchTarget,
    limit: usize,
    at: &Via,
) -> Result<(Vec<SearchResult>, SearchSource), SearchError> {
    let registry = target.registry.clone();
    let via = match at {
        Via::Mirror(mirror) => Some(mirror.clone()),
        Via::Registry => None,
    };
    let search = match client
        .search_v1_via(&registry, at, &target.query, Some(limit))
        .await
    {
        Ok(results) => return Ok((results, SearchSource::Search { registry, via })),
        Err(error) if error.is_not_found() => Box::new(error),
        Err(error) => {
            return Err(SearchError::Registry {
                registry,
                error: Box::new(error),
            });
        }
    };
    let names = client
        .catalog_via(&registry, at, None)
        .await
        .map_err(|catalog| SearchError::NoSearch {
            registry: registry.clone(),
            search,
            catalog: Box::new(catalog),
        })?;
    Ok((
        catalog_matches(&names, &target.query, limit),
        SearchSource::Catalog { registry, via },
    ))
}

/// Repositories whose name contains `query` (ignoring case; an empty query matches all), an exact
/// match first, then in catalog order, at most `limit`, as rows without description or stars.
pub fn catalog_matches(names: &[String], query: &str, limit: usize) -> Vec<SearchResult> {
    let needle = query.trim().to_lowercase();
    let mut found: Vec<&String> = names
        .iter()
        .filter(|name| name.to_lowercase().contains(&needle))
        .collect();
    found.dedup();
    // A stable sort keeps catalog order among the rest.
    found.sort_by_key(|name| name.to_lowercase() != needle);
    found
        .into_iter()
        .take(limit)
        .map(|name| SearchResult {
            name: name.clone(),
            description: String::new(),
            star_count: 0,
            is_official: false,
            is_automated: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn result(name: &str, stars: u64, official: bool) -> SearchResult {
        SearchResult {
            name: name.to_owned(),
            description: String::new(),
            star_count: stars,
            is_official: official,
            is_automated: false,
        }
    }

    #[test]
    fn terms_name_their_registry_as_docker_splits_them() {
        for (term, registry, query) in [
            ("nginx", "docker.io", "nginx"),
            ("library/nginx", "docker.io", "nginx"),
            ("bitnami/nginx", "docker.io", "bitnami/nginx"),
            ("localhost/app", "localhost", "app"),
            ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
            ("registry.example.com/app", "registry.example.com", "app"),
            ("index.docker.io/library/busybox", "docker.io", "busybox"),
            ("127.0.0.1:5000/", "127.0.0.1:5000", ""),
        ] {
            assert_eq!(
                SearchTarget::of(term),
                SearchTarget {
                    registry: registry.to_owned(),
                    query: query.to_owned()
                },
                "{term}"
            );
        }
    }

    #[test]
    fn filters_follow_docker() {
        let f = SearchFilters::parse(&args(&[
            "stars=3",
            " Stars = 10",
            "stars=-4",
            "is-official=true",
            "",
        ]))
        .unwrap();
        assert_eq!(f.min_stars, Some(10));
        assert_eq!(f.is_official, Some(true));
        assert!(f.keep(&result("a", 10, true)));
        assert!(!f.keep(&result("a", 9, true)));
        assert!(!f.keep(&result("a", 100, false)));
        assert_eq!(
            SearchFilters::parse(&args(&["stars=-1"]))
                .unwrap()
                .min_stars,
            Some(0)
        );

        let error = |list: &[&str]| SearchFilters::parse(&args(list)).unwrap_err().to_string();
        assert_eq!(error(&["color=red"]), "invalid filter 'color'");
        assert_eq!(
            error(&["stars"]),
            "invalid argument \"stars\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        );
        assert_eq!(
            error(&["stars=many"]),
            "invalid filter 'stars=many': strconv.Atoi: parsing \"many\": invalid syntax"
        );
        assert_eq!(
            error(&["is-official=yes"]),
            "invalid filter 'is-official=[yes]'"
        );
        assert_eq!(
            error(&["is-official=true", "is-official=0"]),
            "invalid filter 'is-official=[true 0]'"
        );
        assert_eq!(
            SearchFilters::parse(&args(&["is-automated=1"]))
                .unwrap()
                .is_automated,
            Some(true)
        );
    }

    #[test]
    fn mirror_failures_name_every_mirror_in_order() {
        let failed = |limit| SearchError::Limit { limit };
        assert_eq!(MirrorFailure::of(&[]), None);
        assert_eq!(
            MirrorFailure::of(&[("http://a".to_owned(), failed(0))]),
            Some(MirrorFailure {
                mirror: "http://a".to_owned(),
                message: "limit 0 is outside the range of [1, 100]".to_owned(),
            })
        );
        let both = [
            ("http://a".to_owned(), failed(0)),
            ("http://b".to_owned(), failed(101)),
        ];
        assert_eq!(
            MirrorFailure::of(&both),
            Some(MirrorFailure {
                mirror: "http://a, http://b".to_owned(),
                message: "http://a: limit 0 is outside the range of [1, 100]; \
                          http://b: limit 101 is outside the range of [1, 100]"
                    .to_owned(),
            })
        );
        let error = SearchError::MirrorAndIndex {
            mirrors: both.into(),
            index: Box::new(failed(200)),
        };
        assert_eq!(
            error.to_string(),
            "limit 200 is outside the range of [1, 100] (before that, \
             the mirror http://a failed: limit 0 is outside the range of [1, 100]; \
             the mirror http://b failed: limit 101 is outside the range of [1, 100])"
        );
    }

    #[test]
    fn catalog_matches_put_the_exact_name_first() {
        let names = args(&["team/app", "app", "tools/apply", "other", "APP-old"]);
        let found: Vec<String> = catalog_matches(&names, "App", 10)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(found, ["app", "team/app", "tools/apply", "APP-old"]);
        assert_eq!(catalog_matches(&names, "", 2).len(), 2);
    }
}
