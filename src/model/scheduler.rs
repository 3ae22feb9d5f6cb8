//! The scheduler: filters nodes, scores the rest, and says why when none fits.
//!
//! Filters (`pkg/scheduler/framework/plugins`): NodeUnschedulable, TaintToleration (the
//! `node.kubernetes.io/not-ready` and `unreachable` taints included), NodeAffinity
//! (`nodeSelector`), NodePorts (`hostPort`), NodeResourcesFit (requests and `maxPods`).
//! Scoring, simplified: fewest pods of the same owner on the node first (spreading), then the
//! least allocated node, ties broken at random as upstream's `selectHost` does.

use super::cluster::{Cluster, NodeId, Pod};
use super::objects::{Resources, Toleration};
use crate::engine::SimRng;
use rand::Rng;
use std::collections::BTreeMap;

/// Requested resources, pods and host ports in use on each node.
#[derive(Debug, Clone, Default)]
struct NodeUsage {
    requests: Resources,
    pods: u32,
    host_ports: Vec<(u16, &'static str)>,
}

fn usage(cluster: &Cluster) -> Vec<NodeUsage> {
    let mut out = vec![NodeUsage::default(); cluster.nodes.len()];
    for (_, p) in cluster.live_pods() {
        let Some(n) = p.node else { continue };
        let u = &mut out[n.index()];
        u.requests = u.requests + p.spec.requests();
        u.pods += 1;
        for c in &p.spec.containers {
            for port in &c.ports {
                if let Some(hp) = port.host_port {
                    u.host_ports.push((hp, port.protocol.as_str()));
                }
            }
        }
    }
    out
}

fn tolerates(tolerations: &[Toleration], key: &str, value: Option<&str>, effect: &str) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t.effect.as_deref().is_none_or(|e| e == effect);
        let key_ok = match &t.key {
            None => t.operator_exists,
            Some(k) => k == key && (t.operator_exists || t.value.as_deref() == value),
        };
        effect_ok && key_ok
    })
}

/// The taints the node carries now: its configured ones plus the lifecycle taints.
pub fn node_taints(cluster: &Cluster, node: NodeId) -> Vec<(String, Option<String>, String)> {
    let n = cluster.node(node);
    let mut taints: Vec<(String, Option<String>, String)> = n
        .cfg
        .taints
        .iter()
        .map(|t| (t.key.clone(), t.value.clone(), t.effect.clone()))
        .collect();
    if !n.ready {
        // `pkg/controller/nodelifecycle`: unreachable when the kubelet stopped reporting.
        let key = if n.up {
            "node.kubernetes.io/not-ready"
        } else {
            "node.kubernetes.io/unreachable"
        };
        taints.push((key.into(), None, "NoSchedule".into()));
        taints.push((key.into(), None, "NoExecute".into()));
    }
    if n.unschedulable {
        taints.push((
            "node.kubernetes.io/unschedulable".into(),
            None,
            "NoSchedule".into(),
        ));
    }
    taints
}

/// Picks a node for `pod`, or returns the `FailedScheduling` message.
pub fn schedule(cluster: &Cluster, pod: &Pod, rng: &mut SimRng) -> Result<NodeId, String> {
    let used = usage(cluster);
    let want = pod.spec.requests();
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    let mut feasible = Vec::new();
    for (i, node_usage) in used.iter().enumerate() {
        let id = NodeId(i as u32);
        match filter(cluster, id, pod, want, node_usage) {
            Ok(()) => feasible.push(id),
            Err(r) => *reasons.entry(r).or_default() += 1,
        }
    }
    if feasible.is_empty() {
        let n = cluster.nodes.len();
        let list: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
        // Wording of `framework.FitError.Error()` plus the preemption postfilter's note.
        return Err(format!(
            "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
            list.join(", ")
        ));
    }
    // Spread: the fewest pods of the same owner; then least allocated.
    let same_owner = |id: NodeId| {
        cluster
            .live_pods()
            .filter(|(_, p)| {
                p.node == Some(id)
                    && p.owner.is_some()
                    && p.owner == pod.owner
                    && p.deleted.is_none()
            })
            .count()
    };
    let score = |id: NodeId| {
        let n = cluster.node(id);
        let u = &used[id.index()];
        let free = |alloc: u64, req: u64| {
            (alloc.saturating_sub(req) * 100)
                .checked_div(alloc)
                .unwrap_or(0)
        };
        let least = free(
            n.cfg.allocatable.cpu_millis,
            u.requests.cpu_millis + want.cpu_millis,
        ) + free(
            n.cfg.allocatable.memory_bytes,
            u.requests.memory_bytes + want.memory_bytes,
        );
        (std::cmp::Reverse(same_owner(id)), least)
    };
    let best = feasible
        .iter()
        .map(|&id| score(id))
        .max()
        .expect("feasible is not empty");
    let top: Vec<NodeId> = feasible
        .into_iter()
        .filter(|&id| score(id) == best)
        .collect();
    Ok(top[rng.random_range(0..top.len())])
}

fn filter(
    cluster: &Cluster,
    id: NodeId,
    pod: &Pod,
    want: Resources,
    used: &NodeUsage,
) -> Result<(), String> {
    let node = cluster.node(id);
    if node.unschedulable
        && !tolerates(
            &pod.spec.tolerations,
            "node.kubernetes.io/unschedulable",
            None,
            "NoSchedule",
        )
    {
        return Err("node(s) were unschedulable".into());
    }
    for (key, value, effect) in node_taints(cluster, id) {
        if effect == "PreferNoSchedule" || key == "node.kubernetes.io/unschedulable" {
            continue;
        }
        if !tolerates(&pod.spec.tolerations, &key, value.as_deref(), &effect) {
            return Err(format!(
                "node(s) had untolerated taint {{{key}: {}}}",
                value.unwrap_or_default()
            ));
        }
    }
    if !pod
        .spec
        .node_selector
        .iter()
        .all(|(k, v)| node.cfg.labels.get(k) == Some(v))
    {
        return Err("node(s) didn't match Pod's node affinity/selector".into());
    }
    for c in &pod.spec.containers {
        for p in &c.ports {
            if let Some(hp) = p.host_port {
                if used.host_ports.contains(&(hp, p.protocol.as_str())) {
                    return Err("node(s) didn't have free ports for the requested pod ports".into());
                }
            }
        }
    }
    if used.pods + 1 > node.cfg.max_pods {
        return Err("Too many pods".into());
    }
    if used.requests.cpu_millis + want.cpu_millis > node.cfg.allocatable.cpu_millis {
        return Err("Insufficient cpu".into());
    }
    if used.requests.memory_bytes + want.memory_bytes > node.cfg.allocatable.memory_bytes {
        return Err("Insufficient memory".into());
    }
    Ok(())
}
