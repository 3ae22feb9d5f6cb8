//! Expectations (`spec.expect`): each kind judged on a run that keeps it and one that breaks
//! it, `run`'s verdicts and exit code, and `kubesim test` with its JUnit file.

use crate::util::{kubesim, load_text, root, run, srv_app, stderr, temp_dir};
use kubesim::report::expect::{judge, Verdict};

/// Two nodes, `srv` behind NodePort 30080 (`replicas` pods), an outside client at 100/s on
/// node-1's NodePort from 1 s, the `extra` lines under `spec` (indented two spaces), and
/// `container` lines for the container.
fn scenario(replicas: u32, spec_extra: &str, service_extra: &str, container: &str) -> String {
    let app = srv_app(replicas, container).replace(
        "  type: NodePort\n",
        &format!("  type: NodePort\n{service_extra}"),
    );
    format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: expect-test}}
spec:
  seed: 3
  duration: 20s
  cluster:
    nodes:
      - {{name: node-1, ip: 192.168.0.24}}
      - {{name: node-2, ip: 192.168.0.25}}
  behaviors:
    - image: srv
      serviceTime: {{distribution: exponential, mean: 2ms}}
      concurrency: 4
  traffic:
    - {{name: visitors, from: external, clients: 20, to: 192.168.0.24:30080, rate: 100/s, start: 1s}}
{spec_extra}{app}"#
    )
}

fn verdicts(text: &str) -> Vec<Verdict> {
    judge(&run(&load_text(text)))
}

/// The one verdict of a scenario with one expectation.
fn only(text: &str) -> Verdict {
    let v = verdicts(text);
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap()
}

#[test]
fn slo_passes_within_bounds_and_fails_past_them() {
    let ok = only(&scenario(
        3,
        "  expect:\n    - {name: fast, slo: \"p99<50ms,errors<1%\", from: 2s}\n",
        "",
        "",
    ));
    assert!(ok.pass, "{ok:?}");
    assert_eq!(ok.kind, "slo");
    let bad = only(&scenario(
        3,
        "  expect:\n    - {name: too fast, slo: \"p99<1ms\", stream: visitors}\n",
        "",
        "",
    ));
    assert!(!bad.pass, "{bad:?}");
    assert!(bad.evidence.contains("misses p99<1ms"), "{}", bad.evidence);
}

#[test]
fn endpoints_fail_at_the_first_instant_below_the_minimum() {
    let events = "  events:\n    - at: 10s\n      deletePod: {selector: app=srv, pick: oldest}\n";
    let ok = only(&scenario(
        3,
        &format!("{events}  expect:\n    - {{name: two, endpoints: {{service: srv, min: 2}}, from: 5s}}\n"),
        "",
        "",
    ));
    assert!(ok.pass, "{ok:?}");
    let bad = only(&scenario(
        3,
        &format!("{events}  expect:\n    - {{name: three, endpoints: {{service: srv, min: 3}}, from: 5s}}\n"),
        "",
        "",
    ));
    assert!(!bad.pass, "{bad:?}");
    // The pod turns Terminating at 10 s and leaves the endpoints then.
    let at = bad.at.expect("an instant").as_nanos();
    assert_eq!(at, 10_000_000_000, "{bad:?}");
    assert!(
        bad.evidence.contains("2 ready endpoint(s), fewer than 3"),
        "{}",
        bad.evidence
    );
    // Before 5 s the pods were not all ready: outside the window, not a failure; from 0 s it is.
    let early = only(&scenario(
        3,
        "  expect:\n    - {name: early, endpoints: {service: srv, min: 3}, from: 0s}\n",
        "",
        "",
    ));
    assert!(
        !early.pass && early.at.unwrap().as_nanos() == 0,
        "{early:?}"
    );
}

#[test]
fn reachable_fails_on_a_node_whose_rules_drop_a_local_nodeport() {
    // One pod: under `externalTrafficPolicy: Local` the node without it DROPs the NodePort.
    let expect = "  expect:\n    - {name: every node, reachable: {from: external, to: \"srv:nodePort\"}, from: 5s}\n";
    let bad = only(&scenario(1, expect, "  externalTrafficPolicy: Local\n", ""));
    assert!(!bad.pass, "{bad:?}");
    assert!(bad.evidence.contains("DROP"), "{}", bad.evidence);
    assert_eq!(bad.at.unwrap().as_nanos(), 5_000_000_000, "{bad:?}");
    // Under Cluster every node forwards to the one pod.
    let ok = only(&scenario(1, expect, "", ""));
    assert!(ok.pass, "{ok:?}");
    assert!(ok.evidence.contains("none failed"), "{}", ok.evidence);
}

#[test]
fn reachable_from_nodes_probes_the_cluster_ip() {
    let ok = only(&scenario(
        2,
        "  expect:\n    - {name: cluster ip, reachable: {from: nodes, to: \"srv:80\"}, from: 5s}\n",
        "",
        "",
    ));
    assert!(ok.pass, "{ok:?}");
    let events = "  events:\n    - at: 8s\n      scale: {deployment: srv, replicas: 0}\n";
    let bad = only(&scenario(
        2,
        &format!("{events}  expect:\n    - {{name: cluster ip, reachable: {{from: nodes, to: \"srv:80\"}}, from: 5s}}\n"),
        "",
        "",
    ));
    assert!(!bad.pass, "{bad:?}");
    // The pods stop at once (no preStop hook): until the nodes sync, their rules lead to
    // pods that are gone; then they REJECT (no endpoint).
    assert!(bad.evidence.contains("(srv:80)"), "{}", bad.evidence);
    assert!(bad.at.unwrap().as_nanos() >= 8_000_000_000, "{bad:?}");
}

#[test]
fn no_traffic_after_deletion_names_the_request_and_the_pod() {
    // With a preStop hook a deleted pod keeps serving 5 s. The first deletion is synced at
    // once; the second, half a second later, waits for minSyncPeriod (5 s here): new
    // connections reach that pod until 15 s, far past a 100 ms bound, within a 10 s one.
    let prestop = "          lifecycle: {preStop: {sleep: {seconds: 5}}}";
    let events = "  events:\n    - at: 10s\n      deletePod: {selector: app=srv, pick: oldest}\n    - at: 10500ms\n      deletePod: {selector: app=srv, pick: oldest}\n";
    let text = |within: &str| {
        scenario(
            3,
            &format!("{events}  expect:\n    - {{name: gone, noTrafficAfterDeletion: {{within: {within}}}}}\n"),
            "",
            prestop,
        )
        .replace(
            "{name: node-2, ip: 192.168.0.25}\n",
            "{name: node-2, ip: 192.168.0.25}\n    kubeProxy: {minSyncPeriod: 5s}\n",
        )
    };
    let bad = only(&text("100ms"));
    assert!(!bad.pass, "{bad:?}");
    assert!(
        bad.evidence.contains("after its deletion at 10.500s"),
        "{}",
        bad.evidence
    );
    assert!(
        bad.evidence
            .contains("a request of stream visitors sent at"),
        "{}",
        bad.evidence
    );
    assert!(bad.at.unwrap().as_nanos() > 10_600_000_000, "{bad:?}");
    let ok = only(&text("10s"));
    assert!(ok.pass, "{ok:?}");
}

#[test]
fn client_ip_is_preserved_under_local_and_not_under_cluster() {
    let expect = "  expect:\n    - {name: source, clientIpPreserved: {service: srv}}\n";
    // Every node has a pod, so Local serves on both.
    let ok = only(&scenario(4, expect, "  externalTrafficPolicy: Local\n", ""));
    assert!(ok.pass, "{ok:?}");
    let bad = only(&scenario(4, expect, "", ""));
    assert!(!bad.pass, "{bad:?}");
    assert!(
        bad.evidence.contains("source-NATed by node node-1"),
        "{}",
        bad.evidence
    );
}

#[test]
fn no_cross_zone_fails_with_the_zones_crossed() {
    let text = |hint: &str| {
        scenario(
            4,
            "  expect:\n    - {name: zones, noCrossZone: {}}\n",
            hint,
            "",
        )
        .replace(
            "{name: node-1, ip: 192.168.0.24}",
            "{name: node-1, ip: 192.168.0.24, labels: {topology.kubernetes.io/zone: a}}",
        )
        .replace(
            "{name: node-2, ip: 192.168.0.25}",
            "{name: node-2, ip: 192.168.0.25, labels: {topology.kubernetes.io/zone: b}}",
        )
    };
    let bad = only(&text(""));
    assert!(!bad.pass, "{bad:?}");
    assert!(
        bad.evidence.contains("in zone a to pod") && bad.evidence.contains("in zone b"),
        "{}",
        bad.evidence
    );
    // `Local` keeps an outside client's connection on the node it entered: in zone a.
    let ok = only(&text("  externalTrafficPolicy: Local\n"));
    assert!(ok.pass, "{ok:?}");
}

#[test]
fn fair_share_passes_an_even_spread_and_fails_an_uneven_one() {
    let ok = only(&scenario(
        3,
        "  expect:\n    - {name: even, fairShare: {service: srv, within: 25%}, from: 2s}\n",
        "",
        "",
    ));
    assert!(ok.pass, "{ok:?}");
    // The same run against a 1% bound: about 630 requests per pod vary by about 4% from
    // seed to seed (Poisson), so some pod misses it.
    let tight = only(&scenario(
        3,
        "  expect:\n    - {name: tight, fairShare: {service: srv, within: 1%}, from: 2s}\n",
        "",
        "",
    ));
    assert!(!tight.pass, "{tight:?}");
    assert!(
        tight.evidence.contains("its fair share of"),
        "{}",
        tight.evidence
    );
}

#[test]
fn a_bad_expectation_is_an_error_at_its_key() {
    let text = scenario(
        2,
        "  expect:\n    - name: x\n      slo: \"p98<1s\"\n    - name: y\n      endpoints: {service: nope, min: 1}\n    - name: z\n      stream: nobody\n      noCrossZone: {}\n    - name: w\n      slo: \"p99<1s\"\n      fairShare: {service: srv, within: 1%}\n",
        "",
        "",
    );
    let d = kubesim::scenario::load_str(&text, "t.yaml", &root().join("scenarios"))
        .expect_err("bad expectations");
    let s = d.to_string();
    assert!(
        s.contains("t.yaml:19:7: error: spec.expect[0].slo: term 1 \"p98<1s\": unknown metric"),
        "{s}"
    );
    assert!(
        s.contains("spec.expect[1].endpoints: no Service nope in the scenario (Services: srv)"),
        "{s}"
    );
    assert!(
        s.contains("spec.expect[2].stream: no traffic stream named \"nobody\" (streams: visitors)"),
        "{s}"
    );
    assert!(
        s.contains("spec.expect[3]: 2 kinds (slo, fairShare)"),
        "{s}"
    );
    // A misspelt key is an unknown field, as everywhere in the Scenario document.
    let typo = scenario(
        2,
        "  expect:\n    - {name: x, slo: \"p99<1s\", strem: visitors}\n",
        "",
        "",
    );
    let d = kubesim::scenario::load_str(&typo, "t.yaml", &root().join("scenarios")).unwrap_err();
    assert!(
        d.to_string()
            .contains("unknown field \"spec.expect[0].strem\""),
        "{d}"
    );
}

#[test]
fn run_prints_the_verdicts_and_exits_1_when_one_fails() {
    let dir = temp_dir("expect-run");
    let file = dir.join("s.yaml");
    std::fs::write(
        &file,
        scenario(
            2,
            "  expect:\n    - {name: fast enough, slo: \"errors<1%\"}\n    - {name: impossible, slo: \"p99<1us\"}\n",
            "",
            "",
        ),
    )
    .unwrap();
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("== Expectations (spec.expect) =="), "{out}");
    assert!(out.contains("  PASS  fast enough (slo)"), "{out}");
    assert!(out.contains("  FAIL  impossible (slo)"), "{out}");
    assert!(out.contains("1 passed, 1 failed"), "{out}");
    assert!(
        stderr(&o).contains("1 of 2 expectation(s) failed"),
        "{}",
        stderr(&o)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    let e = summary["expect"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0]["pass"], true);
    assert_eq!(e[1]["pass"], false);
    assert_eq!(e[1]["kind"], "slo");
    // Without the impossible one: exit 0.
    std::fs::write(
        &file,
        scenario(
            2,
            "  expect:\n    - {name: fast enough, slo: \"errors<1%\"}\n",
            "",
            "",
        ),
    )
    .unwrap();
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_scenario_without_expectations_has_no_expect_key() {
    let dir = temp_dir("expect-none");
    std::fs::write(dir.join("s.yaml"), scenario(2, "", "", "")).unwrap();
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("\"expect\""), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kubesim test scenarios/tests`: the bundled examples, one of which fails on purpose.
#[test]
fn test_runs_the_bundled_examples_and_writes_junit() {
    let dir = temp_dir("expect-junit");
    let junit = dir.join("report.xml");
    let o = kubesim(
        &root(),
        &[
            "test",
            "scenarios/tests",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "scenarios/tests/rolling-update-with-prestop.yaml (rolling-update-with-prestop)"
        ),
        "{out}"
    );
    assert!(
        out.contains("  FAIL  no request fails during the rollout restart (slo)"),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    let (passed, failed) = last
        .split_once(" passed, ")
        .map(|(p, f)| {
            (
                p.parse::<usize>().unwrap(),
                f.trim_end_matches(" failed").parse::<usize>().unwrap(),
            )
        })
        .unwrap_or_else(|| panic!("closing line: {last}"));
    let lines = out
        .lines()
        .filter(|l| l.starts_with("  PASS") || l.starts_with("  FAIL"));
    assert_eq!(lines.count(), passed + failed, "{out}");
    // Every failure is in the file that fails on purpose.
    assert_eq!(failed, 2, "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 4, "{xml}");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, passed + failed);
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), failed);
    for f in &failures {
        let suite = f.ancestors().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(
            suite.attribute("name"),
            Some("rolling-update-without-prestop")
        );
        assert!(f.attribute("message").unwrap().starts_with("FAIL  "));
        assert!(!f.text().unwrap_or("").is_empty());
    }
    let root_el = doc.root_element();
    assert_eq!(root_el.attribute("tests"), Some(cases.to_string().as_str()));
    assert_eq!(
        root_el.attribute("failures"),
        Some(failed.to_string().as_str())
    );
    // The passing files alone: exit 0.
    let o = kubesim(
        &root(),
        &[
            "test",
            "scenarios/tests/rolling-update-with-prestop.yaml",
            "scenarios/tests/external-traffic-local.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("8 passed, 0 failed\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_replications_count_the_runs_that_passed() {
    let dir = temp_dir("expect-reps");
    // An SLO on the edge: some seeds meet it and some do not.
    std::fs::write(
        dir.join("s.yaml"),
        scenario(2, "  expect:\n    - {name: never, slo: \"p99<1us\"}\n    - {name: always, slo: \"errors<50%\"}\n", "", ""),
    )
    .unwrap();
    let o = kubesim(&dir, &["test", ".", "--replications", "3"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("  FAIL  0/3  never (slo)"), "{out}");
    assert!(out.contains("  PASS  3/3  always (slo)"), "{out}");
    assert!(out.contains("        seed "), "{out}");
    assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    let o = kubesim(&dir, &["test", ".", "--replications", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_reports_bad_input_with_exit_2_and_nothing_to_test_as_an_error() {
    let dir = temp_dir("expect-bad");
    std::fs::write(
        dir.join("s.yaml"),
        scenario(2, "  expect:\n    - {name: x, slo: \"p99<\"}\n", "", ""),
    )
    .unwrap();
    let o = kubesim(&dir, &["test", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("spec.expect[0].slo"), "{}", stderr(&o));
    std::fs::write(dir.join("s.yaml"), scenario(2, "", "", "")).unwrap();
    let o = kubesim(&dir, &["test", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no scenario with expectations"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks only read: a run with every kind of expectation has the same figures as without.
#[test]
fn expectations_change_no_figure() {
    let events = "  events:\n    - at: 8s\n      deletePod: {selector: app=srv, pick: oldest}\n";
    let all = "  expect:\n    - {name: a, slo: \"p99<50ms\", from: 2s, to: 15s}\n    - {name: b, fairShare: {service: srv, within: 50%}}\n    - {name: c, endpoints: {service: srv, min: 1}}\n    - {name: d, reachable: {from: external, to: \"srv:nodePort\"}}\n    - {name: e, reachable: {from: nodes, to: \"srv:80\"}}\n    - {name: f, noTrafficAfterDeletion: {within: 1s}}\n    - {name: g, clientIpPreserved: {}}\n    - {name: h, noCrossZone: {}}\n";
    let with = run(&load_text(&scenario(3, &format!("{events}{all}"), "", "")));
    let without = run(&load_text(&scenario(3, events, "", "")));
    assert_eq!(with.expect.len(), 8);
    let mut summary: serde_json::Value =
        serde_json::from_str(&kubesim::report::summary_json(&with)).unwrap();
    summary.as_object_mut().unwrap().remove("expect");
    let plain: serde_json::Value =
        serde_json::from_str(&kubesim::report::summary_json(&without)).unwrap();
    assert_eq!(summary, plain);
}
