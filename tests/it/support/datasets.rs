//! The datasets the tests load, and their totals (rows in every table),
//! checked against what pg2dolt reports and what the target holds.

/// Rows in the four tables of `scripts/demo.sql` (the demo source).
pub const DEMO_ROWS: u64 = 13_060;

/// Rows in the eleven tables of the Chinook sample database.
pub const CHINOOK_ROWS: u64 = 15_607;
