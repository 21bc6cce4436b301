//! One pass over a layer blob as it streams in, push style: the caller writes the raw bytes here (beside
//! the store's ingest) and a decompressor feeds the uncompressed bytes to the diff-ID hasher and the tar
//! scanner. [`crate::digest::LayerDigestReader`] is the pull-style counterpart for readers.

use std::io::{self, Write};

use crate::compression::Compression;
use hoist_spec::{Digest, Hasher};

use crate::scan::{ScanError, ScanSummary, TarScanner};

/// What one pass learned about a blob that may be a layer.
#[derive(Debug, Clone)]
pub struct LayerFacts {
    pub compression: Compression,
    /// sha256 of the uncompressed stream.
    pub diff_id: Digest,
    /// Length of the uncompressed stream.
    pub uncompressed_size: u64,
    /// The scanner's verdict: Docker's content size, or why this is not a safe layer tar.
    pub scan: Result<ScanSummary, ScanError>,
    /// Set when the compressed stream itself was corrupt.
    pub decode_error: Option<String>,
}

/// Receives uncompressed bytes.
struct Uncompressed {
    hasher: Hasher,
    scanner: TarScanner,
}

impl Write for Uncompressed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.scanner.feed(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Sniffing(Vec<u8>),
    Plain(Box<Uncompressed>),
    Gzip(Box<flate2::write::MultiGzDecoder<Uncompressed>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Uncompressed>>),
    Xz(Box<liblzma::write::XzDecoder<Uncompressed>>),
    Bzip2(Box<bzip2::write::BzDecoder<Uncompressed>>),
    Failed(String),
}

/// A `Write` that analyses a possible layer. Compression is sniffed from the first bytes.
pub struct LayerAnalyzer {
    decoder: Decoder,
    compression: Compression,
}

impl std::fmt::Debug for LayerAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerAnalyzer")
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

const SNIFF_LEN: usize = 6;

impl Default for LayerAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerAnalyzer {
    pub fn new() -> Self {
        Self {
            decoder: Decoder::Sniffing(Vec::with_capacity(SNIFF_LEN)),
            compression: Compression::None,
        }
    }

    fn start(&mut self, prefix: &[u8]) {
        self.compression = Compression::sniff(prefix);
        let sink = Uncompressed {
            hasher: Hasher::new(),
            scanner: TarScanner::new(),
        };
        self.decoder = match self.compression {
            Compression::None => Decoder::Plain(Box::new(sink)),
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(sink))),
            Compression::Zstd => match zstd::stream::write::Decoder::new(sink) {
                Ok(d) => Decoder::Zstd(Box::new(d)),
                Err(e) => Decoder::Failed(e.to_string()),
            },
            Compression::Xz => Decoder::Xz(Box::new(liblzma::write::XzDecoder::new(sink))),
            Compression::Bzip2 => Decoder::Bzip2(Box::new(bzip2::write::BzDecoder::new(sink))),
        };
        self.push(prefix);
    }

    fn push(&mut self, buf: &[u8]) {
        let result = match &mut self.decoder {
            Decoder::Plain(s) => s.write_all(buf),
            Decoder::Gzip(d) => d.write_all(buf),
            Decoder::Zstd(d) => d.write_all(buf),
            Decoder::Xz(d) => d.write_all(buf),
            Decoder::Bzip2(d) => d.write_all(buf),
            Decoder::Sniffing(_) | Decoder::Failed(_) => Ok(()),
        };
        if let Err(e) = result {
            self.decoder = Decoder::Failed(e.to_string());
        }
    }

    /// Ends the stream and reports.
    pub fn finish(mut self) -> LayerFacts {
        if let Decoder::Sniffing(prefix) = &mut self.decoder {
            let prefix = std::mem::take(prefix);
            self.start(&prefix);
        }
        let finished = match self.decoder {
            Decoder::Plain(s) => Ok(*s),
            Decoder::Gzip(d) => d.finish(),
            Decoder::Zstd(mut d) => d.flush().map(|()| d.into_inner()),
            Decoder::Xz(d) => d.finish(),
            Decoder::Bzip2(mut d) => d.finish(),
            Decoder::Failed(e) => Err(io::Error::other(e)),
            Decoder::Sniffing(_) => Err(io::Error::other("internal: sniffing state after start")),
        };
        match finished {
            Ok(sink) => {
                let uncompressed_size = sink.hasher.len();
                LayerFacts {
                    compression: self.compression,
                    diff_id: sink.hasher.finish(),
                    uncompressed_size,
                    scan: sink.scanner.finish(),
                    decode_error: None,
                }
            }
            Err(e) => LayerFacts {
                compression: self.compression,
                diff_id: Digest::of(b""),
                uncompressed_size: 0,
                scan: Ok(ScanSummary::default()),
                decode_error: Some(e.to_string()),
            },
        }
    }
}

impl Write for LayerAnalyzer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Decoder::Sniffing(prefix) = &mut self.decoder {
            let take = (SNIFF_LEN - prefix.len()).min(buf.len());
            prefix.extend_from_slice(&buf[..take]);
            if prefix.len() == SNIFF_LEN {
                let prefix = std::mem::take(prefix);
                self.start(&prefix);
            }
            if take < buf.len() {
                self.push(&buf[take..]);
            }
        } else {
            self.push(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Analyses bytes already in memory.
pub fn analyze_bytes(bytes: &[u8]) -> LayerFacts {
    let mut a = LayerAnalyzer::new();
    // Writing to the analyzer never fails: errors are recorded in the facts.
    let _ = a.write_all(bytes);
    a.finish()
}

impl LayerFacts {
    /// The reason these bytes cannot serve as a layer, if any.
    pub fn problem(&self) -> Option<String> {
        if let Some(e) = &self.decode_error {
            return Some(format!("corrupt {} stream: {e}", self.compression.name()));
        }
        self.scan.as_ref().err().map(ToString::to_string)
    }

    /// Docker's size for the layer (see [`ScanSummary::content_size`]).
    pub fn content_size(&self) -> u64 {
        self.scan.as_ref().map(|s| s.content_size).unwrap_or(0)
    }
}
