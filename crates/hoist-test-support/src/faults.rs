//! A fault-injecting TCP proxy for transfer tests: it listens on 127.0.0.1, forwards every connection
//! to one upstream address, and on request stalls or cuts the traffic after a number of bytes, answers
//! chosen requests itself with a canned HTTP response (429, 503, ...), and records every request head
//! it forwards (method, target, `Range:`).
//!
//! Limits, by design for loopback tests:
//! - Request heads are parsed from the client's byte stream, one after another on a keep-alive
//!   connection: a head ends at the first empty line, its body is skipped by `Content-Length` or by
//!   decoding `Transfer-Encoding: chunked` framing. A connection whose first bytes do not look like an
//!   HTTP/1.x request (a TLS handshake, HTTP/2) is forwarded untouched and not recorded; so is the rest
//!   of a connection after anything that does not parse (`Upgrade`, a malformed head).
//! - Responses are never parsed. A canned answer is written straight to the client with
//!   `Connection: close` and the connection is closed, so it is only ordered correctly for clients that
//!   do not pipeline (no HTTP/1.1 client in use here does).
//! - Byte thresholds count what the proxy forwarded in one direction over all connections, from the
//!   moment the fault is armed; a stall holds every connection's traffic in that direction.
//! - Threads are detached; dropping the proxy shuts every socket down, which ends them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Longest request head parsed; a longer one turns the connection opaque.
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// Which way bytes flow through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server: requests and upload bodies.
    Upstream,
    /// Server to client: responses and download bodies.
    Downstream,
}

/// One request head a client sent through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    /// The request target as sent (`/v2/app/blobs/sha256:…`).
    pub target: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `Content-Length` header, if any.
    pub content_length: Option<u64>,
    /// True when the proxy answered with a canned response instead of forwarding.
    pub answered_by_proxy: bool,
}

impl SeenRequest {
    /// `N` of a `Range: bytes=N-…` header.
    pub fn range_start(&self) -> Option<u64> {
        let range = self.range.as_deref()?.trim();
        let (first, _) = range.strip_prefix("bytes=")?.split_once('-')?;
        first.trim().parse().ok()
    }
}

/// An HTTP response the proxy sends instead of forwarding a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedResponse {
    bytes: Vec<u8>,
}

impl CannedResponse {
    /// `HTTP/1.1 <status> <reason>` with `headers`, a JSON `body`, `Content-Length` and
    /// `Connection: close`.
    pub fn new(status: u16, reason: &str, headers: &[(&str, &str)], body: &str) -> Self {
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        Self { bytes }
    }

    /// `429 Too Many Requests` with `Retry-After: <seconds>` and distribution's error body.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            429,
            "Too Many Requests",
            &[("Retry-After", &retry_after_secs.to_string())],
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests"}]}"#,
        )
    }

    /// `503 Service Unavailable` with distribution's error body.
    pub fn service_unavailable() -> Self {
        Self::new(
            503,
            "Service Unavailable",
            &[],
            r#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}"#,
        )
    }
}

/// Requests to answer with a canned response.
#[derive(Debug)]
struct Rule {
    method: Option<String>,
    path_contains: String,
    remaining: usize,
    response: CannedResponse,
}

impl Rule {
    fn matches(&self, method: &str, target: &str) -> bool {
        self.remaining > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && target.contains(&self.path_contains)
    }
}

/// A byte threshold in one direction (absolute, over all connections).
#[derive(Debug, Clone, Copy)]
struct Threshold {
    direction: Direction,
    at: u64,
}

/// The client and upstream sockets of one connection.
#[derive(Debug)]
struct Pair {
    client: TcpStream,
    upstream: TcpStream,
}

impl Pair {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

#[derive(Debug, Default)]
struct State {
    upstream_bytes: u64,
    downstream_bytes: u64,
    stall: Option<Threshold>,
    stalled: bool,
    cut: Option<Threshold>,
    cuts: usize,
    rules: Vec<Rule>,
    requests: Vec<SeenRequest>,
    connections: HashMap<u64, Arc<Pair>>,
    next_connection: u64,
    stopping: bool,
}

impl State {
    fn total(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Upstream => self.upstream_bytes,
            Direction::Downstream => self.downstream_bytes,
        }
    }

    fn add(&mut self, direction: Direction, bytes: u64) {
        match direction {
            Direction::Upstream => self.upstream_bytes += bytes,
            Direction::Downstream => self.downstream_bytes += bytes,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// What a pump may do with the bytes it holds.
enum Gate {
    /// Forward this many bytes (maybe fewer than held: a stall threshold is near).
    Forward(usize),
    /// Forward this many bytes, then close the connection.
    CutAfter(usize),
    /// The proxy is shutting down.
    Stop,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accounts for up to `wanted` bytes in `direction`, blocking while a stall holds that direction.
    fn gate(&self, direction: Direction, wanted: usize) -> Gate {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return Gate::Stop;
            }
            let total = state.total(direction);
            let mut allowed = wanted as u64;
            if let Some(stall) = state.stall
                && stall.direction == direction
            {
                if total >= stall.at {
                    state.stalled = true;
                    self.changed.notify_all();
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
                allowed = allowed.min(stall.at - total);
            }
            if let Some(cut) = state.cut
                && cut.direction == direction
                && total + allowed >= cut.at
            {
                let before_cut = cut.at.saturating_sub(total).min(allowed);
                state.cut = None;
                state.cuts += 1;
                state.add(direction, before_cut);
                self.changed.notify_all();
                return Gate::CutAfter(usize::try_from(before_cut).unwrap_or(0));
            }
            state.add(direction, allowed);
            return Gate::Forward(usize::try_from(allowed).unwrap_or(0));
        }
    }

    /// Writes `bytes` to `to` through the gate; false when the connection is finished.
    fn forward(&self, direction: Direction, bytes: &[u8], to: &mut TcpStream, pair: &Pair) -> bool {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.gate(direction, rest.len()) {
                Gate::Forward(n) => {
                    let (now, later) = rest.split_at(n.min(rest.len()));
                    if to.write_all(now).is_err() {
                        pair.close();
                        return false;
                    }
                    rest = later;
                }
                Gate::CutAfter(n) => {
                    let _ = to.write_all(&rest[..n.min(rest.len())]);
                    let _ = to.flush();
                    pair.close();
                    return false;
                }
                Gate::Stop => {
                    pair.close();
                    return false;
                }
            }
        }
        true
    }

    /// The canned response for this request, if a rule takes it (and records the request).
    fn canned(&self, request: &SeenRequest) -> Option<CannedResponse> {
        let mut state = self.lock();
        let rule = state
            .rules
            .iter_mut()
            .find(|r| r.matches(&request.method, &request.target))?;
        rule.remaining -= 1;
        let response = rule.response.clone();
        state.requests.push(SeenRequest {
            answered_by_proxy: true,
            ..request.clone()
        });
        Some(response)
    }

    fn record(&self, request: SeenRequest) {
        self.lock().requests.push(request);
    }
}

/// The proxy; dropping it stops it and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port forwarding to `upstream` (`127.0.0.1:5000`).
    pub fn start(upstream: &str) -> Self {
        let upstream = match upstream.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(addr)) => addr,
            Ok(None) => panic!("fault proxy: {upstream} resolves to no address"),
            Err(e) => panic!("fault proxy: bad upstream {upstream}: {e}"),
        };
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("fault proxy: binding 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("fault proxy: local address: {e}"),
        };
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.lock().stopping {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = Arc::clone(&accepting);
                thread::spawn(move || serve_connection(&shared, client, upstream));
            }
        });
        Self { addr, shared }
    }

    /// `127.0.0.1:PORT`, to put in image names.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// From now on, forward at most `bytes` more in `direction`, then hold every connection's traffic
    /// in that direction (connections stay open) until [`FaultProxy::release`].
    pub fn stall_after(&self, direction: Direction, bytes: u64) {
        let mut state = self.shared.lock();
        let at = state.total(direction) + bytes;
        state.stall = Some(Threshold { direction, at });
        state.stalled = false;
    }

    /// Waits until a stall holds traffic; false after `timeout`.
    pub fn wait_stalled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !state.stalled {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Ends the stall: held traffic flows again and no new stall is armed.
    pub fn release(&self) {
        let mut state = self.shared.lock();
        state.stall = None;
        state.stalled = false;
        self.shared.changed.notify_all();
    }

    /// From now on, forward `bytes` more in `direction`, then close that connection; once.
    pub fn cut_after(&self, direction: Direction, bytes: u64) {
        let mut state = self.shared.lock();
        let at = state.total(direction) + bytes;
        state.cut = Some(Threshold { direction, at });
    }

    /// How many connections a cut closed.
    pub fn cuts(&self) -> usize {
        self.shared.lock().cuts
    }

    /// Answers the next `times` requests whose target contains `path_contains` (and whose method is
    /// `method`, when given) with `response` instead of forwarding them.
    pub fn answer(
        &self,
        method: Option<&str>,
        path_contains: &str,
        times: usize,
        response: CannedResponse,
    ) {
        self.shared.lock().rules.push(Rule {
            method: method.map(str::to_owned),
            path_contains: path_contains.to_owned(),
            remaining: times,
            response,
        });
    }

    /// Every request head seen so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }

    /// Bytes forwarded in `direction` so far.
    pub fn bytes(&self, direction: Direction) -> u64 {
        self.shared.lock().total(direction)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let pairs: Vec<Arc<Pair>> = {
            let mut state = self.shared.lock();
            state.stopping = true;
            state.stall = None;
            self.shared.changed.notify_all();
            state.connections.drain().map(|(_, p)| p).collect()
        };
        for pair in pairs {
            pair.close();
        }
        // Wakes the accept loop so it sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Runs one connection: the downstream pump on its own thread, the upstream pump (with the request
/// parser) on this one.
fn serve_connection(shared: &Arc<Shared>, client: TcpStream, upstream_addr: SocketAddr) {
    let Ok(upstream) = TcpStream::connect_timeout(&upstream_addr, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(client_reader), Ok(upstream_writer), Ok(upstream_reader), Ok(client_writer)) = (
        client.try_clone(),
        upstream.try_clone(),
        upstream.try_clone(),
        client.try_clone(),
    ) else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
        return;
    };
    let pair = Arc::new(Pair { client, upstream });
    let id = {
        let mut state = shared.lock();
        if state.stopping {
            pair.close();
            return;
        }
        let id = state.next_connection;
        state.next_connection += 1;
        state.connections.insert(id, Arc::clone(&pair));
        id
    };
    let down = {
        let shared = Arc::clone(shared);
        let pair = Arc::clone(&pair);
        thread::spawn(move || pump_downstream(&shared, upstream_reader, client_writer, &pair))
    };
    pump_upstream(shared, client_reader, upstream_writer, &pair);
    let _ = down.join();
    pair.close();
    shared.lock().connections.remove(&id);
}

fn pump_downstream(shared: &Shared, mut from: TcpStream, mut to: TcpStream, pair: &Pair) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        if !shared.forward(Direction::Downstream, &buf[..n], &mut to, pair) {
            return;
        }
    }
}

fn pump_upstream(shared: &Shared, mut from: TcpStream, mut to: TcpStream, pair: &Pair) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut parser = RequestParser::default();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        for piece in parser.feed(&buf[..n]) {
            let bytes = match piece {
                Piece::Bytes(bytes) => bytes,
                Piece::Head { request, bytes } => {
                    if let Some(response) = shared.canned(&request) {
                        let _ = from.write_all(&response.bytes);
                        let _ = from.flush();
                        return pair.close();
                    }
                    shared.record(request);
                    bytes
                }
            };
            if !shared.forward(Direction::Upstream, &bytes, &mut to, pair) {
                return;
            }
        }
    }
}

/// What the parser makes of client bytes: plain bytes to forward, or a complete request head.
enum Piece {
    Bytes(Vec<u8>),
    Head {
        request: SeenRequest,
        bytes: Vec<u8>,
    },
}

#[derive(Debug)]
enum ParseState {
    /// Collecting a request head.
    Head(Vec<u8>),
    /// Skipping this many body bytes.
    Body(u64),
    Chunked(Chunk),
    /// Not (or no longer) understood: everything is forwarded as is.
    Opaque,
}

#[derive(Debug)]
enum Chunk {
    Size(Vec<u8>),
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd(u64),
    Trailer(Vec<u8>),
}

/// Splits a client's byte stream into request heads and everything else.
#[derive(Debug)]
struct RequestParser {
    state: ParseState,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self {
            state: ParseState::Head(Vec::new()),
        }
    }
}

/// Whether `buf` can still be the start of an HTTP/1.x request line (`METHOD SP ...`).
fn plausible_head(buf: &[u8]) -> bool {
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'A'..=b'Z' if i < 16 => {}
            b' ' => return i > 0,
            _ => return false,
        }
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The request and the body framing after it, or `None` when the head is not a plain HTTP/1.x request.
fn parse_head(head: &[u8]) -> Option<(SeenRequest, ParseState)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target, version) = (
        request_line.next()?,
        request_line.next()?,
        request_line.next()?,
    );
    if request_line.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut range = None;
    let mut length = None;
    let mut chunked = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(value.to_owned()),
            "content-length" => length = Some(value.parse::<u64>().ok()?),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "upgrade" => return None,
            _ => {}
        }
    }
    let body = if chunked {
        ParseState::Chunked(Chunk::Size(Vec::new()))
    } else {
        match length {
            Some(n) if n > 0 => ParseState::Body(n),
            _ => ParseState::Head(Vec::new()),
        }
    };
    Some((
        SeenRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            range,
            content_length: length,
            answered_by_proxy: false,
        },
        body,
    ))
}

/// Up to and including the first `\n` of `input`, and whether one was found.
fn through_newline(input: &[u8]) -> (&[u8], &[u8], bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..=i], &input[i + 1..], true),
        None => (input, &[], false),
    }
}

impl RequestParser {
    fn feed(&mut self, mut input: &[u8]) -> Vec<Piece> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let state = std::mem::replace(&mut self.state, ParseState::Opaque);
            self.state = match state {
                ParseState::Opaque => {
                    out.push(Piece::Bytes(input.to_vec()));
                    input = &[];
                    ParseState::Opaque
                }
                ParseState::Head(mut buf) => {
                    let before = buf.len();
                    buf.extend_from_slice(input);
                    // The blank line may straddle two reads: search from a little before the new bytes.
                    let from = before.saturating_sub(3);
                    match find(&buf[from..], b"\r\n\r\n") {
                        Some(at) => {
                            let end = from + at + 4;
                            input = &input[end - before..];
                            buf.truncate(end);
                            match parse_head(&buf) {
                                Some((request, next)) => {
                                    out.push(Piece::Head {
                                        request,
                                        bytes: buf,
                                    });
                                    next
                                }
                                None => {
                                    out.push(Piece::Bytes(buf));
                                    ParseState::Opaque
                                }
                            }
                        }
                        None => {
                            input = &[];
                            if plausible_head(&buf) && buf.len() <= MAX_HEAD {
                                ParseState::Head(buf)
                            } else {
                                out.push(Piece::Bytes(buf));
                                ParseState::Opaque
                            }
                        }
                    }
                }
                ParseState::Body(remaining) => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    out.push(Piece::Bytes(input[..n].to_vec()));
                    input = &input[n..];
                    match remaining - n as u64 {
                        0 => ParseState::Head(Vec::new()),
                        left => ParseState::Body(left),
                    }
                }
                ParseState::Chunked(chunk) => {
                    let (next, used) = chunk.advance(input);
                    out.push(Piece::Bytes(input[..used].to_vec()));
                    input = &input[used..];
                    next
                }
            };
        }
        out
    }
}

impl Chunk {
    /// Consumes the start of `input`; returns the next state and how many bytes were used.
    fn advance(self, input: &[u8]) -> (ParseState, usize) {
        match self {
            Chunk::Size(mut line) => {
                let (taken, _, complete) = through_newline(input);
                line.extend_from_slice(taken);
                if !complete {
                    let next = if line.len() > MAX_CHUNK_LINE {
                        ParseState::Opaque
                    } else {
                        ParseState::Chunked(Chunk::Size(line))
                    };
                    return (next, taken.len());
                }
                let text = String::from_utf8_lossy(&line);
                let size = text.split(';').next().unwrap_or("").trim();
                let next = match u64::from_str_radix(size, 16) {
                    Ok(0) => ParseState::Chunked(Chunk::Trailer(Vec::new())),
                    Ok(n) => ParseState::Chunked(Chunk::Data(n)),
                    Err(_) => ParseState::Opaque,
                };
                (next, taken.len())
            }
            Chunk::Data(remaining) => {
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                let next = match remaining - n as u64 {
                    0 => Chunk::DataEnd(2),
                    left => Chunk::Data(left),
                };
                (ParseState::Chunked(next), n)
            }
            Chunk::DataEnd(remaining) => {
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                let next = match remaining - n as u64 {
                    0 => Chunk::Size(Vec::new()),
                    left => Chunk::DataEnd(left),
                };
                (ParseState::Chunked(next), n)
            }
            Chunk::Trailer(mut line) => {
                let (taken, _, complete) = through_newline(input);
                line.extend_from_slice(taken);
                let next = if !complete {
                    if line.len() > MAX_CHUNK_LINE {
                        ParseState::Opaque
                    } else {
                        ParseState::Chunked(Chunk::Trailer(line))
                    }
                } else if line == b"\r\n" || line == b"\n" {
                    ParseState::Head(Vec::new())
                } else {
                    ParseState::Chunked(Chunk::Trailer(Vec::new()))
                };
                (next, taken.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(parser: &mut RequestParser, input: &[u8]) -> (Vec<SeenRequest>, Vec<u8>) {
        let mut requests = Vec::new();
        let mut forwarded = Vec::new();
        for piece in parser.feed(input) {
            match piece {
                Piece::Bytes(b) => forwarded.extend(b),
                Piece::Head { request, bytes } => {
                    requests.push(request);
                    forwarded.extend(bytes);
                }
            }
        }
        (requests, forwarded)
    }

    #[test]
    fn keep_alive_requests_with_bodies_are_split() {
        let stream = b"PUT /v2/a/blobs/uploads/x?digest=sha256:1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /v2/a/blobs/sha256:1 HTTP/1.1\r\nRange: bytes=100-\r\n\r\nPATCH /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHEAD /v2/ HTTP/1.1\r\n\r\n";
        // Fed one byte at a time, as the worst case of read boundaries.
        let mut parser = RequestParser::default();
        let mut requests = Vec::new();
        let mut forwarded = Vec::new();
        for b in stream {
            let (r, f) = heads(&mut parser, std::slice::from_ref(b));
            requests.extend(r);
            forwarded.extend(f);
        }
        assert_eq!(forwarded, stream);
        let seen: Vec<(&str, &str)> = requests
            .iter()
            .map(|r| (r.method.as_str(), r.target.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("PUT", "/v2/a/blobs/uploads/x?digest=sha256:1"),
                ("GET", "/v2/a/blobs/sha256:1"),
                ("PATCH", "/u"),
                ("HEAD", "/v2/")
            ]
        );
        assert_eq!(requests[1].range_start(), Some(100));
        // And all at once.
        let (all_at_once, forwarded) = heads(&mut RequestParser::default(), stream);
        assert_eq!(all_at_once, requests);
        assert_eq!(forwarded, stream);
    }

    #[test]
    fn tls_and_garbage_are_forwarded_untouched() {
        let hello = [0x16u8, 0x03, 0x01, 0x02, 0x00, b'G', b'E', b'T', b' '];
        let (requests, forwarded) = heads(&mut RequestParser::default(), &hello);
        assert!(requests.is_empty());
        assert_eq!(forwarded, hello);
    }

    /// A tiny upstream that answers every request head with a fixed body, then closes.
    fn upstream(body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let body = body.clone();
                thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(&body);
                });
            }
        });
        addr
    }

    fn get(addr: &str, path: &str) -> Vec<u8> {
        let mut conn = TcpStream::connect(addr).unwrap();
        write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut all = Vec::new();
        let _ = conn.read_to_end(&mut all);
        all
    }

    #[test]
    fn forwards_records_cuts_stalls_and_answers() {
        let body = vec![7u8; 100_000];
        let proxy = FaultProxy::start(&upstream(body.clone()));
        let whole = get(&proxy.addr(), "/first");
        assert!(whole.ends_with(&body));
        let head_len = whole.len() - body.len();

        proxy.cut_after(Direction::Downstream, head_len as u64 + 10);
        let cut = get(&proxy.addr(), "/second");
        assert_eq!(cut.len(), head_len + 10);
        assert_eq!(proxy.cuts(), 1);
        assert_eq!(
            get(&proxy.addr(), "/third").len(),
            whole.len(),
            "a cut happens once"
        );

        proxy.answer(
            Some("GET"),
            "/limited",
            1,
            CannedResponse::too_many_requests(1),
        );
        let limited = String::from_utf8_lossy(&get(&proxy.addr(), "/limited")).into_owned();
        assert!(limited.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(limited.contains("Retry-After: 1\r\n"));
        assert_eq!(get(&proxy.addr(), "/limited").len(), whole.len());

        proxy.stall_after(Direction::Downstream, 50);
        let addr = proxy.addr();
        let stalled = thread::spawn(move || get(&addr, "/stalled"));
        assert!(proxy.wait_stalled(Duration::from_secs(10)));
        proxy.release();
        assert_eq!(stalled.join().unwrap().len(), whole.len());

        let seen: Vec<(String, bool)> = proxy
            .requests()
            .into_iter()
            .map(|r| (r.target, r.answered_by_proxy))
            .collect();
        let expected = [
            ("/first", false),
            ("/second", false),
            ("/third", false),
            ("/limited", true),
            ("/limited", false),
            ("/stalled", false),
        ];
        assert_eq!(
            seen,
            expected
                .iter()
                .map(|(t, a)| ((*t).to_owned(), *a))
                .collect::<Vec<_>>()
        );
    }
}
