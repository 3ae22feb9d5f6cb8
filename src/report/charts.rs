//! The charts: `distribution` (requests per replica against the fair share) and `timeline`
//! (requests per pod over simulated time, failures in red, the scenario's events marked);
//! `latency` and `load` are drawn in [`super::load_charts`].
//!
//! Each chart is drawn by one function generic over plotters' `DrawingBackend`, so the PNG and
//! the SVG come from the same code. Text uses the embedded DejaVu Sans (see [`super::fonts`]),
//! so nothing depends on the fonts installed on the machine. Labels are measured before they are
//! placed: long pod names are shortened to what tells them apart, and marker labels that would
//! overlap are moved to another row.

use super::fonts::{ensure_registered, font, style};
use super::format::{count_tenths, percent, thousands};
use super::spread::Spread;
use crate::sim::outcome::Outcome;
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// A chart's size in pixels (the SVG uses the same units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

pub const DISTRIBUTION_SIZE: ChartSize = ChartSize {
    width: 1200,
    height: 700,
};
pub const TIMELINE_SIZE: ChartSize = ChartSize {
    width: 1200,
    height: 700,
};

/// A chart could not be drawn: plotters' error, as text (its type depends on the backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(pub String);

pub(super) fn de(e: impl std::fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

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
        let root = BitMapBackend::new(path, (size.width, size.height)).into_drawing_area();
        self.draw(&root, outcome)?;
        root.present().map_err(de)
    }

    /// Draws the chart into an SVG file at `path`.
    pub fn write_svg(self, outcome: &Outcome, path: &Path) -> Result<(), DrawError> {
        let size = self.size();
        let root = SVGBackend::new(path, (size.width, size.height)).into_drawing_area();
        self.draw(&root, outcome)?;
        root.present().map_err(de)
    }
}

pub(super) const TEXT: RGBColor = RGBColor(33, 33, 33);
pub(super) const MUTED: RGBColor = RGBColor(105, 105, 105);
pub(super) const GRID: RGBColor = RGBColor(228, 228, 228);
pub(super) const AXIS: RGBColor = RGBColor(150, 150, 150);
const BAR: RGBColor = RGBColor(66, 126, 186);
const FAIR: RGBColor = RGBColor(204, 102, 0);
pub(super) const FAILED: RGBColor = RGBColor(214, 39, 40);
pub(super) const MARKER: RGBColor = RGBColor(120, 120, 120);

/// Line colours for pods: Tableau 10 without its red (red means failed requests), then darker
/// companions, cycling after that.
pub(super) const PALETTE: [RGBColor; 14] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
    RGBColor(99, 121, 57),
    RGBColor(140, 109, 49),
    RGBColor(123, 65, 115),
    RGBColor(49, 130, 189),
];

/// Height of the title band at the top of every chart.
pub(super) const HEADER: u32 = 78;

/// Draws `text` at `pos`, in the area's own pixel coordinates.
pub(super) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    pos: (i32, i32),
    style: &TextStyle,
) -> Result<(), DrawError> {
    area.draw_text(text, style, pos).map_err(de)
}

pub(super) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
) -> u32 {
    area.estimate_text_size(text, &font(size, false).into())
        .map_or(0, |(w, _)| w)
}

/// `text` elided in the middle (`http-dep…x7k2p`) until it is at most `max` pixels wide.
pub(super) fn elide<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    max: u32,
) -> String {
    if text_width(area, text, size) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 2 {
        keep -= 1;
        let head = keep / 2;
        let tail = keep - head;
        let candidate: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(&chars[chars.len() - tail..])
            .collect();
        if text_width(area, &candidate, size) <= max {
            return candidate;
        }
    }
    "…".to_string()
}

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

/// Draws the title and the subtitle in the header band.
pub(super) fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<(), DrawError> {
    let (w, _) = root.dim_in_pixel();
    let cx = w as i32 / 2;
    text(
        root,
        title,
        (cx, 16),
        &style(22.0, true, TEXT, HPos::Center, VPos::Top),
    )?;
    text(
        root,
        subtitle,
        (cx, 50),
        &style(15.0, false, MUTED, HPos::Center, VPos::Top),
    )
}

/// A chart's mesh with the axes every chart shares: descriptions in 15 px, tick labels muted in
/// 13 px, a light grid at the labelled ticks only, grey axis lines. The caller adds the ticks,
/// their labels and the descriptions, then draws it.
pub(super) fn styled_mesh<'a, 'b, X, Y, XT, YT, DB>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> MeshStyle<'a, 'b, X, Y, DB>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    let mut mesh = chart.configure_mesh();
    mesh.axis_desc_style(font(15.0, false).color(&TEXT))
        .label_style(font(13.0, false).color(&MUTED))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS);
    mesh
}

/// The note centred at `at` (root pixels) on a plot with nothing to draw.
pub(super) fn empty_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    note: &str,
    at: (i32, i32),
) -> Result<(), DrawError> {
    text(
        root,
        note,
        at,
        &style(18.0, false, MUTED, HPos::Center, VPos::Center),
    )
}

/// The dashed grey line that marks one of the scenario's events, from `a` to `b` (root pixels).
pub(super) fn event_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: (i32, i32),
    b: (i32, i32),
) -> Result<(), DrawError> {
    root.draw(&DashedPathElement::new(
        [a, b],
        5,
        4,
        MARKER.stroke_width(1),
    ))
    .map_err(de)
}

/// A legend's heading, its top left corner at `(left, y)` (root pixels).
pub(super) fn legend_heading<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    heading: &str,
    (left, y): (i32, i32),
) -> Result<(), DrawError> {
    text(
        root,
        heading,
        (left, y),
        &style(14.0, true, TEXT, HPos::Left, VPos::Top),
    )
}

/// One line of a legend, its top left corner at `(left, y)` (root pixels): a swatch of the
/// series' colour (none for `None`) and `label` in `size` px beside it. Returns the x where
/// the label starts, for a line of detail under it.
pub(super) fn legend_entry<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (left, y): (i32, i32),
    colour: Option<RGBColor>,
    label: &str,
    size: f64,
) -> Result<i32, DrawError> {
    if let Some(colour) = colour {
        root.draw(&PathElement::new(
            [(left, y + 8), (left + 28, y + 8)],
            colour.stroke_width(3),
        ))
        .map_err(de)?;
    }
    text(
        root,
        label,
        (left + 36, y + 8),
        &style(size, false, TEXT, HPos::Left, VPos::Center),
    )?;
    Ok(left + 36)
}

/// Pixel position of a chart coordinate inside `root`'s own coordinates.
pub(super) fn to_root<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    backend: (i32, i32),
) -> (i32, i32) {
    let (bx, by) = root.get_base_pixel();
    (backend.0 - bx, backend.1 - by)
}

/// `distribution`: one bar per pod that served requests, its count and share on top, the pod's
/// name, node and IP below, and a dashed line at the fair share.
pub fn draw_distribution<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let spread = Spread::of(outcome);
    let n = spread.pods.len();
    let fair = spread.fair_share();

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
    let names: Vec<&str> = spread.pods.iter().map(|p| p.name.as_str()).collect();
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
        n,
        if n == 1 { "" } else { "s" },
        thousands(connections),
        if connections == 1 { "" } else { "s" }
    );
    if n > 0 {
        subtitle.push_str(&format!(", fair share {}", count_tenths(fair)));
    }
    if shortened {
        subtitle.push_str(&format!(", pods named {prefix}…"));
    }
    header(
        root,
        &format!("{}: requests per pod", outcome.scenario),
        &subtitle,
    )?;

    let (_, body) = root.split_vertically(HEADER);
    let top = spread.pods.iter().map(|p| p.served).max().unwrap_or(0) as f64;
    let y_max = if n == 0 { 1.0 } else { top.max(fair) * 1.16 };
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
        .draw_series(spread.pods.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            Rectangle::new([(x + 0.2, 0.0), (x + 0.8, p.served as f64)], BAR.filled())
        }))
        .map_err(de)?;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, fair), (n as f64, fair)],
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
    for (i, p) in spread.pods.iter().enumerate() {
        let x = i as f64 + 0.5;
        let (cx, bar_top) = to_root(root, chart.backend_coord(&(x, p.served as f64)));
        // A white card behind the figures keeps them readable where the fair-share line passes.
        let card = text_width(root, &thousands(p.served), 14.0).max(44) as i32 / 2 + 4;
        let card = Rectangle::new(
            [(cx - card, bar_top - 36), (cx + card, bar_top - 1)],
            WHITE.filled(),
        );
        root.draw(&card).map_err(de)?;
        text(
            root,
            &percent(p.served as f64, spread.total as f64),
            (cx, bar_top - 4),
            &share_style,
        )?;
        text(root, &thousands(p.served), (cx, bar_top - 20), &count_style)?;

        let name = if shortened {
            &p.name[prefix.len()..]
        } else {
            p.name.as_str()
        };
        let lines = [
            (elide(root, name, label_size, max_label), &name_style, 8),
            (
                elide(root, p.node.as_deref().unwrap_or("<none>"), 12.0, max_label),
                &detail_style,
                28,
            ),
            (
                p.ip.map_or_else(|| "<none>".to_string(), |ip| ip.to_string()),
                &detail_style,
                46,
            ),
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
/// small type), fractional ticks of a nearly empty axis with one decimal.
fn count_label(v: f64) -> String {
    if (v - libm::round(v)).abs() < 1e-9 {
        format!("{}", libm::round(v) as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Ticks on the time axis: whole seconds print without decimals, others with up to three.
pub(super) fn seconds_label(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A marker's label placed above the plot: its row (0 is nearest the plot) and pixel span.
struct PlacedMarker {
    x: i32,
    row: usize,
    left: i32,
    right: i32,
    anchor: HPos,
    label: String,
}

/// Places marker labels (`(x, label, width)`, sorted by `x`) in rows above the plot so that no
/// two labels overlap and no marker's line crosses another's label. Labels sit right of their
/// line, or left of it near the right edge. Markers are placed from the right, so a marker just
/// left of another goes a row up and its line passes left of the other's label. Beyond
/// `max_rows` the last row is reused.
fn place_markers(
    markers: &[(i32, String, u32)],
    plot: (i32, i32),
    max_rows: usize,
) -> Vec<PlacedMarker> {
    const GAP: i32 = 6;
    let mut placed: Vec<PlacedMarker> = Vec::new();
    for (x, label, width) in markers.iter().rev() {
        let (x, width) = (*x, *width as i32);
        let (left, right, anchor) = if x + 4 + width <= plot.1 {
            (x, x + 4 + width, HPos::Left)
        } else {
            (x - 4 - width, x, HPos::Right)
        };
        let fits = |row: usize| {
            placed.iter().all(|m| {
                let labels_clear = m.row != row || right + GAP < m.left || m.right + GAP < left;
                // A higher label's line runs down through the rows below it, and this one's
                // line runs down through the rows below `row`.
                let line_clear_of_mine = !(m.row > row && m.x >= left - GAP && m.x <= right + GAP);
                let my_line_clear = !(row > m.row && x >= m.left - GAP && x <= m.right + GAP);
                labels_clear && line_clear_of_mine && my_line_clear
            })
        };
        let row = (0..max_rows)
            .find(|&r| fits(r))
            .unwrap_or(max_rows.saturating_sub(1));
        placed.push(PlacedMarker {
            x,
            row,
            left,
            right,
            anchor,
            label: label.clone(),
        });
    }
    placed.reverse();
    placed
}

/// `timeline`: served requests per pod per time bucket, one coloured line per pod with a legend,
/// failed requests in red, and a dashed vertical line at each of the scenario's events.
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

    let mut subtitle = format!(
        "seed {}, {} served, {} failed",
        outcome.seed,
        thousands(outcome.requests.served),
        thousands(outcome.requests.failed),
    );
    if !t.bucket.is_zero() {
        subtitle.push_str(&format!(", counted per {} bucket", t.bucket));
    }
    header(
        root,
        &format!("{}: requests per pod over time", outcome.scenario),
        &subtitle,
    )?;

    let (_, body) = root.split_vertically(HEADER);
    let legend_width = 270u32;
    let (w, _) = body.dim_in_pixel();
    let (plot_area, legend_area) = body.split_horizontally(w.saturating_sub(legend_width));

    // Lay the marker labels out before building the chart: their rows set the top margin.
    let (margin_left, y_label_area, margin_right) = (16i32, 66i32, 12i32);
    let (pw, _) = plot_area.dim_in_pixel();
    let plot_left = margin_left + y_label_area;
    let plot_right = pw as i32 - margin_right;
    let px = |secs: f64| plot_left + (secs / x_max * (plot_right - plot_left) as f64) as i32;
    let mut markers: Vec<(i32, String, u32)> = outcome
        .markers
        .iter()
        .map(|(at, label)| (px(at.as_secs_f64()), label.clone(), 0))
        .collect();
    markers.sort_by_key(|m| m.0);
    // Events at the same pixel share one label.
    let mut merged: Vec<(i32, String, u32)> = Vec::new();
    for (x, label, _) in markers {
        match merged.last_mut() {
            Some((last_x, last_label, _)) if (x - *last_x).abs() <= 2 => {
                last_label.push_str(", ");
                last_label.push_str(&label);
            }
            _ => merged.push((x, label, 0)),
        }
    }
    let markers: Vec<(i32, String, u32)> = merged
        .into_iter()
        .map(|(x, label, _)| {
            let label = elide(root, &label, 12.0, 300);
            let width = text_width(root, &label, 12.0);
            (x, label, width)
        })
        .collect();
    let placed = place_markers(&markers, (plot_left, plot_right), 4);
    let rows = placed.iter().map(|m| m.row + 1).max().unwrap_or(0) as u32;
    const ROW: u32 = 18;

    let y_top = (0..buckets)
        .flat_map(|b| spread.pods.iter().map(move |p| (b, p.index)))
        .map(|(b, i)| served_at(b, i))
        .chain((0..buckets).map(failed_at))
        .max()
        .unwrap_or(0);
    let y_max = (y_top as f64 * 1.1).max(5.0);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(margin_left as u32)
        .margin_right(margin_right as u32)
        .margin_top(14 + rows * ROW)
        .margin_bottom(8)
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
        .y_desc(if t.bucket.is_zero() {
            "requests".to_string()
        } else {
            format!("requests per {}", t.bucket)
        })
        .draw()
        .map_err(de)?;

    // One line per pod, from the bucket it was created in until the end, or, once deleted,
    // until the later of its deletion and its last served request.
    if spread.pods.is_empty() && !any_failed {
        let (cx, cy) = to_root(root, chart.backend_coord(&(x_max / 2.0, y_max / 2.0)));
        empty_note(root, "no requests in the timeline", (cx, cy))?;
    }
    let mid = |b: usize| (b as f64 + 0.5) * bucket_s;
    let bucket_of = |ns: u64| ((ns / bucket_ns) as usize).min(buckets.saturating_sub(1));
    for (k, p) in spread.pods.iter().enumerate() {
        let pod = &outcome.pods[p.index];
        let first = bucket_of(pod.created.as_nanos());
        let last = match pod.deleted {
            None => buckets.saturating_sub(1),
            Some(at) => {
                let last_served = (0..buckets)
                    .rev()
                    .find(|&b| served_at(b, p.index) > 0)
                    .unwrap_or(0);
                bucket_of(at.as_nanos()).max(last_served)
            }
        };
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> = (first..=last.max(first))
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

    // Markers: a dashed line from the label's row down to the x axis, the label beside it.
    let (_, plot_top) = to_root(root, chart.backend_coord(&(0.0, y_max)));
    let (_, plot_bottom) = to_root(root, chart.backend_coord(&(0.0, 0.0)));
    let (base_x, _) = plot_area.get_base_pixel();
    let (root_x, _) = root.get_base_pixel();
    let shift = base_x - root_x;
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

    draw_legend(&legend_area, root, &spread, any_failed, plot_top)
}

/// The legend beside the timeline: a swatch and the name of each pod, then failed requests.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    spread: &Spread,
    any_failed: bool,
    plot_top: i32,
) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let (ax, ay) = to_root(root, area.get_base_pixel());
    let left = ax + 8;
    let mut y = plot_top.max(ay + 8);
    legend_heading(root, "pods", (left, y))?;
    y += 26;
    const STEP: i32 = 22;
    let bottom = ay + h as i32 - 60;
    let name_width = w.saturating_sub(8 + 36 + 12);
    let mut entries: Vec<(String, Option<RGBColor>)> = spread
        .pods
        .iter()
        .enumerate()
        .map(|(k, p)| (p.name.clone(), Some(PALETTE[k % PALETTE.len()])))
        .collect();
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
        entries.push((format!("+{} more pods", spread.pods.len() - shown), None));
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
    use crate::report::fixture::{crowded_outcome, sample_outcome};

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
    }

    #[test]
    fn seconds_labels() {
        assert_eq!(seconds_label(10.0), "10");
        assert_eq!(seconds_label(2.5), "2.5");
        assert_eq!(seconds_label(0.25), "0.25");
    }

    /// The distribution chart prints the fair share as the table does, in its subtitle and
    /// beside its line: `1,997.5` for 7,990 requests over 4 pods, `1,998` for 7,992.
    #[test]
    fn the_fair_share_reads_the_same_in_subtitle_and_label() {
        let svg = |outcome: &Outcome| {
            let mut out = String::new();
            {
                let size = Chart::Distribution.size();
                let root = SVGBackend::with_string(&mut out, (size.width, size.height))
                    .into_drawing_area();
                draw_distribution(&root, outcome).unwrap();
                root.present().unwrap();
            }
            out
        };
        let half = svg(&sample_outcome());
        assert_eq!(half.matches("1,997.5").count(), 2, "{half}");
        assert!(
            !half.contains("1,998") && !half.contains("1997.5"),
            "{half}"
        );
        let mut whole = sample_outcome();
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
}
