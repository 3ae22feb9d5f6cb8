//! Zones and the EndpointSlice controller's topology hints.
//!
//! A node's zone is its `topology.kubernetes.io/zone` label, written in the scenario (a node
//! without it is in no zone). The EndpointSlice controller gives a Service's ready endpoints
//! hints ([`endpoint_hints`]) when the Service asks for them:
//!
//! - `trafficDistribution: PreferClose` / `PreferSameZone`: each ready endpoint is hinted for
//!   its own node's zone, and with `PreferSameNode` also for its own node
//!   (`staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`, `preferCloseHeuristic`);
//!   an endpoint on a node without a zone gets no zone hint.
//! - the `service.kubernetes.io/topology-mode: Auto` annotation: zone hints allocated in
//!   proportion to each zone's share of the ready nodes' allocatable CPU, moving endpoints
//!   from zones with more than their share to zones with less, or no hints at all when that
//!   cannot keep every endpoint within 20% of its fair load
//!   (`staging/src/k8s.io/endpointslice/topologycache/topologycache.go`, `AddHints`,
//!   `getAllocations`; `utils.go`, `redistributeHints`). Upstream walks Go maps, whose order is
//!   random; here zones go in name order, so a run is reproducible.
//!
//! What a node's kube-proxy does with the hints is `net::topology`'s. This module knows the
//! nodes and the Service's endpoints, not rules or packets.

use crate::model::cluster::{Cluster, NodeId};
use crate::model::config::NodeConfig;
use crate::model::objects::TopologyRouting;
use crate::net::topology::{Hint, HintView};

/// The well-known zone label (`k8s.io/api/core/v1`, `LabelTopologyZone`).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// `overloadThreshold`: the most any endpoint should be overloaded by the allocation
/// (`staging/src/k8s.io/endpointslice/topologycache/topologycache.go`).
const OVERLOAD_THRESHOLD: f64 = 0.2;

/// The cluster's zones, in name order, and each node's.
#[derive(Debug, Clone, Default)]
pub struct Zones {
    names: Vec<String>,
    of_node: Vec<Option<u16>>,
    nodes_in: Vec<Vec<NodeId>>,
}

impl Zones {
    pub fn new(nodes: &[NodeConfig]) -> Zones {
        let mut names: Vec<String> = nodes
            .iter()
            .filter_map(|n| n.labels.get(ZONE_LABEL))
            .filter(|z| !z.is_empty())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        let of_node: Vec<Option<u16>> = nodes
            .iter()
            .map(|n| {
                let z = n.labels.get(ZONE_LABEL)?;
                names.binary_search(z).ok().map(|i| i as u16)
            })
            .collect();
        let mut nodes_in = vec![Vec::new(); names.len()];
        for (i, z) in of_node.iter().enumerate() {
            if let Some(z) = z {
                nodes_in[*z as usize].push(NodeId(i as u32));
            }
        }
        Zones {
            names,
            of_node,
            nodes_in,
        }
    }

    /// A node joined (the last one). A zone no node had before is added after the others
    /// (zones keep their indices, so the counts per zone pair stay right).
    pub fn add_node(&mut self, node: &NodeConfig) {
        let id = NodeId(self.of_node.len() as u32);
        let zone = node
            .labels
            .get(ZONE_LABEL)
            .filter(|z| !z.is_empty())
            .map(|z| match self.names.iter().position(|n| n == z) {
                Some(i) => i as u16,
                None => {
                    self.names.push(z.clone());
                    self.nodes_in.push(Vec::new());
                    (self.names.len() - 1) as u16
                }
            });
        if let Some(z) = zone {
            self.nodes_in[z as usize].push(id);
        }
        self.of_node.push(zone);
    }

    /// The zone of `node`, if it has one.
    pub fn of(&self, node: NodeId) -> Option<u16> {
        self.of_node.get(node.index()).copied().flatten()
    }

    /// The zone's name.
    pub fn name(&self, zone: u16) -> &str {
        &self.names[zone as usize]
    }

    /// Every zone's name, in order (a zone's number is its index).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The nodes of `zone`.
    pub fn nodes_in(&self, zone: u16) -> &[NodeId] {
        &self.nodes_in[zone as usize]
    }

    /// Whether any node has a zone.
    pub fn any(&self) -> bool {
        !self.names.is_empty()
    }
}

/// The hints of one endpoint in its EndpointSlice: `forZones` (at most one here) and whether
/// `forNodes` names its own node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointHints {
    pub zone: Option<u16>,
    pub node: bool,
}

impl EndpointHints {
    /// As the kube-proxy of `node` (in `zone`) reads them, for an endpoint on `on`.
    pub fn view(self, on: NodeId, node: Option<NodeId>, zone: Option<u16>) -> HintView {
        HintView {
            zone: match self.zone {
                None => Hint::None,
                Some(z) if Some(z) == zone => Hint::Here,
                Some(_) => Hint::Other,
            },
            node: match (self.node, node) {
                (false, _) => Hint::None,
                (true, Some(n)) if n == on => Hint::Here,
                (true, _) => Hint::Other,
            },
        }
    }
}

/// The hints the EndpointSlice controller gives a Service's endpoints, each given as (ready,
/// its node). Node hints only with `PreferSameNode` and the `PreferSameTrafficDistribution`
/// gate (`node_hints`: on by default from 1.34).
pub fn endpoint_hints(
    routing: TopologyRouting,
    endpoints: &[(bool, NodeId)],
    zones: &Zones,
    cluster: &Cluster,
    node_hints: bool,
) -> Vec<EndpointHints> {
    let none = vec![EndpointHints::default(); endpoints.len()];
    match routing {
        TopologyRouting::None => none,
        TopologyRouting::PreferSameZone | TopologyRouting::PreferSameNode => endpoints
            .iter()
            .map(|&(ready, node)| {
                if !ready {
                    return EndpointHints::default();
                }
                EndpointHints {
                    zone: zones.of(node),
                    node: node_hints && routing == TopologyRouting::PreferSameNode,
                }
            })
            .collect(),
        TopologyRouting::Auto => auto_hints(endpoints, zones, cluster).unwrap_or(none),
    }
}

/// Each zone's share of the allocatable CPU of the ready nodes (`SetNodes`), or `None` when
/// a ready node has no zone or no CPU, or fewer than two zones have ready nodes. Nodes labelled
/// `node-role.kubernetes.io/control-plane` or `.../master` do not count.
fn cpu_ratios(zones: &Zones, cluster: &Cluster) -> Option<Vec<Option<f64>>> {
    let mut cpu = vec![0u64; zones.names.len()];
    for (i, n) in cluster.nodes.iter().enumerate() {
        let labels = &n.cfg.labels;
        if labels.contains_key("node-role.kubernetes.io/control-plane")
            || labels.contains_key("node-role.kubernetes.io/master")
            || !n.ready
        {
            continue;
        }
        let zone = zones.of(NodeId(i as u32))?;
        if n.cfg.allocatable.cpu_millis == 0 {
            return None;
        }
        cpu[zone as usize] += n.cfg.allocatable.cpu_millis;
    }
    let total: u64 = cpu.iter().sum();
    if total == 0 || cpu.iter().filter(|c| **c > 0).count() < 2 {
        return None;
    }
    Some(
        cpu.iter()
            .map(|&c| (c > 0).then(|| c as f64 / total as f64))
            .collect(),
    )
}

/// `AddHints` for a Service from scratch: `None` where upstream removes every hint.
fn auto_hints(
    endpoints: &[(bool, NodeId)],
    zones: &Zones,
    cluster: &Cluster,
) -> Option<Vec<EndpointHints>> {
    let ratios = cpu_ratios(zones, cluster)?;
    let ready = endpoints.iter().filter(|e| e.0).count();
    let n_zones = ratios.iter().flatten().count();
    if n_zones > ready {
        return None;
    }
    // `getAllocations`: each zone's minimum (within the overload threshold) and desired share.
    let mut remaining = ready as i64;
    let mut desired = vec![None; ratios.len()];
    for (z, r) in ratios.iter().enumerate() {
        let Some(r) = r else { continue };
        let want = r * ready as f64;
        let min = libm::ceil(want * (1.0 / (1.0 + OVERLOAD_THRESHOLD))) as usize;
        desired[z] = Some(want.max(min as f64));
        remaining -= min as i64;
        if remaining < 0 {
            return None;
        }
    }
    // Step 1: every ready endpoint hinted for its own zone.
    let mut hints = vec![EndpointHints::default(); endpoints.len()];
    let mut allocated = vec![0i64; ratios.len()];
    for (h, &(is_ready, node)) in hints.iter_mut().zip(endpoints) {
        if !is_ready {
            continue;
        }
        let zone = zones.of(node)?;
        allocated[zone as usize] += 1;
        h.zone = Some(zone);
    }
    // Step 2 (`getGivingAndReceivingZones`): whole endpoints to move, most-off zones first.
    let mut giving_f = vec![0.0f64; ratios.len()];
    let mut receiving_f = vec![0.0f64; ratios.len()];
    for (z, d) in desired.iter().enumerate() {
        let Some(target) = d else { continue };
        let have = allocated[z] as f64;
        if have > *target {
            giving_f[z] = have - target;
        } else if have < *target {
            receiving_f[z] = target - have;
        }
    }
    let most = |v: &[f64]| -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for (z, &n) in v.iter().enumerate() {
            if n > best.map_or(0.0, |b| b.1) {
                best = Some((z, n));
            }
        }
        best
    };
    let mut giving = vec![0usize; ratios.len()];
    let mut receiving = vec![0usize; ratios.len()];
    while let (Some((g, give)), Some((r, take))) = (most(&giving_f), most(&receiving_f)) {
        if (give < 1.0 && take < 1.0) || give < 0.5 || take < 0.5 {
            break;
        }
        giving[g] += 1;
        giving_f[g] -= 1.0;
        receiving[r] += 1;
        receiving_f[r] -= 1.0;
    }
    // Step 3 (`redistributeHints`): endpoints of giving zones, in order, hinted for the
    // first zone still receiving.
    for h in hints.iter_mut() {
        let Some(zone) = h.zone else { continue };
        if giving.iter().all(|g| *g == 0) || receiving.iter().all(|r| *r == 0) {
            break;
        }
        if giving[zone as usize] == 0 {
            continue;
        }
        if let Some(r) = receiving.iter().position(|r| *r > 0) {
            h.zone = Some(r as u16);
            giving[zone as usize] -= 1;
            receiving[r] -= 1;
        }
    }
    Some(hints)
}

/// No zone: the node has no zone label (index in the zone-pair counts).
const NO_ZONE: u16 = u16::MAX;

impl super::Simulation {
    /// The extra one-way latency of a hop from node `a` to node `b`: `crossZone` when both
    /// have a zone and the zones differ.
    #[inline]
    pub(super) fn zone_hop(&self, a: NodeId, b: NodeId) -> crate::engine::SimDuration {
        match (self.zones.of(a), self.zones.of(b)) {
            (Some(x), Some(y)) if x != y => self.scenario.net.latency.cross_zone,
            _ => crate::engine::SimDuration::ZERO,
        }
    }

    /// Counts a request sent to `pod` by the zones it goes between: from the zone of the
    /// node its connection's packets first entered (`entry`: a pod client's own node, or the
    /// node an outside client's address or load balancer picked for that connection), to the
    /// zone of the pod's node. Only when some node has a zone.
    pub(super) fn count_zone_pair(&mut self, entry: NodeId, pod: u32, counted: bool) {
        if !counted || !self.zones.any() {
            return;
        }
        let to = self.cluster.pod(crate::model::cluster::PodId(pod)).node;
        let zone = |n: Option<NodeId>| n.and_then(|n| self.zones.of(n)).unwrap_or(NO_ZONE);
        let key = (zone(Some(entry)), zone(to));
        *self.zone_pairs.entry(key).or_default() += 1;
    }

    /// The requests counted per zone pair, by zone name (`""` for a node without a zone).
    pub(super) fn zone_traffic(&self) -> Vec<super::outcome::ZoneTraffic> {
        let name = |z: u16| {
            if z == NO_ZONE {
                String::new()
            } else {
                self.zones.name(z).to_string()
            }
        };
        self.zone_pairs
            .iter()
            .map(|(&(from, to), &requests)| super::outcome::ZoneTraffic {
                from: name(from),
                to: name(to),
                requests,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::objects::Resources;

    /// Nodes `(zone, cpu in cores)`, `n0`, `n1`, ...; an empty zone writes no label.
    fn cluster(nodes: &[(&str, u64)]) -> (Zones, Cluster) {
        let cfgs: Vec<NodeConfig> = nodes
            .iter()
            .enumerate()
            .map(|(i, (zone, cpu))| {
                let mut labels = crate::model::objects::Labels::new();
                if !zone.is_empty() {
                    labels.insert(ZONE_LABEL.into(), zone.to_string());
                }
                NodeConfig {
                    name: format!("n{i}"),
                    ip: std::net::Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                    allocatable: Resources {
                        cpu_millis: cpu * 1000,
                        memory_bytes: 1 << 33,
                    },
                    max_pods: 110,
                    labels,
                    taints: Vec::new(),
                    images: Vec::new(),
                    pod_cidr: None,
                    unschedulable: false,
                }
            })
            .collect();
        (Zones::new(&cfgs), Cluster::new(&cfgs))
    }

    /// One ready endpoint on each of these nodes.
    fn on(nodes: &[u32]) -> Vec<(bool, NodeId)> {
        nodes.iter().map(|&n| (true, NodeId(n))).collect()
    }

    fn zones_of(h: &[EndpointHints]) -> Vec<Option<u16>> {
        h.iter().map(|h| h.zone).collect()
    }

    #[test]
    fn zones_are_numbered_by_name() {
        let (z, _) = cluster(&[("b", 4), ("a", 4), ("", 4), ("b", 4)]);
        assert_eq!(z.names(), ["a", "b"]);
        assert_eq!(z.of(NodeId(0)), Some(1));
        assert_eq!(z.of(NodeId(2)), None);
        assert_eq!(z.nodes_in(1), [NodeId(0), NodeId(3)]);
    }

    #[test]
    fn prefer_close_hints_each_ready_endpoint_for_its_zone() {
        let (z, c) = cluster(&[("a", 4), ("b", 4), ("", 4)]);
        let eps = [
            (true, NodeId(0)),
            (false, NodeId(1)),
            (true, NodeId(1)),
            (true, NodeId(2)),
        ];
        let h = endpoint_hints(TopologyRouting::PreferSameZone, &eps, &z, &c, true);
        assert_eq!(zones_of(&h), [Some(0), None, Some(1), None]);
        assert!(h.iter().all(|h| !h.node));
        let h = endpoint_hints(TopologyRouting::PreferSameNode, &eps, &z, &c, true);
        assert_eq!(
            h.iter().map(|h| h.node).collect::<Vec<_>>(),
            [true, false, true, true]
        );
        // Before 1.34 the gate is off: no node hints.
        let h = endpoint_hints(TopologyRouting::PreferSameNode, &eps, &z, &c, false);
        assert!(h.iter().all(|h| !h.node));
    }

    #[test]
    fn auto_hints_follow_each_zone_share_of_cpu() {
        // Equal zones, two endpoints each: every endpoint for its own zone.
        let (z, c) = cluster(&[("a", 4), ("b", 4), ("c", 4)]);
        let h = endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 0, 1, 1, 2, 2]),
            &z,
            &c,
            true,
        );
        assert_eq!(
            zones_of(&h),
            [Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
        );
        // Zone a has two thirds of the CPU but half the endpoints: one of b's is given to a
        // (desired 4 and 2 of 6).
        let (z, c) = cluster(&[("a", 8), ("b", 4)]);
        let h = endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 0, 0, 1, 1, 1]),
            &z,
            &c,
            true,
        );
        assert_eq!(
            zones_of(&h),
            [Some(0), Some(0), Some(0), Some(0), Some(1), Some(1)]
        );
    }

    #[test]
    fn auto_hints_are_dropped_where_upstream_drops_them() {
        let none = |h: Vec<EndpointHints>| h.iter().all(|h| h.zone.is_none());
        // Fewer endpoints than zones.
        let (z, c) = cluster(&[("a", 4), ("b", 4), ("c", 4)]);
        assert!(none(endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 1]),
            &z,
            &c,
            true
        )));
        // A ready node without a zone.
        let (z, c) = cluster(&[("a", 4), ("b", 4), ("", 4)]);
        assert!(none(endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 1]),
            &z,
            &c,
            true
        )));
        // One zone only.
        let (z, c) = cluster(&[("a", 4), ("a", 4)]);
        assert!(none(endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 1]),
            &z,
            &c,
            true
        )));
        // A zone's minimum cannot be met: 9 of 10 cores in a, 2 endpoints (minimum 2 for a
        // and 1 for b).
        let (z, c) = cluster(&[("a", 9), ("b", 1)]);
        assert!(none(endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 1]),
            &z,
            &c,
            true
        )));
        // A NotReady node does not count: then only one zone is left.
        let (z, mut c) = cluster(&[("a", 4), ("b", 4)]);
        c.nodes[1].ready = false;
        assert!(none(endpoint_hints(
            TopologyRouting::Auto,
            &on(&[0, 0]),
            &z,
            &c,
            true
        )));
    }
}
