//! Finding the container's command the way runc does (Go's `exec.LookPath` with the container's `PATH`),
//! so a missing or unusable command fails before exec with Docker's message and exit code.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{AccessFlags, access};

use crate::error::{StartFailure, errno_text, io_error_text};

/// Why one candidate path cannot be executed.
enum Unusable {
    Stat(std::io::Error),
    Directory,
    NotExecutable,
}

/// Go's `findExecutable`: exists, is not a directory, and is executable for the current (already
/// switched) user.
fn check_executable(path: &Path) -> Result<(), Unusable> {
    let metadata = std::fs::metadata(path).map_err(Unusable::Stat)?;
    if metadata.is_dir() {
        return Err(Unusable::Directory);
    }
    match access(path, AccessFlags::X_OK) {
        Ok(()) => Ok(()),
        Err(Errno::EACCES | Errno::EPERM) => Err(Unusable::NotExecutable),
        Err(errno) => Err(Unusable::Stat(std::io::Error::from(errno))),
    }
}

/// The `PATH` value of a `KEY=VALUE` environment (the last one wins, as in execve's consumers).
pub(crate) fn path_variable(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|entry| entry.strip_prefix("PATH="))
        .unwrap_or("")
}

/// Resolves `command` (argv[0]): a name containing `/` is used as is, any other is searched in the
/// absolute directories of `path_variable`.
pub(crate) fn find_executable(command: &str, path_variable: &str) -> Result<PathBuf, StartFailure> {
    if command.contains('/') {
        return match check_executable(Path::new(command)) {
            Ok(()) => Ok(PathBuf::from(command)),
            Err(Unusable::Stat(error)) => Err(StartFailure::CommandStat {
                path: command.into(),
                reason: io_error_text(&error),
            }),
            Err(Unusable::Directory) => Err(StartFailure::IsDirectory {
                path: command.into(),
            }),
            Err(Unusable::NotExecutable) => Err(StartFailure::NotExecutable {
                path: command.into(),
            }),
        };
    }
    // Go refuses commands found through relative PATH entries, so they are not searched.
    path_variable
        .split(':')
        .map(Path::new)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(command))
        .find(|candidate| check_executable(candidate).is_ok())
        .ok_or_else(|| StartFailure::CommandNotFound {
            command: command.into(),
        })
}

/// The failure for an execve that returned `error`.
pub(crate) fn exec_failure(path: &Path, error: &std::io::Error) -> StartFailure {
    StartFailure::Exec {
        path: path.display().to_string(),
        reason: match error.raw_os_error() {
            Some(code) => errno_text(Errno::from_raw(code)),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn lookup_follows_go_rules() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = bin.join("data");
        std::fs::write(&data, "x").unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = format!("relative:{}", bin.display());

        assert_eq!(find_executable("tool", &path).unwrap(), tool);
        assert_eq!(
            find_executable("data", &path).unwrap_err(),
            StartFailure::CommandNotFound {
                command: "data".into()
            }
        );
        assert!(find_executable("tool", "relative").is_err());
        let data_path = data.display().to_string();
        assert_eq!(
            find_executable(&data_path, &path).unwrap_err().to_string(),
            format!("exec: \"{data_path}\": permission denied")
        );
        let missing = bin.join("missing").display().to_string();
        assert_eq!(
            find_executable(&missing, &path).unwrap_err().to_string(),
            format!("exec: \"{missing}\": stat {missing}: no such file or directory")
        );
        let bin_path = bin.display().to_string();
        assert_eq!(
            find_executable(&bin_path, &path).unwrap_err().exit_code(),
            126
        );
    }

    #[test]
    fn path_comes_from_the_container_env() {
        let env = vec!["A=1".to_string(), "PATH=/bin:/usr/bin".to_string()];
        assert_eq!(path_variable(&env), "/bin:/usr/bin");
        assert_eq!(path_variable(&[]), "");
    }
}
