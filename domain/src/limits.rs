//! Limits across challenges: how many wrong codes, challenges and SMS a user, a phone or the
//! whole deployment may use in a window. The store applies each charge with one conditional
//! statement, so every instance of a fleet shares the counts exactly.
//!
//! Windows are fixed, and start at the first charge after the previous window ended: a key
//! has one row, holding the start of its window and what was used in it. At most `max` units
//! fit in one window; two windows back to back may let up to `2 × max` through in one
//! window's length, the price of an exact count that needs no per-event rows.

use chrono::TimeDelta;
use sha2::{Digest, Sha256};

use crate::names::stored_names;
use crate::{ClientId, PhoneNumber, Timestamp, UserId};

/// Which limit: also its configuration name (`limits.<name>.max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitKind {
    /// Wrong codes per subject user; at the limit the user cannot verify any challenge.
    UserWrongCodes,
    /// New challenges per subject user.
    UserChallenges,
    /// SMS per subject user.
    UserSms,
    /// SMS per destination phone.
    PhoneSms,
    /// Every SMS of the deployment: the circuit breaker against pumping.
    GlobalSms,
}

stored_names!(LimitKind {
    UserWrongCodes = "user_wrong_codes",
    UserChallenges = "user_challenges",
    UserSms = "user_sms",
    PhoneSms = "phone_sms",
    GlobalSms = "global_sms",
});

impl LimitKind {
    /// What a refusal tells the caller.
    pub fn describe(self) -> &'static str {
        match self {
            Self::UserWrongCodes => "the user entered too many wrong codes",
            Self::UserChallenges => "too many challenges were created for the user",
            Self::UserSms => "too many codes were sent to the user",
            Self::PhoneSms => "too many codes were sent to the user's phone",
            Self::GlobalSms => "the service sent too many codes in a short time",
        }
    }
}

/// `max` units per `window`; `max = 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: TimeDelta,
}

impl Limit {
    pub fn new(max: u32, window_secs: u32) -> Self {
        Self {
            max,
            window: TimeDelta::seconds(i64::from(window_secs)),
        }
    }
}

/// Every limit across challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub user_wrong_codes: Limit,
    pub user_challenges: Limit,
    pub user_sms: Limit,
    pub phone_sms: Limit,
    pub global_sms: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            user_wrong_codes: Limit::new(10, 3600),
            user_challenges: Limit::new(10, 3600),
            user_sms: Limit::new(10, 3600),
            phone_sms: Limit::new(5, 3600),
            global_sms: Limit::new(600, 60),
        }
    }
}

impl Limits {
    /// Every limit off (load tests).
    pub fn off() -> Self {
        let off = Limit::new(0, 1);
        Self {
            user_wrong_codes: off,
            user_challenges: off,
            user_sms: off,
            phone_sms: off,
            global_sms: off,
        }
    }

    pub fn get(&self, kind: LimitKind) -> Limit {
        match kind {
            LimitKind::UserWrongCodes => self.user_wrong_codes,
            LimitKind::UserChallenges => self.user_challenges,
            LimitKind::UserSms => self.user_sms,
            LimitKind::PhoneSms => self.phone_sms,
            LimitKind::GlobalSms => self.global_sms,
        }
    }

    pub fn get_mut(&mut self, kind: LimitKind) -> &mut Limit {
        match kind {
            LimitKind::UserWrongCodes => &mut self.user_wrong_codes,
            LimitKind::UserChallenges => &mut self.user_challenges,
            LimitKind::UserSms => &mut self.user_sms,
            LimitKind::PhoneSms => &mut self.phone_sms,
            LimitKind::GlobalSms => &mut self.global_sms,
        }
    }

    /// `amount` units of `kind` for `key` at `now`, or `None` when that limit is off. An
    /// `amount` of 0 takes nothing but is refused all the same when the window is full.
    pub fn charge(
        &self,
        kind: LimitKind,
        key: LimitKey,
        amount: u32,
        now: Timestamp,
    ) -> Option<LimitCharge> {
        let limit = self.get(kind);
        (limit.max > 0).then_some(LimitCharge {
            kind,
            key,
            amount,
            max: limit.max,
            window: limit.window,
            now,
        })
    }

    /// What one SMS to `phone` for `user` costs: `user_sms`, `phone_sms` and `global_sms`.
    pub fn sms_charges(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> Vec<LimitCharge> {
        [
            (LimitKind::UserSms, LimitKey::user(user)),
            (LimitKind::PhoneSms, LimitKey::phone(phone)),
            (LimitKind::GlobalSms, LimitKey::global()),
        ]
        .into_iter()
        .filter_map(|(kind, key)| self.charge(kind, key, 1, now))
        .collect()
    }
}

/// Whose count a charge goes to: a user id, a phone's digest, or the whole deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitKey(String);

impl LimitKey {
    pub fn user(user: &UserId) -> Self {
        Self(user.as_str().to_owned())
    }

    /// A user as one client sees it: the SHA-256 of the client id and the user id, so that
    /// what one client does to a user's budget is its own, and no other client's. (Hashed:
    /// the two ids together may be longer than a key, and a separator could be in either.)
    pub fn client_user(client: &ClientId, user: &UserId) -> Self {
        let mut digest = Sha256::new();
        for id in [client.as_str(), user.as_str()] {
            digest.update((id.len() as u64).to_be_bytes());
            digest.update(id.as_bytes());
        }
        Self(hex::encode(digest.finalize()))
    }

    /// The SHA-256 of the E.164 number, so that the limits table holds no number in plain
    /// sight. (Not a secret: the number space is small enough to search.)
    pub fn phone(phone: &PhoneNumber) -> Self {
        Self(hex::encode(Sha256::digest(phone.as_e164().as_bytes())))
    }

    pub fn global() -> Self {
        Self("*".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One charge against one limit, as the store applies it: in `kind`'s row for `key`, start
/// a new window at `now` when the last one ended, else add `amount` if fewer than `max`
/// were used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCharge {
    pub kind: LimitKind,
    pub key: LimitKey,
    pub amount: u32,
    pub max: u32,
    pub window: TimeDelta,
    pub now: Timestamp,
}

impl LimitCharge {
    /// When a window that started at `window_start` ends.
    pub fn window_end(&self, window_start: Timestamp) -> Timestamp {
        window_start + self.window
    }
}

/// A refused charge: which limit, and when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitReached {
    pub kind: LimitKind,
    pub retry_at: Timestamp,
}

impl LimitReached {
    /// Of the windows that refused one change, the one the caller must wait for: the one
    /// that ends last (waiting less would only be refused again).
    pub fn last_to_end(refused: impl IntoIterator<Item = Self>) -> Option<Self> {
        refused.into_iter().max_by_key(|r| r.retry_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_change_refused_by_several_limits_waits_for_the_window_that_ends_last() {
        let at = |secs| now() + chrono::TimeDelta::seconds(secs);
        let refused = [
            LimitReached {
                kind: LimitKind::UserSms,
                retry_at: at(60),
            },
            LimitReached {
                kind: LimitKind::PhoneSms,
                retry_at: at(3600),
            },
            LimitReached {
                kind: LimitKind::GlobalSms,
                retry_at: at(5),
            },
        ];
        assert_eq!(LimitReached::last_to_end(refused), Some(refused[1]));
        assert_eq!(LimitReached::last_to_end([]), None);
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        let table: Vec<(&str, u32, i64)> = LimitKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    limits.get(*k).max,
                    limits.get(*k).window.num_seconds(),
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                ("user_wrong_codes", 10, 3600),
                ("user_challenges", 10, 3600),
                ("user_sms", 10, 3600),
                ("phone_sms", 5, 3600),
                ("global_sms", 600, 60),
            ]
        );
    }

    #[test]
    fn a_limit_with_max_zero_charges_nothing() {
        let mut limits = Limits::default();
        limits.get_mut(LimitKind::PhoneSms).max = 0;
        let user = UserId::parse("alice").unwrap();
        let phone = PhoneNumber::parse("+447400123456").unwrap();
        let kinds: Vec<LimitKind> = limits
            .sms_charges(&user, &phone, now())
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, [LimitKind::UserSms, LimitKind::GlobalSms]);
        assert!(Limits::off().sms_charges(&user, &phone, now()).is_empty());
    }

    #[test]
    fn a_phone_key_holds_no_digits_of_the_number_in_plain_sight() {
        let key = LimitKey::phone(&PhoneNumber::parse("+447400123456").unwrap());
        assert_eq!(key.as_str().len(), 64);
        assert!(!key.as_str().contains("7400123456"));
        assert_eq!("phone_sms".parse::<LimitKind>(), Ok(LimitKind::PhoneSms));
    }
}
