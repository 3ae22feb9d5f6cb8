//! kube-proxy's rules held once for the whole cluster, and each node's rules as a view of them.
//!
//! Every node's kube-proxy writes the same rules, apart from the service ports with a `Local`
//! traffic policy (whose rules name the node's own endpoints) and the node's own addresses
//! (which only `-m addrtype` reads, when a packet is walked). So the rules are kept as pieces:
//! kube-proxy's fixed chains, the same everywhere ([`FixedRules`]), and one [`PortRules`] per
//! service port: its own chains (`KUBE-SVC-`, `KUBE-SVL-`, `KUBE-EXT-`, `KUBE-SEP-`) and the
//! rules it adds to the fixed dispatch chains (`KUBE-SERVICES`, `KUBE-NODEPORTS`,
//! `KUBE-EXTERNAL-SERVICES`). A [`SharedRules`] is one sync's worth: every port's piece in
//! kube-proxy's order, with an index from a packet's destination to the ports that can match
//! it. A node's [`NodeRules`] is a `SharedRules` plus its own pieces for the ports whose rules
//! differ there, and its addresses.
//!
//! A change to one Service rebuilds that Service's pieces only (as kube-proxy's partial syncs
//! rewrite only the changed Services' chains, KEP-3453); a new `SharedRules` reuses every
//! other piece. Walking a packet through a `NodeRules` visits the dispatch chains through the
//! index, so it costs what the target port's own chains cost, whatever the number of Services.
//! [`NodeRules::render`] prints the same text as [`IptablesRules::build`] of the node's input,
//! and [`NodeRules::route`] gives the same verdicts with the same random draws as
//! [`IptablesRules::route`] (the `view_equals_whole_rules` property test proves both).

use super::build::{fixed, nodeports_jump, write_fixed, write_port, Sink, FIXED_CHAINS};
use super::cache::{RouteCache, RouteKey};
use super::compiled::{Compiled, CompiledMatcher, CompiledRule};
use super::walk::{
    apply_target, rule_matches, walk_hooks, Chains, Draws, Flow, RngDraws, WalkState,
};
use super::*;
use crate::engine::FxHashSet;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The fixed chains that service ports add rules to, between the fixed chain's own rules
/// (its head) and, for nat `KUBE-SERVICES`, its last rule (the tail).
const DISPATCH: [ChainId; 6] = [
    fixed::NAT_KUBE_SERVICES,
    fixed::NAT_KUBE_NODEPORTS,
    fixed::FILTER_KUBE_SERVICES,
    fixed::FILTER_KUBE_EXTERNAL_SERVICES,
    fixed::FILTER_KUBE_NODEPORTS,
    fixed::FILTER_KUBE_PROXY_FIREWALL,
];

/// kube-proxy's fixed chains, compiled once: chain `i` of `compiled` is the head of fixed chain
/// `i`, chain `fixed::COUNT + i` its tail.
#[derive(Debug)]
pub struct FixedRules {
    heads: Vec<Chain>,
    tails: Vec<Vec<Rule>>,
    compiled: Compiled,
}

impl FixedRules {
    pub fn new() -> FixedRules {
        let mut b = PieceBuilder::default();
        write_fixed(&mut b);
        let mut heads: Vec<Chain> = FIXED_CHAINS
            .iter()
            .map(|&(table, name, builtin)| Chain {
                name: name.to_string(),
                table,
                builtin,
                rules: Vec::new(),
            })
            .collect();
        for (c, rules) in b.entries {
            heads[c.0 as usize].rules = rules;
        }
        debug_assert!(
            b.chains.is_empty(),
            "the fixed rules make no chains of their own"
        );
        let mut tails = vec![Vec::new(); heads.len()];
        tails[fixed::NAT_KUBE_SERVICES.0 as usize].push(nodeports_jump());
        let mut all = heads.clone();
        all.extend(tails.iter().zip(&heads).map(|(rules, h)| Chain {
            rules: rules.clone(),
            ..h.clone()
        }));
        let compiled = Compiled::new(&all);
        FixedRules {
            heads,
            tails,
            compiled,
        }
    }
}

impl Default for FixedRules {
    fn default() -> Self {
        FixedRules::new()
    }
}

/// A piece being built: rules for fixed chains by chain, and the piece's own chains.
#[derive(Default)]
struct PieceBuilder {
    entries: Vec<(ChainId, Vec<Rule>)>,
    chains: Vec<Chain>,
    by_name: BTreeMap<(Table, String), ChainId>,
}

impl Sink for PieceBuilder {
    fn chain(&mut self, table: Table, name: &str) -> ChainId {
        if let Some(&id) = self.by_name.get(&(table, name.to_string())) {
            return id;
        }
        let id = ChainId(fixed::COUNT + self.chains.len() as u32);
        self.chains.push(Chain {
            name: name.to_string(),
            table,
            builtin: false,
            rules: Vec::new(),
        });
        self.by_name.insert((table, name.to_string()), id);
        id
    }
    fn push(&mut self, c: ChainId, r: Rule) {
        if c.0 >= fixed::COUNT {
            self.chains[(c.0 - fixed::COUNT) as usize].rules.push(r);
        } else {
            match self.entries.iter_mut().find(|(e, _)| *e == c) {
                Some((_, rules)) => rules.push(r),
                None => self.entries.push((c, vec![r])),
            }
        }
    }
}

/// One service port's piece of the rules. Its own chains are numbered from
/// [`fixed::COUNT`]; its rules jump to those and to fixed chains. Its DNAT targets carry
/// endpoint indices into the port's endpoint list (the port's own place in a node's rules is
/// given by where the piece sits).
#[derive(Debug)]
pub struct PortRules {
    /// Rules for fixed chains, by chain, in the order written.
    entries: Vec<(ChainId, Vec<Rule>)>,
    chains: Vec<Chain>,
    /// The own chains, then the entries (chain `chains.len() + j` is `entries[j]`).
    compiled: Compiled,
    /// Source networks its rules test other than single hosts, and the single hosts.
    src_nets: Vec<(u32, u32)>,
    src_hosts: Vec<u32>,
}

impl PortRules {
    /// What kube-proxy writes for `sp` (whose endpoints' `is_local` say which run on the
    /// node), in large cluster mode or not.
    pub fn build(sp: &ProxyServicePort, cluster_cidr: Ipv4Net, large_cluster: bool) -> PortRules {
        let mut b = PieceBuilder::default();
        write_port(&mut b, sp, 0, cluster_cidr.trunc(), large_cluster);
        let mut all = b.chains.clone();
        for (c, rules) in &b.entries {
            let (table, name, _) = FIXED_CHAINS[c.0 as usize];
            all.push(Chain {
                name: name.to_string(),
                table,
                builtin: false,
                rules: rules.clone(),
            });
        }
        let compiled = Compiled::new(&all);
        let mut src_nets = Vec::new();
        let mut src_hosts = Vec::new();
        for r in &compiled.rules {
            if r.src.mask == u32::MAX && !r.src.negate {
                src_hosts.push(r.src.network);
            } else if r.src.mask != 0 || r.src.negate {
                let key = (r.src.mask, r.src.network);
                if !src_nets.contains(&key) {
                    src_nets.push(key);
                }
            }
        }
        PortRules {
            entries: b.entries,
            chains: b.chains,
            compiled,
            src_nets,
            src_hosts,
        }
    }

    /// How many rules it holds.
    pub fn rule_count(&self) -> usize {
        self.compiled.rules.len()
    }

    /// The compiled slot of its rules for fixed chain `c`, if it has any.
    fn entry_slot(&self, c: ChainId) -> Option<usize> {
        self.entries
            .iter()
            .position(|(e, _)| *e == c)
            .map(|j| self.chains.len() + j)
    }

    fn chain_name(&self, id: ChainId) -> &str {
        if id.0 < fixed::COUNT {
            FIXED_CHAINS[id.0 as usize].1
        } else {
            &self.chains[(id.0 - fixed::COUNT) as usize].name
        }
    }
}

/// The destinations of a service port, which the index finds it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDestinations {
    /// `(address, port, protocol)` of its ClusterIP, external IPs and load-balancer IPs.
    pub addrs: Vec<(u32, u16, Protocol)>,
    /// Its NodePort (on any local address), with the port's protocol.
    pub node_port: Option<(u16, Protocol)>,
    /// Its Service's health check node port (TCP, on any local address).
    pub health_check_node_port: Option<u16>,
}

/// A service port's [`PortDestinations`].
pub fn port_destinations(sp: &ProxyServicePort) -> PortDestinations {
    let mut dsts: Vec<(u32, u16, Protocol)> = sp
        .cluster_ip
        .iter()
        .chain(&sp.external_ips)
        .chain(&sp.load_balancer_ips)
        .map(|ip| (u32::from(*ip), sp.port, sp.protocol))
        .collect();
    dsts.sort_unstable();
    dsts.dedup();
    PortDestinations {
        addrs: dsts,
        node_port: sp.node_port.map(|np| (np, sp.protocol)),
        health_check_node_port: sp.health_check_node_port,
    }
}

/// One sync's rules for every node: each service port's piece (as built for a node with none of
/// its endpoints), in kube-proxy's order, and the index by destination.
#[derive(Debug)]
pub struct SharedRules {
    fixed: Arc<FixedRules>,
    ports: Vec<Arc<PortRules>>,
    /// `(address, port, protocol)` → the positions of the ports with that destination.
    by_dst: FxHashMap<(u32, u16, Protocol), Vec<u32>>,
    /// `(nodePort, protocol)` → positions.
    by_node_port: FxHashMap<(u16, Protocol), Vec<u32>>,
    /// The source networks the rules test (other than single hosts), at most 63 of them, or
    /// `None` when there are more.
    src_nets: Option<Vec<(u32, u32)>>,
    /// Single hosts the rules test (`-s ip/32`), outside `cluster_cidr`.
    src_hosts: FxHashSet<u32>,
    cluster_cidr: (u32, u32),
    /// [`rule_count`](Self::rule_count), counted once: every node's sync asks for it.
    rule_count: usize,
}

impl SharedRules {
    /// `ports`: each port's destinations ([`port_destinations`]) and piece, in kube-proxy's
    /// order ([`super::build::port_key`]).
    pub fn new(
        fixed: Arc<FixedRules>,
        ports: Vec<(PortDestinations, Arc<PortRules>)>,
        cluster_cidr: Ipv4Net,
    ) -> SharedRules {
        let cidr = cluster_cidr.trunc();
        let cluster = (u32::from(cidr.netmask()), u32::from(cidr.network()));
        let mut by_dst: FxHashMap<(u32, u16, Protocol), Vec<u32>> = FxHashMap::default();
        let mut by_node_port: FxHashMap<(u16, Protocol), Vec<u32>> = FxHashMap::default();
        let mut nets: Vec<(u32, u32)> = Vec::new();
        let mut seen = FxHashSet::default();
        let mut src_hosts = FxHashSet::default();
        for r in &fixed.compiled.rules {
            if r.src.mask != 0 || r.src.negate {
                let key = (r.src.mask, r.src.network);
                if seen.insert(key) {
                    nets.push(key);
                }
            }
        }
        let mut pieces = Vec::with_capacity(ports.len());
        for (pos, (dsts, piece)) in ports.into_iter().enumerate() {
            let pos = pos as u32;
            for d in dsts.addrs {
                by_dst.entry(d).or_default().push(pos);
            }
            if let Some(key) = dsts.node_port {
                by_node_port.entry(key).or_default().push(pos);
            }
            if let Some(hc) = dsts.health_check_node_port {
                let at = by_node_port.entry((hc, Protocol::Tcp)).or_default();
                if at.last() != Some(&pos) {
                    at.push(pos);
                }
            }
            for &key in &piece.src_nets {
                if seen.insert(key) {
                    nets.push(key);
                }
            }
            for &h in &piece.src_hosts {
                if h & cluster.0 != cluster.1 {
                    src_hosts.insert(h);
                }
            }
            pieces.push(piece);
        }
        let rule_count =
            fixed.compiled.rules.len() + pieces.iter().map(|p| p.rule_count()).sum::<usize>();
        SharedRules {
            rule_count,
            fixed,
            ports: pieces,
            by_dst,
            by_node_port,
            src_nets: (nets.len() <= 63).then_some(nets),
            src_hosts,
            cluster_cidr: cluster,
        }
    }

    /// The pieces in kube-proxy's order.
    pub fn ports(&self) -> &[Arc<PortRules>] {
        &self.ports
    }

    /// How many rules in all, fixed chains included (what a node's `iptables-restore` loads).
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// The positions of the ports a packet to `dst:dport` can meet in the dispatch chains, in
    /// order, into `out`.
    fn candidates(&self, dst: u32, dport: u16, protocol: Protocol, out: &mut Vec<u32>) {
        out.clear();
        if let Some(p) = self.by_dst.get(&(dst, dport, protocol)) {
            out.extend_from_slice(p);
        }
        if let Some(p) = self.by_node_port.get(&(dport, protocol)) {
            if out.is_empty() {
                out.extend_from_slice(p);
            } else {
                out.extend_from_slice(p);
                out.sort_unstable();
                out.dedup();
            }
        }
    }
}

/// One node's rules: a sync's [`SharedRules`], the node's own pieces for the ports whose rules
/// differ there, and the node's addresses.
#[derive(Debug)]
pub struct NodeRules {
    node_name: String,
    local_addrs: [u32; 3],
    shared: Arc<SharedRules>,
    /// `(position, piece)`, sorted by position.
    local: Vec<(u32, Arc<PortRules>)>,
    cache: RouteCache,
}

impl NodeRules {
    /// The rules of node `node_name` (address `node_ip`, pod CIDR `pod_cidr`): `shared`, with
    /// `local` (position, piece) in place of the shared pieces at those positions.
    pub fn new(
        node_name: &str,
        node_ip: Ipv4Addr,
        pod_cidr: Ipv4Net,
        shared: Arc<SharedRules>,
        mut local: Vec<(u32, Arc<PortRules>)>,
    ) -> NodeRules {
        local.sort_by_key(|(p, _)| *p);
        let net = u32::from(pod_cidr.trunc().network());
        NodeRules {
            node_name: node_name.to_string(),
            local_addrs: [u32::from(node_ip), net, net.wrapping_add(1)],
            shared,
            local,
            cache: RouteCache::default(),
        }
    }

    /// The sync's shared rules this node's rules are made of.
    pub fn shared(&self) -> &Arc<SharedRules> {
        &self.shared
    }

    /// The piece at `pos`: the node's own, or the shared one.
    fn port(&self, pos: u32) -> &PortRules {
        if !self.local.is_empty() {
            if let Ok(i) = self.local.binary_search_by_key(&pos, |(p, _)| *p) {
                return &self.local[i].1;
            }
        }
        &self.shared.ports[pos as usize]
    }

    #[inline]
    fn is_local(&self, ip: u32) -> bool {
        ip >> 24 == 127 || self.local_addrs.contains(&ip)
    }

    /// Routes a connection's first packet through the node's rules; a DNAT's
    /// `service_port_index` is the port's position in kube-proxy's order.
    pub fn route(
        &self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        self.walk(pkt, &mut RngDraws(rng), affinity, now_ns).0
    }

    /// [`route`](Self::route) through the route cache, as [`IptablesRules::route_cached`].
    pub fn route_cached(
        &mut self,
        pkt: &Packet,
        rng: &mut impl Rng,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> Verdict {
        let key = RouteKey {
            dst: u32::from(pkt.dst),
            dst_port: pkt.dst_port,
            protocol: pkt.protocol,
            local_origin: pkt.local_origin,
            src_class: self.src_class(pkt.src),
        };
        if let Some(v) = self.cache.replay(key, rng) {
            return v;
        }
        let mut cache = std::mem::take(&mut self.cache);
        let v = cache.extend(&*self, pkt, rng, affinity, now_ns);
        self.cache = cache;
        v
    }

    /// What the walk depends on in a packet's source: the source itself when it is one the
    /// rules can name (a local address, an address in the cluster CIDR, where endpoints are, or
    /// a single host the rules test), else which of the rules' source networks hold it.
    #[inline]
    fn src_class(&self, src: Ipv4Addr) -> u128 {
        let ip = u32::from(src);
        let s = &self.shared;
        let exact = 1u128 << 64 | u128::from(ip);
        if self.is_local(ip)
            || ip & s.cluster_cidr.0 == s.cluster_cidr.1
            || (!s.src_hosts.is_empty() && s.src_hosts.contains(&ip))
        {
            return exact;
        }
        let Some(nets) = &s.src_nets else {
            return exact;
        };
        let mut class = 0u128;
        for (i, &(mask, network)) in nets.iter().enumerate() {
            class |= u128::from(ip & mask == network) << i;
        }
        class
    }

    /// The walk; also whether it evaluated a `-m recent` match.
    pub(super) fn walk<D: Draws>(
        &self,
        pkt: &Packet,
        draws: &mut D,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> (Verdict, bool) {
        let mut cx = ViewWalk {
            rules: self,
            draws,
            recent: false,
            affinity,
            now_ns,
            frag: None,
            candidates: Vec::new(),
        };
        walk_hooks(&mut cx, pkt, |ip| self.is_local(ip))
    }

    /// The nat and filter tables as `iptables-save` prints them: the same text as
    /// [`IptablesRules::render`] of the whole rules.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let fx = &self.shared.fixed;
        let n = self.shared.ports.len() as u32;
        let mut out = String::new();
        render::write_mangle(&mut out, &self.node_name);
        for table in render::TABLE_ORDER {
            // (name, None for a fixed chain / Some((position, own chain index)))
            let mut own: Vec<(&str, u32, usize)> = Vec::new();
            for pos in 0..n {
                let p = self.port(pos);
                for (i, c) in p.chains.iter().enumerate() {
                    if c.table == table {
                        own.push((c.name.as_str(), pos, i));
                    }
                }
            }
            own.sort_by(|a, b| a.0.cmp(b.0));
            let fixed_ids: Vec<usize> = (0..fx.heads.len())
                .filter(|&i| fx.heads[i].table == table)
                .collect();
            let (builtin, named): (Vec<usize>, Vec<usize>) =
                fixed_ids.into_iter().partition(|&i| fx.heads[i].builtin);
            // Every non-built-in chain sorted by name: fixed and own chains merged.
            enum Item<'a> {
                Fixed(usize),
                Own(&'a str, u32, usize),
                /// A canary: declared, never holds a rule.
                Empty,
            }
            let mut order: Vec<(&str, Item)> = named
                .iter()
                .map(|&i| (fx.heads[i].name.as_str(), Item::Fixed(i)))
                .chain(own.iter().map(|&(nm, pos, i)| (nm, Item::Own(nm, pos, i))))
                .chain(render::CANARIES.iter().map(|&nm| (nm, Item::Empty)))
                .collect();
            order.sort_by(|a, b| a.0.cmp(b.0));
            let _ = writeln!(
                out,
                "# Generated by iptables-save v1.8.9 on {}",
                self.node_name
            );
            let _ = writeln!(out, "*{}", table.as_str());
            for &i in &builtin {
                let _ = writeln!(out, ":{} ACCEPT [0:0]", fx.heads[i].name);
            }
            for (name, _) in &order {
                let _ = writeln!(out, ":{name} - [0:0]");
            }
            let fixed_name = |id: ChainId| FIXED_CHAINS[id.0 as usize].1;
            let fixed_chain = |out: &mut String, i: usize| {
                let name = &fx.heads[i].name;
                for r in &fx.heads[i].rules {
                    render::write_rule(out, name, r, fixed_name);
                    out.push('\n');
                }
                if DISPATCH.contains(&ChainId(i as u32)) {
                    for pos in 0..n {
                        let p = self.port(pos);
                        if let Some((_, rules)) = p.entries.iter().find(|(c, _)| c.0 as usize == i)
                        {
                            for r in rules {
                                render::write_rule(out, name, r, |id| p.chain_name(id));
                                out.push('\n');
                            }
                        }
                    }
                }
                for r in &fx.tails[i] {
                    render::write_rule(out, name, r, fixed_name);
                    out.push('\n');
                }
            };
            for &i in &builtin {
                fixed_chain(&mut out, i);
            }
            for (_, item) in &order {
                match *item {
                    Item::Empty => {}
                    Item::Fixed(i) => fixed_chain(&mut out, i),
                    Item::Own(name, pos, i) => {
                        let p = self.port(pos);
                        for r in &p.chains[i].rules {
                            render::write_rule(&mut out, name, r, |id| p.chain_name(id));
                            out.push('\n');
                        }
                    }
                }
            }
            out.push_str("COMMIT\n");
            let _ = writeln!(out, "# Completed on {}", self.node_name);
        }
        out
    }
}

impl super::cache::Walker for NodeRules {
    fn walk_plain<D: Draws>(
        &self,
        pkt: &Packet,
        draws: &mut D,
        affinity: &mut AffinityTable,
        now_ns: u64,
    ) -> (Verdict, bool) {
        self.walk(pkt, draws, affinity, now_ns)
    }
}

/// A walk through a [`NodeRules`]: the fixed chains, the dispatch chains through the index,
/// each port's own chains in the port's context.
struct ViewWalk<'a, D> {
    rules: &'a NodeRules,
    draws: &'a mut D,
    recent: bool,
    affinity: &'a mut AffinityTable,
    now_ns: u64,
    /// The port whose chains are being walked: its position and piece.
    frag: Option<(u32, &'a PortRules)>,
    candidates: Vec<u32>,
}

impl<'a, D: Draws> ViewWalk<'a, D> {
    /// Runs chain `slot` of `compiled` (a segment of a chain); `Some` when the chain ends in it
    /// (a terminating target or RETURN), `None` when the walk falls through to what follows.
    fn run(&mut self, compiled: &'a Compiled, slot: usize, st: &mut WalkState) -> Option<Flow> {
        let (start, end) = compiled.chains[slot];
        let rules: &'a [CompiledRule] = &compiled.rules[start as usize..end as usize];
        let matchers: &'a [CompiledMatcher] = &compiled.matchers;
        let node = self.rules;
        for r in rules {
            if rule_matches(
                r,
                matchers,
                st,
                |ip| node.is_local(ip),
                self.draws,
                &mut self.recent,
                self.affinity,
                self.now_ns,
            ) {
                let target = match (r.target, self.frag) {
                    (
                        Target::Dnat {
                            ip,
                            port,
                            endpoint_index,
                            ..
                        },
                        Some((pos, _)),
                    ) => Target::Dnat {
                        ip,
                        port,
                        endpoint_index,
                        service_port_index: pos as usize,
                    },
                    (t, _) => t,
                };
                if let Some(flow) = apply_target(target, st, |c, st| self.chain(c, st)) {
                    return Some(flow);
                }
            }
        }
        None
    }
}

impl<D: Draws> Chains for ViewWalk<'_, D> {
    fn chain(&mut self, id: ChainId, st: &mut WalkState) -> Flow {
        if id.0 >= fixed::COUNT {
            let (_, p) = self.frag.expect("a port's chain is reached from its port");
            let slot = (id.0 - fixed::COUNT) as usize;
            return self.run(&p.compiled, slot, st).unwrap_or(Flow::Continue);
        }
        let fx = &self.rules.shared.fixed;
        let outer = self.frag;
        self.frag = None;
        if let Some(flow) = self.run(&fx.compiled, id.0 as usize, st) {
            self.frag = outer;
            return flow;
        }
        if DISPATCH.contains(&id) {
            let mut cands = std::mem::take(&mut self.candidates);
            self.rules
                .shared
                .candidates(st.dst, st.dport, st.protocol, &mut cands);
            for &pos in &cands {
                let p = self.rules.port(pos);
                if let Some(slot) = p.entry_slot(id) {
                    self.frag = Some((pos, p));
                    if let Some(flow) = self.run(&p.compiled, slot, st) {
                        self.frag = outer;
                        self.candidates = cands;
                        return flow;
                    }
                }
            }
            self.frag = None;
            self.candidates = cands;
        }
        let tail = fixed::COUNT as usize + id.0 as usize;
        let flow = self.run(&fx.compiled, tail, st).unwrap_or(Flow::Continue);
        self.frag = outer;
        flow
    }

    fn recent(&self) -> bool {
        self.recent
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{arb_input, arb_packet};
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// `input`'s rules as the simulation holds them: shared pieces built as for a node with
    /// no endpoints, and the node's own pieces for the ports whose rules depend on where their
    /// endpoints run; also each position's index in `input.services`.
    fn view_of(input: &NodeProxyInput) -> (NodeRules, Vec<usize>) {
        let mut order: Vec<((String, &'static str), usize)> = input
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (super::super::port_key(s), i))
            .collect();
        order.sort();
        let total: usize = input.services.iter().map(|s| s.endpoints.len()).sum();
        let large = super::super::large_cluster_mode(total);
        let mut ports = Vec::new();
        let mut local = Vec::new();
        for (pos, (_, i)) in order.iter().enumerate() {
            let sp = &input.services[*i];
            let mut nowhere = sp.clone();
            nowhere
                .endpoints
                .iter_mut()
                .for_each(|e| e.is_local = false);
            let shared = Arc::new(PortRules::build(&nowhere, input.cluster_cidr, large));
            ports.push((port_destinations(sp), shared));
            if sp.endpoints.iter().any(|e| e.is_local) {
                local.push((
                    pos as u32,
                    Arc::new(PortRules::build(sp, input.cluster_cidr, large)),
                ));
            }
        }
        let shared = Arc::new(SharedRules::new(
            Arc::new(FixedRules::new()),
            ports,
            input.cluster_cidr,
        ));
        let rules = NodeRules::new(
            &input.node_name,
            input.node_ip,
            input.pod_cidr,
            shared,
            local,
        );
        (rules, order.into_iter().map(|(_, i)| i).collect())
    }

    /// A verdict with the position of its port turned into the port's index in the input.
    fn by_index(v: Verdict, index: &[usize]) -> Verdict {
        match v {
            Verdict::Dnat {
                ip,
                port,
                masquerade,
                endpoint_index,
                service_port_index,
            } => Verdict::Dnat {
                ip,
                port,
                masquerade,
                endpoint_index,
                service_port_index: index[service_port_index],
            },
            v => v,
        }
    }

    #[test]
    fn seed_rules_render_the_same() {
        let mut sp = crate::net::testkit::svc(
            "http-svc",
            "10.96.24.104",
            8080,
            super::super::tests::three_endpoints(),
        );
        sp.node_port = Some(30001);
        let input = crate::net::testkit::node(vec![sp]);
        let (view, _) = view_of(&input);
        assert_eq!(view.render(), IptablesRules::build(&input).render());
    }

    proptest! {
        // A fixed seed: the same cases on every run and machine (CI must not flake).
        #![proptest_config(proptest::test_runner::Config {
            rng_seed: proptest::test_runner::RngSeed::Fixed(3),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]
        /// The shared pieces, put together, are the node's rules: the same `iptables-save`
        /// text, and every packet walked the same way (the same verdicts and random draws,
        /// the same `-m recent` lists), directly and through the route cache.
        #[test]
        fn view_equals_whole_rules(
            mut input in arb_input(),
            pkts in proptest::collection::vec(arb_packet(), 1..12),
            order in proptest::collection::vec(any::<proptest::sample::Index>(), 1..60),
            seed in any::<u64>(),
        ) {
            // A Service's port names are unique (the API server rejects duplicates), so no two
            // ports share a key; the generator may repeat one.
            let mut keys = std::collections::BTreeSet::new();
            input.services.retain(|s| keys.insert(super::super::port_key(s)));
            let whole = IptablesRules::build(&input);
            let (mut view, index) = view_of(&input);
            prop_assert_eq!(view.render(), whole.render());
            let (mut r1, mut r2, mut r3) = (
                ChaCha8Rng::seed_from_u64(seed),
                ChaCha8Rng::seed_from_u64(seed),
                ChaCha8Rng::seed_from_u64(seed),
            );
            let (mut a1, mut a2, mut a3) =
                (AffinityTable::new(), AffinityTable::new(), AffinityTable::new());
            for (i, ix) in order.iter().enumerate() {
                let p = ix.get(&pkts);
                let now = i as u64 * 7_000_000_000;
                let plain = whole.route_unindexed(p, &mut r1, &mut a1, now);
                let direct = by_index(view.route(p, &mut r2, &mut a2, now), &index);
                let cached = by_index(view.route_cached(p, &mut r3, &mut a3, now), &index);
                prop_assert_eq!(direct, plain);
                prop_assert_eq!(cached, plain);
                prop_assert!(r1 == r2 && r1 == r3, "random draws differ after packet {}", i);
                prop_assert_eq!(&a1, &a2);
                prop_assert_eq!(&a1, &a3);
            }
        }
    }
}
