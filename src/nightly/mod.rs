//! The nightly domain of `pg2dolt refresh` (and the comparisons of
//! `verify`): the marks a refresh leaves on the database and the
//! published branch's state (`marks`), one night's inputs and how it ended
//! (`night`), the work branch (`work_branch`), the first night's and one
//! that never published (`first_night`), a copy a failed run kept
//! (`kept_copy`), what a published night
//! records for the next (`state`), what the source says of its tables
//! (`source`), whether the source's history since the last night is
//! continuous (`continuity`), how each table is loaded (`delta`, `decision`: the rows
//! changed since the last published snapshot, or all of them, and why),
//! the night's load (`load`) and the rows a delta deletes (`deletes`),
//! the changes and the guard (`changes`), the publish (`conclude`,
//! `publish`), the comparison with a snapshot (`compare`, `verify`), and
//! a session on a refreshed database (`published`). Dolt's primitives are
//! `crate::dolt`'s; the rows move through `crate::copy`.

pub mod changes;
pub mod compare;
pub mod conclude;
pub mod continuity;
pub mod decision;
pub mod deletes;
pub mod delta;
pub mod first_night;
pub mod kept_copy;
pub mod load;
pub mod marks;
pub mod night;
pub mod progress;
pub mod publish;
pub mod published;
pub mod source;
pub mod state;
pub mod verify;
pub mod work_branch;
