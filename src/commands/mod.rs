//! One module per command, each a short phase list: `run` hands the flags
//! to the run driver (`crate::run`), the phases return what they did and
//! only the command's own function records it. No command imports
//! another, and none runs SQL: the phases live below (`preflight`,
//! `copy::phase`, `fill`, `nightly`, `dolt`, `mysql`).

pub mod archives;
pub mod copy;
pub mod history;
pub mod plan;
pub mod refresh;
pub mod restore;
pub mod rollback;
pub mod schema;
pub mod verify;
