//! Permission from the wrong person (issue 12, item 1).
