//! Property tests of your own networking rules: [proptest] strategies for clusters, fault
//! timelines and traffic, and a run that checks a property at every change of the cluster.
//!
//! - [`clusters`] draws a [`Cluster`]: nodes (in zones or not), kube-proxy's mode, apps (a
//!   Deployment and its Service each: every Service type, `externalTrafficPolicy` and
//!   `internalTrafficPolicy`, readiness probes, `preStop` hooks, within [`Bounds`]) and traffic
//!   (outside clients to the NodePort Services through a node each, and in-cluster clients to
//!   the ClusterIP ones). [`clusters_with_faults`] adds a fault timeline drawn as
//!   `kubesim explore` draws them ([`crate::explore::timelines`]), so it shrinks the same way.
//! - A [`Cluster`] is a scenario file ([`Cluster::to_yaml`]; its `Debug` is that text too, so a
//!   failing case that proptest prints can be saved and replayed with `kubesim run`), loaded by
//!   [`Cluster::scenario`].
//! - [`check`] runs a scenario and calls your property after every change of pods, nodes or any
//!   node's rules, with the [`Simulation`] to look at: [`Simulation::ready_endpoints_of`],
//!   [`Simulation::probe`] (a connection routed through the rules as they stand),
//!   [`Simulation::snapshot`] (the pods, Services, EndpointSlices and events), and the
//!   [`Outcome`] when the run ends.
//! - [`config`] is a proptest configuration with a fixed seed, so a test never flakes.
//!
//! # Example
//!
//! "Once a NodePort Service has had a ready endpoint for 2 s, its NodePort answers on every
//! Ready node", over generated clusters whose pods are deleted at random instants. The 2 s are
//! the propagation bound: the EndpointSlice changes at once, and each node's kube-proxy writes
//! its rules at most once per `minSyncPeriod` (1 s), so right after a pod turns ready a node's
//! rules may still have no endpoint. The property holds here because every pod has a 5 s
//! `preStop` hook: a terminating pod keeps serving until every node's rules have dropped it.
//! With `pre_stop_seconds: vec![0]` it fails, and proptest shrinks the cluster to one that shows
//! why (the rules still send new connections to a pod that is gone). Local traffic
//! policies are left out: under `externalTrafficPolicy: Local` a node without a ready pod of
//! its own drops outside connections, as it should.
//!
//! ```
//! use kubesim::engine::{SimDuration, SimTime};
//! use kubesim::explore::FaultKind;
//! use kubesim::sim::expect::{ProbeFrom, ProbePort, ProbeTo, ServiceRef};
//! use kubesim::testing::{self, Bounds};
//! use proptest::test_runner::{TestCaseError, TestRunner};
//!
//! let bounds = Bounds {
//!     pre_stop_seconds: vec![5],
//!     local_policies: false,
//!     ..Bounds::default()
//! };
//! let clusters = testing::clusters_with_faults(bounds, &[FaultKind::DeletePod], 2);
//! let mut runner = TestRunner::new(testing::config(4));
//! runner
//!     .run(&clusters, |cluster| {
//!         let scenario = cluster.scenario().map_err(TestCaseError::fail)?;
//!         let node_ports: Vec<ServiceRef> = cluster.node_port_services();
//!         // Since when each Service has had a ready endpoint.
//!         let mut since: Vec<Option<SimTime>> = vec![None; node_ports.len()];
//!         testing::check(scenario, |sim| {
//!             for (svc, since) in node_ports.iter().zip(&mut since) {
//!                 if sim.ready_endpoints_of(svc) == 0 {
//!                     *since = None;
//!                     continue;
//!                 }
//!                 let ready_at = *since.get_or_insert(sim.now());
//!                 if sim.now() - ready_at < SimDuration::from_secs(2) {
//!                     continue;
//!                 }
//!                 let to = ProbeTo { service: svc.clone(), port: ProbePort::NodePort };
//!                 sim.probe(&ProbeFrom::External, &to)?;
//!             }
//!             Ok(())
//!         })
//!         .map_err(|v| TestCaseError::fail(v.to_string()))?;
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

use crate::engine::{SimDuration, SimTime};
use crate::explore::{self, Fault, FaultKind, Targets, Workload};
use crate::model::objects::{Labels, ProbeKind};
use crate::net::config::ProxyMode;
use crate::sim::expect::ServiceRef;
use crate::sim::{Outcome, Scenario, Simulation};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::fmt::{self, Write as _};
use std::ops::RangeInclusive;
use std::path::Path;

/// The Service in front of an app: its type and traffic policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePolicy {
    /// `ClusterIP`, `NodePort` or `LoadBalancer`.
    pub type_: ServiceKind,
    /// `externalTrafficPolicy: Local` (NodePort and LoadBalancer only).
    pub external_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::ClusterIP => "ClusterIP",
            ServiceKind::NodePort => "NodePort",
            ServiceKind::LoadBalancer => "LoadBalancer",
        }
    }
}

/// One app: Deployment `app-N` (pods labelled `app: app-N`, image `web`, listening on 8080)
/// and Service `svc-N` (port 80 to 8080; NodePort 30000 + N when it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub replicas: u32,
    pub service: ServicePolicy,
    /// An HTTP readiness probe on 8080, every 2 s.
    pub readiness_probe: bool,
    /// A `preStop` sleep of this many seconds (0: none).
    pub pre_stop_seconds: u32,
}

/// A traffic stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The app it goes to.
    pub app: usize,
    /// From outside to this node's NodePort (NodePort and LoadBalancer Services); `None`: from
    /// the pods of app 0 to the Service's name (a ClusterIP Service, or any).
    pub entry_node: Option<usize>,
    /// Requests per second.
    pub rate: u32,
}

/// A generated cluster with its traffic and faults: a scenario.
#[derive(Clone, PartialEq)]
pub struct Cluster {
    pub seed: u64,
    pub duration_seconds: u32,
    pub proxy_mode: ProxyMode,
    pub nodes: usize,
    /// Nodes in zones `zone-a`, `zone-b`, `zone-c` in turn.
    pub zones: bool,
    pub apps: Vec<App>,
    pub traffic: Vec<Stream>,
    pub faults: Vec<Fault>,
}

/// What [`clusters`] draws from.
#[derive(Debug, Clone)]
pub struct Bounds {
    pub nodes: RangeInclusive<usize>,
    pub apps: RangeInclusive<usize>,
    pub replicas: RangeInclusive<u32>,
    pub service_kinds: Vec<ServiceKind>,
    /// Whether traffic policies may be `Local`.
    pub local_policies: bool,
    pub proxy_modes: Vec<ProxyMode>,
    /// Draw clusters with zones too.
    pub zones: bool,
    /// `preStop` sleeps to choose from (0: no hook).
    pub pre_stop_seconds: Vec<u32>,
    /// Readiness probes may be drawn.
    pub readiness_probes: bool,
    pub duration_seconds: u32,
    /// Each stream's rate, per second.
    pub rate: RangeInclusive<u32>,
}

impl Default for Bounds {
    /// 1 to 3 nodes, 1 or 2 apps of 1 to 3 replicas, every Service type and policy, the three
    /// proxy modes, zones or not, with or without probes and `preStop` hooks, 30 s runs,
    /// 10 to 50 requests per second per stream.
    fn default() -> Self {
        Bounds {
            nodes: 1..=3,
            apps: 1..=2,
            replicas: 1..=3,
            service_kinds: vec![
                ServiceKind::ClusterIP,
                ServiceKind::NodePort,
                ServiceKind::LoadBalancer,
            ],
            local_policies: true,
            proxy_modes: vec![ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables],
            zones: true,
            pre_stop_seconds: vec![0, 5],
            readiness_probes: true,
            duration_seconds: 30,
            rate: 10..=50,
        }
    }
}

/// A proptest configuration for `cases` cases with a fixed seed: the same cases on every run
/// and platform, so a property test never flakes. No failure persistence files.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(20_261_207),
        max_shrink_iters: 1024,
        failure_persistence: None,
        ..Config::default()
    }
}

fn one_of<T: Clone + fmt::Debug + 'static>(v: &[T]) -> BoxedStrategy<T> {
    assert!(!v.is_empty(), "a bound with no value to choose");
    proptest::sample::select(v.to_vec()).boxed()
}

/// Clusters within `bounds`, without faults.
pub fn clusters(bounds: Bounds) -> BoxedStrategy<Cluster> {
    let local = bounds.local_policies;
    let probes = bounds.readiness_probes;
    let policy = (one_of(&bounds.service_kinds), any::<bool>(), any::<bool>()).prop_map(
        move |(type_, e, i)| ServicePolicy {
            type_,
            external_local: local && e && type_ != ServiceKind::ClusterIP,
            internal_local: local && i,
        },
    );
    let app = (
        bounds.replicas.clone(),
        policy,
        any::<bool>(),
        one_of(&bounds.pre_stop_seconds),
    )
        .prop_map(move |(replicas, service, probe, pre_stop_seconds)| App {
            replicas,
            service,
            readiness_probe: probes && probe,
            pre_stop_seconds,
        });
    let zones = if bounds.zones {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    let rate = bounds.rate.clone();
    let duration = bounds.duration_seconds;
    (
        bounds.nodes.clone(),
        proptest::collection::vec(app, bounds.apps.clone()),
        one_of(&bounds.proxy_modes),
        zones,
        0u64..1000,
    )
        .prop_flat_map(move |(nodes, apps, proxy_mode, zones, seed)| {
            // A stream per app: through a node when its Service has a NodePort, else from
            // app 0's pods.
            let streams: Vec<BoxedStrategy<Stream>> = apps
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let entry = if a.service.type_ == ServiceKind::ClusterIP {
                        Just(None).boxed()
                    } else {
                        (0..nodes).prop_map(Some).boxed()
                    };
                    (entry, rate.clone())
                        .prop_map(move |(entry_node, rate)| Stream {
                            app: i,
                            entry_node,
                            rate,
                        })
                        .boxed()
                })
                .collect();
            (Just(apps), streams).prop_map(move |(apps, traffic)| Cluster {
                seed,
                duration_seconds: duration,
                proxy_mode,
                nodes,
                zones,
                apps,
                traffic,
                faults: Vec::new(),
            })
        })
        .boxed()
}

/// Clusters within `bounds` with 1 to `max_faults` faults of `kinds` (those with nothing to
/// aim at in a cluster are left out; a cluster where none has is drawn without faults).
pub fn clusters_with_faults(
    bounds: Bounds,
    kinds: &[FaultKind],
    max_faults: usize,
) -> BoxedStrategy<Cluster> {
    let kinds = kinds.to_vec();
    clusters(bounds)
        .prop_flat_map(move |c| {
            let duration = SimDuration::from_secs(u64::from(c.duration_seconds));
            match explore::timelines(&kinds, &c.targets(), duration, max_faults) {
                Ok(t) => (Just(c), t)
                    .prop_map(|(c, faults)| Cluster { faults, ..c })
                    .boxed(),
                Err(_) => Just(c).boxed(),
            }
        })
        .boxed()
}

impl Cluster {
    /// What faults can aim at: the apps' Deployments and the nodes.
    pub fn targets(&self) -> Targets {
        Targets {
            workloads: (0..self.apps.len())
                .map(|i| Workload {
                    kind: explore::WorkloadKind::Deployment,
                    name: format!("app-{i}"),
                    namespace: "default".into(),
                    selector: Labels::from([("app".to_string(), format!("app-{i}"))]),
                    probes: if self.apps[i].readiness_probe {
                        vec![ProbeKind::Readiness]
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            nodes: (0..self.nodes).map(|n| format!("node-{n}")).collect(),
        }
    }

    /// The Services with a NodePort (NodePort and LoadBalancer).
    pub fn node_port_services(&self) -> Vec<ServiceRef> {
        self.apps
            .iter()
            .enumerate()
            .filter(|(_, a)| a.service.type_ != ServiceKind::ClusterIP)
            .map(|(i, _)| ServiceRef {
                namespace: "default".into(),
                name: format!("svc-{i}"),
            })
            .collect()
    }

    /// The scenario file.
    pub fn to_yaml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Made by kubesim::testing\napiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: generated\nspec:\n  seed: {}\n  duration: {}s\n  cluster:\n    proxyMode: {}\n    loadBalancerIPs: 203.0.113.0/28\n    nodes:",
            self.seed,
            self.duration_seconds,
            self.proxy_mode.as_str()
        );
        for n in 0..self.nodes {
            let zone = if self.zones {
                let z = ["a", "b", "c"][n % 3];
                format!(", labels: {{topology.kubernetes.io/zone: zone-{z}}}")
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "      - {{name: node-{n}, ip: 192.168.0.{}{zone}}}",
                10 + n
            );
        }
        s.push_str(
            "  behaviors:\n    - image: web\n      serviceTime: {distribution: exponential, mean: 2ms}\n      concurrency: 8\n  traffic:\n",
        );
        for (i, t) in self.traffic.iter().enumerate() {
            let (from, to) = match t.entry_node {
                Some(n) => (
                    "external, clients: 5",
                    format!("192.168.0.{}:{}", 10 + n, 30000 + t.app),
                ),
                None => ("{selector: app=app-0}", format!("svc-{}:80", t.app)),
            };
            let _ = writeln!(
                s,
                "    - {{name: stream-{i}, from: {from}, to: {to}, rate: {}/s, start: 2s}}",
                t.rate
            );
        }
        if !self.faults.is_empty() {
            let t = self.targets();
            let mut sorted: Vec<&Fault> = self.faults.iter().collect();
            sorted.sort_by_key(|f| f.at);
            let events: Vec<serde_yaml::Value> =
                sorted.iter().flat_map(|f| f.to_yaml(&t)).collect();
            let text = serde_yaml::to_string(&events).unwrap_or_default();
            s.push_str("  events:\n");
            for line in text.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
        for (i, a) in self.apps.iter().enumerate() {
            let mut container = String::from(
                "        - name: web\n          image: web\n          ports: [{containerPort: 8080}]\n",
            );
            if a.readiness_probe {
                container.push_str(
                    "          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}\n",
                );
            }
            if a.pre_stop_seconds > 0 {
                let _ = writeln!(
                    container,
                    "          lifecycle: {{preStop: {{sleep: {{seconds: {}}}}}}}",
                    a.pre_stop_seconds
                );
            }
            let _ = write!(
                s,
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}}}}}\n    spec:\n      containers:\n{container}",
                a.replicas
            );
            let p = a.service;
            let mut spec = format!("  type: {}\n", p.type_.as_str());
            if p.external_local {
                spec.push_str("  externalTrafficPolicy: Local\n");
            }
            if p.internal_local {
                spec.push_str("  internalTrafficPolicy: Local\n");
            }
            let node_port = if p.type_ == ServiceKind::ClusterIP {
                String::new()
            } else {
                format!(", nodePort: {}", 30000 + i)
            };
            let _ = write!(
                s,
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}}}\nspec:\n{spec}  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080{node_port}}}]\n"
            );
        }
        s
    }

    /// The scenario, loaded as `kubesim run` loads [`Cluster::to_yaml`]'s text; `Err` with the
    /// diagnostics when it does not load (a bug in this module: report it).
    pub fn scenario(&self) -> Result<Scenario, String> {
        crate::scenario::load_str(&self.to_yaml(), "generated.yaml", Path::new("."))
            .map(|l| l.scenario)
            .map_err(|d| {
                format!(
                    "the generated scenario does not load:\n{d}\n{}",
                    self.to_yaml()
                )
            })
    }
}

/// The scenario text, so that proptest's report of a failing case can be replayed.
impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}", self.to_yaml())
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_yaml())
    }
}

/// A property that did not hold: when, and the property's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: SimTime,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.at, self.message)
    }
}

impl std::error::Error for Violation {}

/// A run in which the property held.
#[derive(Debug)]
pub struct Checked {
    pub outcome: Outcome,
    /// How many times the property was called.
    pub checks: u64,
}

/// Runs `scenario` and calls `property` before the first event and after every event that may
/// have changed pods, nodes or a node's rules ([`Simulation::changes`]); the first `Err` stops
/// the run with a [`Violation`] at that instant.
pub fn check(
    scenario: Scenario,
    mut property: impl FnMut(&Simulation) -> Result<(), String>,
) -> Result<Checked, Violation> {
    let mut sim = Simulation::new(scenario).map_err(|e| Violation {
        at: SimTime::ZERO,
        message: format!(
            "the API server refused an object: {}",
            e.first().map_or_else(String::new, ToString::to_string)
        ),
    })?;
    let violation = |at, message| Violation { at, message };
    property(&sim).map_err(|m| violation(SimTime::ZERO, m))?;
    let mut checks = 1u64;
    let mut seen = sim.changes();
    while let Some(now) = sim.step() {
        if sim.changes() != seen {
            seen = sim.changes();
            checks += 1;
            property(&sim).map_err(|m| violation(now, m))?;
        }
    }
    Ok(Checked {
        outcome: sim.into_outcome(),
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    #[test]
    fn every_generated_cluster_loads_and_runs() {
        let mut runner = TestRunner::new(config(12));
        let s = clusters_with_faults(Bounds::default(), &FaultKind::ALL, 2);
        runner
            .run(&s, |c| {
                let scenario = c.scenario().map_err(TestCaseError::fail)?;
                prop_assert_eq!(scenario.nodes.len(), c.nodes);
                let checked =
                    check(scenario, |_| Ok(())).map_err(|v| TestCaseError::fail(v.to_string()))?;
                prop_assert!(checked.checks > 1);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_violated_property_names_its_instant() {
        let c = Cluster {
            seed: 1,
            duration_seconds: 10,
            proxy_mode: ProxyMode::Iptables,
            nodes: 1,
            zones: false,
            apps: vec![App {
                replicas: 1,
                service: ServicePolicy {
                    type_: ServiceKind::NodePort,
                    external_local: false,
                    internal_local: false,
                },
                readiness_probe: false,
                pre_stop_seconds: 0,
            }],
            traffic: Vec::new(),
            faults: Vec::new(),
        };
        let svc = &c.node_port_services()[0];
        // "Never a ready endpoint" breaks once the pod is ready.
        let v = check(c.scenario().unwrap(), |sim| {
            match sim.ready_endpoints_of(svc) {
                0 => Ok(()),
                n => Err(format!("{n} ready endpoint(s)")),
            }
        })
        .unwrap_err();
        assert!(v.at > SimTime::ZERO, "{v}");
        assert_eq!(v.message, "1 ready endpoint(s)");
    }
}
