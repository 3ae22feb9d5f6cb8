//! The route cache: earlier walks replayed as per-key decision trees.

use super::walk::{Draws, NoTrace, Recording, RngDraws};
use super::*;
use rand::Rng;

/// Rules a [`RouteCache`] can walk: a whole node's ([`IptablesRules`]) or a view of shared
/// pieces ([`super::shared::NodeRules`]).
pub(super) trait Walker {
    /// The walk, indexed, untraced; also whether it evaluated a `-m recent` match.
    fn walk_plain<D: Draws>(
        &self,
        pkt: &Packet,
        draws: &mut D,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> (Verdict, bool);
}

impl Walker for IptablesRules {
    fn walk_plain<D: Draws>(
        &self,
        pkt: &Packet,
        draws: &mut D,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> (Verdict, bool) {
        self.walk(pkt, draws, affinity, now_ns, &mut NoTrace, true)
    }
}

/// What the walk depends on when no `-m recent` match is met (see
/// [`IptablesRules::route_cached`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct RouteKey {
    pub(super) dst: u32,
    pub(super) dst_port: u16,
    pub(super) protocol: Protocol,
    pub(super) local_origin: bool,
    pub(super) src_class: u128,
}

/// A node of a key's decision tree (indices into [`RouteCache::nodes`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum CacheNode {
    /// Not walked yet.
    Unknown,
    /// The key's walk meets `-m recent`: always walk (only ever at a root).
    Walk,
    Leaf(Verdict),
    /// A `-m statistic` rule: draw, then `taken` if `random < probability`, else `not_taken`.
    Draw {
        probability: f64,
        taken: u32,
        not_taken: u32,
    },
}

/// Memoised walks of one node's rules: per [`RouteKey`], a decision tree. Cleared with the
/// rules (it lives in them); only looked up, never iterated.
#[derive(Debug, Clone, Default)]
pub(super) struct RouteCache {
    pub(super) roots: FxHashMap<RouteKey, u32>,
    /// The last key looked up and its root (a stream sends the same kind of packet again).
    pub(super) last: Option<(RouteKey, u32)>,
    pub(super) nodes: Vec<CacheNode>,
    /// Where the last [`replay`](Self::replay) stopped: its root, the unknown node it
    /// reached (or [`NO_NODE`]: walk without caching) and the outcomes it drew.
    pub(super) root: u32,
    pub(super) at: u32,
    pub(super) drawn: Vec<bool>,
}

pub(super) const NO_NODE: u32 = u32::MAX;

impl PartialEq for RouteCache {
    /// A cache is not part of the rules' value: rules are equal whatever they remember.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Past this many tree nodes (a few hundred kilobytes) new keys are walked, not cached.
pub(super) const ROUTE_CACHE_NODES: usize = 1 << 16;

impl RouteCache {
    fn push(&mut self, n: CacheNode) -> u32 {
        self.nodes.push(n);
        (self.nodes.len() - 1) as u32
    }

    /// Follows `key`'s tree, drawing at each node: the verdict, or `None` when it reaches a
    /// branch not walked yet (or a key that must be walked), which
    /// [`extend`](Self::extend) then walks, with the outcomes drawn so far in `drawn`.
    #[inline]
    pub(super) fn replay(&mut self, key: RouteKey, rng: &mut impl Rng) -> Option<Verdict> {
        let root = match self.last {
            Some((k, root)) if k == key => root,
            _ => {
                let root = match self.roots.get(&key) {
                    Some(&n) => n,
                    None if self.nodes.len() >= ROUTE_CACHE_NODES => {
                        self.at = NO_NODE;
                        return None;
                    }
                    None => {
                        let n = self.push(CacheNode::Unknown);
                        self.roots.insert(key, n);
                        n
                    }
                };
                self.last = Some((key, root));
                root
            }
        };
        self.drawn.clear();
        self.root = root;
        let mut at = root;
        loop {
            match self.nodes[at as usize] {
                CacheNode::Leaf(v) => return Some(v),
                CacheNode::Draw {
                    probability,
                    taken,
                    not_taken,
                } => {
                    let hit = rng.random::<f64>() < probability;
                    self.drawn.push(hit);
                    at = if hit { taken } else { not_taken };
                }
                CacheNode::Walk => {
                    self.at = NO_NODE;
                    return None;
                }
                CacheNode::Unknown => {
                    self.at = at;
                    return None;
                }
            }
        }
    }

    /// After [`replay`](Self::replay) returned `None`: walks the rules (replaying the
    /// outcomes drawn on the way down) and adds the branch walked to the tree.
    pub(super) fn extend(
        &mut self,
        rules: &impl Walker,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        if self.at == NO_NODE {
            // Not cached (a `-m recent` key, or the cache is full): nothing was drawn.
            return rules
                .walk_plain(pkt, &mut RngDraws(rng), affinity, now_ns)
                .0;
        }
        let (root, mut at) = (self.root, self.at);
        // A branch not walked yet: walk it, replaying the outcomes already drawn.
        let mut rec = Recording {
            forced: &self.drawn,
            rng,
            path: Vec::new(),
        };
        let (v, recent) = rules.walk_plain(pkt, &mut rec, affinity, now_ns);
        let path = rec.path;
        if recent {
            self.nodes[root as usize] = CacheNode::Walk;
            return v;
        }
        let known = self.drawn.len();
        debug_assert!(path.len() >= known);
        for &(probability, hit) in &path[known..] {
            let taken = self.push(CacheNode::Unknown);
            let not_taken = self.push(CacheNode::Unknown);
            self.nodes[at as usize] = CacheNode::Draw {
                probability,
                taken,
                not_taken,
            };
            at = if hit { taken } else { not_taken };
        }
        self.nodes[at as usize] = CacheNode::Leaf(v);
        v
    }
}
