//! The `kind: Scenario` document: raw keys as written (serde), then checked and resolved
//! into the simulation's types, every problem named by its field path and position.

use super::diag::Diagnostic;
use super::limits;
use super::quantity;
use super::validate;
use super::yaml::PosMap;
use crate::engine::SimDuration;
use crate::model::config::{NodeConfig, RegistryConfig, Taint};
use crate::model::objects::{Labels, Object, Resources};
use crate::net::config::{IpvsScheduler, NetConfig, NetworkLatency, ProxyMode};
use crate::sim::config::{Action, Pick, PodTarget, ProbeKind, Scenario, SetKind, TimelineEvent};
use crate::traffic::request::FailReason;
use crate::traffic::spec::{
    Arrival, Behavior, ClientSource, ConnectionPolicy, Destination, ProfileShape, RateProfile,
    RetryPolicy, ServiceTime, StreamSpec,
};
use ipnet::Ipv4Net;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

pub const API_VERSION: &str = "kubesim.dev/v1alpha1";

/// A scalar of any YAML type, kept as text (`60s`, `0`, `2.5/s`, `"1.34"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawScenario {
    pub api_version: Option<String>,
    /// Always `Scenario` (the document was picked by it); a known key, so no warning.
    #[allow(dead_code)]
    pub kind: Option<String>,
    pub metadata: Option<RawMeta>,
    pub spec: Option<RawSpec>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMeta {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSpec {
    pub seed: Option<u64>,
    pub duration: Option<Text>,
    pub warmup: Option<Text>,
    pub kubernetes_version: Option<Text>,
    pub cluster: Option<RawCluster>,
    pub registry: Option<RawRegistry>,
    pub manifests: Option<Vec<String>>,
    pub behaviors: Option<Vec<RawBehavior>>,
    pub traffic: Option<Vec<RawStream>>,
    pub events: Option<Vec<RawEvent>>,
    pub expect: Option<Vec<super::expect::RawExpect>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawCluster {
    pub proxy_mode: Option<String>,
    pub ipvs_scheduler: Option<String>,
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: Option<String>,
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: Option<String>,
    #[serde(rename = "loadBalancerIPs")]
    pub load_balancer_ips: Option<String>,
    pub service_node_port_range: Option<String>,
    pub addons: Option<Vec<String>>,
    pub network: Option<RawNetwork>,
    pub kube_proxy: Option<RawKubeProxy>,
    pub endpoint_slice_batch_period: Option<Text>,
    pub nodes: Option<Vec<RawNode>>,
    pub node_pool: Option<super::nodepool::RawNodePool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawKubeProxy {
    pub min_sync_period: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawNetwork {
    pub same_node: Option<Text>,
    pub cross_node: Option<Text>,
    pub external: Option<Text>,
    pub cross_zone: Option<Text>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawNode {
    pub name: Option<String>,
    pub ip: Option<String>,
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
    pub unschedulable: Option<bool>,
    pub allocatable: Option<RawAllocatable>,
    pub labels: Option<BTreeMap<String, String>>,
    pub taints: Option<Vec<RawTaint>>,
    pub images: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawAllocatable {
    pub cpu: Option<Text>,
    pub memory: Option<Text>,
    pub pods: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawTaint {
    pub key: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRegistry {
    pub images: Option<Vec<String>>,
    pub pull_time: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBehavior {
    pub image: Option<String>,
    pub service_time: Option<RawServiceTime>,
    pub concurrency: Option<i64>,
    pub keep_alive_timeout: Option<Text>,
    pub exit_after: Option<Text>,
    pub exit_code: Option<i64>,
    pub queue_limit: Option<i64>,
    pub cpu_per_request: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServiceTime {
    pub distribution: Option<String>,
    pub mean: Option<Text>,
    pub value: Option<Text>,
    pub median: Option<Text>,
    pub p99: Option<Text>,
    pub min: Option<Text>,
    pub max: Option<Text>,
    pub file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawStream {
    pub name: Option<String>,
    pub from: Option<RawFrom>,
    pub clients: Option<i64>,
    pub to: Option<Text>,
    pub rate: Option<Text>,
    pub arrival: Option<String>,
    pub start: Option<Text>,
    pub stop: Option<Text>,
    pub timeout: Option<Text>,
    pub connections: Option<RawConnections>,
    pub profile: Option<RawProfile>,
    pub users: Option<i64>,
    pub think_time: Option<RawServiceTime>,
    pub retries: Option<RawRetries>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawProfile {
    pub shape: Option<String>,
    pub points: Option<Vec<RawPoint>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPoint {
    pub at: Option<Text>,
    pub rate: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawRetries {
    pub max: Option<i64>,
    pub backoff: Option<RawBackoff>,
    pub budget: Option<Text>,
    pub min_retries_per_second: Option<i64>,
    pub on: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawBackoff {
    pub initial: Option<Text>,
    pub max: Option<Text>,
    pub multiplier: Option<Text>,
    pub jitter: Option<Text>,
}

/// `from: external` or `from: {selector: app=client}`.
#[derive(Debug)]
pub enum RawFrom {
    Name(String),
    Selector(Option<String>),
}

impl<'de> Deserialize<'de> for RawFrom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawFrom;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`external` or a mapping with `selector`")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawFrom, E> {
                Ok(RawFrom::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<RawFrom, A::Error> {
                let mut sel = None;
                while let Some(k) = m.next_key::<String>()? {
                    if k == "selector" {
                        sel = Some(m.next_value::<Text>()?.0);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(RawFrom::Selector(sel))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawConnections {
    pub reuse: Option<bool>,
    pub max_requests: Option<i64>,
    pub idle_timeout: Option<Text>,
    pub max_per_destination: Option<i64>,
}

/// One entry of `spec.events`: `at` and exactly one action key.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawEvent {
    pub at: Option<Text>,
    pub delete_pod: Option<RawDeletePod>,
    pub kill_container: Option<RawKillContainer>,
    pub fail_probe: Option<RawFailProbe>,
    pub node_down: Option<RawNodeRef>,
    pub node_up: Option<RawNodeRef>,
    pub cordon: Option<RawNodeRef>,
    pub uncordon: Option<RawNodeRef>,
    pub drain: Option<RawNodeRef>,
    pub scale: Option<RawScale>,
    pub rollout_restart: Option<RawRolloutRestart>,
    pub set_image: Option<RawSetImage>,
    /// A Kubernetes object, parsed later with its `k8s-openapi` type (see `scenario::load_str`),
    /// so unknown keys inside it are reported there, with the object's own rules.
    pub apply: Option<serde_yaml::Value>,
    pub delete: Option<RawDelete>,
}

impl RawEvent {
    /// The action keys present, in the order of [`ACTION_KEYS`].
    fn actions(&self) -> Vec<&'static str> {
        let present = [
            self.delete_pod.is_some(),
            self.kill_container.is_some(),
            self.fail_probe.is_some(),
            self.node_down.is_some(),
            self.node_up.is_some(),
            self.cordon.is_some(),
            self.uncordon.is_some(),
            self.drain.is_some(),
            self.scale.is_some(),
            self.rollout_restart.is_some(),
            self.set_image.is_some(),
            self.apply.is_some(),
            self.delete.is_some(),
        ];
        ACTION_KEYS
            .iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Every action key of `spec.events[]`, as written in the YAML.
pub const ACTION_KEYS: [&str; 13] = [
    "deletePod",
    "killContainer",
    "failProbe",
    "nodeDown",
    "nodeUp",
    "cordon",
    "uncordon",
    "drain",
    "scale",
    "rolloutRestart",
    "setImage",
    "apply",
    "delete",
];

#[derive(Debug, Default, Deserialize)]
pub struct RawDeletePod {
    pub name: Option<String>,
    pub selector: Option<Text>,
    pub pick: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawKillContainer {
    pub pod: Option<String>,
    pub selector: Option<Text>,
    pub pick: Option<String>,
    pub container: Option<String>,
    pub exit_code: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFailProbe {
    pub pod: Option<String>,
    pub selector: Option<Text>,
    pub pick: Option<String>,
    pub probe: Option<String>,
    #[serde(rename = "for")]
    pub for_: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawNodeRef {
    pub node: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawScale {
    pub deployment: Option<String>,
    pub replicas: Option<i64>,
}

/// `rolloutRestart`: exactly one of `deployment`, `statefulset`, `daemonset`.
#[derive(Debug, Default, Deserialize)]
pub struct RawRolloutRestart {
    pub deployment: Option<String>,
    pub statefulset: Option<String>,
    pub daemonset: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSetImage {
    pub deployment: Option<String>,
    pub container: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawDelete {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// Where diagnostics of the Scenario document go, and how paths become positions.
pub struct Ctx<'a> {
    pub file: &'a str,
    pub line_offset: usize,
    pub pos: &'a PosMap,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn at(&self, path: &str) -> (usize, usize) {
        self.pos
            .locate(path)
            .map_or((self.line_offset + 1, 1), |p| {
                (p.line + self.line_offset, p.col)
            })
    }
    pub fn err(&mut self, path: &str, msg: impl std::fmt::Display) {
        let (l, c) = self.at(path);
        self.diags
            .push(Diagnostic::error(self.file, l, c, format!("{path}: {msg}")));
    }
    pub fn warn(&mut self, path: &str, msg: impl std::fmt::Display) {
        let (l, c) = self.at(path);
        self.diags.push(Diagnostic::warning(
            self.file,
            l,
            c,
            format!("{path}: {msg}"),
        ));
    }
    pub(super) fn dur(&mut self, path: &str, t: Option<&Text>) -> Option<SimDuration> {
        let t = t?;
        match SimDuration::parse(&t.0) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }
    pub(super) fn positive_dur(&mut self, path: &str, t: Option<&Text>) -> Option<SimDuration> {
        let d = self.dur(path, t)?;
        if d.is_zero() {
            self.err(path, "must be greater than 0");
            return None;
        }
        Some(d)
    }
    /// An integer from `min` to `max` (kubesim's bound), or `default` when absent.
    pub(super) fn bounded(
        &mut self,
        path: &str,
        v: Option<i64>,
        min: i64,
        max: i64,
        default: u32,
    ) -> u32 {
        match v {
            None => default,
            Some(n) if n < min => {
                self.err(path, format!("invalid value {n}: must be at least {min}"));
                default
            }
            Some(n) if n > max => {
                self.err(path, limits::above(format!("invalid value {n}"), max));
                default
            }
            Some(n) => u32::try_from(n).unwrap_or(default),
        }
    }
    /// Whether the list at `path` has at most `max` entries; an error naming the bound if not.
    fn list_fits(&mut self, path: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.err(path, limits::above(format!("{len} entries"), max));
            return false;
        }
        true
    }
    /// A stream's rate, checked against kubesim's bound.
    fn rate(&mut self, path: &str, text: &str) -> Option<f64> {
        match parse_rate(text) {
            Ok(r) if r > limits::RATE_PER_SECOND => {
                self.err(
                    path,
                    limits::above(
                        format!("rate {text:?}"),
                        format_args!("{}/s", limits::RATE_PER_SECOND),
                    ),
                );
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }
}

/// A selector written `app=client,tier=web` (also `==`).
pub fn parse_selector(s: &str) -> Result<Labels, String> {
    let mut out = Labels::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once("==")
            .or_else(|| part.split_once('='))
            .ok_or_else(|| format!("invalid selector {s:?}: expected key=value[,key=value]"))?;
        let (k, v) = (k.trim(), v.trim());
        if let Some(m) = validate::label_key(k).into_iter().next() {
            return Err(format!("invalid selector key {k:?}: {m}"));
        }
        if let Some(m) = validate::label_value(v).into_iter().next() {
            return Err(format!("invalid selector value {v:?}: {m}"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    if out.is_empty() {
        return Err(format!(
            "invalid selector {s:?}: expected key=value[,key=value]"
        ));
    }
    Ok(out)
}

pub use crate::traffic::spec::parse_rate;

/// `192.168.0.24:30001` or `http-svc.default.svc.cluster.local:8080`.
pub fn parse_destination(s: &str) -> Result<Destination, String> {
    let bad = || format!("invalid destination {s:?}: expected IP:port or name:port");
    let (host, port) = s.trim().rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(format!(
            "invalid destination {s:?}: port must be between 1 and 65535"
        ));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Destination::Addr(ip, port));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.parse::<Ipv4Addr>().is_ok() {
        // `9.2.8.0.`: a name only by its dot, and read back as the address it spells (found by
        // the destination fuzz target).
        return Err(format!(
            "invalid destination {s:?}: {host:?} is an IPv4 address with a trailing dot; write it without the dot"
        ));
    }
    if !validate::dns1123_subdomain(name).is_empty() {
        return Err(format!(
            "invalid destination {s:?}: {host:?} is neither an IPv4 address nor a DNS name"
        ));
    }
    Ok(Destination::Name(name.to_string(), port))
}

fn empirical(path: &Path) -> Result<Vec<SimDuration>, String> {
    let text = super::files::read_text(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let field = line
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if field.is_empty() || field.starts_with('#') {
            continue;
        }
        // A bare number is milliseconds; a number with a unit is a duration (`4.2ms`, `850us`).
        let with_unit = field.ends_with(|c: char| c.is_ascii_alphabetic() || c == 'µ');
        let parsed = if with_unit && field.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            SimDuration::parse(field)
                .map(Some)
                .map_err(|e| e.to_string())
        } else {
            match field.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms >= 0.0 => {
                    Ok(Some(SimDuration::from_secs_f64(ms / 1000.0)))
                }
                Ok(_) => Err("latency must be a non-negative number of milliseconds".to_string()),
                Err(_) if out.is_empty() && i == 0 => Ok(None), // a header
                Err(_) => Err(format!(
                    "{field:?} is not a latency: expected milliseconds (4.2) or a duration (4.2ms)"
                )),
            }
        };
        match parsed {
            Ok(Some(_)) if out.len() == limits::SAMPLES => {
                return Err(format!(
                    "{}: more than {} latencies, kubesim's bound (see docs/scenario-format.md)",
                    path.display(),
                    limits::SAMPLES
                ))
            }
            Ok(Some(d)) => out.push(d),
            Ok(None) => {}
            Err(e) => return Err(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    if out.is_empty() {
        return Err(format!("{} holds no latencies", path.display()));
    }
    Ok(out)
}

/// `profile: {shape: linear | step, points: [{at: 0s, rate: 100/s}, ...]}`.
fn profile(ctx: &mut Ctx, p: &str, raw: &RawProfile) -> Option<RateProfile> {
    let shape = match raw.shape.as_deref() {
        None | Some("linear") => ProfileShape::Linear,
        Some("step") => ProfileShape::Step,
        Some(other) => {
            ctx.err(
                &format!("{p}.shape"),
                format!("unknown shape {other:?}: expected linear or step"),
            );
            return None;
        }
    };
    let Some(raw_points) = raw.points.as_ref().filter(|v| !v.is_empty()) else {
        ctx.err(
            &format!("{p}.points"),
            "required: at least one {at, rate} point",
        );
        return None;
    };
    if !ctx.list_fits(
        &format!("{p}.points"),
        raw_points.len(),
        limits::PROFILE_POINTS,
    ) {
        return None;
    }
    let mut points: Vec<(SimDuration, f64)> = Vec::new();
    let mut ok = true;
    for (i, pt) in raw_points.iter().enumerate() {
        let pp = format!("{p}.points[{i}]");
        let at = match &pt.at {
            None => {
                ctx.err(&format!("{pp}.at"), "required");
                None
            }
            t => ctx.dur(&format!("{pp}.at"), t.as_ref()),
        };
        let rate = match &pt.rate {
            None => {
                ctx.err(&format!("{pp}.rate"), "required, e.g. 100/s or 0");
                None
            }
            Some(t) if t.0.trim().trim_end_matches("/s").trim() == "0" => Some(0.0),
            Some(t) => ctx.rate(&format!("{pp}.rate"), &t.0),
        };
        match (at, rate) {
            (Some(at), Some(rate)) => {
                if let Some((last, _)) = points.last() {
                    if at <= *last {
                        ctx.err(
                            &format!("{pp}.at"),
                            format!("must be after the previous point ({last})"),
                        );
                        ok = false;
                    }
                }
                points.push((at, rate));
            }
            _ => ok = false,
        }
    }
    if ok && points.iter().all(|(_, r)| *r <= 0.0) {
        ctx.err(
            &format!("{p}.points"),
            "every rate is 0: the stream would send nothing",
        );
        ok = false;
    }
    ok.then_some(RateProfile { shape, points })
}

/// `retries: {max, backoff: {initial, max, multiplier, jitter}, budget, minRetriesPerSecond, on}`.
fn retries(ctx: &mut Ctx, p: &str, raw: &RawRetries) -> Option<RetryPolicy> {
    let max = ctx.bounded(&format!("{p}.max"), raw.max, 0, limits::RETRIES, 3);
    let b = raw.backoff.as_ref();
    let bp = format!("{p}.backoff");
    let initial = ctx
        .dur(&format!("{bp}.initial"), b.and_then(|b| b.initial.as_ref()))
        .unwrap_or(SimDuration::from_millis(100));
    let max_backoff = ctx
        .dur(&format!("{bp}.max"), b.and_then(|b| b.max.as_ref()))
        .unwrap_or(SimDuration::from_secs(2));
    let number = |ctx: &mut Ctx, key: &str, t: Option<&Text>, lo: f64, hi: f64, default: f64| {
        let Some(t) = t else { return default };
        match t.0.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= lo && v <= hi => v,
            _ => {
                ctx.err(
                    &format!("{bp}.{key}"),
                    format!(
                        "invalid value {:?}: expected a number from {lo} to {hi}",
                        t.0
                    ),
                );
                default
            }
        }
    };
    let multiplier = number(
        ctx,
        "multiplier",
        b.and_then(|b| b.multiplier.as_ref()),
        1.0,
        100.0,
        2.0,
    );
    let jitter = number(
        ctx,
        "jitter",
        b.and_then(|b| b.jitter.as_ref()),
        0.0,
        1.0,
        0.0,
    );
    let budget = match &raw.budget {
        None => None,
        Some(t) => {
            let txt = t.0.trim();
            let v = match txt.strip_suffix('%') {
                Some(pct) => pct.trim().parse::<f64>().ok().map(|v| v / 100.0),
                None => txt.parse::<f64>().ok(),
            };
            match v {
                Some(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    ctx.err(
                        &format!("{p}.budget"),
                        format!("invalid budget {txt:?}: expected a share of requests such as 20% or 0.2"),
                    );
                    None
                }
            }
        }
    };
    if raw.budget.is_none() && raw.min_retries_per_second.is_some() {
        ctx.warn(
            &format!("{p}.minRetriesPerSecond"),
            "has no effect without budget",
        );
    }
    let min_per_second = ctx.bounded(
        &format!("{p}.minRetriesPerSecond"),
        raw.min_retries_per_second,
        0,
        limits::COUNT,
        10,
    );
    let on = match &raw.on {
        None => vec![
            FailReason::Timeout,
            FailReason::Http503,
            FailReason::ConnectionRefused,
        ],
        Some(list) => {
            let mut on = Vec::new();
            ctx.list_fits(&format!("{p}.on"), list.len(), limits::LIST);
            for (i, name) in list.iter().enumerate().take(limits::LIST) {
                match FailReason::ALL.iter().find(|r| r.as_str() == name.as_str()) {
                    Some(r) => on.push(*r),
                    None => ctx.err(
                        &format!("{p}.on[{i}]"),
                        format!(
                            "unknown failure {name:?}: expected one of {}",
                            FailReason::ALL.map(FailReason::as_str).join(", ")
                        ),
                    ),
                }
            }
            on
        }
    };
    Some(RetryPolicy {
        max,
        initial,
        max_backoff,
        multiplier,
        jitter,
        budget,
        min_per_second,
        on,
    })
}

fn cidr(ctx: &mut Ctx, path: &str, v: Option<&String>) -> Option<Ipv4Net> {
    let s = v?;
    match s.trim().parse::<Ipv4Net>() {
        Ok(n) if n.trunc() == n => Some(n),
        Ok(n) => {
            ctx.err(
                path,
                format!(
                    "invalid CIDR {s:?}: host bits set (did you mean {}?)",
                    n.trunc()
                ),
            );
            None
        }
        Err(_) => {
            ctx.err(
                path,
                format!("invalid CIDR {s:?}: expected an IPv4 network such as 10.96.0.0/12"),
            );
            None
        }
    }
}

/// Every node gets a `/node_cidr_mask` range of the cluster CIDR, in order
/// (`net::ipam::node_pod_cidrs`): more nodes than ranges is an error at `clusterCIDR`, or, with
/// the default range, at the first node left without one. Upstream such a node gets no
/// `podCIDR` (`CIDRNotAvailable`) and never turns Ready.
fn node_ranges(ctx: &mut Ctx, c: &RawCluster, net: &NetConfig, nodes: usize) {
    let bits = u32::from(
        net.node_cidr_mask
            .saturating_sub(net.cluster_cidr.prefix_len()),
    );
    let ranges = 1u64.checked_shl(bits).unwrap_or(u64::MAX);
    if nodes as u64 <= ranges {
        return;
    }
    let what = format!(
        "{nodes} nodes need {nodes} /{} pod ranges, and clusterCIDR {} holds {ranges}",
        net.node_cidr_mask, net.cluster_cidr
    );
    // The smallest range that holds them all, e.g. /11 for 5,000 nodes in /24s.
    let need = u64::BITS - (nodes as u64 - 1).leading_zeros();
    let prefix = u32::from(net.node_cidr_mask).saturating_sub(need);
    let hint = format!("use a /{prefix} or larger, such as 10.0.0.0/{prefix}");
    if c.cluster_cidr.is_some() {
        ctx.err("spec.cluster.clusterCIDR", format!("{what}: {hint}"));
    } else {
        ctx.err(
            &format!("spec.cluster.nodes[{ranges}]"),
            format!("no pod range left for this node: {what} (the default): set spec.cluster.clusterCIDR, {hint}"),
        );
    }
}

/// The nodes' own `podCIDR`s: each inside the cluster CIDR (kube-proxy and the CNI plugin
/// take the cluster CIDR as the pods' addresses), at most 254 pods' worth and no smaller than
/// a /30, and no two overlapping (the range allocator never gives one range twice).
fn given_pod_cidrs(ctx: &mut Ctx, net: &NetConfig, nodes: &[NodeConfig]) {
    let mut seen: Vec<(ipnet::Ipv4Net, &str)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let Some(c) = n.pod_cidr else { continue };
        let p = format!("spec.cluster.nodes[{i}].podCIDR");
        if !net.cluster_cidr.contains(&c) {
            ctx.err(
                &p,
                format!("{c} is not inside clusterCIDR {}: set spec.cluster.clusterCIDR to a range that holds every node's podCIDR", net.cluster_cidr),
            );
        } else if c.prefix_len() > 30 {
            ctx.err(
                &p,
                format!("{c} has no address for a pod: use a /30 or larger"),
            );
        }
        if let Some((other, name)) = seen
            .iter()
            .find(|(o, _)| o.contains(&c.network()) || c.contains(&o.network()))
        {
            ctx.err(&p, format!("{c} overlaps node {name:?}'s podCIDR {other}"));
        }
        seen.push((c, &n.name));
    }
}

/// The Scenario document resolved; `objects` are filled in by the caller.
pub struct Resolved {
    pub scenario: Scenario,
    /// `spec.manifests` with the field path of each entry.
    pub manifests: Vec<(String, String)>,
    /// `spec.events` in the order written; the caller parses the `apply` objects, checks
    /// Deployment names against the objects ([`finish_events`]) and fills `scenario.events`.
    pub events: Vec<ResolvedEvent>,
    /// The field path of each of `scenario.behaviors` (`spec.behaviors[2]`).
    pub behavior_paths: Vec<String>,
    /// The index in `spec.expect` of each of `scenario.expect`.
    pub expect_index: Vec<usize>,
}

/// A timeline event resolved as far as the Scenario document alone allows.
#[derive(Debug, Clone)]
pub struct ResolvedEvent {
    pub at: SimDuration,
    /// `spec.events[2]`
    pub path: String,
    pub action: EventAction,
}

#[derive(Debug, Clone)]
pub enum EventAction {
    Ready(Action),
    /// `apply`: its object is at `<path>.apply`, parsed with the other Kubernetes objects.
    Apply,
}

fn service_time(
    ctx: &mut Ctx,
    p: &str,
    st: &RawServiceTime,
    base_dir: &Path,
) -> Option<ServiceTime> {
    let dist = st.distribution.as_deref().unwrap_or("constant");
    let used: &[&str] = match dist {
        "exponential" => &["mean"],
        "constant" => &["value"],
        "lognormal" => &["median", "p99"],
        "uniform" => &["min", "max"],
        "empirical" => &["file"],
        other => {
            ctx.err(
                &format!("{p}.distribution"),
                format!("unknown distribution {other:?}: expected exponential, constant, lognormal, uniform or empirical"),
            );
            return None;
        }
    };
    let present = [
        ("mean", st.mean.is_some()),
        ("value", st.value.is_some()),
        ("median", st.median.is_some()),
        ("p99", st.p99.is_some()),
        ("min", st.min.is_some()),
        ("max", st.max.is_some()),
        ("file", st.file.is_some()),
    ];
    for (k, set) in present {
        if set && !used.contains(&k) {
            ctx.warn(
                &format!("{p}.{k}"),
                format!("ignored for distribution {dist}"),
            );
        }
    }
    let need = |ctx: &mut Ctx, k: &str, v: Option<&Text>| -> Option<SimDuration> {
        if v.is_none() {
            ctx.err(
                &format!("{p}.{k}"),
                format!("required for distribution {dist}"),
            );
            return None;
        }
        ctx.dur(&format!("{p}.{k}"), v)
    };
    match dist {
        "exponential" => {
            let mean = need(ctx, "mean", st.mean.as_ref())?;
            if mean.is_zero() {
                ctx.err(&format!("{p}.mean"), "must be greater than 0");
                return None;
            }
            Some(ServiceTime::Exponential { mean })
        }
        "constant" => Some(ServiceTime::Constant(need(
            ctx,
            "value",
            st.value.as_ref(),
        )?)),
        "lognormal" => {
            let median = need(ctx, "median", st.median.as_ref());
            let p99 = need(ctx, "p99", st.p99.as_ref());
            let (median, p99) = (median?, p99?);
            if median.is_zero() {
                ctx.err(&format!("{p}.median"), "must be greater than 0");
                return None;
            }
            if p99 <= median {
                ctx.err(
                    &format!("{p}.p99"),
                    format!("must be greater than median ({median})"),
                );
                return None;
            }
            Some(ServiceTime::LogNormal { median, p99 })
        }
        "uniform" => {
            let min = need(ctx, "min", st.min.as_ref());
            let max = need(ctx, "max", st.max.as_ref());
            let (min, max) = (min?, max?);
            if max < min {
                ctx.err(
                    &format!("{p}.max"),
                    format!("must not be less than min ({min})"),
                );
                return None;
            }
            Some(ServiceTime::Uniform { min, max })
        }
        _ => {
            let Some(f) = &st.file else {
                ctx.err(&format!("{p}.file"), "required for distribution empirical");
                return None;
            };
            match empirical(&base_dir.join(f)) {
                Ok(v) => Some(ServiceTime::Empirical(v)),
                Err(e) => {
                    ctx.err(&format!("{p}.file"), e);
                    None
                }
            }
        }
    }
}

fn nodes(ctx: &mut Ctx, raw: Option<&Vec<RawNode>>) -> Vec<NodeConfig> {
    let base = "spec.cluster.nodes";
    nodes_at(ctx, raw, base, &|i| format!("{base}[{i}]"))
}

/// The nodes of `raw`, written at `base`, each at `entry(i)`.
pub(super) fn nodes_at(
    ctx: &mut Ctx,
    raw: Option<&Vec<RawNode>>,
    base: &str,
    entry: &dyn Fn(usize) -> String,
) -> Vec<NodeConfig> {
    let Some(raw) = raw else {
        ctx.err(base, "required: at least one node");
        return Vec::new();
    };
    if raw.is_empty() {
        ctx.err(base, "must list at least one node");
    }
    if raw.len() > limits::NODES {
        ctx.err(
            base,
            limits::above(format!("{} nodes", raw.len()), limits::NODES),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for (i, n) in raw.iter().enumerate() {
        let p = entry(i);
        let name = match n.name.as_deref() {
            None | Some("") => {
                ctx.err(&format!("{p}.name"), "required");
                continue;
            }
            Some(name) => name.to_string(),
        };
        for m in validate::dns1123_subdomain(&name) {
            ctx.err(
                &format!("{p}.name"),
                format!("invalid node name {name:?}: {m}"),
            );
        }
        if !names.insert(name.clone()) {
            ctx.err(
                &format!("{p}.name"),
                format!("duplicate node name {name:?}"),
            );
        }
        let ip = match n.ip.as_deref().map(|s| s.trim().parse::<Ipv4Addr>()) {
            None => {
                ctx.err(&format!("{p}.ip"), "required");
                continue;
            }
            Some(Err(_)) => {
                ctx.err(
                    &format!("{p}.ip"),
                    format!("invalid IPv4 address {:?}", n.ip.as_deref().unwrap_or("")),
                );
                continue;
            }
            Some(Ok(ip)) => ip,
        };
        if !ips.insert(ip) {
            ctx.err(&format!("{p}.ip"), format!("duplicate node IP {ip}"));
        }
        let a = n.allocatable.as_ref();
        let ap = format!("{p}.allocatable");
        let qty = |ctx: &mut Ctx, key: &str, v: Option<&Text>, default: &str, cpu: bool| -> u64 {
            let t = v.map_or(default, |t| t.0.as_str());
            let parsed = quantity::parse(t).map_err(|e| e.to_string()).and_then(|q| {
                if cpu { q.millis() } else { q.value() }
                    .ok_or_else(|| "must be a non-negative quantity".to_string())
            });
            match parsed {
                Ok(v) => v,
                Err(e) => {
                    ctx.err(
                        &format!("{ap}.{key}"),
                        format!("invalid quantity {t:?}: {e}"),
                    );
                    0
                }
            }
        };
        // The defaults of DESIGN.md: cpu "4", memory 8Gi.
        let cpu_millis = qty(ctx, "cpu", a.and_then(|a| a.cpu.as_ref()), "4", true);
        let memory_bytes = qty(
            ctx,
            "memory",
            a.and_then(|a| a.memory.as_ref()),
            "8Gi",
            false,
        );
        // kubelet `maxPods` default (`pkg/kubelet/apis/config/v1beta1/defaults.go`).
        let max_pods = ctx.bounded(
            &format!("{ap}.pods"),
            a.and_then(|a| a.pods),
            1,
            limits::PODS_PER_NODE,
            110,
        );
        for (key, len) in [
            ("labels", n.labels.as_ref().map_or(0, BTreeMap::len)),
            ("taints", n.taints.as_ref().map_or(0, Vec::len)),
            ("images", n.images.as_ref().map_or(0, Vec::len)),
        ] {
            ctx.list_fits(&format!("{p}.{key}"), len, limits::LIST);
        }
        let mut labels: Labels = n.labels.clone().unwrap_or_default();
        for (k, v) in &labels {
            if let Some(m) = validate::label_key(k)
                .into_iter()
                .chain(validate::label_value(v))
                .next()
            {
                ctx.err(
                    &format!("{p}.labels"),
                    format!("invalid label {k}={v}: {m}"),
                );
            }
        }
        // The kubelet sets `kubernetes.io/hostname` (`pkg/kubelet/kubelet_node_status.go`).
        labels.insert("kubernetes.io/hostname".into(), name.clone());
        let mut taints = Vec::new();
        for (j, t) in n.taints.iter().flatten().enumerate() {
            let tp = format!("{p}.taints[{j}]");
            let Some(key) = t.key.clone().filter(|k| !k.is_empty()) else {
                ctx.err(&format!("{tp}.key"), "required");
                continue;
            };
            let effect = t.effect.clone().unwrap_or_default();
            if !matches!(
                effect.as_str(),
                "NoSchedule" | "PreferNoSchedule" | "NoExecute"
            ) {
                ctx.err(
                    &format!("{tp}.effect"),
                    format!("unsupported value {effect:?}: supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""),
                );
                continue;
            }
            taints.push(Taint {
                key,
                value: t.value.clone().filter(|v| !v.is_empty()),
                effect,
            });
        }
        let pod_cidr = n.pod_cidr.as_deref().and_then(|c| {
            let parsed = c.trim().parse::<ipnet::Ipv4Net>();
            match parsed {
                // `ValidateNode` (`pkg/apis/core/validation/validation.go`) parses each of
                // `spec.podCIDRs` with `netutils.ParseCIDRSloppy`; the range allocator only
                // hands out networks.
                Ok(net) if net.trunc() == net => Some(net),
                Ok(net) => {
                    ctx.err(
                        &format!("{p}.podCIDR"),
                        format!("{c:?} has host bits set: use {}", net.trunc()),
                    );
                    None
                }
                Err(_) => {
                    ctx.err(
                        &format!("{p}.podCIDR"),
                        format!(
                            "invalid CIDR {c:?}: expected an IPv4 network such as 10.244.1.0/24"
                        ),
                    );
                    None
                }
            }
        });
        out.push(NodeConfig {
            pod_cidr,
            unschedulable: n.unschedulable.unwrap_or(false),
            name,
            ip,
            allocatable: Resources {
                cpu_millis,
                memory_bytes,
            },
            max_pods,
            labels,
            taints,
            images: n.images.clone().unwrap_or_default(),
        });
    }
    out
}

fn net(ctx: &mut Ctx, c: &RawCluster) -> NetConfig {
    let mut net = NetConfig::default();
    let p = "spec.cluster";
    match c.proxy_mode.as_deref() {
        None | Some("iptables") => {}
        // GA since v1.33, not the default (`pkg/proxy/apis/config/types.go`).
        Some("nftables") => net.proxy_mode = ProxyMode::Nftables,
        // Deprecated upstream in v1.35, still supported.
        Some("ipvs") => net.proxy_mode = ProxyMode::Ipvs,
        Some(m) => ctx.err(
            &format!("{p}.proxyMode"),
            format!("unknown proxy mode {m:?}: expected iptables, ipvs or nftables"),
        ),
    }
    if let Some(s) = c.ipvs_scheduler.as_deref() {
        use IpvsScheduler::*;
        net.ipvs_scheduler = match s {
            "rr" => Rr,
            "wrr" => Wrr,
            "lc" => Lc,
            "wlc" => Wlc,
            "lblc" => Lblc,
            "lblcr" => Lblcr,
            "sh" => Sh,
            "dh" => Dh,
            "sed" => Sed,
            "nq" => Nq,
            "mh" => Mh,
            other => {
                ctx.err(
                    &format!("{p}.ipvsScheduler"),
                    format!("unknown IPVS scheduler {other:?}: expected rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq or mh"),
                );
                Rr
            }
        };
        if net.proxy_mode != ProxyMode::Ipvs {
            ctx.warn(
                &format!("{p}.ipvsScheduler"),
                "has no effect unless proxyMode is ipvs",
            );
        } else if !net.ipvs_scheduler.is_simulated() {
            ctx.warn(
                &format!("{p}.ipvsScheduler"),
                format!("{s} is not simulated yet: connections are scheduled round-robin (rr)"),
            );
        }
    }
    if let Some(n) = cidr(ctx, &format!("{p}.serviceCIDR"), c.service_cidr.as_ref()) {
        // Cluster DNS takes the tenth address (kubeadm's `GetDNSIP`): a /28 is the smallest
        // range that holds it.
        if n.prefix_len() > 28 {
            ctx.err(
                &format!("{p}.serviceCIDR"),
                format!("{n} is too small: use a prefix of /28 or shorter (cluster DNS takes the tenth address)"),
            );
        } else {
            net.service_cidr = n;
        }
    }
    if let Some(n) = cidr(ctx, &format!("{p}.clusterCIDR"), c.cluster_cidr.as_ref()) {
        if n.prefix_len() > net.node_cidr_mask {
            ctx.err(
                &format!("{p}.clusterCIDR"),
                format!(
                    "{n} is smaller than one node's /{} pod range",
                    net.node_cidr_mask
                ),
            );
        } else {
            net.cluster_cidr = n;
        }
    }
    if net.service_cidr.contains(&net.cluster_cidr.network())
        || net.cluster_cidr.contains(&net.service_cidr.network())
    {
        ctx.err(
            &format!("{p}.clusterCIDR"),
            format!(
                "{} overlaps serviceCIDR {}",
                net.cluster_cidr, net.service_cidr
            ),
        );
    }
    net.load_balancer_ips = cidr(
        ctx,
        &format!("{p}.loadBalancerIPs"),
        c.load_balancer_ips.as_ref(),
    );
    if let Some(r) = &c.service_node_port_range {
        match r.parse() {
            Ok(r) => net.node_port_range = r,
            Err(e) => ctx.err(
                &format!("{p}.serviceNodePortRange"),
                format!("invalid port range {r:?}: {e} (expected first-last, e.g. 30000-32767)"),
            ),
        }
    }
    if let Some(kp) = &c.kube_proxy {
        if let Some(d) = ctx.dur(
            &format!("{p}.kubeProxy.minSyncPeriod"),
            kp.min_sync_period.as_ref(),
        ) {
            net.min_sync_period = d;
        }
    }
    if let Some(d) = ctx.dur(
        &format!("{p}.endpointSliceBatchPeriod"),
        c.endpoint_slice_batch_period.as_ref(),
    ) {
        net.endpoint_slice_batch_period = d;
    }
    if let Some(n) = &c.network {
        let d = NetworkLatency::default();
        net.latency = NetworkLatency {
            same_node: ctx
                .dur(&format!("{p}.network.sameNode"), n.same_node.as_ref())
                .unwrap_or(d.same_node),
            cross_node: ctx
                .dur(&format!("{p}.network.crossNode"), n.cross_node.as_ref())
                .unwrap_or(d.cross_node),
            external: ctx
                .dur(&format!("{p}.network.external"), n.external.as_ref())
                .unwrap_or(d.external),
            cross_zone: ctx
                .dur(&format!("{p}.network.crossZone"), n.cross_zone.as_ref())
                .unwrap_or(d.cross_zone),
        };
    }
    net
}

/// Checks and resolves the Scenario document.
pub fn resolve(ctx: &mut Ctx, raw: &RawScenario, base_dir: &Path) -> Resolved {
    match raw.api_version.as_deref() {
        Some(API_VERSION) => {}
        Some(v) => ctx.err(
            "apiVersion",
            format!("unsupported apiVersion {v:?} for kind Scenario: expected {API_VERSION}"),
        ),
        None => ctx.err("apiVersion", format!("required: {API_VERSION}")),
    }
    let name = match raw.metadata.as_ref().and_then(|m| m.name.clone()) {
        None => {
            ctx.err("metadata.name", "required: it names the output folder");
            String::new()
        }
        Some(n) => {
            if !validate::dns1123_label(&n).is_empty() {
                ctx.err(
                    "metadata.name",
                    format!("invalid name {n:?}: use lower-case letters, digits and '-', starting and ending with a letter or digit"),
                );
            }
            n
        }
    };
    let empty = RawSpec::default();
    let spec = raw.spec.as_ref().unwrap_or_else(|| {
        ctx.err("spec", "required");
        &empty
    });
    let duration = match &spec.duration {
        None => {
            ctx.err("spec.duration", "required, e.g. 60s");
            SimDuration::ZERO
        }
        Some(t) => match ctx.positive_dur("spec.duration", Some(t)) {
            Some(d) if d > limits::DURATION => {
                ctx.err(
                    "spec.duration",
                    limits::above(
                        format!("duration {:?}", t.0),
                        format_args!("{} (a year)", limits::DURATION),
                    ),
                );
                SimDuration::ZERO
            }
            d => d.unwrap_or(SimDuration::ZERO),
        },
    };
    let warmup = ctx
        .dur("spec.warmup", spec.warmup.as_ref())
        .unwrap_or(SimDuration::ZERO);
    if !duration.is_zero() && warmup >= duration {
        ctx.err(
            "spec.warmup",
            format!("must be shorter than the duration ({duration})"),
        );
    }
    let kubernetes_version = match &spec.kubernetes_version {
        None => (1, 34),
        Some(t) => {
            let parsed =
                t.0.trim_start_matches('v')
                    .split_once('.')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            match parsed {
                Some((1, minor)) if minor >= 20 => (1, minor),
                _ => {
                    ctx.err(
                        "spec.kubernetesVersion",
                        format!(
                            "invalid version {:?}: expected \"1.MINOR\" (quoted), e.g. \"1.34\"",
                            t.0
                        ),
                    );
                    (1, 34)
                }
            }
        }
    };
    let cluster = spec.cluster.as_ref();
    if cluster.is_none() {
        ctx.err(
            "spec.cluster",
            "required: at least one node in spec.cluster.nodes",
        );
    }
    let net = cluster.map(|c| net(ctx, c)).unwrap_or_default();
    let mut nodes = if cluster.is_some() {
        nodes(ctx, cluster.and_then(|c| c.nodes.as_ref()))
    } else {
        Vec::new()
    };
    // Absent, the add-ons every kubeadm, kind or Docker Desktop cluster has: `[coredns]`.
    let mut coredns = cluster.and_then(|c| c.addons.as_ref()).is_none();
    let addons = cluster.and_then(|c| c.addons.as_ref()).map_or(0, Vec::len);
    ctx.list_fits("spec.cluster.addons", addons, limits::LIST);
    for (i, a) in cluster
        .and_then(|c| c.addons.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        match a.as_str() {
            "coredns" => coredns = true,
            other => ctx.err(
                &format!("spec.cluster.addons[{i}]"),
                format!("unknown addon {other:?}: expected coredns"),
            ),
        }
    }
    if let Some(images) = spec.registry.as_ref().and_then(|r| r.images.as_ref()) {
        ctx.list_fits("spec.registry.images", images.len(), limits::LIST);
    }
    ctx.list_fits(
        "spec.manifests",
        spec.manifests.as_ref().map_or(0, Vec::len),
        limits::LIST,
    );
    let registry = spec.registry.as_ref().map(|r| RegistryConfig {
        images: r.images.clone().unwrap_or_default(),
        pull_time: ctx
            .dur("spec.registry.pullTime", r.pull_time.as_ref())
            .unwrap_or(SimDuration::ZERO),
    });
    let manifests = spec
        .manifests
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| (m.clone(), format!("spec.manifests[{i}]")))
        .collect();

    let mut behaviors = Vec::new();
    let mut behavior_paths = Vec::new();
    let mut images = BTreeSet::new();
    let n_behaviors = spec.behaviors.as_ref().map_or(0, Vec::len);
    ctx.list_fits("spec.behaviors", n_behaviors, limits::BEHAVIORS);
    for (i, b) in spec
        .behaviors
        .iter()
        .flatten()
        .enumerate()
        .take(limits::BEHAVIORS)
    {
        let p = format!("spec.behaviors[{i}]");
        let Some(image) = b.image.clone().filter(|s| !s.is_empty()) else {
            ctx.err(&format!("{p}.image"), "required");
            continue;
        };
        if !images.insert(image.clone()) {
            ctx.err(
                &format!("{p}.image"),
                format!("duplicate behavior for image {image:?}"),
            );
        }
        let st = match &b.service_time {
            None => Some(ServiceTime::Constant(SimDuration::ZERO)),
            Some(st) => service_time(ctx, &format!("{p}.serviceTime"), st, base_dir),
        };
        let concurrency = ctx.bounded(
            &format!("{p}.concurrency"),
            b.concurrency,
            1,
            limits::CONCURRENCY,
            1,
        );
        let keep_alive_timeout = ctx.positive_dur(
            &format!("{p}.keepAliveTimeout"),
            b.keep_alive_timeout.as_ref(),
        );
        let exit_after = ctx.positive_dur(&format!("{p}.exitAfter"), b.exit_after.as_ref());
        let exit_code = match b.exit_code {
            None => 1,
            Some(c) if (0..=255).contains(&c) => c as i32,
            Some(c) => {
                ctx.err(
                    &format!("{p}.exitCode"),
                    format!("{c} is not an exit code: expected 0 to 255"),
                );
                1
            }
        };
        let queue_limit = b.queue_limit.map(|_| {
            ctx.bounded(
                &format!("{p}.queueLimit"),
                b.queue_limit,
                0,
                limits::QUEUE_LIMIT,
                0,
            )
        });
        let cpu_per_request =
            ctx.positive_dur(&format!("{p}.cpuPerRequest"), b.cpu_per_request.as_ref());
        if let Some(service_time) = st {
            behavior_paths.push(p.clone());
            behaviors.push(Behavior {
                image,
                service_time,
                concurrency,
                keep_alive_timeout,
                exit_after,
                exit_code,
                queue_limit,
                cpu_per_request,
            });
        }
    }

    let mut traffic = Vec::new();
    let mut stream_names = BTreeSet::new();
    let n_streams = spec.traffic.as_ref().map_or(0, Vec::len);
    ctx.list_fits("spec.traffic", n_streams, limits::STREAMS);
    // Clients and users of the streams so far, against their bound together.
    let mut all_clients: i64 = 0;
    for (i, s) in spec
        .traffic
        .iter()
        .flatten()
        .enumerate()
        .take(limits::STREAMS)
    {
        let p = format!("spec.traffic[{i}]");
        let name = s
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("stream-{i}"));
        if !stream_names.insert(name.clone()) {
            ctx.err(
                &format!("{p}.name"),
                format!("duplicate stream name {name:?}"),
            );
        }
        let from = match &s.from {
            None => Some(ClientSource::External),
            Some(RawFrom::Name(n)) if n == "external" => Some(ClientSource::External),
            Some(RawFrom::Name(n)) => {
                ctx.err(
                    &format!("{p}.from"),
                    format!("invalid source {n:?}: expected external or {{selector: key=value}}"),
                );
                None
            }
            Some(RawFrom::Selector(None)) => {
                ctx.err(
                    &format!("{p}.from"),
                    "expected external or {selector: key=value}",
                );
                None
            }
            Some(RawFrom::Selector(Some(sel))) => match parse_selector(sel) {
                Ok(l) => Some(ClientSource::Pods(l)),
                Err(e) => {
                    ctx.err(&format!("{p}.from.selector"), e);
                    None
                }
            },
        };
        let clients = ctx.bounded(&format!("{p}.clients"), s.clients, 1, limits::CLIENTS, 1);
        let to = match &s.to {
            None => {
                ctx.err(&format!("{p}.to"), "required, e.g. 192.168.0.24:30001");
                None
            }
            Some(t) => parse_destination(&t.0)
                .map_err(|e| ctx.err(&format!("{p}.to"), e))
                .ok(),
        };
        let profile = s
            .profile
            .as_ref()
            .and_then(|pr| profile(ctx, &format!("{p}.profile"), pr));
        let users = s
            .users
            .map(|_| ctx.bounded(&format!("{p}.users"), s.users, 1, limits::CLIENTS, 1));
        // One address per user, or `clients` addresses (in-cluster clients are pods).
        let (key, n) = match (users, &s.from) {
            (Some(u), _) => ("users", u),
            (None, Some(RawFrom::Selector(_))) => ("clients", 0),
            (None, _) => ("clients", clients),
        };
        let before = all_clients;
        all_clients += i64::from(n);
        if before <= limits::CLIENTS && all_clients > limits::CLIENTS {
            ctx.err(
                &format!("{p}.{key}"),
                limits::above(
                    format!("{all_clients} clients and users in the streams so far"),
                    limits::CLIENTS,
                ),
            );
        }
        let think_time = match &s.think_time {
            None => Some(ServiceTime::Constant(SimDuration::ZERO)),
            Some(st) => service_time(ctx, &format!("{p}.thinkTime"), st, base_dir),
        };
        if users.is_none() && s.think_time.is_some() {
            ctx.warn(&format!("{p}.thinkTime"), "has no effect without users");
        }
        if users.is_some() && !matches!(s.from, None | Some(RawFrom::Name(_))) {
            ctx.err(
                &format!("{p}.users"),
                "closed-loop users are external clients: use from: external",
            );
        }
        if users.is_some() && s.profile.is_some() {
            ctx.err(
                &format!("{p}.profile"),
                "a closed-loop stream (users) has no rate: remove profile or users",
            );
        }
        let rate = match (&s.rate, users, &profile) {
            (Some(_), Some(_), _) => {
                ctx.warn(
                    &format!("{p}.rate"),
                    "ignored with users: a closed loop sends as fast as its users answer and think",
                );
                Some(0.0)
            }
            (None, Some(_), _) => Some(0.0),
            (Some(_), None, Some(pr)) => {
                ctx.warn(&format!("{p}.rate"), "ignored: profile sets the rate");
                Some(pr.max_rate())
            }
            (None, None, Some(pr)) => Some(pr.max_rate()),
            (None, None, None) if s.profile.is_some() => None,
            (None, None, None) => {
                ctx.err(
                    &format!("{p}.rate"),
                    "required, e.g. 100/s (or a profile, or users)",
                );
                None
            }
            (Some(t), None, None) => ctx.rate(&format!("{p}.rate"), &t.0),
        };
        let retries = s
            .retries
            .as_ref()
            .and_then(|r| retries(ctx, &format!("{p}.retries"), r));
        let arrival = match s.arrival.as_deref() {
            None | Some("poisson") => Arrival::Poisson,
            Some("constant") => Arrival::Constant,
            Some(a) => {
                ctx.err(
                    &format!("{p}.arrival"),
                    format!("unknown arrival {a:?}: expected poisson or constant"),
                );
                Arrival::Poisson
            }
        };
        let start = ctx
            .dur(&format!("{p}.start"), s.start.as_ref())
            .unwrap_or(SimDuration::ZERO);
        let stop = ctx.dur(&format!("{p}.stop"), s.stop.as_ref());
        if let Some(stop) = stop {
            if stop <= start {
                ctx.err(
                    &format!("{p}.stop"),
                    format!("must be after start ({start})"),
                );
            } else if !duration.is_zero() && stop > duration {
                ctx.warn(
                    &format!("{p}.stop"),
                    format!("is after the end of the scenario ({duration})"),
                );
            }
        }
        if !duration.is_zero() && start >= duration {
            ctx.warn(
                &format!("{p}.start"),
                format!(
                    "is at or after the end of the scenario ({duration}): the stream sends nothing"
                ),
            );
        }
        let timeout = ctx
            .positive_dur(&format!("{p}.timeout"), s.timeout.as_ref())
            .unwrap_or(SimDuration::from_secs(30));
        let mut connections = ConnectionPolicy::default();
        if let Some(c) = &s.connections {
            let cp = format!("{p}.connections");
            connections.reuse = c.reuse.unwrap_or(false);
            connections.max_requests = c.max_requests.map(|_| {
                ctx.bounded(
                    &format!("{cp}.maxRequests"),
                    c.max_requests,
                    1,
                    limits::COUNT,
                    1,
                )
            });
            if let Some(t) = ctx.positive_dur(&format!("{cp}.idleTimeout"), c.idle_timeout.as_ref())
            {
                connections.idle_timeout = t;
            }
            connections.max_per_destination = ctx.bounded(
                &format!("{cp}.maxPerDestination"),
                c.max_per_destination,
                1,
                limits::CONNECTIONS_PER_CLIENT,
                connections.max_per_destination,
            );
            if !connections.reuse && (c.max_requests.is_some() || c.idle_timeout.is_some()) {
                ctx.warn(
                    &cp,
                    "maxRequests and idleTimeout have no effect without reuse: true",
                );
            }
        }
        if let (Some(from), Some(to), Some(rate), Some(think_time)) = (from, to, rate, think_time) {
            traffic.push(StreamSpec {
                profile,
                users,
                think_time,
                retries,
                name,
                from,
                clients,
                to,
                rate,
                arrival,
                start,
                stop,
                timeout,
                connections,
            });
        }
    }

    let node_pool = cluster
        .and_then(|c| c.node_pool.as_ref())
        .and_then(|p| super::nodepool::resolve(ctx, p, &mut nodes));
    if let Some(c) = cluster {
        // The pool at its largest needs its ranges too.
        let grown = node_pool
            .as_ref()
            .map_or(0, |p| (p.max_size - p.min_size) as usize);
        node_ranges(ctx, c, &net, nodes.len() + grown);
        given_pod_cidrs(ctx, &net, &nodes);
    }
    let node_names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let n_events = spec.events.as_ref().map_or(0, Vec::len);
    ctx.list_fits("spec.events", n_events, limits::EVENTS);
    let events = spec
        .events
        .iter()
        .flatten()
        .take(limits::EVENTS)
        .enumerate()
        .filter_map(|(i, e)| event(ctx, &format!("spec.events[{i}]"), e, &node_names, duration))
        .collect();
    let (expect_index, expect): (Vec<usize>, Vec<_>) =
        super::expect::resolve(ctx, spec.expect.as_ref(), &traffic, duration)
            .into_iter()
            .unzip();

    Resolved {
        scenario: Scenario {
            name,
            seed: spec.seed.unwrap_or(0),
            duration,
            warmup,
            kubernetes_version,
            net,
            nodes,
            coredns,
            registry,
            behaviors,
            traffic,
            events: Vec::new(),
            objects: Vec::new(),
            expect,
            node_pool,
        },
        manifests,
        events,
        behavior_paths,
        expect_index,
    }
}

/// Warnings for what the Scenario document asks that the objects make pointless: a behaviour
/// for an image no container runs (matching is by the image as written), and a node that may
/// hold more pods than its pod range has addresses when the objects write that many pods
/// (upstream, and here, the pods past it fail with `FailedCreatePodSandBox`).
pub fn check_effects(ctx: &mut Ctx, r: &Resolved, objects: &[Object], timeline: &[TimelineEvent]) {
    // With an error somewhere the objects may be incomplete: no guesses about what they run.
    if ctx.diags.iter().any(Diagnostic::is_error) {
        return;
    }
    let applied = timeline.iter().filter_map(|e| match &e.action {
        Action::Apply(o) => Some(o.as_ref()),
        _ => None,
    });
    let all: Vec<&Object> = objects.iter().chain(applied).collect();
    let templates: Vec<&crate::model::objects::PodSpec> = all
        .iter()
        .filter_map(|o| match o {
            Object::Deployment(d) => Some(&d.template.spec),
            Object::ReplicaSet(r) => Some(&r.template.spec),
            Object::StatefulSet(s) => Some(&s.template.spec),
            Object::DaemonSet(d) => Some(&d.template.spec),
            Object::Pod(p) => Some(&p.spec),
            _ => None,
        })
        .collect();
    let mut images: BTreeSet<&str> = templates
        .iter()
        .flat_map(|t| t.containers.iter().map(|c| c.image.as_str()))
        .collect();
    images.extend(timeline.iter().filter_map(|e| match &e.action {
        Action::SetImage { image, .. } => Some(image.as_str()),
        _ => None,
    }));
    for (b, path) in r.scenario.behaviors.iter().zip(&r.behavior_paths) {
        if !images.contains(b.image.as_str()) {
            let shown: Vec<&str> = images.iter().take(5).copied().collect();
            let more = images.len().saturating_sub(shown.len());
            let list = match (shown.is_empty(), more) {
                (true, _) => "no container runs any image".to_string(),
                (false, 0) => format!("the containers run {}", shown.join(", ")),
                (false, k) => format!("the containers run {} and {k} more", shown.join(", ")),
            };
            ctx.warn(
                &format!("{path}.image"),
                format!(
                    "no container runs image {:?} ({list}; a behaviour matches the image exactly as written): the behaviour changes nothing",
                    b.image
                ),
            );
        }
    }
    // Pods that take an address from their node's range.
    let pods: u64 = all
        .iter()
        .map(|o| match o {
            Object::Deployment(d) if !d.template.spec.host_network => u64::from(d.replicas),
            Object::ReplicaSet(r) if !r.template.spec.host_network => u64::from(r.replicas),
            Object::StatefulSet(s) if !s.template.spec.host_network => u64::from(s.replicas),
            // At most one per node: never more than one address of each node's range.
            Object::DaemonSet(d) if !d.template.spec.host_network => 1,
            Object::Pod(p) if !p.spec.host_network => 1,
            _ => 0,
        })
        .sum();
    let net = &r.scenario.net;
    // host-local hands out network + 2 ..= broadcast - 1 (`net::ipam::HostLocalIpam`).
    let usable = (1u64 << (32 - u32::from(net.node_cidr_mask))).saturating_sub(3);
    let over: Vec<usize> = r
        .scenario
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| u64::from(n.max_pods) > usable)
        .map(|(i, _)| i)
        .collect();
    if let (Some(&first), true) = (over.first(), pods > usable) {
        let n = &r.scenario.nodes[first];
        let range = net
            .cluster_cidr
            .subnets(net.node_cidr_mask)
            .ok()
            .and_then(|mut s| s.nth(first))
            .map_or_else(String::new, |c| format!(" {c}"));
        let others = match over.len() - 1 {
            0 => String::new(),
            1 => " (and 1 more node alike)".to_string(),
            k => format!(" (and {k} more nodes alike)"),
        };
        ctx.warn(
            &format!("spec.cluster.nodes[{first}].allocatable.pods"),
            format!(
                "node {:?} may hold {} pods but its pod range{range} (a /{} of clusterCIDR {}) has {usable} addresses for pods, and the objects make {pods} pods: those past {usable} on one node fail with FailedCreatePodSandBox (no IP addresses available in range set){others}",
                n.name, n.max_pods, net.node_cidr_mask, net.cluster_cidr
            ),
        );
    }
}

/// `random` (default), `oldest` or `newest`.
fn pick(ctx: &mut Ctx, path: &str, v: Option<&str>) -> Option<Pick> {
    match v {
        None | Some("random") => Some(Pick::Random),
        Some("oldest") => Some(Pick::Oldest),
        Some("newest") => Some(Pick::Newest),
        Some(x) => {
            ctx.err(
                path,
                format!("unknown pick {x:?}: expected random, oldest or newest"),
            );
            None
        }
    }
}

/// A pod named by `name_key` (`name` or `pod`), or chosen by `selector` and `pick`.
fn pod_target(
    ctx: &mut Ctx,
    p: &str,
    name_key: &str,
    name: Option<&String>,
    selector: Option<&Text>,
    pick_: Option<&str>,
) -> Option<PodTarget> {
    match (name, selector) {
        (Some(n), None) => {
            if n.is_empty() {
                ctx.err(&format!("{p}.{name_key}"), "must not be empty");
                return None;
            }
            if pick_.is_some() {
                ctx.warn(
                    &format!("{p}.pick"),
                    format!("has no effect with {name_key}"),
                );
            }
            Some(PodTarget::Name(n.clone()))
        }
        (None, Some(sel)) => {
            let pick = pick(ctx, &format!("{p}.pick"), pick_);
            let selector = parse_selector(&sel.0)
                .map_err(|m| ctx.err(&format!("{p}.selector"), m))
                .ok();
            Some(PodTarget::Selector {
                selector: selector?,
                pick: pick?,
            })
        }
        _ => {
            ctx.err(p, format!("needs exactly one of {name_key} and selector"));
            None
        }
    }
}

/// A required, non-empty string key.
fn required(ctx: &mut Ctx, path: &str, v: Option<&String>) -> Option<String> {
    match v.filter(|s| !s.is_empty()) {
        None => {
            ctx.err(path, "required");
            None
        }
        Some(s) => Some(s.clone()),
    }
}

/// `delete`'s `kind`, as kubectl accepts it (`svc`, `deployments`, ...), in its canonical form.
fn delete_kind(k: &str) -> Option<&'static str> {
    match k.to_ascii_lowercase().as_str() {
        "service" | "services" | "svc" => Some("Service"),
        "deployment" | "deployments" | "deploy" => Some("Deployment"),
        "replicaset" | "replicasets" | "rs" => Some("ReplicaSet"),
        "statefulset" | "statefulsets" | "sts" => Some("StatefulSet"),
        "daemonset" | "daemonsets" | "ds" => Some("DaemonSet"),
        "pod" | "pods" | "po" => Some("Pod"),
        "horizontalpodautoscaler" | "horizontalpodautoscalers" | "hpa" => {
            Some("HorizontalPodAutoscaler")
        }
        "networkpolicy" | "networkpolicies" | "netpol" => Some("NetworkPolicy"),
        _ => None,
    }
}

/// One entry of `spec.events` at path `p`; `None` after reporting what is wrong.
fn event(
    ctx: &mut Ctx,
    p: &str,
    e: &RawEvent,
    node_names: &BTreeSet<&str>,
    duration: SimDuration,
) -> Option<ResolvedEvent> {
    let at = match &e.at {
        None => {
            ctx.err(&format!("{p}.at"), "required, e.g. 20s");
            None
        }
        Some(t) => ctx.dur(&format!("{p}.at"), Some(t)),
    };
    if let Some(at) = at {
        if !duration.is_zero() && at > duration {
            ctx.warn(
                &format!("{p}.at"),
                format!("is after the end of the scenario ({duration}): the event never happens"),
            );
        }
    }
    let keys = e.actions();
    if keys.len() != 1 {
        let found = if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        };
        ctx.err(
            p,
            format!(
                "must have exactly one action (found {found}); actions: {}",
                ACTION_KEYS.join(", ")
            ),
        );
        return None;
    }
    let key = keys[0];
    let ap = format!("{p}.{key}");
    let node_ref = |ctx: &mut Ctx, r: &RawNodeRef| -> Option<String> {
        let n = required(ctx, &format!("{ap}.node"), r.node.as_ref())?;
        if !node_names.contains(n.as_str()) {
            ctx.err(
                &format!("{ap}.node"),
                format!("no node {n:?} in spec.cluster.nodes"),
            );
            return None;
        }
        Some(n)
    };
    let deployment = |ctx: &mut Ctx, d: Option<&String>| -> Option<String> {
        required(ctx, &format!("{ap}.deployment"), d)
    };
    let action = match key {
        "deletePod" => {
            let d = e.delete_pod.as_ref()?;
            pod_target(
                ctx,
                &ap,
                "name",
                d.name.as_ref(),
                d.selector.as_ref(),
                d.pick.as_deref(),
            )
            .map(Action::DeletePod)
        }
        "killContainer" => {
            let k = e.kill_container.as_ref()?;
            let target = pod_target(
                ctx,
                &ap,
                "pod",
                k.pod.as_ref(),
                k.selector.as_ref(),
                k.pick.as_deref(),
            );
            // A process exit status: 0..=255 (what a shell can return).
            let exit_code = match k.exit_code {
                None => Some(1),
                Some(c) if (0..=255).contains(&c) => Some(c as i32),
                Some(c) => {
                    ctx.err(
                        &format!("{ap}.exitCode"),
                        format!("invalid value {c}: must be between 0 and 255"),
                    );
                    None
                }
            };
            let container = k.container.clone();
            if container.as_deref() == Some("") {
                ctx.err(&format!("{ap}.container"), "must not be empty");
            }
            Some(Action::KillContainer {
                target: target?,
                container,
                exit_code: exit_code?,
            })
        }
        "failProbe" => {
            let f = e.fail_probe.as_ref()?;
            let target = pod_target(
                ctx,
                &ap,
                "pod",
                f.pod.as_ref(),
                f.selector.as_ref(),
                f.pick.as_deref(),
            );
            let probe = match f.probe.as_deref() {
                Some("liveness") => Some(ProbeKind::Liveness),
                Some("readiness") => Some(ProbeKind::Readiness),
                Some("startup") => Some(ProbeKind::Startup),
                None => {
                    ctx.err(
                        &format!("{ap}.probe"),
                        "required: liveness, readiness or startup",
                    );
                    None
                }
                Some(x) => {
                    ctx.err(
                        &format!("{ap}.probe"),
                        format!("unknown probe {x:?}: expected liveness, readiness or startup"),
                    );
                    None
                }
            };
            let duration = match &f.for_ {
                None => {
                    ctx.err(&format!("{ap}.for"), "required, e.g. 30s");
                    None
                }
                t => ctx.positive_dur(&format!("{ap}.for"), t.as_ref()),
            };
            Some(Action::FailProbe {
                target: target?,
                probe: probe?,
                duration: duration?,
            })
        }
        "nodeDown" => node_ref(ctx, e.node_down.as_ref()?).map(|node| Action::NodeDown { node }),
        "nodeUp" => node_ref(ctx, e.node_up.as_ref()?).map(|node| Action::NodeUp { node }),
        "cordon" => node_ref(ctx, e.cordon.as_ref()?).map(|node| Action::Cordon { node }),
        "uncordon" => node_ref(ctx, e.uncordon.as_ref()?).map(|node| Action::Uncordon { node }),
        "drain" => node_ref(ctx, e.drain.as_ref()?).map(|node| Action::Drain { node }),
        "scale" => {
            let s = e.scale.as_ref()?;
            let dep = deployment(ctx, s.deployment.as_ref());
            let replicas = match s.replicas {
                None => {
                    ctx.err(&format!("{ap}.replicas"), "required");
                    None
                }
                Some(r) if r < 0 => {
                    ctx.err(
                        &format!("{ap}.replicas"),
                        format!("invalid value {r}: must be greater than or equal to 0"),
                    );
                    None
                }
                Some(r) if r > limits::PODS => {
                    ctx.err(
                        &format!("{ap}.replicas"),
                        limits::above(format!("invalid value {r}"), limits::PODS),
                    );
                    None
                }
                Some(r) => Some(r as u32),
            };
            Some(Action::Scale {
                deployment: dep?,
                replicas: replicas?,
            })
        }
        "rolloutRestart" => {
            let r = e.rollout_restart.as_ref()?;
            match (&r.deployment, &r.statefulset, &r.daemonset) {
                (d, None, None) => deployment(ctx, d.as_ref())
                    .map(|deployment| Action::RolloutRestart { deployment }),
                (None, Some(name), None) => Some(Action::RolloutRestartSet {
                    kind: SetKind::StatefulSet,
                    name: required(ctx, &format!("{ap}.statefulset"), Some(name))?,
                }),
                (None, None, Some(name)) => Some(Action::RolloutRestartSet {
                    kind: SetKind::DaemonSet,
                    name: required(ctx, &format!("{ap}.daemonset"), Some(name))?,
                }),
                _ => {
                    ctx.err(
                        &ap,
                        "must name exactly one of deployment, statefulset, daemonset",
                    );
                    None
                }
            }
        }
        "setImage" => {
            let s = e.set_image.as_ref()?;
            let dep = deployment(ctx, s.deployment.as_ref());
            let container = required(ctx, &format!("{ap}.container"), s.container.as_ref());
            let image = required(ctx, &format!("{ap}.image"), s.image.as_ref());
            Some(Action::SetImage {
                deployment: dep?,
                container: container?,
                image: image?,
            })
        }
        "apply" => {
            if !e.apply.as_ref().is_some_and(serde_yaml::Value::is_mapping) {
                ctx.err(
                    &ap,
                    "expected a Kubernetes object (a mapping with apiVersion, kind, metadata)",
                );
                return None;
            }
            return Some(ResolvedEvent {
                at: at?,
                path: p.to_string(),
                action: EventAction::Apply,
            });
        }
        _ => {
            let d = e.delete.as_ref()?;
            let kind = match d.kind.as_deref() {
                None | Some("") => {
                    ctx.err(
                        &format!("{ap}.kind"),
                        "required: Service, Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, HorizontalPodAutoscaler or NetworkPolicy",
                    );
                    None
                }
                Some(k) => {
                    let canonical = delete_kind(k);
                    if canonical.is_none() {
                        ctx.err(
                            &format!("{ap}.kind"),
                            format!("unsupported kind {k:?}: expected Service, Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, HorizontalPodAutoscaler or NetworkPolicy"),
                        );
                    }
                    canonical
                }
            };
            let name = required(ctx, &format!("{ap}.name"), d.name.as_ref());
            let namespace = d.namespace.clone().unwrap_or_else(|| "default".into());
            if let Some(m) = validate::dns1123_label(&namespace).into_iter().next() {
                ctx.err(
                    &format!("{ap}.namespace"),
                    format!("invalid namespace {namespace:?}: {m}"),
                );
            }
            Some(Action::Delete {
                kind: kind?.to_string(),
                namespace,
                name: name?,
            })
        }
    };
    Some(ResolvedEvent {
        at: at?,
        path: p.to_string(),
        action: EventAction::Ready(action?),
    })
}

/// A pod that may exist during the run, as an object written or applied describes it.
struct PodShape {
    /// A bare Pod's name, or the `<owner>-` its generated names start with.
    name: String,
    /// Whether `name` is the whole name (a bare Pod).
    exact: bool,
    labels: crate::model::objects::Labels,
    containers: Vec<crate::model::objects::Container>,
}

impl PodShape {
    fn of(o: &Object) -> Option<PodShape> {
        let (name, exact, t) = match o {
            Object::Deployment(d) => (format!("{}-", d.meta.name), false, &d.template),
            Object::ReplicaSet(r) => (format!("{}-", r.meta.name), false, &r.template),
            // `<name>-<ordinal>` and `<name>-<random suffix>`.
            Object::StatefulSet(s) => (format!("{}-", s.meta.name), false, &s.template),
            Object::DaemonSet(d) => (format!("{}-", d.meta.name), false, &d.template),
            Object::Pod(p) => {
                return Some(PodShape {
                    name: p.meta.name.clone(),
                    exact: true,
                    labels: p.meta.labels.clone(),
                    containers: p.spec.containers.clone(),
                })
            }
            _ => return None,
        };
        Some(PodShape {
            name,
            exact,
            labels: t.meta.labels.clone(),
            containers: t.spec.containers.clone(),
        })
    }

    /// Whether a pod of this shape can be the one `target` names or selects.
    fn may_be(&self, target: &PodTarget) -> bool {
        match target {
            PodTarget::Name(n) if self.exact => *n == self.name,
            PodTarget::Name(n) => n.starts_with(&self.name),
            // The ReplicaSet controller adds `pod-template-hash`; any value may match it.
            PodTarget::Selector { selector, .. } => selector.iter().all(|(k, v)| {
                (k == "pod-template-hash" && !self.exact) || self.labels.get(k) == Some(v)
            }),
        }
    }
}

/// A warning for a `deletePod`, `killContainer` or `failProbe` event that no pod the objects
/// can make would answer: it would do nothing when it fires.
fn warn_if_no_pod(ctx: &mut Ctx, path: &str, action: &Action, shapes: &[PodShape]) {
    let (key, name_key, target) = match action {
        Action::DeletePod(t) => ("deletePod", "name", t),
        Action::KillContainer { target, .. } => ("killContainer", "pod", target),
        Action::FailProbe { target, .. } => ("failProbe", "pod", target),
        _ => return,
    };
    let ap = format!("{path}.{key}");
    let candidates: Vec<&PodShape> = shapes.iter().filter(|s| s.may_be(target)).collect();
    if candidates.is_empty() {
        let (field, what) = match target {
            PodTarget::Name(n) => (
                name_key,
                format!("no pod named {n:?} can exist (no bare Pod has that name, and no Deployment or ReplicaSet names its pods with a prefix of it)"),
            ),
            PodTarget::Selector { .. } => (
                "selector",
                format!(
                    "{} matches the labels of no pod the scenario's objects make{}",
                    target.label(),
                    known_labels(shapes)
                ),
            ),
        };
        ctx.warn(
            &format!("{ap}.{field}"),
            format!("{what}: the event changes nothing"),
        );
        return;
    }
    match action {
        Action::KillContainer {
            container: Some(c), ..
        } if !candidates
            .iter()
            .any(|s| s.containers.iter().any(|x| &x.name == c)) =>
        {
            let names: BTreeSet<&str> = candidates
                .iter()
                .flat_map(|s| s.containers.iter().map(|x| x.name.as_str()))
                .collect();
            ctx.warn(
                &format!("{ap}.container"),
                format!(
                    "no pod {} can pick has a container named {c:?} (its containers: {}): the event changes nothing",
                    target.label(),
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        Action::FailProbe { probe, .. }
            if !candidates
                .iter()
                .any(|s| s.containers.iter().any(|x| x.probe(*probe).is_some())) =>
        {
            ctx.warn(
                &format!("{ap}.probe"),
                format!(
                    "no container of the pods {} can pick has a {} probe: the event changes nothing",
                    target.label(),
                    probe_name(*probe)
                ),
            );
        }
        _ => {}
    }
}

fn probe_name(p: ProbeKind) -> &'static str {
    match p {
        ProbeKind::Liveness => "liveness",
        ProbeKind::Readiness => "readiness",
        ProbeKind::Startup => "startup",
    }
}

/// ` (pod labels: app=web; app=db)`: the label sets a selector could match, a few of them.
fn known_labels(shapes: &[PodShape]) -> String {
    let mut sets: Vec<String> = shapes
        .iter()
        .map(|s| {
            s.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|l| !l.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if sets.is_empty() {
        return String::new();
    }
    let more = sets.len().saturating_sub(5);
    sets.truncate(5);
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!(" (pod labels: {}{tail})", sets.join("; "))
}

/// Objects the scenario wrote that failed to load (their errors are reported): an event that
/// names one is not reported again as naming a missing object.
#[derive(Debug, Default)]
pub struct Rejected {
    /// `(kind, namespace, name)` of each rejected object whose name could be read.
    named: BTreeSet<(String, String, String)>,
    /// A document failed before its kind or name could be read: it may be any object.
    unknown: bool,
}

impl Rejected {
    /// Records a rejected object; an empty `kind` or `name` (not readable) could be any.
    pub fn add(&mut self, kind: &str, namespace: &str, name: &str) {
        if kind.is_empty() || name.is_empty() {
            self.unknown = true;
        } else {
            self.named
                .insert((kind.to_string(), namespace.to_string(), name.to_string()));
        }
    }

    /// Records a document that failed before anything in it could be read.
    pub fn add_unknown(&mut self) {
        self.unknown = true;
    }

    /// Whether any object was rejected.
    pub fn any(&self) -> bool {
        self.unknown || !self.named.is_empty()
    }

    /// Whether the object `kind` `namespace/name` may be one that was rejected.
    pub fn covers(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.unknown
            || self
                .named
                .contains(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }
}

/// The timeline in time order (events at one instant keep their written order), after
/// checking the Deployments and Services that events name: each must be one of the scenario's
/// objects or applied by an earlier event (Deployments are looked up in namespace `default`,
/// as `scale` does). `events` pairs each event with its parsed `apply` object, if any; an
/// `apply` whose object was rejected (`None`) is dropped (its error is already reported), and
/// so is an event naming an object that was written but `rejected`: one mistake, one error.
///
/// An `apply` object counts toward `totals` (kubesim's bounds on pods, Services, ...). An event
/// aimed at pods that no object written or applied before it can make (a selector no pod
/// template's labels satisfy, a container name or a probe no such pod has) gets a warning: it
/// would change nothing.
pub fn finish_events(
    ctx: &mut Ctx,
    events: Vec<(ResolvedEvent, Option<Object>)>,
    objects: &[Object],
    rejected: &Rejected,
    totals: &mut limits::Totals,
) -> Vec<TimelineEvent> {
    let mut events = events;
    // A stable sort: events at one instant keep their written order.
    events.sort_by_key(|(e, _)| e.at);
    let key = |o: &Object| (o.kind(), o.meta().namespace.clone(), o.meta().name.clone());
    let mut known: BTreeSet<(&str, String, String)> = objects.iter().map(key).collect();
    let mut shapes: Vec<PodShape> = objects.iter().filter_map(PodShape::of).collect();
    let mut out = Vec::new();
    for (e, obj) in events {
        let action = match e.action {
            EventAction::Apply => match obj {
                Some(o) => {
                    for (field, msg) in totals.add(&o) {
                        let at = format!("{}.apply", e.path);
                        let path = if field.is_empty() {
                            at
                        } else {
                            format!("{at}.{field}")
                        };
                        ctx.err(&path, msg);
                    }
                    known.insert(key(&o));
                    shapes.extend(PodShape::of(&o));
                    Action::Apply(Box::new(o))
                }
                None => continue,
            },
            EventAction::Ready(a) => a,
        };
        // With an object rejected, the pods it would make are unknown: no guesses then.
        if !rejected.any() {
            warn_if_no_pod(ctx, &e.path, &action, &shapes);
        }
        let named = match &action {
            Action::Scale { deployment, .. } => {
                Some(("scale", "deployment", "Deployment", "default", deployment))
            }
            Action::RolloutRestart { deployment } => Some((
                "rolloutRestart",
                "deployment",
                "Deployment",
                "default",
                deployment,
            )),
            Action::RolloutRestartSet { kind, name } => Some((
                "rolloutRestart",
                kind.resource(),
                kind.kind(),
                "default",
                name,
            )),
            Action::SetImage { deployment, .. } => Some((
                "setImage",
                "deployment",
                "Deployment",
                "default",
                deployment,
            )),
            Action::Delete {
                kind,
                namespace,
                name,
            } if kind == "Deployment" || kind == "Service" => {
                Some(("delete", "name", kind.as_str(), namespace.as_str(), name))
            }
            _ => None,
        };
        if let Some((action_key, field, kind, ns, name)) = named {
            let kind = match kind {
                "Service" => "Service",
                "StatefulSet" => "StatefulSet",
                "DaemonSet" => "DaemonSet",
                _ => "Deployment",
            };
            if !known.contains(&(kind, ns.to_string(), name.clone())) {
                if rejected.covers(kind, ns, name) {
                    continue;
                }
                ctx.err(
                    &format!("{}.{action_key}.{field}", e.path),
                    format!(
                        "no {} {name:?} in namespace {ns:?} (neither in the scenario's objects nor applied by an earlier event)",
                        kind.to_ascii_lowercase()
                    ),
                );
                continue;
            }
        }
        if let Action::SetImage {
            deployment,
            container,
            ..
        } = &action
        {
            let template = objects.iter().rev().find_map(|o| match o {
                Object::Deployment(d)
                    if d.meta.namespace == "default" && &d.meta.name == deployment =>
                {
                    Some(&d.template)
                }
                _ => None,
            });
            if let Some(t) = template {
                if !t.spec.containers.iter().any(|c| &c.name == container) {
                    ctx.err(
                        &format!("{}.setImage.container", e.path),
                        format!("unable to find container named {container:?} in deployment {deployment:?}"),
                    );
                    continue;
                }
            }
        }
        out.push(TimelineEvent { at: e.at, action });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_per_second() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("6000/m"), Ok(100.0));
        assert_eq!(parse_rate("2.5/s"), Ok(2.5));
        assert!(parse_rate("-5/s").is_err());
        assert!(parse_rate("5/d").is_err());
        assert!(
            parse_rate("1e-321/h").is_err(),
            "zero per second (fuzz target rate)"
        );
    }

    #[test]
    fn destinations_are_addresses_or_names() {
        assert_eq!(
            parse_destination("192.168.0.24:30001"),
            Ok(Destination::Addr([192, 168, 0, 24].into(), 30001))
        );
        assert_eq!(
            parse_destination("http-svc.default.svc.cluster.local:8080"),
            Ok(Destination::Name(
                "http-svc.default.svc.cluster.local".into(),
                8080
            ))
        );
        assert!(parse_destination("192.168.0.24").is_err());
        assert!(parse_destination("Bad_Name:80").is_err());
        assert!(parse_destination("x:0").is_err());
        // An address with a trailing dot would be a name that prints as the address.
        let e = parse_destination("9.2.8.0.:1").unwrap_err();
        assert!(e.contains("an IPv4 address with a trailing dot"), "{e}");
        assert_eq!(
            parse_destination("web.:80"),
            Ok(Destination::Name("web".to_string(), 80))
        );
    }

    #[test]
    fn selectors_parse_key_value_pairs() {
        let l = parse_selector("app=client, tier==web").unwrap();
        assert_eq!(l.len(), 2);
        assert!(parse_selector("app").is_err());
    }
}
