//! Service semantics: traffic policies and session affinity.

use crate::util::*;

#[test]
fn external_traffic_policy_local_keeps_traffic_on_the_entry_node() {
    let o = run(&load(&root().join("scenarios/external-traffic-local.yaml")));
    let on = |node: &str| -> Vec<u64> {
        o.pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(node))
            .map(|p| p.served)
            .collect()
    };
    let (n1, n2, n3) = (on("node-1"), on("node-2"), on("node-3"));
    assert_eq!(
        (n1.len(), n2.len(), n3.len()),
        (2, 1, 1),
        "two replicas share node-1"
    );
    // Each node's pods share that node's visitors only: node-1's two get half as much each.
    for half in &n1 {
        let ratio = *half as f64 / n2[0] as f64;
        assert!((0.45..0.55).contains(&ratio), "{n1:?} vs {n2:?}");
    }
    assert!((n2[0] as f64 / n3[0] as f64 - 1.0).abs() < 0.05);
    assert_eq!(o.requests.failed, 0);
    // And no request crosses to another node; the pod sees the client's own address.
    for (i, ip) in ["192.168.0.24", "192.168.0.25", "192.168.0.26"]
        .iter()
        .enumerate()
    {
        let t = kubesim(
            &root(),
            &[
                "trace",
                "scenarios/external-traffic-local.yaml",
                "--to",
                &format!("{ip}:30001"),
                "-n",
                "8",
                "--at",
                "30s",
            ],
        );
        let text = String::from_utf8_lossy(&t.stdout);
        assert!(!text.contains("overlay"), "node-{}: {text}", i + 1);
        assert_eq!(
            text.matches(
                "it sees the connection from 203.0.113.1 (the client's own address, kept)"
            )
            .count(),
            8,
            "{text}"
        );
    }
}

#[test]
fn client_ip_affinity_sends_each_client_to_one_pod() {
    let o = run(&load(&root().join("scenarios/session-affinity.yaml")));
    let total = o.requests.served as f64;
    // Four clients of equal rate, each pinned to one pod: every pod serves a whole number of
    // clients' shares (within 10% of a share, the Poisson noise of a client's ~2,700 requests).
    let shares: Vec<f64> = o
        .pods
        .iter()
        .map(|p| p.served as f64 / (total / 4.0))
        .collect();
    for s in &shares {
        assert!((s - s.round()).abs() < 0.1, "{shares:?}");
    }
    assert_eq!(shares.iter().map(|s| s.round() as u32).sum::<u32>(), 4);
    let rules = kubesim(
        &root(),
        &["rules", "scenarios/session-affinity.yaml", "--at", "30s"],
    );
    let text = String::from_utf8_lossy(&rules.stdout);
    assert!(text.contains("--rcheck --seconds 10800 --reap"), "{text}");
    assert!(text.contains("--set"), "{text}");
}

#[test]
fn a_headless_service_spreads_by_dns_without_proxy_rules() {
    let loaded = load(&root().join("scenarios/headless-dns.yaml"));
    let o = run(&loaded);
    let counts: Vec<u64> = o
        .pods
        .iter()
        .filter(|p| p.owner.as_deref() == Some("http-deployment"))
        .map(|p| p.served)
        .collect();
    // DNS rotates the records on every query: the spread is round robin, within one request.
    assert_eq!(counts.len(), 3);
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 2,
        "{counts:?}"
    );
    let (sim, client) = sim_at_with_pod("headless-dns.yaml", 30, "client");
    let text = sim
        .trace(
            &kubesim::sim::trace::TraceFrom::Pod(client),
            "http-headless:80",
            1,
        )
        .unwrap();
    assert!(text.contains("dns      http-headless -> 10.244."), "{text}");
    assert!(
        !text.contains("DNAT -> 10.244") || text.contains("veth -> pod"),
        "{text}"
    );
    assert!(
        !text.contains("KUBE-SVC-"),
        "no Service chain for a headless Service: {text}"
    );
    let (rules, _) = sim.iptables_save(kubesim::model::cluster::NodeId(0));
    assert!(!rules.contains("default/http-headless"), "{rules}");
}

#[test]
fn named_target_ports_resolve_per_pod() {
    let o = kubesim(
        &root(),
        &["rules", "scenarios/multi-port-named.yaml", "--at", "30s"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let dnat = |port: &str| {
        text.lines()
            .filter(|l| {
                l.contains("\"default/shop:http\"") && l.contains("DNAT") && l.ends_with(port)
            })
            .count()
    };
    assert_eq!(dnat(":80"), 2, "v1 pods listen on 80: {text}");
    assert_eq!(dnat(":8080"), 2, "v2 pods listen on 8080: {text}");
    let served = run(&load(&root().join("scenarios/multi-port-named.yaml")));
    assert_eq!(served.requests.failed, 0);
    assert!(
        served.pods.iter().all(|p| p.served > 2_000),
        "every version serves"
    );
}

/// `internalTrafficPolicy: Local` on the in-cluster-client scenario, in each simulated proxy
/// mode: a client pod's connections to the ClusterIP only reach pods on its own node; with no
/// such pod they are dropped (the client times out).
#[test]
fn internal_traffic_policy_local_keeps_in_cluster_clients_on_their_node() {
    for mode in ["iptables", "nftables"] {
        for servers_on_node_1_only in [false, true] {
            let mut text = scenario_text("in-cluster-client.yaml")
                .replacen(
                    "  cluster:\n",
                    &format!("  cluster:\n    proxyMode: {mode}\n"),
                    1,
                )
                .replacen(
                    "  type: NodePort #",
                    "  internalTrafficPolicy: Local\n  type: NodePort #",
                    1,
                );
            if servers_on_node_1_only {
                text = text
                    .replacen(
                        "ip: 192.168.0.24\n",
                        "ip: 192.168.0.24\n        labels: {pool: a}\n",
                        1,
                    )
                    .replacen(
                        "    spec: #spec",
                        "    spec:\n      nodeSelector: {pool: a}\n    #spec",
                        1,
                    );
            }
            assert!(text.contains("internalTrafficPolicy: Local"));
            let loaded = load_text(&text);
            let mut sim = kubesim::sim::Simulation::new(loaded.scenario.clone()).unwrap();
            sim.run_until(
                kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(30),
            );
            let svc = sim
                .services()
                .iter()
                .find(|s| s.obj.meta.name == "http-svc")
                .unwrap();
            let ip = svc.cluster_ip.unwrap();
            let clients: Vec<_> = sim
                .cluster()
                .live_pods()
                .filter(|(_, p)| p.meta.labels.get("app").map(String::as_str) == Some("client"))
                .map(|(_, p)| (p.node.unwrap(), p.ip.unwrap()))
                .collect();
            assert_eq!(clients.len(), 2);
            let mut without_server = 0;
            for (node, src) in clients {
                let targets = sim.rule_targets(node, src, ip, 8080);
                without_server += usize::from(targets.is_empty());
                for pod in targets {
                    assert_eq!(sim.cluster().pod(pod).node, Some(node), "{mode}");
                }
            }
            let o = sim.into_outcome();
            if servers_on_node_1_only {
                assert_eq!(
                    without_server, 1,
                    "{mode}: node-2's client has no local server"
                );
                let timeouts = o
                    .requests
                    .failed_by_reason
                    .get("timeout")
                    .copied()
                    .unwrap_or(0);
                assert!(timeouts > 0, "{mode}: {:?}", o.requests.failed_by_reason);
                assert_eq!(timeouts, o.requests.failed, "{mode}");
            } else {
                assert_eq!(without_server, 0, "{mode}: every node has a server pod");
                assert_eq!(o.requests.failed, 0, "{mode}");
            }
        }
    }
}

/// Cluster DNS answers a name of an ExternalName Service with a CNAME to its `externalName`;
/// outside names are not resolved, so the request then fails.
#[test]
fn an_external_name_service_answers_with_a_cname() {
    let text = "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: extname\nspec:\n  duration: 20s\n  cluster:\n    nodes:\n      - {name: node-1, ip: 192.168.0.24}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, labels: {app: client}}\nspec:\n  containers: [{name: c, image: 'busybox:1.36'}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  type: ExternalName\n  externalName: db.example.com\n";
    let mut sim = kubesim::sim::Simulation::new(load_text(text).scenario).unwrap();
    sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(10));
    let from = kubesim::sim::trace::TraceFrom::Pod("client".into());
    let t = sim.trace(&from, "db:5432", 1).unwrap();
    assert!(
        t.contains("dns      db -> CNAME db.example.com (an ExternalName Service"),
        "{t}"
    );
    let t = sim
        .trace(&from, "db.default.svc.cluster.local:5432", 1)
        .unwrap();
    assert!(t.contains("-> CNAME db.example.com"), "{t}");
    let t = sim.trace(&from, "nope:5432", 1).unwrap();
    assert!(t.contains("NXDOMAIN (no such Service)"), "{t}");
}

/// Issue 14, item 9: `trace -n` ignored ClientIP affinity between its own connections (each
/// started from the run's lists again). Before the run's clients exist (traffic starts at 5 s),
/// the first traced connection's `--set` must pin the next seven to its pod, in iptables and in
/// nftables mode (affinity sets).
#[test]
fn trace_n_connections_stick_to_the_pod_of_the_first_with_client_ip_affinity() {
    for mode in ["iptables", "nftables"] {
        let text = scenario_text("session-affinity.yaml").replace(
            "  cluster:\n",
            &format!("  cluster:\n    proxyMode: {mode}\n"),
        );
        let mut sim = kubesim::sim::Simulation::new(load_text(&text).scenario).unwrap();
        sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(3));
        let text = sim
            .trace(
                &kubesim::sim::trace::TraceFrom::External,
                "192.168.0.24:30001",
                8,
            )
            .unwrap();
        let pods: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("DNAT -> "))
            .collect();
        assert_eq!(text.matches("DNAT -> ").count(), 8, "{mode}: {text}");
        assert_eq!(
            pods.len(),
            1,
            "{mode}: every connection on one pod: {pods:?}"
        );
    }
}
