//! Validated Kubernetes objects as the simulation uses them.
//!
//! These are the API server's view after validation and defaulting: every field has its
//! upstream default applied, so nothing downstream re-derives a default. They are built by the
//! `scenario` layer from `k8s-openapi` types and cannot express what the API server rejects
//! (a Deployment whose selector misses its template, a port of 0, ...).

use crate::engine::SimDuration;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Labels and selectors keep their keys sorted, as `kubectl` prints them.
pub type Labels = BTreeMap<String, String>;

/// Name, namespace and labels: the parts of `metadata` the simulation reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    pub annotations: Labels,
}

/// A label selector (`matchLabels` plus `matchExpressions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<SelectorRequirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRequirement {
    pub key: String,
    pub operator: SelectorOperator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Whether `labels` satisfy every requirement (an empty selector matches everything,
    /// as `metav1.LabelSelectorAsSelector` does).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let got = labels.get(&r.key);
                match r.operator {
                    SelectorOperator::In => got.is_some_and(|v| r.values.contains(v)),
                    SelectorOperator::NotIn => !got.is_some_and(|v| r.values.contains(v)),
                    SelectorOperator::Exists => got.is_some(),
                    SelectorOperator::DoesNotExist => got.is_none(),
                }
            })
    }
}

/// A Service's plain `selector`: an empty map selects nothing (no EndpointSlices are made),
/// unlike a Deployment's empty `LabelSelector`.
pub fn service_selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// As the API writes it: `TCP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
    /// As kube-proxy hashes and iptables prints it: `tcp`.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// `intstr.IntOrString`: a port number or a container port name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    /// Upstream's default: `Always` for an untagged or `:latest` image, else `IfNotPresent`
    /// (`pkg/apis/core/v1/defaults.go`, `SetDefaults_Container`).
    pub fn default_for(image: &str) -> Self {
        // The tag follows the last ':' after the last '/', so "registry:5000/app" has no tag.
        let name = image.split('@').next().unwrap_or(image);
        let last = name.rsplit('/').next().unwrap_or(name);
        match last.rsplit_once(':') {
            Some((_, tag)) if tag != "latest" => ImagePullPolicy::IfNotPresent,
            _ if image.contains('@') => ImagePullPolicy::IfNotPresent,
            _ => ImagePullPolicy::Always,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: u16,
    /// Only when written (or, with `hostNetwork`, defaulted to `container_port`).
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

/// Resource quantities in the units the scheduler compares: millicores and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// A sum of requests saturates at `math.MaxInt64`, where a quantity's own value saturates
/// (upstream's `MilliValue`/`Value`), so no sum overflows and one more request added to it
/// (`used + want` in the scheduler) still fits in a `u64`.
impl std::ops::Add for Resources {
    type Output = Resources;
    fn add(self, other: Resources) -> Resources {
        const MAX: u64 = i64::MAX as u64;
        Resources {
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis).min(MAX),
            memory_bytes: self
                .memory_bytes
                .saturating_add(other.memory_bytes)
                .min(MAX),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeHandler {
    HttpGet { path: String, port: PortRef },
    TcpSocket { port: PortRef },
    Exec { command: Vec<String> },
    Grpc { port: u16 },
}

/// Which of a container's probes: liveness, readiness or startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

/// A probe with upstream defaults applied: period 10 s, timeout 1 s, failure threshold 3,
/// success threshold 1, initial delay 0 (`pkg/apis/core/v1/defaults.go`, `SetDefaults_Probe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub handler: ProbeHandler,
    pub initial_delay: SimDuration,
    pub period: SimDuration,
    pub timeout: SimDuration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub image_pull_policy: ImagePullPolicy,
    pub ports: Vec<ContainerPort>,
    pub requests: Resources,
    pub limits: Resources,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    /// How long the `preStop` hook runs before the container gets SIGTERM (`None`: no hook).
    pub pre_stop: Option<SimDuration>,
}

impl Container {
    /// The container's `kind` probe, if it has one.
    pub fn probe(&self, kind: ProbeKind) -> Option<&Probe> {
        match kind {
            ProbeKind::Liveness => self.liveness_probe.as_ref(),
            ProbeKind::Readiness => self.readiness_probe.as_ref(),
            ProbeKind::Startup => self.startup_probe.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator_exists: bool,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSpec {
    pub containers: Vec<Container>,
    pub restart_policy: RestartPolicy,
    pub node_selector: Labels,
    /// `spec.nodeName` written by the user: skips the scheduler.
    pub node_name: Option<String>,
    pub host_network: bool,
    /// Default 30 s (`DefaultTerminationGracePeriodSeconds`).
    pub termination_grace_period: SimDuration,
    pub tolerations: Vec<Toleration>,
    /// `spec.dnsPolicy` (`SetDefaults_PodSpec`: `ClusterFirst`).
    pub dns_policy: DnsPolicy,
    /// `spec.dnsConfig`: added to what the policy gives (`pkg/kubelet/network/dns/dns.go`).
    pub dns_config: Option<PodDnsConfig>,
    /// `spec.hostname` and `spec.subdomain`: with a headless Service named `subdomain` that
    /// selects the pod, CoreDNS answers `<hostname>.<subdomain>.<namespace>.svc.cluster.local`
    /// (the StatefulSet controller sets both, `updateIdentity` in
    /// `pkg/controller/statefulset/stateful_set_utils.go`).
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
    /// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`: the node must
    /// match one of these terms (the scheduler's NodeAffinity filter, the DaemonSet
    /// controller's `NodeShouldRunDaemonPod`). `None` when not written.
    pub node_affinity: Option<super::affinity::NodeSelector>,
}

/// `spec.dnsPolicy`: where a pod's `/etc/resolv.conf` comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DnsPolicy {
    /// The cluster DNS Service and the cluster's search domains; a `hostNetwork` pod falls
    /// back to `Default`.
    #[default]
    ClusterFirst,
    /// `ClusterFirst`, also for a `hostNetwork` pod.
    ClusterFirstWithHostNet,
    /// The node's own resolv.conf.
    Default,
    /// Nothing but `dnsConfig`.
    None,
}

/// `spec.dnsConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodDnsConfig {
    pub nameservers: Vec<std::net::Ipv4Addr>,
    pub searches: Vec<String>,
    /// `options`: name and value (`ndots`, `5`), in the order written.
    pub options: Vec<(String, Option<String>)>,
}

impl PodSpec {
    /// The sum of the containers' requests, as the scheduler counts them.
    pub fn requests(&self) -> Resources {
        self.containers
            .iter()
            .fold(Resources::default(), |acc, c| acc + c.requests)
    }

    /// The port an endpoint of this pod gets for a Service port's `targetPort`, as upstream's
    /// `FindPort` (`pkg/api/v1/pod/util.go`, used by the EndpointSlice controller) finds it: a
    /// number is the port as it is, declared in `containerPort` or not; a name is looked up
    /// among the containers' ports of the same `protocol`, and none found means the pod is no
    /// endpoint of that port.
    pub fn endpoint_port(&self, port: &PortRef, protocol: Protocol) -> Option<u16> {
        match port {
            PortRef::Number(n) => Some(*n),
            PortRef::Name(name) => self.containers.iter().find_map(|c| {
                c.ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol == protocol)
                    .map(|p| p.container_port)
            }),
        }
    }

    /// The container that accepts connections to `port` (an endpoint's port, or a client's
    /// direct `podIP:port`). Upstream whichever process bound the port answers; kubesim, which
    /// does not know what the process binds, takes the pod's declared ports as what it listens
    /// on: the container declaring `port` with `protocol`; in a pod that declares no port at
    /// all, the first container (it listens wherever it is addressed, as most manifests
    /// without `ports:` mean); otherwise nobody (a connection is refused).
    pub fn listener(&self, port: u16, protocol: Protocol) -> Option<usize> {
        let declared = self.containers.iter().position(|c| {
            c.ports
                .iter()
                .any(|p| p.container_port == port && p.protocol == protocol)
        });
        let none_declared = self.containers.iter().all(|c| c.ports.is_empty());
        declared.or((none_declared && !self.containers.is_empty()).then_some(0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTemplate {
    pub meta: ObjectMeta,
    pub spec: PodSpec,
}

/// A bare Pod from the scenario (not owned by a controller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodObject {
    pub meta: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingUpdate {
    /// Absolute or percentage, as written; default `25%`.
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
}

/// `maxSurge`/`maxUnavailable`: a count or a percentage of the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Count(u32),
    Percent(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub meta: ObjectMeta,
    /// Default 1.
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate,
    pub rolling_update: RollingUpdate,
    /// `strategy.type: Recreate`: every old pod goes before any new one starts.
    pub recreate: bool,
    /// `minReadySeconds`: how long a pod must have been ready to count as available.
    pub min_ready: SimDuration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetObject {
    pub meta: ObjectMeta,
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficPolicy {
    Cluster,
    Local,
}

/// Which topology hints the EndpointSlice controller gives a Service's endpoints, and so which
/// endpoints each node's kube-proxy prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopologyRouting {
    /// No hints: every node uses every endpoint.
    #[default]
    None,
    /// `trafficDistribution: PreferClose` or `PreferSameZone`: each ready endpoint is hinted
    /// for its own node's zone (`staging/src/k8s.io/endpointslice/trafficdist`).
    PreferSameZone,
    /// `trafficDistribution: PreferSameNode`: hinted for its node and its node's zone.
    PreferSameNode,
    /// The `service.kubernetes.io/topology-mode: Auto` annotation (it wins over
    /// `trafficDistribution`): zone hints allocated in proportion to each zone's allocatable
    /// CPU, or none (`staging/src/k8s.io/endpointslice/topologycache`).
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
    /// Defaults to `port` when not written.
    pub target_port: PortRef,
    /// Requested by the user; the API server allocates one for NodePort and LoadBalancer
    /// Services when absent.
    pub node_port: Option<u16>,
}

/// What the user asked for in `spec.clusterIP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterIpRequest {
    /// Not written: allocate one.
    Auto,
    /// `None`: a headless Service.
    Headless,
    Static(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub type_: ServiceType,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
    pub cluster_ip: ClusterIpRequest,
    /// `sessionAffinity: ClientIP` timeout; `None` for `None` affinity.
    pub session_affinity_timeout: Option<SimDuration>,
    pub external_traffic_policy: TrafficPolicy,
    pub internal_traffic_policy: TrafficPolicy,
    pub external_ips: Vec<Ipv4Addr>,
    pub external_name: Option<String>,
    pub publish_not_ready_addresses: bool,
    pub health_check_node_port: Option<u16>,
    /// `trafficDistribution` and the `service.kubernetes.io/topology-mode` annotation.
    pub topology: TopologyRouting,
    /// `spec.loadBalancerSourceRanges`: the client networks a load-balancer IP accepts.
    pub load_balancer_source_ranges: Vec<Ipv4Net>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceObject {
    pub meta: ObjectMeta,
    pub spec: ServiceSpec,
}

/// `spec.podManagementPolicy` (`pkg/apis/apps/v1/defaults.go`: `OrderedReady`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodManagement {
    /// Pod N+1 is created only once pods 0..=N are Running and Ready; scale-down removes the
    /// highest ordinal first, one at a time.
    OrderedReady,
    /// Every pod is created or deleted at once.
    Parallel,
}

/// `spec.updateStrategy` of a StatefulSet (default `RollingUpdate`, partition 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatefulSetUpdate {
    /// Pods with an ordinal at or above `partition` are replaced, highest first, one at a
    /// time, each waiting for the one before to be Running and Ready; with Kubernetes v1.35
    /// or later, up to `maxUnavailable` at a time (`None`: 1).
    RollingUpdate {
        partition: u32,
        max_unavailable: Option<IntOrPercent>,
    },
    /// A pod takes the new template only when it is deleted (by the user or a failure).
    OnDelete,
}

/// A StatefulSet (`apps/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatefulSetObject {
    pub meta: ObjectMeta,
    /// Default 1.
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate,
    /// `spec.serviceName`: the headless Service that gives the pods their DNS names.
    pub service_name: String,
    pub pod_management: PodManagement,
    pub update: StatefulSetUpdate,
    pub min_ready: SimDuration,
    /// Names of `spec.volumeClaimTemplates`: accepted, storage is not simulated.
    pub volume_claims: Vec<String>,
}

/// A DaemonSet (`apps/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSetObject {
    pub meta: ObjectMeta,
    pub selector: LabelSelector,
    pub template: PodTemplate,
    /// `updateStrategy.rollingUpdate` (defaults `maxUnavailable: 1`, `maxSurge: 0`,
    /// `SetDefaults_DaemonSet`); `None` for `OnDelete`.
    pub rolling_update: Option<RollingUpdate>,
    pub min_ready: SimDuration,
}

/// Every Kubernetes object kind the simulation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Namespace(ObjectMeta),
    Deployment(Deployment),
    ReplicaSet(ReplicaSetObject),
    Pod(PodObject),
    Service(ServiceObject),
    StatefulSet(StatefulSetObject),
    DaemonSet(DaemonSetObject),
    /// `autoscaling/v2` (`sim::hpa` runs it).
    HorizontalPodAutoscaler(Box<super::hpa::HorizontalPodAutoscaler>),
    NetworkPolicy(super::netpol::NetworkPolicy),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Namespace(_) => "Namespace",
            Object::Deployment(_) => "Deployment",
            Object::ReplicaSet(_) => "ReplicaSet",
            Object::Pod(_) => "Pod",
            Object::Service(_) => "Service",
            Object::StatefulSet(_) => "StatefulSet",
            Object::DaemonSet(_) => "DaemonSet",
            Object::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
            Object::NetworkPolicy(_) => "NetworkPolicy",
        }
    }
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(m) => m,
            Object::Deployment(d) => &d.meta,
            Object::ReplicaSet(r) => &r.meta,
            Object::Pod(p) => &p.meta,
            Object::Service(s) => &s.meta,
            Object::StatefulSet(s) => &s.meta,
            Object::DaemonSet(d) => &d.meta,
            Object::HorizontalPodAutoscaler(h) => &h.meta,
            Object::NetworkPolicy(p) => &p.meta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults_follow_set_defaults_container() {
        use ImagePullPolicy::*;
        assert_eq!(ImagePullPolicy::default_for("aspnetcoreweb"), Always);
        assert_eq!(ImagePullPolicy::default_for("httpd:latest"), Always);
        assert_eq!(ImagePullPolicy::default_for("httpd:2.4"), IfNotPresent);
        assert_eq!(ImagePullPolicy::default_for("localhost:5000/web"), Always);
        assert_eq!(
            ImagePullPolicy::default_for("localhost:5000/web:v1"),
            IfNotPresent
        );
        assert_eq!(
            ImagePullPolicy::default_for("nginx@sha256:abcd"),
            IfNotPresent
        );
    }

    #[test]
    fn empty_service_selector_selects_nothing_but_empty_label_selector_selects_all() {
        let labels: Labels = [("app".to_string(), "x".to_string())].into();
        assert!(!service_selects(&Labels::new(), &labels));
        assert!(LabelSelector::default().matches(&labels));
    }

    /// Issue 14, item 1: `FindPort` returns a numeric targetPort as it is, declared or not; a
    /// named one is looked up among ports of the Service port's protocol only. A pod without
    /// declared ports listens on any port (its first container); one with declared ports on
    /// those only.
    #[test]
    fn resolve_port_takes_a_number_as_it_is_and_a_name_by_protocol() {
        let port = |name: Option<&str>, n, protocol| ContainerPort {
            name: name.map(str::to_string),
            container_port: n,
            host_port: None,
            protocol,
        };
        let container = |name: &str, ports| Container {
            name: name.into(),
            image: "srv".into(),
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            ports,
            requests: Resources::default(),
            limits: Resources::default(),
            readiness_probe: None,
            liveness_probe: None,
            startup_probe: None,
            pre_stop: None,
        };
        let spec = PodSpec {
            containers: vec![
                container("main", vec![]),
                container(
                    "side",
                    vec![
                        port(Some("dns"), 53, Protocol::Udp),
                        port(None, 9090, Protocol::Tcp),
                    ],
                ),
            ],
            restart_policy: RestartPolicy::Always,
            node_selector: Labels::default(),
            node_name: None,
            host_network: false,
            termination_grace_period: SimDuration::from_secs(30),
            tolerations: Vec::new(),
            dns_policy: DnsPolicy::ClusterFirst,
            dns_config: None,
            hostname: None,
            subdomain: None,
            node_affinity: None,
        };
        let tcp = Protocol::Tcp;
        assert_eq!(spec.endpoint_port(&PortRef::Number(8080), tcp), Some(8080));
        let dns = PortRef::Name("dns".into());
        assert_eq!(spec.endpoint_port(&dns, Protocol::Udp), Some(53));
        assert_eq!(spec.endpoint_port(&dns, tcp), None);
        assert_eq!(spec.endpoint_port(&PortRef::Name("http".into()), tcp), None);
        assert_eq!(spec.listener(9090, tcp), Some(1));
        assert_eq!(spec.listener(53, Protocol::Udp), Some(1));
        assert_eq!(spec.listener(8080, tcp), None, "declared ports only");
        let mut bare = spec.clone();
        bare.containers[1].ports.clear();
        assert_eq!(bare.listener(8080, tcp), Some(0), "no ports: any port");
    }
}
