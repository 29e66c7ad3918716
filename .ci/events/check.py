"""Events and the development inbox, checked from outside (run by .ci/events/run).

Two operation services subscribe: `payments-service` (receiver A, which answers its first
request with a 500) and `other-service` (receiver B). The flows run through the real binary
(`serve --dev`, SQLite, console SMS); then:
- every request to either receiver verifies with the official `standardwebhooks` package;
- the request refused with a 500 comes again with the same `webhook-id` and body;
- each challenge's events arrive in order (verified before consumed);
- neither service receives an event about the other's challenges;
- in headless Chromium, /dev/inbox shows a code sent by :initiate without a reload.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

BIN = os.environ["MFA_BIN"]
SCREENSHOT = os.environ["MFA_SCREENSHOT"]
SECRET_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_B = "whsec_c2Vjb25kLXN1YnNjcmliZXItc2VjcmV0LWtleQ=="


class Receiver:
    """An operation service's webhook endpoint on loopback, verifying every request."""

    def __init__(self, secret, fail_first=0):
        self.secret = secret
        self.fail_first = fail_first
        self.requests = []  # (status answered, webhook-id, body dict), in arrival order
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                # Raises on a bad signature or a stale timestamp: the run fails below.
                Webhook(receiver.secret).verify(body, headers)
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 204
                    receiver.requests.append((status, headers["webhook-id"], json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def delivered(self):
        with self.lock:
            return [(i, b) for s, i, b in self.requests if s == 204]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except urllib.error.URLError:
        return 0, None


def token(*args):
    return subprocess.run([BIN, "token", "--dev", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def wait_for(what, check, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def main():
    work = tempfile.mkdtemp()
    a = Receiver(SECRET_A, fail_first=1)
    b = Receiver(SECRET_B)
    config = os.path.join(work, "mfa-totp.toml")
    with open(config, "w") as f:
        f.write(f"""
[events]
poll_interval_ms = 50
backoff_base_ms = 200
backoff_max_ms = 1000

[events.subscribers.payments-service]
url = "{a.url}"
secret = "{SECRET_A}"

[events.subscribers.other-service]
url = "{b.url}"
secret = "{SECRET_B}"
events = ["challenge.cancelled", "challenge.verified"]
""")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MFA_TOTP_CONFIG=config, MFA_TOTP__SERVER__PORT=str(port),
               MFA_TOTP__DATABASE__URL=f"sqlite://{work}/mfa-totp.db?mode=rwc")
    sms_log = open(os.path.join(work, "sms.log"), "w")
    server = subprocess.Popen([BIN, "serve", "--dev"], env=env, stdout=sms_log,
                              stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        wait_for("the server", lambda: call("GET", f"{base}/health/ready")[0] == 200
                 if server.poll() is None else sys.exit(open(os.path.join(work, "server.log")).read()))
        run_flows(base, a, b, os.path.join(work, "sms.log"))
    finally:
        server.terminate()
        server.wait(10)


def service(sub):
    return token("--sub", sub, "--scope", "mfa:challenges:write", "--scope",
                 "mfa:challenges:read", "--scope", "mfa:users:write")


def code_for(base, challenge):
    """The code the inbox shows for `challenge`."""
    def find():
        _, body = call("GET", f"{base}/dev/inbox/messages")
        for entry in body["entries"]:
            if entry["kind"] == "sms" and entry["challengeId"] == challenge:
                return entry["code"]
    return wait_for(f"the SMS of {challenge}", find)


def run_flows(base, a, b, sms_log):
    payments, other = service("payments-service"), service("other-service")
    for n, user in enumerate(["alice", "bob", "carol", "dave", "erin"]):
        status, _ = call("PUT", f"{base}/internal/v1/mfa/users/{user}", payments,
                         {"phoneNumber": f"+4474001231{n:02d}"})
        assert status in (200, 201), status

    def create(service_token, user):
        status, body = call("POST", f"{base}/internal/v1/mfa/challenges", service_token, {
            "subjectUserId": user,
            "stepUpRequestContext": {"operation": "payments.transfer",
                                     "attributes": {"amount": "120.00"}}})
        assert status == 201, body
        return body["challengeId"]

    def totp(verb, challenge, user, otp=None):
        return call("POST", f"{base}/internal/v1/mfa/totp-sms/{challenge}:{verb}",
                    token("--sub", user), {"otp": otp} if otp else None)

    # alice verifies and payments-service consumes: verified, then consumed.
    alice = create(payments, "alice")
    assert totp("initiate", alice, "alice")[0] == 200
    assert totp("verify", alice, "alice", code_for(base, alice))[0] == 200
    status, body = call("POST", f"{base}/internal/v1/mfa/challenges/{alice}:consume", payments)
    assert status == 200, body
    # bob's is cancelled; carol's locks after five wrong codes.
    bob = create(payments, "bob")
    assert call("POST", f"{base}/internal/v1/mfa/challenges/{bob}:cancel", payments)[0] // 100 == 2
    carol = create(payments, "carol")
    assert totp("initiate", carol, "carol")[0] == 200
    right = code_for(base, carol)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    for _ in range(5):
        totp("verify", carol, "carol", wrong)
    # other-service's own challenge, cancelled.
    dave = create(other, "dave")
    assert call("POST", f"{base}/internal/v1/mfa/challenges/{dave}:cancel", other)[0] // 100 == 2

    wait_for("payments-service's four events", lambda: len(a.delivered()) >= 4)
    wait_for("other-service's event", lambda: len(b.delivered()) >= 1)
    time.sleep(1)
    delivered_a, delivered_b = a.delivered(), b.delivered()

    by_challenge = {}
    for _, event in delivered_a:
        by_challenge.setdefault(event["data"]["challengeId"], []).append(event["type"])
    assert by_challenge == {
        alice: ["challenge.verified", "challenge.consumed"],
        bob: ["challenge.cancelled"],
        carol: ["challenge.locked"],
    }, by_challenge
    assert [e["data"]["challengeId"] for _, e in delivered_b] == [dave], delivered_b
    assert delivered_b[0][1]["type"] == "challenge.cancelled"
    refused = a.requests[0]
    assert refused[0] == 500
    again = [r for r in a.requests[1:] if r[1] == refused[1]]
    assert len(again) == 1 and again[0][0] == 204, "the refused event came again once"
    assert again[0][2] == refused[2], "with the same body"
    ids = [i for i, _ in delivered_a]
    assert len(set(ids)) == len(ids) == 4, "each event delivered once"
    for _, event in delivered_a:
        assert event["data"]["operation"] == "payments.transfer"
        assert re.fullmatch(r"[0-9a-f]{64}", event["data"]["contextDigest"])
        assert event["data"]["subjectUserId"] in ("alice", "bob", "carol")
    print(f"events: {len(a.requests)} requests to payments-service (1 refused with a 500 and "
          f"retried with its id), {len(b.requests)} to other-service; every signature valid "
          f"(standardwebhooks), in order per challenge, none about another's challenge")

    browser_check(base, payments, create, totp, sms_log)


def browser_check(base, payments, create, totp, sms_log):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1000,900",
                 f"--user-data-dir={tempfile.mkdtemp()}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"{base}/dev/inbox")
        WebDriverWait(driver, 10).until(
            lambda d: "entries" in d.find_element(By.ID, "status").text)
        driver.execute_script("window.notReloaded = true;")
        erin = create(payments, "erin")
        assert erin not in driver.page_source
        assert totp("initiate", erin, "erin")[0] == 200
        # The code as the console provider printed it: not read from the inbox.
        line = [l for l in open(sms_log) if l.startswith("SMS to +447400123104")][-1]
        code = re.search(r"\b\d{6}\b", line).group(0)
        shown = WebDriverWait(driver, 10).until(
            lambda d: [e.text for e in d.find_elements(
                By.CSS_SELECTOR, f'li[data-challenge-id="{erin}"] [data-code]')])
        assert shown == [code], shown
        first = driver.find_elements(By.CSS_SELECTOR, "#entries > li")[0]
        assert first.get_attribute("data-challenge-id") == erin, "newest first"
        assert driver.execute_script("return window.notReloaded === true;"), "no reload"
        driver.save_screenshot(SCREENSHOT)
        print(f"inbox: erin's code appeared in Chromium without a reload; screenshot {SCREENSHOT}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
