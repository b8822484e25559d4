//! [`Strategy`]: which children a failure takes down with it.

use std::ops::Range;

/// What a supervisor does when a child fails (and is to be restarted), as in
/// Erlang/OTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Restart only the failed child. For children that do not depend on one
    /// another.
    #[default]
    OneForOne,
    /// Stop every other child in reverse start order, then restart them all
    /// in start order. For children that only work together.
    OneForAll,
    /// Stop the children started after the failed one (in reverse start
    /// order), then restart the failed child and those, in start order. For
    /// a chain where each child depends on the ones started before it.
    RestForOne,
}

impl Strategy {
    /// The positions (in start order) of the children restarted together
    /// when the child at `failed` of `len` children fails.
    pub(super) fn group(self, failed: usize, len: usize) -> Range<usize> {
        match self {
            Strategy::OneForOne => failed..failed + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => failed..len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;

    #[test]
    fn groups() {
        assert_eq!(Strategy::OneForOne.group(1, 3), 1..2);
        assert_eq!(Strategy::OneForAll.group(1, 3), 0..3);
        assert_eq!(Strategy::RestForOne.group(1, 3), 1..3);
    }
}
