//! State stores behind the [`crate::ports::StateStore`] trait.

pub mod memory;
