//! RFC 4475 and RFC 5118 torture messages against the parser.
//!
//! One test per message, named after its file (`rfc4475_wsinv` for
//! `tests/torture/rfc4475/wsinv.sip`), asserting what
//! `tests/torture/EXPECTATIONS.md` says about it. At the end,
//! `every_torture_file_has_a_test` reads `expectations.tsv` and the corpus
//! directories and fails if a message has no test here, then re-checks every
//! row generically (facts of `valid` / semantic-error rows, defect of
//! `invalid-syntax` rows) so the TSV and the explicit tests cannot drift.
//!
//! Defect words of the TSV map to our `ParseError` variants as follows
//! (see `defect_variant`):
//!
//! | TSV defect                 | `ParseError`        | raised by                          |
//! |----------------------------|---------------------|------------------------------------|
//! | `extraneous_separator`     | `BadVia`            | `Via::parse` (and `BadParameter` from the Contact) |
//! | `content_length_mismatch`  | `BodyTruncated`     | `Message::parse` (datagram)        |
//! | `bad_content_length`       | `BadContentLength`  | `Message::parse`, `StreamFramer`   |
//! | `duplicate_content_length` | `BadContentLength`  | `Message::parse`, `StreamFramer`   |
//! | `bad_cseq`                 | `BadCSeq`           | `CSeq::parse`                      |
//! | `unterminated_quote`       | `UnterminatedQuote` | `NameAddr::parse`                  |
//! | `bad_uri`                  | `BadUri`            | `Uri::parse` of the Request-URI    |
//! | `bad_request_line`         | `BadStartLine`      | `Message::parse`                   |
//! | `bad_status_line`          | `BadStatusCode`     | `Message::parse`                   |
//! | `bad_date`                 | none: see `rfc4475_baddate` |                            |
//! | `unbracketed_uri`          | `BadNameAddr`       | `NameAddr::parse` of the Contact   |
//! | `bad_name_addr`            | `BadNameAddr`       | `NameAddr::parse` of To            |
//! | `bad_display_name`         | `BadNameAddr`       | `NameAddr::parse` of To/From       |
//! | `duplicate_singleton`      | `DuplicateHeader`   | `Message::single_header`           |
//! | `bad_ipv6_reference`       | `BadHost`           | `Uri::parse` of the Request-URI    |

use bytes::Bytes;
use sip_message::headers::{
    option_tags, parse_contacts, parse_delta_seconds, parse_qvalue, split_list, CSeq, ContactList,
    Via,
};
use sip_message::uri::unescape;
use sip_message::{
    Frame, HeaderName, Host, Limits, Message, Method, NameAddr, ParseError, SipUri, StreamFramer,
    Uri,
};
use std::net::{Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const TORTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/torture");

/// The bytes of `tests/torture/<file>.sip` (`file` like `rfc4475/wsinv`).
fn raw(file: &str) -> Vec<u8> {
    let path = format!("{TORTURE_DIR}/{file}.sip");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_bytes(bytes: Vec<u8>) -> Result<Message, ParseError> {
    Message::parse(Bytes::from(bytes), &Limits::default())
}

/// The message, which must parse as a datagram.
fn msg(file: &str) -> Message {
    parse_bytes(raw(file)).unwrap_or_else(|e| panic!("{file} must parse, got {e:?}"))
}

/// The error of a datagram parse that must fail.
fn parse_err(file: &str) -> ParseError {
    match parse_bytes(raw(file)) {
        Ok(_) => panic!("{file} must not parse"),
        Err(e) => e,
    }
}

/// What the stream framer makes of the whole file pushed at once.
fn frame_whole(file: &str) -> (StreamFramer, Result<Option<Frame>, ParseError>) {
    let mut f = StreamFramer::new(Limits::default());
    f.push(&raw(file));
    let r = f.next_frame();
    (f, r)
}

fn sip(text: &str) -> SipUri<'_> {
    match Uri::parse(text) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{text:?} must be a SIP URI, got {other:?}"),
    }
}

fn na(m: &Message, h: HeaderName) -> NameAddr<'_> {
    let v = m.header(h).unwrap_or_else(|| panic!("no {h:?} header"));
    NameAddr::parse(v).unwrap_or_else(|e| panic!("{h:?} {v:?}: {e:?}"))
}

fn vias(m: &Message) -> Vec<Via<'_>> {
    m.header_values(HeaderName::Via)
        .map(|v| Via::parse(v).unwrap_or_else(|e| panic!("Via {v:?}: {e:?}")))
        .collect()
}

fn cseq(m: &Message) -> CSeq<'_> {
    CSeq::parse(m.header(HeaderName::CSeq).expect("CSeq")).expect("CSeq parses")
}

fn contacts(m: &Message) -> Vec<NameAddr<'_>> {
    match parse_contacts(m.header_values(HeaderName::Contact)).expect("contacts parse") {
        ContactList::List(l) => l,
        ContactList::None => Vec::new(),
        ContactList::Star { .. } => panic!("unexpected Contact: *"),
    }
}

fn max_forwards(m: &Message) -> Option<u32> {
    m.header(HeaderName::MaxForwards)
        .and_then(parse_delta_seconds)
}

/// Collapses every run of linear white space (folding included) to one SP.
fn unfold(s: &str) -> String {
    s.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The facts every `valid` / semantic-error row of the TSV lists.
struct Basics<'a> {
    /// Method as written ("" for a response).
    method: &'a str,
    /// Request-URI as written ("" for a response).
    ruri: &'a str,
    via_count: usize,
    call_id: Option<&'a str>,
    cseq: u32,
    cseq_method: &'a str,
    body_len: usize,
    contact_count: usize,
}

impl Basics<'_> {
    fn check(&self, m: &Message) {
        assert_eq!(m.method_str(), self.method, "method");
        assert_eq!(
            m.is_request(),
            !self.method.is_empty(),
            "request or response"
        );
        assert_eq!(m.request_uri(), self.ruri, "Request-URI");
        assert_eq!(
            m.header_values(HeaderName::Via).count(),
            self.via_count,
            "Via count"
        );
        assert_eq!(m.header(HeaderName::CallId), self.call_id, "Call-ID");
        let c = cseq(m);
        assert_eq!((c.seq, c.method), (self.cseq, self.cseq_method), "CSeq");
        assert_eq!(m.body().len(), self.body_len, "body length");
        assert_eq!(contacts(m).len(), self.contact_count, "Contact count");
    }
}

// ---------------------------------------------------------------------------
// RFC 4475 §3.1.1: valid messages
// ---------------------------------------------------------------------------

#[test]
fn rfc4475_wsinv() {
    let m = msg("rfc4475/wsinv");
    Basics {
        method: "INVITE",
        ruri: "sip:vivekg@chair-dnrc.example.com;unknownparam",
        via_count: 3,
        call_id: Some("wsinv.ndaksdj@192.0.2.1"),
        cseq: 9,
        cseq_method: "INVITE",
        body_len: 150,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(m.method(), Some(Method::Invite));
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.params.get("unknownparam"), Some(None));
    assert_eq!(max_forwards(&m), Some(68));
    assert_eq!(na(&m, HeaderName::To).tag(), Some("1918181833n"));
    let from = na(&m, HeaderName::From);
    assert_eq!(from.display_name().unwrap(), "J Rosenberg \\\"");
    assert_eq!(from.tag(), Some("98asjd8"));
    let v = vias(&m);
    let got: Vec<_> = v
        .iter()
        .map(|v| (v.transport, v.host_str, v.branch()))
        .collect();
    assert_eq!(
        got,
        [
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    assert_eq!(
        m.header(HeaderName::Subject),
        Some(""),
        "`s :` is an empty Subject"
    );
    let routes: Vec<_> = m.header_values(HeaderName::Route).collect();
    assert_eq!(routes.len(), 1);
    let route = NameAddr::parse(routes[0]).unwrap();
    let route_uri = sip(route.uri);
    assert_eq!(route_uri.params.get("lr"), Some(None));
    assert_eq!(route_uri.params.get("unknownwith"), Some(Some("value")));
    assert_eq!(route_uri.params.get("unknown-no-value"), Some(None));
    let c = &contacts(&m)[0];
    assert_eq!(c.display_name().unwrap(), "Quoted string \"\"");
    assert_eq!(c.params.get("newparam"), Some(Some("newvalue")));
    assert_eq!(c.params.get("secondparam"), Some(None));
    assert_eq!(
        c.params.get("q").flatten().and_then(parse_qvalue),
        Some(330)
    );
    let unusual: Vec<_> = m.headers_named("UnknownHeaderWithUnusualValue").collect();
    assert_eq!(unusual, [";;,,;;,;"]);
    let fangled: Vec<_> = m.headers_named("NewFangledHeader").map(unfold).collect();
    assert_eq!(fangled, ["newfangled value continued newfangled value"]);
    assert_eq!(m.header(HeaderName::ContentType), Some("application/sdp"));
}

#[test]
fn rfc4475_intmeth() {
    let m = msg("rfc4475/intmeth");
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    Basics {
        method,
        ruri: "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        via_count: 1,
        call_id: Some("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"),
        cseq: 139122385,
        cseq_method: method,
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    // An extension method: `%` is not an escape in a method.
    assert_eq!(m.method(), Some(Method::Other));
    let ruri = sip(m.request_uri());
    assert_eq!(
        ruri.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host, Host::Name("example.com"));
    // Quoted-pairs of BEL, NUL and DEL; the NUL does not truncate the name.
    let to = na(&m, HeaderName::To);
    assert_eq!(to.display_name().unwrap(), "BEL:\u{7} NUL:\0 DEL:\u{7f}");
    let from = na(&m, HeaderName::From);
    assert_eq!(
        from.display_name().unwrap(),
        "token1~` token2'+_ token3*%!.-"
    );
    let param = from.params.get("fromParam''~+*_!.-%").flatten().unwrap();
    assert_eq!(sip_message::params::unquote(param).unwrap(), "работающий");
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(vias(&m)[0].branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(max_forwards(&m), Some(255));
    let ext: Vec<_> = m.headers_named("extensionHeader-!.%*+_`'~").collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(
        ext[0].as_bytes(),
        [0xEF, 0xBB, 0xBF, 0xE5, 0xA4, 0xA7, 0xE5, 0x81, 0x9C, 0xE9, 0x9B, 0xBB]
    );
}

#[test]
fn rfc4475_esc01() {
    let m = msg("rfc4475/esc01");
    Basics {
        method: "INVITE",
        ruri: "sip:sips%3Auser%40example.com@example.net",
        via_count: 1,
        call_id: Some("esc01.239409asdfakjkn23onasd0-3234"),
        cseq: 234234,
        cseq_method: "INVITE",
        body_len: 150,
        contact_count: 1,
    }
    .check(&m);
    let ruri = sip(m.request_uri());
    assert_eq!(
        unescape(ruri.user.unwrap()).unwrap(),
        "sips:user@example.com"
    );
    assert_eq!(ruri.host, Host::Name("example.net"));
    let to = na(&m, HeaderName::To);
    assert_eq!(unescape(sip(to.uri).user.unwrap()).unwrap(), "user");
    let from = na(&m, HeaderName::From);
    assert_eq!(
        unescape(sip(from.uri).user.unwrap()).unwrap(),
        "I have spaces"
    );
    assert_eq!(from.tag(), Some("938"));
    let contact = &contacts(&m)[0];
    let curi = sip(contact.uri);
    assert_eq!(unescape(curi.user.unwrap()).unwrap(), "caller");
    // Parameter names and values unescape once: `value%41`, not `valueA`.
    let params: Vec<(String, Option<String>)> = curi
        .params
        .iter()
        .map(|(n, v)| {
            (
                unescape(n).unwrap().into_owned(),
                v.map(|v| unescape(v).unwrap().into_owned()),
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            ("lr".to_string(), None),
            ("name".to_string(), Some("value%41".to_string()))
        ]
    );
    assert_eq!(max_forwards(&m), Some(87));
    assert_eq!(
        m.header(HeaderName::ContentType),
        Some("application/sdp"),
        "compact `c:`"
    );
}

#[test]
fn rfc4475_escnull() {
    let m = msg("rfc4475/escnull");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd"),
        cseq: 14398234,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 2,
    }
    .check(&m);
    for h in [HeaderName::To, HeaderName::From] {
        let u = sip(na(&m, h).uri);
        assert_eq!(unescape(u.user.unwrap()).unwrap(), "null-\0-null");
        // The key keeps control characters escaped (printable, one-to-one).
        assert_eq!(u.canonical_aor().unwrap(), "sip:null-%00-null@example.com");
    }
    let c = contacts(&m);
    let (a, b) = (sip(c[0].uri), sip(c[1].uri));
    assert_eq!(unescape(a.user.unwrap()).unwrap(), "\0");
    assert_eq!(unescape(b.user.unwrap()).unwrap(), "\0\0");
    assert!(!a.equivalent(&b), "one and two NULs are distinct bindings");
    assert_ne!(a.canonical_aor(), b.canonical_aor());
    assert_eq!(
        m.header(HeaderName::ContentLength),
        Some("0"),
        "compact `L:0`"
    );
}

#[test]
fn rfc4475_esc02() {
    let m = msg("rfc4475/esc02");
    Basics {
        method: "RE%47IST%45R",
        ruri: "sip:registrar.example.com",
        via_count: 1,
        call_id: Some("esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf"),
        cseq: 29344,
        cseq_method: "RE%47IST%45R",
        body_len: 0,
        contact_count: 2,
    }
    .check(&m);
    assert_eq!(m.method(), Some(Method::Other), "not REGISTER");
    for h in [HeaderName::To, HeaderName::From] {
        assert_eq!(na(&m, h).display_name().unwrap(), "%Z%45");
    }
    assert_eq!(vias(&m)[0].branch(), Some("z9hG4bK209%fzsnel234"));
    let c: Vec<_> = contacts(&m).iter().map(|c| c.uri).collect();
    assert_eq!(
        c,
        [
            "sip:alias1@host1.example.com",
            "sip:alias3@host3.example.com"
        ]
    );
    let other: Vec<_> = m.headers_named("C%6Fntact").collect();
    assert_eq!(other, ["<sip:alias2@host2.example.com>"]);
}

#[test]
fn rfc4475_lwsdisp() {
    let m = msg("rfc4475/lwsdisp");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("lwsdisp.1234abcd@funky.example.com"),
        cseq: 60,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    let from = na(&m, HeaderName::From);
    assert_eq!(from.display_name().unwrap(), "caller");
    assert_eq!(from.uri, "sip:caller@example.com");
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn rfc4475_longreq() {
    let m = msg("rfc4475/longreq");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com",
        via_count: 34,
        call_id: Some(concat!(
            "longreq.one",
            "reallyreallyreallyreallyreallyreallyreallyreallyreallyreally",
            "reallyreallyreallyreallyreallyreallyreallyreallyreallyreally",
            "longcallid"
        )),
        cseq: 3882340,
        cseq_method: "INVITE",
        body_len: 150,
        contact_count: 1,
    }
    .check(&m);
    let to = na(&m, HeaderName::To);
    assert_eq!(
        to.display_name().unwrap(),
        format!("I have a user name of {} proportion", "extreme".repeat(10))
    );
    let to_uri = sip(to.uri);
    assert_eq!(to_uri.port, Some(6000));
    assert_eq!(to_uri.params.iter().count(), 3);
    // EXPECTATIONS.md says "154 chars"; 2 + 3*50 + 3 is 155, which the file has.
    let from = na(&m, HeaderName::From);
    assert_eq!(
        from.tag(),
        Some(format!("12{}424", "982".repeat(50)).as_str())
    );
    let v = vias(&m);
    assert_eq!(v[0].host, Host::Name("sip33.example.com"));
    let last = &v[33];
    assert_eq!(last.host, Host::Name("host.example.com"));
    assert_eq!(last.params.get("received"), Some(Some("192.0.2.5")));
    assert_eq!(
        last.branch(),
        Some(format!("very{}branchvalue", "long".repeat(50)).as_str())
    );
    let c = &contacts(&m)[0];
    assert_eq!(
        sip(c.uri).user,
        Some("amazinglylongcallername".repeat(5).as_str())
    );
}

#[test]
fn rfc4475_dblreq() {
    let m = msg("rfc4475/dblreq");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412"),
        cseq: 8,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(m.method(), Some(Method::Register));
    assert!(
        m.body().is_empty(),
        "the trailing INVITE octets are not a body"
    );
    assert_eq!(contacts(&m)[0].uri, "sip:j.user@host.example.com");
    // On a stream the same octets are the start of the next message.
    let (mut f, first) = frame_whole("rfc4475/dblreq");
    let Ok(Some(Frame::Message(reg))) = first else {
        panic!("{first:?}")
    };
    let reg = Message::parse_framed(reg, &Limits::default()).unwrap();
    assert_eq!(reg.method(), Some(Method::Register));
    let second = f.next_frame();
    let Ok(Some(Frame::Message(invite))) = second else {
        panic!("{second:?}")
    };
    let invite = Message::parse_framed(invite, &Limits::default()).unwrap();
    assert_eq!(invite.method(), Some(Method::Invite));
    assert_eq!(
        invite.header(HeaderName::CallId),
        Some("dblreq.0ha0isnda977644900765@192.0.2.15")
    );
}

#[test]
fn rfc4475_semiuri() {
    let m = msg("rfc4475/semiuri");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user;par=u%40example.net@example.com",
        via_count: 1,
        call_id: Some("semiuri.0ha0isndaksdj"),
        cseq: 8,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.host, Host::Name("example.com"));
    assert_eq!(ruri.user, Some("user;par=u%40example.net"));
    assert_eq!(
        unescape(ruri.user.unwrap()).unwrap(),
        "user;par=u@example.net"
    );
    assert!(ruri.params.is_empty());
    let accept: Vec<_> = m.headers_named("Accept").flat_map(split_list).collect();
    assert_eq!(accept.len(), 6, "{accept:?}");
}

#[test]
fn rfc4475_transports() {
    let m = msg("rfc4475/transports");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 5,
        call_id: Some("transports.kijh4akdnaqjkwendsasfdj"),
        cseq: 60,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    let t: Vec<_> = vias(&m).iter().map(|v| v.transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

#[test]
fn rfc4475_mpart01() {
    let m = msg("rfc4475/mpart01");
    Basics {
        method: "MESSAGE",
        ruri: "sip:kumiko@example.org",
        via_count: 1,
        call_id: Some("3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA.."),
        cseq: 1,
        cseq_method: "MESSAGE",
        body_len: 553,
        contact_count: 1,
    }
    .check(&m);
    let ct = m.header(HeaderName::ContentType).unwrap();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    assert!(ct.contains("boundary=7a9cbec02ceef655"), "{ct}");
    let body = m.body();
    assert!(body.contains(&0), "the binary part holds NUL octets");
    assert!(body.ends_with(b"--7a9cbec02ceef655--\r\n") || body.ends_with(b"--7a9cbec02ceef655--"));
    let v = &vias(&m)[0];
    assert_eq!(v.port, Some(5070));
    assert_eq!(v.params.get("rport"), Some(None));
    assert!(m.header(HeaderName::Identity).is_some());
    // Stream framing uses Content-Length too, never a scan of the body.
    let (_, frame) = frame_whole("rfc4475/mpart01");
    let Ok(Some(Frame::Message(bytes))) = frame else {
        panic!("{frame:?}")
    };
    assert_eq!(
        Message::parse_framed(bytes, &Limits::default())
            .unwrap()
            .body(),
        body
    );
}

#[test]
fn rfc4475_unreason() {
    let m = msg("rfc4475/unreason");
    Basics {
        method: "",
        ruri: "",
        via_count: 1,
        call_id: Some("unreason.1234ksdfak3j2erwedfsASdf"),
        cseq: 35,
        cseq_method: "INVITE",
        body_len: 154,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(m.status(), Some(200));
    assert_eq!(
        m.reason(),
        "= 2**3 * 5**2 но сто девяносто девять - простое"
    );
    assert_eq!(na(&m, HeaderName::To).tag(), Some("2229"));
}

#[test]
fn rfc4475_noreason() {
    let m = msg("rfc4475/noreason");
    Basics {
        method: "",
        ruri: "",
        via_count: 1,
        call_id: Some("noreason.asndj203insdf99223ndf"),
        cseq: 35,
        cseq_method: "INVITE",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), "");
    assert_eq!(na(&m, HeaderName::To).tag(), Some("902jndnke3"));
}

// ---------------------------------------------------------------------------
// RFC 4475 §3.1.2: invalid messages
// ---------------------------------------------------------------------------

#[test]
fn rfc4475_badinv01() {
    // The junk is legal in an unknown header (wsinv), so the message indexes
    // and the typed Via / Contact parses are what refuse it.
    let m = msg("rfc4475/badinv01");
    let via_errors: Vec<_> = m
        .header_values(HeaderName::Via)
        .map(|v| Via::parse(v).unwrap_err())
        .collect();
    assert!(!via_errors.is_empty());
    assert!(
        via_errors.iter().all(|e| *e == ParseError::BadVia),
        "{via_errors:?}"
    );
    assert_eq!(
        parse_contacts(m.header_values(HeaderName::Contact)).unwrap_err(),
        ParseError::BadParameter
    );
}

#[test]
fn rfc4475_clerr() {
    assert_eq!(parse_err("rfc4475/clerr"), ParseError::BodyTruncated);
    // On a stream it is not an error yet: the framer waits for more octets.
    let (_, frame) = frame_whole("rfc4475/clerr");
    assert_eq!(frame, Ok(None));
}

#[test]
fn rfc4475_ncl() {
    assert_eq!(parse_err("rfc4475/ncl"), ParseError::BadContentLength);
    let (_, frame) = frame_whole("rfc4475/ncl");
    assert_eq!(frame, Err(ParseError::BadContentLength));
    let five = String::from_utf8(raw("rfc4475/ncl"))
        .unwrap()
        .replace("-999", "five");
    assert_eq!(
        parse_bytes(five.into_bytes()).unwrap_err(),
        ParseError::BadContentLength
    );
}

#[test]
fn rfc4475_scalar02() {
    let m = msg("rfc4475/scalar02");
    // The decisive defect: CSeq 36893488147419103232.
    assert_eq!(
        CSeq::parse(m.header(HeaderName::CSeq).unwrap()),
        Err(ParseError::BadCSeq)
    );
    // Max-Forwards 300 is out of range (sip-core's validate_request: BadMaxForwards).
    assert_eq!(max_forwards(&m), Some(300));
    // Overlarge delta-seconds saturate at 2^32-1 (RFC 3261 §20.19).
    assert_eq!(
        m.header(HeaderName::Expires).and_then(parse_delta_seconds),
        Some(u32::MAX)
    );
    let c = &contacts(&m)[0];
    assert_eq!(
        c.params
            .get("expires")
            .flatten()
            .and_then(parse_delta_seconds),
        Some(u32::MAX)
    );
}

#[test]
fn rfc4475_scalarlg() {
    let m = msg("rfc4475/scalarlg");
    assert_eq!(m.status(), Some(503));
    assert_eq!(
        CSeq::parse(m.header(HeaderName::CSeq).unwrap()),
        Err(ParseError::BadCSeq)
    );
    let retry: Vec<_> = m
        .headers_named("Retry-After")
        .filter_map(parse_delta_seconds)
        .collect();
    assert_eq!(retry, [u32::MAX]);
}

#[test]
fn rfc4475_quotbal() {
    let m = msg("rfc4475/quotbal");
    let to = m.header(HeaderName::To).unwrap();
    assert_eq!(
        NameAddr::parse(to).unwrap_err(),
        ParseError::UnterminatedQuote
    );
}

#[test]
fn rfc4475_ltgtruri() {
    // The request line has its three elements, so the message indexes; the
    // Request-URI itself is refused by its typed parse.
    let m = msg("rfc4475/ltgtruri");
    assert_eq!(m.request_uri(), "<sip:user@example.com>");
    assert_eq!(Uri::parse(m.request_uri()).unwrap_err(), ParseError::BadUri);
}

#[test]
fn rfc4475_lwsruri() {
    assert_eq!(parse_err("rfc4475/lwsruri"), ParseError::BadStartLine);
}

#[test]
fn rfc4475_lwsstart() {
    // RFC 4475 §3.1.2.9 lets a liberal element ignore the extra SP; locus
    // takes the strict reading of RFC 3261 §7.1 (single SPs) and rejects.
    assert_eq!(parse_err("rfc4475/lwsstart"), ParseError::BadStartLine);
}

#[test]
fn rfc4475_trws() {
    // Same latitude as lwsstart (§3.1.2.10): strict, trailing SPs rejected.
    assert_eq!(parse_err("rfc4475/trws"), ParseError::BadStartLine);
}

#[test]
fn rfc4475_escruri() {
    let m = msg("rfc4475/escruri");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com?Route=%3Csip:example.com%3E",
        via_count: 1,
        call_id: Some("escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5"),
        cseq: 149209342,
        cseq_method: "INVITE",
        body_len: 150,
        contact_count: 1,
    }
    .check(&m);
    // Grammatical, but a Request-URI must carry no headers (RFC 3261
    // §19.1.1): the layer above answers 400 from this field.
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.headers, "Route=%3Csip:example.com%3E");
    assert_eq!(
        m.header(HeaderName::Route),
        None,
        "never a real Route header"
    );
}

#[test]
fn rfc4475_baddate() {
    // RFC 4475 §3.1.2.12: an element that does not use Date should not
    // reject the message for it. locus never reads Date, so it has no typed
    // Date parser (the `bad_date` defect has no variant): the message parses
    // and Date is kept as the opaque text it is.
    let m = msg("rfc4475/baddate");
    assert_eq!(
        m.header(HeaderName::Date),
        Some("Fri, 01 Jan 2010 16:00:00 EST")
    );
    assert_eq!(m.body().len(), 150);
}

#[test]
fn rfc4475_regbadct() {
    let m = msg("rfc4475/regbadct");
    let c = m.header(HeaderName::Contact).unwrap();
    assert_eq!(NameAddr::parse(c).unwrap_err(), ParseError::BadNameAddr);
    assert_eq!(
        parse_contacts(m.header_values(HeaderName::Contact)).unwrap_err(),
        ParseError::BadNameAddr
    );
}

#[test]
fn rfc4475_badaspec() {
    let m = msg("rfc4475/badaspec");
    let to = m.header(HeaderName::To).unwrap();
    assert_eq!(NameAddr::parse(to).unwrap_err(), ParseError::BadNameAddr);
    // The From of the same message is fine: the error is the spaces.
    assert_eq!(
        na(&m, HeaderName::From).display_name().unwrap(),
        "Bell, Alexander"
    );
}

#[test]
fn rfc4475_baddn() {
    let m = msg("rfc4475/baddn");
    for h in [HeaderName::To, HeaderName::From] {
        let v = m.header(h).unwrap();
        assert_eq!(
            NameAddr::parse(v).unwrap_err(),
            ParseError::BadNameAddr,
            "{v}"
        );
    }
}

#[test]
fn rfc4475_badvers() {
    // RFC 4475 §3.1.2.16 files this under invalid messages; the answer is
    // 505. Our parser refuses any version but SIP/2.0 at the start line with
    // the dedicated BadVersion (not BadStartLine), which is what the layer
    // above maps to 505. Accepting SIP/7.0 into a `Message` would let
    // sip-core, which never looks at the version, treat it as SIP/2.0.
    assert_eq!(parse_err("rfc4475/badvers"), ParseError::BadVersion);
    // The version is the only defect: with SIP/2.0 on the request line the
    // message parses with every listed fact, and the SIP/7.0 Via is refused.
    let fixed = String::from_utf8(raw("rfc4475/badvers")).unwrap().replacen(
        "SIP/7.0\r\n",
        "SIP/2.0\r\n",
        1,
    );
    let m = parse_bytes(fixed.into_bytes()).unwrap();
    assert_eq!(m.method_str(), "OPTIONS");
    assert_eq!(m.request_uri(), "sip:t.watson@example.org");
    assert_eq!(
        m.header(HeaderName::CallId),
        Some("badvers.31417@c.example.com")
    );
    assert_eq!(
        cseq(&m),
        CSeq {
            seq: 1,
            method: "OPTIONS"
        }
    );
    assert_eq!(m.body().len(), 0);
    assert_eq!(na(&m, HeaderName::From).display_name().unwrap(), "A. Bell");
    let via = m.header(HeaderName::Via).unwrap();
    assert!(via.starts_with("SIP/7.0/"));
    assert_eq!(Via::parse(via).unwrap_err(), ParseError::BadVia);
}

#[test]
fn rfc4475_mismatch01() {
    let m = msg("rfc4475/mismatch01");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("mismatch01.dj0234sxdfl3"),
        cseq: 8,
        cseq_method: "INVITE",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    // sip-core's validate_request: CSeqMethodMismatch -> 400.
    assert_ne!(cseq(&m).method, m.method_str());
}

#[test]
fn rfc4475_mismatch02() {
    let m = msg("rfc4475/mismatch02");
    Basics {
        method: "NEWMETHOD",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("mismatch02.dj0234sxdfl3"),
        cseq: 8,
        cseq_method: "INVITE",
        body_len: 138,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(
        m.method(),
        Some(Method::Other),
        "unknown method -> 501 preferred"
    );
    assert_ne!(cseq(&m).method, m.method_str());
}

#[test]
fn rfc4475_bigcode() {
    assert_eq!(parse_err("rfc4475/bigcode"), ParseError::BadStatusCode);
}

// ---------------------------------------------------------------------------
// RFC 4475 §3.2, §3.3, §3.4
// ---------------------------------------------------------------------------

#[test]
fn rfc4475_badbranch() {
    let m = msg("rfc4475/badbranch");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("badbranch.sadonfo23i420jv0as0derf3j3n"),
        cseq: 8,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    // The branch is the bare magic cookie: no transaction identifier after it.
    let v = &vias(&m)[0];
    assert_eq!(v.branch(), Some("z9hG4bK"));
}

#[test]
fn rfc4475_insuf() {
    let m = msg("rfc4475/insuf");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: None,
        cseq: 193942,
        cseq_method: "INVITE",
        body_len: 152,
        contact_count: 0,
    }
    .check(&m);
    // sip-core's validate_request: MissingHeader -> 400.
    for h in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::MaxForwards,
    ] {
        assert_eq!(m.header(h), None, "{h:?}");
    }
}

#[test]
fn rfc4475_unkscm() {
    let m = msg("rfc4475/unkscm");
    Basics {
        method: "OPTIONS",
        ruri: "nobodyKnowsThisScheme:totallyopaquecontent",
        via_count: 1,
        call_id: Some("unkscm.nasdfasser0q239nwsdfasdkl34"),
        cseq: 3923423,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(
        Uri::parse(m.request_uri()).unwrap(),
        Uri::Other {
            scheme: "nobodyKnowsThisScheme",
            rest: "totallyopaquecontent"
        }
    );
}

#[test]
fn rfc4475_novelsc() {
    let m = msg("rfc4475/novelsc");
    Basics {
        method: "OPTIONS",
        ruri: "soap.beep://192.0.2.103:3002",
        via_count: 1,
        call_id: Some("novelsc.asdfasser0q239nwsdfasdkl34"),
        cseq: 3923423,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(
        Uri::parse(m.request_uri()).unwrap(),
        Uri::Other {
            scheme: "soap.beep",
            rest: "//192.0.2.103:3002"
        }
    );
}

#[test]
fn rfc4475_unksm2() {
    let m = msg("rfc4475/unksm2");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("unksm2.daksdj@hyphenated-host.example.com"),
        cseq: 234902,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    // The AOR (To) is not a SIP/SIPS URI: the registrar answers 400.
    let to = Uri::parse(na(&m, HeaderName::To).uri).unwrap();
    assert_eq!(
        to,
        Uri::Other {
            scheme: "isbn",
            rest: "2983792873"
        }
    );
    assert!(to.as_sip().is_none());
    let from = Uri::parse(na(&m, HeaderName::From).uri).unwrap();
    assert_eq!(
        from,
        Uri::Other {
            scheme: "http",
            rest: "//www.example.com"
        }
    );
    let c = Uri::parse(contacts(&m)[0].uri).unwrap();
    assert_eq!(
        c,
        Uri::Other {
            scheme: "name",
            rest: "John_Smith"
        }
    );
}

#[test]
fn rfc4475_bext01() {
    let m = msg("rfc4475/bext01");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("bext01.0ha0isndaksdj"),
        cseq: 8,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    let require: Vec<_> = option_tags(m.header_values(HeaderName::Require)).collect();
    assert_eq!(
        require,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let proxy: Vec<_> = option_tags(m.header_values(HeaderName::ProxyRequire)).collect();
    assert_eq!(
        proxy,
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
}

#[test]
fn rfc4475_invut() {
    let m = msg("rfc4475/invut");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("invut.0ha0isndaksdjadsfij34n23d"),
        cseq: 235448,
        cseq_method: "INVITE",
        body_len: 40,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(
        m.header(HeaderName::ContentType),
        Some("application/unknownformat")
    );
}

#[test]
fn rfc4475_regaut01() {
    let m = msg("rfc4475/regaut01");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("regaut01.0ha0isndaksdj"),
        cseq: 9338,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(
        m.header(HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
    assert_eq!(
        m.header(HeaderName::ContentLength),
        Some("0"),
        "`Content-Length:0`"
    );
}

#[test]
fn rfc4475_multi01() {
    let m = msg("rfc4475/multi01");
    for (h, name) in [
        (HeaderName::CSeq, "CSeq"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::To, "To"),
        (HeaderName::From, "From"),
        (HeaderName::MaxForwards, "Max-Forwards"),
    ] {
        assert_eq!(m.single_header(h), Err(ParseError::DuplicateHeader(name)));
    }
    // Contact is a list header: two lines are legal.
    assert_eq!(contacts(&m).len(), 2);
}

#[test]
fn rfc4475_mcl01() {
    assert_eq!(parse_err("rfc4475/mcl01"), ParseError::BadContentLength);
    let (_, frame) = frame_whole("rfc4475/mcl01");
    assert_eq!(frame, Err(ParseError::BadContentLength));
}

#[test]
fn rfc4475_bcast() {
    let m = msg("rfc4475/bcast");
    Basics {
        method: "",
        ruri: "",
        via_count: 2,
        call_id: Some("bcast.0384840201234ksdfak3j2erwedfsASdf"),
        cseq: 35,
        cseq_method: "INVITE",
        body_len: 154,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(m.status(), Some(200));
    assert_eq!(na(&m, HeaderName::To).tag(), Some("2229"));
    let v = vias(&m);
    assert_eq!(
        v[1].host,
        Host::V4(Ipv4Addr::BROADCAST),
        "must never be forwarded there"
    );
}

#[test]
fn rfc4475_zeromf() {
    let m = msg("rfc4475/zeromf");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("zeromf.jfasdlfnm2o2l43r5u0asdfas"),
        cseq: 39234321,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(max_forwards(&m), Some(0));
}

#[test]
fn rfc4475_cparam01() {
    let m = msg("rfc4475/cparam01");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("cparam01.70710@saturn.example.com"),
        cseq: 2,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    // Without <>, `unknownparam` is a Contact header parameter.
    let c = &contacts(&m)[0];
    assert!(!c.bracketed);
    assert_eq!(c.uri, "sip:+19725552222@gw1.example.net");
    assert!(sip(c.uri).params.is_empty());
    assert_eq!(c.params.get("unknownparam"), Some(None));
}

#[test]
fn rfc4475_cparam02() {
    let m = msg("rfc4475/cparam02");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("cparam02.70710@saturn.example.com"),
        cseq: 3,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    // Inside <>, `unknownparam` is a URI parameter and stays in the binding.
    let c = &contacts(&m)[0];
    assert!(c.bracketed);
    assert_eq!(c.uri, "sip:+19725552222@gw1.example.net;unknownparam");
    assert_eq!(sip(c.uri).params.get("unknownparam"), Some(None));
    assert!(c.params.is_empty());
}

#[test]
fn rfc4475_regescrt() {
    let m = msg("rfc4475/regescrt");
    Basics {
        method: "REGISTER",
        ruri: "sip:example.com",
        via_count: 1,
        call_id: Some("regescrt.k345asrl3fdbv@192.0.2.1"),
        cseq: 14398234,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    let c = &contacts(&m)[0];
    assert_eq!(
        c.uri,
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
    let u = sip(c.uri);
    assert_eq!(u.headers, "Route=%3Csip:sip.example.com%3E");
    assert_eq!(u.canonical_aor().unwrap(), "sip:user@example.com");
}

#[test]
fn rfc4475_sdp01() {
    let m = msg("rfc4475/sdp01");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com",
        via_count: 1,
        call_id: Some("sdp01.ndaksdj9342dasdd"),
        cseq: 8,
        cseq_method: "INVITE",
        body_len: 150,
        contact_count: 1,
    }
    .check(&m);
    let accept: Vec<_> = m.headers_named("Accept").collect();
    assert_eq!(accept, ["text/nobodyKnowsThis"]);
    assert_eq!(m.header(HeaderName::ContentType), Some("application/sdp"));
}

#[test]
fn rfc4475_inv2543() {
    let m = msg("rfc4475/inv2543");
    Basics {
        method: "INVITE",
        ruri: "sip:UserB@example.com",
        via_count: 1,
        call_id: Some("inv2543.1717@ift.client.example.com"),
        cseq: 56,
        cseq_method: "INVITE",
        body_len: 105,
        contact_count: 0,
    }
    .check(&m);
    // No Content-Length: over UDP the body is the rest of the datagram ...
    assert_eq!(m.header(HeaderName::ContentLength), None);
    let data = raw("rfc4475/inv2543");
    assert!(data.ends_with(m.body()));
    // ... over a stream it cannot be framed.
    let framed = Message::parse_framed(Bytes::from(data), &Limits::default());
    assert_eq!(framed.unwrap_err(), ParseError::MissingContentLength);
    // The RFC 2543 traits locus answers 400 for.
    assert_eq!(vias(&m)[0].branch(), None);
    assert_eq!(na(&m, HeaderName::From).tag(), None);
    assert_eq!(m.header(HeaderName::MaxForwards), None);
}

// ---------------------------------------------------------------------------
// RFC 5118
// ---------------------------------------------------------------------------

#[test]
fn rfc5118_ipv6_good() {
    let m = msg("rfc5118/ipv6-good");
    Basics {
        method: "REGISTER",
        ruri: "sip:[2001:db8::10]",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 98176,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    let ruri = sip(m.request_uri());
    assert_eq!((ruri.host, ruri.port), (Host::V6(v6("2001:db8::10")), None));
    assert_eq!(ruri.canonical_aor().unwrap(), "sip:[2001:db8::10]");
    let v = &vias(&m)[0];
    assert_eq!(
        (v.host, v.host_str, v.port),
        (Host::V6(v6("2001:db8::9:1")), "[2001:db8::9:1]", None)
    );
    let c = &contacts(&m)[0];
    assert_eq!(c.display_name().unwrap(), "Caller");
    assert_eq!(sip(c.uri).host, Host::V6(v6("2001:db8::1")));
}

#[test]
fn rfc5118_ipv6_bad() {
    let m = msg("rfc5118/ipv6-bad");
    assert_eq!(m.request_uri(), "sip:2001:db8::10");
    assert_eq!(
        Uri::parse(m.request_uri()).unwrap_err(),
        ParseError::BadHost
    );
}

#[test]
fn rfc5118_port_ambiguous() {
    let m = msg("rfc5118/port-ambiguous");
    Basics {
        method: "REGISTER",
        ruri: "sip:[2001:db8::10:5070]",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 98176,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    // Well-formed: the whole bracketed text is the address; there is no port.
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.host, Host::V6(v6("2001:db8::10:5070")));
    assert_eq!(ruri.port, None);
    // It is not what the sender probably meant.
    assert!(!ruri.equivalent(&sip("sip:[2001:db8::10]:5070")));
    assert_eq!(ruri.canonical_aor().unwrap(), "sip:[2001:db8::10:5070]");
}

#[test]
fn rfc5118_port_unambiguous() {
    let m = msg("rfc5118/port-unambiguous");
    Basics {
        method: "REGISTER",
        ruri: "sip:[2001:db8::10]:5070",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 98176,
        cseq_method: "REGISTER",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    let ruri = sip(m.request_uri());
    assert_eq!(
        (ruri.host, ruri.port),
        (Host::V6(v6("2001:db8::10")), Some(5070))
    );
    assert!(!ruri.equivalent(&sip("sip:[2001:db8::10:5070]")));
    assert_eq!(ruri.canonical_aor().unwrap(), "sip:[2001:db8::10]:5070");
}

/// The `received` Via parameter as an IPv6 address, brackets or not.
fn received_v6<'a>(v: &Via<'a>) -> Ipv6Addr {
    let r = v.params.get("received").flatten().expect("received");
    let bare = r
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(r);
    v6(bare)
}

#[test]
fn rfc5118_via_received_param_with_delim() {
    let m = msg("rfc5118/via-received-param-with-delim");
    Basics {
        method: "BYE",
        ruri: "sip:[2001:db8::10]",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 321,
        cseq_method: "BYE",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(na(&m, HeaderName::To).tag(), Some("bd76ya"));
    let v = &vias(&m)[0];
    assert_eq!(v.params.get("received"), Some(Some("[2001:db8::9:255]")));
    assert_eq!(received_v6(v), v6("2001:db8::9:255"));
    assert_eq!(v.branch(), Some("z9hG4bKas3-111"));
}

#[test]
fn rfc5118_via_received_param_no_delim() {
    let m = msg("rfc5118/via-received-param-no-delim");
    Basics {
        method: "OPTIONS",
        ruri: "sip:[2001:db8::10]",
        via_count: 1,
        call_id: Some("SSG95523997077@hlau_4100"),
        cseq: 921,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 1,
    }
    .check(&m);
    let v = &vias(&m)[0];
    assert_eq!(v.params.get("received"), Some(Some("2001:db8::9:255")));
    assert_eq!(received_v6(v), v6("2001:db8::9:255"));
    assert_eq!(v.branch(), Some("z9hG4bKas3"));
}

#[test]
fn rfc5118_ipv6_in_sdp() {
    let m = msg("rfc5118/ipv6-in-sdp");
    Basics {
        method: "INVITE",
        ruri: "sip:user@[2001:db8::10]",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 8612,
        cseq_method: "INVITE",
        body_len: 251,
        contact_count: 1,
    }
    .check(&m);
    assert_eq!(sip(m.request_uri()).host, Host::V6(v6("2001:db8::10")));
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("c=IN IP6 2001:db8::20"), "{body}");
    assert!(!body.contains('['), "no brackets in SDP");
}

#[test]
fn rfc5118_mult_ip_in_header() {
    let m = msg("rfc5118/mult-ip-in-header");
    Basics {
        method: "BYE",
        ruri: "sip:user@host.example.net",
        via_count: 3,
        call_id: Some("997077@lau_4100"),
        cseq: 89187,
        cseq_method: "BYE",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    assert_eq!(na(&m, HeaderName::To).tag(), Some("9817--94"));
    let v = vias(&m);
    let got: Vec<_> = v.iter().map(|v| (v.transport, v.host, v.port)).collect();
    assert_eq!(
        got,
        [
            ("UDP", Host::V6(v6("2001:db8::9:1")), Some(6050)),
            ("UDP", Host::V4(Ipv4Addr::new(192, 0, 2, 1)), None),
            ("TCP", Host::V6(v6("2001:db8::9:255")), None),
        ]
    );
    assert_eq!(v[2].params.get("received"), Some(Some("192.0.2.200")));
}

#[test]
fn rfc5118_mult_ip_in_sdp() {
    let m = msg("rfc5118/mult-ip-in-sdp");
    Basics {
        method: "INVITE",
        ruri: "sip:user@[2001:db8::10]",
        via_count: 1,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 8912,
        cseq_method: "INVITE",
        body_len: 189,
        contact_count: 1,
    }
    .check(&m);
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("c=IN IP4 "), "{body}");
    assert!(body.contains("c=IN IP6 "), "{body}");
}

#[test]
fn rfc5118_ipv4_mapped_ipv6() {
    let m = msg("rfc5118/ipv4-mapped-ipv6");
    Basics {
        method: "INVITE",
        ruri: "sip:user@example.com",
        via_count: 2,
        call_id: Some("SSG9559905523997077@hlau_4100"),
        cseq: 612,
        cseq_method: "INVITE",
        body_len: 245,
        contact_count: 1,
    }
    .check(&m);
    let v = vias(&m);
    assert_eq!(
        (v[0].host, v[0].port),
        (Host::V6(v6("::ffff:192.0.2.10")), Some(19823))
    );
    assert_eq!(v[0].host_str, "[::ffff:192.0.2.10]");
    assert_eq!(
        (v[1].host, v[1].port),
        (Host::V6(v6("::ffff:192.0.2.2")), None)
    );
    let c = &contacts(&m)[0];
    assert_eq!(c.display_name().unwrap(), "T. desk phone");
    assert_eq!(sip(c.uri).host, Host::V6(v6("::ffff:192.0.2.2")));
}

#[test]
fn rfc5118_ipv6_bug_abnf_3_colons() {
    let m = msg("rfc5118/ipv6-bug-abnf-3-colons");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@[2001:db8:::192.0.2.1]",
        via_count: 1,
        call_id: Some("G9559905523997077@hlau_4100"),
        cseq: 689,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    // RFC 5118 §4.10: tolerated, and the same address as the 2-colon form.
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.host, Host::V6(v6("2001:db8::192.0.2.1")));
    assert!(ruri.equivalent(&sip("sip:user@[2001:db8::192.0.2.1]")));
    assert_eq!(sip(na(&m, HeaderName::To).uri).host, ruri.host);
    // Only the ABNF bug's shape is tolerated, not any triple colon.
    assert_eq!(
        Uri::parse("sip:[2001:::db8:1]").unwrap_err(),
        ParseError::BadHost
    );
    assert_eq!(
        Uri::parse("sip:[2001::db8:::192.0.2.1]").unwrap_err(),
        ParseError::BadHost
    );
}

#[test]
fn rfc5118_ipv6_correct_abnf_2_colons() {
    let m = msg("rfc5118/ipv6-correct-abnf-2-colons");
    Basics {
        method: "OPTIONS",
        ruri: "sip:user@[2001:db8::192.0.2.1]",
        via_count: 1,
        call_id: Some("G9559905523997077@hlau_4100"),
        cseq: 689,
        cseq_method: "OPTIONS",
        body_len: 0,
        contact_count: 0,
    }
    .check(&m);
    let ruri = sip(m.request_uri());
    assert_eq!(ruri.host, Host::V6(v6("2001:db8::c000:201")));
    assert_eq!(ruri.port, None);
}

#[test]
fn rfc5118_ipv6_ports_and_hosts() {
    // RFC 5118 §4.3/4.4 in isolation: a port only ever follows the `]`.
    let cases: &[(&str, &str, Option<u16>)] = &[
        ("sip:[2001:db8::10]", "2001:db8::10", None),
        ("sip:[2001:db8::10]:5070", "2001:db8::10", Some(5070)),
        ("sip:[2001:db8::10:5070]", "2001:db8::10:5070", None),
        ("sips:user@[::1]:5061;transport=tcp", "::1", Some(5061)),
        ("sip:[::ffff:192.0.2.10]:0", "::ffff:192.0.2.10", Some(0)),
    ];
    for (text, host, port) in cases {
        let u = sip(text);
        assert_eq!((u.host, u.port), (Host::V6(v6(host)), *port), "{text}");
        assert!(u.equivalent(&u));
    }
    for bad in [
        "sip:[2001:db8::10]5070",
        "sip:[2001:db8::10]:",
        "sip:[2001:db8::10]:65536",
        "sip:[2001:db8::g]",
    ] {
        assert!(Uri::parse(bad).is_err(), "{bad} must not parse");
    }
}

// ---------------------------------------------------------------------------
// Every file covered, and the TSV re-checked generically
// ---------------------------------------------------------------------------

/// One row of `expectations.tsv`.
struct Row {
    file: String,
    class: String,
    defect: String,
    facts: Vec<(String, String)>,
}

/// Decodes a TSV fact value: `\\` is a backslash, `\xHH` one octet.
fn decode_value(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&v[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn rows() -> Vec<Row> {
    let tsv = std::fs::read_to_string(format!("{TORTURE_DIR}/expectations.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let facts = cols
                .get(3)
                .map(|f| {
                    f.split(" ; ")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_string(), decode_value(v))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Row {
                file: cols[0].trim_end_matches(".sip").to_string(),
                class: cols[1].to_string(),
                defect: cols.get(2).copied().unwrap_or("").to_string(),
                facts,
            }
        })
        .collect()
}

/// Our variant for a TSV defect word (`None`: deliberately no typed error).
fn defect_variant(defect: &str) -> Option<ParseError> {
    use ParseError::*;
    Some(match defect {
        "extraneous_separator" => BadVia,
        "content_length_mismatch" => BodyTruncated,
        "bad_content_length" | "duplicate_content_length" => BadContentLength,
        "bad_cseq" => BadCSeq,
        "unterminated_quote" => UnterminatedQuote,
        "bad_uri" => BadUri,
        "bad_request_line" => BadStartLine,
        "bad_status_line" => BadStatusCode,
        "bad_date" => return None,
        "unbracketed_uri" | "bad_name_addr" | "bad_display_name" => BadNameAddr,
        "duplicate_singleton" => DuplicateHeader("CSeq"),
        "bad_ipv6_reference" => BadHost,
        other => panic!("unknown defect word {other:?}"),
    })
}

/// The first defect of a message, in the order the server meets them:
/// datagram parse, Request-URI, singletons, CSeq, Via, To/From, Contact.
fn first_defect(data: Vec<u8>) -> Option<ParseError> {
    let m = match parse_bytes(data) {
        Ok(m) => m,
        Err(e) => return Some(e),
    };
    let check = || -> Result<(), ParseError> {
        if m.is_request() {
            Uri::parse(m.request_uri())?;
        }
        for h in [
            HeaderName::CSeq,
            HeaderName::CallId,
            HeaderName::To,
            HeaderName::From,
        ] {
            m.single_header(h)?;
        }
        if let Some(c) = m.header(HeaderName::CSeq) {
            CSeq::parse(c)?;
        }
        for v in m.header_values(HeaderName::Via) {
            Via::parse(v)?;
        }
        for h in [HeaderName::To, HeaderName::From] {
            if let Some(v) = m.header(h) {
                Uri::parse(NameAddr::parse(v)?.uri)?;
            }
        }
        parse_contacts(m.header_values(HeaderName::Contact))?;
        Ok(())
    };
    check().err()
}

/// Asserts one TSV fact on a parsed message.
fn check_fact(file: &str, m: &Message, key: &str, want: &str) {
    let got: String = match key {
        "method" => m.method_str().to_string(),
        "ruri" => m.request_uri().to_string(),
        "via_count" => m.header_values(HeaderName::Via).count().to_string(),
        "call_id" => m.header(HeaderName::CallId).unwrap_or("").to_string(),
        "cseq" => cseq(m).seq.to_string(),
        "cseq_method" => cseq(m).method.to_string(),
        "body_len" => m.body().len().to_string(),
        "to_tag" => na(m, HeaderName::To).tag().unwrap_or("").to_string(),
        "contact_count" => contacts(m).len().to_string(),
        "from_display" => na(m, HeaderName::From)
            .display_name()
            .unwrap_or_default()
            .into_owned(),
        "ipv6_host" => {
            let ruri_host = Uri::parse(m.request_uri()).ok().and_then(|u| match u {
                Uri::Sip(s) if matches!(s.host, Host::V6(_)) => {
                    let t = m.request_uri();
                    t.find('[')
                        .zip(t.find(']'))
                        .map(|(a, b)| t[a..=b].to_string())
                }
                _ => None,
            });
            ruri_host
                .or_else(|| {
                    let v = &vias(m)[0];
                    matches!(v.host, Host::V6(_)).then(|| v.host_str.to_string())
                })
                .unwrap_or_default()
        }
        other => panic!("{file}: unknown fact {other:?}"),
    };
    assert_eq!(got, want, "{file}: fact {key}");
}

#[test]
fn every_torture_file_has_a_test() {
    let source = include_str!("torture.rs");
    let rows = rows();
    let mut on_disk = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        for e in std::fs::read_dir(format!("{TORTURE_DIR}/{dir}")).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if let Some(stem) = name.strip_suffix(".sip") {
                on_disk.push(format!("{dir}/{stem}"));
            }
        }
    }
    on_disk.sort();
    let mut in_tsv: Vec<String> = rows.iter().map(|r| r.file.clone()).collect();
    in_tsv.sort();
    assert_eq!(
        on_disk, in_tsv,
        "expectations.tsv and the .sip files disagree"
    );
    assert_eq!(in_tsv.len(), 61);

    for row in &rows {
        let test_name = row.file.replace(['/', '-'], "_");
        assert!(
            source.contains(&format!("fn {test_name}()")),
            "{} has no test `{test_name}` in tests/torture.rs",
            row.file
        );
        match row.class.as_str() {
            "valid" | "valid-syntax-semantic-error" => {
                let data = raw(&row.file);
                // badvers: see rfc4475_badvers (version refused by the parser).
                let data = if row.file == "rfc4475/badvers" {
                    assert_eq!(
                        parse_bytes(data.clone()).unwrap_err(),
                        ParseError::BadVersion
                    );
                    String::from_utf8(data)
                        .unwrap()
                        .replacen("SIP/7.0\r\n", "SIP/2.0\r\n", 1)
                        .into_bytes()
                } else {
                    data
                };
                let m = parse_bytes(data).unwrap_or_else(|e| panic!("{}: {e:?}", row.file));
                for (k, v) in &row.facts {
                    check_fact(&row.file, &m, k, v);
                }
                if row.class == "valid" {
                    assert_eq!(first_defect(raw(&row.file)), None, "{} is valid", row.file);
                }
            }
            "invalid-syntax" => {
                let got = first_defect(raw(&row.file));
                assert_eq!(
                    got,
                    defect_variant(&row.defect),
                    "{}: {}",
                    row.file,
                    row.defect
                );
            }
            other => panic!("{}: unknown class {other}", row.file),
        }
    }
}
