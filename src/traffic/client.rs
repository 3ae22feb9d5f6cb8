//! Clients and their kept-alive connections.
//!
//! kube-proxy balances connections, not requests: the rules act on a connection's first packet
//! and conntrack keeps the rest of it on the same pod. A client that reuses connections sends
//! each request on its oldest idle one; while all are busy it opens another, up to a limit per
//! destination (6, as browsers do), and past it the request waits for one to free up.

use crate::engine::{SimDuration, SimTime};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// The Linux default `net.ipv4.ip_local_port_range` (32768-60999).
pub const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

/// An open TCP connection, pinned to one pod by conntrack.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// Stable within its client (indices shift as connections close).
    pub id: u32,
    pub pod: u32,
    pub container: u16,
    /// The node its packets first entered (a pod client's own node; for an outside client
    /// the node the load balancer or the address picked): the zone its requests leave from.
    pub entry: u32,
    pub one_way: SimDuration,
    /// A request is on it.
    pub busy: bool,
    /// While busy: when the client gives up on the request (and closes the connection).
    pub deadline: SimTime,
    /// While idle: since when.
    pub idle_since: SimTime,
    pub requests: u32,
    pub opened: SimTime,
    /// The data plane's handle for this connection (IPVS counts it), or
    /// [`crate::traffic::request::NO_DP_CONN`]. Opaque to this layer.
    pub dp_conn: u64,
}

/// A request waiting for a free connection.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub sent: SimTime,
    pub counted: bool,
    /// 0 for a first attempt, else the retry's number.
    pub attempt: u8,
}

/// One client address of a stream: 16 bytes, so that a stream's clients (picked at random for
/// each request; hundreds in a busy run) stay in the cache. What only kept-alive connections
/// use is its [`Pool`], kept apart by the caller: reading a client for a request was a cache
/// miss per request when the two were together (measured: 5-10% of the seed model's time).
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: Ipv4Addr,
    /// For in-cluster clients: the pod it runs in.
    pub pod: Option<u32>,
    /// False once its pod is gone: it sends nothing more.
    pub alive: bool,
    next_port: u16,
}

/// A client's open connections and the requests waiting for one.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    pub conns: Vec<Conn>,
    pub waiting: VecDeque<Waiting>,
    next_conn: u32,
}

impl Client {
    pub fn new(addr: Ipv4Addr, pod: Option<u32>) -> Self {
        Client {
            addr,
            pod,
            alive: true,
            next_port: EPHEMERAL_PORTS.0,
        }
    }

    /// The next ephemeral source port, cycling through the range as the kernel does.
    pub fn next_src_port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p >= EPHEMERAL_PORTS.1 {
            EPHEMERAL_PORTS.0
        } else {
            p + 1
        };
        p
    }
}

impl Pool {
    /// A fresh connection id.
    pub fn next_conn_id(&mut self) -> u32 {
        self.next_conn = self.next_conn.wrapping_add(1);
        self.next_conn
    }

    /// The connection with id `id`, if still open.
    pub fn conn_mut(&mut self, id: u32) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    /// Drops connections that are closed by now: idle past `idle_timeout` (the client's) or
    /// past the server's keep-alive timeout, busy past the request's deadline (the client gave
    /// up), or whose pod no longer serves (`alive` is false). `on_close` hears of each with
    /// the instant it closed and whether it ended with a reset (its pod went away).
    pub fn prune(
        &mut self,
        now: SimTime,
        idle_timeout: SimDuration,
        server_keep_alive: impl Fn(u32, u16) -> Option<SimDuration>,
        alive: impl Fn(u32) -> bool,
        mut on_close: impl FnMut(&Conn, SimTime, bool),
    ) {
        self.conns.retain(|c| {
            if !alive(c.pod) {
                on_close(c, now, true);
                return false;
            }
            if c.busy {
                let open = now < c.deadline;
                if !open {
                    on_close(c, c.deadline, false);
                }
                return open;
            }
            let idle = now.since(c.idle_since);
            let limit = match server_keep_alive(c.pod, c.container) {
                Some(k) if k < idle_timeout => k,
                _ => idle_timeout,
            };
            let open = idle < limit;
            if !open {
                on_close(c, c.idle_since + limit, false);
            }
            open
        });
    }

    /// When an idle connection will be closed for idleness, if it stays idle.
    pub fn idle_close_at(
        idle_since: SimTime,
        idle_timeout: SimDuration,
        server_keep_alive: Option<SimDuration>,
    ) -> SimTime {
        let limit = match server_keep_alive {
            Some(k) if k < idle_timeout => k,
            _ => idle_timeout,
        };
        idle_since + limit
    }

    /// The oldest idle connection (after [`prune`](Self::prune)).
    pub fn oldest_idle(&self) -> Option<usize> {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.busy)
            .min_by_key(|(_, c)| c.opened)
            .map(|(i, _)| i)
    }

    /// The earliest instant a busy connection's request times out, if any is busy.
    pub fn earliest_deadline(&self) -> Option<SimTime> {
        self.conns
            .iter()
            .filter(|c| c.busy)
            .map(|c| c.deadline)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(opened: u64, busy: bool) -> Conn {
        Conn {
            entry: 0,
            id: opened as u32,
            pod: 0,
            container: 0,
            one_way: SimDuration::ZERO,
            busy,
            deadline: SimTime::from_nanos(100),
            idle_since: SimTime::from_nanos(opened),
            requests: 0,
            opened: SimTime::from_nanos(opened),
            dp_conn: crate::traffic::request::NO_DP_CONN,
        }
    }

    #[test]
    fn picks_the_oldest_idle_connection_and_prunes_stale_ones() {
        let mut c = Pool {
            conns: vec![conn(5, false), conn(1, true), conn(3, false)],
            ..Pool::default()
        };
        assert_eq!(c.oldest_idle(), Some(2));
        // At t=50 with a 40 ns idle timeout, the conns idle since 5 and 3 are closed.
        c.prune(
            SimTime::from_nanos(50),
            SimDuration::from_nanos(40),
            |_, _| None,
            |_| true,
            |_, _, _| {},
        );
        assert_eq!(c.conns.len(), 1);
        // Past the busy one's deadline, it is closed too.
        c.prune(
            SimTime::from_nanos(100),
            SimDuration::from_nanos(40),
            |_, _| None,
            |_| true,
            |_, _, _| {},
        );
        assert!(c.conns.is_empty());
    }

    #[test]
    fn source_ports_wrap_in_the_ephemeral_range() {
        let mut c = Client::new(Ipv4Addr::new(203, 0, 113, 1), None);
        let n = (EPHEMERAL_PORTS.1 - EPHEMERAL_PORTS.0) as usize + 1;
        let ports: Vec<u16> = (0..=n).map(|_| c.next_src_port()).collect();
        assert_eq!(ports[0], EPHEMERAL_PORTS.0);
        assert_eq!(ports[n - 1], EPHEMERAL_PORTS.1);
        assert_eq!(ports[n], EPHEMERAL_PORTS.0);
    }

    /// A client stays 16 bytes (see [`Client`]): what only kept-alive connections use goes in
    /// its pool.
    #[test]
    fn clients_stay_small() {
        assert_eq!(std::mem::size_of::<Client>(), 16);
    }
}
