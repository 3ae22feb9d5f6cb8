//! `kubesim generate`: a large cluster written as an ordinary scenario file.
//!
//! Capacity planners bring clusters of hundreds or thousands of nodes, which nobody writes by
//! hand. [`generate`] writes one as YAML text, in the shape a user would write it: a
//! `kind: Scenario` document listing every node, then one Deployment and one Service per
//! application, each Service selecting its own Deployment; the first Service is a NodePort
//! that an outside client calls at a steady rate. The text starts with a comment saying what
//! is in it and the command that made it, and the same options always give the same bytes
//! (nothing is drawn at random here: `--seed` only becomes the scenario's `spec.seed`).
//!
//! Sizes stay within Kubernetes' documented limits ("Considerations for large clusters",
//! kubernetes/website `content/en/docs/setup/best-practices/cluster-large.md`): at most 5,000
//! nodes, 110 pods per node (the kubelet's `maxPods`), 150,000 pods, 10,000 Services and
//! 5,000 Services per namespace (beyond 5,000 Services the applications are split over
//! namespaces `apps-1`, `apps-2`, ...). The addresses follow the defaults where they fit:
//! node IPs from 192.168.0.0/16 (250 per /24: 192.168.0.1-250, 192.168.1.1-250, ...), and
//! the smallest cluster CIDR around the flannel default 10.244.0.0/16 that holds a /24 per
//! node (10.244.0.0/16 up to 256 nodes, 10.224.0.0/11 at 5,000), clear of the service CIDR
//! 10.96.0.0/12.
//!
//! It knows the scenario format and nothing of the run; it reads and writes no files.

use crate::engine::SimDuration;
use crate::net::config::ProxyMode;
use std::fmt::Write;

/// Kubernetes' documented limits (kubernetes/website
/// `content/en/docs/setup/best-practices/cluster-large.md`).
pub const MAX_NODES: u32 = 5_000;
pub const MAX_PODS: u64 = 150_000;
pub const MAX_SERVICES: u32 = 10_000;
pub const MAX_SERVICES_PER_NAMESPACE: u32 = 5_000;
/// The kubelet's default `maxPods` (`pkg/kubelet/apis/config/v1beta1/defaults.go`).
pub const MAX_PODS_PER_NODE: u32 = 110;
/// When the traffic starts: the pods have started (1 s) and every node has synced its rules.
const TRAFFIC_START: SimDuration = SimDuration::from_secs(5);
/// The NodePort of the first Service, which the traffic calls.
const NODE_PORT: u16 = 30001;
const IMAGE: &str = "nginx:1.27";

/// How many pods the Deployments ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodCount {
    /// Pods per node on average: the Deployments hold `nodes × n` pods, shared as evenly as
    /// whole numbers allow. (The `coredns` add-on runs no pods in kubesim yet; when it does,
    /// its pods belong in this count, or a full cluster leaves two pods `Pending`.)
    PerNode(u32),
    /// Replicas of each Deployment.
    PerDeployment(u32),
}

/// What to generate; every field has a command-line option of the same name.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub nodes: u32,
    pub pods: PodCount,
    pub services: u32,
    pub proxy_mode: ProxyMode,
    /// The external client's rate, as the scenario writes it (`1000/s`).
    pub rate: String,
    /// How long the traffic runs (the scenario lasts 5 s longer: the traffic starts at 5 s).
    pub duration: SimDuration,
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            nodes: 100,
            pods: PodCount::PerNode(30),
            services: 10,
            proxy_mode: ProxyMode::Iptables,
            rate: "1000/s".into(),
            duration: SimDuration::from_secs(10),
            seed: 1,
        }
    }
}

/// Options that cannot make a valid cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("--nodes {0}: must be between 1 and {MAX_NODES} (Kubernetes' documented limit)")]
    Nodes(u32),
    #[error("--services {0}: must be between 1 and {MAX_SERVICES} (Kubernetes' documented limit)")]
    Services(u32),
    #[error(
        "--pods-per-node {0}: must be between 1 and {MAX_PODS_PER_NODE} (the kubelet's maxPods)"
    )]
    PodsPerNode(u32),
    #[error("{pods} pods: more than {MAX_PODS}, Kubernetes' documented limit")]
    TooManyPods { pods: u64 },
    #[error(
        "--replicas {replicas}: {pods} pods do not fit on {nodes} node(s) of {MAX_PODS_PER_NODE} pods each"
    )]
    DoesNotFit {
        replicas: u32,
        pods: u64,
        nodes: u32,
    },
    #[error("--rate: {0}")]
    Rate(String),
    #[error("--duration: must be longer than 0s")]
    Duration,
}

/// The scenario text for `opts`, or why the options make no valid cluster.
pub fn generate(opts: &GenerateOptions) -> Result<String, GenerateError> {
    let plan = Plan::new(opts)?;
    let mut out = String::with_capacity(1024 + 64 * plan.nodes as usize + 700 * plan.apps());
    plan.header(&mut out);
    plan.scenario(&mut out);
    plan.objects(&mut out);
    Ok(out)
}

/// The command line that makes `opts`, every option spelled out.
pub fn command_line(opts: &GenerateOptions) -> String {
    let pods = match opts.pods {
        PodCount::PerNode(n) => format!("--pods-per-node {n}"),
        PodCount::PerDeployment(n) => format!("--replicas {n}"),
    };
    format!(
        "kubesim generate --nodes {} {pods} --services {} --proxy-mode {} --rate {} --duration {} --seed {}",
        opts.nodes,
        opts.services,
        opts.proxy_mode.as_str(),
        opts.rate,
        opts.duration,
        opts.seed
    )
}

/// The options checked and the counts worked out.
struct Plan<'a> {
    opts: &'a GenerateOptions,
    nodes: u32,
    services: u32,
    /// Replicas of each Deployment, in order.
    replicas: Vec<u32>,
    /// Digits in node and application names (`node-0001`, `web-0001`).
    node_width: usize,
    app_width: usize,
}

impl<'a> Plan<'a> {
    fn new(opts: &'a GenerateOptions) -> Result<Self, GenerateError> {
        let (nodes, services) = (opts.nodes, opts.services);
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(GenerateError::Nodes(nodes));
        }
        if !(1..=MAX_SERVICES).contains(&services) {
            return Err(GenerateError::Services(services));
        }
        crate::scenario::parse_rate(&opts.rate).map_err(GenerateError::Rate)?;
        if opts.duration.is_zero() {
            return Err(GenerateError::Duration);
        }
        let replicas = match opts.pods {
            PodCount::PerNode(n) => {
                if !(1..=MAX_PODS_PER_NODE).contains(&n) {
                    return Err(GenerateError::PodsPerNode(n));
                }
                let pods = u64::from(nodes) * u64::from(n);
                if pods > MAX_PODS {
                    return Err(GenerateError::TooManyPods { pods });
                }
                let (base, extra) = (pods / u64::from(services), pods % u64::from(services));
                (0..u64::from(services))
                    .map(|i| (base + u64::from(i < extra)) as u32)
                    .collect()
            }
            PodCount::PerDeployment(r) => {
                let pods = u64::from(services) * u64::from(r);
                if pods > MAX_PODS {
                    return Err(GenerateError::TooManyPods { pods });
                }
                if pods > u64::from(nodes) * u64::from(MAX_PODS_PER_NODE) {
                    return Err(GenerateError::DoesNotFit {
                        replicas: r,
                        pods,
                        nodes,
                    });
                }
                vec![r; services as usize]
            }
        };
        Ok(Plan {
            opts,
            nodes,
            services,
            replicas,
            node_width: digits(nodes),
            app_width: digits(services),
        })
    }

    fn apps(&self) -> usize {
        self.services as usize
    }

    fn node_name(&self, i: u32) -> String {
        format!("node-{:0w$}", i + 1, w = self.node_width)
    }

    fn app_name(&self, i: u32) -> String {
        format!("web-{:0w$}", i + 1, w = self.app_width)
    }

    /// The namespace of application `i`: `default`, or `apps-N` beyond 5,000 Services.
    fn namespace(&self, i: u32) -> Option<String> {
        (self.services > MAX_SERVICES_PER_NAMESPACE)
            .then(|| format!("apps-{}", i / MAX_SERVICES_PER_NAMESPACE + 1))
    }

    fn namespaces(&self) -> u32 {
        self.services.div_ceil(MAX_SERVICES_PER_NAMESPACE)
    }

    fn header(&self, out: &mut String) {
        let pods: u64 = self.replicas.iter().map(|&r| u64::from(r)).sum();
        let first = self.app_name(0);
        let others = match self.services {
            1 => "",
            2 => ", the other ClusterIP",
            _ => ", the others ClusterIP",
        };
        let spread = if self.services > MAX_SERVICES_PER_NAMESPACE {
            format!(
                " in {} namespaces of at most {}",
                self.namespaces(),
                thousands(u64::from(MAX_SERVICES_PER_NAMESPACE))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "# A generated cluster: {}, {} in {} and",
            count(u64::from(self.nodes), "node"),
            count(pods, "pod"),
            count(u64::from(self.services), "Deployment"),
        );
        let _ = writeln!(
            out,
            "# {}{spread}, {} its own Deployment;",
            count(u64::from(self.services), "Service"),
            if self.services == 1 {
                "selecting"
            } else {
                "each selecting"
            },
        );
        let _ = writeln!(
            out,
            "# {first} is a NodePort on {NODE_PORT}{others}. kube-proxy runs in {} mode;",
            self.opts.proxy_mode.as_str(),
        );
        let _ = writeln!(
            out,
            "# an outside client sends {} to {}'s NodePort from {} for {}.",
            self.opts.rate,
            self.node_name(0),
            TRAFFIC_START,
            self.opts.duration,
        );
        let _ = writeln!(out, "# Made by: {}", command_line(self.opts));
        let _ = writeln!(
            out,
            "# Try it: kubesim check <this file>, then kubesim run or kubesim rules --node {}",
            self.node_name(0)
        );
    }

    fn scenario(&self, out: &mut String) {
        let o = self.opts;
        let name = format!("generated-{}-nodes-{}-services", self.nodes, self.services);
        let _ = write!(
            out,
            "apiVersion: {}\nkind: Scenario\nmetadata:\n  name: {name}\nspec:\n  seed: {}\n  duration: {}\n  cluster:\n    proxyMode: {}\n    clusterCIDR: {}\n    nodes:\n",
            crate::scenario::spec::API_VERSION,
            o.seed,
            TRAFFIC_START + o.duration,
            o.proxy_mode.as_str(),
            cluster_cidr(self.nodes),
        );
        for i in 0..self.nodes {
            let _ = write!(
                out,
                "      - name: {}\n        ip: {}\n",
                self.node_name(i),
                node_ip(i)
            );
        }
        let _ = write!(
            out,
            "  behaviors:\n    - image: \"{IMAGE}\"\n      serviceTime: {{distribution: exponential, mean: 5ms}}\n      concurrency: 4\n      keepAliveTimeout: 75s\n"
        );
        let _ = write!(
            out,
            "  traffic:\n    - name: clients\n      from: external\n      clients: 50\n      to: {}:{NODE_PORT}\n      rate: {}\n      start: {}\n",
            node_ip(0),
            o.rate,
            TRAFFIC_START,
        );
    }

    fn objects(&self, out: &mut String) {
        if self.services > MAX_SERVICES_PER_NAMESPACE {
            for n in 0..self.namespaces() {
                let _ = write!(
                    out,
                    "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps-{}\n",
                    n + 1
                );
            }
        }
        for i in 0..self.services {
            let name = self.app_name(i);
            let ns = self
                .namespace(i)
                .map(|n| format!("  namespace: {n}\n"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n{ns}spec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: web\n          image: \"{IMAGE}\"\n          ports:\n            - containerPort: 80\n",
                self.replicas[i as usize]
            );
            let _ = write!(
                out,
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n{ns}spec:\n"
            );
            if i == 0 {
                out.push_str("  type: NodePort\n");
            }
            let _ = write!(
                out,
                "  selector:\n    app: {name}\n  ports:\n    - port: 80\n      targetPort: 80\n"
            );
            if i == 0 {
                let _ = writeln!(out, "      nodePort: {NODE_PORT}");
            }
        }
    }
}

/// The `i`-th node's address (from 0): 250 per /24 of 192.168.0.0/16, from `.1`.
fn node_ip(i: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(192, 168, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// The smallest block around 10.244.0.0/16 (flannel's default) holding a /24 per node:
/// 10.244.0.0/16 for up to 256 nodes, /15 for 512, ..., 10.224.0.0/11 for 8,192.
fn cluster_cidr(nodes: u32) -> ipnet::Ipv4Net {
    let bits = 32 - (nodes.max(256) - 1).leading_zeros(); // ceil(log2(nodes)), at least 8
    let prefix = (24 - bits) as u8;
    ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 244, 0, 0), prefix)
        .expect("a prefix between 11 and 16")
        .trunc()
}

fn digits(n: u32) -> usize {
    n.to_string().len()
}

/// `3 nodes`, `1 node`, `1,000 nodes`.
fn count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}

/// `150000` as `150,000`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> crate::scenario::Loaded {
        match crate::scenario::load_str(text, "generated.yaml", Path::new(".")) {
            Ok(l) => l,
            Err(d) => panic!("generated text does not load: {d:?}"),
        }
    }

    #[test]
    fn small_cluster_loads_with_its_counts() {
        let opts = GenerateOptions {
            nodes: 3,
            pods: PodCount::PerNode(4),
            services: 5,
            ..GenerateOptions::default()
        };
        let text = generate(&opts).unwrap();
        assert!(text.starts_with("# A generated cluster: 3 nodes, 12 pods in 5 Deployments and\n"));
        assert!(text.contains(&format!("# Made by: {}\n", command_line(&opts))));
        let l = load(&text);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.scenario.nodes.len(), 3);
        assert_eq!(l.scenario.nodes[2].name, "node-3");
        assert_eq!(l.scenario.nodes[2].ip.to_string(), "192.168.0.3");
        // 5 Deployments and 5 Services.
        assert_eq!(l.scenario.objects.len(), 10);
        assert_eq!(l.scenario.traffic.len(), 1);
        assert_eq!(l.scenario.seed, 1);
        let sim = crate::sim::Simulation::new(l.scenario).expect("no API errors");
        let pods = sim.service_outcomes();
        assert!(pods.iter().any(|s| s.name == "web-1"));
    }

    #[test]
    fn same_options_same_bytes() {
        let opts = GenerateOptions::default();
        assert_eq!(generate(&opts).unwrap(), generate(&opts).unwrap());
    }

    #[test]
    fn replicas_spread_evenly() {
        let opts = GenerateOptions {
            nodes: 10,
            pods: PodCount::PerNode(3),
            services: 4,
            ..GenerateOptions::default()
        };
        let plan = Plan::new(&opts).unwrap();
        // 30 pods.
        assert_eq!(plan.replicas, vec![8, 8, 7, 7]);
        let opts = GenerateOptions {
            services: 7,
            ..opts
        };
        assert_eq!(
            Plan::new(&opts).unwrap().replicas,
            vec![5, 5, 4, 4, 4, 4, 4]
        );
    }

    #[test]
    fn addresses_hold_at_the_limit() {
        assert_eq!(cluster_cidr(1).to_string(), "10.244.0.0/16");
        assert_eq!(cluster_cidr(256).to_string(), "10.244.0.0/16");
        assert_eq!(cluster_cidr(257).to_string(), "10.244.0.0/15");
        assert_eq!(cluster_cidr(1000).to_string(), "10.244.0.0/14");
        assert_eq!(cluster_cidr(5000).to_string(), "10.224.0.0/11");
        assert_eq!(node_ip(0).to_string(), "192.168.0.1");
        assert_eq!(node_ip(249).to_string(), "192.168.0.250");
        assert_eq!(node_ip(250).to_string(), "192.168.1.1");
        assert_eq!(node_ip(4999).to_string(), "192.168.19.250");
        assert_eq!(thousands(150_000), "150,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn many_services_split_over_namespaces() {
        let opts = GenerateOptions {
            nodes: 2,
            pods: PodCount::PerNode(1),
            services: 5_001,
            ..GenerateOptions::default()
        };
        let text = generate(&opts).unwrap();
        assert!(text.contains("kind: Namespace\nmetadata:\n  name: apps-2\n"));
        assert!(text.contains("  name: web-5001\n  namespace: apps-2\n"));
        assert!(text.contains("  name: web-5000\n  namespace: apps-1\n"));
    }

    #[test]
    fn options_outside_the_limits_are_refused() {
        let base = GenerateOptions::default();
        let bad = |o: GenerateOptions| generate(&o).unwrap_err().to_string();
        assert_eq!(
            bad(GenerateOptions {
                nodes: 5_001,
                ..base.clone()
            }),
            "--nodes 5001: must be between 1 and 5000 (Kubernetes' documented limit)"
        );
        assert_eq!(
            bad(GenerateOptions {
                nodes: 5_000,
                pods: PodCount::PerNode(31),
                ..base.clone()
            }),
            "155000 pods: more than 150000, Kubernetes' documented limit"
        );
        assert_eq!(
            bad(GenerateOptions {
                nodes: 1,
                pods: PodCount::PerDeployment(12),
                ..base.clone()
            }),
            "--replicas 12: 120 pods do not fit on 1 node(s) of 110 pods each"
        );
        assert!(bad(GenerateOptions {
            rate: "fast".into(),
            ..base.clone()
        })
        .starts_with("--rate: invalid rate"));
        assert_eq!(
            bad(GenerateOptions {
                services: 0,
                ..base
            }),
            "--services 0: must be between 1 and 10000 (Kubernetes' documented limit)"
        );
    }
}
