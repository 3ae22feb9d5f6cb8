//! Test fixtures for kube-proxy's input: a node and its Service ports built from short
//! literals. The unit tests of `iptables`, `nftables` and `ipvs` and the integration tests
//! (which see only the public API) build their inputs from these, so a field added to
//! [`ProxyServicePort`] or [`NodeProxyInput`] is filled in one place.
//!
//! Hidden from the documentation and not part of kubesim's API. The functions panic on a
//! malformed literal: they are for tests only.

use crate::model::objects::Protocol;
use crate::net::iptables::{NodeProxyInput, ProxyEndpoint, ProxyServicePort};
use std::net::Ipv4Addr;

/// An IPv4 address from its dotted text.
pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A ready, serving endpoint `addr:port`, on the node (`local`) or elsewhere.
pub fn ep(addr: &str, port: u16, local: bool) -> ProxyEndpoint {
    ProxyEndpoint {
        ip: ip(addr),
        port,
        is_local: local,
        ready: true,
        serving: true,
        terminating: false,
        hints: Default::default(),
    }
}

/// The TCP port `port` of the ClusterIP Service `default/name` over `eps`: no NodePort, no
/// external or load-balancer IPs, Cluster traffic policies, no session affinity. Other
/// settings go in with struct update syntax (`ProxyServicePort { node_port, ..svc(..) }`).
pub fn svc(name: &str, cluster_ip: &str, port: u16, eps: Vec<ProxyEndpoint>) -> ProxyServicePort {
    ProxyServicePort {
        namespace: "default".into(),
        name: name.into(),
        port_name: None,
        protocol: Protocol::Tcp,
        cluster_ip: Some(ip(cluster_ip)),
        port,
        node_port: None,
        external_ips: vec![],
        load_balancer_ips: vec![],
        external_policy_local: false,
        internal_policy_local: false,
        affinity_timeout_seconds: None,
        health_check_node_port: None,
        source_ranges: Vec::new(),
        endpoints: eps,
    }
}

/// The lesson's node-1 (192.168.0.24, pod CIDR 10.244.0.0/24 of the cluster's 10.244.0.0/16)
/// with `services`.
pub fn node(services: Vec<ProxyServicePort>) -> NodeProxyInput {
    NodeProxyInput {
        node_name: "node-1".into(),
        node_ip: ip("192.168.0.24"),
        pod_cidr: "10.244.0.0/24".parse().unwrap(),
        cluster_cidr: "10.244.0.0/16".parse().unwrap(),
        services,
    }
}
