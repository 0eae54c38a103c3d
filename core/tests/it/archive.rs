//! Export then import (`eventlite::archive`) against a model: any log of JSON (with any spacing), binary data and
//! metadata, written as archive lines and imported into another store in batches of any size, gives the same events
//! (ids, streams, versions, types, data, metadata, times); importing it again writes nothing; and cutting the
//! import off after any batch leaves exactly the batches before it.

use eventlite::archive::{ArchivedEvent, ImportEvent, ImportMode};
use eventlite::{EventData, ExpectedVersion, NewEvent, ReadAllOptions, RecordedEvent, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Payload {
    Json(serde_json::Value, bool),
    Binary(Vec<u8>),
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z \"\\\\é\n]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (json_value(), any::<bool>()).prop_map(|(value, spaced)| Payload::Json(value, spaced)),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Payload::Binary),
    ]
}

fn event((stream, payload, metadata): &(usize, Payload, Option<String>)) -> (String, NewEvent) {
    let mut event = match payload {
        Payload::Json(value, false) => NewEvent::json("E", value),
        Payload::Json(value, true) => {
            NewEvent::from_json_text("Spaced", format!(" {}\n", serde_json::to_string_pretty(value).unwrap()))
        }
        Payload::Binary(bytes) => NewEvent::binary("Bin", "application/octet-stream", bytes.clone()),
    };
    if let Some(key) = metadata {
        event = event.with_metadata(&serde_json::json!({ key: 1, "correlationId": "c" }));
    }
    (format!("{}-{stream}", ["a", "b"][stream % 2]), event)
}

fn all(store: &Store) -> Vec<RecordedEvent> {
    store.read_all(&ReadAllOptions::forwards().max_count(100_000)).unwrap().events
}

type Identity = (eventlite::Uuid, String, u64, String, EventData, Option<String>, i64);

fn identity(events: &[RecordedEvent]) -> Vec<Identity> {
    events
        .iter()
        .map(|e| {
            (
                e.event_id,
                e.stream.clone(),
                e.version,
                e.event_type.clone(),
                e.data.clone(),
                e.metadata.clone(),
                e.recorded_at,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn export_then_import_is_the_identity_and_idempotent(
        events in prop::collection::vec((0..4usize, payload(), prop::option::of("[a-z]{1,3}")), 0..40),
        batch in 1..12usize,
        cut in 0..5usize,
    ) {
        let source = Store::open_in_memory().unwrap();
        for spec in &events {
            let (stream, event) = event(spec);
            source.append_to_stream(&stream, &[event], ExpectedVersion::Any).unwrap();
        }
        let lines: Vec<String> = all(&source).iter().map(|e| ArchivedEvent::from_recorded(e).to_line()).collect();
        let parsed: Vec<ImportEvent> = lines
            .iter()
            .enumerate()
            .map(|(index, line)| ArchivedEvent::parse_line(line).unwrap().into_import(index).unwrap())
            .collect();

        // Cut off after `cut` batches: exactly those batches are there.
        let partial = Store::open_in_memory().unwrap();
        {
            let mut importer = partial.importer(ImportMode::Write).unwrap();
            for chunk in parsed.chunks(batch).take(cut) {
                importer.import_batch(chunk).unwrap();
            }
        }
        let kept = (cut * batch).min(parsed.len());
        prop_assert_eq!(identity(&all(&partial)), identity(&all(&source)[..kept]));

        // Resuming the whole file imports the rest and skips what is there; once more writes nothing.
        let mut importer = partial.importer(ImportMode::Write).unwrap();
        let (mut imported, mut skipped) = (0, 0);
        for chunk in parsed.chunks(batch) {
            let outcome = importer.import_batch(chunk).unwrap();
            imported += outcome.imported;
            skipped += outcome.skipped;
        }
        prop_assert_eq!((imported, skipped), ((parsed.len() - kept) as u64, kept as u64));
        for chunk in parsed.chunks(batch) {
            prop_assert_eq!(importer.import_batch(chunk).unwrap().imported, 0);
        }
        drop(importer);
        prop_assert_eq!(identity(&all(&partial)), identity(&all(&source)));
        prop_assert!(partial.check().unwrap().is_healthy());
    }
}

/// Pulls `hub`'s log into `replica` up to its head (see sync.rs for the whole round).
fn pull(replica: &Store, hub: &Store) {
    loop {
        let after = replica.pull_cursor().unwrap().map_or(0, |cursor| cursor.parse().unwrap());
        let page = eventlite::sync::server::read_pull(hub, after, 100).unwrap();
        let more = page.more();
        replica.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
        if !more {
            return;
        }
    }
}

#[test]
fn an_export_is_one_snapshot_even_when_a_rebase_moves_events_between_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replica.db");
    let replica = Store::open(&file).unwrap();
    let pending: Vec<NewEvent> =
        (1..=3).map(|n| NewEvent::json("Mine", &n).with_id(eventlite::Uuid::from_u128(n))).collect();
    replica.append_to_stream("order-1", &pending, ExpectedVersion::Any).unwrap();
    replica.next_push(100).unwrap(); // the replica has started syncing: a pull may rebase its pending events
    // Another device's event on the same stream reached the server first.
    let hub = Store::open_in_memory().unwrap();
    hub.append_to_stream("order-1", &[NewEvent::json("Theirs", &0)], ExpectedVersion::Any).unwrap();
    let before = all(&replica);

    let reader = Store::open_read_only(&file).unwrap();
    let mut lines = Vec::new();
    let mut pages = 0;
    let exported = reader
        .export_pages(&ReadAllOptions::forwards().max_count(1), |page| -> Result<(), eventlite::ReadError> {
            if pages == 0 {
                pull(&replica, &hub); // between the first and the second page
            }
            pages += 1;
            lines.extend(page.iter().map(|event| ArchivedEvent::from_recorded(event).to_line()));
            Ok(())
        })
        .unwrap();
    let after = all(&replica);
    assert_eq!(after.len(), 4, "the pull rebased the pending events behind the server's");
    assert_ne!(identity(&after[..3]), identity(&before), "the rebase moved them to other versions");
    assert_eq!(exported, 3);

    let target = Store::open_in_memory().unwrap();
    let events: Vec<ImportEvent> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| ArchivedEvent::parse_line(line).unwrap().into_import(index).unwrap())
        .collect();
    let mut importer = target.importer(ImportMode::Write).unwrap();
    assert_eq!(importer.import_batch(&events).unwrap().imported, 3);
    drop(importer);
    assert_eq!(identity(&all(&target)), identity(&before), "exactly the log as it was when the export began");
}
