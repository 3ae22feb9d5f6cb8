//! Kubernetes resource quantities (`500m`, `2`, `128Mi`, `1G`, `129e6`), parsed exactly as
//! `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go` (`ParseQuantity`) does:
//! a signed decimal number followed by a binary-SI suffix (`Ki` .. `Ei`), a decimal-SI suffix
//! (`n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`) or a decimal exponent (`e3`, `E-2`).

use std::fmt;

/// Upstream's `ErrFormatWrong` message (`quantity.go`).
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// An exact quantity: `sign * num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub negative: bool,
    num: u128,
    den: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub &'static str);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Numbers beyond this many significant digits are refused rather than overflow (upstream
/// caps at 2^63-1 of the scaled value anyway).
const MAX_DIGITS: usize = 24;

pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
    let bad = QuantityError(FORMAT_WRONG);
    let s = text.trim();
    if s.is_empty() {
        return Err(bad);
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
        return Err(bad);
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > MAX_DIGITS {
        return Err(QuantityError("quantity too large"));
    }
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad.clone())?
    };
    // value = mantissa * 10^(exp10) * 2^(exp2)
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut exp2: u32 = 0;
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
            let exp = suffix.strip_prefix(['e', 'E']).ok_or(bad.clone())?;
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 3 {
                return Err(bad);
            }
            let e: i32 = exp.parse().map_err(|_| bad.clone())?;
            exp10 += e;
        }
    }
    if !(-40..=30).contains(&exp10) {
        return Err(QuantityError("quantity out of range"));
    }
    let mut num = mantissa
        .checked_shl(exp2)
        .ok_or(QuantityError("quantity too large"))?;
    let mut den: u128 = 1;
    if exp10 >= 0 {
        num = num
            .checked_mul(10u128.pow(exp10 as u32))
            .ok_or(QuantityError("quantity too large"))?;
    } else if exp10 >= -38 {
        den = 10u128.pow((-exp10) as u32);
    } else {
        // Below 10^-14 (at most 24 digits times 10^-39 or less): u128 cannot hold 10^39, and
        // upstream rounds such a value up to its smallest unit, so only whether it is zero
        // matters (found by the quantity fuzz target: `1e-40` overflowed).
        num = num.min(1);
        den = 10u128.pow(38);
    }
    Ok(Quantity {
        negative: negative && num != 0,
        num,
        den,
    })
}

impl Quantity {
    /// The value times `10^scale`, rounded up as upstream's `ScaledValue` rounds (away from
    /// zero); `None` when negative or beyond `u64`.
    pub fn ceil_scaled(&self, scale: u32) -> Option<u64> {
        if self.negative {
            return None;
        }
        let n = self.num.checked_mul(10u128.checked_pow(scale)?)?;
        let v = n.div_ceil(self.den);
        u64::try_from(v).ok()
    }
    /// Millicores for a cpu quantity (`MilliValue`, rounded up).
    pub fn millis(&self) -> Option<u64> {
        self.ceil_scaled(3)
    }
    /// Whole units (bytes for memory, `Value`, rounded up).
    pub fn value(&self) -> Option<u64> {
        self.ceil_scaled(0)
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
        assert!(parse("-1").unwrap().negative);
        assert_eq!(parse("-1").unwrap().value(), None);
        assert_eq!(parse("1e-40").unwrap().millis(), Some(1), "rounds up");
        assert_eq!(parse("0e-40").unwrap().millis(), Some(0));
        for bad in ["", "abc", "1.2.3", "1Qi", "1e", "1 Mi", "."] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
