//! `requests_by_pod.csv` and `timeline.csv`.
//!
//! - `requests_by_pod.csv`: `pod,namespace,node,ip,served,failed,share,fair_share`, one row per
//!   pod that ever existed, in creation order. `share` is the pod's fraction of all requests
//!   served (0 to 1, 6 decimals); `fair_share` is the number of requests the pod would have
//!   served under an even spread over the endpoints of each moment it was one (see
//!   [`super::spread`]), empty for pods outside the serving set (those that served none).
//!   `node` and `ip` are empty when the pod never had one.
//! - `timeline.csv`: long format `time_s,pod,served,failed`, per time bucket (`time_s` is the
//!   bucket's start in simulated seconds): one row per pod of the serving set, then one row
//!   with pod `-` holding the bucket's failed requests (which are not attributed to pods). Every
//!   bucket has the same rows, zeros included, so the file loads straight into a pivot table.

use super::format::round_to;
use super::spread::Spread;
use crate::sim::outcome::Outcome;

/// Writes rows into a CSV string. Writing into memory cannot fail: an error is a bug.
fn to_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writing CSV into memory");
    for row in rows {
        w.write_record(&row).expect("writing CSV into memory");
    }
    let bytes = w.into_inner().expect("flushing CSV into memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
}

/// `requests_by_pod.csv`.
pub fn requests_by_pod_csv(outcome: &Outcome) -> String {
    let spread = Spread::of(outcome);
    let mut fair = spread.pods.iter().map(|p| (p.index, p.fair)).peekable();
    let total = spread.total;
    let rows = outcome.pods.iter().enumerate().map(|(i, p)| {
        // The serving set is the pods that served a request (`Spread::of`): no search needed,
        // so the file costs one pass however many pods there are.
        let in_set = p.served > 0;
        let share = if total == 0 {
            0.0
        } else {
            p.served as f64 / total as f64
        };
        vec![
            p.name.clone(),
            p.namespace.clone(),
            p.node.clone().unwrap_or_default(),
            p.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            p.served.to_string(),
            p.failed.to_string(),
            format!("{:.6}", round_to(share, 6)),
            match fair.next_if(|(at, _)| *at == i) {
                Some((_, f)) if in_set => format!("{:.6}", round_to(f, 6)),
                _ => String::new(),
            },
        ]
    });
    to_csv(
        &[
            "pod",
            "namespace",
            "node",
            "ip",
            "served",
            "failed",
            "share",
            "fair_share",
        ],
        rows,
    )
}

/// `timeline.csv`.
pub fn timeline_csv(outcome: &Outcome) -> String {
    let spread = Spread::of(outcome);
    let t = &outcome.timeline;
    let buckets = t.served.len().max(t.failed.len());
    let mut rows = Vec::new();
    for b in 0..buckets {
        let start_ns = t.bucket.as_nanos().saturating_mul(b as u64);
        let time = format!("{:.6}", round_to(start_ns as f64 / 1e9, 6));
        for pod in &spread.pods {
            let served = t
                .served
                .get(b)
                .and_then(|row| row.get(pod.index))
                .copied()
                .unwrap_or(0);
            rows.push(vec![
                time.clone(),
                pod.name.clone(),
                served.to_string(),
                "0".to_string(),
            ]);
        }
        let failed = t.failed.get(b).copied().unwrap_or(0);
        rows.push(vec![
            time,
            "-".to_string(),
            "0".to_string(),
            failed.to_string(),
        ]);
    }
    to_csv(&["time_s", "pod", "served", "failed"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_outcome;

    #[test]
    fn requests_by_pod_lists_every_pod_with_shares() {
        let text = requests_by_pod_csv(&sample_outcome());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "pod,namespace,node,ip,served,failed,share,fair_share"
        );
        assert_eq!(
            lines[2],
            "http-deployment-5d9c7b9c4d-7fhd2,default,docker-desktop,10.244.0.6,2895,0,0.362328,2677.750332"
        );
        assert_eq!(
            lines[5],
            "http-deployment-5d9c7b9c4d-pending,default,,,0,0,0.000000,"
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn timeline_is_long_and_dense() {
        let outcome = sample_outcome();
        let text = timeline_csv(&outcome);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "time_s,pod,served,failed");
        // 60 buckets x (4 serving pods + the failed row).
        assert_eq!(lines.len(), 1 + 60 * 5);
        assert!(lines.contains(&"20.000000,-,0,10"));
        assert!(lines[1].starts_with("0.000000,http-deployment-5d9c7b9c4d-x7k2p,"));
    }
}
