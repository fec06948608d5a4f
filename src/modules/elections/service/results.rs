//! The count, turnout and the close. Results show only after the close (or while voting, when
//! the election says so); before that, turnout only — to officers too. Every count first
//! verifies the ballot chain; a chain that does not verify is refused, never counted. The close
//! counts once more to make runoffs where a tie or a missing majority asks for one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::voting::{self, BallotRow};
use super::{
    ELECTIONS_MANAGE, ELECTIONS_VIEW, ElectionRow, Named, Position, ValidElection, election,
    election_row, insert_election, lock, positions_of, set_status,
};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::elections::rules::{
    self, CandidateStatus, ElectionStatus, Outcome, TiePolicy, VotingMethod,
};
use crate::notify::{self, Notice, Notifier};

/// Turnout: how many on the roll have voted, per position. Never who voted what.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Turnout {
    pub election_id: Uuid,
    /// Members on the roll.
    pub roll: i64,
    /// Members who voted on at least one position.
    pub voted: i64,
    pub positions: Vec<PositionTurnout>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PositionTurnout {
    pub position_id: Uuid,
    pub name: String,
    pub roll: i64,
    pub voted: i64,
}

pub async fn turnout(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Turnout> {
    let row = election_row(ctx, conn, id).await?;
    turnout_of(conn, ctx.org_id, &row).await
}

async fn turnout_of(conn: &mut Conn, org: OrgId, row: &ElectionRow) -> AppResult<Turnout> {
    let per: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.name, COUNT(v.user_id), COUNT(v.voted_by)
           FROM election_positions p
           LEFT JOIN election_voters v ON v.organization_id = p.organization_id
                                      AND v.position_id = p.id
          WHERE p.organization_id = ? AND p.election_id = ?
          GROUP BY p.id, p.name, p.sort_order
          ORDER BY p.sort_order, p.name",
    )
    .bind(org)
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await?;
    let (roll, voted): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(DISTINCT user_id), COUNT(DISTINCT CASE WHEN voted_by IS NOT NULL
                THEN user_id END)
           FROM election_voters WHERE organization_id = ? AND election_id = ?",
    )
    .bind(org)
    .bind(row.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Turnout {
        election_id: row.id,
        roll,
        voted,
        positions: per
            .into_iter()
            .map(|(position_id, name, roll, voted)| PositionTurnout {
                position_id,
                name,
                roll,
                voted,
            })
            .collect(),
    })
}

/// The count of an election.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Results {
    pub election_id: Uuid,
    pub title: String,
    #[schema(schema_with = ElectionStatus::schema_object)]
    pub status: ElectionStatus,
    #[schema(schema_with = VotingMethod::schema_object)]
    pub voting_method: VotingMethod,
    pub supermajority_percent: u8,
    #[schema(schema_with = TiePolicy::schema_object)]
    pub tie_policy: TiePolicy,
    pub closed_at: Option<DateTime<Utc>>,
    /// Not final: voting is still open (the election shows results as they come).
    pub provisional: bool,
    /// Every ballot in the chain, verified from its start to its head.
    pub ballots: u32,
    /// The head of the verified chain: printed on the certified result.
    pub chain_head: String,
    pub turnout: Turnout,
    pub positions: Vec<PositionResult>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PositionResult {
    pub position_id: Uuid,
    pub name: String,
    pub seats: u8,
    pub ballots: u32,
    /// Votes per candidate (approvals; for ranked choice, the final round), ballot order.
    pub candidates: Vec<CandidateResult>,
    /// Ranked choice: each round of the instant runoff.
    pub rounds: Vec<RoundResult>,
    #[schema(value_type = String)]
    pub outcome: Outcome,
    /// The votes a candidate needed, where the method sets a threshold.
    pub needed: Option<u32>,
    pub winners: Vec<Named>,
    /// Tied for a seat, or between whom a runoff is held.
    pub tied: Vec<Named>,
    /// The result in a sentence: "Jo Smith is elected." / "Tie: a runoff is held."
    pub summary: String,
    /// The runoff election made at the close.
    pub runoff_election_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CandidateResult {
    pub candidate_id: Uuid,
    pub name: String,
    pub votes: u32,
    /// Of the position's ballots, one decimal.
    pub percent: f64,
    pub elected: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundResult {
    pub round: usize,
    pub counts: Vec<CandidateResult>,
    pub exhausted: u32,
    pub eliminated: Option<Named>,
    pub tie_break: Option<String>,
}

fn percent(votes: u32, of: u32) -> f64 {
    if of == 0 {
        0.0
    } else {
        (f64::from(votes) * 1000.0 / f64::from(of)).round() / 10.0
    }
}

/// Whether the caller may see the count now.
fn results_shown(row: &ElectionRow) -> AppResult<()> {
    match row.status {
        ElectionStatus::Closed => Ok(()),
        ElectionStatus::Open if row.results_visible_immediately => Ok(()),
        ElectionStatus::Cancelled => Err(AppError::Conflict(
            "the election was cancelled: its ballots are never counted".into(),
        )),
        _ => Err(AppError::Conflict(
            "results are shown when voting closes; until then only turnout".into(),
        )),
    }
}

pub async fn results(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Results> {
    let row = election_row(ctx, conn, id).await?;
    results_shown(&row)?;
    count_of(conn, ctx.org_id, &row).await
}

/// Counts every position from the verified chain (refused if it does not verify).
async fn count_of(conn: &mut Conn, org: OrgId, row: &ElectionRow) -> AppResult<Results> {
    let verified = voting::verify_chain(conn, org, row).await.map_err(|why| {
        AppError::Conflict(format!(
            "the ballot chain does not verify ({why}): the count is refused"
        ))
    })?;
    let positions = positions_of(conn, org, row.id).await?;
    let children: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT e.id, p.name FROM elections e
           JOIN election_positions p ON p.organization_id = e.organization_id
                                    AND p.election_id = e.id
          WHERE e.organization_id = ? AND e.parent_election_id = ?",
    )
    .bind(org)
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await?;
    let ballots = verified.ballots;
    let out_positions = positions
        .iter()
        .map(|p| {
            let runoff = children.iter().find(|(_, n)| *n == p.name).map(|(id, _)| *id);
            position_result(row, p, &ballots, runoff)
        })
        .collect();
    Ok(Results {
        election_id: row.id,
        title: row.title.clone(),
        status: row.status,
        voting_method: row.voting_method,
        supermajority_percent: row.supermajority_percent,
        tie_policy: row.tie_policy,
        closed_at: row.closed_at,
        provisional: row.status != ElectionStatus::Closed,
        ballots: ballots.len() as u32,
        chain_head: verified.head,
        turnout: turnout_of(conn, org, row).await?,
        positions: out_positions,
    })
}

fn position_result(
    row: &ElectionRow,
    p: &Position,
    ballots: &[BallotRow],
    runoff: Option<Uuid>,
) -> PositionResult {
    let cands: Vec<&super::Candidate> = p
        .candidates
        .iter()
        .filter(|c| c.status == CandidateStatus::Accepted)
        .collect();
    let ids: Vec<Uuid> = cands.iter().map(|c| c.id).collect();
    let name_of = |id: Uuid| Named {
        id,
        name: cands
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "(removed)".into()),
    };
    let choices: Vec<Vec<Uuid>> = ballots
        .iter()
        .filter(|b| b.position_id == p.id)
        .map(|b| {
            serde_json::from_str::<Vec<Uuid>>(&b.choices)
                .unwrap_or_default()
                .into_iter()
                .filter(|c| ids.contains(c))
                .collect()
        })
        .collect();
    let count = rules::count(
        row.voting_method,
        p.seats,
        row.supermajority_percent,
        &ids,
        &choices,
    );
    let mut winners = count.winners.clone();
    let summary_names = |list: &[Uuid]| {
        list.iter()
            .map(|c| name_of(*c).name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let summary = match count.outcome {
        Outcome::Elected => format!("{} elected.", summary_names(&winners)),
        Outcome::NoBallots => "No ballots were cast.".into(),
        Outcome::Tie => match row.tie_policy {
            TiePolicy::CoWinners => {
                winners.extend(count.tied.iter().copied());
                format!("Tie: {} elected together.", summary_names(&winners))
            }
            TiePolicy::ChairDecides => match p.decided_candidate_id {
                Some(d) => {
                    winners.push(d);
                    format!(
                        "Tie between {}: the chair decided for {}.",
                        summary_names(&count.tied),
                        name_of(d).name
                    )
                }
                None => format!("Tie between {}: the chair decides.", summary_names(&count.tied)),
            },
            TiePolicy::Runoff => format!(
                "Tie between {}: a runoff is held.",
                summary_names(&count.tied)
            ),
        },
        Outcome::NoWinner => format!(
            "Nobody reached the {} needed: a runoff between {} is held.",
            count.needed.map_or("votes".to_string(), |n| format!(
                "{n} vote{}",
                if n == 1 { "" } else { "s" }
            )),
            summary_names(&count.tied)
        ),
    };
    let line = |c: Uuid, votes: u32| CandidateResult {
        candidate_id: c,
        name: name_of(c).name,
        votes,
        percent: percent(votes, count.ballots),
        elected: winners.contains(&c),
    };
    PositionResult {
        position_id: p.id,
        name: p.name.clone(),
        seats: p.seats,
        ballots: count.ballots,
        candidates: count.totals.iter().map(|(c, v)| line(*c, *v)).collect(),
        rounds: if row.voting_method == VotingMethod::RankedChoice {
            count
                .rounds
                .iter()
                .enumerate()
                .map(|(i, r)| RoundResult {
                    round: i + 1,
                    counts: r.counts.iter().map(|(c, v)| line(*c, *v)).collect(),
                    exhausted: r.exhausted,
                    eliminated: r.eliminated.map(name_of),
                    tie_break: r.tie_break.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        outcome: count.outcome,
        needed: count.needed,
        winners: winners.into_iter().map(name_of).collect(),
        tied: count.tied.iter().map(|c| name_of(*c)).collect(),
        summary,
        runoff_election_id: runoff,
    }
}

/// Closes voting (an officer, or the lifecycle job at `closes_at`): counts from the verified
/// chain, makes a runoff (a draft) for each position left tied (tie policy runoff) or without
/// the majority it needed, and tells the roll. A chain that does not verify still closes — the
/// vote must end — but raises a security alert and makes no runoff; its count stays refused.
pub(crate) async fn close_as(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    org: OrgId,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<Uuid>> {
    let row = lock(tx, org, id).await?;
    if row.status != ElectionStatus::Open {
        return Err(AppError::Conflict(format!(
            "the election is {}: only an open election closes",
            row.status.label().to_lowercase()
        )));
    }
    // Pending paper batches never count: their voters are marked, their ballots are not.
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM paper_ballot_batches
          WHERE organization_id = ? AND election_id = ? AND status = ?",
    )
    .bind(org)
    .bind(id)
    .bind(super::super::rules::BatchStatus::Pending)
    .fetch_one(&mut **tx)
    .await?;
    set_status(tx, org, id, ElectionStatus::Closed).await?;
    let closed = ElectionRow {
        status: ElectionStatus::Closed,
        ..lock(tx, org, id).await?
    };
    let counted = count_of(tx, org, &closed).await;
    let mut runoff = None;
    match &counted {
        Ok(results) => {
            let unresolved: Vec<&PositionResult> = results
                .positions
                .iter()
                .filter(|p| {
                    p.outcome == Outcome::NoWinner
                        || (p.outcome == Outcome::Tie && row.tie_policy == TiePolicy::Runoff)
                })
                .collect();
            if !unresolved.is_empty() {
                runoff = Some(make_runoff(tx, org, actor, &row, &unresolved).await?);
            }
            audit::record(
                tx,
                actor,
                Entry::new("elections.closed", "election", id).changes(serde_json::json!({
                    "ballots": results.ballots, "chain_head": results.chain_head,
                    "turnout": {"roll": results.turnout.roll, "voted": results.turnout.voted},
                    "pending_paper_batches": pending, "runoff_election_id": runoff,
                })),
            )
            .await?;
        }
        Err(e) => {
            let why = e.to_string();
            audit::record(
                tx,
                actor,
                Entry::new("elections.closed", "election", id)
                    .changes(serde_json::json!({"chain": why}))
                    .severity(audit::Severity::Critical),
            )
            .await?;
            audit::alerts::raise(
                tx,
                org,
                audit::alerts::NewAlert {
                    alert_type: "log_tampering",
                    severity: audit::Severity::Critical,
                    message: format!(
                        "The ballots of “{}” do not verify at the close: {why}",
                        row.title
                    ),
                    user_id: actor.user_id,
                    ip: actor.ip.as_deref(),
                },
            )
            .await?;
        }
    }
    let roll = voting::roll_members(tx, org, id).await?;
    notify::notify(
        notifier,
        tx,
        org,
        &roll,
        &Notice {
            category: "elections",
            subject: format!("Voting closed: {}", row.title),
            body: format!("Voting closed for “{}”. The results are on its page.", row.title),
            link: Some(format!("/elections/{id}/results")),
            dedupe_key: Some(format!("election-closed:{id}")),
        },
    )
    .await?;
    Ok(runoff)
}

pub async fn close(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
) -> AppResult<super::Election> {
    ctx.require(ELECTIONS_MANAGE)?;
    close_as(tx, notifier, ctx.org_id, &ctx.actor(), id).await?;
    election(ctx, tx, id).await
}

/// One runoff election (a draft) for the positions left open, among their tied (or top)
/// candidates, with the parent's settings; officers set its times and open it.
async fn make_runoff(
    tx: &mut Tx<'_>,
    org: OrgId,
    actor: &Actor,
    parent: &ElectionRow,
    unresolved: &[&PositionResult],
) -> AppResult<Uuid> {
    let id = db::new_id();
    let v = ValidElection {
        title: format!("Runoff: {}", parent.title).chars().take(200).collect(),
        description: Some(format!(
            "Runoff of “{}” for {}.",
            parent.title,
            unresolved
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        method: parent.voting_method,
        percent: parent.supermajority_percent,
        tie: parent.tie_policy,
        statuses: serde_json::from_str(&parent.voter_statuses).unwrap_or_default(),
        require_tier: parent.require_voting_tier,
        immediate: parent.results_visible_immediately,
        deadline: None,
        opens: None,
        closes: None,
        reminder: parent.reminder_hours_before_close,
    };
    insert_election(tx, org, id, &v, Some(parent.id), actor.user_id).await?;
    let positions = positions_of(tx, org, parent.id).await?;
    for (order, r) in unresolved.iter().enumerate() {
        let Some(p) = positions.iter().find(|p| p.id == r.position_id) else {
            continue;
        };
        let pid = db::new_id();
        sqlx::query(
            "INSERT INTO election_positions (id, organization_id, election_id, name, seats,
                    voter_role_id, sort_order)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(pid)
        .bind(org)
        .bind(id)
        .bind(&p.name)
        // Seats still to fill.
        .bind(p.seats.saturating_sub(r.winners.len() as u8).max(1))
        .bind(p.voter_role.as_ref().map(|r| r.id))
        .bind(order as i16)
        .execute(&mut **tx)
        .await?;
        for (i, t) in r.tied.iter().enumerate() {
            let c = p.candidates.iter().find(|c| c.id == t.id);
            sqlx::query(
                "INSERT INTO candidates (id, organization_id, election_id, position_id, user_id,
                        name, statement, nominated_by, status, display_order, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(db::new_id())
            .bind(org)
            .bind(id)
            .bind(pid)
            .bind(c.and_then(|c| c.member.as_ref().map(|m| m.id)))
            .bind(&t.name)
            .bind(c.and_then(|c| c.statement.clone()))
            .bind(actor.user_id)
            .bind(CandidateStatus::Accepted)
            .bind(i as i16)
            .bind(db::now())
            .execute(&mut **tx)
            .await?;
        }
    }
    audit::record(
        tx,
        actor,
        Entry::new("elections.runoff_created", "election", id).changes(serde_json::json!({
            "parent_election_id": parent.id,
            "positions": unresolved.iter().map(|p| &p.name).collect::<Vec<_>>(),
        })),
    )
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    /// One of the candidates tied for the seat.
    pub candidate_id: Uuid,
}

/// The chair breaks a tie after the close (tie policy `chair_decides`), audited.
pub async fn decide_tie(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    position_id: Uuid,
    d: DecideInput,
) -> AppResult<Results> {
    ctx.require(ELECTIONS_MANAGE)?;
    let election_id: Uuid = sqlx::query_scalar(
        "SELECT election_id FROM election_positions WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(position_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = lock(tx, ctx.org_id, election_id).await?;
    if row.status != ElectionStatus::Closed || row.tie_policy != TiePolicy::ChairDecides {
        return Err(AppError::Conflict(
            "the chair decides only a tie of a closed election whose tie policy says so".into(),
        ));
    }
    let results = count_of(tx, ctx.org_id, &row).await?;
    let Some(p) = results.positions.iter().find(|p| p.position_id == position_id) else {
        return Err(AppError::NotFound);
    };
    if p.outcome != Outcome::Tie {
        return Err(AppError::Conflict("this position did not end in a tie".into()));
    }
    if !p.tied.iter().any(|t| t.id == d.candidate_id) {
        return Err(AppError::field(
            "candidate_id",
            "is not one of the candidates tied for the seat",
        ));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE election_positions SET decided_candidate_id = ?, decided_by = ?
              WHERE organization_id = ? AND id = ? AND decided_candidate_id IS NULL",
        )
        .bind(d.candidate_id)
        .bind(ctx.user_id)
        .bind(ctx.org_id)
        .bind(position_id),
        "the tie was already decided",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("elections.tie_decided", "election", election_id).changes(
            serde_json::json!({"position_id": position_id, "candidate_id": d.candidate_id}),
        ),
    )
    .await?;
    count_of(tx, ctx.org_id, &row).await
}

/// The certified result as a PDF: the count of each position, the turnout, the chain's head
/// and who certifies it; only for a closed election whose chain verifies.
pub async fn certificate(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Vec<u8>> {
    ctx.require(ELECTIONS_VIEW)?;
    let row = election_row(ctx, conn, id).await?;
    if row.status != ElectionStatus::Closed {
        return Err(AppError::Conflict(
            "a certified result is printed once voting has closed".into(),
        ));
    }
    let r = count_of(conn, ctx.org_id, &row).await?;
    let department: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&mut *conn)
        .await?;
    let local = ctx.local();
    let mut doc = crate::pdf::Document::new(ctx.locale.paper.points());
    doc.heading(&format!("Certified result: {}", r.title));
    doc.line(&department);
    doc.line(&format!(
        "{} · closed {} · {}",
        r.voting_method.label(),
        r.closed_at
            .map(|t| local.moment(&t))
            .unwrap_or_else(|| "-".into()),
        if r.voting_method == VotingMethod::Supermajority {
            format!("{} % needed", r.supermajority_percent)
        } else {
            format!("ties: {}", r.tie_policy.label().to_lowercase())
        }
    ));
    doc.line(&format!(
        "Turnout: {} of {} members on the roll voted; {} ballots counted.",
        r.turnout.voted, r.turnout.roll, r.ballots
    ));
    doc.gap();
    for p in &r.positions {
        doc.subheading(&format!(
            "{}{}",
            p.name,
            if p.seats > 1 {
                format!(" ({} seats)", p.seats)
            } else {
                String::new()
            }
        ));
        for c in &p.candidates {
            doc.row(&[
                &format!("{}{}", c.name, if c.elected { "  (elected)" } else { "" }),
                &c.votes.to_string(),
                &format!("{:.1} %", c.percent),
            ]);
        }
        for round in &p.rounds {
            doc.small(&format!(
                "Round {}: {}{}{}",
                round.round,
                round
                    .counts
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.votes))
                    .collect::<Vec<_>>()
                    .join(", "),
                round
                    .eliminated
                    .as_ref()
                    .map(|e| format!("; {} out", e.name))
                    .unwrap_or_default(),
                round
                    .tie_break
                    .as_ref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            ));
        }
        doc.line(&p.summary);
        doc.gap();
    }
    doc.small(&format!(
        "Ballot chain verified: {} ballots, head {}.",
        r.ballots, r.chain_head
    ));
    doc.small(&format!(
        "Printed {} by {}. Ballots are secret: no record links a member to a choice.",
        local.moment(&Utc::now()),
        ctx.username
    ));
    doc.gap();
    doc.line("Certified by: ______________________________   Date: ______________");
    doc.line("Witness:      ______________________________   Date: ______________");
    Ok(doc.finish())
}
