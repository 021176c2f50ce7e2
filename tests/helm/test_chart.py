#!/usr/bin/env python3
"""The Helm chart's tests: `helm lint --strict`, `helm template` for every values file under
tests/helm/values/ (and the defaults), each rendered manifest checked against the Kubernetes
schemas by `kubernetes-validate --strict`, what each file is meant to produce, and bad values
failing with the chart's message.

    python3 tests/helm/test_chart.py

Needs helm and kubernetes-validate (`.ci/helm.sh` installs both and prints helm's path; set
HELM to use another helm). When the sluice binary is found (SLUICE_BIN, else the debug build
in the shared target directory), each rendered config file is also loaded by `sluice config`,
which rejects unknown keys.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import traceback
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sluice"
VALUES = Path(__file__).resolve().parent / "values"
# The oldest Kubernetes the checks cover and the newest kubernetes-validate ships.
KUBE_VERSIONS = ["1.30.0", "1.37.0"]
# Kinds of custom resources: no schema in kubernetes-validate, checked here by hand.
CRD_KINDS = {"ServiceMonitor"}
RELEASE = "rel"
NAMESPACE = "pipelines"


def find_helm():
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    out = subprocess.run(
        [str(ROOT / ".ci" / "helm.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def find_sluice():
    candidates = [
        os.environ.get("SLUICE_BIN"),
        os.environ.get("CARGO_TARGET_DIR") and str(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "sluice"),
        str(ROOT.parent / ".sluice-target" / "debug" / "sluice"),
    ]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    return None


HELM = find_helm()
SLUICE = find_sluice()


def helm(*args, check=True):
    proc = subprocess.run([HELM, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def render(values_file=None, extra=(), chart=CHART):
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE,
            "--kube-version", KUBE_VERSIONS[0]]
    if values_file:
        args += ["-f", str(values_file)]
    args += list(extra)
    out = helm(*args).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return docs


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def validate(docs, label):
    """kubernetes-validate --strict on every manifest; custom resources only render."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, d in enumerate(docs):
            if d["kind"] in CRD_KINDS:
                continue
            f = Path(tmp) / f"{i:02d}-{d['kind']}-{d['metadata']['name']}.yaml"
            f.write_text(yaml.safe_dump(d))
            files.append(str(f))
        cmd = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
        for v in KUBE_VERSIONS:
            cmd += ["-k", v]
        proc = subprocess.run(cmd + files, capture_output=True, text=True)
        report = (proc.stdout + proc.stderr).strip()
        # A WARN means no schema was found: the manifest was not checked, which is a failure too.
        assert proc.returncode == 0 and not report, f"{label}: kubernetes-validate:\n{report}"
        return len(files)


def containers(doc):
    return doc["spec"]["template"]["spec"]["containers"]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def config_toml(docs):
    cm = one(docs, "ConfigMap", f"{RELEASE}-sluice-config")
    return cm["data"]["sluice.toml"]


def check_sluice_loads(toml_text, label):
    """The binary itself loads the rendered config file (unknown keys are errors there)."""
    if not SLUICE:
        return
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "sluice.toml"
        f.write_text(toml_text)
        proc = subprocess.run([SLUICE, "config", "--config", str(f)], capture_output=True,
                              text=True, env={"PATH": os.environ.get("PATH", "")}, cwd=tmp)
        assert proc.returncode == 0, f"{label}: sluice config rejects the rendered file:\n{proc.stderr}"


def check_hardened(docs, label):
    """Every workload: non-root, read-only root, no capabilities, RuntimeDefault seccomp."""
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
    assert workloads, f"{label}: no workloads rendered"
    for w in workloads:
        name = f"{w['kind']}/{w['metadata']['name']}"
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["runAsNonRoot"] is True, name
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}: no writable /tmp on a read-only root"
            vols = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in vols[mounts["/tmp"]], name


def check_serve(docs, label, replicas):
    dep = one(docs, "Deployment", f"{RELEASE}-sluice")
    assert dep["spec"]["replicas"] == replicas, f"{label}: serve replicas"
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    args = c["args"]
    assert args[0] == "serve", args
    assert args[args.index("--listen") + 1] == "0.0.0.0:8083", args
    assert args[args.index("--config") + 1] == "/etc/sluice/sluice.toml", args
    grace = float(args[args.index("--shutdown-grace-seconds") + 1])
    assert pod["terminationGracePeriodSeconds"] > grace, f"{label}: termination grace <= {grace}"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = env_of(c)
    assert env["SLUICE_REPLICA_ID"]["value"] == "$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    names = [e["name"] for e in c["env"]]
    assert names.index("POD_NAME") < names.index("SLUICE_REPLICA_ID"), "$(POD_NAME) is defined later"
    svc = one(docs, "Service", f"{RELEASE}-sluice")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    return dep, c


def check_worker(docs, group, activities):
    dep = one(docs, "Deployment", f"{RELEASE}-sluice-worker-{group}")
    (c,) = containers(dep)
    args = c["args"]
    assert args[0] == "worker"
    assert args[args.index("--endpoint") + 1] == f"http://{RELEASE}-sluice.{NAMESPACE}.svc:8083"
    got = [args[i + 1] for i, a in enumerate(args) if a == "--activity"]
    assert got == activities, (got, activities)
    assert args[args.index("--metrics-listen") + 1] == "0.0.0.0:9090"
    assert args[args.index("--worker-name") + 1] == "$(POD_NAME)"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    return dep, c


def secret_data(doc):
    return {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}


# Each values file: what it must render, beyond the checks every render gets.

def case_defaults(docs):
    dep, c = check_serve(docs, "defaults", 1)
    assert dep["spec"]["strategy"]["type"] == "Recreate"
    pvc = one(docs, "PersistentVolumeClaim", f"{RELEASE}-sluice-data")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-sluice-data"
    conf = tomllib.loads(config_toml(docs))
    assert conf["serve"]["store"] == "sqlite:/data/sluice.db"
    assert "SLUICE_STORE" not in env_of(c) and "SLUICE_AUTH" not in env_of(c)
    assert not by_kind(docs, "Secret"), "no secret values, no Secret"
    assert env_of(c)["SLUICE_LOG_FORMAT"]["value"] == "json"


def case_embedded(docs):
    case_defaults(docs)
    pvc = one(docs, "PersistentVolumeClaim", f"{RELEASE}-sluice-data")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert pvc["spec"]["storageClassName"] == "standard"
    check_worker(docs, "echo", ["sluice-echo"])
    one(docs, "Service", f"{RELEASE}-sluice-workers")


def case_external_postgres(docs):
    dep, c = check_serve(docs, "external-postgres", 3)
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    env = env_of(c)
    assert env["SLUICE_STORE"]["valueFrom"]["secretKeyRef"] == {"name": "sluice-db", "key": "url"}
    assert env["SLUICE_AUTH"]["valueFrom"]["secretKeyRef"] == {"name": "sluice-auth", "key": "auth"}
    assert env["SLUICE_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "sluice-tokens"
    assert not by_kind(docs, "PersistentVolumeClaim") and not by_kind(docs, "StatefulSet")
    assert not by_kind(docs, "Secret"), "every secret comes from the operator's Secrets"
    assert "store" not in tomllib.loads(config_toml(docs))["serve"]
    wdep, wc = check_worker(docs, "echo", ["sluice-echo"])
    assert wdep["spec"]["replicas"] == 2
    args = wc["args"]
    assert args[args.index("--concurrency") + 1] == "8"
    wenv = env_of(wc)
    assert wenv["SLUICE_ENDPOINT_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "sluice-auth", "key": "access-key-id"}
    assert wenv["SLUICE_ENDPOINT_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "sluice-auth", "key": "secret-access-key"}
    assert "AWS_ACCESS_KEY_ID" not in wenv, "the serve key is not the AWS chain's"
    assert wenv["SLUICE_LOG"]["value"] == "info,sluice=debug"


def case_bundled_postgres(docs):
    dep, c = check_serve(docs, "bundled-postgres", 2)
    sts = one(docs, "StatefulSet", f"{RELEASE}-sluice-postgresql")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    svc = one(docs, "Service", f"{RELEASE}-sluice-postgresql")
    assert svc["spec"]["clusterIP"] == "None"
    pg = secret_data(one(docs, "Secret", f"{RELEASE}-sluice-postgresql"))
    assert pg == {"password": "try-it-out"}
    env = env_of(c)
    names = [e["name"] for e in c["env"]]
    assert names.index("SLUICE_POSTGRES_PASSWORD") < names.index("SLUICE_STORE")
    assert env["SLUICE_STORE"]["value"] == (
        f"postgres://sluice:$(SLUICE_POSTGRES_PASSWORD)@{RELEASE}-sluice-postgresql:5432/sluice")
    own = secret_data(one(docs, "Secret", f"{RELEASE}-sluice"))
    assert own == {"auth": "AKIDTRYOUT:try-out-secret", "access-key-id": "AKIDTRYOUT",
                   "secret-access-key": "try-out-secret", "token-secret": "a-token-secret",
                   "webhook-token": "a-webhook-token"}, own
    assert env["SLUICE_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-sluice", "key": "webhook-token"}


def case_irsa(docs):
    sa = one(docs, "ServiceAccount", f"{RELEASE}-sluice")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/sluice-serve")
    dep, c = check_serve(docs, "irsa", 1)
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == f"{RELEASE}-sluice"
    assert env_of(c)["AWS_REGION"]["value"] == "eu-west-1"
    assert env_of(c)["SLUICE_STORE"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_URL"
    wdep, wc = check_worker(docs, "lambda", [
        "sluice-lambda", "arn:aws:states:eu-west-1:111122223333:activity:sluice-sql"])
    assert wdep["spec"]["template"]["spec"]["serviceAccountName"] == "sluice-lambda-workers"
    assert "AWS_ACCESS_KEY_ID" not in env_of(wc), "IRSA signs for AWS services"
    assert "SLUICE_ENDPOINT_ACCESS_KEY_ID" not in env_of(wc), "without auth keys, IRSA signs"
    conf = tomllib.loads(config_toml(docs))
    assert conf["serve"]["account"] == "111122223333" and conf["aws"]["region"] == "eu-west-1"
    assert conf["connections"]["orders-api"] == {
        "headers": {"X-Team": "data"}, "query": {"source": "sluice"},
        "body": {"dryRun": False, "limit": 10}}


def case_autoscaling(docs):
    check_serve(docs, "autoscaling", 2)
    hpas = {h["metadata"]["name"]: h for h in by_kind(docs, "HorizontalPodAutoscaler")}
    assert set(hpas) == {f"{RELEASE}-sluice-worker-sql", f"{RELEASE}-sluice-worker-infer"}, set(hpas)
    sql = hpas[f"{RELEASE}-sluice-worker-sql"]["spec"]
    assert (sql["minReplicas"], sql["maxReplicas"]) == (1, 8), "workerDefaults.autoscaling merged"
    assert sql["scaleTargetRef"]["name"] == f"{RELEASE}-sluice-worker-sql"
    infer = hpas[f"{RELEASE}-sluice-worker-infer"]["spec"]
    assert (infer["minReplicas"], infer["maxReplicas"]) == (2, 8)
    assert [m["type"] for m in infer["metrics"]] == ["Resource", "External"]
    for group in ("sql", "infer"):
        dep, _ = check_worker(docs, group, [f"sluice-{group}"])
        assert "replicas" not in dep["spec"], "the HPA owns the replica count"
    echo, _ = check_worker(docs, "echo", ["sluice-echo"])
    assert echo["spec"]["replicas"] == 0
    pdbs = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "PodDisruptionBudget")}
    assert pdbs[f"{RELEASE}-sluice"].get("minAvailable") == 1
    assert "maxUnavailable" not in pdbs[f"{RELEASE}-sluice"]
    assert f"{RELEASE}-sluice-worker-infer" not in pdbs
    assert pdbs[f"{RELEASE}-sluice-worker-sql"]["maxUnavailable"] == 1


def case_ingress_networkpolicy_monitoring(docs):
    check_serve(docs, "ingress", 2)
    ing = one(docs, "Ingress", f"{RELEASE}-sluice")
    assert ing["spec"]["ingressClassName"] == "nginx"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{RELEASE}-sluice", "port": {"name": "http"}}
    nps = {n["metadata"]["name"]: n["spec"] for n in by_kind(docs, "NetworkPolicy")}
    assert set(nps) == {f"{RELEASE}-sluice", f"{RELEASE}-sluice-workers"}, set(nps)
    serve_np = nps[f"{RELEASE}-sluice"]
    assert serve_np["policyTypes"] == ["Ingress", "Egress"]
    peers = serve_np["ingress"][0]["from"]
    assert peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert any(e.get("ports", [{}])[0].get("port") == 53 for e in serve_np["egress"])
    sms = {s["metadata"]["name"]: s for s in by_kind(docs, "ServiceMonitor")}
    assert set(sms) == {f"{RELEASE}-sluice", f"{RELEASE}-sluice-workers"}
    for sm in sms.values():
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        assert sm["metadata"]["labels"]["release"] == "prometheus"
        (ep,) = sm["spec"]["endpoints"]
        assert ep["path"] == "/metrics" and ep["interval"] == "30s"
    # A ServiceMonitor selects Services by labels and ports by name: both must exist.
    for sm in sms.values():
        sel = sm["spec"]["selector"]["matchLabels"]
        port = sm["spec"]["endpoints"][0]["port"]
        svcs = [s for s in by_kind(docs, "Service")
                if sel.items() <= s["metadata"]["labels"].items()]
        assert svcs and all(port in [p["name"] for p in s["spec"]["ports"]] for s in svcs), sm
    dep, c = check_serve(docs, "ingress", 2)
    env = env_of(c)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4318"
    assert env["OTEL_SERVICE_NAME"]["value"] == "sluice-serve"
    assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"].endswith(",deployment.environment=staging")
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "8083"


CASES = {
    None: case_defaults,
    "embedded.yaml": case_embedded,
    "external-postgres.yaml": case_external_postgres,
    "bundled-postgres.yaml": case_bundled_postgres,
    "irsa.yaml": case_irsa,
    "autoscaling.yaml": case_autoscaling,
    "ingress-networkpolicy-monitoring.yaml": case_ingress_networkpolicy_monitoring,
}

# Bad values and (a regex of) what helm must say about them.
BAD = [
    ("two replicas on the embedded store", ["--set", "serve.replicas=2"],
     r"serve\.replicas is 2, but the embedded store .* allows one replica only"),
    ("postgres without a database", ["--set", "store.type=postgres"],
     r"store\.type=postgres needs a database: name a Secret holding its URL"),
    ("postgres with two databases", ["--set", "store.type=postgres", "--set", "postgresql.enabled=true",
                                     "--set", "store.postgres.existingSecret=db"],
     r"store\.type=postgres takes one database"),
    ("bundled postgres on the embedded store", ["--set", "postgresql.enabled=true"],
     r"postgresql\.enabled=true, but store\.type is embedded"),
    ("replicas of the wrong type", ["--set", "serve.replicas=two"],
     r"serve[./]replicas.*(Invalid type|integer)"),
    ("worker concurrency of the wrong type", ["--set", "workers[0].name=echo",
                                              "--set", "workers[0].activities[0]=sluice-echo",
                                              "--set-string", "workers[0].concurrency=8"],
     r"concurrency.*(Invalid type|integer)"),
    ("an unknown store type", ["--set", "store.type=mysql"], r"store[./]type.*(must be one of|enum|value must be)"),
    ("a misspelt key", ["--set", "serve.replica=2"], r"(replica|Additional property)"),
    ("a worker without activities", ["--set", "workers[0].name=echo"], r"activities"),
    ("two worker groups with one name", ["--set", "workers[0].name=echo",
                                         "--set", "workers[0].activities[0]=sluice-echo",
                                         "--set", "workers[1].name=echo",
                                         "--set", "workers[1].activities[0]=sluice-sql"],
     r'two groups are named "echo"'),
    ("a termination grace below the shutdown grace", ["--set", "serve.terminationGracePeriodSeconds=20"],
     r"terminationGracePeriodSeconds \(20\) must exceed serve\.shutdownGraceSeconds \(25\)"),
    ("auth keys and an existing Secret", ["--set", "auth.keys[0].accessKeyId=A",
                                          "--set", "auth.keys[0].secretAccessKey=B",
                                          "--set", "auth.existingSecret=s"],
     r"set auth\.keys or auth\.existingSecret, not both"),
    ("an autoscaler with nothing to follow", ["--set", "workers[0].name=echo",
                                              "--set", "workers[0].activities[0]=sluice-echo",
                                              "--set", "workers[0].autoscaling.enabled=true",
                                              "--set", "workers[0].autoscaling.targetCPUUtilizationPercentage=0"],
     r"workers\[echo\]\.autoscaling: give targetCPUUtilizationPercentage or metrics"),
    ("an account id that is a number", ["--set", "config.account=123"], r"config[./]account"),
]


def notes(values_file=None):
    """NOTES.txt as `helm install` would print it (helm template leaves it out): the chart is
    copied with NOTES.txt wrapped in a template that a ConfigMap includes."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "sluice"
        shutil.copytree(CHART, chart)
        text = (chart / "templates" / "NOTES.txt").read_text()
        (chart / "templates" / "_notes_test.tpl").write_text(
            '{{- define "notes-test" -}}\n' + text + "\n{{- end }}\n")
        (chart / "templates" / "notes-test.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-test\n"
            'data:\n  notes: {{ include "notes-test" . | toJson }}\n')
        docs = render(values_file, chart=chart)
        return one(docs, "ConfigMap", "notes-test")["data"]["notes"]


def main():
    results = []

    def run(name, fn, *args):
        try:
            fn(*args)
            results.append((name, None))
            print(f"ok    {name}")
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next test runs
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            if not isinstance(e, AssertionError):
                detail = traceback.format_exc()
            results.append((name, detail))
            print(f"FAIL  {name}\n{detail}")

    print(f"helm: {HELM} ({helm('version', '--short').stdout.strip()})")
    print(f"sluice binary for `sluice config`: {SLUICE or 'not found; that check is skipped'}")
    files = sorted(VALUES.glob("*.yaml"))
    names = {f.name for f in files}
    assert names == {k for k in CASES if k}, f"values files without a case: {names ^ set(CASES)}"

    for values_file in [None, *files]:
        label = values_file.name if values_file else "defaults"
        extra = ["-f", str(values_file)] if values_file else []

        def lint():
            out = helm("lint", "--strict", str(CHART), *extra)
            assert "0 chart(s) failed" in out.stdout, out.stdout

        run(f"lint --strict: {label}", lint)

        def template_and_validate():
            docs = render(values_file)
            count = validate(docs, label)
            assert count >= 4, f"{label}: only {count} manifests validated"
            check_hardened(docs, label)
            if by_kind(docs, "ConfigMap"):
                check_sluice_loads(config_toml(docs), label)
            CASES[values_file.name if values_file else None](docs)

        run(f"template + kubernetes-validate --strict {' '.join(KUBE_VERSIONS)}: {label}",
            template_and_validate)

    for label, args, message in BAD:
        def bad(args=args, message=message):
            proc = helm("template", RELEASE, str(CHART), *args, check=False)
            assert proc.returncode != 0, "helm accepted the values"
            assert re.search(message, proc.stderr, re.S), f"helm said:\n{proc.stderr}"

        run(f"refused: {label}", bad)

    def notes_say_how_to_connect():
        text = notes(VALUES / "bundled-postgres.yaml")
        assert f"port-forward service/{RELEASE}-sluice 8083:8083" in text, text
        assert "aws stepfunctions list-state-machines --endpoint-url http://127.0.0.1:8083" in text
        assert "bundled single-node PostgreSQL" in text
        text = notes()
        assert "anyone who reaches the Service can run state machines" in text, text

    run("NOTES.txt: how to reach the API with the AWS CLI", notes_say_how_to_connect)

    def generated_password():
        docs = render(extra=["--set", "store.type=postgres", "--set", "postgresql.enabled=true"])
        pw = secret_data(one(docs, "Secret", f"{RELEASE}-sluice-postgresql"))["password"]
        assert re.fullmatch(r"[A-Za-z0-9]{32}", pw), pw

    run("bundled PostgreSQL: a generated password", generated_password)

    # The checkers themselves: each must refuse what it is there to refuse.
    def validator_refuses_a_bad_manifest():
        docs = render()
        dep = one(docs, "Deployment", f"{RELEASE}-sluice")
        dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
        try:
            validate([dep], "a misspelt field")
        except AssertionError as e:
            assert "httpGett" in str(e), e
        else:
            raise AssertionError("kubernetes-validate --strict accepted a misspelt field")

    run("kubernetes-validate --strict refuses a misspelt field", validator_refuses_a_bad_manifest)

    if SLUICE:
        def sluice_refuses_a_bad_config():
            try:
                check_sluice_loads("[serve]\nstroe = 1\n", "a misspelt key")
            except AssertionError as e:
                assert "stroe" in str(e), e
            else:
                raise AssertionError("sluice config accepted a misspelt key")

        run("sluice config refuses a misspelt key", sluice_refuses_a_bad_config)

    failed = [r for r in results if r[1]]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
