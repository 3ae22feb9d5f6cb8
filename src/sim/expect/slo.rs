//! The grammar of a service-level objective, `p99<200ms,errors<0.1%`: what `run --slo`,
//! `sweep --slo` and an expectation's `slo:` are written in. Parsing only: a sweep's verdict
//! over replications is in `sweep::slo`, an expectation's in `report::expect`.
//!
//! An SLO is a comma-separated list of terms `METRIC OP BOUND`, all of which must hold:
//!
//! | metric | bound | meaning |
//! |---|---|---|
//! | `mean`, `p50`, `p90`, `p99`, `p99.9`, `max` | a duration (`200ms`, `1s`, `500us`) | latency of served requests |
//! | `errors` | a percentage (`0.1%`) or a fraction (`0.001`) | failed / sent |
//! | `throughput` | a rate (`1900/s`, `6000/m`) | served requests per second of measured time (after warmup) |
//!
//! `OP` is `<`, `<=`, `>` or `>=`.

use crate::engine::SimDuration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Mean,
    P50,
    P90,
    P99,
    P999,
    Max,
    Errors,
    Throughput,
}

impl Metric {
    const NAMES: [(&'static str, Metric); 8] = [
        ("mean", Metric::Mean),
        ("p50", Metric::P50),
        ("p90", Metric::P90),
        ("p99.9", Metric::P999),
        ("p99", Metric::P99),
        ("max", Metric::Max),
        ("errors", Metric::Errors),
        ("throughput", Metric::Throughput),
    ];

    pub fn name(self) -> &'static str {
        Metric::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .expect("every metric has a name")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
    pub fn holds(self, x: f64, bound: f64) -> bool {
        match self {
            Op::Lt => x < bound,
            Op::Le => x <= bound,
            Op::Gt => x > bound,
            Op::Ge => x >= bound,
        }
    }
}

/// One term: `p99<200ms` is `{P99, Lt, 200.0}` (latency bounds in ms, errors as a fraction,
/// throughput per second).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub metric: Metric,
    pub op: Op,
    pub bound: f64,
    /// As written.
    pub text: String,
}

/// A parsed `--slo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub terms: Vec<Term>,
    /// As written.
    pub text: String,
}

/// Parses an SLO; the error names the term at fault and what was expected.
pub fn parse(text: &str) -> Result<Slo, String> {
    let mut terms = Vec::new();
    for (i, raw) in text.split(',').enumerate() {
        let t = raw.trim();
        let at = |why: String| format!("term {} {t:?}: {why}", i + 1);
        if t.is_empty() {
            return Err(at("empty term (write METRIC<BOUND, e.g. p99<200ms)".into()));
        }
        let Some(op_at) = t.find(['<', '>']) else {
            return Err(at("no comparison: write METRIC<BOUND or METRIC>BOUND, e.g. p99<200ms, throughput>1000/s".into()));
        };
        let name = t[..op_at].trim();
        let rest = &t[op_at..];
        let (op, bound) = if let Some(b) = rest.strip_prefix("<=") {
            (Op::Le, b)
        } else if let Some(b) = rest.strip_prefix(">=") {
            (Op::Ge, b)
        } else if let Some(b) = rest.strip_prefix('<') {
            (Op::Lt, b)
        } else {
            (Op::Gt, &rest[1..])
        };
        let bound = bound.trim();
        let metric = Metric::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                at(format!(
                    "unknown metric {name:?} (metrics: mean, p50, p90, p99, p99.9, max, errors, throughput)"
                ))
            })?;
        let value = match metric {
            Metric::Errors => {
                let (num, scale) = match bound.strip_suffix('%') {
                    Some(n) => (n.trim(), 0.01),
                    None => (bound, 1.0),
                };
                num.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .map(|x| x * scale)
                    .ok_or_else(|| {
                        at(format!(
                            "{bound:?} is not a percentage (0.1%) or a fraction (0.001)"
                        ))
                    })?
            }
            Metric::Throughput => crate::traffic::spec::parse_rate(bound)
                .map_err(|e| at(format!("{e} (a rate: 1000/s, 6000/m)")))?,
            _ => SimDuration::parse(bound)
                .map(|d| d.as_nanos() as f64 / 1e6)
                .map_err(|e| at(format!("{e} (a duration: 200ms, 1s, 500us)")))?,
        };
        terms.push(Term {
            metric,
            op,
            bound: value,
            text: format!("{}{}{bound}", metric.name(), op.as_str()),
        });
    }
    Ok(Slo {
        terms,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_parse_with_their_units() {
        let s = parse("p99<200ms, errors<0.1%,throughput>=1.5/s,p99.9<=1s,mean>0ms").unwrap();
        assert_eq!(s.terms.len(), 5);
        assert_eq!(
            (s.terms[0].metric, s.terms[0].op, s.terms[0].bound),
            (Metric::P99, Op::Lt, 200.0)
        );
        assert!((s.terms[1].bound - 0.001).abs() < 1e-15);
        assert_eq!((s.terms[2].op, s.terms[2].bound), (Op::Ge, 1.5));
        assert_eq!(
            (s.terms[3].metric, s.terms[3].bound),
            (Metric::P999, 1000.0)
        );
    }

    #[test]
    fn bad_terms_are_named() {
        assert!(parse("p99<200ms,p98<1s")
            .unwrap_err()
            .starts_with("term 2 \"p98<1s\": unknown metric"));
        assert!(parse("p99=200ms").unwrap_err().contains("no comparison"));
        assert!(parse("p99<fast")
            .unwrap_err()
            .starts_with("term 1 \"p99<fast\""));
        assert!(parse("errors<x%").unwrap_err().contains("not a percentage"));
        assert!(parse("p99<1s,").unwrap_err().contains("empty term"));
    }
}
