//! The fuzz corpus on stable Rust: every file of `fuzz/corpus/<target>/` (the minimised corpus
//! the fuzzers grew from the bundled scenarios and hand-made hostile inputs) and of
//! `fuzz/artifacts/<target>/` (inputs that once crashed, kept as regressions) goes through the
//! same entry point as its cargo-fuzz target (`fuzz/entry.rs`), and none may panic.

#[path = "../../fuzz/entry.rs"]
mod entry;

use crate::util::root;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// The files of `fuzz/<kind>/<target>/`, sorted.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz").join(kind).join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_fuzz_corpus_and_regression_input_goes_through_without_a_panic() {
    let mut failed = Vec::new();
    for (target, run) in entry::TARGETS {
        let corpus = inputs("corpus", target);
        assert!(
            corpus.len() >= 5,
            "fuzz/corpus/{target} holds {} inputs: the corpus is missing",
            corpus.len()
        );
        for file in corpus.iter().chain(&inputs("artifacts", target)) {
            let data = fs::read(file).expect("a corpus file");
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "panicked on: {failed:#?}");
}
