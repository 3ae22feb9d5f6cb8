//! `kubesim get`: the cluster's objects at a simulated instant in the shapes `kubectl get`
//! prints (`pods`, `svc`, `endpoints`, `endpointslices`, `events`, `hpa`), from a
//! [`Snapshot`](crate::sim::snapshot::Snapshot). Pods and Services are laid out by the same
//! functions as a run's tables ([`super::tables`]); every row is listed, as kubectl lists them.
//!
//! Namespaces as kubectl takes them: `default` unless `-n NS`; `-A` every namespace, with a
//! NAMESPACE column first.

use super::format::{human_duration, tabwrite};
use super::limits::Rows;
use super::tables::{hpa_table_at, pods_table_at, services_table_with};
use crate::sim::outcome::{ClusterEvent, PodOutcome, ServiceOutcome};
use crate::sim::snapshot::Snapshot;
use std::fmt;

/// What `kubesim get` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Pods,
    Services,
    Endpoints,
    EndpointSlices,
    Events,
    HorizontalPodAutoscalers,
}

/// The names and short names kubectl accepts for each resource (`kubectl api-resources`).
const NAMES: &[(&str, Resource)] = &[
    ("pods", Resource::Pods),
    ("pod", Resource::Pods),
    ("po", Resource::Pods),
    ("services", Resource::Services),
    ("service", Resource::Services),
    ("svc", Resource::Services),
    ("endpoints", Resource::Endpoints),
    ("endpoint", Resource::Endpoints),
    ("ep", Resource::Endpoints),
    ("endpointslices", Resource::EndpointSlices),
    ("endpointslice", Resource::EndpointSlices),
    ("events", Resource::Events),
    ("event", Resource::Events),
    ("ev", Resource::Events),
    (
        "horizontalpodautoscalers",
        Resource::HorizontalPodAutoscalers,
    ),
    (
        "horizontalpodautoscaler",
        Resource::HorizontalPodAutoscalers,
    ),
    ("hpa", Resource::HorizontalPodAutoscalers),
];

/// A resource name kubesim does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown resource type {name:?}: expected pods, svc, endpoints, endpointslices, events or hpa{hint}"
)]
pub struct UnknownResource {
    pub name: String,
    /// ` (did you mean pods?)` when a name is close, else empty.
    hint: String,
}

impl std::str::FromStr for Resource {
    type Err = UnknownResource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if let Some((_, r)) = NAMES.iter().find(|(n, _)| *n == lower) {
            return Ok(*r);
        }
        // Against the full names (a short name is too near anything); a swap of two
        // letters counts one.
        let nearest = NAMES
            .iter()
            .filter(|(n, _)| n.len() > 3)
            .map(|(n, _)| (strsim::damerau_levenshtein(n, &lower), *n))
            .min();
        let hint = match nearest {
            Some((d, n)) if d <= 2 => format!(" (did you mean {n}?)"),
            _ => String::new(),
        };
        Err(UnknownResource {
            name: s.to_string(),
            hint,
        })
    }
}

/// Which namespaces are listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// One namespace (`-n NS`; `default` when not given).
    One(String),
    /// Every namespace (`-A`), with a NAMESPACE column.
    All,
}

impl Namespaces {
    fn holds(&self, namespace: &str) -> bool {
        match self {
            Namespaces::One(ns) => ns == namespace,
            Namespaces::All => true,
        }
    }
}

impl fmt::Display for Namespaces {
    /// Where `No resources found` looked, as kubectl says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namespaces::One(ns) => write!(f, " in {ns} namespace"),
            Namespaces::All => Ok(()),
        }
    }
}

/// `kubectl get RESOURCE` of `snapshot`: the table, or `None` when there is nothing to list
/// (kubectl then says `No resources found in NS namespace.` on standard error).
pub fn get_table(
    snapshot: &Snapshot,
    resource: Resource,
    namespaces: &Namespaces,
    wide: bool,
) -> Option<String> {
    let all = *namespaces == Namespaces::All;
    let now = snapshot.at;
    // Services exist from the start of the run (kubesim does not keep when one applied later
    // was created), and so do their Endpoints and EndpointSlices.
    let age = now.since(crate::engine::SimTime::ZERO);
    let table = match resource {
        Resource::Pods => {
            let pods: Vec<&PodOutcome> = (snapshot.pods.iter())
                .filter(|p| namespaces.holds(&p.namespace))
                .collect();
            if pods.is_empty() {
                return None;
            }
            pods_table_at(&pods, now, Rows::All, all, wide)
        }
        Resource::Services => {
            let services: Vec<&ServiceOutcome> = (snapshot.services.iter())
                .filter(|s| namespaces.holds(&s.namespace))
                .collect();
            if services.is_empty() {
                return None;
            }
            services_table_with(&services, age, Rows::All, all, wide)
        }
        Resource::Endpoints => {
            let rows: Vec<Vec<String>> = (snapshot.endpoints.iter())
                .filter(|e| namespaces.holds(&e.namespace))
                .map(|e| {
                    let endpoints = if e.addresses.is_empty() {
                        "<none>".to_string()
                    } else {
                        list_with_more(&e.addresses)
                    };
                    namespaced(
                        all,
                        &e.namespace,
                        vec![e.name.clone(), endpoints, human_duration(age)],
                    )
                })
                .collect();
            if rows.is_empty() {
                return None;
            }
            tabwrite(&columns(all, &["NAME", "ENDPOINTS", "AGE"]), &rows, &[])
        }
        Resource::EndpointSlices => {
            let rows: Vec<Vec<String>> = (snapshot.endpoint_slices.iter())
                .filter(|s| namespaces.holds(&s.namespace))
                .map(|s| {
                    let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
                    let addresses: Vec<String> =
                        s.addresses.iter().map(|a| a.to_string()).collect();
                    namespaced(
                        all,
                        &s.namespace,
                        vec![
                            s.name.clone(),
                            "IPv4".to_string(),
                            list_with_more(&ports),
                            list_with_more(&addresses),
                            human_duration(age),
                        ],
                    )
                })
                .collect();
            if rows.is_empty() {
                return None;
            }
            tabwrite(
                &columns(all, &["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]),
                &rows,
                &[],
            )
        }
        Resource::HorizontalPodAutoscalers => {
            let hpas: Vec<_> = (snapshot.hpas.iter())
                .filter(|h| namespaces.holds(&h.namespace))
                .collect();
            if hpas.is_empty() {
                return None;
            }
            hpa_table_at(&hpas, now, all)
        }
        Resource::Events => {
            let events: Vec<&(String, ClusterEvent)> = (snapshot.events.iter())
                .filter(|(ns, _)| namespaces.holds(ns))
                .collect();
            if events.is_empty() {
                return None;
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|(ns, e)| {
                    namespaced(
                        all,
                        ns,
                        vec![
                            human_duration(now.since(e.at)),
                            e.type_.as_str().to_string(),
                            e.reason.clone(),
                            e.object.clone(),
                            e.message.clone(),
                        ],
                    )
                })
                .collect();
            tabwrite(
                &columns(all, &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]),
                &rows,
                &[],
            )
        }
    };
    Some(table)
}

fn namespaced(show: bool, namespace: &str, mut row: Vec<String>) -> Vec<String> {
    if show {
        row.insert(0, namespace.to_string());
    }
    row
}

fn columns<'a>(show_ns: bool, names: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::with_capacity(names.len() + 1);
    if show_ns {
        v.push("NAMESPACE");
    }
    v.extend_from_slice(names);
    v
}

/// The first three items joined by commas, then ` + N more...`; `<unset>` for none
/// (`listWithMoreString` in kubectl's printers, `pkg/printers/internalversion/printers.go`).
fn list_with_more(items: &[String]) -> String {
    /// `max := 3` in the same functions.
    const SHOWN: usize = 3;
    if items.is_empty() {
        return "<unset>".to_string();
    }
    let shown = items[..items.len().min(SHOWN)].join(",");
    if items.len() > SHOWN {
        format!("{shown} + {} more...", items.len() - SHOWN)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_and_short_names() {
        for (name, r) in [
            ("pods", Resource::Pods),
            ("po", Resource::Pods),
            ("svc", Resource::Services),
            ("Services", Resource::Services),
            ("ep", Resource::Endpoints),
            ("endpointslices", Resource::EndpointSlices),
            ("ev", Resource::Events),
        ] {
            assert_eq!(name.parse::<Resource>(), Ok(r), "{name}");
        }
        let e = "pdos".parse::<Resource>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown resource type \"pdos\": expected pods, svc, endpoints, endpointslices, events or hpa (did you mean pods?)"
        );
        let e = "deployments".parse::<Resource>().unwrap_err();
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }

    #[test]
    fn lists_show_three_then_count_the_rest() {
        let v = |n: usize| {
            (1..=n)
                .map(|i| format!("10.0.0.{i}:80"))
                .collect::<Vec<_>>()
        };
        assert_eq!(list_with_more(&[]), "<unset>");
        assert_eq!(list_with_more(&v(2)), "10.0.0.1:80,10.0.0.2:80");
        assert_eq!(
            list_with_more(&v(5)),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."
        );
    }
}
