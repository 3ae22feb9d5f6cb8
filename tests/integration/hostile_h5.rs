//! Hostile input to `kubesim generate`: options that cannot make a valid cluster are usage
//! errors (exit 2) naming the option, and nothing is written; `--out` never replaces a file
//! kubesim generate did not write.

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

/// `generate --out` replaces only a file `kubesim generate` wrote: a user's file of that name
/// (or a folder) is refused, exit 2, untouched; a file it wrote is replaced whole.
#[test]
fn generate_never_overwrites_a_file_it_did_not_write() {
    let dir = temp_dir("generate-overwrite");
    std::fs::write(dir.join("thesis.tex"), "work\n").unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    for target in ["thesis.tex", "folder"] {
        let o = kubesim(&dir, &["generate", "--nodes", "2", "--out", target]);
        assert_eq!(o.status.code(), Some(2), "{target}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("error: --out {target}: "))
                && stderr(&o).contains("nothing was written"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("thesis.tex")).unwrap(),
        "work\n"
    );
    assert!(dir.join("folder").is_dir());
    // Its own file, twice: the second replaces the first, and no temporary file is left.
    for nodes in ["2", "3"] {
        let o = kubesim(&dir, &["generate", "--nodes", nodes, "--out", "g.yaml"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let text = std::fs::read_to_string(dir.join("g.yaml")).unwrap();
    assert!(text.contains("--nodes 3 "), "{}", &text[..300]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["folder", "g.yaml", "thesis.tex"]);
}
