//! Simulated time in integer nanoseconds.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time: nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    // The constructors saturate at `u64::MAX` nanoseconds (584 years), as additions do, so a
    // count of seconds taken from input (`terminationGracePeriodSeconds`, an int64) cannot wrap.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us.saturating_mul(NS_PER_US))
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(NS_PER_MS))
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(NS_PER_S))
    }
    /// Rounds to the nearest nanosecond; negative and NaN inputs give zero.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            return SimDuration(0);
        }
        let ns = s * NS_PER_S as f64;
        if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(round_half_away(ns))
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub const fn saturating_sub(self, other: SimDuration) -> Self {
        SimDuration(self.0.saturating_sub(other.0))
    }
    pub const fn saturating_mul(self, k: u64) -> Self {
        SimDuration(self.0.saturating_mul(k))
    }

    /// Parses `250ms`, `30s`, `5m`, `1h`, `50us` (also `µs`, `ns`), decimals (`1.5s`) and
    /// sums of them as Go's `time.ParseDuration` does (`1m30s`); a bare `0` is zero.
    pub fn parse(text: &str) -> Result<Self, ParseDurationError> {
        let bad = || ParseDurationError(text.to_string());
        let mut rest = text.trim();
        if rest == "0" {
            return Ok(SimDuration(0));
        }
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (num, after) = rest.split_at(num_end);
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            let value: f64 = num.parse().map_err(|_| bad())?;
            let scale = match unit {
                "ns" => 1,
                "us" | "µs" => NS_PER_US,
                "ms" => NS_PER_MS,
                "s" => NS_PER_S,
                "m" => 60 * NS_PER_S,
                "h" => 3600 * NS_PER_S,
                _ => return Err(bad()),
            };
            total += value * scale as f64;
            rest = next;
        }
        if !total.is_finite() || total >= u64::MAX as f64 {
            return Err(bad());
        }
        Ok(SimDuration(libm::round(total) as u64))
    }
}

/// A duration string that is not of the form `<number><unit>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected a number and a unit, e.g. 250ms, 30s, 5m, 1h, 50us")]
pub struct ParseDurationError(pub String);

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}
impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

/// Prints the way the scenario format writes durations: `1m30s`, `250ms`, `20us`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return write!(f, "0s");
        }
        if ns % NS_PER_S == 0 {
            let s = ns / NS_PER_S;
            let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
            if h > 0 {
                write!(f, "{h}h")?;
            }
            if m > 0 {
                write!(f, "{m}m")?;
            }
            if s > 0 || (h == 0 && m == 0) {
                write!(f, "{s}s")?;
            }
            Ok(())
        } else if ns % NS_PER_MS == 0 {
            write!(f, "{}ms", ns / NS_PER_MS)
        } else if ns % NS_PER_US == 0 {
            write!(f, "{}us", ns / NS_PER_US)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// Seconds with up to three decimals, as the outputs print simulated instants.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

/// `libm::round(x) as u64` for `0 <= x < 2^64`, without the library call: the truncation,
/// plus one when the fraction is at least a half (half away from zero). `x - trunc(x)` is
/// exact for every finite `x`, so the result is the same for every input
/// (`tests::rounding_matches_libm`).
///
/// Below 2^63 (292 years of nanoseconds) it converts through `i64`, one instruction each way
/// on x86-64 (the `u64` conversions are branchy sequences); the result is the same, as
/// `trunc(x)` is an integer that `i64` and `f64` both hold exactly.
#[inline]
fn round_half_away(x: f64) -> u64 {
    if x < 9_223_372_036_854_775_808.0 {
        let t = x as i64;
        (t + i64::from(x - t as f64 >= 0.5)) as u64
    } else {
        let t = x as u64;
        t + u64::from(x - t as f64 >= 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_libm() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let check = |v: f64| {
            if (0.0..u64::MAX as f64).contains(&v) {
                assert_eq!(round_half_away(v), libm::round(v) as u64, "{v:e}");
            }
        };
        for v in [
            0.0,
            0.5,
            1.5,
            2.5,
            0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            9_223_372_036_854_775_808.0,
            1.8e19,
        ] {
            check(v);
            check(f64::from_bits(v.to_bits() + 1));
            check(f64::from_bits(v.to_bits().saturating_sub(1)));
        }
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Random bit patterns over every exponent, and nanosecond counts with fractions.
            check(f64::from_bits(x >> 1));
            check((x >> 20) as f64 + (x & 0xFFFF) as f64 / 65_536.0);
            check((x >> 11) as f64 * 1e-6);
        }
    }

    #[test]
    fn parses_every_unit_of_the_scenario_format() {
        assert_eq!(
            SimDuration::parse("250ms").unwrap(),
            SimDuration::from_millis(250)
        );
        assert_eq!(
            SimDuration::parse("30s").unwrap(),
            SimDuration::from_secs(30)
        );
        assert_eq!(
            SimDuration::parse("5m").unwrap(),
            SimDuration::from_secs(300)
        );
        assert_eq!(
            SimDuration::parse("1h").unwrap(),
            SimDuration::from_secs(3600)
        );
        assert_eq!(
            SimDuration::parse("50us").unwrap(),
            SimDuration::from_micros(50)
        );
        assert_eq!(
            SimDuration::parse("1.5s").unwrap(),
            SimDuration::from_millis(1500)
        );
        assert_eq!(SimDuration::parse("0").unwrap(), SimDuration::ZERO);
        for bad in ["", "s", "10", "10 parsecs", "-1s", "1e400s"] {
            assert!(SimDuration::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["1m30s", "250ms", "20us", "2h", "0s", "45s"] {
            assert_eq!(SimDuration::parse(s).unwrap().to_string(), s);
        }
    }
}
