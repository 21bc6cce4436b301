//! `images`, `inspect`, `history`, `tag`, `rmi` and `image prune`/`system prune`: Docker's columns, wording
//! and exit codes over hoist-ops.

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use hoist_ops::Hoist;
use hoist_ops::filters::Filters;
use hoist_ops::remove::RemoveEvent;
use hoist_render::TableSpec;
use serde::Serialize;

use crate::cli::{HistoryArgs, ImagesArgs, InspectArgs, PruneArgs, RmiArgs, TagArgs};
use crate::output::{self, created_at, created_since, image_id, size3};

/// The fields `--format` sees for an image row, with Docker's names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageContext {
    pub containers: String,
    pub created_at: String,
    pub created_since: String,
    pub digest: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub repository: String,
    pub shared_size: String,
    pub size: String,
    pub tag: String,
    pub unique_size: String,
    pub virtual_size: String,
}

pub(crate) const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("VirtualSize", "VIRTUAL SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// Every field of a row, for templates that are more than `{{.Field}}` substitutions and for `json`.
pub(crate) fn image_context(row: &hoist_ops::list::ImageRow, no_trunc: bool) -> ImageContext {
    let na = || "N/A".to_owned();
    ImageContext {
        containers: row.containers.map_or_else(na, |c| c.to_string()),
        created_at: created_at(row.created),
        created_since: created_since(row.created),
        digest: row.digest.clone(),
        id: image_id(&row.id, no_trunc),
        repository: row.repository.clone(),
        shared_size: row.shared_size.map_or_else(na, output::size4),
        size: size3(row.size),
        tag: row.tag.clone(),
        unique_size: row
            .shared_size
            .map_or_else(na, |s| output::size4(row.size.saturating_sub(s))),
        virtual_size: size3(row.size),
    }
}

/// An image row that computes only the fields a plain template prints (listing 10,000 images must be fast).
pub(crate) struct ImageView<'a> {
    pub row: &'a hoist_ops::list::ImageRow,
    pub no_trunc: bool,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Serialize for ImageView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        image_context(self.row, self.no_trunc).serialize(s)
    }
}

impl hoist_render::RowFields for ImageView<'_> {
    fn field(&self, name: &str) -> Option<String> {
        let row = self.row;
        let na = || "N/A".to_owned();
        Some(match name {
            "ID" => image_id(&row.id, self.no_trunc),
            "Repository" => row.repository.clone(),
            "Tag" => row.tag.clone(),
            "Digest" => row.digest.clone(),
            "CreatedSince" => output::created_since_at(row.created, self.now),
            "CreatedAt" => created_at(row.created),
            "Size" | "VirtualSize" => size3(row.size),
            "Containers" => row.containers.map_or_else(na, |c| c.to_string()),
            "SharedSize" => row.shared_size.map_or_else(na, output::size4),
            "UniqueSize" => row
                .shared_size
                .map_or_else(na, |s| output::size4(row.size.saturating_sub(s))),
            _ => return None,
        })
    }
}

pub(crate) fn images(hoist: &Hoist, a: &ImagesArgs) -> Result<u8> {
    let filters = Filters::parse(&a.filter, hoist_ops::list::IMAGE_FILTERS)?;
    let sort = a.sort.as_deref().map(str::parse).transpose()?;
    let opts = hoist_ops::list::ListOptions {
        all: a.all,
        filters,
        reference: a.reference.clone(),
        sort,
    };
    let rows = hoist_ops::list::list_images(hoist, &opts)?;
    let now = chrono::Utc::now();
    let views: Vec<ImageView<'_>> = rows
        .iter()
        .map(|row| ImageView {
            row,
            no_trunc: a.no_trunc,
            now,
        })
        .collect();
    let default_template = if a.digests {
        "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let spec = TableSpec {
        default_template,
        headers: IMAGE_HEADERS,
    };
    let format = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() => f.clone(),
        (_, true) => "{{.ID}}".to_owned(),
        _ => String::new(),
    };
    output::render_rows(Some(&format), &views, &spec)?;
    Ok(0)
}

pub(crate) fn inspect(hoist: &Hoist, a: &InspectArgs, image_command: bool) -> Result<u8> {
    inspect_kind(hoist, a, image_command.then_some("image"))
}

/// `inspect` of images and containers; `forced` is the kind `image inspect`/`container inspect` fix.
pub(crate) fn inspect_kind(hoist: &Hoist, a: &InspectArgs, forced: Option<&str>) -> Result<u8> {
    let kind = forced.or(a.kind.as_deref());
    if let Some(kind) = kind
        && kind != "image"
        && kind != "container"
    {
        bail!("{kind:?} is not a valid value for --type");
    }
    if let Some(f) = a.format.as_deref()
        && !f.is_empty()
        && f != "json"
        && let Err(e) = hoist_render::validate_template(f)
    {
        eprintln!("Error: {e}");
        return Ok(64);
    }
    let mut docs = Vec::new();
    let mut failed = Vec::new();
    for name in &a.names {
        if kind != Some("image") {
            match hoist_ops::container::inspect::inspect_container(hoist, name, a.size) {
                Ok(doc) => {
                    docs.push(doc);
                    continue;
                }
                Err(hoist_ops::OpsError::NoSuchContainer(_)) if kind.is_none() => {}
                Err(e) => {
                    failed.push(e.to_string());
                    continue;
                }
            }
        }
        match hoist_ops::inspect::inspect_image(hoist, name) {
            Ok(doc) => docs.push(doc),
            Err(hoist_ops::OpsError::NoSuchImage(_)) if kind.is_none() => {
                failed.push(format!("No such object: {name}"));
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    output::inspect_documents(a.format.as_deref(), &docs)?;
    for f in &failed {
        eprintln!("Error: {f}");
    }
    Ok(u8::from(!failed.is_empty()))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryContext {
    comment: String,
    created_at: String,
    created_by: String,
    created_since: String,
    #[serde(rename = "ID")]
    id: String,
    size: String,
}

pub(crate) fn history(hoist: &Hoist, a: &HistoryArgs) -> Result<u8> {
    let items = hoist_ops::history::history(hoist, &a.image)?;
    let contexts: Vec<HistoryContext> = items
        .iter()
        .map(|h| {
            let created = h.created.map(|s| s * 1_000_000_000);
            let created_by = h.created_by.replace('\t', " ");
            HistoryContext {
                comment: h.comment.clone(),
                created_at: created
                    .map(|c| {
                        output::utc(c)
                            .with_timezone(&chrono::Local)
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    })
                    .unwrap_or_default(),
                created_by: if a.no_trunc {
                    created_by
                } else {
                    output::ellipsis(&created_by, 45)
                },
                created_since: if a.human {
                    created_since(created)
                } else {
                    created
                        .map(|c| {
                            output::utc(c)
                                .with_timezone(&chrono::Local)
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        })
                        .unwrap_or_default()
                },
                id: h
                    .id
                    .as_ref()
                    .map_or_else(|| "<missing>".to_owned(), |id| image_id(id, a.no_trunc)),
                size: if a.human {
                    size3(h.size)
                } else {
                    h.size.to_string()
                },
            }
        })
        .collect();
    let spec = TableSpec {
        default_template: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        headers: &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ],
    };
    let format = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() => f.clone(),
        (_, true) => "{{.ID}}".to_owned(),
        _ => String::new(),
    };
    output::render(Some(&format), &contexts, &spec)?;
    Ok(0)
}

pub(crate) fn tag(hoist: &Hoist, a: &TagArgs) -> Result<u8> {
    hoist_ops::remove::tag(hoist, &a.source, &a.target)?;
    Ok(0)
}

fn print_events(events: &[RemoveEvent], prune_style: bool) -> String {
    let mut s = String::new();
    for e in events {
        let line = match (e, prune_style) {
            (RemoveEvent::Untagged(r), false) => format!("Untagged: {r}\n"),
            (RemoveEvent::Deleted(d), false) => format!("Deleted: {d}\n"),
            (RemoveEvent::Untagged(r), true) => format!("untagged: {r}\n"),
            (RemoveEvent::Deleted(d), true) => format!("deleted: {d}\n"),
        };
        s.push_str(&line);
    }
    s
}

pub(crate) fn rmi(hoist: &Hoist, a: &RmiArgs) -> Result<u8> {
    // One count of layer users for the whole command, however many images it removes.
    let mut census = hoist_ops::remove::LayerCensus::default();
    let mut status = 0;
    let mut removed_any = false;
    for name in &a.images {
        match hoist_ops::remove::remove_image(hoist, &mut census, name, a.force, !a.no_prune) {
            Ok(events) => {
                removed_any |= events.iter().any(|e| matches!(e, RemoveEvent::Deleted(_)));
                output::write_stdout(print_events(&events, false).as_bytes())?;
            }
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    if removed_any {
        hoist_ops::remove::collect_garbage(hoist)?;
    }
    Ok(status)
}

/// Docker's confirmation prompt; true when the user typed y or yes.
pub(crate) fn confirm(warning: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{warning}\nAre you sure you want to continue? [y/N] ")?;
    out.flush()?;
    // Docker reads the answer from stdin whatever it is; an empty or closed stdin means no.
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim().to_lowercase();
    Ok(answer == "y" || answer == "yes")
}

pub(crate) fn prune(hoist: &Hoist, a: &PruneArgs, system: bool) -> Result<u8> {
    let filters = Filters::parse(&a.filter, hoist_ops::remove::PRUNE_FILTERS)?;
    if !a.force {
        let warning = match (system, a.all) {
            (false, false) => "WARNING! This will remove all dangling images.".to_owned(),
            (false, true) => "WARNING! This will remove all images without at least one container associated to them.".to_owned(),
            (true, all) => format!(
                "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{}  - {}\n  - all build cache\n",
                if a.volumes { "  - all anonymous volumes not used by at least one container\n" } else { "" },
                if all { "all images without at least one container associated to them" } else { "all dangling images" },
            ),
        };
        if !confirm(&warning)? {
            return Ok(0);
        }
    }
    let mut s = String::new();
    let mut reclaimed_containers = 0;
    if system {
        // Containers first: the images they held become prunable.
        let container_filters = Filters::parse(
            &a.filter
                .iter()
                .filter(|f| !f.starts_with("dangling"))
                .cloned()
                .collect::<Vec<_>>(),
            hoist_ops::container::manage::PRUNE_FILTERS,
        )?;
        let containers = hoist_ops::container::manage::prune(hoist, &container_filters)?;
        reclaimed_containers = containers.reclaimed;
        s.push_str(&crate::cmd_container::deleted_containers(
            &containers.removed,
        ));
    }
    let mut report = hoist_ops::remove::prune_images(hoist, a.all, &filters)?;
    report.reclaimed += reclaimed_containers;
    if !report.events.is_empty() || reclaimed_containers > 0 {
        hoist_ops::remove::collect_garbage(hoist)?;
    }
    if !report.events.is_empty() {
        s.push_str("Deleted Images:\n");
        s.push_str(&print_events(&report.events, true));
        s.push('\n');
    }
    if system {
        // As Docker: the build cache goes too (all of it with -a, else what no image uses).
        let cache = hoist_ops::builder::prune(
            hoist,
            &hoist_ops::builder::PruneOptions {
                all: a.all,
                ..Default::default()
            },
        )?;
        if !cache.deleted.is_empty() {
            s.push_str("Deleted build cache objects:\n");
            for id in &cache.deleted {
                s.push_str(&id[..25.min(id.len())]);
                s.push('\n');
            }
            s.push('\n');
        }
        report.reclaimed += cache.reclaimed;
    }
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        output::size4(report.reclaimed)
    ));
    output::write_stdout(s.as_bytes())?;
    Ok(0)
}
