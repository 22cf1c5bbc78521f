//! End to end: `switchyard compare` on a small scenario with an incident writes every report file;
//! the CSVs parse, the PNGs are well-formed, `index.html` links only to files that exist, and the
//! same seed gives byte-identical report files.

#[path = "../cli/mod.rs"]
mod cli;
mod support;

mod checkers;
mod report;
