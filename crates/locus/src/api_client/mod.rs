//! How `locus bindings`, `locus users` and `locus stats` reach the data:
//! through the running server's admin API (`--admin-url`, with the token
//! of `--admin-token-file`), or, when no server runs there (the
//! connection is refused) or none ever made a token, the store directly
//! (the data directory, or `--store sqlite:DIR`).
//!
//! `http` holds the requests; the defaults come from the flags, else from
//! the server's config file (`--config`), else from the server's own
//! defaults.

mod http;

pub use http::{Answer, ApiError, Session};

use crate::data_owner::KeepOwner;
use crate::failure::Failure;
use crate::settings::{self, DEFAULT_ADMIN_LISTEN, DEFAULT_DATA_DIR, TOKEN_FILE_NAME};
use clap::Args;
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The store schemes `--store` accepts.
const STORE_SCHEMES: &str = "sqlite:DIR";

/// Where a management command finds the server and, without one, the
/// store.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// URL of the running server's admin API [default: from admin_listen of --config, else
    /// http://127.0.0.1:8060]
    #[arg(long, value_name = "URL")]
    pub admin_url: Option<String>,

    /// File holding the admin API token [default: admin_token_file of --config, else
    /// DATA_DIR/admin-token]
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// PEM certificate to trust for an https admin URL (the server's own, when self-signed)
    /// [default: admin_tls_cert of --config]
    #[arg(long, value_name = "FILE")]
    pub admin_ca: Option<PathBuf>,

    /// Directory holding the database, used directly when no server runs [default: data_dir
    /// of --config, else ./locus-data]
    #[arg(long, value_name = "DIR", conflicts_with = "store")]
    pub data_dir: Option<PathBuf>,

    /// The store used directly when no server runs, as sqlite:DIR (the same as --data-dir DIR)
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,

    /// The server's config file: its data_dir, admin_listen, admin_token_file and
    /// admin_tls_cert give the defaults above
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where the admin API of a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    /// Its base URL.
    pub url: Url,
    /// The file of its token.
    pub token_file: PathBuf,
    /// A certificate to trust for its HTTPS (its own, from the config).
    pub ca_cert: Option<PathBuf>,
}

/// What a management command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The data directory used without a server.
    pub data_dir: PathBuf,
    /// The server's API; `None` when its config turns it off.
    pub api: Option<ApiTarget>,
}

impl ServerArgs {
    /// The target the flags (and the config file they name) describe.
    pub fn target(&self) -> Result<Target, Failure> {
        let config = match &self.config {
            Some(path) => Some(
                settings::from_file(path)
                    .map_err(|e| Failure::Invalid(format!("--config: {e}")))?,
            ),
            None => None,
        };
        let data_dir = match (&self.data_dir, &self.store) {
            (Some(dir), _) => dir.clone(),
            (None, Some(url)) => store_dir(url)?,
            (None, None) => config
                .as_ref()
                .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), |c| c.data_dir.clone()),
        };
        let admin = config.as_ref().map(|c| &c.admin);
        let url = match (&self.admin_url, admin) {
            (Some(text), _) => Some(parse_url(text)?),
            (None, Some(admin)) => match admin.listen {
                None => None,
                Some(listen) => Some(url_of(listen, admin.tls.is_some())?),
            },
            (None, None) => Some(default_url()?),
        };
        let token_file = match (&self.admin_token_file, admin) {
            (Some(file), _) => file.clone(),
            (None, Some(admin)) if self.data_dir.is_none() && self.store.is_none() => {
                admin.token_file.clone()
            }
            _ => data_dir.join(TOKEN_FILE_NAME),
        };
        let ca_cert = self
            .admin_ca
            .clone()
            .or_else(|| admin.and_then(|a| a.tls.as_ref()).map(|t| t.cert.clone()));
        Ok(Target {
            data_dir,
            api: url.map(|url| ApiTarget {
                url,
                token_file,
                ca_cert,
            }),
        })
    }
}

impl Target {
    /// Runs `api` against the server when one answers, else `store` on
    /// the data directory (files it creates there as root are given back
    /// to the directory's owner).
    pub fn either<T>(
        &self,
        api: impl FnOnce(&Session) -> Result<T, ApiError>,
        store: impl FnOnce(&Path) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        if let Some(target) = &self.api {
            if let Some(session) = Session::open(target)? {
                match api(&session) {
                    Ok(done) => return Ok(done),
                    Err(ApiError::Failed(failure)) => return Err(failure),
                    Err(ApiError::NoServer) => eprintln!(
                        "locus: no server answers at {}; using the data directory {}",
                        target.url,
                        self.data_dir.display()
                    ),
                }
            }
        }
        let _owner = KeepOwner::new(&self.data_dir);
        store(&self.data_dir)
    }
}

/// The URL of a server listening on `listen`: an unspecified address is
/// reached on loopback.
fn url_of(listen: SocketAddr, tls: bool) -> Result<Url, Failure> {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    let text = format!("{scheme}://{}/", SocketAddr::new(ip, listen.port()));
    Url::parse(&text).map_err(|e| Failure::Failed(format!("the admin URL {text}: {e}")))
}

/// `http://127.0.0.1:8060/`, the server's default.
fn default_url() -> Result<Url, Failure> {
    let text = format!("http://{DEFAULT_ADMIN_LISTEN}/");
    Url::parse(&text).map_err(|e| Failure::Failed(format!("the admin URL {text}: {e}")))
}

/// `--admin-url`: an http or https URL.
fn parse_url(text: &str) -> Result<Url, Failure> {
    let url = Url::parse(text)
        .map_err(|e| Failure::Invalid(format!("--admin-url: '{text}' is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(Failure::Invalid(format!(
            "--admin-url: '{text}' must be an http:// or https:// URL, e.g. http://127.0.0.1:8060"
        ))),
    }
}

/// The data directory of `--store URL`.
fn store_dir(url: &str) -> Result<PathBuf, Failure> {
    match url.split_once(':') {
        Some(("sqlite", dir)) if !dir.is_empty() => {
            Ok(PathBuf::from(dir.strip_prefix("//").unwrap_or(dir)))
        }
        Some(("sqlite", _)) => Err(Failure::Invalid(format!(
            "--store: '{url}' names no directory; supported: {STORE_SCHEMES}"
        ))),
        Some((scheme, _)) => Err(Failure::Invalid(format!(
            "--store: the store '{scheme}:' is not supported; supported: {STORE_SCHEMES}"
        ))),
        None => Err(Failure::Invalid(format!(
            "--store: '{url}' has no scheme; supported: {STORE_SCHEMES}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn target(args: &[&str]) -> Result<Target, Failure> {
        let argv = std::iter::once("test").chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .server
            .target()
    }

    #[test]
    fn defaults_are_the_servers() {
        let t = target(&[]).expect("valid");
        assert_eq!(t.data_dir, PathBuf::from("./locus-data"));
        let api = t.api.expect("an API");
        assert_eq!(api.url.as_str(), "http://127.0.0.1:8060/");
        assert_eq!(api.token_file, PathBuf::from("./locus-data/admin-token"));
        assert_eq!(api.ca_cert, None);

        let t = target(&["--data-dir", "/srv/d"]).expect("valid");
        assert_eq!(
            t.api.expect("an API").token_file,
            PathBuf::from("/srv/d/admin-token")
        );
        let t = target(&["--store", "sqlite:/srv/s"]).expect("valid");
        assert_eq!(t.data_dir, PathBuf::from("/srv/s"));
        let t = target(&[
            "--store",
            "sqlite:///srv/s",
            "--admin-url",
            "https://[::1]:9/x/",
        ])
        .expect("valid");
        assert_eq!(t.data_dir, PathBuf::from("/srv/s"));
        assert_eq!(t.api.expect("an API").url.as_str(), "https://[::1]:9/x/");
    }

    #[test]
    fn the_config_file_gives_the_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("locus.toml");
        std::fs::write(
            &file,
            "data_dir = \"/var/lib/l\"\nadmin_listen = \"0.0.0.0:9000\"\n\
             admin_tls_cert = \"/c.pem\"\nadmin_tls_key = \"/k.pem\"\n",
        )
        .expect("write");
        let path = file.to_str().expect("utf-8");
        let t = target(&["--config", path]).expect("valid");
        assert_eq!(t.data_dir, PathBuf::from("/var/lib/l"));
        let api = t.api.expect("an API");
        assert_eq!(api.url.as_str(), "https://127.0.0.1:9000/");
        assert_eq!(api.token_file, PathBuf::from("/var/lib/l/admin-token"));
        assert_eq!(api.ca_cert, Some(PathBuf::from("/c.pem")));

        std::fs::write(&file, "admin_listen = \"off\"\n").expect("write");
        assert_eq!(target(&["--config", path]).expect("valid").api, None);

        std::fs::write(&file, "admin_listen = \"nowhere\"\n").expect("write");
        let Err(Failure::Invalid(e)) = target(&["--config", path]) else {
            panic!("a bad config is invalid input");
        };
        assert!(e.contains("admin_listen"), "{e}");
    }

    #[test]
    fn bad_urls_and_stores_name_their_flag() {
        for (args, words) in [
            (
                ["--admin-url", "ftp://127.0.0.1/"],
                ["--admin-url", "http://"],
            ),
            (["--admin-url", "not a url"], ["--admin-url", "not a URL"]),
            (
                ["--store", "redis://127.0.0.1"],
                ["'redis:' is not supported", "sqlite:DIR"],
            ),
            (["--store", "/var/lib/locus"], ["no scheme", "sqlite:DIR"]),
            (["--store", "sqlite:"], ["no directory", "sqlite:DIR"]),
        ] {
            let Err(Failure::Invalid(e)) = target(&args) else {
                panic!("{args:?} must be invalid");
            };
            for word in words {
                assert!(e.contains(word), "{args:?}: {e}");
            }
        }
    }
}
