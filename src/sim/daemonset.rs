//! The DaemonSet controller, as `pkg/controller/daemon/daemon_controller.go` (`manage`) and
//! `update.go` (`rollingUpdate`) run it.
//!
//! - Which nodes: `NodeShouldRunDaemonPod` (`daemon_controller.go`): the template's
//!   `nodeName` (if any), `nodeSelector` and required node affinity must match the node (the
//!   scheduler's own predicate, `scheduler::node_affinity_fits`), and the pod, with the
//!   tolerations the controller adds to every daemon pod ([`default_tolerations`],
//!   `AddOrUpdateDaemonPodTolerations` in `pkg/controller/daemon/util/daemonset_util.go`),
//!   must tolerate every `NoSchedule` and `NoExecute` taint of the node (its own, the
//!   lifecycle's `not-ready`/`unreachable` and the cordon's `unschedulable`). A node whose
//!   untolerated taints are all `NoSchedule` keeps the pod it has (`shouldContinueRunning`).
//! - `manage` (`podsShouldBeOnNode`): a node that should run the daemon and has no pod
//!   (terminating ones count, so a replacement waits for the old pod to be gone) gets one:
//!   named `<name>-<5 random characters>`, labelled `controller-revision-hash` and
//!   `pod-template-generation`, its required node affinity replaced by `metadata.name In
//!   [node]` (`ReplaceDaemonSetPodNodeNameNodeAffinity`), so the scheduler binds it there and
//!   still checks its resources and host ports. Failed and succeeded pods are deleted, extra
//!   pods pruned (all but the oldest; with surge, the oldest new and old ones kept), pods on
//!   nodes that may no longer run the daemon deleted. `syncNodes` creates, then deletes.
//! - Daemon pods tolerate `not-ready` and `unreachable` `NoExecute` without limit: the node
//!   lifecycle controller never evicts them, so a node that goes down keeps its pod, which
//!   starts again when the node returns; a node that turns Ready (joins or returns without
//!   its pod) gets one.
//! - `rollingUpdate` runs only when `manage` had nothing to do (upstream's expectations).
//!   `maxUnavailable` default 1, `maxSurge` default 0, percentages of the nodes that should
//!   run the daemon, rounded up: without surge, an unavailable old pod is replaced at once
//!   and counted as unavailable (kubernetes/kubernetes#123233), available old pods are
//!   deleted while at most `maxUnavailable` nodes lack an available pod; with surge, a new
//!   pod is created beside the old one on up to `maxSurge` nodes (at once where the old pod
//!   is unavailable) and the old pod is deleted once the new one is available.
//!   `OnDelete`: a pod takes the new template only when deleted. Nodes are visited in order
//!   (upstream iterates a Go map).
//!
//! The controller runs when the DaemonSet is created or changed, when one of its pods turns
//! ready, becomes available, is deleted or goes away, and when a node turns Ready or
//! NotReady or is cordoned.

use super::statefulset::REVISION_LABEL;
use super::Simulation;
use crate::engine::SimTime;
use crate::model::affinity::NodeSelector;
use crate::model::cluster::{Controller, NodeId, PodId, PodPhase};
use crate::model::names;
use crate::model::objects::{DaemonSetObject, IntOrPercent, ObjectMeta, PodSpec, Toleration};
use crate::model::scheduler;
use std::collections::BTreeMap;

/// Label with the generation of the template a pod was made from
/// (`extensions.DaemonSetTemplateGenerationKey`).
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// At most this many pods created, and this many deleted, in one sync (`BurstReplicas`,
/// `pkg/controller/daemon/daemon_controller.go`).
pub const BURST_REPLICAS: usize = 250;

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

    /// `NodeShouldRunDaemonPod` (`daemon_controller.go`): (`shouldRun`,
    /// `shouldContinueRunning`) for the daemon pod `spec` (the template with the default
    /// tolerations, as `NewPod` makes it) on `node`. The template's `nodeName` must be the
    /// node's; its `nodeSelector` and required node affinity must match the node (the
    /// scheduler's own test, [`scheduler::node_affinity_fits`], as upstream's `predicates`
    /// calls `nodeaffinity.GetRequiredNodeAffinity(pod).Match`); and every `NoSchedule` and
    /// `NoExecute` taint must be tolerated, else the pod may keep running unless a
    /// `NoExecute` one is not tolerated.
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
        if !scheduler::node_affinity_fits(spec, n) {
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

    /// `podutil.IsPodAvailable` with the set's `minReadySeconds`.
    fn ds_available(&self, id: PodId, i: u32, now: SimTime) -> bool {
        let min_ready = self.daemonsets[i as usize].spec.min_ready;
        let p = self.cluster.pod(id);
        p.ready && p.ready_since.is_some_and(|t| t + min_ready <= now)
    }

    fn ds_event(&mut self, i: u32, warning: bool, reason: &str, message: String) {
        let now = self.queue.now();
        let name = self.daemonsets[i as usize].spec.meta.name.clone();
        let object = format!("daemonset/{name}");
        if warning {
            self.log.warning(now, object, reason, message);
        } else {
            self.log.normal(now, object, reason, message);
        }
    }

    /// Creates the daemon pod of `node` (`syncNodes`): the template with the labels of
    /// `CreatePodTemplate` and the default tolerations, its required node affinity replaced by
    /// one term on the node's name (`ReplaceDaemonSetPodNodeNameNodeAffinity`), so that the
    /// scheduler binds it there (and checks its resources and host ports);
    /// `RealPodControl.CreatePods` records `Created pod: <name>`.
    fn create_daemon_pod(&mut self, i: u32, node: NodeId, hash: &str) {
        let ds = &self.daemonsets[i as usize];
        let mut labels = ds.spec.template.meta.labels.clone();
        labels.insert(REVISION_LABEL.into(), hash.to_string());
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), ds.generation.to_string());
        let meta = ObjectMeta {
            name: names::generate_name(&format!("{}-", ds.spec.meta.name), &mut self.rng_names),
            namespace: ds.spec.meta.namespace.clone(),
            labels,
            annotations: ds.spec.template.meta.annotations.clone(),
        };
        let mut spec = self.daemon_pod_spec(i);
        spec.node_affinity = Some(NodeSelector::node_name(&self.cluster.node(node).cfg.name));
        self.ds_event(
            i,
            false,
            "SuccessfulCreate",
            format!("Created pod: {}", meta.name),
        );
        let id = self.create_pod_with(meta, spec, None, Some(Controller::DaemonSet(i)));
        self.daemonsets[i as usize].targets.insert(id, node);
    }

    fn delete_daemon_pod(&mut self, i: u32, id: PodId) {
        let name = self.cluster.pod(id).meta.name.clone();
        self.ds_event(i, false, "SuccessfulDelete", format!("Deleted pod: {name}"));
        self.terminate_pod(id);
    }

    /// `syncNodes`: creates the pods of `nodes` (at most [`BURST_REPLICAS`] a pass), then
    /// deletes `pods` (likewise). Whether anything was done: upstream's expectations then hold
    /// the rolling update back until the informer has seen it, so the caller runs the pass
    /// again. The slow-start batches only matter when a create fails, which the simulated
    /// API server never makes one do.
    fn ds_sync_nodes(&mut self, i: u32, pods: &[PodId], nodes: &[NodeId], hash: &str) -> bool {
        let mut done = false;
        for &node in nodes.iter().take(BURST_REPLICAS) {
            self.create_daemon_pod(i, node, hash);
            done = true;
        }
        for &id in pods.iter().take(BURST_REPLICAS) {
            if self.cluster.pod(id).deleted.is_none() {
                self.delete_daemon_pod(i, id);
                done = true;
            }
        }
        done
    }

    /// One pass of `syncDaemonSet`, re-run while it changes something (upstream's next sync,
    /// once the informer has seen the pods it created or deleted).
    pub(super) fn sync_daemon_set(&mut self, i: u32) {
        if self.ds_syncing.contains(&i) {
            self.ds_dirty = true;
            return;
        }
        self.ds_syncing.push(i);
        loop {
            self.ds_dirty = false;
            if self.sync_daemon_set_once(i) {
                self.ds_dirty = true;
            }
            if !self.ds_dirty {
                break;
            }
        }
        self.ds_syncing.retain(|x| *x != i);
    }

    /// `getNodesToDaemonPods(ds, includeDeletedTerminal = false)`: the set's pods by the node
    /// each was made for, in creation order, leaving out pods both terminating and finished.
    fn nodes_to_daemon_pods(&self, i: u32) -> BTreeMap<NodeId, Vec<PodId>> {
        let mut by_node: BTreeMap<NodeId, Vec<PodId>> = BTreeMap::new();
        for id in self.daemon_pods(i) {
            let p = self.cluster.pod(id);
            if p.deleted.is_some() && matches!(p.phase, PodPhase::Failed | PodPhase::Succeeded) {
                continue;
            }
            if let Some(&n) = self.daemonsets[i as usize].targets.get(&id) {
                by_node.entry(n).or_default().push(id);
            }
        }
        by_node
    }

    /// One `syncDaemonSet`: `manage`, then (when `manage` had nothing to do, as upstream's
    /// `SatisfiedExpectations` gates it) `rollingUpdate`. Whether it changed anything.
    fn sync_daemon_set_once(&mut self, i: u32) -> bool {
        if self.daemonsets[i as usize].deleted {
            return false;
        }
        let spec = self.daemon_pod_spec(i);
        let hash = names::pod_template_hash(&self.daemonsets[i as usize].spec.template);
        let by_node = self.nodes_to_daemon_pods(i);
        let eligibility: Vec<(bool, bool)> = (0..self.cluster.nodes.len())
            .map(|n| self.node_should_run(&spec, NodeId(n as u32)))
            .collect();
        if self.ds_manage(i, &by_node, &eligibility, &hash) {
            return true;
        }
        if self.daemonsets[i as usize].spec.rolling_update.is_none() {
            return false; // `OnDelete`
        }
        self.ds_rolling_update(i, by_node, &eligibility, &hash)
    }

    /// `manage` and `podsShouldBeOnNode` (`daemon_controller.go`), node by node.
    fn ds_manage(
        &mut self,
        i: u32,
        by_node: &BTreeMap<NodeId, Vec<PodId>>,
        eligibility: &[(bool, bool)],
        hash: &str,
    ) -> bool {
        let now = self.queue.now();
        let surge = self.daemonsets[i as usize]
            .spec
            .rolling_update
            .as_ref()
            .is_some_and(|ru| ru.max_surge != IntOrPercent::Count(0)); // `util.AllowsSurge`
        let mut create = Vec::new();
        let mut delete = Vec::new();
        for (n, &(should_run, should_continue)) in eligibility.iter().enumerate() {
            let node = NodeId(n as u32);
            let pods = by_node.get(&node).map(Vec::as_slice).unwrap_or_default();
            if should_run && pods.is_empty() {
                create.push(node);
            } else if should_continue {
                let mut running = Vec::new();
                for &id in pods {
                    let p = self.cluster.pod(id);
                    if p.deleted.is_some() {
                        continue;
                    }
                    let (pod, node_name) = (p.meta.name.clone(), &self.cluster.node(node).cfg.name);
                    let ns = &p.meta.namespace;
                    match p.phase {
                        PodPhase::Failed => {
                            let msg = format!("Found failed daemon pod {ns}/{pod} on node {node_name}, will try to kill it");
                            self.ds_event(i, true, "FailedDaemonPod", msg);
                            delete.push(id);
                        }
                        PodPhase::Succeeded => {
                            let msg = format!("Found succeeded daemon pod {ns}/{pod} on node {node_name}, will try to delete it");
                            self.ds_event(i, false, "SucceededDaemonPod", msg);
                            delete.push(id);
                        }
                        _ => running.push(id),
                    }
                }
                // `podByCreationTimestampAndPhase`: scheduled pods first, then the oldest.
                running.sort_by_key(|&id| {
                    let p = self.cluster.pod(id);
                    (p.node.is_none(), p.created, p.meta.name.clone())
                });
                if !surge {
                    // More than one pod on the node: all but the oldest go.
                    delete.extend(running.iter().skip(1));
                } else if running.is_empty() {
                    if should_run {
                        create.push(node);
                    }
                } else if running.len() > 1 {
                    // Keep the oldest new pod and the oldest old one; the old one goes once
                    // it is not ready or the new one is available.
                    let (mut newest, mut oldest) = (None, None);
                    for &id in &running {
                        let is_new = self.cluster.pod(id).meta.labels.get(REVISION_LABEL)
                            == Some(&hash.to_string());
                        let slot = if is_new { &mut newest } else { &mut oldest };
                        if slot.is_none() {
                            *slot = Some(id);
                        } else {
                            delete.push(id);
                        }
                    }
                    if let (Some(new), Some(old)) = (newest, oldest) {
                        if !self.cluster.pod(old).ready || self.ds_available(new, i, now) {
                            delete.push(old);
                        }
                    }
                }
            } else {
                delete.extend(
                    pods.iter()
                        .copied()
                        .filter(|&id| self.cluster.pod(id).deleted.is_none()),
                );
            }
        }
        self.ds_sync_nodes(i, &delete, &create, hash)
    }

    /// `rollingUpdate` (`update.go`) over the nodes that have pods and those that should run
    /// one (`updatedDesiredNodeCounts`), in node order (upstream: a Go map's).
    fn ds_rolling_update(
        &mut self,
        i: u32,
        mut by_node: BTreeMap<NodeId, Vec<PodId>>,
        eligibility: &[(bool, bool)],
        hash: &str,
    ) -> bool {
        let now = self.queue.now();
        let ru = self.daemonsets[i as usize]
            .spec
            .rolling_update
            .clone()
            .expect("called for RollingUpdate");
        let mut desired = 0u32;
        for (n, &(should_run, _)) in eligibility.iter().enumerate() {
            if should_run {
                desired += 1;
                by_node.entry(NodeId(n as u32)).or_default();
            }
        }
        let mut max_unavailable = scaled(ru.max_unavailable, desired);
        let max_surge = scaled(ru.max_surge, desired);
        // "if the daemonset returned with an impossible configuration, obey the default of
        // unavailable=1".
        if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        // `findUpdatedPodsOnNode`: terminating pods are skipped; two of a kind is not ok.
        let find = |me: &Self, pods: &[PodId]| -> Option<(Option<PodId>, Option<PodId>)> {
            let (mut new, mut old) = (None, None);
            for &id in pods {
                let p = me.cluster.pod(id);
                if p.deleted.is_some() {
                    continue;
                }
                let slot = if p.meta.labels.get(REVISION_LABEL).map(String::as_str) == Some(hash) {
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
        let available = |me: &Self, id: PodId| me.ds_available(id, i, now);
        if max_surge == 0 {
            let mut unavailable = 0u32;
            let mut allowed = Vec::new();
            let mut candidates = Vec::new();
            for pods in by_node.values() {
                match find(self, pods) {
                    None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                    Some((Some(new), None)) => {
                        if !available(self, new) {
                            unavailable += 1;
                        }
                    }
                    Some((None, Some(old))) => {
                        if !available(self, old) {
                            // Counted since kubernetes/kubernetes#123233 (v1.31).
                            allowed.push(old);
                            unavailable += 1;
                        } else if unavailable < max_unavailable {
                            candidates.push(old);
                        }
                    }
                }
            }
            let room = (max_unavailable.saturating_sub(unavailable) as usize).min(candidates.len());
            allowed.extend_from_slice(&candidates[..room]);
            return self.ds_sync_nodes(i, &allowed, &[], hash);
        }
        let mut surging = 0u32;
        let mut available_nodes = 0u32;
        let mut to_delete = Vec::new();
        let mut should_not_run = Vec::new();
        let mut allowed_nodes = Vec::new();
        let mut candidate_nodes = Vec::new();
        for (&node, pods) in &by_node {
            let Some((new, old)) = find(self, pods) else {
                surging += 1;
                continue;
            };
            if let Some(p) = old.or(new) {
                if available(self, p) {
                    available_nodes += 1;
                }
            }
            let should_run = eligibility[node.index()].0;
            match (new, old) {
                (_, None) => {}
                (None, Some(old)) => {
                    if !available(self, old) {
                        if should_run {
                            allowed_nodes.push(node);
                        } else {
                            to_delete.push(old);
                        }
                    } else if !should_run {
                        should_not_run.push(old);
                    } else if surging < max_surge {
                        candidate_nodes.push(node);
                    }
                }
                (Some(new), Some(old)) => {
                    if available(self, new) {
                        to_delete.push(old);
                    } else {
                        surging += 1;
                    }
                }
            }
        }
        // "With maxSurge, the application owner expects 100% availability": a pod on a node
        // that should no longer run it goes only as pods elsewhere become available.
        let deletable = available_nodes.saturating_sub(desired) as usize;
        to_delete.extend(should_not_run.iter().take(deletable));
        let room = (max_surge.saturating_sub(surging) as usize).min(candidate_nodes.len());
        allowed_nodes.extend_from_slice(&candidate_nodes[..room]);
        self.ds_sync_nodes(i, &to_delete, &allowed_nodes, hash)
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
            node_affinity: None,
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
