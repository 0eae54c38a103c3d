//! Issue 8 item 3: a cursor from before a data reset is refused with `410 LOG_RESET`, on pulls and pushes, and the
//! reference client recovers: a server wiped (new data directory or schema) or restored from an older backup (a
//! copy of the tenant's database file) ends with every event the devices had.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_server::backend::Backend;
use futures_util::FutureExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    PgSchema, TOKEN_A, TestServer, client, http, log, server_log, server_shape, shape, sqlite_backend,
};

fn event(n: u128) -> Value {
    json!({"event_id": Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any", "data": {"n": n as u64}})
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// `POST /v1/push[?<query>]` of events `ids` for tenant acme.
async fn push(server: &TestServer, query: &str, ids: &[u128]) -> (StatusCode, Value) {
    let body = json!({"replica_id": Uuid::from_u128(7), "events": ids.iter().map(|n| event(*n)).collect::<Vec<_>>()});
    let uri = if query.is_empty() {
        format!("{}/v1/push", server.url())
    } else {
        format!("{}/v1/push?{query}", server.url())
    };
    answer(
        http()
            .post(uri)
            .bearer_auth(TOKEN_A)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `GET /v1/pull[?after=<cursor>]` for tenant acme.
async fn pull(server: &TestServer, after: Option<&str>) -> (StatusCode, Value) {
    let uri = match after {
        Some(cursor) => format!("{}/v1/pull?after={cursor}", server.url()),
        None => format!("{}/v1/pull", server.url()),
    };
    answer(http().get(uri).bearer_auth(TOKEN_A).send().await.unwrap()).await
}

fn cursor_of(page: &Value) -> String {
    page["cursor"].as_str().expect("a page has a cursor").to_owned()
}

fn assert_log_reset((status, body): &(StatusCode, Value), what: &str) {
    assert_eq!((*status, body["code"].as_str()), (StatusCode::GONE, Some("LOG_RESET")), "{what}: {body}");
}

/// A cursor of `before` (pushed to, then pulled) sent to `after`, another log for the same token.
async fn a_cursor_from_a_wiped_server_is_a_log_reset(before: Arc<dyn Backend>, after: Arc<dyn Backend>) {
    let old = TestServer::start(before).await;
    assert_eq!(push(&old, "", &[1, 2]).await.0, StatusCode::OK);
    let (_, page) = pull(&old, None).await;
    let (_, empty) = pull(&old, Some(&cursor_of(&page))).await;
    let (cursor, empty_cursor) = (cursor_of(&page), cursor_of(&empty));
    assert_eq!(empty_cursor, cursor, "an empty page answers with the cursor sent");
    old.stop().await;

    let wiped = TestServer::start(after).await;
    assert_log_reset(&pull(&wiped, Some(&cursor)).await, "pull");
    assert_log_reset(&push(&wiped, &format!("after={cursor}"), &[3]).await, "push");
    let (_, start) = pull(&wiped, None).await;
    assert_eq!(start["events"], json!([]), "the refused push stored nothing");
    // The start cursor of an empty log is bound to that log too.
    assert_eq!(push(&wiped, &format!("after={}", cursor_of(&start)), &[3]).await.0, StatusCode::OK);
    let (_, old_start) = pull(&wiped, None).await;
    assert_ne!(cursor_of(&old_start), cursor_of(&start), "the page now covers event 3");
    // A replica that never pulled pushes without a cursor, as before.
    assert_eq!(push(&wiped, "", &[4]).await.0, StatusCode::OK);
    // A two-part cursor, from a server before logs had identities.
    let legacy = cursor.rsplit_once('.').unwrap().0.to_owned();
    assert_log_reset(&pull(&wiped, Some(&legacy)).await, "a two-part cursor");
    wiped.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_a_wiped_server_is_a_log_reset_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_cursor_from_a_wiped_server_is_a_log_reset(
        sqlite_backend(&dir.path().join("old")),
        sqlite_backend(&dir.path().join("new")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_a_wiped_server_is_a_log_reset_on_postgres() {
    let (old, new) = (PgSchema::create().await, PgSchema::create().await);
    let result = std::panic::AssertUnwindSafe(a_cursor_from_a_wiped_server_is_a_log_reset(
        old.backend.clone(),
        new.backend.clone(),
    ))
    .catch_unwind()
    .await;
    old.drop().await;
    new.drop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_processes_creating_a_tenants_log_at_once_agree_on_its_identity() {
    let schema = PgSchema::create().await;
    let other = schema.connect_again().await;
    let result = std::panic::AssertUnwindSafe(async {
        for n in 0..20 {
            let tenant = eventlite_server::Tenant::new(&format!("t{n}")).unwrap();
            let push = eventlite::sync::PushRequest { replica_id: Uuid::from_u128(1), events: Vec::new() };
            let limits = eventlite::sync::server::Limits::default();
            // A pull through one process and a push and a pull through the other, all at once, on a new tenant.
            let (first, (second, pushed)) = tokio::join!(schema.backend.pull(&tenant, 0, 10, usize::MAX), async {
                tokio::join!(other.pull(&tenant, 0, 10, usize::MAX), other.push(&tenant, push, limits, None))
            },);
            pushed.unwrap();
            let (first, second) = (first.unwrap().log_id, second.unwrap().log_id);
            assert_eq!(first, second, "tenant t{n}");
            assert_eq!(schema.backend.pull(&tenant, 0, 10, usize::MAX).await.unwrap().log_id, first);
        }
    })
    .catch_unwind()
    .await;
    drop(other);
    schema.drop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The files of tenant acme's database (the database and, if present, its WAL and shared-memory files).
fn tenant_files(dir: &Path) -> Vec<PathBuf> {
    ["acme.db", "acme.db-wal", "acme.db-shm"].iter().map(|name| dir.join(name)).collect()
}

/// Copies acme's database files from `from` to `to` (a directory), replacing what `to` had: a backup taken, or put
/// back, while the server is stopped.
fn copy_tenant(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (source, target) in tenant_files(from).into_iter().zip(tenant_files(to)) {
        let _ = std::fs::remove_file(&target);
        if source.exists() {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_past_an_older_backup_is_a_log_reset_and_one_within_it_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = (dir.path().join("data"), dir.path().join("backup"));
    let server = TestServer::start(sqlite_backend(&data)).await;
    assert_eq!(push(&server, "", &[1, 2]).await.0, StatusCode::OK);
    let within = cursor_of(&pull(&server, None).await.1);
    server.stop().await;
    copy_tenant(&data, &backup);

    let server = TestServer::start(sqlite_backend(&data)).await;
    assert_eq!(push(&server, &format!("after={within}"), &[3, 4]).await.0, StatusCode::OK);
    let past = cursor_of(&pull(&server, Some(&within)).await.1);
    server.stop().await;
    copy_tenant(&backup, &data);

    let server = TestServer::start(sqlite_backend(&data)).await;
    assert_log_reset(&pull(&server, Some(&past)).await, "a pull past the backup");
    assert_log_reset(&push(&server, &format!("after={past}"), &[9]).await, "a push past the backup");
    let (status, page) = pull(&server, Some(&within)).await;
    assert_eq!((status, page["events"].clone()), (StatusCode::OK, json!([])), "within the backup: {page}");
    // Another device refills positions 3 and 4 with other events: the old cursor still points at another event.
    assert_eq!(push(&server, &format!("after={within}"), &[5, 6]).await.0, StatusCode::OK);
    assert_eq!(server_log(&server, TOKEN_A).await.len(), 4, "the refused push stored nothing");
    assert_log_reset(&pull(&server, Some(&past)).await, "another event at the cursor's position");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_are_parsed_like_pull_queries() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(sqlite_backend(dir.path())).await;
    for (query, status, code) in [
        ("after=", StatusCode::OK, None),
        ("&&after=&", StatusCode::OK, None),
        ("after=garbage", StatusCode::BAD_REQUEST, Some("INVALID_CURSOR")),
        ("after=0", StatusCode::BAD_REQUEST, Some("INVALID_CURSOR")),
        ("after=&after=", StatusCode::BAD_REQUEST, Some("INVALID_REQUEST")),
        ("limit=5", StatusCode::BAD_REQUEST, Some("INVALID_REQUEST")),
        ("access_token=x", StatusCode::BAD_REQUEST, Some("INVALID_REQUEST")),
        ("after=%zz", StatusCode::BAD_REQUEST, Some("INVALID_REQUEST")),
    ] {
        let (got, body) = push(&server, query, &[1]).await;
        assert_eq!((got, body["code"].as_str()), (status, code), "{query}: {body}");
    }
    assert_eq!(server_log(&server, TOKEN_A).await.len(), 1, "one event, pushed twice");
    server.stop().await;
}

fn noted(n: u128) -> NewEvent {
    NewEvent::json("Noted", &json!({ "n": n as u64 })).with_id(Uuid::from_u128(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_recover_from_a_server_restored_from_an_older_backup_and_refill_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = (dir.path().join("data"), dir.path().join("backup"));
    let (a, b) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
    let server = TestServer::start(sqlite_backend(&data)).await;
    a.append_to_stream("todo-1", &[noted(1), noted(2)], ExpectedVersion::NoStream).unwrap();
    client(&server, TOKEN_A, a.clone()).sync().await.unwrap();
    client(&server, TOKEN_A, b.clone()).sync().await.unwrap();
    server.stop().await;
    copy_tenant(&data, &backup);

    // After the backup: both devices write, and sync; then b writes offline.
    let server = TestServer::start(sqlite_backend(&data)).await;
    b.append_to_stream("todo-1", &[noted(3)], ExpectedVersion::Exact(2)).unwrap();
    b.append_to_stream("list-1", &[noted(4)], ExpectedVersion::Any).unwrap();
    client(&server, TOKEN_A, b.clone()).sync().await.unwrap();
    a.append_to_stream("list-a", &[noted(5)], ExpectedVersion::NoStream).unwrap();
    client(&server, TOKEN_A, a.clone()).sync().await.unwrap();
    client(&server, TOKEN_A, b.clone()).sync().await.unwrap();
    b.append_to_stream("todo-1", &[noted(6)], ExpectedVersion::Exact(3)).unwrap();
    assert_eq!(server_log(&server, TOKEN_A).await.len(), 5);
    server.stop().await;

    copy_tenant(&backup, &data);
    let server = TestServer::start(sqlite_backend(&data)).await;
    assert_eq!(server_log(&server, TOKEN_A).await.len(), 2, "restored: events 1 and 2 only");
    let (a_client, b_client) = (client(&server, TOKEN_A, a.clone()), client(&server, TOKEN_A, b.clone()));
    let report = a_client.sync().await.unwrap();
    assert!(report.log_reset && report.conflicts.is_empty(), "{report:?}");
    let report = b_client.sync().await.unwrap();
    assert!(
        report.log_reset && report.conflicts.is_empty(),
        "b re-offered 3, 4 and 6 with their expectations: {report:?}"
    );
    a_client.sync().await.unwrap();

    let server_events = server_log(&server, TOKEN_A).await;
    let mut ids: Vec<u128> = server_events.iter().map(|e| e.event_id.as_u128()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6], "the devices refilled the restored server: nothing lost");
    assert_eq!(shape(&log(&a)), server_shape(&server_events));
    assert_eq!(shape(&log(&b)), server_shape(&server_events));
    for store in [&a, &b] {
        let status = store.sync_status().unwrap();
        assert_eq!((status.pending, status.log_resets, status.conflicts), (0, 1, 0));
    }
    assert!(!a_client.sync().await.unwrap().log_reset, "then rounds are ordinary ones");
    server.stop().await;
}
