//! The verdicts of a run's expectations (`spec.expect`): judged from what the run saw
//! ([`Outcome::expect`]), printed after `run`'s tables, written into `summary.json`, and the
//! JUnit XML file of `kubesim test --junit`.
//!
//! In-run checks (endpoints, reachability, requests after deletion, client IP, zones) come
//! judged with their first failure; an SLO is judged here from its window's figures with
//! `run --slo`'s rules, and a fair share from the run's timeline with [`Spread`]'s fair share,
//! restricted to the Service's pods and the window.

use super::format::instant;
use super::spread::Spread;
use crate::engine::SimTime;
use crate::sim::expect::{Kind, Observed};
use crate::sim::outcome::Outcome;
use crate::sweep::slo::{Metric, Verdict as SloVerdict};
use crate::sweep::RepFigures;
use serde::Serialize;
use std::fmt::Write as _;

/// One expectation's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub name: String,
    /// The kind's key (`slo`, `endpoints`, ...).
    pub kind: &'static str,
    pub pass: bool,
    /// The first instant it failed; `None` when it passed, or for a verdict over the whole
    /// window (an SLO, a fair share).
    pub at: Option<SimTime>,
    /// Why it failed (the stream, pod, request time or rule), or what was checked when it
    /// passed.
    pub evidence: String,
    /// The window judged.
    pub from: SimTime,
    pub to: SimTime,
}

/// Judges every expectation of the run, in the order written.
pub fn judge(outcome: &Outcome) -> Vec<Verdict> {
    outcome
        .expect
        .iter()
        .map(|o| judge_one(outcome, o))
        .collect()
}

fn judge_one(outcome: &Outcome, o: &Observed) -> Verdict {
    let e = &o.expectation;
    let window = format!("{}–{}", instant(o.from), instant(o.to));
    let (pass, at, evidence) = match &e.kind {
        Kind::Slo(slo) => {
            let w = o.figures.clone().unwrap_or_default();
            let h = w.latency.histogram();
            let q = |x: f64| h.map_or(0, |h| h.value_at_quantile(x));
            let fig = RepFigures {
                seed: outcome.seed,
                sent: w.served + w.failed,
                served: w.served,
                failed: w.failed,
                mean_ns: h.map_or(0, |h| libm::round(h.mean()) as u64),
                p50_ns: q(0.50),
                p90_ns: q(0.90),
                p99_ns: q(0.99),
                p999_ns: q(0.999),
                max_ns: h.map_or(0, |h| h.max()),
                measured_ns: w.measured.as_nanos(),
            };
            let pass = slo.verdict(std::slice::from_ref(&fig)) == SloVerdict::Pass;
            let terms: Vec<String> = slo
                .terms
                .iter()
                .map(|t| {
                    let value = match t.metric.of(&fig) {
                        None => "nothing served".to_string(),
                        Some(v) => match t.metric {
                            Metric::Errors => {
                                format!("{:.2}% ({} of {} failed)", v * 100.0, fig.failed, fig.sent)
                            }
                            Metric::Throughput => format!("{v:.1}/s"),
                            _ => format!("{v:.3}ms"),
                        },
                    };
                    let holds = t.metric.of(&fig).is_some_and(|v| t.op.holds(v, t.bound));
                    format!(
                        "{} {value} ({}{})",
                        t.metric.name(),
                        if holds { "meets " } else { "misses " },
                        t.text
                    )
                })
                .collect();
            (
                pass,
                None,
                format!("{} over requests that ended {window}", terms.join(", ")),
            )
        }
        Kind::FairShare { within } => fair_share(outcome, o, *within, &window),
        _ => match &o.failure {
            Some(f) => (false, Some(f.at), f.evidence.clone()),
            None => (
                true,
                None,
                format!("{} check(s) {window}, none failed", o.checks),
            ),
        },
    };
    Verdict {
        name: e.name.clone(),
        kind: e.kind.key(),
        pass,
        at,
        evidence,
        from: o.from,
        to: o.to,
    }
}

/// Each pod of the Service that served in the window against its fair share there.
fn fair_share(
    outcome: &Outcome,
    o: &Observed,
    within: f64,
    window: &str,
) -> (bool, Option<SimTime>, String) {
    let svc = o
        .expectation
        .service
        .as_ref()
        .expect("validated: a Service");
    let Some(service) = outcome
        .services
        .iter()
        .find(|s| s.namespace == svc.namespace && s.name == svc.name)
    else {
        return (false, None, format!("service {svc} was never created"));
    };
    let selected = |p: &crate::sim::outcome::PodOutcome| {
        p.namespace == service.namespace
            && !service.selector.is_empty()
            && service
                .selector
                .iter()
                .all(|(k, v)| p.labels.get(k) == Some(v))
    };
    let spread = Spread::of_window(outcome, |_, p| selected(p), o.from, o.to);
    if spread.total == 0 {
        return (
            false,
            None,
            format!("no pod of service {svc} served a request {window}: no share to judge"),
        );
    }
    // The pod furthest from its share, as a fraction of it.
    let worst = spread
        .pods
        .iter()
        .map(|p| {
            (
                p,
                (p.served as f64 - p.fair) / p.fair.max(f64::MIN_POSITIVE),
            )
        })
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .expect("a pod served");
    let (p, dev) = worst;
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let what = format!(
        "pod {} served {} request(s), {} {} its fair share of {:.1} ({} pods {window}; ±{} allowed)",
        p.name,
        p.served,
        pct(dev.abs()),
        if dev < 0.0 { "below" } else { "above" },
        p.fair,
        spread.pods.len(),
        pct(within)
    );
    // A little slack for the rounding of the shares themselves.
    let pass = dev.abs() <= within + 1e-9;
    (
        pass,
        None,
        if pass {
            format!("furthest: {what}")
        } else {
            what
        },
    )
}

/// The verdicts as `run` prints them after its tables; empty without expectations.
pub fn render_verdicts(verdicts: &[Verdict]) -> String {
    if verdicts.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n== Expectations (spec.expect) ==\n");
    for v in verdicts {
        let _ = writeln!(out, "  {}", line(v));
        let _ = writeln!(out, "        {}", detail(v));
    }
    let failed = verdicts.iter().filter(|v| !v.pass).count();
    let _ = writeln!(out, "{} passed, {} failed", verdicts.len() - failed, failed);
    out
}

/// `PASS  name (kind)` or `FAIL  name (kind) at 20.001s`.
pub fn line(v: &Verdict) -> String {
    let at =
        v.at.map_or(String::new(), |t| format!(" at {}", instant(t)));
    format!(
        "{}  {} ({}){at}",
        if v.pass { "PASS" } else { "FAIL" },
        v.name,
        v.kind
    )
}

/// The evidence, as one line.
pub fn detail(v: &Verdict) -> String {
    v.evidence.clone()
}

/// An expectation's verdict in `summary.json` (`expect`, present only with expectations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictOut {
    pub name: String,
    pub kind: String,
    pub pass: bool,
    /// The first instant it failed, in seconds; null when it passed or for a verdict over
    /// the whole window.
    pub failed_at_s: Option<f64>,
    pub evidence: String,
    pub from_s: f64,
    pub to_s: f64,
}

impl From<&Verdict> for VerdictOut {
    fn from(v: &Verdict) -> Self {
        let s = |t: SimTime| super::format::secs(t.as_nanos());
        VerdictOut {
            name: v.name.clone(),
            kind: v.kind.to_string(),
            pass: v.pass,
            failed_at_s: v.at.map(s),
            evidence: v.evidence.clone(),
            from_s: s(v.from),
            to_s: s(v.to),
        }
    }
}

/// One scenario's results for [`junit`]: its name, file and each expectation's verdicts over
/// the replications (one per replication).
#[derive(Debug, Clone)]
pub struct SuiteResult {
    pub name: String,
    pub file: String,
    /// Per expectation, in order: its name and its verdict in each replication.
    pub cases: Vec<(String, Vec<Verdict>)>,
}

/// JUnit XML (the format CI systems read): a `testsuite` per scenario, a `testcase` per
/// expectation, a `failure` with the evidence when it failed in any replication. No times
/// or timestamps: the same results give the same bytes.
pub fn junit(suites: &[SuiteResult]) -> String {
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failed = |c: &(String, Vec<Verdict>)| c.1.iter().any(|v| !v.pass);
    let failures: usize = suites
        .iter()
        .map(|s| s.cases.iter().filter(|c| failed(c)).count())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kubesim test\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\">"
    );
    for s in suites {
        let f = s.cases.iter().filter(|c| failed(c)).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" file=\"{}\">",
            xml_escape(&s.name),
            s.cases.len(),
            xml_escape(&s.file)
        );
        for c in &s.cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"",
                xml_escape(&c.0),
                xml_escape(&s.name)
            );
            let fails: Vec<&Verdict> = c.1.iter().filter(|v| !v.pass).collect();
            match fails.first() {
                None => out.push_str("/>\n"),
                Some(first) => {
                    let runs = c.1.len();
                    let message = if runs > 1 {
                        format!(
                            "failed in {} of {runs} replications; first: {}",
                            fails.len(),
                            line(first)
                        )
                    } else {
                        line(first)
                    };
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        xml_escape(&message),
                        first.kind,
                        xml_escape(&first.evidence)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text for an XML attribute or element: the five markup characters as entities, and the
/// characters XML 1.0 does not allow (controls other than tab, newline and carriage return)
/// as U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimDuration, SimTime};
    use crate::report::fixture::sample_outcome;
    use crate::sim::expect::{Expectation, Failure, ServiceRef, WindowFigures};

    fn observed(kind: Kind, service: Option<&str>) -> Observed {
        Observed {
            expectation: Expectation {
                name: "x".into(),
                kind,
                stream: None,
                service: service.map(|s| ServiceRef::parse(s).unwrap()),
                from: None,
                to: None,
            },
            from: SimTime::ZERO,
            to: SimTime::ZERO + SimDuration::from_secs(60),
            failure: None,
            checks: 3,
            figures: None,
        }
    }

    fn slo_with(served: u64, failed: u64, latency_ms: u64) -> Verdict {
        let mut o = observed(
            Kind::Slo(crate::sim::expect::slo::parse("errors<1%,p99<50ms").unwrap()),
            None,
        );
        let mut w = WindowFigures {
            served,
            failed,
            measured: SimDuration::from_secs(60),
            ..Default::default()
        };
        for _ in 0..served {
            w.latency.record(SimDuration::from_millis(latency_ms));
        }
        o.figures = Some(w);
        judge_one(&sample_outcome(), &o)
    }

    #[test]
    fn an_slo_passes_within_its_bounds_and_fails_outside() {
        let v = slo_with(1000, 5, 10);
        assert!(v.pass, "{v:?}");
        assert!(
            v.evidence
                .contains("errors 0.50% (5 of 1005 failed) (meets errors<1%)"),
            "{}",
            v.evidence
        );
        let v = slo_with(1000, 50, 10);
        assert!(!v.pass);
        assert!(v.evidence.contains("misses errors<1%"), "{}", v.evidence);
        let v = slo_with(1000, 0, 80);
        assert!(!v.pass);
        assert!(v.evidence.contains("misses p99<50ms"), "{}", v.evidence);
        // Nothing served: a latency bound cannot be met.
        assert!(!slo_with(0, 0, 1).pass);
    }

    #[test]
    fn an_in_run_check_fails_with_its_first_failure() {
        let mut o = observed(Kind::Endpoints { min: 2 }, Some("web"));
        let v = judge_one(&sample_outcome(), &o);
        assert!(v.pass && v.at.is_none());
        assert!(v.evidence.contains("3 check(s)"));
        o.failure = Some(Failure {
            at: SimTime::ZERO + SimDuration::from_millis(20_001),
            evidence: "service web has 1 ready endpoint(s), fewer than 2".into(),
        });
        let v = judge_one(&sample_outcome(), &o);
        assert!(!v.pass);
        assert_eq!(line(&v), "FAIL  x (endpoints) at 20.001s");
    }

    #[test]
    fn the_fair_share_passes_within_its_tolerance_and_fails_outside() {
        let mut outcome = sample_outcome();
        outcome.warmup = SimDuration::ZERO;
        let svc = outcome.services[0].clone();
        // Two pods of the Service, one second each, sharing evenly, then unevenly.
        for (i, p) in outcome.pods.iter_mut().enumerate() {
            p.labels = if i < 2 {
                svc.selector.clone()
            } else {
                Default::default()
            };
            p.namespace = svc.namespace.clone();
        }
        outcome.timeline.bucket = SimDuration::from_secs(1);
        outcome.timeline.served = vec![vec![100, 95, 7, 0, 0], vec![100, 105, 0, 0, 0]];
        outcome.timeline.utilisation = vec![vec![Some(0.5); 5]; 2];
        let name = format!("{}/{}", svc.namespace, svc.name);
        let o = observed(Kind::FairShare { within: 0.10 }, Some(&name));
        let v = judge_one(&outcome, &o);
        assert!(v.pass, "{v:?}");
        outcome.timeline.served = vec![vec![100, 60, 0, 0, 0], vec![100, 60, 0, 0, 0]];
        let v = judge_one(&outcome, &o);
        assert!(!v.pass, "{v:?}");
        assert!(
            v.evidence.contains("above its fair share")
                || v.evidence.contains("below its fair share"),
            "{}",
            v.evidence
        );
        // The window leaves the uneven second out.
        outcome.timeline.served = vec![vec![100, 100, 0, 0, 0], vec![100, 10, 0, 0, 0]];
        let mut o = o.clone();
        o.to = SimTime::ZERO + SimDuration::from_millis(999);
        assert!(judge_one(&outcome, &o).pass);
    }

    #[test]
    fn junit_escapes_and_counts() {
        let v = |pass: bool| Verdict {
            name: "a <b> & \"c\"".into(),
            kind: "slo",
            pass,
            at: None,
            evidence: "x < y & z\u{1}".into(),
            from: SimTime::ZERO,
            to: SimTime::ZERO,
        };
        let xml = junit(&[SuiteResult {
            name: "s'1".into(),
            file: "a&b.yaml".into(),
            cases: vec![("a <b> & \"c\"".into(), vec![v(true), v(false)])],
        }]);
        assert!(xml.contains("name=\"s&apos;1\""), "{xml}");
        assert!(xml.contains("file=\"a&amp;b.yaml\""), "{xml}");
        assert!(xml.contains("failed in 1 of 2 replications"), "{xml}");
        assert!(xml.contains(">x &lt; y &amp; z\u{FFFD}</failure>"), "{xml}");
        assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    }
}
