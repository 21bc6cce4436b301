//! Shared output helpers: Docker's short IDs, created-since and size columns, `--format` rendering to stdout.

use std::io::Write;

use anyhow::{Context, Result};
use hoist_render::{Format, TableSpec};
use hoist_spec::Digest;
use serde::Serialize;

/// `sha256:<hex>` in full, or Docker's 12-digit short ID.
pub(crate) fn image_id(id: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_owned()
    }
}

/// Unix nanoseconds as a UTC time.
pub(crate) fn utc(nanos: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_nanos(nanos)
}

/// Docker's CREATED column: `2 weeks ago`, or `N/A` when an image has no creation time.
pub(crate) fn created_since(created: Option<i64>) -> String {
    created_since_at(created, chrono::Utc::now())
}

/// [`created_since`] relative to a given `now` (one clock read for a whole listing).
pub(crate) fn created_since_at(created: Option<i64>, now: chrono::DateTime<chrono::Utc>) -> String {
    match created {
        Some(c) => hoist_render::units::created_since(utc(c), now),
        None => "N/A".to_owned(),
    }
}

/// Go's `time.Time.String()` in the local zone, as Docker's CreatedAt column prints it (whole seconds).
pub(crate) fn created_at(created: Option<i64>) -> String {
    let Some(c) = created else {
        return String::new();
    };
    let secs = utc(c.div_euclid(1_000_000_000) * 1_000_000_000);
    hoist_render::gotime::go_time_format(&secs.with_timezone(&chrono::Local))
}

/// `SIZE` as `docker images` shows it (3 significant digits).
pub(crate) fn size3(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    hoist_render::units::human_size_with_precision(bytes as f64, 3)
}

/// `SIZE` as `docker system df` shows it (4 significant digits).
pub(crate) fn size4(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    hoist_render::units::human_size_with_precision(bytes as f64, 4)
}

/// Renders rows with `--format` (or the command's default table) to stdout.
pub(crate) fn render<T: Serialize>(
    format: Option<&str>,
    rows: &[T],
    spec: &TableSpec<'_>,
) -> Result<()> {
    let format = Format::parse(format.unwrap_or(""));
    let mut buf = Vec::new();
    hoist_render::render_items(&format, rows, spec, &mut buf)?;
    write_stdout(&buf)
}

/// Renders list rows (fields computed on demand) with `--format` or the default table.
pub(crate) fn render_rows<T: hoist_render::RowFields>(
    format: Option<&str>,
    rows: &[T],
    spec: &TableSpec<'_>,
) -> Result<()> {
    let format = Format::parse(format.unwrap_or(""));
    let mut buf = Vec::new();
    hoist_render::render_rows(&format, rows, spec, &mut buf)?;
    write_stdout(&buf)
}

/// `inspect`'s output: indented JSON, `--format json` on one line, or a Go template per document.
pub(crate) fn inspect_documents(format: Option<&str>, docs: &[serde_json::Value]) -> Result<()> {
    let mut buf = Vec::new();
    match format {
        None | Some("") => hoist_render::write_inspect_json(docs, &mut buf)?,
        Some("json") => hoist_render::write_inspect_json_compact(docs, &mut buf)?,
        Some(template) => {
            for doc in docs {
                hoist_render::render_one(template, doc, &mut buf)?;
            }
        }
    }
    write_stdout(&buf)
}

pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        // A closed pipe (`hoist images | head -1`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

/// Go's `Ellipsis`: at most `max` characters, the last replaced by `…` when cut.
pub(crate) fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
