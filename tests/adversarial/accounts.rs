//! Acting on an account not tied to the ticket (issue 12, item 2).
