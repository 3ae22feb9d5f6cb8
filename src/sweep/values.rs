//! The VALUES of `--set KEY=VALUES`: a comma list (`1,2,4`), an integer range (`1..12`), a
//! range with a step and a unit (`500/s..4000/s:500/s`, `100ms..1s:100ms`), or a mix
//! (`1,2,4..8`). Each value is kept as text, as it would be written in the scenario; the
//! scenario loader checks it when the cell is loaded.

/// Values one axis may have: kubesim's bound (the grid's is [`super::MAX_CELLS`]).
pub const MAX_VALUES: usize = 10_000;

/// Expands VALUES into the values of one grid axis, in order; more than [`MAX_VALUES`] is an
/// error.
pub fn expand(values: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in values.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("empty value in {values:?}"));
        }
        match item.split_once("..") {
            None => out.push(item.to_string()),
            Some((a, rest)) => out.extend(range(item, a, rest, MAX_VALUES - out.len())?),
        }
        if out.len() > MAX_VALUES {
            return Err(format!(
                "{values:?}: more than {MAX_VALUES} values (kubesim's bound on one axis)"
            ));
        }
    }
    Ok(out)
}

/// A number as written and the unit after it: `500/s` → ("500", "/s").
fn number_unit(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    num.parse::<f64>().ok().map(|_| (num, unit))
}

/// A range of at most `room` values.
fn range(item: &str, a: &str, rest: &str, room: usize) -> Result<Vec<String>, String> {
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let bad = |why: &str| {
        format!("{item:?}: {why} (ranges: 1..12, or START..END:STEP with one unit, e.g. 500/s..4000/s:500/s)")
    };
    let (n0, u0) = number_unit(a).ok_or_else(|| bad("the start is not a number"))?;
    let (n1, u1) = number_unit(b).ok_or_else(|| bad("the end is not a number"))?;
    let (nd, ud) = match step {
        Some(s) => number_unit(s).ok_or_else(|| bad("the step is not a number"))?,
        None => {
            if n0.contains('.') || n1.contains('.') {
                return Err(bad("a range without a step takes integers"));
            }
            ("1", u0)
        }
    };
    if u0 != u1 || u0 != ud {
        return Err(bad("start, end and step must have the same unit"));
    }
    let too_many = || {
        bad(&format!(
            "more than {MAX_VALUES} values (kubesim's bound on one axis)"
        ))
    };
    // Whole numbers are counted exactly; a range of them never loses a value to rounding.
    if ![n0, n1, nd].iter().any(|n| n.contains('.')) {
        let int = |n: &str, what: &str| {
            n.parse::<u64>()
                .map_err(|_| bad(&format!("the {what} is too large (at most {})", u64::MAX)))
        };
        let (x0, x1, dx) = (int(n0, "start")?, int(n1, "end")?, int(nd, "step")?);
        if dx == 0 {
            return Err(bad("the step must be positive"));
        }
        if x1 < x0 {
            return Err(bad("the end is before the start"));
        }
        let count = ((x1 - x0) / dx).checked_add(1);
        let Some(count) = count.filter(|c| *c <= room as u64) else {
            return Err(too_many());
        };
        return Ok((0..count).map(|k| format!("{}{u0}", x0 + k * dx)).collect());
    }
    let (x0, x1, dx): (f64, f64, f64) = (
        n0.parse().expect("checked"),
        n1.parse().expect("checked"),
        nd.parse().expect("checked"),
    );
    if !(x0.is_finite() && x1.is_finite() && dx.is_finite()) {
        return Err(bad("a number is too large"));
    }
    if dx <= 0.0 {
        return Err(bad("the step must be positive"));
    }
    if x1 < x0 {
        return Err(bad("the end is before the start"));
    }
    let decimals = [n0, n1, nd]
        .iter()
        .map(|n| n.split_once('.').map_or(0, |(_, d)| d.len()))
        .max()
        .unwrap_or(0);
    let count = libm::floor((x1 - x0) / dx + 1e-9) + 1.0;
    if count.is_nan() || count > room as f64 {
        return Err(too_many());
    }
    Ok((0..count as u64)
        .map(|k| {
            let x = x0 + k as f64 * dx;
            format!("{x:.decimals$}{u0}")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ranges_and_steps_keep_their_units() {
        assert_eq!(expand("1,2,4").unwrap(), ["1", "2", "4"]);
        assert_eq!(expand("1..4").unwrap(), ["1", "2", "3", "4"]);
        assert_eq!(
            expand("500/s..2000/s:500/s").unwrap(),
            ["500/s", "1000/s", "1500/s", "2000/s"]
        );
        assert_eq!(expand("0.1..0.3:0.1").unwrap(), ["0.1", "0.2", "0.3"]);
        assert_eq!(
            expand("1,3..5,iptables").unwrap(),
            ["1", "3", "4", "5", "iptables"]
        );
        assert_eq!(expand("100ms..250ms:100ms").unwrap(), ["100ms", "200ms"]);
    }

    #[test]
    fn bad_ranges_say_why() {
        assert!(expand("1s..1500ms:250ms")
            .unwrap_err()
            .contains("same unit"));
        assert!(expand("5..1").unwrap_err().contains("before the start"));
        assert!(expand("1..x").unwrap_err().contains("end is not a number"));
        assert!(expand("1,,2").unwrap_err().contains("empty value"));
        assert!(expand("1..3:0").unwrap_err().contains("positive"));
        assert!(expand("0.1..0.3:0").unwrap_err().contains("positive"));
    }

    /// The issue's `0..18446744073709551615` gave 0 cells (the count wrapped): now an error,
    /// and no range is ever expanded past the bound.
    #[test]
    fn ranges_beyond_the_bound_are_errors() {
        let e = expand("0..18446744073709551615").unwrap_err();
        assert!(e.contains("more than 10000 values"), "{e}");
        let e = expand("0..18446744073709551616").unwrap_err();
        assert!(e.contains("too large"), "{e}");
        assert!(expand("1..10000").is_ok());
        assert!(expand("1..10001").is_err());
        assert!(
            expand("0..5000,1..5001").is_err(),
            "the bound is on the whole axis"
        );
        assert!(expand("0.5..1000000000.5:0.5").is_err());
        assert!(expand("0..1:0.00000001").is_err());
        // Large whole numbers are exact (an f64 would round them).
        assert_eq!(
            expand("9007199254740993..9007199254740995").unwrap(),
            ["9007199254740993", "9007199254740994", "9007199254740995"]
        );
    }
}
