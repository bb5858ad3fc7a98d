//! The admin listener of `serve` (the `admin` crate): bound after the SIP
//! listeners, served with the running node, the accounts and the reload.

use super::reload::{Reloader, TlsReload};
use crate::settings::{Settings, AUDIT_LOG_NAME};
use location::SqliteUsers;
use location_model::UserStore;
use server::{Node, Reloaded, Shutdown};
use std::sync::Arc;

/// The admin listener, bound, with its token.
pub struct AdminApi {
    listener: admin::AdminListener,
    token: admin::Token,
}

impl AdminApi {
    /// Loads (or creates) the token and binds the listener of `settings`;
    /// `None` with `--admin-listen off`. The error names the flag.
    pub async fn bind(settings: &Settings) -> Result<Option<AdminApi>, String> {
        let a = &settings.admin;
        let Some(listen) = a.listen else {
            return Ok(None);
        };
        let token = admin::load_or_create_token(&a.token_file)
            .map_err(|e| format!("--admin-token-file / admin_token_file: {e}"))?;
        let config = admin::AdminConfig {
            listen,
            token_file: a.token_file.clone(),
            tls: a.tls.as_ref().map(|t| admin::TlsFiles {
                cert: t.cert.clone(),
                key: t.key.clone(),
            }),
            insecure: a.insecure,
            audit_log: settings.data_dir.join(AUDIT_LOG_NAME),
        };
        let listener = admin::bind(&config)
            .await
            .map_err(|e| format!("--admin-listen / admin_listen {listen}: {e}"))?;
        Ok(Some(AdminApi { listener, token }))
    }

    /// The URL of the API, as the banner shows it.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            self.listener.scheme(),
            self.listener.local_addr()
        )
    }

    /// What re-reads the certificate and key on a reload, when serving
    /// HTTPS.
    pub fn tls_reload(&self) -> Option<TlsReload> {
        let tls = self.listener.tls_reloader()?;
        Some(Box::new(move || tls.reload()))
    }

    /// Serves the API until `shutdown`, acting on `node` and the accounts
    /// of the data directory, reloading with `reloader`.
    pub fn serve(
        self,
        settings: &Settings,
        node: Node,
        reloader: Arc<Reloader>,
        shutdown: Shutdown,
    ) {
        let users: Option<Arc<dyn UserStore>> = match SqliteUsers::open(&settings.data_dir) {
            Ok(users) => Some(Arc::new(users)),
            Err(e) => {
                tracing::error!(error = %e, "admin API: cannot open the account database");
                None
            }
        };
        let realm = reloader.clone();
        let context = admin::AdminContext {
            node,
            users,
            realm_for: Arc::new(move |domain: &str| realm.realm_for(domain)),
            reload: Arc::new(ApiReload(reloader)),
            version: env!("CARGO_PKG_VERSION"),
        };
        tokio::spawn(self.listener.serve(self.token, context, shutdown));
    }
}

/// `POST /api/v1/reload`: the same reload as SIGHUP.
struct ApiReload(Arc<Reloader>);

impl admin::Reload for ApiReload {
    fn reload(&self) -> Result<Reloaded, String> {
        self.0.reload()
    }
}
