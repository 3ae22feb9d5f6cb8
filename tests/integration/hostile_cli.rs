//! Hostile command lines (issue 12), one case per class: an output folder that is not
//! kubesim's, `--out` naming a file, the working folder, an ancestor or the scenario's folder, an
//! older kubesim's output, a stale temporary folder, a run ended by SIGTERM, referenced files
//! that are not regular files, and the bounds of `trace -n` and `--at`. Each refusal exits 2
//! with a message naming what was refused, and nothing outside the output folder changes.

use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::{Child, Command, Output, Stdio};

/// A scenario of two seconds (two pods behind a NodePort, 100 requests/s) as `dir/name`, with
/// `extra` appended to its `spec` (two-space indented lines).
fn tiny(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        r#"apiVersion: kubesim.dev/v1alpha1
kind: Scenario
metadata: {{name: tiny}}
spec:
  duration: 2s
  cluster:
    nodes: [{{name: n1, ip: 192.168.0.10}}]
  traffic:
    - {{name: web, from: external, to: "192.168.0.10:30080", rate: 100/s}}
{extra}{}"#,
        srv_app(2, "")
    );
    fs::write(&path, text).unwrap();
    path
}

/// Every entry under `dir`, recursively, with each file's bytes: equal before and after means
/// nothing was created, moved, changed or removed.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let path = e.path();
            if t.is_dir() {
                todo.push(path.clone());
                out.push((path, Vec::new()));
            } else if t.is_file() {
                out.push((path.clone(), fs::read(&path).unwrap()));
            } else {
                out.push((path, b"(special)".to_vec()));
            }
        }
    }
    out.sort();
    out
}

/// Runs kubesim in `dir` and checks that it exits 2, says `message` on stderr and changes
/// nothing under `dir`.
fn refused(dir: &Path, args: &[&str], message: &str) {
    let before = tree(dir);
    let o = kubesim(dir, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(message),
        "{args:?}: expected {message:?} in:\n{}",
        stderr(&o)
    );
    assert!(tree(dir) == before, "{args:?} changed {}", dir.display());
}

#[test]
fn a_folder_kubesim_did_not_write_survives_run_sweep_and_merge_untouched() {
    let dir = temp_dir("hostile-users-folder");
    let s = tiny(&dir, "s.yaml", "");
    let s = s.to_str().unwrap();
    fs::create_dir(dir.join("precious")).unwrap();
    fs::write(dir.join("precious/thesis.tex"), "years of work").unwrap();
    let message = "output folder precious holds thesis.tex, which kubesim did not write";
    refused(&dir, &["run", s, "--out", "precious"], message);
    let sweep = ["sweep", s, "--set", "duration=1s,2s", "--out", "precious"];
    refused(&dir, &sweep, message);
    refused(&dir, &[&sweep[..], &["--shard", "0/2"]].concat(), message);

    let o = kubesim(
        &dir,
        &[
            "sweep",
            s,
            "--set",
            "duration=1s",
            "--shard",
            "0/1",
            "--out",
            "shard",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    refused(&dir, &["merge", "shard", "--out", "precious"], message);

    // A file of the user's added to kubesim's own folder keeps it from being replaced too.
    let o = kubesim(&dir, &["run", s, "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::write(dir.join("out/notes.md"), "what I saw").unwrap();
    refused(
        &dir,
        &["run", s, "--out", "out"],
        "output folder out holds notes.md, which kubesim did not write",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_naming_a_file_the_working_folder_an_ancestor_or_an_inputs_folder_is_refused() {
    let dir = temp_dir("hostile-out-paths");
    let inner = dir.join("x");
    fs::create_dir_all(inner.join("lesson")).unwrap();
    let s = tiny(&inner.join("lesson"), "s.yaml", "");
    let s = s.to_str().unwrap();
    fs::write(inner.join("notes.txt"), "my notes").unwrap();

    refused(
        &inner,
        &["run", s, "--out", "notes.txt"],
        "output folder notes.txt is a file, not a folder; nothing was written",
    );
    refused(
        &inner,
        &["run", s, "--out", "notes.txt/out"],
        "cannot make output folder notes.txt/out",
    );
    refused(
        &inner,
        &["run", s, "--out", "."],
        "output folder . is the working folder",
    );
    refused(
        &inner,
        &["run", s, "--out", "../x"],
        "output folder ../x is the working folder",
    );
    for ancestor in ["..", "../..", "/"] {
        refused(
            &inner,
            &["run", s, "--out", ancestor],
            &format!("output folder {ancestor} holds the working folder"),
        );
    }
    refused(
        &inner,
        &["run", s, "--out", "lesson"],
        &format!("output folder lesson holds {s}, an input of this run"),
    );
    refused(
        &inner,
        &["sweep", s, "--set", "duration=1s,2s", "--out", "lesson/.."],
        "output folder lesson/.. is the working folder",
    );

    // merge: the folder holding a shard is an input too.
    let o = kubesim(
        &inner,
        &[
            "sweep",
            s,
            "--set",
            "duration=1s",
            "--shard",
            "0/1",
            "--out",
            "shards/0",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    refused(
        &inner,
        &["merge", "shards/0", "--out", "shards"],
        "output folder shards holds shards/0/sweep-shard.json, an input of this run",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_older_kubesims_output_folder_is_replaced() {
    let dir = temp_dir("hostile-legacy");
    let s = tiny(&dir, "s.yaml", "");
    let s = s.to_str().unwrap();
    let o = kubesim(&dir, &["run", s, "--out", "old"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // As kubesim wrote it before the marker existed, and before the latency and load charts
    // and report.html.
    for f in [
        kubesim::report::MARKER_FILE,
        "latency.png",
        "latency.svg",
        "load.png",
        "load.svg",
        "report.html",
    ] {
        fs::remove_file(dir.join("old").join(f)).unwrap();
    }
    let o = kubesim(&dir, &["run", s, "--out", "old"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in kubesim::report::OUTPUT_FILES {
        assert!(dir.join("old").join(f).is_file(), "{f}");
    }
    assert!(dir.join("old").join(kubesim::report::MARKER_FILE).is_file());
    fs::remove_dir_all(&dir).unwrap();
}

/// Hidden entries of `dir` (temporary and set-aside folders), sorted.
#[cfg(unix)]
fn hidden(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// On Unix only: elsewhere kubesim cannot tell a gone process and keeps such folders.
#[cfg(unix)]
#[test]
fn a_stale_temporary_folder_of_a_gone_process_is_removed() {
    let dir = temp_dir("hostile-stale");
    let s = tiny(&dir, "s.yaml", "");
    // No process has this id: it is above every system's largest.
    let stale = dir.join(format!(".out.tmp-{}-0", i32::MAX));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("summary.json"), "{\"scenario\": ").unwrap();
    let o = kubesim(&dir, &["run", s.to_str().unwrap(), "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(hidden(&dir), Vec::<String>::new());
    fs::remove_dir_all(&dir).unwrap();
}

/// Sends `signal` to the child.
#[cfg(unix)]
fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill with a valid signal number on our own child's id.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Waits for the child, failing the test (not hanging it) if it runs past `secs` seconds.
#[cfg(unix)]
fn wait_at_most(mut child: Child, secs: u64, what: &str) -> Output {
    for _ in 0..secs * 20 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what} did not end within {secs} s");
}

#[cfg(unix)]
#[test]
fn sigterm_while_writing_removes_the_temporary_folder_and_ends_by_the_signal() {
    use std::os::unix::process::ExitStatusExt;
    let dir = temp_dir("hostile-sigterm");
    // Long enough to write a large timeline and event log: 40 pods, half an hour.
    let s = tiny(
        &dir,
        "s.yaml",
        "  events:\n    - {at: 1s, scale: {deployment: srv, replicas: 40}}\n",
    );
    let text = fs::read_to_string(&s)
        .unwrap()
        .replace("duration: 2s", "duration: 30m");
    fs::write(&s, text).unwrap();
    // The temporary folder lives only while the files are written: stop the process now and
    // then, look, and let it go on until it is caught with the folder there.
    for attempt in 0..5 {
        let out = format!("out{attempt}");
        let child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
            .args(["run", s.to_str().unwrap(), "--out", &out])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tmp_prefix = format!(".{out}.tmp-{}-", child.id());
        let mut caught = false;
        for _ in 0..600_000 {
            signal(&child, libc::SIGSTOP);
            let present = hidden(&dir).iter().any(|n| n.starts_with(&tmp_prefix));
            if present {
                signal(&child, libc::SIGTERM);
                signal(&child, libc::SIGCONT);
                caught = true;
                break;
            }
            signal(&child, libc::SIGCONT);
            if dir.join(&out).exists() {
                break; // finished before it was caught
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let o = wait_at_most(child, 120, "kubesim run");
        if !caught {
            continue;
        }
        assert_eq!(
            o.status.signal(),
            Some(libc::SIGTERM),
            "{:?}: {}",
            o.status,
            stderr(&o)
        );
        assert_eq!(hidden(&dir), Vec::<String>::new(), "temporary folder left");
        assert!(!dir.join(&out).exists());
        fs::remove_dir_all(&dir).unwrap();
        return;
    }
    panic!("kubesim was never caught writing its output in 5 runs");
}

/// Runs kubesim in `dir`, expecting exit 2 with `message` well before a read of `/dev/zero` would
/// exhaust memory or a FIFO's open would give up (never).
#[cfg(unix)]
fn refused_at_once(dir: &Path, args: &[&str], message: &str) {
    let child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_at_most(child, 120, &format!("{args:?}"));
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(message),
        "{args:?}: expected {message:?} in:\n{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[test]
fn dev_zero_a_fifo_or_a_huge_file_as_an_input_exits_2_at_once() {
    let dir = temp_dir("hostile-files");
    let fifo = dir.join("pipe.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let huge = dir.join("huge.yaml");
    fs::File::create(&huge)
        .unwrap()
        .set_len(kubesim::scenario::files::MAX_FILE_BYTES + 1)
        .unwrap();
    let not_regular = "kubesim reads only regular files";
    for (manifest, why) in [
        ("/dev/zero", "not a regular file (a character device)"),
        ("pipe.yaml", "not a regular file (a FIFO)"),
        (
            "huge.yaml",
            "larger than 64 MiB, the most kubesim reads from one file",
        ),
    ] {
        let s = tiny(&dir, "m.yaml", &format!("  manifests: [{manifest}]\n"));
        let line = fs::read_to_string(&s)
            .unwrap()
            .lines()
            .position(|l| l.contains("manifests:"))
            .unwrap()
            + 1;
        let want = format!(
            "m.yaml:{line}:15: error: spec.manifests[0]: cannot read manifest {manifest}: {why}"
        );
        refused_at_once(&dir, &["check", "m.yaml"], &want);
    }
    refused_at_once(
        &dir,
        &["check", "pipe.yaml"],
        &format!(
            "pipe.yaml: error: cannot read scenario: not a regular file (a FIFO); {not_regular}"
        ),
    );
    let s = tiny(
        &dir,
        "e.yaml",
        "  behaviors:\n    - {image: srv, serviceTime: {distribution: empirical, file: /dev/zero}}\n",
    );
    refused_at_once(
        &dir,
        &["check", s.to_str().unwrap()],
        "cannot read /dev/zero: not a regular file",
    );
    let s = tiny(&dir, "s.yaml", "");
    refused_at_once(
        &dir,
        &["sweep", s.to_str().unwrap(), "--set", "events=pipe.yaml"],
        "cannot read pipe.yaml: not a regular file (a FIFO)",
    );
    refused_at_once(
        &dir,
        &["merge", "/dev/zero", "--out", "merged"],
        "cannot read /dev/zero: not a regular file (a character device)",
    );
    assert!(!dir.join("merged").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_count_and_at_past_the_duration_are_refused() {
    let dir = temp_dir("hostile-bounds");
    let s = tiny(&dir, "s.yaml", "");
    let s = s.to_str().unwrap();
    let to = ["--to", "192.168.0.10:30080"];
    refused(
        &dir,
        &[&["trace", s, "-n", "1000000000"][..], &to].concat(),
        "error: -n 1000000000: a trace follows at most 10000 connections",
    );
    refused(
        &dir,
        &["rules", s, "--at", "99m"],
        "error: --at 99m: past the end of scenario tiny (duration 2s)",
    );
    refused(
        &dir,
        &[&["trace", s, "--at", "2.5s"][..], &to].concat(),
        "past the end of scenario tiny (duration 2s)",
    );
    for args in [
        vec!["rules", s, "--at", "2s"],
        [&["trace", s, "-n", "10000", "--at", "1s"][..], &to].concat(),
    ] {
        let o = kubesim(&dir, &args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
    fs::remove_dir_all(&dir).unwrap();
}
