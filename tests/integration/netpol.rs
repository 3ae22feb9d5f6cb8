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
