#[spindle::test]
fn adds_up() {
    assert_eq!(1 + 1, 2);
}

fn main() {}
