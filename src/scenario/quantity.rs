//! Kubernetes resource quantities (`500m`, `2`, `128Mi`, `1G`, `129e6`), parsed exactly as
//! `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go` (`ParseQuantity`) does:
//! a signed decimal number followed by a binary-SI suffix (`Ki` .. `Ei`), a decimal-SI suffix
//! (`n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`) or a decimal exponent (`e3`, `E-2`).
//!
//! A quantity is held as upstream holds it after parsing: exactly, rounded up to a whole
//! nano-unit (`ParseQuantity` rounds a non-zero value up to `Nano` with `inf.RoundUp`), a
//! binary-SI value capped at 2^63-1 (`maxAllowed`). Nothing overflows: a value too large for
//! the 128-bit count of nano-units (about 3.4e29 units) is held as that largest count, and the
//! accessors saturate at `math.MaxInt64` as upstream's `Value`, `MilliValue` and
//! `ScaledValue` do (`quantity_overflow_test.go` pins `MilliValue` of `1E`, `2^63` and `1e100`
//! at `MaxInt64`). So `cpu: "18446744073709552"` asks for 2^63-1 millicores, which no node has:
//! the pod stays Pending, as upstream's scheduler leaves it.

use std::cmp::Ordering;
use std::fmt;

/// Upstream's `ErrFormatWrong` message (`quantity.go`).
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// The largest value an accessor gives: `math.MaxInt64`, where upstream's accessors saturate.
pub const MAX_SCALED: u64 = i64::MAX as u64;

/// Significant digits a quantity may have: kubesim's bound (upstream has none; the API
/// server's request size is the only limit). Far beyond any real quantity, and it keeps the
/// exact arithmetic below small.
pub const MAX_DIGITS: usize = 100;

/// Nano-units in one unit.
const NANO: u128 = 1_000_000_000;

/// An exact quantity, rounded up to a whole nano-unit: `sign * nanos / 10^9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub negative: bool,
    /// Nano-units of the magnitude, saturated at `u128::MAX`.
    nanos: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
    let bad = || QuantityError(FORMAT_WRONG.to_string());
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return Err(bad());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // value = digits * 10^exp10 * 2^exp2
    let mut exp10: i64 = -(frac_part.len() as i64);
    let mut exp2: u32 = 0;
    let binary = matches!(suffix, "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei");
    match suffix {
        "" => {}
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        _ => {
            let exp = suffix.strip_prefix(['e', 'E']).ok_or_else(bad)?;
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            // Upstream's exponent is an int32 (#141203 rejects larger ones).
            let e: i32 = exp
                .parse()
                .map_err(|_| QuantityError("unable to parse quantity's suffix".into()))?;
            exp10 += i64::from(e);
        }
    }
    // The significant digits: leading zeros go, and trailing zeros move into the exponent.
    let all = format!("{int_part}{frac_part}");
    let trimmed = all.trim_start_matches('0');
    let digits = trimmed.trim_end_matches('0');
    exp10 += (trimmed.len() - digits.len()) as i64;
    if digits.len() > MAX_DIGITS {
        return Err(QuantityError(format!(
            "quantity too long: more than {MAX_DIGITS} significant digits (kubesim's bound)"
        )));
    }
    let mut nanos = to_nanos(digits, exp10, exp2);
    // `maxAllowed`: a binary-SI amount above 2^63-1 is capped there.
    let cap = u128::from(MAX_SCALED) * NANO;
    if binary && nanos > cap {
        nanos = cap;
    }
    Ok(Quantity {
        negative: negative && nanos != 0,
        nanos,
    })
}

/// `ceil(digits * 10^exp10 * 2^exp2 * 10^9)`, saturated at `u128::MAX`.
fn to_nanos(digits: &str, exp10: i64, exp2: u32) -> u128 {
    if digits.is_empty() {
        return 0;
    }
    let n = digits.len() as i64;
    // In nano-units the value is digits * 10^t * 2^exp2, and 10^(n-1+t) <= digits * 10^t < 10^(n+t).
    let t = exp10 + 9;
    if n - 1 + t > 39 {
        return u128::MAX; // at least 10^40
    }
    // 2^exp2 < 10^19 (exp2 <= 60): below 10^-19 nano-units before it, below one after.
    if n + t <= -19 {
        return 1; // a non-zero value below one nano-unit rounds up to it
    }
    let mut big = Big::default();
    for d in digits.bytes() {
        big.mul_add(10, u32::from(d - b'0'));
    }
    for _ in 0..exp2 / 10 {
        big.mul_add(1024, 0);
    }
    let mut inexact = false;
    if t >= 0 {
        for _ in 0..t {
            big.mul_add(10, 0);
        }
    } else {
        // At most n + 19 divisions by the checks above.
        for _ in 0..-t {
            inexact |= big.div_rem(10) != 0;
        }
    }
    big.to_u128()
        .map_or(u128::MAX, |v| v.saturating_add(u128::from(inexact)))
}

/// A non-negative integer in base 2^32, least significant limb first: just the arithmetic
/// that turns a quantity's digits into nano-units exactly.
#[derive(Default)]
struct Big(Vec<u32>);

impl Big {
    /// `self = self * m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }
    /// `self = self / d`, returning the remainder.
    fn div_rem(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        rem as u32
    }
    /// The value, if it fits in 128 bits.
    fn to_u128(&self) -> Option<u128> {
        if self.0.len() > 4 {
            return None;
        }
        Some(
            self.0
                .iter()
                .rev()
                .fold(0u128, |acc, &l| (acc << 32) | u128::from(l)),
        )
    }
}

impl Quantity {
    /// The value times `10^scale` (`scale` from 0 to 9), rounded up as upstream's
    /// `ScaledValue` rounds (away from zero) and saturated at `math.MaxInt64` as it is;
    /// `None` when negative.
    pub fn ceil_scaled(&self, scale: u32) -> Option<u64> {
        if self.negative {
            return None;
        }
        let per = 10u128.pow(9 - scale.min(9));
        let v = self.nanos.div_ceil(per);
        Some(u64::try_from(v).map_or(MAX_SCALED, |v| v.min(MAX_SCALED)))
    }
    /// Millicores for a cpu quantity (`MilliValue`, rounded up, saturated).
    pub fn millis(&self) -> Option<u64> {
        self.ceil_scaled(3)
    }
    /// Whole units (bytes for memory, `Value`, rounded up, saturated).
    pub fn value(&self) -> Option<u64> {
        self.ceil_scaled(0)
    }
    /// Compares two quantities exactly (to the nano-unit), as upstream's `Cmp` does.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.nanos.cmp(&other.nanos),
            (true, true) => other.nanos.cmp(&self.nanos),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_quantities_parse_as_upstream() {
        assert_eq!(parse("500m").unwrap().millis(), Some(500));
        assert_eq!(parse("2").unwrap().millis(), Some(2000));
        assert_eq!(parse("0.5").unwrap().millis(), Some(500));
        assert_eq!(parse("0.0001").unwrap().millis(), Some(1), "rounds up");
        assert_eq!(parse("128Mi").unwrap().value(), Some(128 << 20));
        assert_eq!(parse("1Gi").unwrap().value(), Some(1 << 30));
        assert_eq!(parse("1G").unwrap().value(), Some(1_000_000_000));
        assert_eq!(parse("129e6").unwrap().value(), Some(129_000_000));
        assert_eq!(
            parse("1E").unwrap().value(),
            Some(1_000_000_000_000_000_000)
        );
        assert_eq!(parse("12E2").unwrap().value(), Some(1200));
        assert_eq!(parse("+1k").unwrap().value(), Some(1000));
        assert_eq!(parse("1.5Ki").unwrap().value(), Some(1536));
        assert_eq!(parse("1.5Ki").unwrap().millis(), Some(1_536_000));
        assert_eq!(parse("100n").unwrap().ceil_scaled(9), Some(100));
        assert_eq!(parse("0.1n").unwrap().ceil_scaled(9), Some(1), "up to 1n");
        assert_eq!(parse("1e-100").unwrap().ceil_scaled(9), Some(1));
        assert_eq!(parse("0").unwrap().millis(), Some(0));
        assert_eq!(parse("0.000Mi").unwrap().millis(), Some(0));
        assert!(parse("-1").unwrap().negative);
        assert_eq!(parse("-1").unwrap().value(), None);
        assert!(!parse("-0").unwrap().negative);
        assert_eq!(parse("1e-40").unwrap().millis(), Some(1), "rounds up");
        assert_eq!(parse("0e-40").unwrap().millis(), Some(0));
        for bad in ["", "abc", "1.2.3", "1Qi", "1e", "1 Mi", ".", "1e4294967297"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Upstream's accessors saturate at MaxInt64 (`quantity_overflow_test.go`): the issue's
    /// `cpu: "18446744073709552"` is 2^63-1 millicores, not a wrapped-around 384m.
    #[test]
    fn large_quantities_saturate_instead_of_wrapping() {
        let q = parse("18446744073709552").unwrap();
        assert_eq!(q.millis(), Some(MAX_SCALED));
        assert_eq!(q.value(), Some(18_446_744_073_709_552));
        assert_eq!(parse("1E").unwrap().millis(), Some(MAX_SCALED));
        assert_eq!(
            parse("9223372036854775808").unwrap().value(),
            Some(MAX_SCALED)
        );
        assert_eq!(parse("1e100").unwrap().value(), Some(MAX_SCALED));
        assert_eq!(parse("1e2147483647").unwrap().value(), Some(MAX_SCALED));
        // Binary-SI amounts are capped at 2^63-1 when parsed (`maxAllowed`).
        assert_eq!(parse("20Ei").unwrap().value(), Some(MAX_SCALED));
        assert_eq!(
            parse("20Ei").unwrap().cmp_value(&parse("8Ei").unwrap()),
            Ordering::Equal
        );
        let long = format!("1{}", "0".repeat(400));
        assert_eq!(parse(&long).unwrap().value(), Some(MAX_SCALED));
        let too_long = "1".repeat(MAX_DIGITS + 1);
        assert!(parse(&too_long)
            .unwrap_err()
            .0
            .contains("significant digits"));
    }

    #[test]
    fn comparisons_are_exact() {
        let q = |s| parse(s).unwrap();
        assert_eq!(q("100m").cmp_value(&q("0.1")), Ordering::Equal);
        assert_eq!(q("1Ki").cmp_value(&q("1k")), Ordering::Greater);
        assert_eq!(q("1e30").cmp_value(&q("1e29")), Ordering::Greater);
        assert_eq!(q("1").cmp_value(&q("1e12")), Ordering::Less);
        assert_eq!(q("-2").cmp_value(&q("-1")), Ordering::Less);
        assert_eq!(
            q("0.000000000000000000000000001").cmp_value(&q("1n")),
            Ordering::Equal,
            "rounded up to 1n as upstream"
        );
    }
}
