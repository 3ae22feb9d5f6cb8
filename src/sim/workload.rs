//! Workload events of the timeline: cordon, drain, rollouts, apply and delete.
//! (Being filled in: the lead's placeholder until the rollout work lands.)

use super::Simulation;
use crate::engine::SimTime;
use crate::model::cluster::PodId;
use crate::sim::config::Action;

impl Simulation {
    pub(super) fn on_workload_action(&mut self, now: SimTime, action: Action) {
        let label = action.label();
        self.log.warning(
            now,
            "scenario/timeline".into(),
            "NotSimulated",
            format!("{label}: not simulated yet"),
        );
    }

    /// A pod turned ready: its Deployment's rollout may go on.
    pub(super) fn pod_became_ready(&mut self, _id: PodId) {}
}
