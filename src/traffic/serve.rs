//! Containers serving requests: service-time sampling and a FIFO multi-slot server.

use super::spec::{Behavior, ServiceTime};
use crate::engine::{SimDuration, SimRng};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use std::collections::VecDeque;

/// Draws service times for one behaviour. Built once; `sample` does not allocate.
#[derive(Debug, Clone)]
pub enum Sampler {
    Constant(SimDuration),
    Exponential(Exp<f64>),
    LogNormal(LogNormal<f64>),
    Uniform { min_ns: u64, max_ns: u64 },
    Empirical(Vec<SimDuration>),
}

/// The standard normal's 99th percentile, for the log-normal given by median and p99.
const Z_99: f64 = 2.326_347_874_040_841;

impl Sampler {
    pub fn new(st: &ServiceTime) -> Self {
        match st {
            ServiceTime::Constant(d) => Sampler::Constant(*d),
            ServiceTime::Exponential { mean } => {
                let mean_s = mean.as_secs_f64();
                if mean_s <= 0.0 {
                    Sampler::Constant(SimDuration::ZERO)
                } else {
                    Sampler::Exponential(Exp::new(1.0 / mean_s).expect("positive rate"))
                }
            }
            ServiceTime::LogNormal { median, p99 } => {
                let mu = libm::log(median.as_secs_f64());
                let sigma = (libm::log(p99.as_secs_f64()) - mu) / Z_99;
                Sampler::LogNormal(LogNormal::new(mu, sigma.max(0.0)).expect("finite parameters"))
            }
            ServiceTime::Uniform { min, max } => Sampler::Uniform {
                min_ns: min.as_nanos(),
                max_ns: max.as_nanos().max(min.as_nanos()),
            },
            ServiceTime::Empirical(samples) => Sampler::Empirical(samples.clone()),
        }
    }

    /// Whether every sample is zero (the server answers at once).
    pub fn is_instant(&self) -> bool {
        matches!(self, Sampler::Constant(d) if d.is_zero())
    }

    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Sampler::Constant(d) => *d,
            Sampler::Exponential(e) => SimDuration::from_secs_f64(e.sample(rng)),
            Sampler::LogNormal(l) => SimDuration::from_secs_f64(l.sample(rng)),
            Sampler::Uniform { min_ns, max_ns } => {
                SimDuration::from_nanos(rng.random_range(*min_ns..=*max_ns))
            }
            Sampler::Empirical(v) => v[rng.random_range(0..v.len())],
        }
    }
}

/// How many samples a [`SampleStream`] draws at once.
const AHEAD: usize = 64;

/// A [`Sampler`] with a random stream of its own, drawn [`AHEAD`] samples at a time.
///
/// The stream serves nothing else, so drawing ahead gives exactly the samples, in exactly the
/// order, that drawing one at a time would; only the cost changes (a tight loop keeps the
/// generator and the ziggurat's tables hot; measured in docs/performance.md, round 6).
#[derive(Debug, Clone)]
pub struct SampleStream {
    sampler: Sampler,
    rng: SimRng,
    ahead: [SimDuration; AHEAD],
    /// The next unused sample in `ahead`; `AHEAD` when all are used.
    next: usize,
}

impl SampleStream {
    pub fn new(sampler: Sampler, rng: SimRng) -> Self {
        SampleStream {
            sampler,
            rng,
            ahead: [SimDuration::ZERO; AHEAD],
            next: AHEAD,
        }
    }

    /// The next sample.
    #[inline]
    pub fn sample(&mut self) -> SimDuration {
        if self.next == AHEAD {
            self.refill();
        }
        let d = self.ahead[self.next];
        self.next += 1;
        d
    }

    #[inline(never)]
    fn refill(&mut self) {
        let rng = &mut self.rng;
        match &self.sampler {
            Sampler::Exponential(e) => {
                for d in &mut self.ahead {
                    *d = SimDuration::from_secs_f64(e.sample(rng));
                }
            }
            s => {
                for d in &mut self.ahead {
                    *d = s.sample(rng);
                }
            }
        }
        self.next = 0;
    }
}

/// A request handle as the server sees it (an index into the request slab).
pub type ReqId = u32;

/// The wall time of a request's CPU work under a CPU limit: CFS bandwidth control lets a
/// container's cgroup run `limit x cfs_period` of CPU time per `cfs_period` (the kubelet sets
/// `cpu.cfs_quota_us = milliCPU x 100 ms / 1000`, `MilliCPUToQuota` in
/// kubernetes/kubernetes `pkg/kubelet/cm/helpers_linux.go`; the kernel's
/// `Documentation/scheduler/sched-bwc.rst`). kubesim takes the fluid view of that quota: the
/// limit is shared equally among the requests in service (processor sharing), each getting at
/// most one core, and a request's share is fixed when it starts (with `busy` requests in
/// service, itself included). Without a limit (`limit_millis` 0) each request has a core.
pub fn cpu_wall_time(cpu: SimDuration, busy: u32, limit_millis: u64) -> SimDuration {
    let demand = u64::from(busy.max(1)) * 1000;
    if limit_millis == 0 || demand <= limit_millis {
        return cpu;
    }
    // cpu x demand / limit, in integer nanoseconds (no float reaches the output).
    let ns = u128::from(cpu.as_nanos()) * u128::from(demand) / u128::from(limit_millis);
    SimDuration::from_nanos(ns.min(u128::from(u64::MAX)) as u64)
}

/// One container's server: `concurrency` slots and a FIFO queue of waiting requests.
#[derive(Debug, Clone)]
pub struct Server {
    pub behavior: u32,
    pub concurrency: u32,
    pub in_service: Vec<ReqId>,
    pub queue: VecDeque<ReqId>,
    /// Accepting new connections (false once the container stops or begins to terminate).
    pub accepting: bool,
    /// Requests that may wait; `u32::MAX`: no limit (`behaviors[].queueLimit`).
    pub queue_limit: u32,
    /// The container's `resources.limits.cpu` in millicores; 0: none.
    pub cpu_limit_millis: u64,
    /// `behaviors[].cpuPerRequest`, kept here so that starting a request reads one struct.
    pub cpu_per_request: Option<SimDuration>,
}

impl Server {
    pub fn new(behavior: u32, b: &Behavior) -> Self {
        Server {
            behavior,
            concurrency: b.concurrency.max(1),
            in_service: Vec::with_capacity(b.concurrency.max(1) as usize),
            queue: VecDeque::new(),
            accepting: true,
            queue_limit: b.queue_limit.unwrap_or(u32::MAX),
            cpu_limit_millis: 0,
            cpu_per_request: b.cpu_per_request,
        }
    }

    /// Whether a request that finds every slot busy must be turned away (HTTP 503).
    pub fn queue_full(&self) -> bool {
        self.queue.len() as u64 >= u64::from(self.queue_limit)
    }

    pub fn has_free_slot(&self) -> bool {
        (self.in_service.len() as u32) < self.concurrency
    }

    pub fn is_idle(&self) -> bool {
        self.in_service.is_empty() && self.queue.is_empty()
    }

    /// Puts `req` in a free slot; returns its position in `in_service`, the hint that
    /// [`finish`](Self::finish) takes.
    pub fn start(&mut self, req: ReqId) -> u32 {
        self.in_service.push(req);
        (self.in_service.len() - 1) as u32
    }

    /// Removes `req` from the slots (it finished); returns the next queued request, if any,
    /// which takes the freed slot at the end of `in_service` and which the caller starts.
    ///
    /// `pos` is where `req` should be in `in_service` (checked, so a wrong hint costs a scan,
    /// not a wrong answer). The last request in `in_service` moves into the freed position
    /// (swap-remove): callers that keep hints update the one at `pos` and the last one.
    pub fn finish(&mut self, req: ReqId, pos: u32) -> Option<ReqId> {
        let at = match self.in_service.get(pos as usize) {
            Some(r) if *r == req => Some(pos as usize),
            _ => self.in_service.iter().position(|r| *r == req),
        };
        if let Some(i) = at {
            self.in_service.swap_remove(i);
        }
        let next = self.queue.pop_front()?;
        self.in_service.push(next);
        Some(next)
    }

    /// Every request it holds, emptying it (the container died).
    pub fn drain_all(&mut self) -> Vec<ReqId> {
        let mut v: Vec<ReqId> = self.in_service.drain(..).collect();
        v.extend(self.queue.drain(..));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    /// Drawing ahead changes nothing: the same samples in the same order as one at a time,
    /// for every kind of sampler, across several refills.
    #[test]
    fn a_sample_stream_draws_what_its_sampler_would() {
        let ms = SimDuration::from_millis;
        let kinds = [
            ServiceTime::Constant(ms(3)),
            ServiceTime::Exponential { mean: ms(5) },
            ServiceTime::LogNormal {
                median: ms(4),
                p99: ms(40),
            },
            ServiceTime::Uniform {
                min: ms(1),
                max: ms(9),
            },
            ServiceTime::Empirical(vec![ms(1), ms(2), ms(7)]),
        ];
        for st in &kinds {
            let s = Sampler::new(st);
            let mut one_at_a_time = RngStreams::new(11).stream("s");
            let mut ahead = SampleStream::new(s.clone(), RngStreams::new(11).stream("s"));
            for i in 0..3 * AHEAD + 5 {
                assert_eq!(
                    ahead.sample(),
                    s.sample(&mut one_at_a_time),
                    "{st:?}, sample {i}"
                );
            }
        }
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let s = Sampler::new(&ServiceTime::LogNormal {
            median: SimDuration::from_millis(4),
            p99: SimDuration::from_millis(40),
        });
        let mut rng = RngStreams::new(7).stream("t");
        let mut v: Vec<u64> = (0..200_000)
            .map(|_| s.sample(&mut rng).as_nanos())
            .collect();
        v.sort_unstable();
        let q = |p: f64| v[(p * v.len() as f64) as usize] as f64 / 1e6;
        assert!((q(0.5) - 4.0).abs() < 0.1, "median {}", q(0.5));
        assert!((q(0.99) - 40.0).abs() < 2.0, "p99 {}", q(0.99));
    }

    #[test]
    fn exponential_mean_is_the_configured_mean() {
        let s = Sampler::new(&ServiceTime::Exponential {
            mean: SimDuration::from_millis(5),
        });
        let mut rng = RngStreams::new(7).stream("t");
        let n = 200_000;
        let mean = (0..n)
            .map(|_| s.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / n as f64;
        // Standard error of the mean is 5ms/sqrt(n) = 0.011 ms; allow 5 of them.
        assert!((mean * 1e3 - 5.0).abs() < 0.056, "mean {mean}");
    }

    #[test]
    fn cpu_limit_shares_the_quota_among_busy_slots() {
        let ms = SimDuration::from_millis;
        // No limit, or demand within it: the CPU time itself.
        assert_eq!(cpu_wall_time(ms(8), 4, 0), ms(8));
        assert_eq!(cpu_wall_time(ms(8), 2, 2000), ms(8));
        // 4 busy on a 1-core limit: a quarter core each, four times as long.
        assert_eq!(cpu_wall_time(ms(8), 4, 1000), ms(32));
        // 1 busy on 500m: half a core.
        assert_eq!(cpu_wall_time(ms(8), 1, 500), ms(16));
    }

    #[test]
    fn queue_limit_turns_away_past_it() {
        let mut b = Behavior::instant("x");
        b.queue_limit = Some(1);
        let mut s = Server::new(0, &b);
        s.start(1);
        assert!(!s.queue_full());
        s.queue.push_back(2);
        assert!(s.queue_full());
        assert!(!Server::new(0, &Behavior::instant("x")).queue_full());
    }

    #[test]
    fn server_is_fifo() {
        let mut s = Server::new(0, &Behavior::instant("x"));
        assert_eq!(s.start(1), 0);
        s.queue.push_back(2);
        s.queue.push_back(3);
        assert!(!s.has_free_slot());
        assert_eq!(s.finish(1, 0), Some(2));
        // A stale position hint is checked, not trusted.
        assert_eq!(s.finish(2, 7), Some(3));
        assert_eq!(s.finish(3, 0), None);
        assert!(s.is_idle());
    }
}
