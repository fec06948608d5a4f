//! Minutes: templates, the record itself and its workflow. Every change locks the minutes' row
//! and asks `rules::next` whether the step is allowed in the state it finds, so two officers
//! pressing "approve" at once approve once, and an edit made from an older copy (its
//! `revision`) is refused rather than silently overwriting the other's work.

pub mod attendance;
pub mod content;
pub mod publish;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Named, Page};
use crate::input::{self, Checks};
use crate::modules::minutes::rules::{self, MeetingType, MinutesStatus, Step};
use crate::notify::{self, Notice, Notifier};

pub use attendance::{AttendanceView, Excused};
pub use content::{ActionItem, Motion};

/// Read approved minutes.
pub const MINUTES_VIEW: &str = "minutes.view";
/// Write, submit, approve, reject and publish minutes; see drafts.
pub const MINUTES_MANAGE: &str = "minutes.manage";


// ---------------------------------------------------------------------------------------------
// Templates

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MinutesTemplate {
    pub id: Uuid,
    pub name: String,
    #[schema(schema_with = MeetingType::schema_object)]
    pub meeting_type: MeetingType,
    pub is_default: bool,
    pub sections: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: Uuid,
    name: String,
    meeting_type: MeetingType,
    is_default: bool,
    sections: String,
}

impl From<TemplateRow> for MinutesTemplate {
    fn from(r: TemplateRow) -> Self {
        MinutesTemplate {
            id: r.id,
            name: r.name,
            meeting_type: r.meeting_type,
            is_default: r.is_default,
            sections: serde_json::from_str(&r.sections).unwrap_or_default(),
        }
    }
}

/// Gives a department the default template of each meeting type it lacks (the module's seed
/// for new departments; on first use for departments made before minutes existed).
pub async fn ensure_templates(conn: &mut Conn, org: OrgId) -> AppResult<()> {
    let have: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM minute_templates WHERE organization_id = ? AND is_default",
    )
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    if have as usize >= MeetingType::WORDS.len() {
        return Ok(());
    }
    let now = db::now();
    for word in MeetingType::WORDS {
        let t = MeetingType::parse(word).unwrap_or(MeetingType::Other);
        // INSERT IGNORE: a second request doing the same at once adds nothing twice.
        sqlx::query(
            "INSERT IGNORE INTO minute_templates (id, organization_id, name, meeting_type,
                    is_default, sections, created_at, updated_at)
             SELECT ?, ?, ?, ?, TRUE, ?, ?, ? FROM DUAL
              WHERE NOT EXISTS (SELECT 1 FROM minute_templates
                                 WHERE organization_id = ? AND meeting_type = ? AND is_default)",
        )
        .bind(db::new_id())
        .bind(org)
        .bind(t.label())
        .bind(t)
        .bind(serde_json::to_string(t.default_sections()).unwrap_or_default())
        .bind(now)
        .bind(now)
        .bind(org)
        .bind(t)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn templates(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<MinutesTemplate>> {
    ctx.require(MINUTES_MANAGE)?;
    ensure_templates(conn, ctx.org_id).await?;
    let rows: Vec<TemplateRow> = sqlx::query_as(
        "SELECT id, name, meeting_type, is_default, sections FROM minute_templates
          WHERE organization_id = ? ORDER BY is_default DESC, name",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(MinutesTemplate::from).collect())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesTemplateInput {
    pub name: String,
    #[schema(schema_with = MeetingType::schema_object)]
    pub meeting_type: String,
    /// Section titles, in order.
    pub sections: Vec<String>,
}

fn valid_sections(field: &str, sections: &[String]) -> AppResult<Vec<String>> {
    if sections.is_empty() {
        return Err(AppError::field(field, "needs at least one section"));
    }
    if sections.len() > 40 {
        return Err(AppError::field(field, "must have at most 40 sections"));
    }
    sections
        .iter()
        .map(|s| input::required_text(field, s, 120))
        .collect()
}

/// Adds a department's own template ("Fire company meeting").
pub async fn create_template(ctx: &Ctx, tx: &mut Tx<'_>, t: MinutesTemplateInput) -> AppResult<MinutesTemplate> {
    ctx.require(MINUTES_MANAGE)?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &t.name, 120));
    let kind = c.take(MeetingType::parse(&t.meeting_type).ok_or_else(|| {
        AppError::field("meeting_type", MeetingType::must_be())
    }));
    let sections = c.take(valid_sections("sections", &t.sections));
    c.finish()?;
    let (name, kind, sections) = (
        name.unwrap_or_default(),
        kind.unwrap_or(MeetingType::Other),
        sections.unwrap_or_default(),
    );
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO minute_templates (id, organization_id, name, meeting_type, is_default,
                sections, created_at, updated_at)
         VALUES (?, ?, ?, ?, FALSE, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&name)
    .bind(kind)
    .bind(serde_json::to_string(&sections).unwrap_or_default())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        crate::error::unique_violation(
            e,
            &[("uq_minute_templates_name", "name", "another template has this name")],
        )
    })?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.template_added", "minute_template", id).changes(
            serde_json::json!({"name": name, "meeting_type": kind, "sections": sections}),
        ),
    )
    .await?;
    Ok(MinutesTemplate {
        id,
        name,
        meeting_type: kind,
        is_default: false,
        sections,
    })
}

// ---------------------------------------------------------------------------------------------
// Minutes

/// A section of the minutes: its title and what was said and done.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MinutesSection {
    pub id: Uuid,
    pub title: String,
    pub body: String,
}

/// Minutes in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MinutesSummary {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = MeetingType::schema_object)]
    pub meeting_type: MeetingType,
    pub meeting_date: NaiveDate,
    #[schema(schema_with = MinutesStatus::schema_object)]
    pub status: MinutesStatus,
    pub published_document_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// Minutes in full: the header, sections, motions, action items and attendance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Minutes {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = MeetingType::schema_object)]
    pub meeting_type: MeetingType,
    pub meeting_date: NaiveDate,
    pub location: Option<String>,
    /// Who presided ("President J. Miller").
    pub presiding: Option<String>,
    /// Local time, `HH:MM:SS`.
    #[schema(value_type = Option<String>)]
    pub called_to_order_at: Option<NaiveTime>,
    #[schema(value_type = Option<String>)]
    pub adjourned_at: Option<NaiveTime>,
    pub quorum_met: Option<bool>,
    pub template: Option<Named>,
    /// The business-meeting event whose check-ins are the attendance.
    pub event: Option<Named>,
    #[schema(schema_with = MinutesStatus::schema_object)]
    pub status: MinutesStatus,
    /// Send it back with an edit; an edit from an older revision is refused.
    pub revision: u32,
    pub submitted_by: Option<Named>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_by: Option<Named>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_by: Option<Named>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub published_document_id: Option<Uuid>,
    pub created_by: Option<Named>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sections: Vec<MinutesSection>,
    pub motions: Vec<Motion>,
    pub action_items: Vec<ActionItem>,
    pub attendance: AttendanceView,
    /// Whether the caller may write, submit, approve and publish minutes.
    pub may_manage: bool,
}

#[derive(sqlx::FromRow)]
struct MinutesRow {
    id: Uuid,
    title: String,
    meeting_type: MeetingType,
    meeting_date: NaiveDate,
    location: Option<String>,
    presiding: Option<String>,
    called_to_order_at: Option<NaiveTime>,
    adjourned_at: Option<NaiveTime>,
    quorum_met: Option<bool>,
    template_id: Option<Uuid>,
    template_name: Option<String>,
    event_id: Option<Uuid>,
    event_title: Option<String>,
    status: MinutesStatus,
    revision: u32,
    submitted_by: Option<Uuid>,
    submitted_by_name: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    approved_by: Option<Uuid>,
    approved_by_name: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    rejected_by: Option<Uuid>,
    rejected_by_name: Option<String>,
    rejected_at: Option<DateTime<Utc>>,
    rejection_reason: Option<String>,
    published_document_id: Option<Uuid>,
    created_by: Option<Uuid>,
    created_by_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const MINUTES_SELECT: &str = "SELECT m.id, m.title, m.meeting_type, m.meeting_date, m.location,
        m.presiding, m.called_to_order_at, m.adjourned_at, m.quorum_met, m.template_id,
        t.name AS template_name, m.event_id, e.title AS event_title, m.status, m.revision,
        m.submitted_by, CONCAT(su.first_name, ' ', su.last_name) AS submitted_by_name,
        m.submitted_at, m.approved_by,
        CONCAT(au.first_name, ' ', au.last_name) AS approved_by_name, m.approved_at,
        m.rejected_by, CONCAT(ru.first_name, ' ', ru.last_name) AS rejected_by_name,
        m.rejected_at, m.rejection_reason, m.published_document_id, m.created_by,
        CONCAT(cu.first_name, ' ', cu.last_name) AS created_by_name, m.created_at, m.updated_at
   FROM meeting_minutes m
   LEFT JOIN minute_templates t ON t.organization_id = m.organization_id AND t.id = m.template_id
   LEFT JOIN events e ON e.organization_id = m.organization_id AND e.id = m.event_id
   LEFT JOIN users su ON su.organization_id = m.organization_id AND su.id = m.submitted_by
   LEFT JOIN users au ON au.organization_id = m.organization_id AND au.id = m.approved_by
   LEFT JOIN users ru ON ru.organization_id = m.organization_id AND ru.id = m.rejected_by
   LEFT JOIN users cu ON cu.organization_id = m.organization_id AND cu.id = m.created_by";

/// The minutes' row as the caller may see it: members who only read minutes see approved ones;
/// anything else answers 404, like a missing row.
async fn minutes_row(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<MinutesRow> {
    ctx.require(MINUTES_VIEW)?;
    let row: Option<MinutesRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{MINUTES_SELECT} WHERE m.organization_id = ? AND m.id = ?")))
            .bind(ctx.org_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let row = row.ok_or(AppError::NotFound)?;
    if !ctx.has(MINUTES_MANAGE) && row.status != MinutesStatus::Approved {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// Minutes in full.
pub async fn minutes(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Minutes> {
    let r = minutes_row(ctx, conn, id).await?;
    let sections: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, title, body FROM minute_sections
          WHERE organization_id = ? AND minutes_id = ? ORDER BY sort_order",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let motions = content::motions_of(conn, ctx.org_id, id).await?;
    let action_items = content::items_of(conn, ctx, id).await?;
    let mut attendance =
        attendance::view(conn, ctx.org_id, id, r.event_id, r.status == MinutesStatus::Approved)
            .await?;
    // Why a member was excused is theirs and the officers': members read who, not why.
    if !ctx.has(MINUTES_MANAGE) {
        for e in &mut attendance.excused {
            e.excuse = None;
        }
    }
    Ok(Minutes {
        id: r.id,
        title: r.title,
        meeting_type: r.meeting_type,
        meeting_date: r.meeting_date,
        location: r.location,
        presiding: r.presiding,
        called_to_order_at: r.called_to_order_at,
        adjourned_at: r.adjourned_at,
        quorum_met: r.quorum_met,
        template: Named::of(r.template_id, r.template_name),
        event: Named::of(r.event_id, r.event_title),
        status: r.status,
        revision: r.revision,
        submitted_by: Named::of(r.submitted_by, r.submitted_by_name),
        submitted_at: r.submitted_at,
        approved_by: Named::of(r.approved_by, r.approved_by_name),
        approved_at: r.approved_at,
        rejected_by: Named::of(r.rejected_by, r.rejected_by_name),
        rejected_at: r.rejected_at,
        rejection_reason: r.rejection_reason,
        published_document_id: r.published_document_id,
        created_by: Named::of(r.created_by, r.created_by_name),
        created_at: r.created_at,
        updated_at: r.updated_at,
        sections: sections
            .into_iter()
            .map(|(id, title, body)| MinutesSection { id, title, body })
            .collect(),
        motions,
        action_items,
        attendance,
        may_manage: ctx.has(MINUTES_MANAGE),
    })
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MinutesQuery {
    /// Words in the title.
    pub q: Option<String>,
    /// Only minutes in this state (officers; members see approved minutes only).
    pub status: Option<String>,
    /// Only meetings in this year.
    pub year: Option<i32>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// Minutes the caller may see, newest meeting first.
pub async fn list(ctx: &Ctx, conn: &mut Conn, q: MinutesQuery) -> AppResult<Page<MinutesSummary>> {
    ctx.require(MINUTES_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let status = MinutesStatus::parse_filter("status", q.status.as_deref())?;
    let term = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if term.is_some_and(|t| t.chars().count() > 100) {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
    if q.year.is_some_and(|y| !(1900..=2200).contains(&y)) {
        return Err(AppError::field("year", "must be a year between 1900 and 2200"));
    }
    let manager = ctx.has(MINUTES_MANAGE);
    let filter = |b: &mut QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE organization_id = ").push_bind(ctx.org_id);
        if !manager {
            b.push(" AND status = ").push_bind(MinutesStatus::Approved);
        }
        if let Some(s) = status {
            b.push(" AND status = ").push_bind(s);
        }
        if let Some(t) = term {
            b.push(" AND title LIKE ").push_bind(crate::http::like_pattern(t));
        }
        if let Some(y) = q.year {
            b.push(" AND meeting_date BETWEEN ")
                .push_bind(NaiveDate::from_ymd_opt(y, 1, 1))
                .push(" AND ")
                .push_bind(NaiveDate::from_ymd_opt(y, 12, 31));
        }
    };
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM meeting_minutes");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = QueryBuilder::new(
        "SELECT id, title, meeting_type, meeting_date, status, published_document_id, updated_at
           FROM meeting_minutes",
    );
    filter(&mut b);
    b.push(" ORDER BY meeting_date DESC, id DESC LIMIT ")
        .push_bind(per_page)
        .push(" OFFSET ")
        .push_bind(u64::from(page - 1) * u64::from(per_page));
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        title: String,
        meeting_type: MeetingType,
        meeting_date: NaiveDate,
        status: MinutesStatus,
        published_document_id: Option<Uuid>,
        updated_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| MinutesSummary {
                id: r.id,
                title: r.title,
                meeting_type: r.meeting_type,
                meeting_date: r.meeting_date,
                status: r.status,
                published_document_id: r.published_document_id,
                updated_at: r.updated_at,
            })
            .collect(),
        page,
        per_page,
        total: total as u64,
    })
}

/// Minutes waiting for the caller's approval (officers; none for others), oldest first.
pub async fn waiting_for_approval(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<(Uuid, String)>> {
    if !ctx.has(MINUTES_MANAGE) {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT id, title FROM meeting_minutes
          WHERE organization_id = ? AND status = ? AND (submitted_by IS NULL OR submitted_by <> ?)
          ORDER BY submitted_at LIMIT 5",
    )
    .bind(ctx.org_id)
    .bind(MinutesStatus::Submitted)
    .bind(ctx.user_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Business-meeting events that could have minutes: from 90 days back to a week ahead, not
/// cancelled, without minutes yet; newest first.
pub async fn meeting_events(
    ctx: &Ctx,
    conn: &mut Conn,
) -> AppResult<Vec<(Uuid, String, DateTime<Utc>)>> {
    ctx.require(MINUTES_MANAGE)?;
    let now = db::now();
    Ok(sqlx::query_as(
        "SELECT e.id, e.title, e.starts_at FROM events e
          WHERE e.organization_id = ? AND e.event_type = ? AND e.cancelled_at IS NULL
            AND NOT e.is_draft AND e.starts_at BETWEEN ? AND ?
            AND NOT EXISTS (SELECT 1 FROM meeting_minutes m
                             WHERE m.organization_id = e.organization_id AND m.event_id = e.id)
          ORDER BY e.starts_at DESC LIMIT 50",
    )
    .bind(ctx.org_id)
    .bind(crate::modules::events::rules::EventType::BusinessMeeting)
    .bind(now - chrono::Duration::days(90))
    .bind(now + chrono::Duration::days(7))
    .fetch_all(&mut *conn)
    .await?)
}

/// New minutes: the meeting and where its sections come from.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMinutes {
    /// Default: the meeting type and date ("Business meeting 2027-03-02").
    pub title: Option<String>,
    /// Default: the template's, else `business`.
    #[schema(schema_with = MeetingType::schema_object_or_null)]
    pub meeting_type: Option<String>,
    /// Default: the event's day, else today.
    pub meeting_date: Option<NaiveDate>,
    /// Default: the meeting type's default template.
    pub template_id: Option<Uuid>,
    /// The business-meeting event these minutes record: its check-ins are the attendance.
    pub event_id: Option<Uuid>,
    pub location: Option<String>,
    pub presiding: Option<String>,
}

/// Starts minutes in draft with the template's sections, empty.
pub async fn create(ctx: &Ctx, tx: &mut Tx<'_>, n: NewMinutes) -> AppResult<Minutes> {
    ctx.require(MINUTES_MANAGE)?;
    ensure_templates(tx, ctx.org_id).await?;
    let mut c = Checks::default();
    let title = c.take(input::optional_text("title", n.title, 200)).flatten();
    let location = c.take(input::optional_text("location", n.location, 200)).flatten();
    let presiding = c.take(input::optional_text("presiding", n.presiding, 120)).flatten();
    let kind = c
        .take(MeetingType::parse_filter("meeting_type", n.meeting_type.as_deref()))
        .flatten();
    let template: Option<TemplateRow> = match n.template_id {
        Some(t) => {
            let found: Option<TemplateRow> = sqlx::query_as(
                "SELECT id, name, meeting_type, is_default, sections FROM minute_templates
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(ctx.org_id)
            .bind(t)
            .fetch_optional(&mut **tx)
            .await?;
            if found.is_none() {
                c.push("template_id", "is not one of the department's templates");
            }
            found
        }
        None => {
            sqlx::query_as(
                "SELECT id, name, meeting_type, is_default, sections FROM minute_templates
                  WHERE organization_id = ? AND meeting_type = ? AND is_default",
            )
            .bind(ctx.org_id)
            .bind(kind.unwrap_or(MeetingType::Business))
            .fetch_optional(&mut **tx)
            .await?
        }
    };
    c.take(input::plausible_date("meeting_date", n.meeting_date));
    let mut event_day = None;
    if let Some(e) = n.event_id {
        let found: Option<(DateTime<Utc>, String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT starts_at, event_type, cancelled_at FROM events
              WHERE organization_id = ? AND id = ?",
        )
        .bind(ctx.org_id)
        .bind(e)
        .fetch_optional(&mut **tx)
        .await?;
        let meeting = crate::modules::events::rules::EventType::BusinessMeeting.as_str();
        match found {
            None => c.push("event_id", "is not one of the department's events"),
            Some((_, kind, _)) if kind != meeting => c.push(
                "event_id",
                "is not a business meeting: its check-ins cannot be a meeting's attendance",
            ),
            Some((_, _, Some(_))) => c.push("event_id", "was cancelled"),
            Some((s, _, None)) => event_day = Some(s.with_timezone(&ctx.local().tz).date_naive()),
        }
    }
    c.finish()?;
    let kind = kind
        .or(template.as_ref().map(|t| t.meeting_type))
        .unwrap_or(MeetingType::Business);
    let date = n
        .meeting_date
        .or(event_day)
        .unwrap_or_else(|| crate::time::today(&ctx.timezone));
    let title = title.unwrap_or_else(|| format!("{} {}", kind.label(), ctx.locale.day(date)));
    let sections: Vec<String> = template
        .as_ref()
        .map(|t| serde_json::from_str(&t.sections).unwrap_or_default())
        .unwrap_or_else(|| kind.default_sections().iter().map(|s| s.to_string()).collect());
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO meeting_minutes (id, organization_id, title, meeting_type, meeting_date,
                location, presiding, template_id, event_id, status, revision, created_by,
                created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&title)
    .bind(kind)
    .bind(date)
    .bind(&location)
    .bind(&presiding)
    .bind(template.as_ref().map(|t| t.id))
    .bind(n.event_id)
    .bind(MinutesStatus::Draft)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        crate::error::unique_violation(
            e,
            &[("uq_meeting_minutes_event", "event_id", "this event already has minutes")],
        )
    })?;
    write_sections(tx, ctx.org_id, id, sections.iter().map(|t| (t.as_str(), ""))).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.created", "meeting_minutes", id).changes(serde_json::json!({
            "title": title, "meeting_type": kind, "meeting_date": date,
            "template": template.as_ref().map(|t| &t.name), "event_id": n.event_id,
        })),
    )
    .await?;
    minutes(ctx, tx, id).await
}

async fn write_sections<'a>(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: Uuid,
    sections: impl Iterator<Item = (&'a str, &'a str)>,
) -> AppResult<()> {
    sqlx::query("DELETE FROM minute_sections WHERE organization_id = ? AND minutes_id = ?")
        .bind(org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let sections: Vec<_> = sections.collect();
    if sections.is_empty() {
        return Ok(());
    }
    let mut b = QueryBuilder::new(
        "INSERT INTO minute_sections (id, organization_id, minutes_id, sort_order, title, body) ",
    );
    b.push_values(sections.iter().enumerate(), |mut row, (i, (title, body))| {
        row.push_bind(db::new_id())
            .push_bind(org)
            .push_bind(id)
            .push_bind(i as i16)
            .push_bind(*title)
            .push_bind(*body);
    });
    b.build().execute(&mut **tx).await?;
    Ok(())
}

/// The minutes' state under a row lock: what every change starts with.
#[derive(sqlx::FromRow)]
pub(crate) struct Locked {
    pub status: MinutesStatus,
    pub revision: u32,
    pub title: String,
    pub event_id: Option<Uuid>,
    pub meeting_date: NaiveDate,
    pub submitted_by: Option<Uuid>,
    pub published_document_id: Option<Uuid>,
}

pub(crate) async fn lock(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<Locked> {
    let row: Option<Locked> = sqlx::query_as(
        "SELECT status, revision, title, event_id, meeting_date, submitted_by,
                published_document_id
           FROM meeting_minutes WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or(AppError::NotFound)
}

/// Locks the minutes for a step, refusing it (409, with the reason) when their state does not
/// allow it.
pub(crate) async fn lock_for(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    step: Step,
) -> AppResult<(Locked, MinutesStatus)> {
    ctx.require(MINUTES_MANAGE)?;
    let m = lock(tx, ctx.org_id, id).await?;
    let next = rules::next(m.status, step).map_err(|why| AppError::Conflict(why.into()))?;
    Ok((m, next))
}

/// The revision a step was taken from (`?revision=`), for submit and approve.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    /// The minutes' `revision` as read: refused (409) when they changed since.
    pub revision: Option<u32>,
}

/// A step taken from a copy of the minutes (`revision`) is refused when they changed since: an
/// officer approves, sends back or edits the text they read.
fn same_revision(m: &Locked, revision: Option<u32>) -> AppResult<()> {
    if revision.is_some_and(|r| r != m.revision) {
        return Err(AppError::Conflict(
            "someone else changed these minutes since you opened them: reload, read them \
             again, then make your change"
                .into(),
        ));
    }
    Ok(())
}

/// An edit changed the minutes: a rejected draft is a draft again, and the revision moves on.
pub(crate) async fn touched(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE meeting_minutes SET status = ?, revision = revision + 1, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(MinutesStatus::Draft)
    .bind(db::now())
    .bind(org)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A change to the minutes' header and, when given, their sections.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesUpdate {
    /// The revision the change was made from: refused (409) when the minutes changed since.
    pub revision: Option<u32>,
    pub title: String,
    #[schema(schema_with = MeetingType::schema_object)]
    pub meeting_type: String,
    pub meeting_date: NaiveDate,
    pub location: Option<String>,
    pub presiding: Option<String>,
    /// `HH:MM` in the department's time.
    pub called_to_order_at: Option<String>,
    pub adjourned_at: Option<String>,
    pub quorum_met: Option<bool>,
    /// Every section, in order; absent leaves them as they are.
    pub sections: Option<Vec<MinutesSectionInput>>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesSectionInput {
    pub title: String,
    #[serde(default)]
    pub body: String,
}

pub fn parse_time(field: &str, raw: Option<&str>) -> AppResult<Option<NaiveTime>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .map(Some)
        .map_err(|_| AppError::field(field, "must be a time like 19:30"))
}

/// Saves the header and sections of draft (or rejected: back to draft) minutes.
pub async fn update(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, u: MinutesUpdate) -> AppResult<Minutes> {
    let mut c = Checks::default();
    let title = c.take(input::required_text("title", &u.title, 200));
    let kind = c.take(
        MeetingType::parse(&u.meeting_type)
            .ok_or_else(|| AppError::field("meeting_type", MeetingType::must_be())),
    );
    let location = c.take(input::optional_text("location", u.location, 200)).flatten();
    let presiding = c.take(input::optional_text("presiding", u.presiding, 120)).flatten();
    let called = c
        .take(parse_time("called_to_order_at", u.called_to_order_at.as_deref()))
        .flatten();
    let adjourned = c.take(parse_time("adjourned_at", u.adjourned_at.as_deref())).flatten();
    c.take(input::plausible_date("meeting_date", Some(u.meeting_date)));
    let mut sections: Option<Vec<(String, String)>> = None;
    if let Some(given) = &u.sections {
        if given.is_empty() {
            c.push("sections", "needs at least one section");
        } else if given.len() > 40 {
            c.push("sections", "must have at most 40 sections");
        }
        let mut out = Vec::new();
        for (i, s) in given.iter().enumerate() {
            let t = c.take(input::required_text(&format!("sections[{i}].title"), &s.title, 120));
            let b = c.take(input::optional_paragraphs(
                &format!("sections[{i}].body"),
                Some(s.body.clone()),
                20_000,
            ));
            if let (Some(t), Some(b)) = (t, b) {
                out.push((t, b.unwrap_or_default()));
            }
        }
        sections = Some(out);
    }
    c.finish()?;
    let (m, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    same_revision(&m, u.revision)?;
    let kind = kind.unwrap_or(MeetingType::Other);
    let title = title.unwrap_or_default();
    sqlx::query(
        "UPDATE meeting_minutes SET title = ?, meeting_type = ?, meeting_date = ?, location = ?,
                presiding = ?, called_to_order_at = ?, adjourned_at = ?, quorum_met = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&title)
    .bind(kind)
    .bind(u.meeting_date)
    .bind(&location)
    .bind(&presiding)
    .bind(called)
    .bind(adjourned)
    .bind(u.quorum_met)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if let Some(s) = &sections {
        write_sections(tx, ctx.org_id, id, s.iter().map(|(t, b)| (t.as_str(), b.as_str())))
            .await?;
    }
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.edited", "meeting_minutes", id).changes(serde_json::json!({
            "title": title, "meeting_type": kind, "meeting_date": u.meeting_date,
            "location": location, "presiding": presiding, "called_to_order_at": called,
            "adjourned_at": adjourned, "quorum_met": u.quorum_met,
            "sections": sections.as_ref().map(|s| s.iter().map(|(t, _)| t).collect::<Vec<_>>()),
            "was": m.status,
        })),
    )
    .await?;
    minutes(ctx, tx, id).await
}

/// Submits minutes for approval and tells the other officers who approve them.
pub async fn submit(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    revision: Option<u32>,
) -> AppResult<Minutes> {
    let (m, next) = lock_for(ctx, tx, id, Step::Submit).await?;
    same_revision(&m, revision)?;
    let now = db::now();
    sqlx::query(
        "UPDATE meeting_minutes SET status = ?, submitted_by = ?, submitted_at = ?,
                rejected_by = NULL, rejected_at = NULL, rejection_reason = NULL, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(next)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.submitted", "meeting_minutes", id)
            .changes(serde_json::json!({"title": m.title, "revision": m.revision})),
    )
    .await?;
    let officers: Vec<Uuid> = notify::holders_of(tx, ctx.org_id, MINUTES_MANAGE)
        .await?
        .into_iter()
        .filter(|u| *u != ctx.user_id)
        .collect();
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &officers,
        &Notice {
            category: "minutes",
            subject: format!("Minutes to approve: {}", m.title),
            body: format!("{} submitted the minutes of “{}” for approval.", ctx.username, m.title),
            link: Some(format!("/minutes/{id}")),
            dedupe_key: None,
        },
    )
    .await?;
    minutes(ctx, tx, id).await
}

/// Approves submitted minutes: they are the record from now on, locked. A meeting linked to an
/// event keeps the check-ins it had as its attendance.
pub async fn approve(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    revision: Option<u32>,
) -> AppResult<Minutes> {
    let (m, next) = lock_for(ctx, tx, id, Step::Approve).await?;
    same_revision(&m, revision)?;
    if let Some(event) = m.event_id {
        attendance::keep_event_check_ins(tx, ctx.org_id, id, event).await?;
    }
    let now = db::now();
    sqlx::query(
        "UPDATE meeting_minutes SET status = ?, approved_by = ?, approved_at = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(next)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM meeting_attendance
          WHERE organization_id = ? AND minutes_id = ? AND attendance = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(rules::Attendance::Present)
    .fetch_one(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.approved", "meeting_minutes", id).changes(serde_json::json!({
            "title": m.title, "revision": m.revision, "meeting_date": m.meeting_date,
            "present": present,
        })),
    )
    .await?;
    content::tell_assignees(tx, notifier, ctx.org_id, ctx.user_id, id, &m.title).await?;
    minutes(ctx, tx, id).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// What must change (the secretary reads it).
    pub reason: String,
    /// The revision read before sending them back: refused (409) when they changed since.
    pub revision: Option<u32>,
}

/// Sends submitted minutes back with a reason, telling whoever submitted them.
pub async fn reject(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    r: Rejection,
) -> AppResult<Minutes> {
    let reason = input::optional_paragraphs("reason", Some(r.reason), 1000)?
        .ok_or_else(|| AppError::field("reason", "is required: say what must change"))?;
    let (m, next) = lock_for(ctx, tx, id, Step::Reject).await?;
    same_revision(&m, r.revision)?;
    let now = db::now();
    sqlx::query(
        "UPDATE meeting_minutes SET status = ?, rejected_by = ?, rejected_at = ?,
                rejection_reason = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(next)
    .bind(ctx.user_id)
    .bind(now)
    .bind(&reason)
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.rejected", "meeting_minutes", id)
            .changes(serde_json::json!({"title": m.title, "reason": reason})),
    )
    .await?;
    if let Some(by) = m.submitted_by.filter(|u| *u != ctx.user_id) {
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &[by],
            &Notice {
                category: "minutes",
                subject: format!("Minutes sent back: {}", m.title),
                body: format!("The minutes of “{}” were sent back: {reason}", m.title),
                link: Some(format!("/minutes/{id}")),
                dedupe_key: None,
            },
        )
        .await?;
    }
    minutes(ctx, tx, id).await
}

/// Deletes draft minutes (never submitted ones: those are part of the record's history).
pub async fn delete(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
    let (m, _) = lock_for(ctx, tx, id, Step::Delete).await?;
    if m.submitted_by.is_some() {
        return Err(AppError::Conflict(
            "these minutes were submitted before: they stay, as part of the record".into(),
        ));
    }
    sqlx::query("DELETE FROM meeting_minutes WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.deleted", "meeting_minutes", id).changes(serde_json::json!({
            "title": m.title, "meeting_date": m.meeting_date,
        })),
    )
    .await?;
    Ok(())
}
