//! Dolt's version control, as SQL over a session: the private sql-server
//! of `--target dolt:PATH` (`server`), refs (`refs`: branches, tags, log,
//! status, `database/branch` names), the moves of a branch (`moves`:
//! fast-forward, reset, merge), the diff between two commits (`diff`) and
//! the commit of a filled database (`commit`). These are mechanisms; the
//! refresh's rules (which commit is published, when a branch diverged)
//! are `crate::nightly`'s. Every `DOLT_*` procedure and `dolt_*` system
//! table pg2dolt uses for version control is called from here or there.

pub mod commit;
pub mod diff;
pub mod moves;
pub mod refs;
pub mod server;
