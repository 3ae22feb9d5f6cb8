//! The cluster autoscaler's node pool and nodes that join mid-run: the bundled lesson
//! `autoscaler-pending-pods`, its events and timings, and the pool's validation.

use crate::util::*;
use kubesim::engine::{SimDuration, SimTime};
use kubesim::sim::outcome::{ClusterEvent, Outcome};

fn events<'a>(o: &'a Outcome, reason: &str) -> Vec<&'a ClusterEvent> {
    o.events.iter().filter(|e| e.reason == reason).collect()
}

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

#[test]
fn pending_pods_wait_for_a_new_node_which_goes_when_unneeded() {
    let o = run(&load(
        &root().join("scenarios/autoscaler-pending-pods.yaml"),
    ));
    // One scale-up, from 1 to 2 nodes of the pool, with upstream's texts.
    let up = events(&o, "ScaledUpGroup");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(
        up[0].message,
        "Scale-up: setting group pool size to 2 instead of 1 (max: 3)"
    );
    let decided = up[0].at;
    let triggered = events(&o, "TriggeredScaleUp");
    assert!(!triggered.is_empty());
    for e in &triggered {
        assert_eq!(e.at, decided);
        assert_eq!(e.message, "pod triggered scale-up: [{pool 1->2 (max: 3)}]");
        assert!(e.object.starts_with("pod/web-"), "{}", e.object);
    }
    // The loop runs every 10 s; the pods were Pending before it.
    assert_eq!(decided.as_nanos() % 10_000_000_000, 0);
    let failed: Vec<_> = events(&o, "FailedScheduling")
        .into_iter()
        .filter(|e| e.at <= decided)
        .collect();
    assert!(!failed.is_empty());
    assert!(decided - failed[0].at <= secs(10));
    // The node registers after the provisioning delay, turns Ready at the next monitor pass.
    let registered = events(&o, "RegisteredNode");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].object, "node/pool-2");
    assert_eq!(registered[0].at, decided + secs(90));
    let ready = events(&o, "NodeReady")
        .into_iter()
        .find(|e| e.object == "node/pool-2")
        .expect("pool-2 turns Ready");
    assert!(ready.at >= registered[0].at && ready.at <= registered[0].at + secs(5));
    // The pending pods run there, in its pod range (the next free /24).
    let pool2 = o.nodes.iter().find(|n| n.name == "pool-2").unwrap();
    assert_eq!(pool2.pod_cidr, "10.244.2.0/24");
    assert_eq!(pool2.created, registered[0].at);
    let on_pool2: Vec<_> = scenario_pods(&o)
        .filter(|p| p.node.as_deref() == Some("pool-2"))
        .collect();
    assert!(!on_pool2.is_empty());
    assert!(on_pool2
        .iter()
        .all(|p| p.ip.is_some_and(|ip| ip.octets()[..3] == [10, 244, 2])));
    // Later, unneeded for 10 min and 10 min after the scale-up at least, it is removed.
    let removed = events(&o, "ScaleDown")
        .into_iter()
        .find(|e| e.message == "nodes removed by cluster autoscaler")
        .expect("pool-2 is removed");
    assert_eq!(removed.object, "node/pool-2");
    assert!(removed.at >= decided + secs(600));
    let last_scale_down = events(&o, "SuccessfulRescale")
        .into_iter()
        .rfind(|e| e.at < removed.at)
        .expect("the HPA scaled web down")
        .at;
    assert!(removed.at >= last_scale_down + secs(600));
    assert_eq!(pool2.removed, Some(removed.at));
    // The pool never goes below its minimum: pool-1 stays; node-1 is no pool's.
    let live: Vec<&str> = o
        .nodes
        .iter()
        .filter(|n| n.removed.is_none())
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(live, ["node-1", "pool-1"]);
    assert_eq!(o.requests.failed, 0);
}

#[test]
fn the_nodes_table_lists_the_nodes_that_exist_with_their_age() {
    let loaded = load(&root().join("scenarios/autoscaler-pending-pods.yaml"));
    let mut sim = kubesim::sim::Simulation::new(loaded.scenario.clone()).unwrap();
    sim.run_until(SimTime::ZERO + secs(8 * 60));
    // Mid-run pool-2 exists and is Ready.
    let snap = sim.snapshot();
    assert!(snap
        .pods
        .iter()
        .any(|p| p.node.as_deref() == Some("pool-2")));
    let o = sim.into_outcome();
    let text = kubesim::report::render_run(&o, kubesim::report::Rows::Summary);
    let nodes: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("NAME") || !l.contains("INTERNAL-IP"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(nodes.iter().any(|l| l.starts_with("node-1 ")), "{nodes:?}");
    assert!(nodes.iter().any(|l| l.starts_with("pool-1 ")), "{nodes:?}");
    assert!(
        !nodes.iter().any(|l| l.starts_with("pool-2 ")),
        "a removed node is not listed: {nodes:?}"
    );
}

#[test]
fn a_bad_node_pool_is_an_error_at_its_key() {
    let text = "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  duration: 1m\n  cluster:\n    nodes:\n      - {name: node-1, ip: 192.168.0.10}\n    nodePool:\n      name: pool\n      minSize: 4\n      maxSize: 3\n      template:\n        name: x\n        ip: 192.168.0.10\n";
    let d = kubesim::scenario::load_str(text, "t.yaml", &root().join("scenarios"))
        .expect_err("a bad pool");
    let s = d.to_string();
    assert!(
        s.contains("t.yaml:11:7: error: spec.cluster.nodePool.minSize: invalid value 4: must be at most maxSize (3)"),
        "{s}"
    );
    assert!(
        s.contains("spec.cluster.nodePool.provisioningDelay: required"),
        "{s}"
    );
    assert!(
        s.contains("t.yaml:14:9: error: spec.cluster.nodePool.template.name: must not be set"),
        "{s}"
    );
}

/// A DaemonSet gives a node that joins mid-run its pod (the node's first Ready pass runs the
/// DaemonSet controller), and the pod goes with the node when the cluster autoscaler removes
/// it; the nodes there from the start have theirs from the start.
#[test]
fn a_node_that_joins_gets_its_daemon_pod_which_goes_with_the_node() {
    let text = scenario_text("autoscaler-pending-pods.yaml")
        + "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers:\n      - name: agent\n        image: web\n        resources: {requests: {cpu: 10m}}\n";
    let o = run(&load_text(&text));
    let registered = events(&o, "RegisteredNode");
    assert_eq!(registered.len(), 1, "{registered:?}");
    let joined = registered[0].at;
    let agents: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.name.starts_with("agent-"))
        .collect();
    for node in ["node-1", "pool-1"] {
        assert!(
            agents
                .iter()
                .any(|p| p.node.as_deref() == Some(node) && p.created < SimTime::ZERO + secs(5)),
            "{node}: {agents:?}"
        );
    }
    let on_pool2 = agents
        .iter()
        .find(|p| p.node.as_deref() == Some("pool-2"))
        .unwrap_or_else(|| panic!("no agent pod on pool-2: {agents:?}"));
    assert!(
        on_pool2.created >= joined && on_pool2.created <= joined + secs(10),
        "{on_pool2:?}, joined at {joined:?}"
    );
    let removed = o
        .nodes
        .iter()
        .find(|n| n.name == "pool-2")
        .and_then(|n| n.removed)
        .expect("pool-2 is removed once unneeded");
    // removed with the node (as the pod garbage collector force-deletes the pods of a
    // deleted node: no Terminating on the way)
    assert!(
        on_pool2.status == "Deleted" && on_pool2.deleted.is_none_or(|d| d <= removed),
        "{on_pool2:?}, pool-2 removed at {removed:?}"
    );
    assert!(
        agents
            .iter()
            .all(|p| p.node.as_deref() != Some("pool-2") || p.status == "Deleted"),
        "{agents:?}"
    );
}
