//! The HorizontalPodAutoscaler controller as kube-controller-manager runs it
//! (`pkg/controller/podautoscaler/horizontal.go`, `reconcileAutoscaler`), with the replica
//! calculator of `pkg/controller/podautoscaler/replica_calculator.go`.
//!
//! Every HPA is synced every `--horizontal-pod-autoscaler-sync-period` (15 s), the first time
//! one period after its creation. A sync reads the target's `scale` (a Deployment's, a ReplicaSet's or a
//! StatefulSet's replicas and selector), the pods the selector matches and their metrics from
//! [`super::metrics`], computes one proposal per metric (the highest wins), stabilises it over
//! the behaviour's windows, limits it by the scaling policies, and scales the target (a
//! StatefulSet adds and removes its ordinals in order, `web-3` before `web-4`, removing the
//! highest first), with upstream's events
//! (`SuccessfulRescale`, `FailedGetResourceMetric`, `FailedComputeMetricsReplicas`) and
//! conditions (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
//!
//! The arithmetic is upstream's, in floating point where upstream's is (`math.Ceil` of a
//! `float64` ratio); the pure parts ([`group_pods`], [`resource_replicas`],
//! [`plain_replicas`], [`stabilize`], [`rate_limit`]) are tested against upstream's test cases.

use super::metrics::PodMetric;
use super::Simulation;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{DeployId, PodId, PodPhase, RsId};
use crate::model::hpa::{
    HorizontalPodAutoscaler, MetricSpec, MetricTarget, PolicyType, ScalingRules, SelectPolicy,
};
use crate::model::objects::LabelSelector;

/// `--horizontal-pod-autoscaler-sync-period` default, 15 s
/// (`pkg/controller/podautoscaler/config/v1alpha1/defaults.go`).
pub const SYNC_PERIOD: SimDuration = SimDuration::from_secs(15);
/// `--horizontal-pod-autoscaler-tolerance` default, 0.1 (same file).
pub const TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-cpu-initialization-period` default, 5 min (same file).
pub const CPU_INITIALIZATION_PERIOD: SimDuration = SimDuration::from_secs(300);
/// `--horizontal-pod-autoscaler-initial-readiness-delay` default, 30 s (same file).
pub const INITIAL_READINESS_DELAY: SimDuration = SimDuration::from_secs(30);

// ---- the replica calculator (pure) ----

/// What the replica calculator reads of one pod the selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodView {
    pub phase: PodPhase,
    /// `deletionTimestamp` is set.
    pub deleting: bool,
    /// The `Ready` condition's status, and its `lastTransitionTime`.
    pub ready: bool,
    pub ready_transition: SimTime,
    /// `status.startTime` (`None` before the kubelet has the pod).
    pub start: Option<SimTime>,
    /// The metric for this pod (`None`: the metrics API has none), in milli-units.
    pub metric: Option<Sample>,
    /// The pods' summed container requests of the resource, in milli-units; `None` when a
    /// container has none (`missing request for cpu in container ...`).
    pub request: Option<i64>,
}

/// One pod's metric value as the metrics client returns it (`metricsclient.PodMetric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub value: i64,
    pub timestamp: SimTime,
    pub window: SimDuration,
}

/// How [`group_pods`] sorts a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Ready,
    Unready,
    Missing,
    Ignored,
}

/// `groupPods`: deleted and failed pods are ignored, pending ones unready, pods without a
/// metric missing; for CPU, a pod in its initialisation period is unready while not ready or
/// until a whole metric window has passed since it turned ready, and after it a pod that is
/// not ready and never was is unready.
pub fn group_pods(p: &PodView, cpu: bool, now: SimTime) -> Group {
    if p.deleting || p.phase == PodPhase::Failed {
        return Group::Ignored;
    }
    if p.phase == PodPhase::Pending {
        return Group::Unready;
    }
    let Some(m) = p.metric else {
        return Group::Missing;
    };
    if cpu {
        let unready = match p.start {
            None => true,
            Some(start) if start + CPU_INITIALIZATION_PERIOD > now => {
                !p.ready || m.timestamp < p.ready_transition + m.window
            }
            Some(start) => !p.ready && start + INITIAL_READINESS_DELAY > p.ready_transition,
        };
        if unready {
            return Group::Unready;
        }
    }
    Group::Ready
}

/// `Tolerances.isWithin`: no change while the ratio is within `[1 - down, 1 + up]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    pub down: f64,
    pub up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            down: TOLERANCE,
            up: TOLERANCE,
        }
    }
}

impl Tolerances {
    fn is_within(self, ratio: f64) -> bool {
        (1.0 - self.down) <= ratio && ratio <= (1.0 + self.up)
    }
}

/// A proposal: the replicas, and the metric's current value (utilization in percent, or the
/// average in milli-units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    pub replicas: u32,
    pub current: i64,
}

/// `GetResourceUtilizationRatio`: (ratio, utilization in percent, raw average).
fn utilization_ratio(values: &[(i64, i64)], target: i32) -> Result<(f64, i64), String> {
    let (mut total, mut requests) = (0i64, 0i64);
    for (v, r) in values {
        total = total.saturating_add(*v);
        requests = requests.saturating_add(*r);
    }
    if requests == 0 {
        return Err("no metrics returned matched known pods".into());
    }
    let utilization = total.saturating_mul(100) / requests;
    Ok((utilization as f64 / f64::from(target), utilization))
}

/// `GetResourceReplicas`: the replicas for a target utilization (percent of the request).
pub fn resource_replicas(
    pods: &[PodView],
    current: u32,
    target: i32,
    resource: &str,
    tol: Tolerances,
    now: SimTime,
) -> Result<Proposal, String> {
    if pods.iter().all(|p| p.metric.is_none()) {
        return Err(format!(
            "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        ));
    }
    let cpu = resource == "cpu";
    let groups: Vec<Group> = pods.iter().map(|p| group_pods(p, cpu, now)).collect();
    let ready_count = groups.iter().filter(|g| **g == Group::Ready).count();
    if ready_count == 0 {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    // `calculateRequests` covers every pod the selector matches.
    let mut requests = Vec::with_capacity(pods.len());
    for p in pods {
        match p.request {
            Some(r) => requests.push(r),
            None => return Err(format!("missing request for {resource}")),
        }
    }
    let ready: Vec<(i64, i64)> = (0..pods.len())
        .filter(|&i| groups[i] == Group::Ready)
        .map(|i| (pods[i].metric.map_or(0, |m| m.value), requests[i]))
        .collect();
    let (ratio, utilization) = utilization_ratio(&ready, target)?;
    let unready = groups.contains(&Group::Unready);
    let missing = groups.contains(&Group::Missing);
    let up_with_unready = unready && ratio > 1.0;
    if !up_with_unready && !missing {
        if tol.is_within(ratio) {
            return Ok(Proposal {
                replicas: current,
                current: utilization,
            });
        }
        return Ok(Proposal {
            replicas: (ratio * ready_count as f64).ceil() as u32,
            current: utilization,
        });
    }
    // Missing pods use 100% (or the target if higher) on a scale-down, 0% on a scale-up;
    // unready pods 0% on a scale-up.
    let fallback = i64::from(target.max(100));
    let mut values = ready;
    for (g, r) in groups.iter().zip(&requests) {
        match g {
            Group::Missing if ratio < 1.0 => values.push((r * fallback / 100, *r)),
            Group::Missing if ratio > 1.0 => values.push((0, *r)),
            Group::Unready if up_with_unready => values.push((0, *r)),
            _ => {}
        }
    }
    let (new_ratio, _) = utilization_ratio(&values, target)?;
    if tol.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(Proposal {
            replicas: current,
            current: utilization,
        });
    }
    let replicas = (new_ratio * values.len() as f64).ceil() as u32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(Proposal {
            replicas: current,
            current: utilization,
        });
    }
    Ok(Proposal {
        replicas,
        current: utilization,
    })
}

/// `calcPlainMetricReplicas` (a `Pods` metric, or a resource's `AverageValue`): the replicas
/// for a target average per pod, in milli-units. `cpu`: the pods' readiness counts as for CPU.
pub fn plain_replicas(
    pods: &[PodView],
    current: u32,
    target: i64,
    cpu: bool,
    tol: Tolerances,
    now: SimTime,
) -> Result<Proposal, String> {
    let groups: Vec<Group> = pods.iter().map(|p| group_pods(p, cpu, now)).collect();
    let ready: Vec<i64> = (0..pods.len())
        .filter(|&i| groups[i] == Group::Ready)
        .map(|i| pods[i].metric.map_or(0, |m| m.value))
        .collect();
    if ready.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    // `GetMetricUsageRatio`: the integer average over the target.
    let ratio_of = |v: &[i64]| {
        let avg = v.iter().fold(0i64, |a, x| a.saturating_add(*x)) / v.len() as i64;
        (avg as f64 / target as f64, avg)
    };
    let (ratio, usage) = ratio_of(&ready);
    let unready = groups.contains(&Group::Unready);
    let missing = groups.contains(&Group::Missing);
    let up_with_unready = unready && ratio > 1.0;
    let keep = Proposal {
        replicas: current,
        current: usage,
    };
    if !up_with_unready && !missing {
        if tol.is_within(ratio) {
            return Ok(keep);
        }
        return Ok(Proposal {
            replicas: (ratio * ready.len() as f64).ceil() as u32,
            current: usage,
        });
    }
    let mut values = ready;
    for g in &groups {
        match g {
            Group::Missing if ratio < 1.0 => values.push(target),
            Group::Missing if ratio > 1.0 => values.push(0),
            Group::Unready if up_with_unready => values.push(0),
            _ => {}
        }
    }
    let (new_ratio, _) = ratio_of(&values);
    if tol.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(keep);
    }
    let replicas = (new_ratio * values.len() as f64).ceil() as u32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(keep);
    }
    Ok(Proposal {
        replicas,
        current: usage,
    })
}

// ---- behaviour: stabilisation and rate limits (pure) ----

/// A recommendation or a scale event, with its time (`timestampedRecommendation`,
/// `timestampedScaleEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamped {
    pub value: i64,
    pub at: SimTime,
}

/// Whether `at` is strictly after `now - secs` (upstream's `timestamp.After(cutoff)`).
fn after_cutoff(at: SimTime, now: SimTime, secs: i32) -> bool {
    at + SimDuration::from_secs(secs.max(0) as u64) > now
}

/// `stabilizeRecommendationWithBehaviors`: the recommendation held within the lowest
/// recommendation of the scale-up window and the highest of the scale-down window (both
/// including this one), which is then recorded (replacing one older than both windows).
pub fn stabilize(
    recs: &mut Vec<Stamped>,
    current: i64,
    desired: i64,
    up: &ScalingRules,
    down: &ScalingRules,
    now: SimTime,
) -> (i64, &'static str, &'static str) {
    let (mut up_rec, mut down_rec) = (desired, desired);
    let mut old = None;
    for (i, r) in recs.iter().enumerate() {
        let in_up = after_cutoff(r.at, now, up.stabilization_window_seconds);
        let in_down = after_cutoff(r.at, now, down.stabilization_window_seconds);
        if in_up {
            up_rec = up_rec.min(r.value);
        }
        if in_down {
            down_rec = down_rec.max(r.value);
        }
        // `Before(cutoff)` on both: strictly older than both windows.
        let before = |secs: i32| r.at + SimDuration::from_secs(secs.max(0) as u64) < now;
        if before(up.stabilization_window_seconds) && before(down.stabilization_window_seconds) {
            old = Some(i);
        }
    }
    let recommendation = current.max(up_rec).min(down_rec);
    let rec = Stamped {
        value: desired,
        at: now,
    };
    match old {
        Some(i) => recs[i] = rec,
        None => recs.push(rec),
    }
    if desired >= current {
        (
            recommendation,
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation",
        )
    } else {
        (
            recommendation,
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
        )
    }
}

/// `getReplicasChangePerPeriod`.
fn change_in_period(period: i32, events: &[Stamped], now: SimTime) -> i64 {
    events
        .iter()
        .filter(|e| after_cutoff(e.at, now, period))
        .map(|e| e.value)
        .sum()
}

/// `calculateScaleUpLimitWithScalingRules` (`up`) or `calculateScaleDownLimitWithBehaviors`.
fn policy_limit(
    current: i64,
    ups: &[Stamped],
    downs: &[Stamped],
    rules: &ScalingRules,
    up: bool,
    now: SimTime,
) -> i64 {
    // Scaling up, `Max` takes the largest proposal; scaling down, the smallest.
    let larger = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Max => up,
        SelectPolicy::Min => !up,
    };
    let mut result = if larger { i64::MIN } else { i64::MAX };
    for p in &rules.policies {
        let start = current - change_in_period(p.period_seconds, ups, now)
            + change_in_period(p.period_seconds, downs, now);
        let v = i64::from(p.value);
        let proposed = match (p.kind, up) {
            (PolicyType::Pods, true) => start + v,
            (PolicyType::Pods, false) => start - v,
            (PolicyType::Percent, true) => (start as f64 * (1.0 + v as f64 / 100.0)).ceil() as i64,
            (PolicyType::Percent, false) => (start as f64 * (1.0 - v as f64 / 100.0)) as i64,
        };
        result = if larger {
            result.max(proposed)
        } else {
            result.min(proposed)
        };
    }
    result
}

/// `convertDesiredReplicasWithBehaviorRate`: the stabilised recommendation limited by the
/// policies and by min/maxReplicas, with the `ScalingLimited` reason and message.
#[allow(clippy::too_many_arguments)]
pub fn rate_limit(
    current: i64,
    desired: i64,
    min: i64,
    max: i64,
    behavior: &crate::model::hpa::Behavior,
    ups: &[Stamped],
    downs: &[Stamped],
    now: SimTime,
) -> (i64, &'static str, &'static str) {
    if desired > current {
        let limit = policy_limit(current, ups, downs, &behavior.scale_up, true, now).max(current);
        let (allowed, reason, message) = if max > limit {
            (
                limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        } else {
            (
                max,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        };
        if desired > allowed {
            return (allowed, reason, message);
        }
    } else if desired < current {
        let limit =
            policy_limit(current, ups, downs, &behavior.scale_down, false, now).min(current);
        let (allowed, reason, message) = if min < limit {
            (
                limit,
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            )
        } else {
            (
                min,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        };
        if desired < allowed {
            return (allowed, reason, message);
        }
    }
    (
        desired,
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
}

// ---- the controller in the simulation ----

/// One condition of `status.conditions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// One HPA's object and the controller's memory of it.
#[derive(Debug, Clone)]
pub(super) struct HpaRun {
    pub spec: HorizontalPodAutoscaler,
    pub created: SimTime,
    pub deleted: bool,
    recommendations: Vec<Stamped>,
    scale_ups: Vec<Stamped>,
    scale_downs: Vec<Stamped>,
    /// `status.currentReplicas`, `desiredReplicas`, `lastScaleTime`.
    pub current_replicas: u32,
    pub desired_replicas: u32,
    pub last_scale: Option<SimTime>,
    /// `status.currentMetrics`, one per metric of the spec (`None`: unknown).
    pub current_metrics: Vec<Option<i64>>,
    pub conditions: Vec<Condition>,
    /// What every sync saw and set.
    pub history: Vec<super::outcome::HpaSync>,
    /// The warnings recorded since the last sync that computed a size, so a failure repeated
    /// every sync is one event line (the event recorder counts repeats on one event).
    warned: Vec<String>,
}

impl HpaRun {
    fn set_condition(&mut self, type_: &'static str, status: bool, reason: &str, message: String) {
        let c = Condition {
            type_,
            status,
            reason: reason.into(),
            message,
        };
        match self.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(old) => *old = c,
            None => self.conditions.push(c),
        }
    }
}

/// The HPA controller's state.
#[derive(Debug, Default)]
pub(super) struct Hpas {
    pub list: Vec<HpaRun>,
}

/// A target with a `scale` subresource (`autoscaling/v1` `Scale`: `spec.replicas` and
/// `status.selector`), as `scaleTargetRef` finds it.
#[derive(Debug, Clone, Copy)]
enum Target {
    Deployment(DeployId),
    ReplicaSet(RsId),
    /// An index into the simulation's StatefulSets.
    StatefulSet(u32),
}

/// `"<kind> resource utilization (percentage of request)"` and the like: the metric's name in
/// the `ValidMetricFound` condition and the `SuccessfulRescale` reason.
fn metric_name(m: &MetricSpec) -> String {
    match m {
        MetricSpec::Resource {
            name,
            target: MetricTarget::Utilization(_),
        } => format!("{name} resource utilization (percentage of request)"),
        MetricSpec::Resource { name, .. } => format!("{name} resource"),
        MetricSpec::Pods { name, .. } => format!("pods metric {name}"),
        MetricSpec::Other { type_name, name } => {
            format!("{} metric {name}", type_name.to_lowercase())
        }
    }
}

impl Simulation {
    /// Creates or updates an HPA (`kubectl apply`); a new one is first synced one sync period
    /// after its creation, then every sync period: upstream's informer adds it to the work
    /// queue with `AddRateLimited`, whose `FixedItemIntervalRateLimiter` delays every item by
    /// the sync period (`enqueueHPA` in horizontal.go, `NewDefaultHPARateLimiter` in
    /// `pkg/controller/podautoscaler/rate_limiters.go`). An update of an HPA already queued
    /// keeps its place.
    pub(super) fn apply_hpa(&mut self, h: HorizontalPodAutoscaler) {
        let now = self.queue.now();
        let existing = self.hpas.list.iter_mut().find(|r| {
            !r.deleted
                && r.spec.meta.namespace == h.meta.namespace
                && r.spec.meta.name == h.meta.name
        });
        if let Some(r) = existing {
            let n = h.metrics.len();
            r.spec = h;
            r.current_metrics.resize(n, None);
            return;
        }
        let n = h.metrics.len();
        self.hpas.list.push(HpaRun {
            spec: h,
            created: now,
            deleted: false,
            recommendations: Vec::new(),
            scale_ups: Vec::new(),
            scale_downs: Vec::new(),
            current_replicas: 0,
            desired_replicas: 0,
            last_scale: None,
            current_metrics: vec![None; n],
            conditions: Vec::new(),
            history: Vec::new(),
            warned: Vec::new(),
        });
        self.start_metrics_server(now);
        let i = (self.hpas.list.len() - 1) as u32;
        self.queue
            .schedule(now + SYNC_PERIOD, super::Ev::HpaSync(i));
    }

    /// `kubectl delete hpa`: whether it existed.
    pub(super) fn delete_hpa(&mut self, namespace: &str, name: &str) -> bool {
        match self
            .hpas
            .list
            .iter_mut()
            .find(|r| !r.deleted && r.spec.meta.namespace == namespace && r.spec.meta.name == name)
        {
            Some(r) => {
                r.deleted = true;
                true
            }
            None => false,
        }
    }

    fn hpa_warning(&mut self, now: SimTime, i: usize, reason: &str, message: String) {
        let key = format!("{reason}: {message}");
        let r = &mut self.hpas.list[i];
        if r.warned.contains(&key) {
            return;
        }
        r.warned.push(key);
        let object = format!("horizontalpodautoscaler/{}", r.spec.meta.name);
        self.log.warning(now, object, reason, message);
    }

    /// The pods of a target's selector, as the replica calculator sees them.
    fn hpa_pods(
        &self,
        namespace: &str,
        selector: &LabelSelector,
        resource: Option<&str>,
    ) -> Vec<PodView> {
        self.cluster
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.exists() && p.meta.namespace == namespace && selector.matches(&p.meta.labels)
            })
            .map(|(i, p)| {
                let metric = self
                    .metrics_server
                    .pod(PodId(i as u32))
                    .and_then(|m: PodMetric| {
                        let value = match resource {
                            Some("cpu") => m.cpu_milli,
                            // Memory is not modelled: no pod has a memory metric.
                            Some(_) => return None,
                            None => m.requests_milli,
                        };
                        Some(Sample {
                            value,
                            timestamp: m.timestamp,
                            window: m.window,
                        })
                    });
                let request = match resource {
                    Some("cpu") => {
                        if p.spec.containers.iter().all(|c| c.requests.cpu_millis > 0) {
                            Some(
                                p.spec
                                    .containers
                                    .iter()
                                    .map(|c| c.requests.cpu_millis as i64)
                                    .sum(),
                            )
                        } else {
                            None
                        }
                    }
                    Some("memory") => {
                        if p.spec
                            .containers
                            .iter()
                            .all(|c| c.requests.memory_bytes > 0)
                        {
                            Some(
                                p.spec
                                    .containers
                                    .iter()
                                    .map(|c| c.requests.memory_bytes as i64 * 1000)
                                    .sum(),
                            )
                        } else {
                            None
                        }
                    }
                    _ => Some(0),
                };
                // The Ready condition's `lastTransitionTime`: its last change either way, so a
                // pod that was ready and no longer is counts after the initialisation period
                // (upstream ignores only one "never ready": start + 30 s after the transition)
                let ready_transition = p.ready_changed;
                PodView {
                    phase: p.phase,
                    deleting: p.deleted.is_some(),
                    ready: p.ready,
                    ready_transition,
                    start: p.node.map(|_| p.created),
                    metric,
                    request,
                }
            })
            .collect()
    }

    /// One `reconcileAutoscaler` pass for HPA `i`; schedules the next.
    pub(super) fn on_hpa_sync(&mut self, now: SimTime, i: u32) {
        let i = i as usize;
        if self.hpas.list[i].deleted {
            return;
        }
        self.queue
            .schedule(now + SYNC_PERIOD, super::Ev::HpaSync(i as u32));
        let spec = self.hpas.list[i].spec.clone();
        let ns = spec.meta.namespace.clone();
        // The scale subresource.
        let target = match spec.target.kind.as_str() {
            "Deployment" => self
                .find_deployment(&ns, &spec.target.name)
                .map(Target::Deployment),
            "ReplicaSet" => self
                .cluster
                .replica_sets
                .iter()
                .enumerate()
                .rev()
                .find(|(j, r)| {
                    r.owner.is_none()
                        && r.meta.namespace == ns
                        && r.meta.name == spec.target.name
                        && !self
                            .workload
                            .deleted_replica_sets
                            .contains(&RsId(*j as u32))
                })
                .map(|(j, _)| Target::ReplicaSet(RsId(j as u32))),
            "StatefulSet" => self
                .find_stateful_set(&ns, &spec.target.name)
                .map(Target::StatefulSet),
            _ => None,
        };
        let Some(target) = target else {
            let resource = match spec.target.kind.as_str() {
                "Deployment" => "deployments.apps".to_string(),
                "ReplicaSet" => "replicasets.apps".to_string(),
                "StatefulSet" => "statefulsets.apps".to_string(),
                k => format!("{}s", k.to_lowercase()),
            };
            let err = format!("{resource} {:?} not found", spec.target.name);
            self.hpas.list[i].set_condition(
                "AbleToScale",
                false,
                "FailedGetScale",
                format!("the HPA controller was unable to get the target's current scale: {err}"),
            );
            self.hpa_warning(now, i, "FailedGetScale", err);
            return;
        };
        let (current, selector) = self.hpa_get_scale(target);
        let min = spec.min_replicas;
        let max = spec.max_replicas;
        let mut desired: u32 = 0;
        let mut reason = String::new();
        let mut rescale = true;
        if current == 0 && min != 0 {
            desired = 0;
            rescale = false;
            self.hpas.list[i].set_condition(
                "ScalingActive",
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            );
        } else if current > max {
            reason = "Current number of replicas above Spec.MaxReplicas".into();
            desired = max;
        } else if current < min {
            reason = "Current number of replicas below Spec.MinReplicas".into();
            desired = min;
        } else {
            match self.hpa_metrics(now, i, &spec, current, &ns, &selector) {
                None => {
                    self.hpas.list[i].current_replicas = current;
                    self.hpa_record(now, i, current, current);
                    return;
                }
                Some((metric_desired, metric)) => {
                    if metric_desired > desired {
                        desired = metric_desired;
                    }
                    if desired > current {
                        reason = format!("{metric} above target");
                    }
                    if desired < current {
                        reason = "All metrics below target".into();
                    }
                    desired = self.hpa_normalize(now, i, current, desired);
                    rescale = desired != current;
                }
            }
        }
        if rescale {
            self.hpa_update_scale(target, desired);
            let r = &mut self.hpas.list[i];
            r.set_condition(
                "AbleToScale",
                true,
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {desired}"),
            );
            let object = format!("horizontalpodautoscaler/{}", r.spec.meta.name);
            // `storeScaleEvent`: kept for the longest policy period.
            let change = Stamped {
                value: (i64::from(desired) - i64::from(current)).abs(),
                at: now,
            };
            let longest = |rules: &ScalingRules| {
                rules
                    .policies
                    .iter()
                    .map(|p| p.period_seconds)
                    .max()
                    .unwrap_or(0)
            };
            if desired > current {
                let keep = longest(&r.spec.behavior.scale_up);
                r.scale_ups.retain(|e| after_cutoff(e.at, now, keep));
                r.scale_ups.push(change);
            } else {
                let keep = longest(&r.spec.behavior.scale_down);
                r.scale_downs.retain(|e| after_cutoff(e.at, now, keep));
                r.scale_downs.push(change);
            }
            r.last_scale = Some(now);
            self.log.normal(
                now,
                object,
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {reason}"),
            );
        } else {
            desired = current;
        }
        let r = &mut self.hpas.list[i];
        r.current_replicas = current;
        r.desired_replicas = desired;
        self.hpa_record(now, i, current, desired);
    }

    /// `GET .../scale`: the target's `spec.replicas` (the HPA's current replicas) and the
    /// selector of its pods (`scaleFromDeployment`, `scaleFromReplicaSet`,
    /// `scaleFromStatefulSet` in `pkg/registry/apps/*/storage/storage.go`).
    fn hpa_get_scale(&self, target: Target) -> (u32, LabelSelector) {
        match target {
            Target::Deployment(d) => {
                let d = &self.cluster.deployments[d.index()].spec;
                (d.replicas, d.selector.clone())
            }
            Target::ReplicaSet(r) => {
                let r = &self.cluster.replica_sets[r.index()];
                (r.replicas, r.selector.clone())
            }
            Target::StatefulSet(s) => self.stateful_set_scale(s),
        }
    }

    /// `PUT .../scale` with `spec.replicas: desired`; the target's controller does the rest.
    fn hpa_update_scale(&mut self, target: Target, desired: u32) {
        match target {
            Target::Deployment(d) => self.scale_deployment_to(d, desired),
            Target::ReplicaSet(r) => {
                self.cluster.replica_sets[r.index()].replicas = desired;
                self.reconcile_replica_set(r);
            }
            Target::StatefulSet(s) => self.scale_stateful_set(s, desired),
        }
        self.endpoints_changed();
    }

    fn hpa_record(&mut self, now: SimTime, i: usize, current: u32, desired: u32) {
        let r = &mut self.hpas.list[i];
        let metric = r.current_metrics.first().copied().flatten();
        r.history.push(super::outcome::HpaSync {
            at: now,
            current,
            desired,
            metric,
        });
    }

    /// `computeReplicasForMetrics`: the highest proposal, or `None` (after the events and
    /// conditions) when every metric failed, or some did and the others would scale down.
    fn hpa_metrics(
        &mut self,
        now: SimTime,
        i: usize,
        spec: &HorizontalPodAutoscaler,
        current: u32,
        ns: &str,
        selector: &LabelSelector,
    ) -> Option<(u32, String)> {
        let b = &spec.behavior;
        let tol = Tolerances {
            down: b
                .scale_down
                .tolerance_milli
                .map_or(TOLERANCE, |t| t as f64 / 1000.0),
            up: b
                .scale_up
                .tolerance_milli
                .map_or(TOLERANCE, |t| t as f64 / 1000.0),
        };
        let mut replicas = 0u32;
        let mut name = String::new();
        let mut invalid = 0usize;
        let mut first_error: Option<(String, String, String)> = None;
        for (k, m) in spec.metrics.iter().enumerate() {
            let (result, fail_reason, wrap) = match m {
                MetricSpec::Resource { name: res, target } => {
                    let pods = self.hpa_pods(ns, selector, Some(res.as_str()));
                    let r = if pods.is_empty() {
                        Err(
                            "no pods returned by selector while calculating replica count"
                                .to_string(),
                        )
                    } else {
                        match target {
                            MetricTarget::Utilization(t) => {
                                resource_replicas(&pods, current, *t, res, tol, now)
                            }
                            MetricTarget::AverageValue(v) => {
                                if pods.iter().all(|p| p.metric.is_none()) {
                                    Err(format!("unable to get metrics for resource {res}: no metrics returned from resource metrics API"))
                                } else {
                                    plain_replicas(&pods, current, *v, res == "cpu", tol, now)
                                }
                            }
                        }
                    };
                    let what = match target {
                        MetricTarget::Utilization(_) => "utilization",
                        MetricTarget::AverageValue(_) => "usage",
                    };
                    (
                        r,
                        "FailedGetResourceMetric",
                        format!(
                            "failed to get {res} resource metric value: failed to get {res} {what}"
                        ),
                    )
                }
                MetricSpec::Pods {
                    name: metric,
                    average_milli,
                } => {
                    let pods = self.hpa_pods(ns, selector, None);
                    let r = if pods.is_empty() {
                        Err(
                            "no pods returned by selector while calculating replica count"
                                .to_string(),
                        )
                    } else if pods.iter().all(|p| p.metric.is_none()) {
                        Err(format!("unable to get metric {metric}: no metrics returned from custom metrics API"))
                    } else {
                        plain_replicas(&pods, current, *average_milli, false, tol, now)
                    };
                    (
                        r,
                        "FailedGetPodsMetric",
                        format!("failed to get pods metric value: failed to get {metric} usage"),
                    )
                }
                MetricSpec::Other {
                    type_name,
                    name: metric,
                } => (
                    Err(format!(
                        "unable to get metric {metric}: kubesim has no {type_name} metrics"
                    )),
                    match type_name.as_str() {
                        "Object" => "FailedGetObjectMetric",
                        "External" => "FailedGetExternalMetric",
                        _ => "FailedGetContainerResourceMetric",
                    },
                    format!("failed to get {} metric value", type_name.to_lowercase()),
                ),
            };
            match result {
                Ok(p) => {
                    self.hpas.list[i].current_metrics[k] = Some(p.current);
                    if replicas == 0 || p.replicas > replicas {
                        replicas = p.replicas;
                        name = metric_name(m);
                    }
                }
                Err(e) => {
                    self.hpas.list[i].current_metrics[k] = None;
                    self.hpa_warning(now, i, fail_reason, e.clone());
                    if first_error.is_none() {
                        first_error = Some((fail_reason.to_string(), e, wrap));
                    }
                    invalid += 1;
                }
            }
        }
        let n = spec.metrics.len();
        if let Some((reason, e, wrap)) = &first_error {
            if invalid >= n || replicas < current {
                self.hpas.list[i].set_condition(
                    "ScalingActive",
                    false,
                    reason,
                    format!("the HPA was unable to compute the replica count: {e}"),
                );
                self.hpa_warning(
                    now,
                    i,
                    "FailedComputeMetricsReplicas",
                    format!("invalid metrics ({invalid} invalid out of {n}), first error is: {wrap}: {e}"),
                );
                return None;
            }
        }
        self.hpas.list[i].set_condition(
            "ScalingActive",
            true,
            "ValidMetricFound",
            format!("the HPA was able to successfully calculate a replica count from {name}"),
        );
        self.hpas.list[i].warned.clear();
        Some((replicas, name))
    }

    /// `normalizeDesiredReplicasWithBehaviors`.
    fn hpa_normalize(&mut self, now: SimTime, i: usize, current: u32, desired: u32) -> u32 {
        let r = &mut self.hpas.list[i];
        // `maybeInitScaleDownStabilizationWindow`: the first recommendation is the current
        // size, so a new HPA does not scale down before the window has passed.
        if r.recommendations.is_empty()
            && r.spec.behavior.scale_down.stabilization_window_seconds > 0
        {
            r.recommendations.push(Stamped {
                value: i64::from(current),
                at: now,
            });
        }
        let b = r.spec.behavior.clone();
        let (stabilized, reason, message) = stabilize(
            &mut r.recommendations,
            i64::from(current),
            i64::from(desired),
            &b.scale_up,
            &b.scale_down,
            now,
        );
        if stabilized != i64::from(desired) {
            r.set_condition("AbleToScale", true, reason, message.into());
        } else {
            r.set_condition(
                "AbleToScale",
                true,
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            );
        }
        let (limited, reason, message) = rate_limit(
            i64::from(current),
            stabilized,
            i64::from(r.spec.min_replicas),
            i64::from(r.spec.max_replicas),
            &b,
            &r.scale_ups,
            &r.scale_downs,
            now,
        );
        r.set_condition(
            "ScalingLimited",
            limited != stabilized,
            reason,
            message.into(),
        );
        limited.max(0) as u32
    }
}

impl Simulation {
    /// The HPAs that exist now, as plain figures.
    pub(super) fn hpa_outcomes(&self) -> Vec<super::outcome::HpaOutcome> {
        self.hpas
            .list
            .iter()
            .filter(|r| !r.deleted)
            .map(|r| super::outcome::HpaOutcome {
                name: r.spec.meta.name.clone(),
                namespace: r.spec.meta.namespace.clone(),
                reference: format!("{}/{}", r.spec.target.kind, r.spec.target.name),
                targets: r
                    .spec
                    .metrics
                    .iter()
                    .zip(&r.current_metrics)
                    .map(|(m, cur)| {
                        let (name, kind, target) = match m {
                            MetricSpec::Resource {
                                name,
                                target: MetricTarget::Utilization(t),
                            } => (name.clone(), "Utilization".to_string(), i64::from(*t)),
                            MetricSpec::Resource {
                                name,
                                target: MetricTarget::AverageValue(v),
                            } => (name.clone(), "AverageValue".to_string(), *v),
                            MetricSpec::Pods {
                                name,
                                average_milli,
                            } => (name.clone(), "AverageValue".to_string(), *average_milli),
                            MetricSpec::Other { type_name, name } => {
                                (name.clone(), type_name.clone(), 0)
                            }
                        };
                        super::outcome::HpaTarget {
                            name,
                            kind,
                            target,
                            current: *cur,
                        }
                    })
                    .collect(),
                min_replicas: r.spec.min_replicas,
                max_replicas: r.spec.max_replicas,
                replicas: r.current_replicas,
                created: r.created,
                conditions: r
                    .conditions
                    .iter()
                    .map(|c| {
                        (
                            c.type_.to_string(),
                            c.status,
                            c.reason.clone(),
                            c.message.clone(),
                        )
                    })
                    .collect(),
                history: r.history.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    //! Cases of upstream's `pkg/controller/podautoscaler/replica_calculator_test.go`, by name.
    //! Upstream's pods have two containers with the level each and request `1.0` each; here
    //! one container with the level and a request of 1000m, which gives the same ratios.
    //! Upstream's tests run with a 2 min CPU initialisation period and a 10 s readiness delay;
    //! here the defaults (5 min, 30 s): a "cool" pod started 10 min ago, a "hot" one now.
    use super::*;
    use crate::model::hpa::{Behavior, ScalingPolicy};

    fn now() -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(3600)
    }
    fn cool() -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(3000)
    }
    fn hot() -> SimTime {
        now()
    }

    /// A running, ready pod started long ago, with `level` (milli) and a 1000m request.
    fn pod(level: Option<i64>) -> PodView {
        PodView {
            phase: PodPhase::Running,
            deleting: false,
            ready: true,
            ready_transition: cool(),
            start: Some(cool()),
            metric: level.map(|v| Sample {
                value: v,
                timestamp: now(),
                window: SimDuration::from_secs(30),
            }),
            request: Some(1000),
        }
    }
    fn pods(levels: &[i64]) -> Vec<PodView> {
        levels.iter().map(|l| pod(Some(*l))).collect()
    }
    fn unready(mut p: PodView) -> PodView {
        p.ready = false;
        p
    }
    fn started(mut p: PodView, at: SimTime) -> PodView {
        p.start = Some(at);
        p.ready_transition = at;
        p
    }
    fn cpu(pods: &[PodView], current: u32, target: i32) -> Result<(u32, i64), String> {
        resource_replicas(pods, current, target, "cpu", Tolerances::default(), now())
            .map(|p| (p.replicas, p.current))
    }
    fn plain(pods: &[PodView], current: u32, target: i64) -> (u32, i64) {
        let p = plain_replicas(pods, current, target, false, Tolerances::default(), now()).unwrap();
        (p.replicas, p.current)
    }

    #[test]
    fn test_replica_calc_scale_up() {
        assert_eq!(cpu(&pods(&[300, 500, 700]), 3, 30), Ok((5, 50)));
    }

    #[test]
    fn test_replica_calc_scale_up_unready_less_scale() {
        let mut p = pods(&[300, 500, 700]);
        p[0] = unready(p[0]);
        assert_eq!(cpu(&p, 3, 30), Ok((4, 60)));
    }

    #[test]
    fn test_replica_calc_scale_up_hot_cpu_less_scale() {
        let mut p = pods(&[300, 500, 700]);
        p[0] = started(p[0], hot());
        assert_eq!(cpu(&p, 3, 30), Ok((4, 60)));
    }

    #[test]
    fn test_replica_calc_scale_up_unready_no_scale() {
        let mut p = pods(&[400, 500, 700]);
        p[1] = unready(p[1]);
        p[2] = unready(p[2]);
        assert_eq!(cpu(&p, 3, 30), Ok((3, 40)));
    }

    #[test]
    fn test_replica_calc_scale_hot_cpu_no_scale() {
        let mut p = pods(&[400, 500, 700]);
        p[1] = started(unready(p[1]), hot());
        p[2] = started(unready(p[2]), hot());
        assert_eq!(cpu(&p, 3, 30), Ok((3, 40)));
    }

    #[test]
    fn test_replica_calc_scale_up_ignores_failed_and_deletion_pods() {
        // TestReplicaCalcScaleUpIgnoresFailedPods, TestReplicaCalcScaleUpIgnoresDeletionPods.
        let mut p = pods(&[500, 700]);
        let mut failed = unready(pod(None));
        failed.phase = PodPhase::Failed;
        p.extend([failed, failed]);
        assert_eq!(cpu(&p, 2, 30), Ok((4, 60)));
        let mut p = pods(&[500, 700]);
        let mut deleting = unready(pod(None));
        deleting.deleting = true;
        p.extend([deleting, deleting]);
        assert_eq!(cpu(&p, 2, 30), Ok((4, 60)));
    }

    #[test]
    fn test_replica_calc_scale_down() {
        assert_eq!(cpu(&pods(&[100, 300, 500, 250, 250]), 5, 50), Ok((3, 28)));
    }

    #[test]
    fn test_replica_calc_scale_down_exclude_unready_pods() {
        let mut p = pods(&[100, 300, 500, 250, 250]);
        p[3] = unready(p[3]);
        p[4] = unready(p[4]);
        assert_eq!(cpu(&p, 5, 50), Ok((2, 30)));
    }

    #[test]
    fn test_replica_calc_scale_down_exclude_unscheduled_pods() {
        let mut p = pods(&[100]);
        let mut pending = unready(pod(None));
        pending.phase = PodPhase::Pending;
        p.extend([pending; 4]);
        assert_eq!(cpu(&p, 5, 50), Ok((1, 10)));
    }

    #[test]
    fn test_replica_calc_scale_down_ignore_hot_cpu_pods() {
        let mut p = pods(&[100, 300, 500, 250, 250]);
        p[3] = started(p[3], hot());
        p[4] = started(p[4], hot());
        assert_eq!(cpu(&p, 5, 50), Ok((2, 30)));
    }

    #[test]
    fn test_replica_calc_tolerance() {
        let mut p = pods(&[1010, 1030, 1020]);
        p[0].request = Some(900);
        p[2].request = Some(1100);
        assert_eq!(cpu(&p, 3, 100), Ok((3, 102)));
    }

    #[test]
    fn test_replica_calc_missing_metrics() {
        let mut p = pods(&[400, 95]);
        p.extend([pod(None), pod(None)]);
        assert_eq!(cpu(&p, 4, 100), Ok((3, 24)));
    }

    #[test]
    fn test_replica_calc_missing_metrics_no_change_eq() {
        let p = vec![pod(Some(1000)), pod(None)];
        assert_eq!(cpu(&p, 2, 100), Ok((2, 100)));
    }

    #[test]
    fn test_replica_calc_empty_metrics_and_cpu_request() {
        // TestReplicaCalcEmptyMetrics, TestReplicaCalcEmptyCPURequest.
        let p = vec![pod(None); 3];
        assert_eq!(
            cpu(&p, 4, 100),
            Err("unable to get metrics for resource cpu: no metrics returned from resource metrics API".into())
        );
        let mut p = pods(&[200]);
        p[0].request = None;
        assert!(cpu(&p, 1, 100)
            .unwrap_err()
            .starts_with("missing request for"));
    }

    #[test]
    fn test_replica_calc_pods_metrics() {
        // TestReplicaCalcScaleUpCM, TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale (a pod
        // metric ignores CPU readiness), TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown,
        // TestReplicaCalcScaleDownCM, TestReplicaCalcToleranceCM,
        // TestPlainMetricReplicaCalcMissingMetricsNoChangeEq.
        assert_eq!(plain(&pods(&[20000, 10000, 30000]), 3, 15000), (4, 20000));
        let mut p = pods(&[50000, 10000, 30000]);
        p[2] = started(unready(p[2]), hot());
        assert_eq!(plain(&p, 3, 15000), (6, 30000));
        let mut p = pods(&[50000, 15000, 30000]);
        p[0] = started(unready(p[0]), hot());
        p[2] = started(unready(p[2]), hot());
        assert_eq!(plain(&p, 3, 15000), (7, 31666));
        assert_eq!(plain(&pods(&[12000; 5]), 5, 20000), (3, 12000));
        assert_eq!(plain(&pods(&[20000, 21000, 21000]), 3, 20000), (3, 20666));
        let mut p = pods(&[20000, 19000, 21000]);
        p.extend([pod(None), pod(None)]);
        assert_eq!(plain(&p, 5, 20000), (5, 20000));
    }

    #[test]
    fn test_replica_calc_scale_down_ignores_failed_pods() {
        let mut p = pods(&[100, 300, 500, 250, 250]);
        let mut failed = unready(pod(None));
        failed.phase = PodPhase::Failed;
        p.extend([failed, failed]);
        assert_eq!(cpu(&p, 5, 50), Ok((3, 28)));
    }

    #[test]
    fn test_replica_calc_missing_metrics_no_change_gt_and_lt() {
        // TestReplicaCalcMissingMetricsNoChangeGt, TestReplicaCalcMissingMetricsNoChangeLt:
        // the pod without a metric turns the direction over, so no change.
        assert_eq!(cpu(&[pod(Some(1900)), pod(None)], 2, 100), Ok((2, 190)));
        assert_eq!(cpu(&[pod(Some(600)), pod(None)], 2, 100), Ok((2, 60)));
    }

    #[test]
    fn test_replica_calc_missing_metrics_unready() {
        // TestReplicaCalcMissingMetricsUnreadyChange: one unready pod, one without a metric.
        let p = vec![unready(pod(Some(100))), pod(Some(450)), pod(None)];
        assert_eq!(cpu(&p, 3, 50), Ok((3, 45)));
        // TestReplicaCalcMissingMetricsUnreadyScaleUp.
        let p = vec![unready(pod(Some(100))), pod(Some(2000)), pod(None)];
        assert_eq!(cpu(&p, 3, 50), Ok((4, 200)));
        // TestReplicaCalcMissingMetricsUnreadyScaleDown.
        let p = vec![
            unready(pod(Some(100))),
            pod(Some(100)),
            pod(Some(100)),
            pod(None),
        ];
        assert_eq!(cpu(&p, 4, 50), Ok((3, 10)));
        // TestReplicaCalcMissingMetricsScaleDownTargetOver100: a missing pod counts as the
        // target (300%), not 100%, on a scale-down.
        let mut p = vec![
            unready(pod(Some(200))),
            pod(Some(100)),
            pod(Some(100)),
            pod(None),
        ];
        p[2].request = Some(2000);
        p[3].request = Some(2000);
        assert_eq!(cpu(&p, 4, 300), Ok((2, 6)));
    }

    #[test]
    fn test_replica_calc_during_rolling_update_with_max_surge() {
        // TestReplicaCalcDuringRollingUpdateWithMaxSurge: the surge pod has no metric yet;
        // scaling down to 3 would be up from 2, so no change.
        let p = vec![pod(Some(100)), pod(Some(100)), pod(None)];
        assert_eq!(cpu(&p, 2, 50), Ok((2, 10)));
        // TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM.
        let p = vec![pod(Some(10000)), pod(Some(10000)), pod(None)];
        assert_eq!(plain(&p, 2, 17000), (2, 10000));
    }

    #[test]
    fn test_replica_calc_configurable_tolerance() {
        // TestReplicaCalcConfigurableTolerance: behavior.scaleUp/scaleDown.tolerance.
        let three = |levels: &[i64]| {
            let mut p = pods(levels);
            p[0].request = Some(900);
            p[2].request = Some(1100);
            p
        };
        let with = |p: &[PodView], down: f64, up: f64| {
            resource_replicas(p, 3, 100, "cpu", Tolerances { down, up }, now())
                .map(|p| (p.replicas, p.current))
        };
        // "Outside 8% scale-up tolerance (and superfluous scale-down tolerance)".
        assert_eq!(with(&three(&[1100, 1080, 1090]), 2.0, 0.08), Ok((4, 109)));
        // "Within a 36% scale-down tolerance", "Outside a 34% scale-down tolerance".
        assert_eq!(with(&three(&[660, 640, 650]), 0.36, 0.1), Ok((3, 65)));
        assert_eq!(with(&three(&[660, 640, 650]), 0.34, 0.1), Ok((2, 65)));
        // "Within a 200% scale-up tolerance".
        assert_eq!(with(&three(&[1890, 1910, 1900]), 0.1, 2.0), Ok((3, 190)));
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn scale_down_waits_for_the_highest_recommendation_of_its_window() {
        let b = Behavior::default();
        let mut recs = vec![Stamped {
            value: 10,
            at: at(0),
        }];
        // Within 300 s the highest recommendation (10) holds, as ScaleDownStabilized.
        let (r, reason, _) = stabilize(&mut recs, 10, 4, &b.scale_up, &b.scale_down, at(100));
        assert_eq!((r, reason), (10, "ScaleDownStabilized"));
        let (r, _, _) = stabilize(&mut recs, 10, 5, &b.scale_up, &b.scale_down, at(200));
        assert_eq!(r, 10);
        // At 301 s the first has left the window: the highest left is 5.
        let (r, _, _) = stabilize(&mut recs, 10, 3, &b.scale_up, &b.scale_down, at(301));
        assert_eq!(r, 5);
        // Scaling up is not held back (no scale-up window by default).
        let (r, reason, _) = stabilize(&mut recs, 3, 8, &b.scale_up, &b.scale_down, at(302));
        assert_eq!((r, reason), (8, "ScaleUpStabilized"));
    }

    #[test]
    fn the_default_policies_scale_up_by_max_of_100_percent_and_4_pods_per_15_s() {
        let b = Behavior::default();
        let lim = |current, desired, ups: &[Stamped], now| {
            rate_limit(current, desired, 1, 100, &b, ups, &[], now)
        };
        assert_eq!(lim(1, 50, &[], at(0)).0, 5);
        assert_eq!(lim(10, 50, &[], at(0)).0, 20);
        assert_eq!(lim(10, 50, &[], at(0)).1, "ScaleUpLimit");
        // After 1 -> 5 at 0 s, the period started at 1: 5 more is the limit until 15 s.
        let ups = [Stamped {
            value: 4,
            at: at(0),
        }];
        assert_eq!(lim(5, 50, &ups, at(10)).0, 5);
        assert_eq!(lim(5, 50, &ups, at(15)).0, 10);
        // Above maxReplicas: TooManyReplicas.
        let r = rate_limit(10, 500, 1, 12, &b, &[], &[], at(0));
        assert_eq!((r.0, r.1), (12, "TooManyReplicas"));
        let r = rate_limit(10, 12, 1, 100, &b, &[], &[], at(0));
        assert_eq!((r.0, r.1), (12, "DesiredWithinRange"));
    }

    #[test]
    fn scale_down_policies_and_select_policy() {
        let mut b = Behavior::default();
        b.scale_down.policies = vec![
            ScalingPolicy {
                kind: PolicyType::Pods,
                value: 2,
                period_seconds: 60,
            },
            ScalingPolicy {
                kind: PolicyType::Percent,
                value: 10,
                period_seconds: 60,
            },
        ];
        // Max picks the bigger change: 2 pods (to 18) against 10% (to 18) from 20: 18; from
        // 40: 10% is 4 pods, to 36.
        assert_eq!(rate_limit(40, 1, 1, 100, &b, &[], &[], at(0)).0, 36);
        b.scale_down.select_policy = SelectPolicy::Min;
        assert_eq!(rate_limit(40, 1, 1, 100, &b, &[], &[], at(0)).0, 38);
        b.scale_down.select_policy = SelectPolicy::Disabled;
        assert_eq!(rate_limit(40, 1, 1, 100, &b, &[], &[], at(0)).0, 40);
        // Below minReplicas: TooFewReplicas.
        let d = Behavior::default();
        let r = rate_limit(10, 1, 3, 100, &d, &[], &[], at(0));
        assert_eq!((r.0, r.1), (3, "TooFewReplicas"));
    }
}
