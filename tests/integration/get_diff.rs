//! `kubesim get`, `trace --brief` and `kubesim diff` through the binary, and the terminal's
//! capacity lines and selector warning (issue 15).

use crate::util::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The pod rows of `kubectl get pods` text: (name, STATUS, IP when wide).
fn pod_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// `get pods` at two instants of pod-crash (a pod deleted at 40 s and replaced): kubectl's
/// columns, the deleted pod Terminating then gone, its replacement with a new IP; AGE is the
/// age at `--at`.
#[test]
fn get_pods_shows_the_cluster_at_the_instant_asked() {
    let at = |t: &str| {
        let o = kubesim(
            &root(),
            &[
                "get",
                "pods",
                "scenarios/pod-crash.yaml",
                "--at",
                t,
                "-o",
                "wide",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let before = at("39s");
    assert!(
        before.starts_with(
            "NAME                               READY   STATUS    RESTARTS   AGE   IP           NODE             NOMINATED NODE   READINESS GATES\n"
        ),
        "{before}"
    );
    let after = at("50s");
    let (b, a) = (pod_rows(&before), pod_rows(&after));
    assert!(b.iter().all(|r| r[2] == "Running"), "{before}");
    // The default namespace only: no kube-system pod.
    assert!(!before.contains("coredns"), "{before}");
    let names = |rows: &[Vec<String>]| rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>();
    let gone: Vec<String> = names(&b)
        .into_iter()
        .filter(|n| !names(&a).contains(n))
        .collect();
    let new: Vec<&Vec<String>> = a.iter().filter(|r| !names(&b).contains(&r[0])).collect();
    assert_eq!(gone.len(), 1, "one pod deleted:\n{before}\n{after}");
    assert_eq!(new.len(), 1, "one replacement:\n{before}\n{after}");
    let old_ip = &b.iter().find(|r| r[0] == gone[0]).unwrap()[5];
    assert_ne!(&new[0][5], old_ip, "a new IP:\n{after}");
    assert_eq!(new[0][4], "10s", "AGE at --at:\n{after}");
    // Not wide: kubectl's five columns.
    let o = kubesim(
        &root(),
        &["get", "po", "scenarios/pod-crash.yaml", "--at", "50s"],
    );
    assert!(stdout(&o)
        .starts_with("NAME                               READY   STATUS    RESTARTS   AGE\n"));
    // Every namespace: a NAMESPACE column, kube-system's Service among the svc.
    let o = kubesim(
        &root(),
        &["get", "svc", "scenarios/pod-crash.yaml", "-A", "-o", "wide"],
    );
    let svc = stdout(&o);
    assert!(
        svc.starts_with("NAMESPACE     NAME         TYPE        CLUSTER-IP"),
        "{svc}"
    );
    assert!(
        svc.lines().next().unwrap().ends_with("AGE   SELECTOR"),
        "{svc}"
    );
    assert!(svc.contains("kube-system   kube-dns"), "{svc}");
    assert!(svc.contains("app=http-label"), "{svc}");
}

#[test]
fn get_endpoints_slices_and_events_in_kubectls_shapes() {
    let get = |what: &str, at: &str| {
        let o = kubesim(
            &root(),
            &["get", what, "scenarios/pod-crash.yaml", "--at", at],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let ep = get("endpoints", "30s");
    assert!(ep.starts_with("NAME         ENDPOINTS"), "{ep}");
    let line = ep
        .lines()
        .find(|l| l.starts_with("http-svc "))
        .expect("http-svc");
    assert_eq!(line.matches(":80").count(), 3, "three ready pods:\n{ep}");
    // The API server's own endpoint is not modelled.
    assert!(ep.contains("kubernetes   <none>"), "{ep}");
    let slices = get("endpointslices", "30s");
    assert!(slices.starts_with("NAME "), "{slices}");
    assert!(
        slices
            .lines()
            .next()
            .unwrap()
            .contains("ADDRESSTYPE   PORTS   ENDPOINTS"),
        "{slices}"
    );
    assert!(slices.contains("http-svc-"), "{slices}");
    assert!(slices.contains("IPv4          80      10.244."), "{slices}");
    let events = get("events", "45s");
    assert!(
        events.starts_with("LAST SEEN   TYPE     REASON"),
        "{events}"
    );
    assert!(events.contains("Killing"), "{events}");
    // Nothing after --at.
    let early = get("events", "1s");
    assert!(!early.contains("Killing"), "{early}");
}

#[test]
fn get_refuses_bad_input_with_exit_2() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["get", "pdos", "scenarios/pod-crash.yaml"],
            "error: unknown resource type \"pdos\": expected pods, svc, endpoints, endpointslices, events or hpa (did you mean pods?)",
        ),
        (
            &["get", "pods", "scenarios/pod-crash.yaml", "--at", "soon"],
            "error: --at: ",
        ),
        (
            &["get", "pods", "scenarios/pod-crash.yaml", "--at", "2h"],
            "error: --at 2h: past the end of scenario pod-crash",
        ),
    ];
    for (args, want) in cases {
        let o = kubesim(&root(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with(want), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    // An empty namespace is not an error, as with kubectl.
    let o = kubesim(
        &root(),
        &["get", "pods", "scenarios/pod-crash.yaml", "-n", "nothing"],
    );
    assert!(o.status.success());
    assert_eq!(stderr(&o), "No resources found in nothing namespace.\n");
}

#[test]
fn trace_brief_prints_one_line_per_hop() {
    let args = [
        "trace",
        "scenarios/seed-tutorial-3-nodes.yaml",
        "--to",
        "192.168.0.24:30001",
        "-n",
        "3",
        "--at",
        "30s",
    ];
    let full = stdout(&kubesim(&root(), &args));
    let mut brief_args = args.to_vec();
    brief_args.push("--brief");
    let brief = stdout(&kubesim(&root(), &brief_args));
    let hops = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('+'))
            .count()
    };
    assert_eq!(hops(&brief), hops(&full), "{brief}");
    assert!(brief.lines().count() < full.lines().count() / 3, "{brief}");
    for l in brief.lines().filter(|l| l.starts_with("+0.500ms")) {
        assert!(
            l.contains("KUBE-SVC-") && l.contains("draws ") && l.contains("DNAT -> 10.244."),
            "{l}"
        );
    }
    // The same pods as the full trace, in the same order.
    let pods = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| {
                l.split("veth -> pod ")
                    .nth(1)
                    .or_else(|| l.split("pod ").nth(1).filter(|_| l.starts_with('+')))
            })
            .map(|r| {
                r.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches(',')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(pods(&brief), pods(&full), "{brief}\n{full}");
}

/// The rolling update with and without a preStop hook, run with the same seed: the hook
/// renames every pod (a new template hash), so pods pair by owner; the refused connections of
/// the restart go.
#[test]
fn diff_compares_two_scenarios_and_writes_diff_html() {
    let dir = temp_dir("diff");
    let with_hook = dir.join("rolling-update-prestop.yaml");
    let text = scenario_text("rolling-update.yaml").replace(
        "        readinessProbe:",
        "        lifecycle: {preStop: {sleep: {seconds: 5}}}\n        readinessProbe:",
    );
    std::fs::write(&with_hook, text).unwrap();
    let out = dir.join("d");
    let o = kubesim(
        &root(),
        &[
            "diff",
            "scenarios/rolling-update.yaml",
            with_hook.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("== Requests (A, B, B - A) =="), "{text}");
    // The restart's failed connections (the old pods' addresses, gone before the nodes
    // re-synced) go with the hook.
    let failed = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("failed"))
        .unwrap_or_else(|| panic!("failed requests compared:\n{text}"));
    let cells: Vec<&str> = failed.split_whitespace().collect();
    assert_eq!(cells[0], "*", "{failed}");
    assert_ne!(cells[2], "0", "some failed without the hook: {failed}");
    assert_eq!(cells[3], "0", "none with it: {failed}");
    // Pods renamed by the hook pair by owner: `A name / B name`.
    assert!(text.contains("http-deployment-"), "{text}");
    assert!(text.contains(" / http-deployment-"), "{text}");
    let html = std::fs::read_to_string(out.join("diff.html")).unwrap();
    for id in ["totals", "streams", "services", "pods"] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "table {id} in diff.html"
        );
    }
    assert!(
        html.contains("<tr class=\"differs\"><td>failed</td>"),
        "{html}"
    );
    for remote in ["http://", "https://", "<script", "<link", "src="] {
        assert!(
            !html.contains(remote),
            "diff.html is self-contained: {remote}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("diff.txt")).unwrap(),
        text.split("\nWrote ").next().unwrap(),
    );
    // The folders of two runs compare the same as the scenarios.
    for (name, file) in [
        ("a", "scenarios/rolling-update.yaml"),
        ("b", with_hook.to_str().unwrap()),
    ] {
        let o = kubesim(
            &root(),
            &["run", file, "--out", dir.join(name).to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = kubesim(&dir, &["diff", "a", "b", "--out", "d2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let folders = stdout(&o);
    let body = |t: &str| {
        t.split_once("\n\n")
            .unwrap()
            .1
            .split("\nWrote ")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(body(&folders), body(&text));
    // Not an output folder, nor a scenario: exit 2.
    let o = kubesim(&dir, &["diff", "a", "rolling-update-prestop.yaml.missing"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The capacity story in the terminal: goodput, the share of user requests that succeeded, the
/// latency users saw with failures counted; `n/a` when nothing was served.
#[test]
fn run_prints_goodput_success_share_and_latency_with_failures() {
    let dir = temp_dir("capacity");
    let o = kubesim(
        &root(),
        &[
            "run",
            "scenarios/rolling-update.yaml",
            "--out",
            dir.join("o").to_str().unwrap(),
        ],
    );
    let text = stdout(&o);
    assert!(text.contains("\ngoodput: "), "{text}");
    assert!(
        text.contains(" user requests answered per second over 1m30s; user requests: 9"),
        "{text}"
    );
    assert!(
        text.contains("\nlatency of served requests (ms): mean "),
        "{text}"
    );
    assert!(
        text.contains("\nlatency counting failures, each at its time to failure (ms): mean "),
        "{text}"
    );
    // A Service with no pod behind it: nothing served.
    let scenario = dir.join("nobody.yaml");
    std::fs::write(
        &scenario,
        scenario_text("seed-tutorial.yaml").replacen("replicas: 3", "replicas: 0", 1),
    )
    .unwrap();
    let o = kubesim(&dir, &["run", "nobody.yaml", "--out", "o2"]);
    let text = stdout(&o);
    assert!(
        text.contains("latency of served requests (ms): n/a (nothing was served)"),
        "{text}"
    );
    assert!(!text.contains("served requests (ms): mean"), "{text}");
    assert!(text.contains("user requests: 0.0% succeeded"), "{text}");
}

/// The lesson's mistyped label: `check` and `run` warn, naming the label that exists.
#[test]
fn a_selector_that_matches_nothing_is_a_warning_naming_the_nearest_label() {
    let dir = temp_dir("selector-typo");
    let text = scenario_text("seed-tutorial.yaml");
    let svc = text.find("kind: Service").expect("a Service");
    let at = svc + text[svc..].find("app: http-label").expect("its selector");
    let typo = format!(
        "{}app: http-lable{}",
        &text[..at],
        &text[at + "app: http-label".len()..]
    );
    std::fs::write(dir.join("typo.yaml"), typo).unwrap();
    let o = kubesim(&dir, &["check", "typo.yaml"]);
    assert!(
        o.status.success(),
        "a warning, not an error: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("typo.yaml:"), "{err}");
    assert!(err.contains("warning: Service \"http-svc\": no pod in namespace default carries `app: http-lable` (nearest that exists: `app: http-label`): it will have no endpoints"), "{err}");
    let o = kubesim(&root(), &["check", "scenarios/seed-tutorial.yaml"]);
    assert!(
        !stderr(&o).contains("no pod in namespace"),
        "{}",
        stderr(&o)
    );
}
