//! One suite every backend must pass: the sync server rules of core's `eventlite::sync::server`, whatever the
//! storage. `suite!` instantiates each case for the embedded SQLite backend and for PostgreSQL (a fresh schema per
//! test, dropped afterwards even when the case fails).

use eventlite::sync::server::{Limits, PullPage};
use eventlite::sync::{PushOutcome, PushRequest, RejectionCode, WireEvent, WireExpected};
use eventlite_server::auth::Tenant;
use eventlite_server::backend::{Backend, BackendError};
use eventlite_server::cursor::{self, EventMark};
use serde_json::json;
use uuid::Uuid;

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

fn wire(n: u128, stream: &str, expected: WireExpected) -> WireEvent {
    serde_json::from_value(json!({
        "event_id": Uuid::from_u128(n), "stream": stream, "type": "T", "expected": expected,
        "data": {"n": n as u64, "text": "ünïcode"}, "metadata": {"correlationId": "c-1"}
    }))
    .unwrap()
}

fn push(events: Vec<WireEvent>) -> PushRequest {
    PushRequest { replica_id: Uuid::from_u128(42), events }
}

/// The page of a pull (the cursor checks have cases of their own).
async fn pull(
    backend: &dyn Backend,
    tenant: &Tenant,
    after: u64,
    limit: usize,
    max_bytes: usize,
) -> Result<PullPage, BackendError> {
    backend.pull(tenant, after, limit, max_bytes).await.map(|pulled| pulled.page)
}

fn summary(outcomes: &[PushOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            PushOutcome::Accepted { position, version, duplicate, .. } => {
                format!("p{position} v{version} dup={duplicate}")
            }
            PushOutcome::Rejected { code, actual_version, .. } => format!("{} {actual_version:?}", code.as_str()),
        })
        .collect()
}

pub async fn push_then_pull_round_trips_events_in_order(backend: &dyn Backend) {
    let acme = tenant("acme");
    let mut binary = wire(3, "photo-1", WireExpected::NoStream);
    binary.data = None;
    binary.data_base64 = Some("AAH+/w==".into());
    binary.content_type = Some("image/png".into());
    let request =
        push(vec![wire(1, "todo-1", WireExpected::NoStream), wire(2, "todo-1", WireExpected::Exact(1)), binary]);
    let (response, head) = backend.push(&acme, request.clone(), Limits::default(), None).await.unwrap();
    assert_eq!(summary(&response.outcomes), ["p1 v1 dup=false", "p2 v2 dup=false", "p3 v1 dup=false"]);
    assert_eq!(head, 3);
    let page = pull(backend, &acme, 0, 10, usize::MAX).await.unwrap();
    assert_eq!((page.through, page.head, page.more()), (3, 3, false));
    for (sent, got) in request.events.iter().zip(&page.events) {
        assert_eq!((sent.event_id, &sent.stream, &sent.event_type), (got.event_id, &got.stream, &got.event_type));
        assert_eq!(sent.data.as_ref().map(|d| d.get()), got.data.as_ref().map(|d| d.get()));
        assert_eq!((&sent.data_base64, &sent.content_type), (&got.data_base64, &got.content_type));
        assert_eq!(sent.metadata.as_ref().map(|d| d.get()), got.metadata.as_ref().map(|d| d.get()));
    }
    let versions: Vec<u64> = page.events.iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 1]);
}

pub async fn pulls_page_by_exclusive_position(backend: &dyn Backend) {
    let acme = tenant("acme");
    let events = (1..=7).map(|n| wire(n, "s-1", WireExpected::Any)).collect();
    backend.push(&acme, push(events), Limits::default(), None).await.unwrap();
    let first = pull(backend, &acme, 0, 3, usize::MAX).await.unwrap();
    assert_eq!((first.events.len(), first.through, first.more()), (3, 3, true));
    let second = pull(backend, &acme, first.through, 3, usize::MAX).await.unwrap();
    let positions: Vec<u64> = second.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, [4, 5, 6]);
    let last = pull(backend, &acme, 6, 3, usize::MAX).await.unwrap();
    assert_eq!((last.events.len(), last.through, last.more()), (1, 7, false));
    let empty = pull(backend, &acme, 7, 3, usize::MAX).await.unwrap();
    assert_eq!((empty.events.len(), empty.through), (0, 7));
    assert_eq!(backend.head(&acme).await.unwrap(), 7);
}

pub async fn retries_answer_with_the_original_positions(backend: &dyn Backend) {
    let acme = tenant("acme");
    let request = push(vec![wire(1, "a-1", WireExpected::NoStream), wire(2, "a-1", WireExpected::Exact(1))]);
    backend.push(&acme, request.clone(), Limits::default(), None).await.unwrap();
    backend.push(&acme, push(vec![wire(3, "a-1", WireExpected::Any)]), Limits::default(), None).await.unwrap();
    // The expectations no longer hold, but the ids are recognised first.
    let (again, head) = backend.push(&acme, request, Limits::default(), None).await.unwrap();
    assert_eq!(summary(&again.outcomes), ["p1 v1 dup=true", "p2 v2 dup=true"]);
    assert_eq!(head, 3);
    let mut changed = wire(1, "a-1", WireExpected::Any);
    changed.event_type = "Other".into();
    let (conflict, _) = backend
        .push(&acme, push(vec![changed, wire(4, "a-1", WireExpected::Any)]), Limits::default(), None)
        .await
        .unwrap();
    assert_eq!(summary(&conflict.outcomes), ["IDEMPOTENCY_CONFLICT None", "FOLLOWS_REJECTED None"]);
    assert_eq!(backend.head(&acme).await.unwrap(), 3);
}

pub async fn expectations_are_checked_and_rejections_cascade_per_stream(backend: &dyn Backend) {
    let acme = tenant("acme");
    backend.push(&acme, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default(), None).await.unwrap();
    let (response, head) = backend
        .push(
            &acme,
            push(vec![
                wire(2, "a-1", WireExpected::Exact(0)),
                wire(3, "a-1", WireExpected::Any),
                wire(4, "b-1", WireExpected::StreamExists),
                wire(5, "b-1", WireExpected::NoStream),
                wire(6, "c-1", WireExpected::Any),
                wire(7, "a-1", WireExpected::Exact(1)),
            ]),
            Limits::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        summary(&response.outcomes),
        [
            "WRONG_EXPECTED_VERSION Some(1)",
            "FOLLOWS_REJECTED None",
            "WRONG_EXPECTED_VERSION Some(0)",
            "FOLLOWS_REJECTED None",
            "p2 v1 dup=false",
            "FOLLOWS_REJECTED None",
        ]
    );
    assert_eq!(head, 2);
    let codes: Vec<RejectionCode> = response
        .outcomes
        .iter()
        .filter_map(|o| match o {
            PushOutcome::Rejected { code, .. } => Some(*code),
            PushOutcome::Accepted { .. } => None,
        })
        .collect();
    assert_eq!(codes.len(), 5);
}

pub async fn invalid_pushes_store_nothing(backend: &dyn Backend) {
    let acme = tenant("acme");
    let mut empty_type = wire(2, "a-1", WireExpected::Any);
    empty_type.event_type = String::new();
    let limits = Limits { max_batch: 3, max_event_size: 200 };
    let mut big = wire(5, "a-1", WireExpected::Any);
    big.data = serde_json::value::RawValue::from_string(format!("\"{}\"", "x".repeat(300))).ok();
    let cases = [
        (vec![wire(1, "a-1", WireExpected::Any), empty_type], "INVALID_ARGUMENT"),
        (vec![wire(1, "a-1", WireExpected::Any), wire(1, "b-1", WireExpected::Any)], "INVALID_ARGUMENT"),
        ((1..=4).map(|n| wire(n, "a-1", WireExpected::Any)).collect(), "BATCH_TOO_LARGE"),
        (vec![wire(1, "a-1", WireExpected::Any), big], "EVENT_TOO_LARGE"),
    ];
    for (events, code) in cases {
        match backend.push(&acme, push(events), limits, None).await {
            Err(BackendError::Sync(error)) => assert_eq!(error.code().as_str(), code),
            other => panic!("expected {code}, got {other:?}"),
        }
    }
    assert_eq!(backend.head(&acme).await.unwrap(), 0);
}

pub async fn tenants_are_isolated(backend: &dyn Backend) {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    backend.push(&acme, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default(), None).await.unwrap();
    // The same id and stream in another tenant is another event: stored, version 1, not a duplicate.
    let (response, head) = backend
        .push(&globex, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default(), None)
        .await
        .unwrap();
    assert_eq!(summary(&response.outcomes), ["p1 v1 dup=false"]);
    assert_eq!(head, 1);
    assert_eq!(pull(backend, &acme, 0, 10, usize::MAX).await.unwrap().events.len(), 1);
    assert_eq!(pull(backend, &globex, 0, 10, usize::MAX).await.unwrap().events.len(), 1);
    assert_eq!(backend.head(&tenant("initech")).await.unwrap(), 0);
    assert!(pull(backend, &tenant("initech"), 0, 10, usize::MAX).await.unwrap().events.is_empty());
}

/// Item: a pull page is bounded by bytes as well as by count, with at least one event per page, on every backend.
pub async fn pull_pages_are_bounded_by_bytes_with_at_least_one_event(backend: &dyn Backend) {
    let acme = tenant("acme");
    let sized = |n: u128, length: usize| {
        let mut event = wire(n, "big-1", WireExpected::Any);
        event.data = serde_json::value::RawValue::from_string(format!("\"{}\"", "x".repeat(length))).ok();
        event.metadata = None;
        event
    };
    // Sizes (type + data): 1 + 1,002 each, but the third is 1 + 30,002.
    let events = vec![sized(1, 1_000), sized(2, 1_000), sized(3, 30_000), sized(4, 1_000), sized(5, 1_000)];
    let limits = Limits { max_event_size: 64 * 1024, ..Limits::default() };
    backend.push(&acme, push(events), limits, None).await.unwrap();
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = pull(backend, &acme, after, 100, 2_500).await.unwrap();
        if page.events.is_empty() {
            break;
        }
        pages.push(page.events.iter().map(|e| e.position).collect::<Vec<_>>());
        assert_eq!(page.more(), page.through < 5);
        after = page.through;
    }
    assert_eq!(pages, [vec![1, 2], vec![3], vec![4, 5]]);
    let tight = pull(backend, &acme, 0, 100, 1).await.unwrap();
    assert_eq!(tight.events.len(), 1, "at least one event, whatever the budget");
    assert_eq!(pull(backend, &acme, 0, 3, usize::MAX).await.unwrap().events.len(), 3, "the count bound holds");
}

/// Items 10-12 on every backend: a retry re-serialised (key order, whitespace, `1.0` for `1`, `{}` metadata for
/// none) is the same event and answers with the original position; the stored text stays the first one.
pub async fn retries_are_recognised_by_json_value_and_keep_the_first_text(backend: &dyn Backend) {
    let acme = tenant("acme");
    let event = |data: &str, metadata: Option<&str>| {
        let mut event = wire(1, "todo-1", WireExpected::NoStream);
        event.data = serde_json::value::RawValue::from_string(data.to_owned()).ok();
        event.metadata = metadata.map(|text| serde_json::value::RawValue::from_string(text.to_owned()).unwrap());
        event
    };
    let first = event(r#"{"title":"milk","tags":["a","b"],"n":1}"#, None);
    backend.push(&acme, push(vec![first]), Limits::default(), None).await.unwrap();
    for (data, metadata) in [
        ("{ \"n\": 1.0, \"tags\": [\"a\", \"b\"],\n \"title\": \"m\\u0069lk\" }", Some("{}")),
        (r#"{"tags":["a","b"],"title":"milk","n":1}"#, Some(" { } ")),
    ] {
        let (response, _) =
            backend.push(&acme, push(vec![event(data, metadata)]), Limits::default(), None).await.unwrap();
        assert_eq!(summary(&response.outcomes), ["p1 v1 dup=true"], "{data} {metadata:?}");
    }
    for (data, metadata) in [
        (r#"{"title":"milk","tags":["b","a"],"n":1}"#, None),
        (r#"{"title":"milk","tags":["a","b"],"n":1}"#, Some(r#"{"x":1}"#)),
    ] {
        let (response, _) =
            backend.push(&acme, push(vec![event(data, metadata)]), Limits::default(), None).await.unwrap();
        assert_eq!(summary(&response.outcomes), ["IDEMPOTENCY_CONFLICT None"], "{data} {metadata:?}");
    }
    let page = pull(backend, &acme, 0, 10, usize::MAX).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].data.as_ref().unwrap().get(), r#"{"title":"milk","tags":["a","b"],"n":1}"#);
    assert!(page.events[0].metadata.is_none(), "stored and returned verbatim: absent");
}

/// Items 11 and 12 on every backend: JSON content types in any spelling are refused for binary data, and JSON
/// deeper than 64 levels is refused; nothing is stored.
pub async fn json_content_types_and_deep_json_are_refused(backend: &dyn Backend) {
    let acme = tenant("acme");
    for content_type in ["APPLICATION/JSON", "application/json; charset=utf-8", "Application/Json ;x=y"] {
        let mut binary = wire(1, "photo-1", WireExpected::Any);
        binary.data = None;
        binary.data_base64 = Some("AA==".into());
        binary.content_type = Some(content_type.into());
        let error = backend.push(&acme, push(vec![binary]), Limits::default(), None).await.unwrap_err();
        assert!(matches!(&error, BackendError::Sync(e) if e.code().as_str() == "INVALID_ARGUMENT"), "{error}");
    }
    let nested = |depth: usize| format!("{}0{}", "[".repeat(depth), "]".repeat(depth));
    for (depth, ok) in [(64, true), (65, false), (100_000, false)] {
        let mut event = wire(depth as u128, "deep-1", WireExpected::Any);
        event.data = serde_json::value::RawValue::from_string(nested(depth)).ok();
        let limits = Limits { max_event_size: 1 << 20, ..Limits::default() };
        let result = backend.push(&acme, push(vec![event]), limits, None).await;
        assert_eq!(result.is_ok(), ok, "depth {depth}");
    }
    assert_eq!(backend.head(&acme).await.unwrap(), 1);
}

/// Issue 8 item 3 on every backend: each tenant's log has an identity, kept; a pull reports the event at its
/// position; a push whose cursor does not match the log (another identity; no event, another event, or the event
/// stored at another time at its position) is refused with `LOG_RESET` and stores nothing, after a malformed push's
/// own error.
pub async fn cursors_are_checked_against_the_log_and_a_refused_push_stores_nothing(backend: &dyn Backend) {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let log_id = backend.pull(&acme, 0, 10, usize::MAX).await.unwrap().log_id;
    assert_eq!(backend.pull(&acme, 0, 10, usize::MAX).await.unwrap().log_id, log_id, "created once, kept");
    assert_ne!(backend.pull(&globex, 0, 10, usize::MAX).await.unwrap().log_id, log_id, "one identity per tenant");
    let decoded = |text: String| cursor::decode("acme", &text).unwrap().unwrap();
    let start = decoded(cursor::encode("acme", log_id, None));
    let events = (1..=3).map(|n| wire(n, "s-1", WireExpected::Any)).collect();
    let (_, head) = backend.push(&acme, push(events), Limits::default(), Some(&start)).await.unwrap();
    assert_eq!(head, 3, "a start cursor of this log is accepted");
    let stored = pull(backend, &acme, 0, 10, usize::MAX).await.unwrap().events;
    let mark = |n: usize| EventMark { event_id: stored[n - 1].event_id, recorded_at: stored[n - 1].recorded_at };
    let pulled = backend.pull(&acme, 2, 10, usize::MAX).await.unwrap();
    assert_eq!((pulled.log_id, pulled.event_at_after), (log_id, Some(mark(2))));
    assert_eq!(backend.pull(&acme, 9, 10, usize::MAX).await.unwrap().event_at_after, None);
    let at = |position: u64, event: EventMark, log: Uuid| decoded(cursor::encode("acme", log, Some((position, event))));
    let next = push(vec![wire(4, "s-1", WireExpected::Any)]);
    let (response, head) = backend.push(&acme, next, Limits::default(), Some(&at(3, mark(3), log_id))).await.unwrap();
    assert_eq!((summary(&response.outcomes), head), (vec!["p4 v4 dup=false".to_owned()], 4));
    let stored_again = EventMark { recorded_at: mark(3).recorded_at - 1, ..mark(3) };
    for (refused, why) in [
        (at(3, mark(3), Uuid::from_u128(1)), "another log"),
        (decoded(cursor::encode("acme", Uuid::from_u128(1), None)), "another log's start"),
        (at(3, mark(2), log_id), "another event at the position"),
        (at(3, stored_again, log_id), "the event stored again"),
        (at(9, mark(3), log_id), "beyond the head"),
    ] {
        let request = push(vec![wire(5, "s-1", WireExpected::Any)]);
        let result = backend.push(&acme, request, Limits::default(), Some(&refused)).await;
        assert!(matches!(result, Err(BackendError::LogReset(_))), "{why}: {result:?}");
    }
    let mut malformed = wire(5, "s-1", WireExpected::Any);
    malformed.event_type = String::new();
    match backend.push(&acme, push(vec![malformed]), Limits::default(), Some(&at(9, mark(3), log_id))).await {
        Err(BackendError::Sync(error)) => assert_eq!(error.code().as_str(), "INVALID_ARGUMENT"),
        other => panic!("a malformed push is refused as such first: {other:?}"),
    }
    assert_eq!(backend.head(&acme).await.unwrap(), 4, "refused pushes stored nothing");
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = eventlite_server::backend::sqlite::SqliteBackend::in_memory();
                    super::$case(&backend).await;
                }
            )*
        }

        mod postgres {
            use futures_util::FutureExt;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let schema = crate::support::PgSchema::create().await;
                    let result = std::panic::AssertUnwindSafe(super::$case(&*schema.backend)).catch_unwind().await;
                    schema.drop().await;
                    if let Err(panic) = result {
                        std::panic::resume_unwind(panic);
                    }
                }
            )*
        }
    };
}

suite!(
    push_then_pull_round_trips_events_in_order,
    pulls_page_by_exclusive_position,
    retries_answer_with_the_original_positions,
    expectations_are_checked_and_rejections_cascade_per_stream,
    invalid_pushes_store_nothing,
    tenants_are_isolated,
    pull_pages_are_bounded_by_bytes_with_at_least_one_event,
    retries_are_recognised_by_json_value_and_keep_the_first_text,
    json_content_types_and_deep_json_are_refused,
    cursors_are_checked_against_the_log_and_a_refused_push_stores_nothing,
);
