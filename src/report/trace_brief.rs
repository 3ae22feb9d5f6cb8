//! `kubesim trace --brief`: the trace's hops one line each, for a projector.
//!
//! It condenses the text `kubesim trace` prints ([`Simulation::trace`](crate::sim::Simulation::trace)),
//! so the two can never disagree: a hop's line (`  +0.500ms  reaches node ...`) becomes one
//! line, and what the full trace says under it is folded into that line: the Service chain
//! the rules chose (`KUBE-SVC-...`, nftables' `service-...`, IPVS's virtual server) with its
//! random draws, the DNAT, the SNAT, who served. The rules walked on the way are left out
//! (`kubesim trace` lists them); a line it does not recognise (a REJECT, a DROP, a node down)
//! is kept whole, so no outcome is lost.

use std::fmt::Write as _;

/// One line per hop of `trace`'s text.
pub fn trace_brief(text: &str) -> String {
    let mut out = String::new();
    let mut hop: Option<Hop> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        if body.is_empty() || body.starts_with("== ") || indent == 0 {
            if let Some(h) = hop.take() {
                h.write(&mut out);
            }
            if let Some(rest) = body.strip_prefix("client") {
                hop = Some(Hop::new(format!("client    {}", rest.trim())));
            } else if let Some(rest) = body.strip_prefix("dns") {
                let answer = rest.trim();
                let answer = answer.split(" (").next().unwrap_or(answer);
                hop = Some(Hop::new(format!("dns       {answer}")));
            } else {
                out.push_str(body);
                out.push('\n');
            }
            continue;
        }
        if let Some(rest) = body.strip_prefix('+').filter(|_| indent == 2) {
            if let Some(h) = hop.take() {
                h.write(&mut out);
            }
            let (time, what) = rest.split_once("  ").unwrap_or((rest, ""));
            hop = Some(Hop::new(format!("+{time:<9}{}", hop_head(what.trim()))));
            continue;
        }
        let h = hop.get_or_insert_with(|| Hop::new(String::new()));
        if indent >= 11 {
            h.rule(body);
        } else {
            h.detail(body);
        }
    }
    if let Some(h) = hop.take() {
        h.write(&mut out);
    }
    out
}

/// A hop's own line, shortened.
fn hop_head(what: &str) -> String {
    if let Some(rest) = what.strip_prefix("reaches node ") {
        // `node-1 (192.168.0.24, NodeIP network)`
        return format!("node {}", rest.replace(", NodeIP network)", ")"));
    }
    if let Some(rest) = what.strip_prefix("veth -> ") {
        if let Some((node, _)) = rest.split_once("'s network stack") {
            return format!("node {node} (the client pod's own node)");
        }
        if let Some((pod, seen)) = rest.split_once("; it sees the connection from ") {
            let source = seen.split(" (").next().unwrap_or(seen);
            return format!("{pod}, source {source}");
        }
    }
    if let Some(rest) = what.strip_prefix("overlay (VXLAN) hop ") {
        return format!("overlay {rest}");
    }
    what.to_string()
}

/// A hop being folded into one line.
struct Hop {
    head: String,
    parts: Vec<String>,
    /// The Service chain the rules chose, with its draws once seen.
    chain: Option<String>,
    draws: Option<String>,
}

impl Hop {
    fn new(head: String) -> Hop {
        Hop {
            head,
            parts: Vec::new(),
            chain: None,
            draws: None,
        }
    }

    /// A rule line: remembers the Service chain (iptables `-A KUBE-SVC-...`, nftables
    /// `service-...:`), the draws, IPVS's scheduler choice.
    fn rule(&mut self, body: &str) {
        if let Some(rest) = body.strip_prefix("random draws in ") {
            if let Some((_, draws)) = rest.split_once(": ") {
                let flips: Vec<String> = draws
                    .split("; ")
                    .map(|d| {
                        let mut w = d.split_whitespace();
                        let x = w.next().unwrap_or("");
                        let p = w.last().unwrap_or("");
                        let op = if d.contains("< (match)") { "<" } else { ">=" };
                        format!("{}{op}{}", short(x), short(p))
                    })
                    .collect();
                self.draws = Some(format!("draws {}", flips.join(" ")));
            }
            return;
        }
        if let Some(rest) = body.strip_prefix("= numgen random mod ") {
            // `3 = 0 (random ...): goto endpoint-...`
            let mut w = rest.split_whitespace();
            if let (Some(n), Some(_), Some(k)) = (w.next(), w.next(), w.next()) {
                self.draws = Some(format!("numgen {k} of {n}"));
            }
            return;
        }
        if let Some(rest) = body.strip_prefix("scheduler ") {
            let choice = match rest.split_once(" -> real server ") {
                Some((how, to)) => {
                    let scheduler = how.split(':').next().unwrap_or(how);
                    let to = to.split(" (").next().unwrap_or(to);
                    format!("{scheduler} -> {to}")
                }
                None => rest.to_string(),
            };
            self.parts.push(format!("scheduler {choice}"));
            return;
        }
        let chain = match body.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["nat", "-A", chain, ..] => Some(*chain),
            [chain, ..] => chain.strip_suffix(':'),
            [] => None,
        };
        if let Some(c) = chain {
            let service = c.starts_with("KUBE-SVC-")
                || c.starts_with("KUBE-SVL-")
                || c.starts_with("service-");
            if service && self.chain.is_none() {
                self.chain = Some(c.to_string());
            }
        }
    }

    /// A line under the hop: DNAT, SNAT, who served, IPVS's virtual server; anything else
    /// whole.
    fn detail(&mut self, body: &str) {
        if body.starts_with("rules of ")
            || body.starts_with("iptables: KUBE-MARK-MASQ")
            || body.starts_with("conntrack: ")
        {
            return;
        }
        if let Some(rest) = body.strip_prefix("NetworkPolicy ") {
            // `ingress at pod default/web-1: allowed by default/p's ingress rule 1 (...); ...`
            let (where_, verdict) = rest.split_once(": ").unwrap_or((rest, ""));
            let direction = where_.split_whitespace().next().unwrap_or(where_);
            let verdict = if let Some(by) = verdict.strip_prefix("allowed by ") {
                format!("allowed by {}", by.split(" (").next().unwrap_or(by))
            } else if verdict.starts_with("DENIED") {
                let why = verdict.split_once("allows it ").map_or("", |(_, w)| w);
                format!("DENIED {why}").trim_end().to_string()
            } else {
                "allowed (no policy applies)".to_string()
            };
            self.flush_chain();
            self.parts.push(format!("policy {direction} {verdict}"));
            return;
        }
        if body.starts_with("the CNI drops the packet") {
            self.parts.push("dropped by the CNI (policy_drop)".into());
            return;
        }
        if body.starts_with("the CNI drops the query") {
            // `... and gives up after 10 s (dns_failure, ...)`, or `... attempts:1) and gives up`
            let after = body
                .split("gives up after ")
                .nth(1)
                .and_then(|r| r.split(" (").next())
                .map_or_else(String::new, |d| format!(" after {d}"));
            self.parts.push(format!(
                "dropped by the CNI: unanswered, the resolver gives up{after} (dns_failure)"
            ));
            return;
        }
        if let Some(rest) = body.strip_prefix("DNAT -> ") {
            self.flush_chain();
            let to = rest.split(", pod ").next().unwrap_or(rest);
            self.parts.push(format!("DNAT -> {to}"));
            return;
        }
        if let Some(rest) = body.strip_prefix("SNAT (") {
            if let Some((_, rest)) = rest.split_once("): source ") {
                let rest = rest.split(" (").next().unwrap_or(rest);
                self.parts.push(format!("SNAT {rest}"));
                return;
            }
        }
        if let Some(rest) = body.strip_prefix("served by container ") {
            let container = rest.split(';').next().unwrap_or(rest);
            let trip = rest
                .split("round trip ")
                .nth(1)
                .map(|t| {
                    format!(
                        ", round trip {}",
                        t.replace(" plus service time", " + service")
                    )
                })
                .unwrap_or_default();
            self.parts.push(format!("served by {container}{trip}"));
            return;
        }
        if let Some(rest) = body.strip_prefix("IPVS of ") {
            if let Some((_, vs)) = rest.split_once("virtual server ") {
                let vs = vs.split(" (").next().unwrap_or(vs);
                self.parts.push(format!(
                    "IPVS {}",
                    vs.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
                return;
            }
        }
        self.flush_chain();
        self.parts.push(body.to_string());
    }

    fn flush_chain(&mut self) {
        if let Some(c) = self.chain.take() {
            self.parts.push(c);
        }
        if let Some(d) = self.draws.take() {
            self.parts.push(d);
        }
    }

    fn write(mut self, out: &mut String) {
        self.flush_chain();
        let _ = write!(out, "{}", self.head);
        if !self.parts.is_empty() {
            let sep = if self.head.is_empty() { "" } else { ": " };
            let _ = write!(out, "{sep}{}", self.parts.join(", "));
        }
        out.push('\n');
    }
}

/// `0.8695` as `0.87`: two decimals read from across a room.
fn short(x: &str) -> String {
    match x.parse::<f64>() {
        Ok(v) => format!("{v:.2}"),
        Err(_) => x.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPTABLES: &str = r#"== request 1 of 2
client   203.0.113.1:32768, outside the cluster
  +0.500ms  reaches node node-1 (192.168.0.24, NodeIP network)
         rules of node-1 (synced at 1.000s):
           nat    -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
           nat    -A KUBE-NODEPORTS -p tcp -m comment --comment "default/http-svc" -m tcp --dport 30001 -j KUBE-EXT-GM62ZXCOIF6ZCRWU
           nat    -A KUBE-EXT-GM62ZXCOIF6ZCRWU -j KUBE-SVC-GM62ZXCOIF6ZCRWU
           nat    -A KUBE-SVC-GM62ZXCOIF6ZCRWU -m comment --comment "default/http-svc -> 10.244.2.2:80" -j KUBE-SEP-AINCCXZCCVVB5HFX
           nat    -A KUBE-SEP-AINCCXZCCVVB5HFX -p tcp -m comment --comment "default/http-svc" -m tcp -j DNAT --to-destination 10.244.2.2:80
           filter -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
           random draws in KUBE-SVC-GM62ZXCOIF6ZCRWU: 0.8695 >= (next rule) 0.3333; 0.6506 >= (next rule) 0.5000
         DNAT -> 10.244.2.2:80, pod http-deployment-7fbd98865c-b49qk (Pod network)
  +0.700ms  overlay (VXLAN) hop node-1 -> node-3
         SNAT (KUBE-POSTROUTING, mark 0x4000): source 203.0.113.1:32768 -> 10.244.0.0 (flannel.1, the entry node's overlay interface)
  +0.720ms  veth -> pod http-deployment-7fbd98865c-b49qk on node-3; it sees the connection from 10.244.0.0 (flannel.1, the entry node's overlay interface)
         served by container aspnetcoreweb; the answer returns the same way (conntrack undoes the NAT): round trip 1.440ms plus service time

== request 2 of 2
client   203.0.113.1:32769, outside the cluster
  +0.500ms  reaches node node-1 (192.168.0.24, NodeIP network)
         rules of node-1 (synced at 1.000s):
           nat    -A KUBE-SVC-GM62ZXCOIF6ZCRWU -m comment --comment "default/http-svc -> 10.244.1.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-PVWHW2R4IV34D5YI
           random draws in KUBE-SVC-GM62ZXCOIF6ZCRWU: 0.7579 >= (next rule) 0.3333; 0.1977 < (match) 0.5000
         REJECT: the Service has no usable endpoint; the client gets ICMP port unreachable (connection refused) after +1.000ms

"#;

    #[test]
    fn one_line_per_hop_with_the_chain_draws_and_nat() {
        assert_eq!(
            trace_brief(IPTABLES),
            "== request 1 of 2\n\
             client    203.0.113.1:32768, outside the cluster\n\
             +0.500ms  node node-1 (192.168.0.24): KUBE-SVC-GM62ZXCOIF6ZCRWU, draws 0.87>=0.33 0.65>=0.50, DNAT -> 10.244.2.2:80\n\
             +0.700ms  overlay node-1 -> node-3: SNAT 203.0.113.1:32768 -> 10.244.0.0\n\
             +0.720ms  pod http-deployment-7fbd98865c-b49qk on node-3, source 10.244.0.0: served by aspnetcoreweb, round trip 1.440ms + service\n\
             \n\
             == request 2 of 2\n\
             client    203.0.113.1:32769, outside the cluster\n\
             +0.500ms  node node-1 (192.168.0.24): KUBE-SVC-GM62ZXCOIF6ZCRWU, draws 0.76>=0.33 0.20<0.50, REJECT: the Service has no usable endpoint; the client gets ICMP port unreachable (connection refused) after +1.000ms\n\
             \n"
        );
    }

    #[test]
    fn nftables_ipvs_and_dns_hops() {
        let nft = "client   203.0.113.1:32768, outside the cluster
  +0.500ms  reaches node node-1 (192.168.0.24, NodeIP network)
         rules of node-1 (synced at 1.000s):
           nat-prerouting: jump services
           service-M4T7S7IC-default/http-svc/tcp/: numgen random mod 3 vmap { 0 : goto endpoint-FVFADMB2-default/http-svc/tcp/__10.244.0.2/80 }
             = numgen random mod 3 = 0 (random 0x3b99c959 x 3 / 2^32): goto endpoint-FVFADMB2-default/http-svc/tcp/__10.244.0.2/80
           endpoint-FVFADMB2-default/http-svc/tcp/__10.244.0.2/80: meta l4proto tcp dnat to 10.244.0.2:80
         DNAT -> 10.244.0.2:80, pod web-1 (Pod network)
";
        assert_eq!(
            trace_brief(nft).lines().nth(1),
            Some("+0.500ms  node node-1 (192.168.0.24): service-M4T7S7IC-default/http-svc/tcp/, numgen 0 of 3, DNAT -> 10.244.0.2:80")
        );
        let ipvs = "  +0.500ms  reaches node docker-desktop (192.168.0.24, NodeIP network)
         IPVS of docker-desktop (synced at 1.000s): virtual server TCP  192.168.0.24:30001 lc (default/web, NodePort on the node's address)
           scheduler lc: 0 active, 371 inactive (overhead 371), lowest of 10.244.0.4:80 (853) -> real server 10.244.0.3:80 (Masq: IPVS rewrites the destination)
           iptables: KUBE-MARK-MASQ for default/web (externalTrafficPolicy Cluster: KUBE-NODE-PORT): MARK 0x4000
         DNAT -> 10.244.0.3:80, pod web-55786b787-b49qk (Pod network)
";
        assert_eq!(
            trace_brief(ipvs),
            "+0.500ms  node docker-desktop (192.168.0.24): IPVS TCP 192.168.0.24:30001 lc, scheduler lc -> 10.244.0.3:80, DNAT -> 10.244.0.3:80\n"
        );
        let pod = "client   pod client-9f6fc66bc-tvtkp 10.244.0.2:32768 on node-1 (Pod network)
dns      http-svc -> 10.96.24.104 (A record of the Service's ClusterIP, from cluster DNS 10.96.0.10)
  +0.020ms  veth -> node-1's network stack; the packet to 10.96.24.104:8080 enters PREROUTING there
";
        assert_eq!(
            trace_brief(pod),
            "client    pod client-9f6fc66bc-tvtkp 10.244.0.2:32768 on node-1 (Pod network)\n\
             dns       http-svc -> 10.96.24.104\n\
             +0.020ms  node node-1 (the client pod's own node)\n"
        );
    }

    #[test]
    fn policy_verdicts_fold_into_the_hop_and_conntrack_lines_are_left_out() {
        let text = [
            "client   pod batch-1 10.244.0.5:32768 on node-1 (Pod network)",
            "dns      query backend.default.svc.cluster.local (A and AAAA, UDP 10.244.0.5:32768 -> 10.96.0.10:53): 10.96.24.104, answered by pod coredns-1 10.244.1.2 (+0.480ms)",
            "         conntrack: udp      17 30 src=10.244.0.5 dst=10.96.0.10 sport=32768 dport=53",
            "  +0.700ms  overlay (VXLAN) hop node-1 -> node-2",
            "         NetworkPolicy egress at pod default/batch-1: no policy selects it for egress: allowed",
            "         NetworkPolicy ingress at pod default/backend-1: DENIED: no rule allows it (isolated by default/a, default/b)",
            "         the CNI drops the packet: the client resends its SYN until it times out (policy_drop)",
        ]
        .join("\n");
        let b = trace_brief(&text);
        assert!(!b.contains("conntrack"), "{b}");
        assert!(
            b.contains("dns       query backend.default.svc.cluster.local\n"),
            "{b}"
        );
        assert!(
            b.contains("+0.700ms  overlay node-1 -> node-2: policy egress allowed (no policy applies), policy ingress DENIED (isolated by default/a, default/b), dropped by the CNI (policy_drop)"),
            "{b}"
        );
        let dns = [
            "dns      query backend.default.svc.cluster.local (A and AAAA, UDP 10.244.0.4:32768 -> 10.96.0.10:53): DNAT -> 10.244.1.2:53, CoreDNS pod coredns-1 (+10000.000ms)",
            "         NetworkPolicy egress at pod default/client-1: DENIED: no rule allows it (isolated by default/client-egress)",
            "         NetworkPolicy ingress at pod kube-system/coredns-1: no policy selects it for ingress: allowed",
            "         the CNI drops the query: the lookup goes unanswered; the resolver waits 5 s per attempt, 2 attempts (options timeout:5 attempts:2), each from the same socket, which conntrack sends the same way to be dropped again, and gives up after 10 s (dns_failure, not a refused or reset connection)",
        ]
        .join("\n");
        assert_eq!(
            trace_brief(&dns),
            "dns       query backend.default.svc.cluster.local: policy egress DENIED (isolated by default/client-egress), policy ingress allowed (no policy applies), dropped by the CNI: unanswered, the resolver gives up after 10 s (dns_failure)\n"
        );
        let allowed = "  +0.700ms  overlay (VXLAN) hop node-1 -> node-2\n         NetworkPolicy ingress at pod default/backend-1: allowed by default/allow-frontend's ingress rule 1 (from x on 80/TCP); isolated by default/a\n";
        assert!(
            trace_brief(allowed)
                .contains("policy ingress allowed by default/allow-frontend's ingress rule 1\n"),
            "{}",
            trace_brief(allowed)
        );
    }
}
