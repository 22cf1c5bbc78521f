//! Fitting provider models from recorded traces (placeholder).
