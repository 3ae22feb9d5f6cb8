//! The fuzz targets' entry points: each takes a raw input and must neither panic nor break the
//! property it states. The cargo-fuzz targets (`fuzz/fuzz_targets/`, nightly) call them, and so
//! does `tests/integration/fuzz_corpus.rs` (stable, in `cargo test`) with every file of
//! `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`.
//!
//! Inputs that are not UTF-8 are skipped: every entry point takes text, and a file's bytes are
//! decoded before they reach it.

// Each fuzz target uses one of these; the corpus test uses them all.
#![allow(dead_code)]

use kubesim::engine::SimDuration;
use kubesim::scenario::{self, Override};
use kubesim::traffic::spec::Destination;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// An entry point: takes one input, panics on a bug.
pub type Entry = fn(&[u8]);

/// The entry points by target name, for the corpus test.
pub const TARGETS: [(&str, Entry); 7] = [
    ("scenario", scenario),
    ("manifest", manifest),
    ("overrides", overrides),
    ("quantity", quantity),
    ("duration", duration),
    ("rate", rate),
    ("destination", destination),
];

/// A folder that does not exist: manifests and data files named by a fuzzed scenario are not
/// found (absolute paths still are, and are read as kubesim reads any file).
const NOWHERE: &str = "/nonexistent/kubesim-fuzz";

/// A scenario file's whole text (the Scenario document and inline objects) through the loader.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = scenario::load_str(text, "fuzz.yaml", Path::new(NOWHERE));
}

/// A fixed Scenario document whose `spec.manifests` names `m.yaml`, the fuzzed manifest text.
const WITH_MANIFEST: &str = "apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {name: fuzz}
spec:
  duration: 10s
  cluster:
    nodes: [{name: n1, ip: 192.168.0.10}]
  traffic:
    - {name: web, from: external, to: \"192.168.0.10:30080\", rate: 10/s}
  manifests: [m.yaml]
";

/// A manifest file's text, read from disk as `spec.manifests` files are.
pub fn manifest(data: &[u8]) {
    if std::str::from_utf8(data).is_err() {
        return;
    }
    // One manifest file per process, written by one caller at a time.
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static ONE: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("kubesim-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a temporary folder");
        d
    });
    let _one = ONE.lock().unwrap_or_else(PoisonError::into_inner);
    std::fs::write(dir.join("m.yaml"), data).expect("the manifest written");
    let _ = scenario::load_str(WITH_MANIFEST, "fuzz.yaml", dir);
}

/// The bundled scenarios `--set` overrides are tried on: the first byte of the input, if a
/// digit, picks one (default the first).
const BASES: [&str; 3] = [
    include_str!("../scenarios/capacity-plan.yaml"),
    include_str!("../scenarios/seed-tutorial.yaml"),
    include_str!("../scenarios/rolling-update.yaml"),
];

/// `--set KEY=VALUES` flags, one per line, parsed as `kubesim sweep` parses them; the scenario
/// is then loaded with each axis's first value, and with each axis's last.
pub fn overrides(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (base, text) = match text.as_bytes().first() {
        Some(b @ b'0'..=b'9') => (BASES[usize::from(b - b'0') % BASES.len()], &text[1..]),
        _ => (BASES[0], text),
    };
    let sets: Vec<String> = text.lines().map(str::to_string).collect();
    let Ok(axes) = kubesim::sweep::parse_sets(&sets) else {
        return;
    };
    for pick in [<[String]>::first, <[String]>::last] {
        let cell: Vec<Override> = axes
            .iter()
            .filter_map(|a| pick(&a.values).map(|v| Override::new(a.key.clone(), v.clone())))
            .collect();
        let _ = scenario::load_str_with(base, "fuzz.yaml", Path::new(NOWHERE), &cell);
    }
}

/// A Kubernetes quantity; when both are defined and the millis do not saturate, whole units
/// are millis rounded up (`ceil(x) = ceil(ceil(1000 x) / 1000)`).
pub fn quantity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = scenario::quantity::parse(text) else {
        return;
    };
    for scale in 0..=12 {
        let _ = q.ceil_scaled(scale);
    }
    // Both saturate at 2^63-1, as upstream's MilliValue and Value do: where the millis
    // saturate, the whole units are at least a thousandth of the bound.
    if let (Some(m), Some(v)) = (q.millis(), q.value()) {
        if m < scenario::quantity::MAX_SCALED {
            assert_eq!(v, m.div_ceil(1000), "{text:?}: value against millis");
        } else {
            assert!(
                v >= m / 1000,
                "{text:?}: value {v} against saturated millis"
            );
        }
    }
}

/// A duration; one that parses prints as text that parses back to it (exactly, below 2^53
/// nanoseconds, about 104 days, where every sum of its parts is exact in floating point).
pub fn duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = SimDuration::parse(text) else {
        return;
    };
    if d.as_nanos() < 1 << 53 {
        let shown = d.to_string();
        assert_eq!(
            SimDuration::parse(&shown),
            Ok(d),
            "{text:?} printed as {shown:?}"
        );
    }
}

/// A rate; one that parses is a finite number of requests per second above zero.
pub fn rate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = scenario::parse_rate(text) {
        assert!(r.is_finite() && r > 0.0, "{text:?} gives rate {r}");
    }
}

/// A destination; one that parses has a port from 1 and prints as text that parses back to it.
pub fn destination(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = scenario::parse_destination(text) else {
        return;
    };
    let shown = match &d {
        Destination::Addr(ip, port) => format!("{ip}:{port}"),
        Destination::Name(name, port) => format!("{name}:{port}"),
    };
    let port = match &d {
        Destination::Addr(_, p) | Destination::Name(_, p) => *p,
    };
    assert!(port >= 1, "{text:?}: port 0");
    assert_eq!(
        scenario::parse_destination(&shown).as_ref(),
        Ok(&d),
        "{text:?} printed as {shown:?}"
    );
}
