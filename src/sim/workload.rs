//! Workload events of the timeline and the Deployment controller.
//!
//! - Nodes: `cordon`, `uncordon` and `drain` (`kubectl drain --ignore-daemonsets`: cordon, then
//!   an eviction per pod, which the API server turns into a graceful deletion; the ReplicaSets
//!   replace the pods at once, on other nodes since this one is cordoned).
//! - Deployments: `rolloutRestart` and `setImage` change the pod template, which gives a new
//!   `pod-template-hash` and so a new ReplicaSet; the Deployment controller then rolls over as
//!   `pkg/controller/deployment/rolling.go` does, bounded by `maxSurge` and `maxUnavailable`.
//!   `scale` sets the replicas, also in the middle of a rollout.
//! - Objects: `apply` creates an object through the simulated API server (or updates an
//!   existing Deployment); `delete` removes a Service (its ClusterIP and NodePorts are
//!   released), a Deployment or ReplicaSet (their pods are deleted gracefully) or a Pod.
//!   A request the API server refuses is a `Warning` event on the object; the run goes on, as a
//!   cluster does when `kubectl apply` fails.
//!
//! The Deployment controller runs whenever the spec of a Deployment changes and whenever one
//! of its pods turns ready or goes away ([`Simulation::pod_became_ready`],
//! [`Simulation::pod_removed`]): upstream's controller is woken by the ReplicaSet status
//! updates those cause, with no delay of its own. `strategy.type: Recreate` scales every old
//! ReplicaSet to 0 and the new one up once their pods are gone (`recreate.go`). A pod counts
//! as available once it has been ready for `minReadySeconds`; a pod turning ready schedules
//! [`Ev::Available`](super::Ev) for then, so the rollout goes on on time. Not modelled:
//! `paused`, `progressDeadlineSeconds`, `revisionHistoryLimit` (old ReplicaSets stay, at 0 replicas) and
//! upstream's proportional scaling of several ReplicaSets during a rollout (kubesim gives the
//! whole difference to the newest).

use super::Simulation;
use crate::engine::{RngStreams, SimDuration, SimRng, SimTime};
use crate::model::cluster::{Controller, DeployId, NodeId, PodId, RsId};
use crate::model::names;
use crate::model::objects::{
    ClusterIpRequest, Deployment, IntOrPercent, Object, ObjectMeta, PodTemplate, ReplicaSetObject,
    RollingUpdate, ServiceObject,
};
use crate::sim::config::{Action, SetKind};
use std::collections::BTreeSet;

/// The annotation `kubectl rollout restart` sets on the pod template
/// (`staging/src/k8s.io/kubectl/pkg/polymorphichelpers/objectrestarter.go`).
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// What the workload handlers keep between events.
pub(super) struct WorkloadState {
    /// The API server's random stream for objects applied mid-run (allocation of ClusterIPs
    /// and NodePorts); `None` only while it is lent to [`Simulation::apply`].
    rng_api: Option<SimRng>,
    /// Deployments and ReplicaSets removed by a `delete` event (their arena slots stay).
    deleted_deployments: BTreeSet<DeployId>,
    pub(super) deleted_replica_sets: BTreeSet<RsId>,
    /// The Deployment controller is running: further requests wait in `dirty`.
    syncing: bool,
    dirty: Vec<DeployId>,
}

impl WorkloadState {
    pub(super) fn new(streams: &RngStreams) -> Self {
        WorkloadState {
            rng_api: Some(streams.stream("apiserver/timeline")),
            deleted_deployments: BTreeSet::new(),
            deleted_replica_sets: BTreeSet::new(),
            syncing: false,
            dirty: Vec::new(),
        }
    }
}

/// `maxSurge` and `maxUnavailable` as counts for `replicas` (`deploymentutil.ResolveFenceposts`):
/// a percentage of surge rounds up, of unavailability down; if both come to 0, unavailability
/// is 1 (validation rejects both written as 0, but rounding can still give 0).
pub fn fenceposts(ru: &RollingUpdate, replicas: u32) -> (u32, u32) {
    let scaled = |v: IntOrPercent, round_up: bool| match v {
        IntOrPercent::Count(n) => n,
        IntOrPercent::Percent(p) => {
            let x = u64::from(p) * u64::from(replicas);
            let v = if round_up { x.div_ceil(100) } else { x / 100 };
            u32::try_from(v).unwrap_or(u32::MAX)
        }
    };
    let surge = scaled(ru.max_surge, true);
    let unavailable = scaled(ru.max_unavailable, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// `deploymentutil.MaxUnavailable`: 0 for 0 replicas, never more than the replicas.
fn max_unavailable(ru: &RollingUpdate, replicas: u32) -> u32 {
    if replicas == 0 {
        return 0;
    }
    fenceposts(ru, replicas).1.min(replicas)
}

/// `SimTime` as RFC 3339, counting from 1970-01-01T00:00:00Z at time zero (no wall clock).
fn rfc3339(t: SimTime) -> String {
    let secs = t.as_nanos() / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's `civil_from_days`.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Simulation {
    /// The timeline actions that are not about one pod's containers or a node's machine.
    pub(super) fn on_workload_action(&mut self, now: SimTime, action: Action) {
        match action {
            Action::Cordon { node } => {
                if let Some(n) = self.cluster.node_by_name(&node) {
                    self.set_unschedulable(now, n, true);
                }
            }
            Action::Uncordon { node } => {
                if let Some(n) = self.cluster.node_by_name(&node) {
                    self.set_unschedulable(now, n, false);
                }
            }
            Action::Drain { node } => {
                if let Some(n) = self.cluster.node_by_name(&node) {
                    self.drain(now, n);
                }
            }
            Action::Scale {
                deployment,
                replicas,
            } => self.scale_deployment(now, &deployment, replicas),
            Action::RolloutRestart { deployment } => {
                let Some(d) = self.deployment_named(now, "default", &deployment) else {
                    return;
                };
                let mut template = self.cluster.deployments[d.index()].spec.template.clone();
                template
                    .meta
                    .annotations
                    .insert(RESTARTED_AT.into(), rfc3339(now));
                self.roll_out(d, template);
            }
            Action::RolloutRestartSet { kind, name } => self.rollout_restart_set(now, kind, &name),
            Action::SetImage {
                deployment,
                container,
                image,
            } => {
                let Some(d) = self.deployment_named(now, "default", &deployment) else {
                    return;
                };
                let mut template = self.cluster.deployments[d.index()].spec.template.clone();
                match template
                    .spec
                    .containers
                    .iter_mut()
                    .find(|c| c.name == container)
                {
                    Some(c) => c.image = image,
                    None => {
                        // kubectl refuses before sending anything.
                        self.log.warning(
                            now,
                            format!("deployment/{deployment}"),
                            "FailedUpdate",
                            format!("error: unable to find container named {container:?}"),
                        );
                        return;
                    }
                }
                self.roll_out(d, template);
            }
            Action::Apply(obj) => self.apply_object(now, *obj),
            Action::Delete {
                kind,
                namespace,
                name,
            } => self.delete_object(now, &kind, &namespace, &name),
            // Pod and machine events are handled in `lifecycle` and `kubelet`.
            Action::DeletePod(_)
            | Action::KillContainer { .. }
            | Action::FailProbe { .. }
            | Action::NodeDown { .. }
            | Action::NodeUp { .. } => {}
        }
    }

    // ---- nodes ----

    /// `kubectl cordon` / `uncordon`: `spec.unschedulable`. The kubelet reports the change
    /// with an event (`pkg/kubelet/kubelet_node_status.go`, `recordNodeSchedulableEvent`).
    fn set_unschedulable(&mut self, now: SimTime, node: NodeId, on: bool) {
        if self.cluster.node(node).unschedulable == on {
            return; // "node/x already cordoned": nothing changes.
        }
        self.cluster.nodes[node.index()].unschedulable = on;
        let name = self.cluster.node(node).cfg.name.clone();
        let reason = if on {
            "NodeNotSchedulable"
        } else {
            "NodeSchedulable"
        };
        self.log.normal(
            now,
            format!("node/{name}"),
            reason,
            format!("Node {name} status is now: {reason}"),
        );
        if !on {
            self.retry_pending();
        }
    }

    /// `kubectl drain --ignore-daemonsets`: cordon, then evict every pod of the node through
    /// the Eviction API (no PodDisruptionBudgets are modelled, so each eviction is granted and
    /// becomes a graceful deletion; the API server records no event for it, the kubelet's
    /// `Killing` follows). As kubectl without `--force`, a pod that no controller owns stops
    /// the drain before any eviction (the node stays cordoned).
    fn drain(&mut self, now: SimTime, node: NodeId) {
        self.set_unschedulable(now, node, true);
        let pods: Vec<PodId> = self
            .cluster
            .live_pods()
            .filter(|(_, p)| p.node == Some(node) && p.deleted.is_none())
            // `--ignore-daemonsets`: the DaemonSet would put them back at once.
            .filter(|(_, p)| !matches!(p.controller, Some(Controller::DaemonSet(_))))
            .map(|(i, _)| i)
            .collect();
        let bare: Vec<String> = pods
            .iter()
            .map(|id| self.cluster.pod(*id))
            .filter(|p| p.owner.is_none() && p.controller.is_none())
            .map(|p| format!("{}/{}", p.meta.namespace, p.meta.name))
            .collect();
        if !bare.is_empty() {
            let name = self.cluster.node(node).cfg.name.clone();
            self.log.warning(
                now,
                format!("node/{name}"),
                "FailedDrain",
                format!(
                    "error: unable to drain node {name:?} due to error: cannot delete Pods that declare no controller (use --force to override): {}",
                    bare.join(", ")
                ),
            );
            return;
        }
        for id in pods {
            self.delete_pod(id);
        }
    }

    // ---- the Deployment controller ----

    /// A pod turned ready: its Deployment's rollout may go on.
    pub(super) fn pod_became_ready(&mut self, id: PodId) {
        self.controller_pod_changed(id);
        if let Some(d) = self.deployment_of(id) {
            // Upstream's ReplicaSet controller looks again `minReadySeconds` later
            // (`AddAfter` in `pkg/controller/replicaset/replica_set.go`), and the status it
            // writes then wakes the Deployment controller.
            let min_ready = self.cluster.deployments[d.index()].spec.min_ready;
            if !min_ready.is_zero() {
                let at = self.queue.now() + min_ready;
                self.queue.schedule(at, super::Ev::Available(id));
            }
            self.reconcile_deployment(d);
        }
    }

    /// `minReadySeconds` after a pod turned ready: its rollout may go on if it still is.
    pub(super) fn pod_may_be_available(&mut self, id: PodId) {
        match self.cluster.pod(id).controller {
            Some(Controller::StatefulSet(i)) => return self.sync_stateful_set(i),
            Some(Controller::DaemonSet(i)) => return self.sync_daemon_set(i),
            None => {}
        }
        if let Some(d) = self.deployment_of(id) {
            self.reconcile_deployment(d);
        }
    }

    /// A pod went away (its object left the API server): its Deployment's rollout may go on.
    pub(super) fn pod_removed(&mut self, id: PodId) {
        self.controller_pod_changed(id);
        if let Some(d) = self.deployment_of(id) {
            self.reconcile_deployment(d);
        }
    }

    /// The StatefulSet or DaemonSet controller of the pod, if one owns it, runs.
    pub(super) fn controller_pod_changed(&mut self, id: PodId) {
        match self.cluster.pod(id).controller {
            Some(Controller::StatefulSet(_)) => self.stateful_pod_changed(id),
            Some(Controller::DaemonSet(_)) => self.daemon_pod_changed(id),
            None => {}
        }
    }

    /// The name of a pod's StatefulSet or DaemonSet, as the report's owner column shows it.
    pub(super) fn controller_name(&self, c: Option<Controller>) -> Option<String> {
        match c? {
            Controller::StatefulSet(i) => {
                Some(self.statefulsets[i as usize].spec.meta.name.clone())
            }
            Controller::DaemonSet(i) => Some(self.daemonsets[i as usize].spec.meta.name.clone()),
        }
    }

    fn deployment_of(&self, id: PodId) -> Option<DeployId> {
        let rs = self.cluster.pod(id).owner?;
        self.cluster.replica_sets[rs.index()].owner
    }

    /// Runs the Deployment controller for `d`. Re-entrant calls (a scale-down whose victim
    /// leaves at once) are queued and run when the current pass ends.
    pub(super) fn reconcile_deployment(&mut self, d: DeployId) {
        if !self.workload.dirty.contains(&d) {
            self.workload.dirty.push(d);
        }
        if self.workload.syncing {
            return;
        }
        self.workload.syncing = true;
        while !self.workload.dirty.is_empty() {
            let next = self.workload.dirty.remove(0);
            self.sync_deployment(next);
        }
        self.workload.syncing = false;
    }

    /// The live Deployment `namespace/name`; a `Warning` event when there is none (the
    /// scenario loader checks names, but an earlier `delete` may have removed it).
    /// `kubectl rollout restart statefulset/NAME` (or `daemonset/NAME`) in namespace
    /// `default`: the `restartedAt` annotation on the set's template, applied as an update, so
    /// its controller replaces the pods as its update strategy says.
    fn rollout_restart_set(&mut self, now: SimTime, kind: SetKind, name: &str) {
        let stamp = |template: &mut crate::model::objects::PodTemplate| {
            template
                .meta
                .annotations
                .insert(RESTARTED_AT.into(), rfc3339(now));
        };
        match kind {
            SetKind::StatefulSet => {
                if let Some(i) = self.find_stateful_set("default", name) {
                    let mut new = self.statefulsets[i as usize].spec.clone();
                    stamp(&mut new.template);
                    self.update_stateful_set(now, i, new);
                    return;
                }
            }
            SetKind::DaemonSet => {
                if let Some(i) = self.find_daemon_set("default", name) {
                    let mut new = self.daemonsets[i as usize].spec.clone();
                    stamp(&mut new.template);
                    self.update_daemon_set(now, i, new);
                    return;
                }
            }
        }
        self.log.warning(
            now,
            format!("{}/{name}", kind.resource()),
            "FailedUpdate",
            format!(
                "Error from server (NotFound): {}s.apps {name:?} not found",
                kind.resource()
            ),
        );
    }

    fn deployment_named(&mut self, now: SimTime, namespace: &str, name: &str) -> Option<DeployId> {
        let found = self.find_deployment(namespace, name);
        if found.is_none() {
            self.log.warning(
                now,
                format!("deployment/{name}"),
                "FailedUpdate",
                format!("Error from server (NotFound): deployments.apps {name:?} not found"),
            );
        }
        found
    }

    pub(super) fn find_deployment(&self, namespace: &str, name: &str) -> Option<DeployId> {
        self.cluster
            .deployments
            .iter()
            .enumerate()
            .rev()
            .map(|(i, d)| (DeployId(i as u32), d))
            .find(|(i, d)| {
                d.spec.meta.namespace == namespace
                    && d.spec.meta.name == name
                    && !self.workload.deleted_deployments.contains(i)
            })
            .map(|(i, _)| i)
    }

    /// The Deployment's ReplicaSets, oldest first (`controller.ReplicaSetsByCreationTimestamp`).
    fn replica_sets_of(&self, d: DeployId) -> Vec<RsId> {
        self.cluster.replica_sets_of(d).to_vec()
    }

    fn rs_replicas(&self, rs: RsId) -> u32 {
        self.cluster.replica_sets[rs.index()].replicas
    }

    /// `status.availableReplicas`: active (not terminating) pods that have been ready for the
    /// Deployment's `minReadySeconds` (`podutil.IsPodAvailable`, `pkg/api/v1/pod/util.go`:
    /// ready since `LastTransitionTime`, available once that plus `minReadySeconds` is not
    /// after now).
    fn rs_available(&self, rs: RsId) -> u32 {
        let min_ready = self.cluster.replica_sets[rs.index()]
            .owner
            .map_or(SimDuration::ZERO, |d| {
                self.cluster.deployments[d.index()].spec.min_ready
            });
        let now = self.queue.now();
        self.cluster
            .pods_of(rs)
            .filter(|(_, p)| {
                p.deleted.is_none()
                    && p.ready
                    && p.ready_since.is_some_and(|t| t + min_ready <= now)
            })
            .count() as u32
    }

    /// Sets a ReplicaSet's replicas with upstream's event (`scaleReplicaSetAndRecordEvent`).
    fn scale_rs(&mut self, d: DeployId, rs: RsId, to: u32) {
        let from = self.rs_replicas(rs);
        if from == to {
            return;
        }
        let now = self.queue.now();
        self.cluster.replica_sets[rs.index()].replicas = to;
        let dir = if to > from { "up" } else { "down" };
        let rs_name = self.cluster.replica_sets[rs.index()].meta.name.clone();
        let d_name = self.cluster.deployments[d.index()].spec.meta.name.clone();
        self.log.normal(
            now,
            format!("deployment/{d_name}"),
            "ScalingReplicaSet",
            format!("Scaled {dir} replica set {rs_name} from {from} to {to}"),
        );
        self.reconcile_replica_set(rs);
        // The ReplicaSet's update wakes the Deployment controller again (its informer's
        // update handler enqueues the owner), so a rollout goes on at once, not only when a
        // victim has left: a terminating pod no longer counts.
        self.reconcile_deployment(d);
    }

    /// One pass of `rolloutRolling`: scale the new ReplicaSet up within `maxSurge`, then the
    /// old ones down while at least `replicas - maxUnavailable` pods stay available.
    fn sync_deployment(&mut self, d: DeployId) {
        if self.workload.deleted_deployments.contains(&d) {
            return;
        }
        let Some(new_rs) = self.cluster.deployments[d.index()].current else {
            return;
        };
        if self.cluster.deployments[d.index()].spec.recreate {
            self.sync_recreate(d, new_rs);
            return;
        }
        let spec = &self.cluster.deployments[d.index()].spec;
        let replicas = spec.replicas;
        let (surge, _) = fenceposts(&spec.rolling_update, replicas);
        let max_unavailable = max_unavailable(&spec.rolling_update, replicas);
        let all = self.replica_sets_of(d);
        let old: Vec<RsId> = all.iter().copied().filter(|r| *r != new_rs).collect();
        let total = |me: &Self| {
            all.iter()
                .map(|r| i64::from(me.rs_replicas(*r)))
                .sum::<i64>()
        };

        // reconcileNewReplicaSet (`NewRSNewReplicas`).
        let new_count = self.rs_replicas(new_rs);
        if new_count > replicas {
            self.scale_rs(d, new_rs, replicas);
        } else if new_count < replicas {
            let max_total = i64::from(replicas) + i64::from(surge);
            let current = total(self);
            if current < max_total {
                let up = (max_total - current).min(i64::from(replicas - new_count)) as u32;
                self.scale_rs(d, new_rs, new_count + up);
            }
        }

        // reconcileOldReplicaSets.
        if old.iter().all(|r| self.rs_replicas(*r) == 0) {
            return;
        }
        let min_available = i64::from(replicas) - i64::from(max_unavailable);
        let new_unavailable = i64::from(self.rs_replicas(new_rs))
            - i64::from(self.rs_available(new_rs).min(self.rs_replicas(new_rs)));
        let max_scaled_down = total(self) - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return;
        }
        // cleanupUnhealthyReplicas: old pods that are not available go first.
        let mut cleaned = 0i64;
        for &rs in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let (r, avail) = (self.rs_replicas(rs), self.rs_available(rs));
            if r == 0 || avail >= r {
                continue;
            }
            let count = i64::from(r - avail).min(max_scaled_down - cleaned);
            self.scale_rs(d, rs, r - count as u32);
            cleaned += count;
        }
        // scaleDownOldReplicaSetsForRollingUpdate, oldest first.
        let available: i64 = all.iter().map(|r| i64::from(self.rs_available(*r))).sum();
        let total_down = available - min_available;
        let mut scaled = 0i64;
        for &rs in &old {
            if scaled >= total_down {
                break;
            }
            let r = self.rs_replicas(rs);
            if r == 0 {
                continue;
            }
            let count = i64::from(r).min(total_down - scaled);
            self.scale_rs(d, rs, r - count as u32);
            scaled += count;
        }
    }

    /// One pass of `rolloutRecreate` (`pkg/controller/deployment/recreate.go`): every old
    /// ReplicaSet is scaled to 0 at once, and the new one is scaled to `replicas` only when no
    /// pod of an old one is left. Terminating pods count until they are gone (upstream's
    /// `oldPodsRunning`; the Deployment docs: "Successful removal is awaited before any Pod of
    /// the new revision is created", kubernetes/website
    /// `content/en/docs/concepts/workloads/controllers/deployment.md`), so nothing serves in
    /// between. Upstream creates the new ReplicaSet only then; kubesim has it from the start,
    /// at 0 replicas.
    fn sync_recreate(&mut self, d: DeployId, new_rs: RsId) {
        let old: Vec<RsId> = self
            .replica_sets_of(d)
            .into_iter()
            .filter(|r| *r != new_rs)
            .collect();
        for &rs in &old {
            self.scale_rs(d, rs, 0);
        }
        if old
            .iter()
            .any(|&rs| self.cluster.pods_of(rs).next().is_some())
        {
            return; // Old pods still there: their removal runs this again.
        }
        let replicas = self.cluster.deployments[d.index()].spec.replicas;
        self.scale_rs(d, new_rs, replicas);
    }

    /// A new pod template: find or create its ReplicaSet (`<deployment>-<pod-template-hash>`;
    /// an old ReplicaSet with the same template comes back, as on a rollback) and roll.
    fn roll_out(&mut self, d: DeployId, template: PodTemplate) {
        if self.cluster.deployments[d.index()].spec.template == template {
            return; // Nothing changed: no new ReplicaSet, no rollout.
        }
        self.cluster.deployments[d.index()].spec.template = template;
        let spec = self.cluster.deployments[d.index()].spec.clone();
        let hash = names::pod_template_hash(&spec.template);
        let existing = self
            .replica_sets_of(d)
            .into_iter()
            .find(|r| self.cluster.replica_sets[r.index()].template_hash == hash);
        let rs = match existing {
            Some(rs) => rs,
            None => {
                let mut template = spec.template.clone();
                template
                    .meta
                    .labels
                    .insert("pod-template-hash".into(), hash.clone());
                let mut selector = spec.selector.clone();
                selector
                    .match_labels
                    .insert("pod-template-hash".into(), hash.clone());
                let obj = ReplicaSetObject {
                    meta: ObjectMeta {
                        name: format!("{}-{hash}", spec.meta.name),
                        namespace: spec.meta.namespace.clone(),
                        labels: template.meta.labels.clone(),
                        annotations: Default::default(),
                    },
                    replicas: 0,
                    selector,
                    template,
                };
                self.create_replica_set(obj, Some(d))
            }
        };
        self.cluster.deployments[d.index()].current = Some(rs);
        self.reconcile_deployment(d);
    }

    /// `kubectl scale deployment/<name> --replicas=N`. With one active ReplicaSet it is scaled
    /// (`dc.scale`); during a rollout the newest takes the difference (upstream spreads it
    /// over the ReplicaSets in proportion), then the rollout goes on.
    fn scale_deployment(&mut self, now: SimTime, name: &str, replicas: u32) {
        let Some(d) = self.deployment_named(now, "default", name) else {
            return;
        };
        self.scale_deployment_to(d, replicas);
    }

    /// Sets a Deployment's replicas through its `scale` subresource (also the HPA's way in,
    /// `sim::hpa`).
    pub(super) fn scale_deployment_to(&mut self, d: DeployId, replicas: u32) {
        let before = self.cluster.deployments[d.index()].spec.replicas;
        self.cluster.deployments[d.index()].spec.replicas = replicas;
        if self.cluster.deployments[d.index()].spec.recreate {
            // Only the new ReplicaSet ever runs pods: the controller sizes it.
            self.reconcile_deployment(d);
            return;
        }
        let Some(newest) = self.cluster.deployments[d.index()].current else {
            return;
        };
        let active: Vec<RsId> = self
            .replica_sets_of(d)
            .into_iter()
            .filter(|r| self.rs_replicas(*r) > 0)
            .collect();
        if active.len() <= 1 {
            let target = active.first().copied().unwrap_or(newest);
            self.scale_rs(d, target, replicas);
        } else if replicas > before {
            let r = self.rs_replicas(newest);
            self.scale_rs(d, newest, r + (replicas - before));
        } else {
            let mut left = before - replicas;
            let mut order = active;
            order.sort_by_key(|r| std::cmp::Reverse(*r == newest));
            order[1..].reverse(); // newest first, then the old ones, newest first
            for rs in order {
                if left == 0 {
                    break;
                }
                let r = self.rs_replicas(rs);
                let take = left.min(r);
                self.scale_rs(d, rs, r - take);
                left -= take;
            }
        }
        self.reconcile_deployment(d);
    }

    // ---- apply and delete ----

    /// `kubectl apply -f` of one object mid-run.
    fn apply_object(&mut self, now: SimTime, obj: Object) {
        let (ns, name) = (obj.meta().namespace.clone(), obj.meta().name.clone());
        match obj {
            Object::Deployment(new) => match self.find_deployment(&ns, &name) {
                Some(d) => self.update_deployment(now, d, new),
                None => self.create_object(now, Object::Deployment(new)),
            },
            Object::Service(svc) => {
                let existing = self
                    .api
                    .services
                    .iter()
                    .position(|s| s.obj.meta.namespace == ns && s.obj.meta.name == name);
                match existing {
                    Some(i) => self.update_service(now, i, svc),
                    None => self.create_object(now, Object::Service(svc)),
                }
            }
            Object::Pod(p) => {
                let existing = self
                    .cluster
                    .live_pods()
                    .find(|(_, q)| q.meta.namespace == ns && q.meta.name == name)
                    .map(|(_, q)| *q.spec == p.spec);
                match existing {
                    None => self.create_object(now, Object::Pod(p)),
                    Some(true) => {} // "pod/x unchanged"
                    Some(false) => self.log.warning(
                        now,
                        format!("pod/{name}"),
                        "FailedApply",
                        format!("The Pod {name:?} is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
                    ),
                }
            }
            Object::ReplicaSet(new) => {
                let existing = self.cluster.replica_sets.iter().position(|r| {
                    r.meta.namespace == ns && r.meta.name == name && r.owner.is_none()
                });
                match existing {
                    // A ReplicaSet does not roll its pods: a new template applies to new pods.
                    Some(i) => {
                        let rs = &mut self.cluster.replica_sets[i];
                        rs.replicas = new.replicas;
                        rs.template = new.template;
                        self.reconcile_replica_set(RsId(i as u32));
                    }
                    None => self.create_object(now, Object::ReplicaSet(new)),
                }
            }
            Object::Namespace(meta) => self.create_object(now, Object::Namespace(meta)),
            Object::StatefulSet(new) => match self.find_stateful_set(&ns, &name) {
                Some(i) => self.update_stateful_set(now, i, new),
                None => self.create_object(now, Object::StatefulSet(new)),
            },
            Object::DaemonSet(new) => match self.find_daemon_set(&ns, &name) {
                Some(i) => self.update_daemon_set(now, i, new),
                None => self.create_object(now, Object::DaemonSet(new)),
            },
            Object::HorizontalPodAutoscaler(h) => self.apply_hpa(*h),
            Object::NetworkPolicy(p) => self.create_object(now, Object::NetworkPolicy(p)),
        }
        self.endpoints_changed();
    }

    /// Creates an object through the API server; a refusal is a `Warning` event.
    fn create_object(&mut self, now: SimTime, obj: Object) {
        let object = format!("{}/{}", obj.kind().to_lowercase(), obj.meta().name);
        let mut rng = self.workload.rng_api.take().expect("not lent twice");
        let result = self.apply(obj, None, &mut rng);
        self.workload.rng_api = Some(rng);
        if let Err(e) = result {
            self.log.warning(now, object, "FailedApply", e.to_string());
        }
    }

    /// `kubectl apply` of a Deployment that exists: the selector is immutable; a new
    /// template rolls out; new replicas or strategy take effect at once.
    fn update_deployment(&mut self, now: SimTime, d: DeployId, new: Deployment) {
        let old = self.cluster.deployments[d.index()].spec.clone();
        if new.selector != old.selector {
            self.log.warning(
                now,
                format!("deployment/{}", old.meta.name),
                "FailedApply",
                format!(
                    "The Deployment {:?} is invalid: spec.selector: Invalid value: {}: field is immutable",
                    old.meta.name,
                    selector_json(&new.selector.match_labels)
                ),
            );
            return;
        }
        let spec = &mut self.cluster.deployments[d.index()].spec;
        spec.rolling_update = new.rolling_update;
        spec.meta.labels = new.meta.labels;
        spec.meta.annotations = new.meta.annotations;
        if new.replicas != old.replicas {
            self.scale_deployment(now, &old.meta.name, new.replicas);
        }
        if new.template != old.template {
            self.roll_out(d, new.template);
        }
        self.reconcile_deployment(d);
    }

    /// `kubectl apply` of a Service that exists: its ClusterIP is kept (immutable), and so is
    /// each NodePort whose port (number and protocol) is still there and asks for none. It is
    /// done as a release and a new allocation that put everything back if refused.
    fn update_service(&mut self, now: SimTime, i: usize, mut new: ServiceObject) {
        let old = self.api.services[i].clone();
        if let (Some(ip), ClusterIpRequest::Auto) = (old.cluster_ip, new.spec.cluster_ip) {
            new.spec.cluster_ip = ClusterIpRequest::Static(ip);
        }
        for p in &mut new.spec.ports {
            if p.node_port.is_none() {
                p.node_port = old
                    .obj
                    .spec
                    .ports
                    .iter()
                    .zip(&old.node_ports)
                    .find(|(q, _)| q.port == p.port && q.protocol == p.protocol)
                    .and_then(|(_, np)| *np);
            }
        }
        // An update keeps the health check port while the Service still needs one.
        if new.spec.health_check_node_port.is_none()
            && new.spec.type_ == crate::model::objects::ServiceType::LoadBalancer
            && new.spec.external_traffic_policy == crate::model::objects::TrafficPolicy::Local
        {
            new.spec.health_check_node_port = old.health_check_node_port;
        }
        let name = old.obj.meta.name.clone();
        let ns = old.obj.meta.namespace.clone();
        self.api.delete_service(&ns, &name);
        let mut rng = self.workload.rng_api.take().expect("not lent twice");
        let result = self.api.create_service(new, None, &mut rng);
        let result = match result {
            Ok(j) => Ok(j),
            Err(e) => {
                // Put the old Service back, with what it had.
                let mut back = old.obj.clone();
                if let Some(ip) = old.cluster_ip {
                    back.spec.cluster_ip = ClusterIpRequest::Static(ip);
                }
                for (p, np) in back.spec.ports.iter_mut().zip(&old.node_ports) {
                    p.node_port = *np;
                }
                back.spec.health_check_node_port = old.health_check_node_port;
                let j = self
                    .api
                    .create_service(back, None, &mut rng)
                    .expect("what was released can be taken again");
                self.api.set_load_balancer_ip(j, old.load_balancer_ip);
                Err((j, e))
            }
        };
        self.workload.rng_api = Some(rng);
        // Keep the Service's place in the list (the order of `kubectl get svc` and the rules).
        let j = match &result {
            Ok(j) | Err((j, _)) => *j,
        };
        let s = self.api.services.remove(j);
        self.api.services.insert(i, s);
        self.api.version += 1;
        if let Err((_, e)) = result {
            self.log
                .warning(now, format!("service/{name}"), "FailedApply", e.to_string());
        }
    }

    /// `kubectl delete <kind> <name> -n <namespace>`; not found is a `Warning` event.
    fn delete_object(&mut self, now: SimTime, kind: &str, namespace: &str, name: &str) {
        let found = match kind {
            "Service" => self.api.delete_service(namespace, name).is_some(),
            "NetworkPolicy" => {
                self.netpol
                    .delete(now + super::netpol::PROPAGATION, namespace, name)
            }
            "Deployment" => match self.find_deployment(namespace, name) {
                Some(d) => {
                    // The garbage collector deletes its ReplicaSets, which delete their pods.
                    self.workload.deleted_deployments.insert(d);
                    for rs in self.replica_sets_of(d) {
                        self.delete_replica_set(rs);
                    }
                    true
                }
                None => false,
            },
            "ReplicaSet" => {
                let rs = self
                    .cluster
                    .replica_sets
                    .iter()
                    .enumerate()
                    .position(|(i, r)| {
                        r.meta.namespace == namespace
                            && r.meta.name == name
                            && !self.workload.deleted_replica_sets.contains(&RsId(i as u32))
                    });
                match rs {
                    Some(i) => {
                        self.delete_replica_set(RsId(i as u32));
                        true
                    }
                    None => false,
                }
            }
            "StatefulSet" => match self.find_stateful_set(namespace, name) {
                Some(i) => {
                    self.delete_stateful_set(i);
                    true
                }
                None => false,
            },
            "DaemonSet" => match self.find_daemon_set(namespace, name) {
                Some(i) => {
                    self.delete_daemon_set(i);
                    true
                }
                None => false,
            },
            "HorizontalPodAutoscaler" => self.delete_hpa(namespace, name),
            _ => {
                let pod = self
                    .cluster
                    .live_pods()
                    .find(|(_, p)| {
                        p.meta.namespace == namespace && p.meta.name == name && p.deleted.is_none()
                    })
                    .map(|(i, _)| i);
                match pod {
                    Some(id) => {
                        self.delete_pod(id);
                        true
                    }
                    None => false,
                }
            }
        };
        if !found {
            let resource = match kind {
                "Service" => "services".to_string(),
                "Deployment" => "deployments.apps".to_string(),
                "ReplicaSet" => "replicasets.apps".to_string(),
                "StatefulSet" => "statefulsets.apps".to_string(),
                "DaemonSet" => "daemonsets.apps".to_string(),
                "HorizontalPodAutoscaler" => "horizontalpodautoscalers.autoscaling".to_string(),
                _ => "pods".to_string(),
            };
            self.log.warning(
                now,
                format!("{}/{name}", kind.to_lowercase()),
                "FailedDelete",
                format!("Error from server (NotFound): {resource} {name:?} not found"),
            );
        }
        self.endpoints_changed();
    }

    /// A ReplicaSet deleted with background propagation: its pods are deleted gracefully and
    /// nothing replaces them (its replicas drop to 0 so the controller leaves it be).
    fn delete_replica_set(&mut self, rs: RsId) {
        self.workload.deleted_replica_sets.insert(rs);
        self.cluster.replica_sets[rs.index()].replicas = 0;
        let pods: Vec<PodId> = self.cluster.pods_of(rs).map(|(i, _)| i).collect();
        for id in pods {
            self.delete_pod(id);
        }
    }
}

/// `{"matchLabels":{"app":"x"}}`, as upstream renders a selector in an error.
fn selector_json(labels: &crate::model::objects::Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("{{\"matchLabels\":{{{}}}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Outcome;
    use crate::traffic::request::FailReason;
    use std::path::Path;

    const APP: &str = r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1
          ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-svc}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80, nodePort: 30001}]
"#;

    /// [`APP`] with 3 replicas and `spec` (YAML lines) added to the Deployment's spec.
    fn app_of_3(spec: &str) -> String {
        APP.replace("replicas: REPLICAS", &format!("replicas: 3\n  {spec}"))
    }

    /// A scenario on `nodes` nodes (`n0` at 10.0.0.10, `n1`, ...) with the `web` Deployment
    /// and its NodePort Service, plus `extra` under `spec:` (events, traffic).
    fn scenario(nodes: usize, replicas: u32, extra: &str) -> crate::sim::Scenario {
        scenario_with(
            nodes,
            &APP.replace("REPLICAS", &replicas.to_string()),
            extra,
        )
    }

    /// [`scenario`] with the objects' YAML given (`APP` edited).
    fn scenario_with(nodes: usize, app: &str, extra: &str) -> crate::sim::Scenario {
        let nodes: String = (0..nodes)
            .map(|i| {
                format!(
                    "      - {{name: n{i}, ip: 10.0.0.{}, images: [web:1, web:2]}}\n",
                    10 + i
                )
            })
            .collect();
        let text = format!(
            "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 60s\n  cluster:\n    nodes:\n{nodes}{extra}{app}"
        );
        crate::scenario::load_str(&text, "t.yaml", Path::new("."))
            .unwrap_or_else(|d| panic!("{d}"))
            .scenario
    }

    fn run(s: crate::sim::Scenario) -> Outcome {
        Simulation::new(s).unwrap().run()
    }

    /// The messages of the events of `reason` about the scenario's objects (the CoreDNS
    /// add-on's Deployment, ReplicaSet and pods, `sim::addons`, left out).
    fn messages<'a>(o: &'a Outcome, reason: &str) -> Vec<&'a str> {
        o.events
            .iter()
            .filter(|e| e.reason == reason && !is_coredns(&e.object))
            .map(|e| e.message.as_str())
            .collect()
    }

    /// Whether an event's `object` (`pod/coredns-...`) is one of the CoreDNS add-on's.
    fn is_coredns(object: &str) -> bool {
        object
            .split_once('/')
            .is_some_and(|(_, name)| name == "coredns" || name.starts_with("coredns-"))
    }

    /// The scenario's own pods: the CoreDNS add-on's two (in `kube-system`) left out.
    fn scenario_pods(o: &Outcome) -> impl Iterator<Item = &crate::sim::outcome::PodOutcome> {
        o.pods.iter().filter(|p| p.namespace != "kube-system")
    }

    /// The CoreDNS add-on's pods that are running at the end.
    fn running_coredns(o: &Outcome) -> Vec<&crate::sim::outcome::PodOutcome> {
        o.pods
            .iter()
            .filter(|p| p.namespace == "kube-system" && p.status == "Running")
            .collect()
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let ru = |s, u| RollingUpdate {
            max_surge: s,
            max_unavailable: u,
        };
        let pct = IntOrPercent::Percent(25);
        assert_eq!(fenceposts(&ru(pct, pct), 4), (1, 1));
        assert_eq!(fenceposts(&ru(pct, pct), 3), (1, 0));
        assert_eq!(fenceposts(&ru(pct, pct), 10), (3, 2));
        let zero = IntOrPercent::Count(0);
        // Both resolving to 0 gives one unavailable (`ResolveFenceposts`).
        assert_eq!(fenceposts(&ru(zero, IntOrPercent::Percent(10)), 3), (0, 1));
        assert_eq!(max_unavailable(&ru(pct, IntOrPercent::Count(9)), 4), 4);
        assert_eq!(max_unavailable(&ru(pct, pct), 0), 0);
    }

    #[test]
    fn restarted_at_is_rfc3339_from_time_zero() {
        assert_eq!(rfc3339(SimTime::ZERO), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(SimTime::from_nanos(90_061 * 1_000_000_000)),
            "1970-01-02T01:01:01Z"
        );
    }

    /// 4 replicas at the default 25 %/25 %: never fewer than 3 available pods nor more than
    /// 5 pods counted by the controller, checked after every event of the run.
    #[test]
    fn rollout_restart_stays_within_max_surge_and_max_unavailable() {
        let s = scenario(
            2,
            4,
            "  events:\n    - at: 10s\n      rolloutRestart: {deployment: web}\n",
        );
        let mut sim = Simulation::new(s).unwrap();
        let mut max_active = 0;
        let mut min_ready_after_start = usize::MAX;
        while let Some((now, ev)) = sim.queue.pop_until(sim.end) {
            sim.handle(now, ev);
            let web = |p: &crate::model::cluster::Pod| {
                p.meta.labels.get("app").map(String::as_str) == Some("web")
            };
            let active = sim
                .cluster
                .live_pods()
                .filter(|(_, p)| web(p) && p.deleted.is_none())
                .count();
            let ready = sim
                .cluster
                .live_pods()
                .filter(|(_, p)| web(p) && p.deleted.is_none() && p.ready)
                .count();
            max_active = max_active.max(active);
            if now >= SimTime::from_nanos(5_000_000_000) {
                min_ready_after_start = min_ready_after_start.min(ready);
            }
        }
        assert!(max_active <= 5, "{max_active} pods at once");
        assert_eq!(
            min_ready_after_start, 3,
            "availability fell below replicas - maxUnavailable"
        );
        let o = sim.finish();
        let scaling = messages(&o, "ScalingReplicaSet");
        let old_rs = scaling[0]
            .rsplit_once(' ')
            .map(|_| ())
            .and(scaling[0].split(' ').nth(4))
            .unwrap();
        assert_eq!(
            scaling[0],
            format!("Scaled up replica set {old_rs} from 0 to 4")
        );
        let new_rs = scaling[1].split(' ').nth(4).unwrap();
        assert_ne!(new_rs, old_rs);
        assert_eq!(
            scaling[1],
            format!("Scaled up replica set {new_rs} from 0 to 1")
        );
        assert_eq!(
            scaling[2],
            format!("Scaled down replica set {old_rs} from 4 to 3")
        );
        assert_eq!(
            scaling.last().copied(),
            Some(format!("Scaled down replica set {old_rs} from 1 to 0").as_str())
        );
        let (old, new): (Vec<_>, Vec<_>) = o
            .pods
            .iter()
            .filter(|p| p.labels.get("app").map(String::as_str) == Some("web"))
            .partition(|p| p.name.starts_with(&format!("{old_rs}-")));
        assert_eq!(old.len(), 4);
        assert!(
            old.iter()
                .all(|p| p.deleted.is_some() && p.status == "Deleted"),
            "{old:?}"
        );
        assert_eq!(new.len(), 4, "{new:?}");
        assert!(new
            .iter()
            .all(|p| p.status == "Running" && p.name.starts_with(&format!("{new_rs}-"))));
    }

    #[test]
    fn set_image_rolls_to_a_new_replica_set_and_back_reuses_the_old_one() {
        let s = scenario(
            1,
            2,
            "  events:\n    - at: 10s\n      setImage: {deployment: web, container: web, image: web:2}\n    - at: 30s\n      setImage: {deployment: web, container: web, image: web:1}\n",
        );
        let o = run(s);
        let scaling = messages(&o, "ScalingReplicaSet");
        let first = scaling[0].split(' ').nth(4).unwrap();
        // The rollback scales the first ReplicaSet up again, from 0.
        assert!(
            scaling.contains(&format!("Scaled up replica set {first} from 0 to 1").as_str()),
            "{scaling:?}"
        );
        let running: Vec<_> = scenario_pods(&o)
            .filter(|p| p.status == "Running")
            .collect();
        assert_eq!(running.len(), 2);
        assert!(running
            .iter()
            .all(|p| p.name.starts_with(&format!("{first}-"))));
    }

    /// `strategy.type: Recreate`: the old ReplicaSet goes to 0 at once and the new one comes
    /// up only once the old pods are gone (they first finish what they hold), so until the new
    /// pods are up requests are refused. The same rollout with the default RollingUpdate
    /// surges at once and refuses nothing.
    #[test]
    fn recreate_removes_every_old_pod_before_any_new_one_starts() {
        // The strategy as written in the Deployment (`spec.strategy.type`).
        let rollout = |strategy: &str| {
            let app = app_of_3(&format!("strategy: {{type: {strategy}}}"));
            let s = scenario_with(
                1,
                &app,
                "  behaviors:\n    - {image: \"web:1\", serviceTime: {distribution: constant, value: 1500ms}, concurrency: 64}\n  events:\n    - at: 10s\n      setImage: {deployment: web, container: web, image: web:2}\n    - at: 30s\n      scale: {deployment: web, replicas: 2}\n  traffic:\n    - {name: b, from: external, clients: 4, to: 10.0.0.10:30001, rate: 50/s, start: 2s}\n",
            );
            run(s)
        };
        // (time, message) of each ScalingReplicaSet event.
        let scaling = |o: &Outcome| -> Vec<(f64, String)> {
            o.events
                .iter()
                .filter(|e| e.reason == "ScalingReplicaSet" && !is_coredns(&e.object))
                .map(|e| (e.at.as_secs_f64(), e.message.clone()))
                .collect()
        };
        let refused = |o: &Outcome| o.requests.failed_with(FailReason::ConnectionRefused);

        let o = rollout("Recreate");
        let ev = scaling(&o);
        // Created at 0 s; at 10 s the old ReplicaSet goes to 0 and nothing else happens.
        assert!(
            ev[0].1.ends_with("from 0 to 3") && ev[1].1.ends_with("from 3 to 0"),
            "{ev:?}"
        );
        assert_eq!(ev[1].0, 10.0, "{ev:?}");
        let old = ev[1].1.split(' ').nth(4).unwrap().to_string();
        // The new one comes up in one step once the old pods are gone: they finish the
        // requests they hold (1.5 s each) after SIGTERM.
        let (t_up, up) = &ev[2];
        assert!(!up.contains(&old) && up.ends_with("from 0 to 3"), "{ev:?}");
        assert!(*t_up > 10.0 && *t_up <= 11.5, "{ev:?}");
        assert!(refused(&o) > 0, "nothing served in the gap");
        // The scale at 30 s sizes the new ReplicaSet.
        assert!(
            ev[3].1.ends_with("from 3 to 2") && ev[3].0 == 30.0,
            "{ev:?}"
        );
        assert_eq!(
            scenario_pods(&o).filter(|p| p.status == "Running").count(),
            2
        );

        // RollingUpdate: the new ReplicaSet starts at 10 s, beside the old one.
        let o = rollout("RollingUpdate");
        let ev = scaling(&o);
        assert!(ev[1].0 == 10.0 && ev[1].1.contains("Scaled up"), "{ev:?}");
        assert_eq!(refused(&o), 0);
    }

    /// `minReadySeconds`: an old pod goes only once a new one has been ready that long, so a
    /// rollout of 3, one pod at a time (maxSurge 1, maxUnavailable 0), waits 10 s more at each step.
    #[test]
    fn min_ready_seconds_hold_the_rollout_until_new_pods_are_available() {
        let rollout = |min_ready: u32| {
            let app = app_of_3(&format!("minReadySeconds: {min_ready}\n  strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}"));
            let s = scenario_with(
                1,
                &app,
                "  events:\n    - at: 10s\n      setImage: {deployment: web, container: web, image: web:2}\n",
            );
            let o = run(s);
            // When each "Scaled down" of the old ReplicaSet happened.
            o.events
                .iter()
                .filter(|e| e.reason == "ScalingReplicaSet" && e.message.contains("down"))
                .map(|e| e.at.as_secs_f64())
                .collect::<Vec<_>>()
        };
        let plain = rollout(0);
        let held = rollout(10);
        assert_eq!((plain.len(), held.len()), (3, 3), "{plain:?} {held:?}");
        // Each step waits for a new pod to start (1 s), then with minReadySeconds 10 s more.
        for (i, (p, h)) in plain.iter().zip(&held).enumerate() {
            let extra = h - p;
            let want = 10.0 * (i + 1) as f64;
            assert!((extra - want).abs() < 1e-9, "step {i}: {p} s vs {h} s");
        }
        assert!(held[2] < 60.0, "the rollout ends within the run: {held:?}");
    }

    #[test]
    fn scale_during_a_rollout_settles_on_the_new_count() {
        let s = scenario(
            2,
            4,
            "  events:\n    - at: 10s\n      rolloutRestart: {deployment: web}\n    - at: 10s\n      scale: {deployment: web, replicas: 6}\n",
        );
        let o = run(s);
        let running = scenario_pods(&o).filter(|p| p.status == "Running").count();
        assert_eq!(running, 6);
        let owners: BTreeSet<&str> = scenario_pods(&o)
            .filter(|p| p.status == "Running")
            .filter_map(|p| p.owner.as_deref())
            .collect();
        assert_eq!(owners.len(), 1, "{owners:?}");
    }

    #[test]
    fn cordon_keeps_new_pods_off_the_node() {
        let s = scenario(
            2,
            2,
            "  events:\n    - at: 5s\n      cordon: {node: n0}\n    - at: 10s\n      scale: {deployment: web, replicas: 6}\n",
        );
        let o = run(s);
        let late: Vec<_> = o
            .pods
            .iter()
            .filter(|p| p.created >= SimTime::from_nanos(10_000_000_000))
            .collect();
        assert_eq!(late.len(), 4);
        assert!(
            late.iter().all(|p| p.node.as_deref() == Some("n1")),
            "{late:?}"
        );
        assert_eq!(o.nodes[0].status, "Ready,SchedulingDisabled");
        assert_eq!(
            messages(&o, "NodeNotSchedulable"),
            ["Node n0 status is now: NodeNotSchedulable"]
        );
    }

    #[test]
    fn uncordon_lets_pending_pods_schedule() {
        let s = scenario(
            1,
            2,
            "  events:\n    - at: 5s\n      cordon: {node: n0}\n    - at: 10s\n      scale: {deployment: web, replicas: 3}\n    - at: 20s\n      uncordon: {node: n0}\n",
        );
        let o = run(s);
        assert!(messages(&o, "FailedScheduling")
            .iter()
            .any(|m| m.contains("unschedulable")));
        assert_eq!(
            scenario_pods(&o).filter(|p| p.status == "Running").count(),
            3
        );
        assert_eq!(o.nodes[0].status, "Ready");
    }

    #[test]
    fn drain_moves_pods_to_the_other_nodes() {
        let s = scenario(3, 3, "  events:\n    - at: 10s\n      drain: {node: n0}\n");
        let o = run(s);
        let on_n0: Vec<_> = scenario_pods(&o)
            .filter(|p| p.node.as_deref() == Some("n0"))
            .collect();
        assert!(!on_n0.is_empty(), "the spread put a pod on n0");
        assert!(on_n0
            .iter()
            .all(|p| p.deleted == Some(SimTime::from_nanos(10_000_000_000))));
        let running: Vec<_> = scenario_pods(&o)
            .filter(|p| p.status == "Running")
            .collect();
        assert_eq!(running.len(), 3);
        assert!(running.iter().all(|p| p.node.as_deref() != Some("n0")));
        assert!(messages(&o, "Killing").len() >= on_n0.len());
        // The drain evicts the add-on's pod on n0 too (kubectl drain spares DaemonSets
        // only): both CoreDNS replicas end on the other nodes.
        let dns = running_coredns(&o);
        assert_eq!(dns.len(), 2, "{dns:?}");
        assert!(
            dns.iter().all(|p| p.node.as_deref() != Some("n0")),
            "{dns:?}"
        );
    }

    #[test]
    fn a_service_applied_mid_run_gets_a_cluster_ip_and_routes() {
        let s = scenario(
            2,
            2,
            r#"  traffic:
    - {name: late, to: "10.0.0.10:30002", rate: 50/s, start: 15s, stop: 30s}
  events:
    - at: 10s
      apply:
        apiVersion: v1
        kind: Service
        metadata: {name: second}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{port: 9090, targetPort: 80, nodePort: 30002}]
"#,
        );
        let o = run(s);
        let svc = o.services.iter().find(|s| s.name == "second").unwrap();
        assert!(svc.cluster_ip.is_some());
        assert_eq!(svc.ports[0].node_port, Some(30002));
        assert!(o.requests.served > 500, "{:?}", o.requests);
        assert_eq!(o.requests.failed, 0, "{:?}", o.requests.failed_by_reason);
    }

    #[test]
    fn an_apply_the_api_server_refuses_is_a_warning_and_the_run_goes_on() {
        let s = scenario(
            1,
            1,
            r#"  events:
    - at: 10s
      apply:
        apiVersion: v1
        kind: Service
        metadata: {name: clash}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{port: 80, nodePort: 30001}]
"#,
        );
        let o = run(s);
        let e = o.events.iter().find(|e| e.reason == "FailedApply").unwrap();
        assert_eq!(e.object, "service/clash");
        assert_eq!(e.message, "The Service \"clash\" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated");
        assert!(o.services.iter().all(|s| s.name != "clash"));
    }

    #[test]
    fn deleting_the_service_closes_its_node_port() {
        let s = scenario(
            1,
            2,
            "  traffic:\n    - {name: b, to: \"10.0.0.10:30001\", rate: 20/s}\n  events:\n    - at: 20s\n      delete: {kind: Service, name: web-svc}\n",
        );
        let o = run(s);
        assert!(o.services.iter().all(|s| s.name != "web-svc"));
        let refused = o.requests.failed_with(FailReason::ConnectionRefused);
        // About 40 s at 20/s after the rules change; none before.
        assert!(refused > 700, "{:?}", o.requests.failed_by_reason);
        assert!(o.requests.served > 300);
    }

    #[test]
    fn deleting_a_deployment_deletes_its_pods_and_nothing_replaces_them() {
        let s = scenario(
            1,
            3,
            "  events:\n    - at: 10s\n      delete: {kind: deployment, name: web}\n",
        );
        let o = run(s);
        let web: Vec<_> = scenario_pods(&o).collect();
        assert_eq!(web.len(), 3);
        assert!(web.iter().all(|p| p.status == "Deleted"), "{web:?}");
        // The add-on's pods are no part of it.
        assert_eq!(running_coredns(&o).len(), 2);
    }

    #[test]
    fn applying_a_changed_deployment_rolls_and_scales() {
        let changed = APP
            .split("---\n")
            .nth(1)
            .unwrap()
            .replace("REPLICAS", "3")
            .replace("web:1", "web:2");
        let inline: String = changed.lines().map(|l| format!("        {l}\n")).collect();
        let s = scenario(
            1,
            2,
            &format!("  events:\n    - at: 10s\n      apply:\n{inline}"),
        );
        let o = run(s);
        let running: Vec<_> = scenario_pods(&o)
            .filter(|p| p.status == "Running")
            .collect();
        assert_eq!(running.len(), 3);
        let owners: BTreeSet<&str> = running.iter().filter_map(|p| p.owner.as_deref()).collect();
        assert_eq!(owners.len(), 1);
        assert!(scenario_pods(&o)
            .filter(|p| p.created.as_nanos() == 0)
            .all(|p| p.status == "Deleted"));
    }
}
