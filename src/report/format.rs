//! Text formatting shared by the tables, files and charts: kubectl's ages and column layout,
//! simulated instants, and rounding that keeps the outputs byte-identical across platforms.

use crate::engine::{SimDuration, SimTime};

/// Column layout of kubectl's table printer: Go's `tabwriter` with minimum cell width 6 and
/// padding 3 (`k8s.io/cli-runtime/pkg/printers/tabwriter.go`).
const TABWRITER_MIN_WIDTH: usize = 6;
/// Spaces after the widest cell of a column (same source).
const TABWRITER_PADDING: usize = 3;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// Lays out rows as kubectl's tabwriter does: every column but the last is padded to its
/// widest cell plus 3 spaces (at least 6 wide); the last column is not padded, so lines carry
/// no trailing spaces. Widths count characters, as `tabwriter` counts UTF-8 runes.
pub(crate) fn tabwrite<R, C>(header: &[&str], rows: &[R], align: &[Align]) -> String
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    let mut bytes = 0;
    for row in rows {
        let row = row.as_ref();
        debug_assert_eq!(row.len(), columns, "a row must have one cell per column");
        for (w, cell) in widths.iter_mut().zip(row) {
            let cell = cell.as_ref();
            *w = (*w).max(width(cell));
            bytes += cell.len();
        }
    }
    let line_pad: usize = widths.iter().map(|w| w + TABWRITER_MIN_WIDTH).sum();
    let mut out = String::with_capacity(bytes + (rows.len() + 1) * (line_pad + 1));
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let start = out.len();
        for (i, cell) in cells.enumerate() {
            let len = width(cell);
            let last = i + 1 == columns;
            let right = align.get(i) == Some(&Align::Right);
            if right {
                spaces(out, widths[i] - len);
            }
            out.push_str(cell);
            if !last {
                let cell_width = (widths[i] + TABWRITER_PADDING).max(TABWRITER_MIN_WIDTH);
                let used = if right { widths[i] } else { len };
                spaces(out, cell_width - used);
            }
        }
        let kept = start + out[start..].trim_end().len();
        out.truncate(kept);
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.as_ref().iter().map(AsRef::as_ref));
    }
    out
}

/// The columns `s` takes on a terminal.
pub(crate) fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Appends `n` spaces.
fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// An age as kubectl prints it (`duration.HumanDuration` in
/// `k8s.io/apimachinery/pkg/util/duration`): `45s`, `5m30s`, `12m`, `3h20m`, `2d4h`, `3y`.
pub fn human_duration(d: SimDuration) -> String {
    let seconds = d.as_nanos() / 1_000_000_000;
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A simulated instant as seconds with milliseconds, from integer nanoseconds (rounded to the
/// nearest millisecond): `12.345s`.
pub fn instant(t: SimTime) -> String {
    let ms = (t.as_nanos() + 500_000) / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Seconds as a JSON/CSV number, rounded to the microsecond.
pub(crate) fn secs(ns: u64) -> f64 {
    round_to(ns as f64 / 1e9, 6)
}

/// `x` rounded half away from zero to `decimals` places, so serialised figures do not carry
/// float noise from the last bits.
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = libm::pow(10.0, decimals as f64);
    libm::round(x * scale) / scale
}

/// `6000` as `6,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count that may have a fraction, such as the fair share, as the tables and charts print it:
/// digits grouped like [`thousands`], and one decimal only when it is not a whole number
/// (`21,624`, `1,997.5`, `333.3`). The decimal is Rust's `{:.1}` of the value, as printed
/// before the grouping was added.
pub(crate) fn count_tenths(x: f64) -> String {
    let x = x.max(0.0);
    if x == libm::trunc(x) {
        return thousands(x as u64);
    }
    let fixed = format!("{x:.1}");
    match fixed.split_once('.') {
        Some((int, tenth)) => match int.parse::<u64>() {
            Ok(int) => format!("{}.{tenth}", thousands(int)),
            Err(_) => fixed,
        },
        None => fixed,
    }
}

/// `part / whole` as a percentage with one decimal: `33.4%`; `-` when `whole` is zero.
pub(crate) fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hd(secs: u64) -> String {
        human_duration(SimDuration::from_secs(secs))
    }

    #[test]
    fn ages_follow_human_duration() {
        assert_eq!(hd(0), "0s");
        assert_eq!(hd(60), "60s");
        assert_eq!(hd(119), "119s");
        assert_eq!(hd(120), "2m");
        assert_eq!(hd(330), "5m30s");
        assert_eq!(hd(600), "10m");
        assert_eq!(hd(3 * 3600 + 20 * 60), "3h20m");
        assert_eq!(hd(8 * 3600), "8h");
        assert_eq!(hd(2 * 86400), "2d");
        assert_eq!(hd(2 * 86400 + 4 * 3600), "2d4h");
        assert_eq!(hd(30 * 86400), "30d");
        assert_eq!(hd(3 * 365 * 86400), "3y");
        assert_eq!(human_duration(SimDuration::from_millis(1999)), "1s");
    }

    #[test]
    fn tabwrite_pads_like_kubectl() {
        let rows = vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]];
        let out = tabwrite(&["NAME", "READY", "X"], &rows, &[]);
        assert_eq!(out, "NAME   READY   X\na      b       c\n");
    }

    /// A name in Chinese takes two columns a character, as the terminal draws it, so the next
    /// column starts under its header.
    #[test]
    fn tabwrite_aligns_wide_characters() {
        let rows = vec![
            vec!["网页-0".to_string(), "Running".to_string()],
            vec!["web-1".to_string(), "Pending".to_string()],
        ];
        let out = tabwrite(&["NAME", "STATUS"], &rows, &[]);
        let at: Vec<usize> = out
            .lines()
            .map(|l| width(&l[..l.find(['S', 'R', 'P']).unwrap()]))
            .collect();
        assert_eq!(at, [9, 9, 9], "{out}");
        assert_eq!(out, "NAME     STATUS\n网页-0   Running\nweb-1    Pending\n");
    }

    #[test]
    fn numbers_format() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(6000), "6,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(count_tenths(21624.0), "21,624");
        assert_eq!(count_tenths(64871.0 / 3.0), "21,623.7");
        assert_eq!(count_tenths(1000.0 / 3.0), "333.3");
        assert_eq!(count_tenths(1997.5), "1,997.5");
        assert_eq!(count_tenths(999.96), "1,000.0");
        assert_eq!(count_tenths(0.0), "0");
        assert_eq!(instant(SimTime::from_nanos(12_345_600_000)), "12.346s");
        assert_eq!(round_to(1.23456, 3), 1.235);
        assert_eq!(percent(1.0, 3.0), "33.3%");
    }
}
