//! Replaying traces: formats, line ends, gzip, bad rows, order, speed and window, through the
//! library API (`Replay` and its `ArrivalSource`).

mod support;

mod errors;
mod formats;
mod options;
mod order;
mod properties;
