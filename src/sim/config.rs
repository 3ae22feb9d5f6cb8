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
    /// `cluster.addons` contains `coredns`.
    pub coredns: bool,
    pub registry: Option<RegistryConfig>,
    pub behaviors: Vec<Behavior>,
    pub traffic: Vec<StreamSpec>,
    pub events: Vec<TimelineEvent>,
    /// Kubernetes objects in the order they appear (inline documents, then `spec.manifests`
    /// files in order), applied at time zero in that order.
    pub objects: Vec<Object>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Random,
    Oldest,
    Newest,
}

/// What happens at a timeline instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Graceful deletion (`kubectl delete pod`).
    DeletePod(PodTarget),
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
            Action::DeletePod(PodTarget::Name(n)) => format!("deletePod {n}"),
            Action::DeletePod(PodTarget::Selector { selector, .. }) => {
                let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("deletePod {}", sel.join(","))
            }
            Action::NodeDown { node } => format!("nodeDown {node}"),
            Action::NodeUp { node } => format!("nodeUp {node}"),
            Action::Scale {
                deployment,
                replicas,
            } => format!("scale {deployment}={replicas}"),
        }
    }
}
