//! What only `serve --dev` serves: the development inbox at `/dev/inbox`, which shows the
//! SMS the console provider sent and the events delivered to subscribers. In production
//! these routes do not exist (the router never gets them), so they are not in the published
//! spec either.

pub mod inbox;
