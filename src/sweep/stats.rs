//! Means and 95% confidence intervals over replications (Student's t).
//!
//! With `n` replications of a cell giving values `x_i` (each replication's p99, say), the
//! interval is `mean ± t(0.975, n-1) · s / √n`, with `s` the sample standard deviation. The
//! replications are independent runs (different derived seeds), so the t interval applies
//! when the per-run values are roughly normal, which holds for percentiles of long runs.

/// Two-sided 95% quantiles `t(0.975, df)` for df = 1..=30 (standard tables, e.g. NIST/SEMATECH
/// e-Handbook of Statistical Methods, table 1.3.6.7.2).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// `t(0.975, df)`: the table up to 30 degrees of freedom, then the Cornish-Fisher expansion
/// around the normal quantile 1.959964 (error below 1e-4 from df = 31).
pub fn t975(df: u32) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    if let Some(t) = T975.get(df as usize - 1) {
        return *t;
    }
    let z = 1.959_963_985_f64;
    let n = f64::from(df);
    let z3 = z * z * z;
    let z5 = z3 * z * z;
    z + (z3 + z) / (4.0 * n) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
}

/// The mean of `xs` and the half-width of its 95% interval (`None` with fewer than two values).
pub fn mean_ci95(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len();
    if n == 0 {
        return (0.0, None);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n as u32 - 1) * libm::sqrt(var / n as f64);
    (mean, Some(half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_student_t() {
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        // s = 1, t(0.975, 2) = 4.303: 4.303 / sqrt(3).
        assert!((h.unwrap() - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_ci95(&[5.0]), (5.0, None));
        // The expansion continues the table smoothly (t(0.975, 40) = 2.021, t(0.975, 120) = 1.980).
        assert!((t975(40) - 2.021).abs() < 1e-3);
        assert!((t975(120) - 1.980).abs() < 1e-3);
        assert!(t975(31) < t975(30));
    }
}
