//! What a node's kernel does with a packet for an address on its pod bridge that nobody
//! answers ARP for (a pod whose sandbox is gone): neighbour resolution, and the TCP client's
//! retransmitted SYN waiting on it.
//!
//! The node queues the SYN on an `INCOMPLETE` neighbour entry and broadcasts ARP requests
//! `mcast_solicit` times, `retrans_time` apart; with no answer the entry turns `FAILED`, the
//! queued packets are dropped and the node sends the client ICMP host unreachable, which aborts
//! a connect in `SYN_SENT` with `EHOSTUNREACH` ("No route to host"). Meanwhile the client
//! retransmits its SYN after the initial RTO (1 s, then 3 s after the first). Only timing is
//! modelled here; the simulation decides who is unanswered (a pod IP no live pod holds).

use crate::engine::SimDuration;

/// `net.ipv4.neigh.default.mcast_solicit`: broadcast ARP probes before giving up (kernel
/// default 3, `net/ipv4/arp.c` `arp_tbl`, `NEIGH_VAR_MCAST_PROBES`).
pub const MCAST_SOLICIT: u32 = 3;

/// `net.ipv4.neigh.default.app_solicit`: probes handed to a user-space daemon (default 0).
pub const APP_SOLICIT: u32 = 0;

/// `net.ipv4.neigh.default.retrans_time_ms`: the time between probes (default 1,000 ms,
/// `NEIGH_VAR_RETRANS_TIME` = 1 * HZ in `arp_tbl`).
pub const RETRANS_TIME: SimDuration = SimDuration::from_secs(1);

/// How long after the first packet an unanswered neighbour entry fails: `neigh_max_probes`
/// (mcast + app probes) times `retrans_time` (`net/core/neighbour.c`, `neigh_timer_handler`),
/// about 3 s with the defaults. The client's connect then fails with `EHOSTUNREACH`.
pub const RESOLUTION_FAILS_AFTER: SimDuration =
    RETRANS_TIME.saturating_mul((MCAST_SOLICIT + APP_SOLICIT) as u64);

/// TCP's initial retransmission timeout, 1 s (RFC 6298 2.1; `TCP_TIMEOUT_INIT` in
/// `include/net/tcp.h`): an unanswered SYN goes again at 1 s, then at 3 s (the RTO doubles),
/// up to `net.ipv4.tcp_syn_retries` (default 6) times.
pub const TCP_INITIAL_RTO: SimDuration = SimDuration::from_secs(1);

/// When the client's unanswered SYN is sent again, relative to the first, before `until`.
pub fn syn_retransmissions(until: SimDuration) -> Vec<SimDuration> {
    let mut out = Vec::new();
    let mut rto = TCP_INITIAL_RTO;
    let mut at = SimDuration::ZERO;
    // net.ipv4.tcp_syn_retries, default 6 (TCP_SYN_RETRIES in include/net/tcp.h).
    for _ in 0..6 {
        at += rto;
        if at >= until {
            break;
        }
        out.push(at);
        rto = rto.saturating_mul(2);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_fails_after_three_probes_a_second_apart() {
        assert_eq!(RESOLUTION_FAILS_AFTER, SimDuration::from_secs(3));
        assert_eq!(RESOLUTION_FAILS_AFTER, RETRANS_TIME.saturating_mul(3));
    }

    #[test]
    fn the_syn_is_sent_again_at_one_and_three_seconds_before_the_entry_fails() {
        assert_eq!(
            syn_retransmissions(RESOLUTION_FAILS_AFTER + SimDuration::from_millis(1)),
            vec![SimDuration::from_secs(1), SimDuration::from_secs(3)]
        );
        assert_eq!(
            syn_retransmissions(SimDuration::from_secs(200)).len(),
            6,
            "tcp_syn_retries"
        );
    }
}
