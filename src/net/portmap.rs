//! `hostPort` as the CNI `portmap` plugin programs it: the nat chains that send
//! `NodeIP:hostPort` to the pod (`containernetworking/plugins`,
//! `plugins/meta/portmap/portmap_iptables.go`, iptables backend).
//!
//! The container runtime calls the plugin when it creates a pod's sandbox, with the pod's
//! `hostPort` mappings; the plugin adds, in the nat table:
//! - `PREROUTING` and `OUTPUT` (appended, so after kube-proxy's `KUBE-SERVICES`):
//!   `-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`;
//! - `CNI-HOSTPORT-DNAT`: one rule per pod and protocol, `-m multiport --dports ...` to the
//!   pod's own chain `CNI-DN-<hash>` (`utils.MustFormatChainNameWithPrefix`: `CNI-DN-` and the
//!   SHA-512 of network name + container ID in hex, 28 characters in all);
//! - `CNI-DN-<hash>`: per mapping, hairpin (`-s <pod CIDR>`) and localhost (`-s 127.0.0.1`)
//!   traffic to `CNI-HOSTPORT-SETMARK`, then `DNAT --to-destination podIP:containerPort`;
//! - `CNI-HOSTPORT-SETMARK` (mark bit 13, `0x2000`) and `CNI-HOSTPORT-MASQ` (prepended to
//!   `POSTROUTING`: masquerade what is marked).
//!
//! [`merge_into`] adds these to a node's `iptables-save` text. The route a connection to
//! `NodeIP:hostPort` takes is the DNAT these rules make; `sim` applies it where no kube-proxy
//! rule claimed the packet (the jump comes after `KUBE-SERVICES`), without walking this text.
//! Knows nothing of pods as API objects.

use sha2::{Digest, Sha256, Sha512};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The CNI network's name, which the portmap plugin hashes into each chain name: flannel's
/// `kube-flannel-cfg` conflist calls it `cbr0`.
pub const NETWORK_NAME: &str = "cbr0";

/// The portmap plugin's masquerade mark, bit 13 (`DefaultMarkBit`,
/// `plugins/meta/portmap/main.go`; Kubernetes uses bits 14 and 15).
pub const MARK: u32 = 1 << 13;

/// One pod's `hostPort` mappings, as the runtime hands them to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPortMaps {
    /// The pod sandbox's container ID (64 hex digits).
    pub container_id: String,
    /// The pod's address and its network's prefix (host-local's result, `10.244.0.5/24`).
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// (protocol as `tcp`/`udp`/`sctp`, hostPort, containerPort), in the containers' order.
    pub maps: Vec<(&'static str, u16, u16)>,
}

/// A stand-in for the sandbox's container ID (random on a real node): the SHA-256 of the
/// pod's UID, in hex.
pub fn sandbox_id(pod_uid: &str) -> String {
    let d = Sha256::digest(format!("sandbox/{pod_uid}").as_bytes());
    d.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `CNI-DN-` and the hash of network name + container ID, 28 characters.
pub fn dnat_chain(container_id: &str) -> String {
    let d = Sha512::digest(format!("{NETWORK_NAME}{container_id}").as_bytes());
    let mut s = String::from("CNI-DN-");
    for b in d.iter() {
        let _ = write!(s, "{b:02x}");
        if s.len() >= 28 {
            break;
        }
    }
    s.truncate(28);
    s
}

/// The nat table's portmap lines for `pods`: (chain declarations, PREROUTING and OUTPUT
/// rules, POSTROUTING rules to put first, the CNI chains' rules).
fn lines(pods: &[PodPortMaps]) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let mark = format!("{MARK:#x}/{MARK:#x}");
    let mut chains: Vec<String> = vec![
        "CNI-HOSTPORT-DNAT".into(),
        "CNI-HOSTPORT-MASQ".into(),
        "CNI-HOSTPORT-SETMARK".into(),
    ];
    let mut dnat = Vec::new();
    let mut own: Vec<(String, Vec<String>)> = Vec::new();
    for p in pods {
        let chain = dnat_chain(&p.container_id);
        let comment = format!(
            r#"dnat name: \"{NETWORK_NAME}\" id: \"{}\""#,
            p.container_id
        );
        let mut protos: Vec<&str> = p.maps.iter().map(|m| m.0).collect();
        protos.sort_unstable();
        protos.dedup();
        for proto in protos {
            let ports: Vec<String> = p
                .maps
                .iter()
                .filter(|m| m.0 == proto)
                .map(|m| m.1.to_string())
                .collect();
            // multiport takes at most 15 ports a rule.
            for group in ports.chunks(15) {
                dnat.push(format!(
                    r#"-A CNI-HOSTPORT-DNAT -p {proto} -m comment --comment "{comment}" -m multiport --dports {} -j {chain}"#,
                    group.join(",")
                ));
            }
        }
        let net = u32::from(p.ip) & (u32::MAX.checked_shl(32 - u32::from(p.prefix)).unwrap_or(0));
        let mut rules = Vec::new();
        for &(proto, host, container) in &p.maps {
            let base = format!("-p {proto} -m {proto} --dport {host}");
            rules.push(format!(
                "-A {chain} -s {}/{} {base} -j CNI-HOSTPORT-SETMARK",
                Ipv4Addr::from(net),
                p.prefix
            ));
            rules.push(format!(
                "-A {chain} -s 127.0.0.1/32 {base} -j CNI-HOSTPORT-SETMARK"
            ));
            rules.push(format!(
                "-A {chain} {base} -j DNAT --to-destination {}:{container}",
                p.ip
            ));
        }
        chains.push(chain.clone());
        own.push((chain, rules));
    }
    chains.sort();
    own.sort_by(|a, b| a.0.cmp(&b.0));
    // Every chain's rules in the order iptables-save prints the chains (by name).
    let mut body = Vec::new();
    for c in &chains {
        match c.as_str() {
            "CNI-HOSTPORT-DNAT" => body.append(&mut dnat),
            "CNI-HOSTPORT-MASQ" => body.push(format!(
                "-A CNI-HOSTPORT-MASQ -m mark --mark {mark} -j MASQUERADE"
            )),
            "CNI-HOSTPORT-SETMARK" => body.push(format!(
                r#"-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark {mark}"#
            )),
            name => {
                if let Some((_, rules)) = own.iter_mut().find(|(n, _)| n == name) {
                    body.append(rules);
                }
            }
        }
    }
    let entry = vec![
        "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT".to_string(),
        "-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT".to_string(),
    ];
    let post =
        vec![r#"-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ"#.to_string()];
    (chains, entry, post, body)
}

/// `text` (a node's `iptables-save` output) with the portmap plugin's chains for `pods` in its
/// nat table, where `iptables-save` prints them: the `CNI-` chains declared and listed before
/// the `KUBE-` chains (by name), the jumps after the existing `PREROUTING` and `OUTPUT` rules
/// and before the existing `POSTROUTING` rules. No pods: `text` unchanged.
pub fn merge_into(text: &str, pods: &[PodPortMaps]) -> String {
    if pods.iter().all(|p| p.maps.is_empty()) {
        return text.to_string();
    }
    let pods: Vec<PodPortMaps> = pods
        .iter()
        .filter(|p| !p.maps.is_empty())
        .cloned()
        .collect();
    let (chains, entry, post, body) = lines(&pods);
    let mut out = String::with_capacity(text.len() + 4096);
    let mut in_nat = false;
    let mut declared = false;
    let mut body_done = false;
    let mut post_done = false;
    let all: Vec<&str> = text.lines().collect();
    for (i, line) in all.iter().enumerate() {
        if *line == "*nat" {
            in_nat = true;
        }
        if in_nat {
            let next = all.get(i + 1).copied().unwrap_or("");
            // The user chains' declarations start after the built-ins'.
            if !declared && line.starts_with(':') && !line.ends_with(" ACCEPT [0:0]") {
                for c in &chains {
                    let _ = writeln!(out, ":{c} - [0:0]");
                }
                declared = true;
            }
            if !post_done && line.starts_with("-A POSTROUTING ") {
                for r in &post {
                    let _ = writeln!(out, "{r}");
                }
                post_done = true;
            }
            if !body_done
                && line.starts_with("-A ")
                && ![
                    "-A PREROUTING ",
                    "-A INPUT ",
                    "-A OUTPUT ",
                    "-A POSTROUTING ",
                ]
                .iter()
                .any(|b| line.starts_with(b))
            {
                for r in &body {
                    let _ = writeln!(out, "{r}");
                }
                body_done = true;
            }
            if *line == "COMMIT" {
                if !declared {
                    for c in &chains {
                        let _ = writeln!(out, ":{c} - [0:0]");
                    }
                    declared = true;
                }
                if !post_done {
                    for r in &post {
                        let _ = writeln!(out, "{r}");
                    }
                    post_done = true;
                }
                if !body_done {
                    for r in &body {
                        let _ = writeln!(out, "{r}");
                    }
                    body_done = true;
                }
                in_nat = false;
            }
            out.push_str(line);
            out.push('\n');
            // After the last rule of PREROUTING and of OUTPUT: their portmap jump.
            for (b, r) in [("-A PREROUTING ", &entry[0]), ("-A OUTPUT ", &entry[1])] {
                let ends_here = line.starts_with(b) && !next.starts_with(b);
                if ends_here {
                    let _ = writeln!(out, "{r}");
                }
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_are_28_characters_of_the_sha512() {
        // `CNI-DN-` + sha512("cbr0" + id) in hex, cut at 28 (MustFormatChainNameWithPrefix).
        let id = "abc";
        let hex: String = Sha512::digest(b"cbr0abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(dnat_chain(id), format!("CNI-DN-{}", &hex[..21]));
        assert_eq!(dnat_chain(id).len(), 28);
        assert_eq!(sandbox_id("uid-1").len(), 64);
    }

    #[test]
    fn merges_into_the_nat_table_where_iptables_save_prints_them() {
        let text = "*mangle\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n";
        let pod = PodPortMaps {
            container_id: "abc".into(),
            ip: "10.244.0.5".parse().unwrap(),
            prefix: 24,
            maps: vec![("tcp", 8080, 80)],
        };
        let chain = dnat_chain("abc");
        let got = merge_into(text, &[pod]);
        let want = format!(
            "*mangle\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
:{chain} - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-HOSTPORT-MASQ - [0:0]\n:CNI-HOSTPORT-SETMARK - [0:0]\n:KUBE-SERVICES - [0:0]\n\
-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
-A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n\
-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n\
-A {chain} -s 10.244.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
-A {chain} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
-A {chain} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.0.5:80\n\
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"cbr0\\\" id: \\\"abc\\\"\" -m multiport --dports 8080 -j {chain}\n\
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE\n\
-A CNI-HOSTPORT-SETMARK -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000\n\
-A KUBE-SERVICES -j RETURN\nCOMMIT\n"
        );
        assert_eq!(got, want);
        assert_eq!(merge_into(text, &[]), text);
    }
}
