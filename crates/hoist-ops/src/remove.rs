//! `tag`, `rmi` and `image prune`: Docker's reference and deletion rules (untag by name, refuse IDs shared
//! by several repositories without -f, keep images with children, prune untagged parents), reporting
//! what happened as `Untagged:`/`Deleted:` events.

use std::collections::{BTreeSet, HashMap, HashSet};

use hoist_spec::{Digest, Reference};
use hoist_store::LayerRecord;

use crate::filters::{Filters, parse_timestamp};
use crate::lookup::{self, Named};
use crate::{Hoist, OpsError};

/// What a removal did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A familiar reference (`nginx:latest`, `nginx@sha256:…`) that no longer names an image.
    Untagged(String),
    /// An image ID or a layer chain ID that is gone.
    Deleted(Digest),
}

/// `tag SOURCE TARGET`.
pub fn tag(hoist: &Hoist, source: &str, target: &str) -> Result<(), OpsError> {
    let found = lookup::find_image(&hoist.store, source)?;
    let target_ref = Reference::parse_normalized(target).map_err(|e| OpsError::InvalidTarget {
        input: target.to_owned(),
        message: e.to_string(),
    })?;
    if target_ref.digest().is_some() {
        return Err(OpsError::TagWithDigest);
    }
    hoist
        .store
        .set_tag(&target_ref.with_default_tag().to_string(), &found.id)?;
    Ok(())
}

/// Chain IDs of a layer stack, bottom first (the store names its unpacked layers by them).
pub use hoist_store::chain_ids;

/// `rmi`: removes the image `input` names (or just that name), as Docker's `ImageDelete` does.
pub fn remove_image(
    hoist: &Hoist,
    census: &mut LayerCensus,
    input: &str,
    force: bool,
    prune: bool,
) -> Result<Vec<RemoveEvent>, OpsError> {
    let found = lookup::find_image(&hoist.store, input)?;
    let id = found.id.clone();
    let mut events = Vec::new();
    let by_name = !matches!(found.named, Named::Id) && !lookup::is_id_prefix(&id, input);
    let users = container_users(hoist, &id)?;
    if let Some((container, true)) = users.iter().find(|(_, running)| *running).cloned()
        && !(by_name && reference_count(hoist, &id)? > 1)
        && !(by_name && force)
    {
        return Err(OpsError::Conflict(format!(
            "conflict: unable to delete {} (cannot be forced) - image is being used by running container {container}",
            id.short()
        )));
    }
    if let Some((container, _)) = users.first()
        && !force
    {
        if by_name && reference_count(hoist, &id)? == 1 {
            return Err(OpsError::Conflict(format!(
                "conflict: unable to remove repository reference \"{input}\" (must force) - container {container} is using its referenced image {}",
                id.short()
            )));
        }
        if !by_name {
            return Err(OpsError::Conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is being used by stopped container {container}",
                id.short()
            )));
        }
    }
    if by_name {
        match &found.named {
            Named::Tag(r) => {
                hoist.store.remove_tag(&r.to_string())?;
                events.push(RemoveEvent::Untagged(r.familiar()));
                let repo = r.repository();
                let other_tag_same_repo = hoist
                    .store
                    .tags_of(&id)?
                    .iter()
                    .any(|t| Reference::parse(t).is_ok_and(|t| t.repository() == repo));
                if !other_tag_same_repo {
                    for rd in hoist.store.repo_digests_of(&id)? {
                        if rd.repository == repo {
                            hoist
                                .store
                                .remove_repo_digest(&rd.repository, &rd.manifest)?;
                            events.push(RemoveEvent::Untagged(format!(
                                "{}@{}",
                                r.familiar_repository(),
                                rd.manifest
                            )));
                        }
                    }
                }
            }
            Named::Digest(r) => {
                if let Some(d) = r.digest() {
                    hoist.store.remove_repo_digest(&r.repository(), d)?;
                }
                events.push(RemoveEvent::Untagged(r.familiar()));
            }
            Named::Id => {}
        }
        if !hoist.store.tags_of(&id)?.is_empty()
            || !hoist.store.repo_digests_of(&id)?.is_empty()
            || !users.is_empty()
        {
            return Ok(events);
        }
        delete_image(hoist, census, &id, prune, true, &mut events)?;
        return Ok(events);
    }
    let tags = hoist.store.tags_of(&id)?;
    let digests = hoist.store.repo_digests_of(&id)?;
    let repos: BTreeSet<String> = tags
        .iter()
        .filter_map(|t| Reference::parse(t).ok().map(|r| r.repository()))
        .chain(digests.iter().map(|d| d.repository.clone()))
        .collect();
    if repos.len() > 1 && !force {
        return Err(OpsError::ReferencedInMultipleRepositories {
            id: id.short().to_owned(),
        });
    }
    if !hoist.store.children_of(&id)?.is_empty() {
        return Err(OpsError::HasChildren {
            id: id.short().to_owned(),
        });
    }
    untag_all(hoist, &id, &mut events)?;
    delete_image(hoist, census, &id, prune, false, &mut events)?;
    Ok(events)
}

fn untag_all(hoist: &Hoist, id: &Digest, events: &mut Vec<RemoveEvent>) -> Result<(), OpsError> {
    for t in hoist.store.tags_of(id)? {
        hoist.store.remove_tag(&t)?;
        events.push(RemoveEvent::Untagged(
            hoist_spec::reference::familiar_string(&t),
        ));
    }
    for rd in hoist.store.repo_digests_of(id)? {
        hoist
            .store
            .remove_repo_digest(&rd.repository, &rd.manifest)?;
        let repo = Reference::parse(&rd.repository)
            .map_or_else(|_| rd.repository.clone(), |r| r.familiar_repository());
        events.push(RemoveEvent::Untagged(format!("{repo}@{}", rd.manifest)));
    }
    Ok(())
}

/// Deletes an untagged image and reports the layer chains it released; then its untagged parents if `prune`.
/// `quiet`: a conflict (children) ends silently, as after an untag.
fn delete_image(
    hoist: &Hoist,
    census: &mut LayerCensus,
    id: &Digest,
    prune: bool,
    quiet: bool,
    events: &mut Vec<RemoveEvent>,
) -> Result<u64, OpsError> {
    if !hoist.store.children_of(id)?.is_empty() {
        return if quiet {
            Ok(0)
        } else {
            Err(OpsError::HasChildren {
                id: id.short().to_owned(),
            })
        };
    }
    let Some(record) = hoist.store.image(id)? else {
        return Ok(0);
    };
    // Counted before the removal, so the census includes this image and releasing it balances.
    census.ensure(hoist)?;
    hoist.store.remove_image(id)?;
    events.push(RemoveEvent::Deleted(id.clone()));
    let (released, mut reclaimed) = census.release(&record);
    events.extend(released.into_iter().map(RemoveEvent::Deleted));
    if prune
        && let Some(parent) = &record.parent
        && hoist.store.tags_of(parent)?.is_empty()
        && hoist.store.repo_digests_of(parent)?.is_empty()
    {
        reclaimed += delete_image(hoist, census, parent, true, true, events)?;
    }
    Ok(reclaimed)
}

/// How many stored images use each layer chain and each stored layer, read from the store once per
/// command and updated in memory as images go: `rmi $(hoist images -q)` on thousands of images stays
/// linear instead of listing the store again after every deletion.
#[derive(Debug, Default)]
pub struct LayerCensus {
    counts: Option<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    chains: HashMap<Digest, usize>,
    layers: HashMap<(Digest, Digest), usize>,
}

impl LayerCensus {
    fn ensure(&mut self, hoist: &Hoist) -> Result<(), OpsError> {
        if self.counts.is_none() {
            let mut counts = Counts::default();
            for image in hoist.store.list_images()? {
                for chain in chain_ids(image.layers.iter().map(|l| &l.diff_id)) {
                    *counts.chains.entry(chain).or_default() += 1;
                }
                for layer in &image.layers {
                    *counts.layers.entry(key(layer)).or_default() += 1;
                }
            }
            self.counts = Some(counts);
        }
        Ok(())
    }

    /// Takes a removed image out of the counts; returns the chains no image uses any more (top layer
    /// first, as Docker reports them) and the bytes of the layers no image has any more.
    fn release(&mut self, record: &hoist_store::ImageRecord) -> (Vec<Digest>, u64) {
        let Some(counts) = self.counts.as_mut() else {
            return (Vec::new(), 0);
        };
        let mut released = Vec::new();
        let mut reclaimed = 0;
        let chains = chain_ids(record.layers.iter().map(|l| &l.diff_id));
        for (chain, layer) in chains.iter().zip(&record.layers).rev() {
            if decrement(&mut counts.chains, chain.clone()) {
                released.push(chain.clone());
            }
            if decrement(&mut counts.layers, key(layer)) {
                reclaimed += layer.size;
            }
        }
        (released, reclaimed)
    }
}

/// Counts one use less; true when none is left.
fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) -> bool {
    match counts.get_mut(&key) {
        Some(n) if *n > 1 => {
            *n -= 1;
            false
        }
        Some(_) => {
            counts.remove(&key);
            true
        }
        None => true,
    }
}

/// The containers created from `image` (short IDs) and whether each is running.
fn container_users(hoist: &Hoist, image: &Digest) -> Result<Vec<(String, bool)>, OpsError> {
    hoist
        .store
        .containers_using_image(image)?
        .into_iter()
        .map(|id| {
            let c = crate::container::load(hoist, &id)?;
            Ok((c.short_id().to_owned(), c.is_running()))
        })
        .collect()
}

/// Tags plus repository digests naming the image.
fn reference_count(hoist: &Hoist, image: &Digest) -> Result<usize, OpsError> {
    Ok(hoist.store.tags_of(image)?.len() + hoist.store.repo_digests_of(image)?.len())
}

fn key(l: &LayerRecord) -> (Digest, Digest) {
    (l.diff_id.clone(), l.blob.clone())
}

/// Filter keys `image prune` accepts.
pub const PRUNE_FILTERS: &[&str] = &["until", "label", "label!", "dangling"];

/// What `image prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    /// Bytes of layers no image uses any more (Docker's "Total reclaimed space").
    pub reclaimed: u64,
}

/// `image prune [-a]`: dangling images (or, with `all`, every image) matching the filters.
pub fn prune_images(hoist: &Hoist, all: bool, filters: &Filters) -> Result<PruneReport, OpsError> {
    let now = crate::now_nanos();
    let all = all || filters.bool("dangling")? == Some(false);
    let until = filters
        .get("until")
        .iter()
        .map(|v| parse_timestamp(v, now))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = PruneReport::default();
    let mut census = LayerCensus::default();
    let mut listings = hoist.store.list_images()?;
    listings.sort_by_key(|l| std::cmp::Reverse(l.created));
    let parents: HashSet<Digest> = listings.iter().filter_map(|l| l.parent.clone()).collect();
    for l in &listings {
        // An earlier deletion in this run may have pruned it as a parent.
        if hoist.store.image(&l.id)?.is_none() {
            continue;
        }
        let referenced = !l.tags.is_empty() || !l.repo_digests.is_empty();
        if !all && (referenced || parents.contains(&l.id)) {
            continue;
        }
        let created = l.created.unwrap_or(0);
        if until.iter().any(|u| created >= *u) || !filters.labels_match(&l.labels) {
            continue;
        }
        if !hoist.store.children_of(&l.id)?.is_empty()
            || !hoist.store.containers_using_image(&l.id)?.is_empty()
        {
            continue;
        }
        untag_all(hoist, &l.id, &mut report.events)?;
        report.reclaimed +=
            delete_image(hoist, &mut census, &l.id, true, true, &mut report.events)?;
    }
    Ok(report)
}

/// Removes blobs no image references any more, so that deletions free disk space as Docker's do.
pub fn collect_garbage(hoist: &Hoist) -> Result<u64, OpsError> {
    Ok(hoist.store.gc(false)?.reclaimed)
}
