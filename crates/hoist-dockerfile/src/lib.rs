//! Dockerfiles as data: BuildKit's parser (directives, comments, continuations, heredocs, flags, JSON and
//! shell forms) into typed instructions grouped by stage, each with its source span; BuildKit's shell-word
//! expander for `$VAR`/`${VAR...}`; and `.dockerignore` patterns with Docker's matching rules.
//!
//! Nothing here reads files or the environment: callers pass text in and get data or a [`Diagnostic`]
//! (line and column, 1-based) back.

pub mod ast;
pub mod check;
pub mod expand;
pub mod ignore;
pub mod parser;

pub use ast::*;
pub use expand::{ExpandError, Expanded, Expander};
pub use ignore::{IgnoreError, IgnorePatterns};
pub use parser::go::quote as go_quote;
pub use parser::parse;
