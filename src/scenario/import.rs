//! `kubesim import`: what `kubectl get nodes,namespaces,deployments,replicasets,statefulsets,
//! daemonsets,pods,services,endpointslices -A -o yaml` (or `-o json`) prints, turned into an
//! ordinary scenario that `kubesim run` replays. IO-free: texts in, scenario text and a report
//! out; the command reads and writes the files.
//!
//! - Node objects become `spec.cluster.nodes`: name, the `InternalIP` address, `spec.podCIDR`
//!   (pods get addresses from the real node's range), allocatable cpu, memory and pods, labels,
//!   taints (without those the node lifecycle controller manages) and `unschedulable`.
//! - Workloads come from their controllers: a ReplicaSet or pod owned by a controller the dump
//!   holds is left out (the controller makes its own, as upstream); a bare pod is kept, without
//!   the node the scheduler bound it to.
//! - What the API server set is dropped (`status`, `uid`, `resourceVersion`, `generation`,
//!   `creationTimestamp`, `managedFields`, `ownerReferences`, the last-applied annotation,
//!   admission's service-account volume and default tolerations, fields equal to upstream's
//!   defaults); what the user asked for is kept, Services' ClusterIPs and nodePorts included
//!   (the simulated API server allocates the requested ones, as the real one does).
//! - The Service range comes from the `kubernetes` ServiceCIDR object, else kube-apiserver's
//!   `--service-cluster-ip-range`, else the `kubernetes` Service's address (the first of the
//!   range); the cluster range from kube-controller-manager's `--cluster-cidr`, else
//!   kube-proxy's `clusterCIDR`, else the nodes' pod ranges. Options override both. The
//!   NodePort range from kube-apiserver's `--service-node-port-range`, else the default widened
//!   to the nodePorts the Services hold (written only when not the default).
//! - kube-system: kube-proxy's mode from its ConfigMap (`config.conf`, `mode:`), CoreDNS as the
//!   `coredns` add-on, `kubernetes` and `kube-dns` left to the simulated API server, the rest
//!   (control-plane static pods, the CNI plugin's DaemonSet, ...) skipped with a note.

use super::yaml::{self, PosMap};
use super::{controller_of, Diagnostic, Diagnostics, Pos};
use crate::net::config::NodePortRange;
use ipnet::Ipv4Net;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// One input file's text and the name it is reported under.
pub struct Input<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

/// `kubesim import`'s options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `metadata.name` of the scenario written.
    pub name: String,
    /// `--cluster-cidr`: the pods' range, instead of the one found in the dump.
    pub cluster_cidr: Option<Ipv4Net>,
    /// `--service-cidr`: the Services' range, instead of the one found in the dump.
    pub service_cidr: Option<Ipv4Net>,
}

/// The scenario written and what was imported, skipped and why.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario's text (a Scenario document, then the objects kept).
    pub scenario: String,
    /// The summary, one line each, also written at the top of the scenario as comments.
    pub report: Vec<String>,
}

/// Namespaces every cluster has: the simulated one too.
const BUILTIN_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// Kinds kept as manifests (StatefulSets and DaemonSets too: `run` says which it does not
/// simulate).
const KEPT: [&str; 7] = [
    "Namespace",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Pod",
    "Service",
];

/// Taints the node lifecycle controller and the kubelet put on and take off nodes
/// (`pkg/controller/nodelifecycle`, `staging/src/k8s.io/api/core/v1/well_known_taints.go`):
/// the simulated controllers manage them.
fn managed_taint(key: &str) -> bool {
    key.starts_with("node.kubernetes.io/")
        || key == "node.cloudprovider.kubernetes.io/uninitialized"
}

/// One object of the input, with where it was written.
struct Obj {
    file: String,
    line_offset: usize,
    pos: std::sync::Arc<PosMap>,
    prefix: String,
    value: Value,
}

impl Obj {
    fn kind(&self) -> &str {
        str_at(&self.value, &["kind"]).unwrap_or("")
    }
    fn name(&self) -> &str {
        str_at(&self.value, &["metadata", "name"]).unwrap_or("")
    }
    fn namespace(&self) -> &str {
        str_at(&self.value, &["metadata", "namespace"]).unwrap_or("default")
    }
    /// `Kind namespace/name` (`Kind name` for a cluster-scoped object).
    fn shown(&self) -> String {
        if matches!(self.kind(), "Node" | "Namespace") {
            format!("{} {}", self.kind(), self.name())
        } else {
            format!("{} {}/{}", self.kind(), self.namespace(), self.name())
        }
    }
    /// A diagnostic at `field` of this object (or its nearest written ancestor).
    fn error(&self, field: &str, message: String) -> Diagnostic {
        let path = if self.prefix.is_empty() {
            field.to_string()
        } else if field.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{field}", self.prefix)
        };
        let p = self.pos.locate(&path).unwrap_or(Pos { line: 1, col: 1 });
        Diagnostic::error(&self.file, p.line + self.line_offset, p.col, message)
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str()
}

/// Why objects were skipped, each reason with the objects it covers, in the order met.
#[derive(Default)]
struct Skipped(Vec<(String, Vec<String>)>);

impl Skipped {
    fn add(&mut self, what: String, why: impl Into<String>) {
        let why = why.into();
        match self.0.iter_mut().find(|(w, _)| *w == why) {
            Some((_, v)) => v.push(what),
            None => self.0.push((why, vec![what])),
        }
    }
}

/// Reads every input into objects (the items of a `List` one by one); syntax errors and
/// objects without a kind are errors.
fn read(inputs: &[Input], diags: &mut Vec<Diagnostic>) -> Vec<Obj> {
    let mut out = Vec::new();
    for input in inputs {
        for doc in yaml::split_documents(input.text) {
            let value = match yaml::read_value(&doc.text) {
                Ok(v) => v,
                Err(e) => {
                    let (msg, p) = yaml::yaml_error(&e);
                    let p = p.unwrap_or(Pos { line: 1, col: 1 });
                    diags.push(Diagnostic::error(
                        input.file,
                        p.line + doc.line_offset,
                        p.col,
                        msg,
                    ));
                    continue;
                }
            };
            if value.is_null() {
                continue;
            }
            let pos = std::sync::Arc::new(PosMap::build(&doc.text));
            let obj = |prefix: String, value: Value| Obj {
                file: input.file.to_string(),
                line_offset: doc.line_offset,
                pos: std::sync::Arc::clone(&pos),
                prefix,
                value,
            };
            let whole = obj(String::new(), value.clone());
            if !value.is_mapping() {
                diags
                    .push(whole.error("", "expected a Kubernetes object or a List of them".into()));
                continue;
            }
            let kind = whole.kind().to_string();
            if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
                let items = value.get("items").and_then(Value::as_sequence);
                for (i, item) in items.into_iter().flatten().enumerate() {
                    let o = obj(format!("items[{i}]"), item.clone());
                    if !item.is_mapping() {
                        diags.push(o.error("", format!("items[{i}]: expected an object")));
                    } else {
                        out.push(o);
                    }
                }
            } else {
                out.push(whole);
            }
        }
    }
    for o in &out {
        let mut missing = Vec::new();
        if str_at(&o.value, &["apiVersion"]).is_none_or(str::is_empty) {
            missing.push("apiVersion not set");
        }
        if o.kind().is_empty() {
            missing.push("kind not set");
        }
        if !missing.is_empty() {
            diags.push(o.error(
                "",
                format!("error validating data: [{}]", missing.join(", ")),
            ));
        } else if o.name().is_empty() {
            diags.push(o.error(
                "metadata.name",
                format!(
                    "{}: metadata.name: Required value: name is required",
                    o.kind()
                ),
            ));
        }
    }
    out
}

/// The value of `--flag=value` (or `--flag value`) in a static pod's container command.
fn flag(pod: &Value, name: &str) -> Option<String> {
    let containers = pod.get("spec")?.get("containers")?.as_sequence()?;
    for c in containers {
        let words = ["command", "args"]
            .iter()
            .filter_map(|k| c.get(*k).and_then(Value::as_sequence))
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>();
        for (i, w) in words.iter().enumerate() {
            if let Some(v) = w.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_string());
            }
            if *w == name {
                return words.get(i + 1).map(|s| s.to_string());
            }
        }
    }
    None
}

/// The first IPv4 network of a comma-separated list (`10.96.0.0/16,fd00::/108`).
fn first_v4(list: &str) -> Option<Ipv4Net> {
    list.split(',').find_map(|c| c.trim().parse().ok())
}

/// A field of a `KubeProxyConfiguration` (the ConfigMap's `config.conf`).
fn kube_proxy_field(cm: &Value, path: &[&str]) -> Option<String> {
    let conf = cm.get("data")?.get("config.conf")?.as_str()?;
    let v: Value = serde_yaml::from_str(conf).ok()?;
    let mut cur = &v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str().map(str::to_string)
}

/// The smallest network holding all of `nets`.
fn supernet(nets: &[Ipv4Net]) -> Option<Ipv4Net> {
    let first = nets.first()?;
    let mut n = first.trunc();
    while !nets.iter().all(|m| n.contains(m)) {
        n = Ipv4Net::new(n.network(), n.prefix_len().checked_sub(1)?)
            .ok()?
            .trunc();
    }
    Some(n)
}

/// A YAML scalar as it must be written (quoted when plain text would read otherwise).
fn scalar(s: &str) -> String {
    serde_yaml::to_string(&Value::String(s.to_string()))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// `true` for the default upstream gives this key of a mapping (so the field says nothing the
/// API server would not have set anyway).
fn is_default(key: &str, v: &Value) -> bool {
    let s = v.as_str();
    let n = v.as_i64();
    match key {
        "terminationMessagePath" => s == Some("/dev/termination-log"),
        "terminationMessagePolicy" => s == Some("File"),
        "schedulerName" => s == Some("default-scheduler"),
        "dnsPolicy" => s == Some("ClusterFirst"),
        "restartPolicy" => s == Some("Always"),
        "terminationGracePeriodSeconds" => n == Some(30),
        "enableServiceLinks" => v.as_bool() == Some(true),
        "preemptionPolicy" => s == Some("PreemptLowerPriority"),
        "progressDeadlineSeconds" => n == Some(600),
        "revisionHistoryLimit" => n == Some(10),
        "sessionAffinity" => s == Some("None"),
        "ipFamilyPolicy" => s == Some("SingleStack"),
        "internalTrafficPolicy" | "externalTrafficPolicy" => s == Some("Cluster"),
        "allocateLoadBalancerNodePorts" => v.as_bool() == Some(true),
        "podManagementPolicy" => s == Some("OrderedReady"),
        "serviceAccount" | "serviceAccountName" => s == Some("default"),
        "scheme" => s == Some("HTTP"),
        "protocol" => s == Some("TCP"),
        "securityContext" | "resources" => v.as_mapping().is_some_and(Mapping::is_empty),
        "ipFamilies" => v
            .as_sequence()
            .is_some_and(|f| f.len() == 1 && f[0].as_str() == Some("IPv4")),
        _ => false,
    }
}

/// The defaults of a probe (`SetDefaults_Probe`, `pkg/apis/core/v1/defaults.go`).
fn clean_probe(p: &mut Value) {
    let Some(m) = p.as_mapping_mut() else { return };
    for (k, d) in [
        ("failureThreshold", 3),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("timeoutSeconds", 1),
    ] {
        if m.get(k).and_then(Value::as_i64) == Some(d) {
            m.shift_remove(k);
        }
    }
    if let Some(h) = m.get_mut("httpGet").and_then(Value::as_mapping_mut) {
        if h.get("scheme").and_then(Value::as_str) == Some("HTTP") {
            h.shift_remove("scheme");
        }
    }
}

/// Whether a volume is the service-account token the ServiceAccount admission plugin adds
/// (`kube-api-access-<suffix>`, `plugin/pkg/admission/serviceaccount/admission.go`).
fn admission_volume(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.starts_with("kube-api-access-"))
}

/// A pod spec without what admission and defaulting added.
fn clean_pod_spec(spec: &mut Value, bare_pod: bool) {
    let Some(m) = spec.as_mapping_mut() else {
        return;
    };
    if bare_pod {
        // Bound by the scheduler: kubesim's schedules it again.
        m.shift_remove("nodeName");
    }
    if m.contains_key("priorityClassName") || m.get("priority").and_then(Value::as_i64) == Some(0) {
        // Set by the Priority admission plugin from the class.
        m.shift_remove("priority");
    }
    let sa = m.get("serviceAccountName").cloned();
    if m.get("serviceAccount") == sa.as_ref() {
        m.shift_remove("serviceAccount");
    }
    if let Some(t) = m.get_mut("tolerations").and_then(Value::as_sequence_mut) {
        // DefaultTolerationSeconds (`plugin/pkg/admission/defaulttolerationseconds`).
        t.retain(|t| {
            let key = t.get("key").and_then(Value::as_str);
            !(matches!(
                key,
                Some("node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable")
            ) && t.get("effect").and_then(Value::as_str) == Some("NoExecute")
                && t.get("tolerationSeconds").and_then(Value::as_i64) == Some(300))
        });
        if t.is_empty() {
            m.shift_remove("tolerations");
        }
    }
    if let Some(v) = m.get_mut("volumes").and_then(Value::as_sequence_mut) {
        v.retain(|v| !admission_volume(v.get("name").and_then(Value::as_str)));
        if v.is_empty() {
            m.shift_remove("volumes");
        }
    }
    for key in ["containers", "initContainers"] {
        for c in m
            .get_mut(key)
            .and_then(Value::as_sequence_mut)
            .into_iter()
            .flatten()
        {
            clean_container(c);
        }
    }
    drop_defaults(m);
}

fn clean_container(c: &mut Value) {
    let Some(m) = c.as_mapping_mut() else { return };
    if let Some(v) = m.get_mut("volumeMounts").and_then(Value::as_sequence_mut) {
        v.retain(|v| !admission_volume(v.get("name").and_then(Value::as_str)));
        if v.is_empty() {
            m.shift_remove("volumeMounts");
        }
    }
    let image = m.get("image").and_then(Value::as_str).unwrap_or("");
    let default = crate::model::objects::ImagePullPolicy::default_for(image).as_str();
    if m.get("imagePullPolicy").and_then(Value::as_str) == Some(default) {
        m.shift_remove("imagePullPolicy");
    }
    for p in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if let Some(p) = m.get_mut(p) {
            clean_probe(p);
        }
    }
    for p in m
        .get_mut("ports")
        .and_then(Value::as_sequence_mut)
        .into_iter()
        .flatten()
    {
        if let Some(p) = p.as_mapping_mut() {
            drop_defaults(p);
        }
    }
    drop_defaults(m);
}

fn drop_defaults(m: &mut Mapping) {
    let keys: Vec<Value> = m
        .iter()
        .filter(|(k, v)| k.as_str().is_some_and(|k| is_default(k, v)))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        m.shift_remove(&k);
    }
}

/// Annotations the API server and controllers write.
fn server_annotation(key: &str) -> bool {
    key == "kubectl.kubernetes.io/last-applied-configuration"
        || key.starts_with("deployment.kubernetes.io/")
        || key == "deprecated.daemonset.template.generation"
        || key.starts_with("kubernetes.io/config.")
}

/// Metadata as the user wrote it: name, namespace, labels, annotations.
fn clean_meta(meta: &mut Value) {
    let Some(m) = meta.as_mapping_mut() else {
        return;
    };
    let mut out = Mapping::new();
    for key in ["name", "namespace", "labels", "annotations"] {
        if let Some(v) = m.get(key) {
            out.insert(Value::from(key), v.clone());
        }
    }
    if let Some(a) = out.get_mut("annotations").and_then(Value::as_mapping_mut) {
        a.retain(|k, _| !k.as_str().is_some_and(server_annotation));
        if a.is_empty() {
            out.shift_remove("annotations");
        }
    }
    *m = out;
}

/// An object as the user would have applied it.
fn clean(o: &Value) -> Value {
    let mut v = o.clone();
    let kind = str_at(o, &["kind"]).unwrap_or("").to_string();
    let Some(m) = v.as_mapping_mut() else {
        return v;
    };
    m.shift_remove("status");
    if let Some(meta) = m.get_mut("metadata") {
        clean_meta(meta);
    }
    let Some(spec) = m.get_mut("spec") else {
        return v;
    };
    match kind.as_str() {
        "Pod" => clean_pod_spec(spec, true),
        "Service" => clean_service(spec),
        "Namespace" => {
            // `finalizers: [kubernetes]` is the namespace controller's.
            if let Some(s) = spec.as_mapping_mut() {
                s.shift_remove("finalizers");
                if s.is_empty() {
                    m.shift_remove("spec");
                }
            }
        }
        _ => {
            let Some(s) = spec.as_mapping_mut() else {
                return v;
            };
            if let Some(t) = s.get_mut("template").and_then(Value::as_mapping_mut) {
                if let Some(tm) = t.get_mut("metadata") {
                    clean_meta(tm);
                }
                if let Some(ts) = t.get_mut("spec") {
                    clean_pod_spec(ts, false);
                }
            }
            let default_strategy = |v: &Value, surge: Value, unavailable: Value| {
                v.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                    && v.get("rollingUpdate").is_none_or(|r| {
                        r.get("maxSurge").is_none_or(|s| *s == surge)
                            && r.get("maxUnavailable").is_none_or(|u| *u == unavailable)
                    })
            };
            // `SetDefaults_Deployment`, `SetDefaults_DaemonSet` (`pkg/apis/apps/v1/defaults.go`).
            let pct = || Value::from("25%");
            if kind == "Deployment"
                && s.get("strategy")
                    .is_some_and(|v| default_strategy(v, pct(), pct()))
            {
                s.shift_remove("strategy");
            }
            if kind == "DaemonSet"
                && s.get("updateStrategy")
                    .is_some_and(|v| default_strategy(v, Value::from(0), Value::from(1)))
            {
                s.shift_remove("updateStrategy");
            }
            if kind == "StatefulSet" {
                let default_update = s.get("updateStrategy").is_some_and(|u| {
                    u.get("type").and_then(Value::as_str) == Some("RollingUpdate")
                        && u.get("rollingUpdate")
                            .and_then(|r| r.get("partition"))
                            .is_none_or(|p| p.as_i64() == Some(0))
                });
                if default_update {
                    s.shift_remove("updateStrategy");
                }
                let retain = Value::from("Retain");
                let default_retention =
                    s.get("persistentVolumeClaimRetentionPolicy")
                        .is_some_and(|p| {
                            p.get("whenDeleted") == Some(&retain)
                                && p.get("whenScaled") == Some(&retain)
                        });
                if default_retention {
                    s.shift_remove("persistentVolumeClaimRetentionPolicy");
                }
                for t in s
                    .get_mut("volumeClaimTemplates")
                    .and_then(Value::as_sequence_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = t.as_mapping_mut() {
                        t.shift_remove("status");
                        if let Some(tm) = t.get_mut("metadata") {
                            clean_meta(tm);
                        }
                    }
                }
            }
            drop_defaults(s);
        }
    }
    v
}

/// A Service's spec keeping its ClusterIP and nodePorts.
fn clean_service(spec: &mut Value) {
    let Some(m) = spec.as_mapping_mut() else {
        return;
    };
    let ip = m.get("clusterIP").cloned();
    let single = m
        .get("clusterIPs")
        .and_then(Value::as_sequence)
        .is_some_and(|ips| ips.len() == 1 && Some(&ips[0]) == ip.as_ref());
    if single {
        m.shift_remove("clusterIPs");
    }
    if m.get("type").and_then(Value::as_str) == Some("ClusterIP") {
        m.shift_remove("type");
    }
    for p in m
        .get_mut("ports")
        .and_then(Value::as_sequence_mut)
        .into_iter()
        .flatten()
    {
        if let Some(p) = p.as_mapping_mut() {
            drop_defaults(p);
        }
    }
    drop_defaults(m);
}

/// One node of the scenario, from a Node object.
struct NodeOut {
    name: String,
    ip: Ipv4Addr,
    pod_cidr: Option<Ipv4Net>,
    cpu: Option<String>,
    memory: Option<String>,
    pods: Option<String>,
    labels: Vec<(String, String)>,
    taints: Vec<(String, Option<String>, String)>,
    unschedulable: bool,
    /// Every name of the images the node holds (`status.images[].names`).
    images: Vec<String>,
}

fn node(o: &Obj, diags: &mut Vec<Diagnostic>) -> Option<NodeOut> {
    let v = &o.value;
    let addrs = v
        .get("status")
        .and_then(|s| s.get("addresses"))
        .and_then(Value::as_sequence);
    let internal = addrs.into_iter().flatten().find(|a| {
        a.get("type").and_then(Value::as_str) == Some("InternalIP")
            && a.get("address")
                .and_then(Value::as_str)
                .is_some_and(|s| s.parse::<Ipv4Addr>().is_ok())
    });
    let Some(ip) = internal
        .and_then(|a| a.get("address"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
    else {
        diags.push(o.error(
            "status.addresses",
            format!(
                "Node {:?}: status.addresses: no IPv4 InternalIP address: kubesim needs the node's IP (export the Node with its status)",
                o.name()
            ),
        ));
        return None;
    };
    let spec = v.get("spec");
    let cidr_text = spec
        .and_then(|s| s.get("podCIDR"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            spec.and_then(|s| s.get("podCIDRs"))
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|c| c.parse::<Ipv4Net>().is_ok())
                .map(str::to_string)
        });
    let pod_cidr = match cidr_text.as_deref().map(|c| (c, c.parse::<Ipv4Net>())) {
        None => None,
        Some((_, Ok(n))) => Some(n.trunc()),
        Some((c, Err(_))) => {
            diags.push(o.error(
                "spec.podCIDR",
                format!(
                    "Node {:?}: spec.podCIDR: Invalid value: {c:?}: not an IPv4 CIDR",
                    o.name()
                ),
            ));
            return None;
        }
    };
    let alloc = |k: &str| -> Option<String> {
        let a = v.get("status")?.get("allocatable")?.get(k)?;
        a.as_str()
            .map(str::to_string)
            .or_else(|| a.as_i64().map(|n| n.to_string()))
    };
    let labels = v
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
        .filter(|(k, _)| k != "kubernetes.io/hostname")
        .collect();
    let taints = spec
        .and_then(|s| s.get("taints"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let key = t.get("key")?.as_str()?.to_string();
            let effect = t.get("effect")?.as_str()?.to_string();
            let value = t
                .get("value")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            Some((key, value, effect))
        })
        .filter(|(k, _, _)| !managed_taint(k))
        .collect();
    let images = v
        .get("status")
        .and_then(|s| s.get("images"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("names").and_then(Value::as_sequence))
        .flatten()
        .filter_map(Value::as_str)
        .filter(|n| !n.contains('@'))
        .map(str::to_string)
        .collect();
    Some(NodeOut {
        name: o.name().to_string(),
        ip,
        pod_cidr,
        cpu: alloc("cpu"),
        memory: alloc("memory"),
        pods: alloc("pods"),
        labels,
        taints,
        unschedulable: spec
            .and_then(|s| s.get("unschedulable"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        images,
    })
}

/// Every container image an object's pods run.
fn images_of(v: &Value, out: &mut BTreeSet<String>) {
    let spec = match str_at(v, &["kind"]) {
        Some("Pod") => v.get("spec"),
        _ => v
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec")),
    };
    for key in ["containers", "initContainers"] {
        for c in spec
            .and_then(|s| s.get(key))
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(i) = c.get("image").and_then(Value::as_str) {
                out.insert(i.to_string());
            }
        }
    }
}

/// A dump's text, read as kubectl reads YAML and JSON (UTF-8, a regular file of at most
/// 64 MiB); the error names the file (and the line and column of a byte that is not UTF-8).
pub fn read_file(path: &std::path::Path) -> Result<String, Diagnostic> {
    let file = path.display().to_string();
    super::read_text(path).map_err(|e| match e {
        super::ReadError::Io(e) => Diagnostic::error(&file, 0, 0, format!("cannot read: {e}")),
        super::ReadError::NotUtf8(p, msg) => Diagnostic::error(&file, p.line, p.col, msg),
    })
}

/// Writes the scenario whole or not at all: into a file beside `path`, renamed over it.
pub fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kubesim-tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Imports the objects of `inputs` into a scenario.
pub fn import(inputs: &[Input], opts: &ImportOptions) -> Result<Imported, Diagnostics> {
    let mut diags = Vec::new();
    let objs = read(inputs, &mut diags);
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    let present: BTreeSet<(String, String, String)> = objs
        .iter()
        .map(|o| {
            (
                o.kind().to_string(),
                o.namespace().to_string(),
                o.name().to_string(),
            )
        })
        .collect();
    let mut skipped = Skipped::default();
    let mut kept: Vec<&Obj> = Vec::new();
    let mut nodes = Vec::new();
    let mut service_cidr: Option<(Ipv4Net, String)> = None;
    let mut apiserver_range: Option<Ipv4Net> = None;
    let mut apiserver_node_ports: Option<NodePortRange> = None;
    let mut cluster_cidr: Option<(Ipv4Net, String)> = None;
    let mut proxy_mode: Option<(String, String)> = None;
    let mut ipvs_scheduler: Option<String> = None;
    let mut proxy_cluster_cidr: Option<Ipv4Net> = None;
    let mut coredns: Option<String> = None;
    let mut kube_system_seen = false;
    let mut builtin_ips: Vec<(String, Ipv4Addr)> = Vec::new();
    for o in &objs {
        let kind = o.kind();
        let ns = o.namespace();
        let system = ns == "kube-system";
        kube_system_seen |= system;
        match kind {
            "Node" => {
                if let Some(n) = node(o, &mut diags) {
                    nodes.push(n);
                }
                continue;
            }
            "ServiceCIDR" if o.name() == "kubernetes" => {
                let cidrs = o
                    .value
                    .get("spec")
                    .and_then(|s| s.get("cidrs"))
                    .and_then(Value::as_sequence);
                if let Some(n) = cidrs
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .find_map(first_v4)
                {
                    service_cidr = Some((n, "ServiceCIDR kubernetes".into()));
                }
                skipped.add(o.shown(), "read for the Service range");
                continue;
            }
            "ConfigMap" if system && o.name() == "kube-proxy" => {
                let mode = kube_proxy_field(&o.value, &["mode"]);
                // An empty mode is iptables on Linux (`pkg/proxy/apis/config/types.go`).
                let mode = mode.filter(|m| !m.is_empty()).unwrap_or("iptables".into());
                proxy_mode = Some((mode, "ConfigMap kube-system/kube-proxy".into()));
                ipvs_scheduler =
                    kube_proxy_field(&o.value, &["ipvs", "scheduler"]).filter(|s| !s.is_empty());
                proxy_cluster_cidr = kube_proxy_field(&o.value, &["clusterCIDR"])
                    .as_deref()
                    .and_then(first_v4);
                skipped.add(o.shown(), "read for kube-proxy's mode");
                continue;
            }
            _ => {}
        }
        if !KEPT.contains(&kind) {
            let why = match kind {
                "EndpointSlice" | "Endpoints" => {
                    "made by the EndpointSlice controller from the Services and their pods"
                }
                "ControllerRevision" => "the history of a controller: not simulated",
                _ => "kind not simulated",
            };
            skipped.add(o.shown(), why);
            continue;
        }
        if let Some((ck, cn)) = controller_of(&o.value) {
            if ck == "Node" {
                // A mirror pod of one of the kubelet's static pods.
                if let Some(r) = flag(&o.value, "--service-cluster-ip-range") {
                    apiserver_range = apiserver_range.or(first_v4(&r));
                }
                if let Some(r) = flag(&o.value, "--service-node-port-range") {
                    apiserver_node_ports = apiserver_node_ports.or(r.parse().ok());
                }
                if let Some(r) = flag(&o.value, "--cluster-cidr") {
                    if cluster_cidr.is_none() {
                        cluster_cidr = first_v4(&r)
                            .map(|n| (n, "kube-controller-manager --cluster-cidr".into()));
                    }
                }
                skipped.add(
                    o.shown(),
                    format!("a static pod of the kubelet of {cn} (control plane): not simulated"),
                );
                continue;
            }
            if present.contains(&(ck.clone(), ns.to_string(), cn.clone())) {
                let what = if kind == "Pod" { "pods" } else { "ReplicaSets" };
                skipped.add(
                    o.shown(),
                    format!("owned by a controller given alongside, which creates its own {what}"),
                );
                continue;
            }
        }
        if kind == "Namespace" && BUILTIN_NAMESPACES.contains(&o.name()) {
            skipped.add(o.shown(), "every cluster has it");
            continue;
        }
        if kind == "Service"
            && matches!(
                (ns, o.name()),
                ("default", "kubernetes") | ("kube-system", "kube-dns")
            )
        {
            if let Some(ip) = str_at(&o.value, &["spec", "clusterIP"]).and_then(|s| s.parse().ok())
            {
                builtin_ips.push((o.name().to_string(), ip));
            }
            skipped.add(
                o.shown(),
                "created by kubesim's API server (the first and tenth address of the Service range)",
            );
            continue;
        }
        if system {
            let labels = o.value.get("metadata").and_then(|m| m.get("labels"));
            let app = labels
                .and_then(|l| l.get("k8s-app"))
                .and_then(Value::as_str);
            match (kind, o.name(), app) {
                ("Deployment", _, Some("kube-dns")) | ("Deployment", "coredns", _) => {
                    let replicas = o
                        .value
                        .get("spec")
                        .and_then(|s| s.get("replicas"))
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    coredns = Some(format!("{} ({replicas} replicas)", o.shown()));
                    skipped.add(
                        o.shown(),
                        "CoreDNS: runs as kubesim's coredns add-on (2 replicas, kubeadm's)",
                    );
                }
                ("DaemonSet", "kube-proxy", _) => skipped.add(
                    o.shown(),
                    "kube-proxy: kubesim runs it on every node (spec.cluster.proxyMode)",
                ),
                ("DaemonSet", _, _)
                    if [
                        "kindnet",
                        "kube-flannel-ds",
                        "calico-node",
                        "cilium",
                        "weave-net",
                    ]
                    .iter()
                    .any(|c| o.name().starts_with(c)) =>
                {
                    skipped.add(
                        o.shown(),
                        "the CNI plugin: kubesim models the pod network itself",
                    )
                }
                _ => skipped.add(o.shown(), "kube-system: a cluster component, not simulated"),
            }
            continue;
        }
        kept.push(o);
    }
    // The ranges, with where each came from.
    let node_ports = node_port_range(apiserver_node_ports, &kept);
    if let Some(n) = opts.service_cidr {
        service_cidr = Some((n, "--service-cidr".into()));
    }
    if service_cidr.is_none() {
        service_cidr =
            apiserver_range.map(|n| (n, "kube-apiserver --service-cluster-ip-range".into()));
    }
    if service_cidr.is_none() {
        if let Some((_, ip)) = builtin_ips.iter().find(|(n, _)| n == "kubernetes") {
            // The `kubernetes` Service has the first address of the range
            // (`pkg/controlplane/services.go`, `ServiceIPRange`): the range starts one below;
            // kubeadm's /12 (`DefaultServicesSubnet`) when it fits, else the smallest that
            // holds every ClusterIP.
            let base = Ipv4Addr::from(u32::from(*ip).wrapping_sub(1));
            let ips: Vec<Ipv4Addr> = kept
                .iter()
                .filter_map(|o| str_at(&o.value, &["spec", "clusterIP"]))
                .filter_map(|s| s.parse().ok())
                .chain(builtin_ips.iter().map(|(_, ip)| *ip))
                .collect();
            let fits = |p: u8| {
                Ipv4Net::new(base, p)
                    .ok()
                    .filter(|n| n.network() == base && ips.iter().all(|i| n.contains(i)))
            };
            if let Some(n) = fits(12).or_else(|| (12..=28).rev().find_map(fits)) {
                service_cidr = Some((n, "the kubernetes Service's address".into()));
            }
        }
    }
    if let Some(n) = opts.cluster_cidr {
        cluster_cidr = Some((n, "--cluster-cidr".into()));
    }
    if cluster_cidr.is_none() {
        cluster_cidr = proxy_cluster_cidr.map(|n| (n, "kube-proxy's clusterCIDR".into()));
    }
    if cluster_cidr.is_none() {
        let ranges: Vec<Ipv4Net> = nodes.iter().filter_map(|n| n.pod_cidr).collect();
        cluster_cidr = supernet(&ranges).map(|n| {
            // Room for nodes to join, as kubeadm's and flannel's /16 has.
            let n = if n.prefix_len() > 16 {
                Ipv4Net::new(n.network(), 16).map_or(n, |w| w.trunc())
            } else {
                n
            };
            (n, "the nodes' pod ranges".into())
        });
    }
    if nodes.is_empty() {
        diags.push(Diagnostic::error(
            inputs.first().map_or("", |i| i.file),
            0,
            0,
            "no Node objects: a scenario needs its nodes (`kubectl get nodes -o yaml`)",
        ));
    }
    if let Some((c, from)) = &cluster_cidr {
        for n in &nodes {
            if let Some(r) = n.pod_cidr.filter(|r| !c.contains(r)) {
                let o = objs
                    .iter()
                    .find(|o| o.kind() == "Node" && o.name() == n.name)
                    .expect("read");
                diags.push(o.error(
                    "spec.podCIDR",
                    format!(
                        "Node {:?}: spec.podCIDR {r} is not inside the cluster range {c} ({from}): give --cluster-cidr a range that holds it",
                        n.name
                    ),
                ));
            }
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    Ok(write(
        inputs,
        opts,
        &nodes,
        &kept,
        &skipped,
        service_cidr,
        cluster_cidr,
        node_ports,
        proxy_mode,
        ipvs_scheduler,
        coredns,
        kube_system_seen,
        &builtin_ips,
    ))
}

/// The NodePort range to write, when not the default: kube-apiserver's
/// `--service-node-port-range` (its static pod in the dump), else the default widened to hold
/// every nodePort the Services have (they were given by that API server, so its range held
/// them).
fn node_port_range(
    apiserver: Option<NodePortRange>,
    kept: &[&Obj],
) -> Option<(NodePortRange, String)> {
    let default = NodePortRange::default();
    if let Some(r) = apiserver {
        return (r != default).then(|| (r, "kube-apiserver --service-node-port-range".into()));
    }
    let held = kept
        .iter()
        .filter(|o| o.kind() == "Service")
        .filter_map(|o| o.value.get("spec")?.get("ports")?.as_sequence())
        .flatten()
        .filter_map(|p| p.get("nodePort")?.as_u64())
        .filter_map(|p| u16::try_from(p).ok());
    let (first, last) = held.fold((default.first, default.last), |(lo, hi), p| {
        (lo.min(p), hi.max(p))
    });
    let widened = NodePortRange { first, last };
    (widened != default).then(|| {
        (
            widened,
            "the default widened to the Services' nodePorts (no kube-apiserver pod in the dump)"
                .into(),
        )
    })
}

/// `names` joined with commas on lines of at most about 96 characters, indented.
fn wrapped(report: &mut Vec<String>, names: &[String]) {
    let mut line = String::from("    ");
    for (i, n) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{n},")
        } else {
            n.clone()
        };
        if line.len() > 4 && line.len() + 1 + piece.len() > 96 {
            report.push(std::mem::replace(&mut line, String::from("    ")));
        }
        if line.len() > 4 {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if line.len() > 4 {
        report.push(line);
    }
}

#[allow(clippy::too_many_arguments)]
fn write(
    inputs: &[Input],
    opts: &ImportOptions,
    nodes: &[NodeOut],
    kept: &[&Obj],
    skipped: &Skipped,
    service_cidr: Option<(Ipv4Net, String)>,
    cluster_cidr: Option<(Ipv4Net, String)>,
    node_ports: Option<(NodePortRange, String)>,
    proxy_mode: Option<(String, String)>,
    ipvs_scheduler: Option<String>,
    coredns: Option<String>,
    kube_system_seen: bool,
    builtin_ips: &[(String, Ipv4Addr)],
) -> Imported {
    let mut report = Vec::new();
    let files: Vec<&str> = inputs.iter().map(|i| i.file).collect();
    report.push(format!("imported from {}:", files.join(", ")));
    let shown_nodes: Vec<String> = nodes
        .iter()
        .map(|n| match n.pod_cidr {
            Some(c) => format!("{} ({}, pods {c})", n.name, n.ip),
            None => format!("{} ({})", n.name, n.ip),
        })
        .collect();
    report.push(format!(
        "  {} nodes: {}",
        nodes.len(),
        shown_nodes.join(", ")
    ));
    let (svc_net, svc_from) = service_cidr.clone().map_or(
        (
            "10.96.0.0/12 (kubesim's default)".to_string(),
            "nothing in the dump".to_string(),
        ),
        |(n, f)| (n.to_string(), f),
    );
    report.push(format!("  Service range {svc_net}, from {svc_from}"));
    if let Some((c, from)) = &cluster_cidr {
        report.push(format!("  pod range {c}, from {from}"));
    }
    if let Some((r, from)) = &node_ports {
        report.push(format!("  NodePort range {r}, from {from}"));
    }
    let mode = proxy_mode.clone().unwrap_or((
        "iptables".into(),
        "kube-proxy's default (no ConfigMap kube-system/kube-proxy given)".into(),
    ));
    report.push(format!("  proxy mode {}, from {}", mode.0, mode.1));
    let addons = match (&coredns, kube_system_seen) {
        (Some(d), _) => format!("  add-on coredns, for {d}"),
        (None, true) => {
            "  no add-on: kube-system has no CoreDNS Deployment (DNS lookups fail)".into()
        }
        (None, false) => "  add-on coredns (kubesim's default: the dump has no kube-system)".into(),
    };
    report.push(addons);
    if let Some((net, _)) = &service_cidr {
        for (name, ip) in builtin_ips {
            let offset = if name == "kubernetes" { 1 } else { 10 };
            let want = Ipv4Addr::from(u32::from(net.network()) + offset);
            if *ip != want {
                report.push(format!(
                    "  note: Service {name} has {ip}; kubesim's API server gives it {want}"
                ));
            }
        }
    }
    let kept_names: Vec<String> = kept.iter().map(|o| o.shown()).collect();
    report.push(format!("  kept {} objects:", kept.len()));
    wrapped(&mut report, &kept_names);
    for (why, what) in &skipped.0 {
        report.push(format!("  skipped {}, {why}:", what.len()));
        wrapped(&mut report, what);
    }

    let mut out = String::new();
    out.push_str(&format!(
        "# Imported by `kubesim import {}`.\n#\n",
        files.join(" ")
    ));
    for line in &report {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str("#\n# Replay it with `kubesim run`; fill in `traffic` below to send requests.\n");
    out.push_str("apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata:\n");
    out.push_str(&format!("  name: {}\n", scalar(&opts.name)));
    out.push_str("spec:\n  duration: 60s\n  cluster:\n");
    out.push_str(&format!("    proxyMode: {}\n", scalar(&mode.0)));
    if let (Some(s), "ipvs") = (&ipvs_scheduler, mode.0.as_str()) {
        out.push_str(&format!("    ipvsScheduler: {}\n", scalar(s)));
    }
    if let Some((n, from)) = &service_cidr {
        out.push_str(&format!("    serviceCIDR: {n}   # {from}\n"));
    }
    if let Some((n, from)) = &cluster_cidr {
        out.push_str(&format!("    clusterCIDR: {n}   # {from}\n"));
    }
    if let Some((r, from)) = &node_ports {
        out.push_str(&format!("    serviceNodePortRange: {r}   # {from}\n"));
    }
    if coredns.is_some() || !kube_system_seen {
        out.push_str("    addons: [coredns]\n");
    } else {
        out.push_str("    addons: []\n");
    }
    let mut used = BTreeSet::new();
    for o in kept {
        images_of(&o.value, &mut used);
    }
    let used: BTreeSet<String> = used
        .iter()
        .map(|i| crate::model::config::normalize_image(i))
        .collect();
    out.push_str("    nodes:\n");
    for n in nodes {
        out.push_str(&format!(
            "    - name: {}\n      ip: {}\n",
            scalar(&n.name),
            n.ip
        ));
        if let Some(c) = n.pod_cidr {
            out.push_str(&format!("      podCIDR: {c}\n"));
        }
        let alloc: Vec<String> = [("cpu", &n.cpu), ("memory", &n.memory), ("pods", &n.pods)]
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_ref()?;
                Some(if *k == "pods" && v.parse::<u64>().is_ok() {
                    format!("{k}: {v}")
                } else {
                    format!("{k}: {}", scalar(v))
                })
            })
            .collect();
        if !alloc.is_empty() {
            out.push_str(&format!("      allocatable: {{{}}}\n", alloc.join(", ")));
        }
        if !n.labels.is_empty() {
            out.push_str("      labels:\n");
            for (k, v) in &n.labels {
                out.push_str(&format!("        {}: {}\n", scalar(k), scalar(v)));
            }
        }
        if !n.taints.is_empty() {
            out.push_str("      taints:\n");
            for (k, v, e) in &n.taints {
                let value = v
                    .as_ref()
                    .map_or(String::new(), |v| format!(", value: {}", scalar(v)));
                out.push_str(&format!(
                    "      - {{key: {}{value}, effect: {e}}}\n",
                    scalar(k)
                ));
            }
        }
        if n.unschedulable {
            out.push_str("      unschedulable: true\n");
        }
        // The images the node holds that the workloads run (pulled or loaded beforehand).
        let mut images: Vec<&String> = n
            .images
            .iter()
            .filter(|i| used.contains(&crate::model::config::normalize_image(i)))
            .collect();
        images.dedup();
        if !images.is_empty() {
            let shown: Vec<String> = images.iter().map(|i| scalar(i)).collect();
            out.push_str(&format!("      images: [{}]\n", shown.join(", ")));
        }
    }
    // A stream per NodePort of every NodePort or LoadBalancer Service, to the first node
    // that takes pods.
    let target = nodes
        .iter()
        .find(|n| !n.unschedulable && !n.taints.iter().any(|(_, _, e)| e == "NoSchedule"))
        .or(nodes.first());
    let mut streams = Vec::new();
    for o in kept.iter().filter(|o| o.kind() == "Service") {
        let t = str_at(&o.value, &["spec", "type"]).unwrap_or("ClusterIP");
        if !matches!(t, "NodePort" | "LoadBalancer") {
            continue;
        }
        let ports = o
            .value
            .get("spec")
            .and_then(|s| s.get("ports"))
            .and_then(Value::as_sequence);
        for p in ports.into_iter().flatten() {
            let (Some(np), Some(n)) = (p.get("nodePort").and_then(Value::as_i64), target) else {
                continue;
            };
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            streams.push(format!(
                "  # - name: {}\n  #   from: external\n  #   to: {}:{np}           # {t} Service {}/{} port {port} on node {}\n  #   rate: 100/s\n",
                o.name(),
                n.ip,
                o.namespace(),
                o.name(),
                n.name
            ));
        }
    }
    if streams.is_empty() {
        out.push_str("  # traffic: no NodePort or LoadBalancer Service; a stream may go to a\n  # Service's DNS name from pods (`from: {selector: ...}`), see docs/scenario-format.md\n");
    } else {
        out.push_str("  # traffic: one stream per NodePort; uncomment, set the rates (docs/scenario-format.md)\n  # traffic:\n");
        for s in streams {
            out.push_str(&s);
        }
    }
    // Namespaces first: the objects in them need them.
    let mut ordered: Vec<&&Obj> = kept.iter().filter(|o| o.kind() == "Namespace").collect();
    ordered.extend(kept.iter().filter(|o| o.kind() != "Namespace"));
    for o in ordered {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&clean(&o.value)).unwrap_or_default());
    }
    Imported {
        scenario: out,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Imported, Diagnostics> {
        import(
            &[Input {
                file: "dump.yaml",
                text,
            }],
            &ImportOptions {
                name: "t".into(),
                ..ImportOptions::default()
            },
        )
    }

    const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/zone: a, kubernetes.io/hostname: n1}\n  uid: x\nspec:\n  podCIDR: 10.244.5.0/24\n  unschedulable: true\n  taints:\n  - {key: node.kubernetes.io/unschedulable, effect: NoSchedule}\n  - {key: dedicated, value: db, effect: NoExecute}\nstatus:\n  addresses:\n  - {type: Hostname, address: n1}\n  - {type: InternalIP, address: 192.168.9.4}\n  allocatable: {cpu: '2', memory: 4Gi, pods: '50'}\n";

    #[test]
    fn a_node_keeps_its_address_range_labels_taints_and_cordon() {
        let out = run(NODE).unwrap_or_else(|d| panic!("{d}"));
        let s = &out.scenario;
        assert!(
            s.contains("    - name: n1\n      ip: 192.168.9.4\n      podCIDR: 10.244.5.0/24\n"),
            "{s}"
        );
        assert!(
            s.contains("allocatable: {cpu: '2', memory: 4Gi, pods: 50}"),
            "{s}"
        );
        assert!(s.contains("topology.kubernetes.io/zone: a"), "{s}");
        assert!(
            s.contains("- {key: dedicated, value: db, effect: NoExecute}"),
            "{s}"
        );
        assert!(!s.contains("node.kubernetes.io/unschedulable"), "{s}");
        assert!(s.contains("unschedulable: true"), "{s}");
        assert!(
            s.contains("clusterCIDR: 10.244.0.0/16   # the nodes' pod ranges"),
            "{s}"
        );
    }

    #[test]
    fn owned_pods_are_left_to_their_controller_and_bare_pods_kept() {
        let text = format!(
            "{NODE}---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: ReplicaSet\n  metadata: {{name: web-1, namespace: default, uid: u}}\n  spec: {{replicas: 1, selector: {{matchLabels: {{a: b}}}}, template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c, image: web}}]}}}}}}\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web-1-x\n    ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true}}]\n  spec: {{containers: [{{name: c, image: web}}], nodeName: n1}}\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: bare, resourceVersion: '9'}}\n  spec: {{containers: [{{name: c, image: web, terminationMessagePath: /dev/termination-log}}], nodeName: n1}}\n  status: {{phase: Running}}\n"
        );
        let out = run(&text).unwrap_or_else(|d| panic!("{d}"));
        let s = &out.scenario;
        assert!(s.contains("name: web-1\n"), "{s}");
        assert!(!s.contains("name: web-1-x"), "{s}");
        assert!(s.contains("name: bare"), "{s}");
        for gone in [
            "nodeName",
            "resourceVersion",
            "status:",
            "terminationMessagePath",
        ] {
            assert!(!s.contains(gone), "{gone} in {s}");
        }
        assert!(
            out.report.iter().any(|l| l.contains("Pod default/web-1-x")),
            "{:?}",
            out.report
        );
    }

    #[test]
    fn ranges_come_from_the_control_plane_and_options_win() {
        let text = format!(
            "{NODE}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-n1\n  namespace: kube-system\n  ownerReferences: [{{apiVersion: v1, kind: Node, name: n1, uid: u, controller: true}}]\nspec:\n  containers:\n  - name: a\n    image: x\n    command: [kube-apiserver, --service-cluster-ip-range=10.100.0.0/16]\n"
        );
        let out = run(&text).unwrap_or_else(|d| panic!("{d}"));
        assert!(
            out.scenario
                .contains("serviceCIDR: 10.100.0.0/16   # kube-apiserver"),
            "{}",
            out.scenario
        );
        let o = import(
            &[Input {
                file: "d",
                text: &text,
            }],
            &ImportOptions {
                name: "t".into(),
                service_cidr: Some("10.200.0.0/16".parse().unwrap()),
                cluster_cidr: Some("10.0.0.0/8".parse().unwrap()),
            },
        )
        .unwrap();
        assert!(o
            .scenario
            .contains("serviceCIDR: 10.200.0.0/16   # --service-cidr"));
        assert!(o
            .scenario
            .contains("clusterCIDR: 10.0.0.0/8   # --cluster-cidr"));
    }

    #[test]
    fn the_node_port_range_comes_from_the_api_server_else_from_the_services() {
        let svc = "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  type: NodePort\n  selector: {a: b}\n  ports: [{port: 80, nodePort: 8080}]\n";
        let apiserver = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-n1\n  namespace: kube-system\n  ownerReferences: [{apiVersion: v1, kind: Node, name: n1, uid: u, controller: true}]\nspec:\n  containers:\n  - name: a\n    image: x\n    command: [kube-apiserver, --service-node-port-range=8000-9000]\n";
        let out = run(&format!("{NODE}{svc}{apiserver}")).unwrap_or_else(|d| panic!("{d}"));
        assert!(
            out.scenario.contains(
                "serviceNodePortRange: 8000-9000   # kube-apiserver --service-node-port-range"
            ),
            "{}",
            out.scenario
        );
        // without the API server's pod: the default, widened to hold 8080
        let out = run(&format!("{NODE}{svc}")).unwrap_or_else(|d| panic!("{d}"));
        assert!(
            out.scenario
                .contains("serviceNodePortRange: 8080-32767   # the default widened"),
            "{}",
            out.scenario
        );
        // nodePorts inside the default: nothing written
        let out = run(&format!("{NODE}{}", svc.replace("8080}", "30080}")))
            .unwrap_or_else(|d| panic!("{d}"));
        assert!(
            !out.scenario.contains("serviceNodePortRange"),
            "{}",
            out.scenario
        );
    }

    #[test]
    fn the_service_range_is_inferred_from_the_kubernetes_service() {
        let text = format!(
            "{NODE}---\napiVersion: v1\nkind: Service\nmetadata: {{name: kubernetes, namespace: default}}\nspec: {{clusterIP: 10.96.0.1, ports: [{{port: 443}}]}}\n"
        );
        let out = run(&text).unwrap();
        assert!(
            out.scenario
                .contains("serviceCIDR: 10.96.0.0/12   # the kubernetes Service's address"),
            "{}",
            out.scenario
        );
    }

    #[test]
    fn bad_input_names_file_line_column_and_field() {
        let e = run("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.1.0/24}\nstatus:\n  addresses: []\n").unwrap_err();
        let d = &e.0[0];
        assert_eq!(
            (d.file.as_str(), d.line, d.column),
            ("dump.yaml", 6, 3),
            "{d}"
        );
        assert!(d.message.contains("status.addresses"), "{d}");
        let e = run("apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n")
            .unwrap_err();
        assert!(
            e.0[0]
                .to_string()
                .starts_with("dump.yaml:4:3: error: error validating data: [apiVersion not set]"),
            "{}",
            e.0[0]
        );
        let e = run("a: [1,\n").unwrap_err();
        assert_eq!(e.0[0].line, 3, "{}", e.0[0]);
        assert!(e.0[0]
            .message
            .contains("did not find expected node content"));
        let mut cidr = NODE.replace("10.244.5.0/24", "10.9.5.0/24");
        cidr.push_str("---\napiVersion: v1\nkind: Node\nmetadata: {name: n2}\nspec: {podCIDR: 10.244.1.0/24}\nstatus: {addresses: [{type: InternalIP, address: 192.168.9.5}]}\n");
        let e = import(
            &[Input {
                file: "d",
                text: &cidr,
            }],
            &ImportOptions {
                name: "t".into(),
                cluster_cidr: Some("10.244.0.0/16".parse().unwrap()),
                ..ImportOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            e.0[0]
                .message
                .contains("10.9.5.0/24 is not inside the cluster range"),
            "{}",
            e.0[0]
        );
        assert_eq!(e.0[0].line, 8);
    }
}
