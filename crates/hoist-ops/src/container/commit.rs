//! `commit`, `export` and `diff`: a container's changes as a new image layer, its whole filesystem as a
//! tar, and the list of changed paths.
//!
//! Commit streams the snapshot's diff once into the store's ingest area as an uncompressed layer (as
//! Docker stores commits; `push` gzips it once and keeps the copy). The image appears only after its
//! layer, config and manifest are committed.

use std::io::Write;
use std::time::Duration;

use hoist_archive::record::{image_record, synthesize_manifest};
use hoist_spec::{Digest, RawConfig, Reference, media_type};
use hoist_store::{Change, LayerRecord};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Map, Value};

use super::{Container, find};
use crate::change::apply_changes;
use crate::{Hoist, OpsError};

/// `commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub container: String,
    pub reference: Option<String>,
    /// `-m`.
    pub message: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// `-c` instructions.
    pub changes: Vec<String>,
    /// `-p` (Docker's default: true): stop the container's processes while the layer is written.
    pub pause: bool,
}

/// Commits the container's changes as a new image; returns its ID.
pub fn commit(hoist: &Hoist, opts: &CommitOptions) -> Result<Digest, OpsError> {
    let container = find(hoist, &opts.container)?;
    let tag = opts
        .reference
        .as_deref()
        .map(|r| {
            let reference =
                Reference::parse_normalized(r).map_err(|e| OpsError::InvalidTarget {
                    input: r.to_owned(),
                    message: e.to_string(),
                })?;
            if reference.digest().is_some() {
                return Err(OpsError::TagWithDigest);
            }
            Ok(reference.with_default_tag())
        })
        .transpose()?;
    let parent = hoist
        .store
        .image(&container.image)?
        .ok_or_else(|| OpsError::NoSuchImage(container.image.to_string()))?;
    let parent_config = crate::inspect::image_config(hoist, &container.image)?;
    let mut config = container.setup.config.clone();
    apply_changes(&mut config, &opts.changes)?;

    let paused = if opts.pause && container.is_running() {
        freeze(container.state.pid)
    } else {
        Vec::new()
    };
    let layer = write_layer(hoist, &container);
    for pid in &paused {
        let _ = kill(*pid, Signal::SIGCONT);
    }
    let (layer, pending) = layer?;

    let image_config = child_config(&parent_config, &container, &config, opts, &layer.diff_id)?;
    let mut layers = parent.layers.clone();
    layers.push(layer.clone());
    let manifest = synthesize_manifest(&image_config, layers.iter());

    let guard = hoist.store.write_guard()?;
    pending.commit(Some(&layer.blob), Some(layer.blob_size))?;
    hoist.store.put_blob(&image_config.bytes)?;
    hoist.store.put_blob(&manifest.bytes)?;
    let mut record = image_record(&image_config, &manifest, layers, crate::now_nanos());
    record.parent = Some(parent.id.clone());
    hoist.store.put_image(&guard, &record)?;
    if let Some(tag) = tag {
        hoist.store.set_tag(&tag.to_string(), &record.id)?;
    }
    Ok(record.id)
}

/// The container's diff as an uncompressed layer in the store's ingest area; the blob is not visible
/// yet. Stored as a tar, like the layers `load` and `import` bring uncompressed: the blob digest is the
/// diff ID (one hash over the bytes), and `push` gzips it once and keeps that copy.
fn write_layer(
    hoist: &Hoist,
    container: &Container,
) -> Result<(LayerRecord, hoist_store::PendingBlob), OpsError> {
    let ingest = hoist.store.ingest()?;
    let pending = hoist
        .store
        .write_container_diff(&container.id, ingest)?
        .finish()?;
    // Docker's layer size: the bytes of the files the layer holds.
    let (size, _) = hoist.store.container_sizes(&container.id)?;
    let layer = LayerRecord {
        diff_id: pending.digest().clone(),
        blob: pending.digest().clone(),
        media_type: media_type::OCI_LAYER.to_owned(),
        blob_size: pending.size(),
        size,
    };
    Ok((layer, pending))
}

/// The new image's config: the parent's, with the container's config, one more history entry and diff ID.
fn child_config(
    parent: &RawConfig,
    container: &Container,
    config: &hoist_spec::ContainerConfig,
    opts: &CommitOptions,
    diff_id: &Digest,
) -> Result<RawConfig, OpsError> {
    let mut image: Map<String, Value> =
        serde_json::from_slice(&parent.bytes).map_err(|e| OpsError::Damaged {
            id: parent.digest.clone(),
            message: e.to_string(),
        })?;
    let created = hoist_render::gotime::rfc3339_nano(&chrono::Utc::now());
    let author = opts.author.clone().unwrap_or_default();
    let comment = opts.message.clone().unwrap_or_default();
    let cmd = container
        .setup
        .config
        .cmd
        .clone()
        .unwrap_or_default()
        .join(" ");

    let mut history = Map::new();
    history.insert("created".into(), Value::from(created.clone()));
    if !author.is_empty() {
        history.insert("author".into(), Value::from(author.clone()));
    }
    history.insert("created_by".into(), Value::from(cmd));
    if !comment.is_empty() {
        history.insert("comment".into(), Value::from(comment));
    }
    match image.get_mut("history") {
        Some(Value::Array(entries)) => entries.push(Value::Object(history)),
        _ => {
            image.insert("history".into(), Value::Array(vec![Value::Object(history)]));
        }
    }
    let mut rootfs = Map::new();
    rootfs.insert("type".into(), Value::from("layers"));
    let mut diff_ids: Vec<Value> = parent
        .config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Value::from(d.to_string()))
        .collect();
    diff_ids.push(Value::from(diff_id.to_string()));
    rootfs.insert("diff_ids".into(), Value::Array(diff_ids));
    image.insert("rootfs".into(), Value::Object(rootfs));

    let docker_config = crate::docker_config::docker_container_config(config);
    image.insert("config".into(), docker_config.clone());
    image.insert("container_config".into(), docker_config);
    image.insert("container".into(), Value::from(container.id.clone()));
    image.insert("created".into(), Value::from(created));
    if opts.message.as_deref().is_none_or(str::is_empty) {
        image.remove("comment");
    } else {
        image.insert("comment".into(), Value::from(opts.message.clone()));
    }
    if author.is_empty() {
        image.remove("author");
    } else {
        image.insert("author".into(), Value::from(author));
    }
    // Serialising a `Value` cannot fail; were it to, the parse below reports it.
    let bytes = serde_json::to_vec(&Value::Object(image)).unwrap_or_default();
    RawConfig::parse(bytes).map_err(|e| OpsError::Damaged {
        id: e.digest.clone(),
        message: e.to_string(),
    })
}

/// Stops (SIGSTOP) every process in the PID namespace of the container's PID 1 and returns them, so a
/// commit sees a still filesystem; the caller continues them (SIGCONT) afterwards.
fn freeze(pid: u32) -> Vec<Pid> {
    let namespace = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let Some(target) = namespace(&pid.to_string()) else {
        return Vec::new();
    };
    let mut stopped = Vec::new();
    // New processes could appear while we walk; a second pass catches those forked meanwhile.
    for _ in 0..2 {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(number) = name.parse::<i32>() else {
                continue;
            };
            let pid = Pid::from_raw(number);
            if stopped.contains(&pid) || namespace(name).as_ref() != Some(&target) {
                continue;
            }
            if kill(pid, Signal::SIGSTOP).is_ok() {
                stopped.push(pid);
            }
        }
    }
    // SIGSTOP takes effect asynchronously; a moment lets in-flight writes land before the walk.
    std::thread::sleep(Duration::from_millis(5));
    stopped
}

/// `export`: the container's filesystem as one tar.
pub fn export(hoist: &Hoist, input: &str, out: &mut dyn Write) -> Result<(), OpsError> {
    let container = find(hoist, input)?;
    hoist.store.write_container_export(&container.id, out)?;
    Ok(())
}

/// `diff`: changed paths, sorted.
pub fn diff(hoist: &Hoist, input: &str) -> Result<Vec<Change>, OpsError> {
    let container = find(hoist, input)?;
    Ok(hoist.store.container_changes(&container.id)?)
}
