//! `/elections` pages, phone first: the list, an election's page (positions and candidates,
//! nominating and answering, the officer's lifecycle buttons, turnout), the ballot (a few taps,
//! then the receipts), the results with the certified printout, checking a receipt, and the
//! officer's roll and paper ballots. Plain forms, post-redirect-get; the rules live in `service`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{BatchStatus, CandidateStatus, ElectionStatus, TiePolicy, VotingMethod};
use super::service::results::{self, DecideInput, Results};
use super::service::voting::{self, BallotInput, BatchInput, CastInput, ReceiptInput, RollChange};
use super::service::{
    self, AnswerInput, CancelInput, CandidateInput, ELECTIONS_MANAGE, ELECTIONS_VIEW, Election,
    ElectionInput, ElectionQuery, PositionInput,
};
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_VIEW;
use crate::db::Conn;
use crate::error::{AppError, FieldError};
use crate::members::rules::MemberStatus;
use crate::state::AppState;
use crate::web::{self, Chrome, DoneQuery, FieldErrors, Opt, PageResult, Pager, PathId, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/elections", get(list))
        .route("/elections/new", get(new_form).post(create))
        .route("/elections/{id}", get(election_page))
        .route("/elections/{id}/edit", get(edit_form).post(update))
        .route("/elections/{id}/positions", post(add_position))
        .route("/elections/positions/{id}/remove", post(remove_position))
        .route("/elections/positions/{id}/decide", post(decide))
        .route("/elections/{id}/candidates", post(nominate))
        .route("/elections/candidates/{id}/answer", post(answer))
        .route("/elections/candidates/{id}/remove", post(remove_candidate))
        .route("/elections/{id}/nominations", post(start_nominations))
        .route("/elections/{id}/open", post(open))
        .route("/elections/{id}/close", get(close_confirm).post(close))
        .route("/elections/{id}/cancel", get(cancel_confirm).post(cancel))
        .route("/elections/{id}/ballot", get(ballot_page).post(cast))
        .route("/elections/{id}/results", get(results_page))
        .route("/elections/{id}/certificate.pdf", get(certificate))
        .route("/elections/{id}/receipt", get(receipt_page).post(check_receipt))
        .route("/elections/{id}/roll", get(roll_page).post(change_roll))
        .route("/elections/{id}/paper", get(paper_page).post(record_batch))
        .route("/elections/paper-batches/{id}/attest", post(attest_batch))
        .route("/elections/paper-batches/{id}/void", post(void_batch))
}

const SECTION: &str = "/elections";

fn moment(ctx: &Ctx, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| ctx.local().moment(&t)).unwrap_or_default()
}

/// A moment as a `datetime-local` field's value, in the department's zone.
fn field_moment(ctx: &Ctx, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&ctx.local().tz)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// A `datetime-local` field's value (the department's wall clock) in UTC.
fn parse_moment(
    ctx: &Ctx,
    field: &str,
    raw: &str,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        Ok(t) => Some(crate::time::to_utc(ctx.local().tz, t)),
        Err(_) => {
            errors.push(FieldError::new(field, "enter a date and time"));
            None
        }
    }
}

fn status_class(s: ElectionStatus) -> &'static str {
    s.as_str()
}

fn done_notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Election saved as a draft. Add its positions and candidates.",
            "saved" => "Changes saved.",
            "position" => "Position added.",
            "position-removed" => "Position removed.",
            "candidate" => "Candidate added.",
            "nominated" => "Nomination sent: the member is on the ballot once they accept.",
            "answered" => "Your answer is recorded.",
            "candidate-removed" => "Candidate removed.",
            "nominations" => "Nominations are open: members were told.",
            "opened" => "Voting is open: the roll is frozen and every member on it was told.",
            "closed" => "Voting closed. The results are below.",
            "cancelled" => "The election is cancelled.",
            "decided" => "The chair's decision is recorded.",
            "roll" => "The roll is changed; the change is in the audit log with its reason.",
            "batch" => "Paper ballots entered: a second officer attests them before they count.",
            "attested" => "Batch attested: its ballots are counted.",
            "voided" => "Batch voided: its members may vote again.",
            _ => return None,
        }
        .to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// The list

struct Line {
    id: Uuid,
    title: String,
    status: &'static str,
    status_class: &'static str,
    when: String,
    positions: i64,
    runoff: bool,
}

#[derive(Template)]
#[template(path = "elections/list.html")]
struct ListPage {
    chrome: Chrome,
    can_manage: bool,
    lines: Vec<Line>,
    q: String,
    status: String,
    statuses: Vec<Opt>,
    total: u64,
    pager: Pager,
}

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    ctx.require(ELECTIONS_VIEW)?;
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let q = p.q.clone().unwrap_or_default();
    let status = p
        .status
        .clone()
        .filter(|s| ElectionStatus::parse(s).is_some())
        .unwrap_or_default();
    let page = web::page_number(p.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let found = service::elections(
        &ctx,
        &mut conn,
        ElectionQuery {
            status: (!status.is_empty()).then(|| status.clone()),
            q: (!q.trim().is_empty()).then(|| q.chars().take(100).collect()),
            page: Some(page),
            per_page: Some(20),
        },
    )
    .await?;
    let lines = found
        .items
        .iter()
        .map(|e| Line {
            id: e.id,
            title: e.title.clone(),
            status: e.status.label(),
            status_class: status_class(e.status),
            when: match e.status {
                ElectionStatus::Open => match e.closes_at {
                    Some(c) => format!("Voting until {}", moment(&ctx, Some(c))),
                    None => "Voting open".into(),
                },
                ElectionStatus::Closed => format!("Closed {}", moment(&ctx, e.closed_at)),
                _ => match e.opens_at {
                    Some(o) => format!("Opens {}", moment(&ctx, Some(o))),
                    None => String::new(),
                },
            },
            positions: e.positions,
            runoff: e.parent_election_id.is_some(),
        })
        .collect();
    let (q2, s2) = (q.clone(), status.clone());
    let mut pairs: Vec<(&str, &str)> = ElectionStatus::WORDS
        .iter()
        .map(|w| (*w, ElectionStatus::parse(w).map_or("", |s| s.label())))
        .collect();
    if !ctx.has(ELECTIONS_MANAGE) {
        pairs.retain(|(w, _)| *w != "draft");
    }
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        can_manage: ctx.has(ELECTIONS_MANAGE),
        lines,
        statuses: web::options(&pairs, &status, Some("Any state")),
        q,
        status,
        total: found.total,
        pager: Pager::new(found.page, found.total, found.per_page, move |n| {
            let page = if n <= 1 { String::new() } else { n.to_string() };
            web::link(
                "/elections",
                &[("q", q2.as_str()), ("status", s2.as_str()), ("page", &page)],
            )
        }),
    }))
}

// ---------------------------------------------------------------------------------------------
// The election form (new and edit)

#[derive(Debug, Default, Deserialize)]
struct ElectionForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    voting_method: String,
    #[serde(default)]
    supermajority_percent: String,
    #[serde(default)]
    tie_policy: String,
    #[serde(default)]
    voter_statuses: Vec<String>,
    require_voting_tier: Option<String>,
    results_visible_immediately: Option<String>,
    #[serde(default)]
    nomination_deadline: String,
    #[serde(default)]
    opens_at: String,
    #[serde(default)]
    closes_at: String,
    #[serde(default)]
    reminder_hours_before_close: String,
}

impl ElectionForm {
    /// Reads the urlencoded body: the status boxes repeat `voter_statuses`.
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = ElectionForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "title" => f.title = v,
                "description" => f.description = v,
                "voting_method" => f.voting_method = v,
                "supermajority_percent" => f.supermajority_percent = v,
                "tie_policy" => f.tie_policy = v,
                "voter_statuses" => f.voter_statuses.push(v),
                "require_voting_tier" => f.require_voting_tier = Some(v),
                "results_visible_immediately" => f.results_visible_immediately = Some(v),
                "nomination_deadline" => f.nomination_deadline = v,
                "opens_at" => f.opens_at = v,
                "closes_at" => f.closes_at = v,
                "reminder_hours_before_close" => f.reminder_hours_before_close = v,
                _ => {}
            }
        }
        f
    }

    fn of(ctx: &Ctx, e: &Election) -> Self {
        ElectionForm {
            title: e.title.clone(),
            description: e.description.clone().unwrap_or_default(),
            voting_method: e.voting_method.as_str().into(),
            supermajority_percent: e.supermajority_percent.to_string(),
            tie_policy: e.tie_policy.as_str().into(),
            voter_statuses: e.voter_statuses.clone(),
            require_voting_tier: e.require_voting_tier.then(|| "1".into()),
            results_visible_immediately: e.results_visible_immediately.then(|| "1".into()),
            nomination_deadline: field_moment(ctx, e.nomination_deadline),
            opens_at: field_moment(ctx, e.opens_at),
            closes_at: field_moment(ctx, e.closes_at),
            reminder_hours_before_close: e
                .reminder_hours_before_close
                .map(|h| h.to_string())
                .unwrap_or_default(),
        }
    }

    fn input(&self, ctx: &Ctx, errors: &mut Vec<FieldError>) -> ElectionInput {
        let number = |field: &str, raw: &str, errors: &mut Vec<FieldError>| -> Option<u16> {
            match raw.trim() {
                "" => None,
                t => match t.parse::<u16>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        errors.push(FieldError::new(field, "must be a whole number"));
                        None
                    }
                },
            }
        };
        let percent = number("supermajority_percent", &self.supermajority_percent, errors)
            .map(|p| u8::try_from(p).unwrap_or(u8::MAX));
        ElectionInput {
            title: self.title.clone(),
            description: Some(self.description.replace("\r\n", "\n")),
            voting_method: self.voting_method.clone(),
            supermajority_percent: percent,
            tie_policy: Some(self.tie_policy.clone()),
            voter_statuses: Some(self.voter_statuses.clone()),
            require_voting_tier: Some(self.require_voting_tier.is_some()),
            results_visible_immediately: self.results_visible_immediately.is_some(),
            nomination_deadline: parse_moment(
                ctx,
                "nomination_deadline",
                &self.nomination_deadline,
                errors,
            ),
            opens_at: parse_moment(ctx, "opens_at", &self.opens_at, errors),
            closes_at: parse_moment(ctx, "closes_at", &self.closes_at, errors),
            reminder_hours_before_close: number(
                "reminder_hours_before_close",
                &self.reminder_hours_before_close,
                errors,
            ),
        }
    }
}

const FORM_LABELS: &[(&str, &str)] = &[
    ("title", "Title"),
    ("description", "About"),
    ("voting_method", "Counting"),
    ("supermajority_percent", "Share needed"),
    ("tie_policy", "On a tie"),
    ("voter_statuses", "Who votes"),
    ("nomination_deadline", "Nominations close"),
    ("opens_at", "Voting opens"),
    ("closes_at", "Voting closes"),
    ("reminder_hours_before_close", "Reminder"),
];

#[derive(Template)]
#[template(path = "elections/form.html")]
struct FormPage {
    chrome: Chrome,
    /// None: a new election.
    id: Option<Uuid>,
    form: ElectionForm,
    methods: Vec<Opt>,
    ties: Vec<Opt>,
    statuses: Vec<(String, String, bool)>,
    errors: FieldErrors,
    timezone: String,
}

fn form_page(ctx: &Ctx, id: Option<Uuid>, form: ElectionForm, errors: &[FieldError]) -> FormPage {
    let methods: Vec<(&str, &str)> = VotingMethod::WORDS
        .iter()
        .map(|w| (*w, VotingMethod::parse(w).map_or("", |m| m.label())))
        .collect();
    let ties: Vec<(&str, &str)> = TiePolicy::WORDS
        .iter()
        .map(|w| (*w, TiePolicy::parse(w).map_or("", |t| t.label())))
        .collect();
    let statuses = MemberStatus::WORDS
        .iter()
        .filter(|w| **w != "archived")
        .map(|w| {
            let mut label = w.replace('_', " ");
            if let Some(first) = label.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            (
                w.to_string(),
                label,
                form.voter_statuses.iter().any(|s| s == w),
            )
        })
        .collect();
    FormPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        methods: web::options(&methods, &form.voting_method, None),
        ties: web::options(&ties, &form.tie_policy, None),
        statuses,
        errors: FieldErrors::new(errors, FORM_LABELS),
        form,
        timezone: ctx.timezone.clone(),
    }
}

async fn new_form(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let form = ElectionForm {
        voting_method: VotingMethod::Plurality.as_str().into(),
        supermajority_percent: "67".into(),
        tie_policy: TiePolicy::Runoff.as_str().into(),
        voter_statuses: vec!["active".into()],
        require_voting_tier: Some("1".into()),
        reminder_hours_before_close: "24".into(),
        ..ElectionForm::default()
    };
    Ok(web::render(&form_page(&ctx, None, form, &[])))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let form = ElectionForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let input = form.input(&ctx, &mut errors);
    let mut tx = state.db.begin().await?;
    let saved = service::create_election(&ctx, &mut tx, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(e) => Ok(Redirect::to(&format!("/elections/{}?done=created", e.id)).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&form_page(&ctx, None, form, &errors)),
        )
            .into_response()),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::election(&ctx, &mut conn, id).await?;
    Ok(web::render(&form_page(
        &ctx,
        Some(id),
        ElectionForm::of(&ctx, &e),
        &[],
    )))
}

async fn update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let form = ElectionForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let input = form.input(&ctx, &mut errors);
    let mut tx = state.db.begin().await?;
    let saved = service::update_election(&ctx, &mut tx, id, input).await;
    let saved = match saved {
        Err(e @ AppError::Conflict(_)) => Err(AppError::field("title", web::refusal(&e))),
        other => other,
    };
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to(&format!("/elections/{id}?done=saved")).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&form_page(&ctx, Some(id), form, &errors)),
        )
            .into_response()),
    }
}

// ---------------------------------------------------------------------------------------------
// An election's page

struct CandidateLine {
    id: Uuid,
    name: String,
    statement: String,
    status: CandidateStatus,
    status_label: &'static str,
    nominated_by: String,
    mine: bool,
}

struct PositionView {
    id: Uuid,
    name: String,
    seats: u8,
    voter_role: String,
    candidates: Vec<CandidateLine>,
    voted: i64,
    roll: i64,
}

#[derive(Template)]
#[template(path = "elections/election.html")]
struct ElectionPage {
    chrome: Chrome,
    e: Election,
    status: &'static str,
    method: &'static str,
    tie: &'static str,
    positions: Vec<PositionView>,
    can_manage: bool,
    can_nominate: bool,
    preparing: bool,
    open: bool,
    closed: bool,
    show_results: bool,
    /// The member may still vote on some position.
    may_vote: bool,
    voted_all: bool,
    turnout: Option<(i64, i64)>,
    opens: String,
    closes: String,
    deadline: String,
    members: Vec<Opt>,
    roles: Vec<Opt>,
    notice: Option<String>,
    refusal: Option<String>,
    errors: FieldErrors,
}

async fn election_view(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
    errors: &[FieldError],
) -> Result<ElectionPage, AppError> {
    let e = service::election(ctx, conn, id).await?;
    let can_manage = ctx.has(ELECTIONS_MANAGE);
    let open = e.status == ElectionStatus::Open;
    let closed = e.status == ElectionStatus::Closed;
    let (turnout, per) = if open || closed {
        let t = results::turnout(ctx, conn, id).await?;
        (
            Some((t.voted, t.roll)),
            t.positions
                .iter()
                .map(|p| (p.position_id, p.voted, p.roll))
                .collect(),
        )
    } else {
        (None, Vec::new())
    };
    let mine = if open {
        Some(voting::my_ballot(ctx, conn, id).await?)
    } else {
        None
    };
    let may_vote = mine
        .as_ref()
        .is_some_and(|b| b.positions.iter().any(|p| !p.voted));
    let voted_all = mine
        .as_ref()
        .is_some_and(|b| !b.positions.is_empty() && b.positions.iter().all(|p| p.voted));
    let can_nominate = e.status == ElectionStatus::Nominations
        && e.nomination_deadline.is_none_or(|d| d > Utc::now())
        || (can_manage && e.status.preparing());
    let members = if can_nominate {
        service::nominees(ctx, conn)
            .await?
            .into_iter()
            .map(|m| Opt {
                selected: false,
                value: m.id.to_string(),
                label: m.name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let roles = if can_manage && e.status.preparing() && ctx.has(MEMBERS_VIEW) {
        let mut r: Vec<Opt> = vec![Opt {
            value: String::new(),
            label: "Everyone on the roll".into(),
            selected: true,
        }];
        r.extend(
            crate::roles::service::list(ctx, conn)
                .await?
                .into_iter()
                .map(|r| Opt {
                    value: r.id.to_string(),
                    label: format!("Only {}", r.name),
                    selected: false,
                }),
        );
        r
    } else {
        Vec::new()
    };
    let positions = e
        .positions
        .iter()
        .map(|p| {
            let (voted, roll) = per
                .iter()
                .find(|(pid, _, _)| *pid == p.id)
                .map_or((0, 0), |(_, v, r)| (*v, *r));
            PositionView {
                id: p.id,
                name: p.name.clone(),
                seats: p.seats,
                voter_role: p
                    .voter_role
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                candidates: p
                    .candidates
                    .iter()
                    // Members see who stands; a declined nomination only its officers.
                    .filter(|c| can_manage || c.status != CandidateStatus::Declined)
                    .map(|c| CandidateLine {
                        id: c.id,
                        name: c.name.clone(),
                        statement: c.statement.clone().unwrap_or_default(),
                        status: c.status,
                        status_label: match c.status {
                            CandidateStatus::Pending => "Nominated, not yet accepted",
                            CandidateStatus::Accepted => "",
                            CandidateStatus::Declined => "Declined",
                        },
                        nominated_by: c
                            .nominated_by
                            .as_ref()
                            .map(|n| n.name.clone())
                            .unwrap_or_default(),
                        mine: c.member.as_ref().is_some_and(|m| m.id == ctx.user_id),
                    })
                    .collect(),
                voted,
                roll,
            }
        })
        .collect();
    Ok(ElectionPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        status: e.status.label(),
        method: e.voting_method.label(),
        tie: e.tie_policy.label(),
        positions,
        can_manage,
        can_nominate,
        preparing: e.status.preparing(),
        open,
        closed,
        show_results: closed || (open && e.results_visible_immediately),
        may_vote,
        voted_all,
        turnout,
        opens: moment(ctx, e.opens_at),
        closes: moment(ctx, e.closes_at),
        deadline: moment(ctx, e.nomination_deadline),
        members,
        roles,
        notice,
        refusal,
        errors: FieldErrors::new(
            errors,
            &[
                ("name", "Name"),
                ("seats", "Seats"),
                ("user_id", "Member"),
                ("statement", "Statement"),
                ("position_id", "Position"),
            ],
        ),
        e,
    })
}

async fn election_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    let mut conn = state.db.acquire().await?;
    let page = election_view(&ctx, &mut conn, id, done_notice(done.as_deref()), None, &[]).await?;
    Ok(web::render(&page))
}

/// Ends an action of the election's page: commit and back to it with `done`, or the page again
/// with the refusal (and the field messages beside their fields).
async fn after<T>(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/elections/{id}?done={done}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let status = e.status();
            let fields = match &e {
                AppError::Validation(f) => f.clone(),
                _ => Vec::new(),
            };
            let mut conn = state.db.acquire().await?;
            let page =
                election_view(ctx, &mut conn, id, None, Some(web::refusal(&e)), &fields).await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The election a position or candidate belongs to, for coming back to its page.
async fn election_of(
    state: &AppState,
    ctx: &Ctx,
    table: &'static str,
    id: Uuid,
) -> Result<Uuid, AppError> {
    let mut conn = state.db.acquire().await?;
    service::election_of(ctx, &mut conn, table, id).await
}

#[derive(Debug, Default, Deserialize)]
struct PositionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    seats: String,
    #[serde(default)]
    voter_role_id: String,
}

async fn add_position(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<PositionForm>,
) -> PageResult {
    let seats = match form.seats.trim() {
        "" => Some(1),
        s => s.parse::<u8>().ok().or(Some(0)),
    };
    let role = form.voter_role_id.trim().parse::<Uuid>().ok();
    let mut tx = state.db.begin().await?;
    let r = service::add_position(
        &ctx,
        &mut tx,
        id,
        PositionInput {
            name: form.name,
            seats,
            voter_role_id: role,
        },
    )
    .await;
    after(&state, &ctx, id, tx, r, "position").await
}

async fn remove_position(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let election = election_of(&state, &ctx, "election_positions", id).await?;
    let mut tx = state.db.begin().await?;
    let r = service::remove_position(&ctx, &mut tx, id).await;
    after(&state, &ctx, election, tx, r, "position-removed").await
}

#[derive(Debug, Default, Deserialize)]
struct CandidateForm {
    #[serde(default)]
    position_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    statement: String,
}

async fn nominate(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CandidateForm>,
) -> PageResult {
    let Ok(position_id) = form.position_id.trim().parse::<Uuid>() else {
        let tx = state.db.begin().await?;
        let r: Result<(), AppError> = Err(AppError::field("position_id", "choose a position"));
        return after(&state, &ctx, id, tx, r, "").await;
    };
    let user_id = form.user_id.trim().parse::<Uuid>().ok();
    let name = Some(form.name.trim().to_string()).filter(|n| !n.is_empty());
    let mut tx = state.db.begin().await?;
    let r = service::nominate(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        CandidateInput {
            position_id,
            user_id,
            name,
            statement: Some(form.statement.replace("\r\n", "\n")),
        },
    )
    .await;
    let done = match &r {
        Ok(c) if c.status == CandidateStatus::Pending => "nominated",
        _ => "candidate",
    };
    after(&state, &ctx, id, tx, r, done).await
}

#[derive(Debug, Default, Deserialize)]
struct AnswerForm {
    #[serde(default)]
    accept: String,
}

async fn answer(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<AnswerForm>,
) -> PageResult {
    let election = election_of(&state, &ctx, "candidates", id).await?;
    let mut tx = state.db.begin().await?;
    let r = service::answer_nomination(
        &ctx,
        &mut tx,
        id,
        AnswerInput {
            accept: form.accept == "1",
        },
    )
    .await;
    after(&state, &ctx, election, tx, r, "answered").await
}

async fn remove_candidate(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let election = election_of(&state, &ctx, "candidates", id).await?;
    let mut tx = state.db.begin().await?;
    let r = service::remove_candidate(&ctx, &mut tx, id).await;
    after(&state, &ctx, election, tx, r, "candidate-removed").await
}

async fn start_nominations(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::start_nominations(&ctx, &mut tx, &state.notifier, id).await;
    after(&state, &ctx, id, tx, r, "nominations").await
}

async fn open(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::open(&ctx, &mut tx, &state.notifier, id).await;
    after(&state, &ctx, id, tx, r, "opened").await
}

#[derive(Template)]
#[template(path = "elections/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    /// `close` or `cancel`.
    action: &'static str,
    turnout: Option<(i64, i64)>,
    reason: String,
    refusal: Option<String>,
    errors: FieldErrors,
}

async fn confirm_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &'static str,
    reason: String,
    refusal: Option<String>,
    errors: &[FieldError],
) -> Result<ConfirmPage, AppError> {
    ctx.require(ELECTIONS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::election(ctx, &mut conn, id).await?;
    let turnout = if e.status == ElectionStatus::Open {
        let t = results::turnout(ctx, &mut conn, id).await?;
        Some((t.voted, t.roll))
    } else {
        None
    };
    Ok(ConfirmPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        title: e.title,
        action,
        turnout,
        reason,
        refusal,
        errors: FieldErrors::new(errors, &[("reason", "Why")]),
    })
}

async fn close_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let page = confirm_page(&state, &ctx, id, "close", String::new(), None, &[]).await?;
    Ok(web::render(&page))
}

async fn close(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match results::close(&ctx, &mut tx, &state.notifier, id).await {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/elections/{id}/results?done=closed")).into_response())
        }
        Err(e @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let page = confirm_page(&state, &ctx, id, "close", String::new(), Some(web::refusal(&e)), &[])
                .await?;
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn cancel_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let page = confirm_page(&state, &ctx, id, "cancel", String::new(), None, &[]).await?;
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::cancel(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        CancelInput {
            reason: form.reason.clone(),
        },
    )
    .await;
    match r {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/elections/{id}?done=cancelled")).into_response())
        }
        Err(e @ (AppError::Conflict(_) | AppError::Validation(_))) => {
            tx.rollback().await?;
            let (refusal, fields) = match &e {
                AppError::Validation(f) => (None, f.clone()),
                _ => (Some(web::refusal(&e)), Vec::new()),
            };
            let page = confirm_page(&state, &ctx, id, "cancel", form.reason, refusal, &fields).await?;
            Ok((e.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The ballot

struct BallotChoice {
    id: Uuid,
    name: String,
    checked: bool,
    rank: String,
}

struct BallotSection {
    id: Uuid,
    name: String,
    /// `one`, `several` (up to `seats`), `any` (approval) or `rank`.
    kind: &'static str,
    seats: u8,
    voted: bool,
    choices: Vec<BallotChoice>,
    ranks: Vec<usize>,
    error: String,
}

#[derive(Template)]
#[template(path = "elections/ballot.html")]
struct BallotPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    closes: String,
    method: &'static str,
    sections: Vec<BallotSection>,
    open: bool,
    refusal: Option<String>,
}

#[derive(Template)]
#[template(path = "elections/cast.html")]
struct CastPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    receipts: Vec<voting::Receipt>,
}

async fn ballot_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    given: &[(String, String)],
    field_errors: &[FieldError],
    refusal: Option<String>,
) -> Result<BallotPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let b = voting::my_ballot(ctx, &mut conn, id).await?;
    let sections = b
        .positions
        .iter()
        .map(|p| {
            let key = format!("p_{}", p.position_id);
            let kind = match b.voting_method {
                VotingMethod::RankedChoice => "rank",
                VotingMethod::Approval => "any",
                VotingMethod::Plurality if p.seats > 1 => "several",
                _ => "one",
            };
            BallotSection {
                id: p.position_id,
                name: p.name.clone(),
                kind,
                seats: p.seats,
                voted: p.voted,
                ranks: (1..=p.candidates.len()).collect(),
                choices: p
                    .candidates
                    .iter()
                    .map(|c| BallotChoice {
                        id: c.id,
                        name: c.name.clone(),
                        checked: given
                            .iter()
                            .any(|(k, v)| *k == key && *v == c.id.to_string()),
                        rank: given
                            .iter()
                            .find(|(k, _)| *k == format!("r_{}_{}", p.position_id, c.id))
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                    })
                    .collect(),
                error: field_errors
                    .iter()
                    .filter(|e| e.field == key)
                    .map(|e| web::sentence(&e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .collect();
    Ok(BallotPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        closes: moment(ctx, b.closes_at),
        method: b.voting_method.label(),
        open: b.status == ElectionStatus::Open,
        title: b.title,
        sections,
        refusal,
    })
}

async fn ballot_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    Ok(web::render(
        &ballot_view(&state, &ctx, id, &[], &[], None).await?,
    ))
}

/// The ballots the form gives, per position: ticked candidates, or the ranking (ranks sorted;
/// a rank given twice is an error beside the position).
fn read_ballot(
    given: &[(String, String)],
    positions: &[(Uuid, Vec<Uuid>)],
    errors: &mut Vec<FieldError>,
) -> Vec<BallotInput> {
    let mut out = Vec::new();
    for (pid, candidates) in positions {
        let key = format!("p_{pid}");
        let mut choices: Vec<Uuid> = given
            .iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        let mut ranked: Vec<(usize, Uuid)> = Vec::new();
        for c in candidates {
            let rk = format!("r_{pid}_{c}");
            if let Some((_, v)) = given.iter().find(|(k, _)| *k == rk)
                && let Ok(n) = v.trim().parse::<usize>()
            {
                ranked.push((n, *c));
            }
        }
        if !ranked.is_empty() {
            ranked.sort();
            if ranked.windows(2).any(|w| w[0].0 == w[1].0) {
                errors.push(FieldError::new(&key, "give each rank to one candidate only"));
                continue;
            }
            choices = ranked.into_iter().map(|(_, c)| c).collect();
        }
        if !choices.is_empty() {
            out.push(BallotInput {
                position_id: *pid,
                choices,
            });
        }
    }
    out
}

async fn cast(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(given): Form<Vec<(String, String)>>,
) -> PageResult {
    let positions: Vec<(Uuid, Vec<Uuid>)> = {
        let mut conn = state.db.acquire().await?;
        voting::my_ballot(&ctx, &mut conn, id)
            .await?
            .positions
            .into_iter()
            .filter(|p| !p.voted)
            .map(|p| (p.position_id, p.candidates.iter().map(|c| c.id).collect()))
            .collect()
    };
    let mut errors = Vec::new();
    let ballots = read_ballot(&given, &positions, &mut errors);
    if errors.is_empty() && ballots.is_empty() {
        let page = ballot_view(
            &state,
            &ctx,
            id,
            &given,
            &[],
            Some("Nothing was cast: choose on at least one position.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    }
    if !errors.is_empty() {
        let page = ballot_view(
            &state,
            &ctx,
            id,
            &given,
            &errors,
            Some("Nothing was cast: see the message below.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    }
    let mut tx = state.db.begin().await?;
    match voting::cast(&ctx, &mut tx, id, CastInput { ballots }).await {
        Ok(cast) => {
            tx.commit().await?;
            let title = {
                let mut conn = state.db.acquire().await?;
                service::election(&ctx, &mut conn, id).await?.title
            };
            Ok(web::render(&CastPage {
                chrome: Chrome::for_viewer(&ctx, SECTION),
                id,
                title,
                receipts: cast.receipts,
            }))
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            // Field errors name `ballots[i].choices`: shown above the ballot as sentences.
            let page = ballot_view(
                &state,
                &ctx,
                id,
                &given,
                &[],
                Some(format!("Nothing was cast: {}", web::refusal(&e))),
            )
            .await?;
            Ok((e.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Results, the certificate and receipts

#[derive(Template)]
#[template(path = "elections/results.html")]
struct ResultsPage {
    chrome: Chrome,
    r: Results,
    closed: String,
    method: &'static str,
    /// Positions a chair may still decide (tie policy chair_decides, tied, undecided).
    chair_may_decide: bool,
    notice: Option<String>,
    refusal: Option<String>,
}

async fn results_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<ResultsPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let r = results::results(ctx, &mut conn, id).await?;
    Ok(ResultsPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        closed: moment(ctx, r.closed_at),
        method: r.voting_method.label(),
        chair_may_decide: ctx.has(ELECTIONS_MANAGE)
            && r.tie_policy == TiePolicy::ChairDecides
            && r.status == ElectionStatus::Closed,
        r,
        notice,
        refusal,
    })
}

async fn results_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    match results_view(&state, &ctx, id, done_notice(done.as_deref()), None).await {
        Ok(page) => Ok(web::render(&page)),
        // Not yet (or never): the election's page says why, with the turnout.
        Err(e @ AppError::Conflict(_)) => {
            let mut conn = state.db.acquire().await?;
            let page =
                election_view(&ctx, &mut conn, id, None, Some(web::refusal(&e)), &[]).await?;
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct DecideForm {
    #[serde(default)]
    candidate_id: String,
}

async fn decide(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<DecideForm>,
) -> PageResult {
    let election = election_of(&state, &ctx, "election_positions", id).await?;
    let candidate_id = form.candidate_id.trim().parse::<Uuid>().unwrap_or_default();
    let mut tx = state.db.begin().await?;
    match results::decide_tie(&ctx, &mut tx, id, DecideInput { candidate_id }).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/elections/{election}/results?done=decided")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            tx.rollback().await?;
            let page = results_view(&state, &ctx, election, None, Some(web::refusal(&e))).await?;
            Ok((e.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn certificate(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let bytes = results::certificate(&ctx, &mut conn, id).await?;
    Ok(super::api::pdf_response(bytes, &format!("election-result-{id}.pdf")))
}

#[derive(Template)]
#[template(path = "elections/receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    receipt: String,
    answer: Option<voting::ReceiptCheck>,
    error: Option<String>,
}

async fn receipt_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    receipt: String,
    answer: Option<voting::ReceiptCheck>,
    error: Option<String>,
) -> Result<ReceiptPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let e = service::election(ctx, &mut conn, id).await?;
    Ok(ReceiptPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        title: e.title,
        receipt,
        answer,
        error,
    })
}

async fn receipt_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    Ok(web::render(
        &receipt_view(&state, &ctx, id, String::new(), None, None).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct ReceiptForm {
    #[serde(default)]
    receipt: String,
}

async fn check_receipt(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReceiptForm>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let r = voting::check_receipt(
        &ctx,
        &mut conn,
        id,
        ReceiptInput {
            receipt: form.receipt.clone(),
        },
    )
    .await;
    drop(conn);
    match r {
        Ok(answer) => Ok(web::render(
            &receipt_view(&state, &ctx, id, form.receipt, Some(answer), None).await?,
        )),
        Err(e @ AppError::Validation(_)) => {
            let page =
                receipt_view(&state, &ctx, id, form.receipt, None, Some(web::refusal(&e))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The roll and paper ballots (officers)

#[derive(Template)]
#[template(path = "elections/roll.html")]
struct RollPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    open: bool,
    roll: Vec<voting::RollLine>,
    members: Vec<Opt>,
    positions: Vec<Opt>,
    voted: usize,
    notice: Option<String>,
    refusal: Option<String>,
    errors: FieldErrors,
}

async fn roll_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
    errors: &[FieldError],
) -> Result<RollPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let e = service::election(ctx, &mut conn, id).await?;
    let roll = voting::roll(ctx, &mut conn, id).await?;
    let members = service::nominees(ctx, &mut conn)
        .await?
        .into_iter()
        .map(|m| Opt {
            value: m.id.to_string(),
            label: m.name,
            selected: false,
        })
        .collect();
    let mut positions = vec![Opt {
        value: String::new(),
        label: "Every position".into(),
        selected: true,
    }];
    positions.extend(e.positions.iter().map(|p| Opt {
        value: p.id.to_string(),
        label: p.name.clone(),
        selected: false,
    }));
    Ok(RollPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        title: e.title,
        open: e.status == ElectionStatus::Open,
        voted: roll
            .iter()
            .filter(|l| l.positions.iter().any(|p| p.voted))
            .count(),
        roll,
        members,
        positions,
        notice,
        refusal,
        errors: FieldErrors::new(
            errors,
            &[("user_id", "Member"), ("reason", "Why"), ("position_id", "Position")],
        ),
    })
}

async fn roll_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    Ok(web::render(
        &roll_view(&state, &ctx, id, done_notice(done.as_deref()), None, &[]).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct RollForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    position_id: String,
    #[serde(default)]
    on_roll: String,
    #[serde(default)]
    reason: String,
}

async fn change_roll(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RollForm>,
) -> PageResult {
    let Ok(user_id) = form.user_id.trim().parse::<Uuid>() else {
        let page = roll_view(
            &state,
            &ctx,
            id,
            None,
            None,
            &[FieldError::new("user_id", "choose a member")],
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    };
    let mut tx = state.db.begin().await?;
    let r = voting::change_roll(
        &ctx,
        &mut tx,
        id,
        RollChange {
            user_id,
            position_id: form.position_id.trim().parse().ok(),
            on_roll: form.on_roll != "0",
            reason: form.reason,
        },
    )
    .await;
    match r {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/elections/{id}/roll?done=roll")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            tx.rollback().await?;
            let (refusal, fields) = match &e {
                AppError::Validation(f) => (None, f.clone()),
                _ => (Some(web::refusal(&e)), Vec::new()),
            };
            let page = roll_view(&state, &ctx, id, None, refusal, &fields).await?;
            Ok((e.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

struct BatchLine {
    id: Uuid,
    status: &'static str,
    pending: bool,
    mine: bool,
    ballots: u32,
    voters: i64,
    recorded_by: String,
    attested_by: String,
    note: String,
    when: String,
}

struct PaperPosition {
    id: Uuid,
    name: String,
    /// "1 Jo Smith · 2 Lee Park": the numbers written on a ballot line.
    numbered: String,
    text: String,
}

#[derive(Template)]
#[template(path = "elections/paper.html")]
struct PaperPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    open: bool,
    batches: Vec<BatchLine>,
    voters: Vec<(Uuid, String, bool)>,
    positions: Vec<PaperPosition>,
    note: String,
    min_voters: usize,
    notice: Option<String>,
    refusal: Option<String>,
}

async fn paper_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    given: &[(String, String)],
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<PaperPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let e = service::election(ctx, &mut conn, id).await?;
    let roll = voting::roll(ctx, &mut conn, id).await?;
    let batches = voting::batches(ctx, &mut conn, id).await?;
    let get = |k: &str| {
        given
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(PaperPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        open: e.status == ElectionStatus::Open,
        batches: batches
            .into_iter()
            .map(|b| BatchLine {
                id: b.id,
                status: match b.status {
                    BatchStatus::Pending => "Waiting for a second officer",
                    BatchStatus::Confirmed => "Attested and counted",
                    BatchStatus::Voided => "Voided",
                },
                pending: b.status == BatchStatus::Pending,
                mine: b.recorded_by == ctx.user_id,
                ballots: b.ballot_count,
                voters: b.voters,
                recorded_by: b.recorded_by_name,
                attested_by: b.attested_by_name.unwrap_or_default(),
                note: b.note.unwrap_or_default(),
                when: ctx.local().moment(&b.created_at),
            })
            .collect(),
        voters: roll
            .iter()
            .filter(|l| l.positions.iter().all(|p| !p.voted))
            .map(|l| {
                let ticked = given
                    .iter()
                    .any(|(k, v)| k == "voter_ids" && *v == l.user_id.to_string());
                (l.user_id, l.name.clone(), ticked)
            })
            .collect(),
        positions: e
            .positions
            .iter()
            .map(|p| PaperPosition {
                id: p.id,
                name: p.name.clone(),
                numbered: p
                    .candidates
                    .iter()
                    .filter(|c| c.status == CandidateStatus::Accepted)
                    .enumerate()
                    .map(|(i, c)| format!("{} {}", i + 1, c.name))
                    .collect::<Vec<_>>()
                    .join(" · "),
                text: get(&format!("p_{}", p.id)),
            })
            .collect(),
        note: get("note"),
        min_voters: voting::MIN_BATCH_VOTERS,
        title: e.title,
        notice,
        refusal,
    })
}

async fn paper_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let done = done.ok().and_then(|Query(d)| d.done);
    Ok(web::render(
        &paper_view(&state, &ctx, id, &[], done_notice(done.as_deref()), None).await?,
    ))
}

/// Paper ballots as typed: one ballot a line, the candidates' numbers on the paper list
/// (separated by spaces or commas; for ranked choice, first choice first).
fn read_paper(
    given: &[(String, String)],
    election: &Election,
    errors: &mut Vec<String>,
) -> Vec<BallotInput> {
    let mut out = Vec::new();
    for p in &election.positions {
        let numbered: Vec<Uuid> = p
            .candidates
            .iter()
            .filter(|c| c.status == CandidateStatus::Accepted)
            .map(|c| c.id)
            .collect();
        let Some((_, text)) = given.iter().find(|(k, _)| *k == format!("p_{}", p.id)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut choices = Vec::new();
            for part in line.split([' ', ',', ';']).filter(|s| !s.is_empty()) {
                match part.parse::<usize>().ok().and_then(|i| numbered.get(i.wrapping_sub(1))) {
                    Some(c) => choices.push(*c),
                    None => errors.push(format!(
                        "{}, line {}: “{part}” is not a number on the list.",
                        p.name,
                        n + 1
                    )),
                }
            }
            out.push(BallotInput {
                position_id: p.id,
                choices,
            });
        }
    }
    out
}

async fn record_batch(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(given): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(ELECTIONS_MANAGE)?;
    let election = {
        let mut conn = state.db.acquire().await?;
        service::election(&ctx, &mut conn, id).await?
    };
    let mut problems = Vec::new();
    let ballots = read_paper(&given, &election, &mut problems);
    let voter_ids: Vec<Uuid> = given
        .iter()
        .filter(|(k, _)| k == "voter_ids")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let note = given
        .iter()
        .find(|(k, _)| k == "note")
        .map(|(_, v)| v.clone());
    if problems.is_empty() {
        let mut tx = state.db.begin().await?;
        match voting::record_batch(
            &ctx,
            &mut tx,
            id,
            BatchInput {
                voter_ids,
                ballots,
                note,
            },
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/elections/{id}/paper?done=batch")).into_response());
            }
            Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
                tx.rollback().await?;
                problems.push(web::refusal(&e));
            }
            Err(other) => return Err(other.into()),
        }
    }
    let page = paper_view(
        &state,
        &ctx,
        id,
        &given,
        None,
        Some(format!("Nothing was entered. {}", problems.join(" "))),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn batch_action(
    state: AppState,
    ctx: Ctx,
    id: Uuid,
    attest: bool,
) -> PageResult {
    let election = election_of(&state, &ctx, "paper_ballot_batches", id).await?;
    let mut tx = state.db.begin().await?;
    let r = if attest {
        voting::attest_batch(&ctx, &mut tx, id).await
    } else {
        voting::void_batch(&ctx, &mut tx, id).await
    };
    match r {
        Ok(_) => {
            tx.commit().await?;
            let done = if attest { "attested" } else { "voided" };
            Ok(Redirect::to(&format!("/elections/{election}/paper?done={done}")).into_response())
        }
        Err(e @ (AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let page =
                paper_view(&state, &ctx, election, &[], None, Some(web::refusal(&e))).await?;
            Ok((e.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn attest_batch(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    batch_action(state, ctx, id, true).await
}

async fn void_batch(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    batch_action(state, ctx, id, false).await
}

// ---------------------------------------------------------------------------------------------
// The dashboard

/// "Vote now" for elections the member may still vote in; nominations waiting for their answer.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    if !ctx.has(ELECTIONS_VIEW) {
        return Ok(Vec::new());
    }
    let waiting = service::waiting_for(ctx, conn).await?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Panel {
        title: "Elections".into(),
        items: waiting
            .into_iter()
            .map(|(id, title, vote)| {
                if vote {
                    PanelItem {
                        text: format!("Vote now: {title}"),
                        link: format!("/elections/{id}/ballot"),
                    }
                } else {
                    PanelItem {
                        text: format!("You were nominated: {title} · accept or decline"),
                        link: format!("/elections/{id}"),
                    }
                }
            })
            .collect(),
    }])
}
