//! Watchers that stop reading cost bounded memory: each holds at most a bounded batch of pending
//! lines (plus socket buffers), however far behind it falls; when they read again they get every
//! event, in order, and a watcher that keeps reading keeps up meanwhile.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cluster, Http};
use serde_json::json;

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Opens a watch of ConfigMaps from `rv` on a raw connection (nothing read yet).
fn open_watch(port: u16, rv: u64) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A small receive buffer: a stalled reader backs up into the server quickly.
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&s, 65536);
    write!(
        s,
        "GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    s
}

/// Reads watch events from `s` until one carries revision `last`; returns the revisions seen.
fn read_until(s: TcpStream, last: u64) -> Vec<u64> {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
            continue;
        };
        let Some(rv) = v["object"]["metadata"]["resourceVersion"].as_str() else {
            continue;
        };
        let rv: u64 = rv.parse().unwrap();
        seen.push(rv);
        if rv >= last {
            break;
        }
    }
    seen
}

#[test]
fn stalled_watchers_cost_bounded_memory_and_lose_nothing() {
    const STALLED: usize = 100;
    const WRITES: usize = 10_000;
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let start = h.get("/api/v1/namespaces/default/configmaps").body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let stalled: Vec<TcpStream> = (0..STALLED).map(|_| open_watch(orca.port, start)).collect();
    let live = open_watch(orca.port, start);
    std::thread::sleep(Duration::from_millis(500));
    let pid = orca.child.id();
    let before = rss_mb(pid);
    // The server's peak resident memory, sampled until the end.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0f64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mb(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };

    // 4 KB objects from eight writers: more than the log keeps in memory for watchers (8,192).
    let value = "x".repeat(4 * 1024);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (url, value) = (orca.url.clone(), value.clone());
            std::thread::spawn(move || {
                let h = Http::new(&url);
                for i in 0..WRITES / 8 {
                    let cm = json!({"metadata": {"name": format!("cm-{w}-{i}")}, "data": {"v": value}});
                    assert_eq!(h.post("/api/v1/namespaces/default/configmaps", &cm).status, 201);
                }
            })
        })
        .collect();
    let live_reader = std::thread::spawn(move || read_until(live, start + WRITES as u64));
    for w in writers {
        w.join().unwrap();
    }
    let last = start + WRITES as u64;
    let written_at = Instant::now();
    let live_seen = live_reader.join().unwrap();
    let lag = written_at.elapsed();
    let expected: Vec<u64> = (start + 1..=last).collect();
    assert!(
        live_seen == expected,
        "the live watcher saw {} events, {:?}..{:?}; expected {}..={last}",
        live_seen.len(),
        live_seen.first(),
        live_seen.last(),
        start + 1
    );

    // They read again, all at once, past what the log keeps in memory: each gets every event,
    // in order.
    let readers: Vec<_> = stalled
        .into_iter()
        .map(|s| std::thread::spawn(move || read_until(s, last)))
        .collect();
    for r in readers {
        let seen = r.join().unwrap();
        assert_eq!(seen.len(), WRITES, "a resumed watcher lost events");
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "in order, without gaps");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let grown = peak - before;
    eprintln!("server RSS {before:.0} MB, peak {peak:.0} MB with {STALLED} stalled watchers resuming; the live one finished {lag:?} after the last write");
    // Each watcher reading from disk with no bound would hold a whole batch: 100 x 1,024 x 4 KB.
    assert!(
        grown < 300.0,
        "server memory grew {grown:.0} MB with {STALLED} stalled watchers"
    );
}
