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
}
