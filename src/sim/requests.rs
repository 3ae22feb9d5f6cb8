//! Requests: arrivals, routing by the entry node's rules, the servers in pods, completion,
//! and the figures they add up to. This is the hot path: no allocation per request.
//!
//! Timing of one request over a new connection with one-way path latency `L`: the SYN and
//! SYN-ACK take `2L`, the request reaches the pod at `3L`, the answer is back `L` after the
//! server finishes. On a kept-alive connection the handshake is skipped.

use super::{Ev, Simulation};
use crate::engine::{RngStreams, SimDuration, SimRng, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::Protocol;
use crate::net::iptables::{Packet, Verdict};
use crate::net::ipvs::CloseKind;
use crate::sim::outcome::{
    Latency, NodeOutcome, Outcome, PodOutcome, RequestCounts, ServiceOutcome, ServicePortOutcome,
    StreamOutcome, Timeline,
};
use crate::sim::Scenario;
use crate::traffic::client::{Client, Conn, Waiting};
use crate::traffic::request::{FailReason, ReqRef, Request, NO_CONN, NO_DP_CONN};
use crate::traffic::spec::{Arrival, ClientSource, Destination, StreamSpec};
use rand::Rng;
use rand_distr::{Distribution, Exp};
use std::net::Ipv4Addr;

/// A traffic stream's state.
pub(super) struct StreamState {
    /// Every client the stream ever had; an index stays valid for the whole run (requests and
    /// events hold it), so a client whose pod went away is marked dead, never removed.
    pub clients: Vec<Client>,
    /// Indices of the clients still alive, in order.
    live: Vec<u32>,
    arrivals: SimRng,
    picks: SimRng,
    interarrival: Option<Exp<f64>>,
    period: SimDuration,
    /// The `pods_version` its in-cluster clients were last matched at.
    pods_version: u64,
}

impl StreamState {
    pub fn new(spec: &StreamSpec, clients: Vec<Client>, rngs: &RngStreams) -> Self {
        let rate = spec.rate.max(f64::MIN_POSITIVE);
        StreamState {
            live: (0..clients.len() as u32).collect(),
            clients,
            arrivals: rngs.stream(&format!("arrivals/{}", spec.name)),
            picks: rngs.stream(&format!("clients/{}", spec.name)),
            interarrival: match spec.arrival {
                Arrival::Poisson => Some(Exp::new(rate).expect("positive rate")),
                Arrival::Constant => None,
            },
            period: SimDuration::from_secs_f64(1.0 / rate),
            pods_version: 0,
        }
    }

    fn next_gap(&mut self) -> SimDuration {
        match &self.interarrival {
            Some(exp) => SimDuration::from_secs_f64(exp.sample(&mut self.arrivals))
                .max(SimDuration::from_nanos(1)),
            None => self.period.max(SimDuration::from_nanos(1)),
        }
    }
}

/// Figures aggregated as requests end (nothing is kept per request).
pub(super) struct Metrics {
    counts: RequestCounts,
    by_reason: [u64; FailReason::ALL.len()],
    latency: Latency,
    streams: Vec<StreamOutcome>,
    pod_served: Vec<u64>,
    pod_failed: Vec<u64>,
    bucket_ns: u64,
    timeline_served: Vec<Vec<u64>>,
    timeline_failed: Vec<u64>,
}

/// A bucket width giving at most about 120 buckets: 1, 2, 5, 10, 15, 30 s, then minutes.
fn bucket_for(duration: SimDuration) -> SimDuration {
    let secs = duration.as_secs_f64();
    let nice = [1u64, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
    let pick = nice
        .iter()
        .copied()
        .find(|b| secs / *b as f64 <= 120.0)
        .unwrap_or(3600);
    SimDuration::from_secs(pick)
}

impl Metrics {
    pub fn new(s: &Scenario) -> Self {
        let bucket = bucket_for(s.duration);
        let n = (s.duration.as_nanos().div_ceil(bucket.as_nanos())).max(1) as usize;
        Metrics {
            counts: RequestCounts::default(),
            by_reason: [0; FailReason::ALL.len()],
            latency: Latency::default(),
            streams: s
                .traffic
                .iter()
                .map(|t| StreamOutcome {
                    name: t.name.clone(),
                    ..Default::default()
                })
                .collect(),
            pod_served: Vec::new(),
            pod_failed: Vec::new(),
            bucket_ns: bucket.as_nanos(),
            timeline_served: vec![Vec::new(); n],
            timeline_failed: vec![0; n],
        }
    }

    pub fn add_pod(&mut self) {
        self.pod_served.push(0);
        self.pod_failed.push(0);
    }

    fn bucket(&self, at: SimTime) -> usize {
        ((at.as_nanos() / self.bucket_ns) as usize).min(self.timeline_failed.len() - 1)
    }

    fn sent(&mut self, stream: u32) {
        self.counts.sent += 1;
        self.streams[stream as usize].sent += 1;
    }

    fn served(&mut self, stream: u32, pod: u32, at: SimTime, latency: SimDuration) {
        self.counts.served += 1;
        // The run's histogram is the sum of the streams' (added up in `finish`, exactly).
        let s = &mut self.streams[stream as usize];
        s.served += 1;
        s.latency.record(latency);
        self.pod_served[pod as usize] += 1;
        let b = self.bucket(at);
        let row = &mut self.timeline_served[b];
        if row.len() <= pod as usize {
            row.resize(pod as usize + 1, 0);
        }
        row[pod as usize] += 1;
    }

    fn failed(&mut self, stream: u32, pod: Option<u32>, at: SimTime, reason: FailReason) {
        self.counts.failed += 1;
        self.by_reason[reason as usize] += 1;
        self.streams[stream as usize].failed += 1;
        if let Some(p) = pod {
            self.pod_failed[p as usize] += 1;
        }
        let b = self.bucket(at);
        self.timeline_failed[b] += 1;
    }
}

/// Where routing sent a new connection.
enum Route {
    Pod {
        pod: PodId,
        container: u16,
        one_way: SimDuration,
        /// The data plane's handle for the new connection (IPVS counts it).
        dp_conn: u64,
    },
    /// Failed at once (refused, no route, no DNS answer).
    Fail(FailReason),
    /// Lost on the way: the client waits until its timeout.
    Lost,
}

impl Simulation {
    pub(super) fn on_arrival(&mut self, now: SimTime, stream: u32) {
        let si = stream as usize;
        let gap = self.streams[si].next_gap();
        if now + gap < self.stream_stop(si) {
            self.queue
                .schedule_in_lane(super::LANE_ARRIVALS, now + gap, Ev::Arrival(stream));
        }
        let counted = now >= self.warmup_end;
        let Some(client) = self.pick_client(si) else {
            // No client pod exists right now: nobody sends.
            return;
        };
        if counted {
            self.metrics.sent(stream);
        }
        if self.scenario.traffic[si].connections.reuse {
            self.streams[si].clients[client as usize]
                .waiting
                .push_back(Waiting { sent: now, counted });
            self.on_dispatch(now, stream, client);
        } else {
            self.send_on_new_connection(now, now, stream, client, counted, NO_CONN);
        }
    }

    /// Picks the client that sends the next request; in-cluster clients are the live, running
    /// pods matching the selector, refreshed as pods come and go.
    fn pick_client(&mut self, si: usize) -> Option<u32> {
        if let (true, ClientSource::Pods(selector)) = (
            self.streams[si].pods_version != self.pods_version,
            &self.scenario.traffic[si].from,
        ) {
            let live: Vec<(u32, Ipv4Addr)> = self
                .cluster
                .live_pods()
                .filter(|(_, p)| {
                    p.running()
                        && p.deleted.is_none()
                        && crate::model::objects::service_selects(selector, &p.meta.labels)
                })
                .filter_map(|(id, p)| p.ip.map(|ip| (id.0, ip)))
                .collect();
            let now = self.queue.now();
            let st = &mut self.streams[si];
            let mut orphaned = Vec::new();
            for c in st.clients.iter_mut().filter(|c| c.alive) {
                if !live.iter().any(|(id, _)| Some(*id) == c.pod) {
                    // The client's pod went away, and with it its connections and the
                    // requests it was holding back for one.
                    c.alive = false;
                    for conn in c.conns.drain(..) {
                        if conn.dp_conn != NO_DP_CONN {
                            self.dp_closed.push((conn.dp_conn, CloseKind::Reset, now));
                        }
                    }
                    orphaned.extend(c.waiting.drain(..).filter(|w| w.counted));
                }
            }
            for (id, ip) in live {
                if !st.clients.iter().any(|c| c.alive && c.pod == Some(id)) {
                    st.clients.push(Client::new(ip, Some(id)));
                }
            }
            st.live = (0..st.clients.len() as u32)
                .filter(|&i| st.clients[i as usize].alive)
                .collect();
            // Unchanged pods would match the same clients again: skip until they change.
            st.pods_version = self.pods_version;
            for _ in orphaned {
                self.metrics
                    .failed(si as u32, None, now, FailReason::ConnectionReset);
            }
            self.apply_dp_closed();
        }
        let st = &mut self.streams[si];
        match st.live.len() {
            0 => None,
            1 => Some(st.live[0]),
            n => Some(st.live[st.picks.random_range(0..n)]),
        }
    }

    /// Opens a connection (routing its SYN through the rules) and sends the request on it.
    fn send_on_new_connection(
        &mut self,
        now: SimTime,
        sent: SimTime,
        stream: u32,
        client: u32,
        counted: bool,
        conn: u32,
    ) {
        let si = stream as usize;
        let timeout = self.scenario.traffic[si].timeout;
        match self.route(si, client as usize) {
            Route::Pod {
                pod,
                container,
                one_way,
                dp_conn,
            } => {
                let reuse = self.scenario.traffic[si].connections.reuse;
                let conn = if reuse {
                    let c = &mut self.streams[si].clients[client as usize];
                    let id = c.next_conn_id();
                    c.conns.push(Conn {
                        id,
                        pod: pod.0,
                        container,
                        one_way,
                        busy: true,
                        deadline: sent + timeout,
                        idle_since: now,
                        requests: 0,
                        opened: now,
                        dp_conn,
                    });
                    id
                } else {
                    conn
                };
                self.metrics.streams[si].connections += 1;
                let r = self.reqs.insert(Request {
                    stream,
                    client,
                    sent,
                    pod: pod.0,
                    container,
                    conn,
                    one_way,
                    counted,
                    server_pos: 0,
                    generation: 0,
                    dp_conn: if reuse { NO_DP_CONN } else { dp_conn },
                });
                let handshake = one_way.saturating_mul(2);
                self.queue.schedule_in_lane(
                    super::LANE_NEW_CONNECTIONS,
                    now + handshake + one_way,
                    Ev::ReachPod(r),
                );
            }
            Route::Fail(reason) => {
                if counted {
                    self.metrics.failed(stream, None, now, reason);
                }
            }
            Route::Lost => self.lost(sent, stream, None, counted),
        }
    }

    /// A request whose packets are lost: the client gives up at its timeout.
    fn lost(&mut self, sent: SimTime, stream: u32, pod: Option<u32>, counted: bool) {
        if !counted {
            return;
        }
        let deadline = sent + self.scenario.traffic[stream as usize].timeout;
        if deadline <= self.end {
            self.metrics
                .failed(stream, pod, deadline, FailReason::Timeout);
        } else {
            self.metrics.counts.in_flight += 1;
        }
    }

    /// Routes a new connection from `client` of stream `si` as the packets would go.
    fn route(&mut self, si: usize, client: usize) -> Route {
        let lat = self.latency();
        let c = &mut self.streams[si].clients[client];
        let src = c.addr;
        let src_port = c.next_src_port();
        let client_pod = c.pod.map(PodId);
        let (dst, dport) = match &self.scenario.traffic[si].to {
            Destination::Addr(ip, port) => (*ip, *port),
            Destination::Name(name, port) => {
                let ns = client_pod.map(|p| self.cluster.pod(p).meta.namespace.as_str());
                match ns.and_then(|ns| self.resolve(name, ns)) {
                    Some(ip) => (ip, *port),
                    None => return Route::Fail(FailReason::DnsFailure),
                }
            }
        };
        // The node the packet enters, and the latency to get there.
        let (mut entry, mut one_way) = match client_pod {
            Some(p) => match self.cluster.pod(p).node {
                Some(n) => (n, lat.same_node),
                None => return Route::Fail(FailReason::NoRoute),
            },
            None => match self.node_by_ip(dst).or_else(|| self.announcing_node(dst)) {
                Some(n) => (n, lat.external),
                None => return Route::Fail(FailReason::NoRoute),
            },
        };
        for _hop in 0..2 {
            if !self.cluster.node(entry).up {
                return Route::Lost;
            }
            let pkt = Packet {
                src,
                src_port,
                dst,
                dst_port: dport,
                protocol: Protocol::Tcp,
                local_origin: false,
            };
            let now_ns = self.queue.now().as_nanos();
            let proxy = &mut self.proxies[entry.index()];
            let (verdict, dp_conn) = match &mut proxy.ipvs {
                Some(table) => {
                    let (v, c) = table.route(&pkt, now_ns);
                    (
                        v,
                        c.map_or(NO_DP_CONN, |c| super::dataplane::pack_ipvs_conn(entry, c)),
                    )
                }
                None => (
                    proxy
                        .rules
                        .route_cached(&pkt, &mut proxy.rng, &mut proxy.affinity, now_ns),
                    NO_DP_CONN,
                ),
            };
            match verdict {
                Verdict::Dnat {
                    endpoint_index,
                    service_port_index,
                    ..
                } => {
                    let (pod, container) = proxy.endpoints[service_port_index][endpoint_index];
                    let route = self.deliver(entry, one_way, pod, Some(container), dport);
                    return self.attach_dp_conn(route, dp_conn);
                }
                Verdict::Reject => return Route::Fail(FailReason::ConnectionRefused),
                Verdict::Drop => return Route::Lost,
                Verdict::NotService => {
                    if let Some(pod) = self.pod_by_ip(dst) {
                        return self.deliver(entry, one_way, pod, None, dport);
                    }
                    match self.node_by_ip(dst) {
                        // To another node's address: across the network, then its rules.
                        Some(n) if n != entry && client_pod.is_some() => {
                            one_way += lat.cross_node;
                            entry = n;
                        }
                        // To this node, on a port no rule claims and nothing listens on: the
                        // kernel answers the SYN with a reset.
                        Some(n) if n == entry => return Route::Fail(FailReason::ConnectionRefused),
                        _ => return Route::Fail(FailReason::NoRoute),
                    }
                }
            }
        }
        Route::Fail(FailReason::NoRoute)
    }

    /// The last leg: from the node that made the routing decision to the pod.
    fn deliver(
        &self,
        entry: NodeId,
        mut one_way: SimDuration,
        pod: PodId,
        container: Option<u16>,
        dport: u16,
    ) -> Route {
        let lat = self.latency();
        let p = self.cluster.pod(pod);
        let Some(node) = p.node else {
            return Route::Fail(FailReason::NoRoute);
        };
        if node != entry {
            one_way += lat.cross_node;
        }
        one_way += lat.same_node;
        if !self.cluster.node(node).up {
            return Route::Lost;
        }
        // The DNAT target port is the container port; a direct connection names it itself.
        let container = match container {
            Some(c) => c,
            None => match p
                .spec
                .resolve_port(&crate::model::objects::PortRef::Number(dport))
            {
                Some((c, _)) => c as u16,
                None => return Route::Fail(FailReason::ConnectionRefused),
            },
        };
        let accepting = self.servers[pod.index()]
            .get(container as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.accepting);
        if !p.exists() || !accepting {
            // The pod's node answers for an address nobody listens on with a reset.
            return Route::Fail(FailReason::ConnectionRefused);
        }
        Route::Pod {
            pod,
            container,
            one_way,
            dp_conn: NO_DP_CONN,
        }
    }

    /// Gives a delivered route its data-plane connection; a connection that failed on the
    /// way ends at once (refused: a reset; lost: a handshake that never completes).
    fn attach_dp_conn(&mut self, route: Route, dp: u64) -> Route {
        if dp == NO_DP_CONN {
            return route;
        }
        let now = self.queue.now();
        match route {
            Route::Pod {
                pod,
                container,
                one_way,
                ..
            } => Route::Pod {
                pod,
                container,
                one_way,
                dp_conn: dp,
            },
            Route::Fail(_) => {
                self.close_dp_conn(dp, CloseKind::Reset, now);
                route
            }
            Route::Lost => {
                self.close_dp_conn(dp, CloseKind::NeverEstablished, now);
                route
            }
        }
    }

    /// Closes the IPVS connections gathered in `dp_closed`.
    fn apply_dp_closed(&mut self) {
        let mut closed = std::mem::take(&mut self.dp_closed);
        for (dp, kind, at) in closed.drain(..) {
            self.close_dp_conn(dp, kind, at);
        }
        self.dp_closed = closed;
    }

    pub(super) fn node_by_ip(&self, ip: Ipv4Addr) -> Option<NodeId> {
        self.node_ips.get(&ip).copied()
    }

    /// The node that answers for a LoadBalancer or external IP: the first node that is up,
    /// as a MetalLB layer-2 speaker would hold the address (kubesim's simplification).
    pub(super) fn announcing_node(&self, ip: Ipv4Addr) -> Option<NodeId> {
        let owned = self
            .api
            .services
            .iter()
            .any(|s| s.load_balancer_ip == Some(ip) || s.obj.spec.external_ips.contains(&ip));
        if !owned {
            return None;
        }
        self.cluster
            .nodes
            .iter()
            .position(|n| n.up)
            .map(|i| NodeId(i as u32))
    }

    fn pod_by_ip(&self, ip: Ipv4Addr) -> Option<PodId> {
        self.cluster
            .live_pods()
            .find(|(_, p)| p.ip == Some(ip) && !p.spec.host_network)
            .map(|(id, _)| id)
    }

    /// Cluster DNS: the address a name resolves to. A Service with a ClusterIP answers with
    /// it; a headless one (`clusterIP: None`) with the IPs of its ready pods, rotated on each
    /// query as CoreDNS's `loadbalance` plugin does, and the client takes the first; an
    /// ExternalName is a CNAME out of the cluster, which kubesim cannot follow.
    pub(super) fn resolve(&self, name: &str, client_ns: &str) -> Option<Ipv4Addr> {
        let (svc, ns) = crate::net::dns::service_name(name, client_ns)?;
        let (i, s) = self
            .api
            .services
            .iter()
            .enumerate()
            .find(|(_, s)| s.obj.meta.name == svc && s.obj.meta.namespace == ns)?;
        if let Some(ip) = s.cluster_ip {
            return Some(ip);
        }
        if s.obj.spec.type_ == crate::model::objects::ServiceType::ExternalName {
            return None;
        }
        let records = self.headless_records(i);
        if records.is_empty() {
            return None;
        }
        let q = self.dns_queries.get();
        self.dns_queries.set(q + 1);
        Some(records[(q % records.len() as u64) as usize])
    }

    pub(super) fn on_reach_pod(&mut self, now: SimTime, r: ReqRef) {
        let Some(req) = self.reqs.get(r).copied() else {
            return;
        };
        let pod = PodId(req.pod);
        let node_up = self
            .cluster
            .pod(pod)
            .node
            .is_some_and(|n| self.cluster.node(n).up);
        if !node_up {
            self.reqs.remove(r);
            self.close_conn(&req, CloseKind::Fin);
            self.lost(req.sent, req.stream, Some(req.pod), req.counted);
            return;
        }
        let on_new_conn = req.conn == NO_CONN || self.conn_requests(&req) == 0;
        let server = self.servers[pod.index()]
            .get_mut(req.container as usize)
            .and_then(Option::as_mut);
        let Some(server) = server.filter(|s| s.accepting || !on_new_conn) else {
            self.reqs.remove(r);
            self.close_conn(&req, CloseKind::Reset);
            if req.counted {
                let reason = if on_new_conn {
                    FailReason::ConnectionRefused
                } else {
                    FailReason::ConnectionReset
                };
                self.metrics.failed(req.stream, Some(req.pod), now, reason);
            }
            return;
        };
        if server.has_free_slot() {
            let pos = server.start(r.slot);
            if let Some(q) = self.reqs.get_mut(r) {
                q.server_pos = pos;
            }
            self.start_service(now, r);
        } else {
            server.queue.push_back(r.slot);
        }
    }

    fn conn_requests(&self, req: &Request) -> u32 {
        let c = &self.streams[req.stream as usize].clients[req.client as usize];
        c.conns
            .iter()
            .find(|c| c.id == req.conn)
            .map_or(0, |c| c.requests)
    }

    /// Starts serving a request that holds a slot; a zero service time completes it now.
    fn start_service(&mut self, now: SimTime, mut r: ReqRef) {
        loop {
            let req = *self.reqs.get(r).expect("a request in a slot is live");
            let server = self.servers[req.pod as usize][req.container as usize]
                .as_ref()
                .expect("serving pod has a server");
            let (sampler, rng) = &mut self.samplers[server.behavior as usize];
            let d = sampler.sample(rng);
            if !d.is_zero() {
                self.queue.schedule(now + d, Ev::Done(r));
                return;
            }
            match self.complete(now, r) {
                Some(next) => r = next,
                None => return,
            }
        }
    }

    pub(super) fn on_done(&mut self, now: SimTime, r: ReqRef) {
        if self.reqs.get(r).is_none() {
            return;
        }
        if let Some(next) = self.complete(now, r) {
            self.start_service(now, next);
        }
    }

    /// Ends a request the server finished; returns the next queued request, which now holds
    /// the freed slot.
    fn complete(&mut self, now: SimTime, r: ReqRef) -> Option<ReqRef> {
        let req = self.reqs.remove(r).expect("completing a live request");
        let server = self.servers[req.pod as usize][req.container as usize]
            .as_mut()
            .expect("serving pod has a server");
        let next = server
            .finish(r.slot, req.server_pos)
            .map(|slot| self.reqs.by_slot(slot).expect("queued request is live").0);
        // Keep the position hints true: the request swapped into the freed position and the
        // one now last (the next from the queue, if any) moved.
        let len = server.in_service.len() as u32;
        for pos in [req.server_pos, len.wrapping_sub(1)] {
            if let Some(&slot) = server.in_service.get(pos as usize) {
                if let Some(q) = self.reqs.by_slot_mut(slot) {
                    q.server_pos = pos;
                }
            }
        }
        let response_at = now + req.one_way;
        let latency = response_at - req.sent;
        let timeout = self.scenario.traffic[req.stream as usize].timeout;
        if latency > timeout {
            self.close_conn(&req, CloseKind::Fin);
            if req.counted {
                let at = req.sent + timeout;
                if at <= self.end {
                    self.metrics
                        .failed(req.stream, Some(req.pod), at, FailReason::Timeout);
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
        } else {
            if req.counted {
                if response_at <= self.end {
                    self.metrics
                        .served(req.stream, req.pod, response_at, latency);
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
            self.release_conn(&req, response_at);
        }
        if next.is_none() && self.cluster.pod(PodId(req.pod)).deleted.is_some() {
            // The pod may go away now (in-cluster clients are matched again).
            self.pods_version += 1;
            self.maybe_finish_termination(now, PodId(req.pod));
        }
        next
    }

    /// The answer reached the client: its connection is idle again, or closed when it has
    /// carried `maxRequests` or the server is shutting down.
    fn release_conn(&mut self, req: &Request, at: SimTime) {
        if req.conn == NO_CONN {
            // One request per connection: the client closes it once the answer is in.
            self.close_dp_conn(req.dp_conn, CloseKind::Fin, at);
            return;
        }
        let si = req.stream as usize;
        let policy = self.scenario.traffic[si].connections;
        let accepting = self.servers[req.pod as usize][req.container as usize]
            .as_ref()
            .is_some_and(|s| s.accepting);
        let client = &mut self.streams[si].clients[req.client as usize];
        let mut close = !accepting;
        let mut dp = NO_DP_CONN;
        let mut idle_since = at;
        if let Some(c) = client.conn_mut(req.conn) {
            c.busy = false;
            c.idle_since = at;
            c.requests += 1;
            close |= policy.max_requests.is_some_and(|m| c.requests >= m);
            dp = c.dp_conn;
            idle_since = c.idle_since;
        }
        if close {
            client.conns.retain(|c| c.id != req.conn);
            self.close_dp_conn(dp, CloseKind::Fin, at);
        } else if dp != NO_DP_CONN {
            let keep_alive = self.servers[req.pod as usize][req.container as usize]
                .as_ref()
                .and_then(|s| self.behaviors[s.behavior as usize].keep_alive_timeout);
            let t = Client::idle_close_at(idle_since, policy.idle_timeout, keep_alive);
            // IPVS counts the connection until it closes: wake the client then, so an idle
            // connection is closed on time, not at the client's next request.
            self.queue.schedule(
                t,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
        let client = &mut self.streams[si].clients[req.client as usize];
        if !client.waiting.is_empty() {
            self.queue.schedule(
                at,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
    }

    fn close_conn(&mut self, req: &Request, kind: CloseKind) {
        let now = self.queue.now();
        if req.conn == NO_CONN {
            self.close_dp_conn(req.dp_conn, kind, now);
            return;
        }
        let client = &mut self.streams[req.stream as usize].clients[req.client as usize];
        let dp = client.conn_mut(req.conn).map_or(NO_DP_CONN, |c| c.dp_conn);
        client.conns.retain(|c| c.id != req.conn);
        self.close_dp_conn(dp, kind, now);
        let client = &mut self.streams[req.stream as usize].clients[req.client as usize];
        if !client.waiting.is_empty() {
            let now = self.queue.now();
            self.queue.schedule(
                now,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
    }

    /// Sends a client's waiting requests on idle connections, opening new ones up to the
    /// per-destination limit.
    pub(super) fn on_dispatch(&mut self, now: SimTime, stream: u32, client: u32) {
        let si = stream as usize;
        let policy = self.scenario.traffic[si].connections;
        let timeout = self.scenario.traffic[si].timeout;
        loop {
            let keep_alive = |pod: u32, container: u16| -> Option<SimDuration> {
                let b = self
                    .servers
                    .get(pod as usize)?
                    .get(container as usize)?
                    .as_ref()?
                    .behavior;
                self.behaviors[b as usize].keep_alive_timeout
            };
            let alive = |pod: u32| {
                let p = self.cluster.pod(PodId(pod));
                p.exists() && p.deleted.is_none()
            };
            let ipvs = self.dp_counts_connections();
            let c = &mut self.streams[si].clients[client as usize];
            if c.waiting.is_empty() && !ipvs {
                return;
            }
            let mut closed = std::mem::take(&mut self.dp_closed);
            c.prune(
                now,
                policy.idle_timeout,
                keep_alive,
                alive,
                |conn, at, reset| {
                    if conn.dp_conn != NO_DP_CONN {
                        let kind = if reset {
                            CloseKind::Reset
                        } else {
                            CloseKind::Fin
                        };
                        closed.push((conn.dp_conn, kind, at));
                    }
                },
            );
            self.dp_closed = closed;
            if !self.dp_closed.is_empty() {
                self.apply_dp_closed();
            }
            let c = &mut self.streams[si].clients[client as usize];
            let Some(w) = c.waiting.pop_front() else {
                return;
            };
            if now >= w.sent + timeout {
                if w.counted {
                    self.metrics
                        .failed(stream, None, w.sent + timeout, FailReason::Timeout);
                }
                continue;
            }
            if let Some(i) = c.oldest_idle() {
                let conn = &mut c.conns[i];
                conn.busy = true;
                conn.deadline = w.sent + timeout;
                let (pod, container, one_way, id) =
                    (conn.pod, conn.container, conn.one_way, conn.id);
                let r = self.reqs.insert(Request {
                    stream,
                    client,
                    sent: w.sent,
                    pod,
                    container,
                    conn: id,
                    one_way,
                    counted: w.counted,
                    server_pos: 0,
                    generation: 0,
                    dp_conn: NO_DP_CONN,
                });
                self.queue
                    .schedule_in_lane(super::LANE_KEPT_ALIVE, now + one_way, Ev::ReachPod(r));
            } else if (c.conns.len() as u32) < policy.max_per_destination {
                self.send_on_new_connection(now, w.sent, stream, client, w.counted, NO_CONN);
            } else {
                c.waiting.push_front(w);
                let wake = c
                    .earliest_deadline()
                    .unwrap_or(now)
                    .max(now + SimDuration::from_nanos(1));
                self.queue.schedule(wake, Ev::Dispatch { stream, client });
                return;
            }
        }
    }

    /// The pod's containers stop: every request they hold fails with `reason`.
    pub(super) fn kill_servers(&mut self, now: SimTime, pod: PodId, reason: FailReason) {
        let held: Vec<u32> = self.servers[pod.index()]
            .iter_mut()
            .flatten()
            .flat_map(|s| s.drain_all())
            .collect();
        self.servers[pod.index()].iter_mut().for_each(|s| *s = None);
        self.fail_held(now, held, reason);
    }

    /// Fails the requests in `slots` (taken from a server that stopped) with `reason`; with
    /// `Timeout` the client learns only at its deadline.
    pub(super) fn fail_held(&mut self, now: SimTime, slots: Vec<u32>, reason: FailReason) {
        for slot in slots {
            let Some((r, req)) = self.reqs.by_slot(slot).map(|(r, q)| (r, *q)) else {
                continue;
            };
            self.reqs.remove(r);
            let kind = if reason == FailReason::ConnectionReset {
                CloseKind::Reset
            } else {
                CloseKind::Fin
            };
            self.close_conn(&req, kind);
            if reason == FailReason::Timeout {
                self.lost(req.sent, req.stream, Some(req.pod), req.counted);
            } else if req.counted {
                self.metrics.failed(req.stream, Some(req.pod), now, reason);
            }
        }
    }

    /// Closes the books: requests still in flight either timed out before the end or are
    /// counted as in flight; then the outcome is assembled.
    pub(super) fn finish(mut self) -> Outcome {
        let end = self.end;
        let live: Vec<Request> = self.reqs.live().copied().collect();
        for req in live {
            self.lost(req.sent, req.stream, Some(req.pod), req.counted);
        }
        for si in 0..self.streams.len() {
            let timeout = self.scenario.traffic[si].timeout;
            let waiting: Vec<Waiting> = self.streams[si]
                .clients
                .iter()
                .flat_map(|c| c.waiting.iter().copied())
                .collect();
            for w in waiting.into_iter().filter(|w| w.counted) {
                if w.sent + timeout <= end {
                    self.metrics
                        .failed(si as u32, None, w.sent + timeout, FailReason::Timeout);
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
        }
        for reason in FailReason::ALL {
            let m = &mut self.metrics;
            let n = m.by_reason[reason as usize];
            if n > 0 {
                m.counts
                    .failed_by_reason
                    .insert(reason.as_str().to_string(), n);
            }
        }
        let pods = self
            .cluster
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| PodOutcome {
                name: p.meta.name.clone(),
                namespace: p.meta.namespace.clone(),
                labels: p.meta.labels.clone(),
                node: p.node.map(|n| self.cluster.node(n).cfg.name.clone()),
                ip: p.ip,
                owner: p.owner.map(|rs| {
                    let rs = &self.cluster.replica_sets[rs.index()];
                    match rs.owner {
                        Some(d) => self.cluster.deployments[d.index()].spec.meta.name.clone(),
                        None => rs.meta.name.clone(),
                    }
                }),
                served: self.metrics.pod_served[i],
                failed: self.metrics.pod_failed[i],
                created: p.created,
                deleted: p.deleted,
                restarts: p.restarts,
                status: p.status(),
                ready: p.ready_column(),
            })
            .collect();
        let services = self.service_outcomes();
        let version = format!(
            "v{}.{}.0",
            self.scenario.kubernetes_version.0, self.scenario.kubernetes_version.1
        );
        let nodes = self
            .cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeOutcome {
                name: n.cfg.name.clone(),
                ip: n.cfg.ip,
                status: match (n.ready, n.unschedulable) {
                    (true, false) => "Ready",
                    (true, true) => "Ready,SchedulingDisabled",
                    (false, false) => "NotReady",
                    (false, true) => "NotReady,SchedulingDisabled",
                }
                .to_string(),
                pod_cidr: self.pod_cidrs[i].to_string(),
                kubelet_version: version.clone(),
            })
            .collect();
        let n_pods = self.cluster.pods.len();
        let m = &mut self.metrics;
        for s in &m.streams {
            m.latency
                .0
                .add(&s.latency.0)
                .expect("histograms with the same bounds add up");
        }
        let timeline = Timeline {
            bucket: SimDuration::from_nanos(m.bucket_ns),
            served: std::mem::take(&mut m.timeline_served)
                .into_iter()
                .map(|mut row| {
                    row.resize(n_pods, 0);
                    row
                })
                .collect(),
            failed: std::mem::take(&mut m.timeline_failed),
        };
        Outcome {
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            proxy: match self.scenario.net.proxy_mode {
                crate::net::config::ProxyMode::Ipvs => format!(
                    "ipvs mode ({})",
                    self.scenario.net.ipvs_scheduler.effective().as_str()
                ),
                mode => format!("{} mode", mode.as_str()),
            },
            simulated: self.scenario.duration,
            warmup: self.scenario.warmup,
            requests: std::mem::take(&mut m.counts),
            latency: std::mem::take(&mut m.latency),
            streams: std::mem::take(&mut m.streams),
            pods,
            services,
            nodes,
            events: std::mem::take(&mut self.log.events),
            markers: self
                .scenario
                .events
                .iter()
                .map(|e| (SimTime::ZERO + e.at, e.action.label()))
                .collect(),
            timeline,
        }
    }

    /// The Services as `kubectl get svc` would list them now.
    pub fn service_outcomes(&self) -> Vec<ServiceOutcome> {
        self.api
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let spec = &s.obj.spec;
                let endpoints = self.ready_endpoints(i);
                ServiceOutcome {
                    name: s.obj.meta.name.clone(),
                    namespace: s.obj.meta.namespace.clone(),
                    type_: spec.type_,
                    cluster_ip: s.cluster_ip,
                    external_ip: s.external_ip_column(),
                    ports: spec
                        .ports
                        .iter()
                        .zip(&s.node_ports)
                        .map(|(p, np)| ServicePortOutcome {
                            name: p.name.clone(),
                            protocol: p.protocol,
                            port: p.port,
                            target_port: p.target_port.clone(),
                            node_port: *np,
                        })
                        .collect(),
                    selector: spec.selector.clone(),
                    endpoints,
                }
            })
            .collect()
    }
}
