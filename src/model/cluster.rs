//! The cluster's state: nodes, ReplicaSets and pods, in arenas indexed by small ids.
//!
//! Controllers live in sibling modules and act on this state; the `sim` layer decides when
//! they run. Pods are never removed from the arena: a pod that is gone keeps its record (for
//! the report) with `gone_at` set, so a [`PodId`] stays valid for the whole run.

use super::config::NodeConfig;
use super::objects::{Deployment, LabelSelector, Labels, ObjectMeta, PodSpec, PodTemplate};
use crate::engine::{FxHashMap, SimTime};
use std::net::Ipv4Addr;
use std::sync::Arc;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A node, by registration order.
    NodeId
);
id_type!(
    /// A pod, by creation order (also the order of `summary.json`'s `pods`).
    PodId
);
id_type!(
    /// A ReplicaSet, by creation order.
    RsId
);
id_type!(
    /// A Deployment, by creation order.
    DeployId
);

/// The StatefulSet or DaemonSet that owns a pod (by creation order of each kind); pods of
/// ReplicaSets have [`Pod::owner`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    StatefulSet(u32),
    DaemonSet(u32),
}

/// A node and its conditions.
#[derive(Debug, Clone)]
pub struct Node {
    pub cfg: NodeConfig,
    /// The `Ready` condition as the control plane sees it.
    pub ready: bool,
    /// `kubectl cordon`: `spec.unschedulable`.
    pub unschedulable: bool,
    /// The machine and its kubelet are up (forwarding packets, running pods).
    pub up: bool,
    /// When the Node object was created: time zero for the scenario's nodes, later for a
    /// node that joined mid-run ([`Cluster::add_node`]).
    pub created: SimTime,
    /// When the Node object was deleted (a node the cluster autoscaler removed); its record
    /// stays, as a gone pod's does, so a [`NodeId`] stays valid for the whole run.
    pub removed: Option<SimTime>,
}

/// The pod phase (`status.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// Why a container is waiting, as `kubectl get pods` prints it in STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingReason {
    ContainerCreating,
    ErrImagePull,
    ImagePullBackOff,
    ErrImageNeverPull,
    CrashLoopBackOff,
}

impl WaitingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitingReason::ContainerCreating => "ContainerCreating",
            WaitingReason::ErrImagePull => "ErrImagePull",
            WaitingReason::ImagePullBackOff => "ImagePullBackOff",
            WaitingReason::ErrImageNeverPull => "ErrImageNeverPull",
            WaitingReason::CrashLoopBackOff => "CrashLoopBackOff",
        }
    }
}

/// A container's state (`status.containerStatuses[].state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Waiting(WaitingReason),
    Running { since: SimTime },
    Terminated { exit_code: i32 },
}

/// A pod object and its status.
#[derive(Debug, Clone)]
pub struct Pod {
    pub meta: ObjectMeta,
    pub uid: String,
    pub spec: Arc<PodSpec>,
    pub owner: Option<RsId>,
    /// The StatefulSet or DaemonSet that owns it, if one does.
    pub controller: Option<Controller>,
    pub node: Option<NodeId>,
    /// The sandbox's address; `None` before the sandbox exists.
    pub ip: Option<Ipv4Addr>,
    pub phase: PodPhase,
    /// One entry per container of `spec.containers`.
    pub containers: Vec<ContainerState>,
    /// The pod's `Ready` condition.
    pub ready: bool,
    /// When `ready` last turned true.
    pub ready_since: Option<SimTime>,
    /// The `Ready` condition's `lastTransitionTime`: when `ready` last changed either way (the
    /// pod's creation until it first does; the condition is first written false).
    pub ready_changed: SimTime,
    pub created: SimTime,
    /// When deletion was requested: the pod turned `Terminating`.
    pub deleted: Option<SimTime>,
    /// When the object left the API server (the pod no longer exists).
    pub gone_at: Option<SimTime>,
    /// Container restarts, summed over containers.
    pub restarts: u32,
    /// Why the scheduler could not place it, while `Pending` and unassigned.
    pub unschedulable_reason: Option<String>,
}

impl Pod {
    /// Whether the object still exists in the API server.
    pub fn exists(&self) -> bool {
        self.gone_at.is_none()
    }

    /// Whether its containers are running on a node (it can answer packets).
    pub fn running(&self) -> bool {
        self.exists()
            && self
                .containers
                .iter()
                .all(|c| matches!(c, ContainerState::Running { .. }))
    }

    /// The STATUS column of `kubectl get pods` (`pkg/printers/internalversion/printers.go`,
    /// `printPod`): `Terminating` once deleted, else a container's waiting or terminated
    /// reason, else the phase.
    pub fn status(&self) -> String {
        if self.deleted.is_some() && self.exists() {
            return "Terminating".to_string();
        }
        if self.gone_at.is_some() {
            return "Deleted".to_string();
        }
        for c in &self.containers {
            match c {
                ContainerState::Waiting(WaitingReason::ContainerCreating)
                    if self.node.is_none() => {}
                ContainerState::Waiting(r) => return r.as_str().to_string(),
                ContainerState::Terminated { exit_code: 0 } => return "Completed".to_string(),
                ContainerState::Terminated { .. } => return "Error".to_string(),
                ContainerState::Running { .. } => {}
            }
        }
        match self.phase {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Completed",
            PodPhase::Failed => "Error",
        }
        .to_string()
    }

    /// The READY column: ready containers over all containers (a container is ready while
    /// it runs and the pod's readiness holds).
    pub fn ready_column(&self) -> String {
        let running = self
            .containers
            .iter()
            .filter(|c| matches!(c, ContainerState::Running { .. }))
            .count();
        let ready = if self.ready && self.exists() {
            running
        } else {
            0
        };
        format!("{ready}/{}", self.containers.len())
    }
}

/// A ReplicaSet and the pods it owns.
#[derive(Debug, Clone)]
pub struct ReplicaSet {
    pub meta: ObjectMeta,
    pub owner: Option<DeployId>,
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate,
    /// The `pod-template-hash` label value (empty for a bare ReplicaSet).
    pub template_hash: String,
}

/// A Deployment and its current ReplicaSet.
#[derive(Debug, Clone)]
pub struct DeploymentState {
    pub spec: Deployment,
    pub current: Option<RsId>,
}

/// Every object of the cluster, in arenas.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub replica_sets: Vec<ReplicaSet>,
    pub deployments: Vec<DeploymentState>,
    pub namespaces: Vec<String>,
    /// Pods changed since the last [`Cluster::take_touched`], and a flag per pod.
    touched: Vec<PodId>,
    touched_flag: Vec<bool>,
    /// Nodes deleted mid-run ([`Cluster::remove_node`]).
    removed_nodes: usize,
    /// Nodes by name (the first node of a name, as a scan would find it); only looked up.
    node_names: FxHashMap<String, NodeId>,
    /// Every pod each ReplicaSet ever owned, in creation order (by `RsId`).
    owned: Vec<Vec<PodId>>,
    /// Every ReplicaSet each Deployment ever owned, in creation order (by `DeployId`).
    owned_sets: Vec<Vec<RsId>>,
    /// Every pod ever created, by [`label_key`] of its namespace and each of its labels, in
    /// creation order (pods' labels and namespace never change). Only looked up.
    by_label: FxHashMap<u64, Vec<PodId>>,
}

/// The index key of a label in a namespace: a hash, so keys that collide only share a list
/// of candidates, which [`Cluster::pods_selected`] checks in full anyway.
fn label_key(namespace: &str, key: &str, value: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::engine::FxHasher::default();
    (namespace, key, value).hash(&mut h);
    h.finish()
}

impl Cluster {
    pub fn new(nodes: &[NodeConfig]) -> Self {
        let mut node_names = FxHashMap::default();
        for (i, n) in nodes.iter().enumerate() {
            node_names.entry(n.name.clone()).or_insert(NodeId(i as u32));
        }
        Cluster {
            node_names,
            nodes: nodes
                .iter()
                .map(|cfg| Node {
                    cfg: cfg.clone(),
                    ready: true,
                    unschedulable: cfg.unschedulable,
                    up: true,
                    created: SimTime::ZERO,
                    removed: None,
                })
                .collect(),
            namespaces: vec![
                "default".into(),
                "kube-node-lease".into(),
                "kube-public".into(),
                "kube-system".into(),
            ],
            ..Cluster::default()
        }
    }

    /// Registers a node that joins mid-run (`kubelet` registration): it is `NotReady` until
    /// the node lifecycle controller sees it report Ready. Nodes are only ever added this way
    /// after [`Cluster::new`].
    pub fn add_node(&mut self, cfg: NodeConfig, now: SimTime) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.node_names.insert(cfg.name.clone(), id);
        self.nodes.push(Node {
            unschedulable: cfg.unschedulable,
            cfg,
            ready: false,
            up: true,
            created: now,
            removed: None,
        });
        id
    }

    /// The Node object is deleted (its machine is gone): it stays in the arena, `removed`,
    /// down and not Ready; its name may be registered again by a later node.
    pub fn remove_node(&mut self, id: NodeId, now: SimTime) {
        let n = &mut self.nodes[id.index()];
        if n.removed.is_some() {
            return;
        }
        n.removed = Some(now);
        n.up = false;
        n.ready = false;
        n.unschedulable = true;
        self.removed_nodes += 1;
        if self.node_names.get(&n.cfg.name) == Some(&id) {
            let name = n.cfg.name.clone();
            self.node_names.remove(&name);
        }
    }

    /// Nodes that exist (not removed).
    pub fn live_node_count(&self) -> usize {
        self.nodes.len() - self.removed_nodes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.node_names.get(name).copied()
    }

    /// Adds a new pod object; pods are only ever added this way.
    pub fn add_pod(&mut self, pod: Pod) -> PodId {
        let id = PodId(self.pods.len() as u32);
        for (k, v) in &pod.meta.labels {
            let list = self
                .by_label
                .entry(label_key(&pod.meta.namespace, k, v))
                .or_default();
            // Colliding keys may have added this pod already.
            if list.last() != Some(&id) {
                list.push(id);
            }
        }
        if let Some(rs) = pod.owner {
            if self.owned.len() <= rs.index() {
                self.owned.resize_with(rs.index() + 1, Vec::new);
            }
            self.owned[rs.index()].push(id);
        }
        self.pods.push(pod);
        id
    }

    /// Adds a new ReplicaSet; ReplicaSets are only ever added this way.
    pub fn add_replica_set(&mut self, rs: ReplicaSet) -> RsId {
        let id = RsId(self.replica_sets.len() as u32);
        if let Some(d) = rs.owner {
            if self.owned_sets.len() <= d.index() {
                self.owned_sets.resize_with(d.index() + 1, Vec::new);
            }
            self.owned_sets[d.index()].push(id);
        }
        self.replica_sets.push(rs);
        id
    }

    /// The ReplicaSets Deployment `d` owns, in creation order.
    pub fn replica_sets_of(&self, d: DeployId) -> &[RsId] {
        self.owned_sets.get(d.index()).map_or(&[], Vec::as_slice)
    }

    pub fn pod(&self, id: PodId) -> &Pod {
        &self.pods[id.index()]
    }

    /// The pod, to change it; the change is noted for [`take_touched`](Self::take_touched).
    pub fn pod_mut(&mut self, id: PodId) -> &mut Pod {
        self.touch(id);
        &mut self.pods[id.index()]
    }

    /// Notes that pod `id` changed (or was created) since the last
    /// [`take_touched`](Self::take_touched).
    pub fn touch(&mut self, id: PodId) {
        let i = id.index();
        if self.touched_flag.len() <= i {
            self.touched_flag.resize(i + 1, false);
        }
        if !self.touched_flag[i] {
            self.touched_flag[i] = true;
            self.touched.push(id);
        }
    }

    /// The pods changed or created since the last call, in the order first touched: what the
    /// EndpointSlice controller has to look at again.
    pub fn take_touched(&mut self) -> Vec<PodId> {
        for id in &self.touched {
            self.touched_flag[id.index()] = false;
        }
        std::mem::take(&mut self.touched)
    }

    /// Pods that still exist, in creation order.
    pub fn live_pods(&self) -> impl Iterator<Item = (PodId, &Pod)> {
        self.pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.exists())
            .map(|(i, p)| (PodId(i as u32), p))
    }

    /// Live pods assigned to `node`, in creation order.
    pub fn pods_on(&self, node: NodeId) -> Vec<PodId> {
        self.live_pods()
            .filter(|(_, p)| p.node == Some(node))
            .map(|(i, _)| i)
            .collect()
    }

    /// Live pods owned by `rs` (deleted-but-terminating ones included), in creation order.
    pub fn pods_of(&self, rs: RsId) -> impl Iterator<Item = (PodId, &Pod)> {
        self.owned
            .get(rs.index())
            .into_iter()
            .flatten()
            .map(|&id| (id, &self.pods[id.index()]))
            .filter(|(_, p)| p.exists())
    }

    /// Live pods in `namespace` whose labels satisfy `pred`.
    pub fn pods_matching<'a>(
        &'a self,
        namespace: &'a str,
        pred: impl Fn(&Labels) -> bool + 'a,
    ) -> impl Iterator<Item = (PodId, &'a Pod)> + 'a {
        self.live_pods()
            .filter(move |(_, p)| p.meta.namespace == namespace && pred(&p.meta.labels))
    }

    /// Live pods in `namespace` that a Service's `selector` selects, in creation order: the
    /// same pods as `pods_matching(namespace, |l| service_selects(selector, l))`, found from
    /// the index of the selector's rarest label instead of a scan of every pod.
    pub fn pods_selected<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a Labels,
    ) -> impl Iterator<Item = (PodId, &'a Pod)> + 'a {
        let candidates: &[PodId] = selector
            .iter()
            .map(|(k, v)| {
                self.by_label
                    .get(&label_key(namespace, k, v))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|list| list.len())
            .unwrap_or(&[]);
        candidates
            .iter()
            .map(|&id| (id, &self.pods[id.index()]))
            .filter(move |(_, p)| {
                p.exists()
                    && p.meta.namespace == namespace
                    && super::objects::service_selects(selector, &p.meta.labels)
            })
    }

    pub fn deployment_by_name(&self, namespace: &str, name: &str) -> Option<DeployId> {
        self.deployments
            .iter()
            .position(|d| d.spec.meta.namespace == namespace && d.spec.meta.name == name)
            .map(|i| DeployId(i as u32))
    }
}
