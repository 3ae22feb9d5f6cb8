//! Cluster DNS names as a pod's resolver sees them (`dnsPolicy: ClusterFirst`).
//!
//! A pod's `/etc/resolv.conf` searches `<ns>.svc.cluster.local`, `svc.cluster.local` and
//! `cluster.local` (`pkg/kubelet/network/dns/dns.go`), so `http-svc`, `http-svc.default`,
//! `http-svc.default.svc` and `http-svc.default.svc.cluster.local` all name the same Service.
//! This module only parses names; the answer (a ClusterIP) comes from the Services.

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

#[cfg(test)]
mod tests {
    use super::*;

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
