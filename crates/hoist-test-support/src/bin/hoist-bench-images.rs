//! Writes the benchmark images as docker-archive tars, streaming (memory stays small whatever the size):
//!   hoist-bench-images big OUT.tar     8 layers x 64 MiB, half incompressible noise, half repetitive text
//!   hoist-bench-images files OUT.tar   one image of 50,000 small files
//!   hoist-bench-images many N OUT.tar  N distinct tagged images sharing one small layer

#![allow(clippy::print_stderr, reason = "a command-line tool")]

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use hoist_layer::builder::{EntryMeta, LayerEntry, RandomBytes, StreamingLayerWriter};
use hoist_spec::{Digest, Hasher};
use serde_json::json;

const MIB: u64 = 1 << 20;

/// A writer that hashes what passes through.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Repetitive, compressible text.
struct TextBytes {
    left: u64,
    pos: usize,
}

impl Read for TextBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        const LINE: &[u8] = b"the quick brown fox jumps over the lazy dog 0123456789\n";
        let n = usize::try_from(self.left.min(buf.len() as u64)).unwrap_or(0);
        for b in &mut buf[..n] {
            *b = LINE[self.pos % LINE.len()];
            self.pos += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes one layer to `path` with `fill`, returning its digest (= diff ID; layers are uncompressed).
fn write_layer(
    path: &Path,
    fill: impl FnOnce(&mut StreamingLayerWriter<HashingWriter<BufWriter<File>>>) -> io::Result<()>,
) -> io::Result<Digest> {
    let out = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, File::create(path)?),
        hasher: Hasher::new(),
    };
    let mut w = StreamingLayerWriter::new(out);
    fill(&mut w)?;
    let mut out = w.finish()?;
    out.flush()?;
    Ok(out.hasher.finish())
}

fn config(diff_ids: &[Digest], created: &str, label: &str) -> Vec<u8> {
    let history: Vec<_> = diff_ids
        .iter()
        .enumerate()
        .map(|(i, _)| json!({"created": created, "created_by": format!("bench layer {i}")}))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": hoist_spec::Platform::host().architecture,
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["/bin/sh"], "Labels": {"bench": label}},
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>()},
    }))
    .unwrap_or_default()
}

struct Image {
    config: Vec<u8>,
    layers: Vec<Digest>,
    tags: Vec<String>,
}

/// Assembles the docker-archive from layer files in `dir` (named by digest hex) and the images.
fn write_archive(out: &Path, dir: &Path, images: &[Image]) -> io::Result<()> {
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, File::create(out)?));
    let mut written = std::collections::HashSet::new();
    let mut manifest = Vec::new();
    for img in images {
        let mut layer_paths = Vec::new();
        for d in &img.layers {
            let name = format!("{}/layer.tar", d.hex());
            if written.insert(d.clone()) {
                tar.append_path_with_name(dir.join(d.hex()), &name)?;
            }
            layer_paths.push(name);
        }
        let cfg_name = format!("{}.json", Digest::of(&img.config).hex());
        let mut h = tar::Header::new_gnu();
        h.set_size(img.config.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, &cfg_name, &img.config[..])?;
        manifest.push(json!({"Config": cfg_name, "RepoTags": img.tags, "Layers": layer_paths}));
    }
    let m = serde_json::to_vec(&manifest).unwrap_or_default();
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "manifest.json", &m[..])?;
    tar.into_inner()?.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("hoist-bench-images: {e}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> io::Result<()> {
    let usage = || io::Error::other("usage: hoist-bench-images big OUT | files OUT | many N OUT");
    let out = PathBuf::from(args.last().ok_or_else(usage)?);
    let work = tempfile::tempdir()?;
    let created = "2024-05-01T00:00:00Z";
    match args.first().map(String::as_str) {
        Some("big") => {
            let mut layers = Vec::new();
            for i in 0..8u64 {
                let tmp = work.path().join("layer");
                let d = write_layer(&tmp, |w| {
                    w.append_file_from_reader(
                        &EntryMeta::new(format!("data/noise{i}"), 0o644),
                        32 * MIB,
                        RandomBytes::new(i + 1, 32 * MIB),
                    )?;
                    w.append_file_from_reader(
                        &EntryMeta::new(format!("data/text{i}"), 0o644),
                        32 * MIB,
                        TextBytes {
                            left: 32 * MIB,
                            pos: 0,
                        },
                    )
                })?;
                std::fs::rename(&tmp, work.path().join(d.hex()))?;
                layers.push(d);
            }
            let img = Image {
                config: config(&layers, created, "big"),
                layers,
                tags: vec!["bench/big:1".into()],
            };
            write_archive(&out, work.path(), &[img])
        }
        Some("files") => {
            let tmp = work.path().join("layer");
            let d = write_layer(&tmp, |w| {
                for dir in 0..100 {
                    w.append(&LayerEntry::dir(format!("files/d{dir:03}"), 0o755))?;
                    for f in 0..500 {
                        let body = format!("file {dir}/{f}\n").repeat(20 + (f % 50));
                        w.append(&LayerEntry::file(
                            format!("files/d{dir:03}/f{f:04}.txt"),
                            body.into_bytes(),
                            0o644,
                        ))?;
                    }
                }
                Ok(())
            })?;
            std::fs::rename(&tmp, work.path().join(d.hex()))?;
            let img = Image {
                config: config(std::slice::from_ref(&d), created, "files"),
                layers: vec![d],
                tags: vec!["bench/files:1".into()],
            };
            write_archive(&out, work.path(), &[img])
        }
        Some("many") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
            let tmp = work.path().join("layer");
            let d = write_layer(&tmp, |w| {
                w.append(&LayerEntry::file("etc/many", b"shared\n".to_vec(), 0o644))
            })?;
            std::fs::rename(&tmp, work.path().join(d.hex()))?;
            let images: Vec<Image> = (0..n)
                .map(|i| Image {
                    config: config(std::slice::from_ref(&d), created, &i.to_string()),
                    layers: vec![d.clone()],
                    tags: vec![format!("bench/many{}:{}", i % 100, i)],
                })
                .collect();
            write_archive(&out, work.path(), &images)
        }
        _ => Err(usage()),
    }
}
