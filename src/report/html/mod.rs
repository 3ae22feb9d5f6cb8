//! `report.html`: the run in one self-contained page, in English and Chinese, driven by a time
//! slider: the three networks at an instant (nodes, pods, Services, and the endpoints each
//! node's kube-proxy had synced), `kubectl get pods -o wide` and `get svc` at that instant,
//! requests per pod over time with the events as markers, and new connections traced hop by
//! hop as `kubesim trace` prints them.
//!
//! The page needs no network: its script, styles and data (one JSON document) are inline, and
//! it draws CJK text with the reader's system fonts (a `font-family` fallback list), so it
//! opens from a USB stick or an e-mail. Its size is bounded whatever the cluster's size: the
//! run's [`History`](crate::sim::history::History) follows the first pods and nodes only, and
//! this module keeps at most [`MAX_SERVICES`] Services, [`MAX_EVENTS`] events, [`MAX_SERIES`]
//! pods in the requests chart and [`MAX_BUCKETS`] time buckets; the page says what it left out.
//! The same outcome gives the same bytes (no wall-clock time, rounded numbers).
//!
//! Addressable: `report.html#t=42&lang=zh&pod=NAME&svc=NAME` opens at that instant, language,
//! pod and Service (a `t` past the end opens at the end). The script writes any error it meets
//! into the element `#errors`, which tests read.

use super::format::round_to;
use super::tables::ports_column;
use crate::engine::SimTime;
use crate::model::objects::PortRef;
use crate::sim::outcome::Outcome;
use serde_json::{json, Value};

/// Services listed (the first ones, in creation order).
pub const MAX_SERVICES: usize = 200;
/// Events listed, and timeline markers drawn (the first ones).
pub const MAX_EVENTS: usize = 2_000;
/// Pods drawn in the requests chart: the followed pods that served the most.
pub const MAX_SERIES: usize = 30;
/// Time buckets in the requests chart; more are merged in twos until they fit.
pub const MAX_BUCKETS: usize = 600;
/// Streams whose latency CDF is drawn: the first ones that served requests.
pub const MAX_STREAMS: usize = 8;
/// Points of each latency CDF (more are thinned evenly, the last kept).
pub const MAX_CDF_POINTS: usize = 160;

const TEMPLATE: &str = include_str!("report.html");
const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = include_str!("report.css");
/// The reach view's section, in the page only for a run with NetworkPolicies.
const REACH_VIEW: &str = r#"  <section id="reach-view" class="view">
    <h2 data-i18n="reachTitle">Who may connect to whom: NetworkPolicy</h2>
    <p class="hint" data-i18n="reachHint"></p>
    <p id="reach-span"></p>
    <div id="reach"></div>
  </section>
"#;

/// Seconds, rounded to the millisecond.
fn s(t: SimTime) -> f64 {
    round_to(t.as_nanos() as f64 / 1e9, 3)
}

/// The page's data, as the script reads it.
pub fn report_data(outcome: &Outcome) -> Value {
    let h = &outcome.history;
    let end = s(SimTime::ZERO + outcome.simulated);
    let nodes: Vec<Value> = outcome
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let nh = h.nodes.get(i);
            json!({
                "name": n.name,
                "ip": n.ip.to_string(),
                "cidr": n.pod_cidr,
                "version": n.kubelet_version,
                "status": nh.map_or_else(
                    || vec![json!([0.0, n.status])],
                    |nh| nh.status.iter().map(|(t, st)| json!([s(*t), st])).collect()),
                "syncs": nh.map_or_else(Vec::new, |nh| nh.syncs.iter().map(|(t, g)| json!([s(*t), g])).collect()),
            })
        })
        .take(crate::sim::history::MAX_NODES)
        .collect();
    let followed = h.pods.len();
    let pods: Vec<Value> = outcome
        .pods
        .iter()
        .take(followed)
        .enumerate()
        .map(|(i, p)| {
            let states: Vec<Value> = h.pods[i]
                .iter()
                .map(|st| {
                    json!([
                        s(st.at),
                        st.status,
                        st.ready,
                        st.ip.map(|ip| ip.to_string()),
                        st.node,
                        st.restarts
                    ])
                })
                .collect();
            let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "name": p.name,
                "ns": p.namespace,
                "labels": labels.join(","),
                "owner": p.owner,
                "node": p.node,
                "ip": p.ip.map(|ip| ip.to_string()),
                "created": s(p.created),
                "deleted": p.deleted.map(s),
                "gone": h.gone.get(i).copied().flatten().map(s),
                "served": p.served,
                "failed": p.failed,
                "states": states,
            })
        })
        .collect();
    let services: Vec<Value> = outcome
        .services
        .iter()
        .take(MAX_SERVICES)
        .map(|svc| {
            let selector: Vec<String> = svc
                .selector
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let ports: Vec<Value> = svc
                .ports
                .iter()
                .map(|p| {
                    json!({
                        "port": p.port,
                        "target": match &p.target_port {
                            PortRef::Number(n) => n.to_string(),
                            PortRef::Name(n) => n.clone(),
                        },
                        "nodePort": p.node_port,
                        "protocol": p.protocol.as_str(),
                    })
                })
                .collect();
            json!({
                "name": svc.name,
                "ns": svc.namespace,
                "type": svc.type_.as_str(),
                "clusterIP": svc.cluster_ip.map_or_else(|| "None".to_string(), |ip| ip.to_string()),
                "externalIP": svc.external_ip,
                "ports": ports,
                "portsColumn": ports_column(svc),
                "selector": selector.join(","),
                "served": svc.served,
            })
        })
        .collect();
    let ports: Vec<Value> = h
        .ports
        .iter()
        .map(|p| {
            let eps: Vec<Value> = p
                .endpoints
                .iter()
                .map(|e| {
                    json!([
                        e.pod,
                        format!("{}:{}", e.ip, e.port),
                        e.ready,
                        e.serving,
                        e.terminating
                    ])
                })
                .collect();
            json!({"ns": p.namespace, "svc": p.service, "port": p.port, "eps": eps, "more": p.endpoints_left_out})
        })
        .collect();
    let events: Vec<Value> = outcome
        .events
        .iter()
        .take(MAX_EVENTS)
        .map(|e| json!([s(e.at), e.type_.as_str(), e.reason, e.object, e.message]))
        .collect();
    let markers: Vec<Value> = outcome
        .markers
        .iter()
        .take(MAX_EVENTS)
        .map(|(t, label)| json!([s(*t), label]))
        .collect();
    let traces: Vec<Value> = h
        .traces
        .iter()
        .map(|tr| json!({"at": s(tr.at), "stream": tr.stream, "from": tr.from, "to": tr.to, "text": tr.text, "rules": tr.rules}))
        .collect();
    let rules: Vec<Value> = h
        .rules
        .iter()
        .map(|r| {
            let lines: Vec<Value> = r
                .lines
                .iter()
                .map(|(n, text, hit)| json!([n, text, u8::from(*hit)]))
                .collect();
            json!({"node": r.node, "command": r.command, "synced": r.synced.map(s), "total": r.total, "lines": lines})
        })
        .collect();
    let slices: Vec<Value> = h
        .slices
        .iter()
        .map(|st| {
            let list: Vec<Value> = st
                .slices
                .iter()
                .map(|sl| json!([sl.namespace, sl.service, sl.name, sl.pods, sl.pods_left_out]))
                .collect();
            json!([s(st.at), list])
        })
        .collect();
    let mut data = json!({
        "scenario": outcome.scenario,
        "seed": outcome.seed,
        "proxy": outcome.proxy,
        "end": end,
        "resolution": round_to(h.resolution.as_nanos() as f64 / 1e9, 6),
        "recorded": h.on_record(),
        "nodes": nodes,
        "pods": pods,
        "services": services,
        "generations": h.generations,
        "ports": ports,
        "events": events,
        "markers": markers,
        "requests": requests_chart(outcome),
        "latency": latency_curves(outcome),
        "traces": traces,
        "rules": rules,
        "slices": slices,
        "leftOut": {
            "nodes": outcome.nodes.len().saturating_sub(crate::sim::history::MAX_NODES),
            "pods": outcome.pods.len().saturating_sub(followed),
            "services": outcome.services.len().saturating_sub(MAX_SERVICES),
            "events": outcome.events.len().saturating_sub(MAX_EVENTS),
            "ports": h.ports_left_out,
            "syncs": h.syncs_left_out,
            "rules": h.rules_left_out,
            "slices": h.slices_left_out,
            "streams": outcome.streams.iter().filter(|st| st.latency.histogram().is_some()).count().saturating_sub(MAX_STREAMS),
        },
        "bounds": {
            "rulesLines": crate::sim::history::MAX_RULES_LINES,
            "rulesContext": crate::sim::history::RULES_CONTEXT,
            "rulesTotal": crate::sim::history::MAX_RULES_LINES_TOTAL,
            "sliceServices": crate::sim::history::MAX_SLICE_SERVICES,
            "cdfPoints": MAX_CDF_POINTS,
            "streams": MAX_STREAMS,
        },
        "totals": {
            "sent": outcome.requests.sent,
            "served": outcome.requests.served,
            "failed": outcome.requests.failed,
        },
    });
    // Only a run with NetworkPolicies has the reach view (other pages stay as they were).
    if !h.reach.is_empty() {
        data["reach"] = reach_tables(h);
    }
    data
}

/// `kubesim reach`'s table for each set of NetworkPolicies in force during the run: the groups
/// (`namespace/k=v,...`) by name, rows `[from, to, port, protocol, ingress, egress]` (indices
/// into the groups; 1 allow, 0 deny).
fn reach_tables(h: &crate::sim::history::History) -> Value {
    let tables: Vec<Value> = h
        .reach
        .iter()
        .map(|t| {
            let mut ends: Vec<&str> = t
                .rows
                .iter()
                .flat_map(|r| [r.from.as_str(), r.to.as_str()])
                .collect();
            ends.sort_unstable();
            ends.dedup();
            let index = |e: &str| ends.binary_search(&e).unwrap_or(0);
            let rows: Vec<Value> = t
                .rows
                .iter()
                .map(|r| {
                    json!([
                        index(&r.from),
                        index(&r.to),
                        r.port,
                        r.protocol.as_str(),
                        u8::from(r.ingress),
                        u8::from(r.egress)
                    ])
                })
                .collect();
            json!({
                "from": s(t.from),
                "until": s(t.until),
                "groups": ends,
                "rows": rows,
                "groupsLeftOut": t.groups_left_out,
            })
        })
        .collect();
    json!({
        "tables": tables,
        "leftOut": h.reach_left_out,
        "maxTables": crate::sim::history::MAX_REACH_TABLES,
        "maxGroups": crate::sim::history::MAX_REACH_GROUPS,
    })
}

/// Requests served per pod and failed per time bucket: the followed pods that served the
/// most (at most [`MAX_SERIES`], in creation order), buckets merged until at most
/// [`MAX_BUCKETS`].
fn requests_chart(outcome: &Outcome) -> Value {
    let tl = &outcome.timeline;
    let followed = outcome.history.pods.len().min(outcome.pods.len());
    let mut serving: Vec<usize> = (0..followed)
        .filter(|&i| outcome.pods[i].served > 0)
        .collect();
    serving.sort_by_key(|&i| std::cmp::Reverse(outcome.pods[i].served));
    serving.truncate(MAX_SERIES);
    serving.sort_unstable();
    let mut merge = 1usize;
    while tl.served.len().div_ceil(merge) > MAX_BUCKETS {
        merge *= 2;
    }
    let buckets = tl.served.len().div_ceil(merge);
    let series: Vec<Value> = serving
        .iter()
        .map(|&i| {
            let counts: Vec<u64> = (0..buckets)
                .map(|b| {
                    tl.served[b * merge..((b + 1) * merge).min(tl.served.len())]
                        .iter()
                        .map(|row| row.get(i).copied().unwrap_or(0))
                        .sum()
                })
                .collect();
            // Utilisation and queue: the mean of the merged buckets where the pod had a
            // server (`null` where it had none).
            let mean = |b: usize, of: &dyn Fn(usize) -> Option<f64>| {
                let v: Vec<f64> = (b * merge..((b + 1) * merge).min(tl.utilisation.len()))
                    .filter_map(of)
                    .collect();
                (!v.is_empty()).then(|| round_to(v.iter().sum::<f64>() / v.len() as f64, 3))
            };
            let util: Vec<Option<f64>> = (0..buckets)
                .map(|b| mean(b, &|k| tl.utilisation[k].get(i).copied().flatten()))
                .collect();
            let queue: Vec<Option<f64>> = (0..buckets)
                .map(|b| {
                    mean(b, &|k| {
                        tl.utilisation[k].get(i).copied().flatten()?;
                        Some(
                            tl.queue
                                .get(k)
                                .and_then(|r| r.get(i))
                                .copied()
                                .unwrap_or(0.0),
                        )
                    })
                })
                .collect();
            json!({"pod": i, "counts": counts, "util": util, "queue": queue})
        })
        .collect();
    let failed: Vec<u64> = (0..buckets)
        .map(|b| {
            tl.failed[b * merge..((b + 1) * merge).min(tl.failed.len())]
                .iter()
                .sum()
        })
        .collect();
    let serving_pods = (0..outcome.pods.len())
        .filter(|&i| outcome.pods[i].served > 0)
        .count();
    json!({
        "bucket": round_to(tl.bucket.as_nanos() as f64 * merge as f64 / 1e9, 6),
        "series": series,
        "failed": failed,
        "seriesLeftOut": serving_pods - series.len(),
        "warmup": round_to(outcome.warmup.as_nanos() as f64 / 1e9, 3),
    })
}

/// Each stream's latency CDF (the first [`MAX_STREAMS`] that served requests): points
/// `[ms, share]`, at most [`MAX_CDF_POINTS`], and its p50, p99 and p99.9 in ms.
fn latency_curves(outcome: &Outcome) -> Vec<Value> {
    outcome
        .streams
        .iter()
        .filter(|st| st.latency.histogram().is_some())
        .take(MAX_STREAMS)
        .map(|st| {
            let points = super::load_charts::cdf_points(&st.latency);
            let step = points.len().div_ceil(MAX_CDF_POINTS).max(1);
            let mut kept: Vec<Value> = points
                .iter()
                .step_by(step)
                .map(|(ms, share)| json!([round_to(*ms, 4), round_to(*share, 5)]))
                .collect();
            if !points.is_empty() && (points.len() - 1) % step != 0 {
                if let Some((ms, share)) = points.last() {
                    kept.push(json!([round_to(*ms, 4), round_to(*share, 5)]));
                }
            }
            let l = st.latency.ms();
            json!({
                "stream": st.name,
                "served": st.served,
                "p50": round_to(l.p50, 3),
                "p99": round_to(l.p99, 3),
                "p999": round_to(l.p999, 3),
                "points": kept,
            })
        })
        .collect()
}

/// The whole page for `outcome`.
pub fn report_html(outcome: &Outcome) -> String {
    let data = serde_json::to_string(&report_data(outcome)).expect("JSON values serialise");
    // Inside <script>, `</` could close the element and `<!--` open a comment: escaped, the
    // JSON reads the same.
    let data = data.replace("</", "<\\/").replace("<!--", "<\\!--");
    let title = html_escape(&outcome.scenario);
    let reach_view = if outcome.history.reach.is_empty() {
        ""
    } else {
        REACH_VIEW
    };
    TEMPLATE
        .replace("{{REACH_VIEW}}\n", reach_view)
        .replace("{{TITLE}}", &title)
        .replace("{{STYLE}}", STYLE)
        .replace("{{SCRIPT}}", SCRIPT)
        .replace("{{DATA}}", &data)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{large_outcome, sample_outcome, AT_SCALE};

    #[test]
    fn the_page_is_self_contained_and_its_data_parses() {
        let html = report_html(&sample_outcome());
        assert!(html.starts_with("<!DOCTYPE html>"));
        // The SVG namespace is a name, not an address the browser loads.
        // Nor is a marker's `url(#id)`: a reference inside the page.
        let html = html
            .replace("http://www.w3.org/2000/svg", "")
            .replace("url(#", "");
        for remote in ["http://", "https://", "src=\"", "@import", "url("] {
            assert!(!html.contains(remote), "the page refers to {remote}");
        }
        let start = html.find("id=\"data\"").expect("data element");
        let json_start = start + html[start..].find('>').unwrap() + 1;
        let json_end = json_start + html[json_start..].find("</script>").unwrap();
        let v: Value = serde_json::from_str(&html[json_start..json_end]).expect("valid JSON");
        assert_eq!(v["scenario"], "seed-tutorial");
        assert!(v["services"].as_array().unwrap().len() >= 2);
    }

    #[test]
    fn a_large_cluster_gives_a_page_of_bounded_size() {
        let html = report_html(&large_outcome(AT_SCALE));
        assert!(html.len() < 1_500_000, "{} bytes", html.len());
        let v = report_data(&large_outcome(AT_SCALE));
        assert!(v["services"].as_array().unwrap().len() <= MAX_SERVICES);
        assert!(v["events"].as_array().unwrap().len() <= MAX_EVENTS);
        assert!(v["markers"].as_array().unwrap().len() <= MAX_EVENTS);
        assert!(v["leftOut"]["services"].as_u64().unwrap() > 0);
    }

    #[test]
    fn only_a_run_with_policies_has_the_reach_view() {
        let mut o = sample_outcome();
        let html = report_html(&o);
        assert!(!html.contains("reach-view") && !html.contains("{{REACH_VIEW}}"));
        assert!(report_data(&o).get("reach").is_none());
        let row = |from: &str, to: &str, ingress| crate::sim::ReachRow {
            from: from.into(),
            to: to.into(),
            port: 80,
            protocol: crate::model::objects::Protocol::Tcp,
            ingress,
            egress: true,
        };
        o.history.reach.push(crate::sim::history::ReachTable {
            from: SimTime::ZERO,
            until: SimTime::ZERO + crate::engine::SimDuration::from_secs(60),
            rows: vec![
                row("x/pod=a", "x/pod=b", false),
                row("x/pod=b", "x/pod=a", true),
            ],
            groups_left_out: 0,
        });
        assert!(report_html(&o).contains("<section id=\"reach-view\""));
        let v = report_data(&o);
        assert_eq!(
            v["reach"]["tables"][0]["groups"],
            json!(["x/pod=a", "x/pod=b"])
        );
        assert_eq!(
            v["reach"]["tables"][0]["rows"],
            json!([[0, 1, 80, "TCP", 0, 1], [1, 0, 80, "TCP", 1, 1]])
        );
        assert_eq!(v["reach"]["tables"][0]["until"], 60.0);
    }

    #[test]
    fn script_text_in_data_cannot_close_the_element() {
        let mut o = sample_outcome();
        o.scenario = "x</script><script>alert(1)".into();
        let html = report_html(&o);
        assert_eq!(html.matches("</script>").count(), 2, "only the page's own");
    }
}
