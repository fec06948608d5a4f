//! The daily certification expiry notices (`reference/features.md` §1.3, "Cert alerts"): the
//! member at 90, 60, 30 and 7 days before a certification expires and when it has expired; the
//! training officers (holders of `training.manage`) copied from 30 days on. Each tier goes once
//! per record: the tier is written to `training_expiry_alerts` (primary key record + tier) in the
//! same transaction as the notices, so a re-run, a restart or two servers never send it twice;
//! and a tier is skipped once a more urgent one has gone (a record entered 20 days before its
//! expiry gets the 30-day notice, not 90 and 60 as well).
//!
//! Only the certification that decides counts: a record whose member holds a later-expiring (or
//! non-expiring) completion of the same course is renewed, and gets no notice.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::auth::permissions::TRAINING_MANAGE;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const JOB: &str = "cert_expiry";

/// The tiers, most urgent last: the days before expiry at which each starts.
const TIERS: &[(&str, i64)] = &[("90", 90), ("60", 60), ("30", 30), ("7", 7)];

/// The tier a certification expiring on `expires` is in on `today`, if any.
pub fn tier(expires: NaiveDate, today: NaiveDate) -> Option<&'static str> {
    let days = (expires - today).num_days();
    if days < 0 {
        return Some("expired");
    }
    TIERS
        .iter()
        .rev()
        .find(|(_, within)| days <= *within)
        .map(|(t, _)| *t)
}

/// The tiers at least as urgent as `t`.
fn as_urgent(t: &str) -> Vec<&'static str> {
    let order = ["90", "60", "30", "7", "expired"];
    let at = order.iter().position(|o| *o == t).unwrap_or(0);
    order[at..].to_vec()
}

pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut conn = state.db.acquire().await?;
    let today = super::service::today(&mut conn, org).await?;
    let locale = crate::organization::service::locale_of(&mut conn, org).await?;
    // Certifications expiring within 90 days or already expired, not renewed since.
    let due = super::service::expiring(&mut conn, org, today + chrono::Days::new(90)).await?;
    let officers = notify::holders_of(&mut conn, org, TRAINING_MANAGE).await?;
    drop(conn);
    let mut sent = 0;
    for d in due {
        let Some(t) = tier(d.expiration_date, today) else {
            continue;
        };
        let mut tx = state.db.begin().await?;
        // A tier this urgent or more already went: nothing.
        let urgent = as_urgent(t);
        let placeholders = vec!["?"; urgent.len()].join(",");
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM training_expiry_alerts WHERE record_id = ? AND tier IN ({placeholders})"
        )))
        .bind(d.id);
        for u in &urgent {
            q = q.bind(*u);
        }
        if q.fetch_one(&mut *tx).await? > 0 {
            continue;
        }
        let inserted = sqlx::query(
            "INSERT IGNORE INTO training_expiry_alerts (record_id, tier, organization_id, sent_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(d.id)
        .bind(t)
        .bind(org)
        .bind(crate::db::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        let when = if t == "expired" {
            format!("expired on {}", locale.day(d.expiration_date))
        } else {
            let days = (d.expiration_date - today).num_days();
            format!(
                "expires on {} (in {days} day{})",
                locale.day(d.expiration_date),
                if days == 1 { "" } else { "s" }
            )
        };
        let member_notice = Notice {
            category: "training",
            subject: if t == "expired" {
                format!("Your {} certification has expired", d.course_name)
            } else {
                format!("Your {} certification {when}", d.course_name)
            },
            body: format!(
                "Your {} certification {when}. Renew it and give the certificate to your \
                 training officer (or submit it in Logbook) so that your record stays current.",
                d.course_name
            ),
            link: Some("/training/me".into()),
            dedupe_key: Some(format!("cert-expiry:{}:{t}", d.id)),
        };
        notify::notify(&state.notifier, &mut tx, org, &[d.user_id], &member_notice).await?;
        if matches!(t, "30" | "7" | "expired") {
            let copy: Vec<Uuid> = officers
                .iter()
                .copied()
                .filter(|o| *o != d.user_id)
                .collect();
            let officer_notice = Notice {
                category: "training",
                subject: format!(
                    "{} {}'s {} certification {when}",
                    d.first_name, d.last_name, d.course_name
                ),
                body: format!(
                    "{} {}'s {} certification {when}. You receive this as a training officer.",
                    d.first_name, d.last_name, d.course_name
                ),
                link: Some(format!("/training/members/{}", d.user_id)),
                dedupe_key: Some(format!("cert-expiry-officer:{}:{t}", d.id)),
            };
            notify::notify(&state.notifier, &mut tx, org, &copy, &officer_notice).await?;
        }
        tx.commit().await?;
        sent += 1;
    }
    state.mailer.kick();
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_tier_of_a_certification_by_days_left() {
        let today = d("2026-06-01");
        for (expires, want) in [
            ("2026-09-01", None),
            ("2026-08-30", Some("90")),
            ("2026-07-31", Some("60")),
            ("2026-07-01", Some("30")),
            ("2026-06-08", Some("7")),
            ("2026-06-01", Some("7")),
            ("2026-05-31", Some("expired")),
        ] {
            assert_eq!(tier(d(expires), today), want, "{expires}");
        }
        assert_eq!(as_urgent("30"), ["30", "7", "expired"]);
        assert_eq!(as_urgent("expired"), ["expired"]);
    }
}
