//! Hostile input to `kubesim generate`: options that cannot make a valid cluster are usage
//! errors (exit 2) naming the option, and nothing is written.

use crate::util::{kubesim, stderr, temp_dir};

#[test]
fn generate_refuses_options_beyond_kubernetes_limits_and_writes_nothing() {
    let dir = temp_dir("generate-hostile");
    for (args, want) in [
        (
            vec!["--nodes", "5001"],
            "error: --nodes 5001: must be between 1 and 5000 (Kubernetes' documented limit)",
        ),
        (
            vec!["--nodes", "0"],
            "error: --nodes 0: must be between 1 and 5000",
        ),
        (
            vec!["--nodes", "5000", "--pods-per-node", "110"],
            "error: 550000 pods: more than 150000, Kubernetes' documented limit",
        ),
        (
            vec!["--pods-per-node", "111"],
            "error: --pods-per-node 111: must be between 1 and 110 (the kubelet's maxPods)",
        ),
        (
            vec!["--services", "10001"],
            "error: --services 10001: must be between 1 and 10000",
        ),
        (
            vec!["--nodes", "1", "--services", "1", "--replicas", "200"],
            "error: --replicas 200: 200 pods do not fit on 1 node(s) of 110 pods each",
        ),
        (vec!["--rate=-5/s"], "error: --rate: invalid rate \"-5/s\""),
        (
            vec!["--duration", "0s"],
            "error: --duration: must be longer than 0s",
        ),
        (
            vec!["--duration", "soon"],
            "error: --duration: invalid duration \"soon\"",
        ),
        (vec!["--nodes", "99999999999"], "--nodes"),
        (vec!["--proxy-mode", "userspace"], "--proxy-mode"),
        (
            vec!["--replicas", "3", "--pods-per-node", "3"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["generate", "--out", "g.yaml"];
        all.extend(&args);
        let o = kubesim(&dir, &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!dir.join("g.yaml").exists(), "{args:?} wrote a file");
    }
}
