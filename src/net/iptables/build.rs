//! Building a node's rules: kube-proxy's fixed chains and, per service port, what
//! `syncProxyRules` and `writeServiceToEndpointRules` write (`pkg/proxy/iptables/proxier.go`).
//!
//! The per-port part, [`write_port`], writes through a [`Sink`]: into the chains of a whole
//! node ([`IptablesRules::build`]), or into one port's own piece of the rules
//! ([`super::shared::PortRules`]), which every node whose rules it is part of shares.

use super::*;
use crate::net::hash::{chain_name, endpoint_hash, port_proto_hash, service_port_name};
use crate::net::topology::{categorize_endpoints, TrafficPolicies};
use std::collections::BTreeMap;

/// kube-proxy's own chains, the same on every node, in the order they are created: the
/// built-in chains it hooks, then its fixed chains. Their ids are the same in a whole node's
/// rules and in every [`super::shared::PortRules`]; a port's own chains come after them.
pub mod fixed {
    use super::ChainId;
    pub const NAT_PREROUTING: ChainId = ChainId(0);
    pub const NAT_INPUT: ChainId = ChainId(1);
    pub const NAT_OUTPUT: ChainId = ChainId(2);
    pub const NAT_POSTROUTING: ChainId = ChainId(3);
    pub const FILTER_INPUT: ChainId = ChainId(4);
    pub const FILTER_FORWARD: ChainId = ChainId(5);
    pub const FILTER_OUTPUT: ChainId = ChainId(6);
    pub const NAT_KUBE_SERVICES: ChainId = ChainId(7);
    pub const NAT_KUBE_NODEPORTS: ChainId = ChainId(8);
    pub const NAT_KUBE_POSTROUTING: ChainId = ChainId(9);
    pub const NAT_KUBE_MARK_MASQ: ChainId = ChainId(10);
    pub const FILTER_KUBE_SERVICES: ChainId = ChainId(11);
    pub const FILTER_KUBE_EXTERNAL_SERVICES: ChainId = ChainId(12);
    pub const FILTER_KUBE_FORWARD: ChainId = ChainId(13);
    pub const FILTER_KUBE_NODEPORTS: ChainId = ChainId(14);
    pub const FILTER_KUBE_PROXY_FIREWALL: ChainId = ChainId(15);
    pub const FILTER_KUBE_FIREWALL: ChainId = ChainId(16);
    /// How many: a port's own chains are numbered from here.
    pub const COUNT: u32 = 17;
}

/// Table, name and whether built in, of each [`fixed`] chain, by id.
pub(super) const FIXED_CHAINS: [(Table, &str, bool); fixed::COUNT as usize] = {
    use Table::{Filter, Nat};
    [
        (Nat, "PREROUTING", true),
        (Nat, "INPUT", true),
        (Nat, "OUTPUT", true),
        (Nat, "POSTROUTING", true),
        (Filter, "INPUT", true),
        (Filter, "FORWARD", true),
        (Filter, "OUTPUT", true),
        (Nat, "KUBE-SERVICES", false),
        (Nat, "KUBE-NODEPORTS", false),
        (Nat, "KUBE-POSTROUTING", false),
        (Nat, "KUBE-MARK-MASQ", false),
        (Filter, "KUBE-SERVICES", false),
        (Filter, "KUBE-EXTERNAL-SERVICES", false),
        (Filter, "KUBE-FORWARD", false),
        (Filter, "KUBE-NODEPORTS", false),
        (Filter, "KUBE-PROXY-FIREWALL", false),
        (Filter, "KUBE-FIREWALL", false),
    ]
};

/// Above this many endpoints in all (counted per service port, ready or not), kube-proxy
/// leaves the per-endpoint comments out of its rules, its "large cluster mode"
/// (`largeClusterEndpointsThreshold`, `pkg/proxy/iptables/proxier.go`).
pub const LARGE_CLUSTER_ENDPOINTS: usize = 1000;

/// Whether kube-proxy runs in large cluster mode with these service ports: more than
/// [`LARGE_CLUSTER_ENDPOINTS`] endpoints in all (`proxier.largeClusterMode = totalEndpoints >
/// largeClusterEndpointsThreshold`).
pub fn large_cluster_mode(total_endpoints: usize) -> bool {
    total_endpoints > LARGE_CLUSTER_ENDPOINTS
}

/// Where [`write_port`] puts what it writes.
pub(super) trait Sink {
    /// The port's chain `name` in `table` (made on first use).
    fn chain(&mut self, table: Table, name: &str) -> ChainId;
    /// Appends `rule` to `chain`: a [`fixed`] chain or one of the port's own.
    fn push(&mut self, chain: ChainId, rule: Rule);
}

/// The chains of a whole node.
struct Builder {
    chains: Vec<Chain>,
    by_name: BTreeMap<(Table, String), ChainId>,
}

impl Builder {
    fn new() -> Builder {
        let mut b = Builder {
            chains: Vec::new(),
            by_name: BTreeMap::new(),
        };
        for (table, name, builtin) in FIXED_CHAINS {
            b.make(table, name, builtin);
        }
        write_fixed(&mut b);
        b
    }
    fn make(&mut self, table: Table, name: &str, builtin: bool) -> ChainId {
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
}

impl Sink for Builder {
    fn chain(&mut self, table: Table, name: &str) -> ChainId {
        self.make(table, name, false)
    }
    fn push(&mut self, c: ChainId, r: Rule) {
        self.chains[c.0 as usize].rules.push(r);
    }
}

fn recent_list(sep_hash: [u8; 16]) -> RecentList {
    RecentList(sep_hash)
}

/// The rules of kube-proxy's fixed chains (and kubelet's KUBE-FIREWALL), the same on every
/// node.
pub(super) fn write_fixed(b: &mut impl Sink) {
    // Jump rules (proxier.go `iptablesJumpChains`, each prepended, so the last listed
    // comes first; kubelet adds the KUBE-FIREWALL jumps).
    let new = Matcher::CtState {
        states: ctstate::NEW,
        negate: false,
    };
    let portals = "kubernetes service portals";
    b.push(
        fixed::NAT_PREROUTING,
        Rule::new(Target::Jump(fixed::NAT_KUBE_SERVICES)).comment(portals),
    );
    b.push(
        fixed::NAT_OUTPUT,
        Rule::new(Target::Jump(fixed::NAT_KUBE_SERVICES)).comment(portals),
    );
    b.push(
        fixed::NAT_POSTROUTING,
        Rule::new(Target::Jump(fixed::NAT_KUBE_POSTROUTING))
            .comment("kubernetes postrouting rules"),
    );
    let lb_fw = "kubernetes load balancer firewall";
    let ext_portals = "kubernetes externally-visible service portals";
    b.push(
        fixed::FILTER_INPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_PROXY_FIREWALL))
            .m(new.clone())
            .comment(lb_fw),
    );
    b.push(
        fixed::FILTER_INPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_NODEPORTS))
            .comment("kubernetes health check service ports"),
    );
    b.push(
        fixed::FILTER_INPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_EXTERNAL_SERVICES))
            .m(new.clone())
            .comment(ext_portals),
    );
    b.push(
        fixed::FILTER_INPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_FIREWALL)),
    );
    b.push(
        fixed::FILTER_FORWARD,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_PROXY_FIREWALL))
            .m(new.clone())
            .comment(lb_fw),
    );
    b.push(
        fixed::FILTER_FORWARD,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_FORWARD)).comment("kubernetes forwarding rules"),
    );
    b.push(
        fixed::FILTER_FORWARD,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_SERVICES))
            .m(new.clone())
            .comment(portals),
    );
    b.push(
        fixed::FILTER_FORWARD,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_EXTERNAL_SERVICES))
            .m(new.clone())
            .comment(ext_portals),
    );
    b.push(
        fixed::FILTER_OUTPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_PROXY_FIREWALL))
            .m(new.clone())
            .comment(lb_fw),
    );
    b.push(
        fixed::FILTER_OUTPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_SERVICES))
            .m(new)
            .comment(portals),
    );
    b.push(
        fixed::FILTER_OUTPUT,
        Rule::new(Target::Jump(fixed::FILTER_KUBE_FIREWALL)),
    );

    // Fixed kube-proxy rules.
    b.push(
        fixed::NAT_KUBE_POSTROUTING,
        Rule::new(Target::Return).m(Matcher::Mark {
            value: MASQUERADE_MARK,
            mask: MASQUERADE_MARK,
            negate: true,
        }),
    );
    b.push(
        fixed::NAT_KUBE_POSTROUTING,
        Rule::new(Target::MarkXor(MASQUERADE_MARK)),
    );
    b.push(
        fixed::NAT_KUBE_POSTROUTING,
        Rule::new(Target::Masquerade).comment("kubernetes service traffic requiring SNAT"),
    );
    b.push(
        fixed::NAT_KUBE_MARK_MASQ,
        Rule::new(Target::MarkOr(MASQUERADE_MARK)),
    );
    let loopback: Ipv4Net = "127.0.0.0/8".parse().expect("valid loopback net");
    let mut localnet = Rule::new(Target::Drop);
    localnet.src = Some(Cidr::net(loopback, true));
    localnet.dst = Some(Cidr::net(loopback, false));
    b.push(
        fixed::FILTER_KUBE_FIREWALL,
        localnet
            .comment("block incoming localnet connections")
            .m(Matcher::CtState {
                states: ctstate::RELATED | ctstate::ESTABLISHED | ctstate::DNAT,
                negate: true,
            }),
    );
    b.push(
        fixed::FILTER_KUBE_FORWARD,
        Rule::new(Target::Drop).m(Matcher::CtState {
            states: ctstate::INVALID,
            negate: false,
        }),
    );
    b.push(
        fixed::FILTER_KUBE_FORWARD,
        Rule::new(Target::Accept)
            .comment("kubernetes forwarding rules")
            .m(Matcher::Mark {
                value: MASQUERADE_MARK,
                mask: MASQUERADE_MARK,
                negate: false,
            }),
    );
    b.push(
        fixed::FILTER_KUBE_FORWARD,
        Rule::new(Target::Accept)
            .comment("kubernetes forwarding conntrack rule")
            .m(Matcher::CtState {
                states: ctstate::RELATED | ctstate::ESTABLISHED,
                negate: false,
            }),
    );
}

/// The last rule of nat `KUBE-SERVICES`, after every port's.
pub(super) fn nodeports_jump() -> Rule {
    Rule::new(Target::Jump(fixed::NAT_KUBE_NODEPORTS))
        .comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
        .m(Matcher::AddrTypeLocal { source: false })
}

/// kube-proxy's sort key of a service port: `namespace/name[:port]` and the protocol in lower
/// case (the order the rules list ports in; upstream iterates a Go map, so a real node's order
/// varies from sync to sync).
pub fn port_key(sp: &ProxyServicePort) -> (String, &'static str) {
    (
        service_port_name(&sp.namespace, &sp.name, sp.port_name.as_deref()),
        sp.protocol.lower(),
    )
}

/// Everything kube-proxy writes for one service port (`sp`, the `si`-th of the input), into
/// `b`: its entries in the fixed chains and its own chains. `large_cluster`: the
/// per-endpoint comments are left out.
pub(super) fn write_port<S: Sink>(
    b: &mut S,
    sp: &ProxyServicePort,
    si: usize,
    cluster_cidr: Ipv4Net,
    large_cluster: bool,
) {
    use Table::Nat;
    let (spn, proto_s) = port_key(sp);
    let spn = spn.as_str();
    let Some(cluster_ip) = sp.cluster_ip else {
        return;
    };
    let proto = sp.protocol;
    let h = port_proto_hash(spn, proto_s);
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

    let externally_accessible =
        sp.node_port.is_some() || !sp.load_balancer_ips.is_empty() || !sp.external_ips.is_empty();
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
        let internal = b.chain(Nat, internal_name);
        let comment = format!("{spn} cluster IP");
        b.push(
            fixed::NAT_KUBE_SERVICES,
            at(Target::Jump(internal), cluster_ip, comment),
        );
    } else {
        let (target, comment) = int_filter;
        b.push(fixed::FILTER_KUBE_SERVICES, at(target, cluster_ip, comment));
    }
    // With loadBalancerSourceRanges, load-balancer IP traffic goes through KUBE-FW first
    // (`usesFWChain`, pkg/proxy/iptables/proxier.go).
    let fw_name = chain_name("KUBE-FW-", &h);
    let uses_fw_chain =
        has_endpoints && !sp.load_balancer_ips.is_empty() && !sp.source_ranges.is_empty();
    // External destinations, in upstream's order (pkg/proxy/iptables/proxier.go):
    // external IPs, then load-balancer IPs. Each jumps to KUBE-EXT (a load-balancer IP with
    // source ranges to KUBE-FW) when the Service has endpoints, and is refused or dropped in
    // KUBE-EXTERNAL-SERVICES when none may take external traffic.
    for (ips, what) in [
        (&sp.external_ips, "external IP"),
        (&sp.load_balancer_ips, "loadbalancer IP"),
    ] {
        let is_lb = what == "loadbalancer IP";
        for &ip in ips {
            if has_endpoints {
                let target = if is_lb && uses_fw_chain {
                    b.chain(Nat, &fw_name)
                } else {
                    b.chain(Nat, &ext_name)
                };
                b.push(
                    fixed::NAT_KUBE_SERVICES,
                    at(Target::Jump(target), ip, format!("{spn} {what}")),
                );
            }
            if is_lb && uses_fw_chain {
                b.push(
                    fixed::FILTER_KUBE_PROXY_FIREWALL,
                    at(
                        Target::Drop,
                        ip,
                        format!("{spn} traffic not accepted by {fw_name}"),
                    ),
                );
            }
            if !has_external {
                let (target, comment) = ext_filter.clone();
                b.push(
                    fixed::FILTER_KUBE_EXTERNAL_SERVICES,
                    at(target, ip, comment),
                );
            }
        }
    }
    // NodePort.
    if let Some(np) = sp.node_port {
        if has_endpoints {
            let ext = b.chain(Nat, &ext_name);
            b.push(
                fixed::NAT_KUBE_NODEPORTS,
                Rule::new(Target::Jump(ext))
                    .comment(spn)
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
            b.push(fixed::FILTER_KUBE_EXTERNAL_SERVICES, r);
        }
    }
    // The health check node port is let in whether or not the node has endpoints, so that
    // kube-proxy can answer 503 (pkg/proxy/iptables/proxier.go).
    if let Some(hc) = sp.health_check_node_port {
        b.push(
            fixed::FILTER_KUBE_NODEPORTS,
            Rule::new(Target::Accept)
                .comment(format!("{spn} health check node port"))
                .proto_dport(Protocol::Tcp, Some(hc)),
        );
    }

    // Internal traffic: masquerade off-cluster sources.
    if has_internal {
        let internal = b.chain(Nat, internal_name);
        b.push(
            internal,
            Rule::new(Target::Jump(fixed::NAT_KUBE_MARK_MASQ))
                .src(Cidr::net(cluster_cidr, true))
                .dst(cluster_ip)
                .comment(format!("{spn} cluster IP"))
                .proto_dport(proto, Some(sp.port)),
        );
    }

    // External traffic.
    if uses_ext_chain {
        let ext = b.chain(Nat, &ext_name);
        if !policies.external_local {
            b.push(
                ext,
                Rule::new(Target::Jump(fixed::NAT_KUBE_MARK_MASQ)).comment(format!(
                    "masquerade traffic for {spn} external destinations"
                )),
            );
        } else {
            let svc = b.chain(Nat, &svc_name);
            b.push(
                ext,
                Rule::new(Target::Jump(svc))
                    .src(Cidr::net(cluster_cidr, false))
                    .comment(format!("pod traffic for {spn} external destinations")),
            );
            b.push(
                ext,
                Rule::new(Target::Jump(fixed::NAT_KUBE_MARK_MASQ))
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
            let policy = b.chain(Nat, external_policy_name);
            b.push(ext, Rule::new(Target::Jump(policy)));
        }
    }

    // The firewall chain: each allowed source range on to KUBE-EXT; the rest falls off the
    // end without DNAT and is dropped by its KUBE-PROXY-FIREWALL rule. (Upstream also lets
    // in the load-balancer IPs as sources when a range holds the node's own IP, for a VIP
    // looped back on the node; kubesim's load balancer never loops back.)
    if uses_fw_chain {
        let fw = b.chain(Nat, &fw_name);
        let ext = b.chain(Nat, &ext_name);
        for &range in &sp.source_ranges {
            b.push(
                fw,
                Rule::new(Target::Jump(ext))
                    .src(Cidr::net(range, false))
                    .comment(format!("{spn} loadbalancer IP")),
            );
        }
        b.push(
            fw,
            Rule::new(Target::None).comment(format!(
                "other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"
            )),
        );
    }

    // SEP chain names of the sorted endpoints.
    let sep_hashes: Vec<[u8; 16]> = eps
        .iter()
        .map(|(s, _)| endpoint_hash(spn, proto_s, s))
        .collect();
    let mut sep_ids: Vec<Option<ChainId>> = vec![None; eps.len()];
    for &k in &cat.all_reachable {
        sep_ids[k] = Some(b.chain(Nat, &chain_name("KUBE-SEP-", &sep_hashes[k])));
    }
    let write_lb = |b: &mut S, chain_nm: &str, which: &[usize]| {
        let chain = b.chain(Nat, chain_nm);
        if let Some(secs) = sp.affinity_timeout_seconds {
            for &k in which {
                let sep = sep_ids[k].expect("reachable endpoint has a chain");
                b.push(
                    chain,
                    Rule::new(Target::Jump(sep))
                        .comment_unless(large_cluster, || format!("{spn} -> {}", eps[k].0))
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
            let mut r = Rule::new(Target::Jump(sep))
                .comment_unless(large_cluster, || format!("{spn} -> {}", eps[k].0));
            if i + 1 < n {
                r = r.m(Matcher::Statistic {
                    probability: 1.0 / (n - i) as f64,
                });
            }
            b.push(chain, r);
        }
    };
    if uses_cluster_chain {
        write_lb(b, &svc_name, &cluster_eps);
    }
    if uses_local_chain {
        write_lb(b, &svl_name, &local_eps);
    }
    for &k in &cat.all_reachable {
        let sep = sep_ids[k].expect("reachable endpoint has a chain");
        let e = sorted[k];
        b.push(
            sep,
            Rule::new(Target::Jump(fixed::NAT_KUBE_MARK_MASQ))
                .src(Cidr::host(e.ip))
                .comment_unless(large_cluster, || spn.to_string()),
        );
        let mut r = Rule::new(Target::Dnat {
            ip: e.ip,
            port: e.port,
            service_port_index: si,
            endpoint_index: eps[k].1,
        })
        .comment_unless(large_cluster, || spn.to_string());
        if sp.affinity_timeout_seconds.is_some() {
            r = r.m(Matcher::RecentSet {
                list: recent_list(sep_hashes[k]),
            });
        }
        b.push(sep, r.proto_dport(proto, None));
    }
}

impl IptablesRules {
    /// The rules kube-proxy would program on the node described by `input`, service ports
    /// in [`port_key`] order.
    pub fn build(input: &NodeProxyInput) -> IptablesRules {
        let mut b = Builder::new();
        let cluster_cidr = input.cluster_cidr.trunc();
        let mut order: Vec<((String, &'static str), usize)> = input
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (port_key(s), i))
            .collect();
        order.sort();
        let total: usize = input.services.iter().map(|s| s.endpoints.len()).sum();
        let large = large_cluster_mode(total);
        for (_, si) in order {
            write_port(&mut b, &input.services[si], si, cluster_cidr, large);
        }
        b.push(fixed::NAT_KUBE_SERVICES, nodeports_jump());
        IptablesRules::from_chains(b.chains, input)
    }

    /// Compiles and indexes `chains`, a whole node's rules.
    fn from_chains(chains: Vec<Chain>, input: &NodeProxyInput) -> IptablesRules {
        let index = chains.iter().map(build_index).collect();
        let compiled = Compiled::new(&chains);
        // The distinct source networks, in order of first use (a set beside the list keeps
        // this linear: a node with thousands of endpoints has thousands of `-s ip/32`).
        let mut src_nets: Vec<(u32, u32)> = Vec::new();
        let mut seen = crate::engine::FxHashSet::default();
        for r in &compiled.rules {
            let key = (r.src.mask, r.src.network);
            if r.src != MaskedCidr::ANY && seen.insert(key) {
                src_nets.push(key);
            }
        }
        let net = u32::from(input.pod_cidr.trunc().network());
        IptablesRules {
            node_name: input.node_name.clone(),
            chains,
            index,
            compiled,
            local_addrs: [u32::from(input.node_ip), net, net.wrapping_add(1)],
            src_nets,
            cache: RouteCache::default(),
            nat_prerouting: fixed::NAT_PREROUTING,
            nat_output: fixed::NAT_OUTPUT,
            nat_postrouting: fixed::NAT_POSTROUTING,
            filter_input: fixed::FILTER_INPUT,
            filter_forward: fixed::FILTER_FORWARD,
            filter_output: fixed::FILTER_OUTPUT,
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
