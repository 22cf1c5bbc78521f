//! Time order: rows pass through a bounded reorder buffer (traces written when attempts finish
//! are out of order by up to an attempt's latency), or are sorted in memory with `--sort`.
//! A row earlier than one already released is an error naming both lines.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::error::TraceError;
use super::reader::{Record, RowReader};

/// A record ordered by (timestamp, line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByTime(Record);

impl Ord for ByTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.at, self.0.line).cmp(&(other.0.at, other.0.line))
    }
}

impl PartialOrd for ByTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Releases rows in time order, holding back those within `tolerance` of the latest seen.
pub(crate) struct Ordered {
    heap: BinaryHeap<Reverse<ByTime>>,
    tolerance: i64,
    max_seen: i64,
    released: Option<(i64, u64)>,
    exhausted: bool,
    hint: String,
}

impl Ordered {
    /// A buffer allowing rows up to `tolerance_ns` out of order.
    pub fn new(tolerance_ns: i64, hint: String) -> Ordered {
        Ordered {
            heap: BinaryHeap::new(),
            tolerance: tolerance_ns.max(0),
            max_seen: i64::MIN,
            released: None,
            exhausted: false,
            hint,
        }
    }

    /// The next row in time order.
    pub fn next(&mut self, reader: &mut RowReader<'_>) -> Result<Option<Record>, TraceError> {
        loop {
            if let Some(Reverse(ByTime(top))) = self.heap.peek() {
                if self.exhausted || top.at <= self.max_seen.saturating_sub(self.tolerance) {
                    let mut top = *top;
                    self.heap.pop();
                    top.settle(reader);
                    self.released = Some((top.at, top.line));
                    return Ok(Some(top));
                }
            }
            if self.exhausted {
                return Ok(None);
            }
            match reader.next_record()? {
                None => self.exhausted = true,
                Some(r) => {
                    if let Some((at, line)) = self.released.filter(|(at, _)| r.at < *at) {
                        return Err(TraceError::Unsorted {
                            file: reader.file().to_owned(),
                            line: r.line,
                            previous_line: line,
                            back_ms: (at - r.at) as f64 / 1e6,
                            hint: self.hint.clone(),
                        });
                    }
                    self.max_seen = self.max_seen.max(r.at);
                    self.heap.push(Reverse(ByTime(r)));
                }
            }
        }
    }
}

/// Reads every row and sorts them by (timestamp, line): memory grows with the trace.
pub(crate) fn read_sorted(reader: &mut RowReader<'_>) -> Result<Vec<Record>, TraceError> {
    let mut rows = Vec::new();
    while let Some(r) = reader.next_record()? {
        rows.push(r);
    }
    rows.sort_unstable_by_key(|r| (r.at, r.line));
    for r in &mut rows {
        r.settle(reader);
    }
    Ok(rows)
}
