//! The [`ArrivalSource`] of a replay: rows come off the file lazily, in time order, shifted to
//! start at zero, cut to the window and scaled by the speed.

use std::time::Duration;

use crate::run::{Arrival, ArrivalSource};
use crate::workload::Workload;
use crate::Rng;

use super::error::TraceError;
use super::order::Ordered;
use super::reader::{Record, RowReader, FROM_MIX};
use super::Replay;

/// Time-ordered records.
pub(crate) trait RecordSource {
    /// The next record, in time order.
    fn next_record(&mut self) -> Result<Option<Record>, TraceError>;
}

/// Records streamed from the file through the reorder buffer.
pub(crate) struct Streamed<'a> {
    pub reader: RowReader<'a>,
    pub ordered: Ordered,
}

impl RecordSource for Streamed<'_> {
    fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        self.ordered.next(&mut self.reader)
    }
}

/// Records sorted in memory.
impl RecordSource for std::slice::Iter<'_, Record> {
    fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        Ok(self.next().copied())
    }
}

impl<T: RecordSource + ?Sized> RecordSource for &mut T {
    fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        (**self).next_record()
    }
}

impl<T: RecordSource + ?Sized> RecordSource for Box<T> {
    fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        (**self).next_record()
    }
}

/// Applies the origin, window and speed to time-ordered records.
pub(crate) struct Cursor<R> {
    rows: R,
    origin: Option<i64>,
    from: i64,
    to: Option<i64>,
    speed: f64,
    /// Rows before the window's start.
    pub before_window: u64,
    done: bool,
}

impl<R: RecordSource> Cursor<R> {
    /// A cursor over `rows`; `from`/`to` are ns after the first row's timestamp.
    pub fn new(rows: R, from: i64, to: Option<i64>, speed: f64) -> Cursor<R> {
        Cursor {
            rows,
            origin: None,
            from,
            to,
            speed,
            before_window: 0,
            done: false,
        }
    }

    /// The next record with its replay time.
    pub fn next(&mut self) -> Result<Option<(Duration, Record)>, TraceError> {
        while !self.done {
            let Some(r) = self.rows.next_record()? else {
                self.done = true;
                break;
            };
            let origin = *self.origin.get_or_insert(r.at);
            let offset = r.at.saturating_sub(origin);
            if offset < self.from {
                self.before_window += 1;
                continue;
            }
            if self.to.is_some_and(|to| offset >= to) {
                self.done = true;
                break;
            }
            let nanos = ((offset - self.from) as f64 / self.speed).round();
            return Ok(Some((Duration::from_nanos(nanos as u64), r)));
        }
        Ok(None)
    }
}

/// Arrivals replayed from a trace; see [`Replay::source`].
pub struct TraceSource<'a> {
    replay: &'a Replay,
    cursor: Cursor<Box<dyn RecordSource + 'a>>,
    workload: &'a Workload,
    rng: Rng,
    emitted: u64,
    done: bool,
}

impl<'a> TraceSource<'a> {
    pub(crate) fn new(
        replay: &'a Replay,
        cursor: Cursor<Box<dyn RecordSource + 'a>>,
        workload: &'a Workload,
        rng: Rng,
    ) -> TraceSource<'a> {
        TraceSource {
            replay,
            cursor,
            workload,
            rng,
            emitted: 0,
            done: false,
        }
    }

    fn fail(&mut self, e: TraceError) -> Option<Arrival> {
        self.done = true;
        self.replay.record_error(e);
        None
    }
}

impl ArrivalSource for TraceSource<'_> {
    fn next_arrival(&mut self) -> Option<Arrival> {
        if self.done {
            return None;
        }
        let (at, r) = match self.cursor.next() {
            Ok(Some(next)) => next,
            Ok(None) => {
                self.done = true;
                let expected = self.replay.info().arrivals;
                if self.emitted != expected {
                    let message = format!(
                        "{} arrivals now, {expected} when it was scanned",
                        self.emitted
                    );
                    return self.fail(TraceError::Changed {
                        file: self.replay.info().file.clone(),
                        message,
                    });
                }
                return None;
            }
            Err(e) => return self.fail(e),
        };
        let (model, tier) = if r.model == FROM_MIX {
            let i = self.workload.pick_model(&mut self.rng);
            (i as u32, self.workload.mix[i].tier)
        } else {
            match self.replay.models.tiers.get(r.model as usize) {
                Some(&tier) => (r.model, tier),
                None => {
                    let file = self.replay.info().file.clone();
                    let message = format!("line {}: unknown model index", r.line);
                    return self.fail(TraceError::Changed { file, message });
                }
            }
        };
        self.emitted += 1;
        // A request that never succeeded recorded only the gateway's estimate (`max_tokens`):
        // what it would have produced is drawn from the scenario's output distribution.
        let output = if r.estimated {
            let (_, drawn, _) = self.workload.draw_tokens(&mut self.rng);
            drawn
        } else {
            r.output
        };
        Some(Arrival {
            at,
            model,
            tier,
            input_tokens: r.input,
            output_tokens: output,
            estimated_output: self
                .workload
                .max_tokens
                .map_or(output, |max| max.max(output)),
            stream: match r.stream {
                Some(s) => s,
                None => self.workload.draws_stream(&mut self.rng),
            },
            session: None,
        })
    }

    fn models(&self) -> Vec<String> {
        if self.replay.info().models_from_mix {
            self.workload.mix.iter().map(|m| m.model.clone()).collect()
        } else {
            self.replay.models.names.clone()
        }
    }
}
