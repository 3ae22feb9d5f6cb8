//! Sizes taken from input (issue 12): each of the reproducers gives exit 0 with the
//! right result or exit 2 with a message at the key's file, line and column that names the
//! bound, promptly, and never aborts or allocates gigabytes. Also the work estimate and
//! `--force`, quantities and sweep ranges that overflow, the warnings for timeline events and
//! behaviours that change nothing, and pod-range exhaustion at its line.

use crate::util::*;
use kubesim::scenario;
use kubesim::sim::Simulation;
use std::path::Path;

/// Writes a variant of the seed scenario into `dir` and returns its path.
fn seed_variant(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let path = dir.join("scenario.yaml");
    let text = edit(scenario_text("seed-tutorial.yaml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The 1-based line of the first line of `path` containing `needle`.
fn line_of(path: &str, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} in {path}"))
        + 1
}

/// Runs `kubesim check FILE` in `dir`: exit 2, and stderr starts with `FILE:LINE:COL: error:`
/// then holds `want`. Returns stderr.
fn refused(dir: &Path, args: &[&str], at: (usize, usize), want: &str) -> String {
    let o = kubesim(dir, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    let file = args[1];
    let head = format!("{file}:{}:{}: error: ", at.0, at.1);
    assert!(
        err.lines()
            .any(|l| l.starts_with(&head) && l.contains(want)),
        "{args:?}: want a line starting {head:?} with {want:?}, got:\n{err}"
    );
    err
}

#[test]
fn replicas_of_int32_max_are_refused_at_their_line() {
    let dir = temp_dir("hostile-replicas");
    let file = seed_variant(&dir, |s| {
        s.replace("replicas: 3 #", "replicas: 2147483647 #")
    });
    let line = line_of(&file, "replicas: 2147483647");
    refused(
        &dir,
        &["check", &file],
        (line, 3),
        "spec.replicas: Invalid value: 2147483647: must be less than or equal to 300000, kubesim's bound",
    );
}

/// `replicas: 12000` is valid: the node holds 110 pods (its `maxPods`), the rest stay
/// Pending, as upstream's scheduler leaves them.
#[test]
fn twelve_thousand_replicas_run_and_the_pods_that_do_not_fit_stay_pending() {
    let text = scenario_text("seed-tutorial.yaml")
        .replace("replicas: 3 #", "replicas: 12000 #")
        .replace("duration: 70s", "duration: 2s");
    let loaded = load_text(&text);
    let outcome = run(&loaded);
    assert_eq!(scenario_pods(&outcome).count(), 12000);
    let pending = scenario_pods(&outcome)
        .filter(|p| p.status == "Pending")
        .count();
    // The node's 110 pods: the CoreDNS add-on's 2 and 108 replicas.
    let addon = kubesim::sim::addons::COREDNS_REPLICAS as usize;
    assert_eq!(pending, 12000 - (110 - addon));
}

#[test]
fn sixty_thousand_nodes_are_refused_at_the_nodes_key() {
    let dir = temp_dir("hostile-nodes");
    let nodes: String = (0..60_000)
        .map(|i| {
            format!(
                "      - {{name: n{i}, ip: 10.{}.{}.{}}}\n",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )
        })
        .collect();
    let file = seed_variant(&dir, |s| {
        s.replace("    nodes:\n", &format!("    nodes:\n{nodes}"))
    });
    let line = line_of(&file, "    nodes:");
    refused(
        &dir,
        &["check", &file],
        (line, 5),
        "spec.cluster.nodes: 60001 nodes: more than 10000, kubesim's bound",
    );
}

/// `loadBalancerIPs: 0.0.0.0/0` enumerated 2^32 addresses; now the pool holds what is in use.
#[test]
fn a_load_balancer_pool_of_every_address_is_never_enumerated() {
    let text = scenario_text("seed-tutorial.yaml")
        .replace(
            "    nodes:\n",
            "    loadBalancerIPs: 0.0.0.0/0\n    nodes:\n",
        )
        .replace("type: NodePort", "type: LoadBalancer");
    let sim = Simulation::new(load_text(&text).scenario).unwrap();
    let svc = sim
        .services()
        .iter()
        .find(|s| s.obj.meta.name == "http-svc")
        .unwrap();
    assert_eq!(svc.load_balancer_ip, Some([0, 0, 0, 1].into()));
}

#[test]
fn clients_users_and_concurrency_beyond_their_bounds_are_refused_at_their_lines() {
    let dir = temp_dir("hostile-counts");
    for (from, to, key, want) in [
        (
            "      clients: 50",
            "      clients: 4294967295",
            "clients:",
            "spec.traffic[0].clients: invalid value 4294967295: more than 1000000, kubesim's bound",
        ),
        (
            "      clients: 50",
            "      users: 100000000",
            "users:",
            "spec.traffic[0].users: invalid value 100000000: more than 1000000, kubesim's bound",
        ),
        (
            "      concurrency: 4",
            "      concurrency: 4294967295",
            "concurrency:",
            "spec.behaviors[0].concurrency: invalid value 4294967295: more than 100000, kubesim's bound",
        ),
        (
            "      rate: 1000/s",
            "      rate: 1e18/s",
            "rate:",
            "spec.traffic[0].rate: rate \"1e18/s\": more than 100000000/s, kubesim's bound",
        ),
        (
            "  duration: 70s",
            "  duration: 1000000000s",
            "duration:",
            "spec.duration: duration \"1000000000s\": more than 8760h (a year), kubesim's bound",
        ),
    ] {
        let file = seed_variant(&dir, |s| s.replace(from, to));
        let line = line_of(&file, key);
        let col = to.find(|c: char| c != ' ').unwrap() + 1;
        refused(&dir, &["run", &file, "--out", "out"], (line, col), want);
        assert!(!dir.join("out").exists(), "{to}: nothing written");
    }
}

/// A run estimated beyond an hour of one core is refused at its stream's `rate`, with the
/// estimate and the flag; `check` says so and passes; `--force` (not run here: it would take
/// hours) is named; `rules` to an early instant is within the estimate.
#[test]
fn a_run_estimated_beyond_an_hour_is_refused_with_the_estimate_and_the_flag() {
    let dir = temp_dir("hostile-estimate");
    let file = seed_variant(&dir, |s| s.replace("  duration: 70s", "  duration: 8000h"));
    let line = line_of(&file, "rate: 1000/s");
    let err = refused(
        &dir,
        &["run", &file, "--out", "out"],
        (line, 7),
        "spec.traffic[0].rate: the run would do 28,805,758,000 requests' worth of work, about 1.6 hours of one core at 5,000,000 requests/s; the largest part is stream \"visitors\": 1,000/s for 7999h59m55s = 28,799,995,000 requests",
    );
    assert!(err.contains("pass --force to run it anyway"), "{err}");
    assert!(!dir.join("out").exists());
    let o = kubesim(&dir, &["check", &file]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("warning: spec.traffic[0].rate: the run would do"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("`run` and `sweep` refuse it unless given --force"));
    let o = kubesim(&dir, &["rules", &file, "--at", "10m"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A sweep refuses such a cell too.
    refused(
        &dir,
        &[
            "sweep",
            &file,
            "--set",
            "deployment/http-deployment.replicas=1,2",
        ],
        (line, 7),
        "spec.traffic[0].rate: the cell's run would do",
    );
}

/// Closed-loop users with no think time and no network latency could loop without time
/// passing: the estimate is unbounded, and the run is refused.
#[test]
fn a_closed_loop_that_cannot_advance_time_is_refused() {
    let text = scenario_text("seed-tutorial.yaml")
        .replace("      clients: 50\n", "      users: 10\n")
        .replace("      rate: 1000/s\n", "")
        .replace("  cluster:\n", "  cluster:\n    network: {external: 0s}\n");
    let loaded = load_text(&text);
    let d = loaded.estimate.refusal("the run").expect("refused");
    assert!(d.message.contains("unbounded"), "{}", d.message);
}

/// Servers far behind their arrivals would hold requests without end: the run stops at the
/// bound on requests in flight (lowered here to keep the test small) and says so.
#[test]
fn a_run_whose_queues_grow_without_end_stops_at_the_bound() {
    let text = scenario_text("seed-tutorial.yaml").replace("rate: 1000/s", "rate: 100000/s");
    let loaded = load_text(&text);
    let mut sim = Simulation::new(loaded.scenario.clone()).unwrap();
    sim.set_in_flight_bound(20_000);
    let e = sim.run_checked().expect_err("stopped");
    assert!((19_000..=20_100).contains(&e.in_flight), "{}", e.in_flight);
    let d = scenario::estimate::overloaded(&loaded.estimate, e.at, e.in_flight, "test.yaml");
    assert!(
        d.message
            .starts_with("spec.traffic[0].rate: the run stopped at"),
        "{}",
        d.message
    );
    // The same scenario at its own rate runs to its end.
    let ok = Simulation::new(load_text(&scenario_text("seed-tutorial.yaml")).scenario).unwrap();
    assert!(ok.run_checked().is_ok());
}

#[test]
fn a_sweep_of_a_million_cells_is_refused() {
    let dir = temp_dir("hostile-sweep");
    let file = seed_variant(&dir, |s| s);
    let o = kubesim(
        &dir,
        &[
            "sweep",
            &file,
            "--set",
            "deployment/http-deployment.replicas=1..1000",
            "--set",
            "traffic/visitors.rate=1..1000",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "error: --set: the grid has 1,000,000 cells (1000 x 1000): more than 100000 (kubesim's bound on a sweep)"
    );
}

/// `0..18446744073709551615` gave 0 cells and exit 0 (its count wrapped round).
#[test]
fn a_sweep_range_past_the_bound_is_an_error_not_an_empty_sweep() {
    let dir = temp_dir("hostile-range");
    let file = seed_variant(&dir, |s| s);
    let o = kubesim(
        &dir,
        &[
            "sweep",
            &file,
            "--set",
            "deployment/http-deployment.replicas=0..18446744073709551615",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("more than 10000 values (kubesim's bound on one axis)"),
        "{}",
        stderr(&o)
    );
}

/// A cpu request of 18446744073709552 cores is 2^63-1 millicores (upstream's accessors
/// saturate there), not a wrapped-around 384m: the pod does not fit a 4-core node.
#[test]
fn an_overflowing_cpu_request_does_not_fit_instead_of_wrapping() {
    let text = scenario_text("seed-tutorial.yaml").replace(
        "        - containerPort: 80\n",
        "        - containerPort: 80\n        resources:\n          requests:\n            cpu: \"18446744073709552\"\n",
    );
    let outcome = run(&load_text(&text));
    assert!(scenario_pods(&outcome).all(|p| p.status == "Pending"));
    let e = outcome
        .events
        .iter()
        .find(|e| e.reason == "FailedScheduling")
        .unwrap();
    assert!(e.message.contains("1 Insufficient cpu"), "{}", e.message);
}

/// Other sizes of Kubernetes objects: a grace period past a year (an int64 of seconds that
/// wrapped round in nanoseconds), more containers than the bound.
#[test]
fn object_sizes_beyond_their_bounds_are_the_api_servers_kind_of_error() {
    let dir = temp_dir("hostile-objects");
    let file = seed_variant(&dir, |s| {
        s.replace(
            "      containers:\n",
            "      terminationGracePeriodSeconds: 9223372036854775807\n      containers:\n",
        )
    });
    let line = line_of(&file, "terminationGracePeriodSeconds");
    refused(
        &dir,
        &["check", &file],
        (line, 7),
        "spec.template.spec.terminationGracePeriodSeconds: Invalid value: 9223372036854775807: must be less than or equal to 31536000, kubesim's bound",
    );
    let containers: String = (0..101)
        .map(|i| format!("      - {{name: c{i}, image: aspnetcoreweb}}\n"))
        .collect();
    let file = seed_variant(&dir, |s| {
        s.replace(
            "      containers:\n",
            &format!("      containers:\n{containers}"),
        )
    });
    let line = line_of(&file, "      containers:");
    refused(
        &dir,
        &["check", &file],
        (line, 7),
        "spec.template.spec.containers: Too many: 102: must have at most 100 items, kubesim's bound",
    );
}

#[test]
fn more_timeline_events_than_the_bound_are_refused_at_the_events_key() {
    let dir = temp_dir("hostile-events");
    let events: String = (0..100_001)
        .map(|_| "    - {at: 1s, cordon: {node: docker-desktop}}\n")
        .collect();
    let file = seed_variant(&dir, |s| {
        s.replacen(
            "  traffic:\n",
            &format!("  events:\n{events}  traffic:\n"),
            1,
        )
    });
    let line = line_of(&file, "  events:");
    refused(
        &dir,
        &["check", &file],
        (line, 3),
        "spec.events: 100001 entries: more than 100000, kubesim's bound",
    );
}

/// A behaviour whose image no container runs, and timeline events no pod can answer, change
/// nothing: warnings at their lines when the scenario loads.
#[test]
fn behaviours_and_events_that_change_nothing_are_warned_of_at_their_lines() {
    let dir = temp_dir("hostile-noop");
    let file = seed_variant(&dir, |s| {
        s.replace("    - image: aspnetcoreweb\n", "    - image: aspnetcoreweb:2\n")
            .replacen(
                "  traffic:\n",
                "  events:\n    - at: 10s\n      deletePod: {selector: app=web}\n    - at: 11s\n      killContainer: {selector: app=http-label, container: sidecar}\n  traffic:\n",
                1,
            )
    });
    let o = kubesim(&dir, &["check", &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let image = line_of(&file, "- image: aspnetcoreweb:2");
    assert!(
        err.contains(&format!("{file}:{image}:7: warning: spec.behaviors[0].image: no container runs image \"aspnetcoreweb:2\" (the containers run aspnetcoreweb; a behaviour matches the image exactly as written): the behaviour changes nothing")),
        "{err}"
    );
    let delete = line_of(&file, "deletePod: {selector: app=web}");
    assert!(
        err.contains(&format!("{file}:{delete}:19: warning: spec.events[0].deletePod.selector: app=web matches the labels of no pod the scenario's objects make (pod labels: app=http-label): the event changes nothing")),
        "{err}"
    );
    let kill = line_of(&file, "container: sidecar");
    assert!(
        err.contains(&format!("{file}:{kill}:")) && err.contains("spec.events[1].killContainer.container: no pod app=http-label can pick has a container named \"sidecar\" (its containers: aspnetcoreweb)"),
        "{err}"
    );
}

/// What only the run can know (the pod named is gone by then, its container is not
/// running) is a `Warning` event in events.log, in `kubectl get events`' shape.
#[test]
fn a_timeline_event_that_finds_nothing_when_it_fires_is_a_warning_event() {
    let events = [
        "    - at: 5s\n      killContainer: {pod: solo}\n",
        "    - at: 5s\n      killContainer: {pod: solo}\n",
        "    - at: 6s\n      killContainer: {pod: solo}\n",
        "    - at: 6s\n      failProbe: {pod: solo, probe: liveness, for: 5s}\n",
        "    - at: 7s\n      killContainer: {pod: solo, container: nope}\n",
        "    - at: 10s\n      deletePod: {name: solo}\n",
        "    - at: 50s\n      deletePod: {name: solo}\n",
    ]
    .concat();
    let text = scenario_text("seed-tutorial.yaml")
        .replacen("  traffic:\n", &format!("  events:\n{events}  traffic:\n"), 1)
        + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: solo}\nspec:\n  containers: [{name: web, image: aspnetcoreweb}]\n";
    let loaded = load_text(&text);
    // Known when it loads: the pod has no liveness probe, nor a container `nope`.
    let w: Vec<&str> = loaded.warnings.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("spec.events[3].failProbe.probe: no container"),
        "{w:?}"
    );
    assert!(
        w[1].starts_with(
            "spec.events[4].killContainer.container: no pod solo can pick has a container named \"nope\""
        ),
        "{w:?}"
    );
    let outcome = run(&loaded);
    let warnings: Vec<String> = outcome
        .events
        .iter()
        .filter(|e| e.reason.starts_with("Failed") && e.object == "pod/solo")
        .map(|e| format!("{} {} {} {}", e.at, e.reason, e.object, e.message))
        .collect();
    // The second kill at 5 s finds the container restarted at once (the first restart is
    // immediate); the one at 6 s finds it waiting out its back-off.
    assert_eq!(
        warnings,
        [
            "6.000s FailedKillContainer pod/solo container \"web\" of pod \"solo\" is not running (waiting: CrashLoopBackOff); killContainer does nothing",
            "6.000s FailedFailProbe pod/solo no container of pod \"solo\" has a liveness probe; failProbe does nothing",
            "7.000s FailedKillContainer pod/solo container \"nope\" not found in pod \"solo\"; killContainer does nothing",
            "50.000s FailedDelete pod/solo Error from server (NotFound): pods \"solo\" not found",
        ]
    );
}

/// More nodes than the cluster CIDR has /24 ranges: an error at `clusterCIDR` when written,
/// at the first node left without a range when it is the default.
#[test]
fn pod_range_exhaustion_is_reported_at_the_cidrs_line() {
    let dir = temp_dir("hostile-cidr");
    let nodes: String = (0..3)
        .map(|i| format!("      - {{name: n{i}, ip: 10.9.0.{}}}\n", i + 1))
        .collect();
    let file = seed_variant(&dir, |s| {
        s.replace(
            "    nodes:\n",
            &format!("    clusterCIDR: 10.244.0.0/23\n    nodes:\n{nodes}"),
        )
    });
    let line = line_of(&file, "clusterCIDR:");
    refused(
        &dir,
        &["check", &file],
        (line, 5),
        "spec.cluster.clusterCIDR: 4 nodes need 4 /24 pod ranges, and clusterCIDR 10.244.0.0/23 holds 2: use a /22 or larger, such as 10.0.0.0/22",
    );
    let nodes: String = (0..256)
        .map(|i| {
            format!(
                "      - {{name: n{i}, ip: 10.{}.{}.1}}\n",
                9 + (i >> 8),
                i & 255
            )
        })
        .collect();
    let file = seed_variant(&dir, |s| {
        s.replace("    nodes:\n", &format!("    nodes:\n{nodes}"))
    });
    // The 257th node (index 256) is the scenario's own `docker-desktop`, after the 256 added.
    let line = line_of(&file, "- name: docker-desktop");
    refused(
        &dir,
        &["check", &file],
        (line, 9),
        "spec.cluster.nodes[256]: no pod range left for this node: 257 nodes need 257 /24 pod ranges, and clusterCIDR 10.244.0.0/16 holds 256 (the default)",
    );
    // A node that may hold more pods than its range has addresses, with that many pods.
    let file = seed_variant(&dir, |s| {
        s.replace(
            "        ip: 192.168.0.24\n",
            "        ip: 192.168.0.24\n        allocatable: {pods: 300, cpu: \"100\"}\n",
        )
        .replace("replicas: 3 #", "replicas: 300 #")
    });
    let o = kubesim(&dir, &["check", &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = line_of(&file, "allocatable: {pods: 300");
    assert!(
        stderr(&o).contains(&format!("{file}:{line}:23: warning: spec.cluster.nodes[0].allocatable.pods: node \"docker-desktop\" may hold 300 pods but its pod range 10.244.0.0/24 (a /24 of clusterCIDR 10.244.0.0/16) has 253 addresses for pods, and the objects make 300 pods")),
        "{}",
        stderr(&o)
    );
}
