//! When a license stops working: its expiry (`exp`) plus its grace period (`SPEC.md` §4,
//! claim 12, and the verification step 10 of §6). The one place this rule is written: the
//! verifier (`airseal-verify`) and the vendor (renewals at activation, `airseal-vendor`)
//! both ask here, so they cannot disagree about whether a license still works.

use crate::claims::{LicenseClaims, UnixTime};

/// The first instant at which a license that expires at `expires_at` with `grace_period`
/// seconds of grace no longer works.
///
/// Overflow-safe: a grace period beyond what a [`UnixTime`] can hold, or a sum past its
/// end, gives [`UnixTime::MAX`] (in effect, never), never a wrapped-around time in the past.
pub fn valid_until(expires_at: UnixTime, grace_period: Option<u64>) -> UnixTime {
    // Wide enough for any `i64 + u64`, so only the final clamp can lose anything.
    let end = i128::from(expires_at) + i128::from(grace_period.unwrap_or(0));
    UnixTime::try_from(end).unwrap_or(UnixTime::MAX)
}

/// The first instant at which a license whose validity starts at `start` (`nbf`, or `iat`)
/// may be used, allowing `clock_offset` seconds of clock skew: `start − clock_offset`.
///
/// Computed without overflow: a difference below what a [`UnixTime`] can hold gives
/// [`UnixTime::MIN`], which no `now` is before, so `now < usable_from(…)` is exactly the
/// comparison in unbounded integers (`SPEC.md` §6, step 9).
pub fn usable_from(start: UnixTime, clock_offset: Option<u64>) -> UnixTime {
    let begin = i128::from(start) - i128::from(clock_offset.unwrap_or(0));
    UnixTime::try_from(begin).unwrap_or(UnixTime::MIN)
}

/// Where a license stands against its expiry at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry, or not reached yet.
    Current,
    /// Past the expiry but within the grace period: the license still works until `until`
    /// (reported so the app can ask for a renewal; [`UnixTime::MAX`] when the end is past
    /// what a [`UnixTime`] holds).
    InGrace {
        /// The end of the grace period ([`valid_until`]).
        until: UnixTime,
    },
    /// Past the expiry and any grace period.
    Expired {
        /// When it stopped working ([`valid_until`]).
        until: UnixTime,
    },
}

impl Expiry {
    /// The state at `now` of a license expiring at `expires_at` (`None`: never) with
    /// `grace_period` seconds of grace. The expiry instant itself is already past
    /// (`now >= exp`), as is the end of the grace period. `now < exp + grace` is compared
    /// in unbounded integers (`SPEC.md` §6, step 10): an end past the last [`UnixTime`]
    /// is never reached, even at [`UnixTime::MAX`].
    pub fn at(expires_at: Option<UnixTime>, grace_period: Option<u64>, now: UnixTime) -> Self {
        let Some(exp) = expires_at else {
            return Expiry::Current;
        };
        if now < exp {
            return Expiry::Current;
        }
        let until = valid_until(exp, grace_period);
        let end = i128::from(exp) + i128::from(grace_period.unwrap_or(0));
        if i128::from(now) < end {
            Expiry::InGrace { until }
        } else {
            Expiry::Expired { until }
        }
    }

    /// Whether the license still works (current or in grace).
    pub fn works(self) -> bool {
        !matches!(self, Expiry::Expired { .. })
    }
}

impl LicenseClaims {
    /// Expiry plus grace: the first instant at which this license no longer works, or
    /// `None` if it never expires. See [`valid_until`].
    pub fn valid_until(&self) -> Option<UnixTime> {
        self.expires_at
            .map(|exp| valid_until(exp, self.grace_period))
    }

    /// The first instant at which this license may be used: `nbf` (or `iat`) minus its
    /// clock offset. See [`usable_from`].
    pub fn usable_from(&self) -> UnixTime {
        usable_from(self.valid_from(), self.clock_offset)
    }

    /// Where this license stands against its expiry at `now`. See [`Expiry::at`].
    pub fn expiry(&self, now: UnixTime) -> Expiry {
        Expiry::at(self.expires_at, self.grace_period, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grace_is_added_and_overflow_saturates() {
        assert_eq!(valid_until(1_000, None), 1_000);
        assert_eq!(valid_until(1_000, Some(0)), 1_000);
        assert_eq!(valid_until(1_000, Some(86_400)), 87_400);
        // A sum past the end of time is "never", not a time in the past.
        assert_eq!(valid_until(UnixTime::MAX - 5, Some(10)), UnixTime::MAX);
        assert_eq!(valid_until(UnixTime::MAX, Some(1)), UnixTime::MAX);
        // A grace period a UnixTime cannot hold is as long as time.
        assert_eq!(valid_until(0, Some(u64::MAX)), UnixTime::MAX);
        assert_eq!(
            valid_until(0, Some(UnixTime::MAX as u64 + 1)),
            UnixTime::MAX
        );
        // Negative expiries (before 1970) still get their grace.
        assert_eq!(valid_until(UnixTime::MIN, Some(10)), UnixTime::MIN + 10);
        assert_eq!(valid_until(-100, Some(u64::MAX)), UnixTime::MAX);
    }

    #[test]
    fn the_boundaries_are_exclusive() {
        let exp = Some(1_000);
        assert_eq!(Expiry::at(exp, Some(50), 999), Expiry::Current);
        assert_eq!(
            Expiry::at(exp, Some(50), 1_000),
            Expiry::InGrace { until: 1_050 }
        );
        assert_eq!(
            Expiry::at(exp, Some(50), 1_049),
            Expiry::InGrace { until: 1_050 }
        );
        assert_eq!(
            Expiry::at(exp, Some(50), 1_050),
            Expiry::Expired { until: 1_050 }
        );
        assert_eq!(
            Expiry::at(exp, None, 1_000),
            Expiry::Expired { until: 1_000 }
        );
        assert_eq!(Expiry::at(None, Some(50), UnixTime::MAX), Expiry::Current);
        assert!(Expiry::at(Some(UnixTime::MAX - 1), Some(u64::MAX), UnixTime::MAX - 1).works());
        assert!(!Expiry::at(exp, None, 2_000).works());
    }

    #[test]
    fn claims_use_their_own_expiry_and_grace() {
        let mut c = LicenseClaims::new("acme", "L-1", "photo-pro", 0, alloc::vec![1; 16]);
        assert_eq!(c.valid_until(), None);
        assert_eq!(c.expiry(UnixTime::MAX), Expiry::Current);
        c.expires_at = Some(500);
        c.grace_period = Some(100);
        assert_eq!(c.valid_until(), Some(600));
        assert_eq!(c.expiry(550), Expiry::InGrace { until: 600 });
        assert_eq!(c.expiry(600), Expiry::Expired { until: 600 });
    }

    #[test]
    fn the_end_of_time_is_not_an_expiry() {
        // exp + grace beyond the last UnixTime: still in grace at UnixTime::MAX.
        assert_eq!(
            Expiry::at(Some(UnixTime::MAX - 1), Some(10), UnixTime::MAX),
            Expiry::InGrace {
                until: UnixTime::MAX
            }
        );
        // exp + grace exactly UnixTime::MAX: the end itself is exclusive.
        assert_eq!(
            Expiry::at(Some(UnixTime::MIN), Some(u64::MAX), UnixTime::MAX),
            Expiry::Expired {
                until: UnixTime::MAX
            }
        );
    }

    #[test]
    fn the_clock_offset_never_wraps() {
        assert_eq!(usable_from(1_000, None), 1_000);
        assert_eq!(usable_from(1_000, Some(300)), 700);
        assert_eq!(usable_from(UnixTime::MIN, Some(1)), UnixTime::MIN);
        assert_eq!(usable_from(UnixTime::MAX, Some(u64::MAX)), UnixTime::MIN);
        assert_eq!(usable_from(UnixTime::MAX, Some(UnixTime::MAX as u64)), 0);
    }

    proptest! {
        /// `now < usable_from(start, offset)` is the unbounded `now < start − offset`.
        #[test]
        fn usable_from_agrees_with_wide_arithmetic(
            start in any::<i64>(),
            offset in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
            now in any::<i64>(),
        ) {
            let wide = i128::from(start) - i128::from(offset.unwrap_or(0));
            prop_assert_eq!(now < usable_from(start, offset), i128::from(now) < wide);
        }

        /// The state agrees with the arithmetic for any expiry, grace and instant: works
        /// exactly while `now < exp + grace` (computed wide, so it cannot overflow).
        #[test]
        fn agrees_with_wide_arithmetic(
            exp in any::<i64>(),
            grace in prop_oneof![Just(None), any::<u64>().prop_map(Some), (0u64..1_000_000).prop_map(Some)],
            now in any::<i64>(),
        ) {
            let wide_until = i128::from(exp) + i128::from(grace.unwrap_or(0));
            let until = valid_until(exp, grace);
            prop_assert_eq!(i128::from(until), wide_until.min(i128::from(i64::MAX)));
            let e = Expiry::at(Some(exp), grace, now);
            // Compared wide: an end past the last UnixTime is never reached.
            let end = wide_until;
            prop_assert_eq!(e.works(), i128::from(now) < end);
            prop_assert_eq!(matches!(e, Expiry::Current), now < exp);
            prop_assert_eq!(
                matches!(e, Expiry::InGrace { .. }),
                now >= exp && i128::from(now) < end
            );
        }
    }
}
