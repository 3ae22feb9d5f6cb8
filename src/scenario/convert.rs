//! Validated `k8s-openapi` objects to the model's types, with upstream defaults applied.
//!
//! Defaults come from `pkg/apis/core/v1/defaults.go` (containers, probes, pods, services),
//! `pkg/apis/apps/v1/defaults.go` (Deployments, ReplicaSets) and the API server's
//! namespace defaulting (`default`). Input is assumed to have passed [`super::validate`]:
//! anything it would have rejected is mapped to a harmless value rather than a panic.

use super::quantity;
use crate::engine::SimDuration;
use crate::model::objects::{
    ClusterIpRequest, Container, ContainerPort, DaemonSetObject, Deployment, DnsPolicy,
    ImagePullPolicy, IntOrPercent, LabelSelector, ObjectMeta, PodDnsConfig, PodManagement,
    PodObject, PodSpec, PodTemplate, PortRef, Probe, ProbeHandler, Protocol, ReplicaSetObject,
    Resources, RestartPolicy, RollingUpdate, SelectorOperator, SelectorRequirement, ServiceObject,
    ServicePort, ServiceSpec, ServiceType, StatefulSetObject, StatefulSetUpdate, Toleration,
    TopologyRouting, TrafficPolicy,
};
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The namespace of an object that names none (`metav1.NamespaceDefault`).
pub const DEFAULT_NAMESPACE: &str = "default";
/// `DefaultTerminationGracePeriodSeconds` (`pkg/apis/core/v1/defaults.go`, `SetDefaults_PodSpec`).
pub const DEFAULT_TERMINATION_GRACE_SECONDS: u64 = 30;
/// `DefaultClientIPServiceAffinitySeconds` (`pkg/apis/core/types.go`), 3 hours.
pub const DEFAULT_AFFINITY_SECONDS: u64 = 10800;

pub fn object_meta(m: &meta::ObjectMeta, namespaced: bool) -> ObjectMeta {
    ObjectMeta {
        name: m.name.clone().unwrap_or_default(),
        namespace: if namespaced {
            m.namespace
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into())
        } else {
            String::new()
        },
        labels: m.labels.clone().unwrap_or_default(),
        annotations: m.annotations.clone().unwrap_or_default(),
    }
}

pub fn label_selector(s: &meta::LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions: s
            .match_expressions
            .iter()
            .flatten()
            .map(|r| SelectorRequirement {
                key: r.key.clone(),
                operator: match r.operator.as_str() {
                    "In" => SelectorOperator::In,
                    "NotIn" => SelectorOperator::NotIn,
                    "Exists" => SelectorOperator::Exists,
                    _ => SelectorOperator::DoesNotExist,
                },
                values: r.values.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

fn protocol(p: Option<&str>) -> Protocol {
    // `SetDefaults_ContainerPort`/`SetDefaults_ServicePort`: protocol TCP.
    match p {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn port_ref(p: &IntOrString) -> PortRef {
    match p {
        IntOrString::Int(n) => PortRef::Number(u16::try_from(*n).unwrap_or(0)),
        IntOrString::String(s) => PortRef::Name(s.clone()),
    }
}

fn resources(m: Option<&BTreeMap<String, Quantity>>) -> Resources {
    let get = |k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(|q| quantity::parse(&q.0).ok())
    };
    Resources {
        cpu_millis: get("cpu").and_then(|q| q.millis()).unwrap_or(0),
        memory_bytes: get("memory").and_then(|q| q.value()).unwrap_or(0),
    }
}

fn secs(v: Option<i32>, default: u64) -> SimDuration {
    // `SetDefaults_Probe`: a zero (unset) field takes its default.
    match v {
        Some(n) if n > 0 => SimDuration::from_secs(n as u64),
        _ => SimDuration::from_secs(default),
    }
}

fn count(v: Option<i32>, default: u32) -> u32 {
    match v {
        Some(n) if n > 0 => n as u32,
        _ => default,
    }
}

fn probe(p: &core::Probe) -> Probe {
    let handler = if let Some(h) = &p.http_get {
        // `SetDefaults_HTTPGetAction`: path "/", scheme HTTP.
        ProbeHandler::HttpGet {
            path: h
                .path
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/".into()),
            port: port_ref(&h.port),
        }
    } else if let Some(t) = &p.tcp_socket {
        ProbeHandler::TcpSocket {
            port: port_ref(&t.port),
        }
    } else if let Some(g) = &p.grpc {
        ProbeHandler::Grpc {
            port: u16::try_from(g.port).unwrap_or(0),
        }
    } else {
        ProbeHandler::Exec {
            command: p
                .exec
                .as_ref()
                .and_then(|e| e.command.clone())
                .unwrap_or_default(),
        }
    };
    // `SetDefaults_Probe` (`pkg/apis/core/v1/defaults.go`): timeout 1 s, period 10 s,
    // success threshold 1, failure threshold 3; initial delay stays 0.
    Probe {
        handler,
        initial_delay: SimDuration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64),
        period: secs(p.period_seconds, 10),
        timeout: secs(p.timeout_seconds, 1),
        success_threshold: count(p.success_threshold, 1),
        failure_threshold: count(p.failure_threshold, 3),
    }
}

fn container(c: &core::Container, host_network: bool) -> Container {
    let image = c.image.clone().unwrap_or_default();
    let image_pull_policy = match c.image_pull_policy.as_deref() {
        Some("Always") => ImagePullPolicy::Always,
        Some("IfNotPresent") => ImagePullPolicy::IfNotPresent,
        Some("Never") => ImagePullPolicy::Never,
        _ => ImagePullPolicy::default_for(&image),
    };
    let ports = c
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let container_port = u16::try_from(p.container_port).unwrap_or(0);
            let written = p
                .host_port
                .filter(|h| *h > 0)
                .and_then(|h| u16::try_from(h).ok());
            ContainerPort {
                name: p.name.clone().filter(|s| !s.is_empty()),
                container_port,
                // `SetDefaults_PodSpec`: with hostNetwork, hostPort defaults to containerPort.
                host_port: written.or(host_network.then_some(container_port)),
                protocol: protocol(p.protocol.as_deref()),
            }
        })
        .collect();
    let (requests, limits) = match &c.resources {
        Some(r) => {
            let limits = resources(r.limits.as_ref());
            let mut requests = resources(r.requests.as_ref());
            // `SetDefaults_Pod` (`pkg/apis/core/v1/defaults.go`): a request not written
            // takes the limit's value.
            let req_map = r.requests.as_ref();
            if req_map.and_then(|m| m.get("cpu")).is_none() {
                requests.cpu_millis = limits.cpu_millis;
            }
            if req_map.and_then(|m| m.get("memory")).is_none() {
                requests.memory_bytes = limits.memory_bytes;
            }
            (requests, limits)
        }
        None => (Resources::default(), Resources::default()),
    };
    Container {
        name: c.name.clone(),
        image,
        image_pull_policy,
        ports,
        requests,
        limits,
        readiness_probe: c.readiness_probe.as_ref().map(probe),
        liveness_probe: c.liveness_probe.as_ref().map(probe),
        startup_probe: c.startup_probe.as_ref().map(probe),
        pre_stop: c
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .map(pre_stop),
    }
}

/// How long a `preStop` hook runs: a `sleep` action's seconds, an `exec` of `sleep N` (alone
/// or through `sh -c`) N seconds; any other hook is taken as instant (kubesim cannot know).
fn pre_stop(h: &core::LifecycleHandler) -> SimDuration {
    if let Some(s) = &h.sleep {
        return SimDuration::from_secs(s.seconds.max(0) as u64);
    }
    let command = h.exec.as_ref().and_then(|e| e.command.as_ref());
    let words: Vec<&str> = match command.map(Vec::as_slice) {
        Some([sh, c, script]) if sh.ends_with("sh") && c == "-c" => {
            script.split_whitespace().collect()
        }
        Some(args) => args.iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    match words.as_slice() {
        [sleep, n] if *sleep == "sleep" || sleep.ends_with("/sleep") => n
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(SimDuration::ZERO, SimDuration::from_secs_f64),
        _ => SimDuration::ZERO,
    }
}

pub fn pod_spec(s: &core::PodSpec) -> PodSpec {
    let host_network = s.host_network.unwrap_or(false);
    PodSpec {
        containers: s
            .containers
            .iter()
            .map(|c| container(c, host_network))
            .collect(),
        // `SetDefaults_PodSpec`: restartPolicy Always.
        restart_policy: match s.restart_policy.as_deref() {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        },
        node_selector: s.node_selector.clone().unwrap_or_default(),
        node_name: s.node_name.clone().filter(|n| !n.is_empty()),
        host_network,
        termination_grace_period: SimDuration::from_secs(
            s.termination_grace_period_seconds
                .map_or(DEFAULT_TERMINATION_GRACE_SECONDS, |t| t.max(0) as u64),
        ),
        tolerations: s
            .tolerations
            .iter()
            .flatten()
            .map(|t| Toleration {
                key: t.key.clone().filter(|k| !k.is_empty()),
                operator_exists: t.operator.as_deref() == Some("Exists"),
                value: t.value.clone().filter(|v| !v.is_empty()),
                effect: t.effect.clone().filter(|e| !e.is_empty()),
                toleration_seconds: t.toleration_seconds,
            })
            .collect(),
        // `SetDefaults_PodSpec`: ClusterFirst. Validation has refused any other value.
        dns_policy: match s.dns_policy.as_deref() {
            Some("ClusterFirstWithHostNet") => DnsPolicy::ClusterFirstWithHostNet,
            Some("Default") => DnsPolicy::Default,
            Some("None") => DnsPolicy::None,
            _ => DnsPolicy::ClusterFirst,
        },
        dns_config: s.dns_config.as_ref().map(|c| PodDnsConfig {
            // Validation has refused what is not an IPv4 address.
            nameservers: c
                .nameservers
                .iter()
                .flatten()
                .filter_map(|n| n.parse().ok())
                .collect(),
            searches: c.searches.iter().flatten().cloned().collect(),
            options: c
                .options
                .iter()
                .flatten()
                .map(|o| (o.name.clone().unwrap_or_default(), o.value.clone()))
                .collect(),
        }),
        hostname: s.hostname.clone().filter(|h| !h.is_empty()),
        subdomain: s.subdomain.clone().filter(|d| !d.is_empty()),
        node_affinity: super::affinity::convert(s.affinity.as_ref()),
    }
}

fn template(t: &core::PodTemplateSpec, namespace: &str) -> PodTemplate {
    let mut meta = object_meta(&t.metadata.clone().unwrap_or_default(), true);
    meta.namespace = namespace.to_string();
    PodTemplate {
        meta,
        spec: pod_spec(&t.spec.clone().unwrap_or_default()),
    }
}

fn int_or_percent(v: Option<&IntOrString>) -> IntOrPercent {
    // `SetDefaults_Deployment` (`pkg/apis/apps/v1/defaults.go`): 25% each.
    match v {
        Some(IntOrString::Int(n)) => IntOrPercent::Count((*n).max(0) as u32),
        Some(IntOrString::String(s)) => s
            .strip_suffix('%')
            .and_then(|n| n.parse::<u64>().ok().or(Some(u64::MAX)))
            .map_or(IntOrPercent::Percent(25), |n| {
                IntOrPercent::Percent(u32::try_from(n).unwrap_or(u32::MAX))
            }),
        None => IntOrPercent::Percent(25),
    }
}

fn replicas(r: Option<i32>) -> u32 {
    // `SetDefaults_Deployment`/`SetDefaults_ReplicaSet`: replicas 1.
    r.map_or(1, |n| n.max(0) as u32)
}

pub fn deployment(d: &apps::Deployment) -> Deployment {
    let meta = object_meta(&d.metadata, true);
    let spec = d.spec.clone().unwrap_or_default();
    let ru = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    Deployment {
        replicas: replicas(spec.replicas),
        selector: label_selector(&spec.selector),
        template: template(&spec.template, &meta.namespace),
        rolling_update: RollingUpdate {
            max_surge: int_or_percent(ru.and_then(|r| r.max_surge.as_ref())),
            max_unavailable: int_or_percent(ru.and_then(|r| r.max_unavailable.as_ref())),
        },
        recreate: spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate"),
        // Validation refused a negative value.
        min_ready: SimDuration::from_secs(spec.min_ready_seconds.unwrap_or(0).max(0) as u64),
        meta,
    }
}

pub fn replica_set(r: &apps::ReplicaSet) -> ReplicaSetObject {
    let meta = object_meta(&r.metadata, true);
    let spec = r.spec.clone().unwrap_or_default();
    ReplicaSetObject {
        replicas: replicas(spec.replicas),
        selector: label_selector(&spec.selector),
        template: template(&spec.template.unwrap_or_default(), &meta.namespace),
        meta,
    }
}

/// `SetDefaults_StatefulSet` (`pkg/apis/apps/v1/defaults.go`): replicas 1,
/// `podManagementPolicy: OrderedReady`, `updateStrategy: RollingUpdate` with partition 0.
pub fn stateful_set(s: &apps::StatefulSet) -> StatefulSetObject {
    let meta = object_meta(&s.metadata, true);
    let spec = s.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let update = match strategy.type_.as_deref() {
        Some("OnDelete") => StatefulSetUpdate::OnDelete,
        _ => StatefulSetUpdate::RollingUpdate {
            partition: strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.partition)
                .unwrap_or(0)
                .max(0) as u32,
            // Read by the controller only from v1.35 (`MaxUnavailableStatefulSet`).
            max_unavailable: strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.max_unavailable.as_ref())
                .map(|v| int_or_percent(Some(v))),
        },
    };
    StatefulSetObject {
        replicas: replicas(spec.replicas),
        selector: label_selector(&spec.selector),
        template: template(&spec.template, &meta.namespace),
        service_name: spec.service_name.clone().unwrap_or_default(),
        pod_management: match spec.pod_management_policy.as_deref() {
            Some("Parallel") => PodManagement::Parallel,
            _ => PodManagement::OrderedReady,
        },
        update,
        min_ready: SimDuration::from_secs(spec.min_ready_seconds.unwrap_or(0).max(0) as u64),
        volume_claims: spec
            .volume_claim_templates
            .iter()
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect(),
        meta,
    }
}

/// `SetDefaults_DaemonSet` (`pkg/apis/apps/v1/defaults.go`): `updateStrategy: RollingUpdate`
/// with `maxUnavailable: 1` and `maxSurge: 0`.
pub fn daemon_set(d: &apps::DaemonSet) -> DaemonSetObject {
    let meta = object_meta(&d.metadata, true);
    let spec = d.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling_update = match strategy.type_.as_deref() {
        Some("OnDelete") => None,
        _ => {
            let ru = strategy.rolling_update.unwrap_or_default();
            let count = |v: Option<&IntOrString>, default: u32| match v {
                None => IntOrPercent::Count(default),
                Some(v) => int_or_percent(Some(v)),
            };
            Some(RollingUpdate {
                max_surge: count(ru.max_surge.as_ref(), 0),
                max_unavailable: count(ru.max_unavailable.as_ref(), 1),
            })
        }
    };
    DaemonSetObject {
        selector: label_selector(&spec.selector),
        template: template(&spec.template, &meta.namespace),
        rolling_update,
        min_ready: SimDuration::from_secs(spec.min_ready_seconds.unwrap_or(0).max(0) as u64),
        meta,
    }
}

pub fn pod(p: &core::Pod) -> PodObject {
    PodObject {
        meta: object_meta(&p.metadata, true),
        spec: pod_spec(&p.spec.clone().unwrap_or_default()),
    }
}

pub fn service(s: &core::Service) -> ServiceObject {
    let spec = s.spec.clone().unwrap_or_default();
    // `SetDefaults_Service`: type ClusterIP.
    let type_ = match spec.type_.as_deref() {
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some("ExternalName") => ServiceType::ExternalName,
        _ => ServiceType::ClusterIP,
    };
    let external = matches!(type_, ServiceType::NodePort | ServiceType::LoadBalancer);
    let ports = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let port = u16::try_from(p.port).unwrap_or(0);
            ServicePort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                protocol: protocol(p.protocol.as_deref()),
                port,
                // `SetDefaults_Service`: targetPort defaults to port (also when written as 0).
                target_port: match &p.target_port {
                    None | Some(IntOrString::Int(0)) => PortRef::Number(port),
                    Some(IntOrString::String(s)) if s.is_empty() => PortRef::Number(port),
                    Some(t) => port_ref(t),
                },
                node_port: p
                    .node_port
                    .filter(|n| *n > 0)
                    .and_then(|n| u16::try_from(n).ok()),
            }
        })
        .collect();
    let cluster_ip = match spec
        .cluster_ip
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            spec.cluster_ips
                .as_ref()
                .and_then(|v| v.first())
                .map(String::as_str)
        }) {
        Some("None") => ClusterIpRequest::Headless,
        Some(ip) => ip
            .parse()
            .map_or(ClusterIpRequest::Auto, ClusterIpRequest::Static),
        None => ClusterIpRequest::Auto,
    };
    let session_affinity_timeout =
        (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            // `SetDefaults_Service`: ClientIP timeout 10800 s.
            let t = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .filter(|t| *t > 0)
                .map_or(DEFAULT_AFFINITY_SECONDS, |t| t as u64);
            SimDuration::from_secs(t)
        });
    let policy = |p: Option<&str>| match p {
        Some("Local") => TrafficPolicy::Local,
        _ => TrafficPolicy::Cluster,
    };
    ServiceObject {
        meta: object_meta(&s.metadata, true),
        spec: ServiceSpec {
            type_,
            selector: spec.selector.clone().unwrap_or_default(),
            ports,
            cluster_ip,
            session_affinity_timeout,
            // `SetDefaults_Service`: Cluster for NodePort and LoadBalancer (and for the
            // internal policy always); a ClusterIP Service carries none, which routes as
            // Cluster.
            external_traffic_policy: if external {
                policy(spec.external_traffic_policy.as_deref())
            } else {
                TrafficPolicy::Cluster
            },
            internal_traffic_policy: policy(spec.internal_traffic_policy.as_deref()),
            external_ips: spec
                .external_ips
                .iter()
                .flatten()
                .filter_map(|i| i.parse().ok())
                .collect(),
            external_name: spec.external_name.clone().filter(|n| !n.is_empty()),
            publish_not_ready_addresses: spec.publish_not_ready_addresses.unwrap_or(false),
            health_check_node_port: spec
                .health_check_node_port
                .filter(|n| *n > 0)
                .and_then(|n| u16::try_from(n).ok()),
            topology: topology_routing(s),
            // kube-proxy trims each range before parsing (`pkg/proxy/servicechangetracker.go`);
            // validation has refused the ones that do not parse.
            load_balancer_source_ranges: spec
                .load_balancer_source_ranges
                .iter()
                .flatten()
                .filter_map(|r| r.trim().parse::<ipnet::Ipv4Net>().ok())
                .map(|n| n.trunc())
                .collect(),
        },
    }
}

/// A Service's topology routing: the `service.kubernetes.io/topology-mode` annotation (or the
/// deprecated `service.kubernetes.io/topology-aware-hints`, read first) set to `Auto` or
/// `auto` wins (`hintsEnabled`, `staging/src/k8s.io/endpointslice/utils.go`), then
/// `trafficDistribution` (`PreferClose` is `PreferSameZone`'s older name).
fn topology_routing(s: &core::Service) -> TopologyRouting {
    let annotations = s.metadata.annotations.as_ref();
    let mode = annotations.and_then(|a| {
        a.get("service.kubernetes.io/topology-aware-hints")
            .or_else(|| a.get("service.kubernetes.io/topology-mode"))
    });
    if matches!(mode.map(String::as_str), Some("Auto" | "auto")) {
        return TopologyRouting::Auto;
    }
    let dist = s
        .spec
        .as_ref()
        .and_then(|s| s.traffic_distribution.as_deref());
    match dist {
        Some("PreferClose" | "PreferSameZone") => TopologyRouting::PreferSameZone,
        Some("PreferSameNode") => TopologyRouting::PreferSameNode,
        _ => TopologyRouting::None,
    }
}
