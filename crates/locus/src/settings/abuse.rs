//! The `[abuse]` settings: brute-force and flood control.

use sip_core::abuse::{AbuseConfig, BlockAction};

use super::checks::{milliseconds, pick};
use super::error::ConfigError;
use super::setting::{declare, Choices, Fallback, Setting};
use super::sources::Sources;

declare! {
    /// The `[abuse]` settings, in the order of `--help` and the README.
    ABUSE;

    /// Failed authentications from one address that block it; 0: off.
    FAILURE_LIMIT: Setting<u32, u32> = Setting {
        flag: "--failure-limit",
        key: "abuse.failure_limit",
        value_name: "N",
        help: "Failed authentications from one address within --failure-window that block it; \
               0 disables",
        default: Fallback::Value(&["10"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Failed authentications for one user name that block every address
    /// failing for it; 0: off.
    USER_FAILURE_LIMIT: Setting<u32, u32> = Setting {
        flag: "--user-failure-limit",
        key: "abuse.user_failure_limit",
        value_name: "N",
        help: "Failed authentications for one user name within --failure-window after which \
               every address failing for it is blocked; 0 disables",
        default: Fallback::Value(&["20"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Sliding window of both failure counters, in milliseconds.
    FAILURE_WINDOW: Setting<u32, u64> = Setting {
        flag: "--failure-window",
        key: "abuse.failure_window",
        value_name: "SECS",
        help: "Sliding window of the failure counters, in seconds",
        default: Fallback::Value(&["60"]),
        choices: Choices::Any,
        check: milliseconds,
        reloadable: true,
        secret: false,
    };

    /// How long a blocked address stays blocked, in milliseconds.
    BLOCK_TIME: Setting<u32, u64> = Setting {
        flag: "--block-time",
        key: "abuse.block_time",
        value_name: "SECS",
        help: "How long a blocked address stays blocked, in seconds",
        default: Fallback::Value(&["600"]),
        choices: Choices::Any,
        check: milliseconds,
        reloadable: true,
        secret: false,
    };

    /// What a blocked address gets.
    BLOCK_ACTION: Setting<String, BlockAction> = Setting {
        flag: "--block-action",
        key: "abuse.block_action",
        value_name: "drop|403",
        help: "What a blocked address gets: drop (no answer) or 403",
        default: Fallback::Value(&["drop"]),
        choices: Choices::OneOfAnyCase(&["drop", "403"]),
        check: |text| {
            let text = text.to_ascii_lowercase();
            pick(&text, &[("drop", BlockAction::Drop), ("403", BlockAction::Forbidden)], false)
        },
        reloadable: true,
        secret: false,
    };

    /// Requests one address may send per rate window; 0: off.
    RATE_LIMIT: Setting<u32, u32> = Setting {
        flag: "--rate-limit",
        key: "abuse.rate_limit",
        value_name: "N",
        help: "Requests one address may send within --rate-window before the excess is dropped; \
               0 disables",
        default: Fallback::Value(&["500"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Window of the rate limit, in milliseconds.
    RATE_WINDOW: Setting<u32, u64> = Setting {
        flag: "--rate-window",
        key: "abuse.rate_window",
        value_name: "SECS",
        help: "Window of the rate limit, in seconds",
        default: Fallback::Value(&["2"]),
        choices: Choices::Any,
        check: milliseconds,
        reloadable: true,
        secret: false,
    };
}

/// The brute-force and flood limits (the rest of [`AbuseConfig`] as its
/// default).
pub fn resolve(sources: &Sources) -> Result<AbuseConfig, ConfigError> {
    Ok(AbuseConfig {
        source_failure_limit: FAILURE_LIMIT.value(sources)?,
        user_failure_limit: USER_FAILURE_LIMIT.value(sources)?,
        failure_window_ms: FAILURE_WINDOW.value(sources)?,
        block_ms: BLOCK_TIME.value(sources)?,
        block_action: BLOCK_ACTION.value(sources)?,
        rate_limit: RATE_LIMIT.value(sources)?,
        rate_window_ms: RATE_WINDOW.value(sources)?,
        ..AbuseConfig::default()
    })
}
