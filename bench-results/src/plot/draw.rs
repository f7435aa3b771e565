//! Drawing a [`Figure`] with plotters: axes, lines with their bands, bars with whiskers, and the
//! notes strip under the chart.

use anyhow::{Result, anyhow};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::extras;
use super::{BarChart, FONT, Figure, LineChart, color, pe};

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<()> {
    root.fill(&WHITE).map_err(pe)?;
    match fig {
        Figure::Lines(c) => draw_lines(&extras::split_notes(root, &c.extras.notes)?, c),
        Figure::Bars(c) => draw_bars(&extras::split_notes(root, &c.notes)?, c),
    }
}

fn bounds(points: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    points
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

fn pad(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        (lo, hi + (hi - lo) * 0.05)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> Result<()> {
    let (x0, x1) = bounds(c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))
        .ok_or_else(|| anyhow!("no points"))?;
    let (y0, y1) = match c.y_range {
        Some(r) => r,
        None => {
            let ys = c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
            let (lo, hi) =
                bounds(ys.chain(extras::band_ys(&c.extras))).ok_or_else(|| anyhow!("no points"))?;
            pad(lo.min(0.0), hi)
        }
    };
    if c.x_log {
        let (x0, x1) = (x0.max(1.0) / 1.2, x1.max(1.0) * 1.2);
        let chart = base(root, &c.title)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(pe)?;
        finish_lines(chart, c)
    } else {
        let (x0, x1) = if x1 > x0 {
            // Markers at the first and last x would be cut in half at the plot's edges.
            let m = if c.extras.bands.is_empty() {
                0.0
            } else {
                (x1 - x0) * 0.04
            };
            (x0 - m, x1 + m)
        } else {
            (x0 - 1.0, x1 + 1.0)
        };
        let chart = base(root, &c.title)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(pe)?;
        finish_lines(chart, c)
    }
}

fn base<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    // Long titles (several kernels) shrink rather than run off the image: DejaVu Sans averages
    // ~0.5 em per character as plotters sizes it.
    let width = root.dim_in_pixel().0 as f64 - 30.0;
    let size = (width / (0.5 * title.chars().count() as f64)).clamp(11.0, 20.0);
    let mut b = ChartBuilder::on(root);
    b.caption(title, (FONT, size))
        .margin(14)
        .x_label_area_size(55)
        .y_label_area_size(85);
    b
}

fn finish_lines<'a, DB, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    c: &LineChart,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let xf = |v: &f64| c.x_unit.format(*v, false);
    let yf = |v: &f64| c.y_unit.format(*v, false);
    house_mesh(&mut chart.configure_mesh(), &c.x_label, &c.y_label)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .draw()
        .map_err(pe)?;
    // Bands first, so the median lines stay on top.
    extras::draw_extras(&mut chart, &c.extras, extras::Layer::UnderLines)?;
    for l in &c.lines {
        let col = if l.reference {
            RGBColor(150, 150, 150)
        } else {
            color(l.color)
        };
        let style = ShapeStyle::from(&col).stroke_width(2);
        let anno = if l.reference {
            chart
                .draw_series(DashedLineSeries::new(l.points.iter().copied(), 8, 6, style))
                .map_err(pe)?
        } else {
            chart
                .draw_series(LineSeries::new(l.points.iter().copied(), style))
                .map_err(pe)?
        };
        if l.legend {
            anno.label(l.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
    }
    extras::draw_extras(&mut chart, &c.extras, extras::Layer::OverLines)?;
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let corner = quiet_corner(&data_points(c), (xr.start, xr.end), (yr.start, yr.end));
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(corner)
        .draw()
        .map_err(pe)?;
    Ok(())
}

/// Every point drawn: line vertices and both ends of each error bar and band.
fn data_points(c: &LineChart) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .collect();
    for b in &c.extras.bands {
        v.extend(b.points.iter().flat_map(|p| [(p.x, p.lo), (p.x, p.hi)]));
    }
    for a in &c.extras.areas {
        v.extend(a.points.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]));
    }
    v
}

/// The chart corner whose quarter of the plotting area holds the fewest points, so the legend
/// does not cover data (a fixed corner hid the 16-thread point of the scaling plots).
pub fn quiet_corner(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let frac = |v: f64, (a, b): (f64, f64)| if b > a { (v - a) / (b - a) } else { 0.5 };
    // The legend box covers roughly a third of the width and a quarter of the height.
    let count = |right: bool, top: bool| {
        points
            .iter()
            .filter(|&&(px, py)| {
                let (fx, fy) = (frac(px, x), frac(py, y));
                (if right { fx >= 0.6 } else { fx <= 0.4 })
                    && (if top { fy >= 0.7 } else { fy <= 0.3 })
            })
            .count()
    };
    let corners = [
        (SeriesLabelPosition::LowerRight, count(true, false)),
        (SeriesLabelPosition::UpperRight, count(true, true)),
        (SeriesLabelPosition::UpperLeft, count(false, true)),
        (SeriesLabelPosition::LowerLeft, count(false, false)),
    ];
    // Ties keep the earlier (customary) corner.
    let best = corners.iter().map(|c| c.1).min().unwrap_or(0);
    corners
        .into_iter()
        .find(|c| c.1 == best)
        .map_or(SeriesLabelPosition::LowerRight, |c| c.0)
}

fn draw_bars<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, Shift>,
    c: &BarChart,
) -> Result<()> {
    let n = c.categories.len();
    let g = c.groups.len().max(1);
    let top = if c.stacked {
        (0..n)
            .map(|i| {
                c.groups
                    .iter()
                    .map(|gr| gr.values[i])
                    .filter(|v| v.is_finite())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    } else {
        let vals = c.groups.iter().flat_map(|gr| {
            gr.values
                .iter()
                .copied()
                .chain(gr.whiskers.iter().flatten().map(|w| w.1))
        });
        bounds(vals).map_or(1.0, |b| b.1)
    };
    let top = top.max(c.reference.as_ref().map_or(0.0, |r| r.0)) * 1.15;
    let top = if top > 0.0 { top } else { 1.0 };
    let mut chart = base(root, &c.title)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)
        .map_err(pe)?;
    let cats = c.categories.clone();
    let xf = move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
            cats[i as usize].clone()
        } else {
            String::new()
        }
    };
    let yf = |v: &f64| c.y_unit.format(*v, false);
    house_mesh(&mut chart.configure_mesh(), &c.x_label, &c.y_label)
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .draw()
        .map_err(pe)?;

    let width = 0.8 / if c.stacked { 1.0 } else { g as f64 };
    let mut stack = vec![0.0f64; n];
    for (gi, gr) in c.groups.iter().enumerate() {
        let col = color(gr.color);
        let mut rects = Vec::new();
        let mut whiskers = Vec::new();
        for (i, &v) in gr.values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let (x0, y0) = if c.stacked {
                (i as f64 - 0.4, stack[i])
            } else {
                (i as f64 - 0.4 + gi as f64 * width, 0.0)
            };
            rects.push(Rectangle::new(
                [(x0, y0), (x0 + width * 0.95, y0 + v)],
                col.filled(),
            ));
            if let Some(Some((lo, hi))) = gr.whiskers.get(i) {
                let xm = x0 + width * 0.475;
                whiskers.push(PathElement::new(
                    vec![(xm, *lo), (xm, *hi)],
                    BLACK.stroke_width(2),
                ));
                for y in [*lo, *hi] {
                    whiskers.push(PathElement::new(
                        vec![(xm - width * 0.15, y), (xm + width * 0.15, y)],
                        BLACK.stroke_width(2),
                    ));
                }
            }
            if c.stacked {
                stack[i] += v;
            }
        }
        chart
            .draw_series(rects)
            .map_err(pe)?
            .label(gr.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
        chart.draw_series(whiskers).map_err(pe)?;
    }
    if let Some((y, label)) = &c.reference {
        let style = ShapeStyle::from(&RGBColor(200, 0, 0)).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, *y), (n as f64 - 0.5, *y)],
                8,
                6,
                style,
            ))
            .map_err(pe)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(pe)?;
    Ok(())
}

/// The axes' descriptions and the house style every chart's mesh shares.
fn house_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    x_desc: &str,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(235, 235, 235))
}
