//! `kubesim reach`: the truth table of which pods may connect to which, as CSV and as a grid.

use crate::sim::ReachRow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Exactly `from,to,port,protocol,ingress,egress,verdict`, one line a row; `ingress` and
/// `egress` are `allow` or `deny` as `verdict` is.
pub fn reach_csv(rows: &[ReachRow]) -> String {
    let word = |b: bool| if b { "allow" } else { "deny" };
    let mut out = String::from("from,to,port,protocol,ingress,egress,verdict\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            csv_field(&r.from),
            csv_field(&r.to),
            r.port,
            r.protocol.as_str(),
            word(r.ingress),
            word(r.egress),
            word(r.allows())
        );
    }
    out
}

/// A field quoted as RFC 4180 wants when it holds a comma (a group's labels do).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One port's cells by (source, destination) index.
type Cells<'a> = BTreeMap<(usize, usize), &'a ReachRow>;

/// One grid per destination port: sources down, destinations across (numbered, named in the
/// key above), each cell `allow`, or `deny` with where: `in` (the destination's ingress), `out`
/// (the source's egress) or `both`; `-` where the destination has no such port.
pub fn reach_grid(rows: &[ReachRow]) -> String {
    let mut ends: Vec<&str> = rows
        .iter()
        .flat_map(|r| [r.from.as_str(), r.to.as_str()])
        .collect();
    ends.sort_unstable();
    ends.dedup();
    let index: BTreeMap<&str, usize> = ends.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    let mut out = String::new();
    if ends.is_empty() {
        out.push_str("no pods with an address\n");
        return out;
    }
    for (i, e) in ends.iter().enumerate() {
        let _ = writeln!(out, "[{}] {e}", i + 1);
    }
    let mut by_port: BTreeMap<(u16, &str), Cells> = BTreeMap::new();
    for r in rows {
        by_port
            .entry((r.port, r.protocol.as_str()))
            .or_default()
            .insert((index[r.from.as_str()], index[r.to.as_str()]), r);
    }
    let width = 6usize.max(format!("[{}]", ends.len()).len());
    for ((port, proto), cells) in &by_port {
        let tos: std::collections::BTreeSet<usize> = cells.keys().map(|(_, t)| *t).collect();
        let _ = writeln!(out, "\n{port}/{proto}  FROM \\ TO");
        let _ = write!(out, "{:width$}", "");
        for t in &tos {
            let _ = write!(out, " {:>width$}", format!("[{}]", t + 1));
        }
        out.push('\n');
        for f in 0..ends.len() {
            let _ = write!(out, "{:width$}", format!("[{}]", f + 1));
            for t in &tos {
                let cell = match cells.get(&(f, *t)) {
                    None => "-",
                    Some(r) if r.allows() => "allow",
                    Some(r) if !r.ingress && !r.egress => "both",
                    Some(r) if !r.ingress => "in",
                    Some(_) => "out",
                };
                let _ = write!(out, " {cell:>width$}");
            }
            out.push('\n');
        }
    }
    out.push_str("\nallow: may connect; in: denied by the destination's ingress; out: by the source's egress; both: by both\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::objects::Protocol;

    fn row(from: &str, to: &str, ingress: bool, egress: bool) -> ReachRow {
        ReachRow {
            from: from.into(),
            to: to.into(),
            port: 80,
            protocol: Protocol::Tcp,
            ingress,
            egress,
        }
    }

    #[test]
    fn csv_quotes_group_names_and_says_allow_or_deny() {
        let rows = [
            row("x/pod=a", "x/pod=b", true, true),
            row("x/app=a,tier=1", "x/pod=b", false, true),
        ];
        assert_eq!(
            reach_csv(&rows),
            "from,to,port,protocol,ingress,egress,verdict\n\
             x/pod=a,x/pod=b,80,TCP,allow,allow,allow\n\
             \"x/app=a,tier=1\",x/pod=b,80,TCP,deny,allow,deny\n"
        );
    }

    #[test]
    fn grid_names_where_a_connection_is_denied() {
        let rows = [
            row("x/a", "x/b", false, true),
            row("x/b", "x/a", true, false),
        ];
        let g = reach_grid(&rows);
        assert!(g.starts_with("[1] x/a\n[2] x/b\n"), "{g}");
        assert!(g.contains("[1]         -     in\n"), "{g}");
        assert!(g.contains("[2]       out      -\n"), "{g}");
    }
}
