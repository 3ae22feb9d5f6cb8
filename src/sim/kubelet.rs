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
use crate::model::objects::{
    Container, ImagePullPolicy, PortRef, Probe, ProbeHandler, RestartPolicy,
};
use crate::sim::config::ProbeKind;
use crate::traffic::request::{FailReason, Request, NO_CONN, NO_DP_CONN};
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

/// The size every image is taken to have, for the `Pulled` event's `Image size: N bytes.`
/// (`pkg/kubelet/images/image_manager.go`, `EnsureImageExists`): 50 MiB, a mid-sized
/// application image. kubesim's assumption, not an upstream number; nothing else depends on it.
pub const IMAGE_SIZE_BYTES: u64 = 50 * 1024 * 1024;
/// While a container backs off, the pod worker syncs the pod again `wait.Jitter(backOffPeriod,
/// 0.5)` after each failed sync (`completeWork` in `pkg/kubelet/pod_workers.go`;
/// `backOffPeriod` 10 s in `pkg/kubelet/kubelet.go`), 10 to 15 s; each sync reports `BackOff`
/// again (`doBackOff` in `pkg/kubelet/kuberuntime/kuberuntime_manager.go`). kubesim takes the
/// middle of that range, without drawing.
pub const BACKOFF_SYNC: SimDuration = SimDuration::from_millis(12_500);

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
    /// The pod worker syncs the pod again while container `container` backs off: `BackOff`
    /// once more, unless it restarted (or the pod went) since.
    BackOffSync { container: u16, epoch: u32 },
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
    /// `timeoutSeconds` after container `container`'s `kind` probe was sent to its server:
    /// it failed unless answered by then.
    ProbeDeadline {
        container: u16,
        kind: ProbeKind,
        epoch: u32,
    },
    /// Container `container`'s `preStop` hook of a terminating pod ended: it gets SIGTERM, and
    /// its server stops accepting connections.
    PreStopDone { container: u16 },
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
    /// When each probe now out at the server was sent (HTTP probes of a container with a
    /// server; `None`: none out).
    probing: [Option<SimTime>; 3],
}

/// What the kubelet remembers of one pod.
#[derive(Debug, Clone, Default)]
pub(super) struct PodKubelet {
    pub image_failures: u32,
    pub containers: Vec<ContainerKubelet>,
    /// While terminating: when the last `preStop` hook ends (the pod cannot go before).
    pub pre_stop_until: SimTime,
}

impl PodKubelet {
    pub fn new(containers: usize) -> Self {
        PodKubelet {
            image_failures: 0,
            containers: vec![ContainerKubelet::default(); containers],
            pre_stop_until: SimTime::ZERO,
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

/// How the server answered a probe that reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeAnswer {
    /// 200: a success.
    Ok,
    /// Nothing listens (the server is shutting down): the connection is refused.
    Refused,
    /// The server's queue is full: 503 Service Unavailable.
    Unavailable,
}

/// The port a probe of `container` dials, as its messages show it: a number as written, a name
/// resolved to the number of the container's port of that name, as the kubelet does before it
/// probes (`probe.ResolveContainerPort` in `pkg/probe/util.go`, called by
/// `NewRequestForHTTPGetAction` in `pkg/probe/http/request.go` for `httpGet` and by `runProbe`
/// in `pkg/kubelet/prober/prober.go` for `tcpSocket`). Only the probed container's own ports
/// count. A name it does not declare stays as written (upstream the probe errors instead;
/// kubesim does not model that).
fn probe_port(port: &PortRef, container: &Container) -> String {
    match port {
        PortRef::Number(n) => n.to_string(),
        PortRef::Name(name) => container
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map_or_else(|| name.clone(), |p| p.container_port.to_string()),
    }
}

/// What a failing probe of `container` reports, as the kubelet's prober words it: for a hung
/// server (no `answer` within `timeoutSeconds`), or for the answer that came.
fn probe_failure(
    kind: ProbeKind,
    probe: &Probe,
    container: &Container,
    ip: Option<std::net::Ipv4Addr>,
    answer: Option<ProbeAnswer>,
) -> String {
    let what = match kind {
        ProbeKind::Liveness => "Liveness",
        ProbeKind::Readiness => "Readiness",
        ProbeKind::Startup => "Startup",
    };
    let ip = ip.map(|i| i.to_string()).unwrap_or_default();
    let detail = match &probe.handler {
        ProbeHandler::HttpGet { path, port } => {
            let port = probe_port(port, container);
            // `pkg/probe/http/http.go`: the client's error, or the status it got.
            match answer {
                Some(ProbeAnswer::Unavailable) => "HTTP probe failed with statuscode: 503".into(),
                Some(ProbeAnswer::Refused) => format!(
                    "Get \"http://{ip}:{port}{path}\": dial tcp {ip}:{port}: connect: connection refused"
                ),
                _ => format!("Get \"http://{ip}:{port}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
            }
        }
        ProbeHandler::TcpSocket { port } => {
            let port = probe_port(port, container);
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
        if pod.deleted.is_some() && !matches!(step, Step::Terminated | Step::PreStopDone { .. }) {
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
                        "Successfully pulled image {image:?} in {took} ({took} including waiting). Image size: {IMAGE_SIZE_BYTES} bytes."
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
            Step::BackOffSync { container, epoch } => {
                self.backoff_sync(now, id, container as usize, epoch);
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
            Step::ProbeDeadline {
                container,
                kind,
                epoch,
            } => self.on_probe_deadline(now, id, container as usize, kind, epoch),
            Step::PreStopDone { container } => {
                if let Some(s) = self.servers[id.index()]
                    .get_mut(container as usize)
                    .and_then(Option::as_mut)
                {
                    s.accepting = false;
                }
                self.maybe_finish_termination(now, id);
            }
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
        k.probing = [None; 3];
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
        p.ready_changed = now;
        self.endpoints_changed();
        if ready {
            self.pod_became_ready(id);
        }
    }

    /// Container `i`'s `kind` probe as its spec defines it.
    fn probe_spec(&self, id: PodId, i: usize, kind: ProbeKind) -> Option<&Probe> {
        self.cluster.pod(id).spec.containers[i].probe(kind)
    }

    fn on_probe(&mut self, now: SimTime, id: PodId, i: usize, kind: ProbeKind, epoch: u32) {
        let pod = self.cluster.pod(id);
        let k = &self.kubelet[id.index()].containers[i];
        if k.epoch != epoch || !matches!(pod.containers[i], ContainerState::Running { .. }) {
            return;
        }
        // Startup probing stops once it passed (a tick may still be due from before).
        if kind == ProbeKind::Startup && k.started_ok {
            return;
        }
        let probe = self
            .probe_spec(id, i, kind)
            .expect("a probe event exists only for a defined probe");
        let (period, timeout) = (probe.period, probe.timeout);
        let http = matches!(probe.handler, ProbeHandler::HttpGet { .. });
        let next = Ev::Kubelet(
            id,
            Step::Probe {
                container: i as u16,
                kind,
                epoch,
            },
        );
        // Liveness and readiness wait for the startup probe.
        let waiting = kind != ProbeKind::Startup && !k.started_ok;
        if waiting {
            self.queue.schedule(now + period, next);
            return;
        }
        let forced = now < k.failing_until[slot(kind)];
        // One out past its deadline is stale: its deadline passed unseen (the node was down).
        let in_flight = k.probing[slot(kind)].is_some_and(|sent| now < sent + timeout);
        let to_server = http && self.servers[id.index()].get(i).is_some_and(Option::is_some);
        if to_server && !forced {
            // An HTTP GET to the container's server: the answer (or the timeout) decides.
            // The prober waits for one probe before it sends the next, so a tick that finds
            // one still out is skipped.
            self.queue.schedule(now + period, next);
            if !in_flight {
                self.send_probe(now, id, i, kind, epoch, timeout);
            }
            return;
        }
        if self.probe_result(now, id, i, kind, !forced, None) {
            self.queue.schedule(now + period, next);
        }
    }

    /// Sends container `i`'s `kind` probe to its server, as the prober does: a new connection
    /// from the node (one same-node hop each way, the handshake first), and a deadline at
    /// `timeoutSeconds` (`pkg/probe/http/http.go`: the client's `Timeout`).
    fn send_probe(
        &mut self,
        now: SimTime,
        id: PodId,
        i: usize,
        kind: ProbeKind,
        epoch: u32,
        timeout: SimDuration,
    ) {
        let one_way = self.latency().same_node;
        let r = self.reqs.insert(Request {
            stream: 0,
            client: epoch,
            sent: now,
            pod: id.0,
            container: i as u16,
            conn: NO_CONN,
            one_way,
            counted: false,
            server_pos: 0,
            generation: 0,
            dp_conn: NO_DP_CONN,
            attempt: 0,
            abandoned: false,
            probe: Some(kind),
        });
        self.kubelet[id.index()].containers[i].probing[slot(kind)] = Some(now);
        self.queue
            .schedule(now + one_way.saturating_mul(3), Ev::ReachPod(r));
        let deadline = Step::ProbeDeadline {
            container: i as u16,
            kind,
            epoch,
        };
        self.queue
            .schedule(now + timeout, Ev::Kubelet(id, deadline));
    }

    /// The probe in flight, if it is the one sent at `sent` in the container's run `epoch`:
    /// taken out (it is decided now).
    fn take_probe(
        &mut self,
        id: PodId,
        i: usize,
        kind: ProbeKind,
        epoch: u32,
        sent: SimTime,
    ) -> bool {
        let k = &mut self.kubelet[id.index()].containers[i];
        let ours = k.epoch == epoch && k.probing[slot(kind)] == Some(sent);
        if ours {
            k.probing[slot(kind)] = None;
        }
        ours
    }

    /// `timeoutSeconds` after a probe was sent: if no answer came, it failed.
    fn on_probe_deadline(
        &mut self,
        now: SimTime,
        id: PodId,
        i: usize,
        kind: ProbeKind,
        epoch: u32,
    ) {
        let Some(timeout) = self.probe_spec(id, i, kind).map(|p| p.timeout) else {
            return;
        };
        let sent = SimTime::from_nanos(now.as_nanos() - timeout.as_nanos());
        if self.take_probe(id, i, kind, epoch, sent) {
            self.probe_result(now, id, i, kind, false, None);
        }
    }

    /// The server's answer to a probe reached the kubelet at `at` (refused and 503 answers
    /// too). Applied now, if no later than the deadline; a later one was already failed.
    #[cold]
    #[inline(never)]
    pub(super) fn probe_answered(&mut self, at: SimTime, req: &Request, answer: ProbeAnswer) {
        let (id, i) = (PodId(req.pod), req.container as usize);
        let kind = req.probe.expect("a probe's request");
        let Some(timeout) = self.probe_spec(id, i, kind).map(|p| p.timeout) else {
            return;
        };
        if at.since(req.sent) > timeout {
            return;
        }
        let pod = self.cluster.pod(id);
        // The kubelet acts on it only while the container runs, on a live node, in a pod that
        // is not being deleted (as its probe events do).
        let acting = matches!(pod.containers[i], ContainerState::Running { .. })
            && pod.deleted.is_none()
            && pod.node.is_some_and(|n| self.cluster.node(n).up);
        if !self.take_probe(id, i, kind, req.client, req.sent) || !acting {
            return;
        }
        let now = self.queue.now();
        self.probe_result(now, id, i, kind, answer == ProbeAnswer::Ok, Some(answer));
    }

    /// The server holding a probe stopped: the kubelet drops it (its container is going).
    #[cold]
    #[inline(never)]
    pub(super) fn probe_forgotten(&mut self, req: &Request) {
        let kind = req.probe.expect("a probe's request");
        self.take_probe(
            PodId(req.pod),
            req.container as usize,
            kind,
            req.client,
            req.sent,
        );
    }

    /// Counts one result of container `i`'s `kind` probe and acts on the thresholds (a
    /// timeout when `answer` is `None`). Returns whether probing goes on: not after a startup
    /// probe passed, nor after a liveness or startup failure killed the container.
    fn probe_result(
        &mut self,
        now: SimTime,
        id: PodId,
        i: usize,
        kind: ProbeKind,
        ok: bool,
        answer: Option<ProbeAnswer>,
    ) -> bool {
        let pod = self.cluster.pod(id);
        let spec = std::sync::Arc::clone(&pod.spec);
        let c = &spec.containers[i];
        let probe = c.probe(kind).expect("a result only for a defined probe");
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
                probe_failure(kind, probe, c, pod.ip, answer),
            );
        }
        match kind {
            ProbeKind::Startup if ok => {
                k.started_ok = true;
                k.ready = c.readiness_probe.is_none();
                self.update_pod_ready(now, id);
                return false;
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
                    return false;
                }
            }
        }
        true
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
        // Not a container of the pod, or not running: a `Warning` event, nothing else.
        if let Some(i) = self.container_to_kill(now, id, container) {
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
                self.controller_pod_changed(id);
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
        self.log_crash_backoff(now, id, i);
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
        // Scheduled after the restart, so that a sync at the very instant of the restart
        // finds the container running and says nothing.
        let container = i as u16;
        self.queue.schedule(
            now + BACKOFF_SYNC,
            Ev::Kubelet(id, Step::BackOffSync { container, epoch }),
        );
    }

    /// `BackOff` for container `i` of pod `id`, as `doBackOff` words it.
    fn log_crash_backoff(&mut self, now: SimTime, id: PodId, i: usize) {
        let pod = self.cluster.pod(id);
        let msg = format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            pod.spec.containers[i].name, pod.meta.name, pod.meta.namespace, pod.uid
        );
        self.log
            .warning(now, format!("pod/{}", pod.meta.name), "BackOff", msg);
    }

    /// A pod sync while container `i` backs off (see [`BACKOFF_SYNC`]): if the container still
    /// waits in `CrashLoopBackOff` from the same exit (`epoch`) and the pod is neither deleted
    /// nor on a stopped node, `BackOff` again and another sync later.
    fn backoff_sync(&mut self, now: SimTime, id: PodId, i: usize, epoch: u32) {
        if self.kubelet[id.index()].containers[i].epoch != epoch {
            return;
        }
        let pod = self.cluster.pod(id);
        let waiting = matches!(
            pod.containers[i],
            ContainerState::Waiting(WaitingReason::CrashLoopBackOff)
        );
        let node_up = pod.node.is_some_and(|n| self.cluster.node(n).up);
        if !waiting || pod.deleted.is_some() || !pod.exists() || !node_up {
            return;
        }
        self.log_crash_backoff(now, id, i);
        let container = i as u16;
        self.queue.schedule(
            now + BACKOFF_SYNC,
            Ev::Kubelet(id, Step::BackOffSync { container, epoch }),
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
    use crate::model::objects::{ContainerPort, Protocol, Resources};

    /// A container `web` with ports `http` (80) and 9090 (no name), probed by `handler`.
    fn probed(handler: ProbeHandler) -> (Container, Probe) {
        let port = |name: Option<&str>, n| ContainerPort {
            name: name.map(str::to_string),
            container_port: n,
            host_port: None,
            protocol: Protocol::Tcp,
        };
        let container = Container {
            name: "web".into(),
            image: "nginx".into(),
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            ports: vec![port(None, 9090), port(Some("http"), 80)],
            requests: Resources::default(),
            limits: Resources::default(),
            readiness_probe: None,
            liveness_probe: None,
            startup_probe: None,
            pre_stop: None,
        };
        let probe = Probe {
            handler,
            initial_delay: SimDuration::ZERO,
            period: SimDuration::from_secs(10),
            timeout: SimDuration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        };
        (container, probe)
    }

    /// A probe on a named port reports the port's number, as the kubelet resolves it before
    /// it dials (`probe.ResolveContainerPort`), for `httpGet` and `tcpSocket` alike.
    #[test]
    fn a_named_probe_port_shows_its_number_in_the_message() {
        let ip = Some(std::net::Ipv4Addr::new(10, 244, 0, 5));
        let (c, p) = probed(ProbeHandler::HttpGet {
            path: "/".into(),
            port: PortRef::Name("http".into()),
        });
        assert_eq!(
            probe_failure(ProbeKind::Readiness, &p, &c, ip, Some(ProbeAnswer::Refused)),
            "Readiness probe failed: Get \"http://10.244.0.5:80/\": dial tcp 10.244.0.5:80: connect: connection refused"
        );
        assert_eq!(
            probe_failure(ProbeKind::Liveness, &p, &c, ip, None),
            "Liveness probe failed: Get \"http://10.244.0.5:80/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        );
        let (c, p) = probed(ProbeHandler::TcpSocket {
            port: PortRef::Name("http".into()),
        });
        assert_eq!(
            probe_failure(ProbeKind::Startup, &p, &c, ip, None),
            "Startup probe failed: dial tcp 10.244.0.5:80: i/o timeout"
        );
        // A number is shown as written; a name the container does not declare stays a name.
        let (c, p) = probed(ProbeHandler::TcpSocket {
            port: PortRef::Number(9090),
        });
        assert_eq!(
            probe_failure(ProbeKind::Liveness, &p, &c, ip, None),
            "Liveness probe failed: dial tcp 10.244.0.5:9090: i/o timeout"
        );
        assert_eq!(probe_port(&PortRef::Name("admin".into()), &c), "admin");
    }

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
