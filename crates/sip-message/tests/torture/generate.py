#!/usr/bin/env python3
"""Generate the SIP torture-test corpus for locus.

Writes, next to this script:

  rfc4475/<name>.sip   the 49 messages of RFC 4475 section 3 (3.1.1, 3.1.2, 3.2, 3.3, 3.4)
  rfc5118/<name>.sip   the 12 messages of RFC 5118 section 4
  expectations.tsv     machine-readable expectations (one row per message)
  EXPECTATIONS.md      the same, human-readable

Run it from anywhere:  python3 generate.py   (pure stdlib, deterministic, idempotent)
Check only, write nothing:  python3 generate.py --check   (exit 1 if a file on disk differs)

Message notation
----------------
Every message below is written as readable text, one header line per source line, using the
notation of RFC 4475 section 2:

  * each "\\n" in the text becomes CRLF on the wire (the messages are CRLF-terminated);
  * <hex>HH HH ...</hex> inserts those raw octets verbatim (whitespace inside is ignored).
    Octets inserted this way are never touched by the LF->CRLF conversion, so binary bodies
    (mpart01) keep their bare 0x0D/0x0A/0x00 octets. Trailing spaces that matter (noreason,
    trws) are written as <hex>20</hex> so no editor can strip them;
  * <repeat count=N>TEXT</repeat> inserts TEXT N times (RFC 4475 section 2.3);
  * <bodylen/> is replaced by the decimal length of the body (only used where the RFC's
    declared Content-Length is arithmetically wrong, see RFC 5118 notes below).

The text outside <hex> must be pure ASCII; the script asserts this.

Only the Python standard library is used.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------------
# Expansion of the notation
# --------------------------------------------------------------------------------------------

_REPEAT = re.compile(r"<repeat count=(\d+)>(.*?)</repeat>", re.S)
_HEX = re.compile(r"<hex>(.*?)</hex>", re.S)


def expand(src):
    """Turn a message written in the notation above into wire bytes."""
    if src.startswith("\n"):
        src = src[1:]  # the line right after the opening triple quote
    src = _REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), src)
    out = bytearray()
    pos = 0
    for m in _HEX.finditer(src):
        out += _text(src[pos:m.start()])
        out += bytes.fromhex("".join(m.group(1).split()))
        pos = m.end()
    out += _text(src[pos:])
    data = bytes(out)
    if b"<bodylen/>" in data:
        sep = data.index(b"\r\n\r\n") + 4
        data = data.replace(b"<bodylen/>", str(len(data) - sep).encode())
    return data


def _text(s):
    assert all(ord(c) < 128 for c in s), "non-ASCII text outside <hex>: %r" % s
    assert "\r" not in s, "write line ends as plain newlines"
    return s.replace("\n", "\r\n").encode("ascii")


# --------------------------------------------------------------------------------------------
# The messages
# --------------------------------------------------------------------------------------------

# The SDP body RFC 4475 uses over and over (150 octets with a 9-character IPv4 address).
def sdp(ip, t="0 0"):
    return ("v=0\no=mhandley 29739 7272939 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=%s\n"
            "m=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n" % (ip, ip, t))


MPART01_BINARY = """
3082015206092A864886F70D010702A08201433082013F02
01013109300706052B0E03021A300B06092A864886F70D010701318201203082
011C020101307C3070310B300906035504061302555331133011060355040813
0A43616C69666F726E69613111300F0603550407130853616E204A6F7365310E
300C060355040A1305736970697431293027060355040B132053697069742054
65737420436572746966696361746520417574686F7269747902080195007102
330113300706052B0E03021A300D06092A864886F70D01010105000481808EF4
66F948F0522DD2E5978E9D95AAE9F2FE15A06659716292E8DA2AA8D8350A68CE
FFAE3CBD2BFF1675DDD5648E593DD64728F26220F7E941749E330D9A15EDABDB
93D10C42102E7B7289D29CC0C9AE2EFBC7C0CFF9172F3B027E4FC027E1546DE4
B6AA3ABB3E66CCCB5DD6C64B8383149CB8E6FF182D944FE57B65BC99D005
"""

RFC4475 = {}
RFC5118 = {}

# ---- 3.1.1 Valid messages -------------------------------------------------------------------

RFC4475["wsinv"] = r"""
INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

""" + sdp("192.0.2.3").replace("c=IN IP4 192.0.2.3", "c=IN IP4 192.0.2.4")

RFC4475["intmeth"] = r"""
!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
To: "BEL:\<hex>07</hex> NUL:\<hex>00</hex> DEL:\<hex>7F</hex>" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="<hex>D180D0B0D0B1D0BED182D0B0D18ED189D0B8D0B9</hex>";tag=_token~1'+`*%!-.
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~:<hex>EFBBBFE5A4A7E5819CE99BBB</hex>
Content-Length: 0

"""

RFC4475["esc01"] = """
INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 150

""" + sdp("192.0.2.1")

RFC4475["escnull"] = """
REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0

"""

RFC4475["esc02"] = """
RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

"""

RFC4475["lwsdisp"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

"""

RFC4475["longreq"] = """
INVITE sip:user@example.com SIP/2.0
To: "I have a user name of <repeat count=10>extreme</repeat> proportion"<sip:user@example.com:6000;unknownparam1=very<repeat count=20>long</repeat>value;longparam<repeat count=25>name</repeat>=shortvalue;very<repeat count=25>long</repeat>ParameterNameWithNoValue>
F: sip:<repeat count=5>amazinglylongcallername</repeat>@example.net;tag=12<repeat count=50>982</repeat>424;unknownheaderparam<repeat count=20>name</repeat>=unknowheaderparam<repeat count=15>value</repeat>;unknownValueless<repeat count=10>paramname</repeat>
Call-ID: longreq.one<repeat count=20>really</repeat>longcallid
CSeq: 3882340 INVITE
Unknown-<repeat count=20>Long</repeat>-Name: unknown-<repeat count=20>long</repeat>-value; unknown-<repeat count=20>long</repeat>-parameter-name = unknown-<repeat count=20>long</repeat>-parameter-value
Via: SIP/2.0/TCP sip33.example.com
v: SIP/2.0/TCP sip32.example.com
V: SIP/2.0/TCP sip31.example.com
Via: SIP/2.0/TCP sip30.example.com
ViA: SIP/2.0/TCP sip29.example.com
VIa: SIP/2.0/TCP sip28.example.com
VIA: SIP/2.0/TCP sip27.example.com
via: SIP/2.0/TCP sip26.example.com
viA: SIP/2.0/TCP sip25.example.com
vIa: SIP/2.0/TCP sip24.example.com
vIA: SIP/2.0/TCP sip23.example.com
V :  SIP/2.0/TCP sip22.example.com
v :  SIP/2.0/TCP sip21.example.com
V  : SIP/2.0/TCP sip20.example.com
v  : SIP/2.0/TCP sip19.example.com
Via : SIP/2.0/TCP sip18.example.com
Via  : SIP/2.0/TCP sip17.example.com
Via: SIP/2.0/TCP sip16.example.com
Via: SIP/2.0/TCP sip15.example.com
Via: SIP/2.0/TCP sip14.example.com
Via: SIP/2.0/TCP sip13.example.com
Via: SIP/2.0/TCP sip12.example.com
Via: SIP/2.0/TCP sip11.example.com
Via: SIP/2.0/TCP sip10.example.com
Via: SIP/2.0/TCP sip9.example.com
Via: SIP/2.0/TCP sip8.example.com
Via: SIP/2.0/TCP sip7.example.com
Via: SIP/2.0/TCP sip6.example.com
Via: SIP/2.0/TCP sip5.example.com
Via: SIP/2.0/TCP sip4.example.com
Via: SIP/2.0/TCP sip3.example.com
Via: SIP/2.0/TCP sip2.example.com
Via: SIP/2.0/TCP sip1.example.com
Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very<repeat count=50>long</repeat>branchvalue
Max-Forwards: 70
Contact: <sip:<repeat count=5>amazinglylongcallername</repeat>@host5.example.net>
Content-Type: application/sdp
l: 150

""" + sdp("192.0.2.1")

# One UDP datagram: a complete REGISTER (Content-Length 0) followed by junk that happens to
# look like an INVITE. As in the RFC's archive, one extra empty line separates the two, and the
# junk ends with an extra CRLF. Nothing after the REGISTER's empty line is part of any message.
RFC4475["dblreq"] = """
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0


INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Max-Forwards: 8
Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Type: application/sdp
Content-Length: 150

""" + sdp("192.0.2.15").replace("m=video", "m =video") + "\n"

RFC4475["semiuri"] = """
OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

"""

RFC4475["transports"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0

"""

RFC4475["mpart01"] = """
MESSAGE sip:kumiko@example.org SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport
Max-Forwards: 70
Route: <sip:127.0.0.1:5080>
Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=
Contact: <sip:fluffy@127.0.0.1:5070>
To: <sip:kumiko@example.org>
From: <sip:fluffy@example.com>;tag=2fb0dcc9
Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..
CSeq: 1 MESSAGE
Content-Transfer-Encoding: binary
Content-Type: multipart/mixed;boundary=7a9cbec02ceef655
Date: Sat, 15 Oct 2005 04:44:56 GMT
User-Agent: SIPimp.org/0.2.5 (curses)
Content-Length: 553

--7a9cbec02ceef655
Content-Type: text/plain
Content-Transfer-Encoding: binary

Hello
--7a9cbec02ceef655
Content-Type: application/octet-stream
Content-Transfer-Encoding: binary

<hex>""" + MPART01_BINARY + """</hex>
--7a9cbec02ceef655--
"""

# Reason phrase: "= 2**3 * 5**2 " followed by UTF-8 Russian text
# ("no sto devyanosto devyat' - prostoe": "but 199 is prime").
RFC4475["unreason"] = """
SIP/2.0 200 = 2**3 * 5**2 <hex>
D0BDD0BE20D181D182D0BE20D0B4D0B5D0B2D18FD0BDD0BED181D182D0BE20D0B4D0B5D0B2D18FD182D18C
202D20D0BFD180D0BED181D182D0BED0B5</hex>
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>

""" + sdp("192.0.2.198")

RFC4475["noreason"] = """
SIP/2.0 100<hex>20</hex>
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

"""

# ---- 3.1.2 Invalid messages -----------------------------------------------------------------

RFC4475["badinv01"] = """
INVITE sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: 152
Content-Type: application/sdp

""" + sdp("192.0.2.15")

RFC4475["clerr"] = """
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2
Contact: <sip:caller@hungry.example.net>
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999

""" + sdp("192.0.2.155")

RFC4475["ncl"] = """
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 254
To: sip:j.user@example.com
From: sip:caller@example.net;tag=32394234
Call-ID: ncl.0ha0isndaksdj2193423r542w35
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
Contact: <sip:caller@example53.example.net>
Content-Type: application/sdp
Content-Length: -999

""" + sdp("192.0.2.53")

RFC4475["scalar02"] = """
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 1<repeat count=100>0</repeat>
Contact: <sip:user@host129.example.com>
  ;expires=280297596632815
Content-Length: 0

"""

RFC4475["scalarlg"] = """
SIP/2.0 503 Service Unavailable
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129
To: <sip:user@example.com>
From: <sip:other@example.net>;tag=2easdjfejw
CSeq: 9292394834772304023312 OPTIONS
Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
Retry-After: 949302838503028349304023988
Warning: 1812 overture "In Progress"
Content-Length: 0

"""

RFC4475["quotbal"] = """
INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: 152

""" + sdp("192.0.2.15")

RFC4475["ltgtruri"] = """
INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 159

""" + sdp("192.0.2.5", t="3149328700 0")

RFC4475["lwsruri"] = """
INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423
CSeq: 2130706432 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 159

""" + sdp("192.0.2.1", t="3149328700 0")

RFC4475["lwsstart"] = """
INVITE  sip:user@example.com  SIP/2.0
Max-Forwards: 8
To: sip:user@example.com
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 150

""" + sdp("192.0.2.1")

# "examle" (sic) is the RFC's own spelling.
RFC4475["trws"] = """
OPTIONS sip:remote-target@example.com SIP/2.0<hex>2020</hex>
Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093
To: <sip:remote-target@example.com>
From: <sip:local-resource@example.com>;tag=329429089
Call-ID: trws.oicu34958239neffasdhr2345r
Accept: application/sdp
CSeq: 238923 OPTIONS
Max-Forwards: 70
Content-Length: 0

"""

RFC4475["escruri"] = """
INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=341518
Max-Forwards: 7
Contact: <sip:caller@host39923.example.net>
Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5
CSeq: 149209342 INVITE
Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw
Content-Type: application/sdp
Content-Length: 150

""" + sdp("192.0.2.1")

RFC4475["baddate"] = """
INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=2234923
Max-Forwards: 70
Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
CSeq: 1392934 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
Date: Fri, 01 Jan 2010 16:00:00 EST
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 150

""" + sdp("192.0.2.5")

RFC4475["regbadct"] = """
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=998332
Max-Forwards: 70
Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E
l: 0

"""

RFC4475["badaspec"] = """
OPTIONS sip:user@example.org SIP/2.0
Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234
Max-Forwards: 70
From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423
To: "Watson, Thomas" < sip:t.watson@example.org >
Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
Accept: application/sdp
CSeq: 3923239 OPTIONS
l: 0

"""

# NOTE: the bit-exact archive in RFC 4475 Appendix B ends this message after "l: 0" CRLF with
# no terminating empty line. We add the empty line so that the message is complete and the
# parser reaches the defect the section is about (unquoted display names with a comma).
RFC4475["baddn"] = """
OPTIONS sip:t.watson@example.org SIP/2.0
Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards:      70
From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43
To:      Watson, Thomas <sip:t.watson@example.org>
Call-ID: baddn.31415@c.example.com
Accept: application/sdp
CSeq:    3923239 OPTIONS
l: 0

"""

RFC4475["badvers"] = """
OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.com
CSeq:    1 OPTIONS
l: 0

"""

RFC4475["mismatch01"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
l: 0

"""

RFC4475["mismatch02"] = """
NEWMETHOD sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: 138

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
c=IN IP4 192.0.2.1
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"""

RFC4475["bigcode"] = """
SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

"""

# ---- 3.2 Transaction layer semantics --------------------------------------------------------

RFC4475["badbranch"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0

"""

# ---- 3.3 Application-layer semantics --------------------------------------------------------

RFC4475["insuf"] = """
INVITE sip:user@example.com SIP/2.0
CSeq: 193942 INVITE
Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
Content-Type: application/sdp
l: 152

""" + sdp("192.0.2.95")

RFC4475["unkscm"] = """
OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0

"""

RFC4475["novelsc"] = """
OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: novelsc.asdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0

"""

RFC4475["unksm2"] = """
REGISTER sip:example.com SIP/2.0
To: isbn:2983792873
From: <http://www.example.com>;tag=3234233
Call-ID: unksm2.daksdj@hyphenated-host.example.com
CSeq: 234902 REGISTER
Max-Forwards: 70
Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw
Contact: <name:John_Smith>
l: 0

"""

RFC4475["bext01"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.net;tag=242etr
Max-Forwards: 6
Call-ID: bext01.0ha0isndaksdj
Require: nothingSupportsThis, nothingSupportsThisEither
Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis
CSeq: 8 OPTIONS
Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw
Content-Length: 0

"""

RFC4475["invut"] = """
INVITE sip:user@example.com SIP/2.0
Contact: <sip:caller@host5.example.net>
To: sip:j.user@example.com
From: sip:caller@example.net;tag=8392034
Max-Forwards: 70
Call-ID: invut.0ha0isndaksdjadsfij34n23d
CSeq: 235448 INVITE
Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw
Content-Type: application/unknownformat
Content-Length: 40

<audio>
 <pcmu port="443"/>
</audio>
"""

RFC4475["regaut01"] = """
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=87321hj23128
Max-Forwards: 8
Call-ID: regaut01.0ha0isndaksdj
CSeq: 9338 REGISTER
Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw
Authorization: NoOneKnowsThisScheme opaque-data=here
Content-Length:0

"""

# The body is 154 octets: the usual SDP (152 with this address) plus one extra CRLF.
RFC4475["multi01"] = """
INVITE sip:user@company.com SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.com;tag=3413415
To: sip:user@example.com
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
Content-Type: application/sdp
l: 154
Contact: <sip:caller@host36.example.net>
Max-Forwards: 5

""" + sdp("192.0.2.25") + "\n"

RFC4475["mcl01"] = """
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
To: sip:user@example.com
From: sip:other@example.net;tag=3923942
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Max-Forwards: 60
Content-Length: 5
Content-Type: text/plain

There's no way to know how many octets are supposed to be here.

"""

RFC4475["bcast"] = """
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23
Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host28.example.com>

""" + sdp("192.0.2.198")

RFC4475["zeromf"] = """
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=3ghsd41
Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas
CSeq: 39234321 OPTIONS
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i
Max-Forwards: 0
Content-Length: 0

"""

RFC4475["cparam01"] = """
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe
To: sip:watson@example.com
Call-ID: cparam01.70710@saturn.example.com
CSeq: 2 REGISTER
Contact: sip:+19725552222@gw1.example.net;unknownparam
l: 0

"""

RFC4475["cparam02"] = """
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=838293
To: sip:watson@example.com
Call-ID: cparam02.70710@saturn.example.com
CSeq: 3 REGISTER
Contact: <sip:+19725552222@gw1.example.net;unknownparam>
l: 0

"""

RFC4475["regescrt"] = """
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=8
Max-Forwards: 70
Call-ID: regescrt.k345asrl3fdbv@192.0.2.1
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>
L:0

"""

RFC4475["sdp01"] = """
INVITE sip:user@example.com SIP/2.0
To: sip:j_user@example.com
Contact: <sip:caller@host15.example.net>
From: sip:caller@example.net;tag=234
Max-Forwards: 5
Call-ID: sdp01.ndaksdj9342dasdd
Accept: text/nobodyKnowsThis
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw
Content-Length: 150
Content-Type: application/sdp

""" + sdp("192.0.2.5")

# ---- 3.4 Backward compatibility -------------------------------------------------------------

# No Content-Length at all: over UDP the body is the rest of the datagram (RFC 3261 18.3).
RFC4475["inv2543"] = """
INVITE sip:UserB@example.com SIP/2.0
Via: SIP/2.0/UDP iftgw.example.com
From: <sip:+13035551111@ift.client.example.net;user=phone>
Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>
To: sip:+16505552222@ss1.example.net;user=phone
Call-ID: inv2543.1717@ift.client.example.com
CSeq: 56 INVITE
Content-Type: application/sdp

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=0 0
m=audio 49217 RTP/AVP 0
"""

# ---- RFC 5118 section 4 ---------------------------------------------------------------------
#
# Two systematic deviations from RFC 5118's Appendix A archive, both forced:
#  * the archive's files use bare LF; ours use CRLF like every SIP message;
#  * three messages declare a Content-Length that matches no rendering of their body
#    (ipv6-in-sdp 268, mult-ip-in-sdp 181, ipv4-mapped-ipv6 236). These are valid messages,
#    so we write the real CRLF body length (251, 189, 245) via <bodylen/>;
#  * the two 4.10 messages have no terminating empty line in the archive; we add it.

RFC5118["ipv6-good"] = """
REGISTER sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::1]>
CSeq: 98176 REGISTER
Content-Length: 0

"""

RFC5118["ipv6-bad"] = """
REGISTER sip:2001:db8::10 SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::1]>
CSeq: 98176 REGISTER
Content-Length: 0

"""

RFC5118["port-ambiguous"] = """
REGISTER sip:[2001:db8::10:5070] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Contact: "Caller" <sip:caller@[2001:db8::1]>
Max-Forwards: 70
CSeq: 98176 REGISTER
Content-Length: 0

"""

RFC5118["port-unambiguous"] = """
REGISTER sip:[2001:db8::10]:5070 SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Contact: "Caller" <sip:caller@[2001:db8::1]>
Max-Forwards: 70
CSeq: 98176 REGISTER
Content-Length: 0

"""

RFC5118["via-received-param-with-delim"] = """
BYE sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com;tag=bd76ya
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Max-Forwards: 70
CSeq: 321 BYE
Content-Length: 0

"""

RFC5118["via-received-param-no-delim"] = """
OPTIONS sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3
Call-ID: SSG95523997077@hlau_4100
Max-Forwards: 70
Contact: "Caller" <sip:caller@[2001:db8::9:1]>
CSeq: 921 OPTIONS
Content-Length: 0

"""

RFC5118["ipv6-in-sdp"] = """
INVITE sip:user@[2001:db8::10] SIP/2.0
To: sip:user@[2001:db8::10]
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::20];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Contact: "Caller" <sip:caller@[2001:db8::20]>
CSeq: 8612 INVITE
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: <bodylen/>

v=0
o=assistant 971731711378798081 0 IN IP6 2001:db8::20
s=Live video feed for today's meeting
c=IN IP6 2001:db8::20
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
"""

RFC5118["mult-ip-in-header"] = """
BYE sip:user@host.example.net SIP/2.0
Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144
Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200
Call-ID: 997077@lau_4100
Max-Forwards: 70
CSeq: 89187 BYE
To: sip:user@example.net;tag=9817--94
From: sip:user@example.com;tag=81x2
Content-Length: 0

"""

RFC5118["mult-ip-in-sdp"] = """
INVITE sip:user@[2001:db8::10] SIP/2.0
To: sip:user@[2001:db8::10]
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Contact: "Caller" <sip:caller@[2001:db8::9:1]>
Max-Forwards: 70
CSeq: 8912 INVITE
Content-Type: application/sdp
Content-Length: <bodylen/>

v=0
o=bob 280744730 28977631 IN IP4 host.example.com
s=
t=0 0
m=audio 22334 RTP/AVP 0
c=IN IP4 192.0.2.1
m=video 6024 RTP/AVP 107
c=IN IP6 2001:db8::1
a=rtpmap:107 H263-1998/90000
"""

RFC5118["ipv4-mapped-ipv6"] = """
INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:user@east.example.com;tag=81x2
Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19
Via: SIP/2.0/UDP [::ffff:192.0.2.2];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Contact: "T. desk phone" <sip:ted@[::ffff:192.0.2.2]>
CSeq: 612 INVITE
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: <bodylen/>

v=0
o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2
s=Call me soon, please!
c=IN IP6 ::ffff:192.0.2.2
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
"""

RFC5118["ipv6-bug-abnf-3-colons"] = """
OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0
To: sip:user@[2001:db8:::192.0.2.1]
From: sip:user@example.com;tag=810x2
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111
Call-ID: G9559905523997077@hlau_4100
CSeq: 689 OPTIONS
Max-Forwards: 70
Content-Length: 0

"""

RFC5118["ipv6-correct-abnf-2-colons"] = """
OPTIONS sip:user@[2001:db8::192.0.2.1] SIP/2.0
To: sip:user@[2001:db8::192.0.2.1]
From: sip:user@example.com;tag=810x2
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111
Call-ID: G9559905523997077@hlau_4100
CSeq: 689 OPTIONS
Max-Forwards: 70
Content-Length: 0

"""

# --------------------------------------------------------------------------------------------
# Expectations
# --------------------------------------------------------------------------------------------
#
# Each entry: (rfc, name, section, title, what_it_tests, class, defect_or_status, facts, outcome)
#   class:  valid | invalid-syntax | valid-syntax-semantic-error
#   facts:  dict, keys from FACT_KEYS; "body_len" is filled in from the generated bytes.
#   outcome: prose for EXPECTATIONS.md (what our parser / transaction layer / registrar does).

FACT_KEYS = ["method", "ruri", "via_count", "call_id", "cseq", "cseq_method", "body_len",
             "to_tag", "contact_count", "from_display", "ipv6_host"]

V, I, S = "valid", "invalid-syntax", "valid-syntax-semantic-error"


def req(method, ruri, via, call_id, cseq, cseq_method=None, contacts=0, **kw):
    f = {"method": method, "ruri": ruri, "via_count": via, "call_id": call_id, "cseq": cseq,
         "cseq_method": cseq_method or method, "body_len": None, "contact_count": contacts}
    f.update(kw)
    return f


def resp(via, call_id, cseq, cseq_method, contacts=0, **kw):
    f = {"via_count": via, "call_id": call_id, "cseq": cseq, "cseq_method": cseq_method,
         "body_len": None, "contact_count": contacts}
    f.update(kw)
    return f


IM_METHOD = "!interesting-Method0123456789_*+`.%indeed'~"
LONG_CALLID = "longreq.one" + "really" * 20 + "longcallid"

E = [
    # ---------------------------------------------------------------- RFC 4475 3.1.1 valid
    ("4475", "wsinv", "3.1.1.1", "A Short Tortuous INVITE",
     "line folding everywhere, escaped chars in quoted strings, empty Subject (`s :`), LWS around "
     "colons/semicolons/slashes, comma-separated and repeated Via, compact and long header names "
     "mixed, unknown R-URI/header params, unknown headers (one with value `;;,,;;,;`), odd header "
     "name case, valueless params, leading zeros in Max-Forwards/CSeq",
     V, "",
     req("INVITE", "sip:vivekg@chair-dnrc.example.com;unknownparam", 3, "wsinv.ndaksdj@192.0.2.1", 9,
         contacts=1, to_tag="1918181833n", from_display='J Rosenberg \\"'),
     "Parse OK. Max-Forwards = 68; From tag `98asjd8`; Vias: `SIP/2.0/UDP 192.0.2.2` branch `390skdjuw`, "
     "`SIP/2.0/TCP spindle.example.com` branch `z9hG4bK9ikj8`, `SIP/2.0/UDP 192.168.255.111` branch "
     "`z9hG4bK30239`; Subject present and empty; one Route `<sip:services.example.com;lr;unknownwith=value;unknown-no-value>`; "
     "Contact display name unescapes to `Quoted string \"\"`, params newparam=newvalue, secondparam (no value), q=0.33; "
     "`UnknownHeaderWithUnusualValue` value is `;;,,;;,;`; `NewFangledHeader` value is the folded "
     "`newfangled value continued newfangled value`."),
    ("4475", "intmeth", "3.1.1.2", "Wide Range of Valid Characters",
     "every non-alphanumeric token char in the method, unusual but legal R-URI user/password chars, "
     "quoted-pairs of BEL/NUL/DEL in a display name, token display name, UTF-8 param value, Call-ID "
     "`word` chars, extension header with UTF-8 value",
     V, "",
     req(IM_METHOD,
         "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
         1, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", 139122385,
         from_display="token1~` token2'+_ token3*%!.-"),
     "Parse OK; the method is an *extension* method (not INVITE; `%` is not an escape there). "
     "R-URI user `1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*`, password "
     "`&it+has=1,weird!*pas$wo~d_too.(doesn't-it)`. To display name unescapes to `BEL:` 0x07 ` NUL:` 0x00 "
     "` DEL:` 0x7F (the NUL must not truncate it). From param `fromParam''~+*_!.-%` = quoted UTF-8 "
     "`\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439`; From tag `` _token~1'+`*%!-. ``; "
     "Via branch `` z9hG4bK-.!%66*_+`'~ ``; Max-Forwards 255; header `` extensionHeader-!.%*+_`'~ `` "
     "value is the 12 octets EF BB BF E5 A4 A7 E5 81 9C E9 9B BB. Application layer: a UAS answers 501 "
     "(proxy: 404 unless the URI is known)."),
    ("4475", "esc01", "3.1.1.3", "Valid Use of the % Escaping Mechanism",
     "%HEX HEX escapes in R-URI user part, To/From user parts and Contact URI params",
     V, "",
     req("INVITE", "sip:sips%3Auser%40example.com@example.net", 1, "esc01.239409asdfakjkn23onasd0-3234",
         234234, contacts=1),
     "Parse OK. R-URI user unescapes to `sips:user@example.com`; To user unescapes to `user`; From user "
     "to `I have spaces`, From tag `938`; Contact URI user `caller`, params `lr` (from `%6C%72`, no value) "
     "and `name` (from `n%61me`) whose value unescapes ONCE to `value%41` (not `valueA`). Max-Forwards 87; "
     "compact `i:` = Call-ID and `C:` = Content-Type application/sdp."),
    ("4475", "escnull", "3.1.1.4", "Escaped Nulls in URIs",
     "`%00` in URI user parts; two distinct Contacts differing only in the number of escaped NULs",
     V, "",
     req("REGISTER", "sip:example.com", 1, "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", 14398234,
         contacts=2),
     "Parse OK. To/From AOR user unescapes to `null-` 0x00 `-null` (must not be shortened at the NUL); "
     "Contacts users are 1 and 2 NUL octets (`%00`, `%00%00`) and are two DISTINCT bindings. Registrar: "
     "200 OK registering 2 contacts for the AOR. Compact `L:0` is Content-Length 0."),
    ("4475", "esc02", "3.1.1.5", "Use of % When It Is Not an Escape",
     "`%` in a method, a quoted display name, a Via branch and a header NAME, where it is not an escape",
     V, "",
     req("RE%47IST%45R", "sip:registrar.example.com", 1, "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
         29344, contacts=2, from_display="%Z%45"),
     "Parse OK. Method `RE%47IST%45R` is an unknown extension method, NOT REGISTER (UAS: 501). To and "
     "From display name is literally `%Z%45`. Via branch `z9hG4bK209%fzsnel234`. Exactly two Contact "
     "values (alias1, alias3): `C%6Fntact` is an unknown extension header whose value is "
     "`<sip:alias2@host2.example.com>`."),
    ("4475", "lwsdisp", "3.1.1.6", "Message with No LWS between Display Name and <",
     "token display name directly followed by `<` (`caller<sip:...>`)",
     V, "",
     req("OPTIONS", "sip:user@example.com", 1, "lwsdisp.1234abcd@funky.example.com", 60,
         from_display="caller"),
     "Parse OK (RFC 3261 grammar bug; must be accepted). From display name `caller`, URI "
     "`sip:caller@example.com`, tag `323`."),
    ("4475", "longreq", "3.1.1.7", "Long Values in Header Fields",
     "very long display name, URI params, tag, header params, Call-ID, unknown header name/value, "
     "branch; 34 Via values in many spellings (`Via`, `v`, `V`, `ViA`, `V :`, ...)",
     V, "",
     req("INVITE", "sip:user@example.com", 34, LONG_CALLID, 3882340, contacts=1),
     "Parse OK; no length limit below these values may trigger. To display name `I have a user name of "
     "extreme x10 proportion`, To URI port 6000 with 3 unknown params; From tag is `12` + `982`x50 + `424` "
     "(154 chars); topmost Via is `sip33.example.com`, 34th is `host.example.com` with received=192.0.2.5 "
     "and branch `very`+`long`x50+`branchvalue`; Contact user is `amazinglylongcallername`x5. "
     "Compact `F:` = From, `l:` = Content-Length."),
    ("4475", "dblreq", "3.1.1.8", "Extra Trailing Octets in a UDP Datagram",
     "a datagram holding a complete REGISTER (Content-Length 0) followed by octets that look like an "
     "INVITE",
     V, "",
     req("REGISTER", "sip:example.com", 1, "dblreq.0ha0isndaksdj99sdfafnl3lk233412", 8, contacts=1),
     "Parse the datagram as ONE REGISTER with an empty body; the trailing INVITE-looking octets are "
     "discarded (RFC 3261 18.3) and must never surface as a second message or be forwarded. Registrar: "
     "200 OK for Contact `sip:j.user@host.example.com`. (On a stream transport those octets would instead "
     "be the start of the next message.)"),
    ("4475", "semiuri", "3.1.1.9", "Semicolon-Separated Parameters in URI User Part",
     "`;` inside the R-URI user part and an escaped `@`",
     V, "",
     req("OPTIONS", "sip:user;par=u%40example.net@example.com", 1, "semiuri.0ha0isndaksdj", 8),
     "Parse OK. R-URI host `example.com`, user part `user;par=u%40example.net` (unescaped "
     "`user;par=u@example.net`), no URI params. Accept is folded over 3 lines and has 6 values."),
    ("4475", "transports", "3.1.1.10", "Varied and Unknown Transport Types",
     "Via transports UDP, SCTP, TLS, an unknown `UNKNOWN`, TCP",
     V, "",
     req("OPTIONS", "sip:user@example.com", 5, "transports.kijh4akdnaqjkwendsasfdj", 60),
     "Parse OK; Via transports in order UDP, SCTP, TLS, UNKNOWN (kept as an extension token), TCP. "
     "Call-ID has two spaces after the colon; the value is `transports.kijh4akdnaqjkwendsasfdj`."),
    ("4475", "mpart01", "3.1.1.11", "Multipart MIME Message",
     "multipart/mixed body whose second part is binary (contains NUL and bare CR/LF octets)",
     V, "",
     req("MESSAGE", "sip:kumiko@example.org", 1, "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..", 1,
         contacts=1),
     "Parse OK; the body is exactly 553 octets framed by Content-Length (binary part is 342 octets of "
     "DER), never by scanning for CRLF or NUL. Content-Type multipart/mixed, boundary `7a9cbec02ceef655`; "
     "Via has port 5070 and a valueless `rport`; Identity header kept verbatim."),
    ("4475", "unreason", "3.1.1.12", "Unusual Reason Phrase",
     "200 response whose reason phrase contains `=`, `*` and UTF-8 (Cyrillic) text",
     V, "",
     resp(1, "unreason.1234ksdfak3j2erwedfsASdf", 35, "INVITE", contacts=1, to_tag="2229"),
     "Parse OK: status 200, reason phrase = `= 2**3 * 5**2 ` followed by the UTF-8 text "
     "`\u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e "
     "\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435` (byte-exact)."),
    ("4475", "noreason", "3.1.1.13", "Empty Reason Phrase",
     "status line `SIP/2.0 100 ` with the mandatory SP and an empty reason phrase",
     V, "",
     resp(1, "noreason.asndj203insdf99223ndf", 35, "INVITE", contacts=1, to_tag="902jndnke3"),
     "Parse OK: status 100, reason phrase empty."),
    # ---------------------------------------------------------------- RFC 4475 3.1.2 invalid
    ("4475", "badinv01", "3.1.2.1", "Extraneous Header Field Separators",
     "Via `SIP/2.0/UDP 192.0.2.15;;,;,,` and Contact `...;;;;` carry empty params / empty list elements",
     I, "extraneous_separator", {},
     "Reject (Via / Contact value parse error). RFC: respond 400 Bad Request. Note the same junk in an "
     "UNKNOWN header is legal (wsinv), so the error belongs to the typed Via/Contact parse."),
    ("4475", "clerr", "3.1.2.2", "Content Length Larger Than Message",
     "Content-Length 9999 but only 154 body octets follow",
     I, "content_length_mismatch", {},
     "Datagram: reject, RFC says 400 Bad Request. Stream: not an error yet - wait for more data and "
     "close the connection on timeout (the framer must report `incomplete`, not a message)."),
    ("4475", "ncl", "3.1.2.3", "Negative Content-Length",
     "Content-Length: -999",
     I, "bad_content_length", {},
     "Reject; never convert to a negative/huge integer. UDP: error response (400) and discard the rest of "
     "the datagram; TCP: framing is unrecoverable, close the connection. Same for non-numeric values "
     "such as `Content-Length: five`."),
    ("4475", "scalar02", "3.1.2.4", "Request Scalar Fields with Overlarge Values",
     "CSeq number 36893488147419103232 (> 2**32-1), Max-Forwards 300 (> 255), Expires 10**100, Contact "
     "expires=280297596632815",
     I, "bad_cseq", {},
     "Reject with 400 because of the CSeq (the CSeq error is decisive). Had only Max-Forwards been bad it "
     "could be treated as absent; bad expiry values could be treated as the default (3600)."),
    ("4475", "scalarlg", "3.1.2.5", "Response Scalar Fields with Overlarge Values",
     "response with CSeq 9292394834772304023312, Retry-After 949302838503028349304023988, 4-digit "
     "warn-code 1812",
     I, "bad_cseq", {},
     "Reject; a received response is simply discarded (no response to a response)."),
    ("4475", "quotbal", "3.1.2.6", "Unterminated Quoted String in Display Name",
     "To: `\"Mr. J. User <sip:j.user@example.com>` - the quote never closes",
     I, "unterminated_quote", {},
     "Reject, RFC: 400 Bad Request (inferring the missing quote is allowed but not recommended)."),
    ("4475", "ltgtruri", "3.1.2.7", "<> Enclosing Request-URI",
     "Request-URI written as `<sip:user@example.com>`",
     I, "bad_uri", {},
     "Reject, RFC: 400 Bad Request (a liberal element may strip the brackets, but must never forward them)."),
    ("4475", "lwsruri", "3.1.2.8", "Malformed SIP Request-URI (embedded LWS)",
     "`INVITE sip:user@example.com; lr SIP/2.0` - a space inside the R-URI",
     I, "bad_request_line", {},
     "Reject, RFC: 400 Bad Request (the request line no longer has exactly 3 SP-separated elements)."),
    ("4475", "lwsstart", "3.1.2.9", "Multiple SP Separating Request-Line Elements",
     "`INVITE  sip:user@example.com  SIP/2.0` - two SPs between elements",
     I, "bad_request_line", {},
     "Reject as malformed, RFC: 400 acceptable (a liberal element may ignore the extra SP but must not "
     "forward it)."),
    ("4475", "trws", "3.1.2.10", "SP Characters at End of Request-Line",
     "two SP octets between `SIP/2.0` and the CRLF of the request line",
     I, "bad_request_line", {},
     "Reject as malformed, RFC: 400 acceptable (liberal elements may ignore the trailing SP)."),
    ("4475", "escruri", "3.1.2.11", "Escaped Headers in SIP Request-URI",
     "R-URI `sip:user@example.com?Route=%3Csip:example.com%3E` carries a URI header component",
     S, "400",
     req("INVITE", "sip:user@example.com?Route=%3Csip:example.com%3E", 1,
         "escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5", 149209342, contacts=1),
     "The URI itself is grammatical (SIP-URI allows `?headers`) so it parses, but headers are not allowed "
     "in a Request-URI (RFC 3261 19.1.1): reject with 400 Bad Request. Never turn the escaped Route into a "
     "real header; a liberal proxy must strip it before forwarding."),
    ("4475", "baddate", "3.1.2.12", "Invalid Time Zone in Date Header Field",
     "Date: `Fri, 01 Jan 2010 16:00:00 EST` - only `GMT` is legal in SIP",
     I, "bad_date", {},
     "Typed Date parse must fail with bad_date. RFC: rejecting with 400 is acceptable but an element that "
     "does not use Date should not reject the message for it - so the message-level parser may keep Date "
     "as an unparsed value and the registrar may then ignore it."),
    ("4475", "regbadct", "3.1.2.13", "Failure to Enclose name-addr URI in <>",
     "Contact `sip:user@example.com?Route=%3Csip:sip.example.com%3E` - URI with `?` not in `<>`",
     I, "unbracketed_uri", {},
     "Reject the Contact, RFC: 400 Bad Request is reasonable (inferring the brackets is possible here "
     "but not in general)."),
    ("4475", "badaspec", "3.1.2.14", "Spaces within addr-spec",
     "To: `\"Watson, Thomas\" < sip:t.watson@example.org >` - spaces inside the angle brackets",
     I, "bad_name_addr", {},
     "Reject (parser must not break), RFC: 400 Bad Request is reasonable; liberal elements may ignore the "
     "spaces."),
    ("4475", "baddn", "3.1.2.15", "Non-token Characters in Display Name",
     "unquoted display names containing a comma: `Bell, Alexander <...>`, `Watson, Thomas <...>`",
     I, "bad_display_name", {},
     "Reject, RFC: 400 Bad Request (a proxy must not propagate inferred quotes). Our file adds the "
     "terminating empty line that the RFC archive lacks, so the failure is the display name, not truncation."),
    ("4475", "badvers", "3.1.2.16", "Unknown Protocol Version",
     "request line and Via use SIP/7.0",
     S, "505",
     req("OPTIONS", "sip:t.watson@example.org", 1, "badvers.31417@c.example.com", 1,
         from_display="A. Bell"),
     "Grammatical (`SIP/` 1*DIGIT `.` 1*DIGIT) so it parses, exposing version 7.0; the server answers 505 "
     "Version Not Supported."),
    ("4475", "mismatch01", "3.1.2.17", "Start Line and CSeq Method Mismatch",
     "OPTIONS request whose CSeq says INVITE",
     S, "400",
     req("OPTIONS", "sip:user@example.com", 1, "mismatch01.dj0234sxdfl3", 8, cseq_method="INVITE"),
     "Parses; request validation rejects it with 400 Bad Request (CSeq method must equal the request "
     "method)."),
    ("4475", "mismatch02", "3.1.2.18", "Unknown Method with CSeq Method Mismatch",
     "unknown method NEWMETHOD with CSeq method INVITE",
     S, "501",
     req("NEWMETHOD", "sip:user@example.com", 1, "mismatch02.dj0234sxdfl3", 8, cseq_method="INVITE",
         contacts=1),
     "Parses; answer 501 Not Implemented (RFC prefers 501; 400 is also acceptable)."),
    ("4475", "bigcode", "3.1.2.19", "Overlarge Response Code",
     "status code 4294967301 (Status-Code is exactly 3 digits)",
     I, "bad_status_line", {},
     "Reject the status line; the response is simply dropped (nothing is sent back)."),
    # ---------------------------------------------------------------- RFC 4475 3.2
    ("4475", "badbranch", "3.2.1", "Missing Transaction Identifier",
     "Via branch is exactly the magic cookie `z9hG4bK` with nothing after it",
     S, "400",
     req("OPTIONS", "sip:user@example.com", 1, "badbranch.sadonfo23i420jv0as0derf3j3n", 8),
     "Parser must not break (branch parses as `z9hG4bK`). Transaction layer: RFC allows either a 400 "
     "(preferably stateless) or falling back to RFC 2543 transaction matching; 400 is the recommended "
     "choice for locus."),
    # ---------------------------------------------------------------- RFC 4475 3.3
    ("4475", "insuf", "3.3.1", "Missing Required Header Fields",
     "INVITE without To, From, Call-ID and Max-Forwards",
     S, "400",
     req("INVITE", "sip:user@example.com", 1, None, 193942),
     "Parses (the parser must not break on missing headers); request validation answers 400 Bad Request, "
     "built only from the Via and CSeq that are present (no invented From/To/Call-ID)."),
    ("4475", "unkscm", "3.3.2", "Request-URI with Unknown Scheme",
     "R-URI `nobodyKnowsThisScheme:totallyopaquecontent`",
     S, "416",
     req("OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent", 1, "unkscm.nasdfasser0q239nwsdfasdkl34",
         3923423),
     "Parses (R-URI kept as an opaque absoluteURI); answer 416 Unsupported URI Scheme."),
    ("4475", "novelsc", "3.3.3", "Request-URI with Known but Atypical Scheme",
     "R-URI `soap.beep://192.0.2.103:3002` (IANA-registered, unusual for SIP)",
     S, "416",
     req("OPTIONS", "soap.beep://192.0.2.103:3002", 1, "novelsc.asdfasser0q239nwsdfasdkl34", 3923423),
     "Parses; an element that never accepts this scheme answers 416 (one that might accept the scheme "
     "would answer 404 for an unknown URI)."),
    ("4475", "unksm2", "3.3.4", "Unknown URI Schemes in Header Fields",
     "To `isbn:2983792873`, From `<http://www.example.com>`, Contact `<name:John_Smith>` in a REGISTER",
     S, "400",
     req("REGISTER", "sip:example.com", 1, "unksm2.daksdj@hyphenated-host.example.com", 234902,
         contacts=1),
     "Parses (non-SIP URIs kept opaque); a registrar answers 400 Bad Request because the To (AOR) must "
     "be a SIP or SIPS URI."),
    ("4475", "bext01", "3.3.5", "Proxy-Require and Require",
     "Require and Proxy-Require list option tags nobody supports",
     S, "420",
     req("OPTIONS", "sip:user@example.com", 1, "bext01.0ha0isndaksdj", 8),
     "Parses; answer 420 Bad Extension with `Unsupported: nothingSupportsThis, nothingSupportsThisEither` "
     "when acting as UAS/registrar (a proxy would list the Proxy-Require tags instead)."),
    ("4475", "invut", "3.3.6", "Unknown Content-Type",
     "INVITE with a body of type application/unknownformat",
     S, "415",
     req("INVITE", "sip:user@example.com", 1, "invut.0ha0isndaksdjadsfij34n23d", 235448, contacts=1),
     "Parses (body is 40 octets, kept opaque); an endpoint answers 415 Unsupported Media Type with an "
     "Accept header listing what it understands (a proxy forwards it)."),
    ("4475", "regaut01", "3.3.7", "Unknown Authorization Scheme",
     "REGISTER with `Authorization: NoOneKnowsThisScheme opaque-data=here`",
     S, "401",
     req("REGISTER", "sip:example.com", 1, "regaut01.0ha0isndaksdj", 9338),
     "Parses (unknown auth scheme kept as an opaque credential). A registrar that authenticates answers "
     "401 with a fresh Digest challenge; one that does not authenticate ignores the header and answers "
     "200; a non-registrar endpoint answers 405. Also `Content-Length:0` has no space after the colon."),
    ("4475", "multi01", "3.3.8", "Multiple Values in Single Value Required Fields",
     "two each of CSeq, Call-ID, To, From and Max-Forwards (Contact is repeated too, which is legal)",
     I, "duplicate_singleton", {},
     "Reject: a typed message cannot hold two CSeq/Call-ID/To/From/Max-Forwards. RFC (placed in 3.3): "
     "respond 400 Bad Request."),
    ("4475", "mcl01", "3.3.9", "Multiple Content-Length Values",
     "two conflicting Content-Length headers (13 and 5)",
     I, "duplicate_content_length", {},
     "Reject at framing: the body extent is unknowable. UDP: error response (400) and discard the "
     "datagram; TCP: framing unrecoverable, close the connection."),
    ("4475", "bcast", "3.3.10", "200 OK Response with Broadcast Via Header Field Value",
     "response whose second Via sent-by is 255.255.255.255",
     S, "drop",
     resp(2, "bcast.0384840201234ksdfak3j2erwedfsASdf", 35, "INVITE", contacts=1, to_tag="2229"),
     "Parses; must be silently discarded - never forwarded to the broadcast address, no response sent."),
    ("4475", "zeromf", "3.3.11", "Max-Forwards of Zero",
     "OPTIONS with Max-Forwards: 0",
     S, "483",
     req("OPTIONS", "sip:user@example.com", 1, "zeromf.jfasdlfnm2o2l43r5u0asdfas", 39234321),
     "Parses (Max-Forwards = 0). A proxy must not forward it and answers 483 Too Many Hops; a UAS/registrar "
     "handling the request locally processes it as if Max-Forwards were still positive (OPTIONS -> 200)."),
    ("4475", "cparam01", "3.3.12", "REGISTER with a Contact Header Parameter",
     "Contact without `<>`: `sip:+19725552222@gw1.example.net;unknownparam`",
     V, "",
     req("REGISTER", "sip:example.com", 1, "cparam01.70710@saturn.example.com", 2, contacts=1),
     "Parse OK. Because the URI is not in `<>`, `unknownparam` is a Contact HEADER parameter, not a URI "
     "parameter: bound URI is `sip:+19725552222@gw1.example.net` (no URI params). Registrar: 200 OK."),
    ("4475", "cparam02", "3.3.13", "REGISTER with a url-parameter",
     "Contact `<sip:+19725552222@gw1.example.net;unknownparam>`",
     V, "",
     req("REGISTER", "sip:example.com", 1, "cparam02.70710@saturn.example.com", 3, contacts=1),
     "Parse OK; `unknownparam` is a URI parameter. Registrar: 200 OK, and the binding (and every later "
     "fetch of it) keeps `;unknownparam` inside the URI."),
    ("4475", "regescrt", "3.3.14", "REGISTER with a URL Escaped Header",
     "Contact URI (compact `M:`) carries an escaped header `?Route=%3Csip:sip.example.com%3E`",
     V, "",
     req("REGISTER", "sip:example.com", 1, "regescrt.k345asrl3fdbv@192.0.2.1", 14398234, contacts=1),
     "Parse OK. Registrar: 200 OK; the stored binding keeps the escaped Route header in the Contact URI "
     "and returns it on later fetches."),
    ("4475", "sdp01", "3.3.15", "Unacceptable Accept Offering",
     "INVITE with an SDP offer but `Accept: text/nobodyKnowsThis`",
     S, "406",
     req("INVITE", "sip:user@example.com", 1, "sdp01.ndaksdj9342dasdd", 8, contacts=1),
     "Parses; since no SDP may be sent back, the UAS answers 406 Not Acceptable."),
    # ---------------------------------------------------------------- RFC 4475 3.4
    ("4475", "inv2543", "3.4.1", "INVITE with RFC 2543 Syntax",
     "RFC 2543-style INVITE: no Via branch, no From tag, no Content-Length, no Max-Forwards",
     S, "400",
     req("INVITE", "sip:UserB@example.com", 1, "inv2543.1717@ift.client.example.com", 56),
     "Must parse: over UDP the body is the remainder of the datagram (no Content-Length; over TCP the same "
     "bytes could not be framed). RFC 4475 says elements that want backward compatibility should accept "
     "it; locus is RFC 3261-only, so the expected policy is 400 Bad Request (missing Max-Forwards / "
     "From tag / branch) - a deliberate project decision, not an RFC requirement."),
    # ---------------------------------------------------------------- RFC 5118 section 4
    ("5118", "ipv6-good", "4.1", "Valid SIP Message with an IPv6 Reference",
     "IPv6 references in the R-URI, Via sent-by and Contact",
     V, "",
     req("REGISTER", "sip:[2001:db8::10]", 1, "SSG9559905523997077@hlau_4100", 98176, contacts=1,
         ipv6_host="[2001:db8::10]"),
     "Parse OK. R-URI host `[2001:db8::10]` (no port); Via sent-by `[2001:db8::9:1]`; Contact "
     "`sip:caller@[2001:db8::1]`, display name `Caller`."),
    ("5118", "ipv6-bad", "4.2", "Invalid SIP Message with an IPv6 Reference",
     "R-URI `sip:2001:db8::10` - IPv6 address without the mandatory `[` `]`",
     I, "bad_ipv6_reference", {},
     "Reject, RFC: 400 Bad Request."),
    ("5118", "port-ambiguous", "4.3", "Port Ambiguous in a SIP URI",
     "R-URI `sip:[2001:db8::10:5070]` - the intended port was put inside the brackets",
     V, "",
     req("REGISTER", "sip:[2001:db8::10:5070]", 1, "SSG9559905523997077@hlau_4100", 98176, contacts=1,
         ipv6_host="[2001:db8::10:5070]"),
     "Parse OK (well-formed): host is the IPv6 address `2001:db8::10:5070` and there is NO port; it is "
     "not host 2001:db8::10 port 5070. Semantically it will not reach what the sender meant."),
    ("5118", "port-unambiguous", "4.4", "Port Unambiguous in a SIP URI",
     "R-URI `sip:[2001:db8::10]:5070` - port correctly outside the brackets",
     V, "",
     req("REGISTER", "sip:[2001:db8::10]:5070", 1, "SSG9559905523997077@hlau_4100", 98176, contacts=1,
         ipv6_host="[2001:db8::10]"),
     "Parse OK: host `[2001:db8::10]`, port 5070."),
    ("5118", "via-received-param-with-delim", "4.5", "IPv6 Reference Delimiters in Via Header",
     "Via `received=[2001:db8::9:255]` (brackets, not allowed by the strict RFC 3261 ABNF)",
     V, "",
     req("BYE", "sip:[2001:db8::10]", 1, "SSG9559905523997077@hlau_4100", 321, to_tag="bd76ya",
         ipv6_host="[2001:db8::10]"),
     "Parse OK (robustness: `received` must be accepted with or without brackets); received address "
     "2001:db8::9:255, branch `z9hG4bKas3-111`."),
    ("5118", "via-received-param-no-delim", "4.5", "IPv6 Reference Delimiters in Via Header",
     "Via `received=2001:db8::9:255` (no brackets, the strict ABNF form)",
     V, "",
     req("OPTIONS", "sip:[2001:db8::10]", 1, "SSG95523997077@hlau_4100", 921, contacts=1,
         ipv6_host="[2001:db8::10]"),
     "Parse OK; received address 2001:db8::9:255 (same value as the with-delim case), branch "
     "`z9hG4bKas3`."),
    ("5118", "ipv6-in-sdp", "4.6", "SIP Request with IPv6 Addresses in SDP Body",
     "IPv6 in R-URI/To/Via/Contact and un-bracketed IPv6 in the SDP `o=`/`c=` lines",
     V, "",
     req("INVITE", "sip:user@[2001:db8::10]", 1, "SSG9559905523997077@hlau_4100", 8612, contacts=1,
         ipv6_host="[2001:db8::10]"),
     "Parse OK; SDP body kept intact (`c=IN IP6 2001:db8::20`, no brackets in SDP). Content-Length "
     "corrected to the real body length (RFC text says 268)."),
    ("5118", "mult-ip-in-header", "4.7", "Multiple IP Addresses in SIP Headers",
     "three Vias mixing IPv6 with port, IPv4, IPv6 with an IPv4 `received`",
     V, "",
     req("BYE", "sip:user@host.example.net", 3, "997077@lau_4100", 89187, to_tag="9817--94",
         ipv6_host="[2001:db8::9:1]"),
     "Parse OK. Vias: `[2001:db8::9:1]:6050` UDP; `192.0.2.1` UDP; `[2001:db8::9:255]` TCP with "
     "received=192.0.2.200. (ipv6_host here is the top Via's sent-by host.)"),
    ("5118", "mult-ip-in-sdp", "4.8", "Multiple IP Addresses in SDP",
     "SDP with an IPv4 `c=` for audio and an IPv6 `c=` for video, `o=` with a hostname",
     V, "",
     req("INVITE", "sip:user@[2001:db8::10]", 1, "SSG9559905523997077@hlau_4100", 8912, contacts=1,
         ipv6_host="[2001:db8::10]"),
     "Parse OK; body intact. Content-Length corrected to the real body length (RFC text says 181)."),
    ("5118", "ipv4-mapped-ipv6", "4.9", "IPv4-Mapped IPv6 Addresses",
     "`::ffff:192.0.2.x` mapped addresses in two Vias, the Contact and the SDP",
     V, "",
     req("INVITE", "sip:user@example.com", 2, "SSG9559905523997077@hlau_4100", 612, contacts=1,
         ipv6_host="[::ffff:192.0.2.10]"),
     "Parse OK. Top Via `[::ffff:192.0.2.10]:19823`, second `[::ffff:192.0.2.2]`; Contact display name "
     "`T. desk phone`, host `[::ffff:192.0.2.2]`. (ipv6_host is the top Via's host.) Content-Length "
     "corrected to the real CRLF body length (RFC text says 236, the LF-only length)."),
    ("5118", "ipv6-bug-abnf-3-colons", "4.10", "IPv6 Reference Bug in RFC 3261 ABNF",
     "`[2001:db8:::192.0.2.1]` - three colons before an embedded IPv4, allowed by RFC 3261's buggy ABNF",
     V, "",
     req("OPTIONS", "sip:user@[2001:db8:::192.0.2.1]", 1, "G9559905523997077@hlau_4100", 689,
         ipv6_host="[2001:db8:::192.0.2.1]"),
     "Parse OK - RFC 5118 says implementations must tolerate it (robustness principle); it denotes the "
     "same address as the 2-colon form. Terminating empty line added (absent in the RFC archive)."),
    ("5118", "ipv6-correct-abnf-2-colons", "4.10", "IPv6 Reference Bug in RFC 3261 ABNF",
     "`[2001:db8::192.0.2.1]` - the correct RFC 4291 form",
     V, "",
     req("OPTIONS", "sip:user@[2001:db8::192.0.2.1]", 1, "G9559905523997077@hlau_4100", 689,
         ipv6_host="[2001:db8::192.0.2.1]"),
     "Parse OK. Terminating empty line added (absent in the RFC archive)."),
]

# Messages whose declared Content-Length deliberately does not frame the body.
BAD_FRAMING = {"clerr", "ncl", "mcl01", "dblreq", "inv2543"}

# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

_CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)", re.I | re.M)


def body_of(data):
    sep = data.find(b"\r\n\r\n")
    assert sep >= 0, "no end of headers"
    return data[:sep + 2], data[sep + 4:]


def self_check(name, data):
    head, body = body_of(data)
    assert b"\n" not in head.replace(b"\r\n", b""), "%s: bare LF in the header section" % name
    assert b"\r" not in head.replace(b"\r\n", b""), "%s: bare CR in the header section" % name
    cls = [m.group(1) for m in _CL.finditer(head)]
    if name in BAD_FRAMING:
        return
    assert len(cls) == 1, "%s: %d Content-Length headers" % (name, len(cls))
    assert int(cls[0]) == len(body), "%s: Content-Length %s but body is %d" % (name, cls[0], len(body))


def fill_facts(name, data, facts):
    head, body = body_of(data)
    facts = dict(facts)
    if facts and "body_len" in facts:
        if name == "dblreq":
            facts["body_len"] = 0  # everything after the first empty line is trailing junk
        else:
            facts["body_len"] = len(body)
    for key in ("call_id", "ruri", "method", "to_tag"):
        if facts.get(key) is not None:
            assert facts[key].encode() in data, "%s: %s %r not in message" % (name, key, facts[key])
    if facts.get("cseq") is not None:
        cm = facts.get("cseq_method") or ""
        assert re.search((r"%d\s+%s" % (facts["cseq"], re.escape(cm))).encode(), data), name
    if facts.get("via_count") == 1:
        assert len(re.findall(rb"(?im)^(via|v)[ \t]*:", head)) == 1, name
    return {k: v for k, v in facts.items() if v is not None}


def esc(value):
    """Escape a fact value for the TSV: `\\\\` for a backslash, `\\xHH` for any byte that is not
    printable ASCII; everything else literal."""
    out = []
    for b in str(value).encode("utf-8"):
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02X" % b)
    return "".join(out)


def md_cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

MD_HEAD = """# SIP torture-test corpus: expectations

Generated by `generate.py` (do not edit by hand; edit the script and re-run `python3 generate.py`).
Machine-readable twin: `expectations.tsv`.

Sources: RFC 4475 "Session Initiation Protocol (SIP) Torture Test Messages" section 3 (49 messages)
and RFC 5118 "SIP Torture Test Messages for IPv6" section 4 (12 messages). File names are the RFC's
own test names.

## Classes

* `valid` - the parser must accept the message; assert the listed facts. Messages of RFC 4475
  3.3.12-3.3.14 are additionally expected to be accepted by the registrar (200 OK).
* `invalid-syntax` - the parser must reject it with a typed error carrying the listed defect word.
  Defect words used: `extraneous_separator`, `content_length_mismatch`, `bad_content_length`,
  `duplicate_content_length`, `bad_cseq`, `unterminated_quote`, `bad_uri`, `bad_request_line`,
  `bad_status_line`, `bad_date`, `unbracketed_uri`, `bad_name_addr`, `bad_display_name`,
  `duplicate_singleton`, `bad_ipv6_reference`.
* `valid-syntax-semantic-error` - parses; a higher layer (request validation, transaction layer,
  registrar) must refuse it. The status column is the response to send (`drop` = discard silently).

## Conventions for the facts

* `ruri` is the Request-URI exactly as on the wire; `cseq` is the decimal sequence number (leading
  zeros stripped); `body_len` is the body length the message is framed with (Content-Length; for
  `inv2543`, which has none, the rest of the datagram; for `dblreq`, 0 - the trailing octets are
  not a body); `from_display` is the From display name with quotes removed and quoted-pairs
  resolved; `contact_count` counts Contact values (0 if absent); `to_tag` only where To has a tag;
  `ipv6_host` is the first IPv6 reference, written with brackets, looking at the Request-URI host,
  then the topmost Via sent-by.
* In `expectations.tsv`, facts are `key=value` pairs separated by ` ; `. Inside a value `\\\\` is a
  literal backslash and `\\xHH` is one octet that is not printable ASCII (e.g. UTF-8 bytes).
* Responses (`unreason`, `noreason`, `scalarlg`, `bigcode`, `bcast`) have no `method`/`ruri`; their
  status code is given in the outcome text.

## Deviations from the RFCs' bit-exact archives

* `rfc4475/baddn.sip`: the archive ends the message without the empty line that terminates the
  header section; we add it so the message fails for its display names, not as truncated.
* RFC 5118 files use CRLF (the archive uses bare LF), the two 4.10 messages get the terminating
  empty line they lack in the archive, and the Content-Length of `ipv6-in-sdp`, `mult-ip-in-sdp`
  and `ipv4-mapped-ipv6` is the real body length (251, 189, 245) instead of the RFC's 268, 181 and
  236, which match no rendering of those bodies. These three are valid messages, so their framing
  has to be right.

"""


def main():
    check_only = "--check" in sys.argv[1:]
    files = {}
    for rfc, table in (("rfc4475", RFC4475), ("rfc5118", RFC5118)):
        for name, src in table.items():
            data = expand(src)
            self_check(name, data)
            files[os.path.join(rfc, name + ".sip")] = data

    names = [e[1] for e in E]
    assert len(names) == len(set(names)) == len(files) == 61, (len(names), len(files))
    assert sum(1 for e in E if e[0] == "4475") == 49

    tsv = ["file\tclass\tdefect_or_status\tfacts"]
    md = [MD_HEAD, "| File | RFC section | What the RFC says it tests | Class | Defect / status | "
                   "Facts to assert | Expected outcome for our layers |",
          "|---|---|---|---|---|---|---|"]
    for rfc, name, section, title, tests, cls, code, facts, outcome in E:
        path = "rfc%s/%s.sip" % (rfc, name)
        data = files[os.path.join("rfc" + rfc, name + ".sip")]
        assert cls in (V, I, S), name
        assert (cls == I) == (not facts), name
        assert (cls == V) == (code == ""), name
        facts = fill_facts(name, data, facts)
        assert set(facts) <= set(FACT_KEYS), name
        for k in facts:
            assert " ; " not in str(facts[k]), (name, k)
        fact_text = " ; ".join("%s=%s" % (k, esc(facts[k])) for k in FACT_KEYS if k in facts)
        assert "\t" not in fact_text
        tsv.append("\t".join([path, cls, code, fact_text]))
        md.append("| `%s` | RFC %s %s %s | %s | %s | %s | %s | %s |" % (
            path, rfc, section, md_cell(title), md_cell(tests), cls, code and "`%s`" % code,
            md_cell(fact_text.replace(" ; ", "<br>")), md_cell(outcome)))

    files["expectations.tsv"] = ("\n".join(tsv) + "\n").encode("utf-8")
    files["EXPECTATIONS.md"] = ("\n".join(md) + "\n").encode("utf-8")

    differ = []
    for rel, data in sorted(files.items()):
        path = os.path.join(HERE, rel)
        old = None
        if os.path.exists(path):
            with open(path, "rb") as fh:
                old = fh.read()
        if old != data:
            differ.append(rel)
            if not check_only:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as fh:
                    fh.write(data)
    if check_only:
        if differ:
            print("out of date: " + ", ".join(differ))
            return 1
        print("all %d files up to date" % len(files))
        return 0
    print("wrote %d of %d files" % (len(differ), len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
