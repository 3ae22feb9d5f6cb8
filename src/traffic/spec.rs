//! What the scenario says about clients and servers: traffic streams and container behaviours.

use crate::engine::SimDuration;
use crate::model::objects::Labels;
use std::net::Ipv4Addr;

/// How long a container takes to serve one request (`behaviors[].serviceTime`).
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceTime {
    Constant(SimDuration),
    Exponential {
        mean: SimDuration,
    },
    /// Log-normal given by its median and 99th percentile (p99 > median).
    LogNormal {
        median: SimDuration,
        p99: SimDuration,
    },
    Uniform {
        min: SimDuration,
        max: SimDuration,
    },
    /// Measured samples, drawn uniformly (non-empty).
    Empirical(Vec<SimDuration>),
}

/// How the containers of one image serve requests (`spec.behaviors[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// Matched against a container's image as written (`aspnetcoreweb`, `httpd:2.4`).
    pub image: String,
    pub service_time: ServiceTime,
    /// Requests served at once; more wait in a FIFO queue. Default 1.
    pub concurrency: u32,
    /// The server closes a kept-alive connection idle this long; `None`: never.
    pub keep_alive_timeout: Option<SimDuration>,
    /// The process exits this long after each start (a crashing app); `None`: never.
    pub exit_after: Option<SimDuration>,
    /// The exit code when it does (default 1).
    pub exit_code: i32,
    /// Requests that may wait for a slot; one more is answered at once with HTTP 503.
    /// `None`: no limit.
    pub queue_limit: Option<u32>,
    /// CPU time one request needs (`cpuPerRequest`), on top of its `serviceTime`; slowed down
    /// by the container's CPU limit (see `serve::cpu_wall_time`). `None`: no CPU model.
    pub cpu_per_request: Option<SimDuration>,
}

impl Behavior {
    /// A container with no behaviour: answers at once, one request at a time.
    pub fn instant(image: &str) -> Self {
        Behavior {
            image: image.to_string(),
            service_time: ServiceTime::Constant(SimDuration::ZERO),
            concurrency: 1,
            keep_alive_timeout: None,
            exit_after: None,
            exit_code: 1,
            queue_limit: None,
            cpu_per_request: None,
        }
    }
}

/// Where a stream's requests come from (`traffic[].from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSource {
    /// Clients outside the cluster, entering through a node's NodeIP.
    External,
    /// Pods matching this selector, each pod a client.
    Pods(Labels),
}

/// Where a stream's requests go (`traffic[].to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An address: NodeIP:nodePort, ClusterIP:port, LoadBalancer IP:port or a pod IP:port.
    Addr(Ipv4Addr, u16),
    /// A DNS name resolved by the cluster DNS (`http-svc.default.svc.cluster.local:8080`).
    Name(String, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Poisson,
    Constant,
}

/// `traffic[].connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPolicy {
    /// `false` (default): one connection per request, as curl does.
    pub reuse: bool,
    /// Requests per connection before the client closes it; `None`: no limit.
    pub max_requests: Option<u32>,
    /// The client closes a connection idle this long. Default 90 s (browsers, Go's
    /// `http.Transport.IdleConnTimeout`).
    pub idle_timeout: SimDuration,
    /// Connections one client keeps open to one destination at most. Default 6, as browsers.
    pub max_per_destination: u32,
}

impl Default for ConnectionPolicy {
    fn default() -> Self {
        ConnectionPolicy {
            reuse: false,
            max_requests: None,
            idle_timeout: SimDuration::from_secs(90),
            max_per_destination: 6,
        }
    }
}

/// How a `profile`'s rate goes from one point to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileShape {
    /// Straight lines between the points (ramps).
    Linear,
    /// Each point's rate holds until the next point (steps).
    Step,
}

/// `traffic[].profile`: the stream's rate over time, as `(instant from the scenario's start,
/// requests per second)` points in time order. Before the first point the first rate holds,
/// after the last the last.
#[derive(Debug, Clone, PartialEq)]
pub struct RateProfile {
    pub shape: ProfileShape,
    /// At least one point, instants strictly increasing, rates ≥ 0 with one > 0.
    pub points: Vec<(SimDuration, f64)>,
}

impl RateProfile {
    /// The rate at `t` (requests per second).
    pub fn rate_at(&self, t: SimDuration) -> f64 {
        let p = &self.points;
        let i = p.partition_point(|(at, _)| *at <= t);
        if i == 0 {
            return p[0].1;
        }
        if i == p.len() {
            return p[i - 1].1;
        }
        let ((t0, r0), (t1, r1)) = (p[i - 1], p[i]);
        match self.shape {
            ProfileShape::Step => r0,
            ProfileShape::Linear => {
                let f =
                    (t.as_nanos() - t0.as_nanos()) as f64 / (t1.as_nanos() - t0.as_nanos()) as f64;
                r0 + (r1 - r0) * f
            }
        }
    }

    /// The highest rate anywhere (the thinning envelope).
    pub fn max_rate(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }
}

/// `traffic[].retries`: the client sends a failed request again, after a back-off, while the
/// retry budget allows.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries per request at most (attempts = 1 + max).
    pub max: u32,
    /// Back-off before retry `n` (1-based): `initial x multiplier^(n-1)`, capped at `max_backoff`,
    /// then reduced by up to `jitter` of itself (uniformly): `jitter: 1` is "full jitter".
    pub initial: SimDuration,
    pub max_backoff: SimDuration,
    pub multiplier: f64,
    pub jitter: f64,
    /// Retries allowed as a share of first attempts over the last 10 s, on top of
    /// `min_per_second` (Finagle's `RetryBudget`); `None`: no budget.
    pub budget: Option<f64>,
    pub min_per_second: u32,
    /// Which failures are retried.
    pub on: Vec<super::request::FailReason>,
}

/// One entry of `spec.traffic`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub name: String,
    pub from: ClientSource,
    /// Distinct client addresses (external clients); default 1.
    pub clients: u32,
    pub to: Destination,
    /// Requests per second, the stream's total.
    pub rate: f64,
    pub arrival: Arrival,
    pub start: SimDuration,
    /// `None`: the end of the scenario.
    pub stop: Option<SimDuration>,
    /// Default 30 s.
    pub timeout: SimDuration,
    pub connections: ConnectionPolicy,
    /// The rate over time; `None`: `rate` throughout.
    pub profile: Option<RateProfile>,
    /// Closed loop: this many users, each sending one request, waiting for its answer (or its
    /// failure, after any retries), thinking for `think_time`, and again. `None`: open loop
    /// at `rate`.
    pub users: Option<u32>,
    pub think_time: ServiceTime,
    pub retries: Option<RetryPolicy>,
}

impl StreamSpec {
    /// Whether the client acts when each request ends (closed loop or retries): such streams
    /// time out requests at their deadline instead of when the answer would have come.
    pub fn reacts_to_outcomes(&self) -> bool {
        self.users.is_some() || self.retries.is_some()
    }
}

/// `100/s`, `6000/m`, `2.5/s`, `360/h` → requests per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, u)) => {
            let per = match u.trim() {
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                u => {
                    return Err(format!(
                        "invalid rate {s:?}: unknown unit {u:?} (use /s, /m or /h)"
                    ))
                }
            };
            (n.trim(), per)
        }
        None => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| {
        format!("invalid rate {s:?}: expected a number per unit, e.g. 100/s, 6000/m, 2.5/s")
    })?;
    // Checked after the division: `1e-321/h` is above 0, its value per second is not.
    if !v.is_finite() || v / per <= 0.0 {
        return Err(format!("invalid rate {s:?}: must be greater than 0"));
    }
    Ok(v / per)
}
