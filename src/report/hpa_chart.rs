//! The HorizontalPodAutoscaler panel under the `timeline` chart: for a scenario with an HPA,
//! its replicas at each sync as steps (`desired`: what the sync set the target to; `current`:
//! what it found, which is the desired of the sync before once nothing else scales the target)
//! and its first metric against the metric's target, on the timeline's time axis. A scenario
//! without an HPA (or whose HPA never synced) gets no panel, and its timeline is unchanged.
//!
//! The data is [`HpaOutcome::history`]; this module draws it and reads nothing else.

use super::chart_style::{
    de, legend_entry, legend_heading, seconds_label, styled_mesh, text, to_root, DrawError, MUTED,
    TEXT,
};
use super::fonts::style;
use crate::sim::outcome::{HpaOutcome, HpaSync, Outcome};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The panel's height in pixels, taken from the bottom of the timeline's body.
pub(super) const PANEL_H: u32 = 200;
/// Width of the panel's right axis (the metric's), which the plot above leaves empty so the
/// two time axes line up.
pub(super) const RIGHT_AXIS: u32 = 56;

const DESIRED: RGBColor = RGBColor(31, 119, 180);
const CURRENT: RGBColor = RGBColor(255, 127, 14);
const METRIC: RGBColor = RGBColor(44, 160, 44);
const TARGET: RGBColor = RGBColor(110, 180, 110);

/// The HPA the panel draws (the first that synced at least once) and how many others exist.
pub(super) fn panel_hpa(outcome: &Outcome) -> Option<(&HpaOutcome, usize)> {
    let hpa = outcome.hpas.iter().find(|h| !h.history.is_empty())?;
    Some((hpa, outcome.hpas.len() - 1))
}

/// A step line through `(sync time, value)`: each value holds until the next sync, the last
/// one until `x_max`.
pub(super) fn steps(
    history: &[HpaSync],
    value: impl Fn(&HpaSync) -> f64,
    x_max: f64,
) -> Vec<(f64, f64)> {
    let mut points = Vec::with_capacity(history.len() * 2 + 1);
    for (k, s) in history.iter().enumerate() {
        let t = s.at.as_secs_f64();
        if k > 0 {
            points.push((t, value(&history[k - 1])));
        }
        points.push((t, value(s)));
    }
    if let Some(last) = history.last() {
        points.push((x_max.max(last.at.as_secs_f64()), value(last)));
    }
    points
}

/// The metric at each sync in display units (percent for a utilization, whole units for an
/// average value kept in milli-units), split where it was unknown.
pub(super) fn metric_segments(history: &[HpaSync], divisor: f64) -> Vec<Vec<(f64, f64)>> {
    let mut segments = vec![Vec::new()];
    for s in history {
        match s.metric {
            Some(v) => segments
                .last_mut()
                .expect("one segment at least")
                .push((s.at.as_secs_f64(), v as f64 / divisor)),
            None if segments.last().is_some_and(|l| !l.is_empty()) => segments.push(Vec::new()),
            None => {}
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

/// The first metric's name, unit divisor and target, for the panel's labels: `cpu
/// utilization`, 1, 50 (percent); `http_requests_per_second`, 1000, 5 (per pod).
fn metric_of(hpa: &HpaOutcome) -> Option<(String, f64, f64, &'static str)> {
    let t = hpa.targets.first()?;
    match t.kind.as_str() {
        "Utilization" => Some((format!("{} utilization", t.name), 1.0, t.target as f64, "%")),
        "AverageValue" => Some((t.name.clone(), 1000.0, t.target as f64 / 1000.0, "")),
        _ => None,
    }
}

fn number(v: f64, unit: &str) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

/// Draws the panel into `area` (the timeline body's bottom [`PANEL_H`] pixels): a title line,
/// the plot (left margin and axis width as the timeline's, so the time axes line up) and a
/// legend in the `legend_width` pixels on the right.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_hpa_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    hpa: &HpaOutcome,
    others: usize,
    x_max: f64,
    (margin_left, y_label_area, margin_right): (i32, i32, i32),
    legend_width: u32,
) -> Result<(), DrawError> {
    let (w, _) = area.dim_in_pixel();
    let (plot_area, legend_area) = area.split_horizontally(w.saturating_sub(legend_width));
    let (ax, ay) = to_root(root, plot_area.get_base_pixel());
    let metric = metric_of(hpa);
    let mut title = format!(
        "HorizontalPodAutoscaler {} ({}, {}-{} replicas)",
        hpa.name, hpa.reference, hpa.min_replicas, hpa.max_replicas
    );
    if let Some((name, _, target, unit)) = &metric {
        title.push_str(&format!(
            ": {name} against its {} target",
            number(*target, unit)
        ));
    }
    if others > 0 {
        title.push_str(&format!(" (+{others} more HPAs not drawn)"));
    }
    text(
        root,
        &title,
        (ax + margin_left + y_label_area, ay + 10),
        &style(13.0, true, TEXT, HPos::Left, VPos::Center),
    )?;

    let h = &hpa.history;
    let top_replicas = h
        .iter()
        .map(|s| s.desired.max(s.current))
        .max()
        .unwrap_or(0)
        .max(hpa.min_replicas);
    let y_max = (f64::from(top_replicas) * 1.15).ceil().max(2.0);
    let (divisor, target) = metric.as_ref().map_or((1.0, 0.0), |m| (m.1, m.2));
    let segments = metric_segments(h, divisor);
    let top_metric = segments
        .iter()
        .flatten()
        .fold(target, |a, &(_, v)| a.max(v));
    let m_max = (top_metric * 1.2).max(1.0);
    let unit = metric.as_ref().map_or("", |m| m.3);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(margin_left as u32)
        .margin_right(margin_right as u32)
        .margin_top(22)
        .margin_bottom(4)
        .x_label_area_size(30)
        .y_label_area_size(y_label_area as u32)
        .right_y_label_area_size(RIGHT_AXIS)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(de)?
        .set_secondary_coord(0f64..x_max, 0f64..m_max);
    styled_mesh(&mut chart)
        .x_labels(12)
        .y_labels(5)
        .x_label_formatter(&|v| seconds_label(*v))
        .y_label_formatter(&|v| {
            if v.fract() == 0.0 {
                format!("{v}")
            } else {
                String::new()
            }
        })
        .y_desc("replicas")
        .draw()
        .map_err(de)?;
    chart
        .configure_secondary_axes()
        .label_style(super::fonts::font(13.0, false).color(&METRIC))
        .axis_style(MUTED)
        .y_labels(5)
        .y_label_formatter(&|v| number(*v, unit))
        .draw()
        .map_err(de)?;

    if metric.is_some() {
        chart
            .draw_secondary_series(DashedLineSeries::new(
                [(0.0, target), (x_max, target)],
                6,
                4,
                TARGET.stroke_width(1),
            ))
            .map_err(de)?;
        for s in segments {
            chart
                .draw_secondary_series(LineSeries::new(s, METRIC.stroke_width(2)))
                .map_err(de)?;
        }
    }
    chart
        .draw_series(LineSeries::new(
            steps(h, |s| f64::from(s.current), x_max),
            CURRENT.stroke_width(2),
        ))
        .map_err(de)?;
    chart
        .draw_series(LineSeries::new(
            steps(h, |s| f64::from(s.desired), x_max),
            DESIRED.stroke_width(2),
        ))
        .map_err(de)?;

    // The legend, level with the plot's top.
    let (lx, ly) = to_root(root, legend_area.get_base_pixel());
    let left = lx + 8;
    let mut y = ly + 22;
    legend_heading(root, "autoscaling", (left, y))?;
    y += 24;
    let mut entries = vec![
        ("desired replicas".to_string(), DESIRED),
        ("current replicas".to_string(), CURRENT),
    ];
    if let Some((name, _, target, unit)) = &metric {
        entries.push((format!("{name} (right axis)"), METRIC));
        entries.push((format!("target {}", number(*target, unit)), TARGET));
    }
    for (label, colour) in entries {
        legend_entry(root, (left, y), Some(colour), &label, 12.0)?;
        y += 22;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimDuration, SimTime};

    fn sync(s: u64, current: u32, desired: u32, metric: Option<i64>) -> HpaSync {
        HpaSync {
            at: SimTime::ZERO + SimDuration::from_secs(s),
            current,
            desired,
            metric,
        }
    }

    #[test]
    fn replicas_are_steps_that_hold_until_the_next_sync_and_the_end() {
        let h = [
            sync(15, 2, 2, None),
            sync(30, 2, 4, Some(90)),
            sync(45, 4, 4, Some(48)),
        ];
        assert_eq!(
            steps(&h, |s| f64::from(s.desired), 60.0),
            [
                (15.0, 2.0),
                (30.0, 2.0),
                (30.0, 4.0),
                (45.0, 4.0),
                (45.0, 4.0),
                (60.0, 4.0)
            ]
        );
        assert!(steps(&[], |s| f64::from(s.desired), 60.0).is_empty());
    }

    #[test]
    fn the_metric_breaks_where_it_was_unknown() {
        let h = [
            sync(15, 2, 2, None),
            sync(30, 2, 4, Some(90_000)),
            sync(45, 4, 4, None),
            sync(60, 4, 4, Some(48_000)),
            sync(75, 4, 4, Some(50_000)),
        ];
        assert_eq!(
            metric_segments(&h, 1000.0),
            [vec![(30.0, 90.0)], vec![(60.0, 48.0), (75.0, 50.0)]]
        );
    }
}
