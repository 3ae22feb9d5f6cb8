//! IPVS mode: `ipvsadm -Ln` text, traces, and what the schedulers do to the spread.

use crate::util::*;
use kubesim::sim::Outcome;
use std::path::Path;

/// Writes `scenario` with `proxyMode: ipvs` added into `dir` and returns its path.
fn in_ipvs_mode(dir: &Path, scenario: &str) -> String {
    let text =
        scenario_text(scenario).replacen("  cluster:\n", "  cluster:\n    proxyMode: ipvs\n", 1);
    assert!(text.contains("proxyMode: ipvs"));
    let path = dir.join(scenario);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn stdout(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn rules_mode_ipvs_prints_ipvsadm_ln_for_the_seed() {
    let dir = temp_dir("ipvs-rules");
    let seed = in_ipvs_mode(&dir, "seed-tutorial.yaml");
    let out = stdout(&kubesim(&dir, &["rules", &seed, "--mode", "ipvs"]));
    // The header and column titles exactly as ipvsadm.c's list_all / print_title write them,
    // the NodePort on the node's address, the ClusterIP, and Masq real servers.
    assert!(out.starts_with(
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n\
         \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    ));
    assert!(out.contains("\nTCP  192.168.0.24:30001 rr\n"), "{out}");
    assert!(out.contains("\nTCP  10.96.24.104:8080 rr\n"), "{out}");
    assert_snapshot("rules-ipvs-seed-tutorial.txt", &out);
    // The three-node lesson, node-2, mid-run: its own NodePort address only.
    let three = in_ipvs_mode(&dir, "seed-tutorial-3-nodes.yaml");
    let out = stdout(&kubesim(
        &dir,
        &[
            "rules", &three, "--mode", "ipvs", "--node", "node-2", "--at", "30s",
        ],
    ));
    assert!(out.contains("\nTCP  192.168.0.25:30001 rr\n"), "{out}");
    assert!(!out.contains("192.168.0.24:30001"), "{out}");
    assert_snapshot("rules-ipvs-seed-tutorial-3-nodes-node-2-30s.txt", &out);
}

#[test]
fn rules_shows_ipvs_tables_only_for_a_run_in_ipvs_mode() {
    let dir = temp_dir("ipvs-mode-mismatch");
    let o = kubesim(
        &root(),
        &["rules", "scenarios/seed-tutorial.yaml", "--mode", "ipvs"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("runs kube-proxy in iptables mode"),
        "{}",
        stderr(&o)
    );
    // The other way round is allowed: the rules iptables mode would program from the same
    // Services and endpoints (IPVS tables hold the run's connection counts; rules do not).
    let seed = in_ipvs_mode(&dir, "seed-tutorial.yaml");
    let o = kubesim(&dir, &["rules", &seed, "--mode", "iptables"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("-A KUBE-NODEPORTS"), "{text}");
}

/// The share of the requests served by each pod, in creation order.
fn shares(o: &Outcome) -> Vec<f64> {
    let total: u64 = scenario_pods(o).map(|p| p.served).sum();
    scenario_pods(o)
        .map(|p| p.served as f64 / total as f64)
        .collect()
}

#[test]
fn least_connection_sends_fewer_connections_to_the_slow_replica_than_round_robin() {
    let text = scenario_text("ipvs-least-connection.yaml");
    let lc = run(&load_text(&text));
    let rr = run(&load_text(
        &text.replace("ipvsScheduler: lc", "ipvsScheduler: rr"),
    ));
    // Pods in creation order: web (fast), web (fast), web-debug (slow).
    assert!(scenario_pods(&lc)
        .nth(2)
        .unwrap()
        .name
        .starts_with("web-debug-"));
    let (lc, rr) = (shares(&lc), shares(&rr));
    // rr: a third each (new connections cycle exactly; requests in flight at the warmup and
    // at the end make the small difference).
    for s in &rr {
        assert!((s - 1.0 / 3.0).abs() < 0.01, "rr shares {rr:?}");
    }
    // lc: the slow pod holds more active connections (each weighs 256 inactive ones), so it
    // gets about a fifth; the analytic steady state is 19 %.
    assert!(lc[2] < 0.25 && lc[2] > 0.12, "lc shares {lc:?}");
    assert!(lc[0] > 0.36 && lc[1] > 0.36, "lc shares {lc:?}");
}

#[test]
fn least_connection_cuts_the_tail_latency_the_slow_replica_causes() {
    let text = scenario_text("ipvs-least-connection.yaml");
    let lc = run(&load_text(&text)).latency.ms();
    let rr = run(&load_text(
        &text.replace("ipvsScheduler: lc", "ipvsScheduler: rr"),
    ))
    .latency
    .ms();
    assert!(lc.mean < rr.mean * 0.8, "lc {lc:?} rr {rr:?}");
    assert!(lc.p90 < rr.p90, "lc {lc:?} rr {rr:?}");
}

#[test]
fn trace_in_ipvs_mode_shows_the_virtual_server_and_the_schedulers_reason() {
    let o = kubesim(
        &root(),
        &[
            "trace",
            "scenarios/ipvs-least-connection.yaml",
            "--to",
            "192.168.0.24:30001",
            "--at",
            "4m",
            "-n",
            "3",
        ],
    );
    let out = stdout(&o);
    assert!(
        out.contains("virtual server TCP  192.168.0.24:30001 lc (default/web, NodePort"),
        "{out}"
    );
    assert!(out.contains("scheduler lc: "), "{out}");
    assert!(out.contains(", lowest of "), "{out}");
    assert!(out.contains("KUBE-MARK-MASQ"), "{out}");
    assert!(out.contains("DNAT -> 10.244.0."), "{out}");
    assert_snapshot("trace-ipvs-least-connection-4m.txt", &out);
    // rr names the real server it moved on from.
    let dir = temp_dir("ipvs-trace-rr");
    let seed = in_ipvs_mode(&dir, "seed-tutorial.yaml");
    let out = stdout(&kubesim(
        &dir,
        &["trace", &seed, "--to", "192.168.0.24:30001", "-n", "2"],
    ));
    assert!(out.contains("scheduler rr: next after 10.244.0."), "{out}");
}
