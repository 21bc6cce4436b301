//! Finding an image from what a user typed: a name, a name:tag, a repo@digest, a full ID or an ID prefix,
//! with the precedence and error messages of Docker's `GetImage`.

use hoist_spec::{Digest, Reference};
use hoist_store::Store;

use crate::OpsError;

/// How the user named an image; `rmi` behaves differently for names and IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// By tag (`nginx`, `nginx:1.2`), normalised with `:latest` when untagged.
    Tag(Reference),
    /// By repository digest (`nginx@sha256:…`).
    Digest(Reference),
    /// By image ID or a prefix of it.
    Id,
}

/// A resolved image and how it was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: Digest,
    pub named: Named,
}

/// Lowercase hex, as IDs and ID prefixes are written.
pub(crate) fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Resolves `input` to an image, as `docker image inspect`, `rmi`, `tag`, `save` and `history` do.
pub fn find_image(store: &Store, input: &str) -> Result<Found, OpsError> {
    let not_found = |shown: String| OpsError::NoSuchImage(shown);
    // A full ID, with or without the algorithm.
    let full_id = input.strip_prefix("sha256:").unwrap_or(input);
    if full_id.len() == 64 && is_hex(full_id) {
        let id = Digest::from_hex(full_id).map_err(|_| not_found(input.to_owned()))?;
        return match store.image(&id)? {
            Some(_) => Ok(Found {
                id,
                named: Named::Id,
            }),
            None => Err(not_found(input.to_owned())),
        };
    }
    if input.starts_with("sha256:") {
        return find_by_prefix(store, input, full_id);
    }
    let reference = match Reference::parse_normalized(input) {
        Ok(r) => r,
        // Not a name; it may still be a short ID (they cannot be names when they look like 64 hex).
        Err(e) if !is_hex(input) => return Err(OpsError::InvalidReference(e.to_string())),
        Err(_) => return find_by_prefix(store, input, input),
    };
    if reference.digest().is_some() {
        let digest = reference
            .digest()
            .cloned()
            .unwrap_or_else(|| Digest::of(b""));
        if let Some(id) = store.resolve_repo_digest(&reference.repository(), &digest)? {
            return Ok(Found {
                id,
                named: Named::Digest(reference),
            });
        }
        return Err(not_found(reference.familiar()));
    }
    let tagged = reference.with_default_tag();
    if let Some(id) = store.tag_target(&tagged.to_string())? {
        return Ok(Found {
            id,
            named: Named::Tag(tagged),
        });
    }
    if is_hex(input) {
        return find_by_prefix(store, input, input).map_err(|e| match e {
            OpsError::NoSuchImage(_) => not_found(tagged.familiar()),
            other => other,
        });
    }
    Err(not_found(tagged.familiar()))
}

fn find_by_prefix(store: &Store, input: &str, prefix: &str) -> Result<Found, OpsError> {
    if !is_hex(prefix) {
        return Err(OpsError::NoSuchImage(input.to_owned()));
    }
    let matches = store.find_by_id_prefix(prefix)?;
    match matches.as_slice() {
        [id] => Ok(Found {
            id: id.clone(),
            named: Named::Id,
        }),
        [] => Err(OpsError::NoSuchImage(input.to_owned())),
        _ => Err(OpsError::InvalidReference(format!(
            "ambiguous image ID prefix {input:?}: {} images match",
            matches.len()
        ))),
    }
}

/// Whether `input` names the image by (a prefix of) its ID, as Docker's `isImageIDPrefix` decides.
pub fn is_id_prefix(id: &Digest, input: &str) -> bool {
    let s = input.strip_prefix("sha256:").unwrap_or(input);
    !s.is_empty() && id.hex().starts_with(s)
}
