//! What an IPVS-mode node holds besides its virtual servers: kube-proxy's ipsets, printed as
//! `ipset save` prints them, and the iptables rules IPVS mode writes (with kubelet's), printed
//! as `iptables-save` prints them.
//!
//! Both come from the same [`NodeProxyInput`] as the node's [`crate::net::ipvs::IpvsTable`],
//! as `pkg/proxy/ipvs/proxier.go` fills them on a sync (`syncProxyRules`: the ipset entries of
//! each service port; `writeIptablesRules`, `acceptIPVSTraffic`, `createAndLinkKubeChain`: the
//! rules, which match those sets). The route is not walked through this text: IPVS mode's
//! routing is [`crate::net::ipvs::IpvsTable::route`], which applies the same sets' decisions
//! (the masquerade marks, `KUBE-IPVS-FILTER`'s refusal of an unknown port on a bound address,
//! the `KUBE-SOURCE-RANGES-FIREWALL` drop). Knows nothing of Services as API objects.
//!
//! Two things a real node shows differently: `ipset save` lists a hash set's entries in hash
//! order and the sets in the order kube-proxy first created them (a Go map's, so random per
//! node); kubesim lists the sets in upstream's `ipsetInfo` order and entries sorted. A hash
//! set's `initval` is random on a real node; kubesim derives it from the node and set names.

use crate::model::objects::Protocol;
use crate::net::iptables::{write_mangle_with, NodeProxyInput, Table, TABLE_ORDER};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// An ipset's type, as `ipset save` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetType {
    HashIp,
    HashIpPort,
    HashIpPortIp,
    HashIpPortNet,
    BitmapPort,
}

impl SetType {
    fn as_str(self) -> &'static str {
        match self {
            SetType::HashIp => "hash:ip",
            SetType::HashIpPort => "hash:ip,port",
            SetType::HashIpPortIp => "hash:ip,port,ip",
            SetType::HashIpPortNet => "hash:ip,port,net",
            SetType::BitmapPort => "bitmap:port",
        }
    }
}

// The ipsets kube-proxy's IPVS mode creates, in `ipsetInfo`'s order, with their comments
// (`pkg/proxy/ipvs/ipset.go`, `pkg/proxy/ipvs/proxier.go` `ipsetInfo`).
const LOOP_BACK: usize = 0;
const CLUSTER_IP: usize = 1;
const EXTERNAL_IP: usize = 2;
const EXTERNAL_IP_LOCAL: usize = 3;
const LOAD_BALANCER: usize = 4;
const LOAD_BALANCER_FW: usize = 5;
const LOAD_BALANCER_LOCAL: usize = 6;
const LOAD_BALANCER_SOURCE_IP: usize = 7;
const LOAD_BALANCER_SOURCE_CIDR: usize = 8;
const NODE_PORT_TCP: usize = 9;
const NODE_PORT_LOCAL_TCP: usize = 10;
const NODE_PORT_UDP: usize = 11;
const NODE_PORT_LOCAL_UDP: usize = 12;
const NODE_PORT_SCTP: usize = 13;
const NODE_PORT_LOCAL_SCTP: usize = 14;
const HEALTH_CHECK_NODE_PORT: usize = 15;
const IPVS_IPS: usize = 16;

const SETS: [(&str, SetType, &str); 17] = [
    (
        "KUBE-LOOP-BACK",
        SetType::HashIpPortIp,
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        "KUBE-CLUSTER-IP",
        SetType::HashIpPort,
        "Kubernetes service cluster ip + port for masquerade purpose",
    ),
    (
        "KUBE-EXTERNAL-IP",
        SetType::HashIpPort,
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    (
        "KUBE-EXTERNAL-IP-LOCAL",
        SetType::HashIpPort,
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER",
        SetType::HashIpPort,
        "Kubernetes service lb portal",
    ),
    (
        "KUBE-LOAD-BALANCER-FW",
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        "KUBE-LOAD-BALANCER-LOCAL",
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        SetType::HashIpPortIp,
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        SetType::HashIpPortNet,
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    (
        "KUBE-NODE-PORT-TCP",
        SetType::BitmapPort,
        "Kubernetes nodeport TCP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-TCP",
        SetType::BitmapPort,
        "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-UDP",
        SetType::BitmapPort,
        "Kubernetes nodeport UDP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-UDP",
        SetType::BitmapPort,
        "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-SCTP-HASH",
        SetType::HashIpPort,
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
        SetType::HashIpPort,
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    (
        "KUBE-HEALTH-CHECK-NODE-PORT",
        SetType::BitmapPort,
        "Kubernetes health check node port",
    ),
    (
        "KUBE-IPVS-IPS",
        SetType::HashIp,
        "Addresses on the ipvs interface",
    ),
];

/// One ipset entry, ordered as kubesim lists them: address, protocol, port, then the third
/// field (an address or a network as `(address, prefix)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    ip: u32,
    proto: u8,
    port: u16,
    third: Option<(u32, u8)>,
}

fn proto_order(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

const PROTOS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// The entries of every set, from one sync's input.
#[derive(Debug, Default)]
struct Sets {
    entries: [BTreeSet<Entry>; 17],
    /// LoadBalancer IP, protocol, port with source ranges none of which holds the node's
    /// address: `KUBE-IPVS-OUT-FILTER` drops the node's own connections to them.
    no_node_access: BTreeSet<Entry>,
}

impl Sets {
    /// What `syncProxyRules` puts in the sets for `input`.
    fn fill(input: &NodeProxyInput) -> Sets {
        let mut s = Sets::default();
        let node_ip = u32::from(input.node_ip);
        for sp in &input.services {
            let Some(cip) = sp.cluster_ip else { continue };
            let proto = proto_order(sp.protocol);
            let e = |ip: Ipv4Addr, port: u16| Entry {
                ip: u32::from(ip),
                proto,
                port,
                third: None,
            };
            for ep in sp.endpoints.iter().filter(|e| e.is_local) {
                s.entries[LOOP_BACK].insert(Entry {
                    third: Some((u32::from(ep.ip), 32)),
                    ..e(ep.ip, ep.port)
                });
            }
            s.entries[CLUSTER_IP].insert(e(cip, sp.port));
            s.entries[IPVS_IPS].insert(e(cip, 0).addr_only());
            for &ip in &sp.external_ips {
                let set = if sp.external_policy_local {
                    EXTERNAL_IP_LOCAL
                } else {
                    EXTERNAL_IP
                };
                s.entries[set].insert(e(ip, sp.port));
                if u32::from(ip) != node_ip {
                    s.entries[IPVS_IPS].insert(e(ip, 0).addr_only());
                }
            }
            for &ip in &sp.load_balancer_ips {
                let lb = e(ip, sp.port);
                s.entries[LOAD_BALANCER].insert(lb);
                if sp.external_policy_local {
                    s.entries[LOAD_BALANCER_LOCAL].insert(lb);
                }
                if !sp.source_ranges.is_empty() {
                    s.entries[LOAD_BALANCER_FW].insert(lb);
                    for r in &sp.source_ranges {
                        s.entries[LOAD_BALANCER_SOURCE_CIDR].insert(Entry {
                            third: Some((u32::from(r.network()), r.prefix_len())),
                            ..lb
                        });
                    }
                    if sp.source_ranges.iter().any(|r| r.contains(&input.node_ip)) {
                        s.entries[LOAD_BALANCER_SOURCE_IP].insert(Entry {
                            third: Some((u32::from(ip), 32)),
                            ..lb
                        });
                    } else {
                        s.no_node_access.insert(lb);
                    }
                }
                if u32::from(ip) != node_ip {
                    s.entries[IPVS_IPS].insert(e(ip, 0).addr_only());
                }
            }
            if let Some(np) = sp.node_port {
                let (set, local) = match sp.protocol {
                    Protocol::Tcp => (NODE_PORT_TCP, NODE_PORT_LOCAL_TCP),
                    Protocol::Udp => (NODE_PORT_UDP, NODE_PORT_LOCAL_UDP),
                    Protocol::Sctp => (NODE_PORT_SCTP, NODE_PORT_LOCAL_SCTP),
                };
                // bitmap:port holds the port alone; SCTP's hash:ip,port each node address.
                let entry = if sp.protocol == Protocol::Sctp {
                    e(input.node_ip, np)
                } else {
                    Entry {
                        ip: 0,
                        proto: 0,
                        port: np,
                        third: None,
                    }
                };
                s.entries[set].insert(entry);
                if sp.external_policy_local {
                    s.entries[local].insert(entry);
                }
            }
            if let Some(hc) = sp.health_check_node_port {
                s.entries[HEALTH_CHECK_NODE_PORT].insert(Entry {
                    ip: 0,
                    proto: 0,
                    port: hc,
                    third: None,
                });
            }
        }
        s
    }

    fn is_empty(&self, set: usize) -> bool {
        self.entries[set].is_empty()
    }
}

impl Entry {
    fn addr_only(self) -> Entry {
        Entry {
            ip: self.ip,
            proto: 0,
            port: 0,
            third: None,
        }
    }

    fn write(&self, out: &mut String, ty: SetType) {
        let ip = Ipv4Addr::from(self.ip);
        let proto = PROTOS[self.proto as usize].lower();
        match ty {
            SetType::HashIp => {
                let _ = write!(out, "{ip}");
            }
            SetType::BitmapPort => {
                let _ = write!(out, "{}", self.port);
            }
            SetType::HashIpPort => {
                let _ = write!(out, "{ip},{proto}:{}", self.port);
            }
            SetType::HashIpPortIp | SetType::HashIpPortNet => {
                let (third, prefix) = self.third.unwrap_or_default();
                let _ = write!(out, "{ip},{proto}:{},{}", self.port, Ipv4Addr::from(third));
                if ty == SetType::HashIpPortNet {
                    let _ = write!(out, "/{prefix}");
                }
            }
        }
    }
}

/// A stand-in for the kernel's random `initval` of a hash set: FNV-1a of the node's and the
/// set's names (a real node's value is random at the set's creation).
fn initval(node: &str, set: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in node.bytes().chain([0]).chain(set.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The node's ipsets as `ipset save` prints them (ipset 7.x on a 5.11+ kernel: `create` with
/// the set's parameters as kube-proxy created it, `pkg/proxy/ipvs/ipset/ipset.go` `createSet`:
/// hash sets `family inet hashsize 1024 maxelem 65536` plus the kernel's `bucketsize 12
/// initval`, bitmap sets `range 0-65535`; then an `add` line per entry).
pub fn ipset_save(input: &NodeProxyInput) -> String {
    let sets = Sets::fill(input);
    let mut out = String::new();
    for (i, &(name, ty, _)) in SETS.iter().enumerate() {
        let _ = write!(out, "create {name} {}", ty.as_str());
        if ty == SetType::BitmapPort {
            out.push_str(" range 0-65535");
        } else {
            let _ = write!(
                out,
                " family inet hashsize 1024 maxelem 65536 bucketsize 12 initval {:#010x}",
                initval(&input.node_name, name)
            );
        }
        out.push('\n');
        for e in &sets.entries[i] {
            let _ = write!(out, "add {name} ");
            e.write(&mut out, ty);
            out.push('\n');
        }
    }
    out
}

/// kube-proxy's masquerade mark as `iptables-save` prints it.
const MASQ: &str = "0x4000/0x4000";

/// The node's iptables rules in IPVS mode as `iptables-save` prints them: the mangle table
/// (kubelet's canary and hint chains; kube-proxy's IPVS mode runs no canary), filter and nat
/// with kubelet's and kube-proxy's chains, in [`TABLE_ORDER`].
pub fn iptables_save(input: &NodeProxyInput) -> String {
    let sets = Sets::fill(input);
    let node = input.node_name.as_str();
    let cluster_cidr = input.cluster_cidr;
    let comment = |set: usize| SETS[set].2;
    let mut out = String::new();
    write_mangle_with(&mut out, node, &["KUBE-KUBELET-CANARY"]);
    for table in TABLE_ORDER {
        // (chain, rules), built-ins first in hook order, the rest sorted by name below.
        let mut builtin: Vec<(&str, Vec<String>)> = Vec::new();
        let mut chains: Vec<(&str, Vec<String>)> = Vec::new();
        match table {
            Table::Filter => {
                // createAndLinkKubeChain prepends each jump in `iptablesJumpChain`'s order, so
                // a chain lists them last first; kubelet's KUBE-FIREWALL jump came before.
                builtin.push((
                    "INPUT",
                    vec![
                        r#"-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER"#.into(),
                        r#"-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL"#.into(),
                        r#"-m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT"#.into(),
                        "-j KUBE-FIREWALL".into(),
                    ],
                ));
                builtin.push((
                    "FORWARD",
                    vec![
                        r#"-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL"#.into(),
                        r#"-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD"#.into(),
                    ],
                ));
                builtin.push((
                    "OUTPUT",
                    vec![
                        r#"-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER"#.into(),
                        "-j KUBE-FIREWALL".into(),
                    ],
                ));
                // kubelet's martian-packet rule (pkg/kubelet/kubelet_network_linux.go).
                chains.push(("KUBE-FIREWALL", vec![
                    r#"! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"#.into(),
                ]));
                chains.push(("KUBE-FORWARD", vec![
                    format!(r#"-m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ} -j ACCEPT"#),
                    r#"-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#.into(),
                ]));
                let mut filter = Vec::new();
                for set in [LOAD_BALANCER, CLUSTER_IP, EXTERNAL_IP, EXTERNAL_IP_LOCAL] {
                    filter.push(format!(
                        "-m set --match-set {} dst,dst -j RETURN",
                        SETS[set].0
                    ));
                }
                filter.push("-m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN".into());
                filter.push("-m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable".into());
                chains.push(("KUBE-IPVS-FILTER", filter));
                let out_filter = sets
                    .no_node_access
                    .iter()
                    .map(|e| {
                        let ip = Ipv4Addr::from(e.ip);
                        // libxt_ipvs saves the protocol by number.
                        let proto = match PROTOS[e.proto as usize] {
                            Protocol::Tcp => 6,
                            Protocol::Udp => 17,
                            Protocol::Sctp => 132,
                        };
                        format!(
                            "-s {ip}/32 -m ipvs --vproto {proto} --vaddr {ip}/32 --vport {} -j DROP",
                            e.port
                        )
                    })
                    .collect();
                chains.push(("KUBE-IPVS-OUT-FILTER", out_filter));
                chains.push(("KUBE-KUBELET-CANARY", Vec::new()));
                chains.push(("KUBE-NODE-PORT", vec![format!(
                    r#"-m comment --comment "{}" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT"#,
                    comment(HEALTH_CHECK_NODE_PORT)
                )]));
                let mut fw = Vec::new();
                if !sets.is_empty(LOAD_BALANCER_FW) {
                    fw.push(format!(
                        r#"-m comment --comment "{}" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL"#,
                        comment(LOAD_BALANCER_FW)
                    ));
                }
                chains.push(("KUBE-PROXY-FIREWALL", fw));
                let mut ranges = Vec::new();
                for set in [LOAD_BALANCER_SOURCE_CIDR, LOAD_BALANCER_SOURCE_IP] {
                    if !sets.is_empty(set) {
                        ranges.push(format!(
                            r#"-m comment --comment "{}" -m set --match-set {} dst,dst,src -j RETURN"#,
                            comment(set),
                            SETS[set].0
                        ));
                    }
                }
                ranges.push("-j DROP".into());
                chains.push(("KUBE-SOURCE-RANGES-FIREWALL", ranges));
            }
            Table::Nat => {
                let portals =
                    r#"-m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#;
                builtin.push(("PREROUTING", vec![portals.into()]));
                builtin.push(("INPUT", Vec::new()));
                builtin.push(("OUTPUT", vec![portals.into()]));
                builtin.push((
                    "POSTROUTING",
                    vec![r#"-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING"#.into()],
                ));
                chains.push(("KUBE-KUBELET-CANARY", Vec::new()));
                let mut lb = Vec::new();
                if !sets.is_empty(LOAD_BALANCER_LOCAL) {
                    lb.push(format!(
                        r#"-m comment --comment "{}" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN"#,
                        comment(LOAD_BALANCER_LOCAL)
                    ));
                }
                lb.push("-j KUBE-MARK-MASQ".into());
                chains.push(("KUBE-LOAD-BALANCER", lb));
                chains.push((
                    "KUBE-MARK-MASQ",
                    vec![format!("-j MARK --set-xmark {MASQ}")],
                ));
                let mut np = Vec::new();
                for (local, set, proto, m) in [
                    (NODE_PORT_LOCAL_TCP, NODE_PORT_TCP, "tcp", "dst"),
                    (NODE_PORT_LOCAL_UDP, NODE_PORT_UDP, "udp", "dst"),
                    (NODE_PORT_LOCAL_SCTP, NODE_PORT_SCTP, "sctp", "dst,dst"),
                ] {
                    for (s, to) in [(local, "RETURN"), (set, "KUBE-MARK-MASQ")] {
                        if !sets.is_empty(s) {
                            np.push(format!(
                                r#"-p {proto} -m comment --comment "{}" -m set --match-set {} {m} -j {to}"#,
                                comment(s),
                                SETS[s].0
                            ));
                        }
                    }
                }
                chains.push(("KUBE-NODE-PORT", np));
                let mut post = Vec::new();
                if !sets.is_empty(LOOP_BACK) {
                    post.push(format!(
                        r#"-m comment --comment "{}" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE"#,
                        comment(LOOP_BACK)
                    ));
                }
                post.push(format!("-m mark ! --mark {MASQ} -j RETURN"));
                post.push("-j MARK --set-xmark 0x4000/0x0".into());
                post.push(r#"-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#.into());
                chains.push(("KUBE-POSTROUTING", post));
                let mut svc = vec!["-s 127.0.0.0/8 -j RETURN".to_string()];
                if !sets.is_empty(LOAD_BALANCER) {
                    svc.push(format!(
                        r#"-m comment --comment "{}" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER"#,
                        comment(LOAD_BALANCER)
                    ));
                }
                if !sets.is_empty(CLUSTER_IP) {
                    svc.push(format!(
                        r#"! -s {cluster_cidr} -m comment --comment "{}" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ"#,
                        comment(CLUSTER_IP)
                    ));
                }
                for set in [EXTERNAL_IP, EXTERNAL_IP_LOCAL] {
                    if sets.is_empty(set) {
                        continue;
                    }
                    let m = format!(
                        r#"-m comment --comment "{}" -m set --match-set {} dst,dst"#,
                        comment(set),
                        SETS[set].0
                    );
                    if set == EXTERNAL_IP {
                        svc.push(format!("{m} -j KUBE-MARK-MASQ"));
                    }
                    svc.push(format!(
                        "{m} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT"
                    ));
                    svc.push(format!("{m} -m addrtype --dst-type LOCAL -j ACCEPT"));
                }
                svc.push("-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT".into());
                for set in [CLUSTER_IP, LOAD_BALANCER] {
                    if !sets.is_empty(set) {
                        svc.push(format!(
                            "-m set --match-set {} dst,dst -j ACCEPT",
                            SETS[set].0
                        ));
                    }
                }
                chains.push(("KUBE-SERVICES", svc));
            }
        }
        chains.sort_by(|a, b| a.0.cmp(b.0));
        let _ = writeln!(out, "# Generated by iptables-save v1.8.9 on {node}");
        let _ = writeln!(out, "*{}", table.as_str());
        for (name, _) in &builtin {
            let _ = writeln!(out, ":{name} ACCEPT [0:0]");
        }
        for (name, _) in &chains {
            let _ = writeln!(out, ":{name} - [0:0]");
        }
        for (name, rules) in builtin.iter().chain(&chains) {
            for r in rules {
                let _ = writeln!(out, "-A {name} {r}");
            }
        }
        out.push_str("COMMIT\n");
        let _ = writeln!(out, "# Completed on {node}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testkit::{ep, node, svc};

    #[test]
    fn cluster_ips_and_node_ports_fill_their_sets() {
        let mut sp = svc(
            "web",
            "10.96.0.20",
            80,
            vec![ep("10.244.0.2", 8080, true), ep("10.244.1.2", 8080, false)],
        );
        sp.node_port = Some(30080);
        let input = node(vec![sp]);
        let sets = ipset_save(&input);
        assert!(
            sets.contains("\nadd KUBE-CLUSTER-IP 10.96.0.20,tcp:80\n"),
            "{sets}"
        );
        assert!(sets.contains("\nadd KUBE-NODE-PORT-TCP 30080\n"), "{sets}");
        assert!(
            sets.contains("\nadd KUBE-LOOP-BACK 10.244.0.2,tcp:8080,10.244.0.2\n"),
            "{sets}"
        );
        assert!(sets.contains("\nadd KUBE-IPVS-IPS 10.96.0.20\n"), "{sets}");
        assert!(
            sets.contains("create KUBE-NODE-PORT-TCP bitmap:port range 0-65535\n"),
            "{sets}"
        );
        assert!(!sets.contains("add KUBE-LOOP-BACK 10.244.1.2"), "{sets}");
        let rules = iptables_save(&input);
        assert!(rules.starts_with("# Generated by iptables-save v1.8.9 on node-1\n*mangle\n"));
        assert!(rules.contains("\n-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable\n"), "{rules}");
        assert!(rules.contains("\n-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n"), "{rules}");
        assert!(rules.contains("\n-A KUBE-NODE-PORT -p tcp -m comment --comment \"Kubernetes nodeport TCP port for masquerade purpose\" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ\n"), "{rules}");
        // The mangle table is first, filter before nat, as iptables-nft-save prints them.
        let mangle = rules.find("*mangle").unwrap();
        let filter = rules.find("*filter").unwrap();
        let nat = rules.find("*nat").unwrap();
        assert!(mangle < filter && filter < nat);
    }

    #[test]
    fn source_ranges_fill_the_firewall_sets() {
        let mut sp = svc("lb", "10.96.0.30", 80, vec![ep("10.244.0.2", 8080, true)]);
        sp.node_port = Some(30081);
        sp.load_balancer_ips = vec!["172.18.255.200".parse().unwrap()];
        sp.source_ranges = vec!["203.0.113.0/24".parse().unwrap()];
        let input = node(vec![sp]);
        let sets = ipset_save(&input);
        assert!(
            sets.contains("\nadd KUBE-LOAD-BALANCER-FW 172.18.255.200,tcp:80\n"),
            "{sets}"
        );
        assert!(
            sets.contains(
                "\nadd KUBE-LOAD-BALANCER-SOURCE-CIDR 172.18.255.200,tcp:80,203.0.113.0/24\n"
            ),
            "{sets}"
        );
        let rules = iptables_save(&input);
        assert!(rules.contains("\n-A KUBE-PROXY-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port for load balancer with sourceRange\" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL\n"), "{rules}");
        assert!(
            rules.contains("\n-A KUBE-SOURCE-RANGES-FIREWALL -j DROP\n"),
            "{rules}"
        );
        // The node's address is in no range: its own connections to the LB IP are dropped.
        assert!(rules.contains("\n-A KUBE-IPVS-OUT-FILTER -s 172.18.255.200/32 -m ipvs --vproto 6 --vaddr 172.18.255.200/32 --vport 80 -j DROP\n"), "{rules}");
    }
}
