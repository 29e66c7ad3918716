"""Walks the documented flow through a Python client generated from the committed spec
(openapi-python-client): user, create, initiate, a wrong code answered with a typed
ErrorBody, verify, status, consume. Every body below is a generated model, so a schema the
generator dropped fails here. The step-up assertion is checked as an operation service
would, with PyJWT and its JWKS client fetching the running service's keys. Run by
.ci/contract/run."""

import base64
import json
import os
import re
import sys

import jwt

import mfa_totp_client.models
from mfa_totp_client import AuthenticatedClient
from mfa_totp_client.api.challenges import consume_challenge, create_challenge, get_challenge
from mfa_totp_client.api.totp_sms import initiate_totp_sms, verify_totp_sms
from mfa_totp_client.api.users import put_user
from mfa_totp_client.models import (
    ChallengeStatus,
    ConsumedContext,
    CreateChallengeRequest,
    ErrorBody,
    ErrorCode,
    InitiateResponse,
    PutUserRequest,
    StepUpRequestContext,
    StepUpRequestContextAttributes,
    User,
    VerifyRequest,
    VerifyResponse,
)
from mfa_totp_client.models import Challenge as ChallengeModel


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"check failed: {what}")
    print(f"ok - {what}")


def last_code_sent_to(phone: str) -> str:
    """The code of the newest SMS the console provider printed for `phone`."""
    with open(env("MFA_SMS_LOG"), encoding="utf-8") as log:
        sent = [line for line in log if line.startswith(f"SMS to {phone}: ")]
    match = re.search(r"\b(\d{6,8})\b", sent[-1]) if sent else None
    if match is None:
        sys.exit(f"no SMS to {phone} in the log")
    return match.group(1)


with open(env("MFA_SPEC"), encoding="utf-8") as spec_file:
    schemas = json.load(spec_file)["components"]["schemas"]
missing = [name for name in schemas if not hasattr(mfa_totp_client.models, name)]
check(not missing, f"a typed model for every schema of the spec ({len(schemas)}); missing: {missing}")

base = env("MFA_BASE_URL")
service = AuthenticatedClient(base_url=base, token=env("MFA_SERVICE_TOKEN"))
user = AuthenticatedClient(base_url=base, token=env("MFA_USER_TOKEN"))
user_id = "alice"  # the user token's subject
phone = "+447400123888"

put = put_user.sync_detailed(user_id, client=service, body=PutUserRequest(phone_number=phone))
check(put.status_code in (200, 201) and isinstance(put.parsed, User), "PUT user: a typed User")

attributes = StepUpRequestContextAttributes.from_dict({"amount": "120.00"})
created = create_challenge.sync_detailed(
    client=service,
    body=CreateChallengeRequest(
        subject_user_id=user_id,
        step_up_request_context=StepUpRequestContext(
            operation="payments.transfer", attributes=attributes
        ),
    ),
)
check(created.status_code == 201 and isinstance(created.parsed, ChallengeModel), "create: 201, a typed Challenge")
challenge_id = created.parsed.challenge_id
check(created.parsed.status == ChallengeStatus.PENDING, "the new challenge is PENDING")

initiated = initiate_totp_sms.sync_detailed(challenge_id, client=user)
check(isinstance(initiated.parsed, InitiateResponse), ":initiate: a typed InitiateResponse")
check(initiated.parsed.status == ChallengeStatus.CODE_SENT, ":initiate sends the code")
check(initiated.parsed.masked_phone_number == "+44*******888", "the phone is masked")
check("x-request-id" in initiated.headers, "X-Request-Id header")

code = last_code_sent_to(phone)
wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
rejected = verify_totp_sms.sync_detailed(challenge_id, client=user, body=VerifyRequest(otp=wrong))
check(rejected.status_code == 400 and isinstance(rejected.parsed, ErrorBody), "a wrong code: 400, a typed ErrorBody")
check(rejected.parsed.code == ErrorCode("urn:plmr:mfa-totp:api:INVALID_OTP"), "its code is INVALID_OTP")
check(rejected.parsed.request_id == rejected.headers["x-request-id"], "requestId = X-Request-Id")
check(rejected.parsed.field_errors == [], "no field errors")

verified = verify_totp_sms.sync_detailed(challenge_id, client=user, body=VerifyRequest(otp=code))
check(isinstance(verified.parsed, VerifyResponse), ":verify: a typed VerifyResponse")
check(verified.parsed.status == ChallengeStatus.VERIFIED, "the right code verifies")

# The operation service checks the assertion offline: PyJWT, keys from the service's JWKS.
assertion = verified.parsed.assertion
operation_service = "payments-service"  # the service token's subject: the audience
jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
signing_key = jwks.get_signing_key_from_jwt(assertion)
check(jwt.get_unverified_header(assertion)["typ"] == "step-up+jwt", "the assertion's typ is step-up+jwt")


def checked(token: str) -> dict:
    return jwt.decode(
        token,
        signing_key,
        algorithms=["ES256", "EdDSA"],
        audience=operation_service,
        issuer="mfa-totp",
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


claims = checked(assertion)
check(claims["sub"] == user_id and claims["amr"] == ["sms", "otp"], "PyJWT verifies the assertion: sub, amr")
check(claims["challenge_id"] == challenge_id, "it names this challenge")
check(claims["context_digest"] == verified.parsed.context_digest, "it names this context's digest")
check(claims["auth_time"] == int(verified.parsed.verified_at.timestamp()), "auth_time is verifiedAt")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


head, body, signature = assertion.split(".")
forged_claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
forged_claims["context_digest"] = "0" * 64
forged = ".".join([head, b64(json.dumps(forged_claims).encode()), signature])
try:
    checked(forged)
    check(False, "PyJWT refuses a tampered assertion")
except jwt.InvalidSignatureError:
    check(True, "PyJWT refuses a tampered assertion")
try:
    jwt.decode(assertion, signing_key, algorithms=["ES256", "EdDSA"], audience="other-service", issuer="mfa-totp")
    check(False, "PyJWT refuses the assertion for another audience")
except jwt.InvalidAudienceError:
    check(True, "PyJWT refuses the assertion for another audience")

status = get_challenge.sync_detailed(challenge_id, client=service)
check(isinstance(status.parsed, ChallengeModel) and status.parsed.status == ChallengeStatus.VERIFIED, "status: VERIFIED")

consumed = consume_challenge.sync_detailed(challenge_id, client=service)
check(isinstance(consumed.parsed, ConsumedContext), ":consume: a typed ConsumedContext")
check(consumed.parsed.step_up_request_context.operation == "payments.transfer", "the context comes back")
check(
    consumed.parsed.assertion.rsplit(".", 1)[0] == assertion.rsplit(".", 1)[0],
    ":consume hands on the assertion :verify returned (same header and claims)",
)
check(checked(consumed.parsed.assertion) == claims, "and PyJWT verifies it")

again = consume_challenge.sync_detailed(challenge_id, client=service)
check(again.status_code == 404 and isinstance(again.parsed, ErrorBody), "a second :consume: 404, a typed ErrorBody")
check(again.parsed.code == ErrorCode("urn:plmr:mfa-totp:api:STEP_UP_REQUEST_CONTEXT_NOT_FOUND"), "its code is STEP_UP_REQUEST_CONTEXT_NOT_FOUND")
