//! The StatefulSet controller's decisions (pure): pods `<name>-<ordinal>`, created in order (each
//! Running and Ready before the next) or all at once, removed from the highest ordinal down, and
//! rolled from the highest ordinal down to `partition`.

/// One pod of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsPod {
    /// Ordinal.
    pub ordinal: i64,
    /// Name.
    pub name: String,
    /// Template hash.
    pub hash: String,
    /// Running and Ready.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Phase Failed (or Succeeded: a set's pods should never end).
    pub finished: bool,
}

/// How the set changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsFacts {
    /// Pods wanted.
    pub replicas: i64,
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    /// RollingUpdate (false: OnDelete).
    pub rolling: bool,
    /// Ordinals below this keep the old template.
    pub partition: i64,
}

/// What to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsPlan {
    /// Ordinals to create.
    pub create: Vec<i64>,
    /// Pods to delete.
    pub delete: Vec<String>,
    /// Live pods.
    pub replicas: i64,
    /// Ready pods.
    pub ready: i64,
    /// Pods with the current template.
    pub updated: i64,
}

/// Decides for a set whose template hashes to `hash`.
pub fn plan(f: &SsFacts, pods: &[SsPod], hash: &str) -> SsPlan {
    let mut out = SsPlan::default();
    let mut sorted: Vec<&SsPod> = pods.iter().collect();
    sorted.sort_by_key(|p| p.ordinal);
    let live: Vec<&SsPod> = sorted.iter().copied().filter(|p| !p.terminating).collect();
    out.replicas = live.len() as i64;
    out.ready = live.iter().filter(|p| p.ready).count() as i64;
    out.updated = live.iter().filter(|p| p.hash == hash).count() as i64;
    let at = |o: i64| sorted.iter().copied().find(|p| p.ordinal == o);

    // Finished pods are replaced: delete now, create when gone.
    for p in &live {
        if p.finished {
            out.delete.push(p.name.clone());
        }
    }
    if !out.delete.is_empty() && !f.parallel {
        return out;
    }
    let mut blocked = false;
    for o in 0..f.replicas.max(0) {
        match at(o) {
            None => {
                out.create.push(o);
                if !f.parallel {
                    return out;
                }
            }
            Some(p) if p.terminating || p.finished || !p.ready => blocked = true,
            Some(_) => {}
        }
        if blocked && !f.parallel {
            return out;
        }
    }
    // Scale down from the highest ordinal, one at a time unless Parallel.
    let condemned: Vec<&SsPod> = live.iter().rev().copied().filter(|p| p.ordinal >= f.replicas).collect();
    if !condemned.is_empty() {
        let going = sorted.iter().any(|p| p.terminating && p.ordinal >= f.replicas);
        if f.parallel {
            out.delete.extend(condemned.iter().map(|p| p.name.clone()));
        } else if !going && !blocked {
            out.delete.push(condemned[0].name.clone());
        }
        return out;
    }
    if !f.rolling || blocked || sorted.iter().any(|p| p.terminating) {
        return out;
    }
    // Roll: the highest ordinal at or above the partition with an old template goes.
    if let Some(p) = live
        .iter()
        .rev()
        .find(|p| p.ordinal >= f.partition && p.ordinal < f.replicas && p.hash != hash)
    {
        out.delete.push(p.name.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(o: i64, hash: &str, ready: bool) -> SsPod {
        SsPod {
            ordinal: o,
            name: format!("web-{o}"),
            hash: hash.into(),
            ready,
            terminating: false,
            finished: false,
        }
    }

    fn facts(replicas: i64) -> SsFacts {
        SsFacts {
            replicas,
            parallel: false,
            rolling: true,
            partition: 0,
        }
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        assert_eq!(plan(&facts(3), &[], "h").create, vec![0]);
        assert!(plan(&facts(3), &[pod(0, "h", false)], "h").create.is_empty());
        assert_eq!(plan(&facts(3), &[pod(0, "h", true)], "h").create, vec![1]);
        let parallel = SsFacts {
            parallel: true,
            ..facts(3)
        };
        assert_eq!(plan(&parallel, &[pod(1, "h", false)], "h").create, vec![0, 2]);
    }

    #[test]
    fn scale_down_goes_from_the_highest_ordinal_one_at_a_time() {
        let pods = [pod(0, "h", true), pod(1, "h", true), pod(2, "h", true)];
        assert_eq!(plan(&facts(1), &pods, "h").delete, vec!["web-2".to_string()]);
        let mut going = pods.to_vec();
        going[2].terminating = true;
        assert!(plan(&facts(1), &going, "h").delete.is_empty(), "waits for web-2 to go");
    }

    #[test]
    fn rolling_update_goes_down_to_the_partition() {
        let pods = [pod(0, "old", true), pod(1, "old", true), pod(2, "old", true)];
        assert_eq!(plan(&facts(3), &pods, "new").delete, vec!["web-2".to_string()]);
        let pods = [pod(0, "old", true), pod(1, "old", true), pod(2, "new", true)];
        let part = SsFacts {
            partition: 2,
            ..facts(3)
        };
        assert!(
            plan(&part, &pods, "new").delete.is_empty(),
            "ordinals below the partition keep the old template"
        );
        assert_eq!(plan(&facts(3), &pods, "new").delete, vec!["web-1".to_string()]);
        let on_delete = SsFacts {
            rolling: false,
            ..facts(3)
        };
        assert!(plan(&on_delete, &pods, "new").delete.is_empty());
        let unready = [pod(0, "old", true), pod(1, "old", false), pod(2, "new", true)];
        assert!(
            plan(&facts(3), &unready, "new").delete.is_empty(),
            "waits for every pod to be ready"
        );
    }
}
