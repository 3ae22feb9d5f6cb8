//! The EndpointSlice controller's view of which pods back each Service, kept up to date as pods
//! change instead of recomputed from every pod.
//!
//! Upstream's controller (`pkg/controller/endpointslice`) watches pods and Services and
//! reconciles each Service whose pods changed. Here the same: the cluster notes every pod it
//! changes ([`Cluster::take_touched`]), and [`EndpointSlices::refresh`] looks at those pods
//! only, through an index from a selector's first label to the Services that hold it, so a pod
//! change costs the Services that may select it, not every Service times every pod. A change
//! to the Services themselves (created, deleted, updated) makes it select again from scratch.
//! What each endpoint looks like (address, conditions) is read by kube-proxy's side
//! (`dataplane`) for the Services marked changed.
//!
//! Each Service's endpoints are also cut into EndpointSlices of at most
//! [`MAX_ENDPOINTS_PER_SLICE`], placed as upstream's reconciler places them
//! ([`reconcile_slices`]), so a change touches the slices that hold the changed endpoints, not
//! every slice. kube-proxy merges a Service's slices into one list, so the cut changes no rule.

use super::apiserver::ApiServer;
use crate::engine::{FxHashMap, SimRng};
use crate::model::cluster::{Cluster, PodId};
use crate::model::objects::service_selects;

/// `--max-endpoints-per-slice` default (`cmd/kube-controller-manager/app/options/
/// endpointslicecontroller.go`: "Defaults to 100").
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// One EndpointSlice: its name (`<service>-<5 random characters>`, the API server's
/// `generateName`) and the pods of its endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSlice {
    pub name: String,
    pub pods: Vec<PodId>,
}

/// Which live pods each Service selects, and which Services changed since they were last read.
#[derive(Debug, Default)]
pub(super) struct EndpointSlices {
    /// The [`ApiServer::version`] the selections are for; `None` before the first refresh.
    seen_version: Option<u64>,
    /// `selected[s]`: the live pods Service `s` (of `api.services`) selects, in creation order.
    selected: Vec<Vec<PodId>>,
    /// `(namespace, key, value)` of a selector's first label → the Services with that selector.
    /// Only looked up, never iterated.
    by_label: FxHashMap<(String, String, String), Vec<usize>>,
    /// Services whose selected pods changed (or may have) since [`take_changed`](Self::take_changed):
    /// a flag per Service and the list of those flagged.
    changed: Vec<bool>,
    changed_list: Vec<usize>,
    /// Every Service changed (the Services themselves did).
    all_changed: bool,
    /// Each Service's EndpointSlices (by Service name, as slices outlive a reordering of the
    /// Services), and the stream their names are drawn from.
    slices: FxHashMap<(String, String), Vec<EndpointSlice>>,
    rng: Option<SimRng>,
}

/// Which Services changed since they were last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Changed {
    /// The Services themselves changed: everything must be read again.
    All,
    /// These Services (indices into `api.services`), sorted.
    Some(Vec<usize>),
}

impl EndpointSlices {
    /// An empty controller whose slice names come from `rng`.
    pub fn new(rng: SimRng) -> EndpointSlices {
        EndpointSlices {
            rng: Some(rng),
            ..EndpointSlices::default()
        }
    }

    /// Takes in the pods touched since the last call and any change to the Services, and
    /// reconciles the slices of the Services that changed.
    pub fn refresh(&mut self, api: &ApiServer, cluster: &mut Cluster) {
        let touched = cluster.take_touched();
        if self.seen_version != Some(api.version) {
            self.reselect(api, cluster);
            self.slices.retain(|(ns, name), _| {
                api.services
                    .iter()
                    .any(|s| s.obj.meta.namespace == *ns && s.obj.meta.name == *name)
            });
            for s in 0..api.services.len() {
                self.reconcile(api, cluster, s);
            }
            return;
        }

        // (Service, pod) for every selection a touched pod may have changed.
        let mut now_changed: Vec<(usize, PodId)> = Vec::new();
        for id in touched {
            let pod = cluster.pod(id);
            let ns = &pod.meta.namespace;
            for (k, v) in &pod.meta.labels {
                let Some(services) = self.by_label.get(&(ns.clone(), k.clone(), v.clone())) else {
                    continue;
                };
                for &s in services {
                    if !service_selects(&api.services[s].obj.spec.selector, &pod.meta.labels) {
                        continue;
                    }
                    let sel = &mut self.selected[s];
                    match (sel.binary_search(&id), pod.exists()) {
                        (Err(at), true) => sel.insert(at, id),
                        (Ok(at), false) => {
                            sel.remove(at);
                        }
                        _ => {}
                    }
                    now_changed.push((s, id));
                    if !self.changed[s] {
                        self.changed[s] = true;
                        self.changed_list.push(s);
                    }
                }
            }
        }
        // The slices of the Services whose pods changed in this pass, from those pods only.
        now_changed.sort_unstable();
        now_changed.dedup();
        for group in now_changed.chunk_by(|a, b| a.0 == b.0) {
            let pods: Vec<PodId> = group.iter().map(|&(_, p)| p).collect();
            self.reconcile_touched(api, cluster, group[0].0, &pods);
        }
    }

    /// [`reconcile`](Self::reconcile) when only `touched` (sorted) may have changed among
    /// Service `s`'s endpoints: the same slices, at a cost of the touched pods times a scan of
    /// the Service's slices instead of sets of all its endpoints (a Service of 11,000 pods
    /// starting one by one made that quadratic).
    fn reconcile_touched(
        &mut self,
        api: &ApiServer,
        cluster: &Cluster,
        s: usize,
        touched: &[PodId],
    ) {
        let svc = &api.services[s].obj;
        if svc.spec.selector.is_empty() {
            return;
        }
        let selected = &self.selected[s];
        let desired = |p: PodId| selected.binary_search(&p).is_ok() && cluster.pod(p).ip.is_some();
        let (slices, name) = slices_of_service(&mut self.slices, &mut self.rng, svc);
        reconcile_touched_slices(slices, touched, desired, name);
    }

    /// Brings Service `s`'s slices in line with its endpoints: the selected pods that have an
    /// address.
    fn reconcile(&mut self, api: &ApiServer, cluster: &Cluster, s: usize) {
        let svc = &api.services[s].obj;
        if svc.spec.selector.is_empty() {
            return;
        }
        let desired: Vec<PodId> = self.selected[s]
            .iter()
            .copied()
            .filter(|&p| cluster.pod(p).ip.is_some())
            .collect();
        let (slices, name) = slices_of_service(&mut self.slices, &mut self.rng, svc);
        reconcile_slices(slices, &desired, name);
    }

    /// Service `namespace/name`'s EndpointSlices, as of the last refresh.
    pub fn slices_of(&self, namespace: &str, name: &str) -> &[EndpointSlice] {
        self.slices
            .get(&(namespace.to_string(), name.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// Selects from scratch: every Service against every live pod, through the label index.
    fn reselect(&mut self, api: &ApiServer, cluster: &Cluster) {
        self.seen_version = Some(api.version);
        self.by_label.clear();
        for (s, svc) in api.services.iter().enumerate() {
            let spec = &svc.obj.spec;
            // An empty selector selects nothing (the Service's endpoints are managed by hand).
            if let Some((k, v)) = spec.selector.iter().next() {
                self.by_label
                    .entry((svc.obj.meta.namespace.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(s);
            }
        }
        self.selected = vec![Vec::new(); api.services.len()];
        for (id, pod) in cluster.live_pods() {
            let ns = &pod.meta.namespace;
            for (k, v) in &pod.meta.labels {
                let Some(services) = self.by_label.get(&(ns.clone(), k.clone(), v.clone())) else {
                    continue;
                };
                for &s in services {
                    if service_selects(&api.services[s].obj.spec.selector, &pod.meta.labels) {
                        self.selected[s].push(id);
                    }
                }
            }
        }
        self.changed = vec![false; api.services.len()];
        self.changed_list.clear();
        self.all_changed = true;
    }

    /// The live pods Service `s` selects, in creation order (as of the last refresh).
    pub fn selected(&self, s: usize) -> &[PodId] {
        self.selected.get(s).map_or(&[], Vec::as_slice)
    }

    /// Which Services changed since the last call.
    pub fn take_changed(&mut self) -> Changed {
        let mut list = std::mem::take(&mut self.changed_list);
        for &s in &list {
            self.changed[s] = false;
        }
        if std::mem::take(&mut self.all_changed) {
            return Changed::All;
        }
        list.sort_unstable();
        Changed::Some(list)
    }

    /// Whether any Service changed since the last [`take_changed`](Self::take_changed).
    pub fn any_changed(&self) -> bool {
        self.all_changed || !self.changed_list.is_empty()
    }
}

/// Service `svc`'s slices, and the maker of its new slices' names (`<service>-<5 random
/// characters>`, the API server's `generateName`, from `rng`).
fn slices_of_service<'a>(
    slices: &'a mut FxHashMap<(String, String), Vec<EndpointSlice>>,
    rng: &'a mut Option<SimRng>,
    svc: &'a crate::model::objects::ServiceObject,
) -> (&'a mut Vec<EndpointSlice>, impl FnMut() -> String + 'a) {
    let key = (svc.meta.namespace.clone(), svc.meta.name.clone());
    let rng = rng.as_mut().expect("made with a name stream");
    let name = move || crate::model::names::generate_name(&format!("{}-", svc.meta.name), rng);
    (slices.entry(key).or_default(), name)
}

/// Places a Service's endpoints (`desired`, in any order) into its slices as upstream's
/// reconciler does (`staging/src/k8s.io/endpointslice/reconciler.go`,
/// `reconcileByPortMapping`): endpoints no longer wanted leave their slice (a slice left empty
/// is deleted); the new ones fill the slices changed in this pass first, fullest first, then
/// the unchanged slice closest to full that can take them all, then new slices of at most
/// [`MAX_ENDPOINTS_PER_SLICE`]; nothing is rebalanced. With no endpoint at all one empty
/// placeholder slice remains. `name` gives a new slice its name.
pub fn reconcile_slices(
    slices: &mut Vec<EndpointSlice>,
    desired: &[PodId],
    name: impl FnMut() -> String,
) {
    let want: std::collections::BTreeSet<PodId> = desired.iter().copied().collect();
    let mut placed = std::collections::BTreeSet::new();
    // Endpoints no longer wanted leave their slice, then the new ones are placed.
    let kept = strip(std::mem::take(slices), |sl| {
        sl.pods.retain(|p| want.contains(p) && placed.insert(*p));
    });
    let rest: Vec<PodId> = want
        .iter()
        .copied()
        .filter(|p| !placed.contains(p))
        .collect();
    *slices = place(kept, rest, name);
}

/// [`reconcile_slices`] when, of the pods `desired` says are the endpoints, only `touched` may
/// differ from what the slices hold: the same slices, at a cost of the touched pods times a
/// scan of the slices.
pub fn reconcile_touched_slices(
    slices: &mut Vec<EndpointSlice>,
    touched: &[PodId],
    desired: impl Fn(PodId) -> bool,
    name: impl FnMut() -> String,
) {
    let placed = |slices: &[EndpointSlice], p: PodId| slices.iter().any(|sl| sl.pods.contains(&p));
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for &p in touched {
        match (placed(slices, p), desired(p)) {
            (true, false) => removed.push(p),
            (false, true) => added.push(p),
            _ => {}
        }
    }
    if removed.is_empty() && added.is_empty() && !slices.is_empty() {
        return;
    }
    removed.sort_unstable();
    added.sort_unstable();
    let kept = strip(std::mem::take(slices), |sl| {
        sl.pods.retain(|p| removed.binary_search(p).is_err());
    });
    *slices = place(kept, added, name);
}

/// The first half of [`reconcile_slices`]: `remove` takes the endpoints no longer wanted out
/// of each slice; a slice that lost some changed, and one it left empty is deleted.
fn strip(
    slices: Vec<EndpointSlice>,
    mut remove: impl FnMut(&mut EndpointSlice),
) -> Vec<(EndpointSlice, bool)> {
    let mut kept = Vec::new();
    for mut sl in slices {
        let n = sl.pods.len();
        remove(&mut sl);
        let changed = sl.pods.len() != n;
        if !(changed && sl.pods.is_empty()) {
            kept.push((sl, changed));
        }
    }
    kept
}

/// The second half of [`reconcile_slices`]: `rest` (sorted, none of them in a slice) placed
/// into the slices `kept` (each with whether it changed in this pass).
fn place(
    mut kept: Vec<(EndpointSlice, bool)>,
    rest: Vec<PodId>,
    mut name: impl FnMut() -> String,
) -> Vec<EndpointSlice> {
    let mut rest = rest.into_iter();
    // The slices changed in this pass fill up first, the fullest first.
    let mut order: Vec<usize> = (0..kept.len()).filter(|&i| kept[i].1).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(kept[i].0.pods.len()));
    for i in order {
        while kept[i].0.pods.len() < MAX_ENDPOINTS_PER_SLICE {
            match rest.next() {
                Some(p) => kept[i].0.pods.push(p),
                None => break,
            }
        }
    }
    let mut rest: Vec<PodId> = rest.collect();
    if !rest.is_empty() && rest.len() < MAX_ENDPOINTS_PER_SLICE {
        // Fewer than a slice's worth: the unchanged slice closest to full that takes them all.
        let fit = (0..kept.len())
            .filter(|&i| !kept[i].1 && kept[i].0.pods.len() + rest.len() <= MAX_ENDPOINTS_PER_SLICE)
            .max_by_key(|&i| (kept[i].0.pods.len(), std::cmp::Reverse(i)));
        if let Some(i) = fit {
            kept[i].0.pods.append(&mut rest);
        }
    }
    for chunk in rest.chunks(MAX_ENDPOINTS_PER_SLICE) {
        kept.push((
            EndpointSlice {
                name: name(),
                pods: chunk.to_vec(),
            },
            true,
        ));
    }
    if kept.is_empty() {
        kept.push((
            EndpointSlice {
                name: name(),
                pods: Vec::new(),
            },
            true,
        ));
    }
    kept.into_iter().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(r: std::ops::Range<u32>) -> Vec<PodId> {
        r.map(PodId).collect()
    }

    fn sizes(s: &[EndpointSlice]) -> Vec<usize> {
        s.iter().map(|x| x.pods.len()).collect()
    }

    /// Reconciling only the touched pods gives exactly the slices (and names) a reconcile of
    /// the whole list gives, over random changes of up to 250 of 600 pods, small and large.
    #[test]
    fn reconciling_the_touched_pods_equals_reconciling_all() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut whole, mut part) = (Vec::new(), Vec::new());
        let mut want = vec![false; 600];
        let (mut n1, mut n2) = (0u32, 0u32);
        for step in 0..400 {
            let changes = if step % 10 == 0 {
                rand() % 250
            } else {
                rand() % 4
            };
            let mut touched: Vec<PodId> = (0..=changes)
                .map(|_| {
                    let p = (rand() % 600) as u32;
                    if rand() % 3 != 0 {
                        want[p as usize] = !want[p as usize];
                    }
                    PodId(p)
                })
                .collect();
            touched.sort_unstable();
            touched.dedup();
            let desired: Vec<PodId> = (0..600u32)
                .filter(|&p| want[p as usize])
                .map(PodId)
                .collect();
            reconcile_slices(&mut whole, &desired, || {
                n1 += 1;
                format!("s-{n1}")
            });
            reconcile_touched_slices(
                &mut part,
                &touched,
                |p| want[p.0 as usize],
                || {
                    n2 += 1;
                    format!("s-{n2}")
                },
            );
            assert_eq!(part, whole, "step {step}");
        }
    }

    #[test]
    fn endpoints_are_cut_into_slices_of_at_most_100_and_change_slice_by_slice() {
        let mut n = 0;
        let mut name = || {
            n += 1;
            format!("web-{n}")
        };
        let mut slices = Vec::new();
        reconcile_slices(&mut slices, &pods(0..250), &mut name);
        assert_eq!(sizes(&slices), [100, 100, 50]);
        // One endpoint goes and its replacement comes: only the slice that held it changes.
        let before = slices.clone();
        let mut desired = pods(0..250);
        desired.retain(|p| p.0 != 150);
        desired.push(PodId(250));
        reconcile_slices(&mut slices, &desired, &mut name);
        assert_eq!(sizes(&slices), [100, 100, 50]);
        assert_eq!(slices[0], before[0]);
        assert_eq!(slices[2], before[2]);
        assert!(slices[1].pods.contains(&PodId(250)) && !slices[1].pods.contains(&PodId(150)));
        // Ten more: the unchanged slice closest to full that can take them all.
        let mut more = desired.clone();
        more.extend(pods(251..261));
        reconcile_slices(&mut slices, &more, &mut name);
        assert_eq!(sizes(&slices), [100, 100, 60]);
        // 150 more: new slices, nothing rebalanced.
        more.extend(pods(261..411));
        reconcile_slices(&mut slices, &more, &mut name);
        assert_eq!(sizes(&slices), [100, 100, 60, 100, 50]);
        assert_eq!(slices[3].name, "web-4");
        // All gone: one empty placeholder.
        reconcile_slices(&mut slices, &[], &mut name);
        assert_eq!(sizes(&slices), [0]);
    }
}
