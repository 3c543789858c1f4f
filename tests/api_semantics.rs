//! API semantics over HTTP against a real server: create/get/list/update/patch/delete, selectors,
//! 404/409/410/413/422, YAML both ways, status subresource, finalizers, generateName.

mod common;

use common::{cluster, configmap, Http};
use serde_json::{json, Value};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn create_get_list_update_patch_delete() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);

    let created = h.post(CMS, &configmap("a", "1"));
    assert_eq!(created.status, 201, "{}", created.text);
    let rv1: u64 = created.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(created.body["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(created.body["metadata"]["creationTimestamp"].is_string());

    let dup = h.post(CMS, &configmap("a", "1"));
    assert_eq!((dup.status, dup.body["reason"].as_str()), (409, Some("AlreadyExists")));

    let got = h.get(&format!("{CMS}/a"));
    assert_eq!((got.status, got.body["data"]["v"].as_str()), (200, Some("1")));
    assert_eq!(h.get(&format!("{CMS}/nope")).status, 404);
    let nf = h.get(&format!("{CMS}/nope"));
    assert_eq!(
        (nf.body["kind"].as_str(), nf.body["reason"].as_str()),
        (Some("Status"), Some("NotFound"))
    );

    // PUT with the current resourceVersion succeeds; with a stale one, 409 Conflict.
    let mut update = got.body.clone();
    update["data"]["v"] = json!("2");
    let put = h.put(&format!("{CMS}/a"), &update);
    assert_eq!(put.status, 200, "{}", put.text);
    let rv2: u64 = put.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    let stale = h.put(&format!("{CMS}/a"), &update);
    assert_eq!((stale.status, stale.body["reason"].as_str()), (409, Some("Conflict")));

    let merged = h.patch(
        &format!("{CMS}/a"),
        "application/merge-patch+json",
        &json!({"data": {"w": "x"}, "metadata": {"labels": {"app": "web"}}}),
    );
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body["data"], json!({"v": "2", "w": "x"}));
    let jp = h.patch(
        &format!("{CMS}/a"),
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/data/v", "value": "3"}, {"op": "remove", "path": "/data/w"}]),
    );
    assert_eq!(jp.status, 200, "{}", jp.text);
    assert_eq!(jp.body["data"], json!({"v": "3"}));
    let bad_patch = h.patch(
        &format!("{CMS}/a"),
        "application/json-patch+json",
        &json!([{"op": "remove", "path": "/data/missing"}]),
    );
    assert_eq!(bad_patch.status, 422, "{}", bad_patch.text);

    h.post(
        CMS,
        &json!({"metadata": {"name": "b", "labels": {"app": "db", "tier": "back"}}, "data": {}}),
    );
    h.post(
        CMS,
        &json!({"metadata": {"name": "c", "labels": {"app": "web", "tier": "front"}}}),
    );
    let names = |q: &str| -> Vec<String> {
        let l = h.get(&format!("{CMS}?{q}"));
        assert_eq!(l.status, 200, "{q}: {}", l.text);
        l.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(""), ["a", "b", "c"]);
    assert_eq!(names("labelSelector=app%3Dweb"), ["a", "c"]);
    assert_eq!(names("labelSelector=app!%3Dweb"), ["b"]);
    assert_eq!(names("labelSelector=tier%20in%20(front,back)"), ["b", "c"]);
    assert_eq!(names("labelSelector=tier%20notin%20(front)"), ["a", "b"]);
    assert_eq!(names("labelSelector=tier"), ["b", "c"]);
    assert_eq!(names("labelSelector=!tier"), ["a"]);
    assert_eq!(names("fieldSelector=metadata.name%3Db"), ["b"]);
    assert_eq!(
        names("fieldSelector=metadata.namespace%3Ddefault,metadata.name!%3Db"),
        ["a", "c"]
    );
    assert_eq!(h.get(&format!("{CMS}?fieldSelector=data.v%3D1")).status, 400);
    let list = h.get(CMS);
    assert_eq!(list.body["kind"], "ConfigMapList");
    let head: u64 = list.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(head >= rv2);
    // Across namespaces: these three, and the cluster CA every cluster publishes in kube-system.
    let all = h.get("/api/v1/configmaps");
    let names: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"kube-root-ca.crt"));

    let del = h.delete(&format!("{CMS}/b"));
    assert_eq!(del.status, 200);
    assert_eq!(h.get(&format!("{CMS}/b")).status, 404);
    assert_eq!(h.delete(&format!("{CMS}/b")).status, 404);
}

#[test]
fn validation_size_and_namespace_errors() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let bad = h.post(
        "/api/v1/namespaces/default/pods",
        &json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x", "ports": [{"containerPort": 0}]}]}}),
    );
    assert_eq!(
        (bad.status, bad.body["reason"].as_str()),
        (422, Some("Invalid")),
        "{}",
        bad.text
    );
    let mut fields: Vec<&str> = bad.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "spec.containers[0].image",
            "spec.containers[1].name",
            "spec.containers[1].ports[0].containerPort"
        ]
    );

    let big = "x".repeat(3 * 1024 * 1024 + 10);
    let too_large = h.post(CMS, &configmap("big", &big));
    assert_eq!(
        (too_large.status, too_large.body["reason"].as_str()),
        (413, Some("RequestEntityTooLarge"))
    );

    let no_ns = h.post("/api/v1/namespaces/missing/configmaps", &configmap("x", "1"));
    assert_eq!(no_ns.status, 404, "{}", no_ns.text);
    assert!(no_ns.body["message"]
        .as_str()
        .unwrap()
        .contains("namespaces \"missing\" not found"));
    let mismatch = h.post(CMS, &json!({"metadata": {"name": "x", "namespace": "other"}}));
    assert_eq!(mismatch.status, 400);
    assert_eq!(
        h.req("POST", CMS, "application/json", Some(b"{not json".to_vec()))
            .status,
        400
    );
    assert_eq!(h.get("/api/v1/widgets").status, 404);

    let unknown = h.post(
        CMS,
        &json!({"metadata": {"name": "u"}, "data": {}, "extraField": {"kept": true}}),
    );
    assert_eq!(unknown.status, 201);
    assert!(
        unknown.warnings.iter().any(|w| w.contains("extraField")),
        "{:?}",
        unknown.warnings
    );
    assert_eq!(h.get(&format!("{CMS}/u")).body["extraField"]["kept"], true);
}

#[test]
fn yaml_both_ways_generate_name_and_namespaces() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n";
    let ns = h.req(
        "POST",
        "/api/v1/namespaces",
        "application/yaml",
        Some(yaml.as_bytes().to_vec()),
    );
    assert_eq!(ns.status, 201, "{}", ns.text);
    let client = reqwest::blocking::Client::new();
    let text = client
        .get(format!("{}/api/v1/namespaces/team-a", orca.url))
        .header("accept", "application/yaml")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("name: team-a") && text.contains("phase: Active"),
        "{text}"
    );

    let gen = h.post(
        "/api/v1/namespaces/team-a/configmaps",
        &json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "b"}}),
    );
    assert_eq!(gen.status, 201, "{}", gen.text);
    let name = gen.body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("cfg-") && name.len() == 9, "{name}");

    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let d = h.post("/apis/apps/v1/namespaces/team-a/deployments", &deploy);
    assert_eq!(d.status, 201, "{}", d.text);
    assert_eq!(d.body["spec"]["replicas"], 1);
    assert_eq!(d.body["metadata"]["generation"], 1);

    // Main-resource updates keep status; the status subresource changes only status.
    let path = "/apis/apps/v1/namespaces/team-a/deployments/web";
    let mut with_status = d.body.clone();
    with_status["status"] = json!({"replicas": 1, "readyReplicas": 1});
    with_status["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let s = h.put(&format!("{path}/status"), &with_status);
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["status"]["readyReplicas"], 1);
    assert_eq!(
        s.body["metadata"]["generation"], 1,
        "status writes do not bump generation"
    );
    let mut scaled = s.body.clone();
    scaled["spec"]["replicas"] = json!(3);
    scaled["status"] = json!({});
    // Unconditional: the Deployment controller writes its revision annotation meanwhile.
    scaled["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let u = h.put(path, &scaled);
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(
        (
            u.body["spec"]["replicas"].as_i64(),
            u.body["metadata"]["generation"].as_i64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(u.body["status"]["readyReplicas"], 1, "main updates keep status");
    let mut reselect = u.body.clone();
    reselect["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    reselect["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    reselect["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    assert_eq!(h.put(path, &reselect).status, 422, "selector is immutable");

    // Deleting a namespace removes its contents.
    assert_eq!(h.delete("/api/v1/namespaces/team-a").status, 200);
    common::wait_for(30, "the namespace and its contents gone", || {
        h.get(path).status == 404 && h.get("/api/v1/namespaces/team-a").status == 404
    });
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let created = h.post(
        CMS,
        &json!({"metadata": {"name": "f", "finalizers": ["example.com/cleanup"]}, "data": {}}),
    );
    assert_eq!(created.status, 201);
    let del = h.delete(&format!("{CMS}/f"));
    assert_eq!(del.status, 200);
    let held = h.get(&format!("{CMS}/f"));
    assert_eq!(held.status, 200, "still there while a finalizer remains");
    assert!(held.body["metadata"]["deletionTimestamp"].is_string());
    let cleared = h.patch(
        &format!("{CMS}/f"),
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(h.get(&format!("{CMS}/f")).status, 404, "gone once no finalizer remains");
}

#[test]
fn watch_below_the_horizon_is_gone() {
    let (_nats, orca, _dir) = cluster(&["--retain-events", "20"]);
    let h = Http::new(&orca.url);
    for i in 0..60 {
        assert_eq!(h.post(CMS, &configmap(&format!("c{i}"), "v")).status, 201);
    }
    // As Kubernetes answers it: a 200 stream whose one event is an ERROR carrying the 410.
    let gone = h.get(&format!("{CMS}?watch=true&resourceVersion=2"));
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(
        (
            gone.body["type"].as_str(),
            gone.body["object"]["code"].as_u64(),
            gone.body["object"]["reason"].as_str()
        ),
        (Some("ERROR"), Some(410), Some("Expired")),
        "{}",
        gone.text
    );
    assert!(gone.body["object"]["message"]
        .as_str()
        .unwrap()
        .contains("oldest revision held"));
    let head: u64 = h.get(CMS).body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A watch from within the horizon works: it ends at timeoutSeconds and carries the recent events.
    let recent = h.get(&format!(
        "{CMS}?watch=true&resourceVersion={}&timeoutSeconds=1",
        head - 5
    ));
    assert_eq!(recent.status, 200);
    let revs: Vec<u64> = recent
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(revs, ((head - 4)..=head).collect::<Vec<_>>());
}

#[test]
fn health_and_version() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    assert_eq!(h.get("/healthz").text, "ok");
    assert_eq!(h.get("/readyz").status, 200);
    assert!(h.get("/version").body["gitVersion"].as_str().unwrap().contains("orca"));
}

#[test]
fn services_get_cluster_ips_that_stay() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let svc = |name: &str, ip: Option<&str>| {
        let mut v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}});
        if let Some(ip) = ip {
            v["spec"]["clusterIP"] = json!(ip);
        }
        v
    };
    const SVCS: &str = "/api/v1/namespaces/default/services";
    let a = h.post(SVCS, &svc("a", None));
    let b = h.post(SVCS, &svc("b", None));
    let (ip_a, ip_b) = (
        a.body["spec"]["clusterIP"].as_str().unwrap().to_string(),
        b.body["spec"]["clusterIP"].as_str().unwrap().to_string(),
    );
    assert!(
        ip_a.starts_with("10.96.") && ip_b.starts_with("10.96.") && ip_a != ip_b,
        "{ip_a} {ip_b}"
    );
    assert_eq!(a.body["spec"]["clusterIPs"], json!([ip_a]));
    let taken = h.post(SVCS, &svc("c", Some(&ip_a)));
    assert_eq!(taken.status, 422, "{}", taken.text);
    assert_eq!(taken.body["details"]["causes"][0]["field"], "spec.clusterIP");
    let headless = h.post(SVCS, &svc("d", Some("None")));
    assert_eq!(headless.body["spec"]["clusterIP"], "None");
    // An update that leaves the ClusterIP out keeps it; one that changes it is refused.
    let mut update = svc("a", None);
    update["spec"]["ports"] = json!([{"port": 8080}]);
    let kept = h.put(&format!("{SVCS}/a"), &update);
    assert_eq!(
        (kept.status, kept.body["spec"]["clusterIP"].as_str()),
        (200, Some(ip_a.as_str())),
        "{}",
        kept.text
    );
    let moved = h.put(&format!("{SVCS}/a"), &svc("a", Some("10.96.9.9")));
    assert_eq!(moved.status, 422, "{}", moved.text);
}

#[test]
fn a_selected_watch_sees_objects_enter_and_leave_its_selection() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let labelled = |name: &str, app: &str| json!({"metadata": {"name": name, "labels": {"app": app}}});
    assert_eq!(h.post(CMS, &labelled("stay", "a")).status, 201);
    assert_eq!(h.post(CMS, &labelled("move", "a")).status, 201);
    assert_eq!(h.post(CMS, &labelled("other", "b")).status, 201);
    let start = h.get(CMS).body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // A watch from now (its first events are the current matches) running while the labels change.
    let live = {
        let url = orca.url.clone();
        std::thread::spawn(move || {
            Http::new(&url)
                .get(&format!("{CMS}?watch=true&labelSelector=app%3Da&timeoutSeconds=3"))
                .text
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let relabel = |name: &str, app: &str| {
        let r = h.patch(
            &format!("{CMS}/{name}"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"app": app}}}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    relabel("move", "b"); // leaves
    relabel("other", "a"); // enters
    relabel("other", "a2"); // leaves again
    relabel("move", "a"); // comes back
    assert_eq!(h.delete(&format!("{CMS}/stay")).status, 200);
    let events = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["type"].as_str().unwrap().to_string(),
                    v["object"]["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let changes = [
        ("DELETED", "move"),
        ("ADDED", "other"),
        ("DELETED", "other"),
        ("ADDED", "move"),
        ("DELETED", "stay"),
    ];
    let want = |first: &[(&str, &str)]| -> Vec<(String, String)> {
        first
            .iter()
            .chain(changes.iter())
            .map(|(t, n)| (t.to_string(), n.to_string()))
            .collect()
    };
    let seen = events(&live.join().unwrap());
    assert_eq!(seen, want(&[("ADDED", "move"), ("ADDED", "stay")]), "live watch");
    // The same from a past revision: replayed from the log, with the same transitions.
    let replayed = h.get(&format!(
        "{CMS}?watch=true&labelSelector=app%3Da&resourceVersion={start}&timeoutSeconds=1"
    ));
    assert_eq!(events(&replayed.text), want(&[]), "watch from revision {start}");
}

#[test]
fn events_k8s_io_v1_is_a_view_of_core_events() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    const V1: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "tester", "reportingInstance": "t-1",
        "action": "Testing", "reason": "Checked", "type": "Normal", "note": "all good",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "p1", "namespace": "default"}});
    let r = h.post(V1, &ev);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["apiVersion"].as_str(), r.body["note"].as_str()),
        (Some("events.k8s.io/v1"), Some("all good"))
    );
    // The same object through core/v1, with core's names.
    let core = h.get("/api/v1/namespaces/default/events/e1").body;
    assert_eq!(
        (
            core["message"].as_str(),
            core["involvedObject"]["name"].as_str(),
            core["reportingComponent"].as_str()
        ),
        (Some("all good"), Some("p1"), Some("tester"))
    );
    // A core Event is listed through events.k8s.io, selected by its `regarding` fields.
    let core_ev = json!({"metadata": {"name": "e2"}, "involvedObject": {"kind": "Pod", "name": "p2", "namespace": "default"},
        "reason": "Seen", "message": "from core", "firstTimestamp": "2026-01-01T00:00:00Z"});
    assert_eq!(h.post("/api/v1/namespaces/default/events", &core_ev).status, 201);
    let list = h.get(&format!("{V1}?fieldSelector=regarding.name%3Dp2")).body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["note"], "from core");
    assert_eq!(items[0]["eventTime"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(
        h.get("/apis/events.k8s.io/v1/namespaces/default/pods").status,
        404,
        "only events live there"
    );
    let watched = h.get(&format!("{V1}?watch=true&timeoutSeconds=1"));
    assert!(
        watched
            .text
            .lines()
            .all(|l| l.contains("\"apiVersion\":\"events.k8s.io/v1\"")),
        "{}",
        watched.text
    );
}

#[test]
fn a_dry_run_checks_and_answers_but_keeps_nothing() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let dry = h.post(&format!("{CMS}?dryRun=All"), &configmap("d", "v1"));
    assert_eq!(dry.status, 201, "{}", dry.text);
    assert!(
        dry.body["metadata"]["resourceVersion"].is_null(),
        "a dry create has no revision: {}",
        dry.text
    );
    assert_eq!(h.get(&format!("{CMS}/d")).status, 404, "nothing was created");
    let bad = h.post(&format!("{CMS}?dryRun=All"), &json!({"metadata": {"name": "Bad_Name"}}));
    assert_eq!(bad.status, 422, "a dry run still validates");
    let real = h.post(CMS, &configmap("d", "v1")).body;
    let rv = real["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let mut changed = real.clone();
    changed["data"]["v"] = json!("v2");
    let dry_put = h.put(&format!("{CMS}/d?dryRun=All"), &changed);
    assert_eq!(dry_put.status, 200, "{}", dry_put.text);
    assert_eq!(dry_put.body["data"]["v"], "v2", "the answer shows the change");
    assert_eq!(
        dry_put.body["metadata"]["resourceVersion"].as_str(),
        Some(rv.as_str()),
        "at the object's revision"
    );
    let now = h.get(&format!("{CMS}/d")).body;
    assert_eq!(
        (now["data"]["v"].as_str(), now["metadata"]["resourceVersion"].as_str()),
        (Some("v1"), Some(rv.as_str()))
    );
    assert_eq!(h.delete(&format!("{CMS}/d?dryRun=All")).status, 200);
    assert_eq!(h.get(&format!("{CMS}/d")).status, 200, "a dry delete deletes nothing");
}

#[test]
fn a_list_at_a_revision_is_not_older_than_it() {
    let (_nats, orca, _dir) = cluster(&["--retain-events", "20"]);
    let h = Http::new(&orca.url);
    for i in 0..40 {
        assert_eq!(h.post(CMS, &configmap(&format!("n{i}"), "v")).status, 201);
    }
    // An old revision (below the horizon): the current state is not older than it.
    let old = h.get(&format!("{CMS}?resourceVersion=2"));
    assert_eq!(old.status, 200, "{}", old.text);
    assert_eq!(old.body["items"].as_array().unwrap().len(), 40);
    let head: u64 = old.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let explicit = h.get(&format!("{CMS}?resourceVersion=2&resourceVersionMatch=NotOlderThan"));
    assert_eq!(explicit.status, 200);
    // A revision not reached yet is waited for, then answered.
    let url = orca.url.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        Http::new(&url).post(CMS, &configmap("late", "v")).status
    });
    let ahead = h.get(&format!("{CMS}?resourceVersion={}", head + 1));
    assert_eq!(writer.join().unwrap(), 201);
    assert_eq!(ahead.status, 200, "{}", ahead.text);
    assert_eq!(ahead.body["items"].as_array().unwrap().len(), 41);
    // One never reached gets Kubernetes' 504.
    let far = h.get(&format!("{CMS}?resourceVersion={}", head + 1000));
    assert_eq!(far.status, 504, "{}", far.text);
    assert!(far.body["message"]
        .as_str()
        .unwrap()
        .contains("Too large resource version"));
    assert_eq!(
        h.get(&format!("{CMS}?resourceVersionMatch=Sometimes&resourceVersion=1"))
            .status,
        400
    );
}

#[test]
fn bad_input_gets_the_status_kubernetes_gives() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let code = |r: &common::Resp| (r.status, r.body["kind"].as_str().map(str::to_string));
    let status = Some("Status".to_string());
    // A body that is not JSON or YAML: 415.
    let plain = h.req(
        "POST",
        CMS,
        "text/plain",
        Some(b"{\"metadata\":{\"name\":\"p\"}}".to_vec()),
    );
    assert_eq!(code(&plain), (415, status.clone()), "{}", plain.text);
    // A label selector that does not parse: 400 with the reason.
    let sel = h.get("/api/v1/pods?labelSelector=a%3D(b");
    assert_eq!(code(&sel), (400, status.clone()), "{}", sel.text);
    assert!(sel.body["message"].as_str().unwrap().contains("invalid label value"));
    // A create that carries a resourceVersion: 400.
    let rv = h.post(CMS, &json!({"metadata": {"name": "rv", "resourceVersion": "5"}}));
    assert_eq!(code(&rv), (400, status.clone()), "{}", rv.text);
    assert!(rv.body["message"]
        .as_str()
        .unwrap()
        .contains("resourceVersion should not be set"));
    // replicas beyond an int32 and a negative Node capacity: 422 with the field path.
    let big = h.post(
        "/apis/apps/v1/namespaces/default/deployments",
        &json!({"metadata": {"name": "big"}, "spec": {"replicas": 2147483648u64, "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
    );
    assert_eq!(code(&big), (422, status.clone()), "{}", big.text);
    assert!(big.text.contains("spec.replicas"), "{}", big.text);
    let node = h.post(
        "/api/v1/nodes",
        &json!({"metadata": {"name": "neg"}, "status": {"capacity": {"cpu": "-4"}}}),
    );
    assert_eq!(code(&node), (422, status.clone()), "{}", node.text);
    assert!(node.text.contains("status.capacity[cpu]"), "{}", node.text);
    // A bulk binding body without items: 400.
    let bind = h.post("/apis/orca.dev/v1/bindings", &json!({"x": 1}));
    assert_eq!(code(&bind), (400, status.clone()), "{}", bind.text);
    // Exec on a pod that does not exist: 404, whatever the body.
    let exec = h.req(
        "POST",
        "/api/v1/namespaces/default/pods/nope/exec",
        "application/json",
        Some(b"xx".to_vec()),
    );
    assert_eq!(code(&exec), (404, status), "{}", exec.text);
}

#[test]
fn writes_that_name_a_uid_never_touch_a_newer_object_of_the_same_name() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let old = h.post(CMS, &configmap("same", "v1")).body;
    let old_uid = old["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(h.delete(&format!("{CMS}/same")).status, 200);
    let new = h.post(CMS, &configmap("same", "v2")).body;
    // A delete meant for the old object (DeleteOptions preconditions) is refused.
    let del = h.req(
        "DELETE",
        &format!("{CMS}/same"),
        "application/json",
        Some(serde_json::to_vec(&json!({"preconditions": {"uid": old_uid}})).unwrap()),
    );
    assert_eq!(del.status, 409, "{}", del.text);
    assert!(del.body["message"]
        .as_str()
        .unwrap()
        .contains("Precondition failed: UID"));
    // So is a patch that names the old uid.
    let patch = h.patch(
        &format!("{CMS}/same"),
        "application/merge-patch+json",
        &json!({"metadata": {"uid": old_uid}, "data": {"v": "stale"}}),
    );
    assert_eq!(patch.status, 409, "{}", patch.text);
    let now = h.get(&format!("{CMS}/same")).body;
    assert_eq!(
        (now["metadata"]["uid"].clone(), now["data"]["v"].clone()),
        (new["metadata"]["uid"].clone(), json!("v2"))
    );
    // The right uid works.
    let del = h.req(
        "DELETE",
        &format!("{CMS}/same"),
        "application/json",
        Some(serde_json::to_vec(&json!({"preconditions": {"uid": new["metadata"]["uid"]}})).unwrap()),
    );
    assert_eq!(del.status, 200, "{}", del.text);
}
