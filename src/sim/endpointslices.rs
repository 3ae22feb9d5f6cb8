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

use super::apiserver::ApiServer;
use crate::engine::FxHashMap;
use crate::model::cluster::{Cluster, PodId};
use crate::model::objects::service_selects;

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
    /// Takes in the pods touched since the last call and any change to the Services.
    pub fn refresh(&mut self, api: &ApiServer, cluster: &mut Cluster) {
        let touched = cluster.take_touched();
        if self.seen_version != Some(api.version) {
            self.reselect(api, cluster);
            return;
        }
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
                    if !self.changed[s] {
                        self.changed[s] = true;
                        self.changed_list.push(s);
                    }
                }
            }
        }
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
