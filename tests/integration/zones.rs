//! Zones: topology-aware routing (`trafficDistribution`, hints) and the cost of crossing zones.

use crate::util::*;
use kubesim::sim::Outcome;

const SCENARIO: &str = "topology-aware-routing.yaml";

fn run_text(text: &str) -> Outcome {
    run(&load_text(text))
}

/// Requests that stayed in their zone and that crossed zones.
fn split(o: &Outcome) -> (u64, u64) {
    let same = o
        .zones
        .iter()
        .filter(|z| z.from == z.to)
        .map(|z| z.requests);
    let cross = o
        .zones
        .iter()
        .filter(|z| z.from != z.to)
        .map(|z| z.requests);
    (same.sum(), cross.sum())
}

#[test]
fn prefer_close_keeps_every_request_in_its_zone() {
    let text = scenario_text(SCENARIO);
    let o = run_text(&text);
    let (same, cross) = split(&o);
    assert_eq!(cross, 0, "{:?}", o.zones);
    assert_eq!(same, o.requests.sent);
    assert_eq!(o.requests.failed, 0);
    // Each zone's pods share that zone's third of the traffic.
    assert_eq!(o.zones.len(), 3);
    for z in &o.zones {
        let share = z.requests as f64 / o.requests.sent as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.02, "{:?}", o.zones);
    }

    // Without it, the rules spread every node's requests over all six pods: two in three
    // cross zones (seed 42; tolerance 2 points), and each crossing costs `crossZone`.
    let without = text.replace("  trafficDistribution: PreferClose\n", "");
    assert_ne!(without, text);
    let w = run_text(&without);
    let (same_w, cross_w) = split(&w);
    let crossing = cross_w as f64 / (same_w + cross_w) as f64;
    assert!((crossing - 2.0 / 3.0).abs() < 0.02, "{crossing}");
    assert_eq!(w.zones.len(), 9);
    let mean = |o: &Outcome| o.latency.ms().mean;
    // A new connection per request: the handshake, the request and the answer cross the
    // zone boundary four times, 500 us each, on two requests in three (about 1.3 ms).
    let saved = mean(&w) - mean(&o);
    assert!((1.0..1.7).contains(&saved), "{saved}");
}

#[test]
fn a_node_rules_hold_only_its_zone_endpoints_in_every_mode() {
    let dir = temp_dir("zone-rules");
    let text = scenario_text(SCENARIO);
    std::fs::write(dir.join("iptables.yaml"), &text).unwrap();
    let ipvs = text.replace("  cluster:\n", "  cluster:\n    proxyMode: ipvs\n");
    std::fs::write(dir.join("ipvs.yaml"), ipvs).unwrap();
    // node-a1's zone holds two of the six `web` pods.
    for (file, mode, marker, count) in [
        (
            "iptables.yaml",
            "iptables",
            "-m comment --comment \"default/web -> ",
            2,
        ),
        ("iptables.yaml", "nftables", "numgen random mod 2 vmap", 1),
        // `web`'s real servers (port 8080), not the CoreDNS pods behind kube-dns.
        ("ipvs.yaml", "ipvs", ":8080  ", 2),
    ] {
        let out = kubesim(&dir, &["rules", file, "--node", "node-a1", "--mode", mode]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        // `web`'s own lines (kube-dns, without a traffic distribution, has its own vmaps).
        let lines = text
            .lines()
            .filter(|l| l.contains(marker) && (mode != "nftables" || l.contains("default/web/")));
        assert_eq!(lines.count(), count, "{mode}:\n{text}");
    }
}

#[test]
fn without_zone_labels_nothing_is_counted_or_filtered() {
    let text = scenario_text(SCENARIO)
        .replace("labels: {topology.kubernetes.io/zone: ", "labels: {rack: ");
    let o = run_text(&text);
    assert!(o.zones.is_empty());
    // Every pod serves: no node has a zone to prefer.
    assert!(scenario_pods(&o)
        .filter(|p| p.name.starts_with("web-"))
        .all(|p| p.served > 0));
}

#[test]
fn an_unknown_traffic_distribution_is_rejected() {
    let dir = temp_dir("bad-traffic-distribution");
    let text = scenario_text(SCENARIO).replace("PreferClose", "PreferFar");
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let out = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("spec.trafficDistribution"), "{err}");
    assert!(err.contains("PreferFar"), "{err}");
}

/// An outside client of a `Local` LoadBalancer is counted from the zone of the node its own
/// connection entered (picked by the load balancer per connection), not from one node's: the
/// packets never leave that node, so no request crosses zones.
#[test]
fn a_local_load_balancer_counts_each_connection_from_its_own_entry_node() {
    let text = scenario_text(SCENARIO)
        .replace(
            "    network:\n",
            "    loadBalancerIPs: 192.168.0.240/29\n    network:\n",
        )
        .replace(
            "      from: {selector: app=frontend}\n      clients: 6\n      to: web.default.svc.cluster.local:80\n",
            // After the load balancer's first health checks found the nodes healthy.
            "      from: external\n      clients: 60\n      to: 192.168.0.241:80\n      start: 20s\n",
        )
        .replace(
            "  trafficDistribution: PreferClose\n",
            "  type: LoadBalancer\n  externalTrafficPolicy: Local\n",
        );
    assert!(text.contains("from: external") && text.contains("type: LoadBalancer"));
    let o = run_text(&text);
    assert_eq!(o.requests.failed, 0);
    let (same, cross) = split(&o);
    assert_eq!(cross, 0, "{:?}", o.zones);
    assert_eq!(same, o.requests.sent);
    // The load balancer spreads the connections over all three zones.
    assert_eq!(o.zones.len(), 3, "{:?}", o.zones);
}
