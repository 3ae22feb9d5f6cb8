//! The StatefulSet controller, as `pkg/controller/statefulset/stateful_set_control.go`
//! (`updateStatefulSet`) runs it.
//!
//! - Identity: pod `i` of StatefulSet `web` is `web-<i>` (`getPodName`,
//!   `stateful_set_utils.go`), with `spec.hostname` its name and `spec.subdomain` the
//!   `serviceName` (`updateIdentity`), so the headless Service of that name gives it
//!   `web-0.nginx.default.svc.cluster.local`. It carries the labels
//!   `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//!   `controller-revision-hash` (`<set>-<hash of the template>`; upstream hashes the
//!   ControllerRevision, so the suffix differs from a real cluster's).
//! - A pod that is gone (deleted, evicted, crashed out of the API server) is created again
//!   with the same name once the old object has left: a terminating pod holds its name, so a
//!   pod on an unreachable node stays `Terminating` and is not replaced until the node comes
//!   back (upstream's at-most-one guarantee). The new pod gets a new IP.
//! - `OrderedReady` (`monotonic`): pods are created in ordinal order, each only once every
//!   lower one is Running and Ready (and available for `minReadySeconds`); extra pods are
//!   deleted from the highest ordinal, one at a time, each waiting for the one before to be
//!   gone. `Parallel`: all at once.
//! - `RollingUpdate`: once every pod is healthy, the pod with the highest ordinal at or above
//!   `partition` whose revision is not the update revision is deleted; it comes back with the
//!   new template; the next waits for it to be Running and Ready (one at a time, also with
//!   `Parallel`). From `kubernetesVersion: "1.35"`, where the `MaxUnavailableStatefulSet`
//!   gate is on, up to `maxUnavailable` at a time (`updateStatefulSetAfterInvariantEstablished`);
//!   below it the API server drops the field. Pods below the partition are recreated at the
//!   current revision. `OnDelete`: a pod takes the new template only when something else
//!   deletes it.
//! - Under `RollingUpdate`, the current revision becomes the update revision once every pod
//!   that exists runs it, is not terminating and is Running and Ready
//!   (`completeRollingUpdate`).
//! - `volumeClaimTemplates` are accepted; storage is not simulated (no PVCs are created).
//!
//! The controller runs when the set is created or changed and whenever one of its pods turns
//! ready, becomes available, is deleted or goes away, as upstream's informers wake it.

use super::Simulation;
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{Controller, PodId, PodPhase};
use crate::model::names;
use crate::model::objects::{
    IntOrPercent, LabelSelector, ObjectMeta, PodManagement, StatefulSetObject, StatefulSetUpdate,
};

/// Label with the pod's name (`apps.StatefulSetPodNameLabel`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label with the pod's ordinal (`apps.PodIndexLabel`, since 1.28).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Label with the revision a pod was made from (`apps.ControllerRevisionHashLabelKey`).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// One StatefulSet and the controller's memory of it.
#[derive(Debug, Clone)]
pub(super) struct StatefulSetState {
    pub spec: StatefulSetObject,
    /// `status.currentRevision`: the template pods below the partition are made from.
    pub current: crate::model::objects::PodTemplate,
    /// Removed by a `delete` event: the controller leaves it be.
    pub deleted: bool,
}

impl StatefulSetState {
    fn revision_of(&self, template: &crate::model::objects::PodTemplate) -> String {
        format!(
            "{}-{}",
            self.spec.meta.name,
            names::pod_template_hash(template)
        )
    }
    fn update_revision(&self) -> String {
        self.revision_of(&self.spec.template)
    }
}

impl Simulation {
    /// `kubectl apply` of a new StatefulSet.
    pub(super) fn create_stateful_set(&mut self, s: StatefulSetObject) {
        let i = self.statefulsets.len() as u32;
        self.statefulsets.push(StatefulSetState {
            current: s.template.clone(),
            spec: s,
            deleted: false,
        });
        self.sync_stateful_set(i);
    }

    /// The live StatefulSet `namespace/name`.
    pub(super) fn find_stateful_set(&self, namespace: &str, name: &str) -> Option<u32> {
        self.statefulsets
            .iter()
            .position(|s| {
                !s.deleted && s.spec.meta.namespace == namespace && s.spec.meta.name == name
            })
            .map(|i| i as u32)
    }

    /// `kubectl apply` of a StatefulSet that exists: the selector and `serviceName` are
    /// immutable (`ValidateStatefulSetUpdate` forbids every change but replicas, template,
    /// updateStrategy, minReadySeconds and a few others); a new template starts an update.
    pub(super) fn update_stateful_set(&mut self, now: SimTime, i: u32, new: StatefulSetObject) {
        let old = &self.statefulsets[i as usize].spec;
        if new.selector != old.selector
            || new.service_name != old.service_name
            || new.pod_management != old.pod_management
            || new.volume_claims != old.volume_claims
        {
            self.log.warning(
                now,
                format!("statefulset/{}", old.meta.name),
                "FailedApply",
                format!(
                    "The StatefulSet {:?} is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                    old.meta.name
                ),
            );
            return;
        }
        self.statefulsets[i as usize].spec = new;
        self.sync_stateful_set(i);
    }

    /// The `scale` subresource of set `i` (`scaleFromStatefulSet`,
    /// `pkg/registry/apps/statefulset/storage/storage.go`): `spec.replicas` and the selector
    /// that finds its pods (`status.selector`).
    pub(super) fn stateful_set_scale(&self, i: u32) -> (u32, LabelSelector) {
        let s = &self.statefulsets[i as usize].spec;
        (s.replicas, s.selector.clone())
    }

    /// An update of set `i`'s `scale` subresource (`kubectl scale`, the HPA): `spec.replicas`
    /// becomes `replicas` and the controller runs, so a scale-up creates the missing ordinals
    /// lowest first (under `OrderedReady` each once the one before is Running and Ready) and a
    /// scale-down deletes the ordinals at or above `replicas`, highest first.
    pub(super) fn scale_stateful_set(&mut self, i: u32, replicas: u32) {
        self.statefulsets[i as usize].spec.replicas = replicas;
        self.sync_stateful_set(i);
    }

    /// `kubectl delete statefulset`: its pods are deleted by the garbage collector (all at
    /// once, background propagation) and nothing replaces them.
    pub(super) fn delete_stateful_set(&mut self, i: u32) {
        self.statefulsets[i as usize].deleted = true;
        for id in self.stateful_set_pods(i) {
            self.terminate_pod(id);
        }
    }

    /// Every pod of set `i` that still exists (terminating ones included), in creation order.
    fn stateful_set_pods(&self, i: u32) -> Vec<PodId> {
        self.cluster
            .live_pods()
            .filter(|(_, p)| p.controller == Some(Controller::StatefulSet(i)))
            .map(|(id, _)| id)
            .collect()
    }

    /// `isRunningAndReady` and, with `minReadySeconds`, `isRunningAndAvailable`.
    fn sts_pod_healthy(&self, id: PodId, min_ready: SimDuration, now: SimTime) -> bool {
        let p = self.cluster.pod(id);
        p.deleted.is_none()
            && p.phase == PodPhase::Running
            && p.ready
            && p.ready_since.is_some_and(|t| t + min_ready <= now)
    }

    fn ordinal_of(&self, id: PodId) -> u32 {
        self.cluster
            .pod(id)
            .meta
            .labels
            .get(POD_INDEX_LABEL)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn sts_event(&mut self, i: u32, verb: &str, pod: &str) {
        let now = self.queue.now();
        let set = self.statefulsets[i as usize].spec.meta.name.clone();
        // `recordPodEvent` (`pkg/controller/statefulset/stateful_pod_control.go`).
        let reason = if verb == "create" {
            "SuccessfulCreate"
        } else {
            "SuccessfulDelete"
        };
        self.log.normal(
            now,
            format!("statefulset/{set}"),
            reason,
            format!("{verb} Pod {pod} in StatefulSet {set} successful"),
        );
    }

    /// Creates pod `ordinal` of set `i` (`newVersionedStatefulSetPod`): from the current
    /// revision below the partition of a `RollingUpdate`, else from the update revision.
    fn create_stateful_pod(&mut self, i: u32, ordinal: u32) {
        let st = &self.statefulsets[i as usize];
        let below_partition = matches!(
            st.spec.update,
            StatefulSetUpdate::RollingUpdate { partition, .. } if ordinal < partition
        );
        let template = if below_partition {
            st.current.clone()
        } else {
            st.spec.template.clone()
        };
        let revision = st.revision_of(&template);
        let name = format!("{}-{ordinal}", st.spec.meta.name);
        let mut labels = template.meta.labels.clone();
        labels.insert(POD_NAME_LABEL.into(), name.clone());
        labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
        labels.insert(REVISION_LABEL.into(), revision);
        let meta = ObjectMeta {
            name: name.clone(),
            namespace: st.spec.meta.namespace.clone(),
            labels,
            annotations: template.meta.annotations.clone(),
        };
        let mut spec = template.spec.clone();
        // `updateIdentity`.
        spec.hostname = Some(name.clone());
        spec.subdomain = Some(st.spec.service_name.clone()).filter(|s| !s.is_empty());
        self.sts_event(i, "create", &name);
        self.create_pod_with(meta, spec, None, Some(Controller::StatefulSet(i)));
    }

    /// A pod of set `i` changed (ready, available, deleted, gone): run the controller.
    pub(super) fn stateful_pod_changed(&mut self, id: PodId) {
        if let Some(Controller::StatefulSet(i)) = self.cluster.pod(id).controller {
            if self.cluster.pod(id).ready && self.cluster.pod(id).deleted.is_none() {
                let min_ready = self.statefulsets[i as usize].spec.min_ready;
                if !min_ready.is_zero() {
                    // Upstream requeues the set `minReadySeconds` later (`AddAfter`).
                    let at = self.queue.now() + min_ready;
                    self.queue.schedule(at, super::Ev::Available(id));
                }
            }
            self.sync_stateful_set(i);
        }
    }

    /// One pass of `updateStatefulSet`; re-entrant calls (a pod that leaves at once) run again
    /// when the current pass ends.
    pub(super) fn sync_stateful_set(&mut self, i: u32) {
        if self.sts_syncing.contains(&i) {
            self.sts_dirty = true;
            return;
        }
        self.sts_syncing.push(i);
        loop {
            self.sts_dirty = false;
            self.sync_stateful_set_once(i);
            if !self.sts_dirty {
                break;
            }
        }
        self.sts_syncing.retain(|x| *x != i);
    }

    /// `updateStatefulSet` then `updateStatefulSetStatus`: the status upstream writes is
    /// counted from the pods as the pass found them, and `completeRollingUpdate` makes the
    /// update revision current when, under `RollingUpdate`, every pod that exists runs it and
    /// is Running and Ready (`status.updatedReplicas == status.readyReplicas ==
    /// status.replicas`), whatever the pass returned.
    fn sync_stateful_set_once(&mut self, i: u32) {
        if self.statefulsets[i as usize].deleted {
            return;
        }
        let complete = self.sts_rolling_update_complete(i);
        self.sts_update(i);
        if complete {
            let st = &mut self.statefulsets[i as usize];
            st.current = st.spec.template.clone();
        }
    }

    /// `completeRollingUpdate`'s test on `computeReplicaStatus`: `replicas` counts every pod
    /// that exists (terminating and condemned ones too), `updatedReplicas` those not
    /// terminating at the update revision, `readyReplicas` those Running and Ready.
    fn sts_rolling_update_complete(&self, i: u32) -> bool {
        let st = &self.statefulsets[i as usize];
        if !matches!(st.spec.update, StatefulSetUpdate::RollingUpdate { .. }) {
            return false;
        }
        let update_revision = st.update_revision();
        self.stateful_set_pods(i).into_iter().all(|id| {
            let p = self.cluster.pod(id);
            p.deleted.is_none()
                && p.meta.labels.get(REVISION_LABEL) == Some(&update_revision)
                && p.phase == PodPhase::Running
                && p.ready
        })
    }

    /// `updateStatefulSet` (`stateful_set_control.go`): `processReplica` for each ordinal,
    /// `processCondemned` for those beyond `replicas`, then the rolling update.
    fn sts_update(&mut self, i: u32) {
        let st = &self.statefulsets[i as usize];
        let now = self.queue.now();
        let replicas = st.spec.replicas;
        let min_ready = st.spec.min_ready;
        let monotonic = st.spec.pod_management == PodManagement::OrderedReady;
        let update_revision = st.update_revision();
        let mut slots: Vec<Option<PodId>> = vec![None; replicas as usize];
        let mut condemned: Vec<(u32, PodId)> = Vec::new();
        for id in self.stateful_set_pods(i) {
            let ord = self.ordinal_of(id);
            if ord < replicas {
                slots[ord as usize] = Some(id);
            } else {
                condemned.push((ord, id));
            }
        }
        condemned.sort();
        let revision = |me: &Self, id: PodId| -> String {
            me.cluster
                .pod(id)
                .meta
                .labels
                .get(REVISION_LABEL)
                .cloned()
                .unwrap_or_default()
        };

        // `processReplica` for every pod of `0..replicas`, in order: a failed (or succeeded)
        // pod is deleted and made again once gone; a missing one is created; `OrderedReady`
        // (`monotonic`) stops at the first pod it created, or that is terminating, or not
        // Running and Ready, or not available for `minReadySeconds`.
        for ord in 0..replicas {
            let Some(id) = slots[ord as usize] else {
                self.create_stateful_pod(i, ord);
                if monotonic {
                    return;
                }
                continue;
            };
            let p = self.cluster.pod(id);
            if matches!(p.phase, PodPhase::Failed | PodPhase::Succeeded) {
                if p.deleted.is_none() {
                    let name = p.meta.name.clone();
                    self.sts_event(i, "delete", &name);
                    self.terminate_pod(id);
                }
                if monotonic {
                    return;
                }
                continue;
            }
            if monotonic && !self.sts_pod_healthy(id, min_ready, now) {
                return;
            }
        }

        // `processCondemned`: pods beyond `replicas`, highest ordinal first; `OrderedReady`
        // deletes one a pass and waits for it to be gone, and an unhealthy pod blocks unless
        // it is the first unhealthy one (the lowest ordinal: every replica is healthy here).
        let first_unhealthy = condemned
            .iter()
            .find(|(_, id)| !self.sts_pod_healthy(*id, min_ready, now))
            .map(|(_, id)| *id);
        for &(_, id) in condemned.iter().rev() {
            if self.cluster.pod(id).deleted.is_some() {
                if monotonic {
                    return;
                }
                continue;
            }
            if monotonic && !self.sts_pod_healthy(id, min_ready, now) && Some(id) != first_unhealthy
            {
                return;
            }
            let name = self.cluster.pod(id).meta.name.clone();
            self.sts_event(i, "delete", &name);
            self.terminate_pod(id);
            if monotonic {
                return;
            }
        }

        // `OnDelete` stops here: pods take the new template when something deletes them.
        let StatefulSetUpdate::RollingUpdate {
            partition,
            max_unavailable,
        } = self.statefulsets[i as usize].spec.update
        else {
            return;
        };
        let update_min = partition.min(replicas);
        if self.scenario.kubernetes_version >= MAX_UNAVAILABLE_BETA {
            // `updateStatefulSetAfterInvariantEstablished` (the `MaxUnavailableStatefulSet`
            // gate, on by default since v1.35): with at most `maxUnavailable` pods of
            // `0..replicas` unavailable, delete as many more as that leaves room for, from the
            // highest ordinal down to the partition, each not at the update revision and not
            // already terminating. A pod created in this pass is unavailable.
            let max = sts_max_unavailable(max_unavailable, replicas);
            let unavailable = slots
                .iter()
                .filter(|s| s.is_none_or(|id| !self.sts_pod_healthy(id, min_ready, now)))
                .count() as u32;
            if unavailable > max {
                return;
            }
            let mut room = max - unavailable;
            for ord in (update_min..replicas).rev() {
                if room == 0 {
                    break;
                }
                let Some(id) = slots[ord as usize] else {
                    continue;
                };
                if revision(self, id) != update_revision && self.cluster.pod(id).deleted.is_none() {
                    let name = self.cluster.pod(id).meta.name.clone();
                    self.sts_event(i, "delete", &name);
                    self.terminate_pod(id);
                    room -= 1;
                }
            }
            return;
        }
        // From the highest ordinal down to the partition: delete the first pod not at the
        // update revision; wait at an unavailable one (one pod at a time, also `Parallel`).
        for ord in (update_min..replicas).rev() {
            let Some(id) = slots[ord as usize] else {
                return;
            };
            if revision(self, id) != update_revision && self.cluster.pod(id).deleted.is_none() {
                let name = self.cluster.pod(id).meta.name.clone();
                self.sts_event(i, "delete", &name);
                self.terminate_pod(id);
                return;
            }
            if !self.sts_pod_healthy(id, min_ready, now) {
                return;
            }
        }
    }
}

/// The Kubernetes version whose API server keeps `updateStrategy.rollingUpdate.maxUnavailable`
/// and whose controller reads it: the `MaxUnavailableStatefulSet` gate is alpha (off) from
/// v1.24 and beta (on) from v1.35 (`pkg/features/kube_features.go`); below, the API server
/// drops the field (`dropStatefulSetDisabledFields`).
pub const MAX_UNAVAILABLE_BETA: (u32, u32) = (1, 35);

/// `getStatefulSetMaxUnavailable`: default 1, a percentage of `replicas` rounded down, at
/// least 1.
fn sts_max_unavailable(v: Option<IntOrPercent>, replicas: u32) -> u32 {
    let n = match v {
        None => 1,
        Some(IntOrPercent::Count(n)) => n,
        Some(IntOrPercent::Percent(p)) => {
            u32::try_from(u64::from(p) * u64::from(replicas) / 100).unwrap_or(u32::MAX)
        }
    };
    n.max(1)
}

#[cfg(test)]
mod tests {
    use crate::sim::Simulation;
    use std::path::Path;

    fn sim(events: &str, policy: &str) -> Simulation {
        let text = format!(
            "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 2m\n  cluster:\n    nodes:\n      - {{name: n0, ip: 10.1.0.1}}\n      - {{name: n1, ip: 10.1.0.2}}\n{events}---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db}}\nspec:\n  serviceName: db\n  replicas: 3\n  podManagementPolicy: {policy}\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec:\n      containers: [{{name: db, image: db:1}}]\n"
        );
        let loaded = crate::scenario::load_str(&text, "t.yaml", Path::new("."))
            .unwrap_or_else(|d| panic!("{d}"));
        Simulation::new(loaded.scenario).expect("no API errors")
    }

    fn messages(s: &Simulation) -> Vec<(u64, String)> {
        s.log
            .events
            .iter()
            .filter(|e| e.object == "statefulset/db")
            .map(|e| (e.at.as_nanos() / 1_000_000_000, e.message.clone()))
            .collect()
    }

    #[test]
    fn ordered_ready_scales_down_from_the_highest_ordinal_one_at_a_time() {
        let apply = "  events:\n    - at: 30s\n      apply:\n        apiVersion: apps/v1\n        kind: StatefulSet\n        metadata: {name: db}\n        spec:\n          serviceName: db\n          replicas: 1\n          selector: {matchLabels: {app: db}}\n          template:\n            metadata: {labels: {app: db}}\n            spec:\n              containers: [{name: db, image: db:1}]\n";
        let mut s = sim(apply, "OrderedReady");
        while s.step().is_some() {
            s.scheduler.assert_matches(&s.cluster);
        }
        let m = messages(&s);
        let texts: Vec<&str> = m.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "create Pod db-0 in StatefulSet db successful",
                "create Pod db-1 in StatefulSet db successful",
                "create Pod db-2 in StatefulSet db successful",
                "delete Pod db-2 in StatefulSet db successful",
                "delete Pod db-1 in StatefulSet db successful",
            ]
        );
        // Created one after the other (each 1 s container start), deleted highest first.
        assert!(m[1].0 > m[0].0 && m[2].0 > m[1].0, "{m:?}");
        assert!(m[3].0 >= 30);
        let live: Vec<&str> = s
            .cluster
            .live_pods()
            .filter(|(_, p)| p.meta.name.starts_with("db-"))
            .map(|(_, p)| p.meta.name.as_str())
            .collect();
        assert_eq!(live, ["db-0"]);
        let p = s
            .cluster
            .live_pods()
            .find(|(_, p)| p.meta.name == "db-0")
            .unwrap()
            .1;
        assert_eq!(p.spec.hostname.as_deref(), Some("db-0"));
        assert_eq!(p.spec.subdomain.as_deref(), Some("db"));
    }

    #[test]
    fn parallel_creates_every_ordinal_at_once() {
        let s = sim("", "Parallel");
        let m = messages(&s);
        assert_eq!(m.len(), 3);
        assert!(m.iter().all(|(t, _)| *t == 0));
    }

    #[test]
    fn the_scale_subresource_adds_the_next_ordinals_and_removes_the_highest() {
        use crate::engine::{SimDuration, SimTime};
        let mut s = sim("", "OrderedReady");
        s.run_until(SimTime::ZERO + SimDuration::from_secs(20));
        let (replicas, selector) = s.stateful_set_scale(0);
        assert_eq!(replicas, 3);
        assert_eq!(
            selector.match_labels.get("app").map(String::as_str),
            Some("db")
        );
        let before = messages(&s).len();
        s.scale_stateful_set(0, 5);
        s.run_until(SimTime::ZERO + SimDuration::from_secs(40));
        s.scale_stateful_set(0, 2);
        s.run_until(SimTime::ZERO + SimDuration::from_secs(60));
        let m = messages(&s);
        let texts: Vec<&str> = m[before..].iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "create Pod db-3 in StatefulSet db successful",
                "create Pod db-4 in StatefulSet db successful",
                "delete Pod db-4 in StatefulSet db successful",
                "delete Pod db-3 in StatefulSet db successful",
                "delete Pod db-2 in StatefulSet db successful",
            ]
        );
        // OrderedReady: db-4 waits for db-3 to be Running and Ready.
        assert!(m[before + 1].0 > m[before].0, "{m:?}");
        assert_eq!(s.stateful_set_scale(0).0, 2);
    }
}
