//! The serving model against queueing theory's closed forms (`kubesim::traffic::theory`).
//!
//! Each case runs the same scenario `REPS` times with seeds 1..=REPS (independent
//! replications), network latencies set to 0 so that a request's latency is exactly its time
//! in the system, and a warmup that leaves the empty start out. The tolerance comes from the
//! run itself: the replications' means give a Student t interval at alpha = 0.001 (two-sided),
//! and the theory must fall inside it. Each interval is also checked to be narrow (a stated
//! bound on its half-width relative to the theory), so a test cannot pass by being vague.
//! Fixed seeds: the runs are deterministic and the tests never flake.

use crate::util::scenario_pods;
use crate::util::{load_text, srv_app};
use kubesim::sim::{Outcome, Simulation};
use kubesim::traffic::theory;

/// Replications per case.
const REPS: usize = 10;
/// Student t, 0.9995 quantile, 9 degrees of freedom (REPS - 1): alpha = 0.001 two-sided.
const T_9_0_9995: f64 = 4.781;

/// A one-node cluster with `replicas` pods of a server with `concurrency` slots and the
/// service time `service` (YAML flow mapping), fed by Poisson arrivals at `rate` per second
/// through the NodePort, one connection per request, zero network latency.
fn scenario(replicas: u32, concurrency: u32, service: &str, rate: f64, secs: u32) -> String {
    format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: queueing}}
spec:
  duration: {total}s
  warmup: 5s
  cluster:
    network: {{sameNode: 0s, crossNode: 0s, external: 0s}}
    nodes:
      - {{name: node-1, ip: 192.168.0.24, allocatable: {{pods: 110, cpu: "64"}}}}
  behaviors:
    - image: srv
      serviceTime: {service}
      concurrency: {concurrency}
  traffic:
    - name: poisson
      to: 192.168.0.24:30080
      rate: {rate}/s
      start: 2s
      timeout: 1h
{app}"#,
        app = srv_app(replicas, ""),
        total = secs + 5
    )
}

/// The scenario run with seeds 1..=REPS, two at a time (the CI machine has two cores).
fn replications(text: &str) -> Vec<Outcome> {
    let loaded = load_text(text);
    let mut out: Vec<Option<Outcome>> = (0..REPS).map(|_| None).collect();
    for pair in out.chunks_mut(2).enumerate() {
        let (i, slots) = pair;
        std::thread::scope(|s| {
            for (j, slot) in slots.iter_mut().enumerate() {
                let mut sc = loaded.scenario.clone();
                sc.seed = (i * 2 + j + 1) as u64;
                s.spawn(move || *slot = Some(Simulation::new(sc).unwrap().run()));
            }
        });
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// Mean and t-interval half-width (alpha = 0.001) of the replications' figures.
fn interval(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, T_9_0_9995 * (var / n).sqrt())
}

/// Asserts that `theory` lies in the interval of `xs` and that the interval's half-width is at
/// most `max_rel` of `theory`: the bounds below are set a little above the half-widths these
/// runs give, so a model off by more than about a tenth (a lost or doubled hop of service, a
/// wrong share of traffic) fails.
fn check(what: &str, xs: &[f64], theory: f64, max_rel: f64) {
    let (mean, half) = interval(xs);
    assert!(
        (mean - theory).abs() <= half,
        "{what}: simulated {mean:.6} ± {half:.6} (alpha 0.001), theory {theory:.6}"
    );
    assert!(
        half <= max_rel * theory,
        "{what}: interval ±{half:.6} wider than {max_rel} of {theory:.6}: runs too short"
    );
}

/// Mean latency of the stream, in seconds, per replication.
fn mean_latency(runs: &[Outcome]) -> Vec<f64> {
    runs.iter()
        .map(|o| {
            assert_eq!(o.requests.failed, 0);
            o.streams[0].latency.histogram().map_or(0.0, |h| h.mean()) / 1e9
        })
        .collect()
}

#[test]
fn one_slot_poisson_exponential_matches_mm1_at_utilisation_half_080_090() {
    let mu = 1000.0; // 1 ms mean service
    for (rho, secs, max_rel) in [(0.5, 40, 0.05), (0.8, 80, 0.12), (0.9, 150, 0.2)] {
        let lambda = rho * mu;
        let text = scenario(1, 1, "{distribution: exponential, mean: 1ms}", lambda, secs);
        let runs = replications(&text);
        let w = theory::mm1_sojourn(lambda, mu).unwrap();
        check(
            &format!("M/M/1 rho {rho} mean time in system"),
            &mean_latency(&runs),
            w,
            max_rel,
        );
        // The pod's busy share is the utilisation.
        let util: Vec<f64> = runs
            .iter()
            .map(|o| {
                scenario_pods(o)
                    .next()
                    .unwrap()
                    .utilisation
                    .expect("the pod served")
            })
            .collect();
        check(&format!("M/M/1 rho {rho} utilisation"), &util, rho, 0.03);
    }
}

#[test]
fn concurrency_c_matches_erlang_c() {
    // c = 4 slots, 1 ms each, at 3,200/s: utilisation 0.8.
    let (mu, c, lambda) = (1000.0, 4, 3200.0);
    let text = scenario(1, c, "{distribution: exponential, mean: 1ms}", lambda, 40);
    let runs = replications(&text);
    let wait: Vec<f64> = mean_latency(&runs).iter().map(|w| w - 1.0 / mu).collect();
    // Compare waits (what Erlang C predicts), with the service mean known exactly.
    let wq = theory::mmc_wait(lambda, mu, c).unwrap();
    let (mean, half) = interval(&wait);
    // Service times are sampled, so the wait estimate carries their noise too: allow it.
    assert!(
        (mean - wq).abs() <= half,
        "M/M/4 mean wait: simulated {mean:.6} ± {half:.6}, Erlang C {wq:.6}"
    );
    assert!(half <= 0.15 * wq, "interval ±{half} too wide for {wq}");
    check(
        "M/M/4 mean time in system",
        &mean_latency(&runs),
        theory::mmc_sojourn(lambda, mu, c).unwrap(),
        0.05,
    );
}

#[test]
fn random_balancing_over_n_pods_is_n_independent_mm1_queues() {
    // 3 single-slot pods, 2,400/s in total: kube-proxy's random choice per connection splits
    // a Poisson stream into 3 Poisson streams of 800/s, each an M/M/1 at rho 0.8.
    let (mu, n, lambda) = (1000.0, 3, 2400.0);
    let text = scenario(n, 1, "{distribution: exponential, mean: 1ms}", lambda, 40);
    let runs = replications(&text);
    let w = theory::mm1_sojourn(lambda / f64::from(n), mu).unwrap();
    check(
        "3 x M/M/1 mean time in system",
        &mean_latency(&runs),
        w,
        0.1,
    );
    for pod in 0..n as usize {
        let per_pod: Vec<f64> = runs
            .iter()
            .map(|o| scenario_pods(o).nth(pod).unwrap().latency.mean / 1e3)
            .collect();
        check(&format!("pod {pod} mean time in system"), &per_pod, w, 0.15);
    }
}

#[test]
fn constant_service_matches_md1_pollaczek_khinchine() {
    let (d, lambda) = (0.001, 800.0);
    let text = scenario(1, 1, "{distribution: constant, value: 1ms}", lambda, 60);
    let runs = replications(&text);
    let w = theory::md1_wait(lambda, d).unwrap() + d;
    check("M/D/1 mean time in system", &mean_latency(&runs), w, 0.08);
}
