//! How kubesim's work grows with the cluster, proven by counting work, never by timing.

use crate::util::load_text;
use kubesim::engine::{SimDuration, SimTime};
use kubesim::sim::{ProxyWork, Simulation};

/// `nodes` nodes and `services` Deployments of 2 replicas, each behind its own ClusterIP
/// Service; one pod of `app-0` is deleted at 10 s; 20 s in all.
fn cluster(nodes: usize, services: usize, proxy_mode: &str) -> String {
    let mut s = format!(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: scale}}\nspec:\n  duration: 20s\n  cluster:\n    proxyMode: {proxy_mode}\n    nodes:\n"
    );
    for i in 0..nodes {
        s += &format!(
            "      - {{name: node-{i}, ip: 192.168.{}.{}}}\n",
            i / 200,
            i % 200 + 1
        );
    }
    s += "  events:\n    - at: 10s\n      deletePod: {selector: app=app-0, pick: oldest}\n";
    for k in 0..services {
        s += &format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{k}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: app-{k}}}}}\n  template:\n    metadata: {{labels: {{app: app-{k}}}}}\n    spec:\n      containers: [{{name: web, image: nginx:1.27, ports: [{{containerPort: 80}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{k}}}\nspec:\n  selector: {{app: app-{k}}}\n  ports: [{{port: 80}}]\n"
        );
    }
    s
}

/// The work kube-proxy's side did: until 9 s (start-up), and from then to the end (one pod
/// deleted and replaced).
fn work(nodes: usize, services: usize, mode: &str) -> (ProxyWork, ProxyWork) {
    let loaded = load_text(&cluster(nodes, services, mode));
    let mut sim = Simulation::new(loaded.scenario).expect("valid cluster");
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(9));
    let start = sim.proxy_work();
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(20));
    let all = sim.proxy_work();
    let after = ProxyWork {
        generations: all.generations - start.generations,
        ports_read: all.ports_read - start.ports_read,
        pieces_built: all.pieces_built - start.pieces_built,
        rules_built: all.rules_built - start.rules_built,
        node_syncs: all.node_syncs - start.node_syncs,
    };
    (start, after)
}

/// kube-proxy's rules are built once for the cluster, not once per node: the same Services on
/// four times the nodes build exactly the same rules; twice the Services build twice the
/// rules. A pod replaced later rebuilds its own Service's rules only, whatever the size.
#[test]
fn rules_are_built_per_service_change_not_per_node() {
    let (small, small_after) = work(10, 50, "iptables");
    let (wide, wide_after) = work(40, 50, "iptables");
    let (big, big_after) = work(20, 100, "iptables");
    let (bigger, bigger_after) = work(40, 200, "iptables");
    // Start-up: the rules built do not depend on the number of nodes...
    assert_eq!(wide.rules_built, small.rules_built, "{small:?} vs {wide:?}");
    assert!(wide.node_syncs > small.node_syncs);
    // ...and grow in proportion to the Services (within 10 %: the fixed chains and the
    // syncs' timing vary a little).
    for (a, b) in [(small, big), (big, bigger)] {
        let ratio = b.rules_built as f64 / a.rules_built as f64;
        assert!((1.8..=2.2).contains(&ratio), "{a:?} -> {b:?}: x{ratio:.2}");
    }
    // A deleted pod and its replacement re-read and rebuild one Service port each time the
    // Service changes, at every size.
    for after in [small_after, wide_after, big_after, bigger_after] {
        assert!(after.ports_read >= 1, "{after:?}");
        assert_eq!(after.pieces_built, after.ports_read, "{after:?}");
        assert!(
            after.ports_read <= 4,
            "only app-0's Service changes: {after:?}"
        );
    }
    assert_eq!(small_after.rules_built, bigger_after.rules_built);
}

/// nftables mode reads the Services the same way: what a change costs does not grow with
/// the Services.
#[test]
fn nftables_reads_only_the_changed_services() {
    let (_, small_after) = work(10, 50, "nftables");
    let (_, big_after) = work(20, 200, "nftables");
    assert!(small_after.ports_read >= 1 && small_after.ports_read <= 4);
    assert_eq!(small_after.ports_read, big_after.ports_read);
    assert_eq!(
        big_after.pieces_built, 0,
        "nftables mode builds no iptables pieces"
    );
}

/// A Service's endpoints come in EndpointSlices of at most 100, and a pod replaced (the old
/// one still terminating, the new one added) changes one slice, not all (upstream's
/// reconciler, `reconcileByPortMapping`).
#[test]
fn endpoint_slices_hold_100_and_change_one_at_a_time() {
    let text = cluster(3, 1, "iptables").replace("replicas: 2", "replicas: 250");
    let mut sim = Simulation::new(load_text(&text).scenario).expect("valid cluster");
    let svc = sim
        .services()
        .iter()
        .position(|s| s.obj.meta.name == "svc-0")
        .expect("svc-0 exists");
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(9));
    let before = sim.endpoint_slices(svc).to_vec();
    let sizes: Vec<usize> = before.iter().map(|s| s.pods.len()).collect();
    assert_eq!(sizes, [100, 100, 50], "{before:?}");
    assert!(before
        .iter()
        .all(|s| s.name.starts_with("svc-0-") && s.name.len() == 11));
    sim.run_until(SimTime::ZERO + SimDuration::from_secs(20));
    let after = sim.endpoint_slices(svc);
    let same = before.iter().zip(after).filter(|(a, b)| a == b).count();
    assert_eq!(after.len(), 3);
    assert_eq!(same, 2, "one slice changed, the others kept: {after:?}");
}

/// The scheduler's work for a generated cluster: (placements, nodes filtered).
fn scheduler_work(nodes: u32, services: u32, replicas: u32) -> (u64, u64) {
    use kubesim::scenario::generate::{generate, GenerateOptions, PodCount};
    let text = generate(&GenerateOptions {
        nodes,
        services,
        pods: PodCount::PerDeployment(replicas),
        ..GenerateOptions::default()
    })
    .expect("valid options");
    let sim = kubesim::sim::Simulation::new(crate::util::load_text(&text).scenario)
        .expect("no API errors");
    let w = sim.scheduler_work();
    assert!(sim.cluster().live_pods().all(|(_, p)| p.node.is_some()));
    (w.attempts, w.nodes_filtered)
}

/// `n log n` from `a` to `b`: how much a cost growing as `n log n` may grow.
fn n_log_n_ratio(a: f64, b: f64) -> f64 {
    (b * b.ln()) / (a * a.ln())
}

#[test]
fn a_placement_examines_upstreams_sample_of_nodes_whatever_the_number_of_pods() {
    use kubesim::model::scheduler::num_feasible_nodes_to_find;
    // Pods: 200 nodes, 10 Deployments of 10, 20 and 40 replicas. Each
    // placement filters the 100 nodes upstream looks for, so the work is linear in pods
    // (before, each placement rescanned every pod: quadratic).
    let mut last: Option<(u64, u64)> = None;
    for replicas in [10, 20, 40] {
        let (placed, filtered) = scheduler_work(200, 10, replicas);
        // The Deployments' pods and the CoreDNS add-on's two.
        let addon = u64::from(kubesim::sim::addons::COREDNS_REPLICAS);
        assert_eq!(placed, 10 * u64::from(replicas) + addon);
        assert_eq!(filtered, placed * 100, "{replicas} replicas");
        if let Some((p0, f0)) = last {
            let growth = filtered as f64 / f0 as f64;
            assert!(
                growth <= n_log_n_ratio(p0 as f64, placed as f64),
                "{growth}"
            );
        }
        last = Some((placed, filtered));
    }
    // Nodes: 500, 1,000 and 2,000 nodes, 500 pods: each placement filters
    // numFeasibleNodesToFind nodes (46%, 42%, then 34% of them), so the work grows more
    // slowly than the nodes do.
    let mut last: Option<(f64, u64)> = None;
    for nodes in [500u32, 1_000, 2_000] {
        let (placed, filtered) = scheduler_work(nodes, 10, 50);
        // The Deployments' 500 pods and the CoreDNS add-on's two.
        assert_eq!(
            placed,
            500 + u64::from(kubesim::sim::addons::COREDNS_REPLICAS)
        );
        let per_placement = num_feasible_nodes_to_find(nodes as usize) as u64;
        assert_eq!(filtered, placed * per_placement, "{nodes} nodes");
        if let Some((n0, f0)) = last {
            let growth = filtered as f64 / f0 as f64;
            assert!(growth < f64::from(nodes) / n0, "{nodes} nodes: {growth}");
        }
        last = Some((f64::from(nodes), filtered));
    }
}
