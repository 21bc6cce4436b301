//! Request counters in Prometheus' text exposition format: requests by method and status, and bytes
//! served.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;

/// Counters shared by every request.
#[derive(Debug, Default)]
pub(super) struct Metrics {
    /// Keyed by `Method`, which standard methods clone without allocating.
    requests: Mutex<HashMap<(Method, u16), u64>>,
    bytes_served: AtomicU64,
    bytes_received: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub(super) fn record(&self, method: &Method, status: u16, bytes_out: u64, bytes_in: u64) {
        self.bytes_served.fetch_add(bytes_out, Ordering::Relaxed);
        self.bytes_received.fetch_add(bytes_in, Ordering::Relaxed);
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *requests.entry((method.clone(), status)).or_default() += 1;
    }

    /// The Prometheus text format.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP registry_http_requests_total HTTP requests answered, by method and status.\n",
        );
        out.push_str("# TYPE registry_http_requests_total counter\n");
        let mut requests: Vec<(String, u16, u64)> = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((method, status), count)| (method.to_string(), *status, *count))
            .collect();
        requests.sort();
        for (method, status, count) in requests {
            let _ = writeln!(
                out,
                "registry_http_requests_total{{method=\"{method}\",code=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP registry_http_response_bytes_total Response body bytes declared by Content-Length.\n");
        out.push_str("# TYPE registry_http_response_bytes_total counter\n");
        let _ = writeln!(
            out,
            "registry_http_response_bytes_total {}",
            self.bytes_served.load(Ordering::Relaxed)
        );
        out.push_str("# HELP registry_http_request_bytes_total Request body bytes declared by Content-Length.\n");
        out.push_str("# TYPE registry_http_request_bytes_total counter\n");
        let _ = writeln!(
            out,
            "registry_http_request_bytes_total {}",
            self.bytes_received.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let metrics = Metrics::default();
        metrics.record(&Method::GET, 200, 10, 0);
        metrics.record(&Method::GET, 200, 5, 0);
        metrics.record(&Method::PUT, 201, 0, 7);
        let text = metrics.render();
        assert!(
            text.contains("registry_http_requests_total{method=\"GET\",code=\"200\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("registry_http_requests_total{method=\"PUT\",code=\"201\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("registry_http_response_bytes_total 15\n"),
            "{text}"
        );
        assert!(
            text.contains("registry_http_request_bytes_total 7\n"),
            "{text}"
        );
    }
}
