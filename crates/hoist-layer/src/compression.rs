//! Layer compression: recognising it from magic bytes, decoding it as a stream, encoding gzip and zstd.
//!
//! Input archives may be gzip, zstd, xz or bzip2 (what `docker load`/`import` accept); layers hoist writes
//! are uncompressed, gzip or zstd, the three formats the OCI image spec names.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use hoist_spec::media_type::{self, LayerCompression};

/// Buffer size for compressed input: large enough that a decoder or hasher never works on small slices.
pub const BUFFER_SIZE: usize = 1 << 20;

/// The most magic bytes any format needs (xz).
const MAGIC_LEN: usize = 6;

/// How a layer stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    /// Recognises the format from the first bytes of a stream (at least 6 for xz; fewer means `None`
    /// unless a shorter magic matches).
    pub fn sniff(prefix: &[u8]) -> Self {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else if prefix.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Self::Xz
        } else if prefix.starts_with(b"BZh") {
            Self::Bzip2
        } else {
            Self::None
        }
    }

    /// Lower-case name, as `docker` and `skopeo` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
        }
    }

    /// The OCI layer media type for a layer stored with this compression; `None` for xz and bzip2, which are
    /// accepted as input archives only and have no layer media type.
    pub fn oci_layer_media_type(self) -> Option<&'static str> {
        match self {
            Self::None => Some(media_type::OCI_LAYER),
            Self::Gzip => Some(media_type::OCI_LAYER_GZIP),
            Self::Zstd => Some(media_type::OCI_LAYER_ZSTD),
            Self::Xz | Self::Bzip2 => None,
        }
    }

    /// The Docker schema 2 layer media type; Docker has none for zstd, xz or bzip2.
    pub fn docker_layer_media_type(self) -> Option<&'static str> {
        match self {
            Self::None => Some(media_type::DOCKER_LAYER),
            Self::Gzip => Some(media_type::DOCKER_LAYER_GZIP),
            Self::Zstd | Self::Xz | Self::Bzip2 => None,
        }
    }
}

impl From<LayerCompression> for Compression {
    fn from(declared: LayerCompression) -> Self {
        match declared {
            LayerCompression::None => Self::None,
            LayerCompression::Gzip => Self::Gzip,
            LayerCompression::Zstd => Self::Zstd,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A reader that first replays a few bytes already taken from `inner`, then continues with `inner`.
///
/// Sniffing reads the magic bytes before the decoder exists; this gives them back without a second buffer.
#[derive(Debug)]
pub struct PrefixedReader<R> {
    prefix: [u8; MAGIC_LEN],
    start: usize,
    end: usize,
    inner: R,
}

impl<R> PrefixedReader<R> {
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
    /// Sniffed bytes not yet handed out again.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }
}

impl<R: Read> Read for PrefixedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start < self.end {
            let n = buf.len().min(self.end - self.start);
            buf[..n].copy_from_slice(&self.prefix[self.start..self.start + n]);
            self.start += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// A buffered stream whose compression has been recognised; nothing read so far is lost.
pub type SniffedReader<R> = BufReader<PrefixedReader<R>>;

/// Reads the magic bytes of `reader` and returns the compression with a buffered reader (1 MiB) that still
/// yields the whole stream from its first byte.
pub fn sniffed_reader<R: Read>(mut reader: R) -> io::Result<(Compression, SniffedReader<R>)> {
    let mut prefix = [0u8; MAGIC_LEN];
    let mut filled = 0;
    // A pipe or socket may hand over fewer bytes than asked for; keep reading until the magic is complete.
    while filled < MAGIC_LEN {
        match reader.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = Compression::sniff(&prefix[..filled]);
    let prefixed = PrefixedReader {
        prefix,
        start: 0,
        end: filled,
        inner: reader,
    };
    Ok((compression, BufReader::with_capacity(BUFFER_SIZE, prefixed)))
}

/// A decoder over a buffered reader, for any [`Compression`]. It keeps the reader reachable
/// ([`Decompressor::get_mut`]) so callers can drain or inspect what follows the compressed data.
pub enum Decompressor<R> {
    None(R),
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    Xz(liblzma::bufread::XzDecoder<R>),
    Bzip2(bzip2::bufread::MultiBzDecoder<R>),
}

impl<R: BufRead> Decompressor<R> {
    /// Decodes `reader` as `compression`. Concatenated members (gzip, xz, bzip2) and frames (zstd) are all
    /// decoded, as `gzip -d` and Go's readers do.
    pub fn new(reader: R, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Self::None(reader),
            Compression::Gzip => Self::Gzip(flate2::bufread::MultiGzDecoder::new(reader)),
            Compression::Zstd => Self::Zstd(zstd::stream::read::Decoder::with_buffer(reader)?),
            Compression::Xz => Self::Xz(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
            Compression::Bzip2 => Self::Bzip2(bzip2::bufread::MultiBzDecoder::new(reader)),
        })
    }
}

impl<R> Decompressor<R> {
    pub fn compression(&self) -> Compression {
        match self {
            Self::None(_) => Compression::None,
            Self::Gzip(_) => Compression::Gzip,
            Self::Zstd(_) => Compression::Zstd,
            Self::Xz(_) => Compression::Xz,
            Self::Bzip2(_) => Compression::Bzip2,
        }
    }
}

impl<R: BufRead> Decompressor<R> {
    /// The compressed stream underneath.
    pub fn get_ref(&self) -> &R {
        match self {
            Self::None(r) => r,
            Self::Gzip(d) => d.get_ref(),
            Self::Zstd(d) => d.get_ref(),
            Self::Xz(d) => d.get_ref(),
            Self::Bzip2(d) => d.get_ref(),
        }
    }

    /// The compressed stream underneath.
    pub fn get_mut(&mut self) -> &mut R {
        match self {
            Self::None(r) => r,
            Self::Gzip(d) => d.get_mut(),
            Self::Zstd(d) => d.get_mut(),
            Self::Xz(d) => d.get_mut(),
            Self::Bzip2(d) => d.get_mut(),
        }
    }
}

impl<R: BufRead> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::None(r) => r.read(buf),
            Self::Gzip(d) => d.read(buf),
            Self::Zstd(d) => d.read(buf),
            Self::Xz(d) => d.read(buf),
            Self::Bzip2(d) => d.read(buf),
        }
    }
}

impl<R> fmt::Debug for Decompressor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Decompressor")
            .field(&self.compression())
            .finish()
    }
}

/// Decodes `reader` as `compression`, buffering the compressed side (1 MiB). An uncompressed stream is
/// returned as it is, unbuffered.
pub fn decompress_reader<R: Read + Send + 'static>(
    reader: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + Send>> {
    if compression == Compression::None {
        return Ok(Box::new(reader));
    }
    Ok(Box::new(Decompressor::new(
        BufReader::with_capacity(BUFFER_SIZE, reader),
        compression,
    )?))
}

/// Sniffs `reader` and decodes it: the usual way to open a layer or archive whose compression is unknown.
pub fn auto_decompress<R: Read>(reader: R) -> io::Result<Decompressor<SniffedReader<R>>> {
    let (compression, buffered) = sniffed_reader(reader)?;
    Decompressor::new(buffered, compression)
}

/// A gzip encoder. Call `finish()` on it to write the trailer.
pub fn gzip_writer<W: Write>(writer: W, level: u32) -> flate2::write::GzEncoder<W> {
    flate2::write::GzEncoder::new(writer, flate2::Compression::new(level.min(9)))
}

/// A zstd encoder that writes a content checksum, as the `zstd` tool does. Call `finish()` on it.
pub fn zstd_writer<W: Write>(
    writer: W,
    level: i32,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut encoder = zstd::stream::write::Encoder::new(writer, level)?;
    encoder.include_checksum(true)?;
    Ok(encoder)
}

/// Default gzip level: Docker's (Go's `gzip.DefaultCompression`).
pub const DEFAULT_GZIP_LEVEL: u32 = 6;
/// Default zstd level: the `zstd` tool's and containerd's.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// An encoder for any compression hoist writes layers in.
pub enum Compressor<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    /// An encoder at the default level. xz and bzip2 are refused with `ErrorKind::Unsupported`: no layer media
    /// type names them.
    pub fn new(writer: W, compression: Compression) -> io::Result<Self> {
        match compression {
            Compression::None => Ok(Self::None(writer)),
            Compression::Gzip => Ok(Self::Gzip(gzip_writer(writer, DEFAULT_GZIP_LEVEL))),
            Compression::Zstd => Ok(Self::Zstd(zstd_writer(writer, DEFAULT_ZSTD_LEVEL)?)),
            Compression::Xz | Compression::Bzip2 => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("layers are not written with {compression} compression"),
            )),
        }
    }

    pub fn compression(&self) -> Compression {
        match self {
            Self::None(_) => Compression::None,
            Self::Gzip(_) => Compression::Gzip,
            Self::Zstd(_) => Compression::Zstd,
        }
    }

    /// Writes the compressed stream's end and returns the writer underneath.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Self::None(w) => Ok(w),
            Self::Gzip(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::None(w) => w.write(buf),
            Self::Gzip(e) => e.write(buf),
            Self::Zstd(e) => e.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::None(w) => w.write_all(buf),
            Self::Gzip(e) => e.write_all(buf),
            Self::Zstd(e) => e.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::None(w) => w.flush(),
            Self::Gzip(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
        }
    }
}

impl<W: Write> fmt::Debug for Compressor<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Compressor")
            .field(&self.compression())
            .finish()
    }
}

/// Gzips `input` into `out` for a push: deflate level 1 where it pays, stored blocks where it does not.
///
/// Each 1 MiB chunk is probed (its first 64 KiB compressed on the side); a chunk that does not shrink
/// by 3% (already compressed files, random bytes) is written as stored deflate blocks, which costs a
/// copy instead of a compressor's search. The output is one ordinary gzip member any reader accepts,
/// and the same input always gives the same bytes (so the same digest on every push). Returns the
/// number of bytes read.
pub fn gzip_adaptive(mut input: impl Read, mut out: impl Write) -> io::Result<u64> {
    use flate2::{Compress, FlushCompress};
    const CHUNK: usize = 1 << 20;
    const PROBE: usize = 64 << 10;
    // Magic, deflate, no flags, no mtime (reproducible), no extra flags, OS unknown.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
    let fast = flate2::Compression::fast();
    // Raw deflate: its blocks are spliced between stored blocks written here. Every switch ends the
    // compressed run with a sync flush (byte-aligned, not final) and a reset, so no back-reference
    // ever reaches into bytes the compressor did not see.
    let mut deflate = Compress::new(fast, false);
    let mut compressing = false;
    let mut probe = Compress::new(fast, false);
    let mut probe_out = vec![0u8; PROBE + PROBE / 8 + 1024];
    let mut crc = flate2::Crc::new();
    let mut total = 0u64;
    let mut chunk = vec![0u8; CHUNK];
    let mut buffer = vec![0u8; CHUNK + CHUNK / 8 + 1024];
    loop {
        let n = read_full(&mut input, &mut chunk)?;
        if n == 0 {
            break;
        }
        let data = chunk.get(..n).unwrap_or_default();
        crc.update(data);
        total += n as u64;
        let sample = data.get(..n.min(PROBE)).unwrap_or_default();
        probe.reset();
        probe
            .compress(sample, &mut probe_out, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        if (probe.total_out() as usize) * 100 < sample.len() * 97 {
            deflate_into(
                &mut deflate,
                data,
                FlushCompress::None,
                &mut buffer,
                &mut out,
            )?;
            compressing = true;
        } else {
            if compressing {
                deflate_into(
                    &mut deflate,
                    &[],
                    FlushCompress::Sync,
                    &mut buffer,
                    &mut out,
                )?;
                deflate.reset();
                compressing = false;
            }
            for block in data.chunks(usize::from(u16::MAX)) {
                write_stored_block(&mut out, block, false)?;
            }
        }
    }
    if compressing {
        deflate_into(
            &mut deflate,
            &[],
            FlushCompress::Sync,
            &mut buffer,
            &mut out,
        )?;
    }
    write_stored_block(&mut out, &[], true)?;
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&crc.amount().to_le_bytes())?;
    Ok(total)
}

/// One stored deflate block (at a byte boundary): header bits, LEN, NLEN, the bytes.
fn write_stored_block(out: &mut impl Write, data: &[u8], last: bool) -> io::Result<()> {
    let len = u16::try_from(data.len()).map_err(io::Error::other)?;
    out.write_all(&[u8::from(last)])?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&(!len).to_le_bytes())?;
    out.write_all(data)
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(buffer.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Feeds `input` to the compressor with `flush`, writing everything it produces to `out`.
fn deflate_into(
    deflate: &mut flate2::Compress,
    mut input: &[u8],
    flush: flate2::FlushCompress,
    buffer: &mut [u8],
    out: &mut impl Write,
) -> io::Result<()> {
    loop {
        let (read_before, written_before) = (deflate.total_in(), deflate.total_out());
        let status = deflate
            .compress(input, buffer, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(deflate.total_in() - read_before).unwrap_or(0);
        let produced = usize::try_from(deflate.total_out() - written_before).unwrap_or(0);
        out.write_all(buffer.get(..produced).unwrap_or_default())?;
        input = input.get(consumed..).unwrap_or_default();
        let done = match flush {
            flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
            flate2::FlushCompress::None => input.is_empty(),
            _ => input.is_empty() && produced < buffer.len(),
        };
        if done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Some compressible bytes, big enough to span several decoder buffers.
    fn sample() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    fn encode(compression: Compression, data: &[u8]) -> Vec<u8> {
        match compression {
            Compression::None | Compression::Gzip | Compression::Zstd => {
                let mut c = Compressor::new(Vec::new(), compression).unwrap();
                c.write_all(data).unwrap();
                c.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::Bzip2,
    ];

    #[test]
    fn sniff_recognises_each_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(
            Compression::sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Compression::Xz
        );
        assert_eq!(Compression::sniff(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::sniff(b"etc/\0\0\0"), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
        // A prefix too short for the xz magic is not xz.
        assert_eq!(Compression::sniff(&[0xfd, b'7', b'z']), Compression::None);
    }

    #[test]
    fn every_format_round_trips_through_sniffing() {
        let data = sample();
        for compression in ALL {
            let encoded = encode(compression, &data);
            let (sniffed, _) = sniffed_reader(&encoded[..]).unwrap();
            assert_eq!(sniffed, compression);
            let mut decoded = Vec::new();
            auto_decompress(&encoded[..])
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert_eq!(decoded.len(), data.len(), "{compression}");
            assert!(
                decoded == data,
                "{compression} round trip changed the bytes"
            );
        }
    }

    #[test]
    fn decompress_reader_boxes_each_format() {
        let data = sample();
        for compression in ALL {
            let encoded = encode(compression, &data);
            let mut decoded = Vec::new();
            decompress_reader(io::Cursor::new(encoded), compression)
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert!(decoded == data, "{compression}");
        }
    }

    /// A reader that hands out one byte per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn sniffing_a_trickling_stream_loses_no_bytes() {
        let encoded = encode(Compression::Xz, b"hello");
        let (compression, mut reader) = sniffed_reader(Trickle(&encoded)).unwrap();
        assert_eq!(compression, Compression::Xz);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, encoded);
    }

    #[test]
    fn sniffing_a_stream_shorter_than_the_magic() {
        let (compression, mut reader) = sniffed_reader(&b"ab"[..]).unwrap();
        assert_eq!(compression, Compression::None);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab");
    }

    #[test]
    fn truncated_streams_are_errors() {
        let data = sample();
        for compression in [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bzip2,
        ] {
            let encoded = encode(compression, &data);
            let cut = &encoded[..encoded.len() / 2];
            let result = auto_decompress(cut).and_then(|mut d| io::copy(&mut d, &mut io::sink()));
            assert!(
                result.is_err(),
                "{compression} stream cut in half decoded without error"
            );
            // Losing only the trailer (checksum and length) must be noticed too.
            let cut = &encoded[..encoded.len() - 4];
            let result = auto_decompress(cut).and_then(|mut d| io::copy(&mut d, &mut io::sink()));
            assert!(
                result.is_err(),
                "{compression} stream without its last 4 bytes decoded without error"
            );
        }
    }

    #[test]
    fn concatenated_gzip_members_are_all_decoded() {
        let mut encoded = encode(Compression::Gzip, b"first ");
        encoded.extend(encode(Compression::Gzip, b"second"));
        let mut decoded = Vec::new();
        auto_decompress(&encoded[..])
            .unwrap()
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, b"first second");
    }

    #[test]
    fn media_types() {
        assert_eq!(
            Compression::None.oci_layer_media_type(),
            Some("application/vnd.oci.image.layer.v1.tar")
        );
        assert_eq!(
            Compression::Gzip.oci_layer_media_type(),
            Some("application/vnd.oci.image.layer.v1.tar+gzip")
        );
        assert_eq!(
            Compression::Zstd.oci_layer_media_type(),
            Some("application/vnd.oci.image.layer.v1.tar+zstd")
        );
        assert_eq!(Compression::Xz.oci_layer_media_type(), None);
        assert_eq!(Compression::Bzip2.oci_layer_media_type(), None);
        assert_eq!(
            Compression::Gzip.docker_layer_media_type(),
            Some("application/vnd.docker.image.rootfs.diff.tar.gzip")
        );
        assert_eq!(Compression::from(LayerCompression::Zstd), Compression::Zstd);
    }

    #[test]
    fn compressor_refuses_input_only_formats() {
        for compression in [Compression::Xz, Compression::Bzip2] {
            let err = Compressor::new(Vec::new(), compression).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        }
    }

    #[test]
    fn explicit_levels_produce_decodable_streams() {
        let data = sample();
        let mut gz = gzip_writer(Vec::new(), 1);
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let mut zs = zstd_writer(Vec::new(), 19).unwrap();
        zs.write_all(&data).unwrap();
        let zs = zs.finish().unwrap();
        for encoded in [gz, zs] {
            let mut decoded = Vec::new();
            auto_decompress(&encoded[..])
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert!(decoded == data);
        }
    }

    #[test]
    fn adaptive_gzip_round_trips_mixed_content_and_is_reproducible() {
        use std::io::Read as _;
        // Text (compressible), then pseudo-random bytes (not), then text again, across chunk edges.
        let mut input = b"hoist layer text ".repeat(100_000);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..(3 << 20) / 8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.extend_from_slice(&state.to_le_bytes());
        }
        input.extend_from_slice(&b"tail text ".repeat(50_000));
        let mut first = Vec::new();
        assert_eq!(
            gzip_adaptive(&input[..], &mut first).expect("gzip"),
            input.len() as u64
        );
        let mut second = Vec::new();
        gzip_adaptive(&input[..], &mut second).expect("gzip");
        assert_eq!(first, second, "same input, same bytes");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&first[..])
            .read_to_end(&mut back)
            .expect("a valid gzip stream");
        assert_eq!(back, input);
        // GNU gzip, a stricter reader, agrees.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("layer.gz");
        std::fs::write(&file, &first).expect("write");
        if let Ok(status) = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&file)
            .status()
        {
            assert!(status.success(), "gzip -t rejects the stream");
        }
        // The random part is stored, the text compressed: smaller than the input, not by much.
        assert!(first.len() < input.len());
        assert!(first.len() > 3 << 20);
        let mut empty = Vec::new();
        gzip_adaptive(&b""[..], &mut empty).expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&empty[..])
            .read_to_end(&mut back)
            .expect("empty gzip");
        assert!(back.is_empty());
    }
}
