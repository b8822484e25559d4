//! kioto-macros
