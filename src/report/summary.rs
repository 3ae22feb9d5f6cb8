//! `summary.json`: the run's figures, with the keys DESIGN.md promises.
//!
//! Byte-identical for the same scenario and seed: no wall-clock time, maps are `BTreeMap`s,
//! lists keep the outcome's order, and every float is rounded (milliseconds to 3 decimals,
//! seconds and shares to 6) before it is written, so no platform's last-bit noise shows.

use super::format::{round_to, secs};
use crate::model::objects::PortRef;
use crate::sim::outcome::{LatencyMs, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;

/// The whole file. Field order is the key order in the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub simulated_seconds: f64,
    pub warmup_seconds: f64,
    pub requests: Requests,
    pub latency_ms: LatencyMsOut,
    pub traffic: Vec<Traffic>,
    pub nodes: Vec<Node>,
    /// Every pod that ever existed, in creation order.
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    /// Requests sent (after warmup) per pair of zones; absent when no node has a
    /// `topology.kubernetes.io/zone` label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZonePair>,
    /// The verdicts of `spec.expect`, in order; absent when the scenario has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<super::expect::VerdictOut>,
}

/// Requests from one zone to another (`from` == `to`: they stayed in the zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZonePair {
    /// The zone of the client's node, or of the node an outside client's packets entered
    /// (`""`: a node without a zone).
    pub from: String,
    /// The zone of the serving pod's node.
    pub to: String,
    pub requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests {
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Served per second of the measured window (`duration - warmup`).
    pub throughput_per_s: f64,
}

/// Latency of served requests in milliseconds, rounded to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMsOut {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl From<LatencyMs> for LatencyMsOut {
    fn from(l: LatencyMs) -> Self {
        let r = |x: f64| round_to(x, 3);
        LatencyMsOut {
            mean: r(l.mean),
            p50: r(l.p50),
            p90: r(l.p90),
            p99: r(l.p99),
            p999: r(l.p999),
            max: r(l.max),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traffic {
    pub name: String,
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    /// TCP connections the stream's clients opened.
    pub connections: u64,
    pub latency_ms: LatencyMsOut,
    /// Served per second of the measured window.
    pub throughput_per_s: f64,
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Retries sent (counted in `sent` too) and retries the budget refused.
    pub retries: u64,
    pub retries_denied: u64,
    /// Requests as users see them (a first attempt and its retries are one).
    pub user_requests: UserRequestsOut,
    /// User requests answered (at any attempt) per second of the measured window.
    pub goodput_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserRequestsOut {
    pub sent: u64,
    pub succeeded: u64,
    pub succeeded_first_attempt: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub ip: String,
    pub pod_cidr: String,
    /// The STATUS column of `kubectl get nodes` at the end.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    /// Null while unscheduled.
    pub node: Option<String>,
    /// Null before the sandbox had an address.
    pub ip: Option<String>,
    pub served: u64,
    pub created_s: f64,
    /// When its deletion was requested (it turned `Terminating`); null if never.
    pub deleted_s: Option<f64>,
    pub restarts: u32,
    /// The STATUS column of `kubectl get pods` at the end.
    pub status: String,
    pub latency_ms: LatencyMsOut,
    /// Busy slots over slots after warmup, while it had a running server; null if never.
    pub utilisation: Option<f64>,
    /// Requests waiting in its queue, time-weighted mean over the same time; null if never.
    pub queue_mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// Null for a headless Service and for ExternalName.
    pub cluster_ip: Option<String>,
    pub ports: Vec<ServicePort>,
    /// Requests served for the traffic streams addressed to it.
    pub served: u64,
    pub latency_ms: LatencyMsOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePort {
    pub port: u16,
    /// A number, or a container port's name as a string.
    pub target_port: TargetPort,
    pub node_port: Option<u16>,
    pub protocol: String,
}

/// `targetPort` as the API writes it: `80` or `"http"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

impl Summary {
    pub fn of(outcome: &Outcome) -> Summary {
        let r = &outcome.requests;
        let window = secs(
            outcome
                .simulated
                .as_nanos()
                .saturating_sub(outcome.warmup.as_nanos()),
        );
        let per_s = |n: u64| {
            if window > 0.0 {
                round_to(n as f64 / window, 3)
            } else {
                0.0
            }
        };
        Summary {
            scenario: outcome.scenario.clone(),
            seed: outcome.seed,
            simulated_seconds: secs(outcome.simulated.as_nanos()),
            warmup_seconds: secs(outcome.warmup.as_nanos()),
            requests: Requests {
                sent: r.sent,
                served: r.served,
                failed: r.failed,
                in_flight: r.in_flight,
                failed_by_reason: r.failed_by_reason.clone(),
                throughput_per_s: per_s(r.served),
            },
            latency_ms: outcome.latency.ms().into(),
            traffic: outcome
                .streams
                .iter()
                .map(|s| Traffic {
                    name: s.name.clone(),
                    sent: s.sent,
                    served: s.served,
                    failed: s.failed,
                    connections: s.connections,
                    latency_ms: s.latency.ms().into(),
                    throughput_per_s: per_s(s.served),
                    failed_by_reason: s.failed_by_reason.clone(),
                    retries: s.retries,
                    retries_denied: s.retries_denied,
                    user_requests: UserRequestsOut {
                        sent: s.user_requests.sent,
                        succeeded: s.user_requests.succeeded,
                        succeeded_first_attempt: s.user_requests.succeeded_first_attempt,
                        failed: s.user_requests.failed,
                    },
                    goodput_per_s: per_s(s.user_requests.succeeded),
                })
                .collect(),
            nodes: outcome
                .nodes
                .iter()
                .map(|n| Node {
                    name: n.name.clone(),
                    ip: n.ip.to_string(),
                    pod_cidr: n.pod_cidr.clone(),
                    status: n.status.clone(),
                })
                .collect(),
            pods: outcome
                .pods
                .iter()
                .map(|p| Pod {
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    node: p.node.clone(),
                    ip: p.ip.map(|ip| ip.to_string()),
                    served: p.served,
                    created_s: secs(p.created.as_nanos()),
                    deleted_s: p.deleted.map(|t| secs(t.as_nanos())),
                    restarts: p.restarts,
                    status: p.status.clone(),
                    latency_ms: p.latency.into(),
                    utilisation: p.utilisation.map(|u| round_to(u, 6)),
                    queue_mean: p.queue_mean.map(|q| round_to(q, 6)),
                })
                .collect(),
            zones: outcome
                .zones
                .iter()
                .map(|z| ZonePair {
                    from: z.from.clone(),
                    to: z.to.clone(),
                    requests: z.requests,
                })
                .collect(),
            expect: super::expect::judge(outcome)
                .iter()
                .map(super::expect::VerdictOut::from)
                .collect(),
            services: outcome
                .services
                .iter()
                .map(|s| Service {
                    name: s.name.clone(),
                    namespace: s.namespace.clone(),
                    type_: s.type_.as_str().to_string(),
                    cluster_ip: s.cluster_ip.map(|ip| ip.to_string()),
                    ports: s
                        .ports
                        .iter()
                        .map(|p| ServicePort {
                            port: p.port,
                            target_port: match &p.target_port {
                                PortRef::Number(n) => TargetPort::Number(*n),
                                PortRef::Name(name) => TargetPort::Name(name.clone()),
                            },
                            node_port: p.node_port,
                            protocol: p.protocol.as_str().to_string(),
                        })
                        .collect(),
                    served: s.served,
                    latency_ms: s.latency.ms().into(),
                })
                .collect(),
        }
    }

    /// Pretty-printed JSON (two-space indent) with a trailing newline.
    pub fn to_json(&self) -> String {
        // Plain structs of strings, integers, finite floats and string-keyed maps always
        // serialise; a failure here is a bug.
        let mut text = serde_json::to_string_pretty(self).expect("the summary serialises");
        text.push('\n');
        text
    }
}

/// `summary.json` for an outcome.
pub fn summary_json(outcome: &Outcome) -> String {
    Summary::of(outcome).to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_outcome;
    use serde_json::Value;

    /// The object's keys, sorted (serde_json's map may or may not keep insertion order).
    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        k.sort_unstable();
        k
    }

    fn sorted(mut k: Vec<&str>) -> Vec<&str> {
        k.sort_unstable();
        k
    }

    #[test]
    fn has_every_key_of_the_design_and_is_stable() {
        let outcome = sample_outcome();
        let text = summary_json(&outcome);
        assert_eq!(text, summary_json(&outcome.clone()), "two renders differ");
        assert!(text.ends_with("}\n"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys(&v),
            [
                "latency_ms",
                "nodes",
                "pods",
                "requests",
                "scenario",
                "seed",
                "services",
                "simulated_seconds",
                "traffic",
                "warmup_seconds"
            ]
        );
        assert_eq!(
            keys(&v["requests"]),
            sorted(vec![
                "sent",
                "served",
                "failed",
                "in_flight",
                "failed_by_reason",
                "throughput_per_s"
            ])
        );
        assert_eq!(v["requests"]["failed_by_reason"]["connection_refused"], 10);
        assert_eq!(
            keys(&v["latency_ms"]),
            sorted(vec!["mean", "p50", "p90", "p99", "p999", "max"])
        );
        assert_eq!(
            keys(&v["pods"][0]),
            sorted(vec![
                "name",
                "namespace",
                "node",
                "ip",
                "served",
                "created_s",
                "deleted_s",
                "restarts",
                "status",
                "latency_ms",
                "utilisation",
                "queue_mean"
            ])
        );
        assert_eq!(v["pods"].as_array().unwrap().len(), outcome.pods.len());
        assert_eq!(v["pods"][0]["deleted_s"], 20.0);
        assert!(v["pods"][1]["deleted_s"].is_null());
        assert!(v["pods"][4]["node"].is_null() && v["pods"][4]["ip"].is_null());
        assert_eq!(
            keys(&v["services"][0]),
            sorted(vec![
                "name",
                "namespace",
                "type",
                "cluster_ip",
                "ports",
                "served",
                "latency_ms"
            ])
        );
        assert_eq!(
            keys(&v["services"][0]["ports"][0]),
            sorted(vec!["port", "target_port", "node_port", "protocol"])
        );
        assert_eq!(v["services"][0]["type"], "NodePort");
        assert_eq!(v["services"][0]["ports"][0]["target_port"], 80);
        assert_eq!(v["services"][0]["ports"][0]["node_port"], 30001);
        assert!(v["services"][1]["cluster_ip"].is_null());
        assert_eq!(v["services"][1]["ports"][0]["target_port"], "http");
        assert!(v["services"][1]["ports"][0]["node_port"].is_null());
        assert_eq!(
            keys(&v["traffic"][0]),
            sorted(vec![
                "name",
                "sent",
                "served",
                "failed",
                "connections",
                "latency_ms",
                "throughput_per_s",
                "failed_by_reason",
                "retries",
                "retries_denied",
                "user_requests",
                "goodput_per_s"
            ])
        );
        // 7990 served in 60 s.
        assert_eq!(v["requests"]["throughput_per_s"], 133.167);
        assert_eq!(
            v["traffic"][0]["failed_by_reason"]["connection_refused"],
            10
        );
        assert_eq!(v["services"][0]["served"], 7990);
        assert_eq!(
            keys(&v["nodes"][0]),
            sorted(vec!["name", "ip", "pod_cidr", "status"])
        );
        assert_eq!(v["simulated_seconds"], 60.0);
    }

    #[test]
    fn floats_are_rounded() {
        let v: Value = serde_json::from_str(&summary_json(&sample_outcome())).unwrap();
        for key in ["mean", "p50", "p90", "p99", "p999", "max"] {
            let x = v["latency_ms"][key].as_f64().unwrap();
            assert_eq!(x, round_to(x, 3), "{key} = {x} has more than 3 decimals");
            assert!(x > 0.0, "{key} = {x} in {}", v["latency_ms"]);
        }
    }
}
