//! A sweep's files: `sweep.csv`, `sweep.json`, the charts (`sweep_heatmap`, `sweep_p99`), and
//! the shard file (`sweep-shard.json`) that `kubesim merge` joins back into the same files.
//!
//! Numbers: counts are summed over a cell's replications; latencies are means over them in
//! milliseconds with three decimals; `p99_ci95_ms` is the half-width of the 95% Student-t
//! interval of the replications' p99 (empty with one replication); `slo_pass` is `true`,
//! `false` or `unsure` (empty without `--slo`); then `p999_ms` (mean), `max_ms` (the largest
//! of any replication) and `served_per_s` (served requests per second of measured time,
//! mean), after the older columns so that they keep their places. A shard file holds the plan and its cells'
//! per-replication figures as integers, so a merge reproduces an unsharded sweep's files byte
//! for byte.

use super::format::round_to;
use super::output::{io_error, write_folder, ReportError};
use super::sweep_charts;
use crate::sweep::{self, Analysis, Axis, CellResult, Plan, RepFigures};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// The name of a shard's file in its folder.
pub const SHARD_FILE: &str = "sweep-shard.json";
const SHARD_FORMAT: &str = "kubesim-sweep-shard/v1";

/// The files [`write_sweep`] writes for a plan, in order: charts only for grids of one or two
/// axes (the heatmap for two).
pub fn sweep_files(plan: &Plan) -> Vec<String> {
    let mut files = vec!["sweep.csv".to_string(), "sweep.json".to_string()];
    for c in sweep_charts::charts_for(plan) {
        for ext in ["png", "svg"] {
            files.push(format!("{}.{ext}", c.stem()));
        }
    }
    files
}

fn dec3(x: f64) -> String {
    format!("{:.3}", round_to(x, 3))
}

/// `sweep.csv`: one row per cell (see the module for the columns).
pub fn sweep_csv(plan: &Plan, analysis: &Analysis) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = plan.axes.iter().map(|a| a.key.clone()).collect();
    header.extend(
        [
            "sent",
            "served",
            "failed",
            "mean_ms",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "p99_ci95_ms",
            "slo_pass",
            "p999_ms",
            "max_ms",
            "served_per_s",
        ]
        .map(String::from),
    );
    w.write_record(&header).expect("writing to memory");
    for c in &analysis.cells {
        let mut row = c.values.clone();
        row.extend([
            c.sent.to_string(),
            c.served.to_string(),
            c.failed.to_string(),
            dec3(c.mean_ms),
            dec3(c.p50_ms),
            dec3(c.p90_ms),
            dec3(c.p99_ms),
            c.p99_ci95_ms.map(dec3).unwrap_or_default(),
            c.verdict
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            dec3(c.p999_ms),
            dec3(c.max_ms),
            dec3(c.served_per_s),
        ]);
        w.write_record(&row).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("UTF-8 in, UTF-8 out")
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct AxisJson {
    key: String,
    values: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct PlanJson {
    scenario: String,
    seed: u64,
    replications: u32,
    slo: Option<String>,
    axes: Vec<AxisJson>,
}

impl PlanJson {
    fn of(plan: &Plan) -> PlanJson {
        PlanJson {
            scenario: plan.scenario.clone(),
            seed: plan.seed,
            replications: plan.replications,
            slo: plan.slo.as_ref().map(|s| s.text.clone()),
            axes: plan
                .axes
                .iter()
                .map(|a| AxisJson {
                    key: a.key.clone(),
                    values: a.values.clone(),
                })
                .collect(),
        }
    }

    fn plan(&self) -> Result<Plan, String> {
        Ok(Plan {
            scenario: self.scenario.clone(),
            seed: self.seed,
            replications: self.replications,
            slo: self
                .slo
                .as_deref()
                .map(sweep::slo::parse)
                .transpose()
                .map_err(|e| format!("slo: {e}"))?,
            axes: self
                .axes
                .iter()
                .map(|a| Axis {
                    key: a.key.clone(),
                    values: a.values.clone(),
                })
                .collect(),
        })
    }
}

#[derive(Serialize)]
struct CellJson<'a> {
    index: usize,
    values: &'a [String],
    sent: u64,
    served: u64,
    failed: u64,
    mean_ms: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p99_ci95_ms: Option<f64>,
    slo_pass: Option<&'static str>,
    p999_ms: f64,
    max_ms: f64,
    served_per_s: f64,
    seeds: Vec<u64>,
}

#[derive(Serialize)]
struct MinRowJson<'a> {
    values: &'a [String],
    replicas: Option<&'a str>,
}

#[derive(Serialize)]
struct MinJson<'a> {
    key: &'a str,
    /// The other axes, in order: `rows[i].values` are theirs.
    axes: Vec<&'a str>,
    rows: Vec<MinRowJson<'a>>,
}

#[derive(Serialize)]
struct SweepJson<'a> {
    plan: PlanJson,
    cells: Vec<CellJson<'a>>,
    any_pass: bool,
    min_replicas: Option<MinJson<'a>>,
}

/// `sweep.json`: the plan, every cell (as in `sweep.csv`, plus its seeds), and for each value
/// of the other axes the smallest replica count that meets the SLO.
pub fn sweep_json(plan: &Plan, results: &[CellResult], analysis: &Analysis) -> String {
    let r = |x: f64| round_to(x, 3);
    let cells = analysis
        .cells
        .iter()
        .zip(results)
        .map(|(c, res)| CellJson {
            index: c.index,
            values: &c.values,
            sent: c.sent,
            served: c.served,
            failed: c.failed,
            mean_ms: r(c.mean_ms),
            p50_ms: r(c.p50_ms),
            p90_ms: r(c.p90_ms),
            p99_ms: r(c.p99_ms),
            p99_ci95_ms: c.p99_ci95_ms.map(r),
            slo_pass: c.verdict.map(|v| v.as_str()),
            p999_ms: r(c.p999_ms),
            max_ms: r(c.max_ms),
            served_per_s: r(c.served_per_s),
            seeds: res.reps.iter().map(|x| x.seed).collect(),
        })
        .collect();
    let min_replicas = analysis.min_replicas.as_ref().map(|m| MinJson {
        key: &m.key,
        axes: plan
            .axes
            .iter()
            .filter(|a| a.key != m.key)
            .map(|a| a.key.as_str())
            .collect(),
        rows: m
            .rows
            .iter()
            .map(|(v, n)| MinRowJson {
                values: v,
                replicas: n.as_deref(),
            })
            .collect(),
    });
    let doc = SweepJson {
        plan: PlanJson::of(plan),
        cells,
        any_pass: analysis.any_pass(),
        min_replicas,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("serializable");
    s.push('\n');
    s
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct ShardCell {
    index: usize,
    reps: Vec<RepFigures>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct ShardJson {
    format: String,
    shard: usize,
    shards: usize,
    plan: PlanJson,
    cells: Vec<ShardCell>,
}

/// A shard's file: the plan, which shard it is, and its cells' figures.
pub fn shard_json(plan: &Plan, shard: (usize, usize), results: &[CellResult]) -> String {
    let doc = ShardJson {
        format: SHARD_FORMAT.to_string(),
        shard: shard.0,
        shards: shard.1,
        plan: PlanJson::of(plan),
        cells: results
            .iter()
            .map(|c| ShardCell {
                index: c.index,
                reps: c.reps.clone(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("serializable");
    s.push('\n');
    s
}

/// Joins shard files (their texts, each named for messages) into the plan and every cell's
/// results, checking that they come from one plan and that every shard is there once.
pub fn merge_shards(files: &[(String, String)]) -> Result<(Plan, Vec<CellResult>), String> {
    let mut shards: Vec<(String, ShardJson)> = Vec::new();
    for (name, text) in files {
        let s: ShardJson = serde_json::from_str(text)
            .map_err(|e| format!("{name}: not a kubesim shard file: {e}"))?;
        if s.format != SHARD_FORMAT {
            return Err(format!(
                "{name}: format {:?}, expected {SHARD_FORMAT:?}",
                s.format
            ));
        }
        shards.push((name.clone(), s));
    }
    let Some((first_name, first)) = shards.first() else {
        return Err("no shard files given".to_string());
    };
    let n = first.shards;
    let mut seen: Vec<Option<&str>> = vec![None; n];
    for (name, s) in &shards {
        if s.plan != first.plan || s.shards != n {
            return Err(format!(
                "{name} comes from another sweep than {first_name} (scenario, seed, --set, --replications, --slo or the shard count differ)"
            ));
        }
        if s.shard >= n {
            return Err(format!("{name}: shard {} of {n} is out of range", s.shard));
        }
        if let Some(other) = seen[s.shard] {
            return Err(format!(
                "shard {}/{n} given twice: {other} and {name}",
                s.shard
            ));
        }
        seen[s.shard] = Some(name);
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s) {}", missing.join(", ")));
    }
    let plan = first.plan.plan()?;
    let total = plan.cells().len();
    let mut cells: Vec<Option<CellResult>> = vec![None; total];
    for (name, s) in &shards {
        for c in &s.cells {
            if c.index >= total
                || c.index % n != s.shard
                || c.reps.len() != plan.replications as usize
            {
                return Err(format!(
                    "{name}: cell {} does not belong to shard {}/{n}",
                    c.index, s.shard
                ));
            }
            cells[c.index] = Some(CellResult {
                index: c.index,
                reps: c.reps.clone(),
            });
        }
    }
    let cells: Option<Vec<CellResult>> = cells.into_iter().collect();
    let cells = cells.ok_or_else(|| {
        "the shards do not hold every cell (a shard file was cut short?)".to_string()
    })?;
    Ok((plan, cells))
}

/// Writes a sweep's files ([`sweep_files`]) into `dir`, atomically; returns their paths.
pub fn write_sweep(
    plan: &Plan,
    results: &[CellResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let analysis = sweep::analyse(plan, results);
    write_folder(dir, |tmp| {
        let texts = [
            ("sweep.csv", sweep_csv(plan, &analysis)),
            ("sweep.json", sweep_json(plan, results, &analysis)),
        ];
        for (file, text) in texts {
            let path = tmp.join(file);
            fs::write(&path, text).map_err(io_error(&path))?;
        }
        for chart in sweep_charts::charts_for(plan) {
            for png in [true, false] {
                let path = tmp.join(format!(
                    "{}.{}",
                    chart.stem(),
                    if png { "png" } else { "svg" }
                ));
                chart
                    .write(plan, &analysis, &path, png)
                    .map_err(|e| ReportError::Chart { path, message: e.0 })?;
            }
        }
        Ok(())
    })?;
    Ok(sweep_files(plan).iter().map(|f| dir.join(f)).collect())
}

/// Writes a shard's file into `dir`, atomically; returns its path.
pub fn write_shard(
    plan: &Plan,
    shard: (usize, usize),
    results: &[CellResult],
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    write_folder(dir, |tmp| {
        let path = tmp.join(SHARD_FILE);
        fs::write(&path, shard_json(plan, shard, results)).map_err(io_error(&path))
    })?;
    Ok(dir.join(SHARD_FILE))
}

/// What `kubesim sweep` and `kubesim merge` print: how many cells met the SLO and, with a
/// replicas axis, the smallest replica count that meets it for each value of the other axes
/// (the first [`TABLE_ROWS`] rows, then how many more; the files have every cell).
pub fn sweep_summary(plan: &Plan, analysis: &Analysis) -> String {
    use super::format::{tabwrite, Align};
    use super::limits::TABLE_ROWS;
    use crate::sweep::slo::Verdict;
    let runs = plan.replications;
    let mut out = format!("{} cell(s), {} run(s) each", analysis.cells.len(), runs);
    if let Some(slo) = &plan.slo {
        let count = |v: Verdict| {
            analysis
                .cells
                .iter()
                .filter(|c| c.verdict == Some(v))
                .count()
        };
        out.push_str(&format!(
            "; SLO {}: {} meet it, {} do not, {} unsure\n",
            slo.text,
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Unsure)
        ));
    } else {
        out.push('\n');
    }
    if let Some(m) = &analysis.min_replicas {
        let others: Vec<&str> = plan
            .axes
            .iter()
            .filter(|a| a.key != m.key)
            .map(|a| a.key.as_str())
            .collect();
        let mut header: Vec<&str> = others.clone();
        let last = format!("smallest {}", m.key);
        header.push(&last);
        let rows: Vec<Vec<String>> = m
            .rows
            .iter()
            .map(|(v, n)| {
                let mut r = v.clone();
                r.push(n.clone().unwrap_or_else(|| "none in the grid".to_string()));
                r
            })
            .collect();
        let align = vec![Align::Left; header.len()];
        out.push('\n');
        let listed = rows.len().min(TABLE_ROWS);
        out.push_str(&tabwrite(&header, &rows[..listed], &align));
        if rows.len() > listed {
            out.push_str(&format!(
                "+{} more rows not listed (the first {listed} are, in grid order); sweep.csv and sweep.json have every cell\n",
                rows.len() - listed
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Axis, MinReplicas};

    /// The smallest-replicas table lists its first 50 rows and says how many more there are.
    #[test]
    fn the_smallest_replicas_table_is_bounded() {
        let rates: Vec<String> = (1..=120).map(|r| format!("{r}/s")).collect();
        let plan = Plan {
            scenario: "s".to_string(),
            seed: 0,
            axes: vec![
                Axis {
                    key: "deployment/web.replicas".to_string(),
                    values: vec!["1".to_string(), "2".to_string()],
                },
                Axis {
                    key: "traffic/t.rate".to_string(),
                    values: rates.clone(),
                },
            ],
            replications: 1,
            slo: None,
        };
        let analysis = Analysis {
            cells: Vec::new(),
            min_replicas: Some(MinReplicas {
                key: "deployment/web.replicas".to_string(),
                rows: rates
                    .iter()
                    .map(|r| (vec![r.clone()], Some("2".to_string())))
                    .collect(),
            }),
        };
        let text = sweep_summary(&plan, &analysis);
        assert_eq!(text.lines().count(), 1 + 1 + 1 + 50 + 1, "{text}");
        assert!(text.contains("\n50/s "), "{text}");
        assert!(!text.contains("\n51/s "), "{text}");
        assert!(text.ends_with(
            "+70 more rows not listed (the first 50 are, in grid order); sweep.csv and sweep.json have every cell\n"
        ));
    }
}
