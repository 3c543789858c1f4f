//! Cron schedules as CronJobs take them: five fields (minute, hour, day of month, month, day of
//! week) with `*`, `?`, lists, ranges, steps and names, the `@hourly`-style macros, and the next
//! time a schedule fires in a time zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day of month and day of week both restricted: a day matches either (cron's rule).
    either_day: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, lo: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + lo);
    }
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}

/// Parses one field into a bit set of values in `lo..=hi`; returns the set and whether it was `*`.
fn field(s: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let star = s == "*" || s == "?";
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (
                r,
                st.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: step {st:?} must be a positive number"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, lo, names)?, value(b, lo, names)?)
        } else {
            let a = value(range, lo, names)?;
            (a, if part.contains('/') { hi } else { a })
        };
        // Sunday may be written 7.
        let (a, b) = if what == "day of week" { (a, b.min(7)) } else { (a, b) };
        if a < lo || b > hi.max(if what == "day of week" { 7 } else { hi }) || a > b {
            return Err(format!("{what}: {part:?} is outside {lo}-{hi}"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << (if what == "day of week" { v % 7 } else { v });
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    /// Parses a schedule; the error says which field is wrong.
    pub fn parse(s: &str) -> Result<Schedule, String> {
        let s = s.trim();
        if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
            return Err("a time zone in the schedule is not supported: use spec.timeZone".into());
        }
        let expanded = match s {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => return Err(format!("unknown macro {other:?}")),
            other => other,
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                f.len()
            ));
        }
        let (minutes, _) = field(f[0], 0, 59, &[], "minute")?;
        let (hours, _) = field(f[1], 0, 23, &[], "hour")?;
        let (days, dom_star) = field(f[2], 1, 31, &[], "day of month")?;
        let (months, _) = field(f[3], 1, 12, &MONTHS, "month")?;
        let (weekdays, dow_star) = field(f[4], 0, 6, &DAYS, "day of week")?;
        Ok(Schedule {
            minutes,
            hours,
            days,
            months,
            weekdays,
            either_day: !dom_star && !dow_star,
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first time after `after` (strictly) the schedule fires in `tz`; None when it never
    /// does within five years (`0 0 30 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = tz.to_datetime(after);
        let mut day = start.date();
        for _ in 0..(366 * 5) {
            if self.day_matches(day) {
                for h in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for m in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let dt = DateTime::from_parts(day, jiff::civil::time(h as i8, m as i8, 0, 0));
                        let Ok(t) = tz.to_ambiguous_timestamp(dt).compatible() else {
                            continue;
                        };
                        if t > after {
                            return Some(t);
                        }
                    }
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// The time zone a CronJob names (`spec.timeZone`), or the local one when it names none.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None | Some("") => Ok(TimeZone::system()),
        Some(n) => TimeZone::get(n).map_err(|_| format!("unknown time zone {n:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_fields_names_steps_and_macros() {
        assert!(Schedule::parse("*/15 9-17 * * MON-FRI").is_ok());
        assert!(Schedule::parse("0 0 1 jan,jul *").is_ok());
        assert_eq!(Schedule::parse("@daily"), Schedule::parse("0 0 * * *"));
        assert_eq!(Schedule::parse("0 0 * * 7"), Schedule::parse("0 0 * * 0"));
        assert!(Schedule::parse("60 * * * *").unwrap_err().contains("minute"));
        assert!(Schedule::parse("* * *").unwrap_err().contains("5 fields"));
        assert!(Schedule::parse("*/0 * * * *").is_err());
        assert!(Schedule::parse("TZ=UTC * * * * *").unwrap_err().contains("timeZone"));
    }

    #[test]
    fn finds_the_next_time_in_a_time_zone() {
        let utc = TimeZone::UTC;
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-29T10:07:30Z"), &utc),
            Some(at("2026-11-29T10:15:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-11-29T10:15:00Z"), &utc),
            Some(at("2026-11-29T10:30:00Z"))
        );
        // 2026-11-29 is a Sunday; the next weekday 09:00.
        let s = Schedule::parse("0 9 * * MON-FRI").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-29T10:00:00Z"), &utc),
            Some(at("2026-11-30T09:00:00Z"))
        );
        // Day of month OR day of week when both are given.
        let s = Schedule::parse("0 0 1 * MON").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-29T10:00:00Z"), &utc),
            Some(at("2026-11-30T00:00:00Z"))
        );
        let tokyo = time_zone(Some("Asia/Tokyo")).unwrap();
        let s = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-29T10:00:00Z"), &tokyo),
            Some(at("2026-11-30T00:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z"), &utc),
            None
        );
        assert!(time_zone(Some("Mars/Olympus")).is_err());
    }
}
