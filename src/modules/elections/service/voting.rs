//! The roll, casting, receipts and paper ballots, and the ballot chain.
//!
//! Secrecy: a cast marks the member's roll rows as voted and appends the ballots to the chain,
//! in one transaction under the election's row lock. The ballot row carries no member, no time
//! and a random id; the roll row no time. A cast writes no audit entry and sends no notice:
//! either would put voters in time order beside the chain's order. Who voted is on the roll;
//! what was voted is only in the ballots; nothing joins them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ELECTIONS_MANAGE, ELECTIONS_VIEW, ElectionRow, election_row, lock, positions_of};
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{self, Checks};
use crate::modules::elections::rules::{
    self, BallotSource, BatchStatus, CandidateStatus, ElectionStatus, VotingMethod,
};
use crate::modules::minutes::service::attendance;

// ---------------------------------------------------------------------------------------------
// The roll

/// Freezes the roll as voting opens: for each position, the members then eligible — a voter
/// status, a voting-eligible tier (when the election asks), and the position's role if it names
/// one. When the election asks for a voting tier, members whose meeting attendance is below
/// their tier's minimum (as of the department's today) are left off too. Returns the members on
/// it.
pub(super) async fn freeze_roll(
    tx: &mut Tx<'_>,
    org: OrgId,
    row: &ElectionRow,
) -> AppResult<Vec<Uuid>> {
    let statuses: Vec<String> = serde_json::from_str(&row.voter_statuses).unwrap_or_default();
    sqlx::query("DELETE FROM election_voters WHERE organization_id = ? AND election_id = ?")
        .bind(org)
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO election_voters (organization_id, election_id, position_id, user_id)
         SELECT p.organization_id, p.election_id, p.id, u.id
           FROM election_positions p
           JOIN users u ON u.organization_id = p.organization_id
           LEFT JOIN membership_tiers t ON t.organization_id = u.organization_id
                                       AND t.id = u.membership_tier_id
          WHERE p.organization_id = ? AND p.election_id = ?
            AND FIND_IN_SET(u.status, ?)
            AND (? = FALSE OR t.id IS NULL OR t.voting_eligible)
            AND (p.voter_role_id IS NULL OR EXISTS (
                   SELECT 1 FROM user_roles ur
                    WHERE ur.user_id = u.id AND ur.role_id = p.voter_role_id))",
    )
    .bind(org)
    .bind(row.id)
    .bind(statuses.join(","))
    .bind(row.require_voting_tier)
    .execute(&mut **tx)
    .await?;
    if row.require_voting_tier {
        let today = crate::modules::training::service::today(tx, org).await?;
        let below = attendance::below_minimum(tx, org, today).await?;
        if !below.is_empty() {
            let mut b =
                sqlx::QueryBuilder::new("DELETE FROM election_voters WHERE organization_id = ");
            b.push_bind(org)
                .push(" AND election_id = ")
                .push_bind(row.id)
                .push(" AND user_id IN (");
            let mut ids = b.separated(", ");
            for u in &below {
                ids.push_bind(*u);
            }
            ids.push_unseparated(")");
            b.build().execute(&mut **tx).await?;
        }
    }
    roll_members(tx, org, row.id).await
}

/// Every member on an election's roll, once.
pub(crate) async fn roll_members(conn: &mut Conn, org: OrgId, id: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM election_voters WHERE organization_id = ? AND election_id = ?",
    )
    .bind(org)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A member on the roll: the positions they may vote on and whether they have (never how).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollLine {
    pub user_id: Uuid,
    pub name: String,
    pub positions: Vec<RollPosition>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollPosition {
    pub position_id: Uuid,
    pub position: String,
    pub voted: bool,
    /// On paper (in a batch) rather than online.
    pub on_paper: bool,
    pub added_by_override: bool,
}

#[derive(sqlx::FromRow)]
struct RollRow {
    user_id: Uuid,
    name: String,
    position_id: Uuid,
    position: String,
    voted_by: Option<String>,
    added_by_override: bool,
}

/// The roll (officers): who may vote on what and who has.
pub async fn roll(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Vec<RollLine>> {
    ctx.require(ELECTIONS_MANAGE)?;
    election_row(ctx, conn, id).await?;
    let rows: Vec<RollRow> = sqlx::query_as(
        "SELECT v.user_id, CONCAT(u.first_name, ' ', u.last_name) AS name, v.position_id,
                p.name AS position, v.voted_by, v.added_by_override
           FROM election_voters v
           JOIN users u ON u.organization_id = v.organization_id AND u.id = v.user_id
           JOIN election_positions p ON p.organization_id = v.organization_id
                                    AND p.id = v.position_id
          WHERE v.organization_id = ? AND v.election_id = ?
          ORDER BY u.last_name, u.first_name, u.id, p.sort_order",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<RollLine> = Vec::new();
    for r in rows {
        let line = RollPosition {
            position_id: r.position_id,
            position: r.position,
            voted: r.voted_by.is_some(),
            on_paper: r.voted_by.as_deref() == Some(BallotSource::Paper.as_str()),
            added_by_override: r.added_by_override,
        };
        match out.last_mut() {
            Some(last) if last.user_id == r.user_id => last.positions.push(line),
            _ => out.push(RollLine {
                user_id: r.user_id,
                name: r.name,
                positions: vec![line],
            }),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollChange {
    pub user_id: Uuid,
    /// One position; none: every position of the election.
    pub position_id: Option<Uuid>,
    /// true: put on the roll; false: take off (only before they vote).
    pub on_roll: bool,
    /// Why (the secretary's record): required.
    #[schema(max_length = 500)]
    pub reason: String,
}

/// A secretary's override of the frozen roll while voting is open, audited with its reason.
pub async fn change_roll(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    change: RollChange,
) -> AppResult<Vec<RollLine>> {
    ctx.require(ELECTIONS_MANAGE)?;
    let mut c = Checks::default();
    let reason = c.take(input::required_text("reason", &change.reason, 500));
    let row = lock(tx, ctx.org_id, id).await?;
    if row.status != ElectionStatus::Open {
        return Err(AppError::Conflict(
            "the roll is frozen when voting opens; it can be changed only while voting is open"
                .into(),
        ));
    }
    if !db::exists(tx, "users", ctx.org_id, change.user_id).await? {
        c.push("user_id", "is not a member of this department");
    }
    let positions = positions_of(tx, ctx.org_id, id).await?;
    let chosen: Vec<Uuid> = match change.position_id {
        Some(p) if positions.iter().any(|x| x.id == p) => vec![p],
        Some(_) => {
            c.push("position_id", "is not a position of this election");
            Vec::new()
        }
        None => positions.iter().map(|p| p.id).collect(),
    };
    c.finish()?;
    for p in &chosen {
        if change.on_roll {
            sqlx::query(
                "INSERT IGNORE INTO election_voters (organization_id, election_id, position_id,
                        user_id, added_by_override)
                 VALUES (?, ?, ?, ?, TRUE)",
            )
            .bind(ctx.org_id)
            .bind(id)
            .bind(p)
            .bind(change.user_id)
            .execute(&mut **tx)
            .await?;
        } else {
            let voted: Option<Option<String>> = sqlx::query_scalar(
                "SELECT voted_by FROM election_voters
                  WHERE organization_id = ? AND election_id = ? AND position_id = ? AND user_id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .bind(p)
            .bind(change.user_id)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(Some(_)) = voted {
                return Err(AppError::Conflict(
                    "the member has already voted on this position; the ballot stands".into(),
                ));
            }
            sqlx::query(
                "DELETE FROM election_voters
                  WHERE organization_id = ? AND election_id = ? AND position_id = ? AND user_id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .bind(p)
            .bind(change.user_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.roll_changed", "election", id).changes(serde_json::json!({
            "user_id": change.user_id, "positions": chosen, "on_roll": change.on_roll,
            "reason": reason,
        })),
    )
    .await?;
    roll(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// The member's ballot and casting

/// What the member may vote on, and what they already have.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyBallot {
    pub election_id: Uuid,
    pub title: String,
    #[schema(schema_with = ElectionStatus::schema_object)]
    pub status: ElectionStatus,
    #[schema(schema_with = VotingMethod::schema_object)]
    pub voting_method: VotingMethod,
    pub closes_at: Option<chrono::DateTime<chrono::Utc>>,
    pub positions: Vec<BallotPosition>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BallotPosition {
    pub position_id: Uuid,
    pub name: String,
    pub seats: u8,
    pub voted: bool,
    /// The accepted candidates, in ballot order.
    pub candidates: Vec<super::Named>,
}

pub async fn my_ballot(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<MyBallot> {
    let row = election_row(ctx, conn, id).await?;
    let mine: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT position_id, voted_by FROM election_voters
          WHERE organization_id = ? AND election_id = ? AND user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(ctx.user_id)
    .fetch_all(&mut *conn)
    .await?;
    let positions = positions_of(conn, ctx.org_id, id).await?;
    Ok(MyBallot {
        election_id: id,
        title: row.title,
        status: row.status,
        voting_method: row.voting_method,
        closes_at: row.closes_at,
        positions: positions
            .into_iter()
            .filter_map(|p| {
                let voted = mine.iter().find(|(pid, _)| *pid == p.id)?.1.is_some();
                Some(BallotPosition {
                    position_id: p.id,
                    name: p.name,
                    seats: p.seats,
                    voted,
                    candidates: p
                        .candidates
                        .into_iter()
                        .filter(|c| c.status == CandidateStatus::Accepted)
                        .map(|c| super::Named {
                            id: c.id,
                            name: c.name,
                        })
                        .collect(),
                })
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BallotInput {
    pub position_id: Uuid,
    /// Candidate ids: the one chosen; the approved ones; or the ranking, first choice first.
    pub choices: Vec<Uuid>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CastInput {
    /// One ballot per position voted on (a position left out is not voted on).
    pub ballots: Vec<BallotInput>,
}

/// What the voter keeps: one receipt per ballot, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cast {
    pub receipts: Vec<Receipt>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub position_id: Uuid,
    pub position: String,
    /// `7KQ2-M9XD-4TPA-Z3HC`: checks that this ballot is counted, reveals nothing of it.
    pub receipt: String,
}

/// The ballots given, checked against the positions' candidates and methods: (position id,
/// name, choices as stored) in the order given, or the field errors.
async fn check_ballots(
    conn: &mut Conn,
    org: OrgId,
    row: &ElectionRow,
    ballots: &[BallotInput],
    c: &mut Checks,
) -> AppResult<Vec<(Uuid, String, String)>> {
    if ballots.is_empty() {
        c.push("ballots", "vote on at least one position");
    }
    if ballots.len() > 50 {
        c.push("ballots", "at most 50 ballots at once");
        return Ok(Vec::new());
    }
    let positions = positions_of(conn, org, row.id).await?;
    let mut out = Vec::new();
    for (i, b) in ballots.iter().enumerate() {
        let Some(p) = positions.iter().find(|p| p.id == b.position_id) else {
            c.push(
                &format!("ballots[{i}].position_id"),
                "is not a position of this election",
            );
            continue;
        };
        if out.iter().any(|(id, _, _)| *id == p.id) {
            c.push(
                &format!("ballots[{i}].position_id"),
                "has a second ballot here: one ballot per position",
            );
            continue;
        }
        let candidates: Vec<Uuid> = p
            .candidates
            .iter()
            .filter(|c| c.status == CandidateStatus::Accepted)
            .map(|c| c.id)
            .collect();
        if let Err(why) = rules::check_choices(row.voting_method, p.seats, &candidates, &b.choices)
        {
            c.push(
                &format!("ballots[{i}].choices"),
                format!("{}: {why}", p.name),
            );
            continue;
        }
        let choices: Vec<String> = b.choices.iter().map(Uuid::to_string).collect();
        out.push((
            p.id,
            p.name.clone(),
            serde_json::to_string(&choices).map_err(anyhow::Error::new)?,
        ));
    }
    Ok(out)
}

/// Whether voting is open now (status and times), else why not.
fn voting_now(row: &ElectionRow) -> AppResult<()> {
    let now = chrono::Utc::now();
    match row.status {
        ElectionStatus::Open if row.closes_at.is_some_and(|c| c <= now) => Err(AppError::Conflict(
            "voting has closed for this election".into(),
        )),
        ElectionStatus::Open => Ok(()),
        ElectionStatus::Draft | ElectionStatus::Nominations => Err(AppError::Conflict(
            "voting has not opened for this election".into(),
        )),
        ElectionStatus::Closed => Err(AppError::Conflict(
            "voting has closed for this election".into(),
        )),
        ElectionStatus::Cancelled => Err(AppError::Conflict("this election was cancelled".into())),
    }
}

/// A ballot about to join the chain.
struct NewBallot<'a> {
    position: Uuid,
    choices: &'a str,
    source: BallotSource,
}

/// Appends one ballot to the chain after `head`; returns the new head.
async fn append(
    tx: &mut Tx<'_>,
    org: OrgId,
    election: Uuid,
    head: &str,
    b: NewBallot<'_>,
) -> AppResult<String> {
    // Random, not time-ordered: the id says nothing of when.
    let id = Uuid::new_v4();
    let hash = rules::link(head, id, b.position, b.choices, b.source);
    sqlx::query(
        "INSERT INTO ballots (id, organization_id, election_id, position_id, choices, source,
                prev_hash, chain_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(org)
    .bind(election)
    .bind(b.position)
    .bind(b.choices)
    .bind(b.source)
    .bind(head)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    Ok(hash)
}

async fn chain_head(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<(String, u32)> {
    let (head, count): (Option<String>, u32) = sqlx::query_as(
        // A locking read: the latest head, whatever this transaction read before.
        "SELECT chain_head, ballot_count FROM elections WHERE organization_id = ? AND id = ?
            FOR UPDATE",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok((head.unwrap_or_else(|| rules::genesis(id)), count))
}

async fn set_head(tx: &mut Tx<'_>, org: OrgId, id: Uuid, head: &str, count: u32) -> AppResult<()> {
    // No updated_at: the election's row must not say when the last ballot came.
    sqlx::query(
        "UPDATE elections SET chain_head = ?, ballot_count = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(head)
    .bind(count)
    .bind(org)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Casts the member's ballots: one per position, all or nothing. The election's row is locked
/// for the whole cast, so one member tapping twice (or a hundred times) casts once; the others
/// hear that they already voted.
pub async fn cast(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, input: CastInput) -> AppResult<Cast> {
    ctx.require(ELECTIONS_VIEW)?;
    let row = lock(tx, ctx.org_id, id).await?;
    if row.status == ElectionStatus::Draft && !ctx.has(ELECTIONS_MANAGE) {
        return Err(AppError::NotFound);
    }
    voting_now(&row)?;
    let mut c = Checks::default();
    let ballots = check_ballots(tx, ctx.org_id, &row, &input.ballots, &mut c).await?;
    c.finish()?;
    for (position, name, _) in &ballots {
        let marked = sqlx::query(
            "UPDATE election_voters SET voted_by = ?
              WHERE organization_id = ? AND election_id = ? AND position_id = ? AND user_id = ?
                AND voted_by IS NULL",
        )
        .bind(BallotSource::Online)
        .bind(ctx.org_id)
        .bind(id)
        .bind(position)
        .bind(ctx.user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if marked == 0 {
            let on_roll: Option<Option<String>> = sqlx::query_scalar(
                "SELECT voted_by FROM election_voters
                  WHERE organization_id = ? AND election_id = ? AND position_id = ? AND user_id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .bind(position)
            .bind(ctx.user_id)
            .fetch_optional(&mut **tx)
            .await?;
            return Err(match on_roll {
                Some(_) => AppError::Conflict(format!("you have already voted for {name}")),
                None => AppError::Forbidden(format!(
                    "you are not on the roll for {name}: ask the secretary if you think you \
                     should be"
                )),
            });
        }
    }
    let (mut head, mut count) = chain_head(tx, ctx.org_id, id).await?;
    let mut receipts = Vec::new();
    for (position, name, choices) in ballots {
        head = append(
            tx,
            ctx.org_id,
            id,
            &head,
            NewBallot {
                position,
                choices: &choices,
                source: BallotSource::Online,
            },
        )
        .await?;
        // The receipt goes in a table of its own: it proves a ballot for the position was
        // cast and counted, and points at no ballot.
        let code = rules::new_receipt();
        sqlx::query(
            "INSERT INTO ballot_receipts (receipt_hash, organization_id, election_id, position_id)
             VALUES (?, ?, ?, ?)",
        )
        .bind(rules::receipt_hash(
            &rules::normalize_receipt(&code).unwrap_or_default(),
        ))
        .bind(ctx.org_id)
        .bind(id)
        .bind(position)
        .execute(&mut **tx)
        .await?;
        count += 1;
        receipts.push(Receipt {
            position_id: position,
            position: name,
            receipt: code,
        });
    }
    set_head(tx, ctx.org_id, id, &head, count).await?;
    Ok(Cast { receipts })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptInput {
    #[schema(example = "7KQ2-M9XD-4TPA-Z3HC")]
    pub receipt: String,
}

/// Whether a receipt's ballot is counted — never which ballot it is, nor what it says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptCheck {
    pub counted: bool,
    /// The position the ballot is for.
    pub position: Option<String>,
    /// The chain that holds it verifies from its start to its head.
    pub chain_verified: bool,
}

pub async fn check_receipt(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    r: ReceiptInput,
) -> AppResult<ReceiptCheck> {
    let row = election_row(ctx, conn, id).await?;
    let normalized = rules::normalize_receipt(&r.receipt).ok_or_else(|| {
        AppError::field(
            "receipt",
            "is not a receipt code: four groups of four letters and digits",
        )
    })?;
    let found: Option<String> = sqlx::query_scalar(
        "SELECT p.name FROM ballot_receipts r
           JOIN election_positions p ON p.organization_id = r.organization_id
                                    AND p.id = r.position_id
          WHERE r.organization_id = ? AND r.election_id = ? AND r.receipt_hash = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(rules::receipt_hash(&normalized))
    .fetch_optional(&mut *conn)
    .await?;
    let chain_verified = found.is_some() && verify_chain(conn, ctx.org_id, &row).await.is_ok();
    Ok(ReceiptCheck {
        counted: found.is_some(),
        position: found,
        chain_verified,
    })
}

// ---------------------------------------------------------------------------------------------
// The chain

#[derive(sqlx::FromRow)]
pub(super) struct BallotRow {
    pub id: Uuid,
    pub position_id: Uuid,
    pub choices: String,
    pub source: BallotSource,
    pub prev_hash: String,
    pub chain_hash: String,
}

/// A chain that verified: its ballots, and the head it ends at.
pub(super) struct Verified {
    pub ballots: Vec<BallotRow>,
    pub head: String,
}

/// Walks the election's chain from its start: every ballot once, each hash recomputed, ending
/// at the election's head with its count; and each position's online ballots equal to the
/// members the roll marks as having voted online and to the receipts given. Returns the ballots
/// and the head, or what broke.
pub(super) async fn verify_chain(
    conn: &mut Conn,
    org: OrgId,
    row: &ElectionRow,
) -> Result<Verified, String> {
    let fail = |e: sqlx::Error| format!("the ballots could not be read: {e}");
    let (head, count): (Option<String>, u32) = sqlx::query_as(
        "SELECT chain_head, ballot_count FROM elections WHERE organization_id = ? AND id = ?",
    )
    .bind(org)
    .bind(row.id)
    .fetch_one(&mut *conn)
    .await
    .map_err(fail)?;
    let ballots: Vec<BallotRow> = sqlx::query_as(
        "SELECT id, position_id, choices, source, prev_hash, chain_hash FROM ballots
          WHERE organization_id = ? AND election_id = ?",
    )
    .bind(org)
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let mut next: std::collections::HashMap<&str, &BallotRow> = std::collections::HashMap::new();
    for b in &ballots {
        if next.insert(b.prev_hash.as_str(), b).is_some() {
            return Err("two ballots follow the same one".into());
        }
    }
    let genesis = rules::genesis(row.id);
    let mut at = genesis.clone();
    let mut walked = 0usize;
    while let Some(b) = next.get(at.as_str()) {
        let expect = rules::link(&b.prev_hash, b.id, b.position_id, &b.choices, b.source);
        if expect != b.chain_hash {
            return Err(format!("ballot {} of the chain was changed", walked + 1));
        }
        at = b.chain_hash.clone();
        walked += 1;
        if walked > ballots.len() {
            return Err("the chain loops".into());
        }
    }
    if walked != ballots.len() {
        return Err(format!(
            "{} ballots are outside the chain",
            ballots.len() - walked
        ));
    }
    if walked != count as usize {
        return Err(format!(
            "the chain holds {walked} ballots but {count} were cast"
        ));
    }
    if at != head.unwrap_or(genesis) {
        return Err("the chain does not end where the last cast left it".into());
    }
    let receipts: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT position_id, COUNT(*) FROM ballot_receipts
          WHERE organization_id = ? AND election_id = ? GROUP BY position_id",
    )
    .bind(org)
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let voted: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT position_id, COUNT(*) FROM election_voters
          WHERE organization_id = ? AND election_id = ? AND voted_by = ?
          GROUP BY position_id",
    )
    .bind(org)
    .bind(row.id)
    .bind(BallotSource::Online)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let positions: std::collections::BTreeSet<Uuid> = ballots
        .iter()
        .map(|b| b.position_id)
        .chain(voted.iter().map(|(p, _)| *p))
        .chain(receipts.iter().map(|(p, _)| *p))
        .collect();
    for p in positions {
        let online = ballots
            .iter()
            .filter(|b| b.position_id == p && b.source == BallotSource::Online)
            .count() as i64;
        let marked = voted.iter().find(|(id, _)| *id == p).map_or(0, |(_, n)| *n);
        let given = receipts
            .iter()
            .find(|(id, _)| *id == p)
            .map_or(0, |(_, n)| *n);
        if online != given {
            return Err(format!(
                "a position has {online} online ballots but {given} receipts were given"
            ));
        }
        if online != marked {
            return Err(format!(
                "a position has {online} online ballots but {marked} members voted online"
            ));
        }
    }
    Ok(Verified { ballots, head: at })
}

// ---------------------------------------------------------------------------------------------
// Paper ballots

/// A batch holds the paper ballots of at least this many members, so that no ballot in it can
/// be read back to one voter.
pub const MIN_BATCH_VOTERS: usize = 3;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// The members who handed in paper ballots (at least 3): marked as voted on every position
    /// they may vote on, so they cannot also vote online.
    pub voter_ids: Vec<Uuid>,
    /// The ballots as written on paper, in any order.
    pub ballots: Vec<BallotInput>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Batch {
    pub id: Uuid,
    pub election_id: Uuid,
    #[schema(schema_with = BatchStatus::schema_object)]
    pub status: BatchStatus,
    pub ballot_count: u32,
    pub voters: i64,
    pub recorded_by: Uuid,
    pub recorded_by_name: String,
    pub attested_by: Option<Uuid>,
    pub attested_by_name: Option<String>,
    pub note: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const BATCH_SELECT: &str = "SELECT b.id, b.election_id, b.status, b.ballot_count,
        JSON_LENGTH(b.voter_ids) AS voters, b.recorded_by,
        CONCAT(r.first_name, ' ', r.last_name) AS recorded_by_name, b.attested_by,
        CONCAT(a.first_name, ' ', a.last_name) AS attested_by_name, b.note, b.created_at
   FROM paper_ballot_batches b
   JOIN users r ON r.organization_id = b.organization_id AND r.id = b.recorded_by
   LEFT JOIN users a ON a.organization_id = b.organization_id AND a.id = b.attested_by";

pub async fn batches(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Vec<Batch>> {
    ctx.require(ELECTIONS_MANAGE)?;
    election_row(ctx, conn, id).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{BATCH_SELECT} WHERE b.organization_id = ? AND b.election_id = ? ORDER BY b.created_at"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

async fn batch(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Batch> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{BATCH_SELECT} WHERE b.organization_id = ? AND b.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// Enters a batch of paper ballots (pending until a second officer attests it). Its voters
/// are marked as voted at once.
pub async fn record_batch(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: BatchInput,
) -> AppResult<Batch> {
    ctx.require(ELECTIONS_MANAGE)?;
    let row = lock(tx, ctx.org_id, id).await?;
    voting_now(&row)?;
    let mut c = Checks::default();
    let note = c
        .take(input::optional_text("note", input.note, 500))
        .flatten();
    let mut voters = input.voter_ids.clone();
    voters.sort();
    voters.dedup();
    if voters.len() != input.voter_ids.len() {
        c.push("voter_ids", "names a member twice");
    }
    if voters.len() < MIN_BATCH_VOTERS {
        c.push(
            "voter_ids",
            format!(
                "a batch holds the ballots of at least {MIN_BATCH_VOTERS} members, so that no \
                 ballot can be read back to one voter"
            ),
        );
    }
    if voters.len() > 500 {
        c.push("voter_ids", "at most 500 members in one batch");
    }
    // Each position may hold at most one ballot per batch voter on its roll.
    let mut per_position: Vec<(Uuid, i64)> = Vec::new();
    if c.is_empty() {
        for (i, v) in voters.iter().enumerate() {
            let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
                "SELECT position_id, voted_by FROM election_voters
                  WHERE organization_id = ? AND election_id = ? AND user_id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .bind(v)
            .fetch_all(&mut **tx)
            .await?;
            if rows.is_empty() {
                c.push(&format!("voter_ids[{i}]"), "is not on the roll");
            } else if rows.iter().any(|(_, by)| by.is_some()) {
                c.push(&format!("voter_ids[{i}]"), "has already voted");
            }
            for (p, _) in rows {
                match per_position.iter_mut().find(|(id, _)| *id == p) {
                    Some(slot) => slot.1 += 1,
                    None => per_position.push((p, 1)),
                }
            }
        }
    }
    if input.ballots.len() > 10_000 {
        return Err(AppError::field(
            "ballots",
            "at most 10000 ballots in one batch",
        ));
    }
    // Paper ballots repeat positions, so each is checked on its own.
    let mut checked = Vec::new();
    for (i, b) in input.ballots.iter().enumerate() {
        let mut one = Checks::default();
        let got = check_ballots(tx, ctx.org_id, &row, std::slice::from_ref(b), &mut one).await?;
        for e in one.into_errors() {
            c.push(
                &e.field.replace("ballots[0]", &format!("ballots[{i}]")),
                e.message,
            );
        }
        checked.extend(got);
    }
    if input.ballots.is_empty() {
        c.push("ballots", "enter at least one ballot");
    }
    for (p, name, _) in &checked {
        let given = checked.iter().filter(|(x, _, _)| x == p).count() as i64;
        let may = per_position
            .iter()
            .find(|(x, _)| x == p)
            .map_or(0, |(_, n)| *n);
        if given > may && c.is_empty() {
            c.push(
                "ballots",
                format!("{name}: {given} ballots but only {may} of these members may vote on it"),
            );
        }
    }
    c.finish()?;
    for v in &voters {
        sqlx::query(
            "UPDATE election_voters SET voted_by = ?
              WHERE organization_id = ? AND election_id = ? AND user_id = ? AND voted_by IS NULL",
        )
        .bind(BallotSource::Paper)
        .bind(ctx.org_id)
        .bind(id)
        .bind(v)
        .execute(&mut **tx)
        .await?;
    }
    let stored: Vec<serde_json::Value> = checked
        .iter()
        .map(|(p, _, choices)| serde_json::json!({"position_id": p, "choices": choices}))
        .collect();
    let batch_id = db::new_id();
    sqlx::query(
        "INSERT INTO paper_ballot_batches (id, organization_id, election_id, status, voter_ids,
                ballots, ballot_count, recorded_by, note, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(batch_id)
    .bind(ctx.org_id)
    .bind(id)
    .bind(BatchStatus::Pending)
    .bind(serde_json::to_string(&voters).map_err(anyhow::Error::new)?)
    .bind(serde_json::to_string(&stored).map_err(anyhow::Error::new)?)
    .bind(checked.len() as u32)
    .bind(ctx.user_id)
    .bind(&note)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.paper_batch_recorded", "election", id).changes(serde_json::json!({
            "batch_id": batch_id, "voters": voters, "ballots": checked.len(),
        })),
    )
    .await?;
    batch(ctx, tx, batch_id).await
}

#[derive(sqlx::FromRow)]
struct PendingBatch {
    election_id: Uuid,
    status: BatchStatus,
    voter_ids: String,
    ballots: Option<String>,
    recorded_by: Uuid,
}

async fn pending_batch(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<PendingBatch> {
    let b: PendingBatch = sqlx::query_as(
        "SELECT election_id, status, voter_ids, ballots, recorded_by FROM paper_ballot_batches
          WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if b.status != BatchStatus::Pending {
        return Err(AppError::Conflict(format!(
            "the batch is already {}",
            b.status.as_str()
        )));
    }
    Ok(b)
}

/// A second officer attests a pending batch: its ballots join the chain and count.
pub async fn attest_batch(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Batch> {
    ctx.require(ELECTIONS_MANAGE)?;
    // Read once: the transition below decides whether it is still pending.
    let b = pending_batch(ctx, tx, id).await?;
    let row = lock(tx, ctx.org_id, b.election_id).await?;
    if b.recorded_by == ctx.user_id {
        return Err(AppError::Forbidden(
            "a second officer attests a batch: not the one who entered it".into(),
        ));
    }
    voting_now(&row)?;
    #[derive(Deserialize)]
    struct Stored {
        position_id: Uuid,
        choices: String,
    }
    let stored: Vec<Stored> =
        serde_json::from_str(b.ballots.as_deref().unwrap_or("[]")).map_err(anyhow::Error::new)?;
    db::transition(
        tx,
        sqlx::query(
            "UPDATE paper_ballot_batches SET status = ?, attested_by = ?, ballots = NULL,
                    decided_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(BatchStatus::Confirmed)
        .bind(ctx.user_id)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .bind(BatchStatus::Pending),
        "the batch was decided meanwhile",
    )
    .await?;
    let (mut head, mut count) = chain_head(tx, ctx.org_id, b.election_id).await?;
    for s in &stored {
        head = append(
            tx,
            ctx.org_id,
            b.election_id,
            &head,
            NewBallot {
                position: s.position_id,
                choices: &s.choices,
                source: BallotSource::Paper,
            },
        )
        .await?;
        count += 1;
    }
    set_head(tx, ctx.org_id, b.election_id, &head, count).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.paper_batch_attested", "election", b.election_id)
            .changes(serde_json::json!({"batch_id": id, "ballots": stored.len()})),
    )
    .await?;
    batch(ctx, tx, id).await
}

/// Voids a pending batch (entered wrongly): its voters may vote again.
pub async fn void_batch(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Batch> {
    ctx.require(ELECTIONS_MANAGE)?;
    let b = pending_batch(ctx, tx, id).await?;
    lock(tx, ctx.org_id, b.election_id).await?;
    let voters: Vec<Uuid> = serde_json::from_str(&b.voter_ids).unwrap_or_default();
    db::transition(
        tx,
        sqlx::query(
            "UPDATE paper_ballot_batches SET status = ?, ballots = NULL, decided_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(BatchStatus::Voided)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .bind(BatchStatus::Pending),
        "the batch was decided meanwhile",
    )
    .await?;
    for v in &voters {
        sqlx::query(
            "UPDATE election_voters SET voted_by = NULL
              WHERE organization_id = ? AND election_id = ? AND user_id = ? AND voted_by = ?",
        )
        .bind(ctx.org_id)
        .bind(b.election_id)
        .bind(v)
        .bind(BallotSource::Paper)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.paper_batch_voided", "election", b.election_id)
            .changes(serde_json::json!({"batch_id": id, "voters": voters})),
    )
    .await?;
    batch(ctx, tx, id).await
}
