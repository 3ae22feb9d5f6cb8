//! The DaemonSet controller, as `pkg/controller/daemon/daemon_controller.go` (`manage`) and
//! `update.go` (`rollingUpdate`) run it.
//!
//! - Which nodes: `NodeShouldRunDaemonPod` (`daemon_controller.go`): the template's
//!   `nodeName` (if any) and `nodeSelector` must match the node, and the pod, with the
//!   tolerations the controller adds to every daemon pod ([`default_tolerations`],
//!   `AddOrUpdateDaemonPodTolerations` in `pkg/controller/daemon/util/daemonset_util.go`),
//!   must tolerate every `NoSchedule` and `NoExecute` taint of the node (its own, the
//!   lifecycle's `not-ready`/`unreachable` and the cordon's `unschedulable`). A node whose
//!   untolerated taints are all `NoSchedule` keeps the pod it has (`shouldContinueRunning`).
//!   Node affinity is not modelled (kubesim's pods have none).
//! - A node that should run the daemon and has no pod (terminating ones count, so a
//!   replacement waits for the old pod to be gone) gets one: named `<name>-<5 random
//!   characters>`, labelled `controller-revision-hash` and `pod-template-generation`, and
//!   pinned to its node as upstream's node affinity on `metadata.name` pins it (kubesim: a
//!   `nodeSelector` on the node's `kubernetes.io/hostname` label); the scheduler still checks
//!   its resources and host ports.
//! - Daemon pods tolerate `not-ready` and `unreachable` `NoExecute` without limit: the node
//!   lifecycle controller never evicts them, so a node that goes down keeps its pod, which
//!   starts again when the node returns; a node that turns Ready (joins or returns without
//!   its pod) gets one.
//! - `RollingUpdate` (`maxUnavailable` default 1, `maxSurge` default 0, percentages of the
//!   nodes that should run the daemon, rounded up): without surge, old pods are deleted while
//!   at most `maxUnavailable` nodes lack an available pod (an old pod that is not available
//!   is replaced at once); with surge, a new pod is created beside the old one on up to
//!   `maxSurge` nodes and the old pod is deleted once the new one is available.
//!   `OnDelete`: a pod takes the new template only when deleted. Nodes are visited in order
//!   (upstream iterates a Go map).
//!
//! The controller runs when the DaemonSet is created or changed, when one of its pods turns
//! ready, becomes available, is deleted or goes away, and when a node turns Ready or
//! NotReady or is cordoned.

use super::Simulation;
use crate::engine::SimTime;
use crate::model::cluster::{Controller, NodeId, PodId, PodPhase};
use crate::model::names;
use crate::model::objects::{DaemonSetObject, IntOrPercent, ObjectMeta, PodSpec, Toleration};
use crate::model::scheduler;
use std::collections::BTreeMap;

/// Label with the generation of the template a pod was made from
/// (`extensions.DaemonSetTemplateGenerationKey`).
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// One DaemonSet and the controller's memory of it.
#[derive(Debug, Clone)]
pub(super) struct DaemonSetState {
    pub spec: DaemonSetObject,
    /// `metadata.generation` of the template: 1, plus one per template change.
    pub generation: u64,
    /// The node each pod was made for.
    pub targets: BTreeMap<PodId, NodeId>,
    pub deleted: bool,
}

/// The tolerations the DaemonSet controller adds to every daemon pod
/// (`AddOrUpdateDaemonPodTolerations`, `pkg/controller/daemon/util/daemonset_util.go`):
/// `not-ready` and `unreachable` `NoExecute` without `tolerationSeconds`, and the
/// `NoSchedule` taints of node conditions and of a cordon; `network-unavailable` for a
/// `hostNetwork` pod. One the template already has for the same key and effect is replaced.
pub fn default_tolerations(spec: &mut PodSpec) {
    let mut add = |key: &str, effect: &str| {
        spec.tolerations
            .retain(|t| !(t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect)));
        spec.tolerations.push(Toleration {
            key: Some(key.into()),
            operator_exists: true,
            value: None,
            effect: Some(effect.into()),
            toleration_seconds: None,
        });
    };
    add("node.kubernetes.io/not-ready", "NoExecute");
    add("node.kubernetes.io/unreachable", "NoExecute");
    add("node.kubernetes.io/disk-pressure", "NoSchedule");
    add("node.kubernetes.io/memory-pressure", "NoSchedule");
    add("node.kubernetes.io/pid-pressure", "NoSchedule");
    add("node.kubernetes.io/unschedulable", "NoSchedule");
    if spec.host_network {
        add("node.kubernetes.io/network-unavailable", "NoSchedule");
    }
}

/// `maxUnavailable`/`maxSurge` as a count of `nodes`, percentages rounded up
/// (`util.UnavailableCount`, `util.SurgeCount`).
fn scaled(v: IntOrPercent, nodes: u32) -> u32 {
    match v {
        IntOrPercent::Count(n) => n,
        IntOrPercent::Percent(p) => {
            u32::try_from((u64::from(p) * u64::from(nodes)).div_ceil(100)).unwrap_or(u32::MAX)
        }
    }
}

impl Simulation {
    /// `kubectl apply` of a new DaemonSet.
    pub(super) fn create_daemon_set(&mut self, d: DaemonSetObject) {
        let i = self.daemonsets.len() as u32;
        self.daemonsets.push(DaemonSetState {
            spec: d,
            generation: 1,
            targets: BTreeMap::new(),
            deleted: false,
        });
        self.sync_daemon_set(i);
    }

    pub(super) fn find_daemon_set(&self, namespace: &str, name: &str) -> Option<u32> {
        self.daemonsets
            .iter()
            .position(|d| {
                !d.deleted && d.spec.meta.namespace == namespace && d.spec.meta.name == name
            })
            .map(|i| i as u32)
    }

    /// `kubectl apply` of a DaemonSet that exists: the selector is immutable; a new template
    /// is a new generation and starts an update.
    pub(super) fn update_daemon_set(&mut self, now: SimTime, i: u32, new: DaemonSetObject) {
        let ds = &mut self.daemonsets[i as usize];
        if new.selector != ds.spec.selector {
            let name = ds.spec.meta.name.clone();
            self.log.warning(
                now,
                format!("daemonset/{name}"),
                "FailedApply",
                format!("The DaemonSet {name:?} is invalid: spec.selector: Invalid value: field is immutable"),
            );
            return;
        }
        if new.template != ds.spec.template {
            ds.generation += 1;
        }
        ds.spec = new;
        self.sync_daemon_set(i);
    }

    /// `kubectl delete daemonset`: its pods are deleted, nothing replaces them.
    pub(super) fn delete_daemon_set(&mut self, i: u32) {
        self.daemonsets[i as usize].deleted = true;
        for id in self.daemon_pods(i) {
            self.terminate_pod(id);
        }
    }

    /// Runs every DaemonSet's controller (a node's readiness or taints changed).
    pub(super) fn sync_all_daemon_sets(&mut self) {
        for i in 0..self.daemonsets.len() as u32 {
            self.sync_daemon_set(i);
        }
    }

    /// A pod of a DaemonSet changed (ready, available, deleted, gone): run its controller.
    pub(super) fn daemon_pod_changed(&mut self, id: PodId) {
        if let Some(Controller::DaemonSet(i)) = self.cluster.pod(id).controller {
            if self.cluster.pod(id).ready && self.cluster.pod(id).deleted.is_none() {
                let min_ready = self.daemonsets[i as usize].spec.min_ready;
                if !min_ready.is_zero() {
                    let at = self.queue.now() + min_ready;
                    self.queue.schedule(at, super::Ev::Available(id));
                }
            }
            self.sync_daemon_set(i);
        }
    }

    /// Existing pods of DaemonSet `i` (terminating ones included), in creation order.
    fn daemon_pods(&self, i: u32) -> Vec<PodId> {
        self.cluster
            .live_pods()
            .filter(|(_, p)| p.controller == Some(Controller::DaemonSet(i)))
            .map(|(id, _)| id)
            .collect()
    }

    /// The template's pod spec as the controller creates it (`NewPod`).
    fn daemon_pod_spec(&self, i: u32) -> PodSpec {
        let mut spec = self.daemonsets[i as usize].spec.template.spec.clone();
        default_tolerations(&mut spec);
        spec
    }

    /// `NodeShouldRunDaemonPod`: (`shouldRun`, `shouldContinueRunning`).
    fn node_should_run(&self, spec: &PodSpec, node: NodeId) -> (bool, bool) {
        let n = self.cluster.node(node);
        if n.removed.is_some() {
            return (false, false);
        }
        if spec
            .node_name
            .as_ref()
            .is_some_and(|name| *name != n.cfg.name)
        {
            return (false, false);
        }
        if !spec
            .node_selector
            .iter()
            .all(|(k, v)| n.cfg.labels.get(k) == Some(v))
        {
            return (false, false);
        }
        let untolerated = |effects: &[&str]| {
            scheduler::node_taints(n).any(|(key, value, effect)| {
                effects.contains(&effect)
                    && !scheduler::tolerates(&spec.tolerations, key, value, effect)
            })
        };
        if untolerated(&["NoSchedule", "NoExecute"]) {
            return (false, !untolerated(&["NoExecute"]));
        }
        (true, true)
    }

    fn ds_available(&self, id: PodId, i: u32, now: SimTime) -> bool {
        let min_ready = self.daemonsets[i as usize].spec.min_ready;
        let p = self.cluster.pod(id);
        p.deleted.is_none() && p.ready && p.ready_since.is_some_and(|t| t + min_ready <= now)
    }

    fn ds_event(&mut self, i: u32, reason: &str, message: String) {
        let now = self.queue.now();
        let name = self.daemonsets[i as usize].spec.meta.name.clone();
        self.log
            .normal(now, format!("daemonset/{name}"), reason, message);
    }

    /// Creates the daemon pod of `node` (`syncNodes`; `RealPodControl.CreatePods` records
    /// `Created pod: <name>`).
    fn create_daemon_pod(&mut self, i: u32, node: NodeId, hash: &str) {
        let ds = &self.daemonsets[i as usize];
        let mut labels = ds.spec.template.meta.labels.clone();
        labels.insert(super::statefulset::REVISION_LABEL.into(), hash.to_string());
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), ds.generation.to_string());
        let meta = ObjectMeta {
            name: names::generate_name(&format!("{}-", ds.spec.meta.name), &mut self.rng_names),
            namespace: ds.spec.meta.namespace.clone(),
            labels,
            annotations: ds.spec.template.meta.annotations.clone(),
        };
        let mut spec = self.daemon_pod_spec(i);
        let n = self.cluster.node(node);
        match n.cfg.labels.get("kubernetes.io/hostname") {
            Some(h) => {
                spec.node_selector
                    .insert("kubernetes.io/hostname".into(), h.clone());
            }
            None => spec.node_name = Some(n.cfg.name.clone()),
        }
        self.ds_event(i, "SuccessfulCreate", format!("Created pod: {}", meta.name));
        let id = self.create_pod_with(meta, spec, None, Some(Controller::DaemonSet(i)));
        self.daemonsets[i as usize].targets.insert(id, node);
    }

    fn delete_daemon_pod(&mut self, i: u32, id: PodId) {
        let name = self.cluster.pod(id).meta.name.clone();
        self.ds_event(i, "SuccessfulDelete", format!("Deleted pod: {name}"));
        self.terminate_pod(id);
    }

    /// One pass of `syncDaemonSet`, re-run when a pod it deleted left at once.
    pub(super) fn sync_daemon_set(&mut self, i: u32) {
        if self.ds_syncing.contains(&i) {
            self.ds_dirty = true;
            return;
        }
        self.ds_syncing.push(i);
        loop {
            self.ds_dirty = false;
            self.sync_daemon_set_once(i);
            if !self.ds_dirty {
                break;
            }
        }
        self.ds_syncing.retain(|x| *x != i);
    }

    fn sync_daemon_set_once(&mut self, i: u32) {
        if self.daemonsets[i as usize].deleted {
            return;
        }
        let now = self.queue.now();
        let spec = self.daemon_pod_spec(i);
        let hash = names::pod_template_hash(&self.daemonsets[i as usize].spec.template);
        let surge_allowed = self.daemonsets[i as usize]
            .spec
            .rolling_update
            .as_ref()
            .is_some_and(|ru| ru.max_surge != IntOrPercent::Count(0));
        // Pods by the node they were made for.
        let mut by_node: BTreeMap<NodeId, Vec<PodId>> = BTreeMap::new();
        for id in self.daemon_pods(i) {
            if let Some(&n) = self.daemonsets[i as usize].targets.get(&id) {
                by_node.entry(n).or_default().push(id);
            }
        }
        let mut should_run_nodes = Vec::new();
        // `manage`: create where missing, delete where the daemon may no longer run.
        for n in 0..self.cluster.nodes.len() {
            let node = NodeId(n as u32);
            let (should_run, should_continue) = self.node_should_run(&spec, node);
            let pods = by_node.get(&node).cloned().unwrap_or_default();
            if should_run {
                should_run_nodes.push(node);
            }
            if should_run && pods.is_empty() {
                self.create_daemon_pod(i, node, &hash);
                continue;
            }
            let active: Vec<PodId> = pods
                .iter()
                .copied()
                .filter(|id| self.cluster.pod(*id).deleted.is_none())
                .collect();
            if !should_continue {
                for id in active {
                    self.delete_daemon_pod(i, id);
                }
                continue;
            }
            for &id in &active {
                if self.cluster.pod(id).phase == PodPhase::Failed {
                    self.delete_daemon_pod(i, id);
                }
            }
            // Without surge, more than one pod on a node: keep the oldest.
            if !surge_allowed && active.len() > 1 {
                for &id in &active[1..] {
                    self.delete_daemon_pod(i, id);
                }
            }
        }
        let Some(ru) = self.daemonsets[i as usize].spec.rolling_update.clone() else {
            return;
        };
        let desired = should_run_nodes.len() as u32;
        let max_unavailable = scaled(ru.max_unavailable, desired);
        let max_surge = scaled(ru.max_surge, desired);
        let new_and_old = |me: &Self, node: NodeId| -> Option<(Option<PodId>, Option<PodId>)> {
            // `findUpdatedPodsOnNode`: terminating pods are skipped; two of a kind is not ok.
            let (mut new, mut old) = (None, None);
            for &id in by_node.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                let p = me.cluster.pod(id);
                if p.deleted.is_some() || !p.exists() {
                    continue;
                }
                let slot = if p.meta.labels.get(super::statefulset::REVISION_LABEL) == Some(&hash) {
                    &mut new
                } else {
                    &mut old
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(id);
            }
            Some((new, old))
        };
        if max_surge == 0 {
            let mut unavailable = 0u32;
            let mut allowed = Vec::new();
            let mut candidates = Vec::new();
            for &node in &should_run_nodes {
                let Some(pair) = new_and_old(self, node) else {
                    unavailable += 1;
                    continue;
                };
                match pair {
                    (None, None) | (Some(_), Some(_)) => unavailable += 1,
                    (Some(new), None) => {
                        if !self.ds_available(new, i, now) {
                            unavailable += 1;
                        }
                    }
                    (None, Some(old)) => {
                        if !self.ds_available(old, i, now) {
                            allowed.push(old);
                        } else if unavailable < max_unavailable {
                            candidates.push(old);
                        }
                    }
                }
            }
            let room = (max_unavailable.saturating_sub(unavailable) as usize).min(candidates.len());
            allowed.extend_from_slice(&candidates[..room]);
            for id in allowed {
                self.delete_daemon_pod(i, id);
            }
        } else {
            let mut surging = 0u32;
            let mut to_delete = Vec::new();
            let mut allowed_nodes = Vec::new();
            let mut candidate_nodes = Vec::new();
            for &node in &should_run_nodes {
                let Some(pair) = new_and_old(self, node) else {
                    surging += 1;
                    continue;
                };
                match pair {
                    (_, None) => {}
                    (None, Some(old)) => {
                        if !self.ds_available(old, i, now) {
                            allowed_nodes.push(node);
                        } else if surging < max_surge {
                            candidate_nodes.push(node);
                        }
                    }
                    (Some(new), Some(old)) => {
                        if self.ds_available(new, i, now) {
                            to_delete.push(old);
                        } else {
                            surging += 1;
                        }
                    }
                }
            }
            let room = (max_surge.saturating_sub(surging) as usize).min(candidate_nodes.len());
            allowed_nodes.extend_from_slice(&candidate_nodes[..room]);
            for id in to_delete {
                self.delete_daemon_pod(i, id);
            }
            for node in allowed_nodes {
                self.create_daemon_pod(i, node, &hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::model::objects::{DnsPolicy, Labels, RestartPolicy};

    fn spec(host_network: bool) -> PodSpec {
        PodSpec {
            containers: Vec::new(),
            restart_policy: RestartPolicy::Always,
            node_selector: Labels::new(),
            node_name: None,
            host_network,
            termination_grace_period: SimDuration::from_secs(30),
            tolerations: vec![Toleration {
                key: Some("node.kubernetes.io/unreachable".into()),
                operator_exists: true,
                value: None,
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(10),
            }],
            dns_policy: DnsPolicy::ClusterFirst,
            dns_config: None,
            hostname: None,
            subdomain: None,
        }
    }

    #[test]
    fn default_tolerations_follow_add_or_update_daemon_pod_tolerations() {
        let mut s = spec(false);
        default_tolerations(&mut s);
        let keys: Vec<(&str, &str)> = s
            .tolerations
            .iter()
            .map(|t| (t.key.as_deref().unwrap(), t.effect.as_deref().unwrap()))
            .collect();
        assert_eq!(
            keys,
            [
                ("node.kubernetes.io/not-ready", "NoExecute"),
                ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                ("node.kubernetes.io/unschedulable", "NoSchedule"),
            ]
        );
        // The template's 10 s for unreachable is replaced: daemon pods are never evicted.
        assert!(s.tolerations.iter().all(|t| t.toleration_seconds.is_none()));
        let mut h = spec(true);
        default_tolerations(&mut h);
        assert_eq!(
            h.tolerations.last().and_then(|t| t.key.as_deref()),
            Some("node.kubernetes.io/network-unavailable")
        );
    }

    #[test]
    fn budgets_round_percentages_up() {
        assert_eq!(scaled(IntOrPercent::Percent(10), 3), 1);
        assert_eq!(scaled(IntOrPercent::Percent(50), 3), 2);
        assert_eq!(scaled(IntOrPercent::Count(2), 3), 2);
        assert_eq!(scaled(IntOrPercent::Percent(0), 3), 0);
    }
}
