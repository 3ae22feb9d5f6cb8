//! `autoscaling/v2` HorizontalPodAutoscalers: validated as the API server validates them
//! (`pkg/apis/autoscaling/validation/validation.go`, `ValidateHorizontalPodAutoscaler`, the
//! parts kubesim reads) and converted to the model's type with upstream's defaults
//! (`pkg/apis/autoscaling/v2/defaults.go`).

use super::convert;
use super::limits;
use super::quantity;
use super::validate::{
    above_bound, invalid, object_meta, required, unsupported, BadValue, FieldError, NameRule,
};
use crate::model::hpa::{
    Behavior, HorizontalPodAutoscaler, MetricSpec, MetricTarget, PolicyType, ScaleTargetRef,
    ScalingPolicy, ScalingRules, SelectPolicy, DEFAULT_CPU_UTILIZATION,
};
use k8s_openapi::api::autoscaling::v2;

/// `MaxPeriodSeconds` and `MaxStabilizationWindowSeconds` of
/// `pkg/apis/autoscaling/validation/validation.go`.
const MAX_PERIOD_SECONDS: i32 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;

/// `ValidateHorizontalPodAutoscaler`.
pub fn validate(h: &v2::HorizontalPodAutoscaler) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(
        &h.metadata,
        "metadata",
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    let Some(spec) = &h.spec else {
        errs.push(required("spec.scaleTargetRef.kind", ""));
        return errs;
    };
    let r = &spec.scale_target_ref;
    if r.kind.is_empty() {
        errs.push(required("spec.scaleTargetRef.kind", ""));
    }
    if r.name.is_empty() {
        errs.push(required("spec.scaleTargetRef.name", ""));
    }
    let min = spec.min_replicas.unwrap_or(1);
    if min < 1 {
        // Scale to zero is the alpha `HPAScaleToZero` gate, off by default.
        errs.push(invalid(
            "spec.minReplicas",
            BadValue::Int(min.into()),
            "must be greater than or equal to 1",
        ));
    }
    if spec.max_replicas < 1 {
        errs.push(invalid(
            "spec.maxReplicas",
            BadValue::Int(spec.max_replicas.into()),
            "must be greater than 0",
        ));
    } else if spec.max_replicas < min {
        errs.push(invalid(
            "spec.maxReplicas",
            BadValue::Int(spec.max_replicas.into()),
            "must be greater than or equal to `minReplicas`",
        ));
    } else if i64::from(spec.max_replicas) > limits::PODS {
        errs.push(above_bound(
            "spec.maxReplicas",
            spec.max_replicas.into(),
            limits::PODS,
        ));
    }
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        metric(m, &format!("spec.metrics[{i}]"), &mut errs);
    }
    if let Some(b) = &spec.behavior {
        for (name, rules) in [("scaleUp", &b.scale_up), ("scaleDown", &b.scale_down)] {
            if let Some(rules) = rules {
                scaling_rules(rules, &format!("spec.behavior.{name}"), &mut errs);
            }
        }
    }
    errs
}

const METRIC_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

/// `validateMetricSpec` (the source that matches `type` must be set) and its target.
fn metric(m: &v2::MetricSpec, p: &str, errs: &mut Vec<FieldError>) {
    if m.type_.is_empty() {
        errs.push(required(
            &format!("{p}.type"),
            "must specify a metric source type",
        ));
        return;
    }
    if !METRIC_TYPES.contains(&m.type_.as_str()) {
        errs.push(unsupported(&format!("{p}.type"), &m.type_, &METRIC_TYPES));
        return;
    }
    let target = match m.type_.as_str() {
        "Resource" => match &m.resource {
            None => {
                errs.push(required(
                    &format!("{p}.resource"),
                    "must populate information for the given metric source",
                ));
                return;
            }
            Some(r) => {
                if r.name.is_empty() {
                    errs.push(required(
                        &format!("{p}.resource.name"),
                        "must specify a resource name",
                    ));
                }
                (&r.target, format!("{p}.resource.target"))
            }
        },
        "Pods" => match &m.pods {
            None => {
                errs.push(required(
                    &format!("{p}.pods"),
                    "must populate information for the given metric source",
                ));
                return;
            }
            Some(s) => {
                if s.metric.name.is_empty() {
                    errs.push(required(
                        &format!("{p}.pods.metric.name"),
                        "must specify a metric name",
                    ));
                }
                if s.target.type_ != "AverageValue" {
                    errs.push(unsupported(
                        &format!("{p}.pods.target.type"),
                        &s.target.type_,
                        &["AverageValue"],
                    ));
                    return;
                }
                (&s.target, format!("{p}.pods.target"))
            }
        },
        _ => return,
    };
    let (t, tp) = target;
    match t.type_.as_str() {
        "" => errs.push(required(
            &format!("{tp}.type"),
            "must specify a metric target type",
        )),
        "Utilization" => match t.average_utilization {
            None => errs.push(required(
                &format!("{tp}.averageUtilization"),
                "must set either a target raw value or a target utilization",
            )),
            Some(u) if u <= 0 => errs.push(invalid(
                &format!("{tp}.averageUtilization"),
                BadValue::Int(u.into()),
                "must be greater than 0",
            )),
            Some(_) => {}
        },
        "AverageValue" => match t.average_value.as_ref().map(|q| quantity::parse(&q.0)) {
            None => errs.push(required(
                &format!("{tp}.averageValue"),
                "must set either a target raw value or a target utilization",
            )),
            Some(Ok(q)) if q.millis().is_some_and(|m| m > 0) => {}
            Some(_) => errs.push(invalid(
                &format!("{tp}.averageValue"),
                BadValue::Str(t.average_value.as_ref().map_or("", |q| q.0.as_str()).into()),
                "must be positive",
            )),
        },
        other => errs.push(unsupported(
            &format!("{tp}.type"),
            other,
            &["AverageValue", "Utilization", "Value"],
        )),
    }
}

/// `validateScalingRules`.
fn scaling_rules(r: &v2::HPAScalingRules, p: &str, errs: &mut Vec<FieldError>) {
    if let Some(w) = r.stabilization_window_seconds {
        if w < 0 {
            errs.push(invalid(
                &format!("{p}.stabilizationWindowSeconds"),
                BadValue::Int(w.into()),
                "must be greater than or equal to zero",
            ));
        } else if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(invalid(
                &format!("{p}.stabilizationWindowSeconds"),
                BadValue::Int(w.into()),
                &format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(s) = &r.select_policy {
        if !["Max", "Min", "Disabled"].contains(&s.as_str()) {
            errs.push(unsupported(
                &format!("{p}.selectPolicy"),
                s,
                &["Disabled", "Max", "Min"],
            ));
        }
    }
    for (i, pol) in r.policies.iter().flatten().enumerate() {
        let pp = format!("{p}.policies[{i}]");
        if pol.type_ != "Pods" && pol.type_ != "Percent" {
            errs.push(unsupported(
                &format!("{pp}.type"),
                &pol.type_,
                &["Percent", "Pods"],
            ));
        }
        if pol.value <= 0 {
            errs.push(invalid(
                &format!("{pp}.value"),
                BadValue::Int(pol.value.into()),
                "must be greater than zero",
            ));
        }
        if pol.period_seconds <= 0 {
            errs.push(invalid(
                &format!("{pp}.periodSeconds"),
                BadValue::Int(pol.period_seconds.into()),
                "must be greater than zero",
            ));
        } else if pol.period_seconds > MAX_PERIOD_SECONDS {
            errs.push(invalid(
                &format!("{pp}.periodSeconds"),
                BadValue::Int(pol.period_seconds.into()),
                &format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
}

fn milli(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> i64 {
    q.and_then(|q| quantity::parse(&q.0).ok())
        .and_then(|q| q.millis())
        .map_or(0, |m| m.min(i64::MAX as u64) as i64)
}

/// Converts a validated HPA, defaults applied (`SetDefaults_HorizontalPodAutoscaler`).
pub fn convert(h: &v2::HorizontalPodAutoscaler) -> HorizontalPodAutoscaler {
    let spec = h.spec.clone().unwrap_or_default();
    let mut metrics: Vec<MetricSpec> = spec
        .metrics
        .iter()
        .flatten()
        .map(|m| match (m.type_.as_str(), &m.resource, &m.pods) {
            ("Resource", Some(r), _) => MetricSpec::Resource {
                name: r.name.clone(),
                target: match r.target.type_.as_str() {
                    "Utilization" => {
                        MetricTarget::Utilization(r.target.average_utilization.unwrap_or(0))
                    }
                    _ => MetricTarget::AverageValue(milli(r.target.average_value.as_ref())),
                },
            },
            ("Pods", _, Some(p)) => MetricSpec::Pods {
                name: p.metric.name.clone(),
                average_milli: milli(p.target.average_value.as_ref()),
            },
            (t, _, _) => MetricSpec::Other {
                type_name: t.to_string(),
                name: m
                    .object
                    .as_ref()
                    .map(|o| o.metric.name.clone())
                    .or_else(|| m.external.as_ref().map(|e| e.metric.name.clone()))
                    .or_else(|| m.container_resource.as_ref().map(|c| c.name.clone()))
                    .unwrap_or_default(),
            },
        })
        .collect();
    if metrics.is_empty() {
        metrics.push(MetricSpec::Resource {
            name: "cpu".into(),
            target: MetricTarget::Utilization(DEFAULT_CPU_UTILIZATION),
        });
    }
    let b = spec.behavior.unwrap_or_default();
    HorizontalPodAutoscaler {
        meta: convert::object_meta(&h.metadata, true),
        target: ScaleTargetRef {
            api_version: spec
                .scale_target_ref
                .api_version
                .clone()
                .unwrap_or_default(),
            kind: spec.scale_target_ref.kind.clone(),
            name: spec.scale_target_ref.name.clone(),
        },
        min_replicas: spec.min_replicas.unwrap_or(1).max(1) as u32,
        max_replicas: spec.max_replicas.max(1) as u32,
        metrics,
        behavior: Behavior {
            scale_up: rules(b.scale_up.as_ref(), ScalingRules::default_scale_up()),
            scale_down: rules(b.scale_down.as_ref(), ScalingRules::default_scale_down()),
        },
    }
}

/// `GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`: each field not written takes the
/// default's.
fn rules(r: Option<&v2::HPAScalingRules>, default: ScalingRules) -> ScalingRules {
    let Some(r) = r else { return default };
    let policies: Vec<ScalingPolicy> = r
        .policies
        .iter()
        .flatten()
        .map(|p| ScalingPolicy {
            kind: if p.type_ == "Pods" {
                PolicyType::Pods
            } else {
                PolicyType::Percent
            },
            value: p.value,
            period_seconds: p.period_seconds,
        })
        .collect();
    ScalingRules {
        stabilization_window_seconds: r
            .stabilization_window_seconds
            .unwrap_or(default.stabilization_window_seconds),
        select_policy: match r.select_policy.as_deref() {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            Some(_) => SelectPolicy::Max,
            None => default.select_policy,
        },
        policies: if policies.is_empty() {
            default.policies
        } else {
            policies
        },
        tolerance_milli: r.tolerance.as_ref().map(|q| milli(Some(q))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(yaml: &str) -> v2::HorizontalPodAutoscaler {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_follow_set_defaults_horizontal_pod_autoscaler() {
        let h = convert(&hpa(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 10\n  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 0\n",
        ));
        assert_eq!(h.min_replicas, 1);
        assert_eq!(
            h.metrics,
            vec![MetricSpec::Resource {
                name: "cpu".into(),
                target: MetricTarget::Utilization(80)
            }]
        );
        assert_eq!(h.behavior.scale_up, ScalingRules::default_scale_up());
        // Only the field written changes; the policies stay the default's.
        assert_eq!(h.behavior.scale_down.stabilization_window_seconds, 0);
        assert_eq!(
            h.behavior.scale_down.policies,
            ScalingRules::default_scale_down().policies
        );
    }

    #[test]
    fn validation_speaks_as_the_api_server() {
        let errs = validate(&hpa(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {kind: Deployment, name: web}\n  minReplicas: 5\n  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 0}}\n  behavior:\n    scaleUp:\n      policies: [{type: Pods, value: 0, periodSeconds: 3600}]\n",
        ));
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 3600: must be less than or equal to 1800",
            ]
        );
    }
}
