//! The load harness's HTML report: renders a [`Report`] as one
//! self-contained page — inline CSS and inline SVG, no scripts and no
//! external resources — so it opens offline and straight from a CI
//! artifact. It owns the page layout, the tables (machine, same-run
//! baselines, targets, each scenario's summary and figures) and the three
//! plots per scenario (latency histogram, throughput and p99 over time),
//! all drawn by one small plotting helper ([`Plot`]). Every string from the
//! data is HTML-escaped, and every number goes through a formatter that
//! prints "—" instead of `NaN` or `inf`.

use super::report::{Baselines, Figure, HopLatency, Percentiles, Report, ScenarioResult, TargetCheck, TimelinePoint};

/// The page's only styling; the SVG plots use its classes too.
const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.25rem 0}
section{border-top:2px solid #ddd;margin-top:2rem}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem}
.none{color:#888;font-style:italic}
.ok{color:#1a7f37;font-weight:600}
.bad{color:#c62828;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
svg{border:1px solid #ddd;background:#fff;flex:1 1 360px;min-width:0;max-width:560px;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#333}
svg text.title{font-size:14px;font-weight:600}
svg text.none{fill:#888;font-style:italic;font-size:13px}
svg .axis{stroke:#333}
svg .grid{stroke:#eee}
svg .bar{fill:#4e79a7}
svg .line{fill:none;stroke:#e15759;stroke-width:1.5}
svg .dot{fill:#e15759}
";

/// Renders the whole report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>fte bench — {}</title>\n", esc(or_dash(&report.started_at))));
    out.push_str(&format!("<style>\n{STYLE}</style>\n</head>\n<body>\n"));
    header(&mut out, report);
    baselines(&mut out, &report.baselines);
    targets(&mut out, &report.targets);
    let ceiling =
        report.baselines.pg_commits_32.as_ref().map(|rate| rate.per_sec).filter(|v| v.is_finite() && *v > 0.0);
    if report.scenarios.is_empty() {
        out.push_str("<h2>Scenarios</h2>\n<p class=\"none\">No scenario ran.</p>\n");
    }
    for result in &report.scenarios {
        scenario(&mut out, result, ceiling);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &Report) {
    let m = &report.machine;
    out.push_str("<h1>fte bench report</h1>\n");
    out.push_str(&format!("<p>Run started <strong>{}</strong>.</p>\n", esc(or_dash(&report.started_at))));
    let cpus = if m.cpus == 0 { "—".to_string() } else { count(m.cpus as u64) };
    let memory = if m.memory_bytes == 0 { "—".to_string() } else { format!("{} GiB", num(gib(m.memory_bytes))) };
    let rows = [
        ("CPUs", cpus),
        ("Memory", memory),
        ("Kernel", esc(or_dash(&m.kernel))),
        ("Build profile", esc(or_dash(&m.profile))),
        ("PostgreSQL", esc(or_dash(&m.postgres_version))),
        ("Broker", esc(or_dash(&m.broker))),
    ];
    kv_table(out, "Machine", &rows);
    out.push_str(
        "<p class=\"note\">Figures are only comparable to the baselines measured in this same run on this same \
         machine: compare the ratios, not the absolute numbers, across machines or runs.</p>\n",
    );
}

fn baselines(out: &mut String, b: &Baselines) {
    out.push_str("<h2>Baselines (this machine, this run)</h2>\n<table>\n<thead><tr><th>Ceiling</th><th>Rate</th>");
    out.push_str("<th>Operations</th><th>Seconds</th>");
    out.push_str(
        "<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr></thead>\n<tbody>\n",
    );
    let rows = [
        ("PostgreSQL single-row commits, 1 client", "commits/s", &b.pg_commits_1),
        ("PostgreSQL single-row commits, 32 clients", "commits/s", &b.pg_commits_32),
        ("Broker round trip (produce → consume)", "records/s", &b.broker_roundtrip),
    ];
    for (name, unit, rate) in rows {
        out.push_str(&format!("<tr><th>{name}</th>"));
        match rate {
            None => out.push_str("<td colspan=\"8\" class=\"none\">not measured</td>"),
            Some(rate) => {
                out.push_str(&format!("<td class=\"n\">{} {unit}</td>", num(rate.per_sec)));
                out.push_str(&format!("<td class=\"n\">{}</td>", count(rate.operations)));
                out.push_str(&format!("<td class=\"n\">{}</td>", num(rate.seconds)));
                for cell in percentile_cells(rate.latency_ms.as_ref()) {
                    out.push_str(&format!("<td class=\"n\">{cell}</td>"));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn targets(out: &mut String, targets: &[TargetCheck]) {
    out.push_str("<h2>Targets</h2>\n");
    if targets.is_empty() {
        out.push_str("<p class=\"none\">No target was checked.</p>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr><th>Target</th><th>Measured</th><th>Met</th></tr></thead>\n<tbody>\n");
    for check in targets {
        let met = match check.met {
            Some(true) => "<td class=\"ok\" title=\"met\">✓</td>",
            Some(false) => "<td class=\"bad\" title=\"missed\">✗</td>",
            None => "<td class=\"none\" title=\"not measured\">—</td>",
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>{met}</tr>\n",
            esc(or_dash(&check.target)),
            esc(or_dash(&check.measured))
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn scenario(out: &mut String, s: &ScenarioResult, ceiling: Option<f64>) {
    out.push_str(&format!("<section>\n<h2>Scenario: {}</h2>\n", esc(or_dash(&s.name))));
    if !s.description.trim().is_empty() {
        out.push_str(&format!("<p>{}</p>\n", esc(&s.description)));
    }
    let [p50, p90, p99, p999, max] = percentile_cells(s.latency_ms.as_ref());
    let vs_ceiling = match ceiling {
        Some(c) if (100.0 * s.throughput_per_sec / c).is_finite() => {
            format!("{}% of {}/s", num(100.0 * s.throughput_per_sec / c), num(c))
        }
        Some(_) => "—".to_string(),
        None => "— (32-client commit baseline not measured)".to_string(),
    };
    let rows = [
        ("Customers", count(s.customers)),
        ("Messages sent", count(s.messages_sent)),
        ("Replies received", count(s.replies_received)),
        ("Errors", count(s.errors)),
        ("Seconds", num(s.seconds)),
        ("Throughput", format!("{} replies/s", num(s.throughput_per_sec))),
        ("Throughput vs 32-client commit ceiling", vs_ceiling),
        ("Latency p50", format!("{p50} ms")),
        ("Latency p90", format!("{p90} ms")),
        ("Latency p99", format!("{p99} ms")),
        ("Latency p99.9", format!("{p999} ms")),
        ("Latency max", format!("{max} ms")),
    ];
    kv_table(out, "Summary", &rows);
    figures(out, &s.figures);
    hops(out, &s.hops);
    out.push_str("<div class=\"plots\">\n");
    out.push_str(&histogram_plot(&s.histogram));
    out.push_str(&throughput_plot(&s.timeline));
    out.push_str(&p99_plot(&s.timeline));
    out.push_str("</div>\n</section>\n");
}

fn figures(out: &mut String, figures: &[Figure]) {
    if figures.is_empty() {
        return;
    }
    out.push_str("<table>\n<caption>Figures</caption>\n<tbody>\n");
    for f in figures {
        out.push_str(&format!(
            "<tr><th>{}</th><td class=\"n\">{}</td><td>{}</td></tr>\n",
            esc(or_dash(&f.name)),
            num(f.value),
            esc(&f.unit)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Where the time went: one row per hop of the pipeline.
fn hops(out: &mut String, hops: &[HopLatency]) {
    if hops.is_empty() {
        return;
    }
    out.push_str(
        "<table>\n<caption>Latency by hop (ms)</caption>\n<thead><tr><th>Hop</th><th>Replies</th>\
         <th>p50</th><th>p90</th><th>p99</th><th>mean</th></tr></thead>\n<tbody>\n",
    );
    for h in hops {
        let p = &h.latency_ms;
        out.push_str(&format!(
            "<tr><th>{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            esc(or_dash(&h.hop)),
            count(h.replies),
            num(p.p50),
            num(p.p90),
            num(p.p99),
            num(p.mean)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A two-column table; the values are already HTML.
fn kv_table(out: &mut String, caption: &str, rows: &[(&str, String)]) {
    out.push_str(&format!("<table>\n<caption>{caption}</caption>\n<tbody>\n"));
    for (label, value) in rows {
        out.push_str(&format!("<tr><th>{label}</th><td>{value}</td></tr>\n"));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn percentile_cells(p: Option<&Percentiles>) -> [String; 5] {
    match p {
        Some(p) => [num(p.p50), num(p.p90), num(p.p99), num(p.p999), num(p.max)],
        None => std::array::from_fn(|_| "—".to_string()),
    }
}

// ---- plots ----------------------------------------------------------------

fn histogram_plot(histogram: &[(f64, u64)]) -> String {
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

fn throughput_plot(timeline: &[TimelinePoint]) -> String {
    let points = timeline.iter().filter(|p| p.t.is_finite()).map(|p| Some((p.t, p.replies as f64)));
    line_plot("Throughput over time", "replies/s", points)
}

fn p99_plot(timeline: &[TimelinePoint]) -> String {
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

// ---- formatting -----------------------------------------------------------

use crate::html_escape::escape as esc;

fn or_dash(s: &str) -> &str {
    if s.trim().is_empty() { "—" } else { s }
}

/// A measured number for a table: three significant digits below 1000,
/// whole and grouped above; "—" when not finite.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    match v.abs() {
        a if a >= 999.5 => group(&format!("{v:.0}")),
        a if a >= 99.95 => format!("{v:.0}"),
        a if a >= 9.995 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

fn count(n: u64) -> String {
    group(&n.to_string())
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Groups the digits of an integer in thousands: `-1234567` → `-1,234,567`.
fn group(digits: &str) -> String {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A short tick label: `0.005`, `2.5`, `40`, `1.5k`, `2M`.
fn short(v: f64) -> String {
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
#[path = "html_tests.rs"]
mod tests;
