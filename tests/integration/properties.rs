//! Properties over generated clusters and timelines.

use crate::util::*;
use ipnet::Ipv4Net;
use kubesim::sim::Outcome;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// A generated cluster: node count, per-Deployment replicas and service types, and a timeline
/// of pod deletions and scalings.
#[derive(Debug, Clone)]
struct Cluster {
    nodes: usize,
    deployments: Vec<(u32, bool)>,
    deletions: Vec<(u32, usize)>,
    scalings: Vec<(u32, usize, u32)>,
}

fn cluster() -> impl Strategy<Value = Cluster> {
    (
        1usize..=5,
        prop::collection::vec((0u32..=20, any::<bool>()), 1..=3),
    )
        .prop_flat_map(|(nodes, deployments)| {
            let d = deployments.len();
            (
                Just(nodes),
                Just(deployments),
                prop::collection::vec((1u32..100, 0..d), 0..6),
                prop::collection::vec((1u32..100, 0..d, 0u32..=20), 0..3),
            )
                .prop_map(|(nodes, deployments, deletions, scalings)| Cluster {
                    nodes,
                    deployments,
                    deletions,
                    scalings,
                })
        })
}

fn yaml(c: &Cluster) -> String {
    let mut s = String::from(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: generated\nspec:\n  duration: 120s\n  cluster:\n    nodes:\n",
    );
    for n in 0..c.nodes {
        s += &format!("      - {{name: node-{n}, ip: 192.168.1.{}}}\n", 10 + n);
    }
    s += "  events:\n";
    for (at, d) in &c.deletions {
        s += &format!("    - {{at: {at}s, deletePod: {{selector: app=app-{d}, pick: random}}}}\n");
    }
    for (at, d, r) in &c.scalings {
        s += &format!("    - {{at: {at}s, scale: {{deployment: app-{d}, replicas: {r}}}}}\n");
    }
    if c.deletions.is_empty() && c.scalings.is_empty() {
        s += "    []\n";
        s = s.replace("  events:\n    []\n", "  events: []\n");
    }
    for (i, (replicas, node_port)) in c.deployments.iter().enumerate() {
        s += &format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}}}\nspec:\n  replicas: {replicas}\n  \
             selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}}}}}\n    \
             spec: {{containers: [{{name: web, image: 'httpd:2.4', ports: [{{containerPort: 80}}]}}]}}\n"
        );
        let kind = if *node_port { "NodePort" } else { "ClusterIP" };
        s += &format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}}}\nspec:\n  type: {kind}\n  \
             selector: {{app: app-{i}}}\n  ports: [{{port: 80}}]\n"
        );
    }
    s
}

fn check_addresses(o: &Outcome) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for p in &o.pods {
        let (Some(ip), Some(node)) = (p.ip, p.node.as_ref()) else {
            continue;
        };
        let cidr: Ipv4Net = o
            .nodes
            .iter()
            .find(|n| &n.name == node)
            .unwrap()
            .pod_cidr
            .parse()
            .unwrap();
        prop_assert!(cidr.contains(&ip), "{ip} of {} outside {cidr}", p.name);
        prop_assert!(ip != cidr.network() && ip != Ipv4Addr::from(u32::from(cidr.network()) + 1));
        // host-local does not reuse a freed address until the range wraps (253 addresses).
        prop_assert!(seen.insert(ip), "{ip} handed out twice");
    }
    let service_cidr: Ipv4Net = "10.96.0.0/12".parse().unwrap();
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for s in &o.services {
        let ip = s.cluster_ip.unwrap();
        prop_assert!(service_cidr.contains(&ip) && ip != service_cidr.network());
        prop_assert!(ips.insert(ip), "ClusterIP {ip} twice");
        for p in &s.ports {
            if let Some(np) = p.node_port {
                prop_assert!((30000..=32767).contains(&np));
                prop_assert!(ports.insert(np), "nodePort {np} twice");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, rng_seed: RngSeed::Fixed(11), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pod_ips_are_unique_and_inside_their_nodes_cidr(c in cluster()) {
        let o = run(&load_text(&yaml(&c)));
        check_addresses(&o)?;
        // The ReplicaSets end with the replicas asked for (capacity is ample).
        for (i, (replicas, _)) in c.deployments.iter().enumerate() {
            let want = c.scalings.iter().filter(|(_, d, _)| *d == i).max_by_key(|(at, _, _)| *at).map_or(*replicas, |s| s.2);
            let live = o.pods.iter().filter(|p| p.owner.as_deref() == Some(&format!("app-{i}")) && p.deleted.is_none()).count();
            prop_assert_eq!(live as u32, want, "app-{}", i);
        }
    }
}

/// A generated timeline for the seed objects on three nodes.
fn timeline() -> impl Strategy<Value = Vec<(u32, String)>> {
    let action = prop_oneof![
        Just("deletePod: {selector: app=http-label, pick: random}".to_string()),
        Just("killContainer: {selector: app=http-label, pick: random}".to_string()),
        (0u32..=6).prop_map(|r| format!("scale: {{deployment: http-deployment, replicas: {r}}}")),
        (1u32..=3).prop_map(|n| format!("nodeDown: {{node: node-{n}}}")),
        (1u32..=3).prop_map(|n| format!("nodeUp: {{node: node-{n}}}")),
    ];
    prop::collection::vec((1u32..140, action), 0..8)
}

fn timeline_yaml(events: &[(u32, String)], seed: u64) -> String {
    timeline_yaml_in(events, seed, "iptables")
}

/// The proxy modes whose rules the simulator walks.
const MODES: [&str; 2] = ["iptables", "nftables"];

/// [`timeline_yaml`] with `proxyMode: mode`.
fn timeline_yaml_in(events: &[(u32, String)], seed: u64, mode: &str) -> String {
    let mut text = scenario_text("seed-tutorial-3-nodes.yaml")
        .replace("duration: 70s", "duration: 150s")
        .replace("rate: 1000/s", "rate: 50/s")
        .replace("seed: 42", &format!("seed: {seed}"))
        .replacen(
            "  cluster:\n",
            &format!("  cluster:\n    proxyMode: {mode}\n"),
            1,
        );
    let mut block = String::from("  events:\n");
    for (at, action) in events {
        block += &format!("    - at: {at}s\n      {action}\n");
    }
    if !events.is_empty() {
        text = text.replacen("---\n", &format!("{block}---\n"), 1);
    }
    text
}

/// The pods a Service should route to as the API shows them now: the ready, not terminating
/// ones it selects; if none, the ready (serving) terminating ones.
fn expected_endpoints(sim: &kubesim::sim::Simulation, service: usize) -> BTreeSet<u32> {
    let svc = &sim.services()[service].obj;
    let selected: Vec<(u32, bool)> = sim
        .cluster()
        .live_pods()
        .filter(|(_, p)| p.meta.namespace == svc.meta.namespace && p.ip.is_some())
        .filter(|(_, p)| {
            kubesim::model::objects::service_selects(&svc.spec.selector, &p.meta.labels)
        })
        .filter(|(_, p)| p.ready)
        .map(|(id, p)| (id.0, p.deleted.is_some()))
        .collect();
    let ready: BTreeSet<u32> = selected
        .iter()
        .filter(|(_, t)| !t)
        .map(|(id, _)| *id)
        .collect();
    if ready.is_empty() {
        selected
            .iter()
            .filter(|(_, t)| *t)
            .map(|(id, _)| *id)
            .collect()
    } else {
        ready
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, rng_seed: RngSeed::Fixed(12), failure_persistence: None, ..ProptestConfig::default() })]

    /// At every moment, in each proxy mode, each node routes a Service's new connections to
    /// exactly the pods that were selected and ready when that node's kube-proxy last synced
    /// (when the sync in force started: its rules reach the kernel a little later):
    /// both the endpoints its proxy took (`routable_pods`) and every DNAT its rules can make
    /// for a pod calling the ClusterIP (`rule_targets`, all random draws explored). So routing
    /// never reaches a pod outside the selector or not ready in the data plane's view.
    #[test]
    fn routable_endpoints_are_the_ready_pods_of_the_data_planes_view(events in timeline()) {
      for mode in MODES {
        let loaded = load_text(&timeline_yaml_in(&events, 7, mode));
        let mut sim = kubesim::sim::Simulation::new(loaded.scenario.clone()).unwrap();
        let svc = sim.services().iter().position(|s| s.obj.meta.name == "http-svc").unwrap();
        let cluster_ip = sim.services()[svc].cluster_ip.unwrap();
        let nodes = sim.cluster().nodes.len();
        let mut seen = vec![0u64; nodes];
        let mut read = vec![0u64; nodes];
        // What a sync read when it started, until it is programmed.
        let mut pending: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); nodes];
        let mut want: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); nodes];
        while sim.step().is_some() {
            for (n, w) in want.iter_mut().enumerate() {
                let node = kubesim::model::cluster::NodeId(n as u32);
                let reads = sim.proxy_reads(node);
                if reads != read[n] {
                    read[n] = reads;
                    pending[n] = expected_endpoints(&sim, svc);
                }
                let (syncs, _) = sim.proxy_syncs(node);
                if syncs != seen[n] {
                    seen[n] = syncs;
                    *w = pending[n].clone();
                }
                let got: BTreeSet<u32> = sim.routable_pods(node, svc, 0).into_iter().map(|p| p.0).collect();
                prop_assert_eq!(&got, &*w, "{} node {} at {}", mode, n, sim.now());
                let by_rules: BTreeSet<u32> = sim
                    .rule_targets(node, Ipv4Addr::new(10, 244, 200, 1), cluster_ip, 8080)
                    .into_iter()
                    .map(|p| p.0)
                    .collect();
                prop_assert_eq!(&by_rules, &*w, "{} rules of node {} at {}", mode, n, sim.now());
            }
        }
        let o = sim.into_outcome();
        // Every request is counted once: served, failed or still in flight.
        prop_assert_eq!(o.requests.sent, o.requests.served + o.requests.failed + o.requests.in_flight);
        let failed: u64 = o.requests.failed_by_reason.values().sum();
        prop_assert_eq!(failed, o.requests.failed);
        for s in &o.streams {
            prop_assert!(s.served + s.failed <= s.sent);
        }
      }
    }

    /// With `externalTrafficPolicy: Local`, in each proxy mode, traffic from outside the
    /// cluster never crosses nodes: at every moment every pod a node's rules can DNAT a
    /// NodePort connection from an outside client to runs on that node (or there is none and
    /// the packet is dropped); the run's requests then all stay on their entry node.
    #[test]
    fn a_local_policy_keeps_outside_traffic_on_its_entry_node(events in timeline()) {
      for mode in MODES {
        let text = timeline_yaml_in(&events, 11, mode)
            .replacen("  type: NodePort", "  type: NodePort\n  externalTrafficPolicy: Local", 1);
        let mut sim = kubesim::sim::Simulation::new(load_text(&text).scenario).unwrap();
        let node_ips: Vec<Ipv4Addr> = sim.cluster().nodes.iter().map(|n| n.cfg.ip).collect();
        let mut local_targets = 0u64;
        while sim.step().is_some() {
            for (n, &ip) in node_ips.iter().enumerate() {
                let node = kubesim::model::cluster::NodeId(n as u32);
                for pod in sim.rule_targets(node, Ipv4Addr::new(203, 0, 113, 1), ip, 30001) {
                    local_targets += 1;
                    let on = sim.cluster().pod(pod).node;
                    prop_assert_eq!(on, Some(node), "{} at {}: node {} sends to a pod elsewhere", mode, sim.now(), n);
                }
            }
        }
        // Not vacuous: the seed's pods start one per node, before any event.
        prop_assert!(local_targets > 0);
      }
    }

    /// The same seed gives the same event log and the same figures.
    #[test]
    fn the_same_seed_gives_the_same_event_log(events in timeline(), seed in 0u64..1000) {
        let loaded = load_text(&timeline_yaml(&events, seed));
        let (a, b) = (run(&loaded), run(&loaded));
        prop_assert_eq!(&a.events, &b.events);
        prop_assert_eq!(&a.requests, &b.requests);
        prop_assert_eq!(kubesim::report::summary_json(&a), kubesim::report::summary_json(&b));
    }
}

/// A cluster in IPVS mode with rr: nodes, replicas, and streams of outside clients to some
/// nodes' NodePort, with or without kept-alive connections.
/// A stream of outside clients: (node index, clients, requests/s, kept-alive connections).
type IpvsStream = (usize, u32, u32, bool);

fn ipvs_cluster() -> impl Strategy<Value = (usize, usize, Vec<IpvsStream>, u64)> {
    (1usize..=3, 1usize..=5).prop_flat_map(|(nodes, replicas)| {
        (
            Just(nodes),
            Just(replicas),
            prop::collection::vec((0..nodes, 1u32..=20, 20u32..=400, any::<bool>()), 1..=3),
            0u64..1000,
        )
    })
}

fn ipvs_yaml(
    nodes: usize,
    replicas: usize,
    streams: &[(usize, u32, u32, bool)],
    seed: u64,
) -> String {
    let mut y = format!(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: ipvs-prop\nspec:\n  seed: {seed}\n  duration: 60s\n  cluster:\n    proxyMode: ipvs\n    nodes:\n"
    );
    for n in 0..nodes {
        y.push_str(&format!(
            "      - name: node-{n}\n        ip: 192.168.0.{}\n",
            24 + n
        ));
    }
    y.push_str("  traffic:\n");
    for (i, (node, clients, rate, reuse)) in streams.iter().enumerate() {
        y.push_str(&format!(
            "    - name: s{i}\n      clients: {clients}\n      to: 192.168.0.{}:30001\n      rate: {rate}/s\n      start: 5s\n      connections: {{reuse: {reuse}}}\n",
            24 + node
        ));
    }
    y.push_str(&format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector: {{app: web}}\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30001\n"
    ));
    y
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: RngSeed::Fixed(13), failure_persistence: None, ..ProptestConfig::default() })]

    /// IPVS rr cycles each virtual server's real servers on its own: while the endpoints do
    /// not change, each virtual server's new connections (active + inactive: none expires in
    /// a 60 s run, TIME_WAIT lasts 2 min) reach its real servers in counts that differ by at
    /// most one.
    #[test]
    fn ipvs_rr_spreads_each_virtual_servers_connections_within_one((nodes, replicas, streams, seed) in ipvs_cluster()) {
        let loaded = load_text(&ipvs_yaml(nodes, replicas, &streams, seed));
        let mut sim = kubesim::sim::Simulation::new(loaded.scenario).unwrap();
        sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(60));
        let now = sim.now().as_nanos();
        let mut total = 0u64;
        for n in 0..nodes {
            let table = sim.ipvs_table(kubesim::model::cluster::NodeId(n as u32)).expect("ipvs mode");
            // The scenario's Services: kube-dns (10.96.0.10) has the CoreDNS add-on's 2 pods.
            for vs in table.virtual_servers().iter().filter(|v| !v.removed && v.addr.to_string() != "10.96.0.10") {
                let counts: Vec<u64> = vs
                    .list()
                    .map(|d| u64::from(d.active) + u64::from(d.inactive(now)))
                    .collect();
                if counts.is_empty() {
                    continue;
                }
                prop_assert_eq!(counts.len(), replicas);
                let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                prop_assert!(max - min <= 1, "{}:{} {:?}", vs.addr, vs.port, counts);
                total += counts.iter().sum::<u64>();
            }
        }
        // Every stream's node got connections: the property is not vacuous.
        prop_assert!(total > 0);
    }
}

/// One ClusterIP Service with `sessionAffinity: ClientIP` (`timeout_s`) over `n` ready pods.
fn affinity_input(n: usize, timeout_s: u32) -> kubesim::net::iptables::NodeProxyInput {
    use kubesim::net::iptables::ProxyServicePort;
    use kubesim::net::testkit::{ep, node, svc};
    let eps = (0..n)
        .map(|i| ep(&format!("10.244.0.{}", 2 + i), 80, true))
        .collect();
    node(vec![ProxyServicePort {
        affinity_timeout_seconds: Some(timeout_s),
        ..svc("http-svc", "10.96.24.104", 8080, eps)
    }])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: RngSeed::Fixed(21), failure_persistence: None, ..ProptestConfig::default() })]

    /// `sessionAffinity: ClientIP`, in iptables (`-m recent`) and nftables (affinity sets) mode:
    /// while its pods stay ready, every new connection of a client made less than
    /// `timeoutSeconds` after its previous one goes to the pod the previous one went to. Gaps
    /// of up to twice the timeout are generated, so entries also expire and clients move.
    #[test]
    fn client_ip_affinity_keeps_a_client_on_one_pod_within_the_timeout(
        n in 2usize..6,
        timeout_s in 1u32..60,
        steps in prop::collection::vec((0u8..4, 0u32..2000), 1..80),
        seed in any::<u64>(),
    ) {
        use kubesim::net::iptables::{AffinityTable, IptablesRules, Packet, Verdict};
        use kubesim::net::nftables::NftRuleset;
        use rand::SeedableRng;
        let input = affinity_input(n, timeout_s);
        let ipt = IptablesRules::build(&input);
        let nft = NftRuleset::build(&input, "10.96.0.0/12".parse().unwrap());
        for mode in ["iptables", "nftables"] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut affinity = AffinityTable::new();
            // Per client: the pod of its last connection and when it was made.
            let mut last: [Option<(Ipv4Addr, u64)>; 4] = [None; 4];
            let mut now: u64 = 0;
            for &(client, gap) in &steps {
                // A gap of 0 to 2 x timeout, in thousandths of the timeout.
                now += u64::from(timeout_s) * 1_000_000_000 * u64::from(gap) / 1000;
                let pkt = Packet {
                    src: Ipv4Addr::new(10, 244, 1, 10 + client),
                    src_port: 40000,
                    dst: Ipv4Addr::new(10, 96, 24, 104),
                    dst_port: 8080,
                    protocol: kubesim::model::objects::Protocol::Tcp,
                    local_origin: false,
                };
                let v = match mode {
                    "iptables" => ipt.route(&pkt, &mut rng, &mut affinity, now),
                    _ => nft.route(&pkt, &mut rng, &mut affinity, now),
                };
                let Verdict::Dnat { ip, .. } = v else {
                    return Err(TestCaseError::fail(format!("{mode}: no DNAT: {v:?}")));
                };
                if let Some((pod, at)) = last[client as usize] {
                    let within = now - at < u64::from(timeout_s) * 1_000_000_000;
                    prop_assert!(!within || ip == pod, "{mode}: client {client} moved from {pod} to {ip} {} ns after its last connection (timeout {timeout_s} s)", now - at);
                }
                last[client as usize] = Some((ip, now));
            }
        }
    }
}
