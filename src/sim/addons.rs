//! Cluster add-ons a real cluster runs before any user object: the `coredns` Deployment
//! behind `kube-system/kube-dns`, as kubeadm installs it (kind and Docker Desktop use
//! kubeadm's manifests).
//!
//! The Deployment follows `CoreDNSDeployment` in
//! `cmd/kubeadm/app/phases/addons/dns/manifests.go` (kubernetes/kubernetes, v1.34): 2 replicas
//! (`dns.go`, `coreDNSReplicas`), labels `k8s-app: kube-dns`, one container `coredns` with
//! requests cpu 100m / memory 70Mi and a memory limit of 170Mi, ports dns 53/UDP, dns-tcp
//! 53/TCP, metrics 9153/TCP, liveness-probe 8080, readiness-probe 8181, a liveness probe
//! `GET /health` on 8080 (initialDelay 60 s, timeout 5 s, failureThreshold 5), a readiness
//! probe `GET /ready` on 8181 (the defaults), `maxUnavailable: 1`, and a toleration of the
//! control-plane taint and `CriticalAddonsOnly`. What kubesim does not model of it: the
//! preferred pod anti-affinity (kubesim's scheduler spreads by least-allocated scoring, which
//! puts the two replicas on two nodes whenever two fit), `priorityClassName`, the ConfigMap
//! (the Corefile's `cache 30` and `forward`: names outside the cluster are not resolved).
//! Its image is on every node before the run, as `kubeadm init`'s preflight pulls it.

use crate::engine::SimDuration;
use crate::model::objects::Container;
use crate::model::objects::{
    ContainerPort, Deployment, DnsPolicy, ImagePullPolicy, IntOrPercent, LabelSelector, ObjectMeta,
    PodSpec, PodTemplate, PortRef, Probe, ProbeHandler, Protocol, Resources, RestartPolicy,
    RollingUpdate, Toleration,
};

/// kubeadm's CoreDNS image for Kubernetes 1.34 (`cmd/kubeadm/app/constants/constants.go`,
/// `CoreDNSImageName` and `CoreDNSVersion` v1.12.1).
pub const COREDNS_IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.12.1";

/// `coreDNSReplicas` in `cmd/kubeadm/app/phases/addons/dns/dns.go`.
pub const COREDNS_REPLICAS: u32 = 2;

/// The `coredns` Deployment of `kube-system`, as kubeadm's manifest writes it.
pub fn coredns_deployment() -> Deployment {
    let labels: crate::model::objects::Labels =
        [("k8s-app".to_string(), "kube-dns".to_string())].into();
    let port = |name: &str, n: u16, protocol| ContainerPort {
        name: Some(name.into()),
        container_port: n,
        host_port: None,
        protocol,
    };
    let container = Container {
        name: "coredns".into(),
        image: COREDNS_IMAGE.into(),
        image_pull_policy: ImagePullPolicy::IfNotPresent,
        ports: vec![
            port("dns", 53, Protocol::Udp),
            port("dns-tcp", 53, Protocol::Tcp),
            port("metrics", 9153, Protocol::Tcp),
            port("liveness-probe", 8080, Protocol::Tcp),
            port("readiness-probe", 8181, Protocol::Tcp),
        ],
        requests: Resources {
            cpu_millis: 100,
            memory_bytes: 70 << 20,
        },
        limits: Resources {
            cpu_millis: 0,
            memory_bytes: 170 << 20,
        },
        readiness_probe: Some(Probe {
            handler: ProbeHandler::HttpGet {
                path: "/ready".into(),
                port: PortRef::Name("readiness-probe".into()),
            },
            // `SetDefaults_Probe` (`pkg/apis/core/v1/defaults.go`).
            initial_delay: SimDuration::ZERO,
            period: SimDuration::from_secs(10),
            timeout: SimDuration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        }),
        liveness_probe: Some(Probe {
            handler: ProbeHandler::HttpGet {
                path: "/health".into(),
                port: PortRef::Name("liveness-probe".into()),
            },
            initial_delay: SimDuration::from_secs(60),
            period: SimDuration::from_secs(10),
            timeout: SimDuration::from_secs(5),
            success_threshold: 1,
            failure_threshold: 5,
        }),
        startup_probe: None,
        pre_stop: None,
    };
    let toleration = |key: &str, exists: bool, effect: Option<&str>| Toleration {
        key: Some(key.into()),
        operator_exists: exists,
        value: None,
        effect: effect.map(Into::into),
        toleration_seconds: None,
    };
    Deployment {
        meta: ObjectMeta {
            name: "coredns".into(),
            namespace: "kube-system".into(),
            labels: labels.clone(),
            annotations: Default::default(),
        },
        replicas: COREDNS_REPLICAS,
        selector: LabelSelector {
            match_labels: labels.clone(),
            match_expressions: Vec::new(),
        },
        template: PodTemplate {
            meta: ObjectMeta {
                name: String::new(),
                namespace: "kube-system".into(),
                labels,
                annotations: Default::default(),
            },
            spec: PodSpec {
                containers: vec![container],
                restart_policy: RestartPolicy::Always,
                // `nodeSelector: kubernetes.io/os: linux` left out: kubesim's nodes carry only
                // the hostname label, and every node it models is a Linux node.
                node_selector: Default::default(),
                node_name: None,
                host_network: false,
                termination_grace_period: SimDuration::from_secs(30),
                // CoreDNS itself asks the node's resolvers (its `forward . /etc/resolv.conf`).
                dns_policy: DnsPolicy::Default,
                dns_config: None,
                hostname: None,
                subdomain: None,
                node_affinity: None,
                tolerations: vec![
                    toleration("CriticalAddonsOnly", true, None),
                    toleration(
                        "node-role.kubernetes.io/control-plane",
                        false,
                        Some("NoSchedule"),
                    ),
                ],
            },
        },
        rolling_update: RollingUpdate {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Count(1),
        },
        recreate: false,
        min_ready: SimDuration::ZERO,
    }
}
