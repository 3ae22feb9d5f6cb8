//! ReplicaSets and Deployments' first ReplicaSet, the scheduler's placement, graceful pod
//! deletion, node lifecycle (lease, NotReady, eviction) and the scenario's timeline. The
//! kubelet lives in `kubelet`, rollouts and other workload events in `workload`.
//!
//! Timings that upstream fixes carry their source; the few that depend on the machine (how
//! long a container takes to start) are kubesim's assumptions, listed in `docs/fidelity.md`.

use super::kubelet::{Step, CONTAINER_START};
use super::{Ev, Simulation};
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{
    ContainerState, DeploymentState, NodeId, Pod, PodId, PodPhase, ReplicaSet, RsId, WaitingReason,
};
use crate::model::names;
use crate::model::objects::{Deployment, ObjectMeta, PodSpec, ReplicaSetObject};
use crate::sim::config::{Action, Pick, PodTarget};
use crate::traffic::request::FailReason;
use crate::traffic::serve::Server;
use rand::Rng;
use std::cmp::Ordering;
use std::sync::Arc;

/// Node lease renewal interval: `nodeLeaseDurationSeconds` 40 s
/// (`pkg/kubelet/apis/config/v1beta1/defaults.go`) times `nodeLeaseRenewIntervalFraction`
/// 0.25 (`pkg/kubelet/kubelet.go`).
pub const LEASE_RENEW: SimDuration = SimDuration::from_secs(10);
/// Node lifecycle controller check period (`--node-monitor-period`, 5 s).
pub const NODE_MONITOR_PERIOD: SimDuration = SimDuration::from_secs(5);
/// Default `tolerationSeconds` for not-ready/unreachable
/// (`plugin/pkg/admission/defaulttolerationseconds`).
pub const DEFAULT_TOLERATION: SimDuration = SimDuration::from_secs(300);
/// The least time a container gets between SIGTERM (after its `preStop` hook) and SIGKILL,
/// whatever the grace period ("always give containers a minimal shutdown window",
/// `minimumGracePeriodInSeconds` in `pkg/kubelet/kuberuntime/kuberuntime_container.go`).
pub const MIN_GRACE_AFTER_HOOK: SimDuration = SimDuration::from_secs(2);

impl Simulation {
    /// `node-monitor-grace-period`: 50 s since v1.32, 40 s before
    /// (`pkg/controller/nodelifecycle/config/v1alpha1/defaults.go`).
    fn node_grace_period(&self) -> SimDuration {
        if self.scenario.kubernetes_version < (1, 32) {
            SimDuration::from_secs(40)
        } else {
            SimDuration::from_secs(50)
        }
    }

    pub(super) fn create_deployment(&mut self, d: Deployment) {
        let now = self.queue.now();
        let hash = names::pod_template_hash(&d.template);
        let rs_name = format!("{}-{}", d.meta.name, hash);
        let mut template = d.template.clone();
        template
            .meta
            .labels
            .insert("pod-template-hash".into(), hash.clone());
        let mut selector = d.selector.clone();
        selector
            .match_labels
            .insert("pod-template-hash".into(), hash.clone());
        let id = crate::model::cluster::DeployId(self.cluster.deployments.len() as u32);
        let rs = ReplicaSetObject {
            meta: ObjectMeta {
                name: rs_name.clone(),
                namespace: d.meta.namespace.clone(),
                labels: template.meta.labels.clone(),
                annotations: Default::default(),
            },
            replicas: d.replicas,
            selector,
            template,
        };
        self.log.normal(
            now,
            format!("deployment/{}", d.meta.name),
            "ScalingReplicaSet",
            format!("Scaled up replica set {rs_name} from 0 to {}", d.replicas),
        );
        self.cluster.deployments.push(DeploymentState {
            spec: d,
            current: None,
        });
        let rs_id = self.create_replica_set(rs, Some(id));
        self.cluster.deployments[id.index()].current = Some(rs_id);
    }

    pub(super) fn create_replica_set(
        &mut self,
        rs: ReplicaSetObject,
        owner: Option<crate::model::cluster::DeployId>,
    ) -> RsId {
        let hash = rs
            .template
            .meta
            .labels
            .get("pod-template-hash")
            .cloned()
            .unwrap_or_default();
        let id = self.cluster.add_replica_set(ReplicaSet {
            meta: rs.meta,
            owner,
            replicas: rs.replicas,
            selector: rs.selector,
            template: rs.template,
            template_hash: hash,
        });
        self.reconcile_replica_set(id);
        id
    }

    /// The ReplicaSet controller: create or delete pods until the active ones match
    /// `replicas`. Terminating pods are not active (`controller.FilterActivePods`).
    pub(super) fn reconcile_replica_set(&mut self, id: RsId) {
        let now = self.queue.now();
        let rs = &self.cluster.replica_sets[id.index()];
        let active: Vec<PodId> = self
            .cluster
            .pods_of(id)
            .filter(|(_, p)| {
                p.deleted.is_none() && !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed)
            })
            .map(|(i, _)| i)
            .collect();
        let want = rs.replicas as usize;
        let rs_name = rs.meta.name.clone();
        if active.len() < want {
            for _ in active.len()..want {
                let rs = &self.cluster.replica_sets[id.index()];
                let meta = ObjectMeta {
                    name: names::generate_name(&format!("{}-", rs.meta.name), &mut self.rng_names),
                    namespace: rs.meta.namespace.clone(),
                    labels: rs.template.meta.labels.clone(),
                    annotations: rs.template.meta.annotations.clone(),
                };
                let spec = rs.template.spec.clone();
                self.log.normal(
                    now,
                    format!("replicaset/{rs_name}"),
                    "SuccessfulCreate",
                    format!("Created pod: {}", meta.name),
                );
                self.create_pod(meta, spec, Some(id));
            }
        } else if active.len() > want {
            let excess = active.len() - want;
            let mut ranked = active;
            ranked.sort_by(|a, b| self.deletion_order(*a, *b, id, now));
            for victim in ranked.into_iter().take(excess) {
                let name = self.cluster.pod(victim).meta.name.clone();
                self.terminate_pod(victim);
                self.log.normal(
                    now,
                    format!("replicaset/{rs_name}"),
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                );
            }
        }
    }

    /// Scale-down victim order (`pkg/controller/controller_utils.go`,
    /// `ActivePodsWithRanks.Less`, with `PodDeletionCost` and `LogarithmicScaleDown` on, as
    /// they are by default): the pod that sorts first is deleted first.
    fn deletion_order(&self, a: PodId, b: PodId, rs: RsId, now: SimTime) -> Ordering {
        let (pa, pb) = (self.cluster.pod(a), self.cluster.pod(b));
        // 1. Unassigned < assigned.
        if pa.node.is_none() != pb.node.is_none() {
            return if pa.node.is_none() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        // 2. Pending < Unknown < Running (`podPhaseToOrdinal`).
        let phase = |p: &Pod| match p.phase {
            PodPhase::Pending => 0,
            PodPhase::Running => 2,
            PodPhase::Succeeded | PodPhase::Failed => 1,
        };
        // 3. Not ready < ready.
        // 4. Lower `controller.kubernetes.io/pod-deletion-cost` < higher.
        let cost = |p: &Pod| -> i32 {
            p.meta
                .annotations
                .get("controller.kubernetes.io/pod-deletion-cost")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        // 5. More pods of the same owner on the node < fewer ("doubled up").
        let colocated = |p: &Pod| {
            self.cluster
                .pods_of(rs)
                .filter(|(_, q)| q.deleted.is_none() && q.node.is_some() && q.node == p.node)
                .count()
        };
        let first = phase(pa)
            .cmp(&phase(pb))
            .then(pa.ready.cmp(&pb.ready))
            .then(cost(pa).cmp(&cost(pb)))
            .then(colocated(pb).cmp(&colocated(pa)));
        if first != Ordering::Equal {
            return first;
        }
        // `logarithmicRankDiff`: compare floor(log2(nanoseconds since)); equal ranks fall back
        // to the UID.
        let rank = |t: SimTime| -> i64 {
            let d = now.since(t).as_nanos();
            if d == 0 {
                -1
            } else {
                libm::log2(d as f64) as i64
            }
        };
        let by_rank = |x: SimTime, y: SimTime| match rank(x).cmp(&rank(y)) {
            Ordering::Equal => pa.uid.cmp(&pb.uid),
            other => other,
        };
        // 6. Ready for less time < more time (both ready).
        if let (true, true, Some(x), Some(y)) = (pa.ready, pb.ready, pa.ready_since, pb.ready_since)
        {
            if x != y {
                return by_rank(x, y);
            }
        }
        // 7. More restarts < fewer. 8. Newer < older.
        pb.restarts.cmp(&pa.restarts).then_with(|| {
            if pa.created != pb.created {
                by_rank(pa.created, pb.created)
            } else {
                Ordering::Equal
            }
        })
    }

    /// Creates a pod object and tries to schedule it.
    pub(super) fn create_pod(
        &mut self,
        meta: ObjectMeta,
        spec: PodSpec,
        owner: Option<RsId>,
    ) -> PodId {
        self.create_pod_with(meta, spec, owner, None)
    }

    /// [`create_pod`](Self::create_pod) for a ReplicaSet's pod or a StatefulSet's or
    /// DaemonSet's.
    pub(super) fn create_pod_with(
        &mut self,
        meta: ObjectMeta,
        spec: PodSpec,
        owner: Option<RsId>,
        controller: Option<crate::model::cluster::Controller>,
    ) -> PodId {
        let now = self.queue.now();
        let n = spec.containers.len();
        let id = self.cluster.add_pod(Pod {
            meta,
            uid: names::uid(&mut self.rng_names),
            spec: Arc::new(spec),
            owner,
            controller,
            node: None,
            ip: None,
            phase: PodPhase::Pending,
            containers: vec![ContainerState::Waiting(WaitingReason::ContainerCreating); n],
            ready: false,
            ready_since: None,
            ready_changed: now,
            created: now,
            deleted: None,
            gone_at: None,
            restarts: 0,
            unschedulable_reason: None,
        });
        self.cluster.touch(id);
        self.servers.push(vec![None; n]);
        self.kubelet.push(super::kubelet::PodKubelet::new(n));
        self.metrics.add_pod();
        self.try_schedule(id);
        id
    }

    fn try_schedule(&mut self, id: PodId) {
        let now = self.queue.now();
        let pod = self.cluster.pod(id);
        if pod.node.is_some() || pod.deleted.is_some() || !pod.exists() {
            return;
        }
        let target = match &pod.spec.node_name {
            Some(name) => self
                .cluster
                .node_by_name(name)
                .ok_or_else(|| format!("node {name:?} not found")),
            None => self
                .scheduler
                .schedule(&self.cluster, pod, &mut self.rng_scheduler),
        };
        let object = format!("pod/{}", pod.meta.name);
        match target {
            Ok(node) => {
                let msg = format!(
                    "Successfully assigned {}/{} to {}",
                    pod.meta.namespace,
                    pod.meta.name,
                    self.cluster.node(node).cfg.name
                );
                self.scheduler.bound(id, self.cluster.pod(id), node);
                let p = self.cluster.pod_mut(id);
                p.node = Some(node);
                p.unschedulable_reason = None;
                self.log.normal(now, object, "Scheduled", msg);
                self.queue.schedule(now, Ev::Kubelet(id, Step::Sandbox));
            }
            Err(msg) => {
                self.scheduler.unschedulable(id);
                let p = self.cluster.pod_mut(id);
                if p.unschedulable_reason.as_deref() != Some(msg.as_str()) {
                    p.unschedulable_reason = Some(msg.clone());
                    self.log.warning(now, object, "FailedScheduling", msg);
                }
            }
        }
    }

    /// Gives unscheduled pods another chance (capacity or nodes changed), in creation order.
    /// Every pod not bound, not deleted and still existing is among the scheduler's
    /// unschedulable pods: each went through `try_schedule` when created, and only a failed
    /// attempt leaves it unbound.
    pub(super) fn retry_pending(&mut self) {
        for id in self.scheduler.unschedulable_pods() {
            self.try_schedule(id);
        }
    }

    /// A deletion from outside the pod's controller (`kubectl delete pod`, eviction, drain):
    /// the pod terminates and its ReplicaSet replaces it at once (terminating pods are not
    /// active).
    pub(super) fn delete_pod(&mut self, id: PodId) {
        if self.cluster.pod(id).deleted.is_some() {
            return;
        }
        self.terminate_pod(id);
        if let Some(rs) = self.cluster.pod(id).owner {
            self.reconcile_replica_set(rs);
        }
        self.controller_pod_changed(id);
    }

    /// Graceful deletion (`kubectl delete pod`, eviction, scale-down): the pod turns
    /// `Terminating` and its endpoints turn not-ready and terminating at once. Each container
    /// runs its `preStop` hook (serving as before meanwhile), then gets SIGTERM: it stops
    /// accepting connections and finishes what it holds. It is killed at the end of
    /// `terminationGracePeriodSeconds` if still busy, and no sooner than 2 s after SIGTERM
    /// ([`MIN_GRACE_AFTER_HOOK`]).
    pub(super) fn terminate_pod(&mut self, id: PodId) {
        let now = self.queue.now();
        let pod = self.cluster.pod(id);
        if pod.deleted.is_some() || !pod.exists() {
            return;
        }
        let object = format!("pod/{}", pod.meta.name);
        let grace = pod.spec.termination_grace_period;
        let node_up = pod.node.is_some_and(|n| self.cluster.node(n).up);
        let names: Vec<String> = pod.spec.containers.iter().map(|c| c.name.clone()).collect();
        let hooks: Vec<SimDuration> = pod
            .spec
            .containers
            .iter()
            .map(|c| c.pre_stop.unwrap_or_default().min(grace))
            .collect();
        let running = pod.running();
        self.scheduler.terminating(id, pod);
        self.cluster.pod_mut(id).deleted = Some(now);
        if running && node_up {
            for n in names {
                self.log.normal(
                    now,
                    object.clone(),
                    "Killing",
                    format!("Stopping container {n}"),
                );
            }
        }
        // The hooks run where a kubelet runs the container; a container without a server
        // (no behaviour) still holds the pod back for its hook.
        let mut hook_end = now;
        for (i, hook) in hooks.into_iter().enumerate() {
            if running && node_up && !hook.is_zero() {
                let done = Step::PreStopDone {
                    container: i as u16,
                };
                self.queue.schedule(now + hook, Ev::Kubelet(id, done));
                hook_end = hook_end.max(now + hook);
            } else if let Some(Some(s)) = self.servers[id.index()].get_mut(i) {
                s.accepting = false;
            }
        }
        self.kubelet[id.index()].pre_stop_until = hook_end;
        self.endpoints_changed();
        if !node_up {
            // Nobody on the node to stop it: it stays Terminating until the node returns.
            return;
        }
        if hook_end == now && self.servers_idle(id) {
            self.pod_gone(now, id);
        } else {
            // SIGKILL once the grace period is over, but never less than 2 s after SIGTERM.
            let hook = hook_end.since(now);
            let kill = hook + grace.saturating_sub(hook).max(MIN_GRACE_AFTER_HOOK);
            self.queue
                .schedule(now + kill, Ev::Kubelet(id, Step::Terminated));
        }
    }

    fn servers_idle(&self, id: PodId) -> bool {
        self.servers[id.index()]
            .iter()
            .flatten()
            .all(Server::is_idle)
    }

    /// Called when a terminating pod's server finishes its last request.
    pub(super) fn maybe_finish_termination(&mut self, now: SimTime, id: PodId) {
        if self.cluster.pod(id).deleted.is_some()
            && self.cluster.pod(id).exists()
            && now >= self.kubelet[id.index()].pre_stop_until
            && self.servers_idle(id)
        {
            self.pod_gone(now, id);
        }
    }

    /// The pod object is removed: requests it still held are reset, its IP is released.
    pub(super) fn pod_gone(&mut self, now: SimTime, id: PodId) {
        if !self.cluster.pod(id).exists() {
            return;
        }
        self.kill_servers(now, id, FailReason::ConnectionReset);
        self.scheduler.removed(id, self.cluster.pod(id));
        let pod = self.cluster.pod_mut(id);
        pod.gone_at = Some(now);
        pod.ready = false;
        pod.phase = PodPhase::Succeeded;
        pod.containers
            .iter_mut()
            .for_each(|c| *c = ContainerState::Terminated { exit_code: 0 });
        if let (Some(node), Some(ip), false) = (pod.node, pod.ip, pod.spec.host_network) {
            self.ipams[node.index()].release(ip);
        }
        self.endpoints_changed();
        self.retry_pending();
        self.pod_removed(id);
    }

    pub(super) fn on_timeline(&mut self, now: SimTime, i: usize) {
        let action = self.scenario.events[i].action.clone();
        match action {
            Action::DeletePod(target) => match self.pick_pod(&target) {
                Some(id) => self.delete_pod(id),
                None => self.warn_no_pod(now, "deletePod", &target),
            },
            Action::NodeDown { node } => {
                if let Some(n) = self.cluster.node_by_name(&node) {
                    self.node_down(now, n);
                }
            }
            Action::NodeUp { node } => {
                if let Some(n) = self.cluster.node_by_name(&node) {
                    self.node_up(now, n);
                }
            }
            Action::KillContainer {
                target,
                container,
                exit_code,
            } => match self.pick_pod(&target) {
                Some(id) => self.kill_container(now, id, container.as_deref(), exit_code),
                None => self.warn_no_pod(now, "killContainer", &target),
            },
            Action::FailProbe {
                target,
                probe,
                duration,
            } => match self.pick_pod(&target) {
                Some(id) if self.has_probe(now, id, probe) => {
                    self.fail_probe(now, id, probe, duration)
                }
                Some(_) => {}
                None => self.warn_no_pod(now, "failProbe", &target),
            },
            other => self.on_workload_action(now, other),
        }
    }

    fn pick_pod(&mut self, target: &PodTarget) -> Option<PodId> {
        let live = |p: &Pod| p.deleted.is_none();
        match target {
            PodTarget::Name(name) => self
                .cluster
                .live_pods()
                .find(|(_, p)| &p.meta.name == name && live(p))
                .map(|(i, _)| i),
            PodTarget::Selector { selector, pick } => {
                let found: Vec<PodId> = self
                    .cluster
                    .live_pods()
                    .filter(|(_, p)| {
                        live(p)
                            && selector
                                .iter()
                                .all(|(k, v)| p.meta.labels.get(k) == Some(v))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if found.is_empty() {
                    return None;
                }
                Some(match pick {
                    Pick::Oldest => found[0],
                    Pick::Newest => *found.last().expect("not empty"),
                    Pick::Random => {
                        let mut rng = self
                            .streams_rng
                            .stream(&format!("timeline/{}", self.queue.now().as_nanos()));
                        found[rng.random_range(0..found.len())]
                    }
                })
            }
        }
    }

    /// The machine stops: its kubelet no longer renews the lease, its pods stop answering,
    /// and packets to or through it are lost.
    fn node_down(&mut self, now: SimTime, node: NodeId) {
        if !self.cluster.node(node).up {
            return;
        }
        self.cluster.nodes[node.index()].up = false;
        self.node_down_since[node.index()] = Some(now);
        let pods = self.cluster.pods_on(node);
        for id in pods {
            // Requests inside the machine never get an answer: their clients time out.
            self.kill_servers(now, id, FailReason::Timeout);
        }
    }

    fn node_up(&mut self, now: SimTime, node: NodeId) {
        if self.cluster.node(node).up {
            return;
        }
        self.cluster.nodes[node.index()].up = true;
        self.node_down_since[node.index()] = None;
        let pods = self.cluster.pods_on(node);
        for id in pods {
            if self.cluster.pod(id).deleted.is_some() {
                // The kubelet finds the pod deleted and finishes removing it.
                self.pod_gone(now, id);
            } else if self.cluster.pod(id).phase == PodPhase::Running {
                // The machine restarted: the containers start again, same sandbox and IP.
                let p = self.cluster.pod_mut(id);
                p.restarts += p.containers.len() as u32;
                if p.ready {
                    p.ready_changed = now;
                }
                p.ready = false;
                p.ready_since = None;
                self.queue
                    .schedule(now + CONTAINER_START, Ev::Kubelet(id, Step::Started));
            } else {
                // It had not started yet: the kubelet takes its set-up up again where it
                // stopped (the kubelet's steps were dropped while the node was down).
                let step = if self.cluster.pod(id).ip.is_some() {
                    Step::Image(0)
                } else {
                    Step::Sandbox
                };
                self.queue.schedule(now, Ev::Kubelet(id, step));
            }
        }
        self.endpoints_changed();
    }

    /// The node lifecycle controller (`pkg/controller/nodelifecycle`): every 5 s, a node
    /// whose lease is older than the grace period turns `NotReady` (`Unknown`), its pods turn
    /// not ready and are evicted after their toleration; a node that reports again turns Ready.
    pub(super) fn on_node_monitor(&mut self, now: SimTime) {
        let grace = self.node_grace_period();
        for i in 0..self.cluster.nodes.len() {
            let node = NodeId(i as u32);
            let n = self.cluster.node(node);
            match (n.up, n.ready, self.node_down_since[i]) {
                (false, true, Some(down)) => {
                    let renewed = SimTime::from_nanos(
                        down.as_nanos() / LEASE_RENEW.as_nanos() * LEASE_RENEW.as_nanos(),
                    );
                    if now > renewed + grace {
                        self.node_not_ready(now, node);
                    }
                }
                (true, false, _) => {
                    self.cluster.nodes[i].ready = true;
                    let name = self.cluster.node(node).cfg.name.clone();
                    self.log.normal(
                        now,
                        format!("node/{name}"),
                        "NodeReady",
                        format!("Node {name} status is now: NodeReady"),
                    );
                    self.retry_pending();
                    self.sync_all_daemon_sets();
                }
                _ => {}
            }
        }
        self.monitor_disruption(now);
        let next = now + NODE_MONITOR_PERIOD;
        if next <= self.end {
            self.queue.schedule(next, Ev::NodeMonitor);
        }
    }

    fn node_not_ready(&mut self, now: SimTime, node: NodeId) {
        self.cluster.nodes[node.index()].ready = false;
        let name = self.cluster.node(node).cfg.name.clone();
        self.log.normal(
            now,
            format!("node/{name}"),
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady"),
        );
        let pods = self.cluster.pods_on(node);
        for id in pods {
            let p = self.cluster.pod_mut(id);
            p.ready = false;
            let object = format!("pod/{}", p.meta.name);
            self.log
                .warning(now, object, "NodeNotReady", "Node is not ready".into());
        }
        self.endpoints_changed();
        self.sync_all_daemon_sets();
    }

    /// Taint-based eviction (`pkg/controller/tainteviction`): the pod's toleration of its
    /// node's `NoExecute` taint ran out, unless the taint went (the node is Ready again, or the
    /// controller entered master disruption mode) or came back later.
    pub(super) fn on_evict(&mut self, now: SimTime, id: PodId) {
        let pod = self.cluster.pod(id);
        let Some(node) = pod.node else { return };
        if self.cluster.node(node).ready || pod.deleted.is_some() || !pod.exists() {
            return;
        }
        let due = self
            .disruption
            .tainted_since(node)
            .zip(self.unreachable_toleration(id))
            .is_some_and(|(since, after)| since + after <= now);
        if !due {
            return;
        }
        let msg = format!(
            "Marking for deletion Pod {}/{}",
            pod.meta.namespace, pod.meta.name
        );
        self.log.normal(
            now,
            format!("pod/{}", pod.meta.name),
            "TaintManagerEviction",
            msg,
        );
        self.delete_pod(id);
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::Simulation;
    use std::path::Path;

    /// A scenario of `nodes` nodes (`n0`, `n1`, ...) and the Deployment `web` of `replicas`
    /// pods, each asking for 100m CPU, 64Mi and host port 8080 when `host_port`; `events`
    /// (YAML lines) under `spec:`.
    fn sim(nodes: usize, replicas: u32, host_port: bool, events: &str) -> Simulation {
        let nodes: String = (0..nodes)
            .map(|i| {
                format!(
                    "      - {{name: n{i}, ip: 10.1.{}.{}}}\n",
                    i / 200,
                    i % 200 + 1
                )
            })
            .collect();
        let port = if host_port { ", hostPort: 8080" } else { "" };
        let text = format!(
            "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 20m\n  cluster:\n    nodes:\n{nodes}{events}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: web\n          image: web:1\n          resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}\n          ports: [{{containerPort: 80{port}}}]\n"
        );
        let loaded = crate::scenario::load_str(&text, "t.yaml", Path::new("."))
            .unwrap_or_else(|d| panic!("{d}"));
        Simulation::new(loaded.scenario).expect("no API errors")
    }

    #[test]
    fn the_scheduler_cache_follows_every_bind_deletion_and_removal() {
        // Scale-ups past the host ports' room (pods wait unschedulable), a node lost and its
        // pods evicted, a drain, deletions, a rollout and a scale-down, on four nodes.
        let events = "  events:\n    - {at: 5s, scale: {deployment: web, replicas: 6}}\n    - {at: 10s, deletePod: {selector: app=web, pick: oldest}}\n    - {at: 20s, nodeDown: {node: n1}}\n    - {at: 30s, cordon: {node: n2}}\n    - {at: 40s, uncordon: {node: n2}}\n    - {at: 50s, rolloutRestart: {deployment: web}}\n    - {at: 7m, drain: {node: n3}}\n    - {at: 8m, nodeUp: {node: n1}}\n    - {at: 9m, scale: {deployment: web, replicas: 2}}\n    - {at: 10m, uncordon: {node: n3}}\n";
        for host_port in [true, false] {
            let mut s = sim(4, 3, host_port, events);
            s.scheduler.assert_matches(&s.cluster);
            let (mut pending, mut terminating) = (false, false);
            while s.step().is_some() {
                s.scheduler.assert_matches(&s.cluster);
                pending |= !s.scheduler.unschedulable_pods().is_empty();
                terminating |= s.cluster.live_pods().any(|(_, p)| p.deleted.is_some());
            }
            // The states the cache must follow did occur.
            assert_eq!(pending, host_port);
            assert!(terminating);
            assert!(s.cluster.pods.iter().filter(|p| !p.exists()).count() > 5);
        }
    }

    #[test]
    fn each_search_starts_where_the_last_stopped() {
        // 150 nodes: a search stops at the 100 feasible nodes upstream looks for. Without the
        // rotating start, the pods of `web` would only ever see nodes n0-n99.
        let s = sim(150, 150, false, "");
        let used: std::collections::BTreeSet<_> =
            s.cluster.live_pods().filter_map(|(_, p)| p.node).collect();
        assert!(used.len() > 100, "{} nodes used", used.len());
        // Each of the 150 pods of `web` and the CoreDNS add-on's 2 filtered 100 nodes.
        let pods = 150 + u64::from(crate::sim::addons::COREDNS_REPLICAS);
        assert_eq!(s.scheduler.work().nodes_filtered, pods * 100);
    }
}
