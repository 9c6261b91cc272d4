#[spindle::test]
async fn adds_up(left: u32, right: u32) {
    assert_eq!(left + right, 2);
}

fn main() {}
