//! `--set KEY=VALUE`: a scenario field changed before the scenario is parsed, so that every
//! check and every error message of a normal load still applies to the new value.
//!
//! An override edits the YAML text of the document that holds the field: a scalar written in
//! the file is replaced on its own line (lines and the other fields' positions do not move); a
//! field not written is inserted as the first key of its mapping (on a line of its own in a
//! block mapping, whose later lines are then mapped back to the file's numbering; inside a
//! flow mapping `{...}` on the same line). Errors found on an overridden line name the
//! override, so `replicas=-1` is reported at the `replicas:` line with `(value set by --set
//! deployment/web.replicas=-1)`.
//!
//! Keys (DESIGN.md and `docs/sweep.md` list them for users):
//!
//! | key | field |
//! |---|---|
//! | `deployment/NAME.PATH` (also `service/`, `replicaset/`, `pod/`) | `spec.PATH` of that object, e.g. `deployment/web.replicas` |
//! | `traffic/NAME.PATH` | `spec.traffic[i].PATH` of the stream named NAME, e.g. `traffic/browser.rate` |
//! | `behavior/IMAGE.PATH` | `spec.behaviors[i].PATH` of the behaviour of IMAGE, e.g. `behavior/web.concurrency`, `behavior/web.serviceTime.mean` |
//! | `node/NAME.PATH` | `spec.cluster.nodes[i].PATH`, e.g. `node/n1.allocatable.cpu` |
//! | `events` | `spec.events`: `none` (no timeline), `all` (as written), or a YAML file holding a list of events written as `spec.events` is |
//! | any other `PATH` | `spec.PATH` of the Scenario document, e.g. `cluster.proxyMode`, `duration`, `cluster.network.crossNode` |
//!
//! Names may contain dots (`deployment/web.v2.replicas`): the object whose name is followed by
//! a dot in the key is the one meant. Kubernetes objects are addressed in their own documents
//! (not inside a `kind: List`).

use super::yaml::{parent_path, Doc, PosMap};
use std::path::Path;

/// One `KEY=VALUE`, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl Override {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Override {
        Override {
            key: key.into(),
            value: value.into(),
        }
    }

    /// `--set KEY=VALUE`, for messages.
    pub fn shown(&self) -> String {
        format!("--set {}={}", self.key, self.value)
    }
}

/// Kinds an override can address by `kind/NAME`.
const OBJECT_KINDS: [&str; 5] = [
    "Deployment",
    "Service",
    "ReplicaSet",
    "Pod",
    "HorizontalPodAutoscaler",
];

/// A line the override touched: diagnostics on it get a note naming the override.
#[derive(Debug, Clone)]
pub(crate) struct Touched {
    /// 1-based line in the document's original numbering.
    pub doc_line: usize,
    pub note: String,
}

/// What applying the overrides to one document did.
#[derive(Debug, Default)]
pub(crate) struct DocEdits {
    /// Lines inserted, in the edited text's numbering (1-based), ascending.
    pub inserted: Vec<usize>,
    pub touched: Vec<Touched>,
    pub errors: Vec<String>,
}

impl DocEdits {
    /// The original line of an edited text's line; an inserted line maps to the line that
    /// followed it (the first key of its mapping).
    pub fn original_line(&self, line: usize) -> usize {
        line - self.inserted.iter().filter(|&&i| i < line).count()
    }
}

/// Whether the key names something that `value` (a parsed document) holds, and the field path
/// inside that document.
fn target_path(o: &Override, value: &serde_yaml::Value) -> Option<Result<String, String>> {
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let key = o.key.as_str();
    if let Some((prefix, rest)) = key.split_once('/') {
        let list = |list: &str, field: &str| -> Option<(usize, String)> {
            let items = value.get("spec")?.get(list)?.as_sequence()?;
            named(
                items.iter().map(|i| i.get(field).and_then(|n| n.as_str())),
                rest,
            )
        };
        return match (prefix, kind) {
            ("traffic", "Scenario") => {
                list("traffic", "name").map(|(i, p)| Ok(format!("spec.traffic[{i}].{p}")))
            }
            ("behavior", "Scenario") => {
                list("behaviors", "image").map(|(i, p)| Ok(format!("spec.behaviors[{i}].{p}")))
            }
            ("node", "Scenario") => {
                let nodes = value.get("spec")?.get("cluster")?.get("nodes")?;
                let items = nodes.as_sequence()?;
                named(
                    items.iter().map(|i| i.get("name").and_then(|n| n.as_str())),
                    rest,
                )
                .map(|(i, p)| Ok(format!("spec.cluster.nodes[{i}].{p}")))
            }
            (_, k)
                if (k.eq_ignore_ascii_case(prefix)
                    || (prefix == "hpa" && k == "HorizontalPodAutoscaler"))
                    && OBJECT_KINDS.contains(&k) =>
            {
                let name = value.get("metadata")?.get("name")?.as_str()?;
                let p = rest.strip_prefix(name)?.strip_prefix('.')?;
                Some(Ok(format!("spec.{p}")))
            }
            _ => None,
        };
    }
    if kind != "Scenario" {
        return None;
    }
    Some(match key {
        "events" => Ok("spec.events".to_string()),
        "seed" => Err("the seed is not a grid key: each cell's seed is derived from the base seed; use --replications for more seeds per cell".to_string()),
        "" => Err("empty key".to_string()),
        _ => Ok(format!("spec.{key}")),
    })
}

/// The index of the item whose name is followed by `.` at the start of `rest`, and what comes
/// after that dot; the longest name wins.
fn named<'a>(names: impl Iterator<Item = Option<&'a str>>, rest: &str) -> Option<(usize, String)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, n) in names.enumerate() {
        let Some(n) = n else { continue };
        if rest.len() > n.len() + 1
            && rest.starts_with(n)
            && rest.as_bytes()[n.len()] == b'.'
            && best.is_none_or(|(_, l)| n.len() > l)
        {
            best = Some((i, n.len()));
        }
    }
    best.map(|(i, l)| (i, rest[l + 1..].to_string()))
}

/// The kind of thing a key addresses, for "not found" messages.
pub(crate) fn describe_missing(o: &Override) -> String {
    let hint = |what: &str, example: &str| {
        format!(
            "no {what} matches: write it as the key's prefix, a dot and the field, e.g. {example}"
        )
    };
    match o.key.split_once('/') {
        Some(("traffic", _)) => hint("traffic stream name", "traffic/browser.rate"),
        Some(("behavior", _)) => hint("behavior image", "behavior/web.concurrency"),
        Some(("node", _)) => hint("node name", "node/node-1.allocatable.cpu"),
        Some((kind, _)) => {
            if OBJECT_KINDS.iter().any(|k| k.eq_ignore_ascii_case(kind)) {
                hint(
                    &format!("{kind} written in a document of its own"),
                    &format!("{}/web.replicas", kind.to_ascii_lowercase()),
                )
            } else {
                format!("unknown key prefix {kind:?}: use deployment/, service/, replicaset/, pod/, hpa/, traffic/, behavior/, node/, events, or a Scenario spec path such as cluster.proxyMode")
            }
        }
        None => "no Scenario document to apply it to".to_string(),
    }
}

/// Applies every override that targets `doc` (whose parsed value is `value`), marking it in
/// `used`. `base_dir` is not used for event files: those are named as typed, relative to the
/// working folder.
pub(crate) fn apply(
    doc: &mut Doc,
    value: &serde_yaml::Value,
    overrides: &[Override],
    used: &mut [bool],
) -> DocEdits {
    let mut edits = DocEdits::default();
    for (i, o) in overrides.iter().enumerate() {
        let path = match target_path(o, value) {
            None => continue,
            Some(Err(e)) => {
                used[i] = true;
                edits.errors.push(format!("{}: {e}", o.shown()));
                continue;
            }
            Some(Ok(p)) => p,
        };
        used[i] = true;
        let new_text = if o.key == "events" {
            match events_text(&o.value) {
                Ok(None) => continue,
                Ok(Some(t)) => t,
                Err(e) => {
                    edits.errors.push(format!("{}: {e}", o.shown()));
                    continue;
                }
            }
        } else {
            scalar_text(&o.value)
        };
        let pos = PosMap::build(&doc.text);
        match set_node(&doc.text, &pos, &path, &new_text) {
            Ok((text, line, inserted)) => {
                doc.text = text;
                if let Some(l) = inserted {
                    for x in edits.inserted.iter_mut().filter(|x| **x >= l) {
                        *x += 1;
                    }
                    edits.inserted.push(l);
                    edits.inserted.sort_unstable();
                }
                edits.touched.push(Touched {
                    doc_line: edits.original_line(line),
                    note: format!("value set by {}", o.shown()),
                });
            }
            Err(e) => edits.errors.push(format!("{}: {path}: {e}", o.shown())),
        }
    }
    edits
}

/// `events=none` is an empty timeline, `events=all` the scenario's own (no edit), anything else
/// a YAML file with a list of events, spliced in as one flow-style line.
fn events_text(value: &str) -> Result<Option<String>, String> {
    match value {
        "none" => return Ok(Some("[]".to_string())),
        "all" => return Ok(None),
        _ => {}
    }
    let path = Path::new(value);
    let text = super::files::read_text(path).map_err(|e| {
        format!(
            "cannot read {}: {e} (values: none, all, or a YAML file holding a list of events)",
            path.display()
        )
    })?;
    let v: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = match v {
        serde_yaml::Value::Sequence(s) => s,
        serde_yaml::Value::Mapping(m) => match m.get("events") {
            Some(serde_yaml::Value::Sequence(s)) => s.clone(),
            _ => {
                return Err(format!(
                    "{}: expected a list of events (or a mapping with an `events` list)",
                    path.display()
                ))
            }
        },
        serde_yaml::Value::Null => Vec::new(),
        _ => return Err(format!("{}: expected a list of events", path.display())),
    };
    // JSON is YAML flow style: the whole list fits on the `events:` line.
    serde_json::to_string(&list)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A value as a YAML scalar: as typed when that reads back as typed, else double-quoted.
fn scalar_text(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/+-".contains(c))
        && !v.starts_with(['-', '.', '/'])
        || v.parse::<f64>().is_ok();
    if plain {
        v.to_string()
    } else {
        serde_json::to_string(v).expect("a string serializes")
    }
}

/// Replaces the node at `path` of `text` with `new` (a scalar, or a flow collection for a
/// whole list), or inserts `key: new` into its parent mapping when the field is not written.
/// Returns the edited text, the line of the field (1-based, edited numbering) and the line
/// inserted, if any.
fn set_node(
    text: &str,
    pos: &PosMap,
    path: &str,
    new: &str,
) -> Result<(String, usize, Option<usize>), String> {
    let chars: Vec<char> = text.chars().collect();
    let line_of = |idx: usize| {
        chars[..idx.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count()
            + 1
    };
    let parent = parent_path(path);
    let in_flow = pos
        .get(parent)
        .is_some_and(|p| matches!(chars.get(p.start), Some('{') | Some('[')));
    if let Some(n) = pos.get(path) {
        let start = n.start.min(chars.len());
        let (end, is_collection) = if n.end == usize::MAX {
            (scalar_end(&chars, start, in_flow)?, false)
        } else if matches!(chars.get(start), Some('{') | Some('[')) {
            ((n.end + 1).min(chars.len()), true)
        } else {
            (n.end.min(chars.len()), true)
        };
        if is_collection && !new.starts_with('[') {
            return Err("is a mapping or a list, not a single value".to_string());
        }
        let removed: String = chars[start..end].iter().collect();
        let mut replacement = new.to_string();
        if removed.contains('\n') {
            // Keep the line count and the indentation of what follows.
            let last = removed.rfind('\n').expect("contains");
            let tail = &removed[last + 1..];
            for _ in 0..removed.matches('\n').count() {
                replacement.push('\n');
            }
            if tail.chars().all(char::is_whitespace) {
                replacement.push_str(tail);
            } else {
                return Err("cannot replace this list in place".to_string());
            }
        }
        let mut out: String = chars[..start].iter().collect();
        out.push_str(&replacement);
        out.extend(&chars[end..]);
        return Ok((out, line_of(start), None));
    }
    // Not written: insert into the parent mapping.
    let key = &path[parent.len()..].trim_start_matches('.');
    if key.is_empty() || key.contains('[') || key.contains('.') {
        return Err(format!(
            "{parent} is not written in the scenario; write it to set fields under it"
        ));
    }
    let Some(p) = pos.get(parent) else {
        return Err(format!(
            "{parent} is not written in the scenario; write it to set fields under it"
        ));
    };
    let start = p.start.min(chars.len());
    if p.end == usize::MAX {
        return Err(format!("{parent} is not a mapping"));
    }
    match chars.get(start) {
        Some('[') => Err(format!(
            "{parent} is a list: address an item, e.g. {parent}[0]"
        )),
        Some('{') => {
            let empty = chars[start + 1..].iter().find(|c| !c.is_whitespace()) == Some(&'}');
            let mut out: String = chars[..=start].iter().collect();
            out.push_str(&format!("{key}: {new}{}", if empty { "" } else { ", " }));
            out.extend(&chars[start + 1..]);
            Ok((out, line_of(start), None))
        }
        _ => {
            // A block mapping: its start is its first key. The new key takes that key's place
            // and column; the first key moves to the next line at the same column.
            let line_start = chars[..start]
                .iter()
                .rposition(|c| *c == '\n')
                .map_or(0, |i| i + 1);
            let col = start - line_start;
            let mut out: String = chars[..start].iter().collect();
            out.push_str(&format!("{key}: {new}\n{}", " ".repeat(col)));
            out.extend(&chars[start..]);
            let line = line_of(start);
            Ok((out, line, Some(line)))
        }
    }
}

/// Where a scalar starting at `start` ends (exclusive).
fn scalar_end(chars: &[char], start: usize, in_flow: bool) -> Result<usize, String> {
    match chars.get(start) {
        Some('"') => {
            let mut i = start + 1;
            while i < chars.len() {
                match chars[i] {
                    '\\' => i += 2,
                    '"' => return Ok(i + 1),
                    _ => i += 1,
                }
            }
            Err("unterminated quoted value".to_string())
        }
        Some('\'') => {
            let mut i = start + 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    return Ok(i + 1);
                }
                i += 1;
            }
            Err("unterminated quoted value".to_string())
        }
        Some('|') | Some('>') => Err("a block scalar cannot be set".to_string()),
        Some('&') | Some('*') | Some('!') => {
            Err("an anchor, alias or tag cannot be set".to_string())
        }
        _ => {
            let mut end = start;
            while end < chars.len() {
                let c = chars[end];
                if c == '\n' || (in_flow && ",]}".contains(c)) {
                    break;
                }
                if c == '#' && end > start && chars[end - 1].is_whitespace() {
                    break;
                }
                end += 1;
            }
            while end > start && chars[end - 1].is_whitespace() {
                end -= 1;
            }
            Ok(end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, path: &str, new: &str) -> (String, usize, Option<usize>) {
        set_node(text, &PosMap::build(text), path, new).unwrap()
    }

    #[test]
    fn a_written_scalar_is_replaced_on_its_line() {
        let t = "spec:\n  replicas: 3 # three\n  x: {a: 1, b: \"q\"}\n";
        assert_eq!(
            edit(t, "spec.replicas", "12").0,
            "spec:\n  replicas: 12 # three\n  x: {a: 1, b: \"q\"}\n"
        );
        assert_eq!(
            edit(t, "spec.x.a", "7").0,
            "spec:\n  replicas: 3 # three\n  x: {a: 7, b: \"q\"}\n"
        );
        assert_eq!(
            edit(t, "spec.x.b", "z").0,
            "spec:\n  replicas: 3 # three\n  x: {a: 1, b: z}\n"
        );
    }

    #[test]
    fn a_missing_key_is_inserted_into_its_mapping() {
        let t = "spec:\n  traffic:\n  - name: a\n    to: x\n";
        let (out, line, ins) = edit(t, "spec.traffic[0].rate", "5/s");
        assert_eq!(
            out,
            "spec:\n  traffic:\n  - rate: 5/s\n    name: a\n    to: x\n"
        );
        assert_eq!((line, ins), (3, Some(3)));
        let t = "spec: {a: 1}\n";
        assert_eq!(edit(t, "spec.b", "2").0, "spec: {b: 2, a: 1}\n");
    }

    #[test]
    fn a_block_list_is_replaced_keeping_lines() {
        let t = "spec:\n  events:\n    - at: 1s\n      x: 1\n  traffic: []\n";
        let (out, _, _) = edit(t, "spec.events", "[]");
        assert_eq!(out.lines().count(), t.lines().count());
        let v: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(v["spec"]["events"], serde_yaml::Value::Sequence(vec![]));
        assert_eq!(v["spec"]["traffic"], serde_yaml::Value::Sequence(vec![]));
    }

    #[test]
    fn names_with_dots_pick_the_longest_match() {
        let names = [Some("web"), Some("web.v2")];
        assert_eq!(
            named(names.into_iter(), "web.v2.replicas"),
            Some((1, "replicas".to_string()))
        );
        assert_eq!(
            named(names.into_iter(), "web.rate"),
            Some((0, "rate".to_string()))
        );
        assert_eq!(named(names.into_iter(), "db.rate"), None);
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(scalar_text("500/s"), "500/s");
        assert_eq!(scalar_text("-1"), "-1");
        assert_eq!(scalar_text("a: b"), "\"a: b\"");
        assert_eq!(scalar_text("ipvs"), "ipvs");
    }
}
