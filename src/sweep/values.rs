//! The VALUES of `--set KEY=VALUES`: a comma list (`1,2,4`), an integer range (`1..12`), a
//! range with a step and a unit (`500/s..4000/s:500/s`, `100ms..1s:100ms`), or a mix
//! (`1,2,4..8`). Each value is kept as text, as it would be written in the scenario; the
//! scenario loader checks it when the cell is loaded.

/// Expands VALUES into the values of one grid axis, in order.
pub fn expand(values: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in values.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("empty value in {values:?}"));
        }
        match item.split_once("..") {
            None => out.push(item.to_string()),
            Some((a, rest)) => out.extend(range(item, a, rest)?),
        }
    }
    Ok(out)
}

/// A number and the unit written after it: `500/s` → (500, "/s"), `1.5` → (1.5, "").
fn number_unit(s: &str) -> Option<(f64, &str, usize)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let decimals = num.split_once('.').map_or(0, |(_, d)| d.len());
    num.parse::<f64>().ok().map(|n| (n, unit, decimals))
}

fn range(item: &str, a: &str, rest: &str) -> Result<Vec<String>, String> {
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let bad = |why: &str| {
        format!("{item:?}: {why} (ranges: 1..12, or START..END:STEP with one unit, e.g. 500/s..4000/s:500/s)")
    };
    let (x0, u0, d0) = number_unit(a).ok_or_else(|| bad("the start is not a number"))?;
    let (x1, u1, d1) = number_unit(b).ok_or_else(|| bad("the end is not a number"))?;
    let (dx, ud, dd) = match step {
        Some(s) => number_unit(s).ok_or_else(|| bad("the step is not a number"))?,
        None => {
            if d0 > 0 || d1 > 0 {
                return Err(bad("a range without a step takes integers"));
            }
            (1.0, u0, 0)
        }
    };
    if u0 != u1 || u0 != ud {
        return Err(bad("start, end and step must have the same unit"));
    }
    if dx <= 0.0 {
        return Err(bad("the step must be positive"));
    }
    if x1 < x0 {
        return Err(bad("the end is before the start"));
    }
    let decimals = d0.max(d1).max(dd);
    let count = libm::floor((x1 - x0) / dx + 1e-9) as u64 + 1;
    if count > 10_000 {
        return Err(bad("more than 10000 values"));
    }
    Ok((0..count)
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
    }
}
