//! WeCom's enum codes as people read them (the names of WeCom's 获取已参会成员列表 page).

/// `instance_id` as WeCom's page names the device (获取已参会成员列表, Attendee说明).
pub fn device_name(instance_id: u32) -> String {
    let name = match instance_id {
        0 => "PSTN",
        1 => "PC",
        2 => "Mac",
        3 => "Android",
        4 => "iOS",
        5 => "Web",
        6 => "iPad",
        7 => "Android Pad",
        8 => "小程序",
        9 => "SIP/VoIP (MRA)",
        10 => "Linux",
        20 => "Rooms for Touch Windows",
        21 => "Rooms for Touch macOS",
        22 => "Rooms for Touch Android",
        30 => "Controller for Touch Windows",
        32 => "Controller for Touch Android",
        33 => "Controller for Touch iOS/iPadOS",
        81 => "鸿蒙手机",
        82 => "鸿蒙平板",
        83 => "鸿蒙PC",
        84 => "鸿蒙汽车",
        n => return format!("device {n}"),
    };
    name.to_owned()
}

/// `role` as WeCom's page names it.
pub fn role_name(role: u32) -> String {
    let name = match role {
        0 => "member",
        1 => "creator",
        2 => "host",
        3 => "creator+host",
        4 => "guest",
        5 => "guest+host",
        6 => "co-host",
        7 => "creator+co-host",
        n => return format!("role {n}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names() {
        assert_eq!(device_name(1), "PC");
        assert_eq!(device_name(8), "小程序");
        assert_eq!(device_name(99), "device 99");
        assert_eq!(role_name(6), "co-host");
        assert_eq!(role_name(42), "role 42");
    }
}
