//! Which network a client is on: the campus network, the campus VPN, or off campus.
//!
//! From off campus every sign-in needs a second factor; on the campus network or the VPN the
//! password may suffice (DOMAIN.md, "Second factor and networks"). The ranges come from
//! `[network]` in the configuration. This module owns only the lookup, not what each zone
//! requires, and every doubt falls towards [`Zone::OffCampus`]: an address in no configured
//! range is off campus, and so is one that [`resolve`] could not establish, whatever range
//! it appears to be in.
//!
//! Pure: no actix, no diesel, no I/O.
//!
//! [`resolve`]: crate::domain::client_address::resolve

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::domain::client_address::{ClientAddress, normalize};

/// The network a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// A `network.campus` range.
    Campus,
    /// A `network.vpn` range: the campus VPN.
    Vpn,
    /// Anywhere else, or an address that could not be established.
    OffCampus,
}

impl Zone {
    /// The zone's name in logs, audit records and serialised form: `"campus"`, `"vpn"` or
    /// `"off_campus"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Campus => "campus",
            Zone::Vpn => "vpn",
            Zone::OffCampus => "off_campus",
        }
    }

    /// True on the campus network or the VPN, where the password alone may suffice.
    pub fn is_trusted_network(self) -> bool {
        matches!(self, Zone::Campus | Zone::Vpn)
    }
}

/// The configured campus and VPN ranges. The default has none, so everything is off campus.
#[derive(Clone, Debug, Default)]
pub struct NetworkZones {
    campus: Vec<IpNet>,
    vpn: Vec<IpNet>,
}

impl NetworkZones {
    /// Zones from the `network.campus` and `network.vpn` ranges.
    pub fn new(campus: Vec<IpNet>, vpn: Vec<IpNet>) -> Self {
        NetworkZones { campus, vpn }
    }

    /// Every campus and VPN range: the university's own networks.
    pub fn networks(&self) -> impl Iterator<Item = &IpNet> {
        self.campus.iter().chain(&self.vpn)
    }

    /// The zone of a resolved client address.
    ///
    /// VPN ranges are checked first (a VPN pool may sit inside the campus block); an
    /// unreliable address is always [`Zone::OffCampus`].
    pub fn classify(&self, addr: ClientAddress) -> Zone {
        if !addr.reliable {
            // The address is a proxy's, not the client's: it says nothing about the client.
            return Zone::OffCampus;
        }
        self.classify_ip(addr.ip)
    }

    /// The zone of a bare address, after turning IPv4-mapped IPv6 into IPv4. Use
    /// [`classify`](Self::classify) for requests, so that an unreliable address counts as
    /// off campus.
    pub fn classify_ip(&self, ip: IpAddr) -> Zone {
        let ip = normalize(ip);
        let within = |ranges: &[IpNet]| ranges.iter().any(|net| net.contains(&ip));
        if within(&self.vpn) {
            Zone::Vpn
        } else if within(&self.campus) {
            Zone::Campus
        } else {
            Zone::OffCampus
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};

    use super::*;
    use crate::domain::client_address::resolve;

    /// INTERFACE.md's example ranges, plus a VPN pool inside the campus block.
    fn zones() -> NetworkZones {
        let nets = |list: &[&str]| list.iter().map(|n| n.parse().unwrap()).collect();
        NetworkZones::new(
            nets(&["130.153.0.0/16", "2001:200:1c0::/48"]),
            nets(&["157.82.0.0/24", "130.153.200.0/24"]),
        )
    }

    struct Case {
        name: &'static str,
        ip: &'static str,
        reliable: bool,
        want: Zone,
    }

    #[test]
    fn classifies_each_case() {
        #[rustfmt::skip]
        let cases = [
            Case { name: "campus ipv4", ip: "130.153.12.34", reliable: true, want: Zone::Campus },
            Case { name: "first campus address", ip: "130.153.0.0", reliable: true, want: Zone::Campus },
            Case { name: "last campus address", ip: "130.153.255.255", reliable: true, want: Zone::Campus },
            Case { name: "just past the campus block", ip: "130.154.0.0", reliable: true, want: Zone::OffCampus },
            Case { name: "vpn pool", ip: "157.82.0.10", reliable: true, want: Zone::Vpn },
            Case { name: "just past the vpn pool", ip: "157.82.1.0", reliable: true, want: Zone::OffCampus },
            Case { name: "vpn pool inside the campus block is vpn", ip: "130.153.200.9", reliable: true, want: Zone::Vpn },
            Case { name: "campus next to the inner vpn pool", ip: "130.153.201.9", reliable: true, want: Zone::Campus },
            Case { name: "campus ipv6", ip: "2001:200:1c0:12::1", reliable: true, want: Zone::Campus },
            Case { name: "ipv6 just past the campus range", ip: "2001:200:1c1::1", reliable: true, want: Zone::OffCampus },
            Case { name: "ipv4-mapped campus address", ip: "::ffff:130.153.1.2", reliable: true, want: Zone::Campus },
            Case { name: "ipv4-mapped vpn address", ip: "::ffff:157.82.0.10", reliable: true, want: Zone::Vpn },
            Case { name: "off campus ipv4", ip: "198.51.100.7", reliable: true, want: Zone::OffCampus },
            Case { name: "off campus ipv6", ip: "2001:db8::7", reliable: true, want: Zone::OffCampus },
            Case { name: "loopback is not configured, so off campus", ip: "127.0.0.1", reliable: true, want: Zone::OffCampus },
            Case { name: "unreliable campus address", ip: "130.153.12.34", reliable: false, want: Zone::OffCampus },
            Case { name: "unreliable vpn address", ip: "157.82.0.10", reliable: false, want: Zone::OffCampus },
            Case { name: "unreliable campus ipv6", ip: "2001:200:1c0::1", reliable: false, want: Zone::OffCampus },
        ];
        let zones = zones();
        for case in &cases {
            let ip: IpAddr = case.ip.parse().unwrap();
            let got = zones.classify(ClientAddress {
                ip,
                reliable: case.reliable,
            });
            assert_eq!(got, case.want, "case {:?}", case.name);
            if case.reliable {
                assert_eq!(
                    zones.classify_ip(ip),
                    case.want,
                    "case {:?} (classify_ip)",
                    case.name
                );
            }
        }
    }

    #[test]
    fn no_configured_ranges_means_everything_is_off_campus() {
        let zones = NetworkZones::default();
        for ip in [
            "130.153.1.1",
            "157.82.0.10",
            "2001:200:1c0::1",
            "::ffff:130.153.1.1",
        ] {
            assert_eq!(
                zones.classify_ip(ip.parse().unwrap()),
                Zone::OffCampus,
                "{ip}"
            );
        }
    }

    #[test]
    fn forged_campus_header_from_off_campus_peer_stays_off_campus() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let peer = "198.51.100.7".parse().unwrap();
        let forged = resolve(peer, &["130.153.1.1"], &["for=130.153.1.1"], &proxies);
        assert_eq!(zones().classify(forged), Zone::OffCampus);

        let proxied = resolve(
            "10.0.0.1".parse().unwrap(),
            &["130.153.1.1, 198.51.100.7"],
            &[],
            &proxies,
        );
        assert_eq!(zones().classify(proxied), Zone::OffCampus);

        let unreadable = resolve(
            "10.0.0.1".parse().unwrap(),
            &["130.153.1.1, unknown"],
            &[],
            &proxies,
        );
        assert_eq!(zones().classify(unreadable), Zone::OffCampus);
    }

    #[test]
    fn zone_names_match_their_serialised_form() {
        for (zone, trusted) in [
            (Zone::Campus, true),
            (Zone::Vpn, true),
            (Zone::OffCampus, false),
        ] {
            let de: StrDeserializer<'_, Error> = zone.as_str().into_deserializer();
            assert_eq!(Zone::deserialize(de), Ok(zone), "{zone:?}");
            assert_eq!(zone.is_trusted_network(), trusted, "{zone:?}");
        }
    }
}
