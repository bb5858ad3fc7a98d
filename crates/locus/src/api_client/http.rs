//! Requests to a running server's admin API, with its bearer token: JSON
//! in and out, and a refused connection told apart from every other
//! failure (it means no server runs there, and the command falls back to
//! the store).

use super::ApiTarget;
use crate::failure::Failure;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, Url};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// How long a request may take (the server answers at once; a drain with
/// `wait` is not used by the CLI).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of one server's admin API, holding its token (never shown).
pub struct Session {
    client: Client,
    base: Url,
    token: String,
    token_file: PathBuf,
}

/// A response of the API: its status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, parsed.
    pub body: Value,
}

impl Answer {
    /// The `error` field of an error body, else the status.
    pub fn error(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(e) => e.to_owned(),
            None => format!("HTTP status {}", self.status),
        }
    }
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum ApiError {
    /// Nothing listens there (the connection was refused).
    NoServer,
    /// Any other failure, ready to report.
    Failed(Failure),
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        ApiError::Failed(f)
    }
}

impl Session {
    /// A session with the API of `target`, with the token of its file;
    /// `None` when that file does not exist (no server has made a token
    /// there, so none is asked).
    pub fn open(target: &ApiTarget) -> Result<Option<Session>, Failure> {
        let token = match std::fs::read_to_string(&target.token_file) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::Failed(format!(
                    "cannot read the admin token file {}: {e} (run as the server's user, or \
                     pass --admin-token-file)",
                    target.token_file.display()
                )))
            }
        };
        if token.is_empty() {
            return Err(Failure::Failed(format!(
                "the admin token file {} is empty",
                target.token_file.display()
            )));
        }
        let mut builder = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(ca) = &target.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                Failure::Failed(format!("cannot read the certificate {}: {e}", ca.display()))
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Failure::Failed(format!("the certificate {}: {e}", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| Failure::Failed(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Some(Session {
            client,
            base: target.url.clone(),
            token,
            token_file: target.token_file.clone(),
        }))
    }

    /// The URL of the API path `segments` (each percent-encoded), under
    /// the base URL's own path.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The base URL, for messages.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET url`.
    pub fn get(&self, url: Url) -> Result<Answer, ApiError> {
        self.send(self.client.request(Method::GET, url))
    }

    /// `POST url` with the JSON `body`.
    pub fn post(&self, url: Url, body: &Value) -> Result<Answer, ApiError> {
        self.send(self.client.request(Method::POST, url).json(body))
    }

    /// `DELETE url`.
    pub fn delete(&self, url: Url) -> Result<Answer, ApiError> {
        self.send(self.client.request(Method::DELETE, url))
    }

    fn send(&self, request: RequestBuilder) -> Result<Answer, ApiError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let text = response.text().map_err(|e| self.transport_error(&e))?;
        if status == 401 {
            return Err(ApiError::Failed(Failure::Failed(format!(
                "the server at {} refused the admin token in {} (401): is it this server's \
                 token file? (--admin-token-file, --admin-url)",
                self.base,
                self.token_file.display()
            ))));
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| {
                ApiError::Failed(Failure::Failed(format!(
                    "the server at {} answered {status} with a body that is not JSON: {e}",
                    self.base
                )))
            })?
        };
        Ok(Answer { status, body })
    }

    /// `NoServer` for a refused connection, else a failure naming the URL.
    fn transport_error(&self, error: &reqwest::Error) -> ApiError {
        if refused(error) {
            return ApiError::NoServer;
        }
        let mut message = format!("cannot talk to the server at {}: {error}", self.base);
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ApiError::Failed(Failure::Failed(message))
    }
}

/// Whether `error` comes from a refused TCP connection.
fn refused(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = cause.source();
    }
    false
}
