//! Which addresses this provider may call on a relying party's say-so (back-channel
//! logout), and how requests are grouped per client address for the storage and rate
//! budgets. Pure rules: resolving names and connecting live in `services::outbound`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

/// Whether `ip` is somewhere a relying party must not point us at: loopback, private
/// (RFC 1918, RFC 4193 unique local), shared (RFC 6598), link-local (which holds the
/// 169.254.169.254 cloud metadata address), multicast, broadcast, unspecified, reserved,
/// documentation; IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64 and
/// 6to4) are judged by that address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598)
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (b == 18 || b == 19))
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    // ::a.b.c.d (deprecated IPv4-compatible), ::ffff:0:a.b.c.d (IPv4-translated),
    // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local-use NAT64, RFC 8215)
    if (s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback())
        || s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
    {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    // 2002::/16, 6to4: the IPv4 address is in the next 32 bits
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local (holds fd00:ec2::254, a metadata address)
        || (s[0] & 0xfe00) == 0xfc00
        // fe80::/10 link-local, fec0::/10 old site-local
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // 2001:db8::/32 documentation, 2001::/32 Teredo (its IPv4 is hidden), 100::/64
        // discard
        || (s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0))
        || s[..4] == [0x100, 0, 0, 0]
}

/// Whether a relying party may make us connect to `ip`: inside a network the operator
/// allowed, or else neither forbidden nor inside `denied` (the campus and VPN ranges: the
/// university's own hosts sit in public address space, and a stranger's registration must
/// not reach them either).
pub fn may_connect(ip: IpAddr, allowed: &[IpNet], denied: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    allowed.iter().any(|net| net.contains(&ip))
        || !(is_forbidden(ip) || denied.iter().any(|net| net.contains(&ip)))
}

/// Checks the form of a back-channel URI that a portal or dynamically registered client
/// gave: https, unless its host is on the operator's development allow-list.
pub fn check_scheme(url: &Url, http_allowed_hosts: &[String]) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            if http_allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
            {
                Ok(())
            } else {
                Err("must be https".into())
            }
        }
        _ => Err("must be an https URL".into()),
    }
}

/// The address in the URI's host, when it is an address rather than a name.
pub fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// The key under which a client address's requests are counted: the address itself for
/// IPv4, its /64 network for IPv6 (one customer usually holds a whole /64, so counting
/// single IPv6 addresses would make every budget unlimited).
pub fn budget_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_forbidden_and_public_ones_are_not() {
        let forbidden = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
        ];
        for ip in forbidden {
            assert!(is_forbidden(ip.parse().expect(ip)), "{ip}");
        }
        for ip in [
            "130.153.8.1",
            "8.8.8.8",
            "2001:200:1c0::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip.parse().expect(ip)), "{ip}");
        }
    }

    #[test]
    fn the_operator_can_allow_a_network() {
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().expect("net")];
        assert!(may_connect("127.0.0.1".parse().expect("ip"), &allowed, &[]));
        assert!(may_connect(
            "::ffff:127.0.0.1".parse().expect("ip"),
            &allowed,
            &[]
        ));
        assert!(!may_connect("10.0.0.1".parse().expect("ip"), &allowed, &[]));
        assert!(may_connect("8.8.8.8".parse().expect("ip"), &[], &[]));
    }

    #[test]
    fn the_campus_is_denied_unless_allowed() {
        let campus: Vec<IpNet> = vec!["130.153.0.0/16".parse().expect("net")];
        let host: IpAddr = "130.153.8.1".parse().expect("ip");
        assert!(!may_connect(host, &[], &campus));
        assert!(!may_connect(
            "::ffff:130.153.8.1".parse().expect("ip"),
            &[],
            &campus
        ));
        let one: Vec<IpNet> = vec!["130.153.8.1/32".parse().expect("net")];
        assert!(may_connect(host, &one, &campus), "allowed wins");
        assert!(may_connect(host, &[], &[]));
    }

    #[test]
    fn translated_and_tunnelled_ipv6_forms_are_judged_or_refused() {
        for ip in [
            "::ffff:0:127.0.0.1",
            "::ffff:0:a00:1",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378::1",
        ] {
            assert!(is_forbidden(ip.parse().expect(ip)), "{ip}");
        }
        assert!(!is_forbidden("64:ff9b:1::808:808".parse().expect("ip")));
    }

    #[test]
    fn http_only_for_allowed_hosts() {
        let url = |u: &str| Url::parse(u).expect("url");
        assert!(check_scheme(&url("https://rp.example/bc"), &[]).is_ok());
        assert!(check_scheme(&url("http://127.0.0.1:9/bc"), &[]).is_err());
        assert!(check_scheme(&url("http://127.0.0.1:9/bc"), &["127.0.0.1".into()]).is_ok());
    }

    #[test]
    fn ipv6_addresses_share_a_budget_per_64() {
        assert_eq!(
            budget_key("2001:db8:1:2:aaaa::1".parse().expect("ip")),
            budget_key("2001:db8:1:2:bbbb::9".parse().expect("ip"))
        );
        assert_eq!(budget_key("::ffff:1.2.3.4".parse().expect("ip")), "1.2.3.4");
    }
}
