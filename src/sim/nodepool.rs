//! The cluster autoscaler (kubernetes/autoscaler, `cluster-autoscaler/`) for one node group,
//! `spec.cluster.nodePool`, with upstream's default flags (`cluster-autoscaler/FAQ.md`,
//! "What are the parameters to CA?").
//!
//! Every `--scan-interval` (10 s) a loop runs (`core/static_autoscaler.go`, `RunOnce`):
//!
//! - **Scale-up** ("How does scale-up work?"): the pods the scheduler left unschedulable
//!   (older than `--new-pod-scale-up-delay`, 0 s; DaemonSet pods are left out, as
//!   `filterOutDaemonSetPods` does) are packed, in creation order, onto the nodes already
//!   asked for and still provisioning, then onto new nodes made from the template, first fit
//!   (the binpacking estimator, `estimator/binpacking_estimator.go`), up to the group's
//!   maximum size. Whether a pod fits a node is asked of the scheduler's own filters
//!   ([`Scheduler::feasible`]), on a scratch scheduler that holds the pods packed so far. The
//!   group grows by the nodes used: `ScaledUpGroup` ("Scale-up: setting group pool size to 2
//!   instead of 1 (max: 5)") and `TriggeredScaleUp` on each pod that needed a new node ("pod
//!   triggered scale-up: [{pool 1->2 (max: 5)}]",
//!   `processors/status/eventing_scale_up_processor.go`); a pod that fits no new node gets
//!   `NotTriggerScaleUp` ("pod didn't trigger scale-up (it wouldn't fit if a new node is
//!   added): 1 Insufficient cpu", or "1 max node group size reached"), once per pod and
//!   reason (upstream repeats it every loop; `kubectl` shows the count). Each new node
//!   registers `provisioningDelay` later ([`Simulation::add_node`]) and is Ready at the node
//!   lifecycle controller's next pass.
//! - **Scale-down** ("How does scale-down work?"), in a loop that scaled nothing up: a node
//!   of the group is unneeded while the sum of its pods' CPU requests and the sum of their
//!   memory requests are each below `--scale-down-utilization-threshold` (0.5) of its
//!   allocatable (DaemonSet pods count, as `--ignore-daemonsets-utilization` is false by
//!   default), and every other pod on it can move to another node: the scheduler's filters
//!   on a copy of its cache, each pod placed counting for the next. Pods not backed by a
//!   controller and `kube-system` pods that are not DaemonSet pods block it ("What types of
//!   pods can prevent CA from removing a node?"; kubesim models no PodDisruptionBudget). A
//!   node unneeded for `--scale-down-unneeded-time` (10 min) is removed, unless the group is
//!   at its minimum size or it scaled up less than `--scale-down-delay-after-add` (10 min)
//!   ago: an empty node (DaemonSet pods only) at once, `ScaleDownEmpty` ("Scale-down:
//!   removing empty node \"pool-2\""), up to `--max-empty-bulk-delete` (10) per loop; else one
//!   node per loop, drained: tainted `ToBeDeletedByClusterAutoscaler` (`ScaleDown`, "marked
//!   the node as toBeDeleted/unschedulable"), each pod but the DaemonSet pods deleted
//!   gracefully (`ScaleDown`, "deleting pod for node scale down"), and the node deleted
//!   (`ScaleDown`, "nodes removed by cluster autoscaler", `core/scaledown/actuation/`) once
//!   they are gone, or after `--max-graceful-termination-sec` (600 s) at the latest.

use super::{Ev, Simulation};
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{Cluster, Controller, NodeId, PodId};
use crate::model::config::Taint;
use crate::model::scheduler::Scheduler;
use std::collections::{BTreeMap, BTreeSet};

/// `--scan-interval` (`cluster-autoscaler/FAQ.md`): how often the loop runs.
pub const SCAN_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// `--new-pod-scale-up-delay`: pods younger than this do not trigger a scale-up.
pub const NEW_POD_SCALE_UP_DELAY: SimDuration = SimDuration::from_secs(0);
/// `--scale-down-unneeded-time`: how long a node must be unneeded before it is removed.
pub const SCALE_DOWN_UNNEEDED_TIME: SimDuration = SimDuration::from_secs(600);
/// `--scale-down-delay-after-add`: no scale-down for this long after a scale-up.
pub const SCALE_DOWN_DELAY_AFTER_ADD: SimDuration = SimDuration::from_secs(600);
/// `--scale-down-utilization-threshold`, in percent (0.5).
pub const SCALE_DOWN_UTILIZATION_THRESHOLD_PERCENT: u64 = 50;
/// `--max-graceful-termination-sec`: how long a drain waits for the pods to go.
pub const MAX_GRACEFUL_TERMINATION: SimDuration = SimDuration::from_secs(600);
/// `--max-empty-bulk-delete`: empty nodes removed in one loop.
pub const MAX_EMPTY_BULK_DELETE: usize = 10;
/// The taint a node being drained gets (`utils/taints/taints.go`, `ToBeDeletedTaint`).
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
/// Where the autoscaler records its group-level events (`kube-system/cluster-autoscaler-status`).
const STATUS_OBJECT: &str = "configmap/cluster-autoscaler-status";

/// The group's nodes and the autoscaler's memory of them.
#[derive(Debug, Clone, Default)]
pub(super) struct NodePoolState {
    /// Nodes of the group that exist (being drained included), by creation order.
    members: Vec<NodeId>,
    /// Nodes asked for and not registered yet: when each registers.
    upcoming: Vec<SimTime>,
    /// The number the next node's name takes.
    next_index: u32,
    last_scale_up: Option<SimTime>,
    /// Since when each node has been unneeded.
    unneeded_since: BTreeMap<NodeId, SimTime>,
    /// Nodes being drained, since when.
    draining: BTreeMap<NodeId, SimTime>,
    /// (pod, reason) pairs already told `NotTriggerScaleUp`.
    told: BTreeSet<(PodId, String)>,
}

/// Whether `needed` (a node's requests) is below the threshold of `allocatable`, for CPU and
/// memory both: upstream's utilization is the larger of the two ratios
/// (`simulator/utilization/info.go`, `Calculate`).
pub fn underutilized(cpu: (u64, u64), memory: (u64, u64)) -> bool {
    let below = |(used, alloc): (u64, u64)| {
        alloc > 0
            && u128::from(used) * 100
                < u128::from(alloc) * u128::from(SCALE_DOWN_UTILIZATION_THRESHOLD_PERCENT)
    };
    below(cpu) && below(memory)
}

/// What packing the pending pods onto provisioning and new nodes gave.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Packing {
    /// New nodes needed.
    pub new_nodes: u32,
    /// Pods placed on a new node (they trigger the scale-up).
    pub triggered: Vec<PodId>,
    /// Pods that fit no node, with upstream's reason.
    pub unhelped: Vec<(PodId, String)>,
}

/// Packs `pods` (in order), first fit, onto `upcoming` nodes already asked for and then onto
/// up to `room` new ones, each a `template` node (in a scratch cluster of `template` nodes);
/// fit is the scheduler's filters.
pub fn pack(
    cluster: &Cluster,
    pods: &[PodId],
    template: &crate::model::config::NodeConfig,
    upcoming: usize,
    room: usize,
) -> Packing {
    let cap = upcoming + room;
    let scratch = Cluster::new(&vec![template.clone(); cap.max(1)]);
    let mut sched = Scheduler::new(cap.max(1));
    let mut opened = upcoming;
    let mut out = Packing::default();
    for &id in pods {
        let pod = cluster.pod(id);
        let placed = (0..opened)
            .map(|i| NodeId(i as u32))
            .find(|&n| sched.feasible(&scratch, n, pod).is_ok());
        if let Some(n) = placed {
            sched.bound(id, pod, n);
            if n.index() >= upcoming {
                out.triggered.push(id);
            }
            continue;
        }
        // A node of the group with nothing on it: does the pod fit at all?
        let empty = NodeId(opened.min(cap.max(1) - 1) as u32);
        let fresh = if opened < cap {
            sched.feasible(&scratch, empty, pod)
        } else {
            Scheduler::new(1).feasible(
                &Cluster::new(std::slice::from_ref(template)),
                NodeId(0),
                pod,
            )
        };
        match fresh {
            Err(why) => out.unhelped.push((id, why)),
            Ok(()) if opened < cap => {
                sched.bound(id, pod, empty);
                opened += 1;
                out.triggered.push(id);
            }
            Ok(()) => out
                .unhelped
                .push((id, "max node group size reached".to_string())),
        }
    }
    out.new_nodes = (opened - upcoming) as u32;
    out
}

impl Simulation {
    /// Sets the group up at time zero: its first `min_size` nodes are the scenario's last
    /// nodes; the loop's first run is now.
    pub(super) fn start_node_pool(&mut self) {
        let Some(pool) = &self.scenario.node_pool else {
            return;
        };
        let first = self.cluster.nodes.len() - pool.min_size as usize;
        self.node_pool.members = (first..self.cluster.nodes.len())
            .map(|i| NodeId(i as u32))
            .collect();
        self.node_pool.next_index = pool.min_size + 1;
        self.queue.schedule(SimTime::ZERO, Ev::NodePoolScan);
    }

    /// One run of the autoscaler's loop.
    pub(super) fn on_node_pool_scan(&mut self, now: SimTime) {
        let scaled_up = self.pool_scale_up(now);
        self.pool_finish_drains(now);
        if !scaled_up {
            self.pool_scale_down(now);
        }
        let next = now + SCAN_INTERVAL;
        if next <= self.end {
            self.queue.schedule(next, Ev::NodePoolScan);
        }
    }

    /// A node asked for registers.
    pub(super) fn on_node_pool_join(&mut self, now: SimTime) {
        let Some(pool) = &self.scenario.node_pool else {
            return;
        };
        let cfg = pool.node(self.node_pool.next_index);
        self.node_pool.next_index += 1;
        if let Some(i) = self.node_pool.upcoming.iter().position(|t| *t == now) {
            self.node_pool.upcoming.remove(i);
        }
        let name = cfg.name.clone();
        match self.add_node(now, cfg) {
            Ok(id) => self.node_pool.members.push(id),
            Err(e) => self.log.warning(
                now,
                format!("node/{name}"),
                "FailedToScaleUpGroup",
                e.to_string(),
            ),
        }
    }

    /// The scale-up half of the loop; whether it asked for nodes.
    fn pool_scale_up(&mut self, now: SimTime) -> bool {
        let Some(pool) = &self.scenario.node_pool else {
            return false;
        };
        let pending: Vec<PodId> = self
            .scheduler
            .unschedulable_pods()
            .into_iter()
            .filter(|&id| {
                let p = self.cluster.pod(id);
                p.exists()
                    && p.deleted.is_none()
                    && p.node.is_none()
                    && !matches!(p.controller, Some(Controller::DaemonSet(_)))
                    && p.created + NEW_POD_SCALE_UP_DELAY <= now
            })
            .collect();
        if pending.is_empty() {
            return false;
        }
        let size = self.node_pool.members.len() + self.node_pool.upcoming.len();
        let room = (pool.max_size as usize).saturating_sub(size);
        // Registered nodes that are not Ready yet are upcoming too (upstream's cluster state
        // registry counts them so until they are Ready): their pods need no other node.
        let unready = self
            .node_pool
            .members
            .iter()
            .filter(|&&n| !self.cluster.node(n).ready)
            .count();
        let packing = pack(
            &self.cluster,
            &pending,
            &pool.template,
            self.node_pool.upcoming.len() + unready,
            room,
        );
        for (id, why) in packing.unhelped {
            if self.node_pool.told.insert((id, why.clone())) {
                let name = self.cluster.pod(id).meta.name.clone();
                self.log.normal(
                    now,
                    format!("pod/{name}"),
                    "NotTriggerScaleUp",
                    format!("pod didn't trigger scale-up (it wouldn't fit if a new node is added): 1 {why}"),
                );
            }
        }
        if packing.new_nodes == 0 {
            return false;
        }
        let new_size = size + packing.new_nodes as usize;
        let (name, max, delay) = (pool.name.clone(), pool.max_size, pool.provisioning_delay);
        self.log.normal(
            now,
            STATUS_OBJECT.to_string(),
            "ScaledUpGroup",
            format!(
                "Scale-up: setting group {name} size to {new_size} instead of {size} (max: {max})"
            ),
        );
        let info = format!("[{{{name} {size}->{new_size} (max: {max})}}]");
        for id in packing.triggered {
            let pod = self.cluster.pod(id).meta.name.clone();
            self.log.normal(
                now,
                format!("pod/{pod}"),
                "TriggeredScaleUp",
                format!("pod triggered scale-up: {info}"),
            );
        }
        for _ in 0..packing.new_nodes {
            self.node_pool.upcoming.push(now + delay);
            self.queue.schedule(now + delay, Ev::NodePoolJoin);
        }
        self.node_pool.last_scale_up = Some(now);
        true
    }

    /// Pods on `node` that the autoscaler must move before removing it (all but DaemonSet
    /// pods), not yet deleted.
    fn pool_pods_to_move(&self, node: NodeId) -> Vec<PodId> {
        self.cluster
            .pods_on(node)
            .into_iter()
            .filter(|&id| {
                let p = self.cluster.pod(id);
                p.deleted.is_none() && !matches!(p.controller, Some(Controller::DaemonSet(_)))
            })
            .collect()
    }

    /// Whether every pod to move from `node` can go elsewhere (nodes in `leaving` excluded),
    /// each placed counting for the next, on `sched` (a copy of the scheduler's cache).
    fn pool_pods_can_move(
        &self,
        node: NodeId,
        leaving: &BTreeSet<NodeId>,
        sched: &mut Scheduler,
    ) -> bool {
        for id in self.pool_pods_to_move(node) {
            let p = self.cluster.pod(id);
            if p.meta.namespace == "kube-system" || (p.owner.is_none() && p.controller.is_none()) {
                return false;
            }
            let target = (0..self.cluster.nodes.len())
                .map(|i| NodeId(i as u32))
                .filter(|n| *n != node && !leaving.contains(n))
                .find(|&n| {
                    let c = self.cluster.node(n);
                    c.removed.is_none() && c.ready && sched.feasible(&self.cluster, n, p).is_ok()
                });
            match target {
                Some(n) => sched.bound(id, p, n),
                None => return false,
            }
        }
        true
    }

    /// A node's requests (CPU millis, memory bytes), over the pods bound to it and not
    /// deleted.
    fn pool_requests(&self, node: NodeId) -> (u64, u64) {
        self.cluster
            .pods_on(node)
            .into_iter()
            .map(|id| self.cluster.pod(id))
            .filter(|p| p.deleted.is_none())
            .fold((0, 0), |(c, m), p| {
                let r = p.spec.requests();
                (c + r.cpu_millis, m + r.memory_bytes)
            })
    }

    /// The scale-down half: which nodes are unneeded, and the removal of those unneeded long
    /// enough.
    fn pool_scale_down(&mut self, now: SimTime) {
        let Some(pool) = &self.scenario.node_pool else {
            return;
        };
        let min = pool.min_size as usize;
        let mut leaving: BTreeSet<NodeId> = self.node_pool.draining.keys().copied().collect();
        let mut sched = self.scheduler.clone();
        let mut unneeded = BTreeMap::new();
        for &node in &self.node_pool.members.clone() {
            let n = self.cluster.node(node);
            if leaving.contains(&node) || !n.ready {
                continue;
            }
            let (cpu, memory) = self.pool_requests(node);
            let alloc = n.cfg.allocatable;
            if !underutilized((cpu, alloc.cpu_millis), (memory, alloc.memory_bytes)) {
                continue;
            }
            let mut trial = sched.clone();
            if self.pool_pods_can_move(node, &leaving, &mut trial) {
                let since = self
                    .node_pool
                    .unneeded_since
                    .get(&node)
                    .copied()
                    .unwrap_or(now);
                unneeded.insert(node, since);
            }
        }
        self.node_pool.unneeded_since = unneeded;
        let cooling = self
            .node_pool
            .last_scale_up
            .is_some_and(|t| now < t + SCALE_DOWN_DELAY_AFTER_ADD);
        if cooling {
            return;
        }
        let mut size = self.node_pool.members.len() - self.node_pool.draining.len();
        let due: Vec<NodeId> = self
            .node_pool
            .unneeded_since
            .iter()
            .filter(|(_, since)| **since + SCALE_DOWN_UNNEEDED_TIME <= now)
            .map(|(n, _)| *n)
            .collect();
        let (mut empty_removed, mut drained) = (0, false);
        for node in due {
            if size <= min {
                break;
            }
            let empty = self.pool_pods_to_move(node).is_empty();
            if empty && empty_removed < MAX_EMPTY_BULK_DELETE {
                let name = self.cluster.node(node).cfg.name.clone();
                self.log.normal(
                    now,
                    STATUS_OBJECT.to_string(),
                    "ScaleDownEmpty",
                    format!("Scale-down: removing empty node {name:?}"),
                );
                self.pool_delete_node(now, node);
                empty_removed += 1;
                size -= 1;
            } else if !empty && !drained {
                // The pods must still fit elsewhere with this loop's removals.
                if !self.pool_pods_can_move(node, &leaving, &mut sched) {
                    continue;
                }
                self.pool_drain(now, node);
                leaving.insert(node);
                drained = true;
                size -= 1;
            }
        }
    }

    /// Taints `node`, deletes its pods but the DaemonSet pods; it is deleted once they are
    /// gone ([`pool_finish_drains`](Self::pool_finish_drains)).
    fn pool_drain(&mut self, now: SimTime, node: NodeId) {
        let name = self.cluster.node(node).cfg.name.clone();
        self.cluster.nodes[node.index()].cfg.taints.push(Taint {
            key: TO_BE_DELETED_TAINT.into(),
            value: Some(now.as_nanos().div_euclid(1_000_000_000).to_string()),
            effect: "NoSchedule".into(),
        });
        self.log.normal(
            now,
            format!("node/{name}"),
            "ScaleDown",
            "marked the node as toBeDeleted/unschedulable".into(),
        );
        for id in self.pool_pods_to_move(node) {
            let pod = self.cluster.pod(id).meta.name.clone();
            self.log.normal(
                now,
                format!("pod/{pod}"),
                "ScaleDown",
                "deleting pod for node scale down".into(),
            );
            self.delete_pod(id);
        }
        self.node_pool.draining.insert(node, now);
        self.node_pool.unneeded_since.remove(&node);
    }

    /// Deletes the drained nodes whose pods are gone, or whose drain ran out of time.
    fn pool_finish_drains(&mut self, now: SimTime) {
        let done: Vec<NodeId> = self
            .node_pool
            .draining
            .iter()
            .filter(|(node, since)| {
                now >= **since + MAX_GRACEFUL_TERMINATION
                    || self.cluster.pods_on(**node).iter().all(|&id| {
                        matches!(
                            self.cluster.pod(id).controller,
                            Some(Controller::DaemonSet(_))
                        )
                    })
            })
            .map(|(n, _)| *n)
            .collect();
        for node in done {
            self.pool_delete_node(now, node);
        }
    }

    /// The cloud provider deletes the machine: `ScaleDown` on the node, then the Node object
    /// goes.
    fn pool_delete_node(&mut self, now: SimTime, node: NodeId) {
        let name = self.cluster.node(node).cfg.name.clone();
        self.log.normal(
            now,
            format!("node/{name}"),
            "ScaleDown",
            "nodes removed by cluster autoscaler".into(),
        );
        self.node_pool.draining.remove(&node);
        self.node_pool.unneeded_since.remove(&node);
        self.node_pool.members.retain(|n| *n != node);
        self.remove_node(now, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_is_the_larger_ratio_against_half() {
        // 1,900m of 4 CPU and 1 of 8 GiB: both below 50%.
        assert!(underutilized((1_900, 4_000), (1 << 30, 8 << 30)));
        // Exactly half is not below.
        assert!(!underutilized((2_000, 4_000), (0, 8 << 30)));
        // Memory alone at 60% keeps the node.
        assert!(!underutilized((100, 4_000), (6 << 30, 10 << 30)));
        // A node with nothing allocatable is never "below".
        assert!(!underutilized((0, 0), (0, 8 << 30)));
    }
}
