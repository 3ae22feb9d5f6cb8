//! Loading and validating scenario YAML into a [`sim::Scenario`](crate::sim::Scenario).
//!
//! A scenario file holds one `kind: Scenario` document (`apiVersion: kubesim.dev/v1alpha1`)
//! and Kubernetes objects written exactly as for `kubectl apply`, inline or in the files of
//! `spec.manifests`. Objects are parsed with `k8s-openapi`'s real types, checked with the API
//! server's own validation messages (`The Service "x" is invalid: ...`), defaulted as upstream
//! defaults them, and converted into the model's types; every problem is collected with its
//! file, line and column before the load fails. Unknown and duplicate fields, in objects and in
//! the Scenario document, are errors in the API server's strict-decoding words by default, as
//! kubectl's `--validate=strict` makes them ([`FieldValidation`] relaxes them to warnings or
//! nothing); a kind no API server serves is kubectl's `no matches for kind` error, one that
//! exists upstream but is not simulated a note. A [`SourceMap`] keeps where each object's
//! fields were written, so that later stages (the simulated API server's allocation conflicts)
//! can point at them too.
//!
//! It knows YAML, files and the API's static rules. It does not know what happens when the
//! objects are applied: allocation of ClusterIPs and NodePorts and their conflicts, names
//! already taken, namespaces that do not exist, scheduling, or anything about the run.

mod affinity;
mod convert;
mod diag;
pub mod estimate;
mod expect;
pub mod files;
pub mod generate;
mod hpa;
pub mod import;
mod kinds;
pub mod limits;
mod netpol;
mod nodepool;
mod overrides;
pub mod quantity;
pub mod rewrite;
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
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use validate::FieldError;
use yaml::{Doc, PosMap};

/// How unknown and duplicate fields of Kubernetes objects and of the Scenario document are
/// treated: kubectl's `--validate` (`staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go`,
/// `GetValidationDirective`), whose default is `strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// An error, as the API server's strict decoding makes it (`strict decoding error:
    /// unknown field "spec.replcas"`); nothing runs.
    #[default]
    Strict,
    /// A warning (`unknown field "spec.replcas"`); the field is dropped and the run goes on.
    Warn,
    /// Dropped without a word.
    Ignore,
}

impl std::str::FromStr for FieldValidation {
    type Err = String;

    /// kubectl's values: `strict` (or `true`), `warn`, `ignore` (or `false`); `true` and `false`
    /// in every spelling Go's `strconv.ParseBool` takes.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strict" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(FieldValidation::Strict),
            "warn" => Ok(FieldValidation::Warn),
            "ignore" | "0" | "f" | "F" | "false" | "FALSE" | "False" => {
                Ok(FieldValidation::Ignore)
            }
            _ => Err(format!(
                "invalid - validate option {s:?}; must be one of: strict (or true), warn, ignore (or false)"
            )),
        }
    }
}

/// How to load a scenario: kubectl's `--validate` and `--set` overrides.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub validate: FieldValidation,
    /// Applied to the YAML before anything is parsed (see the `overrides` module): every check
    /// applies to the new values.
    pub overrides: Vec<Override>,
}

/// A scenario that passed every check, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
    /// Where each of `scenario.objects` was written.
    pub sources: SourceMap,
    /// The work a run would do (`run` refuses one beyond an hour unless forced).
    pub estimate: estimate::Estimate,
}

/// Loads the scenario file at `path` with strict field validation; manifests and data files
/// are found relative to it.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    load_opts(path, &LoadOptions::default())
}

/// Loads the scenario file at `path` with `--set` overrides applied to its YAML before
/// anything is parsed (see the `overrides` module): every check applies to the new values.
pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Loaded, Diagnostics> {
    load_opts(
        path,
        &LoadOptions {
            overrides: overrides.to_vec(),
            ..LoadOptions::default()
        },
    )
}

/// Loads the scenario file at `path` as `options` say.
pub fn load_opts(path: &Path, options: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    let text = read_text(path).map_err(|e| {
        Diagnostics(vec![match e {
            ReadError::Io(e) => {
                Diagnostic::error(&file, 0, 0, format!("cannot read scenario: {e}"))
            }
            ReadError::NotUtf8(p, msg) => Diagnostic::error(&file, p.line, p.col, msg),
        }])
    })?;
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    load_str_opts(&text, &file, &base, options)
}

/// Why a YAML file gave no text.
enum ReadError {
    /// Not a regular file, too large, or refused by the operating system.
    Io(files::FileError),
    /// The first byte that is not UTF-8: its position and a message.
    NotUtf8(Pos, String),
}

/// A YAML file's text: UTF-8, as kubectl reads YAML; read as [`files::read_bytes`] reads
/// (regular files only, at most 64 MiB).
fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = files::read_bytes(path).map_err(ReadError::Io)?;
    yaml::decode_utf8(bytes).map_err(|(p, msg)| ReadError::NotUtf8(p, msg))
}

/// Loads scenario text as if read from `file_name` in `base_dir`.
pub fn load_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Loaded, Diagnostics> {
    load_str_opts(text, file_name, base_dir, &LoadOptions::default())
}

/// [`load_str`] with `--set` overrides.
pub fn load_str_with(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Loaded, Diagnostics> {
    load_str_opts(
        text,
        file_name,
        base_dir,
        &LoadOptions {
            overrides: overrides.to_vec(),
            ..LoadOptions::default()
        },
    )
}

/// [`load_str`] as `options` say.
pub fn load_str_opts(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    options: &LoadOptions,
) -> Result<Loaded, Diagnostics> {
    let overrides = &options.overrides;
    let mut l = Loader {
        diags: Vec::new(),
        files: vec![file_name.to_string()],
        overrides: overrides.to_vec(),
        used: vec![false; overrides.len()],
        notes: Vec::new(),
        rejected: spec::Rejected::default(),
        validate: options.validate,
        unreadable: 0,
        present: BTreeSet::new(),
    };
    let mut pending = Vec::new();
    let mut scenario_doc: Option<(Doc, Arc<PosMap>, serde_yaml::Value)> = None;
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
        // A document that is not YAML may be the Scenario: its error is the one to fix.
        None if l.unreadable > 0 => None,
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
        Some((doc, pos, value)) => l.scenario(doc, pos, value, file_name, base_dir),
    };
    if let Some(r) = &resolved {
        for (m, field) in &r.manifests {
            let (pos, off) = scenario_doc
                .as_ref()
                .map(|(d, p, _)| (p, d.line_offset))
                .expect("resolved");
            let path = base_dir.join(m);
            let shown = path.display().to_string();
            match read_text(&path) {
                Err(ReadError::Io(e)) => {
                    let at = pos.locate(field).unwrap_or(Pos { line: 1, col: 1 });
                    l.diags.push(Diagnostic::error(
                        file_name,
                        at.line + off,
                        at.col,
                        format!("{field}: cannot read manifest {shown}: {e}"),
                    ));
                }
                Err(ReadError::NotUtf8(p, msg)) => {
                    l.files.push(shown.clone());
                    l.diags.push(Diagnostic::error(&shown, p.line, p.col, msg));
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
    let net = resolved
        .as_ref()
        .map_or_else(crate::net::config::NetConfig::default, |r| {
            r.scenario.net.clone()
        });
    let mut objects = Vec::new();
    let mut sources = SourceMap::default();
    for p in pending {
        if l.stands_for_another(&p, net.service_cidr) {
            continue;
        }
        if let Some(o) = l.object(&p, &net) {
            objects.push(o);
            sources.objects.push(ObjectSource {
                file: p.file,
                line_offset: p.line_offset,
                prefix: p.prefix,
                positions: p.positions,
            });
        }
    }
    let mut totals = limits::Totals::default();
    l.diags
        .extend(limits::document_totals(&objects, &sources, &mut totals));
    // Timeline events: `apply` objects go through the same parsing, validation and
    // conversion as the documents; then the Deployments and Services that events name are
    // checked against the objects.
    let mut timeline = Vec::new();
    if let (Some(r), Some((doc, pos, value))) = (&resolved, &scenario_doc) {
        let mut events = Vec::new();
        for e in &r.events {
            let obj = match e.action {
                spec::EventAction::Apply => l.inline_object(
                    doc,
                    pos,
                    value,
                    file_name,
                    &format!("{}.apply", e.path),
                    &net,
                ),
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
        timeline = spec::finish_events(&mut ctx, events, &objects, &l.rejected, &mut totals);
        spec::check_effects(&mut ctx, r, &objects, &timeline);
        expect::check_services(
            &mut ctx,
            &r.scenario.expect,
            &r.expect_index,
            &objects,
            &timeline,
        );
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
    // A Service that will have no endpoints: valid, but most likely a mistyped label. Not
    // when something is in error: the pods of a rejected object are unknown.
    let rejected_any = l.diags.iter().any(Diagnostic::is_error);
    let applied: Vec<&crate::model::objects::Object> = (timeline.iter())
        .filter_map(|e| match &e.action {
            crate::sim::config::Action::Apply(o) => Some(&**o),
            _ => None,
        })
        .collect();
    let unmatched = if rejected_any {
        Vec::new()
    } else {
        validate::unmatched_selectors(&objects, &applied)
    };
    for (i, message) in unmatched {
        let (file, line, column) = sources
            .locate(i, "spec.selector")
            .unwrap_or_else(|| (file_name.to_string(), 0, 0));
        l.diags
            .push(Diagnostic::warning(&file, line, column, message));
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
    let estimate = match &scenario_doc {
        Some((doc, pos, _)) => {
            let locate = estimate::locator(file_name, doc.line_offset, pos);
            estimate::of(&scenario, &sources, &locate)
        }
        None => estimate::Estimate::default(),
    };
    Ok(Loaded {
        scenario,
        warnings: diags,
        sources,
        estimate,
    })
}

/// A Kubernetes object parsed but not yet validated.
struct Pending {
    file: String,
    line_offset: usize,
    prefix: String,
    /// The whole document's, shared by the items of a `List`.
    positions: Arc<PosMap>,
    kind: &'static str,
    namespace: String,
    name: String,
    /// `spec.selector` is written (`k8s-openapi` fills a missing one with an empty selector).
    has_selector: bool,
    /// The `kind` and `name` of the ownerReference with `controller: true`, if any.
    controller: Option<(String, String)>,
    value: K8s,
}

enum K8s {
    Deployment(Box<apps::Deployment>),
    ReplicaSet(Box<apps::ReplicaSet>),
    Pod(Box<core::Pod>),
    Service(Box<core::Service>),
    Namespace(Box<core::Namespace>),
    StatefulSet(Box<apps::StatefulSet>),
    DaemonSet(Box<apps::DaemonSet>),
    HorizontalPodAutoscaler(Box<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>),
    NetworkPolicy(Box<k8s_openapi::api::networking::v1::NetworkPolicy>),
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
    validate: FieldValidation,
    /// Documents that are not YAML (their error is reported).
    unreadable: usize,
    /// `(kind, namespace, name)` of every object written with a kind and a name, simulated or
    /// not: the controllers that owned objects point at.
    present: BTreeSet<(String, String, String)>,
}

/// The controllers whose pods (or ReplicaSets) are theirs to create: given alongside them, an
/// owned object would be simulated twice.
const CONTROLLERS: [&str; 5] = [
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
];

/// The Services the simulated API server creates itself (see `sim::apiserver`,
/// `create_builtin_services`): `(namespace, name, offset of the ClusterIP in the service CIDR)`.
const BUILTIN_SERVICES: [(&str, &str, u32); 2] = [
    ("default", "kubernetes", 1),
    ("kube-system", "kube-dns", 10),
];

/// The `kind` and `name` of an object's controller (`metadata.ownerReferences[]` with
/// `controller: true`, `k8s.io/apimachinery/pkg/apis/meta/v1/controller_ref.go`,
/// `GetControllerOf`).
fn controller_of(v: &serde_yaml::Value) -> Option<(String, String)> {
    let refs = v.get("metadata")?.get("ownerReferences")?.as_sequence()?;
    refs.iter()
        .find(|r| r.get("controller").and_then(serde_yaml::Value::as_bool) == Some(true))
        .and_then(|r| {
            Some((
                r.get("kind")?.as_str()?.to_string(),
                r.get("name")?.as_str()?.to_string(),
            ))
        })
}

/// The kinds kubesim simulates, with the apiVersion each must carry.
const SIMULATED: [(&str, &str); 9] = [
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Pod", "v1"),
    ("Service", "v1"),
    ("Namespace", "v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
    ("NetworkPolicy", "networking.k8s.io/v1"),
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

/// `Deployment "web"`, or `Deployment` for an object without a name.
fn shown(kind: &str, name: &str) -> String {
    if name.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {name:?}")
    }
}

/// Server-set fields of a `kubectl get -o yaml` export that strict decoding does not check
/// here: a newer API server's status or managedFields may hold fields the 1.34 schema lacks,
/// and the API server ignores them on create.
fn server_set(path: &str) -> bool {
    path == "status" || path.starts_with("status.") || path.starts_with("metadata.managedFields")
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
        self.push_at(file, line_offset, p, make(path));
    }

    fn push_at(&mut self, file: &str, line_offset: usize, p: Pos, mut d: Diagnostic) {
        d.file = file.to_string();
        d.line = p.line + line_offset;
        d.column = p.col;
        self.diags.push(d);
    }

    /// Unknown and duplicate fields of one object (or the Scenario) at `prefix` of its
    /// document, as `--validate` says: errors in the API server's words under `strict`
    /// (`{what}: strict decoding error: unknown field "spec.replcas"`, one per field, at
    /// its key), warnings under `warn`. `skip` leaves out duplicates that belong to another
    /// object (an `apply` event's, a List item's). Whether any was an error.
    #[allow(clippy::too_many_arguments)]
    fn strict_fields(
        &mut self,
        file: &str,
        line_offset: usize,
        pos: &PosMap,
        prefix: &str,
        what: &str,
        unknown: &[String],
        skip: impl Fn(&str) -> bool,
    ) -> bool {
        if self.validate == FieldValidation::Ignore {
            return false;
        }
        // `sigs.k8s.io/json` (`internal/golang/encoding/json/kubernetes_patch.go`) words
        // them `unknown field "spec.replcas"` and `duplicate field "spec.replicas"`.
        let mut found: Vec<(Pos, String)> = Vec::new();
        for u in unknown.iter().filter(|u| !server_set(u)) {
            let p = pos
                .locate(&join_path(prefix, u))
                .unwrap_or(Pos { line: 1, col: 1 });
            found.push((p, format!("unknown field {u:?}")));
        }
        for (d, p) in pos.duplicates_under(prefix) {
            if !server_set(d) && !skip(d) {
                found.push((p, format!("duplicate field {d:?}")));
            }
        }
        found.sort();
        let strict = self.validate == FieldValidation::Strict;
        for (p, f) in &found {
            let d = if strict {
                // `runtime.NewStrictDecodingError` (`k8s.io/apimachinery/pkg/runtime/error.go`).
                Diagnostic::error("", 0, 0, format!("{what}: strict decoding error: {f}"))
            } else {
                Diagnostic::warning("", 0, 0, f.clone())
            };
            self.push_at(file, line_offset, *p, d);
        }
        strict && !found.is_empty()
    }

    /// Parses one document: Kubernetes objects go to `pending`; a Scenario document is
    /// returned for the caller.
    fn document(
        &mut self,
        doc: &mut Doc,
        file: &str,
        pending: &mut Vec<Pending>,
    ) -> Option<(Arc<PosMap>, serde_yaml::Value)> {
        let mut value = match yaml::read_value(&doc.text) {
            Ok(v) => v,
            Err(e) => {
                self.syntax_error(doc, file, &e);
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
            match yaml::read_value(&doc.text) {
                Ok(v) => value = v,
                Err(e) => {
                    self.syntax_error(doc, file, &e);
                    return None;
                }
            }
        }
        let mut pos = PosMap::build(&doc.text);
        pos.unshift(doc);
        let pos = Arc::new(pos);
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
        self.object_doc(doc.line_offset, file, &pos, &value, pending);
        None
    }

    /// A document that is not YAML: libyaml's message at its one position.
    fn syntax_error(&mut self, doc: &Doc, file: &str, e: &serde_yaml::Error) {
        let (msg, p) = yaml::yaml_error(e);
        let p = p.unwrap_or(Pos { line: 1, col: 1 });
        self.diags.push(Diagnostic::error(
            file,
            doc.original_line(p.line) + doc.line_offset,
            p.col,
            msg,
        ));
        self.rejected.add_unknown();
        self.unreadable += 1;
    }

    /// One object document (or a `List` of objects).
    fn object_doc(
        &mut self,
        line_offset: usize,
        file: &str,
        pos: &Arc<PosMap>,
        value: &serde_yaml::Value,
        pending: &mut Vec<Pending>,
    ) {
        let kind = str_at(value, &["kind"]).unwrap_or("");
        let api_version = str_at(value, &["apiVersion"]).unwrap_or("");
        if kind.is_empty() || api_version.is_empty() {
            self.missing_type(file, line_offset, pos, "", value, api_version, kind);
            return;
        }
        if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
            let in_item = |d: &str| d.starts_with("items[");
            self.strict_fields(file, line_offset, pos, "", kind, &[], in_item);
            let Some(items) = value.get("items").and_then(|i| i.as_sequence()) else {
                if value.get("items").is_some_and(|i| !i.is_null()) {
                    self.at(file, line_offset, pos, "items", |p| {
                        Diagnostic::error("", 0, 0, format!("{p}: expected a list of objects"))
                    });
                }
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let ip = format!("items[{i}]");
                if !item.is_mapping() {
                    self.at(file, line_offset, pos, &ip, |p| {
                        Diagnostic::error("", 0, 0, format!("{p}: expected an object"))
                    });
                    continue;
                }
                // Positions stay those of the whole document, under the item's prefix.
                self.object_at(line_offset, file, pos, &ip, item, pending);
            }
            return;
        }
        self.object_at(line_offset, file, pos, "", value, pending);
    }

    /// `error validating data: [apiVersion not set, kind not set]`, kubectl's words for an
    /// object without them.
    #[allow(clippy::too_many_arguments)]
    fn missing_type(
        &mut self,
        file: &str,
        line_offset: usize,
        pos: &PosMap,
        prefix: &str,
        value: &serde_yaml::Value,
        api_version: &str,
        kind: &str,
    ) {
        let mut missing = Vec::new();
        if api_version.is_empty() {
            missing.push("apiVersion not set");
        }
        if kind.is_empty() {
            missing.push("kind not set");
        }
        let lead = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}: ")
        };
        self.at(file, line_offset, pos, prefix, |_| {
            Diagnostic::error(
                "",
                0,
                0,
                format!("{lead}error validating data: [{}]", missing.join(", ")),
            )
        });
        self.reject(value);
    }

    /// Parses one object, written at `prefix` of its document, with its `k8s-openapi` type.
    fn object_at(
        &mut self,
        line_offset: usize,
        file: &str,
        pos: &Arc<PosMap>,
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
        if !name.is_empty() {
            self.present.insert((
                kind.to_string(),
                namespace_of(value).to_string(),
                name.clone(),
            ));
        }
        let simulated = SIMULATED
            .iter()
            .find(|(k, v)| *k == kind && *v == api_version);
        let Some(&(kind, _)) = simulated else {
            match kinds::classify(api_version, kind) {
                kinds::KindMatch::NoMatch { hint } => {
                    // `meta.NoKindMatchError` (`k8s.io/apimachinery/pkg/api/meta/errors.go`),
                    // which kubectl prints for a kind no API server serves.
                    let hint = hint.map_or(String::new(), |h| format!(" ({h})"));
                    self.at(file, line_offset, pos, &join("kind"), |_| {
                        Diagnostic::error(
                            "",
                            0,
                            0,
                            format!(
                                "no matches for kind {kind:?} in version {api_version:?}{hint}"
                            ),
                        )
                    });
                    self.reject(value);
                }
                found => {
                    let what = if found == kinds::KindMatch::Custom {
                        "a custom resource, not simulated"
                    } else {
                        "kind not simulated"
                    };
                    let named = if name.is_empty() {
                        String::new()
                    } else {
                        format!(" {name:?}")
                    };
                    self.at(file, line_offset, pos, &join("kind"), |_| {
                        Diagnostic::warning(
                            "",
                            0,
                            0,
                            format!("skipping {kind}{named} ({api_version}): {what}; kubesim simulates Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, Service, Namespace, HorizontalPodAutoscaler (autoscaling/v2) and NetworkPolicy"),
                        )
                    });
                }
            }
            return;
        };
        let mut unknown = Vec::new();
        let parsed = match kind {
            "Deployment" => yaml::typed(value, &mut unknown).map(|v| K8s::Deployment(Box::new(v))),
            "ReplicaSet" => yaml::typed(value, &mut unknown).map(|v| K8s::ReplicaSet(Box::new(v))),
            "Pod" => yaml::typed(value, &mut unknown).map(|v| K8s::Pod(Box::new(v))),
            "Service" => yaml::typed(value, &mut unknown).map(|v| K8s::Service(Box::new(v))),
            "StatefulSet" => {
                yaml::typed(value, &mut unknown).map(|v| K8s::StatefulSet(Box::new(v)))
            }
            "DaemonSet" => yaml::typed(value, &mut unknown).map(|v| K8s::DaemonSet(Box::new(v))),
            "HorizontalPodAutoscaler" => {
                yaml::typed(value, &mut unknown).map(|v| K8s::HorizontalPodAutoscaler(Box::new(v)))
            }
            "NetworkPolicy" => {
                yaml::typed(value, &mut unknown).map(|v| K8s::NetworkPolicy(Box::new(v)))
            }
            _ => yaml::typed(value, &mut unknown).map(|v| K8s::Namespace(Box::new(v))),
        };
        let v = match parsed {
            Ok(v) => v,
            Err(e) => {
                // As the API server, a decoding error is the only one reported.
                self.reject(value);
                // A missing required field is what the API server reports as `Required value`.
                if let Some((path, field)) = missing_field(&e.message) {
                    let fe = validate::required(&path_join(&path, &field), "");
                    let message =
                        validate::invalid_object_message(kind, &name, std::slice::from_ref(&fe));
                    self.at(file, line_offset, pos, &join(&fe.path), |_| {
                        Diagnostic::error("", 0, 0, message)
                    });
                    return;
                }
                let p = pos
                    .locate_value(&join(&e.path))
                    .unwrap_or(Pos { line: 1, col: 1 });
                let d = Diagnostic::error(
                    "",
                    0,
                    0,
                    format!(
                        "{} cannot be handled as a {kind}: {}",
                        shown(kind, &name),
                        e.message
                    ),
                );
                self.push_at(file, line_offset, p, d);
                return;
            }
        };
        let what = format!("{} cannot be handled as a {kind}", shown(kind, &name));
        if self.strict_fields(file, line_offset, pos, prefix, &what, &unknown, |_| false) {
            self.reject(value);
            return;
        }
        pending.push(Pending {
            file: file.to_string(),
            line_offset,
            prefix: prefix.to_string(),
            positions: Arc::clone(pos),
            kind,
            namespace: namespace_of(value).to_string(),
            name,
            has_selector: value.get("spec").and_then(|s| s.get("selector")).is_some(),
            controller: controller_of(value),
            value: v,
        });
    }

    /// The Kubernetes object written inline at `path` of the Scenario document (an `apply`
    /// event), parsed, validated and converted as a document of its own would be, with
    /// positions and unknown fields under `path`.
    fn inline_object(
        &mut self,
        doc: &Doc,
        pos: &Arc<PosMap>,
        scenario: &serde_yaml::Value,
        file: &str,
        path: &str,
        net: &crate::net::config::NetConfig,
    ) -> Option<Object> {
        let value = yaml::value_at(scenario, path)?;
        let kind = str_at(value, &["kind"]).unwrap_or("");
        let api_version = str_at(value, &["apiVersion"]).unwrap_or("");
        if kind.is_empty() || api_version.is_empty() {
            self.missing_type(file, doc.line_offset, pos, path, value, api_version, kind);
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
        self.object_at(doc.line_offset, file, pos, path, value, &mut pending);
        let p = pending.pop()?;
        self.object(&p, net)
    }

    fn scenario(
        &mut self,
        doc: &Doc,
        pos: &PosMap,
        value: &serde_yaml::Value,
        file: &str,
        base_dir: &Path,
    ) -> Option<spec::Resolved> {
        let mut unknown = Vec::new();
        let raw: spec::RawScenario = match yaml::typed(value, &mut unknown) {
            Ok(r) => r,
            Err(e) => {
                let p = pos.locate_value(&e.path).unwrap_or(Pos { line: 1, col: 1 });
                self.push_at(
                    file,
                    doc.line_offset,
                    p,
                    Diagnostic::error("", 0, 0, format!("Scenario: {}", e.message)),
                );
                return None;
            }
        };
        let name = str_at(value, &["metadata", "name"]).unwrap_or("");
        let what = format!(
            "{} cannot be handled as a Scenario",
            shown("Scenario", name)
        );
        // The objects of `apply` events have their own fields, checked with them.
        let in_apply = |d: &str| {
            d.strip_prefix("spec.events[")
                .and_then(|r| r.split_once(']'))
                .is_some_and(|(_, r)| {
                    r == ".apply" || r.starts_with(".apply.") || r.starts_with(".apply[")
                })
        };
        self.strict_fields(file, doc.line_offset, pos, "", &what, &unknown, in_apply);
        let mut ctx = spec::Ctx {
            file,
            line_offset: doc.line_offset,
            pos,
            diags: &mut self.diags,
        };
        Some(spec::resolve(&mut ctx, &raw, base_dir))
    }

    /// Whether `p` is an object another one stands for, as a `kubectl get -o yaml` export holds
    /// them (skipped with a note):
    /// - a Pod or ReplicaSet whose controller is given alongside: the controller creates its
    ///   own (upstream it adopts those its selector matches, `pkg/controller/controller_ref_manager.go`;
    ///   kubesim lets it create them, so nothing is simulated twice);
    /// - `default/kubernetes` or `kube-system/kube-dns` at the address the simulated API server
    ///   gives them (or at none): it has created them, as kube-apiserver and kubeadm do.
    fn stands_for_another(&mut self, p: &Pending, service_cidr: ipnet::Ipv4Net) -> bool {
        let note = if let Some((kind, owner)) = p.controller.as_ref().filter(|(k, n)| {
            CONTROLLERS.contains(&k.as_str())
                && self
                    .present
                    .contains(&(k.clone(), p.namespace.clone(), n.clone()))
        }) {
            let what = if p.kind == "Pod" {
                "pods"
            } else {
                "ReplicaSets"
            };
            format!(
                "{} is owned by {kind} {owner:?}, given alongside: skipped, as the {kind} creates its own {what}",
                shown(p.kind, &p.name)
            )
        } else if let K8s::Service(s) = &p.value {
            let Some(&(_, _, offset)) = BUILTIN_SERVICES
                .iter()
                .find(|(ns, n, _)| *ns == p.namespace && *n == p.name)
            else {
                return false;
            };
            let builtin = std::net::Ipv4Addr::from(u32::from(service_cidr.network()) + offset);
            let written = s
                .spec
                .as_ref()
                .and_then(|s| s.cluster_ip.as_deref())
                .filter(|ip| !ip.is_empty());
            if written.is_some_and(|ip| ip.parse() != Ok(builtin)) {
                return false;
            }
            format!(
                "{}: skipped, as the simulated API server creates it at {builtin}",
                shown(p.kind, &p.name)
            )
        } else {
            return false;
        };
        let path = join_path(&p.prefix, "metadata.name");
        let file = p.file.clone();
        self.at(&file, p.line_offset, &p.positions, &path, |_| {
            Diagnostic::note("", 0, 0, note)
        });
        true
    }

    /// A note at each affinity rule of `p`'s pod spec that kubesim accepts but does not act
    /// on (preferred node affinity, pod affinity, pod anti-affinity): valid YAML is never
    /// dropped without a word.
    fn affinity_notes(&mut self, p: &Pending) {
        let (spec, path) = match &p.value {
            K8s::Pod(o) => (o.spec.as_ref(), "spec"),
            K8s::Deployment(d) => (
                d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                "spec.template.spec",
            ),
            K8s::ReplicaSet(r) => (
                r.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .and_then(|t| t.spec.as_ref()),
                "spec.template.spec",
            ),
            K8s::StatefulSet(s) => (
                s.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                "spec.template.spec",
            ),
            K8s::DaemonSet(d) => (
                d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                "spec.template.spec",
            ),
            _ => return,
        };
        for (field, note) in affinity::notes(spec.and_then(|s| s.affinity.as_ref()), path) {
            let at = join_path(&p.prefix, &field);
            let message = format!("{}: {note}", shown(p.kind, &p.name));
            let file = p.file.clone();
            self.at(&file, p.line_offset, &p.positions, &at, |_| {
                Diagnostic::note("", 0, 0, message)
            });
        }
    }

    /// Validates and converts one object; `None` (with an error) when the API server would
    /// reject it.
    fn object(&mut self, p: &Pending, net: &crate::net::config::NetConfig) -> Option<Object> {
        let errs: Vec<FieldError> = match &p.value {
            K8s::Deployment(d) => validate::deployment(d, p.has_selector),
            K8s::ReplicaSet(r) => validate::replica_set(r, p.has_selector),
            K8s::Pod(o) => validate::pod(o),
            K8s::Service(s) => validate::service(s, net.service_cidr, net.node_port_range),
            K8s::Namespace(n) => validate::namespace(n),
            K8s::StatefulSet(s) => validate::stateful_set(s, p.has_selector),
            K8s::DaemonSet(d) => validate::daemon_set(d, p.has_selector),
            K8s::HorizontalPodAutoscaler(h) => hpa::validate(h),
            K8s::NetworkPolicy(n) => netpol::validate(n),
        };
        if errs.is_empty() {
            self.affinity_notes(p);
        }
        if let Some(first) = errs.first() {
            let message = validate::invalid_object_message(p.kind, &p.name, &errs);
            let path = join_path(&p.prefix, first.location());
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
            K8s::StatefulSet(s) => Object::StatefulSet(convert::stateful_set(s)),
            K8s::DaemonSet(d) => Object::DaemonSet(convert::daemon_set(d)),
            K8s::HorizontalPodAutoscaler(h) => {
                Object::HorizontalPodAutoscaler(Box::new(hpa::convert(h)))
            }
            K8s::NetworkPolicy(n) => Object::NetworkPolicy(netpol::convert(n)),
        })
    }
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
