//! Cluster DNS names as a pod's resolver sees them.
//!
//! A pod's `/etc/resolv.conf` (written by the kubelet, `pkg/kubelet/network/dns/dns.go`) under
//! `dnsPolicy: ClusterFirst` names the cluster DNS Service (10.96.0.10) as its nameserver,
//! searches `<ns>.svc.cluster.local`, `svc.cluster.local` and `cluster.local`, and sets
//! `options ndots:5`. glibc's resolver (`res_nsearch`) then tries a name with fewer than five
//! dots with each search domain appended first, and only then as written; a name with five or
//! more dots, or ending in a dot, goes as written first. So `http-svc` is answered by its first
//! query, `http-svc.default.svc.cluster.local` (four dots) only by its fourth, and
//! `api.example.com` costs three NXDOMAIN answers before the query that leaves the cluster.
//! [`ResolvConf::query_names`] gives that order; [`cluster_answer`] says which fully qualified
//! names CoreDNS's `kubernetes` plugin answers (a Service of this cluster). This module only
//! parses names; the answer (a ClusterIP) comes from the Services, the queries are routed by
//! the simulation.

use crate::model::objects::{DnsPolicy, PodDnsConfig};
use std::net::Ipv4Addr;

/// The cluster domain (kubelet `--cluster-domain`, kubeadm's default).
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// The `(service, namespace)` a name refers to from a pod in `client_ns`, or `None` when it
/// is not a Service name of this cluster.
pub fn service_name<'a>(name: &'a str, client_ns: &'a str) -> Option<(&'a str, &'a str)> {
    let name = name.trim_end_matches('.');
    let rest = name
        .strip_suffix(CLUSTER_DOMAIN)
        .map_or(name, |r| r.trim_end_matches('.'));
    let rest = rest.strip_suffix(".svc").unwrap_or(rest);
    match rest.split_once('.') {
        Some((svc, ns)) if !ns.contains('.') && !svc.is_empty() && !ns.is_empty() => {
            Some((svc, ns))
        }
        Some(_) => None,
        None if !rest.is_empty() => Some((rest, client_ns)),
        None => None,
    }
}

/// kubelet's `ndots` for cluster-first pods (`pkg/kubelet/network/dns/dns.go`, `ndotsDNSOption`
/// "ndots:5").
pub const CLUSTER_NDOTS: u32 = 5;

/// glibc's `ndots` when resolv.conf sets none: 1 (`resolv/res_init.c`, `statp->ndots = 1`).
pub const GLIBC_NDOTS: u32 = 1;

/// glibc's per-query timeout, 5 s (`RES_TIMEOUT` in `resolv/resolv.h`), and its attempts per
/// nameserver, 2 (`RES_DFLRETRY`): an unanswered query gives up after 10 s.
pub const RES_TIMEOUT_SECS: u64 = 5;
/// See [`RES_TIMEOUT_SECS`].
pub const RES_ATTEMPTS: u64 = 2;

/// glibc's caps on the options (`resolv/resolv.h`): `RES_MAXNDOTS` 15, `RES_MAXRETRANS` 30 s,
/// `RES_MAXRETRY` 5.
const MAX_NDOTS: u32 = 15;
const MAX_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: u64 = 5;

/// At most 3 nameservers (`MaxDNSNameservers`, glibc's `MAXNS`), 32 search domains of 2,048
/// characters in all (`MaxDNSSearchPathsExpanded`, `MaxDNSSearchListCharsExpanded`): the
/// kubelet drops the rest (`formDNSConfigFitsLimits`).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;
const MAX_SEARCH_CHARS: usize = 2048;

/// One `nameserver` line of a resolv.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nameserver {
    /// An address: the cluster DNS Service's, or one from `dnsConfig`.
    Addr(Ipv4Addr),
    /// The node's own resolver, from its `/etc/resolv.conf` (kubelet `--resolv-conf`), a
    /// server outside the cluster: kubesim's assumption, since a scenario does not name it. It
    /// knows no cluster names, and kubesim does not resolve the others.
    Node,
}

impl std::fmt::Display for Nameserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nameserver::Addr(ip) => write!(f, "{ip}"),
            Nameserver::Node => f.write_str("the node's nameserver"),
        }
    }
}

/// A pod's `/etc/resolv.conf`: what its resolver asks and in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines; glibc asks the first and moves on only when it fails.
    pub nameservers: Vec<Nameserver>,
    /// `search` domains, in order.
    pub search: Vec<String>,
    /// `options ndots:N` (glibc's default 1).
    pub ndots: u32,
    /// `options timeout:N`, seconds per attempt (glibc's default 5, `RES_TIMEOUT`).
    pub timeout_secs: u64,
    /// `options attempts:N` (glibc's default 2, `RES_DFLRETRY`).
    pub attempts: u64,
}

impl ResolvConf {
    /// `dnsPolicy: ClusterFirst` (and `ClusterFirstWithHostNet`) for a pod of `namespace`:
    /// the cluster DNS Service, the three cluster search domains, `ndots:5`.
    pub fn cluster_first(dns_ip: Ipv4Addr, namespace: &str) -> Self {
        Self::for_pod(
            DnsPolicy::ClusterFirst,
            false,
            Some(dns_ip),
            namespace,
            None,
        )
    }

    /// The node's own resolv.conf, as kubesim assumes it: its nameserver, no search domains,
    /// no options.
    pub fn node() -> Self {
        ResolvConf {
            nameservers: vec![Nameserver::Node],
            search: Vec::new(),
            ndots: GLIBC_NDOTS,
            timeout_secs: RES_TIMEOUT_SECS,
            attempts: RES_ATTEMPTS,
        }
    }

    /// The resolv.conf the kubelet writes for a pod (`GetPodDNS` in
    /// `pkg/kubelet/network/dns/dns.go`): `ClusterFirst` (not on the host network) and
    /// `ClusterFirstWithHostNet` give the cluster DNS Service (`cluster_dns`), the cluster's
    /// search domains followed by the node's, and `ndots:5` (the node's options dropped);
    /// `Default`, and `ClusterFirst` on the host network, the node's resolv.conf; `None`
    /// nothing. `dnsConfig` is then appended: its nameservers and search domains after those
    /// (duplicates omitted), its options replacing those of the same name. Past the limits
    /// the rest is dropped.
    pub fn for_pod(
        policy: DnsPolicy,
        host_network: bool,
        cluster_dns: Option<Ipv4Addr>,
        namespace: &str,
        config: Option<&PodDnsConfig>,
    ) -> Self {
        let node = Self::node();
        let cluster = match policy {
            DnsPolicy::None => None,
            DnsPolicy::ClusterFirstWithHostNet => Some(true),
            DnsPolicy::ClusterFirst => Some(!host_network),
            DnsPolicy::Default => Some(false),
        };
        let (mut nameservers, mut search, mut options): (Vec<Nameserver>, Vec<String>, Vec<_>) =
            match (cluster, cluster_dns) {
                (None, _) => Default::default(),
                // Without a cluster DNS address the kubelet falls back to `Default`.
                (Some(true), Some(ip)) => (
                    vec![Nameserver::Addr(ip)],
                    [
                        format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
                        format!("svc.{CLUSTER_DOMAIN}"),
                        CLUSTER_DOMAIN.to_string(),
                    ]
                    .into_iter()
                    .chain(node.search.iter().cloned())
                    .collect(),
                    vec![("ndots".to_string(), Some(CLUSTER_NDOTS.to_string()))],
                ),
                (Some(_), _) => (node.nameservers.clone(), node.search.clone(), Vec::new()),
            };
        if let Some(c) = config {
            nameservers.extend(c.nameservers.iter().map(|ip| Nameserver::Addr(*ip)));
            search.extend(c.searches.iter().cloned());
            for (name, value) in &c.options {
                match options.iter_mut().find(|(n, _)| n == name) {
                    Some(o) => o.1 = value.clone(),
                    None => options.push((name.clone(), value.clone())),
                }
            }
        }
        omit_duplicates(&mut nameservers);
        omit_duplicates(&mut search);
        nameservers.truncate(MAX_NAMESERVERS);
        search.truncate(MAX_SEARCHES);
        while search.join(" ").len() > MAX_SEARCH_CHARS {
            search.pop();
        }
        // glibc reads the options it knows (`res_setoptions`) and caps them.
        let option = |name: &str| {
            options
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.as_deref()?.parse::<u64>().ok())
        };
        ResolvConf {
            nameservers,
            // glibc ignores a trailing dot of a search domain.
            search: search
                .into_iter()
                .map(|d| d.trim_end_matches('.').to_string())
                .collect(),
            ndots: option("ndots").map_or(GLIBC_NDOTS, |n| n.min(u64::from(MAX_NDOTS)) as u32),
            timeout_secs: option("timeout")
                .map_or(RES_TIMEOUT_SECS, |t| t.clamp(1, MAX_TIMEOUT_SECS)),
            attempts: option("attempts").map_or(RES_ATTEMPTS, |a| a.clamp(1, MAX_ATTEMPTS)),
        }
    }

    /// How long the resolver waits for a query nobody answers before it gives up: `timeout`
    /// per attempt, `attempts` times.
    pub fn gives_up_after_secs(&self) -> u64 {
        self.timeout_secs * self.attempts
    }

    /// The fully qualified names the resolver asks for, in order, until one is answered
    /// (glibc `res_nsearch`): as written first when it ends in a dot (then only that) or has
    /// at least `ndots` dots; otherwise each search domain appended, then as written.
    pub fn query_names(&self, name: &str) -> Vec<String> {
        if let Some(abs) = name.strip_suffix('.') {
            return vec![abs.to_string()];
        }
        let dots = name.matches('.').count() as u32;
        let searched = self.search.iter().map(|d| format!("{name}.{d}"));
        if dots >= self.ndots {
            std::iter::once(name.to_string()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(name.to_string())).collect()
        }
    }
}

/// Keeps the first of each value, in order (`omitDuplicates`).
fn omit_duplicates<T: PartialEq + Clone>(v: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::with_capacity(v.len());
    for x in v.drain(..) {
        if !kept.contains(&x) {
            kept.push(x);
        }
    }
    *v = kept;
}

/// The `(service, namespace)` CoreDNS's `kubernetes` plugin answers for the fully qualified
/// `fqdn` (`<service>.<namespace>.svc.cluster.local`), or `None`: NXDOMAIN for any other name
/// in the cluster domain, and a name outside it is forwarded upstream (which kubesim does not
/// model). See [`in_cluster_domain`].
pub fn cluster_answer(fqdn: &str) -> Option<(&str, &str)> {
    let rest = fqdn
        .trim_end_matches('.')
        .strip_suffix(CLUSTER_DOMAIN)?
        .strip_suffix(".svc.")?;
    match rest.split_once('.') {
        Some((svc, ns)) if !svc.is_empty() && !ns.is_empty() && !ns.contains('.') => {
            Some((svc, ns))
        }
        _ => None,
    }
}

/// The `(hostname, service, namespace)` of a pod's own name under a headless Service,
/// `<hostname>.<service>.<namespace>.svc.cluster.local`, which CoreDNS's `kubernetes` plugin
/// answers from the endpoint's `hostname` (set by the EndpointSlice controller for a pod whose
/// `spec.hostname` is set and whose `spec.subdomain` names the Service).
pub fn hostname_answer(fqdn: &str) -> Option<(&str, &str, &str)> {
    let rest = fqdn
        .trim_end_matches('.')
        .strip_suffix(CLUSTER_DOMAIN)?
        .strip_suffix(".svc.")?;
    let mut parts = rest.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(s), Some(n), None) if !h.is_empty() && !s.is_empty() && !n.is_empty() => {
            Some((h, s, n))
        }
        _ => None,
    }
}

/// Whether `fqdn` lies in the cluster domain (CoreDNS answers it itself, NXDOMAIN if no such
/// Service), rather than being forwarded out of the cluster.
pub fn in_cluster_domain(fqdn: &str) -> bool {
    let n = fqdn.trim_end_matches('.');
    n == CLUSTER_DOMAIN || n.ends_with(&format!(".{CLUSTER_DOMAIN}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_name_under_a_headless_service_is_split_in_three() {
        assert_eq!(
            hostname_answer("web-0.nginx.default.svc.cluster.local."),
            Some(("web-0", "nginx", "default"))
        );
        assert_eq!(hostname_answer("nginx.default.svc.cluster.local"), None);
        assert_eq!(hostname_answer("a.b.c.d.svc.cluster.local"), None);
        assert_eq!(
            hostname_answer("web-0.nginx.default.pod.cluster.local"),
            None
        );
    }

    #[test]
    fn ndots_5_tries_the_search_domains_first_for_names_with_fewer_than_five_dots() {
        let r = ResolvConf::cluster_first(std::net::Ipv4Addr::new(10, 96, 0, 10), "default");
        assert_eq!(
            r.query_names("http-svc"),
            [
                "http-svc.default.svc.cluster.local",
                "http-svc.svc.cluster.local",
                "http-svc.cluster.local",
                "http-svc"
            ]
        );
        // Four dots: the full Service name is asked for last.
        let q = r.query_names("http-svc.default.svc.cluster.local");
        assert_eq!(q.len(), 4);
        assert_eq!(q[3], "http-svc.default.svc.cluster.local");
        // An external name costs three NXDOMAIN answers before the query that leaves.
        let q = r.query_names("api.example.com");
        assert_eq!(q[0], "api.example.com.default.svc.cluster.local");
        assert_eq!(q[3], "api.example.com");
        // A trailing dot: only as written.
        assert_eq!(r.query_names("api.example.com."), ["api.example.com"]);
        // Five dots: as written first.
        assert_eq!(r.query_names("a.b.c.d.e.f")[0], "a.b.c.d.e.f");
        let names = r.query_names("http-svc");
        let answered: Vec<Option<(&str, &str)>> = names.iter().map(|n| cluster_answer(n)).collect();
        assert_eq!(answered[0], Some(("http-svc", "default")));
        assert_eq!(answered[1], None);
        assert_eq!(
            cluster_answer("kube-dns.kube-system.svc.cluster.local"),
            Some(("kube-dns", "kube-system"))
        );
        assert!(in_cluster_domain("x.svc.cluster.local"));
        assert!(!in_cluster_domain("api.example.com"));
    }

    /// `GetPodDNS` (`pkg/kubelet/network/dns/dns.go`) for each policy, with and without
    /// `dnsConfig`.
    #[test]
    fn the_kubelet_writes_resolv_conf_by_dns_policy_and_dns_config() {
        let dns = Ipv4Addr::new(10, 96, 0, 10);
        let pod = |policy, host_network, config: Option<&PodDnsConfig>| {
            ResolvConf::for_pod(policy, host_network, Some(dns), "shop", config)
        };
        let cluster = pod(DnsPolicy::ClusterFirst, false, None);
        assert_eq!(cluster.nameservers, [Nameserver::Addr(dns)]);
        assert_eq!(
            cluster.search,
            [
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local"
            ]
        );
        assert_eq!((cluster.ndots, cluster.gives_up_after_secs()), (5, 10));
        // hostNetwork: ClusterFirst falls back to the node's; ClusterFirstWithHostNet not.
        assert_eq!(pod(DnsPolicy::ClusterFirst, true, None), ResolvConf::node());
        assert_eq!(pod(DnsPolicy::ClusterFirstWithHostNet, true, None), cluster);
        let node = pod(DnsPolicy::Default, false, None);
        assert_eq!(node.nameservers, [Nameserver::Node]);
        assert!(node.search.is_empty());
        assert_eq!(node.ndots, 1);
        // No cluster DNS address: the kubelet falls back to Default.
        assert_eq!(
            ResolvConf::for_pod(DnsPolicy::ClusterFirst, false, None, "shop", None),
            node
        );

        let config = PodDnsConfig {
            nameservers: vec![Ipv4Addr::new(10, 96, 0, 10), Ipv4Addr::new(1, 1, 1, 1)],
            searches: vec!["svc.cluster.local".into(), "corp.example.".into()],
            options: vec![
                ("ndots".into(), Some("2".into())),
                ("timeout".into(), Some("1".into())),
                ("attempts".into(), Some("9".into())),
                ("edns0".into(), None),
            ],
        };
        // None: only dnsConfig.
        let none = pod(DnsPolicy::None, false, Some(&config));
        assert_eq!(
            none.nameservers,
            [
                Nameserver::Addr(dns),
                Nameserver::Addr(Ipv4Addr::new(1, 1, 1, 1))
            ]
        );
        assert_eq!(none.search, ["svc.cluster.local", "corp.example"]);
        // attempts capped at glibc's RES_MAXRETRY 5.
        assert_eq!((none.ndots, none.timeout_secs, none.attempts), (2, 1, 5));
        // ClusterFirst + dnsConfig: appended, duplicates omitted, options replaced by name.
        let merged = pod(DnsPolicy::ClusterFirst, false, Some(&config));
        assert_eq!(merged.nameservers, none.nameservers);
        assert_eq!(
            merged.search,
            [
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example"
            ]
        );
        assert_eq!(merged.ndots, 2);
        assert_eq!(merged.query_names("api")[0], "api.shop.svc.cluster.local");
        // Two dots, ndots:2: as written first.
        assert_eq!(merged.query_names("a.b.c")[0], "a.b.c");
        // Default + dnsConfig: the node's nameserver first, then the pod's.
        let d = pod(DnsPolicy::Default, false, Some(&config));
        assert_eq!(d.nameservers[0], Nameserver::Node);
        assert_eq!(d.nameservers.len(), 3);
        // The kubelet keeps 3 nameservers and 32 search domains.
        let many = PodDnsConfig {
            nameservers: (1..=5).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
            searches: (0..40).map(|i| format!("d{i}.example")).collect(),
            options: Vec::new(),
        };
        let capped = pod(DnsPolicy::None, false, Some(&many));
        assert_eq!((capped.nameservers.len(), capped.search.len()), (3, 32));
    }

    #[test]
    fn every_form_of_a_service_name_resolves_through_the_search_path() {
        for name in [
            "http-svc",
            "http-svc.default",
            "http-svc.default.svc",
            "http-svc.default.svc.cluster.local",
            "http-svc.default.svc.cluster.local.",
        ] {
            assert_eq!(
                service_name(name, "default"),
                Some(("http-svc", "default")),
                "{name}"
            );
        }
        assert_eq!(
            service_name("kube-dns.kube-system", "default"),
            Some(("kube-dns", "kube-system"))
        );
        assert_eq!(service_name("example.com.au", "default"), None);
        assert_eq!(service_name("", "default"), None);
    }
}
