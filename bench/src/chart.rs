//! Ratio bar charts for BENCHMARKS.md, as small hand-written SVG files: one horizontal bar per
//! table row (smtpkit's value over the best peer's, higher is better), a dashed line at 1.0.
//!
//! Hand-written rather than `plotters`: a bar chart is a few rectangles and labels, the text
//! is left to the viewer's sans-serif font (no font files, no build dependency), and the
//! output is byte-stable for the same numbers, so a re-run only changes the SVG when a ratio
//! does. Every bench section uses it the same way:
//!
//! ```ignore
//! let bars = vec![Bar::new("1 session", 1.12), Bar::new("10 sessions", 0.95)];
//! body.push_str(&chart::write_chart("server", "Server msg/s vs best peer", &bars));
//! ```

use std::fmt::Write as _;

/// One bar: a row label and smtpkit's ratio to the best peer (NaN when not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub ratio: f64,
}

impl Bar {
    pub fn new(label: impl Into<String>, ratio: f64) -> Bar {
        Bar {
            label: label.into(),
            ratio,
        }
    }
}

const WIDTH: f64 = 820.0;
const LABEL_W: f64 = 360.0;
const PLOT_W: f64 = 380.0;
const BAR_H: f64 = 20.0;
const GAP: f64 = 8.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 36.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as SVG text, with the dashed line at 1.0 labelled "1.0 = best peer".
pub fn ratio_svg(title: &str, bars: &[Bar]) -> String {
    ratio_svg_vs(title, "best peer", bars)
}

/// The chart as SVG text, the dashed line at 1.0 labelled "1.0 = REFERENCE" (the server
/// section's ratios are against smtp-sink, not the best peer). The axis runs from 0 to at
/// least 1.25 and past the largest ratio (at most 4; longer bars are cut and keep their value
/// label).
pub fn ratio_svg_vs(title: &str, reference: &str, bars: &[Bar]) -> String {
    let top_ratio = bars
        .iter()
        .map(|b| b.ratio)
        .filter(|r| r.is_finite())
        .fold(1.25f64, f64::max)
        .min(4.0);
    let step = if top_ratio <= 2.0 { 0.25 } else { 0.5 };
    let max = (top_ratio / step).ceil() * step;
    let x = |r: f64| LABEL_W + PLOT_W * (r.clamp(0.0, max) / max);
    let height = TOP + bars.len() as f64 * (BAR_H + GAP) + BOTTOM;
    let plot_bottom = height - BOTTOM + 4.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // Grid and tick labels.
    let mut t = 0.0;
    while t <= max + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{plot_bottom:.1}" stroke="#e0e0e0"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle" fill="#555">{t:.2}</text>"##,
            x(t),
            plot_bottom + 16.0
        );
        t += step;
    }
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + i as f64 * (BAR_H + GAP);
        let mid = y + BAR_H / 2.0 + 4.5;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{mid:.1}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            escape(&b.label)
        );
        if !b.ratio.is_finite() {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{mid:.1}" fill="#555">n/a</text>"##,
                LABEL_W + 4.0
            );
            continue;
        }
        let color = if b.ratio >= 1.0 { "#2e7d32" } else { "#e65100" };
        let _ = writeln!(
            s,
            r#"<rect x="{LABEL_W}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="{color}"/><text x="{:.1}" y="{mid:.1}">{:.2}×</text>"#,
            x(b.ratio) - LABEL_W,
            x(b.ratio) + 4.0,
            b.ratio
        );
    }
    let one = x(1.0);
    let _ = writeln!(
        s,
        r##"<line x1="{one:.1}" y1="{:.1}" x2="{one:.1}" y2="{plot_bottom:.1}" stroke="#000" stroke-dasharray="5,3"/><text x="{one:.1}" y="{:.1}" text-anchor="middle" font-size="11">1.0 = {}</text>"##,
        TOP - 6.0,
        TOP - 10.0,
        escape(reference)
    );
    s.push_str("</svg>\n");
    s
}

/// Writes `docs/bench/NAME.svg` (from the repository root) and returns the markdown that
/// shows it, to go above the section's table.
pub fn write_chart(name: &str, title: &str, bars: &[Bar]) -> String {
    write_chart_vs(name, title, "best peer", bars)
}

/// [`write_chart`] with the 1.0 line labelled "1.0 = REFERENCE".
pub fn write_chart_vs(name: &str, title: &str, reference: &str, bars: &[Bar]) -> String {
    let dir = crate::root_dir().join("docs").join("bench");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("{name}.svg"));
    if let Err(e) = std::fs::write(&file, ratio_svg_vs(title, reference, bars)) {
        eprintln!("  could not write {}: {e}", file.display());
    }
    format!("![{}](docs/bench/{name}.svg)\n", escape(title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_a_bar_per_row_and_the_one_line() {
        let svg = ratio_svg(
            "t <&>",
            &[
                Bar::new("a", 0.5),
                Bar::new("b", 12.0),
                Bar::new("c", f64::NAN),
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("t &lt;&amp;&gt;"));
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains("12.00×") && svg.contains("n/a") && svg.contains("1.0 = best peer"));
        let vs = ratio_svg_vs("t", "smtp-sink", &[Bar::new("a", 0.5)]);
        assert!(vs.contains("1.0 = smtp-sink") && !vs.contains("best peer"));
    }
}
