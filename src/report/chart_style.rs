//! The look every chart shares: sizes, the drawing error, colours and the pods' palette, the
//! title band, axes, legends, text measured with the embedded font, and the scenario's events
//! drawn as markers. The run's charts ([`super::charts`], [`super::load_charts`]), the sweep's
//! ([`super::sweep_charts`]) and the topology picture draw with these, so they look alike; this
//! module draws no chart of its own.

use super::fonts::{font, style};
use crate::engine::SimTime;
use crate::model::events::{ClusterEvent, EventType};
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A chart's size in pixels (the SVG uses the same units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

/// A chart could not be drawn: plotters' error, as text (its type depends on the backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(pub String);

pub(super) fn de(e: impl std::fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

pub(super) const TEXT: RGBColor = RGBColor(33, 33, 33);
pub(super) const MUTED: RGBColor = RGBColor(105, 105, 105);
pub(super) const GRID: RGBColor = RGBColor(228, 228, 228);
pub(super) const AXIS: RGBColor = RGBColor(150, 150, 150);
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

/// Characters kept from each end of a text before it is elided: more than any chart's widest
/// label holds (300 px of 12 px text is under 100 characters).
const ELIDE_KEEP: usize = 160;

/// `text` elided in the middle (`http-dep…x7k2p`) until it is at most `max` pixels wide.
pub(super) fn elide<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    max: u32,
) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if chars.len() > 2 * ELIDE_KEEP {
        // No label this long fits a chart: only its ends can survive the eliding, so measure
        // those (the result is the same, and the cost bounded whatever the text).
        chars.drain(ELIDE_KEEP..chars.len() - ELIDE_KEEP);
    } else if text_width(area, text, size) <= max {
        return text.to_string();
    }
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

/// The height a [`header_note`] adds to the title band.
pub(super) const NOTE_H: u32 = 22;

/// A third line under the subtitle, saying what a summarised chart left out; the caller makes
/// the band [`NOTE_H`] taller.
pub(super) fn header_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    note: &str,
) -> Result<(), DrawError> {
    let (w, _) = root.dim_in_pixel();
    text(
        root,
        note,
        (w as i32 / 2, 50 + NOTE_H as i32),
        &style(14.0, false, MUTED, HPos::Center, VPos::Top),
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
pub(super) struct PlacedMarker {
    pub x: i32,
    pub row: usize,
    pub left: i32,
    pub right: i32,
    pub anchor: HPos,
    pub label: String,
}

/// Places marker labels (`(x, label, width)`, sorted by `x`) in rows above the plot so that no
/// two labels overlap and no marker's line crosses another's label. Labels sit right of their
/// line, or left of it near the right edge. Markers are placed from the right, so a marker just
/// left of another goes a row up and its line passes left of the other's label. Beyond
/// `max_rows` the last row is reused.
pub(super) fn place_markers(
    markers: &[(i32, String, u32)],
    plot: (i32, i32),
    max_rows: usize,
) -> Vec<PlacedMarker> {
    place(markers, plot, max_rows, false).unwrap_or_default()
}

/// [`place_markers`], or `None` when a label would need a row beyond `max_rows`.
fn try_place_markers(
    markers: &[(i32, String, u32)],
    plot: (i32, i32),
    max_rows: usize,
) -> Option<Vec<PlacedMarker>> {
    place(markers, plot, max_rows, true)
}

fn place(
    markers: &[(i32, String, u32)],
    plot: (i32, i32),
    max_rows: usize,
    strict: bool,
) -> Option<Vec<PlacedMarker>> {
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
        let row = match (0..max_rows).find(|&r| fits(r)) {
            Some(row) => row,
            None if strict => return None,
            None => max_rows.saturating_sub(1),
        };
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
    Some(placed)
}

/// Rows of marker labels above a plot.
pub(super) const MARKER_ROWS: usize = 4;

/// Events drawn one by one (each a dashed line, labelled in the timeline) before a chart
/// summarises them; beyond this many, the first this-many groups with distinct labels are
/// drawn so and the others as short ticks along the top of the plot, so that thousands of
/// events cost what a few hundred ticks cost.
pub(super) const MARKERS_DRAWN: usize = 12;

/// Markers closer than this many pixels are one group.
const MARKER_MERGE_PX: i32 = 2;

/// The scenario's events as a chart draws them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MarkerGroups {
    /// `(x, label)`, sorted by x: drawn as a dashed line (the timeline adds the label).
    pub lines: Vec<(i32, String)>,
    /// The x of every other group, drawn as a short tick: empty unless summarised.
    pub ticks: Vec<i32>,
    /// Events in all.
    pub events: usize,
}

impl MarkerGroups {
    /// Whether some events are drawn as ticks only.
    pub(super) fn summarised(&self) -> bool {
        self.events > MARKERS_DRAWN
    }

    /// `8,000 events: 12 labelled, the others as ticks along the top` for a header note, when
    /// summarised.
    pub(super) fn note(&self, what: &str) -> Option<String> {
        self.summarised().then(|| {
            format!(
                "{} events: {} {what}, the others as ticks along the top",
                super::format::thousands(self.events as u64),
                self.lines.len()
            )
        })
    }
}

/// Groups the events by pixel (`x_of` maps simulated seconds to an x in `plot`), markers within
/// 2 px of a group's first joining it. Up to [`MARKERS_DRAWN`] events each group is drawn, its
/// labels joined by `, `. Beyond, groups are taken in time order and one gets a line and a
/// label (`label (+k)` when k more events share it, as `measure` elides and measures it) when
/// its first label is new and the label fits the [`MARKER_ROWS`] rows beside those taken
/// before, up to [`MARKERS_DRAWN`]; every other group is a tick. Cost: a sort of the events, a
/// step per event, then at most one placement per group (a few hundred, whatever the events).
pub(super) fn group_markers(
    markers: &[(SimTime, String)],
    x_of: impl Fn(f64) -> i32,
    plot: (i32, i32),
    measure: impl Fn(&str) -> (String, u32),
) -> MarkerGroups {
    let mut at: Vec<(i32, &str)> = markers
        .iter()
        .map(|(t, label)| (x_of(t.as_secs_f64()), label.as_str()))
        .collect();
    at.sort_by_key(|m| m.0);
    if markers.len() <= MARKERS_DRAWN {
        let mut lines: Vec<(i32, String)> = Vec::new();
        for (x, label) in at {
            match lines.last_mut() {
                Some((last_x, last_label)) if (x - *last_x).abs() <= MARKER_MERGE_PX => {
                    last_label.push_str(", ");
                    last_label.push_str(label);
                }
                _ => lines.push((x, label.to_string())),
            }
        }
        return MarkerGroups {
            lines,
            ticks: Vec::new(),
            events: markers.len(),
        };
    }
    // (x of the group's first marker, its first label, how many events); a group spans at
    // most 2 px, so there are at most a third as many groups as pixels, whatever the events.
    let mut groups: Vec<(i32, &str, usize)> = Vec::new();
    for (x, label) in at {
        match groups.last_mut() {
            Some(g) if (x - g.0).abs() <= MARKER_MERGE_PX => g.2 += 1,
            _ => groups.push((x, label, 1)),
        }
    }
    let mut labelled: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut taken: Vec<(i32, String, u32)> = Vec::new();
    let mut ticks = Vec::new();
    for (x, label, count) in groups {
        if taken.len() < MARKERS_DRAWN && !labelled.contains(label) {
            let text = if count > 1 {
                format!("{label} (+{})", count - 1)
            } else {
                label.to_string()
            };
            let (text, width) = measure(&text);
            taken.push((x, text, width));
            if try_place_markers(&taken, plot, MARKER_ROWS).is_some() {
                labelled.insert(label);
                continue;
            }
            taken.pop();
        }
        ticks.push(x);
    }
    MarkerGroups {
        lines: taken.into_iter().map(|(x, text, _)| (x, text)).collect(),
        ticks,
        events: markers.len(),
    }
}

/// A short tick for an event drawn without a line, at `x` from `top` down (root pixels).
pub(super) fn event_tick<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x: i32,
    top: i32,
) -> Result<(), DrawError> {
    root.draw(&PathElement::new(
        [(x, top), (x, top + 8)],
        MARKER.stroke_width(1),
    ))
    .map_err(de)
}

/// Height of the lane of cluster events under a time chart's x axis: ticks, then two rows of
/// labels.
pub(super) const EVENT_LANE: u32 = 40;

/// Events closer than this many pixels share a tick (a Warning among them makes it red): at
/// most a tick per 3 px, whatever the events.
const LANE_TICK_PX: i32 = 3;

/// Events closer than this many pixels share a label.
const LANE_MERGE_PX: i32 = 8;

/// How much a cluster event deserves a label: a Warning first, then what changes the pods a
/// Service can send to (a node lost, a pod evicted, killed or restarting), then the rest.
fn lane_rank(e: &ClusterEvent) -> u8 {
    if e.type_ == EventType::Warning {
        return 0;
    }
    match e.reason.as_str() {
        "NodeNotReady"
        | "TaintManagerEviction"
        | "Evicted"
        | "Killing"
        | "BackOff"
        | "Unhealthy"
        | "FailedScheduling"
        | "NodeReady" => 1,
        "ScalingReplicaSet" => 2,
        "Scheduled" | "SuccessfulCreate" | "SuccessfulDelete" => 3,
        _ => 4,
    }
}

/// One labelled group of the events lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LaneLabel {
    pub x: i32,
    pub row: usize,
    pub text: String,
    pub warning: bool,
}

/// The cluster's own events along a time axis: `(x, warning)` of each tick (events within
/// [`LANE_TICK_PX`] share one; a Warning makes it red), and labels for groups of events within [`LANE_MERGE_PX`]: the
/// group's most telling event (see [`lane_rank`]), `Reason object (+k)`, placed most telling
/// first in two rows where they fit without overlap (the others stay ticks). `x_of` maps
/// seconds to pixels in `plot`; `measure` elides and measures a label. Cost: a step per event,
/// then a placement per group (at most a group per 8 px).
pub(super) fn lane_of_events(
    events: &[ClusterEvent],
    x_of: impl Fn(f64) -> i32,
    plot: (i32, i32),
    measure: impl Fn(&str) -> (String, u32),
) -> (Vec<(i32, bool)>, Vec<LaneLabel>) {
    let mut ticks: Vec<(i32, bool)> = Vec::new();
    // (first x, index of the most telling event, events in the group)
    let mut groups: Vec<(i32, usize, usize)> = Vec::new();
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].at);
    for i in order {
        let e = &events[i];
        let x = x_of(e.at.as_secs_f64()).clamp(plot.0, plot.1);
        let warning = e.type_ == EventType::Warning;
        match ticks.last_mut() {
            Some(t) if x - t.0 < LANE_TICK_PX => t.1 |= warning,
            _ => ticks.push((x, warning)),
        }
        match groups.last_mut() {
            Some(g) if x - g.0 <= LANE_MERGE_PX => {
                g.2 += 1;
                if lane_rank(e) < lane_rank(&events[g.1]) {
                    g.1 = i;
                }
            }
            _ => groups.push((x, i, 1)),
        }
    }
    let mut by_rank: Vec<&(i32, usize, usize)> = groups.iter().collect();
    by_rank.sort_by_key(|g| (lane_rank(&events[g.1]), g.0));
    let mut taken: Vec<(usize, i32, i32)> = Vec::new();
    let mut labels = Vec::new();
    const GAP: i32 = 8;
    for &&(x, i, count) in by_rank.iter().take(200) {
        let e = &events[i];
        let name = e
            .object
            .split_once('/')
            .map_or(e.object.as_str(), |(_, n)| n);
        let raw = if count > 1 {
            format!("{} {name} (+{})", e.reason, count - 1)
        } else {
            format!("{} {name}", e.reason)
        };
        let (text, width) = measure(&raw);
        let (left, right) = if x + width as i32 <= plot.1 {
            (x, x + width as i32)
        } else {
            (x - width as i32, x)
        };
        let row = (0..2).find(|&r| {
            taken
                .iter()
                .all(|&(tr, l, rt)| tr != r || right + GAP < l || rt + GAP < left)
        });
        if let Some(row) = row {
            taken.push((row, left, right));
            labels.push(LaneLabel {
                x: left,
                row,
                text,
                warning: e.type_ == EventType::Warning,
            });
        }
    }
    labels.sort_by_key(|l| (l.row, l.x));
    (ticks, labels)
}

/// Draws the lane of cluster events (see [`lane_of_events`]) with its top at `top` (root
/// pixels), its title right-aligned at `plot.0 - 8`: Warning ticks and labels in red.
pub(super) fn draw_event_lane<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    events: &[ClusterEvent],
    x_of: impl Fn(f64) -> i32,
    plot: (i32, i32),
    top: i32,
) -> Result<(), DrawError> {
    if events.is_empty() {
        return Ok(());
    }
    let measure = |label: &str| {
        let label = elide(root, label, 10.0, 220);
        let width = text_width(root, &label, 10.0);
        (label, width)
    };
    let (ticks, labels) = lane_of_events(events, x_of, plot, measure);
    text(
        root,
        "cluster events",
        (plot.0 - 8, top + 4),
        &style(10.0, false, MUTED, HPos::Right, VPos::Center),
    )?;
    root.draw(&PathElement::new(
        [(plot.0, top + 4), (plot.1, top + 4)],
        GRID.stroke_width(1),
    ))
    .map_err(de)?;
    for (x, warning) in ticks {
        let colour = if warning { FAILED } else { MUTED };
        root.draw(&PathElement::new(
            [(x, top), (x, top + 9)],
            colour.stroke_width(2),
        ))
        .map_err(de)?;
    }
    for l in labels {
        let colour = if l.warning { FAILED } else { TEXT };
        text(
            root,
            &l.text,
            (l.x, top + 12 + 13 * l.row as i32),
            &style(10.0, false, colour, HPos::Left, VPos::Top),
        )?;
    }
    Ok(())
}

/// Ticks for a logarithmic axis over `[lo, hi]` (both > 0), never fewer than two: the powers of
/// ten in it, else with their 2 and 5 multiples, else every 1..9 multiple, else `lo` and `hi`
/// rounded to two significant figures. plotters' own log ticks are the powers of ten alone, so
/// a range inside one decade (20 ms to 45 ms) had no number on its axis.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if !(lo > 0.0 && hi.is_finite()) {
        return Vec::new();
    }
    let first = libm::floor(libm::log10(lo)) as i32;
    let last = libm::ceil(libm::log10(hi)) as i32;
    for steps in [
        &[1.0][..],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let ticks: Vec<f64> = (first..=last)
            .flat_map(|e| steps.iter().map(move |m| m * libm::pow(10.0, f64::from(e))))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect();
        if ticks.len() >= 2 {
            return ticks;
        }
    }
    let round2 = |v: f64| {
        let e = libm::floor(libm::log10(v)) - 1.0;
        let p = libm::pow(10.0, e);
        libm::round(v / p) * p
    };
    let (a, b) = (round2(lo), round2(hi));
    if a < b {
        vec![a, b]
    } else {
        vec![lo, hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_axis_always_has_two_ticks_or_more() {
        assert_eq!(log_ticks(0.5, 2_000.0), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(15.0, 55.0), vec![20.0, 50.0]);
        assert_eq!(log_ticks(21.0, 29.0), vec![21.0, 29.0]);
        assert_eq!(log_ticks(21.3, 28.7), vec![21.0, 29.0]);
        let mut lo = 0.013;
        while lo < 50_000.0 {
            for f in [1.05, 1.3, 2.0, 7.0, 30.0] {
                let t = log_ticks(lo, lo * f);
                assert!(t.len() >= 2, "{lo}..{}: {t:?}", lo * f);
                assert!(t.windows(2).all(|w| w[0] < w[1]));
            }
            lo *= 1.7;
        }
    }

    fn ev(at_s: u64, warning: bool, reason: &str, object: &str) -> ClusterEvent {
        ClusterEvent {
            at: SimTime::from_nanos(at_s * 1_000_000_000),
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            object: object.to_string(),
            message: String::new(),
        }
    }

    #[test]
    fn the_event_lane_labels_the_telling_events_without_overlap() {
        let mut events: Vec<ClusterEvent> = (0..30)
            .map(|k| ev(0, false, "Scheduled", &format!("pod/web-{k}")))
            .collect();
        events.push(ev(50, false, "NodeNotReady", "node/node-3"));
        events.push(ev(51, true, "NodeNotReady", "pod/web-1"));
        events.push(ev(200, false, "TaintManagerEviction", "pod/web-1"));
        // 1 px a second over 400 s; every label 120 px wide.
        let measure = |s: &str| (s.to_string(), 120);
        let (ticks, labels) = lane_of_events(&events, |s| s as i32, (0, 400), measure);
        // 50 and 51 are one tick, red for the Warning.
        assert_eq!(ticks, vec![(0, false), (50, true), (200, false)]);
        // The Warning and its node's event are one group: the Warning's label wins it.
        let texts: Vec<&str> = labels.iter().map(|l| l.text.as_str()).collect();
        assert!(texts.contains(&"NodeNotReady web-1 (+1)"), "{texts:?}");
        assert!(labels.iter().any(|l| l.warning));
        // The eviction fits beside it in row 0; the 30 Scheduled (one group, with a count)
        // do not, and take row 1.
        assert!(texts.contains(&"TaintManagerEviction web-1"), "{texts:?}");
        assert!(texts.contains(&"Scheduled web-0 (+29)"), "{texts:?}");
        assert_eq!(labels.iter().map(|l| l.row).max(), Some(1));
        for a in &labels {
            for b in &labels {
                if a != b && a.row == b.row {
                    assert!(a.x + 120 < b.x || b.x + 120 < a.x, "{a:?} overlaps {b:?}");
                }
            }
        }
    }
}
