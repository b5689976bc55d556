//! Shared helpers, by concern: the servers and throwaway databases
//! (`servers`), running the binary (`run`), comparing values through typed
//! drivers (`values`), a MariaDB of a test's own (`mariadb`), PostgreSQL clusters of a test's
//! own (`postgres`: standbys, failovers, restores), and the
//! datasets' totals (`datasets`), a Dolt server of a test's own (`dolt`).

pub mod datasets;
pub mod dolt;
pub mod mariadb;
pub mod postgres;
pub mod run;
pub mod servers;
pub mod values;

pub use datasets::*;
pub use run::*;
pub use servers::*;
pub use values::*;
