//! What a node holds besides kube-proxy's service rules (issue 14, item 7 and the "missing"
//! list): the mangle table's canaries, IPVS mode's `KUBE-IPVS-FILTER`, ipsets and iptables
//! rules, `loadBalancerSourceRanges` in IPVS mode, and `hostPort` through the CNI portmap
//! plugin's chains. Assertions name their own Service's lines, not a node's whole ruleset.

use crate::util::*;
use kubesim::engine::{SimDuration, SimTime};
use kubesim::sim::trace::TraceFrom;
use kubesim::sim::{Outcome, Simulation};

fn at(secs: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(secs)
}

/// The seed lesson in `mode`, with `extra` appended to `spec.traffic`.
fn seed_in(mode: &str, extra: &str) -> String {
    let text = scenario_text("seed-tutorial.yaml")
        .replacen(
            "  cluster:\n",
            &format!("  cluster:\n    proxyMode: {mode}\n"),
            1,
        )
        .replacen("  traffic:\n", &format!("  traffic:\n{extra}"), 1);
    assert!(text.contains(&format!("proxyMode: {mode}")));
    text
}

fn stream<'a>(o: &'a Outcome, name: &str) -> &'a kubesim::sim::outcome::StreamOutcome {
    o.streams
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stream {name}"))
}

/// `iptables-save` on a node prints the mangle table (kubelet's `KUBE-IPTABLES-HINT` and the
/// kubelet and kube-proxy canaries) and the tables in the order iptables-nft-save uses:
/// mangle, filter, nat. Before: nat then filter, no mangle, no canaries.
#[test]
fn iptables_save_prints_the_mangle_table_and_the_canaries_in_iptables_nft_order() {
    let dir = temp_dir("mangle");
    let o = kubesim(&root(), &["rules", "scenarios/seed-tutorial.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let tables: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(tables, ["*mangle", "*filter", "*nat"], "{text}");
    let mangle: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "*mangle")
        .take_while(|l| *l != "COMMIT")
        .collect();
    for chain in [
        ":KUBE-IPTABLES-HINT - [0:0]",
        ":KUBE-KUBELET-CANARY - [0:0]",
        ":KUBE-PROXY-CANARY - [0:0]",
    ] {
        assert!(mangle.contains(&chain), "{mangle:?}");
    }
    for table in ["*filter", "*nat"] {
        let decl: Vec<&str> = text
            .lines()
            .skip_while(|l| l != &table)
            .take_while(|l| *l != "COMMIT")
            .collect();
        assert!(decl.contains(&":KUBE-PROXY-CANARY - [0:0]"), "{table}");
        assert!(decl.contains(&":KUBE-KUBELET-CANARY - [0:0]"), "{table}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 14, item 7: in IPVS mode every ClusterIP is bound to `kube-ipvs0`, so a connection to
/// a port no Service defines reaches the node itself, and `KUBE-IPVS-FILTER` rejects it:
/// refused at once. Before: lost (timeout), as in iptables mode, where the ClusterIP is no
/// address of the node and the packet leaves by the default route.
#[test]
fn ipvs_refuses_a_cluster_ip_port_no_service_defines() {
    let probe = "    - {name: probe, from: {selector: app=http-label}, to: \"10.96.0.1:8081\", rate: 20/s, start: 5s, timeout: 2s}\n";
    let ipvs = run(&load_text(&seed_in("ipvs", probe)));
    let s = stream(&ipvs, "probe");
    assert!(s.sent > 500, "{}", s.sent);
    assert_eq!(s.served, 0);
    assert_eq!(
        s.failed_by_reason.get("connection_refused").copied(),
        Some(s.failed),
        "{:?}",
        s.failed_by_reason
    );
    let iptables = run(&load_text(&seed_in("iptables", probe)));
    let s = stream(&iptables, "probe");
    assert_eq!(
        s.failed_by_reason.get("connection_refused"),
        None,
        "{:?}",
        s.failed_by_reason
    );
    assert!(s.failed_by_reason.get("timeout").copied().unwrap_or(0) > 0);

    // trace says why.
    let mut sim = Simulation::new(load_text(&seed_in("ipvs", "")).scenario).unwrap();
    sim.run_until(at(20));
    let pod = sim
        .cluster()
        .live_pods()
        .find(|(_, p)| p.meta.name.starts_with("http-deployment"))
        .unwrap()
        .1
        .meta
        .name
        .clone();
    let t = sim
        .trace(&TraceFrom::Pod(pod), "10.96.0.1:8081", 1)
        .unwrap();
    assert!(t.contains("no virtual server for 10.96.0.1:8081"), "{t}");
    assert!(t.contains("-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT"), "{t}");
    assert!(t.contains("connection refused"), "{t}");
}

/// `rules --mode ipvs` prints `ipvsadm -Ln` first, then the node's ipsets as `ipset save`
/// prints them and the iptables rules IPVS mode writes, each under its own title.
#[test]
fn rules_mode_ipvs_prints_the_ipsets_and_the_iptables_rules_after_ipvsadm() {
    let dir = temp_dir("ipvs-sets");
    let path = dir.join("seed-ipvs.yaml");
    std::fs::write(&path, seed_in("ipvs", "")).unwrap();
    let o = kubesim(&dir, &["rules", path.to_str().unwrap(), "--mode", "ipvs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("IP Virtual Server version 1.2.1 (size=4096)\n"));
    let sets = text.find("\n# ipset save\n").expect("an ipset save part");
    let rules = text
        .find("\n# iptables-save\n")
        .expect("an iptables-save part");
    assert!(sets < rules);
    let sets_text = &text[sets..rules];
    for line in [
        "add KUBE-CLUSTER-IP 10.96.0.1,tcp:443",
        "add KUBE-NODE-PORT-TCP 30001",
        "add KUBE-IPVS-IPS 10.96.0.1",
        "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535",
    ] {
        assert!(sets_text.lines().any(|l| l == line), "{line}: {sets_text}");
    }
    assert!(sets_text
        .lines()
        .any(|l| l.starts_with("create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x")));
    // Each of the http pods reaching itself is masqueraded: KUBE-LOOP-BACK (the CoreDNS
    // pods have their own entries, one per port).
    assert_eq!(
        sets_text
            .lines()
            .filter(|l| l.starts_with("add KUBE-LOOP-BACK 10.244.0.") && l.contains(",tcp:80,"))
            .count(),
        3,
        "{sets_text}"
    );
    let rules_text = &text[rules..];
    let tables: Vec<&str> = rules_text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(tables, ["*mangle", "*filter", "*nat"]);
    for line in [
        "-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER",
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable",
        "-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ",
        "-A KUBE-NODE-PORT -p tcp -m comment --comment \"Kubernetes nodeport TCP port for masquerade purpose\" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ",
        "-A KUBE-POSTROUTING -m comment --comment \"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose\" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE",
    ] {
        assert!(rules_text.lines().any(|l| l == line), "{line}: {rules_text}");
    }
    // IPVS mode runs no kube-proxy canary; kubelet's is there.
    assert!(!rules_text.contains("KUBE-PROXY-CANARY"));
    assert!(rules_text.contains(":KUBE-KUBELET-CANARY - [0:0]"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A LoadBalancer with `loadBalancerSourceRanges`: clients outside the ranges time out, those
/// inside are served, in every mode. Before, IPVS mode let everyone in.
#[test]
fn load_balancer_source_ranges_apply_in_ipvs_mode_too() {
    for mode in ["iptables", "nftables", "ipvs"] {
        let text = |range: &str| {
            format!(
                "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: lb-ranges\nspec:\n  duration: 20s\n  cluster:\n    proxyMode: {mode}\n    loadBalancerIPs: 192.168.0.240/29\n    nodes:\n      - {{name: node-1, ip: 192.168.0.24}}\n  traffic:\n    - {{name: via-lb, from: external, clients: 1, to: 192.168.0.241:80, rate: 50/s, start: 5s, timeout: 2s}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: web, image: 'nginx:1.27', ports: [{{containerPort: 80}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges: [{range}]\n  selector: {{app: web}}\n  ports: [{{port: 80, nodePort: 30080}}]\n"
            )
        };
        // The outside client is 203.0.113.1.
        let allowed = run(&load_text(&text("203.0.113.0/24")));
        let s = &allowed.streams[0];
        assert!(s.sent > 500, "{mode}: {}", s.sent);
        assert_eq!(s.served, s.sent, "{mode}: {:?}", s.failed_by_reason);
        let blocked = run(&load_text(&text("198.51.100.0/24")));
        let s = &blocked.streams[0];
        assert_eq!(s.served, 0, "{mode}");
        assert!(s.failed > 0, "{mode}");
        assert_eq!(
            s.failed_by_reason.get("timeout").copied(),
            Some(s.failed),
            "{mode}: {:?}",
            s.failed_by_reason
        );
    }
    // The IPVS node's sets and firewall chain say so.
    let text = "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: lb-ranges\nspec:\n  duration: 10s\n  cluster:\n    proxyMode: ipvs\n    loadBalancerIPs: 192.168.0.240/29\n    nodes:\n      - {name: node-1, ip: 192.168.0.24}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: 'nginx:1.27', ports: [{containerPort: 80}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges: [198.51.100.0/24]\n  selector: {app: web}\n  ports: [{port: 80, nodePort: 30080}]\n";
    let mut sim = Simulation::new(load_text(text).scenario).unwrap();
    sim.run_until(at(5));
    let node = sim.cluster().node_by_name("node-1").unwrap();
    let (sets, rules) = sim.ipvs_sets_and_rules(node).unwrap();
    assert!(
        sets.lines()
            .any(|l| l == "add KUBE-LOAD-BALANCER-FW 192.168.0.241,tcp:80"),
        "{sets}"
    );
    assert!(sets.lines().any(|l| l == "add KUBE-LOAD-BALANCER-SOURCE-CIDR 192.168.0.241,tcp:80,198.51.100.0/24"), "{sets}");
    assert!(rules.lines().any(|l| l == "-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port + source cidr for packet filter purpose\" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN"), "{rules}");
    assert!(
        rules
            .lines()
            .any(|l| l == "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP"),
        "{rules}"
    );
    let t = sim
        .trace(&TraceFrom::External, "192.168.0.241:80", 1)
        .unwrap();
    assert!(t.contains("KUBE-SOURCE-RANGES-FIREWALL -j DROP: 203.0.113.1 is in none of default/web's loadBalancerSourceRanges"), "{t}");
}

/// A pod with `hostPort: 8080` on node-1 and no Service: `NodeIP:8080` of node-1 reaches it
/// through the CNI portmap plugin's DNAT, node-2's refuses (nothing listens there). `rules`
/// shows the plugin's chains on node-1 only. Before: every connection refused, no chains.
#[test]
fn host_port_reaches_the_pod_through_the_portmap_chains_on_its_node_only() {
    let text = "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: hostport\nspec:\n  duration: 20s\n  cluster:\n    nodes:\n      - {name: node-1, ip: 192.168.0.24}\n      - {name: node-2, ip: 192.168.0.25}\n  traffic:\n    - {name: mine, from: external, to: \"192.168.0.24:8080\", rate: 50/s, start: 5s}\n    - {name: other, from: external, to: \"192.168.0.25:8080\", rate: 50/s, start: 5s}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      nodeSelector: {kubernetes.io/hostname: node-1}\n      containers: [{name: web, image: 'nginx:1.27', ports: [{containerPort: 80, hostPort: 8080}]}]\n";
    let o = run(&load_text(text));
    let mine = stream(&o, "mine");
    assert!(mine.sent > 500, "{}", mine.sent);
    assert_eq!(mine.served, mine.sent, "{:?}", mine.failed_by_reason);
    let other = stream(&o, "other");
    assert_eq!(other.served, 0);
    assert_eq!(
        other.failed_by_reason.get("connection_refused").copied(),
        Some(other.failed),
        "{:?}",
        other.failed_by_reason
    );

    let mut sim = Simulation::new(load_text(text).scenario).unwrap();
    sim.run_until(at(10));
    let (pod_ip, pod_name) = sim
        .cluster()
        .live_pods()
        .find(|(_, p)| p.meta.name.starts_with("web-"))
        .map(|(_, p)| (p.ip.unwrap(), p.meta.name.clone()))
        .unwrap();
    let n1 = sim.cluster().node_by_name("node-1").unwrap();
    let n2 = sim.cluster().node_by_name("node-2").unwrap();
    let (rules, _) = sim.iptables_save(n1);
    let dn: Vec<&str> = rules
        .lines()
        .filter(|l| l.starts_with("-A CNI-DN-"))
        .collect();
    assert_eq!(dn.len(), 3, "{rules}");
    assert!(
        dn[0].ends_with(" -s 10.244.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK"),
        "{dn:?}"
    );
    assert!(
        dn[1].ends_with(" -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK"),
        "{dn:?}"
    );
    assert!(
        dn[2].ends_with(&format!(
            " -p tcp -m tcp --dport 8080 -j DNAT --to-destination {pod_ip}:80"
        )),
        "{dn:?}"
    );
    for line in [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        "-A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ",
        "-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
        "-A CNI-HOSTPORT-SETMARK -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000",
    ] {
        assert!(rules.lines().any(|l| l == line), "{line}: {rules}");
    }
    assert!(
        rules.lines().any(|l| l.starts_with(
            "-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"cbr0\\\" id: \\\""
        ) && l.contains(" -m multiport --dports 8080 -j CNI-DN-")),
        "{rules}"
    );
    let (other_rules, _) = sim.iptables_save(n2);
    assert!(!other_rules.contains("CNI-"), "{other_rules}");
    let t = sim
        .trace(&TraceFrom::External, "192.168.0.24:8080", 1)
        .unwrap();
    assert!(
        t.contains(&format!("hostPort 8080 of pod {pod_name}")),
        "{t}"
    );
    assert!(
        t.contains(&format!("DNAT --to-destination {pod_ip}:80")),
        "{t}"
    );
}
