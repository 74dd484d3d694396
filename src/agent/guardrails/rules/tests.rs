//! Tests of [`super::check_message`]: every example row of `escalation-rules.md`, the sample
//! tickets, and unseen-style sentences written for each reason.

mod extra;
mod extra_held_out;
mod spec_table;
mod tickets;
