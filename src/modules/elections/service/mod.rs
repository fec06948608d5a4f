//! Elections' SQL: elections, their positions and candidates (nominations), and the lifecycle
//! here; the roll, casting, receipts and paper ballots in `voting`; the count, turnout, the
//! close and runoffs in `results`. Every statement is scoped by the caller's organization;
//! every change checks `elections.manage` (or is the member's own nomination, answer or
//! ballot) and is audited in its transaction — except a cast, which is recorded only on the
//! roll (see `voting`), so the audit log never orders voters beside the ballot chain.

pub mod results;
pub mod voting;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::rules::{CandidateStatus, ElectionStatus, TiePolicy, VotingMethod};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::Page;
use crate::input::{self, Checks};
use crate::members::rules::MemberStatus;
use crate::notify::{self, Notice, Notifier};

pub const ELECTIONS_VIEW: &str = "elections.view";
pub const ELECTIONS_MANAGE: &str = "elections.manage";
/// The most candidates (nominations included) one position takes.
pub const MAX_CANDIDATES: i64 = 40;

pub use crate::http::Named;


// ---------------------------------------------------------------------------------------------
// Reading

/// An election with its positions and their candidates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Election {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    #[schema(schema_with = ElectionStatus::schema_object)]
    pub status: ElectionStatus,
    #[schema(schema_with = VotingMethod::schema_object)]
    pub voting_method: VotingMethod,
    /// Supermajority: the share of the ballots needed (67 stands for two thirds).
    pub supermajority_percent: u8,
    #[schema(schema_with = TiePolicy::schema_object)]
    pub tie_policy: TiePolicy,
    /// Members with these statuses are on the roll when voting opens.
    pub voter_statuses: Vec<String>,
    /// Members whose membership tier is not voting-eligible, or whose meeting attendance is below
    /// their tier's minimum, are left off the roll.
    pub require_voting_tier: bool,
    /// Results show while voting is open; otherwise only after the close.
    pub results_visible_immediately: bool,
    pub nomination_deadline: Option<DateTime<Utc>>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub reminder_hours_before_close: Option<u16>,
    /// The election this one is a runoff of.
    pub parent_election_id: Option<Uuid>,
    /// Ballots in the chain (online and attested paper).
    pub ballot_count: u32,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub positions: Vec<Position>,
}

/// An office or question on the ballot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Position {
    pub id: Uuid,
    pub name: String,
    pub seats: u8,
    /// Set: only holders of this role vote on the position.
    pub voter_role: Option<Named>,
    pub candidates: Vec<Candidate>,
    /// A tie the chair broke after the close.
    pub decided_candidate_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub id: Uuid,
    pub position_id: Uuid,
    /// The member standing; none for a named option ("Admit").
    pub member: Option<Named>,
    pub name: String,
    pub statement: Option<String>,
    pub nominated_by: Option<Named>,
    #[schema(schema_with = CandidateStatus::schema_object)]
    pub status: CandidateStatus,
}

#[derive(sqlx::FromRow)]
struct ElectionRow {
    id: Uuid,
    title: String,
    description: Option<String>,
    status: ElectionStatus,
    voting_method: VotingMethod,
    supermajority_percent: u8,
    tie_policy: TiePolicy,
    voter_statuses: String,
    require_voting_tier: bool,
    results_visible_immediately: bool,
    nomination_deadline: Option<DateTime<Utc>>,
    opens_at: Option<DateTime<Utc>>,
    closes_at: Option<DateTime<Utc>>,
    reminder_hours_before_close: Option<u16>,
    parent_election_id: Option<Uuid>,
    ballot_count: u32,
    opened_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    cancellation_reason: Option<String>,
    created_at: DateTime<Utc>,
}

const ELECTION_COLUMNS: &str = "id, title, description, status, voting_method,
        supermajority_percent, tie_policy, voter_statuses, require_voting_tier,
        results_visible_immediately, nomination_deadline, opens_at, closes_at,
        reminder_hours_before_close, parent_election_id, ballot_count, opened_at, closed_at,
        cancelled_at, cancellation_reason, created_at";

impl ElectionRow {
    fn into_election(self, positions: Vec<Position>) -> Election {
        Election {
            id: self.id,
            title: self.title,
            description: self.description,
            status: self.status,
            voting_method: self.voting_method,
            supermajority_percent: self.supermajority_percent,
            tie_policy: self.tie_policy,
            voter_statuses: serde_json::from_str(&self.voter_statuses).unwrap_or_default(),
            require_voting_tier: self.require_voting_tier,
            results_visible_immediately: self.results_visible_immediately,
            nomination_deadline: self.nomination_deadline,
            opens_at: self.opens_at,
            closes_at: self.closes_at,
            reminder_hours_before_close: self.reminder_hours_before_close,
            parent_election_id: self.parent_election_id,
            ballot_count: self.ballot_count,
            opened_at: self.opened_at,
            closed_at: self.closed_at,
            cancelled_at: self.cancelled_at,
            cancellation_reason: self.cancellation_reason,
            created_at: self.created_at,
            positions,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PositionRow {
    id: Uuid,
    name: String,
    seats: u8,
    voter_role_id: Option<Uuid>,
    role_name: Option<String>,
    decided_candidate_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    id: Uuid,
    position_id: Uuid,
    user_id: Option<Uuid>,
    name: String,
    statement: Option<String>,
    nominated_by: Option<Uuid>,
    nominator_name: Option<String>,
    status: CandidateStatus,
}

/// The election's row, if the caller may see it: drafts only to its managers.
async fn election_row(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<ElectionRow> {
    ctx.require(ELECTIONS_VIEW)?;
    let row: ElectionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ELECTION_COLUMNS} FROM elections WHERE organization_id = ? AND id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.status == ElectionStatus::Draft && !ctx.has(ELECTIONS_MANAGE) {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

async fn positions_of(conn: &mut Conn, org: OrgId, election: Uuid) -> AppResult<Vec<Position>> {
    let rows: Vec<PositionRow> = sqlx::query_as(
        "SELECT p.id, p.name, p.seats, p.voter_role_id, r.name AS role_name,
                p.decided_candidate_id
           FROM election_positions p
           LEFT JOIN roles r ON r.id = p.voter_role_id
          WHERE p.organization_id = ? AND p.election_id = ?
          ORDER BY p.sort_order, p.name",
    )
    .bind(org)
    .bind(election)
    .fetch_all(&mut *conn)
    .await?;
    let candidates: Vec<CandidateRow> = sqlx::query_as(
        "SELECT c.id, c.position_id, c.user_id, c.name, c.statement, c.nominated_by,
                CONCAT(n.first_name, ' ', n.last_name) AS nominator_name, c.status
           FROM candidates c
           LEFT JOIN users n ON n.organization_id = c.organization_id AND n.id = c.nominated_by
          WHERE c.organization_id = ? AND c.election_id = ?
          ORDER BY c.display_order, c.created_at",
    )
    .bind(org)
    .bind(election)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|p| Position {
            candidates: candidates
                .iter()
                .filter(|c| c.position_id == p.id)
                .map(|c| Candidate {
                    id: c.id,
                    position_id: c.position_id,
                    member: c.user_id.map(|id| Named {
                        id,
                        name: c.name.clone(),
                    }),
                    name: c.name.clone(),
                    statement: c.statement.clone(),
                    nominated_by: Named::of(c.nominated_by, c.nominator_name.clone()),
                    status: c.status,
                })
                .collect(),
            id: p.id,
            name: p.name,
            seats: p.seats,
            voter_role: Named::of(p.voter_role_id, p.role_name),
            decided_candidate_id: p.decided_candidate_id,
        })
        .collect())
}

pub async fn election(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Election> {
    let row = election_row(ctx, conn, id).await?;
    let positions = positions_of(conn, ctx.org_id, id).await?;
    Ok(row.into_election(positions))
}

/// One line of the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ElectionSummary {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = ElectionStatus::schema_object)]
    pub status: ElectionStatus,
    #[schema(schema_with = VotingMethod::schema_object)]
    pub voting_method: VotingMethod,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub parent_election_id: Option<Uuid>,
    pub positions: i64,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ElectionQuery {
    /// Only elections in this state.
    pub status: Option<String>,
    /// Words in the title.
    pub q: Option<String>,
    pub page: Option<u32>,
    /// At most 200.
    pub per_page: Option<u32>,
}

/// Elections, open ones first, then the newest; drafts only for their managers.
pub async fn elections(
    ctx: &Ctx,
    conn: &mut Conn,
    q: ElectionQuery,
) -> AppResult<Page<ElectionSummary>> {
    ctx.require(ELECTIONS_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let status = ElectionStatus::parse_filter("status", q.status.as_deref())?;
    let term = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if term.is_some_and(|t| t.chars().count() > 100) {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
    let filter = |b: &mut QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE e.organization_id = ").push_bind(ctx.org_id);
        if !ctx.has(ELECTIONS_MANAGE) {
            b.push(" AND e.status <> ").push_bind(ElectionStatus::Draft);
        }
        if let Some(s) = status {
            b.push(" AND e.status = ").push_bind(s);
        }
        if let Some(t) = term {
            b.push(" AND e.title LIKE ")
                .push_bind(crate::http::like_pattern(t));
        }
    };
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM elections e");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = QueryBuilder::new(
        "SELECT e.id, e.title, e.status, e.voting_method, e.opens_at, e.closes_at, e.closed_at,
                e.parent_election_id,
                (SELECT COUNT(*) FROM election_positions p
                  WHERE p.organization_id = e.organization_id AND p.election_id = e.id)
                  AS positions
           FROM elections e",
    );
    filter(&mut b);
    b.push(" ORDER BY e.status = ")
        .push_bind(ElectionStatus::Open)
        .push(" DESC, e.created_at DESC LIMIT ")
        .push_bind(per_page)
        .push(" OFFSET ")
        .push_bind(u64::from(page - 1) * u64::from(per_page));
    let items = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

// ---------------------------------------------------------------------------------------------
// Creating and changing an election

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElectionInput {
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    #[schema(schema_with = VotingMethod::schema_object)]
    pub voting_method: String,
    /// Supermajority: 51 to 100 (default 67, which stands for two thirds).
    #[schema(minimum = 51, maximum = 100)]
    pub supermajority_percent: Option<u8>,
    /// Default `runoff`.
    #[schema(schema_with = TiePolicy::schema_object_or_null)]
    pub tie_policy: Option<String>,
    /// Member statuses whose members are on the roll (default `["active"]`).
    pub voter_statuses: Option<Vec<String>>,
    /// Default true.
    pub require_voting_tier: Option<bool>,
    #[serde(default)]
    pub results_visible_immediately: bool,
    pub nomination_deadline: Option<DateTime<Utc>>,
    /// Set: the election opens by itself at this moment.
    pub opens_at: Option<DateTime<Utc>>,
    /// Set: the election closes by itself at this moment.
    pub closes_at: Option<DateTime<Utc>>,
    /// Members who have not voted are reminded this many hours before the close (at most 720).
    #[schema(maximum = 720)]
    pub reminder_hours_before_close: Option<u16>,
}

struct ValidElection {
    title: String,
    description: Option<String>,
    method: VotingMethod,
    percent: u8,
    tie: TiePolicy,
    statuses: Vec<String>,
    require_tier: bool,
    immediate: bool,
    deadline: Option<DateTime<Utc>>,
    opens: Option<DateTime<Utc>>,
    closes: Option<DateTime<Utc>>,
    reminder: Option<u16>,
}

fn check_election(e: ElectionInput, now: DateTime<Utc>) -> AppResult<ValidElection> {
    let mut c = Checks::default();
    let title = c.take(input::required_text("title", &e.title, 200));
    let description = c.take(input::optional_paragraphs(
        "description",
        e.description,
        4000,
    ));
    let method = VotingMethod::parse(e.voting_method.trim());
    if method.is_none() {
        c.push("voting_method", VotingMethod::must_be());
    }
    let percent = e.supermajority_percent.unwrap_or(67);
    if !(51..=100).contains(&percent) {
        c.push("supermajority_percent", "must be between 51 and 100");
    }
    let tie = match e.tie_policy.as_deref().map(str::trim) {
        None | Some("") => Some(TiePolicy::Runoff),
        Some(w) => TiePolicy::parse(w),
    };
    if tie.is_none() {
        c.push("tie_policy", TiePolicy::must_be());
    }
    let statuses = e.voter_statuses.unwrap_or_else(|| vec!["active".into()]);
    let mut clean: Vec<String> = Vec::new();
    for s in &statuses {
        match MemberStatus::parse(s.trim()) {
            Some(MemberStatus::Archived) | None => c.push(
                "voter_statuses",
                format!("`{}` is not a status a voter may have", s.trim()),
            ),
            Some(st) if !clean.iter().any(|x| x == st.as_str()) => clean.push(st.as_str().into()),
            Some(_) => {}
        }
    }
    if clean.is_empty() && c.is_empty() {
        c.push("voter_statuses", "name at least one member status");
    }
    if let Some(h) = e.reminder_hours_before_close
        && h > 720
    {
        c.push(
            "reminder_hours_before_close",
            "must be at most 720 (30 days)",
        );
    }
    if let Some(close) = e.closes_at {
        if close <= now {
            c.push("closes_at", "must be in the future");
        }
        if e.opens_at.is_some_and(|o| o >= close) {
            c.push("closes_at", "must be after the opening");
        }
    }
    if let (Some(d), Some(o)) = (e.nomination_deadline, e.opens_at)
        && d > o
    {
        c.push("nomination_deadline", "must be before voting opens");
    }
    c.finish()?;
    Ok(ValidElection {
        title: title.unwrap_or_default(),
        description: description.flatten(),
        method: method.unwrap_or(VotingMethod::Plurality),
        percent,
        tie: tie.unwrap_or(TiePolicy::Runoff),
        statuses: clean,
        require_tier: e.require_voting_tier.unwrap_or(true),
        immediate: e.results_visible_immediately,
        deadline: e.nomination_deadline.map(db::trunc),
        opens: e.opens_at.map(db::trunc),
        closes: e.closes_at.map(db::trunc),
        reminder: e.reminder_hours_before_close,
    })
}

fn election_changes(v: &ValidElection) -> serde_json::Value {
    serde_json::json!({
        "title": v.title, "voting_method": v.method, "supermajority_percent": v.percent,
        "tie_policy": v.tie, "voter_statuses": v.statuses, "require_voting_tier": v.require_tier,
        "results_visible_immediately": v.immediate, "nomination_deadline": v.deadline,
        "opens_at": v.opens, "closes_at": v.closes, "reminder_hours_before_close": v.reminder,
    })
}

pub async fn create_election(ctx: &Ctx, tx: &mut Tx<'_>, e: ElectionInput) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let v = check_election(e, Utc::now())?;
    let id = db::new_id();
    insert_election(tx, ctx.org_id, id, &v, None, Some(ctx.user_id)).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.created", "election", id).changes(election_changes(&v)),
    )
    .await?;
    election(ctx, tx, id).await
}

async fn insert_election(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: Uuid,
    v: &ValidElection,
    parent: Option<Uuid>,
    by: Option<Uuid>,
) -> AppResult<()> {
    let now = db::now();
    sqlx::query(
        "INSERT INTO elections (id, organization_id, title, description, status, voting_method,
                supermajority_percent, tie_policy, voter_statuses, require_voting_tier,
                results_visible_immediately, nomination_deadline, opens_at, closes_at,
                reminder_hours_before_close, parent_election_id, created_by, created_at,
                updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(org)
    .bind(&v.title)
    .bind(&v.description)
    .bind(ElectionStatus::Draft)
    .bind(v.method)
    .bind(v.percent)
    .bind(v.tie)
    .bind(serde_json::to_string(&v.statuses).map_err(anyhow::Error::new)?)
    .bind(v.require_tier)
    .bind(v.immediate)
    .bind(v.deadline)
    .bind(v.opens)
    .bind(v.closes)
    .bind(v.reminder)
    .bind(parent)
    .bind(by)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The election's row under a lock, for a change; 404 as for any missing row.
async fn lock(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<ElectionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ELECTION_COLUMNS} FROM elections WHERE organization_id = ? AND id = ? FOR UPDATE"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

fn still_preparing(row: &ElectionRow) -> AppResult<()> {
    if row.status.preparing() {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "the election is {}: positions and candidates can change only before voting opens",
            row.status.label().to_lowercase()
        )))
    }
}

/// Changes an election before voting opens.
pub async fn update_election(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    e: ElectionInput,
) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let row = lock(tx, ctx.org_id, id).await?;
    still_preparing(&row)?;
    let v = check_election(e, Utc::now())?;
    if !v.method.fills_several_seats() {
        let several: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM election_positions
              WHERE organization_id = ? AND election_id = ? AND seats > 1",
        )
        .bind(ctx.org_id)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if several > 0 {
            return Err(AppError::field(
                "voting_method",
                "fills one seat per position; a position here has several (plurality or \
                 approval fill several)",
            ));
        }
    }
    sqlx::query(
        "UPDATE elections SET title = ?, description = ?, voting_method = ?,
                supermajority_percent = ?, tie_policy = ?, voter_statuses = ?,
                require_voting_tier = ?, results_visible_immediately = ?,
                nomination_deadline = ?, opens_at = ?, closes_at = ?,
                reminder_hours_before_close = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&v.title)
    .bind(&v.description)
    .bind(v.method)
    .bind(v.percent)
    .bind(v.tie)
    .bind(serde_json::to_string(&v.statuses).map_err(anyhow::Error::new)?)
    .bind(v.require_tier)
    .bind(v.immediate)
    .bind(v.deadline)
    .bind(v.opens)
    .bind(v.closes)
    .bind(v.reminder)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.updated", "election", id)
            .changes(serde_json::json!({"before": row.title, "after": election_changes(&v)})),
    )
    .await?;
    election(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// Positions

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionInput {
    #[schema(max_length = 100)]
    pub name: String,
    /// How many are elected (default 1; several only for plurality and approval).
    #[schema(minimum = 1, maximum = 20)]
    pub seats: Option<u8>,
    /// Only holders of this role vote on the position.
    pub voter_role_id: Option<Uuid>,
}

pub async fn add_position(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    election_id: Uuid,
    p: PositionInput,
) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let row = lock(tx, ctx.org_id, election_id).await?;
    still_preparing(&row)?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &p.name, 100));
    let seats = p.seats.unwrap_or(1);
    if !(1..=20).contains(&seats) {
        c.push("seats", "must be between 1 and 20");
    } else if seats > 1 && !row.voting_method.fills_several_seats() {
        c.push(
            "seats",
            format!(
                "must be 1: {} fills one seat (plurality or approval fill several)",
                row.voting_method.label().to_lowercase()
            ),
        );
    }
    if let Some(r) = p.voter_role_id
        && !db::exists(tx, "roles", ctx.org_id, r).await?
    {
        c.push("voter_role_id", "is not a role of this department");
    }
    c.finish()?;
    let name = name.unwrap_or_default();
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO election_positions (id, organization_id, election_id, name, seats,
                voter_role_id, sort_order)
         SELECT ?, ?, ?, ?, ?, ?, COUNT(*) FROM election_positions
          WHERE organization_id = ? AND election_id = ?",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(election_id)
    .bind(&name)
    .bind(seats)
    .bind(p.voter_role_id)
    .bind(ctx.org_id)
    .bind(election_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        crate::error::unique_violation(
            e,
            &[(
                "uq_election_positions_name",
                "name",
                "is already on this ballot",
            )],
        )
    })?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.position_added", "election", election_id).changes(
            serde_json::json!({"position_id": id, "name": name, "seats": seats,
                               "voter_role_id": p.voter_role_id}),
        ),
    )
    .await?;
    election(ctx, tx, election_id).await
}

/// Takes a position (and its candidates) off the ballot before voting opens.
pub async fn remove_position(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let (election_id, name): (Uuid, String) = sqlx::query_as(
        "SELECT election_id, name FROM election_positions WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = lock(tx, ctx.org_id, election_id).await?;
    still_preparing(&row)?;
    sqlx::query("DELETE FROM candidates WHERE organization_id = ? AND position_id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM election_positions WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.position_removed", "election", election_id)
            .changes(serde_json::json!({"position_id": id, "name": name})),
    )
    .await?;
    election(ctx, tx, election_id).await
}

// ---------------------------------------------------------------------------------------------
// Candidates and nominations

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateInput {
    pub position_id: Uuid,
    /// The member nominated (members nominate members; officers may also add named options).
    pub user_id: Option<Uuid>,
    /// A named option instead of a member ("Admit", "Do not admit"): officers only.
    #[schema(max_length = 150)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub statement: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NomineeRow {
    name: String,
    status: MemberStatus,
    can_hold_office: Option<bool>,
}

/// Adds a candidate. An officer (`elections.manage`) puts a member or a named option on the
/// ballot before voting opens; a member nominates a member (themselves: standing at once;
/// someone else: pending until the nominee accepts) while nominations are open.
pub async fn nominate(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    election_id: Uuid,
    n: CandidateInput,
) -> AppResult<Candidate> {
    ctx.require(ELECTIONS_VIEW)?;
    let manager = ctx.has(ELECTIONS_MANAGE);
    let row = lock(tx, ctx.org_id, election_id).await?;
    if row.status == ElectionStatus::Draft && !manager {
        return Err(AppError::NotFound);
    }
    if !manager {
        if row.status != ElectionStatus::Nominations {
            return Err(AppError::Conflict(
                "nominations are not open for this election".into(),
            ));
        }
        if row.nomination_deadline.is_some_and(|d| d <= Utc::now()) {
            return Err(AppError::Conflict(
                "the nomination deadline has passed".into(),
            ));
        }
    }
    still_preparing(&row)?;
    let mut c = Checks::default();
    let position: Option<String> = sqlx::query_scalar(
        "SELECT name FROM election_positions
          WHERE organization_id = ? AND election_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(election_id)
    .bind(n.position_id)
    .fetch_optional(&mut **tx)
    .await?;
    if position.is_none() {
        c.push("position_id", "is not a position of this election");
    } else {
        // A ballot names each choice by id in a column of 2,000 characters: 40 candidates fit.
        let standing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM candidates WHERE organization_id = ? AND position_id = ?",
        )
        .bind(ctx.org_id)
        .bind(n.position_id)
        .fetch_one(&mut **tx)
        .await?;
        if standing >= MAX_CANDIDATES {
            c.push(
                "position_id",
                format!("has {MAX_CANDIDATES} candidates already, the most a position takes"),
            );
        }
    }
    let statement = c.take(input::optional_paragraphs("statement", n.statement, 2000));
    let option_name = c.take(input::optional_text("name", n.name, 150)).flatten();
    let mut name = String::new();
    match (n.user_id, option_name) {
        (Some(_), Some(_)) => c.push("name", "give a member or a name, not both"),
        (None, None) => c.push("user_id", "choose the member nominated"),
        (None, Some(_)) if !manager => c.push(
            "name",
            "only election officers add named options; nominate a member",
        ),
        (None, Some(o)) => name = o,
        (Some(user), None) => {
            let nominee: Option<NomineeRow> = sqlx::query_as(
                "SELECT CONCAT(u.first_name, ' ', u.last_name) AS name, u.status,
                        t.can_hold_office
                   FROM users u
                   LEFT JOIN membership_tiers t ON t.organization_id = u.organization_id
                                               AND t.id = u.membership_tier_id
                  WHERE u.organization_id = ? AND u.id = ?",
            )
            .bind(ctx.org_id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?;
            let statuses: Vec<String> =
                serde_json::from_str(&row.voter_statuses).unwrap_or_default();
            match nominee {
                None => c.push("user_id", "is not a member of this department"),
                Some(m) if !statuses.iter().any(|s| s == m.status.as_str()) => c.push(
                    "user_id",
                    format!(
                        "is {}: a candidate must be a member who may vote in this election",
                        m.status.as_str().replace('_', " ")
                    ),
                ),
                Some(m) if m.can_hold_office == Some(false) => c.push(
                    "user_id",
                    "cannot hold office: their membership tier does not allow it",
                ),
                Some(m) => name = m.name,
            }
        }
    }
    c.finish()?;
    let status = if manager || n.user_id == Some(ctx.user_id) {
        CandidateStatus::Accepted
    } else {
        CandidateStatus::Pending
    };
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO candidates (id, organization_id, election_id, position_id, user_id, name,
                statement, nominated_by, status, display_order, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, COUNT(*), ? FROM candidates
          WHERE organization_id = ? AND position_id = ?",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(election_id)
    .bind(n.position_id)
    .bind(n.user_id)
    .bind(&name)
    .bind(statement.flatten())
    .bind(ctx.user_id)
    .bind(status)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(n.position_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        crate::error::unique_violation(
            e,
            &[(
                "uq_candidates_member",
                "user_id",
                "is already a candidate for this position",
            )],
        )
    })?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.candidate_added", "election", election_id).changes(
            serde_json::json!({"candidate_id": id, "position_id": n.position_id,
                               "user_id": n.user_id, "name": name, "status": status}),
        ),
    )
    .await?;
    if let (Some(user), CandidateStatus::Pending) = (n.user_id, status) {
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &[user],
            &Notice {
                category: "elections",
                subject: format!(
                    "You were nominated: {}",
                    position.clone().unwrap_or_default()
                ),
                body: format!(
                    "You were nominated for {} in “{}”. Accept or decline on the election's \
                     page; you are on the ballot only once you accept.",
                    position.unwrap_or_default(),
                    row.title
                ),
                link: Some(format!("/elections/{election_id}")),
                dedupe_key: Some(format!("election-nomination:{id}")),
            },
        )
        .await?;
    }
    candidate(ctx, tx, id).await
}

async fn candidate(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Candidate> {
    let election_id: Uuid = sqlx::query_scalar(
        "SELECT election_id FROM candidates WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let e = election(ctx, conn, election_id).await?;
    e.positions
        .into_iter()
        .flat_map(|p| p.candidates)
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    pub accept: bool,
}

/// The nominee accepts or declines (an accepted candidate may still withdraw) before voting.
pub async fn answer_nomination(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    a: AnswerInput,
) -> AppResult<Candidate> {
    ctx.require(ELECTIONS_VIEW)?;
    let (election_id, user): (Uuid, Option<Uuid>) = sqlx::query_as(
        "SELECT election_id, user_id FROM candidates WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = lock(tx, ctx.org_id, election_id).await?;
    if row.status == ElectionStatus::Draft && !ctx.has(ELECTIONS_MANAGE) {
        return Err(AppError::NotFound);
    }
    if user != Some(ctx.user_id) {
        return Err(AppError::Forbidden(
            "only the member nominated answers a nomination".into(),
        ));
    }
    still_preparing(&row)?;
    let status = if a.accept {
        CandidateStatus::Accepted
    } else {
        CandidateStatus::Declined
    };
    sqlx::query("UPDATE candidates SET status = ? WHERE organization_id = ? AND id = ?")
        .bind(status)
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.nomination_answered", "election", election_id)
            .changes(serde_json::json!({"candidate_id": id, "status": status})),
    )
    .await?;
    candidate(ctx, tx, id).await
}

/// Takes a candidate off the ballot before voting opens.
pub async fn remove_candidate(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let (election_id, name): (Uuid, String) = sqlx::query_as(
        "SELECT election_id, name FROM candidates WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = lock(tx, ctx.org_id, election_id).await?;
    still_preparing(&row)?;
    sqlx::query("DELETE FROM candidates WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.candidate_removed", "election", election_id)
            .changes(serde_json::json!({"candidate_id": id, "name": name})),
    )
    .await?;
    election(ctx, tx, election_id).await
}

// ---------------------------------------------------------------------------------------------
// The lifecycle: nominations, open, cancel (close is in `results`)

/// Draft → nominations: members may nominate until the deadline.
pub async fn start_nominations(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let row = lock(tx, ctx.org_id, id).await?;
    if row.status != ElectionStatus::Draft {
        return Err(AppError::Conflict(format!(
            "the election is {}: nominations open from a draft",
            row.status.label().to_lowercase()
        )));
    }
    let positions = positions_of(tx, ctx.org_id, id).await?;
    if positions.is_empty() {
        return Err(AppError::Conflict(
            "add a position before opening nominations".into(),
        ));
    }
    set_status(tx, ctx.org_id, id, ElectionStatus::Nominations).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.nominations_opened", "election", id),
    )
    .await?;
    let members = notify::holders_of(tx, ctx.org_id, ELECTIONS_VIEW).await?;
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &members,
        &Notice {
            category: "elections",
            subject: format!("Nominations are open: {}", row.title),
            body: format!(
                "Nominations are open for “{}” ({}). Nominate a member, or yourself, on the \
                 election's page.",
                row.title,
                positions
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            link: Some(format!("/elections/{id}")),
            dedupe_key: Some(format!("election-nominations:{id}")),
        },
    )
    .await?;
    election(ctx, tx, id).await
}

async fn set_status(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: Uuid,
    status: ElectionStatus,
) -> AppResult<()> {
    let (opened, closed, cancelled) = match status {
        ElectionStatus::Open => (Some(db::now()), None, None),
        ElectionStatus::Closed => (None, Some(db::now()), None),
        ElectionStatus::Cancelled => (None, None, Some(db::now())),
        _ => (None, None, None),
    };
    sqlx::query(
        "UPDATE elections SET status = ?, opened_at = COALESCE(?, opened_at),
                closed_at = COALESCE(?, closed_at), cancelled_at = COALESCE(?, cancelled_at),
                updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(status)
    .bind(opened)
    .bind(closed)
    .bind(cancelled)
    .bind(db::now())
    .bind(org)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Why an election cannot open yet, in words (none: it can).
fn not_ready(row: &ElectionRow, positions: &[Position], now: DateTime<Utc>) -> Option<String> {
    if !row.status.preparing() {
        return Some(format!(
            "the election is {}: only a draft or one taking nominations opens",
            row.status.label().to_lowercase()
        ));
    }
    if positions.is_empty() {
        return Some("add a position first".into());
    }
    if let Some(p) = positions.iter().find(|p| {
        !p.candidates
            .iter()
            .any(|c| c.status == CandidateStatus::Accepted)
    }) {
        return Some(format!("{} has no accepted candidate", p.name));
    }
    if row.closes_at.is_some_and(|c| c <= now) {
        return Some("its closing time has passed: set a new one".into());
    }
    None
}

/// Opens voting (by an officer, or the lifecycle job at `opens_at`): the roll is frozen from
/// the members then eligible, and each is told. Nominations still pending stay off the ballot.
pub(crate) async fn open_as(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    org: OrgId,
    actor: &Actor,
    id: Uuid,
) -> AppResult<u64> {
    let row = lock(tx, org, id).await?;
    let positions = positions_of(tx, org, id).await?;
    if let Some(why) = not_ready(&row, &positions, Utc::now()) {
        return Err(AppError::Conflict(format!(
            "the election cannot open: {why}"
        )));
    }
    let on_roll = voting::freeze_roll(tx, org, &row).await?;
    if on_roll.is_empty() {
        return Err(AppError::Conflict(
            "the election cannot open: no member is eligible to vote (check the voter \
             statuses, the positions' roles and the tiers' voting rules)"
                .into(),
        ));
    }
    sqlx::query(
        "UPDATE elections SET chain_head = ?, ballot_count = 0
          WHERE organization_id = ? AND id = ?",
    )
    .bind(super::rules::genesis(id))
    .bind(org)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    set_status(tx, org, id, ElectionStatus::Open).await?;
    audit::record(
        tx,
        actor,
        Entry::new("elections.opened", "election", id)
            .changes(serde_json::json!({"roll": on_roll.len()})),
    )
    .await?;
    let closes = match row.closes_at {
        Some(_) => " until the close shown on its page",
        None => " until an officer closes it",
    };
    notify::notify(
        notifier,
        tx,
        org,
        &on_roll,
        &Notice {
            category: "elections",
            subject: format!("Voting is open: {}", row.title),
            body: format!(
                "Voting is open for “{}”{closes}. Your ballot is secret: nobody, officers \
                 included, can see how you voted.",
                row.title
            ),
            link: Some(format!("/elections/{id}/ballot")),
            dedupe_key: Some(format!("election-open:{id}")),
        },
    )
    .await?;
    Ok(on_roll.len() as u64)
}

pub async fn open(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    open_as(tx, notifier, ctx.org_id, &ctx.actor(), id).await?;
    election(ctx, tx, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ElectionCancelInput)]
pub struct CancelInput {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Cancels an election that has not closed; ballots already cast are never counted.
pub async fn cancel(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    c: CancelInput,
) -> AppResult<Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    let reason = input::required_text("reason", &c.reason, 500)?;
    let row = lock(tx, ctx.org_id, id).await?;
    if matches!(
        row.status,
        ElectionStatus::Closed | ElectionStatus::Cancelled
    ) {
        return Err(AppError::Conflict(format!(
            "the election is already {}",
            row.status.label().to_lowercase()
        )));
    }
    set_status(tx, ctx.org_id, id, ElectionStatus::Cancelled).await?;
    sqlx::query(
        "UPDATE elections SET cancellation_reason = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(&reason)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.cancelled", "election", id)
            .changes(serde_json::json!({"reason": reason, "was": row.status}))
            .severity(audit::Severity::Warning),
    )
    .await?;
    if row.status == ElectionStatus::Open {
        let roll = voting::roll_members(tx, ctx.org_id, id).await?;
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &roll,
            &Notice {
                category: "elections",
                subject: format!("Election cancelled: {}", row.title),
                body: format!("“{}” was cancelled: {reason}", row.title),
                link: Some(format!("/elections/{id}")),
                dedupe_key: Some(format!("election-cancelled:{id}")),
            },
        )
        .await?;
    }
    election(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// For the pages

/// Members who may be nominated or put on a roll: those who may sign in, by name.
pub async fn nominees(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(ELECTIONS_VIEW)?;
    Ok(sqlx::query_as::<_, (Uuid, String)>(
        "SELECT id, CONCAT(first_name, ' ', last_name) FROM users
          WHERE organization_id = ? AND FIND_IN_SET(status, ?)
          ORDER BY last_name, first_name LIMIT 2000",
    )
    .bind(ctx.org_id)
    .bind(crate::auth::ctx::sign_in_status_set())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(id, name)| Named { id, name })
    .collect())
}

/// The election a position, candidate or paper batch belongs to (404 if not the caller's).
pub async fn election_of(
    ctx: &Ctx,
    conn: &mut Conn,
    table: &'static str,
    id: Uuid,
) -> AppResult<Uuid> {
    ctx.require(ELECTIONS_VIEW)?;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT election_id FROM {table} WHERE organization_id = ? AND id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// What waits for the member: open elections with a position they have not voted on (true),
/// and nominations they have not answered (false).
pub async fn waiting_for(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<(Uuid, String, bool)>> {
    ctx.require(ELECTIONS_VIEW)?;
    Ok(sqlx::query_as(
        "SELECT e.id, e.title, TRUE AS vote FROM elections e
          WHERE e.organization_id = ? AND e.status = ?
            AND EXISTS (SELECT 1 FROM election_voters v
                         WHERE v.organization_id = e.organization_id AND v.election_id = e.id
                           AND v.user_id = ? AND v.voted_by IS NULL)
         UNION ALL
         SELECT DISTINCT e.id, e.title, FALSE FROM elections e
           JOIN candidates c ON c.organization_id = e.organization_id AND c.election_id = e.id
          WHERE e.organization_id = ? AND e.status IN (?, ?)
            AND c.user_id = ? AND c.status = ?
         LIMIT 10",
    )
    .bind(ctx.org_id)
    .bind(ElectionStatus::Open)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(ElectionStatus::Draft)
    .bind(ElectionStatus::Nominations)
    .bind(ctx.user_id)
    .bind(CandidateStatus::Pending)
    .fetch_all(&mut *conn)
    .await?)
}
