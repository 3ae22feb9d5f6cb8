//! `networking.k8s.io/v1` NetworkPolicy: validated as the API server validates it
//! (`pkg/apis/networking/validation/validation.go`, `ValidateNetworkPolicySpec`) and converted
//! with upstream's defaults (`pkg/apis/networking/v1/defaults.go`: protocol TCP; `policyTypes`
//! from the rules, `pkg/apis/networking/types.go`).

use super::convert;
use super::validate::{self, BadValue, FieldError};
use crate::model::netpol::{Direction, NetworkPolicy, Peer, PolicyTypes, Port, Rule};
use crate::model::objects::{PortRef, Protocol};
use ipnet::Ipv4Net;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `ValidateNetworkPolicy` for the fields kubesim reads.
pub fn validate(np: &net::NetworkPolicy) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate::object_meta(
        &np.metadata,
        "metadata",
        true,
        validate::NameRule::Subdomain,
        &mut errs,
    );
    let Some(spec) = &np.spec else {
        return errs;
    };
    if let Some(s) = &spec.pod_selector {
        validate::label_selector(s, "spec.podSelector", &mut errs);
    }
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        let p = format!("spec.ingress[{i}]");
        ports(r.ports.as_deref(), &p, &mut errs);
        for (j, peer) in r.from.iter().flatten().enumerate() {
            self::peer(peer, &format!("{p}.from[{j}]"), &mut errs);
        }
    }
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        let p = format!("spec.egress[{i}]");
        ports(r.ports.as_deref(), &p, &mut errs);
        for (j, peer) in r.to.iter().flatten().enumerate() {
            self::peer(peer, &format!("{p}.to[{j}]"), &mut errs);
        }
    }
    let types = spec.policy_types.as_deref().unwrap_or_default();
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(validate::unsupported(
                &format!("spec.policyTypes[{i}]"),
                t,
                &["Egress", "Ingress"],
            ));
        }
    }
    if types.len() > 2 {
        errs.push(validate::invalid(
            "spec.policyTypes",
            BadValue::Json(serde_json::to_string(types).unwrap_or_default()),
            "may not specify more than two policyTypes",
        ));
    }
    errs
}

fn ports(ports: Option<&[net::NetworkPolicyPort]>, rule: &str, errs: &mut Vec<FieldError>) {
    for (i, p) in ports.unwrap_or_default().iter().enumerate() {
        let path = format!("{rule}.ports[{i}]");
        if let Some(proto) = p.protocol.as_deref() {
            if !["TCP", "UDP", "SCTP"].contains(&proto) {
                errs.push(validate::unsupported(
                    &format!("{path}.protocol"),
                    proto,
                    &["SCTP", "TCP", "UDP"],
                ));
            }
        }
        match &p.port {
            Some(IntOrString::Int(n)) => {
                if !(1..=65535).contains(n) {
                    errs.push(validate::invalid(
                        &format!("{path}.port"),
                        BadValue::Int(i64::from(*n)),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
                if let Some(end) = p.end_port {
                    if end < *n {
                        errs.push(validate::invalid(
                            &format!("{path}.endPort"),
                            BadValue::Int(i64::from(end)),
                            "must be greater than or equal to `port`",
                        ));
                    } else if end > 65535 {
                        errs.push(validate::invalid(
                            &format!("{path}.endPort"),
                            BadValue::Int(i64::from(end)),
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                }
            }
            Some(IntOrString::String(s)) => {
                if p.end_port.is_some() {
                    errs.push(validate::invalid(
                        &format!("{path}.endPort"),
                        BadValue::Int(i64::from(p.end_port.unwrap_or_default())),
                        "may not be specified when `port` is non-numeric",
                    ));
                }
                if s.is_empty() || s.len() > 15 || s.starts_with('-') || s.ends_with('-') {
                    errs.push(validate::invalid(
                        &format!("{path}.port"),
                        BadValue::Str(s.clone()),
                        "must be a valid port name (IANA_SVC_NAME: at most 15 characters)",
                    ));
                }
            }
            None => {
                if p.end_port.is_some() {
                    errs.push(validate::invalid(
                        &format!("{path}.endPort"),
                        BadValue::Int(i64::from(p.end_port.unwrap_or_default())),
                        "may not be specified when `port` is not specified",
                    ));
                }
            }
        }
    }
}

fn peer(p: &net::NetworkPolicyPeer, path: &str, errs: &mut Vec<FieldError>) {
    let n = usize::from(p.pod_selector.is_some())
        + usize::from(p.namespace_selector.is_some())
        + usize::from(p.ip_block.is_some());
    if n == 0 {
        errs.push(validate::required(path, "must specify a peer"));
    } else if n > 1 && p.ip_block.is_some() {
        errs.push(validate::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    if let Some(s) = &p.pod_selector {
        validate::label_selector(s, &format!("{path}.podSelector"), errs);
    }
    if let Some(s) = &p.namespace_selector {
        validate::label_selector(s, &format!("{path}.namespaceSelector"), errs);
    }
    if let Some(b) = &p.ip_block {
        let cidr_path = format!("{path}.ipBlock.cidr");
        let cidr = cidr4(&b.cidr, &cidr_path, errs);
        for (i, e) in b.except.iter().flatten().enumerate() {
            let ep = format!("{path}.ipBlock.except[{i}]");
            if let (Some(c), Some(x)) = (cidr, cidr4(e, &ep, errs)) {
                if !(c.contains(&x) && x.prefix_len() > c.prefix_len()) {
                    errs.push(validate::invalid(
                        &ep,
                        BadValue::Str(e.clone()),
                        "must be a strict subset of `cidr`",
                    ));
                }
            }
        }
    }
}

fn cidr4(s: &str, path: &str, errs: &mut Vec<FieldError>) -> Option<Ipv4Net> {
    if s.is_empty() {
        errs.push(validate::required(path, ""));
        return None;
    }
    match s.parse::<Ipv4Net>() {
        Ok(n) => Some(n),
        Err(_) if s.contains(':') => {
            errs.push(validate::invalid(
                path,
                BadValue::Str(s.into()),
                "kubesim models IPv4 only",
            ));
            None
        }
        Err(_) => {
            errs.push(validate::invalid(
                path,
                BadValue::Str(s.into()),
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
            None
        }
    }
}

/// The validated object with upstream's defaults.
pub fn convert(np: &net::NetworkPolicy) -> NetworkPolicy {
    let spec = np.spec.clone().unwrap_or_default();
    let port = |p: &net::NetworkPolicyPort| Port {
        // `SetDefaults_NetworkPolicyPort`: protocol TCP.
        protocol: match p.protocol.as_deref() {
            Some("UDP") => Protocol::Udp,
            Some("SCTP") => Protocol::Sctp,
            _ => Protocol::Tcp,
        },
        port: p.port.as_ref().map(|v| match v {
            IntOrString::Int(n) => PortRef::Number(*n as u16),
            IntOrString::String(s) => PortRef::Name(s.clone()),
        }),
        end_port: p.end_port.map(|e| e as u16),
    };
    let peer = |p: &net::NetworkPolicyPeer| match &p.ip_block {
        Some(b) => Peer::IpBlock {
            cidr: b.cidr.parse::<Ipv4Net>().expect("validated").trunc(),
            except: b
                .except
                .iter()
                .flatten()
                .map(|e| e.parse::<Ipv4Net>().expect("validated").trunc())
                .collect(),
        },
        None => Peer::Pods {
            namespaces: p.namespace_selector.as_ref().map(convert::label_selector),
            pods: p.pod_selector.as_ref().map(convert::label_selector),
        },
    };
    let ingress: Vec<Rule> = spec
        .ingress
        .iter()
        .flatten()
        .map(|r| Rule {
            ports: r.ports.iter().flatten().map(port).collect(),
            peers: r.from.iter().flatten().map(peer).collect(),
        })
        .collect();
    let egress: Vec<Rule> = spec
        .egress
        .iter()
        .flatten()
        .map(|r| Rule {
            ports: r.ports.iter().flatten().map(port).collect(),
            peers: r.to.iter().flatten().map(peer).collect(),
        })
        .collect();
    let written: Option<Vec<Direction>> =
        spec.policy_types
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.iter()
                    .map(|s| {
                        if s == "Egress" {
                            Direction::Egress
                        } else {
                            Direction::Ingress
                        }
                    })
                    .collect()
            });
    NetworkPolicy {
        meta: convert::object_meta(&np.metadata, true),
        // An absent `podSelector` is the empty selector: every pod of the namespace.
        pod_selector: spec
            .pod_selector
            .as_ref()
            .map(convert::label_selector)
            .unwrap_or_default(),
        types: PolicyTypes::defaulted(written.as_deref(), !egress.is_empty()),
        ingress,
        egress,
    }
}
