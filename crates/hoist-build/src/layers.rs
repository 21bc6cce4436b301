//! Turning a directory a step filled into a stored layer: tar it into the ingest area (uncompressed, so the
//! blob digest is the diff ID, as commits are stored; push gzips once), commit the blob, and adopt the
//! directory itself as the unpacked snapshot the next step mounts.

use std::path::Path;

use hoist_layer::tree;
use hoist_spec::media_type;
use hoist_store::{LayerRecord, PendingBlob, Store};

use crate::error::BuildError;

fn tree_error(path: &Path) -> impl FnOnce(tree::TreeError) -> BuildError + '_ {
    move |e| BuildError::Layer(format!("cannot archive {}: {e}", path.display()))
}

/// A layer written to the ingest area but not yet committed.
pub(crate) struct PendingLayer {
    pub record: LayerRecord,
    pub pending: PendingBlob,
}

/// Tars a plain directory (a COPY's new files) as a layer.
pub(crate) fn tar_tree(store: &Store, dir: &Path) -> Result<PendingLayer, BuildError> {
    let ingest = store.ingest()?;
    let pending = tree::write_tree(dir, ingest)
        .map_err(tree_error(dir))?
        .finish()?;
    let size = tree::content_size(dir).map_err(tree_error(dir))?;
    Ok(pending_layer(pending, size))
}

/// Tars an overlay upper directory (a RUN's changes) as a layer diff.
pub(crate) fn tar_overlay_diff(store: &Store, upper: &Path) -> Result<PendingLayer, BuildError> {
    let ingest = store.ingest()?;
    let pending = tree::write_overlay_diff(upper, ingest)
        .map_err(tree_error(upper))?
        .finish()?;
    let size = tree::content_size(upper).map_err(tree_error(upper))?;
    Ok(pending_layer(pending, size))
}

fn pending_layer(pending: PendingBlob, size: u64) -> PendingLayer {
    PendingLayer {
        record: LayerRecord {
            diff_id: pending.digest().clone(),
            blob: pending.digest().clone(),
            media_type: media_type::OCI_LAYER.to_owned(),
            blob_size: pending.size(),
            size,
        },
        pending,
    }
}

/// Sets the modification time of everything under `dir` (and `dir`) that is newer than `epoch` to
/// `epoch`, for SOURCE_DATE_EPOCH. Symlinks themselves, not their targets.
pub(crate) fn clamp_mtimes(dir: &Path, epoch: i64) -> Result<(), BuildError> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta =
            std::fs::symlink_metadata(&path).map_err(crate::error::io_error("inspect", &path))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(crate::error::io_error("list", &path))? {
                stack.push(entry.map_err(crate::error::io_error("list", &path))?.path());
            }
        }
        if meta.mtime() > epoch {
            let time = Timespec {
                tv_sec: epoch,
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: time,
                last_modification: time,
            };
            utimensat(CWD, &path, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| crate::error::io_error("set times of", &path)(e.into()))?;
        }
    }
    Ok(())
}
