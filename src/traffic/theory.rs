//! Closed forms of queueing theory: what a single queue's mean figures must be, for the
//! validation tests (`tests/integration/queueing.rs`) and for capacity answers (the smallest
//! replica count that meets a target, as `sweep` reports it).
//!
//! Rates are per second, times in seconds. Every function needs a stable queue (utilisation
//! below 1) and returns `None` otherwise. Formulas: Kleinrock, *Queueing Systems, Vol. 1*
//! (1975): M/M/1 §3.2, M/M/c and Erlang's C formula §3.5, M/G/1 and Pollaczek-Khinchine §5.

/// M/M/1: mean time in system (waiting plus service), `1 / (mu - lambda)`.
pub fn mm1_sojourn(lambda: f64, mu: f64) -> Option<f64> {
    (lambda >= 0.0 && lambda < mu).then(|| 1.0 / (mu - lambda))
}

/// Erlang's C formula: the probability that an arrival waits, for `c` servers and offered load
/// `a = lambda / mu` (in Erlangs), `a < c`. Computed through Erlang B's recursion
/// (`B(0) = 1`, `B(k) = a B(k-1) / (k + a B(k-1))`, `C = c B / (c - a (1 - B))`), which stays
/// accurate for hundreds of servers where the textbook sum of factorials overflows.
pub fn erlang_c(c: u32, a: f64) -> Option<f64> {
    if c == 0 || !(0.0..f64::from(c)).contains(&a) {
        return None;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let c = f64::from(c);
    Some(c * b / (c - a * (1.0 - b)))
}

/// M/M/c: mean wait in the queue, `C(c, a) / (c mu - lambda)`.
pub fn mmc_wait(lambda: f64, mu: f64, c: u32) -> Option<f64> {
    let p = erlang_c(c, lambda / mu)?;
    Some(p / (f64::from(c) * mu - lambda))
}

/// M/M/c: mean time in system, the wait plus `1 / mu`.
pub fn mmc_sojourn(lambda: f64, mu: f64, c: u32) -> Option<f64> {
    Some(mmc_wait(lambda, mu, c)? + 1.0 / mu)
}

/// M/D/1 (constant service time `d`): the Pollaczek-Khinchine mean wait,
/// `rho d / (2 (1 - rho))` with `rho = lambda d`.
pub fn md1_wait(lambda: f64, d: f64) -> Option<f64> {
    let rho = lambda * d;
    (lambda >= 0.0 && rho < 1.0).then(|| rho * d / (2.0 * (1.0 - rho)))
}

/// The smallest number of identical servers, each with `slots` servers of rate `mu`, whose
/// M/M/c mean time in system at `lambda` is at most `target` (up to `max`); servers are
/// pooled in one queue, so for replicas behind random balancing it is a lower bound.
pub fn min_servers_for_sojourn(
    lambda: f64,
    mu: f64,
    slots: u32,
    target: f64,
    max: u32,
) -> Option<u32> {
    (1..=max).find(|n| mmc_sojourn(lambda, mu, n * slots).is_some_and(|w| w <= target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_values() {
        // M/M/1 at rho 0.8 with mu = 1000/s: 5 ms.
        assert!((mm1_sojourn(800.0, 1000.0).unwrap() - 0.005).abs() < 1e-12);
        assert_eq!(mm1_sojourn(1000.0, 1000.0), None);
        // One server: Erlang C is the utilisation.
        assert!((erlang_c(1, 0.7).unwrap() - 0.7).abs() < 1e-12);
        // c = 2, a = 1: C = 1/3 (P0 = 1/3, C = a^2/(2!(1-a/2)) P0).
        assert!((erlang_c(2, 1.0).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // M/M/c with c = 1 is M/M/1.
        let (l, m) = (600.0, 1000.0);
        assert!((mmc_sojourn(l, m, 1).unwrap() - mm1_sojourn(l, m).unwrap()).abs() < 1e-12);
        // M/D/1 waits half as long as M/M/1 (Pollaczek-Khinchine with zero variance).
        let mm1_wait = mm1_sojourn(l, m).unwrap() - 1.0 / m;
        assert!((md1_wait(l, 1.0 / m).unwrap() - mm1_wait / 2.0).abs() < 1e-12);
        // Many servers stay finite (no factorial overflow).
        assert!(erlang_c(500, 480.0).unwrap() > 0.0);
    }

    #[test]
    fn smallest_replica_count_for_a_target() {
        // 2000/s at 5 ms, 4 slots a replica: at least 3 replicas for stability (2.5 needed);
        // a 6 ms mean needs a little more headroom.
        let n = min_servers_for_sojourn(2000.0, 200.0, 4, 0.006, 50).unwrap();
        assert!(mmc_sojourn(2000.0, 200.0, n * 4).unwrap() <= 0.006);
        assert!(mmc_sojourn(2000.0, 200.0, (n - 1) * 4).is_none_or(|w| w > 0.006));
    }
}
