#![expect(
    clippy::unwrap_used,
    reason = "a failing test should stop at the failing step"
)]

//! End-to-end tests: the release-shaped `pg2dolt` binary against real
//! PostgreSQL and MariaDB servers (and Dolt when `dolt` is on PATH), started
//! by `scripts/test.sh`. Each test uses databases of its own.

mod archive;
mod chinook;
mod command_line;
mod copy_resume;
mod delta;
mod delta_ranges;
mod delta_recovery;
mod delta_types;
mod demo;
mod dolt;
mod draft;
mod edges;
mod failover;
mod failures;
mod first_night;
mod image;
mod image_deploy;
mod masking;
mod migrations;
mod nights;
mod operations;
mod parallel;
mod plan;
mod refresh;
mod refresh_guards;
mod snapshot;
mod support;
mod tables;
mod tls;
mod types;
