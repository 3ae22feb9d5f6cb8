//! Crashes, restarts, node failures and rescheduling, replayed from the timeline.

use crate::util::*;
use kubesim::engine::SimTime;
use kubesim::sim::outcome::ClusterEvent;
use kubesim::sim::Outcome;
use kubesim::traffic::request::FailReason;

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

/// The instants of the events with `reason` on `object`.
fn times(o: &Outcome, reason: &str, object: &str) -> Vec<f64> {
    o.events
        .iter()
        .filter(|e| e.reason == reason && e.object == object)
        .map(|e| secs(e.at))
        .collect()
}

fn find<'a>(o: &'a Outcome, reason: &str) -> Vec<&'a ClusterEvent> {
    o.events.iter().filter(|e| e.reason == reason).collect()
}

/// The seed scenario with `events` appended to its Scenario document and `edit` applied.
fn seed_with_events(events: &str, edit: impl Fn(String) -> String) -> Outcome {
    let text = scenario_text("seed-tutorial.yaml");
    let text = text.replacen("---\n", &format!("  events:\n{events}---\n"), 1);
    run(&load_text(&edit(text)))
}

#[test]
fn a_lost_node_turns_not_ready_then_its_pods_are_replaced_elsewhere() {
    let loaded = load(&root().join("scenarios/node-failure.yaml"));
    let before = kubesim::sim::Simulation::new(loaded.scenario.clone())
        .unwrap()
        .service_outcomes();
    let o = run(&loaded);
    let down = 60.0;
    let not_ready = times(&o, "NodeNotReady", "node/node-3");
    assert_eq!(not_ready.len(), 1);
    let after = not_ready[0] - down;
    assert!(
        (40.0..=55.0).contains(&after),
        "NotReady {after} s after the node died"
    );

    let victim = scenario_pods(&o)
        .find(|p| p.node.as_deref() == Some("node-3"))
        .unwrap();
    let evicted = times(&o, "TaintManagerEviction", &format!("pod/{}", victim.name));
    assert_eq!(evicted.len(), 1);
    assert!(
        (340.0..=355.0).contains(&(evicted[0] - down)),
        "evicted {} s after",
        evicted[0] - down
    );
    assert_eq!(
        victim.status, "Terminating",
        "stays Terminating while the node is away"
    );

    let replacement = scenario_pods(&o)
        .find(|p| secs(p.created) == evicted[0])
        .expect("a replacement at once");
    assert_ne!(replacement.name, victim.name);
    assert_ne!(replacement.ip, victim.ip);
    assert_ne!(replacement.node.as_deref(), Some("node-3"));
    assert_eq!(replacement.status, "Running");
    assert!(replacement.served > 0);

    // The Service never changes: same ClusterIP, same nodePort.
    let http = |s: &[kubesim::sim::outcome::ServiceOutcome]| {
        s.iter().find(|s| s.name == "http-svc").unwrap().clone()
    };
    assert_eq!(http(&before).cluster_ip, http(&o.services).cluster_ip);
    assert_eq!(http(&before).ports, http(&o.services).ports);
    // Connections sent to the dead pod before it left the endpoints timed out.
    let timeouts = o.requests.failed_with(FailReason::Timeout);
    assert!(timeouts > 500, "{:?}", o.requests.failed_by_reason);
    assert_eq!(o.requests.failed, timeouts);
    assert_eq!(
        o.requests.sent,
        o.requests.served + o.requests.failed + o.requests.in_flight
    );
}

#[test]
fn a_crash_loop_backs_off_10_20_40_up_to_300_seconds_and_keeps_the_pod() {
    let o = run(&load(&root().join("scenarios/crash-loop.yaml")));
    let pod = scenario_pods(&o)
        .find(|p| p.owner.as_deref() == Some("broken"))
        .unwrap();
    assert_eq!(
        scenario_pods(&o)
            .filter(|p| p.owner.as_deref() == Some("broken"))
            .count(),
        1,
        "the same pod restarts"
    );
    let started = times(&o, "Started", &format!("pod/{}", pod.name));
    // The process exits 2 s after each start; the gap to the next start is the back-off.
    let gaps: Vec<f64> = started.windows(2).map(|w| w[1] - (w[0] + 2.0)).collect();
    assert_eq!(
        gaps,
        [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0],
        "started at {started:?}"
    );
    assert_eq!(pod.restarts as usize, started.len() - 1);
    assert_eq!(pod.status, "CrashLoopBackOff");
    assert!(pod.ip.is_some());
    assert!(find(&o, "BackOff").iter().all(|e| e
        .message
        .starts_with("Back-off restarting failed container web in pod broken-")));
}

/// Issue 14, item 13: `BackOff` is reported at each pod sync while the container backs off
/// (the pod worker retries a failed sync 10 to 15 s later; kubesim every 12.5 s), not once per
/// crash: within each back-off of `crash-loop.yaml`, one `BackOff` at the exit and one per
/// 12.5 s until the restart.
#[test]
fn back_off_is_reported_at_each_pod_sync_while_backing_off() {
    let o = run(&load(&root().join("scenarios/crash-loop.yaml")));
    let pod = scenario_pods(&o)
        .find(|p| p.owner.as_deref() == Some("broken"))
        .unwrap();
    let object = format!("pod/{}", pod.name);
    let started = times(&o, "Started", &object);
    let backoffs = times(&o, "BackOff", &object);
    for w in started.windows(2) {
        let (exit, restart) = (w[0] + 2.0, w[1]);
        let within: Vec<f64> = backoffs
            .iter()
            .copied()
            .filter(|t| *t >= exit && *t < restart)
            .collect();
        let expected: Vec<f64> = if restart == exit {
            vec![]
        } else {
            (0..)
                .map(|k| exit + 12.5 * k as f64)
                .take_while(|t| *t < restart)
                .collect()
        };
        assert_eq!(within, expected, "exit {exit}, restart {restart}");
    }
    // A 300 s back-off alone gives 24 of them.
    assert!(backoffs.len() > 30, "{backoffs:?}");
}

/// Issue 14, item 13: the `Pulled` event of a pull ends with the image size, as 1.34 words it.
#[test]
fn the_pulled_event_gives_the_image_size() {
    let o = run(&load(&root().join("scenarios/rolling-update.yaml")));
    let pulled: Vec<&ClusterEvent> = find(&o, "Pulled")
        .into_iter()
        .filter(|e| e.message.starts_with("Successfully pulled image"))
        .collect();
    assert!(!pulled.is_empty(), "{:?}", find(&o, "Pulled"));
    for e in pulled {
        assert!(
            e.message
                .ends_with("including waiting). Image size: 52428800 bytes."),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_replacement_pod_never_reuses_the_address_just_freed() {
    let o = seed_with_events(
        "    - at: 20s\n      deletePod: {selector: app=http-label, pick: oldest}\n",
        |s| s,
    );
    let ips: Vec<String> = scenario_pods(&o)
        .map(|p| p.ip.unwrap().to_string())
        .collect();
    assert_eq!(
        ips,
        // After the CoreDNS add-on's .2 and .3.
        ["10.244.0.4", "10.244.0.5", "10.244.0.6", "10.244.0.7"]
    );
    assert!(scenario_pods(&o).next().unwrap().deleted.is_some());
    assert_eq!(secs(scenario_pods(&o).nth(3).unwrap().created), 20.0);
}

/// The index in `o.pods` (and the timeline's rows) of the scenario's first pod, the CoreDNS
/// add-on's left out.
fn oldest_scenario_pod(o: &Outcome) -> usize {
    o.pods
        .iter()
        .position(|p| p.namespace != "kube-system")
        .unwrap()
}

/// Requests served by pod `i` in buckets that start at or after `from` seconds.
fn served_after(o: &Outcome, i: usize, from: f64) -> u64 {
    let b = o.timeline.bucket.as_secs_f64();
    o.timeline
        .served
        .iter()
        .enumerate()
        .filter(|(k, _)| *k as f64 * b >= from)
        .map(|(_, row)| row[i])
        .sum()
}

#[test]
fn a_deleted_pods_requests_stop_within_the_propagation_delay() {
    let event = "    - at: 30s\n      deletePod: {selector: app=http-label, pick: oldest}\n";
    // No delay: the rules change at the deletion; nothing is refused.
    let o = seed_with_events(event, |s| {
        s.replace(
            "  cluster:\n",
            "  cluster:\n    kubeProxy: {minSyncPeriod: 0s}\n",
        )
    });
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests.failed_by_reason);
    assert_eq!(served_after(&o, oldest_scenario_pod(&o), 31.0), 0);
    // A 3 s delay before the EndpointSlice changes: for 3 s new connections still go to the
    // old pod, which is gone (idle, it stopped at once): nobody answers ARP for its address,
    // and each fails `no_route` 3 s after it was sent; then none.
    let o = seed_with_events(event, |s| {
        s.replace(
            "  cluster:\n",
            "  cluster:\n    endpointSliceBatchPeriod: 3s\n",
        )
    });
    let unanswered = o.requests.failed_with(FailReason::NoRoute)
        + o.requests.failed_with(FailReason::ConnectionRefused);
    assert!(
        (700..=1300).contains(&unanswered),
        "a third of 3 s at 1000/s: {:?}",
        o.requests
    );
    let b = o.timeline.bucket.as_secs_f64();
    for (k, failed) in o.timeline.failed.iter().enumerate() {
        let t = k as f64 * b;
        assert!(
            *failed == 0 || (30.0..36.0).contains(&t),
            "{failed} failed in the bucket at {t} s"
        );
    }
    assert_eq!(served_after(&o, oldest_scenario_pod(&o), 31.0), 0);
}

#[test]
fn scale_down_deletes_the_pod_upstream_ranks_first() {
    // On one node, the pod whose container restarted at 90 s has been ready for less time
    // (and has more restarts): it goes first.
    let o = seed_with_events(
        "    - at: 90s\n      killContainer: {selector: app=http-label, pick: newest}\n    - at: 100s\n      scale: {deployment: http-deployment, replicas: 2}\n",
        |s| s.replace("duration: 70s", "duration: 120s"),
    );
    let deleted: Vec<&str> = scenario_pods(&o)
        .filter(|p| p.deleted.is_some())
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        deleted,
        [scenario_pods(&o).nth(2).unwrap().name.as_str()],
        "the restarted pod"
    );
    assert_eq!(scenario_pods(&o).nth(2).unwrap().restarts, 1);

    // On two nodes, the pod that shares its node with another replica goes first.
    let two_nodes = |s: String| {
        s.replace(
            "        images: [aspnetcoreweb]        # built locally with `docker build`, never pushed\n",
            "        images: [aspnetcoreweb]\n      - {name: node-2, ip: 192.168.0.25, images: [aspnetcoreweb]}\n",
        )
    };
    let o = seed_with_events(
        "    - at: 30s\n      scale: {deployment: http-deployment, replicas: 2}\n",
        two_nodes,
    );
    let victim = scenario_pods(&o).find(|p| p.deleted.is_some()).unwrap();
    let on_its_node = scenario_pods(&o).filter(|p| p.node == victim.node).count();
    assert_eq!(on_its_node, 2, "the victim was doubled up");
    assert!(find(&o, "SuccessfulDelete")
        .iter()
        .any(|e| e.message == format!("Deleted pod: {}", victim.name)));
}

#[test]
fn an_untagged_local_image_without_a_policy_fails_to_pull_until_if_not_present() {
    let o = run(&load(&root().join("scenarios/local-image-pull.yaml")));
    let first: Vec<_> = scenario_pods(&o).take(3).collect();
    for p in &first {
        let object = format!("pod/{}", p.name);
        let reasons: Vec<&str> = o
            .events
            .iter()
            .filter(|e| e.object == object)
            .map(|e| e.message.as_str())
            .collect();
        assert!(reasons.contains(&"Error: ErrImagePull"), "{reasons:?}");
        assert!(reasons.contains(&"Error: ImagePullBackOff"), "{reasons:?}");
        assert!(p.deleted.is_some(), "replaced by the fixed rollout");
    }
    // Until the fix, the Service has no endpoints: every visit is refused at once.
    let b = o.timeline.bucket.as_secs_f64();
    let served_before: u64 = o
        .timeline
        .served
        .iter()
        .enumerate()
        .filter(|(k, _)| (*k as f64) * b < 60.0)
        .map(|(_, r)| r.iter().sum::<u64>())
        .sum();
    assert_eq!(served_before, 0);
    assert_eq!(
        o.requests.failed_by_reason.get("connection_refused"),
        Some(&o.requests.failed)
    );
    assert!(o.requests.failed > 5_000);
    // After it, the pods run from the node's own copy and every visit is served.
    let failed_after: u64 = o
        .timeline
        .failed
        .iter()
        .enumerate()
        .filter(|(k, _)| (*k as f64) * b >= 62.0)
        .map(|(_, f)| f)
        .sum();
    assert_eq!(failed_after, 0);
    let running: Vec<_> = scenario_pods(&o)
        .filter(|p| p.status == "Running")
        .collect();
    assert_eq!(running.len(), 3);
    assert!(o
        .events
        .iter()
        .any(|e| e.message == "Container image \"aspnetcoreweb\" already present on machine"));
}

#[test]
fn a_container_that_ran_ten_minutes_restarts_without_back_off() {
    let text = scenario_text("crash-loop.yaml")
        .replace("exitAfter: 2s", "exitAfter: 610s")
        .replace("duration: 15m", "duration: 40m");
    let o = run(&load_text(&text));
    let pod = scenario_pods(&o)
        .find(|p| p.owner.as_deref() == Some("broken"))
        .unwrap();
    let started = times(&o, "Started", &format!("pod/{}", pod.name));
    let gaps: Vec<f64> = started.windows(2).map(|w| w[1] - (w[0] + 610.0)).collect();
    assert_eq!(
        gaps,
        [0.0, 0.0, 0.0],
        "the back-off resets after 600 s of running: {started:?}"
    );
    assert!(find(&o, "BackOff").is_empty());
}

/// Regression: a scale-down of several pods logged each deletion more than once.
#[test]
fn scaling_down_by_three_deletes_and_logs_three_pods_once() {
    let o = run(&load(&root().join("scenarios/scale-up-down.yaml")));
    let deleted: Vec<&str> = find(&o, "SuccessfulDelete")
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = deleted.iter().copied().collect();
    assert_eq!(deleted.len(), 3, "{deleted:?}");
    assert_eq!(unique.len(), 3, "{deleted:?}");
    assert_eq!(scenario_pods(&o).filter(|p| p.deleted.is_none()).count(), 2);
}

/// Regression: a client pod that went away shifted the other clients' indices, which made a
/// kept-alive stream panic or lose its waiting requests.
#[test]
fn a_client_pod_going_away_keeps_every_request_counted() {
    let text = scenario_text("in-cluster-client.yaml")
        .replace("{distribution: exponential, mean: 5ms}", "{distribution: exponential, mean: 500ms}")
        .replace("      start: 10s\n", "      start: 10s\n      timeout: 2s\n      connections: {reuse: true}\n  events:\n    - at: 30s\n      deletePod: {selector: app=client, pick: oldest}\n");
    let o = run(&load_text(&text));
    assert_eq!(
        o.requests.sent,
        o.requests.served + o.requests.failed + o.requests.in_flight
    );
    assert!(o.requests.served > 0);
}

/// Regression: a back-off restart that was due while the node was down started the container
/// a second time after the node came back.
#[test]
fn a_node_reboot_during_a_crash_loop_starts_the_container_once() {
    let text = scenario_text("crash-loop.yaml")
        .replace("exitAfter: 2s", "exitAfter: 20s")
        .replace("duration: 15m", "duration: 90s")
        .replace("      start: 5s\n", "      start: 5s\n  events:\n    - {at: 42s, nodeDown: {node: docker-desktop}}\n    - {at: 45s, nodeUp: {node: docker-desktop}}\n");
    let o = run(&load_text(&text));
    let pod = scenario_pods(&o)
        .find(|p| p.owner.as_deref() == Some("broken"))
        .unwrap();
    let started = times(&o, "Started", &format!("pod/{}", pod.name));
    // Started at 1 s, exit at 21 s and an immediate restart, exit at 41 s and a 10 s back-off
    // (due at 51 s) cut short by the reboot: one start at 46 s, and no second one at 51 s; the
    // exit at 66 s then waits the next back-off step, 20 s.
    assert_eq!(started, [1.0, 21.0, 46.0, 86.0], "{started:?}");
    assert_eq!(
        o.requests.sent,
        o.requests.served + o.requests.failed + o.requests.in_flight
    );
}

/// One node, two pods of `srv` (one request at a time, 100 ms each: 10 requests/s per pod)
/// with `probe` under the container, fed `rate` requests/s from 5 s to 20 s; `behavior` is
/// added to the behaviour (e.g. a queue limit).
fn probed(probe: &str, rate: u32, behavior: &str) -> Outcome {
    run(&load_text(&probed_text(probe, rate, behavior)))
}

/// The scenario text of [`probed`].
fn probed_text(probe: &str, rate: u32, behavior: &str) -> String {
    format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: probes}}
spec:
  seed: 3
  duration: 40s
  cluster:
    nodes: [{{name: node-1, ip: 192.168.0.24}}]
  behaviors:
    - image: srv
      serviceTime: {{distribution: constant, value: 100ms}}
      concurrency: 1
{behavior}
  traffic:
    - {{name: s, from: external, clients: 20, to: 192.168.0.24:30080, rate: {rate}/s, start: 5s, stop: 20s, timeout: 1h}}
{app}"#,
        app = srv_app(2, probe)
    )
}

const READINESS: &str = "          readinessProbe:\n            httpGet: {path: /healthz, port: 8080}\n            periodSeconds: 2\n            timeoutSeconds: 1";

/// An HTTP probe is a request to the container's server: under three times the load the
/// pods can serve, it waits in the queue past its `timeoutSeconds`, so the pods turn not
/// ready and the Service refuses; after the load they are ready again. At a tenth of that
/// load nothing fails.
#[test]
fn an_overloaded_server_fails_its_http_readiness_probe() {
    let o = probed(READINESS, 60, "");
    let unhealthy = find(&o, "Unhealthy");
    assert!(!unhealthy.is_empty());
    assert!(
        unhealthy.iter().all(|e| e.message.starts_with("Readiness probe failed: Get \"http://10.244.0.")
            && e.message.ends_with(":8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")),
        "{unhealthy:?}"
    );
    let first = unhealthy
        .iter()
        .map(|e| secs(e.at))
        .fold(f64::MAX, f64::min);
    assert!(first > 5.0 && first < 20.0, "first failure at {first} s");
    // Three failures in a row (the default threshold) and the Service has no endpoint left.
    let refused = o.requests.failed_with(FailReason::ConnectionRefused);
    assert!(refused > 0, "{:?}", o.requests);
    // The load stops at 20 s and the queues drain: the probes pass again well before the
    // end (40 s; one every 2 s would fail to the end otherwise).
    let last = unhealthy.iter().map(|e| secs(e.at)).fold(0.0, f64::max);
    assert!(last > 20.0 && last < 34.0, "last failure at {last} s");

    let calm = probed(READINESS, 6, "");
    assert!(find(&calm, "Unhealthy").is_empty());
    assert_eq!(calm.requests.failed, 0, "{:?}", calm.requests);
}

/// A probe on a named port (`port: http`) is reported with the port's number, as the kubelet
/// resolves the name against the container's ports before it dials.
#[test]
fn a_probe_on_a_named_port_reports_its_number() {
    let named = READINESS.replace("port: 8080}", "port: http}");
    let text = probed_text(&named, 60, "").replace(
        "ports: [{containerPort: 8080}]",
        "ports: [{name: http, containerPort: 8080}]",
    );
    assert!(text.contains("port: http}") && text.contains("name: http, containerPort: 8080"));
    let o = run(&load_text(&text));
    let unhealthy = find(&o, "Unhealthy");
    assert!(!unhealthy.is_empty());
    assert!(
        unhealthy.iter().all(|e| e
            .message
            .starts_with("Readiness probe failed: Get \"http://10.244.0.")
            && e.message.contains(":8080/healthz\": ")),
        "{unhealthy:?}"
    );
}

/// With a queue limit the server answers a probe it has no room for with 503 at once, and
/// the kubelet says so; an overloaded liveness probe restarts the container.
#[test]
fn a_full_queue_answers_probes_with_503_and_liveness_restarts() {
    let o = probed(READINESS, 60, "      queueLimit: 2");
    let unhealthy = find(&o, "Unhealthy");
    assert!(
        unhealthy
            .iter()
            .any(|e| e.message == "Readiness probe failed: HTTP probe failed with statuscode: 503"),
        "{unhealthy:?}"
    );

    let liveness = READINESS.replace("readinessProbe", "livenessProbe");
    let o = probed(&liveness, 60, "");
    let killing = find(&o, "Killing");
    assert!(
        killing
            .iter()
            .any(|e| e.message == "Container srv failed liveness probe, will be restarted"),
        "{killing:?}"
    );
    assert!(scenario_pods(&o).any(|p| p.restarts > 0), "{:?}", o.pods);
}

/// A `preStop` hook keeps a terminating pod serving while the nodes catch up: the rollout
/// restart in `rolling-update.yaml` that refuses connections without one refuses none with a
/// 5 s sleep, written as the `sleep` action or as `sh -c "sleep 5"`. The rollout does not
/// wait for the hooks: a terminating pod does not count against `maxSurge`.
#[test]
fn a_pre_stop_sleep_keeps_a_rollout_from_refusing_connections() {
    let text = scenario_text("rolling-update.yaml");
    let probe = "          periodSeconds: 2\n";
    let with_hook = |hook: &str| {
        let t = text.replacen(
            probe,
            &format!("{probe}        lifecycle:\n          preStop:\n            {hook}\n"),
            1,
        );
        assert_ne!(t, text, "the hook was not inserted");
        run(&load_text(&t))
    };
    // Connections that reach an old pod after it stopped listening: refused while its sandbox
    // is there, `no_route` once it is gone.
    let refused = |o: &Outcome| {
        o.requests.failed_with(FailReason::ConnectionRefused)
            + o.requests.failed_with(FailReason::NoRoute)
    };
    let plain = run(&load_text(&text));
    assert!(refused(&plain) > 100, "{:?}", plain.requests);
    for hook in [
        "sleep: {seconds: 5}",
        "exec: {command: [\"/bin/sh\", \"-c\", \"sleep 5\"]}",
    ] {
        let o = with_hook(hook);
        assert_eq!(refused(&o), 0, "{hook}: {:?}", o.requests);
        // All six old pods were deleted, in as many steps as without the hook, and the
        // rollout restart at 60 s is over within 10 s (it does not wait for the hooks).
        let deleted: Vec<f64> = scenario_pods(&o)
            .filter_map(|p| p.deleted.map(secs))
            .collect();
        assert_eq!(deleted.len(), 6, "{:?}", o.pods);
        let scaled_up = |o: &Outcome| times(o, "ScalingReplicaSet", "deployment/http-deployment");
        assert_eq!(scaled_up(&o).len(), scaled_up(&plain).len());
        assert!(scaled_up(&o).last() < Some(&70.0), "{:?}", scaled_up(&o));
    }
}

/// `probe-overload.yaml` as its header tells it: under the spike the liveness probe restarts
/// every container at once and what they held is reset; the readiness probe alone refuses
/// instead; without probes nothing fails.
#[test]
fn probe_overload_trades_latency_for_errors() {
    let text = scenario_text("probe-overload.yaml");
    let without = |probe: &str| {
        let i = text
            .find(&format!("        {probe}:"))
            .expect("the probe is in the scenario");
        let j = i + text[i..].find("---").expect("a document follows");
        format!("{}{}", &text[..i], &text[j..])
    };

    let both = run(&load_text(&text));
    let killed: Vec<&ClusterEvent> = find(&both, "Killing");
    assert_eq!(killed.len(), 3, "{killed:?}");
    assert!(killed.iter().all(|e| (20.0..40.0).contains(&secs(e.at))));
    assert!(
        both.requests.failed_with(FailReason::ConnectionReset) > 5_000,
        "{:?}",
        both.requests
    );

    let readiness_only = run(&load_text(&without("livenessProbe")));
    assert!(find(&readiness_only, "Killing").is_empty());
    let requests = &readiness_only.requests;
    assert_eq!(requests.failed_with(FailReason::ConnectionReset), 0);
    assert!(requests.failed_with(FailReason::ConnectionRefused) > 5_000);

    let none = run(&load_text(&without("readinessProbe")));
    assert_eq!(none.requests.failed, 0, "{:?}", none.requests);
}

/// Issue 14, item 6: a connection the rules still send to a pod that is gone (deleted, its
/// containers stopped, its sandbox and address released) is not refused at once: nobody
/// answers ARP for the address, and the client gets "No route to host" when neighbour
/// resolution fails, about 3 s later (`net::neigh`). Two deletions half a second apart: the
/// second waits for kube-proxy's minSyncPeriod (1 s) while its pod, idle, is gone at once.
/// Before the fix these were `connection_refused`.
#[test]
fn a_connection_to_a_vanished_pod_fails_with_no_route_after_neighbour_resolution() {
    let events = "    - at: 20s\n      deletePod: {selector: app=http-label, pick: oldest}\n    - at: 20.5s\n      deletePod: {selector: app=http-label, pick: oldest}\n";
    let o = seed_with_events(events, |s| {
        s.replace(
            "      serviceTime: {distribution: exponential, mean: 5ms}\n",
            "",
        )
    });
    let reasons = &o.requests.failed_by_reason;
    let no_route = reasons.get("no_route").copied().unwrap_or(0);
    let refused = reasons.get("connection_refused").copied().unwrap_or(0);
    // A SYN that reaches the pod in the instant it stops, before its sandbox goes, is reset.
    assert!(no_route > 50 && refused * 20 < no_route, "{reasons:?}");
    // Each fails 3 s after it was sent: before 23 s only the resets are counted.
    let tl = &o.timeline;
    let b = tl.bucket.as_secs_f64();
    let early: u64 = (0..tl.failed.len())
        .filter(|&k| (k as f64 + 1.0) * b <= 23.0)
        .map(|k| tl.failed[k])
        .sum();
    assert_eq!(early, refused, "{:?}", tl.failed);
}
