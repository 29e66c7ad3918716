"""scripts/jwks-outage: the finding's scenario, rerun: an identity provider that answers once, then hangs; four
concurrent requests with a known, valid key once the cache is older than
auth.jwks_cache_secs. Prints each request's time."""
import http.server, json, os, subprocess, sys, threading, time, urllib.request, concurrent.futures
import jwt

FIX, BIN, WORK = sys.argv[1:4]
jwk = json.load(open(f"{FIX}/rs256-test-public.jwk.json"))
served = {"n": 0}
class Idp(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        served["n"] += 1
        if served["n"] > 1:
            time.sleep(60)  # hangs
            return
        body = json.dumps({"keys": [jwk]}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
idp = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Idp)
threading.Thread(target=idp.serve_forever, daemon=True).start()
env = dict(os.environ, MFA_TOTP__AUTH__JWKS_URL=f"http://127.0.0.1:{idp.server_port}/jwks",
           MFA_TOTP__AUTH__JWKS_CACHE_SECS="1", MFA_TOTP__AUTH__JWKS_MIN_REFRESH_SECS="1",
           MFA_TOTP__SERVER__PORT="18090", MFA_TOTP__DATABASE__URL=f"sqlite://{WORK}/m.db?mode=rwc")
server = subprocess.Popen([BIN, "serve", "--dev"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:18090/health/live"); break
    except Exception: time.sleep(0.1)
now = int(time.time())
token = jwt.encode({"sub": "payments-service", "iss": "mfa-totp", "aud": "mfa-totp", "scope": "mfa:users:write",
                    "iat": now, "exp": now + 300}, open(f"{FIX}/rs256-test-private.pem").read(), algorithm="RS256",
                   headers={"kid": "rsa-2026"})
def put(i):
    req = urllib.request.Request(f"http://127.0.0.1:18090/internal/v1/mfa/users/alice{i}", method="PUT",
        data=b'{"phoneNumber": "+447400123123"}', headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    t = time.monotonic(); status = urllib.request.urlopen(req, timeout=30).status
    return status, (time.monotonic() - t) * 1000
def four(first):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(put, range(first, first + 4)))
fresh = four(0)  # the baseline: keys just fetched
time.sleep(2.5)  # the cache is now older than 1 s, and the background refresh hangs
hanging = four(4)
print(f"identity provider asked {served['n']} times (1 answer, then hanging)")
for (s1, fresh_ms), (s2, hanging_ms) in zip(fresh, hanging):
    print(f"request: fresh keys {s1} in {fresh_ms:.1f} ms; identity provider hanging {s2} in {hanging_ms:.1f} ms")
server.terminate(); server.wait()
