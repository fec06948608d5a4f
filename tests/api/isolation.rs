//! The two-organization rule: the organization comes from the session only. Org A's caller who
//! names one of org B's records gets exactly what a missing record gives (404) and org B's data
//! stays as it was; lists never show org B's rows; unique names are per organization.
//!
//! The sweep is driven by the served API document (`/api/v1/openapi.json`): every operation
//! whose path takes a parameter is called, its parameters filled by `CLASSES` (what kind of
//! record a parameter names, by the path up to it). An operation with a parameter `CLASSES`
//! does not know fails the sweep, naming it, so a new `{id}` route is covered by construction:
//! its module adds a line to `CLASSES` (and, for a new kind of record, one in `records`), and a
//! body to `BODIES` if the operation takes one. Lists go in the list test by hand.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// What a path parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A record of one organization, by its kind (a key of `Ids`): org B's answers 404 to org A
    /// and org A's own does not.
    Record(&'static str),
    /// A file in the host's backup folder: no organization's. On a host with several
    /// departments every department's administrator is refused (409: the command line makes
    /// backups there); backups on a one-department host are backup_api.rs's.
    HostBackupFile,
    /// A job's name: the same in every organization; its runs are each organization's own.
    JobName,
}

/// The one classification table: the path up to and including a parameter, and what the
/// parameter names. Every route below `/api/v1/members/{id}` is classified by its line; a new
/// collection's `{id}` is not, until a line says what it is.
const CLASSES: &[(&str, Class)] = &[
    ("/api/v1/announcements/{id}", Class::Record("announcement")),
    ("/api/v1/apparatus/{id}", Class::Record("apparatus")),
    ("/api/v1/backups/{file}", Class::HostBackupFile),
    (
        "/api/v1/inventory/categories/{id}",
        Class::Record("inventory_category"),
    ),
    (
        "/api/v1/inventory/clearances/{id}",
        Class::Record("clearance"),
    ),
    (
        "/api/v1/inventory/clearances/{id}/lines/{line}",
        Class::Record("clearance_line"),
    ),
    (
        "/api/v1/inventory/issuances/{id}",
        Class::Record("issuance"),
    ),
    (
        "/api/v1/inventory/items/{id}",
        Class::Record("inventory_item"),
    ),
    ("/api/v1/inventory/members/{id}", Class::Record("member")),
    ("/api/v1/documents/{id}", Class::Record("document")),
    (
        "/api/v1/documents/{id}/versions/{version}",
        Class::Record("document_version"),
    ),
    (
        "/api/v1/documents/folders/{id}",
        Class::Record("document_folder"),
    ),
    ("/api/v1/elections/{id}", Class::Record("election")),
    ("/api/v1/minutes/{id}", Class::Record("minutes")),
    (
        "/api/v1/minutes/{id}/motions/{motion}",
        Class::Record("motion"),
    ),
    (
        "/api/v1/minutes/{id}/action-items/{item}",
        Class::Record("action_item"),
    ),
    (
        "/api/v1/minutes/action-items/{id}",
        Class::Record("action_item"),
    ),
    ("/api/v1/minutes/attendance/{id}", Class::Record("member")),
    (
        "/api/v1/elections/candidates/{id}",
        Class::Record("candidate"),
    ),
    (
        "/api/v1/elections/paper-batches/{id}",
        Class::Record("paper_batch"),
    ),
    (
        "/api/v1/elections/positions/{id}",
        Class::Record("election_position"),
    ),
    ("/api/v1/events/{id}", Class::Record("event")),
    (
        "/api/v1/events/{id}/attachments/{attachment}",
        Class::Record("attachment"),
    ),
    ("/api/v1/jobs/{name}", Class::JobName),
    ("/api/v1/leaves/{id}", Class::Record("leave")),
    ("/api/v1/members/{id}", Class::Record("member")),
    (
        "/api/v1/members/{id}/roles/{role_id}",
        Class::Record("role"),
    ),
    ("/api/v1/membership/tiers/{id}", Class::Record("tier")),
    ("/api/v1/notifications/{id}", Class::Record("notification")),
    ("/api/v1/roles/{id}", Class::Record("role")),
    (
        "/api/v1/scheduling/assignments/{id}",
        Class::Record("assignment"),
    ),
    ("/api/v1/scheduling/patterns/{id}", Class::Record("pattern")),
    ("/api/v1/scheduling/shifts/{id}", Class::Record("shift")),
    ("/api/v1/scheduling/swaps/{id}", Class::Record("swap")),
    (
        "/api/v1/scheduling/templates/{id}",
        Class::Record("shift_template"),
    ),
    (
        "/api/v1/scheduling/time-off/{id}",
        Class::Record("time_off"),
    ),
    ("/api/v1/security-alerts/{id}", Class::Record("alert")),
    ("/api/v1/settings/email/outbox/{id}", Class::Record("email")),
    ("/api/v1/stations/{id}", Class::Record("station")),
    (
        "/api/v1/training/compliance/{member_id}",
        Class::Record("member"),
    ),
    ("/api/v1/training/courses/{id}", Class::Record("course")),
    (
        "/api/v1/training/enrollments/{id}",
        Class::Record("enrollment"),
    ),
    (
        "/api/v1/training/enrollments/{id}/items/{item}",
        Class::Record("item"),
    ),
    ("/api/v1/training/members/{id}", Class::Record("member")),
    ("/api/v1/training/programs/{id}", Class::Record("program")),
    (
        "/api/v1/training/programs/{id}/items/{item}",
        Class::Record("item"),
    ),
    ("/api/v1/training/records/{id}", Class::Record("record")),
    (
        "/api/v1/training/records/{id}/documents/{document}",
        Class::Record("record_paper"),
    ),
    (
        "/api/v1/inventory/items/{id}/documents/{document}",
        Class::Record("item_paper"),
    ),
    ("/api/v1/training/sessions/{id}", Class::Record("session")),
    (
        "/api/v1/training/requirements/{id}",
        Class::Record("requirement"),
    ),
    (
        "/api/v1/training/shift-reports/{id}",
        Class::Record("shift_report"),
    ),
    (
        "/api/v1/training/submissions/{id}",
        Class::Record("submission"),
    ),
    ("/api/v1/training/waivers/{id}", Class::Record("waiver")),
];

/// Request bodies, by operation. `{kind}` stands for the id of that kind (of the same
/// organization as the path's ids) and `{today}` for today's date. An operation that takes a
/// body and has none here fails the sweep, naming it.
const BODIES: &[(&str, &str)] = &[
    (
        "PUT /api/v1/apparatus/{id}",
        r#"{"unit_number": "R9", "apparatus_type": "rescue", "station_id": "{station}"}"#,
    ),
    (
        "PUT /api/v1/stations/{id}",
        r#"{"name": "Renamed station", "station_number": "9"}"#,
    ),
    ("POST /api/v1/backups/{file}/restore", r#"{}"#),
    (
        "PUT /api/v1/documents/folders/{id}",
        r#"{"name": "Sweep folder", "visibility": "everyone"}"#,
    ),
    (
        "POST /api/v1/documents/folders/{id}/documents",
        r#""Sweep notes.""#,
    ),
    (
        "PUT /api/v1/documents/{id}",
        r#"{"name": "Renamed document"}"#,
    ),
    (
        "POST /api/v1/documents/{id}/versions",
        r#""A second version.""#,
    ),
    (
        "PUT /api/v1/minutes/{id}",
        r#"{"title": "Renamed minutes", "meeting_type": "business", "meeting_date": "{today}"}"#,
    ),
    ("POST /api/v1/minutes/{id}/reject", r#"{"reason": "Sweep"}"#),
    (
        "POST /api/v1/minutes/{id}/motions",
        r#"{"motion_text": "Sweep motion", "result": "passed", "moved_by": "{member}"}"#,
    ),
    (
        "POST /api/v1/minutes/{id}/action-items",
        r#"{"description": "Sweep item", "assignee_id": "{member}"}"#,
    ),
    (
        "PATCH /api/v1/minutes/action-items/{id}",
        r#"{"status": "in_progress", "assignee_id": "{member}"}"#,
    ),
    (
        "PUT /api/v1/minutes/{id}/attendance",
        r#"{"present": ["{member}"]}"#,
    ),
    (
        "PUT /api/v1/elections/{id}",
        r#"{"title": "Renamed vote", "voting_method": "plurality"}"#,
    ),
    (
        "POST /api/v1/elections/{id}/positions",
        r#"{"name": "Sweep seat"}"#,
    ),
    (
        "POST /api/v1/elections/positions/{id}/decide",
        r#"{"candidate_id": "{candidate}"}"#,
    ),
    (
        "POST /api/v1/elections/{id}/candidates",
        r#"{"position_id": "{election_position}", "user_id": "{member}"}"#,
    ),
    (
        "POST /api/v1/elections/candidates/{id}/answer",
        r#"{"accept": true}"#,
    ),
    (
        "POST /api/v1/elections/{id}/cancel",
        r#"{"reason": "Sweep"}"#,
    ),
    (
        "POST /api/v1/elections/{id}/vote",
        r#"{"ballots": [{"position_id": "{election_position}", "choices": ["{candidate}"]}]}"#,
    ),
    (
        "POST /api/v1/elections/{id}/receipts/check",
        r#"{"receipt": "2222-3333-4444-5555"}"#,
    ),
    (
        "POST /api/v1/elections/{id}/roll",
        r#"{"user_id": "{member}", "on_roll": true, "reason": "Sweep"}"#,
    ),
    (
        "POST /api/v1/elections/{id}/paper-batches",
        r#"{"voter_ids": ["{member}", "{holder}", "{voter}"],
            "ballots": [{"position_id": "{election_position}", "choices": ["{candidate}"]}]}"#,
    ),
    (
        "PUT /api/v1/events/{id}",
        r#"{"title": "Renamed drill", "event_type": "training", "start": "2027-01-12T19:00",
            "end": "2027-01-12T21:00"}"#,
    ),
    (
        "POST /api/v1/events/{id}/cancel",
        r#"{"reason": "Snowed in"}"#,
    ),
    ("POST /api/v1/events/{id}/rsvp", r#"{"status": "going"}"#),
    (
        "POST /api/v1/events/{id}/save-as-template",
        r#"{"name": "Sweep template"}"#,
    ),
    (
        "POST /api/v1/events/{id}/attachments",
        r#""Bring gloves and a flashlight.""#,
    ),
    (
        "POST /api/v1/events/{id}/self-check-in",
        r#"{"code": "AAAAAAAAAAAAAAAAAAAAAA"}"#,
    ),
    (
        "POST /api/v1/events/{id}/check-in",
        r#"{"user_id": "{member}"}"#,
    ),
    (
        "POST /api/v1/events/{id}/check-out",
        r#"{"user_id": "{member}"}"#,
    ),
    (
        "POST /api/v1/events/{id}/attendance",
        r#"{"user_id": "{member}", "checked_in_at": "2026-01-06T19:00", "reason": "Signed the sheet"}"#,
    ),
    (
        "POST /api/v1/events/{id}/unfinalize",
        r#"{"reason": "Wrong roster"}"#,
    ),
    (
        "PUT /api/v1/inventory/categories/{id}",
        r#"{"name": "Renamed category", "item_type": "tool"}"#,
    ),
    (
        "PUT /api/v1/inventory/categories/{id}/allowance",
        r#"{"max_quantity": 1, "period_type": "career"}"#,
    ),
    (
        "POST /api/v1/inventory/clearances/{id}/lines/{line}/resolve",
        r#"{"disposition": "waived", "notes": "Kept as a memento"}"#,
    ),
    (
        "POST /api/v1/inventory/clearances/{id}/close",
        r#"{"reason": "Moved away"}"#,
    ),
    (
        "PUT /api/v1/inventory/items/{id}",
        r#"{"name": "Renamed item"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/checkout",
        r#"{"user_id": "{member}", "due_date": "{today}"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/checkin",
        r#"{"condition": "good"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/extend",
        r#"{"due_date": "{today}"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/assign",
        r#"{"user_id": "{member}"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/unassign",
        r#"{"condition": "good"}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/issue",
        r#"{"user_id": "{member}", "quantity": 1}"#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/maintenance",
        r#"{"maintenance_type": "inspection", "performed_on": "{today}", "passed": true}"#,
    ),
    (
        "POST /api/v1/inventory/issuances/{id}/return",
        r#"{"condition": "good"}"#,
    ),
    (
        "PATCH /api/v1/leaves/{id}",
        r#"{"reason": "Extended by someone"}"#,
    ),
    (
        "PATCH /api/v1/members/{id}",
        r#"{"rank": "Lieutenant", "phone": "555-0199"}"#,
    ),
    (
        "POST /api/v1/members/{id}/password-reset",
        r#"{"temporary_password": "a brand new passphrase 77"}"#,
    ),
    (
        "POST /api/v1/members/{id}/roles",
        r#"{"role_id": "{role}"}"#,
    ),
    (
        "POST /api/v1/members/{id}/status",
        r#"{"status": "leave", "reason": "Deployment"}"#,
    ),
    (
        "PUT /api/v1/membership/tiers/{id}",
        r#"{"name": "Senior", "years_required": 10, "voting_eligible": true}"#,
    ),
    (
        "PATCH /api/v1/roles/{id}",
        r#"{"description": "Changed by someone", "permissions": ["members.view"]}"#,
    ),
    (
        "POST /api/v1/roles/{id}/clone",
        r#"{"name": "Cloned role"}"#,
    ),
    (
        "POST /api/v1/scheduling/assignments/{id}/respond",
        r#"{"accept": true}"#,
    ),
    (
        "POST /api/v1/scheduling/patterns/{id}/generate",
        r#"{"from": "{today}", "to": "{today}", "preview": true}"#,
    ),
    (
        "POST /api/v1/scheduling/patterns/{id}/active",
        r#"{"active": true}"#,
    ),
    (
        "PUT /api/v1/scheduling/templates/{id}",
        r#"{"name": "Renamed duty", "start_time": "06:00", "duration_minutes": 720,
            "positions": [{"name": "Officer"}, {"name": "Driver"}]}"#,
    ),
    (
        "POST /api/v1/scheduling/shifts/{id}/cancel",
        r#"{"reason": "Engine in the shop"}"#,
    ),
    (
        "POST /api/v1/scheduling/shifts/{id}/assignments",
        r#"{"user_id": "{member}", "seat": 1}"#,
    ),
    ("POST /api/v1/scheduling/shifts/{id}/signup", r#"{}"#),
    (
        "POST /api/v1/scheduling/shifts/{id}/finalize",
        r#"{"attendance": [], "call_count": 1}"#,
    ),
    (
        "POST /api/v1/scheduling/shifts/{id}/reopen",
        r#"{"reason": "Wrong crew"}"#,
    ),
    (
        "POST /api/v1/scheduling/time-off/{id}/review",
        r#"{"approve": false, "notes": "Short that week"}"#,
    ),
    (
        "POST /api/v1/scheduling/swaps/{id}/review",
        r#"{"approve": false}"#,
    ),
    (
        "POST /api/v1/security-alerts/{id}/resolve",
        r#"{"note": "Looked into it"}"#,
    ),
    (
        "PUT /api/v1/training/courses/{id}",
        r#"{"name": "Renamed course", "training_type": "drill", "duration_hours": 2}"#,
    ),
    ("POST /api/v1/training/enrollments/{id}/advance", r#"{}"#),
    (
        "POST /api/v1/training/enrollments/{id}/items/{item}",
        r#"{"action": "credit", "units": 1}"#,
    ),
    (
        "POST /api/v1/training/enrollments/{id}/withdraw",
        r#"{"reason": "Moved away"}"#,
    ),
    (
        "PUT /api/v1/training/programs/{id}",
        r#"{"name": "Renamed program"}"#,
    ),
    (
        "POST /api/v1/training/programs/{id}/enrollments",
        r#"{"user_id": "{member}"}"#,
    ),
    (
        "POST /api/v1/training/programs/{id}/items",
        r#"{"phase_id": "{phase}", "item_type": "skill", "name": "Hose rolls"}"#,
    ),
    (
        "POST /api/v1/training/programs/{id}/phases",
        r#"{"name": "Another phase"}"#,
    ),
    (
        "POST /api/v1/training/records/{id}/correct",
        r#"{"hours": 3, "reason": "The sheet says 3"}"#,
    ),
    (
        "POST /api/v1/training/records/{id}/documents",
        r#""EMT card, scanned.""#,
    ),
    (
        "POST /api/v1/inventory/items/{id}/documents",
        r#""Pump manual.""#,
    ),
    (
        "POST /api/v1/training/records/{id}/void",
        r#"{"reason": "Entered twice"}"#,
    ),
    (
        "PUT /api/v1/members/{id}/tier",
        r#"{"tier_id": "{tier}", "reason": "Voted life member"}"#,
    ),
    (
        "PUT /api/v1/training/members/{id}/exemption",
        r#"{"exempt": true, "reason": "Fire police only"}"#,
    ),
    (
        "POST /api/v1/training/sessions/{id}/void",
        r#"{"reason": "Rained out"}"#,
    ),
    (
        "PUT /api/v1/training/requirements/{id}",
        r#"{"name": "Renamed requirement", "requirement_type": "hours", "required_hours": 12,
            "period": "annual"}"#,
    ),
    (
        "PUT /api/v1/training/shift-reports/{id}",
        r#"{"trainee_id": "{member}", "shift_date": "{today}", "hours_on_shift": 6}"#,
    ),
    (
        "POST /api/v1/training/shift-reports/{id}/review",
        r#"{"decision": "approved"}"#,
    ),
    (
        "PUT /api/v1/training/submissions/{id}",
        r#"{"course_name": "Renamed class", "training_type": "drill",
            "completion_date": "2026-01-06", "hours": 3}"#,
    ),
    (
        "POST /api/v1/training/submissions/{id}/review",
        r#"{"decision": "approve"}"#,
    ),
];

/// Operations that only the member a record is about may use (anyone else gets the 404 of a
/// record they cannot see), called as org A's `{member}`; every other one as org A's
/// administrator, who holds every permission.
const MEMBER_CALLS: &[&str] = &[
    "PUT /api/v1/training/submissions/{id}",
    "POST /api/v1/training/shift-reports/{id}/acknowledge",
    "POST /api/v1/scheduling/assignments/{id}/respond",
    "POST /api/v1/scheduling/time-off/{id}/cancel",
    "POST /api/v1/scheduling/swaps/{id}/cancel",
];

/// The job the sweep names where a path takes a job's name: every organization has it, and it
/// reads and writes only the organization it runs for.
const SWEEP_JOB: &str = "audit_verify";

/// Records of one organization that the operations can name, by kind.
#[derive(Debug, Clone)]
struct Ids {
    ids: BTreeMap<&'static str, Uuid>,
    today: String,
}

impl Ids {
    fn id(&self, kind: &str) -> Uuid {
        *self
            .ids
            .get(kind)
            .unwrap_or_else(|| panic!("no record of kind `{kind}` (add one in `records`)"))
    }

    /// The same kinds, every id one that exists nowhere.
    fn nowhere(&self) -> Ids {
        Ids {
            ids: self.ids.keys().map(|k| (*k, Uuid::now_v7())).collect(),
            today: self.today.clone(),
        }
    }

    /// These ids, with `kind`'s taken from `other`.
    fn with(&self, kind: &'static str, other: &Ids) -> Ids {
        let mut ids = self.clone();
        ids.ids.insert(kind, other.id(kind));
        ids
    }

    /// `template` with every `{kind}` and `{today}` filled in.
    fn fill(&self, template: &str) -> String {
        let mut out = template.replace("{today}", &self.today);
        for (kind, id) in &self.ids {
            out = out.replace(&format!("{{{kind}}}"), &id.to_string());
        }
        out
    }
}

/// One operation of the API document whose path takes parameters.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    /// As documented, e.g. `/api/v1/members/{id}/roles/{role_id}`.
    path: String,
    /// Each parameter's name and class, in path order.
    params: Vec<(String, Class)>,
    body: Option<&'static str>,
    /// Called as org A's `{member}` (`MEMBER_CALLS`), not its administrator.
    by_member: bool,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.params
            .iter()
            .filter_map(|(_, c)| match c {
                Class::Record(kind) => Some(*kind),
                _ => None,
            })
            .collect()
    }

    /// A parameter names a host backup file or a job, no organization's record.
    fn names_no_record(&self) -> bool {
        self.params
            .iter()
            .any(|(_, c)| !matches!(c, Class::Record(_)))
    }

    /// The path with `ids`, the body with `body_ids`.
    fn request_with(&self, ids: &Ids, body_ids: &Ids) -> (String, Option<Value>) {
        let mut path = self.path.clone();
        for (name, class) in &self.params {
            let value = match class {
                Class::Record(kind) => ids.id(kind).to_string(),
                Class::HostBackupFile => "logbook-20260101-000000.lbk".to_string(),
                Class::JobName => SWEEP_JOB.to_string(),
            };
            path = path.replace(&format!("{{{name}}}"), &value);
        }
        let body = self.body.map(|b| {
            serde_json::from_str(&body_ids.fill(b))
                .unwrap_or_else(|e| panic!("the body of {} is not JSON: {e}", self.name()))
        });
        (path, body)
    }
}

/// The parameters of a documented path: (name, the path up to and including it).
fn path_params(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = path[rest..].find('{') {
        let open = rest + open;
        let close = open + path[open..].find('}').expect("a closing brace");
        out.push((
            path[open + 1..close].to_string(),
            path[..=close].to_string(),
        ));
        rest = close + 1;
    }
    out
}

/// Every operation of the served API document whose path takes a parameter, classified by
/// `CLASSES`, with its body from `BODIES`; panics naming every operation it cannot call.
async fn operations(app: &TestApp) -> Vec<Operation> {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    let classes: BTreeMap<&str, Class> = CLASSES.iter().copied().collect();
    let bodies: BTreeMap<&str, &str> = BODIES.iter().copied().collect();
    let mut ops = Vec::new();
    let mut unknown = Vec::new();
    let mut used_classes = BTreeSet::new();
    let mut used_bodies = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let found = path_params(path);
        if found.is_empty() {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !op.is_object() || op.get("responses").is_none() {
                continue;
            }
            let name = format!("{method} {path}");
            let mut params = Vec::new();
            for (param, prefix) in &found {
                match classes.get(prefix.as_str()) {
                    Some(class) => {
                        used_classes.insert(prefix.clone());
                        params.push((param.clone(), *class));
                    }
                    None => unknown.push(format!(
                        "{name}: nothing in CLASSES says what `{{{param}}}` names (add a line \
                         for \"{prefix}\")"
                    )),
                }
            }
            let body = bodies.get(name.as_str()).copied();
            if body.is_some() {
                used_bodies.insert(name.clone());
            } else if op.get("requestBody").is_some() {
                unknown.push(format!("{name}: takes a body, and BODIES has none for it"));
            }
            ops.push(Operation {
                by_member: MEMBER_CALLS.contains(&name.as_str()),
                method,
                path: path.clone(),
                params,
                body,
            });
        }
    }
    assert!(
        unknown.is_empty(),
        "the cross-organization sweep cannot call every operation with a path id:\n  {}",
        unknown.join("\n  ")
    );
    // And nothing in the tables that the document no longer has.
    for (prefix, _) in CLASSES {
        assert!(
            used_classes.contains(*prefix),
            "CLASSES has \"{prefix}\", which no documented path has"
        );
    }
    for (name, _) in BODIES {
        assert!(
            used_bodies.contains(*name),
            "BODIES has \"{name}\", which the document does not have"
        );
    }
    for name in MEMBER_CALLS {
        assert!(
            ops.iter().any(|op| op.name() == *name),
            "MEMBER_CALLS has \"{name}\", which the document does not have"
        );
    }
    // The member's own first (before an administrator's password reset ends their session),
    // then reads, changes, deletions last (a role's unassignment before the role), so that the
    // pass with the caller's own ids finds each record still there.
    let rank = |op: &Operation| {
        let method = match op.method {
            Method::GET => 0,
            Method::PUT | Method::PATCH => 1,
            Method::POST => 2,
            _ => 3,
        };
        (!op.by_member, method, op.path.clone())
    };
    ops.sort_by_key(rank);
    ops
}

/// Who calls `op` in org A: its administrator, or the member the records are about.
fn caller<'a>(op: &Operation, admin: &'a User, member: &'a User) -> &'a User {
    if op.by_member { member } else { admin }
}

async fn send(
    app: &TestApp,
    token: &str,
    op: &Operation,
    ids: &Ids,
) -> (StatusCode, Value, String) {
    send_with(app, token, op, ids, ids).await
}

async fn send_with(
    app: &TestApp,
    token: &str,
    op: &Operation,
    ids: &Ids,
    body_ids: &Ids,
) -> (StatusCode, Value, String) {
    let (path, body) = op.request_with(ids, body_ids);
    let (status, answer) = app.call(op.method.clone(), token, &path, body).await;
    (status, answer, format!("{} {path}", op.method))
}

/// Like `assert_eq!` on two snapshots, but shows only the rows that differ.
fn unchanged(before: &str, after: &str, what: &str) {
    if before != after {
        let b: BTreeSet<&str> = before.lines().collect();
        let a: BTreeSet<&str> = after.lines().collect();
        panic!(
            "{what}: data changed\n  before: {:#?}\n  after: {:#?}",
            b.difference(&a).collect::<Vec<_>>(),
            a.difference(&b).collect::<Vec<_>>()
        );
    }
}

/// `caller` (of `own`) calls `op` with `ids` (naming `foreign`'s records): 404 with a problem
/// document that says nothing about the record, and `foreign` unchanged.
async fn assert_not_found(
    app: &TestApp,
    caller: &User,
    foreign: &Org,
    op: &Operation,
    ids: &Ids,
    foreign_words: &[&str],
) {
    let before = app.snapshot(foreign).await;
    let (status, body, what) = send(app, &caller.token, op, ids).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let text = body.to_string();
    for word in foreign_words {
        assert!(!text.contains(word), "{what} leaks `{word}`: {text}");
    }
    unchanged(
        &before,
        &app.snapshot(foreign).await,
        &format!("{what} changed the other organization"),
    );
}

async fn one_id(app: &TestApp, sql: &str, org: &Org, what: &str) -> Uuid {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Creates one record of each kind an operation can name in `org`; `prefix` is in their names.
/// Returns them and the (signed-in) member they are about.
async fn records(app: &TestApp, org: &Org, prefix: &str) -> (Ids, User) {
    let admin = &org.admin.token;
    let post = |path: &'static str, body: Value| {
        let token = admin.clone();
        async move {
            let (status, answer) = app.post(&token, path, body).await;
            assert!(status.is_success(), "POST {path}: {status} {answer}");
            answer
        }
    };
    let today = app.org_today(org).await.to_string();
    let mut ids = BTreeMap::new();

    // A member with a custom role, locked out (an open security alert about them).
    let member = app.member(org, &format!("{prefix}-member"), &[]).await;
    ids.insert("member", member.id);
    let role = post(
        "/api/v1/roles",
        json!({"name": format!("{prefix} engine crew"), "description": "Crew",
               "permissions": ["members.view", "training.view"]}),
    )
    .await;
    let role: Uuid = role["id"].as_str().unwrap().parse().unwrap();
    ids.insert("role", role);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/members/{}/roles", member.id),
            json!({"role_id": role}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Submitted while the member can still sign in.
    post_as(
        app,
        &member,
        "/api/v1/training/submissions",
        json!({"course_name": format!("{prefix} county class"), "training_type": "drill",
               "completion_date": "2026-01-05", "hours": 2}),
    )
    .await;
    ids.insert(
        "submission",
        one_id(
            app,
            "SELECT id FROM training_submissions WHERE organization_id = ?",
            org,
            "the submission",
        )
        .await,
    );
    fail_login(app, &member.username).await;
    ids.insert(
        "alert",
        one_id(
            app,
            "SELECT id FROM security_alerts WHERE organization_id = ?",
            org,
            "a lockout alert",
        )
        .await,
    );
    // An announcement to everyone (the admin gets its notification) and an email the outbox
    // gave up on (written directly: no sender may race the test for it).
    let posted = post(
        "/api/v1/announcements",
        json!({"title": format!("{prefix} drill night"), "body": "Thursday at seven"}),
    )
    .await;
    ids.insert(
        "announcement",
        posted["announcement"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    ids.insert(
        "notification",
        app.notification_id(org.admin.id, &format!("{prefix} drill night"))
            .await,
    );
    let email = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO email_outbox (id, organization_id, to_address, subject, body_text, body_html,
            status, attempts, next_attempt_at, last_error, created_at, give_up_at)
         VALUES (?, ?, ?, ?, 'text', '<p>html</p>', 'failed', 3, UTC_TIMESTAMP(6),
                 'gave up: test', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
    )
    .bind(email)
    .bind(org.id)
    .bind(format!("{prefix}@example.org"))
    .bind(format!("{prefix} drill night"))
    .execute(&app.db.pool)
    .await
    .unwrap();
    ids.insert("email", email);
    ids.insert(
        "tier",
        one_id(
            app,
            "SELECT id FROM membership_tiers WHERE organization_id = ? AND slug = 'senior'",
            org,
            "the senior tier",
        )
        .await,
    );

    // A station with no vehicle (so it can be retired) and a vehicle at another station.
    let station = post(
        "/api/v1/stations",
        json!({"name": format!("{prefix} north station"), "station_number": "1"}),
    )
    .await;
    ids.insert("station", station["id"].as_str().unwrap().parse().unwrap());
    let home = post(
        "/api/v1/stations",
        json!({"name": format!("{prefix} south station")}),
    )
    .await;
    let vehicle = post(
        "/api/v1/apparatus",
        json!({"unit_number": "E1", "apparatus_type": "engine", "station_id": home["id"]}),
    )
    .await;
    ids.insert(
        "apparatus",
        vehicle["id"].as_str().unwrap().parse().unwrap(),
    );

    // Training: a course, a requirement, a record, a waiver, a leave.
    let course = post(
        "/api/v1/training/courses",
        json!({"name": format!("{prefix} pump operations"), "training_type": "certification",
               "duration_hours": 4}),
    )
    .await;
    ids.insert("course", course["id"].as_str().unwrap().parse().unwrap());
    let requirement = post(
        "/api/v1/training/requirements",
        json!({"name": format!("{prefix} annual hours"), "requirement_type": "hours",
               "required_hours": 24, "period": "annual"}),
    )
    .await;
    ids.insert(
        "requirement",
        requirement["id"].as_str().unwrap().parse().unwrap(),
    );
    post(
        "/api/v1/training/records",
        json!({"user_ids": [member.id], "course_name": format!("{prefix} ladder drill"),
               "hours": 2, "training_type": "drill", "completion_date": "2026-02-03"}),
    )
    .await;
    ids.insert(
        "record",
        one_id(
            app,
            "SELECT id FROM training_records WHERE organization_id = ?",
            org,
            "the training record",
        )
        .await,
    );
    let record = ids["record"];
    let (status, paper) = crate::documents::send_file(
        app,
        &org.admin.token,
        &format!("/api/v1/training/records/{record}/documents?name=card.txt"),
        format!("{prefix} EMT card\n").into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{paper}");
    ids.insert(
        "record_paper",
        paper["id"].as_str().unwrap().parse().unwrap(),
    );
    // A crew drill: one session of two records.
    post(
        "/api/v1/training/records",
        json!({"user_ids": [member.id, org.admin.id],
               "course_name": format!("{prefix} pump drill"), "hours": 2,
               "training_type": "drill", "completion_date": "2026-02-04"}),
    )
    .await;
    ids.insert(
        "session",
        one_id(
            app,
            "SELECT DISTINCT session_id FROM training_records
              WHERE organization_id = ? AND session_id IS NOT NULL",
            org,
            "the crew session",
        )
        .await,
    );
    let waiver = post(
        "/api/v1/training/waivers",
        json!({"user_id": member.id, "waiver_type": "medical", "start_date": "2026-01-01"}),
    )
    .await;
    ids.insert("waiver", waiver["id"].as_str().unwrap().parse().unwrap());
    let leave = post(
        "/api/v1/leaves",
        json!({"user_id": member.id, "leave_type": "personal", "start_date": "2026-10-01",
               "end_date": "2026-10-31", "reason": format!("{prefix} trip")}),
    )
    .await;
    ids.insert("leave", leave["id"].as_str().unwrap().parse().unwrap());

    // A program with a phase and an item, the member enrolled, a shift report about them.
    let program = post(
        "/api/v1/training/programs",
        json!({"name": format!("{prefix} recruits"), "structure_type": "phases"}),
    )
    .await;
    let program: Uuid = program["id"].as_str().unwrap().parse().unwrap();
    ids.insert("program", program);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/training/programs/{program}/phases"),
            json!({"name": "Orientation"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let phase = one_id(
        app,
        "SELECT id FROM program_phases WHERE organization_id = ?",
        org,
        "the phase",
    )
    .await;
    ids.insert("phase", phase);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/training/programs/{program}/items"),
            json!({"phase_id": phase, "item_type": "skill", "name": "Knots", "target_value": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    ids.insert(
        "item",
        one_id(
            app,
            "SELECT id FROM program_requirements WHERE organization_id = ?",
            org,
            "the program item",
        )
        .await,
    );
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/training/programs/{program}/enrollments"),
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    ids.insert(
        "enrollment",
        one_id(
            app,
            "SELECT id FROM program_enrollments WHERE organization_id = ?",
            org,
            "the enrollment",
        )
        .await,
    );
    // Written by an officer and approved, so that the trainee may see and acknowledge it.
    let officer = app
        .member(org, &format!("{prefix}-officer"), &["training_officer"])
        .await;
    let report = post_as(
        app,
        &officer,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": member.id, "shift_date": today, "hours_on_shift": 8}),
    )
    .await;
    let report: Uuid = report["id"].as_str().unwrap().parse().unwrap();
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/training/shift-reports/{report}/review"),
            json!({"decision": "approved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ids.insert("shift_report", report);
    // Equipment: a stock of gloves in a category, one pair issued to the member.
    let category = post(
        "/api/v1/inventory/categories",
        json!({"name": format!("{prefix} gloves"), "item_type": "ppe"}),
    )
    .await;
    ids.insert(
        "inventory_category",
        category["id"].as_str().unwrap().parse().unwrap(),
    );
    let gloves = post(
        "/api/v1/inventory/items",
        json!({"name": format!("{prefix} structural gloves"), "category_id": category["id"],
               "tracking_type": "pool", "quantity": 10}),
    )
    .await;
    let gloves: Uuid = gloves["id"].as_str().unwrap().parse().unwrap();
    ids.insert("inventory_item", gloves);
    let (status, paper) = crate::documents::send_file(
        app,
        &org.admin.token,
        &format!("/api/v1/inventory/items/{gloves}/documents?name=care.txt"),
        format!("{prefix} glove care\n").into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{paper}");
    ids.insert("item_paper", paper["id"].as_str().unwrap().parse().unwrap());
    let (status, issued) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{gloves}/issue"),
            json!({"user_id": member.id, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    ids.insert("issuance", issued["id"].as_str().unwrap().parse().unwrap());
    // A clearance for an officer who holds a radio.
    let holder = app.member(org, &format!("{prefix}-holder"), &[]).await;
    let radio = post(
        "/api/v1/inventory/items",
        json!({"name": format!("{prefix} portable radio")}),
    )
    .await;
    let (status, body) = app
        .post(
            admin,
            &format!(
                "/api/v1/inventory/items/{}/assign",
                radio["id"].as_str().unwrap()
            ),
            json!({"user_id": holder.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let clearance = post(
        "/api/v1/inventory/clearances",
        json!({"user_id": holder.id}),
    )
    .await;
    ids.insert(
        "clearance",
        clearance["id"].as_str().unwrap().parse().unwrap(),
    );
    ids.insert(
        "clearance_line",
        clearance["lines"][0]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    // A drill next month.
    let drill = post(
        "/api/v1/events",
        json!({"title": format!("{prefix} monthly drill"), "event_type": "training",
               "start": "2027-01-12T19:00", "end": "2027-01-12T21:00"}),
    )
    .await;
    let drill: Uuid = drill["event"]["id"].as_str().unwrap().parse().unwrap();
    ids.insert("event", drill);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/events/{drill}/attachments?name=map.txt")))
        .bearer_auth(admin)
        .body("Meet at the south gate.")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let file: Value = res.json().await.unwrap();
    ids.insert("attachment", file["id"].as_str().unwrap().parse().unwrap());
    // A duty shift next month with the member on it, a pattern, the member's time off and
    // their seat offered to the holder.
    let template = post(
        "/api/v1/scheduling/templates",
        json!({"name": format!("{prefix} engine duty"), "start_time": "07:00",
               "duration_minutes": 1440,
               "positions": [{"name": "Officer"}, {"name": "Firefighter", "required": false}]}),
    )
    .await;
    ids.insert(
        "shift_template",
        template["id"].as_str().unwrap().parse().unwrap(),
    );
    let pattern = post(
        "/api/v1/scheduling/patterns",
        json!({"name": format!("{prefix} daily"), "template_id": template["id"],
               "pattern_type": "daily", "start_date": today}),
    )
    .await;
    ids.insert("pattern", pattern["id"].as_str().unwrap().parse().unwrap());
    let day = app.org_today(org).await + chrono::Duration::days(30);
    let shift = post(
        "/api/v1/scheduling/shifts",
        json!({"template_id": template["id"], "shift_date": day}),
    )
    .await;
    let shift: Uuid = shift["id"].as_str().unwrap().parse().unwrap();
    ids.insert("shift", shift);
    let seated = post_as(
        app,
        &member,
        &format!("/api/v1/scheduling/shifts/{shift}/signup"),
        json!({"seat": 0}),
    )
    .await;
    let seat: Uuid = seated["my_assignment"]["assignment_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    ids.insert("assignment", seat);
    let off = post_as(
        app,
        &member,
        "/api/v1/scheduling/time-off",
        json!({"start_date": day + chrono::Duration::days(5),
               "end_date": day + chrono::Duration::days(6)}),
    )
    .await;
    ids.insert("time_off", off["id"].as_str().unwrap().parse().unwrap());
    let swap = post_as(
        app,
        &member,
        "/api/v1/scheduling/swaps",
        json!({"assignment_id": seat, "target_user_id": holder.id}),
    )
    .await;
    ids.insert("swap", swap["id"].as_str().unwrap().parse().unwrap());
    // An election open for voting, the member standing for chief, and a batch of paper
    // ballots from three others waiting for a second officer.
    let voter = app.member(org, &format!("{prefix}-voter"), &[]).await;
    ids.insert("holder", holder.id);
    ids.insert("voter", voter.id);
    let mut paper = Vec::new();
    for n in 1..=3 {
        paper.push(app.member(org, &format!("{prefix}-paper{n}"), &[]).await.id);
    }
    let election = post(
        "/api/v1/elections",
        json!({"title": format!("{prefix} officers"), "voting_method": "plurality"}),
    )
    .await;
    let election: Uuid = election["id"].as_str().unwrap().parse().unwrap();
    ids.insert("election", election);
    let with_position = post_as(
        app,
        &org.admin,
        &format!("/api/v1/elections/{election}/positions"),
        json!({"name": "Chief"}),
    )
    .await;
    let position: Uuid = with_position["positions"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    ids.insert("election_position", position);
    let candidate = post_as(
        app,
        &org.admin,
        &format!("/api/v1/elections/{election}/candidates"),
        json!({"position_id": position, "user_id": member.id}),
    )
    .await;
    ids.insert(
        "candidate",
        candidate["id"].as_str().unwrap().parse().unwrap(),
    );
    post_as(
        app,
        &org.admin,
        &format!("/api/v1/elections/{election}/open"),
        json!({}),
    )
    .await;
    let batch = post_as(
        app,
        &org.admin,
        &format!("/api/v1/elections/{election}/paper-batches"),
        json!({"voter_ids": paper,
               "ballots": [{"position_id": position, "choices": [candidate["id"]]}]}),
    )
    .await;
    ids.insert(
        "paper_batch",
        batch["id"].as_str().unwrap().parse().unwrap(),
    );
    // A folder of the department's own with a document in it.
    let folder = post(
        "/api/v1/documents/folders",
        json!({"name": format!("{prefix} manuals"), "visibility": "everyone"}),
    )
    .await;
    let folder: Uuid = folder["id"].as_str().unwrap().parse().unwrap();
    ids.insert("document_folder", folder);
    let (status, document) = crate::documents::upload(
        app,
        &org.admin.token,
        folder,
        "pump.txt",
        b"Prime, then open slowly.\n",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{document}");
    let document: Uuid = document["id"].as_str().unwrap().parse().unwrap();
    ids.insert("document", document);
    let (_, versions) = app
        .get(
            &org.admin.token,
            &format!("/api/v1/documents/{document}/versions"),
        )
        .await;
    ids.insert(
        "document_version",
        versions[0]["id"].as_str().unwrap().parse().unwrap(),
    );
    // Minutes in draft with a motion and an action item for the member.
    let minutes = post(
        "/api/v1/minutes",
        json!({"title": format!("{prefix} business meeting")}),
    )
    .await;
    let minutes: Uuid = minutes["id"].as_str().unwrap().parse().unwrap();
    ids.insert("minutes", minutes);
    let motion = post_as(
        app,
        &org.admin,
        &format!("/api/v1/minutes/{minutes}/motions"),
        json!({"motion_text": format!("{prefix} motion"), "result": "passed"}),
    )
    .await;
    ids.insert("motion", motion["id"].as_str().unwrap().parse().unwrap());
    let item = post_as(
        app,
        &org.admin,
        &format!("/api/v1/minutes/{minutes}/action-items"),
        json!({"description": format!("{prefix} item"), "assignee_id": member.id}),
    )
    .await;
    ids.insert("action_item", item["id"].as_str().unwrap().parse().unwrap());
    // A job run, which the job's runs list must keep to its organization.
    app.run_job(org, SWEEP_JOB).await;
    (Ids { ids, today }, member)
}

async fn post_as(app: &TestApp, user: &User, path: &str, body: Value) -> Value {
    let (status, answer) = app.post(&user.token, path, body).await;
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

async fn fail_login(app: &TestApp, username: &str) {
    for _ in 0..5 {
        let res = app
            .login_response(username, "not the right password", None)
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn every_operation_with_a_path_id_answers_404_to_the_other_organization() {
    let app = TestApp::spawn().await;
    let ops = operations(&app).await;
    let (b, _) = records(&app, &app.b, "bravo").await;
    let (a, member) = records(&app, &app.a, "alpha").await;
    let admin = &app.a.admin;
    let a_before = app.snapshot(&app.a).await;

    let mut called = 0;
    for op in &ops {
        if op.names_no_record() {
            continue;
        }
        let by = caller(op, admin, &member);
        // Org A's caller (its administrator, or the member for MEMBER_CALLS) with org B's ids.
        assert_not_found(&app, by, &app.b, op, &b, &["bravo"]).await;
        called += 1;
        // With two ids, each of B's alone next to A's own is as unknown.
        let kinds = op.kinds();
        if kinds.len() > 1 {
            for kind in kinds {
                assert_not_found(&app, by, &app.b, op, &a.with(kind, &b), &["bravo"]).await;
            }
        }
        // Org A's own record named in the path, org B's in the body: refused (a missing
        // record, a field error, the record's state), and neither organization changes.
        if op.body.is_some_and(|body| b.fill(body) != a.fill(body)) {
            let b_before = app.snapshot(&app.b).await;
            let (status, body, what) = send_with(&app, &by.token, op, &a, &b).await;
            assert!(
                status.is_client_error(),
                "{what} with org B's ids in the body: {status} {body}"
            );
            assert_problem(status, &body, status);
            unchanged(&b_before, &app.snapshot(&app.b).await, &what);
            unchanged(&a_before, &app.snapshot(&app.a).await, &what);
        }
    }
    unchanged(&a_before, &app.snapshot(&app.a).await, "org A");

    // Names that are no organization's record: the host's backup files are refused to every
    // department's administrator while the host has several; a job's runs are the caller's.
    let b_before = app.snapshot(&app.b).await;
    for op in ops.iter().filter(|op| op.names_no_record()) {
        let (status, body, what) = send(&app, &admin.token, op, &a).await;
        if op.params.iter().any(|(_, c)| *c == Class::HostBackupFile) {
            assert_problem(status, &body, StatusCode::CONFLICT);
        } else {
            assert!(status.is_success(), "{what}: {status} {body}");
            let b_runs: Vec<Uuid> =
                sqlx::query_scalar("SELECT id FROM job_runs WHERE organization_id = ?")
                    .bind(app.b.id)
                    .fetch_all(&app.db.pool)
                    .await
                    .unwrap();
            assert!(!b_runs.is_empty());
            for run in b_runs {
                assert!(
                    !body.to_string().contains(&run.to_string()),
                    "{what} shows org B's run {run}: {body}"
                );
            }
        }
        called += 1;
        unchanged(&b_before, &app.snapshot(&app.b).await, &what);
    }
    assert_eq!(called, ops.len());

    // The same operations with org A's own ids are found (whatever they then answer: done,
    // refused for the record's state, …), so the 404s above came from the organization, not
    // from a wrong path or body.
    for op in ops.iter().filter(|op| !op.names_no_record()) {
        let (status, body, what) = send(&app, &caller(op, admin, &member).token, op, &a).await;
        assert!(
            status != StatusCode::NOT_FOUND
                && status != StatusCode::UNPROCESSABLE_ENTITY
                && !status.is_server_error(),
            "{what} with org A's own ids: {status} {body}"
        );
        eprintln!("own ids: {what} -> {status}");
    }
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
    eprintln!(
        "the sweep called {} operations ({} classes)",
        ops.len(),
        CLASSES.len()
    );
}

#[tokio::test]
async fn org_b_ids_tell_a_member_without_permissions_nothing_a_missing_id_would_not() {
    let app = TestApp::spawn().await;
    let ops = operations(&app).await;
    let (b, _) = records(&app, &app.b, "bravo").await;
    let nowhere = b.nowhere();
    let plain = app.member(&app.a, "plain", &[]).await;
    let a_before = app.snapshot(&app.a).await;
    for op in ops.iter().filter(|op| !op.names_no_record()) {
        // An ordinary member: org B's record answers exactly as an id that exists nowhere
        // (404, or the 403 of a permission they lack, which any id gets), and changes nothing.
        let before = app.snapshot(&app.b).await;
        let (status, body, what) = send(&app, &plain.token, op, &b).await;
        let (missing, missing_body, _) = send(&app, &plain.token, op, &nowhere).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
            "{what}: {status} {body}"
        );
        assert_eq!(
            (status, &body),
            (missing, &missing_body),
            "{what}: org B's id and a missing one answer differently"
        );
        assert!(!body.to_string().contains("bravo"), "{what} leaks: {body}");
        unchanged(&before, &app.snapshot(&app.b).await, &what);
        // The administrator, with an id that exists nowhere: 404 like org B's.
        assert_not_found(&app, &app.a.admin, &app.b, op, &nowhere, &[]).await;
    }
    unchanged(&a_before, &app.snapshot(&app.a).await, "org A");
}

fn ids_in(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i[key].as_str().unwrap().to_string())
        .collect()
}

async fn column_of(app: &TestApp, sql: &str, org: &Org) -> Vec<String> {
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(org.id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    ids.into_iter().map(|u| u.to_string()).collect()
}

fn disjoint(listed: &[String], other: &[String], what: &str) {
    assert!(!other.is_empty(), "{what}: the other organization has none");
    for id in listed {
        assert!(
            !other.contains(id),
            "{what} lists the other organization's {id}"
        );
    }
}

#[tokio::test]
async fn lists_never_show_the_other_organization() {
    let app = TestApp::spawn().await;
    let (b, _) = records(&app, &app.b, "bravo").await;
    let (a, _) = records(&app, &app.a, "alpha").await;
    let t = &app.a.admin.token;

    // Members.
    let (status, body) = app.get(t, "/api/v1/members?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    let a_users = column_of(
        &app,
        "SELECT id FROM users WHERE organization_id = ?",
        &app.a,
    )
    .await;
    let b_users = column_of(
        &app,
        "SELECT id FROM users WHERE organization_id = ?",
        &app.b,
    )
    .await;
    disjoint(&listed, &b_users, "members");
    assert_eq!(listed.len(), a_users.len());
    assert!(listed.contains(&a.id("member").to_string()));
    assert!(!body.to_string().contains("bravo"), "{body}");
    for q in ["bravo", "bravo-member", "Bravo%20Fire", "example.org"] {
        let (status, body) = app.get(t, &format!("/api/v1/members?q={q}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body.to_string().contains("bravo"), "q={q}: {body}");
    }
    let (status, body) = app.get(t, "/api/v1/members?status=active,inactive").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    disjoint(&ids_in(&body["items"], "id"), &b_users, "members by status");

    // Elections.
    let (status, body) = app.get(t, "/api/v1/elections?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ids_in(&body["items"], "id"),
        vec![a.id("election").to_string()]
    );
    assert!(!body.to_string().contains("bravo"), "{body}");
    let (_, body) = app.get(t, "/api/v1/elections?q=bravo").await;
    assert_eq!(body["total"], 0, "{body}");

    // Roles (system roles share names across organizations, so compare ids).
    let (status, body) = app.get(t, "/api/v1/roles").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body, "id");
    let b_roles = column_of(
        &app,
        "SELECT id FROM roles WHERE organization_id = ?",
        &app.b,
    )
    .await;
    let a_roles = column_of(
        &app,
        "SELECT id FROM roles WHERE organization_id = ?",
        &app.a,
    )
    .await;
    disjoint(&listed, &b_roles, "roles");
    assert_eq!(listed.len(), a_roles.len());
    assert!(listed.contains(&a.id("role").to_string()));
    assert!(!listed.contains(&b.id("role").to_string()));
    // Member counts count only the organization's own members.
    let member_role = app.role_id(&app.a, "member").await.to_string();
    let row = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == member_role.as_str())
        .unwrap();
    assert_eq!(row["member_count"].as_u64(), Some(a_users.len() as u64));

    // Audit log, its verification, and its filters.
    let (status, body) = app.get(t, "/api/v1/audit-logs?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    let a_log = column_of(
        &app,
        "SELECT id FROM audit_logs WHERE organization_id = ?",
        &app.a,
    )
    .await;
    let b_log = column_of(
        &app,
        "SELECT id FROM audit_logs WHERE organization_id = ?",
        &app.b,
    )
    .await;
    disjoint(&listed, &b_log, "audit-logs");
    assert_eq!(body["total"].as_u64(), Some(a_log.len() as u64));
    let (status, body) = app
        .get(
            t,
            &format!("/api/v1/audit-logs?member_id={}", app.b.admin.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 0, "{body}");
    let (status, body) = app.get(t, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries_checked"].as_u64(), Some(a_log.len() as u64));

    // Security alerts.
    let (status, body) = app.get(t, "/api/v1/security-alerts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    assert_eq!(listed, [a.id("alert").to_string()]);
    assert!(!listed.contains(&b.id("alert").to_string()));

    // CSV export.
    let res = app
        .client
        .get(app.url("/api/v1/members/export"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    assert!(csv.contains("alpha-member"), "{csv}");
    assert!(!csv.to_lowercase().contains("bravo"), "{csv}");
    assert_eq!(csv.lines().count(), a_users.len() + 1, "{csv}");

    // A member's roles list only the organization's own roles.
    let (status, body) = app
        .get(t, &format!("/api/v1/members/{}/roles", a.id("member")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    disjoint(&ids_in(&body, "role_id"), &b_roles, "member roles");

    // Events: the calendar, a search for the other's title, and the attendance sheet.
    for q in ["", "&q=bravo"] {
        let (status, body) = app
            .get(
                t,
                &format!("/api/v1/events?from=2026-01-01&per_page=200{q}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let listed = ids_in(&body["items"], "id");
        assert!(!listed.contains(&b.id("event").to_string()), "{body}");
        assert!(!body.to_string().contains("bravo"), "{body}");
    }
    let (status, body) = app
        .get(t, &format!("/api/v1/events/{}/attendees", a.id("event")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    disjoint(&ids_in(&body, "user_id"), &b_users, "event attendees");
}

#[tokio::test]
async fn the_organization_is_the_callers_own() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&app.a.admin.token, "/api/v1/organization").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.a.id));
    assert_eq!(body["name"], "Alpha Fire Department");
    assert_eq!(body["slug"], app.a.slug.as_str());
    let (status, body) = app.get(&app.b.admin.token, "/api/v1/organization").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.b.id));
    let (_, me) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.a.id));

    let b_before = app.snapshot(&app.b).await;
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"name": "Alpha Volunteer Fire Company", "county": "Alpha County"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.a.id));
    assert_eq!(body["name"], "Alpha Volunteer Fire Company");
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
    let (_, body) = app.get(&app.b.admin.token, "/api/v1/organization").await;
    assert_eq!(body["name"], "Bravo Fire Department");
    assert_eq!(body["county"], Value::Null);
    // A body cannot name another organization.
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"id": app.b.id, "name": "Hijacked"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            &format!("/api/v1/organization?organization_id={}", app.b.id),
            json!({"name": "Hijacked"}),
        )
        .await;
    // The query string is not where the organization comes from: ignored or refused, and
    // never applied to B.
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} {body}"
    );
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
}

#[tokio::test]
async fn the_same_names_are_allowed_in_both_organizations() {
    let app = TestApp::spawn().await;
    let member = |password: &str| {
        json!({"username": "jordan", "email": "jordan@example.org", "first_name": "Jordan",
               "last_name": "Reyes", "membership_number": "M-101", "temporary_password": password})
    };
    let (status, in_a) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            member("alpha station passphrase"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{in_a}");
    let (status, in_b) = app
        .post(
            &app.b.admin.token,
            "/api/v1/members",
            member("bravo station passphrase"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{in_b}");
    assert_ne!(in_a["id"], in_b["id"]);

    // Still unique inside one organization, naming each field.
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan", "email": "jordan.other@example.org", "first_name": "J",
                   "last_name": "R"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["username"]);
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan2", "email": "jordan@example.org", "first_name": "J",
                   "last_name": "R"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["email"]);
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan3", "email": "jordan3@example.org", "first_name": "J",
                   "last_name": "R", "membership_number": "M-101"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["membership_number"]);
    unchanged(&before, &app.snapshot(&app.a).await, "org A");

    // Each signs in to their own organization.
    let ja = app.login("jordan", "alpha station passphrase").await;
    let (_, me) = app.get(&ja.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.a.id));
    let jb = app.login("jordan", "bravo station passphrase").await;
    let (_, me) = app.get(&jb.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.b.id));

    // Custom role names too.
    for org in [&app.a, &app.b] {
        let (status, body) = app
            .post(
                &org.admin.token,
                "/api/v1/roles",
                json!({"name": "Drivers", "permissions": ["members.view"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/roles",
            json!({"name": "Drivers", "permissions": []}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["name"]);
    // Renaming B's role to a name A uses is fine as well.
    let (status, body) = app
        .post(
            &app.b.admin.token,
            "/api/v1/roles",
            json!({"name": "Pump crew", "permissions": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .patch(
            &app.b.admin.token,
            &format!("/api/v1/roles/{}", body["id"].as_str().unwrap()),
            json!({"name": "Engine crew"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
