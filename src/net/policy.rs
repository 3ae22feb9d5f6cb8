//! `networking.k8s.io/v1` NetworkPolicy: which connections the policies allow.
//!
//! A pure evaluation of one connection (source, destination after kube-proxy's DNAT, port,
//! protocol) against a set of policies, with the semantics of the API reference
//! (`pkg/apis/networking/types.go`, `NetworkPolicySpec` and its peers, ports and
//! `policyTypes`; kubernetes/website `content/en/docs/concepts/services-networking/
//! network-policies.md`) and upstream's e2e suite (`test/e2e/network/netpol/network_policy.go`):
//!
//! - a pod is isolated for a direction when any policy in its namespace selects it and lists
//!   that direction in its (defaulted) `policyTypes`; a pod no policy isolates allows all;
//! - an isolated pod allows what the union of the rules of its isolating policies allows:
//!   policies are additive, the order of policies and rules does not matter;
//! - a rule allows a connection when one of its `ports` matches (none written: every port) and
//!   one of its peers matches (`from`/`to` empty: every source or destination);
//! - a connection needs both the source's egress and the destination's ingress.
//!
//! It knows nothing of nodes, Services or time: the simulation passes in what the CNI sees
//! (a pod with its labels, namespace labels and container ports, or just an address).

pub use crate::model::netpol::{Direction, NetworkPolicy, Peer, PolicyTypes, Port, Rule};
use crate::model::objects::{Container, ContainerPort, LabelSelector, Labels, PortRef, Protocol};
use std::fmt;
use std::net::Ipv4Addr;

/// The label every namespace carries with its own name, set by the API server since 1.21
/// (`pkg/apis/core/v1/defaults.go` sets `kubernetes.io/metadata.name`; the e2e suite selects
/// namespaces by it: `namespaceLabelKey` in `test/e2e/network/netpol/network_policy.go`).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A pod as a policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    pub namespace: &'a str,
    pub labels: &'a Labels,
    /// The namespace's labels, including [`NAMESPACE_NAME_LABEL`].
    pub namespace_labels: &'a Labels,
    /// Its containers' ports, to resolve a named port.
    pub ports: Ports<'a>,
}

/// A pod's container ports: as a list, or read from its containers.
#[derive(Debug, Clone, Copy)]
pub enum Ports<'a> {
    List(&'a [ContainerPort]),
    Containers(&'a [Container]),
}

impl<'a> Ports<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a ContainerPort> {
        let (list, containers): (&'a [ContainerPort], &'a [Container]) = match self {
            Ports::List(l) => (l, &[]),
            Ports::Containers(c) => (&[], c),
        };
        list.iter()
            .chain(containers.iter().flat_map(|c| c.ports.iter()))
    }
}

/// One end of a connection: an address, and the pod behind it when it is a pod's own
/// (not `hostNetwork`) address.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub ip: Ipv4Addr,
    pub pod: Option<PodView<'a>>,
}

/// A connection as the CNI sees it: after DNAT, so `dst` is the backend pod and `port` its
/// target port.
#[derive(Debug, Clone, Copy)]
pub struct Conn<'a> {
    pub src: Endpoint<'a>,
    pub dst: Endpoint<'a>,
    pub port: u16,
    pub protocol: Protocol,
}

/// The verdict of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The end is not a pod (an external client, a node, a `hostNetwork` pod): no policy
    /// applies to it.
    NotAPod,
    /// No policy selects the pod for this direction.
    NotIsolated,
    /// Allowed by rule `rule` (0-based) of policy `policy` (an index into the slice given),
    /// the first in the slice's order; `isolating` lists every policy that selects the pod.
    Allowed {
        policy: usize,
        rule: usize,
        isolating: Vec<usize>,
    },
    /// No rule of the isolating policies allows it.
    Denied { isolating: Vec<usize> },
}

impl Verdict {
    pub fn allows(&self) -> bool {
        !matches!(self, Verdict::Denied { .. })
    }
}

/// Both directions of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// At the source pod.
    pub egress: Verdict,
    /// At the destination pod.
    pub ingress: Verdict,
}

impl Decision {
    pub fn allows(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

/// Both verdicts of `c` under `policies`.
pub fn evaluate(policies: &[NetworkPolicy], c: &Conn) -> Decision {
    Decision {
        egress: verdict(policies, c, Direction::Egress),
        ingress: verdict(policies, c, Direction::Ingress),
    }
}

/// The verdict of one direction: egress at `c.src`, ingress at `c.dst`.
pub fn verdict(policies: &[NetworkPolicy], c: &Conn, d: Direction) -> Verdict {
    let (local, peer) = match d {
        Direction::Ingress => (&c.dst, &c.src),
        Direction::Egress => (&c.src, &c.dst),
    };
    let Some(pod) = local.pod else {
        return Verdict::NotAPod;
    };
    let isolating: Vec<usize> = policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.types.has(d) && selects(p, &pod))
        .map(|(i, _)| i)
        .collect();
    if isolating.is_empty() {
        return Verdict::NotIsolated;
    }
    for &i in &isolating {
        let p = &policies[i];
        let rules = match d {
            Direction::Ingress => &p.ingress,
            Direction::Egress => &p.egress,
        };
        for (r, rule) in rules.iter().enumerate() {
            if rule_allows(p, rule, peer, &c.dst, c.port, c.protocol) {
                return Verdict::Allowed {
                    policy: i,
                    rule: r,
                    isolating,
                };
            }
        }
    }
    Verdict::Denied { isolating }
}

/// Whether `p` applies to `pod` (its namespace and its `podSelector`).
pub fn selects(p: &NetworkPolicy, pod: &PodView) -> bool {
    p.meta.namespace == pod.namespace && p.pod_selector.matches(pod.labels)
}

fn rule_allows(
    p: &NetworkPolicy,
    rule: &Rule,
    peer: &Endpoint,
    dst: &Endpoint,
    port: u16,
    protocol: Protocol,
) -> bool {
    let port_ok = rule.ports.is_empty()
        || rule
            .ports
            .iter()
            .any(|pp| port_matches(pp, dst, port, protocol));
    let peer_ok = rule.peers.is_empty()
        || rule
            .peers
            .iter()
            .any(|pe| peer_matches(pe, &p.meta.namespace, peer));
    port_ok && peer_ok
}

/// Whether `pp` admits `port`/`protocol` on `dst`; a named port is looked up among the
/// destination pod's container ports of that protocol (so it never matches an address that is
/// not a pod's).
pub fn port_matches(pp: &Port, dst: &Endpoint, port: u16, protocol: Protocol) -> bool {
    if pp.protocol != protocol {
        return false;
    }
    match &pp.port {
        None => true,
        Some(PortRef::Number(n)) => match pp.end_port {
            Some(end) => (*n..=end).contains(&port),
            None => *n == port,
        },
        Some(PortRef::Name(name)) => dst.pod.is_some_and(|pod| {
            pod.ports.iter().any(|cp| {
                cp.name.as_deref() == Some(name.as_str())
                    && cp.protocol == protocol
                    && cp.container_port == port
            })
        }),
    }
}

/// Whether `peer` (in a policy of namespace `policy_ns`) matches the other end `e`.
pub fn peer_matches(peer: &Peer, policy_ns: &str, e: &Endpoint) -> bool {
    match peer {
        Peer::IpBlock { cidr, except } => {
            cidr.contains(&e.ip) && !except.iter().any(|x| x.contains(&e.ip))
        }
        Peer::Pods { namespaces, pods } => {
            let Some(pod) = e.pod else {
                return false;
            };
            let ns_ok = match namespaces {
                Some(sel) => sel.matches(pod.namespace_labels),
                None => pod.namespace == policy_ns,
            };
            ns_ok && pods.as_ref().is_none_or(|sel| sel.matches(pod.labels))
        }
    }
}

/// A namespace's labels as the API server holds them: those written plus
/// [`NAMESPACE_NAME_LABEL`].
pub fn namespace_labels(name: &str, written: &Labels) -> Labels {
    let mut l = written.clone();
    l.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
    l
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn sel(s: &LabelSelector) -> String {
            if s.match_labels.is_empty() && s.match_expressions.is_empty() {
                return "{}".to_string();
            }
            let mut parts: Vec<String> = s
                .match_labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            for r in &s.match_expressions {
                parts.push(format!(
                    "{} {:?} ({})",
                    r.key,
                    r.operator,
                    r.values.join(",")
                ));
            }
            parts.join(",")
        }
        match self {
            Peer::IpBlock { cidr, except } if except.is_empty() => write!(f, "ipBlock {cidr}"),
            Peer::IpBlock { cidr, except } => {
                let ex: Vec<String> = except.iter().map(|e| e.to_string()).collect();
                write!(f, "ipBlock {cidr} except {}", ex.join(","))
            }
            Peer::Pods { namespaces, pods } => {
                let mut parts = Vec::new();
                if let Some(n) = namespaces {
                    parts.push(format!("namespaceSelector {}", sel(n)));
                }
                if let Some(p) = pods {
                    parts.push(format!("podSelector {}", sel(p)));
                }
                write!(f, "{}", parts.join(" and "))
            }
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.port, self.end_port) {
            (None, _) => write!(f, "any/{}", self.protocol.as_str()),
            (Some(PortRef::Number(n)), Some(e)) => write!(f, "{n}-{e}/{}", self.protocol.as_str()),
            (Some(PortRef::Number(n)), None) => write!(f, "{n}/{}", self.protocol.as_str()),
            (Some(PortRef::Name(s)), _) => write!(f, "{s}/{}", self.protocol.as_str()),
        }
    }
}

impl Rule {
    /// As `trace` names it: `from [peers] on [ports]`, `all` where a list is empty.
    pub fn describe(&self, d: Direction) -> String {
        let peers = if self.peers.is_empty() {
            "anywhere".to_string()
        } else {
            self.peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let ports = if self.ports.is_empty() {
            "any port".to_string()
        } else {
            self.ports
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let word = match d {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        format!("{word} {peers} on {ports}")
    }
}

#[cfg(test)]
mod tests {
    //! The cases of upstream's e2e suite (`test/e2e/network/netpol/network_policy.go`): three
    //! namespaces x, y, z with pods a, b, c (label `pod=<name>`), each serving ports 80 and 81
    //! on TCP and UDP under the names `serve-80-tcp`, `serve-81-udp`, ... A case starts from
    //! "everything reaches everything" and lists the pairs the policies change, as the suite's
    //! `Reachability` does; loopback (a pod to itself) is ignored, as the suite ignores it
    //! (`ignoreLoopback`).
    use super::*;
    use crate::model::objects::{ObjectMeta, SelectorOperator, SelectorRequirement};
    use ipnet::Ipv4Net;
    use std::collections::BTreeMap;

    const NS: [&str; 3] = ["x", "y", "z"];
    const PODS: [&str; 3] = ["a", "b", "c"];

    struct World {
        labels: Vec<Labels>,
        ns_labels: Vec<Labels>,
        ports: Vec<ContainerPort>,
    }

    fn world() -> World {
        let mut ports = Vec::new();
        for n in [80, 81] {
            for p in [Protocol::Tcp, Protocol::Udp] {
                ports.push(ContainerPort {
                    name: Some(format!("serve-{n}-{}", p.lower())),
                    container_port: n,
                    host_port: None,
                    protocol: p,
                });
            }
        }
        World {
            labels: PODS.iter().map(|p| labels(&[("pod", p)])).collect(),
            ns_labels: NS
                .iter()
                .map(|n| namespace_labels(n, &labels(&[("ns", n)])))
                .collect(),
            ports,
        }
    }

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `x/a` is 10.0.0.1, `y/b` 10.0.1.2, ...
    fn ip(ns: usize, pod: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, ns as u8, pod as u8 + 1)
    }

    fn endpoint(w: &World, ns: usize, pod: usize) -> Endpoint<'_> {
        Endpoint {
            ip: ip(ns, pod),
            pod: Some(PodView {
                namespace: NS[ns],
                labels: &w.labels[pod],
                namespace_labels: &w.ns_labels[ns],
                ports: Ports::List(&w.ports),
            }),
        }
    }

    fn name(ns: usize, pod: usize) -> String {
        format!("{}/{}", NS[ns], PODS[pod])
    }

    /// Every pair's verdict on `port`/`protocol` but loopback.
    fn matrix(
        policies: &[NetworkPolicy],
        port: u16,
        protocol: Protocol,
    ) -> BTreeMap<(String, String), bool> {
        let w = world();
        let mut m = BTreeMap::new();
        for sn in 0..3 {
            for sp in 0..3 {
                for dn in 0..3 {
                    for dp in 0..3 {
                        if (sn, sp) == (dn, dp) {
                            continue;
                        }
                        let c = Conn {
                            src: endpoint(&w, sn, sp),
                            dst: endpoint(&w, dn, dp),
                            port,
                            protocol,
                        };
                        m.insert(
                            (name(sn, sp), name(dn, dp)),
                            evaluate(policies, &c).allows(),
                        );
                    }
                }
            }
        }
        m
    }

    /// The suite's `Reachability`: all allowed, then the listed changes.
    struct Expect(BTreeMap<(String, String), bool>);

    impl Expect {
        fn all() -> Self {
            Expect(matrix(&[], 80, Protocol::Tcp))
        }
        fn set(&mut self, from: impl Fn(&str) -> bool, to: impl Fn(&str) -> bool, v: bool) {
            for ((f, t), got) in self.0.iter_mut() {
                if from(f) && to(t) {
                    *got = v;
                }
            }
        }
        fn ingress(mut self, to: &str, v: bool) -> Self {
            self.set(|_| true, |t| t == to, v);
            self
        }
        fn egress(mut self, from: &str, v: bool) -> Self {
            self.set(|f| f == from, |_| true, v);
            self
        }
        fn pair(mut self, from: &str, to: &str, v: bool) -> Self {
            self.set(|f| f == from, |t| t == to, v);
            self
        }
        fn check(&self, policies: &[NetworkPolicy], port: u16, protocol: Protocol) {
            let got = matrix(policies, port, protocol);
            let wrong: Vec<String> = got
                .iter()
                .filter(|(k, v)| self.0[*k] != **v)
                .map(|((f, t), v)| format!("{f} -> {t} on {port}: got {v}"))
                .collect();
            assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        }
    }

    fn sel(kv: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: labels(kv),
            match_expressions: vec![],
        }
    }

    fn ns_sel(ns: &str) -> LabelSelector {
        sel(&[(NAMESPACE_NAME_LABEL, ns)])
    }

    fn policy(ns: &str, pod_selector: LabelSelector) -> NetworkPolicy {
        NetworkPolicy {
            meta: ObjectMeta {
                name: "p".into(),
                namespace: ns.into(),
                ..ObjectMeta::default()
            },
            pod_selector,
            ingress: vec![],
            egress: vec![],
            types: PolicyTypes::defaulted(None, false),
        }
    }

    /// As the suite's `SetSpecEgressRules` writes it: `policyTypes: [Egress]` (without it the
    /// default would isolate ingress too).
    fn egress_only() -> PolicyTypes {
        PolicyTypes::defaulted(Some(&[Direction::Egress]), true)
    }

    fn from(peers: Vec<Peer>) -> Rule {
        Rule {
            ports: vec![],
            peers,
        }
    }

    fn pods(ns: Option<LabelSelector>, pods: Option<LabelSelector>) -> Peer {
        Peer::Pods {
            namespaces: ns,
            pods,
        }
    }

    fn tcp(port: PortRef) -> Port {
        Port {
            protocol: Protocol::Tcp,
            port: Some(port),
            end_port: None,
        }
    }

    fn cidr(ip: Ipv4Addr, len: u8) -> Ipv4Net {
        Ipv4Net::new(ip, len).unwrap().trunc()
    }

    #[test]
    fn default_deny_ingress() {
        // "should support a 'default-deny-ingress' policy"
        let p = policy("x", sel(&[]));
        let e = Expect::all()
            .ingress("x/a", false)
            .ingress("x/b", false)
            .ingress("x/c", false);
        e.check(std::slice::from_ref(&p), 80, Protocol::Tcp);
        e.check(&[p], 81, Protocol::Udp);
    }

    #[test]
    fn default_deny_all() {
        // "should support a 'default-deny-all' policy"
        let mut p = policy("x", sel(&[]));
        p.types = PolicyTypes::defaulted(Some(&[Direction::Ingress, Direction::Egress]), false);
        let mut e = Expect::all();
        for pod in ["x/a", "x/b", "x/c"] {
            e = e.ingress(pod, false).egress(pod, false);
        }
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn deny_egress_from_all_pods_in_a_namespace() {
        // "should deny egress from all pods in a namespace"
        let mut p = policy("x", sel(&[]));
        p.types = PolicyTypes::defaulted(Some(&[Direction::Egress]), false);
        let e = Expect::all()
            .egress("x/a", false)
            .egress("x/b", false)
            .egress("x/c", false);
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn allow_from_pods_within_server_namespace_by_pod_selector() {
        // "should enforce policy to allow traffic from pods within server namespace based on
        // PodSelector"
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![from(vec![pods(None, Some(sel(&[("pod", "b")])))])];
        let e = Expect::all().ingress("x/a", false).pair("x/b", "x/a", true);
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn allow_only_from_a_different_namespace_by_namespace_selector() {
        // "should enforce policy to allow traffic only from a different namespace, based on
        // NamespaceSelector"
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![from(vec![pods(Some(ns_sel("y")), None)])];
        let mut e = Expect::all().ingress("x/a", false);
        for s in ["y/a", "y/b", "y/c"] {
            e = e.pair(s, "x/a", true);
        }
        e.check(&[p], 80, Protocol::Tcp);
    }

    fn not_in_x() -> LabelSelector {
        LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![SelectorRequirement {
                key: NAMESPACE_NAME_LABEL.into(),
                operator: SelectorOperator::NotIn,
                values: vec!["x".into()],
            }],
        }
    }

    #[test]
    fn pod_selector_and_namespace_selector_in_one_peer() {
        // "should enforce policy based on PodSelector and NamespaceSelector": one peer, AND
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![from(vec![pods(
            Some(not_in_x()),
            Some(sel(&[("pod", "b")])),
        )])];
        let e = Expect::all()
            .ingress("x/a", false)
            .pair("y/b", "x/a", true)
            .pair("z/b", "x/a", true);
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn pod_selector_or_namespace_selector_as_two_peers() {
        // "should enforce policy based on PodSelector or NamespaceSelector": two peers, OR
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![from(vec![
            pods(Some(not_in_x()), None),
            pods(None, Some(sel(&[("pod", "b")]))),
        ])];
        let e = Expect::all().pair("x/c", "x/a", false);
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn ports_by_number() {
        // "should enforce policy based on Ports": x/a admits namespace y on 81 only
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![Rule {
            ports: vec![tcp(PortRef::Number(81))],
            peers: vec![pods(Some(ns_sel("y")), None)],
        }];
        Expect::all()
            .ingress("x/a", false)
            .check(std::slice::from_ref(&p), 80, Protocol::Tcp);
        let mut e = Expect::all().ingress("x/a", false);
        for s in ["y/a", "y/b", "y/c"] {
            e = e.pair(s, "x/a", true);
        }
        e.check(&[p], 81, Protocol::Tcp);
    }

    #[test]
    fn ingress_on_one_named_port() {
        // "should allow ingress access on one named port"
        let mut p = policy("x", sel(&[]));
        p.ingress = vec![Rule {
            ports: vec![tcp(PortRef::Name("serve-81-tcp".into()))],
            peers: vec![],
        }];
        Expect::all().check(std::slice::from_ref(&p), 81, Protocol::Tcp);
        let mut e = Expect::all();
        for d in ["x/a", "x/b", "x/c"] {
            e = e.ingress(d, false);
        }
        e.check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn egress_on_one_named_port() {
        // "should allow egress access on one named port": the name is resolved against the
        // destination pod's ports
        let mut p = policy("x", sel(&[]));
        p.egress = vec![Rule {
            ports: vec![tcp(PortRef::Name("serve-80-tcp".into()))],
            peers: vec![],
        }];
        p.types = egress_only();
        Expect::all().check(std::slice::from_ref(&p), 80, Protocol::Tcp);
        let mut e = Expect::all();
        for s in ["x/a", "x/b", "x/c"] {
            e = e.egress(s, false);
        }
        e.check(std::slice::from_ref(&p), 81, Protocol::Tcp);
        // the TCP name does not admit UDP 80
        e.check(&[p], 80, Protocol::Udp);
    }

    #[test]
    fn a_named_port_never_matches_an_address_that_is_not_a_pod() {
        let w = world();
        let pp = tcp(PortRef::Name("serve-80-tcp".into()));
        let outside = Endpoint {
            ip: Ipv4Addr::new(192, 0, 2, 1),
            pod: None,
        };
        assert!(!port_matches(&pp, &outside, 80, Protocol::Tcp));
        assert!(port_matches(&pp, &endpoint(&w, 0, 0), 80, Protocol::Tcp));
    }

    #[test]
    fn egress_to_server_in_cidr_block() {
        // "should allow egress access to server in CIDR block": x/a may reach y/b's /32 only
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.egress = vec![from(vec![Peer::IpBlock {
            cidr: cidr(ip(1, 1), 32),
            except: vec![],
        }])];
        p.types = egress_only();
        Expect::all()
            .egress("x/a", false)
            .pair("x/a", "y/b", true)
            .check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn except_clause_in_egress_cidr_block() {
        // "should enforce except clause while egress access to server in CIDR block": x/a's
        // address /4 except x/b's /32
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.egress = vec![from(vec![Peer::IpBlock {
            cidr: cidr(ip(0, 0), 4),
            except: vec![cidr(ip(0, 1), 32)],
        }])];
        p.types = egress_only();
        Expect::all()
            .pair("x/a", "x/b", false)
            .check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn ip_in_both_cidr_and_except_is_allowed_by_another_policy() {
        // "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed":
        // a second policy that allows the excepted /32 wins (the union)
        let mut p1 = policy("x", sel(&[("pod", "a")]));
        p1.egress = vec![from(vec![Peer::IpBlock {
            cidr: cidr(ip(0, 0), 4),
            except: vec![cidr(ip(0, 1), 32)],
        }])];
        p1.types = egress_only();
        let mut p2 = p1.clone();
        p2.meta.name = "p2".into();
        p2.egress = vec![from(vec![Peer::IpBlock {
            cidr: cidr(ip(0, 1), 32),
            except: vec![],
        }])];
        Expect::all().check(&[p1, p2], 80, Protocol::Tcp);
    }

    #[test]
    fn ingress_any_port_on_a_specific_protocol() {
        // "should enforce ingress policy allowing any port traffic to a server on a specific
        // protocol"
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![Rule {
            ports: vec![Port {
                protocol: Protocol::Tcp,
                port: None,
                end_port: None,
            }],
            peers: vec![],
        }];
        Expect::all().check(std::slice::from_ref(&p), 80, Protocol::Tcp);
        Expect::all()
            .ingress("x/a", false)
            .check(&[p], 80, Protocol::Udp);
    }

    #[test]
    fn egress_to_a_pod_in_another_namespace_by_both_selectors() {
        // "should enforce egress policy allowing traffic to a server in a different namespace
        // based on PodSelector and NamespaceSelector"
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.egress = vec![from(vec![pods(
            Some(ns_sel("y")),
            Some(sel(&[("pod", "a")])),
        )])];
        p.types = egress_only();
        Expect::all()
            .egress("x/a", false)
            .pair("x/a", "y/a", true)
            .check(&[p], 80, Protocol::Tcp);
    }

    #[test]
    fn ingress_allow_all_policy_takes_precedence() {
        // "should enforce multiple ingress policies with ingress allow-all policy taking
        // precedence": 80 only, then a second policy with one empty rule
        let mut p1 = policy("x", sel(&[("pod", "a")]));
        p1.ingress = vec![Rule {
            ports: vec![tcp(PortRef::Number(80))],
            peers: vec![],
        }];
        Expect::all()
            .ingress("x/a", false)
            .check(std::slice::from_ref(&p1), 81, Protocol::Tcp);
        let mut p2 = policy("x", sel(&[("pod", "a")]));
        p2.ingress = vec![Rule::default()];
        Expect::all().check(&[p1, p2], 81, Protocol::Tcp);
    }

    #[test]
    fn egress_denied_at_the_client_even_when_the_server_allows() {
        // "should support denying of egress traffic on the client side (even if the server
        // explicitly allows this traffic)": the connection needs both directions
        let mut server = policy("y", sel(&[("pod", "a")]));
        server.ingress = vec![from(vec![pods(Some(ns_sel("x")), None)])];
        let mut client = policy("x", sel(&[("pod", "a")]));
        client.types = PolicyTypes::defaulted(Some(&[Direction::Egress]), false);
        let mut e = Expect::all().egress("x/a", false).ingress("y/a", false);
        for s in ["x/b", "x/c"] {
            e = e.pair(s, "y/a", true);
        }
        e.check(&[server, client], 80, Protocol::Tcp);
    }

    #[test]
    fn policy_types_default_to_ingress_and_egress_only_with_egress_rules() {
        // pkg/apis/networking/types.go, PolicyTypes: an ingress-only policy leaves egress open
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![Rule::default()];
        assert!(p.types.ingress && !p.types.egress);
        Expect::all().check(&[p], 80, Protocol::Tcp);
        let t = PolicyTypes::defaulted(None, true);
        assert!(t.ingress && t.egress);
    }

    #[test]
    fn end_port_admits_a_range() {
        // pkg/apis/networking/types.go, NetworkPolicyPort.EndPort: port..=endPort
        let mut p = policy("x", sel(&[("pod", "a")]));
        p.ingress = vec![Rule {
            ports: vec![Port {
                protocol: Protocol::Tcp,
                port: Some(PortRef::Number(81)),
                end_port: Some(90),
            }],
            peers: vec![],
        }];
        Expect::all()
            .ingress("x/a", false)
            .check(std::slice::from_ref(&p), 80, Protocol::Tcp);
        Expect::all().check(&[p], 81, Protocol::Tcp);
    }

    #[test]
    fn verdicts_name_the_rule_and_the_isolating_policies() {
        let w = world();
        let mut deny = policy("x", sel(&[]));
        deny.meta.name = "deny".into();
        let mut allow = policy("x", sel(&[("pod", "a")]));
        allow.meta.name = "allow".into();
        allow.ingress = vec![
            from(vec![pods(None, Some(sel(&[("pod", "c")])))]),
            from(vec![pods(None, Some(sel(&[("pod", "b")])))]),
        ];
        let ps = [deny, allow];
        let c = Conn {
            src: endpoint(&w, 0, 1),
            dst: endpoint(&w, 0, 0),
            port: 80,
            protocol: Protocol::Tcp,
        };
        let d = evaluate(&ps, &c);
        assert_eq!(d.egress, Verdict::NotIsolated);
        assert_eq!(
            d.ingress,
            Verdict::Allowed {
                policy: 1,
                rule: 1,
                isolating: vec![0, 1]
            }
        );
        let c = Conn {
            src: endpoint(&w, 1, 1),
            ..c
        };
        assert_eq!(
            evaluate(&ps, &c).ingress,
            Verdict::Denied {
                isolating: vec![0, 1]
            }
        );
        assert_eq!(
            ps[1].ingress[1].describe(Direction::Ingress),
            "from podSelector pod=b on any port"
        );
        let outside = Conn {
            src: Endpoint {
                ip: Ipv4Addr::new(192, 0, 2, 1),
                pod: None,
            },
            ..c
        };
        assert_eq!(evaluate(&ps, &outside).egress, Verdict::NotAPod);
    }

    mod property {
        //! Against a second evaluation written straight from the API reference's sentences,
        //! sharing no code with the module: its own selector matching, its own address
        //! arithmetic, its own `policyTypes` default, and per policy the set of connections
        //! its rules allow, instead of a search for the first allowing rule.
        use super::super::*;
        use ipnet::Ipv4Net;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        /// A policy as generated: `policyTypes` as written (maybe absent).
        #[derive(Debug, Clone)]
        struct Raw {
            ns: usize,
            /// `None`: `podSelector: {}`.
            selects: Option<usize>,
            ingress: Vec<RawRule>,
            egress: Vec<RawRule>,
            types: Option<Vec<bool>>, // `true`: Ingress, `false`: Egress
        }

        #[derive(Debug, Clone)]
        struct RawRule {
            /// (protocol 0 TCP 1 UDP, port: 0 none, 1 = 80, 2 = 81, 3 = name of 80, 4 = 80..81)
            ports: Vec<(u8, u8)>,
            peers: Vec<RawPeer>,
        }

        #[derive(Debug, Clone)]
        enum RawPeer {
            /// (namespace label value or all, pod label value or all, both written?)
            Pods {
                ns: Option<Option<usize>>,
                pod: Option<Option<usize>>,
            },
            /// Prefix length over pod 0 of namespace `ns`, except the /32 of pod `ex`.
            Block {
                ns: usize,
                len: u8,
                ex: Option<usize>,
            },
        }

        // Twelve ends: nine pods (index ns*3+pod), then three outside addresses.
        const ENDS: usize = 12;

        fn addr(e: usize) -> u32 {
            if e < 9 {
                (10 << 24) | (((e / 3) as u32) << 8) | (e % 3 + 1) as u32
            } else {
                (10 << 24) | (9 << 16) | e as u32
            }
        }

        fn in_block(a: u32, base: u32, len: u8) -> bool {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            a & mask == base & mask
        }

        fn oracle_peer(p: &RawPeer, policy_ns: usize, other: usize) -> bool {
            match p {
                RawPeer::Block { ns, len, ex } => {
                    in_block(addr(other), addr(ns * 3), *len)
                        && ex.is_none_or(|x| addr(other) != addr(x))
                }
                RawPeer::Pods { ns, pod } => {
                    if other >= 9 {
                        return false;
                    }
                    let ns_ok = match ns {
                        None => other / 3 == policy_ns,
                        Some(None) => true,
                        Some(Some(n)) => other / 3 == *n,
                    };
                    let pod_ok = match pod {
                        None | Some(None) => true,
                        Some(Some(q)) => other % 3 == *q,
                    };
                    ns_ok && pod_ok
                }
            }
        }

        fn oracle_port(pp: (u8, u8), dst: usize, port: u16, udp: bool) -> bool {
            if (pp.0 == 1) != udp {
                return false;
            }
            match pp.1 {
                0 => true,
                1 => port == 80,
                2 => port == 81,
                // every pod declares a port named for 80 on both protocols; addresses none
                3 => dst < 9 && port == 80,
                _ => port == 80 || port == 81,
            }
        }

        /// The set of (src, dst, port, udp) a policy's rules allow in one direction.
        fn allowed_by(
            r: &Raw,
            ingress: bool,
            universe: &[(usize, usize, u16, bool)],
        ) -> BTreeSet<(usize, usize, u16, bool)> {
            let rules = if ingress { &r.ingress } else { &r.egress };
            universe
                .iter()
                .copied()
                .filter(|&(s, d, port, udp)| {
                    let other = if ingress { s } else { d };
                    rules.iter().any(|rule| {
                        (rule.peers.is_empty()
                            || rule.peers.iter().any(|p| oracle_peer(p, r.ns, other)))
                            && (rule.ports.is_empty()
                                || rule.ports.iter().any(|&pp| oracle_port(pp, d, port, udp)))
                    })
                })
                .collect()
        }

        fn isolates(r: &Raw, ingress: bool, pod: usize) -> bool {
            let has = match &r.types {
                Some(t) => t.contains(&ingress),
                None => ingress || !r.egress.is_empty(),
            };
            has && pod < 9 && pod / 3 == r.ns && r.selects.is_none_or(|q| pod % 3 == q)
        }

        fn oracle(raws: &[Raw]) -> BTreeSet<(usize, usize, u16, bool)> {
            let mut universe = Vec::new();
            for s in 0..ENDS {
                for d in 0..ENDS {
                    for port in [80, 81] {
                        for udp in [false, true] {
                            universe.push((s, d, port, udp));
                        }
                    }
                }
            }
            universe
                .into_iter()
                .filter(|t| {
                    let (s, d, _, _) = *t;
                    let in_isolated = raws.iter().any(|r| isolates(r, true, d));
                    let out_isolated = raws.iter().any(|r| isolates(r, false, s));
                    let ing = !in_isolated
                        || raws
                            .iter()
                            .any(|r| isolates(r, true, d) && allowed_by(r, true, &[*t]).len() == 1);
                    let egr = !out_isolated
                        || raws.iter().any(|r| {
                            isolates(r, false, s) && allowed_by(r, false, &[*t]).len() == 1
                        });
                    ing && egr
                })
                .collect()
        }

        fn to_policy(r: &Raw, i: usize) -> NetworkPolicy {
            let ns = ["x", "y", "z"];
            let pod_sel = |q: Option<usize>| LabelSelector {
                match_labels: q
                    .map(|q| [("pod".to_string(), ["a", "b", "c"][q].to_string())].into())
                    .unwrap_or_default(),
                match_expressions: vec![],
            };
            let ns_sel = |n: Option<usize>| LabelSelector {
                match_labels: n
                    .map(|n| [(NAMESPACE_NAME_LABEL.to_string(), ns[n].to_string())].into())
                    .unwrap_or_default(),
                match_expressions: vec![],
            };
            let rule = |rr: &RawRule| Rule {
                ports: rr
                    .ports
                    .iter()
                    .map(|&(proto, k)| Port {
                        protocol: if proto == 1 {
                            Protocol::Udp
                        } else {
                            Protocol::Tcp
                        },
                        port: match k {
                            0 => None,
                            1 | 4 => Some(PortRef::Number(80)),
                            2 => Some(PortRef::Number(81)),
                            _ => Some(PortRef::Name(
                                if proto == 1 {
                                    "serve-80-udp"
                                } else {
                                    "serve-80-tcp"
                                }
                                .into(),
                            )),
                        },
                        end_port: (k == 4).then_some(81),
                    })
                    .collect(),
                peers: rr
                    .peers
                    .iter()
                    .map(|p| match p {
                        RawPeer::Pods { ns, pod } => Peer::Pods {
                            namespaces: ns.map(ns_sel),
                            pods: pod.map(pod_sel),
                        },
                        RawPeer::Block { ns, len, ex } => Peer::IpBlock {
                            cidr: Ipv4Net::new(Ipv4Addr::from(addr(ns * 3)), *len)
                                .unwrap()
                                .trunc(),
                            except: ex
                                .map(|x| Ipv4Net::new(Ipv4Addr::from(addr(x)), 32).unwrap())
                                .into_iter()
                                .collect(),
                        },
                    })
                    .collect(),
            };
            let written: Option<Vec<Direction>> = r.types.as_ref().map(|t| {
                t.iter()
                    .map(|&i| {
                        if i {
                            Direction::Ingress
                        } else {
                            Direction::Egress
                        }
                    })
                    .collect()
            });
            NetworkPolicy {
                meta: crate::model::objects::ObjectMeta {
                    name: format!("p{i}"),
                    namespace: ns[r.ns].into(),
                    ..Default::default()
                },
                pod_selector: pod_sel(r.selects),
                ingress: r.ingress.iter().map(rule).collect(),
                egress: r.egress.iter().map(rule).collect(),
                types: PolicyTypes::defaulted(written.as_deref(), !r.egress.is_empty()),
            }
        }

        fn arb_rule() -> impl Strategy<Value = RawRule> {
            let peer = prop_oneof![
                (
                    proptest::option::of(proptest::option::of(0..3usize)),
                    proptest::option::of(proptest::option::of(0..3usize))
                )
                    .prop_map(|(ns, pod)| RawPeer::Pods { ns, pod }),
                (
                    0..3usize,
                    prop_oneof![Just(0u8), Just(8), Just(16), Just(24), Just(30), Just(32)],
                    proptest::option::of(0..ENDS)
                )
                    .prop_map(|(ns, len, ex)| RawPeer::Block { ns, len, ex }),
            ];
            (
                proptest::collection::vec((0..2u8, 0..5u8), 0..3),
                proptest::collection::vec(peer, 0..3),
            )
                .prop_map(|(ports, peers)| RawRule { ports, peers })
        }

        fn arb_raw() -> impl Strategy<Value = Raw> {
            (
                0..3usize,
                proptest::option::of(0..3usize),
                proptest::collection::vec(arb_rule(), 0..3),
                proptest::collection::vec(arb_rule(), 0..3),
                proptest::option::of(proptest::collection::vec(any::<bool>(), 0..3)),
            )
                .prop_map(|(ns, selects, ingress, egress, types)| Raw {
                    ns,
                    selects,
                    ingress,
                    egress,
                    types,
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
            #[test]
            fn evaluate_agrees_with_a_direct_reading(raws in proptest::collection::vec(arb_raw(), 0..4)) {
                let policies: Vec<NetworkPolicy> =
                    raws.iter().enumerate().map(|(i, r)| to_policy(r, i)).collect();
                let expected = oracle(&raws);
                let ns = ["x", "y", "z"];
                let labels: Vec<Labels> = ["a", "b", "c"]
                    .iter()
                    .map(|p| [("pod".to_string(), p.to_string())].into())
                    .collect();
                let ns_labels: Vec<Labels> =
                    ns.iter().map(|n| namespace_labels(n, &Labels::new())).collect();
                let ports: Vec<ContainerPort> = [Protocol::Tcp, Protocol::Udp]
                    .iter()
                    .map(|&p| ContainerPort {
                        name: Some(format!("serve-80-{}", p.lower())),
                        container_port: 80,
                        host_port: None,
                        protocol: p,
                    })
                    .collect();
                let end = |e: usize| Endpoint {
                    ip: Ipv4Addr::from(addr(e)),
                    pod: (e < 9).then(|| PodView {
                        namespace: ns[e / 3],
                        labels: &labels[e % 3],
                        namespace_labels: &ns_labels[e / 3],
                        ports: Ports::List(&ports),
                    }),
                };
                for s in 0..ENDS {
                    for d in 0..ENDS {
                        for port in [80u16, 81] {
                            for udp in [false, true] {
                                let c = Conn {
                                    src: end(s),
                                    dst: end(d),
                                    port,
                                    protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
                                };
                                prop_assert_eq!(
                                    evaluate(&policies, &c).allows(),
                                    expected.contains(&(s, d, port, udp)),
                                    "{} -> {} port {} udp {}", s, d, port, udp
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
