//! Hostile YAML (issue 12): inputs kubectl reads that once lost objects, mistakes that once
//! passed, and messages that once misled. One case per class; each either loads exactly what
//! the plain seed loads, or fails with one located message (exit code 2).

use crate::util::{kubesim, load_text, root, scenario_text, stderr, temp_dir};
use kubesim::model::objects::{Object, ServiceType};
use kubesim::scenario::{self, Diagnostics, FieldValidation, LoadOptions, Loaded};

fn seed() -> String {
    scenario_text("seed-tutorial.yaml")
}

/// The loaded scenario, as a value to compare (`sim::Scenario` has no `PartialEq`; its
/// `Debug` shows every field, maps in key order).
fn shown(l: &Loaded) -> String {
    format!("{:?}", l.scenario)
}

fn load_validating(text: &str, validate: FieldValidation) -> Result<Loaded, Diagnostics> {
    let options = LoadOptions {
        validate,
        ..LoadOptions::default()
    };
    scenario::load_str_opts(text, "test.yaml", &root().join("scenarios"), &options)
}

fn errors(text: &str) -> Vec<String> {
    match load_validating(text, FieldValidation::Strict) {
        Ok(l) => panic!("loaded, with warnings {:?}", l.warnings),
        Err(d) => d.errors().map(ToString::to_string).collect(),
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("present")
        + 1
}

fn service_type(l: &Loaded) -> ServiceType {
    l.scenario
        .objects
        .iter()
        .find_map(|o| match o {
            Object::Service(s) => Some(s.spec.type_),
            _ => None,
        })
        .expect("a Service")
}

fn replicas(l: &Loaded) -> u32 {
    l.scenario
        .objects
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) => Some(d.replicas),
            _ => None,
        })
        .expect("a Deployment")
}

#[test]
fn a_tab_after_a_colon_reads_as_kubectl_reads_it() {
    let text = seed().replace("  type: NodePort #NodePort", "  type:\tNodePort\t#NodePort");
    assert!(text.contains("type:\tNodePort"));
    let l = load_text(&text);
    assert_eq!(service_type(&l), ServiceType::NodePort);
    assert_eq!(shown(&l), shown(&load_text(&seed())));
    // Positions survive too: an error after the tab is still at its line.
    let bad = text.replace("nodePort: 30001", "nodePort: 29999");
    let errs = errors(&bad);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("test.yaml:{}:5: ", line_of(&bad, "29999"))),
        "{errs:?}"
    );
}

#[test]
fn a_multi_line_flow_sequence_closing_at_the_keys_column_loses_nothing() {
    let text = seed().replace(
        "        ports:\n        - containerPort: 80\n",
        "        ports:\n        - containerPort: 80\n        command: [\n          \"/bin/sh\", \"-c\",\n          \"sleep 180\"\n        ]\n",
    );
    assert!(text.contains("        ]\n"));
    let l = load_text(&text);
    // Both objects, and no false `spec.selector: Required value`.
    assert_eq!(l.scenario.objects.len(), 2);
    assert_eq!(replicas(&l), 3);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn crlf_line_ends_load_the_same_objects() {
    let text = seed().replace('\n', "\r\n");
    assert_eq!(shown(&load_text(&text)), shown(&load_text(&seed())));
}

#[test]
fn a_byte_order_mark_at_the_start_loads_the_same_objects() {
    let text = format!("\u{feff}{}", seed());
    assert_eq!(shown(&load_text(&text)), shown(&load_text(&seed())));
}

#[test]
fn a_byte_order_mark_after_a_document_marker_loads_the_same_objects() {
    // As files concatenated with `cat a.yaml b.yaml` carry them.
    let text = seed().replace("---\n", "---\n\u{feff}");
    assert_eq!(text.matches('\u{feff}').count(), 2);
    assert_eq!(shown(&load_text(&text)), shown(&load_text(&seed())));
}

#[test]
fn a_merge_key_is_honoured_without_a_warning() {
    let text = seed().replace(
        "  replicas: 3 #副本数 意味着http的pod 会有三个",
        "  <<: {replicas: 4}",
    );
    let l = load_text(&text);
    assert_eq!(replicas(&l), 4);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // The mapping's own key wins over a merged one (YAML's merge).
    let text = seed().replace(
        "  replicas: 3 #副本数 意味着http的pod 会有三个",
        "  <<: {replicas: 4}\n  replicas: 2",
    );
    assert_eq!(replicas(&load_text(&text)), 2);
}

#[test]
fn anchors_and_aliases_load_the_same_objects() {
    let text = seed()
        .replace(
            "  labels:\n    app: http-label\n",
            "  labels: &labels\n    app: http-label\n",
        )
        .replace(
            "    matchLabels:\n      app: http-label\n",
            "    matchLabels: *labels\n",
        );
    assert!(text.contains("matchLabels: *labels"));
    assert_eq!(shown(&load_text(&text)), shown(&load_text(&seed())));
    // A field that came through an alias is reported where its value was written: the
    // second container is the first one again, typo included.
    let text = seed()
        .replace(
            "      - name: aspnetcoreweb #镜像名称\n",
            "      - &c\n        name: aspnetcoreweb\n",
        )
        .replace(
            "        - containerPort: 80\n",
            "        - containerPort: 80\n        imagePullPolcy: Never\n      - *c\n",
        );
    let line = line_of(&text, "imagePullPolcy");
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    for (e, i) in errs.iter().zip([0, 1]) {
        assert!(e.starts_with(&format!("test.yaml:{line}:9: ")), "{errs:?}");
        assert!(
            e.contains(&format!(
                "spec.template.spec.containers[{i}].imagePullPolcy"
            )),
            "{errs:?}"
        );
    }
}

#[test]
fn a_list_with_hostile_layout_keeps_its_items() {
    // The objects as one `kind: List`, written with a tab after a colon and a flow sequence
    // over several lines: yaml-rust2 refused it, and the items vanished.
    let seed = seed();
    let (head, objects) = seed.split_once("---\n").unwrap();
    let items: Vec<String> = objects
        .split("---\n")
        .map(|o| {
            let mut lines = o.lines();
            let first = format!("- {}", lines.next().unwrap());
            std::iter::once(first)
                .chain(lines.map(|l| format!("  {l}")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let list = format!(
        "{head}---\napiVersion: v1\nkind:\tList\nitems:\n{}\n",
        items.join("\n")
    )
    .replace(
        "        - containerPort: 80",
        "        - containerPort: 80\n          args: [\n            \"a\",\n            \"b\"\n          ]",
    );
    let l = load_text(&list);
    assert_eq!(l.scenario.objects.len(), 2);
    assert_eq!(replicas(&l), 3);
    assert_eq!(service_type(&l), ServiceType::NodePort);
}

#[test]
fn an_apply_event_written_with_a_tab_is_kept() {
    let text = seed().replace(
        "      start: 5s                        # the lesson opens the browser once the pods are up\n",
        "      start: 5s\n  events:\n    - at: 30s\n      apply:\n        apiVersion: v1\n        kind:\tService\n        metadata: {name: extra}\n        spec: {selector: {app: http-label}, ports: [{port: 81, targetPort: 80}]}\n",
    );
    let l = load_text(&text);
    assert_eq!(l.scenario.events.len(), 1);
}

#[test]
fn replcas_is_an_error_under_strict_a_warning_under_warn_and_nothing_under_ignore() {
    let text = seed().replace("  replicas: 3 #", "  replcas: 3 #");
    let line = line_of(&text, "replcas");
    assert_eq!(
        errors(&text),
        [format!("test.yaml:{line}:3: error: Deployment \"http-deployment\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replcas\"")]
    );
    let l = load_validating(&text, FieldValidation::Warn).unwrap();
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [format!(
            "test.yaml:{line}:3: warning: unknown field \"spec.replcas\""
        )]
    );
    assert_eq!(replicas(&l), 1, "the field is dropped");
    let l = load_validating(&text, FieldValidation::Ignore).unwrap();
    assert!(l.warnings.is_empty());
    // The command line: exit 2, one message, nothing else.
    let dir = temp_dir("hostile-replcas");
    std::fs::write(dir.join("s.yaml"), &text).unwrap();
    let o = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let o = kubesim(&dir, &["check", "s.yaml", "--validate=warn"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `run` and `sweep` take the flag too.
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    let o = kubesim(&dir, &["run", "s.yaml", "--out", "out", "--validate=warn"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sweep = ["sweep", "s.yaml", "--set", "duration=2s,3s", "--out", "sw"];
    let o = kubesim(&dir, &sweep);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("strict decoding error"),
        "{}",
        stderr(&o)
    );
    let o = kubesim(&dir, &[&sweep[..], &["--validate=ignore"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_duplicate_key_is_an_error_at_the_second_key() {
    let text = seed().replace("  replicas: 3 #", "  replicas: 2\n  replicas: 3 #");
    let line = line_of(&text, "replicas: 3");
    assert_eq!(
        errors(&text),
        [format!("test.yaml:{line}:3: error: Deployment \"http-deployment\" cannot be handled as a Deployment: strict decoding error: duplicate field \"spec.replicas\"")]
    );
    let l = load_validating(&text, FieldValidation::Warn).unwrap();
    assert_eq!(replicas(&l), 3, "the last value counts");
}

#[test]
fn an_unknown_kind_is_an_error_in_kubectls_words() {
    let text = seed().replace("kind: Deployment", "kind: Deploymnet");
    let line = line_of(&text, "Deploymnet");
    assert_eq!(
        errors(&text),
        [format!("test.yaml:{line}:1: error: no matches for kind \"Deploymnet\" in version \"apps/v1\" (did you mean Deployment?)")]
    );
    let text = seed().replace("apiVersion: apps/v1", "apiVersion: apps/v2");
    assert!(errors(&text)[0]
        .ends_with("error: no matches for kind \"Deployment\" in version \"apps/v2\" (use apiVersion: apps/v1)"));
    // A kind that exists upstream but is not simulated stays a note.
    let text = format!(
        "{}---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web}}\n",
        seed()
    );
    let l = load_text(&text);
    assert!(l.warnings[0]
        .message
        .starts_with("skipping Ingress \"web\" (networking.k8s.io/v1): kind not simulated"));
}

#[test]
fn an_unknown_key_of_the_scenario_is_an_error() {
    let text = seed().replace("  duration: 70s", "  duration: 70s\n  durration: 80s");
    let line = line_of(&text, "durration");
    assert_eq!(
        errors(&text),
        [format!("test.yaml:{line}:3: error: Scenario \"seed-tutorial\" cannot be handled as a Scenario: strict decoding error: unknown field \"spec.durration\"")]
    );
    assert!(load_validating(&text, FieldValidation::Warn).is_ok());
}

#[test]
fn a_yaml_error_in_the_scenario_document_is_one_message_at_one_position() {
    let text = seed().replace("  duration: 70s", "  duration: 70s\n   bad: [1,");
    let dir = temp_dir("hostile-yaml-error");
    std::fs::write(dir.join("s.yaml"), &text).unwrap();
    let o = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    // No `:1:1: error: no Scenario document` before it; libyaml's own `at line L column C`
    // (the document's numbering) is gone: the one position is the file's.
    assert_eq!(
        err.trim_end(),
        format!(
            "s.yaml:{}:7: error: mapping values are not allowed in this context (a `key: value` \
             where only a value can be: indent this line under its key, or quote a value that \
             holds `: `)",
            line_of(&text, "bad: [1,")
        )
    );
    // A syntax error in a later document is at the file's line, not the document's.
    let text = seed().replace("  type: NodePort #", "  type: [NodePort #");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(!errs[0].contains(" at line "), "{errs:?}");
    let line: usize = errs[0].split(':').nth(1).unwrap().parse().unwrap();
    assert!(line >= line_of(&text, "type: [NodePort"), "{errs:?}");
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let mut bytes = seed().into_bytes();
    let at = bytes
        .windows(b"name: http-svc".len())
        .position(|w| w == b"name: http-svc")
        .unwrap()
        + b"name: http-".len();
    bytes.insert(at, 0xff);
    let dir = temp_dir("hostile-utf8");
    std::fs::write(dir.join("s.yaml"), &bytes).unwrap();
    let o = kubesim(&dir, &["check", "s.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let line = seed()
        .lines()
        .position(|l| l.contains("name: http-svc"))
        .unwrap()
        + 1;
    assert_eq!(
        stderr(&o).trim_end(),
        format!("s.yaml:{line}:14: error: invalid UTF-8 (byte 0xff): YAML is read as UTF-8; save the file as UTF-8")
    );
}
