//! Digests and sizes of layer streams: the blob digest and size over the bytes as stored, the DiffID and size
//! over the uncompressed tar, all computed in a single pass that can also copy the stored bytes elsewhere.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, BufRead, Read, Write};

use hoist_spec::{Digest, Hasher};

use crate::compression::{BUFFER_SIZE, Compression, Decompressor, SniffedReader, sniffed_reader};

/// A reader that hashes and counts every byte read through it.
#[derive(Debug)]
pub struct CountingHashReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R> CountingHashReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }
    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
    /// The digest and length of everything read.
    pub fn finish(self) -> (Digest, u64) {
        let len = self.hasher.len();
        (self.hasher.finish(), len)
    }
    /// The reader back, with the digest and length of everything read.
    pub fn into_parts(self) -> (R, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<R: Read> Read for CountingHashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes and counts every byte the inner writer accepted.
#[derive(Debug)]
pub struct CountingHashWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W> CountingHashWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
    /// The digest and length of everything written.
    pub fn finish(self) -> (Digest, u64) {
        let len = self.hasher.len();
        (self.hasher.finish(), len)
    }
    /// The writer back, with the digest and length of everything written.
    pub fn into_parts(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: Write> Write for CountingHashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The DiffID (digest of the uncompressed tar) and uncompressed size of a layer stream compressed as
/// `compression`.
pub fn diff_id_of<R: Read>(reader: R, compression: Compression) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; BUFFER_SIZE];
    if compression == Compression::None {
        let mut reader = reader;
        hash_to_end(&mut reader, &mut hasher, &mut buf)?;
    } else {
        let mut decoder = Decompressor::new(
            io::BufReader::with_capacity(BUFFER_SIZE, reader),
            compression,
        )?;
        hash_to_end(&mut decoder, &mut hasher, &mut buf)?;
    }
    let size = hasher.len();
    Ok((hasher.finish(), size))
}

fn hash_to_end(source: &mut dyn Read, hasher: &mut Hasher, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match source.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// What one pass over a layer blob learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerStats {
    /// Detected from the magic bytes, not from any declared media type.
    pub compression: Compression,
    /// Digest of the blob as stored (compressed bytes).
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// Digest of the uncompressed tar: the DiffID in the image config's `rootfs.diff_ids`.
    pub diff_id: Digest,
    /// Size of the uncompressed tar.
    pub size: u64,
}

/// Marks an error from the copy sink of [`LayerDigestReader::with_copy`], so callers can tell a full disk from
/// a failing download. Find it with [`is_copy_error`].
#[derive(Debug)]
pub struct CopyError(io::Error);

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writing the copy of the layer: {}", self.0)
    }
}

impl StdError for CopyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// Whether `error` came from writing the copy rather than from reading or decoding the layer.
pub fn is_copy_error(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<CopyError>())
}

/// The raw side: hashes, counts and copies every byte taken from the source, before any buffering.
#[derive(Debug)]
struct RawTee<R, W> {
    inner: R,
    copy: W,
    hasher: Hasher,
}

impl<R: Read, W: Write> Read for RawTee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let bytes = &buf[..n];
            self.copy
                .write_all(bytes)
                .map_err(|e| io::Error::new(e.kind(), CopyError(e)))?;
            self.hasher.update(bytes);
        }
        Ok(n)
    }
}

/// Reads a layer blob of any compression and yields its uncompressed tar, hashing both sides on the way:
/// one pass gives the blob digest and size, the DiffID and size, and (with [`Self::with_copy`]) a copy of
/// the stored bytes. Hand it to a tar reader (e.g. [`crate::apply_layer`]), then call [`Self::finish`].
///
/// An uncompressed blob is hashed once: its DiffID is its blob digest.
#[derive(Debug)]
pub struct LayerDigestReader<R, W = io::Sink> {
    decoder: Decompressor<SniffedReader<RawTee<R, W>>>,
    /// `None` for an uncompressed blob, whose raw digest is also its DiffID.
    uncompressed: Option<Hasher>,
}

impl<R: Read> LayerDigestReader<R> {
    /// Sniffs the compression (reading the first bytes) and starts hashing.
    pub fn new(reader: R) -> io::Result<Self> {
        Self::with_copy(reader, io::sink())
    }
}

impl<R: Read, W: Write> LayerDigestReader<R, W> {
    /// Like [`LayerDigestReader::new`], also writing every raw byte read to `copy` (pass `&mut file` to keep
    /// the file). Errors writing it are marked, see [`is_copy_error`].
    pub fn with_copy(reader: R, copy: W) -> io::Result<Self> {
        let tee = RawTee {
            inner: reader,
            copy,
            hasher: Hasher::new(),
        };
        let (compression, buffered) = sniffed_reader(tee)?;
        let decoder = Decompressor::new(buffered, compression)?;
        let uncompressed = (compression != Compression::None).then(Hasher::new);
        Ok(Self {
            decoder,
            uncompressed,
        })
    }

    pub fn compression(&self) -> Compression {
        self.decoder.compression()
    }

    /// Uncompressed bytes handed out so far.
    pub fn uncompressed_len(&self) -> u64 {
        match &self.uncompressed {
            Some(hasher) => hasher.len(),
            // Without compression the uncompressed side is the raw side minus what sits in the buffer.
            None => {
                let buffered = self.decoder_buffered_len();
                self.raw().hasher.len() - buffered
            }
        }
    }

    /// Raw (stored) bytes taken from the source so far, including read-ahead not yet decoded.
    pub fn raw_len(&self) -> u64 {
        self.raw().hasher.len()
    }

    fn raw(&self) -> &RawTee<R, W> {
        self.decoder.get_ref().get_ref().get_ref()
    }

    fn decoder_buffered_len(&self) -> u64 {
        match &self.decoder {
            Decompressor::None(r) => (r.buffer().len() + r.get_ref().pending()) as u64,
            _ => 0,
        }
    }

    /// Reads whatever the consumer left (tar padding after the end-of-archive blocks, bytes after the
    /// compressed stream) so the digests cover the whole blob, flushes the copy, and returns the numbers.
    pub fn finish(mut self) -> io::Result<LayerStats> {
        let mut buf = vec![0u8; BUFFER_SIZE];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // A decoder may stop at the end of its stream with bytes left behind it; they are part of the blob.
        let raw_side = self.decoder.get_mut();
        loop {
            let available = raw_side.fill_buf()?.len();
            if available == 0 {
                break;
            }
            raw_side.consume(available);
        }
        let compression = self.decoder.compression();
        let tee = self.decoder.get_mut().get_mut().get_mut();
        tee.copy
            .flush()
            .map_err(|e| io::Error::new(e.kind(), CopyError(e)))?;
        let raw = std::mem::take(&mut tee.hasher);
        let blob_size = raw.len();
        let blob_digest = raw.finish();
        let (diff_id, size) = match self.uncompressed {
            Some(hasher) => {
                let size = hasher.len();
                (hasher.finish(), size)
            }
            None => (blob_digest.clone(), blob_size),
        };
        Ok(LayerStats {
            compression,
            blob_digest,
            blob_size,
            diff_id,
            size,
        })
    }
}

impl<R: Read, W: Write> Read for LayerDigestReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        if let Some(hasher) = &mut self.uncompressed {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Reads a whole layer blob and returns its digests and sizes.
pub fn inspect_layer_stream<R: Read>(reader: R) -> io::Result<LayerStats> {
    LayerDigestReader::new(reader)?.finish()
}

/// Reads a whole layer blob, copying its raw bytes to `copy`, and returns its digests and sizes.
pub fn copy_and_inspect_layer<R: Read, W: Write>(
    reader: R,
    copy: &mut W,
) -> io::Result<LayerStats> {
    LayerDigestReader::with_copy(reader, copy)?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::Compressor;

    fn tar_like_bytes() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 7).to_le_bytes())
            .collect()
    }

    fn compress(compression: Compression, data: &[u8]) -> Vec<u8> {
        let mut c = Compressor::new(Vec::new(), compression).unwrap();
        c.write_all(data).unwrap();
        c.finish().unwrap()
    }

    #[test]
    fn counting_hash_reader_and_writer_agree_with_one_shot_digest() {
        let data = tar_like_bytes();
        let mut reader = CountingHashReader::new(&data[..]);
        let mut writer = CountingHashWriter::new(Vec::new());
        io::copy(&mut reader, &mut writer).unwrap();
        let expected = Digest::of(&data);
        assert_eq!(reader.finish(), (expected.clone(), data.len() as u64));
        let (written, digest, len) = writer.into_parts();
        assert_eq!((digest, len), (expected, data.len() as u64));
        assert!(written == data);
    }

    #[test]
    fn one_pass_stats_match_independent_digests() {
        let data = tar_like_bytes();
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let blob = compress(compression, &data);
            let stats = inspect_layer_stream(&blob[..]).unwrap();
            assert_eq!(stats.compression, compression);
            assert_eq!(stats.blob_digest, Digest::of(&blob), "{compression}");
            assert_eq!(stats.blob_size, blob.len() as u64);
            assert_eq!(stats.diff_id, Digest::of(&data), "{compression}");
            assert_eq!(stats.size, data.len() as u64);
            assert_eq!(
                diff_id_of(&blob[..], compression).unwrap(),
                (Digest::of(&data), data.len() as u64)
            );
        }
    }

    #[test]
    fn copy_receives_exactly_the_stored_bytes() {
        let data = tar_like_bytes();
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let blob = compress(compression, &data);
            let mut copy = Vec::new();
            let stats = copy_and_inspect_layer(&blob[..], &mut copy).unwrap();
            assert!(copy == blob, "{compression}: copy differs from the blob");
            assert_eq!(stats.blob_digest, Digest::of(&blob));
        }
    }

    #[test]
    fn partial_consumer_then_finish_covers_the_whole_blob() {
        let data = tar_like_bytes();
        let blob = compress(Compression::Gzip, &data);
        let mut reader = LayerDigestReader::new(&blob[..]).unwrap();
        let mut first = [0u8; 1000];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(reader.uncompressed_len(), 1000);
        let stats = reader.finish().unwrap();
        assert_eq!(stats.diff_id, Digest::of(&data));
        assert_eq!(stats.blob_digest, Digest::of(&blob));
    }

    #[test]
    fn uncompressed_len_excludes_read_ahead() {
        let data = tar_like_bytes();
        let mut reader = LayerDigestReader::new(&data[..]).unwrap();
        let mut first = [0u8; 512];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(reader.uncompressed_len(), 512);
        assert!(reader.raw_len() >= 512);
    }

    #[test]
    fn bytes_after_the_compressed_stream_count_towards_the_blob() {
        let data = tar_like_bytes();
        let mut blob = compress(Compression::Zstd, &data);
        // A zstd skippable frame: decoders pass over it, but it is part of the stored blob.
        blob.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
        let stats = inspect_layer_stream(&blob[..]).unwrap();
        assert_eq!(stats.blob_size, blob.len() as u64);
        assert_eq!(stats.blob_digest, Digest::of(&blob));
        assert_eq!(stats.diff_id, Digest::of(&data));
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let blob = compress(Compression::Gzip, &tar_like_bytes());
        let err = inspect_layer_stream(&blob[..blob.len() - 10]).unwrap_err();
        assert!(!is_copy_error(&err));
    }

    struct FailingWriter;
    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn copy_errors_are_marked() {
        let blob = compress(Compression::Gzip, b"data");
        let err = copy_and_inspect_layer(&blob[..], &mut FailingWriter).unwrap_err();
        assert!(is_copy_error(&err));
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(
            err.to_string().contains("writing the copy of the layer"),
            "{err}"
        );
    }
}
