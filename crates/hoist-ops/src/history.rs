//! `history`: an image's history entries newest first, with layer sizes and the IDs of local parent
//! images, computed as Docker's `ImageHistory` does.

use hoist_spec::Digest;

use crate::{Hoist, OpsError, lookup};

/// One history row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The image (or local parent) this entry made, `None` shown as `<missing>`.
    pub id: Option<Digest>,
    /// Unix seconds.
    pub created: Option<i64>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub tags: Vec<String>,
}

pub fn history(hoist: &Hoist, input: &str) -> Result<Vec<HistoryItem>, OpsError> {
    let found = lookup::find_image(&hoist.store, input)?;
    let record = hoist
        .store
        .image(&found.id)?
        .ok_or_else(|| OpsError::NoSuchImage(input.to_owned()))?;
    let raw = crate::inspect::image_config(hoist, &found.id)?;
    let mut items = Vec::new();
    let mut layer = 0usize;
    for h in &raw.config.history {
        let mut size = 0;
        if !h.empty_layer {
            let Some(l) = record.layers.get(layer) else {
                return Err(OpsError::Damaged {
                    id: found.id.clone(),
                    message: "too many non-empty layers in History section".to_owned(),
                });
            };
            size = l.size;
            layer += 1;
        }
        items.push(HistoryItem {
            id: None,
            created: h
                .created
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp()),
            created_by: h.created_by.clone().unwrap_or_default(),
            size,
            comment: h.comment.clone().unwrap_or_default(),
            tags: Vec::new(),
        });
    }
    items.reverse();
    // The newest entry is the image itself; older ones are its local parents while they exist.
    let mut current = Some(found.id);
    for item in &mut items {
        let Some(id) = current.take() else { break };
        item.tags = hoist
            .store
            .tags_of(&id)?
            .iter()
            .map(|t| hoist_spec::reference::familiar_string(t))
            .collect();
        current = hoist.store.image(&id)?.and_then(|r| r.parent);
        item.id = Some(id);
    }
    Ok(items)
}
