//! NATS plumbing: subjects (built here only), bincode envelopes with a version byte, API client.

pub mod client;
pub mod envelope;
pub mod paths;
pub mod split;
pub mod subjects;
pub mod watch;

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
    /// Nothing listens on the subject (the server or node is not running or not connected).
    #[error("nothing answers on {subject}: {hint}")]
    NoResponders {
        /// Subject of the request.
        subject: String,
        /// What is probably missing.
        hint: String,
    },
    /// The connection to NATS is down; the request was not sent.
    #[error("not connected to NATS (state: {state}); the request on {subject} was not sent")]
    Disconnected {
        /// Subject of the request.
        subject: String,
        /// Connection state.
        state: String,
    },
    /// A message would exceed the server's max_payload.
    #[error("a message of {size} bytes on {subject} is over the NATS server's max_payload of {limit} bytes")]
    TooLarge {
        /// Subject of the message.
        subject: String,
        /// Its size.
        size: usize,
        /// The server's limit.
        limit: usize,
    },
    /// The API answered with an error status.
    #[error("the API answered {status}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// The Status message.
        message: String,
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

/// How long a request waits for a connection that is still being made.
pub const FIRST_CONNECT_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Sends a request, failing at once when NATS is down, nothing listens, or it is too large.
pub async fn request(
    nats: &async_nats::Client,
    subject: &str,
    payload: Vec<u8>,
    timeout: std::time::Duration,
    hint: &str,
) -> Result<async_nats::Message> {
    use async_nats::connection::State;
    // A connection still being made (just started) gets a moment; a lost one fails at once.
    let mut state = nats.connection_state();
    let give_up = std::time::Instant::now() + FIRST_CONNECT_GRACE;
    while state == State::Pending && std::time::Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        state = nats.connection_state();
    }
    if state != State::Connected {
        return Err(Error::Disconnected {
            subject: subject.to_string(),
            state: state.to_string(),
        });
    }
    let size = payload.len();
    if size > nats.max_payload() {
        return Err(Error::TooLarge {
            subject: subject.to_string(),
            size,
            limit: nats.max_payload(),
        });
    }
    let req = async_nats::client::Request::new()
        .payload(payload.into())
        .timeout(Some(timeout));
    nats.send_request(subject.to_string(), req).await.map_err(|e| {
        use async_nats::client::RequestErrorKind as K;
        match e.kind() {
            K::NoResponders => Error::NoResponders {
                subject: subject.to_string(),
                hint: hint.to_string(),
            },
            K::MaxPayloadExceeded => Error::TooLarge {
                subject: subject.to_string(),
                size,
                limit: nats.max_payload(),
            },
            _ => Error::Request {
                subject: subject.to_string(),
                reason: e.to_string(),
            },
        }
    })
}

/// How a connection proves who it is to nats-server.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// An open NATS (one the operator runs without users).
    #[default]
    None,
    /// A user and password (the control plane of a secured cluster).
    Password { user: String, password: String },
    /// A node's nkey seed; its replies come to the node's own inbox.
    NodeKey { node: String, seed: String },
}

/// Connects to NATS with orca's options (endless reconnect, named connection).
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client> {
    connect_as(url, name, &Credentials::None).await
}

/// Connects to NATS as `creds`.
pub async fn connect_as(url: &str, name: &str, creds: &Credentials) -> Result<async_nats::Client> {
    let opts = match creds {
        Credentials::None => async_nats::ConnectOptions::new(),
        Credentials::Password { user, password } => {
            async_nats::ConnectOptions::new().user_and_password(user.clone(), password.clone())
        }
        Credentials::NodeKey { node, seed } => {
            async_nats::ConnectOptions::with_nkey(seed.clone()).custom_inbox_prefix(subjects::node_inbox(node))
        }
    };
    // Counted for the process's metrics: a loss, and a recovery after one.
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    opts.event_callback(move |event| {
        let lost = lost.clone();
        async move {
            use std::sync::atomic::Ordering;
            match event {
                async_nats::Event::Disconnected => {
                    lost.store(true, Ordering::Relaxed);
                    crate::metrics::process::nats_disconnected();
                }
                async_nats::Event::Connected if lost.swap(false, Ordering::Relaxed) => {
                    crate::metrics::process::nats_reconnected();
                }
                _ => {}
            }
        }
    })
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
