//! The seed lesson: the spread across replicas, determinism, and the three networks.

use crate::util::*;
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[test]
fn seed_spread_passes_a_chi_square_uniformity_test() {
    let o = run(&load(&root().join("scenarios/seed-tutorial.yaml")));
    let counts = served_counts(&o);
    assert_eq!(counts.len(), 3, "three replicas serve: {counts:?}");
    assert!(
        counts.iter().sum::<u64>() >= 60_000,
        "at least 60,000 requests: {counts:?}"
    );
    // Fixed seed; alpha = 0.001 with 2 degrees of freedom.
    let chi2 = chi_square_uniform(&counts);
    assert!(
        chi2 < CHI2_CRITICAL_0_001[1],
        "chi-square {chi2} for {counts:?}"
    );
    assert_eq!(o.requests.failed, 0);
}

/// The same lesson with `proxyMode: nftables`: `numgen random mod 3` spreads the visits as
/// evenly (fixed seed; alpha = 0.001 with 2 degrees of freedom).
#[test]
fn seed_spread_in_nftables_mode_passes_a_chi_square_uniformity_test() {
    let text = scenario_text("seed-tutorial.yaml").replacen(
        "  cluster:\n",
        "  cluster:\n    proxyMode: nftables\n",
        1,
    );
    assert!(text.contains("proxyMode: nftables"));
    let o = run(&load_text(&text));
    let counts = served_counts(&o);
    assert_eq!(counts.len(), 3, "three replicas serve: {counts:?}");
    assert!(counts.iter().sum::<u64>() >= 60_000, "{counts:?}");
    let chi2 = chi_square_uniform(&counts);
    assert!(
        chi2 < CHI2_CRITICAL_0_001[1],
        "chi-square {chi2} for {counts:?}"
    );
    assert_eq!(o.requests.failed, 0);
    // Another mode, other draws: the counts differ from iptables mode's.
    let iptables = served_counts(&run(&load(&root().join("scenarios/seed-tutorial.yaml"))));
    assert_ne!(counts, iptables);
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_other_counts() {
    let loaded = load(&root().join("scenarios/seed-tutorial.yaml"));
    let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
    kubesim::report::write_outputs(&run(&loaded), &a.join("out")).unwrap();
    kubesim::report::write_outputs(&run(&loaded), &b.join("out")).unwrap();
    for f in [
        "summary.json",
        "requests_by_pod.csv",
        "timeline.csv",
        "events.log",
    ] {
        let x = std::fs::read(a.join("out").join(f)).unwrap();
        let y = std::fs::read(b.join("out").join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs of one seed");
    }
    let mut other = loaded.clone();
    other.scenario.seed += 1;
    assert_ne!(
        served_counts(&run(&loaded)),
        served_counts(&run(&other)),
        "another seed, other counts"
    );
}

#[test]
fn addresses_lie_in_their_networks() {
    let dir = temp_dir("addresses");
    let out = kubesim(
        &root(),
        &[
            "run",
            "scenarios/seed-tutorial-3-nodes.yaml",
            "--out",
            dir.join("o").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o/summary.json")).unwrap()).unwrap();
    let cidrs: Vec<(String, Ipv4Net)> = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["pod_cidr"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    for pod in summary["pods"].as_array().unwrap() {
        let ip: Ipv4Addr = pod["ip"].as_str().unwrap().parse().unwrap();
        let node = pod["node"].as_str().unwrap();
        let cidr = cidrs.iter().find(|(n, _)| n == node).unwrap().1;
        assert!(
            cidr.contains(&ip),
            "{ip} of {} outside {node}'s {cidr}",
            pod["name"]
        );
        assert!(
            ip != cidr.network() && ip != Ipv4Addr::from(u32::from(cidr.network()) + 1),
            "{ip} is reserved"
        );
        assert!(seen.insert(ip), "{ip} given twice");
    }
    let svc = summary["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "http-svc")
        .unwrap();
    let cluster_ip: Ipv4Addr = svc["cluster_ip"].as_str().unwrap().parse().unwrap();
    assert!("10.96.0.0/12"
        .parse::<Ipv4Net>()
        .unwrap()
        .contains(&cluster_ip));
    assert_eq!(svc["ports"][0]["node_port"], 30001);
    assert_eq!(svc["ports"][0]["port"], 8080);
    assert_eq!(svc["ports"][0]["target_port"], 80);
}

#[test]
fn in_cluster_clients_reach_the_service_by_its_dns_name() {
    let o = run(&load(&root().join("scenarios/in-cluster-client.yaml")));
    assert!(o.requests.sent > 10_000);
    assert_eq!(o.requests.failed, 0, "{:?}", o.requests.failed_by_reason);
    let counts: Vec<u64> = o
        .pods
        .iter()
        .filter(|p| p.owner.as_deref() == Some("http-deployment"))
        .map(|p| p.served)
        .collect();
    assert_eq!(counts.len(), 3);
    assert!(
        chi_square_uniform(&counts) < CHI2_CRITICAL_0_001[1],
        "{counts:?}"
    );
}
