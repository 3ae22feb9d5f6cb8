//! `Warning` events for timeline events that find nothing to act on when they fire: a
//! `deletePod`, `killContainer` or `failProbe` whose pod is gone or whose selector matches no
//! live pod, a `killContainer` of a container the pod does not have or that is not running, a
//! `failProbe` of a probe none of the pod's containers has. The load warns already where it
//! can know (`scenario::spec::finish_events`); what depends on the run (which pods are alive
//! then) can only be seen here. Written as `kubectl get events` shows events: `deletePod` as
//! `kubectl delete pod` fails (`FailedDelete`, with its `NotFound` text), the others with a
//! reason of their own (`FailedKillContainer`, `FailedFailProbe`).

use super::Simulation;
use crate::engine::SimTime;
use crate::model::cluster::{ContainerState, PodId};
use crate::model::objects::ProbeKind;
use crate::sim::config::PodTarget;

/// The reason of a missed timeline action (`deletePod`, `killContainer`, `failProbe`).
fn reason(action: &str) -> &'static str {
    match action {
        "deletePod" => "FailedDelete",
        "killContainer" => "FailedKillContainer",
        _ => "FailedFailProbe",
    }
}

impl Simulation {
    /// `action` found no live pod for `target`.
    pub(super) fn warn_no_pod(&mut self, now: SimTime, action: &str, target: &PodTarget) {
        let (object, message) = match target {
            PodTarget::Name(n) => (
                format!("pod/{n}"),
                format!("Error from server (NotFound): pods {n:?} not found"),
            ),
            PodTarget::Selector { .. } => (
                format!("pod/{}", target.label()),
                format!(
                    "No resources found: no live pod matches {}; {action} does nothing",
                    target.label()
                ),
            ),
        };
        self.log.warning(now, object, reason(action), message);
    }

    /// The container `killContainer` names (the first when `None`), if the pod has it and it
    /// runs; a `Warning` event when not.
    pub(super) fn container_to_kill(
        &mut self,
        now: SimTime,
        id: PodId,
        container: Option<&str>,
    ) -> Option<usize> {
        let pod = self.cluster.pod(id);
        let object = format!("pod/{}", pod.meta.name);
        let i = match container {
            None => 0,
            Some(name) => match pod.spec.containers.iter().position(|c| c.name == name) {
                Some(i) => i,
                None => {
                    let message = format!(
                        "container {name:?} not found in pod {:?}; killContainer does nothing",
                        pod.meta.name
                    );
                    self.log
                        .warning(now, object, reason("killContainer"), message);
                    return None;
                }
            },
        };
        if pod.deleted.is_some() || !matches!(pod.containers[i], ContainerState::Running { .. }) {
            let state = if pod.deleted.is_some() {
                "its pod is terminating".to_string()
            } else {
                match &pod.containers[i] {
                    ContainerState::Waiting(r) => format!("waiting: {}", r.as_str()),
                    _ => "terminated".to_string(),
                }
            };
            let message = format!(
                "container {:?} of pod {:?} is not running ({state}); killContainer does nothing",
                pod.spec.containers[i].name, pod.meta.name
            );
            self.log
                .warning(now, object, reason("killContainer"), message);
            return None;
        }
        Some(i)
    }

    /// Whether a container of the pod has a `kind` probe for `failProbe` to fail; a `Warning`
    /// event when none has.
    pub(super) fn has_probe(&mut self, now: SimTime, id: PodId, kind: ProbeKind) -> bool {
        let pod = self.cluster.pod(id);
        if pod.spec.containers.iter().any(|c| c.probe(kind).is_some()) {
            return true;
        }
        let kind = match kind {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        };
        let message = format!(
            "no container of pod {:?} has a {kind} probe; failProbe does nothing",
            pod.meta.name
        );
        let object = format!("pod/{}", pod.meta.name);
        self.log.warning(now, object, reason("failProbe"), message);
        false
    }
}
