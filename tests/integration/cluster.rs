//! The cluster model: scheduling, host networking, and what the data plane does before pods
//! are ready or when nobody listens.

use crate::util::*;

/// The seed scenario with `edit` applied to its text.
fn seed_with(edit: impl Fn(String) -> String) -> kubesim::sim::Outcome {
    run(&load_text(&edit(scenario_text("seed-tutorial.yaml"))))
}

#[test]
fn a_service_without_ready_endpoints_refuses_at_once() {
    // Traffic from time zero: the pods start at 1 s and kube-proxy programs them right after.
    let o = seed_with(|s| s.replace("      start: 5s", "      start: 0s"));
    let refused = o
        .requests
        .failed_by_reason
        .get("connection_refused")
        .copied()
        .unwrap_or(0);
    assert!(
        refused > 500 && refused < 1_500,
        "about one second of refusals at 1000/s: {refused}"
    );
    assert_eq!(
        o.requests.failed, refused,
        "{:?}",
        o.requests.failed_by_reason
    );
}

#[test]
fn a_target_port_nobody_listens_on_is_refused() {
    let o = seed_with(|s| s.replace("targetPort : 80", "targetPort : 8081"));
    assert_eq!(o.requests.served, 0);
    assert_eq!(
        o.requests.failed_by_reason.get("connection_refused"),
        Some(&o.requests.sent)
    );
}

#[test]
fn host_network_pods_take_their_nodes_ip_and_its_ports() {
    let o = seed_with(|s| {
        s.replace(
            "      containers:\n      - name: aspnetcoreweb",
            "      hostNetwork: true\n      containers:\n      - name: aspnetcoreweb",
        )
    });
    // With hostNetwork the hostPort defaults to the containerPort: one replica per node.
    let running: Vec<_> = scenario_pods(&o)
        .filter(|p| p.status == "Running")
        .collect();
    assert_eq!(running.len(), 1);
    assert_eq!(
        scenario_pods(&o).filter(|p| p.status == "Pending").count(),
        2
    );
    assert_eq!(running[0].ip.unwrap().to_string(), "192.168.0.24");
    assert_eq!(running[0].served, o.requests.served);
    assert!(
        o.requests.served > 40_000,
        "served through the host's port 80: {:?}",
        o.requests
    );
}

#[test]
fn a_second_replica_with_the_same_host_port_stays_pending() {
    let o = seed_with(|s| {
        s.replace(
            "        - containerPort: 80",
            "        - containerPort: 80\n          hostPort: 8080",
        )
    });
    let statuses: Vec<&str> = scenario_pods(&o).map(|p| p.status.as_str()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "Running").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "Pending").count(),
        2,
        "{statuses:?}"
    );
    let msg = o
        .events
        .iter()
        .find(|e| e.reason == "FailedScheduling")
        .expect("FailedScheduling event");
    assert!(
        msg.message.starts_with("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."),
        "{}",
        msg.message
    );
}

#[test]
fn a_node_selector_and_resource_requests_filter_nodes() {
    let o = seed_with(|s| {
        s.replace(
            "        ports:\n        - containerPort: 80",
            "        ports:\n        - containerPort: 80\n        resources:\n          requests: {cpu: 1500m}",
        )
    });
    // 4 CPUs allocatable, 1.5 CPU each: two fit, the third waits.
    let pending: Vec<_> = scenario_pods(&o)
        .filter(|p| p.status == "Pending")
        .collect();
    assert_eq!(pending.len(), 1);
    assert!(o
        .events
        .iter()
        .any(|e| e.reason == "FailedScheduling" && e.message.contains("1 Insufficient cpu")));

    let o = seed_with(|s| {
        s.replace(
            "      containers:\n",
            "      nodeSelector: {disktype: ssd}\n      containers:\n",
        )
    });
    assert!(scenario_pods(&o).all(|p| p.status == "Pending"));
    assert!(o.events.iter().any(|e| e
        .message
        .contains("1 node(s) didn't match Pod's node affinity/selector")));
}
