//! kubectl-style tables (`get nodes -o wide`, `get pods -o wide`, `get svc`, `get events`) and
//! the spread of requests per pod, as the terminal shows them after a run.
//!
//! Columns are laid out as kubectl's tabwriter does (3 spaces of padding, left-aligned), and
//! states print as kubectl prints them. AGE is measured at the end of the simulated run.

use super::format::{count_tenths, human_duration, instant, percent, tabwrite, thousands, Align};
use super::spread::Spread;
use crate::engine::SimTime;
use crate::sim::outcome::{EventType, Outcome, PodOutcome, ServiceOutcome};
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

/// `kubectl get nodes -o wide`, with the columns the simulation knows: NAME STATUS ROLES AGE
/// VERSION INTERNAL-IP. Nodes exist from the start of the run; ROLES is `<none>` because the
/// outcome carries no node-role labels.
pub fn nodes_table(outcome: &Outcome) -> String {
    let age = human_duration(outcome.simulated);
    let rows: Vec<Vec<String>> = outcome
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.status.clone(),
                NONE.to_string(),
                age.clone(),
                n.kubelet_version.clone(),
                n.ip.to_string(),
            ]
        })
        .collect();
    tabwrite(
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"],
        &rows,
        &[],
    )
}

/// `kubectl get pods -o wide` at the end of the run: the pods that still exist (Terminating
/// ones included), in creation order. A NAMESPACE column appears when pods span namespaces.
pub fn pods_table(outcome: &Outcome) -> String {
    let now = end(outcome);
    let pods: Vec<&PodOutcome> = outcome.pods.iter().filter(|p| exists_at_end(p)).collect();
    let show_ns = many_namespaces(pods.iter().map(|p| p.namespace.as_str()));
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            let row = vec![
                p.name.clone(),
                p.ready.clone(),
                p.status.clone(),
                p.restarts.to_string(),
                human_duration(now.since(p.created)),
                p.ip.map_or_else(|| NONE.to_string(), |ip| ip.to_string()),
                p.node.clone().unwrap_or_else(|| NONE.to_string()),
                NONE.to_string(),
                NONE.to_string(),
            ];
            with_namespace(show_ns, &p.namespace, row)
        })
        .collect();
    let header = header_with_namespace(
        show_ns,
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
        ],
    );
    tabwrite(&header, &rows, &[])
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

/// `kubectl get svc`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE. CLUSTER-IP is `None` for a
/// headless Service and `<none>` for ExternalName. Services exist from the start of the run.
pub fn services_table(outcome: &Outcome) -> String {
    services_table_at(&outcome.services, outcome.simulated)
}

/// `kubectl get svc` for `services`, all of age `age` (`kubesim check` shows them at 0s).
pub fn services_table_at(services: &[ServiceOutcome], age: crate::engine::SimDuration) -> String {
    let age = human_duration(age);
    let show_ns = many_namespaces(services.iter().map(|s| s.namespace.as_str()));
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let cluster_ip = match (s.cluster_ip, s.type_) {
                (Some(ip), _) => ip.to_string(),
                (None, crate::model::objects::ServiceType::ExternalName) => NONE.to_string(),
                (None, _) => "None".to_string(),
            };
            let row = vec![
                s.name.clone(),
                s.type_.as_str().to_string(),
                cluster_ip,
                s.external_ip.clone(),
                ports_column(s),
                age.clone(),
            ];
            with_namespace(show_ns, &s.namespace, row)
        })
        .collect();
    let header = header_with_namespace(
        show_ns,
        &[
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
        ],
    );
    tabwrite(&header, &rows, &[])
}

/// `kubectl get events` (LAST SEEN TYPE REASON OBJECT MESSAGE, LAST SEEN being the age at the
/// end of the run), oldest first, after a first TIME column that kubectl lacks: the simulated
/// instant of the event.
pub fn events_table(outcome: &Outcome) -> String {
    let end = end(outcome);
    let rows: Vec<Vec<String>> = outcome
        .events
        .iter()
        .map(|e| {
            vec![
                instant(e.at),
                human_duration(end.since(e.at)),
                match e.type_ {
                    EventType::Normal => "Normal".to_string(),
                    EventType::Warning => "Warning".to_string(),
                },
                e.reason.clone(),
                e.object.clone(),
                e.message.clone(),
            ]
        })
        .collect();
    tabwrite(
        &["TIME", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        &rows,
        &[],
    )
}

/// Requests per pod that served any: POD NODE IP REQUESTS SHARE FAIR SHARE VS FAIR, then a
/// TOTAL row. The fair share is [`Spread::fair_share`].
pub fn spread_table(outcome: &Outcome) -> String {
    let spread = Spread::of(outcome);
    if spread.pods.is_empty() {
        return "no pod served any request\n".to_string();
    }
    let total = spread.total as f64;
    let fair = spread.fair_share();
    let mut rows: Vec<Vec<String>> = spread
        .pods
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.node.clone().unwrap_or_else(|| NONE.to_string()),
                p.ip.map_or_else(|| NONE.to_string(), |ip| ip.to_string()),
                thousands(p.served),
                percent(p.served as f64, total),
                count_tenths(fair),
                format!("{:+.1}%", 100.0 * (p.served as f64 - fair) / fair),
            ]
        })
        .collect();
    rows.push(vec![
        "TOTAL".to_string(),
        String::new(),
        String::new(),
        thousands(spread.total),
        percent(total, total),
        String::new(),
        String::new(),
    ]);
    use Align::{Left, Right};
    tabwrite(
        &[
            "POD",
            "NODE",
            "IP",
            "REQUESTS",
            "SHARE",
            "FAIR SHARE",
            "VS FAIR",
        ],
        &rows,
        &[Left, Left, Left, Right, Right, Right, Right],
    )
}

/// Request counts, latency and failures by reason, one line each.
pub fn requests_summary(outcome: &Outcome) -> String {
    let r = &outcome.requests;
    let l = outcome.latency.ms();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "requests: {} sent, {} served, {} failed, {} in flight",
        thousands(r.sent),
        thousands(r.served),
        thousands(r.failed),
        thousands(r.in_flight)
    );
    let _ = writeln!(
        out,
        "latency (ms): mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        l.mean, l.p50, l.p90, l.p99, l.max
    );
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

/// One row per traffic stream: NAME SENT SERVED FAILED CONNECTIONS P50 P99 (ms).
pub fn traffic_table(outcome: &Outcome) -> String {
    let rows: Vec<Vec<String>> = outcome
        .streams
        .iter()
        .map(|s| {
            let l = s.latency.ms();
            vec![
                s.name.clone(),
                thousands(s.sent),
                thousands(s.served),
                thousands(s.failed),
                thousands(s.connections),
                format!("{:.3}", l.p50),
                format!("{:.3}", l.p99),
            ]
        })
        .collect();
    use Align::{Left, Right};
    tabwrite(
        &[
            "STREAM",
            "SENT",
            "SERVED",
            "FAILED",
            "CONNECTIONS",
            "P50 MS",
            "P99 MS",
        ],
        &rows,
        &[Left, Right, Right, Right, Right, Right, Right],
    )
}

/// The full terminal report of a run: a heading line, then nodes, pods, services, the spread of
/// requests, traffic streams and events, each under its own heading.
pub fn render_run(outcome: &Outcome) -> String {
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
    section("Nodes (kubectl get nodes -o wide)", nodes_table(outcome));
    section(
        "Pods at the end (kubectl get pods -o wide)",
        pods_table(outcome),
    );
    section("Services (kubectl get svc)", services_table(outcome));
    section(
        "Requests per pod",
        format!("{}\n{}", spread_table(outcome), requests_summary(outcome)),
    );
    if !outcome.streams.is_empty() {
        section("Traffic", traffic_table(outcome));
    }
    let events = if outcome.events.is_empty() {
        "no events\n".to_string()
    } else {
        events_table(outcome)
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
    use crate::report::fixture::sample_outcome;

    #[test]
    fn pods_table_has_kubectl_header_and_hides_gone_pods() {
        let table = pods_table(&sample_outcome());
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
        let table = services_table(&sample_outcome());
        assert_eq!(
            table,
            "NAME            TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE\n\
             http-svc        NodePort    10.96.112.37   <none>        8080:30001/TCP   60s\n\
             http-headless   ClusterIP   None           <none>        80/TCP           60s\n"
        );
    }

    #[test]
    fn nodes_table_lists_every_node() {
        let table = nodes_table(&sample_outcome());
        assert!(
            table.starts_with("NAME             STATUS   ROLES    AGE   VERSION   INTERNAL-IP\n")
        );
        assert!(table.contains("docker-desktop   Ready    <none>   60s   v1.34.0   192.168.0.24\n"));
    }

    #[test]
    fn events_show_simulated_instants_and_kubectl_ages() {
        let table = events_table(&sample_outcome());
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
        let report = render_run(&outcome);
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
        let spread = spread_table(&outcome);
        assert!(
            spread.lines().last().unwrap().starts_with("TOTAL"),
            "{spread}"
        );
        assert!(
            spread.contains("1,997.5"),
            "fair share is 7,990 / 4 pods:\n{spread}"
        );
        println!("{report}");
    }

    /// The fair share reads like the other counts: grouped digits, and no `.0` when the pods'
    /// total divides evenly (the seed run's `21,624`, not `21624.0`).
    #[test]
    fn the_fair_share_column_groups_digits_like_the_counts() {
        let mut outcome = sample_outcome();
        // 7,990 + 2 = 7,992 over 4 pods: exactly 1,998.
        outcome.pods[1].served += 2;
        let spread = spread_table(&outcome);
        let fair: Vec<&str> = spread
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("TOTAL"))
            .map(|l| l.split_whitespace().nth(5).unwrap())
            .collect();
        assert_eq!(fair, ["1,998"; 4], "{spread}");
        assert!(!spread.contains("1998.0"), "{spread}");
    }
}
