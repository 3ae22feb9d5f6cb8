//! A UDP flow's conntrack entry and its timeout, as `net/netfilter/nf_conntrack_proto_udp.c`
//! keeps it (`nf_conntrack_udp_packet`), and the line `conntrack -L` prints for it.
//!
//! The first packet creates the entry with the unreplied timeout (30 s) and notes its birth
//! (`stream_ts` = now + 2 s). Each later packet refreshes the timeout: 30 s until a reply has
//! been seen; once it has, a packet more than 2 s after the birth gives the stream timeout
//! (120 s) and marks the entry `ASSURED`, an earlier one still 30 s. The reply that first sets
//! `SEEN_REPLY` is itself handled before the bit is set (`nf_conntrack_in` sets it after the
//! protocol handler), so it refreshes to 30 s. A DNS query and its answer therefore leave an
//! entry that expires 30 s after the answer; only a flow that keeps going both ways past its
//! first two seconds lives 120 s after its last packet.
//!
//! kube-proxy routes a UDP flow's first packet only; conntrack sends the rest of the flow (and
//! the replies) the same way until the entry expires. A glibc resolver opens a new socket (a
//! new source port) for each name it asks, so each of its queries is a new flow; the A and
//! AAAA queries of one name share a socket, hence one entry and one backend, and so does a
//! retry after a timeout.

use crate::engine::{SimDuration, SimTime};
use std::net::Ipv4Addr;

/// `net.netfilter.nf_conntrack_udp_timeout`: 30 s (`udp_timeouts[UDP_CT_UNREPLIED]`).
pub const UDP_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// `net.netfilter.nf_conntrack_udp_timeout_stream`: 120 s (`udp_timeouts[UDP_CT_REPLIED]`).
pub const UDP_TIMEOUT_STREAM: SimDuration = SimDuration::from_secs(120);

/// A flow still active this long after its first packet counts as a stream
/// (`ct->proto.udp.stream_ts = 2 * HZ + jiffies`).
pub const UDP_STREAM_AFTER: SimDuration = SimDuration::from_secs(2);

/// One UDP flow's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFlow {
    pub src: Ipv4Addr,
    pub src_port: u16,
    /// The original destination (a ClusterIP) and its port.
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    /// Where the DNAT sent it (the reply comes from there).
    pub to: Ipv4Addr,
    pub to_port: u16,
    born: SimTime,
    seen_reply: bool,
    assured: bool,
    expires: SimTime,
}

impl UdpFlow {
    /// The entry the flow's first packet creates at `now`.
    pub fn new(
        now: SimTime,
        (src, src_port): (Ipv4Addr, u16),
        (dst, dst_port): (Ipv4Addr, u16),
        (to, to_port): (Ipv4Addr, u16),
    ) -> Self {
        UdpFlow {
            src,
            src_port,
            dst,
            dst_port,
            to,
            to_port,
            born: now,
            seen_reply: false,
            assured: false,
            expires: now + UDP_TIMEOUT,
        }
    }

    /// A later packet of the flow at `now`, `reply` if it comes back from the destination.
    pub fn packet(&mut self, now: SimTime, reply: bool) {
        if self.seen_reply {
            if now > self.born + UDP_STREAM_AFTER {
                self.expires = now + UDP_TIMEOUT_STREAM;
                self.assured = true;
            } else {
                self.expires = now + UDP_TIMEOUT;
            }
        } else {
            self.expires = now + UDP_TIMEOUT;
        }
        if reply {
            self.seen_reply = true;
        }
    }

    /// Whether the entry still exists at `now`.
    pub fn alive(&self, now: SimTime) -> bool {
        now < self.expires
    }

    /// When the entry goes, unless another packet comes.
    pub fn expires(&self) -> SimTime {
        self.expires
    }

    /// The entry as `conntrack -L` prints it at `now` (seconds left, rounded down).
    pub fn line(&self, now: SimTime) -> String {
        let left = self.expires.since(now).as_secs_f64() as u64;
        let unreplied = if self.seen_reply { "" } else { "[UNREPLIED] " };
        let assured = if self.assured { "[ASSURED] " } else { "" };
        format!(
            "udp      17 {left} src={} dst={} sport={} dport={} {unreplied}src={} dst={} sport={} dport={} {assured}mark=0 use=1",
            self.src, self.dst, self.src_port, self.dst_port, self.to, self.src, self.to_port, self.src_port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn flow() -> UdpFlow {
        UdpFlow::new(
            at(0),
            (Ipv4Addr::new(10, 244, 0, 5), 40000),
            (Ipv4Addr::new(10, 96, 0, 10), 53),
            (Ipv4Addr::new(10, 244, 0, 2), 53),
        )
    }

    #[test]
    fn a_query_and_its_answer_expire_30_s_after_the_answer() {
        let mut f = flow();
        assert_eq!(f.expires(), at(30_000));
        assert!(f.line(at(0)).contains("[UNREPLIED]"));
        f.packet(at(1), true);
        assert_eq!(f.expires(), at(30_001));
        assert!(f.alive(at(30_000)) && !f.alive(at(30_001)));
        assert_eq!(
            f.line(at(1)),
            "udp      17 30 src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=53 src=10.244.0.2 dst=10.244.0.5 sport=53 dport=40000 mark=0 use=1"
        );
        // More traffic within its first two seconds: still 30 s, not assured.
        f.packet(at(1_500), false);
        assert_eq!(f.expires(), at(31_500));
        assert!(!f.line(at(1_500)).contains("ASSURED"));
    }

    #[test]
    fn a_flow_that_keeps_going_both_ways_past_two_seconds_lives_120_s() {
        let mut f = flow();
        f.packet(at(10), true);
        f.packet(at(2_500), false);
        assert_eq!(f.expires(), at(122_500));
        assert!(f.line(at(2_500)).contains("[ASSURED]"));
        // One way only, however long: 30 s.
        let mut g = flow();
        g.packet(at(5_000), false);
        g.packet(at(9_000), false);
        assert_eq!(g.expires(), at(39_000));
    }
}
