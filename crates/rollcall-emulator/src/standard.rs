//! The standard corp every [`crate::Emulator`] starts with, and its constants.
//!
//! Why constants: a test asserts on userids and names, and builds its own client from the
//! credentials; public constants make those facts part of the crate's API (a change to them
//! is a breaking change), rather than values a test has to read back from the handle.
//!
//! ```text
//! 1 总部 Headquarters (zhangsan)
//! ├─ 2 研发部 Engineering (lisi)
//! │  └─ 4 平台组 Platform (wangwu)
//! └─ 3 销售部 Sales (zhaoliu)
//! ```
//! One app, [`AGENTID`] "Attendance sync", with the meeting API, seeing department 1 and
//! everything below it: every member above.

use crate::directory::{AppSpec, Directory};

/// The virtual clock starts here unless the builder says otherwise:
/// 2026-01-01T00:00:00Z (08:00 in Asia/Shanghai, the server's default time zone).
pub const START: i64 = 1_767_225_600;

/// The standard corp's id.
pub const CORPID: &str = "wwemulator000001";
/// The standard corp's name.
pub const CORP_NAME: &str = "Emulated Corp";
/// The standard app: meeting API on, sees the whole department tree.
pub const AGENTID: u32 = 1_000_002;
/// The standard app's secret (`gettoken`'s `corpsecret`).
pub const SECRET: &str = "emulator-app-secret";
/// The standard app's name.
pub const APP_NAME: &str = "Attendance sync";

/// The admin API's bearer key (unless the builder sets another).
pub const ADMIN_KEY: &str = "emulator-admin-key";
/// The ingest API's bearer key (unless the builder sets another).
pub const INGEST_KEY: &str = "emulator-ingest-key";

/// Department ids of the standard corp.
pub const DEPT_HQ: u32 = 1;
pub const DEPT_ENGINEERING: u32 = 2;
pub const DEPT_SALES: u32 = 3;
pub const DEPT_PLATFORM: u32 = 4;

/// In department 1 (Headquarters).
pub const ZHANGSAN: &str = "zhangsan";
/// In department 2 (Engineering).
pub const LISI: &str = "lisi";
/// In department 4 (Platform, under Engineering).
pub const WANGWU: &str = "wangwu";
/// In department 3 (Sales).
pub const ZHAOLIU: &str = "zhaoliu";
/// Every member of the standard corp, in the order above; the standard app sees them all.
pub const USERIDS: [&str; 4] = [ZHANGSAN, LISI, WANGWU, ZHAOLIU];

/// The standard app, as [`standard_corp`] has it (to build a variant of the corp with it).
pub fn standard_app() -> AppSpec {
    AppSpec::new(AGENTID, APP_NAME, SECRET)
        .meeting_api()
        .sees_departments(&[DEPT_HQ])
}

/// The standard corp, [`CORPID`]: the tree in this module's docs and [`standard_app`].
pub fn standard_corp() -> Directory {
    Directory::new(CORPID, CORP_NAME)
        .department(DEPT_HQ, "总部 Headquarters", 0)
        .department(DEPT_ENGINEERING, "研发部 Engineering", DEPT_HQ)
        .department(DEPT_SALES, "销售部 Sales", DEPT_HQ)
        .department(DEPT_PLATFORM, "平台组 Platform", DEPT_ENGINEERING)
        .user(ZHANGSAN, "张三", &[DEPT_HQ])
        .user(LISI, "李四", &[DEPT_ENGINEERING])
        .user(WANGWU, "王五", &[DEPT_PLATFORM])
        .user(ZHAOLIU, "赵六", &[DEPT_SALES])
        .app(standard_app())
}
