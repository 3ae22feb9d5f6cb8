//! The kinds the API server serves, to tell a kind that exists upstream but is not simulated
//! (a note) from a kind no API server has (an error in kubectl's words, `no matches for kind
//! "Deploymnet" in version "apps/v1"`).
//!
//! The table is taken from `k8s-openapi`'s types for the Kubernetes version kubesim follows
//! (every type with a `Resource` implementation, the API machinery's own `Status`,
//! `APIGroup`... left out), so a kind and its apiVersion are spelt as the API server spells
//! them. It does not know custom resources: a kind in an API group that is not built in and
//! could be a CustomResourceDefinition's (a group with a dot outside `k8s.io`) is only noted.

use k8s_openapi::Resource;

macro_rules! kinds {
    ($($t:path),* $(,)?) => {
        &[$((<$t as Resource>::API_VERSION, <$t as Resource>::KIND)),*]
    };
}

/// `(apiVersion, kind)` of every built-in kind of Kubernetes 1.34 (including alpha and beta
/// versions, which a cluster may enable), as `k8s-openapi` generates them from upstream's
/// OpenAPI document (`api/openapi-spec/swagger.json`).
const UPSTREAM: &[(&str, &str)] = kinds![
    k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::authentication::v1::SelfSubjectReview,
    k8s_openapi::api::authentication::v1::TokenRequest,
    k8s_openapi::api::authentication::v1::TokenReview,
    k8s_openapi::api::authorization::v1::LocalSubjectAccessReview,
    k8s_openapi::api::authorization::v1::SelfSubjectAccessReview,
    k8s_openapi::api::authorization::v1::SelfSubjectRulesReview,
    k8s_openapi::api::authorization::v1::SubjectAccessReview,
    k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_openapi::api::autoscaling::v1::Scale,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::certificates::v1::CertificateSigningRequest,
    k8s_openapi::api::certificates::v1alpha1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1alpha1::PodCertificateRequest,
    k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::coordination::v1alpha2::LeaseCandidate,
    k8s_openapi::api::coordination::v1beta1::LeaseCandidate,
    k8s_openapi::api::core::v1::Binding,
    k8s_openapi::api::core::v1::ComponentStatus,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::LimitRange,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::PodTemplate,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::ResourceQuota,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::events::v1::Event,
    k8s_openapi::api::flowcontrol::v1::FlowSchema,
    k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_openapi::api::networking::v1::IPAddress,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::IngressClass,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::networking::v1::ServiceCIDR,
    k8s_openapi::api::networking::v1beta1::IPAddress,
    k8s_openapi::api::networking::v1beta1::ServiceCIDR,
    k8s_openapi::api::node::v1::RuntimeClass,
    k8s_openapi::api::policy::v1::Eviction,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::resource::v1::DeviceClass,
    k8s_openapi::api::resource::v1::ResourceClaim,
    k8s_openapi::api::resource::v1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1::ResourceSlice,
    k8s_openapi::api::resource::v1alpha3::DeviceTaintRule,
    k8s_openapi::api::resource::v1beta1::DeviceClass,
    k8s_openapi::api::resource::v1beta1::ResourceClaim,
    k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta1::ResourceSlice,
    k8s_openapi::api::resource::v1beta2::DeviceClass,
    k8s_openapi::api::resource::v1beta2::ResourceClaim,
    k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta2::ResourceSlice,
    k8s_openapi::api::scheduling::v1::PriorityClass,
    k8s_openapi::api::storage::v1::CSIDriver,
    k8s_openapi::api::storage::v1::CSINode,
    k8s_openapi::api::storage::v1::CSIStorageCapacity,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::storage::v1::VolumeAttachment,
    k8s_openapi::api::storage::v1::VolumeAttributesClass,
    k8s_openapi::api::storage::v1alpha1::VolumeAttributesClass,
    k8s_openapi::api::storage::v1beta1::VolumeAttributesClass,
    k8s_openapi::api::storagemigration::v1alpha1::StorageVersionMigration,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
];

/// What an object's `apiVersion` and `kind` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KindMatch {
    /// A built-in kind in a version the API server serves.
    Upstream,
    /// A kind of an API group that is not built in: a custom resource, perhaps.
    Custom,
    /// No API server serves it (`no matches for kind ...`), with a hint naming the
    /// apiVersion that serves the kind, or a kind of that version spelt alike.
    NoMatch { hint: Option<String> },
}

/// The API group of an apiVersion (`apps/v1` → `apps`, `v1` → ``).
fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Classifies a kind and apiVersion as kubectl's REST mapper would against a 1.34 API server.
pub(crate) fn classify(api_version: &str, kind: &str) -> KindMatch {
    if UPSTREAM.contains(&(api_version, kind)) {
        return KindMatch::Upstream;
    }
    let g = group(api_version);
    let builtin_group = g.is_empty()
        || !g.contains('.')
        || g.ends_with(".k8s.io")
        || UPSTREAM.iter().any(|(v, _)| group(v) == g);
    if !builtin_group {
        return KindMatch::Custom;
    }
    // The kind in another version (`apps/v1beta1` → `apps/v1`), the latest GA one first.
    let mut versions: Vec<&str> = UPSTREAM
        .iter()
        .filter(|(_, k)| *k == kind)
        .map(|(v, _)| *v)
        .collect();
    versions.sort_by_key(|v| {
        (
            v.contains("alpha"),
            v.contains("beta"),
            std::cmp::Reverse(*v),
        )
    });
    if let Some(v) = versions.first() {
        return KindMatch::NoMatch {
            hint: Some(format!("use apiVersion: {v}")),
        };
    }
    // A kind spelt alike in the same version (`Deploymnet` → `Deployment`).
    let near = UPSTREAM
        .iter()
        .filter(|(v, _)| *v == api_version)
        .map(|(_, k)| {
            (
                edit_distance(&kind.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min();
    KindMatch::NoMatch {
        hint: near.map(|(_, k)| format!("did you mean {k}?")),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_classified_as_the_rest_mapper_does() {
        assert_eq!(classify("apps/v1", "Deployment"), KindMatch::Upstream);
        assert_eq!(
            classify("networking.k8s.io/v1", "Ingress"),
            KindMatch::Upstream
        );
        assert_eq!(classify("v1", "ConfigMap"), KindMatch::Upstream);
        assert_eq!(
            classify("apps/v1", "Deploymnet"),
            KindMatch::NoMatch {
                hint: Some("did you mean Deployment?".into())
            }
        );
        assert_eq!(
            classify("extensions/v1beta1", "Ingress"),
            KindMatch::NoMatch {
                hint: Some("use apiVersion: networking.k8s.io/v1".into())
            }
        );
        assert_eq!(
            classify("apps/v2", "Deployment"),
            KindMatch::NoMatch {
                hint: Some("use apiVersion: apps/v1".into())
            }
        );
        assert_eq!(
            classify("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
            KindMatch::NoMatch {
                hint: Some("use apiVersion: autoscaling/v2".into())
            }
        );
        assert_eq!(classify("v1", "Gizmo"), KindMatch::NoMatch { hint: None });
        assert_eq!(
            classify("app/v1", "Widget"),
            KindMatch::NoMatch { hint: None }
        );
        assert_eq!(
            classify("monitoring.coreos.com/v1", "ServiceMonitor"),
            KindMatch::Custom
        );
        assert_eq!(
            classify("example.k8s.io/v1", "Thing"),
            KindMatch::NoMatch { hint: None }
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("deploymnet", "deployment"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("service", "service"), 0);
    }
}
