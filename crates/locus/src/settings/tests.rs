//! The merging and checking of the `serve` settings, from flags and files.

use std::io::Write;
use std::net::Ipv4Addr;

use clap::{Args, Command, FromArgMatches};
use sip_core::abuse::BlockAction;
use sip_core::digest::Algorithm;

use super::admin::TlsPaths;
use super::routing::{Forking, MulticastSettings};
use super::*;
use crate::logging::LogFormat;

fn serve_args(flags: &[&str]) -> ServeArgs {
    let argv = ["serve"].iter().chain(flags).copied();
    let matches = ServeArgs::augment_args(Command::new("serve"))
        .try_get_matches_from(argv)
        .expect("flags parse");
    ServeArgs::from_arg_matches(&matches).expect("serve args")
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

fn resolve_with(text: &str, flags: &[&str]) -> Result<Settings, ConfigError> {
    let file = config_file(text);
    let path = file.path().to_str().expect("utf-8 temp path");
    let mut all = vec!["--config", path];
    all.extend_from_slice(flags);
    resolve(&serve_args(&all))
}

fn error_text(text: &str, flags: &[&str]) -> String {
    resolve_with(text, flags)
        .expect_err("must be rejected")
        .to_string()
}

fn spec(s: &str) -> ListenSpec {
    s.parse().expect("valid spec")
}

/// The routing settings when nothing is configured.
fn default_routing() -> RoutingSettings {
    RoutingSettings {
        mode: Mode::Proxy,
        domain_modes: Vec::new(),
        forking: Forking::ByQ,
        branch_timeout: Duration::from_secs(180),
        record_route: true,
        relay: false,
        relay_denied_status: 403,
        multicast: None,
    }
}

#[test]
fn defaults_without_config() {
    let settings = resolve(&serve_args(&[])).expect("defaults are valid");
    assert_eq!(
        settings,
        Settings {
            listen: vec![spec("udp:127.0.0.1:5060"), spec("tcp:127.0.0.1:5060")],
            domains: vec![],
            data_dir: PathBuf::from("./locus-data"),
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86400,
            max_contacts: 10,
            tcp_idle_timeout: Duration::from_secs(300),
            commit_window: Duration::from_micros(1000),
            log_level: "info".to_owned(),
            log_format: LogFormat::Text,
            routing: default_routing(),
            auth: settings.auth.clone(),
            abuse: settings.abuse.clone(),
            admin: AdminSettings {
                listen: Some("127.0.0.1:8060".parse().expect("address")),
                token_file: PathBuf::from("./locus-data/admin-token"),
                tls: None,
                insecure: false,
            },
        }
    );
}

#[test]
fn file_overrides_defaults_and_flags_override_file() {
    let text = r#"
        listen = ["udp:0.0.0.0:5070", "tcp:[::1]:5070"]
        domains = ["Example.COM", "10.0.0.1"]
        data_dir = "/var/lib/locus"
        default_expires = 1800
        min_expires = 30
        max_expires = 7200
        max_contacts = 5
        tcp_idle_timeout = 60
        log_level = "debug"
    "#;
    let from_file = resolve_with(text, &[]).expect("valid file");
    assert_eq!(
        from_file.listen,
        vec![spec("udp:0.0.0.0:5070"), spec("tcp:[::1]:5070")]
    );
    assert_eq!(from_file.domains, ["example.com", "10.0.0.1"]);
    assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/locus"));
    assert_eq!(
        (
            from_file.min_expires,
            from_file.default_expires,
            from_file.max_expires
        ),
        (30, 1800, 7200)
    );
    assert_eq!(from_file.max_contacts, 5);
    assert_eq!(from_file.tcp_idle_timeout, Duration::from_secs(60));
    assert_eq!(from_file.log_level, "debug");

    let flags = [
        "--listen",
        "tcp:127.0.0.2:6000",
        "--domain",
        "b.example",
        "--data-dir",
        "/tmp/x",
        "--default-expires",
        "100",
        "--min-expires",
        "10",
        "--max-expires",
        "200",
        "--max-contacts",
        "2",
        "--tcp-idle-timeout",
        "9",
        "--log-level",
        "TRACE",
    ];
    let merged = resolve_with(text, &flags).expect("valid merge");
    assert_eq!(
        merged,
        Settings {
            listen: vec![spec("tcp:127.0.0.2:6000")],
            domains: vec!["b.example".to_owned()],
            data_dir: PathBuf::from("/tmp/x"),
            default_expires: 100,
            min_expires: 10,
            max_expires: 200,
            max_contacts: 2,
            tcp_idle_timeout: Duration::from_secs(9),
            commit_window: Duration::from_micros(1000),
            log_level: "trace".to_owned(),
            log_format: LogFormat::Text,
            routing: default_routing(),
            auth: merged.auth.clone(),
            abuse: merged.abuse.clone(),
            admin: AdminSettings {
                token_file: PathBuf::from("/tmp/x/admin-token"),
                ..merged.admin.clone()
            },
        }
    );
}

#[test]
fn partial_file_keeps_other_defaults() {
    let settings = resolve_with(
        "max_contacts = 3\n[auth]\nrealm = \"corp\"\n[abuse]\nblock_time = 5\n",
        &["--min-expires", "5"],
    )
    .expect("valid");
    assert_eq!(settings.auth.realm.as_deref(), Some("corp"));
    assert_eq!(settings.abuse.block_ms, 5000);
    assert_eq!(settings.max_contacts, 3);
    assert_eq!(settings.min_expires, 5);
    assert_eq!(settings.default_expires, 3600);
    assert_eq!(settings.listen.len(), 2);
}

#[test]
fn unknown_key_names_key_line_and_path() {
    let file = config_file("max_contacts = 3\nlisen = [\"udp:1.2.3.4:5060\"]\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let err = resolve(&serve_args(&["--config", path])).expect_err("unknown key");
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Parse { .. }));
    assert!(text.contains("lisen"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains(path), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[test]
fn wrongly_typed_or_out_of_range_values_show_their_line() {
    let text = error_text("max_contacts = \"ten\"\n", &[]);
    assert!(text.contains("max_contacts"), "{text}");
    let text = error_text("max_expires = 5000000000\n", &[]);
    assert!(text.contains("max_expires"), "{text}");
    let text = error_text("min_expires = -1\n", &[]);
    assert!(text.contains("min_expires"), "{text}");
    let text = error_text(
        "listen = [\n  \"udp:1.2.3.4:5060\",\n  \"udp:nohost\",\n]\n",
        &[],
    );
    assert!(text.contains("got 'udp:nohost'"), "{text}");
    assert!(text.contains("udp:IP:PORT"), "{text}");
    let text = error_text("listen = \n", &[]);
    assert!(!text.contains('\n'), "{text}");
}

#[test]
fn missing_config_file_is_a_read_error() {
    let args = serve_args(&["--config", "/nonexistent/locus.toml"]);
    let err = resolve(&args).expect_err("missing file");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/locus.toml"));
}

#[test]
fn expires_ordering_is_enforced() {
    let text = error_text("", &["--min-expires", "100", "--max-expires", "50"]);
    assert!(text.contains("--min-expires / min_expires"), "{text}");
    assert!(text.contains("max_expires (50)"), "{text}");

    let text = error_text("min_expires = 0\n", &[]);
    assert!(text.contains("min_expires: must be at least 1"), "{text}");

    let text = error_text("", &["--default-expires", "30"]);
    assert!(
        text.contains("default_expires: must be ≥ min_expires (60)"),
        "{text}"
    );

    let text = error_text("max_expires = 1000\n", &[]);
    assert!(
        text.contains("default_expires: must be ≤ max_expires (1000)"),
        "{text}"
    );
}

#[test]
fn zero_counts_are_rejected() {
    let text = error_text("", &["--max-contacts", "0"]);
    assert!(text.starts_with("--max-contacts / max_contacts:"), "{text}");
    let text = error_text("tcp_idle_timeout = 0\n", &[]);
    assert!(
        text.starts_with("--tcp-idle-timeout / tcp_idle_timeout:"),
        "{text}"
    );
}

#[test]
fn listen_must_be_non_empty_and_unique() {
    let text = error_text("listen = []\n", &[]);
    assert!(text.starts_with("--listen / listen:"), "{text}");
    let flags = [
        "--listen",
        "udp:[::1]:5060",
        "--listen",
        "UDP:[0:0::1]:5060",
    ];
    let text = error_text("", &flags);
    assert!(text.contains("udp:[::1]:5060 is listed twice"), "{text}");
    let same_addr = ["--listen", "udp:[::1]:5060", "--listen", "tcp:[::1]:5060"];
    assert!(resolve_with("", &same_addr).is_ok());
}

#[test]
fn domains_are_validated_normalized_and_deduplicated() {
    let flags = [
        "--domain",
        "Example.COM",
        "--domain",
        "example.com",
        "--domain",
        "sip-1.example.org",
        "--domain",
        "192.0.2.1",
        "--domain",
        "[2001:DB8:0::1]",
        "--domain",
        "::1",
        "--domain",
        "localhost",
    ];
    let settings = resolve_with("", &flags).expect("valid domains");
    assert_eq!(
        settings.domains,
        [
            "example.com",
            "sip-1.example.org",
            "192.0.2.1",
            "[2001:db8::1]",
            "[::1]",
            "localhost"
        ]
    );
    for bad in [
        "",
        "exa mple.com",
        "under_score.com",
        "-lead.com",
        "trail-.com",
        "dot.",
        ".dot",
        "a..b",
        "999.1.1.1",
        "[1.2.3.4]",
        "sip:example.com",
    ] {
        let text = error_text("", &[&format!("--domain={bad}")]);
        assert!(text.starts_with("--domain / domains:"), "{bad}: {text}");
    }
    let long_label = "a".repeat(64);
    assert!(resolve_with("", &["--domain", &long_label]).is_err());
}

#[test]
fn routing_settings_from_file_and_flags() {
    let text = r#"
        mode = "redirect"
        forking = "sequential"
        branch_timeout = 30
        record_route = false
        relay = true
        relay_denied_status = 404
        multicast = true
        multicast_register = "process"
        multicast_reply = "group"
        multicast_interface = "127.0.0.1"
        [domain_modes]
        "Example.COM" = "proxy"
    "#;
    let r = resolve_with(text, &[]).expect("valid").routing;
    assert_eq!(r.mode, Mode::Redirect);
    assert_eq!(r.domain_modes, [("example.com".to_owned(), Mode::Proxy)]);
    assert_eq!(r.forking, Forking::Sequential);
    assert_eq!(r.branch_timeout, Duration::from_secs(30));
    assert!(!r.record_route && r.relay);
    assert_eq!(r.relay_denied_status, 404);
    assert_eq!(
        r.multicast,
        Some(MulticastSettings {
            process_register: true,
            reply_to_group: true,
            interface: Ipv4Addr::LOCALHOST,
        })
    );
    let flags = [
        "--mode",
        "proxy",
        "--domain-mode",
        "b.example=redirect",
        "--forking",
        "parallel",
    ];
    let r = resolve_with(text, &flags).expect("valid").routing;
    assert_eq!(r.mode, Mode::Proxy);
    assert_eq!(r.domain_modes, [("b.example".to_owned(), Mode::Redirect)]);
    assert_eq!(r.forking, Forking::Parallel);
}

#[test]
fn bad_routing_values_name_their_key() {
    let text = error_text("mode = \"bounce\"\n", &[]);
    assert!(text.starts_with("--mode / mode:"), "{text}");
    let text = error_text("relay_denied_status = 500\n", &[]);
    assert!(
        text.starts_with("--relay-denied-status / relay_denied_status:"),
        "{text}"
    );
    let text = error_text("", &["--domain-mode", "example.com"]);
    assert!(text.starts_with("--domain-mode / domain_modes:"), "{text}");
    let text = error_text("[domain_modes]\n\"example.com\" = \"forward\"\n", &[]);
    assert!(text.starts_with("--domain-mode / domain_modes:"), "{text}");
    let text = error_text("branch_timeout = 0\n", &[]);
    assert!(
        text.starts_with("--branch-timeout / branch_timeout:"),
        "{text}"
    );
    let text = error_text("forking = \"random\"\n", &[]);
    assert!(text.starts_with("--forking / forking:"), "{text}");
}

#[test]
fn log_level_from_file_is_validated() {
    let settings = resolve_with("log_level = \"WARN\"\n", &[]).expect("valid");
    assert_eq!(settings.log_level, "warn");
    let text = error_text("log_level = \"verbose\"\n", &[]);
    assert!(text.starts_with("--log-level / log_level:"), "{text}");
    assert!(text.contains("error, warn, info, debug, trace"), "{text}");
}

#[test]
fn settings_display_is_one_line() {
    let text = resolve(&serve_args(&[])).expect("defaults").to_string();
    assert_eq!(
        text,
        "listen=udp:127.0.0.1:5060,tcp:127.0.0.1:5060 domains=* data_dir=./locus-data \
         expires(min/default/max)=60/3600/86400 max_contacts=10 tcp_idle_timeout=300s \
         log_level=info"
    );
}

#[test]
fn auth_and_abuse_defaults() {
    let settings = resolve(&serve_args(&[])).expect("defaults");
    let a = settings.auth;
    assert_eq!(a.enabled, None);
    assert_eq!(a.algorithms, vec![Algorithm::Md5]);
    assert_eq!(a.nonce_lifetime, 300);
    let b = settings.abuse;
    assert_eq!(b.source_failure_limit, 10);
    assert_eq!(b.block_ms, 600 * 1000);
    assert_eq!(b.block_action, BlockAction::Drop);
    assert_eq!(b.rate_limit, 500);
}

#[test]
fn auth_and_abuse_from_flags_and_file() {
    let text = "[auth]\nmode = \"off\"\nalgorithms = [\"md5\", \"SHA-256\"]\n\
                third_party = [\"pbx@example.com=*@example.com\"]\n";
    let a = resolve_with(text, &["--realm", "corp"])
        .expect("valid")
        .auth;
    assert_eq!(a.enabled, Some(false));
    assert_eq!(a.algorithms, vec![Algorithm::Sha256, Algorithm::Md5]);
    assert_eq!(a.realm.as_deref(), Some("corp"));
    assert_eq!(a.grants.len(), 1);
    let flags = ["--auth", "ON", "--auth-algorithms", "MD5"];
    let a = resolve(&serve_args(&flags)).expect("valid").auth;
    assert_eq!(a.enabled, Some(true));
    assert_eq!(a.algorithms, vec![Algorithm::Md5]);
    let text = "[abuse]\nblock_action = \"403\"\nrate_limit = 0\n";
    let b = resolve_with(text, &["--failure-limit", "3"])
        .expect("valid")
        .abuse;
    assert_eq!(b.block_action, BlockAction::Forbidden);
    assert_eq!(b.rate_limit, 0);
    assert_eq!(b.source_failure_limit, 3);
}

#[test]
fn auth_and_abuse_errors_name_flag_and_key() {
    let e = error_text("", &["--auth-algorithms", "SHA-1"]);
    assert!(
        e.contains("--auth-algorithms / auth.algorithms") && e.contains("SHA-1"),
        "{e}"
    );
    let e = error_text("", &["--nonce-lifetime", "0"]);
    assert!(e.contains("auth.nonce_lifetime"), "{e}");
    let e = error_text("", &["--allow-third-party", "x"]);
    assert!(e.contains("--allow-third-party"), "{e}");
    let e = error_text("[auth]\nmode = \"maybe\"\n", &[]);
    assert!(e.contains("auth.mode"), "{e}");
    let e = error_text("", &["--rate-window", "0"]);
    assert!(e.contains("abuse.rate_window"), "{e}");
    let e = error_text("[abuse]\nrate = 1\n", &[]);
    assert!(e.contains("line 2") && e.contains("`rate`"), "{e}");
}

#[test]
fn table_keys_may_be_dotted_at_the_top_level() {
    let settings =
        resolve_with("auth.realm = \"corp\"\nabuse.block_time = 7\n", &[]).expect("valid");
    assert_eq!(settings.auth.realm.as_deref(), Some("corp"));
    assert_eq!(settings.abuse.block_ms, 7000);
    let text = error_text("auth.relam = \"corp\"\n", &[]);
    assert!(
        text.contains("line 1") && text.contains("`relam`"),
        "{text}"
    );
}

#[test]
fn a_switch_flag_turns_on_what_the_file_leaves_off() {
    let r = resolve_with("relay = false\n", &["--relay", "--multicast"])
        .expect("valid")
        .routing;
    assert!(r.relay && r.multicast.is_some());
    let r = resolve_with("relay = true\n", &[]).expect("valid").routing;
    assert!(r.relay && r.multicast.is_none());
    let a = resolve_with("[auth]\nenumeration_protection = true\n", &[])
        .expect("valid")
        .auth;
    assert!(a.enumeration_protection);
}

#[test]
fn a_domain_mode_key_with_an_equals_sign_is_a_bad_domain() {
    let text = error_text("[domain_modes]\n\"a=b\" = \"proxy\"\n", &[]);
    assert_eq!(
        text,
        "--domain-mode / domain_modes: 'a=b' is not a valid hostname or IP address"
    );
}

#[test]
fn datetimes_and_tables_of_the_wrong_kind_are_refused() {
    let text = error_text("data_dir = 1979-05-27\n", &[]);
    assert!(
        text.contains("line 1") && text.contains("datetime"),
        "{text}"
    );
    let text = error_text("auth = 5\n", &[]);
    assert!(
        text.contains("`auth = 5`") && text.contains("a table of settings"),
        "{text}"
    );
    let text = error_text("[listen]\nudp = 1\n", &[]);
    assert!(text.contains("line 1"), "{text}");
}

#[test]
fn log_format_is_text_or_json() {
    let settings = resolve_with("log_format = \"json\"\n", &[]).expect("valid");
    assert_eq!(settings.log_format, LogFormat::Json);
    let settings =
        resolve_with("log_format = \"json\"\n", &["--log-format", "text"]).expect("valid");
    assert_eq!(settings.log_format, LogFormat::Text);
    let text = error_text("log_format = \"xml\"\n", &[]);
    assert!(text.starts_with("--log-format / log_format:"), "{text}");
    assert!(text.contains("text or json"), "{text}");
}

#[test]
fn admin_settings_from_file_and_flags() {
    let text = "admin_listen = \"[::1]:9000\"\nadmin_token_file = \"/etc/locus/token\"\n\
                admin_tls_cert = \"/etc/locus/cert.pem\"\nadmin_tls_key = \"/etc/locus/key.pem\"\n";
    let admin = resolve_with(text, &[]).expect("valid").admin;
    assert_eq!(admin.listen, Some("[::1]:9000".parse().expect("address")));
    assert_eq!(admin.token_file, PathBuf::from("/etc/locus/token"));
    assert_eq!(
        admin.tls,
        Some(TlsPaths {
            cert: PathBuf::from("/etc/locus/cert.pem"),
            key: PathBuf::from("/etc/locus/key.pem"),
        })
    );
    assert!(!admin.insecure);

    let admin = resolve_with(text, &["--admin-listen", "OFF"])
        .expect("valid")
        .admin;
    assert_eq!(admin.listen, None);
    let admin = resolve(&serve_args(&["--data-dir", "/srv/l"]))
        .expect("valid")
        .admin;
    assert_eq!(admin.token_file, PathBuf::from("/srv/l/admin-token"));

    // A public address needs TLS or --admin-insecure.
    let flags = ["--admin-listen", "0.0.0.0:8060", "--admin-insecure"];
    let admin = resolve(&serve_args(&flags)).expect("valid").admin;
    assert!(admin.insecure);
    let text = error_text("admin_listen = \"0.0.0.0:8060\"\n", &[]);
    assert!(text.starts_with("--admin-listen / admin_listen:"), "{text}");
    assert!(
        text.contains("--admin-tls-cert") && text.contains("--admin-insecure"),
        "{text}"
    );
    let public_tls =
        "admin_listen = \"0.0.0.0:8060\"\nadmin_tls_cert = \"c\"\nadmin_tls_key = \"k\"\n";
    assert!(resolve_with(public_tls, &[]).is_ok());
}

#[test]
fn admin_errors_name_flag_and_key() {
    let text = error_text("", &["--admin-listen", "localhost:8060"]);
    assert!(text.starts_with("--admin-listen / admin_listen:"), "{text}");
    assert!(text.contains("IP:PORT") && text.contains("off"), "{text}");
    let text = error_text("admin_listen = 8060\n", &[]);
    assert!(text.contains("admin_listen"), "{text}");
    let text = error_text("", &["--admin-tls-cert", "/c.pem"]);
    assert_eq!(
        text,
        "--admin-tls-key / admin_tls_key: is required with --admin-tls-cert"
    );
    let text = error_text("admin_tls_key = \"/k.pem\"\n", &[]);
    assert_eq!(
        text,
        "--admin-tls-cert / admin_tls_cert: is required with --admin-tls-key"
    );
    let text = error_text("admin_insecure = \"yes\"\n", &[]);
    assert!(text.contains("admin_insecure"), "{text}");
}

#[test]
fn check_config_reads_its_file() {
    let file = config_file("max_contacts = 4\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let args = serve_args(&["--check-config", path, "--min-expires", "5"]);
    assert_eq!(args.check_config(), Some(file.path()));
    let settings = resolve(&args).expect("valid");
    assert_eq!((settings.max_contacts, settings.min_expires), (4, 5));
    let argv = ["serve", "--check-config", path, "--config", path];
    assert!(ServeArgs::augment_args(Command::new("serve"))
        .try_get_matches_from(argv)
        .is_err());
}
