//! kioto-actor
