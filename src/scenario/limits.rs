//! kubesim's bounds on every size taken from input, checked while the scenario loads, before
//! the simulation allocates anything. Each is far above what a real cluster or test needs (at
//! least twice Kubernetes' documented limits where one exists: 5,000 nodes, 150,000 pods,
//! 300,000 containers and 110 pods per node in kubernetes/website
//! `content/en/docs/setup/best-practices/cluster-large.md`, 10,000 Services and 10,000
//! Namespaces in kubernetes/community `sig-scalability/configs-and-limits/thresholds.md`)
//! and low enough that memory stays
//! under 2 GiB and a run stays responsive. A bound below what Kubernetes itself accepts is a
//! departure, listed in `docs/scenario-format.md` with the others.
//!
//! The work a run would do (requests, closed loops, periodic and timeline events) is bounded
//! separately, by its estimate (`scenario::estimate`), which `--force` may overrule.

use crate::engine::SimDuration;
use crate::model::objects::Object;
use std::collections::{BTreeMap, BTreeSet};

/// `spec.cluster.nodes`: Kubernetes documents 5,000 nodes.
pub const NODES: usize = 10_000;
/// `spec.cluster.nodes[].allocatable.pods` (the kubelet's `maxPods`, default 110).
pub const PODS_PER_NODE: i64 = 10_000;
/// Pods written in the scenario's objects (Deployment and ReplicaSet `replicas`, bare Pods,
/// `apply` events), and `replicas` of one object or `scale` event: Kubernetes documents
/// 150,000 pods; `replicas` itself is an int32 upstream.
pub const PODS: i64 = 300_000;
/// Containers (and init containers) of one pod; upstream sets no number.
pub const CONTAINERS_PER_POD: usize = 100;
/// Containers of all the pods written, as [`PODS`] counts them: Kubernetes documents 300,000.
pub const CONTAINERS: i64 = 1_000_000;
/// `ports` of one container, and of one Service; upstream sets no number.
pub const PORTS: usize = 1_000;
/// Services, built-in ones included: Kubernetes documents 10,000.
pub const SERVICES: usize = 20_000;
/// Ports of all Services together: ten for each of the documented 10,000 Services (IPVS
/// mode numbers a node's virtual servers, several per port, in 20 bits).
pub const SERVICE_PORTS: i64 = 100_000;
/// Namespaces: Kubernetes documents 10,000.
pub const NAMESPACES: usize = 20_000;
/// Kubernetes objects in all, documents and `apply` events.
pub const OBJECTS: usize = 1_000_000;
/// `spec.traffic`.
pub const STREAMS: usize = 1_000;
/// `clients` and `users` of all streams together (each is an address with its own
/// connections).
pub const CLIENTS: i64 = 1_000_000;
/// `rate`, and every rate of a `profile`, in requests per second: at this rate requests are
/// 10 ns apart, a hundred times more than kubesim simulates in a second of wall time.
pub const RATE_PER_SECOND: f64 = 1e8;
/// `behaviors[].concurrency`.
pub const CONCURRENCY: i64 = 100_000;
/// `behaviors[].queueLimit`.
pub const QUEUE_LIMIT: i64 = 10_000_000;
/// `connections.maxPerDestination`.
pub const CONNECTIONS_PER_CLIENT: i64 = 1_000;
/// `connections.maxRequests` and `retries.minRetriesPerSecond`.
pub const COUNT: i64 = 1_000_000_000;
/// `retries.max` (an attempt is counted in a byte).
pub const RETRIES: i64 = 100;
/// `spec.events`.
pub const EVENTS: usize = 100_000;
/// `spec.expect`: expectations of one scenario.
pub const EXPECTATIONS: usize = 1_000;
/// `spec.behaviors`.
pub const BEHAVIORS: usize = 1_000;
/// Points of one rate `profile`.
pub const PROFILE_POINTS: usize = 10_000;
/// Latencies of one `empirical` distribution's file.
pub const SAMPLES: usize = 1_000_000;
/// Entries of every other list or map of the Scenario document: a node's `labels`, `taints`
/// and `images`, `registry.images`, `manifests`, `addons`, `retries.on`.
pub const LIST: usize = 1_000;
/// `spec.duration`: a year of simulated time.
pub const DURATION: SimDuration = SimDuration::from_secs(365 * 24 * 3600);
/// `terminationGracePeriodSeconds` (an int64 upstream): a year.
pub const GRACE_SECONDS: i64 = 365 * 24 * 3600;

/// The message of a size above its bound: `60001 nodes: more than 10000, kubesim's bound`.
pub fn above(what: impl std::fmt::Display, bound: impl std::fmt::Display) -> String {
    format!("{what}: more than {bound}, kubesim's bound (see docs/scenario-format.md)")
}

/// The running totals of the objects a scenario writes (documents, then `apply` events in
/// time order), against [`PODS`], [`CONTAINERS`], [`SERVICES`], [`NAMESPACES`] and
/// [`OBJECTS`]. An object applied again under the same kind, namespace and name replaces its
/// earlier count (an update, not a new object).
#[derive(Debug, Default)]
pub struct Totals {
    /// `(kind, namespace, name)` → (pods, containers or Service ports) it counts for.
    counted: BTreeMap<(&'static str, String, String), (i64, i64)>,
    pods: i64,
    containers: i64,
    service_ports: i64,
    services: usize,
    namespaces: usize,
    objects: usize,
    /// Totals already reported over their bound (each is reported once).
    reported: BTreeSet<&'static str>,
}

impl Totals {
    /// Counts `o`; for each total it takes over its bound (the first time), the field of `o` to
    /// point at and the message.
    pub fn add(&mut self, o: &Object) -> Vec<(&'static str, String)> {
        let (pods, containers, replicas_field) = match o {
            Object::Deployment(d) => (
                i64::from(d.replicas),
                i64::from(d.replicas) * d.template.spec.containers.len() as i64,
                "spec.replicas",
            ),
            Object::ReplicaSet(r) => (
                i64::from(r.replicas),
                i64::from(r.replicas) * r.template.spec.containers.len() as i64,
                "spec.replicas",
            ),
            Object::StatefulSet(s) => (
                i64::from(s.replicas),
                i64::from(s.replicas) * s.template.spec.containers.len() as i64,
                "spec.replicas",
            ),
            // One pod per node at most: the bound on nodes bounds them.
            Object::DaemonSet(d) => (0, d.template.spec.containers.len() as i64, "spec.template"),
            Object::Pod(p) => (1, p.spec.containers.len() as i64, "spec.containers"),
            Object::Service(s) => (0, s.spec.ports.len() as i64, "spec.ports"),
            Object::Namespace(_)
            | Object::HorizontalPodAutoscaler(_)
            | Object::NetworkPolicy(_) => (0, 0, ""),
        };
        let key = (o.kind(), o.meta().namespace.clone(), o.meta().name.clone());
        let (old_pods, old_containers) = self
            .counted
            .insert(key, (pods, containers))
            .unwrap_or_else(|| {
                self.objects += 1;
                match o {
                    Object::Service(_) => self.services += 1,
                    Object::Namespace(_) => self.namespaces += 1,
                    _ => {}
                }
                (0, 0)
            });
        self.pods += pods - old_pods;
        if matches!(o, Object::Service(_)) {
            self.service_ports += containers - old_containers;
        } else {
            self.containers += containers - old_containers;
        }
        let mut out = Vec::new();
        let checks: [(&'static str, &'static str, i64, i64); 6] = [
            ("pods", replicas_field, self.pods, PODS),
            ("containers", replicas_field, self.containers, CONTAINERS),
            (
                "Services",
                "",
                self.services as i64 + BUILT_IN_SERVICES,
                SERVICES as i64,
            ),
            (
                "Service ports",
                replicas_field,
                self.service_ports,
                SERVICE_PORTS,
            ),
            ("Namespaces", "", self.namespaces as i64, NAMESPACES as i64),
            ("objects", "", self.objects as i64, OBJECTS as i64),
        ];
        for (what, field, total, bound) in checks {
            if total > bound && self.reported.insert(what) {
                out.push((
                    field,
                    above(
                        format!("{total} {what} in the scenario's objects so far"),
                        bound,
                    ),
                ));
            }
        }
        out
    }
}

/// `default/kubernetes` and `kube-system/kube-dns`, which every cluster has.
const BUILT_IN_SERVICES: i64 = 2;

/// [`Totals::add`] over the documents' objects, each error at the field of the object that
/// takes a total over its bound.
pub(super) fn document_totals(
    objects: &[Object],
    sources: &super::SourceMap,
    totals: &mut Totals,
) -> Vec<super::Diagnostic> {
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        for (field, msg) in totals.add(o) {
            let (file, line, col) = sources.locate(i, field).unwrap_or_default();
            let shown = format!("{}/{}", o.kind().to_ascii_lowercase(), o.meta().name);
            let at = if field.is_empty() {
                shown
            } else {
                format!("{shown} {field}")
            };
            out.push(super::Diagnostic::error(
                &file,
                line,
                col,
                format!("{at}: {msg}"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::objects::{
        Container, ImagePullPolicy, ObjectMeta, PodObject, PodSpec, Resources, RestartPolicy,
    };

    fn pod(name: &str, containers: usize) -> Object {
        let c = Container {
            name: "c".into(),
            image: "i".into(),
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            ports: Vec::new(),
            requests: Resources::default(),
            limits: Resources::default(),
            readiness_probe: None,
            liveness_probe: None,
            startup_probe: None,
            pre_stop: None,
        };
        Object::Pod(PodObject {
            meta: ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                ..Default::default()
            },
            spec: PodSpec {
                containers: vec![c; containers],
                restart_policy: RestartPolicy::Always,
                node_selector: Default::default(),
                node_name: None,
                host_network: false,
                termination_grace_period: SimDuration::from_secs(30),
                tolerations: Vec::new(),
                dns_policy: Default::default(),
                dns_config: None,
                hostname: None,
                subdomain: None,
                node_affinity: None,
            },
        })
    }

    #[test]
    fn totals_are_reported_once_when_they_pass_their_bound() {
        let mut t = Totals::default();
        // Ten pods of 100,000 containers each: the tenth takes containers past 1,000,000.
        for i in 0..10 {
            assert!(t.add(&pod(&format!("p{i}"), 100_000)).is_empty());
        }
        let over = t.add(&pod("p10", 1));
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].0, "spec.containers");
        assert!(over[0].1.starts_with("1000001 containers in the scenario's objects so far: more than 1000000, kubesim's bound"), "{}", over[0].1);
        assert!(t.add(&pod("p11", 1)).is_empty(), "reported once");
    }

    #[test]
    fn an_object_applied_again_replaces_its_count() {
        let mut t = Totals::default();
        t.add(&pod("p", 3));
        t.add(&pod("p", 5));
        assert_eq!((t.pods, t.containers, t.objects), (1, 5, 1));
    }
}
