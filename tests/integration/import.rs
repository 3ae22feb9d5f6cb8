//! `kubesim import` of the bundled kind cluster dump (scenarios/import/): the scenario it makes
//! is the one committed, it runs, its Services keep their addresses and its pods take addresses
//! from their nodes' real pod ranges; the dump given straight to `manifests:` loads too.

use crate::util::{kubesim, load, root, stderr, temp_dir};
use ipnet::Ipv4Net;
use kubesim::scenario::import::{import, ImportOptions, Input};
use kubesim::scenario::Severity;
use kubesim::sim::Simulation;
use std::collections::BTreeMap;

fn dir() -> std::path::PathBuf {
    root().join("scenarios").join("import")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).expect("bundled file")
}

#[test]
fn the_kind_dump_imports_into_the_committed_scenario() {
    let dump = read("kind-dump.yaml");
    let cm = read("kind-kube-proxy.json");
    let out = import(
        &[
            Input {
                file: "kind-dump.yaml",
                text: &dump,
            },
            Input {
                file: "kind-kube-proxy.json",
                text: &cm,
            },
        ],
        &ImportOptions {
            name: "kind-imported".into(),
            ..ImportOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        out.scenario,
        read("kind-imported.yaml"),
        "regenerate: cd scenarios/import && kubesim import kind-dump.yaml kind-kube-proxy.json --out kind-imported.yaml"
    );
    // The command writes the same file and says what it skipped.
    let tmp = temp_dir("import-kind");
    let written = tmp.join("kind-imported.yaml");
    let o = kubesim(
        &dir(),
        &[
            "import",
            "kind-dump.yaml",
            "kind-kube-proxy.json",
            "--out",
            written.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&written).unwrap(), out.scenario);
    let err = stderr(&o);
    assert!(
        err.contains("proxy mode iptables, from ConfigMap kube-system/kube-proxy"),
        "{err}"
    );
    assert!(
        err.contains("Pod kube-system/etcd-kind-control-plane"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn the_imported_cluster_keeps_its_addresses_and_pod_ranges() {
    let l = load(&dir().join("kind-imported.yaml"));
    let ranges: BTreeMap<&str, Ipv4Net> = [
        ("kind-control-plane", "10.244.0.0/24"),
        ("kind-worker", "10.244.2.0/24"),
        ("kind-worker2", "10.244.1.0/24"),
    ]
    .into_iter()
    .map(|(n, c)| (n, c.parse().unwrap()))
    .collect();
    let mut sim = Simulation::new(l.scenario.clone()).unwrap_or_else(|e| panic!("{e:?}"));
    sim.run_until(kubesim::engine::SimTime::ZERO + kubesim::engine::SimDuration::from_secs(30));
    let snap = sim.snapshot();
    let svc = snap
        .services
        .iter()
        .find(|s| s.name == "http-svc")
        .expect("http-svc");
    assert_eq!(svc.cluster_ip, Some("10.96.148.213".parse().unwrap()));
    assert_eq!(svc.ports[0].node_port, Some(30001));
    assert_eq!(svc.endpoints.len(), 3, "{:?}", svc.endpoints);
    let mut placed = 0;
    for p in &snap.pods {
        let (Some(node), Some(ip)) = (&p.node, p.ip) else {
            panic!("{} has no node or address", p.name)
        };
        assert!(
            ranges[node.as_str()].contains(&ip),
            "{} on {node} has {ip}, outside the node's podCIDR",
            p.name
        );
        placed += 1;
    }
    // 3 http, 1 local-path-provisioner, 1 curl, 2 CoreDNS.
    assert_eq!(placed, 7);
    // The pods of kind-worker (the third range, second in the list) come from 10.244.2.0/24.
    assert!(snap
        .pods
        .iter()
        .any(|p| p.node.as_deref() == Some("kind-worker")));
}

#[test]
fn the_dump_as_manifests_loads_without_warnings_but_not_simulated_notes() {
    let text = r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {name: dump}
spec:
  duration: 10s
  manifests: [kind-dump.yaml, kind-kube-proxy.json]
  cluster:
    nodes:
    - {name: kind-control-plane, ip: 172.18.0.3}
    - {name: kind-worker, ip: 172.18.0.2}
    - {name: kind-worker2, ip: 172.18.0.4}
"#;
    let l =
        kubesim::scenario::load_str(text, "dump.yaml", &dir()).unwrap_or_else(|d| panic!("{d}"));
    for w in l
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Warning)
    {
        assert!(w.message.contains("not simulated"), "{w}");
    }
    let notes: Vec<_> = l
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Note)
        .collect();
    // 3 ReplicaSets, 12 owned pods, kubernetes and kube-dns; CoreDNS's preferred pod
    // anti-affinity (accepted, not simulated).
    assert_eq!(notes.len(), 18, "{notes:?}");
    assert!(notes.iter().any(|n| n
        .to_string()
        .contains("Deployment \"coredns\": pod anti-affinity is accepted but not simulated")));
    assert!(notes.iter().any(|n| n
        .to_string()
        .contains("Pod \"http-deployment-5d9c6b8f47-4kzrt\" is owned by ReplicaSet")));
    let sim = Simulation::new(l.scenario.clone()).unwrap_or_else(|e| panic!("{e:?}"));
    drop(sim);
}

#[test]
fn a_broken_dump_is_refused_with_its_place() {
    let tmp = temp_dir("import-broken");
    std::fs::write(
        tmp.join("bad.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n  spec: {podCIDR: 10.244.1.0/33}\n  status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n",
    )
    .unwrap();
    let o = kubesim(&tmp, &["import", "bad.yaml", "--out", "s.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.yaml:7:10: error: Node \"n1\": spec.podCIDR: Invalid value"),
        "{err}"
    );
    assert!(!tmp.join("s.yaml").exists());
    let _ = std::fs::remove_dir_all(&tmp);
}
