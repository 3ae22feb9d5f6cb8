//! One reading of YAML, as a property: every bundled scenario, written out again in another
//! legal layout (block or flow collections, keys in another order, comments, CRLF line ends,
//! byte-order marks, tabs after colons, the objects gathered in a `kind: List`), loads to the
//! same `sim::Scenario` and runs to the same `summary.json`, byte for byte.

use crate::util::root;
use kubesim::scenario::{self, Loaded};
use kubesim::sim::Simulation;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde::Deserialize;
use serde_yaml::Value;

/// How one variant is written.
#[derive(Debug, Clone)]
struct Layout {
    /// Drives every per-node choice (flow or block, key order, comments, tabs).
    seed: u64,
    shuffle_keys: bool,
    comments: bool,
    tabs: bool,
    crlf: bool,
    bom: bool,
    as_list: bool,
}

fn layouts() -> impl Strategy<Value = Layout> {
    (
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(seed, shuffle_keys, comments, tabs, crlf, bom, as_list)| Layout {
                seed,
                shuffle_keys,
                comments,
                tabs,
                crlf,
                bom,
                as_list,
            },
        )
}

/// A small deterministic generator for the per-node choices (xorshift64*).
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }
}

struct Writer<'a> {
    layout: &'a Layout,
    choices: Choices,
    out: String,
}

/// A string YAML reads back as that string when written bare.
fn plain_ok(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ]
    .contains(&s.to_ascii_lowercase().as_str());
    first_ok
        && !special
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if plain_ok(s) => s.clone(),
        // JSON's string syntax is YAML's double-quoted scalar.
        Value::String(s) => serde_json::to_string(s).expect("a string serializes"),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => {
            panic!("not a scalar: {v:?}")
        }
    }
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Sequence(_) | Value::Mapping(_))
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

impl Writer<'_> {
    fn entries<'v>(&mut self, m: &'v serde_yaml::Mapping) -> Vec<(&'v Value, &'v Value)> {
        let mut e: Vec<_> = m.iter().collect();
        if self.layout.shuffle_keys {
            // Fisher-Yates with the layout's choices.
            for i in (1..e.len()).rev() {
                let j = (self.choices.next() % (i as u64 + 1)) as usize;
                e.swap(i, j);
            }
        }
        e
    }

    /// A node in flow style, on one line.
    fn flow(&mut self, v: &Value) -> String {
        match v {
            Value::Mapping(m) => {
                let parts: Vec<String> = self
                    .entries(m)
                    .into_iter()
                    .map(|(k, v)| format!("{}: {}", scalar(k), self.flow(v)))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::Sequence(s) => {
                let parts: Vec<String> = s.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Tagged(_) => panic!("no tags in the bundled scenarios"),
            _ => scalar(v),
        }
    }

    fn comment_line(&mut self, indent: usize) {
        if self.layout.comments && self.choices.one_in(4) {
            self.out.push_str(&format!(
                "{}# a comment: with [brackets], {{braces}}, a: colon\n",
                " ".repeat(indent)
            ));
        }
    }

    fn trailing_comment(&mut self) -> &'static str {
        if self.layout.comments && self.choices.one_in(3) {
            "  # trailing"
        } else {
            ""
        }
    }

    /// Whether to write a collection in flow style here.
    fn choose_flow(&mut self, v: &Value) -> bool {
        !is_collection(v) || is_empty_collection(v) || self.choices.one_in(4)
    }

    /// A mapping in block style, its keys at column `indent`.
    fn block_map(&mut self, m: &serde_yaml::Mapping, indent: usize) {
        let pad = " ".repeat(indent);
        for (k, v) in self.entries(m) {
            self.comment_line(indent);
            let key = scalar(k);
            if self.choose_flow(v) {
                let sep = if self.layout.tabs && self.choices.one_in(2) {
                    ":\t"
                } else {
                    ": "
                };
                let text = self.flow(v);
                let c = self.trailing_comment();
                self.out.push_str(&format!("{pad}{key}{sep}{text}{c}\n"));
            } else {
                let c = self.trailing_comment();
                self.out.push_str(&format!("{pad}{key}:{c}\n"));
                match v {
                    Value::Mapping(m) => self.block_map(m, indent + 2),
                    Value::Sequence(s) => {
                        // Indentless (`key:\n- a`) or indented, both as kubectl reads them.
                        let at = if self.choices.one_in(2) {
                            indent
                        } else {
                            indent + 2
                        };
                        self.block_seq(s, at);
                    }
                    _ => unreachable!("a collection"),
                }
            }
        }
    }

    /// A sequence in block style, its dashes at column `indent`.
    fn block_seq(&mut self, s: &[Value], indent: usize) {
        let pad = " ".repeat(indent);
        for v in s {
            self.comment_line(indent);
            if self.choose_flow(v) {
                let text = self.flow(v);
                let c = self.trailing_comment();
                self.out.push_str(&format!("{pad}- {text}{c}\n"));
                continue;
            }
            match v {
                Value::Mapping(m) => {
                    // `- key: v` with the rest under it, or `-` alone on its line.
                    let start = self.out.len();
                    self.block_map(m, indent + 2);
                    let first = &self.out[start..];
                    if !first.trim_start().starts_with('#') && self.choices.one_in(2) {
                        self.out
                            .replace_range(start..start + indent + 2, &format!("{pad}- "));
                    } else {
                        self.out.insert_str(start, &format!("{pad}-\n"));
                    }
                }
                Value::Sequence(inner) => {
                    self.out.push_str(&format!("{pad}-\n"));
                    self.block_seq(inner, indent + 2);
                }
                _ => unreachable!("a collection"),
            }
        }
    }

    fn document(&mut self, v: &Value) {
        self.comment_line(0);
        match v {
            Value::Mapping(m) if !self.choices.one_in(5) => self.block_map(m, 0),
            _ => {
                let text = self.flow(v);
                self.out.push_str(&text);
                self.out.push('\n');
            }
        }
    }
}

/// `text` (a scenario file) written again in `layout`.
fn rewrite(text: &str, layout: &Layout) -> String {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("a bundled scenario is YAML"))
        .filter(|v| !v.is_null())
        .collect();
    let (scenario, objects) = docs.split_first().expect("a Scenario document first");
    let mut docs = vec![scenario.clone()];
    if layout.as_list && !objects.is_empty() {
        let mut list = serde_yaml::Mapping::new();
        list.insert("apiVersion".into(), "v1".into());
        list.insert("kind".into(), "List".into());
        list.insert("items".into(), Value::Sequence(objects.to_vec()));
        docs.push(Value::Mapping(list));
    } else {
        docs.extend(objects.iter().cloned());
    }
    let mut w = Writer {
        layout,
        choices: Choices(layout.seed | 1),
        out: String::new(),
    };
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            w.out.push_str("---\n");
        }
        w.document(d);
    }
    let mut out = w.out;
    if layout.bom {
        out = format!("\u{feff}{}", out.replace("---\n", "---\n\u{feff}"));
    }
    if layout.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

fn bundled() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.ends_with(".yaml").then_some(n)
        })
        .collect();
    names.sort();
    names
}

/// The loaded scenario as a value to compare (its `Debug` shows every field; no map in it
/// is a `HashMap`), and its warnings without their positions, which a new layout moves.
fn shown(l: &Loaded) -> (String, Vec<String>) {
    let mut w: Vec<String> = l.warnings.iter().map(|d| d.message.clone()).collect();
    w.sort();
    (format!("{:?}", l.scenario), w)
}

/// `summary.json` of the loaded scenario run for at most two simulated seconds.
fn summary(l: &Loaded) -> String {
    let mut s = l.scenario.clone();
    s.duration = s.duration.min(kubesim::engine::SimDuration::from_secs(2));
    s.warmup = kubesim::engine::SimDuration::ZERO;
    let sim = Simulation::new(s).unwrap_or_else(|e| panic!("API errors: {e:?}"));
    kubesim::report::summary_json(&sim.run())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        rng_seed: RngSeed::Fixed(12),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_scenario_in_another_layout_loads_and_runs_the_same(
        which in 0usize..64,
        layout in layouts(),
    ) {
        let names = bundled();
        let name = &names[which % names.len()];
        let dir = root().join("scenarios");
        let original = scenario::load(&dir.join(name)).unwrap_or_else(|d| panic!("{name}: {d}"));
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let variant_text = rewrite(&text, &layout);
        let variant = scenario::load_str(&variant_text, name, &dir)
            .unwrap_or_else(|d| panic!("{name} in {layout:?} does not load:\n{d}\n{variant_text}"));
        prop_assert_eq!(shown(&variant), shown(&original), "{} in {:?}", name, layout);
        prop_assert_eq!(summary(&variant), summary(&original));
    }
}

/// Two bundled scenarios in one layout with every option at once, run to their end: the same
/// `summary.json`.
#[test]
fn the_seed_in_every_option_at_once_runs_to_the_same_bytes() {
    let layout = Layout {
        seed: 7,
        shuffle_keys: true,
        comments: true,
        tabs: true,
        crlf: true,
        bom: true,
        as_list: true,
    };
    let dir = root().join("scenarios");
    for name in ["seed-tutorial.yaml", "rolling-update.yaml"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let variant = rewrite(&text, &layout);
        assert!(variant.contains(":\t") && variant.contains("\r\n") && variant.contains("List"));
        let a = scenario::load(&dir.join(name)).unwrap();
        let b = scenario::load_str(&variant, name, &dir).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(shown(&a), shown(&b));
        let run = |l: &Loaded| {
            kubesim::report::summary_json(&Simulation::new(l.scenario.clone()).unwrap().run())
        };
        assert_eq!(run(&a), run(&b), "{name}");
    }
}
