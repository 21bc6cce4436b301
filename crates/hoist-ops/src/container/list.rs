//! `ps`: the containers to list, filtered as Docker filters them (status, name, id, label, exited,
//! ancestor, before, since), newest first.

use crate::filters::{Filters, glob_match};
use crate::{Hoist, OpsError};

use super::{Container, Status, find};

/// Filter keys `ps` accepts.
pub const PS_FILTERS: &[&str] = &[
    "id", "name", "label", "label!", "status", "exited", "ancestor", "before", "since",
];

/// `ps` options.
#[derive(Debug, Clone, Default)]
pub struct PsOptions {
    /// `-a`: stopped containers too.
    pub all: bool,
    pub filters: Filters,
    /// `-n N` / `-l`: only the N most recently created (any state).
    pub last: Option<usize>,
    /// `-s`: compute sizes.
    pub size: bool,
}

/// A listed container with its sizes when asked for.
#[derive(Debug, Clone)]
pub struct PsRow {
    pub container: Container,
    /// (writable layer, whole root) bytes.
    pub sizes: Option<(u64, u64)>,
}

const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

pub fn list(hoist: &Hoist, opts: &PsOptions) -> Result<Vec<PsRow>, OpsError> {
    let f = &opts.filters;
    for status in f.get("status") {
        if !STATUSES.contains(&status.as_str()) {
            return Err(OpsError::InvalidFilterValue(format!(
                "Invalid filter 'status={status}'"
            )));
        }
    }
    let exited: Vec<i32> = f
        .get("exited")
        .iter()
        .map(|v| {
            v.parse()
                .map_err(|_| OpsError::InvalidFilterValue(format!("invalid filter 'exited={v}'")))
        })
        .collect::<Result<_, _>>()?;
    let ancestors: Vec<hoist_spec::Digest> = f
        .get("ancestor")
        .iter()
        .filter_map(|a| {
            crate::lookup::find_image(&hoist.store, a)
                .ok()
                .map(|found| found.id)
        })
        .collect();
    let created_of = |input: &String| find(hoist, input).map(|c| c.created);
    let before = f
        .get("before")
        .iter()
        .map(created_of)
        .collect::<Result<Vec<_>, _>>()?;
    let since = f
        .get("since")
        .iter()
        .map(created_of)
        .collect::<Result<Vec<_>, _>>()?;
    // Filtering by status or exit code implies stopped containers are wanted.
    let all = opts.all || opts.last.is_some() || f.contains("status") || f.contains("exited");

    let mut rows = Vec::new();
    for record in hoist.store.list_containers()? {
        let c = Container::from_record(record)?;
        if !all && c.state.status != Status::Running {
            continue;
        }
        if !f.get("id").is_empty() && !f.get("id").iter().any(|p| c.id.starts_with(p.as_str())) {
            continue;
        }
        if !f.get("name").is_empty()
            && !f
                .get("name")
                .iter()
                .any(|n| c.name.contains(n.trim_start_matches('/')) || glob_match(n, &c.name))
        {
            continue;
        }
        if !f.get("status").is_empty()
            && !f.get("status").iter().any(|s| s == c.state.status.as_str())
        {
            continue;
        }
        if !exited.is_empty()
            && (c.state.status != Status::Exited || !exited.contains(&c.state.exit_code))
        {
            continue;
        }
        if !f.labels_match(&c.labels()) {
            continue;
        }
        if !f.get("ancestor").is_empty() && !ancestors.contains(&c.image) {
            continue;
        }
        if before.iter().any(|b| c.created >= *b) || since.iter().any(|s| c.created <= *s) {
            continue;
        }
        rows.push(c);
    }
    if let Some(n) = opts.last {
        rows.truncate(n);
    }
    rows.into_iter()
        .map(|container| {
            let sizes = if opts.size {
                Some(hoist.store.container_sizes(&container.id)?)
            } else {
                None
            };
            Ok(PsRow { container, sizes })
        })
        .collect()
}
