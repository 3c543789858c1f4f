//! Micro-benchmarks: each filter and score plugin over 5,000 nodes, record and envelope codecs, log
//! appends with group commit, and watch fan-out from the hub's ring.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;

use orca_actors::bus::envelope::{self, ApiCall};
use orca_actors::eventlog::crypto::SecretBox;
use orca_actors::eventlog::event::EventMeta;
use orca_actors::eventlog::watch::WatchHub;
use orca_actors::eventlog::{record, Change, Event, EventLog, EventType, LogOptions};
use orca_actors::scheduler::cache::{Cache, NodeInfo};
use orca_actors::scheduler::decide::schedule;
use orca_actors::scheduler::plugins::{FILTERS, SCORES};
use orca_actors::scheduler::pod_info::PodInfo;

const NODES: usize = 5000;

fn nodes() -> Vec<NodeInfo> {
    (0..NODES)
        .map(|i| {
            let n = json!({"metadata": {"name": format!("n{i}"), "labels": {"zone": format!("zone-{}", i % 3)}},
                "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]}});
            NodeInfo::from_node(&n).expect("bench node decodes")
        })
        .collect()
}

fn pod() -> PodInfo {
    PodInfo::from_pod(
        &serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default", "ownerReferences": [{"uid": "rs-1", "controller": true}]},
        "spec": {"nodeSelector": {"zone": "zone-1"}, "tolerations": [{"key": "k", "operator": "Exists"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["zone-1"]}]}}]}},
            "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}))
        .expect("bench pod decodes"),
    )
    .expect("bench pod has containers")
}

fn plugins(c: &mut Criterion) {
    let (nodes, pod) = (nodes(), pod());
    let mut g = c.benchmark_group("plugins over 5000 nodes");
    g.throughput(Throughput::Elements(NODES as u64));
    for (i, f) in FILTERS.iter().enumerate() {
        g.bench_with_input(BenchmarkId::new("filter", i), f, |b, f| {
            b.iter(|| nodes.iter().filter(|n| f(&pod, n).is_ok()).count())
        });
    }
    for (i, (s, _)) in SCORES.iter().enumerate() {
        g.bench_with_input(BenchmarkId::new("score", i), s, |b, s| {
            b.iter(|| nodes.iter().map(|n| s(&pod, n)).sum::<i64>())
        });
    }
    let mut cache = Cache::default();
    for n in nodes.iter().cloned() {
        cache.upsert_node(n);
    }
    g.bench_function("schedule one pod", |b| b.iter(|| schedule(&pod, &cache, 1)));
    g.finish();
}

fn event() -> Event {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "resourceVersion": "7"}, "data": {"v": "x".repeat(256)}});
    let meta = EventMeta {
        revision: 7,
        time_ms: 1,
        actor: "bench".into(),
        kind: "ConfigMap".into(),
        namespace: "default".into(),
        name: "c".into(),
        uid: "u".into(),
        event_type: EventType::Added,
        create_revision: 7,
        prev_revision: 0,
    };
    Event::new(meta, &obj)
}

fn codecs(c: &mut Criterion) {
    let (ev, secrets) = (event(), SecretBox::from_key([1; 32]));
    let rec = record::encode(&ev, &secrets).unwrap_or_default();
    let mut g = c.benchmark_group("codecs");
    g.bench_function("record encode", |b| b.iter(|| record::encode(&ev, &secrets)));
    g.bench_function("record decode", |b| b.iter(|| record::decode(&rec, 7, &secrets)));
    let call = ApiCall {
        method: "POST".into(),
        path: "/api/v1/namespaces/default/configmaps".into(),
        query: String::new(),
        content_type: "application/json".into(),
        actor: "bench".into(),
        body: ev.json.to_vec(),
    };
    let bytes = envelope::encode(&call);
    g.bench_function("envelope encode", |b| b.iter(|| envelope::encode(&call)));
    g.bench_function("envelope decode", |b| b.iter(|| envelope::decode::<ApiCall>(&bytes)));
    g.finish();
}

fn log_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EventLog::open(&LogOptions::new(dir.path())).expect("open log");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("log append (durable, group commit)");
    for concurrent in [1usize, 64] {
        g.throughput(Throughput::Elements(concurrent as u64));
        g.bench_with_input(BenchmarkId::from_parameter(concurrent), &concurrent, |b, &n| {
            let mut i = 0u64;
            b.iter(|| {
                let writes = (0..n).map(|_| {
                    i += 1;
                    let (log, name) = (log.clone(), format!("c{i}"));
                    async move {
                        log.write(move |st| {
                            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"v": "x"}});
                            st.put(Change { kind: "ConfigMap".into(), namespace: "default".into(), name, event_type: EventType::Added, object: obj, actor: "bench".into() });
                        })
                        .await
                    }
                });
                rt.block_on(futures::future::join_all(writes))
            })
        });
    }
    g.finish();
}

fn fan_out(c: &mut Criterion) {
    let hub = WatchHub::new(8192, 0);
    let base = event();
    let events: Vec<Arc<Event>> = (1..=1000)
        .map(|r| {
            Arc::new(Event::new(
                EventMeta {
                    revision: r,
                    ..base.meta.clone()
                },
                &base.object(),
            ))
        })
        .collect();
    hub.publish(&events);
    let mut g = c.benchmark_group("watch fan-out");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 watchers read the newest event", |b| {
        b.iter(|| {
            (0..1000)
                .map(|_| hub.after(999, 16).map_or(0, |e| e.len()))
                .sum::<usize>()
        })
    });
    g.bench_function("watch line, shared", |b| b.iter(|| events[0].watch_line()));
    g.finish();
}

criterion_group!(benches, plugins, codecs, log_append, fan_out);
criterion_main!(benches);
