"""Twilio's own Python library signs status callbacks; the server must take what it signs.

Twilio signs the callback URL sometimes with the port (https://host:443/...) and sometimes
without, and its RequestValidator accepts both: so must the server. A signature under another
token is 403, none at all 401. Reads MFA_BASE_URL, MFA_TWILIO_TOKEN and MFA_TWILIO_CALLBACK.
"""

import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from twilio.request_validator import RequestValidator

base = os.environ["MFA_BASE_URL"]
token = os.environ["MFA_TWILIO_TOKEN"]
callback = os.environ["MFA_TWILIO_CALLBACK"]
with_port = callback.replace("https://mfa.example/", "https://mfa.example:443/", 1)
assert with_port != callback, "the callback URL is https://mfa.example/..."

params = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "MessageStatus": "undelivered",
    "ErrorCode": "30008",
    "To": "+447400123123",
    "From": "+15005550006",
    "ApiVersion": "2010-04-01",
}


def post(signature):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(
        base + "/internal/v1/mfa/sms/twilio/status",
        data=urllib.parse.urlencode(params).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


validator = RequestValidator(token)
failures = []
for url in (callback, with_port):
    signature = validator.compute_signature(url, params)
    assert validator.validate(callback, params, signature), url
    status = post(signature)
    print(f"signed by twilio over {url}: {status}")
    if status != 204:
        failures.append(f"{url}: {status}, expected 204")
for label, signature, expected in [
    ("another token", RequestValidator("not-the-token").compute_signature(callback, params), 403),
    ("no signature", None, 401),
]:
    status = post(signature)
    print(f"{label}: {status}")
    if status != expected:
        failures.append(f"{label}: {status}, expected {expected}")
if failures:
    sys.exit("twilio callbacks: " + "; ".join(failures))
print("twilio callbacks: passed")
