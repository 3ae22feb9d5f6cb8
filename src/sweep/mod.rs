//! Capacity sweeps: a grid of scenario variants, each run with seeds derived from the base
//! seed and the cell's own parameters, in parallel, judged against an SLO.
//!
//! - [`values`]: `--set KEY=VALUES` value lists and ranges.
//! - [`Plan`]: the grid (axes in the order of the `--set` flags, the first varying slowest),
//!   replications, the SLO; [`Plan::cells`], [`Plan::seed`].
//! - [`run`]: loads every cell through the scenario loader (so every check applies to every
//!   variant), then runs the cells' replications on a rayon pool; results come back in cell
//!   order whatever the number of threads, so the output does not depend on `--jobs`.
//! - [`slo`]: SLO expressions and verdicts; [`stats`]: means and Student-t intervals;
//!   [`Analysis`]: per-cell figures, verdicts and the smallest replica count meeting the SLO.
//! - [`theory`]: M/M/c closed forms the capacity-plan scenario is checked against.
//!
//! It knows the scenario loader and the simulation; it writes no files (`report::sweep` does).

pub mod slo;
pub mod stats;
pub mod theory;
pub mod values;

use crate::scenario::{self, Diagnostic, Override};
use crate::sim::{Outcome, Scenario, Simulation};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One swept key and its values, as written after `--set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// What to sweep. Everything in it reaches the output, so two plans that are equal give the
/// same files.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The scenario's `metadata.name`.
    pub scenario: String,
    /// The base seed (the scenario's, or `--seed`).
    pub seed: u64,
    pub axes: Vec<Axis>,
    pub replications: u32,
    pub slo: Option<slo::Slo>,
}

/// Cells a sweep's grid may have: kubesim's bound (each cell is a whole run, loaded and
/// checked before any runs; a real capacity grid has tens to thousands).
pub const MAX_CELLS: usize = 100_000;

/// `--replications` at most: kubesim's bound (a 95% interval needs a handful).
pub const MAX_REPLICATIONS: u32 = 1_000;

/// Runs (cells times replications) one `kubesim sweep` may make: kubesim's bound.
pub const MAX_RUNS: u64 = 1_000_000;

/// Parses `KEY=VALUES` flags into axes; errors name the flag. A grid of more than
/// [`MAX_CELLS`] cells is an error naming the axes' sizes.
pub fn parse_sets(sets: &[String]) -> Result<Vec<Axis>, String> {
    let mut axes: Vec<Axis> = Vec::new();
    for s in sets {
        let Some((key, vals)) = s.split_once('=') else {
            return Err(format!(
                "--set {s}: expected KEY=VALUES, e.g. deployment/web.replicas=1..8"
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set {s}: empty key"));
        }
        if axes.iter().any(|a| a.key == key) {
            return Err(format!(
                "--set {s}: {key} is set twice; give all its values in one flag, e.g. {key}=1,2,4"
            ));
        }
        let values = values::expand(vals).map_err(|e| format!("--set {s}: {e}"))?;
        axes.push(Axis {
            key: key.to_string(),
            values,
        });
    }
    let cells = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|n| *n <= MAX_CELLS);
    if cells.is_none() {
        let sizes: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
        let total: f64 = axes.iter().map(|a| a.values.len() as f64).product();
        return Err(format!(
            "--set: the grid has {} cells ({}): more than {MAX_CELLS} (kubesim's bound on a sweep)",
            crate::sweep::fmt_count(total),
            sizes.join(" x ")
        ));
    }
    Ok(axes)
}

/// A count for a message: grouped digits up to a trillion, else `1.0e15`.
fn fmt_count(n: f64) -> String {
    if n < 1e12 {
        let s = format!("{n:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{n:.1e}")
    }
}

/// One cell of the grid: its index (row-major, first axis slowest) and a value per axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub index: usize,
    pub values: Vec<String>,
}

impl Plan {
    /// Every cell, in order.
    pub fn cells(&self) -> Vec<Cell> {
        let total: usize = self.axes.iter().map(|a| a.values.len()).product();
        (0..total)
            .map(|index| {
                let mut rest = index;
                let mut values = vec![String::new(); self.axes.len()];
                for (i, a) in self.axes.iter().enumerate().rev() {
                    values[i] = a.values[rest % a.values.len()].clone();
                    rest /= a.values.len();
                }
                Cell { index, values }
            })
            .collect()
    }

    /// The overrides that make a cell.
    pub fn overrides(&self, cell: &Cell) -> Vec<Override> {
        self.axes
            .iter()
            .zip(&cell.values)
            .map(|(a, v)| Override::new(a.key.clone(), v.clone()))
            .collect()
    }

    /// The seed of a cell's replication `rep`: the first 8 bytes (little-endian) of
    /// SHA-256(base seed as 8 little-endian bytes ‖ `key=value\n` for each axis, sorted by key
    /// ‖ `rep` as 4 little-endian bytes). It depends on the cell's parameters, not its index,
    /// so adding values to an axis or reordering the flags leaves a cell's seeds unchanged.
    pub fn seed(&self, cell: &Cell, rep: u32) -> u64 {
        let mut pairs: Vec<(&str, &str)> = self
            .axes
            .iter()
            .zip(&cell.values)
            .map(|(a, v)| (a.key.as_str(), v.as_str()))
            .collect();
        pairs.sort();
        let mut h = Sha256::new();
        h.update(self.seed.to_le_bytes());
        for (k, v) in pairs {
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.update(rep.to_le_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }

    /// The cells of shard `i` of `n`: every `n`-th cell from `i` (round robin by index).
    pub fn shard_cells(&self, shard: Option<(usize, usize)>) -> Vec<Cell> {
        let cells = self.cells();
        match shard {
            None => cells,
            Some((i, n)) => cells.into_iter().filter(|c| c.index % n == i).collect(),
        }
    }
}

/// The figures of one run (after warmup), integers so that they survive a shard file exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RepFigures {
    pub seed: u64,
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    /// Latency of served requests, nanoseconds (the mean rounded to the nanosecond).
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    /// Simulated time the figures cover: duration minus warmup.
    pub measured_ns: u64,
}

impl RepFigures {
    /// Served requests per second of measured time (0 when nothing was measured).
    pub fn served_per_s(&self) -> f64 {
        if self.measured_ns == 0 {
            0.0
        } else {
            self.served as f64 / (self.measured_ns as f64 / 1e9)
        }
    }

    pub fn of(outcome: &Outcome) -> RepFigures {
        let h = outcome.latency.histogram();
        let q = |x: f64| h.map_or(0, |h| h.value_at_quantile(x));
        RepFigures {
            seed: outcome.seed,
            sent: outcome.requests.sent,
            served: outcome.requests.served,
            failed: outcome.requests.failed,
            mean_ns: h.map_or(0, |h| libm::round(h.mean()) as u64),
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: h.map_or(0, |h| h.max()),
            measured_ns: outcome
                .simulated
                .as_nanos()
                .saturating_sub(outcome.warmup.as_nanos()),
        }
    }
}

/// A cell's replications, in replication order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellResult {
    pub index: usize,
    pub reps: Vec<RepFigures>,
}

/// Why a sweep could not run: a cell's scenario did not load or was refused by the simulated
/// API server. Fatal; nothing has run.
#[derive(Debug, Clone)]
pub struct SweepError {
    /// Every distinct problem, in cell order, each with the first cell that showed it.
    pub problems: Vec<String>,
}

/// Loads every cell's scenario (with its overrides and seed `rep 0`, unknown and duplicate
/// fields as `validate` says), reporting every distinct problem at once. Unless `force`, a cell
/// whose estimated work is beyond about an hour (`scenario::estimate`) is a problem too.
pub fn prepare(
    path: &Path,
    plan: &Plan,
    cells: &[Cell],
    validate: scenario::FieldValidation,
    force: bool,
    locate: impl Fn(&scenario::Loaded, &crate::sim::ApiError) -> Diagnostic,
) -> Result<Vec<Scenario>, SweepError> {
    let mut out = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut push = |p: String, cell: &Cell| {
        let shown = plan
            .axes
            .iter()
            .zip(&cell.values)
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect::<Vec<_>>()
            .join(" ");
        if !problems.iter().any(|x| x.starts_with(&p)) {
            problems.push(format!("{p}\n  (in cell {}: {shown})", cell.index));
        }
    };
    for cell in cells {
        let options = scenario::LoadOptions {
            validate,
            overrides: plan.overrides(cell),
        };
        match scenario::load_opts(path, &options) {
            Err(diags) => {
                for d in diags.errors() {
                    push(d.to_string(), cell);
                }
            }
            Ok(loaded) => match loaded.estimate.refusal("the cell's run") {
                Some(d) if !force => push(d.to_string(), cell),
                _ => match Simulation::new(loaded.scenario.clone()) {
                    Ok(_) => out.push(loaded.scenario),
                    Err(errors) => {
                        for e in errors {
                            push(locate(&loaded, &e).to_string(), cell);
                        }
                    }
                },
            },
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(SweepError { problems })
    }
}

/// Runs every replication of `cells` (whose scenarios `prepare` gave) on `jobs` threads
/// (0: all cores), calling `progress` after each run. Results are in cell order. A run that
/// stops at the bound on requests in flight (`Simulation::run_checked`) fails the sweep: its
/// figures would be of a part of the run.
pub fn run(
    plan: &Plan,
    cells: &[Cell],
    scenarios: &[Scenario],
    jobs: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<CellResult>, SweepError> {
    use rayon::prelude::*;
    let work: Vec<(usize, u32)> = (0..cells.len())
        .flat_map(|i| (0..plan.replications).map(move |r| (i, r)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("a thread pool can be built");
    let figures: Vec<Result<RepFigures, String>> = pool.install(|| {
        work.par_iter()
            .map(|&(i, r)| {
                let mut s = scenarios[i].clone();
                s.seed = plan.seed(&cells[i], r);
                let sim = Simulation::new(s).expect("checked by prepare");
                let f = sim.run_checked().map(|o| RepFigures::of(&o)).map_err(|e| {
                    format!(
                        "cell {} (replication {r}): the run stopped at {}: {} requests were held at once, more than {}, kubesim's bound: the servers fall ever further behind the arrivals; lower the rate, add replicas or concurrency, or give the behaviour a queueLimit",
                        cells[i].index,
                        e.at,
                        e.in_flight,
                        crate::traffic::request::MAX_IN_FLIGHT
                    )
                });
                progress();
                f
            })
            .collect()
    });
    let problems: Vec<String> = figures
        .iter()
        .filter_map(|f| f.as_ref().err().cloned())
        .collect();
    if !problems.is_empty() {
        return Err(SweepError { problems });
    }
    let figures: Vec<RepFigures> = figures.into_iter().flatten().collect();
    let per = plan.replications as usize;
    Ok(cells
        .iter()
        .enumerate()
        .map(|(i, c)| CellResult {
            index: c.index,
            reps: figures[i * per..(i + 1) * per].to_vec(),
        })
        .collect())
}

/// A cell's figures as reported: counts summed over the replications, latencies (ms) averaged
/// over them (the largest latency is the largest of any replication), the p99's 95% interval
/// half-width when there are several, served requests per second of measured time (averaged),
/// and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub index: usize,
    pub values: Vec<String>,
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_ci95_ms: Option<f64>,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub served_per_s: f64,
    pub verdict: Option<slo::Verdict>,
}

/// For each combination of the other axes' values, the smallest value of the replicas axis
/// whose cell meets the SLO (`None`: none does).
#[derive(Debug, Clone, PartialEq)]
pub struct MinReplicas {
    /// The replicas axis (a key ending in `.replicas`).
    pub key: String,
    /// `(other axes' values in axis order, smallest passing replicas value)`.
    pub rows: Vec<(Vec<String>, Option<String>)>,
}

/// Everything a sweep reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub cells: Vec<CellSummary>,
    pub min_replicas: Option<MinReplicas>,
}

impl Analysis {
    /// Whether any cell meets the SLO (`true` verdict). Without an SLO, `true`.
    pub fn any_pass(&self) -> bool {
        self.cells
            .iter()
            .any(|c| c.verdict.is_none_or(|v| v == slo::Verdict::Pass))
    }
}

/// The axis whose key ends in `.replicas`, if exactly one does.
pub fn replicas_axis(plan: &Plan) -> Option<usize> {
    let found: Vec<usize> = plan
        .axes
        .iter()
        .enumerate()
        .filter(|(_, a)| a.key.ends_with(".replicas"))
        .map(|(i, _)| i)
        .collect();
    (found.len() == 1).then(|| found[0])
}

/// Summarises every cell (`results` complete and in cell order).
pub fn analyse(plan: &Plan, results: &[CellResult]) -> Analysis {
    let cells = plan.cells();
    let summaries: Vec<CellSummary> = cells
        .iter()
        .zip(results)
        .map(|(cell, r)| {
            let ms = |f: fn(&RepFigures) -> u64| -> Vec<f64> {
                r.reps.iter().map(|x| f(x) as f64 / 1e6).collect()
            };
            let mean = |xs: Vec<f64>| stats::mean_ci95(&xs).0;
            let (p99, ci) = stats::mean_ci95(&ms(|x| x.p99_ns));
            CellSummary {
                index: cell.index,
                values: cell.values.clone(),
                sent: r.reps.iter().map(|x| x.sent).sum(),
                served: r.reps.iter().map(|x| x.served).sum(),
                failed: r.reps.iter().map(|x| x.failed).sum(),
                mean_ms: mean(ms(|x| x.mean_ns)),
                p50_ms: mean(ms(|x| x.p50_ns)),
                p90_ms: mean(ms(|x| x.p90_ns)),
                p99_ms: p99,
                p99_ci95_ms: ci,
                p999_ms: mean(ms(|x| x.p999_ns)),
                max_ms: r.reps.iter().map(|x| x.max_ns).max().unwrap_or(0) as f64 / 1e6,
                served_per_s: mean(r.reps.iter().map(RepFigures::served_per_s).collect()),
                verdict: plan.slo.as_ref().map(|s| s.verdict(&r.reps)),
            }
        })
        .collect();
    let min_replicas = match (&plan.slo, replicas_axis(plan)) {
        (Some(_), Some(ra)) => {
            let mut rows: Vec<(Vec<String>, Option<String>)> = Vec::new();
            for c in &summaries {
                let others: Vec<String> = c
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != ra)
                    .map(|(_, v)| v.clone())
                    .collect();
                let idx = match rows.iter().position(|(o, _)| *o == others) {
                    Some(i) => i,
                    None => {
                        rows.push((others, None));
                        rows.len() - 1
                    }
                };
                if c.verdict == Some(slo::Verdict::Pass) {
                    let v = &c.values[ra];
                    let better = match &rows[idx].1 {
                        None => true,
                        Some(best) => replicas_less(v, best),
                    };
                    if better {
                        rows[idx].1 = Some(v.clone());
                    }
                }
            }
            Some(MinReplicas {
                key: plan.axes[ra].key.clone(),
                rows,
            })
        }
        _ => None,
    };
    Analysis {
        cells: summaries,
        min_replicas,
    }
}

/// Replica counts compare as numbers (text if one is not a number).
fn replicas_less(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x < y,
        _ => a < b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            scenario: "s".into(),
            seed: 7,
            axes: parse_sets(&[
                "deployment/web.replicas=1..3".into(),
                "traffic/b.rate=1/s,2/s".into(),
            ])
            .unwrap(),
            replications: 1,
            slo: None,
        }
    }

    #[test]
    fn cells_are_row_major_and_shards_round_robin() {
        let p = plan();
        let cells = p.cells();
        assert_eq!(cells.len(), 6);
        assert_eq!(cells[1].values, ["1", "2/s"]);
        assert_eq!(cells[2].values, ["2", "1/s"]);
        let s1: Vec<usize> = p
            .shard_cells(Some((1, 4)))
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(s1, [1, 5]);
    }

    #[test]
    fn seeds_follow_parameters_not_positions() {
        let p = plan();
        let cell = &p.cells()[3];
        // The same cell in a grid with the flags reversed and more values has the same seed.
        let q = Plan {
            axes: parse_sets(&[
                "traffic/b.rate=2/s,3/s".into(),
                "deployment/web.replicas=2,9".into(),
            ])
            .unwrap(),
            ..p.clone()
        };
        let same = q
            .cells()
            .into_iter()
            .find(|c| c.values == ["2/s", "2"])
            .unwrap();
        assert_eq!(cell.values, ["2", "2/s"]);
        assert_eq!(p.seed(cell, 0), q.seed(&same, 0));
        assert_ne!(p.seed(cell, 0), p.seed(cell, 1));
        assert_ne!(p.seed(cell, 0), p.seed(&p.cells()[2], 0));
    }

    #[test]
    fn set_flags_are_checked() {
        assert!(parse_sets(&["x".into()])
            .unwrap_err()
            .contains("expected KEY=VALUES"));
        assert!(parse_sets(&["a=1".into(), "a=2".into()])
            .unwrap_err()
            .contains("set twice"));
        assert!(parse_sets(&["a=1..x".into()])
            .unwrap_err()
            .starts_with("--set a=1..x:"));
    }

    /// The sweep of 10^6 cells is refused before any cell is made.
    #[test]
    fn grids_beyond_the_bound_are_errors() {
        let e = parse_sets(&["a=1..1000".into(), "b=1..1000".into()]).unwrap_err();
        assert_eq!(
            e,
            "--set: the grid has 1,000,000 cells (1000 x 1000): more than 100000 (kubesim's bound on a sweep)"
        );
        let axes: Vec<String> = (0..8).map(|i| format!("k{i}=1..10000")).collect();
        assert!(parse_sets(&axes).unwrap_err().contains("1.0e32 cells"));
        assert!(parse_sets(&["a=1..100".into(), "b=1..1000".into()]).is_ok());
    }

    #[test]
    fn min_replicas_is_the_smallest_passing_count_per_rate() {
        let mut p = plan();
        p.slo = Some(slo::parse("p99<10ms").unwrap());
        let rep = |p99: u64| RepFigures {
            sent: 10,
            served: 10,
            p99_ns: p99 * 1_000_000,
            ..Default::default()
        };
        // rate 1/s passes from 2 replicas; rate 2/s never.
        let p99s = [20, 30, 5, 30, 4, 30];
        let results: Vec<CellResult> = p99s
            .iter()
            .enumerate()
            .map(|(i, &x)| CellResult {
                index: i,
                reps: vec![rep(x)],
            })
            .collect();
        let a = analyse(&p, &results);
        assert!(a.any_pass());
        let m = a.min_replicas.unwrap();
        assert_eq!(
            m.rows,
            vec![
                (vec!["1/s".to_string()], Some("2".to_string())),
                (vec!["2/s".to_string()], None)
            ]
        );
    }
}
