// Walks the documented flow through a client generated from the committed spec.
// Every call below is type-checked against `src/generated/schema.d.ts`, which
// `npm run generate` writes from `openapi/mfa-totp.json`: a path, parameter or field the
// spec does not declare fails the build, and a wrong status fails the run.
import { readFileSync } from "node:fs";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type ErrorBody = components["schemas"]["ErrorBody"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const client = createClient<paths>({ baseUrl: env("MFA_BASE_URL") });
const service = { Authorization: `Bearer ${env("MFA_SERVICE_TOKEN")}` };
const user = { Authorization: `Bearer ${env("MFA_USER_TOKEN")}` };
const userId = "alice"; // the user token's subject
const phoneNumber = "+447400123777";

/** The code of the newest SMS the console provider printed for `phone`. */
function lastCodeSentTo(phone: string): string {
  const lines = readFileSync(env("MFA_SMS_LOG"), "utf8").split("\n");
  const sent = lines.filter((line) => line.startsWith(`SMS to ${phone}:`));
  const code = sent.at(-1)?.match(/\b(\d{6,8})\b/)?.[1];
  if (!code) throw new Error(`no SMS to ${phone} in the log`);
  return code;
}

function expectError(error: ErrorBody | undefined, status: number, actual: number, code: string) {
  check(actual === status && error?.code === code, `${status} ${code}`);
  check(typeof error?.requestId === "string" && Array.isArray(error.fieldErrors), "error body shape");
}

const put = await client.PUT("/internal/v1/mfa/users/{userId}", {
  params: { path: { userId } },
  headers: service,
  body: { phoneNumber },
});
check(put.response.status === 200 || put.response.status === 201, "PUT user");

const created = await client.POST("/internal/v1/mfa/challenges", {
  headers: service,
  body: {
    subjectUserId: userId,
    stepUpRequestContext: { operation: "payments.transfer", attributes: { amount: "120.00" } },
  },
});
check(created.response.status === 201 && created.data !== undefined, "create challenge: 201");
const challengeId = created.data!.challengeId;
const path = { challengeId };

const initiated = await client.POST("/internal/v1/mfa/totp-sms/{challengeId}:initiate", {
  params: { path },
  headers: user,
});
check(initiated.data?.status === "CODE_SENT", ":initiate sends the code");
check(initiated.data?.maskedPhoneNumber === "+44*******777", "the phone is masked");
check(initiated.response.headers.get("x-request-id") !== null, "X-Request-Id header");

const code = lastCodeSentTo(phoneNumber);
const wrong = String((Number(code) + 1) % 10 ** code.length).padStart(code.length, "0");
const rejected = await client.POST("/internal/v1/mfa/totp-sms/{challengeId}:verify", {
  params: { path },
  headers: user,
  body: { otp: wrong },
});
expectError(rejected.error, 400, rejected.response.status, "urn:plmr:mfa-totp:api:INVALID_OTP");

const verified = await client.POST("/internal/v1/mfa/totp-sms/{challengeId}:verify", {
  params: { path },
  headers: user,
  body: { otp: code },
});
check(verified.data?.status === "VERIFIED", ":verify accepts the code");

// The operation service checks the step-up assertion offline, with `jose` and the keys the
// running service publishes.
const assertion = verified.data!.assertion;
const keys = createRemoteJWKSet(new URL("/.well-known/jwks.json", env("MFA_BASE_URL")));
const expected = {
  issuer: "mfa-totp",
  audience: "payments-service", // the service token's subject
  algorithms: ["ES256", "EdDSA"],
  typ: "step-up+jwt",
  requiredClaims: ["exp", "iat", "sub", "jti"],
};
const { payload } = await jwtVerify(assertion, keys, expected);
check(payload.sub === userId, "jose verifies the assertion against the JWKS");
check(payload.challenge_id === challengeId, "it names this challenge");
check(payload.context_digest === verified.data!.contextDigest, "it names this context's digest");
check(JSON.stringify(payload.amr) === JSON.stringify(["sms", "otp"]), "amr is sms, otp");

const [head, body, signature] = assertion.split(".") as [string, string, string];
const forgedClaims = { ...JSON.parse(Buffer.from(body, "base64url").toString()), sub: "mallory" };
const forged = [head, Buffer.from(JSON.stringify(forgedClaims)).toString("base64url"), signature].join(".");
const refusal = await jwtVerify(forged, keys, expected).then(
  () => undefined,
  (error: unknown) => error,
);
check(refusal instanceof joseErrors.JWSSignatureVerificationFailed, "jose refuses a tampered assertion");
const otherAudience = await jwtVerify(assertion, keys, { ...expected, audience: "other-service" }).then(
  () => undefined,
  (error: unknown) => error,
);
check(otherAudience instanceof joseErrors.JWTClaimValidationFailed, "jose refuses it for another audience");

const status = await client.GET("/internal/v1/mfa/challenges/{challengeId}", {
  params: { path },
  headers: service,
});
check(status.data?.status === "VERIFIED", "GET challenge says VERIFIED");

const consumed = await client.POST("/internal/v1/mfa/challenges/{challengeId}:consume", {
  params: { path },
  headers: service,
});
check(consumed.data?.stepUpRequestContext.operation === "payments.transfer", ":consume returns the context");
const signedPart = (token: string) => token.split(".").slice(0, 2).join(".");
check(
  signedPart(consumed.data!.assertion) === signedPart(assertion),
  ":consume hands on the assertion :verify returned (same header and claims)",
);
check((await jwtVerify(consumed.data!.assertion, keys, expected)).payload.jti === payload.jti, "and jose verifies it");

const again = await client.POST("/internal/v1/mfa/challenges/{challengeId}:consume", {
  params: { path },
  headers: service,
});
expectError(again.error, 404, again.response.status, "urn:plmr:mfa-totp:api:STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
console.log("the generated client walked the flow");
