//! The Redis wire protocol: request parsing and reply encoding.
//!
//! Shared by the data server, the proxy and the client. Knows nothing about
//! data types or commands.

pub mod frame;
pub mod inline;
pub mod parser;
pub mod reply;

pub use parser::{ProtocolError, RequestParser};
pub use reply::{encode, Reply, OK};
