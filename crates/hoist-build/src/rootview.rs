//! A read-only view of a stage's root filesystem as the union of its unpacked layers (top first), without
//! mounting anything: path lookup with symlinks resolved inside the root, and user/group names from its
//! /etc/passwd and /etc/group.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use hoist_layer::tree;

use crate::error::BuildError;

#[derive(Debug, Clone, Default)]
pub(crate) struct RootView {
    /// Layer directories, top first.
    pub(crate) lowers: Vec<PathBuf>,
}

fn tree_error(path: &str) -> impl FnOnce(tree::TreeError) -> BuildError + '_ {
    move |e| BuildError::Layer(format!("cannot read {path} in the build's root: {e}"))
}

/// `path` made absolute against `base` and cleaned (no `.`, `..` stops at `/`), as Go's path.Clean.
pub(crate) fn clean_abs(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        hoist_dockerfile::ignore::clean_path(path)
    } else {
        hoist_dockerfile::ignore::clean_path(&format!("/{base}/{path}"))
    }
}

impl RootView {
    /// What the root has at the absolute `path` (symlinks not followed).
    pub(crate) fn entry(&self, path: &str) -> Result<Option<(PathBuf, Metadata)>, BuildError> {
        if self.lowers.is_empty() {
            return Ok(None);
        }
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            return Ok(None);
        }
        tree::union_entry(&self.lowers, Path::new(rel)).map_err(tree_error(path))
    }

    /// `path` with every symlink among its components resolved inside the root (the last component too
    /// when `follow_last`), as BuildKit resolves a COPY destination.
    pub(crate) fn resolve(&self, path: &str, follow_last: bool) -> Result<String, BuildError> {
        let mut resolved: Vec<String> = Vec::new();
        let mut pending: Vec<String> = clean_abs("/", path)
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .rev()
            .collect();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            let candidate = format!("/{}", {
                let mut v = resolved.clone();
                v.push(part.clone());
                v.join("/")
            });
            let is_last = pending.is_empty();
            if is_last && !follow_last {
                resolved.push(part);
                break;
            }
            match self.entry(&candidate)? {
                Some((host, meta)) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > 40 {
                        return Err(BuildError::Layer(format!(
                            "too many levels of symbolic links resolving {path}"
                        )));
                    }
                    let target = std::fs::read_link(&host).map_err(|source| BuildError::Io {
                        action: "read link",
                        path: host.clone(),
                        source,
                    })?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    let mut parts: Vec<String> = target
                        .split('/')
                        .filter(|p| !p.is_empty() && *p != ".")
                        .map(str::to_owned)
                        .collect();
                    parts.reverse();
                    pending.extend(parts);
                }
                _ if part == ".." => {
                    resolved.pop();
                }
                _ => resolved.push(part),
            }
        }
        Ok(format!("/{}", resolved.join("/")))
    }

    /// Reads a small file of the root (following symlinks), if present.
    pub(crate) fn read_file(&self, path: &str) -> Result<Option<String>, BuildError> {
        let resolved = self.resolve(path, true)?;
        match self.entry(&resolved)? {
            Some((host, meta)) if meta.is_file() => Ok(std::fs::read(&host)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())),
            _ => Ok(None),
        }
    }

    /// `--chown` / `USER`-style `user[:group]` to numeric IDs, names looked up in the root's /etc/passwd
    /// and /etc/group. A user without a group gets the user's primary group (or 0 for a numeric user
    /// with no passwd entry).
    pub(crate) fn resolve_owner(&self, spec: &str) -> Result<(u32, u32), String> {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let passwd = self
            .read_file("/etc/passwd")
            .ok()
            .flatten()
            .unwrap_or_default();
        let groups = self
            .read_file("/etc/group")
            .ok()
            .flatten()
            .unwrap_or_default();
        let find_user = |name: &str| {
            passwd.lines().find_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                (f.len() >= 4 && (f[0] == name || f[2] == name))
                    .then(|| (f[2].parse::<u32>().ok(), f[3].parse::<u32>().ok()))
            })
        };
        // A numeric user alone means that uid and the same gid, without a passwd lookup (Docker's rule).
        let (uid, primary) = if let Ok(uid) = user.parse::<u32>() {
            (uid, uid)
        } else {
            match find_user(user) {
                Some((Some(uid), Some(gid))) => (uid, gid),
                _ => {
                    return Err(format!(
                        "unable to find user {user}: no matching entries in passwd file"
                    ));
                }
            }
        };
        let gid = match group {
            None => primary,
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => groups
                    .lines()
                    .find_map(|line| {
                        let f: Vec<&str> = line.split(':').collect();
                        (f.len() >= 3 && f[0] == g).then(|| f[2].parse::<u32>().ok())
                    })
                    .flatten()
                    .ok_or_else(|| {
                        format!("unable to find group {g}: no matching entries in group file")
                    })?,
            },
        };
        Ok((uid, gid))
    }
}
