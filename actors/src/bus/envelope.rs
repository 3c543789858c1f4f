//! Bincode 2 envelopes with a leading version byte; Kubernetes-shaped objects ride inside as JSON bytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// Current envelope version.
pub const VERSION: u8 = 2;

/// An API call over NATS: the same verbs and paths as HTTP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiCall {
    /// HTTP verb.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Body content type.
    pub content_type: String,
    /// Caller identity for the log.
    pub actor: String,
    /// Body (JSON or YAML bytes).
    pub body: Vec<u8>,
}

/// The answer to an `ApiCall`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Warnings.
    pub warnings: Vec<String>,
    /// JSON body (the object, a list, or a Status); the first part when `more` is set.
    pub body: Vec<u8>,
    /// The body is larger than one message: where to fetch the remaining parts.
    pub more: Option<MoreParts>,
}

/// Where the remaining parts of a large answer wait.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MoreParts {
    /// Subject of the server holding them (request/reply with a `PartRequest`).
    pub subject: String,
    /// Id of the held answer.
    pub id: u64,
    /// Number of parts, the first included.
    pub parts: u32,
    /// Size of every part but the last.
    pub part_size: u64,
}

/// Asks for one part of a large answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartRequest {
    /// Id of the held answer.
    pub id: u64,
    /// Which part (the first is 0 and came with the answer).
    pub index: u32,
}

/// One part of a large answer, or why there is none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartAnswer {
    /// Empty on success.
    pub error: String,
    /// The part's bytes.
    pub body: Vec<u8>,
}

/// Opens a watch stream delivered to `deliver`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WatchOpen {
    /// URL path of the collection or object.
    pub path: String,
    /// Query (resourceVersion, selectors, allowWatchBookmarks, timeoutSeconds).
    pub query: String,
    /// Subject to deliver frames to.
    pub deliver: String,
    /// Caller identity.
    pub actor: String,
}

/// One delivery of a watch stream; `seq` counts from 1 so that a receiver sees any gap.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WatchFrame {
    /// Sequence number within the stream.
    pub seq: u64,
    /// Revision of the event (or of the bookmark).
    pub revision: u64,
    /// The watch line (`{"type":..,"object":..}`), empty on the end frame.
    pub line: Vec<u8>,
    /// The server ended the stream; resume from the last revision.
    pub end: bool,
    /// The line goes on in the next frame (a line larger than one message).
    pub more: bool,
}

/// Asks a node agent for a container's log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogRequest {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (empty: the pod's only or first container).
    pub container: String,
    /// Only the last N lines.
    pub tail_lines: Option<u64>,
    /// The log of the previous run of the container.
    pub previous: bool,
    /// Start at this byte offset of the current log (for following).
    pub since_bytes: Option<u64>,
}

/// Runs a command in a pod's container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecRequest {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (empty: the first container).
    pub container: String,
    /// Command and arguments.
    pub command: Vec<String>,
}

/// Opens an interactive exec session: the agent starts the command and streams its output to
/// `orca.exec.SESSION.out`, taking input from `orca.exec.SESSION.in`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecSession {
    /// What to run and where.
    pub exec: ExecRequest,
    /// The session id naming its subjects.
    pub session: String,
    /// Whether the command reads the client's stdin.
    pub stdin: bool,
    /// Whether it runs on a terminal (output on one stream).
    pub tty: bool,
}

/// A piece of a session's output, sent as a request so that each is acknowledged in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecOutput {
    /// 1 stdout (and the terminal), 2 stderr.
    pub stream: u8,
    /// The bytes.
    pub data: Vec<u8>,
    /// Set on the last message: the exit code.
    pub exit_code: Option<i32>,
    /// Set on the last message when the command could not run or was lost.
    pub error: String,
}

/// Input to a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecInput {
    /// Bytes for the command's stdin.
    pub data: Vec<u8>,
    /// A new terminal size (columns, rows).
    pub resize: Option<(u16, u16)>,
    /// The client closed stdin.
    pub close_stdin: bool,
    /// The client went away: end the command.
    pub kill: bool,
}

/// Bytes for the stdin of a container's main process (`kubectl attach -i`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachInput {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (empty: the first container).
    pub container: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What a node agent answers to a log or exec request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeReply {
    /// Empty on success; otherwise what went wrong.
    pub error: String,
    /// Log bytes, or the command's stdout.
    pub stdout: Vec<u8>,
    /// The command's stderr.
    pub stderr: Vec<u8>,
    /// The command's exit code.
    pub exit_code: i32,
    /// For logs: the byte offset the returned text ends at.
    pub offset: u64,
}

/// The most a decoded message may hold (NATS messages are far smaller).
pub const DECODE_LIMIT: usize = 32 << 20;

/// Encodes a message: version byte then bincode.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Encoding plain structs of strings and numbers into a Vec cannot fail.
    out.extend(bincode::serde::encode_to_vec(msg, bincode::config::standard()).unwrap_or_default());
    out
}

/// Decodes a message, checking the version byte.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| Error::Decode("empty message".into()))?;
    if version != VERSION {
        return Err(Error::Version(version));
    }
    // The limit makes a length prefix claiming more than any message holds an error, not an
    // allocation of that size (a 20-byte message once asked for 25 GB).
    let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    let (msg, _) = bincode::serde::decode_from_slice(body, config).map_err(|e| Error::Decode(e.to_string()))?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_bad_input() {
        let call = ApiCall {
            method: "GET".into(),
            path: "/api/v1/pods".into(),
            query: "a=b".into(),
            content_type: String::new(),
            actor: "t".into(),
            body: b"{}".to_vec(),
        };
        let bytes = encode(&call);
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode::<ApiCall>(&bytes).unwrap(), call);
        assert!(matches!(decode::<ApiCall>(&[]), Err(Error::Decode(_))));
        assert!(matches!(decode::<ApiCall>(&[9, 1, 2]), Err(Error::Version(9))));
        for cut in 1..bytes.len() {
            assert!(decode::<ApiCall>(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_length_prefix_claiming_gigabytes_is_an_error_not_an_allocation() {
        // Found by the envelope fuzz target: 11 bytes whose string length prefix says 25 GB.
        let bytes = [0x02, 0xfd, 0x01, 0xd5, 0x06, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00];
        assert!(decode::<ApiCall>(&bytes).is_err());
        assert!(decode::<WatchFrame>(&bytes).is_err());
    }
}
