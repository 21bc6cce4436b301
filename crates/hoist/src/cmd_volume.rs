//! Volume commands: `volume create`, `ls`, `inspect`, `rm`, `prune`, with Docker's output.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use hoist_ops::Hoist;
use hoist_render::TableSpec;
use serde::Serialize;

use crate::cli::{
    VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::output;

/// `KEY=VALUE` (or `KEY`) pairs of `--label`.
fn pairs(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

pub(crate) fn create(hoist: &Hoist, a: &VolumeCreateArgs) -> Result<u8> {
    let name = match (&a.name, &a.name_flag) {
        (Some(positional), Some(flag)) if positional != flag => {
            bail!("conflicting options: either specify --name or provide positional arg, not both")
        }
        (Some(name), _) | (None, Some(name)) => Some(name.as_str()),
        (None, None) => None,
    };
    let volume =
        hoist_ops::volume::create(hoist, name, &a.driver, pairs(&a.labels), pairs(&a.opts))?;
    println!("{}", volume.name);
    Ok(0)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeRow {
    driver: String,
    labels: String,
    mountpoint: String,
    name: String,
    scope: String,
}

pub(crate) fn ls(hoist: &Hoist, a: &VolumeLsArgs) -> Result<u8> {
    let mut volumes = hoist_ops::volume::list(hoist)?;
    for filter in &a.filters {
        let (key, value) = filter
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        let mut keep = Vec::new();
        for v in volumes {
            let kept = match key {
                "name" => v.name.contains(value),
                "driver" => v.driver == value,
                "label" => match value.split_once('=') {
                    Some((k, val)) => v.labels.get(k).is_some_and(|l| l == val),
                    None => v.labels.contains_key(value),
                },
                "dangling" => {
                    let unused = hoist_ops::volume::users(hoist, &v.name)?.is_empty();
                    match value {
                        "true" | "1" => unused,
                        "false" | "0" => !unused,
                        _ => bail!("invalid filter 'dangling={value}'"),
                    }
                }
                other => bail!("invalid filter '{other}'"),
            };
            if kept {
                keep.push(v);
            }
        }
        volumes = keep;
    }
    if a.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    let rows: Vec<VolumeRow> = volumes
        .into_iter()
        .map(|v| VolumeRow {
            labels: v
                .labels
                .iter()
                .map(|(k, val)| format!("{k}={val}"))
                .collect::<Vec<_>>()
                .join(","),
            driver: v.driver,
            mountpoint: v.mountpoint,
            name: v.name,
            scope: v.scope,
        })
        .collect();
    let spec = TableSpec {
        default_template: "{{.Driver}}\t{{.Name}}",
        headers: &[
            ("Driver", "DRIVER"),
            ("Name", "VOLUME NAME"),
            ("Mountpoint", "MOUNTPOINT"),
            ("Labels", "LABELS"),
            ("Scope", "SCOPE"),
        ],
    };
    output::render(a.format.as_deref(), &rows, &spec)?;
    Ok(0)
}

pub(crate) fn inspect(hoist: &Hoist, a: &VolumeInspectArgs) -> Result<u8> {
    let mut docs = Vec::new();
    let mut status = 0;
    for name in &a.volumes {
        match hoist_ops::volume::find(hoist, name)? {
            Some(volume) => docs.push(serde_json::to_value(volume)?),
            None => {
                eprintln!("Error response from daemon: get {name}: no such volume");
                status = 1;
            }
        }
    }
    output::inspect_documents(a.format.as_deref(), &docs)?;
    Ok(status)
}

pub(crate) fn rm(hoist: &Hoist, a: &VolumeRmArgs) -> Result<u8> {
    let mut status = 0;
    for name in &a.volumes {
        match hoist_ops::volume::remove(hoist, name, a.force) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

pub(crate) fn prune(hoist: &Hoist, a: &VolumePruneArgs) -> Result<u8> {
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !a.force && !crate::cmd_images::confirm(warning)? {
        return Ok(0);
    }
    let (removed, bytes) = hoist_ops::volume::prune(hoist, a.all)?;
    if !removed.is_empty() {
        println!("Deleted Volumes:");
        for name in &removed {
            println!("{name}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", output::size4(bytes));
    Ok(0)
}
