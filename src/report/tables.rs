//! kubectl-style tables (`get nodes -o wide`, `get pods -o wide`, `get svc`, `get events`) and
//! the spread of requests per pod, as the terminal shows them after a run.
//!
//! Columns are laid out as kubectl's tabwriter does (3 spaces of padding, left-aligned), and
//! states print as kubectl prints them. AGE is measured at the end of the simulated run.
//!
//! Each table lists every row up to its limit ([`super::limits`]); beyond it, with
//! [`Rows::Summary`], it lists the largest rows by the key its documentation states and closes
//! with a line saying how many rows were left out, what they hold, and that `--all` lists them.

use super::format::{count_tenths, human_duration, instant, percent, tabwrite, thousands, Align};
use super::limits::{largest, tally, Rows, EVENT_ROWS, REASONS_NAMED, TABLE_ROWS};
use super::spread::Spread;
use crate::engine::SimTime;
use crate::sim::outcome::{
    EventType, HpaOutcome, LatencyMs, NodeOutcome, Outcome, PodOutcome, ServiceOutcome,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const NONE: &str = "<none>";

/// The end of the run: the "now" of every AGE column.
fn end(outcome: &Outcome) -> SimTime {
    SimTime::ZERO + outcome.simulated
}

/// Whether a pod still exists at the end of the run, so `kubectl get pods` would list it:
/// never deleted, or deleted but still `Terminating`. A deleted pod in any other state is gone.
pub fn exists_at_end(pod: &PodOutcome) -> bool {
    pod.deleted.is_none() || pod.status == "Terminating"
}

/// Whether more than one namespace appears, so the table needs a NAMESPACE column as
/// `kubectl get -A` shows it.
fn many_namespaces<'a>(mut namespaces: impl Iterator<Item = &'a str>) -> bool {
    match namespaces.next() {
        Some(first) => namespaces.any(|ns| ns != first),
        None => false,
    }
}

fn with_namespace(show: bool, namespace: &str, mut row: Vec<String>) -> Vec<String> {
    if show {
        row.insert(0, namespace.to_string());
    }
    row
}

fn header_with_namespace<'a>(show: bool, header: &[&'a str]) -> Vec<&'a str> {
    let mut h = header.to_vec();
    if show {
        h.insert(0, "NAMESPACE");
    }
    h
}

/// The line under a table that was cut: how many rows were left out (and what they hold), which
/// rows were listed and in what order, and that `--all` lists every one.
fn left_out(noun: &str, listed: usize, total: usize, detail: &str, order: &str) -> String {
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    format!(
        "+{} more {noun} not listed{detail}. Listed: {} of {}, {order}; --all lists every one\n",
        thousands((total - listed) as u64),
        thousands(listed as u64),
        thousands(total as u64),
    )
}

/// `kubectl get nodes -o wide`, with the columns the simulation knows: NAME STATUS ROLES AGE
/// VERSION INTERNAL-IP. Nodes exist from the start of the run; ROLES is `<none>` because the
/// outcome carries no node-role labels. Beyond [`TABLE_ROWS`] nodes (unless [`Rows::All`]):
/// nodes that are not `Ready` first, then those whose pods served the most requests.
pub fn nodes_table(outcome: &Outcome, rows: Rows) -> String {
    // The nodes that exist at the end: a node the cluster autoscaler removed is gone.
    let all: Vec<&NodeOutcome> = outcome
        .nodes
        .iter()
        .filter(|n| n.removed.is_none())
        .collect();
    let all = &all;
    let cut = rows.cuts(all.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        let mut served: BTreeMap<&str, u64> = BTreeMap::new();
        for p in &outcome.pods {
            if let Some(node) = p.node.as_deref() {
                *served.entry(node).or_insert(0) += p.served;
            }
        }
        largest(all, TABLE_ROWS, |n| {
            (
                n.status != "Ready",
                served.get(n.name.as_str()).copied().unwrap_or(0),
            )
        })
    } else {
        (0..all.len()).collect()
    };
    let table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let n = all[i];
            vec![
                n.name.clone(),
                n.status.clone(),
                NONE.to_string(),
                human_duration(outcome.simulated.saturating_sub(n.created - SimTime::ZERO)),
                n.kubelet_version.clone(),
                n.ip.to_string(),
            ]
        })
        .collect();
    let mut out = tabwrite(
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"],
        &table_rows,
        &[],
    );
    if cut {
        let rest = rest_of(all.len(), &listed);
        out.push_str(&left_out(
            "nodes",
            listed.len(),
            all.len(),
            &tally(rest.iter().map(|&i| all[i].status.as_str()), REASONS_NAMED),
            "nodes not Ready first, then those whose pods served the most requests",
        ));
    }
    out
}

/// The indices below `len` that are not in `listed`, in order.
fn rest_of(len: usize, listed: &[usize]) -> Vec<usize> {
    let mut shown = vec![false; len];
    for &i in listed {
        shown[i] = true;
    }
    (0..len).filter(|&i| !shown[i]).collect()
}

/// `kubectl get pods -o wide` at the end of the run: the pods that still exist (Terminating
/// ones included), in creation order. A NAMESPACE column appears when pods span namespaces.
/// Beyond [`TABLE_ROWS`] pods (unless [`Rows::All`]): pods not `Running` first, then those that
/// served the most requests.
pub fn pods_table(outcome: &Outcome, rows: Rows) -> String {
    let pods: Vec<&PodOutcome> = outcome.pods.iter().filter(|p| exists_at_end(p)).collect();
    let show_ns = many_namespaces(pods.iter().map(|p| p.namespace.as_str()));
    pods_table_at(&pods, end(outcome), rows, show_ns, true)
}

/// `kubectl get pods` of `pods` at `now` (their AGE), with a NAMESPACE column when `show_ns`
/// (`-A`), and with `wide` (`-o wide`) IP NODE NOMINATED NODE READINESS GATES after NAME READY
/// STATUS RESTARTS AGE. Cut as [`pods_table`] says.
pub fn pods_table_at(
    pods: &[&PodOutcome],
    now: SimTime,
    rows: Rows,
    show_ns: bool,
    wide: bool,
) -> String {
    let cut = rows.cuts(pods.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        largest(pods, TABLE_ROWS, |p| (p.status != "Running", p.served))
    } else {
        (0..pods.len()).collect()
    };
    let table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let p = pods[i];
            let mut row = vec![
                p.name.clone(),
                p.ready.clone(),
                p.status.clone(),
                p.restarts.to_string(),
                human_duration(now.since(p.created)),
            ];
            if wide {
                row.extend([
                    p.ip.map_or_else(|| NONE.to_string(), |ip| ip.to_string()),
                    p.node.clone().unwrap_or_else(|| NONE.to_string()),
                    NONE.to_string(),
                    NONE.to_string(),
                ]);
            }
            with_namespace(show_ns, &p.namespace, row)
        })
        .collect();
    let columns: &[&str] = if wide {
        &[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ]
    } else {
        &["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    };
    let header = header_with_namespace(show_ns, columns);
    let mut out = tabwrite(&header, &table_rows, &[]);
    if cut {
        let rest = rest_of(pods.len(), &listed);
        out.push_str(&left_out(
            "pods",
            listed.len(),
            pods.len(),
            &tally(rest.iter().map(|&i| pods[i].status.as_str()), REASONS_NAMED),
            "pods not Running first, then those that served the most requests",
        ));
    }
    out
}

/// The PORT(S) column of `kubectl get svc` (`makePortString` in kubectl's printers):
/// `8080:30001/TCP`, `80/TCP`, comma-separated; `<none>` without ports.
pub fn ports_column(svc: &ServiceOutcome) -> String {
    if svc.ports.is_empty() {
        return NONE.to_string();
    }
    let ports: Vec<String> = svc
        .ports
        .iter()
        .map(|p| match p.node_port {
            Some(np) => format!("{}:{}/{}", p.port, np, p.protocol.as_str()),
            None => format!("{}/{}", p.port, p.protocol.as_str()),
        })
        .collect();
    ports.join(",")
}

/// The SELECTOR column of `kubectl get svc -o wide`: `app=http-label,tier=web` (keys in order,
/// `labels.FormatLabels`), `<none>` for no selector.
pub fn selector_column(selector: &crate::model::objects::Labels) -> String {
    if selector.is_empty() {
        return NONE.to_string();
    }
    let pairs: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// `kubectl get svc`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE. CLUSTER-IP is `None` for a
/// headless Service and `<none>` for ExternalName. Services exist from the start of the run.
pub fn services_table(outcome: &Outcome, rows: Rows) -> String {
    services_table_at(&outcome.services, outcome.simulated, rows)
}

/// `kubectl get svc` for `services`, all of age `age` (`kubesim check` shows them at 0s).
/// Beyond [`TABLE_ROWS`] Services (unless [`Rows::All`]): those whose streams were served the
/// most requests, the rest in creation order (before a run, the first ones).
pub fn services_table_at(
    services: &[ServiceOutcome],
    age: crate::engine::SimDuration,
    rows: Rows,
) -> String {
    let show_ns = many_namespaces(services.iter().map(|s| s.namespace.as_str()));
    let all: Vec<&ServiceOutcome> = services.iter().collect();
    services_table_with(&all, age, rows, show_ns, false)
}

/// `kubectl get svc` of `services`, all of age `age`, with a NAMESPACE column when `show_ns`
/// and, with `wide` (`-o wide`), a SELECTOR column. Cut as [`services_table_at`] says.
pub fn services_table_with(
    services: &[&ServiceOutcome],
    age: crate::engine::SimDuration,
    rows: Rows,
    show_ns: bool,
    wide: bool,
) -> String {
    let age = human_duration(age);
    let cut = rows.cuts(services.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        largest(services, TABLE_ROWS, |s| s.served)
    } else {
        (0..services.len()).collect()
    };
    let table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let s = services[i];
            let cluster_ip = match (s.cluster_ip, s.type_) {
                (Some(ip), _) => ip.to_string(),
                (None, crate::model::objects::ServiceType::ExternalName) => NONE.to_string(),
                (None, _) => "None".to_string(),
            };
            let mut row = vec![
                s.name.clone(),
                s.type_.as_str().to_string(),
                cluster_ip,
                s.external_ip.clone(),
                ports_column(s),
                age.clone(),
            ];
            if wide {
                row.push(selector_column(&s.selector));
            }
            with_namespace(show_ns, &s.namespace, row)
        })
        .collect();
    let mut columns = vec![
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ];
    if wide {
        columns.push("SELECTOR");
    }
    let header = header_with_namespace(show_ns, &columns);
    let mut out = tabwrite(&header, &table_rows, &[]);
    if cut {
        let rest = rest_of(services.len(), &listed);
        let order = if services.iter().any(|s| s.served > 0) {
            "those whose streams were served the most requests first, then in creation order"
        } else {
            "the first in creation order"
        };
        out.push_str(&left_out(
            "Services",
            listed.len(),
            services.len(),
            &tally(
                rest.iter().map(|&i| services[i].type_.as_str()),
                REASONS_NAMED,
            ),
            order,
        ));
    }
    out
}

/// `kubectl get events` (LAST SEEN TYPE REASON OBJECT MESSAGE, LAST SEEN being the age at the
/// end of the run), oldest first, after a first TIME column that kubectl lacks: the simulated
/// instant of the event. Beyond [`EVENT_ROWS`] events (unless [`Rows::All`]): the first and the
/// last half of that many, a line where the others were, and their reasons counted.
pub fn events_table(outcome: &Outcome, rows: Rows) -> String {
    let end = end(outcome);
    let events = &outcome.events;
    let cut = rows.cuts(events.len(), EVENT_ROWS);
    let half = EVENT_ROWS / 2;
    let listed: Vec<usize> = if cut {
        (0..half).chain(events.len() - half..events.len()).collect()
    } else {
        (0..events.len()).collect()
    };
    // Borrowed where the event has the text: events.log lists hundreds of thousands.
    let table_rows: Vec<[Cow<str>; 6]> = listed
        .iter()
        .map(|&i| {
            let e = &events[i];
            [
                Cow::Owned(instant(e.at)),
                Cow::Owned(human_duration(end.since(e.at))),
                Cow::Borrowed(match e.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }),
                Cow::Borrowed(e.reason.as_str()),
                Cow::Borrowed(e.object.as_str()),
                Cow::Borrowed(e.message.as_str()),
            ]
        })
        .collect();
    let table = tabwrite(
        &["TIME", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        &table_rows,
        &[],
    );
    if !cut {
        return table;
    }
    // The header and the first half, the gap, then the last half.
    let mut out = String::new();
    let mut lines = table.lines();
    for line in lines.by_ref().take(1 + half) {
        out.push_str(line);
        out.push('\n');
    }
    let hidden = &events[half..events.len() - half];
    let _ = writeln!(
        out,
        "... {} events from {} to {} not listed ...",
        thousands(hidden.len() as u64),
        instant(hidden[0].at),
        instant(hidden[hidden.len() - 1].at)
    );
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&left_out(
        "events",
        listed.len(),
        events.len(),
        &tally(hidden.iter().map(|e| e.reason.as_str()), REASONS_NAMED),
        &format!("the first {half} and the last {half} in time order (events.log has every one)"),
    ));
    out
}

/// Requests per pod that served any: POD NODE IP REQUESTS SHARE FAIR SHARE VS FAIR, then a
/// TOTAL row. The fair share is each pod's [`super::spread::ServingPod::fair`]. Beyond [`TABLE_ROWS`] pods (unless
/// [`Rows::All`]): the pods that served the most, most first, then one row adding up the rest.
pub fn spread_table(outcome: &Outcome, rows: Rows) -> String {
    let spread = Spread::of(outcome);
    if spread.pods.is_empty() {
        return "no pod served any request\n".to_string();
    }
    let total = spread.total as f64;
    let cut = rows.cuts(spread.pods.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        largest(&spread.pods, TABLE_ROWS, |p| p.served)
    } else {
        (0..spread.pods.len()).collect()
    };
    let mut table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let p = &spread.pods[i];
            vec![
                p.name.clone(),
                p.node.clone().unwrap_or_else(|| NONE.to_string()),
                p.ip.map_or_else(|| NONE.to_string(), |ip| ip.to_string()),
                thousands(p.served),
                percent(p.served as f64, total),
                count_tenths(p.fair),
                format!("{:+.1}%", 100.0 * (p.served as f64 - p.fair) / p.fair),
            ]
        })
        .collect();
    let mut footer = String::new();
    if cut {
        let rest = rest_of(spread.pods.len(), &listed);
        let served: Vec<u64> = rest.iter().map(|&i| spread.pods[i].served).collect();
        let sum: u64 = served.iter().sum();
        let (lo, hi) = (
            served.iter().copied().min().unwrap_or(0),
            served.iter().copied().max().unwrap_or(0),
        );
        table_rows.push(vec![
            format!("({} more pods)", thousands(rest.len() as u64)),
            String::new(),
            String::new(),
            thousands(sum),
            percent(sum as f64, total),
            String::new(),
            String::new(),
        ]);
        footer = left_out(
            "pods",
            listed.len(),
            spread.pods.len(),
            &format!("{} to {} requests each", thousands(lo), thousands(hi)),
            "those that served the most requests, most first",
        );
    }
    table_rows.push(vec![
        "TOTAL".to_string(),
        String::new(),
        String::new(),
        thousands(spread.total),
        percent(total, total),
        String::new(),
        String::new(),
    ]);
    use Align::{Left, Right};
    let mut out = tabwrite(
        &[
            "POD",
            "NODE",
            "IP",
            "REQUESTS",
            "SHARE",
            "FAIR SHARE",
            "VS FAIR",
        ],
        &table_rows,
        &[Left, Left, Left, Right, Right, Right, Right],
    );
    out.push_str(&footer);
    out
}

/// Request counts, then the capacity story: goodput (user requests answered, at any attempt,
/// per second of the measured window, `duration` − `warmup`: `summary.json`'s `goodput_per_s`
/// summed over the streams) and the share of user requests that succeeded (a user
/// request is a first attempt with its retries; those still in flight at the end are left out
/// of the share and counted), the latency of served requests and, when any failed, the latency
/// as users saw it, each failed request counted at its time to failure; then failures by
/// reason. A latency over nothing prints `n/a`, never a row of zeros.
pub fn requests_summary(outcome: &Outcome) -> String {
    let r = &outcome.requests;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "requests: {} sent, {} served, {} failed, {} in flight",
        thousands(r.sent),
        thousands(r.served),
        thousands(r.failed),
        thousands(r.in_flight)
    );
    let window = outcome.simulated.saturating_sub(outcome.warmup);
    let secs = window.as_secs_f64();
    if secs > 0.0 && r.sent > 0 {
        let users = outcome
            .streams
            .iter()
            .fold((0, 0, 0), |(sent, ok, failed), s| {
                let u = &s.user_requests;
                (sent + u.sent, ok + u.succeeded, failed + u.failed)
            });
        let (user_sent, user_ok, user_failed) = users;
        let ended = user_ok + user_failed;
        let share = if ended == 0 {
            "none ended".to_string()
        } else {
            format!(
                "{} succeeded ({} of {}{})",
                percent_floor(user_ok, ended),
                thousands(user_ok),
                thousands(ended),
                match user_sent.saturating_sub(ended) {
                    0 => String::new(),
                    n => format!("; {} still in flight at the end", thousands(n)),
                }
            )
        };
        let _ = writeln!(
            out,
            "goodput: {} user requests answered per second over {}; user requests: {share}",
            per_second(user_ok, secs),
            window,
        );
    }
    let _ = writeln!(
        out,
        "latency of served requests (ms): {}",
        latency_line(&outcome.latency, "nothing was served")
    );
    if r.failed > 0 {
        let mut all = crate::sim::outcome::Latency::default();
        for s in &outcome.streams {
            all.add(&s.latency_with_failures);
        }
        let _ = writeln!(
            out,
            "latency counting failures, each at its time to failure (ms): {}",
            latency_line(&all, "no request ended")
        );
    }
    if r.failed_by_reason.is_empty() {
        let _ = writeln!(out, "failures: none");
    } else {
        let reasons: Vec<String> = r
            .failed_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect();
        let _ = writeln!(out, "failures: {}", reasons.join(", "));
    }
    out
}

/// `mean 7.255  p50 5.718  p90 13.910  p99 25.379  max 62.980`, or `n/a (why)` when the
/// histogram holds nothing.
fn latency_line(latency: &crate::sim::outcome::Latency, why: &str) -> String {
    if latency.count() == 0 {
        return format!("n/a ({why})");
    }
    let l = latency.ms();
    format!(
        "mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        l.mean, l.p50, l.p90, l.p99, l.max
    )
}

/// A latency cell of a table: `{:.3}` milliseconds, or `n/a` when nothing was served.
fn ms_cell(latency: &crate::sim::outcome::Latency, pick: fn(&LatencyMs) -> f64) -> String {
    if latency.count() == 0 {
        "n/a".to_string()
    } else {
        format!("{:.3}", pick(&latency.ms()))
    }
}

/// `n` per second over `secs`, with one decimal: `926.7`, `1,234.5`.
fn per_second(n: u64, secs: f64) -> String {
    count_tenths(n as f64 / secs)
}

/// `part` of `whole` as a percentage with one decimal, rounded down, so that a single failure
/// in 100,000 reads `99.9%`, never `100.0%`.
fn percent_floor(part: u64, whole: u64) -> String {
    let tenths = (part as u128 * 1000 / whole as u128) as u64;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// One row per traffic stream: NAME SENT SERVED FAILED CONNECTIONS P50 P99 (ms). Beyond
/// [`TABLE_ROWS`] streams (unless [`Rows::All`]): the streams that sent the most.
pub fn traffic_table(outcome: &Outcome, rows: Rows) -> String {
    let streams = &outcome.streams;
    let cut = rows.cuts(streams.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        largest(streams, TABLE_ROWS, |s| s.sent)
    } else {
        (0..streams.len()).collect()
    };
    let table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let s = &streams[i];
            vec![
                s.name.clone(),
                thousands(s.sent),
                thousands(s.served),
                thousands(s.failed),
                thousands(s.connections),
                ms_cell(&s.latency, |l| l.p50),
                ms_cell(&s.latency, |l| l.p99),
            ]
        })
        .collect();
    use Align::{Left, Right};
    let mut out = tabwrite(
        &[
            "STREAM",
            "SENT",
            "SERVED",
            "FAILED",
            "CONNECTIONS",
            "P50 MS",
            "P99 MS",
        ],
        &table_rows,
        &[Left, Right, Right, Right, Right, Right, Right],
    );
    if cut {
        let rest = rest_of(streams.len(), &listed);
        let sent: u64 = rest.iter().map(|&i| streams[i].sent).sum();
        let served: u64 = rest.iter().map(|&i| streams[i].served).sum();
        out.push_str(&left_out(
            "streams",
            listed.len(),
            streams.len(),
            &format!("{} sent, {} served", thousands(sent), thousands(served)),
            "those that sent the most requests, most first",
        ));
    }
    out
}

/// A quantity of milli-units as `resource.Quantity.String()` prints it: `200m`, `2`.
fn milli_quantity(m: i64) -> String {
    if m % 1000 == 0 {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// The TARGETS column of `kubectl get hpa` (`formatHPAMetrics` in
/// `pkg/printers/internalversion/printers.go`): `cpu: 45%/50%` for a utilization,
/// `cpu: 250m/500m` for a resource's average value, `10500m/10` for a `Pods` metric; past two
/// metrics, `+ N more...`.
pub fn hpa_targets_column(h: &HpaOutcome) -> String {
    let list: Vec<String> = h
        .targets
        .iter()
        .map(|t| {
            let unknown = || "<unknown>".to_string();
            match t.kind.as_str() {
                "Utilization" => format!(
                    "{}: {}/{}%",
                    t.name,
                    t.current.map_or_else(unknown, |c| format!("{c}%")),
                    t.target
                ),
                "AverageValue" if t.name == "cpu" || t.name == "memory" => format!(
                    "{}: {}/{}",
                    t.name,
                    t.current.map_or_else(unknown, milli_quantity),
                    milli_quantity(t.target)
                ),
                "AverageValue" => format!(
                    "{}/{}",
                    t.current.map_or_else(unknown, milli_quantity),
                    milli_quantity(t.target)
                ),
                _ => "<unknown>/<unknown>".to_string(),
            }
        })
        .collect();
    match list.len() {
        0 => "<none>".to_string(),
        1 | 2 => list.join(", "),
        n => format!("{} + {} more...", list[..2].join(", "), n - 2),
    }
}

/// `kubectl get hpa` (NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE) at `now`, with a
/// NAMESPACE column first when `all`.
pub fn hpa_table_at(hpas: &[&HpaOutcome], now: SimTime, all: bool) -> String {
    let rows: Vec<Vec<String>> = hpas
        .iter()
        .map(|h| {
            let mut row = vec![
                h.name.clone(),
                h.reference.clone(),
                hpa_targets_column(h),
                h.min_replicas.to_string(),
                h.max_replicas.to_string(),
                h.replicas.to_string(),
                human_duration(now.since(h.created)),
            ];
            if all {
                row.insert(0, h.namespace.clone());
            }
            row
        })
        .collect();
    let mut header = vec![
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ];
    if all {
        header.insert(0, "NAMESPACE");
    }
    tabwrite(&header, &rows, &[])
}

/// `kubectl get hpa` at the end of the run.
pub fn hpa_table(outcome: &Outcome) -> String {
    let hpas: Vec<&HpaOutcome> = outcome.hpas.iter().collect();
    let all = many_namespaces(hpas.iter().map(|h| h.namespace.as_str()));
    hpa_table_at(&hpas, end(outcome), all)
}

/// The full terminal report of a run: a heading line, then nodes, pods, services, the spread of
/// requests, traffic streams and events, each under its own heading; `rows` says whether long
/// tables are summarised.
pub fn render_run(outcome: &Outcome, rows: Rows) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kubesim run {}: seed {}, {} simulated{}",
        outcome.scenario,
        outcome.seed,
        outcome.simulated,
        if outcome.warmup.is_zero() {
            String::new()
        } else {
            format!(
                ", first {} left out of the figures (warmup)",
                outcome.warmup
            )
        }
    );
    let mut section = |title: &str, body: String| {
        let _ = write!(out, "\n== {title} ==\n{body}");
    };
    section(
        "Nodes (kubectl get nodes -o wide)",
        nodes_table(outcome, rows),
    );
    // With a NAMESPACE column (the CoreDNS add-on's kube-system beside the user's
    // namespace) the tables are what `kubectl get -A` prints, and their titles say so.
    let pods_all = many_namespaces(
        outcome
            .pods
            .iter()
            .filter(|p| exists_at_end(p))
            .map(|p| p.namespace.as_str()),
    );
    section(
        if pods_all {
            "Pods at the end (kubectl get pods -A -o wide)"
        } else {
            "Pods at the end (kubectl get pods -o wide)"
        },
        pods_table(outcome, rows),
    );
    let svc_all = many_namespaces(outcome.services.iter().map(|s| s.namespace.as_str()));
    section(
        if svc_all {
            "Services (kubectl get svc -A)"
        } else {
            "Services (kubectl get svc)"
        },
        services_table(outcome, rows),
    );
    if !outcome.hpas.is_empty() {
        section(
            "HorizontalPodAutoscalers (kubectl get hpa)",
            hpa_table(outcome),
        );
    }
    section(
        "Requests per pod",
        format!(
            "{}\n{}",
            spread_table(outcome, rows),
            requests_summary(outcome)
        ),
    );
    if !outcome.streams.is_empty() {
        section("Traffic", traffic_table(outcome, rows));
    }
    let events = if outcome.events.is_empty() {
        "no events\n".to_string()
    } else {
        events_table(outcome, rows)
    };
    section(
        "Events (TIME: simulated seconds since the start of the run)",
        events,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{large_outcome, sample_outcome, AT_SCALE};

    #[test]
    fn pods_table_has_kubectl_header_and_hides_gone_pods() {
        let table = pods_table(&sample_outcome(), Rows::Summary);
        let mut lines = table.lines();
        assert_eq!(
            lines.next().unwrap(),
            "NAME                                 READY   STATUS    RESTARTS   AGE   IP           \
             NODE             NOMINATED NODE   READINESS GATES"
        );
        assert_eq!(
            lines.next().unwrap(),
            "http-deployment-5d9c7b9c4d-7fhd2     1/1     Running   0          60s   10.244.0.6   \
             docker-desktop   <none>           <none>"
        );
        assert!(
            !table.contains("x7k2p"),
            "a deleted pod that is gone is not listed:\n{table}"
        );
        assert!(table.contains(
            "http-deployment-5d9c7b9c4d-pending   0/1     Pending   0          10s   <none>"
        ));
    }

    #[test]
    fn svc_table_shows_node_ports_and_headless() {
        let table = services_table(&sample_outcome(), Rows::Summary);
        assert_eq!(
            table,
            "NAME            TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE\n\
             http-svc        NodePort    10.96.112.37   <none>        8080:30001/TCP   60s\n\
             http-headless   ClusterIP   None           <none>        80/TCP           60s\n"
        );
    }

    #[test]
    fn nodes_table_lists_every_node() {
        let table = nodes_table(&sample_outcome(), Rows::Summary);
        assert!(
            table.starts_with("NAME             STATUS   ROLES    AGE   VERSION   INTERNAL-IP\n")
        );
        assert!(table.contains("docker-desktop   Ready    <none>   60s   v1.34.0   192.168.0.24\n"));
    }

    #[test]
    fn events_show_simulated_instants_and_kubectl_ages() {
        let table = events_table(&sample_outcome(), Rows::Summary);
        assert!(
            table.starts_with("TIME      LAST SEEN   TYPE      REASON"),
            "{table}"
        );
        assert!(
            table.contains("0.000s    60s         Normal    Scheduled"),
            "{table}"
        );
        assert!(
            table.contains("50.000s   10s         Warning   FailedScheduling"),
            "{table}"
        );
    }

    #[test]
    fn spread_and_full_report() {
        let outcome = sample_outcome();
        let report = render_run(&outcome, Rows::Summary);
        for heading in [
            "== Nodes",
            "== Pods",
            "== Services",
            "== Requests per pod",
            "== Events",
        ] {
            assert!(report.contains(heading), "missing {heading}:\n{report}");
        }
        assert!(
            report.contains("failures: connection_refused 10"),
            "{report}"
        );
        let spread = spread_table(&outcome, Rows::Summary);
        assert!(
            spread.lines().last().unwrap().starts_with("TOTAL"),
            "{spread}"
        );
        // Each pod against the traffic of its own time as an endpoint: the two that served all
        // along share most, the one deleted at 20 s and its replacement less (issue 14).
        for (pod, fair) in [
            ("x7k2p", "941.2"),
            ("7fhd2", "2,677.8"),
            ("m4wq8", "1,693.3"),
        ] {
            let line = spread.lines().find(|l| l.contains(pod)).unwrap();
            assert_eq!(line.split_whitespace().nth(5), Some(fair), "{spread}");
        }
        println!("{report}");
    }

    /// The fair share reads like the other counts: grouped digits, and no `.0` when the pods'
    /// total divides evenly (the seed run's `21,624`, not `21624.0`).
    #[test]
    fn the_fair_share_column_groups_digits_like_the_counts() {
        let mut outcome = sample_outcome();
        // Without a timeline every pod's fair share is the mean: 7,990 + 2 = 7,992 over 4 pods,
        // exactly 1,998.
        outcome.timeline.served.clear();
        outcome.pods[1].served += 2;
        let spread = spread_table(&outcome, Rows::Summary);
        let fair: Vec<&str> = spread
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("TOTAL"))
            .map(|l| l.split_whitespace().nth(5).unwrap())
            .collect();
        assert_eq!(fair, ["1,998"; 4], "{spread}");
        assert!(!spread.contains("1998.0"), "{spread}");
    }

    /// 5,000 nodes, 12,000 pods, 10,000 Services, 8,000 events and 60 streams: each table lists
    /// its limit, ordered by its stated key, and closes with what it left out; `Rows::All` lists
    /// every row, and the report stays a few hundred lines.
    #[test]
    fn tables_summarise_at_scale_and_all_lists_every_row() {
        let outcome = large_outcome(AT_SCALE);
        let lines = |t: &str| t.lines().count();

        let nodes = nodes_table(&outcome, Rows::Summary);
        assert_eq!(lines(&nodes), 1 + TABLE_ROWS + 1, "{nodes}");
        assert!(nodes
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("worker-pool-a-00007   NotReady"));
        assert!(
            nodes.ends_with(
                "+4,950 more nodes not listed (4,950 Ready). Listed: 50 of 5,000, nodes not Ready \
             first, then those whose pods served the most requests; --all lists every one\n"
            ),
            "{nodes}"
        );
        assert_eq!(lines(&nodes_table(&outcome, Rows::All)), 1 + 5_000);

        let pods = pods_table(&outcome, Rows::Summary);
        assert_eq!(lines(&pods), 1 + TABLE_ROWS + 1);
        assert!(pods
            .lines()
            .skip(1)
            .take(TABLE_ROWS)
            .all(|l| l.contains("CrashLoopBackOff")));
        assert!(pods.ends_with(
            "+11,950 more pods not listed (9,494 Running, 1,714 Pending, 742 CrashLoopBackOff). \
             Listed: 50 of 12,000, pods not Running first, then those that served the most \
             requests; --all lists every one\n"
        ), "{pods}");
        assert_eq!(lines(&pods_table(&outcome, Rows::All)), 1 + 12_000);

        let svc = services_table(&outcome, Rows::Summary);
        assert_eq!(lines(&svc), 1 + TABLE_ROWS + 1);
        assert!(svc
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("checkout-frontend-00000 "));
        assert!(
            svc.contains("+9,950 more Services not listed (7,961 ClusterIP, 1,989 NodePort)"),
            "{svc}"
        );
        assert_eq!(lines(&services_table(&outcome, Rows::All)), 1 + 10_000);

        let events = events_table(&outcome, Rows::Summary);
        assert_eq!(lines(&events), 1 + EVENT_ROWS + 2, "{events}");
        assert!(
            events.contains("\n... 7,900 events from 0.375s to 59.617s not listed ...\n"),
            "{events}"
        );
        assert!(events.ends_with(
            "+7,900 more events not listed (1,317 BackOff, 1,317 Created, 1,317 Killing, 1,317 \
             Started, 1,316 Pulled, 1,316 Scheduled). Listed: 100 of 8,000, the first 50 and the \
             last 50 in time order (events.log has every one); --all lists every one\n"
        ), "{events}");
        assert_eq!(lines(&events_table(&outcome, Rows::All)), 1 + 8_000);

        let spread = spread_table(&outcome, Rows::Summary);
        assert_eq!(lines(&spread), 1 + TABLE_ROWS + 3, "{spread}");
        assert!(spread.contains("\n(10,236 more pods) "), "{spread}");
        assert!(
            spread.contains("+10,236 more pods not listed (1,000 to 1,4"),
            "{spread}"
        );
        let all = spread_table(&outcome, Rows::All);
        assert_eq!(lines(&all), 1 + 10_286 + 1);

        let traffic = traffic_table(&outcome, Rows::Summary);
        assert_eq!(lines(&traffic), 1 + TABLE_ROWS + 1);
        assert!(traffic
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("shoppers-from-region-059"));
        assert_eq!(lines(&traffic_table(&outcome, Rows::All)), 1 + 60);

        let report = render_run(&outcome, Rows::Summary);
        assert!(lines(&report) < 450, "{} lines", lines(&report));
        assert!(lines(&render_run(&outcome, Rows::All)) > 45_000);
    }

    /// At or below every limit, the summary and `--all` are the same text.
    #[test]
    fn below_the_limits_summary_and_all_agree() {
        let outcome = sample_outcome();
        assert_eq!(
            render_run(&outcome, Rows::Summary),
            render_run(&outcome, Rows::All)
        );
    }
}
