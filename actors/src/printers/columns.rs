//! Per-kind table columns and rows, as kubectl prints them (with `-o wide` extras).

use serde_json::Value;

use super::columns_more::access;
use super::pod_status::pod_status;
use super::{age, labels_text, n, or_none, s};

fn images(template_spec: &Value) -> (String, String) {
    let cs = template_spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(c, "/name")).collect();
    let imgs: Vec<String> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), imgs.join(","))
}

fn selector(v: &Value) -> String {
    labels_text(&v["spec"]["selector"]["matchLabels"])
}

/// The column names of `kind` (with the `-o wide` ones when `wide`).
pub fn columns(kind: &str, wide: bool) -> Vec<&'static str> {
    let mut c: Vec<&str> = match kind {
        "Pod" => vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "Deployment" => vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "ReplicaSet" => vec!["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "StatefulSet" => vec!["NAME", "READY", "AGE"],
        "DaemonSet" => vec![
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE",
        ],
        "Job" => vec!["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "CronJob" => vec![
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE",
        ],
        "PodDisruptionBudget" => vec!["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
        "EndpointSlice" => vec!["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        "StorageClass" => vec![
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE",
        ],
        "Service" => vec!["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "ConfigMap" => vec!["NAME", "DATA", "AGE"],
        "ServiceAccount" => vec!["NAME", "SECRETS", "AGE"],
        "Role" | "ClusterRole" => vec!["NAME", "CREATED AT"],
        "RoleBinding" | "ClusterRoleBinding" => vec!["NAME", "ROLE", "AGE"],
        "Secret" => vec!["NAME", "TYPE", "DATA", "AGE"],
        "Namespace" => vec!["NAME", "STATUS", "AGE"],
        "Node" => vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "Ingress" => vec!["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
        "IngressClass" => vec!["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
        "PersistentVolume" => vec![
            "NAME",
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "AGE",
        ],
        "PersistentVolumeClaim" => vec!["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "AGE"],
        "Endpoints" => vec!["NAME", "ENDPOINTS", "AGE"],
        "Event" => vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        _ => vec!["NAME", "AGE"],
    };
    if wide {
        match kind {
            "Pod" => c.extend(["IP", "NODE"]),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
                c.extend(["CONTAINERS", "IMAGES", "SELECTOR"])
            }
            "Service" => c.push("SELECTOR"),
            "Node" => c.extend(["INTERNAL-IP", "POD-CIDR", "OS-IMAGE", "CONTAINER-RUNTIME"]),
            _ => {}
        }
    }
    c
}

/// The cells of one object of `kind`, in the order of [`columns`].
pub fn row(kind: &str, v: &Value, wide: bool) -> Vec<String> {
    let name = s(v, "/metadata/name");
    let a = age(&s(v, "/metadata/creationTimestamp"));
    let mut r = match kind {
        "Pod" => {
            let (ready, status, restarts) = pod_status(v);
            vec![name, ready, status, restarts, a]
        }
        "Deployment" => vec![
            name,
            format!("{}/{}", n(v, "/status/readyReplicas"), n(v, "/spec/replicas")),
            n(v, "/status/updatedReplicas").to_string(),
            n(v, "/status/availableReplicas").to_string(),
            a,
        ],
        "ReplicaSet" => vec![
            name,
            n(v, "/spec/replicas").to_string(),
            n(v, "/status/replicas").to_string(),
            n(v, "/status/readyReplicas").to_string(),
            a,
        ],
        "StatefulSet" => vec![
            name,
            format!("{}/{}", n(v, "/status/readyReplicas"), n(v, "/spec/replicas")),
            a,
        ],
        "DaemonSet" => {
            let sel = labels_text(&v["spec"]["template"]["spec"]["nodeSelector"]);
            vec![
                name,
                n(v, "/status/desiredNumberScheduled").to_string(),
                n(v, "/status/currentNumberScheduled").to_string(),
                n(v, "/status/numberReady").to_string(),
                n(v, "/status/updatedNumberScheduled").to_string(),
                n(v, "/status/numberAvailable").to_string(),
                or_none(sel),
                a,
            ]
        }
        "Job" => super::columns_more::job(v),
        "CronJob" => super::columns_more::cronjob(v),
        "PodDisruptionBudget" => super::columns_more::pdb(v),
        "EndpointSlice" => super::columns_more::endpointslice(v),
        "StorageClass" => super::columns_more::storageclass(v),
        "Service" => {
            let ports: Vec<String> = v
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let np = p["nodePort"].as_i64().map(|x| format!(":{x}")).unwrap_or_default();
                    format!("{}{np}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                })
                .collect();
            let ext = v
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![
                name,
                s(v, "/spec/type"),
                or_none(s(v, "/spec/clusterIP")),
                or_none(ext),
                or_none(ports.join(",")),
                a,
            ]
        }
        "ServiceAccount" => vec![name, v["secrets"].as_array().map_or(0, Vec::len).to_string(), a],
        "Role" | "ClusterRole" => vec![name, s(v, "/metadata/creationTimestamp")],
        "RoleBinding" | "ClusterRoleBinding" => {
            vec![name, format!("{}/{}", s(v, "/roleRef/kind"), s(v, "/roleRef/name")), a]
        }
        "ConfigMap" => vec![
            name,
            (v["data"].as_object().map_or(0, |m| m.len()) + v["binaryData"].as_object().map_or(0, |m| m.len()))
                .to_string(),
            a,
        ],
        "Secret" => vec![
            name,
            s(v, "/type"),
            v["data"].as_object().map_or(0, |m| m.len()).to_string(),
            a,
        ],
        "Namespace" => vec![
            name,
            if v.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating".into()
            } else {
                or_phase_ns(v)
            },
            a,
        ],
        "Node" => {
            let ready = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
                .unwrap_or("Unknown");
            let mut status = ready.to_string();
            if v.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = v
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                name,
                status,
                or_none(roles.join(",")),
                a,
                or_none(s(v, "/status/nodeInfo/kubeletVersion")),
            ]
        }
        "Ingress" => {
            let hosts: Vec<String> = v
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| r["host"].as_str().unwrap_or("*").to_string())
                .collect();
            let address: Vec<String> = v
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()).map(str::to_string))
                .collect();
            let tls = v
                .pointer("/spec/tls")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
            vec![
                name,
                or_none(s(v, "/spec/ingressClassName")),
                hosts.join(","),
                address.join(","),
                if tls { "80, 443" } else { "80" }.into(),
                a,
            ]
        }
        "IngressClass" => vec![
            name,
            s(v, "/spec/controller"),
            or_none(s(v, "/spec/parameters/name")),
            a,
        ],
        "PersistentVolume" => vec![
            name,
            s(v, "/spec/capacity/storage"),
            access(v),
            s(v, "/spec/persistentVolumeReclaimPolicy"),
            s(v, "/status/phase"),
            s(v, "/spec/claimRef/name"),
            a,
        ],
        "PersistentVolumeClaim" => vec![
            name,
            s(v, "/status/phase"),
            s(v, "/spec/volumeName"),
            s(v, "/status/capacity/storage"),
            access(v),
            a,
        ],
        "Endpoints" => {
            let eps: Vec<String> = v["subsets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .flat_map(|ss| {
                    let ports: Vec<i64> = ss["ports"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|p| p["port"].as_i64().unwrap_or(0))
                        .collect();
                    ss["addresses"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .flat_map(|ad| {
                            ports
                                .iter()
                                .map(move |p| format!("{}:{p}", ad["ip"].as_str().unwrap_or("")))
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            vec![name, or_none(eps.join(",")), a]
        }
        "Event" => {
            // core/v1 names, or events.k8s.io/v1's.
            let first = |paths: &[&str]| {
                paths
                    .iter()
                    .map(|p| s(v, p))
                    .find(|x| !x.is_empty())
                    .unwrap_or_default()
            };
            let object = if v.get("regarding").is_some() {
                "/regarding"
            } else {
                "/involvedObject"
            };
            vec![
                age(&first(&["/lastTimestamp", "/deprecatedLastTimestamp", "/eventTime"])),
                s(v, "/type"),
                s(v, "/reason"),
                format!(
                    "{}/{}",
                    s(v, &format!("{object}/kind")).to_lowercase(),
                    s(v, &format!("{object}/name"))
                ),
                first(&["/message", "/note"]),
            ]
        }
        _ => vec![name, a],
    };
    if wide {
        match kind {
            "Pod" => r.extend([or_none(s(v, "/status/podIP")), or_none(s(v, "/spec/nodeName"))]),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
                let (c, i) = images(&v["spec"]["template"]["spec"]);
                r.extend([c, i, or_none(selector(v))]);
            }
            "Service" => r.push(or_none(labels_text(&v["spec"]["selector"]))),
            "Node" => {
                let ip = v
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                    .map(|x| s(x, "/address"))
                    .unwrap_or_default();
                r.extend([
                    or_none(ip),
                    or_none(s(v, "/spec/podCIDR")),
                    or_none(s(v, "/status/nodeInfo/osImage")),
                    or_none(s(v, "/status/nodeInfo/containerRuntimeVersion")),
                ]);
            }
            _ => {}
        }
    }
    r
}

fn or_phase_ns(v: &Value) -> String {
    let p = s(v, "/status/phase");
    if p.is_empty() {
        "Active".into()
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_as_many_cells_as_columns() {
        let obj = serde_json::json!({"metadata": {"name": "x"}, "spec": {}, "status": {}});
        for rt in orca_schemas::RESOURCES {
            for wide in [false, true] {
                assert_eq!(
                    columns(rt.kind, wide).len(),
                    row(rt.kind, &obj, wide).len(),
                    "{} wide={wide}",
                    rt.kind
                );
            }
        }
    }
}
