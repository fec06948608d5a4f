//! The ISO training report (Verisk FSRS item 580, `reference/domain.md`): for any date range,
//! each member's hours in each ISO category against the annual figures (company 192, facility
//! 18, officer 12, driver/operator 12, hazmat 6; one-time new driver 60 and recruit 240), and
//! whether they reach the Class 8B rule of 24 hours of structural training a year. The yearly
//! figures are scaled to the range's length; the one-time ones are not. As JSON, CSV and PDF
//! (`training.manage`).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::compliance::show;
use super::service::{MATRIX_STATUSES, RecordStatus};
use crate::members::rules::MemberStatus;
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::db::Conn;
use crate::error::{AppError, AppResult};

/// The ISO categories: code, heading, annual hours (None: one-time), one-time hours.
pub const CATEGORIES: &[(&str, &str, Option<u32>, Option<u32>)] = &[
    ("company", "Company", Some(192), None),
    ("facility", "Facility", Some(18), None),
    ("officer", "Officer", Some(12), None),
    ("driver", "Driver/operator", Some(12), None),
    ("hazmat", "Hazmat", Some(6), None),
    ("new_driver", "New driver", None, Some(60)),
    ("recruit", "Recruit", None, Some(240)),
];

/// Class 8B: structural training per active firefighter per year.
pub const STRUCTURAL_HOURS_PER_YEAR: u32 = 24;
/// The longest range one report covers.
pub const MAX_DAYS: i64 = 3660;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IsoTarget {
    pub category: &'static str,
    pub heading: &'static str,
    /// The figure for this range (yearly figures scaled to its length), one decimal.
    #[schema(value_type = f64)]
    pub hours: Decimal,
    pub one_time: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IsoRow {
    pub member_id: Uuid,
    pub member_name: String,
    pub membership_number: Option<String>,
    pub rank: Option<String>,
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub status: MemberStatus,
    /// Hours per category, in the order of `targets`.
    #[schema(value_type = Vec<f64>)]
    pub hours: Vec<Decimal>,
    #[schema(value_type = f64)]
    pub total: Decimal,
    /// The 24-hours-a-year structural training rule (scaled to the range) is met.
    pub meets_structural_rule: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IsoReport {
    pub department: String,
    /// The department's identifier as reports name it, e.g. "FDID 48-201"; null when none is
    /// set.
    pub identifier: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: i64,
    pub targets: Vec<IsoTarget>,
    #[schema(value_type = f64)]
    pub structural_target: Decimal,
    pub members: Vec<IsoRow>,
    /// Department average per category and of the totals.
    #[schema(value_type = Vec<f64>)]
    pub average: Vec<Decimal>,
    #[schema(value_type = f64)]
    pub average_total: Decimal,
    pub members_meeting_structural_rule: usize,
}

#[derive(sqlx::FromRow)]
struct IsoMember {
    id: Uuid,
    first_name: String,
    last_name: String,
    membership_number: Option<String>,
    rank: Option<String>,
    status: MemberStatus,
}

fn one_decimal(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// The report for [from, to] (inclusive).
pub async fn report(
    ctx: &Ctx,
    conn: &mut Conn,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<IsoReport> {
    ctx.require(TRAINING_MANAGE)?;
    let (Some(from), Some(to)) = (from, to) else {
        let mut errors = Vec::new();
        if from.is_none() {
            errors.push(crate::error::FieldError::new("from", "is required"));
        }
        if to.is_none() {
            errors.push(crate::error::FieldError::new("to", "is required"));
        }
        return Err(AppError::Validation(errors));
    };
    if to < from {
        return Err(AppError::field("to", "must not be before from"));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(AppError::field(
            "to",
            "must be at most ten years after from",
        ));
    }
    let (department, identifier_type, identifier): (String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT name, identifier_type, identifier FROM organizations WHERE id = ?",
        )
        .bind(ctx.org_id)
        .fetch_one(&mut *conn)
        .await?;
    let identifier = identifier.filter(|i| !i.trim().is_empty()).map(|i| {
        let kind = match identifier_type.as_deref() {
            Some("fdid") => "FDID",
            Some("state_id") => "State id",
            _ => "Department id",
        };
        format!("{kind} {}", i.trim())
    });
    let share = Decimal::from(days) / Decimal::from(365);
    let targets: Vec<IsoTarget> = CATEGORIES
        .iter()
        .map(|(code, heading, annual, once)| IsoTarget {
            category: code,
            heading,
            hours: match (annual, once) {
                (Some(a), _) => one_decimal(Decimal::from(*a) * share),
                (None, Some(o)) => Decimal::from(*o),
                _ => Decimal::ZERO,
            },
            one_time: annual.is_none(),
        })
        .collect();
    let structural_target = one_decimal(Decimal::from(STRUCTURAL_HOURS_PER_YEAR) * share);

    let sums: Vec<(Uuid, String, Decimal)> = sqlx::query_as(
        "SELECT r.user_id, c.iso_category, SUM(r.hours_completed)
           FROM training_records r
           JOIN training_categories c ON c.id = r.category_id
          WHERE r.organization_id = ? AND r.status = ?
            AND r.completion_date BETWEEN ? AND ? AND c.iso_category IS NOT NULL
          GROUP BY r.user_id, c.iso_category",
    )
    .bind(ctx.org_id)
    .bind(RecordStatus::Completed)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_member: HashMap<Uuid, HashMap<String, Decimal>> = HashMap::new();
    for (user, category, hours) in sums {
        by_member.entry(user).or_default().insert(category, hours);
    }
    let statuses = MATRIX_STATUSES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",");
    // Members who count now, and anyone with ISO hours in the range.
    let members: Vec<IsoMember> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT u.id, u.first_name, u.last_name, u.membership_number, u.`rank`, u.status
               FROM users u
              WHERE u.organization_id = ?
                AND (u.status IN ({statuses}) OR EXISTS (
                     SELECT 1 FROM training_records r
                       JOIN training_categories c ON c.id = r.category_id
                      WHERE r.user_id = u.id AND r.status = ?
                        AND r.completion_date BETWEEN ? AND ? AND c.iso_category IS NOT NULL))
              ORDER BY u.last_name, u.first_name, u.id"
    )))
    .bind(ctx.org_id)
    .bind(RecordStatus::Completed)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let empty = HashMap::new();
    let rows: Vec<IsoRow> = members
        .into_iter()
        .map(
            |IsoMember {
                 id,
                 first_name: first,
                 last_name: last,
                 membership_number: number,
                 rank,
                 status,
             }| {
                let mine = by_member.get(&id).unwrap_or(&empty);
                let hours: Vec<Decimal> = CATEGORIES
                    .iter()
                    .map(|(code, ..)| mine.get(*code).copied().unwrap_or_default())
                    .collect();
                let total: Decimal = hours.iter().sum();
                IsoRow {
                    member_id: id,
                    member_name: format!("{last}, {first}"),
                    membership_number: number,
                    rank,
                    status,
                    meets_structural_rule: total >= structural_target,
                    hours,
                    total,
                }
            },
        )
        .collect();
    let n = Decimal::from(rows.len().max(1));
    let average = (0..CATEGORIES.len())
        .map(|i| one_decimal(rows.iter().map(|r| r.hours[i]).sum::<Decimal>() / n))
        .collect();
    let average_total = one_decimal(rows.iter().map(|r| r.total).sum::<Decimal>() / n);
    Ok(IsoReport {
        department,
        identifier,
        from,
        to,
        days,
        members_meeting_structural_rule: rows.iter().filter(|r| r.meets_structural_rule).count(),
        targets,
        structural_target,
        members: rows,
        average,
        average_total,
    })
}

/// The report as CSV: one row per member, then the department average and the targets.
pub fn csv(r: &IsoReport) -> AppResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "member".to_string(),
        "membership_number".into(),
        "rank".into(),
        "status".into(),
    ];
    header.extend(r.targets.iter().map(|t| format!("{}_hours", t.category)));
    header.push("total_hours".into());
    header.push("meets_24h_structural_rule".into());
    out.write_record(&header).map_err(anyhow::Error::new)?;
    let safe = crate::csv::spreadsheet_safe;
    for m in &r.members {
        let mut row = vec![
            safe(&m.member_name),
            safe(m.membership_number.as_deref().unwrap_or("")),
            safe(m.rank.as_deref().unwrap_or("")),
            m.status.to_string(),
        ];
        row.extend(m.hours.iter().map(|h| show(*h)));
        row.push(show(m.total));
        row.push(if m.meets_structural_rule { "yes" } else { "no" }.into());
        out.write_record(&row).map_err(anyhow::Error::new)?;
    }
    let mut avg = vec![
        "Department average".to_string(),
        String::new(),
        String::new(),
        String::new(),
    ];
    avg.extend(r.average.iter().map(|h| show(*h)));
    avg.push(show(r.average_total));
    avg.push(format!(
        "{} of {}",
        r.members_meeting_structural_rule,
        r.members.len()
    ));
    out.write_record(&avg).map_err(anyhow::Error::new)?;
    let mut target = vec![
        format!("ISO figure for {} to {}", r.from, r.to),
        String::new(),
        String::new(),
        String::new(),
    ];
    target.extend(r.targets.iter().map(|t| show(t.hours)));
    target.push(String::new());
    target.push(format!("{} h", show(r.structural_target)));
    out.write_record(&target).map_err(anyhow::Error::new)?;
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// Text for the PDF's standard Helvetica (Windows-1252): Latin-1 letters as they are, anything
/// else as '?'.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2013 => 0x96,
            0x2014 => 0x97,
            0x2019 => 0x92,
            _ => b'?',
        })
        .collect()
}

/// Cuts `s` to about `max` characters for a column.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('.');
        t
    }
}

/// The report as a PDF: landscape pages of the department's paper, a table that fits between
/// the margins, with the figures and the rule below; dates as the department writes them.
pub fn pdf(r: &IsoReport, locale: crate::time::Locale) -> Vec<u8> {
    use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
    // Landscape: the long side across.
    let (short, long) = locale.paper.points();
    let (w, h) = (long, short);
    const MARGIN: f32 = 40.0;
    const ROWS_PER_PAGE: usize = 28;
    let font = Name(b"F1");
    let bold = Name(b"F2");
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let mut next = 5;
    let chunks: Vec<&[IsoRow]> = if r.members.is_empty() {
        vec![&[]]
    } else {
        r.members.chunks(ROWS_PER_PAGE).collect()
    };
    let pages = chunks.len();
    let mut page_ids = Vec::new();
    // Columns: member, number, then the categories, total and the 24 h rule sharing what is
    // left between the margins, so the last one ends inside the page whatever the paper.
    let numbers = CATEGORIES.len() + 2;
    let member_width = 150.0_f32;
    let number_width = 46.0_f32;
    let figure_width = (w - 2.0 * MARGIN - member_width - number_width) / numbers as f32;
    let mut xs = vec![MARGIN, MARGIN + member_width];
    for i in 0..numbers {
        xs.push(MARGIN + member_width + number_width + i as f32 * figure_width);
    }
    // Helvetica's figures and most letters are about half the type size wide.
    let heading_chars = ((figure_width - 4.0) / 4.4).floor() as usize;
    for (n, chunk) in chunks.iter().enumerate() {
        let page_id = Ref::new(next);
        let content_id = Ref::new(next + 1);
        next += 2;
        page_ids.push(page_id);
        let mut c = Content::new();
        let text = |c: &mut Content, f: Name, size: f32, x: f32, y: f32, s: &str| {
            c.begin_text();
            c.set_font(f, size);
            c.next_line(x, y);
            c.show(Str(&win_ansi(s)));
            c.end_text();
        };
        let mut y = h - MARGIN;
        text(
            &mut c,
            bold,
            14.0,
            MARGIN,
            y,
            &match &r.identifier {
                Some(id) => format!("ISO training report: {} ({id})", r.department),
                None => format!("ISO training report: {}", r.department),
            },
        );
        y -= 18.0;
        text(
            &mut c,
            font,
            9.0,
            MARGIN,
            y,
            &format!(
                "{} ({} days). Hours of completed training by ISO category; page {} of {}.",
                locale.span(r.from, Some(r.to)),
                r.days,
                n + 1,
                pages
            ),
        );
        y -= 24.0;
        let mut headings = vec!["Member".to_string(), "No.".to_string()];
        headings.extend(r.targets.iter().map(|t| t.heading.to_string()));
        headings.push("Total".into());
        headings.push("24 h/yr".into());
        for (i, heading) in headings.iter().enumerate() {
            let width = if i == 0 { 34 } else { heading_chars };
            text(&mut c, bold, 8.0, xs[i], y, &cut(heading, width));
        }
        y -= 4.0;
        c.set_line_width(0.5);
        c.move_to(MARGIN, y);
        c.line_to(w - MARGIN, y);
        c.stroke();
        y -= 12.0;
        let figure = {
            let mut f = vec!["ISO figure".to_string(), String::new()];
            f.extend(r.targets.iter().map(|t| {
                format!(
                    "{}{}",
                    show(t.hours),
                    if t.one_time { " (once)" } else { "" }
                )
            }));
            f.push(String::new());
            f.push(show(r.structural_target));
            f
        };
        for (i, v) in figure.iter().enumerate() {
            text(&mut c, bold, 8.0, xs[i], y, v);
        }
        y -= 14.0;
        for m in chunk.iter() {
            let mut cells = vec![
                cut(&m.member_name, 34),
                cut(m.membership_number.as_deref().unwrap_or(""), 10),
            ];
            cells.extend(m.hours.iter().map(|h| show(*h)));
            cells.push(show(m.total));
            cells.push(if m.meets_structural_rule { "yes" } else { "no" }.into());
            for (i, v) in cells.iter().enumerate() {
                text(&mut c, font, 8.0, xs[i], y, v);
            }
            y -= 14.0;
        }
        if n + 1 == pages {
            y -= 4.0;
            c.move_to(MARGIN, y + 10.0);
            c.line_to(w - MARGIN, y + 10.0);
            c.stroke();
            let mut avg = vec!["Department average".to_string(), String::new()];
            avg.extend(r.average.iter().map(|h| show(*h)));
            avg.push(show(r.average_total));
            avg.push(format!(
                "{} of {}",
                r.members_meeting_structural_rule,
                r.members.len()
            ));
            for (i, v) in avg.iter().enumerate() {
                text(&mut c, bold, 8.0, xs[i], y, v);
            }
            y -= 24.0;
            text(
                &mut c,
                font,
                8.0,
                MARGIN,
                y,
                "ISO figures per member per year: company 192 h, facility 18 h, officer 12 h, \
                 driver/operator 12 h, hazmat 6 h (scaled to the range); new driver 60 h and \
                 recruit 240 h once.",
            );
            y -= 12.0;
            text(
                &mut c,
                font,
                8.0,
                MARGIN,
                y,
                "Class 8B: at least 24 h of structural training per active firefighter per year.",
            );
        }
        pdf.stream(content_id, &c.finish());
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, w, h));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(font, font_id);
        fonts.pair(bold, bold_id);
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.type1_font(font_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_for_the_standard_font() {
        assert_eq!(win_ansi("Zoë – 5"), b"Zo\xeb \x96 5");
        assert_eq!(win_ansi("🚒"), b"?");
        assert_eq!(cut("Ångström-Łukasiewicz", 8), "Ångströ.");
    }
}
