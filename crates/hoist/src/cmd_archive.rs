//! `save`, `load` and `import`: streams to and from files and pipes, Docker's messages, and no partial
//! output file left behind on failure.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hoist_archive::LoadEvent;
use hoist_ops::Hoist;

use crate::cli::{ImportArgs, LoadArgs, SaveArgs};
use crate::output;
use crate::progress::{Lines, bar};

pub(crate) fn save(hoist: &Hoist, a: &SaveArgs) -> Result<u8> {
    let images = hoist_ops::transfer::resolve_save_args(hoist, &a.images)?;
    let mut no_progress = |_| {};
    match &a.output {
        Some(path) => {
            // Write beside the target and rename at the end, so a failed save leaves no half-written file.
            // No fsync: like `docker save` and `cp`, durability is left to the file system's writeback.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(".{name}.hoist-tmp-{}", std::process::id()));
            let result = (|| -> Result<()> {
                let mut file =
                    File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
                hoist_ops::transfer::save(hoist, &images, &mut file, &mut no_progress)?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let fd = io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating standard output")?;
            let mut file = File::from(fd);
            match hoist_ops::transfer::save(hoist, &images, &mut file, &mut no_progress) {
                Err(hoist_ops::OpsError::Archive(hoist_archive::ArchiveError::Write(e)))
                    if e.kind() == io::ErrorKind::BrokenPipe =>
                {
                    bail!("writing to standard output: the reader closed the pipe");
                }
                other => other?,
            }
        }
    }
    Ok(0)
}

pub(crate) fn load(hoist: &Hoist, a: &LoadArgs) -> Result<u8> {
    let input: Box<dyn Read> = match &a.input {
        Some(path) => {
            Box::new(File::open(path).with_context(|| format!("open {}", path.display()))?)
        }
        None => {
            if io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(io::stdin().lock())
        }
    };
    let show_progress = !a.quiet && io::stdout().is_terminal();
    let mut lines = Lines::default();
    let mut messages = String::new();
    let mut on_event = |event: LoadEvent| match event {
        LoadEvent::Layer { name, done, total } if show_progress => {
            let id: String = name
                .trim_start_matches("blobs/sha256/")
                .chars()
                .take(12)
                .collect();
            lines.update(
                &name,
                &format!("{id}: Loading layer {}", bar(done, total)),
                done == total,
            );
        }
        LoadEvent::Layer { .. } => {}
        LoadEvent::Tagged { name, replaced, .. } => {
            if let Some(old) = replaced {
                messages.push_str(&format!(
                    "The image {} already exists, renaming the old one with ID {old} to empty string\n",
                    name.familiar()
                ));
            }
        }
    };
    let loaded = hoist_ops::transfer::load(hoist, input, &mut on_event);
    lines.finish();
    let loaded = loaded?;
    for image in &loaded {
        if image.tags.is_empty() {
            messages.push_str(&format!("Loaded image ID: {}\n", image.id));
        }
        for tag in &image.tags {
            messages.push_str(&format!("Loaded image: {}\n", tag.familiar()));
        }
    }
    output::write_stdout(messages.as_bytes())?;
    Ok(0)
}

pub(crate) fn import(hoist: &Hoist, a: &ImportArgs) -> Result<u8> {
    use hoist_ops::import::{ImportOptions, ImportSource};
    let source = if a.source == "-" {
        ImportSource::Stdin
    } else if a.source.starts_with("http://") || a.source.starts_with("https://") {
        ImportSource::Url(a.source.clone())
    } else {
        ImportSource::File(a.source.clone().into())
    };
    let opts = ImportOptions {
        source,
        reference: a.reference.clone(),
        changes: a.change.clone(),
        message: a.message.clone(),
        platform: a.platform.clone(),
    };
    let id = hoist_ops::import::import(hoist, opts, &mut io::stdin().lock())?;
    output::write_stdout(format!("{id}\n").as_bytes())?;
    Ok(0)
}
