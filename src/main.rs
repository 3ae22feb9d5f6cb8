//! The `kubesim` command: arguments, output folders and exit codes; the library does the work.
//!
//! Exit codes: 0 success, 1 the run found what it was asked to check for, 2 bad input or usage.

use clap::{Parser, Subcommand};
use kubesim::scenario::{self, Diagnostic, Loaded};
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
    Run {
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
    },
    /// Print the rules kube-proxy programmed on a node at a simulated instant, as the real tool
    /// prints them (`iptables-save` for iptables mode, `nft list ruleset` for nftables mode,
    /// `ipvsadm -Ln` for IPVS mode).
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
    },
    /// Follow new connections hop by hop: the node they enter, each rule matched with its
    /// random draws, DNAT to a pod, the overlay hop, the SNAT source the pod sees.
    #[command(
        after_help = "Examples:\n  kubesim trace scenarios/seed-tutorial-3-nodes.yaml --to 192.168.0.24:30001 -n 3\n  kubesim trace scenarios/in-cluster-client.yaml --from <pod> --to http-svc:8080"
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
        /// How many new connections to follow.
        #[arg(short = 'n', long = "count", default_value_t = 1)]
        count: usize,
    },
    /// Validate a scenario without running it: YAML, the API server's validation, and the
    /// allocation of ClusterIPs and NodePorts with their conflicts.
    #[command(after_help = "Example:\n  kubesim check scenarios/seed-tutorial.yaml")]
    Check {
        /// The scenario file.
        scenario: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            json,
        } => run(&scenario, seed, out, json),
        Command::Check { scenario } => check(&scenario),
        Command::Rules {
            scenario,
            node,
            at,
            mode,
        } => rules(&scenario, node, at, mode),
        Command::Trace {
            scenario,
            to,
            from,
            at,
            count,
        } => trace(&scenario, &to, &from, at, count),
    }
}

/// Loads and validates; prints every problem. `None` means exit 2.
fn prepare(path: &Path, seed: Option<u64>) -> Option<(Loaded, Simulation)> {
    let mut loaded = match scenario::load(path) {
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

/// An API error with the file, line and column of the field it names.
fn locate(loaded: &Loaded, e: &ApiError, path: &Path) -> Diagnostic {
    let (file, line, col) = e
        .object
        .and_then(|i| loaded.sources.locate(i, &e.field))
        .unwrap_or_else(|| (path.display().to_string(), 1, 1));
    Diagnostic::error(&file, line, col, e.to_string())
}

fn run(path: &Path, seed: Option<u64>, out: Option<PathBuf>, json: bool) -> ExitCode {
    let Some((loaded, sim)) = prepare(path, seed) else {
        return ExitCode::from(2);
    };
    let outcome = sim.run();
    let dir = out.unwrap_or_else(|| Path::new("output").join(&loaded.scenario.name));
    if json {
        print!("{}", kubesim::report::summary_json(&outcome));
    } else {
        print!("{}", kubesim::report::render_run(&outcome));
    }
    match kubesim::report::write_outputs(&outcome, &dir) {
        Ok(files) => {
            if !json {
                println!("\nWrote {} files to {}/", files.len(), dir.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

fn check(path: &Path) -> ExitCode {
    let Some((loaded, sim)) = prepare(path, None) else {
        return ExitCode::from(2);
    };
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
        kubesim::report::services_table_at(&sim.service_outcomes(), Default::default())
    );
    ExitCode::SUCCESS
}

/// `--at` as an instant, or the end of the scenario; `None` (after printing why) if malformed.
fn parse_at(at: Option<&str>, sim: &Simulation) -> Option<kubesim::engine::SimTime> {
    match at.map(kubesim::engine::SimDuration::parse).transpose() {
        Ok(at) => Some(at.map_or(sim.end(), |d| kubesim::engine::SimTime::ZERO + d)),
        Err(e) => {
            eprintln!("error: --at: {e}");
            None
        }
    }
}

fn trace(path: &Path, to: &str, from: &str, at: Option<String>, count: usize) -> ExitCode {
    let Some((_, mut sim)) = prepare(path, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(at.as_deref(), &sim) else {
        return ExitCode::from(2);
    };
    sim.run_until(t);
    let from = match from {
        "external" => kubesim::sim::trace::TraceFrom::External,
        pod => kubesim::sim::trace::TraceFrom::Pod(pod.to_string()),
    };
    match sim.trace(&from, to, count) {
        Ok(text) => {
            println!("# trace at {t} (simulated)");
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn rules(path: &Path, node: Option<String>, at: Option<String>, mode: Option<String>) -> ExitCode {
    let Some((loaded, mut sim)) = prepare(path, None) else {
        return ExitCode::from(2);
    };
    let Some(t) = parse_at(at.as_deref(), &sim) else {
        return ExitCode::from(2);
    };
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
                let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
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
        "ipvs" => sim
            .ipvsadm(node_id)
            .expect("an IPVS-mode run has IPVS tables"),
        _ => sim.iptables_save(node_id),
    };
    let synced = synced.map_or("never".to_string(), |s| s.to_string());
    eprintln!(
        "# node {} at {t}: rules as kube-proxy last synced them (at {synced})",
        nodes[index].name
    );
    print!("{text}");
    ExitCode::SUCCESS
}
