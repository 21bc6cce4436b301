//! `build`, `builder prune`, `builder du`: flags into a build request, BuildKit's plain progress drawn on
//! stderr, Docker's closing lines.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, Result, anyhow, bail};
use hoist_ops::Hoist;
use hoist_ops::build::{BuildEvent, BuildOptions, ContextSource, NamedContext};
use hoist_ops::build::{BuildRequest, DockerfileSource};

use crate::cli::{BuildArgs, BuilderDuArgs, BuilderPruneArgs};

/// Docker's rule for a remote context: a git URL (`.git`, `git@`, `git://`, `github.com/`) or http(s).
fn context_source(
    arg: &str,
    file: Option<&str>,
) -> Result<(ContextSource, Option<DockerfileSource>)> {
    if arg == "-" {
        if file == Some("-") {
            bail!("invalid argument: can't use stdin for both build context and dockerfile");
        }
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .context("reading the build context from stdin")?;
        if looks_like_archive(&input) {
            return Ok((
                ContextSource::Tar(Box::new(std::io::Cursor::new(input))),
                None,
            ));
        }
        let text = String::from_utf8(input).context("the Dockerfile on stdin is not UTF-8")?;
        return Ok((ContextSource::Empty, Some(DockerfileSource::Text(text))));
    }
    let git = arg.starts_with("git@")
        || arg.starts_with("git://")
        || arg.starts_with("github.com/")
        || ((arg.starts_with("http://") || arg.starts_with("https://"))
            && (arg.split('#').next().is_some_and(|u| u.ends_with(".git"))));
    if git {
        return Ok((ContextSource::Git(arg.to_owned()), None));
    }
    if arg.starts_with("http://") || arg.starts_with("https://") {
        return Ok((ContextSource::Http(arg.to_owned()), None));
    }
    let path = std::path::Path::new(arg);
    if !path.exists() {
        bail!("unable to prepare context: path {arg:?} not found");
    }
    if path.is_file() {
        bail!("unable to prepare context: path {arg:?} is not a directory");
    }
    Ok((ContextSource::Directory(path.to_path_buf()), None))
}

fn looks_like_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
        || bytes.starts_with(b"BZh")
        || bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (bytes.len() >= 262 && &bytes[257..262] == b"ustar")
}

fn key_values(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) => {
                map.insert(k.to_owned(), v.to_owned());
            }
            // `--build-arg NAME` takes the value from the environment, and is dropped when unset.
            None if what == "build-arg" => {
                if let Ok(v) = std::env::var(item) {
                    map.insert(item.clone(), v);
                }
            }
            None => bail!("invalid {what} {item:?}: expected KEY=VALUE"),
        }
    }
    Ok(map)
}

/// `--secret id=NAME[,src=PATH|,env=VAR]`; with neither, the variable named like the id, as buildx does.
fn secrets(items: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut map = BTreeMap::new();
    for item in items {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for field in item.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_owned()),
                Some(("src" | "source", v)) => src = Some(v.to_owned()),
                Some(("env", v)) => env = Some(v.to_owned()),
                Some(("type", "file" | "env")) => {}
                _ => bail!("invalid secret {item:?}: unexpected key in {field:?}"),
            }
        }
        let id = id
            .or_else(|| src.clone())
            .ok_or_else(|| anyhow!("invalid secret {item:?}: id is required"))?;
        let value = match (src, env) {
            (Some(path), _) => {
                std::fs::read(&path).with_context(|| format!("reading secret {id} from {path}"))?
            }
            (None, Some(var)) => std::env::var(&var)
                .with_context(|| format!("secret {id}: environment variable {var} is not set"))?
                .into_bytes(),
            (None, None) => match std::env::var(&id) {
                Ok(v) => v.into_bytes(),
                Err(_) => std::fs::read(&id)
                    .with_context(|| format!("secret {id}: no file or variable of that name"))?,
            },
        };
        map.insert(id, value);
    }
    Ok(map)
}

/// A positive size flag (`64m`, `1g`), go-units' binary multipliers as Docker reads `--memory`.
fn byte_size(flag: &str, value: &str) -> Result<u64> {
    hoist_render::units::parse_ram_size(value)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| anyhow!("invalid {flag} {value:?}"))
}

/// `--build-context name=dir|docker-image://ref`.
fn named_contexts(items: &[String]) -> Result<BTreeMap<String, NamedContext>> {
    let mut map = BTreeMap::new();
    for item in items {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid build context {item:?}: expected name=value"))?;
        let named = if let Some(image) = value.strip_prefix("docker-image://") {
            NamedContext::Image(image.to_owned())
        } else if let Some(layout) = value.strip_prefix("oci-layout://") {
            let (path, tag) = match layout.rsplit_once(':') {
                Some((path, tag)) if !tag.contains('/') => (path, Some(tag.to_owned())),
                _ => (layout, None),
            };
            let (path, tag) = match path.split_once('@') {
                Some((path, digest)) => (path, Some(digest.to_owned())),
                None => (path, tag),
            };
            NamedContext::OciLayout(std::fs::canonicalize(path)?, tag)
        } else if value.contains("://") || value.starts_with("git@") {
            bail!(
                "build context {name}: {value:?} is not supported by hoist yet (a directory or docker-image://)"
            );
        } else {
            let dir = std::path::Path::new(value);
            if !dir.is_dir() {
                bail!("build context {name}: {value:?} is not a directory");
            }
            NamedContext::Directory(std::fs::canonicalize(dir)?)
        };
        map.insert(name.to_ascii_lowercase(), named);
    }
    Ok(map)
}

pub(crate) fn build(hoist: &Hoist, a: BuildArgs) -> Result<u8> {
    if !a.ssh.is_empty() {
        bail!(
            "--ssh is not supported by hoist yet: no SSH agent is forwarded to RUN (use --secret for keys)"
        );
    }
    if let Some(isolation) = a.isolation.as_deref()
        && !matches!(isolation, "default" | "process")
    {
        bail!("isolation '{isolation}' is not supported on Linux (only default)");
    }
    match a.progress.as_str() {
        "auto" | "plain" | "tty" | "quiet" | "rawjson" => {}
        other => {
            bail!("invalid progress mode {other:?}: expected auto, plain, tty, quiet or rawjson")
        }
    }
    let mut outputs = a
        .outputs
        .iter()
        .map(|o| hoist_ops::build::BuildOutput::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    if a.push {
        outputs.push(hoist_ops::build::BuildOutput::Push);
    }
    if outputs.len() > 1 {
        bail!("multiple outputs are not supported: use one -o (or --push)");
    }
    let output = outputs
        .pop()
        .unwrap_or(hoist_ops::build::BuildOutput::Store);
    if output == hoist_ops::build::BuildOutput::Push && a.tags.is_empty() {
        bail!("tag is needed when pushing to registry");
    }
    // `--platform a,b` or repeated: one image per platform, pushed as an index.
    let platforms = a
        .platform
        .iter()
        .flat_map(|p| p.split(','))
        .filter(|p| !p.trim().is_empty())
        .map(|p| hoist_spec::Platform::parse(p.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("invalid platform: {e}"))?;
    if platforms.len() > 1
        && !matches!(
            output,
            hoist_ops::build::BuildOutput::Push | hoist_ops::build::BuildOutput::OciArchive(_)
        )
    {
        bail!(
            "a multi-platform build makes an index, which the image store cannot tag: add --push (or -o type=registry, or -o type=oci,dest=FILE)"
        );
    }
    let platform = platforms.first().cloned().filter(|_| platforms.len() == 1);
    let (context, stdin_dockerfile) = context_source(&a.context, a.file.as_deref())?;
    let dockerfile = match (stdin_dockerfile, a.file.as_deref()) {
        (Some(text), _) => text,
        (None, Some("-")) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Dockerfile from stdin")?;
            DockerfileSource::Text(text)
        }
        // As the Docker CLI: with a local context, a relative -f is relative to the working directory.
        (None, Some(path)) => match &context {
            ContextSource::Directory(_) if !path.starts_with('/') => {
                let absolute = std::env::current_dir()
                    .context("reading the working directory")?
                    .join(path);
                DockerfileSource::Path(absolute.to_string_lossy().into_owned())
            }
            _ => DockerfileSource::Path(path.to_owned()),
        },
        (None, None) => DockerfileSource::Path("Dockerfile".to_owned()),
    };
    let build_args = key_values(&a.build_args, "build-arg")?;
    let labels = key_values(&a.labels, "label")?;
    let source_date_epoch = build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| anyhow!("invalid SOURCE_DATE_EPOCH {v:?}: expected Unix seconds"))
        })
        .transpose()?;
    let options = BuildOptions {
        dockerfile_name: String::new(),
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        no_cache_filter: a.no_cache_filter.clone(),
        pull: a.pull,
        labels,
        platform,
        network: a.network.clone(),
        add_hosts: a.add_hosts.clone(),
        secrets: secrets(&a.secrets)?,
        squash: a.squash,
        cpu_shares: a.cpu_shares.filter(|s| *s > 0),
        ulimits: a
            .ulimit
            .iter()
            .map(|u| hoist_runtime::Ulimit::parse(u).map_err(|e| anyhow!(e)))
            .collect::<Result<_>>()?,
        memory: a
            .memory
            .as_deref()
            .map(|v| byte_size("--memory", v))
            .transpose()?,
        cpu_quota: a
            .cpu_quota
            .filter(|q| *q > 0)
            .map(|quota_us| hoist_runtime::CpuQuota {
                quota_us,
                period_us: a.cpu_period.unwrap_or(100_000),
            }),
        shm_size: a
            .shm_size
            .as_deref()
            .map(|v| byte_size("--shm-size", v))
            .transpose()?,
        annotations: a
            .annotations
            .iter()
            .map(|item| {
                let item = item.strip_prefix("manifest:").unwrap_or(item);
                item.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| anyhow!("invalid annotation {item:?}: expected KEY=VALUE"))
            })
            .collect::<Result<_>>()?,
        source_date_epoch,
        entitlements: a.allow.clone(),
        self_exe: hoist.settings.self_exe.clone(),
        storage_driver: None,
        named_contexts: named_contexts(&a.build_contexts)?,
        cache_from: a
            .cache_from
            .iter()
            .map(|c| hoist_ops::build::CacheLocation::parse(c, false).map_err(|e| anyhow!(e)))
            .collect::<Result<_>>()?,
        cache_to: a
            .cache_to
            .iter()
            .map(|c| hoist_ops::build::CacheLocation::parse(c, true).map_err(|e| anyhow!(e)))
            .collect::<Result<_>>()?,
    };
    let request = BuildRequest {
        context,
        dockerfile,
        tags: a.tags.clone(),
        options,
    };
    if a.check {
        let warnings = hoist_ops::build::check(hoist, request)?;
        let mut out = std::io::stdout().lock();
        if warnings.is_empty() {
            writeln!(out, "Check complete, no warnings found.")?;
            return Ok(0);
        }
        for warning in &warnings {
            writeln!(out, "WARNING: {warning}")?;
        }
        let plural = if warnings.len() == 1 {
            "warning has"
        } else {
            "warnings have"
        };
        writeln!(
            out,
            "\nCheck complete, {} {plural} been found!",
            warnings.len()
        )?;
        return Ok(1);
    }
    let quiet = a.quiet || a.progress == "quiet";
    let mode =
        crate::build_progress::Mode::pick(&a.progress, a.quiet, std::io::stderr().is_terminal());
    let progress = crate::build_progress::Progress::new(mode, Box::new(std::io::stderr()));
    let draw = |event: BuildEvent| progress.event(event);
    if platforms.len() > 1 {
        let built = hoist_ops::build::build_platforms(hoist, request, &platforms, &draw);
        progress.finish(built.is_ok());
        let outcomes = built?;
        let mut err = std::io::stderr().lock();
        let digest = if let hoist_ops::build::BuildOutput::OciArchive(dest) = &output {
            let digest =
                hoist_ops::build::write_oci_index_archive(hoist, &outcomes, &platforms, dest)?;
            if !quiet {
                writeln!(
                    err,
                    "#0 exporting manifest list {digest} to {} done",
                    dest.display()
                )?;
            }
            digest
        } else {
            let events: hoist_ops::push::PushEvents = std::sync::Arc::new(|_| {});
            let digest = hoist_ops::build::push_index(hoist, &outcomes, &platforms, &events)?;
            for tag in outcomes
                .first()
                .map(|o| o.tags.as_slice())
                .unwrap_or_default()
            {
                if !quiet {
                    writeln!(err, "#0 pushing manifest list for {tag}@{digest} done")?;
                }
            }
            digest
        };
        if quiet {
            println!("{digest}");
        }
        return Ok(0);
    }
    let built = hoist_ops::build::build(hoist, request, &draw);
    progress.finish(built.is_ok());
    let outcome = built?;
    match &output {
        hoist_ops::build::BuildOutput::Tar(None) => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "refusing to write the output tar to a terminal: redirect it or use -o type=tar,dest=FILE"
                );
            }
            let mut out = std::io::stdout().lock();
            hoist_ops::build::write_output(hoist, &outcome, &output, &mut out)?;
            out.flush()?;
        }
        hoist_ops::build::BuildOutput::Push => {
            let names: Vec<String> = outcome.tags.iter().map(ToString::to_string).collect();
            crate::cmd_transfer::push_names(hoist, &names, false, quiet)?;
        }
        other => hoist_ops::build::write_output(hoist, &outcome, other, &mut std::io::sink())?,
    }
    let id = outcome.image.id.to_string();
    if !quiet {
        let mut err = std::io::stderr().lock();
        for tag in &outcome.tags {
            writeln!(err, "#0 naming to {tag} done")?;
        }
        if !outcome.warnings.is_empty() {
            let count = outcome.warnings.len();
            let noun = if count == 1 { "warning" } else { "warnings" };
            writeln!(
                err,
                "\n {count} {noun} found (use --check for the list alone):"
            )?;
            for warning in &outcome.warnings {
                writeln!(err, " - {warning}")?;
            }
        }
    }
    if let Some(path) = &a.iidfile {
        std::fs::write(path, &id).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.metadata_file {
        let metadata = serde_json::json!({
            "containerimage.config.digest": id,
            "containerimage.digest": outcome.image.manifest.to_string(),
            "image.name": outcome.tags.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&metadata)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if quiet {
        println!("{id}");
    } else if std::io::stderr().is_terminal() {
        // BuildKit's closing hint on a terminal is about Docker Desktop; hoist prints nothing more.
    }
    Ok(0)
}

pub(crate) fn prune(hoist: &Hoist, a: &BuilderPruneArgs) -> Result<u8> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut opts = hoist_ops::builder::PruneOptions {
        all: a.all,
        ..Default::default()
    };
    for filter in &a.filters {
        hoist_ops::builder::apply_filter(&mut opts, filter, now)?;
    }
    if let Some(keep) = &a.keep_storage {
        let bytes = hoist_render::units::parse_ram_size(keep)
            .map_err(|e| anyhow!("invalid --keep-storage {keep:?}: {e}"))?;
        opts.keep_storage = Some(u64::try_from(bytes).unwrap_or(0));
    }
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        if !crate::cmd_images::confirm(warning)? {
            return Ok(0);
        }
    }
    let report = hoist_ops::builder::prune(hoist, &opts)?;
    // The Docker Engine's wording (`docker builder prune` against its API).
    let mut out = std::io::stdout().lock();
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted build cache objects:")?;
        for id in &report.deleted {
            writeln!(out, "{}", &id[..25.min(id.len())])?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        hoist_render::units::human_size(report.reclaimed as f64)
    )?;
    Ok(0)
}

pub(crate) fn du(hoist: &Hoist, a: &BuilderDuArgs) -> Result<u8> {
    let entries = hoist_ops::builder::disk_usage(hoist)?;
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    let size = |bytes: u64| hoist_render::units::human_size(bytes as f64);
    if a.verbose {
        for e in &entries {
            let last = chrono::DateTime::from_timestamp_nanos(e.record.last_used);
            let created = chrono::DateTime::from_timestamp_nanos(e.record.created);
            writeln!(out, "ID:\t\t{}", &e.record.key.hex()[..25])?;
            writeln!(out, "Created at:\t{created}")?;
            writeln!(out, "Mutable:\tfalse")?;
            writeln!(out, "Reclaimable:\t{}", e.reclaimable)?;
            writeln!(out, "Shared:\t\t{}", e.shared)?;
            writeln!(out, "Size:\t\t{}", size(e.record.size))?;
            writeln!(out, "Description:\t{}", e.record.description)?;
            writeln!(out, "Usage count:\t{}", e.record.usage_count)?;
            writeln!(out, "Last used:\t{}", ago(now, last))?;
            writeln!(out, "Type:\t\t{}\n", e.record.kind)?;
        }
    } else if !entries.is_empty() {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let last = chrono::DateTime::from_timestamp_nanos(e.record.last_used);
                vec![
                    format!(
                        "{}{}",
                        &e.record.key.hex()[..25],
                        if e.shared { "*" } else { "" }
                    ),
                    e.reclaimable.to_string(),
                    size(e.record.size),
                    ago(now, last),
                ]
            })
            .collect();
        hoist_render::table::write_table(
            &["ID", "RECLAIMABLE", "SIZE", "LAST ACCESSED"],
            &rows,
            &mut out,
        )?;
    }
    let total: u64 = entries.iter().map(|e| e.record.size).sum();
    let reclaimable: u64 = entries
        .iter()
        .filter(|e| e.reclaimable)
        .map(|e| e.record.size)
        .sum();
    let shared: u64 = entries
        .iter()
        .filter(|e| e.shared)
        .map(|e| e.record.size)
        .sum();
    if !entries.is_empty() {
        writeln!(out, "{:<16}{}", "Shared:", size(shared))?;
        writeln!(out, "{:<16}{}", "Private:", size(total - shared))?;
    }
    writeln!(out, "{:<16}{}", "Reclaimable:", size(reclaimable))?;
    writeln!(out, "{:<16}{}", "Total:", size(total))?;
    Ok(0)
}

fn ago(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let elapsed = (now - then).to_std().unwrap_or_default();
    format!("{} ago", hoist_render::units::human_duration(elapsed))
}
