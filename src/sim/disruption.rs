//! The node lifecycle controller's zones, disruption modes and rate-limited `NoExecute`
//! tainting (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`).
//!
//! Every monitor pass (5 s) a node that is not Ready is queued in its zone's tainting queue
//! (`markNodeForTainting`) and a Ready one leaves it and loses its taint
//! (`markNodeAsReachable`); then `handleDisruption` gives each zone a state from its nodes'
//! Ready conditions (`ComputeZoneState`):
//!
//! - fully disrupted: no node Ready;
//! - partially disrupted: more than 2 nodes and at least 55% of them not Ready
//!   (`--unhealthy-zone-threshold`);
//! - normal otherwise;
//!
//! and each zone's tainting rate from its state (`setLimiterInZone`): normal 0.1 node/s
//! (`--node-eviction-rate`), partial 0.01 node/s (`--secondary-node-eviction-rate`) in a zone
//! of more than 50 nodes (`--large-cluster-size-threshold`) and none in a smaller one
//! (`ReducedQPSFunc`), fully disrupted the normal rate (`HealthyQPSFunc`). When every zone is
//! fully disrupted (every node NotReady, as in a one-node cluster) the controller enters
//! "master disruption mode": it removes every node's taint, stops all tainting and evicts
//! nothing, until a node is Ready again.
//!
//! The tainting pass (`doNoExecuteTaintingPass`, every 100 ms) taints the queued nodes of
//! each zone in queue order, each taking a token of the zone's bucket (burst 1), so at most one
//! node per 10 s per zone at the normal rate. A tainted node's pods are evicted once their
//! toleration of `node.kubernetes.io/unreachable:NoExecute` runs out (`tainteviction`; the
//! `DefaultTolerationSeconds` admission plugin gives every pod 300 s). Here the pass runs in
//! the same instant as the monitor pass that queued a node, then at the 100 ms tick when the
//! next token is due, instead of every 100 ms.
//!
//! A node's zone key is its `topology.kubernetes.io/region` and `topology.kubernetes.io/zone`
//! labels (`GetZoneKey`); nodes with neither form one zone.

use super::{Ev, Simulation};
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{NodeId, PodId};
use std::collections::VecDeque;

/// `--node-eviction-rate` 0.1 node/s: one node per 10 s
/// (kube-controller-manager flag defaults,
/// `cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go`).
pub const NODE_EVICTION_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// `--secondary-node-eviction-rate` 0.01 node/s: one node per 100 s (same flags).
pub const SECONDARY_EVICTION_INTERVAL: SimDuration = SimDuration::from_secs(100);
/// `--large-cluster-size-threshold` 50 nodes (same flags).
pub const LARGE_CLUSTER_SIZE_THRESHOLD: usize = 50;
/// `--unhealthy-zone-threshold` 0.55 (same flags), as hundredths.
pub const UNHEALTHY_ZONE_THRESHOLD_PERCENT: usize = 55;
/// `nodeEvictionPeriod` 100 ms: how often the tainting pass runs
/// (`node_lifecycle_controller.go`).
pub const NODE_EVICTION_PERIOD: SimDuration = SimDuration::from_millis(100);

/// `ZoneState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    Initial,
    Normal,
    FullDisruption,
    PartialDisruption,
}

/// One zone's tainting queue and its token bucket (burst 1).
#[derive(Debug, Clone)]
struct ZoneTainter {
    state: ZoneState,
    /// Time between tokens; `None`: never (`NewFakeNeverRateLimiter`).
    interval: Option<SimDuration>,
    /// When the last token was taken (`None`: the bucket is full).
    last_accept: Option<SimTime>,
    /// Queued nodes, in the order they were queued.
    queue: VecDeque<NodeId>,
}

impl ZoneTainter {
    fn has_token(&self, now: SimTime) -> bool {
        match (self.interval, self.last_accept) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(i), Some(a)) => now >= a + i,
        }
    }

    /// `TryAccept`.
    fn try_accept(&mut self, now: SimTime) -> bool {
        let ok = self.has_token(now);
        if ok {
            self.last_accept = Some(now);
        }
        ok
    }

    /// `SwapLimiter`: a new bucket at the new rate, drained if the old one had no token.
    fn swap_limiter(&mut self, interval: Option<SimDuration>, now: SimTime) {
        if interval == self.interval {
            return;
        }
        let drained = interval.is_some() && !self.has_token(now);
        self.interval = interval;
        self.last_accept = drained.then_some(now);
    }

    /// When its next token is due, if it has queued nodes and a rate.
    fn next_token(&self) -> Option<SimTime> {
        if self.queue.is_empty() {
            return None;
        }
        let i = self.interval?;
        Some(self.last_accept.map_or(SimTime::ZERO, |a| a + i))
    }
}

/// The controller's zones, their states and queues, and each node's `NoExecute` taint.
#[derive(Debug, Clone)]
pub(super) struct Disruption {
    zone_of: Vec<u32>,
    /// Each zone's (region, zone) labels, by zone index.
    keys: Vec<(String, String)>,
    zones: Vec<ZoneTainter>,
    /// Since when each node has the controller's `NoExecute` taint.
    tainted_since: Vec<Option<SimTime>>,
    /// Whether each node is in its zone's queue (upstream's queue keeps a node in its set
    /// after tainting it until it is Ready again: one taint per outage).
    queued: Vec<bool>,
    /// The next tainting pass scheduled, if any.
    pass_at: Option<SimTime>,
}

impl Disruption {
    pub fn new(nodes: &[crate::model::config::NodeConfig]) -> Disruption {
        let mut keys: Vec<(String, String)> = nodes.iter().map(key).collect();
        keys.sort();
        keys.dedup();
        let zone_of = nodes
            .iter()
            .map(|n| keys.binary_search(&key(n)).expect("listed") as u32)
            .collect();
        let zone = ZoneTainter {
            state: ZoneState::Initial,
            interval: Some(NODE_EVICTION_INTERVAL),
            last_accept: None,
            queue: VecDeque::new(),
        };
        Disruption {
            zone_of,
            zones: vec![zone; keys.len()],
            keys,
            tainted_since: vec![None; nodes.len()],
            queued: vec![false; nodes.len()],
            pass_at: None,
        }
    }

    /// A node joined (the last one): it goes into its zone, a new zone if its labels name
    /// one no node had.
    pub fn add_node(&mut self, cfg: &crate::model::config::NodeConfig) {
        let k = key(cfg);
        let z = match self.keys.iter().position(|x| *x == k) {
            Some(z) => z,
            None => {
                self.keys.push(k);
                self.zones.push(ZoneTainter {
                    state: ZoneState::Initial,
                    interval: Some(NODE_EVICTION_INTERVAL),
                    last_accept: None,
                    queue: VecDeque::new(),
                });
                self.zones.len() - 1
            }
        };
        self.zone_of.push(z as u32);
        self.tainted_since.push(None);
        self.queued.push(false);
    }

    /// Since when `node` carries the `NoExecute` taint, if it does.
    pub fn tainted_since(&self, node: NodeId) -> Option<SimTime> {
        self.tainted_since[node.index()]
    }
}

/// A node's zone key: its region and zone labels.
fn key(n: &crate::model::config::NodeConfig) -> (String, String) {
    let get = |k: &str| n.labels.get(k).cloned().unwrap_or_default();
    (
        get("topology.kubernetes.io/region"),
        get("topology.kubernetes.io/zone"),
    )
}

/// `ComputeZoneState` for a zone of `ready` and `not_ready` nodes.
pub fn zone_state(ready: usize, not_ready: usize) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2
        && not_ready * 100 >= UNHEALTHY_ZONE_THRESHOLD_PERCENT * (ready + not_ready)
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// `setLimiterInZone`: the time between taints in a zone of `size` nodes in `state`.
pub fn zone_interval(state: ZoneState, size: usize) -> Option<SimDuration> {
    match state {
        ZoneState::PartialDisruption if size > LARGE_CLUSTER_SIZE_THRESHOLD => {
            Some(SECONDARY_EVICTION_INTERVAL)
        }
        ZoneState::PartialDisruption => None,
        _ => Some(NODE_EVICTION_INTERVAL),
    }
}

impl Simulation {
    /// The controller's half of a monitor pass, after the nodes' conditions were updated:
    /// queue or release each node, update the zones' states and rates, taint.
    pub(super) fn monitor_disruption(&mut self, now: SimTime) {
        let n = self.cluster.nodes.len();
        for i in 0..n {
            let node = NodeId(i as u32);
            let z = self.disruption.zone_of[i] as usize;
            if self.cluster.node(node).removed.is_some() {
                // A deleted node leaves the controller's lists.
                self.mark_reachable(node);
                continue;
            }
            if self.cluster.node(node).ready {
                self.mark_reachable(node);
            } else if !self.disruption.queued[i] {
                self.disruption.queued[i] = true;
                self.disruption.zones[z].queue.push_back(node);
            }
        }
        self.handle_disruption(now);
        self.taint_pass(now);
    }

    /// `markNodeAsReachable`: the taint goes, and the node leaves its zone's queue.
    fn mark_reachable(&mut self, node: NodeId) {
        let d = &mut self.disruption;
        d.tainted_since[node.index()] = None;
        if std::mem::take(&mut d.queued[node.index()]) {
            let z = d.zone_of[node.index()] as usize;
            d.zones[z].queue.retain(|n| *n != node);
        }
    }

    /// `handleDisruption`.
    fn handle_disruption(&mut self, now: SimTime) {
        let zones = self.disruption.zones.len();
        let (mut ready, mut not_ready) = (vec![0usize; zones], vec![0usize; zones]);
        for (i, n) in self.cluster.nodes.iter().enumerate() {
            let z = self.disruption.zone_of[i] as usize;
            if n.removed.is_some() {
                continue;
            }
            if n.ready {
                ready[z] += 1;
            } else {
                not_ready[z] += 1;
            }
        }
        let new: Vec<ZoneState> = (0..zones)
            .map(|z| zone_state(ready[z], not_ready[z]))
            .collect();
        let full = |s: &ZoneState| *s == ZoneState::FullDisruption;
        let all_are = new.iter().all(full);
        let all_were = self.disruption.zones.iter().all(|z| full(&z.state));
        if all_are && all_were {
            return;
        }
        if all_are {
            // "Entering master disruption mode": every taint removed, no more tainting.
            for i in 0..self.cluster.nodes.len() {
                self.mark_reachable(NodeId(i as u32));
            }
            for z in &mut self.disruption.zones {
                z.swap_limiter(None, now);
                z.state = ZoneState::FullDisruption;
            }
            return;
        }
        for (z, state) in new.into_iter().enumerate() {
            let zone = &mut self.disruption.zones[z];
            // Leaving master disruption mode resets every zone; otherwise only those whose
            // state changed.
            if all_were || zone.state != state {
                zone.swap_limiter(zone_interval(state, ready[z] + not_ready[z]), now);
                zone.state = state;
            }
        }
    }

    /// `doNoExecuteTaintingPass`: each zone taints its queued nodes while it has tokens.
    pub(super) fn taint_pass(&mut self, now: SimTime) {
        if self.disruption.pass_at == Some(now) {
            self.disruption.pass_at = None;
        }
        for z in 0..self.disruption.zones.len() {
            while let Some(&node) = self.disruption.zones[z].queue.front() {
                if !self.disruption.zones[z].try_accept(now) {
                    break;
                }
                self.disruption.zones[z].queue.pop_front();
                // A node Ready again is not tainted (its token is spent all the same).
                if !self.cluster.node(node).ready {
                    self.disruption.tainted_since[node.index()] = Some(now);
                    self.node_tainted(now, node);
                }
            }
        }
        // The next pass: the 100 ms tick when the first token is due.
        let tick = NODE_EVICTION_PERIOD.as_nanos();
        let next = self
            .disruption
            .zones
            .iter()
            .filter_map(ZoneTainter::next_token)
            .min()
            .map(|t| {
                SimTime::from_nanos(t.as_nanos().max(now.as_nanos() + 1).div_ceil(tick) * tick)
            });
        if let Some(at) = next {
            if at <= self.end && self.disruption.pass_at.is_none_or(|p| at < p) {
                self.disruption.pass_at = Some(at);
                self.queue.schedule(at, Ev::TaintPass);
            }
        }
    }

    /// The node got `node.kubernetes.io/unreachable:NoExecute`: each of its pods is evicted
    /// when its toleration runs out.
    fn node_tainted(&mut self, now: SimTime, node: NodeId) {
        for id in self.cluster.pods_on(node) {
            if let Some(after) = self.unreachable_toleration(id) {
                self.queue.schedule(now + after, Ev::Evict(id));
            }
        }
    }

    /// How long pod `id` tolerates `node.kubernetes.io/unreachable:NoExecute`: its own
    /// toleration's seconds (`None`: forever), or the 300 s the `DefaultTolerationSeconds`
    /// admission plugin gives a pod without one.
    pub(super) fn unreachable_toleration(&self, id: PodId) -> Option<SimDuration> {
        const KEY: &str = "node.kubernetes.io/unreachable";
        let pod = self.cluster.pod(id);
        let tol = pod.spec.tolerations.iter().find(|t| {
            let key = match t.key.as_deref() {
                None | Some("") => t.operator_exists,
                Some(k) => k == KEY,
            };
            key && matches!(t.effect.as_deref(), None | Some("") | Some("NoExecute"))
        });
        match tol {
            None => Some(super::lifecycle::DEFAULT_TOLERATION),
            Some(t) => t
                .toleration_seconds
                .map(|s| SimDuration::from_secs(s.max(0) as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_states_follow_compute_zone_state() {
        assert_eq!(zone_state(0, 1), ZoneState::FullDisruption);
        assert_eq!(zone_state(3, 0), ZoneState::Normal);
        // Two of two NotReady is full; two of three is not "more than 2".
        assert_eq!(zone_state(1, 2), ZoneState::Normal);
        assert_eq!(zone_state(2, 3), ZoneState::PartialDisruption); // 60%
        assert_eq!(zone_state(3, 3), ZoneState::Normal); // 50%
        assert_eq!(zone_state(45, 55), ZoneState::PartialDisruption); // exactly 55%
        assert_eq!(zone_state(46, 54), ZoneState::Normal);
    }

    #[test]
    fn rates_follow_set_limiter_in_zone() {
        let normal = Some(NODE_EVICTION_INTERVAL);
        assert_eq!(zone_interval(ZoneState::Normal, 3), normal);
        assert_eq!(zone_interval(ZoneState::FullDisruption, 3), normal);
        assert_eq!(zone_interval(ZoneState::PartialDisruption, 50), None);
        assert_eq!(
            zone_interval(ZoneState::PartialDisruption, 51),
            Some(SECONDARY_EVICTION_INTERVAL)
        );
    }

    #[test]
    fn a_swapped_bucket_is_drained_when_the_old_one_was() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut z = ZoneTainter {
            state: ZoneState::Normal,
            interval: Some(NODE_EVICTION_INTERVAL),
            last_accept: None,
            queue: VecDeque::new(),
        };
        assert!(z.try_accept(t(0)));
        assert!(!z.try_accept(t(5)));
        z.swap_limiter(Some(SECONDARY_EVICTION_INTERVAL), t(5));
        assert!(!z.try_accept(t(50)));
        assert!(z.try_accept(t(105)));
        z.swap_limiter(None, t(106));
        assert!(!z.try_accept(t(1000)));
        // From never to a rate: drained too (the never limiter has no token to give).
        z.swap_limiter(Some(NODE_EVICTION_INTERVAL), t(1000));
        assert!(!z.try_accept(t(1005)));
        assert!(z.try_accept(t(1010)));
    }
}
