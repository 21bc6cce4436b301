//! `images` / `image ls`: the rows Docker shows (one per repository:tag, digests beside them), with its
//! filters, the hiding of intermediate images, and hoist's `--sort`.

use std::collections::{BTreeMap, HashSet};

use hoist_spec::{Digest, Reference, reference};
use hoist_store::ImageListing;

use crate::filters::{Filters, glob_match, parse_timestamp};
use crate::{Hoist, OpsError, lookup};

/// Filter keys `images` accepts.
pub const IMAGE_FILTERS: &[&str] = &[
    "dangling",
    "label",
    "label!",
    "before",
    "since",
    "reference",
    "until",
];

/// Orders hoist can sort by (Docker always lists newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Size,
    Repository,
    Tag,
}

impl std::str::FromStr for SortKey {
    type Err = OpsError;
    fn from_str(s: &str) -> Result<Self, OpsError> {
        match s {
            "created" => Ok(Self::Created),
            "size" => Ok(Self::Size),
            "repository" => Ok(Self::Repository),
            "tag" => Ok(Self::Tag),
            other => Err(OpsError::InvalidFilterValue(format!(
                "invalid sort key {other:?}: expected created, size, repository or tag"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    pub filters: Filters,
    /// The optional `REPOSITORY[:TAG]` argument, applied as a reference filter.
    pub reference: Option<String>,
    pub sort: Option<SortKey>,
}

/// One printed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub id: Digest,
    /// Familiar repository name, or `<none>`.
    pub repository: String,
    /// Tag, or `<none>`.
    pub tag: String,
    /// The repository digest shown with `--digests`, or `<none>`.
    pub digest: String,
    pub created: Option<i64>,
    pub size: u64,
    pub shared_size: Option<u64>,
    pub containers: Option<u64>,
}

const NONE: &str = "<none>";

/// Lists images as rows, newest first (or as `sort` says).
pub fn list_images(hoist: &Hoist, opts: &ListOptions) -> Result<Vec<ImageRow>, OpsError> {
    let now = crate::now_nanos();
    let labels = opts.filters.contains("label") || opts.filters.contains("label!");
    let listings = hoist.store.list_images_with(hoist_store::ListingDetail {
        layers: false,
        labels,
    })?;
    let dangling = opts.filters.bool("dangling")?;
    let created_of = |input: &str| -> Result<Option<i64>, OpsError> {
        let found = lookup::find_image(&hoist.store, input)?;
        Ok(listings
            .iter()
            .find(|l| l.id == found.id)
            .and_then(|l| l.created))
    };
    let mut before: Option<i64> = None;
    for v in opts.filters.get("before") {
        before = Some(created_of(v)?.unwrap_or(i64::MIN));
    }
    let mut since: Option<i64> = None;
    for v in opts.filters.get("since") {
        since = Some(created_of(v)?.unwrap_or(i64::MAX));
    }
    let until = opts
        .filters
        .get("until")
        .iter()
        .map(|v| parse_timestamp(v, now))
        .collect::<Result<Vec<_>, _>>()?;
    let mut patterns: Vec<String> = opts.filters.get("reference").to_vec();
    if let Some(r) = &opts.reference {
        patterns.push(r.clone());
    }
    let parents: HashSet<&Digest> = listings.iter().filter_map(|l| l.parent.as_ref()).collect();

    let mut images: Vec<(&ImageListing, Vec<String>)> = Vec::new();
    for l in &listings {
        let created = l.created.unwrap_or(0);
        if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
            continue;
        }
        if until.iter().any(|u| created >= *u) || !opts.filters.labels_match(&l.labels) {
            continue;
        }
        let mut tags = l.tags.clone();
        if !patterns.is_empty() {
            tags.retain(|t| patterns.iter().any(|p| reference_matches(p, t)));
            if tags.is_empty() {
                continue;
            }
        }
        let untagged = l.tags.is_empty();
        match dangling {
            Some(true) if !untagged => continue,
            Some(false) if untagged => continue,
            _ => {}
        }
        // Untagged parents of other images are intermediate build images: shown only with -a.
        if untagged
            && l.repo_digests.is_empty()
            && !opts.all
            && dangling.is_none()
            && parents.contains(&l.id)
        {
            continue;
        }
        images.push((l, tags));
    }
    images.sort_by(|a, b| {
        b.0.created
            .cmp(&a.0.created)
            .then_with(|| a.0.id.cmp(&b.0.id))
    });

    let mut rows = Vec::new();
    for (l, tags) in images {
        rows.extend(rows_for(l, &tags));
    }
    match opts.sort {
        None | Some(SortKey::Created) => {}
        Some(SortKey::Size) => rows.sort_by_key(|r| std::cmp::Reverse(r.size)),
        Some(SortKey::Repository) => {
            rows.sort_by(|a, b| a.repository.cmp(&b.repository).then(a.tag.cmp(&b.tag)))
        }
        Some(SortKey::Tag) => {
            rows.sort_by(|a, b| a.tag.cmp(&b.tag).then(a.repository.cmp(&b.repository)))
        }
    }
    Ok(rows)
}

/// Docker's `reference=` filter: the pattern matches the familiar `name:tag` or the familiar name alone.
fn reference_matches(pattern: &str, full_tag: &str) -> bool {
    let Ok(r) = Reference::parse(full_tag) else {
        return false;
    };
    glob_match(pattern, &r.familiar()) || glob_match(pattern, &r.familiar_repository())
}

fn rows_for(l: &ImageListing, tags: &[String]) -> Vec<ImageRow> {
    let row = |repository: String, tag: String, digest: String| ImageRow {
        id: l.id.clone(),
        repository,
        tag,
        digest,
        created: l.created,
        size: l.size,
        shared_size: None,
        containers: None,
    };
    // Group tags and digests by repository, as the Docker CLI's formatter does.
    let mut by_repo: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for t in tags {
        let (repo, tag) = split_stored_tag(t);
        by_repo
            .entry(familiar_of_repository(repo))
            .or_default()
            .0
            .push(tag.to_owned());
    }
    for rd in &l.repo_digests {
        by_repo
            .entry(familiar_of_repository(&rd.repository))
            .or_default()
            .1
            .push(rd.manifest.to_string());
    }
    let mut rows = Vec::new();
    for (repo, (tags, digests)) in by_repo {
        if tags.is_empty() {
            for d in digests {
                rows.push(row(repo.clone(), NONE.to_owned(), d));
            }
            continue;
        }
        for tag in tags {
            if digests.is_empty() {
                rows.push(row(repo.clone(), tag.clone(), NONE.to_owned()));
            }
            for d in &digests {
                rows.push(row(repo.clone(), tag.clone(), d.clone()));
            }
        }
    }
    if rows.is_empty() {
        rows.push(row(NONE.to_owned(), NONE.to_owned(), NONE.to_owned()));
    }
    rows
}

/// Splits a stored, normalised `domain/path:tag` into repository and tag (the colon after the last `/`).
fn split_stored_tag(full: &str) -> (&str, &str) {
    match full.rfind(':') {
        Some(i) if !full[i..].contains('/') => (&full[..i], &full[i + 1..]),
        _ => (full, NONE),
    }
}

/// `docker.io/library/nginx` → `nginx`, from a stored normalised repository name.
fn familiar_of_repository(repository: &str) -> String {
    match repository.split_once('/') {
        Some((domain, path)) => reference::familiar_repository(domain, path),
        None => repository.to_owned(),
    }
}
