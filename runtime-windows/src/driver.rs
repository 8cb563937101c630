//! STUB
/// STUB
pub struct HcsDriver;
/// STUB
pub struct WindowsOptions;
