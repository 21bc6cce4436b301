//! A push-style tar header scanner: fed the uncompressed bytes of a layer as they stream past, it runs
//! every entry through the layer's [`EntryChecker`] and computes the layer's content size the way Docker
//! reports image sizes.
//!
//! It exists so that `load` can hash, store and vet a layer in one pass, as a tee beside the store's
//! ingest, without a second read of the blob. The path rules are the checker's, the same ones
//! [`crate::validate_layer`] and [`crate::apply_layer`] enforce.

use std::io;
use std::path::PathBuf;

use crate::entry::{EntryInfo, EntryKind, Timestamp};
use crate::safety::EntryChecker;

const BLOCK: usize = 512;
/// Long names and PAX records are small; a bigger one is a hostile archive.
const MAX_META_ENTRY: u64 = 1 << 20;

/// What is wrong with a layer's tar stream. Each names the entry concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The entry checker refused an entry (escaping or absolute path, link out of the root, through a
    /// symlink of the same layer, bad whiteout, unsupported type); the message names the entry.
    #[error("{0}")]
    Unsafe(String),
    #[error("corrupt tar header at byte offset {offset} (checksum mismatch)")]
    BadChecksum { offset: u64 },
    #[error("corrupt tar header at byte offset {offset}: {what}")]
    BadHeader { offset: u64, what: &'static str },
    #[error("layer is truncated: the stream ended inside entry {path:?}")]
    Truncated { path: String },
}

/// The totals of a scanned layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Bytes Docker counts as the layer's size: regular file contents plus symlink target lengths
    /// (hard links count once, as `du` would).
    pub content_size: u64,
    pub entries: u64,
}

enum Pending {
    /// Skipping `remaining` bytes of file data (padding included).
    Skip,
    /// Collecting a GNU long name / long link or a PAX header body.
    Meta {
        kind: u8,
        data: Vec<u8>,
        size: usize,
    },
}

/// Incremental scanner; implements [`io::Write`] so it can sit behind a tee.
pub struct TarScanner {
    header: Vec<u8>,
    remaining: u64,
    pending: Pending,
    offset: u64,
    zero_blocks: u32,
    ended: bool,
    long_name: Option<String>,
    long_link: Option<String>,
    pax_path: Option<String>,
    pax_link: Option<String>,
    pax_size: Option<u64>,
    current: String,
    checker: EntryChecker,
    mode: u32,
    summary: ScanSummary,
    error: Option<ScanError>,
}

impl std::fmt::Debug for TarScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarScanner")
            .field("offset", &self.offset)
            .field("summary", &self.summary)
            .finish()
    }
}

impl Default for TarScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl TarScanner {
    pub fn new() -> Self {
        Self {
            header: Vec::with_capacity(BLOCK),
            remaining: 0,
            pending: Pending::Skip,
            offset: 0,
            zero_blocks: 0,
            ended: false,
            long_name: None,
            long_link: None,
            pax_path: None,
            pax_link: None,
            pax_size: None,
            current: String::new(),
            checker: EntryChecker::new(),
            mode: 0,
            summary: ScanSummary::default(),
            error: None,
        }
    }

    /// Feeds bytes. Errors are remembered rather than returned, so the scanner never disturbs the
    /// stream it watches; [`TarScanner::finish`] reports the first one.
    pub fn feed(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() && self.error.is_none() && !self.ended {
            if self.remaining > 0 {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                if let Pending::Meta { data, size, .. } = &mut self.pending {
                    let want = size.saturating_sub(data.len()).min(n);
                    data.extend_from_slice(&buf[..want]);
                }
                self.remaining -= n as u64;
                self.offset += n as u64;
                buf = &buf[n..];
                if self.remaining == 0 {
                    self.finish_meta();
                }
                continue;
            }
            let need = BLOCK - self.header.len();
            let n = need.min(buf.len());
            self.header.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.header.len() == BLOCK {
                let block = std::mem::take(&mut self.header);
                self.header.reserve(BLOCK);
                self.on_header(&block);
                self.offset += BLOCK as u64;
            }
        }
    }

    /// Ends the scan: the first problem found, or the layer's totals.
    pub fn finish(self) -> Result<ScanSummary, ScanError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !self.ended && (self.remaining > 0 || !self.header.is_empty()) {
            return Err(ScanError::Truncated { path: self.current });
        }
        Ok(self.summary)
    }

    fn fail(&mut self, e: ScanError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn on_header(&mut self, block: &[u8]) {
        if block.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.ended = true;
            }
            return;
        }
        self.zero_blocks = 0;
        let stored = match parse_octal(&block[148..156]) {
            Some(v) => v,
            None => {
                return self.fail(ScanError::BadHeader {
                    offset: self.offset,
                    what: "unreadable checksum",
                });
            }
        };
        let computed: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if stored != computed {
            return self.fail(ScanError::BadChecksum {
                offset: self.offset,
            });
        }
        let kind = block[156];
        let Some(size) = parse_size(&block[124..136]) else {
            return self.fail(ScanError::BadHeader {
                offset: self.offset,
                what: "unreadable size",
            });
        };
        let size = if matches!(kind, b'x' | b'g' | b'L' | b'K') {
            size
        } else {
            self.pax_size.take().unwrap_or(size)
        };
        self.remaining = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        match kind {
            b'L' | b'K' | b'x' | b'g' => {
                if size > MAX_META_ENTRY {
                    return self.fail(ScanError::BadHeader {
                        offset: self.offset,
                        what: "oversized metadata entry",
                    });
                }
                let size = usize::try_from(size).unwrap_or(0);
                self.pending = Pending::Meta {
                    kind,
                    data: Vec::with_capacity(size),
                    size,
                };
                if self.remaining == 0 {
                    self.finish_meta();
                }
            }
            _ => {
                self.pending = Pending::Skip;
                let name = self
                    .pax_path
                    .take()
                    .or_else(|| self.long_name.take())
                    .unwrap_or_else(|| header_name(block));
                self.mode =
                    u32::try_from(parse_octal(&block[100..108]).unwrap_or(0) & 0o7777).unwrap_or(0);
                let link = self
                    .pax_link
                    .take()
                    .or_else(|| self.long_link.take())
                    .unwrap_or_else(|| cstr(&block[157..257]));
                self.on_entry(name, kind, size, link);
            }
        }
    }

    fn finish_meta(&mut self) {
        let Pending::Meta { kind, data, .. } = std::mem::replace(&mut self.pending, Pending::Skip)
        else {
            return;
        };
        match kind {
            b'L' => self.long_name = Some(cstr(&data)),
            b'K' => self.long_link = Some(cstr(&data)),
            b'x' => {
                for (key, value) in parse_pax(&data) {
                    match key.as_str() {
                        "path" => self.pax_path = Some(value),
                        "linkpath" => self.pax_link = Some(value),
                        "size" => self.pax_size = value.parse().ok(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn on_entry(&mut self, name: String, kind: u8, size: u64, link: String) {
        self.summary.entries += 1;
        self.current.clone_from(&name);
        let entry_kind = match kind {
            b'0' | b'\0' | b'7' => EntryKind::File,
            b'1' => EntryKind::Hardlink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::CharDevice,
            b'4' => EntryKind::BlockDevice,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            other => {
                return self.fail(ScanError::Unsafe(format!(
                    "layer entry {name:?}: unsupported tar entry type {:?}",
                    char::from(other)
                )));
            }
        };
        let info = EntryInfo {
            path: PathBuf::from(&name),
            kind: entry_kind,
            link_name: matches!(entry_kind, EntryKind::Symlink | EntryKind::Hardlink)
                .then(|| PathBuf::from(&link)),
            size,
            mode: self.mode,
            uid: 0,
            gid: 0,
            mtime: Timestamp::default(),
            atime: None,
            device: None,
            xattrs: Vec::new(),
        };
        if let Err(e) = self.checker.check(&info) {
            return self.fail(ScanError::Unsafe(e.to_string()));
        }
        match entry_kind {
            EntryKind::File => self.summary.content_size += size,
            EntryKind::Symlink => self.summary.content_size += link.len() as u64,
            _ => {}
        }
    }
}

impl io::Write for TarScanner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn header_name(block: &[u8]) -> String {
    let name = cstr(&block[0..100]);
    // POSIX ustar keeps a prefix; GNU's magic ("ustar  ") uses those bytes for other fields.
    if &block[257..263] == b"ustar\0" {
        let prefix = cstr(&block[345..500]);
        if !prefix.is_empty() {
            return format!("{prefix}/{name}");
        }
    }
    name
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256 for sizes of 8 GiB and more.
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    parse_octal(field)
}

/// PAX records: `<len> <key>=<value>\n`.
fn parse_pax(data: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(space) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= space || len > rest.len() {
            break;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|&b| b == b'=') {
            out.push((
                String::from_utf8_lossy(&record[..eq]).into_owned(),
                String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: u8, size: u64, link: &str) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn tar(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, data, link) in entries {
            out.extend_from_slice(&header(name, *kind, data.len() as u64, link));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn scan(bytes: &[u8], chunk: usize) -> Result<ScanSummary, ScanError> {
        let mut s = TarScanner::new();
        for c in bytes.chunks(chunk) {
            s.feed(c);
        }
        s.finish()
    }

    #[test]
    fn counts_like_docker() {
        let t = tar(&[
            ("bin/", b'5', b"", ""),
            ("bin/busybox", b'0', &[7u8; 1000], ""),
            ("bin/sh", b'2', b"", "busybox"),
            ("bin/ls", b'1', b"", "bin/busybox"),
            ("etc/hello", b'0', b"hi\n", ""),
        ]);
        for chunk in [1, 7, 512, 100_000] {
            let s = scan(&t, chunk).unwrap();
            assert_eq!(s.content_size, 1000 + 7 + 3);
            assert_eq!(s.entries, 5);
        }
    }

    #[test]
    fn refuses_hostile_entries() {
        let err =
            |entries: &[(&str, u8, &[u8], &str)]| scan(&tar(entries), 512).unwrap_err().to_string();
        assert_eq!(
            err(&[("../etc/passwd", b'0', b"x", "")]),
            "layer entry \"../etc/passwd\": path escapes the layer root"
        );
        assert!(err(&[("/etc/passwd", b'0', b"x", "")]).contains("absolute"));
        assert!(err(&[("a", b'1', b"", "../../x")]).contains("hardlink target"));
        assert!(err(&[("a", b'2', b"", "/etc"), ("a/passwd", b'0', b"x", "")]).contains("symlink"));
        assert!(err(&[("weird", b'S', b"", "")]).contains("unsupported tar entry type"));
        // Inside the root is fine, and so are symlinks pointing anywhere.
        assert!(
            scan(
                &tar(&[
                    ("a/../b", b'0', b"x", ""),
                    ("sh", b'2', b"", "/bin/busybox")
                ]),
                512
            )
            .is_ok()
        );
    }

    #[test]
    fn detects_truncation_and_corruption() {
        let t = tar(&[("f", b'0', &[1u8; 2000], "")]);
        let e = scan(&t[..1000], 512).unwrap_err();
        assert_eq!(e, ScanError::Truncated { path: "f".into() });
        let mut bad = t.clone();
        bad[10] ^= 0x55;
        assert!(matches!(
            scan(&bad, 512).unwrap_err(),
            ScanError::BadChecksum { offset: 0 }
        ));
    }

    #[test]
    fn reads_gnu_long_names_and_pax() {
        let long = format!("{}/file", "d".repeat(150));
        let mut t = Vec::new();
        t.extend_from_slice(&header("././@LongLink", b'L', long.len() as u64 + 1, ""));
        let mut body = long.clone().into_bytes();
        body.push(0);
        body.resize(512, 0);
        t.extend_from_slice(&body);
        t.extend_from_slice(&header("short", b'0', 0, ""));
        let record = "28 path=../../escape/by/pax\n";
        t.extend_from_slice(&header("pax", b'x', record.len() as u64, ""));
        let mut body = record.as_bytes().to_vec();
        body.resize(512, 0);
        t.extend_from_slice(&body);
        t.extend_from_slice(&header("innocent", b'0', 0, ""));
        let e = scan(&t, 512).unwrap_err();
        assert_eq!(
            e.to_string(),
            "layer entry \"../../escape/by/pax\": path escapes the layer root"
        );
    }
}
