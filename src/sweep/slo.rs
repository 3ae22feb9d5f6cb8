//! Service-level objectives: `--slo 'p99<200ms,errors<0.1%'`.
//!
//! An SLO is a comma-separated list of terms `METRIC OP BOUND`, all of which must hold:
//!
//! | metric | bound | meaning |
//! |---|---|---|
//! | `mean`, `p50`, `p90`, `p99`, `p99.9`, `max` | a duration (`200ms`, `1s`, `500us`) | latency of served requests |
//! | `errors` | a percentage (`0.1%`) or a fraction (`0.001`) | failed / sent |
//! | `throughput` | a rate (`1900/s`, `6000/m`) | served requests per second of measured time (after warmup) |
//!
//! `OP` is `<`, `<=`, `>` or `>=`. With one replication a term holds or not. With several, the
//! term's metric is averaged over the replications with a 95% Student-t interval
//! ([`super::stats`]); the term holds (`true`) when the whole interval meets the bound, fails
//! (`false`) when none of it does, and is `unsure` when the interval straddles the bound. A
//! cell's verdict is `false` if any term fails, else `unsure` if any is unsure, else `true`. A
//! latency term fails in a replication that served nothing.

use super::stats::mean_ci95;
use super::RepFigures;
pub use crate::sim::expect::slo::{parse, Metric, Op, Slo, Term};
use std::fmt;

impl Metric {
    /// The metric of one replication: latencies in ms, errors as a fraction, throughput per
    /// second. `None` for a latency when nothing was served.
    pub fn of(self, r: &RepFigures) -> Option<f64> {
        let ms = |ns: u64| (r.served > 0).then(|| ns as f64 / 1e6);
        match self {
            Metric::Mean => ms(r.mean_ns),
            Metric::P50 => ms(r.p50_ns),
            Metric::P90 => ms(r.p90_ns),
            Metric::P99 => ms(r.p99_ns),
            Metric::P999 => ms(r.p999_ns),
            Metric::Max => ms(r.max_ns),
            Metric::Errors => Some(if r.sent == 0 {
                0.0
            } else {
                r.failed as f64 / r.sent as f64
            }),
            Metric::Throughput => Some(if r.measured_ns == 0 {
                0.0
            } else {
                r.served as f64 / (r.measured_ns as f64 / 1e9)
            }),
        }
    }
}

/// A cell's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Unsure,
}

impl Verdict {
    /// `true`, `false`, `unsure`: the `slo_pass` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "true",
            Verdict::Fail => "false",
            Verdict::Unsure => "unsure",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Slo {
    /// The verdict over a cell's replications (see the module).
    pub fn verdict(&self, reps: &[RepFigures]) -> Verdict {
        let mut unsure = false;
        for term in &self.terms {
            let values: Option<Vec<f64>> = reps.iter().map(|r| term.metric.of(r)).collect();
            let Some(values) = values else {
                return Verdict::Fail;
            };
            let (mean, half) = mean_ci95(&values);
            match half {
                None => {
                    if !term.op.holds(mean, term.bound) {
                        return Verdict::Fail;
                    }
                }
                Some(h) => {
                    let (lo, hi) = (mean - h, mean + h);
                    let all = term.op.holds(lo, term.bound) && term.op.holds(hi, term.bound);
                    let none = !term.op.holds(lo, term.bound) && !term.op.holds(hi, term.bound);
                    if none {
                        return Verdict::Fail;
                    }
                    if !all {
                        unsure = true;
                    }
                }
            }
        }
        if unsure {
            Verdict::Unsure
        } else {
            Verdict::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(p99_ms: f64, sent: u64, failed: u64) -> RepFigures {
        RepFigures {
            sent,
            served: sent - failed,
            failed,
            p99_ns: (p99_ms * 1e6) as u64,
            measured_ns: 1_000_000_000,
            ..RepFigures::default()
        }
    }

    #[test]
    fn verdicts_use_the_interval() {
        let slo = parse("p99<200ms,errors<1%").unwrap();
        assert_eq!(slo.verdict(&[rep(150.0, 1000, 0)]), Verdict::Pass);
        assert_eq!(slo.verdict(&[rep(250.0, 1000, 0)]), Verdict::Fail);
        assert_eq!(slo.verdict(&[rep(150.0, 1000, 20)]), Verdict::Fail);
        // Means 195 with a wide interval straddle 200.
        assert_eq!(
            slo.verdict(&[rep(150.0, 10, 0), rep(240.0, 10, 0)]),
            Verdict::Unsure
        );
        assert_eq!(
            slo.verdict(&[rep(150.0, 10, 0), rep(151.0, 10, 0)]),
            Verdict::Pass
        );
        assert_eq!(
            slo.verdict(&[rep(300.0, 10, 0), rep(301.0, 10, 0)]),
            Verdict::Fail
        );
        // Nothing served: latency cannot meet a bound.
        assert_eq!(slo.verdict(&[rep(0.0, 10, 10)]), Verdict::Fail);
    }
}
