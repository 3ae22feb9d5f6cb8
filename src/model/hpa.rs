//! The `autoscaling/v2` HorizontalPodAutoscaler as the API server stores it, every default
//! applied (`pkg/apis/autoscaling/v2/defaults.go`): what the HPA controller (`sim::hpa`) reads.
//!
//! It knows nothing of metrics or pods; the replica calculations live in `sim::hpa`.

use super::objects::ObjectMeta;

/// `spec.scaleTargetRef`: what the HPA scales, through its `scale` subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleTargetRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// What one entry of `spec.metrics` asks for. kubesim has the pods' CPU use (from the
/// behaviours' `cpuPerRequest`) and their request rate; other metrics have no source here,
/// and the HPA reports them as a metrics pipeline without them would (`FailedGetResourceMetric`,
/// `FailedGetPodsMetric`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricSpec {
    /// `type: Resource`: a resource of the pods' containers (summed over containers).
    Resource {
        /// `cpu`, `memory`, ...
        name: String,
        target: MetricTarget,
    },
    /// `type: Pods`: a per-pod custom metric, averaged over the pods (`AverageValue` only).
    /// kubesim serves one, the pod's rate of requests started per second, under any name
    /// (the usual `http_requests_per_second` of a Prometheus adapter rule).
    Pods {
        name: String,
        /// The target average, in milli-units (`averageValue: 10` is 10000).
        average_milli: i64,
    },
    /// `Object`, `External` or `ContainerResource`: kept for `kubectl get hpa`'s TARGETS,
    /// never computed (`<unknown>`).
    Other { type_name: String, name: String },
}

/// A `Resource` metric's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricTarget {
    /// `type: Utilization`, `averageUtilization` in percent of the pods' requests.
    Utilization(i32),
    /// `type: AverageValue`, in milli-units (`500m` of CPU is 500).
    AverageValue(i64),
}

/// `HPAScalingPolicyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    Pods,
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: PolicyType,
    pub value: i32,
    pub period_seconds: i32,
}

/// `ScalingPolicySelect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

impl SelectPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SelectPolicy::Max => "Max",
            SelectPolicy::Min => "Min",
            SelectPolicy::Disabled => "Disabled",
        }
    }
}

/// `HPAScalingRules`, defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingRules {
    pub stabilization_window_seconds: i32,
    pub select_policy: SelectPolicy,
    pub policies: Vec<ScalingPolicy>,
    /// `tolerance` (the `HPAConfigurableTolerance` feature, beta in 1.34): `None` takes the
    /// controller's `--horizontal-pod-autoscaler-tolerance` (0.1), in thousandths.
    pub tolerance_milli: Option<i64>,
}

/// `spec.behavior`, defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

/// `scaleUp`'s default stabilization window: none
/// (`pkg/apis/autoscaling/v2/defaults.go`, `GenerateHPAScaleUpRules`).
pub const DEFAULT_SCALE_UP_STABILIZATION_SECONDS: i32 = 0;
/// `scaleDown`'s default stabilization window, 300 s: the controller's
/// `--horizontal-pod-autoscaler-downscale-stabilization` default
/// (`pkg/apis/autoscaling/v2/defaults.go`, `GenerateHPAScaleDownRules`).
pub const DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS: i32 = 300;
/// The default policies' period, 15 s (`scaleUpLimitPeriod` / `scaleDownPeriod` in
/// `pkg/apis/autoscaling/v2/defaults.go`).
pub const DEFAULT_POLICY_PERIOD_SECONDS: i32 = 15;
/// `scaleUpLimitPercent` (100) and `scaleUpLimitMinimum` (4 pods): scale up by at most
/// max(100%, 4 pods) per 15 s (`pkg/apis/autoscaling/v2/defaults.go`).
pub const DEFAULT_SCALE_UP_PERCENT: i32 = 100;
pub const DEFAULT_SCALE_UP_PODS: i32 = 4;
/// `scaleDownLimitPercent`: down by at most 100% per 15 s.
pub const DEFAULT_SCALE_DOWN_PERCENT: i32 = 100;
/// `DefaultCPUUtilization` (`pkg/apis/autoscaling/v2/defaults.go`): the metric of an HPA
/// that names none, 80% of the CPU request.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

impl ScalingRules {
    /// `GenerateHPAScaleUpRules` with nothing written.
    pub fn default_scale_up() -> Self {
        ScalingRules {
            stabilization_window_seconds: DEFAULT_SCALE_UP_STABILIZATION_SECONDS,
            select_policy: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    kind: PolicyType::Pods,
                    value: DEFAULT_SCALE_UP_PODS,
                    period_seconds: DEFAULT_POLICY_PERIOD_SECONDS,
                },
                ScalingPolicy {
                    kind: PolicyType::Percent,
                    value: DEFAULT_SCALE_UP_PERCENT,
                    period_seconds: DEFAULT_POLICY_PERIOD_SECONDS,
                },
            ],
            tolerance_milli: None,
        }
    }

    /// `GenerateHPAScaleDownRules` with nothing written.
    pub fn default_scale_down() -> Self {
        ScalingRules {
            stabilization_window_seconds: DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
            select_policy: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: PolicyType::Percent,
                value: DEFAULT_SCALE_DOWN_PERCENT,
                period_seconds: DEFAULT_POLICY_PERIOD_SECONDS,
            }],
            tolerance_milli: None,
        }
    }
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            scale_up: ScalingRules::default_scale_up(),
            scale_down: ScalingRules::default_scale_down(),
        }
    }
}

/// A validated, defaulted `autoscaling/v2` HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HorizontalPodAutoscaler {
    pub meta: ObjectMeta,
    pub target: ScaleTargetRef,
    /// `minReplicas`, default 1.
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// At least one (a CPU utilization of 80% when none is written).
    pub metrics: Vec<MetricSpec>,
    pub behavior: Behavior,
}
