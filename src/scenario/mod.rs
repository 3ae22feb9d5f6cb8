//! Loading and validating scenario YAML into a [`sim::Scenario`](crate::sim::Scenario).
//!
//! A scenario file holds one `kind: Scenario` document (`apiVersion: kubesim.dev/v1alpha1`)
//! and Kubernetes objects written exactly as for `kubectl apply`, inline or in the files of
//! `spec.manifests`. Objects are parsed with `k8s-openapi`'s real types, checked with the API
//! server's own validation messages (`The Service "x" is invalid: ...`), defaulted as upstream
//! defaults them, and converted into the model's types; every problem is collected with its
//! file, line and column before the load fails, and unknown keys become warnings naming their
//! path. A [`SourceMap`] keeps where each object's fields were written, so that later stages
//! (the simulated API server's allocation conflicts) can point at them too.
//!
//! It knows YAML, files and the API's static rules. It does not know what happens when the
//! objects are applied: allocation of ClusterIPs and NodePorts and their conflicts, names
//! already taken, namespaces that do not exist, scheduling, or anything about the run.

mod convert;
mod diag;
pub mod generate;
mod overrides;
pub mod quantity;
mod spec;
pub mod validate;
mod yaml;

pub use diag::{Diagnostic, Diagnostics, Severity, SourceMap};
pub use overrides::Override;
pub use spec::{parse_destination, parse_rate, parse_selector};
pub use yaml::Pos;

use crate::model::objects::Object;
use crate::sim::config::Scenario;
use diag::ObjectSource;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use std::path::{Path, PathBuf};
use validate::FieldError;
use yaml::{Doc, PosMap};

/// A scenario that passed every check, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
    /// Where each of `scenario.objects` was written.
    pub sources: SourceMap,
}

/// Loads the scenario file at `path`; manifests and data files are found relative to it.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    load_with(path, &[])
}

/// Loads the scenario file at `path` with `--set` overrides applied to its YAML before
/// anything is parsed (see the `overrides` module): every check applies to the new values.
pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic::error(
            &file,
            0,
            0,
            format!("cannot read scenario: {e}"),
        )])
    })?;
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    load_str_with(&text, &file, &base, overrides)
}

/// Loads scenario text as if read from `file_name` in `base_dir`.
pub fn load_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Loaded, Diagnostics> {
    load_str_with(text, file_name, base_dir, &[])
}

/// [`load_str`] with `--set` overrides.
pub fn load_str_with(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Loaded, Diagnostics> {
    let mut l = Loader {
        diags: Vec::new(),
        files: vec![file_name.to_string()],
        overrides: overrides.to_vec(),
        used: vec![false; overrides.len()],
        notes: Vec::new(),
        rejected: spec::Rejected::default(),
    };
    let mut pending = Vec::new();
    let mut scenario_doc: Option<(Doc, PosMap, serde_yaml::Value)> = None;
    for mut doc in yaml::split_documents(text) {
        match l.document(&mut doc, file_name, &mut pending) {
            Some((pos, v)) if scenario_doc.is_none() => scenario_doc = Some((doc, pos, v)),
            Some((pos, _)) => l.at(file_name, doc.line_offset, &pos, "kind", |m| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    format!("{m}: a second Scenario document: only one is allowed"),
                )
            }),
            None => {}
        }
    }
    let resolved = match &scenario_doc {
        None => {
            l.diags.push(Diagnostic::error(
                file_name,
                1,
                1,
                format!(
                    "no Scenario document: add one with `apiVersion: {}` and `kind: Scenario`",
                    spec::API_VERSION
                ),
            ));
            None
        }
        Some((doc, pos, _)) => l.scenario(doc, pos, file_name, base_dir),
    };
    if let Some(r) = &resolved {
        for (m, field) in &r.manifests {
            let (pos, off) = scenario_doc
                .as_ref()
                .map(|(d, p, _)| (p, d.line_offset))
                .expect("resolved");
            let path = base_dir.join(m);
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Err(e) => {
                    let at = pos.locate(field).unwrap_or(Pos { line: 1, col: 1 });
                    l.diags.push(Diagnostic::error(
                        file_name,
                        at.line + off,
                        at.col,
                        format!("{field}: cannot read manifest {shown}: {e}"),
                    ));
                }
                Ok(t) => {
                    l.files.push(shown.clone());
                    for mut doc in yaml::split_documents(&t) {
                        if let Some((p, _)) = l.document(&mut doc, &shown, &mut pending) {
                            l.at(&shown, doc.line_offset, &p, "kind", |m| {
                                Diagnostic::error("", 0, 0, format!("{m}: a Scenario document in a manifest file: it belongs in the scenario file"))
                            });
                        }
                    }
                }
            }
        }
    }
    let cidr = resolved.as_ref().map_or_else(
        || crate::net::config::NetConfig::default().service_cidr,
        |r| r.scenario.net.service_cidr,
    );
    let mut objects = Vec::new();
    let mut sources = SourceMap::default();
    for p in pending {
        if let Some(o) = l.object(&p, cidr) {
            objects.push(o);
            sources.objects.push(ObjectSource {
                file: p.file,
                line_offset: p.line_offset,
                prefix: p.prefix,
                positions: p.positions,
            });
        }
    }
    // Timeline events: `apply` objects go through the same parsing, validation and
    // conversion as the documents; then the Deployments and Services that events name are
    // checked against the objects.
    let mut timeline = Vec::new();
    if let (Some(r), Some((doc, pos, _))) = (&resolved, &scenario_doc) {
        let mut events = Vec::new();
        for e in &r.events {
            let obj = match e.action {
                spec::EventAction::Apply => {
                    l.inline_object(doc, pos, file_name, &format!("{}.apply", e.path), cidr)
                }
                spec::EventAction::Ready(_) => None,
            };
            events.push((e.clone(), obj));
        }
        let mut ctx = spec::Ctx {
            file: file_name,
            line_offset: doc.line_offset,
            pos,
            diags: &mut l.diags,
        };
        timeline = spec::finish_events(&mut ctx, events, &objects, &l.rejected);
    }
    for (o, used) in l.overrides.iter().zip(&l.used) {
        if !used {
            l.diags.push(Diagnostic::error(
                file_name,
                0,
                0,
                format!("{}: {}", o.shown(), overrides::describe_missing(o)),
            ));
        }
    }
    for d in &mut l.diags {
        for (file, line, note) in &l.notes {
            if d.file == *file && d.line == *line && !d.message.contains(note.as_str()) {
                d.message = format!("{} ({note})", d.message);
            }
        }
    }
    let files = l.files;
    let mut diags = l.diags;
    diags.sort_by_key(|d| {
        (
            files
                .iter()
                .position(|f| *f == d.file)
                .unwrap_or(usize::MAX),
            d.line,
            d.column,
        )
    });
    if diags.iter().any(Diagnostic::is_error) || resolved.is_none() {
        return Err(Diagnostics(diags));
    }
    let mut scenario = resolved.expect("checked").scenario;
    scenario.objects = objects;
    scenario.events = timeline;
    Ok(Loaded {
        scenario,
        warnings: diags,
        sources,
    })
}

/// A Kubernetes object parsed but not yet validated.
struct Pending {
    file: String,
    line_offset: usize,
    prefix: String,
    positions: PosMap,
    kind: &'static str,
    namespace: String,
    name: String,
    value: K8s,
}

enum K8s {
    Deployment(Box<apps::Deployment>),
    ReplicaSet(Box<apps::ReplicaSet>),
    Pod(Box<core::Pod>),
    Service(Box<core::Service>),
    Namespace(Box<core::Namespace>),
}

struct Loader {
    diags: Vec<Diagnostic>,
    files: Vec<String>,
    /// `--set` overrides, and whether each has found its field.
    overrides: Vec<Override>,
    used: Vec<bool>,
    /// Lines an override changed, `(file, line, note)`: diagnostics there name the override.
    notes: Vec<(String, usize, String)>,
    /// Objects written but rejected, so that events naming them are not reported again.
    rejected: spec::Rejected,
}

/// The kinds kubesim simulates, with the apiVersion each must carry.
const SIMULATED: [(&str, &str); 5] = [
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("Pod", "v1"),
    ("Service", "v1"),
    ("Namespace", "v1"),
];

/// An object's namespace as written, `default` when it names none.
fn namespace_of(v: &serde_yaml::Value) -> &str {
    str_at(v, &["metadata", "namespace"]).unwrap_or("default")
}

fn str_at<'a>(v: &'a serde_yaml::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str()
}

impl Loader {
    /// Records that the object in `value` was rejected (its error is reported).
    fn reject(&mut self, value: &serde_yaml::Value) {
        let kind = str_at(value, &["kind"]).unwrap_or("");
        let name = str_at(value, &["metadata", "name"]).unwrap_or("");
        self.rejected.add(kind, namespace_of(value), name);
    }

    /// Pushes a diagnostic located at `path` of a document (or its nearest ancestor).
    fn at(
        &mut self,
        file: &str,
        line_offset: usize,
        pos: &PosMap,
        path: &str,
        make: impl FnOnce(&str) -> Diagnostic,
    ) {
        let p = pos.locate(path).unwrap_or(Pos { line: 1, col: 1 });
        let mut d = make(path);
        d.file = file.to_string();
        d.line = p.line + line_offset;
        d.column = p.col;
        self.diags.push(d);
    }

    /// Parses one document: Kubernetes objects go to `pending`; a Scenario document is
    /// returned for the caller.
    fn document(
        &mut self,
        doc: &mut Doc,
        file: &str,
        pending: &mut Vec<Pending>,
    ) -> Option<(PosMap, serde_yaml::Value)> {
        let mut value: serde_yaml::Value = match serde_yaml::from_str(&doc.text) {
            Ok(v) => v,
            Err(e) => {
                let (msg, p) = yaml::yaml_error(&e);
                let p = p.unwrap_or(Pos { line: 1, col: 1 });
                self.diags.push(Diagnostic::error(
                    file,
                    p.line + doc.line_offset,
                    p.col,
                    msg,
                ));
                self.rejected.add_unknown();
                return None;
            }
        };
        if value.is_null() {
            return None;
        }
        if !self.overrides.is_empty() && value.is_mapping() {
            let edits = overrides::apply(doc, &value, &self.overrides, &mut self.used);
            doc.inserted = edits.inserted;
            for e in edits.errors {
                self.diags.push(Diagnostic::error(file, 0, 0, e));
            }
            for t in edits.touched {
                self.notes
                    .push((file.to_string(), t.doc_line + doc.line_offset, t.note));
            }
            match serde_yaml::from_str(&doc.text) {
                Ok(v) => value = v,
                Err(e) => {
                    let (msg, p) = yaml::yaml_error(&e);
                    let p = p.unwrap_or(Pos { line: 1, col: 1 });
                    self.diags.push(Diagnostic::error(
                        file,
                        doc.original_line(p.line) + doc.line_offset,
                        p.col,
                        msg,
                    ));
                    self.rejected.add_unknown();
                    return None;
                }
            }
        }
        let mut pos = PosMap::build(&doc.text);
        pos.unshift(doc);
        if !value.is_mapping() {
            self.at(file, doc.line_offset, &pos, "", |_| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    "expected a mapping: a Kubernetes object or the Scenario",
                )
            });
            self.rejected.add_unknown();
            return None;
        }
        if str_at(&value, &["kind"]) == Some("Scenario") {
            return Some((pos, value));
        }
        self.object_doc(&doc.text, doc.line_offset, file, &pos, "", &value, pending);
        None
    }

    /// One object (or a `List` of them) at `prefix` of a document whose text is `text`.
    #[allow(clippy::too_many_arguments)]
    fn object_doc(
        &mut self,
        text: &str,
        line_offset: usize,
        file: &str,
        pos: &PosMap,
        prefix: &str,
        value: &serde_yaml::Value,
        pending: &mut Vec<Pending>,
    ) {
        let join = |f: &str| join_path(prefix, f);
        let kind = str_at(value, &["kind"]).unwrap_or("");
        let api_version = str_at(value, &["apiVersion"]).unwrap_or("");
        if kind.is_empty() || api_version.is_empty() {
            let mut missing = Vec::new();
            if api_version.is_empty() {
                missing.push("apiVersion not set");
            }
            if kind.is_empty() {
                missing.push("kind not set");
            }
            self.at(file, line_offset, pos, prefix, |_| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    format!("error validating data: [{}]", missing.join(", ")),
                )
            });
            self.reject(value);
            return;
        }
        if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
            let Some(items) = value.get("items").and_then(|i| i.as_sequence()) else {
                if value.get("items").is_some_and(|i| !i.is_null()) {
                    self.at(file, line_offset, pos, &join("items"), |p| {
                        Diagnostic::error("", 0, 0, format!("{p}: expected a list of objects"))
                    });
                }
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let ip = join(&format!("items[{i}]"));
                if !item.is_mapping() {
                    self.at(file, line_offset, pos, &ip, |p| {
                        Diagnostic::error("", 0, 0, format!("{p}: expected an object"))
                    });
                    continue;
                }
                let Some(node) = pos.get(&ip) else { continue };
                // Each item is parsed from its own text, laid out at its lines and columns.
                let (item_text, before) = yaml::cut_node(text, node);
                // Positions stay those of the whole document, under the item's prefix.
                self.object_at(
                    &item_text,
                    before,
                    line_offset,
                    file,
                    pos,
                    &ip,
                    item,
                    pending,
                );
            }
            return;
        }
        self.object_at(text, 0, line_offset, file, pos, prefix, value, pending);
    }

    /// Parses one object with its `k8s-openapi` type. `text` is laid out with `text_lines`
    /// lines before it in the document, which has `line_offset` lines before it in `file`.
    #[allow(clippy::too_many_arguments)]
    fn object_at(
        &mut self,
        text: &str,
        text_lines: usize,
        line_offset: usize,
        file: &str,
        pos: &PosMap,
        prefix: &str,
        value: &serde_yaml::Value,
        pending: &mut Vec<Pending>,
    ) {
        let join = |f: &str| join_path(prefix, f);
        let kind = str_at(value, &["kind"]).unwrap_or("");
        let api_version = str_at(value, &["apiVersion"]).unwrap_or("");
        let name = str_at(value, &["metadata", "name"])
            .unwrap_or("")
            .to_string();
        let Some(&(kind, want)) = SIMULATED.iter().find(|(k, _)| *k == kind) else {
            let shown = if name.is_empty() {
                String::new()
            } else {
                format!(" {name:?}")
            };
            self.at(file, line_offset, pos, &join("kind"), |_| {
                Diagnostic::warning(
                    "",
                    0,
                    0,
                    format!("skipping {kind}{shown} ({api_version}): kind not simulated; kubesim simulates Deployment, ReplicaSet, Pod, Service and Namespace"),
                )
            });
            return;
        };
        if api_version != want {
            self.at(file, line_offset, pos, &join("apiVersion"), |_| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    format!("no matches for kind {kind:?} in version {api_version:?} (use apiVersion: {want})"),
                )
            });
            self.reject(value);
            return;
        }
        let mut unknown = Vec::new();
        let parsed = match kind {
            "Deployment" => typed(text, &mut unknown).map(|v| K8s::Deployment(Box::new(v))),
            "ReplicaSet" => typed(text, &mut unknown).map(|v| K8s::ReplicaSet(Box::new(v))),
            "Pod" => typed(text, &mut unknown).map(|v| K8s::Pod(Box::new(v))),
            "Service" => typed(text, &mut unknown).map(|v| K8s::Service(Box::new(v))),
            _ => typed(text, &mut unknown).map(|v| K8s::Namespace(Box::new(v))),
        };
        // Server-set fields of `kubectl get -o yaml` exports are ignored without a word.
        for u in unknown {
            if u == "status" || u.starts_with("status.") || u.starts_with("metadata.managedFields")
            {
                continue;
            }
            // The whole path, so a field of a List item or an `apply` event is unambiguous.
            let path = join(&u);
            self.at(file, line_offset, pos, &path, |p| {
                Diagnostic::warning("", 0, 0, format!("unknown field {p:?}"))
            });
        }
        match parsed {
            Ok(v) => pending.push(Pending {
                file: file.to_string(),
                line_offset,
                prefix: prefix.to_string(),
                positions: pos.clone(),
                kind,
                namespace: namespace_of(value).to_string(),
                name,
                value: v,
            }),
            Err(e) => {
                self.reject(value);
                let (msg, p) = yaml::yaml_error(&e);
                // A missing required field is what the API server reports as `Required value`.
                if let Some((path, field)) = missing_field(&msg) {
                    let fe = validate::required(&path_join(&path, &field), "");
                    let message =
                        validate::invalid_object_message(kind, &name, std::slice::from_ref(&fe));
                    self.at(file, line_offset, pos, &join(&fe.path), |_| {
                        Diagnostic::error("", 0, 0, message)
                    });
                    return;
                }
                let p = p.unwrap_or(Pos { line: 1, col: 1 });
                let shown = if name.is_empty() {
                    kind.to_string()
                } else {
                    format!("{kind} {name:?}")
                };
                self.diags.push(Diagnostic::error(
                    file,
                    p.line + text_lines + line_offset,
                    p.col,
                    format!("{shown} cannot be handled as a {kind}: {msg}"),
                ));
            }
        }
    }

    /// The Kubernetes object written inline at `path` of the Scenario document (an `apply`
    /// event), parsed, validated and converted as a document of its own would be, with
    /// positions and unknown-field warnings under `path`.
    fn inline_object(
        &mut self,
        doc: &Doc,
        pos: &PosMap,
        file: &str,
        path: &str,
        service_cidr: ipnet::Ipv4Net,
    ) -> Option<Object> {
        let node = pos.get(path)?;
        let (text, before) = yaml::cut_node(&doc.text, node);
        // It parsed as part of the document, so it parses alone.
        let value: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
        let kind = str_at(&value, &["kind"]).unwrap_or("");
        let api_version = str_at(&value, &["apiVersion"]).unwrap_or("");
        if kind.is_empty() || api_version.is_empty() {
            let mut missing = Vec::new();
            if api_version.is_empty() {
                missing.push("apiVersion not set");
            }
            if kind.is_empty() {
                missing.push("kind not set");
            }
            self.at(file, doc.line_offset, pos, path, |p| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    format!("{p}: error validating data: [{}]", missing.join(", ")),
                )
            });
            self.reject(&value);
            return None;
        }
        if kind.ends_with("List") {
            self.at(file, doc.line_offset, pos, &format!("{path}.kind"), |p| {
                Diagnostic::error(
                    "",
                    0,
                    0,
                    format!(
                        "{p}: apply takes one object, not a {kind}: write one event per object"
                    ),
                )
            });
            return None;
        }
        let mut pending = Vec::new();
        self.object_at(
            &text,
            before,
            doc.line_offset,
            file,
            pos,
            path,
            &value,
            &mut pending,
        );
        let p = pending.pop()?;
        self.object(&p, service_cidr)
    }

    fn scenario(
        &mut self,
        doc: &Doc,
        pos: &PosMap,
        file: &str,
        base_dir: &Path,
    ) -> Option<spec::Resolved> {
        let mut unknown = Vec::new();
        let raw: spec::RawScenario = match typed(&doc.text, &mut unknown) {
            Ok(r) => r,
            Err(e) => {
                let (msg, p) = yaml::yaml_error(&e);
                let p = p.unwrap_or(Pos { line: 1, col: 1 });
                self.diags.push(Diagnostic::error(
                    file,
                    doc.original_line(p.line) + doc.line_offset,
                    p.col,
                    format!("Scenario: {msg}"),
                ));
                // Still report unknown keys seen before the error.
                for u in unknown {
                    self.at(file, doc.line_offset, pos, &u, |_| {
                        Diagnostic::warning("", 0, 0, format!("unknown field {u:?}"))
                    });
                }
                return None;
            }
        };
        for u in unknown {
            self.at(file, doc.line_offset, pos, &u, |_| {
                Diagnostic::warning("", 0, 0, format!("unknown field {u:?}"))
            });
        }
        let mut ctx = spec::Ctx {
            file,
            line_offset: doc.line_offset,
            pos,
            diags: &mut self.diags,
        };
        Some(spec::resolve(&mut ctx, &raw, base_dir))
    }

    /// Validates and converts one object; `None` (with an error) when the API server would
    /// reject it.
    fn object(&mut self, p: &Pending, service_cidr: ipnet::Ipv4Net) -> Option<Object> {
        let field = |f: &str| {
            if p.prefix.is_empty() {
                f.to_string()
            } else {
                format!("{}.{f}", p.prefix)
            }
        };
        let has_selector = p.positions.get(&field("spec.selector")).is_some();
        let errs: Vec<FieldError> = match &p.value {
            K8s::Deployment(d) => validate::deployment(d, has_selector),
            K8s::ReplicaSet(r) => validate::replica_set(r, has_selector),
            K8s::Pod(o) => validate::pod(o),
            K8s::Service(s) => validate::service(s, service_cidr),
            K8s::Namespace(n) => validate::namespace(n),
        };
        if let Some(first) = errs.first() {
            let message = validate::invalid_object_message(p.kind, &p.name, &errs);
            let path = if p.prefix.is_empty() {
                first.location().to_string()
            } else {
                format!("{}.{}", p.prefix, first.location())
            };
            let file = p.file.clone();
            self.at(&file, p.line_offset, &p.positions, &path, |_| {
                Diagnostic::error("", 0, 0, message)
            });
            self.rejected.add(p.kind, &p.namespace, &p.name);
            return None;
        }
        Some(match &p.value {
            K8s::Deployment(d) => Object::Deployment(convert::deployment(d)),
            K8s::ReplicaSet(r) => Object::ReplicaSet(convert::replica_set(r)),
            K8s::Pod(o) => Object::Pod(convert::pod(o)),
            K8s::Service(s) => Object::Service(convert::service(s)),
            K8s::Namespace(n) => Object::Namespace(convert::object_meta(&n.metadata, false)),
        })
    }
}

/// Deserializes `text` as `T`, collecting the paths of fields `T` does not know.
fn typed<T: serde::de::DeserializeOwned>(
    text: &str,
    unknown: &mut Vec<String>,
) -> Result<T, serde_yaml::Error> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_ignored::deserialize(de, |p| unknown.push(yaml::ignored_path(&p)))
}

fn path_join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// `spec: missing field `selector`` → (`spec`, `selector`).
fn missing_field(msg: &str) -> Option<(String, String)> {
    let (path, rest) = match msg.split_once(": missing field `") {
        Some((p, r)) => (p.to_string(), r),
        None => (String::new(), msg.strip_prefix("missing field `")?),
    };
    let field = rest.strip_suffix('`')?;
    Some((path, field.to_string()))
}

/// `prefix.field`, or `field` alone at the top of a document.
fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

#[cfg(test)]
mod tests;
