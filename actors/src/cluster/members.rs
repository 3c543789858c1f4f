//! A member of a replicated control plane (`orca server --peers`): its Raft member on a runtime of
//! its own, joined to the others over NATS; while it leads it also runs the scheduler, the
//! controllers and the cluster DNS (one copy in the cluster, as Kubernetes' leader election gives).

use std::sync::{Arc, OnceLock};

use super::plane::{Error, PlaneOptions};
use crate::api_server::forward::Replica;
use crate::api_server::ApiCore;
use crate::eventlog::replicated::{LogMachine, Replication};
use crate::raft::Member;

/// The NATS subject space of the control plane's members.
pub const CLUSTER: &str = "orca";

/// Raft's runtime: its own threads, so that replication never waits behind the actors.
fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("orca-raft")
        .enable_all()
        .build()
        .map_err(|e| Error::Security(format!("starting the Raft runtime: {e}")))?;
    Ok(RT.get_or_init(|| rt))
}

/// A member's Raft id: a hash of its name (FNV-1a), so that every member and the leader adding
/// one agree on it without a registry.
pub fn member_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// This member's id, once it is found among `--peers`.
fn own_id(opts: &PlaneOptions) -> Result<u64, Error> {
    if opts.peers.contains(&opts.member) {
        Ok(member_id(&opts.member))
    } else {
        Err(Error::Security(format!(
            "--member {:?} is not one of --peers {}",
            opts.member,
            opts.peers.join(",")
        )))
    }
}

/// Starts this member's Raft over `machine`, connects the log's writer to Raft, and, on the first
/// of `--peers` with an empty log, makes the first membership (a member added later never does:
/// the leader brings it in, `orca members add`).
pub async fn join(
    opts: &PlaneOptions,
    machine: Arc<LogMachine>,
    replication: &Replication,
) -> Result<Arc<Replica>, Error> {
    let id = own_id(opts)?;
    let first = opts.peers.first() == Some(&opts.member);
    let rt = runtime()?;
    let (url, creds, dir) = (
        opts.nats_url.clone(),
        opts.nats_credentials.clone(),
        opts.data_dir.clone(),
    );
    let peers: Vec<(u64, String)> = opts.peers.iter().map(|p| (member_id(p), p.clone())).collect();
    let name = opts.member.clone();
    let started = rt.spawn(async move {
        let nats = crate::bus::connect_as(&url, &format!("orca-member-{name}"), &creds)
            .await
            .map_err(|e| e.to_string())?;
        let member = Member::start(crate::raft::config(), nats.clone(), CLUSTER, id, &dir, machine).await?;
        if first {
            member.initialize(&peers).await?;
        }
        Ok::<_, String>((Arc::new(member), nats))
    });
    let (member, nats) = started
        .await
        .map_err(|e| Error::Security(format!("control-plane member: {e}")))?
        .map_err(|e| Error::Security(format!("control-plane member: {e}")))?;
    let mut metrics = member.raft.metrics();
    let me = opts.member.clone();
    rt.spawn(async move {
        let mut last = None;
        loop {
            let now = {
                let m = metrics.borrow_and_update();
                (m.current_leader, m.current_term)
            };
            if Some(now) != last {
                tracing::info!("member {me}: leader {:?} in term {}", now.0, now.1);
                last = Some(now);
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
    let (m, handle) = (member.clone(), rt.handle().clone());
    replication.connect(Box::new(move |entry| {
        handle.block_on(m.write(entry)).map_err(|e| e.to_string())
    }));
    Ok(Arc::new(Replica {
        member,
        nats,
        cluster: CLUSTER.into(),
    }))
}

/// Once this member leads: bootstraps a new log, then starts the scheduler, controllers and DNS.
/// A member that loses the lead after that starts again as a follower (the same process, the
/// same arguments), so that two copies of the controllers never run.
pub fn lead_when_elected(
    replica: Arc<Replica>,
    core: ApiCore,
    nats: async_nats::Client,
    opts: PlaneOptions,
    ca: String,
) {
    actix::spawn(async move {
        let id = replica.member.id;
        let mut metrics = replica.member.raft.metrics();
        if metrics.wait_for(|m| m.current_leader == Some(id)).await.is_err() {
            return;
        }
        let mut pause = std::time::Duration::from_millis(50);
        while let Err(e) = super::plane::bootstrap(&core, &ca).await {
            tracing::warn!("bootstrapping the log: {e}; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(2));
        }
        match super::plane::lead(&core, &nats, &opts).await {
            Ok(dns) => tracing::info!(
                "member {} leads: the scheduler, controllers and cluster DNS ({dns}) run here",
                opts.member
            ),
            Err(e) => tracing::error!("member {} leads but could not start its controllers: {e}", opts.member),
        }
        let _ = metrics.wait_for(|m| m.current_leader != Some(id)).await;
        restart_as_follower(&opts.member);
    });
}

/// Replaces this process with a fresh start of itself: its controllers stop, its log and Raft
/// state are read again from disk, and it rejoins as a follower.
fn restart_as_follower(member: &str) -> ! {
    use std::os::unix::process::CommandExt;
    eprintln!("member {member} is no longer the control-plane leader: starting again as a follower");
    let err = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe).args(std::env::args_os().skip(1)).exec(),
        Err(e) => e,
    };
    eprintln!("member {member} could not start again ({err}): exiting");
    std::process::exit(75);
}
