//! The case table. Ids are 1-based and equal the TAP test numbers; both
//! sides must run the same table (the runner checks the names).

use crate::harness::Case;

mod bufsize;
mod common;
mod concurrency;
mod modstats;
mod records;
mod teardown;
mod trunc;
mod wakeup;

pub const CASES: &[Case] = &[
    Case {
        name: "record_sizes",
        run: records::record_sizes,
    },
    Case {
        name: "record_too_big",
        run: records::record_too_big,
    },
    Case {
        name: "zero_length_records",
        run: records::zero_length_records,
    },
    Case {
        name: "random_record_sizes",
        run: records::random_record_sizes,
    },
    Case {
        name: "msg_eor_flag",
        run: records::msg_eor_flag,
    },
    Case {
        name: "msg_trunc_short_buffer",
        run: trunc::msg_trunc_short_buffer,
    },
    Case {
        name: "msg_peek",
        run: trunc::msg_peek,
    },
    Case {
        name: "efault_consumes_one_record",
        run: trunc::efault_consumes_one_record,
    },
    Case {
        name: "no_wakeup_on_partial_record",
        run: wakeup::no_wakeup_on_partial_record,
    },
    Case {
        name: "recv_timeout_no_record",
        run: wakeup::recv_timeout_no_record,
    },
    Case {
        name: "buffer_size_limits",
        run: bufsize::buffer_size_limits,
    },
    Case {
        name: "many_connections",
        run: concurrency::many_connections,
    },
    Case {
        name: "concurrent_writers",
        run: concurrency::concurrent_writers,
    },
    Case {
        name: "close_after_records",
        run: teardown::close_after_records,
    },
    Case {
        name: "shutdown_write_after_records",
        run: teardown::shutdown_write_after_records,
    },
    Case {
        name: "close_while_sender_blocked",
        run: teardown::close_while_sender_blocked,
    },
    Case {
        name: "counter_wrap",
        run: modstats::counter_wrap,
    },
    Case {
        name: "module_statistics",
        run: modstats::module_statistics,
    },
];
