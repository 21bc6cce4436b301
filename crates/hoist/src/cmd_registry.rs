//! `hoist registry serve [CONFIG.yml]` and `hoist registry garbage-collect`: a drop-in for distribution's
//! registry:2, configured by the same file and REGISTRY_* variables, data under the hoist root by default.

use std::path::Path;

use anyhow::{Context, Result};
use hoist_registry_server::config::Config;
use hoist_registry_server::server::Server;
use hoist_registry_server::storage::{FsBackend, GcOptions, RegistryStorage};

use crate::cli::{RegistryGcArgs, RegistryServeArgs};
use crate::output;

/// Reads the configuration file (if any) and applies the REGISTRY_* environment over it.
fn load_config(path: Option<&Path>, hoist_root: &Path) -> Result<Config> {
    let text = match path {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let env = std::env::vars().filter(|(k, _)| k.starts_with("REGISTRY_"));
    let config = Config::load(text.as_deref(), env, &hoist_root.join("registry"));
    match path {
        Some(p) => config.with_context(|| format!("configuration {}", p.display())),
        None => config.context("registry configuration"),
    }
}

const BLOCKING_THREADS: usize = 32;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        // File I/O runs on blocking threads; tokio's default allows 512, and each brings its own
        // allocator heap. A few dozen keep the disks busy without memory growing with the number of
        // concurrent uploads.
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server runs until killed, as before.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub(crate) fn serve(settings: &hoist_ops::Settings, a: &RegistryServeArgs) -> Result<u8> {
    let config = load_config(a.config.as_deref(), &settings.root)?;
    runtime()?.block_on(async move {
        // The server logs where it listens; every request is logged at info level.
        let server = Server::bind(config).await?;
        server.run(shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

pub(crate) fn garbage_collect(settings: &hoist_ops::Settings, a: &RegistryGcArgs) -> Result<u8> {
    let config = load_config(a.config.as_deref(), &settings.root)?;
    let root = config.storage.filesystem.rootdirectory.clone();
    let options = GcOptions {
        dry_run: a.dry_run,
        delete_untagged: a.delete_untagged,
        ..GcOptions::default()
    };
    let report = runtime()?.block_on(async move {
        let storage = RegistryStorage::new(FsBackend::new(root));
        storage.garbage_collect(&options).await
    })?;
    let verb = if a.dry_run {
        "eligible for deletion"
    } else {
        "deleted"
    };
    let mut out = String::new();
    for (repo, digest) in &report.manifests_deleted {
        out.push_str(&format!("{repo}: manifest {verb}: {digest}\n"));
    }
    for digest in &report.blobs_deleted {
        out.push_str(&format!("blob {verb}: {digest}\n"));
    }
    for (repo, id) in &report.uploads_purged {
        out.push_str(&format!("{repo}: abandoned upload {verb}: {id}\n"));
    }
    out.push_str(&format!(
        "{} blobs marked, {} blobs and {} manifests {verb}, {} recent blobs kept\n",
        report.blobs_marked,
        report.blobs_deleted.len(),
        report.manifests_deleted.len(),
        report.blobs_recent.len(),
    ));
    output::write_stdout(out.as_bytes())?;
    Ok(0)
}
