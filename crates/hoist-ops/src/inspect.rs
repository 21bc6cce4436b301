//! `image inspect`: the JSON document Docker 20.10 prints for an image, built from the stored config and
//! metadata, with Docker's key order and its zero values (`""`, `false`, `null`).

use hoist_spec::{ContainerConfig, Digest, RawConfig, reference};
use serde_json::{Map, Value, json};

use crate::docker_config::docker_container_config;

use crate::{Hoist, OpsError, lookup};

/// The storage driver name hoist reports (inspect's GraphDriver, `info`).
pub const STORAGE_DRIVER: &str = "overlayfs";

/// Reads and parses an image's config blob.
pub fn image_config(hoist: &Hoist, id: &Digest) -> Result<RawConfig, OpsError> {
    let bytes = hoist.store.read_blob(id)?;
    RawConfig::parse(bytes).map_err(|e| OpsError::Damaged {
        id: id.clone(),
        message: e.to_string(),
    })
}

/// The inspect document of the image `input` names.
pub fn inspect_image(hoist: &Hoist, input: &str) -> Result<Value, OpsError> {
    let found = lookup::find_image(&hoist.store, input)?;
    let id = found.id;
    let record = hoist
        .store
        .image(&id)?
        .ok_or_else(|| OpsError::NoSuchImage(input.to_owned()))?;
    let raw = image_config(hoist, &id)?;
    let c = &raw.config;
    let tags: Vec<Value> = hoist
        .store
        .tags_of(&id)?
        .iter()
        .map(|t| Value::from(reference::familiar_string(t)))
        .collect();
    let digests: Vec<Value> = hoist
        .store
        .repo_digests_of(&id)?
        .iter()
        .map(|rd| {
            let repo = reference::Reference::parse(&rd.repository)
                .map_or_else(|_| rd.repository.clone(), |r| r.familiar_repository());
            Value::from(format!("{repo}@{}", rd.manifest))
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("Id".into(), id.to_string().into());
    doc.insert("RepoTags".into(), tags.into());
    doc.insert("RepoDigests".into(), digests.into());
    doc.insert(
        "Parent".into(),
        record
            .parent
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
            .into(),
    );
    doc.insert(
        "Comment".into(),
        c.comment.clone().unwrap_or_default().into(),
    );
    doc.insert(
        "Created".into(),
        c.created
            .clone()
            .map(|t| go_time(&t))
            .unwrap_or_else(zero_time)
            .into(),
    );
    doc.insert(
        "Container".into(),
        c.container.clone().unwrap_or_default().into(),
    );
    doc.insert(
        "ContainerConfig".into(),
        container_config(c.container_config.as_ref()),
    );
    doc.insert(
        "DockerVersion".into(),
        c.docker_version.clone().unwrap_or_default().into(),
    );
    doc.insert("Author".into(), c.author.clone().unwrap_or_default().into());
    doc.insert(
        "Config".into(),
        c.config
            .as_ref()
            .map_or(Value::Null, docker_container_config),
    );
    doc.insert("Architecture".into(), c.architecture.clone().into());
    if let Some(v) = &c.variant {
        doc.insert("Variant".into(), v.clone().into());
    }
    doc.insert("Os".into(), c.os.clone().into());
    if let Some(v) = &c.os_version {
        doc.insert("OsVersion".into(), v.clone().into());
    }
    doc.insert("Size".into(), record.size.into());
    doc.insert("VirtualSize".into(), record.size.into());
    doc.insert(
        "GraphDriver".into(),
        json!({"Data": null, "Name": STORAGE_DRIVER}),
    );
    doc.insert(
        "RootFS".into(),
        json!({"Type": c.rootfs.kind, "Layers": c.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>()}),
    );
    let last_tag = record
        .last_tag_time
        .map_or_else(zero_time, nanos_to_go_time);
    doc.insert("Metadata".into(), json!({"LastTagTime": last_tag}));
    Ok(Value::Object(doc))
}

fn zero_time() -> String {
    "0001-01-01T00:00:00Z".to_owned()
}

/// Go's RFC3339Nano rendering of a config timestamp (its own offset kept, trailing zeros trimmed).
pub fn go_time(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => hoist_render::gotime::rfc3339_nano(&t),
        Err(_) => s.to_owned(),
    }
}

/// Unix nanoseconds as Go's `time.RFC3339Nano` in UTC.
fn nanos_to_go_time(nanos: i64) -> String {
    hoist_render::gotime::rfc3339_nano(&chrono::DateTime::from_timestamp_nanos(nanos))
}

/// `ContainerConfig`/`Config` as Docker shows them; an absent section is Docker's zero struct.
fn container_config(cc: Option<&ContainerConfig>) -> Value {
    docker_container_config(cc.unwrap_or(&ContainerConfig::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_formats_like_rfc3339nano() {
        assert_eq!(
            go_time("2026-11-22T22:11:27.045860216Z"),
            "2026-11-22T22:11:27.045860216Z"
        );
        assert_eq!(
            go_time("2026-11-22T22:11:27.100Z"),
            "2026-11-22T22:11:27.1Z"
        );
        assert_eq!(
            go_time("2026-11-22T23:11:27+01:00"),
            "2026-11-22T23:11:27+01:00"
        );
    }
}
