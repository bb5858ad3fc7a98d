//! The binding record: one contact registered for one address-of-record.

/// One binding of an AOR to a contact (RFC 3261 §10.3).
///
/// This is the unit the location service stores and returns from lookups,
/// and on which the registrar decides. It carries everything needed
/// to route to the contact later (received address, transport, local socket,
/// Path) and to apply the registrar's refresh rules (Call-ID, CSeq, instance,
/// reg-id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Canonical AOR, e.g. `sip:alice@example.com`; the key of the table.
    pub aor: String,
    /// Contact URI as registered (addr-spec text without `<>`), e.g.
    /// `sip:alice@192.0.2.4:5062;transport=tcp`. Unique within an AOR.
    pub contact: String,
    /// q-value in thousandths, 0..=1000 (1000 = q absent / 1.0).
    pub q: u16,
    /// Absolute expiry, Unix epoch milliseconds. The binding is live while
    /// `expires_at_ms > now_ms`.
    pub expires_at_ms: u64,
    /// Call-ID of the REGISTER that created or last refreshed the binding.
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// Source `ip:port` the REGISTER came from (`[v6]:port` for IPv6).
    pub received: Option<String>,
    /// Transport the REGISTER arrived on: `udp`, `tcp`, later `tls`, `ws`, `wss`.
    pub transport: String,
    /// Local socket `ip:port` the REGISTER arrived on.
    pub local: Option<String>,
    /// User-Agent header of the REGISTER, if any.
    pub user_agent: Option<String>,
    /// Path header values (RFC 3327), in order.
    pub path: Vec<String>,
    /// `+sip.instance` Contact parameter value (RFC 5626).
    pub instance: Option<String>,
    /// `reg-id` Contact parameter value (RFC 5626).
    pub reg_id: Option<u32>,
    /// RFC 2543 `action` Contact parameter: how requests for the AOR are
    /// routed to this contact (`None` when the REGISTER did not say).
    pub action: Option<ContactAction>,
    /// When the binding was last written, Unix epoch milliseconds.
    pub updated_at_ms: u64,
}

/// The RFC 2543 `action` Contact parameter (§6.13): whether requests for
/// the AOR are proxied to the contact or redirected to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactAction {
    /// `action=proxy`: forward requests to the contact.
    Proxy,
    /// `action=redirect`: answer with 3xx listing the contact.
    Redirect,
}

impl ContactAction {
    /// The parameter value as written in a Contact and stored on disk.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContactAction::Proxy => "proxy",
            ContactAction::Redirect => "redirect",
        }
    }

    /// Parses a parameter value (case-insensitive); `None` for anything
    /// other than `proxy` or `redirect`.
    pub fn parse(value: &str) -> Option<ContactAction> {
        if value.eq_ignore_ascii_case("proxy") {
            Some(ContactAction::Proxy)
        } else if value.eq_ignore_ascii_case("redirect") {
            Some(ContactAction::Redirect)
        } else {
            None
        }
    }
}
