//! The customer's machine: every decision of a customer's object, driving its [`crate::book::Book`].
