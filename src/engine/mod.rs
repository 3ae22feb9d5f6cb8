//! The discrete-event engine: simulated time, the event queue and seeded random streams.
//!
//! It knows nothing of Kubernetes. Time is a value ([`SimTime`], integer nanoseconds since the
//! start of the run) that is passed in, never read from a clock. Events are ordered by
//! `(time, sequence)`: two events at the same instant run in the order they were scheduled
//! (the tie rule). All randomness comes from one seed through named, independent streams
//! ([`RngStreams`]), so adding a stream never changes the draws of another.

mod fxhash;
mod queue;
mod rng;
mod time;

pub use fxhash::{FxHashMap, FxHashSet, FxHasher};
pub use queue::{EventQueue, Scheduled, LANES};
pub use rng::{RngStreams, SimRng};
pub use time::{ParseDurationError, SimDuration, SimTime};
