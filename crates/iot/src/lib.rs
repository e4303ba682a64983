//! Monitoring ingest beside the web layer: reading a device's records (the same rules for
//! HTTP batches and MQTT messages), and the MQTT subscriber that batches messages per
//! device, writes each batch in one transaction and acknowledges its QoS 1 messages to the
//! broker only after the commit. Depends on the domain and the store, never on the web.

pub mod flood;
pub mod gb26875;
pub mod mqtt;
pub mod parse;

pub use flood::FloodLimit;
pub use parse::{MAX_BATCH, Rejected, record};
