//! Whole outputs pinned as files under `tests/snapshots/` (see `util::assert_snapshot` for how
//! to re-bless them): `kubesim rules` of the seed in each simulated proxy mode, and
//! `kubesim trace` on the 3-node seed.

use crate::util::*;

/// `kubesim ARGS` run from the repository root: its standard output, after checking it exits 0.
fn stdout_of(args: &[&str]) -> String {
    let o = kubesim(&root(), args);
    assert!(o.status.success(), "kubesim {args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

/// The 3-node seed with `edit` applied, written to a temporary folder; its path.
fn three_nodes_with(name: &str, edit: impl Fn(String) -> String) -> String {
    let dir = temp_dir(name);
    let path = dir.join("seed-tutorial-3-nodes.yaml");
    std::fs::write(&path, edit(scenario_text("seed-tutorial-3-nodes.yaml"))).unwrap();
    path.display().to_string()
}

fn nftables(text: String) -> String {
    text.replacen("  cluster:\n", "  cluster:\n    proxyMode: nftables\n", 1)
}

fn local_policy(text: String) -> String {
    text.replacen(
        "  type: NodePort",
        "  type: NodePort\n  externalTrafficPolicy: Local",
        1,
    )
}

#[test]
fn rules_of_the_seed_in_iptables_mode() {
    let text = stdout_of(&["rules", "scenarios/seed-tutorial.yaml", "--at", "30s"]);
    assert_snapshot("rules-seed-iptables.txt", &text);
}

#[test]
fn rules_of_the_seed_in_nftables_mode() {
    let text = stdout_of(&[
        "rules",
        "scenarios/seed-tutorial.yaml",
        "--at",
        "30s",
        "--mode",
        "nftables",
    ]);
    // Chain names by upstream's `hashAndTruncate`: the first 8 base32 characters of the
    // SHA-256 of `namespace/name/protocol/portname` (and `__IP/port` for an endpoint).
    let hash8 = |s: &str| {
        use sha2::Digest;
        data_encoding::BASE32.encode(&sha2::Sha256::digest(s.as_bytes()))[..8].to_string()
    };
    let svc = format!(
        "service-{}-default/http-svc/tcp/",
        hash8("default/http-svc/tcp/")
    );
    // The second of the lesson's pods (the CoreDNS add-on's two hold .2 and .3).
    let ep = format!(
        "endpoint-{}-default/http-svc/tcp/__10.244.0.5/80",
        hash8("default/http-svc/tcp/__10.244.0.5/80")
    );
    assert!(
        text.contains(&format!("\tchain {svc} {{\n")),
        "{svc}: {text}"
    );
    assert!(text.contains(&format!("1 : goto {ep}, ")), "{ep}: {text}");
    assert!(text.contains(&format!("\tchain {ep} {{\n\t\tip saddr 10.244.0.5 jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to 10.244.0.5:80\n")), "{text}");
    assert_snapshot("rules-seed-nftables.txt", &text);
}

/// Blocks of a multi-request trace.
fn blocks(text: &str) -> Vec<&str> {
    text.split("== request ").skip(1).collect()
}

/// `kubesim trace` of four new connections to node-1's NodePort (192.168.0.24:30001) at 30 s
/// on `scenario` (the 3-node seed, as it is or edited): `check` looks at the output, then it
/// is compared with the snapshot `snapshot`.
fn trace_snapshot(scenario: &str, snapshot: &str, check: impl FnOnce(&str)) {
    let text = stdout_of(&[
        "trace",
        scenario,
        "--to",
        "192.168.0.24:30001",
        "-n",
        "4",
        "--at",
        "30s",
    ]);
    check(&text);
    assert_snapshot(snapshot, &text);
}

/// The block of the request served on node-2 shows each of `steps`.
fn served_on_node_2_shows(text: &str, steps: &[&str]) {
    let to_node_2 = blocks(text)
        .into_iter()
        .find(|b| b.contains("on node-2;"))
        .expect("one of the requests is served on node-2");
    for step in steps {
        assert!(to_node_2.contains(step), "{step}: {to_node_2}");
    }
}

/// Every request is served on node-1, the entry node, seeing the client's own address (a Local
/// policy), and its block shows each of `steps`.
fn all_stay_on_node_1(text: &str, steps: &[&str]) {
    for b in blocks(text) {
        assert!(!b.contains("overlay"), "{b}");
        for step in steps {
            assert!(b.contains(step), "{step}: {b}");
        }
        assert!(
            b.contains("on node-1; it sees the connection from 203.0.113.1 (the client's own address, kept)"),
            "{b}"
        );
    }
}

/// node-1's only pod kept off it: node-2 and node-3 labelled `pool: b`, the pods selecting it.
fn no_pod_on_node_1(text: String) -> String {
    text.replacen(
        "ip: 192.168.0.25\n",
        "ip: 192.168.0.25\n        labels: {pool: b}\n",
        1,
    )
    .replacen(
        "ip: 192.168.0.26\n",
        "ip: 192.168.0.26\n        labels: {pool: b}\n",
        1,
    )
    .replacen(
        "    spec: #spec",
        "    spec:\n      nodeSelector: {pool: b}\n    #spec",
        1,
    )
}

#[test]
fn trace_on_three_nodes_enters_node_1_and_is_served_on_node_2() {
    trace_snapshot(
        "scenarios/seed-tutorial-3-nodes.yaml",
        "trace-3-nodes-iptables.txt",
        |text| {
            served_on_node_2_shows(
                text,
                &[
                    "reaches node node-1 (192.168.0.24, NodeIP network)",
                    "--dport 30001 -j KUBE-EXT-",
                    "-j MARK --set-xmark 0x4000/0x4000",
                    "random draws in KUBE-SVC-",
                    "DNAT -> 10.244.1.2:80",
                    "overlay (VXLAN) hop node-1 -> node-2",
                    "it sees the connection from 10.244.0.0 (flannel.1",
                ],
            )
        },
    );
}

#[test]
fn trace_on_three_nodes_with_a_local_policy_stays_on_node_1() {
    trace_snapshot(
        &three_nodes_with("trace-local", local_policy),
        "trace-3-nodes-local-iptables.txt",
        |text| all_stay_on_node_1(text, &[]),
    );
}

#[test]
fn trace_on_three_nodes_with_a_local_policy_and_no_local_pod_is_dropped() {
    // A Local NodePort on node-1 has no endpoint to use there.
    trace_snapshot(
        &three_nodes_with("trace-local-drop", |t| no_pod_on_node_1(local_policy(t))),
        "trace-3-nodes-local-dropped-iptables.txt",
        |text| assert_eq!(text.matches("\n         DROP").count(), 4, "{text}"),
    );
}

#[test]
fn trace_in_nftables_mode_shows_the_map_lookups_the_numgen_draw_and_the_dnat() {
    trace_snapshot(
        &three_nodes_with("trace-nft", nftables),
        "trace-3-nodes-nftables.txt",
        |text| {
            served_on_node_2_shows(
                text,
                &[
                    "reaches node node-1 (192.168.0.24, NodeIP network)",
                    "nat-prerouting: jump services",
                    "services: ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
                    "= @service-nodeports has tcp . 30001 : goto external-M4T7S7IC-default/http-svc/tcp/",
                    "mark-for-masquerade: meta mark set meta mark | 0x00004000",
                    "= numgen random mod 3 = 1 (random 0x",
                    "meta l4proto tcp dnat to 10.244.1.2:80",
                    "masquerading: masquerade fully-random",
                    "DNAT -> 10.244.1.2:80",
                    "overlay (VXLAN) hop node-1 -> node-2",
                    "SNAT (masquerading, mark 0x4000)",
                    "it sees the connection from 10.244.0.0 (flannel.1",
                ],
            )
        },
    );
}

#[test]
fn trace_in_nftables_mode_with_a_local_policy_stays_on_node_1_or_is_dropped() {
    trace_snapshot(
        &three_nodes_with("trace-nft-local", |t| nftables(local_policy(t))),
        "trace-3-nodes-local-nftables.txt",
        |text| all_stay_on_node_1(text, &["goto local-M4T7S7IC-default/http-svc/tcp/"]),
    );
    // With no pod on node-1: the NodePort has no local endpoint there and is dropped by
    // `@no-endpoint-nodeports` in the input hook.
    trace_snapshot(
        &three_nodes_with("trace-nft-local-drop", |t| {
            no_pod_on_node_1(nftables(local_policy(t)))
        }),
        "trace-3-nodes-local-dropped-nftables.txt",
        |text| {
            let drops = "= @no-endpoint-nodeports has tcp . 30001 : drop\n         DROP";
            assert_eq!(text.matches(drops).count(), 4, "{text}");
        },
    );
}
