//! The catalog's machine (the account's metrics, customer directory, billing index, invoice
//! numbers and contracts).
