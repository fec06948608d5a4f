//! Calendar files: one event's `.ics`, and a member's feed that a phone's calendar subscribes
//! to. The feed's URL carries a secret instead of a session (a calendar app cannot sign in):
//! only its SHA-256 is stored, a new link replaces the old, and revoking ends it. The feed
//! answers only while the member may sign in and holds `events.view`.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{EVENTS_VIEW, Event, event_row};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};

/// The member's feed: whether there is one, since when, last read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Feed {
    pub active: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The subscription address: only in the answer that made it (it is not kept).
    pub url: Option<String>,
}

pub async fn feed(ctx: &Ctx, conn: &mut Conn) -> AppResult<Feed> {
    ctx.require(EVENTS_VIEW)?;
    let row: Option<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT created_at, last_used_at FROM calendar_feeds
          WHERE organization_id = ? AND user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .fetch_optional(conn)
    .await?;
    Ok(Feed {
        active: row.is_some(),
        created_at: row.map(|r| r.0),
        last_used_at: row.and_then(|r| r.1),
        url: None,
    })
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new feed address (the old one, if any, stops working).
pub async fn new_feed(ctx: &Ctx, tx: &mut Tx<'_>, public_url: &str) -> AppResult<Feed> {
    ctx.require(EVENTS_VIEW)?;
    let token = crate::auth::tokens::new_refresh_token();
    let now = db::now();
    sqlx::query(
        "INSERT INTO calendar_feeds (user_id, organization_id, token_hash, created_at)
         VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE token_hash = VALUES(token_hash),
                created_at = VALUES(created_at), last_used_at = NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(token_hash(&token))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.feed_created", "user", ctx.user_id),
    )
    .await?;
    Ok(Feed {
        active: true,
        created_at: Some(now),
        last_used_at: None,
        url: Some(format!("{public_url}/calendar/{token}.ics")),
    })
}

/// Ends the member's feed.
pub async fn revoke_feed(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<Feed> {
    ctx.require(EVENTS_VIEW)?;
    let gone = sqlx::query("DELETE FROM calendar_feeds WHERE organization_id = ? AND user_id = ?")
        .bind(ctx.org_id)
        .bind(ctx.user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(AppError::Conflict("there is no calendar feed to revoke".into()));
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.feed_revoked", "user", ctx.user_id),
    )
    .await?;
    Ok(Feed {
        active: false,
        created_at: None,
        last_used_at: None,
        url: None,
    })
}

#[derive(sqlx::FromRow)]
struct FeedEvent {
    id: Uuid,
    title: String,
    description: Option<String>,
    location: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cancelled: bool,
}

impl FeedEvent {
    fn into_item(self) -> crate::module::FeedItem {
        crate::module::FeedItem {
            uid: self.id.to_string(),
            path: format!("/events/{}", self.id),
            summary: self.title,
            description: self.description,
            location: self.location,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            updated_at: self.updated_at,
            cancelled: self.cancelled,
        }
    }
}

fn vevent(e: &crate::module::FeedItem, host: &str, public_url: &str) -> icalendar::Event {
    let mut v = icalendar::Event::new();
    v.uid(&format!("{}@{host}", e.uid))
        .summary(&e.summary)
        .starts(e.starts_at)
        .ends(e.ends_at)
        .timestamp(e.updated_at)
        .url(&format!("{public_url}{}", e.path))
        .status(if e.cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    if let Some(d) = &e.description {
        v.description(d);
    }
    if let Some(l) = &e.location {
        v.location(l);
    }
    v.done()
}

fn calendar(name: &str, events: &[crate::module::FeedItem], public_url: &str) -> String {
    let host = public_url
        .split("://")
        .nth(1)
        .unwrap_or(public_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("logbook");
    let mut cal = Calendar::new();
    cal.name(name);
    for e in events {
        cal.push(vevent(e, host, public_url));
    }
    cal.done().to_string()
}

const FEED_SELECT: &str = "SELECT e.id, e.title, e.description,
        COALESCE(l.name, e.location_text) AS location, e.starts_at, e.ends_at, e.updated_at,
        e.cancelled_at IS NOT NULL AS cancelled
   FROM events e
   LEFT JOIN locations l ON l.organization_id = e.organization_id AND l.id = e.location_id";

/// One event as an `.ics` file.
pub async fn event_ics(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    public_url: &str,
) -> AppResult<(Event, String)> {
    ctx.require(EVENTS_VIEW)?;
    let event = event_row(ctx, conn, id).await?;
    let row: FeedEvent = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FEED_SELECT} WHERE e.organization_id = ? AND e.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let ics = calendar(&event.title, &[row.into_item()], public_url);
    Ok((event, ics))
}

/// The feed behind a secret: the department's published events from 90 days back (at most
/// 2,000), cancelled ones marked so calendars remove them, and what other modules add for the
/// member (their shifts) while those modules are on. None: no such feed (or its member may no
/// longer see events), which answers 404 like any unknown address.
pub async fn feed_ics(pool: &sqlx::MySqlPool, token: &str, public_url: &str) -> AppResult<Option<String>> {
    if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Ok(None);
    }
    #[derive(sqlx::FromRow)]
    struct Owner {
        user_id: Uuid,
        organization_id: Uuid,
        org_name: String,
        settings: String,
    }
    let mut conn = pool.acquire().await?;
    let owner: Option<Owner> = sqlx::query_as(
        "SELECT f.user_id, f.organization_id, o.name AS org_name, o.settings
           FROM calendar_feeds f
           JOIN users u ON u.organization_id = f.organization_id AND u.id = f.user_id
           JOIN organizations o ON o.id = f.organization_id
          WHERE f.token_hash = ? AND o.active AND FIND_IN_SET(u.status, ?) > 0
            AND EXISTS (SELECT 1 FROM user_roles ur
                          JOIN role_permissions rp ON rp.role_id = ur.role_id
                         WHERE ur.user_id = u.id AND rp.permission = ?)",
    )
    .bind(token_hash(token))
    .bind(crate::auth::ctx::sign_in_status_set())
    .bind(EVENTS_VIEW)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(owner) = owner else { return Ok(None) };
    if crate::module::features_off(&owner.settings).contains(super::super::FEATURE.key) {
        return Ok(None);
    }
    let events: Vec<FeedEvent> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FEED_SELECT} WHERE e.organization_id = ? AND NOT e.is_draft AND e.ends_at >= ?
          ORDER BY e.starts_at LIMIT 2000"
    )))
    .bind(owner.organization_id)
    .bind(db::now() - Duration::days(90))
    .fetch_all(&mut *conn)
    .await?;
    let mut items: Vec<crate::module::FeedItem> =
        events.into_iter().map(FeedEvent::into_item).collect();
    let off = crate::module::features_off(&owner.settings);
    for m in crate::module::installed() {
        if let Some(more) = m.feed
            && !m.feature.is_some_and(|f| off.contains(f.key))
        {
            items.extend(more(&mut conn, owner.organization_id, owner.user_id).await?);
        }
    }
    items.sort_by_key(|i| i.starts_at);
    // Once an hour is enough to say the feed is in use.
    sqlx::query(
        "UPDATE calendar_feeds SET last_used_at = ?
          WHERE user_id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    )
    .bind(db::now())
    .bind(owner.user_id)
    .bind(db::now() - Duration::hours(1))
    .execute(&mut *conn)
    .await?;
    Ok(Some(calendar(&owner.org_name, &items, public_url)))
}
