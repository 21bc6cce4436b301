//! `save` and `load`: choosing what to save from the names given (a bare repository means all its tags, an
//! ID means no names) and handing the store to the archive reader and writer.

use std::fs::File;
use std::io::Read;

use hoist_archive::{LoadEvent, LoadedImage, SaveEvent, SaveImage};
use hoist_spec::Reference;

use crate::lookup::{self, Named};
use crate::{Hoist, OpsError};

/// Resolves `save` arguments the way `docker save` does, merging repeats of one image.
pub fn resolve_save_args(hoist: &Hoist, names: &[String]) -> Result<Vec<SaveImage>, OpsError> {
    let mut out: Vec<SaveImage> = Vec::new();
    let mut add = |id: hoist_spec::Digest, tag: Option<Reference>, manifest: hoist_spec::Digest| {
        if let Some(existing) = out.iter_mut().find(|s| s.id == id) {
            if let Some(t) = tag
                && !existing.tags.contains(&t)
            {
                existing.tags.push(t);
            }
        } else {
            out.push(SaveImage {
                id,
                manifest,
                tags: tag.into_iter().collect(),
            });
        }
    };
    for name in names {
        // A bare repository name (no tag, no digest) saves every tag of that repository.
        if let Ok(r) = Reference::parse_normalized(name)
            && r.tag().is_none()
            && r.digest().is_none()
        {
            let repo = r.repository();
            let mut matched = false;
            for listing in hoist.store.list_images()? {
                for t in &listing.tags {
                    if let Ok(tr) = Reference::parse(t)
                        && tr.repository() == repo
                    {
                        add(listing.id.clone(), Some(tr), listing.manifest.clone());
                        matched = true;
                    }
                }
            }
            if matched {
                continue;
            }
        }
        let found = lookup::find_image(&hoist.store, name)?;
        let record = hoist
            .store
            .image(&found.id)?
            .ok_or_else(|| OpsError::NoSuchImage(name.clone()))?;
        let tag = match found.named {
            Named::Tag(r) => Some(r),
            Named::Digest(_) | Named::Id => None,
        };
        add(found.id, tag, record.manifest);
    }
    Ok(out)
}

/// Writes the images to `out` as a docker-archive with an OCI layout inside.
pub fn save(
    hoist: &Hoist,
    images: &[SaveImage],
    out: &mut File,
    progress: &mut dyn FnMut(SaveEvent),
) -> Result<(), OpsError> {
    Ok(hoist_archive::save(&hoist.store, images, out, progress)?)
}

/// Loads every image in the archive read from `input`.
pub fn load(
    hoist: &Hoist,
    input: impl Read,
    progress: &mut dyn FnMut(LoadEvent),
) -> Result<Vec<LoadedImage>, OpsError> {
    Ok(hoist_archive::load(&hoist.store, input, progress)?)
}
