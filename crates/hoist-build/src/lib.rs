//! The image builder: a Dockerfile (parsed by `hoist-dockerfile`) and a build context in, an image in the
//! store out. Daemonless: RUN steps run on hoist's own runtime over the store's snapshots; every step's
//! result is a layer in the store, found again by a content-derived cache key.
//!
//! Calls go down only: [`build`] (`executor`) → `run` / `copy` / `squash` → `layers` (directories into
//! stored layers) and `rootview` (reading a stage's filesystem from its unpacked layers) → the store and
//! the runtime. Base images come through the [`BaseImages`] trait the operations layer implements (the
//! store, or a pull). Nothing here prints: progress is [`BuildEvent`]s.

pub mod cache_io;
pub mod context;
mod copy;
mod error;
mod executor;
mod layers;
mod options;
mod rootview;
mod run;
mod squash;
mod state;

pub use context::{BuildContext, ContextError, ContextSource};
pub use error::BuildError;
pub use executor::{Progress, build};
pub use options::{BaseImages, BuildEvent, BuildOptions, BuildResult, NamedContext};
