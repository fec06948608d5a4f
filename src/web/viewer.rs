//! Who is looking at a page: the signed-in member (or a redirect to sign in, to change a
//! temporary password, or to enrol in two-factor), and the id in a page's path.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::{Ctx, SessionCtx};
use crate::error::AppError;
use crate::state::AppState;

use super::{login_redirect, page_error};

/// A signed-in member on a page. Not signed in: to the sign-in page (and back afterwards).
/// Still holding a temporary password: to the change-password page.
pub struct Viewer(pub Ctx);

/// Like `Viewer`, but also admits a member who must still change their password.
pub struct PendingViewer(pub Ctx);

impl FromRequestParts<AppState> for PendingViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match SessionCtx::from_request_parts(parts, state).await {
            Ok(SessionCtx(ctx)) => Ok(PendingViewer(ctx)),
            Err(AppError::Unauthorized(_)) => Err(login_redirect(parts)),
            Err(other) => Err(page_error(other)),
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let PendingViewer(ctx) = PendingViewer::from_request_parts(parts, state).await?;
        if ctx.must_change_password {
            return Err(Redirect::to("/account/password").into_response());
        }
        if ctx.two_factor_due {
            return Err(Redirect::to("/account/two-factor").into_response());
        }
        Ok(Viewer(ctx))
    }
}

/// The one id of a route's path (`/members/{id}`). A malformed one answers 404, exactly like a
/// missing row: a problem document under `/api/`, the error page elsewhere.
pub struct PathId(pub uuid::Uuid);

/// The two ids of a route's path (`/members/{id}/leaves/{leave}`), in the path's order; a
/// malformed one answers 404 like `PathId`.
pub struct PathIds(pub uuid::Uuid, pub uuid::Uuid);

fn not_found(parts: &Parts) -> Response {
    if parts.uri.path().starts_with("/api/") {
        AppError::NotFound.into_response()
    } else {
        page_error(AppError::NotFound)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let raw = axum::extract::Path::<String>::from_request_parts(parts, state).await;
        match raw.ok().and_then(|p| uuid::Uuid::try_parse(&p.0).ok()) {
            Some(id) => Ok(PathId(id)),
            None => Err(not_found(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let raw = axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await;
        let ids = raw.ok().and_then(|axum::extract::Path((a, b))| {
            Some((
                uuid::Uuid::try_parse(&a).ok()?,
                uuid::Uuid::try_parse(&b).ok()?,
            ))
        });
        match ids {
            Some((a, b)) => Ok(PathIds(a, b)),
            None => Err(not_found(parts)),
        }
    }
}
