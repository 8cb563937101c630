//! The LXC driver: berth's `Command` run through LXC 5's `lxc-execute`.

pub mod config;
pub mod image;
pub mod seccomp;
