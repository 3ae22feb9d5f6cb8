//! The look every chart shares: sizes, the drawing error, colours and the pods' palette, the
//! title band, axes, legends, text measured with the embedded font, and the scenario's events
//! drawn as markers. The run's charts ([`super::charts`], [`super::load_charts`]), the sweep's
//! ([`super::sweep_charts`]) and the topology picture draw with these, so they look alike; this
//! module draws no chart of its own.

use super::fonts::{font, style};
use crate::engine::SimTime;
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
