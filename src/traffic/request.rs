//! Requests in flight and how they end.
//!
//! A request lives in a slab while it is in flight; its slot is reused once it ends, so memory
//! follows the number of requests in flight, not the number sent.

use crate::engine::{SimDuration, SimTime};
use crate::model::objects::ProbeKind;

/// Why a request failed, as `summary.json`'s `failed_by_reason` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailReason {
    /// The SYN was answered by a reset or ICMP port unreachable: kube-proxy's REJECT for a
    /// Service with no endpoints, a pod that no longer listens, a port nobody listens on.
    ConnectionRefused,
    /// The client gave up waiting (`traffic[].timeout`).
    Timeout,
    /// An established connection was reset: the serving container died.
    ConnectionReset,
    /// No route to the destination from where the client is (e.g. a ClusterIP from outside
    /// the cluster).
    NoRoute,
    /// The name did not resolve.
    DnsFailure,
    /// The server's queue was full (`behaviors[].queueLimit`): it answered 503 Service
    /// Unavailable at once.
    Http503,
    /// A NetworkPolicy dropped the connection's first packet: the client timed out
    /// (`traffic[].timeout`), counted apart from `timeout` so that the cause shows.
    PolicyDrop,
}

impl FailReason {
    pub const ALL: [FailReason; 7] = [
        FailReason::ConnectionRefused,
        FailReason::Timeout,
        FailReason::ConnectionReset,
        FailReason::NoRoute,
        FailReason::DnsFailure,
        FailReason::Http503,
        FailReason::PolicyDrop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::ConnectionRefused => "connection_refused",
            FailReason::Timeout => "timeout",
            FailReason::ConnectionReset => "connection_reset",
            FailReason::NoRoute => "no_route",
            FailReason::DnsFailure => "dns_failure",
            FailReason::Http503 => "http_503",
            FailReason::PolicyDrop => "policy_drop",
        }
    }
}

/// Marks a request that is not on a kept-alive connection.
pub const NO_CONN: u32 = u32::MAX;

/// A request in flight: a traffic stream's, or the kubelet's probe of a container.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub stream: u32,
    /// The client in the stream; for a probe, the container's epoch when it was sent.
    pub client: u32,
    /// When the client wanted to send it (before waiting for a connection, if it had to).
    pub sent: SimTime,
    /// The pod and container serving it, once routed.
    pub pod: u32,
    pub container: u16,
    /// The connection index in the client's pool, or [`NO_CONN`].
    pub conn: u32,
    /// One-way network latency between the client and the pod.
    pub one_way: SimDuration,
    /// Sent after warmup: it counts in the figures.
    pub counted: bool,
    /// While it holds a server slot: its position in the server's `in_service` list (a hint
    /// that makes finishing O(1); see `Server::finish`).
    pub server_pos: u32,
    /// Bumped each time the slot is reused, so stale events are recognised.
    pub generation: u32,
    /// On a connection of its own (`conn == NO_CONN`): the data plane's handle for that
    /// connection (IPVS counts it), or [`NO_DP_CONN`]. Opaque to this layer.
    pub dp_conn: u64,

    /// 0 for the first attempt, then the retry's number.
    pub attempt: u8,
    /// The client gave up at its deadline (streams that react to outcomes): the server still
    /// holds the request and finishes it, but nobody waits for the answer.
    pub abandoned: bool,
    /// Sent by the kubelet as this probe of `container` (`stream` is unused then): its answer
    /// goes to the kubelet, not to a client, and it counts in no figure.
    pub probe: Option<ProbeKind>,
}

/// No data-plane connection handle (iptables mode keeps none).
pub const NO_DP_CONN: u64 = u64::MAX;

/// A handle to a request: slot and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqRef {
    pub slot: u32,
    pub generation: u32,
}

/// One slot of the [`Slab`]: whether it holds a live request, and the request. Aligned to a
/// cache line, which it fills (`tests::a_slot_is_one_cache_line`): unaligned, most slots
/// straddled two lines, and every request read at its events touched both (measured: see
/// docs/performance.md, round 6).
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Slot {
    live: bool,
    req: Request,
}

/// Requests held at once, at most: kubesim's bound. Past it (servers far behind their
/// arrivals, their queues growing without a `queueLimit`) the slab alone would pass 320 MB (about 125 bytes a request in all, measured);
/// the simulation stops the run with an error instead (`Simulation::run_checked`).
pub const MAX_IN_FLIGHT: usize = 5_000_000;

/// Requests in flight, in reusable slots.
#[derive(Debug)]
pub struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots it may grow to before it is full: [`MAX_IN_FLIGHT`].
    bound: usize,
    /// It has grown to `bound` slots.
    full: bool,
}

impl Default for Slab {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            bound: MAX_IN_FLIGHT,
            full: false,
        }
    }
}

impl Slab {
    pub fn insert(&mut self, mut r: Request) -> ReqRef {
        if let Some(slot) = self.free.pop() {
            let entry = &mut self.slots[slot as usize];
            r.generation = entry.req.generation.wrapping_add(1);
            *entry = Slot { live: true, req: r };
            ReqRef {
                slot,
                generation: r.generation,
            }
        } else {
            r.generation = 0;
            self.full |= self.slots.len() >= self.bound;
            self.slots.push(Slot { live: true, req: r });
            ReqRef {
                slot: (self.slots.len() - 1) as u32,
                generation: 0,
            }
        }
    }

    /// Whether it has grown to [`MAX_IN_FLIGHT`] requests held at once.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// A smaller bound than [`MAX_IN_FLIGHT`], for tests of what happens at it.
    pub fn set_bound(&mut self, bound: usize) {
        self.bound = bound;
    }

    /// Requests held now.
    pub fn held(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The live request behind `r`, or `None` if it has ended since.
    pub fn get(&self, r: ReqRef) -> Option<&Request> {
        let Slot { live, req } = self.slots.get(r.slot as usize)?;
        (*live && req.generation == r.generation).then_some(req)
    }

    pub fn get_mut(&mut self, r: ReqRef) -> Option<&mut Request> {
        let Slot { live, req } = self.slots.get_mut(r.slot as usize)?;
        (*live && req.generation == r.generation).then_some(req)
    }

    /// The live request in `slot`, whatever its generation.
    pub fn by_slot(&self, slot: u32) -> Option<(ReqRef, &Request)> {
        let Slot { live, req } = self.slots.get(slot as usize)?;
        live.then_some((
            ReqRef {
                slot,
                generation: req.generation,
            },
            req,
        ))
    }

    /// The live request in `slot`, whatever its generation, to update.
    pub fn by_slot_mut(&mut self, slot: u32) -> Option<&mut Request> {
        let Slot { live, req } = self.slots.get_mut(slot as usize)?;
        live.then_some(req)
    }

    pub fn remove(&mut self, r: ReqRef) -> Option<Request> {
        let Slot { live, req } = self.slots.get_mut(r.slot as usize)?;
        if !*live || req.generation != r.generation {
            return None;
        }
        *live = false;
        self.free.push(r.slot);
        Some(*req)
    }

    /// Requests still in flight.
    pub fn live(&self) -> impl Iterator<Item = &Request> {
        self.slots.iter().filter(|s| s.live).map(|s| &s.req)
    }

    /// Slots allocated so far: the peak number of requests in flight.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request {
            stream: 0,
            client: 0,
            sent: SimTime::ZERO,
            pod: 0,
            container: 0,
            conn: NO_CONN,
            one_way: SimDuration::ZERO,
            counted: true,
            server_pos: 0,
            generation: 0,
            dp_conn: NO_DP_CONN,

            attempt: 0,
            abandoned: false,
            probe: None,
        }
    }

    /// A slab slot (liveness and request) is one 64-byte cache line, and starts one.
    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
        assert_eq!(std::mem::align_of::<Slot>(), 64);
    }

    #[test]
    fn reused_slots_do_not_answer_to_stale_handles() {
        let mut s = Slab::default();
        let a = s.insert(req());
        assert!(s.remove(a).is_some());
        let b = s.insert(req());
        assert_eq!(a.slot, b.slot);
        assert!(s.get(a).is_none());
        assert!(s.get(b).is_some());
        assert!(s.remove(a).is_none());
        assert_eq!(s.capacity(), 1);
    }
}
