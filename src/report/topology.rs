//! The topology: the cluster at the end of a run as a graph of nodes, pods, Services and their
//! endpoints, written as `topology.dot` and drawn as `topology.png`/`.svg`, so the lesson's
//! network diagram comes out of the student's own YAML.
//!
//! [`topology_graph`] builds a `petgraph` graph from the [`Outcome`] alone: every node, every pod
//! that still exists at the end ([`exists_at_end`]), every Service, and three kinds of edges
//! (a node runs a pod, a node's NodePort leads to a Service, a Service has a ready endpoint).
//! The DOT text and the drawing are both made from that graph, so they cannot disagree.
//!
//! The drawing shows the three networks of the lesson as three colours: the **ClusterIP network**
//! (purple band at the top: virtual Service addresses that exist only in kube-proxy's rules), the
//! **Pod IP network** (green, one /24 per node, holding the pods and their IPs) and the **NodeIP
//! network** (orange, each node's own address on the line at the bottom). Each Service's arrows
//! run to its ready endpoints; each node carries a badge for every NodePort it opens. The built-in
//! Services (`default/kubernetes`, `kube-system/kube-dns`) are in the graph and the DOT text but
//! in the drawing only as one line in the ClusterIP band: they have no pods of the student's.
//!
//! Layout is computed before anything is drawn (text measured with the embedded font), so the
//! picture's size follows the cluster: one column per node (plus one for unscheduled pods), as
//! tall as the fullest node. Nothing here reads the clock: the same outcome gives the same bytes.

use super::chart_style::{ChartSize, DrawError};
use super::fonts::{ensure_registered, font, style};
use super::format::{human_duration, thousands};
use super::limits::{largest, tally};
use super::tables::exists_at_end;
use crate::engine::FxHashMap;
use crate::model::objects::{PortRef, ServiceType};
use crate::sim::outcome::{NodeOutcome, Outcome, ServicePortOutcome};
use petgraph::graph::{Graph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

/// A vertex of the topology graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopoNode {
    /// A machine, with its address on the NodeIP network and the /24 its pods' IPs come from.
    Node {
        name: String,
        ip: Ipv4Addr,
        pod_cidr: String,
        /// `Ready`, `NotReady`, ...
        status: String,
    },
    /// A pod that exists at the end of the run, with its address on the Pod IP network.
    Pod {
        name: String,
        namespace: String,
        /// `None` before the sandbox has an address.
        ip: Option<Ipv4Addr>,
        /// The STATUS column of `kubectl get pods`.
        status: String,
        /// The READY column: `1/1`.
        ready: String,
        /// Requests it served (after warmup): what the picture ranks pods by at scale.
        served: u64,
    },
    /// A Service, with its virtual address on the ClusterIP network.
    Service {
        name: String,
        namespace: String,
        type_: ServiceType,
        /// `None` for a headless Service and ExternalName.
        cluster_ip: Option<Ipv4Addr>,
        /// The EXTERNAL-IP column.
        external_ip: String,
        ports: Vec<ServicePortOutcome>,
        /// `default/kubernetes` or `kube-system/kube-dns`, which every cluster has.
        built_in: bool,
        /// Requests its streams were served: what the picture ranks Services by at scale.
        served: u64,
    },
    /// Every node's own address at once, holding the NodePorts when there are too many to give
    /// each node its own edges (more than [`NODEPORT_EDGES`] node × NodePort pairs): every node
    /// opens every NodePort, so one vertex says it for all of them.
    EveryNode { nodes: usize },
    /// An endpoint address that is neither a pod nor a node at the end (the text as the
    /// outcome holds it, without the port).
    Address { address: String },
}

/// An edge of the topology graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopoEdge {
    /// Node → pod: the pod is bound to the node (and its IP is from the node's pod CIDR).
    Runs,
    /// Node → Service: the node accepts `node_port` on its own address for the Service's
    /// `port` (every node opens every NodePort); from [`TopoNode::EveryNode`] instead of from
    /// each node when nodes × NodePorts exceed [`NODEPORT_EDGES`].
    NodePort { node_port: u16, port: u16 },
    /// Service → pod (or node, or address): a ready endpoint at the end, on these target ports
    /// (in the order kube-proxy lists them).
    Endpoint { ports: Vec<u16> },
}

/// Whether a Service is one that every cluster has, not one of the scenario's.
fn is_built_in(namespace: &str, name: &str) -> bool {
    matches!(
        (namespace, name),
        ("default", "kubernetes") | ("kube-system", "kube-dns")
    )
}

/// Node × NodePort pairs the graph holds as one edge each; beyond, the NodePort edges leave
/// from one [`TopoNode::EveryNode`] vertex, so that 5,000 nodes and 10,000 NodePorts make
/// 10,000 edges, not 50 million.
pub const NODEPORT_EDGES: usize = 10_000;

/// The topology at the end of the run. Vertices are added in a fixed order (nodes, then pods in
/// creation order, then [`TopoNode::EveryNode`] if the NodePorts need it, then each Service
/// followed by any endpoint addresses it alone names), and edges likewise, so the same outcome
/// gives the same graph, index for index. Its size is linear in the objects.
pub fn topology_graph(outcome: &Outcome) -> Graph<TopoNode, TopoEdge> {
    let mut g = Graph::new();
    // Only looked up, never listed: hashed (150,000 pods' addresses at the limit).
    let mut nodes: FxHashMap<&str, NodeIndex> = FxHashMap::default();
    // The nodes that exist at the end (a node the cluster autoscaler removed is gone).
    let live: Vec<&NodeOutcome> = outcome
        .nodes
        .iter()
        .filter(|n| n.removed.is_none())
        .collect();
    for n in &live {
        let ix = g.add_node(TopoNode::Node {
            name: n.name.clone(),
            ip: n.ip,
            pod_cidr: n.pod_cidr.clone(),
            status: n.status.clone(),
        });
        nodes.insert(n.name.as_str(), ix);
    }
    // Endpoint addresses resolve to a pod first (pods hold the Pod IP network's addresses), then
    // to a node (a hostNetwork pod or the API server), else to an address vertex of their own.
    let mut by_ip: FxHashMap<String, NodeIndex> = FxHashMap::default();
    for p in outcome.pods.iter().filter(|p| exists_at_end(p)) {
        let ix = g.add_node(TopoNode::Pod {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            ip: p.ip,
            status: p.status.clone(),
            ready: p.ready.clone(),
            served: p.served,
        });
        if let Some(&node) = p.node.as_deref().and_then(|n| nodes.get(n)) {
            g.add_edge(node, ix, TopoEdge::Runs);
        }
        if let Some(ip) = p.ip {
            by_ip.entry(ip.to_string()).or_insert(ix);
        }
    }
    for n in &live {
        by_ip
            .entry(n.ip.to_string())
            .or_insert(nodes[n.name.as_str()]);
    }
    let node_ports: usize = outcome
        .services
        .iter()
        .flat_map(|s| &s.ports)
        .filter(|p| p.node_port.is_some())
        .count();
    let every_node = (live.len().saturating_mul(node_ports) > NODEPORT_EDGES)
        .then(|| g.add_node(TopoNode::EveryNode { nodes: live.len() }));
    // What opens a NodePort: every node, or the one summary of them all (made once, not once
    // per Service: 10,000 Services on 5,000 nodes).
    let openers: Vec<NodeIndex> = match every_node {
        Some(all) => vec![all],
        None => live.iter().map(|n| nodes[n.name.as_str()]).collect(),
    };
    for s in &outcome.services {
        let svc = g.add_node(TopoNode::Service {
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            type_: s.type_,
            cluster_ip: s.cluster_ip,
            external_ip: s.external_ip.clone(),
            ports: s.ports.clone(),
            built_in: is_built_in(&s.namespace, &s.name),
            served: s.served,
        });
        for &opener in &openers {
            for p in &s.ports {
                if let Some(node_port) = p.node_port {
                    let edge = TopoEdge::NodePort {
                        node_port,
                        port: p.port,
                    };
                    g.add_edge(opener, svc, edge);
                }
            }
        }
        // One edge per target, its ports in the order the endpoints list them.
        let mut targets: Vec<(NodeIndex, Vec<u16>)> = Vec::new();
        let mut target_at: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        for endpoint in &s.endpoints {
            let (host, port) = match endpoint.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (endpoint.as_str(), None),
            };
            let target = *by_ip.entry(host.to_string()).or_insert_with(|| {
                g.add_node(TopoNode::Address {
                    address: host.to_string(),
                })
            });
            let at = *target_at.entry(target).or_insert_with(|| {
                targets.push((target, Vec::new()));
                targets.len() - 1
            });
            if let Some(port) = port {
                if !targets[at].1.contains(&port) {
                    targets[at].1.push(port);
                }
            }
        }
        for (target, ports) in targets {
            g.add_edge(svc, target, TopoEdge::Endpoint { ports });
        }
    }
    g
}

// ---------------------------------------------------------------------------------------------
// DOT

/// Colours of the three networks, shared by the DOT text and the drawing.
const CLUSTER_HEX: &str = "#6f42c1";
const CLUSTER_FILL_HEX: &str = "#f3eefc";
const POD_HEX: &str = "#2e7d32";
const POD_FILL_HEX: &str = "#e8f5e9";
const NODEIP_HEX: &str = "#c4620f";
const NODEIP_FILL_HEX: &str = "#fff3e0";

/// A DOT string literal: quoted, with `"` and `\` escaped and line breaks as `\n` (Graphviz's
/// centred line break).
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The vertex's DOT id: its kind and its Kubernetes name, unique in the graph.
fn dot_id(node: &TopoNode) -> String {
    match node {
        TopoNode::Node { name, .. } => format!("node/{name}"),
        TopoNode::Pod {
            name, namespace, ..
        } => format!("pod/{namespace}/{name}"),
        TopoNode::Service {
            name, namespace, ..
        } => format!("svc/{namespace}/{name}"),
        TopoNode::Address { address } => format!("address/{address}"),
        TopoNode::EveryNode { .. } => "every-node".to_string(),
    }
}

/// The pods `node` runs, in creation order (the graph's order), not petgraph's newest-first
/// edge order.
fn pods_on(g: &Graph<TopoNode, TopoEdge>, node: NodeIndex) -> Vec<NodeIndex> {
    let mut pods: Vec<NodeIndex> = g
        .edges_directed(node, Direction::Outgoing)
        .filter(|e| matches!(e.weight(), TopoEdge::Runs))
        .map(|e| e.target())
        .collect();
    pods.sort();
    pods
}

/// The pods no node runs, in creation order.
fn unscheduled_pods(g: &Graph<TopoNode, TopoEdge>) -> Vec<NodeIndex> {
    g.node_indices()
        .filter(|&ix| {
            matches!(g[ix], TopoNode::Pod { .. })
                && g.edges_directed(ix, Direction::Incoming)
                    .all(|e| !matches!(e.weight(), TopoEdge::Runs))
        })
        .collect()
}

/// A vertex's DOT statement without its `;`: its id, `label`, then `attrs` (each with its `, `).
fn vertex(node: &TopoNode, label: &str, attrs: &str) -> String {
    format!("{} [label={}{attrs}]", q(&dot_id(node)), q(label))
}

/// Opens the DOT `subgraph id {` (`id` written as given) of one of the three networks, at
/// `indent`: a rounded frame filled with `fill`, its outline and `label` in `colour`, `extra`
/// attributes (each with its `; `) after the label.
fn open_network(
    out: &mut String,
    indent: &str,
    id: &str,
    label: &str,
    extra: &str,
    (colour, fill): (&str, &str),
) {
    let _ = writeln!(out, "{indent}subgraph {id} {{");
    let _ = writeln!(
        out,
        "{indent}  label={}; {extra}style=\"rounded,filled\"; color={}; fillcolor={}; fontcolor={};",
        q(label),
        q(colour),
        q(fill),
        q(colour)
    );
}

fn target_port(p: &ServicePortOutcome) -> String {
    match &p.target_port {
        PortRef::Number(n) => n.to_string(),
        PortRef::Name(name) => name.clone(),
    }
}

/// `8080 → 80/TCP, nodePort 30001` for each of the Service's ports.
fn port_lines(ports: &[ServicePortOutcome]) -> Vec<String> {
    ports
        .iter()
        .map(|p| {
            let mut line = format!("{} → {}/{}", p.port, target_port(p), p.protocol.as_str());
            if let Some(np) = p.node_port {
                let _ = write!(line, ", nodePort {np}");
            }
            line
        })
        .collect()
}

/// `ClusterIP 10.96.0.1`, `NodePort · ClusterIP 10.96.24.104`, `ClusterIP · headless
/// (clusterIP: None)`.
fn service_address_line(type_: ServiceType, cluster_ip: Option<Ipv4Addr>) -> String {
    match (type_, cluster_ip) {
        (ServiceType::ExternalName, _) => "ExternalName (DNS CNAME, no address)".to_string(),
        (ServiceType::ClusterIP, Some(ip)) => format!("ClusterIP {ip}"),
        (t, Some(ip)) => format!("{} · ClusterIP {ip}", t.as_str()),
        (t, None) => format!("{} · headless (clusterIP: None)", t.as_str()),
    }
}

/// The graph as Graphviz DOT text (`dot -Tsvg topology.dot`): the Services in a ClusterIP
/// cluster, each node as a `cluster_<node>` box in a NodeIP cluster, holding its address and a
/// Pod-network cluster with its pods; endpoint edges from Services to pods and NodePort edges
/// from nodes to Services. "Runs on" edges are the containment; they appear as invisible edges
/// from each pod to its node, which put the nodes' addresses below their pods.
pub fn topology_dot(outcome: &Outcome) -> String {
    let g = topology_graph(outcome);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// kubesim topology of scenario {} (seed {}) at the end of the run ({} simulated)",
        outcome.scenario,
        outcome.seed,
        human_duration(outcome.simulated)
    );
    out.push_str("// draw with: dot -Tsvg topology.dot -o topology-dot.svg\n");
    out.push_str("digraph topology {\n");
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"DejaVu Sans\", fontsize=16, newrank=true, nodesep=0.3, ranksep=0.7];",
        q(&format!("{}: topology at the end of the run", outcome.scenario))
    );
    out.push_str("  node [fontname=\"DejaVu Sans\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=white];\n");
    out.push_str("  edge [fontname=\"DejaVu Sans\", fontsize=10];\n");

    // ClusterIP network: the Services.
    out.push('\n');
    open_network(
        &mut out,
        "  ",
        "cluster_clusterip",
        "ClusterIP network: virtual Service addresses",
        "",
        (CLUSTER_HEX, CLUSTER_FILL_HEX),
    );
    for ix in g.node_indices() {
        if let TopoNode::Service {
            name,
            namespace,
            type_,
            cluster_ip,
            external_ip,
            ports,
            built_in,
            ..
        } = &g[ix]
        {
            let mut label = vec![
                format!("{namespace}/{name}"),
                service_address_line(*type_, *cluster_ip),
            ];
            if external_ip != "<none>" {
                label.push(format!("EXTERNAL-IP {external_ip}"));
            }
            label.extend(port_lines(ports));
            let extra = if *built_in {
                ", fontsize=9, style=\"rounded,dashed,filled\", fontcolor=\"#555555\""
            } else {
                ""
            };
            let attrs = format!(", color={}{extra}", q(CLUSTER_HEX));
            let _ = writeln!(out, "    {};", vertex(&g[ix], &label.join("\n"), &attrs));
        }
    }
    out.push_str("  }\n");

    // NodeIP network: one cluster per node, its pods inside its Pod network.
    out.push('\n');
    open_network(
        &mut out,
        "  ",
        "cluster_nodeip",
        "NodeIP network: the nodes' own addresses",
        "labelloc=b; ",
        (NODEIP_HEX, NODEIP_FILL_HEX),
    );
    let pod_line = |ix: NodeIndex| -> Option<String> {
        match &g[ix] {
            TopoNode::Pod {
                name,
                namespace,
                ip,
                status,
                ready,
                ..
            } => {
                let ip = ip.map_or_else(|| "<none>".to_string(), |ip| ip.to_string());
                let label = format!("{name}\n{ip}\n{status} {ready}");
                let ns = if namespace == "default" {
                    String::new()
                } else {
                    format!(", tooltip={}", q(namespace))
                };
                Some(vertex(
                    &g[ix],
                    &label,
                    &format!(", color={}{ns}", q(POD_HEX)),
                ))
            }
            _ => None,
        }
    };
    for ix in g.node_indices() {
        let TopoNode::Node {
            name,
            ip,
            pod_cidr,
            status,
        } = &g[ix]
        else {
            continue;
        };
        let _ = writeln!(out, "    subgraph {} {{", q(&format!("cluster_{name}")));
        let _ = writeln!(
            out,
            "      label={}; style=\"rounded,filled\"; color=\"#5a5a5a\"; fillcolor=white; fontcolor=\"#212121\";",
            q(&format!("node {name} ({status})"))
        );
        let node_ports: Vec<String> = g
            .edges_directed(ix, Direction::Outgoing)
            .filter_map(|e| match e.weight() {
                TopoEdge::NodePort { node_port, .. } => Some(format!("NodePort {node_port}")),
                _ => None,
            })
            .collect();
        let mut nic = vec![format!("{ip}")];
        nic.extend(node_ports);
        let attrs = format!(
            ", shape=box, style=filled, color={}, fillcolor={}",
            q(NODEIP_HEX),
            q(NODEIP_FILL_HEX)
        );
        let _ = writeln!(out, "      {};", vertex(&g[ix], &nic.join("\n"), &attrs));
        open_network(
            &mut out,
            "      ",
            &q(&format!("cluster_{name}_pods")),
            &format!("Pod network {pod_cidr}"),
            "",
            (POD_HEX, POD_FILL_HEX),
        );
        let pods = pods_on(&g, ix);
        if pods.is_empty() {
            let _ = writeln!(
                out,
                "        {} [label=\"no pods\", shape=plaintext, style=\"\"];",
                q(&format!("empty/{name}"))
            );
        }
        for pod in pods {
            if let Some(line) = pod_line(pod) {
                let _ = writeln!(out, "        {line};  // runs on {name}");
            }
        }
        out.push_str("      }\n    }\n");
    }
    // The nodes side by side, in their order, below their pods (see the "runs on" edges).
    let node_ids: Vec<String> = g
        .node_indices()
        .filter(|&ix| matches!(g[ix], TopoNode::Node { .. }))
        .map(|ix| q(&dot_id(&g[ix])))
        .collect();
    if node_ids.len() > 1 {
        let _ = writeln!(out, "    {{ rank=same; {}; }}", node_ids.join("; "));
        let _ = writeln!(out, "    {} [style=invis];", node_ids.join(" -> "));
    }
    for ix in g.node_indices() {
        if let TopoNode::EveryNode { nodes } = &g[ix] {
            let label = format!(
                "every node's address ({}): each opens every NodePort",
                plural(*nodes, "node", "nodes")
            );
            let attrs = format!(
                ", shape=box, style=\"filled,dashed\", color={}, fillcolor={}",
                q(NODEIP_HEX),
                q(NODEIP_FILL_HEX)
            );
            let _ = writeln!(out, "    {};", vertex(&g[ix], &label, &attrs));
        }
    }
    out.push_str("  }\n");

    // Pods without a node, and endpoint addresses that are neither pods nor nodes.
    let unscheduled = unscheduled_pods(&g);
    if !unscheduled.is_empty() {
        out.push_str("\n  subgraph cluster_unscheduled {\n");
        out.push_str("    label=\"not scheduled\"; style=\"rounded,dashed\"; color=\"#888888\";\n");
        for ix in unscheduled {
            if let Some(line) = pod_line(ix) {
                let _ = writeln!(out, "    {line};");
            }
        }
        out.push_str("  }\n");
    }
    for ix in g.node_indices() {
        if let TopoNode::Address { address } = &g[ix] {
            let attrs = ", shape=ellipse, style=dashed";
            let _ = writeln!(out, "  {};", vertex(&g[ix], address, attrs));
        }
    }

    // Edges: endpoints (Service → pod), then NodePorts (node → Service).
    out.push('\n');
    for e in g.edge_references() {
        let (from, to) = (dot_id(&g[e.source()]), dot_id(&g[e.target()]));
        match e.weight() {
            TopoEdge::Endpoint { ports } => {
                let ports: Vec<String> = ports.iter().map(|p| format!(":{p}")).collect();
                let _ = writeln!(
                    out,
                    "  {} -> {} [label={}, color={}, fontcolor={}];",
                    q(&from),
                    q(&to),
                    q(&ports.join(",")),
                    q(CLUSTER_HEX),
                    q(CLUSTER_HEX)
                );
            }
            TopoEdge::NodePort { node_port, port } => {
                let _ = writeln!(
                    out,
                    "  {} -> {} [label={}, color={}, fontcolor={}, style=dashed, constraint=false];",
                    q(&from),
                    q(&to),
                    q(&format!("{node_port} → {port}")),
                    q(NODEIP_HEX),
                    q(NODEIP_HEX)
                );
            }
            // Drawn as containment; the invisible edge (pod above its node) only shapes the layout.
            TopoEdge::Runs => {
                let _ = writeln!(
                    out,
                    "  {} -> {} [style=invis];  // {} runs on {}",
                    q(&to),
                    q(&from),
                    to,
                    from
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Drawing

const TEXT: RGBColor = RGBColor(33, 33, 33);
const MUTED: RGBColor = RGBColor(105, 105, 105);
const FAINT: RGBColor = RGBColor(150, 150, 150);
const RED: RGBColor = RGBColor(200, 35, 40);
const NODE_EDGE: RGBColor = RGBColor(90, 90, 90);
const NODE_FILL: RGBColor = RGBColor(252, 252, 252);
const CLUSTER: RGBColor = RGBColor(111, 66, 193);
const CLUSTER_FILL: RGBColor = RGBColor(243, 238, 252);
const POD: RGBColor = RGBColor(46, 125, 50);
const POD_FILL: RGBColor = RGBColor(232, 245, 233);
const NODEIP: RGBColor = RGBColor(196, 98, 15);
const NODEIP_FILL: RGBColor = RGBColor(255, 243, 224);

/// Arrow colours, one per drawn Service: the ClusterIP purple first, then colours that are
/// none of the three networks' (and not red, which means trouble).
const SERVICE_COLOURS: [RGBColor; 6] = [
    CLUSTER,
    RGBColor(31, 119, 180),
    RGBColor(23, 160, 180),
    RGBColor(227, 90, 170),
    RGBColor(140, 86, 75),
    RGBColor(100, 100, 100),
];

/// Outer margin, header band, and the fixed heights and gaps of the layout, in pixels.
const MARGIN: i32 = 24;
const HEADER: i32 = 78;
const POD_H: i32 = 50;
const POD_GAP: i32 = 8;
const LANE: i32 = 10;
const COL_GAP: i32 = 28;
const SVC_GAP: i32 = 28;
const BADGE_H: i32 = 22;
/// The third header line, when the picture summarises.
const NOTE_H: i32 = 22;
/// The line under a column's pods that counts those not drawn.
const MORE_H: i32 = 24;

/// Width of `text` in pixels, measured with the embedded font.
fn width(text: &str, size: f64, bold: bool) -> i32 {
    font(size, bold).box_size(text).map_or(0, |(w, _)| w as i32)
}

/// `text` cut at the end with `…` until it is at most `max` pixels wide.
fn fit(text: &str, size: f64, bold: bool, max: i32) -> String {
    if width(text, size, bold) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (1..chars.len()).rev() {
        let candidate: String = chars[..keep].iter().chain(std::iter::once(&'…')).collect();
        if width(&candidate, size, bold) <= max {
            return candidate;
        }
    }
    "…".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Rect {
    fn cx(self) -> i32 {
        (self.x0 + self.x1) / 2
    }
}

/// One line of text in a box: its text, size, weight and colour.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    size: f64,
    bold: bool,
    colour: RGBColor,
}

impl Line {
    fn new(text: impl Into<String>, size: f64, bold: bool, colour: RGBColor) -> Line {
        Line {
            text: text.into(),
            size,
            bold,
            colour,
        }
    }
    fn width(&self) -> i32 {
        width(&self.text, self.size, self.bold)
    }
}

/// A Service box in the ClusterIP band, or the dashed box counting the Services not drawn.
struct ServiceBox {
    rect: Rect,
    lines: Vec<Line>,
    colour: RGBColor,
    /// The y of its bus line, when it has endpoints among the drawn pods.
    bus: Option<i32>,
    /// x of every lane its bus must reach.
    lanes_x: Vec<i32>,
    /// The box of the Services not drawn: dashed, without a colour strip.
    others: bool,
}

struct PodBox {
    rect: Rect,
    name: String,
    ip: String,
    status: String,
    status_colour: RGBColor,
    running: bool,
    /// Arrows into the box: (colour, lane x, lane top y, y).
    arrows: Vec<(RGBColor, i32, i32, i32)>,
}

/// A node's box (or the box of pods not scheduled on any node, or of the nodes not drawn).
struct Column {
    rect: Rect,
    title: String,
    status: String,
    status_colour: RGBColor,
    /// The Pod network area and its label; `None` for the unscheduled column.
    pod_net: Option<(Rect, String)>,
    pods: Vec<PodBox>,
    /// Under the pods, when the column holds more than it draws: how many more and what they are.
    more_pods: Option<String>,
    /// Lines in place of pods: the box that counts the nodes not drawn.
    notes: Vec<Line>,
    /// NodePort badges above the address: their text.
    node_ports: Vec<String>,
    /// The node's address badge on the box's bottom edge.
    nic: Option<(Rect, String)>,
    /// Lanes running down the left of the box, from their bus: (colour, x, top y, lowest y).
    lanes: Vec<(RGBColor, i32, i32, i32)>,
    /// Where text and pod boxes start, right of the lanes.
    content_x: i32,
}

/// Everything the drawing needs, placed.
struct Plan {
    size: ChartSize,
    title: String,
    subtitle: String,
    /// A third header line saying what the picture left out, when it summarises.
    note: Option<String>,
    band: Rect,
    band_note: Option<String>,
    services: Vec<ServiceBox>,
    columns: Vec<Column>,
    /// The NodeIP band, and the y of the line joining the nodes' addresses.
    lan: Option<(Rect, i32)>,
    legend_y: i32,
}

fn status_colour(status: &str) -> RGBColor {
    match status {
        "Running" | "Ready" => POD,
        "Pending" | "ContainerCreating" | "Terminating" | "Completed" | "PodInitializing" => MUTED,
        _ => RED,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// Node columns the picture draws before it summarises; then [`TOPO_NODES_SUMMARISED`] nodes
/// (not Ready first, then those whose pods served the most) and a dashed box counting the rest.
pub(super) const TOPO_NODES: usize = 5;
const TOPO_NODES_SUMMARISED: usize = 4;
/// Pods a column draws before it summarises; then [`TOPO_PODS_SUMMARISED`] (not Running first,
/// then those that served the most) and a line counting the rest.
pub(super) const TOPO_PODS: usize = 12;
const TOPO_PODS_SUMMARISED: usize = 8;
/// Services the band draws before it summarises; then [`TOPO_SERVICES_SUMMARISED`] (those whose
/// streams were served the most, then those with the most endpoints) and a dashed box counting
/// the rest.
pub(super) const TOPO_SERVICES: usize = 6;
const TOPO_SERVICES_SUMMARISED: usize = 4;
/// NodePort badges a node carries before it summarises; then [`TOPO_BADGES_SUMMARISED`] (the
/// drawn Services' first) and a badge counting the rest.
const TOPO_BADGES: usize = 6;
const TOPO_BADGES_SUMMARISED: usize = 4;
/// The widest line of text in a Service box, in pixels: longer names are cut with `…`.
const SERVICE_TEXT: i32 = 420;

/// The largest topology picture, whatever the cluster: the limits above keep the layout within
/// it (the widest case is six Services with names cut to [`SERVICE_TEXT`]), and a layout that
/// would not fit is cut to it rather than drawn larger.
pub const TOPOLOGY_MAX: ChartSize = ChartSize {
    width: 3000,
    height: 2400,
};

/// The NodePorts `node` opens, as (Service, nodePort) edges: its own, or, when the graph holds
/// them once for every node, those of [`TopoNode::EveryNode`].
fn node_port_edges(
    g: &Graph<TopoNode, TopoEdge>,
    node: NodeIndex,
    every_node: Option<NodeIndex>,
) -> Vec<(NodeIndex, u16)> {
    g.edges_directed(every_node.unwrap_or(node), Direction::Outgoing)
        .filter_map(|e| match e.weight() {
            TopoEdge::NodePort { node_port, .. } => Some((e.target(), *node_port)),
            _ => None,
        })
        .collect()
}

/// Places every box, lane and label for `outcome`'s topology. Beyond the limits above it draws
/// the largest nodes, pods, Services and badges and counts the others in dashed boxes and lines,
/// with the totals in the subtitle; below them it draws everything.
fn plan(outcome: &Outcome) -> Plan {
    let g = topology_graph(outcome);
    let every_node = g
        .node_indices()
        .find(|&ix| matches!(g[ix], TopoNode::EveryNode { .. }));
    let served = |ix: NodeIndex| match &g[ix] {
        TopoNode::Pod { served, .. } | TopoNode::Service { served, .. } => *served,
        _ => 0,
    };
    let status_of = |ix: NodeIndex| match &g[ix] {
        TopoNode::Pod { status, .. } | TopoNode::Node { status, .. } => status.as_str(),
        _ => "",
    };
    let mut left_out: Vec<String> = Vec::new();

    // The Services drawn as boxes (all but the built-in ones, the busiest beyond the limit),
    // and the one-line note for the built-in ones.
    let services_all: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&ix| {
            matches!(
                g[ix],
                TopoNode::Service {
                    built_in: false,
                    ..
                }
            )
        })
        .collect();
    let endpoints_of = |svc: NodeIndex| {
        g.edges_directed(svc, Direction::Outgoing)
            .filter(|e| matches!(e.weight(), TopoEdge::Endpoint { .. }))
            .count()
    };
    let (drawn, hidden_services): (Vec<NodeIndex>, Vec<NodeIndex>) =
        if services_all.len() > TOPO_SERVICES {
            let top = largest(&services_all, TOPO_SERVICES_SUMMARISED, |&s| {
                (served(s), endpoints_of(s))
            });
            let (drawn, hidden) = split_chosen(&services_all, top);
            left_out.push(format!(
                "the {} busiest of {}",
                drawn.len(),
                plural(services_all.len(), "Service", "Services")
            ));
            (drawn, hidden)
        } else {
            (services_all.clone(), Vec::new())
        };
    let built_in: Vec<String> = g
        .node_indices()
        .filter_map(|ix| match &g[ix] {
            TopoNode::Service {
                name,
                cluster_ip,
                ports,
                built_in: true,
                ..
            } => {
                let ip = cluster_ip.map_or_else(|| "None".to_string(), |ip| ip.to_string());
                let mut ports: Vec<u16> = ports.iter().map(|p| p.port).collect();
                ports.dedup();
                let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
                Some(format!("{name} {ip}:{}", ports.join(",")))
            }
            _ => None,
        })
        .collect();
    let band_note =
        (!built_in.is_empty()).then(|| format!("built-in, not drawn: {}", built_in.join(" · ")));

    // Columns: the nodes in order (the first beyond the limit), then pods on no node, each
    // column's pods capped.
    let node_all: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&ix| matches!(g[ix], TopoNode::Node { .. }))
        .collect();
    let (node_ixs, hidden_nodes): (Vec<NodeIndex>, Vec<NodeIndex>) = if node_all.len() > TOPO_NODES
    {
        let top = largest(&node_all, TOPO_NODES_SUMMARISED, |&n| {
            let pods = pods_on(&g, n);
            (
                status_of(n) != "Ready",
                pods.iter().map(|&p| served(p)).sum::<u64>(),
                pods.len(),
            )
        });
        let (shown, hidden) = split_chosen(&node_all, top);
        left_out.push(format!(
            "{} of {} (not Ready first, then the busiest)",
            shown.len(),
            plural(node_all.len(), "node", "nodes")
        ));
        (shown, hidden)
    } else {
        (node_all.clone(), Vec::new())
    };
    let unscheduled = unscheduled_pods(&g);
    let pods_total = g
        .node_weights()
        .filter(|n| matches!(n, TopoNode::Pod { .. }))
        .count();
    let mut column_pods: Vec<(Option<NodeIndex>, Vec<NodeIndex>)> = node_ixs
        .iter()
        .map(|&n| (Some(n), pods_on(&g, n)))
        .collect();
    if !unscheduled.is_empty() {
        column_pods.push((None, unscheduled));
    }
    let mut more_pods: Vec<Option<String>> = Vec::new();
    for (_, pods) in &mut column_pods {
        if pods.len() > TOPO_PODS {
            let top = largest(pods, TOPO_PODS_SUMMARISED, |&p| {
                (status_of(p) != "Running", served(p))
            });
            let (shown, hidden) = split_chosen(pods, top);
            more_pods.push(Some(format!(
                "+{} ({})",
                plural(hidden.len(), "more pod", "more pods"),
                tally(hidden.iter().map(|&p| status_of(p)), 3)
            )));
            *pods = shown;
        } else {
            more_pods.push(None);
        }
    }
    let pods_cut = more_pods.iter().any(Option::is_some);
    if pods_cut {
        left_out.push(format!(
            "at most {TOPO_PODS_SUMMARISED} pods a node (not Running first, then the busiest)"
        ));
    }
    let drawn_pods: BTreeSet<NodeIndex> = column_pods
        .iter()
        .flat_map(|(_, pods)| pods.iter().copied())
        .collect();

    // NodePort badges, the same on every node: the drawn Services' first beyond the limit.
    let badges: Vec<String> = match node_ixs.first().or(node_all.first()) {
        None => Vec::new(),
        Some(&n) => {
            let mut ports = node_port_edges(&g, n, every_node);
            ports.sort();
            if ports.len() > TOPO_BADGES {
                ports.sort_by_key(|(svc, port)| (!drawn.contains(svc), *svc, *port));
                let more = ports.len() - TOPO_BADGES_SUMMARISED;
                let mut texts: Vec<String> = ports[..TOPO_BADGES_SUMMARISED]
                    .iter()
                    .map(|&(svc, port)| node_port_badge(&g, svc, port))
                    .collect();
                texts.push(format!(
                    "+{}",
                    plural(more, "more NodePort", "more NodePorts")
                ));
                left_out.push(format!("{TOPO_BADGES_SUMMARISED} NodePorts a node"));
                texts
            } else {
                ports
                    .iter()
                    .map(|&(svc, port)| node_port_badge(&g, svc, port))
                    .collect()
            }
        }
    };

    // Lanes: one per drawn Service with an endpoint among the drawn pods.
    let endpoint_pods = |svc: NodeIndex| -> Vec<NodeIndex> {
        let mut pods: Vec<NodeIndex> = g
            .edges_directed(svc, Direction::Outgoing)
            .filter(|e| matches!(e.weight(), TopoEdge::Endpoint { .. }))
            .map(|e| e.target())
            .filter(|t| drawn_pods.contains(t))
            .collect();
        pods.sort();
        pods
    };
    let lane_of: BTreeMap<NodeIndex, usize> = drawn
        .iter()
        .filter(|&&s| !endpoint_pods(s).is_empty())
        .enumerate()
        .map(|(lane, &s)| (s, lane))
        .collect();
    let lanes = lane_of.len() as i32;
    let colour_of = |svc: NodeIndex| -> RGBColor {
        let k = drawn.iter().position(|&s| s == svc).unwrap_or(0);
        SERVICE_COLOURS[k % SERVICE_COLOURS.len()]
    };

    // Column width: the widest pod name, node title or badge, plus the lanes' gutter.
    let gutter = 14 + lanes * LANE;
    let mut inner = 200;
    for (node, pods) in &column_pods {
        for &p in pods {
            if let TopoNode::Pod { name, .. } = &g[p] {
                inner = inner.max(width(name, 14.0, true) + 20);
            }
        }
        if let Some(n) = node {
            if let TopoNode::Node { name, pod_cidr, .. } = &g[*n] {
                inner = inner.max(width(name, 17.0, true) + 90);
                inner = inner.max(width(&format!("Pod network {pod_cidr}"), 13.0, true) + 12);
            }
            for text in &badges {
                inner = inner.max(width(text, 13.0, false) + 24);
            }
        }
    }
    let inner = inner.min(320);
    let col_w = gutter + inner + 12;
    // The box counting the nodes not drawn.
    let more_nodes: Vec<Line> = if hidden_nodes.is_empty() {
        Vec::new()
    } else {
        let pods: usize = hidden_nodes.iter().map(|&n| pods_on(&g, n).len()).sum();
        vec![
            Line::new(
                plural(pods, "pod on them", "pods on them"),
                14.0,
                false,
                TEXT,
            ),
            Line::new(
                tally(hidden_nodes.iter().map(|&n| status_of(n)), 3),
                14.0,
                false,
                MUTED,
            ),
            Line::new("each with its own /24", 13.0, false, POD),
            Line::new("and every NodePort", 13.0, false, CLUSTER),
        ]
    };
    let more_nodes_title = format!("+{}", plural(hidden_nodes.len(), "more node", "more nodes"));
    let more_w = if more_nodes.is_empty() {
        0
    } else {
        more_nodes
            .iter()
            .map(Line::width)
            .chain([width(&more_nodes_title, 17.0, true)])
            .max()
            .unwrap_or(0)
            + 40
    };
    let columns_w = column_pods.len() as i32 * col_w
        + (column_pods.len() as i32 - 1).max(0) * COL_GAP
        + if more_w > 0 { COL_GAP + more_w } else { 0 };

    // Service boxes: their lines, then their widths.
    let mut services: Vec<ServiceBox> = drawn
        .iter()
        .map(|&s| {
            let TopoNode::Service {
                name,
                namespace,
                type_,
                cluster_ip,
                external_ip,
                ports,
                ..
            } = &g[s]
            else {
                unreachable!("drawn holds Services only")
            };
            let title = if namespace == "default" {
                name.clone()
            } else {
                format!("{namespace}/{name}")
            };
            let mut lines = vec![
                Line::new(fit(&title, 16.0, true, SERVICE_TEXT), 16.0, true, TEXT),
                Line::new(
                    fit(
                        &service_address_line(*type_, *cluster_ip),
                        14.0,
                        false,
                        SERVICE_TEXT,
                    ),
                    14.0,
                    false,
                    CLUSTER,
                ),
            ];
            if external_ip != "<none>" {
                lines.push(Line::new(
                    fit(
                        &format!("EXTERNAL-IP {external_ip}"),
                        14.0,
                        false,
                        SERVICE_TEXT,
                    ),
                    14.0,
                    false,
                    TEXT,
                ));
            }
            let port_lines = port_lines(ports);
            let more = port_lines.len().saturating_sub(3);
            for line in port_lines.into_iter().take(3) {
                lines.push(Line::new(
                    fit(&line, 14.0, false, SERVICE_TEXT),
                    14.0,
                    false,
                    TEXT,
                ));
            }
            if more > 0 {
                lines.push(Line::new(format!("+{more} more ports"), 13.0, false, MUTED));
            }
            let mut pods = 0;
            let mut pods_drawn = 0;
            let mut others = Vec::new();
            for e in g.edges_directed(s, Direction::Outgoing) {
                if let TopoEdge::Endpoint { ports } = e.weight() {
                    match &g[e.target()] {
                        TopoNode::Pod { .. } => {
                            pods += 1;
                            pods_drawn += usize::from(drawn_pods.contains(&e.target()));
                        }
                        other => {
                            let host = match other {
                                TopoNode::Node { ip, .. } => ip.to_string(),
                                TopoNode::Address { address } => address.clone(),
                                _ => String::new(),
                            };
                            let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
                            others.push(format!("{host}:{}", ports.join(",")));
                        }
                    }
                }
            }
            others.reverse();
            if pods + others.len() == 0 && *type_ != ServiceType::ExternalName {
                lines.push(Line::new("no ready endpoints", 14.0, true, RED));
            } else if pods > 0 {
                let mut text = format!("→ {}", plural(pods, "ready endpoint", "ready endpoints"));
                if pods_drawn < pods {
                    let _ = write!(text, " ({} drawn)", thousands(pods_drawn as u64));
                }
                lines.push(Line::new(text, 13.0, false, MUTED));
            }
            if !others.is_empty() {
                // At most a line's worth of addresses is ever shown.
                others.truncate(40);
                lines.push(Line::new(
                    fit(&format!("→ {}", others.join(", ")), 13.0, false, 360),
                    13.0,
                    false,
                    MUTED,
                ));
            }
            service_box(lines, colour_of(s), false)
        })
        .collect();
    if !hidden_services.is_empty() {
        let no_endpoints = hidden_services
            .iter()
            .filter(|&&s| endpoints_of(s) == 0)
            .count();
        let mut lines = vec![
            Line::new(
                format!(
                    "+{}",
                    plural(hidden_services.len(), "more Service", "more Services")
                ),
                16.0,
                true,
                TEXT,
            ),
            Line::new(
                tally(
                    hidden_services.iter().map(|&s| match &g[s] {
                        TopoNode::Service { type_, .. } => type_.as_str(),
                        _ => "",
                    }),
                    3,
                ),
                14.0,
                false,
                CLUSTER,
            ),
        ];
        if no_endpoints > 0 {
            lines.push(Line::new(
                format!("{} with no ready endpoints", thousands(no_endpoints as u64)),
                14.0,
                true,
                RED,
            ));
        }
        lines.push(Line::new(
            "drawn: those whose streams served most",
            13.0,
            false,
            MUTED,
        ));
        services.push(service_box(lines, MUTED, true));
    }
    let services_w = services.iter().map(|b| b.rect.x1).sum::<i32>()
        + (services.len() as i32 - 1).max(0) * SVC_GAP;
    let note_w = band_note.as_deref().map_or(0, |n| {
        width(n, 12.0, false) + width(BAND_LABEL, 14.0, true) + 40
    });

    // The legend's entries, measured, to know how wide the picture must be.
    let legend = legend_entries();
    let legend_w: i32 = legend.iter().map(|(_, t)| width(t, 13.0, false) + 52).sum();

    let content_w = columns_w
        .max(services_w + 32)
        .max(note_w)
        .max(legend_w.min(1100));
    let width_px = (content_w + 2 * MARGIN + 16).max(1000);

    // Vertical layout: header, ClusterIP band, buses, node boxes, NodeIP band, legend.
    let note = (!left_out.is_empty()).then(|| {
        format!(
            "drawn: {}; the others are counted in dashed boxes",
            left_out.join(", ")
        )
    });
    let band_top = HEADER + if note.is_some() { NOTE_H } else { 0 };
    let svc_top = band_top + 36;
    let svc_h = services.iter().map(|b| b.rect.y1).max().unwrap_or(0);
    let band_bottom = if services.is_empty() {
        svc_top + 26
    } else {
        svc_top + svc_h + 16
    };
    let band = Rect {
        x0: MARGIN,
        y0: band_top,
        x1: width_px - MARGIN,
        y1: band_bottom,
    };
    let mut x = (width_px - services_w) / 2;
    for b in &mut services {
        let w = b.rect.x1;
        b.rect = Rect {
            x0: x,
            y0: svc_top,
            x1: x + w,
            y1: svc_top + b.rect.y1,
        };
        x += w + SVC_GAP;
    }
    let bus_top = band_bottom + 14;
    let nodes_top = bus_top + lanes * LANE + 14;

    // Column contents.
    let cols_x0 = (width_px - columns_w) / 2;
    let pods_top_off = 44 + 30; // node header, then the Pod network label
    let max_pods = column_pods
        .iter()
        .map(|(_, p)| p.len())
        .max()
        .unwrap_or(0)
        .max(1) as i32;
    let pods_h = max_pods * (POD_H + POD_GAP) - POD_GAP + if pods_cut { MORE_H } else { 0 };
    let max_badges = if column_pods.iter().any(|(n, _)| n.is_some()) {
        badges.len() as i32
    } else {
        0
    };
    let pod_net_bottom = nodes_top + pods_top_off + pods_h + 12;
    let badges_h = if max_badges > 0 {
        10 + max_badges * (BADGE_H + 6)
    } else {
        0
    };
    let nodes_bottom = pod_net_bottom + badges_h + 8 + BADGE_H / 2 + 6;

    let mut columns = Vec::new();
    for (k, (node, pods)) in column_pods.iter().enumerate() {
        let x0 = cols_x0 + k as i32 * (col_w + COL_GAP);
        let rect = Rect {
            x0,
            y0: nodes_top,
            x1: x0 + col_w,
            y1: nodes_bottom,
        };
        let pod_x0 = x0 + gutter;
        let pod_x1 = rect.x1 - 12;
        let mut boxes = Vec::new();
        for (i, &p) in pods.iter().enumerate() {
            let TopoNode::Pod {
                name,
                ip,
                status,
                ready,
                ..
            } = &g[p]
            else {
                continue;
            };
            let y0 = nodes_top + pods_top_off + i as i32 * (POD_H + POD_GAP);
            let mut arrows = Vec::new();
            let mut into: Vec<NodeIndex> = g
                .edges_directed(p, Direction::Incoming)
                .filter(|e| matches!(e.weight(), TopoEdge::Endpoint { .. }))
                .map(|e| e.source())
                .filter(|s| lane_of.contains_key(s))
                .collect();
            into.sort();
            for (j, s) in into.iter().enumerate() {
                let lane = lane_of[s] as i32;
                let lane_x = x0 + 10 + lane * LANE;
                let y = y0 + 14 + (j as i32 % 4) * 7;
                arrows.push((colour_of(*s), lane_x, bus_top + lane * LANE, y));
            }
            boxes.push(PodBox {
                rect: Rect {
                    x0: pod_x0,
                    y0,
                    x1: pod_x1,
                    y1: y0 + POD_H,
                },
                name: fit(name, 14.0, true, pod_x1 - pod_x0 - 16),
                ip: ip.map_or_else(|| "<none>".to_string(), |ip| ip.to_string()),
                status: format!("{status}  {ready}"),
                status_colour: status_colour(status),
                running: status == "Running",
                arrows,
            });
        }
        // Lanes: from the bus down to the lowest arrow of each Service in this column.
        let mut lanes_here: BTreeMap<i32, (RGBColor, i32, i32)> = BTreeMap::new();
        for b in &boxes {
            for &(colour, lx, top, y) in &b.arrows {
                let e = lanes_here.entry(lx).or_insert((colour, top, y));
                e.2 = e.2.max(y);
            }
        }
        let lanes_col: Vec<(RGBColor, i32, i32, i32)> = lanes_here
            .into_iter()
            .map(|(lx, (c, top, y))| (c, lx, top, y))
            .collect();
        let (title, status, status_col, pod_net, node_ports, nic) = match node {
            Some(n) => {
                let TopoNode::Node {
                    name,
                    ip,
                    pod_cidr,
                    status,
                } = &g[*n]
                else {
                    unreachable!("columns hold nodes")
                };
                let pod_net = Rect {
                    x0: x0 + 8,
                    y0: nodes_top + 44,
                    x1: rect.x1 - 8,
                    y1: pod_net_bottom,
                };
                let nic_text = ip.to_string();
                let nic_w = width(&nic_text, 14.0, true) + 24;
                let cx = rect.cx();
                let nic = Rect {
                    x0: cx - nic_w / 2,
                    y0: nodes_bottom - BADGE_H / 2,
                    x1: cx + nic_w / 2,
                    y1: nodes_bottom + BADGE_H / 2,
                };
                let title_w = pod_x1 - pod_x0 - width(status, 13.0, true) - 16;
                (
                    fit(name, 17.0, true, title_w),
                    status.clone(),
                    status_colour(status),
                    Some((pod_net, format!("Pod network {pod_cidr}"))),
                    badges.clone(),
                    Some((nic, nic_text)),
                )
            }
            None => (
                "not scheduled".to_string(),
                "no node".to_string(),
                MUTED,
                None,
                Vec::new(),
                None,
            ),
        };
        columns.push(Column {
            rect,
            title,
            status,
            status_colour: status_col,
            pod_net,
            pods: boxes,
            more_pods: more_pods[k].clone(),
            notes: Vec::new(),
            node_ports,
            nic,
            lanes: lanes_col,
            content_x: pod_x0,
        });
    }
    if more_w > 0 {
        let x0 = columns.last().map_or(cols_x0, |c| c.rect.x1 + COL_GAP);
        columns.push(Column {
            rect: Rect {
                x0,
                y0: nodes_top,
                x1: x0 + more_w,
                y1: nodes_bottom,
            },
            title: more_nodes_title,
            status: String::new(),
            status_colour: MUTED,
            pod_net: None,
            pods: Vec::new(),
            more_pods: None,
            notes: more_nodes,
            node_ports: Vec::new(),
            nic: None,
            lanes: Vec::new(),
            content_x: x0 + 14,
        });
    }

    // Buses: each Service's horizontal line at its own height, reaching all its lanes.
    for (k, &s) in drawn.iter().enumerate() {
        let Some(&lane) = lane_of.get(&s) else {
            continue;
        };
        let lanes_x: Vec<i32> = columns
            .iter()
            .flat_map(|c| c.lanes.iter())
            .filter(|(c, _, _, _)| *c == colour_of(s))
            .map(|&(_, x, _, _)| x)
            .collect();
        services[k].bus = Some(bus_top + lane as i32 * LANE);
        services[k].lanes_x = lanes_x;
    }

    let lan = (!node_all.is_empty()).then(|| {
        let top = nodes_bottom + BADGE_H / 2 + 10;
        (
            Rect {
                x0: MARGIN,
                y0: top,
                x1: width_px - MARGIN,
                y1: top + 56,
            },
            top + 20,
        )
    });
    let legend_y = lan.map_or(nodes_bottom + 24, |(r, _)| r.y1 + 22);
    let height_px = legend_y + 14 + MARGIN;

    let mut subtitle = format!(
        "seed {}, after {} simulated: {}, {}, {}",
        outcome.seed,
        human_duration(outcome.simulated),
        plural(node_all.len(), "node", "nodes"),
        plural(pods_total, "pod", "pods"),
        plural(services_all.len(), "Service", "Services"),
    );
    if !built_in.is_empty() {
        let _ = write!(subtitle, " (+{} built-in)", built_in.len());
    }
    Plan {
        // Never larger than TOPOLOGY_MAX: the limits keep the layout inside it, and this is the
        // guarantee if they did not.
        size: ChartSize {
            width: (width_px as u32).min(TOPOLOGY_MAX.width),
            height: (height_px as u32).min(TOPOLOGY_MAX.height),
        },
        title: format!("{}: topology at the end of the run", outcome.scenario),
        subtitle,
        note,
        band,
        band_note,
        services,
        columns,
        lan,
        legend_y,
    }
}

/// A Service box of `lines`, sized to them (placed later).
fn service_box(lines: Vec<Line>, colour: RGBColor, others: bool) -> ServiceBox {
    let w = lines.iter().map(Line::width).max().unwrap_or(0) + 34;
    let h = 14 + 22 + (lines.len() as i32 - 1) * 19 + 8;
    ServiceBox {
        rect: Rect {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        },
        lines,
        colour,
        bus: None,
        lanes_x: Vec::new(),
        others,
    }
}

/// `all` split into the items at the indices `chosen` (in `all`'s order) and the rest.
fn split_chosen(all: &[NodeIndex], chosen: Vec<usize>) -> (Vec<NodeIndex>, Vec<NodeIndex>) {
    let mut keep = vec![false; all.len()];
    for i in chosen {
        keep[i] = true;
    }
    let (mut shown, mut hidden) = (Vec::new(), Vec::new());
    for (i, &ix) in all.iter().enumerate() {
        if keep[i] {
            shown.push(ix);
        } else {
            hidden.push(ix);
        }
    }
    (shown, hidden)
}

const BAND_LABEL: &str = "ClusterIP network";

/// `NodePort 30001 → http-svc`.
fn node_port_badge(g: &Graph<TopoNode, TopoEdge>, svc: NodeIndex, node_port: u16) -> String {
    match &g[svc] {
        TopoNode::Service { name, .. } => format!("NodePort {node_port} → {name}"),
        _ => format!("NodePort {node_port}"),
    }
}

/// The legend: a swatch kind and its text.
fn legend_entries() -> Vec<(Swatch, &'static str)> {
    vec![
        (
            Swatch::Fill(CLUSTER_FILL, CLUSTER),
            "ClusterIP network: virtual Service IPs",
        ),
        (
            Swatch::Fill(POD_FILL, POD),
            "Pod IP network: a /24 per node",
        ),
        (
            Swatch::Fill(NODEIP_FILL, NODEIP),
            "NodeIP network: each node's own IP",
        ),
        (Swatch::Arrow, "Service → ready endpoint"),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Swatch {
    Fill(RGBColor, RGBColor),
    Arrow,
}

/// The size the topology picture needs for `outcome` (the SVG uses the same units).
pub fn topology_size(outcome: &Outcome) -> ChartSize {
    ensure_registered();
    plan(outcome).size
}

fn de(e: impl std::fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

fn rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: Rect,
    fill: RGBColor,
    border: RGBColor,
    border_w: u32,
) -> Result<(), DrawError> {
    area.draw(&Rectangle::new([(r.x0, r.y0), (r.x1, r.y1)], fill.filled()))
        .map_err(de)?;
    if border_w > 0 {
        area.draw(&Rectangle::new(
            [(r.x0, r.y0), (r.x1, r.y1)],
            border.stroke_width(border_w),
        ))
        .map_err(de)?;
    }
    Ok(())
}

fn dashed_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: Rect,
    colour: RGBColor,
) -> Result<(), DrawError> {
    let path = [
        (r.x0, r.y0),
        (r.x1, r.y0),
        (r.x1, r.y1),
        (r.x0, r.y1),
        (r.x0, r.y0),
    ];
    area.draw(&DashedPathElement::new(path, 6, 4, colour.stroke_width(1)))
        .map_err(de)
}

fn line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(i32, i32)],
    colour: RGBColor,
    w: u32,
) -> Result<(), DrawError> {
    area.draw(&PathElement::new(points.to_vec(), colour.stroke_width(w)))
        .map_err(de)
}

/// A right-pointing arrowhead whose tip is at `(x, y)`.
fn arrowhead<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    colour: RGBColor,
) -> Result<(), DrawError> {
    area.draw(&Polygon::new(
        vec![(x, y), (x - 8, y - 4), (x - 8, y + 4)],
        colour.filled(),
    ))
    .map_err(de)
}

fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    pos: (i32, i32),
    st: &TextStyle,
) -> Result<(), DrawError> {
    area.draw_text(s, st, pos).map_err(de)
}

/// Draws the topology onto any backend's drawing area (of [`topology_size`]).
pub fn draw_topology<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    draw_plan(root, &plan(outcome))
}

/// Draws a laid-out topology (planned once for both the PNG and the SVG: at 150,000 pods the
/// plan costs more than the drawing).
fn draw_plan<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plan: &Plan,
) -> Result<(), DrawError> {
    root.fill(&WHITE).map_err(de)?;
    let w = plan.size.width as i32;

    text(
        root,
        &plan.title,
        (w / 2, 16),
        &style(22.0, true, TEXT, HPos::Center, VPos::Top),
    )?;
    text(
        root,
        &plan.subtitle,
        (w / 2, 50),
        &style(15.0, false, MUTED, HPos::Center, VPos::Top),
    )?;
    if let Some(note) = &plan.note {
        text(
            root,
            note,
            (w / 2, 50 + NOTE_H),
            &style(14.0, false, MUTED, HPos::Center, VPos::Top),
        )?;
    }

    // ClusterIP band and its Services.
    let band = plan.band;
    rect(root, band, CLUSTER_FILL, CLUSTER, 1)?;
    text(
        root,
        BAND_LABEL,
        (band.x0 + 12, band.y0 + 10),
        &style(14.0, true, CLUSTER, HPos::Left, VPos::Top),
    )?;
    let label_w = width(BAND_LABEL, 14.0, true);
    text(
        root,
        "virtual Service IPs: no machine has them, kube-proxy's rules rewrite them",
        (band.x0 + 22 + label_w, band.y0 + 12),
        &style(12.0, false, CLUSTER, HPos::Left, VPos::Top),
    )?;
    if let Some(note) = &plan.band_note {
        text(
            root,
            note,
            (band.x1 - 12, band.y0 + 12),
            &style(12.0, false, MUTED, HPos::Right, VPos::Top),
        )?;
    }
    if plan.services.is_empty() {
        text(
            root,
            "no Services",
            (band.cx(), band.y0 + 44),
            &style(13.0, false, MUTED, HPos::Center, VPos::Center),
        )?;
    }

    // Buses and the drops from each Service to its bus, under everything else.
    for s in &plan.services {
        let Some(bus) = s.bus else { continue };
        let drop_x = s.rect.cx();
        line(root, &[(drop_x, s.rect.y1), (drop_x, bus)], s.colour, 2)?;
        let lo = s
            .lanes_x
            .iter()
            .copied()
            .chain([drop_x])
            .min()
            .unwrap_or(drop_x);
        let hi = s
            .lanes_x
            .iter()
            .copied()
            .chain([drop_x])
            .max()
            .unwrap_or(drop_x);
        line(root, &[(lo, bus), (hi, bus)], s.colour, 2)?;
    }
    for s in &plan.services {
        let r = s.rect;
        if s.others {
            rect(root, r, WHITE, WHITE, 0)?;
            dashed_rect(root, r, CLUSTER)?;
        } else {
            rect(root, r, WHITE, CLUSTER, 1)?;
            root.draw(&Rectangle::new(
                [(r.x0, r.y0), (r.x0 + 6, r.y1)],
                s.colour.filled(),
            ))
            .map_err(de)?;
        }
        let mut y = r.y0 + 14;
        for (i, l) in s.lines.iter().enumerate() {
            text(
                root,
                &l.text,
                (r.x0 + 18, y),
                &style(l.size, l.bold, l.colour, HPos::Left, VPos::Top),
            )?;
            y += if i == 0 { 22 } else { 19 };
        }
    }

    // NodeIP band behind the nodes' address badges.
    if let Some((lan, lan_y)) = plan.lan {
        rect(root, lan, NODEIP_FILL, NODEIP, 1)?;
        let xs: Vec<i32> = plan
            .columns
            .iter()
            .filter_map(|c| c.nic.as_ref().map(|(r, _)| r.cx()))
            .collect();
        if let (Some(&lo), Some(&hi)) = (xs.first(), xs.last()) {
            line(
                root,
                &[
                    ((lo - 40).min(lan.x0 + 16), lan_y),
                    ((hi + 40).max(lan.x1 - 16), lan_y),
                ],
                NODEIP,
                3,
            )?;
            for x in xs {
                line(root, &[(x, lan.y0 - 12), (x, lan_y)], NODEIP, 3)?;
            }
        }
        text(
            root,
            "NodeIP network",
            (lan.x0 + 12, lan.y1 - 10),
            &style(14.0, true, NODEIP, HPos::Left, VPos::Bottom),
        )?;
        text(
            root,
            "each node's own address: NodePorts listen on every one of them",
            (
                lan.x0 + 22 + width("NodeIP network", 14.0, true),
                lan.y1 - 11,
            ),
            &style(12.0, false, NODEIP, HPos::Left, VPos::Bottom),
        )?;
    }

    for c in &plan.columns {
        draw_column(root, c)?;
    }
    draw_legend(root, plan.legend_y, w)
}

fn draw_column<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Column,
) -> Result<(), DrawError> {
    let r = c.rect;
    if c.nic.is_some() {
        rect(root, r, NODE_FILL, NODE_EDGE, 2)?;
    } else {
        rect(root, r, WHITE, WHITE, 0)?;
        dashed_rect(root, r, FAINT)?;
    }
    text(
        root,
        &c.title,
        (c.content_x, r.y0 + 12),
        &style(17.0, true, TEXT, HPos::Left, VPos::Top),
    )?;
    text(
        root,
        &c.status,
        (r.x1 - 14, r.y0 + 14),
        &style(13.0, true, c.status_colour, HPos::Right, VPos::Top),
    )?;
    if let Some((net, label)) = &c.pod_net {
        rect(root, *net, POD_FILL, POD, 1)?;
        text(
            root,
            label,
            (net.x1 - 8, net.y0 + 8),
            &style(13.0, true, POD, HPos::Right, VPos::Top),
        )?;
    }
    // Lanes first, so that pod boxes and arrowheads sit on top of them.
    for &(colour, x, top, bottom) in &c.lanes {
        line(root, &[(x, top), (x, bottom)], colour, 2)?;
    }
    let mut y = r.y0 + 50;
    for l in &c.notes {
        text(
            root,
            &l.text,
            (c.content_x, y),
            &style(l.size, l.bold, l.colour, HPos::Left, VPos::Top),
        )?;
        y += 22;
    }
    if let (Some(more), Some(last)) = (&c.more_pods, c.pods.last()) {
        text(
            root,
            more,
            (last.rect.x0 + 4, last.rect.y1 + 8),
            &style(13.0, false, MUTED, HPos::Left, VPos::Top),
        )?;
    }
    if c.pods.is_empty() && c.notes.is_empty() {
        let y = c.pod_net.as_ref().map_or(r.y0 + 70, |(n, _)| n.y0 + 40);
        text(
            root,
            "no pods",
            (r.cx(), y),
            &style(13.0, false, MUTED, HPos::Center, VPos::Top),
        )?;
    }
    for p in &c.pods {
        let border = if p.running { POD } else { FAINT };
        rect(root, p.rect, WHITE, border, 1)?;
        for &(colour, lx, _, y) in &p.arrows {
            line(root, &[(lx, y), (p.rect.x0 - 2, y)], colour, 2)?;
            arrowhead(root, (p.rect.x0, y), colour)?;
        }
        text(
            root,
            &p.name,
            (p.rect.x0 + 10, p.rect.y0 + 7),
            &style(14.0, true, TEXT, HPos::Left, VPos::Top),
        )?;
        text(
            root,
            &p.ip,
            (p.rect.x0 + 10, p.rect.y1 - 7),
            &style(14.0, false, POD, HPos::Left, VPos::Bottom),
        )?;
        text(
            root,
            &p.status,
            (p.rect.x1 - 10, p.rect.y1 - 7),
            &style(13.0, false, p.status_colour, HPos::Right, VPos::Bottom),
        )?;
    }
    // NodePort badges, then the address badge on the bottom edge.
    if let Some((net, _)) = &c.pod_net {
        let mut y = net.y1 + 10;
        for badge in &c.node_ports {
            let bw = width(badge, 13.0, false) + 20;
            let b = Rect {
                x0: r.cx() - bw / 2,
                y0: y,
                x1: r.cx() + bw / 2,
                y1: y + BADGE_H,
            };
            rect(root, b, CLUSTER_FILL, CLUSTER, 1)?;
            text(
                root,
                badge,
                (b.cx(), b.y0 + BADGE_H / 2),
                &style(13.0, false, CLUSTER, HPos::Center, VPos::Center),
            )?;
            y += BADGE_H + 6;
        }
    }
    if let Some((nic, label)) = &c.nic {
        rect(root, *nic, NODEIP, NODEIP, 1)?;
        text(
            root,
            label,
            (nic.cx(), nic.y0 + BADGE_H / 2),
            &style(14.0, true, WHITE, HPos::Center, VPos::Center),
        )?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    y: i32,
    w: i32,
) -> Result<(), DrawError> {
    let entries = legend_entries();
    let total: i32 = entries
        .iter()
        .map(|(_, t)| width(t, 13.0, false) + 52)
        .sum::<i32>()
        - 24;
    let mut x = (w - total) / 2;
    for (swatch, label) in entries {
        match swatch {
            Swatch::Fill(fill, border) => {
                rect(
                    root,
                    Rect {
                        x0: x,
                        y0: y - 8,
                        x1: x + 20,
                        y1: y + 8,
                    },
                    fill,
                    border,
                    1,
                )?;
            }
            Swatch::Arrow => {
                line(root, &[(x, y), (x + 16, y)], CLUSTER, 2)?;
                arrowhead(root, (x + 22, y), CLUSTER)?;
            }
        }
        text(
            root,
            label,
            (x + 28, y),
            &style(13.0, false, TEXT, HPos::Left, VPos::Center),
        )?;
        x += width(label, 13.0, false) + 52;
    }
    Ok(())
}

/// Draws the topology into a PNG file at `path`.
pub fn write_topology_png(outcome: &Outcome, path: &Path) -> Result<(), DrawError> {
    write_topology_pictures(outcome, Some(path), None)
}

/// Draws the topology into an SVG file at `path`.
pub fn write_topology_svg(outcome: &Outcome, path: &Path) -> Result<(), DrawError> {
    write_topology_pictures(outcome, None, Some(path))
}

/// Draws the topology into a PNG file, an SVG file or both, from one plan.
pub fn write_topology_pictures(
    outcome: &Outcome,
    png: Option<&Path>,
    svg: Option<&Path>,
) -> Result<(), DrawError> {
    ensure_registered();
    let plan = plan(outcome);
    let (w, h) = (plan.size.width, plan.size.height);
    if let Some(path) = png {
        let root = crate::report::fonts::Glyphs::raster(BitMapBackend::new(path, (w, h)))
            .into_drawing_area();
        draw_plan(&root, &plan)?;
        root.present().map_err(de)?;
    }
    if let Some(path) = svg {
        let root =
            crate::report::fonts::Glyphs::vector(SVGBackend::new(path, (w, h))).into_drawing_area();
        draw_plan(&root, &plan)?;
        root.present().map_err(de)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{
        crowded_outcome, large_outcome, picture_dir, png_size, sample_outcome, svg_elements, Scale,
        AT_SCALE,
    };
    use crate::sim::outcome::NodeOutcome;

    /// `nodes` nodes with `per_node` pods each behind `http-svc`; with `extra_service`, a
    /// ClusterIP Service in another namespace whose endpoints are every other pod; the two
    /// built-in Services as every cluster has them.
    fn cluster(nodes: usize, per_node: usize, extra_service: bool) -> Outcome {
        let mut o = sample_outcome();
        let template = o.pods[1].clone();
        let builtin = |name: &str, namespace: &str, ip: [u8; 4], port: u16| {
            let mut svc = o.services[1].clone();
            svc.name = name.to_string();
            svc.namespace = namespace.to_string();
            svc.cluster_ip = Some(Ipv4Addr::from(ip));
            svc.ports[0].port = port;
            svc.endpoints.clear();
            svc
        };
        let kubernetes = builtin("kubernetes", "default", [10, 96, 0, 1], 443);
        let dns = builtin("kube-dns", "kube-system", [10, 96, 0, 10], 53);
        o.nodes = (0..nodes)
            .map(|i| NodeOutcome {
                name: format!("node-{}", i + 1),
                ip: Ipv4Addr::new(192, 168, 0, 24 + i as u8),
                status: if i == 2 { "NotReady" } else { "Ready" }.to_string(),
                pod_cidr: format!("10.244.{i}.0/24"),
                kubelet_version: "v1.34.0".to_string(),
                created: crate::engine::SimTime::ZERO,
                removed: None,
            })
            .collect();
        o.pods = (0..nodes * per_node)
            .map(|k| {
                let (node, j) = (k % nodes, k / nodes);
                let mut p = template.clone();
                p.name = format!("http-deployment-7fbd98865c-{:05x}", k * 7919 % 1_048_576);
                p.node = Some(format!("node-{}", node + 1));
                p.ip = Some(Ipv4Addr::new(10, 244, node as u8, 2 + j as u8));
                if k == 4 {
                    p.status = "CrashLoopBackOff".to_string();
                    p.ready = "0/1".to_string();
                }
                p
            })
            .collect();
        let ips: Vec<Ipv4Addr> = o.pods.iter().filter_map(|p| p.ip).collect();
        o.services[0].endpoints = ips.iter().map(|ip| format!("{ip}:80")).collect();
        let mut services = vec![kubernetes, dns, o.services[0].clone()];
        if extra_service {
            let mut api = o.services[1].clone();
            api.name = "orders-api".to_string();
            api.namespace = "shop".to_string();
            api.cluster_ip = Some(Ipv4Addr::new(10, 104, 7, 201));
            api.ports[0].port = 9090;
            api.endpoints = ips
                .iter()
                .step_by(2)
                .map(|ip| format!("{ip}:8080"))
                .collect();
            services.push(api);
        }
        o.services = services;
        o
    }

    /// No two boxes of a kind overlap, every box is inside the picture and its parent, and
    /// every pod's name fits its box.
    fn assert_clean(plan: &Plan) {
        let (w, h) = (plan.size.width as i32, plan.size.height as i32);
        let inside = |inner: Rect, outer: Rect| {
            inner.x0 >= outer.x0
                && inner.x1 <= outer.x1
                && inner.y0 >= outer.y0
                && inner.y1 <= outer.y1
        };
        let canvas = Rect {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        };
        for pair in plan.columns.windows(2) {
            assert!(pair[0].rect.x1 < pair[1].rect.x0, "columns overlap");
        }
        for pair in plan.services.windows(2) {
            assert!(pair[0].rect.x1 < pair[1].rect.x0, "services overlap");
        }
        for s in &plan.services {
            assert!(inside(s.rect, plan.band), "service outside its band");
            let widest = s.lines.iter().map(Line::width).max().unwrap_or(0);
            assert!(
                widest + 18 < s.rect.x1 - s.rect.x0,
                "service text overflows"
            );
        }
        assert!(inside(plan.band, canvas));
        for c in &plan.columns {
            assert!(inside(c.rect, canvas), "column outside the picture");
            assert!(c.rect.y0 > plan.band.y1);
            for pair in c.pods.windows(2) {
                assert!(pair[0].rect.y1 < pair[1].rect.y0, "pods overlap");
            }
            for p in &c.pods {
                let area = c.pod_net.as_ref().map_or(c.rect, |(r, _)| *r);
                assert!(inside(p.rect, area), "pod outside its node");
                assert!(width(&p.name, 14.0, true) + 16 <= p.rect.x1 - p.rect.x0);
            }
        }
        if let Some((lan, _)) = plan.lan {
            assert!(inside(lan, canvas));
            assert!(plan.legend_y > lan.y1);
        }
        assert!(plan.legend_y + 12 < h);
    }

    /// One to five nodes, one to ten pods each, one or two Services: clean layouts, and PNGs
    /// to look at under `KUBESIM_CHART_DIR`.
    #[test]
    fn layouts_stay_clean_from_one_to_five_nodes() {
        ensure_registered();
        let keep = std::env::var_os("KUBESIM_CHART_DIR").map(std::path::PathBuf::from);
        for (nodes, per_node, extra) in [
            (1, 1, false),
            (1, 3, false),
            (3, 1, false),
            (3, 4, true),
            (5, 10, true),
            (2, 10, false),
        ] {
            let outcome = cluster(nodes, per_node, extra);
            let plan = plan(&outcome);
            assert_eq!(plan.columns.len(), nodes);
            assert_eq!(plan.services.len(), 1 + usize::from(extra));
            assert!(plan
                .band_note
                .as_deref()
                .unwrap()
                .contains("kube-dns 10.96.0.10:53"));
            assert_clean(&plan);
            if let Some(dir) = &keep {
                std::fs::create_dir_all(dir).unwrap();
                let png = dir.join(format!("topology-{nodes}x{per_node}.png"));
                write_topology_png(&outcome, &png).unwrap();
            }
        }
        assert_clean(&plan(&sample_outcome()));
        assert_clean(&plan(&crowded_outcome()));
    }

    fn count(g: &Graph<TopoNode, TopoEdge>, f: impl Fn(&TopoNode) -> bool) -> usize {
        g.node_weights().filter(|n| f(n)).count()
    }

    #[test]
    fn graph_holds_nodes_pods_at_the_end_and_services() {
        let g = topology_graph(&sample_outcome());
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Node { .. })), 2);
        // Five pods ever existed; the deleted one is gone, the Pending one is still there.
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Pod { .. })), 4);
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Service { .. })), 2);
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Address { .. })), 0);
        assert_eq!(g.node_count(), 8);
        let runs = g
            .edge_weights()
            .filter(|e| matches!(e, TopoEdge::Runs))
            .count();
        assert_eq!(runs, 3, "the Pending pod runs nowhere");
    }

    #[test]
    fn services_point_at_their_endpoint_pods() {
        let g = topology_graph(&sample_outcome());
        let mut endpoints: Vec<(String, String, Vec<u16>)> = g
            .edge_references()
            .filter_map(|e| match (e.weight(), &g[e.source()], &g[e.target()]) {
                (
                    TopoEdge::Endpoint { ports },
                    TopoNode::Service { name: svc, .. },
                    TopoNode::Pod { name: pod, .. },
                ) => Some((svc.clone(), pod.clone(), ports.clone())),
                _ => None,
            })
            .collect();
        endpoints.sort();
        assert_eq!(
            endpoints,
            [
                (
                    "http-svc".to_string(),
                    "http-deployment-5d9c7b9c4d-7fhd2".to_string(),
                    vec![80]
                ),
                (
                    "http-svc".to_string(),
                    "http-deployment-5d9c7b9c4d-q9zrt".to_string(),
                    vec![80]
                ),
            ]
        );
        // NodePort 30001 on every node.
        let node_ports: Vec<u16> = g
            .edge_weights()
            .filter_map(|e| match e {
                TopoEdge::NodePort { node_port, port } => {
                    assert_eq!(*port, 8080);
                    Some(*node_port)
                }
                _ => None,
            })
            .collect();
        assert_eq!(node_ports, [30001, 30001]);
    }

    #[test]
    fn unknown_endpoint_addresses_get_a_vertex_and_node_addresses_resolve_to_the_node() {
        let mut outcome = sample_outcome();
        outcome.services[1].endpoints = vec![
            "192.168.0.24:6443".to_string(),
            "203.0.113.9:80".to_string(),
        ];
        let g = topology_graph(&outcome);
        let targets: Vec<String> = g
            .edge_references()
            .filter(|e| matches!(e.weight(), TopoEdge::Endpoint { .. }))
            .map(|e| dot_id(&g[e.target()]))
            .collect();
        assert!(targets.contains(&"node/docker-desktop".to_string()));
        assert!(targets.contains(&"address/203.0.113.9".to_string()));
    }

    #[test]
    fn dot_has_a_cluster_per_node_and_the_service_addresses() {
        let dot = topology_dot(&sample_outcome());
        assert!(dot.starts_with("// kubesim topology of scenario seed-tutorial"));
        assert!(dot.contains("digraph topology {"));
        assert!(dot.contains("subgraph \"cluster_docker-desktop\" {"));
        assert!(dot.contains("subgraph \"cluster_worker-1\" {"));
        assert!(dot.contains("subgraph cluster_clusterip {"));
        assert!(dot.contains("subgraph cluster_unscheduled {"));
        assert!(dot.contains("ClusterIP 10.96.112.37"));
        assert!(dot.contains("nodePort 30001"));
        assert!(dot.contains("NodePort 30001"));
        assert!(dot.contains(
            "\"svc/default/http-svc\" -> \"pod/default/http-deployment-5d9c7b9c4d-7fhd2\" [label=\":80\""
        ));
        assert!(!dot.contains("x7k2p"), "the deleted pod is not drawn");
        // Balanced braces: every subgraph is closed.
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    }

    #[test]
    fn dot_escapes_quotes() {
        assert_eq!(q(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(q("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn same_outcome_same_bytes() {
        let outcome = sample_outcome();
        assert_eq!(topology_dot(&outcome), topology_dot(&outcome));
        let dir = std::env::temp_dir().join(format!("kubesim-topology-det-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = Vec::new();
        for run in 0..2 {
            let png = dir.join(format!("{run}.png"));
            let svg = dir.join(format!("{run}.svg"));
            write_topology_png(&outcome, &png).unwrap();
            write_topology_svg(&outcome, &svg).unwrap();
            files.push((std::fs::read(&png).unwrap(), std::fs::read(&svg).unwrap()));
        }
        assert_eq!(files[0], files[1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Draws the sample, the crowded and an empty cluster as PNG and SVG; `KUBESIM_CHART_DIR`
    /// keeps them somewhere to look at.
    #[test]
    fn topology_renders_to_png_and_svg() {
        let dir = std::env::var_os("KUBESIM_CHART_DIR").map_or_else(
            || std::env::temp_dir().join(format!("kubesim-topology-{}", std::process::id())),
            std::path::PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let mut empty = sample_outcome();
        empty.pods.clear();
        empty.services.clear();
        for (prefix, outcome) in [
            ("", sample_outcome()),
            ("crowded-", crowded_outcome()),
            ("empty-", empty),
        ] {
            let png = dir.join(format!("{prefix}topology.png"));
            write_topology_png(&outcome, &png).unwrap();
            let bytes = std::fs::read(&png).unwrap();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
            let svg = dir.join(format!("{prefix}topology.svg"));
            write_topology_svg(&outcome, &svg).unwrap();
            let svg = std::fs::read_to_string(&svg).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("topology at the end"));
        }
        let svg = std::fs::read_to_string(dir.join("topology.svg")).unwrap();
        assert!(svg.contains("10.96.112.37") && svg.contains("NodePort 30001"));
        assert!(svg.contains("192.168.0.24") && svg.contains("10.244.1.3"));
        if std::env::var_os("KUBESIM_CHART_DIR").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Draws the topology as PNG (kept in `dir`) and SVG.
    fn draw_both(outcome: &Outcome, dir: &Path) -> (Vec<u8>, String) {
        let png = dir.join(format!("{}-topology.png", outcome.scenario));
        write_topology_png(outcome, &png).unwrap();
        let size = topology_size(outcome);
        let mut svg = String::new();
        {
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut svg,
                (size.width, size.height),
            ))
            .into_drawing_area();
            draw_topology(&root, outcome).unwrap();
            root.present().unwrap();
        }
        (std::fs::read(&png).unwrap(), svg)
    }

    /// 5,000 nodes, 12,000 pods and 10,000 Services (2,000 of them NodePorts): the picture
    /// draws 4 nodes, 8 pods a column, 4 Services and 4 badges, counts the rest in dashed boxes
    /// with the totals, stays inside TOPOLOGY_MAX without cutting anything, and draws a bounded
    /// number of elements at twice the pods and Services. The graph and the DOT text keep every
    /// object, with the NodePorts on one `every-node` vertex.
    #[test]
    fn topology_summarises_at_scale() {
        ensure_registered();
        let (dir, remove) = picture_dir("topology-at-scale");
        let outcome = large_outcome(AT_SCALE);
        let plan = plan(&outcome);
        assert_clean(&plan);
        assert!(plan.size.width <= TOPOLOGY_MAX.width && plan.size.height <= TOPOLOGY_MAX.height);
        assert_eq!(
            plan.columns.len(),
            4 + 1 + 1,
            "4 nodes, not scheduled, the others"
        );
        assert_eq!(plan.services.len(), 4 + 1, "4 Services and the others");
        assert!(plan.columns.iter().all(|c| c.pods.len() <= 8));
        assert!(plan
            .subtitle
            .ends_with("5,000 nodes, 12,000 pods, 10,000 Services"));
        let note = plan.note.as_deref().unwrap();
        for part in [
            "the 4 busiest of 10,000 Services",
            "4 of 5,000 nodes (not Ready first, then the busiest)",
            "at most 8 pods a node",
            "4 NodePorts a node",
        ] {
            assert!(note.contains(part), "{note}");
        }
        // The NotReady node is drawn first among the nodes.
        assert_eq!(plan.columns[0].title, "worker-pool-a-00007");

        let (png, svg) = draw_both(&outcome, &dir);
        let (w, h) = png_size(&png);
        assert!(
            w <= TOPOLOGY_MAX.width && h <= TOPOLOGY_MAX.height,
            "{w}x{h}"
        );
        assert!(png.len() < 600_000, "PNG {} bytes", png.len());
        assert!(svg.len() < 200_000, "SVG {} bytes", svg.len());
        for text in [
            "+4,996 more nodes",
            "+9,996 more Services",
            "+1,706 more pods (1,706 Pending)",
            "+1,996 more NodePorts",
            "→ 10,286 ready endpoints (",
            "with no ready endpoints",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }

        let mut bigger = large_outcome(Scale {
            pods: 24_000,
            services: 20_000,
            ..AT_SCALE
        });
        bigger.scenario = "at-twice-the-scale".to_string();
        // Twice the pods fill more of the 8 places a column has; the count stays bounded.
        let (_, svg_big) = draw_both(&bigger, &dir);
        for svg in [&svg, &svg_big] {
            assert!(svg_elements(svg) < 1_200, "{} elements", svg_elements(svg));
        }

        // Every object is in the graph and the DOT text; the NodePorts leave from one vertex.
        let g = topology_graph(&outcome);
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Pod { .. })), 12_000);
        assert_eq!(count(&g, |n| matches!(n, TopoNode::Service { .. })), 10_000);
        assert_eq!(
            count(&g, |n| matches!(n, TopoNode::EveryNode { nodes: 5_000 })),
            1
        );
        let node_ports = g
            .edge_weights()
            .filter(|e| matches!(e, TopoEdge::NodePort { .. }))
            .count();
        assert_eq!(node_ports, 2_000);
        let dot = topology_dot(&outcome);
        assert!(dot.contains("\"every-node\" [label=\"every node's address (5,000 nodes)"));
        assert_eq!(dot.matches(" -> \"svc/").count(), 2_000);
        assert!(dot.len() < 20_000_000, "{} bytes of DOT", dot.len());
        if remove {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// One node and 12,000 replicas (`replicas: 12000`, 110 pods a node): the node's column
    /// and the not-scheduled one each draw 8 pods and count the rest.
    #[test]
    fn one_node_and_twelve_thousand_pods() {
        ensure_registered();
        let outcome = large_outcome(Scale {
            nodes: 1,
            services: 3,
            ..AT_SCALE
        });
        let plan = plan(&outcome);
        assert_clean(&plan);
        assert_eq!(plan.columns.len(), 2);
        assert_eq!(
            plan.columns[0].more_pods.as_deref(),
            Some("+10,278 more pods (9,494 Running, 784 CrashLoopBackOff)")
        );
        assert_eq!(
            plan.columns[1].more_pods.as_deref(),
            Some("+1,706 more pods (1,706 Pending)")
        );
        assert!(plan.size.height < 1400, "{:?}", plan.size);
    }

    /// The widest layouts below the limits, with the longest names Kubernetes allows: five
    /// nodes, six Services, twelve pods a node, six NodePorts. They fit TOPOLOGY_MAX uncut.
    #[test]
    fn the_longest_names_fit_the_largest_picture() {
        ensure_registered();
        let long = |prefix: &str, n: usize| format!("{prefix}{}", "x".repeat(n - prefix.len()));
        let mut outcome = large_outcome(Scale {
            nodes: 5,
            pods: 60,
            services: 6,
            events: 0,
            streams: 1,
        });
        for (i, n) in outcome.nodes.iter_mut().enumerate() {
            n.name = long(&format!("node-{i}-"), 253);
        }
        let nodes: Vec<String> = outcome.nodes.iter().map(|n| n.name.clone()).collect();
        for (k, p) in outcome.pods.iter_mut().enumerate() {
            p.name = long(&format!("pod-{k}-"), 253);
            p.namespace = long("ns-", 63);
            if let Some(node) = &mut p.node {
                *node = nodes[k % 5].clone();
            }
        }
        for (i, s) in outcome.services.iter_mut().enumerate() {
            s.name = long(&format!("svc-{i}-"), 63);
            s.namespace = long("ns-", 63);
            s.external_ip = long("203.0.113.", 200);
            s.ports = (0..5)
                .map(|j| ServicePortOutcome {
                    name: Some(long("p", 15)),
                    protocol: crate::model::objects::Protocol::Tcp,
                    port: 8080 + j,
                    target_port: PortRef::Name(long("t", 15)),
                    node_port: (j == 0).then_some(30_000 + i as u16),
                })
                .collect();
            s.endpoints.push("203.0.113.9:80".to_string());
        }
        let plan = plan(&outcome);
        assert_clean(&plan);
        assert!(plan.note.is_none(), "below every limit");
        assert!(
            plan.size.width <= TOPOLOGY_MAX.width && plan.size.height <= TOPOLOGY_MAX.height,
            "{:?}",
            plan.size
        );
    }
}
