//! `kubesim trace`: one new connection followed hop by hop through the three networks.
//!
//! The route is found by walking the entry node's rules as last synced (the same rules that
//! route requests in a run), with the random draws of its `-m statistic` matches shown. A
//! trace draws from its own stream (`trace`), so it leaves a run's choices untouched. In IPVS
//! mode the entry node's virtual server is found instead, and its scheduler's choice is shown
//! with the reason; the trace works on a copy of the nodes' IPVS tables (so `-n` connections
//! count on it, one after another, and the run's own counts stay as they were), and likewise on
//! a copy of their `-m recent` lists (nftables: affinity sets), so with `sessionAffinity:
//! ClientIP` the first connection's `--set` makes the next ones stick, as in a run.

use super::dataplane::DataPlane;
use super::Simulation;
use crate::engine::{RngStreams, SimDuration, SimRng, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::Protocol;
use crate::net::dns::Nameserver;
use crate::net::iptables::{AffinityTable, Packet, Verdict};
use crate::net::ipvs::{IpvsTable, VsKind};
use crate::traffic::client::EPHEMERAL_PORTS;
use rand::RngCore;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Where a traced request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceFrom {
    /// A client outside the cluster (203.0.113.1, as in a run).
    External,
    /// A pod, by name.
    Pod(String),
}

/// Why a trace cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("--to {0}: expected IP:port or name:port")]
    BadDestination(String),
    #[error("--from {0}: no running pod of that name at this time")]
    NoSuchPod(String),
}

/// What a trace's connections share, one after another: its random stream and its copies of
/// the nodes' IPVS tables and affinity lists.
struct TraceState<'a> {
    rng: &'a mut SimRng,
    ipvs: &'a mut [Option<IpvsTable>],
    affinity: &'a mut [AffinityTable],
}

/// Records the raw 64-bit draws the walk takes, to show them as the kernel's coin flips.
struct Recording<'a> {
    rng: &'a mut SimRng,
    draws: Vec<u64>,
}

impl RngCore for Recording<'_> {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        let x = self.rng.next_u64();
        self.draws.push(x);
        x
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.rng.fill_bytes(dst)
    }
}

/// `rand`'s `f64` from a `u64`: the top 53 bits as a fraction of 2^53.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl Simulation {
    /// Follows `n` new connections from `from` to `to` (`IP:port` or `name:port`) at the
    /// current instant, and describes each hop.
    pub fn trace(&self, from: &TraceFrom, to: &str, n: usize) -> Result<String, TraceError> {
        let (host, port) = to
            .rsplit_once(':')
            .ok_or_else(|| TraceError::BadDestination(to.into()))?;
        let port: u16 = port
            .parse()
            .map_err(|_| TraceError::BadDestination(to.into()))?;
        let client_pod = match from {
            TraceFrom::External => None,
            TraceFrom::Pod(name) => Some(
                self.cluster
                    .live_pods()
                    .find(|(_, p)| &p.meta.name == name && p.running() && p.ip.is_some())
                    .map(|(id, _)| id)
                    .ok_or_else(|| TraceError::NoSuchPod(name.clone()))?,
            ),
        };
        let mut rng = RngStreams::new(self.scenario.seed).stream("trace");
        // Headless DNS answers rotate per query; a trace leaves the rotation where it was.
        let dns_queries = self.dns_queries.get();
        let mut ipvs: Vec<Option<IpvsTable>> =
            self.proxies.iter().map(|p| p.ipvs.clone()).collect();
        // Each node's `-m recent` lists (nftables: affinity sets), copied once: a connection's
        // `--set` makes the trace's next connections from the same client stick, as in a run.
        let mut affinity: Vec<AffinityTable> =
            self.proxies.iter().map(|p| p.affinity.clone()).collect();
        let mut out = String::new();
        for i in 0..n.max(1) {
            if n > 1 {
                let _ = writeln!(out, "== request {} of {n}", i + 1);
            }
            let state = TraceState {
                rng: &mut rng,
                ipvs: &mut ipvs,
                affinity: &mut affinity,
            };
            self.trace_one(&mut out, client_pod, host, port, i, state);
            out.push('\n');
        }
        self.dns_queries.set(dns_queries);
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn trace_one(
        &self,
        out: &mut String,
        client_pod: Option<PodId>,
        host: &str,
        port: u16,
        i: usize,
        state: TraceState<'_>,
    ) {
        let TraceState {
            rng,
            ipvs,
            affinity,
        } = state;
        let lat = self.scenario.net.latency;
        let now = self.queue.now();
        let mut t = SimDuration::ZERO;
        let src_port = EPHEMERAL_PORTS.0 + i as u16;
        let (src, entry) = match client_pod {
            Some(p) => {
                let pod = self.cluster.pod(p);
                let node = pod.node.expect("a running pod has a node");
                let ip = pod.ip.expect("a running pod has an IP");
                let _ = writeln!(
                    out,
                    "client   pod {} {ip}:{src_port} on {} (Pod network)",
                    pod.meta.name,
                    self.cluster.node(node).cfg.name
                );
                (ip, Some(node))
            }
            None => {
                let ip = Ipv4Addr::new(203, 0, 113, 1);
                let _ = writeln!(out, "client   {ip}:{src_port}, outside the cluster");
                (ip, None)
            }
        };
        let dst = match host.parse::<Ipv4Addr>() {
            Ok(ip) => ip,
            Err(_) => {
                let Some(client) = client_pod else {
                    let _ = writeln!(out, "dns      {host}: NXDOMAIN (cluster DNS answers pods only); the request fails");
                    return;
                };
                let lookup = self.trace_lookup(out, client, host, rng, ipvs, affinity, now);
                match lookup.answer {
                    Some(ip) => {
                        let what = if self.scenario.net.cluster_cidr.contains(&ip) {
                            "A record of a ready pod: a headless Service has no ClusterIP"
                        } else {
                            "A record of the Service's ClusterIP"
                        };
                        let _ = writeln!(
                            out,
                            "dns      {host} -> {ip} ({what}), after {} quer{} in {}",
                            lookup.queries.len(),
                            if lookup.queries.len() == 1 {
                                "y"
                            } else {
                                "ies"
                            },
                            fmt_d(lookup.took())
                        );
                        t += lookup.took();
                        ip
                    }
                    None => {
                        let ns = self.cluster.pod(client).meta.namespace.clone();
                        if let Some(target) = self.external_name(host, &ns) {
                            let _ = writeln!(out, "dns      {host} -> CNAME {target} (an ExternalName Service; kubesim does not resolve names outside the cluster: the request fails dns_failure)");
                        } else {
                            let _ = writeln!(
                                out,
                                "dns      {host}: the lookup fails after {} (dns_failure)",
                                fmt_d(lookup.took())
                            );
                        }
                        return;
                    }
                }
            }
        };
        let mut entry = match entry {
            Some(n) => {
                t += lat.same_node;
                let _ = writeln!(out, "  +{}  veth -> {}'s network stack; the packet to {dst}:{port} enters PREROUTING there", fmt_d(t), self.cluster.node(n).cfg.name);
                n
            }
            None => match self.node_by_ip(dst).map_or_else(
                || self.traced_lb_entry(out, dst, src, src_port),
                super::loadbalancer::LbEntry::Node,
            ) {
                super::loadbalancer::LbEntry::NoHealthyNode => return,
                super::loadbalancer::LbEntry::Node(n) => {
                    t += lat.external;
                    let node = &self.cluster.node(n).cfg;
                    let _ = writeln!(
                        out,
                        "  +{}  reaches node {} ({}, NodeIP network)",
                        fmt_d(t),
                        node.name,
                        node.ip
                    );
                    n
                }
                super::loadbalancer::LbEntry::NotOwned => {
                    let _ = writeln!(out, "         {dst} is not a node's or a load balancer's address: no route from outside the cluster (ClusterIPs and pod IPs are only routed inside it)");
                    return;
                }
            },
        };
        for _hop in 0..2 {
            if !self.cluster.node(entry).up {
                let _ = writeln!(
                    out,
                    "         node {} is down: the packet is lost and the client times out",
                    self.cluster.node(entry).cfg.name
                );
                return;
            }
            let proxy = &self.proxies[entry.index()];
            let pkt = Packet {
                src,
                src_port,
                dst,
                dst_port: port,
                protocol: Protocol::Tcp,
                local_origin: false,
            };
            // What a verdict does to the packet, whichever data plane gave it.
            let hop = move |out: &mut String, t: &mut SimDuration, verdict, nft| {
                self.verdict_hop(
                    out,
                    t,
                    entry,
                    &proxy.gen,
                    verdict,
                    (src, src_port, dst, port),
                    client_pod.is_some(),
                    nft,
                )
            };
            if let Some(table) = ipvs[entry.index()].as_mut() {
                match self.trace_ipvs(out, table, entry, &pkt, now) {
                    dnat @ Verdict::Dnat { .. } => {
                        // Delivered as a rule's DNAT is (`verdict_hop` never routes a DNAT on).
                        hop(out, &mut t, dnat, false);
                        return;
                    }
                    Verdict::Reject => {
                        let _ = writeln!(
                            out,
                            "         ICMP port unreachable: connection refused after +{}",
                            fmt_d(t.saturating_mul(2))
                        );
                        return;
                    }
                    Verdict::Drop => {
                        let _ = writeln!(out, "         DROP: the client times out");
                        return;
                    }
                    Verdict::NotService => {}
                }
            }
            let affinity = &mut affinity[entry.index()];
            let synced = proxy
                .last_sync
                .map_or("never".to_string(), |s: SimTime| s.to_string());
            let _ = writeln!(
                out,
                "         rules of {} (synced at {synced}):",
                self.cluster.node(entry).cfg.name
            );
            let whole;
            let rules = match &proxy.rules {
                DataPlane::Iptables(_) => {
                    // The whole rules as the node's kube-proxy wrote them, to list every rule
                    // the packet meets.
                    whole = self.whole_iptables_rules(entry);
                    &whole
                }
                DataPlane::Nftables(table) => {
                    // nftables mode: each rule matched in `ip kube-proxy`, with the map
                    // element it found or the `numgen` value it drew.
                    let (verdict, steps) = table.route_traced(&pkt, rng, affinity, now.as_nanos());
                    for s in &steps {
                        let _ = writeln!(out, "           {}: {}", s.chain, s.rule);
                        if let Some(d) = &s.detail {
                            let _ = writeln!(out, "             = {d}");
                        }
                    }
                    match hop(out, &mut t, verdict, true) {
                        Some(n) => {
                            entry = n;
                            continue;
                        }
                        None => return,
                    }
                }
            };
            let mut rec = Recording {
                rng,
                draws: Vec::new(),
            };
            let (verdict, steps) = if proxy.ipvs.is_some() {
                // IPVS found no virtual server: the packet goes where its address says.
                (Verdict::NotService, Vec::new())
            } else {
                rules.route_traced(&pkt, &mut rec, affinity, now.as_nanos())
            };
            for s in &steps {
                let _ = writeln!(out, "           {:<6} {}", s.table.as_str(), s.rule);
            }
            // The coin flips of `-m statistic`: one draw per rule reached, in order, until one
            // is below its rule's probability.
            let svc = steps
                .iter()
                .find(|s| s.chain.starts_with("KUBE-SVC-") || s.chain.starts_with("KUBE-SVL-"));
            if let (Some(svc), false) = (svc, rec.draws.is_empty()) {
                if let Some(id) = rules.chain_id(crate::net::iptables::Table::Nat, &svc.chain) {
                    let probs = (0..rules.chain(id).rules.len())
                        .filter_map(|r| probability(&rules.rule_text(id, r)));
                    let flips: Vec<String> = rec
                        .draws
                        .iter()
                        .zip(probs)
                        .map(|(x, p)| {
                            let u = unit(*x);
                            format!(
                                "{u:.4} {} {p:.4}",
                                if u < p { "< (match)" } else { ">= (next rule)" }
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        out,
                        "           random draws in {}: {}",
                        svc.chain,
                        flips.join("; ")
                    );
                }
            }
            match hop(out, &mut t, verdict, false) {
                Some(n) => entry = n,
                None => return,
            }
        }
    }

    /// What a verdict of the entry node's rules does to the packet: delivered (DNAT or
    /// straight to a pod), refused, dropped, or routed on to another node (`Some(node)`).
    #[allow(clippy::too_many_arguments)]
    fn verdict_hop(
        &self,
        out: &mut String,
        t: &mut SimDuration,
        entry: NodeId,
        gen: &super::dataplane::Generation,
        verdict: Verdict,
        (src, src_port, dst, port): (Ipv4Addr, u16, Ipv4Addr, u16),
        from_pod: bool,
        nft: bool,
    ) -> Option<NodeId> {
        let lat = self.scenario.net.latency;
        match verdict {
            Verdict::Dnat {
                ip,
                port: to_port,
                masquerade,
                endpoint_index,
                service_port_index,
            } => {
                let (pod, _) = gen.pod(service_port_index, endpoint_index);
                self.describe_delivery(out, t, entry, pod, ip, to_port, masquerade, src, src_port);
                None
            }
            Verdict::Reject if nft => {
                let _ = writeln!(out, "         REJECT (the rule above): the client gets ICMP port unreachable (connection refused) after +{}", fmt_d(t.saturating_mul(2)));
                None
            }
            Verdict::Reject => {
                let _ = writeln!(out, "         REJECT: the Service has no usable endpoint; the client gets ICMP port unreachable (connection refused) after +{}", fmt_d(t.saturating_mul(2)));
                None
            }
            Verdict::Drop if nft => {
                let _ = writeln!(out, "         DROP (the rule above): the client times out");
                None
            }
            Verdict::Drop => {
                let _ = writeln!(out, "         DROP: no endpoint on this node for a Local traffic policy; the client times out");
                None
            }
            Verdict::NotService => {
                if let Some(pod) = self
                    .cluster
                    .live_pods()
                    .find(|(_, p)| p.ip == Some(dst) && !p.spec.host_network)
                    .map(|(id, _)| id)
                {
                    self.describe_delivery(out, t, entry, pod, dst, port, false, src, src_port);
                    return None;
                }
                if let Some(owner) = self.pod_cidr_node(dst) {
                    let _ = writeln!(
                        out,
                        "         no pod holds {dst} (in {}'s pod CIDR): routed to that node's bridge (cni0)",
                        self.cluster.node(owner).cfg.name
                    );
                    self.describe_unanswered(out, dst);
                    return None;
                }
                match self
                    .cluster
                    .nodes
                    .iter()
                    .position(|n| n.cfg.ip == dst)
                    .map(|i| NodeId(i as u32))
                {
                    Some(n) if n != entry && from_pod => {
                        *t += lat.cross_node;
                        let _ = writeln!(
                            out,
                            "  +{}  routed to node {} ({dst}) over the node network",
                            fmt_d(*t),
                            self.cluster.node(n).cfg.name
                        );
                        Some(n)
                    }
                    Some(n) if n == entry => {
                        match self.host_port_target(entry, port) {
                            Some((pod, _, cport)) => self.describe_host_port(
                                out,
                                t,
                                entry,
                                pod,
                                (src, src_port),
                                port,
                                cport,
                            ),
                            None => {
                                let _ = writeln!(out, "         no rule matched and nothing listens on {dst}:{port}: the node answers with a TCP reset (connection refused)");
                            }
                        }
                        None
                    }
                    _ => {
                        let _ = writeln!(out, "         no rule matched and {dst} is not an address of this node: it leaves by the node's default route, where nothing answers; the client times out");
                        None
                    }
                }
            }
        }
    }

    /// A connection to the node's own address on a pod's `hostPort`: the CNI portmap
    /// plugin's rules (after kube-proxy's, which did not claim it) DNAT it to the pod; a
    /// `hostNetwork` pod listens on the node's address itself.
    #[allow(clippy::too_many_arguments)]
    fn describe_host_port(
        &self,
        out: &mut String,
        t: &mut SimDuration,
        entry: NodeId,
        pod: PodId,
        (src, src_port): (Ipv4Addr, u16),
        port: u16,
        cport: u16,
    ) {
        let p = self.cluster.pod(pod);
        let Some(ip) = p.ip else { return };
        if p.spec.host_network {
            let _ = writeln!(
                out,
                "         no rule matched: pod {} (hostNetwork) listens on {ip}:{port} itself",
                p.meta.name
            );
            return;
        }
        let chain = crate::net::portmap::dnat_chain(&crate::net::portmap::sandbox_id(&p.uid));
        let cidr = self.pod_cidrs[entry.index()];
        // The portmap plugin's hairpin rule: a source in the pod's own network is marked.
        let hairpin = cidr.contains(&src);
        let _ = writeln!(
            out,
            "         kube-proxy's rules did not claim it; the CNI portmap plugin's, next in nat PREROUTING, do (hostPort {port} of pod {}),",
            p.meta.name
        );
        let _ = writeln!(
            out,
            "         so the packet is forwarded to the pod (the filter INPUT rules listed above apply only to a packet for the node itself):"
        );
        let _ = writeln!(
            out,
            "           nat    -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
        );
        let _ = writeln!(out, "           nat    -A CNI-HOSTPORT-DNAT -p tcp ... -m multiport --dports {port} -j {chain}");
        if hairpin {
            let _ = writeln!(out, "           nat    -A {chain} -s {}/{} -p tcp -m tcp --dport {port} -j CNI-HOSTPORT-SETMARK", cidr.network(), cidr.prefix_len());
        }
        let _ = writeln!(out, "           nat    -A {chain} -p tcp -m tcp --dport {port} -j DNAT --to-destination {ip}:{cport}");
        if hairpin {
            let _ = writeln!(
                out,
                "           nat    -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE"
            );
        }
        self.describe_delivery(out, t, entry, pod, ip, cport, hairpin, src, src_port);
    }

    /// A name lookup from `client`, each query routed by the trace's copies of the nodes'
    /// data planes (`sim::lookup`), and each described with its conntrack entry.
    #[allow(clippy::too_many_arguments)]
    fn trace_lookup(
        &self,
        out: &mut String,
        client: PodId,
        host: &str,
        rng: &mut SimRng,
        ipvs: &mut [Option<IpvsTable>],
        affinity: &mut [AffinityTable],
        now: SimTime,
    ) -> super::lookup::Lookup {
        use super::lookup::{QueryHop, QueryResult};
        let now_ns = now.as_nanos();
        let mut route = |pkt: &Packet, node: NodeId| -> QueryHop {
            let proxy = &self.proxies[node.index()];
            let verdict = match ipvs[node.index()].as_mut() {
                Some(table) => table.route(pkt, now_ns).0,
                None => match &proxy.rules {
                    DataPlane::Iptables(_) => self.whole_iptables_rules(node).route(
                        pkt,
                        rng,
                        &mut affinity[node.index()],
                        now_ns,
                    ),
                    DataPlane::Nftables(table) => {
                        table.route(pkt, rng, &mut affinity[node.index()], now_ns)
                    }
                },
            };
            match verdict {
                Verdict::Dnat {
                    endpoint_index,
                    service_port_index,
                    ..
                } => QueryHop::Pod(proxy.gen.pod(service_port_index, endpoint_index).0),
                Verdict::Reject => QueryHop::Reject,
                _ => QueryHop::Lost,
            }
        };
        let mut port = 0;
        let mut next_port = || {
            port = super::lookup::next_ephemeral(port);
            port
        };
        let lookup = self.lookup_with(client, host, &mut route, &mut next_port);
        let src = self.cluster.pod(client).ip;
        let name = |p: PodId| {
            let p = self.cluster.pod(p);
            format!(
                "pod {} {}",
                p.meta.name,
                p.ip.map(|i| i.to_string()).unwrap_or_default()
            )
        };
        for q in &lookup.queries {
            let said = match &q.result {
                QueryResult::Answered { pod, answer: Some(ip) } => format!("{ip}, answered by {}", name(*pod)),
                QueryResult::Answered { pod, answer: None } => format!("NXDOMAIN from {}", name(*pod)),
                QueryResult::Refused { pod: None } => format!("REJECT (the Service at {} has no endpoints for UDP 53): ICMP port unreachable, the resolver gives up", q.nameserver),
                QueryResult::Refused { pod: Some(p) } => format!("ICMP port unreachable from {} (its container is not running): the resolver gives up", name(*p)),
                QueryResult::Unanswered { .. } => format!("no answer: the resolver waits its timeout, asks again from the same socket (conntrack: the same way) until its attempts are spent, and gives up after {}", fmt_d(q.took)),
                QueryResult::Dropped { pod } => {
                    let p = self.cluster.pod(*pod);
                    format!("DNAT -> {}:53, CoreDNS pod {}", p.ip.map(|i| i.to_string()).unwrap_or_default(), p.meta.name)
                }
                QueryResult::Outside { pod } => format!("{} forwards it out of the cluster, which kubesim does not model", name(*pod)),
                QueryResult::NotDns { pod } => format!("ICMP port unreachable from {} (no DNS server listens there; kubesim's DNS servers are the CoreDNS pods): the resolver gives up", name(*pod)),
                QueryResult::NodeResolver { nxdomain: true } => "NXDOMAIN from the node's nameserver, outside the cluster: it knows no cluster names".into(),
                QueryResult::NodeResolver { nxdomain: false } => "a name outside the cluster, for the node's nameserver, which kubesim does not model".into(),
            };
            let _ = writeln!(
                out,
                "dns      query {} (A and AAAA, UDP {}:{} -> {}{}): {said} (+{})",
                q.name,
                src.map(|i| i.to_string()).unwrap_or_default(),
                q.src_port,
                q.nameserver,
                if matches!(q.nameserver, Nameserver::Addr(_)) {
                    ":53"
                } else {
                    ""
                },
                fmt_d(q.took)
            );
            if let (QueryResult::Dropped { pod }, Some(src)) = (&q.result, src) {
                self.describe_dropped_query(out, client, src, *pod);
            }
            let to = match &q.result {
                QueryResult::Answered { pod, .. } | QueryResult::Outside { pod } => {
                    self.cluster.pod(*pod).ip
                }
                _ => None,
            };
            if let (Some(src), Some(to), Nameserver::Addr(ns)) = (src, to, q.nameserver) {
                let mut flow =
                    crate::net::conntrack::UdpFlow::new(now, (src, q.src_port), (ns, 53), (to, 53));
                flow.packet(now + q.took, true);
                let _ = writeln!(out, "         conntrack: {}", flow.line(now + q.took));
            }
        }
        lookup
    }

    /// A DNS query from `client` (at `src`) to CoreDNS pod `dns_pod` that a NetworkPolicy
    /// drops: the verdicts that drop it (UDP 53, after the DNAT, as `sim::lookup` judges it),
    /// and the resolver's wait for an answer that never comes (its resolv.conf's `timeout`
    /// and `attempts`, glibc's 5 s and 2 unless `dnsConfig` sets them).
    fn describe_dropped_query(
        &self,
        out: &mut String,
        client: PodId,
        src: Ipv4Addr,
        dns_pod: PodId,
    ) {
        self.describe_verdicts(out, src, Some(client), dns_pod, 53, Protocol::Udp);
        let conf = self.resolv_conf(client);
        let (timeout, attempts) = (conf.timeout_secs, conf.attempts);
        let wait = if attempts == 1 {
            format!("waits {timeout} s (options timeout:{timeout} attempts:1) and gives up")
        } else {
            format!("waits {timeout} s per attempt, {attempts} attempts (options timeout:{timeout} attempts:{attempts}), each from the same socket, which conntrack sends the same way to be dropped again, and gives up after {} s", conf.gives_up_after_secs())
        };
        let _ = writeln!(out, "         the CNI drops the query: the lookup goes unanswered; the resolver {wait} (dns_failure, not a refused or reset connection)");
    }

    /// A SYN to a pod address nobody answers ARP for (`net::neigh`).
    fn describe_unanswered(&self, out: &mut String, ip: Ipv4Addr) {
        use crate::net::neigh;
        let retries: Vec<String> =
            neigh::syn_retransmissions(neigh::RESOLUTION_FAILS_AFTER + SimDuration::from_millis(1))
                .iter()
                .map(|d| format!("{} s", d.as_secs_f64()))
                .collect();
        let _ = writeln!(out, "         the pod's sandbox is gone: nobody answers ARP for {ip} ({} broadcast probes, {} s apart); the client sends its SYN again at {}", neigh::MCAST_SOLICIT, neigh::RETRANS_TIME.as_secs_f64(), retries.join(" and "));
        let _ = writeln!(out, "  +{:.3}s  neighbour resolution fails: ICMP host unreachable, the client's connect fails with \"No route to host\" (no_route), unless its own timeout is shorter", neigh::RESOLUTION_FAILS_AFTER.as_secs_f64());
    }

    /// The CNAME cluster DNS answers for `name` when it is an ExternalName Service
    /// (`spec.externalName`; CoreDNS's `kubernetes` plugin).
    fn external_name(&self, name: &str, client_ns: &str) -> Option<String> {
        let (svc, ns) = crate::net::dns::service_name(name, client_ns)?;
        self.api
            .services
            .iter()
            .find(|s| s.obj.meta.name == svc && s.obj.meta.namespace == ns)
            .filter(|s| s.obj.spec.type_ == crate::model::objects::ServiceType::ExternalName)
            .and_then(|s| s.obj.spec.external_name.clone())
    }

    /// The entry node's IPVS for one packet: the virtual server matched, the scheduler's choice
    /// and why, the masquerade mark. Counts the connection on `table` (the trace's copy).
    fn trace_ipvs(
        &self,
        out: &mut String,
        table: &mut IpvsTable,
        entry: NodeId,
        pkt: &Packet,
        now: SimTime,
    ) -> Verdict {
        let now_ns = now.as_nanos();
        let node = &self.cluster.node(entry).cfg.name;
        let synced = self.proxies[entry.index()]
            .last_sync
            .map_or("never".to_string(), |s: SimTime| s.to_string());
        table.graceful_check(now_ns);
        let Some(v) = table.lookup(pkt.protocol, pkt.dst, pkt.dst_port) else {
            let _ = writeln!(
                out,
                "         IPVS of {node} (synced at {synced}): no virtual server for {}:{}",
                pkt.dst, pkt.dst_port
            );
            let (verdict, _) = table.route(pkt, now_ns);
            if verdict == Verdict::Reject {
                let _ = writeln!(
                    out,
                    "           {} is bound to kube-ipvs0 (ipset KUBE-IPVS-IPS), so the packet is for the node itself:\n           filter -A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable",
                    pkt.dst
                );
            }
            return verdict;
        };
        let vs = &table.virtual_servers()[v as usize];
        let kind = match vs.kind {
            VsKind::ClusterIp => "ClusterIP",
            VsKind::NodePort => "NodePort on the node's address",
            VsKind::External => "LoadBalancer or external IP",
        };
        let persistent = vs
            .persistent
            .map(|t| format!(" persistent {t}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "         IPVS of {node} (synced at {synced}): virtual server TCP  {}:{} {}{persistent} ({}, {kind})",
            vs.addr,
            vs.port,
            vs.scheduler.as_str(),
            vs.service
        );
        let choice = vs.explain(pkt.src, pkt.dst, now_ns);
        let service = vs.service.clone();
        let vs_kind = vs.kind;
        let outside_ranges =
            !vs.source_ranges.is_empty() && !vs.source_ranges.iter().any(|r| r.contains(&pkt.src));
        let (verdict, _) = table.route(pkt, now_ns);
        if verdict == Verdict::Drop {
            let why = if outside_ranges {
                format!(
                    "filter -A KUBE-SOURCE-RANGES-FIREWALL -j DROP: {} is in none of {service}'s loadBalancerSourceRanges (ipset KUBE-LOAD-BALANCER-SOURCE-CIDR)",
                    pkt.src
                )
            } else {
                "a Local traffic policy and no endpoint on this node for this source".to_string()
            };
            let _ = writeln!(out, "           {why}");
        }
        if let Verdict::Dnat {
            ip,
            port,
            masquerade,
            ..
        } = verdict
        {
            let _ = writeln!(
                out,
                "           scheduler {} -> real server {ip}:{port} (Masq: IPVS rewrites the destination)",
                choice.reason
            );
            if masquerade {
                let why = if pkt.src == ip {
                    "the pod reaches itself: KUBE-LOOP-BACK"
                } else {
                    match vs_kind {
                        VsKind::ClusterIp => {
                            "the source is outside the pod network: KUBE-SERVICES ! -s clusterCIDR"
                        }
                        VsKind::NodePort => "externalTrafficPolicy Cluster: KUBE-NODE-PORT",
                        VsKind::External => {
                            "externalTrafficPolicy Cluster: KUBE-LOAD-BALANCER / KUBE-EXTERNAL-IP"
                        }
                    }
                };
                let _ = writeln!(
                    out,
                    "           iptables: KUBE-MARK-MASQ for {service} ({why}): MARK 0x4000"
                );
            }
        } else if verdict == Verdict::Reject {
            let _ = writeln!(out, "           scheduler {}", choice.reason);
        }
        verdict
    }

    /// The DNAT'd packet's last legs: the overlay hop if the pod is elsewhere, the source
    /// address the pod sees, and who answers.
    #[allow(clippy::too_many_arguments)]
    fn describe_delivery(
        &self,
        out: &mut String,
        t: &mut SimDuration,
        entry: NodeId,
        pod: PodId,
        ip: Ipv4Addr,
        port: u16,
        masquerade: bool,
        src: Ipv4Addr,
        src_port: u16,
    ) {
        let lat = self.scenario.net.latency;
        let p = self.cluster.pod(pod);
        let node = p.node.expect("an endpoint has a node");
        let _ = writeln!(
            out,
            "         DNAT -> {ip}:{port}, pod {} (Pod network)",
            p.meta.name
        );
        let seen = if masquerade {
            // MASQUERADE takes the address of the interface the packet leaves by (the address
            // the policies judge too): the bridge toward a local pod, flannel.1 toward another.
            let label = if node == entry {
                "cni0, the bridge, on the entry node"
            } else {
                "flannel.1, the entry node's overlay interface"
            };
            (self.seen_source(src, true, entry, pod), label)
        } else {
            (src, "the client's own address, kept")
        };
        if node != entry {
            *t += lat.cross_node;
            let _ = writeln!(
                out,
                "  +{}  overlay (VXLAN) hop {} -> {}",
                fmt_d(*t),
                self.cluster.node(entry).cfg.name,
                self.cluster.node(node).cfg.name
            );
        }
        *t += lat.same_node;
        if masquerade {
            let chain = match self.scenario.net.proxy_mode {
                crate::net::config::ProxyMode::Nftables => "masquerading",
                _ => "KUBE-POSTROUTING",
            };
            let _ = writeln!(
                out,
                "         SNAT ({chain}, mark 0x4000): source {src}:{src_port} -> {} ({})",
                seen.0, seen.1
            );
        }
        if self.netpol.any() && !self.describe_policies(out, entry, pod, port, masquerade, src) {
            return;
        }
        let up = self.cluster.node(node).up;
        // The container that listens on the port the packet now has (none: refused).
        let listener = p.spec.listener(port, Protocol::Tcp);
        let accepting = listener
            .and_then(|c| self.servers[pod.index()].get(c))
            .and_then(Option::as_ref)
            .is_some_and(|s| s.accepting);
        let _ = writeln!(
            out,
            "  +{}  veth -> pod {} on {}; it sees the connection from {} ({})",
            fmt_d(*t),
            p.meta.name,
            self.cluster.node(node).cfg.name,
            seen.0,
            seen.1
        );
        if !up {
            let _ = writeln!(
                out,
                "         node {} is down: the packet is lost and the client times out",
                self.cluster.node(node).cfg.name
            );
        } else if !p.exists() {
            self.describe_unanswered(out, ip);
        } else if !accepting {
            let why = if listener.is_none() {
                "no container of the pod listens on that port"
            } else {
                "the pod's container has stopped or is shutting down, its sandbox is still there"
            };
            let _ = writeln!(
                out,
                "         nothing accepts on {ip}:{port} ({why}): reset, connection refused"
            );
        } else {
            let c = listener.map(|c| p.spec.containers[c].name.clone());
            let _ = writeln!(out, "         served by container {}; the answer returns the same way (conntrack undoes the NAT): round trip {} plus service time", c.unwrap_or_else(|| "?".into()), fmt_d(t.saturating_mul(2)));
        }
    }
}

/// The `--probability` of a rule, if it has one.
impl Simulation {
    /// The NetworkPolicy verdicts on the DNAT'd connection to `pod` (from `src`, entered at
    /// `entry`), judged as the run judges them (`sim::netpol`): egress at the client pod, then
    /// ingress at `pod`, each naming the policy and rule that allow it or the isolating
    /// policies. `false` when the connection is dropped.
    fn describe_policies(
        &self,
        out: &mut String,
        entry: NodeId,
        pod: PodId,
        port: u16,
        masquerade: bool,
        src: Ipv4Addr,
    ) -> bool {
        let client = self.pod_by_ip(src);
        let seen = self.seen_source(src, masquerade, entry, pod);
        if self.describe_verdicts(out, seen, client, pod, port, Protocol::Tcp) {
            return true;
        }
        let _ = writeln!(
            out,
            "         the CNI drops the packet: the client resends its SYN until it times out (policy_drop)"
        );
        false
    }

    /// The NetworkPolicy verdicts on a connection from `seen` (pod `client` when it is one) to
    /// `pod` on `port`/`protocol`, one line each for egress at the client and ingress at
    /// `pod`: the policy and rule that allow it, or the isolating policies. Whether both allow.
    fn describe_verdicts(
        &self,
        out: &mut String,
        seen: Ipv4Addr,
        client: Option<PodId>,
        pod: PodId,
        port: u16,
        protocol: Protocol,
    ) -> bool {
        use crate::model::netpol::Direction;
        use crate::net::policy::Verdict as PolicyVerdict;
        let d = self.policy_decision(seen, client, pod, port, protocol);
        let policies = self.netpol.at(self.queue.now());
        let name = |i: usize| {
            let m = &policies[i].meta;
            format!("{}/{}", m.namespace, m.name)
        };
        let names = |v: &[usize]| v.iter().map(|&i| name(i)).collect::<Vec<_>>().join(", ");
        let pod_name = |id: PodId| {
            let p = self.cluster.pod(id);
            format!("{}/{}", p.meta.namespace, p.meta.name)
        };
        for (dir, verdict, at) in [
            (Direction::Egress, &d.egress, client),
            (Direction::Ingress, &d.ingress, Some(pod)),
        ] {
            let word = match dir {
                Direction::Egress => "egress",
                Direction::Ingress => "ingress",
            };
            let at = at.map_or_else(
                || format!("from {seen} (not a pod)"),
                |id| format!("at pod {}", pod_name(id)),
            );
            let line = match verdict {
                PolicyVerdict::NotAPod => {
                    "no policy applies to an address that is not a pod: allowed".to_string()
                }
                PolicyVerdict::NotIsolated => format!("no policy selects it for {word}: allowed"),
                PolicyVerdict::Allowed {
                    policy,
                    rule,
                    isolating,
                } => {
                    let p = &policies[*policy];
                    let r = match dir {
                        Direction::Egress => &p.egress[*rule],
                        Direction::Ingress => &p.ingress[*rule],
                    };
                    format!(
                        "allowed by {}'s {word} rule {} ({}); isolated by {}",
                        name(*policy),
                        rule + 1,
                        r.describe(dir),
                        names(isolating)
                    )
                }
                PolicyVerdict::Denied { isolating } => format!(
                    "DENIED: no rule allows it (isolated by {})",
                    names(isolating)
                ),
            };
            let _ = writeln!(out, "         NetworkPolicy {word} {at}: {line}");
        }
        d.allows()
    }
}

fn probability(rule: &str) -> Option<f64> {
    let rest = rule.split("--probability ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

fn fmt_d(d: SimDuration) -> String {
    format!("{:.3}ms", d.as_millis_f64())
}
