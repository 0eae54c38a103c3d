//! SIGKILL a writer at random moments, many times; every acknowledged append survives, no partial batch exists,
//! and the invariants hold after each reopen.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::child;
use eventlite::{ReadAllOptions, Store};

/// SplitMix64: a seeded, repeatable source of kill delays.
struct Delays(u64);

impl Delays {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

pub struct Ack {
    pub batch: String,
    pub size: usize,
    pub stream: String,
    pub first_position: u64,
    pub last_version: u64,
}

fn parse_ack(line: &str) -> Ack {
    let parts: Vec<&str> = line.split(' ').collect();
    Ack {
        batch: format!("{}/{}", parts[0], parts[1]),
        size: parts[2].parse().unwrap(),
        stream: parts[3].to_owned(),
        first_position: parts[4].parse().unwrap(),
        last_version: parts[5].parse().unwrap(),
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut delays = Delays(7);
    let mut acks: Vec<Ack> = Vec::new();
    for run in 0..60 {
        let mut writer = child::spawn("crash-writer", &path, &format!("run-{run}"));
        let reader = {
            let stdout = writer.stdout.take().unwrap();
            std::thread::spawn(move || {
                use std::io::BufRead;
                std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|line| line.strip_prefix("ack ").map(parse_ack))
                    .collect::<Vec<_>>()
            })
        };
        std::thread::sleep(Duration::from_millis(5 + delays.below(80)));
        writer.kill().unwrap(); // SIGKILL on Unix
        writer.wait().unwrap();
        acks.extend(reader.join().unwrap());
        check_store(&path, &acks);
    }
    assert!(acks.len() > 100, "the writer acknowledged only {} appends across 60 runs", acks.len());
}

fn check_store(path: &std::path::Path, acks: &[Ack]) {
    let store = Store::open(path).unwrap();
    let mut batches: HashMap<String, Vec<(u64, String, u64)>> = HashMap::new();
    let mut streams: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut last_position = 0;
    let mut cursor = 0;
    loop {
        let page = store.read_all(&ReadAllOptions::forwards().after(cursor).max_count(1_000)).unwrap();
        let Some(last) = page.events.last() else { break };
        cursor = last.position;
        for event in &page.events {
            assert!(event.position > last_position, "positions strictly increase");
            last_position = event.position;
            streams.entry(event.stream.clone()).or_default().push(event.version);
            let metadata = event.metadata_value();
            let batch = format!("{} {}", metadata["run"].as_str().unwrap(), metadata["batch"]);
            let size = metadata["size"].as_u64().unwrap();
            batches.entry(batch.clone()).or_default().push((event.position, event.stream.clone(), size));
        }
    }
    for (stream, versions) in &streams {
        let dense: Vec<u64> = (1..=versions.len() as u64).collect();
        assert_eq!(versions, &dense, "versions of {stream} are dense and in position order");
    }
    for (batch, events) in &batches {
        assert_eq!(events.len() as u64, events[0].2, "batch {batch} is complete, not partial");
    }
    for ack in acks {
        let key = ack.batch.replacen('/', " ", 1);
        let events = batches.get(&key).unwrap_or_else(|| panic!("acknowledged batch {key} is missing"));
        assert_eq!(events.len(), ack.size);
        assert_eq!(events[0].0, ack.first_position);
        assert_eq!(events[0].1, ack.stream);
        assert!(streams[&ack.stream].len() as u64 >= ack.last_version);
    }
}
