//! What a run looked like over time, for `report.html`: the state of the first pods and nodes
//! as it changed, the endpoints each of the first nodes' kube-proxy had synced and when, and a
//! sample of new connections traced hop by hop at a few instants.
//!
//! Recording is off unless the run is made with [`Simulation::run_recorded`], so sweeps and
//! tests pay nothing. Everything recorded is bounded, whatever the cluster's size: the first
//! [`MAX_PODS`] pods (in creation order), the first [`MAX_NODES`] nodes, the first
//! [`MAX_PORTS`] service ports of each sync and their first [`MAX_ENDPOINTS`] endpoints, at
//! most [`MAX_GENERATIONS`] distinct syncs and
//! [`MAX_SYNCS`] sync records, a pod's state sampled at most once per [`resolution`]
//! (`History::resolution`) of simulated time, and [`TRACE_INSTANTS`] traces per stream of the
//! first [`TRACE_STREAMS`] streams. What was left out is counted, so the report can say so.
//! It knows nothing of HTML: the report layer renders it.

use super::apiserver::ServiceState;
use super::dataplane::{Generation, PortState};
use super::outcome::Outcome;
use super::trace::TraceFrom;
use super::{Overloaded, Simulation};
use crate::engine::FxHashMap;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::NodeId;
use crate::traffic::spec::{ClientSource, Destination};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Pods followed over time: the first ones created.
pub const MAX_PODS: usize = 300;
/// Nodes whose state and kube-proxy syncs are followed: the first ones.
pub const MAX_NODES: usize = 12;
/// Service ports recorded per sync: the first ones, in the API server's order.
pub const MAX_PORTS: usize = 24;
/// Distinct synced states kept.
pub const MAX_GENERATIONS: usize = 2_000;
/// Endpoints recorded per service port state: the first ones, in kube-proxy's order.
pub const MAX_ENDPOINTS: usize = 32;
/// Sync records kept, over all followed nodes.
pub const MAX_SYNCS: usize = 20_000;
/// State samples of a pod or node: the run is cut into this many steps at most.
const STEPS: u64 = 2_000;
/// Beyond this many Services the page's connections are not traced (see `sample_traces`).
pub const MAX_TRACED_SERVICES: usize = 2_000;
/// Instants at which a new connection is traced, per stream.
pub const TRACE_INSTANTS: usize = 8;
/// Lines of the entry node's rules kept with a trace: all of them up to this many, else the
/// lines the trace matched with [`RULES_CONTEXT`] lines around each.
pub const MAX_RULES_LINES: usize = 400;
/// Lines kept around each matched line of a ruleset longer than [`MAX_RULES_LINES`].
pub const RULES_CONTEXT: usize = 2;
/// Lines of rules kept over all traces; later traces keep none beyond (and say so).
pub const MAX_RULES_LINES_TOTAL: usize = 4_000;
/// Services whose EndpointSlices are followed: the first ones.
pub const MAX_SLICE_SERVICES: usize = 24;
/// Pods recorded per EndpointSlice: the first ones.
pub const MAX_SLICE_PODS: usize = 32;
/// Distinct states of the followed Services' EndpointSlices kept.
pub const MAX_SLICE_STATES: usize = 1_000;
/// Streams whose connections are traced: the first ones.
pub const TRACE_STREAMS: usize = 3;
/// `reach` tables kept: one per set of NetworkPolicies in force, the first ones.
pub const MAX_REACH_TABLES: usize = 16;
/// Pod groups a `reach` table holds: the first ones by name (sources and destinations alike).
pub const MAX_REACH_GROUPS: usize = 40;

/// The record of one run over time (empty unless made by [`Simulation::run_recorded`]).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub(super) on: bool,
    /// A pod's or node's state is sampled at most once per this much simulated time (at the
    /// first event that changed pods after the last sample).
    pub resolution: SimDuration,
    /// `pods[i]` follows pod `i` of [`Outcome::pods`] (the first [`MAX_PODS`]).
    pub pods: Vec<Vec<PodState>>,
    /// Pods not followed.
    pub pods_left_out: usize,
    /// `nodes[i]` follows node `i` of [`Outcome::nodes`] (the first [`MAX_NODES`]).
    pub nodes: Vec<NodeHistory>,
    pub nodes_left_out: usize,
    /// What the followed nodes' kube-proxies synced: each distinct state once, as indices
    /// into [`ports`](Self::ports).
    pub generations: Vec<Vec<u32>>,
    /// Each distinct service port state synced (a port unchanged from one sync to the next is
    /// the same state, held once).
    pub ports: Vec<SyncedPort>,
    /// Service ports left out of each recorded sync (beyond [`MAX_PORTS`]).
    pub ports_left_out: usize,
    /// Syncs not recorded once the bounds were reached.
    pub syncs_left_out: usize,
    /// New connections traced hop by hop, as `kubesim trace` prints them.
    pub traces: Vec<TraceSample>,
    /// When each followed pod left the API server, exactly (`None`: never).
    pub gone: Vec<Option<SimTime>>,
    /// The entry nodes' rules as they stood when a trace was made, the lines it matched
    /// marked; shared by traces that saw the same ([`TraceSample::rules`] indexes it).
    pub rules: Vec<RulesListing>,
    /// Traces whose rules were not kept ([`MAX_RULES_LINES_TOTAL`] reached).
    pub rules_left_out: usize,
    /// The EndpointSlices of the first [`MAX_SLICE_SERVICES`] Services, at each change.
    pub slices: Vec<SliceState>,
    /// Changes of those EndpointSlices not kept ([`MAX_SLICE_STATES`] reached).
    pub slices_left_out: usize,
    /// `kubesim reach`'s table (by group) for each set of NetworkPolicies in force during the
    /// run, in time order; empty when the run has none.
    pub reach: Vec<ReachTable>,
    /// Sets of policies in force whose table was not kept ([`MAX_REACH_TABLES`] reached).
    pub reach_left_out: usize,
    last_sample: Option<SimTime>,
    /// The instant of the last change not yet sampled.
    dirty_at: Option<SimTime>,
    last_generation: Option<(Arc<Generation>, u32)>,
    /// A port state's address → its index in `ports` (only looked up, never iterated).
    port_ids: FxHashMap<usize, u32>,
    port_arcs: Vec<Arc<PortState>>,
    sync_count: usize,
}

/// A pod's state from `at` until its next state.
#[derive(Debug, Clone, PartialEq)]
pub struct PodState {
    pub at: SimTime,
    /// The STATUS column of `kubectl get pods`.
    pub status: String,
    /// The READY column.
    pub ready: String,
    pub ip: Option<Ipv4Addr>,
    pub node: Option<String>,
    pub restarts: u32,
    /// The object is gone from the API server.
    pub gone: bool,
}

/// A node's states and its kube-proxy's syncs.
#[derive(Debug, Clone, Default)]
pub struct NodeHistory {
    /// `(from, STATUS column)`, at each change.
    pub status: Vec<(SimTime, String)>,
    /// `(when the rules reached the kernel, index into History::generations)`.
    pub syncs: Vec<(SimTime, u32)>,
}

/// One service port as a kube-proxy synced it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedPort {
    pub namespace: String,
    pub service: String,
    pub port: u16,
    /// The first [`MAX_ENDPOINTS`].
    pub endpoints: Vec<SyncedEndpoint>,
    pub endpoints_left_out: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncedEndpoint {
    /// Index into [`Outcome::pods`].
    pub pod: u32,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

/// A new connection traced at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSample {
    pub at: SimTime,
    pub stream: String,
    /// Where from, as `trace --from` takes it: `external` or a pod's name.
    pub from: String,
    pub to: String,
    /// `kubesim trace`'s text, or the error it gave.
    pub text: String,
    /// The entry node's rules then, index into [`History::rules`] (`None`: not traced, or
    /// left out).
    pub rules: Option<u32>,
}

/// Who may connect to whom while one set of NetworkPolicies was in force, as `kubesim reach
/// --at` prints it (groups of pods with the same labels in one namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct ReachTable {
    /// The set took effect (zero: the scenario's own policies).
    pub from: SimTime,
    /// The next set took effect, or the run ended: the pods judged are those of that instant
    /// (as they stood just before it).
    pub until: SimTime,
    /// Rows between the first [`MAX_REACH_GROUPS`] groups, sorted as `reach` sorts them.
    pub rows: Vec<super::ReachRow>,
    /// Groups left out (beyond [`MAX_REACH_GROUPS`]).
    pub groups_left_out: usize,
}

/// A node's rules at an instant, as `kubesim rules` prints them, cut to a bound.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesListing {
    pub node: String,
    /// The command whose output this is: `iptables-save`, `nft list ruleset`, `ipvsadm -Ln`.
    pub command: &'static str,
    /// When the node's kube-proxy last synced before the trace.
    pub synced: Option<SimTime>,
    /// Lines in the whole listing.
    pub total: usize,
    /// The lines kept: `(line number from 1, text, matched by the trace)`, in order; a jump
    /// in the numbers is lines left out.
    pub lines: Vec<(u32, String, bool)>,
}

/// The followed Services' EndpointSlices from `at` until the next state.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceState {
    pub at: SimTime,
    pub slices: Vec<SliceRecord>,
}

/// One EndpointSlice: its Service, its name and its endpoints' pods.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRecord {
    pub namespace: String,
    pub service: String,
    pub name: String,
    /// Indices into [`Outcome::pods`]: the first [`MAX_SLICE_PODS`].
    pub pods: Vec<u32>,
    pub pods_left_out: usize,
}

impl History {
    /// Whether the run was recorded ([`Simulation::run_recorded`]).
    pub fn on_record(&self) -> bool {
        self.on
    }

    /// A node's kube-proxy put `gen` into its kernel at `now`.
    pub(super) fn synced(
        &mut self,
        now: SimTime,
        node: NodeId,
        gen: &Arc<Generation>,
        services: &[ServiceState],
    ) {
        let n = node.index();
        if n >= self.nodes.len() {
            return;
        }
        if self.sync_count >= MAX_SYNCS {
            self.syncs_left_out += 1;
            return;
        }
        let id = match &self.last_generation {
            Some((g, id)) if Arc::ptr_eq(g, gen) => *id,
            _ => {
                if self.generations.len() >= MAX_GENERATIONS {
                    self.syncs_left_out += 1;
                    return;
                }
                let mut ids = Vec::new();
                for p in gen.ports.iter().take(MAX_PORTS) {
                    let key = Arc::as_ptr(p) as usize;
                    let id = match self.port_ids.get(&key) {
                        Some(&id) => id,
                        None => {
                            let svc = &services[p.service];
                            self.ports.push(SyncedPort {
                                namespace: svc.obj.meta.namespace.clone(),
                                service: svc.obj.meta.name.clone(),
                                port: p.input.port,
                                endpoints_left_out: p.pods.len().saturating_sub(MAX_ENDPOINTS),
                                endpoints: p
                                    .input
                                    .endpoints
                                    .iter()
                                    .zip(&p.pods)
                                    .take(MAX_ENDPOINTS)
                                    .map(|(e, (pod, _))| SyncedEndpoint {
                                        pod: pod.0,
                                        ip: e.ip,
                                        port: e.port,
                                        ready: e.ready,
                                        serving: e.serving,
                                        terminating: e.terminating,
                                    })
                                    .collect(),
                            });
                            // Kept alive so that its address is never another port's.
                            self.port_arcs.push(p.clone());
                            let id = (self.ports.len() - 1) as u32;
                            self.port_ids.insert(key, id);
                            id
                        }
                    };
                    ids.push(id);
                }
                self.ports_left_out += gen.ports.len().saturating_sub(MAX_PORTS);
                let id = self.generations.len() as u32;
                self.generations.push(ids);
                self.last_generation = Some((gen.clone(), id));
                id
            }
        };
        self.sync_count += 1;
        self.nodes[n].syncs.push((now, id));
    }
}

impl History {
    /// A node joined mid-run: it is followed if fewer than [`MAX_NODES`] nodes are.
    pub(super) fn node_added(&mut self) {
        if !self.on {
            return;
        }
        if self.nodes.len() < MAX_NODES {
            self.nodes.push(NodeHistory::default());
        } else {
            self.nodes_left_out += 1;
        }
    }
}

impl Simulation {
    /// [`run_checked`](Self::run_checked), recording the run's [`History`] into
    /// [`Outcome::history`] as it goes. The run itself is the same event for event: the
    /// figures and every other output are those `run_checked` gives.
    pub fn run_recorded(&mut self) -> Result<Outcome, Box<Overloaded>> {
        let h = &mut self.history;
        h.on = true;
        let span = self.end.as_nanos().max(1);
        h.resolution = SimDuration::from_nanos(span.div_ceil(STEPS).max(1));
        h.pods_left_out = 0;
        h.nodes = vec![NodeHistory::default(); self.cluster.nodes.len().min(MAX_NODES)];
        h.nodes_left_out = self.cluster.nodes.len().saturating_sub(MAX_NODES);
        self.sample_at(SimTime::ZERO);
        let instants = self.trace_instants();
        for &t in &instants {
            while let Some((now, ev)) = self.queue.pop_until(t.min(self.end)) {
                self.step_recorded(now, ev);
            }
            self.sample_traces(t);
        }
        while let Some((now, ev)) = self.queue.pop_until(self.end) {
            self.step_recorded(now, ev);
        }
        if let Some(at) = self.history.dirty_at.take() {
            self.sample_at(at);
        }
        self.record_reach(None);
        let total = self.cluster.pods.len();
        self.history.pods_left_out = total.saturating_sub(MAX_PODS);
        self.history.gone = (self.cluster.pods.iter().take(MAX_PODS))
            .map(|p| p.gone_at)
            .collect();
        match self.overloaded {
            None => Ok(self.finish()),
            Some((at, in_flight)) => Err(Box::new(Overloaded {
                at,
                in_flight,
                outcome: self.finish(),
            })),
        }
    }

    /// Handles one event and samples the followed pods and nodes when it changed pods: at
    /// once when a [`History::resolution`] has passed since the last sample, else later, with
    /// the instant of the last change not yet sampled (so a change is shown at most one
    /// resolution late, and the last change of a burst exactly).
    fn step_recorded(&mut self, now: SimTime, ev: super::Ev) {
        self.record_reach(Some(now));
        let h = &self.history;
        if let (Some(at), Some(last)) = (h.dirty_at, h.last_sample) {
            if now >= last + h.resolution {
                self.history.dirty_at = None;
                self.sample_at(at);
            }
        }
        let before = self.pods_version;
        self.handle(now, ev);
        if self.pods_version == before {
            return;
        }
        let h = &mut self.history;
        match h.last_sample {
            Some(last) if now < last + h.resolution => h.dirty_at = Some(now),
            _ => {
                h.dirty_at = None;
                self.sample_at(now);
            }
        }
    }

    /// Records the `reach` table of each set of NetworkPolicies whose time is over by the
    /// event at `next` (`None`: the run is over, every set up to the end), judging the pods as
    /// they are now: as they stood when the next set took effect (or the run ended).
    fn record_reach(&mut self, next: Option<SimTime>) {
        loop {
            let done = self.history.reach.len() + self.history.reach_left_out;
            let mut changes = self.netpol.changes().skip(done);
            let Some(from) = changes.next().filter(|&t| t <= self.end) else {
                return;
            };
            let until = match (changes.next(), next) {
                (Some(t), Some(next)) if t <= next => t,
                (_, Some(_)) => return,
                (Some(t), None) => t.min(self.end),
                (None, None) => self.end,
            };
            if self.history.reach.len() >= MAX_REACH_TABLES {
                self.history.reach_left_out += 1;
                continue;
            }
            let mut ends = self.reach_ends(false);
            let groups_left_out = ends.len().saturating_sub(MAX_REACH_GROUPS);
            ends.truncate(MAX_REACH_GROUPS);
            let rows = self.reach_rows(from, false, &ends);
            self.history.reach.push(ReachTable {
                from,
                until,
                rows,
                groups_left_out,
            });
        }
    }

    fn sample_at(&mut self, now: SimTime) {
        let h = &mut self.history;
        h.last_sample = Some(now);
        let followed = self.cluster.pods.len().min(MAX_PODS);
        if h.pods.len() < followed {
            h.pods.resize(followed, Vec::new());
        }
        for (i, p) in self.cluster.pods.iter().take(followed).enumerate() {
            let state = PodState {
                at: now,
                status: p.status(),
                ready: p.ready_column(),
                ip: p.ip,
                node: p.node.map(|n| self.cluster.node(n).cfg.name.clone()),
                restarts: p.restarts,
                gone: !p.exists(),
            };
            let states = &mut h.pods[i];
            let same = states.last().is_some_and(|s| {
                s.status == state.status
                    && s.ready == state.ready
                    && s.ip == state.ip
                    && s.node == state.node
                    && s.restarts == state.restarts
                    && s.gone == state.gone
            });
            if !same {
                states.push(state);
            }
        }
        self.sample_slices(now);
        let h = &mut self.history;
        for (node, nh) in self.cluster.nodes.iter().zip(h.nodes.iter_mut()) {
            let status = match (node.ready, node.unschedulable) {
                _ if node.removed.is_some() => "Deleted",
                (true, false) => "Ready",
                (true, true) => "Ready,SchedulingDisabled",
                (false, false) => "NotReady",
                (false, true) => "NotReady,SchedulingDisabled",
            };
            if nh.status.last().map(|(_, s)| s.as_str()) != Some(status) {
                nh.status.push((now, status.to_string()));
            }
        }
    }

    /// Instants at which new connections are traced: evenly spread over the run, from its
    /// first second to its end.
    fn trace_instants(&self) -> Vec<SimTime> {
        let end = self.end.as_nanos();
        let n = TRACE_INSTANTS as u64;
        let mut v: Vec<SimTime> = (1..=n)
            .map(|k| SimTime::from_nanos(end * k / n))
            .filter(|t| *t > SimTime::ZERO)
            .collect();
        v.dedup();
        v
    }

    /// Traces one new connection of each of the first streams at `t`.
    fn sample_traces(&mut self, t: SimTime) {
        for s in self.scenario.traffic.iter().take(TRACE_STREAMS) {
            if s.start > t - SimTime::ZERO {
                continue;
            }
            let to = match &s.to {
                Destination::Addr(ip, port) => format!("{ip}:{port}"),
                Destination::Name(name, port) => format!("{name}:{port}"),
            };
            let from = match &s.from {
                ClientSource::External => TraceFrom::External,
                ClientSource::Pods(labels) => {
                    let client = self.cluster.live_pods().find(|(_, p)| {
                        p.running()
                            && p.ip.is_some()
                            && labels.iter().all(|(k, v)| p.meta.labels.get(k) == Some(v))
                    });
                    match client {
                        Some((_, p)) => TraceFrom::Pod(p.meta.name.clone()),
                        None => continue,
                    }
                }
            };
            // A trace renders the entry node's whole ruleset: at thousands of Services that
            // costs more than the run (0.3 s a trace at 10,000), so the page says so instead.
            let services = self.api.services.len();
            let text = if services > MAX_TRACED_SERVICES {
                format!(
                    "not traced here: the cluster has {services} Services (more than {MAX_TRACED_SERVICES}); `kubesim trace` follows this connection\n"
                )
            } else {
                match self.trace(&from, &to, 1) {
                    Ok(text) => text,
                    Err(e) => format!("error: {e}\n"),
                }
            };
            let from = match from {
                TraceFrom::External => "external".to_string(),
                TraceFrom::Pod(name) => name,
            };
            let rules = if services > MAX_TRACED_SERVICES {
                None
            } else {
                let listing = self.rules_listing(&text);
                listing.and_then(|rec| self.history.keep_rules(rec))
            };
            self.history.traces.push(TraceSample {
                at: t,
                stream: s.name.clone(),
                from,
                to,
                text,
                rules,
            });
        }
    }
}

impl Simulation {
    /// Records the first Services' EndpointSlices when they differ from the last state kept.
    fn sample_slices(&mut self, now: SimTime) {
        let services = self.api.services.len().min(MAX_SLICE_SERVICES);
        let mut slices = Vec::new();
        for i in 0..services {
            let meta = &self.api.services[i].obj.meta;
            for sl in self.endpoint_slices(i) {
                slices.push(SliceRecord {
                    namespace: meta.namespace.clone(),
                    service: meta.name.clone(),
                    name: sl.name.clone(),
                    pods: sl.pods.iter().take(MAX_SLICE_PODS).map(|p| p.0).collect(),
                    pods_left_out: sl.pods.len().saturating_sub(MAX_SLICE_PODS),
                });
            }
        }
        let h = &mut self.history;
        if h.slices.last().is_some_and(|last| last.slices == slices) {
            return;
        }
        if h.slices.len() >= MAX_SLICE_STATES {
            h.slices_left_out += 1;
            return;
        }
        h.slices.push(SliceState { at: now, slices });
    }

    /// The entry node's rules for a trace's `text` (the node its `rules of NODE` or `IPVS of
    /// NODE` line names), the lines the trace matched marked and the listing cut to
    /// [`kept_lines`]; `None` when the trace reached no node's rules.
    fn rules_listing(&self, text: &str) -> Option<RulesListing> {
        let node_name = text.lines().find_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix("rules of ")
                .or_else(|| l.strip_prefix("IPVS of "))?;
            rest.split_once(" (synced").map(|(n, _)| n.to_string())
        })?;
        let node = self.cluster.node_by_name(&node_name)?;
        let (command, (listing, synced)) = match &self.proxies[node.index()].ipvs {
            // A copy, so that listing the table changes nothing in the run.
            Some(table) => {
                let now = self.queue.now().as_nanos();
                let mut table = table.clone();
                table.graceful_check(now);
                let synced = self.proxies[node.index()].last_sync;
                ("ipvsadm -Ln", (table.render(now), synced))
            }
            None if self.scenario.net.proxy_mode == crate::net::config::ProxyMode::Nftables => {
                ("nft list ruleset", self.nft_list_ruleset(node))
            }
            None => ("iptables-save", self.iptables_save(node)),
        };
        let all: Vec<&str> = listing.lines().collect();
        let hits = matched_lines(command, &all, text);
        let keep = kept_lines(all.len(), &hits);
        let lines: Vec<(u32, String, bool)> = keep
            .into_iter()
            .map(|i| ((i + 1) as u32, all[i].to_string(), hits.contains(&i)))
            .collect();
        Some(RulesListing {
            node: node_name,
            command,
            synced,
            total: all.len(),
            lines,
        })
    }
}

impl History {
    /// Keeps `rec` in [`rules`](Self::rules), once for traces that saw the same: its index, or
    /// `None` once [`MAX_RULES_LINES_TOTAL`] lines are kept.
    fn keep_rules(&mut self, rec: RulesListing) -> Option<u32> {
        if let Some(i) = self.rules.iter().position(|r| *r == rec) {
            return Some(i as u32);
        }
        let kept: usize = self.rules.iter().map(|r| r.lines.len()).sum();
        if kept + rec.lines.len() > MAX_RULES_LINES_TOTAL {
            self.rules_left_out += 1;
            return None;
        }
        self.rules.push(rec);
        Some((self.rules.len() - 1) as u32)
    }
}

/// The lines of a node's rules listing (`all`, the output of `command`) that a trace's `text`
/// says it matched, sorted: in `iptables-save`, each `TABLE -A CHAIN ...` line the trace
/// lists, in its table's section; in `nft list ruleset`, each `CHAIN: RULE` in its chain; in
/// `ipvsadm -Ln`, the virtual server the trace names and the real server it chose under it.
/// Only the entry node's part of the trace counts (up to a second node's rules).
pub fn matched_lines(command: &str, all: &[&str], text: &str) -> Vec<usize> {
    // The trace's lines for the entry node: from its first `rules of` or `IPVS of` line to
    // the next.
    let mut entry: Vec<&str> = Vec::new();
    let mut seen = 0;
    for l in text.lines() {
        let t = l.trim_start();
        if t.starts_with("rules of ") || t.starts_with("IPVS of ") {
            seen += 1;
        }
        if seen == 1 {
            entry.push(l);
        }
    }
    let mut hits = Vec::new();
    match command {
        "iptables-save" => {
            let wanted: Vec<(&str, &str)> = entry
                .iter()
                .filter_map(|l| {
                    let t = l.trim_start();
                    let (table, rule) = t.split_once(' ')?;
                    let rule = rule.trim_start();
                    (matches!(table, "nat" | "filter" | "mangle" | "raw")
                        && rule.starts_with("-A "))
                    .then_some((table, rule))
                })
                .collect();
            let mut table = "";
            for (i, l) in all.iter().enumerate() {
                if let Some(t) = l.strip_prefix('*') {
                    table = t;
                } else if wanted.iter().any(|&(t, r)| t == table && r == *l) {
                    hits.push(i);
                }
            }
        }
        "nft list ruleset" => {
            let wanted: Vec<(&str, &str)> = entry
                .iter()
                .filter_map(|l| {
                    let t = l.trim_start();
                    if t.starts_with("= ") {
                        return None;
                    }
                    let (chain, rule) = t.split_once(": ")?;
                    (!chain.contains(' ')).then_some((chain, rule.trim()))
                })
                .collect();
            let mut chain = "";
            for (i, l) in all.iter().enumerate() {
                let t = l.trim();
                if let Some(c) = t.strip_prefix("chain ") {
                    chain = c.trim_end_matches('{').trim();
                } else if wanted.iter().any(|&(c, r)| c == chain && r == t) {
                    hits.push(i);
                }
            }
        }
        _ => {
            // `virtual server TCP  10.96.0.10:80 rr ...` and `-> real server 10.244.1.3:80`.
            let after = |key: &str| {
                entry.iter().find_map(|l| {
                    let i = l.find(key)?;
                    l[i + key.len()..]
                        .split_whitespace()
                        .next()
                        .map(str::to_string)
                })
            };
            let vs = after("virtual server TCP ");
            let rs = after("real server ");
            let mut in_vs = false;
            for (i, l) in all.iter().enumerate() {
                let t = l.trim();
                if t.starts_with("TCP") || t.starts_with("UDP") {
                    in_vs = vs
                        .as_deref()
                        .is_some_and(|v| t.split_whitespace().nth(1) == Some(v));
                    if in_vs {
                        hits.push(i);
                    }
                } else if in_vs {
                    if let (Some(addr), Some(r)) = (t.strip_prefix("-> "), rs.as_deref()) {
                        if addr.split_whitespace().next() == Some(r) {
                            hits.push(i);
                        }
                    }
                }
            }
        }
    }
    hits
}

/// The lines of a listing of `total` lines kept: all up to [`MAX_RULES_LINES`], else each
/// matched line (`hits`, sorted) with [`RULES_CONTEXT`] lines around it, and the first three
/// (the header), up to [`MAX_RULES_LINES`].
pub fn kept_lines(total: usize, hits: &[usize]) -> Vec<usize> {
    if total <= MAX_RULES_LINES {
        return (0..total).collect();
    }
    let mut keep: Vec<usize> = (0..3.min(total)).collect();
    for &h in hits {
        let lo = h.saturating_sub(RULES_CONTEXT);
        let hi = (h + RULES_CONTEXT).min(total - 1);
        keep.extend(lo..=hi);
    }
    keep.sort_unstable();
    keep.dedup();
    keep.truncate(MAX_RULES_LINES);
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_lines_are_matched_in_their_table() {
        let all = [
            "*filter",
            "-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "COMMIT",
            "*nat",
            "-A PREROUTING -j KUBE-SERVICES",
            "-A KUBE-SVC-X -j KUBE-SEP-A",
            "-A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-B",
            "-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "COMMIT",
        ];
        let text = "client 1.2.3.4\n         rules of node-1 (synced at 1.000s):\n           nat    -A PREROUTING -j KUBE-SERVICES\n           nat    -A KUBE-SVC-X -j KUBE-SEP-A\n           filter -A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n         rules of node-2 (synced at 1.000s):\n           nat    -A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-B\n";
        // The filter rule in *filter only (not its twin in *nat); node-2's rule not at all.
        assert_eq!(matched_lines("iptables-save", &all, text), vec![1, 4, 5]);
    }

    #[test]
    fn nft_and_ipvs_lines_are_matched() {
        let all = [
            "table ip kube-proxy {",
            "\tchain services {",
            "\t\tip daddr . meta l4proto . th dport vmap @service-ips",
            "\t}",
            "\tchain service-X {",
            "\t\tnumgen random mod 2 vmap { 0 : goto endpoint-A , 1 : goto endpoint-B }",
            "\t}",
            "}",
        ];
        let text = "         rules of n1 (synced at 1.000s):\n           services: ip daddr . meta l4proto . th dport vmap @service-ips\n             = 10.96.0.1 . tcp . 80 : goto service-X\n           service-X: numgen random mod 2 vmap { 0 : goto endpoint-A , 1 : goto endpoint-B }\n";
        assert_eq!(matched_lines("nft list ruleset", &all, text), vec![2, 5]);
        let all = [
            "IP Virtual Server version 1.2.1 (size=4096)",
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
            "TCP  10.96.0.1:443 rr",
            "  -> 192.168.0.24:6443            Masq    1      0          0",
            "TCP  10.96.0.20:80 rr",
            "  -> 10.244.0.3:80                Masq    1      0          0",
            "  -> 10.244.0.4:80                Masq    1      0          0",
        ];
        let text = "         IPVS of n1 (synced at 1.000s): virtual server TCP  10.96.0.20:80 rr (ClusterIP, x)\n           scheduler rr -> real server 10.244.0.4:80 (Masq: IPVS rewrites the destination)\n";
        assert_eq!(matched_lines("ipvsadm -Ln", &all, text), vec![5, 7]);
    }

    #[test]
    fn long_listings_keep_the_matched_lines_with_context() {
        assert_eq!(kept_lines(10, &[4]), (0..10).collect::<Vec<_>>());
        let keep = kept_lines(10_000, &[500, 502, 9_999]);
        assert_eq!(
            keep,
            vec![0, 1, 2, 498, 499, 500, 501, 502, 503, 504, 9_997, 9_998, 9_999]
        );
        let many: Vec<usize> = (0..5_000).map(|i| i * 2).collect();
        assert_eq!(kept_lines(10_000, &many).len(), MAX_RULES_LINES);
    }
}
