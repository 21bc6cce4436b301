//! Media types of the OCI image spec and Docker's schema 2, and what kind of document each names.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// What a media type names, as far as moving images around is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single-platform image manifest (OCI or Docker schema 2).
    Manifest,
    /// A multi-platform index (OCI index or Docker manifest list).
    Index,
    /// An image configuration.
    Config,
    /// A filesystem layer, compressed as [`LayerCompression`] says.
    Layer(LayerCompression),
    /// Anything else (artifacts, signatures, attestations): carried as opaque blobs.
    Other,
}

/// The compression a layer media type declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    None,
    Gzip,
    Zstd,
}

/// Classifies a media type.
pub fn kind(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        OCI_CONFIG | DOCKER_CONFIG => Kind::Config,
        OCI_LAYER | DOCKER_LAYER | OCI_LAYER_NONDISTRIBUTABLE => {
            Kind::Layer(LayerCompression::None)
        }
        OCI_LAYER_GZIP
        | DOCKER_LAYER_GZIP
        | DOCKER_FOREIGN_LAYER
        | OCI_LAYER_NONDISTRIBUTABLE_GZIP => Kind::Layer(LayerCompression::Gzip),
        OCI_LAYER_ZSTD => Kind::Layer(LayerCompression::Zstd),
        _ => Kind::Other,
    }
}

/// True for Docker's media types, whose documents must keep Docker's media types throughout.
pub fn is_docker(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.docker.")
}
