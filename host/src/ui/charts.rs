//! Small server-rendered SVG charts: no script, no inline style (colours
//! come from classes in `app.css`), each with a text alternative.

use std::fmt::Write as _;

use maud::{Markup, PreEscaped, html};

use super::layout::duration;
use crate::store::ExecutionSummary;

/// The `p`-th percentile (0–100) of `values` (nearest rank), 0 when empty.
pub fn percentile(values: &[u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A tiny bar per execution (oldest left): height by duration, colour by
/// outcome. `runs` are oldest first.
pub fn sparkline(runs: &[ExecutionSummary]) -> Markup {
    const WIDTH: usize = 96;
    const HEIGHT: u64 = 22;
    if runs.is_empty() {
        return html! { span class="muted small" { "no runs" } };
    }
    let shown = &runs[runs.len().saturating_sub(24)..];
    let longest = shown
        .iter()
        .map(|r| r.duration_ms)
        .max()
        .unwrap_or(1)
        .max(1);
    let step = WIDTH / 24;
    let failed = shown.iter().filter(|r| !r.success).count();
    let label = format!(
        "last {} runs: {} ok, {} failed",
        shown.len(),
        shown.len() - failed,
        failed
    );
    let mut bars = String::new();
    for (i, run) in shown.iter().enumerate() {
        let height = (run.duration_ms * (HEIGHT - 3) / longest + 3).min(HEIGHT);
        let _ = write!(
            bars,
            r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="1"></rect>"#,
            if run.success { "ok" } else { "fail" },
            i * step,
            HEIGHT - height,
            step - 1,
            height
        );
    }
    html! {
        svg class="spark" width=(WIDTH) height=(HEIGHT) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            role="img" aria-label=(label) {
            title { (label) }
            (PreEscaped(bars))
        }
    }
}

/// Outcomes and durations over time (oldest left) with p50 and p99 lines.
/// `runs` are oldest first.
pub fn outcome_chart(runs: &[ExecutionSummary]) -> Markup {
    const WIDTH: f64 = 760.0;
    const HEIGHT: f64 = 200.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 10.0;
    if runs.is_empty() {
        return html! { p class="empty" { "No executions yet: run a command or a test to see them here." } };
    }
    let durations: Vec<u64> = runs.iter().map(|r| r.duration_ms).collect();
    let p50 = percentile(&durations, 50.0);
    let p99 = percentile(&durations, 99.0);
    let longest = durations.iter().copied().max().unwrap_or(1).max(1) as f64;
    let plot_width = WIDTH - LEFT - 8.0;
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = plot_width / runs.len() as f64;
    let bar = (slot * 0.7).clamp(1.0, 18.0);
    let y_of = |ms: f64| TOP + plot_height - (ms / longest) * plot_height;
    let mut svg = String::new();
    // Grid lines and y labels at 0, half and the longest duration.
    for fraction in [0.0, 0.5, 1.0] {
        let y = y_of(longest * fraction);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"></line><text class="label" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - 8.0,
            LEFT - 6.0,
            y + 4.0,
            duration((longest * fraction) as u64)
        );
    }
    for (i, run) in runs.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let y = y_of(run.duration_ms as f64).min(TOP + plot_height - 2.0);
        let _ = write!(
            svg,
            r#"<rect class="{}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}"><title>{} {} · {}</title></rect>"#,
            if run.success { "ok" } else { "fail" },
            TOP + plot_height - y,
            maud::html! { (run.command) }.into_string(),
            if run.success {
                "ok".to_string()
            } else {
                maud::html! { (run.status) }.into_string()
            },
            duration(run.duration_ms)
        );
    }
    for (class, value) in [("p50", p50), ("p99", p99)] {
        let y = y_of(value as f64);
        let _ = write!(
            svg,
            r#"<line class="{class}" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"></line>"#,
            WIDTH - 8.0
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"></line><text class="label" x="{LEFT}" y="{}">oldest</text><text class="label" x="{}" y="{}" text-anchor="end">newest</text>"#,
        WIDTH - 8.0,
        TOP + plot_height,
        TOP + plot_height,
        HEIGHT - 6.0,
        WIDTH - 8.0,
        HEIGHT - 6.0
    );
    let failed = runs.iter().filter(|r| !r.success).count();
    let label = format!(
        "{} executions, {} ok and {} failed; p50 {}, p99 {}",
        runs.len(),
        runs.len() - failed,
        failed,
        duration(p50),
        duration(p99)
    );
    html! {
        figure class="chart-figure" {
            svg class="chart" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) {
                title { (label) }
                (PreEscaped(svg))
            }
            figcaption class="legend" {
                span { span class="swatch swatch-ok" {} "ok" }
                span { span class="swatch swatch-fail" {} "failed" }
                span { span class="swatch swatch-p50" {} "p50 " (duration(p50)) }
                span { span class="swatch swatch-p99" {} "p99 " (duration(p99)) }
                span { (runs.len()) " runs, " (failed) " failed" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: u64, success: bool) -> ExecutionSummary {
        ExecutionSummary {
            id: format!("e{ms}"),
            command: "list<contacts>".into(),
            status: if success {
                "ok".into()
            } else {
                "TIMEOUT".into()
            },
            success,
            started_at_ms: ms,
            duration_ms: ms,
            agent: None,
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn charts_describe_themselves_and_escape_text() {
        let runs = vec![run(10, true), run(30, false), run(20, true)];
        let chart = outcome_chart(&runs).into_string();
        assert!(chart.contains("3 executions, 2 ok and 1 failed"), "{chart}");
        assert!(
            chart.contains("list&lt;contacts&gt;"),
            "command names are escaped"
        );
        assert!(!chart.contains("style="), "no inline style (CSP)");
        let spark = sparkline(&runs).into_string();
        assert!(spark.contains("last 3 runs: 2 ok, 1 failed"));
        assert_eq!(spark.matches("<rect").count(), 3);
    }
}
