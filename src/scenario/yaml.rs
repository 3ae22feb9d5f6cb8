//! YAML plumbing: splitting a stream into documents, the position of every field, and
//! turning `serde_yaml`/`serde_ignored` paths and errors into `file:line:col` terms.
//!
//! Documents are cut at `---` and `...` marker lines (a marker can only stand at column 0,
//! even inside block scalars), so each document is parsed on its own by both `serde_yaml`
//! (values) and `yaml-rust2` (positions) over the very same text, and a document's line
//! numbers map back to the file by adding its line offset. Columns are kept as they are.

use std::collections::BTreeMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Cuts `text` into documents at `---` and `...` lines. Text after `---` on the same line
/// stays in the document (the marker is blanked). Documents holding only comments or blanks
/// are kept; the caller skips those that parse to nothing.
pub(crate) fn split_documents(text: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut cur_start = 0usize;
    let mut has_content = false;
    for (i, line) in text.split('\n').enumerate() {
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

/// Where one node sits: the key (or sequence item) that introduces it and the node itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodePos {
    /// The key of a mapping entry, the item of a sequence, or the node itself at the root.
    pub key: Pos,
    /// Char indices of the node's text, `[start, end)`; `end` is exact for flow collections
    /// and scalars' starts only, good enough to cut out a block mapping.
    pub start: usize,
    pub end: usize,
}

/// Field path (`spec.ports[0].nodePort`) to position, for one document.
#[derive(Debug, Clone, Default)]
pub(crate) struct PosMap {
    map: BTreeMap<String, NodePos>,
}

impl PosMap {
    /// Builds the map of a document's text (its own line numbers, 1-based). A YAML syntax
    /// error gives an empty map: `serde_yaml` reports it with its position.
    pub fn build(text: &str) -> PosMap {
        let mut rec = Recorder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut rec, false).is_err() {
            return PosMap::default();
        }
        PosMap { map: rec.map }
    }

    /// Maps key lines back to the document as written after `--set` inserted `inserted`
    /// lines (see [`Doc::original_line`]).
    pub fn unshift(&mut self, doc: &Doc) {
        if doc.inserted.is_empty() {
            return;
        }
        for n in self.map.values_mut() {
            n.key.line = doc.original_line(n.key.line);
        }
    }

    pub fn get(&self, path: &str) -> Option<&NodePos> {
        self.map.get(path)
    }

    /// The position of `path`, or of its nearest ancestor present in the document.
    pub fn locate(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(n) = self.map.get(p) {
                return Some(n.key);
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
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

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

enum Frame {
    /// `mark`: where the mapping's start event was reported; for a block mapping that is
    /// at its first `:`, so the first key's position replaces it.
    Map {
        path: String,
        key: Option<(String, Marker)>,
        first: bool,
        mark: Marker,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    map: BTreeMap<String, NodePos>,
    /// Nesting inside a complex (non-scalar) mapping key, which is not recorded.
    skip: usize,
}

impl Recorder {
    /// Called at the start of a node: its path and the position of what introduces it, or
    /// `None` when the node is a mapping key.
    fn node_start(&mut self, mark: &Marker, scalar_key: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => {
                self.map.insert(
                    String::new(),
                    NodePos {
                        key: pos(mark),
                        start: mark.index(),
                        end: usize::MAX,
                    },
                );
                Some(String::new())
            }
            Some(Frame::Map {
                path,
                key,
                first,
                mark: map_mark,
            }) => match key.take() {
                None => {
                    // This node is a key.
                    if std::mem::take(first) {
                        if let Some(n) = self.map.get_mut(path.as_str()) {
                            if mark.index() < n.start {
                                n.start = mark.index();
                                if n.key == pos(map_mark) {
                                    n.key = pos(mark);
                                }
                            }
                        }
                    }
                    if let Some(k) = scalar_key {
                        *key = Some((k.to_string(), *mark));
                    } else {
                        *key = Some(("?".to_string(), *mark));
                    }
                    None
                }
                Some((k, kmark)) => {
                    let p = join(path, &k);
                    self.map.insert(
                        p.clone(),
                        NodePos {
                            key: pos(&kmark),
                            start: mark.index(),
                            end: usize::MAX,
                        },
                    );
                    Some(p)
                }
            },
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                self.map.insert(
                    p.clone(),
                    NodePos {
                        key: pos(mark),
                        start: mark.index(),
                        end: usize::MAX,
                    },
                );
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.skip > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip += 1,
                Event::MappingEnd | Event::SequenceEnd => self.skip -= 1,
                _ => {}
            }
            return;
        }
        match ev {
            Event::Scalar(ref v, ..) => {
                self.node_start(&mark, Some(v));
            }
            Event::Alias(_) => {
                self.node_start(&mark, Some("*"));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                match self.node_start(&mark, None) {
                    None => {
                        // A complex key: skip its content.
                        self.skip = 1;
                    }
                    Some(p) => {
                        let frame = if is_map {
                            Frame::Map {
                                path: p,
                                key: None,
                                first: true,
                                mark,
                            }
                        } else {
                            Frame::Seq { path: p, index: 0 }
                        };
                        self.stack.push(frame);
                    }
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (Frame::Map { path, .. } | Frame::Seq { path, .. }) = frame;
                    if let Some(n) = self.map.get_mut(&path) {
                        n.end = mark.index();
                    }
                }
            }
            _ => {}
        }
    }
}

/// Cuts the node `n` out of `text` as a document of its own, laid out at the same lines and
/// columns: returns the text and the number of lines before it.
pub(crate) fn cut_node(text: &str, n: &NodePos) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let start = n.start.min(chars.len());
    let mut end = n.end.min(chars.len());
    if chars.get(start) == Some(&'{') || chars.get(start) == Some(&'[') {
        // A flow collection ends at its closing bracket, which the end mark points at.
        end = (end + 1).min(chars.len());
    }
    let line_start = chars[..start]
        .iter()
        .rposition(|c| *c == '\n')
        .map_or(0, |i| i + 1);
    let lines_before = chars[..line_start].iter().filter(|c| **c == '\n').count();
    let mut out: String = " ".repeat(start - line_start);
    out.extend(&chars[start..end.max(start)]);
    out.push('\n');
    (out, lines_before)
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

/// A `serde_yaml` error's message without its trailing ` at line L column C`, and its
/// position in the document's text, if it has one.
pub(crate) fn yaml_error(e: &serde_yaml::Error) -> (String, Option<Pos>) {
    let mut msg = e.to_string();
    if let Some(i) = msg.rfind(" at line ") {
        if msg[i..].contains(" column ") {
            msg.truncate(i);
        }
    }
    let p = e.location().map(|l| Pos {
        line: l.line(),
        col: l.column(),
    });
    (msg, p)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn positions_name_keys_and_items() {
        let text = "spec:\n  ports:\n  - port: 80\n    nodePort: 30001\n  flow: {a: [1, 2]}\n";
        let m = PosMap::build(text);
        assert_eq!(
            m.get("spec.ports[0].nodePort").unwrap().key,
            Pos { line: 4, col: 5 }
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

    #[test]
    fn a_cut_node_keeps_lines_and_columns() {
        let text = "items:\n- kind: A\n  x: 1\n- {kind: B}\n";
        let m = PosMap::build(text);
        let (t, before) = cut_node(text, m.get("items[0]").unwrap());
        assert_eq!(before, 1);
        let v: serde_yaml::Value = serde_yaml::from_str(&t).unwrap();
        assert_eq!(v["x"], serde_yaml::Value::from(1));
        let (t, before) = cut_node(text, m.get("items[1]").unwrap());
        assert_eq!(before, 3);
        assert_eq!(t, "  {kind: B}\n");
    }
}
