//! The load harness's HTML report: renders a [`Report`] as one
//! self-contained page — inline CSS and inline SVG, no scripts and no
//! external resources — so it opens offline and straight from a CI
//! artifact. It owns the page layout, the tables (machine, same-run
//! baselines, targets, each scenario's summary and figures) and places the
//! three plots per scenario (latency histogram, throughput and p99 over
//! time) that [`plot`] draws. Every string from the
//! data is HTML-escaped, and every number goes through a formatter that
//! prints "—" instead of `NaN` or `inf`.

mod plot;

use super::report::{Baselines, Figure, HopLatency, Percentiles, Report, ScenarioResult, TargetCheck};
#[cfg(test)]
use plot::short;
use plot::{histogram_plot, p99_plot, throughput_plot};

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
    let history = match &report.history {
        Some(h) => {
            format!("{} customers, {} messages (seeded in {} s)", count(h.customers), count(h.messages), num(h.seconds))
        }
        None => "none seeded".to_string(),
    };
    let rows = [
        ("CPUs", cpus),
        ("Memory", memory),
        ("Kernel", esc(or_dash(&m.kernel))),
        ("Build profile", esc(or_dash(&m.profile))),
        ("PostgreSQL", esc(or_dash(&m.postgres_version))),
        ("Broker", esc(or_dash(&m.broker))),
        ("Tenant history", history),
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

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
