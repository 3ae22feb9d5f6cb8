//! Tables, `summary.json`, CSV files and charts: everything a run shows and writes.
//!
//! The report layer renders an [`Outcome`](crate::sim::Outcome) and nothing else. It knows
//! kubectl's table layout, the output files' formats (DESIGN.md's Output section is their
//! contract) and how to draw charts with an embedded font; it does not know how the figures were
//! made, so it never reads the scenario, the cluster or the event queue, and it adds no figures
//! of its own beyond shares and the fair share. It holds no wall-clock time: the same outcome renders to the same
//! text and the same `summary.json`, byte for byte.
//!
//! - [`render_run`]: the terminal report (`kubectl get nodes/pods/svc/events`-style tables and
//!   the spread of requests per pod).
//! - [`summary_json`] (its serde types in [`summary`]), [`requests_by_pod_csv`], [`timeline_csv`], [`events_log`]: the files.
//! - [`Chart`] ([`draw_distribution`], [`draw_timeline`], [`draw_latency`], [`draw_load`]): the
//!   charts, as PNG, SVG or onto any plotters backend.
//! - [`topology_graph`] ([`topology_dot`], [`draw_topology`]): the cluster at the end as a
//!   `petgraph` graph of nodes, pods, Services and endpoints, as DOT text and as a picture of the
//!   three networks.
//! - [`html::report_html`]: `report.html`, the run in one self-contained, bilingual page with a
//!   time slider (the three networks, `kubectl get` tables, requests per pod, traced requests).
//! - [`get::get_table`]: `kubesim get pods|svc|endpoints|endpointslices|events` at an instant,
//!   from a [`Snapshot`](crate::sim::snapshot::Snapshot), with the run's table code.
//! - [`trace_brief`]: `kubesim trace --brief`, one line per hop.
//! - [`diff`]: `kubesim diff`, two runs side by side, in the terminal and as `diff.html`.
//! - [`write_outputs`]: all of the above into an output folder, atomically.
//! - [`sweep`]: a capacity sweep's `sweep.csv`, `sweep.json`, heatmap and p99 charts, and the
//!   shard files `kubesim merge` joins; [`SweepChart`] draws the charts.

mod chart_style;
mod charts;
mod csv_out;
pub mod diff;
pub mod expect;
#[cfg(test)]
mod fixture;
mod fonts;
mod format;
pub mod get;
mod hpa_chart;
pub mod html;
mod limits;
mod load_charts;
mod output;
mod reach;
mod spread;
pub mod summary;
pub mod sweep;
mod sweep_charts;
mod tables;
mod topology;
mod trace_brief;

pub use chart_style::{ChartSize, DrawError};
pub use charts::{draw_distribution, draw_timeline, Chart, DISTRIBUTION_SIZE, TIMELINE_SIZE};
pub use csv_out::{requests_by_pod_csv, timeline_csv};
pub use format::{human_duration, instant};
pub use limits::{Rows, EVENT_ROWS, TABLE_ROWS};
pub use load_charts::{cdf_points, draw_latency, draw_load};
pub use output::{
    check_output, events_log, remove_unfinished, write_outputs, ReportError, LEGACY_FILES,
    MARKER_FILE, OUTPUT_FILES,
};
pub use reach::{reach_csv, reach_grid};
pub use spread::{ServingPod, Spread};
pub use summary::{summary_json, Summary};
pub use sweep_charts::{charts_for, SweepChart};
pub use tables::{
    events_table, exists_at_end, nodes_table, pods_table, pods_table_at, ports_column, render_run,
    requests_summary, selector_column, services_table, services_table_at, services_table_with,
    spread_table, traffic_table,
};
pub use topology::{
    draw_topology, topology_dot, topology_graph, topology_size, write_topology_pictures,
    write_topology_png, write_topology_svg, TopoEdge, TopoNode,
};
pub use trace_brief::trace_brief;
