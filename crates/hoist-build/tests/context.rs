//! Build context tests: directories with `.dockerignore`, tar/gzip/zstd streams, hostile tars, Git
//! repositories served by `git daemon` on 127.0.0.1 and by `file://`, HTTP contexts from a local
//! listener, source resolution and content digests. Every fixture is made here, in temporary directories.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use hoist_build::context::{BuildContext, ContextError, ContextSource};
use hoist_layer::{Compression, Compressor};

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        write(root, rel, content);
    }
}

fn open_dir(root: &Path) -> BuildContext {
    let scratch = root.parent().unwrap().join("scratch");
    BuildContext::open(ContextSource::Directory(root.to_path_buf()), &scratch).unwrap()
}

fn paths(entries: &[(String, fs::Metadata)]) -> Vec<&str> {
    entries.iter().map(|(p, _)| p.as_str()).collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    scratch: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ctx");
    let scratch = dir.path().join("scratch");
    fs::create_dir_all(&root).unwrap();
    Fixture {
        _dir: dir,
        root,
        scratch,
    }
}

// ---------------------------------------------------------------------------------------------------
// Directory contexts and .dockerignore

fn node_project(root: &Path) {
    tree(
        root,
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("README.md", "readme"),
            ("CHANGES.md", "changes"),
            ("docs/guide.md", "guide"),
            ("src/main.rs", "fn main() {}"),
            ("src/lib.rs", "// lib"),
            ("node_modules/left-pad/index.js", "module.exports = 1"),
            ("node_modules/keep/x.js", "kept"),
            ("build/out.o", "object"),
            ("sub/build/out.o", "nested object"),
            ("secret.key", "k"),
            ("a/b/c/secret.key", "k2"),
            ("package.json", "{}"),
            ("package-lock.json", "{\"lock\":1}"),
            ("packages.txt", "no"),
        ],
    );
    write(
        root,
        ".dockerignore",
        "# what stays out\n*.md\n!README.md\nnode_modules\n!node_modules/keep\n/build\n**/*.key\n",
    );
}

#[test]
fn directory_context_with_dockerignore() {
    let f = fixture();
    node_project(&f.root);
    let mut ctx = open_dir(&f.root);
    assert_eq!(ctx.root(), fs::canonicalize(&f.root).unwrap());
    // Before the ignore file is loaded, everything is in.
    assert!(!ctx.is_excluded("CHANGES.md"));
    ctx.load_ignore("Dockerfile").unwrap();
    assert_eq!(
        ctx.ignore_file(),
        Some(
            fs::canonicalize(&f.root)
                .unwrap()
                .join(".dockerignore")
                .as_path()
        )
    );

    for excluded in [
        "CHANGES.md",
        "node_modules",
        "node_modules/left-pad",
        "node_modules/left-pad/index.js",
        "build",
        "build/out.o",
        "/build/out.o",
        "secret.key",
        "a/b/c/secret.key",
    ] {
        assert!(ctx.is_excluded(excluded), "{excluded} should be excluded");
    }
    for included in [
        ".",
        "README.md",
        "docs/guide.md",
        "node_modules/keep",
        "node_modules/keep/x.js",
        "sub/build/out.o",
        "src/main.rs",
        "Dockerfile",
        ".dockerignore",
    ] {
        assert!(!ctx.is_excluded(included), "{included} should be included");
    }

    let all = ctx.walk(".").unwrap();
    assert_eq!(
        paths(&all),
        vec![
            ".",
            ".dockerignore",
            "Dockerfile",
            "README.md",
            "a",
            "a/b",
            "a/b/c",
            "docs",
            "docs/guide.md",
            "node_modules",
            "node_modules/keep",
            "node_modules/keep/x.js",
            "package-lock.json",
            "package.json",
            "packages.txt",
            "src",
            "src/lib.rs",
            "src/main.rs",
            "sub",
            "sub/build",
            "sub/build/out.o",
        ]
    );
    assert!(all[0].1.is_dir());
    assert!(all[2].1.is_file());

    assert_eq!(ctx.resolve_sources("*.md").unwrap(), vec!["README.md"]);
    assert_eq!(
        ctx.resolve_sources("node_modules").unwrap(),
        vec!["node_modules"]
    );
    assert_eq!(
        paths(&ctx.walk("node_modules").unwrap()),
        vec![
            "node_modules",
            "node_modules/keep",
            "node_modules/keep/x.js"
        ]
    );
    let err = ctx
        .resolve_sources("node_modules/left-pad/index.js")
        .unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "\"/node_modules/left-pad/index.js\": not found"
    );
    assert!(matches!(
        ctx.resolve_sources("build").unwrap_err(),
        ContextError::NotFound { .. }
    ));
    assert!(matches!(
        ctx.checksum("secret.key").unwrap_err(),
        ContextError::NotFound { .. }
    ));

    // Excluded files do not count in digests; included ones do.
    let before = ctx.checksum(".").unwrap();
    fs::write(f.root.join("build/out.o"), "changed object").unwrap();
    fs::write(f.root.join("node_modules/left-pad/index.js"), "changed").unwrap();
    fs::write(f.root.join("CHANGES.md"), "changed").unwrap();
    let fresh = open_with_ignore(&f.root);
    assert_eq!(fresh.checksum(".").unwrap(), before);
    fs::write(f.root.join("node_modules/keep/x.js"), "changed").unwrap();
    let fresh = open_with_ignore(&f.root);
    assert_ne!(fresh.checksum(".").unwrap(), before);
}

fn open_with_ignore(root: &Path) -> BuildContext {
    let mut ctx = open_dir(root);
    ctx.load_ignore("Dockerfile").unwrap();
    ctx
}

#[test]
fn double_star_and_exceptions_with_wildcards() {
    let f = fixture();
    tree(
        &f.root,
        &[
            ("vendor/a/keep.go", "go"),
            ("vendor/a/drop.txt", "txt"),
            ("vendor/b/drop.txt", "txt"),
            ("cache/x/tmp/file", "tmp"),
            ("deep/er/tmp/file", "tmp"),
            ("deep/er/keep", "keep"),
        ],
    );
    write(&f.root, ".dockerignore", "vendor\n!**/*.go\n**/tmp\n");
    let ctx = open_with_ignore(&f.root);
    // An exception with wildcards makes every excluded directory walked; only its matches come back,
    // with their parents.
    assert_eq!(
        paths(&ctx.walk("vendor").unwrap()),
        vec!["vendor", "vendor/a", "vendor/a/keep.go"]
    );
    assert_eq!(
        paths(&ctx.walk("deep").unwrap()),
        vec!["deep", "deep/er", "deep/er/keep"]
    );
    assert!(ctx.is_excluded("cache/x/tmp/file"));
    assert_eq!(
        ctx.resolve_sources("vendor/*/*").unwrap(),
        vec!["vendor/a/keep.go"]
    );
    assert!(matches!(
        ctx.resolve_sources("vendor/b").unwrap_err(),
        ContextError::NotFound { .. }
    ));
}

#[test]
fn an_excluded_directory_without_prefix_exception_is_not_walked() {
    let f = fixture();
    tree(&f.root, &[("node_modules/a/b.js", "b"), ("src/x", "x")]);
    write(&f.root, ".dockerignore", "node_modules\n!src/x\n");
    let ctx = open_with_ignore(&f.root);
    assert_eq!(
        paths(&ctx.walk(".").unwrap()),
        vec![".", ".dockerignore", "src", "src/x"]
    );
}

#[test]
fn dockerfile_specific_ignore_takes_precedence() {
    let f = fixture();
    tree(
        &f.root,
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("app.Dockerfile", "FROM scratch\n"),
            ("app.Dockerfile.dockerignore", "*.txt\n"),
            (".dockerignore", "*.md\n"),
            ("build/web.Dockerfile", "FROM scratch\n"),
            ("build/web.Dockerfile.dockerignore", "b.md\n"),
            ("a.txt", "a"),
            ("b.md", "b"),
        ],
    );
    let mut ctx = open_dir(&f.root);
    ctx.load_ignore("app.Dockerfile").unwrap();
    assert!(ctx.is_excluded("a.txt"));
    assert!(!ctx.is_excluded("b.md"));
    assert!(
        ctx.ignore_file()
            .unwrap()
            .ends_with("app.Dockerfile.dockerignore")
    );

    ctx.load_ignore("Dockerfile").unwrap();
    assert!(!ctx.is_excluded("a.txt"));
    assert!(ctx.is_excluded("b.md"));

    ctx.load_ignore("build/web.Dockerfile").unwrap();
    assert!(ctx.is_excluded("b.md"));
    assert!(!ctx.is_excluded("a.txt"));
    assert!(
        ctx.ignore_file()
            .unwrap()
            .ends_with("build/web.Dockerfile.dockerignore")
    );

    // A Dockerfile outside the context: its own ignore file sits next to it.
    let elsewhere = f.root.parent().unwrap().join("elsewhere");
    write(&elsewhere, "Dockerfile", "FROM busybox\n");
    write(&elsewhere, "Dockerfile.dockerignore", "a.txt\n");
    let outside = elsewhere.join("Dockerfile");
    let outside = outside.to_str().unwrap();
    assert_eq!(ctx.read_dockerfile(outside).unwrap(), b"FROM busybox\n");
    ctx.load_ignore(outside).unwrap();
    assert!(ctx.is_excluded("a.txt"));
    assert!(!ctx.is_excluded("b.md"));

    // Neither file: no patterns.
    fs::remove_file(f.root.join(".dockerignore")).unwrap();
    ctx.load_ignore("Dockerfile").unwrap();
    assert!(ctx.ignore_file().is_none());
    assert!(!ctx.is_excluded("b.md"));
}

#[test]
fn bad_dockerignore_names_file_and_pattern() {
    let f = fixture();
    write(&f.root, ".dockerignore", "ok\nfoo[\n");
    let mut ctx = open_dir(&f.root);
    let err = ctx.load_ignore("Dockerfile").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ContextError::Ignore { .. }), "{text}");
    assert!(text.contains(".dockerignore"), "{text}");
    assert!(text.contains("\"foo[\""), "{text}");
}

#[test]
fn reading_the_dockerfile() {
    let f = fixture();
    let ctx = open_dir(&f.root);
    let err = ctx.read_dockerfile("Dockerfile").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to read dockerfile: open Dockerfile: no such file or directory"
    );
    // The lower-case name is the fallback for the default only.
    write(&f.root, "dockerfile", "FROM lower\n");
    assert_eq!(ctx.read_dockerfile("Dockerfile").unwrap(), b"FROM lower\n");
    write(&f.root, "Dockerfile", "FROM upper\n");
    assert_eq!(ctx.read_dockerfile("Dockerfile").unwrap(), b"FROM upper\n");
    write(&f.root, "docker/dev.Dockerfile", "FROM dev\n");
    assert_eq!(
        ctx.read_dockerfile("docker/dev.Dockerfile").unwrap(),
        b"FROM dev\n"
    );
    assert_eq!(
        ctx.read_dockerfile("./docker//dev.Dockerfile").unwrap(),
        b"FROM dev\n"
    );
    let err = ctx.read_dockerfile("Missing.Dockerfile").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to read dockerfile: open Missing.Dockerfile: no such file or directory"
    );
    assert!(matches!(
        ctx.read_dockerfile("../Dockerfile").unwrap_err(),
        ContextError::DockerfileOutside { .. }
    ));
    fs::create_dir(f.root.join("adir")).unwrap();
    assert!(matches!(
        ctx.read_dockerfile("adir").unwrap_err(),
        ContextError::DockerfileRead { .. }
    ));
    // Excluded or not, the Dockerfile is read.
    write(&f.root, ".dockerignore", "Dockerfile\n");
    let ctx = open_with_ignore(&f.root);
    assert_eq!(ctx.read_dockerfile("Dockerfile").unwrap(), b"FROM upper\n");
    assert!(ctx.resolve_sources("Dockerfile").is_err());
}

#[test]
fn directory_errors() {
    let f = fixture();
    let missing = f.root.join("nope");
    let err =
        BuildContext::open(ContextSource::Directory(missing.clone()), &f.scratch).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unable to prepare context: path {missing:?} not found")
    );
    write(&f.root, "file", "x");
    let err =
        BuildContext::open(ContextSource::Directory(f.root.join("file")), &f.scratch).unwrap_err();
    assert!(matches!(err, ContextError::NotADirectory { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("unable to prepare context: context must be a directory"),
        "{err}"
    );
}

#[test]
fn empty_context() {
    let f = fixture();
    let ctx = BuildContext::open(ContextSource::Empty, &f.scratch).unwrap();
    let root = ctx.root().to_path_buf();
    assert!(root.is_dir());
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
    assert!(ctx.read_dockerfile("Dockerfile").is_err());
    write(&f.root, "Dockerfile", "FROM x\n");
    let abs = f.root.join("Dockerfile");
    assert_eq!(
        ctx.read_dockerfile(abs.to_str().unwrap()).unwrap(),
        b"FROM x\n"
    );
    assert!(matches!(
        ctx.resolve_sources("anything").unwrap_err(),
        ContextError::NotFound { .. }
    ));
    drop(ctx);
    assert!(!root.exists(), "the temporary context is removed on drop");
}

// ---------------------------------------------------------------------------------------------------
// Source resolution

#[test]
fn source_resolution() {
    let f = fixture();
    node_project(&f.root);
    tree(
        &f.root,
        &[
            ("a*b", "literal star"),
            ("src/nested/deep.rs", "deep"),
            ("img/x1.png", "1"),
            ("img/x2.png", "2"),
            ("img/y1.png", "3"),
        ],
    );
    let ctx = open_dir(&f.root);
    assert_eq!(
        ctx.resolve_sources("package*.json").unwrap(),
        vec!["package-lock.json", "package.json"]
    );
    assert_eq!(
        ctx.resolve_sources("/package*.json").unwrap(),
        vec!["package-lock.json", "package.json"]
    );
    assert_eq!(
        ctx.resolve_sources("src/*.rs").unwrap(),
        vec!["src/lib.rs", "src/main.rs"]
    );
    assert_eq!(
        ctx.resolve_sources("*/*.rs").unwrap(),
        vec!["src/lib.rs", "src/main.rs"]
    );
    assert_eq!(
        ctx.resolve_sources("img/[xy]1.png").unwrap(),
        vec!["img/x1.png", "img/y1.png"]
    );
    assert_eq!(
        ctx.resolve_sources("img/x?.png").unwrap(),
        vec!["img/x1.png", "img/x2.png"]
    );
    // Without an unescaped wildcard the source is a literal name, backslash included (BuildKit).
    assert!(matches!(
        ctx.resolve_sources("a\\*b").unwrap_err(),
        ContextError::NotFound { .. }
    ));
    assert_eq!(ctx.resolve_sources("[a]\\*b").unwrap(), vec!["a*b"]);
    assert_eq!(ctx.resolve_sources(".").unwrap(), vec!["."]);
    assert_eq!(ctx.resolve_sources("/").unwrap(), vec!["."]);
    assert_eq!(ctx.resolve_sources("src/../src/").unwrap(), vec!["src"]);
    // `..` cannot leave the root: this is `package.json` at the root.
    assert_eq!(
        ctx.resolve_sources("../../package.json").unwrap(),
        vec!["package.json"]
    );
    let err = ctx.resolve_sources("missing.txt").unwrap_err();
    assert_eq!(err.to_string(), "\"/missing.txt\": not found");
    let err = ctx.resolve_sources("nomatch*").unwrap_err();
    assert_eq!(err.to_string(), "\"/nomatch*\": not found");
    assert!(matches!(
        ctx.resolve_sources("src/[").unwrap_err(),
        ContextError::BadPattern { .. }
    ));
    // The deeper file is not matched by one `*` component.
    assert!(
        !ctx.resolve_sources("src/*")
            .unwrap()
            .contains(&"src/nested/deep.rs".to_owned())
    );
}

#[test]
fn symlinks_stay_inside_the_root() {
    let f = fixture();
    tree(
        &f.root,
        &[("real/file", "content"), ("real/sub/inner", "i")],
    );
    symlink("real", f.root.join("rel-link")).unwrap();
    symlink("/real", f.root.join("abs-link")).unwrap();
    symlink("../../../../../../etc", f.root.join("escape")).unwrap();
    symlink("/etc/passwd", f.root.join("passwd")).unwrap();
    symlink("loop2", f.root.join("loop1")).unwrap();
    symlink("loop1", f.root.join("loop2")).unwrap();
    let ctx = open_dir(&f.root);
    assert_eq!(ctx.resolve_path("rel-link").unwrap(), "real");
    assert_eq!(ctx.resolve_path("abs-link/file").unwrap(), "real/file");
    assert_eq!(
        ctx.resolve_sources("abs-link/file").unwrap(),
        vec!["abs-link/file"]
    );
    // Out-of-root targets are read inside the root, where they do not exist.
    assert!(matches!(
        ctx.resolve_sources("passwd").unwrap_err(),
        ContextError::NotFound { .. }
    ));
    assert!(ctx.resolve_sources("escape/passwd").is_err());
    assert!(matches!(
        ctx.resolve_path("loop1").unwrap_err(),
        ContextError::SymlinkLoop { .. }
    ));
    // Walking a link walks its target, under the target's real path; links below are entries.
    symlink("file", f.root.join("real/file-link")).unwrap();
    let entries = ctx.walk("abs-link").unwrap();
    assert_eq!(
        paths(&entries),
        vec![
            "real",
            "real/file",
            "real/file-link",
            "real/sub",
            "real/sub/inner"
        ]
    );
    assert!(entries[2].1.file_type().is_symlink());
    assert_eq!(
        ctx.checksum("rel-link").unwrap(),
        ctx.checksum("real").unwrap()
    );
    // For copying: paths inside the source, whatever it was called.
    let real_root = fs::canonicalize(&f.root).unwrap();
    let copy = ctx.walk_for_copy("abs-link").unwrap();
    let inner: Vec<&Path> = copy.iter().map(|(p, _, _)| p.as_path()).collect();
    assert_eq!(
        inner,
        ["", "file", "file-link", "sub", "sub/inner"].map(Path::new)
    );
    assert_eq!(copy[1].1, real_root.join("real/file"));
    let copy = ctx.walk_for_copy(".").unwrap();
    assert_eq!(copy[0].0, Path::new(""));
    assert_eq!(copy[0].1, real_root);
    assert!(copy.iter().any(
        |(p, h, _)| p == Path::new("real/sub/inner") && *h == real_root.join("real/sub/inner")
    ));
    let copy = ctx.walk_for_copy("real/file").unwrap();
    assert_eq!(copy.len(), 1);
    assert_eq!(copy[0].0, Path::new(""));
    // A wildcard sees the links themselves; the dangling one drops out.
    assert_eq!(
        ctx.resolve_sources("*-link").unwrap(),
        vec!["abs-link", "rel-link"]
    );
    assert_eq!(
        ctx.resolve_sources("pass*").unwrap_err().to_string(),
        "\"/pass*\": not found"
    );
}

// ---------------------------------------------------------------------------------------------------
// Digests

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        if meta.file_type().is_symlink() {
            symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if meta.is_dir() {
            copy_tree(&entry.path(), &target);
            fs::set_permissions(&target, meta.permissions()).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn checksum_stability() {
    let f = fixture();
    node_project(&f.root);
    symlink("src/main.rs", f.root.join("main-link")).unwrap();
    let ctx = open_dir(&f.root);
    let root = ctx.checksum(".").unwrap();
    let src = ctx.checksum("src").unwrap();
    let file = ctx.checksum("src/main.rs").unwrap();
    assert_eq!(root.algorithm(), "sha256");
    assert_eq!(ctx.checksum(".").unwrap(), root, "deterministic");
    assert_ne!(src, file);

    // Touching changes nothing.
    let later = SystemTime::now() + Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(f.root.join("src/main.rs"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let fresh = open_dir(&f.root);
    assert_eq!(fresh.checksum(".").unwrap(), root);
    assert_eq!(fresh.checksum("src/main.rs").unwrap(), file);

    // The same tree elsewhere hashes the same.
    let clone = f.root.parent().unwrap().join("clone");
    copy_tree(&f.root, &clone);
    let cloned = open_dir(&clone);
    assert_eq!(cloned.checksum(".").unwrap(), root);
    assert_eq!(cloned.checksum("src").unwrap(), src);

    // Same content under another name: same file digest.
    write(&f.root, "copy-of-main.rs", "fn main() {}");
    let fresh = open_dir(&f.root);
    assert_eq!(fresh.checksum("copy-of-main.rs").unwrap(), file);
    assert_ne!(
        fresh.checksum(".").unwrap(),
        root,
        "a new file changes the tree"
    );
    fs::remove_file(f.root.join("copy-of-main.rs")).unwrap();

    // chmod changes the digest, of the file and of every directory above it.
    fs::set_permissions(
        f.root.join("src/main.rs"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let fresh = open_dir(&f.root);
    assert_ne!(fresh.checksum("src/main.rs").unwrap(), file);
    assert_ne!(fresh.checksum("src").unwrap(), src);
    assert_ne!(fresh.checksum(".").unwrap(), root);
    // setuid counts too.
    fs::set_permissions(
        f.root.join("src/main.rs"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    let setuid = open_dir(&f.root).checksum("src/main.rs").unwrap();
    assert_ne!(setuid, fresh.checksum("src/main.rs").unwrap());
    fs::set_permissions(
        f.root.join("src/main.rs"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_eq!(open_dir(&f.root).checksum(".").unwrap(), root);

    // Content, names and link targets count.
    write(&f.root, "src/main.rs", "fn main() { }");
    assert_ne!(open_dir(&f.root).checksum("src").unwrap(), src);
    write(&f.root, "src/main.rs", "fn main() {}");
    assert_eq!(open_dir(&f.root).checksum("src").unwrap(), src);
    fs::rename(f.root.join("src/lib.rs"), f.root.join("src/lib2.rs")).unwrap();
    assert_ne!(open_dir(&f.root).checksum("src").unwrap(), src);
    fs::rename(f.root.join("src/lib2.rs"), f.root.join("src/lib.rs")).unwrap();
    let before_link = open_dir(&f.root).checksum(".").unwrap();
    assert_eq!(before_link, root);
    fs::remove_file(f.root.join("main-link")).unwrap();
    symlink("src/lib.rs", f.root.join("main-link")).unwrap();
    assert_ne!(open_dir(&f.root).checksum(".").unwrap(), root);

    // A directory and its empty twin differ from a file.
    fs::create_dir(f.root.join("empty")).unwrap();
    write(&f.root, "empty-file", "");
    let fresh = open_dir(&f.root);
    assert_ne!(
        fresh.checksum("empty").unwrap(),
        fresh.checksum("empty-file").unwrap()
    );
}

#[test]
fn checksum_is_cached_per_context() {
    let f = fixture();
    tree(&f.root, &[("dir/a", "a"), ("dir/b", "b")]);
    let ctx = open_dir(&f.root);
    let first = ctx.checksum("dir").unwrap();
    // The cache answers for the same context even after the files change under it...
    write(&f.root, "dir/a", "changed");
    assert_eq!(ctx.checksum("dir").unwrap(), first);
    // ...and a new context sees the change.
    assert_ne!(open_dir(&f.root).checksum("dir").unwrap(), first);
}

#[test]
fn checksum_of_many_files() {
    let f = fixture();
    for d in 0..20 {
        for i in 0..100 {
            write(
                &f.root,
                &format!("d{d:02}/f{i:03}.txt"),
                &format!("{d}-{i}"),
            );
        }
    }
    let ctx = open_dir(&f.root);
    let started = std::time::Instant::now();
    let digest = ctx.checksum(".").unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "2,000 files took {elapsed:?}"
    );
    assert_eq!(ctx.walk(".").unwrap().len(), 1 + 20 + 2000);
    assert_eq!(open_dir(&f.root).checksum(".").unwrap(), digest);
}

// ---------------------------------------------------------------------------------------------------
// Tar contexts

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header
}

fn context_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let add_dir = |builder: &mut tar::Builder<Vec<u8>>, path: &str| {
        let mut header = header(tar::EntryType::Directory, 0o755, 0);
        header.set_cksum();
        builder.append_data(&mut header, path, &[][..]).unwrap();
    };
    let add_file = |builder: &mut tar::Builder<Vec<u8>>, path: &str, content: &[u8]| {
        let mut header = header(tar::EntryType::Regular, 0o644, content.len() as u64);
        header.set_cksum();
        builder.append_data(&mut header, path, content).unwrap();
    };
    add_dir(&mut builder, "app");
    add_file(&mut builder, "Dockerfile", b"FROM scratch\nCOPY app /app\n");
    add_file(&mut builder, "app/main.sh", b"echo hi\n");
    add_file(&mut builder, ".dockerignore", b"*.log\n");
    add_file(&mut builder, "debug.log", b"noise");
    let mut link = header(tar::EntryType::Symlink, 0o777, 0);
    builder
        .append_link(&mut link, "app/link", "main.sh")
        .unwrap();
    builder.into_inner().unwrap()
}

fn compress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    let mut writer = Compressor::new(Vec::new(), compression).unwrap();
    writer.write_all(bytes).unwrap();
    writer.finish().unwrap()
}

fn check_tar_context(ctx: &mut BuildContext) {
    assert_eq!(
        ctx.read_dockerfile("Dockerfile").unwrap(),
        b"FROM scratch\nCOPY app /app\n"
    );
    assert_eq!(
        fs::read(ctx.root().join("app/main.sh")).unwrap(),
        b"echo hi\n"
    );
    ctx.load_ignore("Dockerfile").unwrap();
    assert!(ctx.is_excluded("debug.log"));
    assert_eq!(
        paths(&ctx.walk("app").unwrap()),
        vec!["app", "app/link", "app/main.sh"]
    );
    assert_eq!(ctx.resolve_path("app/link").unwrap(), "app/main.sh");
}

#[test]
fn tar_contexts_plain_gzip_zstd() {
    let f = fixture();
    let tar = context_tar();
    let mut digests = Vec::new();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let bytes = if compression == Compression::None {
            tar.clone()
        } else {
            compress(&tar, compression)
        };
        let mut ctx = BuildContext::open(
            ContextSource::Tar(Box::new(std::io::Cursor::new(bytes))),
            &f.scratch,
        )
        .unwrap();
        let root = ctx.root().to_path_buf();
        assert!(root.starts_with(&f.scratch), "unpacked under scratch");
        assert!(!ctx.is_dockerfile_only());
        check_tar_context(&mut ctx);
        digests.push(ctx.checksum("app").unwrap());
        drop(ctx);
        assert!(!root.exists(), "{compression} context removed on drop");
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    // flate2 directly, as `tar czf` would make it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let bytes = gz.finish().unwrap();
    let mut ctx = BuildContext::open(
        ContextSource::Tar(Box::new(std::io::Cursor::new(bytes))),
        &f.scratch,
    )
    .unwrap();
    check_tar_context(&mut ctx);
}

/// A tar whose only entry is `name`, written by hand: the tar crate refuses `..` in paths.
fn raw_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = header(tar::EntryType::Regular, 0o644, content.len() as u64);
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn hostile_tar_is_refused() {
    let f = fixture();
    for name in ["../evil", "a/../../evil", "/abs-evil"] {
        let bytes = raw_tar(name, b"pwned");
        let result = BuildContext::open(
            ContextSource::Tar(Box::new(std::io::Cursor::new(bytes))),
            &f.scratch,
        );
        let err = result.unwrap_err();
        assert!(matches!(err, ContextError::Archive { .. }), "{name}: {err}");
        assert!(
            err.to_string()
                .contains("unpacking the build context archive"),
            "{err}"
        );
    }
    assert!(!f.scratch.join("evil").exists());
    assert!(!f.scratch.parent().unwrap().join("evil").exists());
    assert!(!Path::new("/abs-evil").exists());
    // Nothing of the failed contexts is left behind.
    assert_eq!(fs::read_dir(&f.scratch).unwrap().count(), 0);
}

#[test]
fn stdin_dockerfile_is_not_a_context() {
    let f = fixture();
    let text = b"FROM busybox\nRUN echo hi\n".to_vec();
    let mut ctx = BuildContext::open(
        ContextSource::Tar(Box::new(std::io::Cursor::new(text.clone()))),
        &f.scratch,
    )
    .unwrap();
    assert!(ctx.is_dockerfile_only());
    assert_eq!(ctx.read_dockerfile("Dockerfile").unwrap(), text);
    ctx.load_ignore("Dockerfile").unwrap();
    assert_eq!(fs::read_dir(ctx.root()).unwrap().count(), 0);
    assert!(ctx.resolve_sources("x").is_err());
}

#[test]
fn truncated_tar_is_an_error() {
    let f = fixture();
    let mut tar = context_tar();
    tar.truncate(700);
    let err = BuildContext::open(
        ContextSource::Tar(Box::new(std::io::Cursor::new(tar))),
        &f.scratch,
    )
    .unwrap_err();
    assert!(matches!(err, ContextError::Archive { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// Git contexts

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=hoist",
            "-c",
            "user.email=hoist@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

struct Repo {
    _dir: tempfile::TempDir,
    /// The bare repository.
    bare: PathBuf,
    base: PathBuf,
    first: String,
}

/// main: v1 (tagged v1) then v2; branch feature adds sub/Dockerfile.
fn make_repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q"]);
    tree(
        &work,
        &[("Dockerfile", "FROM scratch\n"), ("app/version", "v1")],
    );
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["tag", "v1"]);
    write(&work, "app/version", "v2");
    git(&work, &["commit", "-q", "-am", "v2"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    write(&work, "sub/Dockerfile", "FROM feature\n");
    write(&work, "sub/only-here", "feature file");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "feature"]);
    git(&work, &["checkout", "-q", "main"]);
    let base = dir.path().join("served");
    fs::create_dir(&base).unwrap();
    let bare = base.join("repo.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    Repo {
        _dir: dir,
        bare,
        base,
        first,
    }
}

/// `git daemon` on 127.0.0.1, killed by pid when dropped.
struct GitDaemon {
    child: Child,
    port: u16,
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn git_daemon(base: &Path) -> GitDaemon {
    let port = free_port();
    // `git daemon` would run git-daemon as a child of the `git` wrapper, and killing the wrapper would
    // orphan it: start the daemon binary itself so its pid is the one killed.
    let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
    let exec_path = String::from_utf8(exec_path.stdout).unwrap();
    let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
        .arg("--export-all")
        .arg("--reuseaddr")
        .arg("--informative-errors")
        .arg(format!("--base-path={}", base.display()))
        .arg("--listen=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = GitDaemon { child, port };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "git daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

fn version(ctx: &BuildContext) -> String {
    fs::read_to_string(ctx.root().join("app/version")).unwrap()
}

#[test]
fn git_contexts_over_git_daemon() {
    let repo = make_repo();
    let daemon = git_daemon(&repo.base);
    let scratch = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let open = |fragment: &str| {
        BuildContext::open(
            ContextSource::Git(format!("{url}{fragment}")),
            scratch.path(),
        )
    };

    // Default branch.
    let ctx = open("").unwrap();
    assert_eq!(version(&ctx), "v2");
    assert_eq!(
        ctx.read_dockerfile("Dockerfile").unwrap(),
        b"FROM scratch\n"
    );
    assert!(!ctx.root().join(".git").exists(), "no .git in the context");
    assert!(!ctx.root().join("sub").exists());
    let clone_root = ctx.root().to_path_buf();
    drop(ctx);
    assert!(!clone_root.exists(), "clone removed on drop");

    // Tag, branch, full and short commit.
    assert_eq!(version(&open("#v1").unwrap()), "v1");
    assert_eq!(version(&open("#main").unwrap()), "v2");
    assert_eq!(version(&open(&format!("#{}", repo.first)).unwrap()), "v1");
    assert_eq!(
        version(&open(&format!("#{}", &repo.first[..10])).unwrap()),
        "v1"
    );

    // Branch and subdirectory: the context is the subdirectory.
    let ctx = open("#feature:sub").unwrap();
    assert_eq!(
        ctx.read_dockerfile("Dockerfile").unwrap(),
        b"FROM feature\n"
    );
    assert!(ctx.root().ends_with("sub"));
    assert_eq!(
        ctx.resolve_sources("*").unwrap(),
        vec!["Dockerfile", "only-here"]
    );
    // Default branch, subdirectory.
    let ctx = open("#:app").unwrap();
    assert_eq!(
        fs::read_to_string(ctx.root().join("version")).unwrap(),
        "v2"
    );

    // Errors.
    let err = open("#no-such-ref").unwrap_err();
    assert!(matches!(err, ContextError::Git { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("unable to prepare context: unable to 'git clone'"),
        "{err}"
    );
    let err = open("#main:missing").unwrap_err();
    assert!(matches!(err, ContextError::GitSubdir { .. }), "{err}");
    let err = open("#main:Dockerfile").unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    let err = open("#main:../..").unwrap_err();
    assert!(matches!(err, ContextError::GitSubdir { .. }), "{err}");
    let err = open("#-bad").unwrap_err();
    assert!(matches!(err, ContextError::InvalidGitUrl { .. }), "{err}");
    let err = BuildContext::open(
        ContextSource::Git(format!("git://127.0.0.1:{}/nope.git", daemon.port)),
        scratch.path(),
    )
    .unwrap_err();
    assert!(matches!(err, ContextError::Git { .. }), "{err}");
    drop(daemon);
}

#[test]
fn git_context_from_file_url() {
    let repo = make_repo();
    let scratch = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.bare.display());
    let ctx = BuildContext::open(
        ContextSource::Git(format!("{url}#feature:sub")),
        scratch.path(),
    )
    .unwrap();
    assert_eq!(
        ctx.read_dockerfile("Dockerfile").unwrap(),
        b"FROM feature\n"
    );
    let ctx = BuildContext::open(ContextSource::Git(format!("{url}#v1")), scratch.path()).unwrap();
    assert_eq!(version(&ctx), "v1");
    let ctx = BuildContext::open(
        ContextSource::Git(format!("{url}#{}", repo.first)),
        scratch.path(),
    )
    .unwrap();
    assert_eq!(version(&ctx), "v1");
    // Cloned twice, the same commit hashes the same.
    let again =
        BuildContext::open(ContextSource::Git(format!("{url}#v1")), scratch.path()).unwrap();
    assert_eq!(ctx.checksum(".").unwrap(), again.checksum(".").unwrap());
}

#[test]
fn context_argument_classification() {
    let f = fixture();
    assert!(matches!(
        ContextSource::from_argument(f.root.to_str().unwrap()),
        ContextSource::Directory(_)
    ));
    assert!(matches!(
        ContextSource::from_argument("https://example.com/repo.git#main"),
        ContextSource::Git(_)
    ));
    assert!(matches!(
        ContextSource::from_argument("github.com/owner/repo"),
        ContextSource::Git(_)
    ));
    assert!(matches!(
        ContextSource::from_argument("https://example.com/ctx.tar.gz"),
        ContextSource::Http(_)
    ));
    assert!(matches!(
        ContextSource::from_argument("./does-not-exist"),
        ContextSource::Directory(_)
    ));
    let debug = format!("{:?}", ContextSource::Tar(Box::new(std::io::empty())));
    assert_eq!(debug, "Tar(<reader>)");
}

// ---------------------------------------------------------------------------------------------------
// HTTP contexts

/// Serves `routes` (path, status, body) on 127.0.0.1 from a thread; returns the base URL.
fn http_server(routes: Vec<(&'static str, u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" || line == "\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = routes
                .iter()
                .find(|(p, _, _)| *p == path)
                .map(|(_, s, b)| (*s, b.clone()))
                .unwrap_or((404, b"not found".to_vec()));
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn http_contexts() {
    let tar = context_tar();
    let base = http_server(vec![
        ("/ctx.tar", 200, tar.clone()),
        ("/ctx.tar.gz", 200, compress(&tar, Compression::Gzip)),
        ("/Dockerfile", 200, b"FROM remote\n".to_vec()),
        ("/empty", 200, Vec::new()),
        ("/broken.tar.gz", 200, vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
    ]);
    let scratch = tempfile::tempdir().unwrap();
    for path in ["/ctx.tar", "/ctx.tar.gz"] {
        let mut ctx =
            BuildContext::open(ContextSource::Http(format!("{base}{path}")), scratch.path())
                .unwrap();
        check_tar_context(&mut ctx);
    }
    let ctx = BuildContext::open(
        ContextSource::Http(format!("{base}/Dockerfile")),
        scratch.path(),
    )
    .unwrap();
    assert!(ctx.is_dockerfile_only());
    assert_eq!(ctx.read_dockerfile("Dockerfile").unwrap(), b"FROM remote\n");
    assert!(ctx.resolve_sources("anything").is_err());
    drop(ctx);

    let err = BuildContext::open(
        ContextSource::Http(format!("{base}/missing")),
        scratch.path(),
    )
    .unwrap_err();
    assert!(matches!(err, ContextError::Http { .. }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    assert!(err.to_string().contains("/missing"), "{err}");
    let err = BuildContext::open(ContextSource::Http(format!("{base}/empty")), scratch.path())
        .unwrap_err();
    assert!(err.to_string().contains("empty response"), "{err}");
    let err = BuildContext::open(
        ContextSource::Http(format!("{base}/broken.tar.gz")),
        scratch.path(),
    )
    .unwrap_err();
    assert!(matches!(err, ContextError::Archive { .. }), "{err}");
    // Temporary files and directories are gone once the contexts are.
    assert_eq!(fs::read_dir(scratch.path()).unwrap().count(), 0);
}
