//! Printing rules as `iptables-save` does.

use super::*;
use crate::net::hash::chain_name;

impl IptablesRules {
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    pub fn chain(&self, id: ChainId) -> &Chain {
        &self.chains[id.0 as usize]
    }

    /// The chain called `name` in `table`.
    pub fn chain_id(&self, table: Table, name: &str) -> Option<ChainId> {
        self.chains
            .iter()
            .position(|c| c.table == table && c.name == name)
            .map(|i| ChainId(i as u32))
    }

    /// A rule as `iptables-save` prints it, starting `-A CHAIN`.
    pub fn rule_text(&self, chain: ChainId, rule: usize) -> String {
        let mut s = String::new();
        self.write_rule(&mut s, self.chain(chain), &self.chain(chain).rules[rule]);
        s
    }

    fn write_rule(&self, out: &mut String, chain: &Chain, r: &Rule) {
        let _ = write!(out, "-A {}", chain.name);
        for (flag, c) in [("-s", r.src), ("-d", r.dst)] {
            if let Some(c) = c {
                let neg = if c.negate { " !" } else { "" };
                let _ = write!(
                    out,
                    "{neg} {flag} {}/{}",
                    Ipv4Addr::from(c.network),
                    c.prefix
                );
            }
        }
        if let Some(p) = r.protocol {
            let _ = write!(out, " -p {}", p.lower());
        }
        for m in &r.matchers {
            match m {
                Matcher::Comment(c) => {
                    let _ = write!(out, " -m comment --comment \"{}\"", c.replace('"', "\\\""));
                }
                Matcher::Port { protocol, dport } => {
                    let _ = write!(out, " -m {}", protocol.lower());
                    if let Some(d) = dport {
                        let _ = write!(out, " --dport {d}");
                    }
                }
                Matcher::AddrTypeLocal { source } => {
                    let dir = if *source { "src" } else { "dst" };
                    let _ = write!(out, " -m addrtype --{dir}-type LOCAL");
                }
                Matcher::Mark {
                    value,
                    mask,
                    negate,
                } => {
                    let neg = if *negate { " !" } else { "" };
                    let _ = write!(out, " -m mark{neg} --mark {value:#x}/{mask:#x}");
                }
                Matcher::CtState { states, negate } => {
                    let neg = if *negate { " !" } else { "" };
                    let names: Vec<&str> = [
                        (ctstate::INVALID, "INVALID"),
                        (ctstate::NEW, "NEW"),
                        (ctstate::RELATED, "RELATED"),
                        (ctstate::ESTABLISHED, "ESTABLISHED"),
                        (ctstate::DNAT, "DNAT"),
                    ]
                    .iter()
                    .filter(|(bit, _)| states & bit != 0)
                    .map(|(_, n)| *n)
                    .collect();
                    let _ = write!(out, " -m conntrack{neg} --ctstate {}", names.join(","));
                }
                Matcher::Statistic { probability } => {
                    let _ = write!(
                        out,
                        " -m statistic --mode random --probability {}",
                        saved_probability(*probability)
                    );
                }
                Matcher::RecentCheck { list, seconds } => {
                    let _ = write!(
                        out,
                        " -m recent --rcheck --seconds {seconds} --reap --name {} --mask 255.255.255.255 --rsource",
                        chain_name("KUBE-SEP-", &list.0)
                    );
                }
                Matcher::RecentSet { list } => {
                    let _ = write!(
                        out,
                        " -m recent --set --name {} --mask 255.255.255.255 --rsource",
                        chain_name("KUBE-SEP-", &list.0)
                    );
                }
            }
        }
        match r.target {
            Target::None => {}
            Target::Jump(c) => {
                let _ = write!(out, " -j {}", self.chain(c).name);
            }
            Target::Goto(c) => {
                let _ = write!(out, " -g {}", self.chain(c).name);
            }
            Target::Return => out.push_str(" -j RETURN"),
            Target::Accept => out.push_str(" -j ACCEPT"),
            Target::Drop => out.push_str(" -j DROP"),
            Target::Reject => out.push_str(" -j REJECT --reject-with icmp-port-unreachable"),
            Target::MarkOr(v) => {
                let _ = write!(out, " -j MARK --set-xmark {v:#x}/{v:#x}");
            }
            Target::MarkXor(v) => {
                let _ = write!(out, " -j MARK --set-xmark {v:#x}/0x0");
            }
            Target::Masquerade => out.push_str(" -j MASQUERADE --random-fully"),
            Target::Dnat { ip, port, .. } => {
                let _ = write!(out, " -j DNAT --to-destination {ip}:{port}");
            }
        }
    }

    /// The nat and filter tables as `iptables-save` prints them: built-in chains first with
    /// their policy, then the other chains by name, then each chain's rules in that order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for table in [Table::Nat, Table::Filter] {
            let mut ids: Vec<usize> = (0..self.chains.len())
                .filter(|&i| self.chains[i].table == table)
                .collect();
            // Built-ins keep their hook order; the rest sort by name.
            ids.sort_by(|&a, &b| {
                let (ca, cb) = (&self.chains[a], &self.chains[b]);
                match (ca.builtin, cb.builtin) {
                    (true, true) => a.cmp(&b),
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    (false, false) => ca.name.cmp(&cb.name),
                }
            });
            let _ = writeln!(
                out,
                "# Generated by iptables-save v1.8.9 on {}",
                self.node_name
            );
            let _ = writeln!(out, "*{}", table.as_str());
            for &i in &ids {
                let c = &self.chains[i];
                if c.builtin {
                    let _ = writeln!(out, ":{} ACCEPT [0:0]", c.name);
                } else {
                    let _ = writeln!(out, ":{} - [0:0]", c.name);
                }
            }
            for &i in &ids {
                let c = &self.chains[i];
                for r in &c.rules {
                    self.write_rule(&mut out, c, r);
                    out.push('\n');
                }
            }
            out.push_str("COMMIT\n");
            let _ = writeln!(out, "# Completed on {}", self.node_name);
        }
        out
    }

}
