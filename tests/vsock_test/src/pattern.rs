//! Reproducible record contents, sizes and checksums.
//!
//! Both sides derive a record's bytes from (seed, index), so the receiver can
//! tell not only *that* a record is wrong but where the first wrong byte is,
//! and the sender's checksums sent over the control channel cross-check that
//! both sides generated the same thing.

/// SplitMix64: tiny, fast and good enough to make records differ.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo <= hi);
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Mixes the parts of a record's identity into one seed.
pub fn seed_of(parts: &[u64]) -> u64 {
    let mut r = Rng::new(0x7673_6f63_6b5f_7371); // "vsock_sq"
    for &p in parts {
        r.0 ^= p;
        r.next_u64();
    }
    r.next_u64()
}

/// Fills `buf` with the bytes of the record identified by `seed`.
pub fn fill(buf: &mut [u8], seed: u64) {
    let mut r = Rng::new(seed);
    for chunk in buf.chunks_mut(8) {
        let v = r.next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// The bytes of the record identified by `seed`, `len` long.
pub fn record(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(&mut v, seed);
    v
}

/// FNV-1a, 64 bit: the per-record checksum exchanged over the control channel.
pub fn checksum(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Compares a received record with the expected bytes and says where they
/// differ, so a failure tells a merged, split or corrupted record apart.
pub fn compare(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: expected {} bytes, got {}",
            want.len(),
            got.len()
        ));
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: {} bytes as expected, but byte {i} is {:#04x}, expected {:#04x}",
            want.len(),
            got[i],
            want[i]
        )),
    }
}
