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
