//! An operation service registers what awaits authorisation and gets a challenge for it.

use mfa_totp_domain::{
    Actor, AttributeProblem, AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeId, ClientId,
    LimitKey, LimitKind, LimitReached, Locale, Operation, SealedSecret, StepUpContext, TotpSecret,
    UserId,
};

use crate::audit::log_event;
use crate::{ChallengeChange, ChallengeView, Change, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum CreateChallengeError {
    /// `auth.clients` does not let this client create challenges for this operation.
    #[error("this client may not create challenges for the operation '{0}'")]
    OperationNotAllowed(Operation),
    /// The operation's SMS shows these attributes, and they are missing or cannot be shown.
    #[error("the step-up request context's attributes cannot be shown in an SMS")]
    Attributes(Vec<(String, AttributeProblem)>),
    /// `user_challenges`: too many challenges for this subject in the window.
    #[error("a limit across challenges was reached: {}", .0.kind)]
    Limited(LimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not create the challenge")]
    Unexpected(#[source] anyhow::Error),
}

/// A validated creation request.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// The creating service (its token's `sub`): the only one that may read, consume or
    /// cancel the challenge.
    pub client: ClientId,
    pub subject: UserId,
    pub operation: Operation,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The language the SMS should be written in, when the request names one.
    pub locale: Option<Locale>,
}

impl UseCases {
    /// Creates a `PENDING` challenge with a fresh random secret, and its active context.
    #[tracing::instrument(skip_all, fields(operation = %request.operation.as_str()))]
    pub async fn create_challenge(
        &self,
        who: &Actor,
        request: NewChallenge,
    ) -> Result<ChallengeView, CreateChallengeError> {
        if !self.clients.may_create(&request.client, &request.operation) {
            return Err(CreateChallengeError::OperationNotAllowed(request.operation));
        }
        let mut problems = self
            .messages
            .check_attributes(&request.operation, &request.attributes);
        problems.extend(
            StepUpContext::inexact_numbers(&request.attributes)
                .into_iter()
                .map(|(path, canonical)| (path, AttributeProblem::Inexact(canonical))),
        );
        if problems.is_empty() {
            // The SMS in its longest locale, with these attributes: within the segment limit.
            let minutes = self.policy.code_ttl.num_minutes().max(1);
            let segments = self.messages.most_segments(
                &request.operation,
                &request.attributes,
                usize::from(self.totp.digits()),
                minutes,
            );
            let max = self.messages.max_segments();
            if segments > max {
                problems.push((
                    String::new(),
                    AttributeProblem::TooManySegments { segments, max },
                ));
            }
        }
        if !problems.is_empty() {
            return Err(CreateChallengeError::Attributes(problems));
        }
        let mut bytes = [0u8; TotpSecret::LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| CreateChallengeError::Unexpected(anyhow::anyhow!("no randomness: {e}")))?;
        let id = ChallengeId::generate();
        let sealed = self
            .cipher
            .seal(&TotpSecret::from_bytes(bytes), id.to_string().as_bytes())
            .map_err(|e| CreateChallengeError::Unexpected(e.into()))?;
        let now = self.clock.now();
        let client = request.client;
        let challenge = Challenge::new(
            id,
            request.subject,
            client.clone(),
            SealedSecret::new(sealed),
            now,
            &self.policy,
        );
        // Written once, never updated: what the user authorises is what was registered.
        let context = StepUpContext::new(challenge.id(), request.operation, request.attributes)
            .with_locale(request.locale);
        let charges: Vec<_> = self
            .limits
            .charge(
                LimitKind::UserChallenges,
                // Per client and subject: a client that floods a user with challenges uses
                // its own budget for them, and leaves every other client's.
                LimitKey::client_user(&client, challenge.subject()),
                1,
                now,
            )
            .into_iter()
            .collect();
        let event =
            |kind, id, outcome| AuditEvent::new(kind, now, who, id, challenge.subject(), outcome);
        let created = event(
            AuditKind::ChallengeCreated,
            Some(challenge.id()),
            AuditOutcome::Status(challenge.status()),
        );
        let change = ChallengeChange::insert(challenge.clone(), context.clone())
            .charging(charges)
            .recording(vec![created]);
        match self.apply(&change).await? {
            Change::Applied => change.events.iter().for_each(log_event),
            Change::Limited(reached) => {
                // The challenge was never stored: the refusal names no challenge.
                let hit = event(AuditKind::LimitHit, None, AuditOutcome::TooManyRequests)
                    .with_limit(reached.kind);
                self.record_refusal(hit).await;
                return Err(CreateChallengeError::Limited(reached));
            }
            Change::Stale => {
                return Err(CreateChallengeError::Unexpected(anyhow::anyhow!(
                    "a new challenge's insert reported a stale row"
                )));
            }
        }
        tracing::info!(challenge_id = %challenge.id(), "challenge created");
        Ok(ChallengeView {
            status: challenge.status(),
            challenge,
            context: Some(context),
            last_send: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretCipher;
    use crate::test_support::*;
    use mfa_totp_domain::ChallengeStatus;

    fn request() -> NewChallenge {
        NewChallenge {
            client: client(),
            subject: user(),
            operation: Operation::parse("payments.transfer").unwrap(),
            attributes: serde_json::Map::new(),
            locale: None,
        }
    }

    /// The new challenge's secret, opened as the use cases would.
    fn m_open(challenge: &Challenge) -> TotpSecret {
        TestCipher
            .open(
                challenge.secret().as_str(),
                challenge.id().to_string().as_bytes(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn create_stores_a_pending_challenge_with_its_context() {
        let mut m = Mocks::new();
        m.challenges
            .expect_apply()
            .withf(|ch| {
                let c = &ch.challenge;
                let ctx = ch.context.as_ref().unwrap();
                kind(ch) == Kind::Insert && {
                    c.status() == ChallengeStatus::Pending
                        && c.expires_at() == now() + chrono::TimeDelta::minutes(10)
                        && ctx.challenge_id == c.id()
                        && ctx.is_active()
                }
            })
            .times(1)
            .returning(|_| Ok(Change::Applied));
        let created = m.build().create_challenge(&who(), request()).await.unwrap();
        assert_eq!(created.status, ChallengeStatus::Pending);
        assert_eq!(created.challenge.subject(), &user());
        let opened = m_open(&created.challenge);
        assert_ne!(opened.as_bytes(), &[0u8; 20]);
        assert_eq!(created.challenge.client(), Some(&client()));
        assert_eq!(
            created.context.unwrap().operation.as_str(),
            "payments.transfer"
        );
    }

    #[tokio::test]
    async fn a_client_may_create_only_the_operations_auth_clients_lists_for_it() {
        let mut m = Mocks::new();
        m.clients = crate::ClientOperations::new(std::collections::BTreeMap::from([(
            client().as_str().to_owned(),
            vec!["profile.phone_change".to_owned()],
        )]));
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Insert)
            .never();
        let err = m
            .build()
            .create_challenge(&who(), request())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CreateChallengeError::OperationNotAllowed(op) if op.as_str() == "payments.transfer"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_linked_operation_without_its_attributes_is_refused_before_anything_is_stored() {
        let mut m = Mocks::new();
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Insert)
            .never();
        let mut linked = request();
        linked.operation = Operation::parse("payments.linked").unwrap();
        linked.attributes = serde_json::json!({"amount": "  "})
            .as_object()
            .unwrap()
            .clone();
        let err = m
            .build()
            .create_challenge(&who(), linked)
            .await
            .unwrap_err();
        let CreateChallengeError::Attributes(problems) = err else {
            panic!("{err:?}");
        };
        assert_eq!(
            problems,
            [
                ("amount".into(), AttributeProblem::Blank),
                ("payee".into(), AttributeProblem::Missing)
            ]
        );
    }

    #[tokio::test]
    async fn create_reports_unavailable_storage() {
        let mut m = Mocks::new();
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Insert)
            .returning(|_| Err(StoreError::Unavailable(anyhow::anyhow!("down"))));
        let err = m
            .build()
            .create_challenge(&who(), request())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            CreateChallengeError::Store(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn create_reports_unexpected_storage_failures() {
        let mut m = Mocks::new();
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Insert)
            .returning(|_| Err(StoreError::Unexpected(anyhow::anyhow!("constraint"))));
        let err = m
            .build()
            .create_challenge(&who(), request())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            CreateChallengeError::Store(StoreError::Unexpected(_))
        ));
    }

    #[tokio::test]
    async fn a_subject_at_the_challenge_limit_gets_no_challenge_and_the_hit_is_recorded() {
        let reached = mfa_totp_domain::LimitReached {
            kind: LimitKind::UserChallenges,
            retry_at: now() + chrono::TimeDelta::minutes(30),
        };
        let mut m = Mocks::new();
        m.challenges
            .expect_apply()
            .withf(|ch| {
                let charges = &ch.charges;
                let event = &ch.events[0];
                kind(ch) == Kind::Insert && {
                    charges.len() == 1
                        && charges[0].kind == LimitKind::UserChallenges
                        && charges[0].key == LimitKey::client_user(&client(), &user())
                        && event.kind == AuditKind::ChallengeCreated
                        && event.actor == "payments-service"
                }
            })
            .times(1)
            .returning(move |_| Ok(Change::Limited(reached)));
        m.audit
            .expect_record()
            .withf(|e| {
                e.kind == AuditKind::LimitHit
                    && e.challenge_id.is_none()
                    && e.limit == Some(LimitKind::UserChallenges)
            })
            .times(1)
            .returning(|_| Ok(()));
        let err = m
            .build()
            .create_challenge(&who(), request())
            .await
            .unwrap_err();
        assert!(matches!(err, CreateChallengeError::Limited(r) if r == reached));
    }
}
