//! Pod addressing: node pod CIDRs and the host-local IPAM plugin.
//!
//! [`node_pod_cidrs`] cuts the cluster CIDR into per-node ranges the way
//! kube-controller-manager's range allocator does (`--node-cidr-mask-size`, in registration
//! order). [`HostLocalIpam`] hands out pod IPs inside one node's range the way the CNI
//! `host-local` plugin does (`containernetworking/plugins`,
//! `plugins/ipam/host-local/backend/allocator/allocator.go`): `.0` is the network, `.1` the
//! `cni0` bridge gateway, pods from `.2`, round robin from the last reserved address, so a
//! freed address is not reused until the range wraps. This module knows nothing of pods or
//! nodes as objects: it deals in addresses only.

use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Why an address could not be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The node CIDR mask is shorter than the cluster CIDR's or longer than 32 bits.
    #[error("node cidr mask /{mask} does not fit in cluster cidr {cluster_cidr}")]
    InvalidMask { cluster_cidr: Ipv4Net, mask: u8 },
    /// More nodes than /mask subnets in the cluster CIDR.
    #[error(
        "cluster cidr {cluster_cidr} holds {available} /{mask} node ranges, {requested} are needed"
    )]
    NotEnoughRanges {
        cluster_cidr: Ipv4Net,
        mask: u8,
        available: u64,
        requested: usize,
    },
    /// Every pod address of the node's range is in use (host-local's wording).
    #[error("no IP addresses available in range set: {first}-{last}")]
    Exhausted { first: Ipv4Addr, last: Ipv4Addr },
}

/// The pod CIDR of each of `count` nodes: the i-th node in registration order gets the i-th
/// `/mask` subnet of `cluster_cidr` (10.244.0.0/16 with mask 24: 10.244.0.0/24,
/// 10.244.1.0/24, ...).
pub fn node_pod_cidrs(
    cluster_cidr: Ipv4Net,
    mask: u8,
    count: usize,
) -> Result<Vec<Ipv4Net>, IpamError> {
    let cluster_cidr = cluster_cidr.trunc();
    if mask < cluster_cidr.prefix_len() || mask > 32 {
        return Err(IpamError::InvalidMask { cluster_cidr, mask });
    }
    let available = 1u64 << (mask - cluster_cidr.prefix_len());
    if count as u64 > available {
        return Err(IpamError::NotEnoughRanges {
            cluster_cidr,
            mask,
            available,
            requested: count,
        });
    }
    let subnets = cluster_cidr
        .subnets(mask)
        .map_err(|_| IpamError::InvalidMask { cluster_cidr, mask })?;
    Ok(subnets.take(count).collect())
}

/// The pod CIDR of each node: a node's own `spec.podCIDR` where given (an imported cluster's
/// node keeps the range its controller manager gave it, whatever its index), else the next
/// `/mask` subnet of `cluster_cidr`, in order, that overlaps no given range (the range
/// allocator marks the ranges nodes already hold as used before it allocates,
/// `pkg/controller/nodeipam/ipam/range_allocator.go`, `occupyCIDRs`).
pub fn node_pod_cidrs_with(
    cluster_cidr: Ipv4Net,
    mask: u8,
    given: &[Option<Ipv4Net>],
) -> Result<Vec<Ipv4Net>, IpamError> {
    let cluster_cidr = cluster_cidr.trunc();
    if mask < cluster_cidr.prefix_len() || mask > 32 {
        return Err(IpamError::InvalidMask { cluster_cidr, mask });
    }
    let taken: Vec<Ipv4Net> = given.iter().flatten().map(|n| n.trunc()).collect();
    let overlaps = |n: &Ipv4Net| {
        taken
            .iter()
            .any(|t| t.contains(&n.network()) || n.contains(&t.network()))
    };
    let mut free = cluster_cidr
        .subnets(mask)
        .map_err(|_| IpamError::InvalidMask { cluster_cidr, mask })?
        .filter(|n| !overlaps(n));
    let mut out = Vec::with_capacity(given.len());
    for g in given {
        match g {
            Some(n) => out.push(n.trunc()),
            None => match free.next() {
                Some(n) => out.push(n),
                None => {
                    return Err(IpamError::NotEnoughRanges {
                        cluster_cidr,
                        mask,
                        available: 1u64 << (mask - cluster_cidr.prefix_len()),
                        requested: given.len(),
                    })
                }
            },
        }
    }
    Ok(out)
}

/// The address of the `flannel.1` VXLAN interface of a node: the `.0` of its pod range.
/// MASQUERADE picks it as the source of traffic leaving a node for a pod on another node.
pub fn flannel_vtep_address(range: Ipv4Net) -> Ipv4Addr {
    range.network()
}

/// The host-local IPAM allocator of one node range.
///
/// Addresses are kept as offsets from the network address; the usable range is
/// network + 1 ..= broadcast - 1 (host-local's default `rangeStart`/`rangeEnd`), and the
/// gateway (network + 1) is never handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLocalIpam {
    range: Ipv4Net,
    /// First and last usable offsets, inclusive.
    first: u32,
    last: u32,
    gateway: u32,
    used: BTreeSet<u32>,
    /// host-local's `lastReservedIP`: the next search starts right after it.
    last_reserved: Option<u32>,
}

impl HostLocalIpam {
    pub fn new(range: Ipv4Net) -> Self {
        let range = range.trunc();
        let size: u64 = 1u64 << (32 - range.prefix_len());
        // host-local: RangeStart defaults to network + 1, RangeEnd to broadcast - 1
        // (plugins/ipam/host-local/backend/allocator/range.go, Canonicalize).
        let (first, last) = if size >= 4 {
            (1, (size - 2) as u32)
        } else {
            (1, 0) // no usable addresses
        };
        HostLocalIpam {
            range,
            first,
            last,
            gateway: 1,
            used: BTreeSet::new(),
            last_reserved: None,
        }
    }

    pub fn range(&self) -> Ipv4Net {
        self.range
    }

    /// The bridge (`cni0`) address, `.1`: never given to a pod.
    pub fn gateway(&self) -> Ipv4Addr {
        self.addr(self.gateway)
    }

    fn addr(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.range.network()) + offset)
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        if !self.range.contains(&ip) {
            return None;
        }
        Some(u32::from(ip) - u32::from(self.range.network()))
    }

    /// The next free address after the last one reserved, wrapping at the end of the range
    /// and skipping the gateway and addresses in use (host-local's `RangeIter`).
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        if self.first > self.last {
            return Err(self.exhausted());
        }
        let span = self.last - self.first + 1;
        let start = match self.last_reserved {
            Some(l) if l >= self.first && l < self.last => l + 1,
            _ => self.first,
        };
        for i in 0..span {
            let cand = self.first + (start - self.first + i) % span;
            if cand == self.gateway || self.used.contains(&cand) {
                continue;
            }
            self.used.insert(cand);
            self.last_reserved = Some(cand);
            return Ok(self.addr(cand));
        }
        Err(self.exhausted())
    }

    fn exhausted(&self) -> IpamError {
        IpamError::Exhausted {
            first: self.addr(self.first),
            last: self.addr(self.last.max(self.first)),
        }
    }

    /// Frees `ip`; it is not handed out again until the search wraps round to it.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(o) = self.offset(ip) {
            self.used.remove(&o);
        }
    }

    /// Addresses in use, in address order.
    pub fn in_use(&self) -> Vec<Ipv4Addr> {
        self.used.iter().map(|&o| self.addr(o)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn node_ranges_in_registration_order() {
        let cidrs = node_pod_cidrs("10.244.0.0/16".parse().unwrap(), 24, 3).unwrap();
        let got: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
        assert_eq!(got, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
    }

    #[test]
    fn not_enough_node_ranges() {
        let err = node_pod_cidrs("10.244.0.0/23".parse().unwrap(), 24, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cluster cidr 10.244.0.0/23 holds 2 /24 node ranges, 3 are needed"
        );
        assert!(matches!(
            node_pod_cidrs("10.244.0.0/16".parse().unwrap(), 8, 1),
            Err(IpamError::InvalidMask { .. })
        ));
    }

    #[test]
    fn pods_from_dot_two_and_freed_address_not_reused() {
        let mut ipam = HostLocalIpam::new("10.244.1.0/24".parse().unwrap());
        assert_eq!(ipam.gateway(), ip("10.244.1.1"));
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.1.2"));
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.1.3"));
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.1.4"));
        ipam.release(ip("10.244.1.3"));
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.1.5"));
        assert_eq!(
            ipam.in_use(),
            vec![ip("10.244.1.2"), ip("10.244.1.4"), ip("10.244.1.5")]
        );
    }

    #[test]
    fn wraps_skipping_gateway_and_exhausts() {
        let mut ipam = HostLocalIpam::new("10.244.0.0/24".parse().unwrap());
        let mut all = Vec::new();
        for _ in 0..253 {
            all.push(ipam.allocate().unwrap());
        }
        assert_eq!(all.first(), Some(&ip("10.244.0.2")));
        assert_eq!(all.last(), Some(&ip("10.244.0.254")));
        let err = ipam.allocate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "no IP addresses available in range set: 10.244.0.1-10.244.0.254"
        );
        ipam.release(ip("10.244.0.7"));
        ipam.release(ip("10.244.0.3"));
        // Round robin from .254 wraps to the start: .3 comes before .7.
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.0.3"));
        assert_eq!(ipam.allocate().unwrap(), ip("10.244.0.7"));
    }

    #[test]
    fn vtep_is_dot_zero() {
        assert_eq!(
            flannel_vtep_address("10.244.2.0/24".parse().unwrap()),
            ip("10.244.2.0")
        );
    }

    #[test]
    fn given_pod_cidrs_are_kept_and_the_others_skip_them() {
        let c: Ipv4Net = "10.244.0.0/16".parse().unwrap();
        let n = |s: &str| Some(s.parse::<Ipv4Net>().unwrap());
        let got = node_pod_cidrs_with(c, 24, &[n("10.244.2.0/24"), None, n("10.244.0.0/24"), None])
            .unwrap();
        let want: Vec<Ipv4Net> = [
            "10.244.2.0/24",
            "10.244.1.0/24",
            "10.244.0.0/24",
            "10.244.3.0/24",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(got, want);
        assert_eq!(
            node_pod_cidrs_with(c, 24, &[None, None]).unwrap(),
            node_pod_cidrs(c, 24, 2).unwrap()
        );
        let tiny: Ipv4Net = "10.244.0.0/23".parse().unwrap();
        assert!(node_pod_cidrs_with(tiny, 24, &[n("10.244.0.0/24"), None, None]).is_err());
    }
}
