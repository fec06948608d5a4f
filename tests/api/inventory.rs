//! Inventory: items and their numbers, checkouts (one at a time, even when a hundred officers
//! press at once), assignments, a pool that never goes below zero or past an allowance, the
//! history ("who had it on that day"), maintenance and the due-list, the daily overdue notices
//! (once a day), permissions, another department's items, and bad input that changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, answer) = app.post(token, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
    answer
}

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn radio(app: &TestApp, org: &Org, name: &str) -> Uuid {
    id_of(
        &created(
            app,
            &org.admin.token,
            "/api/v1/inventory/items",
            json!({"name": name}),
        )
        .await,
    )
}

fn due_in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

#[tokio::test]
async fn an_item_goes_out_comes_back_damaged_is_repaired_and_keeps_its_history() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-hist-ff", &[]).await;
    let category = created(
        &app,
        admin,
        "/api/v1/inventory/categories",
        json!({"name": "SCBA", "item_type": "ppe", "inspection_interval_days": 365,
               "requires_serial_number": true}),
    )
    .await;
    // A serial number is required in this category, and unique in the department.
    let (status, body) = app
        .post(
            admin,
            "/api/v1/inventory/items",
            json!({"name": "SCBA 14", "category_id": category["id"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["serial_number"]);
    let scba = created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "SCBA 14", "category_id": category["id"], "serial_number": "MSA-1400"}),
    )
    .await;
    assert!(
        scba["barcode"].as_str().unwrap().starts_with("INV-"),
        "{scba}"
    );
    assert_eq!(scba["status"], "available");
    assert_eq!(scba["inspection_cycle_days"], 365);
    let (status, body) = app
        .post(
            admin,
            "/api/v1/inventory/items",
            json!({"name": "SCBA 15", "category_id": category["id"], "serial_number": "MSA-1400"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["serial_number"]);
    let id = id_of(&scba);

    // Looked up by its serial number (a scanner reading the label).
    let (status, found) = app
        .get(admin, "/api/v1/inventory/lookup?code=MSA-1400")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], scba["id"]);

    // Out to the member until next week; a second checkout is refused naming the holder.
    let (status, out) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(7)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let other = app.member(&app.a, "inv-hist-other", &[]).await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": other.id, "expected_return_at": due_in_days(7)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("inv-hist-ff"),
        "{body}"
    );
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/assign"),
            json!({"user_id": other.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}"))
        .await;
    assert_eq!(item["status"], "checked_out");
    assert_eq!(item["holder"]["id"], member.id.to_string());

    // Back damaged: what is wrong must be said; then it is in maintenance, not on the shelf.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkin"),
            json!({"condition": "damaged"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["damage_notes"]);
    let (status, back) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkin"),
            json!({"condition": "damaged", "damage_notes": "Regulator leaks"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["return_condition"], "damaged");
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkin"),
            json!({"condition": "good"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}"))
        .await;
    assert_eq!(item["status"], "in_maintenance");
    assert_eq!(item["condition"], "damaged");
    assert!(item["holder"].is_null(), "{item}");
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": other.id, "expected_return_at": due_in_days(2)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("maintenance"),
        "{body}"
    );

    // Repaired and flow tested: back in service, next test a year on.
    let today = app.org_today(&app.a).await;
    let (status, record) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/maintenance"),
            json!({"maintenance_type": "flow_test", "performed_on": today, "passed": true,
                   "condition_after": "good", "vendor_name": "Breathing Air Co"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    let next = today + chrono::Days::new(365);
    assert_eq!(record["next_due_date"], next.to_string());
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}"))
        .await;
    assert_eq!(item["status"], "available");
    assert_eq!(item["next_inspection_due"], next.to_string());

    // Who had it, and who had it today.
    let (status, history) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["kind"], "checkout");
    assert_eq!(history[0]["user_id"], member.id.to_string());
    let (_, on) = app
        .get(
            admin,
            &format!("/api/v1/inventory/items/{id}/history?on={today}"),
        )
        .await;
    assert_eq!(on.as_array().unwrap().len(), 1, "{on}");
    let (_, before) = app
        .get(
            admin,
            &format!(
                "/api/v1/inventory/items/{id}/history?on={}",
                today - chrono::Days::new(1)
            ),
        )
        .await;
    assert_eq!(before, json!([]));
    for action in [
        "inventory.item_created",
        "inventory.checked_out",
        "inventory.checked_in",
        "inventory.maintenance_recorded",
    ] {
        assert_eq!(app.audit_actions(&app.a, action).await, 1, "{action}");
    }

    // The member sees what they held; the list finds it by serial and by status.
    let (status, held) = app
        .get(
            &member.token,
            &format!("/api/v1/inventory/members/{}/holdings?past=true", member.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["holdings"][0]["item_name"], "SCBA 14");
    let (_, list) = app.get(admin, "/api/v1/inventory/items?q=MSA-14").await;
    assert_eq!(list["total"], 1, "{list}");
    let (_, list) = app
        .get(admin, "/api/v1/inventory/items?status=checked_out")
        .await;
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test]
async fn a_hundred_officers_checking_out_one_radio_at_once_make_one_checkout() {
    let app = TestApp::spawn().await;
    let id = radio(&app, &app.a, "Portable radio 7").await;
    let member = app.member(&app.a, "inv-race-ff", &[]).await;
    let due = due_in_days(3);
    let presses = (0..100).map(|_| {
        let (app, due) = (&app, due.clone());
        let token = app.a.admin.token.clone();
        async move {
            app.post(
                &token,
                &format!("/api/v1/inventory/items/{id}/checkout"),
                json!({"user_id": member.id, "expected_return_at": due}),
            )
            .await
            .0
        }
    });
    let codes = futures_util::future::join_all(presses).await;
    let ok = codes.iter().filter(|c| **c == StatusCode::CREATED).count();
    let conflict = codes.iter().filter(|c| **c == StatusCode::CONFLICT).count();
    assert_eq!((ok, conflict), (1, 99), "{codes:?}");
    assert_eq!(
        app.count_rows_where(
            "inventory_checkouts",
            &format!("item_id = UNHEX('{}')", id.simple())
        )
        .await,
        1
    );
    assert_eq!(app.audit_actions(&app.a, "inventory.checked_out").await, 1);

    // Items made at once get numbers of their own.
    let makes = (0..10).map(|n| {
        let token = app.a.admin.token.clone();
        let app = &app;
        async move {
            app.post(
                &token,
                "/api/v1/inventory/items",
                json!({"name": format!("Pager {n}")}),
            )
            .await
        }
    });
    let mut barcodes: Vec<String> = futures_util::future::join_all(makes)
        .await
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["barcode"].as_str().unwrap().to_string()
        })
        .collect();
    barcodes.sort();
    barcodes.dedup();
    assert_eq!(barcodes.len(), 10, "{barcodes:?}");
}

#[tokio::test]
async fn a_pool_never_goes_below_zero_or_past_an_allowance_unless_an_officer_says_why() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-pool-ff", &[]).await;
    let hoods = created(
        &app,
        admin,
        "/api/v1/inventory/categories",
        json!({"name": "Hoods", "item_type": "ppe"}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &format!(
                "/api/v1/inventory/categories/{}/allowance",
                hoods["id"].as_str().unwrap()
            ),
            Some(json!({"max_quantity": 2, "period_type": "annual"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pool = created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Particulate hood", "category_id": hoods["id"], "tracking_type": "pool",
               "quantity": 5, "reorder_point": 2}),
    )
    .await;
    let id = id_of(&pool);
    let issue = |quantity: i64, reason: Option<&str>| {
        let token = admin.clone();
        let app = &app;
        let body = json!({"user_id": member.id, "quantity": quantity, "override_reason": reason});
        async move {
            app.post(&token, &format!("/api/v1/inventory/items/{id}/issue"), body)
                .await
        }
    };
    let (status, first) = issue(2, None).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, body) = issue(1, None).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["quantity"]);
    assert!(body.to_string().contains("allowance of 2 Hoods"), "{body}");
    let (status, over) = issue(1, Some("Hood burned at the Main St fire")).await;
    assert_eq!(status, StatusCode::CREATED, "{over}");
    assert_eq!(app.audit_actions(&app.a, "inventory.issued").await, 2);
    // Past the shelf: two are left.
    let (status, body) = issue(3, Some("Whole crew")).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.to_string().contains("at most 2"), "{body}");
    let (status, body) = issue(-1, None).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["quantity"]);
    // Twenty presses for the last two units: two get one each.
    let presses = (0..20).map(|_| issue(1, Some("Crew at the door")));
    let codes: Vec<StatusCode> = futures_util::future::join_all(presses)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == StatusCode::CREATED).count(),
        2,
        "{codes:?}"
    );
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}"))
        .await;
    assert_eq!(
        (
            item["quantity_issued"].as_u64(),
            item["quantity_available"].as_u64()
        ),
        (Some(5), Some(0))
    );
    // Back on the shelf: the first two return in good order; returned twice is refused.
    let issuance = first["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/issuances/{issuance}/return"),
            json!({"condition": "good"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/issuances/{issuance}/return"),
            json!({"condition": "good"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{id}"))
        .await;
    assert_eq!(item["quantity_available"], 2);
    // An item of its own is not issued, and a pool is not checked out.
    let single = radio(&app, &app.a, "Radio 9").await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{single}/issue"),
            json!({"user_id": member.id, "quantity": 1}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(1)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

#[tokio::test]
async fn members_see_and_extend_their_own_and_only_quartermasters_move_equipment() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-perm-ff", &[]).await;
    let other = app.member(&app.a, "inv-perm-other", &[]).await;
    let qm = app.member(&app.a, "inv-perm-qm", &["quartermaster"]).await;
    let id = radio(&app, &app.a, "Radio 3").await;

    // A member reads the list but changes nothing.
    let (status, _) = app.get(&member.token, "/api/v1/inventory/items").await;
    assert_eq!(status, StatusCode::OK);
    for (path, body) in [
        (
            "/api/v1/inventory/items".to_string(),
            json!({"name": "Mine now"}),
        ),
        (
            "/api/v1/inventory/categories".to_string(),
            json!({"name": "Mine", "item_type": "tool"}),
        ),
        (
            format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(1)}),
        ),
        (
            format!("/api/v1/inventory/items/{id}/assign"),
            json!({"user_id": member.id}),
        ),
    ] {
        let (status, body) = app.post(&member.token, &path, body).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    // The quartermaster may.
    let (status, body) = app
        .post(
            &qm.token,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The holder moves the due date; another member may not, nor see what the holder has.
    let later = due_in_days(5);
    let (status, body) = app
        .post(
            &member.token,
            &format!("/api/v1/inventory/items/{id}/extend"),
            json!({"expected_return_at": later}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &other.token,
            &format!("/api/v1/inventory/items/{id}/extend"),
            json!({"expected_return_at": due_in_days(9)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(
            &other.token,
            &format!("/api/v1/inventory/members/{}/holdings", member.id),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(&other.token, "/api/v1/inventory/checkouts?overdue=true")
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, mine) = app
        .get(
            &member.token,
            &format!("/api/v1/inventory/members/{}/holdings", member.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["holdings"].as_array().unwrap().len(), 1);
    // Gone members get nothing.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/members/{}/status", other.id),
            json!({"status": "retired", "reason": "Moved away"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let spare = radio(&app, &app.a, "Radio 4").await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{spare}/assign"),
            json!({"user_id": other.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["user_id"]);
}

#[tokio::test]
async fn another_departments_equipment_is_not_found_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let a = &app.a.admin.token;
    let b = &app.b.admin.token;
    let id = radio(&app, &app.a, "Alpha radio").await;
    let (_, item) = app.get(a, &format!("/api/v1/inventory/items/{id}")).await;
    let barcode = item["barcode"].as_str().unwrap().to_string();
    let b_member = app.member(&app.b, "inv-iso-bravo", &[]).await;
    radio(&app, &app.b, "Bravo radio").await;

    let (status, list) = app.get(b, "/api/v1/inventory/items").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1, "{list}");
    assert!(!list.to_string().contains("Alpha"), "{list}");
    let (status, body) = app
        .get(b, &format!("/api/v1/inventory/lookup?code={barcode}"))
        .await;
    // Numbers are per department: Bravo's first item is INV-000001 too, and Bravo finds its
    // own, never Alpha's.
    assert_eq!(barcode, "INV-000001");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Bravo radio");
    // A serial only Alpha has is no code of Bravo's.
    created(
        &app,
        a,
        "/api/v1/inventory/items",
        json!({"name": "Alpha pager", "serial_number": "ALPHA-ONLY-1"}),
    )
    .await;
    let (status, body) = app
        .get(b, "/api/v1/inventory/lookup?code=ALPHA-ONLY-1")
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app.get(b, &format!("/api/v1/inventory/items/{id}")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(
            b,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": b_member.id, "expected_return_at": due_in_days(1)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    // Alpha cannot give its radio to Bravo's member.
    let (status, body) = app
        .post(
            a,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": b_member.id, "expected_return_at": due_in_days(1)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["user_id"]);

    // Bad input: an unknown code, a return before the checkout, a negative stock, words
    // that are not words; nothing is written.
    let (status, body) = app
        .get(a, "/api/v1/inventory/lookup?code=NO-SUCH-TAG")
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["code"]);
    let member = app.member(&app.a, "inv-bad-ff", &[]).await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            a,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(-1)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["expected_return_at"]);
    let (status, body) = app
        .post(
            a,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "due_date": "2020-02-02"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["due_date"]);
    for body in [
        json!({"name": "Gloves", "tracking_type": "pool", "quantity": -4}),
        json!({"name": "Radio", "quantity": 2}),
        json!({"name": "Radio", "condition": "shiny"}),
        json!({"name": "", "purchase_price": -5}),
        json!({"name": "Radio", "barcode": "has space"}),
        json!({"name": "Radio", "category_id": Uuid::now_v7()}),
    ] {
        let (status, answer) = app.post(a, "/api/v1/inventory/items", body.clone()).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!error_fields(&answer).is_empty(), "{body}: {answer}");
    }
    let (status, body) = app
        .post(
            a,
            &format!("/api/v1/inventory/items/{id}/maintenance"),
            json!({"maintenance_type": "polishing", "performed_on": "2999-01-01"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&body),
        ["maintenance_type", "performed_on"],
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            a,
            "/api/v1/inventory/items",
            Some(json!({"name": "Radio", "colour": "red"})),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn overdue_checkouts_are_told_once_a_day_and_show_on_the_dashboard() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-late-ff", &[]).await;
    let id = radio(&app, &app.a, "Thermal camera").await;
    let (status, out) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{id}/checkout"),
            json!({"user_id": member.id, "expected_return_at": due_in_days(2)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    // Two days late.
    sqlx::query(
        "UPDATE inventory_checkouts SET checked_out_at = UTC_TIMESTAMP(6) - INTERVAL 5 DAY,
                expected_return_at = UTC_TIMESTAMP(6) - INTERVAL 2 DAY WHERE item_id = ?",
    )
    .bind(id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let told = |user: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE '%overdue%'",
            )
            .bind(user)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    app.run_job(&app.a, "inventory_daily").await;
    assert_eq!(told(member.id).await, 1);
    assert_eq!(told(app.a.admin.id).await, 1);
    // Again the same day (a restart, a second press): nothing more.
    app.run_job(&app.a, "inventory_daily").await;
    assert_eq!(told(member.id).await, 1);
    assert_eq!(told(app.a.admin.id).await, 1);
    // Another department's job tells nobody here.
    app.run_job(&app.b, "inventory_daily").await;
    assert_eq!(told(member.id).await, 1);

    let (status, overdue) = app
        .get(admin, "/api/v1/inventory/checkouts?overdue=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
    let admin_cookie = access_cookie(&app.a.admin);
    let (status, _, page) = app.page_get("/", &admin_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Out and overdue (1)"), "{page}");
    assert!(page.contains("Thermal camera"));
    let (status, _, page) = app.page_get("/", &access_cookie(&member)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Equipment overdue with you"), "{page}");
}

#[tokio::test]
async fn the_due_list_has_inspections_and_service_lives_by_the_end_of_the_month() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let today = app.org_today(&app.a).await;
    let turnouts = created(
        &app,
        admin,
        "/api/v1/inventory/categories",
        json!({"name": "Turnout gear", "item_type": "ppe", "inspection_interval_days": 365,
               "retire_after_years": 10}),
    )
    .await;
    // Made ten years ago today: its life ends today.
    let made = chrono::NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&today) - 10,
        chrono::Datelike::month(&today),
        chrono::Datelike::day(&today).min(28),
    )
    .unwrap();
    let old = created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Coat 12", "category_id": turnouts["id"], "manufactured_date": made}),
    )
    .await;
    let due_soon = created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Coat 30", "category_id": turnouts["id"], "next_inspection_due": today}),
    )
    .await;
    created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Coat 31", "category_id": turnouts["id"],
               "next_inspection_due": today + chrono::Days::new(400)}),
    )
    .await;
    let (status, due) = app.get(admin, "/api/v1/inventory/due").await;
    assert_eq!(status, StatusCode::OK, "{due}");
    let lines: Vec<(String, String)> = due["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_string(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("Coat 12".into(), "retirement".into())),
        "{due}"
    );
    assert!(
        lines.contains(&("Coat 30".into(), "inspection".into())),
        "{due}"
    );
    assert!(!lines.iter().any(|(n, _)| n == "Coat 31"), "{due}");
    assert_eq!(
        old["retire_on"],
        (made + chrono::Months::new(120)).to_string()
    );
    // Inspected today: due a year on, off this month's list.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{}/maintenance", due_soon["id"].as_str().unwrap()),
            json!({"maintenance_type": "advanced_inspection", "performed_on": today, "passed": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, due) = app.get(admin, "/api/v1/inventory/due").await;
    assert!(!due.to_string().contains("Coat 30"), "{due}");
    let (status, body) = app
        .get(admin, "/api/v1/inventory/due?through=3000-01-01")
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    // The first of the month: the quartermasters get the list once.
    let monthly = || {
        let pool = app.db.pool.clone();
        let admin = app.a.admin.id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ?
                   AND subject LIKE 'Equipment due through%'",
            )
            .bind(admin)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    app.run_job(&app.a, "inventory_due_monthly").await;
    app.run_job(&app.a, "inventory_due_monthly").await;
    assert_eq!(monthly().await, 1);
    // Items worth 5,000 or more, for a grant closeout.
    created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Hydraulic spreader", "replacement_cost": 9800}),
    )
    .await;
    created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Flashlight", "purchase_price": 40}),
    )
    .await;
    let (status, grant) = app
        .get(admin, "/api/v1/inventory/items?min_value=5000")
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["total"], 1, "{grant}");
    assert_eq!(grant["items"][0]["name"], "Hydraulic spreader");
    let (status, body) = app.get(admin, "/api/v1/inventory/items?min_value=-1").await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    // A page far past the end is empty, not an overflow.
    let (status, body) = app
        .get(admin, "/api/v1/inventory/items?page=2147483648")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!([]));
    // Another department's due-list is its own.
    let (_, theirs) = app.get(&app.b.admin.token, "/api/v1/inventory/due").await;
    assert_eq!(theirs["items"], json!([]));
}

#[tokio::test]
async fn the_pages_check_out_and_in_with_errors_beside_the_fields() {
    let app = TestApp::spawn().await;
    let cookie = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "inv-page-ff", &[]).await;
    let id = radio(&app, &app.a, "Radio 21").await;
    let (status, _, page) = app.page_get("/inventory", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Radio 21"), "{page}");
    let (_, item) = app
        .get(&app.a.admin.token, &format!("/api/v1/inventory/items/{id}"))
        .await;
    let barcode = item["barcode"].as_str().unwrap();
    // A scanned code opens the item; an unknown one says so beside the box.
    let (status, location, _) = app
        .page_get(&format!("/inventory/lookup?code={barcode}"), &cookie)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/inventory/items/{id}"));
    let (status, _, page) = app.page_get("/inventory/lookup?code=NOPE-1", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("id=\"code-error\""), "{page}");
    assert!(page.contains("NOPE-1"));
    // Check out with no member chosen and a past date: both said beside their fields.
    let path = format!("/inventory/items/{id}/checkout");
    let (status, _, page) = app
        .page_post(&path, &cookie, &[("user_id", ""), ("due", "2020-01-01")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"checkout-user-error\""), "{page}");
    assert!(page.contains("id=\"checkout-due-error\""), "{page}");
    assert_eq!(app.audit_actions(&app.a, "inventory.checked_out").await, 0);
    let due = (app.org_today(&app.a).await + chrono::Days::new(3)).to_string();
    let member_id = member.id.to_string();
    let (status, location, _) = app
        .page_post(&path, &cookie, &[("user_id", &member_id), ("due", &due)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/inventory/items/{id}?done=checkout"));
    let (_, _, page) = app.page_get(&location, &cookie).await;
    assert!(page.contains("Checked out to"), "{page}");
    // A second checkout from a stale page: refused, naming the holder.
    let (status, _, page) = app
        .page_post(&path, &cookie, &[("user_id", &member_id), ("due", &due)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("is checked out to"), "{page}");
    // Checked in damaged without saying what is wrong, then with.
    let path = format!("/inventory/items/{id}/checkin");
    let (status, _, page) = app
        .page_post(
            &path,
            &cookie,
            &[("condition", "damaged"), ("damage_notes", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"back-notes-error\""), "{page}");
    let (status, location, _) = app
        .page_post(
            &path,
            &cookie,
            &[
                ("condition", "damaged"),
                ("damage_notes", "Cracked antenna"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, _, page) = app
        .page_get(&format!("/inventory/items/{id}"), &cookie)
        .await;
    assert!(page.contains("In maintenance"), "{page}");
    assert!(page.contains("Cracked antenna"), "{page}");
    // The member's own page, the due-list, the labels, and another department's item.
    let (status, _, page) = app
        .page_get("/inventory/mine", &access_cookie(&member))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Radio 21"), "{page}");
    let (status, _, _) = app.page_get("/inventory/due", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, page) = app.page_get("/inventory/labels", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg"), "{page}");
    let bravo = app.page_sign_in("bravo-admin", PASSWORD).await;
    let (status, _, _) = app
        .page_get(&format!("/inventory/items/{id}"), &bravo)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A member may look but not add.
    let (status, _, _) = app
        .page_get("/inventory/items/new", &access_cookie(&member))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_member_who_retires_gets_a_clearance_that_runs_the_real_returns_and_closes_itself() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-leave-ff", &[]).await;
    // A pager assigned, a radio checked out, two hoods issued.
    let pager = radio(&app, &app.a, "Pager 5").await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{pager}/assign"),
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let portable = radio(&app, &app.a, "Portable 12").await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{portable}/checkout"),
            json!({"user_id": member.id, "due_date": app.org_today(&app.a).await}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let hoods = id_of(
        &created(
            &app,
            admin,
            "/api/v1/inventory/items",
            json!({"name": "Hood", "tracking_type": "pool", "quantity": 10}),
        )
        .await,
    );
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{hoods}/issue"),
            json!({"user_id": member.id, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Retired: a clearance lists the three, and a second by hand is refused.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/members/{}/status", member.id),
            json!({"status": "retired", "reason": "Thirty years of service"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, open) = app
        .get(admin, "/api/v1/inventory/clearances?open=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let clearance = &open[0];
    assert_eq!(clearance["departure_type"], "retired");
    assert_eq!(clearance["items_outstanding"], 3);
    let id = clearance["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            admin,
            "/api/v1/inventory/clearances",
            json!({"user_id": member.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let line = |name: &str| {
        clearance["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["item_name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let resolve = |line: String, body: Value| {
        let (token, id) = (admin.clone(), id.clone());
        let app = &app;
        async move {
            app.post(
                &token,
                &format!("/api/v1/inventory/clearances/{id}/lines/{line}/resolve"),
                body,
            )
            .await
        }
    };
    // Written off needs a reason; the radio comes back damaged (its real check-in runs).
    let (status, body) = resolve(line("Pager 5"), json!({"disposition": "written_off"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["notes"]);
    let (status, body) = resolve(
        line("Portable 12"),
        json!({"disposition": "returned_damaged", "notes": "Cracked case"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "in_progress");
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{portable}"))
        .await;
    assert_eq!(item["status"], "in_maintenance");
    assert_eq!(app.audit_actions(&app.a, "inventory.checked_in").await, 1);
    // Resolved twice at once: one wins.
    let presses = (0..5).map(|_| resolve(line("Hood"), json!({"disposition": "returned"})));
    let codes: Vec<StatusCode> = futures_util::future::join_all(presses)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == StatusCode::OK).count(),
        1,
        "{codes:?}"
    );
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{hoods}"))
        .await;
    assert_eq!(item["quantity_available"], 10);
    // The last line, written off: the pager is lost, and the clearance completes itself.
    let (status, body) = resolve(
        line("Pager 5"),
        json!({"disposition": "written_off", "notes": "Not found at home"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["items_outstanding"], 0);
    let (_, item) = app
        .get(admin, &format!("/api/v1/inventory/items/{pager}"))
        .await;
    assert_eq!(item["status"], "lost");
    assert!(item["holder"].is_null(), "{item}");
    let (_, held) = app
        .get(
            admin,
            &format!("/api/v1/inventory/members/{}/holdings", member.id),
        )
        .await;
    assert_eq!(held["holdings"], json!([]));
    assert_eq!(
        app.audit_actions(&app.a, "inventory.clearance_line_resolved")
            .await,
        3
    );
    // A member with nothing left has nothing to clear; another department sees nothing.
    let (status, body) = app
        .post(
            admin,
            "/api/v1/inventory/clearances",
            json!({"user_id": member.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app
        .get(
            &app.b.admin.token,
            &format!("/api/v1/inventory/clearances/{id}"),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (_, theirs) = app
        .get(&app.b.admin.token, "/api/v1/inventory/clearances")
        .await;
    assert_eq!(theirs, json!([]));
    let plain = app.member(&app.a, "inv-leave-plain", &[]).await;
    let (status, body) = app.get(&plain.token, "/api/v1/inventory/clearances").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_clearance_still_open_after_30_days_reminds_once_and_can_be_closed_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "inv-remind-ff", &[]).await;
    let pager = radio(&app, &app.a, "Pager 8").await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/items/{pager}/assign"),
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, started) = app
        .post(
            admin,
            "/api/v1/inventory/clearances",
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    sqlx::query(
        "UPDATE departure_clearances SET initiated_at = UTC_TIMESTAMP(6) - INTERVAL 31 DAY
          WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let reminded = || {
        let pool = app.db.pool.clone();
        let member = member.id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ?
                   AND subject = 'Department equipment to return'",
            )
            .bind(member)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    app.run_job(&app.a, "inventory_daily").await;
    app.run_job(&app.a, "inventory_daily").await;
    assert_eq!(reminded().await, 1);
    // Closed with the pager still out: a reason is needed.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/clearances/{id}/close"),
            json!({"reason": " "}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["reason"]);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/inventory/clearances/{id}/close"),
            json!({"reason": "Moved out of state; billed by the township"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "closed_incomplete");
    // Closed: no more reminders, and a new clearance may start.
    app.run_job(&app.a, "inventory_daily").await;
    assert_eq!(reminded().await, 1);
    let (status, body) = app
        .post(
            admin,
            "/api/v1/inventory/clearances",
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_clearance_pages_resolve_a_line_with_the_error_beside_it() {
    let app = TestApp::spawn().await;
    let cookie = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "inv-cpage-ff", &[]).await;
    let pager = radio(&app, &app.a, "Pager 41").await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/inventory/items/{pager}/assign"),
            json!({"user_id": member.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Started from the page with no member chosen: said beside the field.
    let (status, _, page) = app
        .page_post("/inventory/clearances", &cookie, &[("user_id", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"user_id-error\""), "{page}");
    let member_id = member.id.to_string();
    let (status, location, _) = app
        .page_post("/inventory/clearances", &cookie, &[("user_id", &member_id)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.ends_with("?done=started"), "{location}");
    let clearance = location.trim_end_matches("?done=started").to_string();
    let (status, _, page) = app.page_get(&clearance, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Pager 41"), "{page}");
    let (_, open) = app
        .get(&app.a.admin.token, "/api/v1/inventory/clearances?open=true")
        .await;
    let line = open[0]["lines"][0]["id"].as_str().unwrap().to_string();
    // Waived without a reason: the error beside the line's notes; then with one, completed.
    let path = format!("{clearance}/lines/{line}");
    let (status, _, page) = app
        .page_post(&path, &cookie, &[("disposition", "waived"), ("notes", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(&format!("id=\"notes-{line}-error\"")),
        "{page}"
    );
    let (status, location, _) = app
        .page_post(
            &path,
            &cookie,
            &[("disposition", "waived"), ("notes", "Kept as a memento")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, _, page) = app.page_get(&clearance, &cookie).await;
    assert!(page.contains("Completed"), "{page}");
    assert!(page.contains("Kept as a memento"), "{page}");
    // A member without inventory.manage cannot open it.
    let (status, _, _) = app.page_get(&clearance, &access_cookie(&member)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_spreadsheet_is_previewed_then_imported_all_rows_or_none() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    created(
        &app,
        admin,
        "/api/v1/inventory/categories",
        json!({"name": "Radios", "item_type": "electronics"}),
    )
    .await;
    created(
        &app,
        admin,
        "/api/v1/inventory/items",
        json!({"name": "Old radio", "serial_number": "XTS-0009"}),
    )
    .await;
    let import = |csv: &str, dry_run: bool| {
        let (app, token, csv) = (&app, admin.clone(), csv.to_string());
        async move {
            let res = app
                .send(
                    app.client
                        .post(app.url(&format!("/api/v1/inventory/items/import?dry_run={dry_run}")))
                        .bearer_auth(token)
                        .header("content-type", "text/csv")
                        .body(csv),
                )
                .await;
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let bad = "Name,Category,Serial Number,Tracking Type,Quantity\r\n\
               Radio 1,Radios,XTS-0001,,\r\n\
               Radio 2,Pagers,XTS-0001,,\r\n\
               Radio 3,Radios,XTS-0009,,\r\n\
               Gloves,,,pool,-3\r\n";
    let (status, report) = import(bad, true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let problems: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(problems.contains(&(3, "category".into())), "{report}");
    assert!(problems.contains(&(3, "serial_number".into())), "{report}");
    assert!(problems.contains(&(4, "serial_number".into())), "{report}");
    assert!(problems.contains(&(5, "quantity".into())), "{report}");
    let before = app.snapshot(&app.a).await;
    let (status, report) = import(bad, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(app.snapshot(&app.a).await, before);

    let good = "name,category,serial_number,tracking_type,quantity,replacement_cost\r\n\
                Radio 1,radios,XTS-0001,,,950.00\r\n\
                Radio 2,Radios,XTS-0002,,,\r\n\
                Structural gloves,,,pool,40,\r\n";
    let (status, report) = import(good, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    let (_, list) = app.get(admin, "/api/v1/inventory/items?q=Radio").await;
    assert_eq!(list["total"], 3, "{list}");
    let (_, gloves) = app.get(admin, "/api/v1/inventory/items?q=gloves").await;
    assert_eq!(gloves["items"][0]["quantity"], 40);
    assert_eq!(app.audit_actions(&app.a, "inventory.item_created").await, 4);
    // A member may not import; the page previews with the errors listed.
    let member = app.member(&app.a, "inv-import-ff", &[]).await;
    let res = app
        .send(
            app.client
                .post(app.url("/api/v1/inventory/items/import"))
                .bearer_auth(&member.token)
                .header("content-type", "text/csv")
                .body("name\r\nRadio 9\r\n"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let cookie = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, page) = app
        .page_post(
            "/inventory/import",
            &cookie,
            &[("csv", "name,serial_number\r\nRadio 7,XTS-0001\r\n")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Nothing was imported"), "{page}");
    assert!(page.contains("XTS-0001"), "{page}");
}
