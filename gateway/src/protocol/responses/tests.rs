//! Tests of the Responses API shape.
