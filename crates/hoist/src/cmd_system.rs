//! `system df`, `info`, `version`, `system check` and `system gc`.

use anyhow::Result;
use hoist_ops::Hoist;
use hoist_render::TableSpec;
use serde::Serialize;
use serde_json::json;

use crate::cli::{DfArgs, FormatArgs, GcArgs};
use crate::cmd_images::{IMAGE_HEADERS, ImageView};
use crate::output::{self, size4};

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfRow {
    active: String,
    reclaimable: String,
    size: String,
    total_count: String,
    #[serde(rename = "Type")]
    kind: String,
}

pub(crate) fn df(hoist: &Hoist, a: &DfArgs) -> Result<u8> {
    let usage = hoist_ops::df::disk_usage(hoist)?;
    if a.verbose && a.format.as_deref().is_none_or(str::is_empty) {
        let mut out = String::from("Images space usage:\n\n");
        let now = chrono::Utc::now();
        let rows: Vec<_> = usage
            .rows
            .iter()
            .map(|row| ImageView {
                row,
                no_trunc: false,
                now,
            })
            .collect();
        let spec = TableSpec {
            default_template: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            headers: IMAGE_HEADERS,
        };
        let mut buf = Vec::new();
        hoist_render::render_rows(&hoist_render::Format::DefaultTable, &rows, &spec, &mut buf)?;
        out.push_str(&String::from_utf8_lossy(&buf));
        out.push_str("\nContainers space usage:\n\n");
        out.push_str("CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n");
        out.push_str("\nLocal Volumes space usage:\n\n");
        out.push_str("VOLUME NAME   LINKS     SIZE\n");
        let cache = hoist_ops::builder::disk_usage(hoist)?;
        let total: u64 = cache.iter().map(|e| e.record.size).sum();
        out.push_str(&format!("\nBuild cache usage: {}\n\n", size4(total)));
        let ago = |nanos: i64| {
            let then = chrono::DateTime::from_timestamp_nanos(nanos);
            let elapsed = (now - then).to_std().unwrap_or_default();
            format!("{} ago", hoist_render::units::human_duration(elapsed))
        };
        let rows: Vec<Vec<String>> = cache
            .iter()
            .map(|e| {
                vec![
                    e.record.key.hex()[..12].to_owned(),
                    e.record.kind.clone(),
                    size4(e.record.size),
                    ago(e.record.created),
                    ago(e.record.last_used),
                    e.record.usage_count.to_string(),
                    e.shared.to_string(),
                ]
            })
            .collect();
        let mut table = Vec::new();
        hoist_render::table::write_table(
            &[
                "CACHE ID",
                "CACHE TYPE",
                "SIZE",
                "CREATED",
                "LAST USED",
                "USAGE",
                "SHARED",
            ],
            &rows,
            &mut table,
        )?;
        out.push_str(&String::from_utf8_lossy(&table));
        output::write_stdout(out.as_bytes())?;
        return Ok(0);
    }
    let percent = |part: u64, whole: u64| match (part * 100).checked_div(whole) {
        Some(share) => format!("{} ({share}%)", size4(part)),
        None => size4(0),
    };
    let reclaimable = percent(usage.images_reclaimable, usage.layers_size);
    let row = |kind: &str, total: usize, active: usize, size: String, reclaimable: String| DfRow {
        active: active.to_string(),
        reclaimable,
        size,
        total_count: total.to_string(),
        kind: kind.to_owned(),
    };
    let rows = vec![
        row(
            "Images",
            usage.images,
            usage.active_images,
            size4(usage.layers_size),
            reclaimable,
        ),
        row(
            "Containers",
            usage.containers,
            usage.running_containers,
            size4(usage.containers_size),
            percent(usage.containers_reclaimable, usage.containers_size),
        ),
        row("Local Volumes", 0, 0, size4(0), size4(0)),
        {
            let cache = hoist_ops::builder::disk_usage(hoist)?;
            let total: u64 = cache.iter().map(|e| e.record.size).sum();
            let reclaimable: u64 = cache
                .iter()
                .filter(|e| e.reclaimable)
                .map(|e| e.record.size)
                .sum();
            // Docker shows the build cache's reclaimable bytes without a share.
            row(
                "Build Cache",
                cache.len(),
                0,
                size4(total),
                size4(reclaimable),
            )
        },
    ];
    let spec = TableSpec {
        default_template: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        headers: &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
    };
    output::render(a.format.as_deref(), &rows, &spec)?;
    Ok(0)
}

/// `--format` over one document: `json` prints it compactly, anything else is a Go template.
fn render_document(format: &str, doc: serde_json::Value) -> Result<()> {
    let mut buf = Vec::new();
    if format == "json" {
        hoist_render::write_inspect_json_compact(&[doc], &mut buf)?;
    } else {
        hoist_render::render_one(format, &doc, &mut buf)?;
    }
    output::write_stdout(&buf)
}

fn version_string() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn os_arch() -> String {
    hoist_spec::Platform::host().to_string()
}

pub(crate) fn version(a: &FormatArgs) -> Result<u8> {
    let doc = json!({
        "Client": {
            "Platform": {"Name": "hoist"},
            "Version": version_string(),
            "ApiVersion": "1.41",
            "Os": std::env::consts::OS,
            "Arch": hoist_spec::Platform::host().architecture,
            "Context": "default",
        }
    });
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        render_document(f, doc)?;
        return Ok(0);
    }
    let text = format!(
        "Client: hoist\n Version:           {}\n API version:       1.41\n OS/Arch:           {}\n Context:           default\n\nServer: none (hoist is daemonless; every command works on the local store directly)\n",
        version_string(),
        os_arch(),
    );
    output::write_stdout(text.as_bytes())?;
    Ok(0)
}

pub(crate) fn info(hoist: &Hoist, a: &FormatArgs) -> Result<u8> {
    let counts = hoist.store.counts()?;
    let s = &hoist.settings;
    let driver = hoist_ops::container::storage_driver(hoist)?.to_string();
    let containers = hoist_ops::container::counts(hoist)?;
    let doc = json!({
        "ID": "",
        "Containers": containers.total,
        "ContainersRunning": containers.running,
        "ContainersPaused": 0,
        "ContainersStopped": containers.total - containers.running,
        "Images": counts.images,
        "Driver": driver,
        "DockerRootDir": s.root.display().to_string(),
        "ConfigFile": s.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "OperatingSystem": std::env::consts::OS,
        "Architecture": std::env::consts::ARCH,
        "ServerVersion": format!("hoist {}", version_string()),
        "RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {},
            "Mirrors": s.registry_mirrors,
        },
        "InsecureRegistries": s.insecure_registries,
        "MaxConcurrentDownloads": s.max_concurrent_downloads,
        "MaxConcurrentUploads": s.max_concurrent_uploads,
        "LiveRestoreEnabled": false,
    });
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        render_document(f, doc)?;
        return Ok(0);
    }
    let mut t = String::new();
    t.push_str("Client:\n Context:    default\n Debug Mode: false\n\n");
    t.push_str("Server:\n");
    t.push_str(&format!(
        " Containers: {}\n  Running: {}\n  Paused: 0\n  Stopped: {}\n",
        containers.total,
        containers.running,
        containers.total - containers.running
    ));
    t.push_str(&format!(" Images: {}\n", counts.images));
    t.push_str(&format!(
        " Server Version: hoist {} (daemonless)\n",
        version_string()
    ));
    t.push_str(&format!(" Storage Driver: {driver}\n"));
    t.push_str(&format!("  Blobs: {}\n", s.root.join("blobs").display()));
    t.push_str("  Metadata: sqlite (WAL)\n");
    t.push_str(&format!(" Operating System: {}\n", std::env::consts::OS));
    t.push_str(&format!(" Architecture: {}\n", std::env::consts::ARCH));
    t.push_str(&format!(" Docker Root Dir: {}\n", s.root.display()));
    if let Some(p) = &s.config_file {
        t.push_str(&format!(" Config File: {}\n", p.display()));
    }
    t.push_str(" Debug Mode: false\n");
    t.push_str(" Insecure Registries:\n");
    for r in &s.insecure_registries {
        t.push_str(&format!("  {r}\n"));
    }
    t.push_str("  127.0.0.0/8\n");
    if !s.registry_mirrors.is_empty() {
        t.push_str(" Registry Mirrors:\n");
        for m in &s.registry_mirrors {
            t.push_str(&format!("  {m}\n"));
        }
    }
    t.push_str(" Live Restore Enabled: false\n");
    output::write_stdout(t.as_bytes())?;
    Ok(0)
}

pub(crate) fn check(hoist: &Hoist) -> Result<u8> {
    let report = hoist.store.check()?;
    let mut t = String::new();
    for c in &report.corrupt {
        t.push_str(&format!(
            "corrupt blob {}: content is {} ({})\n",
            c.expected,
            c.found,
            c.path.display()
        ));
    }
    for m in &report.missing {
        t.push_str(&format!(
            "missing blob {} (referenced by {:?})\n",
            m.digest, m.referenced_by
        ));
    }
    for u in &report.unexpected_files {
        t.push_str(&format!("unexpected file {}\n", u.display()));
    }
    t.push_str(&format!(
        "checked {} blobs ({}): {}\n",
        report.blobs_checked,
        size4(report.bytes_checked),
        if report.is_clean() {
            "all good"
        } else {
            "PROBLEMS FOUND"
        }
    ));
    output::write_stdout(t.as_bytes())?;
    Ok(u8::from(!report.is_clean()))
}

pub(crate) fn gc(hoist: &Hoist, a: &GcArgs) -> Result<u8> {
    let report = hoist.store.gc(a.dry_run)?;
    let mut t = String::new();
    for b in &report.removed {
        t.push_str(&format!(
            "{} {}\n",
            if a.dry_run { "would remove" } else { "removed" },
            b.digest
        ));
    }
    t.push_str(&format!(
        "Total reclaimed space: {}\n",
        size4(report.reclaimed)
    ));
    output::write_stdout(t.as_bytes())?;
    Ok(0)
}
