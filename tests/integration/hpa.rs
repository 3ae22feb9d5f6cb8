//! The HorizontalPodAutoscaler in the loop: the bundled morning ramp, scale-down
//! stabilisation against flapping, `get hpa`, validation and a missing target, StatefulSet and
//! ReplicaSet targets.

use crate::util::*;
use kubesim::engine::SimTime;
use kubesim::sim::outcome::Outcome;

fn rescales(o: &Outcome) -> Vec<(SimTime, u32)> {
    o.events
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale")
        .map(|e| {
            let size = e.message["New size: ".len()..]
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (e.at, size)
        })
        .collect()
}

#[test]
fn the_morning_ramp_scales_within_the_default_policies_and_settles_at_the_target() {
    let loaded = load(&root().join("scenarios/hpa-morning-ramp.yaml"));
    let o = run(&loaded);
    let hpa = &o.hpas[0];
    assert_eq!(hpa.reference, "Deployment/web");
    // 1,200/s at 50 requests/s a pod (50% of 500m at 5 ms of CPU each).
    assert_eq!(hpa.replicas, 24);
    let ups = rescales(&o);
    assert_eq!(
        ups[0],
        (
            SimTime::ZERO + kubesim::engine::SimDuration::from_secs(90),
            3
        )
    );
    assert!(o.events.iter().any(|e| e.reason == "SuccessfulRescale"
        && e.message == "New size: 3; reason: cpu resource utilization (percentage of request) above target"));
    // Each step within max(100%, 4 pods) of the size 15 s before, syncs 15 s apart.
    let mut before = 2;
    for (at, size) in &ups {
        assert!(
            *size <= (before * 2).max(before + 4),
            "{size} after {before} at {at}"
        );
        assert!(*size > before, "only scale-ups on a ramp");
        assert_eq!(at.as_nanos() % 15_000_000_000, 0, "syncs every 15 s");
        before = *size;
    }
    // Metrics are missing at the first sync (15 s: no scrape has two points yet), then the
    // pods' first samples began before they were ready (30 s): one warning each, not one
    // per sync.
    let warnings: Vec<&str> = o
        .events
        .iter()
        .filter(|e| e.reason == "FailedGetResourceMetric")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        warnings,
        [
            "unable to get metrics for resource cpu: no metrics returned from resource metrics API",
            "did not receive metrics for targeted pods (pods might be unready)"
        ]
    );
    assert_eq!(o.requests.failed, 0);
    // The replicas over time, one sample per sync.
    assert_eq!(hpa.history.len(), 8 * 4);
    assert!(hpa.history.windows(2).all(|w| w[0].desired <= w[1].desired));
    assert!(hpa.history.windows(2).all(|w| w[1].current == w[0].desired));
}

#[test]
fn a_lower_target_keeps_the_tail_lower_through_the_ramp() {
    let base = scenario_text("hpa-morning-ramp.yaml");
    let lower = base.replace("averageUtilization: 50", "averageUtilization: 30");
    assert_ne!(base, lower);
    let a = run(&load_text(&base));
    let b = run(&load_text(&lower));
    assert!(b.hpas[0].replicas > a.hpas[0].replicas);
    assert!(b.latency.ms().p99 < a.latency.ms().p99);
}

/// At a 70% target the first pods saturate and fail their readiness probes: the HPA leaves
/// out unready pods in their first 5 minutes (the CPU initialisation period), so it sees no
/// metric until then; after it, a pod that was ready and no longer is counts again (its Ready
/// condition's last transition is when it turned unready, not its creation), and the HPA
/// scales again. Upstream: `groupPods` in `replica_calculator.go`.
#[test]
fn pods_that_were_ready_count_again_after_the_cpu_initialisation_period() {
    let text = scenario_text("hpa-morning-ramp.yaml")
        .replace("averageUtilization: 50", "averageUtilization: 70");
    let o = run(&load_text(&text));
    let blind = o
        .events
        .iter()
        .filter(|e| {
            e.message
                .contains("did not receive metrics for targeted pods")
        })
        .map(|e| e.at)
        .collect::<Vec<_>>();
    let five_min = SimTime::ZERO + kubesim::engine::SimDuration::from_secs(300);
    assert!(blind.iter().any(|&t| t < five_min), "{blind:?}");
    let ups = rescales(&o);
    assert!(
        ups.iter().any(|&(t, _)| t > five_min),
        "no rescale after the initialisation period: {ups:?}"
    );
}

/// `scenarios/hpa-flapping.yaml`: load that steps between 100/s and 300/s every 2 minutes;
/// with the default 300 s scale-down window the HPA holds the peak's size, with none it
/// follows every dip.
#[test]
fn scale_down_stabilisation_stops_flapping() {
    let text = scenario_text("hpa-flapping.yaml");
    let without = text.replace(
        "  # behavior:\n  #   scaleDown: {stabilizationWindowSeconds: 0}",
        "  behavior:\n    scaleDown: {stabilizationWindowSeconds: 0}",
    );
    assert_ne!(text, without);
    let a = run(&load_text(&text));
    let b = run(&load_text(&without));
    let (held, flapping) = (rescales(&a), rescales(&b));
    let downs = |r: &[(SimTime, u32)]| r.windows(2).filter(|w| w[1].1 < w[0].1).count();
    // The first sync (15 s after the HPA's creation) raises the 2 replicas to minReplicas.
    assert_eq!(
        held[0],
        (
            SimTime::ZERO + kubesim::engine::SimDuration::from_secs(15),
            4
        )
    );
    assert_eq!((held.len(), downs(&held)), (2, 0), "{held:?}");
    assert_eq!((flapping.len(), downs(&flapping)), (6, 3), "{flapping:?}");
    assert!(a.latency.ms().p99 < b.latency.ms().p99);
}

/// `scenarios/hpa-keep-alive-trap.yaml`: kept-alive connections stay on the first pods; the HPA
/// adds pods that serve nothing, and the average it sees hides the hot ones.
#[test]
fn kept_alive_connections_leave_the_hpas_new_pods_idle() {
    let text = scenario_text("hpa-keep-alive-trap.yaml");
    let per_request = text.replace(
        "connections: {reuse: true, maxPerDestination: 1}",
        "connections: {reuse: false}",
    );
    assert_ne!(text, per_request);
    let (a, b) = (run(&load_text(&text)), run(&load_text(&per_request)));
    assert_eq!((a.hpas[0].replicas, b.hpas[0].replicas), (4, 4));
    let web = |o: &Outcome| -> Vec<u64> {
        scenario_pods(o)
            .filter(|p| p.name.starts_with("web-"))
            .map(|p| p.served)
            .collect()
    };
    let (kept, spread) = (web(&a), web(&b));
    assert_eq!(kept.len(), 4);
    assert!(
        kept[..2].iter().all(|&s| s > 0) && kept[2..].iter().all(|&s| s == 0),
        "{kept:?}"
    );
    assert!(spread.iter().all(|&s| s > 0), "{spread:?}");
    assert!(a.latency.ms().p99 > 3.0 * b.latency.ms().p99);
}

#[test]
fn get_hpa_prints_kubectls_columns() {
    let o = kubesim(
        &root(),
        &[
            "get",
            "hpa",
            "scenarios/hpa-morning-ramp.yaml",
            "--at",
            "10s",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        out,
        "NAME   REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE\n\
         web    Deployment/web   cpu: <unknown>/50%   2         30        0          10s\n"
    );
}

#[test]
fn an_invalid_hpa_is_refused_with_its_place_and_exit_2() {
    let dir = temp_dir("hpa-invalid");
    let text = scenario_text("hpa-morning-ramp.yaml").replace("maxReplicas: 30", "maxReplicas: 1");
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let o = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("s.yaml:") && err.contains("spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`"),
        "{err}"
    );
}

#[test]
fn an_hpa_without_its_target_says_so_once() {
    let text = scenario_text("hpa-morning-ramp.yaml").replace(
        "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}",
        "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: webb}",
    );
    let mut loaded = load_text(&text);
    loaded.scenario.duration = kubesim::engine::SimDuration::from_secs(60);
    let o = run(&loaded);
    let failed: Vec<_> = o
        .events
        .iter()
        .filter(|e| e.object == "horizontalpodautoscaler/web")
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        [("FailedGetScale", "deployments.apps \"webb\" not found")]
    );
    assert_eq!(o.hpas[0].replicas, 0);
}

/// `hpa-flapping.yaml` with `web` as another kind of target, minReplicas 2 and no scale-down
/// window, and peaks of 160/s, so the HPA follows the load up and down (issue 18: every kind
/// with a `scale`).
fn flapping_with_target(kind: &str, extra_spec: &str) -> String {
    let text = scenario_text("hpa-flapping.yaml");
    let out = text
        .replace(
            "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
            &format!("kind: {kind}\nmetadata:\n  name: web\nspec:\n{extra_spec}  replicas: 2\n"),
        )
        .replace(
            "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}",
            &format!("scaleTargetRef: {{apiVersion: apps/v1, kind: {kind}, name: web}}"),
        )
        .replace("minReplicas: 4", "minReplicas: 2")
        // 160/s needs 4 pods at 50% and does not overload 2 (at 300/s a StatefulSet's pods
        // fail their probes and OrderedReady waits for them, a lesson of its own).
        .replace("rate: 300/s", "rate: 160/s")
        .replace(
            "  # behavior:\n  #   scaleDown: {stabilizationWindowSeconds: 0}",
            "  behavior:\n    scaleDown: {stabilizationWindowSeconds: 0}",
        );
    assert!(
        !out.contains("kind: Deployment"),
        "every replacement applied"
    );
    assert!(out.contains("stabilizationWindowSeconds: 0}\n"));
    out
}

/// The StatefulSet controller's own lines for `web`: ("create" or "delete", ordinal).
fn sts_steps(o: &Outcome) -> Vec<(String, u32)> {
    o.events
        .iter()
        .filter(|e| e.object == "statefulset/web")
        .map(|e| {
            let mut words = e.message.split(' ');
            let verb = words.next().unwrap().to_string();
            let pod = words.nth(1).unwrap();
            (verb, pod["web-".len()..].parse().unwrap())
        })
        .collect()
}

#[test]
fn an_hpa_scales_a_statefulset_up_and_down_in_ordinal_order() {
    let o = run(&load_text(&flapping_with_target(
        "StatefulSet",
        "  serviceName: web\n",
    )));
    let hpa = &o.hpas[0];
    assert_eq!(hpa.reference, "StatefulSet/web");
    let sizes: Vec<u32> = rescales(&o).iter().map(|r| r.1).collect();
    let ups = sizes.windows(2).filter(|w| w[1] > w[0]).count();
    let downs = sizes.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        ups >= 1 && downs >= 2,
        "it follows the load up and down: {:?}",
        rescales(&o)
    );
    // Replay the controller's lines against the sizes it was given: every create is the
    // lowest missing ordinal, every delete the highest present one.
    let steps = sts_steps(&o);
    let mut live: Vec<u32> = Vec::new();
    for (verb, ord) in &steps {
        if verb == "create" {
            assert_eq!(*ord as usize, live.len(), "created in order: {steps:?}");
            live.push(*ord);
        } else {
            assert_eq!(live.last(), Some(ord), "deleted highest first: {steps:?}");
            live.pop();
        }
    }
    let max = *sizes.iter().max().unwrap();
    assert!(
        steps.iter().any(|s| s == &("create".to_string(), max - 1)),
        "web-{} was made: {steps:?}",
        max - 1
    );
    assert!(steps.iter().any(|s| s.0 == "delete"));
    // At the end the set has as many pods, web-0 up, as the HPA last asked for.
    let mut names: Vec<String> = scenario_pods(&o)
        .filter(|p| p.name.starts_with("web-") && p.deleted.is_none())
        .map(|p| p.name.clone())
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..*sizes.last().unwrap())
        .map(|i| format!("web-{i}"))
        .collect();
    want.sort();
    assert_eq!(names, want);
    assert_eq!(hpa.replicas, *sizes.last().unwrap());
}

#[test]
fn an_hpa_scales_a_bare_replicaset() {
    let o = run(&load_text(&flapping_with_target("ReplicaSet", "")));
    let hpa = &o.hpas[0];
    assert_eq!(hpa.reference, "ReplicaSet/web");
    let sizes: Vec<u32> = rescales(&o).iter().map(|r| r.1).collect();
    assert!(sizes.windows(2).any(|w| w[1] > w[0]), "{sizes:?}");
    assert!(sizes.windows(2).any(|w| w[1] < w[0]), "{sizes:?}");
    assert!(o
        .events
        .iter()
        .any(|e| e.object == "replicaset/web" && e.reason == "SuccessfulDelete"));
    let pods = scenario_pods(&o)
        .filter(|p| p.name.starts_with("web-") && p.deleted.is_none())
        .count();
    assert_eq!(pods as u32, *sizes.last().unwrap());
    assert_eq!(hpa.replicas, *sizes.last().unwrap());
}
