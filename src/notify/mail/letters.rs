//! The letters: plain text and HTML rendered from the same template.

use askama::Template;

use crate::error::{AppError, AppResult};

#[derive(Template)]
#[template(path = "email/letter.txt")]
struct LetterText<'a> {
    l: &'a Letter,
}

#[derive(Template)]
#[template(path = "email/letter.html")]
struct LetterHtml<'a> {
    l: &'a Letter,
}

/// One email: the organization's name at the top, a greeting, paragraphs, an optional button.
pub struct Letter {
    pub org_name: String,
    pub greeting: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
    pub footer: String,
}

impl Letter {
    pub fn render(&self) -> AppResult<(String, String)> {
        let text = LetterText { l: self }
            .render()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("email template: {e}")))?;
        let html = LetterHtml { l: self }
            .render()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("email template: {e}")))?;
        Ok((text, html))
    }
}

pub struct NotificationMail<'a> {
    pub org_name: &'a str,
    pub recipient_name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub link: Option<String>,
    pub preferences_url: String,
}

pub fn render_notification(m: &NotificationMail<'_>) -> AppResult<(String, String)> {
    Letter {
        org_name: m.org_name.to_string(),
        greeting: format!("Hello {},", m.recipient_name),
        title: m.subject.to_string(),
        paragraphs: paragraphs(m.body),
        link: m
            .link
            .clone()
            .map(|url| ("Open in Logbook".to_string(), url)),
        footer: format!(
            "You get this email because of your notification settings: {}",
            m.preferences_url
        ),
    }
    .render()
}

pub fn paragraphs(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_escape_html_but_not_text() {
        let (text, html) = render_notification(&NotificationMail {
            org_name: "Station <1>",
            recipient_name: "Pat",
            subject: "Drill & dinner",
            body: "First <b>line</b>.\n\nSecond.",
            link: Some("http://x/events/1".into()),
            preferences_url: "http://x/account/notifications".into(),
        })
        .unwrap();
        assert!(text.contains("Drill & dinner") && text.contains("First <b>line</b>."));
        assert!(!html.contains("<b>") && !html.contains("Drill & dinner"));
        assert!(html.contains("Drill &#38; dinner"), "{html}");
        assert!(html.contains("href=\"http://x/events/1\""));
        assert!(text.contains("Second."));
    }
}
