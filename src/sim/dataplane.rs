//! EndpointSlices and each node's kube-proxy.
//!
//! A change reaches the data plane in steps: a pod's status changes, the EndpointSlice
//! controller updates the slice after its batch period (0 by default), and each node's kube-proxy
//! re-programs its rules at its next sync, at most once per `minSyncPeriod` (1 s; upstream's
//! `BoundedFrequencyRunner`). Until then the node routes by its old rules.
//!
//! What a sync reads is a [`Generation`]: every service port with its endpoints, as they stand
//! at that instant, built once however many nodes sync then, and from the previous one by
//! rebuilding only the Services whose pods changed (the EndpointSlice controller tracks which,
//! [`super::endpointslices`]). In iptables and IPVS mode it carries the rules every node shares
//! ([`SharedRules`]); a node's rules ([`NodeRules`]) are those plus its own pieces for the ports
//! with a `Local` traffic policy that have endpoints on it. So a sync costs what changed, as
//! kube-proxy's partial syncs do (KEP-3453), and the rules of 5,000 nodes are held about once.

use super::endpointslices::Changed;
use super::zones::{endpoint_hints, EndpointHints};
use super::{Ev, Simulation};
use crate::engine::{FxHashMap, SimRng, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::{ServiceType, TopologyRouting, TrafficPolicy};
use crate::net::config::{NetConfig, ProxyMode};
use crate::net::iptables::shared::port_destinations;
use crate::net::iptables::{
    large_cluster_mode, port_key, AffinityTable, FixedRules, IptablesRules, NodeProxyInput,
    NodeRules, Packet, PortRules, ProxyEndpoint, ProxyServicePort, SharedRules, Verdict,
};
use crate::net::ipvs::{CloseKind, IpvsConn, IpvsTable};
use crate::net::ipvs_rules;
use crate::net::nftables::NftRuleset;
use crate::net::portmap::{self, PodPortMaps};
use crate::net::sync_time::{sync_duration, RulesetSize};
use crate::net::topology::{categorize_endpoints, TrafficPolicies};
use crate::traffic::request::NO_DP_CONN;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// One service port as kube-proxy read it at a sync.
#[derive(Debug)]
pub(super) struct PortState {
    /// The Service (index into the API server's Services at that time) and its port.
    pub service: usize,
    pub port: usize,
    /// The port and its endpoints, every `is_local` false (a node's view sets its own).
    pub input: ProxyServicePort,
    /// Where each endpoint runs, and which pod and container it is.
    pub nodes: Vec<NodeId>,
    pub pods: Vec<(PodId, u16)>,
    /// Its rules differ on the nodes that run its endpoints (it uses node-local endpoints),
    /// or on the nodes of the zones its endpoints are hinted for.
    pub local_dependent: bool,
    /// Each endpoint's topology hints; empty when the Service asks for none.
    pub hints: Vec<EndpointHints>,
    /// Its iptables piece as built for a node with none of its endpoints (iptables and IPVS
    /// modes).
    pub piece: Option<Arc<PortRules>>,
}

impl PortState {
    /// The port as the kube-proxy of `node` (in `zone`) sees it.
    fn on(&self, node: NodeId, zone: Option<u16>) -> ProxyServicePort {
        let mut sp = self.input.clone();
        for (e, n) in sp.endpoints.iter_mut().zip(&self.nodes) {
            e.is_local = *n == node;
        }
        for ((e, n), h) in sp.endpoints.iter_mut().zip(&self.nodes).zip(&self.hints) {
            e.hints = h.view(*n, Some(node), zone);
        }
        sp
    }
}

/// What every node's kube-proxy reads at one sync instant.
#[derive(Debug)]
pub(super) struct Generation {
    /// The service ports with a ClusterIP, in the Services' order, each Service's ports in
    /// order (the order of a node's [`NodeProxyInput::services`]).
    pub ports: Vec<Arc<PortState>>,
    /// The rules every node shares (iptables and IPVS modes).
    shared: Option<Arc<SharedRules>>,
    /// nftables mode: the table of a node with no endpoint of a node-local-dependent port,
    /// which every such node shares.
    nft: Option<NftRuleset>,
    /// A position in kube-proxy's order (the shared rules') → the index in `ports`.
    pos_to_port: Arc<[u32]>,
    /// The index in `ports` → the position in kube-proxy's order.
    port_to_pos: Vec<u32>,
    /// The node-local-dependent ports (indices into `ports`) with endpoints on each node.
    local_by_node: FxHashMap<NodeId, Vec<u32>>,
    /// kube-proxy's large cluster mode (more than 1,000 endpoints).
    large: bool,
}

impl Generation {
    fn empty(fixed: &Arc<FixedRules>, net: &NetConfig) -> Generation {
        Generation {
            ports: Vec::new(),
            shared: Some(Arc::new(SharedRules::new(
                fixed.clone(),
                Vec::new(),
                net.cluster_cidr,
            ))),
            nft: None,
            pos_to_port: Arc::from(Vec::new()),
            port_to_pos: Vec::new(),
            local_by_node: FxHashMap::default(),
            large: false,
        }
    }

    /// The pod and container behind endpoint `endpoint` of port `port` (an index into
    /// `ports`).
    pub fn pod(&self, port: usize, endpoint: usize) -> (PodId, u16) {
        self.ports[port].pods[endpoint]
    }

    /// What the kube-proxy of `node` reads: every port with its endpoints' `is_local` set.
    pub fn node_input(&self, sim: &Simulation, node: NodeId) -> NodeProxyInput {
        let n = sim.cluster.node(node);
        NodeProxyInput {
            node_name: n.cfg.name.clone(),
            node_ip: n.cfg.ip,
            pod_cidr: sim.pod_cidrs[node.index()],
            cluster_cidr: sim.scenario.net.cluster_cidr,
            services: self
                .ports
                .iter()
                .map(|p| p.on(node, sim.zones.of(node)))
                .collect(),
        }
    }

    /// How many rules each node's iptables holds in all, fixed chains included (IPVS and
    /// iptables modes; `None` otherwise).
    pub fn iptables_rule_count(&self) -> Option<usize> {
        self.shared.as_ref().map(|s| s.rule_count())
    }
}

/// kube-proxy's state shared by every node: the EndpointSlices it reads and the latest
/// [`Generation`].
pub(super) struct ProxyState {
    fixed: Arc<FixedRules>,
    pub slices: super::endpointslices::EndpointSlices,
    current: Arc<Generation>,
    /// How many nodes have a sync pending (when all have, a change asks nothing more).
    pending: usize,
    /// The work done so far, counted (for tests that prove how it grows).
    pub work: ProxyWork,
}

/// What kube-proxy's side of the simulation has built so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyWork {
    /// Generations built (distinct sync instants at which something had changed).
    pub generations: u64,
    /// Service ports read from the EndpointSlices anew.
    pub ports_read: u64,
    /// iptables pieces built (shared and node-local), and the rules in them.
    pub pieces_built: u64,
    pub rules_built: u64,
    /// Node syncs.
    pub node_syncs: u64,
}

impl ProxyState {
    pub fn new(net: &NetConfig, slice_names: SimRng) -> ProxyState {
        let fixed = Arc::new(FixedRules::new());
        let current = Arc::new(Generation::empty(&fixed, net));
        ProxyState {
            fixed,
            slices: super::endpointslices::EndpointSlices::new(slice_names),
            current,
            pending: 0,
            work: ProxyWork::default(),
        }
    }
}

/// What a node's kube-proxy programmed, in the scenario's `proxyMode`.
pub(super) enum DataPlane {
    /// iptables mode; in IPVS mode the iptables-mode rules too (for `rules` and `trace`),
    /// while the node's IPVS table routes.
    Iptables(NodeRules),
    /// nftables mode: the `ip kube-proxy` table.
    Nftables(NftRuleset),
}

/// One node's kube-proxy: the rules it last programmed and what they point at.
pub(super) struct NodeProxy {
    pub rules: DataPlane,
    /// What the rules were built from.
    pub gen: Arc<Generation>,
    /// This node's own iptables pieces of the ports that depend on it, with the port state
    /// each was built from (kept while that port is unchanged).
    local_pieces: Vec<(Arc<PortState>, Arc<PortRules>)>,
    pub affinity: AffinityTable,
    pub rng: SimRng,
    /// When the rules in force reached the kernel.
    pub last_sync: Option<SimTime>,
    /// When the last sync started (`minSyncPeriod` counts from there).
    started: Option<SimTime>,
    /// A sync on its way to the kernel, and when it gets there.
    programming: Option<Arc<Generation>>,
    busy_until: Option<SimTime>,
    pub sync_pending: bool,
    /// Syncs programmed so far, and syncs started (their EndpointSlices read).
    pub syncs: u64,
    reads: u64,
    /// IPVS mode: the node's virtual servers, which route instead of `rules`.
    pub ipvs: Option<IpvsTable>,
}

impl NodeProxy {
    /// A proxy in the scenario's mode (`spec.cluster.proxyMode`), before its first sync: its
    /// rules hold only kube-proxy's fixed chains.
    pub fn for_mode(
        rng: SimRng,
        net: &NetConfig,
        state: &ProxyState,
        node: &crate::model::config::NodeConfig,
        pod_cidr: Ipv4Net,
    ) -> Self {
        let gen = state.current.clone();
        let shared = gen
            .shared
            .clone()
            .expect("the empty generation has iptables rules");
        NodeProxy {
            rules: DataPlane::Iptables(NodeRules::new(
                &node.name,
                node.ip,
                pod_cidr,
                shared,
                Vec::new(),
            )),
            gen,
            local_pieces: Vec::new(),
            affinity: AffinityTable::default(),
            rng,
            last_sync: None,
            started: None,
            programming: None,
            busy_until: None,
            sync_pending: false,
            syncs: 0,
            reads: 0,
            ipvs: (net.proxy_mode == ProxyMode::Ipvs).then(|| IpvsTable::new(net.ipvs_scheduler)),
        }
    }

    /// Routes a connection's first packet by walking these rules (through the route cache,
    /// proven equal to the walk); a DNAT names the port by its index in [`Generation::ports`].
    #[inline]
    pub fn route(&mut self, pkt: &Packet, now_ns: u64) -> Verdict {
        match &mut self.rules {
            DataPlane::Iptables(r) => {
                let v = r.route_cached(pkt, &mut self.rng, &mut self.affinity, now_ns);
                by_port_index(v, &self.gen.pos_to_port)
            }
            DataPlane::Nftables(r) => r.route(pkt, &mut self.rng, &mut self.affinity, now_ns),
        }
    }
}

impl NodeProxy {
    /// Routes a probe's first packet as [`route`](Self::route) would, changing nothing: no
    /// route cache, a fresh `-m recent` table, IPVS on a copy of the table, the caller's random
    /// numbers (`expect`'s reachability checks).
    pub(super) fn route_probe(&self, pkt: &Packet, rng: &mut SimRng, now_ns: u64) -> Verdict {
        let mut affinity = AffinityTable::default();
        if let Some(table) = &self.ipvs {
            return table.clone().route(pkt, now_ns).0;
        }
        match &self.rules {
            DataPlane::Iptables(r) => by_port_index(
                r.route(pkt, rng, &mut affinity, now_ns),
                &self.gen.pos_to_port,
            ),
            DataPlane::Nftables(t) => t.route(pkt, rng, &mut affinity, now_ns),
        }
    }
}

/// An iptables verdict with its service port's position in the shared rules turned into the
/// port's index in the node's input (`pos_to_port`).
#[inline]
fn by_port_index(v: Verdict, pos_to_port: &[u32]) -> Verdict {
    match v {
        Verdict::Dnat {
            ip,
            port,
            masquerade,
            endpoint_index,
            service_port_index,
        } => Verdict::Dnat {
            ip,
            port,
            masquerade,
            endpoint_index,
            service_port_index: pos_to_port[service_port_index] as usize,
        },
        v => v,
    }
}

/// A connection counted by a node's IPVS, packed for the traffic layer (`dp_conn`): node
/// (24 bits), virtual server (20), real server (20).
pub(super) fn pack_ipvs_conn(node: NodeId, c: IpvsConn) -> u64 {
    debug_assert!(c.vs < 1 << 20 && c.dest < 1 << 20);
    (u64::from(node.0) << 40) | (u64::from(c.vs) << 20) | u64::from(c.dest)
}

impl Simulation {
    /// Something that EndpointSlices depend on changed: every node's kube-proxy will sync.
    pub(super) fn endpoints_changed(&mut self) {
        // The EndpointSlice controller writes the change (its batch period is 0 by default).
        self.kube_proxy.slices.refresh(&self.api, &mut self.cluster);
        if self.kube_proxy.pending == self.proxies.len() {
            return;
        }
        for n in 0..self.proxies.len() {
            self.request_sync(NodeId(n as u32));
        }
    }

    /// Schedules a sync of `node`'s rules, rate-limited by `minSyncPeriod`.
    pub(super) fn request_sync(&mut self, node: NodeId) {
        let now = self.queue.now();
        let min = self.scenario.net.min_sync_period;
        let p = &mut self.proxies[node.index()];
        if p.sync_pending {
            return;
        }
        p.sync_pending = true;
        self.kube_proxy.pending += 1;
        // The EndpointSlice controller writes the change after its batch period; the proxy
        // then syncs at once, unless it synced less than `minSyncPeriod` ago.
        let slice_at = now + self.scenario.net.endpoint_slice_batch_period;
        let at = match p.started {
            Some(last) if last + min > slice_at => last + min,
            _ => slice_at,
        };
        self.queue.schedule(at, Ev::ProxySync(node));
    }

    /// The service ports and endpoints as they stand now: the latest generation, or a new one
    /// when a Service or a pod changed since.
    fn generation(&mut self) -> Arc<Generation> {
        let ps = &mut self.kube_proxy;
        ps.slices.refresh(&self.api, &mut self.cluster);
        if !ps.slices.any_changed() {
            return ps.current.clone();
        }
        let changed = ps.slices.take_changed();
        let prev = ps.current.clone();
        let mode = self.scenario.net.proxy_mode;
        // Each port: the previous generation's when its Service did not change, else read
        // anew.
        let mut read: Vec<Result<Arc<PortState>, PortState>> = Vec::new();
        let mut k = 0usize;
        for (si, svc) in self.api.services.iter().enumerate() {
            if svc.cluster_ip.is_none() || svc.obj.spec.type_ == ServiceType::ExternalName {
                continue;
            }
            let same = match &changed {
                Changed::All => false,
                Changed::Some(l) => l.binary_search(&si).is_err(),
            };
            for pi in 0..svc.obj.spec.ports.len() {
                if same {
                    let p = prev.ports[k].clone();
                    debug_assert_eq!((p.service, p.port), (si, pi));
                    read.push(Ok(p));
                } else {
                    read.push(Err(self.port_state(si, pi)));
                    self.kube_proxy.work.ports_read += 1;
                }
                k += 1;
            }
        }
        let total: usize = read
            .iter()
            .map(|r| match r {
                Ok(p) => p.input.endpoints.len(),
                Err(p) => p.input.endpoints.len(),
            })
            .sum();
        // kube-proxy's large cluster mode changes every port's rules: a flip rebuilds them all.
        let large = large_cluster_mode(total);
        let cidr = self.scenario.net.cluster_cidr;
        let with_rules = mode != ProxyMode::Nftables;
        let built = std::cell::Cell::new((0u64, 0u64));
        let build = |p: &PortState| {
            with_rules.then(|| {
                let piece = PortRules::build(&p.input, cidr, large);
                let (n, r) = built.get();
                built.set((n + 1, r + piece.rule_count() as u64));
                Arc::new(piece)
            })
        };
        let ports: Vec<Arc<PortState>> = read
            .into_iter()
            .map(|r| match r {
                Ok(old) if large == prev.large => old,
                Ok(old) => {
                    let mut p = PortState {
                        service: old.service,
                        port: old.port,
                        input: old.input.clone(),
                        nodes: old.nodes.clone(),
                        pods: old.pods.clone(),
                        local_dependent: old.local_dependent,
                        hints: old.hints.clone(),
                        piece: None,
                    };
                    p.piece = build(&p);
                    Arc::new(p)
                }
                Err(mut fresh) => {
                    fresh.piece = build(&fresh);
                    Arc::new(fresh)
                }
            })
            .collect();
        let (n, r) = built.get();
        let work = &mut self.kube_proxy.work;
        work.generations += 1;
        work.pieces_built += n;
        work.rules_built += r;
        let mut order: Vec<((String, &'static str), u32)> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| (port_key(&p.input), i as u32))
            .collect();
        order.sort();
        let pos_to_port: Vec<u32> = order.iter().map(|(_, i)| *i).collect();
        let mut port_to_pos = vec![0u32; ports.len()];
        for (pos, &i) in pos_to_port.iter().enumerate() {
            port_to_pos[i as usize] = pos as u32;
        }
        let shared = with_rules.then(|| {
            let pieces = pos_to_port
                .iter()
                .map(|&i| {
                    let p = &ports[i as usize];
                    (
                        port_destinations(&p.input),
                        p.piece.clone().expect("built in this mode"),
                    )
                })
                .collect();
            Arc::new(SharedRules::new(
                self.kube_proxy.fixed.clone(),
                pieces,
                cidr,
            ))
        });
        let mut local_by_node: FxHashMap<NodeId, Vec<u32>> = FxHashMap::default();
        for (i, p) in ports.iter().enumerate() {
            if p.local_dependent {
                let mut nodes = p.nodes.clone();
                // Hinted ports: every node of a zone some endpoint is hinted for.
                for z in p.hints.iter().filter_map(|h| h.zone) {
                    nodes.extend_from_slice(self.zones.nodes_in(z));
                }
                nodes.sort_unstable();
                nodes.dedup();
                for n in nodes {
                    local_by_node.entry(n).or_default().push(i as u32);
                }
            }
        }
        let nft = (mode == ProxyMode::Nftables).then(|| {
            let nowhere = NodeProxyInput {
                node_name: String::new(),
                node_ip: Ipv4Addr::UNSPECIFIED,
                pod_cidr: Ipv4Net::default(),
                cluster_cidr: cidr,
                services: ports.iter().map(|p| p.input.clone()).collect(),
            };
            NftRuleset::build(&nowhere, self.scenario.net.service_cidr)
        });
        let gen = Arc::new(Generation {
            ports,
            shared,
            nft,
            pos_to_port: Arc::from(pos_to_port),
            port_to_pos,
            local_by_node,
            large,
        });
        self.kube_proxy.current = gen.clone();
        gen
    }

    /// Port `pi` of Service `si` and its endpoints from the EndpointSlices (`ready` = serving
    /// and not terminating; `serving` follows the pod's Ready condition; `terminating` once it
    /// has a deletion timestamp).
    fn port_state(&self, si: usize, pi: usize) -> PortState {
        let svc = &self.api.services[si];
        let spec = &svc.obj.spec;
        let port = &spec.ports[pi];
        let mut endpoints = Vec::new();
        let mut nodes = Vec::new();
        let mut pods = Vec::new();
        for &id in self.kube_proxy.slices.selected(si) {
            let pod = self.cluster.pod(id);
            let (Some(ip), Some(pod_node)) = (pod.ip, pod.node) else {
                continue;
            };
            if pod.gone_at.is_some() {
                continue;
            }
            let Some(target) = pod.spec.endpoint_port(&port.target_port, port.protocol) else {
                continue;
            };
            let container = pod
                .spec
                .listener(target, port.protocol)
                .map_or(NO_LISTENER, |c| c as u16);
            let terminating = pod.deleted.is_some();
            let serving = pod.ready || (spec.publish_not_ready_addresses && pod.running());
            endpoints.push(ProxyEndpoint {
                ip,
                port: target,
                is_local: false,
                ready: endpoint_ready(serving, terminating, spec.publish_not_ready_addresses),
                serving,
                terminating,
                hints: Default::default(),
            });
            nodes.push(pod_node);
            pods.push((id, container));
        }
        let hints = if spec.topology == TopologyRouting::None {
            Vec::new()
        } else {
            let eps: Vec<(bool, NodeId)> = endpoints
                .iter()
                .zip(&nodes)
                .map(|(e, n)| (e.ready, *n))
                .collect();
            let node_hints = self.scenario.kubernetes_version >= (1, 34);
            endpoint_hints(spec.topology, &eps, &self.zones, &self.cluster, node_hints)
        };
        // As a node with none of the endpoints and no zone reads the hints.
        for ((e, n), h) in endpoints.iter_mut().zip(&nodes).zip(&hints) {
            e.hints = h.view(*n, None, None);
        }
        let hinted = hints.iter().any(|h| h.zone.is_some() || h.node);
        let input = ProxyServicePort {
            namespace: svc.obj.meta.namespace.clone(),
            name: svc.obj.meta.name.clone(),
            port_name: port.name.clone(),
            protocol: port.protocol,
            cluster_ip: svc.cluster_ip,
            port: port.port,
            node_port: svc.node_ports[pi],
            external_ips: spec.external_ips.clone(),
            load_balancer_ips: svc.load_balancer_ip.into_iter().collect(),
            external_policy_local: spec.external_traffic_policy == TrafficPolicy::Local,
            internal_policy_local: spec.internal_traffic_policy == TrafficPolicy::Local,
            affinity_timeout_seconds: spec
                .session_affinity_timeout
                .map(|d| (d.as_nanos() / 1_000_000_000) as u32),
            health_check_node_port: svc.health_check_node_port,
            source_ranges: if spec.type_ == crate::model::objects::ServiceType::LoadBalancer {
                spec.load_balancer_source_ranges.clone()
            } else {
                Vec::new()
            },
            endpoints,
        };
        let externally_accessible = input.node_port.is_some()
            || !input.external_ips.is_empty()
            || !input.load_balancer_ips.is_empty();
        let local_dependent = TrafficPolicies {
            internal_local: input.internal_policy_local,
            external_local: input.external_policy_local && externally_accessible,
            externally_accessible,
        }
        .uses_local_endpoints()
            || hinted;
        PortState {
            service: si,
            port: pi,
            input,
            nodes,
            pods,
            local_dependent,
            hints,
            piece: None,
        }
    }

    /// A node's kube-proxy syncs: it reads the EndpointSlices now and programs its rules,
    /// which take effect once the kernel has them ([`crate::net::sync_time`]); until then the
    /// node routes by its old rules.
    pub(super) fn on_proxy_sync(&mut self, now: SimTime, node: NodeId) {
        if let Some(busy) = self.proxies[node.index()].busy_until.filter(|b| *b > now) {
            // Syncs run one at a time (`BoundedFrequencyRunner`): this one starts when the last
            // one is in the kernel.
            self.queue.schedule(busy, Ev::ProxySync(node));
            return;
        }
        let gen = self.generation();
        let mode = self.scenario.net.proxy_mode;
        let p = &mut self.proxies[node.index()];
        if p.sync_pending {
            self.kube_proxy.pending -= 1;
        }
        p.sync_pending = false;
        p.started = Some(now);
        p.reads += 1;
        self.kube_proxy.work.node_syncs += 1;
        let size = RulesetSize {
            iptables_rules: gen.iptables_rule_count().unwrap_or(0),
            service_ports: gen.ports.len(),
        };
        let took = sync_duration(mode, size);
        if took.is_zero() {
            self.program(now, node, gen);
        } else {
            let p = &mut self.proxies[node.index()];
            p.busy_until = Some(now + took);
            p.programming = Some(gen);
            self.queue.schedule(now + took, Ev::ProxyProgrammed(node));
        }
    }

    /// A sync's rules reached the kernel of `node`.
    pub(super) fn on_proxy_programmed(&mut self, now: SimTime, node: NodeId) {
        if let Some(gen) = self.proxies[node.index()].programming.take() {
            self.program(now, node, gen);
        }
    }

    /// `node`'s rules from now on are those of `gen`.
    fn program(&mut self, now: SimTime, node: NodeId, gen: Arc<Generation>) {
        let mode = self.scenario.net.proxy_mode;
        // A node's own input: for IPVS, and for nftables on a node its ports depend on.
        let own = mode == ProxyMode::Ipvs
            || (mode == ProxyMode::Nftables && gen.local_by_node.contains_key(&node));
        let input = own.then(|| gen.node_input(self, node));
        let cfg = &self.cluster.nodes[node.index()].cfg;
        let pod_cidr = self.pod_cidrs[node.index()];
        if self.history.on {
            self.history.synced(now, node, &gen, &self.api.services);
        }
        let p = &mut self.proxies[node.index()];
        p.last_sync = Some(now);
        p.syncs += 1;
        p.rules = match (&gen.shared, &input) {
            (Some(shared), _) => {
                // This node's own pieces: those of the ports that depend on it, kept from the
                // last sync while the port is unchanged.
                let mut kept = std::mem::take(&mut p.local_pieces);
                let mut local = Vec::new();
                for &i in gen.local_by_node.get(&node).map_or(&[][..], Vec::as_slice) {
                    let port = &gen.ports[i as usize];
                    let piece = match kept.iter().position(|(s, _)| Arc::ptr_eq(s, port)) {
                        Some(j) => kept.swap_remove(j).1,
                        None => {
                            let piece = PortRules::build(
                                &port.on(node, self.zones.of(node)),
                                self.scenario.net.cluster_cidr,
                                gen.large,
                            );
                            self.kube_proxy.work.pieces_built += 1;
                            self.kube_proxy.work.rules_built += piece.rule_count() as u64;
                            Arc::new(piece)
                        }
                    };
                    local.push((gen.port_to_pos[i as usize], piece.clone()));
                    p.local_pieces.push((port.clone(), piece));
                }
                DataPlane::Iptables(NodeRules::new(
                    &cfg.name,
                    cfg.ip,
                    pod_cidr,
                    shared.clone(),
                    local,
                ))
            }
            (None, Some(input)) => {
                DataPlane::Nftables(NftRuleset::build(input, self.scenario.net.service_cidr))
            }
            (None, None) => DataPlane::Nftables(
                gen.nft
                    .as_ref()
                    .expect("nftables mode builds the shared table")
                    .for_node(&cfg.name, cfg.ip, pod_cidr),
            ),
        };
        if let (Some(table), Some(input)) = (&mut p.ipvs, &input) {
            table.sync(input, now.as_nanos(), &mut p.rng);
        }
        p.gen = gen;
    }

    /// The pods a new connection to port `port` of the `service`-th Service can reach through
    /// `node`'s rules as last synced: the usable cluster-wide endpoints (the ready ones, or if
    /// none, the serving-and-terminating ones; `pkg/proxy/topology.go`).
    pub fn routable_pods(&self, node: NodeId, service: usize, port: usize) -> Vec<PodId> {
        let p = &self.proxies[node.index()];
        let Some(ps) = p
            .gen
            .ports
            .iter()
            .find(|ps| (ps.service, ps.port) == (service, port))
        else {
            return Vec::new();
        };
        let sp = &ps.on(node, self.zones.of(node));
        let policies = TrafficPolicies {
            internal_local: sp.internal_policy_local,
            external_local: sp.external_policy_local,
            externally_accessible: sp.node_port.is_some()
                || !sp.external_ips.is_empty()
                || !sp.load_balancer_ips.is_empty(),
        };
        let usable = categorize_endpoints(&sp.endpoints, policies);
        usable
            .cluster
            .unwrap_or_default()
            .into_iter()
            .map(|i| ps.pods[i].0)
            .collect()
    }

    /// `node`'s rules as its kube-proxy last programmed them, in `iptables-save`'s format,
    /// and when that was (`None` before the first sync). In another proxy mode: the rules
    /// kube-proxy in iptables mode would have programmed from the same Services and
    /// EndpointSlices.
    pub fn iptables_save(&self, node: NodeId) -> (String, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        let text = match &p.rules {
            _ if p.last_sync.is_none() => IptablesRules::default().render(),
            DataPlane::Iptables(r) => r.render(),
            DataPlane::Nftables(_) => self.whole_iptables_rules(node).render(),
        };
        (
            portmap::merge_into(&text, &self.host_port_maps(node)),
            p.last_sync,
        )
    }

    /// What an IPVS-mode `node` holds besides its virtual servers, from what its kube-proxy
    /// last read: its ipsets as `ipset save` prints them, and its iptables rules (kube-proxy's
    /// IPVS-mode chains, kubelet's, the CNI portmap plugin's) as `iptables-save` prints them.
    /// `None` unless the run is in IPVS mode.
    pub fn ipvs_sets_and_rules(&self, node: NodeId) -> Option<(String, String)> {
        let p = &self.proxies[node.index()];
        p.ipvs.as_ref()?;
        let input = p.gen.node_input(self, node);
        let rules = ipvs_rules::iptables_save(&input);
        Some((
            ipvs_rules::ipset_save(&input),
            portmap::merge_into(&rules, &self.host_port_maps(node)),
        ))
    }

    /// The `hostPort` mappings the CNI portmap plugin holds on `node`: its pods with a
    /// sandbox (an address) and a container port with a `hostPort`, in creation order.
    /// `hostNetwork` pods have none (the runtime calls no CNI plugin for them).
    pub(super) fn host_port_maps(&self, node: NodeId) -> Vec<PodPortMaps> {
        let prefix = self.pod_cidrs[node.index()].prefix_len();
        self.cluster
            .live_pods()
            .filter(|(_, p)| p.node == Some(node) && !p.spec.host_network)
            .filter_map(|(_, p)| {
                let ip = p.ip?;
                let maps: Vec<(&'static str, u16, u16)> = p
                    .spec
                    .containers
                    .iter()
                    .flat_map(|c| &c.ports)
                    .filter_map(|cp| {
                        let host = cp.host_port.filter(|&h| h != 0)?;
                        Some((cp.protocol.lower(), host, cp.container_port))
                    })
                    .collect();
                (!maps.is_empty()).then(|| PodPortMaps {
                    container_id: portmap::sandbox_id(&p.uid),
                    ip,
                    prefix,
                    maps,
                })
            })
            .collect()
    }

    /// Who a new TCP connection to `node`'s own address on `port` reaches when no kube-proxy
    /// rule claimed it: a pod's `hostPort` (the portmap plugin's DNAT, to its containerPort)
    /// or a `hostNetwork` pod listening on the node's address, as (pod, container index,
    /// containerPort); `None`: nobody (a reset).
    /// Scans the cluster's pods, on this path only.
    pub(super) fn host_port_target(&self, node: NodeId, port: u16) -> Option<(PodId, u16, u16)> {
        use crate::model::objects::Protocol;
        self.cluster
            .live_pods()
            .filter(|(_, p)| p.node == Some(node) && (p.ip.is_some() || p.spec.host_network))
            .find_map(|(id, p)| {
                p.spec
                    .containers
                    .iter()
                    .flat_map(|c| &c.ports)
                    .find(|cp| {
                        cp.protocol == Protocol::Tcp
                            && cp.host_port.filter(|&h| h != 0) == Some(port)
                    })
                    .and_then(|cp| {
                        let c = p.spec.listener(cp.container_port, Protocol::Tcp)?;
                        Some((id, c as u16, cp.container_port))
                    })
            })
    }

    /// `node`'s rules as one whole [`IptablesRules`] (for `trace`, which lists every rule
    /// matched), built from what its kube-proxy last read: DNATs name ports by their index in
    /// [`Generation::ports`].
    pub(super) fn whole_iptables_rules(&self, node: NodeId) -> IptablesRules {
        IptablesRules::build(&self.proxies[node.index()].gen.node_input(self, node))
    }

    /// `node`'s `ip kube-proxy` table in nftables mode, as `nft list ruleset` prints it, and
    /// when its kube-proxy last synced. In another proxy mode: the table kube-proxy in
    /// nftables mode would have programmed from the same Services and EndpointSlices.
    pub fn nft_list_ruleset(&self, node: NodeId) -> (String, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        let text = match &p.rules {
            DataPlane::Nftables(r) => r.render(),
            DataPlane::Iptables(_) => NftRuleset::build(
                &p.gen.node_input(self, node),
                self.scenario.net.service_cidr,
            )
            .render(),
        };
        (text, p.last_sync)
    }

    /// The pods a new TCP connection from `src` to `dst:dport`, entering `node`, can be DNATed
    /// to by that node's rules as last synced, whatever the random draws (every `numgen`
    /// value, or every outcome of the `-m statistic` rules, explored), sorted. Affinity is
    /// ignored. What the rules say, not what the Services say: properties compare the two.
    pub fn rule_targets(
        &self,
        node: NodeId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dport: u16,
    ) -> Vec<PodId> {
        let p = &self.proxies[node.index()];
        let pkt = Packet {
            src,
            src_port: 40000,
            dst,
            dst_port: dport,
            protocol: crate::model::objects::Protocol::Tcp,
            local_origin: false,
        };
        let now = self.queue.now().as_nanos();
        let targets = match &p.rules {
            DataPlane::Nftables(r) => r.dnat_targets(&pkt, &AffinityTable::new(), now),
            DataPlane::Iptables(_) => {
                self.whole_iptables_rules(node)
                    .dnat_targets(&pkt, &AffinityTable::new(), now)
            }
        };
        let mut pods: Vec<PodId> = targets
            .into_iter()
            .map(|(s, e)| p.gen.pod(s, e).0)
            .collect();
        pods.sort();
        pods.dedup();
        pods
    }

    /// `node`'s IPVS table as `ipvsadm -Ln` prints it now (connection counts at this instant),
    /// and when kube-proxy last synced it; `None` unless the run is in IPVS mode.
    pub fn ipvsadm(&mut self, node: NodeId) -> Option<(String, Option<SimTime>)> {
        let now = self.queue.now().as_nanos();
        let p = &mut self.proxies[node.index()];
        let table = p.ipvs.as_mut()?;
        table.graceful_check(now);
        Some((table.render(now), p.last_sync))
    }

    /// `node`'s IPVS table (virtual servers, real servers, connection counts) as it stands;
    /// `None` unless the run is in IPVS mode. For properties checked between events.
    pub fn ipvs_table(&self, node: NodeId) -> Option<&IpvsTable> {
        self.proxies[node.index()].ipvs.as_ref()
    }

    /// Whether the data plane counts connections (IPVS mode), so their ends must be told.
    pub(super) fn dp_counts_connections(&self) -> bool {
        self.scenario.net.proxy_mode == ProxyMode::Ipvs
    }

    /// A connection counted by IPVS ended at `at` (no-op for [`NO_DP_CONN`]).
    pub(super) fn close_dp_conn(&mut self, dp: u64, kind: CloseKind, at: SimTime) {
        if dp == NO_DP_CONN {
            return;
        }
        let node = (dp >> 40) as usize;
        let conn = IpvsConn {
            vs: ((dp >> 20) & 0xF_FFFF) as u32,
            dest: (dp & 0xF_FFFF) as u32,
        };
        if let Some(t) = self.proxies.get_mut(node).and_then(|p| p.ipvs.as_mut()) {
            t.close(conn, kind, at.as_nanos());
        }
    }

    /// The EndpointSlices of the `service`-th Service (of [`services`](Self::services)), as
    /// the controller last wrote them.
    pub fn endpoint_slices(&self, service: usize) -> &[super::endpointslices::EndpointSlice] {
        let svc = &self.api.services[service].obj.meta;
        self.kube_proxy.slices.slices_of(&svc.namespace, &svc.name)
    }

    /// What kube-proxy's side has built so far, counted.
    pub fn proxy_work(&self) -> ProxyWork {
        self.kube_proxy.work
    }

    /// How many syncs of `node`'s kube-proxy have started: each read the EndpointSlices as they
    /// stood then, and its rules take effect when it is programmed ([`proxy_syncs`](Self::proxy_syncs)).
    pub fn proxy_reads(&self, node: NodeId) -> u64 {
        self.proxies[node.index()].reads
    }

    /// How many syncs of `node`'s kube-proxy have reached its kernel, and when the last did.
    pub fn proxy_syncs(&self, node: NodeId) -> (u64, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        (p.syncs, p.last_sync)
    }

    /// The index of Service `namespace/name` in the API server's list, through an index kept
    /// for the list's version (so a name lookup does not scan every Service).
    pub(super) fn service_index(&self, namespace: &str, name: &str) -> Option<usize> {
        let mut cache = self.service_names.borrow_mut();
        if cache.0 != Some(self.api.version) {
            let mut by_ns: FxHashMap<String, FxHashMap<String, usize>> = FxHashMap::default();
            for (i, s) in self.api.services.iter().enumerate() {
                by_ns
                    .entry(s.obj.meta.namespace.clone())
                    .or_default()
                    .entry(s.obj.meta.name.clone())
                    .or_insert(i);
            }
            *cache = (Some(self.api.version), by_ns);
        }
        cache.1.get(namespace)?.get(name).copied()
    }

    /// The ready endpoints of a Service's first port now, `IP:port`, sorted as strings (the
    /// order kube-proxy gives them).
    pub(super) fn ready_endpoints(&self, service: usize) -> Vec<String> {
        let svc = &self.api.services[service];
        let Some(port) = svc.obj.spec.ports.first() else {
            return Vec::new();
        };
        let mut eps: Vec<String> = self
            .cluster
            .pods_selected(&svc.obj.meta.namespace, &svc.obj.spec.selector)
            .filter(|(_, p)| {
                let publish = svc.obj.spec.publish_not_ready_addresses;
                let serving = p.ready || (publish && p.running());
                endpoint_ready(serving, p.deleted.is_some(), publish)
            })
            .filter_map(|(_, p)| {
                Some(format!(
                    "{}:{}",
                    p.ip?,
                    p.spec.endpoint_port(&port.target_port, port.protocol)?
                ))
            })
            .collect();
        eps.sort();
        eps
    }

    /// The A records of a headless Service: its selected pods' IPs, ready ones only unless
    /// `publishNotReadyAddresses` (then terminating ones too), sorted.
    pub(super) fn headless_records(&self, service: usize) -> Vec<std::net::Ipv4Addr> {
        let svc = &self.api.services[service].obj;
        let mut ips: Vec<std::net::Ipv4Addr> = self
            .cluster
            .pods_selected(&svc.meta.namespace, &svc.spec.selector)
            .filter(|(_, p)| {
                let publish = svc.spec.publish_not_ready_addresses;
                let serving = p.ready || (publish && p.running());
                endpoint_ready(serving, p.deleted.is_some(), publish)
            })
            .filter_map(|(_, p)| p.ip)
            .collect();
        ips.sort();
        ips
    }
}

/// The container index of an endpoint whose port no container of its pod listens on (see
/// `PodSpec::listener`): the endpoint exists, as upstream, and a connection to it is refused
/// (there is no server at that index).
pub(crate) const NO_LISTENER: u16 = u16::MAX;

/// An endpoint's `ready` condition as the EndpointSlice controller writes it (`podToEndpoint`
/// in `staging/src/k8s.io/endpointslice/utils.go`): `ready := publishNotReadyAddresses ||
/// (serving && !terminating)`, so `publishNotReadyAddresses: true` keeps a terminating pod's
/// endpoint ready. kubesim's `serving` under `publishNotReadyAddresses` is "its containers
/// run" (a pod whose containers are all down serves nothing), so the rule reads
/// `serving && (!terminating || publish)`.
pub(crate) fn endpoint_ready(serving: bool, terminating: bool, publish: bool) -> bool {
    serving && (!terminating || publish)
}
