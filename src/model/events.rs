//! Cluster events, as `kubectl get events` lists them.

use crate::engine::SimTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One line of `kubectl get events`, with upstream's reason and message wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    pub at: SimTime,
    pub type_: EventType,
    pub reason: String,
    /// `pod/http-deployment-5d9c7b9c4d-x7k2p`
    pub object: String,
    pub message: String,
}

/// Collects events in the order they happen.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    pub events: Vec<ClusterEvent>,
}

impl EventLog {
    pub fn normal(&mut self, at: SimTime, object: String, reason: &str, message: String) {
        self.push(at, EventType::Normal, object, reason, message);
    }
    pub fn warning(&mut self, at: SimTime, object: String, reason: &str, message: String) {
        self.push(at, EventType::Warning, object, reason, message);
    }
    fn push(
        &mut self,
        at: SimTime,
        type_: EventType,
        object: String,
        reason: &str,
        message: String,
    ) {
        self.events.push(ClusterEvent {
            at,
            type_,
            reason: reason.to_string(),
            object,
            message,
        });
    }
}
