//! The API server's validation of the kinds kubesim simulates, with its exact messages.
//!
//! Messages follow `staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go`
//! (`<path>: <Type>: <value>: <detail>`), the syntax checks
//! `staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go` and
//! `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`, and the object rules
//! `pkg/apis/core/validation/validation.go` and `pkg/apis/apps/validation/validation.go`.
//! Only stateless checks live here; allocation conflicts (a nodePort or ClusterIP already
//! taken) depend on what was created before and belong to the simulated API server. The
//! nodePort range and ClusterIP range checks are upstream allocation-time errors too, but
//! stateless, so they are reported here with the allocator's message.

use super::limits;
use super::quantity;
use ipnet::Ipv4Net;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

/// A bad value as `field.Error.ErrorBody` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// Go `%q`.
    Str(String),
    /// Printed bare.
    Int(i64),
    /// Composite values render as JSON (upstream since about v1.34).
    Json(String),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            BadValue::Int(i) => write!(f, "{i}"),
            BadValue::Json(j) => f.write_str(j),
        }
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> BadValue {
    BadValue::Json(serde_json::to_string(v).unwrap_or_default())
}

/// One field error: `spec.ports[0].port: Invalid value: 70000: must be between ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub body: String,
    /// Where in the source the error points when that is not `path`: the field the user
    /// wrote, when `path` itself was defaulted and so is nowhere in the file. The message
    /// keeps `path`, as the API server words it.
    pub at: Option<String>,
}

impl FieldError {
    /// The same error, located at `path` in the source (its message unchanged).
    pub fn located_at(mut self, path: &str) -> Self {
        self.at = Some(path.into());
        self
    }

    /// The field path to point at in the source: [`FieldError::at`] if set, else `path`.
    pub fn location(&self) -> &str {
        self.at.as_deref().unwrap_or(&self.path)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body)
    }
}

fn with_detail(mut s: String, detail: &str) -> String {
    if !detail.is_empty() {
        s.push_str(": ");
        s.push_str(detail);
    }
    s
}

pub fn required(path: &str, detail: &str) -> FieldError {
    FieldError {
        path: path.into(),
        at: None,
        body: with_detail("Required value".into(), detail),
    }
}
pub fn forbidden(path: &str, detail: &str) -> FieldError {
    FieldError {
        path: path.into(),
        at: None,
        body: with_detail("Forbidden".into(), detail),
    }
}
pub fn invalid(path: &str, value: BadValue, detail: &str) -> FieldError {
    FieldError {
        path: path.into(),
        at: None,
        body: with_detail(format!("Invalid value: {value}"), detail),
    }
}
pub fn duplicate(path: &str, value: BadValue) -> FieldError {
    FieldError {
        path: path.into(),
        at: None,
        body: format!("Duplicate value: {value}"),
    }
}
/// A value above one of kubesim's bounds (`limits`), in the API server's `Invalid value`
/// shape: `spec.replicas: Invalid value: 2147483647: must be less than or equal to 300000,
/// kubesim's bound (...)`.
pub fn above_bound(path: &str, value: i64, max: i64) -> FieldError {
    invalid(
        path,
        BadValue::Int(value),
        &format!("must be less than or equal to {max}, {BOUND_NOTE}"),
    )
}

/// A list longer than one of kubesim's bounds, in the shape of upstream's `field.TooMany`.
pub fn too_many(path: &str, len: usize, max: usize) -> FieldError {
    FieldError {
        path: path.into(),
        at: None,
        body: format!("Too many: {len}: must have at most {max} items, {BOUND_NOTE}"),
    }
}

/// What follows a bound in messages.
const BOUND_NOTE: &str = "kubesim's bound (see docs/scenario-format.md)";

pub fn unsupported(path: &str, value: &str, supported: &[&str]) -> FieldError {
    let quoted: Vec<String> = supported
        .iter()
        .map(|s| serde_json::Value::String(s.to_string()).to_string())
        .collect();
    FieldError {
        path: path.into(),
        at: None,
        body: with_detail(
            format!("Unsupported value: {}", BadValue::Str(value.into())),
            &format!("supported values: {}", quoted.join(", ")),
        ),
    }
}

/// kubectl's rendering of a rejected create: one error bare, several in brackets
/// (`utilerrors.NewAggregate`), duplicates dropped (`ErrorList.ToAggregate`).
pub fn invalid_object_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let mut seen = BTreeSet::new();
    let msgs: Vec<String> = errs
        .iter()
        .map(ToString::to_string)
        .filter(|m| seen.insert(m.clone()))
        .collect();
    let body = if msgs.len() == 1 {
        msgs[0].clone()
    } else {
        format!("[{}]", msgs.join(", "))
    };
    format!(
        "The {kind} {} is invalid: {body}",
        BadValue::Str(name.into())
    )
}

// ---- syntax checks (content/kube.go, util/validation/validation.go) ----

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_label_key_name(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns1123_label_re(s: &str) -> bool {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.starts_with(lower_alnum)
        && s.ends_with(lower_alnum)
        && s.chars().all(|c| lower_alnum(c) || c == '-')
}

fn is_dns1123_subdomain_re(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_dns1123_label_re)
}

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !is_dns1123_subdomain_re(s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1123Label`.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !is_dns1123_label_re(s) {
        if is_dns1123_subdomain_re(s) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1035Label`.
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    let ok = is_dns1123_label_re(s) && s.starts_with(|c: char| c.is_ascii_lowercase());
    if !ok {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `content.IsLabelKey`.
pub fn label_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !is_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `content.IsLabelValue`.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !(s.is_empty() || is_label_key_name(s)) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsValidPortName`.
pub fn port_name(p: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if p.len() > 15 {
        errs.push(max_len_error(15));
    }
    if p.is_empty()
        || !p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !p.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if p.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if p.starts_with('-') || p.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn port_num(path: &str, v: i32, errs: &mut Vec<FieldError>) {
    if !(1..=65535).contains(&v) {
        errs.push(invalid(path, BadValue::Int(v.into()), PORT_RANGE));
    }
}

fn nonneg(path: &str, v: i64, errs: &mut Vec<FieldError>) {
    if v < 0 {
        errs.push(invalid(
            path,
            BadValue::Int(v),
            "must be greater than or equal to 0",
        ));
    }
}

/// `ValidateLabels` (`unversionedvalidation`), at `path` (`metadata.labels`).
pub fn labels(l: Option<&BTreeMap<String, String>>, path: &str, errs: &mut Vec<FieldError>) {
    for (k, v) in l.into_iter().flatten() {
        for m in label_key(k) {
            errs.push(invalid(path, BadValue::Str(k.clone()), &m));
        }
        for m in label_value(v) {
            errs.push(invalid(path, BadValue::Str(v.clone()), &m));
        }
    }
}

/// Which name rule a kind's `metadata.name` follows.
#[derive(Clone, Copy)]
pub enum NameRule {
    Subdomain,
    Label1123,
    Label1035,
}

/// `ValidateObjectMeta` for the parts kubesim reads.
pub fn object_meta(
    m: &meta::ObjectMeta,
    path: &str,
    namespaced: bool,
    rule: NameRule,
    errs: &mut Vec<FieldError>,
) {
    let p = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    // A template's name is not validated (it has none).
    if !path.ends_with("template.metadata") {
        match m.name.as_deref() {
            None | Some("") if m.generate_name.as_deref().unwrap_or("").is_empty() => {
                errs.push(required(&p("name"), "name or generateName is required"));
            }
            Some(n) if !n.is_empty() => {
                let msgs = match rule {
                    NameRule::Subdomain => dns1123_subdomain(n),
                    NameRule::Label1123 => dns1123_label(n),
                    NameRule::Label1035 => dns1035_label(n),
                };
                for msg in msgs {
                    errs.push(invalid(&p("name"), BadValue::Str(n.into()), &msg));
                }
            }
            _ => {}
        }
        if namespaced {
            if let Some(ns) = m.namespace.as_deref().filter(|s| !s.is_empty()) {
                for msg in dns1123_label(ns) {
                    errs.push(invalid(&p("namespace"), BadValue::Str(ns.into()), &msg));
                }
            }
        }
    }
    labels(m.labels.as_ref(), &p("labels"), errs);
}

pub(crate) fn label_selector(s: &meta::LabelSelector, path: &str, errs: &mut Vec<FieldError>) {
    labels(
        s.match_labels.as_ref(),
        &format!("{path}.matchLabels"),
        errs,
    );
    for (i, r) in s.match_expressions.iter().flatten().enumerate() {
        let rp = format!("{path}.matchExpressions[{i}]");
        let n = r.values.as_ref().map_or(0, Vec::len);
        match r.operator.as_str() {
            "In" | "NotIn" if n == 0 => errs.push(required(
                &format!("{rp}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if n > 0 => errs.push(forbidden(
                &format!("{rp}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(invalid(
                &format!("{rp}.operator"),
                BadValue::Str(op.into()),
                "not a valid selector operator",
            )),
        }
        for m in label_key(&r.key) {
            errs.push(invalid(
                &format!("{rp}.key"),
                BadValue::Str(r.key.clone()),
                &m,
            ));
        }
    }
}

/// Whether `labels` satisfy the selector, as `metav1.LabelSelectorAsSelector(...).Matches`.
pub fn selector_matches(s: &meta::LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    s.match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
        && s.match_expressions.iter().flatten().all(|r| {
            let vals = r.values.as_deref().unwrap_or(&[]);
            let got = labels.get(&r.key);
            match r.operator.as_str() {
                "In" => got.is_some_and(|v| vals.contains(v)),
                "NotIn" => !got.is_some_and(|v| vals.contains(v)),
                "Exists" => got.is_some(),
                "DoesNotExist" => got.is_none(),
                _ => false,
            }
        })
}

fn quantities(
    m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> BTreeMap<String, quantity::Quantity> {
    let mut out = BTreeMap::new();
    for (k, q) in m.into_iter().flatten() {
        let p = format!("{path}[{k}]");
        match quantity::parse(&q.0) {
            Ok(v) if v.negative => errs.push(invalid(
                &p,
                BadValue::Str(q.0.clone()),
                "must be greater than or equal to 0",
            )),
            Ok(v) => {
                out.insert(k.clone(), v);
            }
            Err(e) => errs.push(invalid(&p, BadValue::Str(q.0.clone()), &e.to_string())),
        }
    }
    out
}

fn probe(pr: &core::Probe, path: &str, liveness_or_startup: bool, errs: &mut Vec<FieldError>) {
    let handlers = [
        pr.exec.is_some(),
        pr.http_get.is_some(),
        pr.tcp_socket.is_some(),
        pr.grpc.is_some(),
    ];
    match handlers.iter().filter(|h| **h).count() {
        0 => errs.push(required(path, "must specify a handler type")),
        1 => {}
        _ => errs.push(forbidden(path, "may not specify more than 1 handler type")),
    }
    let port_ref = |p: &IntOrString, at: &str, errs: &mut Vec<FieldError>| match p {
        IntOrString::Int(n) => port_num(at, *n, errs),
        IntOrString::String(s) => {
            for m in port_name(s) {
                errs.push(invalid(at, BadValue::Str(s.clone()), &m));
            }
        }
    };
    if let Some(h) = &pr.http_get {
        port_ref(&h.port, &format!("{path}.httpGet.port"), errs);
        if let Some(s) = h.scheme.as_deref() {
            if s != "HTTP" && s != "HTTPS" {
                errs.push(unsupported(
                    &format!("{path}.httpGet.scheme"),
                    s,
                    &["HTTP", "HTTPS"],
                ));
            }
        }
    }
    if let Some(t) = &pr.tcp_socket {
        port_ref(&t.port, &format!("{path}.tcpSocket.port"), errs);
    }
    if let Some(g) = &pr.grpc {
        port_num(&format!("{path}.grpc.port"), g.port, errs);
    }
    for (name, v) in [
        ("initialDelaySeconds", pr.initial_delay_seconds),
        ("timeoutSeconds", pr.timeout_seconds),
        ("periodSeconds", pr.period_seconds),
        ("successThreshold", pr.success_threshold),
        ("failureThreshold", pr.failure_threshold),
    ] {
        if let Some(v) = v {
            nonneg(&format!("{path}.{name}"), v.into(), errs);
        }
    }
    if liveness_or_startup {
        if let Some(s) = pr.success_threshold.filter(|s| *s > 1) {
            errs.push(invalid(
                &format!("{path}.successThreshold"),
                BadValue::Int(s.into()),
                "must be 1",
            ));
        }
    }
}

/// `validateLifecycle` and `validateHandler` (`pkg/apis/core/validation/validation.go`): one
/// handler per hook, and a `sleep` that fits in the grace period (`validateSleepAction`, with
/// `PodLifecycleSleepActionAllowZero`, GA in v1.34).
fn lifecycle(l: &core::Lifecycle, path: &str, grace: i64, errs: &mut Vec<FieldError>) {
    for (hook, h) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
        let Some(h) = h else { continue };
        let hp = format!("{path}.{hook}");
        let handlers = [
            h.exec.is_some(),
            h.http_get.is_some(),
            h.tcp_socket.is_some(),
            h.sleep.is_some(),
        ];
        match handlers.iter().filter(|x| **x).count() {
            0 => errs.push(required(&hp, "must specify a handler type")),
            1 => {}
            _ => errs.push(forbidden(&hp, "may not specify more than 1 handler type")),
        }
        if let Some(s) = &h.sleep {
            if s.seconds < 0 || s.seconds > grace {
                errs.push(invalid(
                    &format!("{hp}.sleep"),
                    BadValue::Int(s.seconds),
                    &format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({grace})"
                    ),
                ));
            }
        }
    }
}

fn container(
    c: &core::Container,
    path: &str,
    host_network: bool,
    grace: i64,
    errs: &mut Vec<FieldError>,
) {
    if c.name.is_empty() {
        errs.push(required(&format!("{path}.name"), ""));
    } else {
        for m in dns1123_label(&c.name) {
            errs.push(invalid(
                &format!("{path}.name"),
                BadValue::Str(c.name.clone()),
                &m,
            ));
        }
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&format!("{path}.image"), ""));
    }
    if let Some(p) = c.image_pull_policy.as_deref() {
        if !matches!(p, "Always" | "IfNotPresent" | "Never") {
            errs.push(unsupported(
                &format!("{path}.imagePullPolicy"),
                p,
                &["Always", "IfNotPresent", "Never"],
            ));
        }
    }
    let n_ports = c.ports.as_ref().map_or(0, Vec::len);
    if n_ports > limits::PORTS {
        errs.push(too_many(&format!("{path}.ports"), n_ports, limits::PORTS));
    }
    let mut names = BTreeSet::new();
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
            for m in port_name(n) {
                errs.push(invalid(&format!("{pp}.name"), BadValue::Str(n.into()), &m));
            }
            if !names.insert(n.to_string()) {
                errs.push(duplicate(&format!("{pp}.name"), BadValue::Str(n.into())));
            }
        }
        if p.container_port == 0 {
            errs.push(required(&format!("{pp}.containerPort"), ""));
        } else {
            port_num(&format!("{pp}.containerPort"), p.container_port, errs);
        }
        if let Some(h) = p.host_port.filter(|h| *h != 0) {
            port_num(&format!("{pp}.hostPort"), h, errs);
            if host_network && h != p.container_port {
                errs.push(invalid(
                    &format!("{pp}.hostPort"),
                    BadValue::Int(h.into()),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
        if let Some(proto) = p.protocol.as_deref() {
            if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                errs.push(unsupported(
                    &format!("{pp}.protocol"),
                    proto,
                    &["SCTP", "TCP", "UDP"],
                ));
            }
        }
    }
    if let Some(r) = &c.resources {
        let lim = quantities(r.limits.as_ref(), &format!("{path}.resources.limits"), errs);
        let req = quantities(
            r.requests.as_ref(),
            &format!("{path}.resources.requests"),
            errs,
        );
        for (k, q) in &req {
            if let Some(l) = lim.get(k) {
                if q.cmp_value(l) == std::cmp::Ordering::Greater {
                    let raw = &r.requests.as_ref().expect("parsed from it")[k].0;
                    let lraw = &r.limits.as_ref().expect("parsed from it")[k].0;
                    errs.push(invalid(
                        &format!("{path}.resources.requests"),
                        BadValue::Str(raw.clone()),
                        &format!("must be less than or equal to {k} limit of {lraw}"),
                    ));
                }
            }
        }
    }
    if let Some(l) = &c.lifecycle {
        lifecycle(l, &format!("{path}.lifecycle"), grace, errs);
    }
    if let Some(p) = &c.liveness_probe {
        probe(p, &format!("{path}.livenessProbe"), true, errs);
    }
    if let Some(p) = &c.readiness_probe {
        probe(p, &format!("{path}.readinessProbe"), false, errs);
    }
    if let Some(p) = &c.startup_probe {
        probe(p, &format!("{path}.startupProbe"), true, errs);
    }
}

/// `ValidatePodSpec` for what kubesim reads, at `path` (`spec` or `spec.template.spec`).
pub fn pod_spec(s: &core::PodSpec, path: &str, errs: &mut Vec<FieldError>) {
    let host_network = s.host_network.unwrap_or(false);
    // `SetDefaults_PodSpec`: 30 s.
    let grace = s.termination_grace_period_seconds.unwrap_or(30);
    if s.containers.is_empty() {
        errs.push(required(&format!("{path}.containers"), ""));
    }
    let n_init = s.init_containers.as_ref().map_or(0, Vec::len);
    if s.containers.len() + n_init > limits::CONTAINERS_PER_POD {
        let (key, n) = if s.containers.len() > limits::CONTAINERS_PER_POD {
            ("containers", s.containers.len())
        } else {
            ("initContainers", s.containers.len() + n_init)
        };
        errs.push(too_many(
            &format!("{path}.{key}"),
            n,
            limits::CONTAINERS_PER_POD,
        ));
    }
    let mut names = BTreeSet::new();
    for (i, c) in s.containers.iter().enumerate() {
        let cp = format!("{path}.containers[{i}]");
        if !c.name.is_empty() && !names.insert(c.name.clone()) {
            errs.push(duplicate(
                &format!("{cp}.name"),
                BadValue::Str(c.name.clone()),
            ));
        }
        container(c, &cp, host_network, grace, errs);
    }
    for (i, c) in s.init_containers.iter().flatten().enumerate() {
        container(
            c,
            &format!("{path}.initContainers[{i}]"),
            host_network,
            grace,
            errs,
        );
    }
    if let Some(r) = s.restart_policy.as_deref() {
        if !matches!(r, "Always" | "OnFailure" | "Never") {
            errs.push(unsupported(
                &format!("{path}.restartPolicy"),
                r,
                &["Always", "OnFailure", "Never"],
            ));
        }
    }
    if let Some(t) = s.termination_grace_period_seconds {
        let p = format!("{path}.terminationGracePeriodSeconds");
        nonneg(&p, t, errs);
        if t > limits::GRACE_SECONDS {
            errs.push(above_bound(&p, t, limits::GRACE_SECONDS));
        }
    }
    labels(
        s.node_selector.as_ref(),
        &format!("{path}.nodeSelector"),
        errs,
    );
    for (i, t) in s.tolerations.iter().flatten().enumerate() {
        let tp = format!("{path}.tolerations[{i}]");
        match t.operator.as_deref() {
            None | Some("Equal") | Some("Exists") => {}
            Some(op) => errs.push(unsupported(
                &format!("{tp}.operator"),
                op,
                &["Equal", "Exists"],
            )),
        }
        if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
            if !matches!(e, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                errs.push(unsupported(
                    &format!("{tp}.effect"),
                    e,
                    &["NoExecute", "NoSchedule", "PreferNoSchedule"],
                ));
            }
        }
    }
    dns_policy_and_config(s, path, errs);
    super::affinity::validate(s.affinity.as_ref(), path, errs);
}

/// `validateDNSPolicy` and `validatePodDNSConfig` (`pkg/apis/core/validation/validation.go`):
/// one of the four policies, `dnsConfig` with a nameserver under `None`, at most 3
/// nameservers (`MaxDNSNameservers`), 32 search domains of 2,048 characters in all
/// (`MaxDNSSearchPathsExpanded`, `MaxDNSSearchListCharsExpanded`), each a DNS-1123
/// subdomain (a trailing dot allowed), and a name for each option.
fn dns_policy_and_config(s: &core::PodSpec, path: &str, errs: &mut Vec<FieldError>) {
    const POLICIES: [&str; 4] = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
    if let Some(p) = s.dns_policy.as_deref() {
        if !POLICIES.contains(&p) {
            errs.push(unsupported(&format!("{path}.dnsPolicy"), p, &POLICIES));
        }
    }
    let cp = format!("{path}.dnsConfig");
    if s.dns_policy.as_deref() == Some("None") {
        let Some(c) = &s.dns_config else {
            errs.push(required(
                &cp,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        };
        if c.nameservers.as_ref().is_none_or(Vec::is_empty) {
            errs.push(required(
                &format!("{cp}.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    let Some(c) = &s.dns_config else {
        return;
    };
    let json = |v: &[String]| BadValue::Json(serde_json::to_string(v).unwrap_or_default());
    let nameservers = c.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        errs.push(invalid(
            &format!("{cp}.nameservers"),
            json(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in nameservers.iter().enumerate() {
        let np = format!("{cp}.nameservers[{i}]");
        match n.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => {}
            Ok(std::net::IpAddr::V6(_)) => errs.push(invalid(
                &np,
                BadValue::Str(n.clone()),
                "kubesim's clusters are IPv4 only: an IPv6 nameserver is not simulated",
            )),
            Err(_) => errs.push(invalid(
                &np,
                BadValue::Str(n.clone()),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            )),
        }
    }
    let searches = c.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(invalid(
            &format!("{cp}.searches"),
            json(searches),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(invalid(
            &format!("{cp}.searches"),
            json(searches),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, d) in searches.iter().enumerate() {
        // "it is fine to have a trailing dot"
        let trimmed = d.strip_suffix('.').unwrap_or(d);
        for m in dns1123_subdomain(trimmed) {
            errs.push(invalid(
                &format!("{cp}.searches[{i}]"),
                BadValue::Str(trimmed.to_string()),
                &m,
            ));
        }
    }
    for (i, o) in c.options.iter().flatten().enumerate() {
        if o.name.as_deref().is_none_or(str::is_empty) {
            errs.push(required(
                &format!("{cp}.options[{i}]"),
                "Option.Name must not be empty",
            ));
        }
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`: labels, selector match, and `Always` restarts.
fn template_for_replica_set(
    t: &core::PodTemplateSpec,
    selector: Option<&meta::LabelSelector>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let meta = t.metadata.clone().unwrap_or_default();
    object_meta(
        &meta,
        &format!("{path}.metadata"),
        false,
        NameRule::Subdomain,
        errs,
    );
    let tl = meta.labels.clone().unwrap_or_default();
    // `selector.Empty()` is true only for a written, empty selector; a nil one is
    // `labels.Nothing()`, which is not empty and matches nothing.
    let (empty, matches) = match selector {
        None => (false, false),
        Some(s) => (
            s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
                && s.match_expressions.as_ref().is_none_or(Vec::is_empty),
            selector_matches(s, &tl),
        ),
    };
    if !empty && !matches {
        errs.push(invalid(
            &format!("{path}.metadata.labels"),
            json(&tl),
            "`selector` does not match template `labels`",
        ));
    }
    match &t.spec {
        None => errs.push(required(&format!("{path}.spec"), "")),
        Some(s) => {
            pod_spec(s, &format!("{path}.spec"), errs);
            if let Some(r) = s.restart_policy.as_deref() {
                if r != "Always" {
                    errs.push(unsupported(
                        &format!("{path}.spec.restartPolicy"),
                        r,
                        &["Always"],
                    ));
                }
            }
        }
    }
}

/// `selector` is `None` when `spec.selector` was not written (`k8s-openapi` fills in an
/// empty one): upstream reports it as required, and then, since a nil selector selects
/// nothing (`labels.Nothing()`), the template's labels do not match it either.
fn replicated(
    what: &str,
    replicas: Option<i32>,
    selector: Option<&meta::LabelSelector>,
    template: Option<&core::PodTemplateSpec>,
    errs: &mut Vec<FieldError>,
) {
    if let Some(r) = replicas {
        nonneg("spec.replicas", r.into(), errs);
        if i64::from(r) > limits::PODS {
            errs.push(above_bound("spec.replicas", r.into(), limits::PODS));
        }
    }
    match selector {
        None => errs.push(required("spec.selector", "")),
        Some(selector) => {
            label_selector(selector, "spec.selector", errs);
            let empty = selector
                .match_labels
                .as_ref()
                .is_none_or(BTreeMap::is_empty)
                && selector
                    .match_expressions
                    .as_ref()
                    .is_none_or(Vec::is_empty);
            if empty {
                errs.push(invalid(
                    "spec.selector",
                    json(selector),
                    &format!("empty selector is invalid for {what}"),
                ));
            }
        }
    }
    match template {
        Some(t) => template_for_replica_set(t, selector, "spec.template", errs),
        None => errs.push(required("spec.template", "")),
    }
}

/// A rolling update's `maxSurge` and `maxUnavailable` after the kind's `defaults` (surge,
/// unavailable; `(true, n)` is `n%`), as `ValidateRollingUpdateDeployment` and
/// `ValidateRollingUpdateDaemonSet` check them: each an int or a percentage, unavailable at
/// most 100%, and not both 0.
fn surge_and_unavailable(
    base: &str,
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    defaults: [(bool, i64); 2],
    errs: &mut Vec<FieldError>,
) {
    let surge = max_surge
        .and_then(|v| int_or_percent(v, &format!("{base}.maxSurge"), errs))
        .unwrap_or(defaults[0]);
    let unav = max_unavailable
        .and_then(|v| int_or_percent(v, &format!("{base}.maxUnavailable"), errs))
        .unwrap_or(defaults[1]);
    if unav.0 && unav.1 > 100 {
        errs.push(invalid(
            &format!("{base}.maxUnavailable"),
            BadValue::Str(format!("{}%", unav.1)),
            "must not be greater than 100%",
        ));
    }
    if surge.1 == 0 && unav.1 == 0 {
        errs.push(invalid(
            &format!("{base}.maxUnavailable"),
            match max_unavailable {
                Some(IntOrString::String(s)) => BadValue::Str(s.clone()),
                _ => BadValue::Int(0),
            },
            "may not be 0 when `maxSurge` is 0",
        ));
    }
}

fn int_or_percent(v: &IntOrString, path: &str, errs: &mut Vec<FieldError>) -> Option<(bool, i64)> {
    match v {
        IntOrString::Int(n) => {
            nonneg(path, (*n).into(), errs);
            Some((false, (*n).into()))
        }
        // `IsValidPercent`: `^[0-9]+%$`; a value beyond int64 is held at its largest.
        IntOrString::String(s) => match s
            .strip_suffix('%')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            Some(n) => Some((true, n.parse::<i64>().unwrap_or(i64::MAX))),
            None => {
                errs.push(invalid(
                    path,
                    BadValue::Str(s.clone()),
                    &regex_error(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%",
                        &["1%", "93%"],
                    ),
                ));
                None
            }
        },
    }
}

/// `ValidateDeployment` (`pkg/apis/apps/validation/validation.go`); `has_selector`: whether
/// `spec.selector` was written.
pub fn deployment(d: &apps::Deployment, has_selector: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &d.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    let Some(spec) = &d.spec else {
        errs.push(required("spec.selector", ""));
        errs.push(required("spec.template", ""));
        return errs;
    };
    let selector = has_selector.then_some(&spec.selector);
    replicated(
        "deployment",
        spec.replicas,
        selector,
        Some(&spec.template),
        &mut errs,
    );
    if let Some(st) = &spec.strategy {
        match st.type_.as_deref() {
            None | Some("RollingUpdate") | Some("Recreate") => {}
            Some(t) => errs.push(unsupported(
                "spec.strategy.type",
                t,
                &["Recreate", "RollingUpdate"],
            )),
        }
        if let Some(ru) = &st.rolling_update {
            // Defaults: 25% and 25% (`SetDefaults_Deployment`).
            surge_and_unavailable(
                "spec.strategy.rollingUpdate",
                ru.max_surge.as_ref(),
                ru.max_unavailable.as_ref(),
                [(true, 25), (true, 25)],
                &mut errs,
            );
        }
    }
    // `ValidateDeploymentSpec` (`pkg/apis/apps/validation/validation.go`), after
    // `SetDefaults_Deployment` gave `progressDeadlineSeconds` its 600.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    nonneg("spec.minReadySeconds", min_ready.into(), &mut errs);
    if let Some(limit) = spec.revision_history_limit {
        nonneg("spec.revisionHistoryLimit", limit.into(), &mut errs);
    }
    let deadline = spec.progress_deadline_seconds.unwrap_or(600);
    nonneg("spec.progressDeadlineSeconds", deadline.into(), &mut errs);
    if deadline <= min_ready {
        let e = invalid(
            "spec.progressDeadlineSeconds",
            BadValue::Int(deadline.into()),
            "must be greater than minReadySeconds",
        );
        // A defaulted deadline is nowhere in the file: point at the `minReadySeconds` written
        // (it must have been, to reach 600).
        errs.push(if spec.progress_deadline_seconds.is_none() {
            e.located_at("spec.minReadySeconds")
        } else {
            e
        });
    }
    errs
}

/// `ValidateStatefulSetSpec` (`pkg/apis/apps/validation/validation.go`); `has_selector` as
/// for [`deployment`].
pub fn stateful_set(s: &apps::StatefulSet, has_selector: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &s.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    let Some(spec) = &s.spec else {
        errs.push(required("spec.selector", ""));
        errs.push(required("spec.template", ""));
        return errs;
    };
    replicated(
        "statefulset",
        spec.replicas,
        has_selector.then_some(&spec.selector),
        Some(&spec.template),
        &mut errs,
    );
    match spec.pod_management_policy.as_deref() {
        None | Some("OrderedReady") | Some("Parallel") => {}
        Some(p) => errs.push(unsupported(
            "spec.podManagementPolicy",
            p,
            &["OrderedReady", "Parallel"],
        )),
    }
    if let Some(st) = &spec.update_strategy {
        match st.type_.as_deref() {
            None | Some("RollingUpdate") => {
                if let Some(p) = st.rolling_update.as_ref().and_then(|r| r.partition) {
                    nonneg(
                        "spec.updateStrategy.rollingUpdate.partition",
                        p.into(),
                        &mut errs,
                    );
                }
                // `validateRollingUpdateStatefulSet` (checked whatever the version: below
                // v1.35 the API server drops the field before validating it).
                if let Some(v) = st
                    .rolling_update
                    .as_ref()
                    .and_then(|r| r.max_unavailable.as_ref())
                {
                    let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                    let bad = || match v {
                        IntOrString::Int(n) => BadValue::Int((*n).into()),
                        IntOrString::String(s) => BadValue::Str(s.clone()),
                    };
                    if let Some((percent, n)) = int_or_percent(v, p, &mut errs) {
                        if n == 0 {
                            errs.push(invalid(p, bad(), "cannot be 0"));
                        }
                        if percent && n > 100 {
                            errs.push(invalid(p, bad(), "must not be greater than 100%"));
                        }
                    }
                }
            }
            Some("OnDelete") => {
                if st.rolling_update.is_some() {
                    errs.push(invalid(
                        "spec.updateStrategy.rollingUpdate",
                        BadValue::Str("OnDelete".into()),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    ));
                }
            }
            Some(t) => errs.push(unsupported(
                "spec.updateStrategy.type",
                t,
                &["OnDelete", "RollingUpdate"],
            )),
        }
    }
    nonneg(
        "spec.minReadySeconds",
        spec.min_ready_seconds.unwrap_or(0).into(),
        &mut errs,
    );
    errs
}

/// `ValidateDaemonSetSpec` (`pkg/apis/apps/validation/validation.go`); `has_selector` as for
/// [`deployment`].
pub fn daemon_set(d: &apps::DaemonSet, has_selector: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &d.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    let Some(spec) = &d.spec else {
        errs.push(required("spec.selector", ""));
        errs.push(required("spec.template", ""));
        return errs;
    };
    replicated(
        "daemonset",
        None,
        has_selector.then_some(&spec.selector),
        Some(&spec.template),
        &mut errs,
    );
    if let Some(st) = &spec.update_strategy {
        match st.type_.as_deref() {
            None | Some("RollingUpdate") | Some("OnDelete") => {}
            Some(t) => errs.push(unsupported(
                "spec.updateStrategy.type",
                t,
                &["OnDelete", "RollingUpdate"],
            )),
        }
        if let Some(ru) = &st.rolling_update {
            // Defaults: maxSurge 0, maxUnavailable 1 (`SetDefaults_DaemonSet`).
            surge_and_unavailable(
                "spec.updateStrategy.rollingUpdate",
                ru.max_surge.as_ref(),
                ru.max_unavailable.as_ref(),
                [(false, 0), (false, 1)],
                &mut errs,
            );
        }
    }
    nonneg(
        "spec.minReadySeconds",
        spec.min_ready_seconds.unwrap_or(0).into(),
        &mut errs,
    );
    errs
}

/// `ValidateReplicaSet`; `has_selector` as for [`deployment`].
pub fn replica_set(r: &apps::ReplicaSet, has_selector: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &r.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    match &r.spec {
        None => errs.push(required("spec.selector", "")),
        Some(spec) => {
            // `ValidateReplicaSetSpec` says "deployment" too.
            replicated(
                "deployment",
                spec.replicas,
                has_selector.then_some(&spec.selector),
                spec.template.as_ref(),
                &mut errs,
            );
            nonneg(
                "spec.minReadySeconds",
                spec.min_ready_seconds.unwrap_or(0).into(),
                &mut errs,
            );
        }
    }
    errs
}

/// `ValidatePodCreate`.
pub fn pod(p: &core::Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &p.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    match &p.spec {
        None => errs.push(required("spec.containers", "")),
        Some(s) => pod_spec(s, "spec", &mut errs),
    }
    errs
}

/// `ValidateNamespace`.
pub fn namespace(n: &core::Namespace) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &n.metadata,
        "metadata",
        false,
        NameRule::Label1123,
        &mut errs,
    );
    errs
}

/// Upstream's maximum ClientIP affinity timeout (`core.MaxClientIPServiceAffinitySeconds`).
const MAX_AFFINITY_SECONDS: i32 = 86400;

/// `ValidateService` plus the stateless part of allocation (nodePort and ClusterIP ranges).
pub fn service(
    s: &core::Service,
    service_cidr: Ipv4Net,
    node_port_range: crate::net::config::NodePortRange,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &s.metadata,
        "metadata",
        true,
        NameRule::Label1035,
        &mut errs,
    );
    let spec = s.spec.clone().unwrap_or_default();
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !matches!(
        type_,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errs.push(unsupported(
            "spec.type",
            type_,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let ports = spec.ports.clone().unwrap_or_default();
    if ports.is_empty() && !headless && type_ != "ExternalName" {
        errs.push(required("spec.ports", ""));
    }
    if type_ == "ExternalName" && spec.external_name.as_deref().unwrap_or("").is_empty() {
        errs.push(required("spec.externalName", ""));
    }
    if ports.len() > limits::PORTS {
        errs.push(too_many("spec.ports", ports.len(), limits::PORTS));
    }
    let mut names = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        match p.name.as_deref().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => errs.push(required(&format!("{pp}.name"), "")),
            None => {}
            Some(n) => {
                for m in dns1123_label(n) {
                    errs.push(invalid(&format!("{pp}.name"), BadValue::Str(n.into()), &m));
                }
                if !names.insert(n.to_string()) {
                    errs.push(duplicate(&format!("{pp}.name"), BadValue::Str(n.into())));
                }
            }
        }
        port_num(&format!("{pp}.port"), p.port, &mut errs);
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        if !matches!(proto, "TCP" | "UDP" | "SCTP") {
            errs.push(unsupported(
                &format!("{pp}.protocol"),
                proto,
                &["SCTP", "TCP", "UDP"],
            ));
        }
        match &p.target_port {
            Some(IntOrString::Int(0)) | None => {}
            Some(IntOrString::Int(n)) => port_num(&format!("{pp}.targetPort"), *n, &mut errs),
            Some(IntOrString::String(n)) => {
                for m in port_name(n) {
                    errs.push(invalid(
                        &format!("{pp}.targetPort"),
                        BadValue::Str(n.clone()),
                        &m,
                    ));
                }
            }
        }
        if let Some(np) = p.node_port.filter(|n| *n != 0) {
            if type_ == "ClusterIP" {
                errs.push(forbidden(
                    &format!("{pp}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else {
                if !node_ports.insert((proto.to_string(), np)) {
                    errs.push(duplicate(
                        &format!("{pp}.nodePort"),
                        BadValue::Int(np.into()),
                    ));
                }
                // `pkg/registry/core/service/portallocator/allocator.go`, `ErrNotInRange`.
                if type_ != "ExternalName" && !node_port_range.contains(np.into()) {
                    errs.push(invalid(
                        &format!("{pp}.nodePort"),
                        BadValue::Int(np.into()),
                        &format!(
                            "provided port is not in the valid range. The range of valid ports is {node_port_range}"
                        ),
                    ));
                }
            }
        }
    }
    // spec.clusterIP (and clusterIPs, which must agree with it).
    let ip_text = spec
        .cluster_ip
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| spec.cluster_ips.as_ref().and_then(|v| v.first().cloned()));
    if let Some(ip) = ip_text.filter(|ip| ip != "None") {
        if type_ == "ExternalName" {
            errs.push(forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        } else {
            match ip.parse::<Ipv4Addr>() {
                Err(_) => errs.push(invalid(
                    "spec.clusterIPs[0]",
                    BadValue::Str(ip.clone()),
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )),
                Ok(a) => {
                    // `pkg/registry/core/service/ipallocator`: the network and broadcast
                    // addresses are outside the allocatable range too.
                    let in_range = service_cidr.contains(&a)
                        && a != service_cidr.network()
                        && a != service_cidr.broadcast();
                    if !in_range {
                        errs.push(invalid(
                            "spec.clusterIPs",
                            json(std::slice::from_ref(&ip)),
                            &format!(
                                "failed to allocate IP {ip}: provided IP is not in the valid range. The range of valid IPs is {service_cidr}"
                            ),
                        ));
                    }
                }
            }
        }
    }
    match spec.session_affinity.as_deref() {
        None | Some("None") => {}
        Some("ClientIP") => {
            let t = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            if let Some(t) = t {
                if t <= 0 || t > MAX_AFFINITY_SECONDS {
                    errs.push(invalid(
                        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                        BadValue::Int(t.into()),
                        &format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"),
                    ));
                }
            }
        }
        Some(a) => errs.push(unsupported(
            "spec.sessionAffinity",
            a,
            &["ClientIP", "None"],
        )),
    }
    // `ValidateService` (pkg/apis/core/validation/validation.go): source ranges only on a
    // LoadBalancer, each a CIDR once trimmed (the field path's capital L is upstream's).
    if let Some(ranges) = spec
        .load_balancer_source_ranges
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        if type_ != "LoadBalancer" {
            errs.push(forbidden(
                "spec.loadBalancerSourceRanges",
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            if r.trim().parse::<ipnet::IpNet>().is_err() {
                errs.push(invalid(
                    &format!("spec.LoadBalancerSourceRanges[{i}]"),
                    BadValue::Str(r.trim().into()),
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
            }
        }
    }
    let externally_accessible = matches!(type_, "NodePort" | "LoadBalancer")
        || spec.external_ips.as_ref().is_some_and(|v| !v.is_empty());
    if let Some(p) = spec.external_traffic_policy.as_deref() {
        if !externally_accessible {
            errs.push(invalid(
                "spec.externalTrafficPolicy",
                BadValue::Str(p.into()),
                "may only be set for externally-accessible services",
            ));
        } else if !matches!(p, "Cluster" | "Local") {
            errs.push(unsupported(
                "spec.externalTrafficPolicy",
                p,
                &["Cluster", "Local"],
            ));
        }
    }
    if let Some(p) = spec.internal_traffic_policy.as_deref() {
        if !matches!(p, "Cluster" | "Local") {
            errs.push(unsupported(
                "spec.internalTrafficPolicy",
                p,
                &["Cluster", "Local"],
            ));
        }
    }
    health_check_node_port(&spec, type_, &mut errs);
    ip_families(&spec, type_, headless, &mut errs);
    // `validateServiceTrafficDistribution` (`pkg/apis/core/validation/validation.go`), with
    // the `PreferSameTrafficDistribution` gate on as in 1.34.
    if let Some(d) = spec.traffic_distribution.as_deref() {
        let supported = ["PreferClose", "PreferSameNode", "PreferSameZone"];
        if !supported.contains(&d) {
            errs.push(unsupported("spec.trafficDistribution", d, &supported));
        }
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        if ip.parse::<Ipv4Addr>().is_err() {
            errs.push(invalid(
                &format!("spec.externalIPs[{i}]"),
                BadValue::Str(ip.clone()),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    labels(spec.selector.as_ref(), "spec.selector", &mut errs);
    errs
}

/// `spec.healthCheckNodePort` only where the API server allocates one: a LoadBalancer Service
/// with `externalTrafficPolicy: Local` (`validateServiceExternalTrafficPolicy` in
/// `pkg/apis/core/validation/validation.go`, `apiservice.NeedsHealthCheck`). Where it belongs,
/// a written one must be a valid port number.
fn health_check_node_port(spec: &core::ServiceSpec, type_: &str, errs: &mut Vec<FieldError>) {
    let Some(port) = spec.health_check_node_port.filter(|p| *p != 0) else {
        return;
    };
    let path = "spec.healthCheckNodePort";
    let local = spec.external_traffic_policy.as_deref() == Some("Local");
    if type_ == "LoadBalancer" && local {
        port_num(path, port, errs);
    } else {
        errs.push(invalid(
            path,
            BadValue::Int(port.into()),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
}

/// `spec.ipFamilies` and `spec.ipFamilyPolicy` on kubesim's single-stack IPv4 cluster: the
/// values `ValidateService` accepts (`validateIPFamilies`, `validateIPFamilyPolicy` in
/// `pkg/apis/core/validation/validation.go`), then what the Service registry refuses when it
/// defaults the families (`initIPFamilyFields` in `pkg/registry/core/service/storage/alloc.go`):
/// a family without an allocator is "not configured on this cluster", and `RequireDualStack`
/// needs two. Skipped, as there, for ExternalName and for a headless Service without selector.
fn ip_families(spec: &core::ServiceSpec, type_: &str, headless: bool, errs: &mut Vec<FieldError>) {
    let policy = spec.ip_family_policy.as_deref();
    if let Some(p) = policy {
        if !matches!(p, "SingleStack" | "PreferDualStack" | "RequireDualStack") {
            errs.push(unsupported(
                "spec.ipFamilyPolicy",
                p,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    let families = spec.ip_families.clone().unwrap_or_default();
    let mut known = true;
    for (i, f) in families.iter().enumerate() {
        if !matches!(f.as_str(), "IPv4" | "IPv6") {
            known = false;
            errs.push(unsupported(
                &format!("spec.ipFamilies[{i}]"),
                f,
                &["IPv4", "IPv6"],
            ));
        }
    }
    let selectorless = spec.selector.as_ref().is_none_or(|s| s.is_empty());
    if type_ == "ExternalName" || (headless && selectorless) || !known {
        return;
    }
    if policy == Some("RequireDualStack") {
        errs.push(invalid(
            "spec.ipFamilyPolicy",
            BadValue::Str("RequireDualStack".into()),
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, f) in families.iter().enumerate() {
        if f == "IPv6" {
            errs.push(invalid(
                &format!("spec.ipFamilies[{i}]"),
                BadValue::Str(f.clone()),
                "not configured on this cluster",
            ));
        }
    }
}

/// Services whose selector matches no pod the scenario makes (from a Deployment's or a
/// ReplicaSet's template, a bare Pod, or an object a timeline event applies) in their
/// namespace: `(index of the Service in objects, message)`, for a warning at its
/// `spec.selector`. Such a Service is valid (upstream accepts it) but has no endpoints, the
/// lesson's "mistype a label". The message names, for each pair of the selector that no pod
/// carries, the nearest `key: value` that does exist there (Levenshtein distance over
/// `key: value`), or says that no pod carries all the pairs together. A Service without a
/// selector (endpoints managed by hand) is not checked.
pub fn unmatched_selectors(
    objects: &[crate::model::objects::Object],
    applied: &[&crate::model::objects::Object],
) -> Vec<(usize, String)> {
    use crate::model::objects::Object;
    let pod_labels = |o: &Object| -> Option<(String, BTreeMap<String, String>)> {
        match o {
            Object::Deployment(d) => {
                Some((d.meta.namespace.clone(), d.template.meta.labels.clone()))
            }
            Object::ReplicaSet(r) => {
                Some((r.meta.namespace.clone(), r.template.meta.labels.clone()))
            }
            Object::StatefulSet(s) => {
                Some((s.meta.namespace.clone(), s.template.meta.labels.clone()))
            }
            Object::DaemonSet(d) => {
                Some((d.meta.namespace.clone(), d.template.meta.labels.clone()))
            }
            Object::Pod(p) => Some((p.meta.namespace.clone(), p.meta.labels.clone())),
            _ => None,
        }
    };
    let pods: Vec<(String, BTreeMap<String, String>)> = objects
        .iter()
        .chain(applied.iter().copied())
        .filter_map(pod_labels)
        .collect();
    let yaml = |k: &str, v: &str| format!("{k}: {v}");
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let Object::Service(svc) = o else { continue };
        let selector = &svc.spec.selector;
        let ns = &svc.meta.namespace;
        if selector.is_empty() {
            continue;
        }
        let here: Vec<&BTreeMap<String, String>> = pods
            .iter()
            .filter(|(n, _)| n == ns)
            .map(|(_, l)| l)
            .collect();
        if here
            .iter()
            .any(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
        {
            continue;
        }
        let existing: BTreeSet<String> = here
            .iter()
            .flat_map(|l| l.iter().map(|(k, v)| yaml(k, v)))
            .collect();
        let mut missing = Vec::new();
        for (k, v) in selector {
            let pair = yaml(k, v);
            if existing.contains(&pair) {
                continue;
            }
            let nearest = existing
                .iter()
                .map(|e| (strsim::levenshtein(&pair, e), e))
                .min();
            missing.push(match nearest {
                Some((_, e)) => format!("`{pair}` (nearest that exists: `{e}`)"),
                None => format!("`{pair}`"),
            });
        }
        let what = if here.is_empty() {
            format!("its selector matches no pod in namespace {ns} (the scenario makes none there)")
        } else if missing.is_empty() {
            format!("no pod in namespace {ns} carries all of its labels together")
        } else {
            format!("no pod in namespace {ns} carries {}", missing.join(" or "))
        };
        out.push((
            i,
            format!(
                "Service {:?}: {what}: it will have no endpoints, and connections to it are refused",
                svc.meta.name
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_value_message_is_upstreams() {
        let mut errs = Vec::new();
        let l: BTreeMap<String, String> = [("app".to_string(), "-bad-".to_string())].into();
        labels(Some(&l), "metadata.labels", &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "metadata.labels: Invalid value: \"-bad-\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
    }

    #[test]
    fn several_errors_join_in_brackets() {
        let e = [required("a", ""), required("b", ""), required("a", "")];
        assert_eq!(
            invalid_object_message("Service", "x", &e),
            "The Service \"x\" is invalid: [a: Required value, b: Required value]"
        );
        assert_eq!(
            invalid_object_message("Service", "x", &e[..1]),
            "The Service \"x\" is invalid: a: Required value"
        );
    }

    #[test]
    fn names_follow_their_rules() {
        assert!(dns1035_label("http-svc").is_empty());
        assert!(!dns1035_label("1svc").is_empty());
        assert!(dns1123_subdomain("http.deployment").is_empty());
        assert_eq!(
            dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert!(label_key("app.kubernetes.io/name").is_empty());
        assert!(!label_key("a/b/c").is_empty());
        assert!(port_name("http").is_empty());
        assert!(!port_name("80").is_empty());
    }
}
