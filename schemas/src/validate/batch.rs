//! Validation of CronJobs: the schedule parses, the time zone exists, policies and limits are
//! known values, and the job template is a valid Job.

use super::workloads::validate_job_spec;
use super::{Errors, Path};
use crate::cron::{time_zone, Schedule};
use crate::kinds::batch::CronJob;

/// Longest CronJob name: its Jobs add `-` and the scheduled minute (11 characters) to it.
pub const MAX_NAME: usize = 52;

/// Checks a CronJob.
pub fn validate_cronjob(c: &CronJob, errs: &mut Errors) {
    let spec = Path::new("spec");
    if let Some(name) = &c.metadata.name {
        if name.len() > MAX_NAME {
            errs.invalid(
                &Path::new("metadata").child("name"),
                name,
                "must be no more than 52 characters",
            );
        }
    }
    if c.spec.schedule.trim().is_empty() {
        errs.required(&spec.child("schedule"), "a cron schedule such as \"*/5 * * * *\"");
    } else if let Err(e) = Schedule::parse(&c.spec.schedule) {
        errs.invalid(&spec.child("schedule"), &c.spec.schedule, &e);
    }
    if let Some(tz) = &c.spec.time_zone {
        if let Err(e) = time_zone(Some(tz)) {
            errs.invalid(&spec.child("timeZone"), tz, &e);
        }
    }
    if let Some(p) = &c.spec.concurrency_policy {
        errs.one_of(&spec.child("concurrencyPolicy"), p, &["Allow", "Forbid", "Replace"]);
    }
    for (field, v) in [
        ("startingDeadlineSeconds", c.spec.starting_deadline_seconds),
        ("successfulJobsHistoryLimit", c.spec.successful_jobs_history_limit),
        ("failedJobsHistoryLimit", c.spec.failed_jobs_history_limit),
    ] {
        if let Some(v) = v {
            errs.at_least(&spec.child(field), v, 0);
        }
    }
    validate_job_spec(
        &c.spec.job_template.spec,
        &spec.child("jobTemplate").child("spec"),
        errs,
    );
}
