//! The Job controller's decisions (pure): pods to create (with their completion index) and delete,
//! the counts, whether the Job is Complete or Failed, and when to look again (back-off, deadline).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// First back-off after a failed pod; it doubles per failure (Kubernetes' values).
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Longest back-off.
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// Where a pod of the Job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Pending or Running.
    Active,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
}

/// What the controller knows of one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPod {
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: PodPhase,
    /// Being deleted.
    pub terminating: bool,
    /// Ready condition True.
    pub ready: bool,
    /// Container restarts (failures under restartPolicy OnFailure).
    pub restarts: i64,
    /// Completion index (Indexed mode).
    pub index: Option<i64>,
    /// When it last failed (a container terminated, or the pod failed).
    pub failed_at: Option<SystemTime>,
}

/// The Job's spec and progress as the plan reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFacts {
    /// Pods at once.
    pub parallelism: i64,
    /// Successes needed (None: the first success with none active completes it).
    pub completions: Option<i64>,
    /// Failures allowed.
    pub backoff_limit: i64,
    /// Seconds from start before the Job fails.
    pub active_deadline: Option<i64>,
    /// Indexed completion mode.
    pub indexed: bool,
    /// Suspended: no pods run.
    pub suspend: bool,
    /// When it started.
    pub start: Option<SystemTime>,
}

/// How the Job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still going.
    Running,
    /// Every completion done.
    Complete,
    /// Gave up: reason and message of the Failed condition.
    Failed(&'static str, String),
}

/// What to do now.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// Pods to create, each with its completion index in Indexed mode.
    pub create: Vec<Option<i64>>,
    /// Pods to delete.
    pub delete: Vec<String>,
    /// Active pods (after the deletes).
    pub active: i64,
    /// Ready among the active.
    pub ready: i64,
    /// Successes.
    pub succeeded: i64,
    /// Failures (failed pods, plus restarts under OnFailure).
    pub failed: i64,
    /// Succeeded indexes as Kubernetes writes them (`0-2,4`), Indexed mode.
    pub completed_indexes: String,
    /// The verdict.
    pub outcome: Outcome,
    /// Look again after this long (back-off or deadline), if nothing else happens first.
    pub recheck: Option<Duration>,
}

/// The back-off before the next pod after `failures` failures.
pub fn backoff(failures: i64) -> Duration {
    if failures <= 0 {
        return Duration::ZERO;
    }
    let shift = (failures - 1).min(16) as u32;
    BACKOFF_BASE.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

/// `0-2,4,6-7` for a set of indexes.
pub fn compress(indexes: &BTreeSet<i64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    for &i in indexes {
        run = match run {
            Some((a, b)) if i == b + 1 => Some((a, i)),
            Some((a, b)) => {
                out.push(if a == b { a.to_string() } else { format!("{a}-{b}") });
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some((a, b)) = run {
        out.push(if a == b { a.to_string() } else { format!("{a}-{b}") });
    }
    out.join(",")
}

/// Decides for one Job.
pub fn plan(f: &JobFacts, pods: &[JobPod], now: SystemTime) -> JobPlan {
    let active: Vec<&JobPod> = pods
        .iter()
        .filter(|p| p.phase == PodPhase::Active && !p.terminating)
        .collect();
    let failed = pods.iter().filter(|p| p.phase == PodPhase::Failed).count() as i64
        + pods.iter().map(|p| p.restarts).sum::<i64>();
    let done_indexes: BTreeSet<i64> = pods
        .iter()
        .filter(|p| p.phase == PodPhase::Succeeded)
        .filter_map(|p| p.index)
        .filter(|i| f.completions.is_none_or(|c| *i < c))
        .collect();
    let succeeded = if f.indexed {
        done_indexes.len() as i64
    } else {
        pods.iter().filter(|p| p.phase == PodPhase::Succeeded).count() as i64
    };
    let mut out = JobPlan {
        create: Vec::new(),
        delete: Vec::new(),
        active: active.len() as i64,
        ready: active.iter().filter(|p| p.ready).count() as i64,
        succeeded,
        failed,
        completed_indexes: if f.indexed {
            compress(&done_indexes)
        } else {
            String::new()
        },
        outcome: Outcome::Running,
        recheck: None,
    };
    let stop_all = |out: &mut JobPlan| {
        out.delete = active.iter().map(|p| p.name.clone()).collect();
        out.active = 0;
        out.ready = 0;
    };
    let complete = match f.completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };
    if complete {
        out.outcome = Outcome::Complete;
        stop_all(&mut out);
        return out;
    }
    if failed > f.backoff_limit {
        out.outcome = Outcome::Failed(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit".into(),
        );
        stop_all(&mut out);
        return out;
    }
    if let (Some(d), Some(start)) = (f.active_deadline, f.start) {
        let deadline = start + Duration::from_secs(d.max(0) as u64);
        match deadline.duration_since(now) {
            Ok(left) if !left.is_zero() => out.recheck = Some(left),
            _ => {
                out.outcome = Outcome::Failed(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline".into(),
                );
                stop_all(&mut out);
                return out;
            }
        }
    }
    if f.suspend {
        stop_all(&mut out);
        return out;
    }
    let have = active.len() as i64;
    let want = match f.completions {
        Some(c) => f.parallelism.min(c - succeeded).max(0),
        // A work queue: after the first success the running pods finish, none is added.
        None if succeeded > 0 => have,
        None => f.parallelism.max(0),
    };
    if have > want {
        // The newest extra pods go (names sort by creation only loosely; any extra will do).
        let mut extra: Vec<&&JobPod> = active.iter().collect();
        extra.sort_by(|a, b| b.name.cmp(&a.name));
        out.delete = extra
            .iter()
            .take((have - want) as usize)
            .map(|p| p.name.clone())
            .collect();
        out.active = want;
        return out;
    }
    if have == want {
        return out;
    }
    // A failure holds new pods back for the back-off, counted from the last failure.
    if failed > 0 {
        let last = pods.iter().filter_map(|p| p.failed_at).max().unwrap_or(now);
        let ready_at = last + backoff(failed);
        if let Ok(left) = ready_at.duration_since(now) {
            if !left.is_zero() {
                out.recheck = Some(out.recheck.map_or(left, |r| r.min(left)));
                return out;
            }
        }
    }
    let n = (want - have) as usize;
    if f.indexed {
        let busy: BTreeSet<i64> = active.iter().filter_map(|p| p.index).collect();
        let c = f.completions.unwrap_or(0);
        out.create = (0..c)
            .filter(|i| !done_indexes.contains(i) && !busy.contains(i))
            .take(n)
            .map(Some)
            .collect();
    } else {
        out.create = vec![None; n];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> JobFacts {
        JobFacts {
            parallelism: 2,
            completions: Some(3),
            backoff_limit: 2,
            active_deadline: None,
            indexed: false,
            suspend: false,
            start: Some(SystemTime::UNIX_EPOCH),
        }
    }

    fn pod(name: &str, phase: PodPhase, index: Option<i64>) -> JobPod {
        JobPod {
            name: name.into(),
            phase,
            terminating: false,
            ready: false,
            restarts: 0,
            index,
            failed_at: Some(SystemTime::UNIX_EPOCH),
        }
    }

    #[test]
    fn runs_parallelism_pods_until_completions() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        assert_eq!(plan(&facts(), &[], now).create.len(), 2);
        let pods = [pod("a", PodPhase::Succeeded, None), pod("b", PodPhase::Active, None)];
        assert_eq!(plan(&facts(), &pods, now).create.len(), 1);
        let pods = [
            pod("a", PodPhase::Succeeded, None),
            pod("b", PodPhase::Succeeded, None),
            pod("c", PodPhase::Active, None),
        ];
        let p = plan(&facts(), &pods, now);
        assert!(p.create.is_empty(), "only one completion is left and one pod runs");
        let mut done = pods.to_vec();
        done[2].phase = PodPhase::Succeeded;
        assert_eq!(plan(&facts(), &done, now).outcome, Outcome::Complete);
    }

    #[test]
    fn failures_back_off_then_exhaust_the_limit() {
        let f = facts();
        let failed = [pod("a", PodPhase::Failed, None)];
        let soon = SystemTime::UNIX_EPOCH + Duration::from_secs(3);
        let p = plan(&f, &failed, soon);
        assert!(p.create.is_empty());
        assert_eq!(p.recheck, Some(Duration::from_secs(7)));
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(11);
        assert_eq!(plan(&f, &failed, later).create.len(), 2);
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(10), BACKOFF_MAX);
        let three = [
            pod("a", PodPhase::Failed, None),
            pod("b", PodPhase::Failed, None),
            pod("c", PodPhase::Failed, None),
            pod("d", PodPhase::Active, None),
        ];
        let p = plan(&f, &three, later);
        assert!(matches!(p.outcome, Outcome::Failed("BackoffLimitExceeded", _)));
        assert_eq!(p.delete, vec!["d".to_string()]);
    }

    #[test]
    fn the_deadline_fails_the_job_and_stops_its_pods() {
        let f = JobFacts {
            active_deadline: Some(10),
            ..facts()
        };
        let pods = [pod("a", PodPhase::Active, None)];
        let p = plan(&f, &pods, SystemTime::UNIX_EPOCH + Duration::from_secs(4));
        assert_eq!(p.recheck, Some(Duration::from_secs(6)));
        let p = plan(&f, &pods, SystemTime::UNIX_EPOCH + Duration::from_secs(10));
        assert!(matches!(p.outcome, Outcome::Failed("DeadlineExceeded", _)));
        assert_eq!(p.delete.len(), 1);
    }

    #[test]
    fn indexed_jobs_fill_the_lowest_missing_indexes() {
        let f = JobFacts {
            indexed: true,
            completions: Some(5),
            parallelism: 2,
            ..facts()
        };
        let pods = [
            pod("a", PodPhase::Succeeded, Some(0)),
            pod("a2", PodPhase::Succeeded, Some(0)),
            pod("b", PodPhase::Active, Some(1)),
            pod("c", PodPhase::Succeeded, Some(3)),
        ];
        let p = plan(&f, &pods, SystemTime::UNIX_EPOCH);
        assert_eq!(p.create, vec![Some(2)]);
        assert_eq!(p.succeeded, 2);
        assert_eq!(p.completed_indexes, "0,3");
        let set: BTreeSet<i64> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(compress(&set), "0-2,4,6-7");
    }

    #[test]
    fn without_completions_the_first_success_ends_the_job_once_the_rest_stop() {
        let f = JobFacts {
            completions: None,
            ..facts()
        };
        assert_eq!(plan(&f, &[], SystemTime::UNIX_EPOCH).create.len(), 2);
        let pods = [pod("a", PodPhase::Succeeded, None), pod("b", PodPhase::Active, None)];
        let p = plan(&f, &pods, SystemTime::UNIX_EPOCH);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(plan(&f, &pods[..1], SystemTime::UNIX_EPOCH).outcome, Outcome::Complete);
    }
}
