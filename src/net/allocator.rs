//! The API server's ClusterIP and NodePort allocators.
//!
//! [`ClusterIpAllocator`] follows the IPAddress-backed allocator of
//! `pkg/registry/core/service/ipallocator/ipallocator.go` with KEP-3070's split of the range
//! into a lower static band and an upper dynamic band; [`NodePortAllocator`] follows
//! `pkg/registry/core/service/portallocator` over the bitmap allocator's
//! `randomScanStrategyWithOffset` (`pkg/registry/core/service/allocator/bitmap.go`, KEP-3668).
//! Dynamic allocation picks a random start in the upper band and scans forward, wrapping
//! inside the band, then does the same in the lower band; randomness comes from the caller's
//! generator. The error texts are upstream's, and [`node_port_field_error`] and
//! [`cluster_ip_field_error`] format the field errors as `kubectl` shows them. This module
//! knows nothing of Service objects.

use ipnet::Ipv4Net;
use rand::Rng;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Why an allocation failed; `Display` is upstream's exact text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// `ipallocator.ErrNotInRange`, in the wording the project's fidelity reference lists.
    #[error("provided IP is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange { ip: Ipv4Addr, range: Ipv4Net },
    /// `ipallocator.ErrAllocated`.
    #[error("provided IP is already allocated")]
    IpAllocated,
    /// `portallocator.ErrNotInRange`.
    #[error("provided port is not in the valid range. The range of valid ports is {first}-{last}")]
    PortNotInRange { port: u16, first: u16, last: u16 },
    /// `portallocator.ErrAllocated`.
    #[error("provided port is already allocated")]
    PortAllocated,
    /// `ErrFull` of both allocators.
    #[error("range is full")]
    Full,
}

/// `spec.ports[<index>].nodePort: Invalid value: <port>: <error>`.
pub fn node_port_field_error(index: usize, port: u16, err: &AllocError) -> String {
    format!("spec.ports[{index}].nodePort: Invalid value: {port}: {err}")
}

/// `spec.clusterIPs: Invalid value: ["<ip>"]: failed to allocate IP <ip>: <error>`
/// (`pkg/registry/core/service/storage/alloc.go`, single-stack `clusterIPs`).
pub fn cluster_ip_field_error(ip: Ipv4Addr, err: &AllocError) -> String {
    format!("spec.clusterIPs: Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: {err}")
}

/// KEP-3070's static band size: `min(max(16, cidrSize/16), 256)`, 0 for ranges of 16
/// addresses or fewer (`pkg/registry/core/service/ipallocator/bitmap.go`, `calculateRangeOffset`).
pub fn cluster_ip_range_offset(cidr: Ipv4Net) -> u32 {
    const MIN: u64 = 16; // ipallocator calculateRangeOffset `min`
    const MAX: u64 = 256; // ipallocator calculateRangeOffset `max`
    const STEP: u64 = 16; // ipallocator calculateRangeOffset `step`
    let size = 1u64 << (32 - cidr.prefix_len());
    if size <= MIN {
        return 0;
    }
    (size / STEP).clamp(MIN, MAX) as u32
}

/// KEP-3668's static band size: `min(max(16, size/32), 128)`, 0 for ranges of 16 ports or
/// fewer (`pkg/registry/core/service/portallocator/allocator.go`, `calculateRangeOffset`).
pub fn node_port_range_offset(size: u32) -> u32 {
    const MIN: u32 = 16; // portallocator calculateRangeOffset `min`
    const MAX: u32 = 128; // portallocator calculateRangeOffset `max`
    const STEP: u32 = 32; // portallocator calculateRangeOffset `step`
    if size <= MIN {
        return 0;
    }
    (size / STEP).clamp(MIN, MAX)
}

/// Allocates ClusterIPs from the service CIDR.
///
/// Addresses are offsets from the first usable address (network + 1); the band offset is
/// counted from there, as upstream's `addOffsetAddress(ipFirst, rangeOffset)` does: with
/// 10.96.0.0/12 the static band is 10.96.0.1-10.96.1.0 and dynamic allocation starts in
/// 10.96.1.1-10.111.255.254.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIpAllocator {
    cidr: Ipv4Net,
    first: u32,
    /// Usable addresses (network and broadcast excluded).
    size: u32,
    range_offset: u32,
    used: BTreeSet<u32>,
}

impl ClusterIpAllocator {
    pub fn new(cidr: Ipv4Net) -> Self {
        let cidr = cidr.trunc();
        let total = 1u64 << (32 - cidr.prefix_len());
        // Network and broadcast addresses are never handed out (ipallocator.go NewIPAllocator).
        let size = total.saturating_sub(2) as u32;
        let range_offset = cluster_ip_range_offset(cidr).min(size);
        ClusterIpAllocator {
            cidr,
            first: u32::from(cidr.network()).wrapping_add(1),
            size,
            range_offset,
            used: BTreeSet::new(),
        }
    }

    pub fn cidr(&self) -> Ipv4Net {
        self.cidr
    }

    /// The first usable address (10.96.0.1), given to `default/kubernetes`.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first)
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u32::from(ip);
        (v >= self.first && v - self.first < self.size).then(|| v - self.first)
    }

    /// Reserves a user-given address, anywhere in the range if free.
    pub fn allocate(&mut self, ip: Ipv4Addr) -> Result<(), AllocError> {
        let off = self.offset(ip).ok_or(AllocError::IpNotInRange {
            ip,
            range: self.cidr,
        })?;
        if !self.used.insert(off) {
            return Err(AllocError::IpAllocated);
        }
        Ok(())
    }

    /// A random free address of the upper band; the lower band only when the upper is full.
    pub fn allocate_next(&mut self, rng: &mut impl Rng) -> Result<Ipv4Addr, AllocError> {
        let upper = self.size - self.range_offset;
        if upper == 0 {
            return Err(AllocError::Full);
        }
        let start = rng.random_range(0..upper);
        if let Some(off) = scan(self.range_offset, upper, start, |o| self.used.contains(&o)) {
            self.used.insert(off);
            return Ok(Ipv4Addr::from(self.first + off));
        }
        if self.range_offset != 0 {
            let start = rng.random_range(0..self.range_offset);
            if let Some(off) = scan(0, self.range_offset, start, |o| self.used.contains(&o)) {
                self.used.insert(off);
                return Ok(Ipv4Addr::from(self.first + off));
            }
        }
        Err(AllocError::Full)
    }

    /// Frees `ip`; releasing an address not held is a no-op, as upstream.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(off) = self.offset(ip) {
            self.used.remove(&off);
        }
    }

    pub fn has(&self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some_and(|o| self.used.contains(&o))
    }

    pub fn used(&self) -> usize {
        self.used.len()
    }
}

/// Scans `len` offsets from `base`, starting `start` in and wrapping inside the band, for the
/// first one that is not `taken` (upstream's random-scan loop).
fn scan(base: u32, len: u32, start: u32, taken: impl Fn(u32) -> bool) -> Option<u32> {
    (0..len)
        .map(|i| base + (start + i) % len)
        .find(|&o| !taken(o))
}

/// Allocates NodePorts from `first..=last` (default 30000-32767).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePortAllocator {
    first: u16,
    last: u16,
    offset: u32,
    bits: Vec<u64>,
}

impl Default for NodePortAllocator {
    /// The default `--service-node-port-range`.
    fn default() -> Self {
        let r = crate::net::config::NodePortRange::default();
        NodePortAllocator::new(r.first, r.last)
    }
}

impl NodePortAllocator {
    /// A range `first..=last`; an inverted range holds no ports.
    pub fn new(first: u16, last: u16) -> Self {
        let size = if last >= first {
            u32::from(last - first) + 1
        } else {
            0
        };
        NodePortAllocator {
            first,
            last,
            offset: node_port_range_offset(size),
            bits: vec![0; (size as usize).div_ceil(64)],
        }
    }

    fn size(&self) -> u32 {
        if self.last >= self.first {
            u32::from(self.last - self.first) + 1
        } else {
            0
        }
    }

    fn is_set(&self, o: u32) -> bool {
        self.bits[(o / 64) as usize] & (1 << (o % 64)) != 0
    }

    fn set(&mut self, o: u32, v: bool) {
        let w = &mut self.bits[(o / 64) as usize];
        if v {
            *w |= 1 << (o % 64);
        } else {
            *w &= !(1 << (o % 64));
        }
    }

    fn offset_of(&self, port: u16) -> Option<u32> {
        (port >= self.first && port <= self.last && self.size() > 0)
            .then(|| u32::from(port - self.first))
    }

    /// Reserves a user-given port.
    pub fn allocate(&mut self, port: u16) -> Result<(), AllocError> {
        let o = self.offset_of(port).ok_or(AllocError::PortNotInRange {
            port,
            first: self.first,
            last: self.last,
        })?;
        if self.is_set(o) {
            return Err(AllocError::PortAllocated);
        }
        self.set(o, true);
        Ok(())
    }

    /// A random free port of the upper band (30086-32767 by default), then of the lower band.
    pub fn allocate_next(&mut self, rng: &mut impl Rng) -> Result<u16, AllocError> {
        let size = self.size();
        let upper = size - self.offset;
        if upper > 0 {
            let start = rng.random_range(0..upper);
            if let Some(o) = scan(self.offset, upper, start, |o| self.is_set(o)) {
                self.set(o, true);
                return Ok(self.first + o as u16);
            }
        }
        if self.offset > 0 {
            let start = rng.random_range(0..self.offset);
            if let Some(o) = scan(0, self.offset, start, |o| self.is_set(o)) {
                self.set(o, true);
                return Ok(self.first + o as u16);
            }
        }
        Err(AllocError::Full)
    }

    /// Frees `port`; a port not held or out of range is a no-op.
    pub fn release(&mut self, port: u16) {
        if let Some(o) = self.offset_of(port) {
            self.set(o, false);
        }
    }

    pub fn has(&self, port: u16) -> bool {
        self.offset_of(port).is_some_and(|o| self.is_set(o))
    }
}

/// The load-balancer address pool (`spec.cluster.loadBalancerIPs`): its host addresses handed
/// out lowest free first (kubesim's model of a bare-metal load balancer, docs/fidelity.md).
/// The range is never enumerated: only the addresses in use are held, so `0.0.0.0/0` costs
/// what a `/28` costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerPool {
    /// The first host address.
    first: u32,
    /// Host addresses in the pool (at most 2^32).
    size: u64,
    /// Offsets from `first` in use.
    used: BTreeSet<u32>,
    /// No offset below this is free.
    low: u64,
}

impl LoadBalancerPool {
    /// The hosts of `net`: without the network and broadcast addresses, except in a /31 or
    /// /32, whose every address is a host (as `ipnet`'s `hosts` counts them).
    pub fn new(net: Ipv4Net) -> Self {
        let net = net.trunc();
        let total = 1u64 << (32 - net.prefix_len());
        let (first, size) = if net.prefix_len() >= 31 {
            (u32::from(net.network()), total)
        } else {
            (u32::from(net.network()) + 1, total - 2)
        };
        LoadBalancerPool {
            first,
            size,
            used: BTreeSet::new(),
            low: 0,
        }
    }

    /// The lowest free address, now taken; `None` when every address is in use.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        while self.low < self.size && self.used.contains(&(self.low as u32)) {
            self.low += 1;
        }
        if self.low >= self.size {
            return None;
        }
        let off = self.low as u32;
        self.used.insert(off);
        self.low += 1;
        Some(Ipv4Addr::from(self.first + off))
    }

    /// Takes `ip` if it is in the pool and free; whether it was.
    pub fn take(&mut self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some_and(|o| self.used.insert(o))
    }

    /// Frees `ip`; an address not held or not in the pool is a no-op.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(o) = self.offset(ip) {
            if self.used.remove(&o) {
                self.low = self.low.min(u64::from(o));
            }
        }
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u64::from(u32::from(ip));
        let first = u64::from(self.first);
        (v >= first && v - first < self.size).then(|| (v - first) as u32)
    }

    /// Addresses in use.
    pub fn used(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn band_offsets() {
        assert_eq!(
            cluster_ip_range_offset("10.96.0.0/12".parse().unwrap()),
            256
        );
        assert_eq!(cluster_ip_range_offset("10.0.0.0/24".parse().unwrap()), 16);
        assert_eq!(cluster_ip_range_offset("10.0.0.0/28".parse().unwrap()), 0);
        assert_eq!(node_port_range_offset(2768), 86);
    }

    #[test]
    fn cluster_ip_static_and_errors() {
        let mut a = ClusterIpAllocator::new("10.96.0.0/12".parse().unwrap());
        assert_eq!(a.first(), ip("10.96.0.1"));
        a.allocate(ip("10.96.0.10")).unwrap();
        let err = a.allocate(ip("10.96.0.10")).unwrap_err();
        assert_eq!(
            cluster_ip_field_error(ip("10.96.0.10"), &err),
            "spec.clusterIPs: Invalid value: [\"10.96.0.10\"]: failed to allocate IP 10.96.0.10: provided IP is already allocated"
        );
        let err = a.allocate(ip("10.0.0.5")).unwrap_err();
        assert_eq!(
            cluster_ip_field_error(ip("10.0.0.5"), &err),
            "spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to allocate IP 10.0.0.5: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
        );
        // Network and broadcast are out of range.
        assert!(a.allocate(ip("10.96.0.0")).is_err());
        assert!(a.allocate(ip("10.111.255.255")).is_err());
        a.allocate(ip("10.111.255.254")).unwrap();
    }

    #[test]
    fn cluster_ip_dynamic_prefers_upper_band() {
        let mut a = ClusterIpAllocator::new("10.96.0.0/12".parse().unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let lower_end = u32::from(ip("10.96.1.0"));
        for _ in 0..1000 {
            let got = a.allocate_next(&mut rng).unwrap();
            assert!(u32::from(got) > lower_end, "{got} in the static band");
        }
        assert_eq!(a.used(), 1000);
    }

    #[test]
    fn small_range_fills_upper_then_lower_then_full() {
        // /27: 30 usable, offset 16, upper band 14 addresses.
        let mut a = ClusterIpAllocator::new("10.0.0.0/27".parse().unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut got: Vec<u32> = (0..30)
            .map(|_| u32::from(a.allocate_next(&mut rng).unwrap()))
            .collect();
        let first_upper: Vec<u32> = got[..14].to_vec();
        assert!(first_upper.iter().all(|&v| v >= u32::from(ip("10.0.0.17"))));
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 30);
        assert_eq!(a.allocate_next(&mut rng), Err(AllocError::Full));
        a.release(ip("10.0.0.3"));
        assert_eq!(a.allocate_next(&mut rng), Ok(ip("10.0.0.3")));
    }

    #[test]
    fn node_port_errors_and_bands() {
        let mut p = NodePortAllocator::default();
        let err = p.allocate(29999).unwrap_err();
        assert_eq!(
            node_port_field_error(0, 29999, &err),
            "spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        p.allocate(30080).unwrap();
        let err = p.allocate(30080).unwrap_err();
        assert_eq!(
            node_port_field_error(0, 30080, &err),
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let port = p.allocate_next(&mut rng).unwrap();
            assert!((30086..=32767).contains(&port));
        }
        p.release(30080);
        assert!(!p.has(30080));
    }

    /// The issue's `loadBalancerIPs: 0.0.0.0/0` enumerated 2^32 addresses (16 GiB) before
    /// the first Service: the pool now holds only what is in use.
    #[test]
    fn load_balancer_pool_is_never_enumerated() {
        let mut all = LoadBalancerPool::new("0.0.0.0/0".parse().unwrap());
        assert_eq!(all.allocate(), Some(ip("0.0.0.1")));
        assert_eq!(all.allocate(), Some(ip("0.0.0.2")));
        assert_eq!(all.used(), 2);
        let mut p = LoadBalancerPool::new("192.168.0.240/30".parse().unwrap());
        assert_eq!(p.allocate(), Some(ip("192.168.0.241")));
        assert_eq!(p.allocate(), Some(ip("192.168.0.242")));
        assert_eq!(p.allocate(), None, "network and broadcast are not hosts");
        p.release(ip("192.168.0.241"));
        assert_eq!(p.allocate(), Some(ip("192.168.0.241")), "lowest free first");
        p.release(ip("10.0.0.1"));
        assert!(!p.take(ip("192.168.0.242")), "in use");
        let mut one = LoadBalancerPool::new("10.1.1.1/32".parse().unwrap());
        assert_eq!(one.allocate(), Some(ip("10.1.1.1")));
        assert_eq!(one.allocate(), None);
        let mut two = LoadBalancerPool::new("10.1.1.0/31".parse().unwrap());
        assert_eq!(two.allocate(), Some(ip("10.1.1.0")));
        assert_eq!(two.allocate(), Some(ip("10.1.1.1")));
        // The same addresses `ipnet`'s `hosts` lists, in the same order.
        let net: Ipv4Net = "10.2.0.0/28".parse().unwrap();
        let mut q = LoadBalancerPool::new(net);
        let got: Vec<Ipv4Addr> = std::iter::from_fn(|| q.allocate()).collect();
        assert_eq!(got, net.hosts().collect::<Vec<_>>());
    }

    #[test]
    fn node_ports_exhaust_upper_band_first() {
        let mut p = NodePortAllocator::default();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..(32767 - 30086 + 1) {
            assert!(p.allocate_next(&mut rng).unwrap() >= 30086);
        }
        for _ in 0..86 {
            assert!(p.allocate_next(&mut rng).unwrap() < 30086);
        }
        assert_eq!(p.allocate_next(&mut rng), Err(AllocError::Full));
    }
}
