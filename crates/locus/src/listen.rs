//! Listening sockets: `udp:IP:PORT` and `tcp:IP:PORT`, as `--listen` and
//! the `listen` key write them and `serve` binds them.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::Deserialize;

/// Transport protocol of a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
    }
}

/// A socket to listen on, written `udp:IP:PORT` or `tcp:IP:PORT`
/// (IPv6 as `udp:[::1]:5060`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenSpec {
    /// Transport protocol of the socket.
    pub transport: Transport,
    /// Local address and port to bind.
    pub addr: SocketAddr,
}

/// Error for a malformed listen spec; its message says which form is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpecError {
    /// The rejected text.
    pub input: String,
}

impl fmt::Display for ListenSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected udp:IP:PORT or tcp:IP:PORT with a numeric IP (IPv6 as udp:[::1]:5060), got '{}'",
            self.input
        )
    }
}

impl std::error::Error for ListenSpecError {}

impl FromStr for ListenSpec {
    type Err = ListenSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ListenSpecError {
            input: s.to_owned(),
        };
        let (transport, addr) = s.split_once(':').ok_or_else(error)?;
        let transport = match transport.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => return Err(error()),
        };
        let addr = addr.parse().map_err(|_| error())?;
        Ok(ListenSpec { transport, addr })
    }
}

impl TryFrom<String> for ListenSpec {
    type Error = ListenSpecError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ListenSpec {
        s.parse().expect("valid spec")
    }

    #[test]
    fn listen_spec_parsing_and_display() {
        for ok in ["udp:127.0.0.1:5060", "tcp:[::1]:5061", "udp:0.0.0.0:0"] {
            assert_eq!(spec(ok).to_string(), ok);
        }
        let v6 = spec("tcp:[2001:db8::1]:5060");
        assert_eq!(v6.transport, Transport::Tcp);
        assert_eq!(v6.addr, "[2001:db8::1]:5060".parse().expect("addr"));
        for bad in [
            "",
            "udp",
            "udp:",
            "udp:127.0.0.1",
            "sctp:127.0.0.1:5060",
            "udp:localhost:5060",
            "udp:::1:5060",
            "udp:127.0.0.1:70000",
            "127.0.0.1:5060",
        ] {
            let err = bad.parse::<ListenSpec>().expect_err(bad);
            assert!(err.to_string().contains("udp:IP:PORT"), "{err}");
        }
    }
}
