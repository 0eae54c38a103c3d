//! One suite every backend must pass: the sync server rules of core's `eventlite::sync::server`, whatever the
//! storage. `suite!` instantiates each case for the embedded SQLite backend and for PostgreSQL (a fresh schema per
//! test, dropped afterwards even when the case fails).

use eventlite::sync::server::Limits;
use eventlite::sync::{PushOutcome, PushRequest, RejectionCode, WireEvent, WireExpected};
use eventlite_server::auth::Tenant;
use eventlite_server::backend::{Backend, BackendError};
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
    let (response, head) = backend.push(&acme, request.clone(), Limits::default()).await.unwrap();
    assert_eq!(summary(&response.outcomes), ["p1 v1 dup=false", "p2 v2 dup=false", "p3 v1 dup=false"]);
    assert_eq!(head, 3);
    let page = backend.pull(&acme, 0, 10, usize::MAX).await.unwrap();
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
    backend.push(&acme, push(events), Limits::default()).await.unwrap();
    let first = backend.pull(&acme, 0, 3, usize::MAX).await.unwrap();
    assert_eq!((first.events.len(), first.through, first.more()), (3, 3, true));
    let second = backend.pull(&acme, first.through, 3, usize::MAX).await.unwrap();
    let positions: Vec<u64> = second.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, [4, 5, 6]);
    let last = backend.pull(&acme, 6, 3, usize::MAX).await.unwrap();
    assert_eq!((last.events.len(), last.through, last.more()), (1, 7, false));
    let empty = backend.pull(&acme, 7, 3, usize::MAX).await.unwrap();
    assert_eq!((empty.events.len(), empty.through), (0, 7));
    assert_eq!(backend.head(&acme).await.unwrap(), 7);
}

pub async fn retries_answer_with_the_original_positions(backend: &dyn Backend) {
    let acme = tenant("acme");
    let request = push(vec![wire(1, "a-1", WireExpected::NoStream), wire(2, "a-1", WireExpected::Exact(1))]);
    backend.push(&acme, request.clone(), Limits::default()).await.unwrap();
    backend.push(&acme, push(vec![wire(3, "a-1", WireExpected::Any)]), Limits::default()).await.unwrap();
    // The expectations no longer hold, but the ids are recognised first.
    let (again, head) = backend.push(&acme, request, Limits::default()).await.unwrap();
    assert_eq!(summary(&again.outcomes), ["p1 v1 dup=true", "p2 v2 dup=true"]);
    assert_eq!(head, 3);
    let mut changed = wire(1, "a-1", WireExpected::Any);
    changed.event_type = "Other".into();
    let (conflict, _) =
        backend.push(&acme, push(vec![changed, wire(4, "a-1", WireExpected::Any)]), Limits::default()).await.unwrap();
    assert_eq!(summary(&conflict.outcomes), ["IDEMPOTENCY_CONFLICT None", "FOLLOWS_REJECTED None"]);
    assert_eq!(backend.head(&acme).await.unwrap(), 3);
}

pub async fn expectations_are_checked_and_rejections_cascade_per_stream(backend: &dyn Backend) {
    let acme = tenant("acme");
    backend.push(&acme, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default()).await.unwrap();
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
        match backend.push(&acme, push(events), limits).await {
            Err(BackendError::Sync(error)) => assert_eq!(error.code().as_str(), code),
            other => panic!("expected {code}, got {other:?}"),
        }
    }
    assert_eq!(backend.head(&acme).await.unwrap(), 0);
}

pub async fn tenants_are_isolated(backend: &dyn Backend) {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    backend.push(&acme, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default()).await.unwrap();
    // The same id and stream in another tenant is another event: stored, version 1, not a duplicate.
    let (response, head) =
        backend.push(&globex, push(vec![wire(1, "a-1", WireExpected::NoStream)]), Limits::default()).await.unwrap();
    assert_eq!(summary(&response.outcomes), ["p1 v1 dup=false"]);
    assert_eq!(head, 1);
    assert_eq!(backend.pull(&acme, 0, 10, usize::MAX).await.unwrap().events.len(), 1);
    assert_eq!(backend.pull(&globex, 0, 10, usize::MAX).await.unwrap().events.len(), 1);
    assert_eq!(backend.head(&tenant("initech")).await.unwrap(), 0);
    assert!(backend.pull(&tenant("initech"), 0, 10, usize::MAX).await.unwrap().events.is_empty());
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
);
