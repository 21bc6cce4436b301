//! A container's way out and in without a bridge or a firewall rule: slirp4netns, started by stage 1 in
//! the host's network namespace, gives the container's namespace a `tap0` (10.0.2.100, gateway 10.0.2.2,
//! DNS 10.0.2.3) and forwards published host ports into it through its API socket. It exits when stage 1
//! does (its exit descriptor closes).
//!
//! Stage 1 makes the namespace, returns to the host's to start slirp4netns on it (handing it the
//! namespace as a descriptor), then enters the namespace for good, all before it makes the PID
//! namespace: slirp4netns must be neither in the container's network nor among its processes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::error::StartFailure;
use crate::init::inheritable;
use crate::spec::{PortForward, SlirpNetwork};

/// A running slirp4netns; dropping it closes the exit descriptor, which ends it.
#[derive(Debug)]
pub(crate) struct Slirp {
    child: Child,
    _exit: OwnedFd,
    /// slirp4netns leaves its API socket behind; it goes with it.
    api_socket: std::path::PathBuf,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.api_socket);
    }
}

fn failure(what: &str, detail: impl std::fmt::Display) -> StartFailure {
    StartFailure::setup(
        format!("setting up the container's network: {what}"),
        detail.to_string(),
    )
}

/// Makes a new network namespace for the container, starts slirp4netns on it from the host's, and
/// leaves this process in it (so the container's init, started next, is in it too).
pub(crate) fn network_namespace(network: &SlirpNetwork) -> Result<Slirp, StartFailure> {
    use nix::sched::{CloneFlags, setns, unshare};
    let open = |what: &str| File::open("/proc/self/ns/net").map_err(|error| failure(what, error));
    let host = open("opening the host's network namespace")?;
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|errno| failure("creating the network namespace", errno))?;
    let container = open("opening the container's network namespace")?;
    setns(&host, CloneFlags::CLONE_NEWNET)
        .map_err(|errno| failure("returning to the host's network namespace", errno))?;
    let started = start(
        OwnedFd::from(
            container
                .try_clone()
                .map_err(|e| failure("duplicating a descriptor", e))?,
        ),
        network,
    );
    setns(&container, CloneFlags::CLONE_NEWNET)
        .map_err(|errno| failure("entering the container's network namespace", errno))?;
    started
}

/// Starts slirp4netns for the network namespace `namespace`, waits until `tap0` is configured, and
/// publishes `network.ports`.
fn start(namespace: OwnedFd, network: &SlirpNetwork) -> Result<Slirp, StartFailure> {
    let pipe = |what: &str| pipe2(OFlag::O_CLOEXEC).map_err(|errno| failure(what, errno));
    let (ready_read, ready_write) = pipe("creating the ready pipe")?;
    let (exit_read, exit_write) = pipe("creating the exit pipe")?;
    inheritable(&ready_write)
        .and_then(|()| inheritable(&exit_read))
        .and_then(|()| inheritable(&namespace))
        .map_err(|errno| failure("passing descriptors to slirp4netns", errno))?;
    let _ = std::fs::remove_file(&network.api_socket);
    let spawned = Command::new("slirp4netns")
        .arg("--configure")
        .arg("--mtu=65520")
        .arg("--disable-host-loopback")
        .arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_read.as_raw_fd()))
        .arg("--api-socket")
        .arg(&network.api_socket)
        .arg("--netns-type=path")
        // Its own descriptor, inherited: the namespace has no name on the filesystem.
        .arg(format!("/proc/self/fd/{}", namespace.as_raw_fd()))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    drop(ready_write);
    drop(exit_read);
    drop(namespace);
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(failure(
                "slirp4netns is not installed",
                "the bridge network and published ports need it (apt-get install slirp4netns), \
                 or use --network none|host",
            ));
        }
        Err(error) => return Err(failure("starting slirp4netns", error)),
    };
    // It writes "1" once tap0 is up; end of file first means it failed.
    let mut ready = [0u8; 1];
    let answered = File::from(ready_read).read_exact(&mut ready).is_ok();
    if !answered || ready[0] != b'1' {
        let _ = child.kill();
        let status = child.wait();
        return Err(failure(
            "slirp4netns did not start",
            format!("it ended with {status:?} before configuring tap0"),
        ));
    }
    let slirp = Slirp {
        child,
        _exit: exit_write,
        api_socket: network.api_socket.clone(),
    };
    for port in &network.ports {
        publish(network, port)?;
    }
    Ok(slirp)
}

/// One `add_hostfwd` request on the API socket.
fn publish(network: &SlirpNetwork, port: &PortForward) -> Result<(), StartFailure> {
    let taken = || {
        StartFailure::setup(
            "publishing a port",
            format!(
                "driver failed programming external connectivity: Bind for {}:{} failed: port is \
                 already allocated",
                port.host_ip, port.host_port
            ),
        )
    };
    let request = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": port.protocol,
            "host_addr": port.host_ip,
            "host_port": port.host_port,
            "guest_port": port.container_port,
        }
    });
    let mut stream = UnixStream::connect(&network.api_socket)
        .map_err(|error| failure("connecting to slirp4netns", error))?;
    stream
        .write_all(request.to_string().as_bytes())
        .and_then(|()| stream.shutdown(std::net::Shutdown::Write))
        .map_err(|error| failure("asking slirp4netns to publish a port", error))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|error| failure("reading slirp4netns's answer", error))?;
    let reply: serde_json::Value = serde_json::from_str(&reply)
        .map_err(|error| failure("reading slirp4netns's answer", error))?;
    if reply.get("error").is_some() {
        return Err(taken());
    }
    Ok(())
}
