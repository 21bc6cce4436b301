//! `system df`: image counts and sizes, with each image's shared and unique bytes (a layer is shared when
//! more than one image uses it), as Docker's disk-usage endpoint computes them.

use std::collections::HashMap;

use hoist_spec::Digest;

use crate::list::ImageRow;
use crate::{Hoist, OpsError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub images: usize,
    /// Images used by containers (none until containers exist).
    pub active_images: usize,
    /// Bytes of all distinct layers.
    pub layers_size: u64,
    /// Rows for `-v`: one per tag, with shared and unique sizes.
    pub rows: Vec<ImageRow>,
}

pub fn disk_usage(hoist: &Hoist) -> Result<DiskUsage, OpsError> {
    let listings = hoist.store.list_images()?;
    let mut use_count: HashMap<(&Digest, &Digest), u64> = HashMap::new();
    let mut layer_size: HashMap<(&Digest, &Digest), u64> = HashMap::new();
    for l in &listings {
        for layer in &l.layers {
            *use_count.entry((&layer.diff_id, &layer.blob)).or_default() += 1;
            layer_size.insert((&layer.diff_id, &layer.blob), layer.size);
        }
    }
    let layers_size = layer_size.values().sum();
    let shared: HashMap<&Digest, u64> = listings
        .iter()
        .map(|l| {
            let bytes = l
                .layers
                .iter()
                .filter(|x| use_count[&(&x.diff_id, &x.blob)] > 1)
                .map(|x| x.size)
                .sum();
            (&l.id, bytes)
        })
        .collect();
    let mut rows = crate::list::list_images(
        hoist,
        &crate::list::ListOptions {
            all: true,
            ..Default::default()
        },
    )?;
    for row in &mut rows {
        row.shared_size = Some(shared.get(&row.id).copied().unwrap_or(0));
        row.containers = Some(0);
    }
    Ok(DiskUsage {
        images: listings.len(),
        active_images: 0,
        layers_size,
        rows,
    })
}
