//! The frame every console page shares and the small pieces pages are built from. HTML comes
//! from `maud`, which escapes every value it is given: nothing a user submitted reaches a page
//! unescaped.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::Session;

/// Which section of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Machines,
    Executions,
    Approvals,
    Queues,
    Check,
}

/// A whole page: head, navigation, the body.
pub fn page(title: &str, session: &Session, section: Section, body: Markup) -> Markup {
    let nav = [
        (Section::Machines, "/", "State machines"),
        (Section::Executions, "/console/executions", "Executions"),
        (Section::Approvals, "/console/approvals", "Approvals"),
        (Section::Queues, "/console/queues", "Activities & schedules"),
        (Section::Check, "/console/check", "Check a definition"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sluice" }
                link rel="icon" href="/favicon.ico" type="image/svg+xml";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "sluice" }
                    nav {
                        @for (s, href, label) in nav {
                            a href=(href) class=[(s == section).then_some("active")] { (label) }
                        }
                    }
                    @if let Some(id) = &session.key_id {
                        form.signout method="post" action="/console/logout" {
                            (csrf(session))
                            span.who { (id) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden field every form posts its CSRF token in.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A 200 HTML response with the console's security headers.
pub fn respond(markup: Markup) -> Response {
    respond_with(StatusCode::OK, markup)
}

/// An HTML response with this status and the console's security headers.
pub fn respond_with(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// An error page: what went wrong and where to go back to.
pub fn error_page(session: &Session, status: StatusCode, title: &str, message: &str) -> Response {
    respond_with(
        status,
        page(
            title,
            session,
            Section::Machines,
            html! {
                h1 { (title) }
                p.error-box { (message) }
                p { a href="/" { "Home" } }
            },
        ),
    )
}

/// Seconds since the epoch as `2026-12-03 07:41:02.123 UTC`.
pub fn time(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_else(|| format!("{t}"))
}

/// A duration in seconds as `1.25 s`, `3 min 4 s` or `2 h 5 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.2} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// A status as a coloured label.
pub fn badge(status: &str) -> Markup {
    html! { span class={ "badge " (status.to_ascii_lowercase()) } { (status) } }
}

/// JSON text pretty-printed when it parses, as given otherwise; cut at `max` bytes.
pub fn pretty(text: &str, max: usize) -> String {
    let mut out = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string());
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n… (cut; the API returns it whole)");
    }
    out
}

/// A query-string value, percent-encoded.
pub fn q(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// JSON for a `<script type="application/json">` block: `<` escaped so no text can close it.
pub fn script_json(value: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(value.to_string().replace('<', "\\u003c"))
}

/// The name at the end of an ARN (`…:execution:machine:name` → `name`).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_its_script() {
        let v = serde_json::json!({"x": "</script><script>alert(1)</script>"});
        assert!(!script_json(&v).0.contains("</script>"));
    }

    #[test]
    fn pretty_cuts_on_a_char_boundary() {
        let text = format!("\"{}\"", "é".repeat(100));
        let out = pretty(&text, 10);
        assert!(out.contains("cut"));
    }

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(time(0.5), "1970-01-01 00:00:00.500 UTC");
        assert_eq!(duration(1.25), "1.25 s");
        assert_eq!(duration(184.0), "3 min 4 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
    }
}
