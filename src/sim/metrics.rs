//! The resource metrics pipeline as the HPA sees it: each pod's cumulative CPU time and
//! requests started (what the kubelet's `/metrics/resource` endpoint counts), scraped every
//! `--metric-resolution` by metrics-server, which serves the rate between its last two scrapes
//! of a pod, stamped with the later scrape's time and the window between them
//! (`kubernetes-sigs/metrics-server`, `pkg/storage/pod.go`: a pod's usage is the difference of
//! two cumulative points over their time difference). A container that started at least 10 s
//! and less than one resolution before a scrape is measured from its start (`podStorage.Store`:
//! the start time, with nothing used, stands in for the earlier point), so a new pod has a
//! metric from its first or its second scrape. So the HPA acts on data up to one resolution
//! old, averaged over up to one resolution, as the real one does.
//!
//! CPU time is the behaviours' `cpuPerRequest`, counted when the pod starts serving a request
//! (not spread over its service time); the request rate is the number of requests the pod
//! started serving. Nothing here knows the HPA; `sim::hpa` reads [`MetricsServer::pod`].

use super::Simulation;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{ContainerState, PodId};

/// metrics-server's `--metric-resolution` as installed, 15 s: the flag's own default is 60 s
/// (`cmd/metrics-server/app/options/options.go`), but the released manifests
/// (`manifests/base/deployment.yaml`, the `components.yaml` of each release) and the Helm chart's
/// `defaultArgs` pass `--metric-resolution=15s`.
pub(super) const METRIC_RESOLUTION: SimDuration = SimDuration::from_secs(15);

/// `freshContainerMinMetricsResolution` (`pkg/storage/pod.go`): a container started less than
/// this long before a scrape is not measured from its start.
pub(super) const FRESH_CONTAINER_MIN: SimDuration = SimDuration::from_secs(10);

/// A pod's usage as the metrics API serves it (`metrics.k8s.io/v1beta1` `PodMetrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PodMetric {
    /// The later scrape's time.
    pub timestamp: SimTime,
    /// The time between the two scrapes the rate is taken over.
    pub window: SimDuration,
    /// CPU in millicores (upstream's `MilliValue`).
    pub cpu_milli: i64,
    /// Requests started per second, in thousandths.
    pub requests_milli: i64,
}

/// Cumulative counters of one pod, as a scrape reads them.
#[derive(Debug, Clone, Copy, Default)]
struct Point {
    at: SimTime,
    cpu_ns: u64,
    requests: u64,
}

/// The counters, the scrapes and the latest rates.
#[derive(Debug, Default)]
pub(super) struct MetricsServer {
    /// Scraping (an HPA exists): metrics-server is installed on the clusters HPAs run on.
    pub active: bool,
    /// Cumulative CPU nanoseconds and requests started, by pod.
    cpu_ns: Vec<u64>,
    requests: Vec<u64>,
    /// The last scrape of each pod that was running then.
    last: Vec<Option<Point>>,
    /// Each pod's counters at the last scrape that found it not running (zero before any):
    /// what its containers had used before they (re)started.
    base: Vec<Point>,
    /// What the metrics API serves for each pod.
    latest: Vec<Option<PodMetric>>,
}

impl MetricsServer {
    /// A pod started serving a request that takes `cpu` of CPU time.
    #[inline]
    pub(super) fn charge(&mut self, pod: PodId, cpu: Option<SimDuration>) {
        let i = pod.index();
        if i >= self.requests.len() {
            self.requests.resize(i + 1, 0);
            self.cpu_ns.resize(i + 1, 0);
        }
        self.requests[i] += 1;
        if let Some(c) = cpu {
            self.cpu_ns[i] += c.as_nanos();
        }
    }

    /// The metric the metrics API serves for a pod now, if any.
    pub(crate) fn pod(&self, pod: PodId) -> Option<PodMetric> {
        self.latest.get(pod.index()).copied().flatten()
    }

    /// One scrape at `now` of the pods for which `started(i)` gives the time their containers
    /// (last) started, those running: each gets a rate if it was running at the scrape before
    /// too, or if its containers started between [`FRESH_CONTAINER_MIN`] and one resolution
    /// ago (measured from their start); the others lose theirs.
    fn scrape(&mut self, now: SimTime, n_pods: usize, started: impl Fn(usize) -> Option<SimTime>) {
        self.last.resize(n_pods, None);
        self.latest.resize(n_pods, None);
        self.base.resize(n_pods, Point::default());
        for i in 0..n_pods {
            let p = Point {
                at: now,
                cpu_ns: self.cpu_ns.get(i).copied().unwrap_or(0),
                requests: self.requests.get(i).copied().unwrap_or(0),
            };
            let Some(start) = started(i) else {
                self.last[i] = None;
                self.latest[i] = None;
                self.base[i] = p;
                continue;
            };
            let age = now.since(start);
            let fresh = start < now && age < METRIC_RESOLUTION && age >= FRESH_CONTAINER_MIN;
            let prev = if fresh {
                Some(Point {
                    at: start,
                    ..self.base[i]
                })
            } else {
                self.last[i]
            };
            if let Some(prev) = prev {
                let window = p.at - prev.at;
                let w = window.as_nanos().max(1) as u128;
                // millicores = CPU ns per ns x 1000; requests per second x 1000.
                let cpu = u128::from(p.cpu_ns - prev.cpu_ns) * 1000 / w;
                let req = u128::from(p.requests - prev.requests) * 1_000_000_000_000 / w;
                self.latest[i] = Some(PodMetric {
                    timestamp: now,
                    window,
                    cpu_milli: cpu.min(i64::MAX as u128) as i64,
                    requests_milli: req.min(i64::MAX as u128) as i64,
                });
            }
            self.last[i] = Some(p);
        }
    }
}

impl Simulation {
    /// Starts metrics-server's scrapes at `now`, once.
    pub(super) fn start_metrics_server(&mut self, now: SimTime) {
        if !self.metrics_server.active {
            self.metrics_server.active = true;
            self.queue.schedule(now, super::Ev::MetricsScrape);
        }
    }

    /// metrics-server's scrape of every node's kubelet; the next one a resolution later.
    pub(super) fn on_metrics_scrape(&mut self, now: SimTime) {
        let pods = &self.cluster.pods;
        let nodes = &self.cluster.nodes;
        self.metrics_server.scrape(now, pods.len(), |i| {
            let p = &pods[i];
            // A node that stopped answering is not scraped.
            if !(p.running() && p.node.is_some_and(|n| nodes[n.index()].up)) {
                return None;
            }
            p.containers
                .iter()
                .filter_map(|c| match c {
                    ContainerState::Running { since } => Some(*since),
                    _ => None,
                })
                .max()
        });
        self.queue
            .schedule(now + METRIC_RESOLUTION, super::Ev::MetricsScrape);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn the_rate_is_taken_between_the_last_two_scrapes() {
        let mut m = MetricsServer::default();
        // Started 5 s before the first scrape: too fresh to be measured from its start.
        let started = |_| Some(secs(0));
        m.scrape(secs(5), 1, started);
        assert_eq!(m.pod(PodId(0)), None, "one point gives no rate");
        for _ in 0..30 {
            m.charge(PodId(0), Some(SimDuration::from_millis(100)));
        }
        m.scrape(secs(20), 1, started);
        // 3 s of CPU over 15 s: 200 millicores; 30 requests over 15 s: 2/s.
        assert_eq!(
            m.pod(PodId(0)),
            Some(PodMetric {
                timestamp: secs(20),
                window: METRIC_RESOLUTION,
                cpu_milli: 200,
                requests_milli: 2000,
            })
        );
        // A pod that stops running loses its metric; started again 3 s before the next
        // scrape, it needs two scrapes again.
        m.scrape(secs(35), 1, |_| None);
        assert_eq!(m.pod(PodId(0)), None);
        m.scrape(secs(50), 1, |_| Some(secs(47)));
        assert_eq!(m.pod(PodId(0)), None);
    }

    #[test]
    fn a_container_started_10_to_15_s_before_a_scrape_is_measured_from_its_start() {
        let mut m = MetricsServer::default();
        // CPU used in an earlier life of the pod's containers does not count.
        for _ in 0..50 {
            m.charge(PodId(0), Some(SimDuration::from_millis(100)));
        }
        m.scrape(secs(15), 1, |_| None);
        for _ in 0..12 {
            m.charge(PodId(0), Some(SimDuration::from_millis(100)));
        }
        // Started at 18 s, scraped at 30 s: 1.2 s of CPU over 12 s, at once.
        m.scrape(secs(30), 1, |_| Some(secs(18)));
        assert_eq!(
            m.pod(PodId(0)),
            Some(PodMetric {
                timestamp: secs(30),
                window: SimDuration::from_secs(12),
                cpu_milli: 100,
                requests_milli: 1000,
            })
        );
        // 9 s is too fresh (`freshContainerMinMetricsResolution`), and 15 s is not fresh.
        let mut m = MetricsServer::default();
        m.scrape(secs(30), 1, |_| Some(secs(21)));
        assert_eq!(m.pod(PodId(0)), None);
        m.scrape(secs(45), 1, |_| Some(secs(30)));
        assert!(m.pod(PodId(0)).is_some(), "from the scrape before");
        let mut m = MetricsServer::default();
        m.scrape(secs(45), 1, |_| Some(secs(30)));
        assert_eq!(m.pod(PodId(0)), None);
    }
}
