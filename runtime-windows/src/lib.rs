//! berth's Windows driver: containers through the Host Compute Service (`computecore.dll`,
//! HCS schema 2.1), behind the same [`runtime_core::Driver`] trait and the same lifecycle as
//! the Linux drivers.
//!
//! The path of one `run`: [`HcsDriver`] is the shared [`runtime_core::Lifecycle`] over
//! [`platform::HcsPlatform`]. Its `prepare` translates the [`runtime_core::Command`] into the
//! schema-2 documents ([`translate`], [`schema`]) and refuses what means nothing on Windows;
//! `launch` creates and starts the compute system; `start` creates the init process in it
//! (HCS cannot create one suspended), relays its standard streams ([`relay`]) and watches
//! for its `ProcessExited` notification; the exit, once the streams have drained, shuts the
//! system down and closes its handles.
//!
//! Everything here but `computecore` is platform-neutral Rust over the [`hcs::Hcs`] trait,
//! built and tested on Linux against [`fake::FakeHcs`]. `computecore`, compiled only for
//! Windows, is the real one: `computecore.dll` loaded at run time.

#![deny(unsafe_code)]

pub mod command_line;
#[cfg(windows)]
#[allow(unsafe_code)]
pub mod computecore;
pub mod driver;
pub mod fake;
#[allow(unsafe_code)]
mod handles;
pub mod hcs;
pub mod platform;
pub mod relay;
pub mod schema;
pub mod translate;

pub use driver::{HcsDriver, WindowsOptions};
pub use runtime_core::Driver;
