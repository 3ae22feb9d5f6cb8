//! A sweep's charts: `sweep_heatmap` (two axes: replicas up, the other axis across, each cell
//! coloured by its p99 on a log scale with a colour legend, and a thick line between cells
//! that meet the SLO and cells that do not) and `sweep_p99` (p99 against the other axis, a line
//! per replica count, the SLO's p99 bound dashed). Drawn for grids of one or two axes.
//!
//! Both have a fixed size whatever the grid. Axis values are labelled every k-th where labels
//! would overlap, cells too small for a figure or a border get neither, and the p99 chart draws
//! at most 12 lines (evenly spaced values, first and last included), saying so.

use super::chart_style::{
    de, header, header_note, log_ticks, styled_mesh, text, text_width, to_root, DrawError, AXIS,
    GRID, HEADER, MUTED, NOTE_H, PALETTE, TEXT,
};
use super::fonts::{ensure_registered, font, style};
use crate::sweep::slo::{Metric, Verdict};
use crate::sweep::{replicas_axis, Analysis, CellSummary, Plan};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::collections::BTreeMap;
use std::path::Path;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 760;

/// The sweep charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepChart {
    Heatmap,
    P99,
}

/// The axes with more than one value (a key set to one value is a constant of the sweep).
fn varying(plan: &Plan) -> Vec<usize> {
    (0..plan.axes.len())
        .filter(|&i| plan.axes[i].values.len() > 1)
        .collect()
}

/// The charts a plan gets: both for two varying axes, the line chart for one, none for more.
pub fn charts_for(plan: &Plan) -> Vec<SweepChart> {
    match varying(plan).len() {
        1 => vec![SweepChart::P99],
        2 => vec![SweepChart::Heatmap, SweepChart::P99],
        _ => Vec::new(),
    }
}

impl SweepChart {
    pub fn stem(self) -> &'static str {
        match self {
            SweepChart::Heatmap => "sweep_heatmap",
            SweepChart::P99 => "sweep_p99",
        }
    }

    /// Draws into a PNG (`png`) or SVG file.
    pub fn write(self, plan: &Plan, a: &Analysis, path: &Path, png: bool) -> Result<(), DrawError> {
        if png {
            let root =
                crate::report::fonts::Glyphs::raster(BitMapBackend::new(path, (WIDTH, HEIGHT)))
                    .into_drawing_area();
            self.draw(&root, plan, a)?;
            root.present().map_err(de)
        } else {
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::new(path, (WIDTH, HEIGHT)))
                .into_drawing_area();
            self.draw(&root, plan, a)?;
            root.present().map_err(de)
        }
    }

    pub fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        plan: &Plan,
        a: &Analysis,
    ) -> Result<(), DrawError> {
        ensure_registered();
        root.fill(&WHITE).map_err(de)?;
        match self {
            SweepChart::Heatmap => heatmap(root, plan, a),
            SweepChart::P99 => p99_lines(root, plan, a),
        }
    }
}

/// (the axis drawn upwards or as separate lines, the axis across), among the varying axes: the
/// replicas axis goes up when there is one. With one varying axis, `None` and that axis.
fn roles(plan: &Plan) -> (Option<usize>, usize) {
    let v = varying(plan);
    match v.as_slice() {
        [] => (None, 0),
        [x] => (None, *x),
        [a, b, ..] => match replicas_axis(plan) {
            Some(r) if r == *b => (Some(*b), *a),
            _ => (Some(*a), *b),
        },
    }
}

/// The p99 bound of the SLO, in ms, if it has one.
fn p99_bound(plan: &Plan) -> Option<f64> {
    plan.slo
        .as_ref()?
        .terms
        .iter()
        .find(|t| t.metric == Metric::P99)
        .map(|t| t.bound)
}

fn slo_text(plan: &Plan) -> String {
    match &plan.slo {
        Some(s) => format!("SLO {}", s.text),
        None => "no SLO".to_string(),
    }
}

fn reps_text(plan: &Plan) -> String {
    if plan.replications > 1 {
        format!("mean of {} replications", plan.replications)
    } else {
        "one run per cell".to_string()
    }
}

/// Pale yellow to dark red (ColorBrewer YlOrRd, 9 classes), interpolated; `t` in [0, 1].
fn heat(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (255, 255, 204),
        (255, 237, 160),
        (254, 217, 118),
        (254, 178, 76),
        (253, 141, 60),
        (252, 78, 42),
        (227, 26, 28),
        (189, 0, 38),
        (128, 0, 38),
    ];
    let t = t.clamp(0.0, 1.0) * 8.0;
    let i = (libm::floor(t) as usize).min(7);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| libm::round(f64::from(a) + (f64::from(b) - f64::from(a)) * f) as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A tick of the p99 axis: [`ms_label`] without trailing zeros (`20`, not `20.0`).
fn tick_ms(v: f64) -> String {
    let s = ms_label(v);
    match s.strip_suffix('k') {
        Some(n) if n.contains('.') => format!("{}k", n.trim_end_matches('0').trim_end_matches('.')),
        Some(_) => s,
        None if s.contains('.') => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        None => s,
    }
}

/// Milliseconds as a short label: `0.52`, `48.6`, `212`, `3.1k`.
fn ms_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The cells by their place in the chart: `(x value index, y value index)` to the first cell
/// with those values (`y` is 0 without a second axis). Built once, so drawing a grid of n cells
/// costs n lookups, not n scans of the cells.
struct Cells<'a>(BTreeMap<(usize, usize), &'a CellSummary>);

impl<'a> Cells<'a> {
    fn of(a: &'a Analysis, plan: &Plan, y: Option<usize>, x: usize) -> Cells<'a> {
        let index = |axis: usize| -> BTreeMap<&str, usize> {
            let mut at = BTreeMap::new();
            for (i, v) in plan.axes[axis].values.iter().enumerate() {
                at.entry(v.as_str()).or_insert(i);
            }
            at
        };
        let (xs, ys) = (index(x), y.map(index));
        let mut cells = BTreeMap::new();
        for c in &a.cells {
            let Some(&xi) = xs.get(c.values[x].as_str()) else {
                continue;
            };
            let yi = match (y, &ys) {
                (Some(ya), Some(ys)) => match ys.get(c.values[ya].as_str()) {
                    Some(&yi) => yi,
                    None => continue,
                },
                _ => 0,
            };
            cells.entry((xi, yi)).or_insert(c);
        }
        Cells(cells)
    }

    fn at(&self, xi: usize, yi: usize) -> Option<&'a CellSummary> {
        self.0.get(&(xi, yi)).copied()
    }
}

/// Every how many values an axis is labelled so that labels `widths` wide (pixels) do not
/// overlap in slots `slot` pixels apart: 1 while they fit.
fn label_step(widths: impl Iterator<Item = u32>, slot: i32) -> usize {
    let widest = widths.max().unwrap_or(0) as i32 + 8;
    if slot <= 0 {
        return usize::MAX;
    }
    ((widest + slot - 1) / slot).max(1) as usize
}

/// Lines the p99 chart draws, one per value of its second axis; beyond, that many values
/// evenly spaced, the first and the last among them.
const SWEEP_LINES: usize = 12;

/// The indices of `n` values drawn as lines: all up to [`SWEEP_LINES`], else evenly spaced.
fn drawn_lines(n: usize) -> Vec<usize> {
    if n <= SWEEP_LINES {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..SWEEP_LINES)
        .map(|i| i * (n - 1) / (SWEEP_LINES - 1))
        .collect();
    picked.dedup();
    picked
}

fn heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plan: &Plan,
    a: &Analysis,
) -> Result<(), DrawError> {
    let (Some(ya), xa) = roles(plan) else {
        return Ok(());
    };
    let (nx, ny) = (plan.axes[xa].values.len(), plan.axes[ya].values.len());
    let cells = Cells::of(a, plan, Some(ya), xa);
    header(
        root,
        &format!("{}: p99 latency by {} and {}", plan.scenario, plan.axes[ya].key, plan.axes[xa].key),
        &format!(
            "colour: p99 (ms, log scale), {}; {}; thick line: the SLO boundary, cells above it meet the SLO; ? = unsure",
            reps_text(plan),
            slo_text(plan)
        ),
    )?;
    let served: Vec<f64> = a
        .cells
        .iter()
        .filter(|c| c.served > 0)
        .map(|c| c.p99_ms.max(1e-3))
        .collect();
    let lo = served.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = served.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if served.is_empty() {
        (1.0, 10.0)
    } else if hi / lo < 1.01 {
        (lo / 1.5, hi * 1.5)
    } else {
        (lo, hi)
    };
    let scale = |v: f64| libm::log(v.max(lo) / lo) / libm::log(hi / lo);

    let (_, h) = root.dim_in_pixel();
    let body = root.margin(HEADER, 0, 0, 0);
    let (plot, legend) = body.split_horizontally(WIDTH - 190);
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .margin_right(24)
        .x_label_area_size(70)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc(plan.axes[xa].key.as_str())
        .y_desc(plan.axes[ya].key.as_str())
        .axis_desc_style(font(15.0, false).color(&TEXT))
        .axis_style(AXIS)
        .draw()
        .map_err(de)?;
    let cw = chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    let ch = chart.backend_coord(&(0.0, 0.0)).1 - chart.backend_coord(&(0.0, 1.0)).1;
    let label_size = if cw >= 60 { 14.0 } else { 11.0 };
    // Cells too small for a border or a figure (a grid of hundreds of values) get neither.
    let (borders, figures) = (cw >= 4 && ch >= 4, cw >= 34 && ch >= 16);
    for xi in 0..nx {
        for yi in 0..ny {
            let Some(c) = cells.at(xi, yi) else {
                continue;
            };
            let (x0, y0) = (xi as f64, yi as f64);
            let (fill, label) = if c.served == 0 {
                (RGBColor(200, 200, 200), "none".to_string())
            } else {
                let t = scale(c.p99_ms);
                let unsure = if c.verdict == Some(Verdict::Unsure) {
                    "?"
                } else {
                    ""
                };
                (heat(t), format!("{}{unsure}", ms_label(c.p99_ms)))
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                    fill.filled(),
                )))
                .map_err(de)?;
            if borders {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                        WHITE.stroke_width(1),
                    )))
                    .map_err(de)?;
            }
            if figures {
                let dark = c.served > 0 && scale(c.p99_ms) > 0.55;
                let colour = if dark { WHITE } else { TEXT };
                let p = to_root(root, chart.backend_coord(&(x0 + 0.5, y0 + 0.5)));
                text(
                    root,
                    &label,
                    p,
                    &style(label_size, false, colour, HPos::Center, VPos::Center),
                )?;
            }
        }
    }
    // Tick labels, as written after --set; every k-th value's where they would overlap.
    let x_values = &plan.axes[xa].values;
    let x_step = label_step(x_values.iter().map(|v| text_width(root, v, 13.0)), cw);
    for (xi, v) in x_values.iter().enumerate().step_by(x_step) {
        let p = to_root(root, chart.backend_coord(&(xi as f64 + 0.5, 0.0)));
        text(
            root,
            v,
            (p.0, p.1 + 8),
            &style(13.0, false, MUTED, HPos::Center, VPos::Top),
        )?;
    }
    let y_step = label_step(std::iter::once(10), ch);
    for (yi, v) in plan.axes[ya].values.iter().enumerate().step_by(y_step) {
        let p = to_root(root, chart.backend_coord(&(0.0, yi as f64 + 0.5)));
        text(
            root,
            v,
            (p.0 - 8, p.1),
            &style(13.0, false, MUTED, HPos::Right, VPos::Center),
        )?;
    }
    // The SLO boundary: every edge between a cell that meets it and one that does not.
    if plan.slo.is_some() {
        let pass = |xi: usize, yi: usize| {
            cells
                .at(xi, yi)
                .is_some_and(|c| c.verdict == Some(Verdict::Pass))
        };
        let mut edges: Vec<[(f64, f64); 2]> = Vec::new();
        for xi in 0..nx {
            for yi in 0..ny {
                if xi + 1 < nx && pass(xi, yi) != pass(xi + 1, yi) {
                    let x = (xi + 1) as f64;
                    edges.push([(x, yi as f64), (x, yi as f64 + 1.0)]);
                }
                if yi + 1 < ny && pass(xi, yi) != pass(xi, yi + 1) {
                    let y = (yi + 1) as f64;
                    edges.push([(xi as f64, y), (xi as f64 + 1.0, y)]);
                }
            }
        }
        chart
            .draw_series(
                edges
                    .into_iter()
                    .map(|e| PathElement::new(e.to_vec(), BLACK.stroke_width(4))),
            )
            .map_err(de)?;
    }
    // The colour legend: the scale from low (bottom) to high (top), log ticks.
    let (top, bottom) = (HEADER as i32 + 40, h as i32 - 110);
    let x0 = 40;
    let steps = (bottom - top).max(1);
    for i in 0..steps {
        let t = 1.0 - f64::from(i) / f64::from(steps);
        legend
            .draw(&Rectangle::new(
                [(x0, top + i), (x0 + 28, top + i + 1)],
                heat(t).filled(),
            ))
            .map_err(de)?;
    }
    legend
        .draw(&Rectangle::new(
            [(x0, top), (x0 + 28, bottom)],
            AXIS.stroke_width(1),
        ))
        .map_err(de)?;
    let y_of = |v: f64| bottom - libm::round(scale(v) * f64::from(bottom - top)) as i32;
    for k in 0..=4 {
        let v = lo * libm::pow(hi / lo, f64::from(k) / 4.0);
        let y = y_of(v);
        legend
            .draw(&PathElement::new(vec![(x0 + 28, y), (x0 + 34, y)], AXIS))
            .map_err(de)?;
        legend
            .draw(&Text::new(
                format!("{} ms", ms_label(v)),
                (x0 + 38, y),
                style(13.0, false, MUTED, HPos::Left, VPos::Center),
            ))
            .map_err(de)?;
    }
    if let Some(b) = p99_bound(plan).filter(|b| *b >= lo && *b <= hi) {
        let y = y_of(b);
        legend
            .draw(&PathElement::new(
                vec![(x0 - 6, y), (x0 + 34, y)],
                BLACK.stroke_width(3),
            ))
            .map_err(de)?;
        legend
            .draw(&Text::new(
                format!("SLO {}", ms_label(b)),
                (x0 - 8, y),
                style(13.0, true, TEXT, HPos::Right, VPos::Center),
            ))
            .map_err(de)?;
    }
    legend
        .draw(&Text::new(
            "p99 (ms)",
            (x0 + 14, top - 12),
            style(14.0, true, TEXT, HPos::Center, VPos::Bottom),
        ))
        .map_err(de)?;
    Ok(())
}

fn p99_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plan: &Plan,
    a: &Analysis,
) -> Result<(), DrawError> {
    let (ya, xa) = roles(plan);
    let nx = plan.axes[xa].values.len();
    let series_count = ya.map_or(1, |y| plan.axes[y].values.len());
    let lines = drawn_lines(series_count);
    let cells = Cells::of(a, plan, ya, xa);
    header(
        root,
        &format!(
            "{}: p99 latency against {}",
            plan.scenario, plan.axes[xa].key
        ),
        &format!(
            "{}{}; {}{}; cells that served nothing are left out",
            ya.map_or(String::new(), |y| format!(
                "a line per {}, ",
                plan.axes[y].key
            )),
            reps_text(plan),
            slo_text(plan),
            if p99_bound(plan).is_some() {
                " (dashed: its p99 bound)"
            } else {
                ""
            }
        ),
    )?;
    let values: Vec<f64> = a
        .cells
        .iter()
        .filter(|c| c.served > 0)
        .map(|c| c.p99_ms.max(1e-3))
        .collect();
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(0.0, f64::max);
    if let Some(b) = p99_bound(plan) {
        lo = lo.min(b);
        hi = hi.max(b);
    }
    if !lo.is_finite() || hi <= 0.0 {
        (lo, hi) = (1.0, 10.0);
    }
    let (lo, hi) = (lo / 1.4, hi * 1.4);
    let mut header_h = HEADER;
    if let (Some(y), true) = (ya, lines.len() < series_count) {
        header_note(
            root,
            &format!(
                "{} of the {} values of {} drawn, evenly spaced from the first to the last; sweep.csv has every cell",
                lines.len(),
                series_count,
                plan.axes[y].key
            ),
        )?;
        header_h += NOTE_H;
    }
    let body = root.margin(header_h, 0, 0, 0);
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .margin_right(40)
        .x_label_area_size(70)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5f64..nx as f64 - 0.5, (lo..hi).log_scale())
        .map_err(de)?;
    styled_mesh(&mut chart)
        .disable_x_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc(plan.axes[xa].key.as_str())
        .y_desc("p99 latency (ms, log scale)")
        .draw()
        .map_err(de)?;
    // The y ticks drawn here: plotters' log axis numbers only powers of ten, so a range inside
    // one decade had none.
    for v in log_ticks(lo, hi) {
        let (x0, y) = to_root(root, chart.backend_coord(&(-0.5, v)));
        let (x1, _) = to_root(root, chart.backend_coord(&(nx as f64 - 0.5, v)));
        root.draw(&PathElement::new([(x0, y), (x1, y)], GRID.stroke_width(1)))
            .map_err(de)?;
        root.draw(&PathElement::new(
            [(x0 - 5, y), (x0, y)],
            AXIS.stroke_width(1),
        ))
        .map_err(de)?;
        text(
            root,
            &tick_ms(v),
            (x0 - 8, y),
            &style(13.0, false, MUTED, HPos::Right, VPos::Center),
        )?;
    }
    let slot = chart.backend_coord(&(1.0, lo)).0 - chart.backend_coord(&(0.0, lo)).0;
    let x_values = &plan.axes[xa].values;
    let x_step = label_step(x_values.iter().map(|v| text_width(root, v, 13.0)), slot);
    for (xi, v) in x_values.iter().enumerate().step_by(x_step) {
        let p = to_root(root, chart.backend_coord(&(xi as f64, lo)));
        text(
            root,
            v,
            (p.0, p.1 + 8),
            &style(13.0, false, MUTED, HPos::Center, VPos::Top),
        )?;
    }
    if let Some(b) = p99_bound(plan) {
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(-0.5, b), (nx as f64 - 0.5, b)],
                8,
                6,
                BLACK.stroke_width(2),
            )))
            .map_err(de)?;
        let (x1, y) = to_root(root, chart.backend_coord(&(nx as f64 - 0.5, b)));
        text(
            root,
            &format!("SLO p99 {} ms", tick_ms(b)),
            (x1 - 4, y - 4),
            &style(12.0, true, TEXT, HPos::Right, VPos::Bottom),
        )?;
    }
    for (k, &s) in lines.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> = (0..nx)
            .filter_map(|xi| {
                let c = cells.at(xi, s)?;
                (c.served > 0).then_some((xi as f64, c.p99_ms.max(1e-3)))
            })
            .collect();
        let name = match ya {
            Some(y) => format!(
                "{} = {}",
                short_key(&plan.axes[y].key),
                plan.axes[y].values[s]
            ),
            None => "p99".to_string(),
        };
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(de)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
        // A dot per cell while the cells are apart; a line alone when there are hundreds.
        if slot >= 8 {
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 4, colour.filled())),
                )
                .map_err(de)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(AXIS)
        .label_font(font(13.0, false).color(&TEXT))
        .draw()
        .map_err(de)?;
    Ok(())
}

/// `deployment/web.replicas` → `replicas`: the field, for legends.
fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{picture_dir, png_size, svg_elements};
    use crate::sweep::Axis;

    #[test]
    fn the_colour_scale_runs_from_pale_to_dark() {
        assert_eq!(heat(0.0), RGBColor(255, 255, 204));
        assert_eq!(heat(1.0), RGBColor(128, 0, 38));
        assert_eq!(ms_label(48.61), "48.6");
        assert_eq!(ms_label(3100.0), "3.1k");
    }

    /// A `replicas` × `rate` grid with p99 falling as replicas grow and rising with the rate;
    /// cells meet `p99<75ms` below the diagonal.
    fn grid(replicas: usize, rates: usize) -> (Plan, Analysis) {
        let plan = Plan {
            scenario: "big-sweep".to_string(),
            seed: 1,
            axes: vec![
                Axis {
                    key: "deployment/web.replicas".to_string(),
                    values: (1..=replicas).map(|r| r.to_string()).collect(),
                },
                Axis {
                    key: "traffic/browser.rate".to_string(),
                    values: (1..=rates).map(|r| format!("{}/s", r * 50)).collect(),
                },
            ],
            replications: 1,
            slo: Some(crate::sweep::slo::parse("p99<75ms").unwrap()),
        };
        let mut cells = Vec::new();
        for r in 1..=replicas {
            for q in 1..=rates {
                let p99 = 10.0 * q as f64 / r as f64 + 1.0;
                cells.push(CellSummary {
                    index: cells.len(),
                    values: vec![r.to_string(), format!("{}/s", q * 50)],
                    sent: 1000,
                    served: 1000,
                    failed: 0,
                    mean_ms: p99 / 3.0,
                    p50_ms: p99 / 4.0,
                    p90_ms: p99 / 2.0,
                    p99_ms: p99,
                    p99_ci95_ms: None,
                    p999_ms: p99 * 1.5,
                    max_ms: p99 * 2.0,
                    served_per_s: 100.0,
                    verdict: Some(if p99 < 75.0 {
                        Verdict::Pass
                    } else {
                        Verdict::Fail
                    }),
                });
            }
        }
        (
            plan,
            Analysis {
                cells,
                min_replicas: None,
            },
        )
    }

    /// `proxyMode` against `rate`, p99 from 21 ms to 38 ms (inside one decade), no SLO: the
    /// log axis still has numbers, and the subtitle promises no SLO line.
    #[test]
    fn a_p99_axis_inside_one_decade_has_numbers_and_no_missing_slo_line() {
        let (mut plan, mut analysis) = grid(2, 3);
        plan.axes[0] = Axis {
            key: "proxyMode".to_string(),
            values: vec!["iptables".to_string(), "ipvs".to_string()],
        };
        plan.slo = None;
        for (k, c) in analysis.cells.iter_mut().enumerate() {
            c.p99_ms = 21.0 + 3.4 * k as f64;
            c.verdict = None;
        }
        let mut svg = String::new();
        {
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut svg,
                (WIDTH, HEIGHT),
            ))
            .into_drawing_area();
            SweepChart::P99.draw(&root, &plan, &analysis).unwrap();
            root.present().unwrap();
        }
        assert!(!svg.contains("dashed"), "no SLO, no dashed line promised");
        assert!(svg.contains("no SLO"));
        // The axis runs from 15 to 53 ms (the values padded by 1.4): ticks 20 and 50, as
        // numbers without decimals.
        for tick in ["\n20\n", "\n50\n"] {
            assert!(svg.contains(tick), "no {tick:?} tick");
        }
        assert!(!svg.contains("\n20.0\n"));
        // With an SLO its bound is drawn and named.
        plan.slo = Some(crate::sweep::slo::parse("p99<30ms").unwrap());
        let mut svg = String::new();
        {
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut svg,
                (WIDTH, HEIGHT),
            ))
            .into_drawing_area();
            SweepChart::P99.draw(&root, &plan, &analysis).unwrap();
            root.present().unwrap();
        }
        assert!(svg.contains("dashed: its p99 bound"));
        assert!(svg.contains("SLO p99 30 ms"));
    }

    #[test]
    fn p99_ticks_drop_trailing_zeros() {
        assert_eq!(tick_ms(20.0), "20");
        assert_eq!(tick_ms(2.5), "2.5");
        assert_eq!(tick_ms(0.2), "0.2");
        assert_eq!(tick_ms(3000.0), "3k");
        assert_eq!(tick_ms(20_000.0), "20k");
    }

    /// A 200 × 150 grid (30,000 cells): both charts keep their size; the p99 chart draws 12
    /// lines and says so, the axes label every k-th value; the heatmap's elements grow with
    /// the cells only (one rectangle each), not with their labels or borders.
    #[test]
    fn large_grids_keep_their_size_and_a_readable_number_of_lines() {
        let (dir, remove) = picture_dir("sweep-at-scale");
        let (plan, analysis) = grid(200, 150);
        for chart in [SweepChart::Heatmap, SweepChart::P99] {
            let png = dir.join(format!("big-{}.png", chart.stem()));
            chart.write(&plan, &analysis, &png, true).unwrap();
            assert_eq!(png_size(&std::fs::read(&png).unwrap()), (WIDTH, HEIGHT));
            let mut svg = String::new();
            {
                let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                    &mut svg,
                    (WIDTH, HEIGHT),
                ))
                .into_drawing_area();
                chart.draw(&root, &plan, &analysis).unwrap();
                root.present().unwrap();
            }
            let labels = svg.matches("/s\n").count();
            assert!(labels < 40, "{}: {labels} rate labels", chart.stem());
            match chart {
                SweepChart::Heatmap => {
                    let elements = svg_elements(&svg);
                    assert!(elements < 30_000 + 2_000, "{elements} elements");
                }
                SweepChart::P99 => {
                    assert!(svg.contains(
                        "12 of the 200 values of deployment/web.replicas drawn, evenly spaced"
                    ));
                    assert_eq!(svg.matches("replicas = ").count(), 12);
                    assert!(svg.contains("replicas = 1\n") && svg.contains("replicas = 200\n"));
                    assert!(svg_elements(&svg) < 400, "{}", svg_elements(&svg));
                }
            }
        }
        assert_eq!(drawn_lines(5), [0, 1, 2, 3, 4]);
        assert_eq!(drawn_lines(23), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]);
        assert_eq!(drawn_lines(13), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
        if remove {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
