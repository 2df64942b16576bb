//! The case table. Ids are 1-based and equal the TAP test numbers; both
//! sides must run the same table (the runner checks the names).

use crate::harness::{Case, CaseResult, Ctx};

mod bufsize;
mod common;
mod concurrency;
mod faultkit;
mod faults;
mod faultstorm;
mod hostile;
mod modstats;
mod records;
mod sendrules;
mod teardown;
mod trunc;
mod wakeup;

const fn case(name: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Case {
    Case { name, run }
}

pub const CASES: &[Case] = &[
    case("record_sizes", records::record_sizes),
    case("record_too_big", records::record_too_big),
    case("zero_length_records", records::zero_length_records),
    case(
        "zero_length_record_wakeup",
        records::zero_length_record_wakeup,
    ),
    case("empty_record_flood", records::empty_record_flood),
    case("random_record_sizes", records::random_record_sizes),
    case("msg_eor_flag", records::msg_eor_flag),
    case("msg_trunc_short_buffer", trunc::msg_trunc_short_buffer),
    case("msg_peek", trunc::msg_peek),
    case(
        "efault_consumes_one_record",
        trunc::efault_consumes_one_record,
    ),
    case(
        "no_wakeup_on_partial_record",
        wakeup::no_wakeup_on_partial_record,
    ),
    case("recv_timeout_no_record", wakeup::recv_timeout_no_record),
    case("buffer_size_limits", bufsize::buffer_size_limits),
    case("many_connections", concurrency::many_connections),
    case("concurrent_writers", concurrency::concurrent_writers),
    case("close_after_records", teardown::close_after_records),
    case(
        "shutdown_write_after_records",
        teardown::shutdown_write_after_records,
    ),
    case(
        "close_while_sender_blocked",
        teardown::close_while_sender_blocked,
    ),
    case("counter_wrap", modstats::counter_wrap),
    case("module_statistics", modstats::module_statistics),
    case(
        "timed_out_send_sends_nothing",
        sendrules::timed_out_send_sends_nothing,
    ),
    case(
        "interrupted_send_sends_nothing",
        sendrules::interrupted_send_sends_nothing,
    ),
    case(
        "nonblocking_send_retries",
        sendrules::nonblocking_send_retries,
    ),
    case(
        "sender_under_signal_storm",
        sendrules::sender_under_signal_storm,
    ),
    case(
        "credit_request_big_record",
        sendrules::credit_request_big_record,
    ),
    case("fault_injection_sweep", faults::fault_injection_sweep),
    case("fault_two_in_one_send", faultstorm::fault_two_in_one_send),
    case("fault_random_sender", faultstorm::fault_random_sender),
    case("fault_random_receiver", faultstorm::fault_random_receiver),
    case("credit_update_lost", faultstorm::credit_update_lost),
    case(
        "fault_merge_under_faults",
        faultstorm::fault_merge_under_faults,
    ),
    case("hostile_violations", hostile::hostile_violations),
    case(
        "hostile_markers_on_fallback",
        hostile::hostile_markers_on_fallback,
    ),
    case("hostile_open_records", hostile::hostile_open_records),
    case(
        "hostile_empty_record_flood",
        hostile::hostile_empty_record_flood,
    ),
    case(
        "violation_log_after_quiet_period",
        hostile::violation_log_after_quiet_period,
    ),
];
