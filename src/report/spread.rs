//! The spread of served requests across pods, and the fair share they are measured against.

use crate::sim::outcome::{Outcome, PodOutcome};
use std::net::Ipv4Addr;

/// One pod that served at least one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingPod {
    /// Index into [`Outcome::pods`] (and into each row of the timeline).
    pub index: usize,
    pub name: String,
    pub namespace: String,
    pub node: Option<String>,
    pub ip: Option<Ipv4Addr>,
    pub served: u64,
}

/// The serving set: the pods that served at least one request (after warmup), in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    pub pods: Vec<ServingPod>,
    /// Requests served by the serving set (the sum of their `served`).
    pub total: u64,
}

impl Spread {
    pub fn of(outcome: &Outcome) -> Spread {
        let pods: Vec<ServingPod> = outcome
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.served > 0)
            .map(|(index, p): (usize, &PodOutcome)| ServingPod {
                index,
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                node: p.node.clone(),
                ip: p.ip,
                served: p.served,
            })
            .collect();
        let total = pods.iter().map(|p| p.served).sum();
        Spread { pods, total }
    }

    /// The fair share: requests served divided by the number of pods in the serving set, what
    /// each would have served under a perfectly even spread. Zero when nothing was served.
    ///
    /// Pods that were never Ready, or deleted before traffic reached them, are left out, so a
    /// replica replaced half-way through counts as one of the set just like its replacement.
    pub fn fair_share(&self) -> f64 {
        if self.pods.is_empty() {
            0.0
        } else {
            self.total as f64 / self.pods.len() as f64
        }
    }
}
