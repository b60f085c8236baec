//! Safe calls to addresses that relying parties chose (issue #12 item 6): back-channel
//! logout URIs registered at the developer portal or by RFC 7591/7592 are checked when
//! they are registered and again, authoritatively, when a token is delivered. The delivery
//! client resolves names itself, refuses the request if any resolved address is
//! forbidden, and connects only to the addresses it checked (no second lookup, so no DNS
//! rebinding); it follows no redirects and uses no proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::domain::client::{MetadataError, MetadataField};
use crate::domain::outbound::{check_scheme, literal_address, may_connect};

/// How long a registration waits for a name to resolve.
const REGISTRATION_LOOKUP: Duration = Duration::from_secs(3);

/// What the operator allows portal and dynamically registered clients to reach.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    pub http_allowed_hosts: Vec<String>,
    pub allowed_networks: Vec<IpNet>,
    /// The campus and VPN ranges (`network.campus`, `network.vpn`): refused unless allowed.
    pub denied_networks: Vec<IpNet>,
}

impl OutboundPolicy {
    pub fn from_state(state: &crate::startup::AppState) -> Self {
        OutboundPolicy {
            http_allowed_hosts: state.settings.outbound.http_allowed_hosts.clone(),
            allowed_networks: state.cfg.outbound_allowed.clone(),
            denied_networks: state.cfg.zones.networks().cloned().collect(),
        }
    }

    fn check_addresses(&self, addrs: &[IpAddr]) -> Result<(), String> {
        match addrs
            .iter()
            .find(|ip| !may_connect(**ip, &self.allowed_networks, &self.denied_networks))
        {
            Some(ip) => Err(format!(
                "resolves to {ip}, an internal address this provider does not call"
            )),
            None => Ok(()),
        }
    }
}

/// Registration-time check of a back-channel logout URI (the portal, RFC 7591 and 7592):
/// https outside the development allow-list, and neither an internal address nor a name
/// that resolves to one. A name that does not resolve now is accepted: delivery checks
/// again.
pub async fn check_registration(
    policy: &OutboundPolicy,
    uri: Option<&str>,
) -> Result<(), MetadataError> {
    let Some(uri) = uri.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let refuse = |why: String| {
        MetadataError::new(
            MetadataField::BackchannelLogoutUri,
            format!("back-channel logout URI: {why}"),
        )
    };
    // The shape (absolute, no fragment, ...) is checked by `clients::validate`.
    let Ok(url) = Url::parse(uri) else {
        return Ok(());
    };
    check_scheme(&url, &policy.http_allowed_hosts).map_err(refuse)?;
    let addrs = match literal_address(&url) {
        Some(ip) => vec![ip],
        None => {
            let host = url.host_str().unwrap_or_default().to_string();
            let port = url.port_or_known_default().unwrap_or(443);
            match tokio::time::timeout(
                REGISTRATION_LOOKUP,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                // Unknown today, or the lookup is slow: delivery decides.
                _ => Vec::new(),
            }
        }
    };
    policy.check_addresses(&addrs).map_err(refuse)
}

/// Delivery-time check of a URI before a request: a literal address is checked here
/// (reqwest does not ask the resolver for those); names go through [`CheckedResolver`].
pub fn check_delivery(policy: &OutboundPolicy, url: &Url) -> Result<(), String> {
    check_scheme(url, &policy.http_allowed_hosts)?;
    if let Some(ip) = literal_address(url) {
        policy.check_addresses(&[ip])?;
    }
    Ok(())
}

/// The resolver's refusal, recognisable in a reqwest error's source chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Whether `e` failed because the outbound rules refused the resolved address.
pub fn refused_by_rules(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused.0.clone());
        }
        source = err.source();
    }
    None
}

/// Resolves a name and hands reqwest only addresses it checked; if any address of the
/// name is forbidden, none is returned (a name that mixes public and internal addresses
/// is refused, not half-trusted).
struct CheckedResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = found.iter().map(SocketAddr::ip).collect();
            if ips.is_empty() {
                return Err("the name has no address".into());
            }
            policy.check_addresses(&ips).map_err(Refused)?;
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for relying parties held to the rules: checked resolution, no
/// redirects, no proxy, short timeouts.
pub fn checked_client(
    policy: &OutboundPolicy,
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver {
            policy: policy.clone(),
        }))
        .no_proxy()
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
