//! Loading whole scenarios: the lesson's manifests, and each kind of mistake.

use super::*;
use crate::engine::SimDuration;
use crate::model::objects::{ImagePullPolicy, PortRef, ServiceType};
use crate::traffic::spec::Destination;

const SCENARIO: &str = r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata:
  name: seed-tutorial
spec:
  duration: 60s
  cluster:
    nodes:
      - name: docker-desktop
        ip: 192.168.0.24
        images: [aspnetcoreweb]
  traffic:
    - name: browser
      to: 192.168.0.24:30001
      rate: 100/s
"#;

/// The lesson's Deployment and Service, as written there (comments and `targetPort : 80`).
const LESSON: &str = r#"apiVersion: apps/v1 #版本信息
kind: Deployment #文件类型
metadata: #Deployment资源的元数据信息 name 和 labels必须有
  name: http-deployment
  labels:
    app: http-label
spec: #spec部分是该Deployment的规格说明。
  replicas: 3 #副本数 意味着http的pod 会有三个
  selector: #defines how the Deployment finds which Pods to manage
    matchLabels:
      app: http-label
  template: #每个pod的模板配置信息在这里
    metadata:
      labels:
        app: http-label
    spec:
      containers:
      - name: aspnetcoreweb #镜像名称
        image: aspnetcoreweb
        imagePullPolicy: IfNotPresent
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service #类型这次是Service了
metadata:
  name: http-svc
spec:
  type: NodePort
  selector:
    app: http-label
  ports:
  - protocol: TCP
    nodePort: 30001
    port: 8080
    targetPort : 80
"#;

fn load(text: &str) -> Result<Loaded, Diagnostics> {
    load_str(text, "s.yaml", Path::new("."))
}

fn with_objects(objects: &str) -> String {
    format!("{SCENARIO}---\n{objects}")
}

/// The line of the first line containing `needle` in `text` (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load(text) {
        Ok(l) => panic!("expected errors, loaded with warnings {:?}", l.warnings),
        Err(d) => d.errors().cloned().collect(),
    }
}

#[test]
fn the_lesson_loads() {
    let text = with_objects(LESSON);
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let s = &l.scenario;
    assert_eq!(s.name, "seed-tutorial");
    assert_eq!(
        s.nodes[0].labels["kubernetes.io/hostname"],
        "docker-desktop"
    );
    assert_eq!(s.nodes[0].allocatable.cpu_millis, 4000);
    assert_eq!(s.nodes[0].allocatable.memory_bytes, 8 << 30);
    assert_eq!(s.nodes[0].max_pods, 110);
    assert_eq!(
        s.traffic[0].to,
        Destination::Addr([192, 168, 0, 24].into(), 30001)
    );
    assert_eq!(s.traffic[0].rate, 100.0);
    assert_eq!(s.objects.len(), 2);
    let Object::Deployment(d) = &s.objects[0] else {
        panic!("deployment first")
    };
    assert_eq!(d.replicas, 3);
    assert_eq!(d.meta.namespace, "default");
    let c = &d.template.spec.containers[0];
    assert_eq!(c.image_pull_policy, ImagePullPolicy::IfNotPresent);
    assert_eq!(c.ports[0].host_port, None);
    assert_eq!(
        d.template.spec.termination_grace_period.as_nanos(),
        30_000_000_000
    );
    let Object::Service(svc) = &s.objects[1] else {
        panic!("service second")
    };
    assert_eq!(svc.spec.type_, ServiceType::NodePort);
    assert_eq!(svc.spec.ports[0].target_port, PortRef::Number(80));
    assert_eq!(svc.spec.ports[0].node_port, Some(30001));
    // The source map points at the nodePort line of object 1.
    let (f, line, col) = l.sources.locate(1, "spec.ports[0].nodePort").unwrap();
    assert_eq!(
        (f.as_str(), line),
        ("s.yaml", line_of(&text, "nodePort: 30001"))
    );
    assert_eq!(col, 5);
    // A defaulted field falls back to its nearest written ancestor.
    let (_, line, _) = l.sources.locate(1, "spec.sessionAffinity").unwrap();
    assert_eq!(line, line_of(&text, "name: http-svc") + 1);
}

#[test]
fn a_mistyped_template_label_gives_the_selector_message_at_its_line() {
    let text = with_objects(&LESSON.replacen(
        "      labels:\n        app: http-label",
        "      labels:\n        app: http-lable",
        1,
    ));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Deployment \"http-deployment\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"http-lable\"}: `selector` does not match template `labels`"
    );
    assert_eq!(errs[0].line, line_of(&text, "app: http-lable") - 1);
    assert_eq!(
        errs[0].to_string().split(':').take(3).collect::<Vec<_>>()[..2],
        ["s.yaml".to_string(), errs[0].line.to_string()]
    );
}

fn load_validating(text: &str, validate: FieldValidation) -> Result<Loaded, Diagnostics> {
    let options = LoadOptions {
        validate,
        ..LoadOptions::default()
    };
    load_str_opts(text, "s.yaml", Path::new("."), &options)
}

/// kubectl's default `--validate=strict`: the API server's strict decoding error, at the key.
#[test]
fn a_typo_in_a_field_name_is_an_error_naming_its_path() {
    let text = with_objects(&LESSON.replacen("replicas: 3", "replcas: 3", 1));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "Deployment \"http-deployment\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replcas\""
    );
    assert_eq!(
        (errs[0].line, errs[0].column),
        (line_of(&text, "replcas"), 3)
    );
}

#[test]
fn under_validate_warn_a_typo_is_a_warning_and_under_ignore_nothing() {
    let text = with_objects(&LESSON.replacen("replicas: 3", "replcas: 3", 1));
    let l = load_validating(&text, FieldValidation::Warn).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let w = &l.warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.message, "unknown field \"spec.replcas\"");
    assert_eq!((w.line, w.column), (line_of(&text, "replcas"), 3));
    let Object::Deployment(d) = &l.scenario.objects[0] else {
        panic!()
    };
    assert_eq!(d.replicas, 1, "the default applies");
    let l = load_validating(&text, FieldValidation::Ignore).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn a_duplicate_field_is_an_error_and_its_last_value_counts_under_warn() {
    let text = with_objects(&LESSON.replacen("replicas: 3", "replicas: 3\n  replicas: 5", 1));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .message
            .ends_with("strict decoding error: duplicate field \"spec.replicas\""),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].line, line_of(&text, "replicas: 5"));
    let l = load_validating(&text, FieldValidation::Warn).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings[0].message, "duplicate field \"spec.replicas\"");
    let Object::Deployment(d) = &l.scenario.objects[0] else {
        panic!()
    };
    assert_eq!(
        d.replicas, 5,
        "the last value wins, as Go's decoders have it"
    );
}

#[test]
fn scenario_keys_are_validated_strictly_too() {
    let text = with_objects(LESSON).replacen(
        "  duration: 60s",
        "  duration: 60s\n  durration: 9s\n  duration: 61s",
        1,
    );
    let errs = errors(&text);
    let msgs: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Scenario \"seed-tutorial\" cannot be handled as a Scenario: strict decoding error: unknown field \"spec.durration\"",
            "Scenario \"seed-tutorial\" cannot be handled as a Scenario: strict decoding error: duplicate field \"spec.duration\"",
        ]
    );
    assert_eq!(errs[0].line, line_of(&text, "durration"));
    assert_eq!(errs[1].line, line_of(&text, "duration: 61s"));
    let l = load_validating(&text, FieldValidation::Warn).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings.len(), 2);
    assert_eq!(l.scenario.duration, SimDuration::from_secs(61));
}

#[test]
fn validate_takes_kubectls_values() {
    for (s, v) in [
        ("strict", FieldValidation::Strict),
        ("true", FieldValidation::Strict),
        ("warn", FieldValidation::Warn),
        ("ignore", FieldValidation::Ignore),
        ("false", FieldValidation::Ignore),
    ] {
        assert_eq!(s.parse::<FieldValidation>(), Ok(v));
    }
    assert_eq!(
        "foo".parse::<FieldValidation>().unwrap_err(),
        "invalid - validate option \"foo\"; must be one of: strict (or true), warn, ignore (or false)"
    );
}

#[test]
fn a_node_port_out_of_range_gives_the_allocator_message() {
    let text = with_objects(&LESSON.replacen("nodePort: 30001", "nodePort: 29999", 1));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Service \"http-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    assert_eq!(errs[0].line, line_of(&text, "nodePort: 29999"));
}

#[test]
fn the_node_port_range_is_the_scenarios_service_node_port_range() {
    let ranged = |range: &str, port: &str| {
        with_objects(&LESSON.replacen("nodePort: 30001", &format!("nodePort: {port}"), 1))
            .replacen(
                "  cluster:\n",
                &format!("  cluster:\n    serviceNodePortRange: {range}\n"),
                1,
            )
            .replace("192.168.0.24:30001", &format!("192.168.0.24:{port}"))
    };
    let l = load(&ranged("8000-9000", "8080")).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        (
            l.scenario.net.node_port_range.first,
            l.scenario.net.node_port_range.last
        ),
        (8000, 9000)
    );
    let text = ranged("8000+1000", "30001");
    let errs = errors(&text);
    assert_eq!(
        errs[0].message,
        "The Service \"http-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is not in the valid range. The range of valid ports is 8000-9000"
    );
    let text = ranged("9000-8000", "30001");
    let errs = errors(&text);
    assert!(
        errs[0].message.contains(
            "invalid port range \"9000-8000\": end port cannot be less than start port: 9000-8000"
        ),
        "{}",
        errs[0]
    );
    assert_eq!(errs[0].line, line_of(&text, "serviceNodePortRange"));
}

/// `loadBalancerSourceRanges` on a Service that is not a LoadBalancer, and a range that is not a
/// CIDR (`ValidateService`, with upstream's capital L in the second path).
#[test]
fn load_balancer_source_ranges_need_a_load_balancer_and_cidrs() {
    let objects = r#"apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  type: NodePort
  loadBalancerSourceRanges: [" 203.0.113.0/25", "nope"]
  ports:
  - {port: 80}
"#;
    let errs = errors(&with_objects(objects));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Service \"x\" is invalid: [spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer', spec.LoadBalancerSourceRanges[1]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)]"
    );
}

#[test]
fn several_errors_of_one_service_are_joined_and_other_objects_still_checked() {
    let objects = r#"apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  ports:
  - {name: http, port: 70000, nodePort: 30080}
  - {name: http, port: 81}
  - {port: 82}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: nginx}], restartPolicy: OnFailure}
"#;
    let errs = errors(&with_objects(objects));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Service \"x\" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP', spec.ports[1].name: Duplicate value: \"http\", spec.ports[2].name: Required value]"
    );
    // A nil selector selects nothing, so upstream also reports the template's labels.
    assert_eq!(
        errs[1].message,
        "The Deployment \"d\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: {\"app\":\"a\"}: `selector` does not match template `labels`, spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"]"
    );
}

/// A `preStop` sleep must fit in the grace period, and a hook names exactly one handler
/// (`validateSleepAction`, `validateHandler`).
#[test]
fn pre_stop_hooks_are_validated_against_the_grace_period() {
    let hook = |h: &str| {
        let lesson = LESSON.replacen(
            "        - containerPort: 80",
            &format!("        - containerPort: 80\n        lifecycle:\n          preStop: {h}"),
            1,
        );
        assert_ne!(lesson, LESSON, "the hook was not inserted");
        with_objects(&lesson)
    };
    let msgs =
        |h: &str| -> Vec<String> { errors(&hook(h)).iter().map(|d| d.message.clone()).collect() };
    assert_eq!(
        msgs("{sleep: {seconds: 40}}"),
        ["The Deployment \"http-deployment\" is invalid: spec.template.spec.containers[0].lifecycle.preStop.sleep: Invalid value: 40: must be non-negative and less than terminationGracePeriodSeconds (30)"]
    );
    assert_eq!(
        msgs("{}"),
        ["The Deployment \"http-deployment\" is invalid: spec.template.spec.containers[0].lifecycle.preStop: Required value: must specify a handler type"]
    );
    let l = load(&hook("{sleep: {seconds: 30}}")).unwrap_or_else(|d| panic!("{d}"));
    let pre_stop = l.scenario.objects.iter().find_map(|o| match o {
        crate::model::objects::Object::Deployment(d) => d.template.spec.containers[0].pre_stop,
        _ => None,
    });
    assert_eq!(pre_stop, Some(crate::engine::SimDuration::from_secs(30)));
}

/// `minReadySeconds` is checked as `ValidateDeploymentSpec` does, against the defaulted
/// `progressDeadlineSeconds` (600) too; a valid one loads into the model.
#[test]
fn min_ready_seconds_are_validated_against_the_progress_deadline() {
    let with = |fields: &str| with_objects(&LESSON.replacen("  replicas: 3", fields, 1));
    let msg = |fields: &str| {
        let errs = errors(&with(fields));
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].message.clone()
    };
    assert_eq!(
        msg("  replicas: 3\n  minReadySeconds: -1"),
        "The Deployment \"http-deployment\" is invalid: spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(
        msg("  replicas: 3\n  minReadySeconds: 600"),
        "The Deployment \"http-deployment\" is invalid: spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    );
    assert_eq!(
        msg("  replicas: 3\n  revisionHistoryLimit: -2"),
        "The Deployment \"http-deployment\" is invalid: spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"
    );
    let l = load(&with(
        "  replicas: 3\n  minReadySeconds: 600\n  progressDeadlineSeconds: 601",
    ))
    .unwrap_or_else(|d| panic!("{d}"));
    let min_ready = l.scenario.objects.iter().find_map(|o| match o {
        crate::model::objects::Object::Deployment(d) => Some(d.min_ready),
        _ => None,
    });
    assert_eq!(min_ready, Some(crate::engine::SimDuration::from_secs(600)));
}

/// The deadline error names `spec.progressDeadlineSeconds`, as the API server does; when the
/// deadline was defaulted (600) it points at the `minReadySeconds` line the user wrote, not at
/// `spec:`; a written deadline is pointed at itself.
#[test]
fn a_defaulted_progress_deadline_error_points_at_min_ready_seconds() {
    let text =
        with_objects(&LESSON.replacen("  replicas: 3", "  replicas: 3\n  minReadySeconds: 600", 1));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Deployment \"http-deployment\" is invalid: spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    );
    assert_eq!(errs[0].line, line_of(&text, "minReadySeconds: 600"));
    assert_eq!(errs[0].column, 3);

    let text = with_objects(&LESSON.replacen(
        "  replicas: 3",
        "  replicas: 3\n  minReadySeconds: 600\n  progressDeadlineSeconds: 300",
        1,
    ));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Deployment \"http-deployment\" is invalid: spec.progressDeadlineSeconds: Invalid value: 300: must be greater than minReadySeconds"
    );
    assert_eq!(errs[0].line, line_of(&text, "progressDeadlineSeconds: 300"));
}

#[test]
fn a_restart_policy_other_than_always_is_refused_in_templates() {
    let text = with_objects(&LESSON.replacen(
        "        ports:\n        - containerPort: 80\n",
        "        ports:\n        - containerPort: 80\n      restartPolicy: OnFailure\n",
        1,
    ));
    let errs = errors(&text);
    assert_eq!(
        errs[0].message,
        "The Deployment \"http-deployment\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""
    );
}

/// `validateDNSPolicy` and `validatePodDNSConfig` (`pkg/apis/core/validation/validation.go`),
/// each error at its line.
#[test]
fn dns_policy_and_dns_config_are_validated_as_the_api_server_does() {
    let with = |spec: &str| {
        with_objects(&LESSON.replacen(
            "        ports:\n        - containerPort: 80\n",
            &format!("        ports:\n        - containerPort: 80\n{spec}"),
            1,
        ))
    };
    let prefix = "The Deployment \"http-deployment\" is invalid: spec.template.spec.";
    let text = with("      dnsPolicy: ClusterFirstWithHostNetwork\n");
    let errs = errors(&text);
    assert_eq!(
        errs[0].message,
        format!("{prefix}dnsPolicy: Unsupported value: \"ClusterFirstWithHostNetwork\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"")
    );
    assert_eq!(
        errs[0].line,
        line_of(&text, "dnsPolicy: ClusterFirstWithHostNetwork")
    );
    let errs = errors(&with("      dnsPolicy: None\n"));
    assert_eq!(
        errs[0].message,
        format!(
            "{prefix}dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"
        )
    );
    let errs = errors(&with(
        "      dnsPolicy: None\n      dnsConfig: {searches: [a.example]}\n",
    ));
    assert_eq!(
        errs[0].message,
        format!("{prefix}dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None")
    );
    let text = with("      dnsConfig:\n        nameservers: [1.1.1.1, 10.96.0.300]\n        searches: [Corp.example]\n        options: [{value: \"2\"}]\n");
    let errs = errors(&text);
    let messages: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("spec.template.spec.dnsConfig.nameservers[1]: Invalid value: \"10.96.0.300\": must be a valid IP address"),
        "{messages:?}"
    );
    assert!(
        messages[0].contains("spec.template.spec.dnsConfig.searches[0]: Invalid value: \"Corp.example\": a lowercase RFC 1123 subdomain"),
        "{messages:?}"
    );
    assert!(
        messages[0].contains("spec.template.spec.dnsConfig.options[0]: Required value: Option.Name must not be empty"),
        "{messages:?}"
    );
    // What upstream accepts loads without a word.
    let ok = with("      dnsPolicy: None\n      dnsConfig:\n        nameservers: [10.96.0.10]\n        searches: [default.svc.cluster.local.]\n        options: [{name: ndots, value: \"2\"}, {name: edns0}]\n");
    let l = load(&ok).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn a_cluster_ip_outside_the_range_is_refused() {
    let objects = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}\n";
    let errs = errors(&with_objects(objects));
    assert_eq!(
        errs[0].message,
        "The Service \"s\" is invalid: spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to allocate IP 10.0.0.5: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
    );
}

#[test]
fn a_list_loads_its_items_in_order() {
    let objects = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
- {apiVersion: v1, kind: Service, metadata: {name: a, namespace: shop}, spec: {ports: [{port: 80}], selector: {app: a}}}
- apiVersion: v1
  kind: Service
  metadata:
    name: b
  spec:
    ports:
    - port: 81
      nodePort: 30002
"#;
    let text = with_objects(objects);
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].line,
        line_of(&text, "nodePort: 30002"),
        "{}",
        errs[0]
    );
    let ok = with_objects(&objects.replace("      nodePort: 30002\n", ""));
    let l = load(&ok).unwrap_or_else(|d| panic!("{d}"));
    let kinds: Vec<&str> = l.scenario.objects.iter().map(Object::kind).collect();
    assert_eq!(kinds, ["Namespace", "Service", "Service"]);
    assert_eq!(l.scenario.objects[1].meta().namespace, "shop");
    let (_, line, _) = l.sources.locate(2, "spec.ports[0].port").unwrap();
    assert_eq!(line, line_of(&ok, "- port: 81"));
}

#[test]
fn an_ingress_is_skipped_with_a_warning() {
    let objects = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec: {rules: []}\n";
    let l = load(&with_objects(objects)).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.warnings.len(), 1);
    assert!(
        l.warnings[0].message.contains("Ingress \"web\""),
        "{}",
        l.warnings[0]
    );
    assert!(l.scenario.objects.is_empty());
}

#[test]
fn a_kubectl_export_loads_without_warnings() {
    let objects = r#"apiVersion: v1
kind: Service
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Service"}
  creationTimestamp: "2024-01-01T00:00:00Z"
  managedFields:
  - apiVersion: v1
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        f:ports: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: "2024-01-01T00:00:00Z"
  name: http-svc
  namespace: default
  resourceVersion: "1234"
  uid: 3f1c7b1e-0000-0000-0000-000000000000
  generation: 1
  ownerReferences:
  - apiVersion: v1
    kind: Namespace
    name: default
    uid: 0b6f1c2e-0000-0000-0000-000000000000
spec:
  clusterIP: 10.96.120.7
  clusterIPs:
  - 10.96.120.7
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - nodePort: 30001
    port: 8080
    protocol: TCP
    targetPort: 80
  selector:
    app: http-label
  sessionAffinity: None
  type: NodePort
status:
  loadBalancer: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
  creationTimestamp: "2024-01-01T00:00:00Z"
  generation: 1
  labels:
    app: http-label
  name: http-deployment
  namespace: default
  resourceVersion: "1300"
  uid: 7d2a9c4e-0000-0000-0000-000000000000
spec:
  progressDeadlineSeconds: 600
  replicas: 3
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: http-label
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: http-label
    spec:
      containers:
      - image: aspnetcoreweb
        imagePullPolicy: IfNotPresent
        name: aspnetcoreweb
        ports:
        - containerPort: 80
          protocol: TCP
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
status:
  availableReplicas: 3
  conditions:
  - lastTransitionTime: "2024-01-01T00:00:05Z"
    lastUpdateTime: "2024-01-01T00:00:05Z"
    message: Deployment has minimum availability.
    reason: MinimumReplicasAvailable
    status: "True"
    type: Available
  observedGeneration: 1
  readyReplicas: 3
  replicas: 3
  updatedReplicas: 3
"#;
    // Under kubectl's default strict validation: server-set fields are fields of the schema.
    let l = load(&with_objects(objects)).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.scenario.objects.len(), 2);
}

#[test]
fn a_type_error_has_a_line_and_column() {
    let text = with_objects(&LESSON.replacen("replicas: 3", "replicas: three", 1));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].line, line_of(&text, "replicas: three"));
    assert_eq!(errs[0].column, 13);
    assert!(
        errs[0].message.contains("spec.replicas"),
        "{}",
        errs[0].message
    );
}

#[test]
fn the_lessons_full_pod_spec_loads() {
    let pod = r#"apiVersion: v1
kind: Pod
metadata:
  name: full-pod
  namespace: default
  labels:
    name: full-pod
  annotations:
    note: every field of the lesson
spec:
  containers:
  - name: web
    image: httpd:2.4
    imagePullPolicy: IfNotPresent
    command: [httpd-foreground]
    args: ["-X"]
    workingDir: /usr/local/apache2
    volumeMounts:
    - name: data
      mountPath: /data
      readOnly: false
    ports:
    - name: http
      containerPort: 80
      hostPort: 8080
      protocol: TCP
    env:
    - name: MODE
      value: demo
    resources:
      limits:
        cpu: "1"
        memory: 256Mi
      requests:
        cpu: 500m
        memory: 128Mi
    livenessProbe:
      httpGet:
        path: /
        port: 80
        host: 127.0.0.1
        scheme: HTTP
        httpHeaders:
        - name: X-Probe
          value: kubesim
      initialDelaySeconds: 0
      timeoutSeconds: 0
      periodSeconds: 0
      successThreshold: 0
      failureThreshold: 0
    readinessProbe:
      exec:
        command: [cat, /tmp/ready]
    startupProbe:
      tcpSocket:
        port: http
    securityContext:
      privileged: false
  restartPolicy: Always
  nodeSelector:
    kubernetes.io/hostname: docker-desktop
  imagePullSecrets:
  - name: regcred
  hostNetwork: false
  volumes:
  - name: data
    emptyDir: {}
  - name: host
    hostPath:
      path: /var/data
  - name: secret
    secret:
      secretName: app-secret
      items:
      - key: password
        path: password.txt
  - name: config
    configMap:
      name: app-config
      items:
      - key: app.properties
        path: app.properties
"#;
    let l = load(&with_objects(pod)).unwrap_or_else(|d| panic!("{d}"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let Object::Pod(p) = &l.scenario.objects[0] else {
        panic!()
    };
    let c = &p.spec.containers[0];
    assert_eq!(c.requests.cpu_millis, 500);
    assert_eq!(c.limits.memory_bytes, 256 << 20);
    assert_eq!(c.ports[0].host_port, Some(8080));
    let live = c.liveness_probe.as_ref().unwrap();
    assert_eq!(
        live.period.as_nanos(),
        10_000_000_000,
        "0 means the default"
    );
    assert_eq!(live.failure_threshold, 3);
}

#[test]
fn the_lessons_pod_as_printed_is_refused_like_kubectl() {
    // The lesson writes labels as a list; Kubernetes wants a map.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n  - name: string\nspec:\n  containers: [{name: c, image: nginx}]\n";
    let text = with_objects(pod);
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("metadata.labels"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].line, line_of(&text, "- name: string"));
}

#[test]
fn a_missing_scenario_document_is_an_error() {
    let errs = errors(LESSON);
    assert!(
        errs.iter()
            .any(|e| e.message.contains("no Scenario document")),
        "{errs:?}"
    );
}

#[test]
fn scenario_mistakes_are_all_reported_with_positions() {
    let text = r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {name: Bad_Name}
spec:
  duration: 60s
  sped: 3
  cluster:
    serviceCIDR: 10.96.0.0/99
    nodes:
      - {name: a, ip: 10.0.0.1}
      - {name: a, ip: 10.0.0.1}
  behaviors:
    - image: web
      concurrency: 0
      serviceTime: {distribution: lognormal, median: 40ms, p99: 4ms}
  traffic:
    - to: nowhere
      rate: -5/s
      start: 10s
      stop: 5s
  events:
    - at: 10s
      nodeDown: {node: ghost}
"#;
    let d = load(text).unwrap_err();
    let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
    let expect = [
        ("metadata.name", 3),
        ("spec.sped", 6),
        ("spec.cluster.serviceCIDR", 8),
        ("spec.cluster.nodes[1].name", 11),
        ("spec.cluster.nodes[1].ip", 11),
        ("spec.behaviors[0].concurrency", 14),
        ("spec.behaviors[0].serviceTime.p99", 15),
        ("spec.traffic[0].to", 17),
        ("spec.traffic[0].rate", 18),
        ("spec.traffic[0].stop", 20),
        ("spec.events[0].nodeDown.node", 23),
    ];
    for (path, line) in expect {
        assert!(
            d.iter().any(|x| x.message.contains(path) && x.line == line),
            "{path} at line {line} missing from:\n{}",
            msgs.join("\n")
        );
    }
}

#[test]
fn the_design_example_loads_with_every_key() {
    let text = r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata:
  name: seed-tutorial
spec:
  seed: 42
  duration: 60s
  warmup: 0s
  kubernetesVersion: "1.34"
  cluster:
    proxyMode: ipvs
    ipvsScheduler: rr
    serviceCIDR: 10.96.0.0/12
    clusterCIDR: 10.244.0.0/16
    loadBalancerIPs: 192.168.0.240/28
    addons: [coredns]
    network:
      sameNode: 20us
      crossNode: 200us
      external: 500us
    nodes:
      - name: docker-desktop
        ip: 192.168.0.24
        allocatable: {cpu: "4", memory: 8Gi, pods: 110}
        labels: {zone: a}
        taints: [{key: dedicated, value: web, effect: NoSchedule}]
        images: [aspnetcoreweb]
  registry:
    images: [httpd, nginx]
    pullTime: 2s
  manifests: []
  behaviors:
    - image: aspnetcoreweb
      serviceTime: {distribution: exponential, mean: 5ms}
      concurrency: 4
      keepAliveTimeout: 130s
  traffic:
    - name: browser
      from: external
      clients: 1
      to: 192.168.0.24:30001
      rate: 100/s
      arrival: poisson
      start: 0s
      stop: 60s
      timeout: 30s
      connections: {reuse: true, maxRequests: 100, idleTimeout: 90s}
    - name: inside
      from: {selector: app=client}
      to: http-svc.default.svc.cluster.local:8080
      rate: 6000/m
  events:
    - at: 20s
      deletePod: {selector: app=http-label, pick: random}
    - at: 40s
      nodeDown: {node: docker-desktop}
    - at: 50s
      scale: {deployment: http-deployment, replicas: 5}
"#;
    // The Deployment that `scale` names (DESIGN.md's example has it after `---`).
    let text = format!("{text}---\n{LESSON}");
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    // Every key of the example is simulated: no warning (CoreDNS runs as pods).
    let warned: Vec<&str> = l.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(warned.is_empty(), "{warned:?}");
    let s = l.scenario;
    assert_eq!(s.seed, 42);
    assert!(s.coredns);
    assert_eq!(s.net.proxy_mode, crate::net::config::ProxyMode::Ipvs);
    assert_eq!(s.events.len(), 3);
    assert_eq!(s.traffic[1].rate, 100.0);
    assert_eq!(s.nodes[0].taints.len(), 1);
    assert_eq!(s.registry.unwrap().pull_time.as_nanos(), 2_000_000_000);
}

#[test]
fn manifests_load_after_inline_objects_and_empirical_latencies_are_read() {
    let dir = std::env::temp_dir().join(format!("kubesim-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.yaml"), LESSON).unwrap();
    std::fs::write(dir.join("lat.csv"), "latency_ms\n1.5\n2\n").unwrap();
    let text = SCENARIO.replace(
        "  traffic:",
        "  manifests: [app.yaml]\n  behaviors:\n    - image: aspnetcoreweb\n      serviceTime: {distribution: empirical, file: lat.csv}\n  traffic:",
    ) + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: inline}\n";
    std::fs::write(dir.join("s.yaml"), &text).unwrap();
    let l = super::load(&dir.join("s.yaml")).unwrap_or_else(|d| panic!("{d}"));
    let kinds: Vec<&str> = l.scenario.objects.iter().map(Object::kind).collect();
    assert_eq!(kinds, ["Namespace", "Deployment", "Service"]);
    let (file, line, _) = l.sources.locate(2, "spec.ports[0].nodePort").unwrap();
    assert!(file.ends_with("app.yaml"));
    assert_eq!(line, line_of(LESSON, "nodePort: 30001"));
    match &l.scenario.behaviors[0].service_time {
        crate::traffic::spec::ServiceTime::Empirical(v) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn empirical_latencies_take_units_and_bad_lines_name_file_and_line() {
    let dir = std::env::temp_dir().join(format!("kubesim-empirical-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("good.csv"), "latency\n4.2ms\n850us\n3\n").unwrap();
    std::fs::write(dir.join("bad.csv"), "latency\n4.2\nslow\n").unwrap();
    let with = |file: &str| {
        SCENARIO.replace(
            "  traffic:",
            &format!("  behaviors:\n    - image: aspnetcoreweb\n      queueLimit: 10\n      cpuPerRequest: 8ms\n      serviceTime: {{distribution: empirical, file: {file}}}\n  traffic:"),
        ) + "---\n" + LESSON
    };
    let l = super::load_str(&with("good.csv"), "s.yaml", &dir).unwrap_or_else(|d| panic!("{d}"));
    let b = &l.scenario.behaviors[0];
    assert_eq!(b.queue_limit, Some(10));
    assert_eq!(b.cpu_per_request, Some(SimDuration::from_millis(8)));
    match &b.service_time {
        crate::traffic::spec::ServiceTime::Empirical(v) => assert_eq!(
            v,
            &[
                SimDuration::from_micros(4200),
                SimDuration::from_micros(850),
                SimDuration::from_millis(3)
            ]
        ),
        other => panic!("{other:?}"),
    }
    let err = super::load_str(&with("bad.csv"), "s.yaml", &dir)
        .expect_err("a bad latency line fails")
        .to_string();
    assert!(
        err.contains("bad.csv:3:") && err.contains("\"slow\""),
        "{err}"
    );
    assert!(err.contains("spec.behaviors[0].serviceTime.file"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// SCENARIO with `events` appended under `spec:`, then the lesson's objects.
fn with_events(events: &str) -> String {
    format!("{SCENARIO}  events:\n{events}---\n{LESSON}")
}

#[test]
fn every_timeline_action_loads() {
    let text = with_events(
        r#"    - at: 1s
      deletePod: {name: some-pod}
    - at: 2s
      killContainer: {selector: app=http-label, pick: oldest, container: aspnetcoreweb, exitCode: 137}
    - at: 3s
      killContainer: {pod: some-pod}
    - at: 4s
      failProbe: {selector: app=http-label, probe: readiness, for: 30s}
    - at: 5s
      cordon: {node: docker-desktop}
    - at: 6s
      uncordon: {node: docker-desktop}
    - at: 7s
      drain: {node: docker-desktop}
    - at: 8s
      rolloutRestart: {deployment: http-deployment}
    - at: 9s
      setImage: {deployment: http-deployment, container: aspnetcoreweb, image: "aspnetcoreweb:v2"}
    - at: 10s
      apply:
        apiVersion: v1
        kind: Service
        metadata: {name: second}
        spec:
          selector: {app: http-label}
          ports: [{port: 9090, targetPort: 80}]
    - at: 11s
      delete: {kind: svc, name: second}
    - at: 12s
      scale: {deployment: http-deployment, replicas: 5}
    - at: 13s
      nodeDown: {node: docker-desktop}
    - at: 14s
      nodeUp: {node: docker-desktop}
    - at: 15s
      delete: {kind: Deployment, name: http-deployment, namespace: default}
"#,
    );
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    // No pod of the scenario's can be `some-pod`, and its pods have no readiness probe: those
    // events load, with a warning that they change nothing.
    let w: Vec<&str> = l.warnings.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with("spec.events[0].deletePod.name: no pod named \"some-pod\""));
    assert!(w[1].starts_with("spec.events[2].killContainer.pod: no pod named \"some-pod\""));
    assert!(w[2].starts_with("spec.events[3].failProbe.probe: no container"));
    use crate::sim::config::{Action, Pick, PodTarget, ProbeKind};
    let a: Vec<&Action> = l.scenario.events.iter().map(|e| &e.action).collect();
    assert_eq!(a.len(), 15);
    assert_eq!(
        a[1],
        &Action::KillContainer {
            target: PodTarget::Selector {
                selector: [("app".to_string(), "http-label".to_string())].into(),
                pick: Pick::Oldest
            },
            container: Some("aspnetcoreweb".into()),
            exit_code: 137
        }
    );
    assert!(matches!(
        a[2],
        Action::KillContainer {
            exit_code: 1,
            container: None,
            ..
        }
    ));
    assert!(matches!(
        a[3],
        Action::FailProbe { probe: ProbeKind::Readiness, duration, .. } if duration.as_nanos() == 30_000_000_000
    ));
    match a[9] {
        Action::Apply(o) => match &**o {
            Object::Service(s) => {
                assert_eq!(s.meta.name, "second");
                assert_eq!(s.meta.namespace, "default");
                assert_eq!(s.spec.ports[0].port, 9090);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a[10],
        &Action::Delete {
            kind: "Service".into(),
            namespace: "default".into(),
            name: "second".into()
        }
    );
}

#[test]
fn timeline_errors_name_their_path_and_line() {
    let text = with_events(
        r#"    - at: 1s
      drain: {node: x}
    - at: 2s
      rolloutRestart: {deployment: nope}
    - at: 3s
      setImage: {deployment: http-deployment, container: web, image: "a:1"}
    - at: 4s
      cordon: {node: docker-desktop}
      uncordon: {node: docker-desktop}
    - at: 5s
      failProbe: {selector: app=x, probe: sideways}
    - at: 6s
      killContainer: {pod: p, exitCode: 300}
    - at: 7s
      delete: {kind: ConfigMap, name: c}
    - at: 8s
      delete: {kind: Service, name: ghost}
    - at: 9s
      scale: {deployment: http-deployment, replicas: -1}
"#,
    );
    let d = load(&text).unwrap_err();
    let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
    let expect = [
        (
            "spec.events[0].drain.node: no node \"x\" in spec.cluster.nodes",
            "drain: {node: x}",
        ),
        (
            "spec.events[1].rolloutRestart.deployment: no deployment \"nope\"",
            "deployment: nope",
        ),
        (
            "spec.events[2].setImage.container: unable to find container named \"web\"",
            "container: web",
        ),
        (
            "spec.events[3]: must have exactly one action (found cordon, uncordon)",
            "at: 4s",
        ),
        (
            "spec.events[4].failProbe.probe: unknown probe \"sideways\"",
            "probe: sideways",
        ),
        ("spec.events[4].failProbe.for: required", "probe: sideways"),
        (
            "spec.events[5].killContainer.exitCode: invalid value 300",
            "exitCode: 300",
        ),
        (
            "spec.events[6].delete.kind: unsupported kind \"ConfigMap\"",
            "kind: ConfigMap",
        ),
        (
            "spec.events[7].delete.name: no service \"ghost\"",
            "name: ghost",
        ),
        (
            "spec.events[8].scale.replicas: invalid value -1",
            "replicas: -1",
        ),
    ];
    for (m, line) in expect {
        let line = line_of(&text, line);
        assert!(
            d.iter().any(|x| x.message.contains(m) && x.line == line),
            "{m:?} at line {line} missing from:\n{}",
            msgs.join("\n")
        );
    }
    assert_eq!(
        d.iter().filter(|x| x.is_error()).count(),
        expect.len(),
        "{}",
        msgs.join("\n")
    );
}

#[test]
fn an_applied_object_is_checked_like_a_document_with_positions() {
    let text = with_events(
        r#"    - at: 1s
      apply:
        apiVersion: v1
        kind: Service
        metadata: {name: bad}
        spec:
          selector: {app: http-label}
          prots: []
          ports: [{port: 70000}]
    - at: 2s
      apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
    - at: 3s
      apply: {kind: Service}
"#,
    );
    let d = load(&text).unwrap_err();
    let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
    let find = |m: &str| {
        d.iter()
            .find(|x| x.message.contains(m))
            .unwrap_or_else(|| panic!("{m} missing from:\n{}", msgs.join("\n")))
    };
    let e = find("Service \"bad\" cannot be handled as a Service: strict decoding error: unknown field \"spec.prots\"");
    assert!(e.is_error());
    assert_eq!(e.line, line_of(&text, "prots: []"));
    // Strict decoding rejects the object before its validation, as the API server does.
    assert!(d.iter().all(|x| !x.message.contains("is invalid")));
    assert!(!find("skipping ConfigMap \"c\"").is_error());
    let e = find("spec.events[2].apply: error validating data: [apiVersion not set]");
    assert_eq!(e.line, line_of(&text, "apply: {kind: Service}"));
}

#[test]
fn an_event_may_name_a_deployment_an_earlier_event_applies() {
    let text = with_events(
        r#"    - at: 9s
      rolloutRestart: {deployment: late}
    - at: 5s
      apply:
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: late}
        spec:
          selector: {matchLabels: {app: late}}
          template:
            metadata: {labels: {app: late}}
            spec: {containers: [{name: c, image: "late:1"}]}
"#,
    );
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.scenario.events.len(), 2);
    assert!(matches!(
        l.scenario.events[0].action,
        crate::sim::config::Action::Apply(_)
    ));
}

/// A Deployment that fails to load is reported once: the events that name it do not add a
/// "no deployment" error each, while an event naming another, truly missing one still does.
#[test]
fn an_event_naming_a_rejected_object_adds_no_second_error() {
    let events = r#"    - at: 1s
      setImage: {deployment: http-deployment, container: aspnetcoreweb, image: "a:2"}
    - at: 2s
      rolloutRestart: {deployment: http-deployment}
    - at: 3s
      scale: {deployment: nope, replicas: 1}
"#;
    // Rejected by validation (a misspelt strategy), by its type (replicas not a number) and
    // by strict decoding (a duplicate key): its name is known. A document that is not YAML
    // may be any object, so `nope` is not reported then.
    let broken = [
        ("  replicas: 3\n  strategy: {type: Recreat}", true),
        ("  replicas: three", true),
        ("  replicas: 3\n  replicas: 4", true),
        ("  replicas: [3", false),
    ];
    for (to, name_known) in broken {
        let text = with_events(events).replacen("  replicas: 3", to, 1);
        let msgs: Vec<String> = errors(&text).iter().map(|d| d.message.clone()).collect();
        let nope = msgs.iter().any(|m| m.contains("no deployment \"nope\""));
        let cascade = msgs
            .iter()
            .any(|m| m.contains("\"http-deployment\" in namespace"));
        assert!(!cascade && nope == name_known, "{msgs:#?}");
        assert_eq!(msgs.len(), 1 + usize::from(name_known), "{msgs:#?}");
    }
}

/// `--set` overrides: the new value goes through the same checks, and errors name it.
mod overrides {
    use super::*;

    fn load_set(sets: &[(&str, &str)]) -> Result<Loaded, Diagnostics> {
        let text = format!("{SCENARIO}---\n{LESSON}");
        let o: Vec<Override> = sets.iter().map(|(k, v)| Override::new(*k, *v)).collect();
        load_str_with(&text, "s.yaml", Path::new("."), &o)
    }

    fn replicas(l: &Loaded) -> u32 {
        l.scenario
            .objects
            .iter()
            .find_map(|o| match o {
                crate::model::objects::Object::Deployment(d) => Some(d.replicas),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn written_and_missing_fields_are_set() {
        let l = load_set(&[
            ("deployment/http-deployment.replicas", "7"),
            ("traffic/browser.rate", "250/s"),
            ("traffic/browser.clients", "9"),
            ("cluster.proxyMode", "iptables"),
        ])
        .unwrap();
        assert_eq!(replicas(&l), 7);
        assert_eq!(l.scenario.traffic[0].clients, 9);
        assert!((l.scenario.traffic[0].rate - 250.0).abs() < 1e-9);
    }

    #[test]
    fn a_bad_value_is_reported_at_its_field_naming_the_set() {
        let e = load_set(&[("deployment/http-deployment.replicas", "-1")]).unwrap_err();
        let msg = e.to_string();
        // `replicas:` is line 8 of the Deployment, which starts after the 15-line Scenario
        // document and its `---`.
        assert!(msg.contains("s.yaml:24:3: error:"), "{msg}");
        assert!(
            msg.contains("(value set by --set deployment/http-deployment.replicas=-1)"),
            "{msg}"
        );
    }

    #[test]
    fn an_inserted_key_leaves_later_positions_as_written() {
        // `clients` is not written: it is inserted, and an error further down the same
        // document still points at the line as written (`rate`, line 15).
        let e = load_set(&[
            ("traffic/browser.clients", "2"),
            ("traffic/browser.rate", "fast"),
        ])
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("s.yaml:15:7: error:"), "{msg}");
        assert!(msg.contains("--set traffic/browser.rate=fast"), "{msg}");
    }

    #[test]
    fn a_key_that_names_nothing_is_an_error() {
        let e = load_set(&[
            ("deployment/nope.replicas", "2"),
            ("traffic/nope.rate", "1/s"),
        ])
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("s.yaml: error: --set deployment/nope.replicas=2: no deployment"),
            "{msg}"
        );
        assert!(
            msg.contains("--set traffic/nope.rate=1/s: no traffic stream"),
            "{msg}"
        );
    }
}

/// `events=none` empties the timeline; `events=FILE` takes the list from a file, checked
/// like one written in the scenario.
#[test]
fn the_timeline_can_be_swept() {
    let dir = std::env::temp_dir().join(format!("kubesim-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("loss.yaml");
    std::fs::write(&file, "- at: 5s\n  nodeDown: {node: docker-desktop}\n- at: 9s\n  nodeUp: {node: docker-desktop}\n").unwrap();
    let text = format!(
        "{}  events:\n    - at: 1s\n      deletePod: {{selector: app=http-label, pick: random}}\n---\n{LESSON}",
        SCENARIO
    );
    let load = |v: &str| {
        load_str_with(
            &text,
            "s.yaml",
            Path::new("."),
            &[Override::new("events", v)],
        )
    };
    assert_eq!(load("all").unwrap().scenario.events.len(), 1);
    assert_eq!(load("none").unwrap().scenario.events.len(), 0);
    let from_file = load(file.to_str().unwrap()).unwrap().scenario.events;
    assert_eq!(from_file.len(), 2);
    assert_eq!(from_file[1].at, crate::engine::SimDuration::from_secs(9));
    std::fs::write(&file, "- at: soon\n  nodeDown: {node: docker-desktop}\n").unwrap();
    let e = load(file.to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("value set by --set events="), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14, item 10: `healthCheckNodePort` belongs to a LoadBalancer Service with
/// `externalTrafficPolicy: Local` only (`validateServiceExternalTrafficPolicy`), with the API
/// server's message at the field's line.
#[test]
fn a_health_check_node_port_outside_load_balancer_local_is_refused() {
    let text = with_objects(&LESSON.replacen(
        "  type: NodePort\n",
        "  type: NodePort\n  healthCheckNodePort: 32000\n",
        1,
    ));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Service \"http-svc\" is invalid: spec.healthCheckNodePort: Invalid value: 32000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
    );
    assert_eq!(errs[0].line, line_of(&text, "healthCheckNodePort: 32000"));
    assert_eq!(errs[0].column, 3);
    // Where it belongs it loads.
    let ok = with_objects(&LESSON.replacen(
        "  type: NodePort\n",
        "  type: LoadBalancer\n  externalTrafficPolicy: Local\n  healthCheckNodePort: 32000\n",
        1,
    ));
    assert!(load(&ok).is_ok(), "{:?}", load(&ok).err());
}

/// Issue 14, item 10: kubesim's cluster is single-stack IPv4, so `ipFamilies: [IPv6]` and
/// `ipFamilyPolicy: RequireDualStack` are refused as the Service registry refuses them
/// (`initIPFamilyFields` in `pkg/registry/core/service/storage/alloc.go`).
#[test]
fn an_ipv6_family_on_the_ipv4_cluster_is_refused() {
    let text = with_objects(&LESSON.replacen(
        "  type: NodePort\n",
        "  type: NodePort\n  ipFamilies: [IPv6]\n",
        1,
    ));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "The Service \"http-svc\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"
    );
    assert_eq!(errs[0].line, line_of(&text, "ipFamilies: [IPv6]"));
    assert_eq!(errs[0].column, 16, "the list item");
    let text = with_objects(&LESSON.replacen(
        "  type: NodePort\n",
        "  type: NodePort\n  ipFamilyPolicy: RequireDualStack\n",
        1,
    ));
    assert_eq!(
        errors(&text)[0].message,
        "The Service \"http-svc\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
    );
    let ok = with_objects(&LESSON.replacen(
        "  type: NodePort\n",
        "  type: NodePort\n  ipFamilies: [IPv4]\n  ipFamilyPolicy: PreferDualStack\n",
        1,
    ));
    assert!(load(&ok).is_ok(), "{:?}", load(&ok).err());
}

#[test]
fn nodes_take_their_own_pod_cidr_and_cordon() {
    let text = SCENARIO.replace(
        "        images: [aspnetcoreweb]\n",
        "        images: [aspnetcoreweb]\n        podCIDR: 10.244.7.0/24\n        unschedulable: true\n      - name: n2\n        ip: 192.168.0.25\n",
    );
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        l.scenario.nodes[0].pod_cidr,
        Some("10.244.7.0/24".parse().unwrap())
    );
    assert!(l.scenario.nodes[0].unschedulable);
    assert_eq!(l.scenario.nodes[1].pod_cidr, None);
    assert!(!l.scenario.nodes[1].unschedulable);
    for (cidr, message) in [
        (
            "10.9.0.0/24",
            "10.9.0.0/24 is not inside clusterCIDR 10.244.0.0/16",
        ),
        ("10.244.7.1/24", "has host bits set: use 10.244.7.0/24"),
        ("10.244.7.0/31", "has no address for a pod"),
        ("banana", "invalid CIDR \"banana\""),
    ] {
        let bad = text.replace("10.244.7.0/24", cidr);
        let e = errors(&bad);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains(message), "{}", e[0]);
        assert_eq!(e[0].line, line_of(&bad, "podCIDR"), "{}", e[0]);
    }
    let overlap = text.replace(
        "        ip: 192.168.0.25\n",
        "        ip: 192.168.0.25\n        podCIDR: 10.244.7.0/25\n",
    );
    let e = errors(&overlap);
    assert!(
        e[0].message
            .contains("10.244.7.0/25 overlaps node \"docker-desktop\"'s podCIDR 10.244.7.0/24"),
        "{}",
        e[0]
    );
}

#[test]
fn owned_pods_and_builtin_services_given_alongside_are_skipped_with_a_note() {
    let objects = r#"apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: web}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1-abcde
  labels: {app: web}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: 1, controller: true}
spec: {containers: [{name: c, image: web}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: orphan
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: gone, uid: 2, controller: true}
spec: {containers: [{name: c, image: web}]}
---
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec: {clusterIP: 10.96.0.1, ports: [{port: 443, targetPort: 6443}]}
"#;
    let text = with_objects(objects);
    let l = load(&text).unwrap_or_else(|d| panic!("{d}"));
    let notes: Vec<String> = l
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Note)
        .map(|w| w.to_string())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains(&format!(":{}:", line_of(&text, "name: web-1-abcde"))));
    assert!(notes[0].contains(
        "note: Pod \"web-1-abcde\" is owned by ReplicaSet \"web-1\", given alongside: skipped"
    ));
    assert!(notes[1].contains(
        "Service \"kubernetes\": skipped, as the simulated API server creates it at 10.96.0.1"
    ));
    // The ReplicaSet and the pod whose owner is not given are kept.
    assert_eq!(l.scenario.objects.len(), 2);
    // At another address the Service is the user's: the API server refuses the duplicate.
    let moved = with_objects(&objects.replace("clusterIP: 10.96.0.1", "clusterIP: 10.96.0.2"));
    assert_eq!(load(&moved).unwrap().scenario.objects.len(), 3);
}
