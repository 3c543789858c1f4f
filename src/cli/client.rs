//! The HTTP client orcactl uses: finds the server, sends JSON, turns `Status` errors into messages.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// A connection to an orca API server.
pub struct Client {
    pub base: String,
    http: reqwest::blocking::Client,
    /// TLS for https servers (streamed connections use it too).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    token: Option<String>,
}

/// A response: status code, JSON body, warnings.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub warnings: Vec<String>,
}

fn orca_home() -> std::path::PathBuf {
    std::env::var_os("ORCA_HOME").map(Into::into).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".orca")
    })
}

impl Client {
    /// Finds the server: `--server`, then `ORCA_SERVER`, then `$ORCA_HOME/server`, then the
    /// current context of the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`).
    pub fn connect(flag: Option<&str>) -> Result<Client> {
        let file = orca_home().join("server");
        let base = match (flag, std::env::var("ORCA_SERVER").ok().filter(|s| !s.is_empty())) {
            (Some(s), _) => s.to_string(),
            (None, Some(s)) => s,
            (None, None) => match std::fs::read_to_string(&file) {
                Ok(s) => s.trim().to_string(),
                Err(_) => super::kubeconfig::Kubeconfig::load()
                    .ok()
                    .and_then(|k| k.current().map(|c| c.server))
                    .ok_or_else(|| anyhow!("no orca server found: pass --server URL, set ORCA_SERVER, or start a cluster with `orca up` (it writes {})", file.display()))?,
            },
        };
        let base = base.trim_end_matches('/').to_string();
        let creds = credentials_for(&base)?;
        let tls = match &creds {
            Some(c) if base.starts_with("https://") => Some(std::sync::Arc::new(c.client_config()?)),
            None if base.starts_with("https://") => bail!(
                "no credentials for {base}: set KUBECONFIG to the kubeconfig `orca up` wrote ({})",
                orca_home().join("kubeconfig").display()
            ),
            _ => None,
        };
        let mut builder = reqwest::blocking::Client::builder().timeout(None).user_agent("orcactl");
        if let Some(config) = &tls {
            builder = builder.use_preconfigured_tls((**config).clone());
        }
        Ok(Client {
            base,
            http: builder.build()?,
            tls,
            token: creds.and_then(|c| c.token),
        })
    }

    /// The `Authorization` header value, when the credentials are a bearer token.
    pub fn bearer(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// A streamed connection to the server (exec, attach, port-forward).
    pub fn open(&self) -> Result<super::conn::Conn> {
        super::conn::Conn::connect(&self.base, self.tls.as_ref())
    }

    fn request(&self, method: &str, path_and_query: &str) -> Result<reqwest::blocking::RequestBuilder> {
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let req = self.http.request(m, format!("{}{}", self.base, path_and_query));
        Ok(match self.bearer() {
            Some(b) => req.header("authorization", b),
            None => req,
        })
    }

    /// Sends a request with an optional JSON body.
    pub fn send(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> Result<Reply> {
        self.send_typed(method, path_and_query, body, "application/json")
    }

    /// Sends a request with a body of the given content type.
    pub fn send_typed(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Reply> {
        let mut req = self.request(method, path_and_query)?.timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(serde_json::to_vec(b)?);
        }
        let resp = req
            .send()
            .with_context(|| format!("cannot reach the orca server at {}; is `orca up` running?", self.base))?;
        let status = resp.status().as_u16();
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|w| w.trim_start_matches("299 - ").trim_matches('"').to_string())
            .collect();
        let text = resp.text()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, body, warnings })
    }

    /// A plain-text GET (pod logs): status, text (or the server's error message), and the log offset.
    pub fn get_text(&self, path_and_query: &str) -> Result<(u16, String, u64)> {
        let resp = self
            .request("GET", path_and_query)?
            .send()
            .with_context(|| format!("cannot reach the orca server at {}", self.base))?;
        let status = resp.status().as_u16();
        let offset = resp
            .headers()
            .get("x-orca-log-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let text = resp.text()?;
        if (200..300).contains(&status) {
            Ok((status, text, offset))
        } else {
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Ok((status, error_message(status, &body), offset))
        }
    }

    /// A streaming GET (watch).
    pub fn stream(&self, path_and_query: &str) -> Result<reqwest::blocking::Response> {
        let resp = self
            .request("GET", path_and_query)?
            .send()
            .with_context(|| format!("cannot reach the orca server at {}", self.base))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let body: Value = resp.json().unwrap_or(Value::Null);
            bail!("{}", error_message(status, &body));
        }
        Ok(resp)
    }

    /// The body of a successful reply (warnings printed), or the server's message as an error.
    pub fn expect(&self, reply: Reply) -> Result<Value> {
        print_warnings(&reply.warnings);
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            bail!("{}", error_message(reply.status, &reply.body))
        }
    }
}

/// Prints server warnings as kubectl does.
pub fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("Warning: {w}");
    }
}

/// How errors the server gave begin (printed without orcactl's `error: `).
pub const SERVER_ERROR: &str = "Error from server";

/// The server's message of a `Status`, with every field path on its own line.
pub fn error_message(status: u16, body: &Value) -> String {
    let reason = body["reason"].as_str().unwrap_or("");
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    // As kubectl prints it: `Error from server (NotFound): pods "x" not found`.
    let reason = if reason.is_empty() {
        status.to_string()
    } else {
        reason.to_string()
    };
    let mut out = format!("{SERVER_ERROR} ({reason}): {message}");
    if let Some(causes) = body.pointer("/details/causes").and_then(Value::as_array) {
        for c in causes {
            out.push_str(&format!(
                "\n  * {}: {}",
                c["field"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            ));
        }
    }
    out
}

/// The credentials of the kubeconfig context that points at `base`: the user's kubeconfig
/// (`$KUBECONFIG`, else `~/.kube/config`), then the one `orca up` wrote (`$ORCA_HOME/kubeconfig`).
fn credentials_for(base: &str) -> Result<Option<super::tls::Credentials>> {
    let home = orca_home().join("kubeconfig");
    let candidates = [
        super::kubeconfig::Kubeconfig::load().ok(),
        super::kubeconfig::Kubeconfig::load_from(home).ok(),
    ];
    let contexts: Vec<_> = candidates.iter().flatten().filter_map(|k| k.current()).collect();
    let chosen = contexts
        .iter()
        .find(|c| c.server.trim_end_matches('/') == base)
        .or_else(|| contexts.last());
    chosen
        .map(|c| super::tls::Credentials::from_entries(&c.cluster, &c.user))
        .transpose()
}
