//! How long kube-proxy takes to program a sync into a node's kernel, as a function of the size
//! of what it programs: the reason endpoint changes reach the nodes of a big iptables cluster
//! later, and the reason for nftables mode (KEP-3866).
//!
//! - **iptables**: `iptables-restore` hands the kernel the whole `nat` table on every sync,
//!   partial or not (a partial sync, KEP-3453, writes fewer lines, but iptables-legacy replaces
//!   the table whole), so the time grows with the rules in the table. Measured: a partial sync
//!   of a node with 3,595 Services and 138,792 endpoints took 2.84 s (kubernetes/kubernetes
//!   issue #138073, `"SyncProxyRules complete" elapsed="2.837692607s"`). kubesim writes about
//!   423,600 rules for that cluster (3 per endpoint, 2 per service port), so
//!   [`IPTABLES_PER_RULE`] is 6.7 µs.
//! - **nftables**: kube-proxy sends only the changed chains and map elements in one
//!   transaction, but lists the table's chains and sets on every sync, so the time grows with
//!   the number of Services: adding one Service to 10,000 took about 141 ms once partial syncs
//!   landed (kubernetes/kubernetes PR #126013), [`NFTABLES_PER_SERVICE_PORT`] 14.1 µs.
//! - **IPVS**: not modelled (programmed at once): its syncs are netlink calls per changed
//!   virtual and real server, and no measurement of their time against cluster size was found.
//!
//! Only the part that grows with the cluster is modelled: the fixed cost of a sync (starting
//! `iptables-restore`, about 0.1-0.2 s in small clusters' logs, e.g. PR #111219's 176 ms for
//! 117 Services) is left out, so that a lesson's small cluster programs its rules as soon as
//! they change, as it did before this model (docs/fidelity.md says so).

use super::config::ProxyMode;
use crate::engine::SimDuration;

/// Time per rule of the `nat` and `filter` tables an iptables-mode sync loads (issue #138073:
/// 2.84 s for about 423,600 rules).
pub const IPTABLES_PER_RULE: SimDuration = SimDuration::from_nanos(6_700);

/// Time per service port an nftables-mode sync lists (PR #126013: about 141 ms with 10,000
/// Services).
pub const NFTABLES_PER_SERVICE_PORT: SimDuration = SimDuration::from_nanos(14_100);

/// How big a node's rules are after a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RulesetSize {
    /// Rules of iptables mode's `nat` and `filter` tables, fixed chains included.
    pub iptables_rules: usize,
    /// Service ports with a ClusterIP.
    pub service_ports: usize,
}

/// How long a sync of rules of `size` takes to reach the kernel in `mode`.
pub fn sync_duration(mode: ProxyMode, size: RulesetSize) -> SimDuration {
    match mode {
        ProxyMode::Iptables => IPTABLES_PER_RULE.saturating_mul(size.iptables_rules as u64),
        ProxyMode::Nftables => NFTABLES_PER_SERVICE_PORT.saturating_mul(size.service_ports as u64),
        ProxyMode::Ipvs => SimDuration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measurements_the_constants_come_from() {
        // Issue #138073's node: 3,595 Services, 138,792 endpoints, 3 rules per endpoint and
        // 2 per service port: 2.84 s.
        let rules = 3 * 138_792 + 2 * 3_595;
        let d = sync_duration(
            ProxyMode::Iptables,
            RulesetSize {
                iptables_rules: rules,
                service_ports: 3_595,
            },
        );
        assert!((2.80..2.88).contains(&d.as_secs_f64()), "{d}");
        // PR #126013: one Service added to 10,000: about 141 ms.
        let d = sync_duration(
            ProxyMode::Nftables,
            RulesetSize {
                iptables_rules: 0,
                service_ports: 10_000,
            },
        );
        assert_eq!(d, SimDuration::from_millis(141));
        assert_eq!(
            sync_duration(ProxyMode::Ipvs, RulesetSize::default()),
            SimDuration::ZERO
        );
    }
}
