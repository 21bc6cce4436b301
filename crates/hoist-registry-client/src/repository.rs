//! One repository of a registry: manifests (get by tag or digest with verification, head, put,
//! delete), tags with pagination, and referrers (the API, or the `sha256-<hex>` tag schema).
//! Blob reads are in `blob`, uploads in `upload`.

use std::fmt;

use bytes::Bytes;
use hoist_spec::{Descriptor, Digest, ImageIndex, Reference, media_type};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::auth::scope::Scopes;
use crate::client::{
    Call, RegistryClient, Target, content_length, header_str, invalid, read_limited, unexpected,
};
use crate::endpoint::Route;
use crate::error::RegistryError;

/// Largest manifest accepted, as distribution limits it.
pub const MANIFEST_SIZE_LIMIT: u64 = 4 * 1024 * 1024;

/// The manifest media types asked for when the caller names none: every current kind, never schema 1.
pub const DEFAULT_MANIFEST_ACCEPT: &[&str] = &[
    media_type::OCI_INDEX,
    media_type::DOCKER_MANIFEST_LIST,
    media_type::OCI_MANIFEST,
    media_type::DOCKER_MANIFEST,
];

pub(crate) const CONTENT_DIGEST: &str = "docker-content-digest";

/// A manifest named by tag or by digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManifestRef {
    Tag(String),
    Digest(Digest),
}

impl ManifestRef {
    /// The digest of a reference if it has one, else its tag, else `latest`.
    pub fn of(reference: &Reference) -> Self {
        match (reference.digest(), reference.tag()) {
            (Some(digest), _) => Self::Digest(digest.clone()),
            (None, Some(tag)) => Self::Tag(tag.to_owned()),
            (None, None) => Self::Tag(hoist_spec::reference::DEFAULT_TAG.to_owned()),
        }
    }

    pub fn tag(tag: impl Into<String>) -> Self {
        Self::Tag(tag.into())
    }
}

impl From<Digest> for ManifestRef {
    fn from(digest: Digest) -> Self {
        Self::Digest(digest)
    }
}

impl From<&Digest> for ManifestRef {
    fn from(digest: &Digest) -> Self {
        Self::Digest(digest.clone())
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(tag) => f.write_str(tag),
            Self::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

/// A manifest as the registry sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The exact bytes received.
    pub bytes: Vec<u8>,
    /// The `Content-Type` (or the document's own `mediaType` when the header says nothing useful).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

/// What a manifest HEAD tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// Manifests that refer to a subject (signatures, SBOMs, attestations), as an OCI index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrers {
    pub index: ImageIndex,
    /// The index's bytes: the registry's, or re-serialised when hoist filtered by artifact type itself.
    pub bytes: Vec<u8>,
    /// True when the registry has no referrers API and the `sha256-<hex>` tag was read instead.
    pub from_tag_schema: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestProbe {
    schema_version: Option<u64>,
    media_type: Option<String>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// A handle on one repository; cheap to clone.
#[derive(Debug, Clone)]
pub struct Repository {
    pub(crate) client: RegistryClient,
    registry: String,
    path: String,
}

impl Repository {
    pub(crate) fn new(client: RegistryClient, registry: String, path: String) -> Self {
        Self {
            client,
            registry,
            path,
        }
    }

    /// The registry (`docker.io`, `host:port`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn target(&self) -> Target<'_> {
        Target {
            registry: &self.registry,
            repository: Some(&self.path),
        }
    }

    pub(crate) fn pull_scopes(&self) -> Scopes {
        Scopes::repository(&self.path, &["pull"])
    }

    pub(crate) fn push_scopes(&self) -> Scopes {
        Scopes::repository(&self.path, &["pull", "push"])
    }

    /// Fetches a manifest (mirrors first). `accept` lists media types; empty means
    /// [`DEFAULT_MANIFEST_ACCEPT`]. The digest is computed over the received bytes and must match the
    /// digest asked for and the registry's `Docker-Content-Digest`; schema 1 is refused.
    pub async fn get_manifest(
        &self,
        reference: &ManifestRef,
        accept: &[&str],
    ) -> Result<FetchedManifest, RegistryError> {
        let target = self.target();
        let call = self.manifest_call(Method::GET, reference, accept);
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        if response.status() != StatusCode::OK {
            return Err(unexpected(target, &call.method, response).await);
        }
        let headers = response.headers().clone();
        let too_large = || RegistryError::ManifestTooLarge {
            registry: self.registry.clone(),
            repository: self.path.clone(),
            reference: reference.to_string(),
            limit: MANIFEST_SIZE_LIMIT,
        };
        let bytes = read_limited(target, &call.method, response, MANIFEST_SIZE_LIMIT)
            .await?
            .ok_or_else(too_large)?;
        let digest = Digest::of(&bytes);
        if let ManifestRef::Digest(expected) = reference
            && *expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                registry: self.registry.clone(),
                repository: self.path.clone(),
                what: "manifest",
                expected: expected.clone(),
                found: digest,
            });
        }
        self.check_content_digest(&headers, &digest)?;
        let probe = serde_json::from_slice::<ManifestProbe>(&bytes).ok();
        let content_type = header_str(&headers, CONTENT_TYPE)
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .filter(|v| {
                !v.is_empty()
                    && v != "application/json"
                    && v != "application/octet-stream"
                    && v != "text/plain"
            });
        let media_type = content_type
            .or_else(|| probe.as_ref().and_then(|p| p.media_type.clone()))
            .unwrap_or_default();
        let schema1 = probe.as_ref().and_then(|p| p.schema_version) == Some(1)
            || media_type == media_type::DOCKER_MANIFEST_V1
            || media_type == media_type::DOCKER_MANIFEST_V1_SIGNED;
        if schema1 {
            return Err(RegistryError::SchemaV1 {
                registry: self.registry.clone(),
                repository: self.path.clone(),
                reference: reference.to_string(),
                media_type: if media_type.is_empty() {
                    media_type::DOCKER_MANIFEST_V1_SIGNED.to_owned()
                } else {
                    media_type
                },
            });
        }
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// A GET or HEAD of a manifest with its Accept list (`accept`, or [`DEFAULT_MANIFEST_ACCEPT`] when
    /// empty).
    fn manifest_call(&self, method: Method, reference: &ManifestRef, accept: &[&str]) -> Call {
        let mut call = Call::new(
            Route::Read,
            self.pull_scopes(),
            method,
            format!("/v2/{}/manifests/{reference}", self.path),
        );
        let accept = if accept.is_empty() {
            DEFAULT_MANIFEST_ACCEPT
        } else {
            accept
        };
        for media_type in accept {
            call = call.header(ACCEPT, media_type);
        }
        call
    }

    /// The registry's `Docker-Content-Digest`, when it sent a sha256 one, must be `computed`.
    pub(crate) fn check_content_digest(
        &self,
        headers: &reqwest::header::HeaderMap,
        computed: &Digest,
    ) -> Result<(), RegistryError> {
        let Some(announced) = header_str(headers, CONTENT_DIGEST).map(str::trim) else {
            return Ok(());
        };
        match announced.parse::<Digest>() {
            Ok(parsed) if parsed == *computed => Ok(()),
            Ok(_) => Err(RegistryError::HeaderDigestMismatch {
                registry: self.registry.clone(),
                repository: self.path.clone(),
                header: announced.to_owned(),
                computed: computed.clone(),
            }),
            // Another algorithm (sha512): nothing hoist can compare.
            Err(_) => Ok(()),
        }
    }

    /// A manifest's digest, media type and size without its body (mirrors first); `None` when the
    /// registry does not have it. Falls back to a GET when the registry sends no digest header.
    pub async fn head_manifest(
        &self,
        reference: &ManifestRef,
        accept: &[&str],
    ) -> Result<Option<ManifestInfo>, RegistryError> {
        let target = self.target();
        let call = self.manifest_call(Method::HEAD, reference, accept);
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(unexpected(target, &call.method, response).await),
        }
        let headers = response.headers();
        let media_type = header_str(headers, CONTENT_TYPE)
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let announced = header_str(headers, CONTENT_DIGEST).and_then(|d| d.trim().parse().ok());
        let digest = match (announced, reference) {
            (Some(digest), _) => digest,
            (None, ManifestRef::Digest(digest)) => digest.clone(),
            (None, ManifestRef::Tag(_)) => {
                let fetched = self.get_manifest(reference, accept).await?;
                return Ok(Some(ManifestInfo {
                    size: fetched.bytes.len() as u64,
                    digest: fetched.digest,
                    media_type: fetched.media_type,
                }));
            }
        };
        let size = content_length(headers).ok_or_else(|| {
            invalid(
                target,
                response.url().as_str(),
                "the manifest HEAD has no Content-Length",
            )
        })?;
        Ok(Some(ManifestInfo {
            digest,
            media_type,
            size,
        }))
    }

    /// Uploads a manifest under a tag or its digest and returns its digest (computed here, and
    /// checked against the registry's `Docker-Content-Digest`).
    pub async fn put_manifest(
        &self,
        reference: &ManifestRef,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let target = self.target();
        let digest = Digest::of(bytes);
        if let ManifestRef::Digest(expected) = reference
            && *expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                registry: self.registry.clone(),
                repository: self.path.clone(),
                what: "manifest",
                expected: expected.clone(),
                found: digest,
            });
        }
        let call = Call::new(
            Route::Write,
            self.push_scopes(),
            Method::PUT,
            format!("/v2/{}/manifests/{reference}", self.path),
        )
        .header(CONTENT_TYPE, media_type)
        .body(Bytes::copy_from_slice(bytes));
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        if !response.status().is_success() {
            return Err(unexpected(target, &call.method, response).await);
        }
        self.check_content_digest(response.headers(), &digest)?;
        Ok(digest)
    }

    /// Deletes a manifest by digest (the registry must allow deletes).
    pub async fn delete_manifest(&self, digest: &Digest) -> Result<(), RegistryError> {
        let target = self.target();
        let call = Call::new(
            Route::Write,
            Scopes::repository(&self.path, &["delete"]).union(&self.push_scopes()),
            Method::DELETE,
            format!("/v2/{}/manifests/{digest}", self.path),
        );
        let exchange = self.client.execute(target, &call).await?;
        if exchange.response.status().is_success() {
            Ok(())
        } else {
            Err(unexpected(target, &call.method, exchange.response).await)
        }
    }

    /// Every tag (mirrors first, then the origin), following `Link` pages of `page_size` tags.
    pub async fn tags(&self, page_size: Option<usize>) -> Result<Vec<String>, RegistryError> {
        self.client
            .list_pages(
                self.target(),
                self.tags_call(page_size),
                |page: TagsPage| page.tags.unwrap_or_default(),
            )
            .await
    }

    /// The first page of the tag list: a read, so it follows the mirrors as pulls do.
    pub(crate) fn tags_call(&self, page_size: Option<usize>) -> Call {
        let path = match page_size {
            Some(n) => format!("/v2/{}/tags/list?n={n}", self.path),
            None => format!("/v2/{}/tags/list", self.path),
        };
        Call::new(Route::Read, self.pull_scopes(), Method::GET, path)
    }

    /// The manifests that name `subject` as their subject, optionally only those of one artifact
    /// type. Registries without the referrers API (404) are read through the `sha256-<hex>` tag;
    /// nothing there means an empty index.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers, RegistryError> {
        let target = self.target();
        let mut path = format!("/v2/{}/referrers/{subject}", self.path);
        if let Some(artifact_type) = artifact_type {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("artifactType", artifact_type);
            path.push('?');
            path.push_str(&query.finish());
        }
        let call = Call::new(Route::Read, self.pull_scopes(), Method::GET, path)
            .header(ACCEPT, media_type::OCI_INDEX);
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        let (bytes, filtered, from_tag_schema) = match response.status() {
            StatusCode::OK => {
                let filtered = header_str(response.headers(), "oci-filters-applied")
                    .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
                let url = response.url().to_string();
                let bytes = read_limited(target, &call.method, response, MANIFEST_SIZE_LIMIT)
                    .await?
                    .ok_or_else(|| invalid(target, &url, "the referrers index is too large"))?;
                (bytes, filtered, false)
            }
            StatusCode::NOT_FOUND => {
                let tag = ManifestRef::Tag(format!("sha256-{}", subject.hex()));
                match self.get_manifest(&tag, &[media_type::OCI_INDEX]).await {
                    Ok(fetched) => (fetched.bytes, false, true),
                    Err(error) if error.is_not_found() => {
                        let index = empty_index();
                        let bytes = hoist_spec::manifest::to_json_bytes(&index);
                        return Ok(Referrers {
                            index,
                            bytes,
                            from_tag_schema: true,
                        });
                    }
                    Err(error) => return Err(error),
                }
            }
            _ => return Err(unexpected(target, &call.method, response).await),
        };
        let mut index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| {
            invalid(
                target,
                &format!("referrers of {subject}"),
                &format!("not an OCI index: {e}"),
            )
        })?;
        let (index, bytes) = match artifact_type {
            Some(wanted) if !filtered => {
                index
                    .manifests
                    .retain(|d: &Descriptor| d.artifact_type.as_deref() == Some(wanted));
                let bytes = hoist_spec::manifest::to_json_bytes(&index);
                (index, bytes)
            }
            _ => (index, bytes),
        };
        Ok(Referrers {
            index,
            bytes,
            from_tag_schema,
        })
    }
}

fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: Default::default(),
    }
}
