//! The report's plots: a latency histogram and lines over time, drawn as
//! inline SVG by one small plotting helper ([`Plot`]) on axes rounded out
//! to their ticks ([`Axis`]).

use super::super::report::TimelinePoint;
use super::{count, esc, num};

pub(super) fn histogram_plot(histogram: &[(f64, u64)]) -> String {
    const TITLE: &str = "Latency histogram";
    let mut buckets: Vec<(f64, u64)> = histogram.iter().copied().filter(|(upper, _)| upper.is_finite()).collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(&(first, _)) = buckets.first() else { return no_data(TITLE) };
    // Each bar spans (previous upper bound, its upper bound]; the first one
    // starts at half its bound on a log axis, at 0 on a linear one.
    let log = first > 0.0;
    let mut lower = if log { first / 2.0 } else { first.min(0.0) };
    let mut bars = Vec::with_capacity(buckets.len());
    for (upper, n) in buckets {
        bars.push((lower, upper, n));
        lower = upper;
    }
    let lo = bars.first().map_or(0.0, |b| b.0);
    let hi = bars.last().map_or(1.0, |b| b.1);
    let x = if log { Axis::log(lo, hi) } else { Axis::linear(lo, hi) };
    let y = Axis::linear(0.0, bars.iter().map(|b| b.2 as f64).fold(0.0, f64::max));
    let x_label = if log { "latency, ms (log scale)" } else { "latency, ms" };
    let plot = Plot { title: TITLE, x_label, y_label: "replies", x, y };
    let mut svg = plot.open();
    for (lo, hi, n) in bars.into_iter().filter(|b| b.2 > 0) {
        let (x0, x1) = (plot.px(lo), plot.px(hi));
        let (top, bottom) = (plot.py(n as f64), plot.py(0.0));
        svg.push_str(&format!(
            "<rect class=\"bar\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
             <title>≤ {} ms: {}</title></rect>\n",
            (x1 - x0 - 1.0).max(1.0),
            (bottom - top).max(0.0),
            num(hi),
            count(n)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

pub(super) fn throughput_plot(timeline: &[TimelinePoint]) -> String {
    let points = timeline.iter().filter(|p| p.t.is_finite()).map(|p| Some((p.t, p.replies as f64)));
    line_plot("Throughput over time", "replies/s", points)
}

pub(super) fn p99_plot(timeline: &[TimelinePoint]) -> String {
    let points = timeline.iter().map(|p| p.p99_ms.filter(|v| v.is_finite() && p.t.is_finite()).map(|v| (p.t, v)));
    line_plot("p99 latency over time", "p99, ms", points)
}

/// A line over time; a `None` point breaks the line (a second without
/// replies has no p99).
fn line_plot(title: &str, y_label: &str, points: impl Iterator<Item = Option<(f64, f64)>>) -> String {
    let (mut segments, mut current) = (Vec::new(), Vec::new());
    for point in points {
        match point {
            Some(p) => current.push(p),
            None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    let all = || segments.iter().flatten();
    if all().next().is_none() {
        return no_data(title);
    }
    let (t_lo, t_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let v_hi = all().fold(0.0, |hi: f64, p| hi.max(p.1));
    let y_lo = all().fold(0.0, |lo: f64, p| lo.min(p.1));
    let plot = Plot {
        title,
        x_label: "seconds since the scenario started",
        y_label,
        x: Axis::linear(t_lo, t_hi),
        y: Axis::linear(y_lo, v_hi),
    };
    let mut svg = plot.open();
    for segment in &segments {
        if let [(t, v)] = segment.as_slice() {
            svg.push_str(&format!(
                "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>\n",
                plot.px(*t),
                plot.py(*v)
            ));
        } else {
            let coords: Vec<String> =
                segment.iter().map(|(t, v)| format!("{:.1},{:.1}", plot.px(*t), plot.py(*v))).collect();
            svg.push_str(&format!("<polyline class=\"line\" points=\"{}\"/>\n", coords.join(" ")));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

const W: f64 = 560.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 46.0;

fn svg_open(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\">\n\
         <title>{t}</title>\n<text class=\"title\" x=\"{:.1}\" y=\"18\" text-anchor=\"middle\">{t}</text>\n",
        W / 2.0,
        t = esc(title)
    )
}

/// An empty frame, so every scenario shows its three plots in the same place.
fn no_data(title: &str) -> String {
    let mut svg = svg_open(title);
    svg.push_str(&format!(
        "<text class=\"none\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>\n</svg>\n",
        W / 2.0,
        H / 2.0
    ));
    svg
}

/// One plot: maps data onto the viewBox inside fixed margins and draws the
/// frame, axes, ticks, grid and labels; callers add the marks and `</svg>`.
struct Plot<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x: Axis,
    y: Axis,
}

impl Plot<'_> {
    fn px(&self, v: f64) -> f64 {
        LEFT + self.x.frac(v) * (W - LEFT - RIGHT)
    }

    fn py(&self, v: f64) -> f64 {
        H - BOTTOM - self.y.frac(v) * (H - TOP - BOTTOM)
    }

    fn open(&self) -> String {
        let mut svg = svg_open(self.title);
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        for tick in self.y.ticks() {
            let y = self.py(tick);
            svg.push_str(&format!(
                "<line class=\"grid\" x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                x0 - 6.0,
                y + 4.0,
                short(tick)
            ));
        }
        for tick in self.x.ticks() {
            let x = self.px(tick);
            svg.push_str(&format!(
                "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                y0 + 4.0,
                y0 + 16.0,
                short(tick)
            ));
        }
        svg.push_str(&format!(
            "<line class=\"axis\" x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y0:.1}\"/>\n\
             <line class=\"axis\" x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x0:.1}\" y2=\"{y1:.1}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
            (x0 + x1) / 2.0,
            H - 8.0,
            esc(self.x_label),
            (y0 + y1) / 2.0,
            esc(self.y_label)
        ));
        svg
    }
}

/// The range an axis shows, rounded out to its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    /// Linear: the tick step. Log: the exponent step between ticks.
    step: f64,
    log: bool,
}

impl Axis {
    const FALLBACK: Axis = Axis { lo: 0.0, hi: 1.0, step: 0.2, log: false };

    /// A linear axis over `lo..=hi`, widened to whole tick steps.
    fn linear(lo: f64, hi: f64) -> Axis {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Axis::FALLBACK;
        }
        // A single value gets some room around it (or 0..1 when it is 0).
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            (lo - lo.abs() * 0.1, hi + hi.abs() * 0.1)
        };
        let raw = (hi - lo) / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = match raw / magnitude {
            n if n < 1.5 => 1.0,
            n if n < 3.0 => 2.0,
            n if n < 7.0 => 5.0,
            _ => 10.0,
        } * magnitude;
        let axis = Axis { lo: (lo / step).floor() * step, hi: (hi / step).ceil() * step, step, log: false };
        if [axis.lo, axis.hi, step].iter().all(|v| v.is_finite()) && step > 0.0 && axis.hi > axis.lo {
            axis
        } else {
            Axis::FALLBACK
        }
    }

    /// A log₁₀ axis over whole decades covering `lo..=hi` (both > 0).
    fn log(lo: f64, hi: f64) -> Axis {
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return Axis::FALLBACK;
        }
        let lo_e = lo.log10().floor();
        let hi_e = hi.log10().ceil().max(lo_e + 1.0);
        let step = ((hi_e - lo_e) / 8.0).ceil().max(1.0);
        Axis { lo: lo_e, hi: hi_e, step, log: true }
    }

    /// Where `v` falls, from 0 (start) to 1 (end), clamped.
    fn frac(&self, v: f64) -> f64 {
        let v = if self.log { v.log10() } else { v };
        let f = (v - self.lo) / (self.hi - self.lo);
        if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 }
    }

    /// Tick values in data units: multiples of the step; on a log axis the
    /// decades, plus 2× and 5× when it spans at most two decades.
    fn ticks(&self) -> Vec<f64> {
        let first = (self.lo / self.step - 1e-9).ceil() as i64;
        let last = (self.hi / self.step + 1e-9).floor() as i64;
        let ticks = (first..=last).take(12).map(|k| k as f64 * self.step);
        if !self.log {
            return ticks.collect();
        }
        let mut out = Vec::new();
        for e in ticks {
            let decade = 10f64.powi(e as i32);
            out.push(decade);
            if self.hi - self.lo <= 2.0 && e < self.hi {
                out.extend([2.0 * decade, 5.0 * decade]);
            }
        }
        out
    }
}

/// A short tick label: `0.005`, `2.5`, `40`, `1.5k`, `2M`.
pub(super) fn short(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    let (scaled, suffix) = match a {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let decimals = if a < 1.0 { ((-a.log10()).ceil() as usize + 1).min(6) } else { 2 };
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    match text {
        "-0" => "0".to_string(),
        t => format!("{t}{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_out_to_ticks() {
        let y = Axis::linear(0.0, 437.0);
        assert_eq!((y.lo, y.hi, y.step), (0.0, 500.0, 100.0));
        assert_eq!(y.ticks(), vec![0.0, 100.0, 200.0, 300.0, 400.0, 500.0]);
        assert_eq!(Axis::linear(0.0, 0.0).ticks().first(), Some(&0.0));
        assert_eq!(Axis::linear(f64::NAN, 1.0), Axis::FALLBACK);
        assert_eq!(Axis::linear(2.0, 1.0), Axis::FALLBACK);
        let single = Axis::linear(3.0, 3.0);
        assert!(single.lo < 3.0 && single.hi > 3.0);

        let x = Axis::log(0.5, 250.0);
        assert_eq!(x.ticks(), vec![0.1, 1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(Axis::log(1.0, 50.0).ticks(), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
        assert_eq!(Axis::log(0.0, 1.0), Axis::FALLBACK);
        assert_eq!(x.frac(1e9), 1.0);
        assert_eq!(x.frac(-1.0), 0.0);
    }
}
