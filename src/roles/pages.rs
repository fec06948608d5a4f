//! Roles pages: list, create, edit permissions (grouped by module), delete (asking first), and
//! assigning the role to members. Plain forms; the rules live in `service`.

use crate::auth::OrgId;
use crate::web::PathId;
use crate::web::PathIds;
use std::collections::BTreeSet;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use uuid::Uuid;

use super::service::{self, AssignRole, NewRole, PermissionInfo, Role, RolePatch};
use crate::auth::Ctx;
use crate::auth::permissions::ROLES_MANAGE;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/roles", get(list))
        .route("/roles/new", get(new_form).post(create))
        .route("/roles/{id}", get(edit_form).post(update))
        .route("/roles/{id}/delete", get(delete_confirm).post(delete))
        .route("/roles/{id}/members", post(assign))
        .route("/roles/{id}/members/{user_id}/remove", post(unassign))
}

// ---------------------------------------------------------------------------------------------
// List

#[derive(Template)]
#[template(path = "roles/list.html")]
struct ListPage {
    chrome: Chrome,
    roles: Vec<Role>,
}

async fn list(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(ROLES_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let roles = service::list(&ctx, &mut conn).await?;
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, "/roles"),
        roles,
    }))
}

// ---------------------------------------------------------------------------------------------
// The role form (create and edit)

pub struct PermGroup {
    pub module: String,
    pub perms: Vec<PermItem>,
}

pub struct PermItem {
    pub name: String,
    pub id: String,
    pub description: String,
    pub checked: bool,
}

fn group_permissions(catalogue: Vec<PermissionInfo>, chosen: &BTreeSet<String>) -> Vec<PermGroup> {
    let mut groups: Vec<PermGroup> = Vec::new();
    for p in catalogue {
        let module = p
            .name
            .split_once('.')
            .map_or(p.module.clone(), |(m, _)| m.to_string());
        let item = PermItem {
            id: format!("perm-{}", p.name.replace('.', "-")),
            checked: chosen.contains(&p.name),
            name: p.name,
            description: p.description,
        };
        match groups.iter_mut().find(|g| g.module == module) {
            Some(g) => g.perms.push(item),
            None => groups.push(PermGroup {
                module,
                perms: vec![item],
            }),
        }
    }
    groups
}

pub struct RoleMember {
    pub user_id: Uuid,
    pub name: String,
    pub username: String,
}

pub struct MemberOption {
    pub user_id: Uuid,
    pub label: String,
}

#[derive(Template)]
#[template(path = "roles/form.html")]
struct FormPage {
    chrome: Chrome,
    /// None when creating.
    role: Option<Role>,
    action: String,
    name: String,
    description: String,
    groups: Vec<PermGroup>,
    message: Option<String>,
    name_error: Option<String>,
    description_error: Option<String>,
    permissions_error: Option<String>,
    members: Vec<RoleMember>,
    candidates: Vec<MemberOption>,
    members_message: Option<String>,
}

impl FormPage {
    async fn build(
        ctx: &Ctx,
        conn: &mut Conn,
        role: Option<Role>,
        name: String,
        description: String,
        chosen: &BTreeSet<String>,
    ) -> AppResult<FormPage> {
        let catalogue = service::catalogue(ctx, conn).await?;
        let (members, candidates) = match &role {
            Some(r) => members_of(conn, ctx.org_id, r.id).await?,
            None => (Vec::new(), Vec::new()),
        };
        Ok(FormPage {
            chrome: Chrome::for_viewer(ctx, "/roles"),
            action: role
                .as_ref()
                .map_or("/roles/new".to_string(), |r| format!("/roles/{}", r.id)),
            role,
            name,
            description,
            groups: group_permissions(catalogue, chosen),
            message: None,
            name_error: None,
            description_error: None,
            permissions_error: None,
            members,
            candidates,
            members_message: None,
        })
    }

    fn with_error(mut self, err: &AppError) -> Self {
        match err {
            AppError::Validation(errors) => {
                let find = |field: &str| {
                    let msgs: Vec<String> = errors
                        .iter()
                        .filter(|e| e.field == field)
                        .map(|e| web::sentence(&e.message))
                        .collect();
                    (!msgs.is_empty()).then(|| msgs.join(" "))
                };
                self.name_error = find("name");
                self.description_error = find("description");
                self.permissions_error = find("permissions");
                if self.name_error.is_none()
                    && self.description_error.is_none()
                    && self.permissions_error.is_none()
                {
                    self.message = Some("Some fields are not valid.".into());
                }
            }
            other => self.message = Some(web::sentence(&other.to_problem().detail)),
        }
        self
    }
}

/// The role's members, and the organization's members who do not hold it yet.
async fn members_of(
    conn: &mut Conn,
    org_id: OrgId,
    role_id: Uuid,
) -> AppResult<(Vec<RoleMember>, Vec<MemberOption>)> {
    let rows = service::members_with_role(conn, org_id, role_id).await?;
    let mut members = Vec::new();
    let mut candidates = Vec::new();
    for (user_id, first, last, username, holds) in rows {
        let name = format!("{first} {last}").trim().to_string();
        if holds {
            members.push(RoleMember {
                user_id,
                name,
                username,
            });
        } else {
            candidates.push(MemberOption {
                user_id,
                label: format!("{name} ({username})"),
            });
        }
    }
    Ok((members, candidates))
}

/// The submitted form: checkboxes repeat `permissions`, so the body is read as pairs.
struct RoleForm {
    name: String,
    description: String,
    permissions: Vec<String>,
}

impl RoleForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = RoleForm {
            name: String::new(),
            description: String::new(),
            permissions: Vec::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "name" => form.name = v,
                "description" => form.description = v,
                "permissions" => form.permissions.push(v),
                _ => {}
            }
        }
        form
    }

    fn chosen(&self) -> BTreeSet<String> {
        self.permissions.iter().cloned().collect()
    }
}

fn refused(err: &AppError) -> bool {
    matches!(
        err,
        AppError::Validation(_) | AppError::Forbidden(_) | AppError::Conflict(_)
    )
}

async fn new_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(ROLES_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let page = FormPage::build(
        &ctx,
        &mut conn,
        None,
        String::new(),
        String::new(),
        &BTreeSet::new(),
    )
    .await?;
    Ok(web::render(&page))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(ROLES_MANAGE)?;
    let form = RoleForm::from_pairs(pairs);
    let input = NewRole {
        name: form.name.clone(),
        description: Some(form.description.clone()),
        permissions: form.permissions.clone(),
    };
    let mut tx = state.db.begin().await?;
    match service::create(&ctx, &mut tx, input).await {
        Ok(role) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/roles/{}", role.id)).into_response())
        }
        Err(err) if refused(&err) => {
            drop(tx);
            let mut conn = state.db.acquire().await?;
            let chosen = form.chosen();
            let page = FormPage::build(&ctx, &mut conn, None, form.name, form.description, &chosen)
                .await?
                .with_error(&err);
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn load_role(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Role> {
    ctx.require(ROLES_MANAGE)?;
    service::get(ctx, conn, id).await
}

async fn edit_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    members_message: Option<String>,
) -> AppResult<FormPage> {
    let mut conn = state.db.acquire().await?;
    let role = load_role(ctx, &mut conn, id).await?;
    let chosen: BTreeSet<String> = role.permissions.iter().cloned().collect();
    let (name, description) = (role.name.clone(), role.description.clone());
    let mut page = FormPage::build(ctx, &mut conn, Some(role), name, description, &chosen).await?;
    page.members_message = members_message;
    Ok(page)
}

async fn edit_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    Ok(web::render(&edit_page(&state, &ctx, id, None).await?))
}

async fn update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let role = {
        let mut conn = state.db.acquire().await?;
        load_role(&ctx, &mut conn, id).await?
    };
    let form = RoleForm::from_pairs(pairs);
    // The page shows only the permissions of what is built: the role keeps what it holds of
    // a part still to come.
    let mut permissions = form.permissions.clone();
    permissions.extend(
        role.permissions
            .iter()
            .filter(|p| !crate::auth::permissions::offered(p.split('.').next().unwrap_or_default()))
            .cloned(),
    );
    let patch = RolePatch {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        permissions: Some(permissions),
    };
    let mut tx = state.db.begin().await?;
    match service::update(&ctx, &mut tx, role.id, patch).await {
        Ok(role) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/roles/{}", role.id)).into_response())
        }
        Err(err) if refused(&err) => {
            // Roll back first: the refused change must leave nothing behind.
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let chosen = form.chosen();
            let page = FormPage::build(
                &ctx,
                &mut conn,
                Some(role),
                form.name,
                form.description,
                &chosen,
            )
            .await?
            .with_error(&err);
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Delete (asks first)

#[derive(Template)]
#[template(path = "roles/delete.html")]
struct DeletePage {
    chrome: Chrome,
    role: Role,
    message: Option<String>,
}

async fn delete_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let role = load_role(&ctx, &mut conn, id).await?;
    let message = role
        .is_system
        .then(|| "System roles cannot be deleted.".to_string());
    Ok(web::render(&DeletePage {
        chrome: Chrome::for_viewer(&ctx, "/roles"),
        role,
        message,
    }))
}

async fn delete(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let role = {
        let mut conn = state.db.acquire().await?;
        load_role(&ctx, &mut conn, id).await?
    };
    let mut tx = state.db.begin().await?;
    match service::delete(&ctx, &mut tx, role.id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/roles").into_response())
        }
        Err(err @ (AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let page = DeletePage {
                chrome: Chrome::for_viewer(&ctx, "/roles"),
                role,
                message: Some(web::refusal(&err)),
            };
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Members of the role

#[derive(serde::Deserialize)]
pub struct AssignForm {
    user_id: String,
}

/// After an assignment change: back to the role, or the role page with the refusal at the top
/// of its members section.
async fn after_member_change(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    result: AppResult<()>,
) -> PageResult {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/roles/{id}#members")).into_response()),
        Err(err) if refused(&err) => {
            let page = edit_page(state, ctx, id, Some(web::refusal(&err))).await?;
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn assign(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<AssignForm>,
) -> PageResult {
    let role = {
        let mut conn = state.db.acquire().await?;
        load_role(&ctx, &mut conn, id).await?
    };
    let result = match Uuid::try_parse(form.user_id.trim()) {
        Err(_) => Err(AppError::field("member", "choose a member")),
        Ok(user_id) => {
            let mut tx = state.db.begin().await?;
            match service::assign(&ctx, &mut tx, user_id, AssignRole { role_id: role.id }).await {
                Ok(_) => {
                    tx.commit().await?;
                    Ok(())
                }
                Err(AppError::NotFound) => Err(AppError::field("member", "no such member")),
                Err(e) => Err(e),
            }
        }
    };
    after_member_change(&state, &ctx, role.id, result).await
}

async fn unassign(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, user_id): PathIds,
) -> PageResult {
    let role = {
        let mut conn = state.db.acquire().await?;
        load_role(&ctx, &mut conn, id).await?
    };
    let mut tx = state.db.begin().await?;
    let result = match service::unassign(&ctx, &mut tx, user_id, role.id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    };
    after_member_change(&state, &ctx, role.id, result).await
}
