//! Runs a validated scenario: owns the event queue, the cluster, every node's data plane and
//! the traffic, and produces an [`Outcome`].
//!
//! [`Simulation::new`] does everything before the first event (what `kubesim check` runs): it
//! creates the built-in Services, applies the scenario's objects in order through the
//! simulated API server (so allocation conflicts surface as the API server's errors) and
//! programs the initial rules. [`Simulation::run`] then replays time until the scenario's
//! `duration`.
//!
//! The handlers are split by concern: `lifecycle` (ReplicaSets, the scheduler, node
//! lifecycle, the timeline), `kubelet` (sandboxes, image pulls, container starts, exits,
//! restarts and probes), `workload` (cordon, drain, rolling updates, apply, delete),
//! `dataplane` (EndpointSlices and each node's kube-proxy) and `requests` (clients,
//! connections and the servers in pods).

pub mod addons;
pub mod apiserver;
pub mod config;
mod daemonset;
mod dataplane;
mod disruption;
mod endpointslices;
pub mod expect;
pub mod history;
pub mod hpa;
mod kubelet;
mod lifecycle;
mod loadbalancer;
mod lookup;
mod metrics;
mod netpol;
mod nodepool;
mod nodes;
mod noop;
pub mod outcome;
mod requests;
pub mod snapshot;
mod statefulset;
pub mod trace;
mod workload;
pub mod zones;

pub use apiserver::ApiError;
pub use config::Scenario;
pub use dataplane::ProxyWork;
pub use endpointslices::{EndpointSlice, MAX_ENDPOINTS_PER_SLICE};
pub use netpol::ReachRow;
pub use outcome::Outcome;

use crate::engine::{EventQueue, FxHashMap, RngStreams, SimRng, SimTime};
use crate::model::cluster::{Cluster, NodeId, PodId};
use crate::model::events::EventLog;
use crate::model::objects::Object;
use crate::model::scheduler::{Scheduler, SchedulerWork};
use crate::net::ipam::{node_pod_cidrs_with, HostLocalIpam};
use crate::traffic::client::Client;
use crate::traffic::request::{ReqRef, Slab};
use crate::traffic::serve::{SampleStream, Sampler, Server};
use crate::traffic::spec::{Behavior, ClientSource};
use apiserver::ApiServer;
use dataplane::NodeProxy;
use ipnet::Ipv4Net;
use requests::Metrics;
use std::net::Ipv4Addr;

/// Everything that happens at an instant. Small and `Copy`: the queue holds millions.
///
/// 16 bytes, with the tag in a word of its own (`repr(u32)`) and every payload 4-byte aligned,
/// so an event is copied in whole words. With the default layout the tag shared a byte with
/// [`kubelet::Step`]'s, and the queue copied the rest as two overlapping 8-byte moves that
/// stalled store-to-load forwarding in `EventQueue::pop_until` (seen with `perf annotate`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
enum Ev {
    /// The next request of a traffic stream.
    Arrival(u32),
    /// A request's first byte reaches its pod (after the handshake, on a new connection).
    ReachPod(ReqRef),
    /// The server finished a request.
    Done(ReqRef),
    /// A client with waiting requests may have a free connection.
    Dispatch { stream: u32, client: u32 },
    /// A closed-loop user has thought and sends its next request.
    UserSend { stream: u32, client: u32 },
    /// A client retries a failed request (`attempt` ≥ 1); `counted` as the first attempt was.
    Retry {
        stream: u32,
        client: u32,
        attempt: u8,
        counted: bool,
    },
    /// A request's deadline (streams that react to outcomes): the client gives up on it.
    ClientTimeout(ReqRef),
    /// The `i`-th timeline event of the scenario.
    Timeline(u32),
    /// The kubelet's next step for a pod.
    Kubelet(PodId, kubelet::Step),
    /// A node's kube-proxy syncs its rules.
    ProxySync(NodeId),
    /// A sync's rules reached the node's kernel.
    ProxyProgrammed(NodeId),
    /// The node lifecycle controller's periodic check (every 5 s).
    NodeMonitor,
    /// A pod on an unreachable node is evicted (its toleration ran out).
    Evict(PodId),
    /// The node lifecycle controller's tainting pass ([`disruption`]).
    TaintPass,
    /// A pod has been ready for its Deployment's `minReadySeconds`: it may now be available.
    Available(PodId),
    /// The load balancer probes every node's health check node port (`Local` Services).
    LbHealthCheck,
    /// The HPA controller syncs the `i`-th HorizontalPodAutoscaler ([`hpa`]).
    HpaSync(u32),
    /// metrics-server scrapes every kubelet ([`metrics`]).
    MetricsScrape,
    /// The cluster autoscaler's loop (`nodepool`).
    NodePoolScan,
    /// A node the cluster autoscaler asked for registers.
    NodePoolJoin,
}

/// Event queue lanes (`EventQueue::schedule_in_lane`) for events that are mostly scheduled in
/// time order: a stream's next arrival, and a request's first byte reaching its pod, which
/// takes a fixed latency per route. Events at the same `(time, sequence)` order as without.
const LANE_ARRIVALS: usize = 0;
const LANE_NEW_CONNECTIONS: usize = 1;
const LANE_KEPT_ALIVE: usize = 2;

/// A run in progress.
pub struct Simulation {
    scenario: Scenario,
    queue: EventQueue<Ev>,
    end: SimTime,
    warmup_end: SimTime,
    streams_rng: RngStreams,
    cluster: Cluster,
    api: ApiServer,
    log: EventLog,
    rng_names: SimRng,
    rng_scheduler: SimRng,
    /// The scheduler's cache of bound pods, search position and unschedulable pods.
    scheduler: Scheduler,
    pod_cidrs: Vec<Ipv4Net>,
    ipams: Vec<HostLocalIpam>,
    proxies: Vec<NodeProxy>,
    /// kube-proxy's state shared by every node (EndpointSlices, the latest generation).
    kube_proxy: dataplane::ProxyState,
    /// Services by namespace and name, for the API server's list version it was built for.
    #[allow(clippy::type_complexity)]
    service_names: std::cell::RefCell<(Option<u64>, FxHashMap<String, FxHashMap<String, usize>>)>,
    /// Behaviours by index; the last is the instant default.
    behaviors: Vec<Behavior>,
    samplers: Vec<SampleStream>,
    /// `servers[pod][container]`, present while the container runs.
    servers: Vec<Vec<Option<Server>>>,
    streams: Vec<requests::StreamState>,
    reqs: Slab,
    metrics: Metrics,
    /// Cluster DNS queries answered, for the rotation of headless Services' records.
    dns_queries: std::cell::Cell<u64>,
    /// The load balancer's health checks of the nodes (`Local` LoadBalancer Services).
    lb_health: loadbalancer::LbHealth,
    /// The source port of the last DNS query (each query opens a new socket).
    dns_src_port: u16,
    /// The kubelet's memory of each pod (back-off counts, probe results).
    kubelet: Vec<kubelet::PodKubelet>,
    /// Node lease: the last renewal before the kubelet stopped, per node.
    node_down_since: Vec<Option<SimTime>>,
    /// Nodes by address (the first node with an address wins, as a scan would find it).
    node_ips: FxHashMap<Ipv4Addr, NodeId>,
    /// The Deployment controller's and the mid-run API requests' state.
    workload: workload::WorkloadState,
    /// StatefulSets by creation order ([`statefulset`]), the sets whose controller is
    /// running and whether a pass must run again.
    statefulsets: Vec<statefulset::StatefulSetState>,
    sts_syncing: Vec<u32>,
    sts_dirty: bool,
    /// DaemonSets by creation order ([`daemonset`]), likewise.
    daemonsets: Vec<daemonset::DaemonSetState>,
    ds_syncing: Vec<u32>,
    ds_dirty: bool,
    /// IPVS connections that ended, gathered while a client is borrowed (reused buffer).
    dp_closed: Vec<(u64, crate::net::ipvs::CloseKind, SimTime)>,
    /// Bumped by every event that can create, start, stop or remove a pod (see
    /// [`Simulation::handle`]); in-cluster clients are matched to pods again when it moved.
    pods_version: u64,
    /// Bumped by every kube-proxy sync and rules write; with `pods_version`, what
    /// [`Simulation::changes`] counts.
    rules_version: u64,
    /// When the run stopped at the bound on requests in flight, and how many it held.
    overloaded: Option<(SimTime, usize)>,
    /// The nodes' zones.
    zones: zones::Zones,
    /// The node lifecycle controller's zones, queues and taints.
    disruption: disruption::Disruption,
    /// Requests counted per (from, to) zone ([`zones`]).
    zone_pairs: std::collections::BTreeMap<(u16, u16), u64>,
    /// What `report.html` shows over time; recorded only by [`Simulation::run_recorded`].
    history: history::History,
    /// The in-run checks of `spec.expect`; `None` when there are none (`expect`).
    expect: Option<Box<expect::Checks>>,
    /// The HorizontalPodAutoscalers and the controller's memory of them.
    hpas: hpa::Hpas,
    /// The pods' CPU and request counters and metrics-server's scrapes of them.
    metrics_server: metrics::MetricsServer,
    /// The NetworkPolicies in force over time and the namespaces' labels.
    netpol: netpol::Policies,
    /// The cluster autoscaler's node group (`spec.cluster.nodePool`), if any.
    node_pool: nodepool::NodePoolState,
}

/// A run stopped because its servers fell so far behind that more requests were held at once
/// than [`MAX_IN_FLIGHT`](crate::traffic::request::MAX_IN_FLIGHT).
#[derive(Debug)]
pub struct Overloaded {
    /// When it stopped.
    pub at: SimTime,
    /// Requests held then.
    pub in_flight: usize,
    /// The figures up to then.
    pub outcome: Outcome,
}

impl Simulation {
    /// Builds the cluster at time zero: built-in Services, the scenario's objects applied in
    /// order, the initial rules. Fails with every API error of the objects, in order.
    pub fn new(scenario: Scenario) -> Result<Self, Vec<ApiError>> {
        let streams_rng = RngStreams::new(scenario.seed);
        let end = SimTime::ZERO + scenario.duration;
        let warmup_end = SimTime::ZERO + scenario.warmup;
        let cluster = Cluster::new(&scenario.nodes);
        let mut api = ApiServer::new(
            scenario.net.service_cidr,
            scenario.net.node_port_range,
            scenario.net.load_balancer_ips,
        );
        let mut rng_api = streams_rng.stream("apiserver");
        api.create_builtin_services(&mut rng_api);
        let given: Vec<Option<Ipv4Net>> = scenario.nodes.iter().map(|n| n.pod_cidr).collect();
        let pod_cidrs = node_pod_cidrs_with(
            scenario.net.cluster_cidr,
            scenario.net.node_cidr_mask,
            &given,
        )
        .map_err(|e| {
            vec![ApiError {
                object: None,
                kind: "Node".into(),
                name: scenario
                    .nodes
                    .last()
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                field: "spec.podCIDR".into(),
                details: vec![format!("spec.podCIDR: Internal error: {e}")],
            }]
        })?;
        let ipams = pod_cidrs.iter().map(|c| HostLocalIpam::new(*c)).collect();
        let mut behaviors = scenario.behaviors.clone();
        behaviors.push(Behavior::instant("*"));
        let samplers = behaviors
            .iter()
            .map(|b| {
                SampleStream::new(
                    Sampler::new(&b.service_time),
                    streams_rng.stream(&format!("service-time/{}", b.image)),
                )
            })
            .collect();
        let kube_proxy =
            dataplane::ProxyState::new(&scenario.net, streams_rng.stream("endpointslice-names"));
        let proxies = scenario
            .nodes
            .iter()
            .zip(&pod_cidrs)
            .map(|(n, cidr)| {
                NodeProxy::for_mode(
                    streams_rng.stream(&format!("kube-proxy/{}", n.name)),
                    &scenario.net,
                    &kube_proxy,
                    n,
                    *cidr,
                )
            })
            .collect();
        let metrics = Metrics::new(&scenario);
        let n_nodes = scenario.nodes.len();
        let mut node_ips = FxHashMap::default();
        for (i, n) in scenario.nodes.iter().enumerate() {
            node_ips.entry(n.ip).or_insert(NodeId(i as u32));
        }
        let mut sim = Simulation {
            queue: EventQueue::new(),
            end,
            warmup_end,
            rng_names: streams_rng.stream("names"),
            rng_scheduler: streams_rng.stream("scheduler"),
            scheduler: Scheduler::new(n_nodes),
            workload: workload::WorkloadState::new(&streams_rng),
            statefulsets: Vec::new(),
            sts_syncing: Vec::new(),
            sts_dirty: false,
            daemonsets: Vec::new(),
            ds_syncing: Vec::new(),
            ds_dirty: false,
            streams_rng,
            cluster,
            api,
            log: EventLog::default(),
            pod_cidrs,
            ipams,
            proxies,
            kube_proxy,
            service_names: Default::default(),
            behaviors,
            samplers,
            servers: Vec::new(),
            kubelet: Vec::new(),
            dns_queries: std::cell::Cell::new(0),
            lb_health: Default::default(),
            dns_src_port: 0,
            netpol: netpol::Policies::default(),
            streams: Vec::new(),
            reqs: Slab::default(),
            metrics,
            node_down_since: vec![None; n_nodes],
            node_ips,
            pods_version: 1,
            rules_version: 0,
            dp_closed: Vec::new(),
            overloaded: None,
            zones: zones::Zones::new(&scenario.nodes),
            zone_pairs: Default::default(),
            disruption: disruption::Disruption::new(&scenario.nodes),
            history: history::History::default(),
            expect: None,
            hpas: Default::default(),
            metrics_server: Default::default(),
            node_pool: Default::default(),
            scenario,
        };
        let mut errors = Vec::new();
        if sim.scenario.coredns {
            // The add-on comes before the user's objects, as on a cluster kubeadm set up: its
            // pods take the first pod IPs of the nodes they land on. kubeadm pulled its image.
            for n in &mut sim.cluster.nodes {
                if !n.cfg.images.iter().any(|i| i == addons::COREDNS_IMAGE) {
                    n.cfg.images.push(addons::COREDNS_IMAGE.into());
                }
            }
            sim.apply(
                Object::Deployment(addons::coredns_deployment()),
                None,
                &mut rng_api,
            )
            .expect("the CoreDNS Deployment is valid");
        }
        let objects = std::mem::take(&mut sim.scenario.objects);
        for (i, obj) in objects.iter().enumerate() {
            if let Err(e) = sim.apply(obj.clone(), Some(i), &mut rng_api) {
                errors.push(e);
            }
        }
        sim.scenario.objects = objects;
        if !errors.is_empty() {
            return Err(errors);
        }
        sim.start_traffic();
        sim.start_node_pool();
        sim.expect_setup();
        for (i, ev) in sim.scenario.events.iter().enumerate() {
            sim.queue
                .schedule(SimTime::ZERO + ev.at, Ev::Timeline(i as u32));
        }
        sim.queue.schedule(SimTime::ZERO, Ev::NodeMonitor);
        sim.queue.schedule(SimTime::ZERO, Ev::LbHealthCheck);
        for n in 0..n_nodes {
            sim.request_sync(NodeId(n as u32));
        }
        Ok(sim)
    }

    /// Creates one object as `kubectl apply` would.
    fn apply(
        &mut self,
        obj: Object,
        index: Option<usize>,
        rng_api: &mut SimRng,
    ) -> Result<(), ApiError> {
        match obj {
            Object::Namespace(meta) => {
                self.netpol.set_namespace_labels(&meta.name, meta.labels);
                if !self.cluster.namespaces.contains(&meta.name) {
                    self.cluster.namespaces.push(meta.name);
                }
            }
            Object::NetworkPolicy(p) => {
                // The scenario's own objects are in force from the start; a mid-run apply
                // once the CNI has programmed it.
                let from = match index {
                    Some(_) => SimTime::ZERO,
                    None => self.queue.now() + netpol::PROPAGATION,
                };
                self.netpol.apply(from, p);
            }
            Object::Service(svc) => {
                self.api.create_service(svc, index, rng_api)?;
            }
            Object::Deployment(d) => self.create_deployment(d),
            Object::ReplicaSet(rs) => {
                self.create_replica_set(rs, None);
            }
            Object::Pod(p) => {
                self.create_pod(p.meta, p.spec, None);
            }
            Object::StatefulSet(s) => self.create_stateful_set(s),
            Object::DaemonSet(d) => self.create_daemon_set(d),
            Object::HorizontalPodAutoscaler(h) => self.apply_hpa(*h),
        }
        Ok(())
    }

    /// The Services as the API server stores them (with allocated addresses).
    pub fn services(&self) -> &[apiserver::ServiceState] {
        &self.api.services
    }

    /// Each node's pod CIDR, in node order.
    pub fn pod_cidrs(&self) -> &[Ipv4Net] {
        &self.pod_cidrs
    }

    /// The cluster's state now.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The work the scheduler has done so far (nodes filtered and scored), for tests of how
    /// it grows with the cluster.
    pub fn scheduler_work(&self) -> SchedulerWork {
        self.scheduler.work()
    }

    /// Replays the scenario to its end and returns the figures. A run stopped early by the
    /// bound on requests in flight gives its figures so far (see [`run_checked`](Self::run_checked)).
    pub fn run(self) -> Outcome {
        self.run_checked().unwrap_or_else(|o| o.outcome)
    }

    /// [`run`](Self::run), or [`Overloaded`] when more requests than
    /// [`MAX_IN_FLIGHT`](crate::traffic::request::MAX_IN_FLIGHT) were held at once and the run
    /// stopped there.
    pub fn run_checked(mut self) -> Result<Outcome, Box<Overloaded>> {
        self.run_to_end()
    }

    /// [`run_checked`](Self::run_checked) without giving up the simulation, for a caller that
    /// frees it later or never: the command line ends without freeing 150,000 pods object by
    /// object, and the benchmarks free them outside the time they measure. Call it once.
    pub fn run_to_end(&mut self) -> Result<Outcome, Box<Overloaded>> {
        while let Some((now, ev)) = self.queue.pop_until(self.end) {
            self.handle(now, ev);
        }
        match self.overloaded {
            None => Ok(self.finish()),
            Some((at, in_flight)) => Err(Box::new(Overloaded {
                at,
                in_flight,
                outcome: self.finish(),
            })),
        }
    }

    /// Lowers the bound on requests held at once (tests of a run stopped by it, which the real
    /// bound would make allocate hundreds of megabytes).
    #[doc(hidden)]
    pub fn set_in_flight_bound(&mut self, bound: usize) {
        self.reqs.set_bound(bound);
    }

    /// Stops the run at `now`: more requests are held than kubesim holds.
    fn stop_overloaded(&mut self, now: SimTime) {
        if self.overloaded.is_none() {
            self.overloaded = Some((now, self.reqs.held()));
            self.end = now;
        }
    }

    /// Handles the next event if it is due by the end of the scenario; returns its instant.
    /// For properties checked between events; [`run`](Self::run) is the fast path.
    pub fn step(&mut self) -> Option<SimTime> {
        let (now, ev) = self.queue.pop_until(self.end)?;
        self.handle(now, ev);
        Some(now)
    }

    /// Handles every event due by `t` (or the end of the scenario, if earlier).
    pub fn run_until(&mut self, t: SimTime) {
        while let Some((now, ev)) = self.queue.pop_until(t.min(self.end)) {
            self.handle(now, ev);
        }
    }

    /// The end of the scenario (its `duration`).
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// A count that grows whenever pods, nodes or any node's rules may have changed: where
    /// `spec.expect`'s level checks look, and where [`crate::testing::check`] calls a property.
    pub fn changes(&self) -> u64 {
        self.pods_version + self.rules_version
    }

    /// The instant of the last event handled.
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// Closes the books after [`step`](Self::step)ping: the same figures [`run`](Self::run)
    /// gives once every event has been handled.
    pub fn into_outcome(mut self) -> Outcome {
        while self.step().is_some() {}
        self.finish()
    }

    fn handle(&mut self, now: SimTime, ev: Ev) {
        // Pods change in every event but those of requests and rules; on the request path
        // only when a terminating pod's last request ends (`requests::complete` bumps the
        // version then). A new kind of event counts as changing pods unless listed here.
        let changes_pods = !matches!(
            ev,
            Ev::Arrival(_)
                | Ev::ReachPod(_)
                | Ev::Done(_)
                | Ev::Dispatch { .. }
                | Ev::ProxySync(_)
                | Ev::ProxyProgrammed(_)
                | Ev::UserSend { .. }
                | Ev::Retry { .. }
                | Ev::ClientTimeout(_)
                | Ev::MetricsScrape
        );
        if changes_pods {
            self.pods_version += 1;
        }
        if matches!(ev, Ev::ProxySync(_) | Ev::ProxyProgrammed(_)) {
            self.rules_version += 1;
        }
        match ev {
            // Requests pile up only when arrivals outrun the servers: past the bound on
            // requests held at once the run stops (`run_checked` reports it).
            Ev::Arrival(_) if self.reqs.is_full() => self.stop_overloaded(now),
            Ev::Arrival(stream) => self.on_arrival(now, stream),
            Ev::ReachPod(r) => self.on_reach_pod(now, r),
            Ev::Done(r) => self.on_done(now, r),
            Ev::Dispatch { stream, client } => self.on_dispatch(now, stream, client),
            Ev::UserSend { stream, client } => self.on_user_send(now, stream, client),
            Ev::Retry {
                stream,
                client,
                attempt,
                counted,
            } => self.on_retry(now, stream, client, attempt, counted),
            Ev::ClientTimeout(r) => self.on_client_timeout(now, r),
            Ev::Timeline(i) => self.on_timeline(now, i as usize),
            Ev::Kubelet(pod, step) => self.on_kubelet(now, pod, step),
            Ev::ProxySync(node) => self.on_proxy_sync(now, node),
            Ev::ProxyProgrammed(node) => self.on_proxy_programmed(now, node),
            Ev::NodeMonitor => self.on_node_monitor(now),
            Ev::LbHealthCheck => self.on_lb_health_check(now),
            Ev::Evict(pod) => self.on_evict(now, pod),
            Ev::TaintPass => self.taint_pass(now),
            Ev::Available(pod) => self.pod_may_be_available(pod),
            Ev::HpaSync(i) => self.on_hpa_sync(now, i),
            Ev::MetricsScrape => self.on_metrics_scrape(now),
            Ev::NodePoolScan => self.on_node_pool_scan(now),
            Ev::NodePoolJoin => self.on_node_pool_join(now),
        }
        // Expectations look at the cluster after every change of pods, nodes or rules.
        if self.expect.is_some()
            && (changes_pods || matches!(ev, Ev::ProxySync(_) | Ev::ProxyProgrammed(_)))
        {
            self.expect_after_change(now);
        }
    }

    /// Sets up every stream's clients and schedules its first request.
    fn start_traffic(&mut self) {
        for (i, spec) in self.scenario.traffic.iter().enumerate() {
            // A closed loop has one client address per user.
            let n_clients = spec.users.unwrap_or(spec.clients).max(1);
            let clients = match &spec.from {
                // Documentation addresses (RFC 5737 TEST-NET-3): clearly outside the cluster.
                ClientSource::External => (0..n_clients)
                    .map(|c| {
                        Client::new(
                            Ipv4Addr::from(u32::from(Ipv4Addr::new(203, 0, 113, 1)) + c),
                            None,
                        )
                    })
                    .collect(),
                // In-cluster clients are bound to pods when they send (pods come and go).
                ClientSource::Pods(_) => Vec::new(),
            };
            self.streams
                .push(requests::StreamState::new(spec, clients, &self.streams_rng));
            let start = SimTime::ZERO + spec.start;
            let stop = self.stream_stop(i);
            let stream = i as u32;
            if spec.users.is_some() {
                // Each user thinks once before its first request, so they do not all start
                // together.
                for client in 0..n_clients {
                    let first = start + self.streams[i].think();
                    if first < stop {
                        self.queue.schedule(first, Ev::UserSend { stream, client });
                    }
                }
            } else if spec.profile.is_some() {
                let st = &mut self.streams[i];
                if let Some(first) = st.next_arrival(spec, start, stop) {
                    self.queue.schedule(first, Ev::Arrival(stream));
                }
            } else if start < stop {
                self.queue.schedule(start, Ev::Arrival(stream));
            }
        }
    }

    fn stream_stop(&self, stream: usize) -> SimTime {
        let spec = &self.scenario.traffic[stream];
        spec.stop
            .map(|s| SimTime::ZERO + s)
            .unwrap_or(self.end)
            .min(self.end)
    }

    /// The behaviour index for a container image (the instant default if none matches).
    fn behavior_for(&self, image: &str) -> u32 {
        self.behaviors[..self.behaviors.len() - 1]
            .iter()
            .position(|b| b.image == image)
            .unwrap_or(self.behaviors.len() - 1) as u32
    }

    fn latency(&self) -> crate::net::config::NetworkLatency {
        self.scenario.net.latency
    }
}

#[cfg(test)]
mod tests {
    /// Events stay 16 bytes (see [`super::Ev`]): a bigger variant makes every event bigger.
    #[test]
    fn events_stay_small() {
        assert_eq!(std::mem::size_of::<super::Ev>(), 16);
        assert_eq!(std::mem::size_of::<super::kubelet::Step>(), 8);
    }
}
