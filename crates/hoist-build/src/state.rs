//! A stage's image as it is being built: the config, the layers so far, the history, and the identity of
//! its filesystem that cache keys start from.

use std::collections::BTreeMap;

use hoist_spec::{ContainerConfig, Digest, History, ImageConfig, Platform, RootFs};
use hoist_store::{LayerRecord, chain_ids};

/// Linux's default PATH, which BuildKit gives a stage that starts from `scratch`.
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
pub(crate) struct ImageState {
    pub(crate) image: ImageConfig,
    pub(crate) layers: Vec<LayerRecord>,
    pub(crate) platform: Platform,
    /// ARGs declared in this stage so far, with their values (None: declared without a value).
    pub(crate) args: BTreeMap<String, Option<String>>,
    /// The same names in the order they were first declared (RUN's history lists them so).
    pub(crate) arg_order: Vec<String>,
    /// Whether CMD was set by this stage (ENTRYPOINT then keeps it).
    pub(crate) cmd_set: bool,
    /// How many layers came from the base image (for `--squash`).
    pub(crate) base_layers: usize,
    /// The time the latest step's result was made (RFC 3339): now for a step that ran, the cache
    /// record's time for a hit, so a fully cached rebuild gives the same image ID, as BuildKit's does.
    pub(crate) time: String,
}

impl ImageState {
    /// A stage `FROM scratch`.
    pub(crate) fn scratch(platform: &Platform) -> Self {
        let config = ContainerConfig {
            env: Some(vec![DEFAULT_PATH.to_owned()]),
            working_dir: Some("/".to_owned()),
            ..ContainerConfig::default()
        };
        let image = ImageConfig {
            created: None,
            author: None,
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            os_version: None,
            variant: platform.variant.clone(),
            config: Some(config),
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: Vec::new(),
            },
            history: Vec::new(),
            comment: None,
            container: None,
            container_config: None,
            docker_version: None,
            extra: Default::default(),
        };
        Self {
            image,
            layers: Vec::new(),
            platform: platform.clone(),
            args: BTreeMap::new(),
            arg_order: Vec::new(),
            cmd_set: false,
            base_layers: 0,
            time: "1970-01-01T00:00:00Z".to_owned(),
        }
    }

    /// A stage from a stored image's config and layers.
    pub(crate) fn from_image(mut image: ImageConfig, layers: Vec<LayerRecord>) -> Self {
        let platform = Platform {
            architecture: image.architecture.clone(),
            os: image.os.clone(),
            os_version: image.os_version.clone(),
            os_features: Vec::new(),
            variant: image.variant.clone(),
        };
        // Builders do not carry these over from the base.
        image.container = None;
        image.container_config = None;
        image.docker_version = None;
        image.comment = None;
        image.author = None;
        let config = image.config.get_or_insert_with(ContainerConfig::default);
        config.extra.remove("Image");
        config.extra.remove("Hostname");
        let base_layers = layers.len();
        let time = image
            .created
            .clone()
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
        Self {
            time,
            image,
            layers,
            platform,
            args: BTreeMap::new(),
            arg_order: Vec::new(),
            cmd_set: false,
            base_layers,
        }
    }

    /// Declares (or re-declares) an ARG.
    pub(crate) fn declare_arg(&mut self, name: &str, value: Option<String>) {
        if !self.args.contains_key(name) {
            self.arg_order.push(name.to_owned());
        }
        self.args.insert(name.to_owned(), value);
    }

    pub(crate) fn config(&self) -> &ContainerConfig {
        // `from_image` and `scratch` always set it.
        static EMPTY: std::sync::OnceLock<ContainerConfig> = std::sync::OnceLock::new();
        self.image
            .config
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(ContainerConfig::default))
    }

    pub(crate) fn config_mut(&mut self) -> &mut ContainerConfig {
        self.image
            .config
            .get_or_insert_with(ContainerConfig::default)
    }

    /// The identity of the filesystem: the chain ID of the layers, or a fixed digest for an empty root.
    pub(crate) fn fs_key(&self) -> Digest {
        let diff_ids: Vec<Digest> = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        chain_ids(&diff_ids)
            .pop()
            .unwrap_or_else(|| Digest::of(b"hoist-build scratch"))
    }

    /// The chain ID the stack would have with `layer` on top.
    pub(crate) fn chain_with(&self, layer: &LayerRecord) -> Digest {
        let mut diff_ids: Vec<Digest> = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        diff_ids.push(layer.diff_id.clone());
        chain_ids(&diff_ids)
            .pop()
            .unwrap_or_else(|| layer.diff_id.clone())
    }

    pub(crate) fn push_layer(&mut self, layer: LayerRecord) {
        self.image.rootfs.diff_ids.push(layer.diff_id.clone());
        self.layers.push(layer);
    }

    pub(crate) fn push_history(&mut self, created_by: String, empty_layer: bool) {
        self.image.history.push(History {
            created: Some(self.time.clone()),
            created_by: Some(created_by),
            author: None,
            comment: Some("buildkit.dockerfile.v0".to_owned()),
            empty_layer,
        });
    }

    /// The value of environment variable `key` in the image config.
    pub(crate) fn env_value(&self, key: &str) -> Option<String> {
        self.config().env.as_ref().and_then(|env| {
            env.iter().find_map(|entry| {
                let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
                (k == key).then(|| v.to_owned())
            })
        })
    }

    /// Sets `key=value` in the image's Env, replacing an earlier value in place.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config_mut().env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }

    pub(crate) fn workdir(&self) -> String {
        self.config()
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_owned())
    }

    pub(crate) fn user(&self) -> String {
        self.config().user.clone().unwrap_or_default()
    }

    pub(crate) fn shell(&self) -> Vec<String> {
        self.config()
            .shell
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()])
    }
}
