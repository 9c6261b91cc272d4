use std::cell::RefCell;
use std::rc::Rc;

#[spindle::main(flavor = "current_thread")]
async fn main() {
    let here = std::thread::current().id();
    let on = spindle::spawn(async { std::thread::current().id() }).await.unwrap();
    assert_eq!(on, here, "every task runs on the thread of main");
    let shared = Rc::new(RefCell::new(0));
    let tasks: Vec<_> = (1..=3)
        .map(|n| {
            let shared = shared.clone();
            spindle::spawn_local(async move { *shared.borrow_mut() += n })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*shared.borrow(), 6);
}
