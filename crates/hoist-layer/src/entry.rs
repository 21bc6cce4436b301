//! What a tar entry says about itself, read once from its ustar, GNU and PAX headers into plain data that the
//! checker and the applier share.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::error::LayerError;

/// The kinds of entry a layer may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
    /// A PAX global header: defaults for later entries, no file of its own. Skipped, as Docker does.
    GlobalHeader,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "directory",
            Self::Symlink => "symlink",
            Self::Hardlink => "hardlink",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Fifo => "fifo",
            Self::GlobalHeader => "PAX global header",
        }
    }
}

/// A point in time with nanoseconds, as PAX records carry it (it may precede 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    pub secs: i64,
    /// Always below 1e9, also for negative `secs` (-1.5 s is `secs: -2, nanos: 500_000_000`).
    pub nanos: u32,
}

/// One entry's metadata.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    /// The path as written (after GNU long names and PAX `path`), not yet normalised.
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Symlink target, or hardlink target path within the layer.
    pub link_name: Option<PathBuf>,
    /// Content bytes the entry carries (after PAX `size`; the expanded size for GNU sparse files).
    pub size: u64,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Timestamp,
    /// Only when a PAX record gives it; appliers use `mtime` otherwise.
    pub atime: Option<Timestamp>,
    /// Major and minor numbers of a device node.
    pub device: Option<(u32, u32)>,
    /// Extended attributes from PAX `SCHILY.xattr.<name>` records, in archive order.
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl EntryInfo {
    /// Reads an entry's headers. Does not touch its content.
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Self, LayerError> {
        let display = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let invalid = |field: &'static str, detail: String| LayerError::InvalidHeader {
            path: display.clone(),
            field,
            detail,
        };

        if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
            // Its content is the records themselves; leave it unread, nothing in it concerns a file.
            return Ok(Self {
                path: PathBuf::from(OsStr::from_bytes(&entry.path_bytes())),
                kind: EntryKind::GlobalHeader,
                link_name: None,
                size: entry.size(),
                mode: 0,
                uid: 0,
                gid: 0,
                mtime: Timestamp::default(),
                atime: None,
                device: None,
                xattrs: Vec::new(),
            });
        }

        let mut xattrs = Vec::new();
        let mut pax_mtime = None;
        let mut atime = None;
        let mut pax_path = None;
        let mut pax_linkpath = None;
        let extensions = entry
            .pax_extensions()
            .map_err(|e| invalid("PAX header", e.to_string()))?;
        for extension in extensions.into_iter().flatten() {
            let extension = extension.map_err(|e| invalid("PAX record", e.to_string()))?;
            let (key, value) = (extension.key_bytes(), extension.value_bytes());
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                xattrs.push((OsStr::from_bytes(name).to_owned(), value.to_vec()));
            } else if key == b"mtime" {
                pax_mtime =
                    Some(parse_pax_time(value).ok_or_else(|| invalid("PAX mtime", lossy(value)))?);
            } else if key == b"atime" {
                atime =
                    Some(parse_pax_time(value).ok_or_else(|| invalid("PAX atime", lossy(value)))?);
            } else if key == b"path" {
                pax_path = Some(value.to_vec());
            } else if key == b"linkpath" {
                pax_linkpath = Some(value.to_vec());
            } else if key.starts_with(b"GNU.sparse.") {
                // PAX sparse formats store a map inside the content; the tar crate would hand it over as data.
                return Err(LayerError::UnsupportedEntry {
                    path: display,
                    entry_type: "PAX sparse file".to_owned(),
                });
            }
        }

        let path_bytes = entry.path_bytes().into_owned();
        if let Some(pax) = pax_path
            && pax != path_bytes
        {
            return Err(LayerError::AmbiguousName {
                path: display,
                field: "path",
                pax: lossy(&pax),
            });
        }
        let link_bytes = entry.link_name_bytes().map(|b| b.into_owned());
        if let Some(pax) = pax_linkpath
            && Some(&pax) != link_bytes.as_ref()
        {
            return Err(LayerError::AmbiguousName {
                path: display,
                field: "linkpath",
                pax: lossy(&pax),
            });
        }

        let header = entry.header();
        let typeflag = header.as_bytes()[156];
        let kind = match header.entry_type() {
            // Pre-POSIX tars mark directories only by the trailing slash; Go's reader does the same.
            tar::EntryType::Regular if typeflag == 0 && path_bytes.ends_with(b"/") => {
                EntryKind::Dir
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::Fifo => EntryKind::Fifo,
            other => {
                return Err(LayerError::UnsupportedEntry {
                    path: display,
                    entry_type: format!("{other:?} ({:?})", char::from(typeflag)),
                });
            }
        };

        let mode = header.mode().map_err(|e| invalid("mode", e.to_string()))? & 0o7777;
        let uid = header.uid().map_err(|e| invalid("uid", e.to_string()))?;
        let gid = header.gid().map_err(|e| invalid("gid", e.to_string()))?;
        let mtime = match pax_mtime {
            Some(t) => t,
            None => {
                let secs = header
                    .mtime()
                    .map_err(|e| invalid("mtime", e.to_string()))?;
                let secs = i64::try_from(secs).map_err(|_| invalid("mtime", secs.to_string()))?;
                Timestamp { secs, nanos: 0 }
            }
        };
        let device = match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => {
                let major = header
                    .device_major()
                    .map_err(|e| invalid("device major", e.to_string()))?;
                let minor = header
                    .device_minor()
                    .map_err(|e| invalid("device minor", e.to_string()))?;
                match (major, minor) {
                    (Some(major), Some(minor)) => Some((major, minor)),
                    _ => {
                        return Err(invalid(
                            "device numbers",
                            "missing from a pre-POSIX header".to_owned(),
                        ));
                    }
                }
            }
            _ => None,
        };
        let link_name = match kind {
            EntryKind::Symlink | EntryKind::Hardlink => {
                link_bytes.map(|b| PathBuf::from(OsStr::from_bytes(&b)))
            }
            _ => None,
        };

        Ok(Self {
            path: PathBuf::from(OsStr::from_bytes(&path_bytes)),
            kind,
            link_name,
            size: entry.size(),
            mode,
            uid,
            gid,
            mtime,
            atime,
            device,
            xattrs,
        })
    }

    /// The path as written, for messages.
    pub fn display_path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a PAX time (`1700000000`, `1700000000.5`, `-1.25`).
fn parse_pax_time(value: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    // Nanosecond precision: further digits are dropped, missing ones are zeros.
    let mut nanos: u32 = 0;
    for position in 0..9 {
        let digit = fraction
            .as_bytes()
            .get(position)
            .map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    Some(if !negative {
        Timestamp { secs, nanos }
    } else if nanos == 0 {
        Timestamp {
            secs: -secs,
            nanos: 0,
        }
    } else {
        Timestamp {
            secs: -secs - 1,
            nanos: 1_000_000_000 - nanos,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_pax_time(b"1700000000"),
            Some(Timestamp {
                secs: 1_700_000_000,
                nanos: 0
            })
        );
        assert_eq!(
            parse_pax_time(b"1.5"),
            Some(Timestamp {
                secs: 1,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            parse_pax_time(b"1.1234567891"),
            Some(Timestamp {
                secs: 1,
                nanos: 123_456_789
            })
        );
        assert_eq!(
            parse_pax_time(b"-1.25"),
            Some(Timestamp {
                secs: -2,
                nanos: 750_000_000
            })
        );
        assert_eq!(
            parse_pax_time(b"-3"),
            Some(Timestamp { secs: -3, nanos: 0 })
        );
        assert_eq!(parse_pax_time(b""), None);
        assert_eq!(parse_pax_time(b"1e5"), None);
        assert_eq!(parse_pax_time(b".5"), None);
    }
}
