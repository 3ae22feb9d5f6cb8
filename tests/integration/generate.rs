//! Large clusters: `kubesim generate` writes scenarios that load as written.

use crate::util::scenario_pods;
use crate::util::{kubesim, root, stderr, temp_dir};

#[test]
fn generate_writes_a_scenario_that_check_accepts_the_same_every_time() {
    let dir = temp_dir("generate");
    let args = [
        "generate",
        "--nodes",
        "300",
        "--pods-per-node",
        "4",
        "--services",
        "7",
        "--proxy-mode",
        "nftables",
        "--out",
        "big.yaml",
    ];
    let o = kubesim(&dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("big.yaml")).unwrap();
    assert!(
        text.contains("# Made by: kubesim generate --nodes 300 --pods-per-node 4 --services 7 --proxy-mode nftables --rate 1000/s --duration 10s --seed 1\n"),
        "{}",
        &text[..600]
    );
    // More than 256 nodes: the pod CIDR grows beyond flannel's /16.
    assert!(text.contains("    clusterCIDR: 10.244.0.0/15\n"));
    let o = kubesim(&dir, &["check", "big.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with(
            "big.yaml: valid. 300 node(s), 14 object(s), 1 traffic stream(s), 0 timeline event(s)."
        ),
        "{stdout}"
    );
    assert_eq!(stderr(&o), "", "no warnings");
    // To standard output, the same bytes.
    let o = kubesim(&dir, &args[..args.len() - 2]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap(), text);
}

#[test]
fn generated_clusters_place_every_pod_and_serve_the_traffic() {
    let text = String::from_utf8(
        kubesim(
            &root(),
            &[
                "generate",
                "--nodes",
                "4",
                "--replicas",
                "3",
                "--services",
                "3",
                "--duration",
                "2s",
            ],
        )
        .stdout,
    )
    .unwrap();
    let loaded = crate::util::load_text(&text);
    let outcome = crate::util::run(&loaded);
    // The 9 pods of the Deployments, all running.
    assert_eq!(scenario_pods(&outcome).count(), 9);
    assert!(scenario_pods(&outcome).all(|p| p.status == "Running"));
    assert!(outcome.requests.sent > 1_900, "{}", outcome.requests.sent);
    assert_eq!(outcome.requests.failed, 0);
}
