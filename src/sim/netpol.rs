//! NetworkPolicy in the run: the policies in force at each moment, and the check the CNI makes
//! on a connection's first packet after kube-proxy's DNAT (egress at the source pod, ingress
//! at the destination pod; `net::policy` decides).
//!
//! A policy applied or deleted mid-run takes effect [`PROPAGATION`] later on every node. Replies
//! and later packets of an allowed connection are not checked again (the CNIs enforce with
//! conntrack: stateful).

use super::Simulation;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{NodeId, PodId};
use crate::model::netpol::NetworkPolicy;
use crate::model::objects::{Labels, Protocol};
use crate::net::policy::{self, Conn, Decision, Endpoint, PodView, Ports};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// From a policy's write to the API server to its enforcement on every node. Kubernetes
/// states none (the CNI watches the API server); kubesim assumes 1 s, the order of what
/// Calico's Felix and Cilium's agent take to compute and program a policy update on a small
/// cluster (docs/fidelity.md, "NetworkPolicy").
pub const PROPAGATION: SimDuration = SimDuration::from_secs(1);

/// The policies in force: one set per moment a change took effect, in time order.
#[derive(Debug, Default)]
pub(super) struct Policies {
    epochs: Vec<(SimTime, Vec<NetworkPolicy>)>,
    /// Namespaces' labels as written (the name label is added when read).
    namespace_labels: BTreeMap<String, Labels>,
}

impl Policies {
    /// The policies in force at `now`, sorted by namespace and name.
    pub fn at(&self, now: SimTime) -> &[NetworkPolicy] {
        let i = self.epochs.partition_point(|(t, _)| *t <= now);
        if i == 0 {
            &[]
        } else {
            &self.epochs[i - 1].1
        }
    }

    /// The instants the policies in force changed, in time order (the scenario's own
    /// policies at zero).
    pub fn changes(&self) -> impl Iterator<Item = SimTime> + '_ {
        self.epochs.iter().map(|(t, _)| *t)
    }

    /// Whether any policy was ever written (the checks are skipped otherwise).
    pub fn any(&self) -> bool {
        !self.epochs.is_empty()
    }

    /// Creates or replaces `p`, in force from `from`.
    pub fn apply(&mut self, from: SimTime, p: NetworkPolicy) {
        let set = self.change_at(from);
        let key = (&p.meta.namespace, &p.meta.name);
        match set.binary_search_by(|q| (&q.meta.namespace, &q.meta.name).cmp(&key)) {
            Ok(i) => set[i] = p,
            Err(i) => set.insert(i, p),
        }
    }

    /// Deletes the policy; whether it existed (as of the latest change).
    pub fn delete(&mut self, from: SimTime, namespace: &str, name: &str) -> bool {
        let exists = self.epochs.last().is_some_and(|(_, set)| {
            set.iter()
                .any(|q| q.meta.namespace == namespace && q.meta.name == name)
        });
        if exists {
            self.change_at(from)
                .retain(|q| !(q.meta.namespace == namespace && q.meta.name == name));
        }
        exists
    }

    /// The set in force from `from` on, to change (changes come in time order).
    fn change_at(&mut self, from: SimTime) -> &mut Vec<NetworkPolicy> {
        let last = self.epochs.last().map(|(t, set)| (*t, set.clone()));
        match last {
            Some((t, _)) if t >= from => {}
            Some((_, set)) => self.epochs.push((from, set)),
            None => self.epochs.push((from, Vec::new())),
        }
        &mut self.epochs.last_mut().expect("pushed").1
    }

    pub fn set_namespace_labels(&mut self, name: &str, labels: Labels) {
        self.namespace_labels.insert(name.to_string(), labels);
    }

    /// A namespace's labels with the name label the API server adds.
    pub fn namespace_labels(&self, name: &str) -> Labels {
        let written = self.namespace_labels.get(name).cloned().unwrap_or_default();
        policy::namespace_labels(name, &written)
    }
}

impl Simulation {
    /// The pod behind an address as the CNI sees it: `None` for a `hostNetwork` pod (its
    /// packets carry the node's address and no policy selects it).
    fn policy_view<'a>(&'a self, pod: PodId, ns_labels: &'a Labels) -> Option<PodView<'a>> {
        let p = self.cluster.pod(pod);
        (!p.spec.host_network).then(|| PodView {
            namespace: &p.meta.namespace,
            labels: &p.meta.labels,
            namespace_labels: ns_labels,
            ports: Ports::Containers(&p.spec.containers),
        })
    }

    /// The verdicts on a connection from `src` (the address the destination sees; the pod
    /// `client` when it is one) to pod `dst` on `port`, with the policies in force now.
    pub(super) fn policy_decision(
        &self,
        src: Ipv4Addr,
        client: Option<PodId>,
        dst: PodId,
        port: u16,
        protocol: Protocol,
    ) -> Decision {
        let now = self.queue.now();
        self.policy_decision_at(now, src, client, dst, port, protocol)
    }

    /// [`policy_decision`](Self::policy_decision) at `at`.
    pub(super) fn policy_decision_at(
        &self,
        at: SimTime,
        src: Ipv4Addr,
        client: Option<PodId>,
        dst: PodId,
        port: u16,
        protocol: Protocol,
    ) -> Decision {
        let src_ns = client.map(|c| {
            self.netpol
                .namespace_labels(&self.cluster.pod(c).meta.namespace)
        });
        let dst_ns = self
            .netpol
            .namespace_labels(&self.cluster.pod(dst).meta.namespace);
        let d = self.cluster.pod(dst);
        let c = Conn {
            src: Endpoint {
                ip: src,
                pod: client
                    .zip(src_ns.as_ref())
                    .and_then(|(c, l)| self.policy_view(c, l)),
            },
            dst: Endpoint {
                ip: d.ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                pod: self.policy_view(dst, &dst_ns),
            },
            port,
            protocol,
        };
        policy::evaluate(self.netpol.at(at), &c)
    }

    /// The source address pod `dst` sees for a connection from `src` that entered at node
    /// `entry`: kube-proxy's masquerade (`KUBE-POSTROUTING`'s `MASQUERADE`) takes the address
    /// of the interface the packet leaves by: flannel's `flannel.1` (the entry node's pod
    /// CIDR's .0, routed `onlink` to the other node's VTEP) toward another node, the bridge
    /// `cni0` (the pod CIDR's .1) toward a pod of the same node. The addresses `trace` prints;
    /// `.ci/kernel-rules` sees the `cni0` one in a real kernel (docs/fidelity.md).
    pub(super) fn seen_source(
        &self,
        src: Ipv4Addr,
        masquerade: bool,
        entry: NodeId,
        dst: PodId,
    ) -> Ipv4Addr {
        if !masquerade {
            return src;
        }
        let range = self.pod_cidrs[entry.index()];
        if self.cluster.pod(dst).node == Some(entry) {
            Ipv4Addr::from(u32::from(range.network()) + 1)
        } else {
            crate::net::ipam::flannel_vtep_address(range)
        }
    }

    /// Whether the policies drop a connection: `false` at once when none was ever written.
    #[inline]
    pub(super) fn policy_drops(
        &self,
        src: Ipv4Addr,
        client: Option<PodId>,
        dst: PodId,
        port: u16,
        protocol: Protocol,
    ) -> bool {
        self.netpol.any()
            && !self
                .policy_decision(src, client, dst, port, protocol)
                .allows()
    }
}

/// One cell of `kubesim reach`: may `from` open a connection to `to` on `port`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachRow {
    /// `namespace/pod`, or for a group `namespace/k=v,k=v` (its labels).
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    /// Allowed at the destination pod.
    pub ingress: bool,
    /// Allowed at the source pod.
    pub egress: bool,
}

impl ReachRow {
    pub fn allows(&self) -> bool {
        self.ingress && self.egress
    }
}

/// Labels the controllers add to their pods (the Deployment's ReplicaSet hash, the
/// StatefulSet's and DaemonSet's revision and the StatefulSet's per-pod names): left out of a
/// `reach` group's name, so a Deployment's pods stay one group across a rollout.
const CONTROLLER_LABELS: [&str; 5] = [
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
];

impl Simulation {
    /// Who may connect to whom under the policies in force at `at` (the pods as they are now): every pod with an address
    /// (not `hostNetwork`) against every other, for each port the destination declares
    /// (`containerPort`) or a Service selecting it targets. With `by_pod` false, pods with the
    /// same labels (but those their controllers add, `CONTROLLER_LABELS`) in the same namespace are
    /// one group, judged by its first pod (an `ipBlock`
    /// that covers some of a group's addresses only shows under `by_pod`). Rows are sorted by
    /// source, destination, port and protocol; with `by_pod` a pod to itself is left out.
    pub fn reach(&self, at: SimTime, by_pod: bool) -> Vec<ReachRow> {
        let ends = self.reach_ends(by_pod);
        self.reach_rows(at, by_pod, &ends)
    }

    /// [`reach`](Self::reach)'s pods or groups, each named and with the pod that stands for it,
    /// sorted by name.
    pub(super) fn reach_ends(&self, by_pod: bool) -> Vec<(String, PodId)> {
        let mut ends: Vec<(String, PodId)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (id, p) in self.cluster.live_pods() {
            if p.spec.host_network || p.ip.is_none() || p.deleted.is_some() {
                continue;
            }
            let name = if by_pod {
                format!("{}/{}", p.meta.namespace, p.meta.name)
            } else {
                let labels: Vec<String> = p
                    .meta
                    .labels
                    .iter()
                    .filter(|(k, _)| !CONTROLLER_LABELS.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("{}/{}", p.meta.namespace, labels.join(","))
            };
            if seen.insert(name.clone()) {
                ends.push((name, id));
            }
        }
        ends.sort();
        ends
    }

    /// [`reach`](Self::reach)'s rows between `ends` (from [`reach_ends`](Self::reach_ends)).
    pub(super) fn reach_rows(
        &self,
        at: SimTime,
        by_pod: bool,
        ends: &[(String, PodId)],
    ) -> Vec<ReachRow> {
        let mut rows = Vec::new();
        for (to, dst) in ends {
            let ports = self.reach_ports(*dst);
            for (from, src) in ends {
                // A pod to itself (loopback, which the e2e suite ignores); a group to itself is
                // its pods to one another.
                if by_pod && src == dst {
                    continue;
                }
                let ip = self
                    .cluster
                    .pod(*src)
                    .ip
                    .expect("pods with an address only");
                for &(port, protocol) in &ports {
                    let d = self.policy_decision_at(at, ip, Some(*src), *dst, port, protocol);
                    rows.push(ReachRow {
                        from: from.clone(),
                        to: to.clone(),
                        port,
                        protocol,
                        ingress: d.ingress.allows(),
                        egress: d.egress.allows(),
                    });
                }
            }
        }
        rows.sort_by(|a, b| {
            (&a.from, &a.to, a.port, a.protocol).cmp(&(&b.from, &b.to, b.port, b.protocol))
        });
        rows
    }

    /// The ports of pod `dst` that `reach` asks about: declared, or targeted by a Service
    /// that selects it.
    fn reach_ports(&self, dst: PodId) -> Vec<(u16, Protocol)> {
        let p = self.cluster.pod(dst);
        let mut ports: std::collections::BTreeSet<(u16, Protocol)> = p
            .spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().map(|cp| (cp.container_port, cp.protocol)))
            .collect();
        for s in &self.api.services {
            if s.obj.meta.namespace != p.meta.namespace
                || !crate::model::objects::service_selects(&s.obj.spec.selector, &p.meta.labels)
            {
                continue;
            }
            for sp in &s.obj.spec.ports {
                if let Some(n) = p.spec.endpoint_port(&sp.target_port, sp.protocol) {
                    ports.insert((n, sp.protocol));
                }
            }
        }
        ports.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::netpol::PolicyTypes;
    use crate::model::objects::{LabelSelector, ObjectMeta};

    fn p(name: &str) -> NetworkPolicy {
        NetworkPolicy {
            meta: ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                ..ObjectMeta::default()
            },
            pod_selector: LabelSelector::default(),
            ingress: vec![],
            egress: vec![],
            types: PolicyTypes::defaulted(None, false),
        }
    }

    #[test]
    fn changes_take_effect_from_their_time_and_earlier_moments_keep_theirs() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut ps = Policies::default();
        assert!(!ps.any());
        ps.apply(t(0), p("b"));
        ps.apply(t(0), p("a"));
        ps.apply(t(5), p("c"));
        assert!(ps.delete(t(9), "default", "a"));
        assert!(!ps.delete(t(9), "default", "zzz"));
        let names = |at| -> Vec<String> { ps.at(at).iter().map(|q| q.meta.name.clone()).collect() };
        assert_eq!(names(t(0)), ["a", "b"]);
        assert_eq!(names(t(4)), ["a", "b"]);
        assert_eq!(names(t(5)), ["a", "b", "c"]);
        assert_eq!(names(t(9)), ["b", "c"]);
        assert_eq!(ps.namespace_labels("x")[policy::NAMESPACE_NAME_LABEL], "x");
    }
}
