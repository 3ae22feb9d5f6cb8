//! Nodes that join or leave mid-run: everything the simulation keeps per node grows with a
//! node that registers, and a deleted node leaves every list that acts on nodes.
//!
//! - Joining ([`Simulation::add_node`]): the kubelet registers the Node object; the
//!   controller manager's range allocator gives it the next free range of the cluster CIDR
//!   (`pkg/controller/nodeipam/ipam/range_allocator.go`: the lowest range no node holds, so a
//!   deleted node's range is handed out again); the node lifecycle controller records
//!   `RegisteredNode` ("Registered Node <name> in Controller",
//!   `pkg/controller/nodelifecycle/node_lifecycle_controller.go`). The node is `NotReady` until
//!   the controller's next monitor pass (at most `nodeMonitorPeriod`, 5 s) sees it Ready;
//!   that pass retries the pending pods and runs the DaemonSet controllers, as for a node that
//!   returns. Its kube-proxy starts and syncs the rules of every Service at once.
//! - Leaving ([`Simulation::remove_node`]): the machine is gone. Pods still bound to it are
//!   removed (the pod garbage collector deletes pods bound to a node that no longer exists,
//!   `pkg/controller/podgc/gc_controller.go`, `gcOrphaned`; kubesim at once), the node leaves
//!   the scheduler's list, the DaemonSet controller's nodes and the node lifecycle
//!   controller's zones (`RemovingNode`).

use super::Simulation;
use crate::engine::SimTime;
use crate::model::cluster::NodeId;
use crate::model::config::NodeConfig;
use crate::net::ipam::{node_pod_cidrs_with, HostLocalIpam};
use ipnet::Ipv4Net;

/// Why a node could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The cluster CIDR has no free range left for the node's pods.
    #[error("no free pod range for node {node:?}: {reason}")]
    NoPodRange { node: String, reason: String },
    /// A node of that name exists.
    #[error("node {0:?} already exists")]
    Exists(String),
}

impl Simulation {
    /// Registers `cfg` as a new node now. It turns Ready at the node lifecycle controller's
    /// next pass; from then on the scheduler and the DaemonSets use it.
    pub(super) fn add_node(
        &mut self,
        now: SimTime,
        mut cfg: NodeConfig,
    ) -> Result<NodeId, JoinError> {
        if self.cluster.node_by_name(&cfg.name).is_some() {
            return Err(JoinError::Exists(cfg.name));
        }
        let cidr = match cfg.pod_cidr {
            Some(c) => c,
            None => self
                .next_pod_cidr()
                .map_err(|reason| JoinError::NoPodRange {
                    node: cfg.name.clone(),
                    reason,
                })?,
        };
        cfg.pod_cidr = Some(cidr);
        let proxy = super::dataplane::NodeProxy::for_mode(
            self.streams_rng.stream(&format!("kube-proxy/{}", cfg.name)),
            &self.scenario.net,
            &self.kube_proxy,
            &cfg,
            cidr,
        );
        self.zones.add_node(&cfg);
        self.disruption.add_node(&cfg);
        self.node_ips
            .entry(cfg.ip)
            .or_insert(NodeId(self.cluster.nodes.len() as u32));
        let name = cfg.name.clone();
        let id = self.cluster.add_node(cfg, now);
        self.scheduler.add_node();
        self.pod_cidrs.push(cidr);
        self.ipams.push(HostLocalIpam::new(cidr));
        self.proxies.push(proxy);
        self.node_down_since.push(None);
        self.history.node_added();
        self.log.normal(
            now,
            format!("node/{name}"),
            "RegisteredNode",
            format!("Node {name} event: Registered Node {name} in Controller"),
        );
        self.request_sync(id);
        Ok(id)
    }

    /// The lowest range of the cluster CIDR that no existing node holds.
    fn next_pod_cidr(&self) -> Result<Ipv4Net, String> {
        let mut given: Vec<Option<Ipv4Net>> = self
            .pod_cidrs
            .iter()
            .zip(&self.cluster.nodes)
            .filter(|(_, n)| n.removed.is_none())
            .map(|(c, _)| Some(*c))
            .collect();
        given.push(None);
        let net = &self.scenario.net;
        node_pod_cidrs_with(net.cluster_cidr, net.node_cidr_mask, &given)
            .map(|all| *all.last().expect("one range per node"))
            .map_err(|e| e.to_string())
    }

    /// Deletes the Node object `node` (its machine is gone): pods still bound to it go, and it
    /// leaves the scheduler's, the DaemonSets' and the node lifecycle controller's lists.
    pub(super) fn remove_node(&mut self, now: SimTime, node: NodeId) {
        if self.cluster.node(node).removed.is_some() {
            return;
        }
        let name = self.cluster.node(node).cfg.name.clone();
        // The node goes first: the controllers that its pods' removal wakes (a DaemonSet
        // above all) must not see it as a place for a new pod.
        let pods = self.cluster.pods_on(node);
        self.cluster.remove_node(node, now);
        for id in pods {
            self.pod_gone(now, id);
        }
        self.node_down_since[node.index()] = None;
        self.log.normal(
            now,
            format!("node/{name}"),
            "RemovingNode",
            format!("Node {name} event: Removing Node {name} from Controller"),
        );
        self.endpoints_changed();
        self.sync_all_daemon_sets();
    }
}
