//! The member's own account: their live sessions, and ending one or all of them. Each write is
//! audited in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Ctx;
use super::sessions;
use crate::audit::{self, Entry};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};

/// One live session: a refresh-token family whose current token is neither used, revoked nor
/// expired.
#[derive(Debug, sqlx::FromRow)]
pub struct Session {
    pub family_id: Uuid,
    /// When the member signed in (the family's first token).
    pub started_at: DateTime<Utc>,
    /// When the current token was issued (the last refresh, or the sign-in).
    pub last_refresh_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The caller's own live sessions, most recently refreshed first.
pub async fn sessions(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Session>> {
    let rows = sqlx::query_as(
        "SELECT r.family_id,
                (SELECT MIN(f.created_at) FROM refresh_tokens f
                  WHERE f.family_id = r.family_id) AS started_at,
                r.created_at AS last_refresh_at, r.ip_address, r.user_agent
           FROM refresh_tokens r
          WHERE r.user_id = ? AND r.organization_id = ?
            AND r.revoked_at IS NULL AND r.used_at IS NULL AND r.expires_at > ?
          ORDER BY r.created_at DESC",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(db::now())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

/// Ends one of the caller's own sessions. A family that is not theirs (another member's, or
/// none at all) is `NotFound`, the same answer either way.
pub async fn revoke_session(ctx: &Ctx, tx: &mut Tx<'_>, family_id: Uuid) -> AppResult<()> {
    let owned: Option<(i64,)> = sqlx::query_as(
        "SELECT CAST(SUM(revoked_at IS NULL) AS SIGNED) FROM refresh_tokens
          WHERE family_id = ? AND user_id = ? AND organization_id = ?
          GROUP BY family_id",
    )
    .bind(family_id)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((live,)) = owned else {
        return Err(AppError::NotFound);
    };
    if live == 0 {
        // Already ended (a second click): nothing to do and nothing to audit.
        return Ok(());
    }
    sessions::revoke_family(tx, family_id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.sessions_revoked", "member", ctx.user_id).changes(json!({
            "scope": "one",
            "families": [family_id],
            "current": family_id == ctx.session_id,
        })),
    )
    .await
}

/// Ends every session of the caller, this one included.
pub async fn revoke_all_sessions(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<()> {
    let families: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT DISTINCT family_id FROM refresh_tokens
          WHERE user_id = ? AND organization_id = ? AND revoked_at IS NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?;
    sessions::revoke_all_for_user(tx, ctx.org_id, ctx.user_id).await?;
    let families: Vec<Uuid> = families.into_iter().map(|(f,)| f).collect();
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.sessions_revoked", "member", ctx.user_id).changes(json!({
            "scope": "all",
            "families": families,
        })),
    )
    .await
}
