//! Helpers shared by the integration tests.

use kubesim::scenario::{self, Loaded};
use kubesim::sim::{Outcome, Simulation};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `scenarios/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A bundled scenario's text.
pub fn scenario_text(name: &str) -> String {
    std::fs::read_to_string(root().join("scenarios").join(name)).expect("bundled scenario exists")
}

/// Loads a scenario file, panicking with its diagnostics if it does not load.
pub fn load(path: &Path) -> Loaded {
    scenario::load(path).unwrap_or_else(|d| panic!("{} does not load:\n{d}", path.display()))
}

/// Loads scenario text as if it were the file `name` in `scenarios/`.
pub fn load_text(text: &str) -> Loaded {
    scenario::load_str(text, "test.yaml", &root().join("scenarios"))
        .unwrap_or_else(|d| panic!("does not load:\n{d}"))
}

/// Runs a loaded scenario to its end.
pub fn run(loaded: &Loaded) -> Outcome {
    Simulation::new(loaded.scenario.clone())
        .unwrap_or_else(|e| panic!("API errors: {e:?}"))
        .run()
}

/// Requests served by each pod that served any, in pod creation order.
pub fn served_counts(o: &Outcome) -> Vec<u64> {
    o.pods.iter().map(|p| p.served).filter(|n| *n > 0).collect()
}

/// Pearson's chi-square statistic of `counts` against a uniform expectation.
pub fn chi_square_uniform(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// Critical values of the chi-square distribution at alpha = 0.001, by degrees of freedom
/// (1 to 5).
pub const CHI2_CRITICAL_0_001: [f64; 5] = [10.828, 13.816, 16.266, 18.467, 20.515];

/// Runs the `kubesim` binary with `args` in `dir`.
pub fn kubesim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("kubesim runs")
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kubesim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The stderr of a finished command, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The scenario run up to `secs` seconds, and the name of its first live pod labelled
/// `app=<app>` (for traces from a client pod).
pub fn sim_at_with_pod(scenario: &str, secs: u64, app: &str) -> (kubesim::sim::Simulation, String) {
    let mut sim = Simulation::new(load(&root().join("scenarios").join(scenario)).scenario).unwrap();
    sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(secs));
    let pod = sim
        .cluster()
        .live_pods()
        .find(|(_, p)| p.meta.labels.get("app").map(String::as_str) == Some(app))
        .expect("a pod with that label")
        .1
        .meta
        .name
        .clone();
    (sim, pod)
}

/// Compares `actual` with the snapshot `tests/snapshots/<name>`; with `KUBESIM_BLESS=1` in the
/// environment, writes `actual` there instead (review the diff before committing it).
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = root().join("tests").join("snapshots").join(name);
    if std::env::var_os("KUBESIM_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot folder")).expect("snapshot folder");
        std::fs::write(&path, actual).expect("snapshot written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with KUBESIM_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the snapshot, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             (re-bless with KUBESIM_BLESS=1 if the change is intended)\n--- actual ---\n{actual}",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
        );
    }
}
