//! `system df`: image counts and sizes, with each image's shared and unique bytes (a layer is shared when
//! more than one image uses it), as Docker's disk-usage endpoint computes them.

use std::collections::HashMap;

use hoist_spec::Digest;

use crate::list::ImageRow;
use crate::{Hoist, OpsError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub images: usize,
    /// Images used by containers.
    pub active_images: usize,
    pub containers: usize,
    pub running_containers: usize,
    /// Bytes in the containers' writable layers, and in those of stopped ones.
    pub containers_size: u64,
    pub containers_reclaimable: u64,
    /// Bytes of all distinct layers.
    pub layers_size: u64,
    /// Bytes of the layers no image in use by a container has.
    pub images_reclaimable: u64,
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
    let mut users: HashMap<Digest, u64> = HashMap::new();
    let mut usage = DiskUsage::default();
    for record in hoist.store.list_containers()? {
        let container = crate::container::Container::from_record(record)?;
        *users.entry(container.image.clone()).or_default() += 1;
        let (rw, _) = hoist.store.container_sizes(&container.id).unwrap_or((0, 0));
        usage.containers += 1;
        usage.containers_size += rw;
        if container.is_running() {
            usage.running_containers += 1;
        } else {
            usage.containers_reclaimable += rw;
        }
    }
    for row in &mut rows {
        row.shared_size = Some(shared.get(&row.id).copied().unwrap_or(0));
        row.containers = Some(users.get(&row.id).copied().unwrap_or(0));
    }
    usage.active_images = listings
        .iter()
        .filter(|l| users.contains_key(&l.id))
        .count();
    let in_use: std::collections::HashSet<(&Digest, &Digest)> = listings
        .iter()
        .filter(|l| users.contains_key(&l.id))
        .flat_map(|l| l.layers.iter().map(|x| (&x.diff_id, &x.blob)))
        .collect();
    usage.images_reclaimable = layer_size
        .iter()
        .filter(|(k, _)| !in_use.contains(*k))
        .map(|(_, size)| *size)
        .sum();
    Ok(DiskUsage {
        images: listings.len(),
        layers_size,
        rows,
        ..usage
    })
}
