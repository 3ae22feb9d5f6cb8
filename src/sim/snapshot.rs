//! The cluster's objects as they stand at the current instant, for `kubesim get`: the pods that
//! exist, the Services, their Endpoints and EndpointSlices, and the events so far, each with
//! its namespace. Plain figures, as [`Outcome`](super::outcome::Outcome) holds them, so the
//! `report` layer renders them with the same table code as a run's end.
//!
//! It reads the simulation and changes nothing: a run can go on after a snapshot.

use super::outcome::{ClusterEvent, LatencyMs, PodOutcome, ServiceOutcome};
use super::Simulation;
use crate::engine::SimTime;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The cluster at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The instant: the "now" of every AGE and LAST SEEN column.
    pub at: SimTime,
    /// The pods that exist now (Terminating ones included), in creation order; `served` and
    /// `failed` are not filled in (zero).
    pub pods: Vec<PodOutcome>,
    /// The Services, as `kubectl get svc` lists them now; `endpoints` holds the ready ones.
    pub services: Vec<ServiceOutcome>,
    /// One per Service, in the same order: its Endpoints object.
    pub endpoints: Vec<EndpointsRow>,
    /// Every EndpointSlice, Service by Service.
    pub endpoint_slices: Vec<EndpointSliceRow>,
    /// The events so far, oldest first, each with the namespace `kubectl get events` files it
    /// under: its object's (a node's events are in `default`, as upstream records them).
    pub events: Vec<(String, ClusterEvent)>,
    /// The HorizontalPodAutoscalers, in creation order.
    pub hpas: Vec<super::outcome::HpaOutcome>,
}

/// A Service's Endpoints object (`kubectl get endpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointsRow {
    pub namespace: String,
    pub name: String,
    /// `IP:port`, port by port (in the Service's order), each port's ready addresses in address
    /// order; empty for a Service without a selector (its endpoints are managed by hand, and
    /// kubesim models none) or with no ready pod.
    pub addresses: Vec<String>,
}

/// One EndpointSlice (`kubectl get endpointslices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSliceRow {
    pub namespace: String,
    pub name: String,
    /// The Service's ports as the slice carries them: the target port each resolves to on the
    /// slice's pods (a named port that no pod of the slice declares is left out).
    pub ports: Vec<u16>,
    /// The endpoints' addresses, ready or not (the slice lists both, with conditions).
    pub addresses: Vec<Ipv4Addr>,
}

impl Simulation {
    /// The cluster's objects now. Costs the objects, not the events' history beyond a copy.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.queue.now();
        let pods: Vec<PodOutcome> = self
            .cluster
            .pods
            .iter()
            .filter(|p| p.exists())
            .map(|p| PodOutcome {
                name: p.meta.name.clone(),
                namespace: p.meta.namespace.clone(),
                labels: p.meta.labels.clone(),
                node: p.node.map(|n| self.cluster.node(n).cfg.name.clone()),
                ip: p.ip,
                owner: None,
                served: 0,
                failed: 0,
                created: p.created,
                deleted: p.deleted,
                restarts: p.restarts,
                status: p.status(),
                ready: p.ready_column(),
                latency: LatencyMs::default(),
                utilisation: None,
                queue_mean: None,
            })
            .collect();
        let services = self.service_outcomes();
        let endpoints = (0..self.api.services.len())
            .map(|i| self.endpoints_row(i))
            .collect();
        let mut endpoint_slices = Vec::new();
        for (i, svc) in self.api.services.iter().enumerate() {
            for slice in self.endpoint_slices(i) {
                let first = slice.pods.first().map(|&p| self.cluster.pod(p));
                let ports = svc
                    .obj
                    .spec
                    .ports
                    .iter()
                    .filter_map(|port| {
                        first.and_then(|p| p.spec.endpoint_port(&port.target_port, port.protocol))
                    })
                    .collect();
                endpoint_slices.push(EndpointSliceRow {
                    namespace: svc.obj.meta.namespace.clone(),
                    name: slice.name.clone(),
                    ports,
                    addresses: slice
                        .pods
                        .iter()
                        .filter_map(|&p| self.cluster.pod(p).ip)
                        .collect(),
                });
            }
        }
        Snapshot {
            at: now,
            pods,
            services,
            endpoints,
            endpoint_slices,
            events: self.events_with_namespaces(),
            hpas: self.hpa_outcomes(),
        }
    }

    /// Service `i`'s Endpoints: the addresses of the ready pods it selects (Terminating ones
    /// only with `publishNotReadyAddresses`), as the endpoints controller writes them.
    fn endpoints_row(&self, i: usize) -> EndpointsRow {
        let svc = &self.api.services[i].obj;
        let mut addresses = Vec::new();
        if !svc.spec.selector.is_empty() {
            let publish = svc.spec.publish_not_ready_addresses;
            let mut ready: Vec<&crate::model::cluster::Pod> = self
                .cluster
                .pods_selected(&svc.meta.namespace, &svc.spec.selector)
                .map(|(_, p)| p)
                .filter(|p| {
                    let serving = p.ready || (publish && p.running());
                    super::dataplane::endpoint_ready(serving, p.deleted.is_some(), publish)
                        && p.ip.is_some()
                })
                .collect();
            ready.sort_by_key(|p| p.ip);
            for port in &svc.spec.ports {
                for p in &ready {
                    if let (Some(ip), Some(n)) =
                        (p.ip, p.spec.endpoint_port(&port.target_port, port.protocol))
                    {
                        addresses.push(format!("{ip}:{n}"));
                    }
                }
            }
        }
        EndpointsRow {
            namespace: svc.meta.namespace.clone(),
            name: svc.meta.name.clone(),
            addresses,
        }
    }

    /// The events so far with their objects' namespaces: a pod's, ReplicaSet's, Deployment's
    /// or Service's own (looked up by name), `default` for nodes and anything not found.
    fn events_with_namespaces(&self) -> Vec<(String, ClusterEvent)> {
        let mut by_name: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for p in &self.cluster.pods {
            by_name
                .entry(("pod", p.meta.name.as_str()))
                .or_insert(p.meta.namespace.as_str());
        }
        for rs in &self.cluster.replica_sets {
            by_name
                .entry(("replicaset", rs.meta.name.as_str()))
                .or_insert(rs.meta.namespace.as_str());
        }
        for d in &self.cluster.deployments {
            by_name
                .entry(("deployment", d.spec.meta.name.as_str()))
                .or_insert(d.spec.meta.namespace.as_str());
        }
        for s in &self.api.services {
            by_name
                .entry(("service", s.obj.meta.name.as_str()))
                .or_insert(s.obj.meta.namespace.as_str());
        }
        self.log
            .events
            .iter()
            .map(|e| {
                let ns = e
                    .object
                    .split_once('/')
                    .and_then(|(kind, name)| by_name.get(&(kind, name)).copied())
                    .unwrap_or("default");
                (ns.to_string(), e.clone())
            })
            .collect()
    }
}
