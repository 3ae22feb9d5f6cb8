//! Throughput benchmarks: the engine's event queue (events per second), the seed model end to
//! end (simulated requests per second) and one node's iptables walk (`route`).
//!
//! Run with `cargo bench --bench engine`; `docs/performance.md` records the figures and how
//! they were measured. Sample sizes are small so that the whole run takes about a minute.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kubesim::engine::{EventQueue, RngStreams, SimDuration, SimTime};
use kubesim::model::objects::Protocol;
use kubesim::net::iptables::{
    IptablesRules, NodeProxyInput, Packet, ProxyEndpoint, ProxyServicePort,
};
use kubesim::sim::{Scenario, Simulation};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// A payload the size of the simulator's own event (`Ev`: a tag and a request handle).
#[derive(Clone, Copy)]
struct Payload {
    _tag: u32,
    _slot: u32,
    _generation: u32,
}

/// Delays with the spread of a busy run (tens of microseconds to tens of milliseconds), from
/// a fixed xorshift sequence so that the generator's cost stays out of the figure.
fn delays(n: usize) -> Vec<SimDuration> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            SimDuration::from_nanos(20_000 + x % 20_000_000)
        })
        .collect()
}

/// The hold model: a queue kept at `depth` events; each step pops the earliest and schedules
/// one later event, as a simulation does.
fn event_queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    const STEPS: usize = 1_000_000;
    let ds = delays(4096);
    for depth in [1_000usize, 100_000] {
        g.throughput(Throughput::Elements(STEPS as u64));
        g.bench_function(format!("hold_depth_{depth}"), |b| {
            b.iter_batched_ref(
                || {
                    let mut q = EventQueue::new();
                    for (i, d) in ds.iter().cycle().take(depth).enumerate() {
                        let p = Payload {
                            _tag: 1,
                            _slot: i as u32,
                            _generation: 0,
                        };
                        q.schedule(SimTime::ZERO + *d, p);
                    }
                    q
                },
                |q| {
                    for i in 0..STEPS {
                        let (now, p) = q.pop().expect("the queue is never empty");
                        q.schedule(now + ds[i & 4095], black_box(p));
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// The seed tutorial scaled up: `rate` requests per second for `secs` seconds of traffic, with
/// each pod's concurrency and the number of clients scaled with the rate, so utilisation stays
/// as in the tutorial (about 42%: 1000/s against 3 pods x 4 slots / 5 ms) and each client sends
/// as often as there (20 requests per second).
fn seed_scenario(rate: f64, secs: u64, reuse: bool) -> (Scenario, u64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed-tutorial.yaml");
    let mut s = kubesim::scenario::load(&path)
        .unwrap_or_else(|e| panic!("seed scenario loads: {e:?}"))
        .scenario;
    let scale = rate / s.traffic[0].rate;
    for b in &mut s.behaviors {
        b.concurrency = ((b.concurrency as f64) * scale).round() as u32;
    }
    let t = &mut s.traffic[0];
    t.clients = ((t.clients as f64) * scale).round() as u32;
    t.rate = rate;
    t.connections.reuse = reuse;
    s.duration = t.start + SimDuration::from_secs(secs);
    (s, (rate * secs as f64) as u64)
}

fn seed_model(c: &mut Criterion) {
    let mut g = c.benchmark_group("seed_model");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for (name, reuse) in [("new_connection_per_request", false), ("reuse", true)] {
        let (scenario, expected) = seed_scenario(100_000.0, 15, reuse);
        // Check once that the run is the one we mean: every request sent, nearly all served.
        let out = Simulation::new(scenario.clone())
            .unwrap_or_else(|e| panic!("seed scenario builds: {e:?}"))
            .run();
        let sent = out.requests.sent;
        assert!(sent.abs_diff(expected) < expected / 100, "sent {sent}");
        assert!(out.requests.served * 100 >= sent * 99, "{:?}", out.requests);
        g.throughput(Throughput::Elements(sent));
        g.bench_function(name, |b| {
            b.iter_batched(
                || Simulation::new(scenario.clone()).expect("builds"),
                |sim| sim.run(),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// The seed's node as kube-proxy sees it: the built-in `kubernetes` and `kube-dns` Services
/// (no pod endpoints) and the NodePort `http-svc` with three ready local endpoints.
fn seed_rules() -> IptablesRules {
    let ip = |s: &str| -> Ipv4Addr { s.parse().expect("address") };
    let port = |name: &str, ns: &str, pn: Option<&str>, proto, cip, p, np, eps| ProxyServicePort {
        namespace: ns.into(),
        name: name.into(),
        port_name: pn.map(Into::into),
        protocol: proto,
        cluster_ip: Some(ip(cip)),
        port: p,
        node_port: np,
        external_ips: Vec::new(),
        load_balancer_ips: Vec::new(),
        external_policy_local: false,
        internal_policy_local: false,
        affinity_timeout_seconds: None,
        health_check_node_port: None,
        source_ranges: Vec::new(),
        endpoints: eps,
    };
    let ep = |a: &str| ProxyEndpoint {
        ip: ip(a),
        port: 80,
        is_local: true,
        ready: true,
        serving: true,
        terminating: false,
        hints: Default::default(),
    };
    let tcp = Protocol::Tcp;
    let input = NodeProxyInput {
        node_name: "docker-desktop".into(),
        node_ip: ip("192.168.0.24"),
        pod_cidr: "10.244.0.0/24".parse().expect("cidr"),
        cluster_cidr: "10.244.0.0/16".parse().expect("cidr"),
        services: vec![
            port(
                "kubernetes",
                "default",
                Some("https"),
                tcp,
                "10.96.0.1",
                443,
                None,
                vec![],
            ),
            port(
                "kube-dns",
                "kube-system",
                Some("dns"),
                Protocol::Udp,
                "10.96.0.10",
                53,
                None,
                vec![],
            ),
            port(
                "kube-dns",
                "kube-system",
                Some("dns-tcp"),
                tcp,
                "10.96.0.10",
                53,
                None,
                vec![],
            ),
            port(
                "kube-dns",
                "kube-system",
                Some("metrics"),
                tcp,
                "10.96.0.10",
                9153,
                None,
                vec![],
            ),
            port(
                "http-svc",
                "default",
                None,
                tcp,
                "10.100.200.7",
                8080,
                Some(30001),
                vec![ep("10.244.0.4"), ep("10.244.0.5"), ep("10.244.0.6")],
            ),
        ],
    };
    IptablesRules::build(&input)
}

fn route(c: &mut Criterion) {
    let rules = seed_rules();
    let mut rng = RngStreams::new(42).stream("kube-proxy/docker-desktop");
    let mut affinity = Default::default();
    let mut g = c.benchmark_group("iptables_route");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    let cases = [
        ("nodeport", "192.168.0.24", 30001),
        ("cluster_ip", "10.100.200.7", 8080),
        ("not_a_service", "10.244.0.5", 80),
    ];
    for (name, dst, dport) in cases {
        let mut pkt = Packet {
            src: Ipv4Addr::new(203, 0, 113, 1),
            src_port: 32768,
            dst: dst.parse().expect("address"),
            dst_port: dport,
            protocol: Protocol::Tcp,
            local_origin: false,
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                pkt.src_port = pkt.src_port.wrapping_add(1);
                rules.route(black_box(&pkt), &mut rng, &mut affinity, 1_000_000_000)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, event_queue, seed_model, route);
criterion_main!(benches);
