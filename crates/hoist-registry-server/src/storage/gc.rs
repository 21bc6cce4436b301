//! Online garbage collection: mark every blob the repositories' manifests reference, then delete the
//! blobs nothing references, without stopping the server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use hoist_spec::{Digest, Manifest, RawManifest};

use super::backend::{StorageBackend, StorageError};
use super::registry::{
    ManifestReference, RegistryError, RegistryStorage, blob_data_key, blob_quarantine_key,
    ignore_not_found, layer_link_key, revisions_key, subject_of, tags_key,
};

/// How a collection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Also delete manifests no tag reaches (directly, through an index, or as a referrer of a kept
    /// manifest), before marking.
    pub delete_untagged: bool,
    /// Content written or linked this recently is never deleted; it must exceed the longest time a
    /// single push operation (one upload finish or manifest PUT) may take.
    pub grace_period: Duration,
    /// Upload sessions idle for longer than this are abandoned and removed (distribution's
    /// `uploadpurging.age`, one week by default).
    pub upload_max_age: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            delete_untagged: false,
            grace_period: Duration::from_secs(600),
            upload_max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a collection did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs referenced by a kept manifest (the manifests included).
    pub blobs_marked: usize,
    /// Unreferenced blobs deleted (or to be deleted), sorted.
    pub blobs_deleted: Vec<Digest>,
    /// Unreferenced blobs kept because they were written or linked within the grace period.
    pub blobs_recent: Vec<Digest>,
    /// Untagged manifests removed (or to be removed), as (repository, digest).
    pub manifests_deleted: Vec<(String, Digest)>,
    /// Abandoned upload sessions removed (or to be removed), as (repository, upload id).
    pub uploads_purged: Vec<(String, String)>,
}

impl<B: StorageBackend> RegistryStorage<B> {
    /// Deletes blobs no manifest references, safely while the server keeps serving:
    ///
    /// - Time fences every write: the collection starts at `T`, and a blob whose data, or whose link in
    ///   any repository, was written after `T - grace_period` is kept. Pushes refresh those times:
    ///   finishing an upload writes the repository link before the blob appears, a cross-repository
    ///   mount writes the link before checking the blob, and a manifest PUT rewrites the link of every
    ///   blob it references. So content an in-flight push relies on is always recent.
    /// - Links (layer links and manifest revision links in every repository) are re-read right
    ///   before each deletion, after the whole mark phase, so a blob linked while marking is kept.
    /// - With `delete_untagged`, manifests whose revision link is within the grace period are kept
    ///   (a client may push by digest and tag a moment later).
    ///
    /// - A blob is deleted in two steps that need no lock shared with the server (replicas on object
    ///   storage cannot share one): its data is moved aside, the links are read once more, and only
    ///   then is it deleted, or moved back when a link turned fresh. Every writer links before it
    ///   checks the blob, so a writer either saw the blob before the move (and its link is seen
    ///   after it) or finds the blob missing and uploads it again.
    ///
    /// What remains: a push that stalls for longer than the grace period between uploading a layer
    /// and putting the manifest loses the layer (as with distribution, whose collector needs the
    /// registry read-only); with `delete_untagged`, an index pushed at the instant its old, untagged
    /// child is collected is refused with MANIFEST_BLOB_UNKNOWN. Nothing is ever served torn.
    pub async fn garbage_collect(&self, options: &GcOptions) -> Result<GcReport, RegistryError> {
        let started = SystemTime::now();
        let cutoff = started
            .checked_sub(options.grace_period)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut report = GcReport::default();
        let mut marked = BTreeSet::new();

        for repo in self.catalog().await? {
            let manifests = self.repository_manifests(&repo).await?;
            let kept = if options.delete_untagged {
                self.reachable_manifests(&repo, &manifests, cutoff).await?
            } else {
                manifests.keys().cloned().collect()
            };
            for (digest, parsed) in &manifests {
                if !kept.contains(digest) {
                    report
                        .manifests_deleted
                        .push((repo.clone(), digest.clone()));
                    if !options.dry_run {
                        match self.delete_manifest(&repo, digest).await {
                            Ok(()) | Err(RegistryError::ManifestUnknown { .. }) => {}
                            Err(err) => return Err(err),
                        }
                    }
                    continue;
                }
                marked.insert(digest.clone());
                if let Some(manifest) = parsed {
                    marked.extend(referenced_digests(manifest));
                }
            }
        }
        report.blobs_marked = marked.len();

        let repos_with_links = self
            .repositories_with(|marker| marker == "_layers" || marker == "_manifests")
            .await?;
        for digest in self.all_blobs().await? {
            // A collection that stopped between moving a blob aside and deciding leaves it there;
            // put it back and decide again.
            ignore_not_found(
                self.backend()
                    .rename(&blob_quarantine_key(&digest), &blob_data_key(&digest))
                    .await,
            )?;
            if marked.contains(&digest) {
                continue;
            }
            let data = blob_data_key(&digest);
            if !self.blob_exists(&digest).await? {
                continue; // an empty directory left by an earlier deletion
            }
            if self
                .recently_touched(&data, &digest, &repos_with_links, cutoff)
                .await?
            {
                report.blobs_recent.push(digest);
                continue;
            }
            if !options.dry_run {
                // Move the bytes aside, then look at the links once more: a writer links before it
                // checks the blob, so either it saw the blob before the move (and its fresh link
                // is seen now, and the blob goes back) or it finds the blob missing and uploads it
                // again under the data key, which this collection never deletes.
                let aside = blob_quarantine_key(&digest);
                match self.backend().rename(&data, &aside).await {
                    Ok(()) => {}
                    Err(StorageError::NotFound { .. }) => continue, // deleted meanwhile
                    Err(err) => return Err(err.into()),
                }
                if self
                    .recently_touched(&aside, &digest, &repos_with_links, cutoff)
                    .await?
                {
                    ignore_not_found(self.backend().rename(&aside, &data).await)?;
                    report.blobs_recent.push(digest);
                    continue;
                }
                ignore_not_found(self.backend().delete(&aside).await)?;
                // Links to the deleted blob stay: every read checks the data too, and deleting a
                // link could race a writer re-creating it.
            }
            report.blobs_deleted.push(digest);
        }
        self.purge_uploads(options, started, &mut report).await?;
        Ok(report)
    }

    /// Removes upload sessions whose last write is older than `options.upload_max_age`.
    async fn purge_uploads(
        &self,
        options: &GcOptions,
        started: SystemTime,
        report: &mut GcReport,
    ) -> Result<(), RegistryError> {
        let Some(idle_cutoff) = started.checked_sub(options.upload_max_age) else {
            return Ok(());
        };
        for repo in self
            .repositories_with(|marker| marker == "_uploads")
            .await?
        {
            let uploads_key = format!("repositories/{repo}/_uploads");
            let ids = match self.backend().list(&uploads_key).await {
                Ok(ids) => ids,
                Err(StorageError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            for id in ids {
                let mut last_write = None;
                for file in ["startedat", "data"] {
                    match self
                        .backend()
                        .stat(&format!("{uploads_key}/{id}/{file}"))
                        .await
                    {
                        Ok(info) => last_write = last_write.max(Some(info.modified)),
                        Err(StorageError::NotFound { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                if last_write.is_some_and(|last| last >= idle_cutoff) {
                    continue;
                }
                if !options.dry_run {
                    ignore_not_found(
                        self.backend()
                            .delete_prefix(&format!("{uploads_key}/{id}"))
                            .await,
                    )?;
                }
                report.uploads_purged.push((repo.clone(), id));
            }
        }
        Ok(())
    }

    /// The manifests of `repo`, parsed when possible (an unparsable one is kept but marks nothing
    /// beyond itself).
    async fn repository_manifests(
        &self,
        repo: &str,
    ) -> Result<BTreeMap<Digest, Option<Manifest>>, RegistryError> {
        let hexes = match self.backend().list(&revisions_key(repo)).await {
            Ok(hexes) => hexes,
            Err(StorageError::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        let mut manifests = BTreeMap::new();
        for hex in hexes {
            let Ok(digest) = Digest::from_hex(&hex) else {
                continue;
            };
            let content = match self
                .get_manifest(repo, &ManifestReference::Digest(digest.clone()))
                .await
            {
                Ok(content) => content,
                Err(RegistryError::ManifestUnknown { .. }) => continue,
                Err(err) => return Err(err),
            };
            let parsed = RawManifest::parse(content.bytes, Some(&content.media_type))
                .ok()
                .map(|raw| raw.manifest);
            manifests.insert(digest, parsed);
        }
        Ok(manifests)
    }

    /// Manifests reachable from a tag, through index children and from kept subjects to their
    /// referrers, plus those pushed within the grace period.
    async fn reachable_manifests(
        &self,
        repo: &str,
        manifests: &BTreeMap<Digest, Option<Manifest>>,
        cutoff: SystemTime,
    ) -> Result<BTreeSet<Digest>, RegistryError> {
        let mut kept = BTreeSet::new();
        let tags = match self.backend().list(&tags_key(repo)).await {
            Ok(tags) => tags,
            Err(StorageError::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        for tag in tags {
            match self
                .read_link(&format!("{}/{tag}/current/link", tags_key(repo)))
                .await
            {
                Ok(digest) => {
                    kept.insert(digest);
                }
                Err(RegistryError::Storage(StorageError::NotFound { .. })) => {}
                Err(err) => return Err(err),
            }
        }
        for digest in manifests.keys() {
            let link = format!("{}/{}/link", revisions_key(repo), digest.hex());
            match self.backend().stat(&link).await {
                Ok(info) if info.modified >= cutoff => {
                    kept.insert(digest.clone());
                }
                Ok(_) | Err(StorageError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        loop {
            let before = kept.len();
            for (digest, parsed) in manifests {
                let Some(manifest) = parsed else {
                    // Cannot tell what it is: never delete it.
                    kept.insert(digest.clone());
                    continue;
                };
                if kept.contains(digest) {
                    if let Manifest::Index(index) = manifest {
                        kept.extend(index.manifests.iter().map(|child| child.digest.clone()));
                    }
                } else if subject_of(manifest).is_some_and(|subject| kept.contains(&subject.digest))
                {
                    kept.insert(digest.clone());
                }
            }
            if kept.len() == before {
                return Ok(kept);
            }
        }
    }

    /// Every digest in the blob store.
    async fn all_blobs(&self) -> Result<Vec<Digest>, RegistryError> {
        let prefixes = match self.backend().list("blobs/sha256").await {
            Ok(prefixes) => prefixes,
            Err(StorageError::NotFound { .. }) => return Ok(Vec::new()),
            Err(err) => return Err(err.into()),
        };
        let mut digests = Vec::new();
        for prefix in prefixes {
            let hexes = match self.backend().list(&format!("blobs/sha256/{prefix}")).await {
                Ok(hexes) => hexes,
                Err(StorageError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            digests.extend(hexes.iter().filter_map(|hex| Digest::from_hex(hex).ok()));
        }
        Ok(digests)
    }

    /// Whether the blob's data or any repository's link to it (as a layer or as a manifest
    /// revision) was written after `cutoff`.
    async fn recently_touched(
        &self,
        data_key: &str,
        digest: &Digest,
        repos: &[String],
        cutoff: SystemTime,
    ) -> Result<bool, RegistryError> {
        let links = repos.iter().flat_map(|repo| {
            [
                layer_link_key(repo, digest),
                format!("{}/{}/link", revisions_key(repo), digest.hex()),
            ]
        });
        let keys = std::iter::once(data_key.to_owned()).chain(links);
        for key in keys {
            match self.backend().stat(&key).await {
                Ok(info) if info.modified >= cutoff => return Ok(true),
                Ok(_) | Err(StorageError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(false)
    }
}

/// Blobs a manifest references: config, layers, index children and subject.
fn referenced_digests(manifest: &Manifest) -> Vec<Digest> {
    let mut digests = Vec::new();
    match manifest {
        Manifest::Image(image) => {
            digests.push(image.config.digest.clone());
            digests.extend(image.layers.iter().map(|layer| layer.digest.clone()));
        }
        Manifest::Index(index) => {
            digests.extend(index.manifests.iter().map(|child| child.digest.clone()));
        }
    }
    if let Some(subject) = subject_of(manifest) {
        digests.push(subject.digest.clone());
    }
    digests
}
