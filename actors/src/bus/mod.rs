//! NATS plumbing: subjects (built here only), bincode envelopes with a version byte, API client.

pub mod client;
pub mod envelope;
pub mod subjects;

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An envelope did not decode.
    #[error("malformed envelope: {0}")]
    Decode(String),
    /// An envelope was written by a newer orca.
    #[error("envelope version {0} is newer than this orca understands")]
    Version(u8),
    /// Connecting to NATS failed.
    #[error("failed to connect to NATS at {url}: {reason}")]
    Connect {
        /// Server URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A request got no answer.
    #[error("request on {subject} failed: {reason}")]
    Request {
        /// Subject of the request.
        subject: String,
        /// What went wrong (timeout, no responders).
        reason: String,
    },
    /// Subscribing failed.
    #[error("failed to subscribe to {subject}: {reason}")]
    Subscribe {
        /// Subject.
        subject: String,
        /// What went wrong.
        reason: String,
    },
}

/// Result with the bus error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Connects to NATS with orca's options (endless reconnect, named connection).
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| Error::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })
}
