//! StatefulSets and DaemonSets (issue 17): the bundled scenarios' controllers, as upstream's
//! run them.

use crate::util::*;
use kubesim::sim::Outcome;

fn events<'a>(o: &'a Outcome, object: &str) -> Vec<(f64, &'a str, &'a str)> {
    o.events
        .iter()
        .filter(|e| e.object == object)
        .map(|e| {
            (
                e.at.as_nanos() as f64 / 1e9,
                e.reason.as_str(),
                e.message.as_str(),
            )
        })
        .collect()
}

#[test]
fn statefulset_creates_in_order_replaces_by_name_and_updates_from_the_highest_ordinal() {
    let o = run(&load(&root().join("scenarios/statefulset-web.yaml")));
    let ev = events(&o, "statefulset/web");
    let msgs: Vec<&str> = ev.iter().map(|e| e.2).collect();
    assert_eq!(
        msgs,
        [
            "create Pod web-0 in StatefulSet web successful",
            "create Pod web-1 in StatefulSet web successful",
            "create Pod web-2 in StatefulSet web successful",
            // 40 s: web-1 deleted by the user, created again under its name.
            "create Pod web-1 in StatefulSet web successful",
            // 60 s, partition 1: web-2, then web-1 once web-2 is Ready; web-0 stays.
            "delete Pod web-2 in StatefulSet web successful",
            "create Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful",
            "create Pod web-1 in StatefulSet web successful",
            // 120 s, partition 0: web-0.
            "delete Pod web-0 in StatefulSet web successful",
            "create Pod web-0 in StatefulSet web successful",
        ]
    );
    // OrderedReady: each pod waits for the one before to be Ready (5 s readiness delay plus
    // a 1 s container start).
    assert!(ev[1].0 > ev[0].0 && ev[2].0 > ev[1].0, "{ev:?}");
    assert_eq!(ev[3].0, 40.0);
    // The update waits at web-2 until the new web-2 is Ready.
    assert!(ev[6].0 > ev[5].0 + 5.0, "{ev:?}");
    assert_eq!(ev[8].0, 120.0);
    // Each web-N that was replaced has a new IP; the stable name stays.
    let webs: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.name.starts_with("web-"))
        .collect();
    for name in ["web-0", "web-1", "web-2"] {
        let ips: Vec<_> = webs
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.ip)
            .collect();
        assert!(ips.len() >= 2, "{name} was replaced");
        let distinct: std::collections::BTreeSet<_> = ips.iter().collect();
        assert_eq!(
            distinct.len(),
            ips.len(),
            "{name} gets a new IP each time: {ips:?}"
        );
        assert!(webs.iter().all(|p| p.owner.as_deref() == Some("web")));
    }
    // `web-0.nginx` resolves through the headless Service to web-0 alone; the only failures
    // are its lookups while web-0 is replaced (NXDOMAIN).
    let primary = o.streams.iter().find(|s| s.name == "primary").unwrap();
    assert!(primary.served > 7_000, "{}", primary.served);
    assert!(
        primary.failed > 0 && primary.failed < 600,
        "{}",
        primary.failed
    );
    assert_eq!(
        o.requests.failed,
        o.requests.failed_by_reason["dns_failure"]
    );
    let web0_served: u64 = webs
        .iter()
        .filter(|p| p.name == "web-0")
        .map(|p| p.served)
        .sum();
    assert!(
        web0_served >= primary.served,
        "{web0_served} < {}",
        primary.served
    );
}

#[test]
fn parallel_statefulset_creates_every_pod_at_once() {
    let text = scenario_text("statefulset-web.yaml").replacen(
        "  serviceName: nginx\n  replicas: 3\n",
        "  serviceName: nginx\n  replicas: 3\n  podManagementPolicy: Parallel\n",
        1,
    );
    let o = run(&load_text(&text));
    let creates: Vec<_> = events(&o, "statefulset/web")
        .into_iter()
        .filter(|e| e.1 == "SuccessfulCreate")
        .take(3)
        .collect();
    assert!(creates.iter().all(|e| e.0 == 0.0), "{creates:?}");
}

#[test]
fn daemonset_runs_one_pod_per_eligible_node_and_keeps_it_through_a_node_outage() {
    let o = run(&load(&root().join("scenarios/daemonset-node-local.yaml")));
    let agents: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.owner.as_deref() == Some("node-agent"))
        .collect();
    // node-4's taint is not tolerated: no agent there.
    assert!(agents.iter().all(|p| p.node.as_deref() != Some("node-4")));
    let first: Vec<_> = agents.iter().take(3).collect();
    let nodes: std::collections::BTreeSet<_> =
        first.iter().map(|p| p.node.clone().unwrap()).collect();
    assert_eq!(nodes.len(), 3, "one per node of node-1..3");
    let ev = events(&o, "daemonset/node-agent");
    assert!(ev[0].2.starts_with("Created pod: node-agent-"), "{ev:?}");
    // node-3's agent was not evicted while its node was down (daemon pods tolerate
    // `unreachable`): it restarted, same pod.
    let on3 = first
        .iter()
        .find(|p| p.node.as_deref() == Some("node-3"))
        .unwrap();
    assert_eq!(on3.restarts, 1);
    assert!(o
        .events
        .iter()
        .all(|e| !(e.reason == "TaintManagerEviction" && e.object == format!("pod/{}", on3.name))));
    // The update with maxSurge 1 replaced the three agents (three creations, three deletions
    // after 150 s) without a node ever lacking its local agent: no `no_route`.
    let after: Vec<_> = ev.iter().filter(|e| e.0 >= 150.0).collect();
    assert_eq!(
        after.iter().filter(|e| e.1 == "SuccessfulCreate").count(),
        3
    );
    assert_eq!(
        after.iter().filter(|e| e.1 == "SuccessfulDelete").count(),
        3
    );
    assert_eq!(o.requests.failed_by_reason.get("no_route"), None);
}

#[test]
fn daemonset_update_without_surge_leaves_each_node_without_its_local_agent_for_a_while() {
    let text = scenario_text("daemonset-node-local.yaml")
        .replace("{maxSurge: 1, maxUnavailable: 0}", "{maxUnavailable: 1}");
    let o = run(&load_text(&text));
    let ev = events(&o, "daemonset/node-agent");
    // One node at a time: the next deletion waits for the new pod to be available.
    let deletes: Vec<f64> = ev
        .iter()
        .filter(|e| e.0 >= 150.0 && e.1 == "SuccessfulDelete")
        .map(|e| e.0)
        .collect();
    assert_eq!(deletes.len(), 3, "{ev:?}");
    assert!(
        deletes[1] > deletes[0] && deletes[2] > deletes[1],
        "{deletes:?}"
    );
    // Each node's clients lose their agent while it is replaced: more failures than with
    // the surge (the bundled scenario).
    let surge = run(&load(&root().join("scenarios/daemonset-node-local.yaml")));
    assert!(
        o.requests.failed > surge.requests.failed,
        "{:?} vs {:?}",
        o.requests.failed_by_reason,
        surge.requests.failed_by_reason
    );
}
