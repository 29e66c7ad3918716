//! Which client may create challenges for which operation (`auth.clients.<sub>.operations`):
//! an authorisation rule of challenge creation, checked by that use case.

use std::collections::BTreeMap;

use mfa_totp_domain::{ClientId, Operation};

/// The operations each listed client may create challenges for. A client without an entry
/// may create challenges for any operation.
#[derive(Debug, Clone, Default)]
pub struct ClientOperations(BTreeMap<String, Vec<String>>);

impl ClientOperations {
    /// Client id (its token's `sub`) → the operations it may create challenges for.
    pub fn new(allowed: BTreeMap<String, Vec<String>>) -> Self {
        Self(allowed)
    }

    pub fn may_create(&self, client: &ClientId, operation: &Operation) -> bool {
        self.0
            .get(client.as_str())
            .is_none_or(|allowed| allowed.iter().any(|op| op == operation.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_client_may_create_only_its_operations_and_others_any() {
        let clients = ClientOperations::new(BTreeMap::from([(
            "payments-service".to_owned(),
            vec!["payments.transfer".to_owned()],
        )]));
        let payments = ClientId::parse("payments-service").unwrap();
        let other = ClientId::parse("profile-service").unwrap();
        let transfer = Operation::parse("payments.transfer").unwrap();
        let phone = Operation::parse("profile.phone_change").unwrap();
        assert!(clients.may_create(&payments, &transfer));
        assert!(!clients.may_create(&payments, &phone));
        assert!(clients.may_create(&other, &phone));
    }
}
