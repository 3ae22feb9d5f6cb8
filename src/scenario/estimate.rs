//! The work a run would do, estimated from the scenario before anything runs, so that a run
//! that would not finish in about an hour is refused with the figures (and `--force` can run
//! it anyway).
//!
//! Work is counted in requests: what the seed model costs per simulated request, about
//! [`REQUESTS_PER_SECOND`] on one core (docs/performance.md). The estimate adds up:
//! - each stream's requests: its rate (or its profile's rate, integrated) over its active
//!   time, start to stop within the duration (retries are not counted: they happen only on
//!   failures);
//! - each closed loop's requests: users x active time / the shortest a user's cycle can be
//!   (its mean think time, the median for a log-normal one, plus a round trip of the
//!   `external` latency); a cycle that can be 0 makes the estimate unbounded;
//! - periodic events: the node monitor's check of every node each 5 s, and every probe of
//!   every pod the objects make, each period;
//! - pods: each pod the objects make and each pod a timeline event may make
//!   ([`POD_COST`] requests' worth each: scheduling, sandbox, endpoints), and each event.
//!
//! It knows the scenario and where each of its keys was written; the simulation's own costs
//! are constants here, measured.

use super::diag::{Diagnostic, SourceMap};
use crate::engine::SimDuration;
use crate::model::objects::{Object, PodSpec};
use crate::sim::config::{Action, Scenario};
use crate::traffic::spec::{ServiceTime, StreamSpec};

/// Simulated requests per second of one core on the seed model: 5.04 M/s in
/// docs/performance.md (round 6, `seed_model/new_connection_per_request`).
pub const REQUESTS_PER_SECOND: f64 = 5e6;

/// The work beyond which a run is refused without `--force`: an hour at
/// [`REQUESTS_PER_SECOND`].
pub const LIMIT: f64 = REQUESTS_PER_SECOND * 3600.0;

/// What one pod costs, in requests: scheduling, its kubelet's steps, its endpoints' change.
/// Issue 13's goal (150,000 pods through `check` in 5 s) is about 170 requests' worth a pod;
/// this is that with a margin.
pub const POD_COST: f64 = 1_000.0;

/// The node lifecycle controller checks every node this often (`sim::lifecycle`, after
/// kube-controller-manager's `--node-monitor-period` of 5 s).
const NODE_MONITOR_PERIOD_S: f64 = 5.0;

/// Where a part of the estimate was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field path (`spec.traffic[0].rate`).
    pub path: String,
}

/// One source of work.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// `stream "visitors": 1,000/s for 1m5s`.
    pub what: String,
    /// Requests' worth of work; infinite when it cannot be bounded.
    pub work: f64,
    /// When the work is done (spread evenly over it), for [`Estimate::until`].
    pub from: SimDuration,
    pub to: SimDuration,
    pub at: Location,
}

/// The estimate: its parts, largest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    pub parts: Vec<Part>,
}

impl Estimate {
    /// The total, in requests.
    pub fn total(&self) -> f64 {
        self.parts.iter().map(|p| p.work).sum()
    }

    /// Seconds of one core at [`REQUESTS_PER_SECOND`].
    pub fn seconds(&self) -> f64 {
        self.total() / REQUESTS_PER_SECOND
    }

    /// The work done by simulated instant `t` (a part's work spread evenly over its span).
    pub fn until(&self, t: SimDuration) -> Estimate {
        let parts = self
            .parts
            .iter()
            .filter_map(|p| {
                if t < p.from {
                    return None;
                }
                let span = p.to.as_nanos().saturating_sub(p.from.as_nanos());
                let done = t.as_nanos().min(p.to.as_nanos()) - p.from.as_nanos();
                let share = if span == 0 {
                    1.0
                } else {
                    done as f64 / span as f64
                };
                let mut p = p.clone();
                p.work = if share > 0.0 { p.work * share } else { 0.0 };
                Some(p)
            })
            .collect();
        Estimate { parts }
    }

    /// The refusal of a run beyond [`LIMIT`], at the key of its largest part; `None` within it.
    /// `what` names the run (`the run`, `the run to 30s`).
    pub fn refusal(&self, what: &str) -> Option<Diagnostic> {
        let total = self.total();
        if total <= LIMIT {
            return None;
        }
        let top = self
            .parts
            .iter()
            .max_by(|a, b| a.work.total_cmp(&b.work))
            .expect("a total above the limit has parts");
        let time = if total.is_finite() {
            format!("about {} of one core", hours(self.seconds()))
        } else {
            "no end".to_string()
        };
        let share = if self.parts.len() > 1 && total.is_finite() {
            format!(" ({:.0}% of it)", 100.0 * top.work / total)
        } else {
            String::new()
        };
        Some(Diagnostic::error(
            &top.at.file,
            top.at.line,
            top.at.column,
            format!(
                "{}: {what} would do {} requests' worth of work, {time} at {} requests/s; the largest part is {}{share}; kubesim refuses runs beyond an hour ({} requests): make it smaller, or pass --force to run it anyway",
                top.at.path,
                count(total),
                count(REQUESTS_PER_SECOND),
                top.what,
                count(LIMIT),
            ),
        ))
    }
}

/// The error of a run stopped at `at` with `in_flight` requests held (more than
/// `traffic::request::MAX_IN_FLIGHT`), at the stream with the most requests (in `file` at
/// its first line when there is none).
pub fn overloaded(
    estimate: &Estimate,
    at: crate::engine::SimTime,
    in_flight: usize,
    file: &str,
) -> Diagnostic {
    let stream = estimate
        .parts
        .iter()
        .filter(|p| p.at.path.starts_with("spec.traffic"))
        .max_by(|a, b| a.work.total_cmp(&b.work));
    let (file, line, column, path) = match stream {
        Some(p) => (
            p.at.file.as_str(),
            p.at.line,
            p.at.column,
            format!("{}: ", p.at.path),
        ),
        None => (file, 1, 1, String::new()),
    };
    Diagnostic::error(
        file,
        line,
        column,
        format!(
            "{path}the run stopped at {at}: {} requests were held at once, more than {}, kubesim's bound (see docs/scenario-format.md): the servers fall ever further behind the arrivals and their queues grow without end; lower the rate, add replicas or concurrency, or give the behaviour a queueLimit",
            count(in_flight as f64),
            count(crate::traffic::request::MAX_IN_FLIGHT as f64),
        ),
    )
}

/// `7.0e19`, or grouped digits below a trillion (`1,800,000,000`).
pub fn count(n: f64) -> String {
    if !n.is_finite() {
        return "unbounded".to_string();
    }
    if n >= 1e12 {
        return format!("{n:.1e}");
    }
    let s = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3.2 hours`, `45 minutes`, `1.0e6 hours`.
fn hours(seconds: f64) -> String {
    let h = seconds / 3600.0;
    if h >= 1e6 {
        format!("{h:.1e} hours")
    } else if h >= 1.0 {
        format!("{h:.1} hours")
    } else {
        format!("{:.0} minutes", seconds / 60.0)
    }
}

/// Locates a field path of the Scenario document.
pub(super) type Locate<'a> = &'a dyn Fn(&str) -> Location;

/// A [`Locate`] for the Scenario document at `line_offset` of `file` with positions `pos`
/// (a key not written points at the document's first line, as `spec::Ctx` does).
pub(super) fn locator<'a>(
    file: &'a str,
    line_offset: usize,
    pos: &'a super::yaml::PosMap,
) -> impl Fn(&str) -> Location + 'a {
    move |path| {
        let (line, column) = pos
            .locate(path)
            .map_or((line_offset + 1, 1), |p| (p.line + line_offset, p.col));
        Location {
            file: file.to_string(),
            line,
            column,
            path: path.to_string(),
        }
    }
}

/// The estimate of `s`, whose Scenario document keys `locate` finds and whose objects were
/// written where `sources` says.
pub(super) fn of(s: &Scenario, sources: &SourceMap, locate: Locate) -> Estimate {
    let mut parts = Vec::new();
    let end = s.duration;
    let secs = |a: SimDuration, b: SimDuration| b.as_secs_f64() - a.as_secs_f64();
    for (i, st) in s.traffic.iter().enumerate() {
        let from = st.start.min(end);
        let to = st.stop.unwrap_or(end).min(end).max(from);
        let active = secs(from, to);
        let p = format!("spec.traffic[{i}]");
        let (work, key, what) = if let Some(users) = st.users {
            let cycle = mean_secs(&st.think_time) + 2.0 * s.net.latency.external.as_secs_f64();
            let work = if cycle > 0.0 {
                f64::from(users) * active / cycle
            } else if active > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            let what = format!(
                "stream {:?}: {} closed-loop users for {}, each at most one request per {}",
                st.name,
                count(f64::from(users)),
                SimDuration::from_secs_f64(active),
                SimDuration::from_secs_f64(cycle)
            );
            (work, "users", what)
        } else {
            let work = requests(st, from, to);
            let (key, rate) = match &st.profile {
                Some(_) => ("profile", "its profile".to_string()),
                None => ("rate", format!("{}/s", count_rate(st.rate))),
            };
            let what = format!(
                "stream {:?}: {rate} for {} = {} requests",
                st.name,
                SimDuration::from_secs_f64(active),
                count(work)
            );
            (work, key, what)
        };
        parts.push(Part {
            what,
            work,
            from,
            to,
            at: locate(&format!("{p}.{key}")),
        });
    }
    let ticks = end.as_secs_f64() / NODE_MONITOR_PERIOD_S;
    parts.push(Part {
        what: format!(
            "the node monitor: {} nodes every 5s for {end}",
            count(s.nodes.len() as f64)
        ),
        work: ticks * s.nodes.len() as f64,
        from: SimDuration::ZERO,
        to: end,
        at: locate("spec.duration"),
    });
    // Pods and their probes, object by object; the largest is where the part points.
    let mut pods = 0.0;
    let mut probes = 0.0;
    let mut top_pods: Option<(f64, usize)> = None;
    let mut top_probes: Option<(f64, usize)> = None;
    for (i, o) in s.objects.iter().enumerate() {
        let Some((n, spec)) = pods_of(o) else {
            continue;
        };
        let p = n * probes_per_pod(spec, end);
        pods += n;
        probes += p;
        if top_pods.is_none_or(|(w, _)| n > w) {
            top_pods = Some((n, i));
        }
        if p > 0.0 && top_probes.is_none_or(|(w, _)| p > w) {
            top_probes = Some((p, i));
        }
    }
    let object_at = |i: usize, field: &str| {
        let (file, line, column) = sources.locate(i, field).unwrap_or_default();
        let o = &s.objects[i];
        Location {
            file,
            line,
            column,
            path: format!(
                "{}/{} {field}",
                o.kind().to_ascii_lowercase(),
                o.meta().name
            ),
        }
    };
    if let Some((_, i)) = top_pods {
        parts.push(Part {
            what: format!("{} pods at the start", count(pods)),
            work: pods * POD_COST,
            from: SimDuration::ZERO,
            to: SimDuration::ZERO,
            at: object_at(i, "spec.replicas"),
        });
    }
    if let Some((_, i)) = top_probes {
        parts.push(Part {
            what: format!("{} probes over {end}", count(probes)),
            work: probes,
            from: SimDuration::ZERO,
            to: end,
            at: object_at(i, "spec"),
        });
    }
    if !s.events.is_empty() {
        let made: f64 = s.events.iter().map(|e| pods_made(s, &e.action)).sum();
        let last = s.events.iter().map(|e| e.at).max().unwrap_or_default();
        parts.push(Part {
            what: format!(
                "{} timeline events, which may make {} pods",
                count(s.events.len() as f64),
                count(made)
            ),
            work: s.events.len() as f64 + made * POD_COST,
            from: SimDuration::ZERO,
            to: last.min(end),
            at: locate("spec.events"),
        });
    }
    parts.sort_by(|a, b| b.work.total_cmp(&a.work));
    Estimate { parts }
}

/// `1e18`, `2.5`, `1,000`.
fn count_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        count(r)
    } else {
        format!("{r}")
    }
}

/// Requests a stream sends from `from` to `to`: its rate times the time, or its profile's
/// rate integrated (exactly: straight lines or steps between the points).
fn requests(st: &StreamSpec, from: SimDuration, to: SimDuration) -> f64 {
    let Some(pr) = &st.profile else {
        return st.rate * (to.as_secs_f64() - from.as_secs_f64());
    };
    let mut cuts: Vec<SimDuration> = vec![from];
    cuts.extend(
        pr.points
            .iter()
            .map(|p| p.0)
            .filter(|t| *t > from && *t < to),
    );
    cuts.push(to);
    cuts.windows(2)
        .map(|w| {
            let dt = w[1].as_secs_f64() - w[0].as_secs_f64();
            match pr.shape {
                crate::traffic::spec::ProfileShape::Step => pr.rate_at(w[0]) * dt,
                crate::traffic::spec::ProfileShape::Linear => {
                    (pr.rate_at(w[0]) + pr.rate_at(w[1])) / 2.0 * dt
                }
            }
        })
        .sum()
}

/// The mean of a distribution in seconds, or a value below it (a log-normal's median).
fn mean_secs(t: &ServiceTime) -> f64 {
    match t {
        ServiceTime::Constant(d) => d.as_secs_f64(),
        ServiceTime::Exponential { mean } => mean.as_secs_f64(),
        ServiceTime::LogNormal { median, .. } => median.as_secs_f64(),
        ServiceTime::Uniform { min, max } => (min.as_secs_f64() + max.as_secs_f64()) / 2.0,
        ServiceTime::Empirical(v) => {
            v.iter().map(|d| d.as_secs_f64()).sum::<f64>() / v.len().max(1) as f64
        }
    }
}

/// The pods an object makes and their spec.
fn pods_of(o: &Object) -> Option<(f64, &PodSpec)> {
    match o {
        Object::Deployment(d) => Some((f64::from(d.replicas), &d.template.spec)),
        Object::ReplicaSet(r) => Some((f64::from(r.replicas), &r.template.spec)),
        Object::StatefulSet(s) => Some((f64::from(s.replicas), &s.template.spec)),
        // One per node, counted as one here (the estimate does not know which nodes fit).
        Object::DaemonSet(d) => Some((1.0, &d.template.spec)),
        Object::Pod(p) => Some((1.0, &p.spec)),
        _ => None,
    }
}

/// Probe runs of one pod over `end`: each probe of each container, every period.
fn probes_per_pod(spec: &PodSpec, end: SimDuration) -> f64 {
    spec.containers
        .iter()
        .flat_map(|c| [&c.readiness_probe, &c.liveness_probe, &c.startup_probe])
        .flatten()
        .map(|p| end.as_secs_f64() / p.period.as_secs_f64().max(1.0))
        .sum()
}

/// Pods a timeline event may make: a Deployment's replicas for a scale, a restart or a new
/// image (a rollout replaces them all), an applied object's pods, one for a deleted pod.
fn pods_made(s: &Scenario, a: &Action) -> f64 {
    let replicas_of = |name: &str| {
        s.objects
            .iter()
            .filter_map(|o| match o {
                Object::Deployment(d) if d.meta.name == name => Some(f64::from(d.replicas)),
                _ => None,
            })
            .fold(0.0, f64::max)
    };
    match a {
        Action::Scale { replicas, .. } => f64::from(*replicas),
        Action::RolloutRestart { deployment } | Action::SetImage { deployment, .. } => {
            replicas_of(deployment)
        }
        Action::Apply(o) => pods_of(o).map_or(0.0, |(n, _)| n),
        Action::DeletePod(_) => 1.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str) -> Location {
        Location {
            file: "x.yaml".into(),
            line: 3,
            column: 7,
            path: path.into(),
        }
    }

    fn part(work: f64, from: u64, to: u64) -> Part {
        Part {
            what: "stream \"s\": 1,000/s for 10s = 10,000 requests".into(),
            work,
            from: SimDuration::from_secs(from),
            to: SimDuration::from_secs(to),
            at: at("spec.traffic[0].rate"),
        }
    }

    #[test]
    fn within_the_limit_nothing_is_refused() {
        let e = Estimate {
            parts: vec![part(LIMIT, 0, 10)],
        };
        assert!(e.refusal("the run").is_none());
        assert_eq!(e.seconds(), 3600.0);
    }

    #[test]
    fn beyond_the_limit_the_largest_part_is_named() {
        let e = Estimate {
            parts: vec![part(7e19, 0, 70), part(1e3, 0, 0)],
        };
        let d = e.refusal("the run").unwrap();
        assert_eq!((d.line, d.column), (3, 7));
        let m = &d.message;
        assert!(m.starts_with("spec.traffic[0].rate: the run would do 7.0e19 requests' worth of work, about 3.9e9 hours of one core at 5,000,000 requests/s"), "{m}");
        assert!(m.contains("100% of it"), "{m}");
        assert!(m.ends_with("pass --force to run it anyway"), "{m}");
        let inf = Estimate {
            parts: vec![Part {
                work: f64::INFINITY,
                ..part(0.0, 0, 10)
            }],
        };
        assert!(inf
            .refusal("the run")
            .unwrap()
            .message
            .contains("unbounded"));
    }

    #[test]
    fn until_takes_the_share_of_each_part_done_by_then() {
        let e = Estimate {
            parts: vec![part(100.0, 10, 20), part(50.0, 0, 0), part(8.0, 30, 40)],
        };
        let u = e.until(SimDuration::from_secs(15));
        assert_eq!(u.total(), 100.0);
        assert_eq!(e.until(SimDuration::from_secs(25)).total(), 150.0);
    }

    #[test]
    fn counts_read_well() {
        assert_eq!(count(1_800_000_000.0), "1,800,000,000");
        assert_eq!(count(7e19), "7.0e19");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(f64::INFINITY), "unbounded");
    }
}
