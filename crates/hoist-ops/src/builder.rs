//! `builder du` and `builder prune`: the build cache as Docker's BuildKit builder reports and prunes it.

use std::collections::HashSet;

use hoist_spec::Digest;
use hoist_store::BuildCacheRecord;

use crate::{Hoist, OpsError};

/// One build cache record as `builder du` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub record: BuildCacheRecord,
    /// No image uses the record's layer: pruning it frees its bytes.
    pub reclaimable: bool,
    /// Another record or an image shares the layer.
    pub shared: bool,
}

/// Every record, most recently used first.
pub fn disk_usage(hoist: &Hoist) -> Result<Vec<CacheEntry>, OpsError> {
    let image_layers: HashSet<Digest> = hoist
        .store
        .layer_usage()?
        .into_iter()
        .map(|u| u.layer.blob)
        .collect();
    let records = hoist.store.build_cache_records()?;
    Ok(records
        .into_iter()
        .map(|record| {
            let in_image = record
                .layer
                .as_ref()
                .is_some_and(|l| image_layers.contains(&l.blob));
            CacheEntry {
                reclaimable: !in_image,
                shared: in_image,
                record,
            }
        })
        .collect())
}

/// `builder prune` options.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// `-a`: every record, not only those no image uses.
    pub all: bool,
    /// `--filter until=`: only records last used before this (Unix nanoseconds).
    pub until: Option<i64>,
    /// `--filter id=`.
    pub ids: Vec<String>,
    /// `--filter type=`: `regular`, `source.local`, `exec.cachemount`, or `build-cache` (any).
    pub kinds: Vec<String>,
    /// `--keep-storage`: stop once the cache is at most this many bytes.
    pub keep_storage: Option<u64>,
}

/// What prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Record IDs (the key's hex), in removal order.
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// Parses `builder prune --filter` values into `opts`.
pub fn apply_filter(opts: &mut PruneOptions, filter: &str, now: i64) -> Result<(), OpsError> {
    let (key, value) = filter
        .split_once('=')
        .ok_or_else(|| OpsError::InvalidFilter(filter.to_owned()))?;
    match key {
        "until" | "unused-for" => opts.until = Some(crate::filters::parse_timestamp(value, now)?),
        "id" => opts.ids.push(value.to_owned()),
        "type" => opts.kinds.push(value.to_owned()),
        "label" | "description" | "inuse" | "mutable" | "shared" | "private" => {}
        _ => return Err(OpsError::InvalidFilter(key.to_owned())),
    }
    Ok(())
}

/// Removes build cache records and then everything only they kept (blobs, unpacked layers, cache mounts).
pub fn prune(hoist: &Hoist, opts: &PruneOptions) -> Result<PruneReport, OpsError> {
    let entries = disk_usage(hoist)?;
    let mut total: u64 = entries.iter().map(|e| e.record.size).sum();
    let mut doomed = Vec::new();
    let mut report = PruneReport::default();
    // Oldest first, so --keep-storage keeps the most recently used.
    for entry in entries.iter().rev() {
        if let Some(keep) = opts.keep_storage
            && total <= keep
        {
            break;
        }
        let record = &entry.record;
        let id = record.key.hex().to_owned();
        if !opts.all && !entry.reclaimable && opts.ids.is_empty() {
            continue;
        }
        if let Some(until) = opts.until
            && record.last_used >= until
        {
            continue;
        }
        if !opts.ids.is_empty() && !opts.ids.iter().any(|p| id.starts_with(p.as_str())) {
            continue;
        }
        if !opts.kinds.is_empty()
            && !opts
                .kinds
                .iter()
                .any(|k| k == "build-cache" || *k == record.kind)
        {
            continue;
        }
        total = total.saturating_sub(record.size);
        if entry.reclaimable {
            report.reclaimed += record.size;
        }
        report.deleted.push(id);
        doomed.push(record.key.clone());
    }
    hoist.store.remove_build_cache(&doomed)?;
    if opts.all && opts.ids.is_empty() && opts.until.is_none() {
        let mounts = hoist.settings.root.join("build").join("cache-mounts");
        if mounts.is_dir() {
            report.reclaimed += dir_size(&mounts);
            std::fs::remove_dir_all(&mounts).map_err(|error| OpsError::Input {
                source_name: mounts.display().to_string(),
                error,
            })?;
        }
    }
    if !doomed.is_empty() {
        hoist.store.gc(false)?;
    }
    Ok(report)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            total += meta.len();
        }
    }
    total
}
