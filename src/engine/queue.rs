//! The event queue, ordered by `(time, sequence)`.
//!
//! Tie rule: events scheduled for the same instant run in the order they were scheduled
//! (first in, first out). The sequence number is a `u64` counter that never wraps in practice.
//!
//! Three structures hold the events; `pop` takes the least `(time, seq)` of their first ones,
//! so the order is exactly the one a single `(time, seq)` heap gives and only the cost changes:
//!
//! - A **timing wheel** for the near future (the next [`WHEEL_SLOTS`] slots of
//!   2^[`SLOT_SHIFT`] ns, about 67 ms: a request's service, a client's next try). An event is
//!   filed in the slot of its time with a push; the earliest non-empty slot is found through a
//!   bitmap and sorted once when it becomes the next to pop (slots hold a few events), and an
//!   event filed into that sorted slot is inserted in order. Scheduling is O(1) and popping
//!   amortised O(1) for the spread of a busy run, where a radix heap re-files each event once
//!   per halving of its distance.
//! - A **radix heap** (Ahuja, Mehlhorn, Orlin and Tarjan, 1990) for events beyond the wheel
//!   (timeouts, probes, the timeline): since nothing is ever scheduled before the last event
//!   popped, an event is filed by the highest bit in which its time differs from that instant,
//!   and only the lowest non-empty bucket is ever sorted out. Events that leave the wheel's
//!   reach stay here until popped; they are never moved.
//! - FIFO *lanes* ([`schedule_in_lane`](EventQueue::schedule_in_lane)) for kinds of events
//!   that are mostly scheduled in time order (a stream's next arrival, a packet that takes a
//!   fixed latency). An event goes into its lane only if it is not earlier than the lane's last
//!   one; since sequence numbers only grow, each lane is then sorted by `(time, seq)` by
//!   construction, and an event that would break the order goes to the wheel or heap instead.
//!
//! `tests::matches_a_binary_heap` checks the order against the plain `(time, seq)` heap, with
//! and without lanes, over delays that hit every part.

use super::SimTime;
use std::cmp::Ordering;
use std::collections::VecDeque;

/// An event with the instant it is due and its scheduling sequence number.
#[derive(Debug, Clone)]
pub struct Scheduled<E> {
    pub at: SimTime,
    pub seq: u64,
    pub event: E,
}

impl<E> Scheduled<E> {
    /// `(time, seq)` as one number, compared in one step.
    #[inline]
    fn key(&self) -> u128 {
        ((self.at.as_nanos() as u128) << 64) | self.seq as u128
    }
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed, so that a max-heap (`BinaryHeap`) pops the earliest `(at, seq)` first: the
    /// reference order the queue is tested against.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// How many FIFO lanes a queue has (`schedule_in_lane` takes `0..LANES`).
pub const LANES: usize = 4;

/// A wheel slot spans 2^`SLOT_SHIFT` ns (65.5 µs): a few events each in a busy run. Finer slots
/// (4 µs) took fewer instructions but ran slower: more slots, more cache lines (measured).
pub const SLOT_SHIFT: u32 = 16;
/// Slots in the wheel (a power of two): it reaches 2^26 ns, about 67 ms, ahead.
pub const WHEEL_SLOTS: usize = 1 << 10;
const SLOT_MASK: u64 = WHEEL_SLOTS as u64 - 1;
/// No slot is sorted.
const NO_SLOT: u64 = u64::MAX;

/// The near future: slot `t >> SLOT_SHIFT` (modulo the wheel) holds the events due in it.
#[derive(Debug)]
struct Wheel<E> {
    slots: Vec<Vec<Scheduled<E>>>,
    /// Bit `i % 64` of word `i / 64` set when slot `i` is not empty.
    bits: Vec<u64>,
    len: usize,
    /// The absolute slot number (`time >> SLOT_SHIFT`) that is sorted latest-first and is the
    /// earliest non-empty one, or [`NO_SLOT`].
    sorted: u64,
    /// Events of the sorted slot later than every event in it, earliest first, once that slot
    /// holds [`LATER_FROM`] events: inserting them in the slot would move all of it (a
    /// start-up of 150,000 pods files thousands of events into one instant, each later than
    /// the last). Empty unless the sorted slot is not; moved into it when it empties.
    later: Vec<Scheduled<E>>,
}

/// How many events the sorted slot holds before later ones go to [`Wheel::later`]: a busy
/// run's slots hold a few, and inserting into so few is cheaper than a second list.
const LATER_FROM: usize = 32;

impl<E> Wheel<E> {
    fn new() -> Self {
        Wheel {
            slots: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            bits: vec![0; WHEEL_SLOTS / 64],
            len: 0,
            sorted: NO_SLOT,
            later: Vec::new(),
        }
    }

    /// Whether an event at `at` belongs in the wheel when the clock reads `now`.
    #[inline]
    fn reaches(now: u64, at: u64) -> bool {
        (at >> SLOT_SHIFT) - (now >> SLOT_SHIFT) < WHEEL_SLOTS as u64
    }

    #[inline]
    fn push(&mut self, s: Scheduled<E>) {
        self.push_inlined(s);
    }

    /// [`push`](Self::push) for [`EventQueue::schedule_inlined`].
    #[inline(always)]
    fn push_inlined(&mut self, s: Scheduled<E>) {
        let abs = s.at.as_nanos() >> SLOT_SHIFT;
        let i = (abs & SLOT_MASK) as usize;
        if abs == self.sorted {
            let slot = &mut self.slots[i];
            let key = s.key();
            let latest = slot.first().map_or(0, Scheduled::key);
            if key > latest && (!self.later.is_empty() || slot.len() >= LATER_FROM) {
                // Later than all the slot holds: in `later`, earliest first (usually at its end).
                let pos = self.later.partition_point(|x| x.key() < key);
                self.later.insert(pos, s);
            } else {
                // Latest first: it goes before every event earlier than it.
                let pos = slot.partition_point(|x| x.key() > key);
                slot.insert(pos, s);
            }
        } else {
            if abs < self.sorted {
                // An earlier slot than the sorted one: that one is no longer the first, and is
                // sorted again whole when it is.
                let j = (self.sorted & SLOT_MASK) as usize;
                self.slots[j].append(&mut self.later);
                self.sorted = NO_SLOT;
            }
            self.slots[i].push(s);
        }
        self.bits[i / 64] |= 1 << (i % 64);
        self.len += 1;
    }

    /// The earliest event's key, sorting its slot if it is not yet (`now`: the queue's clock,
    /// not later than any event in the wheel).
    #[inline]
    fn peek(&mut self, now: u64) -> u128 {
        if self.len == 0 {
            return NO_KEY;
        }
        if self.sorted == NO_SLOT {
            let cur = now >> SLOT_SHIFT;
            let i = self.first_occupied((cur & SLOT_MASK) as usize);
            let abs = cur + ((i as u64).wrapping_sub(cur) & SLOT_MASK);
            self.slots[i].sort_unstable_by_key(|s| std::cmp::Reverse(s.key()));
            self.sorted = abs;
        }
        let i = (self.sorted & SLOT_MASK) as usize;
        self.slots[i].last().map_or(NO_KEY, Scheduled::key)
    }

    /// The first occupied slot at or after `from`, going round (the wheel is not empty).
    fn first_occupied(&self, from: usize) -> usize {
        let words = self.bits.len();
        let w0 = from / 64;
        let masked = self.bits[w0] & (u64::MAX << (from % 64));
        if masked != 0 {
            return w0 * 64 + masked.trailing_zeros() as usize;
        }
        for k in 1..=words {
            let w = (w0 + k) % words;
            if self.bits[w] != 0 {
                return w * 64 + self.bits[w].trailing_zeros() as usize;
            }
        }
        unreachable!("the wheel has events")
    }

    /// Removes the earliest event (after [`peek`](Self::peek) returned it).
    #[inline]
    fn pop(&mut self) -> Scheduled<E> {
        let i = (self.sorted & SLOT_MASK) as usize;
        let slot = &mut self.slots[i];
        let s = slot.pop().expect("peeked");
        if slot.is_empty() {
            if self.later.is_empty() {
                self.bits[i / 64] &= !(1 << (i % 64));
                self.sorted = NO_SLOT;
            } else {
                // The slot's later events, now latest first.
                slot.extend(self.later.drain(..).rev());
            }
        }
        self.len -= 1;
        s
    }
}

/// The far future: a radix heap relative to `last`.
#[derive(Debug)]
struct RadixHeap<E> {
    /// Events due at `last`, in sequence order.
    front: VecDeque<Scheduled<E>>,
    /// `buckets[b]` holds the events whose time differs from `last` first in bit `b` (counting
    /// from the least significant), so every event in it is later than any in `buckets[..b]`.
    buckets: Vec<Vec<Scheduled<E>>>,
    /// Bit `b` set when `buckets[b]` is not empty.
    occupied: u64,
    /// The instant the buckets are relative to: never later than the queue's `now` (it lags
    /// behind while the wheel and lanes supply the events), and never later than any event in
    /// the buckets.
    last: u64,
    /// The lowest occupied bucket and its earliest time, when known (`None`: not computed
    /// since the buckets last moved).
    lowest: Option<(usize, u64)>,
}

impl<E> RadixHeap<E> {
    fn new() -> Self {
        RadixHeap {
            front: VecDeque::new(),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            occupied: 0,
            last: 0,
            lowest: None,
        }
    }

    /// Puts an event at or after `last` where it belongs.
    #[inline]
    fn file(&mut self, s: Scheduled<E>) {
        let at = s.at.as_nanos();
        let diff = at ^ self.last;
        if diff == 0 {
            self.front.push_back(s);
        } else {
            let b = 63 - diff.leading_zeros() as usize;
            self.occupied |= 1 << b;
            self.buckets[b].push(s);
            // Every event in a lower bucket is earlier than any in a higher one.
            if let Some((lb, min)) = self.lowest {
                if b < lb || (b == lb && at < min) {
                    self.lowest = Some((b, at));
                }
            }
        }
    }

    /// The earliest time, without moving (moving to it is only allowed once it is the next
    /// event of the whole queue).
    #[inline]
    fn peek_time(&mut self) -> Option<u64> {
        if let Some(s) = self.front.front() {
            return Some(s.at.as_nanos());
        }
        if self.occupied == 0 {
            return None;
        }
        if self.lowest.is_none() {
            let b = self.occupied.trailing_zeros() as usize;
            let min = self.buckets[b]
                .iter()
                .map(|s| s.at.as_nanos())
                .min()
                .expect("an occupied bucket has events");
            self.lowest = Some((b, min));
        }
        self.lowest.map(|(_, min)| min)
    }

    /// The earliest event's key, moving the buckets to its time: only when no event of the
    /// queue is earlier than it (nothing may be scheduled before `last` afterwards).
    fn peek_moving(&mut self) -> u128 {
        if self.front.is_empty() {
            let Some(min) = self.peek_time() else {
                return NO_KEY;
            };
            let (b, _) = self.lowest.expect("computed by peek_time");
            self.advance(b, min);
        }
        self.front.front().map_or(NO_KEY, Scheduled::key)
    }

    /// Moves to `min`, the earliest time in bucket `b` (the lowest non-empty one; `front` is
    /// empty): its events are filed again relative to `min`, the earliest into `front`.
    fn advance(&mut self, b: usize, min: u64) {
        debug_assert!(self.front.is_empty());
        self.last = min;
        self.lowest = None;
        self.occupied &= !(1 << b);
        let mut events = std::mem::take(&mut self.buckets[b]);
        for s in events.drain(..) {
            // Each lands in a lower bucket than `b`: its time agrees with `min` above bit `b`.
            self.file(s);
        }
        self.buckets[b] = events;
        if self.front.len() > 1 {
            self.front.make_contiguous().sort_unstable_by_key(|s| s.seq);
        }
    }
}

/// A source of the next event: lanes `0..LANES`, then the wheel, then the heap.
const WHEEL: usize = LANES;
const HEAP: usize = LANES + 1;
/// The key of no event: later than every real one.
const NO_KEY: u128 = u128::MAX;

/// A future-event list. `pop` never returns an event earlier than one already popped; scheduling
/// an event earlier than [`now`](EventQueue::now) is a bug and panics.
#[derive(Debug)]
pub struct EventQueue<E> {
    wheel: Wheel<E>,
    heap: RadixHeap<E>,
    /// FIFO lanes, each sorted by `(time, seq)`.
    lanes: [VecDeque<Scheduled<E>>; LANES],
    /// Lanes `0..lanes_used` have been scheduled into; the rest are empty.
    lanes_used: usize,
    len: usize,
    next_seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            wheel: Wheel::new(),
            heap: RadixHeap::new(),
            lanes: std::array::from_fn(|_| VecDeque::new()),
            lanes_used: 0,
            len: 0,
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The instant of the last event popped (zero before the first).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`, which must not be earlier than [`now`](Self::now).
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) {
        let s = self.stamp(at, event);
        self.file(s);
    }

    /// [`schedule`](Self::schedule), inlined into the caller down to the slot it files the
    /// event in, for the one call on the hot path that goes to the wheel (a request's end of
    /// service). Called, `file` received the event through memory and copied it with wider
    /// loads than the stores that wrote it: a store-forwarding stall (`perf annotate`: about 5%
    /// of the seed model's time, docs/performance.md round 6). Inlining every `schedule` that
    /// far made the event handlers slower (larger), so only this one is.
    #[inline(always)]
    pub fn schedule_inlined(&mut self, at: SimTime, event: E) {
        let s = self.stamp(at, event);
        if Wheel::<E>::reaches(self.now.as_nanos(), s.at.as_nanos()) {
            self.wheel.push_inlined(s);
        } else {
            self.heap.file(s);
        }
    }

    /// Schedules `event` at `at` (not earlier than [`now`](Self::now)) through FIFO lane
    /// `lane` if it is not earlier than the lane's last event, else like
    /// [`schedule`](Self::schedule). Same order either way: the lane only saves work.
    #[inline]
    pub fn schedule_in_lane(&mut self, lane: usize, at: SimTime, event: E) {
        let s = self.stamp(at, event);
        self.lanes_used = self.lanes_used.max(lane + 1);
        let l = &mut self.lanes[lane];
        if l.back().is_none_or(|b| b.at <= at) {
            l.push_back(s);
        } else {
            self.file(s);
        }
    }

    #[inline]
    fn stamp(&mut self, at: SimTime, event: E) -> Scheduled<E> {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at:?} < {:?}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        Scheduled { at, seq, event }
    }

    /// Into the wheel if it reaches that far, else the heap.
    #[inline]
    fn file(&mut self, s: Scheduled<E>) {
        if Wheel::<E>::reaches(self.now.as_nanos(), s.at.as_nanos()) {
            self.wheel.push(s);
        } else {
            self.heap.file(s);
        }
    }

    /// The least key of the lanes' and the wheel's first events, and where it is.
    #[inline]
    fn near_min(&mut self) -> (usize, u128) {
        let mut best = (WHEEL, self.wheel.peek(self.now.as_nanos()));
        for (i, l) in self.lanes[..self.lanes_used].iter().enumerate() {
            if let Some(s) = l.front() {
                let key = s.key();
                if key < best.1 {
                    best = (i, key);
                }
            }
        }
        best
    }

    /// The instant of the next event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let (_, near) = self.near_min();
        let near = (near != NO_KEY).then_some((near >> 64) as u64);
        near.into_iter()
            .chain(self.heap.peek_time())
            .min()
            .map(SimTime::from_nanos)
    }

    /// Removes the earliest event and advances `now` to its instant.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::from_nanos(u64::MAX))
    }

    /// Removes the earliest event if it is due at or before `until`, and advances `now` to
    /// its instant.
    #[inline]
    pub fn pop_until(&mut self, until: SimTime) -> Option<(SimTime, E)> {
        let (mut src, mut key) = self.near_min();
        if let Some(h) = self.heap.peek_time() {
            // The heap's bucket moves only when its time is the earliest of all, and the
            // event is due: moving is not undone, and nothing may be filed before it after.
            if key == NO_KEY || h <= (key >> 64) as u64 {
                if h > until.as_nanos() {
                    return None;
                }
                let hk = self.heap.peek_moving();
                if hk < key {
                    (src, key) = (HEAP, hk);
                }
            }
        }
        if key == NO_KEY || (key >> 64) as u64 > until.as_nanos() {
            return None;
        }
        let s = match src {
            WHEEL => self.wheel.pop(),
            HEAP => self
                .heap
                .front
                .pop_front()
                .expect("the heap moved to its next"),
            i => self.lanes[i]
                .pop_front()
                .expect("a lane with a first event"),
        };
        self.len -= 1;
        self.now = s.at;
        Some((s.at, s.event))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Events still pending, in no particular order (for end-of-run accounting).
    pub fn pending(&self) -> impl Iterator<Item = &Scheduled<E>> {
        self.heap
            .front
            .iter()
            .chain(self.heap.buckets.iter().flatten())
            .chain(self.wheel.slots.iter().flatten())
            .chain(&self.wheel.later)
            .chain(self.lanes.iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn pops_in_time_order_and_fifo_on_ties() {
        let mut q = EventQueue::new();
        let t = |ms| SimTime::ZERO + SimDuration::from_millis(ms);
        q.schedule(t(5), "c");
        q.schedule(t(1), "a");
        q.schedule(t(5), "d");
        q.schedule(t(1), "b");
        q.schedule(t(3), "x");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "x", "c", "d"]);
        assert_eq!(q.now(), t(5));
    }

    /// Thousands of events filed into one slot while it is the next to pop (a start-up: one
    /// instant per pod), later and earlier than those it holds, with pops between: the same
    /// order as a binary heap, through the sorted slot's `later` list.
    #[test]
    fn a_crowded_slot_keeps_the_order_of_a_binary_heap() {
        use std::collections::BinaryHeap;
        let mut q = EventQueue::new();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 && !reference.is_empty() {
                let want: Scheduled<u32> = reference.pop().expect("not empty");
                let (at, got) = q.pop().expect("not empty");
                assert_eq!((at, got), (want.at, want.event), "step {step}");
                continue;
            }
            // Mostly the same few instants of the slot being popped, sometimes the next slot
            // or an earlier instant of this one.
            let base = q.now().as_nanos();
            let at = SimTime::from_nanos(match x % 7 {
                0 => base + (x >> 40) % 60_000,
                1 => base + (1 << SLOT_SHIFT) + (x >> 40) % 1_000,
                _ => base + (x >> 40) % 4,
            });
            q.schedule(at, step);
            reference.push(Scheduled {
                at,
                seq,
                event: step,
            });
            seq += 1;
        }
        while let Some(want) = reference.pop() {
            assert_eq!(q.pop(), Some((want.at, want.event)));
        }
        assert_eq!(q.pop(), None);
    }

    /// The queue pops exactly what a binary heap ordered by `(time, seq)` pops, with
    /// interleaved scheduling, many ties and times spanning every bucket.
    #[test]
    fn matches_a_binary_heap() {
        same_order_as_a_binary_heap(false);
    }

    /// The same with most events scheduled through lanes, some in order (a fixed delay),
    /// some not (which fall back to the heap).
    #[test]
    fn lanes_keep_the_order_of_a_binary_heap() {
        same_order_as_a_binary_heap(true);
    }

    fn same_order_as_a_binary_heap(lanes: bool) {
        use std::collections::BinaryHeap;
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut q = EventQueue::new();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut now = 0u64;
        for step in 0..200_000u32 {
            let r = rand();
            if r % 5 < 3 || reference.is_empty() {
                let delay = match r % 8 {
                    0 => 0,
                    7 => 3_000,
                    1 => r >> 60,
                    2 => (r >> 20) % 1_000,
                    3 => (r >> 20) % 5_000_000,
                    4 => (r >> 8) % (1 << 40),
                    _ => (r >> 20) % 50_000,
                };
                let at = SimTime::from_nanos(now + delay);
                if lanes && r % 4 != 0 {
                    q.schedule_in_lane(((r >> 3) % 3) as usize, at, step);
                } else if (r >> 5) % 2 == 0 {
                    q.schedule_inlined(at, step);
                } else {
                    q.schedule(at, step);
                }
                reference.push(Scheduled {
                    at,
                    seq,
                    event: step,
                });
                seq += 1;
            } else if r % 5 == 3 {
                let until = SimTime::from_nanos(now + (r >> 40) % 100_000);
                let want = match reference.peek() {
                    Some(s) if s.at <= until => reference.pop().map(|s| (s.at, s.event)),
                    _ => None,
                };
                assert_eq!(q.pop_until(until), want);
            } else {
                let want = reference.pop().map(|s| (s.at, s.event));
                assert_eq!(q.pop(), want);
            }
            now = q.now().as_nanos();
            assert_eq!(q.len(), reference.len());
            assert_eq!(q.peek_time(), reference.peek().map(|s| s.at));
        }
        while let Some(s) = reference.pop() {
            assert_eq!(q.pop(), Some((s.at, s.event)));
        }
        assert!(q.is_empty() && q.pop().is_none());
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_panics() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_nanos(10), ());
        q.pop();
        q.schedule(SimTime::from_nanos(9), ());
    }

    #[test]
    fn pop_until_leaves_later_events() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_nanos(10), 1);
        q.schedule(SimTime::from_nanos(20), 2);
        assert_eq!(
            q.pop_until(SimTime::from_nanos(15)),
            Some((SimTime::from_nanos(10), 1))
        );
        assert_eq!(q.pop_until(SimTime::from_nanos(15)), None);
        assert_eq!(q.len(), 1);
    }
}
