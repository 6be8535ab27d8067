//! Typed clients for the services Casekit acts through, over one shared HTTP layer.

pub mod check;
pub mod customersdot;
pub mod gitlab;
pub mod http;
pub mod mailgun;
pub mod session;
pub mod zendesk;

pub use crate::service::Service;
pub use http::{Auth, Http, HttpSettings};
