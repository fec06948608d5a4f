//! The dashboard's training panels (`training.view`): the member's training due; for officers
//! (`training.manage`) also the submissions waiting and the members in red.

use super::super::compliance::Outcome;
use super::super::{service, submissions};
use super::colour;
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};

/// The member's "training due" panel; for officers also submissions waiting and members in red.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut crate::db::Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    let mut panels = Vec::new();
    if !ctx.has(TRAINING_VIEW) {
        return Ok(panels);
    }
    let mine = service::member_compliance(ctx, conn, ctx.user_id, None).await?;
    let c = &mine.compliance;
    let mut items: Vec<PanelItem> = c
        .requirements
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Met | Outcome::Waived))
        .map(|r| PanelItem {
            text: format!("{}: {}", r.name, r.explanation),
            link: "/training".into(),
        })
        .collect();
    if items.is_empty() {
        items.push(PanelItem {
            text: c.reason.clone(),
            link: "/training".into(),
        });
    }
    panels.push(Panel {
        title: format!("Training due ({})", colour(c.status).1),
        items,
    });
    if ctx.has(TRAINING_MANAGE) {
        let pending = submissions::pending_count(ctx, conn).await?;
        let m = service::matrix(
            ctx,
            conn,
            service::MatrixQuery {
                as_of: None,
                status: Some("red".into()),
                q: None,
                requirement_id: None,
            },
        )
        .await?;
        let mut items = vec![PanelItem {
            text: match pending {
                0 => "No submitted training waiting for review".to_string(),
                1 => "1 submitted training waiting for review".to_string(),
                n => format!("{n} submitted trainings waiting for review"),
            },
            link: "/training/submissions".into(),
        }];
        items.push(PanelItem {
            text: match m.red {
                0 => "No member is in red".to_string(),
                1 => "1 member in red".to_string(),
                n => format!("{n} members in red"),
            },
            link: "/training/matrix?status=red".into(),
        });
        items.extend(m.members.iter().take(10).map(|r| PanelItem {
            text: format!("{}: {}", r.member_name, r.reason),
            link: format!("/training/members/{}", r.member_id),
        }));
        panels.push(Panel {
            title: "Training officer".into(),
            items,
        });
        // Certifications running out within 30 days (or run out), not renewed.
        let today = service::today_for(ctx);
        let soon = service::expiring(conn, ctx.org_id, today + chrono::Days::new(30)).await?;
        let mut items = vec![PanelItem {
            text: match soon.len() {
                0 => "No certification runs out in the next 30 days".to_string(),
                1 => "1 certification runs out within 30 days or has run out".to_string(),
                n => format!("{n} certifications run out within 30 days or have run out"),
            },
            link: "/training/records".into(),
        }];
        items.extend(soon.iter().take(10).map(|e| PanelItem {
            text: format!(
                "{} {}: {} {} {}",
                e.first_name,
                e.last_name,
                e.course_name,
                if e.expiration_date < today {
                    "expired on"
                } else {
                    "expires on"
                },
                ctx.locale.day(e.expiration_date)
            ),
            link: format!("/training/members/{}", e.user_id),
        }));
        panels.push(Panel {
            title: "Certifications expiring".into(),
            items,
        });
    }
    Ok(panels)
}
