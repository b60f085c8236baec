//! Where a request really came from: the TCP peer, or, only behind a configured trusted
//! proxy, the client that proxy reports in `X-Forwarded-For` or `Forwarded` (RFC 7239).
//!
//! The address decides the network zone, and the zone decides whether a password alone may
//! sign in, so this is a security input and every rule here falls towards "off campus":
//!
//! - Forwarding headers are believed only when the peer is in `network.trusted_proxies`.
//!   Anyone can write them, so from any other peer they change nothing.
//! - Each trusted proxy appends the address of its own peer. Walking the chain from the right
//!   past trusted proxies, the first other entry was written by a trusted proxy and is the
//!   client; everything further left came from the client and is never read.
//! - When the chain cannot be read (garbage, `unknown`, an obfuscated node, an empty element,
//!   more than [`MAX_HOPS`] entries, or two headers that disagree), the result is marked
//!   unreliable, and an unreliable address is always off campus.
//!
//! Pure: no actix, no diesel, no I/O. The web layer extracts the header values and calls
//! [`resolve`] once per request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The longest forwarding chain that is read. Real deployments have one or two proxies; a
/// longer chain is treated as unreliable, which also bounds the work per request.
pub const MAX_HOPS: usize = 32;

/// Turns IPv4-mapped IPv6 (`::ffff:a.b.c.d`) into IPv4; leaves everything else alone.
///
/// A dual-stack listener reports IPv4 peers in the mapped form, which IPv4 ranges would not
/// match.
pub fn normalize(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Where a request really came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    /// The client's address, normalised. When `reliable` is false this is the TCP peer (a
    /// trusted proxy), kept for logging only.
    pub ip: IpAddr,
    /// False when a trusted proxy forwarded the request but the client could not be
    /// established from its headers. Such an address must be treated as off campus.
    pub reliable: bool,
}

/// Resolves the client address of one request.
///
/// `forwarded_for`: every `X-Forwarded-For` header value in order of appearance;
/// `forwarded`: every `Forwarded` header value in order. Multiple header lines concatenate.
///
/// - A peer outside `trusted_proxies` is the client; the headers are ignored.
/// - A trusted peer that sent neither header is the client (a request from the proxy host).
/// - Otherwise the chain is walked from the right past trusted proxies; the first other
///   address is the client. If every hop is trusted, the left-most one is the client.
/// - Unreadable chains, chains longer than [`MAX_HOPS`], and requests where `Forwarded` and
///   `X-Forwarded-For` are both present but name different clients give the peer with
///   `reliable: false`.
pub fn resolve(
    peer: IpAddr,
    forwarded_for: &[&str],
    forwarded: &[&str],
    trusted_proxies: &[IpNet],
) -> ClientAddress {
    let peer = normalize(peer);
    let is_trusted = |ip: IpAddr| trusted_proxies.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return ClientAddress {
            ip: peer,
            reliable: true,
        };
    }
    let from_forwarded = (!forwarded.is_empty()).then(|| {
        let hops = forwarded
            .iter()
            .flat_map(|value| split_outside_quotes(value, ','));
        walk(hops.map(for_parameter), &is_trusted)
    });
    let from_xff = (!forwarded_for.is_empty()).then(|| {
        let hops = forwarded_for.iter().flat_map(|value| value.split(','));
        walk(hops.map(Some), &is_trusted)
    });
    let client = match (from_forwarded, from_xff) {
        (None, None) => Some(peer),
        (Some(client), None) | (None, Some(client)) => client,
        // A proxy that maintains only one of the two headers passes the other through from
        // the client untouched. Which one it maintains is not known here, so the client is
        // believed only when both agree; otherwise a forged header could claim a campus
        // address.
        (Some(forwarded), Some(xff)) => forwarded.filter(|ip| Some(*ip) == xff),
    };
    match client {
        Some(ip) => ClientAddress { ip, reliable: true },
        None => ClientAddress {
            ip: peer,
            reliable: false,
        },
    }
}

/// Walks a chain of nodes (left to right as sent; `None` for an element without a node)
/// from the right. Returns the client, or `None` when it cannot be known.
fn walk<'a>(
    hops: impl Iterator<Item = Option<&'a str>>,
    is_trusted: &impl Fn(IpAddr) -> bool,
) -> Option<IpAddr> {
    // `take` stops reading a long header early: one element past the limit is enough to
    // know that the chain is too long.
    let hops: Vec<Option<&str>> = hops.take(MAX_HOPS + 1).collect();
    if hops.len() > MAX_HOPS {
        return None;
    }
    let mut leftmost = None;
    for hop in hops.into_iter().rev() {
        // An unreadable hop hides who sent the request to the proxy on its right, so the
        // walk cannot go past it.
        let ip = parse_node(hop?)?;
        if !is_trusted(ip) {
            return Some(ip);
        }
        leftmost = Some(ip);
    }
    leftmost
}

/// The node of a `Forwarded` element's `for` parameter (RFC 7239 §4), unquoted. `None` when
/// the element has no `for`, has it twice, or is malformed.
fn for_parameter(element: &str) -> Option<&str> {
    let mut node = None;
    for pair in split_outside_quotes(element, ';') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            if node.is_some() {
                return None;
            }
            node = Some(unquote(value.trim())?);
        }
    }
    node
}

/// Strips the quotes of an RFC 7230 quoted-string. Escapes never occur in a real node, so
/// a value that contains one is rejected rather than interpreted.
fn unquote(value: &str) -> Option<&str> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    (!inner.contains(['"', '\\'])).then_some(inner)
}

/// Splits `text` at every `separator` that is not inside a quoted-string, lazily from the
/// left. An unterminated quote runs to the end of the text (and then fails to unquote).
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in text.char_indices() {
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            } else if !quoted && c == separator {
                rest = Some(&text[i + c.len_utf8()..]);
                return Some(&text[..i]);
            }
        }
        rest = None;
        Some(text)
    })
}

/// Reads a node: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:443`, with surrounding whitespace. `unknown`, obfuscated names
/// (`_hidden`), zone ids and anything else give `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let ip = if let Some(rest) = node.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        IpAddr::V6(host.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = node.parse::<IpAddr>() {
        ip
    } else {
        let (host, port) = node.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some(normalize(ip))
}

/// A decimal port, or an RFC 7239 §6.3 obfuscated port (`_` then letters, digits, `._-`).
fn is_port(port: &str) -> bool {
    let decimal =
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    let obfuscated = port.strip_prefix('_').is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    decimal || obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case<'a> {
        name: &'a str,
        peer: &'a str,
        xff: &'a [&'a str],
        fwd: &'a [&'a str],
        trusted: &'a [&'a str],
        want_ip: &'a str,
        want_reliable: bool,
    }

    const PROXY: &[&str] = &["10.0.0.0/8"];
    const PROXY_V6: &[&str] = &["fd00::/8"];

    #[test]
    fn resolves_the_client_address_of_each_case() {
        let chain = |n: usize| vec!["10.0.0.2"; n].join(", ");
        let (spoofed_32, spoofed_33) = (
            format!("{}, 198.51.100.7", chain(31)),
            format!("{}, 198.51.100.7", chain(32)),
        );
        let (trusted_32, trusted_33) = (chain(32), chain(33));
        #[rustfmt::skip]
        let cases = [
            // Untrusted peers: headers change nothing.
            Case { name: "untrusted ipv4 peer without headers", peer: "198.51.100.7", xff: &[], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "untrusted ipv6 peer without headers", peer: "2001:db8::7", xff: &[], fwd: &[], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "ipv4-mapped untrusted peer becomes ipv4", peer: "::ffff:198.51.100.7", xff: &[], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "forged xff from untrusted peer is ignored", peer: "198.51.100.7", xff: &["130.153.1.1"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "forged forwarded from untrusted peer is ignored", peer: "198.51.100.7", xff: &[], fwd: &["for=130.153.1.1"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "garbage from untrusted peer is ignored", peer: "198.51.100.7", xff: &["unknown"], fwd: &["for=_hidden"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "no trusted proxies configured", peer: "10.0.0.1", xff: &["130.153.1.1"], fwd: &[], trusted: &[], want_ip: "10.0.0.1", want_reliable: true },
            // Trusted peers.
            Case { name: "trusted peer without headers is the client", peer: "10.0.0.1", xff: &[], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: true },
            Case { name: "trusted peer xff ipv4", peer: "10.0.0.1", xff: &["198.51.100.7"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "trusted peer xff ipv6", peer: "10.0.0.1", xff: &["2001:db8::7"], fwd: &[], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "ipv4-mapped trusted peer", peer: "::ffff:10.0.0.1", xff: &["198.51.100.7"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "ipv4-mapped xff value becomes ipv4", peer: "10.0.0.1", xff: &["::ffff:130.153.1.1"], fwd: &[], trusted: PROXY, want_ip: "130.153.1.1", want_reliable: true },
            Case { name: "ipv4-mapped xff hop is recognised as trusted", peer: "10.0.0.1", xff: &["198.51.100.7, ::ffff:10.0.0.2"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "ipv6 trusted proxy", peer: "fd00::1", xff: &["198.51.100.7, fd00::2"], fwd: &[], trusted: PROXY_V6, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "xff ipv4 with port", peer: "10.0.0.1", xff: &["198.51.100.7:5678"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "xff bracketed ipv6 with port", peer: "10.0.0.1", xff: &["[2001:db8::7]:443"], fwd: &[], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "xff bracketed ipv6 without port", peer: "10.0.0.1", xff: &["[2001:db8::7]"], fwd: &[], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "xff whitespace around elements", peer: "10.0.0.1", xff: &["  198.51.100.7 ,\t10.0.0.2  "], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            // Chains.
            Case { name: "chain of proxies gives the right-most untrusted", peer: "10.0.0.1", xff: &["198.51.100.7, 10.0.0.3, 10.0.0.2"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "spoofed left-most xff entries are skipped", peer: "10.0.0.1", xff: &["130.153.1.1, 157.82.0.5, 198.51.100.7, 10.0.0.2"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "spoofed left-most forwarded entries are skipped", peer: "10.0.0.1", xff: &[], fwd: &["for=130.153.1.1, for=198.51.100.7"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "multiple xff lines concatenate", peer: "10.0.0.1", xff: &["130.153.1.1", "198.51.100.7, 10.0.0.2"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "multiple forwarded lines concatenate", peer: "10.0.0.1", xff: &[], fwd: &["for=130.153.1.1", "for=198.51.100.7;proto=https", "for=10.0.0.2"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "all hops trusted gives the left-most", peer: "10.0.0.1", xff: &["10.0.0.5, 10.0.0.6"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.5", want_reliable: true },
            Case { name: "all forwarded hops trusted gives the left-most", peer: "10.0.0.1", xff: &[], fwd: &["for=10.0.0.5"], trusted: PROXY, want_ip: "10.0.0.5", want_reliable: true },
            // Forwarded syntax.
            Case { name: "forwarded quoted ipv6 with port", peer: "10.0.0.1", xff: &[], fwd: &["for=\"[2001:db8::7]:4711\""], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "forwarded quoted ipv4 with port", peer: "10.0.0.1", xff: &[], fwd: &["for=\"192.0.2.60:8080\""], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded with proto and by", peer: "10.0.0.1", xff: &[], fwd: &["for=192.0.2.60;proto=http;by=203.0.113.43"], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded parameter order does not matter", peer: "10.0.0.1", xff: &[], fwd: &["proto=https;by=10.0.0.1;for=192.0.2.60"], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded parameter name is case-insensitive", peer: "10.0.0.1", xff: &[], fwd: &["For=192.0.2.60, FOR=10.0.0.2"], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded whitespace around elements", peer: "10.0.0.1", xff: &[], fwd: &["  for=192.0.2.60 ;proto=https ,  for=10.0.0.2  "], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded trailing semicolon", peer: "10.0.0.1", xff: &[], fwd: &["for=192.0.2.60; "], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded comma inside quotes does not split", peer: "10.0.0.1", xff: &[], fwd: &["for=192.0.2.60;ext=\"a, for=130.153.1.1\""], trusted: PROXY, want_ip: "192.0.2.60", want_reliable: true },
            Case { name: "forwarded obfuscated port keeps the address", peer: "10.0.0.1", xff: &[], fwd: &["for=\"[2001:db8::7]:_p1\""], trusted: PROXY, want_ip: "2001:db8::7", want_reliable: true },
            Case { name: "forwarded ipv4-mapped value becomes ipv4", peer: "10.0.0.1", xff: &[], fwd: &["for=\"[::ffff:130.153.1.1]\""], trusted: PROXY, want_ip: "130.153.1.1", want_reliable: true },
            // Both headers.
            Case { name: "both headers agreeing give forwarded's client", peer: "10.0.0.1", xff: &["198.51.100.7"], fwd: &["for=198.51.100.7"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "both headers agreeing after their own chains", peer: "10.0.0.1", xff: &["130.153.9.9, 198.51.100.7"], fwd: &["for=\"198.51.100.7:1234\";proto=https"], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "forged forwarded through an xff-only proxy is unreliable", peer: "10.0.0.1", xff: &["198.51.100.7"], fwd: &["for=130.153.1.1"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forged xff through a forwarded-only proxy is unreliable", peer: "10.0.0.1", xff: &["130.153.1.1"], fwd: &["for=198.51.100.7"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "both headers with one unreadable is unreliable", peer: "10.0.0.1", xff: &["unknown"], fwd: &["for=198.51.100.7"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            // Unreadable chains.
            Case { name: "xff garbage", peer: "10.0.0.1", xff: &["not-an-ip"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff unknown", peer: "10.0.0.1", xff: &["unknown"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff empty header value", peer: "10.0.0.1", xff: &[""], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff trailing comma", peer: "10.0.0.1", xff: &["198.51.100.7, "], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff garbage behind a trusted hop", peer: "10.0.0.1", xff: &["198.51.100.7, garbage, 10.0.0.2"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff garbage left of the client is never read", peer: "10.0.0.1", xff: &["garbage, , unknown, 198.51.100.7"], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "xff ipv6 with zone id", peer: "10.0.0.1", xff: &["fe80::1%eth0"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff bracketed ipv4", peer: "10.0.0.1", xff: &["[198.51.100.7]"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff port out of range", peer: "10.0.0.1", xff: &["198.51.100.7:99999"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff empty port", peer: "10.0.0.1", xff: &["198.51.100.7:"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff ipv4 with leading zeros", peer: "10.0.0.1", xff: &["010.0.0.1"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "xff two ports", peer: "10.0.0.1", xff: &["198.51.100.7:80:90"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded unknown", peer: "10.0.0.1", xff: &[], fwd: &["for=unknown"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded obfuscated node", peer: "10.0.0.1", xff: &[], fwd: &["for=_hidden"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded quoted obfuscated node", peer: "10.0.0.1", xff: &[], fwd: &["for=\"_hidden:_port\""], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded empty for", peer: "10.0.0.1", xff: &[], fwd: &["for="], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded empty header value", peer: "10.0.0.1", xff: &[], fwd: &[""], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded element without for", peer: "10.0.0.1", xff: &[], fwd: &["for=198.51.100.7, proto=https"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded for twice in one element", peer: "10.0.0.1", xff: &[], fwd: &["for=198.51.100.7;for=130.153.1.1"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded unterminated quote", peer: "10.0.0.1", xff: &[], fwd: &["for=\"198.51.100.7"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded escaped quote", peer: "10.0.0.1", xff: &[], fwd: &["for=\"198.51.100.7\\\"\""], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded pair without equals", peer: "10.0.0.1", xff: &[], fwd: &["for=198.51.100.7;secure"], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "forwarded unbracketed ipv6 is an address, never address:port", peer: "10.0.0.1", xff: &[], fwd: &["for=\"2001:db8::7:4711\""], trusted: PROXY, want_ip: "2001:db8::7:4711", want_reliable: true },
            // Long chains.
            Case { name: "chain of exactly max hops is read", peer: "10.0.0.1", xff: &[&spoofed_32], fwd: &[], trusted: PROXY, want_ip: "198.51.100.7", want_reliable: true },
            Case { name: "chain over max hops is unreliable", peer: "10.0.0.1", xff: &[&spoofed_33], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "all-trusted chain of max hops is read", peer: "10.0.0.1", xff: &[&trusted_32], fwd: &[], trusted: PROXY, want_ip: "10.0.0.2", want_reliable: true },
            Case { name: "all-trusted chain over max hops is unreliable", peer: "10.0.0.1", xff: &[&trusted_33], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
            Case { name: "chain over max hops across header lines is unreliable", peer: "10.0.0.1", xff: &[&trusted_32, "198.51.100.7"], fwd: &[], trusted: PROXY, want_ip: "10.0.0.1", want_reliable: false },
        ];
        for case in &cases {
            let trusted: Vec<IpNet> = case.trusted.iter().map(|n| n.parse().unwrap()).collect();
            let got = resolve(case.peer.parse().unwrap(), case.xff, case.fwd, &trusted);
            let want = ClientAddress {
                ip: case.want_ip.parse().unwrap(),
                reliable: case.want_reliable,
            };
            assert_eq!(got, want, "case {:?}", case.name);
        }
    }

    #[test]
    fn normalize_maps_only_ipv4_mapped_addresses() {
        for (input, want) in [
            ("::ffff:130.153.1.1", "130.153.1.1"),
            ("130.153.1.1", "130.153.1.1"),
            ("2001:200:1c0::1", "2001:200:1c0::1"),
            // IPv4-compatible (deprecated) and NAT64 addresses are not IPv4-mapped.
            ("::130.153.1.1", "::130.153.1.1"),
            ("64:ff9b::8299:101", "64:ff9b::8299:101"),
            ("::1", "::1"),
        ] {
            let got = normalize(input.parse().unwrap());
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "case {input:?}");
        }
    }
}
