//! The cluster's machines as the scenario describes them: nodes and the image registry.

use super::objects::{Labels, Resources};
use crate::engine::SimDuration;
use std::net::Ipv4Addr;

/// One node of the scenario's `spec.cluster.nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub name: String,
    /// The NodeIP network address (the node's NIC).
    pub ip: Ipv4Addr,
    /// Default cpu "4", memory 8Gi.
    pub allocatable: Resources,
    /// Default 110 (kubelet `maxPods`, `pkg/kubelet/apis/config/v1beta1/defaults.go`).
    pub max_pods: u32,
    /// As written, plus `kubernetes.io/hostname: <name>` as the kubelet sets it.
    pub labels: Labels,
    pub taints: Vec<Taint>,
    /// Images already present on the node (e.g. built locally with `docker build`).
    pub images: Vec<String>,
    /// `spec.podCIDR` as written (an imported node's real range); `None`: the next free range
    /// of the cluster CIDR, as the controller manager's range allocator gives it.
    pub pod_cidr: Option<ipnet::Ipv4Net>,
    /// `spec.unschedulable` (`kubectl cordon`) from the start.
    pub unschedulable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// `spec.registry`: which images a pull can fetch and how long a pull takes.
/// Absent from the scenario: every image pulls, instantly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    pub images: Vec<String>,
    pub pull_time: SimDuration,
}

impl RegistryConfig {
    /// Whether the registry serves `image`. An entry without a tag serves every tag of its
    /// repository (`httpd` serves `httpd:2.4` and `httpd:latest`); one with a tag or digest
    /// serves only that. Short names expand as Docker Hub's do (`httpd` is
    /// `docker.io/library/httpd`).
    pub fn serves(&self, image: &str) -> bool {
        let want = normalize_image(image);
        self.images.iter().any(|entry| {
            let full = normalize_image(entry);
            if has_tag_or_digest(entry) {
                full == want
            } else {
                let repo = full.strip_suffix(":latest").unwrap_or(&full);
                want.strip_prefix(repo)
                    .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'))
            }
        })
    }
}

fn has_tag_or_digest(image: &str) -> bool {
    image.contains('@') || image.rsplit('/').next().unwrap_or(image).contains(':')
}

/// `httpd` → `docker.io/library/httpd:latest`, so that equal references compare equal.
pub fn normalize_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo, tag) = match last.rsplit_once(':') {
        Some((_, t)) => (&name[..name.len() - t.len() - 1], Some(t)),
        None => (name, None),
    };
    let first = repo.split('/').next().unwrap_or(repo);
    let has_registry =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_registry {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    match (digest, tag) {
        (Some(d), _) => format!("{repo}@{d}"),
        (None, t) => format!("{repo}:{}", t.unwrap_or("latest")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_normalize_like_docker_hub_short_names() {
        assert_eq!(normalize_image("httpd"), "docker.io/library/httpd:latest");
        assert_eq!(normalize_image("httpd:2.4"), "docker.io/library/httpd:2.4");
        assert_eq!(
            normalize_image("bitnami/nginx"),
            "docker.io/bitnami/nginx:latest"
        );
        assert_eq!(
            normalize_image("localhost:5000/web"),
            "localhost:5000/web:latest"
        );
        let r = RegistryConfig {
            images: vec!["httpd".into()],
            pull_time: SimDuration::ZERO,
        };
        assert!(r.serves("docker.io/library/httpd:latest"));
        assert!(r.serves("httpd:2.4"));
        assert!(!r.serves("httpd-extra"));
        let pinned = RegistryConfig {
            images: vec!["nginx:1.27".into()],
            pull_time: SimDuration::ZERO,
        };
        assert!(pinned.serves("docker.io/library/nginx:1.27"));
        assert!(!pinned.serves("nginx"));
    }
}
