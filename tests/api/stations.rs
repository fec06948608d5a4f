//! Stations and apparatus after setup: add, edit, retire and bring back; the wizard's rules;
//! who may change them, in which department; bad input; parallel presses.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

async fn station(app: &TestApp, org: &Org, name: &str) -> Uuid {
    let (status, body) = app
        .post(&org.admin.token, "/api/v1/stations", json!({"name": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn vehicle(app: &TestApp, org: &Org, body: Value) -> (StatusCode, Value) {
    app.post(&org.admin.token, "/api/v1/apparatus", body).await
}

#[tokio::test]
async fn stations_and_vehicles_are_kept_up_retired_and_brought_back() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let (status, created) = app
        .post(
            admin,
            "/api/v1/stations",
            json!({"name": "Main Street", "station_number": "21", "address_line1": "1 Main St",
                   "city": "Maple Grove", "state": "MN", "postal_code": "55311"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let main: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(created["active"], true);
    assert_eq!(created["vehicles"], 0);

    // A vehicle takes its type's usual seats and crew when none are given.
    let (status, engine) = vehicle(
        &app,
        &app.a,
        json!({"unit_number": "E21", "apparatus_type": "engine", "station_id": main}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{engine}");
    assert_eq!(
        engine["positions"],
        json!(["Officer", "Driver", "Firefighter", "Firefighter"])
    );
    assert_eq!(engine["min_staffing"], 3);
    assert_eq!(engine["station_name"], "Main Street");
    let engine_id = engine["id"].as_str().unwrap().to_string();

    // Edited: the audit keeps before and after.
    let (status, edited) = app
        .call(
            reqwest::Method::PUT,
            admin,
            &format!("/api/v1/apparatus/{engine_id}"),
            Some(
                json!({"unit_number": "E21", "name": "Pumper", "apparatus_type": "engine",
                        "min_staffing": 4, "positions": ["Captain", "Driver", "Nozzle", "Backup"],
                        "station_id": main}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["positions"][0], "Captain");
    assert_eq!(app.audit_actions(&app.a, "apparatus.updated").await, 1);

    // A station with a vehicle in service is not retired; its vehicle retired first, it is.
    let (status, problem) = app
        .post(admin, &format!("/api/v1/stations/{main}/retire"), json!({}))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap().contains("1 vehicle is"),
        "{problem}"
    );
    let (status, retired) = app
        .post(
            admin,
            &format!("/api/v1/apparatus/{engine_id}/retire"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["active"], false);
    let (status, body) = app
        .post(admin, &format!("/api/v1/stations/{main}/retire"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = app
        .post(admin, &format!("/api/v1/stations/{main}/retire"), json!({}))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    // A retired station takes no vehicle; the vehicle comes back without it.
    let (status, problem) = vehicle(
        &app,
        &app.a,
        json!({"unit_number": "T2", "apparatus_type": "tanker", "station_id": main}),
    )
    .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["station_id"]);
    let (status, back) = app
        .post(
            admin,
            &format!("/api/v1/apparatus/{engine_id}/reactivate"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["station_id"], Value::Null);
    let (_, list) = app.get(admin, "/api/v1/stations").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Main Street"),
        "retired stations are listed: {list}"
    );
    for action in [
        "location.created",
        "location.retired",
        "apparatus.created",
        "apparatus.retired",
        "apparatus.reactivated",
    ] {
        assert_eq!(app.audit_actions(&app.a, action).await, 1, "{action}");
    }
}

#[tokio::test]
async fn members_read_the_lists_only_settings_managers_change_them() {
    let app = TestApp::spawn().await;
    let id = station(&app, &app.a, "Read-only station").await;
    let plain = app.member(&app.a, "plain-stations", &[]).await;
    let (status, list) = app.get(&plain.token, "/api/v1/stations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = app.get(&plain.token, "/api/v1/apparatus").await;
    assert_eq!(status, StatusCode::OK);
    let before = app.audit_count(&app.a).await;
    for (path, body) in [
        ("/api/v1/stations".to_string(), json!({"name": "Sneaky"})),
        (format!("/api/v1/stations/{id}/retire"), json!({})),
        (
            "/api/v1/apparatus".to_string(),
            json!({"unit_number": "X1", "apparatus_type": "other"}),
        ),
    ] {
        let (status, problem) = app.post(&plain.token, &path, body).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN);
    }
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &plain.token,
            &format!("/api/v1/stations/{id}"),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_count(&app.a).await, before);

    // Pages: the list for everyone, the forms for managers only.
    let cookie = access_cookie(&plain);
    let (status, _, html) = app.page_get("/settings/stations", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Read-only station"), "{html}");
    assert!(!html.contains("Add a station"), "{html}");
    let (status, _, _) = app
        .page_get(&format!("/settings/stations/{id}"), &cookie)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_department_neither_sees_nor_uses_a_station() {
    let app = TestApp::spawn().await;
    let a_station = station(&app, &app.a, "Alpha house").await;
    let b = &app.b.admin.token;
    let (_, list) = app.get(b, "/api/v1/stations").await;
    assert!(
        !list.to_string().contains("Alpha house"),
        "B lists A's station: {list}"
    );
    // B's vehicle cannot be placed at A's station: not one of B's stations.
    let (status, problem) = vehicle(
        &app,
        &app.b,
        json!({"unit_number": "B1", "apparatus_type": "engine", "station_id": a_station}),
    )
    .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["station_id"]);
    assert_eq!(
        app.count_rows_where(
            "basic_apparatus",
            &format!("organization_id = UNHEX('{}')", app.b.id.simple())
        )
        .await,
        0
    );
    // Names are per department.
    station(&app, &app.b, "Alpha house").await;
    let (_, _, html) = app
        .page_get("/settings/stations", &access_cookie(&app.b.admin))
        .await;
    assert!(!html.contains(&a_station.to_string()), "{html}");
}

#[tokio::test]
async fn bad_input_is_named_beside_its_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let home = station(&app, &app.a, "Bad input station").await;
    let before = app.audit_count(&app.a).await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (
            json!({"name": "Ok", "station_number": "1".repeat(21)}),
            "station_number",
        ),
        (json!({"name": "Bad input station"}), "name"),
    ] {
        let (status, problem) = app.post(admin, "/api/v1/stations", body.clone()).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    let (status, _) = app
        .post(
            admin,
            "/api/v1/stations",
            json!({"name": "Ok", "color": "red"}),
        )
        .await;
    assert!(status.is_client_error());
    for (body, field) in [
        (
            json!({"unit_number": "", "apparatus_type": "engine"}),
            "unit_number",
        ),
        (
            json!({"unit_number": "E9", "apparatus_type": "spaceship"}),
            "apparatus_type",
        ),
        (
            json!({"unit_number": "E9", "apparatus_type": "engine", "min_staffing": 0}),
            "min_staffing",
        ),
        (
            json!({"unit_number": "E9", "apparatus_type": "engine", "min_staffing": 21}),
            "min_staffing",
        ),
        (
            json!({"unit_number": "E9", "apparatus_type": "engine", "positions": ["x".repeat(51)]}),
            "positions",
        ),
        (
            json!({"unit_number": "E9", "apparatus_type": "engine", "station_id": Uuid::new_v4()}),
            "station_id",
        ),
    ] {
        let (status, problem) = vehicle(&app, &app.a, body.clone()).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    assert_eq!(app.audit_count(&app.a).await, before);

    // On the page: beside the field, with what was typed kept.
    let cookie = access_cookie(&app.a.admin);
    let (status, _, html) = app
        .page_post(
            "/settings/apparatus/new",
            &cookie,
            &[
                ("unit_number", "E9"),
                ("apparatus_type", "engine"),
                ("min_staffing", "lots"),
                ("station_id", &home.to_string()),
                ("positions", "Officer\nDriver"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="min_staffing-error""#), "{html}");
    assert!(html.contains("Least crew must be a whole number"), "{html}");
    assert!(html.contains("Officer\nDriver"), "{html}");
    let (status, _, html) = app
        .page_post("/settings/stations/new", &cookie, &[("name", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="name-error""#), "{html}");
    assert_eq!(app.audit_count(&app.a).await, before);
}

#[tokio::test]
async fn parallel_presses_make_one_station_and_never_strand_a_vehicle() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    // A double tap on "Save the station": one is made, the other is told the name is taken.
    let tries =
        (0..4).map(|_| app.post(&admin, "/api/v1/stations", json!({"name": "Twice tapped"})));
    let answers = futures_util::future::join_all(tries).await;
    let made = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(made, 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {body}"
        );
    }

    // One officer retires a station while another moves a vehicle there: either the vehicle
    // lands first and the retirement is refused, or the station retires first and the move is
    // refused; never a vehicle at a retired station.
    for round in 0..4 {
        let target = station(&app, &app.a, &format!("Contested {round}")).await;
        let (status, v) = vehicle(
            &app,
            &app.a,
            json!({"unit_number": format!("C{round}"), "apparatus_type": "brush"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let vid = v["id"].as_str().unwrap().to_string();
        let retire_path = format!("/api/v1/stations/{target}/retire");
        let retire = app.post(&admin, &retire_path, json!({}));
        let body = json!({"unit_number": format!("C{round}"), "apparatus_type": "brush",
                          "station_id": target});
        let path = format!("/api/v1/apparatus/{vid}");
        let moving = app.call(reqwest::Method::PUT, &admin, &path, Some(body));
        let ((r_status, r_body), (m_status, m_body)) = tokio::join!(retire, moving);
        let stranded: i64 = app
            .count_rows_where(
                "basic_apparatus",
                &format!(
                    "is_active AND location_id = UNHEX('{}') AND EXISTS (SELECT 1 FROM locations l
                       WHERE l.id = basic_apparatus.location_id AND NOT l.active)",
                    target.simple()
                ),
            )
            .await;
        assert_eq!(stranded, 0, "{r_status} {r_body} / {m_status} {m_body}");
        assert!(
            r_status.is_success() != m_status.is_success(),
            "exactly one wins: {r_status} {r_body} / {m_status} {m_body}"
        );
    }
}
