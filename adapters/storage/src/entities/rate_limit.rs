use sea_orm::entity::prelude::*;

/// One limit's current window for one key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limits")]
pub struct Model {
    /// `user_sms`, `phone_sms`, ...
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// A user id, a phone's SHA-256, or `*`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub limit_key: String,
    /// When the window began (UTC milliseconds).
    pub window_start: i64,
    pub used: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
