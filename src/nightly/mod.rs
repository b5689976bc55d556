//! The nightly domain of `pg2dolt refresh`: what a published night
//! records for the next one (`state`), what the source says of its tables
//! (`source`), how each table is loaded on a later night (`delta`: the rows
//! changed since the last published snapshot, or all of them, and why),
//! and the rows a delta deletes (`deletes`). It decides and reads; the
//! copy phase moves the rows.

pub mod compare;
pub mod deletes;
pub mod delta;
pub mod night;
pub mod source;
pub mod state;
pub mod verify;
