//! Docker's certs.d for one host: `<dir>/<host[:port]>/*.crt` are extra CA roots (added to the system
//! roots), and each `*.cert` with its `*.key` is a client identity, with Docker's pairing rules.

use std::path::{Path, PathBuf};

use crate::error::RegistryError;

/// What certs.d holds for one host.
#[derive(Default)]
pub(crate) struct HostTrust {
    pub(crate) roots: Vec<reqwest::Certificate>,
    pub(crate) identity: Option<reqwest::Identity>,
}

impl std::fmt::Debug for HostTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTrust")
            .field("roots", &self.roots.len())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

/// Reads `<dir>/<host>/` in every directory of `dirs` (missing directories are fine).
pub(crate) fn load_host_trust(dirs: &[PathBuf], host: &str) -> Result<HostTrust, RegistryError> {
    let mut trust = HostTrust::default();
    // A host name never contains a path separator; refuse one rather than read elsewhere.
    if host.is_empty() || host.contains(['/', '\\']) || host == "." || host == ".." {
        return Ok(trust);
    }
    for dir in dirs {
        load_dir(&dir.join(host), host, &mut trust)?;
    }
    Ok(trust)
}

fn load_dir(dir: &Path, host: &str, trust: &mut HostTrust) -> Result<(), RegistryError> {
    let failure = |path: &Path, message: String| RegistryError::TlsFiles {
        host: host.to_owned(),
        path: path.display().to_string(),
        message,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(failure(dir, error.to_string())),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    // Go's os.ReadDir order, so that the first identity is Docker's first.
    names.sort();
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|error| failure(&path, error.to_string()))
    };
    for name in &names {
        if name.ends_with(".crt") {
            let path = dir.join(name);
            let certificates = reqwest::Certificate::from_pem_bundle(&read(name)?)
                .map_err(|error| failure(&path, error.to_string()))?;
            if certificates.is_empty() {
                tracing::warn!(path = %path.display(), "no PEM certificate in CA file; ignored");
            }
            trust.roots.extend(certificates);
        } else if let Some(stem) = name.strip_suffix(".cert") {
            let key_name = format!("{stem}.key");
            if !names.contains(&key_name) {
                return Err(failure(
                    &dir.join(name),
                    format!(
                        "missing key {key_name} for client certificate {name}; CA certificates must use the extension .crt"
                    ),
                ));
            }
            if trust.identity.is_some() {
                tracing::warn!(path = %dir.join(name).display(), "a client certificate is already in use; this one is ignored");
                continue;
            }
            let mut pem = read(name)?;
            pem.push(b'\n');
            pem.extend(read(&key_name)?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|error| failure(&dir.join(name), error.to_string()))?;
            trust.identity = Some(identity);
        } else if let Some(stem) = name.strip_suffix(".key") {
            let cert_name = format!("{stem}.cert");
            if !names.contains(&cert_name) {
                return Err(failure(
                    &dir.join(name),
                    format!("missing client certificate {cert_name} for key {name}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn missing_directories_mean_nothing_extra() {
        let temp = tempfile::tempdir().unwrap();
        let trust = load_host_trust(&[temp.path().join("absent")], "r.example:5000").unwrap();
        assert!(trust.roots.is_empty() && trust.identity.is_none());
    }

    #[test]
    fn keys_and_certificates_come_in_pairs() {
        let temp = tempfile::tempdir().unwrap();
        let host = temp.path().join("r.example");
        write(&host, "client.key", "not used");
        let error = load_host_trust(&[temp.path().to_owned()], "r.example").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("missing client certificate client.cert"),
            "{error}"
        );
        std::fs::remove_file(host.join("client.key")).unwrap();
        write(&host, "client.cert", "not used");
        let error = load_host_trust(&[temp.path().to_owned()], "r.example").unwrap_err();
        assert!(
            error.to_string().contains("missing key client.key"),
            "{error}"
        );
    }

    #[test]
    fn invalid_identity_is_reported_with_its_path() {
        let temp = tempfile::tempdir().unwrap();
        let host = temp.path().join("r.example");
        write(&host, "client.cert", "garbage");
        write(&host, "client.key", "garbage");
        let error = load_host_trust(&[temp.path().to_owned()], "r.example").unwrap_err();
        assert!(
            matches!(error, RegistryError::TlsFiles { ref path, .. } if path.ends_with("client.cert"))
        );
    }

    #[test]
    fn roots_and_a_client_identity_are_read() {
        let temp = tempfile::tempdir().unwrap();
        let host = temp.path().join("r.example:5000");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example".to_owned()]).unwrap();
        let client = rcgen::generate_simple_self_signed(vec!["client.example".to_owned()]).unwrap();
        write(&host, "ca.crt", &ca.cert.pem());
        write(&host, "client.cert", &client.cert.pem());
        write(&host, "client.key", &client.signing_key.serialize_pem());
        // A second directory adds its roots too.
        let other = temp.path().join("more");
        write(&other.join("r.example:5000"), "extra.crt", &ca.cert.pem());
        let trust = load_host_trust(&[temp.path().to_owned(), other], "r.example:5000").unwrap();
        assert_eq!(trust.roots.len(), 2);
        assert!(trust.identity.is_some());
        // Another host's directory is not consulted.
        let trust = load_host_trust(&[temp.path().to_owned()], "r.example").unwrap();
        assert!(trust.roots.is_empty() && trust.identity.is_none());
    }

    #[test]
    fn a_host_with_a_separator_reads_nothing() {
        let temp = tempfile::tempdir().unwrap();
        write(&temp.path().join("x"), "client.key", "x");
        let trust = load_host_trust(&[temp.path().join("x/..")], "../x").unwrap();
        assert!(trust.identity.is_none());
    }
}
