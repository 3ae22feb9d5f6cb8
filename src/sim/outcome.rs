//! What a run produces: plain figures for the `report` layer, with no simulation internals.

use crate::engine::{SimDuration, SimTime};
use crate::model::objects::{Labels, PortRef, Protocol, ServiceType};
use crate::traffic::request::FailReason;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The outcome of one run. Everything in it is a function of the scenario and the seed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    /// kube-proxy's mode as the charts name it: `iptables mode`, `ipvs mode (rr)`.
    pub proxy: String,
    /// The scenario's `duration`.
    pub simulated: SimDuration,
    /// Requests sent before this are left out of the figures.
    pub warmup: SimDuration,
    pub requests: RequestCounts,
    pub latency: Latency,
    pub streams: Vec<StreamOutcome>,
    /// Every pod that ever existed, in creation order.
    pub pods: Vec<PodOutcome>,
    pub services: Vec<ServiceOutcome>,
    pub nodes: Vec<NodeOutcome>,
    /// Cluster events in the order they happened, like `kubectl get events`.
    pub events: Vec<ClusterEvent>,
    /// The timeline's events (from the scenario), for chart markers.
    pub markers: Vec<(SimTime, String)>,
    /// Per-pod served and failed counts per time bucket.
    pub timeline: Timeline,
    /// Requests sent (after warmup) per pair of zones, in zone order; empty when no node has
    /// a zone.
    pub zones: Vec<ZoneTraffic>,
    /// The run over time, for `report.html`: empty unless the run was made with
    /// [`Simulation::run_recorded`](crate::sim::Simulation::run_recorded).
    pub history: crate::sim::history::History,
    /// What the run saw of each of `spec.expect`, in order (`report::expect` judges them).
    pub expect: Vec<crate::sim::expect::Observed>,
    /// The HorizontalPodAutoscalers that exist at the end, in creation order.
    pub hpas: Vec<HpaOutcome>,
}

/// A HorizontalPodAutoscaler as `kubectl get hpa` and `describe hpa` show it, and its course.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaOutcome {
    pub name: String,
    pub namespace: String,
    /// `Deployment/web`.
    pub reference: String,
    /// One per metric of the spec, in order.
    pub targets: Vec<HpaTarget>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// `status.currentReplicas` (0 before the first sync).
    pub replicas: u32,
    pub created: SimTime,
    /// `status.conditions`: (type, status, reason, message).
    pub conditions: Vec<(String, bool, String, String)>,
    /// What every sync saw and set, in time order.
    pub history: Vec<HpaSync>,
}

/// One sync of an HPA, as its status shows it after the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpaSync {
    pub at: SimTime,
    /// `status.currentReplicas`: the target's replicas the sync found.
    pub current: u32,
    /// `status.desiredReplicas`: what it set them to (`current` when it did not scale).
    pub desired: u32,
    /// The first metric's current value (as [`HpaTarget::current`]), `None` when unknown.
    pub metric: Option<i64>,
}

/// One metric of an HPA: what it is, its target and its current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpaTarget {
    /// `cpu` for a resource, the metric's name otherwise.
    pub name: String,
    /// `Utilization` (percent), `AverageValue` (milli-units), or the type of a metric kubesim
    /// has no source for (`Object`, `External`, `ContainerResource`).
    pub kind: String,
    /// Percent for `Utilization`, milli-units otherwise; 0 for a metric without a source.
    pub target: i64,
    /// `None`: `<unknown>`.
    pub current: Option<i64>,
}

/// Requests that went from one zone to another (or stayed in one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneTraffic {
    /// The zone of the client's node, or of the node an outside client's packets entered;
    /// `""` for a node without a zone.
    pub from: String,
    /// The zone of the serving pod's node.
    pub to: String,
    pub requests: u64,
}

/// Request counts (after warmup). `sent = served + failed + in_flight`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    pub in_flight: u64,
    /// By reason: `connection_refused`, `timeout`, `connection_reset`, `no_route`, ...
    pub failed_by_reason: BTreeMap<String, u64>,
}

impl RequestCounts {
    /// How many failed with `reason` (0 when none did).
    pub fn failed_with(&self, reason: FailReason) -> u64 {
        self.failed_by_reason
            .get(reason.as_str())
            .copied()
            .unwrap_or(0)
    }
}

/// End-to-end latency of served requests, in nanoseconds (3 significant digits).
///
/// The histogram (about 270 KB) is made at the first latency recorded or added, so a pod or a
/// Service that served nothing costs a pointer: 10,000 Services or 150,000 pods cost little.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Latency(Option<Box<Histogram<u64>>>);

/// The longest latency recorded as itself (one hour); longer ones are recorded as this.
const LATENCY_MAX_NS: u64 = 3_600_000_000_000;

/// The latency of one (stream, pod) cell while the run goes on. Its first
/// [`FEW_LATENCIES`] values are kept as they are (a cell of a pod that served a few requests
/// costs a few hundred bytes: 10,000 pods behind three streams would otherwise hold 2 GB);
/// then a histogram with the same buckets as [`Latency`] (1 ns, 3 significant digits), so
/// cells add up exactly into per-stream, per-Service and per-pod figures, but 32-bit counts
/// and a counts array that grows only as far as the largest latency seen (about 70 KB for
/// latencies up to 100 ms).
#[derive(Debug, Clone)]
pub struct LatencyCell(Cell);

#[derive(Debug, Clone)]
enum Cell {
    Many(Histogram<u32>),
    Few(Vec<u64>),
}

/// How many latencies a cell keeps as they are before it makes its histogram.
const FEW_LATENCIES: usize = 64;

impl Default for LatencyCell {
    fn default() -> Self {
        LatencyCell(Cell::Few(Vec::new()))
    }
}

impl LatencyCell {
    /// Records one latency, clamped to one hour. Allocates only when the largest latency so far
    /// grows past the counts array (a handful of times per cell in a run).
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let ns = d.as_nanos().min(LATENCY_MAX_NS);
        match &mut self.0 {
            // Auto-resizing up to one hour cannot fail; a count saturates at u32::MAX.
            Cell::Many(h) => {
                let _ = h.record(ns);
            }
            Cell::Few(v) => {
                v.push(ns);
                if v.len() > FEW_LATENCIES {
                    let mut h = Histogram::new_with_bounds(1, 2, 3).expect("valid bounds");
                    h.auto(true);
                    for &ns in v.iter() {
                        let _ = h.record(ns);
                    }
                    self.0 = Cell::Many(h);
                }
            }
        }
    }
}

/// Latency figures in milliseconds; all zero when nothing was served.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// The histogram, made empty if there was none yet.
    fn histogram_mut(&mut self) -> &mut Histogram<u64> {
        self.0.get_or_insert_with(|| {
            Box::new(Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid bounds"))
        })
    }
    /// The latencies recorded, or `None` if there are none.
    pub fn histogram(&self) -> Option<&Histogram<u64>> {
        self.0.as_deref().filter(|h| !h.is_empty())
    }
    pub fn record(&mut self, d: SimDuration) {
        // Clamped into [1 ns, 1 h]: recording cannot fail.
        self.histogram_mut().saturating_record(d.as_nanos());
    }
    pub fn count(&self) -> u64 {
        self.0.as_ref().map_or(0, |h| h.len())
    }
    /// Adds a cell's latencies, exactly: both have the same buckets, so each of the cell's
    /// bucket values lands in the same bucket here.
    /// A value kept as it is lands in the bucket its cell's histogram would have put it in.
    pub fn add_cell(&mut self, cell: &LatencyCell) {
        match &cell.0 {
            Cell::Few(v) if v.is_empty() => {}
            Cell::Few(v) => {
                let h = self.histogram_mut();
                for &ns in v {
                    h.saturating_record(ns);
                }
            }
            Cell::Many(c) if c.is_empty() => {}
            Cell::Many(c) => {
                let h = self.histogram_mut();
                for v in c.iter_recorded() {
                    h.saturating_record_n(v.value_iterated_to(), u64::from(v.count_at_value()));
                }
            }
        }
    }
    /// Adds another histogram's latencies, exactly.
    pub fn add(&mut self, other: &Latency) {
        if let Some(o) = other.histogram() {
            self.histogram_mut()
                .add(o)
                .expect("histograms with the same bounds add up");
        }
    }
    pub fn ms(&self) -> LatencyMs {
        let Some(h) = self.histogram() else {
            return LatencyMs::default();
        };
        let ms = |ns: u64| ns as f64 / 1e6;
        LatencyMs {
            mean: h.mean() / 1e6,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct StreamOutcome {
    pub name: String,
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    /// The latency of served requests.
    pub latency: Latency,
    /// The latency users saw, failures included: each served request's latency and each failed
    /// request's time from sent to when it failed (a timeout counts its whole `timeout`, a
    /// `no_route` the ARP resolution's 3 s; a connection the entry node's rules refuse fails
    /// at once, as the run models the refusal). Per request: a retry is a request of its own.
    pub latency_with_failures: Latency,
    /// TCP connections the stream's clients opened for requests sent after warmup (the rule
    /// `sent` follows: a connection opened during warmup is not counted).
    pub connections: u64,
    /// Failed requests by reason, as [`RequestCounts::failed_by_reason`].
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Retries sent (attempts after the first; `sent` counts them too).
    pub retries: u64,
    /// Retries the retry budget refused.
    pub retries_denied: u64,
    /// Requests as the user sees them: one per first attempt, however many retries it took.
    pub user_requests: UserRequests,
}

/// A stream's requests as its users see them. Without retries each request is one user
/// request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRequests {
    /// First attempts sent after warmup.
    pub sent: u64,
    /// Answered, at the first attempt or a retry.
    pub succeeded: u64,
    /// Answered at the first attempt.
    pub succeeded_first_attempt: u64,
    /// Failed after the last attempt the client would make.
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodOutcome {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    /// `None` while unscheduled.
    pub node: Option<String>,
    /// `None` before the sandbox has an address.
    pub ip: Option<Ipv4Addr>,
    /// The Deployment (or ReplicaSet) that owns it.
    pub owner: Option<String>,
    /// Requests served (after warmup).
    pub served: u64,
    pub failed: u64,
    pub created: SimTime,
    /// When its deletion was requested (it turned `Terminating`).
    pub deleted: Option<SimTime>,
    pub restarts: u32,
    /// The STATUS column of `kubectl get pods`.
    pub status: String,
    /// The READY column: `1/1`.
    pub ready: String,
    /// Latency figures of the requests it served (after warmup); its histogram is not kept
    /// (150,000 pods would hold gigabytes).
    pub latency: LatencyMs,
    /// Busy slots over slots (its containers' `concurrency`), averaged over the time after
    /// warmup that it had a running server; `None` if it never had one then.
    pub utilisation: Option<f64>,
    /// Requests waiting in its queues, averaged over the same time; `None` likewise.
    pub queue_mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortOutcome {
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
    pub target_port: PortRef,
    pub node_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOutcome {
    pub name: String,
    pub namespace: String,
    pub type_: ServiceType,
    /// `None` for a headless Service (`clusterIP: None`) and ExternalName.
    pub cluster_ip: Option<Ipv4Addr>,
    /// The EXTERNAL-IP column: `<none>`, `<pending>` or an address.
    pub external_ip: String,
    pub ports: Vec<ServicePortOutcome>,
    pub selector: Labels,
    /// Ready endpoints at the end, `IP:port`, in kube-proxy's order.
    pub endpoints: Vec<String>,
    /// Requests served through it (after warmup): those of the traffic streams addressed to
    /// it (by ClusterIP, NodePort, LoadBalancer or external IP, or DNS name).
    pub served: u64,
    /// Their latency.
    pub latency: Latency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutcome {
    pub name: String,
    pub ip: Ipv4Addr,
    /// `Ready`, `NotReady`, `Ready,SchedulingDisabled`, ...
    pub status: String,
    pub pod_cidr: String,
    pub kubelet_version: String,
    /// When it registered: time zero, or later for a node that joined mid-run.
    pub created: SimTime,
    /// When it was deleted (the cluster autoscaler removed it); it is no longer listed.
    pub removed: Option<SimTime>,
}

pub use crate::model::events::{ClusterEvent, EventType};

/// Per-pod request counts per time bucket (pods indexed as in [`Outcome::pods`]).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub bucket: SimDuration,
    /// `served[bucket][pod]`.
    pub served: Vec<Vec<u64>>,
    /// Failed requests per bucket, whichever pod (or none) they were meant for.
    pub failed: Vec<u64>,
    /// `utilisation[bucket][pod]`: busy slots over slots in the bucket, time-weighted; `None`
    /// when the pod had no running server in it.
    pub utilisation: Vec<Vec<Option<f64>>>,
    /// `queue[bucket][pod]`: requests waiting in its queues, time-weighted mean.
    pub queue: Vec<Vec<f64>>,
}
