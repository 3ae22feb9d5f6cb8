//! `spec.expect`: the raw expectations of a Scenario document (serde) and their resolution
//! into [`sim::expect::Expectation`](crate::sim::expect::Expectation), every problem reported
//! at its key. The Services they name are checked against the objects once those are parsed
//! ([`check_services`]).

use super::limits;
use super::spec::{Ctx, Text};
use crate::engine::SimDuration;
use crate::model::objects::{Object, ServiceType};
use crate::sim::config::{Action, TimelineEvent};
use crate::sim::expect::{Expectation, Kind, ProbeFrom, ProbePort, ProbeTo, ServiceRef};
use crate::traffic::spec::StreamSpec;
use serde::Deserialize;
use std::collections::BTreeSet;

/// One entry of `spec.expect`: a name, exactly one kind key, and the optional scope and window.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawExpect {
    pub name: Option<String>,
    pub stream: Option<String>,
    pub service: Option<String>,
    pub from: Option<Text>,
    pub to: Option<Text>,
    pub slo: Option<Text>,
    pub fair_share: Option<RawFairShare>,
    pub endpoints: Option<RawEndpoints>,
    pub reachable: Option<RawReachable>,
    pub no_traffic_after_deletion: Option<RawWithin>,
    pub client_ip_preserved: Option<RawService>,
    pub no_cross_zone: Option<RawService>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFairShare {
    pub service: Option<String>,
    pub within: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawEndpoints {
    pub service: Option<String>,
    pub min: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReachable {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawWithin {
    pub within: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawService {
    pub service: Option<String>,
}

/// Every kind key of `spec.expect[]`, as written.
pub const KINDS: [&str; 7] = [
    "slo",
    "fairShare",
    "endpoints",
    "reachable",
    "noTrafficAfterDeletion",
    "clientIpPreserved",
    "noCrossZone",
];

/// Resolves `spec.expect`; entries with a problem are reported and left out. Each comes with
/// its index in `spec.expect` (for the paths of later errors).
pub fn resolve(
    ctx: &mut Ctx,
    raw: Option<&Vec<RawExpect>>,
    traffic: &[StreamSpec],
    duration: SimDuration,
) -> Vec<(usize, Expectation)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    if raw.len() > limits::EXPECTATIONS {
        ctx.err(
            "spec.expect",
            limits::above(format!("{} entries", raw.len()), limits::EXPECTATIONS),
        );
        return Vec::new();
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        let p = format!("spec.expect[{i}]");
        if let Some(x) = one(ctx, &p, e, traffic, duration) {
            if !names.insert(x.name.clone()) {
                ctx.err(
                    &format!("{p}.name"),
                    format!(
                        "duplicate name {:?}: each expectation needs its own",
                        x.name
                    ),
                );
                continue;
            }
            out.push((i, x));
        }
    }
    out
}

fn one(
    ctx: &mut Ctx,
    p: &str,
    e: &RawExpect,
    traffic: &[StreamSpec],
    duration: SimDuration,
) -> Option<Expectation> {
    let mut ok = true;
    let name = match e.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(n.to_string()),
        _ => {
            ctx.err(&format!("{p}.name"), "required: a name for the report");
            ok = false;
            None
        }
    };
    let present: Vec<&str> = [
        e.slo.is_some(),
        e.fair_share.is_some(),
        e.endpoints.is_some(),
        e.reachable.is_some(),
        e.no_traffic_after_deletion.is_some(),
        e.client_ip_preserved.is_some(),
        e.no_cross_zone.is_some(),
    ]
    .iter()
    .zip(KINDS)
    .filter(|(on, _)| **on)
    .map(|(_, k)| k)
    .collect();
    if present.len() != 1 {
        let what = if present.is_empty() {
            "no kind".to_string()
        } else {
            format!("{} kinds ({})", present.len(), present.join(", "))
        };
        ctx.err(
            p,
            format!(
                "{what}: an expectation has exactly one of {}",
                KINDS.join(", ")
            ),
        );
        return None;
    }
    if let Some(s) = &e.stream {
        if !traffic.iter().any(|t| &t.name == s) {
            let known: Vec<&str> = traffic.iter().map(|t| t.name.as_str()).collect();
            ctx.err(
                &format!("{p}.stream"),
                format!(
                    "no traffic stream named {s:?} (streams: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            ok = false;
        }
    }
    let mut service = match &e.service {
        Some(s) => match ServiceRef::parse(s) {
            Ok(r) => Some(r),
            Err(m) => {
                ctx.err(&format!("{p}.service"), m);
                ok = false;
                None
            }
        },
        None => None,
    };
    let mut window = |key: &str, t: &Option<Text>, ctx: &mut Ctx| -> Option<SimDuration> {
        let t = t.as_ref()?;
        match SimDuration::parse(&t.0) {
            Ok(d) if !duration.is_zero() && d > duration => {
                ctx.err(
                    &format!("{p}.{key}"),
                    format!("{d} is after the end of the scenario ({duration})"),
                );
                ok = false;
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                ctx.err(&format!("{p}.{key}"), m);
                ok = false;
                None
            }
        }
    };
    let from = window("from", &e.from, ctx);
    let to = window("to", &e.to, ctx);
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            ctx.err(
                &format!("{p}.to"),
                format!("{t} is not after from ({f}): the window is empty"),
            );
            ok = false;
        }
    }
    // A kind's own `service` is the scope's; both written must agree.
    let mut own_service = |key: &str, s: &Option<String>, ctx: &mut Ctx| -> bool {
        let Some(s) = s else { return true };
        match ServiceRef::parse(s) {
            Ok(r) => match &service {
                Some(scope) if scope != &r => {
                    ctx.err(
                        &format!("{p}.{key}.service"),
                        format!("{r} differs from the expectation's service {scope}"),
                    );
                    false
                }
                _ => {
                    service = Some(r);
                    true
                }
            },
            Err(m) => {
                ctx.err(&format!("{p}.{key}.service"), m);
                false
            }
        }
    };
    let kind = match present[0] {
        "slo" => {
            let text = &e.slo.as_ref().expect("present").0;
            match crate::sim::expect::slo::parse(text) {
                Ok(s) => Some(Kind::Slo(s)),
                Err(m) => {
                    ctx.err(&format!("{p}.slo"), m);
                    None
                }
            }
        }
        "fairShare" => {
            let f = e.fair_share.as_ref().expect("present");
            let svc_ok = own_service("fairShare", &f.service, ctx);
            let within = match &f.within {
                None => {
                    ctx.err(
                        &format!("{p}.fairShare.within"),
                        "required, e.g. 10% (each pod within ±10% of its fair share)",
                    );
                    None
                }
                Some(t) => match percentage(&t.0) {
                    Ok(w) => Some(w),
                    Err(m) => {
                        ctx.err(&format!("{p}.fairShare.within"), m);
                        None
                    }
                },
            };
            if service.is_none() && svc_ok {
                ctx.err(
                    &format!("{p}.fairShare.service"),
                    "required: the Service whose pods share the traffic",
                );
            }
            within
                .filter(|_| svc_ok && service.is_some())
                .map(|within| Kind::FairShare { within })
        }
        "endpoints" => {
            let f = e.endpoints.as_ref().expect("present");
            let svc_ok = own_service("endpoints", &f.service, ctx);
            if service.is_none() && svc_ok {
                ctx.err(
                    &format!("{p}.endpoints.service"),
                    "required: the Service whose ready endpoints are counted",
                );
            }
            let min = match f.min {
                None => {
                    ctx.err(&format!("{p}.endpoints.min"), "required, e.g. 2");
                    None
                }
                Some(m) if !(0..=i64::from(u32::MAX)).contains(&m) => {
                    ctx.err(
                        &format!("{p}.endpoints.min"),
                        format!("invalid value {m}: must be 0 or more"),
                    );
                    None
                }
                Some(m) => Some(m as u32),
            };
            min.filter(|_| svc_ok && service.is_some())
                .map(|min| Kind::Endpoints { min })
        }
        "reachable" => {
            let r = e.reachable.as_ref().expect("present");
            reachable(ctx, p, r, &mut service)
        }
        "noTrafficAfterDeletion" => {
            let w = e.no_traffic_after_deletion.as_ref().expect("present");
            match &w.within {
                None => {
                    ctx.err(
                        &format!("{p}.noTrafficAfterDeletion.within"),
                        "required, e.g. 2s (how long the rules may take to drop a deleted pod)",
                    );
                    None
                }
                Some(t) => match SimDuration::parse(&t.0) {
                    Ok(within) => Some(Kind::NoTrafficAfterDeletion { within }),
                    Err(m) => {
                        ctx.err(&format!("{p}.noTrafficAfterDeletion.within"), m);
                        None
                    }
                },
            }
        }
        "clientIpPreserved" => {
            let s = e.client_ip_preserved.as_ref().expect("present");
            own_service("clientIpPreserved", &s.service, ctx).then_some(Kind::ClientIpPreserved)
        }
        _ => {
            let s = e.no_cross_zone.as_ref().expect("present");
            own_service("noCrossZone", &s.service, ctx).then_some(Kind::NoCrossZone)
        }
    };
    let (kind, name) = (kind?, name?);
    if !ok {
        return None;
    }
    Some(Expectation {
        name,
        kind,
        stream: e.stream.clone(),
        service,
        from,
        to,
    })
}

/// `reachable: {from, to}`.
fn reachable(
    ctx: &mut Ctx,
    p: &str,
    r: &RawReachable,
    service: &mut Option<ServiceRef>,
) -> Option<Kind> {
    let from = match r.from.as_deref().map(str::trim) {
        None | Some("external") => Some(ProbeFrom::External),
        Some("nodes") => Some(ProbeFrom::Nodes),
        Some(pod) => {
            let (ns, name) = pod.split_once('/').unwrap_or(("default", pod));
            if ns.is_empty() || name.is_empty() || name.contains('/') {
                ctx.err(
                    &format!("{p}.reachable.from"),
                    format!(
                        "invalid source {pod:?}: expected external, nodes, POD or NAMESPACE/POD"
                    ),
                );
                None
            } else {
                Some(ProbeFrom::Pod {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                })
            }
        }
    };
    let to = match r.to.as_deref().map(str::trim) {
        None => {
            ctx.err(
                &format!("{p}.reachable.to"),
                "required, e.g. \"web:nodePort\" or \"web:8080\"",
            );
            None
        }
        Some(t) => match t.rsplit_once(':') {
            Some((svc, port)) if !port.is_empty() => match ServiceRef::parse(svc) {
                Ok(s) => Some(ProbeTo {
                    service: s,
                    port: if port == "nodePort" {
                        ProbePort::NodePort
                    } else if let Ok(n) = port.parse::<u16>() {
                        ProbePort::Number(n)
                    } else {
                        ProbePort::Named(port.to_string())
                    },
                }),
                Err(m) => {
                    ctx.err(&format!("{p}.reachable.to"), m);
                    None
                }
            },
            _ => {
                ctx.err(
                    &format!("{p}.reachable.to"),
                    format!("invalid destination {t:?}: expected SERVICE:nodePort, SERVICE:PORT or SERVICE:PORT-NAME"),
                );
                None
            }
        },
    };
    let (from, to) = (from?, to?);
    if from == ProbeFrom::External && to.port != ProbePort::NodePort {
        ctx.err(
            &format!("{p}.reachable.to"),
            format!("{to}: a ClusterIP is not routed from outside the cluster; probe its nodePort, or from: nodes or a pod"),
        );
        return None;
    }
    match service {
        Some(s) if s != &to.service => {
            ctx.err(
                &format!("{p}.reachable.to"),
                format!("{} differs from the expectation's service {s}", to.service),
            );
            return None;
        }
        _ => *service = Some(to.service.clone()),
    }
    Some(Kind::Reachable { from, to })
}

/// `10%` or `0.1` as a fraction.
fn percentage(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 0.01),
        None => (t, 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x * scale)
        .ok_or_else(|| format!("{s:?} is not a percentage (10%) or a fraction (0.1)"))
}

/// Every Service the expectations name must be one of the scenario's objects (or applied by
/// the timeline), and a NodePort probe's Service must have a NodePort.
pub fn check_services(
    ctx: &mut Ctx,
    expect: &[Expectation],
    index: &[usize],
    objects: &[Object],
    timeline: &[TimelineEvent],
) {
    let applied = timeline.iter().filter_map(|e| match &e.action {
        Action::Apply(o) => Some(o.as_ref()),
        _ => None,
    });
    let services: Vec<&crate::model::objects::ServiceObject> = objects
        .iter()
        .chain(applied)
        .filter_map(|o| match o {
            Object::Service(s) => Some(s),
            _ => None,
        })
        .collect();
    for (&i, e) in index.iter().zip(expect) {
        let Some(r) = &e.service else { continue };
        let found = services
            .iter()
            .find(|s| s.meta.namespace == r.namespace && s.meta.name == r.name);
        let key = match &e.kind {
            Kind::Reachable { .. } => "reachable.to",
            Kind::FairShare { .. } if e.service.is_some() => "fairShare",
            Kind::Endpoints { .. } => "endpoints",
            _ => "service",
        };
        let p = format!("spec.expect[{i}].{key}");
        match found {
            None => {
                let known: Vec<String> = services
                    .iter()
                    .map(|s| ServiceRef {
                        namespace: s.meta.namespace.clone(),
                        name: s.meta.name.clone(),
                    })
                    .map(|s| s.to_string())
                    .collect();
                ctx.err(
                    &p,
                    format!(
                        "no Service {r} in the scenario (Services: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            Some(s) => {
                if let Kind::Reachable { to, .. } = &e.kind {
                    if to.port == ProbePort::NodePort
                        && !matches!(
                            s.spec.type_,
                            ServiceType::NodePort | ServiceType::LoadBalancer
                        )
                    {
                        ctx.err(
                            &p,
                            format!("Service {r} is not of type NodePort or LoadBalancer: it has no nodePort"),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_fractions() {
        assert_eq!(percentage("10%"), Ok(0.1));
        assert_eq!(percentage("0.25"), Ok(0.25));
        assert!(percentage("ten%").unwrap_err().contains("not a percentage"));
        assert!(percentage("-1%").is_err());
    }
}
