//! Service semantics: traffic policies and session affinity.

use crate::util::*;
use kubesim::sim::Outcome;

#[test]
fn external_traffic_policy_local_keeps_traffic_on_the_entry_node() {
    let o = run(&load(&root().join("scenarios/external-traffic-local.yaml")));
    let on = |node: &str| -> Vec<u64> {
        scenario_pods(&o)
            .filter(|p| p.node.as_deref() == Some(node))
            .map(|p| p.served)
            .collect()
    };
    let (n1, n2, n3) = (on("node-1"), on("node-2"), on("node-3"));
    // The CoreDNS add-on's two pods run on node-1 and node-3, so the scheduler's scoring puts
    // two replicas on the least loaded node-2.
    assert_eq!(
        (n1.len(), n2.len(), n3.len()),
        (1, 2, 1),
        "two replicas share node-2"
    );
    // Each node's pods share that node's visitors only: node-2's two get half as much each.
    for half in &n2 {
        let ratio = *half as f64 / n1[0] as f64;
        assert!((0.45..0.55).contains(&ratio), "{n2:?} vs {n1:?}");
    }
    assert!((n1[0] as f64 / n3[0] as f64 - 1.0).abs() < 0.05);
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
    let shares: Vec<f64> = scenario_pods(&o)
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
    let counts: Vec<u64> = scenario_pods(&o)
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
        scenario_pods(&served).all(|p| p.served > 2_000),
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
    // No such Service: CoreDNS answers NXDOMAIN for the three names in the cluster's domain
    // (the search list) and forwards the bare name out of the cluster, which is not modelled.
    let t = sim.trace(&from, "nope:5432", 1).unwrap();
    assert_eq!(t.matches("NXDOMAIN from pod coredns-").count(), 3, "{t}");
    assert!(t.contains("query nope (A and AAAA"), "{t}");
    assert!(t.contains("forwards it out of the cluster"), "{t}");
    assert!(t.contains("dns      nope: the lookup fails after"), "{t}");
}

/// Issue 14, item 1: a numeric `targetPort` needs no declared `containerPort` (upstream's
/// `FindPort` returns a number as it is). Before the fix the Service had no endpoints and every
/// request was refused while its pods ran.
#[test]
fn numeric_target_port_needs_no_declared_container_port() {
    let app = srv_app(2, "").replace("          ports: [{containerPort: 8080}]\n", "");
    assert!(!app.contains("containerPort"), "{app}");
    let o = run(&load_text(&format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: no-ports}}
spec:
  duration: 20s
  cluster:
    nodes: [{{name: n1, ip: 192.168.0.10}}]
  traffic:
    - {{name: web, from: external, to: "192.168.0.10:30080", rate: 50/s, start: 5s}}
{app}"#
    )));
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests);
    assert!(o.requests.served > 500, "{:?}", o.requests);
    assert_eq!(served_counts(&o).len(), 2);
}

/// Issue 14, item 11: `publishNotReadyAddresses: true` keeps a terminating pod's endpoint ready
/// (`podToEndpoint`: `ready := publishNotReadyAddresses || (serving && !terminating)`). Two pods,
/// one deleted at 10 s with a 20 s `preStop` sleep (it keeps serving meanwhile): with the field
/// it still gets new connections between 12 s and 25 s; without it, none.
#[test]
fn publish_not_ready_addresses_keeps_a_terminating_endpoint_ready() {
    let text = |publish: bool| {
        let app = srv_app(
            2,
            "          lifecycle: {preStop: {sleep: {seconds: 20}}}\n",
        )
        .replace(
            "  type: NodePort\n",
            &format!("  type: NodePort\n  publishNotReadyAddresses: {publish}\n"),
        );
        format!(
            r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: publish}}
spec:
  duration: 25s
  cluster:
    nodes: [{{name: n1, ip: 192.168.0.10}}]
  traffic:
    - {{name: web, from: external, to: "192.168.0.10:30080", rate: 100/s, start: 3s}}
  events:
    - {{at: 10s, deletePod: {{selector: app=srv, pick: oldest}}}}
{app}"#
        )
    };
    let late = |o: &Outcome| -> u64 {
        // The timeline's rows hold every pod, the CoreDNS add-on's included.
        let deleted = o
            .pods
            .iter()
            .position(|p| p.deleted.is_some())
            .expect("a deleted pod");
        let bucket = o.timeline.bucket.as_secs_f64();
        o.timeline
            .served
            .iter()
            .enumerate()
            .filter(|(b, _)| *b as f64 * bucket >= 12.0)
            .map(|(_, row)| row.get(deleted).copied().unwrap_or(0))
            .sum()
    };
    let with = run(&load_text(&text(true)));
    let without = run(&load_text(&text(false)));
    assert_eq!(late(&without), 0, "{:?}", without.pods);
    assert!(late(&with) > 200, "{}: {:?}", late(&with), with.pods);
    assert_eq!(with.requests.failed, 0, "{:?}", with.requests);
}

/// A LoadBalancer Service with `externalTrafficPolicy: Local` whose only pod runs on the second
/// node (issue 14, point 2: every request was lost when the load balancer sent them all to the
/// first node). The API server gives it a health check node port, every node's kube-proxy lets
/// it in, and the load balancer sends connections only to the node whose `/healthz` answers
/// 200: after its first probe that answers (8 s), everything is served, in every proxy mode.
#[test]
fn a_local_load_balancer_sends_only_to_nodes_whose_health_check_passes() {
    for mode in ["iptables", "nftables", "ipvs"] {
        let text = format!(
            "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: lb-local\nspec:\n  duration: 40s\n  cluster:\n    proxyMode: {mode}\n    loadBalancerIPs: 192.168.0.240/29\n    nodes:\n      - {{name: node-1, ip: 192.168.0.24}}\n      - {{name: node-2, ip: 192.168.0.25}}\n      - {{name: node-3, ip: 192.168.0.26}}\n  traffic:\n    - {{name: via-lb, from: external, clients: 20, to: 192.168.0.241:80, rate: 100/s, start: 10s}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      nodeSelector: {{kubernetes.io/hostname: node-2}}\n      containers: [{{name: web, image: 'nginx:1.27', ports: [{{containerPort: 80}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  selector: {{app: web}}\n  ports: [{{port: 80, nodePort: 30080}}]\n"
        );
        let loaded = load_text(&text);
        let mut sim = kubesim::sim::Simulation::new(loaded.scenario.clone()).unwrap();
        let svc = sim
            .services()
            .iter()
            .find(|s| s.obj.meta.name == "web")
            .unwrap();
        let hc = svc
            .health_check_node_port
            .expect("a health check node port is allocated");
        assert!((30000..=32767).contains(&hc) && hc != 30080, "{hc}");
        sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(20));
        let node1 = sim.cluster().node_by_name("node-1").unwrap();
        let (rules, _) = sim.iptables_save(node1);
        let accept = format!("-A KUBE-NODEPORTS -p tcp -m comment --comment \"default/web health check node port\" -m tcp --dport {hc} -j ACCEPT");
        assert!(rules.lines().any(|l| l == accept), "{mode}: {rules}");
        let t = sim
            .trace(
                &kubesim::sim::trace::TraceFrom::External,
                "192.168.0.241:80",
                3,
            )
            .unwrap();
        assert_eq!(
            t.matches("the connection's hash picks node-2").count(),
            3,
            "{mode}: {t}"
        );
        let o = sim.into_outcome();
        let s = &o.streams[0];
        assert!(s.sent > 2500, "{mode}: {}", s.sent);
        assert_eq!(s.failed, 0, "{mode}: {:?}", s.failed_by_reason);
        assert_eq!(s.served, s.sent, "{mode}");
    }
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

/// Issue 14, item 5: cluster DNS is the CoreDNS add-on, as kubeadm installs it: two pods in
/// `kube-system` that take the first pod IPs of their nodes, and each lookup a UDP query
/// through the client node's rules to one of them, in resolv.conf's order (ndots:5). Without
/// the add-on (`addons: []`) the kube-dns rule REJECTs and every lookup fails. Before: no
/// CoreDNS pod, names answered without any packet.
#[test]
fn cluster_dns_is_coredns_pods_reached_through_the_rules() {
    let o = run(&load(&root().join("scenarios/in-cluster-client.yaml")));
    let dns: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.namespace == "kube-system")
        .collect();
    assert_eq!(dns.len(), 2, "{dns:?}");
    assert!(dns.iter().all(|p| p.name.starts_with("coredns-")));
    let mut ips: Vec<String> = dns
        .iter()
        .filter_map(|p| p.ip.map(|i| i.to_string()))
        .collect();
    ips.sort();
    assert_eq!(ips, ["10.244.0.2", "10.244.1.2"]);
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests);

    let without = scenario_text("in-cluster-client.yaml")
        .replace("  cluster:\n", "  cluster:\n    addons: []\n");
    let o = run(&load_text(&without));
    assert!(o.pods.iter().all(|p| p.namespace != "kube-system"));
    assert!(o.requests.sent > 0);
    assert_eq!(
        o.requests.failed_by_reason.get("dns_failure"),
        Some(&o.requests.failed),
        "{:?}",
        o.requests
    );
    assert_eq!(o.requests.served, 0);

    let (sim, client) = sim_at_with_pod("in-cluster-client.yaml", 30, "client");
    let from = kubesim::sim::trace::TraceFrom::Pod(client);
    let short = sim.trace(&from, "http-svc:8080", 1).unwrap();
    assert_eq!(short.matches("dns      query ").count(), 1, "{short}");
    assert!(short.contains("answered by pod coredns-"), "{short}");
    assert!(short.contains("conntrack: udp      17 30 "), "{short}");
    // Four dots, fewer than ndots:5: the three search domains first.
    let full = sim
        .trace(&from, "http-svc.default.svc.cluster.local:8080", 1)
        .unwrap();
    assert_eq!(full.matches("dns      query ").count(), 4, "{full}");
    assert_eq!(
        full.matches("NXDOMAIN from pod coredns-").count(),
        3,
        "{full}"
    );
}

/// A Simulation of `text` run to `secs`, and the name of a pod labelled `app=client`.
fn sim_of_text_with_client(text: &str, secs: u64) -> (kubesim::sim::Simulation, String) {
    let mut sim = kubesim::sim::Simulation::new(load_text(text).scenario).unwrap();
    sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(secs));
    let pod = sim
        .cluster()
        .live_pods()
        .find(|(_, p)| p.meta.labels.get("app").map(String::as_str) == Some("client"))
        .expect("a client pod")
        .1
        .meta
        .name
        .clone();
    (sim, pod)
}

/// Issue 14, item 5: `dnsPolicy` and `dnsConfig` make the resolv.conf as the kubelet writes
/// it (`pkg/kubelet/network/dns/dns.go`). `Default`: the node's resolv.conf, so a cluster
/// name never reaches CoreDNS and the lookup fails. `None` with a `dnsConfig` naming the
/// cluster DNS, one search domain and `ndots:1`: the full name (4 dots) is asked as written
/// first, one query instead of four. Before: every pod was `ClusterFirst` whatever it said.
#[test]
fn dns_policy_and_dns_config_make_the_resolv_conf() {
    let client_spec = "    spec:\n      containers:\n      - name: curl\n";
    let with = |extra: &str| {
        let text = scenario_text("in-cluster-client.yaml");
        assert!(text.contains(client_spec));
        text.replacen(
            client_spec,
            &format!("    spec:\n{extra}      containers:\n      - name: curl\n"),
            1,
        )
    };

    let default = with("      dnsPolicy: Default\n");
    let o = run(&load_text(&default));
    assert!(o.requests.sent > 0);
    assert_eq!(o.requests.served, 0, "{:?}", o.requests);
    assert_eq!(
        o.requests.failed_by_reason.get("dns_failure"),
        Some(&o.requests.failed),
        "{:?}",
        o.requests
    );
    let (sim, client) = sim_of_text_with_client(&default, 30);
    let from = kubesim::sim::trace::TraceFrom::Pod(client);
    let t = sim.trace(&from, "http-svc:8080", 1).unwrap();
    assert!(!t.contains("coredns-"), "{t}");
    // No search domains on the node: `http-svc` is asked as written, once.
    assert_eq!(t.matches("dns      query ").count(), 1, "{t}");
    assert!(t.contains("the node's nameserver"), "{t}");

    let none = with(
        "      dnsPolicy: None\n      dnsConfig:\n        nameservers: [10.96.0.10]\n        searches: [default.svc.cluster.local]\n        options: [{name: ndots, value: \"1\"}]\n",
    );
    let o = run(&load_text(&none));
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests);
    let (sim, client) = sim_of_text_with_client(&none, 30);
    let from = kubesim::sim::trace::TraceFrom::Pod(client);
    let t = sim
        .trace(&from, "http-svc.default.svc.cluster.local:8080", 1)
        .unwrap();
    assert_eq!(t.matches("dns      query ").count(), 1, "{t}");
    assert!(t.contains("answered by pod coredns-"), "{t}");
    // The one search domain: `http-svc` (no dot, fewer than ndots:1) is found through it.
    let t = sim.trace(&from, "http-svc:8080", 1).unwrap();
    assert!(
        t.contains("dns      query http-svc.default.svc.cluster.local "),
        "{t}"
    );

    // hostNetwork under ClusterFirst falls back to the node's resolv.conf; with
    // ClusterFirstWithHostNet it asks CoreDNS through the node's own rules.
    let host = with("      hostNetwork: true\n");
    let o = run(&load_text(&host));
    assert_eq!(o.requests.served, 0, "{:?}", o.requests);
    let host_first = with("      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n");
    let o = run(&load_text(&host_first));
    assert!(o.requests.served > 0, "{:?}", o.requests);
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests);
}
