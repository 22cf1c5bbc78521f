//! Fixed number, time and text formatting for the report, so the same data always gives the
//! same bytes, and rich text that renders to both Markdown and HTML.

use crate::compare::Estimate;

/// An integer with thousands separators: `1,204`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let first = match len % 3 {
        0 => 3.min(len),
        r => r,
    };
    let mut out = String::with_capacity(len + len / 3);
    out.push_str(&digits[..first]);
    for k in (first..len).step_by(3) {
        out.push(',');
        out.push_str(&digits[k..k + 3]);
    }
    out
}

/// A fraction as a percentage with `decimals` decimals: `33%`; `n/a` when not a number.
pub(crate) fn pct(fraction: f64, decimals: usize) -> String {
    if fraction.is_finite() {
        format!("{:.*}%", decimals, fraction * 100.0)
    } else {
        "n/a".to_owned()
    }
}

/// Milliseconds, rounded, with thousands separators: `27,001 ms`.
pub(crate) fn ms(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        format!("{} ms", thousands(v.round() as u64))
    } else {
        "n/a".to_owned()
    }
}

/// A point in a run as a compact clock: `45s`, `4m`, `4m30s`, `1h5m`.
pub(crate) fn clock(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || (h > 0 && s > 0) {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || total == 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A time window: `4m–6m`.
pub(crate) fn window(start_s: f64, end_s: f64) -> String {
    format!("{}–{}", clock(start_s), clock(end_s))
}

/// A compact axis number: `0`, `0.5`, `12`, `1,500`.
pub(crate) fn axis_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if a >= 1000.0 || (a >= 10.0 && (v - v.round()).abs() < 1e-9) {
        let s = thousands(a.round() as u64);
        if v < 0.0 {
            format!("-{s}")
        } else {
            s
        }
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_owned()
        } else {
            s.to_owned()
        }
    }
}

/// Decimals that tell apart ticks about `span / ticks` apart: 0 for 10, 1 for 0.5, 2 for 0.05.
pub(crate) fn tick_decimals(span: f64, ticks: usize) -> usize {
    let step = span / ticks.max(1) as f64;
    if !step.is_finite() || step <= 0.0 {
        return 0;
    }
    (-step.log10().floor()).clamp(0.0, 4.0) as usize
}

/// `v` with `decimals` decimals, thousands separated when there are none: `1,500`, `10.5`.
pub(crate) fn fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if decimals == 0 {
        let s = thousands(v.abs().round() as u64);
        if v < 0.0 && s != "0" {
            format!("-{s}")
        } else {
            s
        }
    } else {
        format!("{v:.decimals$}")
    }
}

/// A headline metric's value as the comparison table shows it, with `± ci` when `seeds > 1`.
pub(crate) fn metric(metric: &str, e: Estimate, seeds: usize) -> String {
    if !e.mean.is_finite() {
        return "n/a".to_owned();
    }
    let (value, ci) = match metric {
        "success_rate" => (
            format!("{:.2}%", e.mean * 100.0),
            format!("{:.2}", e.ci95 * 100.0),
        ),
        "attempts_per_request" => (format!("{:.3}", e.mean), format!("{:.3}", e.ci95)),
        "cost" => (format!("{:.2}", e.mean), format!("{:.2}", e.ci95)),
        "rate_limit_hits" | "fallbacks" => (
            thousands(e.mean.max(0.0).round() as u64),
            format!("{:.0}", e.ci95),
        ),
        _ => (
            thousands(e.mean.max(0.0).round() as u64),
            thousands(e.ci95.max(0.0).round() as u64),
        ),
    };
    if seeds > 1 && e.ci95.is_finite() {
        format!("{value} ± {ci}")
    } else {
        value
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for Markdown (outside code spans), including table pipes.
pub(crate) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One piece of rich text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Span {
    /// Plain text.
    Text(String),
    /// An identifier (deployment, tier, strategy name), shown as code.
    Code(String),
    /// Emphasised text.
    Strong(String),
}

/// Rich text: a sentence made of spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rich(pub Vec<Span>);

impl Rich {
    /// Appends plain text.
    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.0.push(Span::Text(s.into()));
        self
    }

    /// Appends an identifier.
    pub fn code(&mut self, s: impl Into<String>) -> &mut Self {
        self.0.push(Span::Code(s.into()));
        self
    }

    /// Appends emphasised text.
    pub fn strong(&mut self, s: impl Into<String>) -> &mut Self {
        self.0.push(Span::Strong(s.into()));
        self
    }

    /// Appends identifiers as a list: `a`, `b` and `c`.
    pub fn code_list(&mut self, items: &[&str]) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text(if i + 1 == items.len() { " and " } else { ", " });
            }
            self.code(*item);
        }
        self
    }

    /// The Markdown rendering.
    pub fn markdown(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Text(t) => md_escape(t),
                Span::Code(t) => format!("`{}`", t.replace('`', "'")),
                Span::Strong(t) => format!("**{}**", md_escape(t)),
            })
            .collect()
    }

    /// The HTML rendering.
    pub fn html(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Text(t) => html_escape(t),
                Span::Code(t) => format!("<code>{}</code>", html_escape(t)),
                Span::Strong(t) => format!("<strong>{}</strong>", html_escape(t)),
            })
            .collect()
    }

    /// The plain-text rendering.
    #[cfg(test)]
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Text(t) | Span::Code(t) | Span::Strong(t) => t.as_str(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(pct(0.3333, 0), "33%");
        assert_eq!(pct(f64::NAN, 1), "n/a");
        assert_eq!(ms(27000.6), "27,001 ms");
        assert_eq!(clock(240.0), "4m");
        assert_eq!(clock(270.0), "4m30s");
        assert_eq!(clock(45.0), "45s");
        assert_eq!(clock(0.0), "0s");
        assert_eq!(clock(3900.0), "1h5m");
        assert_eq!(window(240.0, 360.0), "4m–6m");
        assert_eq!(axis_number(0.5), "0.5");
        assert_eq!(axis_number(2000.0), "2,000");
        assert_eq!(axis_number(0.0), "0");
        assert_eq!(tick_decimals(3.0, 10), 1);
        assert_eq!(tick_decimals(3000.0, 10), 0);
        assert_eq!(tick_decimals(0.2, 10), 2);
        assert_eq!(fixed(9.5, 1), "9.5");
        assert_eq!(fixed(-1500.0, 0), "-1,500");
        assert_eq!(fixed(-0.2, 0), "0");
    }

    #[test]
    fn metric_values_with_and_without_ci() {
        let e = Estimate {
            mean: 0.99912,
            ci95: 0.0004,
        };
        assert_eq!(metric("success_rate", e, 1), "99.91%");
        assert_eq!(metric("success_rate", e, 3), "99.91% ± 0.04");
        let e = Estimate {
            mean: 27001.2,
            ci95: 1500.0,
        };
        assert_eq!(metric("latency_p99_ms", e, 2), "27,001 ± 1,500");
    }

    #[test]
    fn rich_text_escapes_for_each_target() {
        let mut r = Rich::default();
        r.strong("a<b")
            .text(" sent 5% to ")
            .code_list(&["x|y", "z"]);
        assert_eq!(r.markdown(), "**a\\<b** sent 5% to `x|y` and `z`");
        assert_eq!(
            r.html(),
            "<strong>a&lt;b</strong> sent 5% to <code>x|y</code> and <code>z</code>"
        );
        assert_eq!(r.plain(), "a<b sent 5% to x|y and z");
    }
}
