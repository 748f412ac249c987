//! Where connector code may send HTTP requests.
//!
//! Guests have no sockets; every request goes through the host, which asks an
//! [`EgressPolicy`] about each address *after* DNS resolution and connects
//! only to the addresses it approved (see [`resolver`]). That closes the usual
//! SSRF holes: a public name that resolves to `127.0.0.1`, an IP literal in
//! a redirect, or the cloud metadata address.

mod network;
pub mod resolver;

use std::net::IpAddr;

pub use network::{IpNetwork, ParseNetworkError};

/// The destinations a connector may reach.
///
/// The default refuses every address that is not globally routable:
/// loopback, private, link-local (which includes the cloud metadata service
/// at 169.254.169.254), unique-local, CGNAT, multicast, unspecified and
/// reserved ranges, including IPv4 addresses embedded in IPv6.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EgressPolicy {
    /// Allow every destination (tests and fully trusted deployments).
    allow_all: bool,
    /// Refuse every destination, public ones too (code run only to be
    /// checked, never to do work).
    deny_all: bool,
    /// Non-public networks that are allowed anyway (e.g. an internal API).
    allowed_networks: Vec<IpNetwork>,
}

/// Why the policy refused an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is a {class} address")]
pub struct EgressDenied {
    /// The refused address.
    pub address: IpAddr,
    /// Which kind of non-public range it is in.
    pub class: AddressClass,
}

/// Kinds of non-public address ranges, for error messages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7.
    Private,
    /// 169.254/16 and fe80::/10, which hold cloud metadata services.
    LinkLocal,
    /// 100.64.0.0/10 carrier-grade NAT.
    SharedNat,
    /// 0.0.0.0, ::.
    Unspecified,
    /// Multicast and broadcast.
    Multicast,
    /// 0/8, 240/4, documentation, benchmarking and other special ranges.
    Reserved,
    /// Any address, under a policy that allows none (a script check).
    Withheld,
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Loopback => "loopback",
            Self::Private => "private-network",
            Self::LinkLocal => "link-local (metadata)",
            Self::SharedNat => "shared (CGNAT)",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast/broadcast",
            Self::Reserved => "reserved",
            Self::Withheld => "withheld (this run may not use the network)",
        })
    }
}

impl EgressPolicy {
    /// Only globally routable destinations (the default).
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Every destination. For tests and deployments where connector code is
    /// fully trusted; never the default.
    pub fn unrestricted() -> Self {
        Self {
            allow_all: true,
            deny_all: false,
            allowed_networks: Vec::new(),
        }
    }

    /// No destination at all: for running user code only to inspect it
    /// (a script check), where no request may leave the host.
    pub fn nowhere() -> Self {
        Self {
            allow_all: false,
            deny_all: true,
            allowed_networks: Vec::new(),
        }
    }

    /// Public destinations plus the given non-public networks.
    pub fn allowing_networks(networks: impl IntoIterator<Item = IpNetwork>) -> Self {
        Self {
            allow_all: false,
            deny_all: false,
            allowed_networks: networks.into_iter().collect(),
        }
    }

    /// Decide about one resolved address.
    pub fn check(&self, address: IpAddr) -> Result<(), EgressDenied> {
        if self.deny_all {
            return Err(EgressDenied {
                address,
                class: AddressClass::Withheld,
            });
        }
        if self.allow_all || self.allowed_networks.iter().any(|n| n.contains(address)) {
            return Ok(());
        }
        match classify(address) {
            None => Ok(()),
            Some(class) => Err(EgressDenied { address, class }),
        }
    }
}

/// The non-public class of an address, or `None` when it is public.
pub fn classify(address: IpAddr) -> Option<AddressClass> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
            // addresses reach the embedded IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            let segments = v6.segments();
            if segments[0] == 0x64 && segments[1] == 0xff9b && segments[2..6] == [0; 4] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return classify_v4(std::net::Ipv4Addr::new(a, b, c, d));
            }
            classify_v6(v6)
        }
    }
}

fn classify_v4(ip: std::net::Ipv4Addr) -> Option<AddressClass> {
    let [a, b, _, _] = ip.octets();
    if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_unspecified() {
        Some(AddressClass::Unspecified)
    } else if ip.is_private() {
        Some(AddressClass::Private)
    } else if ip.is_link_local() {
        Some(AddressClass::LinkLocal)
    } else if a == 100 && (64..128).contains(&b) {
        Some(AddressClass::SharedNat)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some(AddressClass::Multicast)
    } else if a == 0
        || a >= 240
        || ip.is_documentation()
        || (a == 198 && (18..20).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
    {
        Some(AddressClass::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: std::net::Ipv6Addr) -> Option<AddressClass> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_unspecified() {
        Some(AddressClass::Unspecified)
    } else if ip.is_multicast() {
        Some(AddressClass::Multicast)
    } else if first & 0xfe00 == 0xfc00 {
        Some(AddressClass::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some(AddressClass::Reserved)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(policy: &EgressPolicy, address: &str) -> Option<AddressClass> {
        let address: IpAddr = address.parse().expect("test address");
        policy.check(address).err().map(|e| e.class)
    }

    #[test]
    fn nowhere_refuses_public_addresses_too() {
        let policy = EgressPolicy::nowhere();
        for address in ["93.184.216.34", "2606:2800:220:1::1", "127.0.0.1"] {
            assert_eq!(denied(&policy, address), Some(AddressClass::Withheld));
        }
    }

    #[test]
    fn default_policy_refuses_every_non_public_range() {
        let policy = EgressPolicy::default();
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("fd12::1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::SharedNat),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Multicast),
            ("240.0.0.1", AddressClass::Reserved),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("64:ff9b::10.0.0.1", AddressClass::Private),
        ];
        for (address, class) in cases {
            assert_eq!(denied(&policy, address), Some(class), "{address}");
        }
    }

    #[test]
    fn default_policy_allows_public_addresses() {
        let policy = EgressPolicy::default();
        for address in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert_eq!(denied(&policy, address), None, "{address}");
        }
    }

    #[test]
    fn allowed_networks_open_only_their_range() {
        let network: IpNetwork = "10.20.0.0/16".parse().expect("network");
        let policy = EgressPolicy::allowing_networks([network]);
        assert_eq!(denied(&policy, "10.20.5.5"), None);
        assert_eq!(denied(&policy, "10.21.0.1"), Some(AddressClass::Private));
        assert_eq!(denied(&policy, "127.0.0.1"), Some(AddressClass::Loopback));
    }

    #[test]
    fn unrestricted_allows_loopback() {
        assert_eq!(denied(&EgressPolicy::unrestricted(), "127.0.0.1"), None);
    }
}
