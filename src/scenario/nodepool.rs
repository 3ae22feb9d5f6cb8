//! `spec.cluster.nodePool`: the node group the cluster autoscaler grows and shrinks
//! (`sim::nodepool`), as written and resolved.
//!
//! ```yaml
//! nodePool:
//!   name: pool              # nodes pool-1, pool-2, ...
//!   minSize: 1              # default 0; the first minSize nodes exist at time zero
//!   maxSize: 3
//!   provisioningDelay: 90s  # scale-up decision to the node registering
//!   template:               # a node of spec.cluster.nodes, without name or podCIDR
//!     ip: 192.168.0.21      # the first node's; the k-th node's is ip + k - 1
//!     allocatable: {cpu: "2", memory: 4Gi}
//! ```

use super::limits;
use super::spec::{nodes_at, Ctx, RawNode, Text};
use super::validate;
use crate::model::config::NodeConfig;
use crate::sim::config::NodePool;
use serde::Deserialize;
use std::net::Ipv4Addr;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNodePool {
    pub name: Option<String>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub provisioning_delay: Option<Text>,
    pub template: Option<RawNode>,
}

/// The pool, each problem at its key; its first `minSize` nodes are appended to `nodes`.
pub fn resolve(ctx: &mut Ctx, raw: &RawNodePool, nodes: &mut Vec<NodeConfig>) -> Option<NodePool> {
    let p = "spec.cluster.nodePool";
    let name = match raw.name.as_deref() {
        None | Some("") => {
            ctx.err(&format!("{p}.name"), "required");
            None
        }
        Some(n) => {
            // Its nodes are `<name>-<k>`: the name must leave room for the suffix.
            let problems = validate::dns1123_label(&format!("{n}-{}", limits::NODES));
            for m in &problems {
                ctx.err(
                    &format!("{p}.name"),
                    format!("invalid pool name {n:?}: {m}"),
                );
            }
            problems.is_empty().then(|| n.to_string())
        }
    };
    let max_size = match raw.max_size {
        None => {
            ctx.err(&format!("{p}.maxSize"), "required");
            None
        }
        Some(m) => Some(ctx.bounded(&format!("{p}.maxSize"), Some(m), 1, limits::NODES as i64, 1)),
    };
    let min_size = ctx.bounded(
        &format!("{p}.minSize"),
        raw.min_size,
        0,
        limits::NODES as i64,
        0,
    );
    if let Some(max) = max_size {
        if min_size > max {
            ctx.err(
                &format!("{p}.minSize"),
                format!("invalid value {min_size}: must be at most maxSize ({max})"),
            );
        }
    }
    let delay = match raw.provisioning_delay.as_ref() {
        None => {
            ctx.err(
                &format!("{p}.provisioningDelay"),
                "required: how long the cloud provider takes from the scale-up to the node registering, such as 90s",
            );
            None
        }
        Some(t) => ctx.dur(&format!("{p}.provisioningDelay"), Some(t)),
    };
    let tp = format!("{p}.template");
    let template = match raw.template.as_ref() {
        None => {
            ctx.err(&tp, "required: the node every new node is made from");
            None
        }
        Some(t) => {
            let mut t = t.clone();
            if t.name.is_some() {
                ctx.err(
                    &format!("{tp}.name"),
                    "must not be set: the pool names its nodes <name>-1, <name>-2, ...",
                );
            }
            if t.pod_cidr.is_some() {
                ctx.err(
                    &format!("{tp}.podCIDR"),
                    "must not be set: each new node gets the next free range of the cluster CIDR",
                );
            }
            t.name = Some(format!("{}-template", name.as_deref().unwrap_or("pool")));
            t.pod_cidr = None;
            let base = tp.clone();
            nodes_at(ctx, Some(&vec![t]), &base, &|_| base.clone()).pop()
        }
    };
    let (name, max_size, delay, template) = (name?, max_size?, delay?, template?);
    if min_size > max_size {
        return None;
    }
    let pool = NodePool {
        name,
        template,
        min_size,
        max_size,
        provisioning_delay: delay,
    };
    // The pool's names and addresses, at its largest, must not be another node's.
    let mut clash = false;
    for k in 1..=max_size {
        let n = pool.node(k);
        if let Some(other) = nodes.iter().find(|o| o.name == n.name || o.ip == n.ip) {
            let (what, at) = if other.name == n.name {
                (format!("name {:?}", n.name), format!("{p}.name"))
            } else {
                (format!("address {}", n.ip), format!("{tp}.ip"))
            };
            ctx.err(
                &at,
                format!(
                    "the pool's node {k} would take the {what} of node {:?} of spec.cluster.nodes",
                    other.name
                ),
            );
            clash = true;
            break;
        }
    }
    if u32::from(pool.template.ip)
        .checked_add(max_size - 1)
        .is_none()
        || Ipv4Addr::from(u32::from(pool.template.ip).wrapping_add(max_size - 1)) < pool.template.ip
    {
        ctx.err(
            &format!("{tp}.ip"),
            "the pool's addresses run past 255.255.255.255",
        );
        clash = true;
    }
    if clash {
        return None;
    }
    nodes.extend((1..=min_size).map(|k| pool.node(k)));
    Some(pool)
}
