//! Fake telegram server (to be written).
