//! The capacity charts: `latency` (the distribution of each stream's latency as a CDF on a
//! logarithmic millisecond axis) and `load` (each pod's utilisation and queue length over
//! simulated time, the scenario's events marked).
//!
//! Like the other charts, each is one function generic over plotters' `DrawingBackend`, with the
//! embedded font; both draw only what the [`Outcome`] holds.

use super::chart_style::{
    de, draw_event_lane, elide, empty_note, event_line, event_tick, group_markers, header,
    header_note, legend_entry, legend_heading, seconds_label, styled_mesh, text, text_width,
    to_root, DrawError, EVENT_LANE, HEADER, MARKER, MARKERS_DRAWN, MUTED, NOTE_H, PALETTE,
};
use super::fonts::{ensure_registered, style};
use super::format::thousands;
use super::limits::largest;
use crate::sim::outcome::{Latency, Outcome};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The points of a latency CDF, `(ms, fraction at or below)`, thinned to at most about 400
/// points spread evenly on the logarithmic axis.
pub fn cdf_points(latency: &Latency) -> Vec<(f64, f64)> {
    let Some(h) = latency.histogram() else {
        return Vec::new();
    };
    let total = h.len();
    let lo = (h.min().max(1) as f64).ln();
    let hi = (h.max().max(2) as f64).ln();
    let step = ((hi - lo) / 400.0).max(1e-9);
    let mut points = Vec::new();
    let mut seen = 0u64;
    let mut last_ln = f64::NEG_INFINITY;
    let mut it = h.iter_recorded().peekable();
    while let Some(v) = it.next() {
        seen += v.count_at_value();
        let ns = v.value_iterated_to().max(1);
        let ln = (ns as f64).ln();
        if ln - last_ln >= step || it.peek().is_none() {
            points.push((ns as f64 / 1e6, seen as f64 / total as f64));
            last_ln = ln;
        }
    }
    points
}

/// Streams the latency chart draws; beyond this many, the ones that served the most requests.
pub(super) const LATENCY_STREAMS: usize = 10;

/// `latency`: one CDF line per stream that served requests, x on a log scale in ms; the
/// legend gives each stream's p50, p99 and p99.9. Beyond [`LATENCY_STREAMS`] streams, the ones
/// that served the most, and a line saying how many others there were.
pub fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    // Streams that served requests, in order; beyond LATENCY_STREAMS, those that served most.
    let serving: Vec<usize> = (0..outcome.streams.len())
        .filter(|&i| outcome.streams[i].latency.histogram().is_some())
        .collect();
    let mut chosen = serving.clone();
    if serving.len() > LATENCY_STREAMS {
        chosen = largest(&serving, LATENCY_STREAMS, |&i| outcome.streams[i].served)
            .into_iter()
            .map(|k| serving[k])
            .collect();
        chosen.sort_unstable();
    }
    let streams: Vec<(usize, Vec<(f64, f64)>)> = chosen
        .iter()
        .map(|&i| (i, cdf_points(&outcome.streams[i].latency)))
        .collect();
    let hidden = serving.len() - streams.len();
    header(
        root,
        &format!("{}: latency of served requests", outcome.scenario),
        &format!(
            "seed {}, {} served after warmup; share of requests answered within x (log scale)",
            outcome.seed,
            thousands(outcome.requests.served)
        ),
    )?;
    let (_, body) = root.split_vertically(HEADER);
    let legend_width = 330u32;
    let (w, _) = body.dim_in_pixel();
    let (plot_area, legend_area) = body.split_horizontally(w.saturating_sub(legend_width));
    let (x_min, x_max) = streams
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold((f64::INFINITY, 0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x_min, x_max) = if streams.is_empty() {
        (0.1, 100.0)
    } else {
        // Whole decades around the data, so the axis ticks are 0.1, 1, 10, ...
        let lo = libm::pow(10.0, libm::floor(libm::log10(x_min.max(1e-6))));
        let hi = libm::pow(10.0, libm::ceil(libm::log10(x_max.max(lo * 10.0))));
        (lo, hi.max(lo * 10.0))
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(16)
        .margin_right(16)
        .margin_top(14)
        .margin_bottom(8)
        .x_label_area_size(52)
        .y_label_area_size(66)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0f64..1.0)
        .map_err(de)?;
    styled_mesh(&mut chart)
        .x_labels(10)
        .y_labels(11)
        .x_label_formatter(&|v| ms_label(*v))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .x_desc("latency (ms, log scale)")
        .y_desc("requests answered within")
        .draw()
        .map_err(de)?;
    if streams.is_empty() {
        let (cx, cy) = to_root(root, chart.backend_coord(&(1.0, 0.5)));
        empty_note(root, "no requests served", (cx, cy))?;
    }
    // Dotted guides at p50, p99 and p99.9, labelled at the plot's right end: p99.9 above its
    // line, p99 below its own (the two are a few pixels apart), p50 above.
    for (q, label, above) in GUIDES {
        let a = to_root(root, chart.backend_coord(&(x_min, q)));
        let b = to_root(root, chart.backend_coord(&(x_max, q)));
        root.draw(&DashedPathElement::new(
            [a, b],
            3,
            5,
            MARKER.stroke_width(1),
        ))
        .map_err(de)?;
        let (y, v) = if above {
            (b.1 - 2, VPos::Bottom)
        } else {
            (b.1 + 3, VPos::Top)
        };
        text(
            root,
            label,
            (b.0 - 4, y),
            &style(11.0, false, MUTED, HPos::Right, v),
        )?;
    }
    for (k, (_, points)) in streams.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        // A step line: the CDF holds its value until the next recorded latency.
        let mut steps = Vec::with_capacity(points.len() * 2);
        let mut prev = 0.0;
        for &(x, y) in points {
            steps.push((x, prev));
            steps.push((x, y));
            prev = y;
        }
        chart
            .draw_series(LineSeries::new(steps, colour.stroke_width(2)))
            .map_err(de)?;
    }
    let (_, plot_top) = to_root(root, chart.backend_coord(&(x_min, 1.0)));
    let (ax, _) = to_root(root, legend_area.get_base_pixel());
    let mut y = plot_top + 4;
    legend_heading(root, "streams (p50 / p99 / p99.9 ms)", (ax + 8, y))?;
    y += 28;
    for (k, (i, _)) in streams.iter().enumerate() {
        let s = &outcome.streams[*i];
        let l = s.latency.ms();
        let colour = PALETTE[k % PALETTE.len()];
        let name = elide(root, &s.name, 13.0, legend_width - 52);
        let x = legend_entry(root, (ax + 8, y), Some(colour), &name, 13.0)?;
        text(
            root,
            &format!(
                "{} / {} / {}",
                ms_text(l.p50),
                ms_text(l.p99),
                ms_text(l.p999)
            ),
            (x, y + 26),
            &style(12.0, false, MUTED, HPos::Left, VPos::Center),
        )?;
        y += 46;
    }
    if hidden > 0 {
        let served: u64 = serving
            .iter()
            .filter(|i| !chosen.contains(i))
            .map(|&i| outcome.streams[i].served)
            .sum();
        let lines = [
            format!(
                "+{} more streams, {} served",
                thousands(hidden as u64),
                thousands(served)
            ),
            format!("(drawn: the {} that served most)", streams.len()),
        ];
        for (k, line) in lines.iter().enumerate() {
            text(
                root,
                line,
                (ax + 8, y + 8 + 18 * k as i32),
                &style(12.0, false, MUTED, HPos::Left, VPos::Center),
            )?;
        }
    }
    Ok(())
}

/// The latency chart's guides: the share of requests, its label, and whether the label sits
/// above the line.
const GUIDES: [(f64, &str, bool); 3] = [
    (0.5, "p50", true),
    (0.99, "p99", false),
    (0.999, "p99.9", true),
];

/// Ticks on the log axis: `0.01`, `0.1`, `1`, `10`, `100`, `1000`.
fn ms_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{}", libm::round(v) as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A latency in the legend: three significant figures at most.
fn ms_text(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Pods the load chart draws; beyond this many, the ones that served the most.
pub(super) const LOAD_PODS: usize = 12;

/// Pods drawn in the load chart: those that had a running server at some point, in creation
/// order, the busiest [`LOAD_PODS`] if there are more; and how many had a server in all.
fn load_pods(outcome: &Outcome) -> (Vec<usize>, usize) {
    let t = &outcome.timeline;
    let mut pods: Vec<usize> = (0..outcome.pods.len())
        .filter(|&p| {
            t.utilisation
                .iter()
                .any(|row| matches!(row.get(p), Some(Some(_))))
        })
        .collect();
    let all = pods.len();
    if pods.len() > LOAD_PODS {
        pods = largest(&pods, LOAD_PODS, |&p| outcome.pods[p].served)
            .into_iter()
            .map(|k| pods[k])
            .collect();
        pods.sort_unstable();
    }
    (pods, all)
}

/// `load`: per pod, the share of its slots busy (top) and the requests waiting in its queue
/// (bottom), per time bucket, time-weighted; dashed lines at the scenario's events (beyond
/// [`MARKERS_DRAWN`](super::chart_style::MARKERS_DRAWN), lines for the first distinct ones and
/// ticks for the rest). Beyond [`LOAD_PODS`] pods, the busiest, and a line counting the others.
pub fn draw_load<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcome: &Outcome,
) -> Result<(), DrawError> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let t = &outcome.timeline;
    let buckets = t.utilisation.len();
    let bucket_s = t.bucket.as_secs_f64().max(1e-9);
    let x_max = outcome.simulated.as_secs_f64().max(bucket_s);
    let (pods, with_server) = load_pods(outcome);
    let summarised = outcome.markers.len() > MARKERS_DRAWN;
    let (_, body) = root.split_vertically(HEADER + if summarised { NOTE_H } else { 0 });
    let legend_width = 270u32;
    let (w, h) = body.dim_in_pixel();
    let (plots, legend_area) = body.split_horizontally(w.saturating_sub(legend_width));
    // Beyond MARKERS_DRAWN events, the same groups as the timeline's: a line for the first
    // distinct ones, a tick for the rest (x as the plots below map time, margins included).
    let (pw, _) = plots.dim_in_pixel();
    let (plot_left, plot_right) = (16 + 66, pw as i32 - 12);
    let px = |secs: f64| plot_left + (secs / x_max * (plot_right - plot_left) as f64) as i32;
    // The timeline's labels are measured the same way, so both charts mark the same events.
    let measure = |label: &str| {
        let label = elide(root, label, 12.0, 300);
        let width = text_width(root, &label, 12.0);
        (label, width)
    };
    let groups = group_markers(&outcome.markers, px, (plot_left, plot_right), measure);
    header(
        root,
        &format!("{}: load per pod over time", outcome.scenario),
        &format!(
            "seed {}, time-weighted per {} bucket; utilisation = busy slots / concurrency",
            outcome.seed, t.bucket
        ),
    )?;
    if let Some(note) = groups.note("drawn") {
        header_note(root, &note)?;
    }
    let (top, bottom) = plots.split_vertically(h / 2);
    let mid = |b: usize| ((b as f64 + 0.5) * bucket_s).min(x_max);
    let q_max = t
        .queue
        .iter()
        .flat_map(|row| {
            pods.iter()
                .map(move |&p| row.get(p).copied().unwrap_or(0.0))
        })
        .fold(0f64, f64::max);
    let q_top = (q_max * 1.1).max(1.0);

    let mut charts = Vec::new();
    for (area, y_max, desc, is_util) in [
        (&top, 1.05, "utilisation", true),
        (&bottom, q_top, "queue length (requests)", false),
    ] {
        let mut chart = ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(12)
            .margin_top(10)
            .margin_bottom(if is_util { 6 } else { 6 + EVENT_LANE })
            .x_label_area_size(if is_util { 20 } else { 46 })
            .y_label_area_size(66)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(de)?;
        let mut mesh = styled_mesh(&mut chart);
        mesh.x_labels(12)
            .y_labels(6)
            .x_label_formatter(&|v| seconds_label(*v))
            .y_desc(desc);
        if is_util {
            mesh.y_label_formatter(&|v| format!("{:.0}%", v * 100.0));
        } else {
            mesh.x_desc("simulated time (s)");
        }
        mesh.draw().map_err(de)?;
        for (k, &p) in pods.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            // Segments where the pod had a server (utilisation) or existed (queue).
            let mut segment: Vec<(f64, f64)> = Vec::new();
            let mut segments = Vec::new();
            for b in 0..buckets {
                let value = if is_util {
                    t.utilisation[b].get(p).copied().flatten()
                } else {
                    t.utilisation[b]
                        .get(p)
                        .copied()
                        .flatten()
                        .map(|_| t.queue[b].get(p).copied().unwrap_or(0.0))
                };
                match value {
                    Some(v) => segment.push((mid(b), v)),
                    None if !segment.is_empty() => segments.push(std::mem::take(&mut segment)),
                    None => {}
                }
            }
            segments.push(segment);
            for s in segments.into_iter().filter(|s| !s.is_empty()) {
                if s.len() == 1 {
                    chart
                        .draw_series(std::iter::once(Circle::new(s[0], 3, colour.filled())))
                        .map_err(de)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(s, colour.stroke_width(2)))
                        .map_err(de)?;
                }
            }
        }
        if groups.summarised() {
            let (_, y0) = to_root(root, chart.backend_coord(&(0.0, 0.0)));
            let (_, y1) = to_root(root, chart.backend_coord(&(0.0, y_max)));
            let (ax, _) = to_root(root, area.get_base_pixel());
            for (x, _) in &groups.lines {
                event_line(root, (ax + x, y0), (ax + x, y1))?;
            }
            for x in &groups.ticks {
                event_tick(root, ax + x, y1)?;
            }
        } else {
            for (at, _) in &outcome.markers {
                let x = at.as_secs_f64();
                let a = to_root(root, chart.backend_coord(&(x, 0.0)));
                let b = to_root(root, chart.backend_coord(&(x, y_max)));
                event_line(root, a, b)?;
            }
        }
        charts.push(to_root(root, chart.backend_coord(&(0.0, y_max))).1);
        if !is_util {
            let (_, y0) = to_root(root, chart.backend_coord(&(0.0, 0.0)));
            let (ax, _) = to_root(root, area.get_base_pixel());
            draw_event_lane(
                root,
                &outcome.events,
                |secs| ax + px(secs),
                (ax + plot_left, ax + plot_right),
                y0 + 46 + 2,
            )?;
        }
    }
    if pods.is_empty() {
        let (cx, cy) = to_root(root, plots.get_base_pixel());
        let (pw, ph) = plots.dim_in_pixel();
        empty_note(
            root,
            "no pod had a running server",
            (cx + pw as i32 / 2, cy + ph as i32 / 2),
        )?;
    }

    let (ax, _) = to_root(root, legend_area.get_base_pixel());
    let mut y = charts.first().copied().unwrap_or(HEADER as i32);
    legend_heading(root, "pods", (ax + 8, y))?;
    y += 26;
    for (k, &p) in pods.iter().enumerate() {
        let pod = &outcome.pods[p];
        let util = pod
            .utilisation
            .map_or("-".to_string(), |u| format!("{:.0}%", u * 100.0));
        let name = elide(root, &pod.name, 12.0, legend_width - 52);
        let colour = PALETTE[k % PALETTE.len()];
        let x = legend_entry(root, (ax + 8, y), Some(colour), &name, 12.0)?;
        text(
            root,
            &format!("mean {util} busy"),
            (x, y + 24),
            &style(11.0, false, MUTED, HPos::Left, VPos::Center),
        )?;
        y += 40;
    }
    if with_server > pods.len() {
        text(
            root,
            &format!(
                "+{} more pods (drawn: the {} busiest)",
                thousands((with_server - pods.len()) as u64),
                pods.len()
            ),
            (ax + 8, y + 8),
            &style(12.0, false, MUTED, HPos::Left, VPos::Center),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::report::fixture::{
        large_outcome, picture_dir, png_size, render, svg_elements, Scale, AT_SCALE,
    };
    use crate::report::Chart;

    #[test]
    fn cdf_ends_at_one_and_rises() {
        let mut l = Latency::default();
        for i in 1..=1000u64 {
            l.record(SimDuration::from_micros(i * 10));
        }
        let p = cdf_points(&l);
        assert!(p.len() > 10 && p.len() <= 402, "{} points", p.len());
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(p.last().unwrap().1, 1.0);
        assert!((p.last().unwrap().0 - 10.0).abs() < 0.01);
    }

    #[test]
    fn log_axis_labels() {
        assert_eq!(ms_label(0.1), "0.1");
        assert_eq!(ms_label(10.0), "10");
        assert_eq!(ms_text(123.4), "123");
        assert_eq!(ms_text(1.234), "1.23");
    }

    /// 60 streams, 10,286 serving pods and 8,000 events: the latency chart draws 10 streams and
    /// counts the rest, the load chart 12 pods and counts the rest, events beyond 12 are ticks;
    /// both keep their size and draw as many elements at twice the streams, pods and events.
    #[test]
    fn latency_and_load_summarise_at_scale() {
        let (dir, remove) = picture_dir("load-at-scale");
        let outcome = large_outcome(AT_SCALE);
        let mut bigger = large_outcome(Scale {
            pods: 24_000,
            events: 16_000,
            streams: 120,
            ..AT_SCALE
        });
        bigger.scenario = "at-twice-the-scale".to_string();
        let draw = |chart: Chart, o: &Outcome| {
            render(
                chart.size(),
                |r| chart.draw(r, o),
                |r| chart.draw(r, o),
                &dir.join(format!("{}-{}.png", o.scenario, chart.stem())),
            )
        };
        for chart in [Chart::Latency, Chart::Load] {
            let (png, svg) = draw(chart, &outcome);
            assert_eq!(png_size(&png), (chart.size().width, chart.size().height));
            assert!(
                png.len() < 300_000 && svg.len() < 300_000,
                "{}",
                chart.stem()
            );
            let (_, svg_big) = draw(chart, &bigger);
            assert_eq!(
                svg_elements(&svg),
                svg_elements(&svg_big),
                "{}",
                chart.stem()
            );
            match chart {
                Chart::Latency => {
                    assert!(svg.contains("+50 more streams, 10,000 served"));
                    assert!(svg.contains("(drawn: the 10 that served most)"));
                    assert_eq!(svg.matches("shoppers-from-region-").count(), 10);
                }
                _ => {
                    assert!(svg.contains("+10,274 more pods (drawn: the 12 busiest)"));
                    assert!(svg.contains("8,000 events: 12 drawn, the others as ticks"));
                }
            }
        }
        if remove {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Beyond their limits the charts draw the largest of the pods and streams that qualify
    /// (a server at some point, latencies recorded), not of all of them.
    #[test]
    fn the_busiest_are_chosen_among_those_that_qualify() {
        let mut outcome = large_outcome(Scale {
            nodes: 3,
            pods: 40,
            services: 3,
            events: 0,
            streams: 30,
        });
        for (k, p) in outcome.pods.iter_mut().enumerate() {
            p.served = 100 + k as u64;
        }
        // Pods 0..20 never had a server; of the rest, the busiest 12 are 28..40.
        for row in &mut outcome.timeline.utilisation {
            row.iter_mut().take(20).for_each(|u| *u = None);
            row.iter_mut().skip(20).for_each(|u| *u = Some(0.5));
        }
        let (pods, with_server) = load_pods(&outcome);
        assert_eq!(with_server, 20);
        assert_eq!(pods, (28..40).collect::<Vec<_>>());
        // Streams 0..15 served nothing; the 10 that served most of the rest are 20..30.
        for (i, s) in outcome.streams.iter_mut().enumerate() {
            if i < 15 {
                s.latency = Latency::default();
                s.served = 0;
            } else {
                s.served = 1000 + i as u64;
            }
        }
        let mut svg = String::new();
        {
            let size = Chart::Latency.size();
            let root = crate::report::fonts::Glyphs::vector(SVGBackend::with_string(
                &mut svg,
                (size.width, size.height),
            ))
            .into_drawing_area();
            draw_latency(&root, &outcome).unwrap();
            root.present().unwrap();
        }
        for i in 0..30 {
            let drawn = svg.contains(&format!("shoppers-from-region-{i:03}"));
            assert_eq!(drawn, i >= 20, "stream {i}");
        }
        assert!(svg.contains("+5 more streams, 5,085 served"));
    }
}
