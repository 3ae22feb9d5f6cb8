//! Network settings of the scenario's `spec.cluster`.

use crate::engine::SimDuration;
use ipnet::Ipv4Net;

/// kube-proxy's data-plane mode (`spec.cluster.proxyMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// The default on Linux (`pkg/proxy/apis/config/v1alpha1/defaults.go`).
    #[default]
    Iptables,
    Ipvs,
    Nftables,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::Nftables => "nftables",
        }
    }
}

/// IPVS schedulers (`ipvsadm -s`); default `rr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpvsScheduler {
    #[default]
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Sh,
    Dh,
    Sed,
    Nq,
    Mh,
}

/// One-way latency of each kind of hop (`spec.cluster.network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkLatency {
    /// Pod to pod, or node to pod, on one node (veth and bridge). Default 20 us.
    pub same_node: SimDuration,
    /// Node to node over the overlay. Default 200 us.
    pub cross_node: SimDuration,
    /// A client outside the cluster to a node. Default 500 us.
    pub external: SimDuration,
    /// Added to a node-to-node hop between two zones (nodes whose
    /// `topology.kubernetes.io/zone` labels differ). Default 500 us: kubesim's assumption for
    /// the extra one-way latency between a cloud region's availability zones.
    pub cross_zone: SimDuration,
}

impl Default for NetworkLatency {
    fn default() -> Self {
        NetworkLatency {
            same_node: SimDuration::from_micros(20),
            cross_node: SimDuration::from_micros(200),
            external: SimDuration::from_micros(500),
            cross_zone: SimDuration::from_micros(500),
        }
    }
}

/// The cluster-wide network settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    pub proxy_mode: ProxyMode,
    pub ipvs_scheduler: IpvsScheduler,
    /// Default 10.96.0.0/12 (kubeadm's `--service-cluster-ip-range`).
    pub service_cidr: Ipv4Net,
    /// Default 10.244.0.0/16 (flannel's default); each node gets a /24 in order.
    pub cluster_cidr: Ipv4Net,
    /// Default 24 (kube-controller-manager `--node-cidr-mask-size`).
    pub node_cidr_mask: u8,
    /// Pool for LoadBalancer Services; `None`: EXTERNAL-IP stays `<pending>`.
    pub load_balancer_ips: Option<Ipv4Net>,
    pub latency: NetworkLatency,
    /// kube-proxy `minSyncPeriod`, default 1 s (`pkg/proxy/apis/config/v1alpha1/defaults.go`).
    pub min_sync_period: SimDuration,
    /// kube-controller-manager `--endpointslice-updates-batch-period`, default 0 (unset;
    /// `pkg/controller/endpointslice/config/types.go`).
    pub endpoint_slice_batch_period: SimDuration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            proxy_mode: ProxyMode::default(),
            ipvs_scheduler: IpvsScheduler::default(),
            service_cidr: "10.96.0.0/12".parse().expect("valid default"),
            cluster_cidr: "10.244.0.0/16".parse().expect("valid default"),
            node_cidr_mask: 24,
            load_balancer_ips: None,
            latency: NetworkLatency::default(),
            min_sync_period: SimDuration::from_secs(1),
            endpoint_slice_batch_period: SimDuration::ZERO,
        }
    }
}
