//! The context tree as COPY/ADD see it: symlinks resolved inside the root, `.dockerignore` exclusions
//! with fsutil's walking rule, wildcard expansion, the sorted walk and the content digests.

use std::fs::{self, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use hoist_dockerfile::ignore::{clean_path, contains_wildcards, filepath_match};
use hoist_spec::Digest;
use sha2::{Digest as _, Sha256};

use super::{BuildContext, ContextError};

/// Symlinks followed while resolving one path (Go's `filepath.EvalSymlinks` limit).
const MAX_SYMLINK_HOPS: u32 = 255;

/// Read buffer for hashing file contents.
const HASH_BUFFER: usize = 256 * 1024;

/// A path after symlink resolution, with its `lstat`.
pub(super) struct Resolved {
    /// Relative to the root, `.` for the root.
    pub(super) rel: String,
    pub(super) meta: Metadata,
}

/// What the walk does with one entry.
enum State {
    /// In the context.
    Included,
    /// An excluded directory an exception may re-include something under: looked into, kept only as the
    /// parent of what is included.
    Descend,
    /// Left out with everything below it.
    Skip,
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir == "." {
        name.to_owned()
    } else {
        let mut out = String::with_capacity(dir.len() + 1 + name.len());
        out.push_str(dir);
        out.push('/');
        out.push_str(name);
        out
    }
}

/// `rel` cleaned as a path below the root: no leading `/`, no `..` above the root, `.` for the root.
fn normalize(rel: &str) -> String {
    let cleaned = clean_path(&format!("/{rel}"));
    match cleaned.trim_start_matches('/') {
        "" => ".".to_owned(),
        rest => rest.to_owned(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

impl BuildContext {
    /// Resolves `rel` inside the root, component by component with `lstat`: a symlink on the way (and the
    /// last component too when `follow_last`) is replaced by its target, an absolute target starting
    /// again from the root and `..` stopping at the root. `None` when something on the way is missing or
    /// not a directory.
    pub(super) fn resolve(
        &self,
        rel: &str,
        follow_last: bool,
    ) -> Result<Option<Resolved>, ContextError> {
        let normalized = normalize(rel);
        // Components still to walk, the next one last.
        let mut pending: Vec<String> = normalized
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .rev()
            .map(str::to_owned)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(component);
            let path = self.root.join(done.join("/"));
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(io_error(&path)(e)),
            };
            if meta.file_type().is_symlink() && (follow_last || !pending.is_empty()) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ContextError::SymlinkLoop { path: normalized });
                }
                let target = fs::read_link(&path).map_err(io_error(&path))?;
                let target = target
                    .to_str()
                    .ok_or_else(|| ContextError::NonUtf8 { path: path.clone() })?;
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_owned),
                );
                continue;
            }
            if !pending.is_empty() && !meta.is_dir() {
                return Ok(None);
            }
        }
        let rel = if done.is_empty() {
            ".".to_owned()
        } else {
            done.join("/")
        };
        let path = self.abs(&rel);
        match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(Some(Resolved { rel, meta })),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Resolves `rel` (following every symlink) and checks that the context holds it.
    pub(super) fn resolve_visible(&self, rel: &str) -> Result<Resolved, ContextError> {
        let not_found = || ContextError::NotFound {
            path: normalize(rel),
        };
        let resolved = self.resolve(rel, true)?.ok_or_else(not_found)?;
        if !self.visible(&resolved.rel, &resolved.meta)? {
            return Err(not_found());
        }
        Ok(resolved)
    }

    /// Some parent directory of `rel` is excluded and would not be walked at all.
    pub(super) fn ancestor_skipped(&self, rel: &str) -> bool {
        rel.match_indices('/').any(|(end, _)| {
            let parent = &rel[..end];
            self.ignore.matches(parent) && !self.ignore.may_reinclude_under(parent)
        })
    }

    fn state(&self, rel: &str, is_dir: bool) -> State {
        if !self.ignore.matches(rel) {
            State::Included
        } else if is_dir && self.ignore.may_reinclude_under(rel) {
            State::Descend
        } else {
            State::Skip
        }
    }

    /// Whether the context (as sent to a builder) holds the real path `rel`.
    fn visible(&self, rel: &str, meta: &Metadata) -> Result<bool, ContextError> {
        if self.ignore.is_empty() || rel == "." {
            return Ok(true);
        }
        if self.ancestor_skipped(rel) {
            return Ok(false);
        }
        match self.state(rel, meta.is_dir()) {
            State::Included => Ok(true),
            State::Skip => Ok(false),
            State::Descend => self.has_included_below(rel),
        }
    }

    fn has_included_below(&self, dir: &str) -> Result<bool, ContextError> {
        for (name, meta) in self.read_sorted(dir)? {
            let rel = join_rel(dir, &name);
            match self.state(&rel, meta.is_dir()) {
                State::Included => return Ok(true),
                State::Descend => {
                    if self.has_included_below(&rel)? {
                        return Ok(true);
                    }
                }
                State::Skip => {}
            }
        }
        Ok(false)
    }

    /// A directory's entries with their `lstat`, sorted by name (bytes).
    fn read_sorted(&self, dir: &str) -> Result<Vec<(String, Metadata)>, ContextError> {
        let path = self.abs(dir);
        let mut entries = Vec::new();
        for entry in fs::read_dir(&path).map_err(io_error(&path))? {
            let entry = entry.map_err(io_error(&path))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| ContextError::NonUtf8 { path: entry.path() })?;
            let meta = entry.metadata().map_err(|e| ContextError::Io {
                path: entry.path(),
                source: e,
            })?;
            entries.push((name, meta));
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    pub(super) fn walk_impl(&self, rel: &str) -> Result<Vec<(String, Metadata)>, ContextError> {
        let top = self.resolve_visible(rel)?;
        let is_dir = top.meta.is_dir();
        let mut out = vec![(top.rel.clone(), top.meta)];
        if is_dir {
            self.walk_into(&top.rel, &mut out)?;
        }
        Ok(out)
    }

    fn walk_into(&self, dir: &str, out: &mut Vec<(String, Metadata)>) -> Result<(), ContextError> {
        for (name, meta) in self.read_sorted(dir)? {
            let rel = join_rel(dir, &name);
            let is_dir = meta.is_dir();
            match self.state(&rel, is_dir) {
                State::Included => {
                    if is_dir {
                        out.push((rel.clone(), meta));
                        self.walk_into(&rel, out)?;
                    } else {
                        out.push((rel, meta));
                    }
                }
                State::Descend => {
                    let mark = out.len();
                    out.push((rel.clone(), meta));
                    self.walk_into(&rel, out)?;
                    if out.len() == mark + 1 {
                        out.pop();
                    }
                }
                State::Skip => {}
            }
        }
        Ok(())
    }

    pub(super) fn resolve_sources_impl(&self, pattern: &str) -> Result<Vec<String>, ContextError> {
        let rel = normalize(pattern);
        if !contains_wildcards(&rel) {
            self.resolve_visible(&rel)?;
            return Ok(vec![rel]);
        }
        filepath_match(&rel, "").map_err(|source| ContextError::BadPattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        let mut candidates = vec![".".to_owned()];
        for component in rel.split('/') {
            let mut next = Vec::new();
            if contains_wildcards(component) {
                for dir in &candidates {
                    let Some(resolved) = self.resolve(dir, true)? else {
                        continue;
                    };
                    if !resolved.meta.is_dir() {
                        continue;
                    }
                    for (name, _) in self.read_sorted(&resolved.rel)? {
                        let matched = filepath_match(component, &name).map_err(|source| {
                            ContextError::BadPattern {
                                pattern: pattern.to_owned(),
                                source,
                            }
                        })?;
                        if matched {
                            next.push(join_rel(dir, &name));
                        }
                    }
                }
            } else {
                let literal = unescape(component);
                next.extend(candidates.iter().map(|dir| join_rel(dir, &literal)));
            }
            candidates = next;
        }
        let mut found = Vec::new();
        for candidate in candidates {
            if let Some(resolved) = self.resolve(&candidate, true)?
                && self.visible(&resolved.rel, &resolved.meta)?
            {
                found.push(candidate);
            }
        }
        if found.is_empty() {
            return Err(ContextError::NotFound { path: rel });
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    pub(super) fn checksum_impl(&self, rel: &str) -> Result<Digest, ContextError> {
        let top = self.resolve_visible(rel)?;
        let excluded = top.rel != "." && self.ignore.matches(&top.rel);
        let mut buffer = vec![0u8; HASH_BUFFER];
        let digest = self
            .digest_node(&top.rel, &top.meta, excluded, &mut buffer)?
            .ok_or_else(|| ContextError::NotFound {
                path: normalize(rel),
            })?;
        Ok(Digest::from_sha256_bytes(digest))
    }

    fn cached(&self, rel: &str) -> Option<[u8; 32]> {
        self.digests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(rel)
            .copied()
    }

    /// The digest of one entry (for a directory, of the tree below it); `None` for an excluded directory
    /// with nothing included below it.
    fn digest_node(
        &self,
        rel: &str,
        meta: &Metadata,
        excluded_dir: bool,
        buffer: &mut [u8],
    ) -> Result<Option<[u8; 32]>, ContextError> {
        if let Some(digest) = self.cached(rel) {
            return Ok(Some(digest));
        }
        let mut hasher = Sha256::new();
        let file_type = meta.file_type();
        let kind: u8 = if file_type.is_file() {
            b'f'
        } else if file_type.is_dir() {
            b'd'
        } else if file_type.is_symlink() {
            b'l'
        } else if file_type.is_fifo() {
            b'p'
        } else if file_type.is_char_device() {
            b'c'
        } else if file_type.is_block_device() {
            b'b'
        } else {
            b's'
        };
        hasher.update([kind]);
        if rel != "." {
            hasher.update((meta.mode() & 0o7777).to_le_bytes());
            hasher.update(meta.uid().to_le_bytes());
            hasher.update(meta.gid().to_le_bytes());
        }
        match kind {
            b'f' => {
                hasher.update(meta.len().to_le_bytes());
                let path = self.abs(rel);
                let mut file = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_error(&path))?;
                loop {
                    match file.read(buffer) {
                        Ok(0) => break,
                        Ok(n) => hasher.update(&buffer[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(io_error(&path)(e)),
                    }
                }
            }
            b'l' => {
                let path = self.abs(rel);
                let target = fs::read_link(&path).map_err(io_error(&path))?;
                let target = target.as_os_str().as_encoded_bytes();
                hasher.update((target.len() as u64).to_le_bytes());
                hasher.update(target);
            }
            b'd' => {
                let mut any = false;
                for (name, child_meta) in self.read_sorted(rel)? {
                    let child = join_rel(rel, &name);
                    let digest = match self.state(&child, child_meta.is_dir()) {
                        State::Included => self.digest_node(&child, &child_meta, false, buffer)?,
                        State::Descend => self.digest_node(&child, &child_meta, true, buffer)?,
                        State::Skip => None,
                    };
                    if let Some(digest) = digest {
                        any = true;
                        hasher.update((name.len() as u64).to_le_bytes());
                        hasher.update(name.as_bytes());
                        hasher.update(digest);
                    }
                }
                if excluded_dir && !any {
                    return Ok(None);
                }
            }
            b'c' | b'b' => hasher.update(meta.rdev().to_le_bytes()),
            _ => {}
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.digests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(rel.to_owned(), digest);
        Ok(Some(digest))
    }
}

/// A path component without wildcards, its `\` escapes removed (`a\*b` names `a*b`).
fn unescape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
