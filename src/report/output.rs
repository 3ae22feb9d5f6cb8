//! Writing an output folder: all or nothing, and never over a folder kubesim did not write.
//!
//! **All or nothing.** Every file is first written into a hidden sibling folder
//! (`.<name>.tmp-<pid>-<n>`), then that folder is renamed into place, replacing an earlier output
//! folder of the same name. A failure while writing (an error, or a panic: a drop guard) removes
//! the temporary folder and leaves any earlier output untouched, so a failed run never leaves a
//! half-written folder. Replacing an existing folder takes two renames (old folder aside as
//! `.<name>.old-<pid>-<n>`, new folder in), because Windows cannot rename onto a non-empty
//! folder; between them the folder is briefly absent, never half-written. The binary's signal
//! handler calls [`remove_unfinished`], which removes the temporary folder being written before
//! the process ends; a temporary or set-aside folder left by a process that is gone (killed,
//! power cut) is removed by the next write beside it of the same name (on Unix, where a gone
//! process can be told by `kill(pid, 0)` failing with `ESRCH`; elsewhere such folders are kept).
//!
//! **Never someone else's folder.** Before anything is created or moved, [`check_output`]
//! resolves the path (working folder, `..`, symbolic links) and refuses a path that names a file,
//! the working folder or one of its ancestors, a folder holding one of the run's inputs, or an
//! existing folder that is not kubesim's. Every folder kubesim writes holds [`MARKER_FILE`],
//! which lists the files written with it; an existing folder is replaced only if it is empty, if
//! its marker lists every file it holds, or if it is an older kubesim's output, written before
//! the marker existed (only names from [`LEGACY_FILES`], as plain files, one of them a JSON file
//! of kubesim's own shape). Files a desktop adds on its own (`.DS_Store`, `Thumbs.db`,
//! `desktop.ini`) do not count. The ownership check is made again just before the old folder is
//! moved, so a file dropped into it during a long run is not lost either.

use super::charts::Chart;
use super::csv_out::{requests_by_pod_csv, timeline_csv};
use super::html::report_html;
use super::limits::Rows;
use super::summary::summary_json;
use super::tables::events_table;
use super::topology::{topology_dot, write_topology_pictures};
use crate::sim::outcome::Outcome;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The files [`write_outputs`] writes, in the order it writes them.
pub const OUTPUT_FILES: [&str; 16] = [
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
    "report.html",
];

/// The hidden file in every folder kubesim writes: a comment saying so, then the name of every
/// file written with it, one per line.
pub const MARKER_FILE: &str = ".kubesim-output";

/// The marker's first line starts so.
const MARKER_HEADER: &str = "# kubesim output folder";

/// Every file name kubesim wrote into an output folder before folders carried [`MARKER_FILE`]
/// (run, sweep, sweep shard). A history, not a list to extend: later files are in the marker.
pub const LEGACY_FILES: [&str; 22] = [
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
    "sweep.csv",
    "sweep.json",
    "sweep_heatmap.png",
    "sweep_heatmap.svg",
    "sweep_p99.png",
    "sweep_p99.svg",
    "sweep-shard.json",
];

/// Files a desktop's file browser leaves in any folder it shows; they are nobody's work.
const DESKTOP_FILES: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// Why the output folder could not be written. Every variant is fatal to the output: nothing
/// was put in place, and an earlier output folder of the same name is left as it was. The
/// refusals (`NotAFolder` to `NotKubesims`) are found before anything is created or moved.
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
    /// The output path has no final component to name the folder.
    #[error("output path {} does not name a folder", path.display())]
    BadPath { path: PathBuf },
    /// The output path names a file (or a device, a FIFO, a broken link), or a file stands where
    /// one of the folders above it would be made (`blocker`).
    #[error("{}{} is {what}, not a folder; nothing was written", lead(path, blocker), blocker.display())]
    NotAFolder {
        path: PathBuf,
        blocker: PathBuf,
        what: &'static str,
    },
    /// The output folder is the working folder or one of its ancestors: replacing it would
    /// take the working folder with it.
    #[error("output folder {} {}: kubesim replaces its output folder whole, so it needs a folder of its own; nothing was written", path.display(), if *is_cwd { "is the working folder".to_string() } else { format!("holds the working folder {}", cwd.display()) })]
    WorkingFolder {
        path: PathBuf,
        cwd: PathBuf,
        is_cwd: bool,
    },
    /// The output folder holds one of the run's inputs (the scenario file, or a shard for
    /// `merge`). A folder holding a manifest is refused too, as not kubesim's.
    #[error("output folder {} holds {}, an input of this run: kubesim replaces its output folder whole, so it needs a folder of its own; nothing was written", path.display(), input.display())]
    HoldsInput { path: PathBuf, input: PathBuf },
    /// The output folder exists and holds `file`, which kubesim did not write.
    #[error("output folder {} holds {file}, which kubesim did not write: kubesim replaces only an empty folder or one it wrote; move the folder away or choose another; nothing was written", path.display())]
    NotKubesims { path: PathBuf, file: String },
    /// The process is ending on a signal; the unfinished folder was removed.
    #[error("interrupted: the unfinished output folder {} was removed", path.display())]
    Interrupted { path: PathBuf },
}

/// `NotAFolder`'s opening: the path itself, or the folder that cannot be made because of it.
fn lead(path: &Path, blocker: &Path) -> String {
    if path == blocker {
        "output folder ".to_string()
    } else {
        format!("cannot make output folder {}: ", path.display())
    }
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

/// Writes every file of [`OUTPUT_FILES`] into `dir` (made if absent, replaced if present and
/// kubesim's), atomically as the module explains, and returns their final paths in that order.
pub fn write_outputs(outcome: &Outcome, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    write_folder(dir, |tmp| write_all(outcome, tmp))?;
    Ok(OUTPUT_FILES.iter().map(|f| dir.join(f)).collect())
}

/// Checks, touching nothing, that kubesim may write the output folder `dir` (see the module):
/// it is not a file, not the working folder or an ancestor of it, holds none of `inputs` (the
/// run's input files), and is absent, empty or kubesim's. The writers check again; callers
/// check first so that a refusal comes before a long run, not after.
pub fn check_output(dir: &Path, inputs: &[PathBuf]) -> Result<(), ReportError> {
    target(dir, inputs).map(|_| ())
}

/// An output folder that passed [`check_output`].
struct Target {
    /// As the caller wrote it, for messages.
    shown: PathBuf,
    /// Absolute, with symbolic links and `..` resolved.
    path: PathBuf,
    parent: PathBuf,
    name: String,
}

/// What a `file_type` is, in words, for [`ReportError::NotAFolder`].
fn kind_of(t: fs::FileType) -> &'static str {
    if t.is_file() {
        "a file"
    } else if t.is_symlink() {
        "a symbolic link to nothing"
    } else {
        "a special file (a device, a FIFO or a socket)"
    }
}

/// `dir` made absolute, with `..` and symbolic links resolved as far as it exists and the rest
/// appended (so `out/../x` is `x`, and `link/x` the `x` inside the folder `link` points to).
fn resolve(dir: &Path) -> Result<PathBuf, ReportError> {
    let cwd = std::env::current_dir().map_err(io_error(Path::new(".")))?;
    let abs = cwd.join(dir);
    let parts: Vec<Component> = abs.components().collect();
    let mut known = parts.len();
    let mut path = loop {
        let prefix: PathBuf = parts[..known].iter().collect();
        match fs::canonicalize(&prefix) {
            Ok(p) => break p,
            Err(_) if known > 1 => known -= 1,
            Err(e) => return Err(io_error(&prefix)(e)),
        }
    };
    for part in &parts[known..] {
        match part {
            Component::Normal(n) => path.push(n),
            Component::ParentDir => {
                path.pop();
            }
            _ => {}
        }
    }
    Ok(path)
}

fn target(dir: &Path, inputs: &[PathBuf]) -> Result<Target, ReportError> {
    let path = resolve(dir)?;
    let cwd = std::env::current_dir()
        .and_then(fs::canonicalize)
        .map_err(io_error(Path::new(".")))?;
    if cwd.starts_with(&path) {
        return Err(ReportError::WorkingFolder {
            path: dir.to_path_buf(),
            is_cwd: cwd == path,
            cwd,
        });
    }
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return Err(ReportError::BadPath {
            path: dir.to_path_buf(),
        });
    };
    let t = Target {
        shown: dir.to_path_buf(),
        name: name.to_string_lossy().into_owned(),
        parent: parent.to_path_buf(),
        path: path.clone(),
    };
    let exists = match fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => true,
        Ok(m) => {
            return Err(ReportError::NotAFolder {
                path: t.shown,
                blocker: dir.to_path_buf(),
                what: kind_of(m.file_type()),
            })
        }
        // Absent, or below a file (`NotADirectory`): the folders above tell which.
        Err(_) => false,
    };
    if !exists {
        // The folders above that exist must be folders, or nothing can be made below them.
        let above = path
            .ancestors()
            .skip(1)
            .find_map(|a| fs::symlink_metadata(a).ok().map(|m| (a, m)));
        if let Some((a, m)) = above.filter(|(_, m)| !m.is_dir()) {
            return Err(ReportError::NotAFolder {
                path: t.shown,
                blocker: a.to_path_buf(),
                what: kind_of(m.file_type()),
            });
        }
    }
    for input in inputs {
        if fs::canonicalize(input).is_ok_and(|i| i.starts_with(&path)) {
            return Err(ReportError::HoldsInput {
                path: t.shown,
                input: input.clone(),
            });
        }
    }
    if exists {
        if let Claim::Foreign(file) = claim(&path, false)? {
            return Err(ReportError::NotKubesims {
                path: t.shown,
                file,
            });
        }
    }
    Ok(t)
}

/// Whether kubesim may replace an existing folder, and why.
#[derive(Debug, PartialEq)]
enum Claim {
    Empty,
    /// Its marker lists every file it holds.
    Marked,
    /// An older kubesim's output: only [`LEGACY_FILES`], one of them kubesim's JSON.
    Legacy,
    /// It holds this entry, which kubesim did not write (the first such, by name).
    Foreign(String),
}

/// Sees whether kubesim may replace the folder `dir` (see the module). `unfinished`: the
/// folder is a temporary folder named for a kubesim process, so a marker vouches for every
/// file in it (the marker is written first and lists the files only at the end), and an
/// older kubesim's temporary folder need not hold a JSON file yet.
fn claim(dir: &Path, unfinished: bool) -> Result<Claim, ReportError> {
    let mut entries: Vec<(OsString, fs::FileType)> = Vec::new();
    for e in fs::read_dir(dir).map_err(io_error(dir))? {
        let e = e.map_err(io_error(dir))?;
        let name = e.file_name();
        if DESKTOP_FILES.iter().any(|d| name == *d) {
            continue;
        }
        entries.push((name, e.file_type().map_err(io_error(dir))?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if entries.is_empty() {
        return Ok(Claim::Empty);
    }
    let foreign = |n: &OsString| Claim::Foreign(n.to_string_lossy().into_owned());
    if let Some(listed) = read_marker(dir) {
        for (name, t) in &entries {
            let ours = name == MARKER_FILE
                || (!t.is_dir()
                    && (unfinished
                        || name.to_str().is_some_and(|n| listed.iter().any(|l| l == n))));
            if !ours {
                return Ok(foreign(name));
            }
        }
        return Ok(Claim::Marked);
    }
    for (name, t) in &entries {
        if !t.is_file() || !name.to_str().is_some_and(|n| LEGACY_FILES.contains(&n)) {
            return Ok(foreign(name));
        }
    }
    if unfinished
        || entries
            .iter()
            .any(|(n, _)| looks_like_kubesims(&dir.join(n)))
    {
        Ok(Claim::Legacy)
    } else {
        Ok(foreign(&entries[0].0))
    }
}

/// The files a folder's marker lists, if it has a marker (a plain file starting with the
/// header).
fn read_marker(dir: &Path) -> Option<Vec<String>> {
    let path = dir.join(MARKER_FILE);
    if !fs::symlink_metadata(&path).ok()?.is_file() {
        return None;
    }
    let text = crate::scenario::files::read_text(&path).ok()?;
    if !text.starts_with(MARKER_HEADER) {
        return None;
    }
    Some(
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    )
}

/// Whether `path` is one of kubesim's JSON files (`summary.json`, `sweep.json`,
/// `sweep-shard.json`) by its contents: the keys kubesim has always written first.
fn looks_like_kubesims(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if !matches!(name, "summary.json" | "sweep.json" | "sweep-shard.json") {
        return false;
    }
    let Ok(bytes) = crate::scenario::files::read_bytes(path) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    match name {
        "summary.json" => {
            v["scenario"].is_string() && v["seed"].is_u64() && v["requests"].is_object()
        }
        "sweep.json" => v["plan"]["scenario"].is_string() && v["cells"].is_array(),
        _ => v["format"]
            .as_str()
            .is_some_and(|f| f.starts_with("kubesim-sweep-shard/")),
    }
}

/// The marker's text for a folder holding `files`.
fn marker_text(files: &[String]) -> String {
    let mut text = format!(
        "{MARKER_HEADER}, written by kubesim {}.\n# kubesim replaces this folder when asked to write here again, unless it then holds\n# a file not listed below: files it did not write are never deleted.\n",
        env!("CARGO_PKG_VERSION")
    );
    for f in files {
        text.push_str(f);
        text.push('\n');
    }
    text
}

/// The temporary folders being written, so that a signal can remove them; once `abandoned`,
/// no folder is made or put in place any more (the process is ending).
struct Unfinished {
    folders: Vec<PathBuf>,
    abandoned: bool,
}

static UNFINISHED: Mutex<Unfinished> = Mutex::new(Unfinished {
    folders: Vec::new(),
    abandoned: false,
});

fn unfinished() -> MutexGuard<'static, Unfinished> {
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every temporary output folder being written and lets no other be made or put in
/// place: for a signal handler to call before the process ends on the signal. A write in
/// progress then fails with [`ReportError::Interrupted`]; a folder already put in place stays.
pub fn remove_unfinished() {
    let mut u = unfinished();
    u.abandoned = true;
    for f in u.folders.drain(..) {
        // The writing thread may add a file between the listing and the last removal.
        for _ in 0..10 {
            match fs::remove_dir_all(&f) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => continue,
                _ => break,
            }
        }
    }
}

/// A temporary folder being written: removed when dropped unless put in place, so that an
/// error or a panic while writing leaves nothing behind.
struct TempFolder {
    path: PathBuf,
    /// `<pid>-<n>`, shared with the name the old folder is set aside under.
    unique: String,
    done: bool,
}

impl TempFolder {
    /// Makes `.<name>.tmp-<pid>-<n>` in `parent`, with a marker that lists no file yet.
    fn create(parent: &Path, name: &str) -> Result<TempFolder, ReportError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(format!(".{name}.tmp-{unique}"));
        {
            let mut u = unfinished();
            if u.abandoned {
                return Err(ReportError::Interrupted { path });
            }
            fs::create_dir(&path).map_err(io_error(&path))?;
            u.folders.push(path.clone());
        }
        let t = TempFolder {
            path,
            unique,
            done: false,
        };
        let marker = t.path.join(MARKER_FILE);
        fs::write(&marker, marker_text(&[])).map_err(io_error(&marker))?;
        Ok(t)
    }

    /// Rewrites the marker to list every file now in the folder.
    fn seal(&self) -> Result<(), ReportError> {
        let mut files = Vec::new();
        for e in fs::read_dir(&self.path).map_err(io_error(&self.path))? {
            let name = e.map_err(io_error(&self.path))?.file_name();
            if name != MARKER_FILE {
                files.push(name.to_string_lossy().into_owned());
            }
        }
        files.sort();
        let marker = self.path.join(MARKER_FILE);
        fs::write(&marker, marker_text(&files)).map_err(io_error(&marker))
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let mut u = unfinished();
        u.folders.retain(|f| *f != self.path);
        if !self.done {
            // Best effort: the error that matters is the one that stopped the writing.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Makes the folder `dir` atomically, as the module explains: `fill` writes into a new
/// temporary folder (holding only the marker), which then replaces `dir`.
pub(crate) fn write_folder(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let t = target(dir, &[])?;
    fs::create_dir_all(&t.parent).map_err(io_error(&t.parent))?;
    remove_stale(&t.parent, &t.name);
    let mut tmp = TempFolder::create(&t.parent, &t.name)?;
    let filled = fill(&tmp.path).and_then(|()| tmp.seal());
    if let Err(e) = filled {
        return Err(if unfinished().abandoned {
            ReportError::Interrupted {
                path: tmp.path.clone(),
            }
        } else {
            e
        });
    }
    put_in_place(&t, &mut tmp)
}

/// Renames the filled temporary folder to the target, setting aside and then removing the
/// folder there, if any, after checking once more that it is kubesim's.
fn put_in_place(t: &Target, tmp: &mut TempFolder) -> Result<(), ReportError> {
    // Held throughout, so that a signal's removal waits until the folder is in place.
    let mut u = unfinished();
    if u.abandoned {
        return Err(ReportError::Interrupted {
            path: tmp.path.clone(),
        });
    }
    let dir = &t.path;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if let Claim::Foreign(file) = claim(dir, false)? {
                return Err(ReportError::NotKubesims {
                    path: t.shown.clone(),
                    file,
                });
            }
            let old = t.parent.join(format!(".{}.old-{}", t.name, tmp.unique));
            fs::rename(dir, &old).map_err(io_error(&t.shown))?;
            if let Err(e) = fs::rename(&tmp.path, dir) {
                // Put the earlier output back where it was.
                let _ = fs::rename(&old, dir);
                return Err(io_error(&t.shown)(e));
            }
            tmp.done = true;
            u.folders.retain(|f| *f != tmp.path);
            fs::remove_dir_all(&old).map_err(io_error(&old))?;
        }
        Ok(m) => {
            return Err(ReportError::NotAFolder {
                path: t.shown.clone(),
                blocker: t.shown.clone(),
                what: kind_of(m.file_type()),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::rename(&tmp.path, dir).map_err(io_error(&t.shown))?;
            tmp.done = true;
            u.folders.retain(|f| *f != tmp.path);
        }
        Err(e) => return Err(io_error(&t.shown)(e)),
    }
    Ok(())
}

/// Removes, in `parent`, the temporary and set-aside folders of output `name`
/// (`.<name>.tmp-<pid>-<n>`, `.<name>.old-<pid>-<n>`) whose process is gone and whose
/// contents are kubesim's. Best effort: what cannot be removed stays.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|f| stale_pid(f, name)) else {
            continue;
        };
        let path = e.path();
        if pid != std::process::id()
            && process_gone(pid)
            && e.file_type().is_ok_and(|t| t.is_dir())
            && claim(&path, true).is_ok_and(|c| !matches!(c, Claim::Foreign(_)))
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// The process id in `.<name>.tmp-<pid>-<n>` or `.<name>.old-<pid>-<n>`, if `file` is such
/// a name.
fn stale_pid(file: &str, name: &str) -> Option<u32> {
    let rest = file.strip_prefix('.')?.strip_prefix(name)?;
    let rest = rest
        .strip_prefix(".tmp-")
        .or_else(|| rest.strip_prefix(".old-"))?;
    let (pid, n) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid` is certainly gone: `kill(pid, 0)` fails with `ESRCH`.
#[cfg(unix)]
fn process_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Elsewhere a process id cannot be checked as simply; a folder that may still be written is
/// never removed, so stale folders are kept.
#[cfg(not(unix))]
fn process_gone(_pid: u32) -> bool {
    false
}

/// Writes every output file into `dir`, an empty folder.
fn write_all(outcome: &Outcome, dir: &Path) -> Result<(), ReportError> {
    // One text at a time, each freed once written (at the limit they are 200 MB together).
    type Text = fn(&Outcome) -> String;
    let texts: [(&str, Text); 4] = [
        ("summary.json", summary_json),
        ("requests_by_pod.csv", requests_by_pod_csv),
        ("timeline.csv", timeline_csv),
        ("events.log", events_log),
    ];
    for (file, text) in texts {
        let path = dir.join(file);
        fs::write(&path, text(outcome)).map_err(io_error(&path))?;
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
    let (png, svg) = (dir.join("topology.png"), dir.join("topology.svg"));
    write_topology_pictures(outcome, Some(&png), Some(&svg)).map_err(|e| ReportError::Chart {
        path: png,
        message: e.0,
    })?;
    let path = dir.join("report.html");
    fs::write(&path, report_html(outcome)).map_err(io_error(&path))?;
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

    /// Every entry under `dir`, with the contents of files, sorted: to show nothing changed.
    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let bytes = fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        v.sort();
        v
    }

    /// A folder with one small file written through `write_folder`, as every writer does.
    fn write_one(dir: &Path, text: &str) -> Result<(), ReportError> {
        write_folder(dir, |tmp| {
            let path = tmp.join("summary.json");
            fs::write(&path, text).map_err(io_error(&path))
        })
    }

    #[test]
    fn writes_every_file_and_replaces_its_own_folder_without_leftovers() {
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
        let marker = fs::read_to_string(dir.join(MARKER_FILE)).unwrap();
        let mut listed: Vec<&str> = marker.lines().filter(|l| !l.starts_with('#')).collect();
        let mut want = OUTPUT_FILES.to_vec();
        listed.sort();
        want.sort();
        assert_eq!(listed, want, "{marker}");
        let first = fs::read(dir.join("summary.json")).unwrap();

        // Its own folder is replaced, a file of it removed by hand or not.
        fs::remove_file(dir.join("load.svg")).unwrap();
        write_outputs(&outcome, &dir).unwrap();
        assert!(dir.join("load.svg").exists());
        assert_eq!(fs::read(dir.join("summary.json")).unwrap(), first);
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_file_added_to_kubesims_folder_keeps_it_from_being_replaced() {
        let parent = scratch("added");
        let dir = parent.join("out");
        write_one(&dir, "{}").unwrap();
        fs::write(dir.join("notes.md"), "mine").unwrap();
        let before = snapshot(&dir);
        let err = write_one(&dir, "{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("output folder {} holds notes.md, which kubesim did not write: kubesim replaces only an empty folder or one it wrote; move the folder away or choose another; nothing was written", dir.display())
        );
        assert_eq!(snapshot(&dir), before);
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_users_folder_is_never_replaced_and_an_empty_one_is() {
        let parent = scratch("users");
        let dir = parent.join("precious");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("thesis.tex"), "work").unwrap();
        fs::create_dir(dir.join("drafts")).unwrap();
        let before = snapshot(&dir);
        let err = write_one(&dir, "{}").unwrap_err();
        assert!(
            matches!(&err, ReportError::NotKubesims { file, .. } if file == "drafts"),
            "{err}"
        );
        assert_eq!(snapshot(&dir), before);
        assert_eq!(leftovers(&parent), Vec::<String>::new());

        // Names kubesim writes do not make a folder kubesim's: its marker or its JSON does.
        let lookalike = parent.join("lookalike");
        fs::create_dir(&lookalike).unwrap();
        fs::write(lookalike.join("summary.json"), r#"{"my": "data"}"#).unwrap();
        fs::write(lookalike.join("timeline.csv"), "a,b\n").unwrap();
        let err = write_one(&lookalike, "{}").unwrap_err();
        assert!(
            matches!(&err, ReportError::NotKubesims { file, .. } if file == "summary.json"),
            "{err}"
        );
        // A marker that is not kubesim's does not either.
        fs::write(lookalike.join(MARKER_FILE), "summary.json\ntimeline.csv\n").unwrap();
        assert!(matches!(
            write_one(&lookalike, "{}"),
            Err(ReportError::NotKubesims { .. })
        ));

        let empty = parent.join("empty");
        fs::create_dir(&empty).unwrap();
        fs::write(empty.join(".DS_Store"), "finder").unwrap();
        write_one(&empty, "new").unwrap();
        assert_eq!(
            fs::read_to_string(empty.join("summary.json")).unwrap(),
            "new"
        );
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn an_older_kubesims_folder_without_a_marker_is_replaced() {
        let parent = scratch("legacy");
        let dir = parent.join("seed-tutorial");
        write_outputs(&sample_outcome(), &dir).unwrap();
        // As kubesim wrote it before the marker, and before the latency and load charts and
        // report.html.
        for f in [
            MARKER_FILE,
            "latency.png",
            "latency.svg",
            "load.png",
            "load.svg",
            "report.html",
        ] {
            fs::remove_file(dir.join(f)).unwrap();
        }
        assert_eq!(claim(&dir, false).unwrap(), Claim::Legacy);
        write_outputs(&sample_outcome(), &dir).unwrap();
        assert!(dir.join("load.svg").is_file() && dir.join(MARKER_FILE).is_file());

        // A sweep's and a shard's folders too, by their JSON.
        for (file, json) in [
            ("sweep.json", r#"{"plan": {"scenario": "x"}, "cells": []}"#),
            (
                "sweep-shard.json",
                r#"{"format": "kubesim-sweep-shard/v1"}"#,
            ),
        ] {
            let old = parent.join(file);
            fs::create_dir(&old).unwrap();
            fs::write(old.join(file), json).unwrap();
            assert_eq!(claim(&old, false).unwrap(), Claim::Legacy, "{file}");
        }
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_file_or_a_path_through_a_file_is_refused_and_left_alone() {
        let parent = scratch("file");
        let file = parent.join("notes.txt");
        fs::write(&file, "x").unwrap();
        let err = write_one(&file, "{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "output folder {} is a file, not a folder; nothing was written",
                file.display()
            )
        );
        let err = write_outputs(&sample_outcome(), &file.join("out")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot make output folder {}: {} is a file, not a folder; nothing was written",
                file.join("out").display(),
                file.display()
            )
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        assert_eq!(fs::read_dir(&parent).unwrap().count(), 1);
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn the_working_folder_its_ancestors_and_an_inputs_folder_are_refused() {
        let cwd = std::env::current_dir().unwrap();
        for dir in [cwd.clone(), PathBuf::from("."), PathBuf::from("")] {
            let err = check_output(&dir, &[]).unwrap_err();
            assert!(
                matches!(err, ReportError::WorkingFolder { is_cwd: true, .. }),
                "{}: {err}",
                dir.display()
            );
        }
        for dir in ["..", "../..", "/", "nonexistent/../.."] {
            let err = check_output(Path::new(dir), &[]).unwrap_err();
            assert!(
                matches!(err, ReportError::WorkingFolder { is_cwd: false, .. }),
                "{dir}: {err}"
            );
            assert!(
                err.to_string().contains("holds the working folder"),
                "{err}"
            );
        }

        let parent = scratch("input");
        let scenario = parent.join("lesson").join("s.yaml");
        fs::create_dir(parent.join("lesson")).unwrap();
        fs::write(&scenario, "kind: Scenario").unwrap();
        for dir in [
            parent.join("lesson"),
            parent.clone(),
            parent.join("lesson/x/.."),
        ] {
            let err = check_output(&dir, std::slice::from_ref(&scenario)).unwrap_err();
            assert!(
                matches!(&err, ReportError::HoldsInput { input, .. } if *input == scenario),
                "{}: {err}",
                dir.display()
            );
        }
        check_output(&parent.join("lesson-out"), &[scenario]).unwrap();
        fs::remove_dir_all(&parent).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_to_the_folder_it_names() {
        let parent = scratch("link");
        let real = parent.join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("thesis.tex"), "work").unwrap();
        let link = parent.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            write_one(&link, "{}"),
            Err(ReportError::NotKubesims { .. })
        ));
        assert!(link.is_symlink() && real.join("thesis.tex").is_file());

        // Through the link to kubesim's folder: the folder is replaced, the link stays.
        fs::remove_file(real.join("thesis.tex")).unwrap();
        write_one(&link, "new").unwrap();
        assert!(link.is_symlink());
        assert_eq!(
            fs::read_to_string(real.join("summary.json")).unwrap(),
            "new"
        );
        let dangling = parent.join("dangling");
        std::os::unix::fs::symlink(parent.join("nowhere"), &dangling).unwrap();
        let err = write_one(&dangling, "{}").unwrap_err();
        assert!(
            err.to_string().contains("a symbolic link to nothing"),
            "{err}"
        );
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_panic_while_writing_leaves_no_temporary_folder() {
        let parent = scratch("panic");
        let dir = parent.join("out");
        let r = std::panic::catch_unwind(|| {
            write_folder(&dir, |tmp| {
                fs::write(tmp.join("summary.json"), "{}").unwrap();
                panic!("a bug while drawing");
            })
        });
        assert!(r.is_err());
        assert!(!dir.exists());
        assert_eq!(leftovers(&parent), Vec::<String>::new());
        assert!(unfinished().folders.iter().all(|f| !f.starts_with(&parent)));
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn temporary_folder_names_are_recognised() {
        assert_eq!(stale_pid(".out.tmp-123-0", "out"), Some(123));
        assert_eq!(stale_pid(".out.old-9-12", "out"), Some(9));
        for other in [
            ".out.tmp-123-0",
            "out.tmp-1-0",
            ".out.tmp-1-",
            ".out.tmp--0",
            ".out.tmp-+1-0",
            ".out.tmp-1-0.tmp-2-0",
            ".out.new-1-0",
        ] {
            assert_eq!(stale_pid(other, "out2"), None, "{other}");
        }
        assert_eq!(stale_pid(".out.tmp-1-0.tmp-2-0", "out"), None);
    }

    #[cfg(unix)]
    #[test]
    fn stale_folders_of_gone_processes_are_removed_others_kept() {
        let parent = scratch("stale");
        // No process has this id (above every system's pid_max); process 1 always exists.
        let gone = i32::MAX as u32;
        let dead = parent.join(format!(".out.tmp-{gone}-0"));
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(MARKER_FILE), marker_text(&[])).unwrap();
        fs::write(dead.join("summary.json"), "{").unwrap();
        let set_aside = parent.join(format!(".out.old-{gone}-3"));
        fs::create_dir(&set_aside).unwrap();
        let alive = parent.join(".out.tmp-1-0");
        fs::create_dir(&alive).unwrap();
        let users = parent.join(format!(".out.tmp-{gone}-1"));
        fs::create_dir(&users).unwrap();
        fs::write(users.join("thesis.tex"), "work").unwrap();
        let other_output = parent.join(format!(".other.tmp-{gone}-0"));
        fs::create_dir(&other_output).unwrap();

        write_one(&parent.join("out"), "{}").unwrap();
        let mut left = leftovers(&parent);
        left.sort();
        let mut want = vec![
            ".out.tmp-1-0".to_string(),
            format!(".out.tmp-{gone}-1"),
            format!(".other.tmp-{gone}-0"),
        ];
        want.sort();
        assert_eq!(left, want);
        fs::remove_dir_all(&parent).unwrap();
    }
}
