//! STUB: the real HCS over computecore.dll (Windows only).
