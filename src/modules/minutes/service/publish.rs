//! Publishing approved minutes: the record as HTML (shown on the document's page and printed)
//! and as a PDF, filed as a generated document in the department's Minutes folder. Publishing
//! twice files nothing twice: the minutes' row is locked and remembers its document.

use std::path::{Path, PathBuf};

use askama::Template;
use uuid::Uuid;

use super::{Minutes, lock_for, minutes};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Tx};
use crate::error::AppResult;
use crate::modules::documents::service::files::{self, Generated};
use crate::modules::minutes::rules::{MotionResult, Step};

/// The minutes as a person reads them: the same fragment for the document, the print page and
/// the PDF's text.
#[derive(Template)]
#[template(path = "minutes/record.html")]
pub struct Record<'a> {
    pub department: &'a str,
    pub m: &'a Minutes,
    pub date: String,
    pub called: String,
    pub adjourned: String,
    pub approved: String,
    pub locale: crate::time::Locale,
}

impl<'a> Record<'a> {
    pub fn new(ctx: &Ctx, department: &'a str, m: &'a Minutes) -> Record<'a> {
        let local = ctx.local();
        let time = |t: Option<chrono::NaiveTime>| {
            t.map(|t| t.format(ctx.locale.time_pattern(false)).to_string())
                .unwrap_or_default()
        };
        Record {
            department,
            m,
            date: ctx.locale.day(m.meeting_date),
            called: time(m.called_to_order_at),
            adjourned: time(m.adjourned_at),
            approved: m
                .approved_at
                .map(|t| local.moment(&t))
                .unwrap_or_default(),
            locale: ctx.locale,
        }
    }

    fn day(&self, d: &chrono::NaiveDate) -> String {
        self.locale.day(*d)
    }

    fn motion_line(&self, i: &usize) -> String {
        let i = *i;
        let mo = &self.m.motions[i];
        let mut s = mo.motion_text.clone();
        if let Some(by) = &mo.moved_by {
            s.push_str(&format!(" Moved by {}", by.name));
            if let Some(sec) = &mo.seconded_by {
                s.push_str(&format!(", seconded by {}", sec.name));
            }
            s.push('.');
        }
        s.push_str(&format!(" {}.", result_word(mo.result)));
        if let (Some(f), Some(a)) = (mo.votes_for, mo.votes_against) {
            s.push_str(&format!(
                " For {f}, against {a}{}.",
                mo.votes_abstain
                    .map(|x| format!(", abstaining {x}"))
                    .unwrap_or_default()
            ));
        }
        s
    }
}

pub fn result_word(r: MotionResult) -> &'static str {
    match r {
        MotionResult::Passed => "Carried",
        MotionResult::Failed => "Failed",
        MotionResult::Tabled => "Tabled",
        MotionResult::Withdrawn => "Withdrawn",
    }
}

async fn department(conn: &mut crate::db::Conn, ctx: &Ctx) -> AppResult<String> {
    Ok(
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The record's HTML fragment, for the print page.
pub async fn record_html(ctx: &Ctx, conn: &mut crate::db::Conn, m: &Minutes) -> AppResult<String> {
    let dept = department(conn, ctx).await?;
    Ok(Record::new(ctx, &dept, m)
        .render()
        .map_err(anyhow::Error::new)?)
}

/// The printable PDF of the record.
pub fn pdf(ctx: &Ctx, department: &str, m: &Minutes) -> Vec<u8> {
    let r = Record::new(ctx, department, m);
    let mut doc = crate::pdf::Document::new(ctx.locale.paper.points());
    doc.heading(&m.title);
    doc.line(department);
    let mut head = vec![m.meeting_type.label().to_string(), r.date.clone()];
    if let Some(l) = &m.location {
        head.push(l.clone());
    }
    doc.line(&head.join(" · "));
    if let Some(p) = &m.presiding {
        doc.line(&format!("Presiding: {p}"));
    }
    if !r.called.is_empty() {
        doc.line(&format!(
            "Called to order {}{}",
            r.called,
            if r.adjourned.is_empty() {
                String::new()
            } else {
                format!(" · adjourned {}", r.adjourned)
            }
        ));
    }
    if let Some(q) = m.quorum_met {
        doc.line(if q { "Quorum present." } else { "No quorum." });
    }
    doc.gap();
    doc.subheading(&format!("Present ({})", m.attendance.present.len()));
    doc.line(
        &m.attendance
            .present
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    if !m.attendance.excused.is_empty() {
        doc.subheading(&format!("Excused ({})", m.attendance.excused.len()));
        doc.line(
            &m.attendance
                .excused
                .iter()
                .map(|e| e.member.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    for s in &m.sections {
        doc.gap();
        doc.subheading(&s.title);
        for para in s.body.split('\n') {
            doc.line(para);
        }
    }
    if !m.motions.is_empty() {
        doc.gap();
        doc.subheading("Motions");
        for i in 0..m.motions.len() {
            doc.line(&format!("{}. {}", i + 1, r.motion_line(&i)));
        }
    }
    if !m.action_items.is_empty() {
        doc.gap();
        doc.subheading("Action items");
        for a in &m.action_items {
            doc.line(&format!(
                "{} — {}{}",
                a.description,
                a.assignee.name,
                a.due_date
                    .map(|d| format!(", due {}", ctx.locale.day(d)))
                    .unwrap_or_default()
            ));
        }
    }
    doc.gap();
    if let Some(by) = &m.approved_by {
        doc.small(&format!("Approved {} by {}.", r.approved, by.name));
    }
    doc.finish()
}

/// Publishes approved minutes into the Minutes folder (once): returns the minutes and, when a
/// file was written now, its path, which the caller removes if the commit fails.
pub async fn publish(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    id: Uuid,
) -> AppResult<(Minutes, Option<PathBuf>)> {
    let (locked, _) = lock_for(ctx, tx, id, Step::Publish).await?;
    if locked.published_document_id.is_some() {
        return Ok((minutes(ctx, tx, id).await?, None));
    }
    let m = minutes(ctx, tx, id).await?;
    let dept = department(tx, ctx).await?;
    let html = Record::new(ctx, &dept, &m)
        .render()
        .map_err(anyhow::Error::new)?;
    let bytes = pdf(ctx, &dept, &m);
    let (document, path) = files::add_generated(
        ctx,
        tx,
        data_dir,
        Generated {
            folder_key: "minutes",
            name: m.title.clone(),
            file_name: format!("Minutes {}.pdf", m.meeting_date),
            tags: vec!["minutes".into(), m.meeting_type.as_str().into()],
            content_html: html,
            source_type: "meeting_minutes",
            source_id: id,
            bytes,
        },
    )
    .await?;
    // The file is in place: any failure from here removes it, so no file is left that no row
    // names.
    let rest = async {
        sqlx::query(
            "UPDATE meeting_minutes SET published_document_id = ?, updated_at = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(document)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("minutes.published", "meeting_minutes", id)
                .changes(serde_json::json!({"title": m.title, "document_id": document})),
        )
        .await?;
        minutes(ctx, tx, id).await
    }
    .await;
    match rest {
        Ok(out) => Ok((out, Some(path))),
        Err(e) => {
            crate::uploads::remove_quietly(&path);
            Err(e)
        }
    }
}
