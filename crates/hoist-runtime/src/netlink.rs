//! Bringing the loopback interface up in a new network namespace with one rtnetlink request
//! (RTM_NEWLINK on ifindex 1 with IFF_UP), over nix's safe socket API.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

use crate::error::StartFailure;

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFF_UP: u32 = 1;
/// The loopback device is always the first interface of a network namespace.
const LOOPBACK_INDEX: i32 = 1;
const HEADER_LEN: usize = 16;
const IFINFO_LEN: usize = 16;

/// nlmsghdr + ifinfomsg asking to set IFF_UP on the loopback device, in native byte order.
fn loopback_up_request() -> Vec<u8> {
    let total = HEADER_LEN + IFINFO_LEN;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&u32::try_from(total).unwrap_or(32).to_ne_bytes());
    message.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    message.push(0); // ifi_family: AF_UNSPEC
    message.push(0); // padding
    message.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    message.extend_from_slice(&LOOPBACK_INDEX.to_ne_bytes());
    message.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    message.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change: only this flag
    message
}

fn failure(reason: impl std::fmt::Display) -> StartFailure {
    StartFailure::setup("bringing up the loopback interface", reason)
}

/// Sets the loopback interface of the current network namespace up and waits for the kernel's ack.
pub(crate) fn bring_loopback_up() -> Result<(), StartFailure> {
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(failure)?;
    let kernel = NetlinkAddr::new(0, 0);
    let request = loopback_up_request();
    sendto(socket.as_raw_fd(), &request, &kernel, MsgFlags::empty()).map_err(failure)?;
    let mut reply = [0u8; 1024];
    let len = recv(socket.as_raw_fd(), &mut reply, MsgFlags::empty()).map_err(failure)?;
    // The ack is an NLMSG_ERROR message whose error field (right after the header) is 0 or -errno.
    let field = |range: std::ops::Range<usize>| reply.get(range).filter(|_| len >= HEADER_LEN + 4);
    let kind = field(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let error = field(16..20).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    match (kind, error) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(code)) => Err(failure(Errno::from_raw(-code))),
        _ => Err(failure(format!("unexpected netlink reply of {len} bytes"))),
    }
}
