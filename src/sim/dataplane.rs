//! EndpointSlices and each node's kube-proxy.
//!
//! A change reaches the data plane in steps: a pod's status changes, the EndpointSlice
//! controller updates the slice after its batch period (0 by default), and each node's kube-proxy
//! re-programs its rules at its next sync, at most once per `minSyncPeriod` (1 s; upstream's
//! `BoundedFrequencyRunner`). Until then the node routes by its old rules.

use super::{Ev, Simulation};
use crate::engine::{SimRng, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::{ServiceType, TrafficPolicy};
use crate::net::config::{NetConfig, ProxyMode};
use crate::net::iptables::{
    AffinityTable, IptablesRules, NodeProxyInput, Packet, ProxyEndpoint, ProxyServicePort, Verdict,
};
use crate::net::ipvs::{CloseKind, IpvsConn, IpvsTable};
use crate::net::nftables::NftRuleset;
use crate::net::topology::{categorize_endpoints, TrafficPolicies};
use crate::traffic::request::NO_DP_CONN;
use ipnet::Ipv4Net;
use rand::Rng;

/// What a node's kube-proxy programmed, in the scenario's `proxyMode`.
pub(super) enum DataPlane {
    /// iptables mode; in IPVS mode the iptables-mode rules too (for `rules` and `trace`),
    /// while the node's IPVS table routes.
    Iptables(IptablesRules),
    /// nftables mode: the `ip kube-proxy` table.
    Nftables(NftRuleset),
}

impl DataPlane {
    /// The rules kube-proxy in `mode` programs from `input`.
    pub fn build(mode: ProxyMode, input: &NodeProxyInput, service_cidr: Ipv4Net) -> DataPlane {
        match mode {
            ProxyMode::Nftables => DataPlane::Nftables(NftRuleset::build(input, service_cidr)),
            ProxyMode::Iptables | ProxyMode::Ipvs => {
                DataPlane::Iptables(IptablesRules::build(input))
            }
        }
    }

    /// Routes a connection's first packet by walking these rules (iptables: through its
    /// route cache, proven equal to the walk).
    #[inline]
    pub fn route(
        &mut self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        match self {
            DataPlane::Iptables(r) => r.route_cached(pkt, rng, affinity, now_ns),
            DataPlane::Nftables(r) => r.route(pkt, rng, affinity, now_ns),
        }
    }
}

/// One node's kube-proxy: the rules it last programmed and what they point at.
pub(super) struct NodeProxy {
    pub rules: DataPlane,
    /// `endpoints[service port][endpoint]`: the pod and container behind each endpoint of the
    /// rules' input, in the same order.
    pub endpoints: Vec<Vec<(PodId, u16)>>,
    pub affinity: AffinityTable,
    pub rng: SimRng,
    pub last_sync: Option<SimTime>,
    pub sync_pending: bool,
    /// What the rules were built from, and which Service port each entry is.
    pub input: NodeProxyInput,
    pub keys: Vec<(usize, usize)>,
    /// Syncs so far.
    pub syncs: u64,
    /// IPVS mode: the node's virtual servers, which route instead of `rules`.
    pub ipvs: Option<IpvsTable>,
}

impl NodeProxy {
    pub fn new(rng: SimRng) -> Self {
        NodeProxy {
            rules: DataPlane::Iptables(IptablesRules::default()),
            input: NodeProxyInput {
                node_name: String::new(),
                node_ip: std::net::Ipv4Addr::UNSPECIFIED,
                pod_cidr: Default::default(),
                cluster_cidr: Default::default(),
                services: Vec::new(),
            },
            keys: Vec::new(),
            syncs: 0,
            endpoints: Vec::new(),
            affinity: AffinityTable::default(),
            rng,
            last_sync: None,
            sync_pending: false,
            ipvs: None,
        }
    }

    /// A proxy in the scenario's mode (`spec.cluster.proxyMode`).
    pub fn for_mode(rng: SimRng, net: &NetConfig) -> Self {
        let mut p = NodeProxy::new(rng);
        if net.proxy_mode == ProxyMode::Ipvs {
            p.ipvs = Some(IpvsTable::new(net.ipvs_scheduler));
        }
        p
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
        // The EndpointSlice controller writes the change after its batch period; the proxy
        // then syncs at once, unless it synced less than `minSyncPeriod` ago.
        let slice_at = now + self.scenario.net.endpoint_slice_batch_period;
        let at = match p.last_sync {
            Some(last) if last + min > slice_at => last + min,
            _ => slice_at,
        };
        self.queue.schedule(at, Ev::ProxySync(node));
    }

    pub(super) fn on_proxy_sync(&mut self, now: SimTime, node: NodeId) {
        let (input, endpoints, keys) = self.proxy_input(node);
        let p = &mut self.proxies[node.index()];
        p.sync_pending = false;
        p.last_sync = Some(now);
        p.syncs += 1;
        p.rules = DataPlane::build(
            self.scenario.net.proxy_mode,
            &input,
            self.scenario.net.service_cidr,
        );
        if let Some(table) = &mut p.ipvs {
            table.sync(&input, now.as_nanos(), &mut p.rng);
        }
        p.input = input;
        p.keys = keys;
        p.endpoints = endpoints;
    }

    /// The pods a new connection to port `port` of the `service`-th Service can reach through
    /// `node`'s rules as last synced: the usable cluster-wide endpoints (the ready ones, or if
    /// none, the serving-and-terminating ones; `pkg/proxy/topology.go`).
    pub fn routable_pods(&self, node: NodeId, service: usize, port: usize) -> Vec<PodId> {
        let p = &self.proxies[node.index()];
        let Some(k) = p.keys.iter().position(|key| *key == (service, port)) else {
            return Vec::new();
        };
        let sp = &p.input.services[k];
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
            .map(|i| p.endpoints[k][i].0)
            .collect()
    }

    /// `node`'s rules as its kube-proxy last programmed them, in `iptables-save`'s format,
    /// and when that was (`None` before the first sync). In another proxy mode: the rules
    /// kube-proxy in iptables mode would have programmed from the same Services and
    /// EndpointSlices.
    pub fn iptables_save(&self, node: NodeId) -> (String, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        let text = match &p.rules {
            DataPlane::Iptables(r) if p.last_sync.is_some() => r.render(),
            _ if p.last_sync.is_none() => IptablesRules::default().render(),
            _ => IptablesRules::build(&p.input).render(),
        };
        (text, p.last_sync)
    }

    /// `node`'s `ip kube-proxy` table in nftables mode, as `nft list ruleset` prints it, and
    /// when its kube-proxy last synced. In another proxy mode: the table kube-proxy in
    /// nftables mode would have programmed from the same Services and EndpointSlices.
    pub fn nft_list_ruleset(&self, node: NodeId) -> (String, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        let text = match &p.rules {
            DataPlane::Nftables(r) => r.render(),
            DataPlane::Iptables(_) => {
                NftRuleset::build(&p.input, self.scenario.net.service_cidr).render()
            }
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
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
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
            DataPlane::Iptables(r) => r.dnat_targets(&pkt, &AffinityTable::new(), now),
        };
        let mut pods: Vec<PodId> = targets
            .into_iter()
            .map(|(s, e)| p.endpoints[s][e].0)
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

    /// How many times `node`'s kube-proxy has synced, and when it last did.
    pub fn proxy_syncs(&self, node: NodeId) -> (u64, Option<SimTime>) {
        let p = &self.proxies[node.index()];
        (p.syncs, p.last_sync)
    }

    /// What kube-proxy on `node` sees now: every Service port with a ClusterIP, and its
    /// endpoints from the EndpointSlices (`ready` = serving and not terminating; `serving`
    /// follows the pod's Ready condition; `terminating` once it has a deletion timestamp).
    #[allow(clippy::type_complexity)]
    pub(super) fn proxy_input(
        &self,
        node: NodeId,
    ) -> (NodeProxyInput, Vec<Vec<(PodId, u16)>>, Vec<(usize, usize)>) {
        let n = self.cluster.node(node);
        let mut services = Vec::new();
        let mut all_endpoints = Vec::new();
        let mut keys = Vec::new();
        for (si, svc) in self.api.services.iter().enumerate() {
            let Some(cluster_ip) = svc.cluster_ip else {
                continue;
            };
            if svc.obj.spec.type_ == ServiceType::ExternalName {
                continue;
            }
            let spec = &svc.obj.spec;
            for (pi, port) in spec.ports.iter().enumerate() {
                let mut endpoints = Vec::new();
                let mut pods = Vec::new();
                for (id, pod) in self.cluster.pods_matching(&svc.obj.meta.namespace, |l| {
                    crate::model::objects::service_selects(&spec.selector, l)
                }) {
                    let (Some(ip), Some(pod_node)) = (pod.ip, pod.node) else {
                        continue;
                    };
                    if pod.gone_at.is_some() {
                        continue;
                    }
                    let Some((container, target)) = pod.spec.resolve_port(&port.target_port) else {
                        continue;
                    };
                    let terminating = pod.deleted.is_some();
                    let serving = pod.ready || (spec.publish_not_ready_addresses && pod.running());
                    endpoints.push(ProxyEndpoint {
                        ip,
                        port: target,
                        is_local: pod_node == node,
                        ready: serving && !terminating,
                        serving,
                        terminating,
                    });
                    pods.push((id, container as u16));
                }
                services.push(ProxyServicePort {
                    namespace: svc.obj.meta.namespace.clone(),
                    name: svc.obj.meta.name.clone(),
                    port_name: port.name.clone(),
                    protocol: port.protocol,
                    cluster_ip: Some(cluster_ip),
                    port: port.port,
                    node_port: svc.node_ports[pi],
                    external_ips: spec.external_ips.clone(),
                    load_balancer_ips: svc.load_balancer_ip.into_iter().collect(),
                    external_policy_local: spec.external_traffic_policy == TrafficPolicy::Local,
                    internal_policy_local: spec.internal_traffic_policy == TrafficPolicy::Local,
                    affinity_timeout_seconds: spec
                        .session_affinity_timeout
                        .map(|d| (d.as_nanos() / 1_000_000_000) as u32),
                    endpoints,
                });
                all_endpoints.push(pods);
                keys.push((si, pi));
            }
        }
        let input = NodeProxyInput {
            node_name: n.cfg.name.clone(),
            node_ip: n.cfg.ip,
            pod_cidr: self.pod_cidrs[node.index()],
            cluster_cidr: self.scenario.net.cluster_cidr,
            services,
        };
        (input, all_endpoints, keys)
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
            .filter(|(_, p)| p.ready && p.deleted.is_none())
            .filter_map(|(_, p)| {
                Some(format!(
                    "{}:{}",
                    p.ip?,
                    p.spec.resolve_port(&port.target_port)?.1
                ))
            })
            .collect();
        eps.sort();
        eps
    }

    /// The A records of a headless Service: its selected pods' IPs, ready ones only unless
    /// `publishNotReadyAddresses`, sorted.
    pub(super) fn headless_records(&self, service: usize) -> Vec<std::net::Ipv4Addr> {
        let svc = &self.api.services[service].obj;
        let mut ips: Vec<std::net::Ipv4Addr> = self
            .cluster
            .pods_selected(&svc.meta.namespace, &svc.spec.selector)
            .filter(|(_, p)| {
                p.deleted.is_none()
                    && (p.ready || (svc.spec.publish_not_ready_addresses && p.running()))
            })
            .filter_map(|(_, p)| p.ip)
            .collect();
        ips.sort();
        ips
    }
}
