//! Which endpoints of a service port a node's proxy may use.
//!
//! A port of upstream's `CategorizeEndpoints` (`pkg/proxy/topology.go`): the usable endpoints
//! are the Ready ones, and only when there is no Ready one, the serving-and-terminating ones;
//! the cluster-wide set and the node-local set fall back independently. The cluster-wide set
//! follows the endpoints' topology hints ([`HintView`], `topologyModeFromHints`): only the
//! endpoints hinted for this node (`PreferSameNode`) or this node's zone (`PreferSameZone`),
//! when every Ready endpoint carries such a hint and at least one is for this node or zone;
//! otherwise every endpoint. The sets are only computed for the traffic
//! policies the service port actually uses (`UsesClusterEndpoints` / `UsesLocalEndpoints`,
//! `pkg/proxy/serviceport.go`). Results are indices into the caller's slice, in its order.
//! This module knows nothing of rules or packets.

/// The conditions of one endpoint as kube-proxy sees them.
pub trait EndpointConditions {
    fn is_ready(&self) -> bool;
    fn is_serving(&self) -> bool;
    fn is_terminating(&self) -> bool;
    /// Runs on the node whose proxy is asking.
    fn is_local(&self) -> bool;
    /// Its topology hints as the asking node reads them; none by default.
    fn hints(&self) -> HintView {
        HintView::default()
    }
}

/// One kind of topology hint (`forZones` or `forNodes`) of an endpoint, as a given node's
/// kube-proxy reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Hint {
    /// The endpoint carries no such hint.
    #[default]
    None,
    /// Hinted for another zone (or node).
    Other,
    /// Hinted for the asking node's zone (or the node itself).
    Here,
}

/// An endpoint's zone and node hints as a given node's kube-proxy reads them: whether it has
/// each kind and whether that names this node's zone (or this node). A node without the
/// `topology.kubernetes.io/zone` label matches no zone hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HintView {
    pub zone: Hint,
    pub node: Hint,
}

/// `topologyModeFromHints`: which hints the asking node follows, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopologyMode {
    All,
    SameNode,
    SameZone,
}

fn topology_mode<E: EndpointConditions>(endpoints: &[E]) -> TopologyMode {
    let (mut any_ready, mut all_node, mut node_here, mut all_zone, mut zone_here) =
        (false, true, false, true, false);
    for e in endpoints.iter().filter(|e| e.is_ready()) {
        any_ready = true;
        let h = e.hints();
        all_node &= h.node != Hint::None;
        node_here |= h.node == Hint::Here;
        all_zone &= h.zone != Hint::None;
        zone_here |= h.zone == Hint::Here;
    }
    if !any_ready {
        TopologyMode::All
    } else if all_node && node_here {
        // Node hints exist only with the `PreferSameTrafficDistribution` gate (on in 1.34).
        TopologyMode::SameNode
    } else if all_zone && zone_here {
        TopologyMode::SameZone
    } else {
        TopologyMode::All
    }
}

/// The traffic policies of a service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrafficPolicies {
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local` (only meaningful when externally accessible).
    pub external_local: bool,
    /// Has a NodePort, external IPs or load-balancer IPs (`ExternallyAccessible`).
    pub externally_accessible: bool,
}

impl TrafficPolicies {
    /// `UsesClusterEndpoints`: Cluster internal policy, or any external access (Local external
    /// policy still needs Cluster endpoints for short-circuited pod traffic).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_local || self.externally_accessible
    }

    /// `UsesLocalEndpoints`.
    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_local || (self.external_local && self.externally_accessible)
    }
}

/// The outcome of [`categorize_endpoints`]; indices into the input slice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Categorized {
    /// Usable endpoints for Cluster policy; `None` when the port never uses Cluster policy.
    pub cluster: Option<Vec<usize>>,
    /// Usable node-local endpoints for Local policy; `None` when the port never uses it.
    pub local: Option<Vec<usize>>,
    /// The union of the two, in input order: every endpoint this node may route to.
    pub all_reachable: Vec<usize>,
    /// Whether any usable endpoint exists anywhere in the cluster.
    pub has_any: bool,
}

/// Upstream's `CategorizeEndpoints`.
pub fn categorize_endpoints<E: EndpointConditions>(
    endpoints: &[E],
    policies: TrafficPolicies,
) -> Categorized {
    let mut out = Categorized::default();
    if endpoints.is_empty() {
        return out;
    }
    let filter = |pred: &dyn Fn(&E) -> bool| -> Vec<usize> {
        endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| pred(e))
            .map(|(i, _)| i)
            .collect()
    };
    let mut use_serving_terminating = false;
    let mut topology = TopologyMode::All;

    if policies.uses_cluster_endpoints() {
        topology = topology_mode(endpoints);
        // `availableForTopology`: no fallback here; it happened in choosing the mode.
        let mut cluster = filter(&|e| {
            e.is_ready()
                && match topology {
                    TopologyMode::All => true,
                    TopologyMode::SameNode => e.hints().node == Hint::Here,
                    TopologyMode::SameZone => e.hints().zone == Hint::Here,
                }
        });
        if cluster.is_empty() {
            cluster = filter(&|e| e.is_serving() && e.is_terminating());
        }
        out.has_any = !cluster.is_empty();
        out.cluster = Some(cluster);
    }

    if !policies.uses_local_endpoints() {
        out.all_reachable = out.cluster.clone().unwrap_or_default();
        return out;
    }

    let mut has_local_ready = false;
    let mut has_local_serving_terminating = false;
    for e in endpoints {
        if e.is_ready() {
            out.has_any = true;
            has_local_ready |= e.is_local();
        } else if e.is_serving() && e.is_terminating() {
            out.has_any = true;
            has_local_serving_terminating |= e.is_local();
        }
    }
    let local = if has_local_ready {
        filter(&|e| e.is_local() && e.is_ready())
    } else if has_local_serving_terminating {
        use_serving_terminating = true;
        filter(&|e| e.is_local() && e.is_serving() && e.is_terminating())
    } else {
        Vec::new()
    };
    out.local = Some(local.clone());

    let Some(cluster) = out.cluster.clone() else {
        out.all_reachable = local;
        return out;
    };
    if topology == TopologyMode::All && !use_serving_terminating {
        // Local holds only Ready endpoints, all of which are in the cluster set.
        out.all_reachable = cluster;
        return out;
    }
    let mut all: Vec<usize> = cluster.into_iter().chain(local).collect();
    all.sort_unstable();
    all.dedup();
    out.all_reachable = all;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct Ep {
        ready: bool,
        serving: bool,
        terminating: bool,
        local: bool,
        hints: HintView,
    }

    impl EndpointConditions for Ep {
        fn is_ready(&self) -> bool {
            self.ready
        }
        fn is_serving(&self) -> bool {
            self.serving
        }
        fn is_terminating(&self) -> bool {
            self.terminating
        }
        fn is_local(&self) -> bool {
            self.local
        }
        fn hints(&self) -> HintView {
            self.hints
        }
    }

    const READY: Ep = Ep {
        ready: true,
        serving: true,
        terminating: false,
        local: false,
        hints: HintView {
            zone: Hint::None,
            node: Hint::None,
        },
    };
    const TERMINATING: Ep = Ep {
        ready: false,
        serving: true,
        terminating: true,
        local: false,
        hints: HintView {
            zone: Hint::None,
            node: Hint::None,
        },
    };
    const DEAD: Ep = Ep {
        ready: false,
        serving: false,
        terminating: true,
        local: false,
        hints: HintView {
            zone: Hint::None,
            node: Hint::None,
        },
    };

    fn local(e: Ep) -> Ep {
        Ep { local: true, ..e }
    }

    const CLUSTER: TrafficPolicies = TrafficPolicies {
        internal_local: false,
        external_local: false,
        externally_accessible: false,
    };

    #[test]
    fn ready_only_when_any_ready() {
        let eps = [READY, TERMINATING, DEAD, local(READY)];
        let c = categorize_endpoints(&eps, CLUSTER);
        assert_eq!(c.cluster, Some(vec![0, 3]));
        assert_eq!(c.local, None);
        assert_eq!(c.all_reachable, vec![0, 3]);
        assert!(c.has_any);
    }

    #[test]
    fn falls_back_to_serving_terminating() {
        let eps = [TERMINATING, DEAD];
        let c = categorize_endpoints(&eps, CLUSTER);
        assert_eq!(c.cluster, Some(vec![0]));
        assert!(c.has_any);
        let c = categorize_endpoints(&[DEAD], CLUSTER);
        assert_eq!(c.cluster, Some(vec![]));
        assert!(!c.has_any);
    }

    #[test]
    fn local_falls_back_separately() {
        // A remote Ready endpoint and a local terminating one, external policy Local.
        let eps = [READY, local(TERMINATING)];
        let p = TrafficPolicies {
            internal_local: false,
            external_local: true,
            externally_accessible: true,
        };
        let c = categorize_endpoints(&eps, p);
        assert_eq!(c.cluster, Some(vec![0]));
        assert_eq!(c.local, Some(vec![1]));
        assert_eq!(c.all_reachable, vec![0, 1]);
        assert!(c.has_any);
    }

    #[test]
    fn internal_local_without_external_access() {
        let eps = [READY, local(READY)];
        let p = TrafficPolicies {
            internal_local: true,
            external_local: false,
            externally_accessible: false,
        };
        let c = categorize_endpoints(&eps, p);
        assert_eq!(c.cluster, None);
        assert_eq!(c.local, Some(vec![1]));
        assert_eq!(c.all_reachable, vec![1]);
        let c = categorize_endpoints(&[READY], p);
        assert_eq!(c.local, Some(vec![]));
        assert!(c.has_any, "a remote ready endpoint still counts");
    }

    #[test]
    fn empty() {
        let c = categorize_endpoints::<Ep>(&[], CLUSTER);
        assert_eq!(c, Categorized::default());
    }

    fn zone(e: Ep, zone: Hint) -> Ep {
        Ep {
            hints: HintView { zone, ..e.hints },
            ..e
        }
    }

    fn node(e: Ep, node: Hint) -> Ep {
        Ep {
            hints: HintView { node, ..e.hints },
            ..e
        }
    }

    #[test]
    fn same_zone_hints_keep_this_zone_endpoints() {
        use Hint::{Here, Other};
        let eps = [zone(READY, Here), zone(READY, Other), zone(READY, Here)];
        let c = categorize_endpoints(&eps, CLUSTER);
        assert_eq!(c.cluster, Some(vec![0, 2]));
        assert_eq!(c.all_reachable, vec![0, 2]);
        // Terminating and not-ready endpoints need no hint.
        let eps = [zone(READY, Here), TERMINATING, DEAD, zone(READY, Other)];
        assert_eq!(categorize_endpoints(&eps, CLUSTER).cluster, Some(vec![0]));
    }

    #[test]
    fn zone_hints_fall_back_to_every_endpoint() {
        use Hint::{Here, Other};
        // A ready endpoint without a hint: hints ignored.
        let eps = [zone(READY, Here), READY, zone(READY, Other)];
        assert_eq!(
            categorize_endpoints(&eps, CLUSTER).cluster,
            Some(vec![0, 1, 2])
        );
        // No endpoint for this zone (or a node without a zone): hints ignored.
        let eps = [zone(READY, Other), zone(READY, Other)];
        assert_eq!(
            categorize_endpoints(&eps, CLUSTER).cluster,
            Some(vec![0, 1])
        );
        // Only terminating endpoints: they serve whatever their hints.
        let eps = [zone(TERMINATING, Other), zone(TERMINATING, Here)];
        assert_eq!(
            categorize_endpoints(&eps, CLUSTER).cluster,
            Some(vec![0, 1])
        );
    }

    #[test]
    fn node_hints_come_before_zone_hints() {
        use Hint::{Here, Other};
        let both = |z, n| node(zone(READY, z), n);
        let eps = [both(Here, Other), both(Here, Here), both(Other, Other)];
        assert_eq!(categorize_endpoints(&eps, CLUSTER).cluster, Some(vec![1]));
        // No endpoint on this node: the zone's.
        let eps = [both(Here, Other), both(Other, Other)];
        assert_eq!(categorize_endpoints(&eps, CLUSTER).cluster, Some(vec![0]));
    }

    #[test]
    fn local_policy_ignores_hints_and_merges_with_zone_endpoints() {
        use Hint::{Here, Other};
        // External Local: the local endpoint (in another zone's hints) stays reachable.
        let eps = [zone(READY, Here), local(zone(READY, Other))];
        let p = TrafficPolicies {
            internal_local: false,
            external_local: true,
            externally_accessible: true,
        };
        let c = categorize_endpoints(&eps, p);
        assert_eq!(c.cluster, Some(vec![0]));
        assert_eq!(c.local, Some(vec![1]));
        assert_eq!(c.all_reachable, vec![0, 1]);
    }
}
