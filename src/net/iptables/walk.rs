//! Walking a connection's first packet through the rules, as netfilter evaluates them.

use super::compiled::{CompiledMatcher, CompiledRule};
use super::*;
use rand::Rng;

impl IptablesRules {
    #[inline]
    fn is_local(&self, ip: u32) -> bool {
        ip >> 24 == 127 || self.local_addrs.contains(&ip)
    }

    /// Routes a connection's first packet through the node's rules.
    pub fn route(
        &self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        self.walk(
            pkt,
            &mut RngDraws(rng),
            affinity,
            now_ns,
            &mut NoTrace,
            true,
        )
        .0
    }

    /// [`route`](Self::route), replaying the walk from a cache when the same kind of packet
    /// was walked before: the same verdict, the same random draws in the same order, the same
    /// `-m recent` updates (`route_cached_equals_plain_walk` checks all three).
    ///
    /// Without `-m recent` lists the walk depends on a packet only through its destination,
    /// port, protocol, origin and which of the rules' source networks hold its source (plus
    /// whether the source is a local address); its only other input is the outcome of each
    /// `-m statistic` rule it reaches. So for each such key the cache keeps the walk as a
    /// decision tree: a draw against a probability at each inner node, a verdict at each
    /// leaf. Following it draws `rng.random::<f64>()` once per node passed, exactly as the
    /// walk would; a branch not yet known is walked (with the outcomes already drawn forced)
    /// and added. A key whose walk touches a `-m recent` list (session affinity) is always
    /// walked.
    pub fn route_cached(
        &mut self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        let Some(src_class) = self.src_class(pkt.src) else {
            return self.route(pkt, rng, affinity, now_ns);
        };
        let src_class = u128::from(src_class);
        let key = RouteKey {
            dst: u32::from(pkt.dst),
            dst_port: pkt.dst_port,
            protocol: pkt.protocol,
            local_origin: pkt.local_origin,
            src_class,
        };
        // The common case, a branch already known, touches only the cache.
        if let Some(v) = self.cache.replay(key, rng) {
            return v;
        }
        let mut cache = std::mem::take(&mut self.cache);
        let v = cache.extend(self, pkt, rng, affinity, now_ns);
        self.cache = cache;
        v
    }

    /// Which of `src_nets` hold `src` (bit i for the i-th), and bit 63 for a local source;
    /// `None` when the rules test too many networks to say it in 63 bits.
    #[inline]
    fn src_class(&self, src: Ipv4Addr) -> Option<u64> {
        if self.src_nets.len() > 63 {
            return None;
        }
        let ip = u32::from(src);
        let mut class = u64::from(self.is_local(ip)) << 63;
        for (i, &(mask, network)) in self.src_nets.iter().enumerate() {
            class |= u64::from(ip & mask == network) << i;
        }
        Some(class)
    }

    /// [`route`](Self::route) without the chain index: every rule is tried in order.
    pub fn route_unindexed(
        &self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        self.walk(
            pkt,
            &mut RngDraws(rng),
            affinity,
            now_ns,
            &mut NoTrace,
            false,
        )
        .0
    }

    /// [`route`](Self::route), also listing every rule that matched, in order.
    pub fn route_traced(
        &self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> (Verdict, Vec<TraceStep>) {
        let mut t = VecTrace(Vec::new());
        let (v, _) = self.walk(pkt, &mut RngDraws(rng), affinity, now_ns, &mut t, false);
        (v, t.0)
    }

    /// Every DNAT a new connection of `pkt` can end in, whatever the `-m statistic` draws
    /// (with the `-m recent` lists as `affinity` holds them, not updated): (service port,
    /// endpoint) indices.
    pub fn dnat_targets(
        &self,
        pkt: &Packet,
        affinity: &AffinityTable,
        now_ns: u64,
    ) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stack: Vec<Vec<bool>> = vec![Vec::new()];
        while let Some(prefix) = stack.pop() {
            let mut d = ForcedOutcomes {
                prefix,
                drawn: Vec::new(),
            };
            let (v, _) = self.walk(
                pkt,
                &mut d,
                &mut affinity.clone(),
                now_ns,
                &mut NoTrace,
                false,
            );
            if let Verdict::Dnat {
                service_port_index,
                endpoint_index,
                ..
            } = v
            {
                if !out.contains(&(service_port_index, endpoint_index)) {
                    out.push((service_port_index, endpoint_index));
                }
            }
            for i in d.prefix.len()..d.drawn.len() {
                let mut p = d.drawn[..i].to_vec();
                p.push(!d.drawn[i]);
                stack.push(p);
            }
        }
        out.sort_unstable();
        out
    }

    /// The walk; also whether it evaluated a `-m recent` match.
    pub(super) fn walk<D: Draws, T: Tracer>(
        &self,
        pkt: &Packet,
        draws: &mut D,
        affinity: &mut AffinityTable,
        now_ns: u64,
        tracer: &mut T,
        indexed: bool,
    ) -> (Verdict, bool) {
        let mut cx = Walk {
            rules: self,
            draws,
            recent: false,
            affinity,
            now_ns,
            tracer,
            indexed,
        };
        walk_hooks(&mut cx, pkt, |ip| self.is_local(ip))
    }
}

/// What [`walk_hooks`] needs: a way to evaluate a chain of the node's rules.
pub(super) trait Chains {
    /// Evaluates chain `id` (a [`fixed`](super::build::fixed) chain when called from here).
    fn chain(&mut self, id: ChainId, st: &mut WalkState) -> Flow;
    /// Whether a `-m recent` match was evaluated so far.
    fn recent(&self) -> bool;
}

/// A connection's first packet through the hooks, as netfilter passes it: nat `PREROUTING`
/// (or `OUTPUT` for a local one), the filter hooks for where it goes after DNAT, nat
/// `POSTROUTING`. Also whether a `-m recent` match was evaluated.
pub(super) fn walk_hooks(
    cx: &mut impl Chains,
    pkt: &Packet,
    is_local: impl Fn(u32) -> bool,
) -> (Verdict, bool) {
    use super::build::fixed;
    let mut st = WalkState {
        src: u32::from(pkt.src),
        dst: u32::from(pkt.dst),
        dport: pkt.dst_port,
        protocol: pkt.protocol,
        mark: 0,
        dnat: false,
    };
    let nat_entry = if pkt.local_origin {
        fixed::NAT_OUTPUT
    } else {
        fixed::NAT_PREROUTING
    };
    let mut dnat = None;
    if let Flow::Stop(Target::Dnat {
        ip,
        port,
        service_port_index,
        endpoint_index,
    }) = cx.chain(nat_entry, &mut st)
    {
        st.dst = u32::from(ip);
        st.dport = port;
        st.dnat = true;
        dnat = Some((ip, port, service_port_index, endpoint_index));
    }
    let dst_local = is_local(st.dst);
    let hooks = if pkt.local_origin {
        [
            Some(fixed::FILTER_OUTPUT),
            dst_local.then_some(fixed::FILTER_INPUT),
        ]
    } else if dst_local {
        [Some(fixed::FILTER_INPUT), None]
    } else {
        [Some(fixed::FILTER_FORWARD), None]
    };
    for hook in hooks.into_iter().flatten() {
        match cx.chain(hook, &mut st) {
            Flow::Stop(Target::Drop) => return (Verdict::Drop, cx.recent()),
            Flow::Stop(Target::Reject) => return (Verdict::Reject, cx.recent()),
            _ => {}
        }
    }
    // A packet delivered to the node itself goes PREROUTING -> INPUT and never reaches
    // POSTROUTING (checked on a real kernel by `.ci/kernel-rules`).
    let masquerade = (!dst_local || pkt.local_origin)
        && matches!(
            cx.chain(fixed::NAT_POSTROUTING, &mut st),
            Flow::Stop(Target::Masquerade)
        );
    let v = match dnat {
        Some((ip, port, service_port_index, endpoint_index)) => Verdict::Dnat {
            ip,
            port,
            masquerade,
            endpoint_index,
            service_port_index,
        },
        None => Verdict::NotService,
    };
    (v, cx.recent())
}

/// What a matching rule's target does to the walk: `None` to go on with the next rule.
#[inline]
pub(super) fn apply_target(
    target: Target,
    st: &mut WalkState,
    jump: impl FnOnce(ChainId, &mut WalkState) -> Flow,
) -> Option<Flow> {
    match target {
        Target::None => None,
        Target::Jump(c) => match jump(c, st) {
            Flow::Stop(t) => Some(Flow::Stop(t)),
            Flow::Continue => None,
        },
        Target::Goto(c) => Some(jump(c, st)),
        Target::Return => Some(Flow::Continue),
        Target::MarkOr(v) => {
            st.mark |= v;
            None
        }
        Target::MarkXor(v) => {
            st.mark ^= v;
            None
        }
        t @ (Target::Accept
        | Target::Drop
        | Target::Reject
        | Target::Masquerade
        | Target::Dnat { .. }) => Some(Flow::Stop(t)),
    }
}

/// Whether `r` (its match modules in `matchers`) matches the packet in `st`; draws for a
/// `-m statistic` match, reads and writes `-m recent` lists (and sets `recent`).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn rule_matches<D: Draws>(
    r: &CompiledRule,
    matchers: &[CompiledMatcher],
    st: &WalkState,
    is_local: impl Fn(u32) -> bool,
    draws: &mut D,
    recent: &mut bool,
    affinity: &mut AffinityTable,
    now_ns: u64,
) -> bool {
    if r.protocol.is_some_and(|p| p != st.protocol)
        || !r.dst.matches(st.dst)
        || !r.src.matches(st.src)
    {
        return false;
    }
    let (m_start, m_end) = r.matchers;
    for m in &matchers[m_start as usize..m_end as usize] {
        let ok = match m {
            CompiledMatcher::Port { protocol, dport } => {
                *protocol == st.protocol && dport.is_none_or(|d| d == st.dport)
            }
            CompiledMatcher::AddrTypeLocal { source } => {
                is_local(if *source { st.src } else { st.dst })
            }
            CompiledMatcher::Mark {
                value,
                mask,
                negate,
            } => ((st.mark & mask) == *value) != *negate,
            CompiledMatcher::CtState { states, negate } => {
                let have = ctstate::NEW | if st.dnat { ctstate::DNAT } else { 0 };
                (have & states != 0) != *negate
            }
            CompiledMatcher::Statistic { probability } => draws.draw(*probability),
            CompiledMatcher::RecentCheck { list, seconds } => {
                *recent = true;
                affinity.rcheck(*list, st.src, *seconds, now_ns)
            }
            CompiledMatcher::RecentSet { list } => {
                *recent = true;
                affinity.set(*list, st.src, now_ns);
                true
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Where the outcome of each `-m statistic` rule comes from.
pub(super) trait Draws {
    /// Whether the rule with `probability` matches; called once per rule reached, in order.
    fn draw(&mut self, probability: f64) -> bool;
}

/// One `rng.random::<f64>()` per rule: what netfilter's `statistic` module does.
pub(super) struct RngDraws<'a, R>(pub(super) &'a mut R);

impl<R: Rng> Draws for RngDraws<'_, R> {
    #[inline(always)]
    fn draw(&mut self, probability: f64) -> bool {
        self.0.random::<f64>() < probability
    }
}

/// The first `forced.len()` outcomes as given (already drawn), the rest drawn from `rng`;
/// every outcome, with its probability, recorded in `path`.
pub(super) struct Recording<'a, R> {
    pub(super) forced: &'a [bool],
    pub(super) rng: &'a mut R,
    pub(super) path: Vec<(f64, bool)>,
}

impl<R: Rng> Draws for Recording<'_, R> {
    fn draw(&mut self, probability: f64) -> bool {
        let hit = match self.forced.get(self.path.len()) {
            Some(&hit) => hit,
            None => self.rng.random::<f64>() < probability,
        };
        self.path.push((probability, hit));
        hit
    }
}

/// The given outcomes first, then "no match"; every outcome recorded.
pub(super) struct ForcedOutcomes {
    pub(super) prefix: Vec<bool>,
    pub(super) drawn: Vec<bool>,
}

impl Draws for ForcedOutcomes {
    fn draw(&mut self, _probability: f64) -> bool {
        let hit = self.prefix.get(self.drawn.len()).copied().unwrap_or(false);
        self.drawn.push(hit);
        hit
    }
}

pub(super) struct WalkState {
    pub(super) src: u32,
    pub(super) dst: u32,
    pub(super) dport: u16,
    pub(super) protocol: Protocol,
    pub(super) mark: u32,
    pub(super) dnat: bool,
}

pub(super) enum Flow {
    /// Fell off the end or returned: the caller goes on with its next rule.
    Continue,
    /// A terminating target; nothing more in this table.
    Stop(Target),
}

pub(super) trait Tracer {
    fn hit(&mut self, rules: &IptablesRules, chain: ChainId, rule: usize);
}

pub(super) struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn hit(&mut self, _: &IptablesRules, _: ChainId, _: usize) {}
}

pub(super) struct VecTrace(Vec<TraceStep>);

impl Tracer for VecTrace {
    fn hit(&mut self, rules: &IptablesRules, chain: ChainId, rule: usize) {
        let c = rules.chain(chain);
        self.0.push(TraceStep {
            table: c.table,
            chain: c.name.clone(),
            rule: rules.rule_text(chain, rule),
        });
    }
}

pub(super) struct Walk<'a, D, T> {
    pub(super) rules: &'a IptablesRules,
    pub(super) draws: &'a mut D,
    /// A `-m recent` match was evaluated.
    pub(super) recent: bool,
    pub(super) affinity: &'a mut AffinityTable,
    pub(super) now_ns: u64,
    pub(super) tracer: &'a mut T,
    pub(super) indexed: bool,
}

impl<D: Draws, T: Tracer> Chains for Walk<'_, D, T> {
    fn chain(&mut self, id: ChainId, st: &mut WalkState) -> Flow {
        let rules = self.rules;
        let (start, end) = rules.compiled.chains[id.0 as usize];
        let chain = &rules.compiled.rules[start as usize..end as usize];
        let mut i = 0usize;
        if self.indexed {
            if let Some(ix) = &rules.index[id.0 as usize] {
                let dst = if ix.by_dst { st.dst } else { 0 };
                i = match ix.first.get(&(dst, st.dport, st.protocol)) {
                    Some(&k) => k as usize,
                    None => ix.prefix as usize,
                };
            }
        }
        while i < chain.len() {
            let r = &chain[i];
            if rule_matches(
                r,
                &rules.compiled.matchers,
                st,
                |ip| rules.is_local(ip),
                self.draws,
                &mut self.recent,
                self.affinity,
                self.now_ns,
            ) {
                self.tracer.hit(rules, id, i);
                if let Some(flow) = apply_target(r.target, st, |c, st| self.chain(c, st)) {
                    return flow;
                }
            }
            i += 1;
        }
        Flow::Continue
    }

    fn recent(&self) -> bool {
        self.recent
    }
}
