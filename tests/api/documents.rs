//! Documents: the system folders, who sees which folder (a member never sees leadership's files,
//! even by guessing an id), uploads typed by their bytes and streamed to disk (too big, a
//! program called a PDF, a name that climbs out, an upload cut off: nothing is kept), versions,
//! archive and delete with two officers at once, search by name and tag, a backup and restore
//! that bring the files back byte for byte, permissions, other departments and bad input.

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::events::at_once;
use crate::harness::*;

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

fn id(v: &Value) -> Uuid {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .parse()
        .unwrap()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends a file as the request body to `path` (a folder's or a document's upload).
pub async fn send_file(
    app: &TestApp,
    token: &str,
    path: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

/// Uploads `bytes` as `name` into `folder`.
pub async fn upload(
    app: &TestApp,
    token: &str,
    folder: Uuid,
    name: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    send_file(
        app,
        token,
        &format!(
            "/api/v1/documents/folders/{folder}/documents?name={}",
            urlencode(name)
        ),
        bytes.to_vec(),
    )
    .await
}

/// The department's folders as the caller sees them, by system key or name.
pub async fn folder(app: &TestApp, token: &str, key_or_name: &str) -> Option<Uuid> {
    let (status, list) = app.get(token, "/api/v1/documents/folders").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|f| f["system_key"] == key_or_name || f["name"] == key_or_name)
        .map(id)
}

async fn download(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The files under the department's documents directory (temporary ones included).
fn stored_files(app: &TestApp, org: &Org) -> Vec<PathBuf> {
    let dir = app
        .data_dir
        .join("documents")
        .join(org.id.simple().to_string());
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(r) => r.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[tokio::test]
async fn a_member_sees_only_the_folders_meant_for_them_even_by_guessing_ids() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "doc-member", &[]).await;
    let trainer = app
        .member(&app.a, "doc-trainer", &["training_officer"])
        .await;

    // Every department has the system folders; a member sees all but Reports.
    let (status, all) = app.get(admin, "/api/v1/documents/folders").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let keys: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["system_key"].as_str())
        .collect();
    assert_eq!(keys.len(), 7, "{all}");
    for k in [
        "sops", "policies", "forms", "training", "minutes", "reports", "general",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert!(folder(&app, &member.token, "reports").await.is_none());
    assert!(folder(&app, &member.token, "sops").await.is_some());

    // Leadership's report, a trainers' folder and the officer's SOP.
    let reports = folder(&app, admin, "reports").await.unwrap();
    let (status, report) = upload(&app, admin, reports, "Budget 2027.pdf", PDF).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (status, trainers) = app
        .post(
            admin,
            "/api/v1/documents/folders",
            json!({"name": "Instructor notes", "visibility": "roles",
                   "role_ids": [app.role_id(&app.a, "training_officer").await]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{trainers}");
    let (status, note) = upload(&app, admin, id(&trainers), "answers.txt", b"Q1: b\n").await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let sops = folder(&app, admin, "sops").await.unwrap();
    let (status, sop) = upload(&app, admin, sops, "Ladder SOP.pdf", PDF).await;
    assert_eq!(status, StatusCode::CREATED, "{sop}");

    // The member: the report and the trainers' note are not there, whatever they ask for.
    for hidden in [&report, &note] {
        let d = id(hidden);
        let f = hidden["folder"]["id"].as_str().unwrap();
        for path in [
            format!("/api/v1/documents/{d}"),
            format!("/api/v1/documents/{d}/versions"),
            format!("/api/v1/documents/{d}/file"),
            format!("/api/v1/documents/folders/{f}"),
            format!("/api/v1/documents?folder={f}"),
        ] {
            let res = download(&app, &member.token, &path).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if path.contains("?folder=") {
                assert_eq!(status, StatusCode::OK, "{path}");
                assert_eq!(body["total"], 0, "{path}: {body}");
            } else {
                assert_problem(status, &body, StatusCode::NOT_FOUND);
            }
        }
        let (status, body) = app
            .call(
                Method::PUT,
                &member.token,
                &format!("/api/v1/documents/{d}"),
                Some(json!({"name": "mine now"})),
            )
            .await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    let (_, found) = app.get(&member.token, "/api/v1/documents?q=budget").await;
    assert_eq!(found["total"], 0, "{found}");
    let (_, found) = app.get(&member.token, "/api/v1/documents?q=answers").await;
    assert_eq!(found["total"], 0, "{found}");
    // The trainer sees the trainers' folder, not the report.
    let (status, _) = app
        .get(&trainer.token, &format!("/api/v1/documents/{}", id(&note)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(
            &trainer.token,
            &format!("/api/v1/documents/{}", id(&report)),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Everyone sees the SOP and downloads it.
    let res = download(
        &app,
        &member.token,
        &format!("/api/v1/documents/{}/file", id(&sop)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);

    // A member may not add to the SOPs, nor make folders; in their own folder they may.
    let (status, body) = upload(&app, &member.token, sops, "mine.pdf", PDF).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(
            &member.token,
            "/api/v1/documents/folders",
            json!({"name": "X", "visibility": "everyone"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, mine) = app.get(&member.token, "/api/v1/documents/my-folder").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["name"], "My files");
    assert_eq!(mine["may_change"], true);
    // Twice: the same folder.
    let (_, again) = app.get(&member.token, "/api/v1/documents/my-folder").await;
    assert_eq!(again["id"], mine["id"]);
    let (status, cert) = upload(
        &app,
        &member.token,
        id(&mine),
        "EMT card.png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    assert_eq!(cert["may_change"], true);
    // Another member does not see it; leadership does, as that member's files.
    let (status, _) = app
        .get(&trainer.token, &format!("/api/v1/documents/{}", id(&cert)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, seen) = app
        .get(admin, &format!("/api/v1/documents/{}", id(&cert)))
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["folder"]["name"], "Files of Test doc-member");
    // The member's folder cannot be made public.
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/documents/folders/{}", id(&mine)),
            Some(json!({"name": "Open", "visibility": "everyone"})),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

#[tokio::test]
async fn uploads_are_typed_by_their_bytes_cleaned_and_leave_nothing_when_refused_or_cut_off() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let sops = folder(&app, admin, "sops").await.unwrap();

    // A PDF whose name climbs out: kept as a PDF under a clean name, inside the data directory.
    let (status, doc) = upload(&app, admin, sops, "../../etc/Pump \"ops\".pdf", PDF).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["file_name"], "Pump ops.pdf");
    assert_eq!(doc["name"], "Pump ops");
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size_bytes"], PDF.len());
    let files = stored_files(&app, &app.a);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), PDF);
    let (_, versions) = app
        .get(admin, &format!("/api/v1/documents/{}/versions", id(&doc)))
        .await;
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        versions[0]["id"].as_str().unwrap().replace('-', "")
    );
    // Downloaded as an attachment, never sniffed again.
    let res = download(&app, admin, &format!("/api/v1/documents/{}/file", id(&doc))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"Pump ops.pdf\""),
        "{disposition}"
    );

    let before = app.snapshot(&app.a).await;
    // A program called a PDF, a web page called text, an empty file: refused, nothing kept.
    for (name, bytes) in [
        (
            "manual.pdf",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec(),
        ),
        (
            "setup.exe.txt",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec(),
        ),
        ("notes.txt", b"fine at first\n\0then a NUL".to_vec()),
        ("empty.pdf", Vec::new()),
    ] {
        let (status, body) = upload(&app, admin, sops, name, &bytes).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&body), ["file"], "{name}: {body}");
    }
    // Bad names and tags.
    let (status, body) = upload(&app, admin, sops, "///", PDF).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = send_file(
        &app,
        admin,
        &format!("/api/v1/documents/folders/{sops}/documents?name=a.pdf&tags=ok,%3Cscript%3E"),
        PDF.to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["tags"]);
    // Declared bigger than 256 MB: refused before a byte is read.
    let (status, head) = raw_upload(&app, admin, sops, 300 * 1024 * 1024, 1024).await;
    assert_eq!(status, 413, "{head}");
    // Cut off half way (the client goes away): no row, no file, no temporary file.
    let (status, _) = raw_upload(&app, admin, sops, 2_000_000, 500_000).await;
    assert_eq!(
        status, 400,
        "the server sees the body end short and says so"
    );
    eventually(
        "the cut-off upload's temporary file to go",
        std::time::Duration::from_secs(10),
        || async { (stored_files(&app, &app.a).len() == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        before,
        app.snapshot(&app.a).await,
        "refused uploads change nothing"
    );
    // Into another department's folder, or one that is not there: not found.
    let other_sops = folder(&app, &app.b.admin.token, "sops").await.unwrap();
    let (status, body) = upload(&app, admin, other_sops, "x.pdf", PDF).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = upload(&app, admin, Uuid::now_v7(), "x.pdf", PDF).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(before, app.snapshot(&app.a).await);
    assert_eq!(app.audit_actions(&app.a, "documents.added").await, 1);
}

/// Sends an upload by hand: `declared` bytes announced, `sent` bytes sent, then the connection
/// closed for writing. Answers the status the server gave before the connection ended (0 for
/// none) and the head of its answer.
async fn raw_upload(
    app: &TestApp,
    token: &str,
    folder: Uuid,
    declared: u64,
    sent: usize,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/documents/folders/{folder}/documents?name=big.txt HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {declared}\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let body = vec![b'a'; sent];
    // The server may answer (413) and close before taking it all.
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text.lines().next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn versions_archive_search_and_delete_with_two_officers_at_once() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let secretary = app.member(&app.a, "doc-sec", &["secretary"]).await;
    let member = app.member(&app.a, "doc-mem2", &[]).await;
    let policies = folder(&app, admin, "policies").await.unwrap();
    let (status, doc) = send_file(&app, admin,
        &format!("/api/v1/documents/folders/{policies}/documents?name=bylaws.txt&title=Bylaws&tags=Bylaws,%20Governance"),
        b"Article I\n".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["tags"], json!(["bylaws", "governance"]));
    let d = id(&doc);

    // A second version becomes the current one; the first is still there.
    let (status, v2) = send_file(
        &app,
        &secretary.token,
        &format!("/api/v1/documents/{d}/versions?name=bylaws-2027.txt&note=2027%20revision"),
        b"Article I (amended)\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["file_name"], "bylaws-2027.txt");
    let res = download(&app, &member.token, &format!("/api/v1/documents/{d}/file")).await;
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        b"Article I (amended)\n"
    );
    let (_, versions) = app
        .get(&member.token, &format!("/api/v1/documents/{d}/versions"))
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["version"], 1);
    assert_eq!(versions[0]["note"], "2027 revision");
    let first = versions[1]["id"].as_str().unwrap();
    let res = download(
        &app,
        &member.token,
        &format!("/api/v1/documents/{d}/versions/{first}/file"),
    )
    .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"Article I\n");
    // The member may not add a version.
    let (status, body) = send_file(
        &app,
        &member.token,
        &format!("/api/v1/documents/{d}/versions"),
        b"mine".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);

    // Search: by a word of the name, by a tag; nothing for the wrong word.
    for (q, total) in [
        ("q=byla", 1),
        ("tag=governance", 1),
        ("tag=GOVERNANCE", 1),
        ("q=2027", 1),
        ("q=hose", 0),
        ("tag=hose", 0),
    ] {
        let (status, found) = app
            .get(&member.token, &format!("/api/v1/documents?{q}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {found}");
        assert_eq!(found["total"], total, "{q}: {found}");
    }
    for bad in [
        "status=gone",
        "page=0",
        "per_page=1000",
        &format!("q={}", "x".repeat(101)),
        "tag=a;b",
        "folder=nope",
    ] {
        let (status, body) = app
            .get(&member.token, &format!("/api/v1/documents?{bad}"))
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }

    // Two officers archive at once: one archives, the other is told.
    let raced = at_once(
        &app,
        vec![
            (
                admin.clone(),
                format!("/api/v1/documents/{d}/archive"),
                json!({}),
            ),
            (
                secretary.token.clone(),
                format!("/api/v1/documents/{d}/archive"),
                json!({}),
            ),
        ],
    )
    .await;
    let mut statuses: Vec<u16> = raced.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{raced:?}");
    assert_eq!(app.audit_actions(&app.a, "documents.archived").await, 1);
    let (_, found) = app
        .get(
            &member.token,
            &format!("/api/v1/documents?folder={policies}"),
        )
        .await;
    assert_eq!(found["total"], 0);
    let (_, found) = app
        .get(
            &member.token,
            &format!("/api/v1/documents?folder={policies}&status=archived"),
        )
        .await;
    assert_eq!(found["total"], 1);
    let (status, body) = send_file(
        &app,
        admin,
        &format!("/api/v1/documents/{d}/versions"),
        b"v3".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, _) = app
        .post(admin, &format!("/api/v1/documents/{d}/restore"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Moved, renamed, tagged by an officer; a member may not.
    let general = folder(&app, admin, "general").await.unwrap();
    let (status, moved) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/documents/{d}"),
            Some(json!({"name": "Bylaws (2027)", "tags": "bylaws", "folder_id": general})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["folder"]["id"], general.to_string());
    let (status, body) = app
        .call(
            Method::PUT,
            &member.token,
            &format!("/api/v1/documents/{d}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let before = app.snapshot(&app.a).await;
    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "tags": "a|b"}),
        json!({"name": "x", "folder_id": Uuid::now_v7()}),
        json!({"name": "x", "extra": 1}),
        json!({"name": "y".repeat(201)}),
    ] {
        let (status, body) = app
            .call(
                Method::PUT,
                admin,
                &format!("/api/v1/documents/{d}"),
                Some(bad.clone()),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(
        before,
        app.snapshot(&app.a).await,
        "bad changes change nothing"
    );

    // Two officers delete at once: one deletes (the files go), the other finds it gone.
    assert_eq!(stored_files(&app, &app.a).len(), 2);
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let mut deletes = tokio::task::JoinSet::new();
    for token in [admin.clone(), secretary.token.clone()] {
        let (gate, url) = (gate.clone(), app.url(&format!("/api/v1/documents/{d}")));
        deletes.spawn(async move {
            let client = reqwest::Client::new();
            gate.wait().await;
            client
                .delete(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = deletes.join_all().await;
    statuses.sort();
    assert!(
        statuses == [200, 404] || statuses == [200, 409],
        "{statuses:?}"
    );
    assert!(stored_files(&app, &app.a).is_empty());
    assert_eq!(app.audit_actions(&app.a, "documents.deleted").await, 1);
}

#[tokio::test]
async fn folders_validate_and_keep_what_must_stay() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let before = app.snapshot(&app.a).await;
    let other_role = app.role_id(&app.b, "member").await;
    for (body, field) in [
        (json!({"name": "", "visibility": "everyone"}), "name"),
        (json!({"name": "A", "visibility": "owner"}), "visibility"),
        (json!({"name": "A", "visibility": "nobody"}), "visibility"),
        (json!({"name": "A", "visibility": "roles"}), "role_ids"),
        (
            json!({"name": "A", "visibility": "roles", "role_ids": [other_role]}),
            "role_ids",
        ),
        (
            json!({"name": "Policies", "visibility": "everyone"}),
            "name",
        ),
        (json!({"name": "A\u{7}", "visibility": "everyone"}), "name"),
    ] {
        let (status, res) = app
            .post(admin, "/api/v1/documents/folders", body.clone())
            .await;
        assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&res), [field], "{body}: {res}");
    }
    let (status, res) = app
        .post(admin, "/api/v1/documents/folders", json!({"name": 5}))
        .await;
    assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(before, app.snapshot(&app.a).await);

    // Two officers make the same folder at once: one folder.
    let raced = at_once(
        &app,
        vec![
            (
                admin.clone(),
                "/api/v1/documents/folders".into(),
                json!({"name": "Apparatus", "visibility": "everyone"}),
            ),
            (
                admin.clone(),
                "/api/v1/documents/folders".into(),
                json!({"name": "apparatus", "visibility": "leadership"}),
            ),
        ],
    )
    .await;
    let mut statuses: Vec<u16> = raced.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 422], "{raced:?}");
    let made = raced
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| id(v))
        .unwrap();
    // A system folder keeps its name and stays; a folder with documents stays.
    let sops = folder(&app, admin, "sops").await.unwrap();
    let (status, res) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/documents/folders/{sops}"),
            Some(json!({"name": "Other", "visibility": "everyone"})),
        )
        .await;
    assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, res) = app.call(Method::PUT, admin, &format!("/api/v1/documents/folders/{sops}"),
        Some(json!({"name": "SOPs & Procedures", "visibility": "leadership", "description": "Officers only now"}))).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let (status, res) = app
        .delete(admin, &format!("/api/v1/documents/folders/{sops}"))
        .await;
    assert_problem(status, &res, StatusCode::CONFLICT);
    let (status, doc) = upload(&app, admin, made, "pump.txt", b"pump manual\n").await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let (status, res) = app
        .delete(admin, &format!("/api/v1/documents/folders/{made}"))
        .await;
    assert_problem(status, &res, StatusCode::CONFLICT);
    let (status, _) = app
        .delete(admin, &format!("/api/v1/documents/{}", id(&doc)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, res) = app
        .delete(admin, &format!("/api/v1/documents/folders/{made}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(
        app.audit_actions(&app.a, "documents.folder_deleted").await,
        1
    );

    // Another department: not found, for reading and for every change.
    let other = &app.b.admin.token;
    let theirs = folder(&app, other, "sops").await.unwrap();
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/documents/folders/{sops}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/documents/folders/{sops}"),
            Some(json!({"name": "SOPs & Procedures", "visibility": "everyone"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/documents/folders/{sops}"),
            None,
        ),
    ] {
        let (status, res) = app.call(method, other, &path, body).await;
        assert_problem(status, &res, StatusCode::NOT_FOUND);
    }
    assert_ne!(theirs, sops);
}

#[tokio::test]
async fn a_backup_and_restore_bring_the_files_back_byte_for_byte() {
    let app = TestApp::spawn_one_organization().await;
    let admin = &app.a.admin.token;
    let sops = folder(&app, admin, "sops").await.unwrap();
    // Every byte value, and a file bigger than one read.
    let mut big: Vec<u8> = b"%PDF-1.7\n".to_vec();
    big.extend((0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let (status, doc) = upload(&app, admin, sops, "scan.pdf", &big).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    // The status page counts the space documents take.
    let (status, s) = app.get(admin, "/api/v1/system/status").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let stored = s["stored_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["folder"] == "documents")
        .unwrap_or_else(|| panic!("no documents in {}", s["stored_files"]));
    assert_eq!(stored["files"], 1);
    assert_eq!(stored["bytes"], big.len());
    let dir = temp_dir();
    let backup =
        logbook::backup::service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
            .await
            .unwrap();
    // Afterwards the file is deleted (row and bytes) and another one added.
    let (status, _) = app
        .delete(admin, &format!("/api/v1/documents/{}", id(&doc)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(stored_files(&app, &app.a).is_empty());
    logbook::backup::restore::restore(
        &app.state.db,
        &app.db.url,
        &app.data_dir,
        Path::new(&backup.path),
        &dir,
        &logbook::backup::service::RestoreOptions::default(),
    )
    .await
    .expect("restore");
    let res = download(&app, admin, &format!("/api/v1/documents/{}/file", id(&doc))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        big,
        "the file comes back byte for byte"
    );
    // Staged one at a time beside their places, then moved: nothing staged is left behind.
    let mut stack = vec![app.data_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                assert!(
                    !path.to_string_lossy().ends_with(".tmp"),
                    "left behind: {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn papers_attach_to_training_records_and_equipment_through_the_library() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let trainer = app
        .member(&app.a, "paper-trainer", &["training_officer"])
        .await;
    let quartermaster = app.member(&app.a, "paper-qm", &["quartermaster"]).await;
    let member = app.member(&app.a, "paper-ff", &[]).await;
    let other = app.member(&app.a, "paper-other", &[]).await;
    let (status, _) = app
        .post(
            &trainer.token,
            "/api/v1/training/records",
            json!({"user_ids": [member.id], "course_name": "EMT-B", "hours": 120,
                   "training_type": "certification", "completion_date": "2026-06-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, records) = app.get(&member.token, "/api/v1/training/records").await;
    let record = id(&records["items"][0]);
    let papers = format!("/api/v1/training/records/{record}/documents");

    // The training officer attaches the scan: it is in the member's own folder.
    let (status, scan) = send_file(
        &app,
        &trainer.token,
        &format!("{papers}?name=EMT%20card.pdf"),
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{scan}");
    let scan_id = id(&scan);
    let (_, mine) = app.get(&member.token, "/api/v1/documents/my-folder").await;
    assert_eq!(scan["folder"]["id"], mine["id"], "{scan} {mine}");
    // The member sees it with the record and in their own folder, and downloads it.
    let (status, list) = app.get(&member.token, &papers).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let res = download(&app, &member.token, &format!("{papers}/{scan_id}/file")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    let (status, _) = app
        .get(&member.token, &format!("/api/v1/documents/{scan_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The member adds their own; another member sees neither, by the record or by the library.
    let (status, own) = send_file(
        &app,
        &member.token,
        &format!("{papers}?name=wallet%20card.pdf&title=Wallet%20card"),
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    for path in [
        papers.clone(),
        format!("{papers}/{scan_id}/file"),
        format!("/api/v1/documents/{scan_id}"),
    ] {
        let (status, body) = app.get(&other.token, &path).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    let (status, body) = send_file(&app, &other.token, &papers, PDF.to_vec()).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    // Bad files change nothing: empty, or a program called a PDF.
    let before = app.snapshot(&app.a).await;
    for bytes in [Vec::new(), b"MZ\x90\0\x03\0\0\0".to_vec()] {
        let (status, body) =
            send_file(&app, &trainer.token, &format!("{papers}?name=x.pdf"), bytes).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.snapshot(&app.a).await, before);
    // The training officer removes the scan: rows and file gone.
    let files_before = stored_files(&app, &app.a).len();
    let (status, _) = app
        .delete(&trainer.token, &format!("{papers}/{scan_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stored_files(&app, &app.a).len(), files_before - 1);
    let (_, list) = app.get(&member.token, &papers).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(app.audit_actions(&app.a, "documents.attached").await, 2);

    // An item's manual: the quartermaster attaches it, every member reads it in General.
    let (status, category) = app
        .post(
            admin,
            "/api/v1/inventory/categories",
            json!({"name": "Pumps", "item_type": "equipment"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{category}");
    let (status, pump) = app
        .post(
            admin,
            "/api/v1/inventory/items",
            json!({"name": "Portable pump", "category_id": category["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pump}");
    let manuals = format!("/api/v1/inventory/items/{}/documents", id(&pump));
    let (status, body) = send_file(&app, &member.token, &manuals, PDF.to_vec()).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, manual) = send_file(
        &app,
        &quartermaster.token,
        &format!("{manuals}?name=pump%20manual.pdf&tags=pumps"),
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{manual}");
    assert_eq!(manual["folder"]["name"], "General Documents", "{manual}");
    let (status, list) = app.get(&member.token, &manuals).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["name"], "pump manual");
    let (_, found) = app.get(&member.token, "/api/v1/documents?tag=pumps").await;
    assert_eq!(found["total"], 1, "{found}");
    let (status, body) = app
        .delete(&member.token, &format!("{manuals}/{}", id(&manual)))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
}
