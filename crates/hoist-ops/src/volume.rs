//! Named volumes with Docker's local driver: a directory `volumes/<name>/_data` under the hoist root
//! (Docker's layout) and a `meta.json` beside it; `create`, `ls`, `inspect`, `rm`, `prune`, and the
//! volumes containers name in `-v NAME:/path` (created on first use, filled from the image there).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Hoist, OpsError};

/// A volume as `docker volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
}

fn volumes_dir(hoist: &Hoist) -> PathBuf {
    hoist.settings.root.join("volumes")
}

/// Where volume `name`'s data lives.
pub fn data_dir(hoist: &Hoist, name: &str) -> PathBuf {
    volumes_dir(hoist).join(name).join("_data")
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> OpsError + '_ {
    move |error| OpsError::Input {
        source_name: path.display().to_string(),
        error,
    }
}

/// Docker's rule for volume names.
pub fn check_name(name: &str) -> Result<(), OpsError> {
    if crate::container::create::is_docker_name(name) {
        Ok(())
    } else {
        Err(OpsError::InvalidOption(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Creates volume `name` (a random 64-hex name when `None`), or returns the existing one, as Docker.
pub fn create(
    hoist: &Hoist,
    name: Option<&str>,
    driver: &str,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
) -> Result<Volume, OpsError> {
    if driver != "local" {
        return Err(OpsError::InvalidOption(format!(
            "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    if let Some(key) = options.keys().next() {
        return Err(OpsError::InvalidOption(format!(
            "invalid option: {key:?}: hoist's local driver takes no options yet"
        )));
    }
    let name = match name {
        Some(name) => {
            check_name(name)?;
            name.to_owned()
        }
        None => crate::container::create::new_container_id()?,
    };
    if let Some(existing) = find(hoist, &name)? {
        return Ok(existing);
    }
    let dir = volumes_dir(hoist).join(&name);
    let data = dir.join("_data");
    let volume = Volume {
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        driver: driver.to_owned(),
        labels,
        mountpoint: data.display().to_string(),
        name: name.clone(),
        options,
        scope: "local".to_owned(),
    };
    // Made aside and renamed in, so a half-made volume is never listed.
    let staging = volumes_dir(hoist).join(format!(".new-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("_data")).map_err(io(&staging))?;
    let meta = staging.join("meta.json");
    std::fs::write(
        &meta,
        serde_json::to_vec_pretty(&volume).unwrap_or_default(),
    )
    .map_err(io(&meta))?;
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(volume),
        Err(_) if dir.join("meta.json").is_file() => {
            // Created meanwhile by another process: that one stands.
            let _ = std::fs::remove_dir_all(&staging);
            find(hoist, &name)?.ok_or_else(|| OpsError::NoSuchVolume(name))
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(io(&dir)(error))
        }
    }
}

/// The volume called `name`, if it exists.
pub fn find(hoist: &Hoist, name: &str) -> Result<Option<Volume>, OpsError> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    let meta = volumes_dir(hoist).join(name).join("meta.json");
    match std::fs::read(&meta) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            OpsError::InvalidOption(format!("volume {name}: {} is damaged: {e}", meta.display()))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io(&meta)(error)),
    }
}

/// Every volume, by name.
pub fn list(hoist: &Hoist) -> Result<Vec<Volume>, OpsError> {
    let dir = volumes_dir(hoist);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(&dir)(error)),
    };
    let mut volumes = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if let Some(name) = entry.file_name().to_str()
            && let Some(volume) = find(hoist, name)?
        {
            volumes.push(volume);
        }
    }
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(volumes)
}

/// IDs of the containers that name volume `name` in a `-v`.
pub fn users(hoist: &Hoist, name: &str) -> Result<Vec<String>, OpsError> {
    let mut ids = Vec::new();
    for record in hoist.store.list_containers()? {
        let container = crate::container::Container::from_record(record)?;
        let uses = container.setup.host.binds.iter().any(|bind| {
            crate::container::create::parse_bind(bind)
                .is_ok_and(|b| b.volume.as_deref() == Some(name))
        });
        if uses {
            ids.push(container.id);
        }
    }
    Ok(ids)
}

/// `volume rm [-f]`: refuses a volume a container names (even with `-f`, as Docker).
pub fn remove(hoist: &Hoist, name: &str, force: bool) -> Result<(), OpsError> {
    if find(hoist, name)?.is_none() {
        if force {
            return Ok(());
        }
        return Err(OpsError::NoSuchVolume(name.to_owned()));
    }
    let users = users(hoist, name)?;
    if !users.is_empty() {
        return Err(OpsError::InvalidOption(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    let dir = volumes_dir(hoist).join(name);
    // Renamed out of sight first, so a half-removed volume is never listed.
    let doomed = volumes_dir(hoist).join(format!(".rm-{name}-{}", std::process::id()));
    std::fs::rename(&dir, &doomed).map_err(io(&dir))?;
    std::fs::remove_dir_all(&doomed).map_err(io(&doomed))
}

/// `volume prune [-a]`: removes unused volumes. Docker (23+) removes only anonymous ones unless `all`;
/// hoist makes no anonymous volumes yet, so without `all` nothing goes. Returns the names and bytes freed.
pub fn prune(hoist: &Hoist, all: bool) -> Result<(Vec<String>, u64), OpsError> {
    let mut removed = Vec::new();
    let mut bytes = 0;
    if !all {
        return Ok((removed, bytes));
    }
    for volume in list(hoist)? {
        if users(hoist, &volume.name)?.is_empty() {
            bytes += dir_size(&data_dir(hoist, &volume.name));
            remove(hoist, &volume.name, false)?;
            removed.push(volume.name);
        }
    }
    Ok((removed, bytes))
}

fn dir_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.size(),
            Err(_) => 0,
        })
        .sum()
}
