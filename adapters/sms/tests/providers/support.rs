//! What the provider tests share: a message, and a matcher for an exact form body.

use std::collections::BTreeMap;

use mfa_totp_application::OutboundSms;
use mfa_totp_domain::{ChallengeId, PhoneNumber};
use wiremock::{Match, Request};

pub const CODE_TEXT: &str = "Your verification code is 482913. It expires in 5 minutes.";

pub fn message() -> OutboundSms {
    OutboundSms {
        to: PhoneNumber::parse("+447700900123").unwrap(),
        body: CODE_TEXT.into(),
        challenge_id: ChallengeId::parse("0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10").unwrap(),
        locale: None,
    }
}

/// Matches a form-encoded body with exactly these fields, no more, no fewer.
pub struct FormIs(pub BTreeMap<String, String>);

impl FormIs {
    pub fn of(fields: &[(&str, &str)]) -> Self {
        Self(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let form: BTreeMap<String, String> = form_urlencoded_pairs(&request.body);
        form == self.0
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}
