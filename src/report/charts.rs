//! The charts: `distribution` (requests per replica against the fair share) and `timeline`
//! (requests per pod over simulated time, failures in red, the scenario's events marked);
//! `latency` and `load` are drawn in [`super::load_charts`].
//!
//! Each chart is drawn by one function generic over plotters' `DrawingBackend`, so the PNG and
//! the SVG come from the same code. Text uses the embedded DejaVu Sans (see [`super::fonts`]),
//! so nothing depends on the fonts installed on the machine. Labels are measured before they are
//! placed: long pod names are shortened to what tells them apart, and marker labels that would
//! overlap are moved to another row.

use super::chart_style::{
    de, draw_event_lane, elide, empty_note, event_line, event_tick, group_markers, header,
    header_note, legend_entry, legend_heading, place_markers, seconds_label, styled_mesh, text,
    text_width, to_root, ChartSize, DrawError, EVENT_LANE, FAILED, HEADER, MARKERS_DRAWN,
    MARKER_ROWS, MUTED, NOTE_H, PALETTE, TEXT,
};
use super::fonts::{ensure_registered, style};
use super::format::{count_tenths, percent, thousands};
use super::limits::largest;
use super::spread::{ServingPod, Spread};
use crate::sim::outcome::Outcome;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

pub const DISTRIBUTION_SIZE: ChartSize = ChartSize {
    width: 1200,
    height: 700,
};
pub const TIMELINE_SIZE: ChartSize = ChartSize {
    width: 1200,
    height: 700,
};

/// The charts kubesim writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    Distribution,
    Timeline,
    Latency,
    Load,
}

impl Chart {
    pub const ALL: [Chart; 4] = [
        Chart::Distribution,
        Chart::Timeline,
        Chart::Latency,
        Chart::Load,
    ];

    /// The file name without extension: `distribution`, `timeline`.
    pub fn stem(self) -> &'static str {
        match self {
            Chart::Distribution => "distribution",
            Chart::Timeline => "timeline",
            Chart::Latency => "latency",
            Chart::Load => "load",
        }
    }

    pub fn size(self) -> ChartSize {
        match self {
            Chart::Distribution => DISTRIBUTION_SIZE,
            Chart::Timeline | Chart::Latency | Chart::Load => TIMELINE_SIZE,
        }
    }

    /// Draws the chart onto any backend's drawing area.
    pub fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        outcome: &Outcome,
    ) -> Result<(), DrawError> {
        match self {
            Chart::Distribution => draw_distribution(root, outcome),
            Chart::Timeline => draw_timeline(root, outcome),
            Chart::Latency => super::load_charts::draw_latency(root, outcome),
            Chart::Load => super::load_charts::draw_load(root, outcome),
        }
    }

    /// Draws the chart into a PNG file at `path`.
    pub fn write_png(self, outcome: &Outcome, path: &Path) -> Result<(), DrawError> {
        let size = self.size();
        let root = crate::report::fonts::Glyphs::raster(BitMapBackend::new(
            path,
            (size.width, size.height),
        ))
        .into_drawing_area();
        self.draw(&root, outcome)?;
        root.present().map_err(de)
    }

    /// Draws the chart into an SVG file at `path`.
    pub fn write_svg(self, outcome: &Outcome, path: &Path) -> Result<(), DrawError> {
        let size = self.size();
        let root =
            crate::report::fonts::Glyphs::vector(SVGBackend::new(path, (size.width, size.height)))
                .into_drawing_area();
        self.draw(&root, outcome)?;
        root.present().map_err(de)
    }
}

const BAR: RGBColor = RGBColor(66, 126, 186);
const FAIR: RGBColor = RGBColor(204, 102, 0);

/// The longest prefix the names share, cut after its last `-`, so the rest is whole words
/// (`http-deployment-5d9c7b9c4d-`); empty for fewer than two names.
fn common_dash_prefix(names: &[&str]) -> String {
    let Some((first, rest)) = names.split_first() else {
        return String::new();
    };
    if rest.is_empty() {
        return String::new();
    }
    let mut len = first.len();
    for name in rest {
        len = first
            .bytes()
            .zip(name.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    match first[..len].rfind('-') {
        Some(i) => first[..=i].to_string(),
        None => String::new(),
    }
}

/// Serving pods the distribution chart draws one bar each before it summarises.
pub(super) const DISTRIBUTION_PODS: usize = 12;
/// Pods drawn one bar each when the distribution chart summarises, beside one bar for the rest.
const DISTRIBUTION_PODS_SUMMARISED: usize = 10;
/// The bar that stands for many pods.
const OTHERS_BAR: RGBColor = RGBColor(168, 192, 218);

/// One bar of the distribution chart: a pod, or the pods that did not get a bar of their own.
struct Bar<'a> {
    /// The pod's name, or `None` for the others' bar.
    name: Option<&'a str>,
    /// The bar's height: the pod's requests, or the others' mean.
    height: f64,
    /// The figure on top and the share under it.
    count: String,
    share: String,
    /// The two lines under the name.
    details: [String; 2],
    /// The others' least and most requests, drawn as a whisker.
    range: Option<(u64, u64)>,
    /// The pod's fair share, or the others' mean fair share.
    fair: f64,
}

impl<'a> Bar<'a> {
    /// A pod's own bar, its share of `total` requests.
    fn pod(p: &'a ServingPod, total: u64) -> Bar<'a> {
        Bar {
            name: Some(p.name.as_str()),
            height: p.served as f64,
            count: thousands(p.served),
            share: percent(p.served as f64, total as f64),
            details: [
                p.node.clone().unwrap_or_else(|| "<none>".to_string()),
                p.ip.map_or_else(|| "<none>".to_string(), |ip| ip.to_string()),
            ],
            range: None,
            fair: p.fair,
        }
    }
}

/// `distribution`: one bar per pod that served requests, its count and share on top, the pod's
/// name, node and IP below, and a dashed line at the fair share. Beyond [`DISTRIBUTION_PODS`]
/// serving pods, the 10 that served the most get a bar each, most first, and the others one
/// pale bar: their mean, with a whisker from the least to the most any of them served, and
/// their share together.
pub fn draw_distribution<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let spread = Spread::of(outcome);
    let pods = spread.pods.len();
    let fair_range = spread.fair_range();
    let share = |served: f64| percent(served, spread.total as f64);
    let summarised = pods > DISTRIBUTION_PODS;
    let bars: Vec<Bar> = if summarised {
        let top = largest(&spread.pods, DISTRIBUTION_PODS_SUMMARISED, |p| p.served);
        let mut is_top = vec![false; pods];
        top.iter().for_each(|&i| is_top[i] = true);
        let rest: Vec<u64> = (0..pods)
            .filter(|&i| !is_top[i])
            .map(|i| spread.pods[i].served)
            .collect();
        let sum: u64 = rest.iter().sum();
        let (lo, hi) = (
            rest.iter().copied().min().unwrap_or(0),
            rest.iter().copied().max().unwrap_or(0),
        );
        let mean = sum as f64 / rest.len().max(1) as f64;
        let fair_mean = (0..pods)
            .filter(|&i| !is_top[i])
            .map(|i| spread.pods[i].fair)
            .sum::<f64>()
            / rest.len().max(1) as f64;
        let mut bars: Vec<Bar> = top
            .iter()
            .map(|&i| Bar::pod(&spread.pods[i], spread.total))
            .collect();
        bars.push(Bar {
            name: None,
            height: mean,
            count: count_tenths(mean),
            share: format!("{} in all", share(sum as f64)),
            details: [
                format!("{} pods", thousands(rest.len() as u64)),
                format!("{} to {}", thousands(lo), thousands(hi)),
            ],
            range: Some((lo, hi)),
            fair: fair_mean,
        });
        bars
    } else {
        spread
            .pods
            .iter()
            .map(|p| Bar::pod(p, spread.total))
            .collect()
    };
    let n = bars.len();

    // Pod labels: whole names when they fit under their bar, else what follows the shared
    // prefix (named in the subtitle).
    let (w, _) = root.dim_in_pixel();
    let (margin_left, y_label_area, margin_right) = (16u32, 66u32, 118u32);
    let plot_width = w.saturating_sub(margin_left + y_label_area + margin_right);
    let slot = if n == 0 {
        plot_width
    } else {
        plot_width / n as u32
    };
    let max_label = slot.saturating_sub(8);
    let names: Vec<&str> = bars.iter().filter_map(|b| b.name).collect();
    let prefix = common_dash_prefix(&names);
    let whole_fit = names
        .iter()
        .all(|name| text_width(root, name, 13.0) <= max_label);
    let (label_size, shortened) = if whole_fit || prefix.is_empty() {
        (13.0, false)
    } else {
        (14.0, true)
    };

    // kube-proxy balances connections, not requests: how many there were says how even the
    // spread can be.
    let connections: u64 = outcome.streams.iter().map(|s| s.connections).sum();
    let mut subtitle = format!(
        "seed {}, {}, {} requests served by {} pod{} ({} connection{} opened)",
        outcome.seed,
        outcome.proxy,
        thousands(spread.total),
        thousands(pods as u64),
        if pods == 1 { "" } else { "s" },
        thousands(connections),
        if connections == 1 { "" } else { "s" }
    );
    match fair_range {
        Some((lo, hi)) if count_tenths(lo) == count_tenths(hi) => {
            subtitle.push_str(&format!(", fair share {}", count_tenths(hi)));
        }
        Some((lo, hi)) => subtitle.push_str(&format!(
            ", fair share {} to {} (by time as an endpoint)",
            count_tenths(lo),
            count_tenths(hi)
        )),
        None => {}
    }
    if shortened {
        subtitle.push_str(&format!(", pods named {prefix}…"));
    }
    header(
        root,
        &format!("{}: requests per pod", outcome.scenario),
        &subtitle,
    )?;
    let mut header_h = HEADER;
    if summarised {
        header_note(
            root,
            &format!(
                "the {} busiest pods drawn, then one bar for the other {}: their mean, and a whisker from the least to the most one served",
                DISTRIBUTION_PODS_SUMMARISED,
                thousands((pods - DISTRIBUTION_PODS_SUMMARISED) as u64)
            ),
        )?;
        header_h += NOTE_H;
    }

    let (_, body) = root.split_vertically(header_h);
    let top = bars.iter().map(|b| b.height).fold(0.0, f64::max);
    let fair_top = bars.iter().map(|b| b.fair).fold(0.0, f64::max);
    let y_max = if n == 0 {
        1.0
    } else {
        top.max(fair_top) * 1.16
    };
    let mut chart = ChartBuilder::on(&body)
        .margin_left(margin_left)
        .margin_right(margin_right)
        .margin_top(12)
        .margin_bottom(8)
        .x_label_area_size(72)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(0f64..n.max(1) as f64, 0f64..y_max)
        .map_err(de)?;
    styled_mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&|v| count_label(*v))
        .y_desc("requests served")
        .draw()
        .map_err(de)?;

    if n == 0 {
        let (cx, cy) = to_root(root, chart.backend_coord(&(0.5, 0.5)));
        return empty_note(root, "no pod served any request", (cx, cy));
    }

    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            let colour = if b.name.is_some() { BAR } else { OTHERS_BAR };
            Rectangle::new([(x + 0.2, 0.0), (x + 0.8, b.height)], colour.filled())
        }))
        .map_err(de)?;
    for (i, b) in bars.iter().enumerate() {
        if let Some((lo, hi)) = b.range {
            let x = i as f64 + 0.5;
            let (lo, hi) = (lo as f64, hi as f64);
            for path in [
                vec![(x, lo), (x, hi)],
                vec![(x - 0.1, lo), (x + 0.1, lo)],
                vec![(x - 0.1, hi), (x + 0.1, hi)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        path,
                        TEXT.stroke_width(2),
                    )))
                    .map_err(de)?;
            }
        }
    }
    // The fair share: one level when every pod was an endpoint all along, else a step per bar.
    let fair_line: Vec<(f64, f64)> = if bars.iter().all(|b| b.fair == bars[0].fair) {
        vec![(0.0, bars[0].fair), (n as f64, bars[0].fair)]
    } else {
        bars.iter()
            .enumerate()
            .flat_map(|(i, b)| [(i as f64, b.fair), (i as f64 + 1.0, b.fair)])
            .collect()
    };
    let fair = bars[n - 1].fair;
    chart
        .draw_series(DashedLineSeries::new(
            fair_line,
            10,
            6,
            FAIR.stroke_width(2),
        ))
        .map_err(de)?;

    let count_style = style(14.0, true, TEXT, HPos::Center, VPos::Bottom);
    let share_style = style(12.0, false, MUTED, HPos::Center, VPos::Bottom);
    let name_style = style(label_size, false, TEXT, HPos::Center, VPos::Top);
    let detail_style = style(12.0, false, MUTED, HPos::Center, VPos::Top);
    let (_, plot_bottom) = to_root(root, chart.backend_coord(&(0.0, 0.0)));
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64;
        // The figures sit above the bar, or above the whisker's top for the others' bar.
        let above = b.range.map_or(b.height, |(_, hi)| hi as f64);
        let (cx, bar_top) = to_root(root, chart.backend_coord(&(x + 0.5, above)));
        // A white card behind the figures keeps them readable where the fair-share line passes.
        let card = text_width(root, &b.count, 14.0).max(44) as i32 / 2 + 4;
        let card = Rectangle::new(
            [(cx - card, bar_top - 36), (cx + card, bar_top - 1)],
            WHITE.filled(),
        );
        root.draw(&card).map_err(de)?;
        text(root, &b.share, (cx, bar_top - 4), &share_style)?;
        text(root, &b.count, (cx, bar_top - 20), &count_style)?;

        let name = match b.name {
            Some(name) if shortened => &name[prefix.len()..],
            Some(name) => name,
            None => "others",
        };
        let lines = [
            (elide(root, name, label_size, max_label), &name_style, 8),
            (
                elide(root, &b.details[0], 12.0, max_label),
                &detail_style,
                28,
            ),
            (b.details[1].clone(), &detail_style, 46),
        ];
        for (line, st, dy) in lines {
            text(root, &line, (cx, plot_bottom + dy), st)?;
        }
    }

    let (right, fair_y) = to_root(root, chart.backend_coord(&(n as f64, fair)));
    let fair_label = style(13.0, true, FAIR, HPos::Left, VPos::Bottom);
    text(root, "fair share", (right + 8, fair_y - 1), &fair_label)?;
    let fair_value = style(13.0, false, FAIR, HPos::Left, VPos::Top);
    text(
        root,
        &count_tenths(fair),
        (right + 8, fair_y + 3),
        &fair_value,
    )?;
    Ok(())
}

/// Ticks on a count axis: whole numbers without separators (a comma reads as a decimal point in
/// small type), fractional ticks of a nearly empty axis with one decimal. A tick that is whole
/// but for floating-point error (plotters steps to `49999.99999999`) prints whole: within a
/// millionth of itself.
fn count_label(v: f64) -> String {
    if (v - libm::round(v)).abs() < 1e-6 * v.abs().max(1.0) {
        format!("{}", libm::round(v) as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Serving pods beyond which a timeline whose pods come from several ReplicaSets (a rollout)
/// is drawn stacked, a band per ReplicaSet: nine pods replaced twice are 27 lines otherwise.
pub(super) const STACK_FROM_PODS: usize = 8;

/// The ReplicaSets of the serving pods, in the order their first pod was created: each one's
/// name (the owner and the `pod-template-hash` label, as the Deployment controller names it;
/// the owner alone, or `(no owner)`, without them) and its pods (indices into
/// [`Outcome::pods`]). Empty unless the timeline is to be stacked: more than
/// [`STACK_FROM_PODS`] serving pods, and from 2 to `PALETTE.len()` ReplicaSets.
fn replica_sets(outcome: &Outcome, spread: &Spread) -> Vec<(String, Vec<usize>)> {
    if spread.pods.len() <= STACK_FROM_PODS {
        return Vec::new();
    }
    let mut sets: Vec<(String, Vec<usize>)> = Vec::new();
    for p in &spread.pods {
        let pod = &outcome.pods[p.index];
        let owner = pod.owner.as_deref().unwrap_or("(no owner)");
        let name = match pod.labels.get("pod-template-hash") {
            Some(hash) => format!("{owner}-{hash}"),
            None => owner.to_string(),
        };
        match sets.iter().position(|(n, _)| *n == name) {
            Some(k) => sets[k].1.push(p.index),
            None if sets.len() < PALETTE.len() => sets.push((name, vec![p.index])),
            None => return Vec::new(),
        }
    }
    if sets.len() < 2 {
        return Vec::new();
    }
    sets
}

/// Serving pods the timeline draws one line each before it summarises: as many as the
/// palette has colours, so no two lines share one.
pub(super) const TIMELINE_PODS: usize = PALETTE.len();
/// Pods drawn one line each when the timeline summarises; the others are drawn as one line,
/// their mean.
const TIMELINE_PODS_SUMMARISED: usize = 12;
/// The colour of a line that stands for many pods.
const OTHERS: RGBColor = RGBColor(150, 150, 150);

/// `timeline`: served requests per pod per time bucket, one coloured line per pod with a legend,
/// failed requests in red, and a dashed vertical line at each of the scenario's events. Beyond
/// [`TIMELINE_PODS`] serving pods, the 12 that served the most get a line each and the others
/// one grey line, their mean per pod that existed in the bucket; beyond
/// [`MARKERS_DRAWN`](super::chart_style::MARKERS_DRAWN) events, the rest are ticks. A scenario
/// with a HorizontalPodAutoscaler gets its panel at the bottom ([`super::hpa_chart`]).
pub fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let spread = Spread::of(outcome);
    let t = &outcome.timeline;
    let buckets = t.served.len().max(t.failed.len());
    let bucket_ns = t.bucket.as_nanos().max(1);
    let bucket_s = bucket_ns as f64 / 1e9;
    let x_max = outcome
        .simulated
        .as_secs_f64()
        .max(buckets as f64 * bucket_s)
        .max(bucket_s);
    let served_at = |b: usize, pod: usize| {
        t.served
            .get(b)
            .and_then(|r| r.get(pod))
            .copied()
            .unwrap_or(0)
    };
    let failed_at = |b: usize| t.failed.get(b).copied().unwrap_or(0);
    let any_failed = (0..buckets).any(|b| failed_at(b) > 0);

    // A rollout's many pods are drawn stacked, a band per ReplicaSet (see `replica_sets`).
    let sets = replica_sets(outcome, &spread);
    let stacked = !sets.is_empty();
    // The pods drawn one by one (indices into `spread.pods`, in creation order), and the others.
    let summarised = !stacked && spread.pods.len() > TIMELINE_PODS;
    let drawn: Vec<usize> = if stacked {
        Vec::new()
    } else if summarised {
        let mut top = largest(&spread.pods, TIMELINE_PODS_SUMMARISED, |p| p.served);
        top.sort_unstable();
        top
    } else {
        (0..spread.pods.len()).collect()
    };
    // Each pod's buckets: from the one it was created in until the end, or, once deleted,
    // until the later of its deletion and its last served request.
    let bucket_of = |ns: u64| ((ns / bucket_ns) as usize).min(buckets.saturating_sub(1));
    let span = |index: usize| -> (usize, usize) {
        let pod = &outcome.pods[index];
        let first = bucket_of(pod.created.as_nanos());
        let last = match pod.deleted {
            None => buckets.saturating_sub(1),
            Some(at) => {
                let last_served = (0..buckets)
                    .rev()
                    .find(|&b| served_at(b, index) > 0)
                    .unwrap_or(0);
                bucket_of(at.as_nanos()).max(last_served)
            }
        };
        (first, last.max(first))
    };
    // The others' mean per bucket: their requests over how many of them existed in it.
    let others: Vec<Option<f64>> = if summarised {
        let mut is_drawn = vec![false; spread.pods.len()];
        drawn.iter().for_each(|&k| is_drawn[k] = true);
        let mut sum = vec![0u64; buckets];
        let mut alive = vec![0u64; buckets];
        for p in spread
            .pods
            .iter()
            .enumerate()
            .filter(|(k, _)| !is_drawn[*k])
            .map(|(_, p)| p)
        {
            let (first, last) = span(p.index);
            for b in first..=last.min(buckets.saturating_sub(1)) {
                sum[b] += served_at(b, p.index);
                alive[b] += 1;
            }
        }
        (0..buckets)
            .map(|b| (alive[b] > 0).then(|| sum[b] as f64 / alive[b] as f64))
            .collect()
    } else {
        Vec::new()
    };

    let mut subtitle = format!(
        "seed {}, {} served, {} failed",
        outcome.seed,
        thousands(outcome.requests.served),
        thousands(outcome.requests.failed),
    );
    if !t.bucket.is_zero() {
        subtitle.push_str(&format!(", counted per {} bucket", t.bucket));
    }

    // Each ReplicaSet's requests per bucket, and the running sums (the bands' tops).
    let stack: Vec<Vec<f64>> = sets
        .iter()
        .scan(vec![0f64; buckets], |below, (_, members)| {
            for (b, sum) in below.iter_mut().enumerate() {
                *sum += members.iter().map(|&i| served_at(b, i)).sum::<u64>() as f64;
            }
            Some(below.clone())
        })
        .collect();

    // What a summarised timeline leaves out, in a third header line.
    let mut notes: Vec<String> = Vec::new();
    if stacked {
        notes.push(format!(
            "{} pods of {} ReplicaSets: a band per ReplicaSet, its pods' requests stacked",
            spread.pods.len(),
            sets.len()
        ));
    }
    if summarised {
        notes.push(format!(
            "the {} busiest pods drawn, the other {} as one grey line: their mean per pod",
            drawn.len(),
            thousands((spread.pods.len() - drawn.len()) as u64)
        ));
    }
    if outcome.markers.len() > MARKERS_DRAWN {
        notes.push(String::new()); // the events' note, once they are grouped below
    }
    let header_h = HEADER + if notes.is_empty() { 0 } else { NOTE_H };
    let (_, body) = root.split_vertically(header_h);
    // With an HPA, its panel takes the bottom of the body (see `hpa_chart`).
    let hpa = super::hpa_chart::panel_hpa(outcome);
    let (body, hpa_area) = match hpa {
        Some(_) => {
            let (_, h) = body.dim_in_pixel();
            let (top, bottom) = body.split_vertically(h.saturating_sub(super::hpa_chart::PANEL_H));
            (top, Some(bottom))
        }
        None => (body, None),
    };
    let legend_width = 270u32;
    let (w, _) = body.dim_in_pixel();
    let (plot_area, legend_area) = body.split_horizontally(w.saturating_sub(legend_width));

    // Lay the marker labels out before building the chart: their rows set the top margin.
    // With an HPA panel, the plot leaves room on its right for the panel's metric axis.
    let margin_right = 12i32 + hpa.map_or(0, |_| super::hpa_chart::RIGHT_AXIS as i32);
    let (margin_left, y_label_area) = (16i32, 66i32);
    let (pw, _) = plot_area.dim_in_pixel();
    let plot_left = margin_left + y_label_area;
    let plot_right = pw as i32 - margin_right;
    let px = |secs: f64| plot_left + (secs / x_max * (plot_right - plot_left) as f64) as i32;
    let measure = |label: &str| {
        let label = elide(root, label, 12.0, 300);
        let width = text_width(root, &label, 12.0);
        (label, width)
    };
    let groups = group_markers(&outcome.markers, px, (plot_left, plot_right), measure);
    let markers: Vec<(i32, String, u32)> = groups
        .lines
        .iter()
        .map(|(x, label)| {
            let (label, width) = measure(label);
            (*x, label, width)
        })
        .collect();
    let placed = place_markers(&markers, (plot_left, plot_right), MARKER_ROWS);
    let rows = placed.iter().map(|m| m.row + 1).max().unwrap_or(0) as u32;
    const ROW: u32 = 18;
    header(
        root,
        &format!("{}: requests per pod over time", outcome.scenario),
        &subtitle,
    )?;
    if let Some(note) = groups.note("labelled") {
        *notes.last_mut().expect("a place for the events' note") = note;
    }
    if !notes.is_empty() {
        header_note(root, &notes.join("; "))?;
    }

    let drawn_index: Vec<usize> = drawn.iter().map(|&k| spread.pods[k].index).collect();
    let y_top = (0..buckets)
        .flat_map(|b| drawn_index.iter().map(move |&i| (b, i)))
        .map(|(b, i)| served_at(b, i))
        .chain((0..buckets).map(failed_at))
        .max()
        .unwrap_or(0);
    let y_top = others.iter().flatten().fold(y_top as f64, |a, &b| a.max(b));
    let y_top = stack
        .last()
        .into_iter()
        .flatten()
        .fold(y_top, |a, &b| a.max(b));
    let y_max = (y_top * 1.1).max(5.0);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(margin_left as u32)
        .margin_right(margin_right as u32)
        .margin_top(14 + rows * ROW)
        .margin_bottom(8 + EVENT_LANE)
        .x_label_area_size(52)
        .y_label_area_size(y_label_area as u32)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(de)?;
    styled_mesh(&mut chart)
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&|v| seconds_label(*v))
        .y_label_formatter(&|v| count_label(*v))
        .x_desc("simulated time (s)")
        .y_desc(match (t.bucket.is_zero(), stacked) {
            (true, _) => "requests".to_string(),
            (false, false) => format!("requests per {}", t.bucket),
            (false, true) => format!("requests per {}, stacked", t.bucket),
        })
        .draw()
        .map_err(de)?;

    if spread.pods.is_empty() && !any_failed {
        let (cx, cy) = to_root(root, chart.backend_coord(&(x_max / 2.0, y_max / 2.0)));
        empty_note(root, "no requests in the timeline", (cx, cy))?;
    }
    let mid = |b: usize| (b as f64 + 0.5) * bucket_s;
    if summarised {
        // Under the pods' own lines; a gap where none of the others existed.
        let mut segment: Vec<(f64, f64)> = Vec::new();
        let mut segments = Vec::new();
        for (b, v) in others.iter().enumerate() {
            match v {
                Some(v) => segment.push((mid(b), *v)),
                None => segments.push(std::mem::take(&mut segment)),
            }
        }
        segments.push(segment);
        for s in segments.into_iter().filter(|s| !s.is_empty()) {
            chart
                .draw_series(LineSeries::new(s, OTHERS.stroke_width(2)))
                .map_err(de)?;
        }
    }
    for (k, top) in stack.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let zero = vec![0f64; buckets];
        let below = if k == 0 { &zero } else { &stack[k - 1] };
        let mut band: Vec<(f64, f64)> = (0..buckets).map(|b| (mid(b), top[b])).collect();
        band.extend((0..buckets).rev().map(|b| (mid(b), below[b])));
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.45).filled(),
            )))
            .map_err(de)?;
        // Its top edge where it is a band at all (elsewhere the edge is the band below's).
        let mut edge: Vec<(f64, f64)> = Vec::new();
        for b in 0..buckets {
            let open = top[b] > below[b]
                || (b > 0 && top[b - 1] > below[b - 1])
                || (b + 1 < buckets && top[b + 1] > below[b + 1]);
            if open {
                edge.push((mid(b), top[b]));
            } else if !edge.is_empty() {
                chart
                    .draw_series(LineSeries::new(
                        std::mem::take(&mut edge),
                        colour.stroke_width(2),
                    ))
                    .map_err(de)?;
            }
        }
        chart
            .draw_series(LineSeries::new(edge, colour.stroke_width(2)))
            .map_err(de)?;
    }
    for (k, &i) in drawn.iter().enumerate() {
        let p = &spread.pods[i];
        let (first, last) = span(p.index);
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> = (first..=last)
            .filter(|&b| b < buckets)
            .map(|b| (mid(b), served_at(b, p.index) as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(de)?;
    }
    if any_failed {
        let points: Vec<(f64, f64)> = (0..buckets)
            .map(|b| (mid(b), failed_at(b) as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(points, FAILED.stroke_width(2)))
            .map_err(de)?;
    }

    // Markers: a dashed line from the label's row down to the x axis, the label beside it;
    // beyond the labelled ones, a tick at the top of the plot.
    let (_, plot_top) = to_root(root, chart.backend_coord(&(0.0, y_max)));
    let (_, plot_bottom) = to_root(root, chart.backend_coord(&(0.0, 0.0)));
    let (base_x, _) = plot_area.get_base_pixel();
    let (root_x, _) = root.get_base_pixel();
    let shift = base_x - root_x;
    for &x in &groups.ticks {
        event_tick(root, x + shift, plot_top)?;
    }
    for m in &placed {
        let row_bottom = plot_top - 4 - (m.row as i32) * ROW as i32;
        let x = m.x + shift;
        event_line(root, (x, row_bottom - 12), (x, plot_bottom))?;
        let label_x = match m.anchor {
            HPos::Right => x - 4,
            _ => x + 4,
        };
        text(
            root,
            &m.label,
            (label_x, row_bottom),
            &style(12.0, false, TEXT, m.anchor, VPos::Bottom),
        )?;
    }

    draw_event_lane(
        root,
        &outcome.events,
        |secs| px(secs) + shift,
        (plot_left + shift, plot_right + shift),
        plot_bottom + 52 + 2,
    )?;
    if let (Some((hpa, others)), Some(area)) = (hpa, &hpa_area) {
        super::hpa_chart::draw_hpa_panel(
            root,
            area,
            hpa,
            others,
            x_max,
            (margin_left, y_label_area, 12),
            legend_width,
        )?;
    }

    let mut entries: Vec<(String, Option<RGBColor>)> = drawn
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            (
                spread.pods[i].name.clone(),
                Some(PALETTE[k % PALETTE.len()]),
            )
        })
        .collect();
    if stacked {
        entries = sets
            .iter()
            .enumerate()
            .map(|(k, (name, members))| {
                (
                    format!("{name} ({} pods)", members.len()),
                    Some(PALETTE[k % PALETTE.len()]),
                )
            })
            .collect();
    }
    let heading = if stacked {
        "ReplicaSets (stacked)".to_string()
    } else if summarised {
        entries.push((
            format!(
                "mean of the other {}",
                thousands((spread.pods.len() - drawn.len()) as u64)
            ),
            Some(OTHERS),
        ));
        format!(
            "pods: the {} busiest of {}",
            drawn.len(),
            thousands(spread.pods.len() as u64)
        )
    } else {
        "pods".to_string()
    };
    draw_legend(&legend_area, root, &heading, entries, any_failed, plot_top)
}

/// The legend beside the timeline: a swatch and the name of each pod drawn, then failed
/// requests.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    heading: &str,
    mut entries: Vec<(String, Option<RGBColor>)>,
    any_failed: bool,
    plot_top: i32,
) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let (ax, ay) = to_root(root, area.get_base_pixel());
    let left = ax + 8;
    let mut y = plot_top.max(ay + 8);
    legend_heading(root, heading, (left, y))?;
    y += 26;
    const STEP: i32 = 22;
    let bottom = ay + h as i32 - 60;
    let name_width = w.saturating_sub(8 + 36 + 12);
    let pods = entries.len();
    if any_failed {
        entries.push(("failed requests".to_string(), Some(FAILED)));
    }
    let room = ((bottom - y) / STEP).max(1) as usize;
    let hidden = entries.len().saturating_sub(room);
    if hidden > 0 {
        // Keep the failed entry visible; say how many pods did not fit.
        let failed = any_failed.then(|| entries.pop()).flatten();
        entries.truncate(room.saturating_sub(1 + usize::from(failed.is_some())));
        let shown = entries.len();
        entries.extend(failed);
        entries.push((format!("+{} more pods", pods - shown), None));
    }
    for (label, colour) in entries {
        let label = elide(root, &label, 12.0, name_width);
        legend_entry(root, (left, y), colour, &label, 12.0)?;
        y += STEP;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimDuration, SimTime};
    use crate::report::fixture::{
        crowded_outcome, large_outcome, picture_dir, png_size, render, sample_outcome,
        svg_elements, Scale, AT_SCALE,
    };

    #[test]
    fn prefixes_are_cut_at_a_dash() {
        assert_eq!(
            common_dash_prefix(&[
                "http-deployment-5d9c7b9c4d-x7k2p",
                "http-deployment-5d9c7b9c4d-q9zrt"
            ]),
            "http-deployment-5d9c7b9c4d-"
        );
        assert_eq!(common_dash_prefix(&["web-1", "api-2"]), "");
        assert_eq!(common_dash_prefix(&["solo"]), "");
    }

    #[test]
    fn markers_do_not_overlap() {
        let placed = place_markers(
            &[
                (100, "a".into(), 80),
                (120, "b".into(), 80),
                (300, "c".into(), 50),
            ],
            (50, 1000),
            4,
        );
        assert_eq!(placed.iter().map(|m| m.row).collect::<Vec<_>>(), [1, 0, 0]);
    }

    #[test]
    fn count_labels() {
        assert_eq!(count_label(3000.0), "3000");
        assert_eq!(count_label(0.5), "0.5");
        // plotters' steps accumulate error: a whole tick must not print as `50000.0`.
        assert_eq!(count_label(49_999.999_999_99), "50000");
        assert_eq!(count_label(50_000.000_000_1), "50000");
        assert_eq!(count_label(12.5), "12.5");
    }

    #[test]
    fn seconds_labels() {
        assert_eq!(seconds_label(10.0), "10");
        assert_eq!(seconds_label(2.5), "2.5");
        assert_eq!(seconds_label(0.25), "0.25");
    }

    /// The distribution chart prints the fair share as the table does, in its subtitle and
    /// beside its line: `1,997.5` for 7,990 requests over 4 pods, `1,998` for 7,992.
    fn timeline_svg(outcome: &Outcome) -> String {
        let mut out = String::new();
        {
            let size = Chart::Timeline.size();
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut out,
                (size.width, size.height),
            ))
            .into_drawing_area();
            draw_timeline(&root, outcome).unwrap();
            root.present().unwrap();
        }
        out
    }

    /// Ten serving pods of one ReplicaSet are ten lines; the same pods from three ReplicaSets
    /// (a rollout) are three stacked bands with the ReplicaSets in the legend.
    #[test]
    fn a_rollout_is_stacked_by_replica_set() {
        let mut o = crowded_outcome();
        for p in &mut o.pods {
            p.labels
                .insert("pod-template-hash".to_string(), "5d9c7b9c4d".to_string());
        }
        let one = timeline_svg(&o);
        assert!(!one.contains("stacked"), "one ReplicaSet: lines");
        assert!(one.contains("\npods\n"), "a legend of pods");
        for (k, p) in o.pods.iter_mut().enumerate() {
            let hash = ["5d9c7b9c4d", "6f7d8e9a1b", "7a8b9c0d1e"][k * 3 / 10];
            p.labels
                .insert("pod-template-hash".to_string(), hash.to_string());
        }
        assert_eq!(replica_sets(&o, &Spread::of(&o)).len(), 3);
        let three = timeline_svg(&o);
        assert!(three.contains("ReplicaSets (stacked)"), "{three}");
        assert!(three.contains("http-deployment-6f7d8e9a1b (3 pods)"));
        assert!(three.contains("http-deployment-7a8b9c0d1e (3 pods)"));
        assert_eq!(
            three.matches("<polygon").count(),
            3,
            "a band per ReplicaSet"
        );
        assert!(!three.contains("\npods\n"), "no legend of pods: {three}");
        // Few pods stay lines whatever their ReplicaSets.
        o.pods.truncate(STACK_FROM_PODS);
        for row in &mut o.timeline.served {
            row.truncate(STACK_FROM_PODS);
        }
        assert!(replica_sets(&o, &Spread::of(&o)).is_empty());
    }

    /// A scenario with an HPA gets its panel under the timeline (replicas as steps, the metric
    /// against its target); one without gets none.
    #[test]
    fn the_timeline_has_an_hpa_panel_only_with_an_hpa() {
        use crate::sim::outcome::{HpaOutcome, HpaSync, HpaTarget};
        let mut o = crowded_outcome();
        let plain = timeline_svg(&o);
        assert!(!plain.contains("desired replicas"));
        let sync = |s: u64, current, desired, metric| HpaSync {
            at: SimTime::ZERO + SimDuration::from_secs(s),
            current,
            desired,
            metric,
        };
        o.hpas.push(HpaOutcome {
            name: "web".into(),
            namespace: "default".into(),
            reference: "StatefulSet/web".into(),
            targets: vec![HpaTarget {
                name: "cpu".into(),
                kind: "Utilization".into(),
                target: 50,
                current: Some(48),
            }],
            min_replicas: 2,
            max_replicas: 10,
            replicas: 4,
            created: SimTime::ZERO,
            conditions: Vec::new(),
            history: vec![
                sync(15, 2, 2, None),
                sync(30, 2, 4, Some(95)),
                sync(45, 4, 4, Some(48)),
            ],
        });
        let with = timeline_svg(&o);
        for label in [
            "HorizontalPodAutoscaler web (StatefulSet/web, 2-10 replicas): cpu utilization against its 50% target",
            "desired replicas",
            "current replicas",
            "cpu utilization (right axis)",
            "target 50%",
            "replicas",
        ] {
            assert!(with.contains(label), "{label}");
        }
        // The requests plot above is still there, with its legend.
        assert!(with.contains("requests per pod over time"));
        // An HPA that never synced draws nothing.
        o.hpas[0].history.clear();
        assert_eq!(timeline_svg(&o), plain);
    }

    /// The cluster's own events are in the timeline and the load chart, a Warning in red with
    /// its reason and object.
    #[test]
    fn cluster_events_are_drawn_on_the_time_charts() {
        let mut o = crowded_outcome();
        o.events.push(crate::model::events::ClusterEvent {
            at: SimTime::ZERO + SimDuration::from_secs(20),
            type_: crate::model::events::EventType::Warning,
            reason: "BackOff".to_string(),
            object: "pod/http-deployment-5d9c7b9c4d-q9zrt".to_string(),
            message: "Back-off restarting failed container".to_string(),
        });
        let svg = timeline_svg(&o);
        assert!(svg.contains("cluster events"));
        // Elided in the middle to fit (`BackOff http-dep…-q9zrt`).
        assert!(svg.contains("BackOff http"), "{svg}");
        let mut load = String::new();
        {
            let size = Chart::Load.size();
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut load,
                (size.width, size.height),
            ))
            .into_drawing_area();
            super::super::load_charts::draw_load(&root, &o).unwrap();
            root.present().unwrap();
        }
        assert!(load.contains("BackOff http"));
    }

    #[test]
    fn the_fair_share_reads_the_same_in_subtitle_and_label() {
        let svg = |outcome: &Outcome| {
            let mut out = String::new();
            {
                let size = Chart::Distribution.size();
                let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                    &mut out,
                    (size.width, size.height),
                ))
                .into_drawing_area();
                draw_distribution(&root, outcome).unwrap();
                root.present().unwrap();
            }
            out
        };
        // Without a timeline every pod's fair share is the mean, one level.
        let uniform = || {
            let mut o = sample_outcome();
            o.timeline.served.clear();
            o
        };
        let half = svg(&uniform());
        assert_eq!(half.matches("1,997.5").count(), 2, "{half}");
        assert!(
            !half.contains("1,998") && !half.contains("1997.5"),
            "{half}"
        );
        let mut whole = uniform();
        whole.pods[1].served += 2;
        let whole = svg(&whole);
        assert_eq!(whole.matches("\n1,998\n").count(), 1, "{whole}");
        assert!(whole.contains("fair share 1,998"), "{whole}");
        assert!(!whole.contains("1998.0"), "{whole}");
    }

    /// Renders both charts, PNG and SVG, for the sample outcome; `KUBESIM_CHART_DIR` keeps them
    /// somewhere to look at.
    #[test]
    fn charts_render_to_png_and_svg() {
        let dir = std::env::var_os("KUBESIM_CHART_DIR").map_or_else(
            || std::env::temp_dir().join(format!("kubesim-charts-{}", std::process::id())),
            std::path::PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let mut idle = sample_outcome();
        idle.pods.iter_mut().for_each(|p| p.served = 0);
        idle.timeline = Default::default();
        idle.markers.clear();
        let cases = [
            ("", sample_outcome()),
            ("crowded-", crowded_outcome()),
            ("idle-", idle),
        ];
        for (prefix, outcome) in cases {
            for chart in Chart::ALL {
                let png = dir.join(format!("{prefix}{}.png", chart.stem()));
                chart.write_png(&outcome, &png).unwrap();
                let bytes = std::fs::read(&png).unwrap();
                assert!(
                    bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    "{} is not a PNG",
                    png.display()
                );
                let svg = dir.join(format!("{prefix}{}.svg", chart.stem()));
                chart.write_svg(&outcome, &svg).unwrap();
                assert!(std::fs::read_to_string(&svg)
                    .unwrap()
                    .contains("seed-tutorial"));
            }
        }
        if std::env::var_os("KUBESIM_CHART_DIR").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Draws `chart` for `outcome` as PNG (kept in `dir`) and SVG.
    fn draw_both(chart: Chart, outcome: &Outcome, dir: &std::path::Path) -> (Vec<u8>, String) {
        render(
            chart.size(),
            |r| chart.draw(r, outcome),
            |r| chart.draw(r, outcome),
            &dir.join(format!("{}-{}.png", outcome.scenario, chart.stem())),
        )
    }

    /// 12,000 pods and 8,000 events: the distribution and the timeline keep their size, draw
    /// the busiest pods and the rest as one bar or one line, say so with the totals, and draw
    /// the same number of elements at twice the pods and events.
    #[test]
    fn distribution_and_timeline_summarise_at_scale() {
        let (dir, remove) = picture_dir("charts-at-scale");
        let outcome = large_outcome(AT_SCALE);
        let mut bigger = large_outcome(Scale {
            pods: 24_000,
            events: 16_000,
            ..AT_SCALE
        });
        bigger.scenario = "at-twice-the-scale".to_string();
        for chart in [Chart::Distribution, Chart::Timeline] {
            let (png, svg) = draw_both(chart, &outcome, &dir);
            let size = chart.size();
            assert_eq!(png_size(&png), (size.width, size.height));
            assert!(
                png.len() < 300_000,
                "{} PNG: {} bytes",
                chart.stem(),
                png.len()
            );
            assert!(
                svg.len() < 300_000,
                "{} SVG: {} bytes",
                chart.stem(),
                svg.len()
            );
            let (_, svg_big) = draw_both(chart, &bigger, &dir);
            assert_eq!(
                svg_elements(&svg),
                svg_elements(&svg_big),
                "{}: the drawing grows with the pods or events",
                chart.stem()
            );
            assert!(svg_elements(&svg) < 1500, "{}", chart.stem());
            match chart {
                Chart::Distribution => {
                    // 10,286 pods served; the 10 busiest get bars, the rest one.
                    assert!(svg.contains("served by 10,286 pods"));
                    assert!(svg
                        .contains("the 10 busiest pods drawn, then one bar for the other 10,276"));
                    assert!(svg.contains("\n10,276 pods\n") && svg.contains("\nothers\n"));
                    assert_eq!(
                        svg.matches("checkout-frontend").count(),
                        1,
                        "only in the subtitle"
                    );
                }
                _ => {
                    assert!(svg.contains("pods: the 12 busiest of 10,286"));
                    assert!(svg.contains("mean of the other 10,274"));
                    assert!(
                        svg.contains(
                            "8,000 events: 12 labelled, the others as ticks along the top"
                        ),
                        "{svg}"
                    );
                }
            }
        }
        if remove {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
