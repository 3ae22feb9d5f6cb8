//! The scheduler: filters nodes, scores a sample of the feasible ones, and says why when none
//! fits.
//!
//! Filters (`pkg/scheduler/framework/plugins`): NodeUnschedulable, TaintToleration (the
//! `node.kubernetes.io/not-ready` and `unreachable` taints included), NodeAffinity
//! (`nodeSelector` and the required node affinity terms, [`node_affinity_fits`]), NodePorts
//! (`hostPort`), NodeResourcesFit (requests and `maxPods`). Preferred node affinity, pod
//! affinity and anti-affinity are not scored or filtered.
//! Scoring, simplified: fewest pods of the same owner on the node first (spreading), then the
//! least allocated node, ties broken at random as upstream's `selectHost` does.
//!
//! At scale it does the work kube-scheduler does, no more (`pkg/scheduler/schedule_one.go`):
//! the filters stop once `numFeasibleNodesToFind` nodes fit (`percentageOfNodesToScore`,
//! adaptive by default: 50% minus one point per 125 nodes, at least 5%, at least 100 nodes;
//! every node in clusters of up to 100), and each search starts where the previous one
//! stopped (`nextStartNodeIndex`), so every node gets the same chance across pods. What it
//! needs of the cluster's pods is kept as they are bound and removed, as upstream's scheduler
//! cache keeps its `NodeInfo`s (`pkg/scheduler/backend/cache`): requested resources, pod
//! count and host ports per node, and pods per (owner, node). A placement costs in
//! proportion to the nodes it examines, never to the pods in the cluster.

use super::cluster::{Cluster, Controller, Node, NodeId, Pod, PodId, RsId};
use super::objects::{PodSpec, Resources, Toleration};
use crate::engine::{FxHashMap, SimRng};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Below this many nodes every node is examined; above it at least this many feasible nodes
/// are found (`minFeasibleNodesToFind`, `pkg/scheduler/schedule_one.go`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this (`minFeasibleNodesPercentageToFind`,
/// `pkg/scheduler/schedule_one.go`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes the filters look for before scoring, in a cluster of `all` nodes,
/// with `percentageOfNodesToScore` at its default (0: adaptive), as upstream's
/// `numFeasibleNodesToFind`: every node below 100; else `50 - all/125` percent of them (at
/// least 5%), but at least 100. 500 nodes: 250 (46%); 1,000: 420; 5,000: 500 (10%).
pub fn num_feasible_nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let percentage = 50usize
        .saturating_sub(all / 125)
        .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Requested resources, pods and host ports in use on one node (what upstream's `NodeInfo`
/// sums up for the filters and scores).
#[derive(Debug, Clone, Default)]
struct NodeUsage {
    requests: Resources,
    pods: u32,
    host_ports: Vec<(u16, &'static str)>,
}

/// The work placements did, for tests that prove how it grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerWork {
    /// Pods the scheduler was asked to place (bound or not).
    pub attempts: u64,
    /// Nodes run through the filters, over all attempts.
    pub nodes_filtered: u64,
    /// Feasible nodes scored, over all attempts.
    pub nodes_scored: u64,
}

/// The scheduler's state between placements: its cache of the pods bound to each node, the
/// search's start index, and the pods that did not fit (upstream's unschedulable pods, tried
/// again when capacity or nodes change).
///
/// The owner of the cluster calls [`Scheduler::bound`], [`Scheduler::terminating`] and
/// [`Scheduler::removed`] as pods change, before the change is made to the pod.
#[derive(Debug, Clone)]
pub struct Scheduler {
    usage: Vec<NodeUsage>,
    /// Pods of each owner (by `RsId`) on each node, not terminating (the spreading score):
    /// one small map per owner, so a placement's lookups stay in cache. Only looked up.
    owners: Vec<FxHashMap<NodeId, u32>>,
    /// Likewise for the pods of each StatefulSet and DaemonSet (only looked up).
    controller_owners: FxHashMap<Controller, FxHashMap<NodeId, u32>>,
    /// Where the next search starts (`nextStartNodeIndex`).
    next_start: usize,
    unschedulable: BTreeSet<PodId>,
    work: SchedulerWork,
}

/// Why a node does not fit a pod (a filter's status), made into upstream's text only when no
/// node fits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Unfit {
    Unschedulable,
    Taint { key: String, value: String },
    NodeSelector,
    Ports,
    TooManyPods,
    Cpu,
    Memory,
}

impl Unfit {
    /// Upstream's message for the node (`FitError`'s reasons).
    fn message(&self) -> String {
        match self {
            Unfit::Unschedulable => "node(s) were unschedulable".into(),
            Unfit::Taint { key, value } => {
                format!("node(s) had untolerated taint {{{key}: {value}}}")
            }
            Unfit::NodeSelector => "node(s) didn't match Pod's node affinity/selector".into(),
            Unfit::Ports => "node(s) didn't have free ports for the requested pod ports".into(),
            Unfit::TooManyPods => "Too many pods".into(),
            Unfit::Cpu => "Insufficient cpu".into(),
            Unfit::Memory => "Insufficient memory".into(),
        }
    }
}

/// The host ports a pod asks for, as `(port, protocol)`.
fn host_ports(pod: &Pod) -> impl Iterator<Item = (u16, &'static str)> + '_ {
    pod.spec.containers.iter().flat_map(|c| {
        c.ports
            .iter()
            .filter_map(|p| p.host_port.map(|hp| (hp, p.protocol.as_str())))
    })
}

pub(crate) fn tolerates(
    tolerations: &[Toleration],
    key: &str,
    value: Option<&str>,
    effect: &str,
) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t.effect.as_deref().is_none_or(|e| e == effect);
        let key_ok = match &t.key {
            None => t.operator_exists,
            Some(k) => k == key && (t.operator_exists || t.value.as_deref() == value),
        };
        effect_ok && key_ok
    })
}

/// The taints the node carries now, as `(key, value, effect)`: its configured ones, then the
/// lifecycle taints (`pkg/controller/nodelifecycle`: unreachable when the kubelet stopped
/// reporting, not-ready otherwise), then `unschedulable` when cordoned.
pub(crate) fn node_taints(n: &Node) -> impl Iterator<Item = (&str, Option<&str>, &str)> + '_ {
    let configured = n
        .cfg
        .taints
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_deref(), t.effect.as_str()));
    let lifecycle = (!n.ready)
        .then_some(if n.up {
            "node.kubernetes.io/not-ready"
        } else {
            "node.kubernetes.io/unreachable"
        })
        .into_iter()
        .flat_map(|key| [(key, None, "NoSchedule"), (key, None, "NoExecute")]);
    let cordoned =
        n.unschedulable
            .then_some(("node.kubernetes.io/unschedulable", None, "NoSchedule"));
    configured.chain(lifecycle).chain(cordoned)
}

/// The NodeAffinity filter's test (`pkg/scheduler/framework/plugins/nodeaffinity`, through
/// `GetRequiredNodeAffinity(pod).Match(node)` of
/// `staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity`): every label of the
/// pod's `nodeSelector` equal on the node, and one term of its required node affinity
/// matching the node's labels and name ([`super::affinity::NodeSelector::matches`]). The
/// DaemonSet controller asks the same (`NodeShouldRunDaemonPod`).
pub fn node_affinity_fits(spec: &PodSpec, node: &Node) -> bool {
    spec.node_selector
        .iter()
        .all(|(k, v)| node.cfg.labels.get(k) == Some(v))
        && spec
            .node_affinity
            .as_ref()
            .is_none_or(|a| a.matches(&node.cfg.name, &node.cfg.labels))
}

impl Scheduler {
    /// A scheduler for `nodes` nodes with nothing bound yet.
    pub fn new(nodes: usize) -> Self {
        Scheduler {
            usage: vec![NodeUsage::default(); nodes],
            owners: Vec::new(),
            controller_owners: FxHashMap::default(),
            next_start: 0,
            unschedulable: BTreeSet::new(),
            work: SchedulerWork::default(),
        }
    }

    /// A node joined the cluster (the last of `cluster.nodes`): it holds nothing yet.
    pub fn add_node(&mut self) {
        self.usage.push(NodeUsage::default());
    }

    /// Whether `pod` passes the filters on `node` with what the cache says it holds: the
    /// check [`Scheduler::schedule`] makes of each node, for the cluster autoscaler's
    /// simulations (`sim::nodepool`). `Err` is upstream's reason (`Insufficient cpu`, ...).
    pub fn feasible(&self, cluster: &Cluster, node: NodeId, pod: &Pod) -> Result<(), String> {
        let ports: Vec<(u16, &'static str)> = host_ports(pod).collect();
        self.filter(cluster, node, pod, pod.spec.requests(), &ports)
            .map_err(|why| why.message())
    }

    /// The work done so far.
    pub fn work(&self) -> SchedulerWork {
        self.work
    }

    /// `pod` (not terminating) is being bound to `node`.
    pub fn bound(&mut self, id: PodId, pod: &Pod, node: NodeId) {
        let u = &mut self.usage[node.index()];
        u.requests = u.requests + pod.spec.requests();
        u.pods += 1;
        u.host_ports.extend(host_ports(pod));
        if let (Some(rs), None) = (pod.owner, pod.deleted) {
            if self.owners.len() <= rs.index() {
                self.owners.resize_with(rs.index() + 1, FxHashMap::default);
            }
            *self.owners[rs.index()].entry(node).or_default() += 1;
        }
        if let (Some(c), None) = (pod.controller, pod.deleted) {
            *self
                .controller_owners
                .entry(c)
                .or_default()
                .entry(node)
                .or_default() += 1;
        }
        self.unschedulable.remove(&id);
    }

    /// `pod`, still existing and not yet terminating, is about to turn `Terminating`: it no
    /// longer counts for spreading, though it still holds its resources.
    pub fn terminating(&mut self, id: PodId, pod: &Pod) {
        self.unschedulable.remove(&id);
        if let (Some(rs), Some(node), None) = (pod.owner, pod.node, pod.deleted) {
            self.owner_left(rs, node);
        }
        if let (Some(c), Some(node), None) = (pod.controller, pod.node, pod.deleted) {
            self.controller_left(c, node);
        }
    }

    /// `pod`, still existing, is about to leave the API server: its node gets back what it held.
    pub fn removed(&mut self, id: PodId, pod: &Pod) {
        self.unschedulable.remove(&id);
        let Some(node) = pod.node else { return };
        let u = &mut self.usage[node.index()];
        let r = pod.spec.requests();
        u.requests = Resources {
            cpu_millis: u.requests.cpu_millis - r.cpu_millis,
            memory_bytes: u.requests.memory_bytes - r.memory_bytes,
        };
        u.pods -= 1;
        for hp in host_ports(pod) {
            let i = u
                .host_ports
                .iter()
                .position(|x| *x == hp)
                .expect("a bound pod's host port is in its node's cache");
            u.host_ports.swap_remove(i);
        }
        if let (Some(rs), None) = (pod.owner, pod.deleted) {
            self.owner_left(rs, node);
        }
        if let (Some(c), None) = (pod.controller, pod.deleted) {
            self.controller_left(c, node);
        }
    }

    fn controller_left(&mut self, c: Controller, node: NodeId) {
        let counts = self
            .controller_owners
            .get_mut(&c)
            .expect("a bound pod is counted for its controller");
        let n = counts
            .get_mut(&node)
            .expect("a bound pod is counted for its controller");
        *n -= 1;
        if *n == 0 {
            counts.remove(&node);
        }
    }

    fn owner_left(&mut self, rs: RsId, node: NodeId) {
        let counts = &mut self.owners[rs.index()];
        let n = counts
            .get_mut(&node)
            .expect("a bound pod is counted for its owner");
        *n -= 1;
        if *n == 0 {
            counts.remove(&node);
        }
    }

    /// Pods that did not fit, by creation order, to try again when capacity or nodes change.
    pub fn unschedulable_pods(&self) -> Vec<PodId> {
        self.unschedulable.iter().copied().collect()
    }

    /// `id` could not be placed: it waits among the unschedulable pods until it is bound,
    /// deleted or removed.
    pub fn unschedulable(&mut self, id: PodId) {
        self.unschedulable.insert(id);
    }

    /// Picks a node for `pod`, or returns the `FailedScheduling` message.
    pub fn schedule(
        &mut self,
        cluster: &Cluster,
        pod: &Pod,
        rng: &mut SimRng,
    ) -> Result<NodeId, String> {
        self.work.attempts += 1;
        let all = cluster.nodes.len();
        let to_find = num_feasible_nodes_to_find(all);
        let want = pod.spec.requests();
        let ports: Vec<(u16, &'static str)> = host_ports(pod).collect();
        let mut unfit: BTreeMap<Unfit, u32> = BTreeMap::new();
        let mut feasible = Vec::with_capacity(to_find);
        let mut processed = 0;
        for i in 0..all {
            let node = NodeId(((self.next_start + i) % all) as u32);
            processed += 1;
            // A deleted node is no longer in the scheduler's node list.
            if cluster.node(node).removed.is_some() {
                continue;
            }
            match self.filter(cluster, node, pod, want, &ports) {
                Ok(()) => {
                    feasible.push(node);
                    if feasible.len() == to_find {
                        break;
                    }
                }
                Err(why) => *unfit.entry(why).or_default() += 1,
            }
        }
        self.work.nodes_filtered += processed as u64;
        // "always try to update the sched.nextStartNodeIndex regardless of whether an error
        // has occurred": with every node examined it comes back to where it was.
        if all > 0 {
            self.next_start = (self.next_start + processed) % all;
        }
        if feasible.is_empty() {
            let all = cluster.live_node_count();
            let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
            for (why, count) in unfit {
                *reasons.entry(why.message()).or_default() += count;
            }
            let list: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
            // Wording of `framework.FitError.Error()` plus the preemption postfilter's note.
            return Err(format!(
                "0/{all} nodes are available: {}. preemption: 0/{all} nodes are available: {all} Preemption is not helpful for scheduling.",
                list.join(", ")
            ));
        }
        self.work.nodes_scored += feasible.len() as u64;
        // Spread: the fewest pods of the same owner; then least allocated. The best nodes in
        // the order the search found them.
        let owned = pod
            .owner
            .and_then(|rs| self.owners.get(rs.index()))
            .or_else(|| pod.controller.and_then(|c| self.controller_owners.get(&c)))
            .filter(|counts| !counts.is_empty());
        let mut best = (u32::MAX, 0u64);
        let mut top = Vec::new();
        for node in feasible {
            let same_owner = owned.and_then(|c| c.get(&node).copied()).unwrap_or(0);
            if same_owner > best.0 {
                continue;
            }
            let least = self.least_allocated(cluster.node(node), node, want);
            if same_owner < best.0 || least > best.1 {
                best = (same_owner, least);
                top.clear();
            } else if least < best.1 {
                continue;
            }
            top.push(node);
        }
        Ok(top[rng.random_range(0..top.len())])
    }

    /// The least-allocated score of `node` with `want` added: its free CPU and memory, each
    /// in percent of allocatable.
    fn least_allocated(&self, n: &Node, node: NodeId, want: Resources) -> u64 {
        let alloc = n.cfg.allocatable;
        let u = &self.usage[node.index()];
        let free = |alloc: u64, req: u64| {
            (alloc.saturating_sub(req) * 100)
                .checked_div(alloc)
                .unwrap_or(0)
        };
        free(alloc.cpu_millis, u.requests.cpu_millis + want.cpu_millis)
            + free(
                alloc.memory_bytes,
                u.requests.memory_bytes + want.memory_bytes,
            )
    }

    fn filter(
        &self,
        cluster: &Cluster,
        id: NodeId,
        pod: &Pod,
        want: Resources,
        ports: &[(u16, &'static str)],
    ) -> Result<(), Unfit> {
        let node = cluster.node(id);
        let used = &self.usage[id.index()];
        if node.unschedulable
            && !tolerates(
                &pod.spec.tolerations,
                "node.kubernetes.io/unschedulable",
                None,
                "NoSchedule",
            )
        {
            return Err(Unfit::Unschedulable);
        }
        for (key, value, effect) in node_taints(node) {
            if effect == "PreferNoSchedule" || key == "node.kubernetes.io/unschedulable" {
                continue;
            }
            if !tolerates(&pod.spec.tolerations, key, value, effect) {
                return Err(Unfit::Taint {
                    key: key.to_string(),
                    value: value.unwrap_or_default().to_string(),
                });
            }
        }
        if !node_affinity_fits(&pod.spec, node) {
            return Err(Unfit::NodeSelector);
        }
        if ports.iter().any(|p| used.host_ports.contains(p)) {
            return Err(Unfit::Ports);
        }
        if used.pods + 1 > node.cfg.max_pods {
            return Err(Unfit::TooManyPods);
        }
        if used.requests.cpu_millis + want.cpu_millis > node.cfg.allocatable.cpu_millis {
            return Err(Unfit::Cpu);
        }
        if used.requests.memory_bytes + want.memory_bytes > node.cfg.allocatable.memory_bytes {
            return Err(Unfit::Memory);
        }
        Ok(())
    }
}

#[cfg(test)]
impl Scheduler {
    /// Panics unless the cache equals one rebuilt from the cluster's pods: what each node
    /// holds, the pods of each owner on each node, and the unschedulable pods (every pod that
    /// exists, is not bound and is not terminating).
    pub(crate) fn assert_matches(&self, cluster: &Cluster) {
        let mut fresh = Scheduler::new(cluster.nodes.len());
        let mut pending = BTreeSet::new();
        for (id, p) in cluster.live_pods() {
            match p.node {
                Some(node) => fresh.bound(id, p, node),
                None if p.deleted.is_none() => {
                    pending.insert(id);
                }
                None => {}
            }
        }
        for (i, (kept, rebuilt)) in self.usage.iter().zip(&fresh.usage).enumerate() {
            let sorted = |u: &NodeUsage| {
                let mut p = u.host_ports.clone();
                p.sort();
                (u.requests, u.pods, p)
            };
            assert_eq!(sorted(kept), sorted(rebuilt), "node {i}");
        }
        let owners = |s: &Scheduler| -> BTreeMap<(usize, NodeId), u32> {
            s.owners
                .iter()
                .enumerate()
                .flat_map(|(rs, m)| m.iter().map(move |(n, c)| ((rs, *n), *c)))
                .collect()
        };
        assert_eq!(owners(self), owners(&fresh));
        let controllers = |s: &Scheduler| -> BTreeMap<(Controller, NodeId), u32> {
            s.controller_owners
                .iter()
                .flat_map(|(c, m)| m.iter().map(move |(n, k)| ((*c, *n), *k)))
                .filter(|(_, k)| *k > 0)
                .collect()
        };
        assert_eq!(controllers(self), controllers(&fresh));
        assert_eq!(self.unschedulable, pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_nodes_to_find_follow_upstream() {
        // Every node below 100; from 100, 50% - nodes/125, at least 5%, at least 100.
        assert_eq!(num_feasible_nodes_to_find(1), 1);
        assert_eq!(num_feasible_nodes_to_find(99), 99);
        assert_eq!(num_feasible_nodes_to_find(100), 100);
        assert_eq!(num_feasible_nodes_to_find(150), 100);
        assert_eq!(num_feasible_nodes_to_find(200), 100);
        assert_eq!(num_feasible_nodes_to_find(250), 120); // 48%
        assert_eq!(num_feasible_nodes_to_find(500), 230); // 46%
        assert_eq!(num_feasible_nodes_to_find(1_000), 420); // 42%
        assert_eq!(num_feasible_nodes_to_find(5_000), 500); // 10%
        assert_eq!(num_feasible_nodes_to_find(6_000), 300); // 5% (50 - 48 = 2, raised to 5)
        assert_eq!(num_feasible_nodes_to_find(15_000), 750); // 5%
    }
}
