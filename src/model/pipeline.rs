//! Running the stages of a stream on their own threads, so decryption, hashing and disk I/O
//! overlap instead of taking turns: [`read_ahead`] runs a reader on a thread of its own,
//! [`write_behind`] a writer. Memory is bounded: at most [`DEPTH`] buffers of [`CHUNK`]
//! bytes are in flight. Errors travel with the data and surface at the other end; nothing
//! here interprets the bytes.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per buffer handed between threads.
pub const CHUNK: usize = 1 << 20;
/// Buffers in flight between two stages.
pub const DEPTH: usize = 4;

/// Reads `inner` on a thread of its own, `CHUNK` bytes at a time, at most `DEPTH` ahead.
pub fn read_ahead<R: Read + Send + 'static>(mut inner: R) -> ReadAhead {
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
    std::thread::spawn(move || loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        // Fill the buffer (or reach the end), so the consumer sees few, large pieces.
        let result = loop {
            match inner.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == CHUNK {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        let end = filled < CHUNK;
        if filled > 0 && tx.send(Ok(buf)).is_err() {
            return; // the consumer stopped reading
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    });
    ReadAhead {
        rx,
        current: Vec::new(),
        pos: 0,
    }
}

/// The reading end of [`read_ahead`].
pub struct ReadAhead {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    self.current = buf;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // the reader thread finished
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes to `inner` on a thread of its own; [`WriteBehind::finish`] waits for it and returns
/// `inner`. A write error ends the thread and comes back from the next write or from `finish`.
pub fn write_behind<W: Write + Send + 'static>(mut inner: W) -> WriteBehind<W> {
    let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
    let thread = std::thread::spawn(move || {
        for buf in rx {
            inner.write_all(&buf)?;
        }
        inner.flush()?;
        Ok(inner)
    });
    WriteBehind {
        tx: Some(tx),
        thread: Some(thread),
        buf: Vec::with_capacity(CHUNK),
    }
}

fn stopped() -> io::Error {
    io::Error::other("the writer stopped after an earlier error")
}

/// The writing end of [`write_behind`].
pub struct WriteBehind<W> {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<W>>>,
    buf: Vec<u8>,
}

impl<W> WriteBehind<W> {
    fn send(&mut self) -> io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let Some(tx) = self.tx.as_ref() else {
            return Err(stopped());
        };
        if tx.send(full).is_err() {
            // The writer thread stopped: its error says why.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer thread stopped early")));
        }
        Ok(())
    }

    fn join(&mut self) -> io::Result<W> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            None => Err(stopped()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
        }
    }

    /// Writes what is buffered, waits for the thread, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.join()
    }
}

impl<W> Write for WriteBehind<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    /// Buffers are handed over when full; [`WriteBehind::finish`] flushes the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W> Drop for WriteBehind<W> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn read_ahead_delivers_every_byte_in_order() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data = pattern(n);
            let mut out = Vec::new();
            read_ahead(io::Cursor::new(data.clone()))
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{n} bytes");
        }
    }

    #[test]
    fn read_ahead_passes_errors_on_after_the_data_before_them() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("tampered chunk"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let err = read_ahead(Failing(10)).read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), "tampered chunk");
        assert_eq!(out, vec![7; 10]);
    }

    #[test]
    fn write_behind_writes_everything_and_returns_the_writer() {
        let data = pattern(2 * CHUNK + 5);
        let mut w = write_behind(Vec::new());
        for piece in data.chunks(7777) {
            w.write_all(piece).unwrap();
        }
        assert_eq!(w.finish().unwrap(), data);
    }

    #[test]
    fn write_behind_reports_the_writers_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = write_behind(Full);
        let data = pattern(CHUNK * 8);
        let early = w.write_all(&data).err();
        let late = w.finish().err();
        let e = early.or(late).expect("an error");
        assert_eq!(e.to_string(), "disk full");
    }
}
