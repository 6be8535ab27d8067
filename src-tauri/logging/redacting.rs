//! A `MakeWriter` wrapper that redacts each formatted log line before it is written.
//! The fmt layer writes one event per `write` call, so a secret never straddles two calls.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::secrets::redact;

/// Wraps any `MakeWriter` so that what reaches it has secrets replaced by `[redacted]`.
#[derive(Clone)]
pub struct Redacting<M>(M);

impl<M> Redacting<M> {
    /// Redacts everything written through `inner`.
    pub fn new(inner: M) -> Self {
        Redacting(inner)
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// The writer handed out by `Redacting`.
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(redact(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::secrets::Secret;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_line_never_carries_a_token_however_it_was_logged() {
        let sink = Sink::default();
        let out = sink.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Redacting::new(move || sink.clone())));
        let token = Secret::new("glpat-logged-by-mistake-42");
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(token = ?token, "wrapped");
            tracing::info!("escaped: {}", token.expose());
            tracing::warn!(header = "PRIVATE-TOKEN: unwrapped999", "header echoed by a server");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("glpat-logged-by-mistake-42"), "{text}");
        assert!(!text.contains("unwrapped999"), "{text}");
        assert_eq!(text.matches("[redacted]").count(), 3, "{text}");
    }
}
