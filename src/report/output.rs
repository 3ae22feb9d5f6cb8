//! Writing a run's output folder, all or nothing.
//!
//! Every file is first written into a hidden sibling folder (`.<name>.tmp-<pid>-<n>`), then that
//! folder is renamed into place, replacing an earlier output folder of the same name. A failure
//! while writing removes the temporary folder and leaves any earlier output untouched, so a
//! failed run never leaves a half-written folder. Replacing an existing folder takes two
//! renames (old folder aside, new folder in), because Windows cannot rename onto a non-empty
//! folder; between them the folder is briefly absent, never half-written.

use super::charts::Chart;
use super::csv_out::{requests_by_pod_csv, timeline_csv};
use super::limits::Rows;
use super::summary::summary_json;
use super::tables::events_table;
use super::topology::{topology_dot, write_topology_png, write_topology_svg};
use crate::sim::outcome::Outcome;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The files [`write_outputs`] writes, in the order it writes them.
pub const OUTPUT_FILES: [&str; 15] = [
    "summary.json",
    "requests_by_pod.csv",
    "timeline.csv",
    "events.log",
    "distribution.png",
    "distribution.svg",
    "timeline.png",
    "timeline.svg",
    "latency.png",
    "latency.svg",
    "load.png",
    "load.svg",
    "topology.dot",
    "topology.png",
    "topology.svg",
];

/// Why the output folder could not be written. Every variant is fatal to the output: nothing
/// was put in place, and an earlier output folder of the same name is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file system refused: a folder could not be made, written, renamed or removed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A chart could not be drawn or encoded (plotters' error, as text).
    #[error("cannot draw {}: {message}", path.display())]
    Chart { path: PathBuf, message: String },
    /// The output path has no final component to name the folder (`/`, `..`).
    #[error("output path {} does not name a folder", path.display())]
    BadPath { path: PathBuf },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `events.log`: the cluster's events as `kubectl get events` lists them, after a comment line
/// saying that TIME is simulated time since the start of the run.
pub fn events_log(outcome: &Outcome) -> String {
    format!(
        "# events of scenario {} (seed {}), as `kubectl get events` lists them at the end of the run;\n# TIME (kubesim's addition) is the simulated instant, LAST SEEN the age at the end\n{}",
        outcome.scenario,
        outcome.seed,
        events_table(outcome, Rows::All)
    )
}

/// Writes every file of [`OUTPUT_FILES`] into `dir` (made if absent, replaced if present),
/// atomically as the module explains, and returns their final paths in that order.
pub fn write_outputs(outcome: &Outcome, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    write_folder(dir, |tmp| write_all(outcome, tmp))?;
    Ok(OUTPUT_FILES.iter().map(|f| dir.join(f)).collect())
}

/// Makes the folder `dir` atomically, as the module explains: `fill` writes into an empty
/// temporary folder, which then replaces `dir`.
pub(crate) fn write_folder(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = dir
        .file_name()
        .ok_or_else(|| ReportError::BadPath {
            path: dir.to_path_buf(),
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    let unique = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = parent.join(format!(".{name}.tmp-{unique}"));
    fs::create_dir(&tmp).map_err(io_error(&tmp))?;

    if let Err(e) = fill(&tmp) {
        // Best effort: the error that matters is the one that stopped the writing.
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }

    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{unique}"));
        if let Err(e) = fs::rename(dir, &old) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(io_error(dir)(e));
        }
        if let Err(e) = fs::rename(&tmp, dir) {
            // Put the earlier output back where it was.
            let _ = fs::rename(&old, dir);
            let _ = fs::remove_dir_all(&tmp);
            return Err(io_error(dir)(e));
        }
        fs::remove_dir_all(&old).map_err(io_error(&old))?;
    } else if let Err(e) = fs::rename(&tmp, dir) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(io_error(dir)(e));
    }
    Ok(())
}

/// Writes every output file into `dir`, an empty folder.
fn write_all(outcome: &Outcome, dir: &Path) -> Result<(), ReportError> {
    let texts = [
        ("summary.json", summary_json(outcome)),
        ("requests_by_pod.csv", requests_by_pod_csv(outcome)),
        ("timeline.csv", timeline_csv(outcome)),
        ("events.log", events_log(outcome)),
    ];
    for (file, text) in texts {
        let path = dir.join(file);
        fs::write(&path, text).map_err(io_error(&path))?;
    }
    for chart in Chart::ALL {
        for (ext, png) in [("png", true), ("svg", false)] {
            let path = dir.join(format!("{}.{ext}", chart.stem()));
            let drawn = if png {
                chart.write_png(outcome, &path)
            } else {
                chart.write_svg(outcome, &path)
            };
            drawn.map_err(|e| ReportError::Chart { path, message: e.0 })?;
        }
    }
    let path = dir.join("topology.dot");
    fs::write(&path, topology_dot(outcome)).map_err(io_error(&path))?;
    for (ext, png) in [("png", true), ("svg", false)] {
        let path = dir.join(format!("topology.{ext}"));
        let drawn = if png {
            write_topology_png(outcome, &path)
        } else {
            write_topology_svg(outcome, &path)
        };
        drawn.map_err(|e| ReportError::Chart { path, message: e.0 })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample_outcome;

    /// A fresh scratch folder under the system temp dir, unique to this test.
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kubesim-report-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(parent: &Path) -> Vec<String> {
        fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    #[test]
    fn writes_every_file_and_replaces_without_leftovers() {
        let parent = scratch("write");
        let dir = parent.join("seed-tutorial");
        let outcome = sample_outcome();
        let paths = write_outputs(&outcome, &dir).unwrap();
        assert_eq!(paths.len(), OUTPUT_FILES.len());
        for p in &paths {
            assert!(p.is_file(), "{} missing", p.display());
        }
        let png = fs::read(dir.join("distribution.png")).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let svg = fs::read_to_string(dir.join("timeline.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("http-deployment-5d9c7b9c4d-7fhd2"));
        let first = fs::read(dir.join("summary.json")).unwrap();

        // A stale file in the old folder disappears: the folder is replaced, not merged.
        fs::write(dir.join("stale.txt"), "old").unwrap();
        write_outputs(&outcome, &dir).unwrap();
        assert!(!dir.join("stale.txt").exists());
        assert_eq!(fs::read(dir.join("summary.json")).unwrap(), first);
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_folder_and_no_temp() {
        let parent = scratch("fail");
        // The parent "folder" is a file: nothing can be written under it.
        let file = parent.join("not-a-folder");
        fs::write(&file, "x").unwrap();
        let err = write_outputs(&sample_outcome(), &file.join("out")).unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }), "{err}");
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        fs::remove_dir_all(&parent).unwrap();
    }
}
