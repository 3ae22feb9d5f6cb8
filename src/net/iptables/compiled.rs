//! The rules as the walk reads them, and the index over a chain's leading rules.

use super::*;

/// The rules as the walk reads them: one array for all chains, comments left out, address
/// matches pre-masked (an absent one matches everything). Derived from `chains` rule for rule,
/// so a rule's position is the same in both and traces name the same rules.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Compiled {
    /// Each chain's rules: `rules[start..end]`.
    pub(super) chains: Vec<(u32, u32)>,
    pub(super) rules: Vec<CompiledRule>,
    /// Each rule's match modules other than comments: `matchers[start..end]`.
    pub(super) matchers: Vec<CompiledMatcher>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CompiledRule {
    pub(super) src: MaskedCidr,
    pub(super) dst: MaskedCidr,
    pub(super) protocol: Option<Protocol>,
    pub(super) matchers: (u32, u32),
    pub(super) target: Target,
}

/// `((ip & mask) == network) != negate`; mask 0, network 0 and no negation match every
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MaskedCidr {
    pub(super) mask: u32,
    pub(super) network: u32,
    pub(super) negate: bool,
}

impl MaskedCidr {
    pub(super) const ANY: MaskedCidr = MaskedCidr {
        mask: 0,
        network: 0,
        negate: false,
    };
    fn new(c: Option<Cidr>) -> MaskedCidr {
        c.map_or(MaskedCidr::ANY, |c| MaskedCidr {
            mask: c.mask(),
            network: c.network,
            negate: c.negate,
        })
    }
    #[inline(always)]
    pub(super) fn matches(self, ip: u32) -> bool {
        ((ip & self.mask) == self.network) != self.negate
    }
}

/// [`Matcher`] without comments (they always match).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum CompiledMatcher {
    Port {
        protocol: Protocol,
        dport: Option<u16>,
    },
    AddrTypeLocal {
        source: bool,
    },
    Mark {
        value: u32,
        mask: u32,
        negate: bool,
    },
    CtState {
        states: u8,
        negate: bool,
    },
    Statistic {
        probability: f64,
    },
    RecentCheck {
        list: RecentList,
        seconds: u32,
    },
    RecentSet {
        list: RecentList,
    },
}

impl Compiled {
    pub(super) fn new(chains: &[Chain]) -> Compiled {
        let mut c = Compiled {
            chains: Vec::with_capacity(chains.len()),
            rules: Vec::new(),
            matchers: Vec::new(),
        };
        for chain in chains {
            let start = c.rules.len() as u32;
            for r in &chain.rules {
                let m_start = c.matchers.len() as u32;
                c.matchers.extend(r.matchers.iter().filter_map(|m| {
                    Some(match m {
                        Matcher::Comment(_) => return None,
                        Matcher::Port { protocol, dport } => CompiledMatcher::Port {
                            protocol: *protocol,
                            dport: *dport,
                        },
                        Matcher::AddrTypeLocal { source } => {
                            CompiledMatcher::AddrTypeLocal { source: *source }
                        }
                        Matcher::Mark {
                            value,
                            mask,
                            negate,
                        } => CompiledMatcher::Mark {
                            value: *value,
                            mask: *mask,
                            negate: *negate,
                        },
                        Matcher::CtState { states, negate } => CompiledMatcher::CtState {
                            states: *states,
                            negate: *negate,
                        },
                        Matcher::Statistic { probability } => CompiledMatcher::Statistic {
                            probability: *probability,
                        },
                        Matcher::RecentCheck { list, seconds } => CompiledMatcher::RecentCheck {
                            list: *list,
                            seconds: *seconds,
                        },
                        Matcher::RecentSet { list } => CompiledMatcher::RecentSet { list: *list },
                    })
                }));
                c.rules.push(CompiledRule {
                    src: MaskedCidr::new(r.src),
                    dst: MaskedCidr::new(r.dst),
                    protocol: r.protocol,
                    matchers: (m_start, c.matchers.len() as u32),
                    target: r.target,
                });
            }
            c.chains.push((start, c.rules.len() as u32));
        }
        c
    }
}

pub(super) fn build_index(c: &Chain) -> Option<ChainIndex> {
    let key = |r: &Rule| -> Option<(bool, u32, u16, Protocol)> {
        if r.src.is_some() {
            return None;
        }
        let dst = match r.dst {
            Some(d) if d.prefix == 32 && !d.negate => Some(d.network),
            Some(_) => return None,
            None => None,
        };
        let mut port = None;
        for m in &r.matchers {
            match m {
                Matcher::Comment(_) => {}
                Matcher::Port {
                    protocol,
                    dport: Some(p),
                } if Some(*protocol) == r.protocol && port.is_none() => {
                    port = Some((*p, *protocol));
                }
                _ => return None,
            }
        }
        let (p, proto) = port?;
        Some((dst.is_some(), dst.unwrap_or(0), p, proto))
    };
    let by_dst = key(c.rules.first()?)?.0;
    let mut first = FxHashMap::default();
    let mut prefix = 0u32;
    for r in &c.rules {
        match key(r) {
            Some((d, dst, p, proto)) if d == by_dst => {
                first.entry((dst, p, proto)).or_insert(prefix);
                prefix += 1;
            }
            _ => break,
        }
    }
    (prefix >= 2).then_some(ChainIndex {
        by_dst,
        first,
        prefix,
    })
}
