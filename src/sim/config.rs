//! The validated scenario: everything a run needs, with every default applied.

use crate::engine::SimDuration;
use crate::model::config::{NodeConfig, RegistryConfig};
use crate::model::objects::{Labels, Object};
use crate::net::config::NetConfig;
use crate::traffic::spec::{Behavior, StreamSpec};

/// A scenario after loading and validation (the `scenario` layer builds it).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `metadata.name`: names the output folder.
    pub name: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub warmup: SimDuration,
    /// `kubernetesVersion` as (major, minor); default (1, 34).
    pub kubernetes_version: (u32, u32),
    pub net: NetConfig,
    /// In the order written; at least one.
    pub nodes: Vec<NodeConfig>,
    /// `cluster.addons` contains `coredns` (the default when `addons` is absent): the CoreDNS
    /// Deployment of `kube-system` is created before the scenario's objects (`sim::addons`).
    pub coredns: bool,
    pub registry: Option<RegistryConfig>,
    pub behaviors: Vec<Behavior>,
    pub traffic: Vec<StreamSpec>,
    pub events: Vec<TimelineEvent>,
    /// Kubernetes objects in the order they appear (inline documents, then `spec.manifests`
    /// files in order), applied at time zero in that order.
    pub objects: Vec<Object>,
    /// `spec.expect`: what the run is judged against (`sim::expect`), in the order written.
    pub expect: Vec<super::expect::Expectation>,
    /// `spec.cluster.nodePool`: a node group the cluster autoscaler grows and shrinks
    /// (`sim::nodepool`); `None`: the cluster keeps its nodes.
    pub node_pool: Option<NodePool>,
}

/// `spec.cluster.nodePool`: one node group of identical machines, as the cluster autoscaler
/// sees a cloud provider's node group.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePool {
    /// The group's id (`{pool 1->2 (max: 5)}`); its nodes are `<name>-1`, `<name>-2`, ...
    pub name: String,
    /// What every new node is: allocatable, labels, taints, images. `name` is the template's
    /// (`<name>-template`), `ip` the first node's address (the k-th node gets `ip + k - 1`).
    pub template: NodeConfig,
    /// The group's smallest size: scale-down stops there. The first `min_size` nodes exist at
    /// time zero (they are the last entries of [`Scenario::nodes`]).
    pub min_size: u32,
    /// The group's largest size: scale-up stops there.
    pub max_size: u32,
    /// From the scale-up decision to the new Node object registering (the cloud provider's
    /// machine start and the kubelet's bootstrap); no upstream default, the scenario says it.
    pub provisioning_delay: SimDuration,
}

impl NodePool {
    /// The `k`-th node of the pool (from 1): the template with its name, address and
    /// `kubernetes.io/hostname` label.
    pub fn node(&self, k: u32) -> NodeConfig {
        let mut n = self.template.clone();
        n.name = format!("{}-{k}", self.name);
        n.ip = std::net::Ipv4Addr::from(u32::from(self.template.ip).wrapping_add(k - 1));
        n.labels
            .insert("kubernetes.io/hostname".into(), n.name.clone());
        n.pod_cidr = None;
        n
    }
}

/// One entry of `spec.events`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    pub at: SimDuration,
    pub action: Action,
}

/// Which pod a pod-targeted event acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodTarget {
    Name(String),
    Selector { selector: Labels, pick: Pick },
}

impl PodTarget {
    /// `http-deployment-abc12-xyz` or `app=http-label`.
    pub fn label(&self) -> String {
        match self {
            PodTarget::Name(n) => n.clone(),
            PodTarget::Selector { selector, .. } => selector
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Random,
    Oldest,
    Newest,
}

pub use crate::model::objects::ProbeKind;

/// What happens at a timeline instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Graceful deletion (`kubectl delete pod`).
    DeletePod(PodTarget),
    /// The container's process exits with `exit_code`; the pod's `restartPolicy` decides what
    /// follows. `container: None` is the pod's first container.
    KillContainer {
        target: PodTarget,
        container: Option<String>,
        exit_code: i32,
    },
    /// The container answers `probe` with failures for `duration` (a hung app).
    FailProbe {
        target: PodTarget,
        probe: ProbeKind,
        duration: SimDuration,
    },
    /// `kubectl cordon`: no new pods are scheduled on the node.
    Cordon {
        node: String,
    },
    /// `kubectl uncordon`.
    Uncordon {
        node: String,
    },
    /// `kubectl drain --ignore-daemonsets`: cordon, then evict every pod on the node.
    Drain {
        node: String,
    },
    /// `kubectl rollout restart deployment/<name>`: a rolling update to a new template.
    RolloutRestart {
        deployment: String,
    },
    /// `kubectl rollout restart statefulset/<name>` (or `daemonset/<name>`): the same
    /// annotation on the set's template, which its controller rolls out.
    RolloutRestartSet {
        kind: SetKind,
        name: String,
    },
    /// `kubectl set image deployment/<name> <container>=<image>`.
    SetImage {
        deployment: String,
        container: String,
        image: String,
    },
    /// `kubectl apply -f` of one object.
    Apply(Box<Object>),
    /// `kubectl delete <kind> <name> -n <namespace>`.
    Delete {
        kind: String,
        namespace: String,
        name: String,
    },
    /// The kubelet stops heartbeating and the node stops forwarding.
    NodeDown {
        node: String,
    },
    NodeUp {
        node: String,
    },
    /// `kubectl scale deployment/<name> --replicas=N`.
    Scale {
        deployment: String,
        replicas: u32,
    },
}

impl Action {
    /// A short label for charts and logs: `deletePod app=http-label`.
    pub fn label(&self) -> String {
        match self {
            Action::DeletePod(target) => format!("deletePod {}", target.label()),
            Action::NodeDown { node } => format!("nodeDown {node}"),
            Action::NodeUp { node } => format!("nodeUp {node}"),
            Action::Scale {
                deployment,
                replicas,
            } => format!("scale {deployment}={replicas}"),
            Action::KillContainer { target, .. } => format!("killContainer {}", target.label()),
            Action::FailProbe {
                target,
                probe,
                duration,
            } => {
                format!(
                    "failProbe {} {} for {duration}",
                    probe.as_str(),
                    target.label()
                )
            }
            Action::Cordon { node } => format!("cordon {node}"),
            Action::Uncordon { node } => format!("uncordon {node}"),
            Action::Drain { node } => format!("drain {node}"),
            Action::RolloutRestart { deployment } => format!("rollout restart {deployment}"),
            Action::RolloutRestartSet { kind, name } => {
                format!("rollout restart {}/{name}", kind.resource())
            }
            Action::SetImage {
                deployment,
                container,
                image,
            } => {
                format!("set image {deployment} {container}={image}")
            }
            Action::Apply(obj) => {
                format!("apply {}/{}", obj.kind().to_lowercase(), obj.meta().name)
            }
            Action::Delete { kind, name, .. } => format!("delete {}/{name}", kind.to_lowercase()),
        }
    }
}

/// A StatefulSet or a DaemonSet, as a timeline event names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    StatefulSet,
    DaemonSet,
}

impl SetKind {
    /// The kind as written in `kind:`.
    pub fn kind(self) -> &'static str {
        match self {
            SetKind::StatefulSet => "StatefulSet",
            SetKind::DaemonSet => "DaemonSet",
        }
    }

    /// The key of `rolloutRestart` and kubectl's resource name: `statefulset`, `daemonset`.
    pub fn resource(self) -> &'static str {
        match self {
            SetKind::StatefulSet => "statefulset",
            SetKind::DaemonSet => "daemonset",
        }
    }
}
