//! Image configuration: the OCI config plus Docker's extra fields, parsed from bytes kept beside the value.
//!
//! oci-spec's config type drops Docker-only fields (Healthcheck, OnBuild, Shell, ArgsEscaped, container_config),
//! so hoist has its own superset; unknown keys are kept in `extra` so nothing is lost when hoist rewrites a config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;

/// The runtime defaults of an image (`config` in the image config JSON). Keys are Docker's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Keys this struct does not model (Hostname, Tty, Image, …), kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The root filesystem section: the diff IDs of the layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// One entry of the image history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image configuration (OCI `application/vnd.oci.image.config.v1+json` or Docker's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Keys this struct does not model, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A config with the exact bytes it was parsed from and their digest (the image ID).
#[derive(Debug, Clone, PartialEq)]
pub struct RawConfig {
    pub config: ImageConfig,
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

/// Why bytes are not an image config.
#[derive(Debug, thiserror::Error)]
#[error("malformed image config {digest}: {source}")]
pub struct ConfigError {
    pub digest: Digest,
    #[source]
    pub source: serde_json::Error,
}

impl RawConfig {
    pub fn parse(bytes: Vec<u8>) -> Result<Self, ConfigError> {
        let digest = Digest::of(&bytes);
        match serde_json::from_slice(&bytes) {
            Ok(config) => Ok(Self {
                config,
                digest,
                bytes,
            }),
            Err(source) => Err(ConfigError { digest, source }),
        }
    }

    /// Serialises a config hoist made itself and keeps the bytes.
    pub fn from_config(config: ImageConfig) -> Self {
        let bytes = crate::manifest::to_json_bytes(&config);
        Self {
            digest: Digest::of(&bytes),
            config,
            bytes,
        }
    }
}

impl ImageConfig {
    /// The image labels, empty when there are none.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Hostname":"x","Cmd":["sh"]},
            "rootfs":{"type":"layers","diff_ids":[]},"moby.buildkit.buildinfo.v1":"e30="}"#;
        let raw = RawConfig::parse(json.to_vec()).unwrap();
        let c = raw.config.config.as_ref().unwrap();
        assert_eq!(c.cmd.as_deref(), Some(&["sh".to_owned()][..]));
        assert_eq!(c.extra.get("Hostname"), Some(&Value::from("x")));
        assert!(raw.config.extra.contains_key("moby.buildkit.buildinfo.v1"));
        let again: Value =
            serde_json::from_slice(&crate::manifest::to_json_bytes(&raw.config)).unwrap();
        assert_eq!(again["moby.buildkit.buildinfo.v1"], "e30=");
        assert_eq!(again["config"]["Hostname"], "x");
    }

    #[test]
    fn rejects_missing_rootfs() {
        let e = RawConfig::parse(br#"{"architecture":"amd64"}"#.to_vec()).unwrap_err();
        assert!(e.to_string().contains("rootfs"), "{e}");
    }
}
