//! `inspect` for containers: Docker's container JSON (the fields hoist has, in Docker's order and with
//! its zero values).

use hoist_store::RootfsLayout;
use serde_json::{Map, Value, json};

use super::{Container, Status, container_dir, find, log_path};
use crate::{Hoist, OpsError};

/// Docker's zero time, shown for a start or finish that has not happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(nanos: Option<i64>) -> String {
    match nanos {
        Some(n) => hoist_render::gotime::rfc3339_nano(&chrono::DateTime::from_timestamp_nanos(n)),
        None => ZERO_TIME.to_owned(),
    }
}

/// The inspect document of the container `input` names.
/// With `size`, `SizeRw` and `SizeRootFs` too (`inspect -s`).
pub fn inspect_container(hoist: &Hoist, input: &str, size: bool) -> Result<Value, OpsError> {
    let c = find(hoist, input)?;
    let mut doc = document(hoist, &c);
    if size && let Value::Object(map) = &mut doc {
        let (rw, root) = hoist.store.container_sizes(&c.id)?;
        map.insert("SizeRw".into(), Value::from(rw));
        map.insert("SizeRootFs".into(), Value::from(root));
    }
    Ok(doc)
}

pub(crate) fn document(hoist: &Hoist, c: &Container) -> Value {
    let dir = container_dir(hoist, &c.id);
    let path = |name: &str| Value::from(dir.join(name).display().to_string());
    let state = &c.state;
    let mut doc = Map::new();
    doc.insert("Id".into(), Value::from(c.id.clone()));
    doc.insert("Created".into(), Value::from(time(Some(c.created))));
    doc.insert("Path".into(), Value::from(c.setup.path.clone()));
    doc.insert("Args".into(), json!(c.setup.args));
    doc.insert(
        "State".into(),
        json!({
            "Status": if state.paused && state.status == Status::Running { "paused" } else { state.status.as_str() },
            "Running": state.status == Status::Running,
            "Paused": state.paused && state.status == Status::Running,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": state.status == Status::Dead,
            "Pid": state.pid,
            "ExitCode": state.exit_code,
            "Error": state.error,
            "StartedAt": time(state.started_at),
            "FinishedAt": time(state.finished_at),
        }),
    );
    doc.insert("Image".into(), Value::from(c.image.to_string()));
    doc.insert("ResolvConfPath".into(), path("resolv.conf"));
    doc.insert("HostnamePath".into(), path("hostname"));
    doc.insert("HostsPath".into(), path("hosts"));
    doc.insert(
        "LogPath".into(),
        Value::from(log_path(hoist, &c.id).display().to_string()),
    );
    doc.insert("Name".into(), Value::from(format!("/{}", c.name)));
    doc.insert("RestartCount".into(), Value::from(0));
    doc.insert("Driver".into(), Value::from(c.setup.driver.clone()));
    doc.insert("Platform".into(), Value::from("linux"));
    doc.insert("MountLabel".into(), Value::from(""));
    doc.insert("ProcessLabel".into(), Value::from(""));
    doc.insert("AppArmorProfile".into(), Value::from(""));
    doc.insert("ExecIDs".into(), Value::Null);
    let host = &c.setup.host;
    doc.insert(
        "HostConfig".into(),
        json!({
            "Binds": if host.binds.is_empty() { Value::Null } else { json!(host.binds) },
            "ContainerIDFile": "",
            "LogConfig": { "Type": "json-file", "Config": {} },
            "NetworkMode": host.network_mode,
            "PortBindings": host.port_bindings,
            "PublishAllPorts": host.publish_all_ports,
            "RestartPolicy": { "Name": "no", "MaximumRetryCount": 0 },
            "AutoRemove": host.auto_remove,
            "Memory": host.memory,
            "NanoCpus": host.nano_cpus,
            "CapAdd": if host.cap_add.is_empty() { Value::Null } else { json!(host.cap_add) },
            "CapDrop": if host.cap_drop.is_empty() { Value::Null } else { json!(host.cap_drop) },
            "Privileged": host.privileged,
            "SecurityOpt": if host.security_opt.is_empty() { Value::Null } else { json!(host.security_opt) },
            "ReadonlyRootfs": host.readonly_rootfs,
            "PidsLimit": host.pids_limit,
            "ShmSize": if host.shm_size > 0 { host.shm_size } else { 64 << 20 },
            "Devices": host.devices,
            "Tmpfs": if host.tmpfs.is_empty() { Value::Null } else { json!(host.tmpfs) },
            "GroupAdd": if host.group_add.is_empty() { Value::Null } else { json!(host.group_add) },
            "IpcMode": if host.ipc_mode.is_empty() { "private" } else { host.ipc_mode.as_str() },
            "PidMode": host.pid_mode,
            "UTSMode": host.uts_mode,
            "CpuShares": host.cpu_shares,
            "CpuPeriod": host.cpu_period,
            "CpuQuota": host.cpu_quota,
            "Ulimits": host
                .ulimits
                .iter()
                .filter_map(|u| hoist_runtime::Ulimit::parse(u).ok())
                .map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard}))
                .collect::<Vec<_>>(),
        }),
    );
    doc.insert("GraphDriver".into(), graph_driver(hoist, c));
    let mounts: Vec<Value> = host
        .binds
        .iter()
        .filter_map(|b| super::create::parse_bind(b).ok())
        .map(|b| match &b.volume {
            Some(name) => json!({
                "Type": "volume",
                "Name": name,
                "Source": crate::volume::data_dir(hoist, name).display().to_string(),
                "Destination": b.destination,
                "Driver": "local",
                "Mode": if b.read_only { "ro" } else { "z" },
                "RW": !b.read_only,
                "Propagation": "",
            }),
            None => json!({
                "Type": "bind",
                "Source": b.source.display().to_string(),
                "Destination": b.destination,
                "Mode": if b.read_only { "ro" } else { "" },
                "RW": !b.read_only,
                "Propagation": "rprivate",
            }),
        })
        .collect();
    doc.insert("Mounts".into(), Value::Array(mounts));
    doc.insert(
        "Config".into(),
        crate::docker_config::docker_container_config(&c.setup.config),
    );
    doc.insert(
        "NetworkSettings".into(),
        json!({
            "Networks": { host.network_mode.clone(): {} },
            "Ports": host.port_bindings,
        }),
    );
    Value::Object(doc)
}

fn graph_driver(hoist: &Hoist, c: &Container) -> Value {
    let data = match hoist.store.container_snapshot(&c.id) {
        Ok(RootfsLayout::Overlay {
            lowers,
            upper,
            work,
        }) => json!({
            "LowerDir": lowers.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":"),
            "MergedDir": container_dir(hoist, &c.id).join("rootfs").display().to_string(),
            "UpperDir": upper.display().to_string(),
            "WorkDir": work.display().to_string(),
        }),
        Ok(RootfsLayout::Directory(dir)) => json!({ "RootDir": dir.display().to_string() }),
        Err(_) => Value::Null,
    };
    json!({ "Data": data, "Name": c.setup.driver })
}
