//! Sweeps: the capacity plan agrees with M/M/c theory, output does not depend on the number
//! of threads, merged shards equal the unsharded sweep byte for byte, the Indexed Job manifest
//! is a valid Job, and the command line's errors and exit codes.

use crate::util::*;
use kubesim::sweep::theory::Mmc;
use kubesim::sweep::{self, Plan};
use std::fs;
use std::path::Path;

const CAPACITY: &str = "scenarios/capacity-plan.yaml";

/// The round trip of a request on a new connection from an external client to a pod on the
/// entry node: handshake (2 one-way trips) + request + response = 4 trips of
/// external (500 us) + sameNode (20 us) (ARCHITECTURE.md, "Request timing model").
const NETWORK_MS: f64 = 4.0 * 0.520;

/// `kubesim sweep` on capacity-plan.yaml with a 10 x 8 grid (replicas x rate) reports, for each
/// rate, the smallest replica count whose mean latency meets the SLO; it must be the one the
/// M/M/2 formula gives (each pod an M/M/2 queue at rate/replicas, see `sweep::theory`).
///
/// Tolerance: the run measures 20 s; at the utilisations in this grid (at most 0.875 per
/// pod) the mean of a 20 s run is within 10% of the stationary mean (checked below for every
/// stable cell up to 0.8, at 8%), and the SLO is chosen so that theory puts every boundary
/// cell at least 20% away from the bound, so the answer cannot flip within the tolerance.
#[test]
fn capacity_plan_min_replicas_agree_with_mmc() {
    let path = root().join(CAPACITY);
    let loaded = load(&path);
    let bound_ms = 18.5;
    let plan = Plan {
        scenario: loaded.scenario.name.clone(),
        seed: loaded.scenario.seed,
        axes: sweep::parse_sets(&[
            "deployment/web.replicas=1..10".to_string(),
            "traffic/browser.rate=350/s..2800/s:350/s".to_string(),
        ])
        .unwrap(),
        replications: 1,
        slo: Some(sweep::slo::parse(&format!("mean<{bound_ms}ms")).unwrap()),
    };
    let cells = plan.cells();
    assert_eq!(cells.len(), 80);
    let scenarios = sweep::prepare(
        &path,
        &plan,
        &cells,
        kubesim::scenario::FieldValidation::Strict,
        false,
        |_, e| panic!("{e}"),
    )
    .unwrap();
    let results = sweep::run(&plan, &cells, &scenarios, 2, &|| {}).unwrap();
    let analysis = sweep::analyse(&plan, &results);

    // The scenario's server: concurrency 2, exponential service with mean 5 ms.
    let theory_ms = |replicas: u32, rate: f64| {
        Mmc {
            c: 2,
            mu: 200.0,
            lambda: rate / f64::from(replicas),
        }
        .mean_response()
        .map(|s| s * 1e3 + NETWORK_MS)
    };
    for c in &analysis.cells {
        let n: u32 = c.values[0].parse().unwrap();
        let rate: f64 = c.values[1].trim_end_matches("/s").parse().unwrap();
        if rate / f64::from(n) / 400.0 <= 0.8 {
            let t = theory_ms(n, rate).unwrap();
            assert!(
                (c.mean_ms / t - 1.0).abs() < 0.08,
                "{n} x {rate}/s: simulated mean {} ms, M/M/2 {t:.3} ms",
                c.mean_ms
            );
        }
    }
    let min = analysis.min_replicas.expect("a replicas axis and an SLO");
    assert_eq!(min.key, "deployment/web.replicas");
    assert_eq!(min.rows.len(), 8);
    for (others, got) in &min.rows {
        let rate: f64 = others[0].trim_end_matches("/s").parse().unwrap();
        let want = (1..=10u32).find(|&n| theory_ms(n, rate).is_some_and(|t| t < bound_ms));
        // The margin that makes this comparison sharp (see the doc comment).
        let want = want.expect("the grid holds an answer");
        assert!(
            bound_ms / theory_ms(want, rate).unwrap() > 1.2,
            "{rate}/s: too close to call"
        );
        if want > 1 {
            assert!(
                theory_ms(want - 1, rate).is_none_or(|t| t / bound_ms > 1.2),
                "{rate}/s: too close to call"
            );
        }
        assert_eq!(
            got.as_deref(),
            Some(want.to_string().as_str()),
            "rate {rate}/s"
        );
    }
}

/// Every file of an output folder, by name, but kubesim's marker (`.kubesim-output`).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != kubesim::report::MARKER_FILE)
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

const SMALL: [&str; 4] = [
    "--set",
    "deployment/web.replicas=2,4,6",
    "--set",
    "traffic/browser.rate=700/s,1400/s",
];

fn small_sweep(dir: &Path, extra: &[&str]) -> std::process::Output {
    let scenario = root().join(CAPACITY);
    let mut args = vec![
        "sweep",
        scenario.to_str().unwrap(),
        "--set",
        "duration=6s",
        "--slo",
        "p99<75ms",
    ];
    args.extend(SMALL);
    args.extend(extra);
    kubesim(dir, &args)
}

#[test]
fn output_is_the_same_whatever_the_number_of_jobs_and_merged_shards_equal_it() {
    let dir = temp_dir("sweep-jobs");
    let o = small_sweep(&dir, &["--jobs", "1", "--out", "one"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = small_sweep(
        &dir,
        &["--jobs", "2", "--out", "two", "--replications", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one = files(&dir.join("one"));
    assert_eq!(
        one.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "sweep.csv",
            "sweep.json",
            "sweep_heatmap.png",
            "sweep_heatmap.svg",
            "sweep_p99.png",
            "sweep_p99.svg"
        ]
    );
    assert!(
        one == files(&dir.join("two")),
        "--jobs 1 and --jobs 2 differ"
    );

    // Three shards (one of them with JOB_COMPLETION_INDEX), merged.
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = format!("shard-{i}");
        let o = small_sweep(&dir, &["--shard", &shard, "--out", &out]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = kubesim(
        &dir,
        &["merge", "shard-2", "shard-0", "shard-1", "--out", "merged"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        one == files(&dir.join("merged")),
        "merged shards differ from the unsharded sweep"
    );
    let marker = |d: &str| fs::read(dir.join(d).join(kubesim::report::MARKER_FILE)).unwrap();
    assert_eq!(marker("one"), marker("merged"));

    // A missing shard is refused, and nothing is written.
    let o = kubesim(&dir, &["merge", "shard-0", "shard-2", "--out", "partial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing shard(s) 1/3"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("partial").exists());

    let csv = String::from_utf8(one[0].1.clone()).unwrap();
    assert!(csv.starts_with("duration,deployment/web.replicas,traffic/browser.rate,sent,served,failed,mean_ms,p50_ms,p90_ms,p99_ms,p99_ci95_ms,slo_pass,p999_ms,max_ms,served_per_s\n6s,2,700/s,"), "{csv}");
    // The tail columns agree with the others: p99 <= p99.9 <= max, and the served rate is the
    // served count over the measured time of all replications (6 s less the 3 s warmup).
    let json: serde_json::Value = serde_json::from_slice(&files(&dir.join("merged"))[1].1).unwrap();
    let reps = json["plan"]["replications"].as_f64().unwrap();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        let (served, p99, p999, max, rate) = (num(4), num(9), num(12), num(13), num(14));
        assert!(p99 <= p999 && p999 <= max, "{line}");
        let want = served / reps / 3.0;
        assert!(
            (rate - want).abs() <= 0.001 * want.max(1.0),
            "{line}: {rate} vs {want}"
        );
    }
}

#[test]
fn the_shard_index_can_come_from_an_indexed_job() {
    let dir = temp_dir("sweep-auto");
    let scenario = root().join(CAPACITY);
    let mut args = vec![
        "sweep",
        scenario.to_str().unwrap(),
        "--set",
        "duration=4s",
        "--shard",
        "auto/2",
        "--out",
        "s",
    ];
    args.extend(SMALL);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .current_dir(&dir)
        .args(&args)
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shard = fs::read_to_string(dir.join("s/sweep-shard.json")).unwrap();
    assert!(
        shard.contains("\"shard\": 1,") && shard.contains("\"shards\": 2,"),
        "{shard}"
    );
    let o = kubesim(&dir, &args);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("JOB_COMPLETION_INDEX"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn replications_give_intervals_and_verdicts() {
    let dir = temp_dir("sweep-reps");
    let scenario = root().join(CAPACITY);
    let o = kubesim(
        &dir,
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--set",
            "duration=5s",
            "--set",
            "deployment/web.replicas=1,5",
            "--slo",
            "p99<75ms",
            "--replications",
            "3",
            "--out",
            "r",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = fs::read_to_string(dir.join("r/sweep.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(
            !r[9].is_empty(),
            "p99_ci95_ms is filled with replications: {csv}"
        );
    }
    // One replica at 1400/s is far over capacity: it fails whatever the interval.
    assert_eq!(rows[0][10], "false", "{csv}");
}

#[test]
fn bad_sets_and_slos_exit_2_naming_the_culprit_and_slo_exit_codes() {
    let dir = temp_dir("sweep-errors");
    let scenario = root().join(CAPACITY);
    let s = scenario.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["sweep", s, "--set", "deployment/nope.replicas=1,2"],
            "--set deployment/nope.replicas=1: no deployment written in a document of its own matches",
        ),
        (
            &["sweep", s, "--set", "deployment/web.replicas=-1,2"],
            "(value set by --set deployment/web.replicas=-1)",
        ),
        (
            &["sweep", s, "--set", "traffic/browser.rate=1/s..5/s:0/s"],
            "the step must be positive",
        ),
        (
            &[
                "sweep",
                s,
                "--set",
                "deployment/web.replicas=1",
                "--slo",
                "p99<1s,p98<2s",
            ],
            "term 2 \"p98<2s\": unknown metric",
        ),
        (&["run", s, "--slo", "p99<"], "--slo"),
    ];
    for (args, want) in cases {
        let o = kubesim(&dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(
        !dir.join("output").exists(),
        "nothing is written on bad input"
    );
    // `run --slo`: exit 1 when missed (4 replicas at 1400/s: p99 near 96 ms), 0 when met.
    let o = kubesim(&dir, &["run", s, "--slo", "p99<75ms", "--out", "missed"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = kubesim(
        &dir,
        &["run", s, "--slo", "p99<1s,errors<1%", "--out", "met"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `sweep` exits 1 only when no cell meets the SLO.
    let o = kubesim(
        &dir,
        &[
            "sweep",
            s,
            "--set",
            "duration=4s",
            "--set",
            "deployment/web.replicas=1,2",
            "--slo",
            "p99<1ms",
            "--out",
            "none",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no cell meets the SLO"));
}

/// `docs/deploy/sweep-job.yaml` holds a valid Indexed Job (parsed with k8s-openapi's own
/// `batch/v1 Job` type) whose shard count matches its `--shard auto/N`, and a valid PVC.
#[test]
fn the_indexed_job_manifest_is_a_valid_job() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let text = fs::read_to_string(root().join("docs/deploy/sweep-job.yaml")).unwrap();
    let docs: Vec<&str> = text.split("\n---\n").collect();
    assert_eq!(docs.len(), 2);
    let pvc: PersistentVolumeClaim = serde_yaml::from_str(docs[0]).unwrap();
    assert_eq!(pvc.metadata.name.as_deref(), Some("kubesim-results"));
    let job: Job = serde_yaml::from_str(docs[1]).unwrap();
    let spec = job.spec.unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let n = spec.completions.unwrap();
    assert!(spec.parallelism.unwrap() >= 1 && spec.parallelism.unwrap() <= n);
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let args = pod.containers[0].args.clone().unwrap().join(" ");
    assert!(args.contains(&format!("--shard auto/{n}")), "{args}");
    assert!(args.contains("${JOB_COMPLETION_INDEX}"), "{args}");
    let claims: Vec<String> = pod
        .volumes
        .unwrap()
        .iter()
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.clone())
        })
        .collect();
    assert_eq!(claims, ["kubesim-results"]);
}
