//! The CronJob controller's decisions (pure): the most recent time the schedule was due, whether
//! to start a Job for it (starting deadline, concurrency policy, suspend), which finished Jobs
//! fall out of the history limits, and when the schedule fires next.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use orca_schemas::cron::Schedule;

/// Due times looked through one by one before a recent window is searched instead.
pub const MAX_MISSED: usize = 100;

/// `spec.concurrencyPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Jobs may overlap.
    Allow,
    /// A due time is skipped while a Job runs.
    Forbid,
    /// The running Jobs are replaced by the new one.
    Replace,
}

impl Policy {
    /// Reads the policy (Allow when absent or unknown).
    pub fn parse(s: Option<&str>) -> Policy {
        match s {
            Some("Forbid") => Policy::Forbid,
            Some("Replace") => Policy::Replace,
            _ => Policy::Allow,
        }
    }
}

/// What the plan reads of the CronJob.
#[derive(Debug, Clone)]
pub struct CronFacts {
    /// The schedule.
    pub schedule: Schedule,
    /// Its time zone.
    pub tz: TimeZone,
    /// Seconds after a due time within which a Job may still start.
    pub starting_deadline: Option<i64>,
    /// Concurrency policy.
    pub policy: Policy,
    /// No new Jobs.
    pub suspend: bool,
    /// `status.lastScheduleTime`.
    pub last_schedule: Option<Timestamp>,
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// Successful Jobs kept.
    pub successful_limit: usize,
    /// Failed Jobs kept.
    pub failed_limit: usize,
}

/// One Job the CronJob owns.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildJob {
    /// Name.
    pub name: String,
    /// The due time it was made for.
    pub scheduled: Option<Timestamp>,
    /// Finished: succeeded or not, and when.
    pub finished: Option<(bool, Timestamp)>,
}

/// What to do now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CronPlan {
    /// Start a Job for this due time.
    pub create: Option<Timestamp>,
    /// Running Jobs to delete first (Replace).
    pub replace: Vec<String>,
    /// Finished Jobs beyond the history limits.
    pub prune: Vec<String>,
    /// Why a due time was not started.
    pub skipped: Option<&'static str>,
    /// More than [`MAX_MISSED`] due times were missed.
    pub many_missed: bool,
    /// The next due time after now.
    pub next: Option<Timestamp>,
}

/// The most recent due time in `(since, now]`, and whether more than [`MAX_MISSED`] were missed.
pub fn most_recent(s: &Schedule, tz: &TimeZone, since: Timestamp, now: Timestamp) -> (Option<Timestamp>, bool) {
    let mut latest = None;
    let mut t = since;
    for _ in 0..=MAX_MISSED {
        match s.next_after(t, tz) {
            Some(n) if n <= now => {
                latest = Some(n);
                t = n;
            }
            _ => return (latest, false),
        }
    }
    // Many missed: search back from now in growing windows.
    let mut window = SignedDuration::from_hours(1);
    while now - window > t {
        let mut cur = now - window;
        let mut found = None;
        while let Some(n) = s.next_after(cur, tz).filter(|n| *n <= now) {
            found = Some(n);
            cur = n;
        }
        if found.is_some() {
            return (found, true);
        }
        window *= 4;
    }
    let mut cur = t;
    while let Some(n) = s.next_after(cur, tz).filter(|n| *n <= now) {
        latest = Some(n);
        cur = n;
    }
    (latest, true)
}

/// Decides for one CronJob.
pub fn plan(f: &CronFacts, jobs: &[ChildJob], now: Timestamp) -> CronPlan {
    let mut out = CronPlan {
        next: f.schedule.next_after(now, &f.tz),
        ..Default::default()
    };
    let mut prune = |success: bool, limit: usize| {
        let mut done: Vec<&ChildJob> = jobs
            .iter()
            .filter(|j| j.finished.is_some_and(|(ok, _)| ok == success))
            .collect();
        done.sort_by_key(|j| std::cmp::Reverse(j.scheduled.or(j.finished.map(|f| f.1))));
        out.prune.extend(done.iter().skip(limit).map(|j| j.name.clone()));
    };
    prune(true, f.successful_limit);
    prune(false, f.failed_limit);
    if f.suspend {
        return out;
    }
    let mut since = f.last_schedule.unwrap_or(f.created);
    if let Some(d) = f.starting_deadline {
        since = since.max(now - SignedDuration::from_secs(d));
    }
    let (due, many) = most_recent(&f.schedule, &f.tz, since, now);
    out.many_missed = many;
    let Some(due) = due else { return out };
    if jobs.iter().any(|j| j.scheduled == Some(due)) {
        return out;
    }
    let active: Vec<&ChildJob> = jobs.iter().filter(|j| j.finished.is_none()).collect();
    match f.policy {
        Policy::Forbid if !active.is_empty() => {
            out.skipped = Some("JobAlreadyActive");
            return out;
        }
        Policy::Replace => out.replace = active.iter().map(|j| j.name.clone()).collect(),
        _ => {}
    }
    out.create = Some(due);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn facts(schedule: &str) -> CronFacts {
        CronFacts {
            schedule: Schedule::parse(schedule).unwrap(),
            tz: TimeZone::UTC,
            starting_deadline: None,
            policy: Policy::Allow,
            suspend: false,
            last_schedule: None,
            created: at("2026-11-29T10:00:30Z"),
            successful_limit: 1,
            failed_limit: 1,
        }
    }

    fn job(name: &str, scheduled: &str, finished: Option<bool>) -> ChildJob {
        ChildJob {
            name: name.into(),
            scheduled: Some(at(scheduled)),
            finished: finished.map(|ok| (ok, at(scheduled))),
        }
    }

    #[test]
    fn starts_the_most_recent_due_time_once() {
        let f = facts("*/5 * * * *");
        let p = plan(&f, &[], at("2026-11-29T10:12:00Z"));
        assert_eq!(p.create, Some(at("2026-11-29T10:10:00Z")));
        assert_eq!(p.next, Some(at("2026-11-29T10:15:00Z")));
        let made = [job("a", "2026-11-29T10:10:00Z", None)];
        assert_eq!(plan(&f, &made, at("2026-11-29T10:12:00Z")).create, None);
        assert_eq!(
            plan(&f, &[], at("2026-11-29T10:04:00Z")).create,
            None,
            "not due since creation"
        );
    }

    #[test]
    fn concurrency_policies_and_the_starting_deadline() {
        let running = [job("old", "2026-11-29T10:05:00Z", None)];
        let now = at("2026-11-29T10:10:20Z");
        let forbid = CronFacts {
            policy: Policy::Forbid,
            ..facts("*/5 * * * *")
        };
        let p = plan(&forbid, &running, now);
        assert_eq!((p.create, p.skipped), (None, Some("JobAlreadyActive")));
        let replace = CronFacts {
            policy: Policy::Replace,
            ..facts("*/5 * * * *")
        };
        let p = plan(&replace, &running, now);
        assert_eq!(p.replace, vec!["old".to_string()]);
        assert_eq!(p.create, Some(at("2026-11-29T10:10:00Z")));
        let late = CronFacts {
            starting_deadline: Some(10),
            ..facts("*/5 * * * *")
        };
        assert_eq!(plan(&late, &[], now).create, None, "20 s late with a 10 s deadline");
        assert!(plan(
            &CronFacts {
                suspend: true,
                ..facts("* * * * *")
            },
            &[],
            now
        )
        .create
        .is_none());
    }

    #[test]
    fn history_limits_prune_the_oldest_finished_jobs() {
        let jobs = [
            job("s1", "2026-11-29T10:01:00Z", Some(true)),
            job("s2", "2026-11-29T10:02:00Z", Some(true)),
            job("f1", "2026-11-29T10:03:00Z", Some(false)),
            job("f2", "2026-11-29T10:04:00Z", Some(false)),
            job("r", "2026-11-29T10:05:00Z", None),
        ];
        let mut p = plan(&facts("0 0 1 1 *"), &jobs, at("2026-11-29T10:06:00Z")).prune;
        p.sort();
        assert_eq!(p, vec!["f1".to_string(), "s1".to_string()]);
    }

    #[test]
    fn many_missed_times_still_find_the_latest_quickly() {
        let f = CronFacts {
            created: at("2026-01-01T00:00:00Z"),
            ..facts("* * * * *")
        };
        let started = std::time::Instant::now();
        let p = plan(&f, &[], at("2026-11-29T10:06:30Z"));
        assert_eq!(p.create, Some(at("2026-11-29T10:06:00Z")));
        assert!(p.many_missed);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
