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

/// A pod's `/etc/resolv.conf`: what its resolver asks and in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines (glibc reads at most 3, `MAXNS`).
    pub nameservers: Vec<std::net::Ipv4Addr>,
    /// `search` domains, in order.
    pub search: Vec<String>,
    /// `options ndots:N`.
    pub ndots: u32,
}

impl ResolvConf {
    /// `dnsPolicy: ClusterFirst` (and `ClusterFirstWithHostNet`) for a pod of `namespace`:
    /// the cluster DNS Service, the three cluster search domains, `ndots:5`.
    pub fn cluster_first(dns_ip: std::net::Ipv4Addr, namespace: &str) -> Self {
        ResolvConf {
            nameservers: vec![dns_ip],
            search: vec![
                format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
                format!("svc.{CLUSTER_DOMAIN}"),
                CLUSTER_DOMAIN.to_string(),
            ],
            ndots: CLUSTER_NDOTS,
        }
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
