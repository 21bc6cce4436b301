//! `--squash`: the final stage's own layers merged into one above its base image's layers, as Docker's
//! `--squash` does. The layers are applied in order onto an empty directory in overlay form (so deletions
//! of base files stay as whiteouts), which is then written as one layer diff.

use std::io::BufReader;

use hoist_layer::{ApplyOptions, LayerDigestReader, WhiteoutMode, apply_layer};

use crate::error::{BuildError, io_error};
use crate::executor::Builder;
use crate::state::ImageState;

pub(crate) fn squash(builder: &Builder<'_>, state: &mut ImageState) -> Result<(), BuildError> {
    let store = builder.store;
    let workspace = store.new_layer_workspace()?;
    let fs_dir = workspace.path().join("fs");
    std::fs::create_dir(&fs_dir).map_err(io_error("create directory", &fs_dir))?;
    let options = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay,
        ..ApplyOptions::for_current_process()
    };
    for layer in &state.layers[state.base_layers..] {
        let blob = store.open_blob(&layer.blob)?;
        let mut reader = LayerDigestReader::new(BufReader::new(blob))
            .map_err(io_error("read layer", &store.blob_path(&layer.blob)))?;
        apply_layer(&mut reader, &fs_dir, &options).map_err(|e| {
            BuildError::Layer(format!("cannot squash layer {}: {e}", layer.diff_id))
        })?;
    }
    let pending = crate::layers::tar_overlay_diff(store, &fs_dir)?;
    let layer = pending.record.clone();
    let guard = store.write_guard()?;
    pending
        .pending
        .commit(Some(&layer.blob), Some(layer.blob_size))?;
    drop(guard);
    state.layers.truncate(state.base_layers);
    state.image.rootfs.diff_ids.truncate(state.base_layers);
    state.push_layer(layer);
    // The history keeps its entries; all but the last of this stage's now have no layer of their own.
    let mut seen_layers = 0;
    let last = state.image.history.len().saturating_sub(1);
    for entry in &mut state.image.history {
        if entry.empty_layer {
            continue;
        }
        seen_layers += 1;
        if seen_layers > state.base_layers {
            entry.empty_layer = true;
        }
    }
    if let Some(entry) = state.image.history.get_mut(last) {
        entry.empty_layer = false;
    }
    Ok(())
}
