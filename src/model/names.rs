//! Object names and UIDs shaped as upstream makes them.
//!
//! Pods of a Deployment are named `<deployment>-<pod-template-hash>-<5 chars>`
//! (`pkg/controller/deployment/sync.go`, `names.SimpleNameGenerator`).

use super::objects::PodTemplate;
use crate::engine::SimRng;
use rand::Rng;

/// `rand.String`'s alphabet: no vowels, no confusable characters
/// (`staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go`).
pub const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `rand.SafeEncodeString`: each byte mapped into [`ALPHANUMS`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`).
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The `pod-template-hash` of a template: `SafeEncodeString(fmt.Sprint(fnv32a(template)))`
/// as in `controller.ComputeHash`. Upstream hashes Go's `spew` dump of the template, which
/// cannot be reproduced outside Go; kubesim hashes its own canonical rendering, so the value
/// has upstream's shape (1 to 10 characters from `4-9bcdf`) but not its exact bytes. Fields
/// the model gained later are left out of the rendering while unset, so that a template
/// without them keeps the name it had (names appear in the docs and in users' notes).
pub fn pod_template_hash(template: &PodTemplate) -> String {
    let rendering = format!("{template:?}").replace(", pre_stop: None", "");
    safe_encode(&fnv32a(rendering.as_bytes()).to_string())
}

/// A 5-character random suffix (`utilrand.String(5)`).
pub fn random_suffix(rng: &mut SimRng) -> String {
    (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// A version-4 UUID as the API server assigns `metadata.uid`.
pub fn uid(rng: &mut SimRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    #[test]
    fn template_hash_uses_the_digit_alphabet() {
        // Decimal digits map to "456789bcdf": '0' (48) % 27 = 21 -> '4', '9' (57) % 27 = 3 -> 'f'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn fnv32a_matches_go() {
        // hash/fnv New32a of "" and "a" (Go's test vectors).
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
    }

    #[test]
    fn suffixes_and_uids_have_upstream_shape() {
        let mut rng = RngStreams::new(1).stream("names");
        let s = random_suffix(&mut rng);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| ALPHANUMS.contains(&b)));
        let u = uid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
