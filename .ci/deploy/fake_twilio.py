"""A Twilio Messages API over https, for starting the image against: it checks the wire
format the adapter must send (the path with the account SID, HTTP Basic auth, the form
fields) and answers as Twilio does. Each message it takes is appended to the file named by
the second argument, one JSON line each.

Usage: fake_twilio.py <port> <messages.jsonl> <cert.pem> <key.pem> <account_sid> <auth_token>
"""

import base64
import http.server
import json
import ssl
import sys
import urllib.parse

port, messages, cert, key, account_sid, auth_token = sys.argv[1:7]
expected_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()


class Twilio(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = dict(urllib.parse.parse_qsl(body, strict_parsing=True))
        problems = []
        if self.path != expected_path:
            problems.append(f"path {self.path}")
        if self.headers.get("Authorization") != expected_auth:
            problems.append("authorization")
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            problems.append(f"content type {self.headers.get('Content-Type')}")
        if not {"To", "Body", "From"} <= form.keys():
            problems.append(f"fields {sorted(form)}")
        if problems:
            self.answer(400, {"code": 20001, "message": "; ".join(problems), "status": 400})
            return
        with open(messages, "a") as out:
            out.write(json.dumps(form) + "\n")
        self.answer(201, {"sid": "SM" + "0" * 32, "status": "queued"})

    def answer(self, status, document):
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Twilio)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
