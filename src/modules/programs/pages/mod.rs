//! The program and shift-report pages (under the Training header entry), and this module's
//! dashboard panels.

pub mod programs;
pub mod shift_reports;

use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::Conn;
use crate::error::AppResult;
use crate::module::{Panel, PanelItem};
use crate::modules::training::compliance::show as hours;

pub fn router() -> axum::Router<crate::state::AppState> {
    programs::router().merge(shift_reports::router())
}

/// The member's active programs and the shift reports about them to read; for training officers,
/// the reports waiting for review. Nothing to say: no panel.
pub async fn dashboard_panels(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Panel>> {
    let mut panels = Vec::new();
    if !ctx.has(TRAINING_VIEW) {
        return Ok(panels);
    }
    let enrollments = super::service::enrollments(
        ctx,
        conn,
        super::service::EnrollmentQuery {
            user_id: Some(ctx.user_id),
            status: Some(super::service::EnrollmentStatus::Active.to_string()),
            ..Default::default()
        },
    )
    .await?;
    let mut items: Vec<PanelItem> = enrollments
        .iter()
        .map(|e| PanelItem {
            text: format!(
                "{}: {} % done{}",
                e.program_name,
                hours(e.progress_percentage),
                e.current_phase_name
                    .as_deref()
                    .map(|p| format!(", now in {p}"))
                    .unwrap_or_default()
            ),
            link: format!("/training/enrollments/{}", e.id),
        })
        .collect();
    let unread = super::shift_reports::to_acknowledge(ctx, conn).await?;
    if unread > 0 {
        items.push(PanelItem {
            text: match unread {
                1 => "1 shift report about you to read".to_string(),
                n => format!("{n} shift reports about you to read"),
            },
            link: "/training/shift-reports".into(),
        });
    }
    if !items.is_empty() {
        panels.push(Panel {
            title: "Training programs".into(),
            items,
        });
    }
    if ctx.has(TRAINING_MANAGE) {
        let reports = super::shift_reports::to_review(ctx, conn).await?;
        if reports > 0 {
            panels.push(Panel {
                title: "Shift reports".into(),
                items: vec![PanelItem {
                    text: match reports {
                        1 => "1 shift report waiting for review".to_string(),
                        n => format!("{n} shift reports waiting for review"),
                    },
                    link: "/training/shift-reports".into(),
                }],
            });
        }
    }
    Ok(panels)
}
