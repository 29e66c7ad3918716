//! The pure parts of `:initiate` and `:verify`: a TOTP code made and checked (RFC 6238,
//! totp-rs), a secret sealed and opened (AES-256-GCM), and the step-up assertion a right code
//! earns signed (ES256, EdDSA). `cargo bench -p mfa-totp-crypto`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_totp_application::{AssertionSigner, SecretCipher};
use mfa_totp_crypto::{AesGcmCipher, AssertionKeys};
use mfa_totp_domain::{
    AssertionPolicy, Challenge, ChallengeId, ChallengePolicy, ClientId, Operation, OtpAlgorithm,
    SealedSecret, StepUpContext, TotpPolicy, TotpSecret, UserId,
};

fn totp(c: &mut Criterion) {
    let policy = TotpPolicy::new(6, 30, OtpAlgorithm::Sha1).unwrap();
    let secret = TotpSecret::from_bytes(*b"12345678901234567890");
    let step = 59_000_000;
    let code = policy.code_at(&secret, step);
    c.bench_function("totp: generate a code", |b| {
        b.iter(|| policy.code_at(black_box(&secret), black_box(step)))
    });
    c.bench_function("totp: check a code (parse + constant-time compare)", |b| {
        b.iter(|| {
            let candidate = policy.parse_code(black_box(code.expose())).unwrap();
            policy.matches(black_box(&secret), black_box(step), &candidate)
        })
    });
}

fn seal(c: &mut Criterion) {
    let cipher = AesGcmCipher::from_base64_keys(
        [("k1", "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDE=")],
        "k1",
    )
    .unwrap();
    let secret = TotpSecret::from_bytes(*b"12345678901234567890");
    let aad = b"0b5c2f1e-7a4d-4c1b-9e8f-3d2a1b0c9e8f";
    let sealed = cipher.seal(&secret, aad).unwrap();
    c.bench_function("secret: seal", |b| {
        b.iter(|| cipher.seal(black_box(&secret), black_box(aad)).unwrap())
    });
    c.bench_function("secret: open", |b| {
        b.iter(|| cipher.open(black_box(&sealed), black_box(aad)).unwrap())
    });
}

fn sign(c: &mut Criterion) {
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let id = ChallengeId::generate();
    let challenge = Challenge::new(
        id,
        UserId::parse("alice").unwrap(),
        ClientId::parse("payments-service").unwrap(),
        SealedSecret::new("k1:sealed".into()),
        at,
        &ChallengePolicy::default(),
    )
    .after_verify(at);
    let context = StepUpContext::new(
        id,
        Operation::parse("payments.transfer").unwrap(),
        serde_json::json!({"amount": "120.00"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let assertion = AssertionPolicy::default()
        .assertion_for(&challenge, &context)
        .unwrap();
    for (name, pem) in [
        ("ES256", include_str!("../testdata/es256-a.pem")),
        ("EdDSA", include_str!("../testdata/ed25519.pem")),
    ] {
        let keys = AssertionKeys::from_pem_keys([("k1", pem)], "k1").unwrap();
        c.bench_function(&format!("assertion: sign ({name})"), |b| {
            b.iter(|| keys.sign(black_box(&assertion)).unwrap())
        });
    }
}

criterion_group!(benches, totp, seal, sign);
criterion_main!(benches);
