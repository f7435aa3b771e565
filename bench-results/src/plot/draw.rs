//! Drawing a [`Figure`] with plotters: axes (linear, log, or ticked at given values), lines with
//! their bands, a second panel under a line chart on the same x range, bars with whiskers, and
//! the notes strip under the chart.

use anyhow::{Result, anyhow};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
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
    let lower = c.extras.lower.as_deref();
    // Both panels share one x range, so a moment in the upper one sits above the same moment in
    // the lower one.
    let xs = std::iter::once(c).chain(lower).flat_map(|c| {
        c.lines
            .iter()
            .chain(&c.extras.thin)
            .flat_map(|l| l.points.iter().map(|p| p.0))
    });
    let (x0, x1) = bounds(xs).ok_or_else(|| anyhow!("no points"))?;
    match lower {
        None => draw_panel(root, c, (x0, x1)),
        Some(l) => {
            let h = root.dim_in_pixel().1;
            let (top, bottom) = root.split_vertically(h.saturating_sub(extras::LOWER_PX));
            draw_panel(&top, c, (x0, x1))?;
            draw_panel(&bottom, l, (x0, x1))
        }
    }
}

/// The y range: the chart's own, else the data's (from 0 on a linear axis; on a log axis from
/// just under the smallest positive value, which 0 cannot be).
fn y_bounds(c: &LineChart) -> Result<(f64, f64)> {
    match c.y_range {
        Some(r) if !c.extras.y_log || r.0 > 0.0 => return Ok(r),
        _ => {}
    }
    let ys = c.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let ys = ys.chain(extras::band_ys(&c.extras));
    if c.extras.y_log {
        let (lo, hi) = bounds(ys.filter(|y| *y > 0.0)).ok_or_else(|| anyhow!("no points"))?;
        Ok((lo / 1.3, hi * 1.3))
    } else {
        let (lo, hi) = bounds(ys).ok_or_else(|| anyhow!("no points"))?;
        Ok(pad(lo.min(0.0), hi))
    }
}

/// Ticks at 1, 2 and 5 times the powers of ten within `lo..=hi` (plotters' log axis labels the
/// powers of ten only: two labels for 0.3..30 ms), at least two.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return vec![lo, hi];
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for steps in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let t: Vec<f64> = (e0..=e1)
            .flat_map(|e| steps.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect();
        if t.len() >= 2 {
            return t;
        }
    }
    vec![lo, hi]
}

/// One chart on `root` with x over `x0..x1`, in the axis kinds the chart asks for.
fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &LineChart,
    (x0, x1): (f64, f64),
) -> Result<()> {
    let (y0, y1) = y_bounds(c)?;
    let c = &floored(c, y0);
    let ticks: Vec<f64> = c.extras.x_ticks.iter().map(|t| t.0).collect();
    let (x0, x1) = if c.x_log {
        (x0.max(1.0) / 1.2, x1.max(1.0) * 1.2)
    } else if !ticks.is_empty() {
        // Room for the tick labels at both ends (e.g. "50%", "99.99%").
        let m = (x1 - x0).max(1.0) * 0.03;
        (x0.min(x1) - m, x1 + m)
    } else if x1 > x0 {
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
    let ticks: Vec<f64> = ticks
        .into_iter()
        .filter(|t| (x0..=x1).contains(t))
        .collect();
    // Only called on a log axis, whose y0 is positive.
    let log_y = || (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
    match (c.x_log, ticks.is_empty(), c.extras.y_log) {
        (true, _, false) => panel_on(root, c, (x0..x1).log_scale(), y0..y1),
        (true, _, true) => panel_on(root, c, (x0..x1).log_scale(), log_y()),
        (false, false, false) => panel_on(root, c, Ticked::new(x0..x1, ticks), y0..y1),
        (false, false, true) => panel_on(root, c, Ticked::new(x0..x1, ticks), log_y()),
        (false, true, false) => panel_on(root, c, x0..x1, y0..y1),
        (false, true, true) => panel_on(root, c, x0..x1, log_y()),
    }
}

/// A linear axis ticked exactly at given values. plotters' `with_key_points` does this too, but
/// on an f64 range it lacks the value formatter a mesh needs (the labels are ours anyway).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // No light grid lines between the ticks: they would sit at meaningless values.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// On a log y axis, every y raised to at least the axis floor (log 0 has no place on it).
fn floored(c: &LineChart, floor: f64) -> std::borrow::Cow<'_, LineChart> {
    if !c.extras.y_log {
        return std::borrow::Cow::Borrowed(c);
    }
    let mut c = c.clone();
    let up = |y: &mut f64| *y = y.max(floor);
    for l in c.lines.iter_mut().chain(c.extras.thin.iter_mut()) {
        l.points.iter_mut().for_each(|p| up(&mut p.1));
    }
    for a in &mut c.extras.areas {
        a.points.iter_mut().for_each(|p| {
            up(&mut p.1);
            up(&mut p.2);
        });
    }
    for b in &mut c.extras.bands {
        b.points.iter_mut().for_each(|p| {
            up(&mut p.y);
            up(&mut p.lo);
            up(&mut p.hi);
        });
    }
    std::borrow::Cow::Owned(c)
}

fn panel_on<DB, X, Y>(root: &DrawingArea<DB, Shift>, c: &LineChart, x: X, y: Y) -> Result<()>
where
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let chart = base(root, &c.title).build_cartesian_2d(x, y).map_err(pe)?;
    finish_lines(chart, c)
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

fn finish_lines<'a, DB, X, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    c: &LineChart,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let xf = |v: &f64| match c.extras.x_ticks.iter().find(|t| (t.0 - v).abs() < 1e-9) {
        Some(t) => t.1.clone(),
        None => c.x_unit.format(*v, false),
    };
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
    for l in &c.extras.thin {
        let style = ShapeStyle::from(&color(l.color)).stroke_width(1);
        let anno = chart
            .draw_series(LineSeries::new(l.points.iter().copied(), style))
            .map_err(pe)?;
        if l.legend {
            anno.label(l.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
    }
    extras::draw_extras(&mut chart, &c.extras, extras::Layer::OverLines)?;
    // A panel whose lines all go without legend (colours named in the panel above) gets no
    // empty legend box.
    if !c.lines.iter().chain(&c.extras.thin).any(|l| l.legend) {
        return Ok(());
    }
    let (xr, yr) = (chart.x_range(), chart.y_range());
    // The legend's corner is judged in drawn proportions: on a log axis, in decades.
    let (points, y) = if c.extras.y_log {
        let log = |y: f64| y.max(f64::MIN_POSITIVE).log10();
        let pts = data_points(c)
            .into_iter()
            .map(|(x, y)| (x, log(y)))
            .collect();
        (pts, (log(yr.start), log(yr.end)))
    } else {
        (data_points(c), (yr.start, yr.end))
    };
    let corner = quiet_corner(&points, (xr.start, xr.end), y);
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

/// Every point drawn: line vertices (thin lines too) and both ends of each error bar and band.
fn data_points(c: &LineChart) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = c
        .lines
        .iter()
        .chain(&c.extras.thin)
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
