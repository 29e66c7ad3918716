//! The configuration's layers, validation and translation.

use mfa_totp_domain::{ChallengePolicy, Limit};

use super::*;

#[test]
fn defaults_are_valid_and_follow_the_design() {
    let config = Config::new(Settings::default()).unwrap();
    assert_eq!(config.policies.challenge, ChallengePolicy::default());
    assert_eq!(
        config.settings.database.url,
        "sqlite://mfa-totp.db?mode=rwc"
    );
}

#[test]
fn validation_names_the_key_at_fault() {
    let mut s = Settings::default();
    s.challenge.code_ttl_secs = 900;
    assert!(problems(s).contains("challenge.code_ttl_secs"));
    let mut s = Settings::default();
    s.challenge.otp_digits = 4;
    assert!(problems(s).contains("challenge.otp_digits"));
    let mut s = Settings::default();
    s.crypto.active_key_id = Some("k9".into());
    assert!(problems(s).contains("crypto.active_key_id"));
}

#[test]
fn limits_beyond_what_the_spec_states_are_refused() {
    type Change = fn(&mut ChallengeSettings);
    let cases: [(&str, Change); 3] = [
        ("challenge.ttl_secs", |c| {
            c.ttl_secs = ChallengePolicy::MAX_WAIT_SECS + 1
        }),
        ("challenge.resend_cooldown_secs", |c| {
            c.resend_cooldown_secs = ChallengePolicy::MAX_WAIT_SECS + 1
        }),
        ("challenge.max_sends", |c| {
            c.max_sends = ChallengePolicy::MAX_SENDS + 1
        }),
    ];
    for (key, change) in cases {
        let mut s = Settings::default();
        change(&mut s.challenge);
        let error = problems(s);
        assert!(error.contains(key) && error.contains("at most"), "{error}");
    }
}

#[test]
fn an_sms_chain_comes_from_a_toml_list_and_the_provider_keys_are_read() {
    let s = load_toml(
        "[sms]\nchain = [\"twilio\", \"vonage\"]\n\
         [sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"6f9c0d1e2a3b4c5d6e7f8a9b0c1d2e3f\"\nfrom = \"+15005550006\"\n\
         [sms.vonage]\napi_key = \"k\"\napi_secret = \"Zq3v9kX2pL7wR4tY\"\nfrom = \"MFA\"\n",
    )
    .unwrap();
    assert_eq!(
        s.settings.sms.providers(),
        [SmsProvider::Twilio, SmsProvider::Vonage]
    );
    assert_eq!(s.settings.sms.twilio.account_sid.as_deref(), Some("AC1"));
}

#[test]
fn an_sms_chain_comes_from_a_comma_list_in_the_environment() {
    let chain: SmsSettings = serde_json::from_value(serde_json::json!({
        "chain": "webhook, console",
    }))
    .unwrap();
    assert_eq!(
        chain.providers(),
        [SmsProvider::Webhook, SmsProvider::Console]
    );
    let wrong = serde_json::from_value::<SmsSettings>(serde_json::json!({"chain": "twilio,sinch"}));
    assert!(wrong.unwrap_err().to_string().contains("sinch"));
}

#[test]
fn a_chosen_sms_provider_without_its_keys_stops_start_up_naming_the_key() {
    let error = load_toml("[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("sms.twilio.auth_token"), "{error}");
    let error = load_toml("[sms]\nchain = [\"vonage\"]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("sms.vonage.api_key"), "{error}");
}

/// The configuration `text` describes, loaded from a file as `--config` loads it.
pub(super) fn load_toml(text: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfa-totp.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path))
}

/// Every problem `settings` have, as one message.
fn problems(settings: Settings) -> String {
    Config::new(settings).expect_err("a problem").to_string()
}

#[test]
fn limits_and_phone_rules_come_from_the_config_and_bad_values_name_their_key() {
    let s = load_toml(
        "[limits.phone_sms]\nmax = 0\nwindow_secs = 60\n\
         [limits.global_sms]\nmax = 100\nwindow_secs = 10\n\
         [sms]\nallowed_countries = [\"GB\", \"de\"]\n\
         allowed_number_types = [\"mobile\"]\n",
    )
    .unwrap();
    let limits = s.policies.limits;
    assert_eq!(limits.phone_sms.max, 0, "off");
    assert_eq!(limits.global_sms, Limit::new(100, 10));
    assert_eq!(
        limits.user_sms,
        Limit::new(10, 3600),
        "untouched: the default"
    );
    let phones = &s.policies.phones;
    let de = mfa_totp_domain::PhoneNumber::parse("+4915123456789").unwrap();
    let us = mfa_totp_domain::PhoneNumber::parse("+12015550123").unwrap();
    assert_eq!(phones.check(&de), Ok(()));
    assert!(phones.check(&us).is_err(), "neither listed nor mobile");

    // A wrong value stops loading, naming its key.
    let error = load_toml("[limits.user_sms]\nmax = 3\nwindow_secs = 0\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("limits.user_sms.window_secs"), "{error}");
    let half = load_toml("[limits.user_sms]\nmax = 3\n").unwrap();
    assert_eq!(half.policies.limits.user_sms, Limit::new(3, 3600));
    let error = load_toml("[sms]\nallowed_number_types = [\"mobiel\"]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("sms.allowed_number_types") && error.contains("mobiel"));
    let error = load_toml("[sms]\nallowed_countries = \"GB,XX\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("sms.allowed_countries") && error.contains("XX"));
}

#[test]
fn one_token_key_at_a_time() {
    let error = load_toml(
        "[auth]\nhs256_secret = \"a-configured-secret-of-at-least-32-bytes\"\n\
         jwks_url = \"https://idp.example/jwks\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("auth.hs256_secret, auth.jwks_url are all set"),
        "{error}"
    );
}

#[test]
fn a_config_file_overrides_the_defaults() {
    let s =
        load_toml("[challenge]\nmax_sends = 2\n[database]\nurl = \"sqlite::memory:\"\n").unwrap();
    let s = s.settings;
    assert_eq!(s.challenge.max_sends, 2);
    assert_eq!(s.database.url, "sqlite::memory:");
    assert_eq!(
        s.challenge.max_failed_attempts, 5,
        "untouched keys keep their defaults"
    );
}

#[test]
fn a_config_file_with_a_wrong_value_or_unknown_key_names_it() {
    let wrong = load_toml("[server]\nport = \"eighty\"\n")
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("server.port"), "{wrong}");
    let unknown = load_toml("[challenge]\nmax_sendz = 2\n")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("max_sendz"), "{unknown}");
}

#[test]
fn an_unknown_limit_is_named_with_the_known_ones() {
    let error = load_toml("[limits.phone_smss]\nmax = 3\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("limits.phone_smss") && error.contains("phone_sms"),
        "{error}"
    );
}

#[test]
fn a_limit_is_named_exactly_as_it_is_looked_up() {
    let mut s = Settings::default();
    s.limits
        .insert("PHONE_SMS".into(), LimitSettings::new(0, 60));
    assert!(problems(s).contains("limits.PHONE_SMS"));
}

#[test]
fn a_validated_config_carries_the_policies_its_settings_describe() {
    let config = load_toml(
        "[challenge]\nmax_sends = 2\n[limits.user_sms]\nmax = 7\n\
         [auth.clients.payments-service]\noperations = [\"payments.transfer\"]\n",
    )
    .unwrap();
    assert_eq!(config.policies.challenge.max_sends, 2);
    assert_eq!(config.policies.limits.user_sms, Limit::new(7, 3600));
    let payments = mfa_totp_domain::ClientId::parse("payments-service").unwrap();
    let phone = mfa_totp_domain::Operation::parse("profile.phone_change").unwrap();
    assert!(!config.policies.clients.may_create(&payments, &phone));
}

#[test]
fn every_problem_is_named_at_once() {
    let mut s = Settings::default();
    s.challenge.max_sends = 0;
    s.server.max_connections = 0;
    s.sms.provider = SmsProvider::Twilio;
    let error = problems(s);
    for key in [
        "challenge.max_sends",
        "server.max_connections",
        "sms.twilio.account_sid",
    ] {
        assert!(error.contains(key), "{key} not in {error}");
    }
}

/// Strong values of each secret, then each weakness the issue found (and more), each named
/// by its key, from a file as from the environment's layer.
#[test]
fn every_secret_is_checked_on_its_bytes_whatever_its_source() {
    let strong = "[auth]\nhs256_secret = \"Zq3v9kX2pL7wR4tY8mN1bC6dF0gH5jS2\"\n\
                  [sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"6f9c0d1e2a3b4c5d6e7f8a9b0c1d2e3f\"\nfrom = \"+15005550006\"\n\
                  [sms.webhook]\nurl = \"https://gw.example/sms\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    load_toml(strong).unwrap();
    let weak = [
        ("auth", "hs256_secret", "", "is empty"),
        (
            "auth",
            "hs256_secret",
            &" ".repeat(40),
            "control characters|blank",
        ),
        ("auth", "hs256_secret", &"a".repeat(32), "low entropy"),
        (
            "auth",
            "hs256_secret",
            "Zq3v9kX2pL7wR4tY8mN1bC6dF0gH5jS2\\n",
            "control characters",
        ),
        (
            "auth",
            "hs256_secret",
            "Zq3v9kX2pL7wR4tY8mN1bC6dF0gH5jS2 ",
            "white space",
        ),
        (
            "auth",
            "hs256_secret",
            "Zq3v9kX2pL7wR4tY8mN1bC6dF0gH5jS2\\u0000",
            "control characters",
        ),
        (
            "auth",
            "hs256_secret",
            "short-but-random-9k",
            "at least 32 bytes",
        ),
        ("sms.twilio", "auth_token", "", "is empty"),
        (
            "sms.twilio",
            "auth_token",
            "0123456789abcdef0123",
            "low entropy",
        ),
        ("sms.webhook", "secret", "", "is empty"),
        (
            "sms.webhook",
            "secret",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "low entropy",
        ),
        (
            "sms.webhook",
            "secret",
            "whsec_c2hvcnQ=",
            "at least 24 bytes",
        ),
    ];
    for (table, key, value, expected) in weak {
        let text = strong.replace(
            &format!("[{table}]\n"),
            &format!("[{table}]\n{key} = \"{value}\"\n# replaced:\n"),
        );
        // The replaced key appears twice: drop the original line after the marker.
        let text = drop_line_after_marker(&text, key);
        let error = load_toml(&text).expect_err(&format!("{table}.{key} = {value:?}"));
        let error = format!("{error:#}");
        assert!(
            error.contains(&format!("{table}.{key}"))
                && expected.split('|').any(|e| error.contains(e)),
            "{table}.{key} = {value:?}: {error}"
        );
    }
}

fn drop_line_after_marker(text: &str, key: &str) -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for line in text.lines() {
        if line == "# replaced:" {
            skip = true;
            continue;
        }
        if skip && line.starts_with(&format!("{key} =")) {
            skip = false;
            continue;
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

/// The public development values are refused in production however they are disguised.
#[test]
fn development_values_are_refused_in_production_in_any_disguise() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dev = DEVELOPMENT_HS256_SECRET;
    for disguised in [
        dev.to_owned(),
        dev.to_uppercase(),
        format!("{dev}-2"),
        format!("prefix-{dev}"),
        b64.encode(dev),
    ] {
        let mut s = Settings::default();
        s.auth.hs256_secret = Some(disguised.clone().into());
        assert!(
            s.production_gaps()
                .join("\n")
                .contains("auth.hs256_secret: this is a public development value"),
            "{disguised:?}"
        );
    }
    let dev_key = b64.decode(DEVELOPMENT_CRYPTO_KEY).unwrap();
    for disguised in [
        DEVELOPMENT_CRYPTO_KEY.to_owned(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&dev_key),
    ] {
        let mut s = Settings::default();
        s.crypto.active_key_id = Some("k1".into());
        s.crypto.keys.insert("k1".into(), disguised.clone().into());
        assert!(
            s.production_gaps()
                .join("\n")
                .contains("crypto.keys.k1: this is a public development value"),
            "{disguised:?}"
        );
    }
}

/// Each chosen provider's URL must be https but on loopback, like the JWKS: what crosses a
/// network carries credentials and codes. The OTLP collector's may be plain http.
#[test]
fn provider_and_jwks_urls_are_https_but_on_loopback() {
    let mut s = Settings::default();
    s.sms.provider = SmsProvider::Twilio;
    s.sms.twilio.base_url = "http://api.twilio.example".into();
    s.auth.jwks_url = Some("http://idp.example/jwks".into());
    s.telemetry.otlp_endpoint = Some("http://otel-collector:4318".into());
    let all = s.problems().join("\n");
    for key in ["sms.twilio.base_url", "auth.jwks_url"] {
        assert!(
            all.contains(&format!("{key}: ")) && all.contains("must be https"),
            "{key}: {all}"
        );
    }
    assert!(!all.contains("telemetry.otlp_endpoint"), "{all}");
    s.sms.twilio.base_url = "http://127.0.0.1:8080".into();
    s.auth.jwks_url = Some("http://localhost/jwks".into());
    let all = s.problems().join("\n");
    assert!(!all.contains("must be https"), "{all}");
}

const ASSERTION_KEY: &str = include_str!("../../testdata/assertion-k1.pem");

fn with_assertion_key(kid: &str, pem: &str) -> Settings {
    let mut s = Settings::default();
    s.assertion.active_key_id = Some(kid.into());
    s.assertion.keys.insert(kid.into(), pem.into());
    s
}

#[test]
fn production_needs_an_assertion_key_and_dev_fills_one_in() {
    let gaps = Settings::default().production_gaps().join("\n");
    assert!(gaps.contains("assertion.active_key_id"), "{gaps}");
    let gaps = with_assertion_key("k1", ASSERTION_KEY)
        .production_gaps()
        .join("\n");
    assert!(!gaps.contains("assertion"), "{gaps}");
    let mut s = Settings::default();
    assert!(s.fill_development_defaults().contains(&"assertion.keys"));
    assert_eq!(s.assertion.active_key_id.as_deref(), Some("dev"));
    let mut s = with_assertion_key("k1", ASSERTION_KEY);
    assert!(!s.fill_development_defaults().contains(&"assertion.keys"));
    assert_eq!(s.assertion.active_key_id.as_deref(), Some("k1"));
}

/// The development key is refused however its PEM is dressed: under another key id, with
/// its line breaks escaped, wrapped at another width, or with blank lines around it.
#[test]
fn the_development_assertion_key_in_disguise_is_refused_in_production() {
    let body: String = DEVELOPMENT_ASSERTION_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let rewrapped = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.as_bytes()
            .chunks(40)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for disguised in [
        DEVELOPMENT_ASSERTION_KEY.to_owned(),
        DEVELOPMENT_ASSERTION_KEY.trim().replace('\n', "\\n"),
        rewrapped,
        format!("\n\n{DEVELOPMENT_ASSERTION_KEY}\n\n"),
    ] {
        let s = with_assertion_key("prod", &disguised);
        assert_eq!(s.problems(), Vec::<String>::new(), "{disguised:?}");
        let gaps = s.production_gaps().join("\n");
        assert!(
            gaps.contains("assertion.keys.prod: this is a public development value"),
            "{disguised:?}: {gaps}"
        );
    }
}

#[test]
fn an_assertion_key_that_cannot_sign_is_named_with_why() {
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n";
    for (pem, why) in [
        ("", "is empty"),
        ("a-secret-not-a-key", "not a PEM private key"),
        (sec1, "openssl pkcs8 -topk8 -nocrypt"),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not a valid EC P-256 key (ES256) or Ed25519 key (EdDSA)",
        ),
    ] {
        let all = with_assertion_key("k1", pem).problems().join("\n");
        assert!(
            all.contains("assertion.keys.k1:") && all.contains(why),
            "{pem:?}: {all}"
        );
    }
    let mut s = with_assertion_key("k1", ASSERTION_KEY);
    s.assertion.active_key_id = Some("k2".into());
    assert!(problems(s).contains("assertion.active_key_id 'k2' is not among assertion.keys"));
    let mut s = with_assertion_key("k1", ASSERTION_KEY);
    s.assertion.active_key_id = None;
    assert!(problems(s).contains("assertion.active_key_id is required"));
    let mut s = with_assertion_key("k1", ASSERTION_KEY);
    for n in 0..64 {
        s.assertion
            .keys
            .insert(format!("k{n}x"), ASSERTION_KEY.into());
    }
    assert!(problems(s).contains("assertion.keys: 65 keys; at most 64"));
}

#[test]
fn an_assertion_outlives_the_consume_window_and_no_more_than_an_hour() {
    let ttl = |ttl_secs, consume_ttl_secs| {
        let mut s = Settings::default();
        s.assertion.ttl_secs = ttl_secs;
        s.challenge.consume_ttl_secs = consume_ttl_secs;
        s.problems().join("\n")
    };
    assert_eq!(ttl(300, 300), "");
    assert_eq!(ttl(3600, 60), "");
    for (ttl_secs, consume) in [(0, 300), (299, 300), (3601, 300), (600, 900)] {
        let all = ttl(ttl_secs, consume);
        assert!(all.contains("assertion.ttl_secs must be at least"), "{all}");
    }
}

#[test]
fn acr_comes_per_operation_from_nested_or_quoted_keys_with_a_default() {
    let s = load_toml(
        "[assertion]\nacr = \"urn:example:acr:default\"\n\
         [assertion.acr_by_operation]\n\"payments.transfer\" = \"urn:example:acr:high\"\n\
         [assertion.acr_by_operation.users]\n\"phone.change\" = \"urn:example:acr:phone\"\n",
    )
    .unwrap();
    let policy = &s.policies.assertion;
    let op = |name| mfa_totp_domain::Operation::parse(name).unwrap();
    assert_eq!(
        policy.acr_for(&op("payments.transfer")),
        "urn:example:acr:high"
    );
    assert_eq!(
        policy.acr_for(&op("users.phone.change")),
        "urn:example:acr:phone"
    );
    assert_eq!(
        policy.acr_for(&op("payments.refund")),
        "urn:example:acr:default"
    );
    for (toml, key) in [
        ("[assertion]\nissuer = \"\"\n", "assertion.issuer"),
        ("[assertion]\nacr = \" padded\"\n", "assertion.acr"),
        (
            "[assertion.acr_by_operation]\n\"a.b\" = \"line\\nbreak\"\n",
            "assertion.acr_by_operation.a.b",
        ),
    ] {
        let all = load_toml(toml).unwrap_err().to_string();
        assert!(all.contains(key), "{toml}: {all}");
    }
}

/// `events.subscribers.<sub>`: every hostile or strange value is named by its key, and a
/// good one becomes a subscription and a delivery policy.
#[test]
fn event_subscribers_are_checked_key_by_key() {
    let good = "[events]\nmax_attempts = 4\ntimeout_ms = 1500\n\
                [events.subscribers.payments-service]\nurl = \"https://payments.example/hooks\"\n\
                secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
                events = [\"challenge.verified\", \" sms.undelivered\"]\n";
    let config = load_toml(good).unwrap();
    assert_eq!(config.policies.delivery.max_attempts, 4);
    assert_eq!(
        config.policies.delivery.lease(),
        std::time::Duration::from_secs(3)
    );
    assert!(!config.policies.subscriptions.is_empty());
    let key = "events.subscribers.payments-service";
    let bad = [
        (
            "url = \"https://payments.example/hooks\"",
            "url = \"http://payments.example/hooks\"",
            format!("{key}.url"),
        ),
        (
            "url = \"https://payments.example/hooks\"",
            "url = \"ftp://payments.example\"",
            format!("{key}.url"),
        ),
        (
            "url = \"https://payments.example/hooks\"\n",
            "",
            format!("{key}.url is required"),
        ),
        (
            "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
            "",
            format!("{key}.secret is required"),
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "",
            format!("{key}.secret: is empty"),
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            format!("{key}.secret must be whsec_"),
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            format!("{key}.secret must be whsec_"),
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_c2hvcnQ=",
            "at least 24 bytes".into(),
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "low entropy".into(),
        ),
        (
            "\"challenge.verified\"",
            "\"challenge.created\"",
            format!("{key}.events: 'challenge.created' is not one of"),
        ),
        (
            "max_attempts = 4",
            "max_attempts = 0",
            "events.max_attempts must be 1 to 100".into(),
        ),
        (
            "timeout_ms = 1500",
            "timeout_ms = 5",
            "events.timeout_ms must be 100 to 60000".into(),
        ),
        (
            "payments-service]",
            "bad id!]",
            "events.subscribers.bad id!".into(),
        ),
    ];
    for (from, to, expected) in bad {
        let text = good.replacen(from, to, 1);
        let error = format!("{:#}", load_toml(&text).expect_err(&text));
        assert!(error.contains(&expected), "{to:?}: {error}");
    }
    // A URL with credentials is shown redacted by `config check`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfa-totp.toml");
    let with_credentials = good.replace(
        "payments.example/hooks",
        "payments.example/hooks?token=s3cr3t-q",
    );
    std::fs::write(&path, with_credentials).unwrap();
    let checked = super::check(Some(&path), super::Mode::Development);
    let shown = checked.effective.unwrap();
    assert!(
        !shown.contains("s3cr3t-q") && !shown.contains("whsec_MfKQ"),
        "{shown}"
    );
}
