//! The kubelet: sandboxes and pod IPs, image pulls, container starts, crashes, restarts with
//! back-off, and the liveness, readiness and startup probes.
//!
//! Probes run on their own period from the container's start (after `initialDelaySeconds`),
//! as the kubelet's probe workers do (`pkg/kubelet/prober/worker.go`); liveness and readiness
//! results count only once the startup probe (if any) has succeeded. A restart or exit bumps
//! the container's epoch, which cancels its pending probe and exit events.

use super::{Ev, Simulation};
use crate::engine::{SimDuration, SimTime};
use crate::model::cluster::{ContainerState, NodeId, PodId, PodPhase, WaitingReason};
use crate::model::config::normalize_image;
use crate::model::objects::{ImagePullPolicy, Probe, ProbeHandler, RestartPolicy};
use crate::sim::config::ProbeKind;
use crate::traffic::request::FailReason;
use crate::traffic::serve::Server;

/// From a pod's node assignment to its containers running: sandbox creation plus container
/// start. kubesim's assumption (typical of a local cluster), not an upstream constant.
pub const CONTAINER_START: SimDuration = SimDuration::from_secs(1);
/// Image pull and crash back-off: 10 s doubling to 300 s (`pkg/kubelet/kubelet.go`,
/// `backOffPeriod`, `MaxContainerBackOff`).
pub const IMAGE_BACKOFF_INITIAL: SimDuration = SimDuration::from_secs(10);
pub const IMAGE_BACKOFF_MAX: SimDuration = SimDuration::from_secs(300);
/// After a failed pull the kubelet's next pod sync shows `ImagePullBackOff`; kubesim puts it
/// one second later.
const BACKOFF_STATUS_DELAY: SimDuration = SimDuration::from_secs(1);
/// A container that ran this long before exiting starts its back-off afresh: twice the
/// maximum back-off (client-go `util/flowcontrol/backoff.go`, `hasExpired`: a back-off entry expires after
/// `2 * MaxContainerBackOff`; kubesim measures it from the container's start).
pub const BACKOFF_RESET: SimDuration = SimDuration::from_secs(600);
/// Exit code of a container killed with SIGKILL (128 + 9), as after a failed liveness probe.
const EXIT_SIGKILL: i32 = 137;

pub const CRASH_BACKOFF_INITIAL: SimDuration = IMAGE_BACKOFF_INITIAL;
pub const CRASH_BACKOFF_MAX: SimDuration = IMAGE_BACKOFF_MAX;

/// The kubelet's steps for one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create the sandbox (the pod gets its IP), then look at the first image.
    Sandbox,
    /// Look at container `i`'s image: present, pull, or fail.
    Image(u16),
    /// A pull of container `i`'s image finished.
    PullDone(u16),
    /// The pull failed a moment ago: show `ImagePullBackOff`.
    PullBackOff(u16),
    /// Every container starts.
    Started,
    /// Container `container` starts again after its back-off, unless something restarted it
    /// since (its epoch moved on).
    Restart { container: u16, epoch: u32 },
    /// Container `container`'s process exits (its behaviour's `exitAfter`), with its
    /// behaviour's `exitCode` (looked up then, so that the step stays small: the event queue
    /// holds millions).
    Exit { container: u16, epoch: u32 },
    /// A probe of container `container` runs.
    Probe {
        container: u16,
        kind: ProbeKind,
        epoch: u32,
    },
    /// The container exited after its graceful shutdown; the pod object goes away.
    Terminated,
}

/// Consecutive results of one probe.
#[derive(Debug, Clone, Copy, Default)]
struct ProbeRun {
    successes: u32,
    failures: u32,
}

/// What the kubelet remembers of one container.
#[derive(Debug, Clone, Default)]
pub(super) struct ContainerKubelet {
    /// Bumped at each start and exit: stale probe and exit events are ignored.
    pub epoch: u32,
    /// Exits in the current back-off sequence.
    crashes: u32,
    started: Option<SimTime>,
    /// The startup probe succeeded (or there is none).
    started_ok: bool,
    ready: bool,
    /// Liveness, readiness, startup.
    runs: [ProbeRun; 3],
    /// Until when each probe fails (`failProbe`).
    failing_until: [SimTime; 3],
}

/// What the kubelet remembers of one pod.
#[derive(Debug, Clone, Default)]
pub(super) struct PodKubelet {
    pub image_failures: u32,
    pub containers: Vec<ContainerKubelet>,
}

impl PodKubelet {
    pub fn new(containers: usize) -> Self {
        PodKubelet {
            image_failures: 0,
            containers: vec![ContainerKubelet::default(); containers],
        }
    }
}

fn slot(kind: ProbeKind) -> usize {
    match kind {
        ProbeKind::Liveness => 0,
        ProbeKind::Readiness => 1,
        ProbeKind::Startup => 2,
    }
}

/// What a failing probe reports, as the kubelet's prober words it for a hung server.
fn probe_failure(kind: ProbeKind, probe: &Probe, ip: Option<std::net::Ipv4Addr>) -> String {
    let what = match kind {
        ProbeKind::Liveness => "Liveness",
        ProbeKind::Readiness => "Readiness",
        ProbeKind::Startup => "Startup",
    };
    let ip = ip.map(|i| i.to_string()).unwrap_or_default();
    let detail = match &probe.handler {
        ProbeHandler::HttpGet { path, port } => {
            let port = match port {
                crate::model::objects::PortRef::Number(n) => n.to_string(),
                crate::model::objects::PortRef::Name(n) => n.clone(),
            };
            format!("Get \"http://{ip}:{port}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        }
        ProbeHandler::TcpSocket { port } => {
            let port = match port {
                crate::model::objects::PortRef::Number(n) => n.to_string(),
                crate::model::objects::PortRef::Name(n) => n.clone(),
            };
            format!("dial tcp {ip}:{port}: i/o timeout")
        }
        ProbeHandler::Exec { command } => format!("command {:?} timed out", command.join(" ")),
        ProbeHandler::Grpc { port } => {
            format!("timeout: failed to connect service \"{ip}:{port}\" within 1s")
        }
    };
    format!("{what} probe failed: {detail}")
}

impl Simulation {
    pub(super) fn on_kubelet(&mut self, now: SimTime, id: PodId, step: Step) {
        let pod = self.cluster.pod(id);
        let Some(node) = pod.node else { return };
        if !pod.exists() || !self.cluster.node(node).up {
            return;
        }
        if pod.deleted.is_some() && step != Step::Terminated {
            return;
        }
        let object = format!("pod/{}", pod.meta.name);
        match step {
            Step::Sandbox => {
                let ip = if pod.spec.host_network {
                    self.cluster.node(node).cfg.ip
                } else {
                    match self.ipams[node.index()].allocate() {
                        Ok(ip) => ip,
                        Err(e) => {
                            let msg = format!("Failed to create pod sandbox: plugin type=\"host-local\" failed (add): {e}");
                            self.log.warning(now, object, "FailedCreatePodSandBox", msg);
                            return;
                        }
                    }
                };
                self.cluster.pod_mut(id).ip = Some(ip);
                self.on_kubelet(now, id, Step::Image(0));
            }
            Step::Image(i) => {
                let c = &pod.spec.containers[i as usize];
                let present = self.node_has_image(node, &c.image);
                match (c.image_pull_policy, present) {
                    (ImagePullPolicy::Never, false) => {
                        let msg = format!(
                            "Container image {:?} is not present with pull policy of Never",
                            c.image
                        );
                        self.log
                            .warning(now, object.clone(), "ErrImageNeverPull", msg);
                        self.log
                            .warning(now, object, "Failed", "Error: ErrImageNeverPull".into());
                        self.cluster.pod_mut(id).containers[i as usize] =
                            ContainerState::Waiting(WaitingReason::ErrImageNeverPull);
                    }
                    (ImagePullPolicy::Never | ImagePullPolicy::IfNotPresent, true) => {
                        let msg =
                            format!("Container image {:?} already present on machine", c.image);
                        self.log.normal(now, object, "Pulled", msg);
                        self.next_image_or_start(now, id, i);
                    }
                    _ => {
                        self.log.normal(
                            now,
                            object,
                            "Pulling",
                            format!("Pulling image {:?}", c.image),
                        );
                        let pull = self
                            .scenario
                            .registry
                            .as_ref()
                            .map(|r| r.pull_time)
                            .unwrap_or_default();
                        self.queue
                            .schedule(now + pull, Ev::Kubelet(id, Step::PullDone(i)));
                    }
                }
            }
            Step::PullDone(i) => {
                let image = pod.spec.containers[i as usize].image.clone();
                let served = self
                    .scenario
                    .registry
                    .as_ref()
                    .is_none_or(|r| r.serves(&image));
                let took = self
                    .scenario
                    .registry
                    .as_ref()
                    .map(|r| r.pull_time)
                    .unwrap_or_default();
                if served {
                    let msg = format!(
                        "Successfully pulled image {image:?} in {took} ({took} including waiting)"
                    );
                    self.log.normal(now, object, "Pulled", msg);
                    self.cluster.nodes[node.index()].cfg.images.push(image);
                    self.next_image_or_start(now, id, i);
                } else {
                    let reference = normalize_image(&image);
                    let msg = format!(
                        "Failed to pull image {image:?}: failed to pull and unpack image {reference:?}: failed to resolve reference {reference:?}: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
                    );
                    self.log.warning(now, object.clone(), "Failed", msg);
                    self.log
                        .warning(now, object, "Failed", "Error: ErrImagePull".into());
                    let p = self.cluster.pod_mut(id);
                    p.containers[i as usize] = ContainerState::Waiting(WaitingReason::ErrImagePull);
                    self.queue.schedule(
                        now + BACKOFF_STATUS_DELAY,
                        Ev::Kubelet(id, Step::PullBackOff(i)),
                    );
                }
            }
            Step::PullBackOff(i) => {
                let image = pod.spec.containers[i as usize].image.clone();
                self.kubelet[id.index()].image_failures += 1;
                let delay = backoff(
                    IMAGE_BACKOFF_INITIAL,
                    IMAGE_BACKOFF_MAX,
                    self.kubelet[id.index()].image_failures,
                );
                self.log.normal(
                    now,
                    object.clone(),
                    "BackOff",
                    format!("Back-off pulling image {image:?}"),
                );
                self.log
                    .warning(now, object, "Failed", "Error: ImagePullBackOff".into());
                self.cluster.pod_mut(id).containers[i as usize] =
                    ContainerState::Waiting(WaitingReason::ImagePullBackOff);
                self.queue.schedule(
                    now + delay.saturating_sub(BACKOFF_STATUS_DELAY),
                    Ev::Kubelet(id, Step::Image(i)),
                );
            }
            Step::Started => {
                let n = pod.spec.containers.len();
                self.cluster.pod_mut(id).phase = PodPhase::Running;
                for i in 0..n {
                    self.start_container(now, id, i);
                }
            }
            Step::Restart {
                container: i,
                epoch,
            } => {
                if self.kubelet[id.index()].containers[i as usize].epoch != epoch {
                    return;
                }
                self.cluster.pod_mut(id).restarts += 1;
                self.start_container(now, id, i as usize);
            }
            Step::Exit { container, epoch } => {
                if self.kubelet[id.index()].containers[container as usize].epoch == epoch {
                    // The behaviour the container started with (its image does not change).
                    let image = &self.cluster.pod(id).spec.containers[container as usize].image;
                    let code = self.behaviors[self.behavior_for(image) as usize].exit_code;
                    self.container_exit(now, id, container as usize, code);
                }
            }
            Step::Probe {
                container,
                kind,
                epoch,
            } => self.on_probe(now, id, container as usize, kind, epoch),
            Step::Terminated => self.pod_gone(now, id),
        }
    }

    fn next_image_or_start(&mut self, now: SimTime, id: PodId, i: u16) {
        if (i as usize) + 1 < self.cluster.pod(id).spec.containers.len() {
            self.on_kubelet(now, id, Step::Image(i + 1));
        } else {
            self.queue
                .schedule(now + CONTAINER_START, Ev::Kubelet(id, Step::Started));
        }
    }

    fn node_has_image(&self, node: NodeId, image: &str) -> bool {
        let want = normalize_image(image);
        self.cluster
            .node(node)
            .cfg
            .images
            .iter()
            .any(|i| normalize_image(i) == want)
    }

    /// Starts container `i`: a new server, fresh probe counts, its probes and exit scheduled.
    fn start_container(&mut self, now: SimTime, id: PodId, i: usize) {
        let pod = self.cluster.pod(id);
        let object = format!("pod/{}", pod.meta.name);
        let spec = std::sync::Arc::clone(&pod.spec);
        let c = &spec.containers[i];
        if pod.restarts > 0 {
            let msg = format!("Container image {:?} already present on machine", c.image);
            self.log.normal(now, object.clone(), "Pulled", msg);
        }
        self.log.normal(
            now,
            object.clone(),
            "Created",
            format!("Created container: {}", c.name),
        );
        self.log.normal(
            now,
            object,
            "Started",
            format!("Started container {}", c.name),
        );
        let b = self.behavior_for(&c.image);
        let mut server = Server::new(b, &self.behaviors[b as usize]);
        server.cpu_limit_millis = c.limits.cpu_millis;
        self.metrics
            .load_change(id.0, now, 0, 0, i64::from(server.concurrency));
        self.servers[id.index()][i] = Some(server);
        self.cluster.pod_mut(id).containers[i] = ContainerState::Running { since: now };
        let k = &mut self.kubelet[id.index()].containers[i];
        k.epoch = k.epoch.wrapping_add(1);
        k.started = Some(now);
        k.runs = [ProbeRun::default(); 3];
        k.started_ok = c.startup_probe.is_none();
        k.ready = k.started_ok && c.readiness_probe.is_none();
        let epoch = k.epoch;
        for (kind, probe) in [
            (ProbeKind::Liveness, &c.liveness_probe),
            (ProbeKind::Readiness, &c.readiness_probe),
            (ProbeKind::Startup, &c.startup_probe),
        ] {
            if let Some(p) = probe {
                let step = Step::Probe {
                    container: i as u16,
                    kind,
                    epoch,
                };
                self.queue
                    .schedule(now + p.initial_delay, Ev::Kubelet(id, step));
            }
        }
        let behavior = &self.behaviors[b as usize];
        if let Some(after) = behavior.exit_after {
            let step = Step::Exit {
                container: i as u16,
                epoch,
            };
            self.queue.schedule(now + after, Ev::Kubelet(id, step));
        }
        self.update_pod_ready(now, id);
    }

    /// The pod is Ready when every container runs and is ready; a change reaches the
    /// EndpointSlices (and so every node's rules).
    fn update_pod_ready(&mut self, now: SimTime, id: PodId) {
        let pod = self.cluster.pod(id);
        let ready = pod.exists()
            && pod.deleted.is_none()
            && pod
                .containers
                .iter()
                .all(|c| matches!(c, ContainerState::Running { .. }))
            && self.kubelet[id.index()].containers.iter().all(|k| k.ready);
        if ready == pod.ready {
            return;
        }
        let p = self.cluster.pod_mut(id);
        p.ready = ready;
        p.ready_since = ready.then_some(now);
        self.endpoints_changed();
        if ready {
            self.pod_became_ready(id);
        }
    }

    fn on_probe(&mut self, now: SimTime, id: PodId, i: usize, kind: ProbeKind, epoch: u32) {
        let pod = self.cluster.pod(id);
        let k = &self.kubelet[id.index()].containers[i];
        if k.epoch != epoch || !matches!(pod.containers[i], ContainerState::Running { .. }) {
            return;
        }
        let spec = std::sync::Arc::clone(&pod.spec);
        let c = &spec.containers[i];
        let probe = match kind {
            ProbeKind::Liveness => c.liveness_probe.as_ref(),
            ProbeKind::Readiness => c.readiness_probe.as_ref(),
            ProbeKind::Startup => c.startup_probe.as_ref(),
        }
        .expect("a probe event exists only for a defined probe");
        let next = Ev::Kubelet(
            id,
            Step::Probe {
                container: i as u16,
                kind,
                epoch,
            },
        );
        // Liveness and readiness wait for the startup probe; startup stops once it passed.
        let waiting = kind != ProbeKind::Startup && !k.started_ok;
        if waiting {
            self.queue.schedule(now + probe.period, next);
            return;
        }
        let ok = now >= k.failing_until[slot(kind)];
        let k = &mut self.kubelet[id.index()].containers[i];
        let run = &mut k.runs[slot(kind)];
        if ok {
            run.successes += 1;
            run.failures = 0;
        } else {
            run.failures += 1;
            run.successes = 0;
        }
        let run = *run;
        let object = format!("pod/{}", pod.meta.name);
        if !ok {
            self.log.warning(
                now,
                object.clone(),
                "Unhealthy",
                probe_failure(kind, probe, pod.ip),
            );
        }
        match kind {
            ProbeKind::Startup if ok => {
                k.started_ok = true;
                k.ready = c.readiness_probe.is_none();
                self.update_pod_ready(now, id);
                return;
            }
            ProbeKind::Readiness => {
                if ok && run.successes >= probe.success_threshold {
                    k.ready = true;
                } else if !ok && run.failures >= probe.failure_threshold {
                    k.ready = false;
                }
                self.update_pod_ready(now, id);
            }
            ProbeKind::Liveness | ProbeKind::Startup => {
                if !ok && run.failures >= probe.failure_threshold {
                    let msg = format!(
                        "Container {} failed {} probe, will be restarted",
                        c.name,
                        kind.as_str()
                    );
                    self.log.normal(now, object, "Killing", msg);
                    self.container_exit(now, id, i, EXIT_SIGKILL);
                    return;
                }
            }
        }
        self.queue.schedule(now + probe.period, next);
    }

    /// `failProbe`: the container's `kind` probe fails until `now + duration`.
    pub(super) fn fail_probe(
        &mut self,
        now: SimTime,
        id: PodId,
        kind: ProbeKind,
        duration: SimDuration,
    ) {
        for k in &mut self.kubelet[id.index()].containers {
            k.failing_until[slot(kind)] = now + duration;
        }
    }

    /// `killContainer`: the process of `container` (the first if `None`) exits with `code`.
    pub(super) fn kill_container(
        &mut self,
        now: SimTime,
        id: PodId,
        container: Option<&str>,
        code: i32,
    ) {
        let pod = self.cluster.pod(id);
        let i = match container {
            None => 0,
            Some(name) => match pod.spec.containers.iter().position(|c| c.name == name) {
                Some(i) => i,
                None => return,
            },
        };
        if matches!(pod.containers[i], ContainerState::Running { .. }) && pod.deleted.is_none() {
            self.container_exit(now, id, i, code);
        }
    }

    /// Container `i` exited with `code`: the requests it held are reset, the pod turns not
    /// ready, and `restartPolicy` decides: restart now (the first time), after a back-off of
    /// 10 s doubling to 300 s (`CrashLoopBackOff`), or never.
    fn container_exit(&mut self, now: SimTime, id: PodId, i: usize, code: i32) {
        if let Some(s) = &self.servers[id.index()][i] {
            self.metrics.server_gone(id.0, now, s);
        }
        let held: Vec<u32> = self.servers[id.index()][i]
            .as_mut()
            .map(|s| s.drain_all())
            .unwrap_or_default();
        self.servers[id.index()][i] = None;
        self.fail_held(now, held, FailReason::ConnectionReset);
        self.cluster.pod_mut(id).containers[i] = ContainerState::Terminated { exit_code: code };
        let k = &mut self.kubelet[id.index()].containers[i];
        k.epoch = k.epoch.wrapping_add(1);
        k.ready = false;
        let ran = k.started.map(|s| now.since(s)).unwrap_or_default();
        self.update_pod_ready(now, id);
        let pod = self.cluster.pod(id);
        let restart = match pod.spec.restart_policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        };
        if !restart {
            if pod
                .containers
                .iter()
                .all(|c| matches!(c, ContainerState::Terminated { .. }))
            {
                let failed = pod.containers.iter().any(
                    |c| matches!(c, ContainerState::Terminated { exit_code } if *exit_code != 0),
                );
                self.cluster.pod_mut(id).phase = if failed {
                    PodPhase::Failed
                } else {
                    PodPhase::Succeeded
                };
                if let Some(rs) = self.cluster.pod(id).owner {
                    self.reconcile_replica_set(rs);
                }
            }
            return;
        }
        let k = &mut self.kubelet[id.index()].containers[i];
        if ran >= BACKOFF_RESET {
            k.crashes = 0;
        }
        k.crashes += 1;
        let epoch = k.epoch;
        let delay = if k.crashes == 1 {
            SimDuration::ZERO
        } else {
            backoff(CRASH_BACKOFF_INITIAL, CRASH_BACKOFF_MAX, k.crashes - 1)
        };
        if delay.is_zero() {
            self.cluster.pod_mut(id).restarts += 1;
            self.start_container(now, id, i);
            return;
        }
        let pod = self.cluster.pod(id);
        let msg = format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            pod.spec.containers[i].name, pod.meta.name, pod.meta.namespace, pod.uid
        );
        self.log
            .warning(now, format!("pod/{}", pod.meta.name), "BackOff", msg);
        self.cluster.pod_mut(id).containers[i] =
            ContainerState::Waiting(WaitingReason::CrashLoopBackOff);
        self.queue.schedule(
            now + delay,
            Ev::Kubelet(
                id,
                Step::Restart {
                    container: i as u16,
                    epoch,
                },
            ),
        );
    }
}

/// `base * 2^(n-1)` capped at `max` (n counts failures from 1).
pub fn backoff(base: SimDuration, max: SimDuration, n: u32) -> SimDuration {
    let factor = 1u64 << n.saturating_sub(1).min(20);
    let d = base.saturating_mul(factor);
    if d > max {
        max
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let got: Vec<u64> = (1..=8)
            .map(|n| {
                backoff(CRASH_BACKOFF_INITIAL, CRASH_BACKOFF_MAX, n).as_nanos() / 1_000_000_000
            })
            .collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 300, 300, 300]);
    }
}
