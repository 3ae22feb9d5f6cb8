//! Closed forms of queueing theory that the simulation must agree with: the M/M/c queue.
//!
//! A pod with `c` concurrency slots, a FIFO queue, exponential service times of rate `mu` and
//! Poisson arrivals of rate `lambda` is an M/M/c queue. With `a = lambda / mu` and utilisation
//! `rho = a / c < 1`, Erlang's C formula gives the probability that a request waits:
//!
//! ```text
//! C(c, a) = (a^c / c!) · (c / (c - a)) / ( sum_{k<c} a^k / k!  +  (a^c / c!) · (c / (c - a)) )
//! ```
//!
//! A request's wait is 0 with probability `1 - C` and otherwise exponential with rate
//! `theta = c·mu - lambda`; its service is exponential with rate `mu`, independent of the wait.
//! So the time in system `T` has mean `C / theta + 1 / mu` and tail
//!
//! ```text
//! P(T > t) = (1 - C) e^{-mu t} + C · (theta e^{-mu t} - mu e^{-theta t}) / (theta - mu)
//! ```
//!
//! (the second term is the tail of the sum of two exponentials; `(1 + mu t) e^{-mu t}` when
//! `theta = mu`). Percentiles are found by bisection on that tail. kube-proxy's iptables mode
//! sends each new connection to a pod at random with equal probability, so with one connection
//! per request, Poisson traffic of rate `lambda` over `n` identical pods is `n` independent
//! M/M/c queues with arrival rate `lambda / n` each (a random split of a Poisson process).
//! References: Kleinrock, *Queueing Systems* vol. 1, §3.5; Gross & Harris, *Fundamentals of
//! Queueing Theory*, §2.3.

/// An M/M/c queue: `c` servers, service rate `mu` per server, arrival rate `lambda` (per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmc {
    pub c: u32,
    pub mu: f64,
    pub lambda: f64,
}

impl Mmc {
    /// Utilisation `lambda / (c mu)`; the queue is stable below 1.
    pub fn rho(&self) -> f64 {
        self.lambda / (f64::from(self.c) * self.mu)
    }

    /// Erlang C: the probability that an arriving request waits. `None` when unstable.
    pub fn erlang_c(&self) -> Option<f64> {
        if self.rho() >= 1.0 {
            return None;
        }
        let a = self.lambda / self.mu;
        let c = self.c;
        // Terms a^k / k! computed incrementally.
        let mut term = 1.0;
        let mut sum = 0.0;
        for k in 0..c {
            sum += term;
            term *= a / f64::from(k + 1);
        }
        let last = term * f64::from(c) / (f64::from(c) - a);
        Some(last / (sum + last))
    }

    /// Mean time in system (wait + service), seconds. `None` when unstable.
    pub fn mean_response(&self) -> Option<f64> {
        let pw = self.erlang_c()?;
        Some(pw / (f64::from(self.c) * self.mu - self.lambda) + 1.0 / self.mu)
    }

    /// Mean wait in the queue, seconds. `None` when unstable.
    pub fn mean_wait(&self) -> Option<f64> {
        let pw = self.erlang_c()?;
        Some(pw / (f64::from(self.c) * self.mu - self.lambda))
    }

    /// `P(T > t)` for the time in system `T` (seconds).
    pub fn response_tail(&self, t: f64) -> Option<f64> {
        let pw = self.erlang_c()?;
        let mu = self.mu;
        let theta = f64::from(self.c) * mu - self.lambda;
        let both = if (theta - mu).abs() < 1e-9 * mu {
            (1.0 + mu * t) * libm::exp(-mu * t)
        } else {
            (theta * libm::exp(-mu * t) - mu * libm::exp(-theta * t)) / (theta - mu)
        };
        Some((1.0 - pw) * libm::exp(-mu * t) + pw * both)
    }

    /// The `q` quantile (e.g. 0.99) of the time in system, seconds. `None` when unstable.
    pub fn response_quantile(&self, q: f64) -> Option<f64> {
        self.erlang_c()?;
        let (mut lo, mut hi) = (0.0, 1.0 / self.mu);
        while self.response_tail(hi)? > 1.0 - q {
            hi *= 2.0;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.response_tail(mid)? > 1.0 - q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(0.5 * (lo + hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1_and_mmc_match_textbook_values() {
        // M/M/1: mean time in system 1/(mu - lambda); P(T > t) = e^{-(mu - lambda) t}.
        let q = Mmc {
            c: 1,
            mu: 100.0,
            lambda: 80.0,
        };
        assert!((q.mean_response().unwrap() - 0.05).abs() < 1e-12);
        assert!((q.response_quantile(0.99).unwrap() - libm::log(100.0) / 20.0).abs() < 1e-9);
        // Erlang C for c = 2, a = 1: 1/3.
        let q = Mmc {
            c: 2,
            mu: 1.0,
            lambda: 1.0,
        };
        assert!((q.erlang_c().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // Unstable queues have no figures.
        assert_eq!(
            Mmc {
                c: 2,
                mu: 1.0,
                lambda: 2.0
            }
            .mean_response(),
            None
        );
        // theta = mu is the special case of the tail.
        let q = Mmc {
            c: 2,
            mu: 10.0,
            lambda: 10.0,
        };
        let t = q.response_tail(0.1).unwrap();
        let near = Mmc {
            lambda: 10.0 + 1e-6,
            ..q
        }
        .response_tail(0.1)
        .unwrap();
        assert!((t - near).abs() < 1e-6);
    }
}
