//! Building a node's rules: kube-proxy's fixed chains and, per service port, what
//! `syncProxyRules` and `writeServiceToEndpointRules` write (`pkg/proxy/iptables/proxier.go`).

use super::*;
use crate::net::hash::{chain_name, endpoint_hash, port_proto_hash, service_port_name};
use crate::net::topology::{categorize_endpoints, TrafficPolicies};
use std::collections::BTreeMap;

struct Builder {
    chains: Vec<Chain>,
    by_name: BTreeMap<(Table, String), ChainId>,
}

impl Builder {
    fn chain(&mut self, table: Table, name: &str, builtin: bool) -> ChainId {
        if let Some(&id) = self.by_name.get(&(table, name.to_string())) {
            return id;
        }
        let id = ChainId(self.chains.len() as u32);
        self.chains.push(Chain {
            name: name.to_string(),
            table,
            builtin,
            rules: Vec::new(),
        });
        self.by_name.insert((table, name.to_string()), id);
        id
    }
    fn push(&mut self, c: ChainId, r: Rule) {
        self.chains[c.0 as usize].rules.push(r);
    }
}

fn recent_list(sep_hash: [u8; 16]) -> RecentList {
    RecentList(sep_hash)
}

impl IptablesRules {
    /// The rules kube-proxy would program on the node described by `input`.
    ///
    /// Service ports are written in the order of their `namespace/name:port` and protocol
    /// (upstream iterates a Go map, so a real node's order varies from sync to sync).
    pub fn build(input: &NodeProxyInput) -> IptablesRules {
        use Table::{Filter, Nat};
        let mut b = Builder {
            chains: Vec::new(),
            by_name: BTreeMap::new(),
        };
        let nat_prerouting = b.chain(Nat, "PREROUTING", true);
        b.chain(Nat, "INPUT", true);
        let nat_output = b.chain(Nat, "OUTPUT", true);
        let nat_postrouting = b.chain(Nat, "POSTROUTING", true);
        let filter_input = b.chain(Filter, "INPUT", true);
        let filter_forward = b.chain(Filter, "FORWARD", true);
        let filter_output = b.chain(Filter, "OUTPUT", true);

        let nat_services = b.chain(Nat, "KUBE-SERVICES", false);
        let nat_nodeports = b.chain(Nat, "KUBE-NODEPORTS", false);
        let nat_postrouting_kube = b.chain(Nat, "KUBE-POSTROUTING", false);
        let mark_masq = b.chain(Nat, "KUBE-MARK-MASQ", false);
        let f_services = b.chain(Filter, "KUBE-SERVICES", false);
        let f_external = b.chain(Filter, "KUBE-EXTERNAL-SERVICES", false);
        let f_forward = b.chain(Filter, "KUBE-FORWARD", false);
        let f_nodeports = b.chain(Filter, "KUBE-NODEPORTS", false);
        let f_proxy_fw = b.chain(Filter, "KUBE-PROXY-FIREWALL", false);
        let f_kubelet_fw = b.chain(Filter, "KUBE-FIREWALL", false);

        // Jump rules (proxier.go `iptablesJumpChains`, each prepended, so the last listed
        // comes first; kubelet adds the KUBE-FIREWALL jumps).
        let new = Matcher::CtState {
            states: ctstate::NEW,
            negate: false,
        };
        let portals = "kubernetes service portals";
        b.push(
            nat_prerouting,
            Rule::new(Target::Jump(nat_services)).comment(portals),
        );
        b.push(
            nat_output,
            Rule::new(Target::Jump(nat_services)).comment(portals),
        );
        b.push(
            nat_postrouting,
            Rule::new(Target::Jump(nat_postrouting_kube)).comment("kubernetes postrouting rules"),
        );
        let lb_fw = "kubernetes load balancer firewall";
        let ext_portals = "kubernetes externally-visible service portals";
        b.push(
            filter_input,
            Rule::new(Target::Jump(f_proxy_fw))
                .m(new.clone())
                .comment(lb_fw),
        );
        b.push(
            filter_input,
            Rule::new(Target::Jump(f_nodeports)).comment("kubernetes health check service ports"),
        );
        b.push(
            filter_input,
            Rule::new(Target::Jump(f_external))
                .m(new.clone())
                .comment(ext_portals),
        );
        b.push(filter_input, Rule::new(Target::Jump(f_kubelet_fw)));
        b.push(
            filter_forward,
            Rule::new(Target::Jump(f_proxy_fw))
                .m(new.clone())
                .comment(lb_fw),
        );
        b.push(
            filter_forward,
            Rule::new(Target::Jump(f_forward)).comment("kubernetes forwarding rules"),
        );
        b.push(
            filter_forward,
            Rule::new(Target::Jump(f_services))
                .m(new.clone())
                .comment(portals),
        );
        b.push(
            filter_forward,
            Rule::new(Target::Jump(f_external))
                .m(new.clone())
                .comment(ext_portals),
        );
        b.push(
            filter_output,
            Rule::new(Target::Jump(f_proxy_fw))
                .m(new.clone())
                .comment(lb_fw),
        );
        b.push(
            filter_output,
            Rule::new(Target::Jump(f_services)).m(new).comment(portals),
        );
        b.push(filter_output, Rule::new(Target::Jump(f_kubelet_fw)));

        // Fixed kube-proxy rules.
        b.push(
            nat_postrouting_kube,
            Rule::new(Target::Return).m(Matcher::Mark {
                value: MASQUERADE_MARK,
                mask: MASQUERADE_MARK,
                negate: true,
            }),
        );
        b.push(
            nat_postrouting_kube,
            Rule::new(Target::MarkXor(MASQUERADE_MARK)),
        );
        b.push(
            nat_postrouting_kube,
            Rule::new(Target::Masquerade).comment("kubernetes service traffic requiring SNAT"),
        );
        b.push(mark_masq, Rule::new(Target::MarkOr(MASQUERADE_MARK)));
        let loopback: Ipv4Net = "127.0.0.0/8".parse().expect("valid loopback net");
        let mut localnet = Rule::new(Target::Drop);
        localnet.src = Some(Cidr::net(loopback, true));
        localnet.dst = Some(Cidr::net(loopback, false));
        b.push(
            f_kubelet_fw,
            localnet
                .comment("block incoming localnet connections")
                .m(Matcher::CtState {
                    states: ctstate::RELATED | ctstate::ESTABLISHED | ctstate::DNAT,
                    negate: true,
                }),
        );
        b.push(
            f_forward,
            Rule::new(Target::Drop).m(Matcher::CtState {
                states: ctstate::INVALID,
                negate: false,
            }),
        );
        b.push(
            f_forward,
            Rule::new(Target::Accept)
                .comment("kubernetes forwarding rules")
                .m(Matcher::Mark {
                    value: MASQUERADE_MARK,
                    mask: MASQUERADE_MARK,
                    negate: false,
                }),
        );
        b.push(
            f_forward,
            Rule::new(Target::Accept)
                .comment("kubernetes forwarding conntrack rule")
                .m(Matcher::CtState {
                    states: ctstate::RELATED | ctstate::ESTABLISHED,
                    negate: false,
                }),
        );

        let cluster_cidr = input.cluster_cidr.trunc();
        let mut order: Vec<(String, &'static str, usize)> = input
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let spn = service_port_name(&s.namespace, &s.name, s.port_name.as_deref());
                (spn, s.protocol.lower(), i)
            })
            .collect();
        order.sort();

        for (spn, proto_s, si) in order {
            let sp = &input.services[si];
            let Some(cluster_ip) = sp.cluster_ip else {
                continue;
            };
            let proto = sp.protocol;
            let h = port_proto_hash(&spn, proto_s);
            let svc_name = chain_name("KUBE-SVC-", &h);
            let svl_name = chain_name("KUBE-SVL-", &h);
            let ext_name = chain_name("KUBE-EXT-", &h);

            // Endpoints in the order of their `IP:port` strings (endpointslicecache sorts
            // them by `Endpoint.String()`).
            let mut eps: Vec<(String, usize)> = sp
                .endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| (format!("{}:{}", e.ip, e.port), i))
                .collect();
            eps.sort();
            let sorted: Vec<&ProxyEndpoint> = eps.iter().map(|(_, i)| &sp.endpoints[*i]).collect();

            let externally_accessible = sp.node_port.is_some()
                || !sp.load_balancer_ips.is_empty()
                || !sp.external_ips.is_empty();
            let policies = TrafficPolicies {
                internal_local: sp.internal_policy_local,
                external_local: sp.external_policy_local && externally_accessible,
                externally_accessible,
            };
            let cat = categorize_endpoints(&sorted, policies);
            let cluster_eps = cat.cluster.clone().unwrap_or_default();
            let local_eps = cat.local.clone().unwrap_or_default();
            let has_endpoints = cat.has_any;
            let uses_cluster_chain = !cluster_eps.is_empty() && policies.uses_cluster_endpoints();
            let uses_local_chain = !local_eps.is_empty() && policies.uses_local_endpoints();

            let (internal_name, has_internal) = if policies.internal_local {
                (&svl_name, has_endpoints && !local_eps.is_empty())
            } else {
                (&svc_name, has_endpoints)
            };
            let (external_policy_name, has_external) = if policies.external_local {
                (&svl_name, has_endpoints && !local_eps.is_empty())
            } else {
                (&svc_name, has_endpoints)
            };
            let uses_ext_chain = has_endpoints && externally_accessible;

            let (int_filter, ext_filter) = if !has_endpoints {
                let c = format!("{spn} has no endpoints");
                ((Target::Reject, c.clone()), (Target::Reject, c))
            } else {
                let c = format!("{spn} has no local endpoints");
                ((Target::Drop, c.clone()), (Target::Drop, c))
            };

            // A rule for the Service port at one of its addresses: `-d ip -p proto --dport port`.
            let at = |target: Target, ip: Ipv4Addr, comment: String| {
                Rule::new(target)
                    .dst(ip)
                    .comment(comment)
                    .proto_dport(proto, Some(sp.port))
            };
            // ClusterIP.
            if has_internal {
                let internal = b.chain(Nat, internal_name, false);
                let comment = format!("{spn} cluster IP");
                b.push(
                    nat_services,
                    at(Target::Jump(internal), cluster_ip, comment),
                );
            } else {
                let (target, comment) = int_filter;
                b.push(f_services, at(target, cluster_ip, comment));
            }
            // External destinations, in upstream's order (pkg/proxy/iptables/proxier.go):
            // external IPs, then load-balancer IPs (no loadBalancerSourceRanges, so no KUBE-FW
            // chain). Each jumps to KUBE-EXT when the Service has endpoints, and is refused or
            // dropped in KUBE-EXTERNAL-SERVICES when none may take external traffic.
            for (ips, what) in [
                (&sp.external_ips, "external IP"),
                (&sp.load_balancer_ips, "loadbalancer IP"),
            ] {
                for &ip in ips {
                    if has_endpoints {
                        let ext = b.chain(Nat, &ext_name, false);
                        b.push(
                            nat_services,
                            at(Target::Jump(ext), ip, format!("{spn} {what}")),
                        );
                    }
                    if !has_external {
                        let (target, comment) = ext_filter.clone();
                        b.push(f_external, at(target, ip, comment));
                    }
                }
            }
            // NodePort.
            if let Some(np) = sp.node_port {
                if has_endpoints {
                    let ext = b.chain(Nat, &ext_name, false);
                    b.push(
                        nat_nodeports,
                        Rule::new(Target::Jump(ext))
                            .comment(spn.clone())
                            .proto_dport(proto, Some(np)),
                    );
                }
                if !has_external {
                    let mut r = Rule::new(ext_filter.0)
                        .comment(ext_filter.1.clone())
                        .m(Matcher::AddrTypeLocal { source: false });
                    r.protocol = Some(proto);
                    r.matchers.push(Matcher::Port {
                        protocol: proto,
                        dport: Some(np),
                    });
                    b.push(f_external, r);
                }
            }

            // Internal traffic: masquerade off-cluster sources.
            if has_internal {
                let internal = b.chain(Nat, internal_name, false);
                b.push(
                    internal,
                    Rule::new(Target::Jump(mark_masq))
                        .src(Cidr::net(cluster_cidr, true))
                        .dst(cluster_ip)
                        .comment(format!("{spn} cluster IP"))
                        .proto_dport(proto, Some(sp.port)),
                );
            }

            // External traffic.
            if uses_ext_chain {
                let ext = b.chain(Nat, &ext_name, false);
                if !policies.external_local {
                    b.push(
                        ext,
                        Rule::new(Target::Jump(mark_masq)).comment(format!(
                            "masquerade traffic for {spn} external destinations"
                        )),
                    );
                } else {
                    let svc = b.chain(Nat, &svc_name, false);
                    b.push(
                        ext,
                        Rule::new(Target::Jump(svc))
                            .src(Cidr::net(cluster_cidr, false))
                            .comment(format!("pod traffic for {spn} external destinations")),
                    );
                    b.push(
                        ext,
                        Rule::new(Target::Jump(mark_masq))
                            .comment(format!(
                                "masquerade LOCAL traffic for {spn} external destinations"
                            ))
                            .m(Matcher::AddrTypeLocal { source: true }),
                    );
                    b.push(
                        ext,
                        Rule::new(Target::Jump(svc))
                            .comment(format!(
                                "route LOCAL traffic for {spn} external destinations"
                            ))
                            .m(Matcher::AddrTypeLocal { source: true }),
                    );
                }
                if has_external {
                    let policy = b.chain(Nat, external_policy_name, false);
                    b.push(ext, Rule::new(Target::Jump(policy)));
                }
            }

            // SEP chain names of the sorted endpoints.
            let sep_hashes: Vec<[u8; 16]> = eps
                .iter()
                .map(|(s, _)| endpoint_hash(&spn, proto_s, s))
                .collect();
            let mut sep_ids: Vec<Option<ChainId>> = vec![None; eps.len()];
            for &k in &cat.all_reachable {
                sep_ids[k] = Some(b.chain(Nat, &chain_name("KUBE-SEP-", &sep_hashes[k]), false));
            }
            let write_lb = |b: &mut Builder, chain_nm: &str, which: &[usize]| {
                let chain = b.chain(Nat, chain_nm, false);
                if let Some(secs) = sp.affinity_timeout_seconds {
                    for &k in which {
                        let sep = sep_ids[k].expect("reachable endpoint has a chain");
                        b.push(
                            chain,
                            Rule::new(Target::Jump(sep))
                                .comment(format!("{spn} -> {}", eps[k].0))
                                .m(Matcher::RecentCheck {
                                    list: recent_list(sep_hashes[k]),
                                    seconds: secs,
                                }),
                        );
                    }
                }
                let n = which.len();
                for (i, &k) in which.iter().enumerate() {
                    let sep = sep_ids[k].expect("reachable endpoint has a chain");
                    let mut r =
                        Rule::new(Target::Jump(sep)).comment(format!("{spn} -> {}", eps[k].0));
                    if i + 1 < n {
                        r = r.m(Matcher::Statistic {
                            probability: 1.0 / (n - i) as f64,
                        });
                    }
                    b.push(chain, r);
                }
            };
            if uses_cluster_chain {
                write_lb(&mut b, &svc_name, &cluster_eps);
            }
            if uses_local_chain {
                write_lb(&mut b, &svl_name, &local_eps);
            }
            for &k in &cat.all_reachable {
                let sep = sep_ids[k].expect("reachable endpoint has a chain");
                let e = sorted[k];
                b.push(
                    sep,
                    Rule::new(Target::Jump(mark_masq))
                        .src(Cidr::host(e.ip))
                        .comment(spn.clone()),
                );
                let mut r = Rule::new(Target::Dnat {
                    ip: e.ip,
                    port: e.port,
                    service_port_index: si,
                    endpoint_index: eps[k].1,
                })
                .comment(spn.clone());
                if sp.affinity_timeout_seconds.is_some() {
                    r = r.m(Matcher::RecentSet {
                        list: recent_list(sep_hashes[k]),
                    });
                }
                b.push(sep, r.proto_dport(proto, None));
            }
        }

        b.push(
            nat_services,
            Rule::new(Target::Jump(nat_nodeports))
                .comment(
                    "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
                )
                .m(Matcher::AddrTypeLocal { source: false }),
        );

        let index = b.chains.iter().map(build_index).collect();
        let compiled = Compiled::new(&b.chains);
        let mut src_nets: Vec<(u32, u32)> = Vec::new();
        for r in &compiled.rules {
            let key = (r.src.mask, r.src.network);
            if r.src != MaskedCidr::ANY && !src_nets.contains(&key) {
                src_nets.push(key);
            }
        }
        let net = u32::from(input.pod_cidr.trunc().network());
        IptablesRules {
            node_name: input.node_name.clone(),
            chains: b.chains,
            index,
            compiled,
            local_addrs: [u32::from(input.node_ip), net, net.wrapping_add(1)],
            src_nets,
            cache: RouteCache::default(),
            nat_prerouting,
            nat_output,
            nat_postrouting,
            filter_input,
            filter_forward,
            filter_output,
        }
    }

}

impl Default for IptablesRules {
    /// The rules of a node with no address and no Services: only kube-proxy's fixed chains.
    fn default() -> Self {
        IptablesRules::build(&NodeProxyInput {
            node_name: String::new(),
            node_ip: Ipv4Addr::UNSPECIFIED,
            pod_cidr: Ipv4Net::default(),
            cluster_cidr: Ipv4Net::default(),
            services: Vec::new(),
        })
    }
}
