//! The `kubesim` command: arguments, output folders and exit codes; the library does the work.
//!
//! Exit codes: 0 success, 1 the run found what it was asked to check for, 2 bad input or usage
//! (including an output folder refused); a run ended by SIGINT, SIGTERM or SIGHUP removes the
//! output folder it was writing and ends by the signal (a shell reports 130, 143 or 129).

use clap::{Parser, Subcommand};
use kubesim::scenario::{self, Diagnostic, FieldValidation, LoadOptions, Loaded};
use kubesim::sim::{ApiError, Simulation};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An offline simulator of Kubernetes cluster networking.
///
/// Replays a Deployment behind a Service, request by request: which pod each request lands
/// on, how kube-proxy's rules route it, and what crashes and node failures do to traffic.
/// The same scenario and seed give the same output, byte for byte.
#[derive(Parser, Debug)]
#[command(
    name = "kubesim",
    version,
    after_help = "Example:\n  kubesim run scenarios/seed-tutorial.yaml\n  kubesim check scenarios/seed-tutorial.yaml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario: print kubectl-style tables and the spread of requests, write
    /// summary.json, CSV files and charts into output/<scenario name>/.
    #[command(
        after_help = "Example:\n  kubesim run scenarios/seed-tutorial.yaml --seed 7 --out /tmp/seed7"
    )]
    Run(RunArgs),
    /// Run a grid of variants of a scenario in parallel and judge each against an SLO: writes
    /// sweep.csv, sweep.json and charts into output/<scenario name>-sweep/.
    ///
    /// Each --set KEY=VALUES adds an axis; the grid is every combination. Keys:
    /// deployment/NAME.replicas (any spec field of a Deployment, Service, ReplicaSet, Pod, or
    /// of a HorizontalPodAutoscaler as hpa/NAME.minReplicas), traffic/NAME.rate (any field of a stream), behavior/IMAGE.concurrency, node/NAME.FIELD,
    /// events (none, all, or a YAML file with a list of events), or a Scenario spec path such
    /// as cluster.proxyMode. VALUES: 1,2,4 or 1..12 or 500/s..4000/s:500/s. Each cell's seeds
    /// come from the base seed and the cell's own values. Exits 1 when no cell meets the SLO.
    #[command(
        after_help = "Example:\n  kubesim sweep scenarios/capacity-plan.yaml \\\n    --set deployment/web.replicas=1..10 --set traffic/browser.rate=350/s..2800/s:350/s \\\n    --slo 'p99<75ms,errors<0.1%' --replications 3"
    )]
    Sweep(SweepArgs),
    /// Judge the expectations (`spec.expect`) of every scenario under the paths (folders
    /// recursively), in parallel: a line per expectation, then `N passed, M failed`; exits 1
    /// when one failed.
    #[command(
        after_help = "Examples:\n  kubesim test scenarios/tests\n  kubesim test scenarios/tests --junit report.xml --replications 5"
    )]
    Test(TestArgs),
    /// Search for a fault timeline that breaks the scenario's expectations (`spec.expect`):
    /// random faults added to its own timeline, each run judged; the first timeline that
    /// breaks an expectation is shrunk to a minimal one and written as a scenario that
    /// `kubesim run` replays. Exits 1 when one was found, 0 when none was within the runs.
    #[command(
        after_help = "Example:\n  kubesim explore scenarios/tests/rolling-update-with-prestop.yaml \\\n    --faults deletePod,nodeDown --max-faults 2 --runs 200 --seed 1"
    )]
    Explore(ExploreArgs),
    /// Join the shard folders of a sharded sweep into the files the unsharded sweep writes.
    #[command(
        after_help = "Example:\n  kubesim merge results/shard-0 results/shard-1 results/shard-2 --out output/capacity-sweep"
    )]
    Merge {
        /// Shard folders (each holding sweep-shard.json) or shard files.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder (default: output/<scenario name>-sweep).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the rules kube-proxy programmed on a node at a simulated instant, as the real tool
    /// prints them (`iptables-save` for iptables mode, `nft list ruleset` for nftables mode,
    /// `ipvsadm -Ln` for IPVS mode, then that node's `ipset save` and `iptables-save`).
    #[command(
        after_help = "Examples:\n  kubesim rules scenarios/seed-tutorial-3-nodes.yaml --node node-2 --at 30s\n  kubesim rules scenarios/seed-tutorial.yaml --mode nftables\n  kubesim rules scenarios/ipvs-least-connection.yaml --at 30s"
    )]
    Rules {
        /// The scenario file.
        scenario: PathBuf,
        /// The node (default: the first node of the scenario).
        #[arg(long)]
        node: Option<String>,
        /// The simulated instant, e.g. 30s or 1m30s (default: the end of the scenario).
        #[arg(long)]
        at: Option<String>,
        /// The proxy mode to show (default: the scenario's `proxyMode`): iptables or nftables
        /// (the rules that mode would program from the same Services and endpoints), or ipvs
        /// (only for a scenario that runs in IPVS mode: its tables hold the run's connection
        /// counts).
        #[arg(long)]
        mode: Option<String>,
        #[command(flatten)]
        validate: Validate,
        /// Run even when the estimated work is beyond about an hour of one core (see
        /// `kubesim check`).
        #[arg(long)]
        force: bool,
    },
    /// Follow new connections hop by hop: the node they enter, each rule matched with its
    /// random draws, DNAT to a pod, the overlay hop, the SNAT source the pod sees.
    #[command(
        after_help = "Examples:\n  kubesim trace scenarios/seed-tutorial-3-nodes.yaml --to 192.168.0.24:30001 -n 3\n  kubesim trace scenarios/seed-tutorial-3-nodes.yaml --to 192.168.0.24:30001 -n 3 --brief\n  kubesim trace scenarios/in-cluster-client.yaml --from <pod> --to http-svc:8080"
    )]
    Trace {
        /// The scenario file.
        scenario: PathBuf,
        /// The destination: NodeIP:nodePort, ClusterIP:port, a pod IP:port, or name:port.
        #[arg(long)]
        to: String,
        /// `external` (default: a client outside the cluster) or a pod's name.
        #[arg(long, default_value = "external")]
        from: String,
        /// The simulated instant (default: the end of the scenario).
        #[arg(long)]
        at: Option<String>,
        /// How many new connections to follow (at most 10,000).
        #[arg(short = 'n', long = "count", default_value_t = 1)]
        count: usize,
        /// One line per hop, for a projector: the Service chain chosen with its random draws,
        /// DNAT, SNAT and who served (the rules walked are left out).
        #[arg(long)]
        brief: bool,
        #[command(flatten)]
        validate: Validate,
        /// Run even when the estimated work is beyond about an hour of one core (see
        /// `kubesim check`).
        #[arg(long)]
        force: bool,
    },
    /// Write a large cluster as an ordinary scenario file: nodes, one Deployment per Service
    /// (the first Service a NodePort), an outside client calling it, within Kubernetes'
    /// documented limits (5,000 nodes, 110 pods per node, 150,000 pods, 10,000 Services).
    #[command(
        after_help = "Examples:\n  kubesim generate --nodes 5000 --pods-per-node 30 --services 10000 --out limits.yaml\n  kubesim generate --nodes 1000 --pods-per-node 110 --services 1000 --out 1000x110.yaml\n  kubesim generate --nodes 200 --replicas 3 --services 50 --proxy-mode nftables --rate 500/s --duration 1m"
    )]
    Generate(GenerateArgs),
    /// Print the cluster's objects at a simulated instant as `kubectl get` prints them: pods,
    /// svc (services), endpoints, endpointslices, events or hpa, in the default namespace unless
    /// -n NS, every namespace with -A.
    #[command(
        after_help = "Examples:\n  kubesim get pods scenarios/pod-crash.yaml --at 25s -o wide\n  kubesim get svc scenarios/seed-tutorial.yaml -A\n  kubesim get endpoints scenarios/rolling-update.yaml --at 40s\n  kubesim get events scenarios/node-failure.yaml --at 2m"
    )]
    Get(GetArgs),
    /// Compare two runs side by side, per pod, per stream and per Service: two output folders
    /// (each with its summary.json), or two scenario files run with the same seed. Prints the
    /// differences and writes diff.html.
    #[command(
        after_help = "Examples:\n  kubesim diff output/seed-tutorial output/seed-tutorial-ipvs\n  kubesim diff scenarios/rolling-update.yaml rolling-update-prestop.yaml --seed 7"
    )]
    Diff(DiffArgs),
    /// Validate a scenario without running it: YAML, the API server's validation, and the
    /// allocation of ClusterIPs and NodePorts with their conflicts.
    #[command(after_help = "Example:\n  kubesim check scenarios/seed-tutorial.yaml")]
    Check {
        /// The scenario file.
        scenario: PathBuf,
        #[command(flatten)]
        validate: Validate,
        /// List every Service (by default a long table lists the first and says how many it
        /// left out).
        #[arg(long)]
        all: bool,
    },
    /// Turn what `kubectl get nodes,namespaces,deployments,replicasets,statefulsets,daemonsets,
    /// pods,services,endpointslices -A -o yaml` (or `-o json`) prints into a scenario that `run`
    /// replays: nodes with their addresses and pod ranges, workloads from their controllers,
    /// Services with their ClusterIPs and nodePorts. Prints what was imported, skipped and why.
    #[command(
        after_help = "Example:\n  kubectl get nodes,namespaces,deployments,replicasets,statefulsets,daemonsets,pods,services,endpointslices -A -o yaml > dump.yaml\n  kubectl get configmap kube-proxy -n kube-system -o json > kube-proxy.json\n  kubesim import dump.yaml kube-proxy.json --out my-cluster.yaml"
    )]
    Import(ImportArgs),
    /// The NetworkPolicy truth table at a simulated instant: every pod group (same labels, same
    /// namespace; every pod with --pods) against every other, for each port the destination
    /// declares or a Service targets: the destination's ingress, the source's egress and the
    /// verdict. A grid per port, or CSV with --csv.
    #[command(
        after_help = "Examples:\n  kubesim reach scenarios/netpol-default-deny.yaml\n  kubesim reach scenarios/netpol-docs-example.yaml --pods --csv"
    )]
    Reach(ReachArgs),
}

/// `kubesim reach`'s arguments.
#[derive(clap::Args, Debug)]
struct ReachArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// The simulated instant (default: the end of the scenario).
    #[arg(long)]
    at: Option<String>,
    /// `from,to,port,protocol,ingress,egress,verdict` lines instead of grids.
    #[arg(long)]
    csv: bool,
    /// One row per pod (`namespace/pod`) instead of per group (`namespace/k=v,k=v`).
    #[arg(long)]
    pods: bool,
    #[command(flatten)]
    validate: Validate,
    /// Run even when the estimated work is beyond about an hour of one core.
    #[arg(long)]
    force: bool,
}

/// kubectl's `--validate`, on every command that loads a scenario.
#[derive(clap::Args, Debug, Clone, Copy)]
struct Validate {
    /// Unknown or duplicate fields in Kubernetes objects and in the Scenario document: strict
    /// (or true; the default, as kubectl's) makes them errors, warn makes them warnings, ignore
    /// (or false) drops them.
    #[arg(
        long,
        value_name = "MODE",
        default_value = "strict",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "strict"
    )]
    validate: FieldValidation,
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`kubesim rules ... | head`) would
    // panic; restore the default, which ends the process quietly as other tools do.
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Run { .. } | Command::Sweep(_) | Command::Merge { .. } | Command::Diff(_)
    ) {
        remove_unfinished_output_on_signals();
    }
    match cli.command {
        Command::Run(args) => run(args),
        Command::Sweep(args) => sweep(&args),
        Command::Merge { dirs, out } => merge(&dirs, out),
        Command::Test(args) => test(&args),
        Command::Explore(args) => explore(&args),
        Command::Check {
            scenario,
            validate,
            all,
        } => check(&scenario, validate.validate, rows(all)),
        Command::Generate(args) => generate(&args),
        Command::Rules {
            scenario,
            node,
            at,
            mode,
            validate,
            force,
        } => rules(&scenario, node, at, mode, validate.validate, force),
        Command::Trace {
            scenario,
            to,
            from,
            at,
            count,
            brief,
            validate,
            force,
        } => trace(
            &scenario,
            &to,
            &from,
            (at, count, brief),
            validate.validate,
            force,
        ),
        Command::Get(args) => get(&args),
        Command::Diff(args) => diff(&args),
        Command::Import(args) => import(&args),
        Command::Reach(args) => reach(&args),
    }
}

/// `--all`: every row of every table, else each long table summarised.
fn rows(all: bool) -> kubesim::report::Rows {
    if all {
        kubesim::report::Rows::All
    } else {
        kubesim::report::Rows::Summary
    }
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C on Windows): removes the output folder being written,
/// then ends as the signal would have (a shell reports 130 for SIGINT, 143 for SIGTERM).
fn remove_unfinished_output_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        kubesim::report::remove_unfinished();
                        // Dies by the signal, so that a shell or a script sees it was
                        // interrupted; exits with 128 + the signal if that fails.
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        std::process::exit(128 + signal);
                    }
                });
            }
            Err(e) => eprintln!(
                "warning: cannot handle signals ({e}): an interrupted run may leave a hidden temporary folder beside its output"
            ),
        }
    }
    #[cfg(windows)]
    {
        if let Err(e) = ctrlc::set_handler(|| {
            kubesim::report::remove_unfinished();
            std::process::exit(130);
        }) {
            eprintln!("warning: cannot handle Ctrl-C ({e}): an interrupted run may leave a hidden temporary folder beside its output");
        }
    }
}

/// Prints why an output folder is refused (or could not be written); exit 2.
fn output_error(e: &kubesim::report::ReportError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Loads and validates; prints every problem. `None` means exit 2. With `gate`, a run whose
/// estimated work is beyond an hour is refused before anything is built, unless `gate` is
/// `Some(true)` (`--force`).
fn prepare(
    path: &Path,
    seed: Option<u64>,
    validate: FieldValidation,
    gate: Option<bool>,
) -> Option<(Loaded, Simulation)> {
    let options = LoadOptions {
        validate,
        ..LoadOptions::default()
    };
    let mut loaded = match scenario::load_opts(path, &options) {
        Ok(l) => l,
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            return None;
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    if let Some(seed) = seed {
        loaded.scenario.seed = seed;
    }
    if let Some(force) = gate {
        if !within_estimate(&loaded, None, force) {
            return None;
        }
    }
    match Simulation::new(loaded.scenario.clone()) {
        Ok(sim) => Some((loaded, sim)),
        Err(errors) => {
            for e in errors {
                eprintln!("{}", locate(&loaded, &e, path));
            }
            None
        }
    }
}

/// Whether the run to `until` (the end when `None`) may go ahead: within its estimated work,
/// or forced. Prints the refusal when not.
fn within_estimate(
    loaded: &Loaded,
    until: Option<kubesim::engine::SimDuration>,
    force: bool,
) -> bool {
    let estimate = match until {
        Some(t) if t < loaded.scenario.duration => loaded.estimate.until(t),
        _ => loaded.estimate.clone(),
    };
    let what = match until {
        Some(t) if t < loaded.scenario.duration => format!("the run to {t}"),
        _ => "the run".to_string(),
    };
    match estimate.refusal(&what) {
        Some(d) if !force => {
            eprintln!("{d}");
            false
        }
        _ => true,
    }
}

/// An API error with the file, line and column of the field it names.
fn locate(loaded: &Loaded, e: &ApiError, path: &Path) -> Diagnostic {
    let (file, line, col) = e
        .object
        .and_then(|i| loaded.sources.locate(i, &e.field))
        .unwrap_or_else(|| (path.display().to_string(), 1, 1));
    Diagnostic::error(&file, line, col, e.to_string())
}

fn run(a: RunArgs) -> ExitCode {
    let RunArgs {
        scenario,
        seed,
        out,
        json,
        slo,
        validate,
        force,
        all,
    } = a;
    let path = scenario.as_path();
    let rows = rows(all);
    let slo = match slo.as_deref().map(kubesim::sweep::slo::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --slo {:?}: {e}", slo.unwrap_or_default());
            return ExitCode::from(2);
        }
    };
    let Some((loaded, mut sim)) = prepare(path, seed, validate.validate, Some(force)) else {
        return ExitCode::from(2);
    };
    let dir = out.unwrap_or_else(|| Path::new("output").join(&loaded.scenario.name));
    if let Err(e) = kubesim::report::check_output(&dir, &[path.to_path_buf()]) {
        return output_error(&e);
    }
    // Recorded: report.html shows the run over time (the figures are the same as unrecorded).
    let outcome = match sim.run_recorded() {
        Ok(o) => o,
        Err(e) => {
            let file = path.display().to_string();
            let d = scenario::estimate::overloaded(&loaded.estimate, e.at, e.in_flight, &file);
            eprintln!("{d}");
            return ExitCode::from(2);
        }
    };
    let verdict = slo.as_ref().map(|s| {
        let figures = kubesim::sweep::RepFigures::of(&outcome);
        s.verdict(std::slice::from_ref(&figures))
    });
    let expectations = kubesim::report::expect::judge(&outcome);
    let missed = expectations.iter().filter(|v| !v.pass).count();
    if json {
        print!("{}", kubesim::report::summary_json(&outcome));
    } else {
        print!("{}", kubesim::report::render_run(&outcome, rows));
        print!(
            "{}",
            kubesim::report::expect::render_verdicts(&expectations)
        );
    }
    let written = kubesim::report::write_outputs(&outcome, &dir);
    // The process ends here: freeing 150,000 pods and their figures one by one is wasted time.
    std::mem::forget((loaded, sim, outcome));
    match written {
        Ok(files) => {
            if !json {
                println!("\nWrote {} files to {}/", files.len(), dir.display());
            }
            let code = match (verdict, &slo) {
                (Some(v), Some(s)) if v != kubesim::sweep::slo::Verdict::Pass => {
                    eprintln!("SLO {} missed", s.text);
                    ExitCode::from(1)
                }
                (Some(_), Some(s)) => {
                    if !json {
                        println!("SLO {} met", s.text);
                    }
                    ExitCode::SUCCESS
                }
                _ => ExitCode::SUCCESS,
            };
            if missed > 0 {
                eprintln!("{missed} of {} expectation(s) failed", expectations.len());
                return ExitCode::from(1);
            }
            code
        }
        Err(e) => output_error(&e),
    }
}

fn check(path: &Path, validate: FieldValidation, rows: kubesim::report::Rows) -> ExitCode {
    let Some((loaded, sim)) = prepare(path, None, validate, None) else {
        return ExitCode::from(2);
    };
    // Valid, but `run` would refuse it: say so, and why, without failing the check.
    if let Some(d) = loaded.estimate.refusal("the run") {
        let mut w = d;
        w.severity = kubesim::scenario::Severity::Warning;
        w.message = w.message.replace(
            "pass --force to run it anyway",
            "`run` and `sweep` refuse it unless given --force",
        );
        eprintln!("{w}");
    }
    println!(
        "{}: valid. {} node(s), {} object(s), {} traffic stream(s), {} timeline event(s).",
        path.display(),
        loaded.scenario.nodes.len(),
        loaded.scenario.objects.len(),
        loaded.scenario.traffic.len(),
        loaded.scenario.events.len()
    );
    println!();
    print!(
        "{}",
        kubesim::report::services_table_at(&sim.service_outcomes(), Default::default(), rows)
    );
    // The process ends here: freeing a limit-sized cluster object by object would take a
    // tenth of `check`'s time.
    std::mem::forget((loaded, sim));
    ExitCode::SUCCESS
}

/// `--at` as an instant, or the end of the scenario; `None` (after printing why) if malformed
/// or past the end.
fn parse_at(
    at: Option<&str>,
    loaded: &Loaded,
    sim: &Simulation,
) -> Option<kubesim::engine::SimTime> {
    match at.map(kubesim::engine::SimDuration::parse).transpose() {
        Ok(None) => Some(sim.end()),
        Ok(Some(d)) if d <= sim.end() - kubesim::engine::SimTime::ZERO => {
            Some(kubesim::engine::SimTime::ZERO + d)
        }
        Ok(Some(_)) => {
            eprintln!(
                "error: --at {}: past the end of scenario {} (duration {})",
                at.unwrap_or_default(),
                loaded.scenario.name,
                sim.end() - kubesim::engine::SimTime::ZERO
            );
            None
        }
        Err(e) => {
            eprintln!("error: --at: {e}");
            None
        }
    }
}

/// The most connections `trace -n` follows: far more than anyone reads, and few enough that
/// the trace's text stays in memory.
const MAX_TRACE_COUNT: usize = 10_000;

fn trace(
    path: &Path,
    to: &str,
    from: &str,
    (at, count, brief): (Option<String>, usize, bool),
    validate: FieldValidation,
    force: bool,
) -> ExitCode {
    if count > MAX_TRACE_COUNT {
        eprintln!("error: -n {count}: a trace follows at most {MAX_TRACE_COUNT} connections");
        return ExitCode::from(2);
    }
    let Some((loaded, mut sim)) = prepare(path, None, validate, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(at.as_deref(), &loaded, &sim) else {
        return ExitCode::from(2);
    };
    if !within_estimate(&loaded, Some(t - kubesim::engine::SimTime::ZERO), force) {
        return ExitCode::from(2);
    }
    sim.run_until(t);
    let from = match from {
        "external" => kubesim::sim::trace::TraceFrom::External,
        pod => kubesim::sim::trace::TraceFrom::Pod(pod.to_string()),
    };
    let code = match sim.trace(&from, to, count) {
        Ok(text) => {
            println!("# trace at {t} (simulated)");
            if brief {
                print!("{}", kubesim::report::trace_brief(&text));
            } else {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    };
    // The process ends here: freeing a large cluster object by object is wasted time.
    std::mem::forget((loaded, sim));
    code
}

fn rules(
    path: &Path,
    node: Option<String>,
    at: Option<String>,
    mode: Option<String>,
    validate: FieldValidation,
    force: bool,
) -> ExitCode {
    let Some((loaded, mut sim)) = prepare(path, None, validate, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(at.as_deref(), &loaded, &sim) else {
        return ExitCode::from(2);
    };
    if !within_estimate(&loaded, Some(t - kubesim::engine::SimTime::ZERO), force) {
        return ExitCode::from(2);
    }
    let running = loaded.scenario.net.proxy_mode.as_str();
    let mode = mode.unwrap_or_else(|| running.to_string());
    if !matches!(mode.as_str(), "iptables" | "nftables" | "ipvs") {
        eprintln!("error: --mode {mode}: expected iptables, nftables or ipvs");
        return ExitCode::from(2);
    }
    if mode == "ipvs" && running != "ipvs" {
        eprintln!(
            "error: --mode ipvs: {} runs kube-proxy in {running} mode; set spec.cluster.proxyMode: ipvs to see IPVS tables",
            path.display()
        );
        return ExitCode::from(2);
    }
    let nodes = &loaded.scenario.nodes;
    let index = match &node {
        None => 0,
        Some(name) => match nodes.iter().position(|n| &n.name == name) {
            Some(i) => i,
            None => {
                // The first few names: a cluster of 5,000 nodes would fill the screen.
                let mut names: Vec<&str> = nodes.iter().take(10).map(|n| n.name.as_str()).collect();
                let more = format!("... {} in all", nodes.len());
                if nodes.len() > names.len() {
                    names.push(&more);
                }
                eprintln!(
                    "error: --node {name}: no such node in {} (nodes: {})",
                    path.display(),
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        },
    };
    sim.run_until(t);
    let node_id = kubesim::model::cluster::NodeId(index as u32);
    let (text, synced) = match mode.as_str() {
        "nftables" => sim.nft_list_ruleset(node_id),
        "ipvs" => {
            let (mut text, synced) = sim
                .ipvsadm(node_id)
                .expect("an IPVS-mode run has IPVS tables");
            // What the node holds besides the virtual servers, each part under its own title.
            if let Some((sets, rules)) = sim.ipvs_sets_and_rules(node_id) {
                text.push_str("\n# ipset save\n");
                text.push_str(&sets);
                text.push_str("\n# iptables-save\n");
                text.push_str(&rules);
            }
            (text, synced)
        }
        _ => sim.iptables_save(node_id),
    };
    let synced = synced.map_or("never".to_string(), |s| s.to_string());
    eprintln!(
        "# node {} at {t}: rules as kube-proxy last synced them (at {synced})",
        nodes[index].name
    );
    print!("{text}");
    // The process ends here: freeing a large cluster object by object is wasted time.
    std::mem::forget((loaded, sim));
    ExitCode::SUCCESS
}

/// `kubesim generate`'s arguments (`scenario::generate::GenerateOptions`).
#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// Nodes, named with zero-padded numbers (node-001 ... node-100 for 100 nodes) at 192.168.0.1, 192.168.0.2, ... (250 per /24).
    #[arg(long, default_value_t = 100)]
    nodes: u32,
    /// Pods per node on average (the Deployments share nodes × N pods).
    #[arg(long, default_value_t = 30, conflicts_with = "replicas")]
    pods_per_node: u32,
    /// Replicas of each Deployment, instead of --pods-per-node.
    #[arg(long)]
    replicas: Option<u32>,
    /// Services, each selecting its own Deployment.
    #[arg(long, default_value_t = 10)]
    services: u32,
    /// kube-proxy's mode: iptables, ipvs or nftables.
    #[arg(long, default_value = "iptables", value_parser = ["iptables", "ipvs", "nftables"])]
    proxy_mode: String,
    /// The outside client's rate to the first Service's NodePort, e.g. 1000/s.
    #[arg(long, default_value = "1000/s")]
    rate: String,
    /// How long the traffic runs, from 5 s (after the pods start), e.g. 10s.
    #[arg(long, default_value = "10s")]
    duration: String,
    /// The scenario's `spec.seed`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the scenario (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn generate(a: &GenerateArgs) -> ExitCode {
    use kubesim::scenario::generate::{GenerateOptions, PodCount};
    let duration = match kubesim::engine::SimDuration::parse(&a.duration) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --duration: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = GenerateOptions {
        nodes: a.nodes,
        pods: a
            .replicas
            .map_or(PodCount::PerNode(a.pods_per_node), PodCount::PerDeployment),
        services: a.services,
        proxy_mode: match a.proxy_mode.as_str() {
            "ipvs" => kubesim::net::config::ProxyMode::Ipvs,
            "nftables" => kubesim::net::config::ProxyMode::Nftables,
            _ => kubesim::net::config::ProxyMode::Iptables,
        },
        rate: a.rate.trim().to_string(),
        duration,
        seed: a.seed,
    };
    let text = match kubesim::scenario::generate::generate(&opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(path) = &a.out else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    if let Some(why) = not_generated(path) {
        eprintln!(
            "error: --out {}: {why}; kubesim generate replaces only a file it wrote: choose another name or move the file away; nothing was written",
            path.display()
        );
        return ExitCode::from(2);
    }
    // Written beside it, then renamed over it: an interrupted write leaves the old file.
    let name = path.file_name().map_or_else(
        || "generated.yaml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    match std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

/// Why `generate --out` must not replace `path`, if it must not: it exists and is not a file
/// `kubesim generate` wrote (a scenario whose header says `# Made by: kubesim generate`).
fn not_generated(path: &Path) -> Option<String> {
    not_written_by(path, "# Made by: kubesim generate", "kubesim generate")
}

/// Why a command must not replace `path`, if it must not: it exists and is not a file whose
/// opening comment lines hold `marker` (`# Made by: kubesim generate`), as `command` writes.
fn not_written_by(path: &Path, marker: &str, command: &str) -> Option<String> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(format!("cannot look at it ({e})")),
        Ok(m) => m,
    };
    if !meta.is_file() {
        return Some("it exists and is not a regular file".into());
    }
    let made_by = scenario::files::read_text(path).is_ok_and(|t| {
        t.lines()
            .take_while(|l| l.starts_with('#'))
            .any(|l| l.starts_with(marker))
    });
    (!made_by).then(|| format!("the file exists and {command} did not write it"))
}

/// `kubesim run`'s arguments.
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The scenario file (YAML: a `kind: Scenario` document plus Kubernetes objects).
    scenario: PathBuf,
    /// Overrides the scenario's `spec.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder (default: output/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print summary.json to standard output instead of the tables.
    #[arg(long)]
    json: bool,
    /// Check the run against an SLO, e.g. 'p99<200ms,errors<0.1%'; exit 1 when missed.
    #[arg(long, value_name = "EXPR")]
    slo: Option<String>,
    #[command(flatten)]
    validate: Validate,
    /// Run even when the estimated work is beyond about an hour of one core (see
    /// `kubesim check`).
    #[arg(long)]
    force: bool,
    /// List every row of every table (by default a long table lists its largest rows and
    /// says how many it left out); the files are always complete.
    #[arg(long)]
    all: bool,
}

/// `kubesim sweep`'s arguments.
#[derive(clap::Args, Debug)]
struct SweepArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// KEY=VALUES: an axis of the grid (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUES", required = true)]
    set: Vec<String>,
    /// Service-level objective, e.g. 'p99<200ms,errors<0.1%' (metrics: mean, p50, p90,
    /// p99, p99.9, max, errors, throughput).
    #[arg(long, value_name = "EXPR")]
    slo: Option<String>,
    /// Runs per cell, each with its own derived seed; figures are means with 95% intervals.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Runs at once (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Overrides the base seed (default: the scenario's `spec.seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Run only shard I of N (I from 0, round robin over the cells) and write a shard file
    /// for `kubesim merge`; `auto/N` takes I from $JOB_COMPLETION_INDEX (an Indexed Job).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Output folder (default: output/<scenario name>-sweep, or
    /// output/<scenario name>-sweep-shard-I-of-N for a shard).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    validate: Validate,
    /// Run cells whose estimated work is beyond about an hour of one core each.
    #[arg(long)]
    force: bool,
}

/// `I/N` or `auto/N` (I from `$JOB_COMPLETION_INDEX`).
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| "expected I/N (e.g. 0/4) or auto/N".to_string())?;
    let n: usize = n
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{n:?}: N must be a whole number of shards, at least 1"))?;
    let i: usize = if i == "auto" {
        let v = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
            "auto needs $JOB_COMPLETION_INDEX (set by Kubernetes in an Indexed Job)".to_string()
        })?;
        v.trim()
            .parse()
            .map_err(|_| format!("$JOB_COMPLETION_INDEX {v:?} is not a whole number"))?
    } else {
        i.parse()
            .map_err(|_| format!("{i:?}: I must be a whole number (from 0) or auto"))?
    };
    if i >= n {
        return Err(format!("shard {i} of {n}: I counts from 0 to N-1"));
    }
    Ok((i, n))
}

fn sweep(a: &SweepArgs) -> ExitCode {
    use kubesim::sweep;
    let axes = match sweep::parse_sets(&a.set) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let slo = match a.slo.as_deref().map(sweep::slo::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: --slo {:?}: {e}",
                a.slo.as_deref().unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    if a.replications == 0 {
        eprintln!("error: --replications must be at least 1");
        return ExitCode::from(2);
    }
    if a.replications > sweep::MAX_REPLICATIONS {
        eprintln!(
            "error: --replications {}: more than {}, kubesim's bound",
            a.replications,
            sweep::MAX_REPLICATIONS
        );
        return ExitCode::from(2);
    }
    if a.jobs == Some(0) {
        eprintln!("error: --jobs must be at least 1");
        return ExitCode::from(2);
    }
    let shard = match a.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: --shard {}: {e}",
                a.shard.as_deref().unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let options = LoadOptions {
        validate: a.validate.validate,
        ..LoadOptions::default()
    };
    let base = match scenario::load_opts(&a.scenario, &options) {
        Ok(l) => l,
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            return ExitCode::from(2);
        }
    };
    for w in &base.warnings {
        eprintln!("{w}");
    }
    let dir = a.out.clone().unwrap_or_else(|| match shard {
        Some((i, n)) => {
            Path::new("output").join(format!("{}-sweep-shard-{i}-of-{n}", base.scenario.name))
        }
        None => Path::new("output").join(format!("{}-sweep", base.scenario.name)),
    });
    if let Err(e) = kubesim::report::check_output(&dir, std::slice::from_ref(&a.scenario)) {
        return output_error(&e);
    }
    let plan = sweep::Plan {
        scenario: base.scenario.name.clone(),
        seed: a.seed.unwrap_or(base.scenario.seed),
        axes,
        replications: a.replications,
        slo,
    };
    let cells = plan.shard_cells(shard);
    let runs = cells.len() as u64 * u64::from(plan.replications);
    if runs > sweep::MAX_RUNS {
        eprintln!(
            "error: {} cell(s) x {} replication(s) = {runs} runs: more than {}, kubesim's bound on one sweep (shard it with --shard I/N)",
            cells.len(),
            plan.replications,
            sweep::MAX_RUNS
        );
        return ExitCode::from(2);
    }
    let scenarios = match sweep::prepare(
        &a.scenario,
        &plan,
        &cells,
        a.validate.validate,
        a.force,
        |l, e| locate(l, e, &a.scenario),
    ) {
        Ok(s) => s,
        Err(e) => {
            for p in e.problems {
                eprintln!("{p}");
            }
            return ExitCode::from(2);
        }
    };
    let total = cells.len() as u64 * u64::from(plan.replications);
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} sweep {pos}/{len} runs [{bar:40}] {elapsed_precise} elapsed, ETA {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let jobs = a.jobs.unwrap_or(0);
    let results = sweep::run(&plan, &cells, &scenarios, jobs, &|| bar.inc(1));
    bar.finish_and_clear();
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            for p in e.problems {
                eprintln!("{}: error: {p}", a.scenario.display());
            }
            return ExitCode::from(2);
        }
    };
    if let Some((i, n)) = shard {
        return match kubesim::report::sweep::write_shard(&plan, (i, n), &results, &dir) {
            Ok(p) => {
                println!(
                    "shard {i}/{n}: {} of {} cell(s), {} run(s) each; wrote {}",
                    results.len(),
                    plan.cells().len(),
                    plan.replications,
                    p.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => output_error(&e),
        };
    }
    finish_sweep(&plan, &results, &dir)
}

/// Writes a whole sweep's files, prints its summary; exit 1 when an SLO was given and no cell
/// meets it.
fn finish_sweep(
    plan: &kubesim::sweep::Plan,
    results: &[kubesim::sweep::CellResult],
    dir: &Path,
) -> ExitCode {
    let analysis = kubesim::sweep::analyse(plan, results);
    print!("{}", kubesim::report::sweep::sweep_summary(plan, &analysis));
    match kubesim::report::sweep::write_sweep(plan, results, dir) {
        Ok(files) => println!("\nWrote {} files to {}/", files.len(), dir.display()),
        Err(e) => return output_error(&e),
    }
    if plan.slo.is_some() && !analysis.any_pass() {
        eprintln!("no cell meets the SLO");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn merge(dirs: &[PathBuf], out: Option<PathBuf>) -> ExitCode {
    let mut files = Vec::new();
    for d in dirs {
        let path = if d.is_dir() {
            d.join(kubesim::report::sweep::SHARD_FILE)
        } else {
            d.clone()
        };
        match scenario::files::read_text(&path) {
            Ok(t) => files.push((path.display().to_string(), t)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let (plan, results) = match kubesim::report::sweep::merge_shards(&files) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = out.unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", plan.scenario)));
    let inputs: Vec<PathBuf> = files.iter().map(|(f, _)| PathBuf::from(f)).collect();
    if let Err(e) = kubesim::report::check_output(&dir, &inputs) {
        return output_error(&e);
    }
    finish_sweep(&plan, &results, &dir)
}

/// `kubesim get`'s arguments.
#[derive(clap::Args, Debug)]
struct GetArgs {
    /// What to list: pods (po), svc (services), endpoints (ep), endpointslices, events (ev) or hpa.
    resource: String,
    /// The scenario file.
    scenario: PathBuf,
    /// The simulated instant, e.g. 30s or 1m30s (default: the end of the scenario).
    #[arg(long)]
    at: Option<String>,
    /// Output format: `wide` adds kubectl's wide columns (pods: IP, NODE, NOMINATED NODE,
    /// READINESS GATES; svc: SELECTOR).
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = ["wide"])]
    output: Option<String>,
    /// The namespace to list (default: default).
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    namespace: Option<String>,
    /// List every namespace, with a NAMESPACE column.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    #[command(flatten)]
    validate: Validate,
    /// Run even when the estimated work up to --at is beyond about an hour of one core (see
    /// `kubesim check`).
    #[arg(long)]
    force: bool,
}

fn get(a: &GetArgs) -> ExitCode {
    use kubesim::report::get::{get_table, Namespaces, Resource};
    let resource: Resource = match a.resource.parse() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let namespaces = match (&a.namespace, a.all_namespaces) {
        (_, true) => Namespaces::All,
        (Some(ns), false) => Namespaces::One(ns.clone()),
        (None, false) => Namespaces::One("default".to_string()),
    };
    let Some((loaded, mut sim)) = prepare(&a.scenario, None, a.validate.validate, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(a.at.as_deref(), &loaded, &sim) else {
        return ExitCode::from(2);
    };
    if !within_estimate(&loaded, Some(t - kubesim::engine::SimTime::ZERO), a.force) {
        return ExitCode::from(2);
    }
    sim.run_until(t);
    let snapshot = sim.snapshot();
    match get_table(&snapshot, resource, &namespaces, a.output.is_some()) {
        Some(table) => print!("{table}"),
        // As kubectl says it, on standard error, and not an error.
        None => eprintln!("No resources found{namespaces}."),
    }
    // The process ends here: freeing a large cluster object by object is wasted time.
    std::mem::forget((loaded, sim, snapshot));
    ExitCode::SUCCESS
}

/// `kubesim diff`'s arguments.
#[derive(clap::Args, Debug)]
struct DiffArgs {
    /// The first run: an output folder (holding summary.json), a summary.json, or a scenario
    /// file to run.
    a: PathBuf,
    /// The second run, likewise.
    b: PathBuf,
    /// The seed both scenario files run with (default: the first scenario's `spec.seed`; an
    /// output folder keeps the seed it was run with).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write diff.html and diff.txt (default: output/diff-<A>-vs-<B>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// List every pod (by default a long table lists those that differ first and counts the
    /// rest); the files always list every one.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    validate: Validate,
    /// Run scenarios whose estimated work is beyond about an hour of one core.
    #[arg(long)]
    force: bool,
}

fn diff(a: &DiffArgs) -> ExitCode {
    use kubesim::report::diff::{render_diff, write_diff, Diff, RunFigures};
    // The seed scenario files run with: --seed, else the first side's (a scenario's own, or
    // the seed an output folder was run with).
    let mut seed = a.seed;
    let mut sides = Vec::new();
    let mut inputs = Vec::new();
    for path in [&a.a, &a.b] {
        let summary = if path.is_dir() {
            Some(path.join("summary.json"))
        } else if path.file_name().is_some_and(|n| n == "summary.json") {
            Some(path.clone())
        } else {
            None
        };
        let label = path.display().to_string();
        let text = match summary {
            Some(file) => {
                inputs.push(file.clone());
                match scenario::files::read_text(&file) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: cannot read {}: {e}", file.display());
                        return ExitCode::from(2);
                    }
                }
            }
            None => {
                inputs.push(path.clone());
                let Some((loaded, sim)) = prepare(path, seed, a.validate.validate, Some(a.force))
                else {
                    return ExitCode::from(2);
                };
                match sim.run_checked() {
                    Ok(outcome) => kubesim::report::summary_json(&outcome),
                    Err(e) => {
                        let file = path.display().to_string();
                        let d = scenario::estimate::overloaded(
                            &loaded.estimate,
                            e.at,
                            e.in_flight,
                            &file,
                        );
                        eprintln!("{d}");
                        return ExitCode::from(2);
                    }
                }
            }
        };
        match RunFigures::parse(&label, &text) {
            Ok(f) => {
                seed.get_or_insert(f.seed);
                sides.push(f);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let d = Diff::of(&sides[0], &sides[1]);
    let dir = a.out.clone().unwrap_or_else(|| {
        Path::new("output").join(format!(
            "diff-{}-vs-{}",
            sides[0].scenario, sides[1].scenario
        ))
    });
    if let Err(e) = kubesim::report::check_output(&dir, &inputs) {
        return output_error(&e);
    }
    print!("{}", render_diff(&d, rows(a.all)));
    match write_diff(&d, &dir) {
        Ok(files) => {
            println!("\nWrote {} files to {}/", files.len(), dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => output_error(&e),
    }
}

/// `kubesim test`'s arguments.
#[derive(clap::Args, Debug)]
struct TestArgs {
    /// Scenario files or folders (searched recursively for `.yaml` and `.yml` files with a
    /// Scenario document that has `spec.expect`); default: the current folder.
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to FILE (a testsuite per scenario, a testcase per
    /// expectation).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Runs per scenario, each with its own seed derived from the scenario's (as a sweep's
    /// replications are); an expectation passes when it passes in every run.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Runs at once (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    #[command(flatten)]
    validate: Validate,
    /// Run scenarios whose estimated work is beyond about an hour of one core each.
    #[arg(long)]
    force: bool,
}

/// The scenario files under `paths`, in path order: files as given, folders walked
/// recursively (sorted; hidden entries and `output`/`target` folders skipped) for `.yaml` and
/// `.yml` files that hold a Scenario document with an `expect:` key.
fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue;
            }
            let meta =
                std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            if meta.is_dir() {
                if name != "output" && name != "target" {
                    walk(&p, out)?;
                }
            } else if meta.is_file()
                && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                && has_expectations(&p)
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            // A file named on the command line is loaded even without expectations, so that
            // a typo in `expect` shows as an error rather than as nothing to test.
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Whether a file looks like a scenario with expectations: a `kind: Scenario` line and an
/// `expect:` key (the load decides; this only spares loading every manifest in a folder).
fn has_expectations(path: &Path) -> bool {
    let Ok(text) = scenario::files::read_text(path) else {
        return false;
    };
    let kind = text
        .lines()
        .any(|l| l.trim_start().trim_start_matches("- ").trim() == "kind: Scenario");
    let expect = text.lines().any(|l| l.trim_start().starts_with("expect:"));
    kind && expect
}

/// One scenario to test: where it came from and what loaded.
struct TestScenario {
    file: String,
    scenario: kubesim::sim::Scenario,
}

fn test(a: &TestArgs) -> ExitCode {
    use rayon::prelude::*;
    if a.replications == 0 || a.replications > kubesim::sweep::MAX_REPLICATIONS {
        eprintln!(
            "error: --replications {}: must be from 1 to {}",
            a.replications,
            kubesim::sweep::MAX_REPLICATIONS
        );
        return ExitCode::from(2);
    }
    let files = match test_files(&a.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = LoadOptions {
        validate: a.validate.validate,
        ..LoadOptions::default()
    };
    // Load everything first: bad input anywhere is reported before anything runs.
    let mut scenarios = Vec::new();
    let mut bad = false;
    for path in &files {
        match scenario::load_opts(path, &options) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("{w}");
                }
                if loaded.scenario.expect.is_empty() {
                    eprintln!(
                        "{}: no expectations (spec.expect): nothing to test",
                        path.display()
                    );
                    continue;
                }
                if !within_estimate(&loaded, None, a.force) {
                    bad = true;
                    continue;
                }
                if let Err(errors) = Simulation::new(loaded.scenario.clone()) {
                    for e in errors {
                        eprintln!("{}", locate(&loaded, &e, path));
                    }
                    bad = true;
                    continue;
                }
                scenarios.push(TestScenario {
                    file: path.display().to_string(),
                    scenario: loaded.scenario,
                });
            }
            Err(diags) => {
                for d in diags.iter() {
                    eprintln!("{d}");
                }
                bad = true;
            }
        }
    }
    if bad {
        return ExitCode::from(2);
    }
    if scenarios.is_empty() {
        eprintln!("error: no scenario with expectations (spec.expect) under the paths given");
        return ExitCode::from(2);
    }
    // Replication r of a scenario: its own seed for one replication, else the seed a sweep
    // without axes would give (SHA-256 of the base seed and r).
    let seed_of = |base: u64, r: u32| -> u64 {
        if a.replications == 1 {
            return base;
        }
        let plan = kubesim::sweep::Plan {
            scenario: String::new(),
            seed: base,
            axes: Vec::new(),
            replications: a.replications,
            slo: None,
        };
        plan.seed(
            &kubesim::sweep::Cell {
                index: 0,
                values: Vec::new(),
            },
            r,
        )
    };
    let work: Vec<(usize, u32)> = (0..scenarios.len())
        .flat_map(|i| (0..a.replications).map(move |r| (i, r)))
        .collect();
    let jobs = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    type Judged = Result<(u64, Vec<kubesim::report::expect::Verdict>), String>;
    let results: Vec<Judged> = pool.install(|| {
        work.par_iter()
            .map(|&(i, r)| {
                let mut s = scenarios[i].scenario.clone();
                s.seed = seed_of(s.seed, r);
                let seed = s.seed;
                kubesim::explore::judge_run(s)
                    .map(|verdicts| (seed, verdicts))
                    .map_err(|e| format!("seed {seed}: {e}"))
            })
            .collect()
    });
    let mut suites = Vec::new();
    let (mut passed, mut failed, mut errors) = (0usize, 0usize, false);
    for (i, sc) in scenarios.iter().enumerate() {
        println!("{} ({})", sc.file, sc.scenario.name);
        let runs = &results[i * a.replications as usize..(i + 1) * a.replications as usize];
        let mut cases: Vec<(String, Vec<kubesim::report::expect::Verdict>)> = sc
            .scenario
            .expect
            .iter()
            .map(|e| (e.name.clone(), Vec::new()))
            .collect();
        let mut seeds = Vec::new();
        for run in runs {
            match run {
                Ok((seed, verdicts)) => {
                    seeds.push(*seed);
                    for (c, v) in cases.iter_mut().zip(verdicts) {
                        c.1.push(v.clone());
                    }
                }
                Err(e) => {
                    eprintln!("{}: {e}", sc.file);
                    errors = true;
                }
            }
        }
        for (_, verdicts) in &cases {
            let fails: Vec<(usize, &kubesim::report::expect::Verdict)> = verdicts
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.pass)
                .collect();
            let Some(first) = verdicts.first() else {
                continue;
            };
            let ok = fails.is_empty();
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            let shown = fails.first().map_or(first, |(_, v)| *v);
            let line = kubesim::report::expect::line(shown);
            if a.replications > 1 {
                let n = verdicts.len() - fails.len();
                // `PASS  name` becomes `PASS  5/5  name`.
                let (word, rest) = line.split_at(4);
                println!("  {word}  {n}/{}{rest}", verdicts.len());
            } else {
                println!("  {line}");
            }
            if !ok {
                let (r, v) = fails[0];
                let seed = if a.replications > 1 {
                    format!("seed {}: ", seeds[r])
                } else {
                    String::new()
                };
                println!("        {seed}{}", v.evidence);
            }
        }
        suites.push(kubesim::report::expect::SuiteResult {
            name: sc.scenario.name.clone(),
            file: sc.file.clone(),
            cases,
        });
    }
    println!("\n{passed} passed, {failed} failed");
    if let Some(path) = &a.junit {
        let xml = kubesim::report::expect::junit(&suites);
        if let Err(e) = std::fs::write(path, xml) {
            eprintln!("error: --junit {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if errors {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `kubesim import`'s arguments.
#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// The dumps: `kubectl get ... -o yaml` or `-o json` output, a List or single objects.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the scenario (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The scenario's name (default: the --out file's name, else `imported`).
    #[arg(long)]
    name: Option<String>,
    /// The pods' range, instead of the one found in the dump (kube-controller-manager's
    /// --cluster-cidr, kube-proxy's clusterCIDR, or the nodes' pod ranges).
    #[arg(long, value_name = "CIDR")]
    cluster_cidr: Option<ipnet::Ipv4Net>,
    /// The Services' range, instead of the one found in the dump (the kubernetes ServiceCIDR,
    /// kube-apiserver's --service-cluster-ip-range, or the kubernetes Service's address).
    #[arg(long, value_name = "CIDR")]
    service_cidr: Option<ipnet::Ipv4Net>,
}

fn import(a: &ImportArgs) -> ExitCode {
    use kubesim::scenario::import::{self as imp, ImportOptions, Input};
    let mut texts = Vec::new();
    for f in &a.files {
        match imp::read_file(f) {
            Ok(t) => texts.push((f.display().to_string(), t)),
            Err(d) => {
                eprintln!("{d}");
                return ExitCode::from(2);
            }
        }
    }
    let inputs: Vec<Input> = texts
        .iter()
        .map(|(file, text)| Input { file, text })
        .collect();
    let name = a.name.clone().unwrap_or_else(|| {
        a.out
            .as_ref()
            .and_then(|o| o.file_stem())
            .map_or("imported".into(), |s| s.to_string_lossy().into_owned())
    });
    let options = ImportOptions {
        name,
        cluster_cidr: a.cluster_cidr,
        service_cidr: a.service_cidr,
    };
    let imported = match imp::import(&inputs, &options) {
        Ok(i) => i,
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            return ExitCode::from(2);
        }
    };
    for line in &imported.report {
        eprintln!("{line}");
    }
    // The scenario must load as `run` loads it; nothing is written otherwise.
    let shown = a
        .out
        .as_ref()
        .map_or("<stdout>".to_string(), |o| o.display().to_string());
    let base = a
        .out
        .as_ref()
        .and_then(|o| o.parent())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    match scenario::load_str(&imported.scenario, &shown, &base) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
        }
        Err(diags) => {
            for d in diags.iter() {
                eprintln!("{d}");
            }
            eprintln!("error: the imported scenario does not load; nothing written");
            return ExitCode::from(2);
        }
    }
    match &a.out {
        None => print!("{}", imported.scenario),
        Some(out) => {
            if let Err(e) = imp::write_file(out, &imported.scenario) {
                eprintln!("error: --out {}: {e}", out.display());
                return ExitCode::from(2);
            }
            eprintln!("wrote {}", out.display());
        }
    }
    ExitCode::SUCCESS
}

/// `kubesim explore`'s arguments.
#[derive(clap::Args, Debug)]
struct ExploreArgs {
    /// The scenario file; it needs expectations (`spec.expect`) that pass as written.
    scenario: PathBuf,
    /// The kinds of fault to add, comma-separated: deletePod, killContainer, failProbe,
    /// nodeDown, drain, rolloutRestart.
    #[arg(long, default_value = kubesim::explore::FaultKind::DEFAULT)]
    faults: String,
    /// At most this many faults in one timeline (each has at least one).
    #[arg(long, default_value_t = 3)]
    max_faults: usize,
    /// Candidate timelines to try.
    #[arg(long, default_value_t = 100)]
    runs: u32,
    /// Seeds the draw of the timelines; every run keeps the scenario's own seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs the shrinking may take at most.
    #[arg(long, default_value_t = 500)]
    max_shrink_runs: u32,
    /// Where to write the minimal timeline as a scenario (default:
    /// output/<scenario name>-minimal.yaml). Replaces only a file kubesim explore wrote.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs at once (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    #[command(flatten)]
    validate: Validate,
    /// Explore a scenario whose estimated work is beyond about an hour of one core.
    #[arg(long)]
    force: bool,
}

const EXPLORE_MARKER: &str = "# Made by: kubesim explore";

fn explore(a: &ExploreArgs) -> ExitCode {
    use kubesim::explore::{self as ex, Explored, FaultKind};
    use kubesim::report::expect as verdicts;
    let kinds = match FaultKind::parse_list(&a.faults) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: --faults: {e}");
            return ExitCode::from(2);
        }
    };
    if a.max_faults == 0 || a.runs == 0 {
        eprintln!("error: --max-faults and --runs must be at least 1");
        return ExitCode::from(2);
    }
    // Loaded, checked against the work estimate and applied once (its API errors located).
    let Some((loaded, _)) = prepare(&a.scenario, None, a.validate.validate, Some(a.force)) else {
        return ExitCode::from(2);
    };
    if loaded.scenario.expect.is_empty() {
        eprintln!(
            "error: {}: no expectations (spec.expect): explore searches for faults that break them",
            a.scenario.display()
        );
        return ExitCode::from(2);
    }
    let base = &loaded.scenario;
    let targets = ex::Targets::of(base);
    for k in &kinds {
        if let Some(why) = targets.missing(*k) {
            eprintln!("note: --faults {k}: left out: {why}");
        }
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let search = ex::Search {
        kinds: kinds.clone(),
        max_faults: a.max_faults,
        runs: a.runs,
        seed: a.seed,
        max_shrink_runs: a.max_shrink_runs,
        jobs,
    };
    let used: Vec<&str> = kinds
        .iter()
        .filter(|k| targets.missing(**k).is_none())
        .map(|k| k.key())
        .collect();
    println!(
        "explore {} ({}): {} runs of 1 to {} faults ({}), search seed {}",
        a.scenario.display(),
        base.name,
        a.runs,
        a.max_faults,
        used.join(", "),
        a.seed
    );
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(u64::from(a.runs));
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} explore {pos}/{len} runs [{bar:40}] {elapsed_precise}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = ex::explore(base, &search, &|done, _| bar.set_position(u64::from(done)));
    bar.finish_and_clear();
    let found = match result {
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return ExitCode::from(2);
        }
        Ok(Explored::FailsAlready(v)) => {
            println!("the scenario breaks an expectation with no fault added:");
            print!("{}", verdicts::render_verdicts(&v));
            println!("nothing to search: fix the scenario or its expectations first");
            return ExitCode::from(1);
        }
        Ok(Explored::NotFound { runs, stopped }) => {
            println!("no timeline broke an expectation in {runs} runs");
            if stopped > 0 {
                println!("({stopped} runs stopped early with too many requests held at once and were not judged)");
            }
            return ExitCode::SUCCESS;
        }
        Ok(Explored::Found(f)) => f,
    };
    let name = &base.expect[found.expectation].name;
    println!(
        "run {} broke {name:?}; shrunk in {} runs from {} faults to {}:",
        found.run,
        found.shrink_runs,
        found.drawn.len(),
        found.faults.len()
    );
    for f in &found.faults {
        println!("  {}", f.describe(&targets));
    }
    println!("  {}", verdicts::line(&found.verdict));
    println!("        {}", found.verdict.evidence);
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(format!("{}-minimal.yaml", base.name)));
    match write_explored(a, &out, base, &targets, &found) {
        Ok(()) => {
            println!(
                "wrote {}; replay it: kubesim run {}",
                out.display(),
                out.display()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes the minimal timeline `found` as a scenario at `out` (the scenario file with the
/// faults after its own events), then loads and runs what was written to check that it breaks
/// the same expectation.
fn write_explored(
    a: &ExploreArgs,
    out: &Path,
    base: &kubesim::sim::Scenario,
    targets: &kubesim::explore::Targets,
    found: &kubesim::explore::Found,
) -> Result<(), String> {
    use std::fmt::Write as _;
    if let Some(why) = not_written_by(out, EXPLORE_MARKER, "kubesim explore") {
        return Err(format!(
            "--out {}: {why}; kubesim explore replaces only a file it wrote: choose another name or move the file away; nothing was written",
            out.display()
        ));
    }
    let text = scenario::files::read_text(&a.scenario)
        .map_err(|e| format!("{}: {e}", a.scenario.display()))?;
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let scenario_dir = match a.scenario.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (from_abs, to_abs) = (
        std::fs::canonicalize(&scenario_dir).map_err(|e| e.to_string())?,
        std::fs::canonicalize(&out_dir).map_err(|e| e.to_string())?,
    );
    // A file the scenario names relative to its folder, named relative to the new file's.
    let rebase = |f: &str| -> String {
        let p = Path::new(f);
        if p.is_absolute() || from_abs == to_abs {
            return f.to_string();
        }
        let target = from_abs.join(p);
        pathdiff::diff_paths(&target, &to_abs).map_or_else(
            || target.display().to_string(),
            |r| {
                r.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            },
        )
    };
    let k = found.expectation;
    let mut header = format!(
        "{EXPLORE_MARKER} {} --faults {} --max-faults {} --runs {} --seed {}\n",
        a.scenario.display(),
        a.faults,
        a.max_faults,
        a.runs,
        a.seed
    );
    let _ = writeln!(
        header,
        "# The minimal fault timeline found (the last entries of spec.events), run {} of the search,\n# breaks the expectation {:?}:",
        found.run, base.expect[k].name
    );
    for line in kubesim::report::expect::line(&found.verdict)
        .lines()
        .chain(found.verdict.evidence.lines())
    {
        let _ = writeln!(header, "#   {line}");
    }
    header.push_str("# The faults:\n");
    for f in &found.faults {
        let _ = writeln!(header, "#   {}", f.describe(targets));
    }
    let _ = writeln!(header, "# Replay: kubesim run {}", out.display());
    let events: Vec<_> = found
        .faults
        .iter()
        .flat_map(|f| f.to_yaml(targets))
        .collect();
    let name = format!("{}-minimal", base.name);
    let written = scenario::rewrite::with_events(&text, &events, &name, &header, &rebase)
        .map_err(|e| format!("{}: {e}", a.scenario.display()))?;
    // The check: what was written loads and breaks the same expectation.
    let file_name = out.display().to_string();
    let reloaded = scenario::load_str(&written, &file_name, &out_dir).map_err(|d| {
        format!(
            "the scenario explore made does not load (a bug in kubesim explore):\n{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let verdicts = kubesim::explore::judge_run(reloaded.scenario)?;
    if verdicts.get(k).is_none_or(|v| v.pass) {
        return Err(format!(
            "the scenario explore made does not break {:?} when run (a bug in kubesim explore); nothing was written",
            base.expect[k].name
        ));
    }
    let file = out.file_name().map_or_else(
        || "explored.yaml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = out.with_file_name(format!(".{file}.tmp-{}", std::process::id()));
    std::fs::write(&temp, written)
        .and_then(|()| std::fs::rename(&temp, out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("cannot write {}: {e}", out.display())
        })
}

fn reach(a: &ReachArgs) -> ExitCode {
    let Some((loaded, mut sim)) = prepare(&a.scenario, None, a.validate.validate, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(a.at.as_deref(), &loaded, &sim) else {
        return ExitCode::from(2);
    };
    if !within_estimate(&loaded, Some(t - kubesim::engine::SimTime::ZERO), a.force) {
        return ExitCode::from(2);
    }
    sim.run_until(t);
    let rows = sim.reach(t, a.pods);
    if a.csv {
        print!("{}", kubesim::report::reach_csv(&rows));
    } else {
        println!("# reach at {t} (simulated)");
        print!("{}", kubesim::report::reach_grid(&rows));
    }
    // The process ends here: freeing a large cluster object by object is wasted time.
    std::mem::forget((loaded, sim));
    ExitCode::SUCCESS
}
