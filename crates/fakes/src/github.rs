//! Fake github server (to be written).
