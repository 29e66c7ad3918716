use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_sends")]
pub struct Model {
    /// A UUID of the send.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub challenge_id: String,
    pub outcome: String,
    pub provider: Option<String>,
    pub message_id: Option<String>,
    pub chain_position: Option<i32>,
    pub attempts: i32,
    pub latency_ms: i64,
    /// SMS segments of the message (1 for rows from before they were counted).
    pub segments: i32,
    pub delivery_status: Option<String>,
    pub sent_at: i64,
    pub updated_at: i64,
    /// The provider's error code: of its refusal, or of its delivery report.
    pub error_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
