//! kube-proxy balances connections, not requests.

use crate::util::*;

/// The seed objects with `clients` clients, reusing connections or not.
fn seed_with_clients(clients: u32, reuse: bool) -> String {
    let text = scenario_text("seed-tutorial.yaml");
    let stream = format!(
        "      clients: {clients}\n      connections: {{reuse: {reuse}}}\n      rate: 100/s\n"
    );
    text.replace("      clients: 50\n", "")
        .replace("      rate: 1000/s\n", &stream)
}

#[test]
fn kept_alive_connections_land_lumpily() {
    let o = run(&load_text(&seed_with_clients(4, true)));
    let counts: Vec<u64> = o.pods.iter().map(|p| p.served).collect();
    assert!(counts.iter().sum::<u64>() > 6_000);
    // Four clients, each mostly on one kept-alive connection pinned to one pod: a few
    // connections in all, and a spread far from even.
    assert!(
        o.streams[0].connections <= 4 * 6,
        "{} connections",
        o.streams[0].connections
    );
    // Uniformity is rejected by a wide margin (ten times the alpha = 0.001 critical value).
    let chi2 = chi_square_uniform(&counts);
    assert!(
        chi2 > 10.0 * CHI2_CRITICAL_0_001[1],
        "kept-alive spread looks even: {counts:?} (chi-square {chi2})"
    );
}

#[test]
fn a_connection_per_request_spreads_evenly() {
    let o = run(&load_text(&seed_with_clients(4, false)));
    let counts = served_counts(&o);
    assert_eq!(o.streams[0].connections, o.streams[0].sent);
    let chi2 = chi_square_uniform(&counts);
    assert!(
        chi2 < CHI2_CRITICAL_0_001[1],
        "{counts:?} (chi-square {chi2})"
    );
}
