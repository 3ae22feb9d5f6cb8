//! `report.html` in a real browser: headless Debian chromium loads the page a run wrote, at an
//! instant given by the address (`#t=..&lang=..&pod=..`), and the DOM it leaves holds the pods
//! that exist at that instant with their IPs (before and after a replacement), the Services
//! with their ClusterIPs, Chinese text under `lang=zh`, and no script error (the page writes
//! errors into `#errors`). Screenshots of the views are kept in
//! `$CARGO_TARGET_TMPDIR/report-html/`.
//!
//! Needs chromium (`KUBESIM_CHROMIUM`, else `chromium`, `chromium-browser` or
//! `google-chrome` on the PATH; `.ci/run` installs Debian's package where it can). Without one
//! the tests say so on stderr and pass without checking anything.

use crate::util::{kubesim, root, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser to drive, if one can be found.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBESIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A headless chromium run on `url` with `mode` (`--dump-dom` or `--screenshot=FILE`):
/// its stdout. A browser that hangs is killed after two minutes (a guard, not a measurement).
fn browse(browser: &Path, url: &str, mode: &[String]) -> String {
    let profile = temp_dir(&format!("chromium-profile-{}", mode.len() + url.len()));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(mode)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("chromium waits").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url} in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    reader.join().expect("reader thread")
}

/// The page's DOM after its script ran, at `fragment` (`t=42&lang=zh`).
fn dom(browser: &Path, page: &Path, fragment: &str) -> String {
    let url = format!("file://{}#{fragment}", page.display());
    let dom = browse(browser, &url, &["--dump-dom".to_string()]);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not finish at #{fragment}:\n{}",
        &dom[..dom.len().min(2000)]
    );
    let errors = between(&dom, "<pre id=\"errors\"", "</pre>").unwrap_or_default();
    let errors = &errors[errors.find('>').map_or(0, |i| i + 1)..];
    assert!(
        errors.trim().is_empty(),
        "script errors at #{fragment}: {errors}"
    );
    dom
}

/// The text from `start` to the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)?;
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// Every value of attribute `attr` in `html`, in order.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

/// The (name, IP) of each row of the `pods` table in `dom`, sorted.
fn pods_table(dom: &str) -> Vec<(String, String)> {
    let table = between(dom, "<table id=\"pods\"", "</table>").expect("a table with id pods");
    let mut rows: Vec<(String, String)> = attrs(table, "data-pod")
        .into_iter()
        .zip(attrs(table, "data-ip"))
        .collect();
    rows.sort();
    rows
}

/// The endpoints (IPs) of `service`'s EndpointSlices in the `endpointslices` table of `dom`.
fn slice_endpoints(dom: &str, service: &str) -> Vec<String> {
    let table = between(dom, "<table id=\"endpointslices\"", "</table>").expect("slices table");
    let key = format!("data-service=\"{service}\" data-endpoints=\"");
    table
        .match_indices(&key)
        .flat_map(|(i, _)| {
            let rest = &table[i + key.len()..];
            rest[..rest.find('"').unwrap_or(0)]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs `scenario` into a fresh folder; its report.html and summary.json.
fn run(scenario: &str) -> (PathBuf, Value) {
    let dir = temp_dir(&format!("report-html-{scenario}"));
    let out = dir.join("out");
    let file = root().join("scenarios").join(format!("{scenario}.yaml"));
    let o = kubesim(
        &dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "kubesim run {scenario} failed");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (out.join("report.html"), summary)
}

/// The pods summary.json says exist at `t`, by creation and deletion alone: only for
/// instants that no pod's deletion precedes (a terminating pod's end is not in summary.json).
fn pods_before_deletions(summary: &Value, t: f64) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = summary["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["created_s"].as_f64().unwrap() <= t)
        .map(|p| {
            assert!(
                p["deleted_s"].as_f64().is_none_or(|d| d > t),
                "{t} s is after a deletion"
            );
            (
                p["name"].as_str().unwrap().to_string(),
                p["ip"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The pods summary.json says exist at the end (status other than `Deleted`).
fn pods_at_end(summary: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = summary["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] != "Deleted")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["ip"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Screenshots of the page at `fragment`, kept with the test's output.
fn screenshot(browser: &Path, page: &Path, fragment: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let url = format!("file://{}#{fragment}", page.display());
    browse(
        browser,
        &url,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,2600".to_string(),
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "no screenshot of {name}"
    );
    png
}

fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let b = chromium();
    if b.is_none() {
        eprintln!(
            "skipping {test}: no chromium found (set KUBESIM_CHROMIUM, or `apt-get install chromium`)"
        );
    }
    b
}

#[test]
fn the_seed_lesson_opens_at_an_instant_with_its_pods_and_services() {
    let Some(browser) = browser_or_skip("report_html seed") else {
        return;
    };
    let (page, summary) = run("seed-tutorial");
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 400_000, "report.html is {size} bytes");

    let d = dom(&browser, &page, "t=30");
    let want = pods_before_deletions(&summary, 30.0);
    // The lesson's three and the CoreDNS add-on's two (`kube-system`).
    assert_eq!(want.len(), 5);
    assert_eq!(pods_table(&d), want);
    let svc = between(&d, "<table id=\"svc\"", "</table>").expect("svc table");
    for s in summary["services"].as_array().unwrap() {
        let ip = s["cluster_ip"].as_str().unwrap();
        assert!(svc.contains(&format!("data-cluster-ip=\"{ip}\"")), "{ip}");
    }
    assert!(d.contains("t = 30.000s"));

    // Before their containers start (at 1 s), the pods are listed as ContainerCreating.
    let d = dom(&browser, &page, "t=0.5");
    assert_eq!(pods_table(&d), pods_before_deletions(&summary, 0.5));
    let pods = between(&d, "<table id=\"pods\"", "</table>").unwrap();
    assert_eq!(attrs(pods, "data-status"), ["ContainerCreating"; 5]);

    // In Chinese, with a pod selected; a t past the end opens at the end.
    let pod = &want[1].0;
    let d = dom(&browser, &page, &format!("t=1000&lang=zh&pod={pod}"));
    assert!(d.contains("<html lang=\"zh-CN\""));
    assert!(d.contains("t 时刻的三层网络"), "no Chinese heading");
    assert!(d.contains("各 Pod 随时间处理的请求数"));
    assert!(d.contains("t = 70.000s"), "t past the end opens at the end");
    assert!(d.contains(&format!("class=\"selected\" data-pod=\"{pod}\"")));
    assert_eq!(pods_table(&d), pods_at_end(&summary));
    // A traced request is on screen, as `kubesim trace` prints it.
    assert!(d.contains("DNAT"), "no traced request");
    // The views of latency and load, and the entry node's rules, in Chinese too.
    assert!(
        d.contains("延迟与负载"),
        "no Chinese latency-and-load heading"
    );
    assert!(
        d.contains("高亮的是本连接命中的行"),
        "no Chinese rules heading"
    );

    // At 30 s: the EndpointSlice of http-svc lists exactly the three pods' IPs; the latency
    // CDF and the load charts are drawn; the rules of the entry node are listed with the
    // lines the trace matched highlighted, the DNAT to the traced pod among them.
    let d = dom(&browser, &page, "t=30");
    let mut ips: Vec<String> = want
        .iter()
        .filter(|(name, _)| name.starts_with("http-deployment-"))
        .map(|(_, ip)| ip.clone())
        .collect();
    ips.sort();
    let mut slice = slice_endpoints(&d, "default/http-svc");
    slice.sort();
    assert_eq!(slice, ips, "EndpointSlice endpoints at 30 s");
    assert!(d.contains("<table id=\"endpointslices\""));
    assert!(
        d.contains("class=\"cdf\" data-stream=\"visitors\""),
        "no latency CDF"
    );
    assert!(d.contains("id=\"load-svg\""), "no load chart");
    let rules = between(&d, "<pre id=\"rules\"", "</pre>").expect("rules listing");
    let hits: Vec<&str> = rules.split("class=\"hit\"").skip(1).collect();
    assert!(hits.len() >= 3, "matched lines highlighted: {}", hits.len());
    let traced = between(&d, "<pre id=\"trace\"", "</pre>").unwrap();
    let dnat = traced
        .split("--to-destination ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the trace's DNAT target");
    assert!(
        hits.iter()
            .any(|h| h.contains(&format!("--to-destination {dnat}"))),
        "the DNAT rule to {dnat} is highlighted"
    );
    // Cluster events on the requests chart: every event a tick with its message.
    assert!(d.contains("Successfully assigned"), "no event message");

    screenshot(&browser, &page, "t=30&lang=en", "seed-tutorial-en");
    screenshot(
        &browser,
        &page,
        &format!("t=30&lang=zh&pod={pod}"),
        "seed-tutorial-zh",
    );
}

#[test]
fn a_replaced_pod_leaves_and_its_successor_has_a_new_ip_under_the_same_cluster_ip() {
    let Some(browser) = browser_or_skip("report_html pod-crash") else {
        return;
    };
    let (page, summary) = run("pod-crash");
    let cluster_ip = |d: &str| {
        let svc = between(d, "<table id=\"svc\"", "</table>").expect("svc table");
        let i = svc
            .find("data-svc=\"default/http-svc\"")
            .expect("http-svc row");
        attrs(&svc[i..], "data-cluster-ip")[0].clone()
    };

    let before = pods_before_deletions(&summary, 35.0);
    // The three of `http-deployment` and the CoreDNS add-on's two.
    assert_eq!(before.len(), 5);
    let d = dom(&browser, &page, "t=35");
    assert_eq!(pods_table(&d), before);
    let ip_before = cluster_ip(&d);

    let d = dom(&browser, &page, "t=60");
    let after = pods_at_end(&summary);
    assert_eq!(pods_table(&d), after);
    assert_eq!(cluster_ip(&d), ip_before, "the ClusterIP is stable");
    let gone: Vec<_> = before.iter().filter(|p| !after.contains(p)).collect();
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!((gone.len(), new.len()), (1, 1), "one pod replaced");
    assert_ne!(gone[0].1, new[0].1, "the replacement has a new IP");
    assert!(before.iter().all(|(_, ip)| ip != &new[0].1));
    // Each node's kube-proxy had synced the new pod's endpoint by the end.
    let eps = between(&d, "<table id=\"endpoints\"", "</table>").expect("endpoints table");
    assert!(eps.contains(&new[0].1), "{eps}");

    // The EndpointSlice before and after: the crashed pod's IP replaced by its successor's.
    let slice = slice_endpoints(&d, "default/http-svc");
    assert!(slice.contains(&new[0].1), "{slice:?}");
    assert!(!slice.contains(&gone[0].1), "{slice:?}");
    let d35 = dom(&browser, &page, "t=35");
    let slice = slice_endpoints(&d35, "default/http-svc");
    assert!(slice.contains(&gone[0].1) && !slice.contains(&new[0].1));
    // `kubectl get events` at t: the Killing at 40 s is listed at 60 s, not at 35 s; and it
    // is labelled on the requests chart.
    let events = |d: &str| {
        between(d, "<table id=\"events\"", "</table>")
            .unwrap()
            .to_string()
    };
    assert!(events(&d).contains("Killing"));
    assert!(!events(&d35).contains("Killing"));
    assert!(d.contains("class=\"event-label\""), "no event label");

    screenshot(&browser, &page, "t=40.5&lang=en", "pod-crash-en");
    screenshot(&browser, &page, "t=45&lang=zh", "pod-crash-zh");
}

/// The verdict cell of the reach table for `port` (`53/UDP`) from group `from` to the first
/// group whose name starts with `to`: (`data-verdict`, `data-egress`, the cell's text).
fn reach_cell(dom: &str, port: &str, from: &str, to: &str) -> (String, String, String) {
    let table = between(
        dom,
        &format!("<table class=\"reach\" data-port=\"{port}\""),
        "</table>",
    )
    .unwrap_or_else(|| panic!("no reach table for {port}"));
    let key = format!("data-from=\"{from}\" data-to=\"{to}");
    let i = table
        .find(&key)
        .unwrap_or_else(|| panic!("no cell {from} -> {to} in {port}:\n{table}"));
    let cell = &table[i..];
    let cell = &cell[..cell.find("</td>").unwrap()];
    let text = cell[cell.find('>').unwrap() + 1..].to_string();
    (
        attrs(cell, "data-verdict")[0].clone(),
        attrs(cell, "data-egress")[0].clone(),
        text,
    )
}

/// The NetworkPolicy lesson's page has `kubesim reach`'s table for the policies in force at
/// t, as `reach --at` gives it: the clients' DNS queries to CoreDNS denied at their egress
/// before the fix (10 s), allowed once it is in force (31 s on), the backend allowed
/// throughout; each verdict in words and a sign, not by colour alone. A page without
/// policies has no such view.
#[test]
fn the_netpol_lesson_shows_who_may_connect_to_whom_at_t() {
    let Some(browser) = browser_or_skip("report_html netpol") else {
        return;
    };
    let (page, _) = run("netpol-egress-dns");
    let d = dom(&browser, &page, "t=10");
    assert!(d.contains("id=\"reach-view\""), "no reach view");
    let client = "default/app=client";
    let (verdict, egress, text) = reach_cell(&d, "53/UDP", client, "kube-system/");
    assert_eq!((verdict.as_str(), egress.as_str()), ("deny", "deny"));
    assert_eq!(text, "✗ deny (out)");
    let (verdict, _, text) = reach_cell(&d, "80/TCP", client, "default/app=backend");
    assert_eq!((verdict.as_str(), text.as_str()), ("allow", "✓ allow"));
    assert!(
        d.contains("Policies in force from 0.000s to 31.000s"),
        "span"
    );

    // The same cells from `kubesim reach --at` (the terminal's truth table).
    let dir = temp_dir("report-html-netpol-reach");
    let file = root().join("scenarios/netpol-egress-dns.yaml");
    for (at, want) in [("10s", "deny"), ("40s", "allow")] {
        let out = kubesim(
            &dir,
            &["reach", file.to_str().unwrap(), "--at", at, "--csv"],
        );
        let csv = String::from_utf8(out.stdout).unwrap();
        let line = csv
            .lines()
            .find(|l| {
                l.starts_with(client) && l.contains(",kube-system/") && l.contains(",53,UDP,")
            })
            .unwrap_or_else(|| panic!("no client -> kube-dns 53/UDP row at {at}:\n{csv}"));
        assert!(line.ends_with(&format!(",{want}")), "{line}");
    }

    let d = dom(&browser, &page, "t=40&lang=zh");
    let (verdict, egress, text) = reach_cell(&d, "53/UDP", client, "kube-system/");
    assert_eq!((verdict.as_str(), egress.as_str()), ("allow", "allow"));
    assert_eq!(text, "✓ 允许");
    assert!(d.contains("谁可以连接谁"), "no Chinese heading");
    screenshot(&browser, &page, "t=10&lang=en", "netpol-egress-dns-en");

    // The seed lesson has no policy: no reach view.
    let (page, _) = run("seed-tutorial");
    let d = dom(&browser, &page, "t=30");
    assert!(!d.contains("reach-view"), "a reach view without policies");
}
