//! Requests: arrivals, routing by the entry node's rules, the servers in pods, completion,
//! and the figures they add up to. This is the hot path: no allocation per request.
//!
//! Timing of one request over a new connection with one-way path latency `L`: the SYN and
//! SYN-ACK take `2L`, the request reaches the pod at `3L`, the answer is back `L` after the
//! server finishes. On a kept-alive connection the handshake is skipped.

use super::kubelet::ProbeAnswer;
use super::loadbalancer::LbEntry;
use super::{Ev, Simulation};
use crate::engine::{RngStreams, SimDuration, SimRng, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::Protocol;
use crate::net::iptables::{Packet, Verdict};
use crate::net::ipvs::CloseKind;
use crate::sim::outcome::{
    Latency, LatencyCell, LatencyMs, NodeOutcome, Outcome, PodOutcome, RequestCounts,
    ServiceOutcome, ServicePortOutcome, StreamOutcome, Timeline,
};
use crate::sim::Scenario;
use crate::traffic::client::{Client, Conn, Pool, Waiting};
use crate::traffic::request::{FailReason, ReqRef, Request, NO_CONN, NO_DP_CONN};
use crate::traffic::serve::{cpu_wall_time, Server};
use crate::traffic::serve::{SampleStream, Sampler};
use crate::traffic::spec::{Arrival, ClientSource, Destination, RetryPolicy, StreamSpec};
use rand::Rng;
use rand_distr::{Distribution, Exp};
use std::net::Ipv4Addr;

/// A traffic stream's state.
pub(super) struct StreamState {
    /// Every client the stream ever had; an index stays valid for the whole run (requests and
    /// events hold it), so a client whose pod went away is marked dead, never removed.
    pub clients: Vec<Client>,
    /// `pools[i]`: client `i`'s kept-alive connections and waiting requests, apart from the
    /// clients so that those (read for every request) stay small.
    pub pools: Vec<Pool>,
    /// Indices of the clients still alive, in order.
    live: Vec<u32>,
    arrivals: Arrivals,
    picks: SimRng,
    /// The `pods_version` its in-cluster clients were last matched at.
    pods_version: u64,
    /// Closed loop or retries: the client acts when a request ends (see `attempt_ended`).
    reacts: bool,
    /// Think times of closed-loop users (stream `think/<name>`).
    think: Option<(Sampler, SimRng)>,
    /// Back-off jitter (stream `retries/<name>`).
    retry_rng: Option<SimRng>,
    budget: RetryBudget,
}

/// How a stream's arrivals are timed; the random ones draw from the stream `arrivals/<name>`.
/// One per stream, read at every arrival: kept inline rather than boxed.
#[allow(clippy::large_enum_variant)]
enum Arrivals {
    /// Poisson at a fixed rate: exponential gaps, drawn ahead.
    Poisson(SampleStream),
    /// Poisson under a rate profile: candidates at the profile's highest rate `max`, thinned.
    Thinned {
        rng: SimRng,
        exp: Exp<f64>,
        max: f64,
    },
    /// No randomness: gaps of this period without a profile, of `1 / rate(now)` with one.
    Regular(SimDuration),
}

impl StreamState {
    pub fn new(spec: &StreamSpec, clients: Vec<Client>, rngs: &RngStreams) -> Self {
        let rate = spec.rate.max(f64::MIN_POSITIVE);
        let rng = || rngs.stream(&format!("arrivals/{}", spec.name));
        let arrivals = match (&spec.profile, spec.arrival) {
            (None, Arrival::Poisson) => Arrivals::Poisson(SampleStream::new(
                Sampler::Exponential(Exp::new(rate).expect("positive rate")),
                rng(),
            )),
            (Some(p), Arrival::Poisson) if p.max_rate() > 0.0 => Arrivals::Thinned {
                rng: rng(),
                exp: Exp::new(p.max_rate()).expect("positive rate"),
                max: p.max_rate(),
            },
            _ => Arrivals::Regular(SimDuration::from_secs_f64(1.0 / rate)),
        };
        StreamState {
            live: (0..clients.len() as u32).collect(),
            pools: clients.iter().map(|_| Pool::default()).collect(),
            clients,
            arrivals,
            picks: rngs.stream(&format!("clients/{}", spec.name)),
            pods_version: 0,
            reacts: spec.reacts_to_outcomes(),
            think: spec.users.map(|_| {
                (
                    Sampler::new(&spec.think_time),
                    rngs.stream(&format!("think/{}", spec.name)),
                )
            }),
            retry_rng: spec
                .retries
                .as_ref()
                .map(|_| rngs.stream(&format!("retries/{}", spec.name))),
            budget: RetryBudget::default(),
        }
    }

    /// A closed-loop user's think time (zero for other streams).
    pub fn think(&mut self) -> SimDuration {
        match &mut self.think {
            Some((sampler, rng)) => sampler.sample(rng),
            None => SimDuration::ZERO,
        }
    }

    /// The stream's next arrival after `now`, if before `stop`. Without a profile: a gap at
    /// `rate`. With one, Poisson arrivals come from thinning (Lewis and Shedler): candidates at
    /// the profile's highest rate, each kept with probability `rate(t) / highest`; constant
    /// arrivals are `1 / rate(now)` apart, and a zero rate waits for the next point whose rate
    /// is positive.
    pub fn next_arrival(
        &mut self,
        spec: &StreamSpec,
        now: SimTime,
        stop: SimTime,
    ) -> Option<SimTime> {
        let one = SimDuration::from_nanos(1);
        let t = match (&mut self.arrivals, &spec.profile) {
            (Arrivals::Poisson(gaps), _) => now + gaps.sample().max(one),
            (Arrivals::Regular(period), None) => now + (*period).max(one),
            (Arrivals::Thinned { rng, exp, max }, Some(profile)) => {
                let mut t = now;
                loop {
                    t += SimDuration::from_secs_f64(exp.sample(rng)).max(one);
                    if t >= stop {
                        return None;
                    }
                    let u: f64 = rng.random();
                    if u * *max < profile.rate_at(t - SimTime::ZERO) {
                        return Some(t);
                    }
                }
            }
            (_, Some(profile)) => {
                let since = now - SimTime::ZERO;
                let r = profile.rate_at(since);
                if r > 0.0 {
                    now + SimDuration::from_secs_f64(1.0 / r).max(one)
                } else {
                    let (at, _) = profile
                        .points
                        .iter()
                        .find(|(at, rate)| *at > since && *rate > 0.0)?;
                    SimTime::ZERO + *at
                }
            }
            (Arrivals::Thinned { .. }, None) => unreachable!("built only for a rate profile"),
        };
        (t < stop).then_some(t)
    }
}

/// Finagle's retry budget (`RetryBudget(ttl = 10.seconds, minRetriesPerSec = 10,
/// percentCanRetry = 0.2)` by default; finagle.github.io/blog/2016/02/08/retry-budgets): a
/// retry is allowed while the retries of the last 10 s are fewer than `budget` times the first
/// attempts of the last 10 s plus `minRetriesPerSecond x 10`. Counted in one-second slots.
#[derive(Debug, Default)]
struct RetryBudget {
    second: u64,
    firsts: [u64; 10],
    retries: [u64; 10],
}

impl RetryBudget {
    fn roll(&mut self, at: SimTime) -> usize {
        let s = at.as_nanos() / 1_000_000_000;
        if s > self.second {
            for i in 1..=(s - self.second).min(10) {
                let slot = ((self.second + i) % 10) as usize;
                self.firsts[slot] = 0;
                self.retries[slot] = 0;
            }
            self.second = s;
        }
        (self.second % 10) as usize
    }

    fn deposit(&mut self, at: SimTime) {
        let slot = self.roll(at);
        self.firsts[slot] += 1;
    }

    fn allows(&mut self, at: SimTime, policy: &RetryPolicy) -> bool {
        let Some(share) = policy.budget else {
            return true;
        };
        self.roll(at);
        let firsts: u64 = self.firsts.iter().sum();
        let retries: u64 = self.retries.iter().sum();
        (retries as f64) < share * firsts as f64 + f64::from(policy.min_per_second) * 10.0
    }

    fn withdraw(&mut self, at: SimTime) {
        let slot = self.roll(at);
        self.retries[slot] += 1;
    }
}

/// Figures aggregated as requests end (nothing is kept per request).
pub(super) struct Metrics {
    counts: RequestCounts,
    by_reason: [u64; FailReason::ALL.len()],
    streams: Vec<StreamOutcome>,
    /// Failures by reason, per stream.
    stream_reasons: Vec<[u64; FailReason::ALL.len()]>,
    /// `cells[stream][pod]`: the latency of what the pod served for the stream, made at its
    /// first request. One record per served request; the per-stream, per-Service, per-pod and
    /// overall histograms are sums of cells, made in `finish`.
    cells: Vec<Vec<Option<LatencyCell>>>,
    pod_served: Vec<u64>,
    pod_failed: Vec<u64>,
    bucket_ns: u64,
    buckets: usize,
    /// The bucket an answer last fell in, and its span `[start, end)` in ns: nearly every
    /// answer falls in the same one as the last, which spares a division per request.
    last_bucket: (usize, u64, u64),
    warmup_ns: u64,
    timeline_served: Vec<Vec<u64>>,
    timeline_failed: Vec<u64>,
    /// Busy slots, queue and slots of each pod, integrated over time.
    load: Vec<PodLoad>,
    /// The windows of `spec.expect`'s SLOs (empty without: one branch per request).
    expect_windows: Vec<super::expect::Window>,
}

/// What one pod's servers hold, integrated over simulated time: updated only when a slot, the
/// queue or the number of slots changes, so the cost is per change, not per instant.
#[derive(Debug, Clone)]
struct PodLoad {
    last_ns: u64,
    busy: u64,
    queued: u64,
    slots: u64,
    /// The bucket `last_ns` is in.
    bucket: usize,
    /// How far the fast path may integrate into `bucket`: its end, or the warmup's end if that
    /// comes first; 0 after an idle spell (the bucket is found again).
    limit_ns: u64,
    /// Per bucket: busy slot-ns, queued request-ns, slot-ns, ns with a running server.
    per_bucket: Vec<[u64; 4]>,
    /// The totals of `per_bucket` when warmup ended (`None` until then).
    at_warmup: Option<[u64; 4]>,
}

impl PodLoad {
    fn new(buckets: usize, warmup_ns: u64) -> Self {
        PodLoad {
            last_ns: 0,
            busy: 0,
            queued: 0,
            slots: 0,
            bucket: 0,
            limit_ns: 0,
            per_bucket: vec![[0; 4]; buckets],
            at_warmup: (warmup_ns == 0).then_some([0; 4]),
        }
    }

    fn totals(&self) -> [u64; 4] {
        self.per_bucket.iter().fold([0; 4], |mut t, row| {
            for (a, b) in t.iter_mut().zip(row) {
                *a += b;
            }
            t
        })
    }

    /// The integrals after warmup (call after the last `advance`).
    fn measured(&self) -> [u64; 4] {
        let (total, w) = (self.totals(), self.at_warmup.unwrap_or(self.totals()));
        [0, 1, 2, 3].map(|i| total[i] - w[i])
    }

    /// Integrates the current state from the last change up to `now_ns`.
    #[inline]
    fn advance(&mut self, now_ns: u64, bucket_ns: u64, warmup_ns: u64) {
        if now_ns <= self.limit_ns {
            // The common case: within the current bucket (and on the same side of warmup).
            let dt = now_ns.saturating_sub(self.last_ns);
            let row = &mut self.per_bucket[self.bucket];
            row[0] += self.busy * dt;
            row[1] += self.queued * dt;
            row[2] += self.slots * dt;
            row[3] += if self.slots > 0 { dt } else { 0 };
            self.last_ns = self.last_ns.max(now_ns);
            return;
        }
        self.advance_across(now_ns, bucket_ns, warmup_ns);
    }

    /// [`advance`](Self::advance) across bucket boundaries, the warmup's end, or from idle.
    #[inline(never)]
    fn advance_across(&mut self, now_ns: u64, bucket_ns: u64, warmup_ns: u64) {
        if now_ns <= self.last_ns {
            return;
        }
        let last_bucket = self.per_bucket.len() - 1;
        let bucket_of = |t: u64| ((t / bucket_ns) as usize).min(last_bucket);
        let bucket_end = |b: usize| {
            if b == last_bucket {
                u64::MAX
            } else {
                (b as u64 + 1) * bucket_ns
            }
        };
        let idle = self.slots == 0 && self.busy == 0 && self.queued == 0;
        let mut t = self.last_ns;
        while t < now_ns {
            let b = bucket_of(t);
            let mut end = now_ns.min(bucket_end(b));
            if self.at_warmup.is_none() && t < warmup_ns {
                end = end.min(warmup_ns);
            }
            if !idle {
                let dt = end - t;
                let row = &mut self.per_bucket[b];
                row[0] += self.busy * dt;
                row[1] += self.queued * dt;
                row[2] += self.slots * dt;
                row[3] += if self.slots > 0 { dt } else { 0 };
            }
            t = end;
            if self.at_warmup.is_none() && t >= warmup_ns {
                self.at_warmup = Some(self.totals());
            }
        }
        self.last_ns = now_ns;
        self.bucket = bucket_of(now_ns);
        self.limit_ns = match self.at_warmup {
            None => bucket_end(self.bucket).min(warmup_ns),
            Some(_) => bucket_end(self.bucket),
        };
    }
}

/// A bucket width giving at most about 120 buckets: 1, 2, 5, 10, 15, 30 s, then minutes.
fn bucket_for(duration: SimDuration) -> SimDuration {
    let secs = duration.as_secs_f64();
    let nice = [1u64, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
    let pick = nice
        .iter()
        .copied()
        .find(|b| secs / *b as f64 <= 120.0)
        .unwrap_or(3600);
    SimDuration::from_secs(pick)
}

impl Metrics {
    pub fn new(s: &Scenario) -> Self {
        let bucket = bucket_for(s.duration);
        let n = (s.duration.as_nanos().div_ceil(bucket.as_nanos())).max(1) as usize;
        Metrics {
            counts: RequestCounts::default(),
            by_reason: [0; FailReason::ALL.len()],
            streams: s
                .traffic
                .iter()
                .map(|t| StreamOutcome {
                    name: t.name.clone(),
                    ..Default::default()
                })
                .collect(),
            stream_reasons: vec![[0; FailReason::ALL.len()]; s.traffic.len()],
            cells: vec![Vec::new(); s.traffic.len()],
            pod_served: Vec::new(),
            pod_failed: Vec::new(),
            bucket_ns: bucket.as_nanos(),
            buckets: n,
            last_bucket: (0, 0, 0),
            warmup_ns: s.warmup.as_nanos(),
            timeline_served: vec![Vec::new(); n],
            timeline_failed: vec![0; n],
            load: Vec::new(),
            expect_windows: Vec::new(),
        }
    }

    pub fn add_pod(&mut self) {
        self.pod_served.push(0);
        self.pod_failed.push(0);
        for row in &mut self.cells {
            row.push(None);
        }
        self.load.push(PodLoad::new(self.buckets, self.warmup_ns));
    }

    /// A pod's servers changed at `now`: `busy` slots, `queued` requests and `slots` move by
    /// the deltas given.
    #[inline]
    pub(super) fn load_change(
        &mut self,
        pod: u32,
        now: SimTime,
        busy: i64,
        queued: i64,
        slots: i64,
    ) {
        let l = &mut self.load[pod as usize];
        l.advance(now.as_nanos(), self.bucket_ns, self.warmup_ns);
        l.busy = l.busy.wrapping_add_signed(busy);
        l.queued = l.queued.wrapping_add_signed(queued);
        l.slots = l.slots.wrapping_add_signed(slots);
    }

    /// A pod's server stopped at `now`: its slots, and what it held, are gone.
    pub(super) fn server_gone(&mut self, pod: u32, now: SimTime, server: &Server) {
        self.load_change(
            pod,
            now,
            -(server.in_service.len() as i64),
            -(server.queue.len() as i64),
            -i64::from(server.concurrency),
        );
    }

    #[inline]
    fn bucket(&mut self, at: SimTime) -> usize {
        let t = at.as_nanos();
        let (b, start, end) = self.last_bucket;
        if start <= t && t < end {
            return b;
        }
        let last = self.timeline_failed.len() - 1;
        let b = ((t / self.bucket_ns) as usize).min(last);
        let start = b as u64 * self.bucket_ns;
        let end = if b == last {
            u64::MAX
        } else {
            start + self.bucket_ns
        };
        self.last_bucket = (b, start, end);
        b
    }

    fn sent(&mut self, stream: u32) {
        self.counts.sent += 1;
        self.streams[stream as usize].sent += 1;
    }

    pub(super) fn set_expect_windows(&mut self, windows: Vec<super::expect::Window>) {
        self.expect_windows = windows;
    }

    pub(super) fn take_expect_windows(&mut self) -> Vec<super::expect::Window> {
        std::mem::take(&mut self.expect_windows)
    }

    fn served(&mut self, stream: u32, pod: u32, at: SimTime, latency: SimDuration) {
        if !self.expect_windows.is_empty() {
            for w in &mut self.expect_windows {
                w.served(stream, at, latency);
            }
        }
        self.counts.served += 1;
        self.streams[stream as usize].served += 1;
        self.cells[stream as usize][pod as usize]
            .get_or_insert_with(LatencyCell::default)
            .record(latency);
        self.pod_served[pod as usize] += 1;
        let b = self.bucket(at);
        let row = &mut self.timeline_served[b];
        if row.len() <= pod as usize {
            row.resize(pod as usize + 1, 0);
        }
        row[pod as usize] += 1;
    }

    /// A request sent at `sent` failed at `at`: counted by reason, and its time to failure
    /// recorded as the latency its user saw ([`StreamOutcome::latency_with_failures`]).
    fn failed(
        &mut self,
        stream: u32,
        pod: Option<u32>,
        sent: SimTime,
        at: SimTime,
        reason: FailReason,
    ) {
        if !self.expect_windows.is_empty() {
            for w in &mut self.expect_windows {
                w.failed(stream, at);
            }
        }
        self.counts.failed += 1;
        self.streams[stream as usize]
            .latency_with_failures
            .record(at.since(sent));
        self.by_reason[reason as usize] += 1;
        self.stream_reasons[stream as usize][reason as usize] += 1;
        self.streams[stream as usize].failed += 1;
        if let Some(p) = pod {
            self.pod_failed[p as usize] += 1;
        }
        let b = self.bucket(at);
        self.timeline_failed[b] += 1;
    }
}

/// Failures by reason as `failed_by_reason` lists them: reasons with a count, by name.
fn reasons_map(counts: &[u64; FailReason::ALL.len()]) -> std::collections::BTreeMap<String, u64> {
    FailReason::ALL
        .iter()
        .filter(|r| counts[**r as usize] > 0)
        .map(|r| (r.as_str().to_string(), counts[*r as usize]))
        .collect()
}

/// Who sent an attempt, for [`Simulation::attempt_ended`].
struct Attempt {
    stream: u32,
    client: u32,
    attempt: u8,
    counted: bool,
}

impl From<Request> for Attempt {
    fn from(r: Request) -> Self {
        Attempt {
            stream: r.stream,
            client: r.client,
            attempt: r.attempt,
            counted: r.counted,
        }
    }
}

/// Where routing sent a new connection: to the pod of the [`Delivery`] that
/// [`route`](Simulation::route) filled in, or nowhere.
#[derive(Clone, Copy)]
enum Route {
    Pod,
    /// Failed at once (refused, no route, no DNS answer).
    Fail(FailReason),
    /// Lost on the way: the client waits until its timeout.
    Lost,
    /// To a pod address nobody answers ARP for (its sandbox is gone): the node's neighbour
    /// resolution fails after about 3 s and the client gets "No route to host", unless its own
    /// timeout comes first.
    Unanswered,
    /// Fails after a while (a name lookup nobody answered: the resolver's timeouts).
    FailAfter(FailReason, SimDuration),
    /// Dropped by a NetworkPolicy (`sim::netpol`): the client waits until its timeout.
    PolicyDrop,
}

/// The pod a routed connection reaches. An out-parameter of `route`, so that its fields are
/// stored and read one by one: returned inside the `Route` enum, the whole was copied with
/// wide loads over the narrow stores that built it, which defeats store-to-load forwarding
/// (`perf annotate`: 3-4% of the seed model's time on that one copy).
#[derive(Clone, Copy)]
struct Delivery {
    pod: PodId,
    container: u16,
    /// The node the connection's packets first entered.
    entry: NodeId,
    one_way: SimDuration,
    /// The data plane's handle for the new connection (IPVS counts it).
    dp_conn: u64,
    /// The name lookup before the connection (`sim::lookup`): its SYN leaves this much later.
    setup: SimDuration,
}

impl Delivery {
    const NONE: Delivery = Delivery {
        pod: PodId(u32::MAX),
        container: 0,
        entry: NodeId(u32::MAX),
        one_way: SimDuration::ZERO,
        dp_conn: NO_DP_CONN,
        setup: SimDuration::ZERO,
    };
}

impl Simulation {
    pub(super) fn on_arrival(&mut self, now: SimTime, stream: u32) {
        let si = stream as usize;
        let stop = self.stream_stop(si);
        if let Some(next) = self.streams[si].next_arrival(&self.scenario.traffic[si], now, stop) {
            self.queue
                .schedule_in_lane(super::LANE_ARRIVALS, next, Ev::Arrival(stream));
        }
        let counted = now >= self.warmup_end;
        let Some(client) = self.pick_client(si) else {
            // No client pod exists right now: nobody sends.
            return;
        };
        self.send_attempt(now, stream, client, counted, 0);
    }

    /// A client sends a request: a first attempt (`attempt` 0) or a retry.
    fn send_attempt(&mut self, now: SimTime, stream: u32, client: u32, counted: bool, attempt: u8) {
        let si = stream as usize;
        if counted {
            self.metrics.sent(stream);
            let s = &mut self.metrics.streams[si];
            if attempt > 0 {
                s.retries += 1;
            } else {
                s.user_requests.sent += 1;
            }
        }
        if attempt == 0 && self.streams[si].reacts {
            self.streams[si].budget.deposit(now);
        }
        if self.scenario.traffic[si].connections.reuse {
            self.streams[si].pools[client as usize]
                .waiting
                .push_back(Waiting {
                    sent: now,
                    counted,
                    attempt,
                });
            self.on_dispatch(now, stream, client);
        } else {
            self.send_on_new_connection(now, now, stream, client, counted, NO_CONN, attempt);
        }
    }

    /// A closed-loop user's next request.
    pub(super) fn on_user_send(&mut self, now: SimTime, stream: u32, client: u32) {
        let counted = now >= self.warmup_end;
        self.send_attempt(now, stream, client, counted, 0);
    }

    /// A retry after its back-off.
    pub(super) fn on_retry(
        &mut self,
        now: SimTime,
        stream: u32,
        client: u32,
        attempt: u8,
        counted: bool,
    ) {
        if !self.streams[stream as usize].clients[client as usize].alive {
            return;
        }
        self.send_attempt(now, stream, client, counted, attempt);
    }

    /// The client's deadline for a request it still waits for: it gives up (`timeout`) and
    /// closes the connection; the server, which does not know, still holds the request.
    pub(super) fn on_client_timeout(&mut self, now: SimTime, r: ReqRef) {
        let Some(req) = self.reqs.get_mut(r) else {
            return;
        };
        if req.abandoned {
            return;
        }
        req.abandoned = true;
        let req = *req;
        if req.counted {
            self.metrics.failed(
                req.stream,
                Some(req.pod),
                req.sent,
                now,
                FailReason::Timeout,
            );
        }
        // The client closes its side (FIN); the request's later end closes nothing again.
        self.close_conn(&req, CloseKind::Fin);
        self.attempt_ended(now, &req.into(), Some(FailReason::Timeout));
    }

    /// An attempt ended for its client at `at` (success, or the failure the client saw). For
    /// streams that react to outcomes: a retry is scheduled if the policy, the attempt count
    /// and the budget allow; otherwise the user's request is over (counted for goodput) and a
    /// closed-loop user thinks, then sends its next one. Other streams return at once.
    #[inline]
    fn attempt_ended(&mut self, at: SimTime, a: &Attempt, failure: Option<FailReason>) {
        if self.streams[a.stream as usize].reacts {
            self.client_reacts(at, a, failure);
        }
    }

    /// [`attempt_ended`](Self::attempt_ended) for a stream that reacts.
    #[inline(never)]
    fn client_reacts(&mut self, at: SimTime, a: &Attempt, failure: Option<FailReason>) {
        let si = a.stream as usize;
        let at = at.max(self.queue.now());
        if let (Some(reason), Some(policy)) = (failure, &self.scenario.traffic[si].retries) {
            if u32::from(a.attempt) < policy.max
                && a.attempt < u8::MAX
                && policy.on.contains(&reason)
            {
                let st = &mut self.streams[si];
                if !st.budget.allows(at, policy) {
                    if a.counted {
                        self.metrics.streams[si].retries_denied += 1;
                    }
                } else {
                    // Back-off before retry n = attempt + 1: initial x multiplier^attempt,
                    // capped, minus up to `jitter` of itself.
                    let base = policy.initial.as_secs_f64()
                        * libm::pow(policy.multiplier, f64::from(a.attempt));
                    let capped = base.min(policy.max_backoff.as_secs_f64());
                    let u: f64 = match &mut st.retry_rng {
                        Some(rng) if policy.jitter > 0.0 => rng.random(),
                        _ => 0.0,
                    };
                    let when = at + SimDuration::from_secs_f64(capped * (1.0 - policy.jitter * u));
                    if when >= self.end {
                        // Would retry after the end: the user's request is still in flight.
                        return;
                    }
                    st.budget.withdraw(at);
                    self.queue.schedule(
                        when,
                        Ev::Retry {
                            stream: a.stream,
                            client: a.client,
                            attempt: a.attempt + 1,
                            counted: a.counted,
                        },
                    );
                    return;
                }
            }
        }
        if a.counted {
            let u = &mut self.metrics.streams[si].user_requests;
            match failure {
                None => {
                    u.succeeded += 1;
                    if a.attempt == 0 {
                        u.succeeded_first_attempt += 1;
                    }
                }
                Some(_) => u.failed += 1,
            }
        }
        if self.scenario.traffic[si].users.is_some() {
            let when = at + self.streams[si].think();
            if when < self.stream_stop(si) {
                self.queue.schedule(
                    when,
                    Ev::UserSend {
                        stream: a.stream,
                        client: a.client,
                    },
                );
            }
        }
    }

    /// A connection a NetworkPolicy dropped: the client's SYNs go unanswered until its
    /// timeout, counted as `policy_drop` so that the cause shows.
    #[cold]
    fn policy_dropped(&mut self, sent: SimTime, a: &Attempt) {
        let deadline = sent + self.scenario.traffic[a.stream as usize].timeout;
        if deadline > self.end {
            if a.counted {
                self.metrics.counts.in_flight += 1;
            }
            return;
        }
        if a.counted {
            self.metrics
                .failed(a.stream, None, sent, deadline, FailReason::PolicyDrop);
        }
        self.attempt_ended(deadline, a, Some(FailReason::PolicyDrop));
    }

    /// A request that is lost (`lost`), for a client that reacts: it learns at its deadline.
    fn lost_attempt(&mut self, sent: SimTime, a: &Attempt, pod: Option<u32>) {
        self.lost(sent, a.stream, pod, a.counted);
        let deadline = sent + self.scenario.traffic[a.stream as usize].timeout;
        if deadline <= self.end {
            self.attempt_ended(deadline, a, Some(FailReason::Timeout));
        }
    }

    /// Picks the client that sends the next request; in-cluster clients are the live, running
    /// pods matching the selector, refreshed as pods come and go.
    fn pick_client(&mut self, si: usize) -> Option<u32> {
        if let (true, ClientSource::Pods(selector)) = (
            self.streams[si].pods_version != self.pods_version,
            &self.scenario.traffic[si].from,
        ) {
            let live: Vec<(u32, Ipv4Addr)> = self
                .cluster
                .live_pods()
                .filter(|(_, p)| {
                    p.running()
                        && p.deleted.is_none()
                        && crate::model::objects::service_selects(selector, &p.meta.labels)
                })
                .filter_map(|(id, p)| p.ip.map(|ip| (id.0, ip)))
                .collect();
            let now = self.queue.now();
            let st = &mut self.streams[si];
            let mut orphaned = Vec::new();
            for (c, pool) in st.clients.iter_mut().zip(&mut st.pools) {
                if c.alive && !live.iter().any(|(id, _)| Some(*id) == c.pod) {
                    // The client's pod went away, and with it its connections and the
                    // requests it was holding back for one.
                    c.alive = false;
                    for conn in pool.conns.drain(..) {
                        if conn.dp_conn != NO_DP_CONN {
                            self.dp_closed.push((conn.dp_conn, CloseKind::Reset, now));
                        }
                    }
                    orphaned.extend(pool.waiting.drain(..).filter(|w| w.counted));
                }
            }
            for (id, ip) in live {
                if !st.clients.iter().any(|c| c.alive && c.pod == Some(id)) {
                    st.clients.push(Client::new(ip, Some(id)));
                    st.pools.push(Pool::default());
                }
            }
            st.live = (0..st.clients.len() as u32)
                .filter(|&i| st.clients[i as usize].alive)
                .collect();
            // Unchanged pods would match the same clients again: skip until they change.
            st.pods_version = self.pods_version;
            for w in orphaned {
                self.metrics
                    .failed(si as u32, None, w.sent, now, FailReason::ConnectionReset);
            }
            self.apply_dp_closed();
        }
        let st = &mut self.streams[si];
        match st.live.len() {
            0 => None,
            1 => Some(st.live[0]),
            n => Some(st.live[st.picks.random_range(0..n)]),
        }
    }

    /// Opens a connection (routing its SYN through the rules) and sends the request on it.
    #[allow(clippy::too_many_arguments)]
    fn send_on_new_connection(
        &mut self,
        now: SimTime,
        sent: SimTime,
        stream: u32,
        client: u32,
        counted: bool,
        conn: u32,
        attempt: u8,
    ) {
        let a = Attempt {
            stream,
            client,
            attempt,
            counted,
        };
        let si = stream as usize;
        let timeout = self.scenario.traffic[si].timeout;
        let mut to = Delivery::NONE;
        match self.route(si, client as usize, &mut to) {
            Route::Pod => {
                let Delivery {
                    pod,
                    container,
                    entry,
                    one_way,
                    dp_conn,
                    setup,
                } = to;
                let reuse = self.scenario.traffic[si].connections.reuse;
                let conn = if reuse {
                    let c = &mut self.streams[si].pools[client as usize];
                    let id = c.next_conn_id();
                    c.conns.push(Conn {
                        id,
                        pod: pod.0,
                        container,
                        entry: entry.0,
                        one_way,
                        busy: true,
                        deadline: sent + timeout,
                        idle_since: now,
                        requests: 0,
                        opened: now,
                        dp_conn,
                    });
                    id
                } else {
                    conn
                };
                // Counted as `SENT` is: a connection opened by a request sent after warmup.
                if counted {
                    self.metrics.streams[si].connections += 1;
                }
                self.count_zone_pair(entry, pod.0, counted);
                let r = self.reqs.insert(Request {
                    stream,
                    client,
                    sent,
                    pod: pod.0,
                    container,
                    conn,
                    one_way,
                    counted,
                    server_pos: 0,
                    generation: 0,
                    dp_conn: if reuse { NO_DP_CONN } else { dp_conn },
                    attempt,
                    abandoned: false,
                    probe: None,
                });
                self.client_deadline(sent, si, r);
                let handshake = one_way.saturating_mul(2);
                self.queue.schedule_in_lane(
                    super::LANE_NEW_CONNECTIONS,
                    now + setup + handshake + one_way,
                    Ev::ReachPod(r),
                );
            }
            Route::Fail(reason) => {
                if counted {
                    self.metrics.failed(stream, None, sent, now, reason);
                }
                self.attempt_ended(now, &a, Some(reason));
            }
            Route::Lost => self.lost_attempt(sent, &a, None),
            Route::PolicyDrop => self.policy_dropped(sent, &a),
            Route::Unanswered => self.fail_after(
                now,
                sent,
                &a,
                crate::net::neigh::RESOLUTION_FAILS_AFTER,
                FailReason::NoRoute,
            ),
            Route::FailAfter(reason, after) => self.fail_after(now, sent, &a, after, reason),
        }
    }

    /// A SYN to an address nobody answers ARP for: the node retries the neighbour resolution
    /// (`net::neigh`), the client retransmits its SYN at 1 s and 3 s, and the failed entry's
    /// ICMP host unreachable ends the connect with `no_route` at about 3 s; a client whose
    /// timeout is shorter gives up first.
    /// Also a name lookup that failed `after` its first query (`dns_failure`).
    #[cold]
    fn fail_after(
        &mut self,
        now: SimTime,
        sent: SimTime,
        a: &Attempt,
        after: SimDuration,
        reason: FailReason,
    ) {
        let fails = now + after;
        if fails >= sent + self.scenario.traffic[a.stream as usize].timeout {
            self.lost_attempt(sent, a, None);
            return;
        }
        if fails > self.end {
            if a.counted {
                self.metrics.counts.in_flight += 1;
            }
            return;
        }
        if a.counted {
            self.metrics.failed(a.stream, None, sent, fails, reason);
        }
        self.attempt_ended(fails, a, Some(reason));
    }

    /// For a stream that reacts to outcomes, the client's deadline for request `r`.
    fn client_deadline(&mut self, sent: SimTime, si: usize, r: ReqRef) {
        if self.streams[si].reacts {
            let deadline = sent + self.scenario.traffic[si].timeout;
            if deadline <= self.end {
                self.queue.schedule(deadline, Ev::ClientTimeout(r));
            }
        }
    }

    /// A request whose packets are lost: the client gives up at its timeout.
    fn lost(&mut self, sent: SimTime, stream: u32, pod: Option<u32>, counted: bool) {
        if !counted {
            return;
        }
        let deadline = sent + self.scenario.traffic[stream as usize].timeout;
        if deadline <= self.end {
            self.metrics
                .failed(stream, pod, sent, deadline, FailReason::Timeout);
        } else {
            self.metrics.counts.in_flight += 1;
        }
    }

    /// Routes a new connection from `client` of stream `si` as the packets would go; when it
    /// reaches a pod, `to` says where.
    fn route(&mut self, si: usize, client: usize, to: &mut Delivery) -> Route {
        let lat = self.latency();
        let c = &mut self.streams[si].clients[client];
        let src = c.addr;
        let src_port = c.next_src_port();
        let client_pod = c.pod.map(PodId);
        let (dst, dport) = match &self.scenario.traffic[si].to {
            Destination::Addr(ip, port) => (*ip, *port),
            Destination::Name(name, port) => {
                // Cluster DNS answers pods only: an outside client's name does not resolve.
                let Some(p) = client_pod else {
                    return Route::Fail(FailReason::DnsFailure);
                };
                let (name, port) = (name.clone(), *port);
                let lookup = self.lookup(p, &name);
                match lookup.answer {
                    Some(ip) => {
                        to.setup = lookup.took();
                        (ip, port)
                    }
                    None => return Route::FailAfter(FailReason::DnsFailure, lookup.took()),
                }
            }
        };
        // The node the packet enters, and the latency to get there.
        let (mut entry, mut one_way) = match client_pod {
            Some(p) => match self.cluster.pod(p).node {
                Some(n) => (n, lat.same_node),
                None => return Route::Fail(FailReason::NoRoute),
            },
            None => match self.node_by_ip(dst) {
                Some(n) => (n, lat.external),
                None => match self.lb_entry(dst, src, src_port) {
                    LbEntry::Node(n) => (n, lat.external),
                    // The load balancer has no healthy node to send the SYN to.
                    LbEntry::NoHealthyNode => return Route::Lost,
                    LbEntry::NotOwned => return Route::Fail(FailReason::NoRoute),
                },
            },
        };
        let first = entry;
        for _hop in 0..2 {
            if !self.cluster.node(entry).up {
                return Route::Lost;
            }
            let pkt = Packet {
                src,
                src_port,
                dst,
                dst_port: dport,
                protocol: Protocol::Tcp,
                local_origin: false,
            };
            let now_ns = self.queue.now().as_nanos();
            let proxy = &mut self.proxies[entry.index()];
            let (verdict, dp_conn) = match &mut proxy.ipvs {
                Some(table) => {
                    let (v, c) = table.route(&pkt, now_ns);
                    (
                        v,
                        c.map_or(NO_DP_CONN, |c| super::dataplane::pack_ipvs_conn(entry, c)),
                    )
                }
                None => (proxy.route(&pkt, now_ns), NO_DP_CONN),
            };
            match verdict {
                Verdict::Dnat {
                    endpoint_index,
                    service_port_index,
                    masquerade,
                    port,
                    ..
                } => {
                    let (pod, container) = proxy.gen.pod(service_port_index, endpoint_index);
                    if self.expect.is_some() {
                        self.expect_connection(si, first, entry, pod, masquerade);
                    }
                    let route = if self.netpol.any()
                        && self.policy_drops(
                            self.seen_source(src, masquerade, entry, pod),
                            client_pod,
                            pod,
                            port,
                            Protocol::Tcp,
                        ) {
                        Route::PolicyDrop
                    } else {
                        self.deliver(entry, one_way, pod, Some(container), dport, to)
                    };
                    to.entry = first;
                    if dp_conn == NO_DP_CONN {
                        return route;
                    }
                    return self.attach_dp_conn(route, dp_conn, to);
                }
                Verdict::Reject => return Route::Fail(FailReason::ConnectionRefused),
                Verdict::Drop => return Route::Lost,
                Verdict::NotService => {
                    if let Some(pod) = self.pod_by_ip(dst) {
                        if self.policy_drops(src, client_pod, pod, dport, Protocol::Tcp) {
                            return Route::PolicyDrop;
                        }
                        let route = self.deliver(entry, one_way, pod, None, dport, to);
                        to.entry = first;
                        return route;
                    }
                    if self.pod_cidr_node(dst).is_some() {
                        // A pod address no pod holds: routed to its node's bridge, where
                        // nobody answers ARP.
                        return Route::Unanswered;
                    }
                    match self.node_by_ip(dst) {
                        // To another node's address: across the network, then its rules.
                        Some(n) if n != entry && client_pod.is_some() => {
                            one_way += lat.cross_node + self.zone_hop(entry, n);
                            entry = n;
                        }
                        // To this node, on a port no rule claims and nothing listens on: the
                        // kernel answers the SYN with a reset.
                        Some(n) if n == entry => {
                            // A pod's hostPort (the CNI portmap plugin's DNAT, whose jump
                            // follows kube-proxy's) or a hostNetwork pod listening there.
                            if let Some((pod, c, cport)) = self.host_port_target(entry, dport) {
                                if self.policy_drops(src, client_pod, pod, cport, Protocol::Tcp) {
                                    return Route::PolicyDrop;
                                }
                                return self.deliver(entry, one_way, pod, Some(c), dport, to);
                            }
                            return Route::Fail(FailReason::ConnectionRefused);
                        }
                        // No rule claims it and it is none of the node's addresses (say a
                        // ClusterIP port the Service does not have, in iptables mode): the node
                        // forwards it to its default route, where nothing answers. Seen on a
                        // real kernel by `.ci/kernel-rules`.
                        _ => return Route::Lost,
                    }
                }
            }
        }
        Route::Fail(FailReason::NoRoute)
    }

    /// The last leg: from the node that made the routing decision to the pod.
    #[inline(always)]
    fn deliver(
        &self,
        entry: NodeId,
        mut one_way: SimDuration,
        pod: PodId,
        container: Option<u16>,
        dport: u16,
        to: &mut Delivery,
    ) -> Route {
        let lat = self.latency();
        let p = self.cluster.pod(pod);
        let Some(node) = p.node else {
            return Route::Fail(FailReason::NoRoute);
        };
        if node != entry {
            one_way += lat.cross_node + self.zone_hop(entry, node);
        }
        one_way += lat.same_node;
        if !self.cluster.node(node).up {
            return Route::Lost;
        }
        // The DNAT target port is the container port; a direct connection names it itself.
        let container = match container {
            Some(c) => c,
            None => match p.spec.listener(dport, crate::model::objects::Protocol::Tcp) {
                Some(c) => c as u16,
                None => return Route::Fail(FailReason::ConnectionRefused),
            },
        };
        if !p.exists() {
            // The pod's sandbox and its address went when its containers stopped (the rules
            // still name it until kube-proxy's next sync): nobody answers ARP for it.
            return Route::Unanswered;
        }
        let accepting = self.servers[pod.index()]
            .get(container as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.accepting);
        if !accepting {
            // The sandbox is there but nothing listens (a crashed or stopping container): its
            // kernel answers the SYN with a reset.
            return Route::Fail(FailReason::ConnectionRefused);
        }
        *to = Delivery {
            pod,
            container,
            entry,
            one_way,
            dp_conn: NO_DP_CONN,
            setup: to.setup,
        };
        Route::Pod
    }

    /// Gives a delivered route its data-plane connection; a connection that failed on the
    /// way ends at once (refused: a reset; lost: a handshake that never completes).
    #[cold]
    fn attach_dp_conn(&mut self, route: Route, dp: u64, to: &mut Delivery) -> Route {
        let now = self.queue.now();
        match route {
            Route::Pod => to.dp_conn = dp,
            Route::Fail(_) => self.close_dp_conn(dp, CloseKind::Reset, now),
            Route::Lost | Route::PolicyDrop | Route::Unanswered | Route::FailAfter(..) => {
                self.close_dp_conn(dp, CloseKind::NeverEstablished, now)
            }
        }
        route
    }

    /// Closes the IPVS connections gathered in `dp_closed`.
    fn apply_dp_closed(&mut self) {
        let mut closed = std::mem::take(&mut self.dp_closed);
        for (dp, kind, at) in closed.drain(..) {
            self.close_dp_conn(dp, kind, at);
        }
        self.dp_closed = closed;
    }

    pub(super) fn node_by_ip(&self, ip: Ipv4Addr) -> Option<NodeId> {
        self.node_ips.get(&ip).copied()
    }

    /// The node whose pod CIDR holds `ip` as a pod address (not the network's .0, flannel.1,
    /// nor .1, the bridge cni0: the node's own), if any.
    pub(super) fn pod_cidr_node(&self, ip: Ipv4Addr) -> Option<NodeId> {
        self.pod_cidrs
            .iter()
            .position(|c| c.contains(&ip) && u32::from(ip) - u32::from(c.network()) >= 2)
            .map(|i| NodeId(i as u32))
    }

    pub(super) fn pod_by_ip(&self, ip: Ipv4Addr) -> Option<PodId> {
        self.cluster
            .live_pods()
            .find(|(_, p)| p.ip == Some(ip) && !p.spec.host_network)
            .map(|(id, _)| id)
    }

    pub(super) fn on_reach_pod(&mut self, now: SimTime, r: ReqRef) {
        let Some(req) = self.reqs.get(r).copied() else {
            return;
        };
        let pod = PodId(req.pod);
        let node_up = self
            .cluster
            .pod(pod)
            .node
            .is_some_and(|n| self.cluster.node(n).up);
        if !node_up {
            self.reqs.remove(r);
            if req.probe.is_some() {
                // The kubelet is down with its node: nobody reads the answer.
                return;
            }
            // An abandoned request's connection was closed when its client gave up.
            if !req.abandoned {
                self.close_conn(&req, CloseKind::Fin);
                self.lost_attempt(req.sent, &req.into(), Some(req.pod));
            }
            return;
        }
        if self.expect.is_some() && req.probe.is_none() && !req.abandoned {
            self.expect_reach_pod(now, req.stream, pod, req.sent);
        }
        let on_new_conn = req.conn == NO_CONN || self.conn_requests(&req) == 0;
        let server = self.servers[pod.index()]
            .get_mut(req.container as usize)
            .and_then(Option::as_mut);
        let Some(server) = server.filter(|s| s.accepting || !on_new_conn) else {
            self.reqs.remove(r);
            if req.probe.is_some() {
                self.probe_answered(now, &req, ProbeAnswer::Refused);
                return;
            }
            if req.abandoned {
                return;
            }
            self.close_conn(&req, CloseKind::Reset);
            let reason = if on_new_conn {
                FailReason::ConnectionRefused
            } else {
                FailReason::ConnectionReset
            };
            if req.counted {
                self.metrics
                    .failed(req.stream, Some(req.pod), req.sent, now, reason);
            }
            self.attempt_ended(now, &req.into(), Some(reason));
            return;
        };
        if server.has_free_slot() {
            let pos = server.start(r.slot);
            self.metrics.load_change(req.pod, now, 1, 0, 0);
            if let Some(q) = self.reqs.get_mut(r) {
                q.server_pos = pos;
            }
            self.start_service(now, r);
        } else if server.queue_full() {
            // Turned away at once: 503 Service Unavailable, back to the client after `L`; the
            // connection stays open (an HTTP answer, not a reset).
            self.reqs.remove(r);
            if req.probe.is_some() {
                self.probe_answered(now + req.one_way, &req, ProbeAnswer::Unavailable);
                return;
            }
            if req.abandoned {
                return;
            }
            if req.counted {
                self.metrics.failed(
                    req.stream,
                    Some(req.pod),
                    req.sent,
                    now,
                    FailReason::Http503,
                );
            }
            self.release_conn(&req, now + req.one_way);
            self.attempt_ended(now + req.one_way, &req.into(), Some(FailReason::Http503));
        } else {
            server.queue.push_back(r.slot);
            self.metrics.load_change(req.pod, now, 0, 1, 0);
        }
    }

    fn conn_requests(&self, req: &Request) -> u32 {
        let c = &self.streams[req.stream as usize].pools[req.client as usize];
        c.conns
            .iter()
            .find(|c| c.id == req.conn)
            .map_or(0, |c| c.requests)
    }

    /// Starts serving a request that holds a slot; a zero service time completes it now.
    fn start_service(&mut self, now: SimTime, mut r: ReqRef) {
        loop {
            let req = *self.reqs.get(r).expect("a request in a slot is live");
            let server = self.servers[req.pod as usize][req.container as usize]
                .as_ref()
                .expect("serving pod has a server");
            let mut d = self.samplers[server.behavior as usize].sample();
            self.metrics_server.charge(
                crate::model::cluster::PodId(req.pod),
                server.cpu_per_request,
            );
            if let Some(cpu) = server.cpu_per_request {
                d += cpu_wall_time(cpu, server.in_service.len() as u32, server.cpu_limit_millis);
            }
            if !d.is_zero() {
                self.queue.schedule_inlined(now + d, Ev::Done(r));
                return;
            }
            match self.complete(now, r) {
                Some(next) => r = next,
                None => return,
            }
        }
    }

    pub(super) fn on_done(&mut self, now: SimTime, r: ReqRef) {
        if self.reqs.get(r).is_none() {
            return;
        }
        if let Some(next) = self.complete(now, r) {
            self.start_service(now, next);
        }
    }

    /// Ends a request the server finished; returns the next queued request, which now holds
    /// the freed slot.
    fn complete(&mut self, now: SimTime, r: ReqRef) -> Option<ReqRef> {
        let req = self.reqs.remove(r).expect("completing a live request");
        let server = self.servers[req.pod as usize][req.container as usize]
            .as_mut()
            .expect("serving pod has a server");
        let next = server
            .finish(r.slot, req.server_pos)
            .map(|slot| self.reqs.by_slot(slot).expect("queued request is live").0);
        // Keep the position hints true: the request swapped into the freed position and the
        // one now last (the next from the queue, if any) moved.
        if next.is_some() {
            self.metrics.load_change(req.pod, now, 0, -1, 0);
        } else {
            self.metrics.load_change(req.pod, now, -1, 0, 0);
        }
        let len = server.in_service.len() as u32;
        for pos in [req.server_pos, len.wrapping_sub(1)] {
            if let Some(&slot) = server.in_service.get(pos as usize) {
                if let Some(q) = self.reqs.by_slot_mut(slot) {
                    q.server_pos = pos;
                }
            }
        }
        let response_at = now + req.one_way;
        let latency = response_at - req.sent;
        if req.probe.is_some() {
            self.probe_answered(response_at, &req, ProbeAnswer::Ok);
        } else if !req.abandoned {
            // (An abandoned request's client gave up at its deadline and has counted it:
            // nobody reads the answer.)
            self.answer_client(&req, response_at, latency);
        }
        if next.is_none() && self.cluster.pod(PodId(req.pod)).deleted.is_some() {
            // The pod may go away now (in-cluster clients are matched again).
            self.pods_version += 1;
            self.maybe_finish_termination(now, PodId(req.pod));
        }
        next
    }

    /// The server's answer to `req` reaches its client at `response_at`: served, or a
    /// timeout if it came later than the stream's `timeout`.
    #[inline]
    fn answer_client(&mut self, req: &Request, response_at: SimTime, latency: SimDuration) {
        let timeout = self.scenario.traffic[req.stream as usize].timeout;
        if latency > timeout {
            self.close_conn(req, CloseKind::Fin);
            let at = req.sent + timeout;
            if req.counted {
                if at <= self.end {
                    self.metrics.failed(
                        req.stream,
                        Some(req.pod),
                        req.sent,
                        at,
                        FailReason::Timeout,
                    );
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
            if at <= self.end {
                self.attempt_ended(at, &(*req).into(), Some(FailReason::Timeout));
            }
        } else {
            if req.counted {
                if response_at <= self.end {
                    self.metrics
                        .served(req.stream, req.pod, response_at, latency);
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
            self.release_conn(req, response_at);
            if response_at <= self.end {
                self.attempt_ended(response_at, &(*req).into(), None);
            }
        }
    }

    /// The answer reached the client: its connection is idle again, or closed when it has
    /// carried `maxRequests` or the server is shutting down.
    fn release_conn(&mut self, req: &Request, at: SimTime) {
        if req.conn == NO_CONN {
            // One request per connection: the client closes it once the answer is in.
            self.close_dp_conn(req.dp_conn, CloseKind::Fin, at);
            return;
        }
        let si = req.stream as usize;
        let policy = self.scenario.traffic[si].connections;
        let accepting = self.servers[req.pod as usize][req.container as usize]
            .as_ref()
            .is_some_and(|s| s.accepting);
        let client = &mut self.streams[si].pools[req.client as usize];
        let mut close = !accepting;
        let mut dp = NO_DP_CONN;
        let mut idle_since = at;
        if let Some(c) = client.conn_mut(req.conn) {
            c.busy = false;
            c.idle_since = at;
            c.requests += 1;
            close |= policy.max_requests.is_some_and(|m| c.requests >= m);
            dp = c.dp_conn;
            idle_since = c.idle_since;
        }
        if close {
            client.conns.retain(|c| c.id != req.conn);
            self.close_dp_conn(dp, CloseKind::Fin, at);
        } else if dp != NO_DP_CONN {
            let keep_alive = self.servers[req.pod as usize][req.container as usize]
                .as_ref()
                .and_then(|s| self.behaviors[s.behavior as usize].keep_alive_timeout);
            let t = Pool::idle_close_at(idle_since, policy.idle_timeout, keep_alive);
            // IPVS counts the connection until it closes: wake the client then, so an idle
            // connection is closed on time, not at the client's next request.
            self.queue.schedule(
                t,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
        let client = &mut self.streams[si].pools[req.client as usize];
        if !client.waiting.is_empty() {
            self.queue.schedule(
                at,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
    }

    fn close_conn(&mut self, req: &Request, kind: CloseKind) {
        let now = self.queue.now();
        if req.conn == NO_CONN {
            self.close_dp_conn(req.dp_conn, kind, now);
            return;
        }
        let client = &mut self.streams[req.stream as usize].pools[req.client as usize];
        let dp = client.conn_mut(req.conn).map_or(NO_DP_CONN, |c| c.dp_conn);
        client.conns.retain(|c| c.id != req.conn);
        self.close_dp_conn(dp, kind, now);
        let client = &mut self.streams[req.stream as usize].pools[req.client as usize];
        if !client.waiting.is_empty() {
            let now = self.queue.now();
            self.queue.schedule(
                now,
                Ev::Dispatch {
                    stream: req.stream,
                    client: req.client,
                },
            );
        }
    }

    /// Sends a client's waiting requests on idle connections, opening new ones up to the
    /// per-destination limit.
    pub(super) fn on_dispatch(&mut self, now: SimTime, stream: u32, client: u32) {
        let si = stream as usize;
        let policy = self.scenario.traffic[si].connections;
        let timeout = self.scenario.traffic[si].timeout;
        loop {
            let keep_alive = |pod: u32, container: u16| -> Option<SimDuration> {
                let b = self
                    .servers
                    .get(pod as usize)?
                    .get(container as usize)?
                    .as_ref()?
                    .behavior;
                self.behaviors[b as usize].keep_alive_timeout
            };
            let alive = |pod: u32| {
                let p = self.cluster.pod(PodId(pod));
                p.exists() && p.deleted.is_none()
            };
            let ipvs = self.dp_counts_connections();
            let c = &mut self.streams[si].pools[client as usize];
            if c.waiting.is_empty() && !ipvs {
                return;
            }
            let mut closed = std::mem::take(&mut self.dp_closed);
            c.prune(
                now,
                policy.idle_timeout,
                keep_alive,
                alive,
                |conn, at, reset| {
                    if conn.dp_conn != NO_DP_CONN {
                        let kind = if reset {
                            CloseKind::Reset
                        } else {
                            CloseKind::Fin
                        };
                        closed.push((conn.dp_conn, kind, at));
                    }
                },
            );
            self.dp_closed = closed;
            if !self.dp_closed.is_empty() {
                self.apply_dp_closed();
            }
            let c = &mut self.streams[si].pools[client as usize];
            let Some(w) = c.waiting.pop_front() else {
                return;
            };
            if now >= w.sent + timeout {
                if w.counted {
                    self.metrics.failed(
                        stream,
                        None,
                        w.sent,
                        w.sent + timeout,
                        FailReason::Timeout,
                    );
                }
                let a = Attempt {
                    stream,
                    client,
                    attempt: w.attempt,
                    counted: w.counted,
                };
                self.attempt_ended(w.sent + timeout, &a, Some(FailReason::Timeout));
                continue;
            }
            if let Some(i) = c.oldest_idle() {
                let conn = &mut c.conns[i];
                conn.busy = true;
                conn.deadline = w.sent + timeout;
                let (pod, container, one_way, id, entry) =
                    (conn.pod, conn.container, conn.one_way, conn.id, conn.entry);
                self.count_zone_pair(NodeId(entry), pod, w.counted);
                let r = self.reqs.insert(Request {
                    stream,
                    client,
                    sent: w.sent,
                    pod,
                    container,
                    conn: id,
                    one_way,
                    counted: w.counted,
                    server_pos: 0,
                    generation: 0,
                    dp_conn: NO_DP_CONN,
                    attempt: w.attempt,
                    abandoned: false,
                    probe: None,
                });
                self.client_deadline(w.sent, si, r);
                self.queue
                    .schedule_in_lane(super::LANE_KEPT_ALIVE, now + one_way, Ev::ReachPod(r));
            } else if (c.conns.len() as u32) < policy.max_per_destination {
                self.send_on_new_connection(
                    now, w.sent, stream, client, w.counted, NO_CONN, w.attempt,
                );
            } else {
                c.waiting.push_front(w);
                let wake = c
                    .earliest_deadline()
                    .unwrap_or(now)
                    .max(now + SimDuration::from_nanos(1));
                self.queue.schedule(wake, Ev::Dispatch { stream, client });
                return;
            }
        }
    }

    /// The pod's containers stop: every request they hold fails with `reason`.
    pub(super) fn kill_servers(&mut self, now: SimTime, pod: PodId, reason: FailReason) {
        for s in self.servers[pod.index()].iter().flatten() {
            self.metrics.server_gone(pod.0, now, s);
        }
        let held: Vec<u32> = self.servers[pod.index()]
            .iter_mut()
            .flatten()
            .flat_map(|s| s.drain_all())
            .collect();
        self.servers[pod.index()].iter_mut().for_each(|s| *s = None);
        self.fail_held(now, held, reason);
    }

    /// Fails the requests in `slots` (taken from a server that stopped) with `reason`; with
    /// `Timeout` the client learns only at its deadline.
    pub(super) fn fail_held(&mut self, now: SimTime, slots: Vec<u32>, reason: FailReason) {
        for slot in slots {
            let Some((r, req)) = self.reqs.by_slot(slot).map(|(r, q)| (r, *q)) else {
                continue;
            };
            self.reqs.remove(r);
            if req.probe.is_some() {
                // The server stopped with the container (or the pod is going): the kubelet
                // forgets the probe; the container's next start probes afresh.
                self.probe_forgotten(&req);
                continue;
            }
            let kind = if reason == FailReason::ConnectionReset {
                CloseKind::Reset
            } else {
                CloseKind::Fin
            };
            if req.abandoned {
                continue;
            }
            self.close_conn(&req, kind);
            if reason == FailReason::Timeout {
                self.lost_attempt(req.sent, &req.into(), Some(req.pod));
            } else {
                if req.counted {
                    self.metrics
                        .failed(req.stream, Some(req.pod), req.sent, now, reason);
                }
                self.attempt_ended(now, &req.into(), Some(reason));
            }
        }
    }

    /// Closes the books: requests still in flight either timed out before the end or are
    /// counted as in flight; then the outcome is assembled.
    pub(super) fn finish(&mut self) -> Outcome {
        let zones = self.zone_traffic();
        let end = self.end;
        let live: Vec<Request> = self.reqs.live().filter(|r| !r.abandoned).copied().collect();
        for req in live {
            self.lost(req.sent, req.stream, Some(req.pod), req.counted);
        }
        for si in 0..self.streams.len() {
            let timeout = self.scenario.traffic[si].timeout;
            let waiting: Vec<Waiting> = self.streams[si]
                .pools
                .iter()
                .flat_map(|p| p.waiting.iter().copied())
                .collect();
            for w in waiting.into_iter().filter(|w| w.counted) {
                if w.sent + timeout <= end {
                    self.metrics.failed(
                        si as u32,
                        None,
                        w.sent,
                        w.sent + timeout,
                        FailReason::Timeout,
                    );
                } else {
                    self.metrics.counts.in_flight += 1;
                }
            }
        }
        let expect = self.expect_finish();
        let m = &mut self.metrics;
        m.counts.failed_by_reason = reasons_map(&m.by_reason);
        for ((s, reasons), st) in m
            .streams
            .iter_mut()
            .zip(&m.stream_reasons)
            .zip(&self.streams)
        {
            s.failed_by_reason = reasons_map(reasons);
            if !st.reacts {
                // No retries: each request is a user request.
                s.user_requests.succeeded = s.served;
                s.user_requests.succeeded_first_attempt = s.served;
                s.user_requests.failed = s.failed;
            }
        }
        // Latency: each cell once into its stream and its pod, then freed; a pod's histogram
        // lives only while its figures are read (one per pod would hold 270 KB each). The
        // run's is the streams' sum.
        let n_pods = self.cluster.pods.len();
        let mut pod_latency = vec![LatencyMs::default(); n_pods];
        for (pod, figures) in pod_latency.iter_mut().enumerate() {
            let mut latency = Latency::default();
            for (s, row) in m.streams.iter_mut().zip(&mut m.cells) {
                if let Some(cell) = row.get_mut(pod).and_then(Option::take) {
                    s.latency.add_cell(&cell);
                    latency.add_cell(&cell);
                }
            }
            *figures = latency.ms();
        }
        // What users saw: the served latencies and, recorded as they failed, the failures'.
        for s in m.streams.iter_mut() {
            let served = std::mem::take(&mut s.latency);
            s.latency_with_failures.add(&served);
            s.latency = served;
        }
        let end_ns = end.as_nanos();
        let measured_ns = end_ns.saturating_sub(m.warmup_ns);
        let load: Vec<(Option<f64>, Option<f64>)> = m
            .load
            .iter_mut()
            .map(|l| {
                l.advance(end_ns, m.bucket_ns, m.warmup_ns);
                let [busy, queued, slots, up] = l.measured();
                if slots == 0 || up == 0 || measured_ns == 0 {
                    (None, None)
                } else {
                    (
                        Some(busy as f64 / slots as f64),
                        Some(queued as f64 / up as f64),
                    )
                }
            })
            .collect();
        let mut pod_latency = pod_latency.into_iter();
        let pods = self
            .cluster
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| PodOutcome {
                name: p.meta.name.clone(),
                namespace: p.meta.namespace.clone(),
                labels: p.meta.labels.clone(),
                node: p.node.map(|n| self.cluster.node(n).cfg.name.clone()),
                ip: p.ip,
                owner: p
                    .owner
                    .map(|rs| {
                        let rs = &self.cluster.replica_sets[rs.index()];
                        match rs.owner {
                            Some(d) => self.cluster.deployments[d.index()].spec.meta.name.clone(),
                            None => rs.meta.name.clone(),
                        }
                    })
                    .or_else(|| self.controller_name(p.controller)),
                served: self.metrics.pod_served[i],
                failed: self.metrics.pod_failed[i],
                created: p.created,
                deleted: p.deleted,
                restarts: p.restarts,
                status: p.status(),
                ready: p.ready_column(),
                latency: pod_latency.next().unwrap_or_default(),
                utilisation: load[i].0,
                queue_mean: load[i].1,
            })
            .collect();
        let mut services = self.service_outcomes();
        for si in 0..self.scenario.traffic.len() {
            if let Some(i) = self.stream_service(si) {
                let s = &self.metrics.streams[si];
                services[i].served += s.served;
                services[i].latency.add(&s.latency);
            }
        }
        let version = format!(
            "v{}.{}.0",
            self.scenario.kubernetes_version.0, self.scenario.kubernetes_version.1
        );
        let nodes = self
            .cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeOutcome {
                name: n.cfg.name.clone(),
                ip: n.cfg.ip,
                status: match (n.ready, n.unschedulable) {
                    (true, false) => "Ready",
                    (true, true) => "Ready,SchedulingDisabled",
                    (false, false) => "NotReady",
                    (false, true) => "NotReady,SchedulingDisabled",
                }
                .to_string(),
                pod_cidr: self.pod_cidrs[i].to_string(),
                kubelet_version: version.clone(),
                created: n.created,
                removed: n.removed,
            })
            .collect();
        let hpas = self.hpa_outcomes();
        let m = &mut self.metrics;
        let mut latency = Latency::default();
        for s in &m.streams {
            latency.add(&s.latency);
        }
        let bucket_len = |b: usize| -> u64 {
            let start = b as u64 * m.bucket_ns;
            if b + 1 == m.buckets {
                end_ns.saturating_sub(start).max(1)
            } else {
                m.bucket_ns
            }
        };
        let utilisation = (0..m.buckets)
            .map(|b| {
                m.load
                    .iter()
                    .map(|l| {
                        let [busy, _, slots, _] = l.per_bucket[b];
                        (slots > 0).then(|| busy as f64 / slots as f64)
                    })
                    .collect()
            })
            .collect();
        let queue = (0..m.buckets)
            .map(|b| {
                m.load
                    .iter()
                    .map(|l| l.per_bucket[b][1] as f64 / bucket_len(b) as f64)
                    .collect()
            })
            .collect();
        let timeline = Timeline {
            bucket: SimDuration::from_nanos(m.bucket_ns),
            served: std::mem::take(&mut m.timeline_served)
                .into_iter()
                .map(|mut row| {
                    row.resize(n_pods, 0);
                    row
                })
                .collect(),
            failed: std::mem::take(&mut m.timeline_failed),
            utilisation,
            queue,
        };
        Outcome {
            hpas,
            zones,
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            proxy: match self.scenario.net.proxy_mode {
                crate::net::config::ProxyMode::Ipvs => format!(
                    "ipvs mode ({})",
                    self.scenario.net.ipvs_scheduler.effective().as_str()
                ),
                mode => format!("{} mode", mode.as_str()),
            },
            simulated: self.scenario.duration,
            warmup: self.scenario.warmup,
            requests: std::mem::take(&mut m.counts),
            latency,
            streams: std::mem::take(&mut m.streams),
            pods,
            services,
            nodes,
            events: std::mem::take(&mut self.log.events),
            markers: self
                .scenario
                .events
                .iter()
                .map(|e| (SimTime::ZERO + e.at, e.action.label()))
                .collect(),
            timeline,
            history: std::mem::take(&mut self.history),
            expect,
        }
    }

    /// The Service a stream addresses (index into the API server's Services): by ClusterIP
    /// and port, NodeIP and nodePort, LoadBalancer or external IP and port, or DNS name (in
    /// the namespace of its client pods, else `default`). `None` for a pod IP or no match.
    pub(super) fn stream_service(&self, si: usize) -> Option<usize> {
        let services = &self.api.services;
        match &self.scenario.traffic[si].to {
            Destination::Addr(ip, port) => {
                let node = self.node_by_ip(*ip).is_some();
                services.iter().position(|s| {
                    let ports = &s.obj.spec.ports;
                    let by_port = ports.iter().any(|p| p.port == *port);
                    (s.cluster_ip == Some(*ip) && by_port)
                        || (node && s.node_ports.contains(&Some(*port)))
                        || ((s.load_balancer_ip == Some(*ip)
                            || s.obj.spec.external_ips.contains(ip))
                            && by_port)
                })
            }
            Destination::Name(name, _) => {
                let ns = self.streams[si]
                    .clients
                    .iter()
                    .find_map(|c| c.pod)
                    .map_or("default", |p| {
                        self.cluster.pod(PodId(p)).meta.namespace.as_str()
                    });
                let (svc, ns) = crate::net::dns::service_name(name, ns)?;
                services
                    .iter()
                    .position(|s| s.obj.meta.name == svc && s.obj.meta.namespace == ns)
            }
        }
    }

    /// The Services as `kubectl get svc` would list them now.
    pub fn service_outcomes(&self) -> Vec<ServiceOutcome> {
        self.api
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let spec = &s.obj.spec;
                let endpoints = self.ready_endpoints(i);
                ServiceOutcome {
                    name: s.obj.meta.name.clone(),
                    namespace: s.obj.meta.namespace.clone(),
                    type_: spec.type_,
                    cluster_ip: s.cluster_ip,
                    external_ip: s.external_ip_column(),
                    ports: spec
                        .ports
                        .iter()
                        .zip(&s.node_ports)
                        .map(|(p, np)| ServicePortOutcome {
                            name: p.name.clone(),
                            protocol: p.protocol,
                            port: p.port,
                            target_port: p.target_port.clone(),
                            node_port: *np,
                        })
                        .collect(),
                    selector: spec.selector.clone(),
                    endpoints,
                    served: 0,
                    latency: Latency::default(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_load_integrates_across_buckets_and_after_warmup() {
        // Buckets of 10 ns, 3 of them; warmup ends at 5 ns.
        let mut l = PodLoad::new(3, 5);
        l.advance(2, 10, 5);
        l.slots = 2;
        l.busy = 1;
        l.advance(12, 10, 5); // 1 busy of 2 slots from 2 to 12
        l.queued = 3;
        l.advance(14, 10, 5); // the fast path, within bucket 1
        l.advance(30, 10, 5); // and 3 queued from 12 to 30
        assert_eq!(l.per_bucket[0], [8, 0, 16, 8]);
        assert_eq!(l.per_bucket[1], [10, 24, 20, 10]);
        assert_eq!(l.per_bucket[2], [10, 30, 20, 10]);
        // After warmup (5 to 30): busy 25, queued 3 x 18, slots 2 x 25, up 25.
        assert_eq!(l.measured(), [25, 54, 50, 25]);
        // Idle with no slots: nothing integrates, and the bucket is found again later.
        l.slots = 0;
        l.busy = 0;
        l.queued = 0;
        l.advance(31, 10, 5);
        l.slots = 1;
        l.advance(35, 10, 5);
        assert_eq!(l.per_bucket[2], [10, 30, 24, 14]);
    }
}
