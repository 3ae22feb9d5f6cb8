//! `networking.k8s.io/v1` NetworkPolicy objects as validated and defaulted (the evaluation of
//! what they allow is `net::policy`'s).

use super::objects::{LabelSelector, ObjectMeta, PortRef, Protocol};
use ipnet::Ipv4Net;

/// A validated NetworkPolicy, with `policyTypes` and every port's protocol defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Its name and namespace (the namespace's pods are the ones it can select).
    pub meta: ObjectMeta,
    /// `spec.podSelector`: the pods the policy applies to (empty: every pod of the namespace).
    pub pod_selector: LabelSelector,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    pub types: PolicyTypes,
}

/// Which directions a policy isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyTypes {
    pub ingress: bool,
    pub egress: bool,
}

impl PolicyTypes {
    /// `policyTypes` as written, or upstream's default when it is not: `Ingress` always,
    /// `Egress` when the policy has any egress rule (`pkg/apis/networking/types.go`, the
    /// comment on `PolicyTypes`).
    pub fn defaulted(written: Option<&[Direction]>, has_egress_rules: bool) -> Self {
        match written {
            Some(list) => PolicyTypes {
                ingress: list.contains(&Direction::Ingress),
                egress: list.contains(&Direction::Egress),
            },
            None => PolicyTypes {
                ingress: true,
                egress: has_egress_rules,
            },
        }
    }

    pub fn has(self, d: Direction) -> bool {
        match d {
            Direction::Ingress => self.ingress,
            Direction::Egress => self.egress,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// One `ingress` or `egress` rule: `ports` and `from` (ingress) or `to` (egress).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// Empty: every port and protocol.
    pub ports: Vec<Port>,
    /// Empty: every peer.
    pub peers: Vec<Peer>,
}

/// `NetworkPolicyPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Defaulted to TCP (`pkg/apis/networking/v1/defaults.go`, `SetDefaults_NetworkPolicyPort`).
    pub protocol: Protocol,
    /// `None`: every port of `protocol`.
    pub port: Option<PortRef>,
    /// With a numeric `port`: the range `port..=end_port`.
    pub end_port: Option<u16>,
}

/// `NetworkPolicyPeer`: pods by selectors, or addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// `podSelector` alone: pods of the policy's namespace; `namespaceSelector` alone: every
    /// pod of the selected namespaces; both in one peer: pods matching the pod selector in the
    /// namespaces matching the namespace selector (an AND, where two peers are an OR).
    Pods {
        namespaces: Option<LabelSelector>,
        pods: Option<LabelSelector>,
    },
    /// `ipBlock`: addresses in `cidr` but in none of `except`.
    IpBlock { cidr: Ipv4Net, except: Vec<Ipv4Net> },
}
