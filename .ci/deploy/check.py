"""What CI can check of the container and deployment files without a container engine:
the manifests parse as YAML, every probe they name is an operation of the committed spec,
and the health checks go through `mfa-totp healthcheck`."""

import json
import pathlib
import re
import sys

import yaml

root = pathlib.Path(__file__).resolve().parents[2]
spec_paths = set(json.loads((root / "openapi/mfa-totp.json").read_text())["paths"])
problems = []

manifests = list(yaml.safe_load_all((root / "deploy/kubernetes.yaml").read_text()))
kinds = {doc["kind"] for doc in manifests if doc}
for kind in ("Deployment", "Service"):
    if kind not in kinds:
        problems.append(f"deploy/kubernetes.yaml has no {kind}")
probes = 0
for doc in manifests:
    if not doc or doc["kind"] != "Deployment":
        continue
    for container in doc["spec"]["template"]["spec"]["containers"]:
        for probe in ("livenessProbe", "readinessProbe"):
            path = container.get(probe, {}).get("httpGet", {}).get("path")
            if path is None:
                problems.append(f"{container['name']} has no {probe}")
            elif path not in spec_paths:
                problems.append(f"{probe} {path} is not a path of the spec")
            else:
                probes += 1
        if "preStop" not in container.get("lifecycle", {}):
            problems.append(f"{container['name']} has no preStop drain")
        for variable in container.get("env", []):
            value = variable.get("value", "")
            if re.search(r"secret|token|key", variable["name"], re.I) and "valueFrom" not in variable and not variable["name"].endswith("__ACTIVE_KEY_ID"):
                problems.append(f"{variable['name']} is not taken from a Secret")

for doc in manifests:
    if not doc or doc["kind"] != "Deployment":
        continue
    pod = doc["spec"]["template"]["spec"]
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("Deployment: automountServiceAccountToken is not false")
    if pod.get("securityContext", {}).get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("Deployment: no seccompProfile RuntimeDefault")
    for container in pod["containers"]:
        context = container.get("securityContext", {})
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{container['name']}: capabilities are not dropped (drop: [ALL])")
        if context.get("allowPrivilegeEscalation") is not False or not context.get("readOnlyRootFilesystem"):
            problems.append(f"{container['name']}: privilege escalation or a writable root")
        if container["image"].endswith(":latest") or ":" not in container["image"]:
            problems.append(f"{container['name']}: image {container['image']} is not pinned")
policies = [doc for doc in manifests if doc and doc["kind"] == "NetworkPolicy"]
if not policies:
    problems.append("deploy/kubernetes.yaml has no NetworkPolicy")
for policy in policies:
    ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    if ports != {"http", "metrics"}:
        problems.append(f"NetworkPolicy admits {ports}, not the API and metrics ports")
if "sslmode=verify-full" not in (root / "deploy/kubernetes.yaml").read_text():
    problems.append("deploy/kubernetes.yaml: the database URL does not ask for sslmode=verify-full")

compose = yaml.safe_load((root / "deploy/compose.yaml").read_text())
service = compose["services"]["mfa-totp"]
if "healthcheck" not in " ".join(service["healthcheck"]["test"]):
    problems.append("compose: the health check is not `mfa-totp healthcheck`")
if "postgres://" not in service["environment"]["MFA_TOTP__DATABASE__URL"]:
    problems.append("compose: the service does not run on PostgreSQL")
for published in service.get("ports", []):
    if not str(published).startswith("127.0.0.1:"):
        problems.append(f"compose: port {published} is published on every interface")
for ignore in (".gitignore", ".dockerignore"):
    if ".env" not in (root / ignore).read_text().split():
        problems.append(f"{ignore} does not ignore .env")

dockerfile = (root / "Dockerfile").read_text()
if not re.search(r'^HEALTHCHECK .*"mfa-totp", "healthcheck"|^HEALTHCHECK[\s\S]*mfa-totp", "healthcheck"', dockerfile, re.M):
    problems.append("Dockerfile: HEALTHCHECK does not run `mfa-totp healthcheck`")
if not re.search(r"^USER (?!0|root)", dockerfile, re.M):
    problems.append("Dockerfile: the runtime user is root")
if "ca-certificates" not in dockerfile.split("FROM debian")[-1]:
    problems.append("Dockerfile: the runtime stage installs no CA certificates")

for problem in problems:
    print(f"deploy check: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"deploy check: manifests parse; {probes} probes are paths of the spec; health checks use `mfa-totp healthcheck`")
