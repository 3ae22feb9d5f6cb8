//! The event queue, ordered by `(time, sequence)`.
//!
//! Tie rule: events scheduled for the same instant run in the order they were scheduled
//! (first in, first out). The sequence number is a `u64` counter that never wraps in practice.
//!
//! The queue is a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990): since nothing is ever
//! scheduled before the last event popped, an event is filed by the highest bit in which its
//! time differs from that instant, and only the lowest non-empty bucket is ever sorted out.
//! Scheduling is O(1); popping is amortised O(log of the time span), with sequential memory
//! access instead of a binary heap's unpredictable comparisons. Events due at the current
//! instant wait in a FIFO kept in sequence order, which is what makes the tie rule hold.
//!
//! Beside the radix heap, a caller may file events into FIFO *lanes*
//! ([`schedule_in_lane`](EventQueue::schedule_in_lane)) for kinds of events that are mostly
//! scheduled in time order (a stream's next arrival, a packet that takes a fixed latency). An
//! event goes into its lane only if it is not earlier than the lane's last one; since sequence
//! numbers only grow, each lane is then sorted by `(time, seq)` by construction, and an event
//! that would break the order goes into the heap instead. `pop` takes the least `(time, seq)`
//! of the heap's next event and the lanes' first ones, so the order is exactly the one a single
//! heap gives; only the cost changes (a lane is a push and a pop, no sorting).
//! `tests::matches_a_binary_heap` checks the order against the plain `(time, seq)` heap, with
//! and without lanes.

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

/// A future-event list. `pop` never returns an event earlier than one already popped; scheduling
/// an event earlier than [`now`](EventQueue::now) is a bug and panics.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Events due at `last`, in sequence order.
    front: VecDeque<Scheduled<E>>,
    /// `buckets[b]` holds the events whose time differs from `last` first in bit `b` (counting
    /// from the least significant), so every event in it is later than any in `buckets[..b]`.
    buckets: Vec<Vec<Scheduled<E>>>,
    /// Bit `b` set when `buckets[b]` is not empty.
    occupied: u64,
    /// The instant the buckets are relative to: never later than `now` (it lags behind while
    /// lanes supply the events), and never later than any event in the buckets.
    last: u64,
    /// The lowest occupied bucket and its earliest time, when known (`None`: not computed
    /// since the buckets last moved).
    lowest: Option<(usize, u64)>,
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
        Self::with_capacity(1024)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            front: VecDeque::with_capacity(capacity.min(1024)),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            occupied: 0,
            last: 0,
            lowest: None,
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
        assert!(
            at >= self.now,
            "event scheduled in the past: {at:?} < {:?}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        self.file(Scheduled { at, seq, event });
    }

    /// Schedules `event` at `at` (not earlier than [`now`](Self::now)) through FIFO lane
    /// `lane` if it is not earlier than the lane's last event, else through the heap. Same
    /// order as [`schedule`](Self::schedule): the lane only saves the heap's work.
    #[inline]
    pub fn schedule_in_lane(&mut self, lane: usize, at: SimTime, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at:?} < {:?}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        let s = Scheduled { at, seq, event };
        self.lanes_used = self.lanes_used.max(lane + 1);
        let l = &mut self.lanes[lane];
        if l.back().is_none_or(|b| b.at <= at) {
            l.push_back(s);
        } else {
            self.file(s);
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

    /// The lowest non-empty bucket and its earliest time (meaningful when `front` is empty).
    #[inline]
    fn lowest(&mut self) -> Option<(usize, u64)> {
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
        self.lowest
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

    /// Brings the heap's earliest events to `front` (the heap is not empty).
    #[inline]
    fn ready_front(&mut self) {
        if self.front.is_empty() {
            let (b, min) = self.lowest().expect("the heap has events");
            self.advance(b, min);
        }
    }

    /// The instant of the next event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let heap = match self.front.front() {
            Some(s) => Some(s.at.as_nanos()),
            None => self.lowest().map(|(_, min)| min),
        };
        self.lanes
            .iter()
            .filter_map(|l| l.front().map(|s| s.at.as_nanos()))
            .chain(heap)
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
        // The lanes' least (time, seq).
        let mut lane: Option<(usize, u64, u64)> = None;
        for (i, l) in self.lanes[..self.lanes_used].iter().enumerate() {
            if let Some(s) = l.front() {
                let key = (s.at.as_nanos(), s.seq);
                if lane.is_none_or(|(_, at, seq)| key < (at, seq)) {
                    lane = Some((i, key.0, key.1));
                }
            }
        }
        // The heap's next time; its events at that time come to `front` when it moves there.
        let heap_at = match self.front.front() {
            Some(s) => Some(s.at.as_nanos()),
            None => self.lowest().map(|(_, min)| min),
        };
        let until = until.as_nanos();
        let take_lane = match (lane, heap_at) {
            (None, None) => return None,
            (Some((i, at, _)), None) => {
                if at > until {
                    return None;
                }
                Some(i)
            }
            (None, Some(h)) => {
                if h > until {
                    return None;
                }
                None
            }
            (Some((i, at, _)), Some(h)) if at < h => {
                if at > until {
                    return None;
                }
                Some(i)
            }
            (Some((i, at, seq)), Some(h)) => {
                if h > until {
                    return None;
                }
                // The next event is at `h`: the buckets may move there.
                self.ready_front();
                let first = self.front.front().expect("events at the heap's next time");
                ((at, seq) < (first.at.as_nanos(), first.seq)).then_some(i)
            }
        };
        let s = match take_lane {
            Some(i) => self.lanes[i].pop_front(),
            None => {
                self.ready_front();
                self.front.pop_front()
            }
        }
        .expect("the chosen source has an event");
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
        self.front
            .iter()
            .chain(self.buckets.iter().flatten())
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
