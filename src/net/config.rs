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

/// The API server's `--service-node-port-range` (`spec.cluster.serviceNodePortRange`): the
/// ports NodePort Services may hold, `first..=last`. Default 30000-32767
/// (`pkg/kubeapiserver/options/options.go`, `DefaultServiceNodePortRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for NodePortRange {
    fn default() -> Self {
        NodePortRange {
            first: 30000,
            last: 32767,
        }
    }
}

impl NodePortRange {
    pub fn contains(self, port: i64) -> bool {
        (i64::from(self.first)..=i64::from(self.last)).contains(&port)
    }
}

impl std::fmt::Display for NodePortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl std::str::FromStr for NodePortRange {
    type Err = String;

    /// As the flag parses it (`k8s.io/apimachinery/pkg/util/net/port_range.go`,
    /// `PortRange.Set`): `30000-32767`, `30000+2767` (base and offset) or one port, with
    /// upstream's messages; an empty range, which upstream's parser accepts, holds no port a
    /// Service could get, so it is refused here.
    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let num = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| format!("unable to parse port range: {value}"))
        };
        let (low, high) = match (value.find('-'), value.find('+')) {
            _ if value.is_empty() => return Err("an empty range holds no ports".into()),
            (None, None) => (num(value)?, num(value)?),
            (Some(h), None) => (num(&value[..h])?, num(&value[h + 1..])?),
            (None, Some(p)) => {
                let low = num(&value[..p])?;
                (low, low.saturating_add(num(&value[p + 1..])?))
            }
            (Some(_), Some(_)) => return Err(format!("unable to parse port range: {value}")),
        };
        if low > 65535 || high > 65535 {
            return Err(format!(
                "the port range cannot be greater than 65535: {value}"
            ));
        }
        if high < low {
            return Err(format!("end port cannot be less than start port: {value}"));
        }
        Ok(NodePortRange {
            first: low as u16,
            last: high as u16,
        })
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
    /// The ports NodePorts come from (`--service-node-port-range`).
    pub node_port_range: NodePortRange,
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
            node_port_range: NodePortRange::default(),
            latency: NetworkLatency::default(),
            min_sync_period: SimDuration::from_secs(1),
            endpoint_slice_batch_period: SimDuration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_port_ranges_parse_as_the_flag_does() {
        // `port_range_test.go`'s accepted and refused forms
        let ok = |s: &str| s.parse::<NodePortRange>().map(|r| (r.first, r.last));
        assert_eq!(ok("30000-32767"), Ok((30000, 32767)));
        assert_eq!(ok(" 100-200 "), Ok((100, 200)));
        assert_eq!(ok("80"), Ok((80, 80)));
        assert_eq!(ok("80+8"), Ok((80, 88)));
        assert_eq!(ok("100-100"), Ok((100, 100)));
        assert_eq!(
            ok("200-100"),
            Err("end port cannot be less than start port: 200-100".into())
        );
        assert_eq!(
            ok("65535+1"),
            Err("the port range cannot be greater than 65535: 65535+1".into())
        );
        for bad in ["x", "-100", "100-", "1-2-3", "1+2-3", "80+x"] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert!(ok("").is_err());
        assert_eq!(NodePortRange::default().to_string(), "30000-32767");
        assert!(
            NodePortRange::default().contains(30000) && !NodePortRange::default().contains(29999)
        );
    }
}
