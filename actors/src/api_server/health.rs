//! Truthful health: `/readyz` checks the log writer, NATS and the control-plane actors; `/livez`
//! checks the log writer. `?verbose` lists every check, as Kubernetes does.

use std::sync::Arc;

use parking_lot::RwLock;

/// One named check: Ok, or why not.
pub type Check = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The checks `/readyz` runs (the log's own check is always first).
#[derive(Clone, Default)]
pub struct Checks {
    ready: Arc<RwLock<Vec<(String, Check)>>>,
}

impl Checks {
    /// Adds a readiness check.
    pub fn add(&self, name: &str, check: Check) {
        self.ready.write().push((name.to_string(), check));
    }

    /// Runs the checks: each name with its outcome.
    pub fn run(&self) -> Vec<(String, Result<(), String>)> {
        self.ready.read().iter().map(|(n, c)| (n.clone(), c())).collect()
    }
}

/// The body and status of a health endpoint from check outcomes.
pub fn report(endpoint: &str, outcomes: &[(String, Result<(), String>)], verbose: bool) -> (u16, String) {
    let ok = outcomes.iter().all(|(_, r)| r.is_ok());
    let mut body = String::new();
    if verbose || !ok {
        for (name, r) in outcomes {
            match r {
                Ok(()) => body.push_str(&format!("[+]{name} ok\n")),
                Err(why) => body.push_str(&format!("[-]{name} failed: {why}\n")),
            }
        }
    }
    if ok {
        if verbose {
            body.push_str(&format!("{endpoint} check passed\n"));
        } else {
            body.push_str("ok");
        }
        (200, body)
    } else {
        body.push_str(&format!("{endpoint} check failed\n"));
        (503, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_list_each_check() {
        let c = Checks::default();
        c.add("log", Arc::new(|| Ok(())));
        c.add("nats", Arc::new(|| Err("disconnected".into())));
        let (code, body) = report("readyz", &c.run(), false);
        assert_eq!(code, 503);
        assert!(
            body.contains("[+]log ok\n[-]nats failed: disconnected\nreadyz check failed"),
            "{body}"
        );
        let (code, body) = report("livez", &c.run()[..1], false);
        assert_eq!((code, body.as_str()), (200, "ok"));
        let (_, body) = report("livez", &c.run()[..1], true);
        assert_eq!(body, "[+]log ok\nlivez check passed\n");
    }
}
