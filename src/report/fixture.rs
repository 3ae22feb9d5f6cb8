//! A hand-built [`Outcome`] for the report's tests: the classroom lesson (three replicas of
//! `http-deployment` behind the NodePort Service `http-svc`, 8080:30001/TCP) on two nodes, one
//! pod deleted at 20 s and replaced, a headless Service, a few failures and cluster events.

use crate::engine::{SimDuration, SimTime};
use crate::model::objects::{Labels, PortRef, Protocol, ServiceType};
use crate::sim::outcome::{
    ClusterEvent, EventType, Latency, LatencyMs, NodeOutcome, Outcome, PodOutcome, RequestCounts,
    ServiceOutcome, ServicePortOutcome, StreamOutcome, Timeline,
};
use std::net::Ipv4Addr;

fn labels() -> Labels {
    [("app".to_string(), "http-label".to_string())].into()
}

fn pod(name: &str, node: &str, ip: [u8; 4], served: u64, created_s: u64) -> PodOutcome {
    PodOutcome {
        name: name.to_string(),
        namespace: "default".to_string(),
        labels: labels(),
        node: Some(node.to_string()),
        ip: Some(Ipv4Addr::from(ip)),
        owner: Some("http-deployment".to_string()),
        served,
        failed: 0,
        created: SimTime::ZERO + SimDuration::from_secs(created_s),
        deleted: None,
        restarts: 0,
        status: "Running".to_string(),
        ready: "1/1".to_string(),
        latency: LatencyMs::default(),
        utilisation: Some(0.1 + served as f64 / 10_000.0),
        queue_mean: Some(served as f64 / 100_000.0),
    }
}

/// Three pods serve (one is deleted at 20 s and is gone by the end), a fourth replaces it.
pub(crate) fn sample_outcome() -> Outcome {
    let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
    let mut gone = pod(
        "http-deployment-5d9c7b9c4d-x7k2p",
        "docker-desktop",
        [10, 244, 0, 5],
        1210,
        0,
    );
    gone.deleted = Some(at(20_000));
    gone.status = "Completed".to_string();
    gone.ready = "0/1".to_string();
    let mut crashy = pod(
        "http-deployment-5d9c7b9c4d-q9zrt",
        "worker-1",
        [10, 244, 1, 3],
        2011,
        0,
    );
    crashy.restarts = 2;
    let pods = vec![
        gone,
        pod(
            "http-deployment-5d9c7b9c4d-7fhd2",
            "docker-desktop",
            [10, 244, 0, 6],
            2895,
            0,
        ),
        crashy,
        pod(
            "http-deployment-5d9c7b9c4d-m4wq8",
            "worker-1",
            [10, 244, 1, 4],
            1874,
            20,
        ),
        PodOutcome {
            node: None,
            ip: None,
            status: "Pending".to_string(),
            ready: "0/1".to_string(),
            ..pod(
                "http-deployment-5d9c7b9c4d-pending",
                "-",
                [0, 0, 0, 0],
                0,
                50,
            )
        },
    ];

    let mut latency = Latency::default();
    let mut stream_latency = Latency::default();
    for i in 0..7990u64 {
        let d = SimDuration::from_micros(400 + (i * 7919) % 6000);
        latency.record(d);
        stream_latency.record(d);
    }

    // 60 one-second buckets: the first pod serves until 20 s, its replacement from 21 s.
    let mut served = Vec::new();
    let mut failed = Vec::new();
    for b in 0..60u64 {
        let wobble = |k: u64| (b * 7 + k * 13) % 9;
        let first = if b < 20 { 57 + wobble(1) } else { 0 };
        let second = if b < 20 {
            40 + wobble(2)
        } else {
            42 + wobble(2)
        };
        let third = 33 + wobble(3);
        let fourth = if b > 20 { 44 + wobble(4) } else { 0 };
        served.push(vec![first, second, third, fourth, 0]);
        failed.push(if b == 20 { 10 } else { 0 });
    }

    let node = |name: &str, ip: [u8; 4], cidr: &str| NodeOutcome {
        name: name.to_string(),
        ip: Ipv4Addr::from(ip),
        status: "Ready".to_string(),
        pod_cidr: cidr.to_string(),
        kubelet_version: "v1.34.0".to_string(),
        created: SimTime::ZERO,
        removed: None,
    };
    let event =
        |ms: u64, type_: EventType, reason: &str, object: &str, message: &str| ClusterEvent {
            at: at(ms),
            type_,
            reason: reason.to_string(),
            object: object.to_string(),
            message: message.to_string(),
        };

    Outcome {
        zones: Vec::new(),
        scenario: "seed-tutorial".to_string(),
        seed: 42,
        proxy: "iptables mode".to_string(),
        simulated: SimDuration::from_secs(60),
        warmup: SimDuration::ZERO,
        requests: RequestCounts {
            sent: 8000,
            served: 7990,
            failed: 10,
            in_flight: 0,
            failed_by_reason: [("connection_refused".to_string(), 10)].into(),
        },
        latency,
        streams: vec![StreamOutcome {
            name: "browser".to_string(),
            sent: 8000,
            served: 7990,
            failed: 10,
            latency: stream_latency.clone(),
            // The 10 refused connections, each seen by its user after a round trip of 1 ms.
            latency_with_failures: {
                let mut all = stream_latency.clone();
                for _ in 0..10 {
                    all.record(SimDuration::from_millis(1));
                }
                all
            },
            connections: 8000,
            failed_by_reason: [("connection_refused".to_string(), 10)].into(),
            retries: 0,
            retries_denied: 0,
            user_requests: crate::sim::outcome::UserRequests {
                sent: 8000,
                succeeded: 7990,
                succeeded_first_attempt: 7990,
                failed: 10,
            },
        }],
        pods,
        services: vec![
            ServiceOutcome {
                name: "http-svc".to_string(),
                namespace: "default".to_string(),
                type_: ServiceType::NodePort,
                cluster_ip: Some(Ipv4Addr::new(10, 96, 112, 37)),
                external_ip: "<none>".to_string(),
                ports: vec![ServicePortOutcome {
                    name: None,
                    protocol: Protocol::Tcp,
                    port: 8080,
                    target_port: PortRef::Number(80),
                    node_port: Some(30001),
                }],
                selector: labels(),
                endpoints: vec!["10.244.0.6:80".to_string(), "10.244.1.3:80".to_string()],
                served: 7990,
                latency: stream_latency,
            },
            ServiceOutcome {
                name: "http-headless".to_string(),
                namespace: "default".to_string(),
                type_: ServiceType::ClusterIP,
                cluster_ip: None,
                external_ip: "<none>".to_string(),
                ports: vec![ServicePortOutcome {
                    name: Some("web".to_string()),
                    protocol: Protocol::Tcp,
                    port: 80,
                    target_port: PortRef::Name("http".to_string()),
                    node_port: None,
                }],
                selector: labels(),
                endpoints: vec![],
                served: 0,
                latency: Latency::default(),
            },
        ],
        nodes: vec![
            node("docker-desktop", [192, 168, 0, 24], "10.244.0.0/24"),
            node("worker-1", [192, 168, 0, 25], "10.244.1.0/24"),
        ],
        events: vec![
            event(
                0,
                EventType::Normal,
                "Scheduled",
                "pod/http-deployment-5d9c7b9c4d-x7k2p",
                "Successfully assigned default/http-deployment-5d9c7b9c4d-x7k2p to docker-desktop",
            ),
            event(
                1,
                EventType::Normal,
                "Started",
                "pod/http-deployment-5d9c7b9c4d-x7k2p",
                "Started container web",
            ),
            event(
                20_000,
                EventType::Normal,
                "Killing",
                "pod/http-deployment-5d9c7b9c4d-x7k2p",
                "Stopping container web",
            ),
            event(
                20_000,
                EventType::Normal,
                "SuccessfulCreate",
                "replicaset/http-deployment-5d9c7b9c4d",
                "Created pod: http-deployment-5d9c7b9c4d-m4wq8",
            ),
            event(
                50_000,
                EventType::Warning,
                "FailedScheduling",
                "pod/http-deployment-5d9c7b9c4d-pending",
                "0/2 nodes are available: 2 Insufficient cpu.",
            ),
        ],
        markers: vec![
            (at(20_000), "deletePod app=http-label".to_string()),
            (at(21_000), "replacement Ready".to_string()),
            (at(50_000), "scale http-deployment to 5".to_string()),
        ],
        timeline: Timeline {
            bucket: SimDuration::from_secs(1),
            utilisation: served
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|n| (*n > 0).then(|| *n as f64 / 80.0))
                        .collect()
                })
                .collect(),
            queue: served
                .iter()
                .map(|row| row.iter().map(|n| *n as f64 / 40.0).collect())
                .collect(),
            served,
            failed,
        },
        history: Default::default(),
        expect: Vec::new(),
        hpas: Vec::new(),
    }
}

/// Ten serving pods on three nodes with the same long name prefix, and markers close together:
/// the crowded case for chart labels.
pub(crate) fn crowded_outcome() -> Outcome {
    let mut outcome = sample_outcome();
    let suffixes = [
        "x7k2p", "7fhd2", "q9zrt", "m4wq8", "b2kx9", "zz8wq", "p0lmn", "c4ts1", "d0gg5", "h7tt9",
    ];
    let nodes = ["docker-desktop", "worker-1", "worker-2-with-a-long-name"];
    outcome.pods = suffixes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = format!("http-deployment-5d9c7b9c4d-{s}");
            let served = 700 + (i as u64 * 37) % 200;
            pod(
                &name,
                nodes[i % 3],
                [10, 244, (i % 3) as u8, 10 + i as u8],
                served,
                0,
            )
        })
        .collect();
    outcome.requests.served = outcome.pods.iter().map(|p| p.served).sum();
    outcome.timeline.served = (0..60u64)
        .map(|b| (0..10u64).map(|i| 10 + (b * 3 + i * 5) % 7).collect())
        .collect();
    outcome.markers = vec![
        (
            SimTime::ZERO + SimDuration::from_secs(10),
            "deletePod app=http-label pick=random".to_string(),
        ),
        (
            SimTime::ZERO + SimDuration::from_secs(10),
            "nodeDown worker-1".to_string(),
        ),
        (
            SimTime::ZERO + SimDuration::from_millis(11_500),
            "scale http-deployment to 10".to_string(),
        ),
        (
            SimTime::ZERO + SimDuration::from_secs(13),
            "rollout restart".to_string(),
        ),
        (
            SimTime::ZERO + SimDuration::from_secs(59),
            "nodeUp worker-1".to_string(),
        ),
    ];
    outcome
}

/// An empty latency: it costs a pointer until its first value, so that thousands of pods and
/// Services fit in a test's memory.
fn small_latency() -> Latency {
    Latency::default()
}

/// The sizes of a [`large_outcome`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub nodes: usize,
    pub pods: usize,
    pub services: usize,
    /// Cluster events, and as many timeline markers.
    pub events: usize,
    pub streams: usize,
}

/// The limits' worst case: 12,000 pods on 5,000 nodes, 10,000 Services, 8,000 events and 8,000
/// timeline markers, 60 streams.
pub(crate) const AT_SCALE: Scale = Scale {
    nodes: 5_000,
    pods: 12_000,
    services: 10_000,
    events: 8_000,
    streams: 60,
};

/// A cluster far beyond every limit of the report. Pod `k` runs on node `k mod nodes`, except
/// every 7th, which is Pending on no node, and every 13th, which is in CrashLoopBackOff; pods
/// serve between 1,000 and 1,499 requests, spread over 60 one-second buckets. Service 0 selects
/// every running pod (the largest endpoint list there is); Service `s > 0` has pod `s` as its
/// endpoint when that pod runs; the first 2,000 Services are NodePorts; every 50th Service in
/// the second half has no endpoints. Node 7 is NotReady. Names are long, as generated ones are.
pub(crate) fn large_outcome(scale: Scale) -> Outcome {
    let base = sample_outcome();
    let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
    let nodes: Vec<NodeOutcome> = (0..scale.nodes)
        .map(|i| NodeOutcome {
            name: format!("worker-pool-a-{i:05}"),
            ip: Ipv4Addr::from(0x0A00_0000 + i as u32),
            status: if i == 7 { "NotReady" } else { "Ready" }.to_string(),
            pod_cidr: format!("10.{}.{}.0/24", 64 + i / 256, i % 256),
            kubelet_version: "v1.34.0".to_string(),
            created: SimTime::ZERO,
            removed: None,
        })
        .collect();
    let pods: Vec<PodOutcome> = (0..scale.pods)
        .map(|k| {
            let pending = k % 7 == 6;
            let node = k % scale.nodes.max(1);
            PodOutcome {
                name: format!("checkout-frontend-7fbd98865c-{:05x}", k * 7919 % 1_048_576),
                namespace: "default".to_string(),
                labels: labels(),
                node: (!pending).then(|| nodes[node].name.clone()),
                ip: (!pending).then(|| {
                    Ipv4Addr::from(0x0A40_0000 + (node as u32) * 256 + 2 + (k / scale.nodes) as u32)
                }),
                owner: Some("checkout-frontend".to_string()),
                served: if pending {
                    0
                } else {
                    1000 + (k as u64 * 7919) % 500
                },
                failed: 0,
                created: SimTime::ZERO,
                deleted: None,
                restarts: if k % 13 == 5 { 4 } else { 0 },
                status: match (pending, k % 13 == 5) {
                    (true, _) => "Pending",
                    (false, true) => "CrashLoopBackOff",
                    (false, false) => "Running",
                }
                .to_string(),
                ready: if pending || k % 13 == 5 { "0/1" } else { "1/1" }.to_string(),
                latency: LatencyMs::default(),
                utilisation: (!pending).then_some(0.4),
                queue_mean: (!pending).then_some(0.1),
            }
        })
        .collect();
    let endpoint = |p: &PodOutcome| p.ip.map(|ip| format!("{ip}:8080"));
    let services: Vec<ServiceOutcome> = (0..scale.services)
        .map(|s| {
            let endpoints: Vec<String> = if s == 0 {
                pods.iter().filter_map(endpoint).collect()
            } else if s >= scale.services / 2 && s % 50 == 0 {
                Vec::new()
            } else {
                pods.get(s).and_then(endpoint).into_iter().collect()
            };
            ServiceOutcome {
                name: format!("checkout-frontend-{s:05}"),
                namespace: "default".to_string(),
                type_: if s < 2000 {
                    ServiceType::NodePort
                } else {
                    ServiceType::ClusterIP
                },
                cluster_ip: Some(Ipv4Addr::from(0x0A60_0000 + s as u32)),
                external_ip: "<none>".to_string(),
                ports: vec![ServicePortOutcome {
                    name: None,
                    protocol: Protocol::Tcp,
                    port: 8080,
                    target_port: PortRef::Number(8080),
                    node_port: (s < 2000).then_some(30000 + s as u16),
                }],
                selector: labels(),
                endpoints,
                served: if s == 0 {
                    5_000_000
                } else {
                    (s as u64 * 31) % 1000
                },
                latency: small_latency(),
            }
        })
        .collect();
    let reasons = [
        "Scheduled",
        "Pulled",
        "Created",
        "Started",
        "Killing",
        "BackOff",
    ];
    let events: Vec<ClusterEvent> = (0..scale.events)
        .map(|i| ClusterEvent {
            at: at(i as u64 * 60_000 / scale.events.max(1) as u64),
            type_: if i % 6 == 5 {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reasons[i % 6].to_string(),
            object: format!("pod/{}", pods[i % pods.len().max(1)].name),
            message: format!("event {i} of the run"),
        })
        .collect();
    let markers: Vec<(SimTime, String)> = (0..scale.events)
        .map(|i| {
            (
                at(1_000 + i as u64 * 58_000 / scale.events.max(1) as u64),
                format!("scale checkout-frontend-{:05} to {}", i % 40, 3 + i % 4),
            )
        })
        .collect();
    let streams: Vec<StreamOutcome> = (0..scale.streams)
        .map(|i| {
            let mut latency = small_latency();
            for j in 0..200u64 {
                let ns =
                    SimDuration::from_micros(300 + (j * 7919 + i as u64 * 131) % 9000).as_nanos();
                latency.record(SimDuration::from_nanos(ns));
            }
            StreamOutcome {
                name: format!("shoppers-from-region-{i:03}"),
                sent: 200 + i as u64,
                served: 200,
                latency,
                connections: 200,
                ..base.streams[0].clone()
            }
        })
        .collect();
    let buckets = 60;
    let served: Vec<Vec<u64>> = (0..buckets)
        .map(|b| {
            pods.iter()
                .map(|p| match p.served {
                    0 => 0,
                    n => n / 60 + (b as u64 * 7 + n) % 5,
                })
                .collect()
        })
        .collect();
    Outcome {
        zones: Vec::new(),
        scenario: "at-scale".to_string(),
        requests: RequestCounts {
            sent: pods.iter().map(|p| p.served).sum::<u64>() + 10,
            served: pods.iter().map(|p| p.served).sum(),
            failed: 10,
            in_flight: 0,
            failed_by_reason: [("timeout".to_string(), 10)].into(),
        },
        streams,
        timeline: Timeline {
            bucket: SimDuration::from_secs(1),
            utilisation: served
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|n| (*n > 0).then(|| *n as f64 / 40.0))
                        .collect()
                })
                .collect(),
            queue: served
                .iter()
                .map(|row| row.iter().map(|n| *n as f64 / 100.0).collect())
                .collect(),
            failed: (0..buckets).map(|b| u64::from(b == 30) * 10).collect(),
            served,
        },
        pods,
        services,
        nodes,
        events,
        markers,
        ..base
    }
}

/// A chart drawn into a PNG file (its bytes) and an SVG string, at `size`.
pub(crate) fn render(
    size: crate::report::ChartSize,
    draw: impl Fn(
        &plotters::drawing::DrawingArea<
            crate::report::fonts::Glyphs<plotters::prelude::BitMapBackend>,
            plotters::coord::Shift,
        >,
    ) -> Result<(), crate::report::DrawError>,
    draw_svg: impl Fn(
        &plotters::drawing::DrawingArea<
            crate::report::fonts::Glyphs<plotters::prelude::SVGBackend>,
            plotters::coord::Shift,
        >,
    ) -> Result<(), crate::report::DrawError>,
    png_path: &std::path::Path,
) -> (Vec<u8>, String) {
    use plotters::prelude::*;
    {
        let root = crate::report::fonts::Glyphs::raster(BitMapBackend::new(
            png_path,
            (size.width, size.height),
        ))
        .into_drawing_area();
        draw(&root).unwrap();
        root.present().unwrap();
    }
    let mut svg = String::new();
    {
        let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
            &mut svg,
            (size.width, size.height),
        ))
        .into_drawing_area();
        draw_svg(&root).unwrap();
        root.present().unwrap();
    }
    (std::fs::read(png_path).unwrap(), svg)
}

/// A PNG's width and height, from its IHDR chunk.
pub(crate) fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}

/// Elements an SVG draws (`<text`, `<rect`, `<line`, `<polyline`, `<path`, `<circle`,
/// `<polygon`): what a chart's drawing cost follows.
pub(crate) fn svg_elements(svg: &str) -> usize {
    [
        "<text",
        "<rect",
        "<line",
        "<polyline",
        "<path",
        "<circle",
        "<polygon",
    ]
    .iter()
    .map(|tag| svg.matches(tag).count())
    .sum()
}

/// Where the tests' pictures go: `KUBESIM_CHART_DIR` to keep them, else a temporary folder
/// (the flag says whether to remove it afterwards).
pub(crate) fn picture_dir(test: &str) -> (std::path::PathBuf, bool) {
    match std::env::var_os("KUBESIM_CHART_DIR") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            (dir, false)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("kubesim-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            (dir, true)
        }
    }
}
