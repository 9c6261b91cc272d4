#[spindle::main]
struct App;

fn main() {}
