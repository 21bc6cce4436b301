//! `--cache-to type=local,dest=DIR` and `--cache-from type=local,src=DIR`: the build cache records a build
//! used, with their layer blobs, in a directory another machine (a CI runner) can import before it builds.
//!
//! The directory is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) so blob storage
//! tools handle it, plus `hoist-build-cache.json`, the records. BuildKit's own cache format is not read:
//! its keys describe BuildKit's LLB graph, which hoist does not have.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use hoist_spec::Digest;
use hoist_store::{BuildCacheRecord, LayerRecord, Store};
use serde::{Deserialize, Serialize};

use crate::error::{BuildError, io_error};

/// The records file inside an exported cache directory.
pub const RECORDS_FILE: &str = "hoist-build-cache.json";

#[derive(Debug, Serialize, Deserialize)]
struct ExportedRecord {
    key: String,
    kind: String,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    diff_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    blob_size: u64,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    created: i64,
}

/// A `--cache-to` / `--cache-from` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    /// `type=local,dest=DIR` or `type=local,src=DIR`.
    Local(std::path::PathBuf),
    /// `type=registry,ref=REF`: the same records and blobs as an OCI artifact in a registry. The
    /// builder itself only reads and writes directories; the operations layer moves them.
    Registry(String),
    /// `--cache-to type=inline`: the records of the image's own layers written into its config, so
    /// `--cache-from IMAGE` reuses them once the image is pushed.
    Inline,
}

/// The image config key inline cache records live under.
pub const INLINE_KEY: &str = "hoist.buildcache.v1";

/// The records of `keys` whose layers are among `diff_ids`, as inline cache JSON.
pub fn inline_records(
    store: &Store,
    keys: &[Digest],
    diff_ids: &[Digest],
) -> Result<serde_json::Value, BuildError> {
    let wanted: std::collections::HashSet<&Digest> = keys.iter().collect();
    let layers: std::collections::HashSet<&Digest> = diff_ids.iter().collect();
    let mut list = Vec::new();
    for record in store.build_cache_records()? {
        if !wanted.contains(&record.key) {
            continue;
        }
        if record
            .layer
            .as_ref()
            .is_some_and(|l| layers.contains(&l.diff_id))
        {
            list.push(exported(&record));
        }
    }
    list.sort_by(|a, b| a.key.cmp(&b.key));
    serde_json::to_value(&list)
        .map_err(|e| BuildError::Layer(format!("cannot encode inline cache: {e}")))
}

/// Imports the inline cache records of a stored image (its config's [`INLINE_KEY`]), pointing at the
/// image's own layers. Returns how many were imported.
pub fn import_inline(store: &Store, image: &hoist_store::ImageRecord) -> Result<usize, BuildError> {
    let config = store.read_blob(&image.id)?;
    let doc: serde_json::Value = serde_json::from_slice(&config)
        .map_err(|e| BuildError::Layer(format!("image {} has a bad config: {e}", image.id)))?;
    let Some(entries) = doc.get(INLINE_KEY) else {
        return Ok(0);
    };
    let records: Vec<ExportedRecord> = serde_json::from_value(entries.clone())
        .map_err(|e| BuildError::Layer(format!("image {} has bad inline cache: {e}", image.id)))?;
    let guard = store.write_guard()?;
    let mut imported = 0;
    for record in records {
        let Some(diff_id) = record
            .diff_id
            .as_deref()
            .and_then(|d| d.parse::<Digest>().ok())
        else {
            continue;
        };
        let Some(layer) = image.layers.iter().find(|l| l.diff_id == diff_id) else {
            continue;
        };
        let Ok(key) = record.key.parse::<Digest>() else {
            continue;
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        store.put_build_cache(
            &guard,
            &BuildCacheRecord {
                key,
                kind: record.kind.clone(),
                description: record.description.clone(),
                layer: Some(layer.clone()),
                size: record.size,
                chain: record.chain.as_deref().and_then(|c| c.parse().ok()),
                created: record.created,
                last_used: now,
                usage_count: 0,
            },
        )?;
        imported += 1;
    }
    Ok(imported)
}

impl CacheLocation {
    /// Parses `type=local,dest=DIR` (export) or `type=local,src=DIR` (import); other types get an error
    /// naming what hoist supports.
    pub fn parse(spec: &str, export: bool) -> Result<Self, String> {
        // buildx reads a bare value as a registry reference.
        if !spec.contains('=') {
            return Ok(Self::Registry(spec.to_owned()));
        }
        let mut fields = BTreeMap::new();
        for field in spec.split(',') {
            let (key, value) = field.split_once('=').ok_or_else(|| {
                format!("invalid cache option {field:?} in {spec:?}: expected key=value")
            })?;
            fields.insert(key, value);
        }
        let path_key = if export { "dest" } else { "src" };
        match fields.get("type").copied() {
            Some("local") => {
                for key in fields.keys() {
                    if !matches!(
                        *key,
                        "type"
                            | "mode"
                            | "compression"
                            | "compression-level"
                            | "ignore-error"
                            | "oci-mediatypes"
                            | "digest"
                    ) && *key != path_key
                    {
                        return Err(format!("invalid cache option {key:?} in {spec:?}"));
                    }
                }
                fields
                    .get(path_key)
                    .map(|p| Self::Local(p.into()))
                    .ok_or_else(|| format!("{spec:?}: type=local needs {path_key}="))
            }
            Some("inline") if export => Ok(Self::Inline),
            Some("registry") => fields
                .get("ref")
                .map(|r| Self::Registry((*r).to_owned()))
                .ok_or_else(|| format!("{spec:?}: type=registry needs ref=")),
            Some(other) => Err(format!(
                "cache type {other:?} is not supported by hoist yet (type=local, type=registry)"
            )),
            None => Err(format!("{spec:?}: type= is required")),
        }
    }
}

/// Writes the records with these keys (those the store has) and their blobs under `dir`, merging with
/// what is already there. Returns how many records were written.
pub fn export(store: &Store, keys: &[Digest], dir: &Path) -> Result<usize, BuildError> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(io_error("create directory", &blobs))?;
    let mut records = read_records(dir)?;
    let wanted: std::collections::HashSet<&Digest> = keys.iter().collect();
    let mut written = 0;
    for record in store.build_cache_records()? {
        if !wanted.contains(&record.key) {
            continue;
        }
        if let Some(layer) = &record.layer {
            let target = blobs.join(layer.blob.hex());
            if !target.is_file() {
                let temp = blobs.join(format!(".tmp-{}", layer.blob.hex()));
                fs::copy(store.blob_path(&layer.blob), &temp).map_err(io_error("write", &temp))?;
                fs::rename(&temp, &target).map_err(io_error("write", &target))?;
            }
        }
        records.insert(record.key.to_string(), exported(&record));
        written += 1;
    }
    let layout = dir.join("oci-layout");
    fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_error("write", &layout))?;
    let index = dir.join("index.json");
    if !index.exists() {
        fs::write(&index, br#"{"schemaVersion":2,"manifests":[]}"#)
            .map_err(io_error("write", &index))?;
    }
    let list: Vec<&ExportedRecord> = records.values().collect();
    let json = serde_json::to_vec_pretty(&list)
        .map_err(|e| BuildError::Layer(format!("cannot encode the cache records: {e}")))?;
    let path = dir.join(RECORDS_FILE);
    let temp = dir.join(format!(".{RECORDS_FILE}.tmp"));
    let mut file = fs::File::create(&temp).map_err(io_error("write", &temp))?;
    file.write_all(&json).map_err(io_error("write", &temp))?;
    fs::rename(&temp, &path).map_err(io_error("write", &path))?;
    Ok(written)
}

/// Reads the records under `dir` into the store, each blob verified against its digest on the way in.
/// Returns how many records were imported.
pub fn import(store: &Store, dir: &Path) -> Result<usize, BuildError> {
    let records = read_records(dir)?;
    let mut imported = 0;
    for record in records.values() {
        let parse = |text: &str| {
            text.parse::<Digest>().map_err(|e| {
                BuildError::Layer(format!(
                    "{}: bad digest {text:?}: {e}",
                    dir.join(RECORDS_FILE).display()
                ))
            })
        };
        let layer = match (&record.diff_id, &record.blob) {
            (Some(diff_id), Some(blob)) => Some(LayerRecord {
                diff_id: parse(diff_id)?,
                blob: parse(blob)?,
                media_type: record
                    .media_type
                    .clone()
                    .unwrap_or_else(|| hoist_spec::media_type::OCI_LAYER.to_owned()),
                blob_size: record.blob_size,
                size: record.size,
            }),
            _ => None,
        };
        let guard = store.write_guard()?;
        if let Some(layer) = &layer
            && !store.has_blob(&layer.blob)?
        {
            let source = dir.join("blobs").join("sha256").join(layer.blob.hex());
            let mut input = fs::File::open(&source).map_err(io_error("open", &source))?;
            let mut ingest = store.ingest_expecting(&layer.blob, Some(layer.blob_size))?;
            std::io::copy(&mut input, &mut ingest).map_err(io_error("read", &source))?;
            ingest.commit()?;
        }
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        store.put_build_cache(
            &guard,
            &BuildCacheRecord {
                key: parse(&record.key)?,
                kind: record.kind.clone(),
                description: record.description.clone(),
                layer,
                size: record.size,
                chain: record.chain.as_deref().map(parse).transpose()?,
                created: record.created,
                last_used: now,
                usage_count: 0,
            },
        )?;
        imported += 1;
    }
    Ok(imported)
}

fn exported(record: &BuildCacheRecord) -> ExportedRecord {
    let layer = record.layer.as_ref();
    ExportedRecord {
        key: record.key.to_string(),
        kind: record.kind.clone(),
        description: record.description.clone(),
        diff_id: layer.map(|l| l.diff_id.to_string()),
        blob: layer.map(|l| l.blob.to_string()),
        media_type: layer.map(|l| l.media_type.clone()),
        blob_size: layer.map_or(0, |l| l.blob_size),
        size: record.size,
        chain: record.chain.as_ref().map(ToString::to_string),
        created: record.created,
    }
}

fn read_records(dir: &Path) -> Result<BTreeMap<String, ExportedRecord>, BuildError> {
    let path = dir.join(RECORDS_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_error("read", &path)(e)),
    };
    let list: Vec<ExportedRecord> = serde_json::from_slice(&bytes).map_err(|e| {
        BuildError::Layer(format!(
            "{} is not a hoist build cache: {e}",
            path.display()
        ))
    })?;
    Ok(list.into_iter().map(|r| (r.key.clone(), r)).collect())
}
