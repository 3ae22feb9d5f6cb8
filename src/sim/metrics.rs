//! The resource metrics pipeline as the HPA sees it: each pod's cumulative CPU time and
//! requests started (what the kubelet's `/metrics/resource` endpoint counts), scraped every
//! `--metric-resolution` by metrics-server, which serves the rate between its last two scrapes
//! of a pod, stamped with the later scrape's time and the window between them
//! (`kubernetes-sigs/metrics-server`, `pkg/storage/pod.go`: a pod's usage is the difference of
//! two cumulative points over their time difference). So the HPA acts on data up to one
//! resolution old, averaged over one resolution, as the real one does.
//!
//! CPU time is the behaviours' `cpuPerRequest`, counted when the pod starts serving a request
//! (not spread over its service time); the request rate is the number of requests the pod
//! started serving. Nothing here knows the HPA; `sim::hpa` reads [`MetricsServer::pod`].

use super::Simulation;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::PodId;

/// metrics-server's `--metric-resolution` default, 15 s (`cmd/metrics-server/app/options/
/// options.go`, `MetricResolution: 15 * time.Second`).
pub(super) const METRIC_RESOLUTION: SimDuration = SimDuration::from_secs(15);

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

    /// One scrape at `now` of the pods for which `running(i)` holds: each gets a rate if it
    /// was running at the scrape before too; the others lose theirs.
    fn scrape(&mut self, now: SimTime, n_pods: usize, running: impl Fn(usize) -> bool) {
        self.last.resize(n_pods, None);
        self.latest.resize(n_pods, None);
        for i in 0..n_pods {
            if !running(i) {
                self.last[i] = None;
                self.latest[i] = None;
                continue;
            }
            let p = Point {
                at: now,
                cpu_ns: self.cpu_ns.get(i).copied().unwrap_or(0),
                requests: self.requests.get(i).copied().unwrap_or(0),
            };
            if let Some(prev) = self.last[i] {
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
            p.running() && p.node.is_some_and(|n| nodes[n.index()].up)
        });
        self.queue
            .schedule(now + METRIC_RESOLUTION, super::Ev::MetricsScrape);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_taken_between_the_last_two_scrapes() {
        let mut m = MetricsServer::default();
        let t0 = SimTime::ZERO;
        m.scrape(t0, 1, |_| true);
        assert_eq!(m.pod(PodId(0)), None, "one point gives no rate");
        for _ in 0..30 {
            m.charge(PodId(0), Some(SimDuration::from_millis(100)));
        }
        let t1 = t0 + METRIC_RESOLUTION;
        m.scrape(t1, 1, |_| true);
        // 3 s of CPU over 15 s: 200 millicores; 30 requests over 15 s: 2/s.
        assert_eq!(
            m.pod(PodId(0)),
            Some(PodMetric {
                timestamp: t1,
                window: METRIC_RESOLUTION,
                cpu_milli: 200,
                requests_milli: 2000,
            })
        );
        // A pod that stops running loses its metric, and needs two scrapes again.
        m.scrape(t1 + METRIC_RESOLUTION, 1, |_| false);
        assert_eq!(m.pod(PodId(0)), None);
        m.scrape(t1 + METRIC_RESOLUTION.saturating_mul(2), 1, |_| true);
        assert_eq!(m.pod(PodId(0)), None);
    }
}
