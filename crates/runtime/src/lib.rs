//! newsflow's Kafka stage runner.
