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
            if re.search(r"secret|token|key", variable["name"], re.I) and "valueFrom" not in variable and variable["name"] != "MFA_TOTP__CRYPTO__ACTIVE_KEY_ID":
                problems.append(f"{variable['name']} is not taken from a Secret")

compose = yaml.safe_load((root / "deploy/compose.yaml").read_text())
service = compose["services"]["mfa-totp"]
if "healthcheck" not in " ".join(service["healthcheck"]["test"]):
    problems.append("compose: the health check is not `mfa-totp healthcheck`")
if "postgres://" not in service["environment"]["MFA_TOTP__DATABASE__URL"]:
    problems.append("compose: the service does not run on PostgreSQL")

dockerfile = (root / "Dockerfile").read_text()
if not re.search(r'^HEALTHCHECK .*"mfa-totp", "healthcheck"|^HEALTHCHECK[\s\S]*mfa-totp", "healthcheck"', dockerfile, re.M):
    problems.append("Dockerfile: HEALTHCHECK does not run `mfa-totp healthcheck`")
if not re.search(r"^USER (?!0|root)", dockerfile, re.M):
    problems.append("Dockerfile: the runtime user is root")

for problem in problems:
    print(f"deploy check: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"deploy check: manifests parse; {probes} probes are paths of the spec; health checks use `mfa-totp healthcheck`")
