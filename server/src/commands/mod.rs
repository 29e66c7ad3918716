//! What the command line runs besides `serve`, one file per command. Each reads the
//! configuration it is given and uses the composition root's adapters.

pub mod healthcheck;
pub mod migrate;
pub mod purge;
pub mod sms;
pub mod token;
