//! Expectations (`spec.expect` of a Scenario): named properties of a run, judged pass or fail
//! with the first instant they failed and the evidence.
//!
//! This module holds what an expectation says ([`Expectation`], [`Kind`]) and the checks that
//! need instants during the run: the number of ready endpoints and the reachability of a port
//! after every change of the cluster, each request reaching a pod after its deletion, each new
//! connection's source NAT and zones, and the request figures of an SLO's window. What they saw
//! goes into [`Outcome::expect`](super::Outcome::expect) as [`Observed`]; the verdicts that
//! need the whole run (an SLO's figures, the fair share) are made in `report::expect`.
//!
//! A scenario without expectations pays one branch per event and per new connection: the
//! checks live behind an `Option` that stays `None`.

pub mod slo;

use super::outcome::Latency;
use super::Simulation;
use crate::engine::{RngStreams, SimDuration, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::net::iptables::{Packet, Verdict};
use std::fmt;
use std::net::Ipv4Addr;

/// One entry of `spec.expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub name: String,
    pub kind: Kind,
    /// Only requests of this traffic stream (by name).
    pub stream: Option<String>,
    /// Only this Service: its requests, its endpoints, its pods.
    pub service: Option<ServiceRef>,
    /// The window judged: from `from` (default: the end of warmup) to `to` (default: the end).
    pub from: Option<SimDuration>,
    pub to: Option<SimDuration>,
}

/// A Service by namespace and name (`web`, or `shop/web`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceRef {
    /// `name` in `default`, or `namespace/name`.
    pub fn parse(s: &str) -> Result<ServiceRef, String> {
        let (ns, name) = match s.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => ("default", s),
        };
        let ok = |x: &str| {
            !x.is_empty()
                && x.len() <= 63
                && x.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !ok(ns) || !ok(name) {
            return Err(format!(
                "invalid Service {s:?}: expected NAME or NAMESPACE/NAME (lower-case letters, digits, '-')"
            ));
        }
        Ok(ServiceRef {
            namespace: ns.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace == "default" {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// What an expectation checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `slo: "errors<0.1%,p99<50ms"`: `run --slo`'s terms over the requests of the scope that
    /// ended in the window.
    Slo(slo::Slo),
    /// `fairShare: {service, within: 10%}`: every pod that served the Service's requests in
    /// the window served within ±`within` (a fraction) of its fair share (`report::spread`).
    FairShare { within: f64 },
    /// `endpoints: {service, min: 2}`: the Service had at least `min` ready endpoints at every
    /// instant of the window.
    Endpoints { min: u32 },
    /// `reachable: {from, to}`: a new connection to `to` reaches a pod through the rules of
    /// every Ready node (or the client pod's node), checked whenever the cluster changes.
    Reachable { from: ProbeFrom, to: ProbeTo },
    /// `noTrafficAfterDeletion: {within: 2s}`: no request reaches a pod later than `within`
    /// after its deletion was requested (the time the rules take to drop it).
    NoTrafficAfterDeletion { within: SimDuration },
    /// `clientIpPreserved: {service}`: no new connection of the scope is source-NATed on its
    /// way to the pod (what `externalTrafficPolicy: Local` promises).
    ClientIpPreserved,
    /// `noCrossZone: {}`: no new connection of the scope goes from one zone to another.
    NoCrossZone,
}

impl Kind {
    /// The key it is written with in `spec.expect`.
    pub fn key(&self) -> &'static str {
        match self {
            Kind::Slo(_) => "slo",
            Kind::FairShare { .. } => "fairShare",
            Kind::Endpoints { .. } => "endpoints",
            Kind::Reachable { .. } => "reachable",
            Kind::NoTrafficAfterDeletion { .. } => "noTrafficAfterDeletion",
            Kind::ClientIpPreserved => "clientIpPreserved",
            Kind::NoCrossZone => "noCrossZone",
        }
    }
}

/// Where a reachability probe comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFrom {
    /// A client outside the cluster, to every Ready node's address.
    External,
    /// A process in each Ready node's host network.
    Nodes,
    /// A pod by name, from its node, while it runs.
    Pod { namespace: String, name: String },
}

/// A reachability probe's destination: a Service's NodePort or one of its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTo {
    pub service: ServiceRef,
    pub port: ProbePort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbePort {
    /// `svc:nodePort`: the first port's NodePort on each node's address.
    NodePort,
    /// `svc:8080`: the ClusterIP on that port.
    Number(u16),
    /// `svc:http`: the ClusterIP on the port of that name.
    Named(String),
}

impl fmt::Display for ProbeTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            ProbePort::NodePort => write!(f, "{}:nodePort", self.service),
            ProbePort::Number(p) => write!(f, "{}:{p}", self.service),
            ProbePort::Named(n) => write!(f, "{}:{n}", self.service),
        }
    }
}

/// The first failure of an expectation: when, and what showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: SimTime,
    pub evidence: String,
}

/// The requests of an SLO's scope that ended in its window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowFigures {
    pub served: u64,
    pub failed: u64,
    pub latency: Latency,
    /// The window's length, for throughput.
    pub measured: SimDuration,
}

/// What the run saw of one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub expectation: Expectation,
    /// The window as judged, resolved against warmup and duration.
    pub from: SimTime,
    pub to: SimTime,
    /// The first failure of an in-run check.
    pub failure: Option<Failure>,
    /// How many times the in-run check looked (instants, requests or connections).
    pub checks: u64,
    /// An SLO's figures.
    pub figures: Option<WindowFigures>,
}

/// The in-run state of one expectation.
#[derive(Debug)]
struct Check {
    obs: Observed,
    /// Traffic streams in scope (all when no `stream` or `service` was given).
    streams: Vec<bool>,
    /// Since when a level check (endpoints, reachable) has been failing, and why.
    failing: Option<Failure>,
}

/// Every expectation's in-run state.
#[derive(Debug)]
pub(super) struct Checks {
    checks: Vec<Check>,
    /// Whether any expectation looks at new connections (client IP, zones).
    on_connections: bool,
    /// Whether any looks at requests reaching pods.
    on_reach_pod: bool,
    /// Whether any looks at the cluster after changes.
    on_changes: bool,
}

impl Check {
    fn in_window(&self, t: SimTime) -> bool {
        self.obs.from <= t && t <= self.obs.to
    }
    fn fail(&mut self, at: SimTime, evidence: impl FnOnce() -> String) {
        if self.obs.failure.is_none() && self.in_window(at) {
            self.obs.failure = Some(Failure {
                at,
                evidence: evidence(),
            });
        }
    }
    /// A level check at `t`: `bad` is the reason it does not hold now. A failing spell
    /// `[since, until)` that overlaps the window fails at its first instant in the window.
    fn level(&mut self, t: SimTime, bad: Option<String>) {
        self.obs.checks += 1;
        match bad {
            Some(why) => {
                // Before the window the spell's evidence follows the latest check, so a spell
                // that lasts into the window shows the state at the window's start.
                if t <= self.obs.from {
                    if let Some(f) = self.failing.as_mut() {
                        f.evidence.clone_from(&why);
                    }
                }
                let f = self
                    .failing
                    .get_or_insert(Failure {
                        at: t,
                        evidence: why,
                    })
                    .clone();
                if self.in_window(t) {
                    self.spell(f, t + SimDuration::from_nanos(1));
                }
            }
            None => {
                if let Some(f) = self.failing.take() {
                    self.spell(f, t);
                }
            }
        }
    }
    /// A failing spell from `f.at` until `until` (exclusive).
    fn spell(&mut self, f: Failure, until: SimTime) {
        if self.obs.failure.is_none() && f.at <= self.obs.to && until > self.obs.from {
            self.obs.failure = Some(Failure {
                at: f.at.max(self.obs.from),
                evidence: f.evidence,
            });
        }
    }
}

impl Simulation {
    /// Sets up the checks of `scenario.expect` (none: nothing at all).
    pub(super) fn expect_setup(&mut self) {
        if self.scenario.expect.is_empty() {
            return;
        }
        let warmup = SimTime::ZERO + self.scenario.warmup;
        let end = self.end;
        let n_streams = self.scenario.traffic.len();
        let stream_services: Vec<Option<usize>> =
            (0..n_streams).map(|si| self.stream_service(si)).collect();
        let mut checks = Vec::new();
        for e in &self.scenario.expect {
            let service = e
                .service
                .as_ref()
                .and_then(|s| self.service_index(&s.namespace, &s.name));
            let streams = (0..n_streams)
                .map(|si| {
                    let by_name = e
                        .stream
                        .as_ref()
                        .is_none_or(|n| &self.scenario.traffic[si].name == n);
                    let by_service = e.service.is_none()
                        || (service.is_some() && stream_services[si] == service);
                    by_name && by_service
                })
                .collect();
            let from = e.from.map_or(warmup, |d| SimTime::ZERO + d);
            let to = e.to.map_or(end, |d| (SimTime::ZERO + d).min(end));
            let figures = matches!(e.kind, Kind::Slo(_)).then(|| WindowFigures {
                measured: to.since(from),
                ..WindowFigures::default()
            });
            checks.push(Check {
                obs: Observed {
                    expectation: e.clone(),
                    from,
                    to,
                    failure: None,
                    checks: 0,
                    figures,
                },
                streams,
                failing: None,
            });
        }
        let any = |f: fn(&Kind) -> bool| checks.iter().any(|c| f(&c.obs.expectation.kind));
        let on_connections = any(|k| matches!(k, Kind::ClientIpPreserved | Kind::NoCrossZone));
        let on_reach_pod = any(|k| matches!(k, Kind::NoTrafficAfterDeletion { .. }));
        let on_changes = any(|k| matches!(k, Kind::Endpoints { .. } | Kind::Reachable { .. }));
        self.expect = Some(Box::new(Checks {
            checks,
            on_connections,
            on_reach_pod,
            on_changes,
        }));
        // The SLO windows count requests as they end (`requests::Metrics`).
        let windows = self.expect.as_ref().expect("just set").slo_windows();
        self.metrics.set_expect_windows(windows);
    }

    /// After an event that may change the cluster or the rules: the level checks.
    #[cold]
    pub(super) fn expect_after_change(&mut self, now: SimTime) {
        let Some(mut checks) = self.expect.take() else {
            return;
        };
        if checks.on_changes {
            for c in &mut checks.checks {
                let bad = match &c.obs.expectation.kind {
                    Kind::Endpoints { min } => {
                        let svc = c.obs.expectation.service.as_ref().expect("validated");
                        let n = self.ready_endpoint_count(svc);
                        (n < *min as usize).then(|| {
                            format!("service {svc} has {n} ready endpoint(s), fewer than {min}")
                        })
                    }
                    Kind::Reachable { from, to } => self.probe_reachable(from, to, now),
                    _ => continue,
                };
                c.level(now, bad);
            }
        }
        self.expect = Some(checks);
    }

    /// A request reaches `pod`'s server at `now`.
    #[cold]
    pub(super) fn expect_reach_pod(
        &mut self,
        now: SimTime,
        stream: u32,
        pod: PodId,
        sent: SimTime,
    ) {
        let Some(checks) = self.expect.as_deref_mut() else {
            return;
        };
        if !checks.on_reach_pod {
            return;
        }
        let p = self.cluster.pod(pod);
        for c in &mut checks.checks {
            let Kind::NoTrafficAfterDeletion { within } = c.obs.expectation.kind else {
                continue;
            };
            if !c.streams[stream as usize] {
                continue;
            }
            c.obs.checks += 1;
            if let Some(deleted) = p.deleted {
                if now > deleted + within {
                    let stream_name = &self.scenario.traffic[stream as usize].name;
                    c.fail(now, || {
                        format!(
                            "a request of stream {stream_name} sent at {sent} reached pod {}/{} at {now}, {:.3}s after its deletion at {deleted}",
                            p.meta.namespace,
                            p.meta.name,
                            (now - deleted).as_secs_f64()
                        )
                    });
                }
            }
        }
    }

    /// A new connection of stream `si`, from `from_node` (the client pod's node, or the node
    /// an outside client's packets entered), routed by `entry`'s rules to `pod`.
    #[cold]
    pub(super) fn expect_connection(
        &mut self,
        si: usize,
        from_node: NodeId,
        entry: NodeId,
        pod: PodId,
        masquerade: bool,
    ) {
        let now = self.queue.now();
        let Some(checks) = self.expect.as_deref_mut() else {
            return;
        };
        if !checks.on_connections {
            return;
        }
        let p = self.cluster.pod(pod);
        let stream = &self.scenario.traffic[si].name;
        for c in &mut checks.checks {
            if !c.streams[si] {
                continue;
            }
            match c.obs.expectation.kind {
                Kind::ClientIpPreserved => {
                    c.obs.checks += 1;
                    if masquerade {
                        let node = &self.cluster.node(entry).cfg.name;
                        c.fail(now, || {
                            format!("a connection of stream {stream} to pod {}/{} was source-NATed by node {node}'s rules (KUBE-MARK-MASQ, then MASQUERADE in KUBE-POSTROUTING): the pod sees the node's address, not the client's", p.meta.namespace, p.meta.name)
                        });
                    }
                }
                Kind::NoCrossZone => {
                    c.obs.checks += 1;
                    let Some(to_node) = p.node else { continue };
                    let (a, b) = (self.zones.of(from_node), self.zones.of(to_node));
                    if a != b {
                        let zone = |z: Option<u16>| {
                            z.map_or("(no zone)".to_string(), |z| self.zones.name(z).to_string())
                        };
                        c.fail(now, || {
                            format!(
                                "a connection of stream {stream} went from node {} in zone {} to pod {}/{} on node {} in zone {}",
                                self.cluster.node(from_node).cfg.name,
                                zone(a),
                                p.meta.namespace,
                                p.meta.name,
                                self.cluster.node(to_node).cfg.name,
                                zone(b)
                            )
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// What every expectation saw, at the end of the run.
    pub(super) fn expect_finish(&mut self) -> Vec<Observed> {
        let Some(mut checks) = self.expect.take() else {
            return Vec::new();
        };
        let end = self.end;
        let mut windows = self.metrics.take_expect_windows().into_iter();
        for c in &mut checks.checks {
            if let Some(f) = c.failing.take() {
                c.spell(f, end + SimDuration::from_nanos(1));
            }
            if let Some(fig) = c.obs.figures.as_mut() {
                if let Some(w) = windows.next() {
                    fig.served = w.served;
                    fig.failed = w.failed;
                    fig.latency = w.latency;
                }
            }
        }
        checks.checks.into_iter().map(|c| c.obs).collect()
    }

    /// The ready endpoints of `service` now, as its EndpointSlices list them (0 for a Service
    /// that does not exist): what `endpoints:` checks. For property tests
    /// ([`crate::testing::check`]).
    pub fn ready_endpoints_of(&self, service: &ServiceRef) -> usize {
        self.ready_endpoint_count(service)
    }

    /// A probe connection to `to` from `from`, routed now through the rules of every node it
    /// concerns, as `reachable:` checks it: `Err` with the first node where it reaches no pod
    /// that listens, and why. For property tests ([`crate::testing::check`]).
    pub fn probe(&self, from: &ProbeFrom, to: &ProbeTo) -> Result<(), String> {
        match self.probe_reachable(from, to, self.now()) {
            None => Ok(()),
            Some(why) => Err(why),
        }
    }

    /// The ready endpoints of a Service now, as the EndpointSlice controller writes them
    /// (0 for a Service that does not exist).
    fn ready_endpoint_count(&self, svc: &ServiceRef) -> usize {
        self.service_index(&svc.namespace, &svc.name)
            .map_or(0, |i| self.ready_endpoints(i).len())
    }

    /// Probes `to` from `from` through the rules of every node it concerns, now; the first
    /// node where no pod is reached, and why.
    fn probe_reachable(&self, from: &ProbeFrom, to: &ProbeTo, now: SimTime) -> Option<String> {
        let Some(si) = self.service_index(&to.service.namespace, &to.service.name) else {
            return Some(format!("service {} does not exist", to.service));
        };
        let svc = &self.api.services[si];
        let ports = &svc.obj.spec.ports;
        let port_index = match &to.port {
            ProbePort::NodePort => 0,
            ProbePort::Number(n) => match ports.iter().position(|p| p.port == *n) {
                Some(i) => i,
                None => return Some(format!("service {} has no port {n}", to.service)),
            },
            ProbePort::Named(n) => match ports.iter().position(|p| p.name.as_deref() == Some(n)) {
                Some(i) => i,
                None => return Some(format!("service {} has no port named {n}", to.service)),
            },
        };
        let Some(port) = ports.get(port_index) else {
            return Some(format!("service {} has no port", to.service));
        };
        let (dst_port, protocol) = match &to.port {
            ProbePort::NodePort => match svc.node_ports.first().copied().flatten() {
                Some(np) => (np, port.protocol),
                None => return Some(format!("service {} has no NodePort", to.service)),
            },
            _ => (port.port, port.protocol),
        };
        let cluster_ip = svc.cluster_ip;
        // The probes: (entry node, source address, destination, from the host itself).
        let mut probes: Vec<(NodeId, Ipv4Addr, Ipv4Addr, bool)> = Vec::new();
        let ready_nodes = (0..self.cluster.nodes.len())
            .map(|i| NodeId(i as u32))
            .filter(|&n| self.cluster.node(n).ready);
        let dst_of = |n: NodeId| match to.port {
            ProbePort::NodePort => Some(self.cluster.node(n).cfg.ip),
            _ => cluster_ip,
        };
        match from {
            ProbeFrom::External => {
                for n in ready_nodes {
                    let Some(dst) = dst_of(n) else {
                        return Some(format!("service {} has no ClusterIP", to.service));
                    };
                    probes.push((n, PROBE_CLIENT, dst, false));
                }
            }
            ProbeFrom::Nodes => {
                for n in ready_nodes {
                    let Some(dst) = dst_of(n) else {
                        return Some(format!("service {} has no ClusterIP", to.service));
                    };
                    probes.push((n, self.cluster.node(n).cfg.ip, dst, true));
                }
            }
            ProbeFrom::Pod { namespace, name } => {
                let Some((_, pod)) = self.cluster.live_pods().find(|(_, p)| {
                    &p.meta.name == name && &p.meta.namespace == namespace && p.running()
                }) else {
                    // Not running: nothing to probe from.
                    return None;
                };
                let (Some(n), Some(ip)) = (pod.node, pod.ip) else {
                    return None;
                };
                let Some(dst) = dst_of(n) else {
                    return Some(format!("service {} has no ClusterIP", to.service));
                };
                probes.push((n, ip, dst, false));
            }
        }
        let mut rng = RngStreams::new(self.scenario.seed).stream("expect");
        for (node, src, dst, local_origin) in probes {
            let name = &self.cluster.node(node).cfg.name;
            if !self.cluster.node(node).up {
                return Some(format!(
                    "node {name} is Ready but down: a connection to {dst}:{dst_port} ({to}) is lost"
                ));
            }
            let pkt = Packet {
                src,
                src_port: PROBE_PORT,
                dst,
                dst_port,
                protocol,
                local_origin,
            };
            let proxy = &self.proxies[node.index()];
            let verdict = proxy.route_probe(&pkt, &mut rng, now.as_nanos());
            let synced = proxy
                .last_sync
                .map_or("never".to_string(), |s| s.to_string());
            let why = match verdict {
                Verdict::Dnat {
                    endpoint_index,
                    service_port_index,
                    ..
                } => {
                    let (pod, container) = proxy.gen.pod(service_port_index, endpoint_index);
                    let p = self.cluster.pod(pod);
                    let accepting = self
                        .servers
                        .get(pod.index())
                        .and_then(|s| s.get(container as usize))
                        .and_then(Option::as_ref)
                        .is_some_and(|s| s.accepting);
                    let node_up = p.node.is_some_and(|n| self.cluster.node(n).up);
                    if p.exists() && accepting && node_up {
                        continue;
                    }
                    let why = if !p.exists() {
                        "which no longer exists (nobody answers)"
                    } else if !node_up {
                        "whose node is down (the connection is lost)"
                    } else {
                        "where nothing listens on the port (the connection is refused)"
                    };
                    format!(
                        "node {name}'s rules (synced at {synced}) send a connection to {dst}:{dst_port} ({to}) to pod {}/{}, {why}",
                        p.meta.namespace, p.meta.name
                    )
                }
                Verdict::Reject => format!(
                    "node {name}'s rules (synced at {synced}) REJECT a connection to {dst}:{dst_port} ({to}): no usable endpoint"
                ),
                Verdict::Drop => format!(
                    "node {name}'s rules (synced at {synced}) DROP a connection to {dst}:{dst_port} ({to}): no local endpoint for a Local traffic policy"
                ),
                Verdict::NotService => format!(
                    "node {name}'s rules (synced at {synced}) have no rule for {dst}:{dst_port} ({to})"
                ),
            };
            return Some(why);
        }
        None
    }
}

/// The probe's client address outside the cluster (the documentation range, as `trace`'s).
const PROBE_CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The probe's source port.
const PROBE_PORT: u16 = 40000;

/// The counting of one SLO's requests as they end (kept by `requests::Metrics`).
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    pub streams: Vec<bool>,
    pub from: SimTime,
    pub to: SimTime,
    pub served: u64,
    pub failed: u64,
    pub latency: Latency,
}

impl Window {
    #[inline]
    pub fn served(&mut self, stream: u32, at: SimTime, latency: SimDuration) {
        if self.streams[stream as usize] && self.from <= at && at <= self.to {
            self.served += 1;
            self.latency.record(latency);
        }
    }
    #[inline]
    pub fn failed(&mut self, stream: u32, at: SimTime) {
        if self.streams[stream as usize] && self.from <= at && at <= self.to {
            self.failed += 1;
        }
    }
}

impl Checks {
    /// One [`Window`] per SLO expectation, in order.
    fn slo_windows(&self) -> Vec<Window> {
        self.checks
            .iter()
            .filter(|c| matches!(c.obs.expectation.kind, Kind::Slo(_)))
            .map(|c| Window {
                streams: c.streams.clone(),
                from: c.obs.from,
                to: c.obs.to,
                ..Window::default()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(from_s: u64, to_s: u64) -> Check {
        let t = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        Check {
            obs: Observed {
                expectation: Expectation {
                    name: "x".into(),
                    kind: Kind::Endpoints { min: 1 },
                    stream: None,
                    service: None,
                    from: None,
                    to: None,
                },
                from: t(from_s),
                to: t(to_s),
                failure: None,
                checks: 0,
                figures: None,
            },
            streams: Vec::new(),
            failing: None,
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    /// A spell that ends before the window is no failure; one that begins before it and lasts
    /// into it fails at the window's start; one inside it fails where it begins.
    #[test]
    fn a_failing_spell_fails_at_its_first_instant_in_the_window() {
        let mut c = check(10, 20);
        c.level(at(1), Some("a".into()));
        c.level(at(5), None);
        assert_eq!(c.obs.failure, None);
        c.level(at(8), Some("b".into()));
        c.level(at(12), None);
        assert_eq!(
            c.obs.failure.as_ref().map(|f| (f.at, f.evidence.as_str())),
            Some((at(10), "b"))
        );
        // The evidence of a spell that began before the window is the last seen before it.
        let mut c = check(10, 20);
        c.level(at(1), Some("early".into()));
        c.level(at(9), Some("late".into()));
        c.level(at(11), Some("inside".into()));
        assert_eq!(
            c.obs.failure.as_ref().map(|f| (f.at, f.evidence.as_str())),
            Some((at(10), "late"))
        );

        let mut c = check(10, 20);
        c.level(at(11), None);
        c.level(at(15), Some("c".into()));
        assert_eq!(c.obs.failure.as_ref().map(|f| f.at), Some(at(15)));
        assert_eq!(c.obs.checks, 2);

        // A spell after the window is none of its business.
        let mut c = check(10, 20);
        c.level(at(21), Some("d".into()));
        c.level(at(25), None);
        assert_eq!(c.obs.failure, None);
    }

    #[test]
    fn service_refs_take_a_namespace() {
        let r = ServiceRef::parse("shop/web").unwrap();
        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("shop", "web"));
        assert_eq!(r.to_string(), "shop/web");
        assert_eq!(ServiceRef::parse("web").unwrap().to_string(), "web");
        assert!(ServiceRef::parse("Web").is_err());
        assert!(ServiceRef::parse("a/b/c").is_err());
    }
}
