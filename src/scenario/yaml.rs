//! YAML plumbing: splitting a stream into documents, reading a document's values, the position
//! of every field, and turning `serde` paths and `serde_yaml` errors into `file:line:col` terms.
//!
//! One reading: a document's values and its positions come from the same grammar. Values are
//! read by `serde_yaml` (libyaml's parser, through `unsafe-libyaml`) into a
//! [`serde_yaml::Value`], with duplicate keys kept (the last one wins, as Go's decoders do for
//! kubectl) and merge keys (`<<`) applied; every typed structure is then deserialized from
//! that value, so nothing typed sees the text. Positions are recorded from the events of
//! `libyaml-safer`, a line-by-line port of the same libyaml parser, over the very same text:
//! a document `serde_yaml` reads, it reads too. Should the two ever disagree, the recorder keeps
//! the positions found before the disagreement and a field without one is reported at its
//! nearest written ancestor, or at the document's first line: a failure to find a position
//! costs a position, never a value or an object.
//!
//! Documents are cut at `---` and `...` marker lines (a marker can only stand at column 0,
//! even inside block scalars), so each document is parsed on its own, and a document's line
//! numbers map back to the file by adding its line offset. Columns are kept as they are. A
//! byte-order mark at the start of the file or of a document is dropped (YAML allows one
//! before each document; libyaml does not count it as a column).

use libyaml_safer::{EventData, Mark, Parser};
use serde::de::{Deserialize, DeserializeOwned, Deserializer, EnumAccess, VariantAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One YAML document cut from a file.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    /// The document's lines; columns as in the file.
    pub text: String,
    /// Lines of the file before the document's first line.
    pub line_offset: usize,
    /// Lines a `--set` override inserted into `text` (1-based, `text`'s numbering).
    pub inserted: Vec<usize>,
}

impl Doc {
    /// The line of the document as written for a line of `text` (they differ after a
    /// `--set` inserted a line); an inserted line maps to the line that followed it.
    pub fn original_line(&self, line: usize) -> usize {
        line - self.inserted.iter().filter(|&&i| i < line).count()
    }
}

/// The byte-order mark, U+FEFF.
const BOM: char = '\u{feff}';

pub(crate) fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Cuts `text` into documents at `---` and `...` lines. Text after `---` on the same line
/// stays in the document (the marker is blanked). Documents holding only comments or blanks
/// are kept; the caller skips those that parse to nothing. A byte-order mark opening the file
/// or a document's first line is dropped.
pub(crate) fn split_documents(text: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut cur_start = 0usize;
    let mut has_content = false;
    for (i, line) in text.split('\n').enumerate() {
        let line = if i == 0 || (!has_content && cur.trim().is_empty()) {
            line.strip_prefix(BOM).unwrap_or(line)
        } else {
            line
        };
        if is_marker(line, "---") || is_marker(line, "...") {
            if has_content || !cur.trim().is_empty() {
                docs.push(Doc {
                    text: std::mem::take(&mut cur),
                    line_offset: cur_start,
                    inserted: Vec::new(),
                });
            }
            cur.clear();
            cur_start = i;
            has_content = false;
            if let Some(rest) = line.strip_prefix("---") {
                cur.push_str("   ");
                cur.push_str(rest);
                has_content = !rest.trim().is_empty();
            }
            cur.push('\n');
            continue;
        }
        if line.starts_with('%') && cur.trim().is_empty() {
            // A directive (`%YAML 1.2`) before the document: not part of its content.
            cur.push('\n');
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.trim().is_empty() {
        docs.push(Doc {
            text: cur,
            line_offset: cur_start,
            inserted: Vec::new(),
        });
    }
    docs
}

/// Decodes a file's bytes as UTF-8 (what kubectl and YAML 1.2 read), or says where the first
/// byte that is not UTF-8 sits: its 1-based line and column (in characters) and a message.
pub(crate) fn decode_utf8(bytes: Vec<u8>) -> Result<String, (Pos, String)> {
    let err = match String::from_utf8(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let bytes = err.as_bytes();
    let good = err.utf8_error().valid_up_to();
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err((
            Pos { line: 1, col: 1 },
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8"
                .to_string(),
        ));
    }
    let before = std::str::from_utf8(&bytes[..good]).expect("valid up to here");
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    let shown = match err.utf8_error().error_len() {
        Some(n) => {
            let shown: Vec<String> = bytes[good..good + n]
                .iter()
                .map(|b| format!("0x{b:02x}"))
                .collect();
            format!("byte{} {}", if n > 1 { "s" } else { "" }, shown.join(" "))
        }
        None => "a character cut short at the end of the file".to_string(),
    };
    Err((
        Pos { line, col },
        format!("invalid UTF-8 ({shown}): YAML is read as UTF-8; save the file as UTF-8"),
    ))
}

thread_local! {
    /// Set while [`without_panic_message`] runs `f` on this thread.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic in it without the panic hook's message on stderr (other threads'
/// panics still print). For a dependency's panic on input it should have refused: the caller
/// keeps what `f` did before it.
fn without_panic_message<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result
}

/// Where one node sits: the key (or sequence item) that introduces it and the node itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodePos {
    /// The key of a mapping entry, the item of a sequence, or the node itself at the root.
    pub key: Pos,
    /// The node itself (its first character, or its anchor or tag).
    pub value: Pos,
    /// Char indices of the node's text, `[start, end)`; `end` is `usize::MAX` for scalars
    /// and aliases, the position of the closing bracket of a flow collection, and where the
    /// next node starts after a block collection.
    pub start: usize,
    pub end: usize,
}

/// Field path (`spec.ports[0].nodePort`) to position, for one document, and the keys written
/// twice in one mapping.
#[derive(Debug, Clone, Default)]
pub(crate) struct PosMap {
    map: BTreeMap<String, NodePos>,
    /// The path of each key written a second (third...) time in its mapping, and that key's
    /// position.
    duplicates: Vec<(String, Pos)>,
}

impl PosMap {
    /// Builds the map of a document's text (its own line numbers, 1-based). A syntax error
    /// keeps the positions found before it.
    pub fn build(text: &str) -> PosMap {
        let mut rec = Recorder::new(text);
        let mut input = text.as_bytes();
        let mut parser = Parser::new();
        parser.set_input_string(&mut input);
        // libyaml-safer 0.3 panics where libyaml goes on: a tag followed by `,` in a flow
        // collection (`[!t, x]`, its scanner's `scan_tag` "TODO"; found by the scenario fuzz
        // target). The events before it are kept, so later positions fall back to their
        // ancestors' as after a syntax error; the values come from serde_yaml either way.
        let _ = without_panic_message(|| {
            while let Ok(ev) = parser.parse() {
                if matches!(
                    ev.data,
                    EventData::DocumentEnd { .. } | EventData::StreamEnd
                ) {
                    break;
                }
                rec.on_event(ev.data, &ev.start_mark);
            }
        });
        PosMap {
            map: rec.map,
            duplicates: rec.duplicates,
        }
    }

    /// Maps key lines back to the document as written after `--set` inserted `inserted`
    /// lines (see [`Doc::original_line`]).
    pub fn unshift(&mut self, doc: &Doc) {
        if doc.inserted.is_empty() {
            return;
        }
        for n in self.map.values_mut() {
            n.key.line = doc.original_line(n.key.line);
            n.value.line = doc.original_line(n.value.line);
        }
        for (_, p) in &mut self.duplicates {
            p.line = doc.original_line(p.line);
        }
    }

    pub fn get(&self, path: &str) -> Option<&NodePos> {
        self.map.get(path)
    }

    /// The position of `path`'s key, or of its nearest ancestor present in the document.
    pub fn locate(&self, path: &str) -> Option<Pos> {
        self.nearest(path).map(|(n, _)| n.key)
    }

    /// The position of `path`'s value (where a wrong value was written), or of its nearest
    /// ancestor's key.
    pub fn locate_value(&self, path: &str) -> Option<Pos> {
        self.nearest(path)
            .map(|(n, exact)| if exact { n.value } else { n.key })
    }

    fn nearest(&self, path: &str) -> Option<(&NodePos, bool)> {
        let mut p = path;
        loop {
            if let Some(n) = self.map.get(p) {
                return Some((n, p.len() == path.len()));
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }

    /// Keys written twice under `prefix` (`""` for the whole document), as paths relative to
    /// it, with their positions, in the order written.
    pub fn duplicates_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, Pos)> + 'a {
        self.duplicates
            .iter()
            .filter_map(move |(p, pos)| relative(p, prefix).map(|r| (r, *pos)))
    }
}

/// `path` relative to `prefix` if it lies under it (`items[0].spec.x` under `items[0]` is
/// `spec.x`).
pub(crate) fn relative<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    if let Some(r) = rest.strip_prefix('.') {
        Some(r)
    } else if rest.starts_with('[') {
        Some(rest)
    } else {
        None
    }
}

/// `spec.ports[0].nodePort` → `spec.ports[0]` → `spec.ports` → `spec` → ``.
pub(crate) fn parent_path(p: &str) -> &str {
    if p.ends_with(']') {
        if let Some(i) = p.rfind('[') {
            return &p[..i];
        }
    }
    match p.rfind('.') {
        Some(i) => &p[..i],
        None => "",
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn pos(m: &Mark) -> Pos {
    Pos {
        line: m.line as usize + 1,
        col: m.column as usize + 1,
    }
}

/// The merge key of YAML 1.1 (<https://yaml.org/type/merge.html>), which kubectl's YAML
/// reader honours.
const MERGE_KEY: &str = "<<";

/// At most this many positions are copied from anchors to the aliases naming them: an
/// alias-bomb costs positions, not memory.
const MAX_COPIED: usize = 100_000;

enum Frame {
    Map {
        path: String,
        /// The key read and waiting for its value, with its position.
        key: Option<(String, Pos)>,
        seen: BTreeSet<String>,
        /// A `<<` key was written: its entries are also the mapping's own at its end.
        merges: bool,
    },
    Seq {
        path: String,
        index: usize,
    },
}

/// Byte offsets (libyaml's marks) to char offsets (what `--set` edits count in), for marks
/// that mostly move forward.
struct CharIndex<'t> {
    text: &'t str,
    byte: usize,
    ch: usize,
}

impl CharIndex<'_> {
    fn at(&mut self, byte: u64) -> usize {
        let mut b = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while !self.text.is_char_boundary(b) {
            b -= 1;
        }
        if b < self.byte {
            self.byte = 0;
            self.ch = 0;
        }
        self.ch += self.text[self.byte..b].chars().count();
        self.byte = b;
        self.ch
    }
}

struct Recorder<'t> {
    chars: CharIndex<'t>,
    stack: Vec<Frame>,
    map: BTreeMap<String, NodePos>,
    duplicates: Vec<(String, Pos)>,
    /// Anchor name to the path of the node it names, and a scalar's value.
    anchors: BTreeMap<String, (String, Option<String>)>,
    /// Nesting inside a complex (non-scalar) mapping key, which is not recorded.
    skip: usize,
    copied: usize,
}

impl<'t> Recorder<'t> {
    fn new(text: &'t str) -> Self {
        Recorder {
            chars: CharIndex {
                text,
                byte: 0,
                ch: 0,
            },
            stack: Vec::new(),
            map: BTreeMap::new(),
            duplicates: Vec::new(),
            anchors: BTreeMap::new(),
            skip: 0,
            copied: 0,
        }
    }

    /// Called at the start of a node: its path, or `None` when the node is a mapping key
    /// (`scalar_key` is its text when it is a scalar).
    fn node_start(&mut self, mark: &Mark, scalar_key: Option<&str>) -> Option<String> {
        let here = pos(mark);
        let start = self.chars.at(mark.index);
        let (path, key) = match self.stack.last_mut() {
            None => (String::new(), here),
            Some(Frame::Map {
                path,
                key,
                seen,
                merges,
            }) => match key.take() {
                None => {
                    // This node is a key.
                    let k = scalar_key.unwrap_or("?").to_string();
                    if scalar_key.is_some() {
                        if k == MERGE_KEY {
                            *merges = true;
                        } else if !seen.insert(k.clone()) {
                            self.duplicates.push((join(path, &k), here));
                        }
                    }
                    *key = Some((k, here));
                    return None;
                }
                Some((k, kpos)) => (join(path, &k), kpos),
            },
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                (p, here)
            }
        };
        self.map.insert(
            path.clone(),
            NodePos {
                key,
                value: here,
                start,
                end: usize::MAX,
            },
        );
        Some(path)
    }

    /// Copies the positions under `from` to the same fields under `to` where `to` has none.
    fn copy_subtree(&mut self, from: &str, to: &str) {
        if from == to || relative(to, from).is_some() {
            return;
        }
        let found: Vec<(String, NodePos)> = self
            .map
            .range(from.to_string()..)
            .take_while(|(p, _)| p.starts_with(from))
            .filter_map(|(p, n)| {
                let rest = relative(p, from)?;
                let sep = if rest.starts_with('[') || to.is_empty() {
                    ""
                } else {
                    "."
                };
                Some((format!("{to}{sep}{rest}"), *n))
            })
            .collect();
        for (p, n) in found {
            if self.copied >= MAX_COPIED {
                return;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = self.map.entry(p) {
                e.insert(n);
                self.copied += 1;
            }
        }
    }

    fn on_event(&mut self, ev: EventData, mark: &Mark) {
        if self.skip > 0 {
            match ev {
                EventData::MappingStart { .. } | EventData::SequenceStart { .. } => self.skip += 1,
                EventData::MappingEnd | EventData::SequenceEnd => self.skip -= 1,
                _ => {}
            }
            return;
        }
        match ev {
            EventData::Scalar { anchor, value, .. } => {
                if let (Some(p), Some(a)) = (self.node_start(mark, Some(&value)), anchor) {
                    self.anchors.insert(a, (p, Some(value)));
                }
            }
            EventData::Alias { anchor } => {
                let target = self.anchors.get(&anchor).cloned();
                let as_key = target.as_ref().and_then(|(_, v)| v.clone());
                if let Some(p) = self.node_start(mark, Some(as_key.as_deref().unwrap_or("*"))) {
                    if let Some((from, _)) = target {
                        self.copy_subtree(&from, &p);
                    }
                }
            }
            EventData::MappingStart { ref anchor, .. }
            | EventData::SequenceStart { ref anchor, .. } => {
                let is_map = matches!(ev, EventData::MappingStart { .. });
                let anchor = anchor.clone();
                match self.node_start(mark, None) {
                    None => {
                        // A complex key: skip its content.
                        self.skip = 1;
                    }
                    Some(p) => {
                        if let Some(a) = anchor {
                            self.anchors.insert(a, (p.clone(), None));
                        }
                        self.stack.push(if is_map {
                            Frame::Map {
                                path: p,
                                key: None,
                                seen: BTreeSet::new(),
                                merges: false,
                            }
                        } else {
                            Frame::Seq { path: p, index: 0 }
                        });
                    }
                }
            }
            EventData::MappingEnd | EventData::SequenceEnd => {
                let end = self.chars.at(mark.index);
                if let Some(frame) = self.stack.pop() {
                    let (Frame::Map { ref path, .. } | Frame::Seq { ref path, .. }) = frame;
                    if let Some(n) = self.map.get_mut(path) {
                        n.end = end;
                    }
                    if let Frame::Map {
                        path, merges: true, ..
                    } = frame
                    {
                        // `<<: *a` or `<<: [*a, *b]`: the merged fields are the mapping's
                        // own unless written in it (YAML's merge; the first merged wins).
                        let merged = join(&path, MERGE_KEY);
                        let items: Vec<String> = self
                            .map
                            .range(format!("{merged}[")..)
                            .take_while(|(p, _)| p.starts_with(&format!("{merged}[")))
                            .map(|(p, _)| p.clone())
                            .filter(|p| p.ends_with(']') && !p[merged.len() + 1..].contains('['))
                            .collect();
                        let sources = if items.is_empty() {
                            vec![merged]
                        } else {
                            items
                        };
                        for s in sources {
                            self.copy_subtree(&s, &path);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A `serde_yaml::Value` read as Go's YAML and JSON decoders read a document for kubectl: a
/// key written twice keeps its last value (strict validation reports it from the
/// [`PosMap`]), where `serde_yaml`'s own `Value` refuses the document.
struct Lenient(Value);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor).map(Lenient)
    }
}

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i.into()))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u.into()))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Number(f.into()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Lenient::deserialize(d).map(|l| l.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Lenient(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Sequence(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some((Lenient(k), Lenient(v))) = map.next_entry()? {
            // The last of a key written twice wins, in its first place.
            out.insert(k, v);
        }
        Ok(Value::Mapping(out))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // A tagged node (`!Tag value`), as `serde_yaml::Value` reads it.
        let (tag, contents): (String, _) = data.variant()?;
        if tag.is_empty() {
            return Err(serde::de::Error::custom("empty YAML tag is not allowed"));
        }
        let Lenient(value) = contents.newtype_variant()?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// Reads one document's values (`Null` for an empty one): duplicate keys keep their last
/// value, merge keys are applied.
pub(crate) fn read_value(text: &str) -> Result<Value, serde_yaml::Error> {
    let mut v = Lenient::deserialize(serde_yaml::Deserializer::from_str(text))?.0;
    v.apply_merge()?;
    Ok(v)
}

/// The node at `path` (`spec.events[2].apply`) of a value.
pub(crate) fn value_at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in indices.split('[').filter(|s| !s.is_empty()) {
            cur = cur.get(idx.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

/// Why a value could not be deserialized as a type: the field path (`""` for the whole
/// value) and `serde_yaml`'s message without a position.
#[derive(Debug, Clone)]
pub(crate) struct TypeError {
    pub path: String,
    pub message: String,
}

/// Deserializes `value` as `T` (as `serde_yaml` reads text, so `cpu: 1` fills a string field
/// as kubectl's quantities allow), collecting the paths of fields `T` does not know.
pub(crate) fn typed<T: DeserializeOwned>(
    value: &Value,
    unknown: &mut Vec<String>,
) -> Result<T, TypeError> {
    // The value is written back out in `serde_yaml`'s canonical form and read as text:
    // the typed structure depends on the value alone, never on how the file laid it out.
    let text = serde_yaml::to_string(value).map_err(|e| TypeError {
        path: String::new(),
        message: without_positions(&e.to_string()),
    })?;
    let de = serde_yaml::Deserializer::from_str(&text);
    let mut seen = |p: serde_ignored::Path| unknown.push(ignored_path(&p));
    let de = serde_ignored::Deserializer::new(de, &mut seen);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        TypeError {
            path: if path == "." { String::new() } else { path },
            message: without_positions(&e.inner().to_string()),
        }
    })
}

/// A `serde_ignored` path as Kubernetes writes field paths: `spec.ports[0].name`.
pub(crate) fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        P::Map { parent, key } => join(&ignored_path(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// A message without the ` at line L column C` (and ` at position N`) that `serde_yaml` and
/// libyaml put after a problem and its context: the diagnostic carries the one position.
pub(crate) fn without_positions(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        if let Some(n) = position_len(after) {
            rest = &after[n..];
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The length of `line L column C` or `position N` at the start of `s`.
fn position_len(s: &str) -> Option<usize> {
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    if let Some(t) = s.strip_prefix("line ") {
        let l = digits(t);
        let t2 = t[l..].strip_prefix(" column ")?;
        let c = digits(t2);
        (l > 0 && c > 0).then_some(5 + l + 8 + c)
    } else {
        let t = s.strip_prefix("position ")?;
        let n = digits(t);
        (n > 0).then_some(9 + n)
    }
}

/// A YAML syntax error: libyaml's message (as kubectl prints it) with no position in it and,
/// for the usual slips, what to look at; and its position in the document's text, if any.
pub(crate) fn yaml_error(e: &serde_yaml::Error) -> (String, Option<Pos>) {
    let p = e.location().map(|l| Pos {
        line: l.line(),
        col: l.column(),
    });
    let msg = without_positions(&e.to_string());
    let hint = SYNTAX_HINTS
        .iter()
        .find(|(problem, _)| msg.starts_with(problem))
        .map(|(_, h)| h);
    match hint {
        Some(h) => (format!("{msg} ({h})"), p),
        None => (msg, p),
    }
}

/// libyaml's problems (`scanner.c`, `parser.c`) that a slip of the hand causes, and where to look.
const SYNTAX_HINTS: [(&str, &str); 6] = [
    (
        "did not find expected key",
        "check this line's indentation against the lines above it",
    ),
    (
        "mapping values are not allowed in this context",
        "a `key: value` where only a value can be: indent this line under its key, or quote a value that holds `: `",
    ),
    (
        "found character that cannot start any token",
        "YAML indents with spaces, not tabs; quote a value that starts with `@` or a backquote",
    ),
    (
        "found a tab character that violates indentation",
        "YAML indents with spaces, not tabs",
    ),
    (
        "did not find expected ',' or ']'",
        "a `[` not closed, or a comma missing between items",
    ),
    (
        "did not find expected '-' indicator",
        "a list item not aligned with the items above it",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// libyaml-safer panics on a tag before `,` in a flow collection (`!28ms,`), which libyaml
    /// (and so serde_yaml) reads as a tagged scalar: the positions before it are kept, the
    /// value is whole, and nothing panics.
    #[test]
    fn a_tag_before_a_comma_in_flow_costs_positions_not_a_panic() {
        let text = "a: 1\nevents:\n  - {at: !28ms, scale: 3}\nb: 2\n";
        let pos = PosMap::build(text);
        assert_eq!(pos.locate("a"), Some(Pos { line: 1, col: 1 }));
        assert_eq!(
            pos.locate("b"),
            pos.locate(""),
            "after the panic: the root's position"
        );
        let v = read_value(text).expect("libyaml reads it");
        assert_eq!(v["b"], Value::from(2));
    }

    #[test]
    fn documents_split_at_markers_keep_their_lines() {
        let text = "a: 1\n---\nb: 2\n...\n--- {c: 3}\n# only a comment\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].line_offset, 0);
        assert_eq!(docs[1].line_offset, 1);
        assert_eq!(docs[1].text, "   \nb: 2\n");
        assert_eq!(docs[2].line_offset, 4);
        assert!(docs[2].text.starts_with("    {c: 3}"));
    }

    #[test]
    fn byte_order_marks_open_the_file_and_documents() {
        let docs = split_documents("\u{feff}a: 1\n---\n\u{feff}b: 2\nc: \u{feff}\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "a: 1\n");
        assert_eq!(docs[1].text, "   \nb: 2\nc: \u{feff}\n\n");
        assert!(read_value(&docs[1].text).is_ok());
        let docs = split_documents("\u{feff}---\na: 1\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(read_value(&docs[0].text).unwrap()["a"], Value::from(1));
    }

    #[test]
    fn positions_name_keys_and_items() {
        let text = "spec:\n  ports:\n  - port: 80\n    nodePort: 30001\n  flow: {a: [1, 2]}\n";
        let m = PosMap::build(text);
        assert_eq!(
            m.get("spec.ports[0].nodePort").unwrap().key,
            Pos { line: 4, col: 5 }
        );
        assert_eq!(
            m.get("spec.ports[0].nodePort").unwrap().value,
            Pos { line: 4, col: 15 }
        );
        assert_eq!(m.get("spec.ports[0]").unwrap().key, Pos { line: 3, col: 5 });
        assert_eq!(
            m.get("spec.flow.a[1]").unwrap().key,
            Pos { line: 5, col: 17 }
        );
        assert_eq!(
            m.locate("spec.ports[0].name"),
            Some(Pos { line: 3, col: 5 })
        );
        assert_eq!(
            m.locate("spec.ports[0].nodePort"),
            Some(Pos { line: 4, col: 5 })
        );
    }

    /// The inputs yaml-rust2 refused while libyaml (serde_yaml, kubectl's go-yaml) reads them.
    #[test]
    fn tabs_multi_line_flow_and_crlf_have_positions() {
        let text = "spec:\n  type:\tNodePort\n  command: [\n    \"/bin/sh\", \"-c\",\n    \"sleep 180\"\n  ]\n  x: 1\n";
        let m = PosMap::build(text);
        assert_eq!(m.locate("spec.type"), Some(Pos { line: 2, col: 3 }));
        assert_eq!(
            m.get("spec.command[2]").unwrap().key,
            Pos { line: 5, col: 5 }
        );
        assert_eq!(m.locate("spec.x"), Some(Pos { line: 7, col: 3 }));
        let v = read_value(text).unwrap();
        assert_eq!(v["spec"]["type"], Value::from("NodePort"));
        assert_eq!(v["spec"]["command"][2], Value::from("sleep 180"));
        let crlf = text.replace('\n', "\r\n");
        let m = PosMap::build(&crlf);
        assert_eq!(m.locate("spec.x"), Some(Pos { line: 7, col: 3 }));
        assert_eq!(read_value(&crlf).unwrap(), v);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_are_recorded() {
        let text = "spec:\n  replicas: 3\n  x: 1\n  replicas: 2\n";
        let v = read_value(text).unwrap();
        assert_eq!(v["spec"]["replicas"], Value::from(2));
        let m = PosMap::build(text);
        let d: Vec<_> = m.duplicates_under("").collect();
        assert_eq!(d, vec![("spec.replicas", Pos { line: 4, col: 3 })]);
        let d: Vec<_> = m.duplicates_under("spec").collect();
        assert_eq!(d, vec![("replicas", Pos { line: 4, col: 3 })]);
    }

    #[test]
    fn merge_keys_and_aliases_take_values_and_positions() {
        let text = "base: &b {replicas: 4, x: 1}\nspec:\n  <<: *b\n  x: 2\nother: *b\n";
        let v = read_value(text).unwrap();
        assert_eq!(v["spec"]["replicas"], Value::from(4));
        assert_eq!(v["spec"]["x"], Value::from(2));
        assert!(v["spec"].get(MERGE_KEY).is_none());
        assert_eq!(v["other"]["replicas"], Value::from(4));
        let m = PosMap::build(text);
        // A merged field is where its value was written; a field written in the mapping
        // itself keeps its own place.
        assert_eq!(m.locate("spec.replicas"), Some(Pos { line: 1, col: 11 }));
        assert_eq!(m.locate("spec.x"), Some(Pos { line: 4, col: 3 }));
        assert_eq!(m.locate("other.x"), Some(Pos { line: 1, col: 24 }));
        assert_eq!(m.duplicates_under("").count(), 0);
    }

    #[test]
    fn a_syntax_error_keeps_earlier_positions() {
        let m = PosMap::build("a: 1\nb: [1,\n");
        assert_eq!(m.locate("a"), Some(Pos { line: 1, col: 1 }));
        assert_eq!(m.locate("zzz"), Some(Pos { line: 1, col: 1 }));
    }

    #[test]
    fn messages_lose_every_position() {
        assert_eq!(
            without_positions("found unexpected end of stream at line 2 column 1, while scanning a quoted scalar at line 1 column 4"),
            "found unexpected end of stream, while scanning a quoted scalar"
        );
        assert_eq!(
            without_positions(
                "spec.x: invalid type: string \"at line\", expected i32 at line 3 column 9"
            ),
            "spec.x: invalid type: string \"at line\", expected i32"
        );
        assert_eq!(without_positions("bad at position 7"), "bad");
    }

    #[test]
    fn invalid_utf8_is_found_at_its_line_and_column() {
        let (p, msg) = decode_utf8(b"a: 1\nb: \xc3\xa9x\xff\n".to_vec()).unwrap_err();
        assert_eq!(p, Pos { line: 2, col: 6 });
        assert!(msg.contains("0xff"), "{msg}");
        assert!(decode_utf8(b"\xff\xfea\x00".to_vec())
            .unwrap_err()
            .1
            .contains("UTF-16"));
        assert_eq!(decode_utf8(b"ok".to_vec()).unwrap(), "ok");
    }

    #[test]
    fn typed_values_report_paths_and_unknown_fields() {
        #[derive(serde::Deserialize, Debug)]
        struct S {
            a: Vec<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Inner {
            #[allow(dead_code)]
            n: i32,
            #[allow(dead_code)]
            s: Option<String>,
        }
        let mut unknown = Vec::new();
        let v = read_value("a:\n- {n: 1, s: 1.50, typo: 2}\n").unwrap();
        let s: S = typed(&v, &mut unknown).unwrap();
        assert_eq!(s.a.len(), 1);
        assert_eq!(unknown, vec!["a[0].typo".to_string()]);
        let v = read_value("a:\n- {n: x}\n").unwrap();
        let e = typed::<S>(&v, &mut Vec::new()).unwrap_err();
        assert_eq!(e.path, "a[0].n");
        assert!(!e.message.contains("line"), "{}", e.message);
    }

    #[test]
    fn values_are_found_by_path() {
        let v = read_value("spec:\n  events:\n  - at: 1s\n  - apply: {kind: Service}\n").unwrap();
        assert_eq!(
            value_at(&v, "spec.events[1].apply").unwrap()["kind"],
            Value::from("Service")
        );
        assert!(value_at(&v, "spec.events[2]").is_none());
    }
}
