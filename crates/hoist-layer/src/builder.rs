//! Deterministic layer tars written from code, for tests, benchmarks and for `import`/`commit`.
//!
//! Entries are written in insertion order with GNU headers (long names as GNU `L`/`K` records, xattrs as PAX
//! `SCHILY.xattr.*` records), mtime 0 and owner 0:0 unless set, and no uname/gname, so the same entries give
//! the same bytes every time. Paths are written exactly as given: no normalisation and no refusal, which is
//! also how the hostile tars in tests are made. [`StreamingLayerWriter`] writes straight to any `Write`, so
//! layers of any size (say 64 MiB of [random content](FileContent::Random)) never sit in memory.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::compression::BUFFER_SIZE;

const BLOCK: usize = 512;

/// Metadata every entry carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Written as given (directories get a trailing `/`).
    pub path: PathBuf,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch.
    pub mtime: u64,
    /// Written as PAX `SCHILY.xattr.<name>` records.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl EntryMeta {
    pub fn new(path: impl Into<PathBuf>, mode: u32) -> Self {
        Self {
            path: path.into(),
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        }
    }
}

/// The content of a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    Bytes(Vec<u8>),
    /// `size` bytes of deterministic, incompressible noise (see [`RandomBytes`]), produced while writing.
    Random {
        size: u64,
        seed: u64,
    },
}

impl FileContent {
    pub fn len(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Random { size, .. } => *size,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What kind of entry, with what it needs beyond [`EntryMeta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    Dir,
    File(FileContent),
    Symlink(PathBuf),
    Hardlink(PathBuf),
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
}

/// One entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub meta: EntryMeta,
    pub body: EntryBody,
}

impl LayerEntry {
    pub fn dir(path: impl Into<PathBuf>, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::Dir,
        }
    }
    pub fn file(path: impl Into<PathBuf>, content: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::File(FileContent::Bytes(content.into())),
        }
    }
    /// A file of `size` incompressible bytes that depend only on `seed`.
    pub fn random_file(path: impl Into<PathBuf>, size: u64, seed: u64, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::File(FileContent::Random { size, seed }),
        }
    }
    pub fn symlink(path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Self {
            meta: EntryMeta::new(path, 0o777),
            body: EntryBody::Symlink(target.into()),
        }
    }
    pub fn hardlink(path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Self {
            meta: EntryMeta::new(path, 0o644),
            body: EntryBody::Hardlink(target.into()),
        }
    }
    /// The whiteout that deletes `path` from lower layers: an empty file `<dir>/.wh.<name>`.
    pub fn whiteout(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let mut name = OsString::from(".wh.");
        name.push(path.file_name().unwrap_or_default());
        Self::file(
            path.parent().unwrap_or(Path::new("")).join(name),
            Vec::new(),
            0o600,
        )
    }
    /// The marker that hides everything lower layers have under `dir`: `<dir>/.wh..wh..opq`.
    pub fn opaque(dir: impl AsRef<Path>) -> Self {
        Self::file(dir.as_ref().join(".wh..wh..opq"), Vec::new(), 0o600)
    }
    pub fn char_device(path: impl Into<PathBuf>, major: u32, minor: u32, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::CharDevice { major, minor },
        }
    }
    pub fn block_device(path: impl Into<PathBuf>, major: u32, minor: u32, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::BlockDevice { major, minor },
        }
    }
    pub fn fifo(path: impl Into<PathBuf>, mode: u32) -> Self {
        Self {
            meta: EntryMeta::new(path, mode),
            body: EntryBody::Fifo,
        }
    }
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.meta.uid = uid;
        self.meta.gid = gid;
        self
    }
    pub fn mtime(mut self, secs: u64) -> Self {
        self.meta.mtime = secs;
        self
    }
    pub fn xattr(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.meta.xattrs.push((name.into(), value.into()));
        self
    }
}

/// Collects entries and writes them as one tar. Owner and mtime set with [`Self::owner`] and [`Self::mtime`]
/// apply to the entries added after the call.
#[derive(Debug, Clone, Default)]
pub struct LayerBuilder {
    entries: Vec<LayerEntry>,
    uid: u64,
    gid: u64,
    mtime: u64,
}

impl LayerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Owner of the entries added from now on.
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Modification time of the entries added from now on.
    pub fn mtime(mut self, secs: u64) -> Self {
        self.mtime = secs;
        self
    }

    /// Adds an entry exactly as given (the builder's owner and mtime are not applied).
    pub fn entry(mut self, entry: LayerEntry) -> Self {
        self.entries.push(entry);
        self
    }

    fn add(mut self, entry: LayerEntry) -> Self {
        let entry = entry.owner(self.uid, self.gid).mtime(self.mtime);
        self.entries.push(entry);
        self
    }

    pub fn dir(self, path: impl Into<PathBuf>, mode: u32) -> Self {
        self.add(LayerEntry::dir(path, mode))
    }
    pub fn file(self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.add(LayerEntry::file(path, content, mode))
    }
    pub fn random_file(self, path: impl Into<PathBuf>, size: u64, seed: u64, mode: u32) -> Self {
        self.add(LayerEntry::random_file(path, size, seed, mode))
    }
    pub fn symlink(self, path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        self.add(LayerEntry::symlink(path, target))
    }
    pub fn hardlink(self, path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        self.add(LayerEntry::hardlink(path, target))
    }
    pub fn whiteout(self, path: impl AsRef<Path>) -> Self {
        self.add(LayerEntry::whiteout(path))
    }
    pub fn opaque(self, dir: impl AsRef<Path>) -> Self {
        self.add(LayerEntry::opaque(dir))
    }
    pub fn char_device(self, path: impl Into<PathBuf>, major: u32, minor: u32, mode: u32) -> Self {
        self.add(LayerEntry::char_device(path, major, minor, mode))
    }
    pub fn block_device(self, path: impl Into<PathBuf>, major: u32, minor: u32, mode: u32) -> Self {
        self.add(LayerEntry::block_device(path, major, minor, mode))
    }
    pub fn fifo(self, path: impl Into<PathBuf>, mode: u32) -> Self {
        self.add(LayerEntry::fifo(path, mode))
    }

    pub fn entries(&self) -> &[LayerEntry] {
        &self.entries
    }

    /// Builds from the line format of [`crate::builder::from_text`].
    pub fn from_text(spec: &str) -> Result<Self, SpecError> {
        from_text(spec)
    }

    /// The uncompressed tar, end-of-archive blocks included.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in &self.entries {
            out.extend_from_slice(&metadata_blocks(entry));
            match &entry.body {
                EntryBody::File(FileContent::Bytes(bytes)) => out.extend_from_slice(bytes),
                EntryBody::File(FileContent::Random { size, seed }) => {
                    let start = out.len();
                    // A size that does not fit in memory would fail the allocation; that is the caller's call.
                    out.resize(
                        start.saturating_add(usize::try_from(*size).unwrap_or(usize::MAX)),
                        0,
                    );
                    fill_random(*seed, 0, &mut out[start..]);
                }
                _ => {}
            }
            out.resize(out.len().next_multiple_of(BLOCK), 0);
        }
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
        out
    }

    /// Writes the tar to `out` as it goes, without holding it in memory, and returns `out`.
    pub fn write_to<W: Write>(&self, out: W) -> io::Result<W> {
        let mut writer = StreamingLayerWriter::new(out);
        for entry in &self.entries {
            writer.append(entry)?;
        }
        writer.finish()
    }
}

/// Writes a layer tar entry by entry to any `Write`. Call [`Self::finish`] to write the end-of-archive blocks.
#[derive(Debug)]
pub struct StreamingLayerWriter<W: Write> {
    out: W,
    /// Scratch space for generated or copied content, allocated on first use.
    buf: Vec<u8>,
}

impl<W: Write> StreamingLayerWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::new(),
        }
    }

    pub fn append(&mut self, entry: &LayerEntry) -> io::Result<()> {
        self.out.write_all(&metadata_blocks(entry))?;
        let size = match &entry.body {
            EntryBody::File(FileContent::Bytes(bytes)) => {
                self.out.write_all(bytes)?;
                bytes.len() as u64
            }
            EntryBody::File(FileContent::Random { size, seed }) => {
                self.buf.resize(BUFFER_SIZE, 0);
                let mut written = 0u64;
                while written < *size {
                    let n = chunk_len(*size - written, self.buf.len());
                    fill_random(*seed, written, &mut self.buf[..n]);
                    self.out.write_all(&self.buf[..n])?;
                    written += n as u64;
                }
                *size
            }
            _ => 0,
        };
        self.pad(size)
    }

    /// Appends a regular file described by `meta` whose `size` bytes come from `content`. Fails with
    /// `UnexpectedEof` if `content` ends early; the tar written so far is then unusable.
    pub fn append_file_from_reader(
        &mut self,
        meta: &EntryMeta,
        size: u64,
        mut content: impl Read,
    ) -> io::Result<()> {
        let blocks = encode_metadata(meta, tar::EntryType::Regular, size, None, None, false);
        self.out.write_all(&blocks)?;
        self.buf.resize(BUFFER_SIZE, 0);
        let mut written = 0u64;
        while written < size {
            let want = chunk_len(size - written, self.buf.len());
            let n = match content.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "content of {} ended after {written} of {size} bytes",
                            meta.path.display()
                        ),
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.out.write_all(&self.buf[..n])?;
            written += n as u64;
        }
        self.pad(size)
    }

    /// Writes a PAX extended header (`x`) with `records`, which then apply to the next entry. Raw: an entry
    /// with xattrs writes its own PAX header, and two in a row make the archive invalid.
    pub fn append_raw_pax(&mut self, records: &[(&str, &[u8])]) -> io::Result<()> {
        self.out
            .write_all(&pax_blocks(tar::EntryType::XHeader, records))
    }

    /// Writes a PAX global header (`g`) with `records`.
    pub fn append_raw_global_pax(&mut self, records: &[(&str, &[u8])]) -> io::Result<()> {
        self.out
            .write_all(&pax_blocks(tar::EntryType::XGlobalHeader, records))
    }

    /// Writes `header` exactly as given (set its checksum yourself) followed by `content`, padded. For tars
    /// no honest writer produces.
    pub fn append_raw(&mut self, header: &tar::Header, content: &[u8]) -> io::Result<()> {
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(content)?;
        self.pad(content.len() as u64)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.out.write_all(&[0u8; BLOCK][..rest])
    }

    /// Writes the two zero blocks that end a tar and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn chunk_len(remaining: u64, buf_len: usize) -> usize {
    usize::try_from(remaining).map_or(buf_len, |r| r.min(buf_len))
}

/// The header blocks (PAX, GNU long name and link, then the entry's own header) of `entry`.
fn metadata_blocks(entry: &LayerEntry) -> Vec<u8> {
    let meta = &entry.meta;
    match &entry.body {
        EntryBody::Dir => encode_metadata(meta, tar::EntryType::Directory, 0, None, None, true),
        EntryBody::File(content) => encode_metadata(
            meta,
            tar::EntryType::Regular,
            content.len(),
            None,
            None,
            false,
        ),
        EntryBody::Symlink(target) => encode_metadata(
            meta,
            tar::EntryType::Symlink,
            0,
            Some(target.as_os_str().as_bytes()),
            None,
            false,
        ),
        EntryBody::Hardlink(target) => encode_metadata(
            meta,
            tar::EntryType::Link,
            0,
            Some(target.as_os_str().as_bytes()),
            None,
            false,
        ),
        EntryBody::CharDevice { major, minor } => encode_metadata(
            meta,
            tar::EntryType::Char,
            0,
            None,
            Some((*major, *minor)),
            false,
        ),
        EntryBody::BlockDevice { major, minor } => encode_metadata(
            meta,
            tar::EntryType::Block,
            0,
            None,
            Some((*major, *minor)),
            false,
        ),
        EntryBody::Fifo => encode_metadata(meta, tar::EntryType::Fifo, 0, None, None, false),
    }
}

fn encode_metadata(
    meta: &EntryMeta,
    entry_type: tar::EntryType,
    size: u64,
    link: Option<&[u8]>,
    device: Option<(u32, u32)>,
    is_dir: bool,
) -> Vec<u8> {
    let mut blocks = Vec::with_capacity(BLOCK);
    if !meta.xattrs.is_empty() {
        let records: Vec<(String, &[u8])> = meta
            .xattrs
            .iter()
            .map(|(name, value)| (format!("SCHILY.xattr.{name}"), value.as_slice()))
            .collect();
        let records: Vec<(&str, &[u8])> = records.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        blocks.extend_from_slice(&pax_blocks(tar::EntryType::XHeader, &records));
    }

    let mut name = meta.path.as_os_str().as_bytes().to_vec();
    if is_dir {
        if name.is_empty() || name == b"." {
            name = b"./".to_vec();
        } else if !name.ends_with(b"/") {
            name.push(b'/');
        }
    }
    if name.len() > 100 {
        blocks.extend_from_slice(&gnu_long_record(tar::EntryType::GNULongName, &name));
    }
    if let Some(link) = link
        && link.len() > 100
    {
        blocks.extend_from_slice(&gnu_long_record(tar::EntryType::GNULongLink, link));
    }

    let mut header = tar::Header::new_gnu();
    {
        let old = header.as_old_mut();
        copy_truncated(&mut old.name, &name);
        if let Some(link) = link {
            copy_truncated(&mut old.linkname, link);
        }
    }
    header.set_mode(meta.mode);
    header.set_uid(meta.uid);
    header.set_gid(meta.gid);
    header.set_mtime(meta.mtime);
    header.set_size(size);
    header.set_entry_type(entry_type);
    if let Some((major, minor)) = device
        && let Some(gnu) = header.as_gnu_mut()
    {
        gnu.set_device_major(major);
        gnu.set_device_minor(minor);
    }
    header.set_cksum();
    blocks.extend_from_slice(header.as_bytes());
    blocks
}

/// Copies as much of `value` as fits; GNU long-name records carry the rest.
fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = field.len().min(value.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A GNU `L`/`K` record: a pseudo-entry whose content is the NUL-terminated long name.
fn gnu_long_record(entry_type: tar::EntryType, value: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    copy_truncated(&mut header.as_old_mut().name, b"././@LongLink");
    header.set_mode(0o644);
    header.set_size(value.len() as u64 + 1);
    header.set_entry_type(entry_type);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(value);
    out.push(0);
    out.resize(out.len().next_multiple_of(BLOCK), 0);
    out
}

/// A PAX header pseudo-entry holding `records` (`<len> <key>=<value>\n`, where len counts itself).
fn pax_blocks(entry_type: tar::EntryType, records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in records {
        let base = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = base + decimal_digits(base);
        if decimal_digits(len) != decimal_digits(base) {
            len = base + decimal_digits(len);
        }
        body.extend_from_slice(len.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(key.as_bytes());
        body.push(b'=');
        body.extend_from_slice(value);
        body.push(b'\n');
    }
    let mut header = tar::Header::new_gnu();
    copy_truncated(&mut header.as_old_mut().name, b"././@PaxHeader");
    header.set_mode(0o644);
    header.set_size(body.len() as u64);
    header.set_entry_type(entry_type);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(&body);
    out.resize(out.len().next_multiple_of(BLOCK), 0);
    out
}

fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Deterministic, incompressible bytes: byte `i` of the stream for `seed` is a fixed function of `(seed, i)`
/// (splitmix64 of the 8-byte word index), so the stream does not depend on how it is read and any range can
/// be produced on its own. Gigabytes per second, no dependency.
#[derive(Debug, Clone)]
pub struct RandomBytes {
    seed: u64,
    position: u64,
    len: u64,
}

impl RandomBytes {
    pub fn new(seed: u64, len: u64) -> Self {
        Self {
            seed,
            position: 0,
            len,
        }
    }
}

impl Read for RandomBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = chunk_len(self.len - self.position, buf.len());
        fill_random(self.seed, self.position, &mut buf[..n]);
        self.position += n as u64;
        Ok(n)
    }
}

fn splitmix64(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `buf` with bytes `offset..offset + buf.len()` of the [`RandomBytes`] stream for `seed`.
pub fn fill_random(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut position = offset;
    let mut rest = buf;
    // Up to the next word boundary.
    let within = (position % 8) as usize;
    if within != 0 {
        let word = splitmix64(seed, position / 8).to_le_bytes();
        let n = (8 - within).min(rest.len());
        rest[..n].copy_from_slice(&word[within..within + n]);
        rest = &mut rest[n..];
        position += n as u64;
    }
    let mut index = position / 8;
    let mut words = rest.chunks_exact_mut(8);
    for chunk in &mut words {
        chunk.copy_from_slice(&splitmix64(seed, index).to_le_bytes());
        index += 1;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&splitmix64(seed, index).to_le_bytes()[..n]);
    }
}

/// A line of a layer spec that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layer spec line {line} ({text:?}): {reason}")]
pub struct SpecError {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// Builds a layer from a small line format, one entry per line (after bootc's ostree-ext fixtures):
///
/// ```text
/// # comments and blank lines are ignored
/// d etc 755                      directory
/// f etc/os-release 644 ID=test   file; the rest of the line is the content, with \n, \t and \\ escapes
/// r big.bin 644 64M 7            file of 64 MiB of random bytes from seed 7 (size suffixes K, M, G)
/// l bin/sh busybox               symlink
/// h bin/ls bin/busybox           hardlink to an earlier entry
/// w etc/old                      whiteout: delete etc/old from lower layers
/// o var/cache                    opaque: hide var/cache's lower contents
/// c dev/null 666 1 3             character device (b for block)
/// p run/fifo 600                 fifo
/// m 1000 1000                    owner of the entries that follow
/// t 1700000000                   mtime of the entries that follow
/// ```
pub fn from_text(spec: &str) -> Result<LayerBuilder, SpecError> {
    let mut builder = LayerBuilder::new();
    for (index, raw_line) in spec.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: &str| SpecError {
            line: index + 1,
            text: line.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim_start();
        let mut words = rest.split_whitespace();
        let mut next = |what: &str| {
            words
                .next()
                .ok_or_else(|| error(&format!("missing {what}")))
        };
        builder = match kind {
            "d" => {
                let path = next("path")?;
                let mode = parse_mode(next("mode")?)
                    .ok_or_else(|| error("mode must be octal, at most 7777"))?;
                builder.dir(path, mode)
            }
            "f" => {
                // The content is everything after the mode, spaces included.
                let mut parts = rest.splitn(3, char::is_whitespace);
                let path = parts
                    .next()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| error("missing path"))?;
                let mode = parts.next().ok_or_else(|| error("missing mode"))?;
                let mode =
                    parse_mode(mode).ok_or_else(|| error("mode must be octal, at most 7777"))?;
                let content = unescape(parts.next().unwrap_or("")).map_err(|e| error(&e))?;
                builder.file(path, content, mode)
            }
            "r" => {
                let path = next("path")?;
                let mode = parse_mode(next("mode")?)
                    .ok_or_else(|| error("mode must be octal, at most 7777"))?;
                let size = parse_size(next("size")?)
                    .ok_or_else(|| error("size must be a number with K, M or G"))?;
                let seed = next("seed")?
                    .parse()
                    .map_err(|_| error("seed must be a number"))?;
                builder.random_file(path, size, seed, mode)
            }
            "l" => {
                let path = next("path")?;
                builder.symlink(path, next("target")?)
            }
            "h" => {
                let path = next("path")?;
                builder.hardlink(path, next("target")?)
            }
            "w" => builder.whiteout(next("path")?),
            "o" => builder.opaque(next("directory")?),
            "c" | "b" => {
                let path = next("path")?;
                let mode = parse_mode(next("mode")?)
                    .ok_or_else(|| error("mode must be octal, at most 7777"))?;
                let major = next("major")?
                    .parse()
                    .map_err(|_| error("major must be a number"))?;
                let minor = next("minor")?
                    .parse()
                    .map_err(|_| error("minor must be a number"))?;
                if kind == "c" {
                    builder.char_device(path, major, minor, mode)
                } else {
                    builder.block_device(path, major, minor, mode)
                }
            }
            "p" => {
                let path = next("path")?;
                let mode = parse_mode(next("mode")?)
                    .ok_or_else(|| error("mode must be octal, at most 7777"))?;
                builder.fifo(path, mode)
            }
            "m" => {
                let uid = next("uid")?
                    .parse()
                    .map_err(|_| error("uid must be a number"))?;
                let gid = next("gid")?
                    .parse()
                    .map_err(|_| error("gid must be a number"))?;
                builder.owner(uid, gid)
            }
            "t" => builder.mtime(
                next("mtime")?
                    .parse()
                    .map_err(|_| error("mtime must be a number"))?,
            ),
            _ => {
                return Err(error(
                    "unknown entry kind; expected one of d f r l h w o c b p m t",
                ));
            }
        };
        if kind != "f" && words.next().is_some() {
            return Err(error("unexpected words at the end of the line"));
        }
    }
    Ok(builder)
}

fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

fn parse_size(text: &str) -> Option<u64> {
    let (digits, multiplier) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('\\') => out.push(b'\\'),
            Some(other) => return Err(format!("unknown escape \\{other}")),
            None => return Err("a lone \\ at the end of the content".to_owned()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryInfo, EntryKind};

    /// Reads a tar back with the tar crate, one line per entry, and the content of each.
    fn read_back(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let info = EntryInfo::read(&mut entry).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            let link = info
                .link_name
                .map(|l| format!(" -> {}", l.display()))
                .unwrap_or_default();
            let line = format!(
                "{:?} {}{link} size {} mode {:o} owner {}:{} mtime {}",
                info.kind,
                info.path.display(),
                info.size,
                info.mode,
                info.uid,
                info.gid,
                info.mtime.secs
            );
            out.push((line, content));
        }
        out
    }

    #[test]
    fn builder_output_reads_back_entry_for_entry() {
        let tar = LayerBuilder::new()
            .dir("etc", 0o755)
            .owner(1000, 100)
            .mtime(1_700_000_000)
            .file("etc/os-release", "ID=test\n", 0o644)
            .symlink("bin/sh", "/bin/busybox")
            .hardlink("etc/copy", "etc/os-release")
            .build();
        let entries = read_back(&tar);
        let lines: Vec<&str> = entries.iter().map(|(line, _)| line.as_str()).collect();
        assert_eq!(
            lines,
            [
                "Dir etc/ size 0 mode 755 owner 0:0 mtime 0",
                "File etc/os-release size 8 mode 644 owner 1000:100 mtime 1700000000",
                "Symlink bin/sh -> /bin/busybox size 0 mode 777 owner 1000:100 mtime 1700000000",
                "Hardlink etc/copy -> etc/os-release size 0 mode 644 owner 1000:100 mtime 1700000000",
            ]
        );
        assert_eq!(entries[1].1, b"ID=test\n");
    }

    #[test]
    fn output_is_deterministic_and_streaming_matches_build() {
        let builder =
            LayerBuilder::from_text("d a 755\nf a/b 600 hello\nr a/noise 644 300000 9\n").unwrap();
        let built = builder.build();
        assert_eq!(built, builder.build());
        let streamed = builder.write_to(Vec::new()).unwrap();
        assert!(built == streamed, "write_to and build differ");
        assert_eq!(built.len() % 512, 0);
        assert_eq!(&built[built.len() - 1024..], &[0u8; 1024][..]);
    }

    #[test]
    fn long_names_links_and_xattrs_survive() {
        let long_dir = "d".repeat(150);
        let long_target = format!("/{}", "t".repeat(200));
        let tar = LayerBuilder::new()
            .dir(&long_dir, 0o755)
            .symlink(format!("{long_dir}/link"), &long_target)
            .entry(
                LayerEntry::file("x", "1", 0o644)
                    .xattr("user.comment", b"hi".to_vec())
                    .xattr("security.capability", vec![1, 0, 0, 2]),
            )
            .build();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entries = archive.entries().unwrap();
        let mut dir = entries.next().unwrap().unwrap();
        assert_eq!(
            EntryInfo::read(&mut dir).unwrap().path,
            PathBuf::from(format!("{long_dir}/"))
        );
        let mut link = entries.next().unwrap().unwrap();
        let link = EntryInfo::read(&mut link).unwrap();
        assert_eq!(link.path, PathBuf::from(format!("{long_dir}/link")));
        assert_eq!(link.link_name, Some(PathBuf::from(&long_target)));
        let mut file = entries.next().unwrap().unwrap();
        let file = EntryInfo::read(&mut file).unwrap();
        assert_eq!(
            file.xattrs,
            vec![
                (OsString::from("user.comment"), b"hi".to_vec()),
                (OsString::from("security.capability"), vec![1, 0, 0, 2])
            ]
        );
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        // 9 + 1 + 1 + 1 + 1 = 13 would need 2 digits, making 15... the classic off-by-digit case.
        for value_len in [0usize, 1, 86, 87, 88, 990, 991, 992, 993] {
            let value = vec![b'v'; value_len];
            let blocks = pax_blocks(tar::EntryType::XHeader, &[("key", &value)]);
            let body = &blocks[512..];
            let space = body.iter().position(|b| *b == b' ').unwrap();
            let declared: usize = std::str::from_utf8(&body[..space])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(body[declared - 1], b'\n', "value length {value_len}");
            assert_eq!(declared, space + 1 + 3 + 1 + value_len + 1);
        }
    }

    #[test]
    fn whiteout_and_opaque_names() {
        assert_eq!(
            LayerEntry::whiteout("etc/old").meta.path,
            PathBuf::from("etc/.wh.old")
        );
        assert_eq!(
            LayerEntry::whiteout("top").meta.path,
            PathBuf::from(".wh.top")
        );
        assert_eq!(
            LayerEntry::opaque("var/cache").meta.path,
            PathBuf::from("var/cache/.wh..wh..opq")
        );
    }

    #[test]
    fn random_bytes_do_not_depend_on_read_sizes() {
        let mut whole = vec![0u8; 10_000];
        fill_random(42, 0, &mut whole);
        let mut pieces = Vec::new();
        let mut reader = RandomBytes::new(42, 10_000);
        let mut chunk = [0u8; 7];
        loop {
            let n = reader.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(pieces, whole);
        let mut middle = vec![0u8; 101];
        fill_random(42, 3333, &mut middle);
        assert_eq!(middle, whole[3333..3434]);
        let mut other_seed = vec![0u8; 64];
        fill_random(43, 0, &mut other_seed);
        assert_ne!(other_seed, whole[..64]);
    }

    #[test]
    fn random_bytes_are_incompressible() {
        let mut data = vec![0u8; 1 << 20];
        fill_random(1, 0, &mut data);
        let compressed = zstd::bulk::compress(&data, 3).unwrap();
        assert!(
            compressed.len() > data.len() * 99 / 100,
            "compressed to {}",
            compressed.len()
        );
    }

    #[test]
    fn append_file_from_reader_streams_and_checks_length() {
        let mut writer = StreamingLayerWriter::new(Vec::new());
        writer
            .append_file_from_reader(
                &EntryMeta::new("noise", 0o644),
                5000,
                RandomBytes::new(3, 5000),
            )
            .unwrap();
        let tar = writer.finish().unwrap();
        let entries = read_back(&tar);
        let mut expected = vec![0u8; 5000];
        fill_random(3, 0, &mut expected);
        assert_eq!(entries[0].1, expected);

        let mut writer = StreamingLayerWriter::new(Vec::new());
        let err = writer
            .append_file_from_reader(&EntryMeta::new("short", 0o644), 5000, &b"abc"[..])
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn devices_and_fifos_carry_their_numbers() {
        let tar =
            LayerBuilder::from_text("c dev/null 666 1 3\nb dev/loop0 660 7 0\np run/fifo 600\n")
                .unwrap()
                .build();
        let mut archive = tar::Archive::new(&tar[..]);
        let infos: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| EntryInfo::read(&mut e.unwrap()).unwrap())
            .collect();
        assert_eq!(
            (infos[0].kind, infos[0].device, infos[0].mode),
            (EntryKind::CharDevice, Some((1, 3)), 0o666)
        );
        assert_eq!(
            (infos[1].kind, infos[1].device),
            (EntryKind::BlockDevice, Some((7, 0)))
        );
        assert_eq!(infos[2].kind, EntryKind::Fifo);
    }

    #[test]
    fn spec_parses_content_with_spaces_and_escapes() {
        let builder = from_text(
            "# a comment\n\n  f etc/motd 644 hello  world\\n\\tend\\\\\nm 5 6\nt 99\nd x 700\n",
        )
        .unwrap();
        let entries = builder.entries();
        assert_eq!(
            entries[0].body,
            EntryBody::File(FileContent::Bytes(b"hello  world\n\tend\\".to_vec()))
        );
        assert_eq!(
            (
                entries[1].meta.uid,
                entries[1].meta.gid,
                entries[1].meta.mtime
            ),
            (5, 6, 99)
        );
        let builder = from_text("f empty 600\nr big 644 2M 1\n").unwrap();
        assert_eq!(
            builder.entries()[0].body,
            EntryBody::File(FileContent::Bytes(Vec::new()))
        );
        assert_eq!(
            builder.entries()[1].body,
            EntryBody::File(FileContent::Random {
                size: 2 << 20,
                seed: 1
            })
        );
    }

    #[test]
    fn spec_errors_name_the_line() {
        let err = from_text("d etc 755\nd etc 9z9\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.to_string(),
            "layer spec line 2 (\"d etc 9z9\"): mode must be octal, at most 7777"
        );
        assert!(from_text("q what\n").is_err());
        assert!(
            from_text("l only-path\n")
                .unwrap_err()
                .reason
                .contains("missing target")
        );
        assert!(
            from_text("w a b\n")
                .unwrap_err()
                .reason
                .contains("unexpected words")
        );
        assert!(
            from_text("f x 644 bad\\q\n")
                .unwrap_err()
                .reason
                .contains("unknown escape")
        );
    }
}
