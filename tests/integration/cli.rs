//! The command line: bad input is reported with file, line and column, exits 2, and writes
//! nothing; a good run writes every output file.

use crate::util::*;
use std::path::Path;

/// Writes a variant of the seed scenario into `dir` and returns its path.
fn seed_variant(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, edit(scenario_text("seed-tutorial.yaml"))).unwrap();
    path.to_str().unwrap().to_string()
}

/// The 1-based line of the first line of `path` containing `needle`.
fn line_of(path: &str, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle in file")
        + 1
}

#[test]
fn a_template_label_typo_gives_the_api_servers_selector_message() {
    let dir = temp_dir("typo");
    let file = seed_variant(&dir, |s| {
        let at = s
            .find("      labels:\n        app: http-label")
            .expect("template labels");
        format!(
            "{}{}",
            &s[..at],
            s[at..].replacen("app: http-label", "app: http-lable", 1)
        )
    });
    for args in [vec!["check", &file], vec!["run", &file, "--out", "out"]] {
        let o = kubesim(&dir, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let want = format!(
            "{file}:{}:7: error: The Deployment \"http-deployment\" is invalid: spec.template.metadata.labels: \
             Invalid value: {{\"app\":\"http-lable\"}}: `selector` does not match template `labels`",
            line_of(&file, "app: http-lable") - 1
        );
        assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "nothing printed to stdout on bad input"
        );
        assert!(
            !dir.join("out").exists() && !dir.join("output").exists(),
            "nothing written"
        );
    }
}

/// kubectl's default `--validate=strict`: an error in the API server's words; `warn` makes it
/// a warning, `ignore` silences it, on every command that loads a scenario.
#[test]
fn a_misspelt_field_is_an_error_naming_its_path_unless_validate_relaxes_it() {
    let dir = temp_dir("replcas");
    let file = seed_variant(&dir, |s| s.replace("  replicas: 3 #", "  replcas: 3 #"));
    let line = line_of(&file, "replcas");
    let o = kubesim(&dir, &["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!(
        "{file}:{line}:3: error: Deployment \"http-deployment\" cannot be handled as a Deployment: \
         strict decoding error: unknown field \"spec.replcas\""
    );
    assert_eq!(stderr(&o).trim_end(), want);
    let warning = format!("{file}:{line}:3: warning: unknown field \"spec.replcas\"");
    for args in [
        vec!["check", &file, "--validate=warn"],
        vec!["rules", &file, "--validate=warn"],
        vec![
            "trace",
            &file,
            "--to",
            "192.168.0.24:30001",
            "--validate=warn",
        ],
    ] {
        let o = kubesim(&dir, &args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(&warning), "{args:?}: {}", stderr(&o));
    }
    for v in ["--validate=ignore", "--validate=false"] {
        let o = kubesim(&dir, &["check", &file, v]);
        assert_eq!(o.status.code(), Some(0));
        assert!(!stderr(&o).contains("replcas"), "{}", stderr(&o));
    }
    for v in ["--validate", "--validate=true", "--validate=strict"] {
        let o = kubesim(&dir, &["check", &file, v]);
        assert_eq!(o.status.code(), Some(2), "{v}");
    }
    let o = kubesim(&dir, &["check", &file, "--validate=foo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid - validate option \"foo\"; must be one of: strict (or true), warn, ignore (or false)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_node_port_out_of_range_gives_the_range_message() {
    let dir = temp_dir("range");
    let file = seed_variant(&dir, |s| s.replace("nodePort: 30001", "nodePort: 29999"));
    let o = kubesim(&dir, &["check", &file]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!(
        "{file}:{}:5: error: The Service \"http-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 29999: \
         provided port is not in the valid range. The range of valid ports is 30000-32767",
        line_of(&file, "nodePort: 29999")
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
}

#[test]
fn two_services_on_one_node_port_give_already_allocated_from_check_and_run() {
    let dir = temp_dir("dup");
    let file = seed_variant(&dir, |s| {
        let svc = &s[s.find("---\napiVersion: v1\nkind: Service").unwrap()..];
        format!("{s}{}", svc.replace("name: http-svc", "name: http-svc-2"))
    });
    let second = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("nodePort: 30001"))
        .nth(1)
        .unwrap()
        .0
        + 1;
    for args in [vec!["check", &file], vec!["run", &file, "--out", "out"]] {
        let o = kubesim(&dir, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let want = format!(
            "{file}:{second}:5: error: The Service \"http-svc-2\" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated"
        );
        assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
        assert!(!dir.join("out").exists());
    }
}

#[test]
fn run_prints_the_tables_and_writes_every_output_file() {
    let dir = temp_dir("run");
    let o = kubesim(
        &root(),
        &[
            "run",
            "scenarios/seed-tutorial.yaml",
            "--out",
            dir.join("o").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for header in [
        "NAME             STATUS   ROLES    AGE   VERSION",
        "NAME                               READY   STATUS    RESTARTS   AGE   IP",
        "TYPE        CLUSTER-IP",
        "8080:30001/TCP",
    ] {
        assert!(stdout.contains(header), "missing {header:?} in:\n{stdout}");
    }
    for f in kubesim::report::OUTPUT_FILES {
        let meta =
            std::fs::metadata(dir.join("o").join(f)).unwrap_or_else(|_| panic!("{f} written"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let png = std::fs::read(dir.join("o/distribution.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let o = kubesim(&root(), &["check", "no/such/scenario.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no/such/scenario.yaml"),
        "{}",
        stderr(&o)
    );
}

/// kube-proxy's chain-name hash: the first 16 characters of the base32 SHA-256 of the
/// service port name and protocol (`pkg/proxy/iptables/proxier.go`, `portProtoHash`).
fn chain_hash(input: &str) -> String {
    use sha2::Digest;
    data_encoding::BASE32.encode(&sha2::Sha256::digest(input.as_bytes()))[..16].to_string()
}

#[test]
fn rules_prints_the_nodes_iptables_save_with_upstream_chain_names() {
    let o = kubesim(
        &root(),
        &["rules", "scenarios/seed-tutorial.yaml", "--at", "30s"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let svc = format!("KUBE-SVC-{}", chain_hash("default/http-svctcp"));
    let nodeport = format!("-A KUBE-NODEPORTS -p tcp -m comment --comment \"default/http-svc\" -m tcp --dport 30001 -j KUBE-EXT-{}", chain_hash("default/http-svctcp"));
    assert!(text.contains(&nodeport), "{text}");
    let svc_rules: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("-A {svc} ")) && l.contains("KUBE-SEP-"))
        .collect();
    assert_eq!(svc_rules.len(), 3, "{text}");
    // iptables-save prints the probability the kernel stores (`%.11f` of a 31-bit fraction):
    // 1/3 and 1/2, then an unconditional jump.
    assert!(
        svc_rules[0].contains("--probability 0.33333333349"),
        "{}",
        svc_rules[0]
    );
    assert!(
        svc_rules[1].contains("--probability 0.50000000000"),
        "{}",
        svc_rules[1]
    );
    assert!(!svc_rules[2].contains("--probability"), "{}", svc_rules[2]);
    for (rule, ip) in svc_rules
        .iter()
        // The CoreDNS add-on's two pods took .2 and .3 of the node's range first.
        .zip(["10.244.0.4:80", "10.244.0.5:80", "10.244.0.6:80"])
    {
        let sep = format!(
            "KUBE-SEP-{}",
            chain_hash(&format!("default/http-svctcp{ip}"))
        );
        assert!(
            rule.ends_with(&format!("-j {sep}")),
            "{rule} should jump to {sep}"
        );
        assert!(text.contains(&format!("-A {sep} -p tcp -m comment --comment \"default/http-svc\" -m tcp -j DNAT --to-destination {ip}")));
    }
    assert!(text.ends_with("COMMIT\n# Completed on docker-desktop\n"));

    let bad = kubesim(
        &root(),
        &["rules", "scenarios/seed-tutorial.yaml", "--node", "nope"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("--node nope: no such node"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn trace_follows_a_nodeport_request_across_the_three_networks() {
    let args = [
        "trace",
        "scenarios/seed-tutorial-3-nodes.yaml",
        "--to",
        "192.168.0.24:30001",
        "-n",
        "6",
        "--at",
        "30s",
    ];
    let o = kubesim(&root(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let blocks: Vec<&str> = text.split("== request ").skip(1).collect();
    assert_eq!(blocks.len(), 6);
    let mut crossed = 0;
    for b in &blocks {
        assert!(
            b.contains("reaches node node-1 (192.168.0.24, NodeIP network)"),
            "{b}"
        );
        assert!(b.contains("-A KUBE-NODEPORTS -p tcp -m comment --comment \"default/http-svc\" -m tcp --dport 30001 -j KUBE-EXT-"), "{b}");
        assert!(
            b.contains("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"),
            "{b}"
        );
        assert!(b.contains("random draws in KUBE-SVC-"), "{b}");
        assert!(b.contains("DNAT -> 10.244."), "{b}");
        if b.contains("overlay (VXLAN) hop node-1 -> ") {
            crossed += 1;
            assert!(
                b.contains("it sees the connection from 10.244.0.0 (flannel.1"),
                "{b}"
            );
        } else {
            assert!(
                b.contains("it sees the connection from 10.244.0.1 (cni0"),
                "{b}"
            );
        }
    }
    assert!(
        crossed > 0 && crossed < 6,
        "some requests stay on node-1, some cross: {crossed}"
    );
    // The same command twice gives the same trace.
    let again = kubesim(&root(), &args);
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn trace_from_a_pod_resolves_the_service_name_and_rewrites_the_cluster_ip_on_its_node() {
    let (sim, client) = sim_at_with_pod("in-cluster-client.yaml", 30, "client");
    let text = sim
        .trace(
            &kubesim::sim::trace::TraceFrom::Pod(client.clone()),
            "http-svc:8080",
            1,
        )
        .unwrap();
    assert!(
        text.contains(&format!("client   pod {client} 10.244.")),
        "{text}"
    );
    assert!(text.contains("dns      http-svc -> 10.96."), "{text}");
    assert!(
        text.contains("cluster IP\" -m tcp --dport 8080 -j KUBE-SVC-"),
        "{text}"
    );
    assert!(text.contains("DNAT -> 10.244."), "{text}");
    assert!(
        !text.contains("reaches node"),
        "no NodeIP hop for a pod client: {text}"
    );
}
