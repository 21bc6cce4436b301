//! `pull`, `push` and `manifest inspect`: registry transfers with Docker's per-layer progress board
//! (redrawn in place on a terminal, one line per status change otherwise) and Docker's closing lines.

use std::io::{self, IsTerminal, Stdout};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use hoist_ops::Hoist;
use hoist_ops::pull::{LayerStatus, PullEvent, PullEvents, PullOptions};
use hoist_ops::push::{PushEvent, PushEvents, PushStatus};
use hoist_spec::Platform;

use crate::cli::{CopyArgs, ManifestInspectArgs, PullArgs, PushArgs};
use crate::progress::Board;

/// A runtime for one transfer command: the layer downloads run on its worker threads.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

type SharedBoard = Arc<Mutex<Board<Stdout>>>;

fn board() -> SharedBoard {
    Arc::new(Mutex::new(Board::new(
        io::stdout(),
        io::stdout().is_terminal(),
    )))
}

fn with_board(board: &SharedBoard, draw: impl FnOnce(&mut Board<Stdout>)) {
    let mut board = board.lock().unwrap_or_else(PoisonError::into_inner);
    draw(&mut board);
}

/// A reference with neither tag nor digest: Docker says it uses `latest`.
fn names_only(name: &str) -> bool {
    hoist_spec::Reference::parse_normalized(name)
        .is_ok_and(|r| r.tag().is_none() && r.digest().is_none())
}

pub(crate) fn pull(hoist: &Hoist, a: &PullArgs) -> Result<u8> {
    pull_announcing(hoist, a, true)
}

/// `pull`; without `announce`, the final name line is left out (`run` pulls quietly and reports on stderr).
pub(crate) fn pull_announcing(hoist: &Hoist, a: &PullArgs, announce: bool) -> Result<u8> {
    let platform = a
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| hoist_ops::OpsError::InvalidPlatform(e.to_string()))?;
    let options = PullOptions {
        platform,
        all_tags: a.all_tags,
    };
    let client = hoist_ops::registry::client(&hoist.settings)?;
    let board = board();
    let quiet = a.quiet;
    let drawn = board.clone();
    let events: PullEvents = Arc::new(move |event| {
        if quiet {
            return;
        }
        with_board(&drawn, |b| match event {
            PullEvent::PullingFrom { tag, repository } => {
                b.message(&format!("{tag}: Pulling from {repository}"));
            }
            PullEvent::Layer { id, status } => {
                let progress = match status {
                    LayerStatus::Downloading { current, total } => Some((current, total)),
                    _ => None,
                };
                b.layer(&id, status.text(), progress);
            }
            PullEvent::Digest(digest) => b.message(&format!("Digest: {digest}")),
            PullEvent::Status(status) => b.message(&format!("Status: {status}")),
        });
    });
    if !a.quiet && !a.all_tags && names_only(&a.name) {
        println!("Using default tag: latest");
    }
    let pulled = runtime()?.block_on(hoist_ops::pull::pull(
        hoist, &client, &a.name, &options, &events,
    ))?;
    // Docker ends with the full name pulled (the repository alone for --all-tags).
    let last = if a.all_tags {
        pulled.last().map(|p| p.reference.repository())
    } else {
        pulled.last().map(|p| p.reference.to_string())
    };
    if let Some(name) = last
        && announce
    {
        println!("{name}");
    }
    Ok(0)
}

pub(crate) fn push(hoist: &Hoist, a: &PushArgs) -> Result<u8> {
    if !a.quiet && !a.all_tags && a.names.iter().any(|n| names_only(n)) {
        println!("Using default tag: latest");
    }
    push_names(hoist, &a.names, a.all_tags, a.quiet)
}

/// Pushes `names` drawing Docker's layer board (also `build --push`).
pub(crate) fn push_names(
    hoist: &Hoist,
    names: &[String],
    all_tags: bool,
    quiet: bool,
) -> Result<u8> {
    let client = hoist_ops::registry::client(&hoist.settings)?;
    let board = board();
    let drawn = board.clone();
    let events: PushEvents = Arc::new(move |event| {
        if quiet {
            return;
        }
        with_board(&drawn, |b| match event {
            PushEvent::Repository(name) => {
                b.message(&format!("The push refers to repository [{name}]"));
            }
            PushEvent::Layer { id, status } => {
                let progress = match status {
                    PushStatus::Pushing { current, total } => Some((current, total)),
                    _ => None,
                };
                b.layer(&id, &status.text(), progress);
            }
            PushEvent::Pushed { tag, digest, size } => {
                b.message(&format!("{tag}: digest: {digest} size: {size}"));
            }
        });
    });
    let options = hoist_ops::push::PushOptionsCli {
        all_tags,
        chunk_size: None,
    };
    let pushed = runtime()?.block_on(hoist_ops::push::push(
        hoist, &client, names, &options, &events,
    ))?;
    if quiet {
        for image in pushed {
            println!("{}", image.reference);
        }
    }
    Ok(0)
}

pub(crate) fn manifest_inspect(
    settings: &hoist_ops::Settings,
    a: &ManifestInspectArgs,
) -> Result<u8> {
    let mut settings = settings.clone();
    let name = match a.names.as_slice() {
        [name] => name,
        // hoist keeps no local manifest lists (`docker manifest create`), so a list is never found.
        [list, _] => anyhow::bail!("No such manifest: {list}"),
        _ => {
            anyhow::bail!("\"hoist manifest inspect\" requires at least 1 and at most 2 arguments.")
        }
    };
    if a.insecure
        && let Ok(reference) = hoist_spec::Reference::parse_normalized(name)
    {
        settings
            .insecure_registries
            .push(reference.domain().to_owned());
    }
    let client = hoist_ops::registry::client(&settings)?;
    let text = runtime()?.block_on(hoist_ops::manifest::inspect(&client, name, a.verbose))?;
    println!("{text}");
    Ok(0)
}

pub(crate) fn copy(hoist: &Hoist, a: &CopyArgs) -> Result<u8> {
    use hoist_ops::copy::{CopyEvent, CopyEvents, CopyOptions, Location};
    let source = Location::parse(&a.source)?;
    let destination = Location::parse(&a.destination)?;
    let mut settings = hoist.settings.clone();
    for (location, verify) in [
        (&source, a.src_tls_verify),
        (&destination, a.dest_tls_verify),
    ] {
        if verify == Some(false)
            && let Location::Registry(reference) = location
        {
            settings
                .insecure_registries
                .push(reference.domain().to_owned());
        }
    }
    let client = hoist_ops::registry::client(&settings)?;
    let platform = a
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| hoist_ops::OpsError::InvalidPlatform(e.to_string()))?;
    let options = CopyOptions {
        all: a.all,
        platform,
    };
    let quiet = a.quiet;
    let events: CopyEvents = Arc::new(move |event| {
        if quiet {
            return;
        }
        match event {
            CopyEvent::Blob { digest, skipped } => {
                let short = digest.short().to_owned();
                if skipped {
                    println!("Copying blob {short} skipped: already exists");
                } else {
                    println!("Copying blob {short} done");
                }
            }
            CopyEvent::WritingManifest => println!("Writing manifest to image destination"),
            CopyEvent::Referrer(digest) => println!("Copying referrer {digest} done"),
        }
    });
    if !quiet {
        println!("Getting image source signatures");
    }
    runtime()?.block_on(hoist_ops::copy::copy(
        hoist,
        &client,
        &source,
        &destination,
        &options,
        &events,
    ))?;
    Ok(0)
}
