//! A CIDR network (`10.0.0.0/8`, `fd00::/8`) for opening parts of the
//! private address space to a connector.

use std::net::IpAddr;
use std::str::FromStr;

/// An IP network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

/// Why a CIDR string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a network in CIDR notation such as 10.0.0.0/8")]
pub struct ParseNetworkError(String);

impl IpNetwork {
    /// Whether `address` lies inside this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: u128, address: u128, prefix: u8, width: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(width - prefix);
    (network >> shift) == (address >> shift)
}

impl FromStr for IpNetwork {
    type Err = ParseNetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseNetworkError(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(error)?;
        let address: IpAddr = address.trim().parse().map_err(|_| error())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| error())?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        if prefix > width {
            return Err(error());
        }
        Ok(Self { address, prefix })
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_v4_and_v6() {
        let v4: IpNetwork = "192.168.0.0/16".parse().expect("v4");
        assert!(v4.contains("192.168.44.1".parse().expect("ip")));
        assert!(!v4.contains("192.169.0.1".parse().expect("ip")));
        let v6: IpNetwork = "fd00::/8".parse().expect("v6");
        assert!(v6.contains("fd12:3456::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        assert!(!v6.contains("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn rejects_malformed_networks() {
        for text in ["10.0.0.0", "10.0.0.0/33", "nonsense/8", "::/129"] {
            assert!(text.parse::<IpNetwork>().is_err(), "{text}");
        }
    }
}
