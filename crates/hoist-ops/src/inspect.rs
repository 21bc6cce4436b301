//! `image inspect`: the JSON document Docker 20.10 prints for an image, built from the stored config and
//! metadata, with Docker's key order and its zero values (`""`, `false`, `null`).

use hoist_spec::{ContainerConfig, Digest, RawConfig, reference};
use serde_json::{Map, Value, json};

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
        docker_container_config(c.container_config.as_ref()),
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
            .map_or(Value::Null, |cc| docker_container_config(Some(cc))),
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

/// Go's RFC3339Nano rendering of a config timestamp: its own offset kept, trailing zeros trimmed.
pub fn go_time(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => {
            let frac = t.timestamp_subsec_nanos();
            let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            if frac != 0 {
                out.push('.');
                out.push_str(format!("{frac:09}").trim_end_matches('0'));
            }
            if t.offset().local_minus_utc() == 0 {
                out.push('Z');
            } else {
                out.push_str(&t.format("%:z").to_string());
            }
            out
        }
        Err(_) => s.to_owned(),
    }
}

/// Unix nanoseconds as Go's `time.RFC3339Nano` in UTC.
pub fn nanos_to_go_time(nanos: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(nanos);
    let frac = t.timestamp_subsec_nanos();
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if frac == 0 {
        format!("{base}Z")
    } else {
        let digits = format!("{frac:09}");
        format!("{base}.{}Z", digits.trim_end_matches('0'))
    }
}

/// Docker's `container.Config` rendering: every field present, zero values included, Docker's order.
pub fn docker_container_config(cc: Option<&ContainerConfig>) -> Value {
    let empty = ContainerConfig::default();
    let cc = cc.unwrap_or(&empty);
    let extra = |key: &str, default: Value| cc.extra.get(key).cloned().unwrap_or(default);
    let opt_list =
        |v: &Option<Vec<String>>| v.as_ref().map_or(Value::Null, |l| Value::from(l.clone()));
    let mut m = Map::new();
    m.insert("Hostname".into(), extra("Hostname", "".into()));
    m.insert("Domainname".into(), extra("Domainname", "".into()));
    m.insert("User".into(), cc.user.clone().unwrap_or_default().into());
    m.insert("AttachStdin".into(), extra("AttachStdin", false.into()));
    m.insert("AttachStdout".into(), extra("AttachStdout", false.into()));
    m.insert("AttachStderr".into(), extra("AttachStderr", false.into()));
    if let Some(p) = &cc.exposed_ports {
        m.insert(
            "ExposedPorts".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    m.insert("Tty".into(), extra("Tty", false.into()));
    m.insert("OpenStdin".into(), extra("OpenStdin", false.into()));
    m.insert("StdinOnce".into(), extra("StdinOnce", false.into()));
    m.insert("Env".into(), opt_list(&cc.env));
    m.insert("Cmd".into(), opt_list(&cc.cmd));
    if let Some(h) = &cc.healthcheck {
        m.insert("Healthcheck".into(), h.clone());
    }
    if let Some(a) = cc.args_escaped.filter(|a| *a) {
        m.insert("ArgsEscaped".into(), a.into());
    }
    m.insert("Image".into(), extra("Image", "".into()));
    m.insert(
        "Volumes".into(),
        cc.volumes.as_ref().map_or(Value::Null, |v| {
            serde_json::to_value(v).unwrap_or(Value::Null)
        }),
    );
    m.insert(
        "WorkingDir".into(),
        cc.working_dir.clone().unwrap_or_default().into(),
    );
    m.insert("Entrypoint".into(), opt_list(&cc.entrypoint));
    if let Some(v) = cc
        .extra
        .get("NetworkDisabled")
        .filter(|v| v.as_bool() == Some(true))
    {
        m.insert("NetworkDisabled".into(), v.clone());
    }
    if let Some(v) = cc
        .extra
        .get("MacAddress")
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    {
        m.insert("MacAddress".into(), v.clone());
    }
    m.insert("OnBuild".into(), opt_list(&cc.on_build));
    m.insert(
        "Labels".into(),
        cc.labels.as_ref().map_or(Value::Null, |l| {
            serde_json::to_value(l).unwrap_or(Value::Null)
        }),
    );
    if let Some(s) = cc.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        m.insert("StopSignal".into(), s.clone().into());
    }
    if let Some(t) = cc.stop_timeout {
        m.insert("StopTimeout".into(), t.into());
    }
    if let Some(s) = &cc.shell {
        m.insert("Shell".into(), s.clone().into());
    }
    Value::Object(m)
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
