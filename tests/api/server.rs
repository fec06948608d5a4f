//! The server itself: health, OpenAPI, configuration.

use crate::harness::*;
use reqwest::StatusCode;

#[tokio::test]
async fn health_passes_with_database() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["database"]["status"], "pass");
}
