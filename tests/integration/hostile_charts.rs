//! Output at scale, through the command line: however many pods, nodes, Services, events or
//! sweep cells a scenario has, the tables stay a readable length and say what they left out
//! (`--all` lists everything), every picture keeps a bounded size, and the files stay
//! complete. One case per class of issue 12's and 13's "output at scale".

use crate::util::*;
use std::path::Path;

/// A generated cluster as a user would write it: `nodes` nodes (110 pods each), `deployments`
/// Deployments of `replicas` pods each behind its own NodePort Service, a little traffic to
/// the first, and `events` scale events on the first Deployment.
fn cluster_yaml(
    name: &str,
    nodes: usize,
    deployments: usize,
    replicas: usize,
    events: usize,
) -> String {
    let mut y = format!(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: {name}\nspec:\n  seed: 7\n  duration: 10s\n  cluster:\n    clusterCIDR: 10.128.0.0/9\n    nodes:\n"
    );
    for i in 0..nodes {
        y += &format!(
            "      - name: node-{}\n        ip: 10.0.{}.{}\n        allocatable: {{cpu: \"64\", memory: 256Gi, pods: 110}}\n        images: [web]\n",
            i + 1,
            i / 256,
            i % 256
        );
    }
    y += "  behaviors:\n    - image: web\n      serviceTime: {distribution: exponential, mean: 5ms}\n      concurrency: 4\n";
    y += "  traffic:\n    - name: visitors\n      clients: 20\n      to: 10.0.0.0:30000\n      rate: 100/s\n      start: 1s\n";
    if events > 0 {
        y += "  events:\n";
        for k in 0..events {
            let at_ms = 2_000 + k * 7_000 / events;
            y += &format!(
                "    - at: {at_ms}ms\n      scale: {{deployment: web-0, replicas: {}}}\n",
                replicas + k % 2
            );
        }
    }
    for d in 0..deployments {
        y += &format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{d}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web-{d}}}\n  template:\n    metadata:\n      labels: {{app: web-{d}}}\n    spec:\n      containers:\n      - name: web\n        image: web\n        imagePullPolicy: IfNotPresent\n        ports:\n        - containerPort: 80\n"
        );
        y += &format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-{d}\nspec:\n  type: NodePort\n  selector: {{app: web-{d}}}\n  ports:\n  - port: 80\n    targetPort: 80\n    nodePort: {}\n",
            30000 + d
        );
    }
    y
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}

/// Every picture of a run's output folder: within its fixed size and a few hundred KB.
fn assert_pictures_bounded(out: &Path) {
    for chart in ["distribution", "timeline", "latency", "load"] {
        assert_eq!(
            png_size(&out.join(format!("{chart}.png"))),
            (1200, 700),
            "{chart}"
        );
    }
    let (w, h) = png_size(&out.join("topology.png"));
    assert!(w <= 3000 && h <= 2400, "topology {w}x{h}");
    for f in std::fs::read_dir(out).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        if name.ends_with(".png") || name.ends_with(".svg") {
            let len = f.metadata().unwrap().len();
            assert!(len < 1_000_000, "{name}: {len} bytes");
        }
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `replicas: 1000` on one node of 110 pods (the issue's `replicas: 12000` at a size a test
/// runs quickly): the pods table lists 50 and counts the 890 Pending among the rest, the
/// topology draws 8 pods a column; `--all` lists all 1,000; the files hold every pod.
#[test]
fn a_thousand_replicas_on_one_node() {
    let dir = temp_dir("hostile-replicas");
    std::fs::write(dir.join("s.yaml"), cluster_yaml("replicas", 1, 1, 1000, 0)).unwrap();
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.lines().count() < 400, "{} lines", text.lines().count());
    assert!(
        text.contains(
            // The 1,000 replicas and the CoreDNS add-on's 2 (Running, among the node's 110).
            "+952 more pods not listed (842 Pending, 110 Running). Listed: 50 of 1,002, pods not \
             Running first, then those that served the most requests; --all lists every one"
        ),
        "{text}"
    );
    assert!(text.contains("more events not listed ("), "{text}");
    let out = dir.join("out");
    assert_pictures_bounded(&out);
    let svg = std::fs::read_to_string(out.join("topology.svg")).unwrap();
    assert!(
        svg.contains("+884 more pods (884 Pending)"),
        "not-scheduled column: {}",
        svg.lines()
            .filter(|l| l.contains("more pods"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let subtitle = svg
        .lines()
        .find(|l| l.contains(" pods"))
        .unwrap_or_default();
    assert!(
        svg.contains("1,002 pods"),
        "the total in the subtitle: {subtitle}"
    );
    let csv = std::fs::read_to_string(out.join("requests_by_pod.csv")).unwrap();
    // Every pod, the CoreDNS add-on's two included.
    assert_eq!(csv.lines().count(), 1 + 1002);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pods"].as_array().unwrap().len(), 1002);

    let all = kubesim(&dir, &["run", "s.yaml", "--out", "out-all", "--all"]);
    assert_eq!(all.status.code(), Some(0));
    let all = stdout(&all);
    assert!(!all.contains("not listed"), "--all cuts nothing");
    let pods_section = all
        .split("== Pods at the end")
        .nth(1)
        .and_then(|s| s.split("\n== ").next())
        .unwrap();
    assert_eq!(
        pods_section.lines().count(),
        1 + 1 + 1002,
        "heading, header, 1,000 pods and CoreDNS's 2"
    );
}

/// 20 nodes and 520 NodePort Services (10,400 node × NodePort pairs): `check` lists 50
/// Services and `check --all` all of them; the run's topology draws 4 nodes and 4 Services and
/// stays bounded, and its DOT text holds every Service with the NodePorts on one vertex.
#[test]
fn hundreds_of_services_on_twenty_nodes() {
    let dir = temp_dir("hostile-services");
    std::fs::write(dir.join("s.yaml"), cluster_yaml("services", 20, 520, 1, 0)).unwrap();
    let check = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(
        text.starts_with("s.yaml: valid. 20 node(s), 1040 object(s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "+472 more Services not listed (472 NodePort). Listed: 50 of 522, the first in \
             creation order; --all lists every one"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2 + 1 + 50 + 1);
    let all = kubesim(&dir, &["check", "s.yaml", "--all"]);
    assert_eq!(stdout(&all).lines().count(), 2 + 1 + 522);

    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.join("out");
    assert_pictures_bounded(&out);
    let svg = std::fs::read_to_string(out.join("topology.svg")).unwrap();
    for text in [
        "+16 more nodes",
        "+516 more Services",
        // The 520 replicas and the CoreDNS add-on's 2.
        "20 nodes, 522 pods, 520 Services",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    let dot = std::fs::read_to_string(out.join("topology.dot")).unwrap();
    assert_eq!(dot.matches("\"every-node\" -> \"svc/").count(), 520);
    assert!(
        !dot.contains("NodePort 30000"),
        "no NodePort lines in the nodes' labels"
    );
    assert_eq!(
        dot.matches("\"svc/default/web-").count(),
        520 + 520 + 520,
        "vertex, NodePort and endpoint edge of each"
    );
}

/// 2,000 timeline events in 7 s: the timeline and load charts label a few and draw the rest
/// as ticks, and the events table lists 100 of the cluster's events; events.log has all.
#[test]
fn thousands_of_timeline_events() {
    let dir = temp_dir("hostile-events");
    std::fs::write(dir.join("s.yaml"), cluster_yaml("events", 2, 1, 3, 2000)).unwrap();
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("more events not listed ("), "{text}");
    let out = dir.join("out");
    assert_pictures_bounded(&out);
    for chart in ["timeline", "load"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains("2,000 events: "), "{chart}");
        assert!(
            svg.contains(" the others as ticks along the top"),
            "{chart}"
        );
        assert!(
            svg.matches("<text").count() < 150,
            "{chart}: its labels are bounded"
        );
    }
    let log = std::fs::read_to_string(out.join("events.log")).unwrap();
    assert!(log.lines().count() > 2_000, "events.log has every event");
    let section = text.split("== Events").nth(1).unwrap();
    // The heading, the table header, 100 events, the gap, the closing line, "Wrote ...".
    assert!(section.lines().count() <= 108, "{section}");
}

/// A sweep of 30 replica counts by 2 rates: the p99 chart draws 12 lines and says so, both
/// charts keep their size, and sweep.csv has all 60 cells.
#[test]
fn a_sweep_with_many_values() {
    let dir = temp_dir("hostile-sweep");
    let scenario = scenario_text("seed-tutorial.yaml").replace("duration: 70s", "duration: 8s");
    std::fs::write(dir.join("s.yaml"), scenario).unwrap();
    let o = kubesim(
        &dir,
        &[
            "sweep",
            "s.yaml",
            "--set",
            "deployment/http-deployment.replicas=1..30",
            "--set",
            "traffic/visitors.rate=50/s,100/s",
            "--out",
            "out",
            "-j",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.join("out");
    for chart in ["sweep_heatmap", "sweep_p99"] {
        assert_eq!(
            png_size(&out.join(format!("{chart}.png"))),
            (1200, 760),
            "{chart}"
        );
    }
    let svg = std::fs::read_to_string(out.join("sweep_p99.svg")).unwrap();
    assert!(svg.contains("12 of the 30 values of deployment/http-deployment.replicas drawn"));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 60);
}
