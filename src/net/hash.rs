//! kube-proxy's chain-name hashes.
//!
//! iptables mode (`portProtoHash` and `servicePortEndpointChainName` of
//! `pkg/proxy/iptables/proxier.go`): the first 16 characters of the RFC 4648 standard base32
//! encoding of the SHA-256 of the service port name (`namespace/name`, plus `:portname` when
//! the port is named), the lower case protocol and, for endpoint chains, `IP:port`.
//!
//! nftables mode (`hashAndTruncate`, `servicePortChainNameBase` and
//! `servicePortEndpointChainNameBase` of `pkg/proxy/nftables/proxier.go`): the readable name
//! `namespace/name/protocol/portname` (plus `__IP/port` for an endpoint) prefixed with the
//! first 8 base32 characters of its own SHA-256 and a hyphen. This module knows nothing of
//! rules.

use data_encoding::BASE32;
use sha2::{Digest, Sha256};

/// `namespace/name` or `namespace/name:port` (`ServicePortName.String()`).
pub fn service_port_name(namespace: &str, name: &str, port_name: Option<&str>) -> String {
    match port_name {
        Some(p) if !p.is_empty() => format!("{namespace}/{name}:{p}"),
        _ => format!("{namespace}/{name}"),
    }
}

fn hash16(parts: &[&str]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    let encoded = BASE32.encode(&h.finalize());
    let mut out = [0u8; 16];
    out.copy_from_slice(&encoded.as_bytes()[..16]);
    out
}

/// The 16-character hash shared by a port's `KUBE-SVC-`, `KUBE-SVL-`, `KUBE-EXT-` and
/// `KUBE-FW-` chains; `protocol` is lower case (`tcp`).
pub fn port_proto_hash(service_port_name: &str, protocol: &str) -> [u8; 16] {
    hash16(&[service_port_name, protocol])
}

/// The 16-character hash of a `KUBE-SEP-` chain; `endpoint` is `IP:port`.
pub fn endpoint_hash(service_port_name: &str, protocol: &str, endpoint: &str) -> [u8; 16] {
    hash16(&[service_port_name, protocol, endpoint])
}

/// `prefix` followed by the hash, e.g. `KUBE-SVC-XPGD46QRK7WJZT7O`.
pub fn chain_name(prefix: &str, hash: &[u8; 16]) -> String {
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    // Base32 output is ASCII.
    s.extend(hash.iter().map(|&b| b as char));
    s
}

/// nftables' longest chain name (`knftables.NameLengthMax`, 256) less the longest prefix
/// kube-proxy puts in front (`chainNamePrefixLengthMax`, 16).
const NFT_CHAIN_NAME_BASE_MAX: usize = 256 - 16;

/// `hashAndTruncate`: `HASH8-name`, cut to 240 characters with `...` if longer.
fn hash_and_truncate(name: &str) -> String {
    let encoded = BASE32.encode(&Sha256::digest(name.as_bytes()));
    let mut out = format!("{}-{name}", &encoded[..8]);
    if out.len() > NFT_CHAIN_NAME_BASE_MAX {
        out.truncate(NFT_CHAIN_NAME_BASE_MAX - 3);
        out.push_str("...");
    }
    out
}

/// The base of an nftables service port's chain names (`service-`, `local-`, `external-`,
/// `firewall-` are put in front), e.g. `ULMVA6XW-ns1/svc1/tcp/p80`; `port_name` is empty for
/// an unnamed port.
pub fn nft_service_chain_base(
    namespace: &str,
    name: &str,
    protocol: &str,
    port_name: &str,
) -> String {
    hash_and_truncate(&format!("{namespace}/{name}/{protocol}/{port_name}"))
}

/// The base of an nftables endpoint's chain and affinity set names (`endpoint-`, `affinity-`),
/// e.g. `5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80`.
pub fn nft_endpoint_chain_base(
    namespace: &str,
    name: &str,
    protocol: &str,
    port_name: &str,
    ip: std::net::Ipv4Addr,
    port: u16,
) -> String {
    hash_and_truncate(&format!(
        "{namespace}/{name}/{protocol}/{port_name}__{ip}/{port}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values from upstream's `pkg/proxy/iptables/proxier_test.go`.
    #[test]
    fn upstream_chain_names() {
        let spn = service_port_name("ns1", "svc1", Some("p80"));
        assert_eq!(spn, "ns1/svc1:p80");
        let h = port_proto_hash(&spn, "tcp");
        assert_eq!(chain_name("KUBE-SVC-", &h), "KUBE-SVC-XPGD46QRK7WJZT7O");
        let e = endpoint_hash(&spn, "tcp", "10.180.0.1:80");
        assert_eq!(chain_name("KUBE-SEP-", &e), "KUBE-SEP-SXIVWICOYRO3J4NJ");
        let h = port_proto_hash("ns2/svc2:p80", "tcp");
        assert_eq!(chain_name("KUBE-EXT-", &h), "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
    }

    #[test]
    fn unnamed_port() {
        assert_eq!(service_port_name("default", "web", None), "default/web");
        assert_eq!(service_port_name("default", "web", Some("")), "default/web");
    }

    /// Expected values from upstream's `pkg/proxy/nftables/proxier_test.go` and from a real
    /// node's `nft list table ip kube-proxy`.
    #[test]
    fn upstream_nft_chain_names() {
        assert_eq!(
            nft_service_chain_base("ns1", "svc1", "tcp", "p80"),
            "ULMVA6XW-ns1/svc1/tcp/p80"
        );
        assert_eq!(
            nft_endpoint_chain_base(
                "ns1",
                "svc1",
                "tcp",
                "p80",
                "10.180.0.1".parse().unwrap(),
                80
            ),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert_eq!(
            nft_service_chain_base("default", "kubernetes", "tcp", "https"),
            "2QRHZV4L-default/kubernetes/tcp/https"
        );
        assert_eq!(
            nft_service_chain_base("kube-system", "kube-dns", "udp", "dns"),
            "FY5PMXPG-kube-system/kube-dns/udp/dns"
        );
        let long = "n".repeat(63);
        let base =
            nft_endpoint_chain_base(&long, &long, "sctp", &long, "10.0.0.1".parse().unwrap(), 80);
        assert!(base.len() <= 240);
    }
}
