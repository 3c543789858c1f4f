"""The official Kubernetes Python client (kubernetes==31.0.0), unmodified, against orca: typed
lists and reads, a watch that sees changes as they happen, strategic merge and JSON patches,
server-side apply through the dynamic client (discovery included), logs and exec over WebSocket.
Run by tests/client_library.rs with the cluster's kubeconfig; exits non-zero on any failure."""

import sys
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.stream import stream


def wait_for(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    ns = "default"

    # Create and list, typed.
    for i in range(3):
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"py{i}", labels={"src": "py"}), data={"i": str(i)})
        )
    cms = core.list_namespaced_config_map(ns, label_selector="src=py")
    assert [c.metadata.name for c in cms.items] == ["py0", "py1", "py2"], cms.items
    assert cms.metadata.resource_version, "a list carries its resourceVersion"
    print("list ok")

    # A watch from the list's revision sees a change, an addition and a deletion, in order.
    seen = []
    w = watch.Watch()

    def follow():
        for ev in w.stream(
            core.list_namespaced_config_map,
            ns,
            label_selector="src=py",
            resource_version=cms.metadata.resource_version,
            timeout_seconds=20,
        ):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    t = threading.Thread(target=follow)
    t.start()
    time.sleep(0.5)
    core.patch_namespaced_config_map("py1", ns, {"data": {"i": "one"}})
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py3", labels={"src": "py"})))
    core.delete_namespaced_config_map("py0", ns)
    t.join(30)
    assert seen == [("MODIFIED", "py1"), ("ADDED", "py3"), ("DELETED", "py0")], seen
    print("watch ok")

    # A Deployment: typed create, strategic merge patch (containers merge by name), JSON patch.
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pyweb"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "pyweb"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pyweb"}),
                spec=client.V1PodSpec(
                    termination_grace_period_seconds=1,
                    containers=[
                        client.V1Container(
                            name="c",
                            image="busybox",
                            command=["sh", "-c", "echo hello from pyweb; exec sleep 3600"],
                            env=[client.V1EnvVar(name="A", value="1")],
                        )
                    ],
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment(ns, dep)
    patched = apps.patch_namespaced_deployment(
        "pyweb", ns, {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]}}}}
    )
    c = patched.spec.template.spec.containers[0]
    assert c.image == "busybox" and sorted(e.name for e in c.env) == ["A", "B"], c
    apps.patch_namespaced_deployment("pyweb", ns, [{"op": "replace", "path": "/spec/replicas", "value": 2}])
    assert apps.read_namespaced_deployment("pyweb", ns).spec.replicas == 2
    print("patch ok")

    # Server-side apply through the dynamic client, which finds the resource by discovery.
    dyn = dynamic.DynamicClient(client.ApiClient())
    cm_api = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": ns}, "data": {"k": "v1"}}
    cm_api.server_side_apply(body=body, name="applied", namespace=ns, field_manager="py-a")
    body["data"]["k"] = "v2"
    try:
        cm_api.server_side_apply(body=body, name="applied", namespace=ns, field_manager="py-b")
        raise AssertionError("a second manager changing py-a's field must conflict")
    except dynamic.exceptions.ConflictError as e:
        assert "py-a" in str(e.body), e.body
    out = cm_api.server_side_apply(body=body, name="applied", namespace=ns, field_manager="py-b", force_conflicts=True)
    assert out.data.k == "v2"
    managers = [m.manager for m in out.metadata.managedFields]
    assert managers == ["py-b"], managers
    print("server-side apply ok")

    # Logs and exec of the Deployment's pods, once its rollout (the patched template) is done:
    # a pod of the first ReplicaSet may be removed at any moment before that.
    def rolled_out():
        d = apps.read_namespaced_deployment("pyweb", ns)
        s = d.status
        return s.updated_replicas == 2 and s.replicas == 2 and s.available_replicas == 2

    def running():
        pods = core.list_namespaced_pod(ns, label_selector="app=pyweb").items
        return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]

    wait_for("the rollout", rolled_out)
    wait_for("a running pyweb pod", lambda: len(running()) > 0)
    pod = running()[0].metadata.name
    wait_for("its log", lambda: "hello from pyweb" in core.read_namespaced_pod_log(pod, ns))
    out = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        ns,
        command=["sh", "-c", "echo $((40+2))"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert out.strip() == "42", out
    print("logs and exec ok")

    apps.delete_namespaced_deployment("pyweb", ns, propagation_policy="Foreground")
    wait_for("the deployment's pods to go", lambda: not core.list_namespaced_pod(ns, label_selector="app=pyweb").items)
    print("delete ok")


if __name__ == "__main__":
    main(sys.argv[1])
