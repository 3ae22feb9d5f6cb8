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

/// A scenario of three nodes (`node-1` zone a, `node-2` zone b, `node-3` zone c with
/// `disk: ssd` and `generation: "5"`), `duration` long, with `events` and `objects`.
fn three_zones(events: &str, objects: &str) -> String {
    format!(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: affinity}}\nspec:\n  seed: 7\n  duration: 90s\n  cluster:\n    nodes:\n      - {{name: node-1, ip: 10.1.0.1, labels: {{topology.kubernetes.io/zone: a}}}}\n      - {{name: node-2, ip: 10.1.0.2, labels: {{topology.kubernetes.io/zone: b}}}}\n      - {{name: node-3, ip: 10.1.0.3, labels: {{topology.kubernetes.io/zone: c, disk: ssd, generation: \"5\"}}}}\n{events}---\n{objects}"
    )
}

#[test]
fn required_node_affinity_confines_pods_and_says_why_when_no_node_matches() {
    let objects = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [a, b]}]\n      containers: [{name: web, image: web}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: newer}\nspec:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions: [{key: generation, operator: Gt, values: [\"4\"]}]\n  containers: [{name: c, image: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: nowhere}\nspec:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions: [{key: disk, operator: In, values: [ssd]}]\n            matchFields: [{key: metadata.name, operator: In, values: [node-1]}]\n  containers: [{name: c, image: c}]\n";
    let o = run(&load_text(&three_zones("", objects)));
    let web: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.name.starts_with("web-"))
        .collect();
    assert_eq!(web.len(), 4);
    // Terms' expressions: zone a or b, never node-3; spread over both.
    let nodes: std::collections::BTreeSet<_> =
        web.iter().filter_map(|p| p.node.as_deref()).collect();
    assert_eq!(nodes, ["node-1", "node-2"].into_iter().collect());
    let newer = o.pods.iter().find(|p| p.name == "newer").unwrap();
    assert_eq!(
        newer.node.as_deref(),
        Some("node-3"),
        "only node-3's generation is > 4"
    );
    // Labels and fields of one term are ANDed: disk=ssd is node-3, the name node-1.
    let nowhere = o.pods.iter().find(|p| p.name == "nowhere").unwrap();
    assert_eq!(nowhere.node, None);
    let why = events(&o, "pod/nowhere");
    assert_eq!(why[0].1, "FailedScheduling");
    assert!(
        why[0].2.starts_with(
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
        ),
        "{why:?}"
    );
}

#[test]
fn affinity_rules_kubesim_does_not_act_on_are_named_in_a_note() {
    let objects = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n        - weight: 10\n          preference: {matchExpressions: [{key: disk, operator: In, values: [ssd]}]}\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        - labelSelector: {matchLabels: {app: p}}\n          topologyKey: kubernetes.io/hostname\n  containers: [{name: c, image: c}]\n";
    let loaded = load_text(&three_zones("", objects));
    let notes: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        notes
            .iter()
            .any(|n| n
                .contains(": note: Pod \"p\": preferred node affinity is accepted but not scored")),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("note: Pod \"p\": pod anti-affinity is accepted but not simulated")),
        "{notes:#?}"
    );
    // A bad operator is the API server's error, at its line.
    let bad = three_zones("", &objects.replace("operator: In", "operator: Within"));
    let err = match kubesim::scenario::load_str(&bad, "test.yaml", &root().join("scenarios")) {
        Ok(_) => panic!("a bad operator loads"),
        Err(d) => d.to_string(),
    };
    assert!(
        err.contains("test.yaml:21:") && err.contains("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].operator: Invalid value: \"Within\": not a valid selector operator"),
        "{err}"
    );
}

/// A DaemonSet `agent` (image `agent:1`, the default update strategy) with `spec` lines added
/// to its pod template.
fn agent(template_spec: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent}}\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n    metadata: {{labels: {{app: agent}}}}\n    spec:\n{template_spec}      containers: [{{name: agent, image: \"{image}\"}}]\n"
    )
}

#[test]
fn daemonset_runs_only_on_nodes_its_node_affinity_matches() {
    // Upstream's `TestNodeAffinityDaemonLaunchesPods` in spirit: terms ORed (node-1 by name,
    // or a node with disk=ssd: node-3), node-2 gets no agent.
    let spec = "      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchFields: [{key: metadata.name, operator: In, values: [node-1]}]\n              - matchExpressions: [{key: disk, operator: Exists}]\n";
    let o = run(&load_text(&three_zones("", &agent(spec, "agent:1"))));
    let mut nodes: Vec<_> = o
        .pods
        .iter()
        .filter(|p| p.owner.as_deref() == Some("agent"))
        .filter_map(|p| p.node.as_deref())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-3"]);
    // Each daemon pod is bound to its node (the controller's matchFields term), so the
    // scheduler's spreading never moves one.
    let created = events(&o, "daemonset/agent")
        .iter()
        .filter(|e| e.1 == "SuccessfulCreate")
        .count();
    assert_eq!(created, 2);
}

#[test]
fn daemonset_update_counts_unavailable_old_pods_against_max_unavailable() {
    // kubernetes/kubernetes#123232 (fixed by #123233, v1.31): two updates whose pods never
    // turn ready. After the first, node-1's new pod is unavailable (1 of maxUnavailable 1);
    // the second replaces that pod (old and unavailable) and, as it counts against the
    // budget, deletes no healthy pod: two nodes keep their available agent.
    let never_ready = "      containers: [{name: agent, image: \"IMAGE\", readinessProbe: {tcpSocket: {port: 9100}, initialDelaySeconds: 3600}}]\n";
    let update = |at: u32, image: &str| {
        let body = agent("", "x").replace(
            "      containers: [{name: agent, image: \"x\"}]\n",
            &never_ready.replace("IMAGE", image),
        );
        let indented: String = body.lines().map(|l| format!("        {l}\n")).collect();
        format!("    - at: {at}s\n      apply:\n{indented}")
    };
    let events_yaml = format!(
        "  events:\n{}{}",
        update(20, "agent:2"),
        update(40, "agent:3")
    );
    let o = run(&load_text(&three_zones(
        &events_yaml,
        &agent("", "agent:1"),
    )));
    let ev = events(&o, "daemonset/agent");
    let deletes = |from: f64, to: f64| {
        ev.iter()
            .filter(|e| e.1 == "SuccessfulDelete" && e.0 >= from && e.0 < to)
            .count()
    };
    assert_eq!(deletes(20.0, 40.0), 1, "{ev:?}");
    assert_eq!(
        deletes(40.0, 90.0),
        1,
        "only the unavailable agent:2 pod: {ev:?}"
    );
    let ready_at_end = o
        .pods
        .iter()
        .filter(|p| p.owner.as_deref() == Some("agent") && p.deleted.is_none())
        .filter(|p| p.ready == "1/1")
        .count();
    assert_eq!(ready_at_end, 2);
}
