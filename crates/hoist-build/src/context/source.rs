//! Getting a context onto disk: tar streams (sniffed, decompressed, applied path-safely), Git clones with
//! the system `git` and Docker's `#ref:subdir` URLs, and HTTP downloads.

use std::fs::{self, File};
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hoist_layer::{ApplyOptions, Compression, WhiteoutMode, apply_layer, auto_decompress};

use super::ContextError;

/// Bytes looked at to tell an archive from a Dockerfile (Docker peeks two tar blocks).
const SNIFF_LEN: usize = 1024;

/// `http://` or `https://` (Docker's `urlutil.IsURL`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Docker's `urlutil.IsGitURL`: an HTTP(S) URL whose path ends in `.git` (optionally followed by a
/// `#fragment`), or anything starting with `git://`, `github.com/` or `git@`.
pub fn is_git_url(s: &str) -> bool {
    if is_url(s) {
        let without_fragment = match s.find('#') {
            Some(hash) if hash + 1 < s.len() => &s[..hash],
            Some(_) => return false,
            None => s,
        };
        if without_fragment.ends_with(".git") {
            return true;
        }
    }
    ["git://", "github.com/", "git@"]
        .iter()
        .any(|prefix| s.starts_with(prefix))
}

/// A Git context URL split as Docker splits it: `remote#ref:subdir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRemote {
    /// What `git fetch` is given. A URL without a Git transport gets `https://` (`github.com/x/y`).
    pub remote: String,
    /// A branch, tag or commit; `None` for the remote's default branch.
    pub reference: Option<String>,
    /// The context directory inside the repository; `None` for its root.
    pub subdir: Option<String>,
}

impl GitRemote {
    /// Parses a Git context URL: `https://`, `http://`, `git://`, `ssh://`, `file://` and `git@host:path`
    /// are used as they are, anything else gets `https://`; the fragment after the first `#` is
    /// `ref:subdir`, either part optional. A ref starting with `-` is refused, as Docker does.
    pub fn parse(url: &str) -> Result<Self, ContextError> {
        let has_transport = url.starts_with("git@")
            || ["git://", "http://", "https://", "ssh://", "file://"]
                .iter()
                .any(|scheme| url.starts_with(scheme));
        let full = if has_transport {
            url.to_owned()
        } else {
            format!("https://{url}")
        };
        let (remote, fragment) = match full.split_once('#') {
            Some((remote, fragment)) => (remote.to_owned(), fragment),
            None => (full.clone(), ""),
        };
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        if reference.starts_with('-') {
            return Err(ContextError::InvalidGitUrl {
                url: url.to_owned(),
                reason: format!("invalid refspec: {reference}"),
            });
        }
        let subdir = subdir.trim_matches('/');
        Ok(Self {
            remote,
            reference: (!reference.is_empty()).then(|| reference.to_owned()),
            subdir: (!subdir.is_empty() && subdir != ".").then(|| subdir.to_owned()),
        })
    }
}

/// Reads the start of `reader` and either applies it as a (possibly compressed) tar onto `into`, or, when it
/// is not an archive, returns it whole as a Dockerfile (Docker's `DetectArchiveReader`).
pub(super) fn unpack_or_text(
    mut reader: impl Read,
    into: &Path,
    what: &str,
) -> Result<Option<Vec<u8>>, ContextError> {
    let read_error = |source| ContextError::ReadStream {
        what: what.to_owned(),
        source,
    };
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut reader)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    let compression = Compression::sniff(&head);
    if compression == Compression::None && !looks_like_tar(&head) {
        let mut text = head;
        reader.read_to_end(&mut text).map_err(read_error)?;
        return Ok(Some(text));
    }
    let stream = auto_decompress(Cursor::new(head).chain(reader)).map_err(read_error)?;
    let options = ApplyOptions {
        create_devices: false,
        apply_xattrs: false,
        whiteouts: WhiteoutMode::Remove,
        ..ApplyOptions::for_current_process()
    };
    apply_layer(stream, into, &options).map_err(|source| ContextError::Archive {
        what: what.to_owned(),
        source,
    })?;
    Ok(None)
}

/// Whether `head` starts with a tar header whose checksum is right (what Go's `tar.Reader.Next` checks
/// first). An all-zero block is an empty archive's end, which Docker does not count as an archive.
fn looks_like_tar(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let field = &block[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ' || *b == 0)
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    let Ok(text) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(expected) = i64::from_str_radix(text, 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    expected == unsigned || expected == signed
}

/// Downloads `url` into an unnamed temporary file under `scratch` and returns it rewound.
pub(super) fn download(url: &str, scratch: &Path) -> Result<File, ContextError> {
    let http_error = |message: String| ContextError::Http {
        url: url.to_owned(),
        message,
    };
    let response = ureq::get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => http_error(format!(
            "failed to GET {url} with status {}",
            status_text(code)
        )),
        other => http_error(other.to_string()),
    })?;
    if !response.status().is_success() {
        return Err(http_error(format!(
            "failed to GET {url} with status {}",
            status_text(response.status().as_u16())
        )));
    }
    let mut file = tempfile::tempfile_in(scratch).map_err(|source| ContextError::Scratch {
        path: scratch.to_path_buf(),
        source,
    })?;
    let mut body = response.into_body().into_reader();
    let copied = io::copy(&mut body, &mut file).map_err(|e| http_error(e.to_string()))?;
    if copied == 0 {
        return Err(http_error("empty response".to_owned()));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| http_error(e.to_string()))?;
    Ok(file)
}

fn status_text(code: u16) -> String {
    match ureq::http::StatusCode::from_u16(code) {
        Ok(status) => status.to_string(),
        Err(_) => code.to_string(),
    }
}

/// Clones `url` into `into` (an empty directory) and returns the context directory (the `:subdir`).
///
/// As Docker's builder: `git init`, `git remote add origin`, a shallow `git fetch origin -- <ref>` (the
/// remote's `HEAD` without a ref), checkout of what was fetched; then submodules, shallow too. A ref the
/// server will not hand out by name (an abbreviated commit) falls back to fetching every branch and tag
/// and checking the ref out from them. The `.git` directory is removed afterwards (BuildKit does not keep
/// it by default).
pub(super) fn clone_git(
    url: &str,
    into: &Path,
    keep_git_dir: bool,
) -> Result<PathBuf, ContextError> {
    let remote = GitRemote::parse(url)?;
    let fail = |step: &str, output: String| ContextError::Git {
        url: url.to_owned(),
        message: format!("{step} {}: {output}", remote.remote),
    };
    let dir = into.to_string_lossy().into_owned();
    git(&["init", "-q", &dir]).map_err(|out| fail("error initializing", out))?;
    git(&["-C", &dir, "remote", "add", "origin", &remote.remote])
        .map_err(|out| fail("error adding remote", out))?;
    let wanted = remote.reference.as_deref().unwrap_or("HEAD");
    let shallow = git(&[
        "-C", &dir, "fetch", "-q", "--depth", "1", "origin", "--", wanted,
    ]);
    // Dumb HTTP servers cannot do shallow fetches: try a full fetch of the same ref.
    let fetched = shallow.or_else(|_| git(&["-C", &dir, "fetch", "-q", "origin", "--", wanted]));
    match fetched {
        Ok(()) => {
            git(&["-C", &dir, "checkout", "-q", "--detach", "FETCH_HEAD"])
                .map_err(|out| fail("error checking out", out))?;
        }
        Err(fetch_output) => {
            // An abbreviated commit or other name the server does not advertise: fetch everything.
            let all = git(&[
                "-C",
                &dir,
                "fetch",
                "-q",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ]);
            let Some(reference) = remote.reference.as_deref().filter(|_| all.is_ok()) else {
                return Err(fail("error fetching", fetch_output));
            };
            let target = [
                reference.to_owned(),
                format!("origin/{reference}"),
                format!("refs/tags/{reference}"),
            ]
            .into_iter()
            .find(|candidate| {
                git(&[
                    "-C",
                    &dir,
                    "rev-parse",
                    "-q",
                    "--verify",
                    &format!("{candidate}^{{commit}}"),
                ])
                .is_ok()
            })
            .ok_or_else(|| fail("error fetching", fetch_output))?;
            git(&["-C", &dir, "checkout", "-q", "--detach", &target])
                .map_err(|out| fail("error checking out", out))?;
        }
    }
    if into.join(".gitmodules").exists() {
        let shallow = git(&[
            "-C",
            &dir,
            "submodule",
            "update",
            "-q",
            "--init",
            "--recursive",
            "--depth",
            "1",
        ]);
        shallow
            .or_else(|_| {
                git(&[
                    "-C",
                    &dir,
                    "submodule",
                    "update",
                    "-q",
                    "--init",
                    "--recursive",
                ])
            })
            .map_err(|out| fail("error initializing submodules of", out))?;
    }
    if !keep_git_dir {
        let git_dir = into.join(".git");
        fs::remove_dir_all(&git_dir).map_err(|source| ContextError::Io {
            path: git_dir,
            source,
        })?;
    }
    let Some(subdir) = remote.subdir else {
        return Ok(into.to_path_buf());
    };
    subdir_root(url, into, &subdir)
}

/// The `:subdir` of a clone, its symlinks resolved inside the clone (Docker's `FollowSymlinkInScope`).
fn subdir_root(url: &str, root: &Path, subdir: &str) -> Result<PathBuf, ContextError> {
    let error = |message: String| ContextError::GitSubdir {
        url: url.to_owned(),
        message,
    };
    let cleaned = hoist_dockerfile::ignore::clean_path(subdir);
    if cleaned == ".." || cleaned.starts_with("../") || cleaned.starts_with('/') {
        return Err(error(format!("{subdir:?} not within git root")));
    }
    let mut current = root.to_path_buf();
    let mut pending: Vec<String> = cleaned.split('/').rev().map(str::to_owned).collect();
    let mut depth: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component.as_str() {
            "" | "." => continue,
            ".." => {
                depth.pop();
                current = root.join(depth.join("/"));
                continue;
            }
            _ => {}
        }
        let next = current.join(&component);
        let meta = fs::symlink_metadata(&next).map_err(|e| error(format!("{subdir:?}: {e}")))?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 255 {
                return Err(error(format!(
                    "{subdir:?}: too many levels of symbolic links"
                )));
            }
            let target = fs::read_link(&next).map_err(|e| error(format!("{subdir:?}: {e}")))?;
            if target.is_absolute() {
                depth.clear();
                current = root.to_path_buf();
            }
            let target = target.to_string_lossy().into_owned();
            pending.extend(target.split('/').rev().map(str::to_owned));
            continue;
        }
        depth.push(component);
        current = next;
    }
    if !current.is_dir() {
        return Err(error(format!("not a directory: {subdir}")));
    }
    Ok(current)
}

/// Runs `git` with no terminal prompts; `Err` carries its output and exit status.
fn git(args: &[&str]) -> Result<(), String> {
    let output = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stdout.trim());
    }
    Err(format!("{text}: {}", output.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_url_detection_like_docker() {
        for yes in [
            "git://github.com/docker/docker",
            "git@github.com:docker/docker.git",
            "git@bitbucket.org:atlassianlabs/atlassian-docker.git",
            "https://github.com/docker/docker.git",
            "http://github.com/docker/docker.git",
            "http://github.com/docker/docker.git#branch",
            "http://github.com/docker/docker.git#:dir",
            "github.com/docker/docker",
        ] {
            assert!(is_git_url(yes), "{yes}");
        }
        for no in [
            "http://github.com/docker/docker.git#",
            "http://github.com/docker/docker",
            "https://example.com/context.tar.gz",
            "./some/dir",
            "file:///repo.git",
        ] {
            assert!(!is_git_url(no), "{no}");
        }
        assert!(is_url("http://x"));
        assert!(!is_url("ftp://x"));
    }

    #[test]
    fn git_fragments() {
        let parsed = GitRemote::parse("https://example.com/repo.git#v1.0:docker/app").unwrap();
        assert_eq!(parsed.remote, "https://example.com/repo.git");
        assert_eq!(parsed.reference.as_deref(), Some("v1.0"));
        assert_eq!(parsed.subdir.as_deref(), Some("docker/app"));
        let parsed = GitRemote::parse("github.com/owner/repo#:sub").unwrap();
        assert_eq!(parsed.remote, "https://github.com/owner/repo");
        assert_eq!(parsed.reference, None);
        assert_eq!(parsed.subdir.as_deref(), Some("sub"));
        let parsed = GitRemote::parse("git@github.com:owner/repo.git#main").unwrap();
        assert_eq!(parsed.remote, "git@github.com:owner/repo.git");
        assert_eq!(parsed.reference.as_deref(), Some("main"));
        assert_eq!(parsed.subdir, None);
        let parsed = GitRemote::parse("git://host/repo").unwrap();
        assert_eq!(parsed.reference, None);
        assert!(matches!(
            GitRemote::parse("https://host/repo.git#--upload-pack=x"),
            Err(ContextError::InvalidGitUrl { .. })
        ));
    }

    #[test]
    fn tar_sniffing() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "a", &b"abc"[..]).unwrap();
        let bytes = builder.into_inner().unwrap();
        assert!(looks_like_tar(&bytes));
        assert!(!looks_like_tar(b"FROM scratch\nCOPY a /\n"));
        assert!(!looks_like_tar(&[0u8; 1024]));
        let mut corrupt = bytes.clone();
        corrupt[0] ^= 1;
        assert!(!looks_like_tar(&corrupt));
    }
}
