//! Byte ranges: the `Range` request header of blob GETs (with the `Content-Range` of the 206 answer),
//! and the `Content-Range`/`Range` headers of chunked uploads in distribution's `a-b` form.

use super::error::ErrorCode;

/// An inclusive byte range within a blob of known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` of a 206 response: `bytes a-b/total`.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.start, self.end)
    }
}

/// A range that cannot be served or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("range {header:?} is not satisfiable for {total} bytes")]
    Unsatisfiable { header: String, total: u64 },
    #[error("Content-Range {header:?} is not `start-end`")]
    MalformedUploadRange { header: String },
}

impl RangeError {
    /// Both answer 416.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::RangeInvalid
    }
}

/// Parses a `Range` header for a blob of `total` bytes. `Ok(None)` means serve the whole blob: the
/// header is not a single `bytes=` range (RFC 9110 lets a server ignore those). Forms: `bytes=a-b`
/// (an end past the blob is clipped), `bytes=a-` and the suffix `bytes=-n`.
pub fn parse_range(header: &str, total: u64) -> Result<Option<ByteRange>, RangeError> {
    let Some(spec) = header
        .trim()
        .strip_prefix("bytes=")
        .map(str::trim)
        .filter(|spec| !spec.contains(','))
    else {
        return Ok(None);
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    let unsatisfiable = || RangeError::Unsatisfiable {
        header: header.to_owned(),
        total,
    };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => {
            let Some(suffix) = number(last) else {
                return Ok(None);
            };
            if suffix == 0 || total == 0 {
                return Err(unsatisfiable());
            }
            ByteRange {
                start: total.saturating_sub(suffix),
                end: total - 1,
            }
        }
        // `bytes=a-`: from a to the end.
        (false, true) => {
            let Some(start) = number(first) else {
                return Ok(None);
            };
            if start >= total {
                return Err(unsatisfiable());
            }
            ByteRange {
                start,
                end: total - 1,
            }
        }
        (false, false) => {
            let (Some(start), Some(end)) = (number(first), number(last)) else {
                return Ok(None);
            };
            if end < start {
                return Ok(None);
            }
            if start >= total {
                return Err(unsatisfiable());
            }
            ByteRange {
                start,
                end: end.min(total - 1),
            }
        }
        (true, true) => return Ok(None),
    };
    Ok(Some(range))
}

/// The `Content-Range` of a 416 response: `bytes */total`.
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

/// Parses the `Content-Range` of an upload PATCH: `start-end` inclusive, as distribution and the
/// conformance tests send it (a `bytes ` or `bytes=` prefix is tolerated).
pub fn parse_upload_content_range(header: &str) -> Result<ByteRange, RangeError> {
    let malformed = || RangeError::MalformedUploadRange {
        header: header.to_owned(),
    };
    let trimmed = header.trim();
    let spec = trimmed
        .strip_prefix("bytes=")
        .or_else(|| trimmed.strip_prefix("bytes "))
        .unwrap_or(trimmed);
    let (first, last) = spec.split_once('-').ok_or_else(malformed)?;
    let parse = |text: &str| -> Result<u64, RangeError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        text.parse().map_err(|_| malformed())
    };
    let (start, end) = (parse(first)?, parse(last)?);
    if end < start {
        return Err(malformed());
    }
    Ok(ByteRange { start, end })
}

/// The `Range` header of an upload status or PATCH answer: `0-<last byte received>`, and `0-0` when
/// nothing was received, exactly as distribution writes it.
pub fn upload_range_header(received: u64) -> String {
    format!("0-{}", received.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        fn check(header: &str, total: u64, expected: Result<Option<(u64, u64)>, ()>) {
            let parsed = parse_range(header, total)
                .map(|range| range.map(|r| (r.start, r.end)))
                .map_err(|_| ());
            assert_eq!(parsed, expected, "{header} of {total}");
        }
        check("bytes=0-9", 100, Ok(Some((0, 9))));
        check("bytes=10-", 100, Ok(Some((10, 99))));
        check("bytes=-10", 100, Ok(Some((90, 99))));
        check("bytes=-1000", 100, Ok(Some((0, 99))));
        check("bytes=90-1000", 100, Ok(Some((90, 99))));
        check("bytes=99-99", 100, Ok(Some((99, 99))));
        check(" bytes= 5 - 6 ", 100, Ok(Some((5, 6))));
        check("bytes=100-", 100, Err(()));
        check("bytes=100-200", 100, Err(()));
        check("bytes=-0", 100, Err(()));
        check("bytes=0-0", 0, Err(()));
        check("bytes=-5", 0, Err(()));
        check("bytes=9-1", 100, Ok(None));
        check("bytes=0-1,5-6", 100, Ok(None));
        check("items=0-1", 100, Ok(None));
        check("bytes=a-b", 100, Ok(None));
        check("bytes=-", 100, Ok(None));
        check("bytes=+1-2", 100, Ok(None));
        check("", 100, Ok(None));
        let range = parse_range("bytes=10-19", 100).unwrap().unwrap();
        assert_eq!(range.len(), 10);
        assert!(!range.is_empty());
        assert_eq!(range.content_range(100), "bytes 10-19/100");
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
        assert_eq!(
            parse_range("bytes=200-", 100).unwrap_err().error_code(),
            ErrorCode::RangeInvalid
        );
    }

    #[test]
    fn upload_ranges() {
        fn check(header: &str, expected: Option<(u64, u64)>) {
            let parsed = parse_upload_content_range(header)
                .ok()
                .map(|r| (r.start, r.end));
            assert_eq!(parsed, expected, "{header}");
        }
        check("0-99", Some((0, 99)));
        check("100-199", Some((100, 199)));
        check("bytes 5-5", Some((5, 5)));
        check("bytes=5-6", Some((5, 6)));
        check("9-1", None);
        check("-5", None);
        check("5-", None);
        check("a-b", None);
        check("", None);
        check("0-99/100", None);
        assert_eq!(upload_range_header(0), "0-0");
        assert_eq!(upload_range_header(1), "0-0");
        assert_eq!(upload_range_header(100), "0-99");
    }
}
