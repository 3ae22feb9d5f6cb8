//! `kubesim explore`: it finds a fault that breaks an expectation, shrinks it to a minimal
//! timeline, writes a scenario that replays it; the same seed gives the same file; and the
//! faults it writes read back as the events it ran.

use crate::util::{kubesim, load_text, srv_app, stderr, temp_dir};
use kubesim::engine::SimDuration;
use kubesim::explore::{Fault, Targets, What};
use kubesim::model::objects::ProbeKind;
use kubesim::sim::config::Pick;

/// Two nodes, `srv` (3 pods with a readiness probe) behind NodePort 30080, an outside client
/// from 1 s, and `expect` lines under `spec`.
fn scenario(expect: &str) -> String {
    let probe = "          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}";
    format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: explore-test}}
spec:
  seed: 3
  duration: 30s
  cluster:
    nodes:
      - {{name: node-1, ip: 192.168.0.24}}
      - {{name: node-2, ip: 192.168.0.25}}
  behaviors:
    - image: srv
      serviceTime: {{distribution: exponential, mean: 2ms}}
      concurrency: 4
  traffic:
    - {{name: visitors, from: external, clients: 10, to: 192.168.0.24:30080, rate: 50/s, start: 1s}}
  expect:
{expect}{app}"#,
        app = srv_app(3, probe)
    )
}

const THREE_ENDPOINTS: &str =
    "    - {name: three endpoints, endpoints: {service: srv, min: 3}, from: 5s}\n";

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_deleted_pod_is_found_shrunk_to_one_fault_and_replayed() {
    let dir = temp_dir("explore-found");
    std::fs::write(dir.join("s.yaml"), scenario(THREE_ENDPOINTS)).unwrap();
    let args = [
        "explore",
        "s.yaml",
        "--faults",
        "deletePod,nodeDown",
        "--max-faults",
        "3",
        "--runs",
        "20",
        "--seed",
        "5",
        "--out",
        "found.yaml",
    ];
    let o = kubesim(&dir, &args);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("broke \"three endpoints\""), "{out}");
    // Shrunk: the first kind of the list (a deletion is enough), the oldest pod, one fault.
    assert!(out.contains("to 1:\n"), "{out}");
    assert!(
        out.contains("deletePod: the oldest pod with app=srv"),
        "{out}"
    );
    let written = std::fs::read_to_string(dir.join("found.yaml")).unwrap();
    assert!(
        written.starts_with("# Made by: kubesim explore s.yaml"),
        "{written}"
    );
    // The Deployment and Service documents are copied as written.
    assert!(written.contains(&srv_app(3, "").lines().nth(2).unwrap().to_string()));
    let loaded = load_text(&written);
    assert_eq!(loaded.scenario.name, "explore-test-minimal");
    assert_eq!(
        loaded.scenario.events.len(),
        1,
        "{:?}",
        loaded.scenario.events
    );
    let at = loaded.scenario.events[0].at;
    assert_eq!(at.as_nanos() % 1_000_000_000, 0, "a round instant: {at}");

    // `kubesim run` replays it: the expectation fails, exit 1.
    let r = kubesim(&dir, &["run", "found.yaml", "--out", "replay"]);
    let rout = stdout(&r);
    assert_eq!(r.status.code(), Some(1), "{rout}{}", stderr(&r));
    assert!(rout.contains("FAIL  three endpoints"), "{rout}");

    // The same seed, one thread: the same file, which explore may replace (it wrote it).
    let before = written.clone();
    let mut one_thread = args.to_vec();
    one_thread.extend(["-j", "1"]);
    let o2 = kubesim(&dir, &one_thread);
    assert_eq!(o2.status.code(), Some(1), "{}", stderr(&o2));
    assert_eq!(
        std::fs::read_to_string(dir.join("found.yaml")).unwrap(),
        before
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_timeline_within_the_runs_exits_0_and_writes_nothing() {
    let dir = temp_dir("explore-none");
    let expect = "    - {name: one endpoint, endpoints: {service: srv, min: 1}, from: 5s}\n";
    std::fs::write(dir.join("s.yaml"), scenario(expect)).unwrap();
    let o = kubesim(
        &dir,
        &[
            "explore",
            "s.yaml",
            "--faults",
            "deletePod",
            "--max-faults",
            "1",
            "--runs",
            "8",
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("no timeline broke an expectation in 8 runs"),
        "{out}"
    );
    assert!(!dir.join("output").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_expectation_broken_without_faults_is_reported_before_any_search() {
    let dir = temp_dir("explore-already");
    let expect = "    - {name: five endpoints, endpoints: {service: srv, min: 5}, from: 5s}\n";
    std::fs::write(dir.join("s.yaml"), scenario(expect)).unwrap();
    let o = kubesim(&dir, &["explore", "s.yaml", "--runs", "5"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("with no fault added"), "{out}");
    assert!(out.contains("FAIL  five endpoints"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2_and_a_file_explore_did_not_write_is_kept() {
    let dir = temp_dir("explore-bad");
    std::fs::write(dir.join("s.yaml"), scenario(THREE_ENDPOINTS)).unwrap();
    let o = kubesim(
        &dir,
        &["explore", "s.yaml", "--faults", "deletePod,nodeDwn"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown fault \"nodeDwn\""),
        "{}",
        stderr(&o)
    );

    std::fs::write(dir.join("mine.yaml"), "my notes\n").unwrap();
    let o = kubesim(
        &dir,
        &[
            "explore",
            "s.yaml",
            "--faults",
            "deletePod",
            "--runs",
            "10",
            "--out",
            "mine.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("kubesim explore did not write it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine.yaml")).unwrap(),
        "my notes\n"
    );

    let no_expect = scenario("").replace("  expect:\n", "");
    std::fs::write(dir.join("plain.yaml"), no_expect).unwrap();
    let o = kubesim(&dir, &["explore", "plain.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no expectations"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every kind of fault, written as `spec.events` entries and loaded back, is the events the
/// search ran: the replay is the run that broke the expectation.
#[test]
fn faults_written_as_yaml_load_back_as_the_events_they_ran() {
    let loaded = load_text(&scenario(THREE_ENDPOINTS));
    let t = Targets::of(&loaded.scenario);
    assert_eq!(t.workloads.len(), 1);
    assert_eq!(t.workloads[0].probes, vec![ProbeKind::Readiness]);
    let s = SimDuration::from_secs;
    let faults = vec![
        Fault {
            at: SimDuration::from_millis(3_250),
            what: What::DeletePod {
                workload: 0,
                pick: Pick::Newest,
            },
        },
        Fault {
            at: s(4),
            what: What::KillContainer {
                workload: 0,
                pick: Pick::Random,
            },
        },
        Fault {
            at: s(5),
            what: What::FailProbe {
                workload: 0,
                pick: Pick::Oldest,
                probe: ProbeKind::Readiness,
                duration: s(90),
            },
        },
        Fault {
            at: s(6),
            what: What::NodeDown {
                node: 1,
                up_after: Some(s(75)),
            },
        },
        Fault {
            at: s(7),
            what: What::Drain { node: 0 },
        },
        Fault {
            at: s(8),
            what: What::RolloutRestart { workload: 0 },
        },
    ];
    let events: Vec<serde_yaml::Value> = faults.iter().flat_map(|f| f.to_yaml(&t)).collect();
    let text = kubesim::scenario::rewrite::with_events(
        &scenario(THREE_ENDPOINTS),
        &events,
        "roundtrip",
        "",
        &|f| f.to_string(),
    )
    .unwrap();
    let back = load_text(&text);
    let ran = kubesim::explore::with_faults(&loaded.scenario, &faults, &t);
    assert_eq!(back.scenario.events, ran.events);
    assert_eq!(
        back.scenario.events.len(),
        7,
        "nodeDown comes back: two events"
    );
}

/// `kubesim::testing`'s worked property (docs/testing.md) holds with a 5 s `preStop` hook and
/// fails without one, and proptest's minimal case is a scenario whose run shows why.
#[test]
fn the_library_property_fails_without_a_prestop_hook_and_shrinks() {
    use kubesim::engine::SimTime;
    use kubesim::explore::FaultKind;
    use kubesim::sim::expect::{ProbeFrom, ProbePort, ProbeTo};
    use kubesim::testing::{self, Bounds, Cluster};
    use proptest::test_runner::{TestCaseError, TestError, TestRunner};

    fn property(cluster: &Cluster) -> Result<(), TestCaseError> {
        let scenario = cluster.scenario().map_err(TestCaseError::fail)?;
        let node_ports = cluster.node_port_services();
        let mut since: Vec<Option<SimTime>> = vec![None; node_ports.len()];
        testing::check(scenario, |sim| {
            for (svc, since) in node_ports.iter().zip(&mut since) {
                if sim.ready_endpoints_of(svc) == 0 {
                    *since = None;
                    continue;
                }
                let ready_at = *since.get_or_insert(sim.now());
                if sim.now() - ready_at < SimDuration::from_secs(2) {
                    continue;
                }
                let to = ProbeTo {
                    service: svc.clone(),
                    port: ProbePort::NodePort,
                };
                sim.probe(&ProbeFrom::External, &to)?;
            }
            Ok(())
        })
        .map_err(|v| TestCaseError::fail(v.to_string()))?;
        Ok(())
    }
    let run = |pre_stop: u32| {
        let bounds = Bounds {
            pre_stop_seconds: vec![pre_stop],
            local_policies: false,
            ..Bounds::default()
        };
        let clusters = testing::clusters_with_faults(bounds, &[FaultKind::DeletePod], 2);
        TestRunner::new(testing::config(24)).run(&clusters, |c| property(&c))
    };
    run(5).expect("holds with a 5 s preStop hook");
    match run(0) {
        Err(TestError::Fail(why, minimal)) => {
            let why = why.to_string();
            // The rules still send a new connection to the deleted pod.
            assert!(
                why.contains("no longer exists") || why.contains("nothing listens"),
                "{why}"
            );
            assert!(!minimal.faults.is_empty(), "{minimal:?}");
            // The minimal case is a scenario that loads as printed, and fails again the same.
            load_text(&format!("{minimal:?}"));
            let again = property(&minimal).unwrap_err().to_string();
            assert!(again.contains(&why), "{again} vs {why}");
        }
        other => panic!("expected a failure without the hook: {other:?}"),
    }
}

/// Faults aim at StatefulSets' and DaemonSets' pods too, and `rolloutRestart` restarts them:
/// written back as `rolloutRestart: {statefulset: web}` they load as the events that ran, and
/// the run replaces the set's pods from the highest ordinal (issue 17).
#[test]
fn faults_aim_at_statefulsets_and_daemonsets_and_read_back() {
    use kubesim::explore::WorkloadKind;
    let text = crate::util::scenario_text("statefulset-web.yaml");
    let loaded = load_text(&text);
    let t = Targets::of(&loaded.scenario);
    let kinds: Vec<(WorkloadKind, &str)> = t
        .workloads
        .iter()
        .map(|w| (w.kind, w.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (WorkloadKind::StatefulSet, "web"),
            (WorkloadKind::Deployment, "client")
        ]
    );
    let faults = vec![
        Fault {
            at: SimDuration::from_secs(150),
            what: What::RolloutRestart { workload: 0 },
        },
        Fault {
            at: SimDuration::from_secs(175),
            what: What::DeletePod {
                workload: 0,
                pick: Pick::Newest,
            },
        },
    ];
    assert_eq!(
        faults[0].describe(&t),
        "at 2m30s    rolloutRestart: statefulset/web"
    );
    let events: Vec<serde_yaml::Value> = faults.iter().flat_map(|f| f.to_yaml(&t)).collect();
    let written = kubesim::scenario::rewrite::with_events(&text, &events, "roundtrip", "", &|f| {
        f.to_string()
    })
    .unwrap();
    assert!(
        written.contains("rolloutRestart:\n      statefulset: web")
            || written.contains("rolloutRestart: {statefulset: web}"),
        "{written}"
    );
    let back = load_text(&written);
    let ran = kubesim::explore::with_faults(&loaded.scenario, &faults, &t);
    assert_eq!(back.scenario.events, ran.events);
    let o = crate::util::run(&back);
    let deleted: Vec<&str> = o
        .events
        .iter()
        .filter(|e| e.object == "statefulset/web" && e.at.as_secs_f64() >= 150.0)
        .map(|e| e.message.as_str())
        .filter(|m| m.starts_with("delete"))
        .collect();
    assert_eq!(
        deleted.first(),
        Some(&"delete Pod web-2 in StatefulSet web successful"),
        "the restart replaces the highest ordinal first"
    );

    // A DaemonSet's rolloutRestart.
    let text = crate::util::scenario_text("daemonset-node-local.yaml");
    let loaded = load_text(&text);
    let t = Targets::of(&loaded.scenario);
    let ds = t
        .workloads
        .iter()
        .position(|w| w.kind == WorkloadKind::DaemonSet)
        .expect("the node agent");
    let fault = Fault {
        at: SimDuration::from_secs(5),
        what: What::RolloutRestart { workload: ds },
    };
    let events = fault.to_yaml(&t);
    let written = kubesim::scenario::rewrite::with_events(&text, &events, "roundtrip", "", &|f| {
        f.to_string()
    })
    .unwrap();
    let back = load_text(&written);
    let ran = kubesim::explore::with_faults(&loaded.scenario, &[fault], &t);
    assert_eq!(back.scenario.events, ran.events);
}
