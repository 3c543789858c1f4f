//! TaintToleration: NoSchedule and NoExecute taints repel pods that do not tolerate them.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out nodes with an untolerated NoSchedule/NoExecute taint.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    match node
        .taints
        .iter()
        .find(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !pod.tolerates(t))
    {
        Some(t) => Err(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or("")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use orca_schemas::kinds::cluster::Taint;
    use orca_schemas::kinds::pod::Toleration;

    #[test]
    fn tolerations_match_key_value_effect() {
        let mut n = node("n", 1, 1);
        n.taints.push(Taint {
            time_added: None,
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
        });
        let mut p = pod(0, 0);
        assert_eq!(
            filter(&p, &n).unwrap_err(),
            "node(s) had untolerated taint {dedicated: gpu}"
        );
        p.tolerations.push(Toleration {
            key: Some("dedicated".into()),
            operator: Some("Equal".into()),
            value: Some("cpu".into()),
            effect: None,
            toleration_seconds: None,
        });
        assert!(filter(&p, &n).is_err(), "wrong value");
        p.tolerations.push(Toleration {
            key: Some("dedicated".into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        });
        assert!(filter(&p, &n).is_ok());
        n.taints[0].effect = "PreferNoSchedule".into();
        assert!(filter(&pod(0, 0), &n).is_ok(), "PreferNoSchedule only scores");
    }
}
