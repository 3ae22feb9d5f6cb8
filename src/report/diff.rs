//! `kubesim diff A B`: two runs side by side (iptables against IPVS, with and without a
//! `preStop` hook, two seeds), per request total, per stream, per Service and per pod, with
//! the differences: as terminal tables ([`render_diff`]) and as `diff.html` ([`diff_html`]),
//! one self-contained page in `report.html`'s style.
//!
//! Both sides are read from `summary.json` text ([`RunFigures::parse`]): an output folder's
//! file, or the summary of a scenario just run (the command line runs it). So the figures
//! compared are exactly those the two runs wrote, and a folder from an older kubesim, whose
//! summary lacks a newer key, still compares (the key reads as zero).
//!
//! Pods are paired by namespace and name; those left over (a changed pod template, such as an
//! added `preStop` hook, changes every pod's name) by their owner's name and creation order,
//! the owner being the name without its ReplicaSet hash and random suffix.

use super::format::{tabwrite, thousands, Align};
use super::limits::{Rows, TABLE_ROWS};
use super::output::{io_error, write_folder, ReportError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a side cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{what}: not a kubesim summary.json: {source}")]
    Parse {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The figures of one run that `diff` compares, as `summary.json` holds them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RunFigures {
    /// Where they came from (an output folder or a scenario file), for headings.
    #[serde(skip)]
    pub label: String,
    pub scenario: String,
    pub seed: u64,
    pub simulated_seconds: f64,
    pub warmup_seconds: f64,
    pub requests: Requests,
    pub latency_ms: Latency,
    pub traffic: Vec<Stream>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Requests {
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub throughput_per_s: f64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Stream {
    pub name: String,
    pub sent: u64,
    pub served: u64,
    pub failed: u64,
    pub latency_ms: Latency,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub user_requests: UserRequests,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct UserRequests {
    pub sent: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub served: u64,
    pub restarts: u32,
    pub status: String,
    pub created_s: f64,
    pub deleted_s: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub cluster_ip: Option<String>,
    pub served: u64,
    pub latency_ms: Latency,
}

impl RunFigures {
    /// Reads `summary.json` text; `label` names the side in errors and headings.
    pub fn parse(label: &str, text: &str) -> Result<RunFigures, DiffError> {
        let mut f: RunFigures = serde_json::from_str(text).map_err(|source| DiffError::Parse {
            what: label.to_string(),
            source,
        })?;
        f.label = label.to_string();
        Ok(f)
    }

    /// The share of user requests that ended and succeeded, over every stream; `None` when none
    /// ended.
    fn success(&self) -> Option<f64> {
        let (ok, failed) = self.traffic.iter().fold((0, 0), |(ok, failed), s| {
            (
                ok + s.user_requests.succeeded,
                failed + s.user_requests.failed,
            )
        });
        (ok + failed > 0).then(|| ok as f64 / (ok + failed) as f64)
    }
}

/// One compared figure: its name, A's and B's values as printed, and the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub a: String,
    pub b: String,
    /// `B − A` as printed (`+12`, `-3.2%`), empty when equal or not comparable.
    pub delta: String,
    /// Whether A and B differ.
    pub differs: bool,
}

fn count_row(name: &str, a: Option<u64>, b: Option<u64>) -> Row {
    let show = |v: Option<u64>| v.map_or("-".to_string(), thousands);
    let (delta, differs) = match (a, b) {
        (Some(a), Some(b)) if a != b => (signed(b as i128 - a as i128), true),
        (Some(_), Some(_)) => (String::new(), false),
        _ => (String::new(), a.is_some() || b.is_some()),
    };
    Row {
        name: name.to_string(),
        a: show(a),
        b: show(b),
        delta,
        differs,
    }
}

fn ms_row(name: &str, a: Option<f64>, b: Option<f64>) -> Row {
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    let (delta, differs) = match (a, b) {
        (Some(a), Some(b)) if a != b => (format!("{:+.3}", b - a), true),
        (Some(_), Some(_)) => (String::new(), false),
        _ => (String::new(), a.is_some() != b.is_some()),
    };
    Row {
        name: name.to_string(),
        a: show(a),
        b: show(b),
        delta,
        differs,
    }
}

fn text_row(name: &str, a: &str, b: &str) -> Row {
    Row {
        name: name.to_string(),
        a: a.to_string(),
        b: b.to_string(),
        delta: String::new(),
        differs: a != b,
    }
}

fn signed(d: i128) -> String {
    let s = thousands(d.unsigned_abs() as u64);
    if d < 0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

/// The latency figures of a side that served something (`None`: nothing to compare).
fn served_latency(served: u64, l: &Latency) -> Option<Latency> {
    (served > 0).then_some(*l)
}

/// The run-wide figures: requests, goodput, the share that succeeded, latency, failures by
/// reason.
pub fn totals(a: &RunFigures, b: &RunFigures) -> Vec<Row> {
    let (ra, rb) = (&a.requests, &b.requests);
    let mut rows = vec![
        count_row("sent", Some(ra.sent), Some(rb.sent)),
        count_row("served", Some(ra.served), Some(rb.served)),
        count_row("failed", Some(ra.failed), Some(rb.failed)),
        count_row(
            "in flight at the end",
            Some(ra.in_flight),
            Some(rb.in_flight),
        ),
    ];
    let per_s = |x: f64| format!("{x:.1}");
    rows.push(Row {
        name: "served per second".to_string(),
        a: per_s(ra.throughput_per_s),
        b: per_s(rb.throughput_per_s),
        delta: if ra.throughput_per_s == rb.throughput_per_s {
            String::new()
        } else {
            format!("{:+.1}", rb.throughput_per_s - ra.throughput_per_s)
        },
        differs: ra.throughput_per_s != rb.throughput_per_s,
    });
    let share = |s: Option<f64>| s.map_or("n/a".to_string(), |s| format!("{:.2}%", 100.0 * s));
    let (sa, sb) = (a.success(), b.success());
    rows.push(Row {
        name: "user requests succeeded".to_string(),
        a: share(sa),
        b: share(sb),
        delta: match (sa, sb) {
            (Some(x), Some(y)) if x != y => format!("{:+.2} points", 100.0 * (y - x)),
            _ => String::new(),
        },
        differs: sa != sb,
    });
    let (la, lb) = (
        served_latency(ra.served, &a.latency_ms),
        served_latency(rb.served, &b.latency_ms),
    );
    rows.extend(latency_rows("latency of served requests, ms", la, lb));
    let reasons: std::collections::BTreeSet<&String> = ra
        .failed_by_reason
        .keys()
        .chain(rb.failed_by_reason.keys())
        .collect();
    for r in reasons {
        rows.push(count_row(
            &format!("failed: {r}"),
            Some(ra.failed_by_reason.get(r).copied().unwrap_or(0)),
            Some(rb.failed_by_reason.get(r).copied().unwrap_or(0)),
        ));
    }
    rows
}

/// A latency figure's name and how to read it.
type LatencyFigure = (&'static str, fn(&Latency) -> f64);

fn latency_rows(what: &str, a: Option<Latency>, b: Option<Latency>) -> Vec<Row> {
    let figures: [LatencyFigure; 6] = [
        ("mean", |l| l.mean),
        ("p50", |l| l.p50),
        ("p90", |l| l.p90),
        ("p99", |l| l.p99),
        ("p99.9", |l| l.p999),
        ("max", |l| l.max),
    ];
    figures
        .iter()
        .map(|(name, f)| {
            ms_row(
                &format!("{what}: {name}"),
                a.map(|l| f(&l)),
                b.map(|l| f(&l)),
            )
        })
        .collect()
}

/// A table of things found on either side, each with its rows of figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `browser`, `default/http-svc`, `http-deployment-7fbd98865c-tvtkp`, or `A name / B name`
    /// for pods paired by owner.
    pub name: String,
    pub rows: Vec<Row>,
}

impl Entity {
    fn differs(&self) -> bool {
        self.rows.iter().any(|r| r.differs)
    }
}

/// Per stream, by name: requests, failures, p50 and p99.
pub fn streams(a: &RunFigures, b: &RunFigures) -> Vec<Entity> {
    let mut names: Vec<&str> = a.traffic.iter().map(|s| s.name.as_str()).collect();
    for s in &b.traffic {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let sa = a.traffic.iter().find(|s| s.name == name);
            let sb = b.traffic.iter().find(|s| s.name == name);
            let lat = |s: Option<&Stream>| s.and_then(|s| served_latency(s.served, &s.latency_ms));
            let (la, lb) = (lat(sa), lat(sb));
            Entity {
                name: name.to_string(),
                rows: vec![
                    count_row("sent", sa.map(|s| s.sent), sb.map(|s| s.sent)),
                    count_row("served", sa.map(|s| s.served), sb.map(|s| s.served)),
                    count_row("failed", sa.map(|s| s.failed), sb.map(|s| s.failed)),
                    ms_row("p50 ms", la.map(|l| l.p50), lb.map(|l| l.p50)),
                    ms_row("p99 ms", la.map(|l| l.p99), lb.map(|l| l.p99)),
                ],
            }
        })
        .collect()
}

/// Per Service, by namespace and name: type, ClusterIP, requests served through it, p99.
pub fn services(a: &RunFigures, b: &RunFigures) -> Vec<Entity> {
    let key = |s: &Service| format!("{}/{}", s.namespace, s.name);
    let mut keys: Vec<String> = a.services.iter().map(key).collect();
    for s in &b.services {
        let k = key(s);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|k| {
            let sa = a.services.iter().find(|s| key(s) == k);
            let sb = b.services.iter().find(|s| key(s) == k);
            let ip = |s: Option<&Service>| {
                s.map_or("-".to_string(), |s| {
                    s.cluster_ip.clone().unwrap_or_else(|| "None".to_string())
                })
            };
            let type_ = |s: Option<&Service>| s.map_or("-".to_string(), |s| s.type_.clone());
            let lat = |s: Option<&Service>| s.and_then(|s| served_latency(s.served, &s.latency_ms));
            Entity {
                name: k,
                rows: vec![
                    text_row("type", &type_(sa), &type_(sb)),
                    text_row("cluster-ip", &ip(sa), &ip(sb)),
                    count_row("served", sa.map(|s| s.served), sb.map(|s| s.served)),
                    ms_row("p99 ms", lat(sa).map(|l| l.p99), lat(sb).map(|l| l.p99)),
                ],
            }
        })
        .collect()
}

/// A pod's owner as its name says: the name without the ReplicaSet hash and the random
/// suffix (`http-deployment-7fbd98865c-tvtkp` → `http-deployment`), or without the suffix
/// alone for a ReplicaSet's own pods; a pod with fewer parts is its own owner.
fn owner_of(name: &str) -> &str {
    let mut parts = name.rsplitn(3, '-');
    let (_suffix, hash, rest) = (parts.next(), parts.next(), parts.next());
    match (hash, rest) {
        (Some(h), Some(rest)) if h.len() >= 8 && h.len() <= 10 => rest,
        (Some(_), _) => name.rsplit_once('-').map_or(name, |(o, _)| o),
        _ => name,
    }
}

/// Pods paired across the runs: by namespace and name, then the rest by owner and creation
/// order, then those without a partner alone. A's order first, then B's unpaired.
pub fn pods(a: &RunFigures, b: &RunFigures) -> Vec<Entity> {
    let mut b_used = vec![false; b.pods.len()];
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    let by_name: BTreeMap<(&str, &str), usize> = b
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.namespace.as_str(), p.name.as_str()), i))
        .collect();
    let mut a_left = Vec::new();
    for (i, p) in a.pods.iter().enumerate() {
        match by_name.get(&(p.namespace.as_str(), p.name.as_str())) {
            Some(&j) if !b_used[j] => {
                b_used[j] = true;
                pairs.push((Some(i), Some(j)));
            }
            _ => {
                pairs.push((Some(i), None));
                a_left.push(pairs.len() - 1);
            }
        }
    }
    // Leftovers by owner, in creation order.
    let mut b_by_owner: BTreeMap<(&str, &str), std::collections::VecDeque<usize>> = BTreeMap::new();
    for (j, p) in b.pods.iter().enumerate().filter(|(j, _)| !b_used[*j]) {
        b_by_owner
            .entry((p.namespace.as_str(), owner_of(&p.name)))
            .or_default()
            .push_back(j);
    }
    for k in a_left {
        let i = pairs[k].0.expect("an A pod");
        let p = &a.pods[i];
        if let Some(j) = b_by_owner
            .get_mut(&(p.namespace.as_str(), owner_of(&p.name)))
            .and_then(|q| q.pop_front())
        {
            b_used[j] = true;
            pairs[k].1 = Some(j);
        }
    }
    pairs.extend(
        (0..b.pods.len())
            .filter(|&j| !b_used[j])
            .map(|j| (None, Some(j))),
    );
    pairs
        .into_iter()
        .map(|(i, j)| {
            let pa = i.map(|i| &a.pods[i]);
            let pb = j.map(|j| &b.pods[j]);
            let name = match (pa, pb) {
                (Some(x), Some(y)) if x.name == y.name => x.name.clone(),
                (Some(x), Some(y)) => format!("{} / {}", x.name, y.name),
                (Some(x), None) => format!("{} / -", x.name),
                (None, Some(y)) => format!("- / {}", y.name),
                (None, None) => unreachable!("a pair has a side"),
            };
            let text = |p: Option<&Pod>, f: fn(&Pod) -> String| p.map_or("-".to_string(), f);
            Entity {
                name,
                rows: vec![
                    text_row(
                        "node",
                        &text(pa, |p| p.node.clone().unwrap_or_else(|| "<none>".into())),
                        &text(pb, |p| p.node.clone().unwrap_or_else(|| "<none>".into())),
                    ),
                    text_row(
                        "ip",
                        &text(pa, |p| p.ip.clone().unwrap_or_else(|| "<none>".into())),
                        &text(pb, |p| p.ip.clone().unwrap_or_else(|| "<none>".into())),
                    ),
                    count_row("served", pa.map(|p| p.served), pb.map(|p| p.served)),
                    text_row(
                        "status at the end",
                        &text(pa, |p| p.status.clone()),
                        &text(pb, |p| p.status.clone()),
                    ),
                    count_row(
                        "restarts",
                        pa.map(|p| u64::from(p.restarts)),
                        pb.map(|p| u64::from(p.restarts)),
                    ),
                ],
            }
        })
        .collect()
}

/// Everything `diff` shows, computed once for the terminal and the page.
#[derive(Debug, Clone)]
pub struct Diff {
    pub a: String,
    pub b: String,
    pub totals: Vec<Row>,
    pub streams: Vec<Entity>,
    pub services: Vec<Entity>,
    pub pods: Vec<Entity>,
}

impl Diff {
    pub fn of(a: &RunFigures, b: &RunFigures) -> Diff {
        let side = |f: &RunFigures| {
            format!(
                "{} (scenario {}, seed {}, {} s simulated)",
                f.label, f.scenario, f.seed, f.simulated_seconds
            )
        };
        Diff {
            a: side(a),
            b: side(b),
            totals: totals(a, b),
            streams: streams(a, b),
            services: services(a, b),
            pods: pods(a, b),
        }
    }

    /// Whether any figure differs.
    pub fn any_difference(&self) -> bool {
        self.totals.iter().any(|r| r.differs)
            || [&self.streams, &self.services, &self.pods]
                .iter()
                .any(|list| list.iter().any(Entity::differs))
    }
}

/// The terminal's side-by-side tables: the totals, then streams, Services and pods as wide
/// tables with A and B columns and a `*` on rows that differ. Beyond [`TABLE_ROWS`] pods
/// (unless [`Rows::All`]) the pods that differ are listed first and the rest counted.
pub fn render_diff(d: &Diff, rows: Rows) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kubesim diff\n  A: {}\n  B: {}", d.a, d.b);
    let _ = writeln!(out, "\n== Requests (A, B, B - A) ==");
    let table: Vec<Vec<String>> = d
        .totals
        .iter()
        .map(|r| {
            vec![
                mark(r.differs).to_string(),
                r.name.clone(),
                r.a.clone(),
                r.b.clone(),
                r.delta.clone(),
            ]
        })
        .collect();
    use Align::{Left, Right};
    out.push_str(&tabwrite(
        &["", "FIGURE", "A", "B", "B - A"],
        &table,
        &[Left, Left, Right, Right, Right],
    ));
    for (title, list, noun) in [
        ("Streams", &d.streams, "STREAM"),
        ("Services", &d.services, "SERVICE"),
        (
            "Pods (paired by name, then by owner and creation order)",
            &d.pods,
            "POD",
        ),
    ] {
        let _ = writeln!(out, "\n== {title} ==");
        if list.is_empty() {
            out.push_str("none on either side\n");
            continue;
        }
        out.push_str(&entity_table(list, noun, rows));
    }
    let _ = writeln!(
        out,
        "\n{}",
        if d.any_difference() {
            "* marks what differs."
        } else {
            "The two runs agree on every figure compared."
        }
    );
    out
}

fn mark(differs: bool) -> &'static str {
    if differs {
        "*"
    } else {
        ""
    }
}

/// One row per entity: its figures as `A | B` cells, with the count's change where one
/// differs.
fn entity_table(list: &[Entity], noun: &str, rows: Rows) -> String {
    let cut = rows.cuts(list.len(), TABLE_ROWS);
    let listed: Vec<usize> = if cut {
        let mut differing: Vec<usize> = (0..list.len()).filter(|&i| list[i].differs()).collect();
        differing.extend((0..list.len()).filter(|&i| !list[i].differs()));
        differing.truncate(TABLE_ROWS);
        differing.sort_unstable();
        differing
    } else {
        (0..list.len()).collect()
    };
    let names: Vec<String> = list[0].rows.iter().map(|r| r.name.to_uppercase()).collect();
    let mut header: Vec<&str> = vec!["", noun];
    header.extend(names.iter().map(String::as_str));
    let table: Vec<Vec<String>> = listed
        .iter()
        .map(|&i| {
            let e = &list[i];
            let mut row = vec![mark(e.differs()).to_string(), e.name.clone()];
            row.extend(e.rows.iter().map(|r| {
                if !r.differs {
                    r.a.clone()
                } else if r.delta.is_empty() {
                    format!("{} | {}", r.a, r.b)
                } else {
                    format!("{} | {} ({})", r.a, r.b, r.delta)
                }
            }));
            row
        })
        .collect();
    let mut out = tabwrite(&header, &table, &[]);
    if cut {
        let differing = list.iter().filter(|e| e.differs()).count();
        let _ = writeln!(
            out,
            "+{} more not listed ({} of {} differ). Listed: those that differ first, in order; --all lists every one",
            thousands((list.len() - listed.len()) as u64),
            thousands(differing as u64),
            thousands(list.len() as u64),
        );
    }
    out
}

/// `diff.html`: the same comparison as one self-contained page (inline styles, no script, no
/// network), every entity listed, differing cells highlighted.
pub fn diff_html(d: &Diff) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>kubesim diff</title>\n<style>{STYLE}</style>\n</head>\n<body>"
    );
    let _ = writeln!(
        out,
        "<header><h1>kubesim diff</h1><div id=\"meta\"><div><b>A</b> {}</div><div><b>B</b> {}</div></div></header>\n<main>",
        esc(&d.a),
        esc(&d.b)
    );
    let _ = writeln!(
        out,
        "<p class=\"hint\" id=\"verdict\">{}</p>",
        if d.any_difference() {
            "Highlighted: what differs between A and B."
        } else {
            "The two runs agree on every figure compared."
        }
    );
    let _ = writeln!(out, "<h2>Requests</h2>\n<table class=\"kubectl\" id=\"totals\">\n<tr><th>figure</th><th>A</th><th>B</th><th>B − A</th></tr>");
    for r in &d.totals {
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            if r.differs { " class=\"differs\"" } else { "" },
            esc(&r.name),
            esc(&r.a),
            esc(&r.b),
            esc(&r.delta)
        );
    }
    out.push_str("</table>\n");
    for (title, id, list, noun) in [
        ("Streams", "streams", &d.streams, "stream"),
        ("Services", "services", &d.services, "Service"),
        ("Pods", "pods", &d.pods, "pod"),
    ] {
        let _ = writeln!(out, "<h2>{title}</h2>");
        if id == "pods" {
            out.push_str("<p class=\"hint\">Paired by name; pods whose names differ (a changed pod template renames them) by their owner and creation order.</p>\n");
        }
        if list.is_empty() {
            out.push_str("<p class=\"hint\">None on either side.</p>\n");
            continue;
        }
        let _ = write!(out, "<div class=\"tablewrap\"><table class=\"kubectl\" id=\"{id}\">\n<tr><th rowspan=\"2\">{noun}</th>");
        for r in &list[0].rows {
            let _ = write!(out, "<th colspan=\"2\">{}</th>", esc(&r.name));
        }
        out.push_str("</tr>\n<tr>");
        for _ in &list[0].rows {
            out.push_str("<th>A</th><th>B</th>");
        }
        out.push_str("</tr>\n");
        for e in list {
            let _ = write!(
                out,
                "<tr{}><td>{}</td>",
                if e.differs() {
                    " class=\"differs\""
                } else {
                    ""
                },
                esc(&e.name)
            );
            for r in &e.rows {
                let class = if r.differs { " class=\"d\"" } else { "" };
                let delta = if r.differs && !r.delta.is_empty() {
                    format!(" <small>({})</small>", esc(&r.delta))
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<td{class}>{}</td><td{class}>{}{delta}</td>",
                    esc(&r.a),
                    esc(&r.b)
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The files [`write_diff`] writes.
pub const DIFF_FILES: [&str; 2] = ["diff.html", "diff.txt"];

/// Writes `diff.html` and `diff.txt` (the terminal's tables, every row) into `dir`, atomically
/// and only over a folder kubesim wrote, as a run's output folder; returns their paths.
pub fn write_diff(d: &Diff, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    write_folder(dir, |tmp| {
        for (file, text) in [
            (DIFF_FILES[0], diff_html(d)),
            (DIFF_FILES[1], render_diff(d, Rows::All)),
        ] {
            let path = tmp.join(file);
            std::fs::write(&path, text).map_err(io_error(&path))?;
        }
        Ok(())
    })?;
    Ok(DIFF_FILES.iter().map(|f| dir.join(f)).collect())
}

/// The page's styles, `report.html`'s palette and type.
const STYLE: &str = r#"
:root { --ink: #1d2433; --muted: #5b6477; --line: #d5dae3; --panel: #f6f8fb; --warn: #c0392b; --hi: #fff3c4; }
body { margin: 0; color: var(--ink); background: #fff; font-size: 15px; line-height: 1.4;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "PingFang SC",
    "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
header { padding: .6em 1.2em; background: #1d2433; color: #fff; }
header h1 { font-size: 1.25em; margin: 0 0 .2em; }
#meta { color: #c9d1e0; font-size: .9em; }
main { padding: 0 1.2em 2em; max-width: 1500px; }
h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
.hint { color: var(--muted); font-size: .9em; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85em; }
table.kubectl { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
table.kubectl th { text-align: left; font-weight: 600; color: var(--muted); padding: .15em 1.2em .15em 0; white-space: nowrap; }
table.kubectl td { padding: .15em 1.2em .15em 0; white-space: nowrap; border-top: 1px solid var(--line); }
td.n { text-align: right; }
tr.differs > td:first-child { font-weight: 600; }
tr.differs > td:first-child::before { content: "* "; color: var(--warn); }
#totals tr.differs td, td.d { background: var(--hi); }
small { color: var(--warn); }
"#;

/// Text as HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(label: &str, pods: &[(&str, u64)], timeouts: u64) -> RunFigures {
        let pods: Vec<String> = pods
            .iter()
            .map(|(n, s)| {
                format!(r#"{{"name":"{n}","namespace":"default","node":"n1","ip":"10.244.0.2","served":{s},"restarts":0,"status":"Running","created_s":0.0,"deleted_s":null}}"#)
            })
            .collect();
        let ok = 100 - timeouts;
        let pods = pods.join(",");
        let text = format!(
            r#"{{"scenario":"s","seed":1,"simulated_seconds":60.0,"warmup_seconds":0.0,
            "requests":{{"sent":100,"served":{ok},"failed":{timeouts},"in_flight":0,"failed_by_reason":{{"timeout":{timeouts}}},"throughput_per_s":1.5}},
            "latency_ms":{{"mean":1.0,"p50":1.0,"p90":2.0,"p99":3.0,"p999":4.0,"max":5.0}},
            "traffic":[{{"name":"browser","sent":100,"served":{ok},"failed":{timeouts},"latency_ms":{{"p50":1.0,"p99":3.0}},"user_requests":{{"sent":100,"succeeded":{ok},"failed":{timeouts}}}}}],
            "pods":[{pods}],"services":[{{"name":"web","namespace":"default","type":"NodePort","cluster_ip":"10.96.0.20","served":{ok},"latency_ms":{{"p99":3.0}}}}]}}"#
        );
        RunFigures::parse(label, &text).unwrap()
    }

    #[test]
    fn pods_pair_by_name_then_by_owner() {
        let a = figures(
            "a",
            &[
                ("web-7fbd98865c-aaaaa", 50),
                ("web-7fbd98865c-bbbbb", 50),
                ("solo", 0),
            ],
            0,
        );
        let b = figures(
            "b",
            &[
                ("web-5d9c7b9c4d-ccccc", 40),
                ("web-7fbd98865c-aaaaa", 50),
                ("extra", 1),
            ],
            10,
        );
        let p = pods(&a, &b);
        let names: Vec<&str> = p.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "web-7fbd98865c-aaaaa",
                "web-7fbd98865c-bbbbb / web-5d9c7b9c4d-ccccc",
                "solo / -",
                "- / extra"
            ]
        );
        assert!(!p[0].differs());
        assert_eq!(p[1].rows[2].delta, "-10");
        let d = Diff::of(&a, &b);
        assert!(d.any_difference());
        let failed = d
            .totals
            .iter()
            .find(|r| r.name == "failed: timeout")
            .unwrap();
        assert_eq!(
            (failed.a.as_str(), failed.b.as_str(), failed.delta.as_str()),
            ("0", "10", "+10")
        );
        let success = d
            .totals
            .iter()
            .find(|r| r.name == "user requests succeeded")
            .unwrap();
        assert_eq!(
            (success.a.as_str(), success.b.as_str()),
            ("100.00%", "90.00%")
        );
        let text = render_diff(&d, Rows::Summary);
        assert!(text.contains("* marks what differs."), "{text}");
        let html = diff_html(&d);
        assert!(
            html.contains("<table class=\"kubectl\" id=\"pods\">"),
            "{html}"
        );
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
    }

    #[test]
    fn owners_drop_the_hash_and_the_suffix() {
        assert_eq!(
            owner_of("http-deployment-7fbd98865c-tvtkp"),
            "http-deployment"
        );
        assert_eq!(owner_of("web-55786b787-b49qk"), "web");
        assert_eq!(owner_of("frontend-x7k2p"), "frontend");
        assert_eq!(owner_of("solo"), "solo");
    }

    #[test]
    fn the_same_run_has_no_difference_and_a_bad_file_says_so() {
        let a = figures("a", &[("web-7fbd98865c-aaaaa", 50)], 0);
        let d = Diff::of(&a, &a);
        assert!(!d.any_difference());
        assert!(render_diff(&d, Rows::Summary).contains("agree on every figure"));
        let e = RunFigures::parse("x/summary.json", "not json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x/summary.json: not a kubesim summary.json: "),
            "{e}"
        );
    }
}
