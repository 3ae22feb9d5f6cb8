//! How much the terminal tables and the pictures show, whatever the size of the cluster and the
//! run. A table lists at most a readable number of rows, a picture draws at most a readable
//! number of pods, nodes, Services, streams and event labels, and no picture is larger than a
//! fixed size; beyond a limit they show the largest items by a key they state and say how many
//! were left out and what those add up to. `summary.json` and the CSV files are never cut.
//!
//! Below every limit nothing is summarised, so the bundled scenarios (a dozen pods at most)
//! print and draw exactly as they did before the limits existed. The limits are constants, not
//! options: a picture that reads well at 12,000 pods is the same picture at 120,000.

use std::cmp::Reverse;

/// Rows the node, pod, Service, requests-per-pod and stream tables list before they summarise.
pub const TABLE_ROWS: usize = 50;
/// Events the events table lists before it summarises; then the first and the last half of
/// this many, in time order (`events.log` keeps every one).
pub const EVENT_ROWS: usize = 100;
/// Distinct reasons named in the line that counts the events left out.
pub(crate) const REASONS_NAMED: usize = 6;

/// How many rows the terminal tables print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rows {
    /// Every row up to the table's limit; beyond it the largest rows by the table's stated key
    /// and a line saying how many were left out, that `--all` prints them.
    #[default]
    Summary,
    /// Every row, however many (`--all`).
    All,
}

impl Rows {
    /// Whether a table of `len` rows and limit `limit` is cut.
    pub(crate) fn cuts(self, len: usize, limit: usize) -> bool {
        self == Rows::Summary && len > limit
    }
}

/// The indices of the `n` largest of `items` by `key`, largest first; ties keep the items'
/// order. Linear in `items` plus `n log n`, so a limit costs little whatever the count.
pub(crate) fn largest<T, K: Ord>(items: &[T], n: usize, key: impl Fn(&T) -> K) -> Vec<usize> {
    let mut keyed: Vec<(Reverse<K>, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| (Reverse(key(t)), i))
        .collect();
    if n == 0 {
        return Vec::new();
    }
    if n < keyed.len() {
        keyed.select_nth_unstable(n - 1);
        keyed.truncate(n);
    }
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Counts of each distinct key, most frequent first (ties by key), as `11,890 Pending, 60
/// Running`; at most `named` keys, then `…`.
pub(crate) fn tally<'a>(keys: impl IntoIterator<Item = &'a str>, named: usize) -> String {
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for k in keys {
        *counts.entry(k).or_insert(0) += 1;
    }
    let mut by_count: Vec<(&str, u64)> = counts.into_iter().collect();
    by_count.sort_by_key(|&(k, n)| (Reverse(n), k));
    let mut parts: Vec<String> = by_count
        .iter()
        .take(named)
        .map(|(k, n)| format!("{} {k}", super::format::thousands(*n)))
        .collect();
    if by_count.len() > named {
        parts.push("…".to_string());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_keeps_order_among_ties_and_is_bounded() {
        let v = [3, 9, 1, 9, 5, 3];
        assert_eq!(largest(&v, 3, |x| *x), [1, 3, 4]);
        assert_eq!(largest(&v, 10, |x| *x), [1, 3, 4, 0, 5, 2]);
        assert_eq!(largest(&v, 0, |x| *x), Vec::<usize>::new());
        let many: Vec<u64> = (0..100_000).map(|i| (i * 7919) % 1000).collect();
        let top = largest(&many, 5, |x| *x);
        assert_eq!(top.len(), 5);
        assert!(top.iter().all(|&i| many[i] == 999));
        assert!(top.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tally_counts_most_frequent_first() {
        let v = ["Running", "Pending", "Pending", "Failed", "Unknown"];
        assert_eq!(tally(v, 6), "2 Pending, 1 Failed, 1 Running, 1 Unknown");
        assert_eq!(tally(v, 2), "2 Pending, 1 Failed, …");
        assert!(!Rows::Summary.cuts(50, 50));
        assert!(Rows::Summary.cuts(51, 50));
        assert!(!Rows::All.cuts(51, 50));
    }
}
