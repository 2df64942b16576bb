//! Credit arithmetic with u32 wrapping, as in virtio_transport_common.c.

use proptest::prelude::*;
use vsock_seqpacket_core::Credit;

fn peer(buf_alloc: u32) -> Credit {
    let mut c = Credit::default();
    c.on_peer_update(buf_alloc, 0);
    c
}

#[test]
fn default_has_no_credit() {
    let mut c = Credit::default();
    assert_eq!(c.peer_free(), 0);
    assert_eq!(c.take(10), 0);
    assert_eq!(c.tx_cnt, 0);
    assert!(c.record_fits_peer(0));
    assert!(!c.record_fits_peer(1));
}

#[test]
fn take_grants_up_to_peer_free() {
    let mut c = peer(100);
    assert_eq!(c.peer_free(), 100);
    assert_eq!(c.take(30), 30);
    assert_eq!(c.tx_cnt, 30);
    assert_eq!(c.peer_free(), 70);
    assert_eq!(c.take(100), 70);
    assert_eq!(c.tx_cnt, 100);
    assert_eq!(c.peer_free(), 0);
    assert_eq!(c.take(1), 0);
    assert_eq!(c.take(0), 0);
    assert_eq!(c.tx_cnt, 100);
}

#[test]
fn peer_update_reopens_credit() {
    let mut c = peer(100);
    c.take(100);
    c.on_peer_update(100, 40);
    assert_eq!(c.peer_fwd_cnt, 40);
    assert_eq!(c.peer_free(), 40);
    c.on_peer_update(200, 40);
    assert_eq!(c.peer_buf_alloc, 200);
    assert_eq!(c.peer_free(), 140);
}

#[test]
fn peer_shrinking_its_buffer_saturates_at_zero() {
    let mut c = peer(100);
    c.take(80);
    c.on_peer_update(50, 0);
    assert_eq!(c.peer_free(), 0);
    assert_eq!(c.take(10), 0);
    assert_eq!(c.tx_cnt, 80);
}

#[test]
fn counters_wrap() {
    let mut c = Credit {
        tx_cnt: u32::MAX - 9,
        peer_fwd_cnt: u32::MAX - 9,
        peer_buf_alloc: 64,
        ..Credit::default()
    };
    assert_eq!(c.peer_free(), 64);
    assert_eq!(c.take(30), 30);
    assert_eq!(c.tx_cnt, 20);
    assert_eq!(c.peer_free(), 34);
    c.on_peer_update(64, 15);
    assert_eq!(c.peer_free(), 59);
    c.put_back(30);
    assert_eq!(c.tx_cnt, u32::MAX - 9);

    let mut c = Credit {
        fwd_cnt: u32::MAX,
        ..Credit::default()
    };
    c.consumed(2);
    assert_eq!(c.fwd_cnt, 1);
}

#[test]
fn put_back_returns_credit() {
    let mut c = peer(10);
    assert_eq!(c.take(10), 10);
    c.put_back(4);
    assert_eq!(c.tx_cnt, 6);
    assert_eq!(c.peer_free(), 4);
}

#[test]
fn record_fits_peer_buffer() {
    let c = peer(4096);
    assert!(c.record_fits_peer(0));
    assert!(c.record_fits_peer(4096));
    assert!(!c.record_fits_peer(4097));
    assert!(peer(u32::MAX).record_fits_peer(u32::MAX));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A sender and a receiver exchanging bytes through credit never have more bytes in flight
    /// than the receiver's buffer, from any wrapping start point.
    #[test]
    fn in_flight_never_exceeds_peer_buffer(
        start: u32,
        buf in 1u32..10_000,
        steps in prop::collection::vec((any::<bool>(), 0u32..20_000), 1..64),
    ) {
        let mut tx = Credit { tx_cnt: start, peer_fwd_cnt: start, peer_buf_alloc: buf, ..Credit::default() };
        let mut rx = Credit { buf_alloc: buf, fwd_cnt: start, ..Credit::default() };
        let mut queued: u32 = 0;
        for (send, n) in steps {
            if send {
                let got = tx.take(n);
                prop_assert!(got <= n);
                queued += got;
            } else {
                let n = n.min(queued);
                rx.consumed(n);
                queued -= n;
                tx.on_peer_update(rx.buf_alloc, rx.fwd_cnt);
            }
            prop_assert!(queued <= buf);
            let in_flight = tx.tx_cnt.wrapping_sub(tx.peer_fwd_cnt);
            prop_assert_eq!(tx.peer_free(), buf - in_flight);
        }
    }
}
