//! NetworkPolicy on the request path: the bundled lessons, policies applied and deleted
//! mid-run, and the drops counted as `policy_drop`.

use crate::util::*;

fn stream<'a>(
    o: &'a kubesim::sim::outcome::Outcome,
    name: &str,
) -> &'a kubesim::sim::outcome::StreamOutcome {
    o.streams.iter().find(|s| s.name == name).expect("stream")
}

#[test]
fn default_deny_lets_only_the_allowed_path_through() {
    let o = run(&load(&root().join("scenarios/netpol-default-deny.yaml")));
    let frontend = stream(&o, "frontend");
    assert!(frontend.sent > 1000 && frontend.failed == 0, "{frontend:?}");
    let batch = stream(&o, "batch");
    assert_eq!(
        batch.served,
        0,
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
    assert!(
        batch.failed > 100,
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
    // dropped, so each fails at the client's 2 s timeout, under a cause of its own
    assert_eq!(
        batch.failed_by_reason.get("policy_drop"),
        Some(&batch.failed)
    );
    assert!(
        (batch.latency_with_failures.ms().p50 - 2000.0).abs() < 5.0,
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
}

#[test]
fn without_the_policies_every_client_is_served() {
    let text = scenario_text("netpol-default-deny.yaml");
    let cut = text
        .find("---\napiVersion: networking.k8s.io/v1")
        .expect("policies");
    let o = run(&load_text(&text[..cut]));
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests);
}

#[test]
fn a_policy_deleted_mid_run_stops_dropping_after_the_propagation_delay() {
    // batch is dropped until 20 s + 1 s, then served: both policies isolate the backend
    // pods (allow-frontend selects them too), so both go
    let text = scenario_text("netpol-default-deny.yaml").replace(
        "  traffic:\n",
        "  events:\n    - at: 20s\n      delete: {kind: networkpolicy, name: default-deny-ingress}\n    - at: 20s\n      delete: {kind: netpol, name: allow-frontend}\n  traffic:\n",
    );
    let o = run(&load_text(&text));
    let batch = stream(&o, "batch");
    assert!(
        batch.served > 300,
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
    let dropped = batch
        .failed_by_reason
        .get("policy_drop")
        .copied()
        .unwrap_or(0);
    // about 21/s (646 sent over 30 s) from 10 s to 21 s
    assert!(
        (200..=260).contains(&dropped),
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
}

#[test]
fn a_policy_applied_mid_run_drops_new_connections_after_the_delay() {
    let text = scenario_text("netpol-default-deny.yaml");
    let cut = text
        .find("---\napiVersion: networking.k8s.io/v1")
        .expect("policies");
    let text = text[..cut].replace(
        "  traffic:\n",
        "  events:\n    - at: 30s\n      apply:\n        apiVersion: networking.k8s.io/v1\n        kind: NetworkPolicy\n        metadata: {name: deny}\n        spec: {podSelector: {}}\n  traffic:\n",
    );
    let o = run(&load_text(&text));
    let batch = stream(&o, "batch");
    let dropped = batch
        .failed_by_reason
        .get("policy_drop")
        .copied()
        .unwrap_or(0);
    // 20/s from 31 s; those sent after 38 s are still waiting at the end (40 s)
    assert!(
        (110..=180).contains(&dropped),
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
    assert!(
        batch.served > 350,
        "{:?}",
        (batch.sent, batch.served, &batch.failed_by_reason)
    );
}

#[test]
fn default_deny_egress_breaks_dns_until_port_53_to_kube_dns_is_allowed() {
    let o = run(&load(&root().join("scenarios/netpol-egress-dns.yaml")));
    let c = stream(&o, "client");
    let dns = c.failed_by_reason.get("dns_failure").copied().unwrap_or(0);
    // 20/s from 5 s until the fix is in force at 31 s; nothing else fails
    assert_eq!(
        dns,
        c.failed,
        "{:?}",
        (c.sent, c.served, &c.failed_by_reason)
    );
    assert!(
        (480..=560).contains(&dns),
        "{:?}",
        (c.sent, c.served, &c.failed_by_reason)
    );
    assert!(c.served > 500, "{:?}", (c.sent, c.served));
    // each failure is the resolver's 5 s twice
    assert!((c.latency_with_failures.ms().max - 10_000.0).abs() < 50.0);
}

#[test]
fn an_ip_block_misses_masqueraded_visitors_until_external_traffic_policy_local() {
    let o = run(&load(
        &root().join("scenarios/netpol-ipblock-masquerade.yaml"),
    ));
    let s = stream(&o, "office");
    let dropped = s.failed_by_reason.get("policy_drop").copied().unwrap_or(0);
    // 50/s from 5 s until node-1's rules stop masquerading, a second or two after 30 s
    assert_eq!(
        dropped,
        s.failed,
        "{:?}",
        (s.sent, s.served, &s.failed_by_reason)
    );
    assert!((1200..=1400).contains(&dropped), "{:?}", (s.sent, s.served));
    assert!(s.served > 1300, "{:?}", (s.sent, s.served));
    // with Cluster kept, nothing is ever served
    let text = scenario_text("netpol-ipblock-masquerade.yaml")
        .replace("          externalTrafficPolicy: Local\n", "");
    let o = run(&load_text(&text));
    assert_eq!(stream(&o, "office").served, 0);
}

#[test]
fn an_ip_block_sees_the_address_masquerade_takes_from_the_outgoing_interface() {
    // With `Cluster`, node-1 masquerades toward node-2's pod as its flannel.1 (10.244.0.0, the
    // .0 of its pod range) and toward its own pod as its cni0 bridge (10.244.0.1); never as
    // its node address 192.168.0.24, which no packet carries past the node
    let cluster_only = scenario_text("netpol-ipblock-masquerade.yaml")
        .replace("          externalTrafficPolicy: Local\n", "");
    let with_block = |cidr: &str| {
        let o = run(&load_text(
            &cluster_only.replace("cidr: 203.0.113.0/24", &format!("cidr: {cidr}")),
        ));
        let served_on = |node: &str| -> u64 {
            o.pods
                .iter()
                .filter(|p| {
                    p.owner.as_deref().is_some_and(|w| w.starts_with("web"))
                        && p.node.as_deref() == Some(node)
                })
                .map(|p| p.served)
                .sum()
        };
        (
            served_on("node-1"),
            served_on("node-2"),
            stream(&o, "office").served,
        )
    };
    let (n1, n2, _) = with_block("10.244.0.0/32");
    assert!(n1 == 0 && n2 > 500, "flannel.1's address: {:?}", (n1, n2));
    let (n1, n2, _) = with_block("10.244.0.1/32");
    assert!(n1 > 500 && n2 == 0, "cni0's address: {:?}", (n1, n2));
    let (_, _, served) = with_block("192.168.0.24/32");
    assert_eq!(served, 0, "the node's own address is never the source");
}

#[test]
fn the_docs_example_admits_its_three_peers_and_drops_the_rest() {
    let o = run(&load(&root().join("scenarios/netpol-docs-example.yaml")));
    for name in ["frontend", "reporting"] {
        let s = stream(&o, name);
        assert_eq!(
            s.failed,
            0,
            "{name}: {:?}",
            (s.sent, s.served, &s.failed_by_reason)
        );
        assert!(s.served > 300, "{name}");
    }
    let s = stream(&o, "scraper");
    assert_eq!(s.served, 0);
    assert_eq!(s.failed_by_reason.get("policy_drop"), Some(&s.failed));
    assert!(s.failed > 300, "{:?}", (s.sent, s.failed));
    // labelling the other namespace project=myproject admits it (the namespaceSelector peer)
    let text = scenario_text("netpol-docs-example.yaml").replace(
        "  name: other\n",
        "  name: other\n  labels: {project: myproject}\n",
    );
    let o = run(&load_text(&text));
    assert_eq!(stream(&o, "scraper").failed, 0);
}

#[test]
fn reach_tabulates_the_verdicts_the_run_enforces() {
    let dir = temp_dir("netpol-reach");
    let path = root().join("scenarios/netpol-default-deny.yaml");
    let out = kubesim(
        &dir,
        &["reach", path.to_str().unwrap(), "--at", "20s", "--csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("from,to,port,protocol,ingress,egress,verdict")
    );
    let row = |from: &str| {
        csv.lines()
            .find(|l| {
                // Groups are named by their labels, without the controllers' own.
                l.starts_with(&format!("default/app={from},default/app=backend,"))
            })
            .unwrap_or_else(|| panic!("{from} -> backend in\n{csv}"))
            .to_string()
    };
    // as the run: frontend served, batch dropped at the backend's ingress
    assert!(
        row("frontend").ends_with(",80,TCP,allow,allow,allow"),
        "{csv}"
    );
    assert!(row("batch").ends_with(",80,TCP,deny,allow,deny"), "{csv}");
    let out = kubesim(&dir, &["reach", path.to_str().unwrap(), "--pods", "--csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with("default/batch-")
            && l.contains(",default/backend-")
            && l.ends_with(",80,TCP,deny,allow,deny")),
        "{csv}"
    );
    let out = kubesim(&dir, &["reach", path.to_str().unwrap()]);
    let grid = String::from_utf8(out.stdout).unwrap();
    assert!(grid.contains("80/TCP  FROM \\ TO"), "{grid}");
}

/// `trace` names the verdict at each enforcement point, as the run judges it: the batch pod's
/// connection to the backend is denied at the backend's ingress, naming the isolating
/// policies, and dropped; the frontend's is allowed by `allow-frontend`'s rule.
#[test]
fn trace_names_the_policy_verdicts_at_both_ends() {
    use kubesim::sim::trace::TraceFrom;
    use kubesim::sim::Simulation;
    let loaded = load(&root().join("scenarios/netpol-default-deny.yaml"));
    let mut sim = Simulation::new(loaded.scenario).unwrap();
    sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(20));
    let pod_of = |app: &str| {
        sim.cluster()
            .live_pods()
            .find(|(_, p)| p.meta.name.starts_with(app))
            .map(|(_, p)| p.meta.name.clone())
            .unwrap()
    };
    let (batch, frontend) = (pod_of("batch-"), pod_of("frontend-"));
    let denied = sim
        .trace(&TraceFrom::Pod(batch.clone()), "backend:8080", 1)
        .unwrap();
    assert!(
        denied.contains(&format!(
            "NetworkPolicy egress at pod default/{batch}: no policy selects it for egress: allowed"
        )),
        "{denied}"
    );
    assert!(
        denied.contains("DENIED: no rule allows it (isolated by default/allow-frontend, default/default-deny-ingress)"),
        "{denied}"
    );
    assert!(denied.contains("the CNI drops the packet"), "{denied}");
    assert!(!denied.contains("served by container"), "{denied}");

    let allowed = sim
        .trace(&TraceFrom::Pod(frontend), "backend:8080", 1)
        .unwrap();
    assert!(
        allowed.contains("allowed by default/allow-frontend's ingress rule 1 ("),
        "{allowed}"
    );
    assert!(allowed.contains("served by container httpd"), "{allowed}");
}

// ---- reach agrees with the runs, on upstream's e2e cases ----
//
// The world of upstream's e2e suite (test/e2e/network/netpol/network_policy.go and its
// model.go): namespaces x, y and z, each with pods a, b and c (label `pod`), each serving TCP
// 80 and 81. Every pod sends to every other pod on both ports (through a Service with a fixed
// ClusterIP per pod: the policy sees the pod address and target port after the DNAT), before
// a timeline change (2-8 s) and after it is in force (12-20 s). A connection succeeds exactly
// when `reach` says allow; when it says deny, every request of the pair is dropped
// (`policy_drop`).

const E2E_NAMESPACES: [&str; 3] = ["x", "y", "z"];
const E2E_PODS: [&str; 3] = ["a", "b", "c"];

/// The pods as `namespace/name`, in order: `x/x-a`, `x/x-b`, ... The ClusterIP of the `i`-th
/// is 10.96.100.(10 + i).
fn e2e_pods() -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for ns in E2E_NAMESPACES {
        for pod in E2E_PODS {
            v.push((ns.to_string(), pod.to_string(), format!("{ns}/{ns}-{pod}")));
        }
    }
    v
}

/// The e2e world with `policies` (NetworkPolicy documents) from the start and `change` (a
/// timeline event, indented as an entry of `spec.events`) at 10 s.
fn e2e_scenario(policies: &str, change: &str) -> String {
    let pods = e2e_pods();
    let mut s = String::from(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {name: netpol-e2e}\nspec:\n  seed: 7\n  duration: 24s\n  cluster:\n    nodes:\n      - {name: node-1, ip: 192.168.0.24}\n      - {name: node-2, ip: 192.168.0.25}\n  behaviors:\n    - image: registry.k8s.io/e2e-test-images/agnhost:2.53\n      serviceTime: {distribution: constant, value: 1ms}\n      concurrency: 8\n",
    );
    s.push_str("  events:\n");
    s.push_str(change);
    s.push_str("  traffic:\n");
    for (phase, start, stop) in [(1, "2s", "8s"), (2, "12s", "20s")] {
        for (i, (fns, fpod, _)) in pods.iter().enumerate() {
            for (j, (tns, tpod, _)) in pods.iter().enumerate() {
                if i == j {
                    continue;
                }
                for port in [80, 81] {
                    s.push_str(&format!(
                        "    - {{name: p{phase}-{fns}-{fpod}-{tns}-{tpod}-{port}, from: {{selector: id={fns}-{fpod}}}, to: \"10.96.100.{}:{port}\", rate: 2/s, arrival: constant, start: {start}, stop: {stop}, timeout: 1s}}\n",
                        10 + j
                    ));
                }
            }
        }
    }
    for ns in E2E_NAMESPACES {
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{ns: {ns}}}}}\n"
        ));
    }
    for (i, (ns, pod, _)) in pods.iter().enumerate() {
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {ns}-{pod}, namespace: {ns}, labels: {{pod: {pod}, id: {ns}-{pod}}}}}\nspec:\n  containers:\n  - {{name: cont-80-tcp, image: registry.k8s.io/e2e-test-images/agnhost:2.53, ports: [{{name: serve-80-tcp, containerPort: 80}}]}}\n  - {{name: cont-81-tcp, image: registry.k8s.io/e2e-test-images/agnhost:2.53, ports: [{{name: serve-81-tcp, containerPort: 81}}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: s-{pod}, namespace: {ns}}}\nspec:\n  clusterIP: 10.96.100.{}\n  selector: {{pod: {pod}}}\n  ports:\n  - {{name: p80, port: 80, targetPort: 80}}\n  - {{name: p81, port: 81, targetPort: 81}}\n",
            10 + i
        ));
    }
    s.push_str(policies);
    s
}

/// `reach --pods` at the end of each phase, and the run's outcome.
fn e2e_run(
    text: &str,
) -> (
    Vec<kubesim::sim::ReachRow>,
    Vec<kubesim::sim::ReachRow>,
    kubesim::sim::outcome::Outcome,
) {
    use kubesim::engine::{SimDuration, SimTime};
    let loaded = load_text(text);
    let mut sim = kubesim::sim::Simulation::new(loaded.scenario).unwrap();
    let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
    sim.run_until(at(9));
    let before = sim.reach(at(9), true);
    sim.run_until(at(21));
    let after = sim.reach(at(21), true);
    let o = sim.run_to_end().expect("not overloaded");
    (before, after, o)
}

/// Every pair's verdict in `rows` is what phase `phase`'s streams met; the verdicts as a map
/// `("x/x-a", "y/y-b", 80) -> allow`.
fn assert_runs_agree(
    rows: &[kubesim::sim::ReachRow],
    o: &kubesim::sim::outcome::Outcome,
    phase: u8,
) -> std::collections::BTreeMap<(String, String, u16), bool> {
    let mut verdicts = std::collections::BTreeMap::new();
    let e2e = |p: &str| {
        E2E_NAMESPACES
            .iter()
            .any(|ns| p.starts_with(&format!("{ns}/")))
    };
    // the e2e pods among themselves (CoreDNS's pods are in the table too)
    for r in rows.iter().filter(|r| e2e(&r.from) && e2e(&r.to)) {
        let short = |p: &str| p.split('/').nth(1).unwrap().to_string();
        let name = format!("p{phase}-{}-{}-{}", short(&r.from), short(&r.to), r.port);
        let s = stream(o, &name);
        assert!(s.sent >= 10, "{name}: {} sent", s.sent);
        let dropped = s.failed_by_reason.get("policy_drop").copied().unwrap_or(0);
        if r.allows() {
            assert_eq!(
                (s.served, s.failed),
                (s.sent, 0),
                "{name}: reach says allow, the run {:?}",
                s.failed_by_reason
            );
        } else {
            assert_eq!(
                (s.served, dropped, s.failed),
                (0, s.sent, s.sent),
                "{name}: reach says deny ({r:?}), the run {:?}",
                s.failed_by_reason
            );
        }
        verdicts.insert((r.from.clone(), r.to.clone(), r.port), r.allows());
    }
    // every pair of distinct pods, both ports
    assert_eq!(verdicts.len(), 9 * 8 * 2);
    verdicts
}

fn v(
    m: &std::collections::BTreeMap<(String, String, u16), bool>,
    from: &str,
    to: &str,
    port: u16,
) -> bool {
    let key = |p: &str| format!("{}/{}", &p[..1], p);
    m[&(key(from), key(to), port)]
}

/// "should support a 'default-deny-ingress' policy", then "should allow ingress access on one
/// named port" (y/b to x/a on serve-81-tcp) applied mid-run.
#[test]
fn e2e_default_deny_ingress_then_one_named_port_agrees_with_the_run() {
    let policies = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-ingress, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
    let change = "    - at: 10s\n      apply:\n        apiVersion: networking.k8s.io/v1\n        kind: NetworkPolicy\n        metadata: {name: allow-81, namespace: x}\n        spec:\n          podSelector: {matchLabels: {pod: a}}\n          ingress:\n          - from:\n            - namespaceSelector: {matchLabels: {ns: y}}\n              podSelector: {matchLabels: {pod: b}}\n            ports:\n            - {port: serve-81-tcp}\n";
    let (before, after, o) = e2e_run(&e2e_scenario(policies, change));
    let m = assert_runs_agree(&before, &o, 1);
    // upstream's expectation: nothing reaches x, everything else is open
    assert!(!v(&m, "y-b", "x-a", 81) && !v(&m, "x-b", "x-a", 80) && !v(&m, "z-c", "x-c", 81));
    assert!(v(&m, "x-a", "y-b", 80) && v(&m, "z-a", "y-c", 81));
    let m = assert_runs_agree(&after, &o, 2);
    assert!(v(&m, "y-b", "x-a", 81), "the named port admits y/b");
    assert!(!v(&m, "y-b", "x-a", 80) && !v(&m, "y-a", "x-a", 81) && !v(&m, "y-b", "x-b", 81));
}

/// "should deny egress from all pods in a namespace", then "should enforce egress policy
/// allowing traffic to a server in a different namespace based on PodSelector and
/// NamespaceSelector" (x/a to z/c on 80) applied mid-run; also its trace, answering "why did
/// this request time out" as the run counted it.
#[test]
fn e2e_deny_egress_then_one_peer_agrees_with_the_run_and_trace_says_why() {
    let policies = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n";
    let change = "    - at: 10s\n      apply:\n        apiVersion: networking.k8s.io/v1\n        kind: NetworkPolicy\n        metadata: {name: allow-to-z-c, namespace: x}\n        spec:\n          podSelector: {matchLabels: {pod: a}}\n          policyTypes: [Egress]\n          egress:\n          - to:\n            - namespaceSelector: {matchLabels: {ns: z}}\n              podSelector: {matchLabels: {pod: c}}\n            ports:\n            - {protocol: TCP, port: 80}\n";
    let text = e2e_scenario(policies, change);
    let (before, after, o) = e2e_run(&text);
    let m = assert_runs_agree(&before, &o, 1);
    assert!(!v(&m, "x-a", "z-c", 80) && !v(&m, "x-b", "y-a", 81) && !v(&m, "x-a", "x-b", 80));
    assert!(v(&m, "y-a", "x-a", 80) && v(&m, "z-c", "y-b", 81));
    let m = assert_runs_agree(&after, &o, 2);
    assert!(v(&m, "x-a", "z-c", 80));
    assert!(!v(&m, "x-a", "z-c", 81) && !v(&m, "x-a", "z-b", 80) && !v(&m, "x-b", "z-c", 80));

    // "Why did x/a's requests to z/c:81 time out?"
    use kubesim::engine::{SimDuration, SimTime};
    use kubesim::sim::trace::TraceFrom;
    let loaded = load_text(&text);
    let mut sim = kubesim::sim::Simulation::new(loaded.scenario).unwrap();
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(15));
    let z_c = 10 + 8; // the ClusterIP of z/z-c
    let t = sim
        .trace(
            &TraceFrom::Pod("x-a".into()),
            &format!("10.96.100.{z_c}:81"),
            1,
        )
        .unwrap();
    assert!(
        t.contains("NetworkPolicy egress at pod x/x-a: DENIED: no rule allows it (isolated by x/allow-to-z-c, x/deny-egress)"),
        "{t}"
    );
    assert!(
        t.contains(
            "the CNI drops the packet: the client resends its SYN until it times out (policy_drop)"
        ),
        "{t}"
    );
    let s = stream(&o, "p2-x-a-z-c-81");
    assert_eq!(s.failed_by_reason.get("policy_drop"), Some(&s.sent));
    let t = sim
        .trace(
            &TraceFrom::Pod("x-a".into()),
            &format!("10.96.100.{z_c}:80"),
            1,
        )
        .unwrap();
    assert!(
        t.contains("allowed by x/allow-to-z-c's egress rule 1 ("),
        "{t}"
    );
    assert!(t.contains("served by container cont-80-tcp"), "{t}");
}

/// "should enforce policy based on PodSelector and NamespaceSelector" (ingress to x/a from
/// pods b of the namespaces other than x, by matchExpressions), then the policy deleted
/// mid-run; and "should enforce except clause while egress access to server in CIDR block"
/// (x/b's egress to the pod network except node-2's pod range), judged on the pods' real
/// addresses wherever the scheduler put them.
#[test]
fn e2e_selectors_deleted_and_ip_block_except_agree_with_the_run() {
    let policies = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a-from-b-elsewhere, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}\n      podSelector: {matchLabels: {pod: b}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b-egress-cidr, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.0/24]}\n";
    let change = "    - at: 10s\n      delete: {kind: NetworkPolicy, name: a-from-b-elsewhere, namespace: x}\n";
    let (before, after, o) = e2e_run(&e2e_scenario(policies, change));
    let m = assert_runs_agree(&before, &o, 1);
    assert!(v(&m, "y-b", "x-a", 80) && v(&m, "z-b", "x-a", 81));
    assert!(!v(&m, "x-b", "x-a", 80) && !v(&m, "y-a", "x-a", 80) && !v(&m, "z-c", "x-a", 81));
    let m = assert_runs_agree(&after, &o, 2);
    assert!(v(&m, "y-a", "x-a", 80) && v(&m, "x-c", "x-a", 81));
    // x/b reaches exactly the pods outside node-2's range: both kinds occur
    let b_out: Vec<bool> = m
        .iter()
        .filter(|((f, _, _), _)| f == "x/x-b")
        .map(|(_, ok)| *ok)
        .collect();
    assert!(b_out.contains(&true) && b_out.contains(&false), "{b_out:?}");
}

/// "Why did this request time out?" in the DNS lesson: before the fix, a trace by name shows
/// the query DNAT'd to a CoreDNS pod and denied at the client's egress by `client-egress`,
/// the lookup unanswered and the resolver giving up after its 5 s twice, which is the run's
/// `dns_failure` at 10 s; `--brief` folds it into the query's line. After the fix (31 s) the
/// query is allowed by the policy's second egress rule and answered.
#[test]
fn trace_names_the_policy_that_drops_a_dns_query() {
    use kubesim::engine::{SimDuration, SimTime};
    use kubesim::sim::trace::TraceFrom;
    let loaded = load(&root().join("scenarios/netpol-egress-dns.yaml"));
    let mut sim = kubesim::sim::Simulation::new(loaded.scenario.clone()).unwrap();
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(10));
    let client = sim
        .cluster()
        .live_pods()
        .find(|(_, p)| p.meta.name.starts_with("client-"))
        .map(|(_, p)| p.meta.name.clone())
        .unwrap();
    let t = sim
        .trace(&TraceFrom::Pod(client.clone()), "backend:8080", 1)
        .unwrap();
    assert!(
        t.contains("dns      query backend.default.svc.cluster.local (A and AAAA, UDP ")
            && t.contains(":53): DNAT -> 10.244."),
        "{t}"
    );
    assert!(t.contains(":53, CoreDNS pod coredns-"), "{t}");
    assert!(
        t.contains(&format!("NetworkPolicy egress at pod default/{client}: DENIED: no rule allows it (isolated by default/client-egress)")),
        "{t}"
    );
    assert!(
        t.contains("NetworkPolicy ingress at pod kube-system/coredns-")
            && t.contains(": no policy selects it for ingress: allowed"),
        "{t}"
    );
    assert!(
        t.contains("the CNI drops the query: the lookup goes unanswered; the resolver waits 5 s per attempt, 2 attempts (options timeout:5 attempts:2)")
            && t.contains("gives up after 10 s (dns_failure"),
        "{t}"
    );
    assert!(
        t.contains("dns      backend: the lookup fails after 10000.000ms (dns_failure)"),
        "{t}"
    );
    assert!(!t.contains("no answer: the resolver"), "{t}");
    let brief = kubesim::report::trace_brief(&t);
    assert!(
        brief.contains("dns       query backend.default.svc.cluster.local: policy egress DENIED (isolated by default/client-egress), policy ingress allowed (no policy applies), dropped by the CNI: unanswered, the resolver gives up after 10 s (dns_failure)\n"),
        "{brief}"
    );
    // the run agrees: every request of the stream before the fix fails dns_failure at 10 s
    let o = run(&loaded);
    let c = stream(&o, "client");
    assert_eq!(c.failed_by_reason.get("dns_failure"), Some(&c.failed));
    assert!((c.latency_with_failures.ms().max - 10_000.0).abs() < 50.0);

    sim.run_until(SimTime::ZERO + SimDuration::from_secs(40));
    let t = sim
        .trace(&TraceFrom::Pod(client), "backend:8080", 1)
        .unwrap();
    assert!(!t.contains("DENIED"), "{t}");
    assert!(t.contains("answered by pod coredns-"), "{t}");
    assert!(t.contains("served by container httpd"), "{t}");
}
