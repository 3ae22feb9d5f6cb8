//! The fault search behind `kubesim explore`: random fault timelines added to a scenario's own,
//! run and judged against its `spec.expect`; the first timeline that breaks an expectation is
//! shrunk to a minimal one.
//!
//! Timelines are proptest values ([`timelines`]): a fault's instant, kind and target are drawn
//! by proptest strategies, and shrinking is proptest's (fewer faults, earlier kinds of the
//! `--faults` list, the first Deployment or node, the oldest pod, whole seconds), followed by a
//! pass that moves each fault to the roundest instant that still breaks the expectation. The
//! search is deterministic for its seed: the candidate timelines are drawn one after another
//! from a ChaCha generator seeded by it, judged in parallel batches, and the first (by draw
//! order) that breaks an expectation is the one shrunk, whatever the number of threads.
//!
//! Every run uses the scenario's own seed, so the minimal timeline, written back into the
//! scenario's `spec.events` ([`Fault::to_yaml`]), replays the same run under `kubesim run`.
//!
//! This layer sits after `report`: it judges runs with [`report::expect::judge`], the verdicts
//! `run` and `test` print.

use crate::engine::SimDuration;
use crate::model::objects::{Labels, Object, ProbeKind};
use crate::report::expect::{judge, Verdict};
use crate::sim::config::{Action, Pick, PodTarget, SetKind, TimelineEvent};
use crate::sim::{Scenario, Simulation};
use proptest::strategy::{BoxedStrategy, Just, Strategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_yaml::{Mapping, Value};
use std::fmt;

/// A kind of fault `explore` can add (`--faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `deletePod`: a graceful deletion of one pod of a Deployment, StatefulSet or DaemonSet.
    DeletePod,
    /// `killContainer`: a pod's first container exits with status 1.
    KillContainer,
    /// `failProbe`: a pod's readiness or liveness probe fails for 5 to 120 s.
    FailProbe,
    /// `nodeDown`: a node stops, and comes back after 30 to 300 s or not at all.
    NodeDown,
    /// `drain`: a node is cordoned and its pods evicted.
    Drain,
    /// `rolloutRestart`: a Deployment, StatefulSet or DaemonSet rolls out a new template.
    RolloutRestart,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::DeletePod,
        FaultKind::KillContainer,
        FaultKind::FailProbe,
        FaultKind::NodeDown,
        FaultKind::Drain,
        FaultKind::RolloutRestart,
    ];

    /// `--faults`' default.
    pub const DEFAULT: &'static str = "deletePod,killContainer,nodeDown,failProbe";

    /// As written in `--faults` and in `spec.events`.
    pub fn key(self) -> &'static str {
        match self {
            FaultKind::DeletePod => "deletePod",
            FaultKind::KillContainer => "killContainer",
            FaultKind::FailProbe => "failProbe",
            FaultKind::NodeDown => "nodeDown",
            FaultKind::Drain => "drain",
            FaultKind::RolloutRestart => "rolloutRestart",
        }
    }

    /// A comma-separated list (`deletePod,nodeDown`), duplicates dropped, order kept.
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, String> {
        let mut out = Vec::new();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let Some(k) = Self::ALL.iter().find(|k| k.key() == word) else {
                let keys: Vec<&str> = Self::ALL.iter().map(|k| k.key()).collect();
                return Err(format!(
                    "unknown fault {word:?}: expected {}",
                    keys.join(", ")
                ));
            };
            if !out.contains(k) {
                out.push(*k);
            }
        }
        if out.is_empty() {
            return Err("no fault kinds given".into());
        }
        Ok(out)
    }
}

/// The controller of a [`Workload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    /// The key `rolloutRestart` names it with: `deployment`, `statefulset`, `daemonset`.
    pub fn key(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        }
    }
}

/// A Deployment, StatefulSet or DaemonSet whose pods a fault can aim at.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
    /// Its pods' labels that its selector names (`app=http-label`).
    pub selector: Labels,
    /// The probes its pods' containers have (readiness, liveness), for `failProbe`.
    pub probes: Vec<ProbeKind>,
}

/// What faults can aim at in a scenario: its Deployments, StatefulSets and DaemonSets, and its
/// nodes, in the order written (so shrinking moves a fault toward the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    pub workloads: Vec<Workload>,
    pub nodes: Vec<String>,
}

impl Targets {
    /// The scenario's Deployments, StatefulSets and DaemonSets (those applied at time zero)
    /// and nodes. A scenario with Deployments only has the targets, and so the draws for a
    /// seed, it had before StatefulSets and DaemonSets were aimed at.
    pub fn of(s: &Scenario) -> Targets {
        let workloads = s
            .objects
            .iter()
            .filter_map(|o| {
                let (kind, meta, selector, template) = match o {
                    Object::Deployment(d) => {
                        (WorkloadKind::Deployment, &d.meta, &d.selector, &d.template)
                    }
                    Object::StatefulSet(d) => {
                        (WorkloadKind::StatefulSet, &d.meta, &d.selector, &d.template)
                    }
                    Object::DaemonSet(d) => {
                        (WorkloadKind::DaemonSet, &d.meta, &d.selector, &d.template)
                    }
                    _ => return None,
                };
                let selector = if selector.match_labels.is_empty() {
                    template.meta.labels.clone()
                } else {
                    selector.match_labels.clone()
                };
                let probes = [ProbeKind::Readiness, ProbeKind::Liveness]
                    .into_iter()
                    .filter(|&k| {
                        template
                            .spec
                            .containers
                            .iter()
                            .any(|c| c.probe(k).is_some())
                    })
                    .collect();
                Some(Workload {
                    kind,
                    name: meta.name.clone(),
                    namespace: meta.namespace.clone(),
                    selector,
                    probes,
                })
            })
            .collect();
        Targets {
            workloads,
            nodes: s.nodes.iter().map(|n| n.name.clone()).collect(),
        }
    }

    /// Why `kind` has nothing to aim at here, if it has not.
    pub fn missing(&self, kind: FaultKind) -> Option<&'static str> {
        match kind {
            FaultKind::DeletePod | FaultKind::KillContainer if self.workloads.is_empty() => {
                Some("the scenario has no Deployment, StatefulSet or DaemonSet")
            }
            FaultKind::FailProbe if self.workloads.iter().all(|w| w.probes.is_empty()) => {
                Some("no Deployment's, StatefulSet's or DaemonSet's pods have a readiness or liveness probe")
            }
            FaultKind::RolloutRestart if self.default_workloads().is_empty() => {
                Some("the scenario has no Deployment, StatefulSet or DaemonSet in namespace default")
            }
            _ => None,
        }
    }

    /// Workloads `rolloutRestart` can name (it looks them up in `default`).
    fn default_workloads(&self) -> Vec<usize> {
        (0..self.workloads.len())
            .filter(|&i| self.workloads[i].namespace == "default")
            .collect()
    }
}

/// One fault of a timeline: an instant and what happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at: SimDuration,
    pub what: What,
}

/// A fault's action; workloads and nodes are indices into [`Targets`].
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    DeletePod {
        workload: usize,
        pick: Pick,
    },
    KillContainer {
        workload: usize,
        pick: Pick,
    },
    FailProbe {
        workload: usize,
        pick: Pick,
        probe: ProbeKind,
        duration: SimDuration,
    },
    /// Down at the fault's instant; up again `up_after` later, or never.
    NodeDown {
        node: usize,
        up_after: Option<SimDuration>,
    },
    Drain {
        node: usize,
    },
    RolloutRestart {
        workload: usize,
    },
}

fn pick_key(p: Pick) -> &'static str {
    match p {
        Pick::Oldest => "oldest",
        Pick::Newest => "newest",
        Pick::Random => "random",
    }
}

fn selector_text(l: &Labels) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Fault {
    /// The timeline events this fault adds (two for a node that comes back).
    pub fn events(&self, t: &Targets) -> Vec<TimelineEvent> {
        let pods = |w: usize, pick: Pick| PodTarget::Selector {
            selector: t.workloads[w].selector.clone(),
            pick,
        };
        let at = self.at;
        let one = |action| vec![TimelineEvent { at, action }];
        match &self.what {
            What::DeletePod { workload, pick } => one(Action::DeletePod(pods(*workload, *pick))),
            What::KillContainer { workload, pick } => one(Action::KillContainer {
                target: pods(*workload, *pick),
                container: None,
                exit_code: 1,
            }),
            What::FailProbe {
                workload,
                pick,
                probe,
                duration,
            } => one(Action::FailProbe {
                target: pods(*workload, *pick),
                probe: *probe,
                duration: *duration,
            }),
            What::NodeDown { node, up_after } => {
                let node = t.nodes[*node].clone();
                let mut v = vec![TimelineEvent {
                    at,
                    action: Action::NodeDown { node: node.clone() },
                }];
                if let Some(d) = up_after {
                    v.push(TimelineEvent {
                        at: at + *d,
                        action: Action::NodeUp { node },
                    });
                }
                v
            }
            What::Drain { node } => one(Action::Drain {
                node: t.nodes[*node].clone(),
            }),
            What::RolloutRestart { workload } => {
                let w = &t.workloads[*workload];
                one(match w.kind {
                    WorkloadKind::Deployment => Action::RolloutRestart {
                        deployment: w.name.clone(),
                    },
                    WorkloadKind::StatefulSet => Action::RolloutRestartSet {
                        kind: SetKind::StatefulSet,
                        name: w.name.clone(),
                    },
                    WorkloadKind::DaemonSet => Action::RolloutRestartSet {
                        kind: SetKind::DaemonSet,
                        name: w.name.clone(),
                    },
                })
            }
        }
    }

    /// The same events as `spec.events` entries, as [`Fault::events`] reads them back.
    pub fn to_yaml(&self, t: &Targets) -> Vec<Value> {
        fn map(pairs: Vec<(&str, Value)>) -> Value {
            let mut m = Mapping::new();
            for (k, v) in pairs {
                m.insert(Value::from(k), v);
            }
            Value::Mapping(m)
        }
        let s = |x: String| Value::from(x);
        let event = |at: SimDuration, key: &str, body: Value| {
            map(vec![("at", s(at.to_string())), (key, body)])
        };
        let pods = |w: usize, pick: Pick| {
            vec![
                ("selector", s(selector_text(&t.workloads[w].selector))),
                ("pick", s(pick_key(pick).into())),
            ]
        };
        match &self.what {
            What::DeletePod { workload, pick } => {
                vec![event(self.at, "deletePod", map(pods(*workload, *pick)))]
            }
            What::KillContainer { workload, pick } => {
                let mut body = pods(*workload, *pick);
                body.push(("exitCode", Value::from(1)));
                vec![event(self.at, "killContainer", map(body))]
            }
            What::FailProbe {
                workload,
                pick,
                probe,
                duration,
            } => {
                let mut body = pods(*workload, *pick);
                body.push(("probe", s(probe.as_str().into())));
                body.push(("for", s(duration.to_string())));
                vec![event(self.at, "failProbe", map(body))]
            }
            What::NodeDown { node, up_after } => {
                let n = || map(vec![("node", s(t.nodes[*node].clone()))]);
                let mut v = vec![event(self.at, "nodeDown", n())];
                if let Some(d) = up_after {
                    v.push(event(self.at + *d, "nodeUp", n()));
                }
                v
            }
            What::Drain { node } => vec![event(
                self.at,
                "drain",
                map(vec![("node", s(t.nodes[*node].clone()))]),
            )],
            What::RolloutRestart { workload } => {
                let w = &t.workloads[*workload];
                vec![event(
                    self.at,
                    "rolloutRestart",
                    map(vec![(w.kind.key(), s(w.name.clone()))]),
                )]
            }
        }
    }

    /// One line for the terminal: `31s  deletePod: the oldest pod with app=http-label`.
    pub fn describe(&self, t: &Targets) -> String {
        let pods = |w: usize, pick: Pick| {
            let sel = selector_text(&t.workloads[w].selector);
            match pick {
                Pick::Random => format!("a random pod with {sel}"),
                p => format!("the {} pod with {sel}", pick_key(p)),
            }
        };
        let what = match &self.what {
            What::DeletePod { workload, pick } => {
                format!("deletePod: {}", pods(*workload, *pick))
            }
            What::KillContainer { workload, pick } => {
                format!("killContainer: {} (exit code 1)", pods(*workload, *pick))
            }
            What::FailProbe {
                workload,
                pick,
                probe,
                duration,
            } => format!(
                "failProbe: the {} probe of {} fails for {duration}",
                probe.as_str(),
                pods(*workload, *pick)
            ),
            What::NodeDown { node, up_after } => match up_after {
                Some(d) => format!("nodeDown: {} for {d}", t.nodes[*node]),
                None => format!("nodeDown: {} for the rest of the run", t.nodes[*node]),
            },
            What::Drain { node } => format!("drain: {}", t.nodes[*node]),
            What::RolloutRestart { workload } => {
                let w = &t.workloads[*workload];
                match w.kind {
                    WorkloadKind::Deployment => format!("rolloutRestart: {}", w.name),
                    kind => format!("rolloutRestart: {}/{}", kind.key(), w.name),
                }
            }
        };
        format!("at {:<8} {what}", self.at.to_string())
    }
}

/// Timelines of 1 to `max_faults` faults of the given kinds, at instants from 1 s to the end
/// of the run (whole seconds plus milliseconds that shrink to zero), against `t`'s targets.
/// Kinds with nothing to aim at (see [`Targets::missing`]) are left out; an error when none is
/// left.
pub fn timelines(
    kinds: &[FaultKind],
    t: &Targets,
    duration: SimDuration,
    max_faults: usize,
) -> Result<BoxedStrategy<Vec<Fault>>, String> {
    let secs = duration.as_nanos() / 1_000_000_000;
    if secs < 2 {
        return Err(format!(
            "the scenario lasts {duration}: too short for faults (at least 2s)"
        ));
    }
    if max_faults == 0 {
        return Err("--max-faults must be at least 1".into());
    }
    let whats: Vec<BoxedStrategy<What>> = kinds
        .iter()
        .filter(|&&k| t.missing(k).is_none())
        .map(|&k| what(k, t))
        .collect();
    if whats.is_empty() {
        return Err("none of the fault kinds has anything to aim at in this scenario".into());
    }
    let at = (1..secs, 0u64..1000).prop_map(|(s, ms)| SimDuration::from_millis(s * 1000 + ms));
    let fault = (at, Union::new(whats)).prop_map(|(at, what)| Fault { at, what });
    Ok(proptest::collection::vec(fault, 1..=max_faults).boxed())
}

fn picks() -> impl Strategy<Value = Pick> + Clone {
    proptest::sample::select(vec![Pick::Oldest, Pick::Newest, Pick::Random])
}

fn seconds(lo: u64, hi: u64) -> impl Strategy<Value = SimDuration> + Clone {
    (lo..=hi).prop_map(SimDuration::from_secs)
}

/// One kind's actions against `t` (which has something for it to aim at).
fn what(kind: FaultKind, t: &Targets) -> BoxedStrategy<What> {
    let n_work = t.workloads.len().max(1);
    let n_nodes = t.nodes.len().max(1);
    match kind {
        FaultKind::DeletePod => (0..n_work, picks())
            .prop_map(|(workload, pick)| What::DeletePod { workload, pick })
            .boxed(),
        FaultKind::KillContainer => (0..n_work, picks())
            .prop_map(|(workload, pick)| What::KillContainer { workload, pick })
            .boxed(),
        FaultKind::FailProbe => {
            let pairs: Vec<(usize, ProbeKind)> = t
                .workloads
                .iter()
                .enumerate()
                .flat_map(|(i, w)| w.probes.iter().map(move |&p| (i, p)))
                .collect();
            (proptest::sample::select(pairs), picks(), seconds(5, 120))
                .prop_map(|((workload, probe), pick, duration)| What::FailProbe {
                    workload,
                    pick,
                    probe,
                    duration,
                })
                .boxed()
        }
        FaultKind::NodeDown => (0..n_nodes, proptest::option::of(seconds(30, 300)))
            .prop_map(|(node, up_after)| What::NodeDown { node, up_after })
            .boxed(),
        FaultKind::Drain => (0..n_nodes).prop_map(|node| What::Drain { node }).boxed(),
        FaultKind::RolloutRestart => {
            let ws = t.default_workloads();
            if ws.is_empty() {
                return Just(What::RolloutRestart { workload: 0 }).boxed();
            }
            proptest::sample::select(ws)
                .prop_map(|workload| What::RolloutRestart { workload })
                .boxed()
        }
    }
}

/// The scenario with `faults` added to its timeline, after its own events at the same instant.
pub fn with_faults(base: &Scenario, faults: &[Fault], t: &Targets) -> Scenario {
    let mut s = base.clone();
    let mut sorted: Vec<&Fault> = faults.iter().collect();
    sorted.sort_by_key(|f| f.at);
    for f in sorted {
        s.events.extend(f.events(t));
    }
    // Stable: the scenario's own events keep their place before the faults at one instant,
    // as the loader orders the same list written in `spec.events`.
    s.events.sort_by_key(|e| e.at);
    s
}

/// Runs a scenario and judges its expectations; `Err` when the API server refuses it or the run
/// stops early (too many requests held at once).
pub fn judge_run(s: Scenario) -> Result<Vec<Verdict>, String> {
    let sim = Simulation::new(s).map_err(|errors| {
        errors.first().map_or_else(
            || "the API server refused an object".into(),
            |e| e.to_string(),
        )
    })?;
    match sim.run_checked() {
        Ok(outcome) => Ok(judge(&outcome)),
        Err(o) => Err(format!(
            "the run stopped at {}: {} requests held at once",
            o.at, o.in_flight
        )),
    }
}

/// How to search.
#[derive(Debug, Clone)]
pub struct Search {
    pub kinds: Vec<FaultKind>,
    pub max_faults: usize,
    /// Candidate timelines to try.
    pub runs: u32,
    /// Seeds the draw of the timelines (the runs themselves use the scenario's seed).
    pub seed: u64,
    /// Runs the shrinking may take at most.
    pub max_shrink_runs: u32,
    /// Runs at once.
    pub jobs: usize,
}

/// A timeline that broke an expectation, shrunk.
#[derive(Debug, Clone)]
pub struct Found {
    /// Which candidate (1-based, in draw order) broke it first.
    pub run: u32,
    /// That candidate's timeline, as drawn.
    pub drawn: Vec<Fault>,
    /// The minimal timeline, in time order.
    pub faults: Vec<Fault>,
    /// The index in `spec.expect` of the expectation it breaks.
    pub expectation: usize,
    /// Its verdict in the minimal timeline's run.
    pub verdict: Verdict,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
}

/// What a search ended with.
#[derive(Debug, Clone)]
pub enum Explored {
    /// The scenario breaks an expectation with no fault added: nothing to search.
    FailsAlready(Vec<Verdict>),
    Found(Box<Found>),
    /// No candidate broke an expectation. `stopped` counts runs that stopped early.
    NotFound {
        runs: u32,
        stopped: u32,
    },
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The index of the first expectation that failed.
fn first_failed(v: &[Verdict]) -> Option<usize> {
    v.iter().position(|v| !v.pass)
}

/// Searches as `search` says; `progress(done, total)` is called after each batch of runs.
pub fn explore(
    base: &Scenario,
    search: &Search,
    progress: &(dyn Fn(u32, u32) + Sync),
) -> Result<Explored, String> {
    use rayon::prelude::*;
    if base.expect.is_empty() {
        return Err("the scenario has no expectations (spec.expect): nothing can break".into());
    }
    let baseline = judge_run(base.clone())?;
    if first_failed(&baseline).is_some() {
        return Ok(Explored::FailsAlready(baseline));
    }
    let targets = Targets::of(base);
    let strategy = timelines(&search.kinds, &targets, base.duration, search.max_faults)?;
    let mut runner = runner(search.seed);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(search.jobs.max(1))
        .build()
        .map_err(|e| e.to_string())?;
    let batch = (search.jobs.max(1) * 4) as u32;
    let mut stopped = 0u32;
    let mut done = 0u32;
    while done < search.runs {
        let n = batch.min(search.runs - done);
        let mut trees = Vec::with_capacity(n as usize);
        for _ in 0..n {
            trees.push(strategy.new_tree(&mut runner).map_err(|e| e.to_string())?);
        }
        let cases: Vec<Vec<Fault>> = trees.iter().map(|t| t.current()).collect();
        let judged: Vec<Result<Vec<Verdict>, String>> = pool.install(|| {
            cases
                .par_iter()
                .map(|faults| judge_run(with_faults(base, faults, &targets)))
                .collect()
        });
        for (i, (tree, verdicts)) in trees.into_iter().zip(judged).enumerate() {
            let Ok(verdicts) = verdicts else {
                stopped += 1;
                continue;
            };
            if let Some(k) = first_failed(&verdicts) {
                progress(done + i as u32 + 1, search.runs);
                let found = shrink(
                    base,
                    &targets,
                    tree,
                    k,
                    verdicts[k].clone(),
                    search.max_shrink_runs,
                );
                return Ok(Explored::Found(Box::new(Found {
                    run: done + i as u32 + 1,
                    ..found
                })));
            }
        }
        done += n;
        progress(done, search.runs);
    }
    Ok(Explored::NotFound {
        runs: search.runs,
        stopped,
    })
}

/// A proptest runner whose draws depend on `seed` alone.
fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes(),
        );
    }
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Proptest's shrinking of `tree` (which breaks expectation `k`) while `k` still breaks, then
/// each fault moved to the nearest instant that is a multiple of 60 s, 10 s, 5 s or 1 s (the
/// roundest first, never to zero or past the end) at which `k` still breaks.
fn shrink(
    base: &Scenario,
    t: &Targets,
    mut tree: impl ValueTree<Value = Vec<Fault>>,
    k: usize,
    verdict: Verdict,
    max_runs: u32,
) -> Found {
    let drawn = tree.current();
    let mut best = (drawn.clone(), verdict);
    let mut runs = 0u32;
    let breaks = |faults: &[Fault], runs: &mut u32| -> Option<Verdict> {
        *runs += 1;
        let v = judge_run(with_faults(base, faults, t)).ok()?;
        v.get(k).filter(|v| !v.pass).cloned()
    };
    // proptest's own loop (`TestRunner::shrink`): simplify while the case still fails,
    // complicate back when it passes.
    if tree.simplify() {
        while runs < max_runs {
            let case = tree.current();
            if let Some(v) = breaks(&case, &mut runs) {
                best = (case, v);
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    let (mut faults, mut verdict) = best;
    faults.sort_by_key(|f| f.at);
    'faults: for i in 0..faults.len() {
        for step_s in [60u64, 10, 5, 1] {
            if runs >= max_runs {
                break 'faults;
            }
            let step = step_s * 1_000_000_000;
            let at = faults[i].at.as_nanos();
            if at % step == 0 {
                // As round as this step or rounder already.
                break;
            }
            let rounded = (at + step / 2) / step * step;
            if rounded == 0 || rounded >= base.duration.as_nanos() {
                continue;
            }
            let mut candidate = faults.clone();
            candidate[i].at = SimDuration::from_nanos(rounded);
            if let Some(v) = breaks(&candidate, &mut runs) {
                faults = candidate;
                verdict = v;
                break;
            }
        }
    }
    faults.sort_by_key(|f| f.at);
    Found {
        run: 0,
        drawn,
        faults,
        expectation: k,
        verdict,
        shrink_runs: runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_name_the_kinds_on_a_typo() {
        assert_eq!(
            FaultKind::parse_list("deletePod, nodeDown,deletePod").unwrap(),
            vec![FaultKind::DeletePod, FaultKind::NodeDown]
        );
        let e = FaultKind::parse_list("deletePod,nodeDwn").unwrap_err();
        assert!(
            e.contains("\"nodeDwn\"") && e.contains("rolloutRestart"),
            "{e}"
        );
        assert!(FaultKind::parse_list(" , ").is_err());
        assert_eq!(
            FaultKind::parse_list(FaultKind::DEFAULT).unwrap().len(),
            4,
            "the default list parses"
        );
    }

    #[test]
    fn the_runner_draws_the_same_timelines_for_a_seed() {
        let t = Targets {
            workloads: vec![Workload {
                kind: WorkloadKind::Deployment,
                name: "web".into(),
                namespace: "default".into(),
                selector: [("app".to_string(), "web".to_string())].into(),
                probes: vec![ProbeKind::Readiness],
            }],
            nodes: vec!["node-1".into(), "node-2".into()],
        };
        let s = timelines(&FaultKind::ALL, &t, SimDuration::from_secs(60), 3).unwrap();
        let draw = |seed| {
            let mut r = runner(seed);
            (0..20)
                .map(|_| s.new_tree(&mut r).unwrap().current())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        for tl in draw(7) {
            assert!((1..=3).contains(&tl.len()));
            for f in tl {
                assert!(f.at >= SimDuration::from_secs(1) && f.at < SimDuration::from_secs(60));
            }
        }
    }

    #[test]
    fn kinds_without_a_target_are_left_out_and_none_left_is_an_error() {
        let t = Targets {
            workloads: Vec::new(),
            nodes: vec!["node-1".into()],
        };
        assert!(t.missing(FaultKind::DeletePod).is_some());
        assert!(t.missing(FaultKind::NodeDown).is_none());
        let e = timelines(
            &[FaultKind::DeletePod, FaultKind::FailProbe],
            &t,
            SimDuration::from_secs(60),
            2,
        )
        .err()
        .unwrap();
        assert!(e.contains("anything to aim at"), "{e}");
        assert!(timelines(
            &[FaultKind::DeletePod, FaultKind::NodeDown],
            &t,
            SimDuration::from_secs(60),
            2
        )
        .is_ok());
    }
}
