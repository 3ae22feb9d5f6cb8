//! Load and serving models: rate profiles, closed-loop users, retries, the queue limit and the
//! CPU limit, each checked against what it must give. Fixed seeds; statistical checks state
//! their tolerance.

use crate::util::{load, load_text, root, run, srv_app};
use kubesim::report::Summary;

/// A one-node cluster with one pod of `srv` (`behavior` is the YAML of its behaviour, after
/// `image: srv`), fed by `stream` (the YAML of one traffic entry, after `name: s`), zero
/// network latency.
fn one_pod(behavior: &str, stream: &str, secs: u32) -> String {
    format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: load}}
spec:
  seed: 5
  duration: {secs}s
  cluster:
    network: {{sameNode: 0s, crossNode: 0s, external: 0s}}
    nodes: [{{name: node-1, ip: 192.168.0.24}}]
  behaviors:
    - image: srv
{behavior}
  traffic:
    - name: s
      to: 192.168.0.24:30080
{stream}
{app}"#,
        app = srv_app(1, "          resources: {limits: {cpu: 500m}}")
    )
}

#[test]
fn retry_storm_collapses_goodput_with_retries_and_not_without() {
    let loaded = load(&root().join("scenarios/retry-storm.yaml"));
    let on = Summary::of(&run(&loaded));
    let mut off_scenario = loaded.clone();
    off_scenario.scenario.traffic[0].retries = None;
    let off = Summary::of(&run(&off_scenario));
    let (on, off) = (&on.traffic[0], &off.traffic[0]);
    // Same arrivals either way (the first attempts come from the same random stream).
    assert_eq!(on.user_requests.sent, off.user_requests.sent);
    // Offered 500/s for 120 s. Without retries the slowdown costs some requests, then the
    // queues drain: most of the offered load is answered.
    assert!(off.goodput_per_s > 350.0, "without retries: {off:?}");
    assert_eq!(off.retries, 0);
    // With retries the storm outlives the slowdown: goodput collapses to under a third.
    assert!(on.retries > on.user_requests.sent, "retries: {on:?}");
    assert!(
        on.goodput_per_s < off.goodput_per_s / 3.0,
        "with retries {} vs without {}",
        on.goodput_per_s,
        off.goodput_per_s
    );
    // The servers stay busy all along: what they finish is mostly abandoned.
    assert!(on.sent > 3 * on.served);
}

#[test]
fn closed_loop_throughput_obeys_littles_law() {
    let loaded = load(&root().join("scenarios/closed-loop-browsers.yaml"));
    let s = Summary::of(&run(&loaded));
    let t = &s.traffic[0];
    assert_eq!(t.failed, 0);
    let (n, z) = (300.0, 0.5);
    let r = t.latency_ms.mean / 1000.0;
    let x = t.throughput_per_s;
    // Little's law over the measured window: X = N / (R + Z). Users mid-cycle at the window's
    // edges shift X by at most N / (X T) = 300 / (400 x 270) = 0.3%, and the mean of about
    // 100,000 exponential think times is within 0.3% (one standard error); 2% is over five
    // of those.
    let little = n / (r + z);
    assert!(
        (x - little).abs() <= 0.02 * little,
        "X {x} vs N/(R+Z) {little}"
    );
    // And below the two replicas' capacity of 2 x 4 / 20 ms = 400/s.
    assert!(x <= 400.0 * 1.02, "X {x}");
    assert!(
        x > 0.95 * 400.0,
        "300 users thinking 500 ms saturate the servers: X {x}"
    );
}

#[test]
fn step_profile_sends_each_steps_rate() {
    let stream = "      profile:\n        shape: step\n        points: [{at: 0s, rate: 100/s}, {at: 20s, rate: 400/s}, {at: 30s, rate: 0}]";
    let o = run(&load_text(&one_pod("      concurrency: 1000", stream, 40)));
    // Served at once (no service time, no latency): per-second buckets count arrivals.
    let per = |from: usize, to: usize| -> u64 {
        o.timeline.served[from..to]
            .iter()
            .map(|r| r.iter().sum::<u64>())
            .sum()
    };
    // Poisson counts: expected 2,000 in [0, 20 s), 4,000 in [20, 30 s), none after; five
    // standard deviations (sqrt of the mean) of tolerance.
    for (got, want) in [(per(0, 20), 2000.0), (per(20, 30), 4000.0)] {
        assert!(
            (got as f64 - want).abs() <= 5.0 * f64::sqrt(want),
            "{got} vs {want}"
        );
    }
    assert_eq!(per(30, 40), 0);
}

#[test]
fn linear_profile_integrates_its_ramp() {
    // 0 to 1,000/s over 10 s: 5,000 arrivals expected, about 500 in the first half.
    let stream = "      arrival: poisson\n      profile: {points: [{at: 0s, rate: 0}, {at: 10s, rate: 1000/s}]}\n      stop: 10s";
    let o = run(&load_text(&one_pod("      concurrency: 1000", stream, 12)));
    let first: u64 = o.timeline.served[..5].iter().flatten().sum();
    let all = o.requests.sent;
    assert!((all as f64 - 5000.0).abs() <= 5.0 * 5000f64.sqrt(), "{all}");
    // Half of the ramp's time carries a quarter of its requests (1,250).
    assert!(
        (first as f64 - 1250.0).abs() <= 5.0 * 1250f64.sqrt(),
        "{first}"
    );
}

#[test]
fn queue_limit_zero_turns_away_like_erlang_loss() {
    // One slot, no waiting, 10 ms per request, Poisson 50/s: offered load a = 0.5, and an
    // M/G/1/1 loss system turns away a / (1 + a) = 1/3 of arrivals (Erlang B, whatever the
    // service-time distribution).
    let behavior = "      serviceTime: {distribution: constant, value: 10ms}\n      queueLimit: 0";
    // From 2 s: the pod is running (containers start 1 s after scheduling).
    let o = run(&load_text(&one_pod(
        behavior,
        "      rate: 50/s\n      start: 2s",
        400,
    )));
    let rejected = o
        .requests
        .failed_by_reason
        .get("http_503")
        .copied()
        .unwrap_or(0);
    let n = o.requests.sent as f64;
    let p = rejected as f64 / n;
    // Five binomial standard deviations.
    let tol = 5.0 * (1.0 / 3.0 * 2.0 / 3.0 / n).sqrt();
    assert!((p - 1.0 / 3.0).abs() <= tol, "503 share {p} of {n}");
    assert_eq!(o.requests.failed, rejected);
}

#[test]
fn cpu_limit_stretches_the_cpu_part_of_service() {
    // One request at a time (constant arrivals 1 s apart, each done in well under a second):
    // 8 ms of CPU on a 500m limit takes 16 ms, plus the 2 ms serviceTime.
    let behavior =
        "      serviceTime: {distribution: constant, value: 2ms}\n      cpuPerRequest: 8ms";
    let stream = "      rate: 1/s\n      arrival: constant\n      start: 2s";
    let o = run(&load_text(&one_pod(behavior, stream, 20)));
    let l = o.streams[0].latency.ms();
    assert_eq!((o.requests.sent, o.requests.served), (18, 18));
    assert!(
        (l.mean - 18.0).abs() < 0.02 && (l.max - 18.0).abs() < 0.02,
        "{l:?}"
    );
    // Four at once on the same limit share its half core: an eighth of a core each, so
    // 8 ms of CPU take 64 ms.
    assert_eq!(
        kubesim::traffic::serve::cpu_wall_time(
            kubesim::engine::SimDuration::from_millis(8),
            4,
            500
        ),
        kubesim::engine::SimDuration::from_millis(64)
    );
}
