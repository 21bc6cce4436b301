//! The conformance suite every [`StorageBackend`] runs: call [`run_all`] with a factory that returns a
//! fresh, empty backend. Each check panics with a message naming what broke, as tests do.

use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::backend::{ByteRange, StorageBackend, StorageError};

/// Runs every check, each against a fresh backend from `make`.
pub async fn run_all<B: StorageBackend>(make: impl Fn() -> B) {
    round_trip(&make()).await;
    overwrite_replaces(&make()).await;
    range_reads(&make()).await;
    stat_reports_size(&make()).await;
    list_direct_children_sorted(&make()).await;
    delete_object_and_prefix(&make()).await;
    rename_within_and_across_directories(&make()).await;
    not_found_everywhere(&make()).await;
    invalid_paths_refused(&make()).await;
    append_grows_object(&make()).await;
    concurrent_writers_last_wins(Arc::new(make())).await;
}

async fn read_all<B: StorageBackend>(backend: &B, path: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut reader = match backend.reader(path, range).await {
        Ok(reader) => reader,
        Err(err) => panic!("reader({path}, {range:?}) failed: {err}"),
    };
    let mut bytes = Vec::new();
    if let Err(err) = reader.read_to_end(&mut bytes).await {
        panic!("reading {path} failed: {err}");
    }
    bytes
}

fn must<T>(result: Result<T, StorageError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what} failed: {err}"),
    }
}

/// put then get and reader return the same bytes; put_reader writes a stream.
pub async fn round_trip<B: StorageBackend>(backend: &B) {
    must(backend.put("a/b/object", b"hello world").await, "put");
    assert_eq!(must(backend.get("a/b/object").await, "get"), b"hello world");
    assert_eq!(read_all(backend, "a/b/object", None).await, b"hello world");
    let streamed = vec![7u8; 300_000];
    let written = must(
        backend.put_reader("a/streamed", streamed.as_slice()).await,
        "put_reader",
    );
    assert_eq!(written, streamed.len() as u64);
    assert_eq!(must(backend.get("a/streamed").await, "get"), streamed);
    must(backend.put("empty", b"").await, "put empty");
    assert_eq!(must(backend.get("empty").await, "get empty"), b"");
}

/// A second put replaces the object entirely, including with shorter content.
pub async fn overwrite_replaces<B: StorageBackend>(backend: &B) {
    must(backend.put("o", b"a long first version").await, "put");
    must(backend.put("o", b"short").await, "overwrite");
    assert_eq!(must(backend.get("o").await, "get"), b"short");
    assert_eq!(must(backend.stat("o").await, "stat").size, 5);
}

/// Ranges at the start, middle and end; a range past the end is InvalidRange.
pub async fn range_reads<B: StorageBackend>(backend: &B) {
    must(backend.put("r", b"0123456789").await, "put");
    let range = |offset, len| Some(ByteRange { offset, len });
    assert_eq!(read_all(backend, "r", range(0, 3)).await, b"012");
    assert_eq!(read_all(backend, "r", range(4, 2)).await, b"45");
    assert_eq!(read_all(backend, "r", range(7, 3)).await, b"789");
    assert_eq!(read_all(backend, "r", range(10, 0)).await, b"");
    for (offset, len) in [(8, 3), (11, 0), (u64::MAX, 2)] {
        match backend.reader("r", range(offset, len)).await {
            Err(StorageError::InvalidRange { .. }) => {}
            Err(err) => panic!("range {offset}+{len}: expected InvalidRange, got {err}"),
            Ok(_) => panic!("range {offset}+{len}: expected InvalidRange, got a reader"),
        }
    }
}

/// stat reports the size and a modification time that is not in the future.
pub async fn stat_reports_size<B: StorageBackend>(backend: &B) {
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
    must(backend.put("s/x", b"12345").await, "put");
    let info = must(backend.stat("s/x").await, "stat");
    assert_eq!(info.size, 5);
    assert!(
        info.modified >= before,
        "modified time {:?} too old",
        info.modified
    );
}

/// list returns the direct children of a prefix (objects and sub-prefixes), sorted, and the root.
pub async fn list_direct_children_sorted<B: StorageBackend>(backend: &B) {
    for key in ["d/c", "d/a", "d/b/deep/x", "d/b/y", "top"] {
        must(backend.put(key, b"x").await, "put");
    }
    assert_eq!(must(backend.list("d").await, "list d"), ["a", "b", "c"]);
    assert_eq!(must(backend.list("d/b").await, "list d/b"), ["deep", "y"]);
    assert_eq!(must(backend.list("").await, "list root"), ["d", "top"]);
}

/// delete removes one object; delete_prefix removes a subtree and nothing else.
pub async fn delete_object_and_prefix<B: StorageBackend>(backend: &B) {
    for key in ["p/one", "p/sub/two", "p/sub/three", "keep"] {
        must(backend.put(key, b"x").await, "put");
    }
    must(backend.delete("p/one").await, "delete");
    assert!(matches!(
        backend.get("p/one").await,
        Err(StorageError::NotFound { .. })
    ));
    must(backend.delete_prefix("p/sub").await, "delete_prefix");
    assert!(matches!(
        backend.get("p/sub/two").await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        backend.list("p/sub").await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(must(backend.get("keep").await, "get keep"), b"x");
}

/// rename within a directory and across directories, replacing an existing target.
pub async fn rename_within_and_across_directories<B: StorageBackend>(backend: &B) {
    must(backend.put("m/from", b"first").await, "put");
    must(backend.rename("m/from", "m/to").await, "rename within");
    assert_eq!(must(backend.get("m/to").await, "get"), b"first");
    assert!(matches!(
        backend.get("m/from").await,
        Err(StorageError::NotFound { .. })
    ));
    must(backend.put("n/deeper/target", b"old").await, "put target");
    must(
        backend.rename("m/to", "n/deeper/target").await,
        "rename across",
    );
    assert_eq!(must(backend.get("n/deeper/target").await, "get"), b"first");
}

/// Every operation on a missing object is NotFound naming that path.
pub async fn not_found_everywhere<B: StorageBackend>(backend: &B) {
    let missing = "no/such/object";
    let check = |result: Result<(), StorageError>, op: &str| match result {
        Err(StorageError::NotFound { path }) => assert_eq!(path, missing, "{op}"),
        Err(err) => panic!("{op}: expected NotFound, got {err}"),
        Ok(()) => panic!("{op}: expected NotFound, got success"),
    };
    check(backend.get(missing).await.map(drop), "get");
    check(backend.reader(missing, None).await.map(drop), "reader");
    check(backend.stat(missing).await.map(drop), "stat");
    check(backend.list(missing).await.map(drop), "list");
    check(backend.delete(missing).await, "delete");
    check(backend.delete_prefix(missing).await, "delete_prefix");
    check(backend.rename(missing, "elsewhere").await, "rename");
    // A prefix is not an object.
    must(backend.put("dir/child", b"x").await, "put");
    assert!(matches!(
        backend.get("dir").await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        backend.stat("dir").await,
        Err(StorageError::NotFound { .. })
    ));
}

/// Absolute paths, `..`, `.`, empty components and the empty key are InvalidPath.
pub async fn invalid_paths_refused<B: StorageBackend>(backend: &B) {
    for bad in ["", "/abs", "a/../b", "..", "a/./b", "a//b", "a/", "a\\b"] {
        match backend.put(bad, b"x").await {
            Err(StorageError::InvalidPath { path, .. }) => assert_eq!(path, bad),
            other => panic!("put({bad:?}): expected InvalidPath, got {other:?}"),
        }
        assert!(
            matches!(
                backend.get(bad).await,
                Err(StorageError::InvalidPath { .. })
            ),
            "get({bad:?}) accepted"
        );
        assert!(
            matches!(
                backend.rename("ok", bad).await,
                Err(StorageError::InvalidPath { .. })
            ),
            "rename to {bad:?} accepted"
        );
    }
    for bad in ["/abs", "../up"] {
        assert!(
            matches!(
                backend.list(bad).await,
                Err(StorageError::InvalidPath { .. })
            ),
            "list({bad:?}) accepted"
        );
        assert!(
            matches!(
                backend.delete_prefix(bad).await,
                Err(StorageError::InvalidPath { .. })
            ),
            "delete_prefix({bad:?}) accepted"
        );
    }
}

/// append creates the object and grows it, returning the new size.
pub async fn append_grows_object<B: StorageBackend>(backend: &B) {
    assert_eq!(
        must(backend.append("u/data", &b"abc"[..]).await, "append"),
        3
    );
    assert_eq!(
        must(backend.append("u/data", &b"defg"[..]).await, "append"),
        7
    );
    assert_eq!(must(backend.get("u/data").await, "get"), b"abcdefg");
}

/// Many writers of the same key: afterwards the object is exactly one writer's content, and readers
/// during the race never see a mixture.
pub async fn concurrent_writers_last_wins<B: StorageBackend>(backend: Arc<B>) {
    const WRITERS: u8 = 8;
    const SIZE: usize = 256 * 1024;
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let backend = Arc::clone(&backend);
        tasks.spawn(async move {
            for _ in 0..4 {
                let content = vec![writer; SIZE];
                must(backend.put("race/object", &content).await, "concurrent put");
            }
        });
    }
    let reader_backend = Arc::clone(&backend);
    tasks.spawn(async move {
        for _ in 0..32 {
            if let Ok(bytes) = reader_backend.get("race/object").await {
                assert_eq!(bytes.len(), SIZE, "reader saw a partial object");
                assert!(
                    bytes.iter().all(|b| *b == bytes[0]),
                    "reader saw a torn object"
                );
            }
            tokio::task::yield_now().await;
        }
    });
    while let Some(joined) = tasks.join_next().await {
        if let Err(err) = joined {
            panic!("a concurrent task failed: {err}");
        }
    }
    let bytes = must(backend.get("race/object").await, "get after race");
    assert_eq!(bytes.len(), SIZE);
    assert!(
        bytes[0] < WRITERS && bytes.iter().all(|b| *b == bytes[0]),
        "torn object"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FsBackend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fs_backend_conforms() {
        let dirs = std::sync::Mutex::new(Vec::new());
        run_all(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let backend = FsBackend::new(dir.path().join("root"));
            dirs.lock().expect("lock").push(dir);
            backend
        })
        .await;
    }
}
