"""What operators see, against the real binary, with their own tools.

Two servers: A sends SMS through a fake Twilio and exports spans to an OTLP/HTTP receiver
here (through the standard OTEL_* variables); B takes its token keys from a JWKS served here,
so that the identity provider's metrics exist for the dashboard.
After a full flow on A:
  - `promtool check metrics` passes on A's scrape;
  - a real Prometheus scrapes both every second during a short load on A; every query of
    deploy/grafana/mfa-totp.json must be valid PromQL and return data, and the metadata API
    must carry HELP text;
  - A's spans, decoded with the official OpenTelemetry protobuf classes, must follow the HTTP
    semantic conventions. The trace of one :initiate is printed as a tree.

Usage: check.py <mfa-totp binary> <load seconds>
"""

import base64
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

BINARY = os.path.abspath(sys.argv[1])
LOAD_SECS = float(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = tempfile.mkdtemp(prefix="mfa-telemetry-")
ACCOUNT_SID = "AC0000000000000000000000000000cafe"
AUTH_TOKEN = "twilio-token-telemetry-5c9e2a71"
FAILING_PHONE = "+447400999999"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
INITIATE_ROUTE = "/internal/v1/mfa/totp-sms/{challengeId}:initiate"
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)
        print(f"  FAILED: {message}")
    return condition


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# --- the peers -------------------------------------------------------------------------

twilio_lock = threading.Lock()
twilio_messages = []  # (to, body, traceparent)


class Twilio(Quiet):
    """Takes every message but those to FAILING_PHONE, which get a 500."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = dict(urllib.parse.parse_qsl(body))
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.answer(401, b'{"code":20003}')
        with twilio_lock:
            twilio_messages.append((form.get("To"), form.get("Body"), self.headers.get("traceparent")))
        if form.get("To") == FAILING_PHONE:
            return self.answer(500, b'{"code":20500,"message":"Internal Server Error"}')
        self.answer(201, json.dumps({"sid": f"SM{len(twilio_messages):032x}", "status": "queued"}).encode())


def code_for(phone, after):
    """The code of the first message to `phone` past index `after`."""
    for _ in range(100):
        with twilio_lock:
            for to, body, _ in twilio_messages[after:]:
                if to == phone:
                    return re.search(r"\b(\d{6})\b", body).group(1)
        time.sleep(0.05)
    raise RuntimeError(f"no SMS to {phone}")


exports = []  # (content type, ExportTraceServiceRequest)


class Receiver(Quiet):
    """An OTLP/HTTP traces endpoint."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        exports.append((self.headers.get("Content-Type"), self.path, request))
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.answer(200, answer, "application/x-protobuf")


with open(os.path.join(ROOT, "server/tests/fixtures/rs256-test-public.jwk.json")) as f:
    JWKS = json.dumps({"keys": [json.load(f)]}).encode()


class Jwks(Quiet):
    def do_GET(self):
        self.answer(200, JWKS)


# --- the servers -----------------------------------------------------------------------

processes = []


def start(name, env):
    port = free_port()
    full = dict(os.environ)
    for key in list(full):
        if key.startswith("MFA_TOTP__") or key.startswith("OTEL_"):
            del full[key]
    full.update(
        {
            "MFA_TOTP__SERVER__PORT": str(port),
            "MFA_TOTP__SERVER__LOG_FORMAT": "json",
            "MFA_TOTP__DATABASE__URL": f"sqlite://{WORK}/{name}.db?mode=rwc",
        }
    )
    full.update(env)
    log = open(os.path.join(WORK, f"{name}.log"), "w")
    process = subprocess.Popen([BINARY, "serve", "--dev"], env=full, stdout=log, stderr=log, cwd=WORK)
    processes.append(process)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=1):
                return process, base, port
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    print(open(os.path.join(WORK, f"{name}.log")).read())
    raise RuntimeError(f"server {name} did not start")


def call(method, url, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def token(*args):
    out = subprocess.run([BINARY, "token", "--dev", *args], capture_output=True, text=True, cwd=WORK, check=True)
    return out.stdout.strip()


def flow(base, service, user_token, user, phone, headers=None):
    """create, initiate, verify; returns the challenge id and the statuses."""
    status, created = call("POST", f"{base}/internal/v1/mfa/challenges", service,
                           {"subjectUserId": user, "stepUpRequestContext": {
                               "operation": "payments.transfer", "attributes": {"amount": "120.00"}}})
    assert status == 201, (status, created)
    cid = created["challengeId"]
    with twilio_lock:
        mark = len(twilio_messages)
    initiated, _ = call("POST", f"{base}/internal/v1/mfa/totp-sms/{cid}:initiate", user_token, headers=headers)
    if initiated != 200:
        return cid, initiated, None
    code = code_for(phone, mark)
    verified, _ = call("POST", f"{base}/internal/v1/mfa/totp-sms/{cid}:verify", user_token, {"otp": code})
    return cid, initiated, verified


def main():
    twilio, twilio_url = serve(Twilio)
    receiver, receiver_url = serve(Receiver)
    jwks, jwks_url = serve(Jwks)
    limits_off = {f"MFA_TOTP__LIMITS__{l}__MAX": "0" for l in
                  ["USER_WRONG_CODES", "USER_CHALLENGES", "USER_SMS", "PHONE_SMS", "GLOBAL_SMS"]}
    a, base, port_a = start("a", {
        **limits_off,
        "MFA_TOTP__SMS__PROVIDER": "twilio",
        "MFA_TOTP__SMS__TWILIO__BASE_URL": twilio_url,
        "MFA_TOTP__SMS__TWILIO__ACCOUNT_SID": ACCOUNT_SID,
        "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN": AUTH_TOKEN,
        "MFA_TOTP__SMS__TWILIO__FROM": "+15005550006",
        # The standard variables, not the service's own key.
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
        "OTEL_SERVICE_NAME": "mfa-totp-ci",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=ci,service.namespace=payments",
    })
    b, base_b, port_b = start("b", {"MFA_TOTP__AUTH__JWKS_URL": f"{jwks_url}/jwks"})

    service = token("--sub", "payments-service", "--scope", "mfa:challenges:write", "--scope",
                    "mfa:challenges:read", "--scope", "mfa:users:write", "--scope", "mfa:audit:read")
    phones = {"alice": "+447400123123", "bob": FAILING_PHONE}
    phones.update({f"load{i}": f"+4474001231{i:02d}" for i in range(4)})
    users = {}
    for user, phone in phones.items():
        status, _ = call("PUT", f"{base}/internal/v1/mfa/users/{user}", service, {"phoneNumber": phone})
        assert status == 201, status
        users[user] = token("--sub", user)

    print("== the flow, with a traceparent on :initiate")
    cid, initiated, verified = flow(base, service, users["alice"], "alice", phones["alice"],
                                    {"traceparent": TRACEPARENT, "x-request-id": "ci-initiate"})
    check(initiated == 200 and verified == 200, f"flow: initiate {initiated}, verify {verified}")
    status, _ = call("POST", f"{base}/internal/v1/mfa/challenges/{cid}:consume", service)
    check(status == 200, f"consume {status}")
    status, _ = call("GET", f"{base}/internal/v1/nothing-here", service)
    check(status == 404, f"unknown path {status}")
    _, failed, _ = flow(base, service, users["bob"], "bob", FAILING_PHONE, {"x-request-id": "ci-503"})
    check(failed == 503, f"initiate to a failing Twilio answered {failed}")

    print("== promtool check metrics on a scrape of A")
    with urllib.request.urlopen(f"{base}/metrics") as response:
        scrape = response.read()
    lint = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True)
    print((lint.stdout + lint.stderr).decode().strip() or "  (no findings)")
    check(lint.returncode == 0, "promtool check metrics")
    families = sum(1 for line in scrape.decode().splitlines() if line.startswith("# TYPE "))
    helps = sum(1 for line in scrape.decode().splitlines() if line.startswith("# HELP "))
    print(f"  {families} families, {helps} with HELP")

    print("== a real Prometheus, scraping A and B every second")
    prom_port = free_port()
    config = os.path.join(WORK, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                f"rule_files: ['{ROOT}/deploy/prometheus/alerts.yaml']\n"
                "scrape_configs:\n  - job_name: mfa-totp\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{port_a}', '127.0.0.1:{port_b}']\n")
    prom_log = open(os.path.join(WORK, "prometheus.log"), "w")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={WORK}/tsdb",
         f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=prom_log, stderr=prom_log)
    processes.append(prometheus)
    prom = f"http://127.0.0.1:{prom_port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{prom}/-/ready", timeout=1):
                break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    print(f"== a load on A for {LOAD_SECS:.0f} s (4 clients, create, initiate, verify)")
    stop = time.time() + LOAD_SECS
    counts = {"flows": 0}

    def load(i):
        user = f"load{i}"
        while time.time() < stop:
            flow(base, service, users[user], user, phones[user])
            counts["flows"] += 1

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(3)
    print(f"  {counts['flows']} flows")

    def query(expr):
        url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)

    print("== every query of deploy/grafana/mfa-totp.json, evaluated")
    with open(os.path.join(ROOT, "deploy/grafana/mfa-totp.json")) as f:
        dashboard = json.load(f)
    variables = {"$__rate_interval": "30s", "${datasource}": "", "$job": "mfa-totp", "$instance": ".*"}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        expr = variable["definition"]
        match = re.fullmatch(r"label_values\((.*), (\w+)\)", expr)
        selector = match.group(1)
        for name, value in variables.items():
            selector = selector.replace(name, value)
        url = f"{prom}/api/v1/label/{match.group(2)}/values?" + urllib.parse.urlencode({"match[]": selector})
        with urllib.request.urlopen(url) as response:
            values = json.load(response)["data"]
        check(values, f"variable {variable['name']}: {expr} has no values")
        print(f"  variable {variable['name']} = {values}")
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
            answer = query(expr)
            ok = answer.get("status") == "success"
            result = answer.get("data", {}).get("result", []) if ok else []
            check(ok, f"panel '{panel['title']}': {answer.get('error')}: {expr}")
            check(result, f"panel '{panel['title']}' has no data: {expr}")
            shown = ", ".join(
                f"{' '.join(v for k, v in sorted(r['metric'].items()) if k not in ('job', '__name__')) or '-'}"
                f"={float(r['value'][1]):.4g}" for r in result[:6])
            more = f" (+{len(result) - 6})" if len(result) > 6 else ""
            print(f"  [{panel['title']}] {target['legendFormat']}: {shown}{more}")
    with urllib.request.urlopen(f"{prom}/api/v1/metadata?metric=mfa_totp_http_requests_total") as response:
        metadata = json.load(response)["data"].get("mfa_totp_http_requests_total", [])
    check(metadata and metadata[0]["help"], "the metadata API has no HELP for mfa_totp_http_requests_total")
    print(f"  metadata help: {metadata[0]['help'] if metadata else '-'}")
    with urllib.request.urlopen(f"{prom}/api/v1/rules") as response:
        groups = json.load(response)["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    check(all(r["health"] == "ok" for r in rules), f"alert rules unhealthy: {[r['name'] for r in rules if r['health'] != 'ok']}")
    print(f"  {len(rules)} alert rules loaded, all healthy; firing: "
          f"{[r['name'] for r in rules if r['state'] == 'firing'] or 'none'}")

    print("== spans of A, decoded with opentelemetry-proto")
    a.send_signal(signal.SIGTERM)
    check(a.wait(timeout=30) == 0, "A did not exit 0 on SIGTERM")
    check_spans()


def attributes(items):
    out = {}
    for kv in items:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return out


def check_spans():
    check(exports, "no export reached the receiver")
    check(all(path == "/v1/traces" for _, path, _ in exports), "exports not at /v1/traces")
    check(all(ct == "application/x-protobuf" for ct, _, _ in exports), f"content types {set(ct for ct, _, _ in exports)}")
    spans = []
    resources = []
    for _, _, request in exports:
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            resources.append(resource)
            for scope_spans in resource_spans.scope_spans:
                spans.extend(scope_spans.spans)
    resource = resources[0] if resources else {}
    for key, expected in [("service.name", "mfa-totp-ci"), ("service.version", "0.1.0"),
                          ("deployment.environment.name", "ci"), ("service.namespace", "payments")]:
        check(resource.get(key) == expected, f"resource {key} = {resource.get(key)!r}, not {expected!r}")
    check(resource.get("service.instance.id"), "no service.instance.id")
    print(f"  resource: {resource}")
    kinds = {trace_pb2.Span.SPAN_KIND_SERVER: "SERVER", trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
             trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL"}
    trace = [s for s in spans if s.trace_id.hex() == TRACE_ID]
    server = [s for s in trace if s.kind == trace_pb2.Span.SPAN_KIND_SERVER]
    if check(len(server) == 1, f"{len(server)} SERVER spans in the caller's trace"):
        s = server[0]
        attrs = attributes(s.attributes)
        check(s.name == f"POST {INITIATE_ROUTE}", f"server span name {s.name!r}")
        check(s.parent_span_id.hex() == CALLER_SPAN, "the server span's parent is not the caller's span")
        for key, expected in [("http.request.method", "POST"), ("http.route", INITIATE_ROUTE),
                              ("http.response.status_code", 200), ("url.scheme", "http"),
                              ("server.address", "127.0.0.1"), ("network.protocol.version", "1.1")]:
            check(attrs.get(key) == expected, f"server span {key} = {attrs.get(key)!r}")
        check(attrs.get("url.path", "").endswith(":initiate"), "url.path")
        check(s.status.code != trace_pb2.Status.STATUS_CODE_ERROR, "a 200 has an error status")
    clients = [s for s in trace if s.kind == trace_pb2.Span.SPAN_KIND_CLIENT]
    if check(len(clients) == 1, f"{len(clients)} CLIENT spans in the caller's trace"):
        c = clients[0]
        attrs = attributes(c.attributes)
        for key, expected in [("http.request.method", "POST"), ("peer.service", "twilio"),
                              ("http.response.status_code", 201), ("server.address", "127.0.0.1")]:
            check(attrs.get(key) == expected, f"client span {key} = {attrs.get(key)!r}")
        sent = [tp for to, _, tp in twilio_messages if tp and tp.split("-")[1] == TRACE_ID]
        check(sent == [f"00-{TRACE_ID}-{c.span_id.hex()}-01"], f"Twilio got traceparent {sent}")
        ids = {s.span_id for s in trace}
        check(all(s.parent_span_id in ids for s in trace if s is not server[0]), "a span of the trace has no parent in it")
    failing = [s for s in spans if s.kind == trace_pb2.Span.SPAN_KIND_SERVER
               and attributes(s.attributes).get("http.response.status_code") == 503]
    if check(failing, "no SERVER span of the 503"):
        s = failing[0]
        check(s.status.code == trace_pb2.Status.STATUS_CODE_ERROR, "a 503's span has no error status")
        check(attributes(s.attributes).get("error.type") == "503", "a 503's span has no error.type")
        failed_calls = [c for c in spans if c.trace_id == s.trace_id and c.kind == trace_pb2.Span.SPAN_KIND_CLIENT]
        check(failed_calls and all(c.status.code == trace_pb2.Status.STATUS_CODE_ERROR for c in failed_calls),
              "the failing provider calls have no error status")
    not_found = [s for s in spans if s.kind == trace_pb2.Span.SPAN_KIND_SERVER
                 and attributes(s.attributes).get("http.response.status_code") == 404]
    if check(not_found, "no SERVER span of the 404"):
        check(not_found[0].name == "GET", f"an unknown path's span is named {not_found[0].name!r}")
        check(not_found[0].status.code != trace_pb2.Status.STATUS_CODE_ERROR, "a 404 is the server's error")
    names = {s.name for s in spans if s.kind == trace_pb2.Span.SPAN_KIND_SERVER}
    check(all(not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", n) for n in names), f"an id in a span name: {names}")
    print(f"  {len(spans)} spans; SERVER span names: {sorted(names)}")

    print("  the trace of one :initiate:")
    by_parent = {}
    for s in trace:
        by_parent.setdefault(s.parent_span_id, []).append(s)

    def show(span, depth):
        attrs = attributes(span.attributes)
        keys = ["http.route", "http.request.method", "http.response.status_code", "peer.service",
                "server.address", "url.full", "challenge_id"]
        shown = ", ".join(f"{k}={attrs[k]}" for k in keys if k in attrs)
        ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        status = {0: "UNSET", 1: "OK", 2: "ERROR"}[span.status.code]
        print(f"    {'  ' * depth}{span.name} [{kinds.get(span.kind, span.kind)}, {status}, {ms:.1f} ms] {shown}")
        for child in sorted(by_parent.get(span.span_id, []), key=lambda s: s.start_time_unix_nano):
            show(child, depth + 1)

    for root in by_parent.get(bytes.fromhex(CALLER_SPAN), []):
        print(f"    (caller span {CALLER_SPAN})")
        show(root, 1)


try:
    main()
finally:
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

if problems:
    print(f"== telemetry: {len(problems)} problem(s); logs in {WORK}")
    sys.exit(1)
shutil.rmtree(WORK, ignore_errors=True)
print("== telemetry: passed")
