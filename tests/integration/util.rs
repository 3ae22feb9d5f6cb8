//! Helpers shared by the integration tests.

use kubesim::scenario::{self, Loaded};
use kubesim::sim::{Outcome, Simulation};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Deployment `srv` (`replicas` pods labelled `app: srv`, each one container `srv` of
/// image `srv` listening on 8080, with `container` as more lines of that container's YAML)
/// and its NodePort Service `srv` (port 80 to the pods' 8080, node port 30080), as YAML
/// documents to end a test scenario with.
pub fn srv_app(replicas: u32, container: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: srv}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: srv}}}}
  template:
    metadata: {{labels: {{app: srv}}}}
    spec:
      containers:
        - name: srv
          image: srv
          ports: [{{containerPort: 8080}}]
{container}
---
apiVersion: v1
kind: Service
metadata: {{name: srv}}
spec:
  type: NodePort
  selector: {{app: srv}}
  ports: [{{port: 80, targetPort: 8080, nodePort: 30080}}]
"#
    )
}

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

/// Compares `actual` with the file `tests/snapshots/<name>`, byte for byte, and fails with a
/// diff-like message (the first differing region, `-` expected, `+` actual) if they differ.
///
/// Re-bless (write `actual` as the new snapshot) with
/// `KUBESIM_BLESS=1 cargo test --release --test integration`, then review the change with
/// `git diff tests/snapshots`.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = root().join("tests").join("snapshots").join(name);
    if std::env::var("KUBESIM_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshots folder")).expect("create folder");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "snapshot {} does not exist; create it with KUBESIM_BLESS=1 cargo test --release --test integration",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let common_tail = e[first..]
        .iter()
        .rev()
        .zip(a[first..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut msg = format!(
        "snapshot {} differs from the output (first difference at line {}):\n",
        path.display(),
        first + 1
    );
    for line in &e[first.saturating_sub(3)..first] {
        msg += &format!("  {line}\n");
    }
    let shown = 40;
    for line in e[first..e.len() - common_tail].iter().take(shown) {
        msg += &format!("- {line}\n");
    }
    for line in a[first..a.len() - common_tail].iter().take(shown) {
        msg += &format!("+ {line}\n");
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        msg += "(the trailing newline differs)\n";
    }
    msg += "If the change is intended, re-bless with KUBESIM_BLESS=1 cargo test --release --test integration and review git diff tests/snapshots";
    panic!("{msg}");
}

/// The scenario's own pods: the CoreDNS add-on's two (`kube-system`, `sim::addons`) left out.
pub fn scenario_pods(o: &Outcome) -> impl Iterator<Item = &kubesim::sim::outcome::PodOutcome> {
    o.pods.iter().filter(|p| p.namespace != "kube-system")
}
