//! A sweep's charts: `sweep_heatmap` (two axes: replicas up, the other axis across, each cell
//! coloured by its p99 on a log scale with a colour legend, and a thick line between cells
//! that meet the SLO and cells that do not) and `sweep_p99` (p99 against the other axis, a line
//! per replica count, the SLO's p99 bound dashed). Drawn for grids of one or two axes.

use super::chart_style::{
    de, header, styled_mesh, text, to_root, DrawError, AXIS, HEADER, MUTED, PALETTE, TEXT,
};
use super::fonts::{ensure_registered, font, style};
use crate::sweep::slo::{Metric, Verdict};
use crate::sweep::{replicas_axis, Analysis, CellSummary, Plan};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
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
            let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root, plan, a)?;
            root.present().map_err(de)
        } else {
            let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
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

fn cell_at<'a>(
    a: &'a Analysis,
    plan: &Plan,
    y: Option<(usize, usize)>,
    x: (usize, usize),
) -> Option<&'a CellSummary> {
    a.cells.iter().find(|c| {
        c.values[x.0] == plan.axes[x.0].values[x.1]
            && y.is_none_or(|(ya, yi)| c.values[ya] == plan.axes[ya].values[yi])
    })
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
    let label_size = if cw >= 60 { 14.0 } else { 11.0 };
    for xi in 0..nx {
        for yi in 0..ny {
            let Some(c) = cell_at(a, plan, Some((ya, yi)), (xa, xi)) else {
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
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                    WHITE.stroke_width(1),
                )))
                .map_err(de)?;
            if cw >= 34 {
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
    // Tick labels, as written after --set.
    for (xi, v) in plan.axes[xa].values.iter().enumerate() {
        let p = to_root(root, chart.backend_coord(&(xi as f64 + 0.5, 0.0)));
        text(
            root,
            v,
            (p.0, p.1 + 8),
            &style(13.0, false, MUTED, HPos::Center, VPos::Top),
        )?;
    }
    for (yi, v) in plan.axes[ya].values.iter().enumerate() {
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
            cell_at(a, plan, Some((ya, yi)), (xa, xi))
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
    header(
        root,
        &format!(
            "{}: p99 latency against {}",
            plan.scenario, plan.axes[xa].key
        ),
        &format!(
            "{}{}; {}; dashed: the SLO's p99 bound; cells that served nothing are left out",
            ya.map_or(String::new(), |y| format!(
                "a line per {}, ",
                plan.axes[y].key
            )),
            reps_text(plan),
            slo_text(plan)
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
    let body = root.margin(HEADER, 0, 0, 0);
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .margin_right(40)
        .x_label_area_size(70)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5f64..nx as f64 - 0.5, (lo..hi).log_scale())
        .map_err(de)?;
    styled_mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(10)
        .y_label_formatter(&|v| ms_label(*v))
        .x_desc(plan.axes[xa].key.as_str())
        .y_desc("p99 latency (ms, log scale)")
        .draw()
        .map_err(de)?;
    for (xi, v) in plan.axes[xa].values.iter().enumerate() {
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
    }
    for s in 0..series_count {
        let colour = PALETTE[s % PALETTE.len()];
        let points: Vec<(f64, f64)> = (0..nx)
            .filter_map(|xi| {
                let c = cell_at(a, plan, ya.map(|y| (y, s)), (xa, xi))?;
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
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(de)?;
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

    #[test]
    fn the_colour_scale_runs_from_pale_to_dark() {
        assert_eq!(heat(0.0), RGBColor(255, 255, 204));
        assert_eq!(heat(1.0), RGBColor(128, 0, 38));
        assert_eq!(ms_label(48.61), "48.6");
        assert_eq!(ms_label(3100.0), "3.1k");
    }
}
