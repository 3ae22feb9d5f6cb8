//! A pod's name lookups as the wire sees them: each query a UDP packet from the pod to its
//! nameserver (the `kube-dns` ClusterIP under `dnsPolicy: ClusterFirst`), routed by the
//! client node's rules (kube-proxy's `dns` port of `kube-system/kube-dns`) to a CoreDNS pod,
//! answered after the round trip, in the order glibc's resolver asks (`net::dns`).
//!
//! What each query meets: a CoreDNS pod that answers (the address, or NXDOMAIN and the next
//! search domain); the Service's REJECT when it has no endpoints (ICMP port unreachable: glibc
//! gives up the search at once, `ECONNREFUSED`); a pod whose container stopped inside a live
//! sandbox (port unreachable too); or no answer at all (a CoreDNS pod that is gone or on a
//! node that is down, a DROP): glibc waits 5 s per attempt, twice, and the second attempt
//! goes from the same socket, so conntrack sends it to the same pod. A name outside the
//! cluster domain is forwarded upstream by CoreDNS, which kubesim does not model: the lookup
//! fails (`dns_failure`). glibc sends the A and AAAA queries of a name together from one
//! socket (one conntrack entry, so one routing decision); only the A answer is used.

use super::Simulation;
use crate::engine::SimDuration;
use crate::model::cluster::{NodeId, PodId};
use crate::model::objects::{Protocol, ServiceType};
use crate::net::dns::{self, Nameserver, ResolvConf};
use crate::net::iptables::Packet;
use std::net::Ipv4Addr;

/// Where the rules sent one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueryHop {
    /// DNAT to this pod (a CoreDNS replica).
    Pod(PodId),
    /// REJECT: ICMP port unreachable.
    Reject,
    /// Dropped or routed nowhere: no answer.
    Lost,
}

/// What became of one query (its A and AAAA packets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum QueryResult {
    /// A CoreDNS pod answered: an address, or NXDOMAIN (`None`).
    Answered {
        pod: PodId,
        answer: Option<Ipv4Addr>,
    },
    /// ICMP port unreachable: from the Service's REJECT (`pod` None) or a pod whose container
    /// is not running.
    Refused { pod: Option<PodId> },
    /// Nothing came back; `pod` is where the rules sent it, if anywhere.
    Unanswered { pod: Option<PodId> },
    /// A NetworkPolicy dropped it on the way to CoreDNS pod `pod` (egress at the client or
    /// ingress at CoreDNS): nothing comes back, as for [`Unanswered`](Self::Unanswered).
    Dropped { pod: PodId },
    /// Answered by CoreDNS only after forwarding out of the cluster (or a CNAME out of it):
    /// kubesim does not resolve names outside the cluster.
    Outside { pod: PodId },
    /// The query reached a pod that is no DNS server (only CoreDNS pods answer DNS in
    /// kubesim): ICMP port unreachable.
    NotDns { pod: PodId },
    /// Asked the node's own resolver (`dnsPolicy: Default`): NXDOMAIN for a name of the
    /// cluster domain (it knows none), and any other name is outside what kubesim models.
    NodeResolver { nxdomain: bool },
}

/// One query of a lookup.
#[derive(Debug, Clone)]
pub(super) struct Query {
    pub name: String,
    pub nameserver: Nameserver,
    pub src_port: u16,
    pub result: QueryResult,
    /// From the query's send to its answer (or to the resolver giving up).
    pub took: SimDuration,
}

/// A whole lookup: its queries in order and the address it found, if any.
#[derive(Debug, Clone)]
pub(super) struct Lookup {
    pub queries: Vec<Query>,
    pub answer: Option<Ipv4Addr>,
}

impl Lookup {
    /// Time from the first query to the answer or the failure.
    pub fn took(&self) -> SimDuration {
        self.queries
            .iter()
            .fold(SimDuration::ZERO, |acc, q| acc + q.took)
    }
}

impl Simulation {
    /// The kube-dns Service's ClusterIP (the nameserver of ClusterFirst pods).
    pub(super) fn cluster_dns_ip(&self) -> Option<Ipv4Addr> {
        let i = self.service_index("kube-system", "kube-dns")?;
        self.api.services[i].cluster_ip
    }

    /// The resolv.conf the kubelet wrote for `pod`: its `dnsPolicy` and `dnsConfig`
    /// ([`ResolvConf::for_pod`]).
    pub(super) fn resolv_conf(&self, pod: PodId) -> ResolvConf {
        let p = self.cluster.pod(pod);
        ResolvConf::for_pod(
            p.spec.dns_policy,
            p.spec.host_network,
            self.cluster_dns_ip(),
            &p.meta.namespace,
            p.spec.dns_config.as_ref(),
        )
    }

    /// Whether `pod` is one of the CoreDNS add-on's (`k8s-app: kube-dns` in `kube-system`).
    fn is_coredns(&self, pod: PodId) -> bool {
        let p = self.cluster.pod(pod);
        p.meta.namespace == "kube-system"
            && p.meta.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
    }

    /// Looks `name` up from `client` (a running pod with an IP on a node): one query after
    /// another as its resolver asks them, each routed by `route` from the client's node.
    /// `src_port` gives each query's source port (a new socket per query).
    pub(super) fn lookup_with(
        &self,
        client: PodId,
        name: &str,
        route: &mut dyn FnMut(&Packet, NodeId) -> QueryHop,
        src_port: &mut dyn FnMut() -> u16,
    ) -> Lookup {
        let mut queries = Vec::new();
        let p = self.cluster.pod(client);
        let conf = self.resolv_conf(client);
        let (Some(node), Some(src), Some(&nameserver)) = (p.node, p.ip, conf.nameservers.first())
        else {
            return Lookup {
                queries,
                answer: None,
            };
        };
        let lat = self.latency();
        // glibc's wait for an unanswered query: `timeout` per attempt, `attempts` times.
        let unanswered = SimDuration::from_secs(conf.gives_up_after_secs());
        for fqdn in conf.query_names(name) {
            let port = src_port();
            let hop = match nameserver {
                Nameserver::Node => None,
                Nameserver::Addr(dst) => Some(
                    match self
                        .scenario
                        .net
                        .cluster_cidr
                        .contains(&dst)
                        .then(|| self.pod_by_ip(dst))
                        .flatten()
                    {
                        // A pod's own address: no Service rule rewrites it.
                        Some(pod) => QueryHop::Pod(pod),
                        None => route(
                            &Packet {
                                src,
                                src_port: port,
                                dst,
                                dst_port: 53,
                                protocol: Protocol::Udp,
                                local_origin: p.spec.host_network,
                            },
                            node,
                        ),
                    },
                ),
            };
            let (result, took) = match hop {
                // The node's resolver is outside the cluster: a round trip as an outside
                // client's (kubesim's assumption).
                None => (
                    QueryResult::NodeResolver {
                        nxdomain: dns::in_cluster_domain(&fqdn),
                    },
                    lat.external.saturating_mul(2),
                ),
                Some(QueryHop::Reject) => (
                    QueryResult::Refused { pod: None },
                    lat.same_node.saturating_mul(2),
                ),
                Some(QueryHop::Lost) => (QueryResult::Unanswered { pod: None }, unanswered),
                Some(QueryHop::Pod(dns_pod)) => {
                    let d = self.cluster.pod(dns_pod);
                    let mut one_way = lat.same_node + lat.same_node;
                    if d.node != Some(node) {
                        one_way += lat.cross_node;
                    }
                    let up = d.node.is_some_and(|n| self.cluster.node(n).up);
                    let serving = self.servers[dns_pod.index()]
                        .first()
                        .and_then(Option::as_ref)
                        .is_some_and(|s| s.accepting);
                    if !up || !d.exists() {
                        (QueryResult::Unanswered { pod: Some(dns_pod) }, unanswered)
                    } else if self.policy_drops(src, Some(client), dns_pod, 53, Protocol::Udp) {
                        // A NetworkPolicy drops the query (egress at the client, ingress at
                        // CoreDNS): the resolver waits its timeouts.
                        (QueryResult::Dropped { pod: dns_pod }, unanswered)
                    } else if !self.is_coredns(dns_pod) {
                        (
                            QueryResult::NotDns { pod: dns_pod },
                            one_way.saturating_mul(2),
                        )
                    } else if !serving {
                        (
                            QueryResult::Refused { pod: Some(dns_pod) },
                            one_way.saturating_mul(2),
                        )
                    } else {
                        let rtt = one_way.saturating_mul(2);
                        match self.coredns_answer(&fqdn) {
                            Ok(answer) => (
                                QueryResult::Answered {
                                    pod: dns_pod,
                                    answer,
                                },
                                rtt,
                            ),
                            Err(()) => (QueryResult::Outside { pod: dns_pod }, rtt),
                        }
                    }
                }
            };
            // NXDOMAIN: the next name of the search list.
            let done = !matches!(
                result,
                QueryResult::Answered { answer: None, .. }
                    | QueryResult::NodeResolver { nxdomain: true }
            );
            let answer = match result {
                QueryResult::Answered { answer, .. } => answer,
                _ => None,
            };
            queries.push(Query {
                name: fqdn,
                nameserver,
                src_port: port,
                result,
                took,
            });
            if done {
                return Lookup { queries, answer };
            }
        }
        Lookup {
            queries,
            answer: None,
        }
    }

    /// What CoreDNS answers for `fqdn`: a Service's ClusterIP, a headless Service's ready pod
    /// (rotated per query, the `loadbalance` plugin), NXDOMAIN (`Ok(None)`) for another name
    /// of the cluster domain; `Err` for a name it forwards out of the cluster or an
    /// ExternalName's CNAME (not followed by kubesim).
    pub(super) fn coredns_answer(&self, fqdn: &str) -> Result<Option<Ipv4Addr>, ()> {
        if !dns::in_cluster_domain(fqdn) {
            return Err(());
        }
        let Some((svc, ns)) = dns::cluster_answer(fqdn) else {
            return Ok(self.hostname_record(fqdn));
        };
        let Some(i) = self.service_index(ns, svc) else {
            return Ok(None);
        };
        let s = &self.api.services[i];
        if let Some(ip) = s.cluster_ip {
            return Ok(Some(ip));
        }
        if s.obj.spec.type_ == ServiceType::ExternalName {
            return Err(());
        }
        let records = self.headless_records(i);
        if records.is_empty() {
            return Ok(None);
        }
        let q = self.dns_queries.get();
        self.dns_queries.set(q + 1);
        Ok(Some(records[(q % records.len() as u64) as usize]))
    }

    /// The A record of a pod's own name under a headless Service (`web-0.nginx.default.svc.
    /// cluster.local`): the address of the pod the Service selects whose `spec.hostname` is
    /// the first label and whose `spec.subdomain` is the Service, while its endpoint is ready
    /// (or the Service publishes not-ready addresses); NXDOMAIN otherwise, as CoreDNS answers
    /// from the EndpointSlices.
    fn hostname_record(&self, fqdn: &str) -> Option<Ipv4Addr> {
        let (host, svc, ns) = dns::hostname_answer(fqdn)?;
        let i = self.service_index(ns, svc)?;
        let s = &self.api.services[i].obj;
        if self.api.services[i].cluster_ip.is_some() || s.spec.type_ == ServiceType::ExternalName {
            return None;
        }
        let publish = s.spec.publish_not_ready_addresses;
        self.cluster
            .pods_selected(&s.meta.namespace, &s.spec.selector)
            .filter(|(_, p)| {
                p.spec.hostname.as_deref() == Some(host) && p.spec.subdomain.as_deref() == Some(svc)
            })
            .filter(|(_, p)| {
                let serving = p.ready || (publish && p.running());
                super::dataplane::endpoint_ready(serving, p.deleted.is_some(), publish)
            })
            .find_map(|(_, p)| p.ip)
    }

    /// [`lookup_with`](Self::lookup_with) routed by the nodes' own data planes, as in a run
    /// (the draws and `-m recent` updates count, as any packet's do). An IPVS connection a
    /// query opens is closed when it is answered.
    pub(super) fn lookup(&mut self, client: PodId, name: &str) -> Lookup {
        let mut proxies = std::mem::take(&mut self.proxies);
        let now = self.queue.now();
        let now_ns = now.as_nanos();
        let mut closed = Vec::new();
        let mut port = self.dns_src_port;
        let lookup = {
            let mut route = |pkt: &Packet, node: NodeId| {
                let proxy = &mut proxies[node.index()];
                let verdict = match &mut proxy.ipvs {
                    Some(table) => {
                        let (v, c) = table.route(pkt, now_ns);
                        if let Some(c) = c {
                            closed.push(super::dataplane::pack_ipvs_conn(node, c));
                        }
                        v
                    }
                    None => proxy.route(pkt, now_ns),
                };
                match verdict {
                    crate::net::iptables::Verdict::Dnat {
                        endpoint_index,
                        service_port_index,
                        ..
                    } => QueryHop::Pod(proxy.gen.pod(service_port_index, endpoint_index).0),
                    crate::net::iptables::Verdict::Reject => QueryHop::Reject,
                    _ => QueryHop::Lost,
                }
            };
            let mut next_port = || {
                port = next_ephemeral(port);
                port
            };
            self.lookup_with(client, name, &mut route, &mut next_port)
        };
        self.dns_src_port = port;
        self.proxies = proxies;
        for dp in closed {
            self.close_dp_conn(dp, crate::net::ipvs::CloseKind::Fin, now);
        }
        lookup
    }
}

/// The next source port of the ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999).
pub(super) fn next_ephemeral(port: u16) -> u16 {
    let (lo, hi) = crate::traffic::client::EPHEMERAL_PORTS;
    if port < lo || port >= hi {
        lo
    } else {
        port + 1
    }
}
