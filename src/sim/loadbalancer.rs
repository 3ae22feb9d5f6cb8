//! The load balancer in front of `LoadBalancer` Services with `externalTrafficPolicy: Local`,
//! and kube-proxy's health check node port that steers it.
//!
//! The API server gives such a Service a `healthCheckNodePort`; every node's kube-proxy
//! listens there and answers `/healthz` with 200 while its last sync holds a ready local
//! endpoint of the Service, else 503 (`pkg/proxy/healthcheck/service_health.go`,
//! `LocalReadyEndpoints`). A cloud load balancer probes every node on that port and sends new
//! connections only to the nodes it holds healthy, spread by a hash of the connection (as a
//! GCP target pool spreads by the 5-tuple). kubesim's assumptions, from GCE's cloud provider
//! (`kubernetes/cloud-provider-gcp`, `providers/gce/gce.go`, `gceHcCheckIntervalSeconds` and
//! the thresholds beside it): a probe every 8 s from the start of the run, a node healthy
//! after 1 probe answered 200 and unhealthy after 3 that were not (a node that is down does
//! not answer), every node unhealthy until its first 200. With no healthy node the load
//! balancer has nowhere to send a connection: its SYN goes unanswered.
//!
//! Services with a `Cluster` policy keep the simpler model of [`Simulation::lb_entry`]: the
//! first node that is up answers for the address, as a MetalLB layer-2 speaker would.

use super::{Ev, Simulation};
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::NodeId;
use crate::model::objects::{ServiceType, TrafficPolicy};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Between two probes of a node (`gceHcCheckIntervalSeconds`, cloud-provider-gcp
/// `providers/gce/gce.go`).
pub const HEALTH_CHECK_INTERVAL: SimDuration = SimDuration::from_secs(8);
/// Probes answered 200 in a row that make a node healthy (`gceHcHealthyThreshold`).
pub const HEALTHY_THRESHOLD: u32 = 1;
/// Probes not answered 200 in a row that make a node unhealthy (`gceHcUnhealthyThreshold`).
pub const UNHEALTHY_THRESHOLD: u32 = 3;

/// What the load balancer knows of one node for one Service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeHealth {
    pub healthy: bool,
    /// Probes answered 200 (or not) in a row, up to the last one.
    successes: u32,
    failures: u32,
}

impl NodeHealth {
    /// The load balancer's view after one more probe.
    pub fn probe(&mut self, answered_200: bool) {
        if answered_200 {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if self.successes >= HEALTHY_THRESHOLD {
                self.healthy = true;
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.failures >= UNHEALTHY_THRESHOLD {
                self.healthy = false;
            }
        }
    }
}

/// The health checks of every `Local` LoadBalancer Service, by namespace and name: one entry
/// per node.
#[derive(Debug, Default)]
pub(super) struct LbHealth {
    checks: BTreeMap<(String, String), Vec<NodeHealth>>,
}

/// Where a new connection to an address from outside the cluster enters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LbEntry {
    /// Not a load-balancer or external IP of any Service.
    NotOwned,
    /// This node receives it.
    Node(NodeId),
    /// A `Local` Service's load balancer with no healthy node: nothing answers.
    NoHealthyNode,
}

impl Simulation {
    /// The load balancer's probes of every node, for each LoadBalancer Service with a Local
    /// policy, an address and a health check node port; then the next round.
    pub(super) fn on_lb_health_check(&mut self, now: SimTime) {
        let mut seen = Vec::new();
        for s in &self.api.services {
            let spec = &s.obj.spec;
            if spec.type_ != ServiceType::LoadBalancer
                || spec.external_traffic_policy != TrafficPolicy::Local
                || s.load_balancer_ip.is_none()
                || s.health_check_node_port.is_none()
            {
                continue;
            }
            let key = (s.obj.meta.namespace.clone(), s.obj.meta.name.clone());
            let n = self.cluster.nodes.len();
            let mut states = self.lb_health.checks.remove(&key).unwrap_or_default();
            states.resize(n, NodeHealth::default());
            for (i, st) in states.iter_mut().enumerate() {
                let node = NodeId(i as u32);
                let answered_200 = self.cluster.node(node).up
                    && self.local_ready_endpoints(node, &key.0, &key.1) > 0;
                st.probe(answered_200);
            }
            seen.push((key, states));
        }
        // Services gone (or no longer Local LoadBalancers) lose their checks.
        self.lb_health.checks = seen.into_iter().collect();
        let next = now + HEALTH_CHECK_INTERVAL;
        if next <= self.end {
            self.queue.schedule(next, Ev::LbHealthCheck);
        }
    }

    /// What kube-proxy on `node` counts for `/healthz` of Service `ns/name`: the ready
    /// endpoints on the node in its last programmed sync.
    pub(super) fn local_ready_endpoints(&self, node: NodeId, ns: &str, name: &str) -> usize {
        let gen = &self.proxies[node.index()].gen;
        gen.ports
            .iter()
            .filter(|p| p.input.namespace == ns && p.input.name == name)
            .map(|p| {
                p.input
                    .endpoints
                    .iter()
                    .zip(&p.nodes)
                    .filter(|(e, n)| e.ready && **n == node)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// The nodes the load balancer of Service `ns/name` holds healthy now, in node order.
    pub(super) fn healthy_nodes(&self, ns: &str, name: &str) -> Vec<NodeId> {
        self.lb_health
            .checks
            .get(&(ns.to_string(), name.to_string()))
            .map(|v| {
                v.iter()
                    .enumerate()
                    .filter(|(_, h)| h.healthy)
                    .map(|(i, _)| NodeId(i as u32))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The node that receives a new connection from outside to `ip` with source
    /// `src:src_port`: for a `Local` LoadBalancer Service one of the healthy nodes, picked by
    /// a hash of the connection; for any other load-balancer or external IP the first node
    /// that is up, as a MetalLB layer-2 speaker would hold the address (kubesim's
    /// simplification).
    pub(super) fn lb_entry(&self, ip: Ipv4Addr, src: Ipv4Addr, src_port: u16) -> LbEntry {
        let mut owned = false;
        for s in &self.api.services {
            if s.load_balancer_ip == Some(ip)
                && s.health_check_node_port.is_some()
                && s.obj.spec.external_traffic_policy == TrafficPolicy::Local
            {
                let healthy = self.healthy_nodes(&s.obj.meta.namespace, &s.obj.meta.name);
                if healthy.is_empty() {
                    return LbEntry::NoHealthyNode;
                }
                let h = flow_hash(src, src_port, ip);
                return LbEntry::Node(healthy[(h % healthy.len() as u64) as usize]);
            }
            owned |= s.load_balancer_ip == Some(ip) || s.obj.spec.external_ips.contains(&ip);
        }
        if !owned {
            return LbEntry::NotOwned;
        }
        match self.cluster.nodes.iter().position(|n| n.up) {
            Some(i) => LbEntry::Node(NodeId(i as u32)),
            None => LbEntry::NotOwned,
        }
    }
}

impl Simulation {
    /// [`lb_entry`](Self::lb_entry) for `kubesim trace`, saying what the load balancer of a
    /// `Local` Service knows and does.
    pub(super) fn traced_lb_entry(
        &self,
        out: &mut String,
        ip: Ipv4Addr,
        src: Ipv4Addr,
        src_port: u16,
    ) -> LbEntry {
        use std::fmt::Write as _;
        let entry = self.lb_entry(ip, src, src_port);
        let local = self.api.services.iter().find(|s| {
            s.load_balancer_ip == Some(ip)
                && s.obj.spec.external_traffic_policy == TrafficPolicy::Local
        });
        let (Some(s), Some(hc)) = (local, local.and_then(|s| s.health_check_node_port)) else {
            return entry;
        };
        let (ns, name) = (&s.obj.meta.namespace, &s.obj.meta.name);
        let healthy: Vec<&str> = self
            .healthy_nodes(ns, name)
            .into_iter()
            .map(|n| self.cluster.node(n).cfg.name.as_str())
            .collect();
        let checks = format!(
            "GET /healthz on each node's port {hc} every {}s, healthy after {HEALTHY_THRESHOLD} answer 200, unhealthy after {UNHEALTHY_THRESHOLD} that are not",
            HEALTH_CHECK_INTERVAL.as_secs_f64()
        );
        match entry {
            LbEntry::Node(n) => {
                let _ = writeln!(
                    out,
                    "lb       {ip} ({ns}/{name}, externalTrafficPolicy: Local): healthy nodes {} ({checks}); the connection's hash picks {}",
                    healthy.join(", "),
                    self.cluster.node(n).cfg.name
                );
            }
            LbEntry::NoHealthyNode => {
                let _ = writeln!(
                    out,
                    "lb       {ip} ({ns}/{name}, externalTrafficPolicy: Local): no node passes the health check ({checks}): the load balancer sends the SYN nowhere and the client times out"
                );
            }
            LbEntry::NotOwned => {}
        }
        entry
    }
}

/// A connection's hash for spreading it over nodes (FNV-1a of source, source port and
/// destination): the same connection always lands on the same node.
fn flow_hash(src: Ipv4Addr, src_port: u16, dst: Ipv4Addr) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in src
        .octets()
        .into_iter()
        .chain(src_port.to_be_bytes())
        .chain(dst.octets())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_turns_healthy_at_its_first_200_and_unhealthy_after_three_failures() {
        let mut h = NodeHealth::default();
        assert!(!h.healthy, "unhealthy until the first 200");
        h.probe(false);
        assert!(!h.healthy);
        h.probe(true);
        assert!(h.healthy, "healthy threshold 1");
        h.probe(false);
        h.probe(false);
        assert!(h.healthy, "two failures are not enough");
        h.probe(false);
        assert!(!h.healthy, "unhealthy threshold 3");
        h.probe(true);
        assert!(h.healthy);
    }

    #[test]
    fn the_flow_hash_spreads_source_ports() {
        let src = Ipv4Addr::new(203, 0, 113, 1);
        let dst = Ipv4Addr::new(192, 168, 0, 241);
        let mut counts = [0u32; 3];
        for port in 32768..36768u16 {
            counts[(flow_hash(src, port, dst) % 3) as usize] += 1;
        }
        // 4,000 ports over 3 nodes: each within 10% of a third.
        for c in counts {
            assert!((1200..=1467).contains(&c), "{counts:?}");
        }
    }
}
