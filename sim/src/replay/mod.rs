//! Replaying recorded traces as arrivals (placeholder).
