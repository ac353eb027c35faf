//! The pace every request body must keep: after a grace period, at least a minimum rate
//! averaged since the grace ended, and an overall deadline scaled to the declared size
//! (`Content-Length`): `grace + length / min_rate`. A body that falls behind ends with an
//! error, so whatever reads it (a buffered extractor, an upload) fails and lets go of what it
//! held (a reveal's or deposit's per-commitment guard, an upload slot).
//!
//! Owns: the rate check on request bodies. Never: answers a request itself (the reader's
//! refusal does), or looks at what the bytes are.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How fast request bodies must arrive (see README, "Limits").
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// How long a body may take before the rate counts.
    pub grace: Duration,
    /// Bytes per second a body must average once the grace is over.
    pub min_rate: u64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            grace: Duration::from_secs(10),
            min_rate: 16 * 1024,
        }
    }
}

impl Pace {
    /// The longest a body of `len` bytes may take.
    pub fn deadline(&self, len: u64) -> Duration {
        self.grace + Duration::from_secs_f64(len as f64 / self.min_rate.max(1) as f64)
    }

    /// Why a body with `received` bytes after `elapsed` is too slow, if it is.
    fn verdict(&self, received: u64, elapsed: Duration, declared: Option<u64>) -> Option<String> {
        if let Some(len) = declared {
            let deadline = self.deadline(len);
            if elapsed > deadline {
                return Some(format!(
                    "the body of {len} bytes was not received within {:.0}s ({}s grace + {} bytes/s); send it faster",
                    deadline.as_secs_f64(),
                    self.grace.as_secs(),
                    self.min_rate
                ));
            }
        }
        let counted = elapsed.checked_sub(self.grace)?;
        let owed = (counted.as_secs_f64() * self.min_rate as f64) as u64;
        (received < owed).then(|| {
            format!(
                "the body arrived at under {} bytes/s ({received} bytes in {:.0}s, after a {}s grace): the request was dropped; send it faster",
                self.min_rate,
                elapsed.as_secs_f64(),
                self.grace.as_secs()
            )
        })
    }
}

/// Middleware: wraps every request's body so it keeps `pace`.
pub(crate) async fn paced(State(pace): State<Pace>, req: Request) -> Request {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let (parts, body) = req.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return Request::from_parts(parts, body);
    }
    let stream = Paced {
        inner: body.into_data_stream(),
        pace,
        declared,
        started: Instant::now(),
        received: 0,
        check: Box::pin(tokio::time::sleep(CHECK_EVERY)),
        done: false,
    };
    Request::from_parts(parts, Body::from_stream(stream))
}

/// How often a stalled body's pace is checked.
const CHECK_EVERY: Duration = Duration::from_millis(500);

struct Paced {
    inner: axum::body::BodyDataStream,
    pace: Pace,
    declared: Option<u64>,
    started: Instant,
    received: u64,
    check: Pin<Box<Sleep>>,
    done: bool,
}

impl Paced {
    fn too_slow(&mut self) -> Option<std::io::Error> {
        let why = self
            .pace
            .verdict(self.received, self.started.elapsed(), self.declared)?;
        self.done = true;
        Some(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
    }
}

impl Stream for Paced {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.received += bytes.len() as u64;
                match self.too_slow() {
                    Some(e) => Poll::Ready(Some(Err(e))),
                    None => Poll::Ready(Some(Ok(bytes))),
                }
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => self.poll_check(cx),
        }
    }
}

impl Paced {
    /// While the body is stalled: wakes every [`CHECK_EVERY`] to see whether it is too slow.
    fn poll_check(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        while self.check.as_mut().poll(cx).is_ready() {
            if let Some(e) = self.too_slow() {
                return Poll::Ready(Some(Err(e)));
            }
            let next = Instant::now() + CHECK_EVERY;
            self.check.as_mut().reset(next);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let p = Pace {
            grace: Duration::from_secs(10),
            min_rate: 1000,
        };
        assert!(p.verdict(0, Duration::from_secs(9), None).is_none());
        assert!(p.verdict(5000, Duration::from_secs(15), None).is_none());
        assert!(p.verdict(4000, Duration::from_secs(15), None).is_some());
        assert_eq!(p.deadline(5000), Duration::from_secs(15));
        assert!(p
            .verdict(5000, Duration::from_secs(16), Some(5000))
            .is_some());
    }
}
