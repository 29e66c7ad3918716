use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub subject_user_id: String,
    pub status: String,
    /// `key-id:base64(nonce || ciphertext)`, sealed by the application's `SecretCipher`.
    pub secret_sealed: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub code_step: Option<i64>,
    pub code_issued_at: Option<i64>,
    pub send_count: i32,
    pub last_sent_at: Option<i64>,
    pub failed_attempts: i32,
    pub verified_at: Option<i64>,
    /// The masked phone the last code went to (`+44*******123`).
    pub sent_to: Option<String>,
    /// The creating service's token `sub`; none on rows from before it was recorded.
    pub client_id: Option<String>,
    /// How many changes the challenge has had: the guard each change is written under.
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its step-up request context (read together in one `LEFT JOIN`).
    #[sea_orm(has_one = "super::step_up_context::Entity")]
    Context,
}

impl Related<super::step_up_context::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Context.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
