//! The TOTP maths (RFC 6238), in domain types. totp-rs stays behind this module.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;

use crate::Timestamp;

/// The HMAC behind the TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl FromStr for OtpAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(format!("unknown algorithm '{s}' (SHA1, SHA256 or SHA512)")),
        }
    }
}

/// Why a TOTP policy or code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOtp {
    #[error("must be exactly {digits} digits")]
    WrongShape { digits: u8 },
    #[error("digits must be 6, 7 or 8")]
    UnsupportedDigits,
    #[error("the step must be at least one second")]
    ZeroStep,
}

/// Digits, step and algorithm of the codes this service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpPolicy {
    digits: u8,
    step_secs: u64,
    algorithm: OtpAlgorithm,
}

impl Default for TotpPolicy {
    /// 6 digits, 30 s step, HMAC-SHA1 (RFC 6238's reference profile).
    fn default() -> Self {
        Self {
            digits: 6,
            step_secs: 30,
            algorithm: OtpAlgorithm::Sha1,
        }
    }
}

impl TotpPolicy {
    pub fn new(digits: u8, step_secs: u64, algorithm: OtpAlgorithm) -> Result<Self, InvalidOtp> {
        if !(6..=8).contains(&digits) {
            return Err(InvalidOtp::UnsupportedDigits);
        }
        if step_secs == 0 {
            return Err(InvalidOtp::ZeroStep);
        }
        Ok(Self {
            digits,
            step_secs,
            algorithm,
        })
    }

    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The TOTP time step (counter) that `now` falls in.
    pub fn step_at(&self, now: Timestamp) -> u64 {
        u64::try_from(now.timestamp()).unwrap_or(0) / self.step_secs
    }

    /// The code for `step`.
    pub fn code_at(&self, secret: &TotpSecret, step: u64) -> OtpCode {
        let totp = totp_rs::Builder::new()
            .with_algorithm(match self.algorithm {
                OtpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
                OtpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
                OtpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
            })
            .with_digits(self.digits)
            .with_step_duration(self.step_secs)
            .with_secret(secret.0.as_slice())
            .build()
            .expect("policy and secret are validated when they are made");
        OtpCode(totp.generate(step * self.step_secs).to_string())
    }

    /// Whether `candidate` is the code for `step`, compared in constant time.
    pub fn matches(&self, secret: &TotpSecret, step: u64, candidate: &OtpCode) -> bool {
        let expected = self.code_at(secret, step);
        expected.0.as_bytes().ct_eq(candidate.0.as_bytes()).into()
    }

    /// Parses what a caller typed: exactly `digits` ASCII digits.
    pub fn parse_code(&self, raw: &str) -> Result<OtpCode, InvalidOtp> {
        let well_formed =
            raw.len() == usize::from(self.digits) && raw.bytes().all(|b| b.is_ascii_digit());
        if well_formed {
            Ok(OtpCode(raw.to_owned()))
        } else {
            Err(InvalidOtp::WrongShape {
                digits: self.digits,
            })
        }
    }
}

/// A one-time code. `Debug` hides it so that it cannot reach a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    /// The digits, for the SMS text only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// A 160-bit TOTP secret. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub const LEN: usize = 20;

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes.to_vec())
    }

    /// Restores a stored secret; refuses anything shorter than RFC 4226's 128 bits.
    pub fn try_from_slice(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= 16).then(|| Self(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// A TOTP secret sealed at rest (by the application's `SecretCipher`): opaque to the domain
/// and to storage. Only the calls that need the secret (`:initiate`, `:verify`) open it, so
/// reads, consumes and cancels work whatever keys are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl SealedSecret {
    pub fn new(sealed: String) -> Self {
        Self(sealed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    /// RFC 6238 appendix B's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(*b"12345678901234567890")
    }

    #[test]
    fn code_matches_rfc_6238_test_vectors() {
        let policy = TotpPolicy::new(8, 30, OtpAlgorithm::Sha1).unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (2000000000, "69279037"),
        ] {
            let step = policy.step_at(DateTime::from_timestamp(time, 0).unwrap());
            assert_eq!(policy.code_at(&rfc_secret(), step).expose(), code);
        }
    }

    #[test]
    fn parse_code_wants_exactly_the_configured_digits() {
        let policy = TotpPolicy::default();
        assert!(policy.parse_code("123456").is_ok());
        for bad in ["12345", "1234567", "12345a", " 12345", "", "１２３４５６"] {
            assert_eq!(
                policy.parse_code(bad),
                Err(InvalidOtp::WrongShape { digits: 6 }),
                "{bad}"
            );
        }
    }

    #[test]
    fn policy_refuses_unsupported_digits_and_zero_step() {
        assert_eq!(
            TotpPolicy::new(5, 30, OtpAlgorithm::Sha1),
            Err(InvalidOtp::UnsupportedDigits)
        );
        assert_eq!(
            TotpPolicy::new(6, 0, OtpAlgorithm::Sha1),
            Err(InvalidOtp::ZeroStep)
        );
    }

    #[test]
    fn debug_never_shows_a_code_or_secret() {
        let policy = TotpPolicy::default();
        let code = policy.code_at(&rfc_secret(), 1);
        assert!(!format!("{code:?} {:?}", rfc_secret()).contains(code.expose()));
    }

    proptest! {
        #[test]
        fn a_code_matches_its_own_step_and_has_the_configured_digits(
            secret in proptest::array::uniform20(any::<u8>()),
            step in 0u64..100_000_000,
            digits in 6u8..=8,
        ) {
            let policy = TotpPolicy::new(digits, 30, OtpAlgorithm::Sha256).unwrap();
            let secret = TotpSecret::from_bytes(secret);
            let code = policy.code_at(&secret, step);
            prop_assert_eq!(code.expose().len(), usize::from(digits));
            prop_assert!(policy.matches(&secret, step, &code));
            prop_assert!(policy.parse_code(code.expose()).is_ok());
        }

        #[test]
        fn a_changed_code_never_matches(
            secret in proptest::array::uniform20(any::<u8>()),
            step in 0u64..100_000_000,
            bump in 1u32..999_999,
        ) {
            let policy = TotpPolicy::default();
            let secret = TotpSecret::from_bytes(secret);
            let code: u32 = policy.code_at(&secret, step).expose().parse().unwrap();
            let other = policy.parse_code(&format!("{:06}", (code + bump) % 1_000_000)).unwrap();
            prop_assert!(!policy.matches(&secret, step, &other));
        }
    }
}
