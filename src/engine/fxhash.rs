//! A fast, deterministic hasher for small integer keys on the hot path (the FxHash function
//! of rustc's `rustc-hash`: rotate, xor, multiply per word).
//!
//! It is not resistant to chosen keys, which does not matter for a simulator's own ids and
//! addresses. Maps built with it are only looked up, never iterated where the order could
//! reach the output (the determinism invariant holds for any hasher, but this one is also the
//! same on every platform).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `HashSet` with [`FxHasher`]: only for sets that are looked up, never iterated.
pub type FxHashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// The hasher: one multiply per word of input.
#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_look_up_what_they_hold() {
        let mut m: FxHashMap<(u32, u16), u32> = FxHashMap::default();
        for i in 0..1000u32 {
            m.insert((i.wrapping_mul(2_654_435_761), i as u16), i);
        }
        for i in 0..1000u32 {
            assert_eq!(m.get(&(i.wrapping_mul(2_654_435_761), i as u16)), Some(&i));
        }
        assert_eq!(m.get(&(1, 1)), None);
    }
}
