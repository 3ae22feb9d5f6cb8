//! A hand-built [`Outcome`] for the report's tests: the classroom lesson (three replicas of
//! `http-deployment` behind the NodePort Service `http-svc`, 8080:30001/TCP) on two nodes, one
//! pod deleted at 20 s and replaced, a headless Service, a few failures and cluster events.

use crate::engine::{SimDuration, SimTime};
use crate::model::objects::{Labels, PortRef, Protocol, ServiceType};
use crate::sim::outcome::{
    ClusterEvent, EventType, Latency, NodeOutcome, Outcome, PodOutcome, RequestCounts,
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
        latency: Latency::default(),
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
