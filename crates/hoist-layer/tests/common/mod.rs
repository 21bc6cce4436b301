//! Helpers shared by the integration tests: layers from the text format, tree listings, and a sandbox whose
//! `outside` directory must survive hostile layers unchanged.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hoist_layer::{ApplyOptions, ApplyStats, LayerBuilder, LayerError, apply_layer};

pub fn layer(spec: &str) -> Vec<u8> {
    LayerBuilder::from_text(spec).unwrap().build()
}

pub fn try_apply(root: &Path, spec: &str) -> Result<ApplyStats, LayerError> {
    apply_layer(&layer(spec)[..], root, &ApplyOptions::for_current_process())
}

pub fn apply(root: &Path, spec: &str) -> ApplyStats {
    match try_apply(root, spec) {
        Ok(stats) => stats,
        Err(e) => panic!("applying {spec:?}: {e}"),
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// One line per path below `root`, sorted: `d <path> <mode>`, `f <path> <mode> <content>`,
/// `l <path> -> <target>`, `p <path>`, `c <path>`, `b <path>`.
pub fn listing(root: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    walk(root, root, &mut lines);
    lines.sort();
    lines
}

fn walk(root: &Path, dir: &Path, lines: &mut Vec<String>) {
    for child in fs::read_dir(dir).unwrap() {
        let child = child.unwrap();
        let path = child.path();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_symlink() {
            lines.push(format!(
                "l {rel} -> {}",
                fs::read_link(&path).unwrap().display()
            ));
        } else if ft.is_dir() {
            lines.push(format!("d {rel} {mode:o}"));
            walk(root, &path, lines);
        } else if ft.is_file() {
            let content = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
            lines.push(format!("f {rel} {mode:o} {content}"));
        } else if ft.is_fifo() {
            lines.push(format!("p {rel}"));
        } else if ft.is_char_device() {
            lines.push(format!("c {rel}"));
        } else if ft.is_block_device() {
            lines.push(format!("b {rel}"));
        }
    }
}

/// A temporary directory holding `root` (where layers go) and `outside` (what they must not touch).
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub top: PathBuf,
    pub root: PathBuf,
    pub outside: PathBuf,
    before: Vec<String>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().to_path_buf();
        let root = top.join("root");
        let outside = top.join("outside");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), "secret").unwrap();
        fs::create_dir(outside.join("b")).unwrap();
        fs::set_permissions(outside.join("b"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
        let mut sandbox = Self {
            _dir: dir,
            top,
            root,
            outside,
            before: Vec::new(),
        };
        sandbox.before = sandbox.outside_state();
        sandbox
    }

    /// Everything about `outside` a hostile layer might change: names, kinds, content, modes, mtimes, links.
    fn outside_state(&self) -> Vec<String> {
        let mut state = vec![describe(&self.outside)];
        for line in listing(&self.outside) {
            let path = self.outside.join(line.split(' ').nth(1).unwrap());
            state.push(format!("{line} | {}", describe(&path)));
        }
        let mut top: Vec<_> = fs::read_dir(&self.top)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        top.sort();
        state.push(format!("top: {top:?}"));
        state
    }

    pub fn assert_outside_untouched(&self) {
        assert_eq!(
            self.outside_state(),
            self.before,
            "a layer changed something outside its root"
        );
    }

    /// The outside directory's path as an absolute symlink target.
    pub fn outside_str(&self) -> String {
        self.outside.display().to_string()
    }
}

fn describe(path: &Path) -> String {
    let meta = fs::symlink_metadata(path).unwrap();
    format!(
        "mode {:o} mtime {} nlink {} uid {}",
        meta.mode(),
        meta.mtime(),
        meta.nlink(),
        meta.uid()
    )
}
