//! Integration tests of the registry client against hoist's own registry server and small test
//! servers (fronts, a token service, a TCP relay), all on 127.0.0.1.

mod auth;
mod content;
mod endpoints;
mod resilience;
mod support;
mod tls;
