//! The API server's part of a run: creating Services (ClusterIP and NodePort allocation, with
//! upstream's error messages) and keeping the objects the controllers act on.
//!
//! A failed create changes nothing: no port or address stays allocated.

use crate::engine::SimRng;
use crate::model::objects::{
    ClusterIpRequest, ObjectMeta, PortRef, Protocol, ServiceObject, ServicePort, ServiceSpec,
    ServiceType, TrafficPolicy,
};
use crate::net::allocator::{
    cluster_ip_field_error, node_port_field_error, ClusterIpAllocator, LoadBalancerPool,
    NodePortAllocator,
};
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

/// An API request the simulated API server refused, as `kubectl apply` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Index of the object in [`crate::sim::Scenario::objects`], when it came from there.
    pub object: Option<usize>,
    pub kind: String,
    pub name: String,
    /// The first invalid field (`spec.ports[0].nodePort`), for locating it in the file.
    pub field: String,
    /// The errors after `is invalid: `, each `<field>: <detail>`.
    pub details: Vec<String>,
}

impl fmt::Display for ApiError {
    /// `The Service "x" is invalid: spec.ports[0].nodePort: ...`; several errors are joined
    /// as `[a, b]`, as `apierrors.NewInvalid` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "The {} {:?} is invalid: ", self.kind, self.name)?;
        if self.details.len() == 1 {
            write!(f, "{}", self.details[0])
        } else {
            write!(f, "[{}]", self.details.join(", "))
        }
    }
}

/// A Service as stored: the spec plus what the API server allocated.
#[derive(Debug, Clone)]
pub struct ServiceState {
    pub obj: ServiceObject,
    /// `None` for headless and ExternalName Services.
    pub cluster_ip: Option<Ipv4Addr>,
    /// One per port; `Some` for NodePort and LoadBalancer Services.
    pub node_ports: Vec<Option<u16>>,
    /// LoadBalancer ingress address from the scenario's pool; `None`: `<pending>`.
    pub load_balancer_ip: Option<Ipv4Addr>,
    /// `spec.healthCheckNodePort`: allocated from the NodePort range for a LoadBalancer
    /// Service with `externalTrafficPolicy: Local` (`needsHCNodePort`,
    /// `pkg/registry/core/service/storage/alloc.go`), where kube-proxy answers `/healthz`.
    pub health_check_node_port: Option<u16>,
}

impl ServiceState {
    /// The EXTERNAL-IP column of `kubectl get svc`.
    pub fn external_ip_column(&self) -> String {
        let mut ips: Vec<String> = self
            .load_balancer_ip
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        ips.extend(self.obj.spec.external_ips.iter().map(|ip| ip.to_string()));
        match (self.obj.spec.type_, ips.is_empty()) {
            (ServiceType::ExternalName, _) => {
                self.obj.spec.external_name.clone().unwrap_or_default()
            }
            (ServiceType::LoadBalancer, true) => "<pending>".into(),
            (_, true) => "<none>".into(),
            (_, false) => ips.join(","),
        }
    }
}

/// Allocators and stored Services.
#[derive(Debug, Clone)]
pub struct ApiServer {
    pub service_cidr: Ipv4Net,
    cluster_ips: ClusterIpAllocator,
    node_ports: NodePortAllocator,
    lb_pool: Option<LoadBalancerPool>,
    pub services: Vec<ServiceState>,
    /// Bumped by every change to `services` (created, deleted, updated, given an address), so
    /// the EndpointSlice controller and kube-proxy see that Services changed.
    pub version: u64,
    /// `(namespace, name)` of every Service in `services`, so a create checks for a duplicate
    /// without a scan (10,000 Services would cost 50 M comparisons).
    names: BTreeSet<(String, String)>,
}

impl ApiServer {
    pub fn new(
        service_cidr: Ipv4Net,
        node_ports: crate::net::config::NodePortRange,
        lb_pool: Option<Ipv4Net>,
    ) -> Self {
        ApiServer {
            service_cidr,
            cluster_ips: ClusterIpAllocator::new(service_cidr),
            node_ports: NodePortAllocator::new(node_ports.first, node_ports.last),
            lb_pool: lb_pool.map(LoadBalancerPool::new),
            services: Vec::new(),
            version: 0,
            names: BTreeSet::new(),
        }
    }

    /// The Services every cluster has: `default/kubernetes` on the first address of the
    /// service CIDR (the API server's own), and `kube-system/kube-dns` on the tenth, where
    /// kubeadm puts cluster DNS (`cmd/kubeadm/app/constants`, `GetDNSIP`).
    pub fn create_builtin_services(&mut self, rng: &mut SimRng) {
        let first = self.cluster_ips.first();
        let dns = Ipv4Addr::from(u32::from(self.service_cidr.network()) + 10);
        let meta = |name: &str, ns: &str, labels: &[(&str, &str)]| ObjectMeta {
            name: name.into(),
            namespace: ns.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: Default::default(),
        };
        let port = |name: &str, protocol, port, target| ServicePort {
            name: Some(name.into()),
            protocol,
            port,
            target_port: PortRef::Number(target),
            node_port: None,
        };
        let kubernetes = ServiceObject {
            meta: meta(
                "kubernetes",
                "default",
                &[("component", "apiserver"), ("provider", "kubernetes")],
            ),
            spec: spec(
                ClusterIpRequest::Static(first),
                Default::default(),
                vec![port("https", Protocol::Tcp, 443, 6443)],
            ),
        };
        let kube_dns = ServiceObject {
            meta: meta("kube-dns", "kube-system", &[("k8s-app", "kube-dns")]),
            spec: spec(
                ClusterIpRequest::Static(dns),
                [("k8s-app".to_string(), "kube-dns".to_string())].into(),
                vec![
                    port("dns", Protocol::Udp, 53, 53),
                    port("dns-tcp", Protocol::Tcp, 53, 53),
                    port("metrics", Protocol::Tcp, 9153, 9153),
                ],
            ),
        };
        for svc in [kubernetes, kube_dns] {
            self.create_service(svc, None, rng)
                .expect("built-in Services fit any service CIDR of /28 or more");
        }
    }

    /// Creates a Service: allocates its ClusterIP and NodePorts or refuses it whole.
    pub fn create_service(
        &mut self,
        obj: ServiceObject,
        object: Option<usize>,
        rng: &mut SimRng,
    ) -> Result<usize, ApiError> {
        let err = |field: String, details: Vec<String>| ApiError {
            object,
            kind: "Service".into(),
            name: obj.meta.name.clone(),
            field,
            details,
        };
        let key = (obj.meta.namespace.clone(), obj.meta.name.clone());
        if self.names.contains(&key) {
            // Not an "is invalid" error upstream but `AlreadyExists`; apply would update it.
            return Err(err(
                "metadata.name".into(),
                vec![format!(
                    "metadata.name: Duplicate value: {:?}",
                    obj.meta.name
                )],
            ));
        }
        let wants_ip = obj.spec.type_ != ServiceType::ExternalName;
        let cluster_ip = match (wants_ip, obj.spec.cluster_ip) {
            (false, _) | (_, ClusterIpRequest::Headless) => None,
            (true, ClusterIpRequest::Static(ip)) => {
                self.cluster_ips.allocate(ip).map_err(|e| {
                    err(
                        "spec.clusterIPs".into(),
                        vec![cluster_ip_field_error(ip, &e)],
                    )
                })?;
                Some(ip)
            }
            (true, ClusterIpRequest::Auto) => {
                Some(self.cluster_ips.allocate_next(rng).map_err(|e| {
                    err(
                        "spec.clusterIPs".into(),
                        vec![format!(
                            "spec.clusterIPs: Internal error: failed to allocate a serviceIP: {e}"
                        )],
                    )
                })?)
            }
        };
        let release_ip = |me: &mut Self| {
            if let Some(ip) = cluster_ip {
                me.cluster_ips.release(ip);
            }
        };
        let needs_node_port = matches!(
            obj.spec.type_,
            ServiceType::NodePort | ServiceType::LoadBalancer
        );
        let mut node_ports = Vec::with_capacity(obj.spec.ports.len());
        let mut taken = Vec::new();
        let mut problems = Vec::new();
        let mut first_field = None;
        for (i, p) in obj.spec.ports.iter().enumerate() {
            if !needs_node_port {
                node_ports.push(None);
                continue;
            }
            let result = match p.node_port {
                Some(port) => self.node_ports.allocate(port).map(|()| port).map_err(|e| node_port_field_error(i, port, &e)),
                None => self
                    .node_ports
                    .allocate_next(rng)
                    .map_err(|e| format!("spec.ports[{i}].nodePort: Internal error: failed to allocate a nodePort: {e}")),
            };
            match result {
                Ok(port) => {
                    taken.push(port);
                    node_ports.push(Some(port));
                }
                Err(msg) => {
                    first_field.get_or_insert(format!("spec.ports[{i}].nodePort"));
                    problems.push(msg);
                    node_ports.push(None);
                }
            }
        }
        // `allocHealthCheckNodePort`, after the service ports' NodePorts: the requested port,
        // or the next free one (`pkg/registry/core/service/storage/alloc.go`).
        let needs_hc = obj.spec.type_ == ServiceType::LoadBalancer
            && obj.spec.external_traffic_policy == TrafficPolicy::Local;
        let mut health_check_node_port = None;
        if needs_hc && problems.is_empty() {
            let result = match obj.spec.health_check_node_port {
                Some(port) => self.node_ports.allocate(port).map(|()| port).map_err(|e| {
                    format!("spec.healthCheckNodePort: Invalid value: {port}: failed to allocate requested HealthCheck NodePort {port}: {e}")
                }),
                None => self.node_ports.allocate_next(rng).map_err(|e| {
                    format!("spec.healthCheckNodePort: Internal error: failed to allocate a nodePort: {e}")
                }),
            };
            match result {
                Ok(port) => {
                    taken.push(port);
                    health_check_node_port = Some(port);
                }
                Err(msg) => {
                    first_field.get_or_insert("spec.healthCheckNodePort".into());
                    problems.push(msg);
                }
            }
        }
        if !problems.is_empty() {
            for port in taken {
                self.node_ports.release(port);
            }
            release_ip(self);
            return Err(err(first_field.unwrap_or_default(), problems));
        }
        let load_balancer_ip = if obj.spec.type_ == ServiceType::LoadBalancer {
            self.lb_pool.as_mut().and_then(LoadBalancerPool::allocate)
        } else {
            None
        };
        self.version += 1;
        self.services.push(ServiceState {
            obj,
            cluster_ip,
            node_ports,
            load_balancer_ip,
            health_check_node_port,
        });
        self.names.insert(key);
        Ok(self.services.len() - 1)
    }
}

impl ApiServer {
    /// Deletes a Service: its ClusterIP and NodePorts are free again at once (upstream
    /// releases them in the same transaction), and its load-balancer address goes back to
    /// the pool. `None` when there is no such Service.
    pub fn delete_service(&mut self, namespace: &str, name: &str) -> Option<ServiceState> {
        let i = self
            .services
            .iter()
            .position(|s| s.obj.meta.namespace == namespace && s.obj.meta.name == name)?;
        let s = self.services.remove(i);
        self.version += 1;
        self.names
            .remove(&(namespace.to_string(), name.to_string()));
        if let Some(ip) = s.cluster_ip {
            self.cluster_ips.release(ip);
        }
        for port in s
            .node_ports
            .iter()
            .flatten()
            .chain(&s.health_check_node_port)
        {
            self.node_ports.release(*port);
        }
        if let (Some(pool), Some(ip)) = (&mut self.lb_pool, s.load_balancer_ip) {
            pool.release(ip);
        }
        Some(s)
    }

    /// Gives Service `i` the load-balancer address `ip` (one it held before), releasing the
    /// one it has.
    pub fn set_load_balancer_ip(&mut self, i: usize, ip: Option<Ipv4Addr>) {
        let s = &mut self.services[i];
        if let Some(pool) = &mut self.lb_pool {
            if let Some(old) = s.load_balancer_ip {
                pool.release(old);
            }
            if let Some(ip) = ip {
                pool.take(ip);
            }
        }
        s.load_balancer_ip = ip;
    }
}

fn spec(
    cluster_ip: ClusterIpRequest,
    selector: crate::model::objects::Labels,
    ports: Vec<ServicePort>,
) -> ServiceSpec {
    ServiceSpec {
        type_: ServiceType::ClusterIP,
        selector,
        ports,
        cluster_ip,
        session_affinity_timeout: None,
        external_traffic_policy: TrafficPolicy::Cluster,
        internal_traffic_policy: TrafficPolicy::Cluster,
        external_ips: Vec::new(),
        external_name: None,
        publish_not_ready_addresses: false,
        health_check_node_port: None,
        topology: Default::default(),
        load_balancer_source_ranges: Vec::new(),
    }
}
