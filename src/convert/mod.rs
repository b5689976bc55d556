//! The pure core: Postgres COPY text in, MySQL LOAD DATA text (or INSERT
//! tuples) out. Nothing in here touches a socket or a file.

pub mod binary;
pub mod converter;
pub mod copy_text;
pub mod frame;
pub mod mysql_text;
pub mod number;
pub mod row;
pub mod temporal;
