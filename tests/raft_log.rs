//! The replicated log on its own: three Raft members over a real nats-server, each with its log on
//! disk. Under 32 concurrent writers the leader is stopped and later returns; every acknowledged
//! write is on every member, at the same index, and a member that returns catches up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orca_actors::cluster::natsd::NatsServer;
use orca_actors::raft::{Machine, Member, WriteError};

/// A machine that keeps each applied entry in a file named by its index.
struct Files(PathBuf);

impl Machine for Files {
    fn apply(&self, index: u64, data: &[u8]) -> Result<(), String> {
        std::fs::write(self.0.join(format!("{index:012}")), data).map_err(|e| e.to_string())
    }
    fn applied(&self) -> u64 {
        read(&self.0).keys().next_back().copied().unwrap_or(0)
    }
    fn snapshot(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&read(&self.0)).map_err(|e| e.to_string())
    }
    fn restore(&self, _index: u64, data: &[u8]) -> Result<(), String> {
        let all: BTreeMap<u64, String> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&self.0);
        std::fs::create_dir_all(&self.0).map_err(|e| e.to_string())?;
        for (i, d) in all {
            self.apply(i, d.as_bytes())?;
        }
        Ok(())
    }
}

fn read(dir: &Path) -> BTreeMap<u64, String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().parse().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Waits for `after` acknowledged writes, runs `stop` (the leader's loss), and returns how long
/// from then until the next write is acknowledged.
async fn lose_leader_after<T>(
    acked: &parking_lot::Mutex<Vec<T>>,
    after: usize,
    stop: impl std::future::Future<Output = ()>,
) -> Duration {
    while acked.lock().len() < after {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lost = Instant::now();
    stop.await;
    let before = acked.lock().len();
    while acked.lock().len() == before {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lost.elapsed()
}

async fn start(nats: &str, id: u64, root: &Path) -> Member {
    let dir = root.join(format!("m{id}"));
    let applied = dir.join("applied");
    std::fs::create_dir_all(&applied).unwrap();
    let client = async_nats::connect(nats).await.unwrap();
    Member::start(
        orca_actors::raft::config(),
        client,
        "test",
        id,
        &dir,
        Arc::new(Files(applied)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_lose_their_leader_under_load_and_lose_nothing() {
    let nats = NatsServer::start(None).expect("nats-server (apt-get install -y nats-server)");
    let root = tempfile::tempdir().unwrap();
    let mut members: BTreeMap<u64, Arc<Member>> = BTreeMap::new();
    for id in 1..=3 {
        members.insert(id, Arc::new(start(&nats.url(), id, root.path()).await));
    }
    let peers: Vec<(u64, String)> = (1..=3).map(|i| (i, format!("m{i}"))).collect();
    members[&1].initialize(&peers).await.unwrap();
    let leader = members[&1]
        .wait_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    let members = Arc::new(parking_lot::Mutex::new(members));

    // 32 writers, 40 writes each, sent to whichever member leads; a NotLeader answer or a failed
    // write is retried (a retried write may land twice: each acknowledgement names its index).
    let acked = Arc::new(parking_lot::Mutex::new(Vec::<(u64, String)>::new()));
    let mut writers = Vec::new();
    for w in 0..32 {
        let (members, acked) = (members.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..40 {
                let data = format!("w{w}-{n}");
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let target = {
                        let m = members.lock();
                        let known = m.values().find_map(|m| m.leader()).filter(|l| m.contains_key(l));
                        known.and_then(|l| m.get(&l).cloned())
                    };
                    let result = match &target {
                        Some(m) => m.write(data.clone().into_bytes()).await,
                        None => Err(WriteError::NotLeader(None)),
                    };
                    match result {
                        Ok(index) => {
                            acked.lock().push((index, data.clone()));
                            break;
                        }
                        Err(e) => {
                            assert!(Instant::now() < deadline, "write {data} not accepted within 20 s: {e}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    // Stop the leader once a few hundred writes are in; measure until another accepts writes.
    let stop = async {
        let stopped = members.lock().remove(&leader).unwrap();
        stopped.shutdown().await
    };
    let recovery = lose_leader_after(&acked, 300, stop).await;
    for w in writers {
        w.await.unwrap();
    }
    assert!(recovery < Duration::from_secs(5), "writes resumed after {recovery:?}");
    eprintln!("leader {leader} lost: writes accepted again after {recovery:?}");

    // The old leader returns from its disk and catches up.
    let back = Arc::new(start(&nats.url(), leader, root.path()).await);
    members.lock().insert(leader, back);
    let acked = acked.lock().clone();
    assert_eq!(
        acked
            .iter()
            .map(|(_, d)| d)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        32 * 40
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let views: Vec<BTreeMap<u64, String>> = (1..=3)
            .map(|i| read(&root.path().join(format!("m{i}/applied"))))
            .collect();
        let complete = views.iter().all(|v| acked.iter().all(|(i, d)| v.get(i) == Some(d)));
        if complete && views[0] == views[1] && views[1] == views[2] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "members did not converge: {:?}",
            views.iter().map(BTreeMap::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A member of a replicated event log: its log, its Raft member, its directory.
struct LogMember {
    log: orca_actors::eventlog::EventLog,
    member: Arc<Member>,
}

async fn start_log_member(nats: &str, id: u64, root: &Path) -> LogMember {
    start_log_member_with(orca_actors::raft::config(), nats, id, root).await
}

async fn start_log_member_with(
    cfg: orca_actors::raft::openraft::Config,
    nats: &str,
    id: u64,
    root: &Path,
) -> LogMember {
    use orca_actors::eventlog::{EventLog, LogOptions};
    let dir = root.join(format!("m{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    // Members share the key that seals Secrets in their records.
    let key = root.join("m1/secret.key");
    if id != 1 && key.exists() && !dir.join("secret.key").exists() {
        std::fs::copy(&key, dir.join("secret.key")).unwrap();
    }
    let (log, machine, replication) = EventLog::open_replicated(&LogOptions::new(&dir)).unwrap();
    let client = async_nats::connect(nats).await.unwrap();
    let member = Arc::new(Member::start(cfg, client, "logs", id, &dir, machine).await.unwrap());
    let (m, handle) = (member.clone(), tokio::runtime::Handle::current());
    replication.connect(Box::new(move |entry| {
        handle.block_on(m.write(entry)).map_err(|e| e.to_string())
    }));
    LogMember { log, member }
}

fn create(
    log: &orca_actors::eventlog::EventLog,
    name: String,
) -> impl std::future::Future<Output = Result<u64, String>> + '_ {
    use orca_actors::eventlog::{Change, EventType};
    async move {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}, "data": {"k": name}});
        log.write(move |st| {
            st.put(Change {
                kind: "ConfigMap".into(),
                namespace: "default".into(),
                name,
                event_type: EventType::Added,
                object: obj,
                actor: "test".into(),
            })
            .revision
        })
        .await
        .map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replicated_event_log_keeps_revisions_gapless_and_equal_on_every_member() {
    let nats = NatsServer::start(None).expect("nats-server (apt-get install -y nats-server)");
    let root = tempfile::tempdir().unwrap();
    let mut members: BTreeMap<u64, Arc<LogMember>> = BTreeMap::new();
    for id in 1..=3 {
        members.insert(id, Arc::new(start_log_member(&nats.url(), id, root.path()).await));
    }
    let peers: Vec<(u64, String)> = (1..=3).map(|i| (i, format!("m{i}"))).collect();
    members[&1].member.initialize(&peers).await.unwrap();
    let leader = members[&1]
        .member
        .wait_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    let members = Arc::new(parking_lot::Mutex::new(members));

    // 32 writers create ConfigMaps through whichever member leads; a write that fails is retried
    // under a new name (the failed one may or may not have landed: only acknowledged ones count).
    let acked = Arc::new(parking_lot::Mutex::new(Vec::<(u64, String)>::new()));
    let mut writers = Vec::new();
    for w in 0..32 {
        let (members, acked) = (members.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut attempt = 0;
            for n in 0..25 {
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    attempt += 1;
                    let name = format!("w{w}-{n}-{attempt}");
                    let target = {
                        let m = members.lock();
                        let known = m.values().find_map(|m| m.member.leader()).filter(|l| m.contains_key(l));
                        known.and_then(|l| m.get(&l).cloned())
                    };
                    let result = match &target {
                        Some(t) => create(&t.log, name.clone()).await,
                        None => Err("no leader".into()),
                    };
                    match result {
                        Ok(rev) => {
                            acked.lock().push((rev, name));
                            break;
                        }
                        Err(e) => {
                            assert!(Instant::now() < deadline, "no write accepted within 20 s: {e}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    let stop = async {
        let stopped = members.lock().remove(&leader).unwrap();
        stopped.member.shutdown().await
    };
    let recovery = lose_leader_after(&acked, 200, stop).await;
    eprintln!("leader {leader} lost: writes accepted again after {recovery:?}");
    for w in writers {
        w.await.unwrap();
    }
    // The old leader returns (its log reopened from disk) and catches up.
    let back = Arc::new(start_log_member(&nats.url(), leader, root.path()).await);
    members.lock().insert(leader, back);

    let acked = acked.lock().clone();
    assert_eq!(acked.len(), 32 * 25);
    let deadline = Instant::now() + Duration::from_secs(20);
    let head = acked.iter().map(|(r, _)| *r).max().unwrap();
    loop {
        let heads: Vec<u64> = members.lock().values().map(|m| m.log.head()).collect();
        if heads.iter().all(|h| *h >= head) && heads.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "members did not converge: heads {heads:?}, want {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let members = members.lock();
    let mut logs = Vec::new();
    for m in members.values() {
        let events = m.log.events_after(0, 1_000_000).unwrap();
        let seq: Vec<(u64, String)> = events.iter().map(|e| (e.revision, e.name.clone())).collect();
        // Gapless from 1 to the head.
        assert!(seq.iter().enumerate().all(|(i, (r, _))| *r == i as u64 + 1), "gapless");
        // Every acknowledged write, at the revision it was acknowledged with.
        for (rev, name) in &acked {
            assert_eq!(seq.get(*rev as usize - 1).map(|(_, n)| n), Some(name), "revision {rev}");
        }
        // The projection equals a replay of the events.
        let mut replayed: BTreeMap<String, u64> = BTreeMap::new();
        for e in &events {
            replayed.insert(e.name.clone(), e.revision);
        }
        let projected: BTreeMap<String, u64> = m
            .log
            .projection()
            .list("ConfigMap", Some("default"))
            .iter()
            .map(|e| (e.name.clone(), e.revision))
            .collect();
        assert_eq!(projected, replayed);
        logs.push(seq);
    }
    assert!(logs.windows(2).all(|w| w[0] == w[1]), "identical logs on every member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_behind_the_purged_log_catches_up_from_a_snapshot() {
    let nats = NatsServer::start(None).expect("nats-server (apt-get install -y nats-server)");
    let root = tempfile::tempdir().unwrap();
    let url = nats.url();
    // Snapshots every 50 entries, nothing kept behind them: a member away for longer must be
    // sent a snapshot.
    let cfg = orca_actors::raft::openraft::Config {
        snapshot_policy: orca_actors::raft::openraft::SnapshotPolicy::LogsSinceLast(50),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..orca_actors::raft::config()
    };
    let start = |id: u64| start_log_member_with(cfg.clone(), &url, id, root.path());
    let mut members: BTreeMap<u64, LogMember> = BTreeMap::new();
    for id in 1..=3 {
        members.insert(id, start(id).await);
    }
    let peers: Vec<(u64, String)> = (1..=3).map(|i| (i, format!("m{i}"))).collect();
    members[&1].member.initialize(&peers).await.unwrap();
    let leader = members[&1].member.wait_leader(Duration::from_secs(10)).await.unwrap();
    // A follower leaves; 300 writes go on without it (several snapshots, the log purged).
    let away = (1..=3).find(|i| *i != leader).unwrap();
    let gone = members.remove(&away).unwrap();
    gone.member.shutdown().await;
    drop(gone);
    for n in 0..300 {
        create(&members[&leader].log, format!("cm-{n}")).await.unwrap();
    }
    let head = members[&leader].log.head();
    // It returns: the leader's log no longer reaches back to it, so it installs a snapshot.
    members.insert(away, start(away).await);
    let deadline = Instant::now() + Duration::from_secs(20);
    while members[&away].log.head() < head {
        assert!(
            Instant::now() < deadline,
            "member {away} at {} of {head}",
            members[&away].log.head()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names = |m: &LogMember| -> Vec<(String, u64)> {
        m.log
            .projection()
            .list("ConfigMap", Some("default"))
            .iter()
            .map(|e| (e.name.clone(), e.revision))
            .collect()
    };
    assert_eq!(
        names(&members[&away]),
        names(&members[&leader]),
        "the same objects at the same revisions"
    );
    assert_eq!(names(&members[&away]).len(), 300);
    // Restored from a snapshot: its own log starts after the snapshot's head.
    assert!(
        members[&away].log.oldest() > 1,
        "member {away} caught up from the log, not a snapshot"
    );
    // And it follows the log from there on.
    create(&members[&leader].log, "after".into()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while members[&away]
        .log
        .projection()
        .get("ConfigMap", "default", "after")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the write after the snapshot did not reach member {away}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
