//! Addressing, EndpointSlices, kube-proxy's data planes, DNS and packet paths.
//!
//! - [`config`]: the network settings of the scenario's `spec.cluster`.
//! - [`ipam`]: node pod CIDRs and the host-local pod IP allocator.
//! - [`allocator`]: the API server's ClusterIP and NodePort allocators and their errors.
//! - [`topology`]: which endpoints of a service port a node's proxy may use.
//! - [`conntrack`]: a UDP flow's conntrack entry and its timeouts.
//! - [`dns`]: how a pod's resolver turns a name into a Service.
//! - [`neigh`]: the timing of an address nobody answers ARP for (a vanished pod).
//! - [`hash`]: kube-proxy's chain-name hashes.
//! - [`iptables`]: kube-proxy's iptables-mode rules as data, printed as `iptables-save`
//!   prints them and walked to route a packet; held once for every node as shared pieces
//!   ([`iptables::shared`]).
//! - [`nftables`]: kube-proxy's nftables-mode table as data, printed as `nft list ruleset`
//!   prints it and walked to route a packet.
//! - [`ipvs`]: kube-proxy's IPVS mode: virtual servers, real servers and the kernel's
//!   schedulers with their connection counts, printed as `ipvsadm -Ln` prints them.
//! - [`ipvs_rules`]: the ipsets and iptables rules an IPVS-mode node holds besides its
//!   virtual servers, printed as `ipset save` and `iptables-save` print them.
//! - [`portmap`]: the CNI portmap plugin's nat chains for `hostPort`, merged into a node's
//!   `iptables-save` text.
//! - [`policy`]: NetworkPolicy semantics: which connections the policies allow, and why.
//! - [`sync_time`]: how long a sync takes to reach the kernel, by mode and ruleset size.
//!
//! Knows nothing of YAML or files.

pub mod allocator;
pub mod config;
pub mod conntrack;
pub mod dns;
pub mod hash;
pub mod ipam;
pub mod iptables;
pub mod ipvs;
pub mod ipvs_rules;
pub mod neigh;
pub mod nftables;
pub mod policy;
pub mod portmap;
pub mod sync_time;
// Fixtures for kube-proxy input, public for the integration tests; not kubesim's API.
#[doc(hidden)]
pub mod testkit;
pub mod topology;
