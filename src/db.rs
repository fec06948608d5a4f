//! The MariaDB pool and embedded migrations. At start the server waits for the database (on a Pi
//! it boots together with the server) with backoff, then applies migrations.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::MySql>;
/// What read-only service functions take: a pooled connection, or a transaction (which derefs
/// to one) when a write needs to read. Reads skip BEGIN/COMMIT.
pub type Conn = sqlx::MySqlConnection;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pool settings chosen so that a lost database turns into a quick 503, never a hung request.
pub fn pool_options() -> MySqlPoolOptions {
    MySqlPoolOptions::new()
        .max_connections(16)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        // No ping per acquire (a round trip per request): the pool drops a connection that
        // fails, and `app::db_gate` checks a request that runs long against a stalled database.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // MySQL 8 caps GROUP_CONCAT at 1 KiB by default; permission lists must not be cut.
                sqlx::Executor::execute(conn, "SET SESSION group_concat_max_len = 1048576").await?;
                Ok(())
            })
        })
}

/// Errors that waiting will not cure: wrong credentials, no such database, no privilege.
fn is_permanent(err: &sqlx::Error) -> bool {
    match err {
        // 1044/1045/1698: access denied; 1049: unknown database.
        sqlx::Error::Database(db) => matches!(
            db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number()),
            Some(1044 | 1045 | 1049 | 1698)
        ),
        sqlx::Error::Configuration(_) => true,
        _ => false,
    }
}

pub fn connect_options(url: &str) -> anyhow::Result<MySqlConnectOptions> {
    let opts = MySqlConnectOptions::from_str(url).with_context(|| {
        format!(
            "database URL `{}` is not valid",
            crate::config::redact_url(url)
        )
    })?;
    // Times are stored in UTC; the session time zone must agree.
    Ok(opts.timezone(Some("+00:00".into())).charset("utf8mb4"))
}

/// Connects, retrying with backoff until `wait` has passed, and logs why each attempt failed.
pub async fn connect_with_retry(url: &str, wait: Duration) -> anyhow::Result<MySqlPool> {
    let opts = connect_options(url)?;
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match pool_options().connect_with(opts.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(err) if is_permanent(&err) => {
                bail!(
                    "cannot use the database at {}: {err}. Check the user, password and \
                     database name in LOGBOOK_DATABASE_URL",
                    crate::config::redact_url(url)
                );
            }
            Err(err) => {
                let waited = started.elapsed();
                if waited >= wait {
                    bail!(
                        "gave up waiting for the database at {} after {}s: {err}. Is MariaDB \
                         running, and are the credentials in LOGBOOK_DATABASE_URL right?",
                        crate::config::redact_url(url),
                        waited.as_secs()
                    );
                }
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64,
                    "database not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

pub async fn migrate(pool: &MySqlPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations failed")
}

/// Now, at the precision the database stores (microseconds), so values round-trip exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A time cut to the precision the database stores.
pub fn trunc(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// A MariaDB named lock (`GET_LOCK`), held on a connection of its own that leaves the pool: if
/// the process dies the connection closes and the database frees the lock at once, so a lock
/// never outlives its holder. Used so that two servers on one database never run the same job or
/// send the same organization's email at once.
pub struct NamedLock {
    conn: Option<sqlx::MySqlConnection>,
    name: String,
}

impl NamedLock {
    /// Takes the lock without waiting; `None` when someone holds it.
    pub async fn try_acquire(
        pool: &MySqlPool,
        name: &str,
    ) -> Result<Option<NamedLock>, sqlx::Error> {
        Self::acquire(pool, name, 0).await
    }

    /// Takes the lock, waiting up to `wait_secs` for its holder; `None` if it is still held.
    pub async fn acquire(
        pool: &MySqlPool,
        name: &str,
        wait_secs: u32,
    ) -> Result<Option<NamedLock>, sqlx::Error> {
        debug_assert!(
            name.len() <= 64,
            "MariaDB lock names are at most 64 characters"
        );
        let mut conn = pool.acquire().await?.detach();
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(name)
            .bind(wait_secs)
            .fetch_one(&mut conn)
            .await?;
        if got == Some(1) {
            Ok(Some(NamedLock {
                conn: Some(conn),
                name: name.to_string(),
            }))
        } else {
            let _ = sqlx::Connection::close(conn).await;
            Ok(None)
        }
    }

    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(&self.name)
                .execute(&mut conn)
                .await;
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// Every state change (approve, reject, void, withdraw, sign off, acknowledge…) goes through
/// here, so that two officers pressing the same button at once make one change, not two.
///
/// The UPDATE names the state it expects in its WHERE clause (`… AND status = 'pending_review'`)
/// and the count of rows it matched decides: InnoDB makes the second of two concurrent UPDATEs
/// wait for the first to commit and then re-read the row, so only one of them matches. (The
/// connection sets `CLIENT_FOUND_ROWS`, so the count is rows matched, not rows changed.) The
/// loser gets 409 with `lost` and, since it returns before any other write, its transaction
/// rolls back with nothing done. Run it before the change's side effects (records made,
/// notices sent, audit entry), never after.
pub async fn transition(
    conn: &mut Conn,
    update: sqlx::query::Query<'_, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    lost: &str,
) -> crate::error::AppResult<()> {
    let matched = update.execute(conn).await?.rows_affected();
    if matched == 0 {
        return Err(crate::error::AppError::Conflict(lost.to_string()));
    }
    Ok(())
}

/// Whether `id` is a row of `table` in the organization (a reference given in input, checked
/// before it is stored). The table is a name written in the code, never input.
pub async fn exists(
    conn: &mut Conn,
    table: &'static str,
    org_id: crate::auth::OrgId,
    id: uuid::Uuid,
) -> crate::error::AppResult<bool> {
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE organization_id = ? AND id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// The ids in a `GROUP_CONCAT(HEX(id))` column (none when it is NULL), for reading a row's
/// links in the row's own statement.
pub fn hex_ids(hex: Option<&str>) -> Vec<uuid::Uuid> {
    hex.unwrap_or_default()
        .split(',')
        .filter_map(|h| uuid::Uuid::parse_str(h).ok())
        .collect()
}

/// Whether the database answers `SELECT 1` within a second on a connection of its own (not one
/// of the pool's, which may all be busy or stuck behind the stall being checked for).
async fn answers(pool: &MySqlPool) -> bool {
    use sqlx::Connection;
    let options = pool.connect_options();
    let asked = tokio::time::timeout(Duration::from_secs(1), async {
        let mut conn = sqlx::MySqlConnection::connect_with(&options).await?;
        let one = sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut conn)
            .await;
        let _ = conn.close().await;
        one
    })
    .await;
    matches!(asked, Ok(Ok(1)))
}

/// Whether the database answered when last asked. While it does not, requests get their 503 at
/// once from this flag instead of each waiting out the pool's connect timeout; a probe asks
/// again every quarter second and clears the flag as soon as the database answers.
#[derive(Clone, Default)]
pub struct Health {
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    probing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The last answer to `still_answers` and when it came.
    last_answer: std::sync::Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
}

/// How long an answer to `still_answers` is good for.
const ANSWER_FRESH: Duration = Duration::from_secs(1);

impl Health {
    /// Whether the database still answers, asked by a request that has run long. Many long
    /// requests at once (a room full of members signing in, each waiting its turn at the
    /// password workers) share one question: an answer younger than `ANSWER_FRESH` is reused,
    /// and while one is being asked the rest wait for it. A hundred fresh connections opened at
    /// once on a busy Pi were slow enough to look like a lost database, and turned a busy
    /// server into one that answered 503.
    pub async fn still_answers(&self, pool: &MySqlPool) -> bool {
        let mut last = self.last_answer.lock().await;
        if let Some((at, answer)) = *last
            && at.elapsed() < ANSWER_FRESH
        {
            return answer;
        }
        let answer = answers(pool).await;
        *last = Some((Instant::now(), answer));
        answer
    }

    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A request found the database gone: answer the next ones at once, and probe until it is
    /// back.
    pub fn lost(&self, pool: &MySqlPool) {
        use std::sync::atomic::Ordering;
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!("the database is not answering; requests get 503 until it is back");
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (health, pool) = (self.clone(), pool.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let answered = tokio::time::timeout(Duration::from_secs(1), async {
                    let mut conn = pool.acquire().await?;
                    sqlx::query_scalar::<_, i32>("SELECT 1")
                        .fetch_one(&mut *conn)
                        .await
                })
                .await;
                if matches!(answered, Ok(Ok(_))) || pool.is_closed() {
                    break;
                }
            }
            health.down.store(false, Ordering::Release);
            health.probing.store(false, Ordering::Release);
            tracing::info!("the database answers again");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fifty long requests asking at once whether a stalled database answers open one
    /// connection between them, and all hear "no".
    #[tokio::test]
    async fn long_requests_share_one_question_to_the_database() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        // A database that takes connections and never says a word.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        let pool = MySqlPool::connect_lazy(&format!("mysql://u:p@127.0.0.1:{port}/db")).unwrap();
        let health = Health::default();
        let mut asks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (health, pool) = (health.clone(), pool.clone());
            asks.spawn(async move { health.still_answers(&pool).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = asks.join_next().await {
            answers.push(answer.unwrap());
        }
        assert_eq!(answers, vec![false; 50]);
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for fifty asks"
        );
    }
}
