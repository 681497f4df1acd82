//! The backend-independent contract suite, run against PostgreSQL: every case gets a fresh
//! schema of its own in the database named by `TEST_POSTGRES_URL`, dropped afterwards.
//! Without `TEST_POSTGRES_URL` each case prints "SKIPPED" on stderr and returns.

mod common;

rollcall_store::store_contract_tests!({
    // `return` leaves the test function: the case is skipped, loudly (see `common::url`).
    let Some(fresh) = common::fresh_store().await else {
        return;
    };
    std::future::ready(fresh)
});
