//! kube-proxy's IPVS mode as data: one node's virtual servers, their real servers and the
//! kernel's schedulers, printed as `ipvsadm -Ln` prints them.
//!
//! [`IpvsTable::sync`] does what `pkg/proxy/ipvs/proxier.go` (`syncService`, `syncEndpoint`)
//! does on a sync: a virtual server for every ClusterIP:port, every NodeIP:nodePort of this
//! node, every LoadBalancer ingress IP and external IP, each with its real servers (pod
//! IP:targetPort, weight 1, forwarding `Masq`). Virtual servers and real servers are updated in
//! place, so each virtual server keeps **its own scheduler state** across syncs, as the kernel
//! does. A real server whose endpoint went away is not deleted while it still has connections:
//! kube-proxy sets its weight to 0 and deletes it at a later check once its active and inactive
//! connections are gone (`pkg/proxy/ipvs/graceful_termination.go`).
//!
//! [`IpvsTable::route`] schedules a connection's first packet the way
//! `net/netfilter/ipvs/ip_vs_core.c` does (persistence template first, then the scheduler:
//! `ip_vs_rr.c`, `ip_vs_wrr.c`, `ip_vs_lc.c`, `ip_vs_wlc.c`, `ip_vs_sed.c`, `ip_vs_nq.c`,
//! `ip_vs_sh.c`, `ip_vs_dh.c`), and counts the connection on its real server.
//! [`IpvsTable::close`] moves it to the inactive count (FIN_WAIT/TIME_WAIT, or CLOSE after a
//! reset) until the kernel's state timeout expires it. [`IpvsTable::render`] prints the same
//! data as `ipvsadm -Ln`. The iptables rules kube-proxy adds in IPVS mode act here as their
//! decisions: the masquerade marks as a `masquerade` flag, `KUBE-IPVS-FILTER` as a refusal of a
//! port no virtual server has on an address bound to `kube-ipvs0`, `KUBE-SOURCE-RANGES-FIREWALL`
//! as a drop; [`crate::net::ipvs_rules`] prints those rules and their ipsets. Like
//! [`crate::net::iptables`], this module knows nothing of Services as API objects.

use crate::engine::{FxHashMap, FxHashSet};
use crate::model::objects::Protocol;
use crate::net::config::IpvsScheduler;
use crate::net::iptables::{NodeProxyInput, Packet, ProxyServicePort, Verdict};
use crate::net::topology::{categorize_endpoints, TrafficPolicies};
use rand::Rng;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

const SECOND_NS: u64 = 1_000_000_000;

/// How long a closed TCP connection stays in the IPVS table, counted as inactive
/// (`net/netfilter/ipvs/ip_vs_proto_tcp.c`, `tcp_timeouts`): TIME_WAIT and FIN_WAIT 2 min,
/// CLOSE (after a reset) 10 s, SYN_RECV (a handshake that never completed) 1 min.
pub const TIME_WAIT_NS: u64 = 120 * SECOND_NS;
pub const CLOSE_NS: u64 = 10 * SECOND_NS;
pub const SYN_RECV_NS: u64 = 60 * SECOND_NS;

/// kube-proxy's graceful-termination check runs every minute (`rsCheckDeleteInterval`,
/// `pkg/proxy/ipvs/graceful_termination.go`).
pub const GRACEFUL_CHECK_NS: u64 = 60 * SECOND_NS;

/// The first line of `ipvsadm -Ln` on current kernels (`IP_VS_VERSION_CODE` 1.2.1,
/// `IP_VS_CONN_TAB_BITS` 12).
pub const IPVSADM_HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)";

/// How a connection ended, which decides how long the kernel keeps it as inactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// An orderly close (FIN): TIME_WAIT, 2 min.
    Fin,
    /// A reset: CLOSE, 10 s.
    Reset,
    /// The handshake never completed (the SYN was lost): SYN_RECV, 1 min.
    NeverEstablished,
}

impl CloseKind {
    fn linger_ns(self) -> u64 {
        match self {
            CloseKind::Fin => TIME_WAIT_NS,
            CloseKind::Reset => CLOSE_NS,
            CloseKind::NeverEstablished => SYN_RECV_NS,
        }
    }
}

/// A connection counted on a real server: which virtual server and which real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpvsConn {
    pub vs: u32,
    pub dest: u32,
}

/// What kind of address a virtual server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VsKind {
    ClusterIp,
    NodePort,
    /// A LoadBalancer ingress IP or an external IP.
    External,
}

/// A real server (`ipvsadm`'s "RemoteAddress:Port") of a virtual server.
#[derive(Debug, Clone)]
pub struct Dest {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// 1, or 0 while kube-proxy waits for its connections to end before deleting it.
    pub weight: u32,
    /// In the kernel's destination list (false once kube-proxy deleted it; its counters live
    /// on while connections still point at it, as in the kernel's trash list).
    pub linked: bool,
    /// Established connections (`activeconns`).
    pub active: u32,
    /// When each closed connection leaves the table (ns), ascending: the inactive ones.
    lingering: VecDeque<u64>,
    /// The endpoint's index in the last sync's input, while `weight > 0`.
    endpoint: usize,
    /// When kube-proxy set the weight to 0 (graceful deletion), if it did.
    quiesced_at: Option<u64>,
}

impl Dest {
    fn expire(&mut self, now_ns: u64) {
        while self.lingering.front().is_some_and(|&t| t <= now_ns) {
            self.lingering.pop_front();
        }
    }

    /// `inactconns` at `now_ns`.
    pub fn inactive(&self, now_ns: u64) -> u32 {
        let gone = self.lingering.partition_point(|&t| t <= now_ns);
        (self.lingering.len() - gone) as u32
    }

    /// `ip_vs_dest_conn_overhead` (`include/net/ip_vs.h`): `activeconns * 256 + inactconns`.
    fn overhead(&self) -> u64 {
        (u64::from(self.active) << 8) + self.lingering.len() as u64
    }
}

/// The scheduler's own state (`svc->sched_data`).
#[derive(Debug, Clone)]
enum SchedState {
    /// rr: the last destination picked (`None`: the list head).
    Rr { at: Option<u32> },
    /// wrr: `ip_vs_wrr_mark` (current dest, current weight, max weight, gcd step).
    Wrr {
        cl: Option<u32>,
        cw: i64,
        mw: i64,
        di: i64,
    },
    /// sh, dh: the 256-bucket table of destinations.
    Hash(Box<[Option<u32>; 256]>),
    /// lc, wlc, sed, nq keep no state beyond the connection counts.
    Stateless,
}

/// One IPVS virtual server ("service" in `ipvsadm`).
#[derive(Debug, Clone)]
pub struct VirtualServer {
    pub protocol: Protocol,
    pub addr: Ipv4Addr,
    pub port: u16,
    pub kind: VsKind,
    pub scheduler: IpvsScheduler,
    /// `persistent N` (`-p`): ClientIP session affinity with this timeout in seconds.
    pub persistent: Option<u32>,
    /// `namespace/name:port` of the Service port, for traces.
    pub service: String,
    /// Index of the service port in the last sync's input.
    pub service_port: usize,
    /// A Local policy with no local endpoint: kube-proxy still lists the cluster's endpoints
    /// (upstream PR 97081), but packets from outside the cluster are dropped.
    pub drop_external: bool,
    /// `internalTrafficPolicy: Local` with no local endpoint: pods' packets are dropped.
    pub drop_internal: bool,
    /// `externalTrafficPolicy: Local`: NodePort and external addresses keep the client's
    /// address (kube-proxy's `KUBE-NODE-PORT-LOCAL-*` and `KUBE-*-LOCAL` ipsets skip the
    /// masquerade mark).
    pub external_local: bool,
    /// A LoadBalancer ingress IP's `loadBalancerSourceRanges`: clients outside them are
    /// dropped by `KUBE-SOURCE-RANGES-FIREWALL` before IPVS sees the packet (empty: all).
    pub source_ranges: Vec<ipnet::Ipv4Net>,
    /// Deleted by kube-proxy (its Service port went away); kept for connections' counters.
    pub removed: bool,
    dests: Vec<Dest>,
    /// The kernel's destination list, head first (indices into `dests`). `list_add_rcu`
    /// puts a new destination at the head.
    list: Vec<u32>,
    sched: SchedState,
    /// rr: where the last pick sits in `list` (checked before use: the list may change).
    rr_hint: u32,
    /// Picks since every server's lingering connections were last expired.
    since_sweep: u32,
    /// Persistence templates by client address: (destination, expiry ns). Looked up only.
    templates: FxHashMap<u32, (u32, u64)>,
}

/// Why the scheduler picked what it picked, for `kubesim trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub dest: Option<u32>,
    pub reason: String,
}

impl VirtualServer {
    fn new(
        protocol: Protocol,
        addr: Ipv4Addr,
        port: u16,
        kind: VsKind,
        scheduler: IpvsScheduler,
    ) -> Self {
        VirtualServer {
            protocol,
            addr,
            port,
            kind,
            scheduler,
            persistent: None,
            service: String::new(),
            service_port: 0,
            drop_external: false,
            drop_internal: false,
            external_local: false,
            source_ranges: Vec::new(),
            removed: false,
            dests: Vec::new(),
            list: Vec::new(),
            rr_hint: 0,
            since_sweep: 0,
            sched: match scheduler {
                IpvsScheduler::Wrr => SchedState::Wrr {
                    cl: None,
                    cw: 0,
                    mw: 0,
                    di: 1,
                },
                IpvsScheduler::Sh | IpvsScheduler::Dh => SchedState::Hash(Box::new([None; 256])),
                IpvsScheduler::Lc | IpvsScheduler::Wlc | IpvsScheduler::Sed | IpvsScheduler::Nq => {
                    SchedState::Stateless
                }
                // rr, and the schedulers kubesim does not simulate (the scenario warns).
                _ => SchedState::Rr { at: None },
            },
            templates: FxHashMap::default(),
        }
    }

    /// A virtual server on its own, for tests and examples.
    pub fn standalone(scheduler: IpvsScheduler) -> Self {
        Self::new(
            Protocol::Tcp,
            Ipv4Addr::new(10, 96, 0, 1),
            80,
            VsKind::ClusterIp,
            scheduler,
        )
    }

    /// The real servers ever added, by index (a connection's `dest`).
    pub fn dests(&self) -> &[Dest] {
        &self.dests
    }

    /// The kernel's destination list, head first.
    pub fn list(&self) -> impl Iterator<Item = &Dest> {
        self.list.iter().map(|&d| &self.dests[d as usize])
    }

    fn dest_index(&self, ip: Ipv4Addr, port: u16) -> Option<u32> {
        self.dests
            .iter()
            .position(|d| d.ip == ip && d.port == port)
            .map(|i| i as u32)
    }

    /// `ipvsadm -a`: adds a real server at the head of the list (or links an old one again,
    /// with its counters, as the kernel restores a destination from its trash).
    pub fn add_dest(&mut self, ip: Ipv4Addr, port: u16, weight: u32) -> u32 {
        let d = match self.dest_index(ip, port) {
            Some(d) => d,
            None => {
                self.dests.push(Dest {
                    ip,
                    port,
                    weight,
                    linked: false,
                    active: 0,
                    lingering: VecDeque::new(),
                    endpoint: 0,
                    quiesced_at: None,
                });
                (self.dests.len() - 1) as u32
            }
        };
        let dest = &mut self.dests[d as usize];
        dest.weight = weight;
        dest.quiesced_at = None;
        if !dest.linked {
            dest.linked = true;
            self.list.insert(0, d);
        }
        self.dest_changed();
        d
    }

    /// `ipvsadm -e`: a new weight.
    pub fn update_dest(&mut self, d: u32, weight: u32) {
        self.dests[d as usize].weight = weight;
        self.dest_changed();
    }

    /// `ipvsadm -d`: unlinks a real server (`__ip_vs_unlink_dest`, then the scheduler's
    /// `del_dest`).
    pub fn del_dest(&mut self, d: u32) {
        let Some(pos) = self.list.iter().position(|&x| x == d) else {
            return;
        };
        // ip_vs_rr_del_dest: a pointer at the removed entry moves to the entry before it.
        if let SchedState::Rr { at } = &mut self.sched {
            if *at == Some(d) {
                *at = if pos == 0 {
                    None
                } else {
                    Some(self.list[pos - 1])
                };
            }
        }
        self.list.remove(pos);
        self.dests[d as usize].linked = false;
        self.dest_changed();
    }

    /// The schedulers' `add_dest`/`del_dest`/`upd_dest` hooks.
    fn dest_changed(&mut self) {
        let weights: Vec<i64> = self
            .list
            .iter()
            .map(|&d| i64::from(self.dests[d as usize].weight))
            .collect();
        match &mut self.sched {
            SchedState::Wrr { cl, cw, mw, di } => {
                // ip_vs_wrr_dest_changed
                *cl = None;
                let g = weights.iter().filter(|&&w| w > 0).fold(0i64, |g, &w| {
                    if g > 0 {
                        gcd(w, g)
                    } else {
                        w
                    }
                });
                *di = if g > 0 { g } else { 1 };
                *mw = weights.iter().copied().max().unwrap_or(0).max(0) - (*di - 1);
                if *cw > *mw || *cw == 0 {
                    *cw = *mw;
                } else if *di > 1 {
                    *cw = (*cw / *di) * *di + 1;
                }
            }
            SchedState::Hash(buckets) => {
                let weighted = self.scheduler == IpvsScheduler::Sh;
                // ip_vs_sh_reassign / ip_vs_dh_reassign: fill the 256 buckets going round the
                // list; sh stays on a destination for `weight` buckets.
                let n = self.list.len();
                let mut pos = 0usize;
                let mut count = 0i64;
                for b in buckets.iter_mut() {
                    if n == 0 {
                        *b = None;
                        continue;
                    }
                    if pos == n {
                        pos = 0;
                    }
                    *b = Some(self.list[pos]);
                    count += 1;
                    if !weighted || count >= weights[pos] {
                        pos += 1;
                        count = 0;
                    }
                }
            }
            SchedState::Rr { .. } | SchedState::Stateless => {}
        }
    }

    /// The scheduler's pick for a new connection from `src` to `dst` (the kernel's
    /// `schedule`); `None` is "no destination available".
    pub fn schedule(&mut self, src: Ipv4Addr, dst: Ipv4Addr, now_ns: u64) -> Option<u32> {
        // Only lc, wlc, sed and nq read the inactive counts, so only they expire every
        // server's lingering connections at each pick (the kernel's are O(n) too). rr, wrr,
        // sh and dh cost O(1) a connection, as the kernel's do: they sweep once per as many
        // picks as there are servers, which keeps the lists short at O(1) a pick.
        self.since_sweep += 1;
        if matches!(self.sched, SchedState::Stateless)
            || self.since_sweep as usize >= self.list.len()
        {
            self.since_sweep = 0;
            for &d in &self.list {
                self.dests[d as usize].expire(now_ns);
            }
        }
        let usable = |d: &Dest| d.weight > 0;
        match &mut self.sched {
            SchedState::Rr { at } => {
                // ip_vs_rr_schedule: from the entry after the last pick, once round the list.
                let n = self.list.len();
                let start = at
                    .and_then(|a| {
                        // Where the last pick sits: at its hint unless the list changed.
                        let hint = self.rr_hint as usize;
                        if self.list.get(hint) == Some(&a) {
                            Some(hint)
                        } else {
                            self.list.iter().position(|&x| x == a)
                        }
                    })
                    .map_or(0, |p| p + 1);
                let (i, pick) = (0..n)
                    .map(|i| ((start + i) % n, self.list[(start + i) % n]))
                    .find(|&(_, d)| usable(&self.dests[d as usize]))?;
                *at = Some(pick);
                self.rr_hint = i as u32;
                Some(pick)
            }
            SchedState::Wrr { cl, cw, mw, di } => {
                wrr_schedule(&self.list, &self.dests, cl, cw, *mw, *di)
            }
            SchedState::Hash(buckets) => {
                let key = if self.scheduler == IpvsScheduler::Sh {
                    sh_bucket(src)
                } else {
                    dh_bucket(dst)
                };
                buckets[key].filter(|&d| usable(&self.dests[d as usize]))
            }
            SchedState::Stateless => {
                let mut least: Option<u32> = None;
                for &d in &self.list {
                    let dest = &self.dests[d as usize];
                    if !usable(dest) {
                        continue;
                    }
                    let Some(l) = least else {
                        least = Some(d);
                        if self.scheduler == IpvsScheduler::Nq && dest.active == 0 {
                            break;
                        }
                        continue;
                    };
                    let best = &self.dests[l as usize];
                    let better = match self.scheduler {
                        // ip_vs_lc_schedule: strictly less overhead.
                        IpvsScheduler::Lc => dest.overhead() < best.overhead(),
                        // ip_vs_wlc_schedule: loh * w_d > doh * w_least.
                        IpvsScheduler::Wlc => {
                            best.overhead() * u64::from(dest.weight)
                                > dest.overhead() * u64::from(best.weight)
                        }
                        // ip_vs_sed_schedule / ip_vs_nq_schedule: (active + 1) / weight.
                        _ => {
                            (u64::from(best.active) + 1) * u64::from(dest.weight)
                                > (u64::from(dest.active) + 1) * u64::from(best.weight)
                        }
                    };
                    if self.scheduler == IpvsScheduler::Nq && dest.active == 0 {
                        // ip_vs_nq_schedule: an idle server is taken at once.
                        least = Some(d);
                        break;
                    }
                    if better {
                        least = Some(d);
                    }
                }
                least
            }
        }
    }

    /// Persistence, then the scheduler (`ip_vs_sched_persist` / `ip_vs_schedule`); counts the
    /// new connection as active on the chosen real server.
    pub fn connect(&mut self, src: Ipv4Addr, dst: Ipv4Addr, now_ns: u64) -> Option<u32> {
        let d = self.pick(src, dst, now_ns)?;
        self.dests[d as usize].active += 1;
        Some(d)
    }

    fn pick(&mut self, src: Ipv4Addr, dst: Ipv4Addr, now_ns: u64) -> Option<u32> {
        let Some(timeout) = self.persistent else {
            return self.schedule(src, dst, now_ns);
        };
        let key = u32::from(src);
        let expires = now_ns + u64::from(timeout) * SECOND_NS;
        if let Some(&(d, until)) = self.templates.get(&key) {
            // A template to a quiesced destination is expired (kube-proxy sets
            // net/ipv4/vs/expire_quiescent_template = 1).
            let dest = &self.dests[d as usize];
            if until > now_ns && dest.linked && dest.weight > 0 {
                self.templates.insert(key, (d, expires));
                return Some(d);
            }
        }
        let d = self.schedule(src, dst, now_ns)?;
        self.templates.insert(key, (d, expires));
        Some(d)
    }

    /// The connection on `dest` ended at `at_ns`: it lingers as inactive.
    pub fn close(&mut self, dest: u32, kind: CloseKind, at_ns: u64) {
        let d = &mut self.dests[dest as usize];
        d.active = d.active.saturating_sub(1);
        let t = at_ns + kind.linger_ns();
        // Closes arrive almost in time order: insert from the back.
        let mut i = d.lingering.len();
        while i > 0 && d.lingering[i - 1] > t {
            i -= 1;
        }
        d.lingering.insert(i, t);
    }

    /// What [`connect`](Self::connect) would pick now and why, without changing anything.
    pub fn explain(&self, src: Ipv4Addr, dst: Ipv4Addr, now_ns: u64) -> Choice {
        let mut probe = self.clone();
        let addr = |d: u32| {
            let x = &self.dests[d as usize];
            format!("{}:{}", x.ip, x.port)
        };
        if let Some(timeout) = self.persistent {
            if let Some(&(d, until)) = self.templates.get(&u32::from(src)) {
                let x = &self.dests[d as usize];
                if until > now_ns && x.linked && x.weight > 0 {
                    return Choice {
                        dest: Some(d),
                        reason: format!(
                            "persistent {timeout}: {src} has a template to {}:{} (refreshed for another {timeout} s)",
                            x.ip, x.port
                        ),
                    };
                }
            }
        }
        let before = match &self.sched {
            SchedState::Rr { at } => *at,
            SchedState::Wrr { cl, .. } => *cl,
            _ => None,
        };
        let dest = probe.schedule(src, dst, now_ns);
        let Some(d) = dest else {
            return Choice {
                dest,
                reason: format!(
                    "{}: no destination available (no real server with weight > 0)",
                    self.scheduler.as_str()
                ),
            };
        };
        let x = &probe.dests[d as usize];
        let mut reason = match self.scheduler {
            IpvsScheduler::Lc | IpvsScheduler::Wlc => format!(
                "{}: {} active, {} inactive (overhead {}{}), lowest of {}",
                self.scheduler.as_str(),
                x.active,
                x.lingering.len(),
                x.overhead(),
                if self.scheduler == IpvsScheduler::Wlc {
                    format!(" / weight {}", x.weight)
                } else {
                    String::new()
                },
                probe
                    .list
                    .iter()
                    .filter(|&&e| probe.dests[e as usize].weight > 0)
                    .map(|&e| format!("{} ({})", addr(e), probe.dests[e as usize].overhead()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            IpvsScheduler::Sed | IpvsScheduler::Nq => format!(
                "{}: {} active, expected delay (active + 1) / weight = {}/{}{}",
                self.scheduler.as_str(),
                x.active,
                x.active + 1,
                x.weight,
                if self.scheduler == IpvsScheduler::Nq && x.active == 0 {
                    ", idle: taken at once"
                } else {
                    ", lowest"
                }
            ),
            IpvsScheduler::Sh => format!(
                "sh: source {src} hashes to bucket {} of 256",
                sh_bucket(src)
            ),
            IpvsScheduler::Dh => format!(
                "dh: destination {dst} hashes to bucket {} of 256",
                dh_bucket(dst)
            ),
            IpvsScheduler::Wrr => match &probe.sched {
                SchedState::Wrr { cw, .. } => {
                    format!("wrr: weight {} >= current weight {cw}", x.weight)
                }
                _ => String::from("wrr"),
            },
            _ => match before {
                Some(b) => format!("rr: next after {}", addr(b)),
                None => "rr: first in the list".to_string(),
            },
        };
        if self.persistent.is_some() {
            reason.push_str(&format!("; new persistence template for {src}"));
        }
        Choice { dest, reason }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `ip_vs_sh_hashkey` without the port option: `hash_32(ntohl(saddr), 8)`
/// (`include/linux/hash.h`: multiply by `GOLDEN_RATIO_32`, keep the top bits).
pub fn sh_bucket(src: Ipv4Addr) -> usize {
    (u32::from(src).wrapping_mul(0x61C8_8647) >> 24) as usize
}

/// `ip_vs_dh_hashkey`: `(ntohl(daddr) * 2654435761) & 255`.
pub fn dh_bucket(dst: Ipv4Addr) -> usize {
    (u32::from(dst).wrapping_mul(2_654_435_761) & 0xff) as usize
}

/// `ip_vs_wrr_schedule`, over the list with the head as the position past its end.
fn wrr_schedule(
    list: &[u32],
    dests: &[Dest],
    cl: &mut Option<u32>,
    cw: &mut i64,
    mw: i64,
    di: i64,
) -> Option<u32> {
    if mw == 0 {
        return None;
    }
    let n = list.len();
    // Positions 0..n are entries; n is the head.
    let pos_of = |d: Option<u32>| d.and_then(|d| list.iter().position(|&x| x == d));
    let last = pos_of(*cl).unwrap_or(n);
    let mut cur = last;
    let mut stop: Option<usize> = None;
    let mut last_pass = false;
    let mut restarted = false;
    loop {
        let start = if cur == n { 0 } else { cur + 1 };
        for (p, &d) in list.iter().enumerate().skip(start) {
            if i64::from(dests[d as usize].weight) >= *cw {
                *cl = Some(d);
                return Some(d);
            }
            if stop == Some(p) {
                *cl = Some(d);
                return None;
            }
        }
        cur = n;
        *cw -= di;
        if *cw <= 0 {
            *cw = mw;
            if last_pass || last == n {
                *cl = None;
                return None;
            }
            restarted = true;
        }
        last_pass = *cw <= di;
        if last_pass && restarted && last != n {
            stop = Some(last);
        }
    }
}

impl IpvsScheduler {
    /// The name `ipvsadm` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            IpvsScheduler::Rr => "rr",
            IpvsScheduler::Wrr => "wrr",
            IpvsScheduler::Lc => "lc",
            IpvsScheduler::Wlc => "wlc",
            IpvsScheduler::Lblc => "lblc",
            IpvsScheduler::Lblcr => "lblcr",
            IpvsScheduler::Sh => "sh",
            IpvsScheduler::Dh => "dh",
            IpvsScheduler::Sed => "sed",
            IpvsScheduler::Nq => "nq",
            IpvsScheduler::Mh => "mh",
        }
    }

    /// Whether kubesim models this scheduler (the others run as rr, with a warning).
    pub fn is_simulated(self) -> bool {
        !matches!(
            self,
            IpvsScheduler::Lblc | IpvsScheduler::Lblcr | IpvsScheduler::Mh
        )
    }

    /// The scheduler that actually runs.
    pub fn effective(self) -> IpvsScheduler {
        if self.is_simulated() {
            self
        } else {
            IpvsScheduler::Rr
        }
    }
}

/// One node's IPVS table, as kube-proxy last synced it, with the kernel's connection counts.
#[derive(Debug, Clone)]
pub struct IpvsTable {
    scheduler: IpvsScheduler,
    vss: Vec<VirtualServer>,
    /// Live virtual servers by (protocol, address, port). Looked up only, never iterated.
    index: FxHashMap<(Protocol, u32, u16), u32>,
    /// Real servers at weight 0 waiting for the graceful-termination check.
    graceful: u32,
    /// The last graceful-termination check applied (its index: `t / 60 s`).
    checked_tick: u64,
    /// The pod network: sources inside it are pods.
    cluster_cidr: ipnet::Ipv4Net,
    /// The addresses kube-proxy binds to `kube-ipvs0` (every ClusterIP, and the external and
    /// LoadBalancer IPs that are not the node's own): the `KUBE-IPVS-IPS` set. Looked up only.
    bound: FxHashSet<u32>,
}

impl IpvsTable {
    pub fn new(scheduler: IpvsScheduler) -> Self {
        IpvsTable {
            scheduler: scheduler.effective(),
            vss: Vec::new(),
            index: FxHashMap::default(),
            graceful: 0,
            checked_tick: 0,
            cluster_cidr: Default::default(),
            bound: FxHashSet::default(),
        }
    }

    pub fn scheduler(&self) -> IpvsScheduler {
        self.scheduler
    }

    /// Every virtual server ever created, by index (a connection's `vs`).
    pub fn virtual_servers(&self) -> &[VirtualServer] {
        &self.vss
    }

    /// Whether `ip` is bound to the node's `kube-ipvs0` (in the `KUBE-IPVS-IPS` set).
    pub fn is_bound(&self, ip: Ipv4Addr) -> bool {
        self.bound.contains(&u32::from(ip))
    }

    /// The live virtual server for a destination, if any.
    pub fn lookup(&self, protocol: Protocol, addr: Ipv4Addr, port: u16) -> Option<u32> {
        self.index.get(&(protocol, u32::from(addr), port)).copied()
    }

    /// kube-proxy's sync: creates, updates and deletes virtual servers and real servers to
    /// match `input`. New real servers are added in Go map order (`sets.UnsortedList`), which
    /// is random: `rng` shuffles them.
    pub fn sync(&mut self, input: &NodeProxyInput, now_ns: u64, rng: &mut impl Rng) {
        self.graceful_check(now_ns);
        self.cluster_cidr = input.cluster_cidr;
        self.bound.clear();
        let node_ip = u32::from(input.node_ip);
        let mut wanted: Vec<(Protocol, Ipv4Addr, u16, VsKind, usize)> = Vec::new();
        // Load-balancer ingress IPs with source ranges: (protocol, address, port, port index).
        let mut ranged: Vec<(Protocol, Ipv4Addr, u16, usize)> = Vec::new();
        for (k, sp) in input.services.iter().enumerate() {
            let Some(cip) = sp.cluster_ip else { continue };
            wanted.push((sp.protocol, cip, sp.port, VsKind::ClusterIp, k));
            // syncService(..., bindAddr): ClusterIPs always, other addresses unless the node
            // already has them.
            self.bound.insert(u32::from(cip));
            for &ip in sp.external_ips.iter().chain(&sp.load_balancer_ips) {
                if u32::from(ip) != node_ip {
                    self.bound.insert(u32::from(ip));
                }
            }
            for &ip in &sp.external_ips {
                wanted.push((sp.protocol, ip, sp.port, VsKind::External, k));
            }
            for &ip in &sp.load_balancer_ips {
                wanted.push((sp.protocol, ip, sp.port, VsKind::External, k));
                if !sp.source_ranges.is_empty() {
                    ranged.push((sp.protocol, ip, sp.port, k));
                }
            }
            if let Some(np) = sp.node_port {
                wanted.push((sp.protocol, input.node_ip, np, VsKind::NodePort, k));
            }
        }
        let mut live = vec![false; self.vss.len()];
        for (protocol, addr, port, kind, k) in wanted {
            let key = (protocol, u32::from(addr), port);
            let v = match self.index.get(&key) {
                Some(&v) => v,
                None => {
                    self.vss.push(VirtualServer::new(
                        protocol,
                        addr,
                        port,
                        kind,
                        self.scheduler,
                    ));
                    live.push(false);
                    let v = (self.vss.len() - 1) as u32;
                    self.index.insert(key, v);
                    v
                }
            };
            if live[v as usize] {
                // Two Service ports claiming one address and port: the first wins.
                continue;
            }
            live[v as usize] = true;
            let sp = &input.services[k];
            self.sync_endpoints(v, k, sp, kind, now_ns, rng);
            self.vss[v as usize].source_ranges.clear();
        }
        for (protocol, addr, port, k) in ranged {
            if let Some(v) = self.lookup(protocol, addr, port) {
                if self.vss[v as usize].service_port == k {
                    self.vss[v as usize].source_ranges = input.services[k].source_ranges.clone();
                }
            }
        }
        for (v, vs) in self.vss.iter_mut().enumerate() {
            if !vs.removed && !live[v] {
                // cleanLegacyService: the virtual server and its real servers go at once.
                vs.removed = true;
                self.index
                    .remove(&(vs.protocol, u32::from(vs.addr), vs.port));
                for d in vs.list.clone() {
                    if vs.dests[d as usize].quiesced_at.is_some() {
                        self.graceful -= 1;
                    }
                    vs.del_dest(d);
                }
            }
        }
    }

    /// `syncService` and `syncEndpoint` for one virtual server.
    fn sync_endpoints(
        &mut self,
        v: u32,
        k: usize,
        sp: &ProxyServicePort,
        kind: VsKind,
        now_ns: u64,
        rng: &mut impl Rng,
    ) {
        let policies = TrafficPolicies {
            internal_local: sp.internal_policy_local,
            external_local: sp.external_policy_local,
            externally_accessible: sp.node_port.is_some()
                || !sp.external_ips.is_empty()
                || !sp.load_balancer_ips.is_empty(),
        };
        let cat = categorize_endpoints(&sp.endpoints, policies);
        let cluster = cat.cluster.clone().unwrap_or_default();
        let only_local = match kind {
            VsKind::ClusterIp => sp.internal_policy_local,
            VsKind::NodePort | VsKind::External => sp.external_policy_local,
        };
        let vs = &mut self.vss[v as usize];
        vs.service = format!(
            "{}/{}{}",
            sp.namespace,
            sp.name,
            sp.port_name
                .as_deref()
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
        );
        vs.service_port = k;
        vs.persistent = sp.affinity_timeout_seconds;
        vs.drop_external = false;
        vs.drop_internal = false;
        vs.external_local = sp.external_policy_local;
        let mut endpoints = if only_local {
            let local = cat.local.clone().unwrap_or_default();
            if local.is_empty() {
                // Upstream PR 97081: with no local endpoint the cluster's are used, and the
                // packets Local forbids are dropped.
                if cat.has_any {
                    vs.drop_external = kind != VsKind::ClusterIp;
                    vs.drop_internal = kind == VsKind::ClusterIp;
                }
                cluster
            } else {
                local
            }
        } else {
            cluster
        };
        // Go map order: random.
        for i in (1..endpoints.len()).rev() {
            let j = rng.random_range(0..=i);
            endpoints.swap(i, j);
        }
        let wanted: Vec<(Ipv4Addr, u16, usize)> = endpoints
            .iter()
            .map(|&e| (sp.endpoints[e].ip, sp.endpoints[e].port, e))
            .collect();
        for &(ip, port, e) in &wanted {
            match vs.dest_index(ip, port) {
                Some(d) if vs.dests[d as usize].linked => {
                    if vs.dests[d as usize].quiesced_at.is_some() {
                        // Back while being deleted gracefully: kube-proxy deletes it and
                        // adds it again (MoveRSOutofGracefulDeleteList, AddRealServer).
                        self.graceful -= 1;
                        vs.del_dest(d);
                        vs.add_dest(ip, port, 1);
                    }
                    vs.dests[d as usize].endpoint = e;
                }
                _ => {
                    let d = vs.add_dest(ip, port, 1);
                    vs.dests[d as usize].endpoint = e;
                }
            }
        }
        let stale: Vec<u32> = vs
            .list
            .iter()
            .copied()
            .filter(|&d| {
                let x = &vs.dests[d as usize];
                x.quiesced_at.is_none() && !wanted.iter().any(|w| w.0 == x.ip && w.1 == x.port)
            })
            .collect();
        for d in stale {
            // GracefulDeleteRS: deleted at once without connections, else weight 0.
            let x = &mut vs.dests[d as usize];
            x.expire(now_ns);
            if x.active == 0 && x.lingering.is_empty() {
                vs.del_dest(d);
            } else {
                x.quiesced_at = Some(now_ns);
                vs.update_dest(d, 0);
                self.graceful += 1;
            }
        }
    }

    /// kube-proxy's graceful-termination check (every minute from its start): real servers at
    /// weight 0 with no active and no inactive connection left are deleted. Applied lazily:
    /// a real server at weight 0 gets no new connections, so once its counts reach zero they
    /// stay there, and the check at the latest tick decides as the first one would have.
    pub fn graceful_check(&mut self, now_ns: u64) {
        if self.graceful == 0 {
            return;
        }
        let tick = now_ns / GRACEFUL_CHECK_NS;
        if tick <= self.checked_tick {
            return;
        }
        self.checked_tick = tick;
        let t = tick * GRACEFUL_CHECK_NS;
        for vs in self.vss.iter_mut().filter(|v| !v.removed) {
            let done: Vec<u32> = vs
                .list
                .iter()
                .copied()
                .filter(|&d| {
                    let x = &vs.dests[d as usize];
                    x.quiesced_at.is_some_and(|q| q < t)
                        && x.active == 0
                        && x.lingering.back().is_none_or(|&e| e <= t)
                })
                .collect();
            for d in done {
                vs.dests[d as usize].quiesced_at = None;
                vs.del_dest(d);
                self.graceful -= 1;
            }
        }
    }

    /// Schedules a connection's first packet (`ip_vs_in`): the virtual server for its
    /// destination, persistence, the scheduler, the real server's counts. Returns the verdict
    /// (`Dnat` with the endpoint's index in the last sync's input) and the connection to
    /// [`close`](Self::close) when it ends.
    pub fn route(&mut self, pkt: &Packet, now_ns: u64) -> (Verdict, Option<IpvsConn>) {
        let Some(v) = self.lookup(pkt.protocol, pkt.dst, pkt.dst_port) else {
            if self.is_bound(pkt.dst) {
                // The address is on kube-ipvs0 but no virtual server has this port: filter
                // INPUT's KUBE-IPVS-FILTER rejects a new connection to KUBE-IPVS-IPS
                // (`pkg/proxy/ipvs/proxier.go`, `writeIptablesRules`; kubernetes issue 72236).
                return (Verdict::Reject, None);
            }
            return (Verdict::NotService, None);
        };
        self.graceful_check(now_ns);
        let from_pod = self.cluster_cidr.contains(&pkt.src);
        let vs = &mut self.vss[v as usize];
        if !vs.source_ranges.is_empty() && !vs.source_ranges.iter().any(|r| r.contains(&pkt.src)) {
            // filter INPUT: KUBE-PROXY-FIREWALL -> KUBE-SOURCE-RANGES-FIREWALL -j DROP, before
            // IPVS (LOCAL_IN, after filter) sees the packet.
            return (Verdict::Drop, None);
        }
        if (vs.drop_external && !from_pod) || (vs.drop_internal && from_pod) {
            return (Verdict::Drop, None);
        }
        let Some(d) = vs.connect(pkt.src, pkt.dst, now_ns) else {
            // ip_vs_leave: no destination: ICMP port unreachable.
            return (Verdict::Reject, None);
        };
        let dest = &vs.dests[d as usize];
        let masquerade = match vs.kind {
            // KUBE-SERVICES ! -s <clusterCIDR> -m set --match-set KUBE-CLUSTER-IP -j KUBE-MARK-MASQ
            VsKind::ClusterIp => !from_pod,
            // KUBE-NODE-PORT / KUBE-LOAD-BALANCER / KUBE-EXTERNAL-IP: masquerade unless Local.
            VsKind::NodePort | VsKind::External => !vs.external_local,
        } || pkt.src == dest.ip; // KUBE-LOOP-BACK: a pod reaching itself
        (
            Verdict::Dnat {
                ip: dest.ip,
                port: dest.port,
                masquerade,
                endpoint_index: dest.endpoint,
                service_port_index: vs.service_port,
            },
            Some(IpvsConn { vs: v, dest: d }),
        )
    }

    /// A connection ended at `at_ns`.
    pub fn close(&mut self, conn: IpvsConn, kind: CloseKind, at_ns: u64) {
        if let Some(vs) = self.vss.get_mut(conn.vs as usize) {
            if (conn.dest as usize) < vs.dests.len() {
                vs.close(conn.dest, kind, at_ns);
            }
        }
    }

    /// The table as `ipvsadm -Ln` prints it at `now_ns` (`ipvsadm.c`: `list_all`,
    /// `print_title`, `print_service_entry`; services and destinations sorted by
    /// `ipvs_cmp_services` / `ipvs_cmp_dests`).
    pub fn render(&self, now_ns: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{IPVSADM_HEADER}");
        let mut vss: Vec<&VirtualServer> = self.vss.iter().filter(|v| !v.removed).collect();
        insertion_sort(&mut vss, |a, b| cmp_services(a, b));
        if !vss.is_empty() {
            out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
            out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
        for vs in vss {
            let proto = match vs.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            let mut name = format!("{proto}  {}:{}", vs.addr, vs.port);
            name.truncate(33);
            let _ = write!(out, "{name} {}", vs.scheduler.as_str());
            if let Some(t) = vs.persistent {
                let _ = write!(out, " persistent {t}");
            }
            out.push('\n');
            let mut dests: Vec<&Dest> = vs.list().collect();
            insertion_sort(&mut dests, |a, b| cmp_dests(a, b));
            for d in dests {
                let mut addr = format!("{}:{}", d.ip, d.port);
                addr.truncate(28);
                let _ = writeln!(
                    out,
                    "  -> {addr:<28} {:<7} {:<6} {:<10} {:<10}",
                    "Masq",
                    d.weight,
                    d.active,
                    d.inactive(now_ns)
                );
            }
        }
        out
    }
}

/// `ipvs_cmp_services` (libipvs): fwmark, family, protocol, then `ntohl(a) - ntohl(b)` as a C
/// `int` (so 10.x sorts after 192.168.x: the difference wraps), then the port.
fn cmp_services(a: &VirtualServer, b: &VirtualServer) -> i64 {
    let pa = proto_number(a.protocol);
    let pb = proto_number(b.protocol);
    if pa != pb {
        return i64::from(pa) - i64::from(pb);
    }
    let r = u32::from(a.addr).wrapping_sub(u32::from(b.addr)) as i32;
    if r != 0 {
        return i64::from(r);
    }
    i64::from(a.port) - i64::from(b.port)
}

/// `ipvs_cmp_dests` (libipvs): the address difference as a C `int`, then the port.
fn cmp_dests(a: &Dest, b: &Dest) -> i64 {
    let r = u32::from(a.ip).wrapping_sub(u32::from(b.ip)) as i32;
    if r != 0 {
        return i64::from(r);
    }
    i64::from(a.port) - i64::from(b.port)
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// A stable insertion sort by a C-style comparator, which need not be a total order (libipvs'
/// wrapping comparison is not, in general; `slice::sort_by` may panic on such an order).
fn insertion_sort<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> i64) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(&v[j - 1], &v[j]) > 0 {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, 0, last)
    }

    const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

    /// A virtual server with real servers added in this order (each goes to the list head).
    fn vs(scheduler: IpvsScheduler, adds: &[(u8, u32)]) -> VirtualServer {
        let mut v = VirtualServer::standalone(scheduler);
        for &(last, weight) in adds {
            v.add_dest(ip(last), 80, weight);
        }
        v
    }

    /// The last octet of each of `n` new connections' real server.
    fn picks(v: &mut VirtualServer, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let d = v.connect(CLIENT, VIP, 0).expect("a destination");
                v.dests()[d as usize].ip.octets()[3]
            })
            .collect()
    }

    #[test]
    fn new_real_servers_go_to_the_head_of_the_list() {
        let v = vs(IpvsScheduler::Rr, &[(2, 1), (3, 1), (4, 1)]);
        let order: Vec<u8> = v.list().map(|d| d.ip.octets()[3]).collect();
        assert_eq!(order, [4, 3, 2]);
    }

    #[test]
    fn rr_cycles_the_list_and_survives_real_server_changes() {
        let mut v = vs(IpvsScheduler::Rr, &[(2, 1), (3, 1), (4, 1)]);
        assert_eq!(picks(&mut v, 4), [4, 3, 2, 4]);
        // The pointer is at .4; deleting .3 (after it) changes nothing for the next pick.
        let d3 = v.dest_index(ip(3), 80).unwrap();
        v.del_dest(d3);
        assert_eq!(picks(&mut v, 1), [2]);
        // Deleting the entry the pointer is at moves it to the entry before: the next pick is
        // the one after the deleted entry (ip_vs_rr_del_dest).
        let d2 = v.dest_index(ip(2), 80).unwrap();
        v.add_dest(ip(5), 80, 1); // list: .5 .4 .2, pointer at .2
        v.del_dest(d2); // pointer -> .4
        assert_eq!(picks(&mut v, 3), [5, 4, 5]);
        // A quiesced (weight 0) real server is skipped.
        let d4 = v.dest_index(ip(4), 80).unwrap();
        v.update_dest(d4, 0);
        assert_eq!(picks(&mut v, 2), [5, 5]);
    }

    #[test]
    fn lc_picks_the_least_active_times_256_plus_inactive_ties_to_the_first() {
        let mut v = vs(IpvsScheduler::Lc, &[(2, 1), (3, 1), (4, 1)]);
        // All 0: the first in the list (.4), then .3 (0 < 256), then .2, then .4 again.
        assert_eq!(picks(&mut v, 4), [4, 3, 2, 4]);
        // .3's connection closes: 0 active, 1 inactive = overhead 1, the lowest.
        let d3 = v.dest_index(ip(3), 80).unwrap();
        v.close(d3, CloseKind::Fin, 0);
        assert_eq!(v.dests()[d3 as usize].active, 0);
        assert_eq!(v.dests()[d3 as usize].inactive(0), 1);
        assert_eq!(picks(&mut v, 1), [3]);
        // Now .4: 2 active (512), .3: 1 active + 1 inactive (257), .2: 1 active (256).
        assert_eq!(picks(&mut v, 1), [2]);
        // 300 inactive outweigh one active connection (300 > 256) until they expire.
        let mut v = vs(IpvsScheduler::Lc, &[(2, 1), (3, 1)]);
        let d3 = v.dest_index(ip(3), 80).unwrap();
        let d2 = v.dest_index(ip(2), 80).unwrap();
        for _ in 0..300 {
            v.dests[d3 as usize].active += 1;
            v.close(d3, CloseKind::Fin, 0);
        }
        v.dests[d2 as usize].active = 1;
        assert_eq!(v.connect(CLIENT, VIP, 1).map(|d| d == d2), Some(true));
        // 2 minutes later (TIME_WAIT) the inactive ones are gone: .3 has overhead 0.
        assert_eq!(v.connect(CLIENT, VIP, TIME_WAIT_NS), Some(d3));
    }

    #[test]
    fn wlc_divides_the_overhead_by_the_weight() {
        // list: .3 (weight 3), .2 (weight 1). Overheads 256 each active connection.
        let mut v = vs(IpvsScheduler::Wlc, &[(2, 1), (3, 3)]);
        // .3 first (0/3 vs 0/1, ties keep the first); then .2 (256/3 > 0/1); then
        // .3 (256/3 < 256/1), .3 (512/3 < 256), then 768/3 = 256 = 256/1: ties keep .3.
        assert_eq!(picks(&mut v, 5), [3, 2, 3, 3, 3]);
        assert_eq!(picks(&mut v, 1), [2]); // 1024/3 > 256
    }

    #[test]
    fn sed_and_nq_use_active_plus_one_and_nq_takes_an_idle_server_at_once() {
        // list: .3 (weight 5, 1 active), .2 (weight 1, idle).
        for (s, want) in [(IpvsScheduler::Sed, 3u8), (IpvsScheduler::Nq, 2u8)] {
            let mut v = vs(s, &[(2, 1), (3, 5)]);
            let d3 = v.dest_index(ip(3), 80).unwrap();
            v.dests[d3 as usize].active = 1;
            // sed: (1+1)/5 < (0+1)/1, so .3; nq: .2 is idle, taken at once.
            assert_eq!(picks(&mut v, 1), [want], "{s:?}");
        }
    }

    #[test]
    fn wrr_gives_each_real_server_its_weight_in_turn() {
        // list: .4 (4), .3 (3), .2 (2). Added one by one: after .2 alone the step is 2 and
        // the max weight 2 - (2 - 1) = 1, so the current weight starts at 1 and the later adds
        // keep it (ip_vs_wrr_dest_changed): one round at 1, then the classic cycle
        // cw = 4: .4; cw = 3: .4 .3; cw = 2: .4 .3 .2; cw = 1: .4 .3 .2.
        let mut v = vs(IpvsScheduler::Wrr, &[(2, 2), (3, 3), (4, 4)]);
        assert_eq!(picks(&mut v, 13), [4, 3, 2, 4, 4, 3, 4, 3, 2, 4, 3, 2, 4]);
        let mut v = vs(IpvsScheduler::Wrr, &[(2, 1), (3, 1)]);
        assert_eq!(picks(&mut v, 4), [3, 2, 3, 2]);
    }

    #[test]
    fn sh_and_dh_hash_into_a_256_bucket_table_filled_round_the_list() {
        // hash_32(203.0.113.1, 8) = 50, 203.0.113.2 -> 147 (computed by hand from
        // 0x61C88647); buckets go .4 .3 .2 .4 ... so bucket b holds list[b % 3].
        assert_eq!(sh_bucket(CLIENT), 50);
        assert_eq!(sh_bucket(Ipv4Addr::new(203, 0, 113, 2)), 147);
        let mut v = vs(IpvsScheduler::Sh, &[(2, 1), (3, 1), (4, 1)]);
        assert_eq!(picks(&mut v, 2), [2, 2]); // 50 % 3 = 2: list[2] = .2, every time
        let d = v.connect(Ipv4Addr::new(203, 0, 113, 2), VIP, 0).unwrap();
        assert_eq!(v.dests()[d as usize].ip, ip(4)); // 147 % 3 = 0
                                                     // sh stays on a real server for `weight` buckets: .4 (2), .3, .2 -> period 4.
        let mut v = vs(IpvsScheduler::Sh, &[(2, 1), (3, 1), (4, 2)]);
        assert_eq!(picks(&mut v, 1), [3]); // 50 % 4 = 2: .4 .4 [.3] .2
                                           // dh hashes the destination: (10.96.0.1 * 2654435761) & 255 = 177; 177 % 3 = 0.
        assert_eq!(dh_bucket(VIP), 177);
        let mut v = vs(IpvsScheduler::Dh, &[(2, 1), (3, 1), (4, 1)]);
        assert_eq!(picks(&mut v, 2), [4, 4]);
        // A bucket on a quiesced real server: no destination.
        let d4 = v.dest_index(ip(4), 80).unwrap();
        v.update_dest(d4, 0);
        assert_eq!(v.connect(CLIENT, VIP, 0), None);
    }

    #[test]
    fn persistence_keeps_a_client_on_its_real_server_until_the_template_expires() {
        let mut v = vs(IpvsScheduler::Rr, &[(2, 1), (3, 1)]);
        v.persistent = Some(10);
        let other = Ipv4Addr::new(203, 0, 113, 9);
        let first = v.connect(CLIENT, VIP, 0).unwrap();
        assert_eq!(v.connect(other, VIP, 0), Some(1 - first));
        // Refreshed by each new connection: still there 9 s after the last one.
        assert_eq!(v.connect(CLIENT, VIP, 9 * SECOND_NS), Some(first));
        assert_eq!(v.connect(CLIENT, VIP, 18 * SECOND_NS), Some(first));
        // 10 s after the last, the template is gone and rr moves on.
        assert_eq!(v.connect(CLIENT, VIP, 28 * SECOND_NS), Some(first));
        assert_eq!(v.connect(CLIENT, VIP, 38 * SECOND_NS + 1), Some(1 - first));
    }

    /// The lesson's Service on node-1 with its NodePort 30001, over local pods `10.244.0.{e}:80`.
    fn input(endpoints: &[u8]) -> NodeProxyInput {
        use crate::net::testkit::{ep, node, svc};
        let eps = endpoints
            .iter()
            .map(|&e| ep(&ip(e).to_string(), 80, true))
            .collect();
        node(vec![ProxyServicePort {
            node_port: Some(30001),
            ..svc("http-svc", "10.96.24.104", 8080, eps)
        }])
    }

    fn nodeport(t: &IpvsTable) -> &VirtualServer {
        let v = t
            .lookup(Protocol::Tcp, Ipv4Addr::new(192, 168, 0, 24), 30001)
            .unwrap();
        &t.virtual_servers()[v as usize]
    }

    #[test]
    fn a_removed_endpoint_with_connections_stays_at_weight_0_until_they_are_gone() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut t = IpvsTable::new(IpvsScheduler::Rr);
        t.sync(&input(&[2, 3]), 0, &mut rng);
        let pkt = Packet {
            src: CLIENT,
            src_port: 40000,
            dst: Ipv4Addr::new(192, 168, 0, 24),
            dst_port: 30001,
            protocol: Protocol::Tcp,
            local_origin: false,
        };
        let (_, a) = t.route(&pkt, 0);
        let (_, b) = t.route(&pkt, 0);
        let (a, b) = (a.unwrap(), b.unwrap());
        let on3 = if nodeport(&t).dests()[a.dest as usize].ip == ip(3) {
            a
        } else {
            b
        };
        // .3 leaves the endpoints at 5 s: it keeps its connection, at weight 0.
        t.sync(&input(&[2]), 5 * SECOND_NS, &mut rng);
        let text = t.render(5 * SECOND_NS);
        assert!(
            text.contains(
                "  -> 10.244.0.3:80                Masq    0      1          0         \n"
            ),
            "{text}"
        );
        // Every new connection goes to .2 now.
        for _ in 0..3 {
            let (v, _) = t.route(&pkt, 6 * SECOND_NS);
            assert!(matches!(v, Verdict::Dnat { ip: x, .. } if x == ip(2)));
        }
        // It closes at 10 s: TIME_WAIT until 130 s; the check at 180 s deletes it.
        t.close(on3, CloseKind::Fin, 10 * SECOND_NS);
        t.graceful_check(170 * SECOND_NS);
        assert!(t.render(170 * SECOND_NS).contains("10.244.0.3:80"));
        t.graceful_check(180 * SECOND_NS);
        assert!(!t.render(180 * SECOND_NS).contains("10.244.0.3:80"));
        // Without connections a removed endpoint goes at once.
        t.sync(&input(&[]), 200 * SECOND_NS, &mut rng);
        let _ = b;
        assert_eq!(nodeport(&t).list().count(), 1); // .2 still has inactive connections
    }

    #[test]
    fn ipvsadm_output_has_the_real_columns_and_order() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut t = IpvsTable::new(IpvsScheduler::Lc);
        let mut inp = input(&[3, 2]);
        inp.services[0].affinity_timeout_seconds = Some(10800);
        t.sync(&inp, 0, &mut rng);
        let want = "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port Scheduler Flags\n\
\x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
TCP  192.168.0.24:30001 lc persistent 10800\n\
\x20 -> 10.244.0.2:80                Masq    1      0          0         \n\
\x20 -> 10.244.0.3:80                Masq    1      0          0         \n\
TCP  10.96.24.104:8080 lc persistent 10800\n\
\x20 -> 10.244.0.2:80                Masq    1      0          0         \n\
\x20 -> 10.244.0.3:80                Masq    1      0          0         \n";
        assert_eq!(t.render(0), want);
    }
}
