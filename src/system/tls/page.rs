//! `/tls` and `/tls/ca.crt`: how to trust this server's certificate, public and over plain HTTP
//! too (a phone fetches the CA before it trusts it).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;
use crate::web::{self, Chrome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tls", get(page))
        .route("/tls/ca.crt", get(ca_certificate))
}

async fn ca_certificate(State(state): State<AppState>) -> Response {
    match state.tls.as_ref().and_then(|t| t.ca_pem()) {
        Some(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"logbook-ca.crt\"",
                ),
            ],
            pem,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "This server does not use its own certificate authority.\n",
        )
            .into_response(),
    }
}

/// What the page shows of the certificate being served.
struct Serving {
    fingerprint: String,
    /// The date, in UTC.
    not_after: Option<String>,
    names: String,
}

#[derive(Template)]
#[template(path = "tls/trust.html")]
struct TrustPage {
    chrome: Chrome,
    /// None: plain HTTP, nothing to install.
    serving: Option<Serving>,
    /// The CA's fingerprint, when the server makes its own certificates.
    ca_fingerprint: Option<String>,
}

async fn page(State(state): State<AppState>) -> Response {
    let (serving, ca_fingerprint) = match state.tls.as_deref() {
        None => (None, None),
        Some(tls) => {
            let info = tls.info();
            let own_ca = match (tls.ca_fingerprint(), tls.ca_pem(), info.source) {
                (Some(ca), Some(_), "generated") => Some(ca),
                _ => None,
            };
            let serving = Serving {
                fingerprint: info.fingerprint.clone(),
                not_after: info.not_after.map(|t| t.date_naive().to_string()),
                names: info.names.join(", "),
            };
            (Some(serving), own_ca)
        }
    };
    web::render(&TrustPage {
        chrome: Chrome::anonymous(),
        serving,
        ca_fingerprint,
    })
}
