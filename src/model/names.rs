//! Object names and UIDs shaped as upstream makes them.
//!
//! Pods of a Deployment are named `<deployment>-<pod-template-hash>-<5 chars>`
//! (`pkg/controller/deployment/sync.go`, `names.SimpleNameGenerator`, which cuts the base
//! `<deployment>-<pod-template-hash>-` to 58 characters).

use super::objects::{
    Container, ContainerPort, DnsPolicy, ImagePullPolicy, Labels, ObjectMeta, PodSpec, PodTemplate,
    PortRef, Probe, ProbeHandler, Protocol, Resources, RestartPolicy, Toleration,
};
use crate::engine::{SimDuration, SimRng};
use rand::Rng;
use std::fmt::Write as _;

/// `rand.String`'s alphabet: no vowels, no confusable characters
/// (`staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go`).
pub const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `rand.SafeEncodeString`: each byte mapped into [`ALPHANUMS`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`).
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The `pod-template-hash` of a template: `SafeEncodeString(fmt.Sprint(fnv32a(template)))`
/// as in `controller.ComputeHash`. Upstream hashes Go's `spew` dump of the template, which
/// cannot be reproduced outside Go; kubesim hashes its own canonical rendering
/// ([`HashRender`]), so the value has upstream's shape (1 to 10 characters from `4-9bcdf`)
/// but not its exact bytes.
pub fn pod_template_hash(template: &PodTemplate) -> String {
    let mut rendering = String::new();
    template.render(&mut rendering);
    safe_encode(&fnv32a(rendering.as_bytes()).to_string())
}

/// The text a pod template's hash is taken of, written field by field in a fixed order.
///
/// The rendering is defined here and nowhere else, so that a change elsewhere in the model
/// cannot rename pods: each implementation takes its struct apart without `..`, so a field
/// added to the model does not compile until it is given a place here. Names appear in the
/// docs, in the tests' snapshots and in users' notes, so a template that does not use a field
/// must keep its hash: a field added later is written only when set (as `pre_stop` is), and
/// the fields that were there first keep their order and their text.
///
/// That text is the shape Rust's `{:?}` gave these types when the hash was first taken
/// (`PodTemplate { meta: ObjectMeta { name: "", ... }, spec: PodSpec { ... } }`), written out
/// here so that it no longer depends on the derived `Debug`. Strings are the one part still
/// written with `{:?}` (quoted, with `str`'s escapes): reproducing its escaping of control and
/// non-printable characters by hand would risk renaming pods whose labels or annotations hold
/// such characters, for nothing.
pub trait HashRender {
    fn render(&self, out: &mut String);
}

/// Writes `Name { a: .., b: .. }`; fields that are unset are skipped by the caller.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn of(out: &'a mut String, name: &str) -> Self {
        out.push_str(name);
        out.push_str(" { ");
        Fields { out, first: true }
    }

    fn field(mut self, name: &str, value: &dyn HashRender) -> Self {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        self.out.push_str(name);
        self.out.push_str(": ");
        value.render(self.out);
        self
    }

    /// A field written only when set (`Some`), so templates from before it keep their hash.
    fn field_if_set<T: HashRender>(self, name: &str, value: &Option<T>) -> Self {
        match value {
            Some(_) => self.field(name, value),
            None => self,
        }
    }

    fn finish(self) {
        self.out.push_str(" }");
    }
}

/// `Name(value)`: a one-value variant or newtype.
fn tuple(out: &mut String, name: &str, value: &dyn HashRender) {
    out.push_str(name);
    out.push('(');
    value.render(out);
    out.push(')');
}

impl HashRender for String {
    fn render(&self, out: &mut String) {
        // Quoted and escaped as `str`'s `Debug` does (see the trait's doc).
        let _ = write!(out, "{self:?}");
    }
}

macro_rules! plain_numbers {
    ($($t:ty),*) => {$(
        impl HashRender for $t {
            fn render(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
plain_numbers!(u16, u32, u64, i64, bool);

impl<T: HashRender> HashRender for Option<T> {
    fn render(&self, out: &mut String) {
        match self {
            Some(v) => tuple(out, "Some", v),
            None => out.push_str("None"),
        }
    }
}

impl<T: HashRender> HashRender for Vec<T> {
    fn render(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            v.render(out);
        }
        out.push(']');
    }
}

impl HashRender for Labels {
    fn render(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            k.render(out);
            out.push_str(": ");
            v.render(out);
        }
        out.push('}');
    }
}

impl HashRender for SimDuration {
    fn render(&self, out: &mut String) {
        tuple(out, "SimDuration", &self.as_nanos());
    }
}

impl HashRender for PodTemplate {
    fn render(&self, out: &mut String) {
        let PodTemplate { meta, spec } = self;
        Fields::of(out, "PodTemplate")
            .field("meta", meta)
            .field("spec", spec)
            .finish();
    }
}

impl HashRender for ObjectMeta {
    fn render(&self, out: &mut String) {
        let ObjectMeta {
            name,
            namespace,
            labels,
            annotations,
        } = self;
        Fields::of(out, "ObjectMeta")
            .field("name", name)
            .field("namespace", namespace)
            .field("labels", labels)
            .field("annotations", annotations)
            .finish();
    }
}

impl HashRender for PodSpec {
    fn render(&self, out: &mut String) {
        let PodSpec {
            containers,
            restart_policy,
            node_selector,
            node_name,
            host_network,
            termination_grace_period,
            tolerations,
            dns_policy,
            dns_config,
            hostname,
            subdomain,
            node_affinity,
        } = self;
        let f = Fields::of(out, "PodSpec")
            .field("containers", containers)
            .field("restart_policy", restart_policy)
            .field("node_selector", node_selector)
            .field("node_name", node_name)
            .field("host_network", host_network)
            .field("termination_grace_period", termination_grace_period)
            .field("tolerations", tolerations);
        // Written only when not the defaults, so that every template without them (and so
        // its pods' names) keeps the hash it had before they were modelled.
        let policy = (*dns_policy != DnsPolicy::ClusterFirst).then(|| format!("{dns_policy:?}"));
        f.field_if_set("dns_policy", &policy)
            .field_if_set("dns_config", &dns_config.as_ref().map(|c| format!("{c:?}")))
            .field_if_set("hostname", &hostname.as_ref().map(|h| format!("{h:?}")))
            .field_if_set("subdomain", &subdomain.as_ref().map(|d| format!("{d:?}")))
            .field_if_set(
                "node_affinity",
                &node_affinity.as_ref().map(|a| format!("{a:?}")),
            )
            .finish();
    }
}

impl HashRender for Container {
    fn render(&self, out: &mut String) {
        let Container {
            name,
            image,
            image_pull_policy,
            ports,
            requests,
            limits,
            readiness_probe,
            liveness_probe,
            startup_probe,
            pre_stop,
        } = self;
        Fields::of(out, "Container")
            .field("name", name)
            .field("image", image)
            .field("image_pull_policy", image_pull_policy)
            .field("ports", ports)
            .field("requests", requests)
            .field("limits", limits)
            .field("readiness_probe", readiness_probe)
            .field("liveness_probe", liveness_probe)
            .field("startup_probe", startup_probe)
            // Added after the first names were published: left out while unset.
            .field_if_set("pre_stop", pre_stop)
            .finish();
    }
}

impl HashRender for ContainerPort {
    fn render(&self, out: &mut String) {
        let ContainerPort {
            name,
            container_port,
            host_port,
            protocol,
        } = self;
        Fields::of(out, "ContainerPort")
            .field("name", name)
            .field("container_port", container_port)
            .field("host_port", host_port)
            .field("protocol", protocol)
            .finish();
    }
}

impl HashRender for Resources {
    fn render(&self, out: &mut String) {
        let Resources {
            cpu_millis,
            memory_bytes,
        } = self;
        Fields::of(out, "Resources")
            .field("cpu_millis", cpu_millis)
            .field("memory_bytes", memory_bytes)
            .finish();
    }
}

impl HashRender for Probe {
    fn render(&self, out: &mut String) {
        let Probe {
            handler,
            initial_delay,
            period,
            timeout,
            success_threshold,
            failure_threshold,
        } = self;
        Fields::of(out, "Probe")
            .field("handler", handler)
            .field("initial_delay", initial_delay)
            .field("period", period)
            .field("timeout", timeout)
            .field("success_threshold", success_threshold)
            .field("failure_threshold", failure_threshold)
            .finish();
    }
}

impl HashRender for ProbeHandler {
    fn render(&self, out: &mut String) {
        match self {
            ProbeHandler::HttpGet { path, port } => Fields::of(out, "HttpGet")
                .field("path", path)
                .field("port", port)
                .finish(),
            ProbeHandler::TcpSocket { port } => {
                Fields::of(out, "TcpSocket").field("port", port).finish()
            }
            ProbeHandler::Exec { command } => {
                Fields::of(out, "Exec").field("command", command).finish()
            }
            ProbeHandler::Grpc { port } => Fields::of(out, "Grpc").field("port", port).finish(),
        }
    }
}

impl HashRender for PortRef {
    fn render(&self, out: &mut String) {
        match self {
            PortRef::Number(n) => tuple(out, "Number", n),
            PortRef::Name(name) => tuple(out, "Name", name),
        }
    }
}

impl HashRender for Toleration {
    fn render(&self, out: &mut String) {
        let Toleration {
            key,
            operator_exists,
            value,
            effect,
            toleration_seconds,
        } = self;
        Fields::of(out, "Toleration")
            .field("key", key)
            .field("operator_exists", operator_exists)
            .field("value", value)
            .field("effect", effect)
            .field("toleration_seconds", toleration_seconds)
            .finish();
    }
}

/// Unit variants by their Rust names (`IfNotPresent`, `Always`, `Tcp`).
impl HashRender for ImagePullPolicy {
    fn render(&self, out: &mut String) {
        out.push_str(match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        });
    }
}

impl HashRender for RestartPolicy {
    fn render(&self, out: &mut String) {
        out.push_str(match self {
            RestartPolicy::Always => "Always",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Never => "Never",
        });
    }
}

impl HashRender for Protocol {
    fn render(&self, out: &mut String) {
        out.push_str(match self {
            Protocol::Tcp => "Tcp",
            Protocol::Udp => "Udp",
            Protocol::Sctp => "Sctp",
        });
    }
}

/// `maxGeneratedNameLength`: a `generateName` base is cut to 58 characters so that base and
/// suffix make at most 63 (`staging/src/k8s.io/apiserver/pkg/storage/names/generate.go`).
pub const MAX_GENERATED_NAME_LENGTH: usize = 63 - 5;

/// The API server's `generateName`: `base` cut to [`MAX_GENERATED_NAME_LENGTH`] characters, then
/// a 5-character random suffix (`names.SimpleNameGenerator.GenerateName`). A ReplicaSet names
/// its pods with base `<replicaset>-` (`getPodsPrefix` in `pkg/controller/controller_utils.go`),
/// the EndpointSlice controller its slices with `<service>-`. Names are ASCII (validated as
/// DNS names), so the cut falls between characters.
pub fn generate_name(base: &str, rng: &mut SimRng) -> String {
    let cut = base.len().min(MAX_GENERATED_NAME_LENGTH);
    let mut name = String::with_capacity(cut + 5);
    name.push_str(base.get(..cut).unwrap_or(base));
    name.push_str(&random_suffix(rng));
    name
}

/// A 5-character random suffix (`utilrand.String(5)`).
pub fn random_suffix(rng: &mut SimRng) -> String {
    (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// A version-4 UUID as the API server assigns `metadata.uid`.
pub fn uid(rng: &mut SimRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    #[test]
    fn template_hash_uses_the_digit_alphabet() {
        // Decimal digits map to "456789bcdf": '0' (48) % 27 = 21 -> '4', '9' (57) % 27 = 3 -> 'f'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn fnv32a_matches_go() {
        // hash/fnv New32a of "" and "a" (Go's test vectors).
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
    }

    /// `scenarios/seed-tutorial.yaml`'s pod template, as the scenario layer builds it.
    fn seed_template() -> PodTemplate {
        PodTemplate {
            meta: ObjectMeta {
                name: String::new(),
                namespace: "default".into(),
                labels: [("app".to_string(), "http-label".to_string())].into(),
                annotations: Labels::new(),
            },
            spec: PodSpec {
                containers: vec![Container {
                    name: "aspnetcoreweb".into(),
                    image: "aspnetcoreweb".into(),
                    image_pull_policy: ImagePullPolicy::IfNotPresent,
                    ports: vec![ContainerPort {
                        name: None,
                        container_port: 80,
                        host_port: None,
                        protocol: Protocol::Tcp,
                    }],
                    requests: Resources::default(),
                    limits: Resources::default(),
                    readiness_probe: None,
                    liveness_probe: None,
                    startup_probe: None,
                    pre_stop: None,
                }],
                restart_policy: RestartPolicy::Always,
                node_selector: Labels::new(),
                node_name: None,
                host_network: false,
                termination_grace_period: SimDuration::from_secs(30),
                tolerations: Vec::new(),
                dns_policy: DnsPolicy::ClusterFirst,
                dns_config: None,
                hostname: None,
                subdomain: None,
                node_affinity: None,
            },
        }
    }

    /// Every field of the model set, nested parts and odd characters included.
    fn full_template() -> PodTemplate {
        let probe = |handler| Probe {
            handler,
            initial_delay: SimDuration::from_millis(1500),
            period: SimDuration::from_secs(10),
            timeout: SimDuration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        };
        let mut t = seed_template();
        t.meta.annotations = [(
            "kubectl.kubernetes.io/restartedAt".to_string(),
            "2024-01-01T00:00:00Z \"q\" \\ \u{e9}\t".to_string(),
        )]
        .into();
        let c = &mut t.spec.containers[0];
        c.image_pull_policy = ImagePullPolicy::Never;
        c.ports.push(ContainerPort {
            name: Some("metrics".into()),
            container_port: 9090,
            host_port: Some(9090),
            protocol: Protocol::Udp,
        });
        c.requests = Resources {
            cpu_millis: 250,
            memory_bytes: 64 << 20,
        };
        c.limits = Resources {
            cpu_millis: 500,
            memory_bytes: 128 << 20,
        };
        c.readiness_probe = Some(probe(ProbeHandler::HttpGet {
            path: "/healthz".into(),
            port: PortRef::Name("http".into()),
        }));
        c.liveness_probe = Some(probe(ProbeHandler::TcpSocket {
            port: PortRef::Number(80),
        }));
        c.startup_probe = Some(probe(ProbeHandler::Exec {
            command: vec!["cat".into(), "/tmp/ready".into()],
        }));
        let mut grpc = t.spec.containers[0].clone();
        grpc.name = "sidecar".into();
        grpc.startup_probe = Some(probe(ProbeHandler::Grpc { port: 50051 }));
        t.spec.containers.push(grpc);
        t.spec.restart_policy = RestartPolicy::OnFailure;
        t.spec.node_selector =
            [("kubernetes.io/hostname".to_string(), "node-1".to_string())].into();
        t.spec.node_name = Some("node-1".into());
        t.spec.host_network = true;
        t.spec.termination_grace_period = SimDuration::from_secs(45);
        t.spec.tolerations = vec![Toleration {
            key: Some("node.kubernetes.io/unreachable".into()),
            operator_exists: true,
            value: None,
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(-1),
        }];
        t
    }

    /// The seed's pods are `http-deployment-7fbd98865c-…` in the README, the docs and the
    /// snapshots: a template without a preStop hook hashes as it did before the hook existed.
    #[test]
    fn a_template_without_pre_stop_keeps_its_published_hash() {
        assert_eq!(pod_template_hash(&seed_template()), "7fbd98865c");
        // Every field set (but preStop): pinned from the rendering this one replaced.
        assert_eq!(pod_template_hash(&full_template()), "768ccfbb95");
    }

    #[test]
    fn a_pre_stop_hook_changes_the_hash() {
        let plain = pod_template_hash(&seed_template());
        let mut hooked = seed_template();
        hooked.spec.containers[0].pre_stop = Some(SimDuration::from_secs(5));
        let five = pod_template_hash(&hooked);
        assert_ne!(five, plain);
        hooked.spec.containers[0].pre_stop = Some(SimDuration::from_secs(10));
        assert_ne!(pod_template_hash(&hooked), five);
        // Written where the field stands, as `Some(SimDuration(ns))`.
        let mut text = String::new();
        hooked.render(&mut text);
        assert!(
            text.contains(", startup_probe: None, pre_stop: Some(SimDuration(10000000000)) }"),
            "{text}"
        );
    }

    /// The rendering is written, not edited: text that looks like a field inside a label or
    /// annotation is part of the value (string surgery on a `Debug` rendering cut it out and
    /// gave two different templates one ReplicaSet).
    #[test]
    fn a_value_that_looks_like_a_field_is_hashed_as_written() {
        let with = |value: &str| {
            let mut t = seed_template();
            t.meta.annotations = [("note".to_string(), value.to_string())].into();
            pod_template_hash(&t)
        };
        assert_ne!(with("a, pre_stop: None"), with("a"));
    }

    /// Issue 14, item 12: a long base is cut to 58 characters before the suffix, so a pod of a
    /// Deployment with a long name has a name of 63 characters, not 79.
    #[test]
    fn generated_names_cut_the_base_to_58_characters() {
        let mut rng = RngStreams::new(1).stream("names");
        let long = format!("{}-{}-", "a".repeat(60), "5d9c7b9c4d");
        let name = generate_name(&long, &mut rng);
        assert_eq!(name.len(), 63, "{name}");
        assert!(name.starts_with(&"a".repeat(58)), "{name}");
        let short = generate_name("web-5d9c7b9c4d-", &mut rng);
        assert_eq!(short.len(), "web-5d9c7b9c4d-".len() + 5, "{short}");
        assert!(short.starts_with("web-5d9c7b9c4d-"), "{short}");
    }

    #[test]
    fn suffixes_and_uids_have_upstream_shape() {
        let mut rng = RngStreams::new(1).stream("names");
        let s = random_suffix(&mut rng);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| ALPHANUMS.contains(&b)));
        let u = uid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
