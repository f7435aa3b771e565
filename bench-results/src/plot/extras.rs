//! Additions to a chart: min..max error bars with a marker at the median (figures whose lines
//! join a few summarised points, the scaling sweeps), shaded bands around a median line (time
//! series over repeats), thin secondary lines, vertical markers at an event, a second panel
//! below on the same x axis, axis choices a plain [`super::LineChart`] lacks (log y, fixed x
//! ticks), and notes under the chart. They live here rather than in `LineChart` so charts built
//! elsewhere (`..Extras::default()`) need not spell them out.
//!
//! Notes exist so that absence is explained in the figure itself: a kernel with no value (e.g.
//! a design without a cursor lock, or without a proactive interface) or points measured under a
//! caveat (overcommitted vCPUs) would otherwise just be missing or look like any other point.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Result, color, pe};

/// Markers and error bars of one line (same colour index as the line).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub color: usize,
    pub points: Vec<BandPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandPoint {
    pub x: f64,
    /// Where the marker sits (the median over repeats).
    pub y: f64,
    pub lo: f64,
    pub hi: f64,
    /// Drawn hollow: the point carries a caveat spelled out in the notes.
    pub hollow: bool,
}

/// A shaded band from `lo` to `hi` along x (e.g. min..max over repeats around a median line).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub color: usize,
    /// (x, lo, hi), x ascending.
    pub points: Vec<(f64, f64, f64)>,
}

/// A vertical line across the plot at `x`, labelled at its top (e.g. "burst starts").
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extras {
    pub bands: Vec<Band>,
    pub areas: Vec<Area>,
    /// Secondary lines drawn 1 px wide in their colour (e.g. the max beside a p99 line).
    pub thin: Vec<super::Line>,
    pub markers: Vec<Marker>,
    /// Log y axis (latencies spanning decades); points at or below 0 are raised to the axis
    /// floor, which a log scale cannot reach.
    pub y_log: bool,
    /// Fixed x ticks with their labels, instead of plotters' own (e.g. "99.9%" on a nines axis);
    /// linear x axes only.
    pub x_ticks: Vec<(f64, String)>,
    /// A second panel under this one, on the same x range (e.g. writeback under latency). Its
    /// notes are not drawn: put them in this chart's.
    pub lower: Option<Box<super::LineChart>>,
    /// One line of text each, drawn in a strip under the chart.
    pub notes: Vec<String>,
}

const NOTE_LINE_PX: u32 = 20;
/// Height of a lower panel, added to the canvas so the main chart keeps its usual size.
pub(super) const LOWER_PX: u32 = 330;

/// Extra canvas height the notes need, so the chart itself keeps its usual size.
pub(super) fn notes_height(notes: &[String]) -> u32 {
    if notes.is_empty() {
        0
    } else {
        NOTE_LINE_PX * notes.len() as u32 + 12
    }
}

/// Draws the notes at the bottom of `root` and returns the area left for the chart.
pub(super) fn split_notes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    notes: &[String],
) -> Result<DrawingArea<DB, Shift>> {
    let h = notes_height(notes);
    if h == 0 {
        return Ok(root.clone());
    }
    let total = root.dim_in_pixel().1;
    let (chart, strip) = root.split_vertically(total.saturating_sub(h));
    let style = TextStyle::from((FONT, 15).into_font()).color(&RGBColor(60, 60, 60));
    for (i, n) in notes.iter().enumerate() {
        strip
            .draw_text(n, &style, (20, 4 + (i as u32 * NOTE_LINE_PX) as i32))
            .map_err(pe)?;
    }
    Ok(chart)
}

/// Every y value the bands, areas and thin lines reach, for the axis range.
pub(super) fn band_ys(e: &Extras) -> impl Iterator<Item = f64> + '_ {
    e.bands
        .iter()
        .flat_map(|b| b.points.iter().flat_map(|p| [p.lo, p.hi, p.y]))
        .chain(
            e.areas
                .iter()
                .flat_map(|a| a.points.iter().flat_map(|p| [p.1, p.2])),
        )
        .chain(e.thin.iter().flat_map(|l| l.points.iter().map(|p| p.1)))
}

/// Which of the extras to draw: areas go under the lines, bands over them.
pub(super) enum Layer {
    UnderLines,
    OverLines,
}

/// Draws one layer of the extras. Under the lines: shaded areas, light enough that overlapping
/// designs stay readable. Over them: error bars (only where lo < hi: one repeat has no spread to
/// show) and median markers.
pub(super) fn draw_extras<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    e: &Extras,
    layer: Layer,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    match layer {
        Layer::UnderLines => {
            for a in e.areas.iter().filter(|a| a.points.len() > 1) {
                let outline: Vec<(f64, f64)> = a
                    .points
                    .iter()
                    .map(|p| (p.0, p.2))
                    .chain(a.points.iter().rev().map(|p| (p.0, p.1)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        color(a.color).mix(0.18).filled(),
                    )))
                    .map_err(pe)?;
            }
        }
        Layer::OverLines => {
            for b in &e.bands {
                let col = color(b.color);
                let bar = ShapeStyle::from(&col).stroke_width(2);
                let spread = || b.points.iter().filter(|p| p.hi > p.lo);
                chart
                    .draw_series(
                        spread().map(|p| PathElement::new(vec![(p.x, p.lo), (p.x, p.hi)], bar)),
                    )
                    .map_err(pe)?;
                // Caps in pixels: their width must not depend on a (possibly log) x scale.
                chart
                    .draw_series(
                        spread()
                            .flat_map(|p| [p.lo, p.hi].map(|y| (p.x, y)))
                            .map(|c| {
                                EmptyElement::at(c) + PathElement::new(vec![(-6, 0), (6, 0)], bar)
                            }),
                    )
                    .map_err(pe)?;
                chart
                    .draw_series(b.points.iter().map(|p| {
                        let style = if p.hollow { bar } else { col.filled() };
                        Circle::new((p.x, p.y), 5, style)
                    }))
                    .map_err(pe)?;
            }
            draw_markers(chart, &e.markers)?;
        }
    }
    Ok(())
}

/// Dashed grey verticals over the whole y range, each labelled just right of its top.
fn draw_markers<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    markers: &[Marker],
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let grey = RGBColor(90, 90, 90);
    let style = ShapeStyle::from(&grey).stroke_width(2);
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let text = TextStyle::from((FONT, 14).into_font()).color(&grey);
    for m in markers.iter().filter(|m| xr.start <= m.x && m.x <= xr.end) {
        chart
            .draw_series(DashedLineSeries::new(
                [(m.x, yr.start), (m.x, yr.end)],
                6,
                4,
                style,
            ))
            .map_err(pe)?;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((m.x, yr.end)) + Text::new(m.label.clone(), (5, 4), text.clone()),
            ))
            .map_err(pe)?;
    }
    Ok(())
}
