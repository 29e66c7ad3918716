use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// In the order written.
    #[sea_orm(primary_key)]
    pub id: i64,
    pub challenge_id: Option<String>,
    pub kind: String,
    pub occurred_at: i64,
    pub request_id: String,
    pub subject_user_id: String,
    pub actor: String,
    pub masked_phone: Option<String>,
    pub outcome: String,
    pub limit_kind: Option<String>,
    pub provider: Option<String>,
    pub message_id: Option<String>,
    pub error_code: Option<String>,
    /// How many identical refusals in a row this row stands for (1 for any other event).
    pub repeats: i32,
    /// When the last of them happened, when more than one.
    pub last_occurred_at: Option<i64>,
    /// The client the event is pushed to: an entry of the outbox.
    pub subscriber: Option<String>,
    /// `PENDING`, `DELIVERED`, `GAVE_UP`; `None` for an event nobody receives.
    pub delivery_state: Option<String>,
    /// Attempts so far (each claim counts one).
    pub delivery_attempts: i32,
    /// When it may be claimed next.
    pub delivery_due_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
