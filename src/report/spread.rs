//! The spread of served requests across pods, and the fair share each is measured against.
//!
//! A pod's fair share is the traffic served while it was an endpoint, divided among the
//! endpoints of that time, time bucket by time bucket of [`Timeline`]: a pod that existed for
//! half the run is measured against half as much, and a replacement that joined after a node
//! failed against what its set served after it joined. The timeline does not keep readiness, so
//! a pod counts as an endpoint in a bucket when it served in it, or when the bucket lies between
//! the first and the last bucket it served in and it had a running server then (a crashed
//! container's restart gap is not endpoint time; a spell of failed readiness between two
//! serving spells is).

use crate::sim::outcome::{Outcome, PodOutcome, Timeline};
use std::net::Ipv4Addr;

/// One pod that served at least one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingPod {
    /// Index into [`Outcome::pods`] (and into each row of the timeline).
    pub index: usize,
    pub name: String,
    pub namespace: String,
    pub node: Option<String>,
    pub ip: Option<Ipv4Addr>,
    pub served: u64,
    /// What it would have served under a perfectly even spread over the endpoints of each
    /// moment it was one (see the module's comment); the serving set's fair shares add up to
    /// [`Spread::total`].
    pub fair: f64,
}

/// The serving set: the pods that served at least one request (after warmup), in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    pub pods: Vec<ServingPod>,
    /// Requests served by the serving set (the sum of their `served`).
    pub total: u64,
}

impl Spread {
    pub fn of(outcome: &Outcome) -> Spread {
        let pods: Vec<ServingPod> = outcome
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.served > 0)
            .map(|(index, p): (usize, &PodOutcome)| ServingPod {
                index,
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                node: p.node.clone(),
                ip: p.ip,
                served: p.served,
                fair: 0.0,
            })
            .collect();
        let total = pods.iter().map(|p| p.served).sum();
        let mut spread = Spread { pods, total };
        let fair = fair_shares(&outcome.timeline, outcome.warmup, &spread);
        for (p, f) in spread.pods.iter_mut().zip(fair) {
            p.fair = f;
        }
        spread
    }

    /// The spread among the pods `keep` picks, counting only what they served in the
    /// timeline's buckets that overlap `[from, to]` (the bucket `from` falls in counted from
    /// `from` on, as warmup's is): what `fairShare` expectations judge.
    pub fn of_window(
        outcome: &Outcome,
        keep: impl Fn(usize, &PodOutcome) -> bool,
        from: crate::engine::SimTime,
        to: crate::engine::SimTime,
    ) -> Spread {
        let tl = &outcome.timeline;
        let bucket_ns = tl.bucket.as_nanos().max(1);
        let kept: Vec<bool> = outcome
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| keep(i, p))
            .collect();
        let in_window = |b: usize| {
            let start = b as u64 * bucket_ns;
            start + bucket_ns > from.as_nanos() && start <= to.as_nanos()
        };
        let served: Vec<Vec<u64>> = tl
            .served
            .iter()
            .enumerate()
            .map(|(b, row)| {
                row.iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        if in_window(b) && kept.get(i).copied().unwrap_or(false) {
                            n
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        let mut per_pod = vec![0u64; outcome.pods.len()];
        for row in &served {
            for (i, n) in row.iter().enumerate() {
                if let Some(t) = per_pod.get_mut(i) {
                    *t += n;
                }
            }
        }
        let pods: Vec<ServingPod> = outcome
            .pods
            .iter()
            .enumerate()
            .filter(|(i, _)| per_pod[*i] > 0)
            .map(|(index, p)| ServingPod {
                index,
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                node: p.node.clone(),
                ip: p.ip,
                served: per_pod[index],
                fair: 0.0,
            })
            .collect();
        let total = pods.iter().map(|p| p.served).sum();
        let mut spread = Spread { pods, total };
        let window = Timeline {
            bucket: tl.bucket,
            served,
            failed: Vec::new(),
            utilisation: tl.utilisation.clone(),
            queue: Vec::new(),
        };
        let start = crate::engine::SimDuration::from_nanos(from.as_nanos()).max(outcome.warmup);
        let fair = fair_shares(&window, start, &spread);
        for (p, f) in spread.pods.iter_mut().zip(fair) {
            p.fair = f;
        }
        spread
    }

    /// The least and the most fair share of the serving set (equal when every pod was an
    /// endpoint all along); `None` when nothing was served.
    pub fn fair_range(&self) -> Option<(f64, f64)> {
        let mut it = self.pods.iter().map(|p| p.fair);
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), f| (lo.min(f), hi.max(f))))
    }

    /// The mean fair share: requests served divided by the number of pods in the serving set.
    /// Zero when nothing was served.
    pub fn mean_fair_share(&self) -> f64 {
        if self.pods.is_empty() {
            0.0
        } else {
            self.total as f64 / self.pods.len() as f64
        }
    }
}

/// Each serving pod's fair share, in the order of `spread.pods`: per bucket after warmup (the
/// bucket warmup ends in by the part of it after warmup), the requests the serving set served
/// shared evenly among the pods that were endpoints then, scaled so that the shares add up to
/// `spread.total`. Without a timeline (or with nothing served in it), every pod's share is the
/// mean.
fn fair_shares(
    timeline: &Timeline,
    warmup: crate::engine::SimDuration,
    spread: &Spread,
) -> Vec<f64> {
    let n = spread.pods.len();
    let mean = vec![spread.mean_fair_share(); n];
    let bucket_ns = timeline.bucket.as_nanos() as f64;
    if n == 0 || timeline.served.is_empty() || bucket_ns <= 0.0 {
        return mean;
    }
    let served = |b: usize, i: usize| -> u64 {
        timeline.served[b]
            .get(spread.pods[i].index)
            .copied()
            .unwrap_or(0)
    };
    let running = |b: usize, i: usize| -> bool {
        timeline
            .utilisation
            .get(b)
            .and_then(|row| row.get(spread.pods[i].index))
            .is_none_or(Option::is_some)
    };
    let buckets = timeline.served.len();
    // Each pod's first and last serving bucket.
    let mut span = vec![(usize::MAX, 0usize); n];
    for b in 0..buckets {
        for (i, s) in span.iter_mut().enumerate() {
            if served(b, i) > 0 {
                *s = (s.0.min(b), b);
            }
        }
    }
    let warmup_ns = warmup.as_nanos() as f64;
    let mut raw = vec![0.0; n];
    let mut endpoint = vec![false; n];
    for b in 0..buckets {
        let after = ((b + 1) as f64 * bucket_ns - warmup_ns.max(b as f64 * bucket_ns)) / bucket_ns;
        if after <= 0.0 {
            continue;
        }
        let offered: u64 = (0..n).map(|i| served(b, i)).sum();
        if offered == 0 {
            continue;
        }
        for (i, e) in endpoint.iter_mut().enumerate() {
            *e = served(b, i) > 0 || (span[i].0 <= b && b <= span[i].1 && running(b, i));
        }
        let k = endpoint.iter().filter(|e| **e).count() as f64;
        let each = after * offered as f64 / k;
        for (r, _) in raw.iter_mut().zip(&endpoint).filter(|(_, e)| **e) {
            *r += each;
        }
    }
    let sum: f64 = raw.iter().sum();
    if sum <= 0.0 {
        return mean;
    }
    let scale = spread.total as f64 / sum;
    raw.into_iter().map(|r| r * scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::report::fixture::sample_outcome;

    /// Issue 14, item 14: a pod is measured against the traffic of the time it was an endpoint,
    /// shared among the endpoints of that time. Pod A serves 10 in the first second alongside
    /// B, then is gone; B serves 10 then 20 alone: both served exactly their fair share
    /// (before, the fair share was 40 / 2 = 20 for both: A -50%, B +50%).
    #[test]
    fn the_fair_share_follows_the_time_each_pod_was_an_endpoint() {
        let mut o = sample_outcome();
        o.warmup = SimDuration::ZERO;
        for (i, p) in o.pods.iter_mut().enumerate() {
            p.served = [10, 30, 0, 0, 0][i];
        }
        o.timeline.bucket = SimDuration::from_secs(1);
        o.timeline.served = vec![vec![10, 10, 0, 0, 0], vec![0, 20, 0, 0, 0]];
        o.timeline.utilisation = vec![vec![Some(0.5); 5]; 2];
        let s = Spread::of(&o);
        let fair: Vec<f64> = s.pods.iter().map(|p| p.fair).collect();
        assert_eq!(fair, [10.0, 30.0]);
        assert_eq!(s.fair_range(), Some((10.0, 30.0)));
        assert_eq!(s.mean_fair_share(), 20.0);
    }

    /// The sample run: the first pod serves until 20 s, its replacement from 21 s, two pods all
    /// along. Those two share every second's traffic, so their fair shares are the largest and
    /// equal; the first pod's is about 20/39 of its replacement's; the shares add up to the
    /// total.
    #[test]
    fn a_replaced_pod_and_its_replacement_share_the_run_by_time() {
        let s = Spread::of(&sample_outcome());
        let fair: Vec<f64> = s.pods.iter().map(|p| p.fair).collect();
        assert_eq!(fair.len(), 4);
        assert!(
            (fair.iter().sum::<f64>() - s.total as f64).abs() < 1e-6,
            "{fair:?}"
        );
        assert!((fair[1] - fair[2]).abs() < 1e-9, "{fair:?}");
        assert!(fair[1] > fair[3] && fair[3] > fair[0], "{fair:?}");
        let ratio = fair[0] / fair[3];
        assert!((ratio - 20.0 / 39.0).abs() < 0.05, "{fair:?}");
    }

    /// Without a timeline every pod's fair share is the mean.
    #[test]
    fn without_a_timeline_the_fair_share_is_the_mean() {
        let mut o = sample_outcome();
        o.timeline.served.clear();
        let s = Spread::of(&o);
        assert!(s.pods.iter().all(|p| p.fair == s.mean_fair_share()));
    }
}
